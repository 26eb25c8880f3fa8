"""The whole pipeline in virtual time: OMS orders → intake → TWAP → router → simulated venues → allocation.

The in-process wiring (metaorder.simulate) runs the daemon's own objects against the simulated venues
of configs/venues.toml with every FIX message encoded and decoded, on a virtual clock.
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from metaorder.clock import VirtualClock
from metaorder.config import load_config, load_venues_config
from metaorder.execution.strategies import StrategyRegistry
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.oms_fix import render
from metaorder.simulate import Simulation, build_simulation

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_767_258_000.0  # 2026-01-01 09:00 UTC


def simulation(journal: MemoryJournal | None = None, seed: int = 7, connect: bool = True,
               strategies: StrategyRegistry | None = None) -> Simulation:
    config = load_config(ROOT / "configs" / "metaorder.toml")
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    venues = venues.model_copy(update={"market": venues.market.model_copy(update={"seed": seed})})
    sim = build_simulation(config, venues, VirtualClock(T0), journal, strategies)
    if connect:
        sim.connect()
        sim.run_until(T0 + 5)  # the liquidity providers quote, the engine's market view fills in
    return sim


def order(cl: str, symbol: str, side: str, qty: int, window_s: float, now: float,
          limit: str | None = None) -> list[tuple[int, FieldValue]]:
    body: list[tuple[int, FieldValue]] = [(11, cl), (55, symbol), (54, side), (60, format_utc_timestamp(now)),
                                          (38, qty), (40, "2" if limit else "1")]
    if limit:
        body.append((44, limit))
    body += [(59, "0"), (847, 1000), (126, format_utc_timestamp(now + window_s))]
    return body


def reports_by_order(sim: Simulation) -> dict[str, list[dict[int, str]]]:
    out: dict[str, list[dict[int, str]]] = defaultdict(list)
    for r in sim.reports:
        if render(r.report)[0] == "8":
            fields = {t: str(v) for t, v in render(r.report)[1]}
            out[fields[37]].append(fields)
    return out


def test_a_single_twap_order_is_sliced_and_completely_filled_within_its_window() -> None:
    sim = simulation()
    now = sim.clock.now()
    [ack] = sim.submit("OMS1", "D", order("A1", "ACME", "1", 3000, 120, now))
    assert render(ack.report)[1][0] == (37, "O1")
    sim.run_until(now + 125)
    reports = reports_by_order(sim)["O1"]
    fills = [r for r in reports if r[150] == "F"]
    assert sum(int(r[32]) for r in fills) == 3000
    assert reports[-1][39] == "2" and reports[-1][14] == "3000"
    notional = sum(int(r[32]) * Decimal(r[31]) for r in fills)
    assert Decimal(reports[-1][6]) == notional / 3000  # AvgPx is exact
    times = sorted(r[60] for r in fills)  # TransactTime: sliced over the window, not sent in one go
    assert len(fills) >= 4
    assert times[0] < format_utc_timestamp(now + 40) and times[-1] > format_utc_timestamp(now + 80)
    assert times[-1] <= format_utc_timestamp(now + 120)
    assert sim.engine.executed_qty == 3000
    assert not sim.alerts


def test_many_orders_both_sides_are_netted_then_worked_and_every_order_completes() -> None:
    sim = simulation()
    rng = random.Random(3)
    now = sim.clock.now()
    gross = 0
    wanted: dict[str, int] = {}
    for n in range(60):
        symbol = rng.choice(["ACME", "GLOBX"])
        side = rng.choice("12")
        qty = 10 * (n + 1)  # distinct: equal orders within 2 s would be refused as likely duplicates
        gross += qty
        [ack, *_] = sim.submit(f"OMS{1 + n % 2}", "D", order(f"C{n}", symbol, side, qty, 90, now))
        wanted[dict(render(ack.report)[1])[37]] = qty  # type: ignore[index]
    sim.run_until(now + 100)
    by_order = reports_by_order(sim)
    for order_id, qty in wanted.items():
        last = by_order[order_id][-1]
        assert (last[39], int(last[14])) == ("2", qty), (order_id, last)
        fills = [r for r in by_order[order_id] if r[150] == "F"]
        assert sum(int(r[32]) for r in fills) == qty
        assert Decimal(last[6]) == sum(int(r[32]) * Decimal(r[31]) for r in fills) / qty
    assert sim.intake.crossed_qty > 0
    assert sim.engine.executed_qty < gross  # netting kept shares away from the market
    assert sim.engine.executed_qty + 2 * sim.intake.crossed_qty == gross
    assert not sim.alerts
    assert not sim.engine.open_children()


def test_the_same_seeds_give_the_same_day() -> None:
    def run() -> list[tuple[str, str, str]]:
        sim = simulation()
        now = sim.clock.now()
        sim.submit("OMS1", "D", order("A", "GLOBX", "2", 2000, 60, now))
        sim.run_until(now + 65)
        bodies = [dict(render(r.report)[1]) for r in sim.reports]
        return [(str(b[37]), str(b.get(32)), str(b.get(31))) for b in bodies]

    assert run() == run()


def test_a_limit_the_market_never_reaches_rests_unfilled_then_expires_at_its_expire_time() -> None:
    sim = simulation()
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("L", "ACME", "1", 500, 30, now, limit="130.00"))  # far below the market
    sim.run_until(now + 25)
    assert [r[150] for r in reports_by_order(sim)["O1"]] == ["0"]
    assert sim.engine.open_children()
    assert all(c.price is not None and c.price <= Decimal("130.00") for c in sim.engine.open_children())
    sim.run_until(now + 40)
    reports = reports_by_order(sim)["O1"]
    assert [(r[150], r[39]) for r in reports] == [("0", "0"), ("C", "C")]
    assert "ExpireTime passed" in reports[-1][58]
    assert not sim.engine.open_children()  # its children were pulled before it expired
    assert not list(sim.intake.book.parents())


@pytest.mark.parametrize("symbol,lot", [("NOVA", 10), ("ZEPH", 100)])
def test_children_are_whole_lots_on_the_tick_grid(symbol: str, lot: int) -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("Z", symbol, "1", 50 * lot, 60, now))
    sim.run_until(now + 65)
    placed = [e.data for e in journal.replay() if e.kind == "child.placed"]
    assert placed and all(int(p["qty"]) % lot == 0 for p in placed)
    rejected = [e.data for e in journal.replay() if e.kind == "child.rejected"]
    assert not rejected, rejected
    assert reports_by_order(sim)["O1"][-1][39] == "2"


def test_odd_lot_orders_complete_their_odd_remainder_going_only_to_venues_that_take_odd_lots() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    for n, qty in enumerate((15, 23, 7, 101)):  # NOVA trades in lots of 10: the parent wants 146
        sim.submit("OMS1", "D", [*order(f"N{n}", "NOVA", "1", qty, 40, now), (1, f"ACC{n}")])
    sim.run_until(now + 45)
    by_order = reports_by_order(sim)
    assert [(by_order[f"O{n + 1}"][-1][39], by_order[f"O{n + 1}"][-1][14]) for n in range(4)] == [
        ("2", "15"), ("2", "23"), ("2", "7"), ("2", "101")]
    placed = [e.data for e in journal.replay() if e.kind == "child.placed"]
    odd = [p for p in placed if int(p["qty"]) % 10]
    assert odd and all(p["venue"] in ("ATLX", "CYGX") for p in odd)
    assert not [e.data for e in journal.replay() if e.kind == "child.rejected"]
    for fill in (r for rs in by_order.values() for r in rs if r[150] == "F"):  # allocated in lots but tails
        assert int(fill[32]) % 10 == 0 or fill[151] == "0" or int(fill[32]) < 10
    assert not sim.alerts


def test_without_a_venue_that_takes_odd_lots_the_odd_remainder_ends_at_the_window_end_saying_why() -> None:
    config = load_config(ROOT / "configs" / "metaorder.toml")
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    venues = venues.model_copy(update={"venue": [v.model_copy(update={"odd_lots": False}) for v in venues.venue]})
    sim = build_simulation(config, venues, VirtualClock(T0), None)
    sim.connect()
    sim.run_until(T0 + 5)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("N", "NOVA", "1", 45, 30, now))
    sim.run_until(now + 40)
    reports = reports_by_order(sim)["O1"]
    assert (reports[-1][150], reports[-1][39], reports[-1][14]) == ("C", "C", "40")
    assert "5 shares odd-lot remainder" in reports[-1][58] and "no venue accepts odd lots" in reports[-1][58]
    assert not list(sim.intake.book.parents()) and not sim.engine.open_children()


def test_orders_with_different_expire_times_in_one_parent_each_finish_within_their_own_window() -> None:
    sim = simulation()
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("LONG", "ACME", "1", 3000, 120, now))
    sim.submit("OMS2", "D", order("SHORT", "ACME", "1", 1000, 30, now))
    assert len(list(sim.intake.book.parents())) == 1  # one parent: same instrument, side, strategy, urgency
    sim.run_until(now + 125)
    for order_id, window in (("O1", 120), ("O2", 30)):
        last = reports_by_order(sim)[order_id][-1]
        assert last[39] == "2", (order_id, last)
        assert last[60] <= format_utc_timestamp(now + window), (order_id, last[60])
