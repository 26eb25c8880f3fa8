"""The lab's router comparison (metaorder.lab.routing, issue 15): its figures and targets.

* from a hand-made journal (MemoryJournal, real events through the codec): shares allocated beyond
  an order's OrderQty (fills and crosses, replaced quantities), over-filled parents (ParentOverfilled,
  halts that speak of an over-fill, not other halts), dark child orders sent and filled per pool and
  symbol, and the 10 s markouts;
* per run: dark share, time to complete, qty-weighted markout and leakage (signed against us), fees
  per share;
* targets: SEEK on KELP (dark share and the 20 % cost cut, a negative BEST cost included), PARALLEL
  fastest and SEQUENTIAL cheapest only with all four routers, allocated over-fills named per run, the
  dark pools' estimate against the realised rate (children-weighted; n/a without a scorecard);
* a router run sets every cell of [routing.map]; the KELP experiment's order; the JSON and the table
  carry by_router only when routers were run.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.config import MetaorderConfig, load_config, load_venues_config
from metaorder.eventcodec import append as record
from metaorder.events import (
    ChildPlaced,
    Crossed,
    OrderAccepted,
    OrderReplaced,
    ParentFilled,
    ParentHalted,
    ParentOverfilled,
    VenueExecution,
    VenueMarkout,
)
from metaorder.lab.report import LabOutcome, format_table, to_json
from metaorder.lab.routing import (
    ILLIQUID,
    dark_fill_estimates,
    kelp_flow,
    router_figures,
    routing_targets,
    seek_kelp,
    summarize_router,
)
from metaorder.lab.runner import (
    DarkChildren,
    Execution,
    JournalFigures,
    MarkoutRecord,
    OrderRecord,
    ParentRecord,
    RunResult,
    routed_by,
    run_once,
)
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.model import Mandate, OrderType, Side, TimeInForce

D = Decimal
LIT = {"ATLX": True, "UMBRA": False, "NOCT": False}


def accepted(order_id: str, qty: int, parent_id: str | None = "P1") -> OrderAccepted:
    return OrderAccepted(order_id, "OMS1", f"C{order_id}", "ACME", Side.BUY, qty, OrderType.MARKET, None,
                         TimeInForce.DAY, 0.0, 1, Mandate(), None, parent_id)


def placed(child: str, venue: str, parent_id: str = "P1", symbol: str = "ACME") -> ChildPlaced:
    return ChildPlaced(parent_id, child, venue, symbol, Side.BUY, 100, None, False)


def journal_of(*events: object) -> MemoryJournal:
    journal = MemoryJournal()
    for n, event in enumerate(events):
        record(journal, float(n), event)  # type: ignore[arg-type]
    return journal


# ---- what the journal says ----------------------------------------------------------------------


def test_shares_allocated_beyond_each_orders_qty_are_counted_fills_and_crosses_alike() -> None:
    journal = journal_of(
        accepted("O1", 100), accepted("O2", 50), accepted("O3", 200),
        ParentFilled("P1", 160, D("10"), "ATLX", (("O1", 100), ("O2", 60))),  # O2: 10 beyond its 50
        Crossed("O3", "O1", 5, D("10"), "INTERNAL"),  # O1 now 105 of 100: 5 beyond
        OrderReplaced("O3", "CO3b", 4, None, "P1"),  # O3 cut to 4 after 5 crossed: 1 beyond
    )
    assert JournalFigures.read(journal, LIT).overallocated() == 10 + 5 + 1


def test_nothing_beyond_the_orders_qty_is_zero() -> None:
    journal = journal_of(accepted("O1", 100), ParentFilled("P1", 100, D("10"), "ATLX", (("O1", 100),)))
    assert JournalFigures.read(journal, LIT).overallocated() == 0


def test_overfilled_parents_are_those_with_an_overfill_event_or_a_halt_for_one() -> None:
    journal = journal_of(
        ParentOverfilled("P1", "C1", "ATLX", 10, D("10"), "P1: 10 shares over-filled, parent halted"),
        ParentHalted("P1", "P1: ATLX executed 110 ... over-filled, parent halted"),
        ParentHalted("P2", "fill of 300 with only 200 working (over-fill)"),
        ParentHalted("P3", "filled 500 exceeds limit 400"),
        ParentHalted("P4", "child of 100 refused: filled 0 + working 400 + 100 exceeds limit 400"),
    )
    # P4's child was refused before it left: nothing was over-filled
    assert JournalFigures.read(journal, LIT).overfilled == {"P1", "P2", "P3"}


def test_dark_children_are_counted_per_pool_and_symbol_with_any_fill() -> None:
    journal = journal_of(
        placed("C1", "UMBRA"), placed("C2", "UMBRA"), placed("C3", "NOCT"), placed("C4", "ATLX"),
        placed("C5", "UMBRA", symbol="KELP"),
        VenueExecution("P1", "C1", "UMBRA", "E1", 40, D("10")), VenueExecution("P1", "C1", "UMBRA", "E2", 60, D("10")),
        VenueExecution("P1", "C4", "ATLX", "E3", 100, D("10")),
    )
    assert JournalFigures.read(journal, LIT).dark() == (
        DarkChildren("NOCT", "ACME", 1, 0), DarkChildren("UMBRA", "ACME", 2, 1), DarkChildren("UMBRA", "KELP", 1, 0))


def test_markouts_keep_the_mid_ten_seconds_after_and_skip_those_without_it() -> None:
    mids = ((1.0, D("100.02")), (10.0, D("99.90")), (60.0, D("99.50")))
    journal = journal_of(
        VenueMarkout("P1", "C1", "UMBRA", "ACME", Side.SELL, 300, D("100"), D("100"), mids),
        VenueMarkout("P1", "C2", "UMBRA", "ACME", Side.BUY, 100, D("100"), None, mids),  # no quote at the fill
        VenueMarkout("P1", "C3", "UMBRA", "ACME", Side.BUY, 100, D("100"), D("100"), ((1.0, D("100")),)),
    )
    assert JournalFigures.read(journal, LIT).markouts == [MarkoutRecord("UMBRA", "ACME", -1, 300, 100.0, 99.9)]


# ---- one run's router figures -------------------------------------------------------------------


def order(qty: int, filled: int, completed: float | None, symbol: str = "ACME", cost: str = "1") -> OrderRecord:
    return OrderRecord(f"O{qty}-{filled}", symbol, 1, qty, filled, filled, 0, D(filled * 10), D(cost), None,
                       D("10"), "P1", completed)


def execution(qty: int, lit: bool, fee: str = "0", symbol: str = "ACME") -> Execution:
    return Execution(1.0, "P1", symbol, "ATLX" if lit else "UMBRA", lit, qty, D("10"), D(fee))


def parent(qty: int, sign: int, fair: tuple[float, float], symbol: str = "ACME") -> ParentRecord:
    return ParentRecord(f"P{qty}", symbol, qty, 0.0, 60.0, 1000, 0, sign, D(0), None, None, fair[0], fair[1])


def run(router: str = "BEST", seed: int = 1, orders: tuple[OrderRecord, ...] = (),
        executions: tuple[Execution, ...] = (), parents: tuple[ParentRecord, ...] = (),
        markouts: tuple[MarkoutRecord, ...] = (), overallocated: int = 0, overfilled: tuple[str, ...] = (),
        dark: tuple[DarkChildren, ...] = (),
        estimates: tuple[tuple[str, str, float], ...] | None = None) -> RunResult:
    return RunResult("FLOW", seed, orders, parents, executions, (), {}, 0, (), (), 0.0, 0.0, router=router,
                     markouts=markouts, overfilled_parents=overfilled, overallocated=overallocated,
                     dark_children=dark, dark_estimates=estimates)


def test_router_figures_of_one_run() -> None:
    r = run(orders=(order(100, 100, 30.0), order(200, 200, 90.0), order(100, 50, None)),
            executions=(execution(300, True, "0.9"), execution(100, False, "0.1")),
            parents=(parent(300, 1, (1000.0, 1002.0)), parent(100, -1, (1000.0, 1002.0))),
            markouts=(MarkoutRecord("UMBRA", "ACME", 1, 100, 100.0, 99.9),  # bought, mid fell 10 bps: adverse
                      MarkoutRecord("ATLX", "ACME", -1, 300, 100.0, 99.9)))  # sold, mid fell: favourable
    f = router_figures(r)
    assert f["dark_share"] == pytest.approx(0.25)
    assert f["time_to_complete_s"] == pytest.approx(60.0)  # the two completed orders only
    assert f["markout_bps"] == pytest.approx((10 * 100 - 10 * 300) / 400)
    assert f["leakage_bps"] == pytest.approx((20 * 300 - 20 * 100) / 400)  # the buy saw the rise: against it
    assert f["fees_per_share"] == pytest.approx(0.0025)


def test_router_figures_without_data_are_none_and_follow_the_symbol_filter() -> None:
    f = router_figures(run(executions=(execution(100, False, symbol="KELP"),)), lambda s: s == "ACME")
    assert f == {"dark_share": None, "time_to_complete_s": None, "markout_bps": None, "leakage_bps": None,
                 "fees_per_share": None}
    assert router_figures(run(executions=(execution(100, False, symbol="KELP"),)),
                          lambda s: s == "KELP")["dark_share"] == 1.0


def test_router_summary_adds_the_figures_per_group_and_sums_overfills_over_seeds() -> None:
    runs = [run(seed=1, executions=(execution(100, False),), overallocated=3, overfilled=("P1",)),
            run(seed=2, executions=(execution(100, True),), overfilled=("P1", "P2"))]
    s = summarize_router(runs, {"by_instrument": {"ACME": lambda sym: sym == "ACME"}})
    assert s["dark_share"] == pytest.approx(0.5) and s["dark_share_sd"] == pytest.approx(0.5 ** 0.5)
    assert s["by_instrument"]["ACME"]["dark_share"] == pytest.approx(0.5)
    assert s["overfills_detected"] == 3 and s["overfills_allocated"] == 3
    assert "cost_vs_arrival_bps" in s  # the by-strategy figures are there too


# ---- the targets --------------------------------------------------------------------------------


def kelp_run(router: str, seed: int, cost: str, dark_qty: int, lit_qty: int) -> RunResult:
    return run(router, seed, orders=(order(1000, 1000, 60.0, ILLIQUID, cost),),
               executions=(execution(dark_qty, False, symbol=ILLIQUID), execution(lit_qty, True, symbol=ILLIQUID)))


def test_seek_on_kelp_needs_the_dark_share_and_a_fifth_off_bests_cost() -> None:
    best = [kelp_run("BEST", s, "50", 0, 1000) for s in (1, 2)]
    good = [kelp_run("SEEK", 1, "30", 400, 600), kelp_run("SEEK", 2, "40", 300, 700)]
    target = seek_kelp({"BEST": best, "SEEK": good})
    assert target is not None and target["met"]
    assert target["seek_dark_share"] == pytest.approx(0.35) and target["seek_cost_max_bps"] == pytest.approx(40.0)
    too_dear = seek_kelp({"BEST": best, "SEEK": [kelp_run("SEEK", 1, "45", 500, 500)]})
    assert too_dear is not None and not too_dear["met"] and too_dear["dark_met"] and not too_dear["cost_met"]
    too_lit = seek_kelp({"BEST": best, "SEEK": [kelp_run("SEEK", 1, "10", 200, 800)]})
    assert too_lit is not None and not too_lit["met"] and not too_lit["dark_met"] and too_lit["cost_met"]


def test_a_best_that_earned_must_be_beaten_by_a_fifth_of_what_it_earned() -> None:
    best = [kelp_run("BEST", 1, "-10", 0, 1000)]
    assert not seek_kelp({"BEST": best, "SEEK": [kelp_run("SEEK", 1, "-11", 500, 500)]})["met"]  # type: ignore[index]
    assert seek_kelp({"BEST": best, "SEEK": [kelp_run("SEEK", 1, "-12", 500, 500)]})["met"]  # type: ignore[index]
    assert seek_kelp({"SEEK": [kelp_run("SEEK", 1, "-12", 500, 500)]}) is None


def flow_runs(fastest: str, cheapest: str) -> dict[str, list[RunResult]]:
    out = {}
    for name in ("BEST", "SEQUENTIAL", "PARALLEL", "SEEK"):
        fee = "0.1" if name == cheapest else "0.5"
        out[name] = [run(name, 1, orders=(order(100, 100, 10.0 if name == fastest else 50.0),),
                         executions=(execution(100, True, fee),))]
    return out


def test_parallel_fastest_and_sequential_cheapest_are_judged_among_all_four() -> None:
    t = routing_targets(flow_runs("PARALLEL", "SEQUENTIAL"), {})
    assert t["parallel_fastest"]["met"] and t["parallel_fastest"]["lowest"] == "PARALLEL"
    assert t["sequential_lowest_fees"]["met"]
    t = routing_targets(flow_runs("SEEK", "BEST"), {})
    assert not t["parallel_fastest"]["met"] and t["parallel_fastest"]["lowest"] == "SEEK"
    assert not t["sequential_lowest_fees"]["met"]
    partial = routing_targets({k: v for k, v in flow_runs("PARALLEL", "SEQUENTIAL").items() if k != "SEEK"}, {})
    assert "parallel_fastest" not in partial and "sequential_lowest_fees" not in partial


def test_an_overfill_allocated_in_any_run_fails_and_is_named() -> None:
    t = routing_targets({"BEST": [run("BEST", 1)], "SEEK": [run("SEEK", 1)]},
                        {"PARALLEL": [run("PARALLEL", 2, overallocated=7, overfilled=("P9",))]})
    over = t["no_overfill_allocated"]
    assert not over["met"] and over["allocated"] == 7 and over["detected"] == 1 and over["runs"] == 3
    assert over["offending"] == {"kelp PARALLEL seed 2": 7}
    assert routing_targets({"BEST": [run("BEST", 1)]}, {})["no_overfill_allocated"]["met"]


def test_dark_fill_estimates_are_children_weighted_and_need_enough_children() -> None:
    runs = [run("SEEK", 1, dark=(DarkChildren("UMBRA", "ACME", 30, 6), DarkChildren("UMBRA", "KELP", 10, 4),
                                 DarkChildren("NOCT", "ACME", 5, 5), DarkChildren("UMBRA", "ACME", 10, 0, ioc=True)),
                estimates=(("UMBRA", "ACME", False, 0.2), ("UMBRA", "KELP", False, 0.6), ("NOCT", "ACME", False, 0.1),
                           ("UMBRA", "ACME", True, 0.1)))]
    t = dark_fill_estimates(runs)
    umbra = t["by_pool"]["UMBRA"]
    assert umbra["children"] == 50 and umbra["realised"] == pytest.approx(10 / 50)
    # each child against the estimate of its own kind (an IOC peg's is not a resting one's)
    assert umbra["estimate"] == pytest.approx((30 * 0.2 + 10 * 0.6 + 10 * 0.1) / 50) and umbra["met"]
    assert "NOCT" not in t["by_pool"] and t["met"]  # 5 children: its realised rate is noise
    far = dark_fill_estimates([run("SEEK", 1, dark=(DarkChildren("UMBRA", "ACME", 20, 2),),
                                   estimates=(("UMBRA", "ACME", False, 0.25),))])
    assert not far["met"] and not far["by_pool"]["UMBRA"]["met"]


def test_dark_fill_estimates_without_a_scorecard_are_not_available() -> None:
    t = dark_fill_estimates([run("SEEK", 1, dark=(DarkChildren("UMBRA", "ACME", 30, 6),))])
    assert t["met"] is None and t["by_pool"] == {}


# ---- a router run, the KELP experiment, the report ----------------------------------------------


@pytest.fixture(scope="module")
def lab_config() -> MetaorderConfig:
    return load_config("configs/lab.toml")


def test_a_router_run_routes_every_urgency_and_aggressiveness_by_it(lab_config: MetaorderConfig) -> None:
    base = lab_config.model_copy(update={"routing": {"sequential": {"timeout_s": 3}, "map": {"LOW": {}}}})
    routed = routed_by(base, "SEEK")
    assert routed.routing["sequential"] == {"timeout_s": 3}
    assert routed.routing["map"] == {u: {a: "SEEK" for a in ("PASSIVE", "NEUTRAL", "AGGRESSIVE")}
                                     for u in ("LOW", "MEDIUM", "HIGH")}
    assert base.routing["map"] == {"LOW": {}}  # the caller's configuration is not changed


def test_the_kelp_experiment_is_one_parent_of_four_percent_of_adv_alternating_sides(
        lab_config: MetaorderConfig) -> None:
    [buy] = kelp_flow(lab_config, 1)
    [sell] = kelp_flow(lab_config, 2)
    assert buy.symbol == sell.symbol == "KELP" and buy.side == "1" and sell.side == "2"
    assert buy.qty == 12_000 and buy.window_s == 1800 and buy.strategy == "TWAP"
    [short] = kelp_flow(lab_config, 1, minutes=3)
    assert short.qty == 1200 and short.qty % 100 == 0


def test_a_short_kelp_run_measures_fair_prices_completion_and_no_overallocation(lab_config: MetaorderConfig) -> None:
    venues = load_venues_config("configs/lab-venues.toml")
    r = run_once(lab_config, venues, kelp_flow(lab_config, 1, minutes=2), "FLOW", 1, router="BEST")
    assert r.router == "BEST" and r.overallocated == 0 and r.overfilled_parents == ()
    [p] = r.parents
    assert p.fair_start is not None and p.fair_end is not None and p.fair_start > 0
    [o] = r.orders
    assert o.completed_s is None or 0 < o.completed_s <= 2 * 60 + 30
    assert router_figures(r)["leakage_bps"] is not None


def outcome(routers: tuple[str, ...]) -> LabOutcome:
    runs = {name: [run(name, 1, orders=(order(100, 100, 10.0),), executions=(execution(100, False),))]
            for name in routers}
    breakdowns = {"by_instrument": {"ACME": lambda s: s == "ACME"}}
    return LabOutcome("standard flow of 1 orders", (1,), (), (), {"ACME": "liquid"}, {}, {}, 1.0,
                      routing_targets(runs, {}), routers, runs,
                      {n: summarize_router(rs, breakdowns) for n, rs in runs.items()})


def test_json_and_table_carry_by_router_only_when_routers_ran() -> None:
    report = to_json(outcome(("BEST", "SEEK")))
    assert list(report["by_router"]) == ["BEST", "SEEK"] and report["routers"] == ["BEST", "SEEK"]
    best = report["by_router"]["BEST"]
    for key in ("cost_vs_arrival_bps", "fees_bps", "completion", "dark_share", "overfills_detected",
                "overfills_allocated", "time_to_complete_s", "markout_bps", "leakage_bps"):
        assert key in best, key
    assert best["dark_share"] == 1.0 and best["time_to_complete_s"] == 10.0
    assert "dark_share" in report["conventions"]
    table = format_table(outcome(("BEST", "SEEK")))
    assert "by router" in table and "  SEEK" in table and "no_overfill_alloc." in table
    assert "by_router" not in to_json(outcome(()))
