"""The venue adapter: venue FIX in, domain venue reports out; child orders in, venue FIX out.

Why one module: the engine, the market view and the child orders reason about fills, books and
statuses, not about tag 150 or tag 269.  Every FIX field the execution side reads from or writes to
a venue is here, named through :mod:`metaorder.fix.tags`; nothing else under ``execution/`` reads
a tag number (``tests/unit/test_fix_at_the_edges.py`` keeps it so).  A new report field is one edit
here plus the domain code that uses it.

In, :func:`read_venue_message` turns one decoded message into one of:

* :class:`VenueExecutionReport` (8) and :class:`VenueCancelReject` (9), with quantities as ``int``,
  prices and fees as ``Decimal``, statuses and execution kinds as domain enums;
* :class:`BookSnapshot` (W), :class:`BookIncrement` (X), :class:`MarketDataRejected` (Y) and
  :class:`TradingStatus` (h) for the market view;
* :class:`UnreadableReport` when an ExecutionReport announces an execution whose quantity, price or
  CumQty is not a FIX number: counting a guess would be worse than alerting an operator;
* ``None`` for messages the execution side has no use for.

Reading is strict where a number decides what is counted: a FIX Qty/Price is an optional minus,
digits and one optional point (no exponent, NaN, infinity or underscores, which :class:`Decimal`
would otherwise accept), and a share quantity must be whole ("100.0" is 100; "100.5" is unreadable).
An absent or empty field is absent (``None``): an ExecutionReport without LastQty or LastPx is
still an execution report, which the engine answers with an alert.  Fields that only inform
(Commission, LastLiquidityInd, a status report's CumQty/AvgPx) become ``None`` when unreadable
rather than making the whole report unreadable: the fill they accompany did happen.

Out, :func:`new_order_single`, :func:`cancel_request`, :func:`status_request` and
:func:`market_data_request` build request bodies, and :func:`execution_copy` the body of one counted
execution for the drop copy.  The field order follows the FIX 4.4 message layouts, which a
validating venue checks.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, TypeVar

from metaorder.execution.children import ChildOrder, Fields
from metaorder.execution.types import VenueStatus
from metaorder.fix.codec import Message, format_utc_timestamp
from metaorder.fix.tags import (
    CxlRejReason,
    ExecInst,
    ExecType,
    LastLiquidityInd,
    MDEntryType,
    MDUpdateAction,
    MDUpdateType,
    MsgType,
    OrdStatus,
    OrdType,
    Side,
    SubscriptionRequestType,
    Tag,
    TimeInForce,
    TradSesStatus,
    YesNo,
)

# ---- domain reports ---------------------------------------------------------------------------


class ExecKind(enum.Enum):
    """What a venue ExecutionReport tells the engine (ExecType 150, read for its consequence)."""

    ACK = "ack"  # the order is working at the venue (0)
    FILL = "fill"  # an execution (F, and FIX 4.2's 1 and 2)
    STATUS = "status"  # the answer to an OrderStatusRequest (I)
    CANCELED = "canceled"  # 4
    EXPIRED = "expired"  # C
    REJECTED = "rejected"  # 8
    DONE_FOR_DAY = "done_for_day"  # 3
    TRADE_CANCEL = "trade_cancel"  # H: an execution was busted
    TRADE_CORRECT = "trade_correct"  # G: an execution was corrected
    RESTATED = "restated"  # D: the venue changed the order on its own
    OTHER = "other"  # pending states, replace, suspended...: nothing for the engine to do


class OrderState(enum.Enum):
    """The venue's state of the order (OrdStatus 39)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    DONE_FOR_DAY = "done_for_day"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PENDING = "pending"  # pending new, cancel or replace: not decided yet
    OTHER = "other"  # stopped, suspended, calculated, accepted for bidding

    @property
    def final(self) -> bool:
        """The venue will never execute this order again."""
        return self in _FINAL_STATES


