"""Order intake as sans-IO code: OMS messages in, execution reports and journal entries out.

For each NewOrderSingle: normalize (meaning, mandate) → pre-trade risk → the parent book
(internal crossing, then aggregation) → journal → execution reports.  Cancel, replace and status
requests act on the client order and, through the book, on its parent.

Every accepted order and every change to it is recorded in the journal *before* any report about
it is produced; the caller sends the reports only once the journal's flush has completed, so a
kill -9 can lose nothing that a counterparty was told.  What is recorded is a typed event
(:mod:`metaorder.events`: ``OrderAccepted``, ``Crossed``, ``ParentFilled``, ...), written through
:meth:`Intake.record` and the journal's one codec (:mod:`metaorder.eventcodec`; the accepted order,
on the hot path, through its ``append_order_accepted``: the same row without the event object); the execution
engine and the operator's actions record theirs through the same method instead of reaching into
the journal.  :meth:`Intake.recover` rebuilds every open order and parent at start-up by decoding
the journal once and folding each event into :meth:`Intake.apply` (and the engine's ``apply``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Final, assert_never

from metaorder.eventcodec import Recorded, append_order_accepted, decode_entry
from metaorder.eventcodec import append as record_event
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
from metaorder.fix.codec import Message
from metaorder.orders.allocation import allocate, apply
from metaorder.orders.book import INTERNAL, BookError, BookFold, Cross, ParentBook
from metaorder.orders.finished import FinishedOrders
from metaorder.orders.journal import Journal
from metaorder.orders.messages import (
    CancelReject,
    CancelRejectReason,
    CancelRejectTo,
    CancelRequest,
    ExecutionReport,
    NewOrderRequest,
    NoOrderReport,
    OmsRequest,
    Outgoing,
    ReplaceRequest,
    ReportKind,
    StatusRequest,
)
from metaorder.orders.model import ClientOrder, OrderStatus, OrderType, ParentOrder
from metaorder.orders.normalize import IntakeDefaults, NormalizeError, normalize_new_order
from metaorder.orders.oms_fix import read_oms_message
from metaorder.orders.risk import RejectReason, RiskEngine, RiskFold

__all__ = ["Intake", "Outgoing"]  # Outgoing lives in orders.messages; imported from here by the shells

_ZERO = Decimal(0)
_DAY_S = 86400
#: :meth:`Intake.fold_state`: open orders by OrderID, by (session, ClOrdID), the day's finished orders
#: packed, the trading day, the crossed quantity, the highest order, arrival and parent numbers
#: replayed, the book's and risk's fold state.
IntakeFold = tuple[dict[str, ClientOrder], dict[tuple[str, str], ClientOrder], FinishedOrders, int | None, int, int,
                   int, int, BookFold, RiskFold]

# Report kinds and reasons bound once: an enum member looked up on its class costs ~0.1 us in Python.
_NEW: Final = ReportKind.NEW
_CANCELED: Final = ReportKind.CANCELED
_REPLACED: Final = ReportKind.REPLACED
_FILL: Final = ReportKind.FILL
_EXPIRED: Final = ReportKind.EXPIRED
_STATUS: Final = ReportKind.STATUS
_REJECTED: Final = ReportKind.REJECTED
_TO_CANCEL: Final = CancelRejectTo.CANCEL
_TO_REPLACE: Final = CancelRejectTo.REPLACE
_TOO_LATE: Final = CancelRejectReason.TOO_LATE
_UNKNOWN_ORDER: Final = CancelRejectReason.UNKNOWN_ORDER
_DUPLICATE_CL_ORD_ID: Final = CancelRejectReason.DUPLICATE_CL_ORD_ID
_OTHER: Final = CancelRejectReason.OTHER


class Intake:
    def __init__(
        self,
        symbols: Mapping[str, Decimal],
        risk: RiskEngine,
        journal: Journal,
        book: ParentBook,
        defaults: IntakeDefaults = IntakeDefaults(),
    ) -> None:
        self.symbols = symbols
        self.risk = risk
        self.journal = journal
        self.book = book
        self.defaults = defaults
        self._orders: dict[str, ClientOrder] = {}  # today's orders and older open ones, by OrderID
        self._by_cl: dict[tuple[str, str], ClientOrder] = {}  # (session, ClOrdID) -> order
        # Today's orders finished before the recovery snapshot this run started from, packed (not in
        # the two maps above; see :meth:`fold_state`).
        self._finished = FinishedOrders()
        self._ids = itertools.count(1)
        self._arrivals = itertools.count(1)
        self._exec_ids = itertools.count(1)
        self._boot = 0
        self._day: int | None = None  # the trading day of the last event (see _advance_day)
        self.crossed_qty = 0
        # The acknowledgement's Text: what the order will do (orders/describe.py, wired with the
        # engine's end of day).  None: a bare acknowledgement.
        self.describe: Callable[[ClientOrder], str] | None = None
        # Recovery only (see apply): the highest OrderID, arrival and parent numbers replayed.
        self._top_id = self._top_arrival = self._top_parent = 0

    # ---- requests ---------------------------------------------------------------------------

    def on_message(self, session: str, msg: Message, now: float) -> list[Outgoing]:
        """An OMS message, read by the OMS adapter (FIX ends there)."""
        return self.on_request(session, read_oms_message(msg), now)

    def on_request(self, session: str, request: OmsRequest | None, now: float) -> list[Outgoing]:
        """A client's request; ``None`` (a message the intake does not handle) gets no report."""
        self._advance_day(now)
        if isinstance(request, NewOrderRequest):
            return self.new_order(session, request, now)
        if isinstance(request, CancelRequest):
            return self.cancel(session, request, now)
        if isinstance(request, ReplaceRequest):
            return self.replace(session, request, now)
        if isinstance(request, StatusRequest):
            return self.status(session, request, now)
        return []

    def new_order(self, session: str, request: NewOrderRequest, now: float) -> list[Outgoing]:
        order_id = f"O{next(self._ids)}"
        try:
            order = normalize_new_order(request, session, now, order_id, next(self._arrivals), self.symbols,
                                        self.defaults)
        except NormalizeError as exc:
            return [self._reject(session, request, exc.reason, exc.text, now)]
        verdict = self.risk.check(order, now)
        if verdict is not None:
            return [self._reject(session, request, verdict.reason, verdict.text, now)]
        # Acknowledged as it arrived: crossing below fills it, and each fill gets its own report.
        describe = self.describe
        ack = self._report(order, _NEW, now, text=describe(order) if describe is not None else "")
        crosses, parent = self.book.add(order, now)
        self._orders[order.order_id] = order
        self._by_cl[(session, order.cl_ord_id)] = order
        # OrderAccepted.of(order, parent id), written without making the event object (the hot path).
        append_order_accepted(self.journal, now, order, parent.parent_id if parent is not None else None)
        if crosses:
            return [ack, *self._crossed(crosses, now)]
        return [ack]

    def cancel(self, session: str, request: CancelRequest, now: float) -> list[Outgoing]:
        order = self._find(session, request.orig_cl_ord_id)
        if order is None:
            text = f"unknown order {request.orig_cl_ord_id!r}"
            return [self._cancel_reject(session, request, None, _TO_CANCEL, _UNKNOWN_ORDER, text)]
        if not order.leaves_qty:
            text = f"too late to cancel: order is {order.status.name.lower()}"
            return [self._cancel_reject(session, request, order, _TO_CANCEL, _TOO_LATE, text)]
        # A cancel whose Symbol or Side is not the order's was meant for another order (or the OMS's
        # view of this one is wrong): refuse it, as a replace is refused (CxlRejReason 99), rather than
        # cancel what the request does not describe.  Side is compared exactly: sell short (5) is not sell (2).
        for name, theirs, mine in (("Symbol", request.symbol, order.symbol), ("Side", request.side, order.side.value)):
            if theirs is not None and theirs != mine:
                text = f"{name} {theirs} does not match the order's {mine}"
                return [self._cancel_reject(session, request, order, _TO_CANCEL, _OTHER, text)]
        cancel_id = request.cl_ord_id
        if cancel_id:
            duplicate = self.risk.claim_cl_ord_id(session, cancel_id)
            if duplicate is not None:
                return [self._cancel_reject(session, request, order, _TO_CANCEL, _DUPLICATE_CL_ORD_ID, duplicate.text)]
        self.book.cancel(order)
        self.risk.on_order_done(order)
        self._rename(order, cancel_id)
        self.record(OrderCanceled(order.order_id, order.cl_ord_id), now)
        return [self._report(order, _CANCELED, now)]

    def replace(self, session: str, request: ReplaceRequest, now: float) -> list[Outgoing]:
        order = self._find(session, request.orig_cl_ord_id)
        if order is None:
            text = f"unknown order {request.orig_cl_ord_id!r}"
            return [self._cancel_reject(session, request, None, _TO_REPLACE, _UNKNOWN_ORDER, text)]
        if not order.leaves_qty:
            text = "too late to replace: the order is done"
            return [self._cancel_reject(session, request, order, _TO_REPLACE, _TOO_LATE, text)]
        if request.side != order.side.value:
            text = "Side cannot be changed by a replace"
            return [self._cancel_reject(session, request, order, _TO_REPLACE, _OTHER, text)]
        if request.symbol not in (None, order.symbol):
            text = "Symbol cannot be changed by a replace"
            return [self._cancel_reject(session, request, order, _TO_REPLACE, _OTHER, text)]
        try:
            qty_text = request.order_qty or ""
            new_qty = int(Decimal(qty_text))
            if Decimal(qty_text) != new_qty or new_qty <= order.cum_qty:
                raise ValueError
        except (ArithmeticError, ValueError):
            text = f"OrderQty {request.order_qty!r} must be a whole number of shares above the {order.cum_qty} filled"
            return [self._cancel_reject(session, request, order, _TO_REPLACE, _OTHER, text)]
        new_limit: Decimal | None = order.limit
        if order.ord_type is OrderType.LIMIT:
            try:
                new_limit = Decimal(request.price or "")
                if new_limit <= 0:
                    raise ValueError
            except (ArithmeticError, ValueError):
                text = "a limit order needs a positive Price (44)"
                return [self._cancel_reject(session, request, order, _TO_REPLACE, _OTHER, text)]
        verdict = self.risk.check_replace(order, new_qty, new_limit, now, new_cl_ord_id=request.cl_ord_id)
        if verdict is not None:
            # A replace is refused as a duplicate only for its ClOrdID (no likely-duplicate window).
            reason = _DUPLICATE_CL_ORD_ID if verdict.reason == RejectReason.DUPLICATE_ORDER else _OTHER
            return [self._cancel_reject(session, request, order, _TO_REPLACE, reason, verdict.text)]
        try:
            crosses, parent = self.book.replace(order, new_qty, new_limit, now)
        except BookError as exc:
            return [self._cancel_reject(session, request, order, _TO_REPLACE, _OTHER, str(exc))]
        self._rename(order, request.cl_ord_id)
        self.record(OrderReplaced(order.order_id, order.cl_ord_id, order.qty, order.limit,
                                  parent.parent_id if parent else None, order.orig_cl_ord_id), now)
        if not crosses:
            return [self._report(order, _REPLACED, now)]
        # The replace is reported as of before the crosses it made possible, each cross after it.
        replaced = self._report(order, _REPLACED, now, as_of=_before(crosses)[order.order_id])
        return [replaced, *self._crossed(crosses, now)]

    def status(self, session: str, request: StatusRequest, now: float) -> list[Outgoing]:
        order = self._find(session, request.cl_ord_id)
        if order is None:
            return [Outgoing(session, NoOrderReport(_STATUS, request.cl_ord_id, request.symbol, request.side,
                                                    self._exec_id(), None, f"unknown order {request.cl_ord_id!r}",
                                                    now))]
        return [self._report(order, _STATUS, now)]

    def _find(self, session: str, cl_ord_id: str | None) -> ClientOrder | None:
        """The order this session knows by this ClOrdID today (or an older one still open), if any."""
        key = (session, cl_ord_id or "")
        order = self._by_cl.get(key)
        if order is None and len(self._finished):
            return self._finished.get(*key)
        return order

    def known_orders(self) -> Iterator[ClientOrder]:
        """Every order the intake answers for: open ones, and today's finished ones (those packed
        by a recovery snapshot decoded anew)."""
        yield from self._orders.values()
        yield from self._finished.orders()

    def on_parent_fill(self, parent_id: str, qty: int, price: Decimal, market: str, now: float) -> list[Outgoing]:
        """A parent was filled at a venue: allocate pro-rata to its orders and report each share.

        The allocation is journaled as computed (order by order), so recovery replays exactly the
        same split instead of recomputing it from a state that may differ.
        """
        self._advance_day(now)
        parent = self.book.parent(parent_id)
        if parent is None:
            raise BookError(f"fill for unknown or finished parent {parent_id}")
        # Whole lots of the instrument, except an order's completing odd tail and at most one residue
        # per fill (the lot rule of orders/allocation.py; README, "Lots").
        allocations = allocate(parent.children, qty, price, market, self.defaults.lot_size(parent.key.symbol))
        apply(allocations)
        self.record(ParentFilled(parent_id, qty, price, market, tuple((a.order.order_id, a.qty) for a in allocations)),
                    now)
        out: list[Outgoing] = []
        for a in allocations:
            self.risk.on_fill(a.order, a.qty)
            out.append(self._report(a.order, _FILL, now, fill=(a.qty, a.price, a.market)))
            self.book.remove_if_done(a.order)
        return out

    def cancel_all(self, session: str, now: float, reason: str) -> list[Outgoing]:
        """Cancel every open order of ``session`` (cancel-on-disconnect, kill switch)."""
        self._advance_day(now)
        out: list[Outgoing] = []
        for order in [o for o in self._orders.values() if o.session == session and o.leaves_qty]:
            self.book.cancel(order)
            self.risk.on_order_done(order)
            self.record(OrderCanceled(order.order_id, order.cl_ord_id, reason), now)
            out.append(self._report(order, _CANCELED, now, text=reason))
        return out

    def expire(self, order: ClientOrder, now: float, text: str = "") -> Outgoing:
        """The order's ExpireTime passed with shares unfilled: it is done (ExecType/OrdStatus C).

        ``text``: the engine's own Text when it says more (an odd-lot remainder no venue takes)."""
        self._advance_day(now)
        self.book.cancel(order)
        order.expired = True
        self.risk.on_order_done(order)
        text = text or f"ExpireTime passed with {order.qty - order.cum_qty} of {order.qty} unfilled"
        self.record(OrderExpired(order.order_id, text), now)
        return self._report(order, _EXPIRED, now, text=text)

    # ---- the execution engine's view (execution/ports.py's IntakePort) --------------------------

    def parent(self, parent_id: str) -> ParentOrder | None:
        """A working parent, for the engine (which reads it and changes it only through these methods)."""
        return self.book.parent(parent_id)

    def parents(self) -> Iterator[ParentOrder]:
        return self.book.parents()

    @property
    def has_changes(self) -> bool:
        """Whether some parent's orders joined, left or changed since the engine last took them."""
        return bool(self.book.changed)

    def take_changed(self) -> set[str]:
        return self.book.take_changed()

    def set_working(self, parent_id: str, qty: int) -> None:
        """The engine has ``qty`` of the parent out at venues: crossing leaves that part alone."""
        parent = self.book.parent(parent_id)
        if parent is not None:
            parent.working_qty = qty

    # ---- recovery -----------------------------------------------------------------------------

    def recover(self, also: Callable[[Recorded], None] | None = None, after: int = 0) -> int:
        """Rebuild orders and parents from the journal; returns the number of entries replayed.

        The journal is read and decoded once: each recorded event is folded into the intake
        (:meth:`apply`) and then handed to ``also`` (the execution engine's :meth:`apply`, which
        rebuilds its children from the same pass).  An entry that does not decode stops recovery
        with its :class:`~metaorder.eventcodec.EventDecodeError` (a JournalError): a fact skipped
        would rebuild a wrong state.  ``after``: the seq a recovery snapshot was taken at, whose
        fold state was restored (:meth:`restore_fold_state`): only the entries after it are replayed.
        """
        count = 0
        version = self.journal.event_version
        for entry in self.journal.replay(after):
            count += 1
            rec = decode_entry(entry, version)
            self.apply(rec)
            if also is not None:
                also(rec)
        self._ids = itertools.count(self._top_id + 1)
        self._arrivals = itertools.count(self._top_arrival + 1)  # over every order replayed, not only those kept
        # A parent id is never reused, even after its parent finished: the execution engine and the
        # audit key a parent's children and history by it.
        self.book.continue_parent_ids_after(self._top_parent)
        return count

    def fold_state(self) -> IntakeFold:
        """What :meth:`apply` has built so far, for a recovery snapshot (:mod:`metaorder.snapshot`):
        the orders, the day, the counters recovery continues from, the book's and risk's state.

        The day's finished orders are packed first (:meth:`pack_finished`): a heavy day has more than
        a million, which as order objects were most of a restart's time.  Pickled in one piece with
        the engine's so that the objects they share stay shared; the rest of the intake (limits,
        defaults, the journal) comes from the configuration."""
        self.pack_finished()
        return (self._orders, self._by_cl, self._finished, self._day, self.crossed_qty, self._top_id,
                self._top_arrival, self._top_parent, self.book.fold_state(), self.risk.fold_state())

    def restore_fold_state(self, state: IntakeFold) -> None:
        """Continue recovery from a snapshot's fold state (then :meth:`recover` with ``after``)."""
        (self._orders, self._by_cl, self._finished, self._day, self.crossed_qty, self._top_id, self._top_arrival,
         self._top_parent, book, risk) = state
        self.book.restore_fold_state(book)
        self.risk.restore_fold_state(risk)

    def pack_finished(self) -> None:
        """Move the finished orders out of the order maps into the packed archive (:mod:`.finished`),
        which answers for them as before.  Seconds for a million orders: the snapshotter's work, never
        the live engine's (its event loop would stall)."""
        done = [(key, order) for key, order in self._by_cl.items() if not order.leaves_qty]
        if not done:
            return
        self._finished = self._finished.merged(done)
        self._keep_open_orders()

    def _keep_open_orders(self) -> None:
        """Only open orders stay in the maps by OrderID and by (session, ClOrdID)."""
        self._orders = {oid: o for oid, o in self._orders.items() if o.leaves_qty}
        self._by_cl = {key: o for key, o in self._by_cl.items() if o.leaves_qty}

    def apply(self, rec: Recorded) -> None:
        """Recovery: fold one recorded event into the orders, the parents and risk, as it happened live.

        Events the intake did not record (the engine's, the operator's) change nothing here.
        """
        self._advance_day(rec.time)  # day boundaries replayed where they happened
        event = rec.event
        match event:
            case OrderAccepted():
                order = event.to_order()
                self._orders[order.order_id] = order
                self._by_cl[(order.session, order.cl_ord_id)] = order
                self.book.restore(order, event.parent_id, rec.time)
                self.risk.restore(order)
                self._top_id = max(self._top_id, int(order.order_id[1:]))
                self._top_arrival = max(self._top_arrival, order.arrival_seq)
                self._top_parent = max(self._top_parent, _parent_number(event.parent_id))
            case Crossed():
                qty, price = event.qty, event.price
                for order_id in (event.incoming, event.resting):
                    order = self._orders[order_id]
                    order.cum_qty += qty
                    order.notional += qty * price
                    self.risk.on_fill(order, qty)
                    self.book.remove_if_done(order)
                self.crossed_qty += qty
            case ParentFilled():
                price = event.price
                for order_id, qty in event.allocations:
                    order = self._orders[order_id]
                    order.cum_qty += qty
                    order.notional += qty * price
                    self.risk.on_fill(order, qty)
                    self.book.remove_if_done(order)
            case OrderCanceled():
                order = self._orders[event.order_id]
                if event.cl_ord_id != order.cl_ord_id:  # the cancel request's own ClOrdID
                    self.risk.claim_cl_ord_id(order.session, event.cl_ord_id)
                self._rename(order, event.cl_ord_id)
                self.book.cancel(order)
                self.risk.on_order_done(order)
            case OrderExpired():
                order = self._orders[event.order_id]
                self.book.cancel(order)
                order.expired = True
                self.risk.on_order_done(order)
            case OrderReplaced():
                order = self._orders[event.order_id]
                self._rename(order, event.cl_ord_id)
                if event.parent_id is not None and event.parent_id == order.parent_id:
                    # Amended within its parent: live, it kept its place there (the crossing
                    # order) and the parent its start, even when it was the parent's only order.
                    order.qty, order.limit = event.qty, event.limit
                    self.book.changed.add(event.parent_id)
                else:
                    self.book.cancel(order)
                    order.canceled = False
                    order.qty, order.limit = event.qty, event.limit
                    self.book.restore(order, event.parent_id, rec.time)
                self.risk.restore(order)
                self._top_parent = max(self._top_parent, _parent_number(event.parent_id))
            case (OrderRejected() | EngineStarted() | KillSwitchChanged() | StrategyChosen() | PreTradeEstimate()
                  | ChildPlaced() | ChildAcknowledged() | ChildCancelRequested() | ChildCanceled() | ChildRejected()
                  | VenueExecution() | ParentOverfilled() | ParentHalted() | ChildCancelRejected() | VenueMarkout()
                  | MarketSample()):
                pass  # nothing of the intake's state: a rejected order never existed, the rest is not the intake's
            case _:
                assert_never(event)

    # ---- reports ------------------------------------------------------------------------------

    def _crossed(self, crosses: Sequence[Cross], now: float) -> list[Outgoing]:
        """Journal and report crosses the book has applied, each report as of its own cross (an
        order crossed against several others sees CumQty grow report by report)."""
        out: list[Outgoing] = []
        state = _before(crosses)
        for cross in crosses:
            self.crossed_qty += cross.qty
            self.record(Crossed(cross.incoming.order_id, cross.resting.order_id, cross.qty, cross.price, INTERNAL), now)
            for order in (cross.incoming, cross.resting):
                cum, notional = state[order.order_id]
                state[order.order_id] = cum, notional = cum + cross.qty, notional + cross.qty * cross.price
                self.risk.on_fill(order, cross.qty)
                out.append(self._report(order, _FILL, now, fill=(cross.qty, cross.price, INTERNAL),
                                        as_of=(cum, notional)))
        return out

    def start(self, now: float) -> None:
        """Mark a (re)start in the journal; its sequence number makes this run's ExecIDs unique."""
        self._advance_day(now)  # restarted on a later trading day: yesterday's finished ClOrdIDs are free
        self._boot = self.record(EngineStarted(len(self._orders) + len(self._finished)), now)

    def record(self, event: Event, now: float) -> int:
        """Journal ``event`` at ``now`` and return its sequence number: the one way anything is written
        to the journal, by the intake and by those working its orders (the execution engine, the
        operator's actions), so none of them reaches into the journal itself."""
        return record_event(self.journal, now, event)

    def _advance_day(self, now: float) -> None:
        """ClOrdIDs are unique per session and trading day: at the first event of a new day those of
        finished orders become free again, while orders still open (GTC, GTD) keep theirs; finished
        orders leave memory (a status request for one is then answered as for an unknown order).

        Called before every change of order state, live and in replay alike, so a restart rebuilds
        exactly the ClOrdIDs that were taken (the open set is the same at both points).
        """
        day = int((now - self.defaults.trading_day_start_s) // _DAY_S)
        if self._day is not None and day <= self._day:  # the same day (or a clock stepped back)
            return
        if self._day is not None:
            # Yesterday's finished orders are forgotten too (the intake would otherwise hold every
            # order it ever saw): nothing refers to them any more, and the journal keeps their history.
            self._keep_open_orders()
            self._finished = FinishedOrders()
            keep: dict[str, set[str]] = {}
            for order in self._orders.values():
                ids = keep.setdefault(order.session, set())
                ids.add(order.cl_ord_id)
                if order.orig_cl_ord_id:
                    ids.add(order.orig_cl_ord_id)
            self.risk.new_day(keep=keep)
        self._day = day

    @property
    def boot(self) -> int:
        """This run's ``engine.started`` journal sequence: the prefix that makes this run's ids unique."""
        return self._boot

    def _exec_id(self) -> str:
        return f"E{self._boot}.{next(self._exec_ids)}"

    def _rename(self, order: ClientOrder, new_cl_ord_id: str | None) -> None:
        if new_cl_ord_id and new_cl_ord_id != order.cl_ord_id:
            order.orig_cl_ord_id = order.cl_ord_id
            order.cl_ord_id = new_cl_ord_id
            self._by_cl[(order.session, new_cl_ord_id)] = order

    def _report(
        self, order: ClientOrder, kind: ReportKind, now: float, fill: tuple[int, Decimal, str] | None = None,
        text: str = "", as_of: tuple[int, Decimal] | None = None,
    ) -> Outgoing:
        """The order's execution report, a snapshot; ``as_of`` = (CumQty, notional) reports an
        earlier moment of an order that is not canceled (between crosses applied together)."""
        if as_of is None:
            cum_qty = order.cum_qty
            status = order.status
            leaves_qty = order.leaves_qty
            avg_px = order.notional / cum_qty if cum_qty else _ZERO
        else:
            cum_qty, notional = as_of
            status = (OrderStatus.FILLED if cum_qty >= order.qty
                      else OrderStatus.PARTIALLY_FILLED if cum_qty else OrderStatus.NEW)
            leaves_qty = max(order.qty - cum_qty, 0)
            avg_px = notional / cum_qty if cum_qty else _ZERO
        if fill is None:
            last_qty: int | None = None
            last_px: Decimal | None = None
            last_mkt: str | None = None
        else:
            last_qty, last_px, last_mkt = fill
        return Outgoing(order.session, ExecutionReport(
            order.order_id, order.cl_ord_id, order.orig_cl_ord_id, order.account,
            f"E{self._boot}.{next(self._exec_ids)}", kind, status, order.symbol, order.side, order.qty,
            order.ord_type, order.limit, order.tif, last_qty, last_px, last_mkt, leaves_qty, cum_qty, avg_px,
            now, text))

    def _reject(self, session: str, request: NewOrderRequest, reason: int, text: str, now: float) -> Outgoing:
        self.record(OrderRejected(session, request.cl_ord_id, reason, text), now)
        return Outgoing(session, NoOrderReport(_REJECTED, request.cl_ord_id, request.symbol, request.side,
                                               self._exec_id(), reason, text, now))

    def _cancel_reject(self, session: str, request: CancelRequest | ReplaceRequest, order: ClientOrder | None,
                       response_to: CancelRejectTo, reason: CancelRejectReason, text: str) -> Outgoing:
        return Outgoing(session, CancelReject(order.order_id if order else None, request.cl_ord_id,
                                              request.orig_cl_ord_id, order.status if order else None,
                                              response_to, reason, text))


def _before(crosses: Sequence[Cross]) -> dict[str, tuple[int, Decimal]]:
    """(CumQty, notional) of every order in ``crosses`` before them (the book has applied them)."""
    state: dict[str, tuple[int, Decimal]] = {}
    for cross in crosses:
        for order in (cross.incoming, cross.resting):
            cum, notional = state.get(order.order_id, (order.cum_qty, order.notional))
            state[order.order_id] = cum - cross.qty, notional - cross.qty * cross.price
    return state


def _parent_number(parent_id: object) -> int:
    """``P17`` -> 17 (0 for anything else)."""
    if isinstance(parent_id, str) and parent_id[1:].isdigit():
        return int(parent_id[1:])
    return 0
