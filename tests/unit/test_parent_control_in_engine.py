"""The parent/child control inside the engine: a venue that over-fills halts the parent, loudly."""

from __future__ import annotations

from metaorder.fix.codec import format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import on_the_wire
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation


def test_an_over_fill_from_a_venue_halts_the_parent_cancels_its_children_and_never_over_fills_a_client() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 20000, 120, now))
    sim.run_until(now + 3)
    [child, *_] = sim.engine.open_children()
    # A broken venue reports an execution of twice the child's size (less than the parent wants).
    assert 2 * child.qty < 20000
    bogus = on_the_wire("8", [(37, "X1"), (11, child.child_id), (17, "BOGUS-1"), (150, "F"), (39, "2"),
                              (55, "ACME"), (54, "1"), (38, child.qty), (32, 2 * child.qty), (31, "142.50"),
                              (151, 0), (14, 2 * child.qty), (6, "142.50"),
                              (60, format_utc_timestamp(sim.clock.now()))],
                        child.venue, "METAORDER")
    sim.from_venue(child.venue, bogus)
    assert sim.alerts and any("over" in a for a in sim.alerts)
    assert sim.engine.guard.halted("P1")
    kinds = [e.kind for e in journal.replay()]
    assert "parent.halted" in kinds  # (parent.overfill only when shares could not be allocated at all)
    last = reports_by_order(sim)["O1"][-1]
    assert int(last[14]) <= 20000  # the client order is never filled beyond its quantity
    assert all(c.cancel_requested for c in sim.engine.open_children())  # its children are being pulled
    placed = sum(1 for k in kinds if k == "child.placed")
    sim.run_until(now + 60)
    assert sum(1 for e in journal.replay() if e.kind == "child.placed") == placed  # nothing new leaves
    assert reports_by_order(sim)["O1"][-1][39] == "1"  # the order stays partly filled, visibly, until an operator acts
