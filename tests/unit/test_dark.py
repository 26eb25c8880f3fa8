"""The dark midpoint pool: exact midpoint pricing, limits, quote validity, contra statistics, resting
contra interest, invariants."""

from __future__ import annotations

import hashlib
import math
import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaorder.clock import VirtualClock
from metaorder.config import load_venues_config
from metaorder.venues.dark import DarkFill, DarkPool, avg_price, mid_x2
from metaorder.venues.matching import BookError
from metaorder.venues.model import Order, OrdType, Side, TimeInForce
from metaorder.venues.runtime import SimulatedVenues
from metaorder.venues.venue import DarkVenue, Fees, Rules
from tests.unit.venuesupport import ACME, T0, new_order, reports

BUY, SELL = Side.BUY, Side.SELL
IOC, FOK, DAY = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.DAY

_n = 0


def order(side: Side, qty: int, price: int | None = None, tif: TimeInForce = DAY, min_qty: int = 0,
          oid: str | None = None) -> Order:
    global _n
    _n += 1
    ord_type = OrdType.LIMIT if price is not None else OrdType.MARKET
    return Order(oid or f"d{_n}", "c", side, qty, price, ord_type, tif, min_qty)


def quiet_pool(seed: int = 1) -> DarkPool:
    """A pool whose contra interest never arrives (only pool orders trade)."""
    return DarkPool("ACME", random.Random(seed), 0.0, 100, 0.5)


def oid_of(o: Order | None) -> str | None:
    return o.order_id if o is not None else None


def summary(fills: list[DarkFill]) -> list[tuple[str | None, str | None, int, int]]:
    return [(oid_of(f.maker), oid_of(f.taker), f.price_x2, f.qty) for f in fills]


# ---------------------------------------------------------------------------------------------- pricing


def test_odd_spread_midpoint_is_exact_half_tick() -> None:
    pool = quiet_pool()
    s = order(SELL, 300, oid="s")
    b = order(BUY, 200, oid="b")
    assert pool.submit(s, 100, 101, 0.0) == []
    fills = pool.submit(b, 100, 101, 1.0)
    assert summary(fills) == [("s", "b", 201, 200)]
    assert fills[0].price == Fraction(201, 2)
    assert b.cost == 201 * 200 and s.cost == 201 * 200  # half ticks
    assert avg_price(b) == Fraction(201, 2) and avg_price(s) == Fraction(201, 2)
    assert avg_price(order(BUY, 1, 5)) is None
    pool._check()


def test_even_spread_midpoint_is_a_whole_tick() -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 10, oid="s"), 100, 104, 0.0)
    fills = pool.submit(order(BUY, 10, oid="b"), 100, 104, 0.0)
    assert fills[0].price == 102 and fills[0].price_x2 == 204


def test_mid_x2_is_none_without_a_usable_quote() -> None:
    assert mid_x2(100, 101) == 201
    assert mid_x2(None, 101) is None and mid_x2(100, None) is None
    assert mid_x2(100, 100) is None and mid_x2(101, 100) is None


# ---------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("buy_limit", "sell_limit", "trades"),
    [
        (101, 100, True),  # mid 100.5 within both
        (100, 100, False),  # buy limit 100 < 100.5
        (101, 101, False),  # sell limit 101 > 100.5
        (None, None, True),  # two midpoint pegs
        (None, 101, False),
    ],
)
def test_limits_are_respected_at_the_half_tick_midpoint(
    buy_limit: int | None, sell_limit: int | None, trades: bool
) -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 10, sell_limit), 100, 101, 0.0)
    fills = pool.submit(order(BUY, 10, buy_limit), 100, 101, 0.0)
    assert bool(fills) is trades
    assert len(pool) == (0 if trades else 2)
    pool._check()


def test_a_quote_change_crosses_orders_that_become_marketable() -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 10, 101, oid="s"), 100, 101, 0.0)
    pool.submit(order(BUY, 10, 101, oid="b"), 100, 101, 0.0)
    assert len(pool) == 2  # mid 100.5 is below the sell limit 101
    assert pool.on_quote(99, 101, 1.0) == []  # mid 100: still below
    fills = pool.on_quote(100, 102, 2.0)  # mid 101: both accept
    assert summary(fills) == [("s", "b", 202, 10)] and len(pool) == 0
    pool._check()


# ---------------------------------------------------------------------------------------------- no quote


