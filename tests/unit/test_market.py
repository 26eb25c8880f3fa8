"""The simulated market's stylized facts, over simulated days in virtual time.

Why these tests: the market exists so that routing and execution algorithms meet realistic costs.
Each test pins one property an algorithm would exploit or suffer if it were wrong: reproducibility,
a never-crossed book, the intraday volume smile, concave (square-root) impact, resilience of the
book after a sweep, and a fair price with the configured volatility.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

import pytest

from metaorder.venues.market import (
    BACKGROUND_OWNER,
    EventKind,
    InstrumentParams,
    LiquidityParams,
    Market,
    MarketEvent,
    MarketParams,
    expected_taker_lots,
)
from metaorder.venues.matching import OrderBook
from metaorder.venues.model import Order, OrdType, Side, TimeInForce

T0 = 1_700_000_000.0  # session open, epoch seconds
DAY = 23_400.0  # 6.5 h
ACME = InstrumentParams(
    "ACME",
    reference_price_ticks=5000,
    tick_size=Decimal("0.01"),
    daily_volatility=0.02,
    daily_volume=4_000_000,
    lot_size=100,
)


def make(
    seed: int = 1,
    length: float = DAY,
    venues: Sequence[str] = ("V1",),
    instruments: Sequence[InstrumentParams] = (ACME,),
    **overrides: object,
) -> tuple[Market, dict[str, dict[str, OrderBook]]]:
    params = MarketParams(seed=seed, session_start=T0, session_end=T0 + length)
    params = dataclasses.replace(params, **overrides)  # type: ignore[arg-type]
    books = {v: {i.symbol: OrderBook(i.symbol) for i in instruments} for v in venues}
    return Market(params, instruments, books), books


def trade_key(events: Sequence[MarketEvent]) -> list[tuple[object, ...]]:
    """What two runs must agree on: every fill, its time, place, price, size and orders."""
    return [
        (e.time, e.venue, e.symbol, e.kind, f.price, f.qty, f.maker.order_id, f.taker.order_id, f.taker.side)
        for e in events
        for f in e.fills
    ]


def mid(book: OrderBook) -> float:
    bid, ask = book.best_bid(), book.best_ask()
    assert bid is not None and ask is not None
    return (bid[0] + ask[0]) / 2


@dataclass
class Day:
    """One simulated session driven event by event, with what the tests look at."""

    events: list[MarketEvent] = field(default_factory=list)
    fair_by_minute: list[float] = field(default_factory=list)
    mid_minus_fair: list[float] = field(default_factory=list)
    spreads: list[int] = field(default_factory=list)
    longest_empty: float = 0.0  # seconds a book side stayed empty during the session, at worst
    batches: int = 0


def drive(market: Market, books: dict[str, dict[str, OrderBook]], end: float) -> Day:
    """Advance from event to event, checking the books after every batch."""
    day = Day()
    empty_since: dict[tuple[str, str], float] = {}
    next_minute = T0
    while (t := market.next_event_time()) is not None:
        while next_minute <= min(t, end):  # the fair price is constant between events
            day.fair_by_minute.append(market.fair_price(ACME.symbol))
            next_minute += 60.0
        batch = market.advance(t)
        day.batches += 1
        assert all(e.time == t for e in batch)
        day.events += batch
        if t >= end:
            continue
        for venue, by_symbol in books.items():
            for symbol, book in by_symbol.items():
                bid, ask = book.best_bid(), book.best_ask()
                if bid is None or ask is None:
                    empty_since.setdefault((venue, symbol), t)
                    continue
                assert bid[0] < ask[0], f"{venue}/{symbol} crossed or locked at {t - T0:.3f}: {bid} {ask}"
                since = empty_since.pop((venue, symbol), None)
                if since is not None:
                    day.longest_empty = max(day.longest_empty, t - since)
                if symbol == ACME.symbol and venue == "V1":
                    day.spreads.append(ask[0] - bid[0])
                    day.mid_minus_fair.append((bid[0] + ask[0]) / 2 - market.fair_price(symbol))
    assert not empty_since or all(t0 >= end for t0 in empty_since.values())
    return day


@cache
def default_day() -> tuple[Day, Market]:
    market, books = make(seed=7)
    return drive(market, books, T0 + DAY), market


# ---- determinism ------------------------------------------------------------------------------


def test_same_seed_same_trades_different_seed_different_trades() -> None:
    def run(seed: int) -> list[tuple[object, ...]]:
        market, books = make(seed=seed, length=1800.0, venues=("V1", "V2"))
        return trade_key(drive(market, books, T0 + 1800.0).events)

    first = run(3)
    assert len(first) > 1000
    assert run(3) == first
    assert run(4) != first


def test_the_fair_path_of_an_instrument_does_not_depend_on_the_other_venues() -> None:
    one, _ = make(seed=5, length=600.0, venues=("V1",))
    two, _ = make(seed=5, length=600.0, venues=("V1", "V2", "V3"))
    one.advance(T0 + 600.0 - 1e-6)
    two.advance(T0 + 600.0 - 1e-6)
    assert one.fair_price("ACME") == two.fair_price("ACME") != ACME.reference_price_ticks


# ---- book sanity -----------------------------------------------------------------------------------


def test_the_book_is_never_crossed_and_never_empty_for_long() -> None:
    day, _ = default_day()
    assert day.batches > 40_000
    assert day.longest_empty < 5.0
    assert min(day.spreads) >= 1
    mean_spread = sum(day.spreads) / len(day.spreads)
    assert 1.0 <= mean_spread < 2.0, mean_spread  # mostly one tick with the default half spread 0.5
    # the quotes track the fair price: the mid is within a tick and a half of it nearly always
    near = sum(abs(d) <= 1.5 for d in day.mid_minus_fair) / len(day.mid_minus_fair)
    assert near > 0.95, near


def test_several_venues_and_instruments_stay_uncrossed() -> None:
    beta = InstrumentParams(
        "BETA", reference_price_ticks=2000, daily_volatility=0.03, daily_volume=1_000_000, lot_size=10
    )
    market, books = make(
        seed=11,
        length=1800.0,
        venues=("V1", "V2"),
        instruments=(ACME, beta),
        venue_liquidity=(("V2", LiquidityParams(half_spread_ticks=1.5, levels=5, taker_share=0.5)),),
    )
    day = drive(market, books, T0 + 1800.0)
    assert day.longest_empty < 5.0
    v2 = books["V2"]["BETA"]
    assert v2.best_bid() is None  # the close withdrew every background quote
    traded = {(e.venue, e.symbol): 0 for e in day.events}
    for e in day.events:
        traded[(e.venue, e.symbol)] += sum(f.qty for f in e.fills)
    assert traded[("V2", "ACME")] < traded[("V1", "ACME")]  # half the taker share
    assert all(o.qty % 10 == 0 for e in day.events if e.symbol == "BETA" for f in e.fills for o in (f.maker, f.taker))


def test_background_orders_are_owned_by_bg_and_the_session_closes() -> None:
    market, books = make(seed=2, length=300.0)
    events = market.advance(T0 + 1000.0)
    assert events[-1].kind is EventKind.CLOSE and events[-1].time == T0 + 300.0
    assert market.next_event_time() is None
    assert market.advance(T0 + 2000.0) == []
    fills = [f for e in events for f in e.fills]
    assert fills and all(f.maker.owner == f.taker.owner == BACKGROUND_OWNER for f in fills)
    ids = [o.order_id for f in fills for o in (f.maker, f.taker)]
    assert all(i.startswith("BG-") for i in ids)
    book = books["V1"]["ACME"]
    assert book.best_bid() is None and book.best_ask() is None and len(book) == 0
    times = [e.time for e in events]
    assert times == sorted(times)


def test_nothing_happens_before_the_open_and_the_open_quotes_a_full_ladder() -> None:
    market, books = make(seed=2, length=600.0)
    book = books["V1"]["ACME"]
    assert market.next_event_time() == T0
    assert market.advance(T0 - 1.0) == []
    [opening] = market.advance(T0)
    assert opening.kind is EventKind.QUOTES and opening.fills == ()
    bids, asks = book.depth(20)
    assert len(bids) == len(asks) == 10
    assert {q for _, q, _ in bids + asks} == {2000}  # 5e-4 of the daily volume per level
    assert asks[0][0] - bids[0][0] == 1
    assert bids[0][0] <= market.fair_price("ACME") <= asks[0][0]


# ---- flow calibration and intraday pattern ----------------------------------------------------------


def test_taker_volume_matches_the_daily_volume() -> None:
    day, market = default_day()
    traded = sum(f.qty for e in day.events if e.kind is EventKind.TRADE for f in e.fills)
    assert 0.9 * ACME.daily_volume < traded < 1.1 * ACME.daily_volume
    orders = market.stats().taker_orders
    assert 15_000 < orders < 30_000  # tens of thousands of orders a day
    assert expected_taker_lots(1.0, 0.0) == 1.0
    assert expected_taker_lots(1.0, 1.0) == pytest.approx(1.87, abs=0.01)  # clipping at one lot, rounding


def test_volume_is_u_shaped_over_the_day() -> None:
    day, _ = default_day()
    buckets = [0] * 13  # half hours
    for e in day.events:
        if e.kind is EventKind.TRADE:
            buckets[min(12, int((e.time - T0) // 1800))] += sum(f.qty for f in e.fills)
    midday = sum(buckets[4:9]) / 5
    assert buckets[0] > 1.6 * midday, buckets
    assert buckets[-1] > 1.6 * midday, buckets


# ---- fair price ----------------------------------------------------------------------------------


def test_fair_price_volatility_matches_the_configured_sigma() -> None:
    day, _ = default_day()
    logs = [math.log(f) for f in day.fair_by_minute]
    assert len(logs) == 391
    realized = math.sqrt(sum((b - a) ** 2 for a, b in itertools.pairwise(logs)))
    assert 0.8 * ACME.daily_volatility < realized < 1.2 * ACME.daily_volatility, realized


def test_zero_volatility_keeps_the_fair_price_still() -> None:
    still = dataclasses.replace(ACME, daily_volatility=0.0)
    market, _ = make(seed=1, length=600.0, instruments=(still,))
    market.advance(T0 + 599.0)
    assert market.fair_price("ACME") == 5000.0


# ---- impact --------------------------------------------------------------------------------------


def test_permanent_impact_follows_the_square_root_law() -> None:
    moves = []
    for fraction in (0.001, 0.004, 0.016, 0.064):
        market, _ = make(seed=1, length=3600.0)
        market.advance(T0 + 100.0)
        before = market.fair_price("ACME")
        market.on_external_fill("ACME", Side.BUY, int(fraction * ACME.daily_volume), T0 + 100.0)
        moves.append(math.log(market.fair_price("ACME") / before))
        assert moves[-1] == pytest.approx(0.7 * 0.02 * math.sqrt(fraction))
    ratios = [b / a for a, b in itertools.pairwise(moves)]
    assert all(m > 0 for m in moves) and moves == sorted(moves)
    assert ratios == pytest.approx([2.0, 2.0, 2.0])  # 4× the size, 2× the impact


def test_impact_does_not_depend_on_slicing_and_sells_push_down() -> None:
    whole, _ = make(seed=1, length=3600.0, impact_memory_half_life=None)
    sliced, _ = make(seed=1, length=3600.0, impact_memory_half_life=None)
    whole.on_external_fill("ACME", Side.SELL, 40_000, T0 + 10.0)
    for k in range(40):
        sliced.on_external_fill("ACME", Side.SELL, 1_000, T0 + 10.0 + k)
    assert sliced.fair_price("ACME") == pytest.approx(whole.fair_price("ACME"), rel=1e-12)
    assert whole.fair_price("ACME") < ACME.reference_price_ticks
    # buying it all back returns to where it started: impact is on the net volume
    whole.on_external_fill("ACME", Side.BUY, 40_000, T0 + 20.0)
    assert whole.fair_price("ACME") == pytest.approx(ACME.reference_price_ticks, rel=1e-12)


def test_a_fills_impact_weight_counts_that_share_of_it_as_information() -> None:
    """A venue's impact_weight (a dark pool's midpoint crosses): a quarter of the shares, half the move."""
    full, _ = make(seed=1, length=3600.0, impact_memory_half_life=None)
    weighted, _ = make(seed=1, length=3600.0, impact_memory_half_life=None)
    full.on_external_fill("ACME", Side.BUY, 10_000, T0 + 10.0)
    weighted.on_external_fill("ACME", Side.BUY, 40_000, T0 + 10.0, weight=0.25)
    assert weighted.fair_price("ACME") == pytest.approx(full.fair_price("ACME"), rel=1e-12)
    nothing, _ = make(seed=1, length=3600.0, impact_memory_half_life=None)
    nothing.on_external_fill("ACME", Side.BUY, 40_000, T0 + 10.0, weight=0.0)
    assert nothing.fair_price("ACME") == ACME.reference_price_ticks


def test_impact_memory_fades_so_slow_trading_pays_more_than_the_square_root() -> None:
    fast, _ = make(seed=1, length=DAY)
    slow, _ = make(seed=1, length=DAY)
    for k in range(4):
        fast.on_external_fill("ACME", Side.BUY, 10_000, T0 + k)
        slow.on_external_fill("ACME", Side.BUY, 10_000, T0 + k * 7200.0)  # two memory half-lives apart
    assert slow.fair_price("ACME") > fast.fair_price("ACME") > ACME.reference_price_ticks


def client_market_order(book: OrderBook, side: Side, qty: int, oid: str) -> int:
    execution = book.submit(Order(oid, "CLIENT", side, qty, None, OrdType.MARKET, TimeInForce.IOC))
    return sum(f.qty for f in execution.fills)


def test_market_orders_of_growing_size_move_the_price_concavely() -> None:
    """A client market order (the venue layer reports its fills) against the same day without it.

    Same seed, so the fair path and the background flow are the same in both runs: the difference
    of the mid-prices, averaged over a minute after the book has refilled, is what the order did.
    """

    def mids(qty: int) -> list[float]:
        market, books = make(seed=21, length=1200.0)
        book = books["V1"]["ACME"]
        market.advance(T0 + 300.0)
        if qty:
            filled = client_market_order(book, Side.BUY, qty, "C1")
            assert filled == qty
            market.on_external_fill("ACME", Side.BUY, filled, T0 + 300.0)
        out = []
        for k in range(60):
            market.advance(T0 + 360.0 + k * 5.0)  # from six refill half-lives on
            out.append(mid(book))
        return out

    market, books = make(seed=21, length=1200.0)
    market.advance(T0 + 300.0)
    visible = sum(q for _, q, _ in books["V1"]["ACME"].depth(100)[1])
    control = mids(0)
    impacts = []
    for fraction in (0.02, 0.08, 0.32):
        treated = mids(round(fraction * visible / 100) * 100)
        impacts.append(sum(t - c for t, c in zip(treated, control, strict=True)) / len(control))
    ratios = [b / a for a, b in itertools.pairwise(impacts)]
    assert 0 < impacts[0] < impacts[1] < impacts[2], impacts
    assert all(1.4 < r < 2.8 for r in ratios), (impacts, ratios)  # well below 4: concave


# ---- resilience ----------------------------------------------------------------------------------


def test_depth_at_the_touch_recovers_within_a_few_half_lives() -> None:
    """A client sweeps five ask levels; the asks near the fair price come back gradually.

    Measured against the same day without the sweep (same seed): the fair price and the background
    flow are then identical, so the ratio of the near-touch depths is the sweep's doing alone.
    Impact is switched off so that the fair paths stay identical (with impact the providers also
    re-centre upwards, see the next test).
    """
    half_life = 10.0

    def near_asks(market: Market, book: OrderBook) -> int:
        """Asks within three ticks above the fair price: the touch, wherever the ladder is."""
        return book.volume_at_or_better(Side.BUY, math.floor(market.fair_price("ACME")) + 3)

    def run(seed: int, sweep: bool) -> tuple[list[int], list[int]]:
        market, books = make(
            seed=seed, length=1800.0, impact_y=0.0, liquidity=LiquidityParams(refill_half_life=half_life)
        )
        book = books["V1"]["ACME"]
        sweep_at = T0 + 600.0
        market.advance(sweep_at - 0.5)
        if sweep:
            assert client_market_order(book, Side.BUY, 10_000, "SWEEP") == 10_000
            market.on_external_fill("ACME", Side.BUY, 10_000, sweep_at)
            assert book.best_ask() is not None  # the far levels are still there
        depth, spreads = [], []
        for k in range(1, 61):
            market.advance(sweep_at + k)
            depth.append(near_asks(market, book))
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None
            spreads.append(ask[0] - bid[0])
        return depth, spreads

    treated = [0] * 60
    control = [0] * 60
    for seed in (31, 32, 33):
        depth, spreads = run(seed, True)
        assert min(spreads[:2]) >= 3  # a wide spread at first...
        assert min(spreads[40:]) == 1  # ...closing within a few half-lives
        treated = [a + b for a, b in zip(treated, depth, strict=True)]
        control = [a + b for a, b in zip(control, run(seed, False)[0], strict=True)]

    def ratio(at: float) -> float:  # treated / control around `at` seconds after the sweep
        k = int(at)
        window = range(max(0, k - 3), k + 2)
        return sum(treated[i] for i in window) / sum(control[i] for i in window)

    assert treated[0] < 0.15 * control[0]  # a hole at the touch
    assert ratio(half_life) < 0.6  # not refilled at once...
    assert ratio(2 * half_life) > ratio(half_life)  # ...but gradually...
    assert ratio(4 * half_life) > 0.8  # ...and nearly back within four half-lives
    assert ratio(6 * half_life - 3) > 0.9


def test_after_a_sweep_with_impact_the_book_recentres_higher_and_refills() -> None:
    market, books = make(seed=31, length=1800.0)
    book = books["V1"]["ACME"]
    market.advance(T0 + 599.5)
    before = mid(book)
    depth_before = sum(q for _, q, _ in book.depth(10)[1])
    assert client_market_order(book, Side.BUY, 10_000, "SWEEP") == 10_000
    market.on_external_fill("ACME", Side.BUY, 10_000, T0 + 600.0)
    market.advance(T0 + 601.0)
    assert mid(book) > before + 2  # the bids followed the fair price up at once
    market.advance(T0 + 660.0)
    assert sum(q for _, q, _ in book.depth(10)[1]) > 0.8 * depth_before


# ---- client orders meet the background flow ----------------------------------------------------------


def test_background_takers_fill_resting_client_orders() -> None:
    market, books = make(seed=9, length=1800.0)
    book = books["V1"]["ACME"]
    market.advance(T0 + 60.0)
    bid = book.best_bid()
    assert bid is not None
    client = Order("C1", "CLIENT", Side.BUY, 500, bid[0])  # joins the best bid
    assert book.submit(client).rested
    events = market.advance(T0 + 1800.0)
    client_fills = [f for e in events for f in e.fills if f.maker is client]
    assert sum(f.qty for f in client_fills) == client.cum_qty == 500
    assert all(f.taker.owner == BACKGROUND_OWNER for f in client_fills)


def test_stale_client_orders_are_picked_off_when_the_fair_price_moves_through_them() -> None:
    market, books = make(seed=9, length=1800.0)
    book = books["V1"]["ACME"]
    market.advance(T0 + 60.0)
    ask = book.best_ask()
    assert ask is not None
    stale = Order("C2", "CLIENT", Side.SELL, 300, ask[0] + 2)
    assert book.submit(stale).rested
    # someone else's large buy elsewhere lifts the fair price well above the stale offer
    market.on_external_fill("ACME", Side.BUY, 200_000, T0 + 60.0)
    assert market.fair_price("ACME") > ask[0] + 10
    events = market.advance(T0 + 61.0)
    picked = [(e.kind, f) for e in events for f in e.fills if f.maker is stale]
    assert picked and picked[0][0] is EventKind.QUOTES
    assert picked[0][1].taker.owner == BACKGROUND_OWNER
    assert stale.cum_qty == 300


# ---- parameters ----------------------------------------------------------------------------------


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        MarketParams(seed=1, session_start=T0, session_end=T0)
    with pytest.raises(ValueError):
        InstrumentParams("X", reference_price_ticks=0)
    with pytest.raises(ValueError):
        LiquidityParams(levels=0)
    with pytest.raises(ValueError, match="no InstrumentParams"):
        Market(MarketParams(seed=1, session_start=T0, session_end=T0 + 1), [ACME], {"V1": {"NOPE": OrderBook("NOPE")}})
