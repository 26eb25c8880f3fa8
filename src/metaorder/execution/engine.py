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
3. **Route.**  Each intent goes to the router, which answers with venue orders; each one passes the
   guard (filled + working + new ≤ limit, independently of strategy and router code) before a child
   is created and journaled — *before* its NewOrderSingle leaves, so a crash can never leave an order
   at a venue that the engine does not know about.

Venue ExecutionReports update the child, and fills go through
:meth:`~metaorder.orders.intake.Intake.on_parent_fill` (pro-rata allocation and one report per client
order).  A fill that exceeds what the parent's orders still want — a venue over-fill, or a cancel
that raced a fill — is never allocated beyond any order's leaves: the excess is journaled as
``parent.overfill``, the guard halts the parent and an alert is raised.

Resting passive children are re-posted when they are older than ``passive_max_age_s`` (a quote
that the market walked away from should not hold the schedule hostage).  A venue that rejects a
child is excluded for that parent for ``reject_cooldown_s``; one that disconnects, halts or closes
drops out of the market view and so out of routing, and after its next logon every open child
there is reconciled with an OrderStatusRequest before the engine trusts its state again.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Final

import structlog

from metaorder.execution.children import ChildOrder, ChildState, Fields
from metaorder.execution.control import ParentGuard
from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.router import Router
from metaorder.execution.strategies import StrategyRegistry
from metaorder.execution.strategy import Decision, Strategy
from metaorder.execution.tradingday import end_of_day
from metaorder.execution.types import ParentState, Style, VenueInfo, VenueKind, VenueOrder, VenueStatus
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
from metaorder.orders.intake import Intake, Outgoing
from metaorder.orders.journal import JournalEntry
from metaorder.orders.model import ParentOrder

log = structlog.get_logger("metaorder.execution")

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
    max_idle_s: float = 1.0  # a parent is looked at at least this often
    stale_market_s: float = 30.0  # a lit venue whose market data is older than this is not routed to
    expiry_grace_s: float = 2.0  # an order is expired this long after its ExpireTime if still unfilled
    seed: int = 1  # strategies' random timing: the same seed gives the same schedule

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


@dataclass(slots=True, eq=False)
class _Worked:
    """The engine's side of one parent: strategy, children and what they executed."""

    parent_id: str
    strategy: Strategy | None = None
    filled: int = 0  # executed at venues
    children: dict[str, ChildOrder] = field(default_factory=dict)  # open children by ClOrdID
    wake_at: float = 0.0  # when its strategy wants to decide again (0: at the next tick)
    scheduled: float = -1.0  # the time it is queued under in the engine's wake-up heap
    excluded: dict[str, float] = field(default_factory=dict)  # venue -> until

    def working(self) -> int:
        return sum(c.leaves_qty for c in self.children.values())