@pytest.mark.parametrize(("bid", "ask"), [(None, 101), (100, None), (None, None), (100, 100), (101, 100)])
def test_no_fills_without_a_two_sided_unlocked_quote(bid: int | None, ask: int | None) -> None:
    pool = DarkPool("ACME", random.Random(3), 10.0, 1_000, 0.0)
    s = order(SELL, 10, oid="s")
    assert pool.submit(s, bid, ask, 0.0) == []
    assert pool.submit(order(BUY, 10, oid="b"), bid, ask, 0.0) == []
    for _ in range(50):
        t = pool.next_contra_time()
        assert t is not None
        assert pool.on_contra(t, bid, ask) == []
    assert pool.on_quote(bid, ask, 10.0) == []
    ioc = order(BUY, 10, tif=IOC)
    assert pool.submit(ioc, bid, ask, 10.0) == [] and ioc.cancelled
    assert len(pool) == 2 and s.cum_qty == 0
    pool._check()
    assert pool.on_quote(100, 101, 11.0) != []  # once the quote is usable they cross


# ---------------------------------------------------------------------------------------------- TIFs, min qty, priority


def test_time_priority_among_resting_orders() -> None:
    pool = quiet_pool()
    for oid in ("s1", "s2", "s3"):
        pool.submit(order(SELL, 10, oid=oid), 100, 101, 0.0)
    fills = pool.submit(order(BUY, 25, oid="b"), 100, 101, 0.0)
    assert summary(fills) == [("s1", "b", 201, 10), ("s2", "b", 201, 10), ("s3", "b", 201, 5)]
    pool._check()


def test_ioc_remainder_is_cancelled() -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 10), 100, 101, 0.0)
    b = order(BUY, 25, tif=IOC)
    assert sum(f.qty for f in pool.submit(b, 100, 101, 0.0)) == 10
    assert b.cancelled and b.cum_qty == 10 and len(pool) == 0
    pool._check()


def test_fok_is_all_or_nothing() -> None:
    pool = quiet_pool()
    s = order(SELL, 10, oid="s")
    pool.submit(s, 100, 101, 0.0)
    f1 = order(BUY, 11, tif=FOK)
    assert pool.submit(f1, 100, 101, 0.0) == [] and f1.cancelled and s.cum_qty == 0
    f2 = order(BUY, 10, tif=FOK)
    assert sum(f.qty for f in pool.submit(f2, 100, 101, 0.0)) == 10 and f2.done and not f2.cancelled
    pool._check()


def test_min_qty_is_a_per_fill_minimum_and_skipped_orders_keep_resting() -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 30, oid="small"), 100, 101, 0.0)
    pool.submit(order(SELL, 100, oid="big"), 100, 101, 0.0)
    b = order(BUY, 200, min_qty=50, oid="b")
    fills = pool.submit(b, 100, 101, 0.0)
    assert summary(fills) == [("big", "b", 201, 100)]  # 30 < 50: "small" skipped, not filled
    assert pool.get("small") is not None and pool.get("b") is not None
    pool._check()


def test_min_qty_shrinks_to_the_leaves() -> None:
    pool = quiet_pool()
    pool.submit(order(BUY, 60, min_qty=50, oid="b"), 100, 101, 0.0)
    pool.submit(order(SELL, 50, oid="s1"), 100, 101, 0.0)  # fills 50, leaves 10 < min 50
    fills = pool.submit(order(SELL, 10, oid="s2"), 100, 101, 0.0)
    assert summary(fills) == [("b", "s2", 201, 10)]
    pool._check()


def test_an_order_shrunk_below_its_minimum_then_trades_with_an_order_it_skipped() -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 10, min_qty=8, oid="s"), 100, 101, 0.0)
    assert pool.submit(order(BUY, 5, oid="b"), 100, 101, 0.0) == []  # 5 < 8: no fill
    fills = pool.submit(order(BUY, 8, oid="b2"), 100, 101, 0.0)
    # b2 takes 8; s's 2 left are now above its shrunken minimum, so the earlier buy b gets them.
    assert summary(fills) == [("s", "b2", 201, 8), ("s", "b", 201, 2)]
    assert [o.order_id for o in pool.resting()] == ["b"]
    pool._check()


def test_replace_rules_follow_the_lit_book() -> None:
    pool = quiet_pool()
    pool.submit(order(BUY, 50, 105, oid="a"), None, None, 0.0)
    pool.submit(order(BUY, 50, 105, oid="b"), None, None, 0.0)
    pool.replace("a", 40, None, None, None, 1.0)  # smaller: keeps priority
    fills = pool.submit(order(SELL, 10, oid="s"), 100, 101, 2.0)
    assert summary(fills) == [("a", "s", 201, 10)]
    pool.replace("a", 60, None, 100, 101, 3.0)  # larger: back of the queue
    fills = pool.submit(order(SELL, 60, oid="s2"), 100, 101, 4.0)
    assert summary(fills) == [("b", "s2", 201, 50), ("a", "s2", 201, 10)]
    a = pool.get("a")
    assert a is not None
    assert pool.replace("a", 20, None, 100, 101, 5.0) == [] and a.done and a.qty == 20 and pool.get("a") is None
    with pytest.raises(BookError):
        pool.replace("a", 5, None, 100, 101, 6.0)
    pool._check()


