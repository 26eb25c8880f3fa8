"""Pro-rata allocation of a parent execution to client orders: examples, the lot rule, errors, apply.

The property tests check the guarantees stated in ``metaorder.orders.allocation``'s docstring against
exact rational quotas (``Fraction``), and, when fill and leaves are whole lots, compare with a naive
reference Hamilton apportionment written independently here.
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from math import ceil, floor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.orders.allocation import AllocationError, allocate, apply
from metaorder.orders.model import Allocation, ClientOrder, Mandate, OrderType, Side, TimeInForce

D = Decimal


def order(
    seq: int,
    qty: int,
    *,
    cum: int = 0,
    side: Side = Side.BUY,
    limit: Decimal | None = None,
    canceled: bool = False,
    oid: str | None = None,
) -> ClientOrder:
    return ClientOrder(
        order_id=oid or f"O{seq}",
        session="OMS1",
        cl_ord_id=f"C{seq}",
        symbol="ACME",
        side=side,
        qty=qty,
        ord_type=OrderType.MARKET if limit is None else OrderType.LIMIT,
        limit=limit,
        tif=TimeInForce.DAY,
        mandate=Mandate(),
        arrival=1_700_000_000.0 + seq,
        arrival_seq=seq,
        cum_qty=cum,
        canceled=canceled,
    )


def split(allocs: list[Allocation]) -> list[tuple[str, int]]:
    return [(a.order.order_id, a.qty) for a in allocs]


# ---------------------------------------------------------------------------------------------- examples


def test_300_over_500_and_200_remaining_splits_214_86() -> None:
    # quotas 214.29 / 85.71: floors 214 + 85, the leftover share goes to the larger remainder (.71)
    a, b = order(1, 500), order(2, 200)
    assert split(allocate([a, b], 300, D("10.00"), "XNAS")) == [("O1", 214), ("O2", 86)]


def test_pro_rata_is_by_leaves_not_original_quantity() -> None:
    a, b = order(1, 1000, cum=500), order(2, 200)  # leaves 500 / 200, as above
    assert split(allocate([a, b], 300, D("10.00"), "XNAS")) == [("O1", 214), ("O2", 86)]


def test_equal_remainders_tie_to_the_earliest_arrival() -> None:
    orders = [order(1, 100), order(2, 100), order(3, 100)]  # 33⅓ each: one share left over
    assert split(allocate(orders, 100, D("10.00"), "XNAS")) == [("O1", 34), ("O2", 33), ("O3", 33)]


def test_tie_break_is_arrival_seq_not_position_in_the_list() -> None:
    orders = [order(3, 100), order(1, 100), order(2, 100)]
    assert split(allocate(orders, 200, D("10.00"), "XNAS")) == [("O1", 67), ("O2", 67), ("O3", 66)]


def test_allocations_come_back_in_arrival_order_with_price_and_market() -> None:
    orders = [order(9, 100), order(4, 300), order(7, 200)]
    allocs = allocate(orders, 600, D("10.0125"), "INTERNAL")
    assert [a.order.arrival_seq for a in allocs] == [4, 7, 9]
    assert {(a.price, a.market) for a in allocs} == {(D("10.0125"), "INTERNAL")}


def test_zero_allocations_are_left_out() -> None:
    big, tiny = order(1, 1000), order(2, 1)  # quotas 9.99 and 0.0099: the leftover share goes to 0.99
    assert split(allocate([big, tiny], 10, D("10.00"), "XNAS")) == [("O1", 10)]


def test_a_fill_of_everything_fills_every_order_completely() -> None:
    orders = [order(1, 123), order(2, 457, cum=57), order(3, 1)]
    assert split(allocate(orders, 524, D("10.00"), "XNAS")) == [("O1", 123), ("O2", 400), ("O3", 1)]


def test_largest_remainder_shows_the_alabama_paradox_across_fill_sizes() -> None:
    # Documented, not a bug: a bigger fill can give an order less (6/6/2 leaves: 10 → 4/4/2, 11 → 5/5/1).
    orders = [order(1, 6), order(2, 6), order(3, 2)]
    assert [a.qty for a in allocate(orders, 10, D("10.00"), "XNAS")] == [4, 4, 2]
    assert [a.qty for a in allocate(orders, 11, D("10.00"), "XNAS")] == [5, 5, 1]


def test_allocate_does_not_mutate_the_orders() -> None:
    a, b = order(1, 500), order(2, 200)
    allocate([a, b], 300, D("10.00"), "XNAS")
    assert (a.cum_qty, a.notional, b.cum_qty, b.notional) == (0, D(0), 0, D(0))


# ---------------------------------------------------------------------------------------------- eligibility


def test_buy_limited_at_10_00_gets_nothing_of_a_fill_at_10_01() -> None:
    limited, free = order(1, 500, limit=D("10.00")), order(2, 200)
    assert split(allocate([limited, free], 200, D("10.01"), "XNAS")) == [("O2", 200)]


def test_sell_limited_at_10_00_gets_nothing_of_a_fill_at_9_99() -> None:
    limited = order(1, 500, side=Side.SELL, limit=D("10.00"))
    free = order(2, 200, side=Side.SELL_SHORT)
    assert split(allocate([limited, free], 200, D("9.99"), "XNAS")) == [("O2", 200)]


def test_a_fill_exactly_at_the_limit_is_eligible() -> None:
    buy, sell = order(1, 100, limit=D("10.00")), order(2, 100, side=Side.SELL, limit=D("10.00"))
    assert split(allocate([buy], 100, D("10.000"), "XNAS")) == [("O1", 100)]
    assert split(allocate([sell], 100, D("10"), "XNAS")) == [("O2", 100)]


def test_filled_and_canceled_orders_get_nothing() -> None:
    filled, canceled, live = order(1, 100, cum=100), order(2, 100, canceled=True), order(3, 100)
    assert split(allocate([filled, canceled, live], 60, D("10.00"), "XNAS")) == [("O3", 60)]


def test_limit_violated_orders_do_not_count_toward_capacity() -> None:
    limited, free = order(1, 500, limit=D("10.00")), order(2, 200)
    with pytest.raises(AllocationError, match="want only 200"):
        allocate([limited, free], 201, D("10.01"), "XNAS")


# ---------------------------------------------------------------------------------------------- lots


def test_with_a_lot_size_every_allocation_is_whole_lots() -> None:
    # quotas 300 / 180 / 120 → 3 / 1 / 1 lots, the leftover lot to the largest remainder (80 shares)
    orders = [order(1, 500), order(2, 300), order(3, 200)]
    assert split(allocate(orders, 600, D("10.00"), "XNAS", lot_size=100)) == [("O1", 300), ("O2", 200), ("O3", 100)]


def test_equal_lot_remainders_tie_to_the_earliest_arrival() -> None:
    orders = [order(2, 300), order(1, 300)]  # 150 each: one lot each, the leftover lot to O1
    assert split(allocate(orders, 300, D("10.00"), "XNAS", lot_size=100)) == [("O1", 200), ("O2", 100)]


def test_an_odd_lot_tail_is_only_given_in_the_allocation_that_completes_the_order() -> None:
    # leaves 180 / 1000, fill 1080: quotas 164.7 / 915.3 → floors 100 / 900; the leftover 80 goes to
    # O1 (larger remainder), whose room is less than a lot: it gets its 80-share tail and is complete.
    odd, round_ = order(1, 180), order(2, 1000)
    assert split(allocate([odd, round_], 1080, D("10.00"), "XNAS", lot_size=100)) == [("O1", 180), ("O2", 900)]


def test_an_odd_lot_fill_puts_its_residue_on_a_single_order() -> None:
    # 537 shares in lots of 100 over 500 / 500: floors 200 / 200, the 137 left go largest remainder
    # first (a tie: earliest), a full lot to O1, then the 37-share residue to O2.
    allocs = allocate([order(1, 500), order(2, 500)], 537, D("10.00"), "XNAS", lot_size=100)
    assert split(allocs) == [("O1", 300), ("O2", 237)]


def test_lot_size_larger_than_every_order_still_allocates_by_remainder() -> None:
    orders = [order(1, 50), order(2, 30), order(3, 20)]
    assert split(allocate(orders, 70, D("10.00"), "XNAS", lot_size=100)) == [("O1", 50), ("O2", 20)]


# ---------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("qty", [0, -100])
def test_a_non_positive_quantity_is_refused(qty: int) -> None:
    with pytest.raises(AllocationError, match="positive"):
        allocate([order(1, 100)], qty, D("10.00"), "XNAS")


def test_more_than_the_orders_want_is_refused() -> None:
    with pytest.raises(AllocationError, match="want only 150"):
        allocate([order(1, 100), order(2, 100, cum=50)], 151, D("10.00"), "XNAS")


def test_allocating_to_no_orders_is_refused() -> None:
    with pytest.raises(AllocationError):
        allocate([], 1, D("10.00"), "XNAS")


def test_allocation_error_is_a_value_error() -> None:
    assert issubclass(AllocationError, ValueError)


@pytest.mark.parametrize("lot_size", [0, -1])
def test_a_non_positive_lot_size_is_refused(lot_size: int) -> None:
    with pytest.raises(AllocationError, match="lot_size"):
        allocate([order(1, 100)], 100, D("10.00"), "XNAS", lot_size=lot_size)


@pytest.mark.parametrize("price", [10.0, D("NaN"), D("Infinity"), D(0), D("-1")])
def test_a_price_that_is_not_a_finite_positive_decimal_is_refused(price: object) -> None:
    with pytest.raises(AllocationError, match="price"):
        allocate([order(1, 100)], 100, price, "XNAS")  # type: ignore[arg-type]


@pytest.mark.parametrize("qty", [True, 1.0, D(1)])
def test_a_quantity_that_is_not_an_int_is_refused(qty: object) -> None:
    with pytest.raises(AllocationError, match="int"):
        allocate([order(1, 100)], qty, D("10.00"), "XNAS")  # type: ignore[arg-type]


def test_an_order_listed_twice_is_refused_rather_than_counted_twice() -> None:
    a = order(1, 100)
    with pytest.raises(AllocationError, match="more than once"):
        allocate([a, a], 150, D("10.00"), "XNAS")


# ---------------------------------------------------------------------------------------------- apply


def test_apply_books_quantity_and_exact_notional() -> None:
    a, b = order(1, 500), order(2, 200)
    apply(allocate([a, b], 300, D("10.01"), "XNAS"))
    apply(allocate([a, b], 100, D("10.03"), "XARC"))  # leaves now 286 / 114: 71.5 / 28.5, tie to O1
    assert (a.cum_qty, b.cum_qty) == (214 + 72, 86 + 28)
    assert a.notional == 214 * D("10.01") + 72 * D("10.03")
    assert a.avg_px == a.notional / a.cum_qty
    assert b.notional == D("1141.70")


def test_apply_keeps_notional_exact_beyond_the_default_28_digit_precision() -> None:
    a = order(1, 10**15)
    price = D("12345678901.123456789012345")
    apply([Allocation(a, 10**15 - 7, price, "XNAS"), Allocation(a, 7, D("0.000000000000000001"), "XNAS")])
    assert Fraction(a.notional) == (10**15 - 7) * Fraction(price) + 7 * Fraction(1, 10**18)


def test_apply_refuses_an_over_fill_and_changes_nothing() -> None:
    a, b = order(1, 100), order(2, 100)
    batch = [Allocation(a, 60, D("10"), "XNAS"), Allocation(b, 60, D("10"), "XNAS"), Allocation(b, 41, D("10"), "XNAS")]
    with pytest.raises(AllocationError, match="over-filled"):
        apply(batch)
    assert (a.cum_qty, a.notional, b.cum_qty, b.notional) == (0, D(0), 0, D(0))


def test_apply_refuses_a_price_the_order_limit_forbids() -> None:
    a = order(1, 100, limit=D("10.00"))
    with pytest.raises(AllocationError, match="does not accept"):
        apply([Allocation(a, 10, D("10.01"), "XNAS")])
    assert a.cum_qty == 0


def test_apply_refuses_a_non_positive_allocation() -> None:
    with pytest.raises(AllocationError, match="positive"):
        apply([Allocation(order(1, 100), 0, D("10"), "XNAS")])


# ---------------------------------------------------------------------------------------------- properties

PRICES = st.integers(990, 1010).map(lambda cents: Decimal(cents).scaleb(-2))  # 9.90 .. 10.10, around the limits


@st.composite
def order_lists(draw: st.DrawFn, lot_size: int = 1) -> list[ClientOrder]:
    """1..8 client orders with distinct arrival_seq; with ``lot_size`` > 1 every quantity is whole lots."""
    n = draw(st.integers(1, 8))
    seqs = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n, unique=True))
    orders = []
    for seq in seqs:
        qty = draw(st.integers(1, 2000 // lot_size)) * lot_size
        cum = draw(st.integers(0, qty // lot_size)) * lot_size
        limit = draw(st.one_of(st.none(), PRICES))
        side = draw(st.sampled_from(Side))
        orders.append(order(seq, qty, cum=cum, side=side, limit=limit, canceled=draw(st.integers(0, 9)) == 0))
    return orders


def eligible_of(orders: list[ClientOrder], price: Decimal) -> list[ClientOrder]:
    return sorted((o for o in orders if o.leaves_qty > 0 and o.accepts_price(price)), key=lambda o: o.arrival_seq)


@st.composite
def executions(draw: st.DrawFn, lot_clean: bool = False) -> tuple[list[ClientOrder], int, Decimal, int]:
    """(orders, qty, price, lot_size) with 0 < qty <= eligible leaves; lot_clean: all whole lots."""
    lot_size = draw(st.sampled_from([1, 10, 100]))
    orders = draw(order_lists(lot_size if lot_clean else 1))
    price = draw(PRICES)
    capacity = sum(o.leaves_qty for o in eligible_of(orders, price))
    if lot_clean:
        qty = draw(st.integers(1, max(capacity // lot_size, 1))) * lot_size
    else:
        qty = draw(st.integers(1, max(capacity, 1)))
    if qty > capacity:  # nothing eligible: make one order a market order with leaves
        orders[0] = order(orders[0].arrival_seq, qty, side=orders[0].side)
    return orders, qty, price, lot_size


def quotas(orders: list[ClientOrder], qty: int, price: Decimal) -> dict[str, Fraction]:
    eligible = eligible_of(orders, price)
    total = sum(o.leaves_qty for o in eligible)
    return {o.order_id: Fraction(qty * o.leaves_qty, total) for o in eligible}


def reference_hamilton(orders: list[ClientOrder], qty: int, price: Decimal, lot: int) -> dict[str, int]:
    """Textbook largest remainder in lots (valid when fill and leaves are whole lots)."""
    eligible = eligible_of(orders, price)
    lot_quota = {oid: q / lot for oid, q in quotas(orders, qty, price).items()}
    seats = {oid: floor(q) for oid, q in lot_quota.items()}
    leftover = qty // lot - sum(seats.values())
    by_remainder = sorted(eligible, key=lambda o: (-(lot_quota[o.order_id] % 1), o.arrival_seq))
    for o in by_remainder[:leftover]:
        seats[o.order_id] += 1
    return {oid: s * lot for oid, s in seats.items() if s}


@settings(max_examples=400, deadline=None)
@given(executions())
def test_allocations_conserve_the_fill_never_over_fill_and_go_only_to_eligible_orders(
    case: tuple[list[ClientOrder], int, Decimal, int],
) -> None:
    orders, qty, price, lot = case
    allocs = allocate(orders, qty, price, "XNAS", lot_size=lot)
    assert sum(a.qty for a in allocs) == qty
    assert all(0 < a.qty <= a.order.leaves_qty for a in allocs)
    assert all(a.order.accepts_price(price) and a.order.leaves_qty > 0 for a in allocs)
    assert all(a.price == price and a.market == "XNAS" for a in allocs)
    seqs = [a.order.arrival_seq for a in allocs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


@settings(max_examples=400, deadline=None)
@given(executions())
def test_each_allocation_is_within_one_lot_of_its_exact_quota(
    case: tuple[list[ClientOrder], int, Decimal, int],
) -> None:
    orders, qty, price, lot = case
    got = {a.order.order_id: a.qty for a in allocate(orders, qty, price, "XNAS", lot_size=lot)}
    for o in eligible_of(orders, price):
        q, a = quotas(orders, qty, price)[o.order_id], got.get(o.order_id, 0)
        floor_shares = lot * floor(q / lot)
        assert floor_shares <= a <= min(floor_shares + lot, o.leaves_qty)
        assert abs(a - q) < lot
        if q == floor_shares:  # no remainder: never more than the floor
            assert a == floor_shares


@settings(max_examples=400, deadline=None)
@given(executions())
def test_at_most_one_allocation_is_neither_whole_lots_nor_the_orders_completion(
    case: tuple[list[ClientOrder], int, Decimal, int],
) -> None:
    orders, qty, price, lot = case
    allocs = allocate(orders, qty, price, "XNAS", lot_size=lot)
    odd = [a for a in allocs if a.qty % lot and a.qty != a.order.leaves_qty]
    assert len(odd) <= 1
    if odd:
        assert qty % lot != 0 or any(o.leaves_qty % lot for o in eligible_of(orders, price))


@settings(max_examples=400, deadline=None)
@given(executions(lot_clean=True))
def test_whole_lot_fills_over_whole_lot_leaves_are_textbook_hamilton(
    case: tuple[list[ClientOrder], int, Decimal, int],
) -> None:
    orders, qty, price, lot = case
    allocs = allocate(orders, qty, price, "XNAS", lot_size=lot)
    assert all(a.qty % lot == 0 for a in allocs)
    for a in allocs:
        q = quotas(orders, qty, price)[a.order.order_id]
        assert a.qty in (lot * floor(q / lot), lot * ceil(q / lot))
    assert {a.order.order_id: a.qty for a in allocs} == reference_hamilton(orders, qty, price, lot)


@settings(max_examples=400, deadline=None)
@given(executions())
def test_leftover_shares_go_to_the_largest_remainders_earliest_first(
    case: tuple[list[ClientOrder], int, Decimal, int],
) -> None:
    orders, qty, price, lot = case
    got = {a.order.order_id: a.qty for a in allocate(orders, qty, price, "XNAS", lot_size=lot)}
    rank: dict[str, tuple[Fraction, int]] = {}  # (remainder, -arrival_seq): larger is served first
    extra: dict[str, int] = {}
    room: dict[str, int] = {}
    for o in eligible_of(orders, price):
        q = quotas(orders, qty, price)[o.order_id]
        floor_shares = lot * floor(q / lot)
        rank[o.order_id] = (q - floor_shares, -o.arrival_seq)
        extra[o.order_id] = got.get(o.order_id, 0) - floor_shares
        room[o.order_id] = o.leaves_qty - floor_shares
    for i in rank:
        for j in rank:
            if extra[i] > 0 and extra[j] == 0 and room[j] > 0:
                assert rank[i] > rank[j]  # i was served before j, which got nothing beyond its floor


@settings(max_examples=400, deadline=None)
@given(executions())
def test_more_remaining_never_gets_less_and_equal_remaining_favours_the_earlier(
    case: tuple[list[ClientOrder], int, Decimal, int],
) -> None:
    orders, qty, price, lot = case
    got = {a.order.order_id: a.qty for a in allocate(orders, qty, price, "XNAS", lot_size=lot)}
    eligible = eligible_of(orders, price)
    for i in eligible:
        for j in eligible:
            ai, aj = got.get(i.order_id, 0), got.get(j.order_id, 0)
            if i.leaves_qty > j.leaves_qty:
                assert ai >= aj
            elif i.leaves_qty == j.leaves_qty and i.arrival_seq < j.arrival_seq:
                assert aj <= ai <= aj + lot


@settings(max_examples=300, deadline=None)
@given(executions(), st.randoms(use_true_random=False))
def test_same_input_gives_the_same_split_whatever_the_listing_order(
    case: tuple[list[ClientOrder], int, Decimal, int], rnd: random.Random
) -> None:
    orders, qty, price, lot = case
    first = split(allocate(orders, qty, price, "XNAS", lot_size=lot))
    assert split(allocate(orders, qty, price, "XNAS", lot_size=lot)) == first
    shuffled = list(orders)
    rnd.shuffle(shuffled)
    assert split(allocate(shuffled, qty, price, "XNAS", lot_size=lot)) == first


@settings(max_examples=200, deadline=None)
@given(order_lists(), st.lists(st.tuples(st.integers(1, 3000), PRICES), min_size=1, max_size=10))
def test_after_apply_cum_qty_notional_and_avg_px_are_exact_sums_of_fills(
    orders: list[ClientOrder], fills: list[tuple[int, Decimal]]
) -> None:
    booked: dict[str, list[tuple[int, Decimal]]] = {o.order_id: [] for o in orders}
    start = {o.order_id: (o.cum_qty, o.notional) for o in orders}
    for size, price in fills:
        capacity = sum(o.leaves_qty for o in eligible_of(orders, price))
        if capacity == 0:
            continue
        allocs = allocate(orders, min(size, capacity), price, "XNAS")
        apply(allocs)
        for a in allocs:
            booked[a.order.order_id].append((a.qty, a.price))
    for o in orders:
        cum0, notional0 = start[o.order_id]
        assert o.cum_qty == cum0 + sum(q for q, _ in booked[o.order_id]) <= o.qty
        assert Fraction(o.notional) == Fraction(notional0) + sum(q * Fraction(p) for q, p in booked[o.order_id])
        if o.cum_qty:
            assert o.avg_px == o.notional / o.cum_qty
        assert o.leaves_qty >= 0
