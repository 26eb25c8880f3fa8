"""The venue adapter, field by field: each tag it reads lands in the right domain field, and edge
values (absent, empty, 0, garbage) give what the engine must see.  Bodies it writes are pinned exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.execution.children import ChildOrder
from metaorder.execution.types import VenueStatus
from metaorder.execution.venue_fix import (
    BookChange,
    BookChangeKind,
    BookIncrement,
    BookLevel,
    BookSnapshot,
    CancelRejectReason,
    ExecKind,
    MarketDataRejected,
    OrderState,
    TradingStatus,
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
from metaorder.fix.codec import Message, decode, encode, format_utc_timestamp
from metaorder.fix.tags import LastLiquidityInd, MDEntryType, MDUpdateAction

T0 = 1_780_000_000.0


def msg(msg_type: str, *fields: tuple[int, str]) -> Message:
    return Message("FIX.4.4", [(35, msg_type), *fields])


def er(*fields: tuple[int, str], exec_type: str = "F") -> VenueExecutionReport:
    report = read_venue_message(msg("8", (11, "C1.1"), (150, exec_type), *fields))
    assert isinstance(report, VenueExecutionReport), report
    return report


def unreadable(*fields: tuple[int, str]) -> UnreadableReport:
    report = read_venue_message(msg("8", (11, "C1.1"), (17, "E9"), (150, "F"), *fields))
    assert isinstance(report, UnreadableReport), report
    return report


# ---- ExecutionReport (8) ----------------------------------------------------------------------


def test_a_complete_fill_report_reads_every_field() -> None:
    report = read_venue_message(msg(
        "8", (37, "V7"), (11, "C1.1.X1"), (41, "C1.1"), (17, "E1"), (150, "F"), (39, "1"), (55, "ACME"), (54, "1"),
        (38, "500"), (32, "100"), (31, "142.50"), (151, "400"), (14, "100"), (6, "142.5"), (851, "2"),
        (12, "-0.0030"), (58, "partial")))
    assert report == VenueExecutionReport(
        cl_ord_id="C1.1.X1", orig_cl_ord_id="C1.1", venue_order_id="V7", exec_id="E1", kind=ExecKind.FILL,
        state=OrderState.PARTIALLY_FILLED, last_qty=100, last_px=Decimal("142.50"), cum_qty=100, leaves_qty=400,
        avg_px=Decimal("142.5"), liquidity=LastLiquidityInd.REMOVED_LIQUIDITY, fee=Decimal("-0.0030"),
        text="partial")


@pytest.mark.parametrize(("exec_type", "kind"), [
    ("0", ExecKind.ACK), ("F", ExecKind.FILL), ("1", ExecKind.FILL), ("2", ExecKind.FILL), ("I", ExecKind.STATUS),
    ("4", ExecKind.CANCELED), ("C", ExecKind.EXPIRED), ("8", ExecKind.REJECTED), ("3", ExecKind.DONE_FOR_DAY),
    ("H", ExecKind.TRADE_CANCEL), ("G", ExecKind.TRADE_CORRECT), ("D", ExecKind.RESTATED),
    ("6", ExecKind.OTHER), ("A", ExecKind.OTHER), ("5", ExecKind.OTHER), ("", ExecKind.OTHER), ("Z", ExecKind.OTHER),
])
def test_exec_type_150_becomes_what_the_engine_does_with_the_report(exec_type: str, kind: ExecKind) -> None:
    assert er(exec_type=exec_type).kind is kind


def test_a_report_without_exec_type_is_nothing_to_act_on() -> None:
    report = read_venue_message(msg("8", (11, "C1.1"), (39, "2")))
    assert isinstance(report, VenueExecutionReport) and report.kind is ExecKind.OTHER


@pytest.mark.parametrize(("status", "state", "final"), [
    ("0", OrderState.NEW, False), ("1", OrderState.PARTIALLY_FILLED, False), ("2", OrderState.FILLED, True),
    ("3", OrderState.DONE_FOR_DAY, True), ("4", OrderState.CANCELED, True), ("8", OrderState.REJECTED, True),
    ("C", OrderState.EXPIRED, True), ("A", OrderState.PENDING, False), ("6", OrderState.PENDING, False),
    ("E", OrderState.PENDING, False), ("9", OrderState.OTHER, False), ("5", None, False), ("", None, False),
    ("X", None, False),
])
def test_ord_status_39_and_whether_the_order_is_done(status: str, state: OrderState | None, final: bool) -> None:
    report = er((39, status), exec_type="I")
    assert report.state is state and report.final is final


@pytest.mark.parametrize(("leaves", "value", "final"), [
    (None, None, False), ("", None, False), ("0", 0, True), ("0.0", 0, True), ("7", 7, False), ("x", None, False),
    ("-1", None, False), ("1.5", None, False),
])
def test_leaves_qty_151_of_zero_means_done_whatever_the_status(leaves: str | None, value: int | None,
                                                               final: bool) -> None:
    report = er((39, "1"), *([(151, leaves)] if leaves is not None else []), exec_type="4")
    assert report.leaves_qty == value and report.final is final


@pytest.mark.parametrize(("tag", "attr"), [(11, "cl_ord_id"), (41, "orig_cl_ord_id"), (37, "venue_order_id"),
                                           (17, "exec_id")])
@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), ("0", "0"), ("A B\u00e9", "A B\u00e9")])
def test_identifiers_are_read_as_sent_and_empty_is_absent(tag: int, attr: str, text: str | None,
                                                          value: str | None) -> None:
    fields = [(150, "0")] + ([(tag, text)] if text is not None else [])
    report = read_venue_message(msg("8", *fields))
    assert isinstance(report, VenueExecutionReport) and getattr(report, attr) == value


def test_the_first_occurrence_of_a_repeated_field_wins() -> None:
    assert er((17, "E1"), (17, "E2"), (32, "5"), (32, "6")).exec_id == "E1"
    assert er((17, "E1"), (32, "5"), (32, "6")).last_qty == 5


@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), ("0", 0), ("100", 100), ("100.0", 100),
                                             ("007", 7)])
def test_last_qty_32_of_a_fill(text: str | None, value: int | None) -> None:
    assert er(*([(32, text)] if text is not None else [])).last_qty == value


@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), ("0", Decimal(0)),
                                             ("142.50", Decimal("142.50")), ("-0.5", Decimal("-0.5")),
                                             (".5", Decimal("0.5"))])
def test_last_px_31_of_a_fill(text: str | None, value: Decimal | None) -> None:
    assert er(*([(31, text)] if text is not None else [])).last_px == value


@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), ("0", 0), ("250", 250)])
def test_cum_qty_14_of_a_fill(text: str | None, value: int | None) -> None:
    assert er(*([(14, text)] if text is not None else [])).cum_qty == value


@pytest.mark.parametrize(("tag", "name"), [(32, "LastQty"), (31, "LastPx"), (14, "CumQty")])
@pytest.mark.parametrize("garbage", ["abc", "1e2", "NaN", "Infinity", "1_000", "12.5.1", " 1", "9" * 40])
def test_a_fill_whose_quantity_price_or_cum_qty_is_garbage_is_unreadable(tag: int, name: str, garbage: str) -> None:
    good = {32: "100", 31: "10.00", 14: "100"}
    report = unreadable(*[(t, garbage if t == tag else v) for t, v in good.items()])
    assert report.reason.startswith(f"{name}: not a FIX number") or report.reason.startswith(f"{name}: not a whole")
    assert (report.msg_type, report.cl_ord_id, report.orig_cl_ord_id, report.exec_id) == ("8", "C1.1", None, "E9")
    assert garbage in report.message


@pytest.mark.parametrize(("tag", "name"), [(32, "LastQty"), (14, "CumQty")])
@pytest.mark.parametrize("bad", ["100.5", "-1"])
def test_a_fill_of_a_fraction_of_a_share_or_negative_shares_is_unreadable(tag: int, name: str, bad: str) -> None:
    assert unreadable((tag, bad)).reason == f"{name}: not a whole number of shares: {bad!r}"


@pytest.mark.parametrize("exec_type", ["I", "4", "C", "8", "3"])
def test_a_status_or_closing_report_with_a_garbage_cum_qty_or_avg_px_still_closes(exec_type: str) -> None:
    report = er((39, "4"), (14, "x"), (6, "y"), (32, "z"), (31, "w"), exec_type=exec_type)
    assert (report.cum_qty, report.avg_px, report.last_qty, report.last_px) == (None, None, None, None)
    assert report.final


@pytest.mark.parametrize(("cum", "avg", "expected"), [
    (None, None, (None, None)), ("", "", (None, None)), ("0", "0", (0, Decimal(0))),
    ("300", "10.125", (300, Decimal("10.125"))), ("300.0", "1e1", (300, None)),
])
def test_cum_qty_14_and_avg_px_6_of_a_status_report(cum: str | None, avg: str | None,
                                                     expected: tuple[int | None, Decimal | None]) -> None:
    fields = [*([(14, cum)] if cum is not None else []), *([(6, avg)] if avg is not None else [])]
    report = er(*fields, exec_type="I")
    assert (report.cum_qty, report.avg_px) == expected


@pytest.mark.parametrize(("text", "value"), [
    (None, None), ("", None), ("0", None), ("1", LastLiquidityInd.ADDED_LIQUIDITY),
    ("2", LastLiquidityInd.REMOVED_LIQUIDITY), ("3", LastLiquidityInd.LIQUIDITY_ROUTED_OUT), ("x", None)])
def test_last_liquidity_ind_851(text: str | None, value: LastLiquidityInd | None) -> None:
    assert er(*([(851, text)] if text is not None else [])).liquidity is value


@pytest.mark.parametrize(("text", "value"), [(None, None), ("", None), ("0", Decimal(0)), ("0.25", Decimal("0.25")),
                                             ("-0.0030", Decimal("-0.0030")), ("cheap", None)])
def test_commission_12_informs_and_never_makes_a_fill_unreadable(text: str | None, value: Decimal | None) -> None:
    report = er((32, "100"), (31, "10"), *([(12, text)] if text is not None else []))
    assert report.fee == value and report.last_qty == 100


@pytest.mark.parametrize(("text", "value"), [(None, ""), ("", ""), ("0", "0"), ("venue closed", "venue closed")])
def test_text_58(text: str | None, value: str) -> None:
    assert er(*([(58, text)] if text is not None else []), exec_type="8").text == value


# ---- OrderCancelReject (9) --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "reason"), [
    (None, None), ("", None), ("0", CancelRejectReason.TOO_LATE), ("1", CancelRejectReason.UNKNOWN_ORDER),
    ("3", CancelRejectReason.ALREADY_PENDING), ("2", CancelRejectReason.OTHER), ("99", CancelRejectReason.OTHER),
    ("x", CancelRejectReason.OTHER),
])
def test_cxl_rej_reason_102(text: str | None, reason: CancelRejectReason | None) -> None:
    report = read_venue_message(msg("9", (11, "C1.1.X1"), (41, "C1.1"), (39, "2"),
                                    *([(102, text)] if text is not None else []), (58, "too late")))
    assert report == VenueCancelReject("C1.1.X1", "C1.1", reason, OrderState.FILLED, "too late")


def test_a_cancel_reject_without_ids_status_or_text() -> None:
    assert read_venue_message(msg("9", (11, ""), (39, "?"))) == VenueCancelReject(None, None, None, None, "")


# ---- market data (W, X, Y) and trading status (h) ------------------------------------------------


def test_a_snapshot_reads_symbol_request_and_bid_offer_entries_and_counts_bad_ones() -> None:
    report = read_venue_message(msg(
        "W", (262, "MD1.1"), (55, "ACME"), (268, "7"),
        (269, "0"), (270, "99.50"), (271, "300"),
        (269, "1"), (270, "100.00"), (271, "0"),  # an empty level is kept: the market view skips it
        (269, "2"), (270, "99.75"), (271, "50"),  # a trade in a snapshot: history, left out
        (269, "0"), (270, "abc"), (271, "1"),  # bad price
        (269, "1"), (270, "100.5"), (271, "1.5"),  # fractional size
        (269, "1"), (271, "10"),  # no price
        (269, "4"), (270, "x")))  # an unused entry type: never checked
    assert report == BookSnapshot("MD1.1", "ACME", (
        BookLevel(MDEntryType.BID, Decimal("99.50"), 300), BookLevel(MDEntryType.OFFER, Decimal("100.00"), 0)), 3)


@pytest.mark.parametrize("fields", [[], [(55, "")]])
def test_a_snapshot_without_symbol_leaves_it_to_the_request(fields: list[tuple[int, str]]) -> None:
    assert read_venue_message(msg("W", *fields, (268, "0"))) == BookSnapshot(None, None, (), 0)


def test_a_symbol_after_no_md_entries_is_not_the_snapshot_symbol() -> None:
    report = read_venue_message(msg("W", (268, "1"), (269, "0"), (55, "ACME"), (270, "1"), (271, "1")))
    assert isinstance(report, BookSnapshot) and report.symbol is None and len(report.levels) == 1


def test_an_increment_reads_each_entry_with_the_previous_symbol_carried() -> None:
    report = read_venue_message(msg(
        "X", (262, "MD1.1"), (268, "8"),
        (279, "0"), (269, "0"), (55, "ACME"), (270, "99.50"), (271, "300"),
        (279, "1"), (269, "1"), (290, "2"), (271, "40"),  # by position, symbol carried
        (279, "2"), (269, "0"), (55, "LOTS"), (270, "5.00"),  # delete: no size
        (279, "0"), (269, "2"), (270, "5.01"), (271, "25"),  # a trade
        (279, "1"), (269, "2"), (270, "x"),  # a trade changed: not used, never checked
        (279, "7"), (269, "0"),  # unknown action
        (279, "0"), (270, "1"),  # no entry type
        (279, "0"), (269, "5"), (270, "x")))  # an unused entry type
    assert report == BookIncrement("MD1.1", (
        BookChange("ACME", MDUpdateAction.NEW, BookChangeKind.BID, Decimal("99.50"), 300),
        BookChange("ACME", MDUpdateAction.CHANGE, BookChangeKind.OFFER, None, 40, 2),
        BookChange("LOTS", MDUpdateAction.DELETE, BookChangeKind.BID, Decimal("5.00"), None),
        BookChange("LOTS", MDUpdateAction.NEW, BookChangeKind.TRADE, Decimal("5.01"), 25),
        BookChange("LOTS", MDUpdateAction.CHANGE, BookChangeKind.TRADE),
        BookChange("LOTS", None, BookChangeKind.BID),
        BookChange("LOTS", MDUpdateAction.NEW, None),
        BookChange("LOTS", MDUpdateAction.NEW, BookChangeKind.OTHER),
    ))


@pytest.mark.parametrize(("entry", "error"), [
    ([(279, "0"), (269, "0"), (271, "5")], "no price"),
    ([(279, "1"), (269, "0"), (271, "5")], "no price"),
    ([(279, "2"), (269, "1")], "no price"),
    ([(279, "1"), (269, "0"), (290, "0"), (271, "5")], "bad MDEntryPositionNo '0'"),
    ([(279, "1"), (269, "0"), (290, "x"), (271, "5")], "bad MDEntryPositionNo 'x'"),
    ([(279, "1"), (269, "0"), (290, ""), (271, "5")], "bad MDEntryPositionNo ''"),
    ([(279, "0"), (269, "0"), (270, "1e2"), (271, "5")], "not a FIX number: '1e2'"),
    ([(279, "0"), (269, "0"), (270, "1")], "not a FIX number: None"),
    ([(279, "0"), (269, "1"), (270, "1"), (271, "-5")], "not a whole number of shares: '-5'"),
    ([(279, "0"), (269, "2"), (270, "1"), (271, "0")], "a trade of no shares"),
    ([(279, "0"), (269, "2"), (270, ""), (271, "3")], "not a FIX number: ''"),
])
def test_an_increment_entry_that_cannot_be_applied_says_why(entry: list[tuple[int, str]], error: str) -> None:
    report = read_venue_message(msg("X", (268, "1"), (55, "ACME"), *entry))
    assert isinstance(report, BookIncrement)
    [change] = report.changes
    assert change.error == error


def test_a_market_data_request_reject_reads_request_reason_and_text() -> None:
    assert read_venue_message(msg("Y", (262, "MD1.1"), (281, "1"), (58, "duplicate"))) == MarketDataRejected(
        "MD1.1", "1", "duplicate")
    assert read_venue_message(msg("Y")) == MarketDataRejected("", None, "")


@pytest.mark.parametrize(("text", "status"), [
    ("1", VenueStatus.HALTED), ("2", VenueStatus.OPEN), ("3", VenueStatus.CLOSED), ("4", VenueStatus.CLOSED),
    ("5", VenueStatus.CLOSED), ("0", None), ("6", None), ("", None), (None, None), ("x", None),
])
def test_trad_ses_status_340(text: str | None, status: VenueStatus | None) -> None:
    assert read_venue_message(msg("h", (336, "1"), *([(340, text)] if text is not None else []))) == TradingStatus(
        status)


@pytest.mark.parametrize("msg_type", ["0", "j", "3", "B", "V"])
def test_messages_the_execution_side_has_no_use_for_are_none(msg_type: str) -> None:
    assert read_venue_message(msg(msg_type, (58, "x"))) is None


# ---- child orders out ---------------------------------------------------------------------------


def child(price: str | None = "142.50", ioc: bool = False, direction: int = 1, venue_order_id: str | None = None
          ) -> ChildOrder:
    c = ChildOrder("C3.7", "P1", "ATLX", "ACME", direction, 300, Decimal(price) if price else None, ioc, T0)
    c.venue_order_id = venue_order_id
    return c


def test_a_limit_child_is_a_day_limit_new_order_single() -> None:
    assert new_order_single(child(), T0) == [(11, "C3.7"), (55, "ACME"), (54, "1"), (60, format_utc_timestamp(T0)),
                                             (38, 300), (40, "2"), (44, Decimal("142.50")), (59, "0")]


def test_a_market_ioc_sell_child_has_no_price() -> None:
    assert new_order_single(child(None, ioc=True, direction=-1), T0) == [
        (11, "C3.7"), (55, "ACME"), (54, "2"), (60, format_utc_timestamp(T0)), (38, 300), (40, "1"), (59, "3")]


def test_a_cancel_names_the_child_its_own_id_and_the_venue_order_id_once_known() -> None:
    assert cancel_request(child(), "C3.7.X1", T0) == [
        (41, "C3.7"), (11, "C3.7.X1"), (55, "ACME"), (54, "1"), (60, format_utc_timestamp(T0)), (38, 300)]
    assert cancel_request(child(venue_order_id="V9"), "C3.7.X2", T0)[:3] == [(37, "V9"), (41, "C3.7"),
                                                                             (11, "C3.7.X2")]


def test_a_status_request_names_the_child_and_the_venue_order_id_once_known() -> None:
    assert status_request(child()) == [(11, "C3.7"), (55, "ACME"), (54, "1")]
    assert status_request(child(venue_order_id="V9")) == [(37, "V9"), (11, "C3.7"), (55, "ACME"), (54, "1")]


def test_a_market_data_request_asks_for_an_aggregated_book_and_trades_then_increments() -> None:
    assert market_data_request("MD1.1", ["ACME", "LOTS"], 5) == [
        (262, "MD1.1"), (263, "1"), (264, 5), (265, "1"), (266, "Y"), (267, 3), (269, "0"), (269, "1"), (269, "2"),
        (146, 2), (55, "ACME"), (55, "LOTS")]


def test_the_drop_copy_of_an_execution_carries_the_childs_totals() -> None:
    c = child(venue_order_id="V9")
    c.cum_qty, c.notional = 100, Decimal("14250.00")
    assert execution_copy(c, "E1", 100, Decimal("142.50"), "2", Decimal("0.30"), T0) == [
        (37, "V9"), (11, "C3.7"), (17, "E1"), (150, "F"), (39, "1"), (55, "ACME"), (54, "1"), (38, 300), (32, 100),
        (31, Decimal("142.50")), (151, 200), (14, 100), (6, Decimal("142.5")), (851, "2"), (12, Decimal("0.30")),
        (60, format_utc_timestamp(T0))]
    c.cum_qty, c.notional = 300, Decimal("42750")
    done = execution_copy(child(), "E2", 200, Decimal("142.50"), "", None, T0)
    assert (39, "1") in done and all(tag not in (851, 12) for tag, _ in done)
    done = execution_copy(c, "E2", 200, Decimal("142.50"), "", Decimal(0), T0)
    assert (39, "2") in done and (151, 0) in done and (12, Decimal(0)) in done


def test_bodies_encode_to_plain_fix_values() -> None:
    """Enum members go out as their wire values, not as their names."""
    wire = encode("FIX.4.4", "D", [], new_order_single(child(), T0))
    assert b"\x0140=2\x01" in wire and b"\x0154=1\x01" in wire and b"\x0159=0\x01" in wire
    decoded = decode(wire)
    assert isinstance(decoded, Message) and decoded.get(44) == "142.50"