def test_replace_cannot_give_a_midpoint_peg_a_limit() -> None:
    pool = quiet_pool()
    pool.submit(order(BUY, 10, oid="peg"), None, None, 0.0)
    with pytest.raises(BookError):
        pool.replace("peg", 10, 100, None, None, 1.0)
    assert pool.replace("peg", 5, None, None, None, 1.0) == []
    pool._check()


def test_replace_to_a_marketable_limit_crosses() -> None:
    pool = quiet_pool()
    pool.submit(order(SELL, 10, 100, oid="s"), 100, 101, 0.0)
    pool.submit(order(BUY, 10, 100, oid="b"), 100, 101, 0.0)
    assert len(pool) == 2
    fills = pool.replace("b", 10, 101, 100, 101, 1.0)
    assert summary(fills) == [("s", "b", 201, 10)]
    pool._check()


def test_cancel_of_unknown_or_done_orders_returns_none() -> None:
    pool = quiet_pool()
    s = order(SELL, 10, oid="s")
    pool.submit(s, 100, 101, 0.0)
    assert pool.cancel("zz") is None
    assert pool.cancel("s") is s and s.cancelled
    assert pool.cancel("s") is None
    pool.submit(order(BUY, 1, oid="x"), None, None, 0.0)
    with pytest.raises(BookError):
        pool.submit(order(SELL, 1, oid="x"), None, None, 0.0)  # duplicate id
    with pytest.raises(BookError):
        pool.submit(order(SELL, 5, min_qty=6), None, None, 0.0)
    pool._check()


def test_resting_lists_orders_in_time_priority() -> None:
    pool = quiet_pool()
    ids = ["a", "b", "c", "d"]
    for oid, side in zip(ids, [BUY, SELL, BUY, SELL], strict=True):
        pool.submit(order(side, 10, 100 if side is BUY else 102, oid=oid), 100, 101, 0.0)
    assert [o.order_id for o in pool.resting()] == ids


# ---------------------------------------------------------------------------------------------- contra interest


def test_contra_interest_fills_resting_orders_at_the_midpoint() -> None:
    pool = DarkPool("ACME", random.Random(5), 1.0, 1_000_000, 0.0)  # every contra is huge
    fills: list[DarkFill] = []
    for o in (order(BUY, 300, 102, oid="b"), order(SELL, 200, 99, oid="s")):
        pool.submit(o, 100, 103, 0.0)
        while not o.done:
            t = pool.next_contra_time()
            assert t is not None
            fills += pool.on_contra(t, 100, 103)
            pool._check()
    assert summary(fills) == [("b", None, 203, 300), ("s", None, 203, 200)]


def test_contra_interest_respects_limits_and_minimums() -> None:
    pool = DarkPool("ACME", random.Random(5), 1.0, 50, 0.0)  # every contra is exactly 50
    pool.submit(order(BUY, 100, 100, oid="too_low"), None, None, 0.0)  # mid will be 100.5
    pool.submit(order(BUY, 100, 101, min_qty=60, oid="min60"), None, None, 0.0)
    pool.submit(order(BUY, 100, 101, oid="ok"), None, None, 0.0)
    fills: list[DarkFill] = []
    for _ in range(40):
        t = pool.next_contra_time()
        assert t is not None
        fills += pool.on_contra(t, 100, 101)
        pool._check()
    assert {oid_of(f.maker) for f in fills} == {"ok"}
    assert all(f.qty == 50 for f in fills)


def test_same_seed_same_history() -> None:
    def run(seed: int) -> list[tuple[str | None, str | None, int, int, float]]:
        rng = random.Random(99)
        pool = DarkPool("ACME", random.Random(seed), 0.5, 300, 1.0, start=10.0)
        out: list[tuple[str | None, str | None, int, int, float]] = []
        now = 10.0
        for i in range(300):
            t = pool.next_contra_time()
            assert t is not None
            if rng.random() < 0.5:
                now = t
                fills = pool.on_contra(now, 100, 101 + rng.randint(0, 2))
            else:
                now = now + rng.random()
                side = BUY if rng.random() < 0.5 else SELL
                fills = pool.submit(order(side, rng.randint(1, 500), oid=f"o{i}"), 100, 101, now)
            out += [(oid_of(f.maker), oid_of(f.taker), f.price_x2, f.qty, now) for f in fills]
        return out

    first = run(42)
    assert first and first == run(42)
    assert first != run(43)


