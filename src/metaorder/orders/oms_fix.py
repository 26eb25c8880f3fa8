"""The OMS adapter: OMS FIX in, domain requests out; domain reports in, OMS FIX out.

Why one module: the intake, normalization and risk reason about orders, not about tag 41 or tag
150.  Every FIX field the intake reads from an OMS or writes to one is here; nothing else under
``orders/`` reads a tag number (``tests/unit/test_fix_at_the_edges.py`` keeps it so), the way
:mod:`metaorder.execution.venue_fix` is the venue side's one place.

In, :func:`read_oms_message` turns NewOrderSingle (D), OrderCancelRequest (F),
OrderCancelReplaceRequest (G) and OrderStatusRequest (H) into the requests of
:mod:`metaorder.orders.messages`, each field's first value as the client sent it (``None`` when
absent); any other message is ``None``.  It judges nothing: what a value means, and the refusal
Text that quotes it, are the intake's.

Out, :func:`render` turns a report into ``(MsgType, body)``: ExecutionReport (8) or
OrderCancelReject (9), in the field order of the FIX 4.4 message layouts.  The shells render what
the intake produced just before handing it to a session (:func:`render_all`).

Why ``Final`` ints rather than :class:`~metaorder.fix.tags.Tag` members: this module is on the
compiled order path (:mod:`metaorder.native`), read or written a few dozen times per order;
mypyc folds a ``Final`` int into a C constant, while ``Tag.CL_ORD_ID`` stays an attribute lookup
and an enum comparison on every use (~95 ns against ~36 ns for ``d.get(11)``, measured in
:mod:`metaorder.fix.tags`).  ``tests/unit/test_oms_fix.py`` checks each constant against its
``Tag`` member, so the names stay those of the specification.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from metaorder.fix.codec import FieldValue, Message, format_utc_timestamp
from metaorder.orders.messages import (
    CancelReject,
    CancelRequest,
    ExecutionReport,
    NewOrderRequest,
    NoOrderReport,
    OmsRequest,
    Outgoing,
    ReplaceRequest,
    Report,
    ReportKind,
    StatusRequest,
)

Fields = list[tuple[int, FieldValue]]

# Tags (FIX 4.4 names; checked against metaorder.fix.tags.Tag by the tests).
ACCOUNT: Final = 1
AVG_PX: Final = 6
CL_ORD_ID: Final = 11
CUM_QTY: Final = 14
EXEC_ID: Final = 17
LAST_MKT: Final = 30
LAST_PX: Final = 31
LAST_QTY: Final = 32
ORDER_ID: Final = 37
ORDER_QTY: Final = 38
ORD_STATUS: Final = 39
ORD_TYPE: Final = 40
ORIG_CL_ORD_ID: Final = 41
PRICE: Final = 44
SIDE: Final = 54
SYMBOL: Final = 55
TEXT: Final = 58
TIME_IN_FORCE: Final = 59
TRANSACT_TIME: Final = 60
CXL_REJ_REASON: Final = 102
ORD_REJ_REASON: Final = 103
EXPIRE_TIME: Final = 126
EXEC_TYPE: Final = 150
LEAVES_QTY: Final = 151
EFFECTIVE_TIME: Final = 168
CXL_REJ_RESPONSE_TO: Final = 434
TARGET_STRATEGY: Final = 847
TARGET_STRATEGY_PARAMETERS: Final = 848
PARTICIPATION_RATE: Final = 849

# MsgType values (checked against metaorder.fix.tags.MsgType).
NEW_ORDER_SINGLE: Final = "D"
ORDER_CANCEL_REQUEST: Final = "F"
ORDER_CANCEL_REPLACE_REQUEST: Final = "G"
ORDER_STATUS_REQUEST: Final = "H"
EXECUTION_REPORT: Final = "8"
ORDER_CANCEL_REJECT: Final = "9"

#: OrderID (37) and OrdStatus (39) of a report about no order: FIX's "NONE" and Rejected.
NO_ORDER_ID: Final = "NONE"
NO_ORDER_STATUS: Final = "8"
#: Side (54) echoed when the request had none (the field is required in an ExecutionReport).
DEFAULT_SIDE: Final = "1"

_ZERO: Final = Decimal(0)

# ---- OMS messages in ----------------------------------------------------------------------------


def read_oms_message(msg: Message) -> OmsRequest | None:
    """The request ``msg`` makes, or ``None`` for a message the intake does not handle."""
    msg_type = msg.msg_type
    get = msg.first_values().get
    if msg_type == NEW_ORDER_SINGLE:
        return NewOrderRequest(
            get(CL_ORD_ID), get(ACCOUNT), get(SYMBOL), get(SIDE), get(ORDER_QTY), get(ORD_TYPE), get(PRICE),
            get(TIME_IN_FORCE), get(TARGET_STRATEGY), get(TARGET_STRATEGY_PARAMETERS), get(PARTICIPATION_RATE),
            get(EFFECTIVE_TIME), get(EXPIRE_TIME),
        )
    if msg_type == ORDER_CANCEL_REQUEST:
        return CancelRequest(get(CL_ORD_ID), get(ORIG_CL_ORD_ID), get(SYMBOL), get(SIDE))
    if msg_type == ORDER_CANCEL_REPLACE_REQUEST:
        return ReplaceRequest(get(CL_ORD_ID), get(ORIG_CL_ORD_ID), get(SYMBOL), get(SIDE), get(ORDER_QTY), get(PRICE))
    if msg_type == ORDER_STATUS_REQUEST:
        return StatusRequest(get(CL_ORD_ID), get(SYMBOL), get(SIDE))
    return None


# ---- reports out --------------------------------------------------------------------------------


def render(report: Report) -> tuple[str, Fields]:
    """``(MsgType, body)`` of the FIX message that tells the client ``report``."""
    if type(report) is ExecutionReport:
        return EXECUTION_REPORT, execution_report_body(report)
    if type(report) is NoOrderReport:
        return EXECUTION_REPORT, no_order_report_body(report)
    assert type(report) is CancelReject, report
    return ORDER_CANCEL_REJECT, cancel_reject_body(report)


def render_all(outs: Sequence[Outgoing]) -> list[tuple[str, str, Fields]]:
    """``(session, MsgType, body)`` of each report, in order (the shells' one call per shipment)."""
    rendered: list[tuple[str, str, Fields]] = []
    for out in outs:
        report = out.report
        if type(report) is ExecutionReport:  # the common case, without a second call
            rendered.append((out.session, EXECUTION_REPORT, execution_report_body(report)))
        else:
            msg_type, body = render(report)
            rendered.append((out.session, msg_type, body))
    return rendered


def execution_report_body(r: ExecutionReport) -> Fields:
    """ExecutionReport (8) about an order.  OrigClOrdID goes only with a cancel or a replace (the
    request that renamed the order); LastQty/LastPx/LastMkt only with a fill."""
    # Enum values through ``_value_`` (a plain attribute; ``.value`` is a Python-level property).
    kind = r.kind
    body: Fields = [(ORDER_ID, r.order_id), (CL_ORD_ID, r.cl_ord_id)]
    if r.orig_cl_ord_id and (kind is ReportKind.CANCELED or kind is ReportKind.REPLACED):
        body.append((ORIG_CL_ORD_ID, r.orig_cl_ord_id))
    if r.account:
        body.append((ACCOUNT, r.account))
    body += [(EXEC_ID, r.exec_id), (EXEC_TYPE, kind._value_), (ORD_STATUS, r.status._value_), (SYMBOL, r.symbol),
             (SIDE, r.side._value_), (ORDER_QTY, r.qty), (ORD_TYPE, r.ord_type._value_)]
    if r.limit is not None:
        body.append((PRICE, r.limit))
    body.append((TIME_IN_FORCE, r.tif._value_))
    if r.last_qty is not None:
        body += [(LAST_QTY, r.last_qty), (LAST_PX, r.last_px if r.last_px is not None else _ZERO),
                 (LAST_MKT, r.last_mkt or "")]
    body += [(LEAVES_QTY, r.leaves_qty), (CUM_QTY, r.cum_qty), (AVG_PX, r.avg_px),
             (TRANSACT_TIME, format_utc_timestamp(r.time))]
    if r.text:
        body.append((TEXT, r.text))
    return body


def no_order_report_body(r: NoOrderReport) -> Fields:
    """ExecutionReport (8) about no order: OrderID NONE, OrdStatus Rejected, nothing open or
    done, the request's ClOrdID, Symbol and Side echoed; OrdRejReason for a refused order."""
    body: Fields = [(ORDER_ID, NO_ORDER_ID), (CL_ORD_ID, r.cl_ord_id or ""), (EXEC_ID, r.exec_id),
                    (EXEC_TYPE, r.kind._value_), (ORD_STATUS, NO_ORDER_STATUS), (SYMBOL, r.symbol or ""),
                    (SIDE, r.side or DEFAULT_SIDE), (LEAVES_QTY, 0), (CUM_QTY, 0), (AVG_PX, 0)]
    if r.reason is not None:
        body.append((ORD_REJ_REASON, r.reason))
    body += [(TEXT, r.text), (TRANSACT_TIME, format_utc_timestamp(r.time))]
    return body


def cancel_reject_body(r: CancelReject) -> Fields:
    """OrderCancelReject (9): the request's ClOrdID and OrigClOrdID, the order's status as it stays."""
    return [(ORDER_ID, r.order_id if r.order_id is not None else NO_ORDER_ID), (CL_ORD_ID, r.cl_ord_id or ""),
            (ORIG_CL_ORD_ID, r.orig_cl_ord_id or ""),
            (ORD_STATUS, r.status._value_ if r.status is not None else NO_ORDER_STATUS),
            (CXL_REJ_RESPONSE_TO, r.response_to._value_), (CXL_REJ_REASON, r.reason._value_), (TEXT, r.text)]
