"""The lab's targets (metaorder.lab.targets) on small canned runs, and their rendering for ``make bench``.

* aggregation: cost vs arrival over ALONE's, per seed and as the ratio of the means;
* VWAP tracking: |parent's venue average vs the tape's interval VWAP|, liquid names only, qty-weighted;
* POV: ours / (ours + others) over ρ, short-lived parents left out, weighted by life;
* IS vs estimate: realized $ (execution + fees + opportunity) vs ΣE ± sqrt(ΣVar), grown parents left out;
  and each parent against its own E ± sd;
* the TWAP plan recovered from a journaled IS estimate equals almgren_chriss.plan at λ = 0;
* IS-HIGH vs TWAP-HIGH realized per order (mean + λ·variance over seeds, never of a pool of orders);
* the target experiments' flows are what they say (sizeable IS parents, POV parents that cannot
  finish, VWAP parents a few % of their window that never meet), and a tiny IS experiment runs;
* bench_markdown and target_lines render a canned JSON object.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.config import MetaorderConfig, load_config
from metaorder.execution.almgren_chriss import AcParameters, plan
from metaorder.lab.experiments import (
    DEFAULT_MINUTES,
    is_flow,
    pov_flow,
    run_experiment,
    vwap_flow,
    window_volume,
)
from metaorder.lab.report import bench_markdown, target_lines
from metaorder.lab.runner import EstimateRecord, Execution, OrderRecord, ParentRecord, RunResult
from metaorder.lab.targets import (
    aggregation,
    is_high_vs_twap,
    is_vs_estimate,
    is_vs_estimate_seed,
    parent_costs,
    pov_participation,
    pov_ratios,
    twap_of_estimate,
    vwap_tracking,
    vwap_tracking_bps,
)

D = Decimal


def order(parent: str = "P1", qty: int = 100, filled: int = 100, notional: str = "10000", cost: str | None = "1",
          sign: int = 1, symbol: str = "ACME", internal: int = 0, arrival: str = "100") -> OrderRecord:
    return OrderRecord(f"O-{parent}-{qty}", symbol, sign, qty, filled, filled, internal, D(notional),
                       D(cost) if cost is not None else None, None, D(arrival), parent)


def parent(pid: str = "P1", qty: int = 100, start: float = 0.0, end: float = 120.0, tape_volume: int = 1000,
           lit: int = 100, sign: int = 1, tape_notional: str = "100000", end_mid: str | None = "100",
           rate: str | None = None, symbol: str = "ACME") -> ParentRecord:
    return ParentRecord(pid, symbol, qty, start, end, tape_volume, lit, sign, D(tape_notional),
                        D(end_mid) if end_mid is not None else None, D(rate) if rate is not None else None)


def execution(pid: str = "P1", qty: int = 100, price: str = "100", fee: str = "0", lit: bool = True,
              symbol: str = "ACME") -> Execution:
    return Execution(1.0, pid, symbol, "LIT1" if lit else "DARK1", lit, qty, D(price), D(fee))


def run(strategy: str = "TWAP", seed: int = 1, orders: tuple[OrderRecord, ...] = (),
        parents: tuple[ParentRecord, ...] = (), executions: tuple[Execution, ...] = (),
        estimates: tuple[EstimateRecord, ...] = (), urgency: str | None = None) -> RunResult:
    return RunResult(strategy, seed, orders, parents, executions, (), {}, 0, (), (), 0.0, 0.0, estimates, urgency)


def estimate_of(qty: int, horizon: float, periods: int, params: AcParameters, lam: float, pid: str = "P1",
                arrival: str | None = "100") -> EstimateRecord:
    p = plan(qty, horizon, periods, params, lam)
    return EstimateRecord(pid, qty, horizon, periods, lam, p.kappa, p.expected_cost, p.std_cost,
                          D(arrival) if arrival is not None else None)


# ---- aggregation --------------------------------------------------------------------------------


def test_aggregation_is_the_cost_over_alones_per_seed_and_the_ratio_of_means() -> None:
    runs = {
        "TWAP": [run("TWAP", 1, (order(cost="1"),)), run("TWAP", 2, (order(cost="-1"),))],
        "ALONE": [run("ALONE", 1, (order(cost="4"),)), run("ALONE", 2, (order(cost="6"),))],
    }
    result = aggregation(runs)
    twap = result["by_strategy"]["TWAP"]
    assert twap["per_seed"] == {"1": 0.25, "2": pytest.approx(-1 / 6)}
    assert twap["over_seeds"] == 0.0  # mean cost 0 over mean ALONE 5
    assert twap["met"] and result["met"]


def test_aggregation_above_half_is_not_met() -> None:
    runs = {"VWAP": [run("VWAP", 1, (order(cost="3"),))], "ALONE": [run("ALONE", 1, (order(cost="4"),))]}
    result = aggregation(runs)
    assert result["by_strategy"]["VWAP"]["over_seeds"] == 0.75 and not result["met"]


# ---- VWAP tracking ------------------------------------------------------------------------------


def test_vwap_tracking_is_the_qty_weighted_absolute_slippage_of_liquid_parents() -> None:
    # P1 buys 100 at 100.02 against an interval VWAP of 100: 2 bps worse; P2 sells 300 at 49.99 against
    # an interval VWAP of 50.01: 4 bps worse; P3 is illiquid and is left out.
    r = run("VWAP", 1, parents=(
        parent("P1", tape_volume=1000, tape_notional="100000"),
        parent("P2", sign=-1, tape_volume=100, tape_notional="5001", symbol="GLOBX"),
        parent("P3", tape_volume=10, tape_notional="80", symbol="KELP"),
    ), executions=(execution("P1", 100, "100.02"), execution("P2", 300, "49.99", symbol="GLOBX"),
                   execution("P3", 5, "9")))
    liquid = {"ACME": True, "GLOBX": True, "KELP": False}
    expected = (100 * 2.0 + 300 * 0.02 / 50.01 * 1e4) / 400
    assert vwap_tracking_bps(r, liquid) == pytest.approx(expected)
    result = vwap_tracking([r], liquid)
    assert result["per_seed"]["1"] == pytest.approx(expected) and not result["met"]  # > 2 bps


def test_vwap_tracking_without_liquid_executions_is_none() -> None:
    r = run("VWAP", 1, parents=(parent("P1"),))
    assert vwap_tracking_bps(r, {"ACME": True}) is None
    assert vwap_tracking([r], {"ACME": True})["met"] is False


# ---- POV ----------------------------------------------------------------------------------------


def test_pov_participation_is_ours_over_ours_and_others_over_rho() -> None:
    # ours 100 on lit (in the tape's 1000) + 11 dark: others 900, participation 111/1011.
    r = run("POV", 1, parents=(parent("P1", rate="0.1", tape_volume=1000, lit=100),),
            executions=(execution("P1", 100), execution("P1", 11, lit=False)))
    [(ratio, life)] = pov_ratios(r)
    assert ratio == pytest.approx(111 / 1011 / 0.1) and life == 120.0


def test_pov_internal_crosses_count_as_ours_only_in_the_strategys_own_definition() -> None:
    r = run("POV", 1, orders=(order("P1", internal=50),),
            parents=(parent("P1", rate="0.1", tape_volume=900, lit=90),), executions=(execution("P1", 90),))
    [(venue_only, _)] = pov_ratios(r)
    [(with_internal, _)] = pov_ratios(r, internal=True)
    assert venue_only == pytest.approx(1.0) and with_internal == pytest.approx(140 / 950 / 0.1)


def test_pov_short_lived_parents_are_left_out_and_the_rest_weighted_by_life() -> None:
    r = run("POV", 3, parents=(
        parent("A", rate="0.1", start=0, end=59, tape_volume=100, lit=0),  # too short: left out
        parent("B", rate="0.1", start=0, end=60, tape_volume=1000, lit=100),  # 1.0 over 60 s
        parent("C", rate="0.1", start=0, end=180, tape_volume=1000, lit=80),  # 0.8 over 180 s
    ), executions=(execution("A", 50), execution("B", 100), execution("C", 80)))
    result = pov_participation([r])
    assert result["parents"] == {"3": 2}
    assert result["per_seed"]["3"] == pytest.approx((1.0 * 60 + 0.8 * 180) / 240)
    assert not result["met"]  # 0.85 < 0.9


def test_pov_met_only_when_every_seed_is_in_the_band() -> None:
    good = run("POV", 1, parents=(parent("B", rate="0.1", tape_volume=1000, lit=100),),
               executions=(execution("B", 100),))
    empty = run("POV", 2)
    assert pov_participation([good])["met"] is True
    assert pov_participation([good, empty])["met"] is False  # a seed with nothing to measure is not a pass


# ---- IS -----------------------------------------------------------------------------------------


def test_realized_is_cost_is_execution_plus_fees_plus_opportunity_against_the_benchmark() -> None:
    # buy 100 of which 60 filled for 6030 (avg 100.50) vs P0 100: 30 $; fees 1.20 $; 40 unfilled and
    # the mid ended at 101: opportunity 40 $.
    r = run("IS", 1, orders=(order("P1", qty=100, filled=60, notional="6030"),),
            parents=(parent("P1", qty=100, end_mid="101"),), executions=(execution("P1", 60, "100.5", fee="1.20"),))
    [cost] = parent_costs(r, {"P1": D("100")}).values()
    assert cost.cost == pytest.approx(30 + 1.2 + 40)
    # a sell: the signs turn (a sale below the benchmark is a cost, and so is a price that fell while 40 were unsold)
    s = run("IS", 1, orders=(order("P1", qty=100, filled=60, notional="5970", sign=-1),),
            parents=(parent("P1", qty=100, sign=-1, end_mid="99"),))
    assert parent_costs(s, {"P1": D("100")})["P1"].cost == pytest.approx(30 + 40)


def test_is_vs_estimate_compares_the_sum_with_the_summed_variance_and_skips_grown_parents() -> None:
    est = (EstimateRecord("P1", 100, 60.0, 5, 1e-5, 0.01, 50.0, 20.0, D("100")),
           EstimateRecord("P2", 100, 60.0, 5, 1e-5, 0.01, 30.0, 15.0, D("100")),
           EstimateRecord("P3", 100, 60.0, 5, 1e-5, 0.01, 999.0, 1.0, D("100")))  # P3 grew to 200 after its plan
    r = run("IS", 1, orders=(order("P1", notional="10060"), order("P2", notional="10040"),
                             order("P3", qty=200, filled=200, notional="20000")),
            parents=(parent("P1"), parent("P2"), parent("P3", qty=200)), estimates=est)
    seed = is_vs_estimate_seed(r)
    assert seed["parents"] == 2 and seed["estimates"] == 3
    assert seed["realized"] == pytest.approx(100.0) and seed["expected"] == 80.0 and seed["std"] == 25.0
    assert seed["met"]  # |100 - 80| <= 25
    far = run("IS", 2, orders=(order("P1", notional="10200"),), parents=(parent("P1"),), estimates=est[:1])
    assert not is_vs_estimate_seed(far)["met"]  # 200 vs 50 ± 20
    result = is_vs_estimate([r, far, replace(r, seed=3)])
    assert result["seeds_met"] == 2 and result["met"]  # 2 of 3 seeds
    assert not is_vs_estimate([r, far, replace(far, seed=3)])["met"]


@settings(max_examples=40, deadline=None)
@given(qty=st.integers(100, 200_000), periods=st.integers(2, 60), horizon=st.floats(30.0, 7200.0),
       sigma=st.floats(0.001, 0.2), eta=st.floats(1e-5, 1e-2), gamma=st.floats(0.0, 1e-6),
       epsilon=st.floats(0.0, 0.05), lam=st.floats(1e-8, 1e-4))
def test_the_twap_plan_recovered_from_an_estimate_is_almgren_chriss_at_lambda_zero(
        qty: int, periods: int, horizon: float, sigma: float, eta: float, gamma: float, epsilon: float,
        lam: float) -> None:
    params = AcParameters(sigma=sigma, eta=eta, gamma=gamma, epsilon=epsilon)
    if params.eta_tilde(horizon / periods) <= 0:
        return
    est = estimate_of(qty, horizon, periods, params, lam)
    if est.kappa * horizon < 1e-3:
        return  # κ too small to invert the κ equation to digits (the plan is TWAP to within rounding)
    recovered = twap_of_estimate(est)
    assert recovered is not None
    twap = plan(qty, horizon, periods, params, 0.0)
    assert recovered[0] == pytest.approx(twap.expected_cost, rel=1e-6)
    assert recovered[1] == pytest.approx(twap.variance, rel=1e-6)
    # and the IS plan minimises E + λ·Var: it is never above TWAP's
    assert est.expected_cost + lam * est.std_cost ** 2 <= recovered[0] + lam * recovered[1] * (1 + 1e-9)


def test_a_twap_estimate_has_nothing_to_recover() -> None:
    params = AcParameters(sigma=0.05, eta=1e-3, gamma=0.0, epsilon=0.01)
    assert twap_of_estimate(estimate_of(1000, 600.0, 10, params, 0.0)) is None


def test_is_high_vs_twap_compares_model_and_realized_objectives_per_order() -> None:
    params = AcParameters(sigma=0.05, eta=1e-3, gamma=1e-7, epsilon=0.01)
    est = estimate_of(20_000, 600.0, 20, params, 1e-5)
    est_b = replace(estimate_of(20_000, 600.0, 20, params, 1e-5, pid="P2"), risk_aversion=2e-5)

    def seeds(strategy: str, acme: tuple[str, str], globx: tuple[str, str],
              estimates: bool) -> list[RunResult]:
        return [run(strategy, s, orders=(order("P1", notional=a), order("P2", notional=g, symbol="GLOBX")),
                    parents=(parent("P1"), parent("P2", symbol="GLOBX")),
                    estimates=(est, est_b) if estimates else (), urgency="HIGH")
                for s, a, g in ((1, acme[0], globx[0]), (2, acme[1], globx[1]))]

    # realized cost per seed ($ vs an arrival of 100 on 100 shares): IS ACME 10, 20; GLOBX 0, 0;
    # TWAP ACME 0, 50; GLOBX 5, 5.  Per order mean + λ·var, λ that order's: the variance of one order
    # across seeds, never of a pool of different orders.
    is_runs = seeds("IS", ("10010", "10020"), ("10000", "10000"), True)
    twap_runs = seeds("TWAP", ("10000", "10050"), ("10005", "10005"), False)
    result = is_high_vs_twap(is_runs, twap_runs)
    assert result["model"]["parents"] == 4 and result["model"]["parents_lower"] == 4 and result["model"]["met"]
    realized = result["realized"]
    acme, globx = realized["by_order"]["ACME"], realized["by_order"]["GLOBX"]
    assert acme["risk_aversion"] == 1e-5 and globx["risk_aversion"] == 2e-5
    assert acme["is"]["objective"] == pytest.approx(15.0 + 1e-5 * 50.0)
    assert acme["twap"]["objective"] == pytest.approx(25.0 + 1e-5 * 1250.0)
    assert globx["is"]["objective"] == 0.0 and globx["twap"]["objective"] == pytest.approx(5.0)
    assert realized["is_objective"] == pytest.approx(15.0 + 5e-4)
    assert realized["twap_objective"] == pytest.approx(25.0 + 1.25e-2 + 5.0)
    assert realized["met"] and result["met"]
    # paired by seed (same market): IS − TWAP totals are 10 − 5 and 20 − 55
    assert realized["paired"] == {"seeds": 2, "mean_is_minus_twap": pytest.approx(-15.0),
                                  "stderr": pytest.approx(20.0)}
    # one seed: no variance, so no realized figure, and not met
    single = is_high_vs_twap(is_runs[:1], twap_runs[:1])
    assert single["realized"]["is_objective"] is None and not single["met"]


def test_is_vs_estimate_counts_each_parent_against_its_own_estimate() -> None:
    est = (EstimateRecord("P1", 100, 60.0, 5, 1e-5, 0.01, 50.0, 20.0, D("100")),
           EstimateRecord("P2", 100, 60.0, 5, 1e-5, 0.01, 30.0, 15.0, D("100")))
    # P1 costs 60 (inside 50 ± 20), P2 costs 0 (outside 30 ± 15): the total 60 is inside 80 ± 25
    r = run("IS", 1, orders=(order("P1", notional="10060"), order("P2", notional="10000", symbol="GLOBX")),
            parents=(parent("P1"), parent("P2", symbol="GLOBX")), estimates=est)
    result = is_vs_estimate([r])
    seed = result["per_seed"]["1"]
    assert seed["met"] and seed["parents_inside"] == 1
    assert seed["by_parent"]["ACME"]["inside"] and not seed["by_parent"]["GLOBX"]["inside"]
    assert seed["by_parent"]["GLOBX"]["z"] == pytest.approx(-2.0)
    assert result["parents_inside_share"] == 0.5 and result["met"]


def test_a_targets_object_with_aggregation_alone_renders_one_line() -> None:
    runs = {"TWAP": [run("TWAP", 1, (order(cost="1"),))], "ALONE": [run("ALONE", 1, (order(cost="4"),))]}
    targets = {"aggregation": aggregation(runs)}
    assert targets["aggregation"]["met"]
    assert [line.split()[0] for line in target_lines(targets)] == ["aggregation"]


# ---- rendering ------------------------------------------------------------------------------------

CANNED: dict[str, Any] = {
    "seeds": 2, "seed_list": [1, 2], "flow": "standard flow of 200 orders",
    "by_strategy": {
        "VWAP": {"cost_vs_arrival_bps": -2.5, "cost_vs_arrival_bps_sd": 5.0, "fees_bps": -0.37, "fees_bps_sd": 0.02,
                 "vs_interval_vwap_bps": 1.37, "vs_interval_vwap_bps_sd": 2.6, "participation": 0.036,
                 "participation_sd": 0.014, "completion": 1.0, "completion_sd": 0.0, "internal_share": 0.712,
                 "internal_share_sd": 0.024},
        "ALONE": {"cost_vs_arrival_bps": 5.86, "cost_vs_arrival_bps_sd": None, "fees_bps": None,
                  "vs_interval_vwap_bps": 0.43, "participation": 0.959, "completion": 1.0, "internal_share": 0.0},
    },
    "targets": {
        "aggregation": {"threshold": 0.5, "met": True, "by_strategy": {
            "VWAP": {"per_seed": {"1": -0.3, "2": None}, "over_seeds": -0.42, "met": True}}},
        "vwap_tracking": {"threshold_bps": 2.0, "per_seed": {"1": 3.84, "2": 1.5}, "mean": 2.67, "met": False},
        "pov_participation": {"band": [0.9, 1.1], "min_life_s": 60.0, "per_seed": {"1": 0.95, "2": 0.97},
                              "per_seed_with_internal": {"1": 1.0, "2": 1.0}, "parents": {"1": 4, "2": 5},
                              "met": True},
        "is_vs_estimate": {"threshold_seed_share": 0.6667, "seeds_met": 1, "met": False, "per_seed": {
            "1": {"realized": 699.0, "expected": 3565.0, "std": 574.0, "met": False},
            "2": {"realized": 219.0, "expected": 405.0, "std": 387.0, "met": True}}},
        "is_high_vs_twap": {"urgency": "HIGH", "met": False,
                            "model": {"parents": 50, "parents_lower": 50, "is_objective": 9639.1,
                                      "twap_objective": 9639.19, "met": True},
                            "realized": {"risk_aversion": 1e-5, "is_objective": 63.04, "twap_objective": 42.87,
                                         "met": False}},
    },
}


def test_bench_markdown_renders_a_row_per_strategy_and_the_targets() -> None:
    text = bench_markdown(CANNED)
    lines = text.splitlines()
    assert lines[0].startswith("Execution quality: `metaorder lab`, standard flow of 200 orders, seeds 1, 2")
    assert "| VWAP | -2.50±5.00 | -0.37±0.02 | +1.37±2.60 | 3.6±1.4 % | 100.0±0.0 % | 71.2±2.4 % |" in lines
    assert "| ALONE | +5.86 | n/a | +0.43 | 95.9 % | 100.0 % | 0.0 % |" in lines
    targets = [line for line in lines if line.startswith("- ")]
    assert [t.split()[1] for t in targets] == ["aggregation", "vwap_tracking", "pov_participation",
                                               "is_vs_estimate", "is_high_vs_twap"]
    assert "VWAP -0.42 [-0.30 n/a]" in targets[0] and targets[0].endswith("met: yes")
    assert "per seed 3.84 1.50" in targets[1] and targets[1].endswith("met: NO")
    assert "+699/+3565±574 +219/+405±387; inside on 1 of 2" in targets[3]
    assert "model IS 9639.10 vs TWAP 9639.19 (50/50 parents lower)" in targets[4]
    assert targets[4].endswith("met: model yes, realized NO")


def test_the_experiments_details_join_their_targets_line() -> None:
    targets = {
        "pov_participation": {**CANNED["targets"]["pov_participation"],
                              "experiment": {"orders": [{"completion": {"1": 0.55, "2": 0.61}}]}},
        "is_vs_estimate": {"threshold_seed_share": 0.6667, "seeds_met": 1, "met": False, "parents_inside_share": 0.5,
                           "per_seed": {"1": {"realized": 1.0, "expected": 2.0, "std": 3.0, "met": True,
                                              "parents": 2, "parents_inside": 1}}},
    }
    pov, isv = target_lines(targets)
    assert pov.endswith("met: yes; completion 55%..61%")
    assert isv.endswith("met: NO; parents inside their own E±sd per seed: 1/2 (pooled 0.50)")


def test_bench_markdown_of_the_experiments_alone_has_no_empty_table() -> None:
    text = bench_markdown({"seed_list": [1], "flow": "target experiments only", "by_strategy": {},
                           "targets": {"vwap_tracking": CANNED["targets"]["vwap_tracking"]}})
    assert "| strategy |" not in text and "- vwap_tracking" in text


def test_bench_markdown_without_targets_is_just_the_table() -> None:
    text = bench_markdown({k: v for k, v in CANNED.items() if k != "targets"})
    assert "Targets" not in text and text.count("\n| ") == 3  # the header and a row per strategy


# ---- the target experiments (metaorder.lab.experiments) --------------------------------------------

LAB_CONFIG = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture(scope="module")
def lab_config() -> MetaorderConfig:
    return load_config(LAB_CONFIG / "lab.toml")


def test_the_is_experiment_is_sizeable_parents_over_thirty_minutes_urgency_high(lab_config: MetaorderConfig) -> None:
    orders = is_flow(lab_config)
    adv = {i.symbol: i.daily_volume or 0 for i in lab_config.instrument}
    assert [(o.symbol, o.side, o.qty) for o in orders] == [("ACME", "1", 60_000), ("GLOBX", "2", 150_000),
                                                         ("NOVA", "1", 20_000)]
    for o in orders:
        assert 0.01 <= o.qty / adv[o.symbol] <= 0.03  # where impact and risk matter
        assert o.window_s == 1800 and o.urgency == "HIGH" and o.strategy == "IS" and o.limit is None
    short = is_flow(lab_config, minutes=3.0)  # windows and sizes scale together
    assert [o.qty for o in short] == [6000, 15000, 2000] and {o.window_s for o in short} == {180.0}


def test_the_pov_experiment_cannot_finish_and_vwap_parents_never_meet_on_a_symbol(lab_config: MetaorderConfig) -> None:
    adv = {i.symbol: i.daily_volume or 0 for i in lab_config.instrument}
    rates = set()
    for o in pov_flow(lab_config, DEFAULT_MINUTES):
        assert o.participation is not None
        rho = float(o.participation)
        rates.add(rho)
        assert o.qty > rho / (1 - rho) * window_volume(adv[o.symbol], o.window_s)  # too large at ρ
        assert 20 * 60 <= o.window_s <= 30 * 60
    assert rates == {0.05, 0.1, 0.2}
    vwap = vwap_flow(lab_config)
    assert {o.window_s for o in vwap} == {1800.0, 3600.0}
    for o in vwap:
        assert 0.02 <= o.qty / window_volume(adv[o.symbol], o.window_s) <= 0.05  # a few % of its window
        same = [p for p in vwap if p is not o and p.symbol == o.symbol]
        # same symbol: one after the other (no aggregation into one parent, no netting between them)
        assert all(p.time_s >= o.time_s + o.window_s or o.time_s >= p.time_s + p.window_s for p in same)


def test_a_tiny_is_experiment_journals_an_estimate_per_parent_and_reports_both_targets() -> None:
    out = run_experiment("is", [1], minutes=2.0, config=LAB_CONFIG / "lab.toml",
                         venues=LAB_CONFIG / "lab-venues.toml")
    estimate, high = out["is_vs_estimate"], out["is_high_vs_twap"]
    seed = estimate["per_seed"]["1"]
    assert seed["estimates"] == 3 and seed["parents"] == 3 and set(seed["by_parent"]) == {"ACME", "GLOBX", "NOVA"}
    for p in seed["by_parent"].values():
        assert p["completion"] == 1.0 and p["std"] > 0 and p["expected"] > 0
    assert estimate["met"] == seed["met"] and isinstance(estimate["met"], bool)
    assert high["model"]["parents"] == 3 and high["model"]["met"]  # IS minimises E + λ·Var in the model
    assert set(high["realized"]["by_order"]) == {"ACME", "GLOBX", "NOVA"}
    assert high["realized"]["is_objective"] is None and not high["met"]  # one seed: no variance over seeds
    with pytest.raises(ValueError, match="unknown experiment 'twap'"):
        run_experiment("twap", [1])