def test_contra_stream_does_not_depend_on_what_rests() -> None:
    """Common random numbers: arrival times are the same with or without our orders."""
    a = DarkPool("ACME", random.Random(8), 2.0, 100, 1.0)
    b = DarkPool("ACME", random.Random(8), 2.0, 100, 1.0)
    b.submit(order(BUY, 10_000, oid="x"), None, None, 0.0)
    for _ in range(100):
        ta, tb = a.next_contra_time(), b.next_contra_time()
        assert ta == tb and ta is not None
        a.on_contra(ta, 100, 101)
        b.on_contra(ta, 100, 101)


def test_waiting_time_and_fill_probability_match_the_contra_rate() -> None:
    """A resting order meets a contra of its side at rate λ/2: mean wait 2/λ, P(fill by T) = 1 - e^(-λT/2)."""
    rate, horizon, trials = 2.0, 1.0, 3000
    pool = DarkPool("ACME", random.Random(2024), rate, 10**9, 0.0)  # contras always large enough
    now = 0.0
    waits: list[float] = []
    for i in range(trials):
        o = order(BUY if i % 2 else SELL, 100, oid=f"t{i}")
        pool.submit(o, 100, 101, now)
        start = now
        while not o.done:
            t = pool.next_contra_time()
            assert t is not None
            now = t
            pool.on_contra(now, 100, 101)
        waits.append(now - start)
    mean = sum(waits) / trials
    assert mean == pytest.approx(2 / rate, rel=0.08)
    p_by_horizon = sum(w <= horizon for w in waits) / trials
    assert p_by_horizon == pytest.approx(1 - math.exp(-rate * horizon / 2), abs=0.04)
    # ... and so some orders do not fill in a short life at all:
    assert sum(w > 3.0 for w in waits) > 0


