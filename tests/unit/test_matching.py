"""The lit order book: price-time priority, order types and TIFs, replace rules, invariants.

Besides the behaviour-by-behaviour tests, two randomized checks: a seeded stress run that calls
``_check()`` after every operation, and a Hypothesis state machine that compares the book with a
deliberately naive reference model (a flat list scanned in price/seq order) after every step.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from metaorder.venues import matching
from metaorder.venues.matching import BookError, Execution, OrderBook
from metaorder.venues.model import Fill, Order, OrdType, Side, TimeInForce

BUY, SELL = Side.BUY, Side.SELL
IOC, FOK, DAY, GTC = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY, TimeInForce.GTC

_counter = 0


def lim(side: Side, qty: int, price: int, tif: TimeInForce = DAY, min_qty: int = 0, oid: str | None = None,
        owner: str = "c") -> Order:
    global _counter
    _counter += 1
    return Order(oid or f"L{_counter}", owner, side, qty, price, OrdType.LIMIT, tif, min_qty)


def mkt(side: Side, qty: int, tif: TimeInForce = IOC, min_qty: int = 0, oid: str | None = None) -> Order:
    global _counter
    _counter += 1
    return Order(oid or f"M{_counter}", "c", side, qty, None, OrdType.MARKET, tif, min_qty)


def trades(ex: Execution) -> list[tuple[str, str, int, int]]:
    return [(f.maker.order_id, f.taker.order_id, f.price, f.qty) for f in ex.fills]


def book_with(*orders: Order) -> OrderBook:
    book = OrderBook("ACME")
    for o in orders:
        ex = book.submit(o)
        assert ex.rested and not ex.fills
    book._check()
    return book


# ---------------------------------------------------------------------------------------------- basics


def test_passive_limit_orders_rest_and_show_in_depth_best_first() -> None:
    book = book_with(lim(BUY, 100, 99), lim(BUY, 50, 98), lim(BUY, 30, 99), lim(SELL, 70, 101), lim(SELL, 20, 102))
    assert book.best_bid() == (99, 130)
    assert book.best_ask() == (101, 70)
    assert book.depth(5) == ([(99, 130, 2), (98, 50, 1)], [(101, 70, 1), (102, 20, 1)])
    assert book.depth(1) == ([(99, 130, 2)], [(101, 70, 1)])
    assert book.depth(0) == ([], [])
    assert len(book) == 5
    assert book.level_qty(BUY, 99) == 130 and book.level_qty(SELL, 99) == 0


def test_empty_book_has_no_best_prices() -> None:
    book = OrderBook("ACME")
    assert book.best_bid() is None and book.best_ask() is None
    assert book.depth(10) == ([], []) and len(book) == 0


def test_incoming_order_gets_the_resting_price_improvement() -> None:
    book = book_with(lim(SELL, 100, 101, oid="s1"))
    taker = lim(BUY, 60, 105, oid="b1")
    ex = book.submit(taker)
    assert trades(ex) == [("s1", "b1", 101, 60)]
    assert not ex.rested and ex.cancelled_qty == 0
    assert taker.cum_qty == 60 and taker.cost == 101 * 60 and taker.done
    maker = book.get("s1")
    assert maker is not None and maker.cum_qty == 60 and maker.cost == 101 * 60 and maker.leaves_qty == 40
    book._check()


def test_taker_sweeps_best_price_first_and_rests_the_remainder_at_its_limit() -> None:
    book = book_with(lim(SELL, 10, 103, oid="a3"), lim(SELL, 10, 101, oid="a1"), lim(SELL, 10, 102, oid="a2"))
    taker = lim(BUY, 35, 102, oid="b")
    ex = book.submit(taker)
    assert trades(ex) == [("a1", "b", 101, 10), ("a2", "b", 102, 10)]
    assert ex.rested and ex.cancelled_qty == 0
    assert book.best_bid() == (102, 15) and book.best_ask() == (103, 10)
    assert taker.cost == 101 * 10 + 102 * 10
    book._check()


def test_fifo_within_a_level() -> None:
    book = book_with(lim(BUY, 10, 100, oid="first"), lim(BUY, 10, 100, oid="second"), lim(BUY, 10, 100, oid="third"))
    ex = book.submit(lim(SELL, 15, 100, oid="s"))
    assert trades(ex) == [("first", "s", 100, 10), ("second", "s", 100, 5)]
    assert book.depth(1)[0] == [(100, 15, 2)]
    book._check()


def test_partial_fill_of_the_maker_keeps_its_queue_position() -> None:
    book = book_with(lim(SELL, 100, 101, oid="a"), lim(SELL, 100, 101, oid="b"))
    book.submit(lim(BUY, 30, 101))
    ex = book.submit(lim(BUY, 80, 101, oid="t"))
    assert trades(ex) == [("a", "t", 101, 70), ("b", "t", 101, 10)]
    book._check()


def test_market_order_takes_what_is_there_and_cancels_the_rest() -> None:
    book = book_with(lim(SELL, 10, 101, oid="a"), lim(SELL, 10, 150, oid="b"))
    m = mkt(BUY, 50, DAY, oid="m")
    ex = book.submit(m)
    assert trades(ex) == [("a", "m", 101, 10), ("b", "m", 150, 10)]
    assert not ex.rested and ex.cancelled_qty == 30
    assert m.cancelled and m.cum_qty == 20 and m.leaves_qty == 0
    assert book.best_ask() is None and len(book) == 0
    book._check()


def test_market_order_on_an_empty_side_is_cancelled_entirely() -> None:
    book = book_with(lim(BUY, 10, 99))
    ex = book.submit(mkt(BUY, 50))
    assert ex == Execution([], False, 50, None)
    book._check()


def test_ioc_remainder_is_cancelled_and_never_rests() -> None:
    book = book_with(lim(SELL, 10, 101))
    o = lim(BUY, 25, 101, IOC)
    ex = book.submit(o)
    assert [f.qty for f in ex.fills] == [10] and not ex.rested and ex.cancelled_qty == 15
    assert o.cancelled and book.best_bid() is None
    book._check()


def test_ioc_that_does_not_cross_is_cancelled_untouched() -> None:
    book = book_with(lim(SELL, 10, 101))
    ex = book.submit(lim(BUY, 25, 100, IOC))
    assert ex == Execution([], False, 25, None)
    assert book.best_ask() == (101, 10) and len(book) == 1
    book._check()


def test_fok_fills_completely_across_levels() -> None:
    book = book_with(lim(SELL, 10, 101, oid="a"), lim(SELL, 10, 102, oid="b"))
    ex = book.submit(lim(BUY, 20, 102, FOK, oid="f"))
    assert trades(ex) == [("a", "f", 101, 10), ("b", "f", 102, 10)]
    assert ex.cancelled_qty == 0 and not ex.rested and len(book) == 0
    book._check()


def test_fok_that_cannot_fill_completely_leaves_the_book_untouched() -> None:
    book = book_with(lim(SELL, 10, 101, oid="a"), lim(SELL, 10, 102, oid="b"), lim(SELL, 10, 103, oid="c"))
    before = book.depth(10)
    book.take_changed_levels()
    f = lim(BUY, 21, 102, FOK)
    ex = book.submit(f)
    assert ex == Execution([], False, 21, None)  # a cancel, not a reject
    assert f.cancelled and f.cum_qty == 0
    assert book.depth(10) == before
    assert book.take_changed_levels() == []
    for oid in "abc":
        maker = book.get(oid)
        assert maker is not None and maker.cum_qty == 0
    book._check()


def test_market_fok_executes_only_if_the_whole_side_suffices() -> None:
    book = book_with(lim(SELL, 10, 101), lim(SELL, 10, 500))
    assert book.submit(mkt(BUY, 21, FOK)).cancelled_qty == 21
    ex = book.submit(mkt(BUY, 20, FOK))
    assert sum(f.qty for f in ex.fills) == 20 and ex.cancelled_qty == 0
    book._check()


def test_fok_that_does_not_cross_is_cancelled() -> None:
    book = book_with(lim(SELL, 10, 101))
    assert book.submit(lim(BUY, 5, 100, FOK)) == Execution([], False, 5, None)
    book._check()


# ---------------------------------------------------------------------------------------------- min qty


def test_min_qty_ioc_executes_when_enough_is_available_immediately() -> None:
    book = book_with(lim(SELL, 30, 101), lim(SELL, 30, 102))
    ex = book.submit(lim(BUY, 100, 102, IOC, min_qty=60))
    assert sum(f.qty for f in ex.fills) == 60 and ex.cancelled_qty == 40
    book._check()


def test_min_qty_ioc_is_cancelled_untouched_when_too_little_is_available() -> None:
    book = book_with(lim(SELL, 30, 101), lim(SELL, 30, 103))
    ex = book.submit(lim(BUY, 100, 102, IOC, min_qty=31))
    assert ex == Execution([], False, 100, None)
    assert book.best_ask() == (101, 30)
    book._check()


def test_min_qty_market_order_is_cancelled_when_too_little_is_available() -> None:
    book = book_with(lim(SELL, 30, 101))
    assert book.submit(mkt(BUY, 100, min_qty=50)) == Execution([], False, 100, None)
    book._check()


def test_min_qty_day_limit_that_crosses_without_enough_size_is_cancelled_not_rested_crossed() -> None:
    book = book_with(lim(SELL, 30, 101))
    o = lim(BUY, 100, 101, DAY, min_qty=50)
    assert book.submit(o) == Execution([], False, 100, None)
    assert o.cancelled and book.best_bid() is None
    book._check()


def test_min_qty_day_limit_that_executes_rests_its_remainder_without_a_minimum() -> None:
    book = book_with(lim(SELL, 60, 101))
    o = lim(BUY, 100, 101, DAY, min_qty=50, oid="mq")
    ex = book.submit(o)
    assert sum(f.qty for f in ex.fills) == 60 and ex.rested
    # The resting remainder (40) fills against an incoming order smaller than its min_qty.
    ex2 = book.submit(lim(SELL, 5, 101))
    assert trades(ex2)[0][:1] == ("mq",) and ex2.fills[0].qty == 5
    book._check()


def test_min_qty_day_limit_that_does_not_cross_rests_and_then_fills_any_size() -> None:
    book = book_with(lim(SELL, 60, 105))
    o = lim(BUY, 100, 101, DAY, min_qty=50, oid="mq")
    assert book.submit(o).rested
    ex = book.submit(lim(SELL, 1, 100))
    assert trades(ex) == [("mq", ex.fills[0].taker.order_id, 101, 1)]
    book._check()


# ---------------------------------------------------------------------------------------------- cancel


def test_cancel_removes_the_order_and_returns_it() -> None:
    a, b = lim(BUY, 10, 100, oid="a"), lim(BUY, 20, 100, oid="b")
    book = book_with(a, b)
    assert book.cancel("a") is a
    assert a.cancelled and a.done and a.leaves_qty == 0
    assert book.depth(1)[0] == [(100, 20, 1)] and book.get("a") is None and len(book) == 1
    book._check()
    ex = book.submit(lim(SELL, 20, 100, oid="s"))
    assert trades(ex) == [("b", "s", 100, 20)]
    book._check()


def test_cancel_of_unknown_or_finished_orders_returns_none() -> None:
    book = book_with(lim(SELL, 10, 101, oid="a"), lim(SELL, 10, 101, oid="c"))
    book.submit(lim(BUY, 10, 101))
    assert book.cancel("nope") is None
    assert book.cancel("a") is None  # fully filled
    assert book.cancel("c") is not None
    assert book.cancel("c") is None  # already cancelled
    book._check()


def test_cancel_in_the_middle_of_a_queue_keeps_fifo_for_the_others() -> None:
    orders = [lim(BUY, 10, 100, oid=f"o{i}") for i in range(6)]
    book = book_with(*orders)
    for oid in ("o1", "o3", "o4"):
        assert book.cancel(oid) is not None
        book._check()
    assert book.depth(1)[0] == [(100, 30, 3)]
    ex = book.submit(lim(SELL, 30, 100, oid="s"))
    assert [t[0] for t in trades(ex)] == ["o0", "o2", "o5"]
    book._check()


def test_many_cancels_in_one_level_are_compacted_away() -> None:
    orders = [lim(BUY, 1, 100, oid=f"o{i}") for i in range(200)]
    book = book_with(*orders)
    for i in range(1, 199):
        if i % 4:
            book.cancel(f"o{i}")
            book._check()
    level = book._bids.levels[-100]
    assert len(level.orders) < 200  # once tombstones outnumbered live orders, the queue was rebuilt
    ex = book.submit(lim(SELL, 1000, 100, IOC))
    assert [f.maker.order_id for f in ex.fills] == [f"o{i}" for i in range(0, 200, 4)] + ["o199"]
    book._check()


def test_duplicate_order_id_is_a_programming_error() -> None:
    book = book_with(lim(BUY, 10, 100, oid="x"))
    with pytest.raises(BookError):
        book.submit(lim(SELL, 10, 105, oid="x"))
    with pytest.raises(BookError):
        book.submit(lim(SELL, 0, 105))
    with pytest.raises(BookError):
        book.submit(Order("np", "c", BUY, 10, None, OrdType.LIMIT))
    with pytest.raises(BookError):
        book.submit(lim(BUY, 10, 100, min_qty=11))
    book._check()


# ---------------------------------------------------------------------------------------------- replace


def test_replace_reducing_size_at_the_same_price_keeps_priority() -> None:
    book = book_with(lim(BUY, 50, 100, oid="a"), lim(BUY, 50, 100, oid="b"))
    ex = book.replace("a", 20, None)
    assert ex == Execution([], True, 0, None)
    assert book.depth(1)[0] == [(100, 70, 2)]
    fill = book.submit(lim(SELL, 10, 100, oid="s"))
    assert trades(fill) == [("a", "s", 100, 10)]
    ex2 = book.replace("a", 15, 100)  # explicit same price, still a reduction
    assert ex2.rested
    assert trades(book.submit(lim(SELL, 5, 100, oid="s2"))) == [("a", "s2", 100, 5)]
    book._check()


def test_replace_increasing_size_loses_priority() -> None:
    book = book_with(lim(BUY, 50, 100, oid="a"), lim(BUY, 50, 100, oid="b"))
    a = book.get("a")
    assert a is not None
    old_seq = a.seq
    assert book.replace("a", 60, None).rested
    assert a.seq > old_seq and a.qty == 60
    assert book.depth(1)[0] == [(100, 110, 2)]
    ex = book.submit(lim(SELL, 60, 100, oid="s"))
    assert trades(ex) == [("b", "s", 100, 50), ("a", "s", 100, 10)]
    book._check()


def test_replace_to_a_new_price_loses_priority_and_moves_level() -> None:
    book = book_with(lim(BUY, 50, 100, oid="a"), lim(BUY, 50, 99, oid="b"))
    assert book.replace("a", 50, 99).rested
    assert book.depth(5)[0] == [(99, 100, 2)]
    assert book.take_changed_levels() == [(BUY, 100, 0), (BUY, 99, 100)]
    ex = book.submit(lim(SELL, 50, 99, oid="s"))
    assert trades(ex) == [("b", "s", 99, 50)]
    book._check()


def test_replace_to_a_crossing_price_trades_like_a_new_order() -> None:
    book = book_with(lim(BUY, 50, 100, oid="a"), lim(SELL, 20, 101, oid="s1"), lim(SELL, 20, 102, oid="s2"))
    ex = book.replace("a", 50, 101)
    assert trades(ex) == [("s1", "a", 101, 20)]
    assert ex.rested and book.best_bid() == (101, 30) and book.best_ask() == (102, 20)
    book._check()


def test_replace_to_at_most_the_executed_quantity_finishes_the_order() -> None:
    book = book_with(lim(BUY, 50, 100, oid="a"))
    book.submit(lim(SELL, 20, 100))
    a = book.get("a")
    assert a is not None
    ex = book.replace("a", 20, None)
    assert ex == Execution([], False, 30, None)
    assert a.done and a.cancelled and a.qty == 20 and a.cum_qty == 20
    assert book.get("a") is None and book.best_bid() is None
    book._check()
    book2 = book_with(lim(BUY, 50, 100, oid="b"))
    book2.submit(lim(SELL, 20, 100))
    assert book2.replace("b", 5, None).cancelled_qty == 30
    book2._check()


def test_replace_of_an_unknown_order_is_a_programming_error() -> None:
    book = book_with(lim(BUY, 50, 100, oid="a"))
    with pytest.raises(BookError):
        book.replace("zz", 10, None)
    book.cancel("a")
    with pytest.raises(BookError):
        book.replace("a", 10, None)


# ---------------------------------------------------------------------------------------------- market data


def test_take_changed_levels_reports_each_touched_level_once_then_resets() -> None:
    book = OrderBook("ACME")
    assert book.take_changed_levels() == []
    book.submit(lim(BUY, 10, 100, oid="b1"))
    book.submit(lim(BUY, 10, 100))
    book.submit(lim(BUY, 10, 99))
    book.submit(lim(SELL, 10, 102, oid="s1"))
    book.submit(lim(SELL, 10, 101))
    assert book.take_changed_levels() == [(BUY, 100, 20), (BUY, 99, 10), (SELL, 101, 10), (SELL, 102, 10)]
    assert book.take_changed_levels() == []
    book.submit(lim(SELL, 25, 99, IOC))  # sweeps 100 then takes 5 at 99
    book.cancel("s1")
    assert book.take_changed_levels() == [(BUY, 100, 0), (BUY, 99, 5), (SELL, 102, 0)]
    book._check()


def test_volume_at_or_better_counts_what_a_taker_could_hit() -> None:
    book = book_with(lim(SELL, 10, 101), lim(SELL, 20, 102), lim(SELL, 40, 104), lim(BUY, 5, 99), lim(BUY, 7, 97))
    assert book.volume_at_or_better(BUY, 100) == 0
    assert book.volume_at_or_better(BUY, 101) == 10
    assert book.volume_at_or_better(BUY, 103) == 30
    assert book.volume_at_or_better(BUY, 10**6) == 70
    assert book.volume_at_or_better(SELL, 99) == 5
    assert book.volume_at_or_better(SELL, 1) == 12


def test_self_trade_is_not_prevented() -> None:
    book = book_with(lim(SELL, 10, 101, owner="us", oid="p"))
    ex = book.submit(lim(BUY, 10, 101, owner="us", oid="q"))
    assert trades(ex) == [("p", "q", 101, 10)]


def test_negative_prices_are_ordinary_ticks() -> None:
    book = book_with(lim(BUY, 10, -5), lim(BUY, 10, -3), lim(SELL, 10, -1))
    assert book.best_bid() == (-3, 10) and book.best_ask() == (-1, 10)
    ex = book.submit(lim(SELL, 15, -5))
    assert [(f.price, f.qty) for f in ex.fills] == [(-3, 10), (-5, 5)]
    book._check()


# ---------------------------------------------------------------------------------------------- randomized


def _random_op(book: OrderBook, rng: random.Random, ids: list[str], i: int) -> list[Fill]:
    """One random operation; passive prices sit a few ticks behind the touch so the book grows deep."""
    r = rng.random()
    side = BUY if rng.random() < 0.5 else SELL
    bb, ba = book.best_bid(), book.best_ask()
    if r < 0.55:
        tif = rng.choice([DAY, DAY, DAY, GTC, IOC, FOK])
        min_qty = rng.choice([0, 0, 0, rng.randint(1, 5)])
        qty = rng.randint(max(1, min_qty), 12)
        ref = (ba[0] if ba else 101) if side is BUY else (bb[0] if bb else 100)  # the opposite touch
        passive = rng.random() < 0.8  # passive: 1..8 ticks behind the opposite touch; else at or through it
        price = ref - side.sign * rng.randint(1, 8) if passive else ref + side.sign * rng.randint(0, 3)
        o = lim(side, qty, price, tif, min_qty, oid=f"r{i}")
        ids.append(o.order_id)
        return book.submit(o).fills
    if r < 0.60:
        o = mkt(side, rng.randint(5, 40), rng.choice([IOC, DAY, FOK]), rng.choice([0, 0, 5]), oid=f"r{i}")
        return book.submit(o).fills
    if r < 0.85 and ids:
        book.cancel(rng.choice(ids))
        return []
    if ids:
        oid = rng.choice(ids)
        resting = book.get(oid)
        if resting is None:
            with pytest.raises(BookError):
                book.replace(oid, 5, None)
            return []
        assert resting.price is not None
        new_price = rng.choice([None, resting.price, resting.price + rng.randint(-3, 3)])
        return book.replace(oid, rng.randint(0, 15), new_price).fills
    return []


@pytest.mark.parametrize("compact_min_dead", [32, 0])
def test_seeded_random_stress_keeps_every_invariant_after_each_operation(
    compact_min_dead: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matching, "_COMPACT_MIN_DEAD", compact_min_dead)  # 0: compact as eagerly as possible
    rng = random.Random(20240611)
    book = OrderBook("ACME")
    ids: list[str] = []
    per_order: dict[int, tuple[Order, int, int]] = {}  # id(order) -> (order, qty, cost) from fills
    deepest = 0
    for i in range(10_000):
        for f in _random_op(book, rng, ids, i):
            assert f.qty > 0
            for o in (f.maker, f.taker):
                _, q, c = per_order.get(id(o), (o, 0, 0))
                per_order[id(o)] = (o, q + f.qty, c + f.qty * f.price)
        book._check()
        deepest = max(deepest, len(book))
    assert deepest > 100 and len(per_order) > 1000  # the run did exercise a deep book and many trades
    for o, q, c in per_order.values():
        assert o.cum_qty == q and o.cost == c  # quantity conservation: fills add up to each order's totals
        assert o.cum_qty <= o.qty


# Reference model: a flat list of resting orders, scanned naively.  Slow and obviously right.


@dataclass
class RefOrder:
    oid: str
    side: Side
    price: int
    qty: int
    cum: int
    seq: int
    cost: int = 0


@dataclass
class RefBook:
    resting: list[RefOrder] = field(default_factory=list)
    seq: int = 0

    def _contra(self, side: Side, limit: int | None) -> list[RefOrder]:
        def ok(o: RefOrder) -> bool:
            if o.side is side:
                return False
            if limit is None:
                return True
            return o.price <= limit if side is BUY else o.price >= limit

        cands = [o for o in self.resting if ok(o)]
        return sorted(cands, key=lambda o: (o.price if side is BUY else -o.price, o.seq))

    def execute(self, oid: str, side: Side, qty: int, cum: int, price: int | None, no_rest: bool, need: int,
                cost: int = 0) -> tuple[list[tuple[str, str, int, int]], bool, int, RefOrder]:
        self.seq += 1
        me = RefOrder(oid, side, price if price is not None else 0, qty, cum, self.seq, cost)
        contra = self._contra(side, price)
        fills: list[tuple[str, str, int, int]] = []
        if contra and need and sum(o.qty - o.cum for o in contra) < need:
            return [], False, qty - cum, me
        for o in contra:
            rem = me.qty - me.cum
            if not rem:
                break
            x = min(rem, o.qty - o.cum)
            o.cum += x
            o.cost += x * o.price
            me.cum += x
            me.cost += x * o.price
            fills.append((o.oid, oid, o.price, x))
        self.resting = [o for o in self.resting if o.cum < o.qty]
        leaves = me.qty - me.cum
        if not leaves:
            return fills, False, 0, me
        if no_rest:
            return fills, False, leaves, me
        self.resting.append(me)
        return fills, True, 0, me

    def depth(self) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        out: tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]] = ([], [])
        for side, lst, rev in ((BUY, out[0], True), (SELL, out[1], False)):
            prices = sorted({o.price for o in self.resting if o.side is side}, reverse=rev)
            for p in prices:
                at = [o for o in self.resting if o.side is side and o.price == p]
                lst.append((p, sum(o.qty - o.cum for o in at), len(at)))
        return out


class BookVsReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.book = OrderBook("ACME")
        self.ref = RefBook()
        self.ids: list[str] = []
        self.orders: dict[str, Order] = {}
        self.n = 0

    def _compare(self, ex: Execution, expected: tuple[list[tuple[str, str, int, int]], bool, int, RefOrder]) -> None:
        fills, rested, cancelled, me = expected
        assert trades(ex) == fills
        assert ex.rested == rested and ex.cancelled_qty == cancelled and ex.reject_reason is None
        order = self.orders[me.oid]
        assert order.cum_qty == me.cum and order.cost == me.cost

    @rule(
        side=st.sampled_from([BUY, SELL]),
        qty=st.integers(1, 10),
        price=st.integers(97, 103),
        market=st.booleans(),
        tif=st.sampled_from([DAY, GTC, IOC, FOK]),
        min_qty=st.integers(0, 10),
    )
    def submit(self, side: Side, qty: int, price: int, market: bool, tif: TimeInForce, min_qty: int) -> None:
        self.n += 1
        oid = f"h{self.n}"
        min_qty = min(min_qty, qty)
        if market:
            order = Order(oid, "c", side, qty, None, OrdType.MARKET, tif, min_qty)
        else:
            order = Order(oid, "c", side, qty, price, OrdType.LIMIT, tif, min_qty)
        self.orders[oid] = order
        self.ids.append(oid)
        ex = self.book.submit(order)
        need = qty if tif is FOK else min_qty
        no_rest = market or tif in (IOC, FOK)
        self._compare(ex, self.ref.execute(oid, side, qty, 0, None if market else price, no_rest, need))

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.ids:
            return
        oid = data.draw(st.sampled_from([*self.ids, "unknown"]))
        got = self.book.cancel(oid)
        ref = next((o for o in self.ref.resting if o.oid == oid), None)
        if ref is None:
            assert got is None
        else:
            assert got is self.orders[oid]
            self.ref.resting.remove(ref)

    @rule(data=st.data(), new_qty=st.integers(0, 12), new_price=st.one_of(st.none(), st.integers(97, 103)))
    def replace(self, data: st.DataObject, new_qty: int, new_price: int | None) -> None:
        if not self.ids:
            return
        oid = data.draw(st.sampled_from(self.ids))
        ref = next((o for o in self.ref.resting if o.oid == oid), None)
        if ref is None:
            with pytest.raises(BookError):
                self.book.replace(oid, new_qty, new_price)
            return
        ex = self.book.replace(oid, new_qty, new_price)
        price = ref.price if new_price is None else new_price
        if new_qty <= ref.cum:
            self.ref.resting.remove(ref)
            assert ex == Execution([], False, ref.qty - ref.cum, None)
        elif price == ref.price and new_qty <= ref.qty:
            ref.qty = new_qty
            assert ex == Execution([], True, 0, None)
        else:
            self.ref.resting.remove(ref)
            expected = self.ref.execute(oid, ref.side, new_qty, ref.cum, price, False, 0, ref.cost)
            self._compare(ex, expected)

    @invariant()
    def same_book(self) -> None:
        self.book._check()
        bids, asks = self.ref.depth()
        assert self.book.depth(1000) == (bids, asks)
        assert self.book.best_bid() == (bids[0][:2] if bids else None)
        assert self.book.best_ask() == (asks[0][:2] if asks else None)
        assert len(self.book) == len(self.ref.resting)
        for o in self.ref.resting:
            got = self.book.get(o.oid)
            assert got is not None and got.cum_qty == o.cum and got.qty == o.qty and got.cost == o.cost


BookVsReference.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_book_matches_the_reference_model = BookVsReference.TestCase
