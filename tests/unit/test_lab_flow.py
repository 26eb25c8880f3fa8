"""The execution lab's flow (lab/flow.py), its baseline strategy (execution/immediate.py) and its figures.

* flow files: good rows with defaults, thousands separators, FIX side codes; every bad column refused
  with one line naming file, line and column;
* the standard flow: seeded, both sides, windows of minutes, the illiquid instrument at about 12 % of
  its daily volume, never a likely duplicate;
* the NewOrderSingle each row becomes (847 replaced, 849 defaulted for POV, 168/126 from the window);
* IMMEDIATE: everything unworked at once, aggressive, with the parent's limit, idempotent;
* a tiny run: ALONE never crosses, and a figure of over 100 % participation cannot happen.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.config import load_config, load_venues_config
from metaorder.execution.immediate import Immediate, ImmediateSettings
from metaorder.execution.types import ParentState, Style
from metaorder.fix.codec import parse_utc_timestamp
from metaorder.lab.command import instruments
from metaorder.lab.flow import (
    DEFAULT_POV_RATE,
    DEFAULT_WINDOW_S,
    FlowError,
    FlowInstrument,
    parse_flow,
    read_flow,
    standard_flow,
    write_flow,
)
from metaorder.lab.flow import new_order_body as body_of
from metaorder.lab.metrics import run_figures
from metaorder.lab.runner import ALONE, run_once

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ("ACME", "KELP", "ZEPH")
HEADER = "time_s,session,account,symbol,side,qty,ord_type,limit,strategy,window_s,participation,urgency"


def flow(*rows: str, header: str = HEADER) -> list[str]:
    return [header, *rows]


# ---- flow files -------------------------------------------------------------------------------


def test_a_full_row_is_read_as_written() -> None:
    [o] = parse_flow(flow('1.5,OMS2,ACC9,ACME,sell,"12,500",limit,141.20,VWAP,240,0.2,HIGH'), SYMBOLS)
    assert (o.time_s, o.session, o.account, o.symbol, o.side, o.qty) == (1.5, "OMS2", "ACC9", "ACME", "2", 12500)
    assert (o.limit, o.strategy, o.window_s, o.participation, o.urgency) == (Decimal("141.20"), "VWAP", 240.0,
                                                                             Decimal("0.2"), "HIGH")
    assert (o.line, o.cl_ord_id) == (2, "L2")


def test_empty_cells_take_the_defaults() -> None:
    [o] = parse_flow(flow("0,,,ACME,buy,7,,,,,,"), SYMBOLS)
    assert (o.session, o.account, o.limit, o.strategy, o.window_s, o.participation, o.urgency) == (
        "OMS1", None, None, None, DEFAULT_WINDOW_S, None, None)


def test_a_limit_without_an_order_type_makes_a_limit_order() -> None:
    [o] = parse_flow(flow("0,,,ACME,buy,7,,140.5,,,,"), SYMBOLS)
    assert o.limit == Decimal("140.5")


def test_columns_may_come_in_any_order_and_be_left_out() -> None:
    [o] = parse_flow(flow("KELP,300,5,short", header="symbol,qty,time_s,side"), SYMBOLS)
    assert (o.symbol, o.qty, o.time_s, o.side) == ("KELP", 300, 5.0, "5")


@pytest.mark.parametrize(("side", "fix"), [("buy", "1"), ("SELL", "2"), ("short", "5"), ("1", "1"), ("2", "2"),
                                           ("5", "5")])
def test_sides_by_name_or_fix_code(side: str, fix: str) -> None:
    [o] = parse_flow(flow(f"0,,,ACME,{side},1,,,,,,"), SYMBOLS)
    assert o.side == fix


@pytest.mark.parametrize(("text", "qty"), [("1", 1), ("999", 999), ('"1,000"', 1000), ('"12,345,678"', 12345678),
                                           ("1_000", 1000), ("007", 7)])
def test_whole_share_quantities_with_thousands_separators(text: str, qty: int) -> None:
    [o] = parse_flow(flow(f"0,,,ACME,buy,{text},,,,,,"), SYMBOLS)
    assert o.qty == qty


def test_orders_come_out_in_arrival_order_file_order_breaking_ties() -> None:
    rows = parse_flow(flow("9,,,ACME,buy,1,,,,,,", "3,,,ACME,buy,2,,,,,,", "3,,,ACME,buy,3,,,,,,"), SYMBOLS)
    assert [o.qty for o in rows] == [2, 3, 1]


def test_comments_and_blank_lines_are_skipped_but_lines_are_counted_as_the_files() -> None:
    with pytest.raises(FlowError, match=r"^f.csv:5: column qty: "):
        parse_flow(["# a flow", HEADER, "", "0,,,ACME,buy,1,,,,,,", "0,,,ACME,buy,x,,,,,,"], SYMBOLS, "f.csv")


@pytest.mark.parametrize(("row", "column", "says"), [
    ("x,,,ACME,buy,1,,,,,,", "time_s", "not a number"),
    ("-1,,,ACME,buy,1,,,,,,", "time_s", "at least 0"),
    (",,,ACME,buy,1,,,,,,", "time_s", "required"),
    ("0,,,MOON,buy,1,,,,,,", "symbol", "unknown symbol 'MOON'"),
    ("0,,,,buy,1,,,,,,", "symbol", "required"),
    ("0,,,ACME,hold,1,,,,,,", "side", "'hold' is not buy, sell, short"),
    ("0,,,ACME,3,1,,,,,,", "side", "is not buy"),
    ("0,,,ACME,buy,1.5,,,,,,", "qty", "not a whole number"),
    ("0,,,ACME,buy,0,,,,,,", "qty", "must be positive"),
    ('0,,,ACME,buy,"1,00",,,,,,', "qty", "not a whole number"),
    ("0,,,ACME,buy,,,,,,,", "qty", "required"),
    ("0,,,ACME,buy,1,stop,,,,,", "ord_type", "'stop' is not market or limit"),
    ("0,,,ACME,buy,1,limit,,,,,", "limit", "needs a limit price"),
    ("0,,,ACME,buy,1,market,140,,,,", "limit", "takes no limit price"),
    ("0,,,ACME,buy,1,,abc,,,,", "limit", "not a price"),
    ("0,,,ACME,buy,1,,-1,,,,", "limit", "positive price"),
    ("0,,,ACME,buy,1,,,SNIPER,,,", "strategy", "'SNIPER' is not TWAP"),
    ("0,,,ACME,buy,1,,,,0,,", "window_s", "must be positive"),
    ("0,,,ACME,buy,1,,,,soon,,", "window_s", "not a number"),
    ("0,,,ACME,buy,1,,,,,1.5,", "participation", "not a fraction in (0, 1]"),
    ("0,,,ACME,buy,1,,,,,0,", "participation", "not a fraction"),
    ("0,,,ACME,buy,1,,,,,ten,", "participation", "not a fraction"),
    ("0,,,ACME,buy,1,,,,,,URGENT", "urgency", "'URGENT' is not LOW, MEDIUM or HIGH"),
])
def test_each_bad_column_is_named_with_file_and_line(row: str, column: str, says: str) -> None:
    with pytest.raises(FlowError) as refused:
        parse_flow(flow("0,,,ACME,buy,1,,,,,,", row), SYMBOLS, "orders.csv")
    message = str(refused.value)
    assert message.startswith(f"orders.csv:3: column {column}: "), message
    assert says in message and "\n" not in message


@pytest.mark.parametrize(("lines", "says"), [
    ([], "empty flow"),
    (["time_s,symbol,side,qty,colour"], ":1: unknown column 'colour'"),
    (["time_s,symbol,side"], ":1: missing column 'qty'"),
    (["time_s,symbol,side,qty,qty"], ":1: a column is named twice"),
    ([HEADER, "0,,,ACME,buy,1,,,,,,,extra"], ":2: 13 cells for 12 columns"),
])
def test_a_bad_header_or_row_shape_is_refused(lines: list[str], says: str) -> None:
    with pytest.raises(FlowError, match=r"^f\.csv"):
        parse_flow(lines, SYMBOLS, "f.csv")
    with pytest.raises(FlowError) as refused:
        parse_flow(lines, SYMBOLS, "f.csv")
    assert says in str(refused.value)


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(FlowError, match=r"missing\.csv: cannot read"):
        read_flow(tmp_path / "missing.csv", SYMBOLS)


def test_the_shipped_example_flow_reads() -> None:
    config = load_config(ROOT / "configs/lab.toml")
    venues = load_venues_config(ROOT / "configs/lab-venues.toml")
    rows = read_flow(ROOT / "configs/lab-flow.csv", [i.symbol for i in instruments(config, venues)])
    assert len(rows) >= 6 and {o.side for o in rows} == {"1", "2", "5"}


# ---- the standard flow --------------------------------------------------------------------------

INSTRUMENTS = [
    FlowInstrument("ACME", Decimal("142.50"), Decimal("0.01"), 1, 6_000_000, False),
    FlowInstrument("ZEPH", Decimal("9.875"), Decimal("0.005"), 100, 20_000_000, False),
    FlowInstrument("KELP", Decimal("8.40"), Decimal("0.01"), 100, 300_000, True),
]


def test_the_standard_flow_is_seeded() -> None:
    assert standard_flow(50, 3, INSTRUMENTS) == standard_flow(50, 3, INSTRUMENTS)
    assert standard_flow(50, 3, INSTRUMENTS) != standard_flow(50, 4, INSTRUMENTS)


def test_the_standard_flow_has_both_sides_minutes_long_windows_and_whole_lots() -> None:
    orders = standard_flow(400, 1, INSTRUMENTS)
    lots = {i.symbol: i.lot_size for i in INSTRUMENTS}
    assert [o.time_s for o in orders] == sorted(o.time_s for o in orders)
    for symbol in lots:
        sides = {o.side for o in orders if o.symbol == symbol}
        assert sides == {"1", "2"}, symbol
    assert all(120 <= o.window_s <= 600 for o in orders)
    assert all(o.qty > 0 and o.qty % lots[o.symbol] == 0 for o in orders)
    assert len({o.cl_ord_id for o in orders}) == len(orders)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_the_illiquid_instrument_gets_about_a_tenth_of_its_daily_volume(seed: int) -> None:
    orders = standard_flow(200, seed, INSTRUMENTS)
    kelp = sum(o.qty for o in orders if o.symbol == "KELP")
    assert 0.05 * 300_000 < kelp < 0.25 * 300_000


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 120), st.integers(0, 10_000))
def test_the_standard_flow_never_sends_a_likely_duplicate(orders: int, seed: int) -> None:
    last: dict[tuple[str, str, str, int, Decimal | None], float] = {}
    for o in standard_flow(orders, seed, INSTRUMENTS, duplicate_window_s=2.0):
        key = (o.session, o.symbol, o.side, o.qty, o.limit)
        assert o.time_s - last.get(key, -1e9) >= 3.0
        last[key] = o.time_s


def test_a_flow_written_out_reads_back_the_same() -> None:
    orders = standard_flow(30, 9, INSTRUMENTS)
    back = parse_flow(write_flow(orders).splitlines(), [i.symbol for i in INSTRUMENTS])
    strip = [(o.time_s, o.session, o.account, o.symbol, o.side, o.qty, o.limit, o.strategy, o.window_s, o.urgency)
             for o in orders]
    assert [(o.time_s, o.session, o.account, o.symbol, o.side, o.qty, o.limit, o.strategy, o.window_s, o.urgency)
            for o in back] == strip


# ---- the NewOrderSingle -------------------------------------------------------------------------


def test_a_row_becomes_a_new_order_single_with_its_mandate() -> None:
    [o] = parse_flow(flow("0,OMS2,ACC1,ACME,sell,300,limit,141,TWAP,90,0.05,LOW"), SYMBOLS)
    tags = dict(body_of(o, 1_767_258_000.0))
    assert (tags[55], tags[54], tags[38], tags[40], tags[44], tags[1], tags[59]) == (
        "ACME", "2", 300, "2", Decimal("141"), "ACC1", "6")
    assert (tags[847], tags[849], tags[848]) == ("1000", Decimal("0.05"), "Urgency=LOW")
    start, end = parse_utc_timestamp(str(tags[168])), parse_utc_timestamp(str(tags[126]))
    assert start == pytest.approx(1_767_258_000.0) and end == pytest.approx(1_767_258_090.0)


def test_the_run_strategy_replaces_the_rows_and_pov_gets_a_default_rate() -> None:
    [o] = parse_flow(flow("0,,,ACME,buy,300,,,TWAP,,,"), SYMBOLS)
    tags = dict(body_of(o, 0.0, "POV"))
    assert (tags[847], tags[849], tags[40]) == ("2", DEFAULT_POV_RATE, "1")
    assert 848 not in tags and 1 not in tags
    assert dict(body_of(o, 0.0, "VWAP"))[847] == "1" and 849 not in dict(body_of(o, 0.0, "VWAP"))
    assert dict(body_of(o, 0.0))[847] == "1000"


# ---- IMMEDIATE (the ALONE baseline's strategy) ---------------------------------------------------


def parent(**changes: object) -> ParentState:
    values: dict[str, object] = {"parent_id": "P1", "symbol": "KELP", "direction": 1, "target_qty": 1_050,
                                 "filled_qty": 0, "working_qty": 0, "limit": Decimal("8.50"), "start_time": 100.0,
                                 "end_time": 400.0, "lot_size": 100}
    values.update(changes)
    return ParentState(**values)  # type: ignore[arg-type]


class NoMarket:
    """IMMEDIATE reads nothing of the market: every query fails the test."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"IMMEDIATE read the market ({name})")


