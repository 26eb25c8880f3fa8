"""BestPriceRouter: where an intent's child orders go, on a fake market of real VenueBooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.router import BestPriceRouter, FeeLatencyCosts, latency_cost, odd_lot_venue
from metaorder.execution.types import (
    Intent,
    Level,
    Style,
    VenueBook,
    VenueInfo,
    VenueKind,
    VenueStatus,
)

D = Decimal
NOW = 1_700_000_000.0
BUY, SELL = 1, -1


@dataclass
class FakeMarket:
    """A MarketView over plain books.  ``books()`` deliberately does NOT filter by status, so the
    router's own checks are what the tests exercise."""

    venue_books: list[VenueBook]
    statuses: dict[str, VenueStatus] = field(default_factory=dict)

    def book(self, venue: str, symbol: str) -> VenueBook | None:
        return next((b for b in self.venue_books if b.venue == venue and b.symbol == symbol), None)

    def books(self, symbol: str) -> list[VenueBook]:
        return [b for b in self.venue_books if b.symbol == symbol]

    def status(self, venue: str) -> VenueStatus:
        return self.statuses.get(venue, VenueStatus.OPEN)

    def best_bid(self, symbol: str) -> Decimal | None:
        return max((b.bids[0].price for b in self.books(symbol) if b.bids), default=None)

    def best_ask(self, symbol: str) -> Decimal | None:
        return min((b.asks[0].price for b in self.books(symbol) if b.asks), default=None)

    def mid(self, symbol: str) -> Decimal | None:
        bid, ask = self.best_bid(symbol), self.best_ask(symbol)
        return None if bid is None or ask is None or bid >= ask else (bid + ask) / 2

    def volume(self, symbol: str) -> int:
        return 0

    def vwap(self, symbol: str) -> Decimal | None:
        return None


def levels(*pairs: tuple[str, int]) -> list[Level]:
    return [Level(D(p), s) for p, s in pairs]


def vbook(venue: str, bids: list[Level] | None = None, asks: list[Level] | None = None) -> VenueBook:
    return VenueBook(venue, "ACME", bids or [], asks or [], NOW)


def lit(name: str, maker: str = "0", taker: str = "0", latency_ms: float = 0.0, odd_lots: bool = True) -> VenueInfo:
    return VenueInfo(name, VenueKind.LIT, D(maker), D(taker), latency_ms, odd_lots=odd_lots)


def intent(qty: int, direction: int = BUY, limit: str | None = None, style: Style = Style.AGGRESSIVE) -> Intent:
    return Intent("P1", "ACME", direction, qty, D(limit) if limit is not None else None, style)


def venues(*infos: VenueInfo) -> dict[str, VenueInfo]:
    return {v.name: v for v in infos}


NO_LATENCY = BestPriceRouter(FeeLatencyCosts(latency_cost_per_ms=D(0), queue_cost_per_share=D(0)))


def route(
    router: BestPriceRouter,
    it: Intent,
    market: FakeMarket,
    vs: Mapping[str, VenueInfo],
    lot: int = 1,
    exclude: frozenset[str] = frozenset(),
) -> list[tuple[str, int, Decimal | None, bool]]:
    return [(o.venue, o.qty, o.price, o.ioc) for o in router.route(it, market, vs, lot, NOW, exclude)]


# ----------------------------------------------------------------------------------- aggressive


def test_the_cheapest_venue_after_taker_fees_is_taken_first() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100))), vbook("B", asks=levels(("10.00", 100)))])
    vs = venues(lit("A", taker="0.0030"), lit("B", taker="0.0020"))
    assert route(NO_LATENCY, intent(100), market, vs) == [("B", 100, D("10.00"), True)]


def test_an_inverted_venue_with_a_worse_price_wins_when_its_rebate_more_than_pays_the_tick() -> None:
    # A: 10.000 + 0.0030 = 10.0030; inverted B: 10.001 - 0.0005 = 10.0005.
    market = FakeMarket([vbook("A", asks=levels(("10.000", 100))), vbook("B", asks=levels(("10.001", 100)))])
    vs = venues(lit("A", taker="0.0030"), lit("B", taker="-0.0005"))
    [order] = NO_LATENCY.route(intent(100), market, vs, 1, NOW)
    assert (order.venue, order.price, order.expected_cost) == ("B", D("10.001"), D("10.0005"))


