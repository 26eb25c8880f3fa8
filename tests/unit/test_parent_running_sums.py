"""ParentOrder.wanted_qty and cum_qty are running sums (O(1)); they must always equal the sums."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from metaorder.orders.book import ParentBook
from metaorder.orders.model import (
    ClientOrder,
    Mandate,
    OrderType,
    ParentKey,
    ParentOrder,
    Side,
    Strategy,
    TimeInForce,
    Urgency,
    day_anchor,
    end_of,
)

KEY = ParentKey("ACME", 1, Strategy.TWAP, Urgency.MEDIUM, None)


def order(n: int, qty: int, cum: int = 0, canceled: bool = False, side: Side = Side.BUY,
          mandate: Mandate | None = None, arrival: float = 1.0, tif: TimeInForce = TimeInForce.DAY) -> ClientOrder:
    return ClientOrder(f"O{n}", "OMS1", f"C{n}", "ACME", side, qty, OrderType.MARKET, None, tif,
                       mandate or Mandate(), arrival, n, cum_qty=cum, canceled=canceled)


def random_mandate(rng: random.Random) -> Mandate:
    return Mandate(start_time=rng.choice([None, 0.0, rng.uniform(0, 100)]),
                   end_time=rng.choice([None, 0.0, rng.uniform(50, 500)]),
                   participation_rate=rng.choice([None, Decimal("0.1"), Decimal("0.05"), Decimal("0.25")]))


def assert_sums(*parents: ParentOrder) -> None:
    for parent in parents:
        orders = parent.children
        assert parent.wanted_qty == sum(o.leaves_qty for o in orders)
        assert parent.cum_qty == sum(o.cum_qty for o in orders)
        if orders:  # what the execution engine computes from the children, O(n)
            start = min(o.mandate.start_time or o.arrival for o in orders)
            earliest_end = min(o.mandate.end_time or day_anchor(o) + 600.0 for o in orders)
            latest_end = max(o.mandate.end_time or day_anchor(o) + 600.0 for o in orders)
            rates = [o.mandate.participation_rate for o in orders if o.mandate.participation_rate is not None]
            assert parent.window(lambda arrival: arrival + 600.0) == (start, earliest_end, latest_end)
            assert parent.participation_rate == (min(rates) if rates else None)
            expiring = [o.mandate.end_time for o in orders if o.mandate.end_time]
            assert parent.earliest_expire_time == (min(expiring) if expiring else None)
            # DAY (and IOC, FOK) orders without ExpireTime end with their day; GTC ones never.
            ends = [e for o in orders if (e := end_of(o, lambda arrival: arrival + 600.0)) is not None]
            assert parent.earliest_end(lambda arrival: arrival + 600.0) == (min(ends) if ends else None)
        else:
            assert parent.earliest_end(lambda arrival: arrival + 600.0) is None


def test_sums_follow_every_list_operation_and_every_order_change_after_random_operations() -> None:
    rng = random.Random(20261201)
    pool = [order(n, rng.randint(1, 500), canceled=rng.random() < 0.1, mandate=random_mandate(rng),
                  arrival=rng.uniform(0, 200), tif=rng.choice(list(TimeInForce))) for n in range(40)]
    parents = [ParentOrder("P1", KEY, 0.0, pool[:5]), ParentOrder("P2", KEY, 0.0)]
    assert_sums(*parents)
    for _ in range(5000):
        parent = rng.choice(parents)
        kids = parent.children
        op = rng.randrange(12)
        if op == 0:
            kids.append(rng.choice(pool))  # an order may even sit in both parents, or twice in one
        elif op == 1 and kids:
            kids.remove(rng.choice(kids))
        elif op == 2:
            kids.insert(rng.randint(-3, len(kids) + 3), rng.choice(pool))
        elif op == 3 and kids:
            kids.pop(rng.randrange(len(kids)))
        elif op == 4 and kids:
            del kids[rng.randrange(len(kids))]
        elif op == 5 and kids:
            kids[rng.randrange(len(kids))] = rng.choice(pool)
        elif op == 6:
            a, b = sorted(rng.randint(0, len(kids)) for _ in range(2))
            kids[a:b] = rng.sample(pool, rng.randint(0, 3))
        elif op == 7:
            a, b = sorted(rng.randint(0, len(kids)) for _ in range(2))
            del kids[a:b]
        elif op == 8:
            kids.extend(rng.sample(pool, 2))
            kids += [rng.choice(pool)]
        elif op == 9 and rng.random() < 0.05:
            kids.clear() if rng.random() < 0.5 else setattr(parent, "children", rng.sample(pool, 3))
        else:  # the order's own state changes: fills, amendments, cancels, un-cancels (replay)
            o = rng.choice(pool)
            change = rng.randrange(3)
            if change == 0:
                o.cum_qty = min(o.qty, o.cum_qty + rng.randint(0, 100))
            elif change == 1:
                o.qty = max(o.cum_qty + 1, o.qty + rng.randint(-100, 100))
            else:
                o.canceled = not o.canceled
        assert_sums(*parents)
        for p in parents:
            p.children._check()


def test_an_over_filled_order_counts_zero_wanted_and_its_whole_fill() -> None:
    parent = ParentOrder("P1", KEY, 0.0, [order(1, 100), order(2, 50)])
    parent.children[0].cum_qty = 130
    assert parent.wanted_qty == 50 and parent.cum_qty == 130
    assert_sums(parent)


def test_a_parent_without_orders_has_no_window() -> None:
    with pytest.raises(ValueError):
        ParentOrder("P1", KEY, 0.0).window(lambda arrival: arrival + 600.0)


def test_children_cannot_be_repeated() -> None:
    parent = ParentOrder("P1", KEY, 0.0, [order(1, 100)])
    with pytest.raises(TypeError):
        kids = parent.children
        kids *= 2
    assert_sums(parent)


def test_parent_book_keeps_the_sums_through_crosses_cancels_replaces_and_fills() -> None:
    rng = random.Random(7)
    book = ParentBook(lambda symbol: Decimal("100.00"))
    live: list[ClientOrder] = []
    for n in range(1, 1500):
        op = rng.random()
        if op < 0.6 or not live:
            side = rng.choice([Side.BUY, Side.SELL, Side.SELL_SHORT])
            o = ClientOrder(f"O{n}", "OMS1", f"C{n}", "ACME", side, rng.randint(1, 10) * 100, OrderType.MARKET, None,
                            TimeInForce.DAY, Mandate(Strategy.TWAP, rng.choice(list(Urgency))), float(n), n)
            book.add(o, float(n))
            live.append(o)
        elif op < 0.75:
            book.cancel(live.pop(rng.randrange(len(live))))
        elif op < 0.9:
            o = rng.choice(live)
            if o.leaves_qty:
                book.replace(o, o.cum_qty + rng.randint(1, 10) * 100, None, float(n))
        else:
            o = rng.choice(live)
            if o.leaves_qty:
                o.cum_qty += rng.randint(1, o.leaves_qty)
                o.notional += Decimal(100)
                book.remove_if_done(o)
        live = [o for o in live if o.leaves_qty]
        book._check()
        for parent in book.parents():
            assert_sums(parent)
