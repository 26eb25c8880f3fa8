"""``metaorder estimate``: both command forms, as a real process and through ``estimate.run``.

* the explicit form's ``--json`` equals :func:`almgren_chriss.plan` on the same numbers, and λ = 0
  prints TWAP holdings;
* the instrument form reads the instrument from the configuration, takes λ from the urgency (or
  ``[strategy.is]``) and front-loads a HIGH-urgency order more than a LOW one;
* errors (a missing parameter, η̃ ≤ 0, an unknown symbol, a bad window): exit 2, one line on stderr
  starting ``metaorder estimate:``, nothing on stdout.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from metaorder import estimate
from metaorder.execution.almgren_chriss import AcParameters, plan

ROOT = Path(__file__).resolve().parents[2]
PAPER = ["--qty", "1000000", "--horizon", "5", "--periods", "5", "--sigma", "0.95", "--epsilon", "0.0625",
         "--gamma", "2.5e-7", "--eta", "2.5e-6"]
CONFIG = """
[acceptor]
sender_comp_id = "METAORDER"

[[acceptor.sessions]]
target_comp_id = "OMS1"

[[instrument]]
symbol = "ACME"
reference_price = "142.50"
tick_size = "0.01"
lot_size = 1
daily_volatility = 0.02
daily_volume = 6000000
{extra}
"""


def cli(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", "estimate", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)


def direct(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``estimate.run`` on parsed arguments, as the cli hook calls it."""
    parser = argparse.ArgumentParser(prog="metaorder estimate")
    estimate.add_arguments(parser)
    out = io.StringIO()
    rc = estimate.run(parser.parse_args(list(args)), out)
    return rc, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "metaorder.toml"
    path.write_text(CONFIG.format(extra=""))
    return path


def write_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "tuned.toml"
    path.write_text(CONFIG.format(extra=extra))
    return path


# ---- through estimate.run ---------------------------------------------------------------------


