"""Bad days, in virtual time: venues that disconnect, halt or reject, market data that stops.

Each is routed around or surfaces as a clear order state, and the engine keeps running: the order
still completes exactly, the parent/child control never fires, and nothing is sent where it cannot go.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from metaorder.execution.types import VenueStatus
from metaorder.fix.codec import Message
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import Simulation
from metaorder.venues.venue import Outbound
from metaorder.venues.venue import VenueStatus as SimStatus
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation


def fills_of(sim: Simulation, order_id: str = "O1") -> list[dict[int, str]]:
    return [r for r in reports_by_order(sim)[order_id] if r[150] == "F"]


def test_a_venue_that_disconnects_mid_order_is_routed_around_and_reconciled_after_it_returns() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 6000, 120, now))
    sim.run_until(now + 20)
    sim.disconnect("ATLX")  # the primary drops while children may be resting there
    assert sim.engine.market.status("ATLX") is VenueStatus.DISCONNECTED
    placed_before = sum(1 for e in journal.replay() if e.kind == "child.placed")
    sim.run_until(now + 60)
    later = [e.data for e in journal.replay() if e.kind == "child.placed"][placed_before:]
    assert later and all(p["venue"] != "ATLX" for p in later)  # nothing sent to a venue that is down
    sim.reconnect("ATLX")
    sim.run_until(now + 130)
    last = reports_by_order(sim)["O1"][-1]
    assert (last[39], last[14]) == ("2", "6000")
    assert sum(int(f[32]) for f in fills_of(sim)) == 6000
    assert not sim.alerts
    assert not sim.engine.open_children()


def test_children_left_at_a_venue_that_went_away_are_asked_for_and_missed_fills_recovered() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    sent: list[tuple[str, str, dict[int, object]]] = []
    send = sim.venues.send

    def recording_send(venue: str, msg_type: str, body, now: float) -> None:  # type: ignore[no-untyped-def]
        sent.append((venue, msg_type, dict(body)))
        send(venue, msg_type, body, now)

    sim.venues.send = recording_send  # type: ignore[method-assign]
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 4000, 200, now))
    sim.run_until(now + 2)
    resting = [c for c in sim.engine.open_children() if not c.ioc]
    assert resting, "the TWAP's first slice should rest passively"
    child = resting[0]
    sim.disconnect(child.venue)
    sim.run_until(now + 30)  # the market may trade against the child meanwhile: those reports are lost
    venue_record = sim.venues.sim.venues[child.venue]._by_cl_ord_id[("METAORDER", child.child_id)]
    sim.reconnect(child.venue)
    assert (child.venue, "H", ) in {(v, t) for v, t, b in sent if b.get(11) == child.child_id}
    sim.run_until(now + 31)
    assert child.cum_qty == venue_record.order.cum_qty  # reconciled from the status report
    sim.run_until(now + 210)
    assert reports_by_order(sim)["O1"][-1][39] == "2"
    assert sum(int(f[32]) for f in fills_of(sim)) == 4000
    assert not sim.alerts


def test_a_venue_that_halts_is_not_routed_to_and_the_order_still_completes() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "GLOBX", "2", 5000, 90, now))
    sim.run_until(now + 10)
    sim.venues.set_status("ATLX", SimStatus.HALTED, sim.clock.now())
    sim.run_until(now + 12)
    assert sim.engine.market.status("ATLX") is VenueStatus.HALTED
    placed_before = sum(1 for e in journal.replay() if e.kind == "child.placed")
    sim.run_until(now + 95)
    later = [e.data for e in journal.replay() if e.kind == "child.placed"][placed_before:]
    assert later and all(p["venue"] != "ATLX" for p in later)
    assert reports_by_order(sim)["O1"][-1][39] == "2"
    assert not sim.alerts


def test_a_venue_reject_is_journaled_the_venue_avoided_and_the_remainder_re_routed() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    for name in ("ATLX", "BORX"):  # two lit venues refuse orders above 10 shares; the router does not know
        venue = sim.venues.sim.venues[name]
        venue.rules = dataclasses.replace(venue.rules, max_order_qty=10)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 2000, 90, now))
    sim.run_until(now + 100)
    rejected = [e.data for e in journal.replay() if e.kind == "child.rejected"]
    assert rejected and {r["venue"] for r in rejected} <= {"ATLX", "BORX"}
    assert all("exceeds the maximum" in r["text"] for r in rejected)
    assert reports_by_order(sim)["O1"][-1][39] == "2"  # CYGX and the dark pools did the rest
    assert not sim.alerts


def test_a_quiet_venue_is_asked_for_a_fresh_snapshot_and_still_routed_to() -> None:
    """Issue 15, "quiet is not stale": a venue whose feed sends nothing for longer than stale_market_s
    (an illiquid book, a venue that publishes on change only, or a feed that died) is asked for a
    snapshot (263=0) when an order needs routing; a venue that answers is routed to on that book."""
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    stale = sim.engine.settings.stale_market_s
    app = sim.venues.sim.apps["ATLX"]
    asked: list[str] = []
    answer = app.market_data.on_request

    def on_request(owner: str, msg: Message, at: float) -> list[Outbound]:
        asked.append(msg.get(263) or "")
        return answer(owner, msg, at)

    app.market_data.on_request = on_request  # type: ignore[method-assign]
    original = app.publish
    app.publish = lambda now: []  # type: ignore[method-assign]  # nothing published: quiet
    sim.run_until(now + stale + 5)
    assert sim.engine.market.stale("ATLX", sim.clock.now(), stale)  # quiet for longer than stale_market_s
    t = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 3000, 60, t))
    sim.run_until(t + 70)
    assert "0" in asked  # a snapshot request, not a new subscription
    placed = [e.data for e in journal.replay() if e.kind == "child.placed"]
    assert any(p["venue"] == "ATLX" for p in placed)  # routed to on the fresh book
    assert reports_by_order(sim)["O1"][-1][39] == "2"
    app.publish = original  # type: ignore[method-assign]
    assert not sim.alerts


def test_a_venue_that_does_not_answer_a_snapshot_request_is_routed_around() -> None:
    """The feed stopped and the venue does not answer a MarketDataRequest either: after
    md_answer_timeout_s its book is not trusted, and the order completes on the other venues."""
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    stale = sim.engine.settings.stale_market_s
    app = sim.venues.sim.apps["ATLX"]
    original = app.publish
    app.publish = lambda now: []  # type: ignore[method-assign]  # the feed dies
    app.market_data.on_request = lambda owner, msg, at: []  # type: ignore[method-assign]  # and nobody answers
    sim.run_until(now + stale + 1)
    t = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 3000, 60, t))
    sim.run_until(t + 70)
    placed = [(e.time, e.data) for e in journal.replay() if e.kind == "child.placed"]
    timeout = sim.engine.settings.md_answer_timeout_s
    assert placed and all(p["venue"] != "ATLX" for when, p in placed if when > t + timeout)
    assert reports_by_order(sim)["O1"][-1][39] == "2"
    app.publish = original  # type: ignore[method-assign]
    assert Decimal(reports_by_order(sim)["O1"][-1][6]) > 0