_FINAL_STATES: Final = frozenset({OrderState.FILLED, OrderState.DONE_FOR_DAY, OrderState.CANCELED,
                                  OrderState.REJECTED, OrderState.EXPIRED})


class CancelRejectReason(enum.Enum):
    """Why a venue refused a cancel (CxlRejReason 102)."""

    TOO_LATE = "too_late"
    UNKNOWN_ORDER = "unknown_order"
    ALREADY_PENDING = "already_pending"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class VenueExecutionReport:
    """A venue's ExecutionReport (8) about one of our child orders."""

    cl_ord_id: str | None  # ClOrdID (11): the child, or one of its cancel requests
    orig_cl_ord_id: str | None  # OrigClOrdID (41)
    venue_order_id: str | None  # OrderID (37)
    exec_id: str | None  # ExecID (17)
    kind: ExecKind
    state: OrderState | None  # None: absent or not a FIX 4.4 OrdStatus
    last_qty: int | None = None  # LastQty (32)
    last_px: Decimal | None = None  # LastPx (31)
    cum_qty: int | None = None  # CumQty (14)
    leaves_qty: int | None = None  # LeavesQty (151)
    avg_px: Decimal | None = None  # AvgPx (6)
    liquidity: LastLiquidityInd | None = None  # LastLiquidityInd (851), kept as FIX says it for the journal
    fee: Decimal | None = None  # Commission (12)
    text: str = ""  # Text (58)

    @property
    def final(self) -> bool:
        """The venue says the order is done: a final OrdStatus, or nothing left (LeavesQty 0)."""
        return (self.state is not None and self.state.final) or self.leaves_qty == 0


@dataclass(frozen=True, slots=True)
class VenueCancelReject:
    """A venue's OrderCancelReject (9)."""

    cl_ord_id: str | None  # the cancel request's ClOrdID (11)
    orig_cl_ord_id: str | None  # the child's (41)
    reason: CancelRejectReason | None
    state: OrderState | None  # the order's state as the venue sees it
    text: str = ""


@dataclass(frozen=True, slots=True)
class UnreadableReport:
    """A venue message the engine cannot act on safely; ``reason`` says which field and why."""

    msg_type: str
    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    exec_id: str | None
    reason: str
    message: str  # the message as received, for the operator


@dataclass(frozen=True, slots=True)
class BookLevel:
    """One bid or offer entry of a snapshot."""

    side: MDEntryType  # BID or OFFER
    price: Decimal
    size: int  # 0: no level (a venue may send empty sides)


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """MarketDataSnapshotFullRefresh (W): one (venue, symbol) book, whole."""

    req_id: str | None  # MDReqID (262): whose answer it is
    symbol: str | None  # None: not in the message (the request's single symbol then)
    levels: tuple[BookLevel, ...]
    bad_entries: int  # bid/offer entries whose price or size was unreadable


class BookChangeKind(enum.Enum):
    BID = "bid"
    OFFER = "offer"
    TRADE = "trade"
    OTHER = "other"  # an entry type the market view does not use (index, open, close...)


@dataclass(frozen=True, slots=True)
class BookChange:
    """One entry of MarketDataIncrementalRefresh (X).

    ``action`` or ``kind`` None: the entry has no readable MDUpdateAction or no MDEntryType, so it
    cannot be applied.  ``error`` says why a trade (New) or a bid/offer entry cannot be applied
    (unreadable price, size or position); other entries are never checked, since they are not used.
    """

    symbol: str | None  # its Symbol (55), or the previous entry's; None: the request's single symbol
    action: MDUpdateAction | None
    kind: BookChangeKind | None
    price: Decimal | None = None
    size: int | None = None  # None for a Delete
    position: int = 0  # MDEntryPositionNo (290), 0 when absent
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BookIncrement:
    req_id: str | None
    changes: tuple[BookChange, ...]


