"""Price-time priority limit order book for one instrument of one venue.

Why this shape
--------------
The simulated venues run this book for every lit order the simulator and our router send, so it
sits on the hot path of every back-test: it has to be exact (integer ticks and shares only) and
fast in pure Python.  The design follows from that:

* Each side is a ``_Half``: a dict ``key -> _Level`` plus a ``SortedList`` of the keys.  Keys are
  the price for asks and the *negated* price for bids, so on both sides the best level is the
  smallest key, an empty side has ``best == _EMPTY`` and "a taker with limit key ``lk`` crosses" is
  the single comparison ``opp.best <= lk``.  One code path serves both sides.
* The best key of each side is cached in ``_Half.best``: the cross test of an incoming order costs
  one attribute read instead of a ``SortedList`` lookup.  The sorted list is touched only when a
  price level appears or disappears.
* A level is a ``deque`` of orders in arrival order plus a running total of their leaves.  A
  cancel is *lazy*: the order is flagged ``cancelled`` and stays in the deque until matching walks
  over it (or the level empties, or the level is compacted when dead entries outnumber live ones),
  so a cancel is O(1) whatever the queue position.  Cancelled orders never come back, so the flag
  is an unambiguous tombstone.  A replace that loses priority moves the order eagerly
  (``deque.remove``, O(level depth)): it is rarer than a cancel and the order must not appear twice.
* Market-data increments are collected as sets of touched prices per side and resolved to current
  totals only when ``take_changed_levels`` is called.

Semantics worth knowing
-----------------------
* Matching: an incoming order trades against the opposite side at the *resting* orders' prices
  (price improvement goes to the taker), best price first, FIFO within a level.
* Market orders never rest: what cannot trade immediately is cancelled (``cancelled_qty``).
  IOC remainders likewise.  FOK trades completely or not at all; the available volume is
  checked first, so a FOK that cannot fill leaves every resting order and level untouched (it
  only receives its own arrival ``seq``).  A refused FOK is a cancel, not a reject.
* MinQty (``Order.min_qty``) is a condition on the *immediate* execution at arrival only: if the
  order crosses the book but less than ``min_qty`` is available within its limit, nothing trades
  and the whole order is cancelled (for a DAY/GTC limit too: it cannot rest, because resting it
  would leave a crossed book).  If at least ``min_qty`` is available, it trades as usual and a
  DAY/GTC remainder rests *without* any minimum: as a maker it fills against any incoming size.
  A limit order that does not cross at all rests, and its minimum is then ignored.  This is the
  common exchange reading ("MinQty applies to the first execution") without having to let
  resting orders skip over incoming ones, which would break FIFO.
* Self-trade is *not* prevented: an owner's incoming order matches its own resting orders like
  any other.  Prevention is a per-exchange policy (cancel newest / oldest / both, decrement)
  that would be an option of this class if a simulated venue needs it; without it, our own
  aggressive child orders can hit our own passive ones and that cost stays visible in the
  analysis.  Fills carry both orders, so self-trades are easy to spot (``maker.owner ==
  taker.owner``).
* DAY and GTC behave identically here: the book has no notion of a session end.
* Prices must satisfy ``abs(price) < 2**62`` (sentinels for "empty side" and market orders).
* ``reject_reason`` in ``Execution`` is always ``None`` at present: programming errors raise
  ``BookError`` and every market-driven outcome (IOC / FOK / MinQty kill) is a cancel.  The field
  is kept for venue policies (e.g. price bands) that may refuse an order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from sortedcontainers import SortedList  # type: ignore[import-untyped]

from metaorder.venues.model import Fill, Order, OrdType, Side, TimeInForce

__all__ = ["BookError", "Execution", "OrderBook"]

_EMPTY = 1 << 62  # best key of an empty side: larger than any real key
_MARKET_KEY = _EMPTY - 1  # limit key of a market order: crosses any real level, never the empty sentinel

_BUY = Side.BUY
_LIMIT = OrdType.LIMIT
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK

# Compact a level's deque when it holds more than this many tombstones and they outnumber the
# live orders: keeps memory bounded for levels that churn without ever trading through.
_COMPACT_MIN_DEAD = 32


class BookError(ValueError):
    """A programming error by the caller: duplicate order id, unknown id in replace, bad quantity."""


@dataclass(frozen=True, slots=True)
class Execution:
    """What happened to an order passed to ``submit`` or ``replace``.

    ``fills`` are in execution order; ``rested`` says the (remaining) order now rests in the book;
    ``cancelled_qty`` is the quantity cancelled by this call (IOC / market remainder, a FOK or
    MinQty kill, or a replace down to or below the executed quantity).
    """

    fills: list[Fill]
    rested: bool
    cancelled_qty: int
    reject_reason: str | None


class _Level:
    """Orders resting at one price, in arrival order, with the running total of their leaves.

    ``dead`` counts tombstones (cancelled orders still in ``orders``): the number of live orders
    is ``len(orders) - dead``.
    """

    __slots__ = ("dead", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.qty = 0
        self.dead = 0


class _Half:
    """One side of the book in "key" space (key = price for asks, -price for bids): best = smallest."""

    __slots__ = ("best", "changed", "keys", "levels", "side", "sign")

    def __init__(self, side: Side) -> None:
        self.side = side
        self.sign = -1 if side is _BUY else 1
        self.levels: dict[int, _Level] = {}
        self.keys: SortedList = SortedList()
        self.best = _EMPTY
        self.changed: set[int] = set()  # prices (not keys) touched since the last take_changed_levels

    def drop_level(self, key: int) -> None:
        """Forget an emptied level (tombstones included) and refresh the cached best key."""
        del self.levels[key]
        keys = self.keys
        if key == self.best:
            keys.pop(0)
            self.best = keys[0] if keys else _EMPTY
        else:
            keys.remove(key)

    def available(self, lk: int, cap: int | None) -> int:
        """Leaves at keys <= lk, stopping early once ``cap`` is reached (for FOK / MinQty checks)."""
        total = 0
        levels = self.levels
        for key in self.keys.irange(None, lk):
            total += levels[key].qty
            if cap is not None and total >= cap:
                break
        return total

    def iter_levels(self) -> Iterator[_Level]:
        levels = self.levels
        for key in self.keys:
            yield levels[key]


class OrderBook:
    """Central limit order book with price-time priority; see the module docstring for semantics.

    Orders passed in are mutated in place (``seq``, ``cum_qty``, ``cost``, ``cancelled``; ``qty``
    and ``price`` on replace): the caller keeps the same object as its order record.
    """

    __slots__ = ("_added", "_asks", "_bids", "_cancelled", "_index", "_seq", "_traded", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids = _Half(Side.BUY)
        self._asks = _Half(Side.SELL)
        self._index: dict[str, Order] = {}
        self._seq = 0
        # Quantity ledger, checked by _check(): every share entered is resting, filled or cancelled.
        self._added = 0
        self._traded = 0  # shares traded (each counts once; both orders' cum_qty grow by it)
        self._cancelled = 0

    # ------------------------------------------------------------------ order entry

    def submit(self, order: Order) -> Execution:
        """Match ``order`` against the book, then rest, cancel or finish it according to its type/TIF."""
        oid = order.order_id
        index = self._index
        qty = order.qty
        if oid in index:
            raise BookError(f"duplicate order id {oid!r}")
        if qty <= 0 or order.cum_qty or order.cancelled:
            raise BookError(f"order {oid!r} is not a fresh order with a positive quantity")
        if order.min_qty > qty or order.min_qty < 0:
            raise BookError(f"order {oid!r}: min_qty {order.min_qty} outside 0..{qty}")
        price = order.price
        is_limit = order.ord_type is _LIMIT
        if is_limit and price is None:
            raise BookError(f"limit order {oid!r} without a price")
        seq = self._seq + 1
        self._seq = seq
        order.seq = seq
        self._added += qty
        if order.side is _BUY:
            own = self._bids
            opp = self._asks
        else:
            own = self._asks
            opp = self._bids
        if is_limit:
            assert price is not None
            lk = opp.sign * price
            tif = order.tif
            if opp.best > lk and tif is not _IOC and tif is not _FOK:
                # Fast path: a passive DAY/GTC limit order joins its level.
                key = -lk
                levels = own.levels
                level = levels.get(key)
                if level is None:
                    level = _Level(price)
                    levels[key] = level
                    own.keys.add(key)
                    if key < own.best:
                        own.best = key
                level.orders.append(order)
                level.qty += qty
                index[oid] = order
                own.changed.add(price)
                return Execution([], True, 0, None)
            need = qty if tif is _FOK else order.min_qty
            return self._execute(order, own, opp, lk, need, tif is _IOC or tif is _FOK)
        need = qty if order.tif is _FOK else order.min_qty
        return self._execute(order, own, opp, _MARKET_KEY, need, True)

    def _execute(self, order: Order, own: _Half, opp: _Half, lk: int, need: int, no_rest: bool) -> Execution:
        """Slow path shared by crossing orders, IOC/FOK/market orders and priority-losing replaces.

        ``need`` is the quantity that must be available immediately (FOK: all of it; MinQty) or
        the order is cancelled untouched; ``no_rest`` cancels any remainder instead of resting it.
        """
        fills: list[Fill]
        if opp.best <= lk:
            if need and opp.available(lk, need) < need:
                return self._kill(order, [])
            fills = self._take(order, opp, lk)
        else:
            fills = []  # nothing to trade: a FOK / IOC / market order is then cancelled below
        leaves = order.qty - order.cum_qty
        if not leaves:
            return Execution(fills, False, 0, None)
        if no_rest:
            return self._kill(order, fills)
        price = order.price
        assert price is not None
        key = -lk
        levels = own.levels
        level = levels.get(key)
        if level is None:
            level = _Level(price)
            levels[key] = level
            own.keys.add(key)
            if key < own.best:
                own.best = key
        level.orders.append(order)
        level.qty += leaves
        self._index[order.order_id] = order
        own.changed.add(price)
        return Execution(fills, True, 0, None)

    def _kill(self, order: Order, fills: list[Fill]) -> Execution:
        leaves = order.qty - order.cum_qty
        order.cancelled = True
        self._cancelled += leaves
        return Execution(fills, False, leaves, None)

    def _take(self, taker: Order, opp: _Half, lk: int) -> list[Fill]:
        """Trade ``taker`` against ``opp`` up to limit key ``lk``: best level first, FIFO within it."""
        fills: list[Fill] = []
        append = fills.append
        levels = opp.levels
        changed = opp.changed
        index = self._index
        rem = taker.qty - taker.cum_qty
        filled = 0
        cost = 0
        best = opp.best
        while rem and best <= lk:
            level = levels[best]
            q = level.orders
            px = level.price
            lqty = level.qty
            while rem and lqty:
                maker = q[0]
                if maker.cancelled:
                    q.popleft()
                    level.dead -= 1
                    continue
                avail = maker.qty - maker.cum_qty
                if avail <= rem:
                    x = avail
                    q.popleft()
                    del index[maker.order_id]
                else:
                    x = rem
                maker.cum_qty += x
                maker.cost += px * x
                rem -= x
                lqty -= x
                filled += x
                cost += px * x
                append(Fill(maker, taker, px, x))
            level.qty = lqty
            changed.add(px)
            if lqty:
                break
            opp.drop_level(best)
            best = opp.best
        taker.cum_qty += filled
        taker.cost += cost
        self._traded += filled
        return fills

    # ------------------------------------------------------------------ cancel / replace

    def cancel(self, order_id: str) -> Order | None:
        """Remove a resting order; ``None`` if the id is unknown or the order is already done."""
        order = self._index.pop(order_id, None)
        if order is None:
            return None
        half = self._bids if order.side is _BUY else self._asks
        price = order.price
        assert price is not None
        key = half.sign * price
        level = half.levels[key]
        leaves = order.qty - order.cum_qty
        order.cancelled = True
        self._cancelled += leaves
        half.changed.add(price)
        lqty = level.qty - leaves
        level.qty = lqty
        if not lqty:
            half.drop_level(key)
            return order
        q = level.orders
        # Cheap eager removal at either end of the queue (the usual churn); a tombstone otherwise.
        if q[-1] is order:
            q.pop()
        elif q[0] is order:
            q.popleft()
        else:
            dead = level.dead + 1
            level.dead = dead
            if dead > _COMPACT_MIN_DEAD and dead * 2 > len(q):
                level.orders = deque(o for o in q if not o.cancelled)
                level.dead = 0
        return order

    def replace(self, order_id: str, new_qty: int, new_price: int | None) -> Execution:
        """Cancel/replace a resting order to ``new_qty`` total quantity and ``new_price`` (None: keep).

        Reducing the size at the same price keeps time priority.  A new price or a larger size
        loses it: the order gets a new ``seq``, goes to the back of its (new) level, and trades
        first if the new price crosses.  ``new_qty <= cum_qty`` finishes the order: the remainder
        is cancelled and ``order.qty`` becomes ``max(new_qty, cum_qty)`` so that ``qty >= cum_qty``
        always holds.  MinQty is not re-applied (it governs the first execution only).
        """
        order = self._index.get(order_id)
        if order is None:
            raise BookError(f"replace of unknown or finished order {order_id!r}")
        if new_qty < 0:
            raise BookError(f"replace of {order_id!r} to a negative quantity {new_qty}")
        cum = order.cum_qty
        if new_qty <= cum:
            leaves = order.qty - cum
            self.cancel(order_id)
            order.qty = cum
            return Execution([], False, leaves, None)
        old_price = order.price
        assert old_price is not None
        price = old_price if new_price is None else new_price
        if order.side is _BUY:
            own = self._bids
            opp = self._asks
        else:
            own = self._asks
            opp = self._bids
        old_key = own.sign * old_price
        level = own.levels[old_key]
        if price == old_price and new_qty <= order.qty:
            delta = order.qty - new_qty
            if delta:
                order.qty = new_qty
                level.qty -= delta
                self._added -= delta
                own.changed.add(price)
            return Execution([], True, 0, None)
        # Loses priority: take it out of its level eagerly, then enter it again as a new arrival.
        level.orders.remove(order)
        level.qty -= order.qty - cum
        own.changed.add(old_price)
        if not level.qty:
            own.drop_level(old_key)
        del self._index[order_id]
        self._added += new_qty - order.qty
        order.qty = new_qty
        order.price = price
        seq = self._seq + 1
        self._seq = seq
        order.seq = seq
        return self._execute(order, own, opp, opp.sign * price, 0, False)

    # ------------------------------------------------------------------ queries

    def get(self, order_id: str) -> Order | None:
        """The resting order with this id, or None."""
        return self._index.get(order_id)

    def best_bid(self) -> tuple[int, int] | None:
        """(price, total qty) of the best bid level, or None."""
        half = self._bids
        if half.best == _EMPTY:
            return None
        level = half.levels[half.best]
        return level.price, level.qty

    def best_ask(self) -> tuple[int, int] | None:
        """(price, total qty) of the best ask level, or None."""
        half = self._asks
        if half.best == _EMPTY:
            return None
        level = half.levels[half.best]
        return level.price, level.qty

    def depth(self, levels: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """Top ``levels`` levels per side as (price, qty, order_count): bids descending, asks ascending."""
        return self._depth(self._bids, levels), self._depth(self._asks, levels)

    @staticmethod
    def _depth(half: _Half, n: int) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        if n <= 0:
            return out
        levels = half.levels
        for key in half.keys.islice(0, n):
            level = levels[key]
            out.append((level.price, level.qty, len(level.orders) - level.dead))
        return out

    def best_prices(self) -> tuple[int | None, int | None]:
        """(best bid price, best ask price), None for an empty side: the quote without its sizes."""
        bb, ba = self._bids.best, self._asks.best
        return (None if bb == _EMPTY else -bb), (None if ba == _EMPTY else ba)

    @property
    def has_changes(self) -> bool:
        """Some level was touched since the last :meth:`take_changed_levels` / :meth:`take_changed`."""
        return bool(self._bids.changed or self._asks.changed)

    def take_changed(self) -> bool:
        """Whether any level was touched since the last call, forgetting which: what market data
        needs to know to decide whether to look at the book (``bool(take_changed_levels())``
        without building the list)."""
        bids, asks = self._bids, self._asks
        if not (bids.changed or asks.changed):
            return False
        bids.changed = set()
        asks.changed = set()
        return True

    def take_changed_prices(self) -> tuple[set[int], set[int]]:
        """The (bid, ask) prices touched since the last call, forgetting them: what
        :meth:`take_changed_levels` reports, without reading the levels."""
        bids, asks = self._bids, self._asks
        touched = bids.changed, asks.changed
        bids.changed = set()
        asks.changed = set()
        return touched

    def level_counts(self) -> tuple[int, int]:
        """How many price levels each side (bids, asks) has."""
        return len(self._bids.levels), len(self._asks.levels)

    def take_changed_levels(self) -> list[tuple[Side, int, int]]:
        """Levels touched since the last call as (side, price, current total; 0 = gone).

        Each (side, price) appears once; bids first (price descending) then asks (ascending).  A
        level that changed and came back to its previous total is still reported (harmless for
        an incremental feed: it restates the level).
        """
        out: list[tuple[Side, int, int]] = []
        for half, reverse in ((self._bids, True), (self._asks, False)):
            changed = half.changed
            if not changed:
                continue
            levels = half.levels
            sign = half.sign
            side = half.side
            for price in sorted(changed, reverse=reverse):
                level = levels.get(sign * price)
                out.append((side, price, level.qty if level is not None else 0))
            half.changed = set()
        return out

    def level_qty(self, side: Side, price: int) -> int:
        """Total resting quantity at ``price`` on ``side`` (0 if no level)."""
        half = self._bids if side is _BUY else self._asks
        level = half.levels.get(half.sign * price)
        return level.qty if level is not None else 0

    def volume_at_or_better(self, side: Side, price: int) -> int:
        """Quantity a taker on ``side`` could trade right now with limit ``price``."""
        opp = self._asks if side is _BUY else self._bids
        return opp.available(opp.sign * price, None)

    @property
    def traded_volume(self) -> int:
        """Shares traded in this book since it was created."""
        return self._traded

    def __len__(self) -> int:
        return len(self._index)

    # ------------------------------------------------------------------ invariants

    def _check(self) -> None:
        """Assert every structural invariant; for tests (O(book size))."""
        seen = 0
        resting_leaves = 0
        for half in (self._bids, self._asks):
            assert list(half.keys) == sorted(half.levels), "sorted keys out of sync with levels"
            assert half.best == (half.keys[0] if half.keys else _EMPTY), "stale cached best"
            for key, level in half.levels.items():
                assert level.price == half.sign * key, "level price/key mismatch"
                live = [o for o in level.orders if not o.cancelled]
                assert live, "empty level kept"
                assert len(level.orders) - len(live) == level.dead, "tombstone count wrong"
                seqs = [o.seq for o in level.orders]
                assert all(a < b for a, b in pairwise(seqs)), "FIFO broken"
                total = 0
                for o in live:
                    assert o.side is half.side and o.price == level.price, "order in wrong level"
                    assert not o.done and 0 <= o.cum_qty < o.qty, "done order resting"
                    assert o.ord_type is _LIMIT and o.tif is not _IOC and o.tif is not _FOK
                    assert self._index.get(o.order_id) is o, "index out of sync"
                    total += o.qty - o.cum_qty
                assert total == level.qty, "level total != sum of leaves"
                seen += len(live)
                resting_leaves += total
        assert seen == len(self._index), "index holds orders not in any level"
        bb, ba = self._bids.best, self._asks.best
        if bb != _EMPTY and ba != _EMPTY:
            assert -bb < ba, "book crossed or locked at rest"
        assert self._added == resting_leaves + 2 * self._traded + self._cancelled, "quantity not conserved"
