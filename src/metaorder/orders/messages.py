"""The OMS conversation in domain terms: what a client asks of the intake, and what it is told back.

Why a module of its own: the intake reasons about orders, not about tag 41 or tag 150.  The OMS
adapter (:mod:`metaorder.orders.oms_fix`) is the one place that turns a FIX message into one of the
requests below and one of the reports below into FIX fields; the intake takes requests and makes
reports, and a new field is one edit in the adapter plus the domain code that uses it.

Requests carry the client's values as it sent them (``None``: the field is absent; ``""``: present
but empty): judging them is the intake's business (:mod:`metaorder.orders.normalize` for a new
order, :class:`~metaorder.orders.intake.Intake` for the others), whose refusals quote the value
the client sent.

All of them are plain classes compiled with mypyc (this module is on :mod:`metaorder.native`'s
list): one request and one report are made per order on the intake path, and a native class is
built by a C call and read by a struct access from the compiled intake and adapter, where a
:class:`~typing.NamedTuple` costs a Python-level ``__new__`` to build and a descriptor lookup per
field read (about 1 us of the intake's ~33 per order, compiled).  They are values all the same: each field is
set once in ``__init__`` and never assigned afterwards (by convention, as mypyc's native classes
cannot forbid it; :data:`~typing.Final` makes mypy hold everyone to it), equal when their fields
are, and they keep NamedTuple's ``_fields``, ``_asdict`` and ``_replace`` (:class:`_Value`).

The report enums' values are the FIX codes, as those of :class:`~metaorder.orders.model.OrderStatus`
are OrdStatus codes: the adapter writes ``kind._value_`` (a plain attribute) where a mapping would
cost a Python-level ``Enum.__hash__`` per report.  Nothing but the adapter reads them as codes.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any, ClassVar, Final

from metaorder.orders.model import OrderStatus, OrderType, Side, TimeInForce


class _Value:
    """What the requests and reports share: value equality and NamedTuple's ``_fields`` (the
    fields in their order, one class attribute per subclass), ``_asdict`` and ``_replace``."""

    _fields: ClassVar[tuple[str, ...]] = ()

    def _astuple(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def _asdict(self) -> dict[str, Any]:
        """``{field: value}`` in field order."""
        return {name: getattr(self, name) for name in self._fields}

    def _replace(self, **changes: Any) -> Any:
        """A copy with ``changes`` (a value is never changed in place)."""
        values = self._asdict()
        unknown = set(changes) - values.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        values.update(changes)
        return type(self)(**values)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, _Value) and self._astuple() == other._astuple()

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._astuple()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={getattr(self, name)!r}' for name in self._fields)})"


# ---- requests -----------------------------------------------------------------------------------


class NewOrderRequest(_Value):
    """A NewOrderSingle: an order to take on (normalized by :func:`~metaorder.orders.normalize.normalize_new_order`)."""

    cl_ord_id: Final[str | None]
    account: Final[str | None]
    symbol: Final[str | None]
    side: Final[str | None]
    order_qty: Final[str | None]
    ord_type: Final[str | None]
    price: Final[str | None]
    time_in_force: Final[str | None]
    target_strategy: Final[str | None]
    target_strategy_parameters: Final[str | None]
    participation_rate: Final[str | None]
    effective_time: Final[str | None]
    expire_time: Final[str | None]

    _fields: ClassVar[tuple[str, ...]] = ("cl_ord_id", "account", "symbol", "side", "order_qty", "ord_type", "price",
        "time_in_force", "target_strategy", "target_strategy_parameters", "participation_rate", "effective_time",
        "expire_time")

    def __init__(self, cl_ord_id: str | None, account: str | None, symbol: str | None, side: str | None,
            order_qty: str | None, ord_type: str | None, price: str | None, time_in_force: str | None,
            target_strategy: str | None, target_strategy_parameters: str | None, participation_rate: str | None,
            effective_time: str | None, expire_time: str | None) -> None:
        self.cl_ord_id = cl_ord_id
        self.account = account
        self.symbol = symbol
        self.side = side
        self.order_qty = order_qty
        self.ord_type = ord_type
        self.price = price
        self.time_in_force = time_in_force
        self.target_strategy = target_strategy
        self.target_strategy_parameters = target_strategy_parameters
        self.participation_rate = participation_rate
        self.effective_time = effective_time
        self.expire_time = expire_time


class CancelRequest(_Value):
    """An OrderCancelRequest: cancel the order known as ``orig_cl_ord_id``; it is then ``cl_ord_id``."""

    cl_ord_id: Final[str | None]
    orig_cl_ord_id: Final[str | None]
    symbol: Final[str | None]
    side: Final[str | None]

    _fields: ClassVar[tuple[str, ...]] = ("cl_ord_id", "orig_cl_ord_id", "symbol", "side")

    def __init__(self, cl_ord_id: str | None, orig_cl_ord_id: str | None, symbol: str | None, side: str | None) -> None:
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.symbol = symbol
        self.side = side


class ReplaceRequest(_Value):
    """An OrderCancelReplaceRequest: a new quantity and limit for ``orig_cl_ord_id``."""

    cl_ord_id: Final[str | None]
    orig_cl_ord_id: Final[str | None]
    symbol: Final[str | None]
    side: Final[str | None]
    order_qty: Final[str | None]
    price: Final[str | None]

    _fields: ClassVar[tuple[str, ...]] = ("cl_ord_id", "orig_cl_ord_id", "symbol", "side", "order_qty", "price")

    def __init__(self, cl_ord_id: str | None, orig_cl_ord_id: str | None, symbol: str | None, side: str | None,
            order_qty: str | None, price: str | None) -> None:
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.symbol = symbol
        self.side = side
        self.order_qty = order_qty
        self.price = price


class StatusRequest(_Value):
    """An OrderStatusRequest: where is the order known as ``cl_ord_id``."""

    cl_ord_id: Final[str | None]
    symbol: Final[str | None]
    side: Final[str | None]

    _fields: ClassVar[tuple[str, ...]] = ("cl_ord_id", "symbol", "side")

    def __init__(self, cl_ord_id: str | None, symbol: str | None, side: str | None) -> None:
        self.cl_ord_id = cl_ord_id
        self.symbol = symbol
        self.side = side


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


class ExecutionReport(_Value):
    """The state of one client order at one moment, and what just happened to it.

    A snapshot: the order itself keeps changing (a report is rendered after the journal flush, by
    which time a later cross or fill may have moved it on).
    """

    order_id: Final[str]
    cl_ord_id: Final[str]
    orig_cl_ord_id: Final[str | None]  # the ClOrdID before the last cancel or replace renamed the order
    account: Final[str | None]
    exec_id: Final[str]
    kind: Final[ReportKind]
    status: Final[OrderStatus]
    symbol: Final[str]
    side: Final[Side]
    qty: Final[int]
    ord_type: Final[OrderType]
    limit: Final[Decimal | None]
    tif: Final[TimeInForce]
    last_qty: Final[int | None]  # the fill's shares, price and market (FILL only)
    last_px: Final[Decimal | None]
    last_mkt: Final[str | None]
    leaves_qty: Final[int]
    cum_qty: Final[int]
    avg_px: Final[Decimal]
    time: Final[float]
    text: Final[str]

    _fields: ClassVar[tuple[str, ...]] = ("order_id", "cl_ord_id", "orig_cl_ord_id", "account", "exec_id", "kind",
        "status", "symbol", "side", "qty", "ord_type", "limit", "tif", "last_qty", "last_px", "last_mkt", "leaves_qty",
        "cum_qty", "avg_px", "time", "text")

    def __init__(self, order_id: str, cl_ord_id: str, orig_cl_ord_id: str | None, account: str | None, exec_id: str,
            kind: ReportKind, status: OrderStatus, symbol: str, side: Side, qty: int, ord_type: OrderType,
            limit: Decimal | None, tif: TimeInForce, last_qty: int | None, last_px: Decimal | None,
            last_mkt: str | None, leaves_qty: int, cum_qty: int, avg_px: Decimal, time: float, text: str) -> None:
        self.order_id = order_id
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.account = account
        self.exec_id = exec_id
        self.kind = kind
        self.status = status
        self.symbol = symbol
        self.side = side
        self.qty = qty
        self.ord_type = ord_type
        self.limit = limit
        self.tif = tif
        self.last_qty = last_qty
        self.last_px = last_px
        self.last_mkt = last_mkt
        self.leaves_qty = leaves_qty
        self.cum_qty = cum_qty
        self.avg_px = avg_px
        self.time = time
        self.text = text


class NoOrderReport(_Value):
    """An execution report about a request for which there is no order: a refused new order
    (REJECTED, with its OrdRejReason) or a status request for an unknown one (STATUS).

    ``cl_ord_id``, ``symbol`` and ``side`` echo the request as the client sent it (``side`` may be
    a value the intake does not understand: it is what the client has to recognise).
    """

    kind: Final[ReportKind]
    cl_ord_id: Final[str | None]
    symbol: Final[str | None]
    side: Final[str | None]
    exec_id: Final[str]
    reason: Final[int | None]  # OrdRejReason code (risk.RejectReason, normalize.REJ_*): REJECTED only
    text: Final[str]
    time: Final[float]

    _fields: ClassVar[tuple[str, ...]] = ("kind", "cl_ord_id", "symbol", "side", "exec_id", "reason", "text", "time")

    def __init__(self, kind: ReportKind, cl_ord_id: str | None, symbol: str | None, side: str | None, exec_id: str,
            reason: int | None, text: str, time: float) -> None:
        self.kind = kind
        self.cl_ord_id = cl_ord_id
        self.symbol = symbol
        self.side = side
        self.exec_id = exec_id
        self.reason = reason
        self.text = text
        self.time = time


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


class CancelReject(_Value):
    """A refused cancel or replace request; ``cl_ord_id`` and ``orig_cl_ord_id`` are the request's."""

    order_id: Final[str | None]  # None: no such order
    cl_ord_id: Final[str | None]
    orig_cl_ord_id: Final[str | None]
    status: Final[OrderStatus | None]  # the order's status as it stays; None: no such order
    response_to: Final[CancelRejectTo]
    reason: Final[CancelRejectReason]
    text: Final[str]

    _fields: ClassVar[tuple[str, ...]] = ("order_id", "cl_ord_id", "orig_cl_ord_id", "status", "response_to", "reason",
        "text")

    def __init__(self, order_id: str | None, cl_ord_id: str | None, orig_cl_ord_id: str | None,
            status: OrderStatus | None, response_to: CancelRejectTo, reason: CancelRejectReason, text: str) -> None:
        self.order_id = order_id
        self.cl_ord_id = cl_ord_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.status = status
        self.response_to = response_to
        self.reason = reason
        self.text = text


Report = ExecutionReport | NoOrderReport | CancelReject


class Outgoing(_Value):
    """One report for a client session.  The OMS adapter (:func:`metaorder.orders.oms_fix.render`)
    turns ``report`` into the FIX message the session sends."""

    session: Final[str]
    report: Final[Report]

    _fields: ClassVar[tuple[str, ...]] = ("session", "report")

    def __init__(self, session: str, report: Report) -> None:
        self.session = session
        self.report = report

