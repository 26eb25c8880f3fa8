"""How the engine reads venue ExecutionReports and survives restarts: each case a way to get it wrong.

Reports are injected as a venue would send them (through the codec), on top of a real simulated run.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.execution.children import ChildOrder
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import Simulation, on_the_wire
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation


def report(sim: Simulation, child: ChildOrder, exec_type: str, status: str, cum: int, *,
           last: int = 0, price: str = "142.50", exec_id: str = "X", extra: list[tuple[int, FieldValue]] = ()
           ) -> None:  # type: ignore[assignment]
    body: list[tuple[int, FieldValue]] = [
        (37, child.venue_order_id or "V1"), (11, child.child_id), (17, exec_id), (150, exec_type), (39, status),
        (55, child.symbol), (54, child.side), (38, child.qty)]
    if last:
        body += [(32, last), (31, price)]
    body += [(151, max(child.qty - cum, 0) if status in ("0", "1") else 0), (14, cum), (6, price),
             (60, format_utc_timestamp(sim.clock.now())), *extra]
    sim.from_venue(child.venue, on_the_wire("8", body, child.venue, "METAORDER"))


def resting_child(sim: Simulation) -> ChildOrder:
    children = [c for c in sim.engine.open_children() if not c.ioc]
    assert children, "expected a passive child resting at a venue"
    return children[0]


def started(journal: MemoryJournal | None = None, qty: int = 20000) -> Simulation:
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", qty, 120, now))
    sim.run_until(now + 2)
    return sim


def cum_reported(sim: Simulation, order_id: str = "O1") -> int:
    return int(reports_by_order(sim)[order_id][-1][14])


def test_a_fill_recovered_from_a_status_report_is_not_counted_again_when_its_own_report_arrives() -> None:
    sim = started()
    child = resting_child(sim)
    before = cum_reported(sim)
    report(sim, child, "I", "1", 300, price="142.40")  # the venue says 300 executed that we never heard of
    assert child.cum_qty == 300 and cum_reported(sim) == before + 300
    report(sim, child, "F", "1", 300, last=300, price="142.40", exec_id="REAL-1")  # ... and now its own report
    assert child.cum_qty == 300 and cum_reported(sim) == before + 300
    assert not sim.alerts


def test_a_fill_for_a_child_already_closed_is_an_alert_not_a_crash() -> None:
    sim = started()
    child = resting_child(sim)
    report(sim, child, "4", "4", 0)  # canceled
    assert not child.state.open
    sim.run_until(sim.clock.now() + 1)  # the strategy has sent the remainder again by then
    report(sim, child, "F", "2", child.qty, last=child.qty, exec_id="LATE")
    assert sim.alerts and sim.engine.guard.halted(child.parent_id)
    assert cum_reported(sim) <= 20000


def test_a_last_partial_fill_reported_with_its_remainder_canceled_closes_the_child() -> None:
    sim = started()
    child = resting_child(sim)
    report(sim, child, "F", "4", 100, last=100, exec_id="P1")  # 39=4, 151=0: the rest is canceled
    assert not child.state.open and child.cum_qty == 100
    assert sim.engine.guard.working(child.parent_id) == sum(c.leaves_qty for c in sim.engine.open_children())


def test_done_for_day_closes_the_child() -> None:
    sim = started()
    child = resting_child(sim)
    report(sim, child, "3", "3", 0)
    assert not child.state.open


def test_a_trade_bust_halts_the_parent_for_an_operator() -> None:
    sim = started()
    child = resting_child(sim)
    report(sim, child, "H", "0", 0, exec_id="BUST")
    assert sim.engine.guard.halted(child.parent_id)
    assert any("trade cancel" in a for a in sim.alerts)


def test_a_cancel_reject_for_an_unknown_order_asks_for_its_status_instead_of_cancelling_again() -> None:
    sim = started()
    child = resting_child(sim)
    sent: list[tuple[str, str]] = []
    send = sim.venues.send
    sim.venues.send = lambda venue, msg_type, body, now: (sent.append((msg_type, str(dict(body).get(11)))),  # type: ignore[method-assign]
                                                          send(venue, msg_type, body, now))[-1]
    child.cancel_requested = True
    reject = on_the_wire("9", [(37, "NONE"), (11, f"{child.child_id}.X9"), (41, child.child_id), (39, "8"),
                               (434, "1"), (102, "1"), (58, "unknown order")], child.venue, "METAORDER")
    sim.from_venue(child.venue, reject)
    assert ("H", child.child_id) in sent
    assert child.cancel_requested  # no new cancel until the status answer says it is still working


def test_a_halted_parent_does_not_keep_the_decision_loop_busy() -> None:
    sim = started()
    child = resting_child(sim)
    sim.engine.guard.halt(child.parent_id, "test")
    now = sim.clock.now()
    sim.engine.touch()
    sim.engine.on_tick(now)
    wake = sim.engine.next_wakeup()
    assert wake is not None and wake >= now + sim.engine.settings.max_idle_s - 1e-9


def test_after_a_restart_a_parent_with_more_out_than_it_wants_is_trimmed_not_halted() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    best = (848, "Routing=BEST")  # one resting child on one lit venue (what this test is about)
    sim.submit("OMS1", "D", [*order("SMALL", "ACME", "1", 1000, 120, now), best])
    sim.submit("OMS2", "D", [*order("BIG", "ACME", "1", 19000, 120, now), best])
    sim.run_until(now + 2)
    [child] = [c for c in sim.engine.open_children() if not c.ioc]
    sim.submit("OMS2", "F", [(41, "BIG"), (11, "BIG-X"), (55, "ACME"), (54, "1"),
                             (60, format_utc_timestamp(sim.clock.now())), (38, 19000)])
    # ... and the engine dies before the cancel of the excess reaches the venue.
    again = simulation(journal, connect=False)
    assert not again.engine.guard.halted(child.parent_id)
    counts = again.engine.guard.counts(child.parent_id)
    assert (counts.working, counts.limit) == (child.qty, 1000)
    again.connect()  # the venues of the simulation are new: they know nothing of the old child
    again.run_until(again.clock.now() + 125)
    assert reports_by_order(again)["O1"][-1][39] == "2"  # the parent worked on, and SMALL completed
    assert not again.alerts


def test_cancel_clordids_are_not_reused_after_a_restart() -> None:
    journal = MemoryJournal()
    sim = started(journal)
    child = resting_child(sim)
    first_id = child.next_cancel_id()
    journal.append(sim.clock.now(), "child.cancel_requested", [child.parent_id, child.child_id],
                   {"parent_id": child.parent_id, "child_id": child.child_id, "venue": child.venue, "reason": "t"})
    again = simulation(journal, connect=False)
    [recovered] = [c for c in again.engine.open_children() if c.child_id == child.child_id]
    second_id = recovered.next_cancel_id()
    assert second_id != first_id


def test_an_order_partly_filled_at_the_venue_keeps_exact_average_price_after_reconciliation() -> None:
    sim = started()
    child = resting_child(sim)
    report(sim, child, "F", "1", 100, last=100, price="142.40", exec_id="F1")
    report(sim, child, "I", "1", 300, price="142.45")  # avg of 300 is 142.45: the missing 200 were at 142.475
    assert child.cum_qty == 300 and child.notional == Decimal("142.45") * 300


def test_an_unreadable_fill_is_not_counted_nor_closes_the_child_and_its_status_is_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sim = started()
    child = resting_child(sim)
    before = cum_reported(sim)
    body: list[tuple[int, FieldValue]] = [
        (37, child.venue_order_id or "V1"), (11, child.child_id), (17, "GARBLED-1"), (150, "F"), (39, "2"),
        (55, child.symbol), (54, child.side), (38, child.qty), (32, "1e2"), (31, "142.50"), (151, 0),
        (14, child.qty), (6, "142.50"), (60, format_utc_timestamp(sim.clock.now()))]
    sent: list[tuple[str, str]] = []
    send = sim.venues.send

    def recording_send(venue: str, msg_type: str, fields: list[tuple[int, FieldValue]], now: float) -> None:
        sent.append((venue, msg_type))
        send(venue, msg_type, fields, now)

    monkeypatch.setattr(sim.venues, "send", recording_send)
    sim.from_venue(child.venue, on_the_wire("8", body, child.venue, "METAORDER"))
    assert [a for a in sim.alerts if "unreadable fill" in a and child.child_id in a and "LastQty" in a]
    assert child.state.open and child.cum_qty == 0 and cum_reported(sim) == before
    assert sent == [(child.venue, "H")]


def test_a_status_report_showing_missed_executions_without_avg_px_is_an_alert_not_a_guess() -> None:
    sim = started()
    child = resting_child(sim)
    before = cum_reported(sim)
    body: list[tuple[int, FieldValue]] = [
        (37, child.venue_order_id or "V1"), (11, child.child_id), (17, "S1"), (150, "I"), (39, "1"),
        (55, child.symbol), (54, child.side), (38, child.qty), (151, child.qty - 100), (14, 100),
        (60, format_utc_timestamp(sim.clock.now()))]
    sim.from_venue(child.venue, on_the_wire("8", body, child.venue, "METAORDER"))
    assert [a for a in sim.alerts if child.child_id in a and "AvgPx" in a]
    assert child.cum_qty == 0 and cum_reported(sim) == before


def test_a_fill_after_the_parent_left_the_book_is_an_overfill_that_halts_the_parent() -> None:
    """The client canceled its only order and the parent left the book with a child still resting: a
    fill that raced the cancel has no order to go to.  The guard's limit is not refreshed for a parent
    that is gone, so its counts alone would not halt it; the over-fill record says "parent halted"
    and the parent must be."""
    sim = started()
    child = resting_child(sim)
    sim.submit("OMS1", "F", [(11, "A-cancel"), (41, "A"), (55, "ACME"), (54, "1"),
                             (60, format_utc_timestamp(sim.clock.now()))])
    assert sim.intake.parent(child.parent_id) is None
    report(sim, child, "F", "1", 100, last=100, exec_id="RACED")
    assert sim.engine.guard.halted(child.parent_id)
    kinds = [e.kind for e in sim.intake.journal.replay()]
    assert "parent.overfill" in kinds and kinds.count("parent.halted") == 1