class ExecutionEngine:
    def __init__(
        self,
        intake: Intake,
        market: ConsolidatedMarket,
        venues: Mapping[str, VenueInfo],
        router: Router,
        guard: ParentGuard,
        instruments: Mapping[str, InstrumentRules],
        settings: ExecutionSettings = ExecutionSettings(),
        strategies: StrategyRegistry | None = None,  # the strategies and their tunables (default: defaults)
    ) -> None:
        self.intake = intake
        self.market = market
        self.venues = dict(venues)
        self.router = router
        self.guard = guard
        self.instruments = instruments
        self.settings = settings
        self._strategies = strategies if strategies is not None else StrategyRegistry()
        self._worked: dict[str, _Worked] = {}
        self._children: dict[str, ChildOrder] = {}  # every child of the run by any ClOrdID it carried
        self._ids = itertools.count(1)
        self._boot = 0
        self._md_ids = itertools.count(1)
        self.connected: set[str] = set()
        self.executed_qty = 0  # shares executed at venues since start (all parents)
        self.venue_fills = 0
        self._alerts_seen = 0  # guard alerts already acted on
        self.suspended = False  # the kill switch: no new children while engaged
        self._reported_stale: frozenset[str] = frozenset()
        self._heap: list[tuple[float, str]] = []  # (when, parent id): parents by the time they are due
        self._dirty: set[str] = set()  # parents to attend to at the next tick, whatever their time
        self._halted_in_journal: set[str] = set()  # recovery: parents halted before the restart

    # ---- lifecycle ----------------------------------------------------------------------------

    def start(self, boot: int) -> None:
        """``boot``: this run's journal sequence of ``engine.started``, the prefix of unique ClOrdIDs."""
        self._boot = boot

    def replay(self, entry: JournalEntry) -> None:
        """Recovery, one journal entry at a time (the intake's replay hands each one on, so the
        journal is read once at start-up): children, their executions and halts."""
        data = entry.data
        kind = entry.kind
        if kind == "child.placed":
            price = data.get("price")
            child = ChildOrder(
                data["child_id"], data["parent_id"], data["venue"], data["symbol"],
                1 if data["side"] == "1" else -1, int(data["qty"]),
                Decimal(price) if price is not None else None, bool(data["ioc"]), entry.time,
                data.get("reason", ""),
            )
            self._children[child.child_id] = child
            self._worked_for(child.parent_id).children[child.child_id] = child
        elif kind == "child.acked":
            child = self._children[data["child_id"]]
            child.venue_order_id = data.get("venue_order_id")
            child.state = ChildState.NEW
        elif kind == "venue.execution":
            child = self._children[data["child_id"]]
            qty, price = int(data["qty"]), Decimal(data["price"])
            child.exec_ids.add(data["exec_id"])
            child.cum_qty += qty
            child.notional += qty * price
            self._worked_for(child.parent_id).filled += qty
            self.executed_qty += qty
            if child.cum_qty >= child.qty:
                child.state = ChildState.FILLED
        elif kind in ("child.canceled", "child.rejected"):
            child = self._children[data["child_id"]]
            child.state = ChildState.CANCELED if kind == "child.canceled" else ChildState.REJECTED
        elif kind == "child.cancel_requested":
            self._children[data["child_id"]].cancels_sent += 1  # cancel ClOrdIDs never repeat
        elif kind == "parent.halted":
            self._halted_in_journal.add(data["parent_id"])

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
            return self._on_cancel_reject(venue, report)
        if isinstance(report, UnreadableReport):
            return self._on_unreadable(venue, report)
        if report is None:
            return Actions()
        before = self.market.status(venue)
        self.market.apply(venue, report, now)
        after = self.market.status(venue)
        if after is not before:
            log.warning("venue trading status changed", venue=venue, status=after.value, was=before.value)
        return Actions()

    # ---- the decision loop ----------------------------------------------------------------------

    def next_wakeup(self) -> float | None:
        """The earliest time a parent wants attention (None: nothing is being worked)."""
        if self._dirty or self.intake.book.changed:
            return 0.0
        heap = self._heap
        while heap:
            when, parent_id = heap[0]
            worked = self._worked.get(parent_id)
            if worked is not None and worked.scheduled == when:
                return when
            heapq.heappop(heap)  # superseded by a later schedule, or the parent is gone
        return None

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
        for parent in self.intake.book.parents():
            self._mark(parent.parent_id)

    def on_tick(self, now: float) -> Actions:
        """Attend to the parents that are due: changed in the book, touched by a venue report, or
        whose own time came (strategy wake-up, a passive child to re-post, an ExpireTime).  Parents
        with nothing due cost nothing, however many there are."""
        actions = Actions()
        due = self._dirty | self.intake.book.take_changed()
        self._dirty = set()
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, parent_id = heapq.heappop(heap)
            worked = self._worked.get(parent_id)
            if worked is not None and worked.scheduled == when:
                worked.scheduled = -1.0
                due.add(parent_id)
        for parent_id in sorted(due):  # sorted: the same order every run (reproducible simulations)
            self._attend(parent_id, now, actions)
        self._alerts_from_guard(actions, now)
        return actions

    def _attend(self, parent_id: str, now: float, actions: Actions) -> None:
        worked = self._worked_for(parent_id)
        parent = self.intake.book.parent(parent_id)
        if parent is not None:
            expiring = self._expire_due(parent, worked, now, actions)
            if expiring == "expired":
                parent = self.intake.book.parent(parent_id)
        else:
            expiring = ""
        if parent is None:
            self._close_parent(worked, now, actions)
        elif expiring != "waiting":  # while children are pulled for orders about to expire: nothing new
            wanted = parent.wanted_qty
            self.guard.set_limit(parent_id, worked.filled + wanted)
            self._fit_to_wanted(worked, wanted, now, actions)
            self._repost_stale(worked, now, actions)
            if self.suspended or self.guard.halted(parent_id):
                worked.wake_at = now + self.settings.max_idle_s  # nothing to decide until released
            elif now >= worked.wake_at:
                self._decide(parent, worked, wanted, now, actions)
        self._sync_parent(parent_id)
        if parent_id in self._worked:
            self._schedule(worked, parent, now)

    def _schedule(self, worked: _Worked, parent: ParentOrder | None, now: float) -> None:
        """Queue the parent for the earliest of: its strategy's wake-up, its oldest resting passive
        child's re-post time, its earliest ExpireTime (plus the grace)."""
        when = worked.wake_at
        age = self.settings.passive_max_age_s
        for child in worked.children.values():
            if not child.ioc and not child.cancel_requested:
                when = min(when, child.sent_at + age)
        if parent is not None and parent.earliest_expire_time is not None:
            expiry = parent.earliest_expire_time + self.settings.expiry_grace_s
            if expiry > now:
                when = min(when, expiry)
        when = max(when, now + MIN_RESCHEDULE_S)
        if when != worked.scheduled:
            worked.scheduled = when
            heapq.heappush(self._heap, (when, worked.parent_id))

    def _mark(self, parent_id: str) -> None:
        """Decide for this parent at the next tick (a fill, a closed child, a touch)."""
        self._worked_for(parent_id).wake_at = 0.0
        self._dirty.add(parent_id)

    def _expire_due(self, parent: ParentOrder, worked: _Worked, now: float, actions: Actions) -> str:
        """Orders past their ExpireTime: pull the parent's children first, then expire the orders.

        Expiring while children are out would let a late fill find no order to go to; so the
        children are canceled first and the orders expire once nothing is working (or, if a venue
        never answers the cancels, ``expiry_grace_s`` later still).

        An odd-lot remainder that no open venue accepts (see :meth:`_stranded_odd`) is said so in
        the Text; and once it is all a parent has left, its orders end at the parent's window end
        (+ the grace) even without an ExpireTime: it is never left working silently.  Until then
        internal crossing may still fill it.
        """
        grace = self.settings.expiry_grace_s
        odd = self._stranded_odd(parent)
        if odd and parent.wanted_qty == odd and not worked.working():
            _, window_end, _ = parent.window(self.settings.default_end)
            if now >= window_end + grace:
                why = self._odd_lot_text(parent.key.symbol, odd)
                log.warning("odd-lot remainder ended", parent_id=parent.parent_id, qty=odd, text=why)
                for order in [o for o in parent.children if o.leaves_qty]:
                    text = f"execution window ended with {order.leaves_qty} of {order.qty} unfilled: {why}"
                    actions.client.append(self.intake.expire(order, now, text))
                return "expired"
        first_end = parent.earliest_expire_time
        if first_end is None or now < first_end + grace:
            return ""
        due = [o for o in parent.children if o.mandate.end_time is not None and now >= o.mandate.end_time + grace]
        if not due:
            return ""
        if worked.working() and now < max(o.mandate.end_time or now for o in due) + 2 * grace:
            for child in list(worked.children.values()):
                self._cancel(child, now, actions, "execution window ended")
            worked.wake_at = now + min(grace, self.settings.max_idle_s)
            return "waiting"
        why = self._odd_lot_text(parent.key.symbol, odd) if odd else ""
        for order in due:
            text = f"ExpireTime passed with {order.leaves_qty} of {order.qty} unfilled: {why}" if why else ""
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
        state = self._state(parent, worked, wanted)
        if worked.strategy is None:
            worked.strategy = self._make_strategy(parent, state)
            log.info("working parent", parent_id=parent.parent_id, symbol=state.symbol,
                     side="buy" if state.direction > 0 else "sell", qty=state.target_qty, orders=len(parent.children),
                     strategy=parent.key.strategy.name, limit=str(state.limit) if state.limit else "market",
                     window_s=round(state.end_time - max(state.start_time, now), 1))
        decision: Decision = worked.strategy.decide(state, self.market, now)
        limit_bound = self._limit_out_of_reach(parent)
        if decision.cancel_working:
            for child in list(worked.children.values()):
                # A child resting at the limit while the market is beyond it is as aggressive as the
                # clients allow: pulling it would only lose its place in the queue.
                if not child.ioc and not (limit_bound and child.price == parent.key.limit):
                    self._cancel(child, now, actions, "strategy pulled resting children")
        exclude = frozenset(v for v, until in worked.excluded.items() if until > now)
        exclude |= frozenset(v for v in self.venues if v not in self.connected)
        exclude |= self._stale_venues(now)
        lot = self.instruments[parent.key.symbol].lot_size
        for intent in decision.intents:
            routed = 0
            for order in self.router.route(intent, self.market, self.venues, lot, now, exclude):
                routed += self._place(worked, order, now, actions, intent.reason)
            if limit_bound and intent.style is Style.AGGRESSIVE and routed < intent.qty:
                # Nothing to take within the limit: rest the remainder at the limit instead, so the
                # order is there when the market comes back to it.
                rest = dataclasses.replace(intent, qty=intent.qty - routed, style=Style.PASSIVE,
                                           reason=f"{intent.reason}; market beyond the limit: rest at the limit")
                for order in self.router.route(rest, self.market, self.venues, lot, now, exclude):
                    self._place(worked, order, now, actions, rest.reason)
        wake = decision.wake_at if decision.wake_at is not None else now + self.settings.max_idle_s
        worked.wake_at = min(max(wake, now), now + self.settings.max_idle_s)

    def _limit_out_of_reach(self, parent: ParentOrder) -> bool:
        """Is the far touch beyond the parent's limit (nothing can be taken at an acceptable price)?"""
        limit = parent.key.limit
        if limit is None:
            return False
        if parent.key.direction > 0:
            ask = self.market.best_ask(parent.key.symbol)
            return ask is None or ask > limit
        bid = self.market.best_bid(parent.key.symbol)
        return bid is None or bid < limit

    def _stale_venues(self, now: float) -> frozenset[str]:
        """Lit venues whose market data stopped: their quotes cannot be trusted for routing."""
        stale = frozenset(name for name, info in self.venues.items() if info.kind is VenueKind.LIT
                          and name in self.connected
                          and self.market.stale(name, now, self.settings.stale_market_s))
        for name in stale - self._reported_stale:
            log.warning("market data stopped: venue not routed to until it resumes", venue=name,
                        max_age_s=self.settings.stale_market_s)
        self._reported_stale = stale
        return stale

    def _state(self, parent: ParentOrder, worked: _Worked, wanted: int) -> ParentState:
        orders = parent.children
        # The parent finishes by its most urgent order's end (the earliest): allocation is pro-rata,
        # so a parent worked to a later end would leave the earliest order partly filled at its
        # ExpireTime; orders with later ends finish early instead, which their windows allow.
        start, end, _ = parent.window(self.settings.default_end)
        first = orders[0].mandate
        return ParentState(
            parent_id=parent.parent_id, symbol=parent.key.symbol, direction=parent.key.direction,
            target_qty=worked.filled + wanted, filled_qty=worked.filled, working_qty=worked.working(),
            limit=parent.key.limit, start_time=start, end_time=max(end, start),
            participation_rate=parent.participation_rate, urgency=parent.key.urgency.value,
            aggressiveness=first.aggressiveness.value, lot_size=self.instruments[parent.key.symbol].lot_size,
        )

    def _make_strategy(self, parent: ParentOrder, state: ParentState) -> Strategy:
        kind = parent.key.strategy.name
        seed = self.settings.seed * 1_000_003 + sum(map(ord, parent.parent_id))
        if kind not in self._strategies:
            log.warning("strategy not available yet: worked as TWAP", parent_id=parent.parent_id, strategy=kind)
            self.intake.journal.append(state.start_time, "parent.strategy", [parent.parent_id], {
                "parent_id": parent.parent_id, "requested": kind, "used": "TWAP",
                "text": f"{kind} is not available yet; worked as TWAP"})
            kind = "TWAP"
        return self._strategies.make(kind, state, seed)

    # ---- children -------------------------------------------------------------------------------

    def _place(self, worked: _Worked, order: VenueOrder, now: float, actions: Actions, reason: str) -> int:
        """Create, journal and send one child; returns its quantity (0 when the guard refused it).

        Whole lots, except at a venue that accepts odd lots, where the router sends a parent's odd
        remainder (any other venue would reject it, or the remainder would never leave)."""
        rules = self.instruments[order.symbol]
        info = self.venues.get(order.venue)
        qty = order.qty if info is not None and info.odd_lots else order.qty - order.qty % rules.lot_size
        if qty <= 0:
            return 0
        price = _on_tick(order.price, rules.tick_size, order.direction) if order.price is not None else None
        if not self.guard.allow(worked.parent_id, qty, now):
            self._alerts_from_guard(actions, now)
            return 0
        child = ChildOrder(f"C{self._boot}.{next(self._ids)}", worked.parent_id, order.venue, order.symbol,
                           order.direction, qty, price, order.ioc, now, reason)
        self._children[child.child_id] = child
        worked.children[child.child_id] = child
        self.intake.journal.append(now, "child.placed", [worked.parent_id, child.child_id], {
            "parent_id": worked.parent_id, "child_id": child.child_id, "venue": child.venue, "symbol": child.symbol,
            "side": child.side, "qty": qty, "price": price, "ioc": child.ioc, "reason": reason,
            "expected_cost": order.expected_cost,
        })
        actions.venue.append((child.venue, MsgType.NEW_ORDER_SINGLE, new_order_single(child, now)))
        return qty

    def _cancel(self, child: ChildOrder, now: float, actions: Actions, reason: str) -> None:
        if child.cancel_requested or not child.state.open or child.venue not in self.connected:
            return
        child.cancel_requested = True
        cancel_id = child.next_cancel_id()
        body = cancel_request(child, cancel_id, now)
        self._children[cancel_id] = child
        self.intake.journal.append(now, "child.cancel_requested", [child.parent_id, child.child_id], {
            "parent_id": child.parent_id, "child_id": child.child_id, "venue": child.venue, "reason": reason})
        actions.venue.append((child.venue, MsgType.ORDER_CANCEL_REQUEST, body))

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
        limit = self.settings.passive_max_age_s
        for child in list(worked.children.values()):
            if not child.ioc and now - child.sent_at > limit:
                self._cancel(child, now, actions, f"passive child resting more than {limit:g} s: re-decide")

    def _close_parent(self, worked: _Worked, now: float, actions: Actions) -> None:
        """The parent is done or gone: pull what is still out; forget it once nothing is."""
        for child in list(worked.children.values()):
            self._cancel(child, now, actions, "parent is done")
        if not worked.children:
            del self._worked[worked.parent_id]
            if worked.strategy is not None:
                log.info("parent done", parent_id=worked.parent_id, executed_at_venues=worked.filled)
        else:
            worked.wake_at = now + self.settings.max_idle_s

    # ---- venue reports --------------------------------------------------------------------------

    def _child_of(self, cl_ord_id: str | None, other_id: str | None) -> ChildOrder | None:
        """The child a venue message is about: by the ClOrdID it names, else by the other one."""
        return self._children.get(cl_ord_id or "") or self._children.get(other_id or "")

    def _on_execution_report(self, venue: str, report: VenueExecutionReport, now: float) -> Actions:
        actions = Actions()
        child = self._child_of(report.cl_ord_id, report.orig_cl_ord_id)
        if child is None:
            log.warning("execution report for an unknown child", venue=venue, cl_ord_id=report.cl_ord_id,
                        exec_type=report.kind.value)
            return actions
        worked = self._worked_for(child.parent_id)
        kind = report.kind
        if kind is ExecKind.ACK and child.state is ChildState.PENDING_NEW:
            child.state = ChildState.NEW
            child.venue_order_id = report.venue_order_id
            self.intake.journal.append(now, "child.acked", [child.parent_id, child.child_id], {
                "parent_id": child.parent_id, "child_id": child.child_id, "venue": venue,
                "venue_order_id": child.venue_order_id})
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
        liquidity = report.liquidity.value if report.liquidity is not None else ""
        self._execution(worked, child, venue, exec_id, qty, price, liquidity, now, actions, fee=report.fee)
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
        self.executed_qty += qty
        self.venue_fills += 1
        self.intake.journal.append(now, "venue.execution", [child.parent_id, child.child_id], {
            "parent_id": child.parent_id, "child_id": child.child_id, "venue": venue, "exec_id": exec_id,
            "qty": qty, "price": price, "liquidity": liquidity, "fee": fee})
        actions.street.append((venue, execution_copy(child, exec_id, qty, price, liquidity, fee, now)))
        self.guard.on_fill(child.parent_id, qty)
        parent = self.intake.book.parent(child.parent_id)
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
            self.intake.journal.append(now, "parent.overfill", [child.parent_id, child.child_id], {
                "parent_id": child.parent_id, "child_id": child.child_id, "venue": venue, "qty": qty - allocated,
                "price": price, "text": text})
            actions.alerts.append(text)
        self._alerts_from_guard(actions, now)  # a fill beyond what was working halts the parent at once
        self._mark(worked.parent_id)  # recalibrate after every fill

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
        kind = "child.rejected" if rejected else "child.canceled"
        child.state = ChildState.REJECTED if rejected else ChildState.CANCELED
        worked.children.pop(child.child_id, None)
        self.guard.on_child_closed(child.parent_id, leaves)
        text = report.text
        self.intake.journal.append(now, kind, [child.parent_id, child.child_id], {
            "parent_id": child.parent_id, "child_id": child.child_id, "venue": venue, "reason": text, "text": text,
            "leaves_qty": leaves})
        if rejected and report.kind is ExecKind.REJECTED:
            worked.excluded[venue] = now + self.settings.reject_cooldown_s
            log.info("venue rejected a child: re-routing", venue=venue, child_id=child.child_id, text=text)
        self._alerts_from_guard(actions, now)
        self._mark(worked.parent_id)

    def _on_cancel_reject(self, venue: str, reject: VenueCancelReject) -> Actions:
        """A cancel was refused: too late (it filled or is gone) or unknown there.  Ask for the
        child's true state instead of cancelling again and again; its answer decides."""
        actions = Actions()
        child = self._child_of(reject.orig_cl_ord_id, reject.cl_ord_id)
        if child is None or not child.state.open:
            return actions
        if reject.reason is CancelRejectReason.UNKNOWN_ORDER or (reject.state is not None and reject.state.final):
            # cancel_requested stays set meanwhile
            actions.venue.append((venue, MsgType.ORDER_STATUS_REQUEST, status_request(child)))
        else:
            child.cancel_requested = False
        return actions

    # ---- helpers --------------------------------------------------------------------------------

    def _worked_for(self, parent_id: str) -> _Worked:
        worked = self._worked.get(parent_id)
        if worked is None:
            worked = self._worked[parent_id] = _Worked(parent_id)
        return worked

    def _wanted(self, parent_id: str) -> int:
        parent = self.intake.book.parent(parent_id)
        return parent.wanted_qty if parent is not None else 0

    def _sync_parent(self, parent_id: str) -> None:
        parent = self.intake.book.parent(parent_id)
        if parent is not None:
            worked = self._worked.get(parent_id)
            parent.working_qty = worked.working() if worked is not None else 0

    def _sync_working(self) -> None:
        """Tell the parent book what is out at venues, so internal crossing never double-fills it."""
        for parent in self.intake.book.parents():
            worked = self._worked.get(parent.parent_id)
            parent.working_qty = worked.working() if worked is not None else 0

    def _alerts_from_guard(self, actions: Actions, now: float) -> None:
        alerts = self.guard.alerts[self._alerts_seen:]
        self._alerts_seen = len(self.guard.alerts)
        for alert in alerts:
            actions.alerts.append(alert.text)
            self.intake.journal.append(now, "parent.halted", [alert.parent_id], {
                "parent_id": alert.parent_id, "text": alert.text})
            worked = self._worked.get(alert.parent_id)
            if worked is not None:
                for child in list(worked.children.values()):
                    self._cancel(child, now, actions, "parent halted by the parent/child control")

    def open_children(self) -> list[ChildOrder]:
        return [c for w in self._worked.values() for c in w.children.values()]



#: Reports that may show executions we missed, and may close the child.
_STATUS_OR_CLOSING: Final = frozenset({ExecKind.STATUS, ExecKind.CANCELED, ExecKind.EXPIRED, ExecKind.REJECTED,
                                       ExecKind.DONE_FOR_DAY})
#: Corrections of past executions: never applied automatically (an operator reconciles them).
_NOT_APPLIED: Final = {ExecKind.TRADE_CANCEL: "trade cancel", ExecKind.TRADE_CORRECT: "trade correction",
                       ExecKind.RESTATED: "restatement"}


def _on_tick(price: Decimal, tick: Decimal, direction: int) -> Decimal:
    """Round a price onto the venue's tick grid, never more aggressive than asked."""
    ticks = (price / tick).to_integral_value(ROUND_FLOOR if direction > 0 else ROUND_CEILING)
    return ticks * tick