def test_selling_ranks_by_net_proceeds_the_mirror_of_buying() -> None:
    # A nets 9.99 - 0.003 = 9.987; B nets 9.989 + 0.0005 = 9.9895: B, despite the lower bid.
    market = FakeMarket([vbook("A", bids=levels(("9.99", 100))), vbook("B", bids=levels(("9.989", 100)))])
    vs = venues(lit("A", taker="0.003"), lit("B", taker="-0.0005"))
    [order] = NO_LATENCY.route(intent(100, SELL), market, vs, 1, NOW)
    assert (order.venue, order.direction, order.price, order.expected_cost) == ("B", SELL, D("9.989"), D("9.9895"))


def test_latency_penalty_sends_a_tie_to_the_faster_venue_and_can_outweigh_a_fee_gap() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100))), vbook("B", asks=levels(("10.00", 100)))])
    same_fee = venues(lit("A", taker="0.003", latency_ms=5.0), lit("B", taker="0.003", latency_ms=0.3))
    slow_cheap = venues(lit("A", taker="0.002", latency_ms=5.0), lit("B", taker="0.003", latency_ms=0.3))
    router = BestPriceRouter(FeeLatencyCosts(latency_cost_per_ms=D("0.0005")))
    assert route(router, intent(100), market, same_fee) == [("B", 100, D("10.00"), True)]
    # A: 0.002 + 5 × 0.0005 = 0.0045 against B: 0.003 + 0.3 × 0.0005 = 0.00315.
    assert route(router, intent(100), market, slow_cheap) == [("B", 100, D("10.00"), True)]
    assert route(NO_LATENCY, intent(100), market, slow_cheap) == [("A", 100, D("10.00"), True)]


def test_latency_cost_is_exact_decimal_from_the_float_milliseconds() -> None:
    assert latency_cost(0.3, D("0.0001")) == D("0.00003")
    assert latency_cost(1.2, D("0.0001")) == D("0.00012")
    with pytest.raises(ValueError):
        latency_cost(float("nan"), D("0.0001"))


def test_an_intent_larger_than_one_venue_splits_one_ioc_per_venue_at_the_worst_level_taken_there() -> None:
    market = FakeMarket(
        [
            vbook("A", asks=levels(("10.00", 100), ("10.01", 100), ("10.03", 500))),
            vbook("B", asks=levels(("10.01", 50), ("10.02", 300))),
        ]
    )
    vs = venues(lit("A"), lit("B"))
    # 10.00 A100, 10.01 A100 + B50, 10.02 B: 50 more covers 300.
    assert route(NO_LATENCY, intent(300), market, vs) == [("A", 200, D("10.01"), True), ("B", 100, D("10.02"), True)]


def test_no_level_beyond_the_limit_is_taken_and_short_depth_is_left_unrouted() -> None:
    market = FakeMarket(
        [vbook("A", asks=levels(("10.00", 100), ("10.01", 100))), vbook("B", asks=levels(("10.02", 900)))]
    )
    vs = venues(lit("A"), lit("B"))
    assert route(NO_LATENCY, intent(500, limit="10.01"), market, vs) == [("A", 200, D("10.01"), True)]
    sell = FakeMarket([vbook("A", bids=levels(("10.00", 100), ("9.99", 100)))])
    assert route(NO_LATENCY, intent(500, SELL, limit="10.00"), sell, vs) == [("A", 100, D("10.00"), True)]


def test_the_limit_caps_the_level_price_not_the_fee_inclusive_cost() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100)))])
    [order] = NO_LATENCY.route(intent(100, limit="10.00"), market, venues(lit("A", taker="0.003")), 1, NOW)
    assert order.price == D("10.00") and order.expected_cost == D("10.003")


def test_quantities_are_whole_lots_and_a_part_lot_is_dropped() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 150))), vbook("B", asks=levels(("10.01", 150)))])
    vs = venues(lit("A"), lit("B"))
    assert route(NO_LATENCY, intent(300), market, vs, lot=100) == [
        ("A", 100, D("10.00"), True),
        ("B", 100, D("10.01"), True),
    ]