def test_contra_sizes_are_lognormal_with_the_configured_median() -> None:
    median, sigma = 400, 1.0
    pool = DarkPool("ACME", random.Random(77), 1.0, median, sigma)
    pool.submit(order(BUY, 10**12, oid="sink"), None, None, 0.0)
    sizes: list[int] = []
    for _ in range(6000):
        t = pool.next_contra_time()
        assert t is not None
        sizes += [f.qty for f in pool.on_contra(t, 100, 101)]  # selling contras trade in full with the sink
    sizes.sort()
    assert len(sizes) == pytest.approx(3000, rel=0.05)  # half the contras are sellers
    assert sizes[len(sizes) // 2] == pytest.approx(median, rel=0.1)
    assert sum(sizes) / len(sizes) == pytest.approx(median * math.exp(sigma**2 / 2), rel=0.1)


def test_partial_fills_from_small_contras() -> None:
    pool = DarkPool("ACME", random.Random(11), 1.0, 100, 0.8)
    o = order(SELL, 1000, oid="big")
    pool.submit(o, 100, 101, 0.0)
    fills = 0
    for _ in range(200):
        t = pool.next_contra_time()
        assert t is not None
        fills += len(pool.on_contra(t, 100, 101))
        if o.done:
            break
    assert o.done and fills > 3  # several contras were needed


def test_zero_rate_means_no_contra() -> None:
    assert quiet_pool().next_contra_time() is None


# ---------------------------------------------------------------------------------------------- stress


def test_seeded_stress_keeps_invariants_after_every_operation() -> None:
    rng = random.Random(314)
    pool = DarkPool("ACME", random.Random(15), 3.0, 60, 1.0)
    ids: list[str] = []
    now = 0.0
    bid, ask = 100, 101
    total_fills = 0
    tifs = [DAY, DAY, DAY, TimeInForce.GTC, IOC, FOK]
    for i in range(5000):
        r = rng.random()
        now += rng.random() * 0.2
        if rng.random() < 0.1:  # the lit quote moves, sometimes to an unusable state
            bid = rng.randint(95, 105)
            ask = bid + rng.choice([-1, 0, 1, 1, 2, 3])
        qb: int | None = None if rng.random() < 0.03 else bid
        if r < 0.4:
            qty = rng.randint(1, 200)
            o = order(BUY if rng.random() < 0.5 else SELL, qty, rng.choice([None, rng.randint(95, 106)]),
                      rng.choice(tifs), rng.choice([0, 0, rng.randint(1, qty)]), oid=f"x{i}")
            ids.append(o.order_id)
            total_fills += len(pool.submit(o, qb, ask, now))
        elif r < 0.55 and ids:
            pool.cancel(rng.choice(ids))
        elif r < 0.7 and ids:
            oid = rng.choice(ids)
            existing = pool.get(oid)
            if existing is None:
                with pytest.raises(BookError):
                    pool.replace(oid, 10, None, qb, ask, now)
            else:
                pegged = existing.price is None  # a midpoint peg keeps no limit
                new_price = None if pegged else rng.choice([None, existing.price, rng.randint(95, 106)])
                total_fills += len(pool.replace(oid, rng.randint(0, 250), new_price, qb, ask, now))
        elif r < 0.8:
            total_fills += len(pool.on_quote(qb, ask, now))
        else:
            t = pool.next_contra_time()
            assert t is not None
            now = max(now, t)
            total_fills += len(pool.on_contra(now, qb, ask))
        pool._check()
    assert total_fills > 500


# ---------------------------------------------------------------------------------------------- resting contra


def resting_pool(rest_s: float = 1_000.0, size: int = 50, seed: int = 5, rate: float = 1.0) -> DarkPool:
    """Contra of exactly ``size`` shares (sigma 0) that rests ``rest_s`` seconds on average."""
    return DarkPool("ACME", random.Random(seed), rate, size, 0.0, contra_rest_s=rest_s)


def until_contra(pool: DarkPool, side: Side, bid: int | None = 100, ask: int | None = 101) -> float:
    """Run contra arrivals until one of ``side`` rests; the time of that arrival."""
    for _ in range(100):
        t = pool.next_contra_time()
        assert t is not None
        assert pool.on_contra(t, bid, ask) == []  # nothing of ours rests: nothing trades
        if any(c[0] is side for c in pool.resting_contra()):
            return t
    raise AssertionError("no contra of that side arrived")


def test_an_ioc_peg_fills_against_contra_that_arrived_before_it_and_still_rests() -> None:
    pool = resting_pool()
    t = until_contra(pool, SELL)
    [(_, qty, expires)] = [c for c in pool.resting_contra() if c[0] is SELL][:1]
    ioc = order(BUY, 30, tif=IOC, oid="ioc")
    fills = pool.submit(ioc, 100, 101, t + 1.0)
    # The contra rested first: it is the maker (None: nobody's order), our IOC the taker.
    assert summary(fills) == [(None, "ioc", 201, 30)] and ioc.done and not ioc.cancelled
    assert (SELL, qty - 30, expires) in pool.resting_contra()
    pool._check()


def test_with_no_rest_the_same_ioc_finds_nothing() -> None:
    pool = resting_pool(rest_s=0.0)
    t = pool.next_contra_time()
    assert t is not None
    pool.on_contra(t, 100, 101)
    assert pool.resting_contra() == []
    ioc = order(BUY, 30, tif=IOC)
    assert pool.submit(ioc, 100, 101, t) == [] and ioc.cancelled
    pool._check()


def test_resting_contra_is_gone_at_its_expiry() -> None:
    pool = resting_pool(rest_s=5.0)
    until_contra(pool, SELL)
    expires = min(c[2] for c in pool.resting_contra() if c[0] is SELL)
    # Just before its expiry it still trades; at the expiry itself it is gone (alive while now < expiry).
    probe = DarkPool("ACME", random.Random(5), 1.0, 50, 0.0, contra_rest_s=5.0)
    until_contra(probe, SELL)
    assert sum(f.qty for f in probe.submit(order(BUY, 1, tif=IOC), 100, 101, math.nextafter(expires, 0))) == 1
    late = order(BUY, 1, tif=IOC)
    fills = pool.submit(late, 100, 101, expires)
    assert not [f for f in fills if f.taker is late] and late.cancelled
    assert all(c[2] > expires for c in pool.resting_contra())
    pool._check()


def test_the_pool_clock_never_runs_backwards() -> None:
    """Contra processed late (a venue catching up after a quote at a later time) is gone if it expired by then."""
    late, timely = resting_pool(rest_s=5.0, rate=2.0), resting_pool(rest_s=5.0, rate=2.0)
    assert late.on_quote(100, 101, 30.0) == []  # the pool has seen t = 30 ...
    assert contra_history(late, 25.0) == contra_history(timely, 25.0)  # ... then arrivals due before it
    timely.on_quote(100, 101, 30.0)
    assert late.resting_contra() == timely.resting_contra()
    assert all(c[2] > 30.0 for c in late.resting_contra())
    assert late.resting_contra() != []  # the last few are still there
    ioc = order(BUY, 10_000, tif=IOC)
    stale = sum(c[1] for c in late.resting_contra() if c[0] is SELL)
    assert sum(f.qty for f in late.submit(ioc, 100, 101, 0.0)) == stale  # an earlier now revives nothing
    late._check()
    timely._check()


def test_a_cap_is_respected_against_resting_contra_and_a_new_quote_crosses_them() -> None:
    pool = resting_pool()
    t = until_contra(pool, SELL)
    capped = order(BUY, 20, 100, tif=IOC, oid="cap100")  # mid 100.5 above the cap 100
    assert pool.submit(capped, 100, 101, t) == [] and capped.cancelled
    resting = order(BUY, 20, 100, oid="day100")  # rests: the contra cannot trade with it at 100.5...
    assert pool.submit(resting, 100, 101, t) == []
    fills = pool.on_quote(99, 101, t + 1.0)  # ... until the mid falls to 100: then they cross
    assert summary(fills) == [(None, "day100", 200, 20)]
    pool._check()


def test_min_qty_is_a_per_fill_minimum_against_resting_contra() -> None:
    pool = resting_pool(size=50)
    t = until_contra(pool, SELL)
    while sum(c[0] is SELL for c in pool.resting_contra()) < 2:
        t = until_contra(pool, SELL)
    sells = [c for c in pool.resting_contra() if c[0] is SELL]
    assert len(sells) == 2 and all(c[1] == 50 for c in sells)
    big_min = order(BUY, 100, tif=IOC, min_qty=60)  # 50 + 50 would do, but every fill must be >= 60
    assert pool.submit(big_min, 100, 101, t) == [] and big_min.cancelled
    fits = order(BUY, 100, tif=IOC, min_qty=50, oid="m50")
    assert summary(pool.submit(fits, 100, 101, t)) == [(None, "m50", 201, 50), (None, "m50", 201, 50)]
    pool._check()


def test_resting_contra_and_resting_orders_share_time_priority() -> None:
    pool = resting_pool(size=50)
    t = until_contra(pool, SELL)
    n_contra = sum(c[1] for c in pool.resting_contra() if c[0] is SELL)
    later = order(SELL, 40, 102, oid="later")  # rests: its limit 102 is above the mid
    pool.submit(later, 100, 101, t)
    pool.replace("later", 40, 100, 100, 101, t)  # a new limit: it goes behind the contra anyway
    fills = pool.submit(order(BUY, n_contra + 10, tif=IOC, oid="b"), 100, 101, t)
    assert [m for m, *_ in summary(fills)] == [None] * (len(fills) - 1) + ["later"]
    assert fills[-1].qty == 10
    pool._check()


def test_two_contras_never_trade_with_each_other() -> None:
    pool = resting_pool(size=50)
    until_contra(pool, SELL)  # asserts that no arrival traded
    t = until_contra(pool, BUY)
    assert {c[0] for c in pool.resting_contra()} == {BUY, SELL}
    assert pool.on_quote(100, 103, t) == []
    pool._check()


def test_contra_rests_through_an_unusable_quote_and_trades_once_it_is_usable() -> None:
    pool = resting_pool(size=50)
    t = until_contra(pool, SELL, None, 101)  # one-sided quote: no midpoint, the contra still rests
    b = order(BUY, 10, oid="b")
    assert pool.submit(b, None, 101, t) == []
    assert summary(pool.on_quote(100, 101, t + 1)) == [(None, "b", 201, 10)]
    pool._check()


def test_an_arriving_contra_meets_resting_orders_first_and_rests_only_its_remainder() -> None:
    pool = resting_pool(size=50)
    pool.submit(order(BUY, 30, oid="b"), 100, 101, 0.0)
    fills: list[DarkFill] = []
    while not fills:  # buying contras rest beside b; the first selling one trades with it
        t = pool.next_contra_time()
        assert t is not None
        fills = pool.on_contra(t, 100, 101)
    assert summary(fills) == [("b", None, 201, 30)]  # b rested first: the maker
    assert [c[1] for c in pool.resting_contra() if c[0] is SELL] == [20]
    ioc = order(BUY, 100, tif=IOC, oid="ioc")
    assert summary(pool.submit(ioc, 100, 101, t)) == [(None, "ioc", 201, 20)]
    pool._check()


def test_resting_contra_is_reported_to_nobody_and_our_order_is_the_taker() -> None:
    pool = DarkPool("ACME", random.Random(1), 1.0, 300, 0.0, T0, contra_rest_s=600.0)
    rules = Rules(ord_types=frozenset({OrdType.LIMIT, OrdType.MARKET, OrdType.PEGGED}))
    fees = Fees(Decimal("0.0010"), Decimal("0.0030"))
    v = DarkVenue("UMBRA", [ACME], {"ACME": pool}, rules=rules, fees=fees)
    v.quotes = lambda symbol: (9900, 10000)
    now = T0
    while not any(c[0] is SELL for c in pool.resting_contra()):
        due = v.next_event_time()
        assert due is not None and due < T0 + 600
        now = due
        assert v.on_time(now) == []  # contra comes and rests: no message to anyone
    assert v.changed_symbols() == [] and v.take_trades() == []
    out = v.new_order("A", new_order("p1", "1", 100, None, ord_type="P", tif="3", extra=[(18, "M")]), now)
    assert {o.owner for o in out} == {"A"}
    [f] = [r for r in reports(out, "A") if r[150] == "F"]
    assert (f[31], f[32], f[851], f[12], f[39]) == ("99.5", "100", "2", "0.3000", "2")  # taker fee, 100 shares


def test_fill_chance_of_an_ioc_matches_the_resting_contra_population() -> None:
    """Resting contra of one side is Poisson with mean λτ/2: an IOC finds some with chance 1 - e^(-λτ/2).

    The UMBRA figures (6/min, 20 s: 63%) scaled to seconds; IOCs of 1 share barely deplete it.
    """
    rate, rest, trials = 0.1, 20.0, 4000
    pool = DarkPool("ACME", random.Random(77), rate, 10**6, 0.0, contra_rest_s=rest)
    probes = random.Random(3)
    now, hits = 0.0, 0
    for i in range(trials):
        now += probes.expovariate(0.2)
        due = pool.next_contra_time()
        while due is not None and due <= now:
            pool.on_contra(due, 100, 101)
            due = pool.next_contra_time()
        ioc = order(BUY if i % 2 else SELL, 1, tif=IOC)
        hits += bool(pool.submit(ioc, 100, 101, now))
    assert hits / trials == pytest.approx(1 - math.exp(-rate * rest / 2), abs=0.03)
    pool._check()


# ---------------------------------------------------------------------------------------------- rest 0 == before


def golden_scenario(**pool_kw: float) -> list[tuple[str | None, str | None, int, int, float]]:
    """Orders, cancels, quotes and contra in a seeded mix; the fills. Run on the code before resting contra."""
    rng = random.Random(2718)
    pool = DarkPool("ACME", random.Random(31), 2.0, 80, 1.0, **pool_kw)
    out: list[tuple[str | None, str | None, int, int, float]] = []
    now = 0.0
    bid, ask = 100, 101
    ids: list[str] = []
    for i in range(3000):
        r = rng.random()
        now += rng.random() * 0.3
        if rng.random() < 0.1:
            bid = rng.randint(98, 102)
            ask = bid + rng.choice([0, 1, 1, 2, 3])
        fills: list[DarkFill] = []
        if r < 0.35:
            qty = rng.randint(1, 300)
            tif = rng.choice([DAY, IOC, IOC, FOK])
            price = rng.choice([None, rng.randint(98, 104)])
            o = Order(f"x{i}", "c", BUY if rng.random() < 0.5 else SELL, qty, price,
                      OrdType.LIMIT if price is not None else OrdType.MARKET, tif,
                      rng.choice([0, 0, rng.randint(1, qty)]))
            ids.append(o.order_id)
            fills = pool.submit(o, bid, ask, now)
        elif r < 0.45 and ids:
            pool.cancel(rng.choice(ids))
        elif r < 0.6:
            fills = pool.on_quote(bid, ask, now)
        else:
            t = pool.next_contra_time()
            assert t is not None
            now = max(now, t)
            fills = pool.on_contra(now, bid, ask)
        out += [(oid_of(f.maker), oid_of(f.taker), f.price_x2, f.qty, round(now, 9)) for f in fills]
    return out


def digest(fills: list[tuple[str | None, str | None, int, int, float]]) -> str:
    return hashlib.sha256(repr(fills).encode()).hexdigest()


def test_rest_zero_is_exactly_the_pool_before_contra_could_rest() -> None:
    # Pinned from the pool as it was before contra_rest_s existed (commit f8d8fcb): 388 fills.
    before = "98d377e7f965fcfcafbbb611d1bd161f082aad9efe3efd4db3b2e967a9160aa4"
    default = golden_scenario()
    assert len(default) == 388 and digest(default) == before
    assert golden_scenario(contra_rest_s=0.0) == default
    resting = golden_scenario(contra_rest_s=10.0)
    assert resting != default and len(resting) > len(default)  # the setting does something


# ---------------------------------------------------------------------------------------------- common random numbers


def contra_history(pool: DarkPool, until: float) -> list[float]:
    times = []
    while (t := pool.next_contra_time()) is not None and t <= until:
        pool.on_contra(t, 100, 101)
        times.append(t)
    return times


def test_same_seed_same_contra_stream_whatever_our_orders_do() -> None:
    a = DarkPool("ACME", random.Random(8), 2.0, 100, 1.0, contra_rest_s=3.0)
    b = DarkPool("ACME", random.Random(8), 2.0, 100, 1.0, contra_rest_s=3.0)
    b.submit(order(BUY, 10_000, oid="x"), 100, 101, 0.0)  # eats every selling contra, in full
    b.submit(order(SELL, 500, min_qty=150, oid="y"), 100, 101, 0.0)  # eats some buying ones
    assert contra_history(a, 50.0) == contra_history(b, 50.0)
    b.cancel("x")
    b.cancel("y")
    # Lifetimes were drawn for the contras b's orders ate too: later arrivals (and expiries) agree.
    assert contra_history(a, 200.0) == contra_history(b, 200.0)
    b.on_quote(100, 101, 200.0)
    a.on_quote(100, 101, 200.0)
    assert a.resting_contra() == b.resting_contra() != []
    a._check()
    b._check()


def test_the_wiring_keeps_arrivals_the_same_whatever_the_rest_setting() -> None:
    config = load_venues_config("configs/lab-venues.toml")
    umbra = next(v for v in config.venue if v.name == "UMBRA")
    noct = next(v for v in config.venue if v.name == "NOCT")
    assert (umbra.contra_rest_s, noct.contra_rest_s) == (20.0, 60.0)
    none = config.model_copy(update={"venue": [v.model_copy(update={"contra_rest_s": 0.0}) for v in config.venue]})
    times = []
    for cfg in (config, none):
        sim = SimulatedVenues.build(cfg, VirtualClock(T0), T0)
        pool = next(d for d in sim.dark if d.name == "UMBRA").pools[config.instrument[0].symbol]
        times.append(contra_history(pool, T0 + 600))
    assert times[0] == times[1] and len(times[0]) > 30


# ---------------------------------------------------------------------------------------------- conservation


_op = st.one_of(
    st.tuples(st.just("order"), st.sampled_from([BUY, SELL]), st.integers(1, 200),
              st.sampled_from([None, 99, 100, 101, 102]), st.sampled_from([DAY, IOC, FOK]), st.integers(0, 100)),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("quote"), st.integers(98, 102), st.sampled_from([-1, 0, 1, 2, 3])),
    st.tuples(st.just("contra")),
    st.tuples(st.just("wait"), st.floats(0.0, 20.0)),
)


