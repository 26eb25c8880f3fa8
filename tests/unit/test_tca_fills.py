"""``metaorder tca --fills``: the arithmetic, checked against hand computations and an independent
spreadsheet-style computation in exact fractions; and every bad input as one line naming line and column."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from metaorder.posttrade.tca_fills import FillsError, analyse_fills, parse_fills, parse_time
from metaorder.posttrade.tca_render import render_fills

D = Decimal

HEADER = "child_id,time,venue,order_type,side,quantity,price,benchmark\n"
BUYS = HEADER + (
    'C1,2026-01-02T14:30:01Z,XNYS,limit,buy,"1,200",100.005,100.010\n'
    "C2,2026-01-02T14:31:15Z,ARCA,market,buy,800,100.020,100.010\n"
    'C3,2026-01-02T14:33:40Z,XNYS,limit,BUY,"2,000",99.990,100.000\n'
    "C4,2026-01-02T14:35:00.5Z,DARK1,midpoint,1,500,100.0025,100.005\n"
)


def test_a_buy_below_its_benchmark_performs_positively_and_costs_negatively() -> None:
    [row] = parse_fills(HEADER + "C1,09:30:00,XNYS,limit,buy,100,100.005,100.010\n")
    # GUIDE §6: a buy at 100.005 against 100.010 is +0.5 bps (to 4 digits: 0.005/100.01 = 0.49995 bps)
    assert row.performance_bps.quantize(D("0.0001")) == D("0.5000")
    assert row.cost_bps == -row.performance_bps
    assert row.performance_money == D("0.500")


def test_a_sell_below_its_benchmark_costs() -> None:
    [row] = parse_fills(HEADER + "C1,09:30:00,XNYS,limit,sell,100,99.90,100.00\n")
    assert row.performance_bps == D("-10")  # sold 10 cents below 100: 10 bps worse
    assert row.cost_bps == D("10")


def test_the_total_is_the_quantity_weighted_prices_and_both_conventions_by_hand() -> None:
    report = analyse_fills(parse_fills(BUYS))
    total = report.total
    assert total.side == "buy" and total.fills == 4
    assert total.quantity == 4500  # 1,200 + 800 + 2,000 + 500: thousands separators read
    # Σq·p = 120006 + 80016 + 199980 + 50001.25 = 450003.25; Σq·b = 120012 + 80008 + 200000 + 50002.5 = 450022.5
    assert total.notional == D("450003.25")
    assert total.benchmark_notional == D("450022.5")
    assert total.performance_money == D("19.25")
    assert total.avg_price.quantize(D("0.0000001")) == D("100.0007222")  # type: ignore[union-attr]
    assert total.avg_benchmark == D("100.005")
    # (100.005 − 100.000722…)/100.005 · 10⁴ = 19.25/450022.5 · 10⁴ = 0.427756… bps
    assert total.performance_bps.quantize(D("0.000001")) == D("0.427756")
    assert total.cost_bps == -total.performance_bps


def _spreadsheet(rows: list[tuple[int, int, str, str]]) -> tuple[int, Fraction, Fraction, Fraction]:
    """What a spreadsheet does, in exact fractions: SUM(q), SUMPRODUCT(q,p)/SUM(q), the same for b, then bps."""
    q = sum(r[1] for r in rows)
    avg_p = sum((Fraction(r[1]) * Fraction(r[2]) for r in rows), Fraction(0)) / q
    avg_b = sum((Fraction(r[1]) * Fraction(r[3]) for r in rows), Fraction(0)) / q
    return q, avg_p, avg_b, rows[0][0] * (avg_b - avg_p) / avg_b * 10_000


@pytest.mark.parametrize("sign,side", [(1, "buy"), (-1, "sell")])
def test_totals_agree_with_an_independent_spreadsheet_computation_to_26_digits(sign: int, side: str) -> None:
    rows = [(sign, 137 * n + 13, f"{41 + n * 0.37:.4f}", f"{41.2 + n * 0.11:.3f}") for n in range(1, 40)]
    text = HEADER + "".join(f"C{n},09:{n:02d}:00,V{n % 3},limit,{side},\"{q:,}\",{p},{b}\n"
                            for n, (_, q, p, b) in enumerate(rows))
    total = analyse_fills(parse_fills(text)).total
    q, avg_p, avg_b, perf = _spreadsheet(rows)
    assert total.quantity == q
    for ours, theirs in ((total.avg_price, avg_p), (total.avg_benchmark, avg_b), (total.performance_bps, perf)):
        assert ours is not None
        assert abs(Fraction(ours) - theirs) < Fraction(1, 10**26) * max(Fraction(1), abs(theirs)), ours
    assert total.cost_bps == -total.performance_bps


def test_mixed_sides_total_each_side_and_weigh_the_overall_by_benchmark_notional() -> None:
    text = HEADER + ("B1,09:30,X,limit,buy,100,10.01,10.00\n"  # −10 bps on 1000 of notional: −1.00
                     "S1,09:31,X,limit,sell,300,10.02,10.00\n")  # +20 bps on 3000: +6.00
    report = analyse_fills(parse_fills(text))
    assert [t.side for t in report.totals] == ["buy", "sell", "all"]
    buy, sell, both = report.totals
    assert (buy.performance_bps, sell.performance_bps) == (D("-10"), D("20"))
    assert both.quantity == 400 and both.avg_price is None
    assert both.performance_money == D("5.00")
    assert both.performance_bps == D("12.5")  # 5 / 4000 · 10⁴
    assert report.total is both


def test_the_side_column_is_optional_and_every_row_is_then_a_buy() -> None:
    text = "child_id,time,venue,order_type,quantity,price,benchmark\nC1,09:30,X,market,10,10.10,10.00\n"
    [row] = parse_fills(text)
    assert row.sign == 1 and row.performance_bps == D("-100")


def test_columns_may_come_in_any_order_with_blanks_and_extra_columns() -> None:
    text = " Price ,quantity,BENCHMARK,child_id,note,time,venue,order_type\n10.00,5,10.10,C9,x,09:30,X,limit\n"
    [row] = parse_fills(text)
    assert (row.child_id, row.quantity, row.price, row.benchmark) == ("C9", 5, D("10.00"), D("10.10"))


def test_times_are_read_in_several_forms() -> None:
    assert parse_time("09:30:01.5") == 9 * 3600 + 30 * 60 + 1.5
    assert parse_time("2026-01-02T14:30:00Z") == parse_time("20260102-14:30:00") == parse_time("2026-01-02 14:30:00")
    assert parse_time("half past nine") is None


@pytest.mark.parametrize("line,message", [
    ("C1,09:30,X,limit,buy,abc,10,10", "fills.csv line 3, column quantity: 'abc' is not a whole number"),
    ("C1,09:30,X,limit,buy,1.5,10,10", "fills.csv line 3, column quantity: '1.5' is not a whole number"),
    ('C1,09:30,X,limit,buy,"1,20",10,10', "fills.csv line 3, column quantity: '1,20' is not a whole number"),
    ("C1,09:30,X,limit,buy,0,10,10", "fills.csv line 3, column quantity: '0' is not positive"),
    ("C1,09:30,X,limit,buy,10,ten,10", "fills.csv line 3, column price: 'ten' is not a decimal number"),
    ("C1,09:30,X,limit,buy,10,10,-1", "fills.csv line 3, column benchmark: '-1' is not a decimal number"),
    ("C1,09:30,X,limit,buy,10,10,0", "fills.csv line 3, column benchmark: '0' is not positive"),
    ("C1,09:30,X,limit,hold,10,10,10", "fills.csv line 3, column side: 'hold' is not a side"),
    ("C1,noon,X,limit,buy,10,10,10", "fills.csv line 3, column time: 'noon' is not a time"),
    (",09:30,X,limit,buy,10,10,10", "fills.csv line 3, column child_id: '' is empty"),
    ("C1,09:30,X,limit,buy,10", "fills.csv line 3, column price: missing (the line has 6 fields)"),
])
def test_a_bad_row_is_one_line_naming_the_line_and_the_column(line: str, message: str) -> None:
    text = HEADER + "C0,09:29,X,limit,buy,10,10,10\n" + line + "\n"
    with pytest.raises(FillsError) as error:
        parse_fills(text, "fills.csv")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_an_empty_file_a_header_only_file_and_a_missing_column_are_refused() -> None:
    with pytest.raises(FillsError, match=r"^f.csv: empty file"):
        parse_fills("", "f.csv")
    with pytest.raises(FillsError, match=r"^f.csv: no fills after the header"):
        parse_fills(HEADER + "\n", "f.csv")
    with pytest.raises(FillsError, match=r"^f.csv line 1: missing columns price, benchmark"):
        parse_fills("child_id,time,venue,order_type,side,quantity\n", "f.csv")


def test_the_table_rounds_bps_to_2_decimals_and_prices_to_4_only_for_display() -> None:
    lines = render_fills(analyse_fills(parse_fills(BUYS), "fills.csv"), "table")
    assert lines[-1] == ("total buy: 4 fills  quantity 4,500  avg price 100.0007  avg benchmark 100.0050"
                         "  performance +0.43 bps  cost -0.43 bps  vs benchmark +19.25")
    c1 = next(line for line in lines if line.startswith("C1 "))
    assert c1.split()[-2:] == ["+0.50", "-0.50"] and "1,200" in c1


def test_json_and_csv_carry_the_exact_figures() -> None:
    import csv
    import json

    report = analyse_fills(parse_fills(BUYS), "fills.csv")
    doc = json.loads("\n".join(render_fills(report, "json")))
    assert doc["total"]["quantity"] == 4500 and D(doc["total"]["performance_money"]) == D("19.25")
    assert D(doc["total"]["performance_bps"]) == report.total.performance_bps
    rows = list(csv.DictReader(render_fills(report, "csv")))
    assert [r["section"] for r in rows] == ["fill"] * 4 + ["total"]
    assert D(rows[-1]["cost_bps"]) == report.total.cost_bps


# --------------------------------------------------------------------------- review fixes


def test_unnamed_trailing_columns_of_a_spreadsheet_export_are_ignored() -> None:
    [row] = parse_fills(HEADER.rstrip("\n") + ",,\nC1,09:30,X,limit,buy,10,10.00,10.10,,\n")
    assert (row.child_id, row.benchmark) == ("C1", D("10.10"))
    with pytest.raises(FillsError, match=r"^f.csv line 1: column price appears twice"):
        parse_fills(HEADER.rstrip("\n") + ",Price\n", "f.csv")


@pytest.mark.parametrize("odd", ["\x0c", "\u2028", "\x1c", "\x85", "\v"])
def test_a_cell_holding_a_form_feed_or_a_unicode_separator_is_text_and_keeps_the_line_numbers(odd: str) -> None:
    text = HEADER + f"C1,09:30,X{odd}Y,limit,buy,10,10,10\n" + "C2,09:31,X,limit,buy,abc,10,10\n"
    with pytest.raises(FillsError, match=r"^fills.csv line 3, column quantity: 'abc' is not a whole number"):
        parse_fills(text, "fills.csv")
    [row] = parse_fills(HEADER + f"C1,09:30,X{odd}Y,limit,buy,10,10,10\n")
    assert row.venue == f"X{odd}Y" and row.line == 2


def test_a_quoted_cell_spanning_lines_is_one_row_named_by_its_first_line() -> None:
    text = HEADER + 'C1,09:30,"X\nY",limit,buy,10,10,10\n' + 'C2,09:31,"X\r\nY",limit,buy,abc,10,10\n'
    with pytest.raises(FillsError, match=r"^fills.csv line 4, column quantity: 'abc'"):
        parse_fills(text, "fills.csv")
    rows = parse_fills(text.replace("abc", "10") + "C3,09:32,X,limit,buy,1,10,10\n")
    assert [r.line for r in rows] == [2, 4, 6]


@pytest.mark.parametrize("cells,message", [
    ("1,0.000000000000000000000001", "column benchmark: '0.000000000000000000000001' is too small (at least "
                                     "0.00000001)"),
    ("1,0.000000001", "column benchmark: '0.000000001' is too small"),
    ("1" + "0" * 30 + ",1", "column price: '1000000000000000000000000000000' is too large (at most "
                            "1,000,000,000,000)"),
    ("1" + "0" * 100_000 + ",1", "column price: '100000000000000000000000000000'... (100,001 characters) is too large"),
    ("1.000000000000000000001,1", "column price: '1.000000000000000000001' has 21 decimal places (at most 20)"),
])
def test_absurd_magnitudes_are_refused_on_their_line(cells: str, message: str) -> None:
    with pytest.raises(FillsError) as error:
        parse_fills(HEADER + f"C1,09:30,X,limit,buy,100,{cells}\n", "fills.csv")
    assert str(error.value).startswith(f"fills.csv line 2, {message}")
    assert len(str(error.value)) < 200


def test_a_quantity_beyond_a_trillion_is_refused() -> None:
    with pytest.raises(FillsError, match=r"line 2, column quantity: '1000000000001' is too large"):
        parse_fills(HEADER + "C1,09:30,X,limit,buy,1000000000001,1,1\n")


def test_figures_at_the_bounds_stay_exact_and_render_in_every_format() -> None:
    # 10¹² shares at 999,999,999,999.99999999999999999999 (32 digits): products of 45 digits, which the
    # caller's 28-digit context would round; the arithmetic and the table still answer, exactly
    text = HEADER + ("C1,09:30,X,limit,buy,1000000000000,999999999999.99999999999999999999,0.00000001\n"
                     "C2,09:31,X,limit,buy,1,0.00000001,999999999999.99999999999999999999\n")
    report = analyse_fills(parse_fills(text))
    big = Fraction("999999999999.99999999999999999999")
    tiny = Fraction("0.00000001")
    assert Fraction(report.total.notional) == 10**12 * big + tiny
    assert Fraction(report.total.performance_money) == 10**12 * (tiny - big) + (big - tiny)
    for fmt in ("table", "json", "csv"):
        assert render_fills(report, fmt)