def test_rounding_down_a_venue_to_lots_prices_its_ioc_at_the_worst_level_still_needed() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100), ("10.01", 50)))])
    assert route(NO_LATENCY, intent(200), market, venues(lit("A")), lot=100) == [("A", 100, D("10.00"), True)]


def test_the_intents_own_odd_remainder_goes_out_once_on_the_cheapest_venue_with_room() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 1000))), vbook("B", asks=levels(("10.01", 1000)))])
    vs = venues(lit("A"), lit("B"))
    # A 1000 then B 50: the 50 odd shares are the intent's own, so B may send them as an odd lot
    assert route(NO_LATENCY, intent(1050), market, vs, lot=100) == [
        ("A", 1000, D("10.00"), True),
        ("B", 50, D("10.01"), True),
    ]
    # but a part-lot that is not the intent's remainder is never sent: A's 30 here
    deep = FakeMarket([vbook("A", asks=levels(("10.00", 1030))), vbook("B", asks=levels(("10.01", 1000)))])
    assert route(NO_LATENCY, intent(1100), deep, vs, lot=100) == [("A", 1000, D("10.00"), True)]
    small = FakeMarket([vbook("A", asks=levels(("10.00", 30)))])
    assert route(NO_LATENCY, intent(30), small, vs, lot=100) == [("A", 30, D("10.00"), True)]
    assert route(NO_LATENCY, intent(1050), FakeMarket([vbook("B", asks=levels(("10.01", 2000)))]), vs, lot=100) == [
        ("B", 1050, D("10.01"), True)
    ]


def test_the_odd_remainder_goes_only_to_a_venue_that_accepts_odd_lots() -> None:
    # A is cheaper but takes whole lots only: the lots go to A, the 50 odd shares to B
    market = FakeMarket([vbook("A", asks=levels(("10.00", 5000))), vbook("B", asks=levels(("10.01", 1000)))])
    vs = venues(lit("A", odd_lots=False), lit("B"))
    assert route(NO_LATENCY, intent(1050), market, vs, lot=100) == [
        ("A", 1000, D("10.00"), True),
        ("B", 50, D("10.01"), True),
    ]
    # an odd remainder alone (a parent's last shares) likewise
    assert route(NO_LATENCY, intent(5), market, vs, lot=10) == [("B", 5, D("10.01"), True)]
    # on an odd-lot venue the lots and the odd shares are one order
    both = venues(lit("A"), lit("B"))
    assert route(NO_LATENCY, intent(1050), market, both, lot=100) == [("A", 1050, D("10.00"), True)]


def test_without_a_venue_that_accepts_odd_lots_the_odd_remainder_is_not_sent() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 5000))), vbook("B", asks=levels(("10.01", 1000)))])
    vs = venues(lit("A", odd_lots=False), lit("B", odd_lots=False))
    assert route(NO_LATENCY, intent(1050), market, vs, lot=100) == [("A", 1000, D("10.00"), True)]
    assert route(NO_LATENCY, intent(5), market, vs, lot=10) == []
    assert route(NO_LATENCY, intent(1005, style=Style.PASSIVE), FakeMarket(
        [vbook("A", bids=levels(("9.99", 100)), asks=levels(("10.00", 100)))]), vs, lot=10) == [
        ("A", 1000, D("9.99"), False)]


def test_the_odd_remainder_takes_depth_the_whole_lots_left_and_is_priced_to_reach_it() -> None:
    # the lots take A's first level whole; the odd 5 shares need A's second level
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100), ("10.02", 100)))])
    assert route(NO_LATENCY, intent(105), market, venues(lit("A")), lot=10) == [("A", 105, D("10.02"), True)]


def test_a_passive_odd_remainder_rests_on_the_cheapest_venue_that_accepts_odd_lots() -> None:
    market = FakeMarket([vbook("A", bids=levels(("9.99", 100)), asks=levels(("10.01", 100))),
                         vbook("B", bids=levels(("9.99", 100)), asks=levels(("10.01", 100)))])
    vs = venues(lit("A", maker="-0.003", odd_lots=False), lit("B", maker="0.001"))
    assert route(NO_LATENCY, intent(1005, style=Style.PASSIVE), market, vs, lot=10) == [
        ("A", 1000, D("9.99"), False),
        ("B", 5, D("9.99"), False),
    ]