def test_immediate_waits_for_the_start_then_sends_everything_aggressively_with_the_limit() -> None:
    strategy = Immediate(parent(), 1, ImmediateSettings())
    early = strategy.decide(parent(), NoMarket(), 50.0)  # type: ignore[arg-type]
    assert (early.intents, early.wake_at) == ((), 100.0)
    now = strategy.decide(parent(), NoMarket(), 100.0)  # type: ignore[arg-type]
    [intent] = now.intents
    assert (intent.qty, intent.style, intent.limit, intent.direction) == (1_050, Style.AGGRESSIVE, Decimal("8.50"), 1)
    assert now.wake_at == 102.0 and not now.cancel_working


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 50_000), st.data())
def test_immediate_sends_exactly_the_unworked_quantity_and_nothing_twice(target: int, data: st.DataObject) -> None:
    filled = data.draw(st.integers(0, target))
    working = data.draw(st.integers(0, target - filled))
    state = parent(target_qty=target, filled_qty=filled, working_qty=working)
    strategy = Immediate(state, 7)
    first = strategy.decide(state, NoMarket(), 200.0)  # type: ignore[arg-type]
    assert sum(i.qty for i in first.intents) == target - filled - working
    again = strategy.decide(state, NoMarket(), 200.0)  # type: ignore[arg-type]
    assert again == first  # idempotent: the same state gives the same decision
    sent = parent(target_qty=target, filled_qty=filled, working_qty=target - filled)
    assert strategy.decide(sent, NoMarket(), 200.0).intents == ()  # type: ignore[arg-type]


