"""The OMS conversation in domain terms: what a client asks of the intake, and what it is told back.

Why a module of its own: the intake reasons about orders, not about tag 41 or tag 150.  The OMS
adapter (:mod:`metaorder.orders.oms_fix`) is the one place that turns a FIX message into one of the
requests below and one of the reports below into FIX fields; the intake takes requests and makes
reports, and a new field is one edit in the adapter plus the domain code that uses it.

Requests carry the client's values as it sent them (``None``: the field is absent; ``""``: present
but empty): judging them is the intake's business (:mod:`metaorder.orders.normalize` for a new
order, :class:`~metaorder.orders.intake.Intake` for the others), whose refusals quote the value
the client sent.

All of them are :class:`~typing.NamedTuple`: immutable and without a ``__dict__`` like a frozen
slotted dataclass, but made without a Python-level ``object.__setattr__`` per field, and one
request and one report are made per order on the intake path.

The report enums' values are the FIX codes, as those of :class:`~metaorder.orders.model.OrderStatus`
are OrdStatus codes: the adapter writes ``kind._value_`` (a plain attribute) where a mapping would
cost a Python-level ``Enum.__hash__`` per report.  Nothing but the adapter reads them as codes.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import NamedTuple

from metaorder.orders.model import OrderStatus, OrderType, Side, TimeInForce

# ---- requests -----------------------------------------------------------------------------------


class NewOrderRequest(NamedTuple):
    """A NewOrderSingle: an order to take on (normalized by :func:`~metaorder.orders.normalize.normalize_new_order`)."""

    cl_ord_id: str | None
    account: str | None
    symbol: str | None
    side: str | None
    order_qty: str | None
    ord_type: str | None
    price: str | None
    time_in_force: str | None
    target_strategy: str | None
    target_strategy_parameters: str | None
    participation_rate: str | None
    effective_time: str | None
    expire_time: str | None


class CancelRequest(NamedTuple):
    """An OrderCancelRequest: cancel the order known as ``orig_cl_ord_id``; it is then ``cl_ord_id``."""

    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    symbol: str | None
    side: str | None


class ReplaceRequest(NamedTuple):
    """An OrderCancelReplaceRequest: a new quantity and limit for ``orig_cl_ord_id``."""

    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    symbol: str | None
    side: str | None
    order_qty: str | None
    price: str | None


class StatusRequest(NamedTuple):
    """An OrderStatusRequest: where is the order known as ``cl_ord_id``."""

    cl_ord_id: str | None
    symbol: str | None
    side: str | None


OmsRequest = NewOrderRequest | CancelRequest | ReplaceRequest | StatusRequest

# ---- reports ------------------------------------------------------------------------------------


class ReportKind(enum.Enum):
    """What an execution report tells the client happened (values: ExecType codes, see above)."""

    NEW = "0"  # the order is taken on (in the journal)
    CANCELED = "4"
    REPLACED = "5"
    REJECTED = "8"  # the order was refused
    EXPIRED = "C"  # its ExpireTime passed with shares unfilled
    FILL = "F"  # shares were executed: at a venue or crossed internally
    STATUS = "I"  # the answer to a status request


class ExecutionReport(NamedTuple):
    """The state of one client order at one moment, and what just happened to it.

    A snapshot: the order itself keeps changing (a report is rendered after the journal flush, by
    which time a later cross or fill may have moved it on).
    """

    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None  # the ClOrdID before the last cancel or replace renamed the order
    account: str | None
    exec_id: str
    kind: ReportKind
    status: OrderStatus
    symbol: str
    side: Side
    qty: int
    ord_type: OrderType
    limit: Decimal | None
    tif: TimeInForce
    last_qty: int | None  # the fill's shares, price and market (FILL only)
    last_px: Decimal | None
    last_mkt: str | None
    leaves_qty: int
    cum_qty: int
    avg_px: Decimal
    time: float
    text: str


class NoOrderReport(NamedTuple):
    """An execution report about a request for which there is no order: a refused new order
    (REJECTED, with its OrdRejReason) or a status request for an unknown one (STATUS).

    ``cl_ord_id``, ``symbol`` and ``side`` echo the request as the client sent it (``side`` may be
    a value the intake does not understand: it is what the client has to recognise).
    """

    kind: ReportKind
    cl_ord_id: str | None
    symbol: str | None
    side: str | None
    exec_id: str
    reason: int | None  # OrdRejReason code (risk.RejectReason, normalize.REJ_*): REJECTED only
    text: str
    time: float


class CancelRejectReason(enum.Enum):
    """Why a cancel or replace request is refused (values: CxlRejReason codes)."""

    TOO_LATE = "0"  # the order is done
    UNKNOWN_ORDER = "1"
    DUPLICATE_CL_ORD_ID = "6"  # the request reuses a ClOrdID
    OTHER = "99"  # the request does not fit the order, or a limit refuses it


class CancelRejectTo(enum.Enum):
    """Which request a cancel reject answers (values: CxlRejResponseTo codes)."""

    CANCEL = "1"
    REPLACE = "2"


class CancelReject(NamedTuple):
    """A refused cancel or replace request; ``cl_ord_id`` and ``orig_cl_ord_id`` are the request's."""

    order_id: str | None  # None: no such order
    cl_ord_id: str | None
    orig_cl_ord_id: str | None
    status: OrderStatus | None  # the order's status as it stays; None: no such order
    response_to: CancelRejectTo
    reason: CancelRejectReason
    text: str


Report = ExecutionReport | NoOrderReport | CancelReject


class Outgoing(NamedTuple):
    """One report for a client session.  The OMS adapter (:func:`metaorder.orders.oms_fix.render`)
    turns ``report`` into the FIX message the session sends."""

    session: str
    report: Report