@dataclass(frozen=True, slots=True)
class MarketDataRejected:
    """MarketDataRequestReject (Y)."""

    req_id: str  # MDReqID (262), "" when absent
    reason: str | None  # MDReqRejReason (281) as sent: 0 unknown symbol, 1 duplicate MDReqID ...
    text: str


@dataclass(frozen=True, slots=True)
class TradingStatus:
    """TradingSessionStatus (h); ``status`` None: a status that says nothing about the venue."""

    status: VenueStatus | None


MarketDataUpdate = BookSnapshot | BookIncrement | MarketDataRejected | TradingStatus
VenueMessage = VenueExecutionReport | VenueCancelReject | UnreadableReport | MarketDataUpdate

#: TradSesStatus (340) → the venue's status.  Pre-open and pre-close are call phases: orders may be
#: accepted but nothing executes continuously, so a router must not treat the quote as takeable —
#: CLOSED, not OPEN.  Unknown (0) and Request Rejected (6, the answer to a status request we could
#: not have) say nothing about the venue: no status.
TRAD_SES_STATUS: Final[Mapping[str, VenueStatus]] = {
    TradSesStatus.HALTED: VenueStatus.HALTED,
    TradSesStatus.OPEN: VenueStatus.OPEN,
    TradSesStatus.CLOSED: VenueStatus.CLOSED,
    TradSesStatus.PRE_OPEN: VenueStatus.CLOSED,
    TradSesStatus.PRE_CLOSE: VenueStatus.CLOSED,
}

_EXEC_KINDS: Final[Mapping[str, ExecKind]] = {
    ExecType.NEW: ExecKind.ACK,
    ExecType.TRADE: ExecKind.FILL,
    ExecType.PARTIAL_FILL: ExecKind.FILL,
    ExecType.FILL: ExecKind.FILL,
    ExecType.ORDER_STATUS: ExecKind.STATUS,
    ExecType.CANCELED: ExecKind.CANCELED,
    ExecType.EXPIRED: ExecKind.EXPIRED,
    ExecType.REJECTED: ExecKind.REJECTED,
    ExecType.DONE_FOR_DAY: ExecKind.DONE_FOR_DAY,
    ExecType.TRADE_CANCEL: ExecKind.TRADE_CANCEL,
    ExecType.TRADE_CORRECT: ExecKind.TRADE_CORRECT,
    ExecType.RESTATED: ExecKind.RESTATED,
}

_ORDER_STATES: Final[Mapping[str, OrderState]] = {
    OrdStatus.NEW: OrderState.NEW,
    OrdStatus.PARTIALLY_FILLED: OrderState.PARTIALLY_FILLED,
    OrdStatus.FILLED: OrderState.FILLED,
    OrdStatus.DONE_FOR_DAY: OrderState.DONE_FOR_DAY,
    OrdStatus.CANCELED: OrderState.CANCELED,
    OrdStatus.REJECTED: OrderState.REJECTED,
    OrdStatus.EXPIRED: OrderState.EXPIRED,
    OrdStatus.PENDING_NEW: OrderState.PENDING,
    OrdStatus.PENDING_CANCEL: OrderState.PENDING,
    OrdStatus.PENDING_REPLACE: OrderState.PENDING,
    OrdStatus.STOPPED: OrderState.OTHER,
    OrdStatus.SUSPENDED: OrderState.OTHER,
    OrdStatus.CALCULATED: OrderState.OTHER,
    OrdStatus.ACCEPTED_FOR_BIDDING: OrderState.OTHER,
}

_CANCEL_REJECT_REASONS: Final[Mapping[str, CancelRejectReason]] = {
    CxlRejReason.TOO_LATE_TO_CANCEL: CancelRejectReason.TOO_LATE,
    CxlRejReason.UNKNOWN_ORDER: CancelRejectReason.UNKNOWN_ORDER,
    CxlRejReason.ORDER_ALREADY_IN_PENDING_CANCEL_OR_PENDING_REPLACE_STATUS: CancelRejectReason.ALREADY_PENDING,
}

