"""A DAY order without ExpireTime (126) is ended at the end of its trading day, as an ExpireTime order
is at its ExpireTime: children pulled first, then ExecutionReport 150=C/39=C with the unfilled
shares in the Text.  A GTC order is not.

In virtual time, on a configuration whose trading day closes two minutes after the simulated start
(``[execution] market_close = 09:02``), so that a run to the end of the day stays quick.
"""

from __future__ import annotations

import datetime as dt

import pytest

from metaorder.clock import VirtualClock
from metaorder.config import load_config, load_venues_config
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import Simulation, build_simulation
from tests.unit.test_simulated_pipeline import ROOT, T0, reports_by_order

CLOSE = T0 + 120  # 09:02 UTC
GRACE = 2.0  # [execution] expiry_grace_s of configs/metaorder.toml


def day_sim(journal: MemoryJournal | None = None, *, at: float = T0, odd_lots: bool = True) -> Simulation:
    """The shipped configuration with the market closing at 09:02 UTC, started (and connected) at ``at``."""
    config = load_config(ROOT / "configs" / "metaorder.toml")
    execution = config.execution.model_copy(update={"market_close": dt.time(9, 2)})
    config = config.model_copy(update={"execution": execution})
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    if not odd_lots:
        venues = venues.model_copy(update={"venue": [v.model_copy(update={"odd_lots": False}) for v in venues.venue]})
    sim = build_simulation(config, venues, VirtualClock(at), journal)
    assert sim.engine.settings.expiry_grace_s == GRACE
    sim.connect()
    sim.run_until(at + 5)
    return sim


def day_order(cl: str, symbol: str, qty: int, now: float, *, limit: str | None = None, tif: str | None = "0",
              extra: tuple[tuple[int, FieldValue], ...] = ()) -> list[tuple[int, FieldValue]]:
    """A buy TWAP order without ExpireTime (126); ``tif`` None: no TimeInForce (59) at all, a DAY order."""
    body: list[tuple[int, FieldValue]] = [(11, cl), (55, symbol), (54, "1"), (60, format_utc_timestamp(now)),
                                          (38, qty), (40, "2" if limit else "1")]
    if limit:
        body.append((44, limit))
    if tif is not None:
        body.append((59, tif))
    return [*body, (847, 1000), *extra]


def kinds_about(journal: MemoryJournal, *kinds: str) -> list[str]:
    return [e.kind for e in journal.replay() if e.kind in kinds]


@pytest.mark.parametrize("tif", ["0", None])
def test_a_day_limit_order_that_cannot_fill_is_ended_at_the_close_after_its_children_are_pulled(
        tif: str | None) -> None:
    journal = MemoryJournal()
    sim = day_sim(journal)
    sim.submit("OMS1", "D", day_order("L", "ACME", 500, sim.clock.now(), limit="130.00", tif=tif))  # far below
    sim.run_until(CLOSE - 5)
    assert [r[150] for r in reports_by_order(sim)["O1"]] == ["0"]
    assert sim.engine.open_children()  # resting at its limit all day
    sim.run_until(CLOSE + 10)
    reports = reports_by_order(sim)["O1"]
    assert [(r[150], r[39]) for r in reports] == [("0", "0"), ("C", "C")]
    assert reports[-1][58] == "end of trading day with 500 of 500 unfilled"
    assert (reports[-1][14], reports[-1][151]) == ("0", "0")
    assert reports[-1][60] >= format_utc_timestamp(CLOSE + GRACE)
    assert not sim.engine.open_children() and not list(sim.intake.book.parents())
    events = kinds_about(journal, "child.cancel_requested", "child.canceled", "order.expired")
    assert events[-1] == "order.expired" and "child.canceled" in events  # children pulled first
    assert events.index("child.canceled") < events.index("order.expired")


