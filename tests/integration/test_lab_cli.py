"""``python -m metaorder lab`` as a real process on the project's lab configs (small flows, one seed).

* ``--json``: one object with ``seeds`` and ``by_strategy`` holding every figure and its sd for the
  strategy asked and the ALONE baseline, by liquidity and by instrument; ALONE never crosses;
* ``--plot``: a PNG is written, the table printed;
* ``--flow``: the shipped example flow runs; a bad row exits 2 with one line naming file:line and column;
* a bad ``--strategies`` exits 2 with one line;
* ``--targets-only``: the target experiments alone (short windows here), every target but the
  flow's aggregation; the default adds aggregation; ``--no-targets`` skips them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("cost_vs_arrival_bps", "fees_bps", "all_in_cost_bps", "vs_interval_vwap_bps", "participation",
           "completion", "internal_share", "sent_to_venues", "executed_at_venues")


def lab(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", "lab", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)


def test_json_of_a_small_standard_flow_has_every_figure_and_alone_never_crosses() -> None:
    result = lab(["--orders", "20", "--seeds", "1", "--strategies", "TWAP", "--no-targets", "--json"])
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    report = json.loads(line)
    assert report["seeds"] == 1 and list(report["by_strategy"]) == ["TWAP", "ALONE"]
    assert report["instruments"]["KELP"] == "illiquid" and report["instruments"]["ACME"] == "liquid"
    for name, s in report["by_strategy"].items():
        for figure in FIGURES:
            assert isinstance(s[figure], float), (name, figure)
            assert s[f"{figure}_sd"] is None  # one seed: no spread to report
        assert 0 < s["participation"] <= 1 and 0 < s["completion"] <= 1
        assert set(s["by_liquidity"]) == {"liquid", "illiquid"}
        assert set(s["by_instrument"]) == set(report["instruments"])
        assert s["by_liquidity"]["illiquid"]["cost_vs_arrival_bps"] == s["by_instrument"]["KELP"]["cost_vs_arrival_bps"]
        assert s["orders"] == 20 and s["rejected"] == 0 and s["alerts"] == 0
    twap, alone = report["by_strategy"]["TWAP"], report["by_strategy"]["ALONE"]
    assert alone["internal_share"] == 0.0
    assert twap["internal_share"] > 0  # both sides of the same names: the book nets them
    assert twap["executed_at_venues"] < alone["executed_at_venues"]
    assert "positive = worse" in report["conventions"]["cost_bps"]


def test_plot_writes_a_png_and_the_table_is_printed(tmp_path: Path) -> None:
    png = tmp_path / "lab.png"
    result = lab(["--flow", "configs/lab-flow.csv", "--seeds", "1", "--strategies", "TWAP", "--no-targets",
                  "--plot", str(png)])
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    lines = result.stdout.splitlines()
    assert lines[0].startswith("metaorder lab  configs/lab-flow.csv, seed 1")
    assert "positive = worse than the benchmark" in result.stdout
    assert [line.split()[0] for line in lines if line.startswith("  TWAP") or line.startswith("  ALONE")][:2] == [
        "TWAP", "ALONE"]


def test_the_example_flow_runs_once_per_strategy_and_alone() -> None:
    result = lab(["--flow", "configs/lab-flow.csv", "--seeds", "2", "--strategies", "FLOW,TWAP", "--no-targets",
                  "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["seeds"] == 2 and list(report["by_strategy"]) == ["FLOW", "TWAP", "ALONE"]
    for s in report["by_strategy"].values():
        assert s["orders"] == 8 and s["rejected"] == 0
        assert s["cost_vs_arrival_bps_sd"] is not None  # two seeds: a spread


def test_a_bad_flow_row_is_one_line_naming_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,symbol,side,qty\n0,ACME,buy,100\n1,ACME,sideways,100\n", encoding="utf-8")
    result = lab(["--flow", str(bad), "--seeds", "1", "--strategies", "TWAP"])
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert f"{bad}:3: column side: 'sideways' is not buy, sell, short" in line


def test_a_bad_strategy_list_is_one_line() -> None:
    result = lab(["--strategies", "TWAP,SNIPER"])
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "unknown strategy 'SNIPER'" in line


def test_targets_only_runs_the_target_experiments_and_not_the_flow() -> None:
    result = lab(["--targets-only", "--seeds", "1", "--experiment-minutes", "2", "--jobs", "2", "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["flow"] == "target experiments only" and report["by_strategy"] == {}
    targets = report["targets"]
    assert set(targets) == {"vwap_tracking", "pov_participation", "is_vs_estimate", "is_high_vs_twap"}
    assert set(targets["vwap_tracking"]["per_seed"]) == {"1"} and targets["vwap_tracking"]["threshold_bps"] == 2.0
    assert targets["vwap_tracking"]["per_seed"]["1"] is not None
    pov = targets["pov_participation"]
    assert pov["parents"] == {"1": 4} and pov["per_seed"]["1"] is not None
    assert all(c < 1 for o in pov["experiment"]["orders"] for c in o["completion"].values())  # none finished
    assert targets["is_vs_estimate"]["per_seed"]["1"]["estimates"] == 3  # one per IS parent, journaled
    high = targets["is_high_vs_twap"]
    assert high["urgency"] == "HIGH" and high["model"]["parents"] == 3
    for target in targets.values():
        assert isinstance(target["met"], bool)


def test_the_default_lab_adds_the_aggregation_target_and_no_targets_skips_them() -> None:
    result = lab(["--orders", "20", "--seeds", "1", "--strategies", "TWAP", "--experiments", "pov",
                  "--experiment-minutes", "2", "--json"])
    assert result.returncode == 0, result.stderr
    targets = json.loads(result.stdout)["targets"]
    assert set(targets) == {"aggregation", "pov_participation"}
    assert set(targets["aggregation"]["by_strategy"]) == {"TWAP"}
    result = lab(["--orders", "20", "--seeds", "1", "--strategies", "TWAP", "--no-targets", "--json"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["targets"] is None


def test_a_bad_experiment_list_is_one_line() -> None:
    result = lab(["--targets-only", "--experiments", "is,sniper"])
    assert result.returncode == 2 and result.stdout == ""
    assert "unknown experiment 'sniper'" in result.stderr.splitlines()[-1]


def test_routers_report_by_router_with_the_routing_figures_and_targets() -> None:
    result = lab(["--orders", "20", "--seeds", "1", "--routers", "BEST,SEEK", "--experiment-minutes", "2",
                  "--jobs", "2", "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["by_strategy"] == {} and report["routers"] == ["BEST", "SEEK"]  # no strategy asked: none run
    assert list(report["by_router"]) == ["BEST", "SEEK"]
    for name, s in report["by_router"].items():
        for figure in (*FIGURES, "dark_share", "time_to_complete_s", "leakage_bps"):
            assert isinstance(s[figure], float), (name, figure)
        assert "markout_bps" in s  # null until the engine journals markouts (its scorecard)
        assert s["overfills_detected"] == 0 and s["overfills_allocated"] == 0
        assert s["orders"] == 20 and s["rejected"] == 0 and s["alerts"] == 0
        assert 0 <= s["dark_share"] <= 1 and s["time_to_complete_s"] > 0
        assert set(s["by_instrument"]["KELP"]) >= {"cost_vs_arrival_bps", "dark_share", "leakage_bps"}
    targets = report["targets"]
    assert set(targets) == {"seek_kelp", "no_overfill_allocated", "dark_fill_estimates"}  # BEST, SEEK: 2 of 4
    assert targets["no_overfill_allocated"]["runs"] == 4 and targets["no_overfill_allocated"]["met"] is True
    assert isinstance(targets["seek_kelp"]["met"], bool)
    assert set(targets["seek_kelp"]["by_router"]) == {"BEST", "SEEK"}


def test_routers_table_and_a_bad_router_list() -> None:
    result = lab(["--orders", "20", "--seeds", "1", "--routers", "SEEK", "--no-targets"])
    assert result.returncode == 0, result.stderr
    assert "by router" in result.stdout and "  SEEK" in result.stdout and "targets" not in result.stdout
    result = lab(["--routers", "BEST,DARKEST"])
    assert result.returncode == 2 and result.stdout == ""
    assert "unknown router 'DARKEST'" in result.stderr.splitlines()[-1]