_LIQUIDITY: Final[Mapping[str, LastLiquidityInd]] = {v.value: v for v in LastLiquidityInd}
_UPDATE_ACTIONS: Final[Mapping[str, MDUpdateAction]] = {v.value: v for v in MDUpdateAction}
_CHANGE_KINDS: Final[Mapping[str, BookChangeKind]] = {
    MDEntryType.BID: BookChangeKind.BID,
    MDEntryType.OFFER: BookChangeKind.OFFER,
    MDEntryType.TRADE: BookChangeKind.TRADE,
}

# ---- numbers ----------------------------------------------------------------------------------

#: A FIX 4.4 float/Qty/Price: optional minus, digits, optional point.  The length cap keeps every
#: product and sum of the market view below the precision of its exact context.
_FIX_NUMBER: Final = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_MAX_NUMBER_LEN: Final = 32


class Unreadable(ValueError):
    """A field that is present but not what FIX says it must be."""


def fix_decimal(text: str | None) -> Decimal:
    """A FIX Price/Qty/Amt, strictly; raises :class:`Unreadable` (absent included)."""
    if text is None or len(text) > _MAX_NUMBER_LEN or not _FIX_NUMBER.fullmatch(text):
        raise Unreadable(f"not a FIX number: {text!r}")
    return Decimal(text)


def fix_shares(text: str | None) -> int:
    """A quantity in whole shares: "100" and "100.0" are 100; "100.5" and "-1" are unreadable."""
    if text is not None and text.isascii() and text.isdigit() and len(text) <= _MAX_NUMBER_LEN:
        return int(text)  # the usual case, without a regex or a Decimal
    value = fix_decimal(text)
    if value < 0 or value != value.to_integral_value():
        raise Unreadable(f"not a whole number of shares: {text!r}")
    return int(value)


_T = TypeVar("_T")


def _optional(text: str | None) -> str | None:
    return text or None  # an empty value is no value


# ---- venue messages in ------------------------------------------------------------------------


def read_venue_message(msg: Message) -> VenueMessage | None:
    """One decoded venue message as a domain report, or None if the execution side has no use for it."""
    kind = msg.msg_type
    if kind == MsgType.EXECUTION_REPORT:
        return read_execution_report(msg)
    if kind == MsgType.ORDER_CANCEL_REJECT:
        return read_cancel_reject(msg)
    if kind == MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH:
        return read_snapshot(msg)
    if kind == MsgType.MARKET_DATA_INCREMENTAL_REFRESH:
        return read_increment(msg)
    if kind == MsgType.MARKET_DATA_REQUEST_REJECT:
        return MarketDataRejected(msg.get(Tag.MD_REQ_ID) or "", msg.get(Tag.MD_REQ_REJ_REASON),
                                  msg.get(Tag.TEXT) or "")
    if kind == MsgType.TRADING_SESSION_STATUS:
        return TradingStatus(TRAD_SES_STATUS.get(msg.get(Tag.TRAD_SES_STATUS) or ""))
    return None


