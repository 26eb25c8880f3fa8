"""Every journal write is a typed event, and recovery is a fold of the decoded events.

The intake, the execution engine and the operator's actions record events (``Intake.record``); start-up
decodes the journal once and folds each event into the intake and then into the engine (``apply``).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.clock import VirtualClock
from metaorder.config import load_config, load_venues_config
from metaorder.eventcodec import MalformedEvent, Recorded, UnknownEventKind, decode_entry, encode, encode_dict
from metaorder.events import ChildPlaced, KillSwitchChanged, OrderAccepted, VenueExecution
from metaorder.execution.children import ChildOrder
from metaorder.operations import Operator
from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import EncodedData, MemoryJournal, decode_data, encode_data
from metaorder.orders.risk import RiskEngine, RiskLimits
from metaorder.shells.gateway import VenueGateway
from metaorder.shells.oms import OmsApplication
from metaorder.simulate import Simulation, build_simulation
from tests.unit.test_simulated_pipeline import ROOT, order, simulation

REFS = {"ACME": Decimal("100.00")}


def busy_day(journal: MemoryJournal, cancel: bool = True) -> Simulation:
    """Orders worked part-way at the simulated venues: children placed, acknowledged, filled, re-posted
    (passive ones, every ``passive_max_age_s``), and with ``cancel`` a client cancel."""
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 6000, 120, now))
    sim.submit("OMS2", "D", order("B", "ACME", "2", 1000, 60, now))  # crosses against A
    sim.submit("OMS1", "D", order("C", "GLOBX", "2", 3000, 300, now, limit="60.00"))  # rests passively
    sim.run_until(now + 45)
    if cancel:
        sim.submit("OMS1", "F", [(11, "C-X"), (41, "C"), (55, "GLOBX"), (54, "2")])
        sim.run_until(now + 50)
    return sim


def test_every_row_of_a_simulated_day_is_an_event_as_the_codec_writes_it() -> None:
    journal = MemoryJournal()
    busy_day(journal)
    entries = list(journal.replay())
    kinds = {e.kind for e in entries}
    assert {"order.accepted", "cross", "child.placed", "child.acked", "venue.execution", "fill",
            "order.canceled", "child.cancel_requested"} <= kinds
    for entry in entries:
        event = decode_entry(entry).event
        kind, ids, data = encode(event)
        text = data if isinstance(data, EncodedData) else encode_data(data)
        assert (kind, tuple(dict.fromkeys(ids))) == (entry.kind, entry.order_ids)
        assert decode_data(text) == entry.data == decode_data(encode_data(encode_dict(event)))


def test_recovery_decodes_the_journal_once_and_hands_each_event_on_after_the_intake_folded_it() -> None:
    journal = MemoryJournal()
    busy_day(journal)
    intake = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get))
    seen: list[Recorded] = []

    def engine_side(rec: Recorded) -> None:
        if isinstance(rec.event, OrderAccepted) and rec.event.parent_id is not None:
            assert intake.book.parent(rec.event.parent_id) is not None  # the intake folded it first
        seen.append(rec)

    assert intake.recover(also=engine_side) == len(seen)
    assert seen == [decode_entry(entry) for entry in journal.replay()]


def test_an_entry_recovery_cannot_decode_stops_it_with_an_error_naming_the_entry() -> None:
    journal = MemoryJournal()
    journal.append(1.0, "engine.started", [], {"orders": 0})
    journal.append(2.0, "cross", ["O2", "O1"], {"incoming": "O2", "resting": "O1", "price": "1", "market": "X"})
    with pytest.raises(MalformedEvent, match=r"^journal entry 2 \(cross\) is malformed: missing 'qty'$"):
        Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get)).recover()
    newer = MemoryJournal()
    newer.append(1.0, "child.replaced", ["P1"], {"parent_id": "P1"})
    with pytest.raises(UnknownEventKind, match=r"^journal entry 1: unknown event kind 'child.replaced'"):
        Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), newer, ParentBook(REFS.get)).recover()


def _children(sim: Simulation) -> list[tuple[object, ...]]:
    def state(c: ChildOrder) -> tuple[object, ...]:
        return (c.child_id, c.parent_id, c.venue, c.symbol, c.direction, c.qty, c.price, c.ioc, c.sent_at, c.cum_qty,
                c.notional, c.state, sorted(c.exec_ids), c.venue_order_id, c.cancels_sent)
    return sorted(state(c) for c in sim.engine.open_children())


def test_a_restarted_engine_folds_the_same_open_children_and_executions_from_the_events() -> None:
    journal = MemoryJournal()
    live = busy_day(journal, cancel=False)
    assert live.engine.open_children()
    assert any(e.kind == "child.cancel_requested" for e in journal.replay())
    config = load_config(ROOT / "configs" / "metaorder.toml")
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    restarted = build_simulation(config, venues, VirtualClock(live.clock.now()), journal)
    assert _children(restarted) == _children(live)
    assert restarted.engine.executed_qty == live.engine.executed_qty > 0
    placed = [e for e in (decode_entry(x).event for x in journal.replay()) if isinstance(e, ChildPlaced)]
    executed = [e for e in (decode_entry(x).event for x in journal.replay()) if isinstance(e, VenueExecution)]
    assert placed and sum(e.qty for e in executed) == live.engine.executed_qty


def test_the_operators_kill_switches_are_recorded_as_events_and_a_restart_starts_released() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    oms = OmsApplication(sim.intake, {}, sim.clock)
    operator = Operator(sim.intake, sim.engine, oms, VenueGateway(sim.engine, sim.clock, oms, {}),
                        frozenset({"OMS1", "OMS2"}), sim.clock)
    before = sum(1 for _ in journal.replay())
    operator.kill_all()
    operator.revive_all()
    operator.kill_session("OMS1")
    operator.revive_session("OMS1")
    events = [decode_entry(e).event for e in journal.replay()][before:]
    assert events == [KillSwitchChanged(True, "global kill switch engaged"),
                      KillSwitchChanged(False, "global kill switch released"),
                      KillSwitchChanged(True, "kill switch for OMS1 engaged", "OMS1"),
                      KillSwitchChanged(False, "kill switch for OMS1 released", "OMS1")]
    assert [e.order_ids for e in journal.replay()][before:] == [(), (), ("OMS1",), ("OMS1",)]
    operator.kill_all()
    restarted = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get))
    restarted.recover()
    assert not restarted.risk.global_killed  # as before these events were recorded: a restart starts released
