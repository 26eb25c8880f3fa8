"""The OMS adapter, tag by tag: which FIX field lands in which request field, and which report field
goes out under which tag.

Reading: every tag :func:`read_oms_message` reads, in each message type that carries it, with its edge
values (a value, ``0``, garbage, empty, absent), and nothing else set: a field read from the wrong
tag, dropped, or judged (an empty or garbage value turned into absent) changes one of these outcomes.
Writing: whole bodies, exactly, in order, for each kind of report and each optional field.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from metaorder.fix import tags
from metaorder.fix.codec import Message, decode, encode, format_utc_timestamp
from metaorder.fix.tags import MsgType, Tag
from metaorder.orders import oms_fix
from metaorder.orders.messages import (
    CancelReject,
    CancelRejectReason,
    CancelRejectTo,
    CancelRequest,
    ExecutionReport,
    NewOrderRequest,
    NoOrderReport,
    Outgoing,
    ReplaceRequest,
    ReportKind,
    StatusRequest,
)
from metaorder.orders.model import OrderStatus, OrderType, Side, TimeInForce
from metaorder.orders.oms_fix import read_oms_message, render, render_all

NOW = 1_700_000_000.25  # 2023-11-14 22:13:20.250 UTC
STAMP = format_utc_timestamp(NOW)

# ---- reading ------------------------------------------------------------------------------------

#: (MsgType, request class, {tag: field}) for every tag the adapter reads.
READ: list[tuple[str, type[Any], dict[int, str]]] = [
    ("D", NewOrderRequest, {11: "cl_ord_id", 1: "account", 55: "symbol", 54: "side", 38: "order_qty", 40: "ord_type",
                            44: "price", 59: "time_in_force", 847: "target_strategy",
                            848: "target_strategy_parameters", 849: "participation_rate", 168: "effective_time",
                            126: "expire_time"}),
    ("F", CancelRequest, {11: "cl_ord_id", 41: "orig_cl_ord_id", 55: "symbol", 54: "side"}),
    ("G", ReplaceRequest, {11: "cl_ord_id", 41: "orig_cl_ord_id", 55: "symbol", 54: "side", 38: "order_qty",
                           44: "price"}),
    ("H", StatusRequest, {11: "cl_ord_id", 55: "symbol", 54: "side"}),
]
CASES = [(msg_type, cls, tag, field) for msg_type, cls, fields in READ for tag, field in fields.items()]
VALUES = ["V-1", "0", "#?!=x", ""]  # a value, zero, garbage, empty (not valid FIX, but not the adapter's call)


def message(msg_type: str, fields: list[tuple[int, str]]) -> Message:
    """A decoded message as the session hands it over (built directly: an empty value cannot be encoded)."""
    return Message("FIX.4.4", [(35, msg_type), (34, "2"), (49, "OMS1"), (52, STAMP), (56, "METAORDER"), *fields])


@pytest.mark.parametrize("value", VALUES, ids=["value", "zero", "garbage", "empty"])
@pytest.mark.parametrize(("msg_type", "cls", "tag", "field"), CASES,
                         ids=[f"{m}-{tag}-{field}" for m, _, tag, field in CASES])
def test_each_tag_lands_in_its_own_field_as_sent_and_no_other(
        msg_type: str, cls: type[Any], tag: int, field: str, value: str) -> None:
    request = read_oms_message(message(msg_type, [(tag, value)]))
    assert type(request) is cls
    assert request._asdict() == {name: (value if name == field else None) for name in cls._fields}


@pytest.mark.parametrize(("msg_type", "cls"), [(m, c) for m, c, _ in READ])
def test_absent_tags_are_none(msg_type: str, cls: type[Any]) -> None:
    request = read_oms_message(message(msg_type, [(60, STAMP), (21, "1")]))  # fields the adapter does not read
    assert type(request) is cls and set(request._asdict().values()) == {None}


@pytest.mark.parametrize(("msg_type", "cls", "fields"), READ, ids=[m for m, _, _ in READ])
def test_every_request_field_comes_from_a_tag(msg_type: str, cls: type[Any], fields: dict[int, str]) -> None:
    assert sorted(fields.values()) == sorted(cls._fields)  # the table above covers each request whole


def test_a_repeated_tag_is_read_at_its_first_occurrence() -> None:
    request = read_oms_message(message("F", [(41, "FIRST"), (11, "C"), (41, "SECOND")]))
    assert request == CancelRequest("C", "FIRST", None, None)


def test_a_new_order_off_the_wire_reads_whole() -> None:
    body: list[tuple[int, str | int]] = [
        (11, "C1"), (1, "ACC"), (55, "ACME"), (54, "5"), (60, STAMP), (38, 1200), (40, "2"), (44, "19.875"),
        (59, "6"), (168, "20231114-22:30:00"), (126, "20231114-23:00:00"), (847, "2"), (848, "Urgency=HIGH"),
        (849, "0.25")]
    msg = decode(encode("FIX.4.4", "D", [(34, 2), (49, "OMS1"), (52, STAMP), (56, "METAORDER")], body))
    assert isinstance(msg, Message)
    assert read_oms_message(msg) == NewOrderRequest("C1", "ACC", "ACME", "5", "1200", "2", "19.875", "6", "2",
                                                    "Urgency=HIGH", "0.25", "20231114-22:30:00", "20231114-23:00:00")


@pytest.mark.parametrize("msg_type", ["8", "9", "A", "j", "V", "Q", ""])
def test_messages_the_intake_does_not_handle_read_as_none(msg_type: str) -> None:
    assert read_oms_message(message(msg_type, [(11, "C1"), (41, "C0")])) is None


def test_the_adapters_tag_and_msgtype_constants_are_the_named_ones() -> None:
    constants = {name: value for name, value in vars(oms_fix).items() if name.isupper() and isinstance(value, int)}
    assert len(constants) == 29
    for name, value in constants.items():
        assert Tag[name] == value, name
    for name in ("NEW_ORDER_SINGLE", "ORDER_CANCEL_REQUEST", "ORDER_CANCEL_REPLACE_REQUEST", "ORDER_STATUS_REQUEST",
                 "EXECUTION_REPORT", "ORDER_CANCEL_REJECT"):
        assert getattr(oms_fix, name) == MsgType[name], name


def test_report_enums_carry_the_fix_codes_the_adapter_writes() -> None:
    assert {k.name: k.value for k in ReportKind} == {
        "NEW": tags.ExecType.NEW, "CANCELED": tags.ExecType.CANCELED, "REPLACED": tags.ExecType.REPLACE,
        "REJECTED": tags.ExecType.REJECTED, "EXPIRED": tags.ExecType.EXPIRED, "FILL": tags.ExecType.TRADE,
        "STATUS": tags.ExecType.ORDER_STATUS}
    assert {r.name: r.value for r in CancelRejectReason} == {
        "TOO_LATE": tags.CxlRejReason.TOO_LATE_TO_CANCEL, "UNKNOWN_ORDER": tags.CxlRejReason.UNKNOWN_ORDER,
        "DUPLICATE_CL_ORD_ID": tags.CxlRejReason.DUPLICATE_CLORDID_RECEIVED, "OTHER": tags.CxlRejReason.OTHER}
    assert {t.name: t.value for t in CancelRejectTo} == {
        "CANCEL": tags.CxlRejResponseTo.ORDER_CANCEL_REQUEST,
        "REPLACE": tags.CxlRejResponseTo.ORDER_CANCEL_REPLACE_REQUEST}


# ---- rendering ----------------------------------------------------------------------------------


def report(**change: Any) -> ExecutionReport:
    """A limit buy of 500, 200 done at an average 100.1, as the acknowledgement of a NEW order."""
    base = ExecutionReport(
        order_id="O7", cl_ord_id="C2", orig_cl_ord_id=None, account=None, exec_id="E3.9", kind=ReportKind.NEW,
        status=OrderStatus.PARTIALLY_FILLED, symbol="ACME", side=Side.BUY, qty=500, ord_type=OrderType.LIMIT,
        limit=Decimal("100.25"), tif=TimeInForce.DAY, last_qty=None, last_px=None, last_mkt=None, leaves_qty=300,
        cum_qty=200, avg_px=Decimal("100.1"), time=NOW, text="")
    return base._replace(**change)


def test_an_execution_report_is_rendered_field_by_field_in_layout_order() -> None:
    assert render(report()) == ("8", [
        (37, "O7"), (11, "C2"), (17, "E3.9"), (150, "0"), (39, "1"), (55, "ACME"), (54, "1"), (38, 500), (40, "2"),
        (44, Decimal("100.25")), (59, "0"), (151, 300), (14, 200), (6, Decimal("100.1")),
        (60, "20231114-22:13:20.250")])


def test_account_fill_and_text_go_where_fix_puts_them() -> None:
    _, body = render(report(account="ACC-9", kind=ReportKind.FILL, last_qty=100, last_px=Decimal("100.05"),
                            last_mkt="ATLX", text="why", side=Side.SELL_SHORT, tif=TimeInForce.GTD,
                            status=OrderStatus.FILLED))
    assert body == [
        (37, "O7"), (11, "C2"), (1, "ACC-9"), (17, "E3.9"), (150, "F"), (39, "2"), (55, "ACME"), (54, "5"),
        (38, 500), (40, "2"), (44, Decimal("100.25")), (59, "6"), (32, 100), (31, Decimal("100.05")), (30, "ATLX"),
        (151, 300), (14, 200), (6, Decimal("100.1")), (60, "20231114-22:13:20.250"), (58, "why")]


def test_an_empty_account_is_no_account_and_a_market_order_has_no_price() -> None:
    tags_out = [tag for tag, _ in render(report(account="", ord_type=OrderType.MARKET, limit=None))[1]]
    assert 1 not in tags_out and 44 not in tags_out and (40, "1") in render(report(ord_type=OrderType.MARKET))[1]


@pytest.mark.parametrize(("kind", "with_orig"), [
    (ReportKind.CANCELED, True), (ReportKind.REPLACED, True), (ReportKind.NEW, False), (ReportKind.FILL, False),
    (ReportKind.STATUS, False), (ReportKind.EXPIRED, False),
])
def test_origclordid_goes_only_with_the_cancel_or_replace_that_renamed_the_order(kind: ReportKind,
                                                                                   with_orig: bool) -> None:
    body = render(report(kind=kind, orig_cl_ord_id="C1"))[1]
    assert body[:3] == ([(37, "O7"), (11, "C2"), (41, "C1")] if with_orig else [(37, "O7"), (11, "C2"), (17, "E3.9")])
    assert render(report(kind=kind, orig_cl_ord_id=""))[1][2] == (17, "E3.9")  # empty: never renamed


def test_a_refused_order_is_reported_with_none_rejected_and_its_reason() -> None:
    refused = NoOrderReport(ReportKind.REJECTED, "C9", "NOPE", "2", "E1.4", 1, "unknown symbol 'NOPE'", NOW)
    assert render(refused) == ("8", [
        (37, "NONE"), (11, "C9"), (17, "E1.4"), (150, "8"), (39, "8"), (55, "NOPE"), (54, "2"), (151, 0), (14, 0),
        (6, 0), (103, 1), (58, "unknown symbol 'NOPE'"), (60, "20231114-22:13:20.250")])


def test_a_status_request_for_no_order_echoes_what_it_can_and_defaults_the_required_rest() -> None:
    unknown = NoOrderReport(ReportKind.STATUS, None, None, None, "E1.5", None, "unknown order None", NOW)
    assert render(unknown) == ("8", [
        (37, "NONE"), (11, ""), (17, "E1.5"), (150, "I"), (39, "8"), (55, ""), (54, "1"), (151, 0), (14, 0), (6, 0),
        (58, "unknown order None"), (60, "20231114-22:13:20.250")])
    garbage_side = render(unknown._replace(side="9", cl_ord_id="0", symbol="ZETA"))[1]
    assert (garbage_side[1], garbage_side[5], garbage_side[6]) == ((11, "0"), (55, "ZETA"), (54, "9"))


def test_a_cancel_reject_carries_the_requests_ids_and_the_orders_status() -> None:
    reject = CancelReject("O7", "C3", "C2", OrderStatus.NEW, CancelRejectTo.REPLACE, CancelRejectReason.OTHER,
                          "Side cannot be changed by a replace")
    assert render(reject) == ("9", [(37, "O7"), (11, "C3"), (41, "C2"), (39, "0"), (434, "2"), (102, "99"),
                                    (58, "Side cannot be changed by a replace")])
    unknown = CancelReject(None, None, None, None, CancelRejectTo.CANCEL, CancelRejectReason.UNKNOWN_ORDER, "x")
    assert render(unknown) == ("9", [(37, "NONE"), (11, ""), (41, ""), (39, "8"), (434, "1"), (102, "1"), (58, "x")])
    late = reject._replace(status=OrderStatus.FILLED, reason=CancelRejectReason.TOO_LATE)
    dup = reject._replace(reason=CancelRejectReason.DUPLICATE_CL_ORD_ID, response_to=CancelRejectTo.CANCEL)
    assert (render(late)[1][3], render(late)[1][5]) == ((39, "2"), (102, "0"))
    assert (render(dup)[1][4], render(dup)[1][5]) == ((434, "1"), (102, "6"))


def test_render_all_keeps_order_and_sessions_and_renders_as_render_does() -> None:
    reject = CancelReject("O7", "C3", "C2", OrderStatus.NEW, CancelRejectTo.CANCEL, CancelRejectReason.OTHER, "t")
    refused = NoOrderReport(ReportKind.REJECTED, "C9", "NOPE", "2", "E1.4", 1, "t", NOW)
    outs = [Outgoing("OMS2", report()), Outgoing("OMS1", reject), Outgoing("OMS2", refused),
            Outgoing("OMS1", report(kind=ReportKind.FILL, last_qty=1, last_px=Decimal(1), last_mkt="INTERNAL"))]
    assert render_all(outs) == [(o.session, *render(o.report)) for o in outs]
    assert [(session, msg_type) for session, msg_type, _ in render_all(outs)] == [
        ("OMS2", "8"), ("OMS1", "9"), ("OMS2", "8"), ("OMS1", "8")]


def test_a_rendered_report_encodes_and_decodes_as_the_fix_44_dictionary_expects() -> None:
    from metaorder.fix.fix44 import builtin_fix44

    dictionary = builtin_fix44()
    for r in (report(account="A", kind=ReportKind.FILL, last_qty=1, last_px=Decimal(1), last_mkt="X", text="t"),
              NoOrderReport(ReportKind.REJECTED, "C9", "NOPE", "2", "E1.4", 1, "t", NOW),
              CancelReject("O7", "C3", "C2", OrderStatus.NEW, CancelRejectTo.CANCEL, CancelRejectReason.OTHER, "t")):
        msg_type, body = render(r)
        msg = decode(encode("FIX.4.4", msg_type, [(34, 2), (49, "METAORDER"), (52, STAMP), (56, "OMS1")], body))
        assert isinstance(msg, Message)
        assert set(dictionary.messages[msg_type].body.required) <= {tag for tag, _ in msg.fields}, msg_type
