"""The book of parent orders: aggregation of client orders and internal crossing (netting).

Sans-IO: orders and ``now`` in, what happened out.  Nothing here talks FIX or touches a clock.

**Aggregation.**  A client order joins the working parent with the same key — instrument,
direction (sell and sell short together), strategy, urgency and limit — or starts a new one.  An
order arriving while its parent is working grows it; the strategy recalibrates from
``wanted_qty``.  Because every order of a parent has the same limit, any price the parent trades at
is acceptable to all of them.

**Netting.**  When an order arrives (or is amended), it is first crossed against opposing orders
already in the book, in their arrival order, at the midpoint of the consolidated quote, when both
limits allow that price.  Only what remains goes to market.  Crossing happens on arrival, not
within a delay window: a window would make the first order wait for an opposite order that may
never come, and the midpoint is the fair price for both sides now.  It happens against working
parents too, but only against the part of a parent that is not out at a venue
(``wanted_qty - working_qty``), so an order can never be filled twice for the same shares.
Internal crosses carry LastMkt ``INTERNAL``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from metaorder.orders.model import ClientOrder, ParentKey, ParentOrder

INTERNAL = "INTERNAL"

MidSource = Callable[[str], Decimal | None]


@dataclass(frozen=True, slots=True)
class Cross:
    """An internal cross: ``qty`` shares between an arriving order and a resting opposing one."""

    incoming: ClientOrder
    resting: ClientOrder
    qty: int
    price: Decimal


class BookError(ValueError):
    """A request the book cannot honour (a replace below the filled quantity, an unknown order)."""


#: What aggregates orders, as plain values: (symbol, direction, strategy, urgency, limit, 848 params).
_Key = tuple[str, int, str, str, Decimal | None, str]
#: What recovery's fold builds in a book (:meth:`ParentBook.fold_state`): parents, their indexes,
#: live orders, the parents changed since the engine last looked.
BookFold = tuple[dict[str, ParentOrder], dict[_Key, ParentOrder], dict[tuple[str, int], dict[str, ParentOrder]],
                 dict[str, ClientOrder], set[str]]


def _key_of(order: ClientOrder) -> _Key:
    m = order.mandate
    return order.symbol, order.side.direction, m.strategy._value_, m.urgency._value_, order.limit, m.params


def _key_of_parent(key: ParentKey) -> _Key:
    return key.symbol, key.direction, key.strategy._value_, key.urgency._value_, key.limit, key.params


class ParentBook:
    def __init__(self, mid: MidSource, first_parent: int = 1, *, aggregate: bool = True, net: bool = True) -> None:
        self.mid_source = mid  # replaced by the live consolidated midpoint once market data is wired
        # Both on in production.  Off, the book works every order on its own (one parent each) or
        # never crosses internally: what the execution lab's baseline measures them against.
        self.aggregate = aggregate
        self.net = net
        self._parents: dict[str, ParentOrder] = {}  # working parents
        # Keyed by _key_of: a tuple of plain values hashes in C, a ParentKey (two enums inside) would
        # call Python hash functions for every arriving order.
        self._by_key: dict[_Key, ParentOrder] = {}
        # (symbol, direction) -> its working parents in creation order: an arriving order finds the
        # opposing interest it may cross without scanning every parent (or pricing a midpoint).
        self._by_side: dict[tuple[str, int], dict[str, ParentOrder]] = {}
        self._orders: dict[str, ClientOrder] = {}  # live client orders by OrderID
        self._parent_ids = itertools.count(first_parent)
        # Parents whose orders joined, left or changed since the execution engine last looked: it
        # attends to those (and to parents whose time came) instead of scanning every parent.
        self.changed: set[str] = set()

    def take_changed(self) -> set[str]:
        changed, self.changed = self.changed, set()
        return changed

    # ---- queries ------------------------------------------------------------------------------

    def parents(self) -> Iterator[ParentOrder]:
        return iter(self._parents.values())

    def parent(self, parent_id: str) -> ParentOrder | None:
        return self._parents.get(parent_id)

    def order(self, order_id: str) -> ClientOrder | None:
        return self._orders.get(order_id)

    def __len__(self) -> int:
        return len(self._orders)

    # ---- changes ------------------------------------------------------------------------------

    def add(self, order: ClientOrder, now: float) -> tuple[list[Cross], ParentOrder | None]:
        """Cross ``order`` against the book, then aggregate what is left; returns both outcomes."""
        crosses = self._net(order)
        parent = self._aggregate(order, now) if order.leaves_qty else None
        return crosses, parent

    def cancel(self, order: ClientOrder) -> ParentOrder | None:
        """Cancel the order's remainder; its parent shrinks (and is closed when nothing is left)."""
        order.canceled = True
        return self._detach(order)

    def replace(
        self, order: ClientOrder, new_qty: int, new_limit: Decimal | None, now: float
    ) -> tuple[list[Cross], ParentOrder | None]:
        """Amend quantity and/or limit.  A new limit moves the order to the matching parent.

        An amended order is crossed against opposing interest like an arriving one (only the net
        goes to market).  One that stays in its parent is crossed for at most what that parent has
        not sent to a venue: shares at a venue cannot also be crossed internally.
        """
        if new_qty <= order.cum_qty:
            raise BookError(f"new quantity {new_qty} is not above the {order.cum_qty} already filled")
        old_parent = self._parents.get(order.parent_id or "")
        if new_limit != order.limit and old_parent is not None:
            self._detach(order)
        order.qty = new_qty
        order.limit = new_limit
        parent = self._parents.get(order.parent_id or "")
        if parent is not None:
            self.changed.add(parent.parent_id)
            spare = parent.wanted_qty - parent.working_qty
            crosses = self._net(order, most=spare) if spare > 0 else []
            if not order.leaves_qty:
                self._detach(order)
            return crosses, parent
        crosses = self._net(order)
        parent = self._aggregate(order, now) if order.leaves_qty else None
        return crosses, parent

    def remove_if_done(self, order: ClientOrder) -> None:
        """Forget a finished order; close its parent when nothing is left in it."""
        if order.leaves_qty == 0:
            self._detach(order)

    # ---- internals ----------------------------------------------------------------------------

    def _net(self, order: ClientOrder, most: int | None = None) -> list[Cross]:
        """Cross ``order`` (at most ``most`` shares of it) against opposing parents' unsent shares."""
        opposing = self._by_side.get((order.symbol, -order.side.direction))
        if not opposing or not self.net:
            return []
        mid = self.mid_source(order.symbol)
        if mid is None or not order.accepts_price(mid):
            return []
        crosses: list[Cross] = []
        left = order.leaves_qty if most is None else min(most, order.leaves_qty)
        for parent in list(opposing.values()):
            if left <= 0:
                break
            capacity = parent.wanted_qty - parent.working_qty
            for resting in parent.children:
                if capacity <= 0 or left <= 0:
                    break
                if not resting.leaves_qty or not resting.accepts_price(mid):
                    continue
                qty = min(left, resting.leaves_qty, capacity)
                left -= qty
                for side in (order, resting):
                    side.cum_qty += qty
                    side.notional += qty * mid
                capacity -= qty
                crosses.append(Cross(order, resting, qty, mid))
                self.changed.add(parent.parent_id)
            for resting in [c for c in parent.children if not c.leaves_qty]:
                self._detach(resting)
        return crosses

    def _aggregate(self, order: ClientOrder, now: float) -> ParentOrder:
        parent = self._by_key.get(_key_of(order)) if self.aggregate else None
        if parent is None:
            parent = self._open_parent(f"P{next(self._parent_ids)}", order, now)
        parent.children.append(order)
        order.parent_id = parent.parent_id
        self._orders[order.order_id] = order
        self.changed.add(parent.parent_id)
        return parent

    def fold_state(self) -> BookFold:
        """The book as recovery's fold left it, for a recovery snapshot (:mod:`metaorder.snapshot`).

        The parent id counter is not in it: recovery sets it from the highest id replayed
        (:meth:`continue_parent_ids_after`), and the settings and price sources come from the
        configuration."""
        return self._parents, self._by_key, self._by_side, self._orders, self.changed

    def restore_fold_state(self, state: BookFold) -> None:
        self._parents, self._by_key, self._by_side, self._orders, self.changed = state

    def continue_parent_ids_after(self, number: int) -> None:
        """Recovery: the next parent gets a number above ``number`` (and above every restored one)."""
        self._parent_ids = itertools.count(max(number + 1, next(self._parent_ids)))

    def restore(self, order: ClientOrder, parent_id: str | None, created: float) -> None:
        """Recovery: put a journaled order back into the parent it was in, without crossing again."""
        if parent_id is None or not order.leaves_qty:
            return
        parent = self._parents.get(parent_id)
        if parent is None:
            parent = self._open_parent(parent_id, order, created)
            number = parent_id[1:]
            if number.isdigit():
                self._parent_ids = itertools.count(max(int(number) + 1, next(self._parent_ids)))
        parent.children.append(order)
        order.parent_id = parent_id
        self._orders[order.order_id] = order
        self.changed.add(parent_id)

    def _detach(self, order: ClientOrder) -> ParentOrder | None:
        self._orders.pop(order.order_id, None)
        parent = self._parents.get(order.parent_id or "")
        order.parent_id = None
        if parent is None:
            return None
        self.changed.add(parent.parent_id)
        with contextlib.suppress(ValueError):  # one scan of the children, not two
            parent.children.remove(order)
        if not parent.children or parent.done:
            self._parents.pop(parent.parent_id, None)
            key = _key_of_parent(parent.key)
            if self._by_key.get(key) is parent:
                del self._by_key[key]
            side = self._by_side.get((parent.key.symbol, parent.key.direction))
            if side is not None:
                side.pop(parent.parent_id, None)
        return parent

    def _open_parent(self, parent_id: str, order: ClientOrder, created: float) -> ParentOrder:
        """A new working parent for ``order``'s characteristics, entered in every index."""
        m = order.mandate
        key = ParentKey(order.symbol, order.side.direction, m.strategy, m.urgency, order.limit, m.params)
        parent = ParentOrder(parent_id, key, created)
        self._parents[parent_id] = parent
        if self.aggregate:
            self._by_key[_key_of(order)] = parent
        self._by_side.setdefault((key.symbol, key.direction), {})[parent_id] = parent
        return parent

    def _check(self) -> None:
        """Invariants: every live order sits in exactly one working parent with its key; no
        parent wants nothing; nothing is over-filled; working quantity never exceeds wanted."""
        seen: set[str] = set()
        for parent in self._parents.values():
            assert parent.children, f"{parent.parent_id} is empty"
            if self.aggregate:
                assert self._by_key.get(_key_of_parent(parent.key)) is parent
            else:
                assert len(parent.children) == 1, f"{parent.parent_id} aggregates with aggregation off"
            assert self._by_side[(parent.key.symbol, parent.key.direction)].get(parent.parent_id) is parent
            assert 0 <= parent.working_qty <= parent.wanted_qty, parent
            parent.children._check()  # the running sums behind wanted_qty and cum_qty
            for child in parent.children:
                assert child.parent_id == parent.parent_id
                assert child.order_id not in seen
                seen.add(child.order_id)
                assert 0 <= child.cum_qty <= child.qty
                key = ParentKey(child.symbol, child.side.direction, child.mandate.strategy,
                                child.mandate.urgency, child.limit, child.mandate.params)
                assert key == parent.key
        assert seen == set(self._orders), "orders index out of step with the parents"
        assert sum(map(len, self._by_side.values())) == len(self._parents), "side index out of step"
