"""``bench/bench_intake_path.py`` must keep running the real intake path (``make bench`` reports it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_in_process_intake_benchmark_acknowledges_every_order_and_reports_both_figures() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_intake_path.py"), "--orders", "400", "--batch", "40",
         "--repeat", "1", "--json"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert out.returncode == 0, out.stderr[-2000:]  # it raises when acknowledgements are missing
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(figures) == {"us_per_order", "us_per_order_memory"}
    assert all(value > 0 for value in figures.values())
