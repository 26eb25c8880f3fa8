"""Recovery round trip, the engine's side: what a restart rebuilds from the journal is what the live engine had.

``test_recovery_roundtrip.py`` holds the intake to this; here the whole in-process pipeline runs random
flows against simulated venues whose latency is well above zero (so children are still waiting on
acks, fills and cancels when the run stops), stops at a random instant, and a second pipeline is
started from the same journal, as ``metaorder run`` does after a crash.  :meth:`ExecutionEngine.apply`
and :meth:`ExecutionEngine.finish_recovery` must give back every child field by field (open and closed:
state, executions and their ExecIDs, notional, the venue's OrderID, cancels sent), what each parent
executed, the engine's executed total, the guard's counts and the halted parents; the intake must
give back its own state too (and the working quantity the engine tells it).

Without this, one-line slips in ``apply`` (a cancel not counted, so a restarted engine re-uses a cancel
ClOrdID the venue has seen; the venue's OrderID or a fill's quantity not restored; a filled child left
open; a halted parent trading again) passed the whole suite.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from metaorder.clock import VirtualClock
from metaorder.config import load_config, load_venues_config
from metaorder.execution.children import ChildOrder
from metaorder.execution.engine import ExecutionEngine
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.intake import Intake
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import Simulation, build_simulation, on_the_wire
from metaorder.venues.venue import VenueStatus
from metaorder.wiring import start_pipeline, venue_infos
from tests.unit.test_recovery_roundtrip import snapshot as intake_snapshot
from tests.unit.test_simulated_pipeline import ROOT, T0

CONFIG = load_config(ROOT / "configs" / "metaorder.toml")
VENUES = load_venues_config(ROOT / "configs" / "venues.toml")
INSTRUMENTS = {i.symbol: i for i in CONFIG.instrument}
SYMBOLS = ["ACME", "GLOBX", "NOVA"]  # NOVA trades in lots of 10 (odd remainders go to ATLX and CYGX only)
VENUE_NAMES = [v.name for v in VENUES.venue]


def venues_config(latency_ms: float) -> Any:
    """configs/venues.toml with every venue answering ``latency_ms`` (spread a little per venue) late."""
    return VENUES.model_copy(update={"venue": [
        v.model_copy(update={"ack_latency_ms": latency_ms * (1 + n / 4), "fill_latency_ms": latency_ms * (1 + n / 3)})
        for n, v in enumerate(VENUES.venue)]})


# ---- the snapshot ----------------------------------------------------------------------------


def child_state(c: ChildOrder) -> tuple[Any, ...]:
    """Every field of a child that recovery rebuilds, Decimals as text (a different exponent shows).

    ``cancel_requested`` is not compared: recovery does not restore it (see
    :func:`test_a_cancel_in_flight_at_the_crash_is_still_pending_after_the_restart`)."""
    return (c.child_id, c.parent_id, c.venue, c.symbol, c.direction, c.qty, None if c.price is None else str(c.price),
            c.ioc, c.sent_at, c.reason, c.cum_qty, str(c.notional), c.state, sorted(c.exec_ids), c.venue_order_id,
            c.cancels_sent)


def engine_snapshot(engine: ExecutionEngine, intake: Intake) -> dict[str, Any]:
    """The engine's state a restart must rebuild (private maps read directly: there is no public reader).

    Parents in scope: those still in the book and those with open children (a done parent's
    ``_Worked`` is forgotten live once its children are closed, but kept, without children, by
    recovery); halted parents: every one that ever had a child.  The guard's limits are checked by
    :func:`check_limits`, not compared.
    """
    worked = engine._worked
    children = {cid: c for cid, c in engine._children.items() if cid == c.child_id}  # not the cancel ClOrdIDs
    open_children = {cid: child_state(c) for w in worked.values() for cid, c in w.children.items()}
    for w in worked.values():
        for cid, c in w.children.items():
            assert children[cid] is c and c.parent_id == w.parent_id and c.state.open, (cid, c)
    in_book = {p.parent_id for p in intake.book.parents()}
    sent_for = {c.parent_id for c in children.values()}
    scope = sorted(in_book | {c.parent_id for w in worked.values() for c in w.children.values()})
    guard = engine.guard
    return {
        "children": {cid: child_state(c) for cid, c in sorted(children.items())},
        "open_children": dict(sorted(open_children.items())),
        "filled": {pid: worked[pid].filled if pid in worked else 0 for pid in scope},
        "working": {pid: worked[pid].working() if pid in worked else 0 for pid in scope},
        "executed_qty": engine.executed_qty,
        "guard": {pid: (guard.counts(pid).filled, guard.counts(pid).working) for pid in scope},  # limits: below
        "halted": sorted(pid for pid in {*scope, *sent_for} if guard.halted(pid)),  # done parents' too
    }


def check_limits(restarted: ExecutionEngine, live: Simulation, filled: dict[str, int]) -> None:
    """A restarted guard's limit is what the parent executed plus what its orders still want.

    Not compared with the live guard's: the live engine sets a parent's limit when it works it, and
    leaves it as it was while the parent waits for its children to be pulled at its orders' end and
    once the parent left the book; the guard learns a parent's limit at the tick that first works it,
    a restarted one only for parents that had children (the others are told at the next tick).
    """
    sent_for = {c.parent_id for c in restarted._children.values()}
    for pid, executed in filled.items():
        parent = live.intake.parent(pid)
        if pid in sent_for:
            assert restarted.guard.counts(pid).limit == executed + (parent.wanted_qty if parent else 0), pid


# ---- random flows ----------------------------------------------------------------------------

new_order = st.tuples(
    st.just("new"), st.sampled_from(["OMS1", "OMS2"]), st.sampled_from(SYMBOLS), st.sampled_from(["1", "2"]),
    st.integers(1, 600),  # lots
    st.sampled_from([None, None, -30, -2, 0, 2, 30]),  # market, or a limit this many ticks from the reference
    st.sampled_from([None, 10, 30, 30, 90]),  # ExpireTime after now (s); None: a DAY order (worked all day)
    st.sampled_from(["1000", "1000", None]),  # TWAP, or the default strategy
)
_OPERATIONS: dict[str, st.SearchStrategy[tuple[Any, ...]]] = {
    "new": new_order,
    "cancel": st.tuples(st.just("cancel"), st.integers(0, 1_000)),
    "replace": st.tuples(st.just("replace"), st.integers(0, 1_000), st.integers(-300, 300)),
    # virtual time: often shorter than the venues' latency, sometimes long enough to re-post passive children
    "run": st.tuples(st.just("run"),
                     st.one_of(st.integers(1, 400), st.integers(400, 5_000), st.integers(5_000, 25_000))),
    "disconnect": st.tuples(st.just("disconnect"), st.sampled_from(VENUE_NAMES)),
    "reconnect": st.tuples(st.just("reconnect"), st.sampled_from(VENUE_NAMES)),
    # a session drops for a while: what the venue executed meanwhile is recovered from its status reports
    "outage": st.tuples(st.just("outage"), st.sampled_from(VENUE_NAMES), st.integers(1_000, 20_000)),
    # a venue halts trading without telling its members (its TradingSessionStatus lost): orders are rejected
    "halt": st.tuples(st.just("halt"), st.sampled_from(["ATLX", "BORX", "CYGX"]), st.integers(2_000, 20_000)),
    "bust": st.tuples(st.just("bust"), st.integers(0, 1_000)),  # a venue busts a trade: the parent is halted
}
_WEIGHTS = {"new": 4, "cancel": 2, "replace": 2, "run": 8, "disconnect": 1, "reconnect": 1, "outage": 2, "halt": 2,
            "bust": 1}
operation = st.sampled_from([k for k, w in _WEIGHTS.items() for _ in range(w)]).flatmap(_OPERATIONS.__getitem__)
flows = st.tuples(
    st.sampled_from([30.0, 250.0, 1_200.0]),  # venue latency (ms)
    st.lists(new_order, min_size=1, max_size=4),  # the first orders, in one go
    st.lists(operation, min_size=10, max_size=40),
)


def start(journal: MemoryJournal, latency_ms: float) -> Simulation:
    sim = build_simulation(CONFIG, venues_config(latency_ms), VirtualClock(T0), journal)
    sim.connect()
    sim.run_until(T0 + 5)  # the liquidity providers quote, the engine's market view fills in
    return sim


def operate(sim: Simulation, n: int, op: tuple[Any, ...]) -> None:
    """One operation of a flow; it ends with the engine having looked at what changed (a crash
    between a client message and the next tick is no different: that tick, live or restarted, sets
    the guard's limit from the orders)."""
    kind = op[0]
    now = sim.clock.now()
    stamp = format_utc_timestamp(now)
    known = sorted((o for o in sim.intake._orders.values() if o.leaves_qty), key=lambda o: o.arrival_seq)
    if kind == "new":
        _, session, symbol, side, lots, ticks, expire_in, strategy = op
        rules = INSTRUMENTS[symbol]
        body: list[tuple[int, FieldValue]] = [(11, f"N{n}"), (55, symbol), (54, side), (60, stamp),
                                              (38, lots * rules.lot_size), (40, "1" if ticks is None else "2")]
        if ticks is not None:
            body.append((44, str(rules.reference_price + ticks * rules.tick_size)))
        if expire_in is not None:
            body.append((126, format_utc_timestamp(now + expire_in)))
        if strategy is not None:
            body.append((847, strategy))
        sim.submit(session, "D", body)
    elif kind == "cancel" and known:
        o = known[op[1] % len(known)]
        sim.submit(o.session, "F", [(41, o.cl_ord_id), (11, f"X{n}"), (55, o.symbol), (54, o.side.value),
                                    (60, stamp)])
    elif kind == "replace" and known:
        _, pick, delta = op
        o = known[pick % len(known)]
        body = [(41, o.cl_ord_id), (11, f"R{n}"), (55, o.symbol), (54, o.side.value), (60, stamp),
                (38, max(o.cum_qty + 1, o.qty + delta)), (40, o.ord_type.value)]
        if o.limit is not None:
            body.append((44, str(o.limit)))
        sim.submit(o.session, "G", body)
    elif kind == "run":
        sim.run_until(now + op[1] / 1000)
    elif kind == "disconnect" and op[1] not in sim.venues.down:
        sim.disconnect(op[1])
    elif kind == "reconnect" and op[1] in sim.venues.down:
        sim.reconnect(op[1])
    elif kind == "outage" and op[1] not in sim.venues.down:
        sim.disconnect(op[1])
        sim.run_until(now + op[2] / 1000)
        sim.reconnect(op[1])
    elif kind == "halt" and op[1] not in sim.venues.down:
        venue = sim.venues.sim.venues[op[1]]
        venue.status = VenueStatus.HALTED
        sim.run_until(now + op[2] / 1000)
        venue.status = VenueStatus.OPEN
    elif kind == "bust":
        acked = sorted((c for c in sim.engine.open_children()
                        if c.venue_order_id is not None and c.venue not in sim.venues.down), key=lambda c: c.child_id)
        if acked:
            c = acked[op[1] % len(acked)]
            sim.from_venue(c.venue, on_the_wire("8", [
                (37, c.venue_order_id or ""), (11, c.child_id), (17, f"BUST{n}"), (150, "H"), (39, "1"),
                (55, c.symbol), (54, c.side), (38, c.qty), (151, c.leaves_qty), (14, c.cum_qty), (6, "0"),
                (60, stamp)], c.venue, "METAORDER"))
    sim.run_until(sim.clock.now())


def crash_copy(journal: MemoryJournal) -> MemoryJournal:
    """The journal as a crash now would leave it (a restart appends to its copy, the live run goes on)."""
    copy = MemoryJournal()
    for entry in journal.replay():
        copy.append(entry.time, entry.kind, entry.order_ids, entry.data)
    return copy


# No shrinking: every example is a simulated run, and shrinking one takes minutes; the failing flow is printed.
@settings(max_examples=60, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(flows)
def test_a_restart_at_any_instant_rebuilds_exactly_the_engine_state_of_the_live_run(flow: tuple[Any, ...]) -> None:
    latency_ms, first, operations = flow
    journal = MemoryJournal()
    live = start(journal, latency_ms)
    infos = venue_infos(CONFIG, venues_config(latency_ms))
    for n, op in enumerate([*first, *operations]):
        operate(live, n, op)  # runs of random length: each crash happens at a random instant
        live.engine.guard._check()
        before = engine_snapshot(live.engine, live.intake)
        restarted = start_pipeline(CONFIG, crash_copy(journal), infos, live.clock.now())
        assert restarted.open_children == len(before["open_children"]), (n, op)
        assert engine_snapshot(restarted.engine, restarted.intake) == before, (n, op)
        check_limits(restarted.engine, live, before["filled"])
        assert intake_snapshot(restarted.intake) == intake_snapshot(live.intake), (n, op)
        restarted.engine.guard._check()


def test_a_cancel_in_flight_at_the_crash_is_still_pending_after_the_restart() -> None:
    """A child whose cancel the venue has not answered yet comes back with its cancel pending.

    Otherwise, once its venue logs on, the restarted engine sends the venue a second cancel for it
    (``_fit_to_wanted`` no longer counts it as pending, ``_close_parent`` and ``_repost_stale`` pull it
    again) before the venue's answer to the first one arrives, and schedules it as a resting child."""
    journal = MemoryJournal()
    live = start(journal, 1_200.0)
    operate(live, 0, ("new", "OMS1", "ACME", "1", 3000, 0, 90, "1000"))
    operate(live, 1, ("run", 3_000))
    operate(live, 2, ("cancel", 0))  # the parent is gone: its children are canceled, answers 1.2 s away
    in_flight = {c.child_id: (c.cancels_sent, c.cancel_requested) for c in live.engine.open_children()}
    if not in_flight or not all(requested for _, requested in in_flight.values()):
        raise RuntimeError(f"expected children with a cancel in flight, not {in_flight}")
    restarted = start_pipeline(CONFIG, crash_copy(journal), venue_infos(CONFIG, venues_config(1_200.0)),
                               live.clock.now())
    assert {c.child_id: (c.cancels_sent, c.cancel_requested) for c in restarted.engine.open_children()} == in_flight