def test_odd_lot_venue_is_the_first_odd_lot_venue_with_room() -> None:
    a, b = VenueInfo("A", VenueKind.LIT), VenueInfo("B", VenueKind.LIT, odd_lots=True)
    assert odd_lot_venue([(a, 100), (b, 3), (b, 8)], 5) == "B"
    assert odd_lot_venue([(a, 100), (b, 3)], 5) is None


@pytest.mark.parametrize("status", [VenueStatus.HALTED, VenueStatus.CLOSED, VenueStatus.DISCONNECTED])
def test_venues_not_open_are_skipped(status: VenueStatus) -> None:
    market = FakeMarket(
        [vbook("A", asks=levels(("10.00", 100))), vbook("B", asks=levels(("10.05", 100)))], {"A": status}
    )
    assert route(NO_LATENCY, intent(100), market, venues(lit("A"), lit("B"))) == [("B", 100, D("10.05"), True)]


def test_excluded_venues_are_skipped_so_a_reject_reroutes_the_remainder_elsewhere() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100))), vbook("B", asks=levels(("10.05", 100)))])
    vs = venues(lit("A"), lit("B"))
    assert route(NO_LATENCY, intent(100), market, vs, exclude=frozenset({"A"})) == [("B", 100, D("10.05"), True)]
    assert route(NO_LATENCY, intent(100), market, vs, exclude=frozenset({"A", "B"})) == []


def test_dark_and_unconfigured_venues_are_not_lit_candidates() -> None:
    market = FakeMarket([vbook("DARK", asks=levels(("9.00", 100))), vbook("X", asks=levels(("9.00", 100)))])
    vs = {"DARK": VenueInfo("DARK", VenueKind.DARK)}
    assert route(NO_LATENCY, intent(100), market, vs) == []


def test_no_open_lit_venue_or_an_empty_market_routes_nothing() -> None:
    vs = venues(lit("A"))
    assert route(NO_LATENCY, intent(100), FakeMarket([]), vs) == []
    closed = FakeMarket([vbook("A", asks=levels(("10.00", 100)))], {"A": VenueStatus.CLOSED})
    assert route(NO_LATENCY, intent(100), closed, vs) == []
    assert route(NO_LATENCY, intent(100), FakeMarket([vbook("A")]), vs) == []
    assert route(NO_LATENCY, intent(100, style=Style.PASSIVE), FakeMarket([vbook("A")]), vs) == []


def test_a_zero_intent_routes_nothing_and_bad_arguments_are_refused() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 100)))])
    assert route(NO_LATENCY, intent(0), market, venues(lit("A"))) == []
    with pytest.raises(ValueError):
        NO_LATENCY.route(intent(100), market, venues(lit("A")), 0, NOW)
    with pytest.raises(ValueError):
        NO_LATENCY.route(intent(100, direction=2), market, venues(lit("A")), 1, NOW)


# -------------------------------------------------------------------------------------- passive


def test_passive_joins_the_near_touch_on_the_best_rebate_venue() -> None:
    market = FakeMarket(
        [
            vbook("A", bids=levels(("10.00", 100)), asks=levels(("10.02", 100))),
            vbook("B", bids=levels(("10.00", 100)), asks=levels(("10.02", 100))),
            vbook("C", bids=levels(("9.99", 100)), asks=levels(("10.01", 100))),
        ]
    )
    vs = venues(lit("A", maker="-0.0020"), lit("B", maker="0.0010"), lit("C", maker="-0.0025"))
    [order] = NO_LATENCY.route(intent(300, style=Style.PASSIVE), market, vs, 100, NOW)
    # the consolidated best bid is 10.00; C's rebate is best, and C may post at 10.00 without crossing
    assert (order.venue, order.qty, order.price, order.ioc) == ("C", 300, D("10.00"), False)
    assert order.expected_cost == D("9.9975")
    [sell] = NO_LATENCY.route(intent(300, SELL, style=Style.PASSIVE), market, vs, 100, NOW)
    assert (sell.venue, sell.price, sell.expected_cost) == ("C", D("10.01"), D("10.0125"))  # rebate adds