def test_explicit_json_is_the_closed_form(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = direct([*PAPER, "--risk-aversion", "2e-6", "--price", "50", "--json"], capsys)
    assert (rc, err) == (0, "")
    d = json.loads(out)
    expected = plan(1e6, 5.0, 5, AcParameters(sigma=0.95, eta=2.5e-6, gamma=2.5e-7, epsilon=0.0625), 2e-6)
    assert d["kappa"] == pytest.approx(expected.kappa)
    assert d["holdings"] == pytest.approx(list(expected.holdings))
    assert d["trades"] == pytest.approx(list(expected.trades))
    assert d["expected_cost"] == pytest.approx(expected.expected_cost)
    assert d["std_cost"] == pytest.approx(expected.std_cost)
    assert d["expected_cost_bps"] == pytest.approx(expected.expected_cost / 50e6 * 1e4)
    assert d["half_life"] == pytest.approx(1 / expected.kappa)
    assert d["units"]["eta"] == "$*unit/share^2"


def test_explicit_risk_neutral_is_twap_with_null_half_life(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = direct([*PAPER, "--risk-aversion", "0", "--json"], capsys)
    d = json.loads(out)
    assert rc == 0
    assert d["holdings"] == [1e6, 8e5, 6e5, 4e5, 2e5, 0.0]
    assert d["kappa"] == 0 and d["half_life"] is None
    assert d["expected_cost"] == pytest.approx(662_500.0)
    assert d["expected_cost_bps"] is None  # no price given


def test_instrument_form_front_loads_with_urgency(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--symbol", "ACME", "--side", "buy", "--qty", "50000", "--window", "2h", "--config", str(config), "--json"]
    runs = {}
    for urgency in ("LOW", "HIGH"):
        rc, out, err = direct([*base, "--urgency", urgency], capsys)
        assert (rc, err) == (0, "")
        runs[urgency] = json.loads(out)
    low, high = runs["LOW"], runs["HIGH"]
    assert low["periods"] == 100 and low["tau"] == 72  # the IS grid: one per 30 s, at most 100
    assert low["risk_aversion"] == estimate.DEFAULT_RISK_AVERSION["LOW"]
    twap = [50000 * (100 - k) / 100 for k in range(101)]
    assert high["holdings"][25] < 0.5 * twap[25]  # after 30 min, HIGH has done more than twice TWAP's share
    assert high["std_cost"] < low["std_cost"] and high["expected_cost"] > low["expected_cost"]
    assert high["expected_cost_bps"] == pytest.approx(high["expected_cost"] / (50000 * 142.5) * 1e4)
    assert high["parameters"]["sigma"] == pytest.approx(0.02 * 142.5 / 23_400**0.5)
    assert high["mandate"]["side"] == "buy" and high["units"]["time"] == "second"


def test_strategy_is_settings_set_the_risk_aversion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, "[strategy.is]\nrisk_aversion_high = 3e-6\n")
    rc, out, _ = direct(["--symbol", "ACME", "--side", "sell", "--qty", "1000", "--window", "1h30m", "--urgency",
                         "HIGH", "--config", str(path), "--json"], capsys)
    d = json.loads(out)
    assert rc == 0 and d["risk_aversion"] == 3e-6 and d["horizon"] == 5400 and d["periods"] == 100


def test_text_output_names_kappa_costs_and_every_period(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = direct(["--symbol", "ACME", "--side", "buy", "--qty", "50000", "--window", "30m", "--urgency",
                         "HIGH", "--config", str(config)], capsys)
    assert rc == 0
    assert "kappa" in out and "half-life" in out and "bps" in out and "E+lam*Var" in out
    rows = [line.split() for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(61))  # 30 min: 60 periods of 30 s, N+1 rows


@pytest.mark.parametrize(
    "args,message",
    [
        ([*PAPER[:-2], "--risk-aversion", "1e-6"], "missing --eta"),
        (["--qty", "1e6", "--horizon", "5", "--periods", "1", "--sigma", "1", "--epsilon", "0", "--gamma", "1",
          "--eta", "0.1", "--risk-aversion", "0"], "eta - gamma*tau/2"),
        (["--symbol", "NOPE", "--side", "buy", "--qty", "100", "--window", "1h"], "unknown symbol 'NOPE'"),
        (["--symbol", "ACME", "--side", "buy", "--qty", "100", "--window", "2x"], "bad duration '2x'"),
        (["--symbol", "ACME", "--qty", "100", "--window", "1h"], "missing --side"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    args: list[str], message: str, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_config = [*args, "--config", str(config)] if "--symbol" in args else args
    rc, out, err = direct(with_config, capsys)
    assert (rc, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("metaorder estimate: ") and message in line


def test_durations() -> None:
    assert [estimate.parse_duration(t) for t in ("90s", "30m", "2h", "1h30m", "45")] == [90, 1800, 7200, 5400, 45]
    with pytest.raises(ValueError):
        estimate.parse_duration("0m")


def test_urgency_map_refuses_bad_settings_by_name() -> None:
    assert estimate.risk_aversion_for("medium", {}) == 1e-6
    with pytest.raises(ValueError, match="risk_aversion_low"):
        estimate.risk_aversion_for("LOW", {"risk_aversion_low": "-1"})
    with pytest.raises(ValueError, match="urgency"):
        estimate.risk_aversion_for("URGENT", {})


# ---- as a real process (needs the cli hook: `metaorder estimate`) -----------------------------


def test_process_explicit_json_and_twap() -> None:
    result = cli([*PAPER, "--risk-aversion", "0", "--price", "50", "--json"])
    assert (result.returncode, result.stderr) == (0, "")
    [line] = result.stdout.splitlines()
    d = json.loads(line)
    assert d["holdings"] == [1e6, 8e5, 6e5, 4e5, 2e5, 0.0]
    assert d["trades"] == [2e5] * 5
    assert d["std_cost"] == pytest.approx((0.9025 * 1.2e12) ** 0.5)


def test_process_instrument_form(config: Path) -> None:
    result = cli(["--symbol", "ACME", "--side", "buy", "--qty", "50000", "--window", "2h", "--urgency", "HIGH",
                  "--config", str(config), "--json"])
    assert (result.returncode, result.stderr) == (0, "")
    d = json.loads(result.stdout)
    p = d["parameters"]
    periods = len(d["trades"])  # the engine's periods for a 2 h window (one per 30 s, at most 100)
    assert periods == 100
    expected = plan(50000.0, 7200.0, periods, AcParameters(p["sigma"], p["eta"], p["gamma"], p["epsilon"]), 1e-5)
    assert d["holdings"] == pytest.approx(list(expected.holdings))
    assert d["expected_cost"] == pytest.approx(expected.expected_cost)


def test_process_error_is_one_line_exit_2(config: Path) -> None:
    result = cli(["--symbol", "NOPE", "--side", "buy", "--qty", "100", "--window", "1h", "--config", str(config)])
    assert (result.returncode, result.stdout) == (2, "")
    [line] = result.stderr.splitlines()
    assert line.startswith("metaorder estimate: unknown symbol 'NOPE'")


def test_process_bad_argument_is_one_line_exit_2() -> None:
    result = cli([*PAPER, "--risk-aversion", "-1"])
    assert (result.returncode, result.stdout) == (2, "")
    [line] = result.stderr.splitlines()
    assert line.startswith("metaorder estimate: ") and "--risk-aversion" in line


def test_instrument_form_prints_the_estimate_the_engine_journals(config: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The same mandate through a Shortfall on the engine's models (what the engine journals) and the CLI."""
    from metaorder.config import load_config
    from metaorder.execution.shortfall import Shortfall, ShortfallSettings
    from metaorder.execution.types import ParentState
    from metaorder.wiring import build_models

    models = build_models(load_config(config)).models
    assert models is not None
    for aggressiveness in ("PASSIVE", "NEUTRAL", "AGGRESSIVE"):
        parent = ParentState("P1", "ACME", 1, 60000, 0, 0, None, 1_000.0, 2_800.0, urgency="HIGH",
                             aggressiveness=aggressiveness)
        journaled = Shortfall(parent, 3, ShortfallSettings(), models).estimate
        rc, out, _ = direct(["--symbol", "ACME", "--side", "buy", "--qty", "60000", "--window", "30m", "--urgency",
                             "HIGH", "--aggressiveness", aggressiveness, "--config", str(config), "--json"], capsys)
        d = json.loads(out)
        assert rc == 0 and d["periods"] == journaled.periods and d["kappa"] == pytest.approx(journaled.kappa)
        assert d["expected_cost"] == pytest.approx(journaled.expected_cost)
        assert d["std_cost"] == pytest.approx(journaled.std_cost)
