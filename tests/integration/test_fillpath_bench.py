"""The fill-path benchmark (``bench/fillpath.c`` driven by ``bench/bench_fillpath.py``) against ``metaorder run``.

The driver is the engine's venue and its OMS client at once; if it stopped matching client reports to the
venue fills that caused them, ``make bench`` would print a latency of nothing.  Nothing here is timed: the
exit status, the counts and the JSON line's keys are checked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import load_bench

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")

# What bench/run.py and the README read from the JSON line.
KEYS = {"fills_sent", "fills_completed", "fills_incomplete", "client_reports", "reports_per_fill", "target_rate",
        "send_rate", "completion_rate", "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "sched_p99_us",
        "latency_samples", "orders", "order_qty", "fill_qty", "child_orders", "exit_status", "implementation"}


bench_fillpath = load_bench("bench_fillpath")


@pytest.fixture(scope="module")
def driver() -> Path:
    path: Path = bench_fillpath.native_tools.build("fillpath")
    return path


def test_every_venue_fill_comes_back_as_one_report_per_order_of_the_parent(driver: Path) -> None:
    result = bench_fillpath.run(50, 0.5, 100, timeout=20)
    assert "error" not in result, result
    assert set(result) >= KEYS, KEYS - set(result)
    assert result["exit_status"] == 0
    assert result["fills_sent"] == result["fills_completed"] == 25
    assert result["fills_incomplete"] == 0
    # 100 shares per fill, one to each of the 100 orders: every order gets its own 150=F
    assert result["fill_qty"] == 100 and result["reports_per_fill"] == 100
    assert result["client_reports"] == 2500
    assert result["latency_samples"] == 25 and result["p50_us"] > 0
    assert not {"unmatched_reports", "late_reports", "overallocated", "order_rejects"} & set(result)


def test_a_parent_of_seven_orders_gets_seven_reports_per_fill(driver: Path) -> None:
    result = bench_fillpath.run(40, 0.25, 7, timeout=20)
    assert result["exit_status"] == 0, result
    assert result["fills_sent"] == result["fills_completed"] == 10
    assert result["reports_per_fill"] == 7 and result["fill_qty"] == 7


def test_the_driver_without_an_engine_says_so_in_one_json_line(driver: Path) -> None:
    out = subprocess.run([str(driver), "--engine-port", "9", "--timeout", "0.3"], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 2
    result = json.loads(out.stdout.strip())
    assert result["error"].startswith("venue: the engine did not log on")


def test_a_bad_command_line_is_refused_with_usage(driver: Path) -> None:
    out = subprocess.run([str(driver), "--rate", "fast"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "usage: fillpath" in out.stderr and "error:" in out.stderr
    assert "Traceback" not in out.stderr