def test_passive_queue_penalty_can_move_the_order_to_a_shorter_queue() -> None:
    market = FakeMarket([vbook("A", bids=levels(("10.00", 50_000))), vbook("B", bids=levels(("10.00", 100)))])
    vs = venues(lit("A", maker="-0.0020"), lit("B", maker="-0.0015"))
    assert route(NO_LATENCY, intent(100, style=Style.PASSIVE), market, vs) == [("A", 100, D("10.00"), False)]
    queued = BestPriceRouter(FeeLatencyCosts(queue_cost_per_share=D("0.0000001")))
    # A: -0.0020 + 50,000 × 1e-7 = 0.0030 against B: -0.0015 + 100 × 1e-7 = -0.00149
    assert route(queued, intent(100, style=Style.PASSIVE), market, vs) == [("B", 100, D("10.00"), False)]


def test_passive_ties_are_broken_by_venue_name() -> None:
    market = FakeMarket([vbook("Z", bids=levels(("10.00", 100))), vbook("M", bids=levels(("10.00", 100)))])
    vs = venues(lit("Z", maker="-0.002"), lit("M", maker="-0.002"))
    assert route(NO_LATENCY, intent(100, style=Style.PASSIVE), market, vs) == [("M", 100, D("10.00"), False)]


def test_passive_never_goes_beyond_the_limit() -> None:
    market = FakeMarket([vbook("A", bids=levels(("10.00", 100)), asks=levels(("10.05", 100)))])
    assert route(NO_LATENCY, intent(100, limit="9.95", style=Style.PASSIVE), market, venues(lit("A"))) == [
        ("A", 100, D("9.95"), False)
    ]
    assert route(NO_LATENCY, intent(100, SELL, limit="10.10", style=Style.PASSIVE), market, venues(lit("A"))) == [
        ("A", 100, D("10.10"), False)
    ]


def test_passive_never_crosses_or_locks_the_consolidated_far_touch() -> None:
    # B's ask is at A's bid: joining 10.00 would lock the market (and take on B).
    locked = FakeMarket([vbook("A", bids=levels(("10.00", 100))), vbook("B", asks=levels(("10.00", 100)))])
    vs = venues(lit("A"), lit("B"))
    assert route(NO_LATENCY, intent(100, style=Style.PASSIVE), locked, vs) == []
    assert route(NO_LATENCY, intent(100, SELL, style=Style.PASSIVE), locked, vs) == []
    # a limit tighter than the far touch still posts
    assert route(NO_LATENCY, intent(100, limit="9.99", style=Style.PASSIVE), locked, vs) == [
        ("A", 100, D("9.99"), False)
    ]


def test_passive_on_a_one_sided_market_posts_at_the_limit_or_not_at_all() -> None:
    asks_only = FakeMarket([vbook("A", asks=levels(("10.05", 100)))])
    vs = venues(lit("A"))
    assert route(NO_LATENCY, intent(100, limit="10.00", style=Style.PASSIVE), asks_only, vs) == [
        ("A", 100, D("10.00"), False)
    ]
    assert route(NO_LATENCY, intent(100, style=Style.PASSIVE), asks_only, vs) == []
    assert route(NO_LATENCY, intent(100, limit="10.05", style=Style.PASSIVE), asks_only, vs) == []  # would lock


def test_passive_skips_venues_that_are_not_open_or_are_excluded() -> None:
    market = FakeMarket(
        [
            vbook("A", bids=levels(("10.00", 100))),
            vbook("B", bids=levels(("10.00", 100))),
            vbook("C", bids=levels(("9.90", 1))),
        ],
        {"A": VenueStatus.HALTED},
    )
    vs = venues(lit("A", maker="-0.003"), lit("B", maker="-0.002"), lit("C", maker="-0.001"))
    assert route(NO_LATENCY, intent(100, style=Style.PASSIVE), market, vs, exclude=frozenset({"B"})) == [
        ("C", 100, D("9.90"), False)
    ]


# ----------------------------------------------------------------------------------- properties

PRICES = st.integers(9_900, 10_100)  # cents: 99.00 .. 101.00 as Decimal(n) / 100