def test_immediate_stops_asking_to_be_woken_once_done() -> None:
    done = parent(filled_qty=1_050)
    assert Immediate(done, 1).decide(done, NoMarket(), 300.0).wake_at is None  # type: ignore[arg-type]


def test_immediate_refuses_another_parent_and_bad_settings() -> None:
    with pytest.raises(ValueError, match="P1 asked to decide for P2"):
        Immediate(parent(), 1).decide(parent(parent_id="P2"), NoMarket(), 200.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown IMMEDIATE setting.*pace"):
        ImmediateSettings.from_mapping({"pace": 1})
    with pytest.raises(ValueError, match="retry_interval must be a number"):
        ImmediateSettings.from_mapping({"retry_interval": "soon"})
    with pytest.raises(ValueError, match="retry_interval must be > 0"):
        ImmediateSettings.from_mapping({"retry_interval": 0})


# ---- a tiny run ---------------------------------------------------------------------------------


def test_a_tiny_flow_alone_never_crosses_and_aggregated_nets() -> None:
    config = load_config(ROOT / "configs/lab.toml")
    venues = load_venues_config(ROOT / "configs/lab-venues.toml")
    rng = random.Random(5)
    rows = [f"{t},OMS{1 + n % 2},,ACME,{'buy' if n % 2 else 'sell'},{rng.randrange(100, 400)},,,,60,,"
            for n, t in enumerate(range(0, 20, 2))]
    orders = parse_flow(flow(*rows), SYMBOLS)
    alone = run_figures(run_once(config, venues, orders, ALONE, 1)).values
    twap = run_figures(run_once(config, venues, orders, "TWAP", 1)).values
    assert alone["internal_share"] == 0.0 and alone["completion"] == 1.0
    assert twap["internal_share"] is not None and twap["internal_share"] > 0.2
    # Participation counts lit executions only: ALONE sends everything to market, while TWAP's few
    # shares left after netting may all fill in the dark pools (they do on this seed).
    assert alone["participation"] is not None and 0 < alone["participation"] <= 1
    assert twap["participation"] is not None and 0 <= twap["participation"] <= 1
    for figures in (alone, twap):
        assert figures["orders"] == 10 and figures["client_qty"] == sum(o.qty for o in orders)
    assert twap["executed_at_venues"] is not None and alone["executed_at_venues"] is not None
    assert twap["executed_at_venues"] < alone["executed_at_venues"]  # netting: fewer shares went to market
