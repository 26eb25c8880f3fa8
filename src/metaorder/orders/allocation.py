"""Splitting one parent execution among the parent's client orders, pro-rata and exactly.

A parent order trades as one; every execution it gets must then be handed out to the client orders
it aggregates.  Clients compare notes, so the split has to be *fair* (each order gets its pro-rata
share of the fill by remaining quantity, within one lot), *safe* (no order is ever filled beyond its
leaves or at a price its limit forbids) and *reproducible* (the same state and fill always give the
same split, whatever order the caller lists the client orders in — an audit replaying the journal
must get the same answer).

The rounding is Hamilton's largest-remainder method: every eligible order first gets the whole lots
of its exact quota, then the lots left over go one each to the largest fractional remainders, ties to
the earliest arrival (``arrival_seq``).  Quotas are compared as exact integer numerators over the
common denominator (never floats), so two orders with mathematically equal remainders really tie.

Lot rule
--------
Every allocation is a whole number of lots (a multiple of ``lot_size``) with exactly two exceptions:

1. **Completing odd-lot tail.**  An order whose leaves is not a lot multiple may receive its odd tail
   (``leaves % lot_size``) in the allocation that *completes* it: that allocation equals the order's
   leaves.  (When the leftover lots are handed out, an order with less than a lot of room left gets
   that room — its tail — instead of a full lot.)
2. **Odd-lot fill residue.**  When the fill cannot be made of whole lots and completing tails (e.g. a
   venue printed a 37-share odd lot with ``lot_size=100``), the residue goes to the order whose turn it
   is in largest-remainder order.  At most one allocation per call is of this kind.

So at most one allocation per call is neither a lot multiple nor equal to its order's leaves, and
with a lot-multiple fill over lot-multiple leaves the result is plain Hamilton in whole lots.  The
residue rule exists because the caller (parent-level control) can guarantee the fill never exceeds
what the orders want, but cannot make a venue fill in round lots: allocation must succeed for every
``0 < qty <= eligible leaves``.  The rule does not search for a tail-completing combination that
would avoid the residue (that is a subset-sum problem); it stays greedy and deterministic.

What holds, precisely
---------------------
With ``quota_i = qty * leaves_i / total_leaves`` (exact) and ``floor_i = lot * floor(quota_i / lot)``:

* ``sum(alloc) == qty``; ``alloc_i <= leaves_i``; only eligible orders appear;
* ``floor_i <= alloc_i <= min(floor_i + lot, leaves_i)`` and ``|alloc_i - quota_i| < lot`` — only
  orders with a non-zero remainder ever get more than their floor;
* order-preserving within one call: ``leaves_i > leaves_j`` implies ``alloc_i >= alloc_j``, and equal
  leaves imply the earlier arrival gets at least as much (at most one lot more);
* **not** monotone across calls: like any largest-remainder method it shows the Alabama paradox (a
  larger fill can give an order *less*: leaves 6/6/2, fill 10 → 4/4/2, fill 11 → 5/5/1), and
  splitting one execution into two fills may split differently from allocating it at once.

The module is sans-IO: :func:`allocate` only computes; :func:`apply` is the one place that mutates
the client orders' execution state.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Sequence
from decimal import Decimal

from metaorder.orders.model import Allocation, ClientOrder

__all__ = ["AllocationError", "allocate", "apply"]

#: Unbounded precision, and Inexact trapped: a notional is never rounded.  Built once (the module is
#: compiled with mypyc, which refuses ``ctx.traps[...] = True``: typeshed says dict, it is a SignalDict).
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                         traps=[decimal.Inexact, decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class AllocationError(ValueError):
    """An execution that cannot be allocated as asked: a bug upstream, never a market condition.

    Parent-level control sizes what a parent may execute by what its orders want at its price, so
    this only fires on a broken invariant — the caller must not swallow it.
    """


def _check_price(price: Decimal) -> None:
    # A float price would already have lost exactness; NaN would make limit checks meaningless.
    if not isinstance(price, Decimal):
        raise AllocationError(f"price must be a Decimal, got {type(price).__name__}")
    if not price.is_finite() or price <= 0:
        raise AllocationError(f"price must be a finite positive Decimal, got {price}")


def _check_qty(qty: object, what: str) -> int:
    # Typed object, not int: compiled, an int parameter would take True as 1 before any check.
    if isinstance(qty, bool) or not isinstance(qty, int):
        raise AllocationError(f"{what} must be an int, got {type(qty).__name__}")
    if qty <= 0:
        raise AllocationError(f"{what} must be positive, got {qty}")
    return qty


def _arrival_order(orders: Sequence[ClientOrder]) -> list[ClientOrder]:
    """The orders sorted by arrival, refusing duplicates.

    Listing an order twice would count its leaves twice and could over-fill it; sorting here is what
    makes the result independent of the caller's list order.  ``order_id`` breaks an (invalid) tie of
    ``arrival_seq`` so the result stays a function of the orders, never of their listing.
    """
    seen: set[str] = set()
    for order in orders:
        if order.order_id in seen:
            raise AllocationError(f"order {order.order_id} listed more than once")
        seen.add(order.order_id)
    return sorted(orders, key=lambda o: (o.arrival_seq, o.order_id))


def allocate(
    orders: Sequence[ClientOrder], qty: int | object, price: Decimal, market: str, lot_size: int | object = 1
) -> list[Allocation]:
    """Split an execution of ``qty`` at ``price`` on ``market`` pro-rata among ``orders``.

    Eligible orders are those with ``leaves_qty > 0`` whose limit accepts ``price``; the others get
    nothing (a fill never goes to an order whose limit it violates).  Shares are pro-rata by leaves,
    rounded by largest remainder in whole lots of ``lot_size`` under the lot rule of this module's
    docstring.  Returns the non-zero allocations in arrival order; nothing is mutated (see
    :func:`apply`).

    Raises :class:`AllocationError` if ``qty`` or ``lot_size`` is not a positive int, ``price`` is
    not a finite positive Decimal, an order is listed twice, or ``qty`` exceeds the eligible leaves.
    """
    qty = _check_qty(qty, "qty")
    lot_size = _check_qty(lot_size, "lot_size")
    _check_price(price)
    eligible = [o for o in _arrival_order(orders) if o.leaves_qty > 0 and o.accepts_price(price)]
    leaves = [o.leaves_qty for o in eligible]  # read once: leaves_qty is a computed property
    total = sum(leaves)
    if qty > total:
        raise AllocationError(
            f"cannot allocate {qty} at {price}: eligible orders want only {total}"
            f" ({len(eligible)} of {len(orders)} orders eligible)"
        )

    # Exact quota_i = qty * leaves_i / total.  In lots: floor lots = (qty * leaves_i) // (total * lot)
    # and the fractional remainder, scaled by ``total``, is the integer numerator below — comparable
    # across orders because the denominator is common.
    lot_denominator = total * lot_size
    alloc: list[int] = []
    remainders: list[int] = []
    for n in leaves:
        whole_lots, remainder = divmod(qty * n, lot_denominator)
        alloc.append(whole_lots * lot_size)
        remainders.append(remainder)

    residue = qty - sum(alloc)
    # Largest remainder first, earliest arrival on ties (``eligible`` is in arrival order, so the
    # index is the arrival rank).  Orders with a zero remainder are never reached: each order with a
    # positive remainder absorbs at least its remainder, and those remainders sum to the residue.
    ranking = sorted(range(len(eligible)), key=lambda i: (-remainders[i], i))
    for i in ranking:
        if residue == 0:
            break
        # A full lot, or the order's odd tail if less than a lot of room is left (it completes the
        # order), or the fill's odd-lot residue if that is all there is left to give.
        extra = min(lot_size, leaves[i] - alloc[i], residue)
        alloc[i] += extra
        residue -= extra
    if residue != 0:  # pragma: no cover - impossible by the argument above; fail loudly, never mis-fill
        raise AllocationError(f"internal error: {residue} shares left unallocated")

    return [
        Allocation(order=o, qty=a, price=price, market=market)
        for o, a in zip(eligible, alloc, strict=True)
        if a > 0
    ]


def apply(allocations: Iterable[Allocation]) -> None:
    """Book the allocations into their orders: ``cum_qty += qty`` and ``notional += qty * price``.

    All allocations are checked before any is applied (positive int qty, finite positive Decimal
    price the order's limit accepts, and no order filled beyond its leaves counting every allocation
    to it in the batch), so a bad batch leaves every order untouched.  The notional is accumulated
    with unbounded precision and the Inexact trap set: the default 28-digit context could round a
    large notional silently, and AvgPx is derived from it.
    """
    batch = list(allocations)
    taken: dict[int, int] = {}  # by identity: ClientOrder compares by identity (eq=False)
    for a in batch:
        _check_qty(a.qty, "allocation qty")
        _check_price(a.price)
        order = a.order
        if not order.accepts_price(a.price):
            raise AllocationError(f"order {order.order_id} limit {order.limit} does not accept {a.price}")
        taken[id(order)] = taken.get(id(order), 0) + a.qty
        if taken[id(order)] > order.leaves_qty:
            raise AllocationError(
                f"order {order.order_id} would be over-filled: {taken[id(order)]} allocated,"
                f" {order.leaves_qty} leaves"
            )
    with decimal.localcontext(_EXACT):
        for a in batch:
            a.order.cum_qty += a.qty
            a.order.notional += a.qty * a.price
