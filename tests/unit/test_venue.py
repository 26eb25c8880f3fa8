"""Lit venue order entry: execution reports, fees, cancels, replaces and refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.venues.model import OrdType, TimeInForce
from metaorder.venues.venue import Fees, Latency, LitVenue, Rules, VenueStatus
from tests.unit.venuesupport import ACME, LOTS, T0, body, cancel, fix, new_order, replace, reports


def venue(**kw: object) -> LitVenue:
    return LitVenue("ATLX", [ACME, LOTS], **kw)  # type: ignore[arg-type]


def test_a_limit_order_that_does_not_cross_rests_and_is_acknowledged_after_the_ack_latency() -> None:
    v = venue(latency=Latency(ack=0.002, fill=0.001))
    [ack] = v.new_order("A", new_order("o1", "1", 100, "99.50"), T0)
    er = body(ack)
    assert ack.owner == "A" and ack.due == T0 + 0.002
    assert (er[150], er[39], er[14], er[151], er[11], er[44]) == ("0", "0", "0", "100", "o1", "99.5")
    assert v.books["ACME"].best_bid() == (9950, 100)


def test_a_crossing_order_fills_both_sides_with_liquidity_indicator_and_fees() -> None:
    v = venue(fees=Fees(maker_per_share=Decimal("-0.0020"), taker_per_share=Decimal("0.0030")))
    v.new_order("A", new_order("s1", "2", 100, "100.00"), T0)
    out = v.new_order("B", new_order("b1", "1", 150, "100.05"), T0)
    maker = reports(out, "A")[-1]
    taker = next(r for r in reports(out, "B") if r[150] == "F")
    assert (maker[150], maker[39], maker[32], maker[31], maker[851], maker[12], maker[13]) == (
        "F", "2", "100", "100", "1", "-0.2000", "3")
    assert (taker[150], taker[39], taker[32], taker[31], taker[851], taker[12]) == (
        "F", "1", "100", "100", "2", "0.3000")
    assert (taker[14], taker[151], taker[6], taker[30]) == ("100", "50", "100", "ATLX")
    assert v.books["ACME"].best_bid() == (10005, 50)  # the remainder rests at its limit


def test_avg_px_is_exact_over_several_fills() -> None:
    v = venue()
    v.new_order("A", new_order("s1", "2", 1, "100.00"), T0)
    v.new_order("A", new_order("s2", "2", 2, "100.01"), T0)
    out = v.new_order("B", new_order("b1", "1", 3, "100.01"), T0)
    last = [r for r in reports(out, "B") if r[150] == "F"][-1]
    assert Decimal(last[6]) == (Decimal("100.00") + 2 * Decimal("100.01")) / 3
    assert (last[14], last[39]) == ("3", "2")


def test_cancel_of_a_resting_order_reports_cancelled_and_removes_it() -> None:
    v = venue()
    v.new_order("A", new_order("o1", "1", 100, "99.00"), T0)
    [out] = v.cancel("A", cancel("c1", "o1"), T0)
    er = body(out)
    assert (out.msg_type, er[150], er[39], er[11], er[41], er[151]) == ("8", "4", "4", "c1", "o1", "0")
    assert v.books["ACME"].best_bid() is None


def test_cancel_of_an_unknown_order_gets_order_cancel_reject_unknown_order() -> None:
    [out] = venue().cancel("A", cancel("c1", "nope"), T0)
    er = body(out)
    assert (out.msg_type, er[102], er[434], er[39]) == ("9", "1", "1", "8")
    assert "unknown order" in er[58]


def test_cancel_of_a_filled_order_is_too_late() -> None:
    v = venue()
    v.new_order("A", new_order("s1", "2", 10, "100.00"), T0)
    v.new_order("B", new_order("b1", "1", 10, "100.00"), T0)
    [out] = v.cancel("A", cancel("c1", "s1", side="2"), T0)
    er = body(out)
    assert (out.msg_type, er[102], er[39]) == ("9", "0", "2")
    assert "too late" in er[58]


def test_cancel_of_another_sessions_order_is_unknown_to_the_requester() -> None:
    v = venue()
    v.new_order("A", new_order("o1", "1", 100, "99.00"), T0)
    [out] = v.cancel("B", cancel("c1", "o1"), T0)
    assert out.msg_type == "9" and v.books["ACME"].best_bid() == (9900, 100)


def test_replace_reducing_size_keeps_time_priority() -> None:
    v = venue()
    v.new_order("A", new_order("a1", "1", 100, "99.00"), T0)
    v.new_order("B", new_order("b1", "1", 100, "99.00"), T0)
    [ack] = v.replace("A", replace("a2", "a1", "1", 60, "99.00"), T0)
    assert (body(ack)[150], body(ack)[11], body(ack)[41], body(ack)[151]) == ("5", "a2", "a1", "60")
    out = v.new_order("C", new_order("s1", "2", 60, "99.00"), T0)
    assert [r[11] for r in reports(out) if r[150] == "F" and r.get(851) == "1"] == ["a2"]


def test_replace_to_a_new_price_loses_priority() -> None:
    v = venue()
    v.new_order("A", new_order("a1", "1", 100, "99.00"), T0)
    v.new_order("B", new_order("b1", "1", 100, "99.00"), T0)
    v.replace("A", replace("a2", "a1", "1", 100, "98.99"), T0)
    v.replace("A", replace("a3", "a2", "1", 100, "99.00"), T0)
    out = v.new_order("C", new_order("s1", "2", 100, "99.00"), T0)
    assert [r[11] for r in reports(out) if r[150] == "F" and r.get(851) == "1"] == ["b1"]


def test_replace_that_changes_side_is_refused_and_changes_nothing() -> None:
    v = venue()
    v.new_order("A", new_order("a1", "1", 100, "99.00"), T0)
    [out] = v.replace("A", replace("a2", "a1", "2", 100, "99.00"), T0)
    assert out.msg_type == "9" and "Side" in body(out)[58] and body(out)[434] == "2"
    assert v.books["ACME"].best_bid() == (9900, 100)


def test_order_status_reports_the_true_state() -> None:
    v = venue()
    v.new_order("A", new_order("s1", "2", 100, "100.00"), T0)
    v.new_order("B", new_order("b1", "1", 40, "100.00"), T0)
    [out] = v.order_status("A", fix("H", [(37, "x"), (11, "s1"), (55, "ACME"), (54, "2")]), T0)
    er = body(out)
    assert (er[150], er[39], er[14], er[151]) == ("I", "1", "40", "60")


def test_ioc_remainder_is_cancelled_and_market_order_on_an_empty_side_is_cancelled() -> None:
    v = venue()
    v.new_order("A", new_order("s1", "2", 30, "100.00"), T0)
    out = v.new_order("B", new_order("b1", "1", 100, "100.00", tif="3"), T0)
    last = reports(out, "B")[-1]
    assert (last[150], last[39], last[14], last[151]) == ("4", "4", "30", "0")
    out = v.new_order("B", new_order("m1", "1", 100), T0)
    assert [(r[150], r[39]) for r in reports(out, "B")] == [("0", "0"), ("4", "4")]
    assert len(v.books["ACME"]) == 0


@pytest.mark.parametrize(
    ("message", "reason", "text"),
    [
        (new_order("x", "1", 100, "10.00", symbol="NOPE"), "1", "unknown symbol"),
        (new_order("x", "1", 100, "99.995"), "99", "tick size 0.01"),
        (new_order("x", "1", 150, "20.00", symbol="LOTS"), "13", "lot size 100: ATLX does not accept odd lots"),
        (new_order("x", "1", 0, "99.00"), "13", "must be positive"),
        (new_order("x", "1", -5, "99.00"), "13", "must be positive"),
        (new_order("x", "1", "12.5", "99.00"), "13", "whole number"),
        (new_order("x", "1", 2_000_000, "99.00"), "3", "exceeds the maximum"),
        (new_order("x", "1", 100, None, ord_type="2"), "99", "needs a Price"),
        (new_order("x", "7", 100, "99.00"), "11", "side"),
        (new_order("x", "1", 100, "99.00", tif="6"), "11", "TimeInForce"),
    ],
    ids=["unknown symbol", "off tick", "lot size", "zero qty", "negative qty", "fractional qty", "too big",
         "limit without price", "bad side", "bad tif"],
)
def test_bad_orders_are_rejected_with_the_rule_in_text_and_the_book_is_untouched(
    message: object, reason: str, text: str
) -> None:
    v = venue()
    v.new_order("A", new_order("keep", "2", 100, "101.00"), T0)
    before = (v.books["ACME"].depth(10), v.books["LOTS"].depth(10))
    [out] = v.new_order("A", message, T0)  # type: ignore[arg-type]
    er = body(out)
    assert (out.msg_type, er[150], er[39], er[103]) == ("8", "8", "8", reason)
    assert text in er[58]
    assert (v.books["ACME"].depth(10), v.books["LOTS"].depth(10)) == before


def test_a_halted_venue_rejects_orders_and_announces_its_status() -> None:
    v = venue()
    [status] = v.set_status(VenueStatus.HALTED, ["A"], T0)
    assert (status.msg_type, body(status)[340]) == ("h", "1")
    [out] = v.new_order("A", new_order("x", "1", 100, "99.00"), T0)
    assert body(out)[103] == "2" and "halted" in body(out)[58]


def test_a_venue_that_accepts_odd_lots_trades_them_against_round_lots() -> None:
    v = venue(rules=Rules(odd_lots=True))
    v.new_order("A", new_order("s1", "2", 200, "20.00", symbol="LOTS"), T0)
    out = v.new_order("B", new_order("b1", "1", 37, "20.00", symbol="LOTS", tif="3"), T0)
    fill = next(r for r in reports(out, "B") if r[150] == "F")
    assert (fill[32], fill[39]) == ("37", "2")
    assert v.books["LOTS"].best_ask() == (400, 163)  # 20.00 in ticks of 0.05: the odd residue of the round lot rests on
    out = v.new_order("B", new_order("b2", "1", 150, "19.00", symbol="LOTS"), T0)  # a mixed lot rests
    assert [r[150] for r in reports(out, "B")] == ["0"]


def test_rules_of_engagement_restrict_order_types_and_time_in_force() -> None:
    v = venue(rules=Rules(ord_types=frozenset({OrdType.LIMIT}), tifs=frozenset({TimeInForce.DAY})))
    assert "order type" in body(v.new_order("A", new_order("m", "1", 100), T0)[0])[58]
    assert "TimeInForce" in body(v.new_order("A", new_order("i", "1", 100, "99.00", tif="3"), T0)[0])[58]


def test_duplicate_cl_ord_id_is_rejected() -> None:
    v = venue()
    v.new_order("A", new_order("o1", "1", 100, "99.00"), T0)
    [out] = v.new_order("A", new_order("o1", "1", 100, "99.00"), T0)
    assert body(out)[103] == "6"
    assert v.books["ACME"].best_bid() == (9900, 100)


def test_a_lit_venue_rejects_a_midpoint_peg_and_its_book_is_untouched() -> None:
    v = venue()
    v.new_order("A", new_order("keep", "2", 100, "101.00"), T0)
    [out] = v.new_order("A", new_order("p", "1", 100, "101.00", ord_type="P", extra=[(18, "M")]), T0)
    er = body(out)
    assert (er[150], er[39], er[103], er[58]) == ("8", "8", "11", "order type 'P' is not accepted on ATLX")
    assert v.books["ACME"].best_ask() == (10100, 100)


def test_a_lit_venue_configured_with_pegs_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="pegged orders are supported by dark pools only"):
        venue(rules=Rules(ord_types=frozenset({OrdType.LIMIT, OrdType.PEGGED})))