@given(st.lists(_op, max_size=60), st.integers(0, 2**16), st.sampled_from([0.0, 2.0, 30.0]))
def test_conservation_holds_whatever_happens(ops: list[tuple[object, ...]], seed: int, rest: float) -> None:
    pool = DarkPool("ACME", random.Random(seed), 1.0, 60, 1.0, contra_rest_s=rest)
    now, bid, ask = 0.0, 100, 101
    ids: list[str] = []
    for i, op in enumerate(ops):
        kind = op[0]
        if kind == "order":
            _, side, qty, price, tif, mq = op
            assert isinstance(side, Side) and isinstance(qty, int) and isinstance(tif, TimeInForce)
            assert isinstance(mq, int) and (price is None or isinstance(price, int))
            o = order(side, qty, price, tif, min(mq, qty), oid=f"h{i}")
            ids.append(o.order_id)
            pool.submit(o, bid, ask, now)
        elif kind == "cancel" and ids:
            assert isinstance(op[1], int)
            pool.cancel(ids[op[1] % len(ids)])
        elif kind == "quote":
            assert isinstance(op[1], int) and isinstance(op[2], int)
            bid, ask = op[1], op[1] + op[2]
            pool.on_quote(bid, ask, now)
        elif kind == "contra":
            t = pool.next_contra_time()
            assert t is not None
            now = max(now, t)
            pool.on_contra(now, bid, ask)
        elif kind == "wait":
            assert isinstance(op[1], float)
            now += op[1]
            pool.on_quote(bid, ask, now)
        pool._check()