def test_a_day_market_order_mostly_filled_ends_at_the_close_with_its_remainder_reported() -> None:
    sim = day_sim()
    # A 5 % participation cap keeps it from finishing in the two minutes left of the day.
    sim.submit("OMS1", "D", day_order("M", "ACME", 20000, sim.clock.now(), extra=((849, "0.05"),)))
    sim.run_until(CLOSE + 10)
    reports = reports_by_order(sim)["O1"]
    filled = sum(int(r[32]) for r in reports if r[150] == "F")
    assert 0 < filled < 20000
    last = reports[-1]
    assert (last[150], last[39], int(last[14]), last[151]) == ("C", "C", filled, "0")
    assert last[58] == f"end of trading day with {20000 - filled} of 20000 unfilled"
    assert not sim.engine.open_children() and not list(sim.intake.book.parents())
    assert not sim.alerts


def test_a_gtc_order_is_not_ended_at_the_close_while_a_day_order_of_its_parent_is() -> None:
    sim = day_sim()
    now = sim.clock.now()
    sim.submit("OMS1", "D", day_order("GTC", "ACME", 500, now, limit="130.00", tif="1"))
    sim.submit("OMS2", "D", day_order("DAY", "ACME", 300, now, limit="130.00", tif="0"))
    [parent] = list(sim.intake.book.parents())  # one parent: same instrument, side, strategy and limit
    assert parent.earliest_end(sim.engine.settings.default_end) == CLOSE  # the DAY order's, not never
    sim.run_until(CLOSE + 30)
    by_order = reports_by_order(sim)
    assert [r[150] for r in by_order["O1"]] == ["0"]  # GTC: still working
    assert [(r[150], r[58]) for r in by_order["O2"][1:]] == [("C", "end of trading day with 300 of 300 unfilled")]
    assert [o.cl_ord_id for o in parent.children] == ["GTC"]
    assert parent.earliest_end(sim.engine.settings.default_end) is None
    assert sim.engine.open_children()  # its limit still rests at a venue
    assert all(c.qty <= 500 for c in sim.engine.open_children())


@pytest.mark.parametrize("restart_at", [T0 + 60, CLOSE + 30], ids=["mid-day", "after-the-close"])
def test_after_a_restart_a_day_order_ends_at_the_same_close(restart_at: float) -> None:
    journal = MemoryJournal()
    sim = day_sim(journal)
    sim.submit("OMS1", "D", day_order("L", "ACME", 500, sim.clock.now(), limit="130.00"))
    sim.run_until(T0 + 50)
    assert [r[150] for r in reports_by_order(sim)["O1"]] == ["0"]
    # The engine dies; it restarts at restart_at from the journal alone (the end is not journaled).
    again = day_sim(journal, at=restart_at)
    again.run_until(max(restart_at, CLOSE) + 10)
    [ended] = [r for r in reports_by_order(again)["O1"] if r[150] == "C"]
    assert (ended[39], ended[58]) == ("C", "end of trading day with 500 of 500 unfilled")
    assert ended[60] >= format_utc_timestamp(CLOSE + GRACE)
    assert not list(again.intake.book.parents())


def test_the_odd_lot_remainder_of_a_day_order_without_expire_time_ends_at_the_close_saying_why() -> None:
    sim = day_sim(odd_lots=False)
    sim.submit("OMS1", "D", day_order("N", "NOVA", 45, sim.clock.now()))  # NOVA trades in lots of 10
    sim.run_until(CLOSE + 10)
    last = reports_by_order(sim)["O1"][-1]
    assert (last[150], last[39], last[14]) == ("C", "C", "40")
    assert last[58] == ("end of trading day with 5 of 45 unfilled: 5 shares odd-lot remainder "
                        "(NOVA trades in lots of 10): no venue accepts odd lots")
    assert not list(sim.intake.book.parents()) and not sim.engine.open_children()


def test_the_stranded_odd_lot_remainder_of_a_gtc_order_ends_with_its_first_trading_day() -> None:
    sim = day_sim(odd_lots=False)
    sim.submit("OMS1", "D", day_order("N", "NOVA", 45, sim.clock.now(), tif="1"))
    sim.run_until(CLOSE + 10)
    last = reports_by_order(sim)["O1"][-1]
    assert (last[150], last[39], last[14]) == ("C", "C", "40")
    assert last[58].startswith("execution window ended with 5 of 45 unfilled: 5 shares odd-lot remainder")
