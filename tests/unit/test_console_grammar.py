"""The console's command language (``metaorder.console.grammar``) and its FIX mapping (``messages``)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.console.grammar import (
    Cancel,
    Fills,
    Help,
    NewOrder,
    Orders,
    ParseError,
    Quit,
    Raw,
    Replace,
    Status,
    Wait,
    parse,
)
from metaorder.console.messages import WindowError, at_clock_time, new_order_body, split_raw

NOW = datetime(2025, 3, 4, 14, 0, 0, tzinfo=UTC).timestamp()


def fields(line: str, now: float = NOW) -> tuple[dict[int, str], list[str]]:
    cmd = parse(line)
    assert isinstance(cmd, NewOrder)
    body, notes = new_order_body(cmd, "T-C1", now)
    return {int(t): str(v) for t, v in body}, notes


@pytest.mark.parametrize(("line", "expected"), [
    ("buy 100 ACME", NewOrder("BUY", 100, "ACME")),
    ("buy 100 ACME @ 142.40", NewOrder("BUY", 100, "ACME", price=Decimal("142.40"))),
    ("buy 100 acme @142.40", NewOrder("BUY", 100, "ACME", price=Decimal("142.40"))),
    ("sell 500 GLOBX vwap for 30m", NewOrder("SELL", 500, "GLOBX", strategy="VWAP", duration=1800.0)),
    ("buy 2000 NOVA is until 15:30 urgency high",
     NewOrder("BUY", 2000, "NOVA", strategy="IS", until=time(15, 30), urgency="HIGH")),
    ("sell 300 ZEPH pov 10%", NewOrder("SELL", 300, "ZEPH", strategy="POV", participation=Decimal("0.1"))),
    ("buy 1000 ACME twap for 2m routing seek", NewOrder("BUY", 1000, "ACME", strategy="TWAP", duration=120.0,
                                                        routing="SEEK")),
    ("short 2,000 ACME aggressiveness passive for 1h30m from 14:05",
     NewOrder("SHORT", 2000, "ACME", aggressiveness="PASSIVE", duration=5400.0, start=time(14, 5))),
    ("buy 10 ACME twap participation 0.25 arrival 142.45",
     NewOrder("BUY", 10, "ACME", strategy="TWAP", participation=Decimal("0.25"), arrival=Decimal("142.45"))),
])
def test_order_lines_parse_to_typed_orders(line: str, expected: NewOrder) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize(("line", "expected"), [
    ("cancel C1", Cancel("C1")),
    ("replace C1 qty 200", Replace("C1", qty=200)),
    ("replace c2 @ 142.35", Replace("c2", price=Decimal("142.35"))),
    ("replace C2 qty 50 @142.35", Replace("C2", qty=50, price=Decimal("142.35"))),
    ("status C1", Status("C1")),
    ("fills ABCD-C3", Fills("ABCD-C3")),
    ("orders", Orders()),
    ("wait", Wait()),
    ("wait C1 30", Wait("C1", 30.0)),
    ("wait 5s", Wait(None, 5.0)),
    ("help", Help()),
    ("quit", Quit()),
    ("raw 35=D|55=ACME|54=1", Raw("D", ((55, "ACME"), (54, "1")))),
])
def test_other_commands_parse(line: str, expected: object) -> None:
    assert parse(line) == expected


@pytest.mark.parametrize("line", ["", "   ", "# a comment"])
def test_blank_lines_and_comments_are_no_command(line: str) -> None:
    assert parse(line) is None


@pytest.mark.parametrize(("line", "says"), [
    ("purchase 100 ACME", "unknown command 'purchase'"),
    ("buy ACME", "needs a quantity and a symbol"),
    ("buy -5 ACME", "quantity must be a positive whole number"),
    ("buy 1.5 ACME", "quantity must be a positive whole number"),
    ("buy 100 ACME @ abc", "price must be a positive number"),
    ("buy 100 ACME @ 0", "price must be a positive number"),
    ("buy 100 ACME @ NaN", "price must be a positive number"),
    ("buy 100 ACME vwap for 30x", "duration must look like 90s, 30m, 2h or 1h30m"),
    ("buy 100 ACME until 25:00", "time must be HH:MM"),
    ("buy 100 ACME for 5m until 15:00", "either 'for DURATION' or 'until HH:MM'"),
    ("sell 300 ZEPH pov 150%", "participation must be a percent"),
    ("buy 100 ACME urgency extreme", "urgency must be one of low, medium, high"),
    ("buy 100 ACME routing", "'routing' needs a value"),
    ("buy 100 ACME twap vwap", "given twice"),
    ("buy 100 ACME soon", "unknown word 'soon'"),
    ("cancel", "cancel takes one order id"),
    ("replace C1", "needs a new quantity or price"),
    ("replace C1 px 3", "unexpected 'px'"),
    ("orders now", "orders takes nothing after it"),
    ("raw 55=ACME", "needs a MsgType"),
    ("raw 35=D|x=1", "is not TAG=VALUE"),
    ("raw 35=D|55=", "empty value"),
])
def test_bad_lines_say_in_one_line_what_is_wrong(line: str, says: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(line)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_bare_market_order_sends_no_strategy_so_the_engines_default_applies() -> None:
    f, notes = fields("buy 100 ACME")
    assert (f[11], f[55], f[54], f[38], f[40], f[59]) == ("T-C1", "ACME", "1", "100", "1", "0")
    assert f[60] == "20250304-14:00:00.000"
    assert not {44, 847, 126, 168, 848, 849} & f.keys() and notes == []


def test_a_limit_order_is_ordtype_2_with_its_price_exactly() -> None:
    f, _ = fields("buy 100 ACME @ 142.40")
    assert (f[40], f[44]) == ("2", "142.40")


def test_strategies_map_to_the_documented_target_strategy_codes() -> None:
    assert [fields(f"buy 1 ACME {s}")[0][847] for s in ("vwap", "pov 5%", "twap", "is")] == ["1", "2", "1000", "1001"]


def test_for_sets_expire_time_to_now_plus_the_duration() -> None:
    f, _ = fields("sell 500 GLOBX vwap for 30m")
    assert (f[54], f[126]) == ("2", "20250304-14:30:00.000")


def test_until_a_later_time_is_today_and_a_past_time_is_tomorrow_with_a_note() -> None:
    f, notes = fields("buy 2000 NOVA is until 15:30 urgency high")
    assert (f[126], f[848], notes) == ("20250304-15:30:00.000", "Urgency=HIGH", [])
    f, notes = fields("buy 2000 NOVA is until 09:30")
    assert f[126] == "20250305-09:30:00.000"
    assert f[59] == "6"
    assert notes == ["09:30 UTC has passed today: the window ends tomorrow at 09:30 UTC (sent as GTD, 59=6)"]


def test_from_sets_effective_time_today_and_for_counts_from_that_start() -> None:
    f, notes = fields("buy 10 ACME twap from 14:30 for 1h")
    assert (f[168], f[126], f[59], notes) == ("20250304-14:30:00.000", "20250304-15:30:00.000", "0", [])


def test_participation_and_the_848_parameters() -> None:
    f, _ = fields("sell 300 ZEPH pov 10% urgency low aggressiveness aggressive routing parallel")
    assert (f[54], f[847], f[849]) == ("2", "2", "0.1")
    assert f[848] == "Urgency=LOW;Aggressiveness=AGGRESSIVE;Routing=PARALLEL"


def test_short_is_side_5_and_the_arrival_price_is_not_sent() -> None:
    f, _ = fields("short 100 ACME arrival 142.45")
    assert f[54] == "5" and "142.45" not in f.values()


def test_clock_times_roll_to_tomorrow_exactly_at_or_after_now() -> None:
    assert at_clock_time(time(14, 0), NOW) == (NOW + 86400, True)
    assert at_clock_time(time(14, 0, 1), NOW) == (NOW + 1, False)


def test_raw_messages_may_not_set_the_sessions_header_but_other_header_tags_go_to_the_header() -> None:
    header, body = split_raw([(115, "OMS9"), (55, "ACME")], frozenset({115, 34, 49}))
    assert (header, body) == ([(115, "OMS9")], [(55, "ACME")])
    with pytest.raises(ValueError, match="tag 34 is written by the session"):
        split_raw([(34, "7")], frozenset({34}))


def test_a_start_already_past_counts_for_from_its_own_time_and_a_window_already_over_is_refused() -> None:
    f, _ = fields("buy 10 ACME twap from 13:30 for 1h")  # 13:30-14:30: half of it is left
    assert (f[168], f[126]) == ("20250304-13:30:00.000", "20250304-14:30:00.000")
    cmd = parse("buy 10 ACME twap from 12:00 for 30m")
    assert isinstance(cmd, NewOrder)
    with pytest.raises(WindowError, match="the window from 12:00 for 30m ended at 12:30 UTC"):
        new_order_body(cmd, "T-C1", NOW)


def test_until_is_the_first_such_time_after_the_start() -> None:
    f, notes = fields("buy 10 ACME from 15:00 until 16:00")
    assert (f[168], f[126], f[59], notes) == ("20250304-15:00:00.000", "20250304-16:00:00.000", "0", [])
    f, notes = fields("buy 10 ACME from 15:00 until 14:30")
    assert (f[126], f[59]) == ("20250305-14:30:00.000", "6")
    assert notes == ["14:30 UTC is not after the start (15:00 UTC): the window ends tomorrow at 14:30 UTC "
                     "(sent as GTD, 59=6)"]


def test_a_window_ending_on_a_later_utc_day_is_sent_gtd_and_one_ending_today_day() -> None:
    f, notes = fields("buy 10 ACME vwap for 9h59m")
    assert (f[126], f[59], notes) == ("20250304-23:59:00.000", "0", [])
    f, notes = fields("buy 10 ACME vwap for 10h")
    assert (f[126], f[59]) == ("20250305-00:00:00.000", "6")
    assert notes == ["the window ends 2025-03-05 00:00 UTC, not today: sent as GTD (59=6), worked until then"]
    f, _ = fields("buy 10 ACME vwap from 16:00")  # no end: the engine's end of day, a DAY order
    assert (f[59], 126 in f) == ("0", False)


@pytest.mark.parametrize(("line", "says"), [
    ("buy \u00b200 ACME", "quantity must be a positive whole number"),  # superscript two: isdigit() says yes
    ("buy \u0661\u0662 ACME", "quantity must be a positive whole number"),  # Arabic-Indic digits
    ("raw 35=D|\u00b2=5", "is not TAG=VALUE"),
    ("raw 35=D|" + "9" * 50 + "=5", "is not TAG=VALUE"),
    ("raw 35=D|58=\u20ac", "characters FIX cannot carry"),
    ("raw 35=D E|55=ACME", "MsgType (35) must be letters and digits"),
    ("buy 100 ACME until \u0661\u0662:30", "time must be HH:MM"),
    ("buy 100 ACME @ 1e999999", "price must be a positive number"),
    ("buy 100 ACME @ \u0661", "price must be a positive number"),
    ("sell 300 ZEPH pov 1e-999999", "participation must be a percent"),
    ("buy 100 ACME for " + "9" * 400 + "s", "duration must be at most 366 days"),
    ("buy 100 ACME for 9999999999999999999h", "duration must be at most 366 days"),
    ("buy 100 ACME for 8785h", "duration must be at most 366 days"),
    ("buy " + "9" * 5000 + " ACME", "quantity must be at most 1,000,000,000,000 shares"),
    ("wait " + "9" * 400, "wait is at most 366 days"),
    ("wait \u00b2", "is not an order id"),
])
def test_unusual_input_is_a_one_line_parse_error_never_a_crash(line: str, says: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(line)
    assert says in str(err.value) and "\n" not in str(err.value) and len(str(err.value)) < 300


def test_the_longest_window_is_a_year_and_a_day() -> None:
    f, _ = fields("buy 100 ACME for 8784h")
    assert f[126] == "20260305-14:00:00.000" and f[59] == "6"


_WORDS = st.sampled_from(["buy", "sell", "short", "raw", "replace", "wait", "cancel", "100", "ACME", "@", "for",
                          "until", "from", "pov", "twap", "participation", "urgency", "high", "9" * 30, "0", "1e9",
                          "35=D", "|", "=", "\u00b2", "\u0661", "12:30", "99:99", "h", "m", "s", "%", "qty", "C1",
                          "arrival", "-1", ".", "NaN", "Infinity"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(_WORDS, max_size=10).map(" ".join),
                 st.lists(st.one_of(_WORDS, st.text(max_size=6)), max_size=8).map("".join)))
def test_any_line_parses_and_builds_its_message_or_says_why_in_one_line(line: str) -> None:
    try:
        cmd = parse(line)
        if isinstance(cmd, NewOrder):
            body, notes = new_order_body(cmd, "T-C1", NOW)
            assert all(isinstance(v, str | int | Decimal) for _, v in body) and all("\n" not in n for n in notes)
    except (ParseError, WindowError) as exc:
        assert "\n" not in str(exc)
