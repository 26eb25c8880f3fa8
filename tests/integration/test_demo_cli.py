"""``python -m metaorder demo`` as a real process on the project's own configs.

* ``--json``: one JSON object; every order acknowledged and done, internal crosses happened, the
  venues executed fewer shares than the gross, and the bps figures are there, labelled as costs;
* the text mode prints the summary lines;
* a bad argument or a missing config: exit 2 and one line on stderr, nothing on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def demo(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", "demo", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_json_summary_of_60_orders_all_filled_with_crosses_and_netting() -> None:
    result = demo(["--orders", "60", "--json"])
    assert (result.returncode, result.stderr) == (0, "")
    [line] = result.stdout.splitlines()
    s = json.loads(line)
    assert (s["orders"], s["acknowledged"], s["rejected"], s["working"]) == (60, 60, 0, [])
    assert (s["filled"], s["expired"], s["unfinished"]) == (60, [], [])  # every order done, within its window
    assert s["filled_qty"] == s["gross_qty"]
    assert s["internal_crosses"]["count"] > 0 and s["internal_crosses"]["shares"] > 0
    assert 0 < s["venue_executed_qty"] < s["gross_qty"]
    assert s["venue_executed_qty"] + 2 * s["internal_crosses"]["shares"] == s["filled_qty"]
    assert s["netting_saving_qty"] == 2 * s["internal_crosses"]["shares"]
    assert sum(v["shares"] for v in s["venues"].values()) == s["venue_executed_qty"]
    assert s["client_fills"] >= 60
    assert "positive = worse" in s["cost_bps_convention"]
    for costs in [s["overall"], *s["symbols"].values()]:
        assert isinstance(costs["cost_vs_arrival_bps"], float)
        assert isinstance(costs["cost_vs_vwap_bps"], float)
    assert set(s["symbols"]) == {"ACME", "GLOBX", "NOVA", "ZEPH"}
    assert s["virtual_s"] > 60 and s["alerts"] == []


def test_text_mode_prints_the_summary_lines() -> None:
    result = demo(["--orders", "40", "--seed", "3", "--window", "60"])
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    heads = [line.split()[0] for line in lines if line and not line.startswith(" ")]
    assert heads == ["metaorder", "orders", "filled", "client", "crosses", "netting", "venues", "TCA", "time"]
    assert lines[1].startswith("orders         40 sent")
    assert "positive = worse than benchmark" in result.stdout
    assert any(line.split()[:1] == ["ALL"] for line in lines)
    assert any(line.split()[:2] == ["ATLX", "lit"] for line in lines)


@pytest.mark.parametrize("args", [["--orders", "0"], ["--orders", "many"], ["--window", "-5"], ["--bogus"],
                                  ["--config", "does/not/exist.toml"]])
def test_a_bad_argument_exits_2_with_one_line(args: list[str]) -> None:
    result = demo(args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("metaorder")
    assert result.stdout == ""
