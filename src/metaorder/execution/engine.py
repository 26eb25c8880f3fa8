"""The execution engine: parents in, child orders out, venue executions back to the client orders.

Sans-IO, like everything under it: every entry point takes ``now`` and returns :class:`Actions`
(FIX messages for venues, execution reports for OMS sessions, alerts); the live daemon and the
in-process simulation both call the same methods, only their shells differ.

What :meth:`ExecutionEngine.on_tick` does for every parent that is due (its orders changed, a venue
report concerns it, or its own time came: a strategy wake-up, a passive child to re-post, an
ExpireTime); the others cost nothing:

1. **Control.**  The :class:`~metaorder.execution.control.ParentGuard` learns the parent's limit
   (what it has executed plus what its orders still want).  If the parent shrank below what is out at
   venues (a client cancel or replace), the newest children are canceled until it fits.
2. **Decide.**  When the parent's strategy is due (its ``wake_at``, after a fill, or when orders
   joined), it gets the parent's :class:`ParentState`, the market view and ``now`` and answers with
   intents — or with nothing.
3. **Route.**  Each intent goes to the router, which starts a *placement* for it
   (``placement.py``): routing with memory.  The engine keeps the parent's placements until they
   are done, tells each one what its children did (a fill, an IOC's remainder canceled, a reject)
   and, if it asks, every market change, and sends whatever it asks for next — so the engine does
   not change when a routing logic is added.  Every order a placement asks for passes the guard
   (filled + working + new ≤ limit, independently of strategy, router and placement code) before a
   child is created and journaled — *before* its NewOrderSingle leaves, so a crash can never leave
   an order at a venue that the engine does not know about.  A cancel the engine asks for (the
   strategy re-decides, the parent shrank, ended or was halted, the kill switch) supersedes the
   child's placement: the remainder is the strategy's again.

The engine talks to the order side only through :class:`~metaorder.execution.ports.IntakePort`
(read parents, say what is working at venues, hand over fills, expire orders, record events).
Venue ExecutionReports update the child, and fills go through
:meth:`~metaorder.execution.ports.IntakePort.on_parent_fill` (pro-rata allocation and one report per
client order).  A fill that exceeds what the parent's orders still want — a venue over-fill, or a cancel
that raced a fill — is never allocated beyond any order's leaves: the excess is recorded as a
``ParentOverfilled`` event, the guard halts the parent and an alert is raised.

Resting passive children are re-posted when they are older than ``passive_max_age_s`` (a quote
that the market walked away from should not hold the schedule hostage).  A venue that rejects a
child is excluded for that parent for ``reject_cooldown_s``; one that disconnects, halts or closes
drops out of the market view and so out of routing, and after its next logon every open child
there is reconciled with an OrderStatusRequest before the engine trusts its state again.

What the engine journals are typed events (:mod:`metaorder.events`: ``ChildPlaced``,
``VenueExecution``, ``ParentHalted``, ...), recorded through the intake's one narrow method,
:meth:`~metaorder.orders.intake.Intake.record`; the engine never touches the journal itself.  At
start-up the same events come back: the intake's recovery decodes the journal once and hands each
one, after folding it itself, to :meth:`ExecutionEngine.apply`.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Final, Protocol, assert_never

import structlog

from metaorder.eventcodec import Recorded
from metaorder.events import (
    ChildAcknowledged,
    ChildCanceled,
    ChildCancelRejected,
    ChildCancelRequested,
    ChildPlaced,
    ChildRejected,
    Crossed,
    EngineStarted,
    Event,
    KillSwitchChanged,
    MarketSample,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    ParentFilled,
    ParentHalted,
    ParentOverfilled,
    PreTradeEstimate,
    StrategyChosen,
    VenueExecution,
    VenueMarkout,
)
from metaorder.execution.children import ChildOrder, ChildState, Fields, FinishedChildren
from metaorder.execution.control import ParentGuard
from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.placement import ChildOutcome, ChildResult, Placement, limit_out_of_reach
from metaorder.execution.ports import IntakePort
from metaorder.execution.router import Router
from metaorder.execution.scorecard import PLACEMENT_CANCEL_REASON
from metaorder.execution.strategies import StrategyRegistry
from metaorder.execution.strategy import Decision, Estimating, Strategy
from metaorder.execution.tradingday import end_of_day
from metaorder.execution.types import ParentState, Routing, VenueInfo, VenueKind, VenueOrder, VenueStatus
from metaorder.execution.venue_fix import (
    CancelRejectReason,
    ExecKind,
    OrderState,
    UnreadableReport,
    VenueCancelReject,
    VenueExecutionReport,
    cancel_request,
    execution_copy,
    market_data_request,
    new_order_single,
    read_venue_message,
    status_request,
)
from metaorder.fix.codec import Message
from metaorder.fix.tags import MsgType
from metaorder.orders.allocation import AllocationError
from metaorder.orders.book import BookError
from metaorder.orders.messages import Outgoing
from metaorder.orders.model import ClientOrder, ParentOrder, Side, end_of
from metaorder.orders.strategy_params import parse_params

log = structlog.get_logger("metaorder.execution")


class Learner(Protocol):
    """What learns from the engine's child orders (the venue scorecard, ``scorecard.py``): it folds
    the events the engine journals, live and at recovery alike, and asks for the mid at the horizons
    of its markouts (which the engine journals, so that they are rebuilt too)."""

    def apply(self, event: Event, now: float) -> None: ...

    def take_markouts(self, now: float, mid: Callable[[str], Decimal | None]) -> list[VenueMarkout]: ...

    def next_markout_at(self) -> float | None: ...

    def fold_state(self) -> object:
        """What its fold learned, for a recovery snapshot (:mod:`metaorder.snapshot`): picklable."""
        ...

    def restore_fold_state(self, state: Any) -> None: ...


def best_everywhere(urgency: str, aggressiveness: str) -> Routing:
    """The routing map of an engine built without one: the best-price router for every order."""
    return Routing.BEST


_DAY_S = 86400
MAX_CANCELS = 5  # cancel requests per child before the engine stops asking (the venue keeps refusing)
# Parents attended per tick at most; the rest wait for the next tick, which the daemon paces (it
# gives the event loop back for as long as the tick took, shells/gateway.py) and a simulation runs at
# once.  A parent costs 70-300 us (its first decision makes its strategy): 10,000 due at once (the
# first tick after a restart) held the loop, and every order's ack, for 1.8-4.1 s; 16 a tick hold it
# for a few milliseconds at most.
MAX_ATTENDED_PER_TICK = 16
MIN_RESCHEDULE_S = 1e-3  # a parent is never queued for less than this ahead (no busy loop on one instant)

@dataclass(frozen=True, slots=True)
class InstrumentRules:
    symbol: str
    tick_size: Decimal = Decimal("0.01")
    lot_size: int = 1


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    # An order without ExpireTime (126) is worked until the end of its trading day (execution/tradingday.py):
    trading_day_start_s: int = 0  # [intake] trading_day_start, seconds after UTC midnight
    market_close_s: int | None = None  # [execution] market_close, seconds after UTC midnight (None: none)
    passive_max_age_s: float = 20.0  # a resting passive child older than this is pulled and re-decided
    reject_cooldown_s: float = 5.0  # a venue that rejected a child is not used for that parent meanwhile
    max_idle_s: float = 1.0  # a parent whose strategy named no wake-up (or halted, suspended) is looked at so often
    # A fill or a closed child asks its parent's strategy to decide again, but not sooner than this
    # after its last decision (no storm of decisions, each with its children, at venue round-trip pace).
    min_decision_interval_s: float = 0.2
    # A lit venue whose book has not changed for this long is asked for a fresh snapshot (a quiet book
    # is still a book); one that does not answer within md_answer_timeout_s is not routed to.
    stale_market_s: float = 30.0
    md_answer_timeout_s: float = 5.0
    expiry_grace_s: float = 2.0  # an order is expired this long after its ExpireTime if still unfilled
    seed: int = 1  # strategies' random timing: the same seed gives the same schedule
    # The market of each instrument is journaled (events.MarketSample) at most this often, when it
    # changed: TCA's tape (arrival mid, interval VWAP, price path).  0: never.
    market_sample_s: float = 1.0

    def default_end(self, arrival: float) -> float:
        """The end of the window of an order without ExpireTime that arrived at ``arrival``."""
        return end_of_day(arrival, self.trading_day_start_s, self.market_close_s)


@dataclass(slots=True)
class Actions:
    """What one call of the engine wants done."""

    venue: list[tuple[str, str, Fields]] = field(default_factory=list)  # (venue, MsgType, body)
    client: list[Outgoing] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    street: list[tuple[str, Fields]] = field(default_factory=list)  # each counted venue execution, for the drop copy


#: :meth:`ExecutionEngine.fold_state`: parents' worked state, open children by ClOrdID, the day's closed
#: children packed, shares executed, parents halted, pre-trade arrival prices, the trading day of the
#: last entry, the scorecard's fold.
EngineFold = tuple[dict[str, "_Worked"], dict[str, ChildOrder], FinishedChildren, int, set[str],
                   dict[str, Decimal | None], int | None, object]


@dataclass(slots=True, eq=False)
class _Worked:
    """The engine's side of one parent: strategy, children and what they executed."""

    parent_id: str
    strategy: Strategy | None = None
    estimate_due: bool = False  # its strategy plans with a cost model whose estimate is not journaled yet
    filled: int = 0  # executed at venues
    printed: int = 0  # of which on lit venues: prints on the public tape (ParentState.printed_qty)
    children: dict[str, ChildOrder] = field(default_factory=dict)  # open children by ClOrdID
    wake_at: float = 0.0  # when its strategy wants to decide again (0: at the next tick)
    decided_at: float = -math.inf  # when its strategy last decided
    scheduled: float = -1.0  # the time it is queued under in the engine's wake-up heap
    excluded: dict[str, float] = field(default_factory=dict)  # venue -> until
    placements: list[Placement] = field(default_factory=list)  # its intents' placements not yet done, oldest first
    placement_of: dict[str, Placement] = field(default_factory=dict)  # open child's ClOrdID -> its placement

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) as one call of its constructor, as :class:`ChildOrder` is: a
        heavy day's 14,000 parents load twice as fast as through the slotted dataclass's default."""
        return _Worked, (self.parent_id, self.strategy, self.estimate_due, self.filled, self.printed, self.children,
                         self.wake_at, self.decided_at, self.scheduled, self.excluded, self.placements,
                         self.placement_of)

    def working(self) -> int:
        return sum(c.leaves_qty for c in self.children.values())

    def held(self) -> int:
        """Shares its placements hold back to place later themselves (not the strategy's to send)."""
        return sum(p.held for p in self.placements)


class ExecutionEngine:
    def __init__(
        self,
        intake: IntakePort,
        market: ConsolidatedMarket,
        venues: Mapping[str, VenueInfo],
        router: Router,
        guard: ParentGuard,
        instruments: Mapping[str, InstrumentRules],
        settings: ExecutionSettings = ExecutionSettings(),
        strategies: StrategyRegistry | None = None,  # the strategies and their tunables (default: defaults)
        scorecard: Learner | None = None,  # learns from every child (the router reads it, not the engine)
        # Urgency x Aggressiveness -> routing logic, for orders whose 848 names none ([routing.map])
        routing_map: Callable[[str, str], Routing] = best_everywhere,
    ) -> None:
        self.intake = intake
        self.market = market
        self.venues = dict(venues)
        self.router = router
        self.guard = guard
        self.instruments = instruments
        self.settings = settings
        self._strategies = strategies if strategies is not None else StrategyRegistry()
        self.scorecard = scorecard
        self.routing_map = routing_map
        self._worked: dict[str, _Worked] = {}
        self._children: dict[str, ChildOrder] = {}  # every child of the run by any ClOrdID it carried
        # The day's children closed before the recovery snapshot this run started from, packed (not
        # in _children until a venue reports on one again: see _child).
        self._closed = FinishedChildren()
        self._ids = itertools.count(1)
        self._boot = 0
        self._md_ids = itertools.count(1)
        self.connected: set[str] = set()
        self.executed_qty = 0  # shares executed at venues since start (all parents)
        self.venue_fills = 0
        self._alerts_seen = 0  # guard alerts already acted on
        self.suspended = False  # the kill switch: no new children while engaged
        self._reported_stale: frozenset[str] = frozenset()
        self._md_asked: dict[str, float] = {}  # quiet lit venue -> when it was last asked for a snapshot
        self._heap: list[tuple[float, str]] = []  # (when, parent id): parents by the time they are due
        self._dirty: set[str] = set()  # parents to attend to at the next tick, whatever their time
        self._backlog: set[str] = set()  # parents due at the last tick beyond MAX_ATTENDED_PER_TICK
        self._halted_in_journal: set[str] = set()  # recovery: parents halted before the restart
        self._replay_day: int | None = None  # recovery: the trading day of the last entry folded (see apply)
        # Parents whose pre-trade estimate is journaled -> its arrival price (the IS benchmark, kept
        # across a restart: a restarted strategy must not measure against a new mid).
        self._estimated: dict[str, Decimal | None] = {}
        # Placements that asked to hear of market changes: id -> (parent id, placement), oldest first.
        self._watching: dict[int, tuple[str, Placement]] = {}
        self._next_sample = 0.0  # when the market may next be sampled for the journal
        self._sampled: dict[str, tuple[Decimal | None, Decimal | None, int]] = {}  # symbol -> last sample
        self._sampled_at: dict[str, int] = {}  # symbol -> the market's version when last looked at
        self.samples_taken = 0  # market samples journaled: the shell flushes the journal when it grows

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self, boot: int) -> None:
        """``boot``: this run's journal sequence of ``engine.started``, the prefix of unique ClOrdIDs."""
        self._boot = boot

    def apply(self, rec: Recorded) -> None:
        """Recovery, one recorded event at a time (the intake's recovery hands each one on after
        folding it, so the journal is read and decoded once at start-up): children, their
        executions and halts.  Events about client orders are the intake's, and change nothing here."""
        day = int((rec.time - self.settings.trading_day_start_s) // _DAY_S)
        if self._replay_day is None or day > self._replay_day:
            if self._replay_day is not None:
                self._forget_finished()
            self._replay_day = day
        event = rec.event
        match event:
            case ChildPlaced():
                child = ChildOrder(event.child_id, event.parent_id, event.venue, event.symbol,
                                   1 if event.side is Side.BUY else -1, event.qty, event.price, event.ioc, rec.time,
                                   event.reason, peg=event.peg, min_qty=event.min_qty)
                self._children[child.child_id] = child
                self._worked_for(child.parent_id).children[child.child_id] = child
            case ChildAcknowledged():
                child = self._recorded_child(event.child_id)
                child.venue_order_id = event.venue_order_id
                child.state = ChildState.NEW
            case VenueExecution():
                child = self._recorded_child(event.child_id)
                qty = event.qty
                child.exec_ids.add(event.exec_id)
                child.cum_qty += qty
                child.notional += qty * event.price
                worked = self._worked_for(child.parent_id)
                worked.filled += qty
                if self._lit(event.venue):
                    worked.printed += qty
                self.executed_qty += qty
                if child.cum_qty >= child.qty:
                    child.state = ChildState.FILLED
            case ChildCanceled():
                self._recorded_child(event.child_id).state = ChildState.CANCELED
            case ChildRejected():
                self._recorded_child(event.child_id).state = ChildState.REJECTED
            case ChildCancelRequested():
                child = self._recorded_child(event.child_id)
                child.cancels_sent += 1  # cancel ClOrdIDs never repeat
                child.cancel_wanted = True
                # Still in flight at the crash: its answer (or the status asked for after the next
                # logon) settles it; cancelling it again meanwhile would only be refused.
                child.cancel_requested = True
            case ParentHalted():
                self._halted_in_journal.add(event.parent_id)
            case PreTradeEstimate():
                # A restarted strategy re-plans, but the estimate and its benchmark stand.
                self._estimated[event.parent_id] = event.arrival_price
            case (OrderAccepted() | OrderRejected() | OrderReplaced() | OrderCanceled() | OrderExpired() | Crossed()
                  | ParentFilled() | EngineStarted() | KillSwitchChanged() | StrategyChosen() | ParentOverfilled()
                  | ChildCancelRejected() | VenueMarkout() | MarketSample()):
                pass  # the intake's, or nothing to rebuild (an over-fill halted its parent: that is its own event)
            case _:
                assert_never(event)
        if self.scorecard is not None:  # what the scorecard learned is rebuilt from the same events
            self.scorecard.apply(event, rec.time)

    def _forget_finished(self) -> None:
        """Recovery, at the first entry of a new trading day: finished children, and parents with
        nothing left (not in the book, no open child), leave memory, as the intake forgets finished
        orders then (``Intake._advance_day``); the journal keeps their history.  Otherwise a restart
        would hold every child the journal ever saw (and a recovery snapshot would carry them)."""
        self._keep_open_children()
        self._closed = FinishedChildren()
        for worked in list(self._worked.values()):
            if not worked.children and self.intake.parent(worked.parent_id) is None:
                del self._worked[worked.parent_id]
                self._halted_in_journal.discard(worked.parent_id)
                self._estimated.pop(worked.parent_id, None)

    def fold_state(self) -> EngineFold:
        """What :meth:`apply` has built so far, for a recovery snapshot (:mod:`metaorder.snapshot`):
        the parents' worked state and children, the executed quantity, the halts and estimates seen,
        and the scorecard's fold.  The closed children are packed first (:meth:`_pack_closed`), as
        the intake packs its finished orders.  Pickled in one piece with the intake's."""
        self._pack_closed()
        card = self.scorecard.fold_state() if self.scorecard is not None else None
        return (self._worked, self._children, self._closed, self.executed_qty, self._halted_in_journal,
                self._estimated, self._replay_day, card)

    def restore_fold_state(self, state: EngineFold) -> None:
        """Continue recovery from a snapshot's fold state (the intake's recovery then replays the tail)."""
        (self._worked, self._children, self._closed, self.executed_qty, self._halted_in_journal,
         self._estimated, self._replay_day, card) = state
        if self.scorecard is not None and card is not None:
            self.scorecard.restore_fold_state(card)

    def _pack_closed(self) -> None:
        """Recovery snapshots: move the closed children into the packed archive (a parent's worked
        state keeps only its open ones, as :meth:`finish_recovery` leaves it).  The snapshotter's
        work, never the live engine's."""
        closed = {c.child_id: c for c in self._children.values() if not c.state.open}
        if not closed:
            return
        self._closed = self._closed.merged(closed.values())
        self._keep_open_children()

    def _keep_open_children(self) -> None:
        """Only open children stay in the children map and in each parent's worked state."""
        self._children = {cid: c for cid, c in self._children.items() if c.state.open}
        for worked in self._worked.values():
            for child_id in [cid for cid, c in worked.children.items() if not c.state.open]:
                del worked.children[child_id]

    def _child(self, cl_ord_id: str) -> ChildOrder | None:
        """The child known by this ClOrdID: a live one, or a closed one taken back out of the packed
        archive (a venue reporting on it again) and live from then on."""
        child = self._children.get(cl_ord_id)
        if child is None and len(self._closed):
            child = self._closed.get(cl_ord_id)
            if child is not None:
                self._children[child.child_id] = child
                for n in range(1, child.cancels_sent + 1):  # its cancel requests' ClOrdIDs
                    self._children.setdefault(f"{child.child_id}.X{n}", child)
        return child

    def _recorded_child(self, child_id: str) -> ChildOrder:
        """Recovery: the child a journaled event is about (the journal never names an unknown one)."""
        child = self._child(child_id)
        if child is None:
            raise KeyError(child_id)
        return child

    def finish_recovery(self) -> int:
        """After the replay (and the intake's): the guard's counts; returns open children found.

        Children that were open at the crash are kept as working (they may fill at any time) and
        are reconciled with an OrderStatusRequest when their venue's session logs on.
        """
        open_children = 0
        for worked in self._worked.values():
            for child_id in [c.child_id for c in worked.children.values() if not c.state.open]:
                del worked.children[child_id]
            open_children += len(worked.children)
            self.guard.restore(worked.parent_id, worked.filled + self._wanted(worked.parent_id), worked.filled,
                               worked.working())
            if worked.parent_id in self._halted_in_journal:  # an operator's decision, not the restart's
                self.guard.halt(worked.parent_id, "halted before the restart")
        self._alerts_seen = len(self.guard.alerts)
        self._sync_working()
        return open_children

    # ---- venue sessions -------------------------------------------------------------------------

    def on_venue_session(self, venue: str, connected: bool, now: float) -> Actions:
        """A venue session logged on (subscribe, reconcile open children) or went away."""
        self.market.on_session(venue, connected, now)
        actions = Actions()
        if not connected:
            self.connected.discard(venue)
            return actions
        self.connected.add(venue)
        self._md_asked.pop(venue, None)  # the logon's subscription starts with a snapshot
        info = self.venues.get(venue)
        if info is not None and info.kind.value == "lit":
            symbols = sorted(self.instruments)
            req_id = f"MD{self._boot}.{next(self._md_ids)}"
            self.market.subscribe(req_id, symbols)
            actions.venue.append((venue, MsgType.MARKET_DATA_REQUEST, market_data_request(req_id, symbols)))
        for worked in self._worked.values():
            for child in worked.children.values():
                if child.venue == venue and child.state.open:
                    actions.venue.append((venue, MsgType.ORDER_STATUS_REQUEST, status_request(child)))
        return actions

    def on_venue_message(self, venue: str, msg: Message, now: float) -> Actions:
        """One message from a venue session, read by the venue adapter (``venue_fix.py``)."""
        report = read_venue_message(msg)
        if isinstance(report, VenueExecutionReport):
            return self._on_execution_report(venue, report, now)
        if isinstance(report, VenueCancelReject):
            return self._on_cancel_reject(venue, report, now)
        if isinstance(report, UnreadableReport):
            return self._on_unreadable(venue, report)
        if report is None:
            return Actions()
        before = self.market.status(venue)
        self.market.apply(venue, report, now)
        after = self.market.status(venue)
        if after is not before:
            log.warning("venue trading status changed", venue=venue, status=after.value, was=before.value)
        if now >= self._next_sample:
            self._sample_market(now)
        actions = Actions()
        if self._watching:
            self._market_changed(now, actions)
        return actions

    # ---- the decision loop ----------------------------------------------------------------------

    @property
    def backlogged(self) -> bool:
        """Parents were due at the last tick beyond what one tick attends: tick again at the same time."""
        return bool(self._backlog)

    def next_wakeup(self) -> float | None:
        """The earliest time a parent wants attention (None: nothing is being worked)."""
        if self._dirty or self._backlog or self.intake.has_changes:
            return 0.0
        markout = self.scorecard.next_markout_at() if self.scorecard is not None else None
        heap = self._heap
        while heap:
            when, parent_id = heap[0]
            worked = self._worked.get(parent_id)
            if worked is not None and worked.scheduled == when:
                return when if markout is None else min(when, markout)
            heapq.heappop(heap)  # superseded by a later schedule, or the parent is gone
        return markout

    def suspend(self, engaged: bool, now: float) -> Actions:
        """The global kill switch: cancel every working child and send nothing new until released."""
        self.suspended = engaged
        actions = Actions()
        if engaged:
            for worked in self._worked.values():
                for child in list(worked.children.values()):
                    self._cancel(child, now, actions, "kill switch engaged")
        else:
            self.touch()
        return actions

    def touch(self) -> None:
        """Look at every parent at the next tick (orders changes are noticed without it)."""
        for parent in self.intake.parents():
            self._mark(parent.parent_id)

    def on_tick(self, now: float) -> Actions:
        """Attend to the parents that are due: changed in the book, touched by a venue report, or
        whose own time came (strategy wake-up, a passive child to re-post, an ExpireTime).  Parents
        with nothing due cost nothing, however many there are."""
        actions = Actions()
        self._take_markouts(now)
        if now >= self._next_sample:
            self._sample_market(now)
        due = self._dirty | self.intake.take_changed() | self._backlog
        self._dirty, self._backlog = set(), set()
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, parent_id = heapq.heappop(heap)
            worked = self._worked.get(parent_id)
            if worked is not None and worked.scheduled == when:
                worked.scheduled = -1.0
                due.add(parent_id)
        if due:  # routing may happen: a venue that has been quiet is asked what its book is now
            self._ask_quiet_venues(now, actions)
        ordered = sorted(due)  # the same order every run (reproducible simulations)
        for parent_id in ordered[:MAX_ATTENDED_PER_TICK]:
            self._attend(parent_id, now, actions)
        self._backlog.update(ordered[MAX_ATTENDED_PER_TICK:])
        self._alerts_from_guard(actions, now)
        return actions

    def _attend(self, parent_id: str, now: float, actions: Actions) -> None:
        worked = self._worked_for(parent_id)
        parent = self.intake.parent(parent_id)
        if parent is not None:
            expiring = self._expire_due(parent, worked, now, actions)
            if expiring == "expired":
                parent = self.intake.parent(parent_id)
        else:
            expiring = ""
        if parent is None:
            self._close_parent(worked, now, actions)
        elif expiring != "waiting":  # while children are pulled for orders about to expire: nothing new
            wanted = parent.wanted_qty
            self.guard.set_limit(parent_id, worked.filled + wanted)
            self._fit_placements(worked, wanted)
            self._fit_to_wanted(worked, wanted, now, actions)
            self._repost_stale(worked, now, actions)
            self._recancel(worked, now, actions)
            self._wake_placements(worked, now, actions)
            if self.suspended or self.guard.halted(parent_id):
                worked.wake_at = now + self.settings.max_idle_s  # nothing to decide until released
            elif now >= worked.wake_at:
                self._decide(parent, worked, wanted, now, actions)
        self._sync_parent(parent_id)
        if parent_id in self._worked:
            self._schedule(worked, parent, now)

    def _schedule(self, worked: _Worked, parent: ParentOrder | None, now: float) -> None:
        """Queue the parent for the earliest of: its strategy's wake-up, its oldest resting passive
        child's re-post time, the earliest end of one of its orders (plus the grace): an ExpireTime,
        or the end of a DAY order's trading day."""
        when = worked.wake_at
        for placement in worked.placements:
            if placement.wake_at is not None:
                when = min(when, placement.wake_at)
        age = self.settings.passive_max_age_s
        for child in worked.children.values():
            if not child.ioc and not child.cancel_requested:
                when = min(when, child.sent_at + age)
        first_end = parent.earliest_end(self.settings.default_end) if parent is not None else None
        if first_end is not None:
            expiry = first_end + self.settings.expiry_grace_s
            if expiry > now:
                when = min(when, expiry)
        when = max(when, now + MIN_RESCHEDULE_S)
        if when != worked.scheduled:
            worked.scheduled = when
            heapq.heappush(self._heap, (when, worked.parent_id))

    def _mark(self, parent_id: str, now: float | None = None) -> None:
        """Decide for this parent at the next tick (a fill, a closed child, a touch) — or, when it
        decided less than ``min_decision_interval_s`` before ``now``, as soon as that has passed.

        Every fill and every closed child asks for a decision, and a decision may send children that
        close (or fill a little) at once: without the pause, a parent behind schedule on a thin book
        decided once per venue round trip, each decision a few more children, thousands a minute
        (a strategy still re-decides after each fill, at most so often)."""
        worked = self._worked_for(parent_id)
        soonest = worked.decided_at + self.settings.min_decision_interval_s
        if now is None or now >= soonest:
            worked.wake_at = 0.0
            self._dirty.add(parent_id)
            return
        worked.wake_at = min(worked.wake_at, soonest)
        if worked.scheduled < 0 or soonest < worked.scheduled:
            worked.scheduled = soonest
            heapq.heappush(self._heap, (soonest, parent_id))

    def _expire_due(self, parent: ParentOrder, worked: _Worked, now: float, actions: Actions) -> str:
        """Orders past their end: pull the parent's children first, then end the orders unfilled.

        An order's end (:func:`~metaorder.orders.model.end_of`) is its ExpireTime (126), or, for a
        DAY order without one, the end of its trading day (``settings.default_end(arrival)``): an
        OMS that sends a DAY order expects it done at the end of the day with its unfilled shares
        reported, not worked on (TWAP would otherwise keep sending the remainder aggressively after
        the window, and a limit the market is beyond would rest for ever).  GTC orders without
        ExpireTime are never ended here.  Both kinds end alike, with ExecutionReport 150=C/39=C
        (Expired) and a Text saying why and how much was unfilled ("ExpireTime passed with 40 of
        100 unfilled", "end of trading day with 40 of 100 unfilled"): FIX defines Expired as
        canceled "due to time in force instructions", which is what the end of a DAY order's day
        is, and C is final for every OMS.  Done for day (150=3/39=3) is not used: it says "no more
        executions today" and leaves the order open for the next day (what a broker sends for a
        multi-day GTC order), so an OMS could not tell that a DAY order is over.

        Ending while children are out would let a late fill find no order to go to; so the
        children are canceled first and the orders end once nothing is working (or, if a venue
        never answers the cancels, ``expiry_grace_s`` later still).

        An odd-lot remainder that no open venue accepts (see :meth:`_stranded_odd`) is said so in
        the Text; and once it is all a parent has left, its orders end at the parent's window end
        (+ the grace) even if theirs is later, or, GTC, never comes: it is never left working
        silently.  Until then internal crossing may still fill it.
        """
        grace = self.settings.expiry_grace_s
        default_end = self.settings.default_end
        odd = self._stranded_odd(parent)
        if odd and parent.wanted_qty == odd and not worked.working():
            _, window_end, _ = parent.window(default_end)
            if now >= window_end + grace:
                why = self._odd_lot_text(parent.key.symbol, odd)
                log.warning("odd-lot remainder ended", parent_id=parent.parent_id, qty=odd, text=why)
                for order in [o for o in parent.children if o.leaves_qty]:
                    text = f"{_end_reason(order, end_of(order, default_end), now - grace)}{_unfilled(order)}: {why}"
                    actions.client.append(self.intake.expire(order, now, text))
                return "expired"
        first_end = parent.earliest_end(default_end)
        if first_end is None or now < first_end + grace:
            return ""
        due = [(o, e) for o in parent.children if (e := end_of(o, default_end)) is not None and now >= e + grace]
        if not due:
            return ""
        if worked.working() and now < max(e for _, e in due) + 2 * grace:
            for child in list(worked.children.values()):
                self._cancel(child, now, actions, "execution window ended")
            worked.wake_at = now + min(grace, self.settings.max_idle_s)
            return "waiting"
        why = f": {self._odd_lot_text(parent.key.symbol, odd)}" if odd else ""
        for order, end in due:
            text = f"{_end_reason(order, end, now)}{_unfilled(order)}{why}"
            actions.client.append(self.intake.expire(order, now, text))
        return "expired"

    def _stranded_odd(self, parent: ParentOrder) -> int:
        """The part of the parent's remainder that is not whole lots (``wanted % lot``), when no
        connected, open venue accepts odd lots; 0 otherwise.  Such shares cannot be sent anywhere."""
        lot = self.instruments[parent.key.symbol].lot_size
        odd = parent.wanted_qty % lot if lot > 1 else 0
        if not odd:
            return 0
        for name, info in self.venues.items():
            if info.odd_lots and name in self.connected and self.market.status(name) is VenueStatus.OPEN:
                return 0
        return odd

    def _odd_lot_text(self, symbol: str, odd: int) -> str:
        """The Text of an order ended with a stranded odd-lot remainder: what and why."""
        what = f"{odd} shares odd-lot remainder ({symbol} trades in lots of {self.instruments[symbol].lot_size})"
        if any(info.odd_lots for info in self.venues.values()):
            return f"{what}: no venue accepting odd lots is open"
        return f"{what}: no venue accepts odd lots"

    def _decide(self, parent: ParentOrder, worked: _Worked, wanted: int, now: float, actions: Actions) -> None:
        worked.decided_at = now
        state = self._state(parent, worked, wanted)
        if worked.strategy is None:
            worked.strategy = self._make_strategy(parent, state)
            if isinstance(worked.strategy, Estimating):
                if parent.parent_id in self._estimated:
                    worked.strategy.restore_arrival(self._estimated[parent.parent_id])
                else:
                    worked.estimate_due = True
            log.info("working parent", parent_id=parent.parent_id, symbol=state.symbol,
                     side="buy" if state.direction > 0 else "sell", qty=state.target_qty, orders=len(parent.children),
                     strategy=parent.key.strategy.name, limit=str(state.limit) if state.limit else "market",
                     window_s=round(state.end_time - max(state.start_time, now), 1))
        try:
            decision: Decision = worked.strategy.decide(state, self.market, now)
        except Exception as exc:  # one parent's strategy failing must not stop every other parent
            text = (f"{parent.parent_id}: its {parent.key.strategy.name} strategy failed ({exc!r}): parent halted, "
                    "its orders stay open for an operator")
            log.exception("strategy failed: parent halted", parent_id=parent.parent_id)
            self.guard.halt(parent.parent_id, text, now)
            self._alerts_from_guard(actions, now)  # journaled (parent.halted), children pulled, alert raised
            return
        if worked.estimate_due:
            assert isinstance(worked.strategy, Estimating)
            worked.estimate_due = not self._record_estimate(parent, worked.strategy, now)
        limit_bound = limit_out_of_reach(self.market, parent.key.symbol, parent.key.direction, parent.key.limit)
        if decision.cancel_working:
            for child in list(worked.children.values()):
                # A child resting at the limit while the market is beyond it is as aggressive as the
                # clients allow: pulling it would only lose its place in the queue.
                if not child.ioc and not (limit_bound and child.price == parent.key.limit):
                    self._cancel(child, now, actions, "strategy pulled resting children")
        exclude = self._exclude(worked, now)
        lot = self.instruments[parent.key.symbol].lot_size
        given = state.param("Routing")  # checked at intake: one of Routing's values
        routing = Routing(given) if given else self.routing_map(state.urgency, state.aggressiveness)
        for intent in decision.intents:
            if intent.routing is not routing:
                intent = dataclasses.replace(intent, routing=routing)
            placement = self.router.start(intent, self.market, self.venues, lot, now, exclude)
            self._send(worked, placement, placement.orders(), now, actions)
        # The strategy's own wake-up stands: it knows its schedule (the next slice, its retry and check
        # intervals), and every change to the parent (a fill, a closed child, orders joining or
        # leaving) asks it again anyway.  Capping it at max_idle_s re-decided every parent each
        # second: 10,000 working parents cost more than a core for decisions that changed nothing.
        # max_idle_s is for a decision that names no time.
        wake = decision.wake_at if decision.wake_at is not None else now + self.settings.max_idle_s
        worked.wake_at = max(wake, now)

    def _record_estimate(self, parent: ParentOrder, strategy: Estimating, now: float) -> bool:
        """Journal the plan an IS parent starts with, once it has its benchmark (the arrival mid);
        returns whether it did."""
        if strategy.arrival_price is None:
            return False  # not started, or no two-sided quote yet: the benchmark comes with a later decision
        plan = strategy.estimate
        self._estimated[parent.parent_id] = strategy.arrival_price
        self.intake.record(PreTradeEstimate(parent.parent_id, parent.key.strategy.name, round(plan.qty), plan.horizon,
                                            plan.periods, strategy.risk_aversion, plan.kappa, plan.expected_cost,
                                            plan.std_cost, strategy.arrival_price), now)
        return True

    def _exclude(self, worked: _Worked, now: float) -> frozenset[str]:
        """The venues not to route this parent to now: it rejected one of its children lately, or
        it is disconnected, or its market data stopped."""
        exclude = frozenset(v for v, until in worked.excluded.items() if until > now)
        exclude |= frozenset(v for v in self.venues if v not in self.connected)
        return exclude | self._stale_venues(now)

    def _ask_quiet_venues(self, now: float, actions: Actions) -> None:
        """Ask every connected lit venue whose book has not changed for ``stale_market_s`` for a fresh
        snapshot (MarketDataRequest 263=0), at most once per ``stale_market_s``.

        Quiet is not stale: an illiquid instrument, or a venue that publishes on change only, may
        send nothing for minutes while its book stands.  Routing around it would leave orders
        unrouted that it could fill; trusting it for ever would route on a feed that died without a
        word.  Asking tells the two apart: a live venue answers with its book as it is now."""
        quiet_s = self.settings.stale_market_s
        for name, info in self.venues.items():
            if info.kind is not VenueKind.LIT or name not in self.connected:
                continue
            asked = self._md_asked.get(name)
            if not self.market.stale(name, now, quiet_s) or (asked is not None and now - asked < quiet_s):
                continue
            symbols = sorted(self.instruments)
            req_id = f"MD{self._boot}.{next(self._md_ids)}"
            self.market.subscribe(req_id, symbols)  # so that its answer is read like any snapshot
            actions.venue.append((name, MsgType.MARKET_DATA_REQUEST,
                                  market_data_request(req_id, symbols, snapshot_only=True)))
            self._md_asked[name] = now
            log.info("quiet venue asked for a fresh snapshot", venue=name, quiet_s=quiet_s)

    def _stale_venues(self, now: float) -> frozenset[str]:
        """Lit venues whose market data cannot be trusted for routing: never a snapshot since logon,
        or asked for one (see :meth:`_ask_quiet_venues`) and silent for ``md_answer_timeout_s`` since."""
        timeout = self.settings.md_answer_timeout_s
        stale: set[str] = set()
        for name, info in self.venues.items():
            if info.kind is not VenueKind.LIT or name not in self.connected:
                continue
            if self.market.stale(name, now, math.inf):
                stale.add(name)
                continue
            asked = self._md_asked.get(name)
            last = self.market.last_update(name)
            if asked is not None and (last is None or last < asked) and now - asked > timeout:
                stale.add(name)
        for name in stale - self._reported_stale:
            log.warning("market data stopped: the venue did not answer a snapshot request; not routed to until "
                        "it does", venue=name, answer_timeout_s=timeout)
        self._reported_stale = frozenset(stale)
        return self._reported_stale

    def _state(self, parent: ParentOrder, worked: _Worked, wanted: int) -> ParentState:
        orders = parent.children
        # The parent finishes by its most urgent order's end (the earliest): allocation is pro-rata,
        # so a parent worked to a later end would leave the earliest order partly filled at its
        # ExpireTime; orders with later ends finish early instead, which their windows allow.
        start, end, _ = parent.window(self.settings.default_end)
        first = orders[0].mandate
        return ParentState(
            parent_id=parent.parent_id, symbol=parent.key.symbol, direction=parent.key.direction,
            target_qty=worked.filled + wanted, filled_qty=worked.filled, working_qty=worked.working() + worked.held(),
            limit=parent.key.limit, start_time=start, end_time=max(end, start),
            participation_rate=parent.participation_rate, urgency=parent.key.urgency.value,
            aggressiveness=first.aggressiveness.value, lot_size=self.instruments[parent.key.symbol].lot_size,
            params=parse_params(parent.key.params), printed_qty=worked.printed,
        )

    def _lit(self, venue: str) -> bool:
        """Whether ``venue``'s executions print on the public tape (a lit venue, or one we know nothing of)."""
        info = self.venues.get(venue)
        return info is None or info.kind is VenueKind.LIT

    def _make_strategy(self, parent: ParentOrder, state: ParentState) -> Strategy:
        kind = parent.key.strategy.name
        seed = self.settings.seed * 1_000_003 + sum(map(ord, parent.parent_id))
        if kind in self._strategies:
            try:
                return self._strategies.make(kind, state, seed)
            except ValueError as exc:  # a parent the strategy cannot work (normalization should prevent it)
                why = f"{kind} cannot work this parent ({exc}); worked as TWAP"
        else:
            why = f"{kind} is not available; worked as TWAP"
        log.warning("strategy not used: worked as TWAP", parent_id=parent.parent_id, strategy=kind, text=why)
        self.intake.record(StrategyChosen(parent.parent_id, kind, "TWAP", why), state.start_time)
        return self._strategies.make("TWAP", state, seed)

    # ---- children -------------------------------------------------------------------------------

    def _place(self, worked: _Worked, order: VenueOrder, now: float, actions: Actions,
               reason: str, routing: str = "") -> ChildOrder | None:
        """Create, journal and send one child; returns it (None when the guard refused it).

        Whole lots, except at a venue that accepts odd lots, where the router sends a parent's odd
        remainder (any other venue would reject it, or the remainder would never leave)."""
        rules = self.instruments[order.symbol]
        info = self.venues.get(order.venue)
        qty = order.qty if info is not None and info.odd_lots else order.qty - order.qty % rules.lot_size
        if qty <= 0:
            return None
        price = _on_tick(order.price, rules.tick_size, order.direction) if order.price is not None else None
        min_qty = min(order.min_qty, qty)
        refused = info.refuses(qty, price, rules.lot_size, ioc=order.ioc, peg=order.peg, min_qty=min_qty) \
            if info is not None else None
        if refused is not None:  # the router's job; never sent to be rejected (a bug, said loudly)
            log.warning("child not sent: the venue's rules refuse it", parent_id=worked.parent_id, venue=order.venue,
                        qty=qty, text=refused)
            return None
        if not self.guard.allow(worked.parent_id, qty, now):
            self._alerts_from_guard(actions, now)
            return None
        child = ChildOrder(f"C{self._boot}.{next(self._ids)}", worked.parent_id, order.venue, order.symbol,
                           order.direction, qty, price, order.ioc, now, reason, peg=order.peg, min_qty=min_qty)
        self._children[child.child_id] = child
        worked.children[child.child_id] = child
        self._record(ChildPlaced(worked.parent_id, child.child_id, child.venue, child.symbol,
                                       Side.BUY if child.direction > 0 else Side.SELL, qty, price, child.ioc, reason,
                                       order.expected_cost, child.peg, min_qty, self.market.mid(order.symbol),
                                       routing), now)
        actions.venue.append((child.venue, MsgType.NEW_ORDER_SINGLE, new_order_single(child, now)))
        return child

    def _send(self, worked: _Worked, placement: Placement, orders: list[VenueOrder], now: float,
              actions: Actions) -> None:
        """Place what a placement asked for, tell it what was placed, and keep it until it is done.

        Nothing leaves while the kill switch is engaged, the parent is halted or gone: the
        placement is superseded instead (its remainder is the strategy's again, once released)."""
        if orders and (self.suspended or self.guard.halted(worked.parent_id)
                       or self.intake.parent(worked.parent_id) is None):
            placement.supersede()
            for order in orders:
                placement.on_placed(order, None, 0)
            orders = []
        for order in orders:
            child = self._place(worked, order, now, actions, order.reason or placement.intent.reason,
                                placement.intent.routing.value)
            if child is None:
                placement.on_placed(order, None, 0)
            else:
                placement.on_placed(order, child.child_id, child.qty)
                worked.placement_of[child.child_id] = placement
        for child_id in placement.take_cancels():
            child = worked.children.get(child_id)
            if child is not None:
                self._cancel(child, now, actions, PLACEMENT_CANCEL_REASON, by_placement=True)
        kept = any(p is placement for p in worked.placements)
        if placement.done:
            if kept:
                self._prune(worked)
        elif not kept:
            worked.placements.append(placement)
            if placement.watches_market:
                self._watching[id(placement)] = (worked.parent_id, placement)

    def _prune(self, worked: _Worked) -> None:
        """Forget the parent's placements that are done."""
        for placement in worked.placements:
            if placement.done:
                self._watching.pop(id(placement), None)
        worked.placements = [p for p in worked.placements if not p.done]

    def _child_result(self, worked: _Worked, child: ChildOrder, was_open: bool, cum_before: int, now: float,
                      actions: Actions) -> None:
        """Tell the child's placement what a venue report did to it (a fill, or its end), and send
        what the placement asks for next."""
        placement = worked.placement_of.get(child.child_id)
        if placement is None or not was_open:
            return
        closed = not child.state.open
        if not closed and child.cum_qty == cum_before:
            return  # an ack, a status that changed nothing: nothing to tell
        if closed:
            del worked.placement_of[child.child_id]
        outcome = _OUTCOMES.get(child.state, ChildOutcome.CANCELED) if closed else ChildOutcome.WORKING
        result = ChildResult(child.venue, child.child_id, child.qty, child.cum_qty, outcome, now,
                             child.cancel_requested, self._exclude(worked, now))
        self._send(worked, placement, placement.on_child_result(result), now, actions)

    def _wake_placements(self, worked: _Worked, now: float, actions: Actions) -> None:
        """Call the placements whose time has come (a sequential logic's timeout); send what they ask."""
        due = [p for p in worked.placements if p.wake_at is not None and p.wake_at <= now]
        if not due:
            return
        exclude = self._exclude(worked, now)
        for placement in due:
            if self.suspended or self.guard.halted(worked.parent_id):
                placement.supersede()
            self._send(worked, placement, placement.on_wakeup(now, exclude), now, actions)
        self._prune(worked)

    def _market_changed(self, now: float, actions: Actions) -> None:
        """Tell the placements that asked for it that the market changed; send what they ask for."""
        for key, (parent_id, placement) in list(self._watching.items()):
            worked = self._worked.get(parent_id)
            if worked is None:
                del self._watching[key]
                continue
            orders = placement.on_market(self.market, now, self._exclude(worked, now))
            self._send(worked, placement, orders, now, actions)
            self._sync_parent(parent_id)

    def _cancel(self, child: ChildOrder, now: float, actions: Actions, reason: str, by_placement: bool = False) -> None:
        """Ask the venue to cancel ``child``; its placement, if any, is superseded (the engine took
        the remainder back: it must not re-route it) unless the placement asked for it itself."""
        worked = self._worked.get(child.parent_id)
        placement = worked.placement_of.get(child.child_id) if worked is not None else None
        if placement is not None and not by_placement:
            placement.supersede()
        if child.state.open:
            child.cancel_wanted = True
        if child.cancel_requested or not child.state.open or child.venue not in self.connected:
            return
        child.cancel_requested = True
        cancel_id = child.next_cancel_id()
        body = cancel_request(child, cancel_id, now)
        self._children[cancel_id] = child
        self._record(ChildCancelRequested(child.parent_id, child.child_id, child.venue, reason), now)
        actions.venue.append((child.venue, MsgType.ORDER_CANCEL_REQUEST, body))

    def _fit_placements(self, worked: _Worked, wanted: int) -> None:
        """Supersede the parent's placements when what is out plus what they may still send exceeds
        what its orders want (a client amended down or canceled, a cross filled some).

        A placement in mid-walk (sequential, a seek round) may send its remainder later; after a
        shrink that would be beyond the parent's new limit, which the parent/child control rightly
        refuses by halting the parent.  Superseded, it sends nothing more and its remainder is the
        strategy's again, which sizes against the new quantity.  All of them: a placement re-routes
        the remainder of each child of its that closes, so any of them may send what the shrink took
        away, and the children :meth:`_fit_to_wanted` pulls are exactly such remainders."""
        live = [p for p in worked.placements if not p.superseded]
        if live and worked.working() + sum(p.unplaced for p in live) > wanted:
            for placement in live:
                placement.supersede()

    def _fit_to_wanted(self, worked: _Worked, wanted: int, now: float, actions: Actions) -> None:
        """Cancel the newest children while more is out at venues than the parent's orders want."""
        pending = sum(c.leaves_qty for c in worked.children.values() if c.cancel_requested)
        excess = worked.working() - pending - wanted
        for child in reversed(list(worked.children.values())):
            if excess <= 0:
                return
            if not child.cancel_requested and child.state.open:
                self._cancel(child, now, actions, "parent shrank below its working quantity")
                excess -= child.leaves_qty

    def _repost_stale(self, worked: _Worked, now: float, actions: Actions) -> None:
        """Pull resting children older than ``passive_max_age_s``: their price is re-decided.  A child
        of a live placement is pulled without superseding it (the placement has its remainder back
        in its room and places it again in its next round); any other child's remainder is the
        strategy's."""
        limit = self.settings.passive_max_age_s
        for child in list(worked.children.values()):
            if not child.ioc and now - child.sent_at > limit:
                placement = worked.placement_of.get(child.child_id)
                live = placement is not None and not placement.superseded and not placement.done
                self._cancel(child, now, actions, f"passive child resting more than {limit:g} s: re-decide",
                             by_placement=live)

    def _recancel(self, worked: _Worked, now: float, actions: Actions) -> None:
        """Ask again for the cancel of a child the venue refused to cancel while it still works it
        (a cancel reject that is not "too late", a status showing it working): whoever wanted it
        canceled — a placement's timeout, the strategy — still does, and a placement never asks
        twice.  At most ``MAX_CANCELS`` requests per child; then it is left to the operator."""
        for child in list(worked.children.values()):
            if (child.cancel_wanted and not child.cancel_requested and child.state.open
                    and child.cancels_sent < MAX_CANCELS):
                self._cancel(child, now, actions, "cancel asked again: the venue still works it", by_placement=True)

    def _close_parent(self, worked: _Worked, now: float, actions: Actions) -> None:
        """The parent is done or gone: pull what is still out; forget it once nothing is."""
        for placement in worked.placements:
            placement.supersede()
        for child in list(worked.children.values()):
            self._cancel(child, now, actions, "parent is done")
        self._prune(worked)
        if not worked.children:
            del self._worked[worked.parent_id]
            if worked.strategy is not None:
                log.info("parent done", parent_id=worked.parent_id, executed_at_venues=worked.filled)
        else:
            worked.wake_at = now + self.settings.max_idle_s

    # ---- venue reports --------------------------------------------------------------------------

    def _child_of(self, cl_ord_id: str | None, other_id: str | None) -> ChildOrder | None:
        """The child a venue message is about: by the ClOrdID it names, else by the other one."""
        return self._child(cl_ord_id or "") or self._child(other_id or "")

    def _on_execution_report(self, venue: str, report: VenueExecutionReport, now: float) -> Actions:
        actions = Actions()
        child = self._child_of(report.cl_ord_id, report.orig_cl_ord_id)
        if child is None:
            log.warning("execution report for an unknown child", venue=venue, cl_ord_id=report.cl_ord_id,
                        exec_type=report.kind.value)
            return actions
        worked = self._worked_for(child.parent_id)
        was_open, cum_before = child.state.open, child.cum_qty
        kind = report.kind
        if kind is ExecKind.ACK and child.state is ChildState.PENDING_NEW:
            child.state = ChildState.NEW
            child.venue_order_id = report.venue_order_id
            self._record(ChildAcknowledged(child.parent_id, child.child_id, venue, child.venue_order_id), now)
        elif kind is ExecKind.FILL:
            self._on_fill(worked, child, venue, report, now, actions)
            self._close_if_final(worked, child, venue, report, now, actions)
        elif kind in _STATUS_OR_CLOSING:
            self._recover_missing(worked, child, venue, report, now, actions)
            self._close_if_final(worked, child, venue, report, now, actions)
        elif kind in _NOT_APPLIED:
            text = (f"{venue} sent a {_NOT_APPLIED[kind]} for {child.child_id}: not applied automatically, "
                    f"parent {child.parent_id} halted for an operator to reconcile")
            self.guard.halt(child.parent_id, text, now)
            self._alerts_from_guard(actions, now)
        self._child_result(worked, child, was_open, cum_before, now, actions)
        self._sync_parent(child.parent_id)
        return actions

    def _on_unreadable(self, venue: str, report: UnreadableReport) -> Actions:
        """An execution the adapter could not read (see ``venue_fix.py``): nothing is counted or
        closed on a guess.  The operator is told, and the venue is asked for the child's status,
        whose CumQty and AvgPx recover the execution if it was real."""
        actions = Actions()
        child = self._child_of(report.cl_ord_id, report.orig_cl_ord_id)
        if child is None:
            log.warning("unreadable report for an unknown child", venue=venue, cl_ord_id=report.cl_ord_id,
                        reason=report.reason)
            return actions
        if report.exec_id is not None and report.exec_id in child.exec_ids:
            return actions  # a resend of an execution already counted
        actions.alerts.append(f"{venue}: unreadable fill for {child.child_id} ({report.reason}): {report.message}")
        if child.state.open:
            actions.venue.append((venue, MsgType.ORDER_STATUS_REQUEST, status_request(child)))
        return actions

    def _on_fill(self, worked: _Worked, child: ChildOrder, venue: str, report: VenueExecutionReport, now: float,
                 actions: Actions) -> None:
        """Count a fill once: by ExecID, and by the venue's CumQty (a report resent under another
        ExecID, or a fill already recovered from a status report, adds nothing)."""
        exec_id = report.exec_id or ""
        if exec_id in child.exec_ids:
            return
        qty = report.last_qty or 0
        price = report.last_px if report.last_px is not None else Decimal(0)
        venue_cum = report.cum_qty
        if qty <= 0 or price <= 0:
            actions.alerts.append(f"{venue}: fill for {child.child_id} without quantity or price")
            return
        if venue_cum is not None:
            qty = min(qty, venue_cum - child.cum_qty)
            if qty <= 0:
                child.exec_ids.add(exec_id)
                log.info("fill already counted (by CumQty)", venue=venue, child_id=child.child_id, exec_id=exec_id)
                return
        over = qty - (child.qty - child.cum_qty)
        closed = child.state  # a fill for a child its venue already said was canceled: the venue's records differ
        liquidity = report.liquidity.value if report.liquidity is not None else ""
        self._execution(worked, child, venue, exec_id, qty, price, liquidity, now, actions, fee=report.fee)
        if not closed.open and not self.guard.halted(child.parent_id):
            self.guard.halt(child.parent_id, f"{venue} filled {child.child_id} {qty} shares after it was "
                            f"{closed.value}: parent halted for an operator to reconcile", now)
            self._alerts_from_guard(actions, now)
        if over > 0:
            self.guard.halt(child.parent_id, f"{venue} filled {child.child_id} {over} shares beyond its "
                            f"{child.qty}: over-fill", now)
            self._alerts_from_guard(actions, now)
        if child.cum_qty >= child.qty:
            child.state = ChildState.FILLED
            worked.children.pop(child.child_id, None)

    def _recover_missing(self, worked: _Worked, child: ChildOrder, venue: str, report: VenueExecutionReport,
                         now: float, actions: Actions) -> None:
        """A status or final report whose CumQty is above ours: executions we never heard of."""
        if report.cum_qty is None or report.cum_qty <= child.cum_qty:
            return
        if report.avg_px is None:
            actions.alerts.append(f"{venue}: {child.child_id} executed {report.cum_qty - child.cum_qty} shares "
                                  "never reported, at a price its report does not say (no readable AvgPx)")
            return
        missing = child.missing_fill(report.cum_qty, report.avg_px)
        if missing is not None:
            qty, price = missing
            self._execution(worked, child, venue, f"{venue}:reconciled:{report.exec_id}", qty, price, "", now,
                            actions)
            if child.cum_qty >= child.qty:
                child.state = ChildState.FILLED
                worked.children.pop(child.child_id, None)

    def _execution(self, worked: _Worked, child: ChildOrder, venue: str, exec_id: str, qty: int, price: Decimal,
                   liquidity: str, now: float, actions: Actions, fee: Decimal | None = None) -> None:
        """Count one venue execution and allocate it to the parent's client orders."""
        child.exec_ids.add(exec_id)
        child.cum_qty += qty
        child.notional += qty * price
        worked.filled += qty
        if self._lit(venue):
            worked.printed += qty
        self.executed_qty += qty
        self.venue_fills += 1
        self._record(VenueExecution(child.parent_id, child.child_id, venue, exec_id, qty, price, liquidity, fee),
                           now)
        actions.street.append((venue, execution_copy(child, exec_id, qty, price, liquidity, fee, now)))
        self.guard.on_fill(child.parent_id, qty)
        parent = self.intake.parent(child.parent_id)
        eligible = 0 if parent is None else sum(o.leaves_qty for o in parent.children if o.accepts_price(price))
        allocated = min(qty, eligible)
        if allocated:
            try:
                actions.client += self.intake.on_parent_fill(child.parent_id, allocated, price, venue, now)
            except (AllocationError, BookError) as exc:  # cannot happen with the eligibility above: say so loudly
                actions.alerts.append(f"allocation of {allocated} {child.symbol} for {child.parent_id} failed: {exc}")
                allocated = 0
        if allocated < qty:
            text = (f"{child.parent_id}: {venue} executed {qty} at {price} but its orders wanted only {allocated}: "
                    f"{qty - allocated} shares over-filled, parent halted")
            self.intake.record(ParentOverfilled(child.parent_id, child.child_id, venue, qty - allocated, price, text),
                               now)
            actions.alerts.append(text)
            if not self.guard.halted(child.parent_id):
                # The guard's counts may not see it (its limit is only refreshed when the parent is
                # attended to, and a parent that left the book keeps its last one): halt as the text says.
                self.guard.halt(child.parent_id, text, now)
        self._alerts_from_guard(actions, now)  # a fill beyond what was working halts the parent at once
        self._mark(worked.parent_id, now)  # recalibrate after every fill

    def _close_if_final(self, worked: _Worked, child: ChildOrder, venue: str, report: VenueExecutionReport,
                        now: float, actions: Actions) -> None:
        final = report.final
        if final and report.kind is ExecKind.FILL and child.cum_qty < (report.cum_qty or 0):
            final = False  # the venue counts executions we have not seen yet: they close it when they come
        if not final:
            if report.kind is ExecKind.STATUS:  # the venue still has it working: a fresh cancel may be sent again
                child.cancel_requested = False
            return
        if not child.state.open:
            return
        if child.cum_qty >= child.qty:  # its executions closed it: nothing more to record
            child.state = ChildState.FILLED
            worked.children.pop(child.child_id, None)
            return
        leaves = child.leaves_qty
        rejected = report.state is OrderState.REJECTED
        child.state = ChildState.REJECTED if rejected else ChildState.CANCELED
        worked.children.pop(child.child_id, None)
        self.guard.on_child_closed(child.parent_id, leaves)
        text = report.text
        if rejected:
            self._record(ChildRejected(child.parent_id, child.child_id, venue, text, text, leaves), now)
        else:
            self._record(ChildCanceled(child.parent_id, child.child_id, venue, text, text, leaves), now)
        if rejected and report.kind is ExecKind.REJECTED:
            worked.excluded[venue] = now + self.settings.reject_cooldown_s
            log.info("venue rejected a child: re-routing", venue=venue, child_id=child.child_id, text=text)
        self._alerts_from_guard(actions, now)
        self._mark(worked.parent_id, now)

    def _on_cancel_reject(self, venue: str, reject: VenueCancelReject, now: float) -> Actions:
        """A cancel was refused: too late (it filled or is gone) or unknown there.  Ask for the
        child's true state instead of cancelling again and again; its answer decides."""
        actions = Actions()
        child = self._child_of(reject.orig_cl_ord_id, reject.cl_ord_id)
        if child is None:
            return actions
        # Counted even when the child closed meanwhile: "too late, it filled" is the usual cancel reject.
        self._record(ChildCancelRejected(child.parent_id, child.child_id, venue, reject.text or ""), now)
        if not child.state.open:
            return actions
        if reject.reason is CancelRejectReason.UNKNOWN_ORDER or (reject.state is not None and reject.state.final):
            # cancel_requested stays set meanwhile
            actions.venue.append((venue, MsgType.ORDER_STATUS_REQUEST, status_request(child)))
        else:
            child.cancel_requested = False
            self._mark(child.parent_id, now)  # the cancel is asked again when the parent is next attended
        return actions

    # ---- helpers --------------------------------------------------------------------------------

    def _record(self, event: Event, now: float) -> None:
        """Journal one event about the engine's children, and let the scorecard learn from it: the
        scorecard folds exactly the journaled events, live as here and at recovery (``apply``)."""
        self.intake.record(event, now)
        if self.scorecard is not None:
            self.scorecard.apply(event, now)

    def _take_markouts(self, now: float) -> None:
        """Journal the markouts whose last horizon has passed (and fold them, like every event)."""
        if self.scorecard is None:
            return
        for markout in self.scorecard.take_markouts(now, self.market.mid):
            self._record(markout, now)

    def _sample_market(self, now: float) -> None:
        """Journal the market of every instrument that changed since its last sample, then not again
        for ``market_sample_s``: the hot path pays one comparison per market message, the journal
        at most one row per instrument per interval (and none for a quiet one)."""
        interval = self.settings.market_sample_s
        if interval <= 0:
            self._next_sample = math.inf
            return
        self._next_sample = now + interval
        for symbol in self.instruments:
            self._sample_symbol(symbol, now)

    def _sample_symbol(self, symbol: str, now: float) -> None:
        """Journal ``symbol``'s market at ``now`` unless it is what its last sample said (or empty)."""
        market = self.market
        version = market.version
        if self._sampled_at.get(symbol) == version:
            return  # nothing moved since this symbol was last looked at: one lookup per client order
        self._sampled_at[symbol] = version
        state = (market.best_bid(symbol), market.best_ask(symbol), market.volume(symbol))
        if self._sampled.get(symbol) == state or state == (None, None, 0):
            return
        self._sampled[symbol] = state
        self.intake.record(MarketSample(symbol, state[0], state[1], state[2], market.notional(symbol)), now)
        self.samples_taken += 1

    def arrival_mid(self, symbol: str, now: float) -> Decimal | None:
        """The live consolidated mid of ``symbol`` for an order accepted at ``now`` (the ack's arrival
        benchmark), journaled as a market sample at that instant if the market moved since the last
        one: post-trade TCA then measures against the very mid the client was told, not one up to
        ``market_sample_s`` older."""
        mid = self.market.mid(symbol)
        if mid is not None and self.settings.market_sample_s > 0:
            self._sample_symbol(symbol, now)
        return mid

    def _worked_for(self, parent_id: str) -> _Worked:
        worked = self._worked.get(parent_id)
        if worked is None:
            worked = self._worked[parent_id] = _Worked(parent_id)
        return worked

    def _wanted(self, parent_id: str) -> int:
        parent = self.intake.parent(parent_id)
        return parent.wanted_qty if parent is not None else 0

    def _sync_parent(self, parent_id: str) -> None:
        worked = self._worked.get(parent_id)
        self.intake.set_working(parent_id, worked.working() if worked is not None else 0)

    def _sync_working(self) -> None:
        """Tell the parent book what is out at venues, so internal crossing never double-fills it."""
        for parent in list(self.intake.parents()):
            worked = self._worked.get(parent.parent_id)
            self.intake.set_working(parent.parent_id, worked.working() if worked is not None else 0)

    def _alerts_from_guard(self, actions: Actions, now: float) -> None:
        alerts = self.guard.alerts[self._alerts_seen:]
        self._alerts_seen = len(self.guard.alerts)
        for alert in alerts:
            actions.alerts.append(alert.text)
            self.intake.record(ParentHalted(alert.parent_id, alert.text), now)
            worked = self._worked.get(alert.parent_id)
            if worked is not None:
                for child in list(worked.children.values()):
                    self._cancel(child, now, actions, "parent halted by the parent/child control")

    def open_children(self) -> list[ChildOrder]:
        return [c for w in self._worked.values() for c in w.children.values()]



#: Reports that may show executions we missed, and may close the child.
_STATUS_OR_CLOSING: Final = frozenset({ExecKind.STATUS, ExecKind.CANCELED, ExecKind.EXPIRED, ExecKind.REJECTED,
                                       ExecKind.DONE_FOR_DAY})
#: A closed child's state as its placement is told it.
_OUTCOMES: Final = {ChildState.FILLED: ChildOutcome.FILLED, ChildState.CANCELED: ChildOutcome.CANCELED,
                    ChildState.REJECTED: ChildOutcome.REJECTED}
#: Corrections of past executions: never applied automatically (an operator reconciles them).
_NOT_APPLIED: Final = {ExecKind.TRADE_CANCEL: "trade cancel", ExecKind.TRADE_CORRECT: "trade correction",
                       ExecKind.RESTATED: "restatement"}


def _end_reason(order: ClientOrder, end: float | None, now: float) -> str:
    """Why an order is ended unfilled at ``now``: its ExpireTime or its trading day passed, or (an
    odd-lot remainder ended with its parent's window, before its own end) the window ended."""
    if end is None or now < end:
        return "execution window ended"
    return "ExpireTime passed" if order.mandate.end_time else "end of trading day"


def _unfilled(order: ClientOrder) -> str:
    return f" with {order.leaves_qty} of {order.qty} unfilled"


def _on_tick(price: Decimal, tick: Decimal, direction: int) -> Decimal:
    """Round a price onto the venue's tick grid, never more aggressive than asked."""
    ticks = (price / tick).to_integral_value(ROUND_FLOOR if direction > 0 else ROUND_CEILING)
    return ticks * tick
