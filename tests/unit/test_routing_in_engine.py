"""The smart routing logics inside the engine: what happens around them (shrinks, stale children,
cancel rejects), on the simulated venues in virtual time."""

from __future__ import annotations

from metaorder.execution.engine import Actions
from metaorder.execution.placement import LedgerPlacement
from metaorder.fix.codec import format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import Simulation, on_the_wire
from tests.unit.test_engine_venue_reports import report, resting_child, started
from tests.unit.test_simulated_pipeline import order, simulation


def resting_sequential_child(sim: Simulation, qty: int = 3000, limit: str = "142.70") -> tuple[str, LedgerPlacement]:
    now = sim.clock.now()
    sim.submit("OMS1", "D", [*order("A", "ACME", "1", qty, 600, now, limit=limit), (848, "Routing=SEQUENTIAL")])
    for _ in range(200):
        sim.run_until(sim.clock.now() + 0.05)
        rest = [c for c in sim.engine.open_children() if not c.ioc]
        if rest:
            child = rest[0]
            placement = sim.engine._worked[child.parent_id].placement_of[child.child_id]
            assert isinstance(placement, LedgerPlacement)
            return child.child_id, placement
    raise AssertionError("no sequential child came to rest")


def test_a_client_amending_down_while_a_sequential_walk_is_out_does_not_halt_the_parent() -> None:
    """The placement would re-route its pulled child's remainder after the shrink: beyond the new limit."""
    sim = simulation()
    child_id, placement = resting_sequential_child(sim)
    child = sim.engine._children[child_id]
    part = child.qty // 3
    report(sim, child, "F", "1", part, last=part, price=str(child.price), exec_id="PF1")
    sim.engine.on_tick(sim.clock.now())  # the partial fill: the placement pulls the rest to go elsewhere
    assert placement.canceling(child_id)
    parent = sim.intake.parent(child.parent_id)
    assert parent is not None
    new_qty = parent.children[0].cum_qty + (child.qty - part) - 50  # less than the pulled remainder
    sim.clock.jump_to(sim.clock.now() + 0.0001)
    stamp = format_utc_timestamp(sim.clock.now())
    sim.submit("OMS1", "G", [(41, "A"), (11, "A2"), (55, "ACME"), (54, "1"), (60, stamp), (38, new_qty), (40, "2"),
                             (44, "142.70")])
    sim.run_until(sim.clock.now() + 30)
    assert not sim.engine.guard.halted(child.parent_id), sim.alerts
    assert placement.superseded
    assert not sim.alerts


def test_a_stale_child_of_a_live_placement_is_pulled_without_superseding_the_placement() -> None:
    sim = simulation()
    child_id, placement = resting_sequential_child(sim)
    worked = sim.engine._worked[sim.engine._children[child_id].parent_id]
    actions = Actions()
    now = sim.clock.now() + sim.engine.settings.passive_max_age_s + 1
    sim.engine._repost_stale(worked, now, actions)
    assert sim.engine._children[child_id].cancel_requested
    assert not placement.superseded


def test_a_cancel_rejected_because_the_child_just_filled_is_journaled_and_counted() -> None:
    journal = MemoryJournal()
    sim = started(journal)
    child = resting_child(sim)
    sim.engine._cancel(child, sim.clock.now(), Actions(), "test")
    report(sim, child, "F", "2", child.qty, last=child.qty, exec_id="LAST")  # the fill wins the race
    sim.from_venue(child.venue, on_the_wire("9", [(37, "V"), (11, f"{child.child_id}.X1"), (41, child.child_id),
                                                  (39, "2"), (434, "1"), (102, "0"), (58, "too late to cancel")],
                                            child.venue, "METAORDER"))
    assert [r.kind for r in journal.replay()].count("child.cancel_rejected") == 1
    assert sim.engine.scorecard is not None
    assert sim.engine.scorecard.cancel_reject_rate(child.venue) > 0  # type: ignore[attr-defined]


def test_a_placements_cancel_refused_while_the_venue_still_works_the_child_is_asked_again() -> None:
    """A placement asks once; a venue refusing the cancel of a child it still works (not "too late")
    must not leave the child resting until the engine's own age limit."""
    sim = simulation()
    child_id, placement = resting_sequential_child(sim, limit="142.00")  # far below the market: it rests unfilled
    child = sim.engine._children[child_id]
    cancels: list[str] = []
    send = sim.venues.send

    def hold_cancels(venue: str, msg_type: str, body: list[tuple[int, object]], now: float) -> object:
        if msg_type == "F" and dict(body).get(41) == child_id:
            cancels.append(str(dict(body).get(11)))  # the venue never sees it: it answers with a reject below
            return None
        return send(venue, msg_type, body, now)  # type: ignore[arg-type]

    sim.venues.send = hold_cancels  # type: ignore[method-assign,assignment]
    assert placement.wake_at is not None
    sim.run_until(placement.wake_at + 0.01)  # the placement's timeout: it asks for the cancel, once
    assert cancels == [f"{child_id}.X1"] and child.cancel_requested
    sim.from_venue(child.venue, on_the_wire("9", [(37, child.venue_order_id or "V"), (11, f"{child_id}.X1"),
                                                  (41, child_id), (39, "0"), (434, "1"), (102, "99"),
                                                  (58, "busy, try again")], child.venue, "METAORDER"))
    assert not child.cancel_requested and child.state.open
    sim.run_until(sim.clock.now() + sim.engine.settings.max_idle_s + 0.5)
    assert cancels[:2] == [f"{child_id}.X1", f"{child_id}.X2"]  # asked again
