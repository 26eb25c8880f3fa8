"""Aggregation of client orders into parents, and netting of opposing orders at the midpoint."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from metaorder.orders.book import BookError, ParentBook
from metaorder.orders.model import ClientOrder, Mandate, OrderType, Side, Strategy, TimeInForce, Urgency

T0 = 1_700_000_000.0
_seq = iter(range(1, 1_000_000))


def order(side: Side, qty: int, limit: str | None = None, symbol: str = "ACME", session: str = "OMS1",
          strategy: Strategy = Strategy.TWAP, urgency: Urgency = Urgency.MEDIUM) -> ClientOrder:
    n = next(_seq)
    return ClientOrder(f"O{n}", session, f"C{n}", symbol, side, qty, OrderType.LIMIT if limit else OrderType.MARKET,
                       Decimal(limit) if limit else None, TimeInForce.DAY, Mandate(strategy, urgency), T0, n)


def book(mid: str | None = "100.00") -> ParentBook:
    return ParentBook(lambda symbol: Decimal(mid) if mid is not None else None)


def test_the_seed_example_nets_200_internally_and_leaves_a_300_share_buy_parent() -> None:
    b = book()
    buy = order(Side.BUY, 500, session="OMS1")
    b.add(buy, T0)
    sell = order(Side.SELL, 200, session="OMS2")
    crosses, parent = b.add(sell, T0)
    assert [(c.qty, c.price) for c in crosses] == [(200, Decimal("100.00"))]
    assert parent is None and sell.cum_qty == 200 and sell.leaves_qty == 0
    [working] = list(b.parents())
    assert working.key.direction == 1 and working.wanted_qty == 300
    assert buy.cum_qty == 200 and buy.avg_px == Decimal("100.00")
    b._check()


def test_compatible_orders_join_one_parent_and_grow_it() -> None:
    b = book(None)
    first = order(Side.BUY, 100, "99.00")
    _, p1 = b.add(first, T0)
    _, p2 = b.add(order(Side.BUY, 300, "99.00", session="OMS2"), T0)
    assert p1 is p2 and p1 is not None and p1.wanted_qty == 400
    _, other_limit = b.add(order(Side.BUY, 50, "98.00"), T0)
    _, other_urgency = b.add(order(Side.BUY, 50, "99.00", urgency=Urgency.HIGH), T0)
    _, other_strategy = b.add(order(Side.BUY, 50, "99.00", strategy=Strategy.VWAP), T0)
    _, short_sell = b.add(order(Side.SELL_SHORT, 50, "99.00"), T0)
    _, sell = b.add(order(Side.SELL, 50, "99.00"), T0)
    assert len({id(p) for p in (p1, other_limit, other_urgency, other_strategy, short_sell)}) == 5
    assert sell is short_sell  # sell and sell short aggregate together
    b._check()


def test_no_cross_when_a_limit_does_not_allow_the_midpoint_or_there_is_no_quote() -> None:
    b = book("100.00")
    b.add(order(Side.BUY, 100, "99.99"), T0)
    crosses, _ = b.add(order(Side.SELL, 100, "99.00"), T0)
    assert crosses == []
    crosses, _ = b.add(order(Side.SELL, 100, "100.01"), T0)
    assert crosses == []
    no_quote = book(None)
    no_quote.add(order(Side.BUY, 100), T0)
    assert no_quote.add(order(Side.SELL, 100), T0)[0] == []


def test_crossing_never_touches_quantity_working_at_venues() -> None:
    b = book()
    buy = order(Side.BUY, 500)
    _, parent = b.add(buy, T0)
    assert parent is not None
    parent.working_qty = 400  # out at venues
    crosses, rest = b.add(order(Side.SELL, 300), T0)
    assert sum(c.qty for c in crosses) == 100 and rest is not None and rest.wanted_qty == 200
    b._check()


def test_crosses_follow_arrival_order_of_the_resting_orders() -> None:
    b = book()
    first, second = order(Side.SELL, 100), order(Side.SELL, 100)
    b.add(first, T0)
    b.add(second, T0)
    crosses, _ = b.add(order(Side.BUY, 150), T0)
    assert [(c.resting.order_id, c.qty) for c in crosses] == [(first.order_id, 100), (second.order_id, 50)]


def test_cancel_shrinks_the_parent_and_the_last_cancel_closes_it() -> None:
    b = book(None)
    a, c = order(Side.BUY, 100), order(Side.BUY, 200)
    _, parent = b.add(a, T0)
    b.add(c, T0)
    assert parent is not None
    b.cancel(a)
    assert parent.wanted_qty == 200 and a.leaves_qty == 0
    b.cancel(c)
    assert list(b.parents()) == []
    b._check()


def test_replace_to_a_new_limit_moves_the_order_to_the_matching_parent() -> None:
    b = book(None)
    a = order(Side.BUY, 100, "99.00")
    _, p1 = b.add(a, T0)
    b.add(order(Side.BUY, 100, "99.00"), T0)
    _, p2 = b.replace(a, 150, Decimal("98.50"), T0)
    assert p1 is not None and p2 is not None and p1 is not p2
    assert p1.wanted_qty == 100 and p2.wanted_qty == 150
    with pytest.raises(BookError):
        b.replace(a, 0, Decimal("98.50"), T0)
    b._check()


def test_random_flow_keeps_the_book_consistent_and_conserves_crossed_quantity() -> None:
    rng = random.Random(4)
    b = book("100.00")
    live: list[ClientOrder] = []
    created: list[ClientOrder] = []
    crossed_buy = crossed_sell = 0
    for _ in range(2000):
        if live and rng.random() < 0.2:
            victim = live.pop(rng.randrange(len(live)))
            if victim.leaves_qty:
                b.cancel(victim)
        else:
            side = rng.choice([Side.BUY, Side.SELL, Side.SELL_SHORT])
            limit = rng.choice([None, "99.50", "100.00", "100.50"])
            o = order(side, rng.randint(1, 20) * 50, limit, symbol=rng.choice(["ACME", "GLOBX"]),
                      urgency=rng.choice(list(Urgency)))
            created.append(o)
            crosses, _ = b.add(o, T0)
            for c in crosses:
                assert c.incoming.accepts_price(c.price) and c.resting.accepts_price(c.price)
                assert c.incoming.side.direction == -c.resting.side.direction
                if c.incoming.side is Side.BUY:
                    crossed_buy += c.qty
                else:
                    crossed_sell += c.qty
            live.append(o)
        b._check()
    assert crossed_buy + crossed_sell > 0
    # Every crossed share was bought by one order and sold by another: fills are conserved exactly.
    bought = sum(o.cum_qty for o in created if o.side is Side.BUY)
    sold = sum(o.cum_qty for o in created if o.side is not Side.BUY)
    assert bought == sold == crossed_buy + crossed_sell
    assert all(o.cum_qty <= o.qty for o in created)


def test_orders_asking_for_different_risk_aversions_are_not_aggregated() -> None:
    """TargetStrategyParameters (848) strategy keys are part of the aggregation key."""
    def order(order_id: str, params: str) -> ClientOrder:
        return ClientOrder(order_id, "OMS1", order_id, "ACME", Side.BUY, 100, OrderType.MARKET, None,
                           TimeInForce.DAY, Mandate(Strategy.IS, params=params), 1.0, 1)

    book = ParentBook(lambda symbol: Decimal("100"))
    _, first = book.add(order("O1", "RiskAversion=0.000001"), 1.0)
    _, same = book.add(order("O2", "RiskAversion=0.000001"), 1.0)
    _, other = book.add(order("O3", "RiskAversion=0.00001"), 1.0)
    assert first is same and other is not None and other is not first


def test_the_same_strategy_keys_written_two_ways_aggregate() -> None:
    """848 values are canonical: MaxPOV=0.10 and MaxPOV=0.1 are one key (and never an exponent)."""
    from metaorder.orders.strategy_params import canonical_params

    assert canonical_params(Strategy.POV, {"MaxPOV": "0.10"}, Decimal("0.1")) == "MaxPOV=0.1"
    assert canonical_params(Strategy.IS, {"RiskAversion": "1e-6"}, None) == "RiskAversion=0.000001"
    assert canonical_params(Strategy.IS, {"RiskAversion": "0.0"}, None) == "RiskAversion=0"