def test_seeded_stress_with_resting_contra_keeps_invariants() -> None:
    rng = random.Random(99)
    pool = DarkPool("ACME", random.Random(16), 3.0, 60, 1.0, contra_rest_s=4.0)
    now, bid, ask = 0.0, 100, 101
    total, from_resting = 0, 0
    for i in range(4000):
        r = rng.random()
        now += rng.random() * 0.2
        if rng.random() < 0.1:
            bid = rng.randint(95, 105)
            ask = bid + rng.choice([-1, 0, 1, 1, 2, 3])
        if r < 0.4:
            qty = rng.randint(1, 200)
            o = order(BUY if rng.random() < 0.5 else SELL, qty, rng.choice([None, rng.randint(95, 106)]),
                      rng.choice([DAY, IOC, IOC, FOK]), rng.choice([0, 0, rng.randint(1, qty)]), oid=f"z{i}")
            fills = pool.submit(o, bid, ask, now)
        elif r < 0.55:
            fills = pool.on_quote(bid, ask, now)
        else:
            t = pool.next_contra_time()
            assert t is not None
            now = max(now, t)
            fills = pool.on_contra(now, bid, ask)
        total += len(fills)
        from_resting += sum(f.maker is None for f in fills)
        pool._check()
    assert total > 500 and from_resting > 100