@st.composite
def markets(draw: st.DrawFn) -> tuple[FakeMarket, dict[str, VenueInfo]]:
    names = draw(st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=4, unique=True))
    books, infos, statuses = [], {}, {}
    for name in names:
        bid_px = sorted(draw(st.sets(PRICES, max_size=5)), reverse=True)
        ask_px = sorted(draw(st.sets(PRICES, max_size=5)))
        size = st.integers(0, 700)
        books.append(
            vbook(
                name,
                [Level(D(p) / 100, draw(size)) for p in bid_px],
                [Level(D(p) / 100, draw(size)) for p in ask_px],
            )
        )
        fee = st.integers(-30, 30).map(lambda n: D(n) / 10_000)
        infos[name] = VenueInfo(name, VenueKind.LIT, draw(fee), draw(fee), draw(st.sampled_from([0.0, 0.3, 0.6, 1.2])),
                                odd_lots=draw(st.booleans()))
        statuses[name] = draw(st.sampled_from([VenueStatus.OPEN, VenueStatus.OPEN, VenueStatus.HALTED]))
    return FakeMarket(books, statuses), infos


INTENTS = st.builds(
    Intent,
    st.just("P1"),
    st.just("ACME"),
    st.sampled_from([BUY, SELL]),
    st.integers(0, 3000),
    st.one_of(st.none(), PRICES.map(lambda p: D(p) / 100)),
    st.sampled_from(list(Style)),
)


def _displayed(book: VenueBook, direction: int, price: Decimal) -> int:
    side = book.asks if direction > 0 else book.bids
    return sum(lv.size for lv in side if direction * (lv.price - price) <= 0)


@settings(max_examples=400, deadline=None)
@given(markets(), INTENTS, st.sampled_from([1, 10, 100]), st.sets(st.sampled_from(["A", "B", "C", "D"]), max_size=2))
def test_orders_never_add_up_to_more_than_the_intent_and_respect_venues_lots_and_limit(
    mk: tuple[FakeMarket, dict[str, VenueInfo]], it: Intent, lot: int, excluded: set[str]
) -> None:
    market, vs = mk
    orders = BestPriceRouter().route(it, market, vs, lot, NOW, frozenset(excluded))
    assert sum(o.qty for o in orders) <= it.qty
    assert len({o.venue for o in orders}) == len(orders)
    odd = [o for o in orders if o.qty % lot]
    assert len(odd) <= 1 and all(o.qty % lot == it.qty % lot and vs[o.venue].odd_lots for o in odd)
    for o in orders:
        assert o.qty > 0 and o.price is not None and o.direction == it.direction and o.symbol == it.symbol
        assert o.venue not in excluded and market.status(o.venue) is VenueStatus.OPEN
        assert it.limit is None or it.direction * (o.price - it.limit) <= 0
        book = market.book(o.venue, it.symbol)
        assert book is not None
        if it.style is Style.AGGRESSIVE:
            assert o.ioc and o.qty <= _displayed(book, it.direction, o.price)
        else:
            assert not o.ioc
            open_far = [
                lv.price
                for b in market.venue_books
                if b.venue not in excluded and market.status(b.venue) is VenueStatus.OPEN
                for lv in (b.asks if it.direction > 0 else b.bids)
                if lv.size > 0
            ]
            assert all(it.direction * (o.price - p) < 0 for p in open_far)
    if it.style is Style.PASSIVE and orders:  # everything rests, but an odd remainder only where it may
        assert sum(o.qty for o in orders) in (it.qty, it.qty - it.qty % lot)


@settings(max_examples=300, deadline=None)
@given(markets(), INTENTS.filter(lambda i: i.style is Style.AGGRESSIVE))
def test_aggressive_takes_the_cheapest_shares_and_leaves_only_dearer_ones(
    mk: tuple[FakeMarket, dict[str, VenueInfo]], it: Intent
) -> None:
    """With lot 1, what was taken is cost-minimal: no level left (partly) untaken within the limit is
    cheaper than the dearest level taken; and if the intent is not covered, nothing was left."""
    market, vs = mk
    costs = FeeLatencyCosts()
    orders = BestPriceRouter(costs).route(it, market, vs, 1, NOW)
    d = it.direction
    by_venue = {o.venue: o for o in orders}
    taken_worst: list[Decimal] = []
    left: list[Decimal] = []
    for name, info in vs.items():
        book = market.book(name, "ACME")
        if book is None or market.status(name) is not VenueStatus.OPEN:
            continue
        charge = costs.take(info)
        o = by_venue.get(name)
        remaining = o.qty if o else 0
        for lv in book.asks if d > 0 else book.bids:
            if lv.size == 0 or (it.limit is not None and d * (lv.price - it.limit) > 0):
                continue
            got = min(lv.size, remaining)
            remaining -= got
            cost = d * lv.price + charge
            if got:
                taken_worst.append(cost)
            if got < lv.size:
                left.append(cost)
        assert remaining == 0
    filled = sum(o.qty for o in orders)
    if filled < it.qty:
        assert left == []
    elif taken_worst and left:
        assert max(taken_worst) <= min(left)