def read_execution_report(msg: Message) -> VenueExecutionReport | UnreadableReport:
    f = msg.first_values()
    cl_ord_id, orig = _optional(f.get(Tag.CL_ORD_ID)), _optional(f.get(Tag.ORIG_CL_ORD_ID))
    exec_id = _optional(f.get(Tag.EXEC_ID))
    kind = _EXEC_KINDS.get(f.get(Tag.EXEC_TYPE) or "", ExecKind.OTHER)
    last_qty = last_px = None
    if kind is ExecKind.FILL:  # what is counted must be read exactly, or not at all
        try:
            last_qty = _shares_or_none(f.get(Tag.LAST_QTY), "LastQty")
            last_px = _decimal_or_none(f.get(Tag.LAST_PX), "LastPx")
            cum_qty = _shares_or_none(f.get(Tag.CUM_QTY), "CumQty")
        except Unreadable as exc:
            return UnreadableReport(msg.msg_type, cl_ord_id, orig, exec_id, str(exc), repr(msg))
    else:  # a status or final report's CumQty only serves to recover missed fills: unreadable, none
        cum_qty = _lenient(fix_shares, f.get(Tag.CUM_QTY))
    return VenueExecutionReport(
        cl_ord_id=cl_ord_id, orig_cl_ord_id=orig, venue_order_id=_optional(f.get(Tag.ORDER_ID)), exec_id=exec_id,
        kind=kind, state=_ORDER_STATES.get(f.get(Tag.ORD_STATUS) or ""),
        last_qty=last_qty, last_px=last_px, cum_qty=cum_qty,
        leaves_qty=_lenient(fix_shares, f.get(Tag.LEAVES_QTY)), avg_px=_lenient(fix_decimal, f.get(Tag.AVG_PX)),
        liquidity=_LIQUIDITY.get(f.get(Tag.LAST_LIQUIDITY_IND) or ""),
        fee=_lenient(fix_decimal, f.get(Tag.COMMISSION)), text=f.get(Tag.TEXT) or "",
    )


def read_cancel_reject(msg: Message) -> VenueCancelReject:
    f = msg.first_values()
    reason_text = f.get(Tag.CXL_REJ_REASON)
    reason = None if not reason_text else _CANCEL_REJECT_REASONS.get(reason_text, CancelRejectReason.OTHER)
    return VenueCancelReject(_optional(f.get(Tag.CL_ORD_ID)), _optional(f.get(Tag.ORIG_CL_ORD_ID)), reason,
                             _ORDER_STATES.get(f.get(Tag.ORD_STATUS) or ""), f.get(Tag.TEXT) or "")


def _shares_or_none(text: str | None, name: str) -> int | None:
    if not text:
        return None
    try:
        return fix_shares(text)
    except Unreadable as exc:
        raise Unreadable(f"{name}: {exc}") from None


def _decimal_or_none(text: str | None, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        return fix_decimal(text)
    except Unreadable as exc:
        raise Unreadable(f"{name}: {exc}") from None


def _lenient(read: Callable[[str], _T], text: str | None) -> _T | None:
    if not text:
        return None
    try:
        return read(text)
    except Unreadable:
        return None


def _split(fields: Iterable[tuple[int, str]], first_tag: int) -> tuple[dict[int, str], list[dict[int, str]]]:
    """The fields before NoMDEntries (268), and its entries (each starts at ``first_tag``).

    Within an entry the first occurrence of a tag wins, like :meth:`Message.get`.  Fields between
    268 and the first entry start belong to no entry and are dropped.
    """
    head: dict[int, str] = {}
    entries: list[dict[int, str]] = []
    in_group = False
    for tag, value in fields:
        if not in_group:
            if tag == Tag.NO_MD_ENTRIES:
                in_group = True
            else:
                head.setdefault(tag, value)
        elif tag == first_tag:
            entries.append({tag: value})
        elif entries:
            entries[-1].setdefault(tag, value)
    return head, entries


def read_snapshot(msg: Message) -> BookSnapshot:
    """Entries start at MDEntryType (269); Symbol (55) is before NoMDEntries (268).  Entries other
    than bids and offers are left out: trades in a snapshot are history, not new volume."""
    head, entries = _split(msg.fields, Tag.MD_ENTRY_TYPE)
    levels: list[BookLevel] = []
    bad = 0
    for entry in entries:
        entry_type = entry[Tag.MD_ENTRY_TYPE]
        if entry_type not in (MDEntryType.BID, MDEntryType.OFFER):
            continue
        try:
            price = fix_decimal(entry.get(Tag.MD_ENTRY_PX))
            size = fix_shares(entry.get(Tag.MD_ENTRY_SIZE))
        except Unreadable:
            bad += 1
            continue
        levels.append(BookLevel(MDEntryType(entry_type), price, size))
    return BookSnapshot(msg.get(Tag.MD_REQ_ID), head.get(Tag.SYMBOL) or None, tuple(levels), bad)


def read_increment(msg: Message) -> BookIncrement:
    """Entries start at MDUpdateAction (279), each with its own Symbol or the previous entry's."""
    _, entries = _split(msg.fields, Tag.MD_UPDATE_ACTION)
    changes: list[BookChange] = []
    symbol: str | None = None
    for entry in entries:
        symbol = entry.get(Tag.SYMBOL) or symbol
        action = _UPDATE_ACTIONS.get(entry[Tag.MD_UPDATE_ACTION])
        entry_type = entry.get(Tag.MD_ENTRY_TYPE)
        kind = None if entry_type is None else _CHANGE_KINDS.get(entry_type, BookChangeKind.OTHER)
        change = BookChange(symbol, action, kind)
        if action is not None and kind is not None:
            try:
                if kind is BookChangeKind.TRADE and action is MDUpdateAction.NEW:
                    size = fix_shares(entry.get(Tag.MD_ENTRY_SIZE))
                    change = BookChange(symbol, action, kind, fix_decimal(entry.get(Tag.MD_ENTRY_PX)), size)
                    if size <= 0:
                        raise Unreadable("a trade of no shares")
                elif kind in (BookChangeKind.BID, BookChangeKind.OFFER):
                    change = BookChange(symbol, action, kind, *_level(action, entry))
            except Unreadable as exc:
                change = BookChange(symbol, action, kind, error=str(exc))
        changes.append(change)
    return BookIncrement(msg.get(Tag.MD_REQ_ID), tuple(changes))


def _level(action: MDUpdateAction, entry: Mapping[int, str]) -> tuple[Decimal | None, int | None, int]:
    """(price, size, position) of a bid/offer entry.

    New needs a price and a size; Change a size and a price or position; Delete a price or position.
    """
    price = fix_decimal(entry[Tag.MD_ENTRY_PX]) if Tag.MD_ENTRY_PX in entry else None
    position = 0
    if Tag.MD_ENTRY_POSITION_NO in entry:
        text = entry[Tag.MD_ENTRY_POSITION_NO]
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise Unreadable(f"bad MDEntryPositionNo {text!r}")
        position = int(text)
    if price is None and (action is MDUpdateAction.NEW or not position):
        raise Unreadable("no price")
    size = None if action is MDUpdateAction.DELETE else fix_shares(entry.get(Tag.MD_ENTRY_SIZE))
    return price, size, position


# ---- venue messages out -----------------------------------------------------------------------


def _side(child: ChildOrder) -> Side:
    return Side.BUY if child.direction > 0 else Side.SELL


def new_order_single(child: ChildOrder, now: float) -> Fields:
    """NewOrderSingle (D): a limit order, or a market order when the child has no price."""
    body: Fields = [(Tag.CL_ORD_ID, child.child_id), (Tag.SYMBOL, child.symbol), (Tag.SIDE, _side(child)),
                    (Tag.TRANSACT_TIME, format_utc_timestamp(now)), (Tag.ORDER_QTY, child.qty)]
    if child.peg:  # a midpoint peg: FIX 4.4 says OrdType P with ExecInst M; a Price caps it
        body += [(Tag.ORD_TYPE, OrdType.PEGGED), (Tag.EXEC_INST, ExecInst.MID_PRICE_PEG)]
        if child.price is not None:
            body.append((Tag.PRICE, child.price))
    elif child.price is None:
        body.append((Tag.ORD_TYPE, OrdType.MARKET))
    else:
        body += [(Tag.ORD_TYPE, OrdType.LIMIT), (Tag.PRICE, child.price)]
    body.append((Tag.TIME_IN_FORCE, TimeInForce.IMMEDIATE_OR_CANCEL if child.ioc else TimeInForce.DAY))
    if child.min_qty:
        body.append((Tag.MIN_QTY, child.min_qty))
    return body


def cancel_request(child: ChildOrder, cancel_id: str, now: float) -> Fields:
    """OrderCancelRequest (F) for the child under its own ClOrdID ``cancel_id``."""
    body: Fields = [(Tag.ORIG_CL_ORD_ID, child.child_id), (Tag.CL_ORD_ID, cancel_id), (Tag.SYMBOL, child.symbol),
                    (Tag.SIDE, _side(child)), (Tag.TRANSACT_TIME, format_utc_timestamp(now)),
                    (Tag.ORDER_QTY, child.qty)]
    if child.venue_order_id:
        body.insert(0, (Tag.ORDER_ID, child.venue_order_id))
    return body


def status_request(child: ChildOrder) -> Fields:
    """OrderStatusRequest (H): the venue answers with an ExecutionReport 150=I."""
    body: Fields = [(Tag.CL_ORD_ID, child.child_id), (Tag.SYMBOL, child.symbol), (Tag.SIDE, _side(child))]
    if child.venue_order_id:
        body.insert(0, (Tag.ORDER_ID, child.venue_order_id))
    return body


def market_data_request(req_id: str, symbols: Sequence[str], depth: int = 0, snapshot_only: bool = False) -> Fields:
    """MarketDataRequest (V): bids, offers and trades; snapshot, then increments — or, with
    ``snapshot_only``, one snapshot (263=0): asking a quiet venue what its book is now.

    MarketDepth 0 is the full book; AggregatedBook Y asks for one entry per price (the market view's
    books are keyed by price).
    """
    kind = SubscriptionRequestType.SNAPSHOT if snapshot_only else SubscriptionRequestType.SNAPSHOT_PLUS_UPDATES
    updates: Fields = [] if snapshot_only else [(Tag.MD_UPDATE_TYPE, MDUpdateType.INCREMENTAL_REFRESH)]
    body: Fields = [
        (Tag.MD_REQ_ID, req_id), (Tag.SUBSCRIPTION_REQUEST_TYPE, kind), (Tag.MARKET_DEPTH, depth), *updates,
        (Tag.AGGREGATED_BOOK, YesNo.YES), (Tag.NO_MD_ENTRY_TYPES, 3), (Tag.MD_ENTRY_TYPE, MDEntryType.BID),
        (Tag.MD_ENTRY_TYPE, MDEntryType.OFFER), (Tag.MD_ENTRY_TYPE, MDEntryType.TRADE),
        (Tag.NO_RELATED_SYM, len(symbols)),
    ]
    body += [(Tag.SYMBOL, symbol) for symbol in symbols]
    return body


def execution_copy(child: ChildOrder, exec_id: str, qty: int, price: Decimal, liquidity: str, fee: Decimal | None,
                   now: float) -> Fields:
    """One counted execution as an ExecutionReport body, for the drop copy (the same fields
    whether it came in a fill report or was recovered from a status report)."""
    done = child.cum_qty >= child.qty
    body: Fields = [
        (Tag.ORDER_ID, child.venue_order_id or "NONE"), (Tag.CL_ORD_ID, child.child_id), (Tag.EXEC_ID, exec_id),
        (Tag.EXEC_TYPE, ExecType.TRADE), (Tag.ORD_STATUS, OrdStatus.FILLED if done else OrdStatus.PARTIALLY_FILLED),
        (Tag.SYMBOL, child.symbol), (Tag.SIDE, _side(child)), (Tag.ORDER_QTY, child.qty), (Tag.LAST_QTY, qty),
        (Tag.LAST_PX, price), (Tag.LEAVES_QTY, max(child.qty - child.cum_qty, 0)), (Tag.CUM_QTY, child.cum_qty),
        (Tag.AVG_PX, child.notional / child.cum_qty if child.cum_qty else Decimal(0)),
    ]
    if liquidity:
        body.append((Tag.LAST_LIQUIDITY_IND, liquidity))
    if fee is not None:
        body.append((Tag.COMMISSION, fee))
    body.append((Tag.TRANSACT_TIME, format_utc_timestamp(now)))
    return body