# ---- venue rules known up front ----------------------------------------------------------------------------


def test_a_venues_maximum_order_size_caps_what_it_is_sent_and_the_rest_is_not_sent_there() -> None:
    capped = VenueInfo("BORX", VenueKind.LIT, D("0.001"), D("-0.0005"), max_order_qty=50_000)
    market = FakeMarket([vbook("BORX", asks=levels(("10.00", 80_000)))])
    orders = BestPriceRouter().route(intent(80_000), market, venues(capped), 1, NOW)
    assert [(o.venue, o.qty) for o in orders] == [("BORX", 50_000)]
    assert all(capped.refuses(o.qty, o.price, ioc=True) is None for o in orders)


def test_a_maximum_notional_caps_an_order_by_its_price() -> None:
    capped = VenueInfo("ATLX", VenueKind.LIT, max_notional=D("1000"))
    market = FakeMarket([vbook("ATLX", asks=levels(("10.00", 500)))])
    [order] = BestPriceRouter().route(intent(500), market, venues(capped), 1, NOW)
    assert order.qty == 100  # 100 x 10.00 = the 1,000 notional limit


def test_a_passive_intent_beyond_the_cheapest_venues_size_limit_rests_the_rest_on_the_next_venue() -> None:
    cheap = VenueInfo("ATLX", VenueKind.LIT, D("-0.003"), max_order_qty=1_000)
    other = VenueInfo("CYGX", VenueKind.LIT, D("-0.001"))
    market = FakeMarket([vbook("ATLX", bids=levels(("9.99", 100)), asks=levels(("10.01", 100))),
                         vbook("CYGX", bids=levels(("9.99", 100)), asks=levels(("10.01", 100)))])
    orders = BestPriceRouter().route(intent(2_500, style=Style.PASSIVE), market, venues(cheap, other), 1, NOW)
    assert [(o.venue, o.qty, o.price) for o in orders] == [("ATLX", 1_000, D("9.99")), ("CYGX", 1_500, D("9.99"))]


def test_a_venue_without_ioc_gets_no_aggressive_order_and_one_without_day_no_resting_order() -> None:
    no_ioc = VenueInfo("CYGX", VenueKind.LIT, time_in_force=frozenset({"day"}))
    market = FakeMarket([vbook("CYGX", bids=levels(("9.99", 100)), asks=levels(("10.01", 100)))])
    assert BestPriceRouter().route(intent(100), market, venues(no_ioc), 1, NOW) == []
    no_day = VenueInfo("CYGX", VenueKind.LIT, time_in_force=frozenset({"ioc"}))
    assert BestPriceRouter().route(intent(100, style=Style.PASSIVE), market, venues(no_day), 1, NOW) == []


def test_venue_rules_say_why_an_order_would_be_refused() -> None:
    pool = VenueInfo("NOCT", VenueKind.DARK, min_order_qty=1_000, order_types=frozenset({"limit", "pegged"}),
                     time_in_force=frozenset({"day", "ioc"}))
    assert pool.refuses(500, None, peg=True) == "500 is below NOCT's minimum order size 1000"
    assert pool.refuses(1_000, None) == "NOCT does not take market orders"
    assert pool.refuses(1_000, None, peg=True) is None
    day_only = VenueInfo("X", VenueKind.LIT, time_in_force=frozenset({"day"}))
    assert day_only.refuses(1, D(1), ioc=True) == "X does not take TimeInForce ioc"
    whole_lots = VenueInfo("X", VenueKind.LIT)
    assert whole_lots.refuses(150, D(1), 100) == "150 is not whole lots of 100 and X takes no odd lots"
