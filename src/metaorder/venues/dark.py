"""Dark midpoint pool for one instrument: hidden orders that execute only at the lit midpoint.

Why it looks like this
----------------------
A dark pool shows nothing and matches at the midpoint of the consolidated lit best bid and offer
(BBO), which the caller passes in on every call that can trade (``bid``, ``ask`` in ticks).  What
makes a dark pool interesting to a router is its *fill uncertainty*: an order may fill at once,
later, partially or never.  Two sources of liquidity produce that here:

* other pool orders (ours or the simulator's): they cross whenever the midpoint is within both
  limits, in time priority;
* simulated *contra interest*: a Poisson stream (``contra_rate_per_s``) of buyers or sellers
  (50/50) with lognormal sizes (median ``contra_size_median``, log-sd ``contra_size_sigma``) that
  trade against resting pool orders at the midpoint.  With rate λ a resting buy meets a seller at
  rate λ/2: its wait is exponential with mean 2/λ and the chance of any fill within T is
  ``1 - exp(-λT/2)``; the lognormal size decides how much of it fills.

What is left of a contra after it met the resting orders *rests hidden* for an exponential
lifetime of mean ``contra_rest_s`` (0: it vanishes at once).  That is what other participants do
in a real pool, and it is why an IOC midpoint order (or a newly arriving peg) can fill at all: it
meets liquidity that arrived before it.  With contra_rest_s = τ the resting contra of each side is
the population of an M/M/∞ queue: Poisson with mean λτ/2 arrivals (fewer what our orders took).
A resting contra
* trades with pool orders of the other side that arrive, or that become able to trade (a new
  quote, shrunk leaves), in time priority with the resting pool orders, honouring their limits and
  per-fill minimums (a contra has no limit and no minimum of its own);
* never trades with another contra: contra interest models the liquidity *our* orders may meet,
  not the pool's other participants among themselves (and it keeps the M/M/∞ count above simple);
* is nobody's order: its fills carry None on its side of the ``DarkFill``, it is never reported and
  never published (the pool publishes nothing anyway);
* expires *lazily*: every entry point that can trade (``submit``, ``replace``, ``on_quote``,
  ``on_contra``) first drops the contras whose expiry is at or before its ``now`` (the pool keeps
  the latest ``now`` seen, so time never runs backwards).  That is exactly equivalent to removing
  them at their expiry: a contra can trade only inside an entry point, and leaving is reported to
  nobody, so the venue's event loop need not wake for it (``next_contra_time`` is arrivals only).

Each contra arrival consumes the random generators in the same way (side, size, lifetime when
``contra_rest_s > 0``, next arrival) no matter what rests in the pool, the lifetime being drawn even
when the contra is matched in full at once: two runs with the same seed see the same contra stream
even when our orders differ, so strategy comparisons use common random numbers.  Lifetimes come
from ``rest_rng`` when one is given (the wiring gives one), so the arrivals, sides and sizes are
also the same whatever ``contra_rest_s`` is; with ``contra_rest_s = 0`` nothing is drawn for them
and the pool behaves exactly as it did before contra could rest.

Exact midpoint: prices are integer ticks, and the midpoint of an odd spread is a half tick.
Rather than rounding (which would favour one side) or floats, the pool works in *half ticks*:
``mid_x2 = bid + ask``.  A ``DarkFill`` carries ``price_x2`` (its ``price`` property gives the exact
``Fraction`` of ticks) and **a dark order's ``Order.cost`` accumulates ``price_x2 * qty``, i.e. it
is in half ticks**: the average price in ticks is ``cost / (2 * cum_qty)`` (see ``avg_price``).
A limit ``L`` (ticks) accepts the midpoint iff ``mid_x2 <= 2 * L`` for a buy, ``>= 2 * L`` for a sell.

No trading happens unless the lit quote is two-sided and neither locked nor crossed
(``bid < ask``): a locked or crossed lit market has no meaningful midpoint.

Order semantics
---------------
* Limit orders are midpoint pegs capped by their limit; market orders are unconstrained pegs.
  Pegged orders (``OrdType.PEGGED``, FIX 40=P with 18=M) are exactly that, said explicitly: a
  midpoint peg whose ``price`` is its cap, or None for no cap.  They rest hidden like every pool
  order (nothing here is ever displayed), so a DAY peg is the "conditional-like" resting interest
  real pools offer, and an IOC peg crosses the resting pool orders at once and cancels the rest.
* MinQty is a *per-fill* minimum here (the usual dark-pool reading, unlike the lit book where it
  governs the arrival execution): every fill of an order is at least ``min(min_qty, leaves)``.
  Orders whose minimum cannot be met are skipped, not cancelled, and keep their priority.
* IOC: the remainder after the immediate crossing is cancelled; FOK: fills completely at once or
  is cancelled with nothing changed.  Without a usable quote, IOC/FOK orders are cancelled, DAY/GTC
  orders rest.
* Replace follows the lit rules: reducing the size at the same limit keeps priority; a new limit or
  a larger size goes to the back; ``new_qty <= cum_qty`` finishes the order.  A peg's cap can be set
  or changed by a replace (a limit's price is its cap too); a market order has no limit to change.
* Self-trade is not prevented (as in the lit book).
* The pool is always *settled* at the last quote it saw: every entry point that receives a quote
  first crosses whatever resting orders the quote made marketable against each other.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from metaorder.venues.matching import BookError
from metaorder.venues.model import Order, OrdType, Side, TimeInForce

__all__ = ["DarkFill", "DarkPool", "avg_price", "mid_x2"]

_BUY = Side.BUY
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK


@dataclass(slots=True)
class _Contra:
    """Simulated contra interest resting hidden in the pool (nobody's order: never reported)."""

    side: Side
    qty: int  # what is left of it
    seq: int  # time priority, shared with the pool orders' seq
    expires: float  # it is gone at this time (alive while now < expires)


Party = Order | _Contra
Plan = list[tuple[Party, Party, int]]  # (maker, taker, qty): earlier and later, never two contras


@dataclass(frozen=True, slots=True)
class DarkFill:
    """One midpoint execution.

    ``maker`` is the side that was resting first and ``taker`` the later one; each is a pool order,
    or None for simulated contra interest (there is no order for it; never both None).  A contra
    arriving meets resting orders as the taker (maker = the order, taker = None); a pool order
    that meets a contra resting before it is the taker (maker = None), and pays the taker fee.
    """

    maker: Order | None
    taker: Order | None
    price_x2: int  # bid + ask of the lit quote: the price is price_x2 / 2 ticks, exactly
    qty: int

    @property
    def price(self) -> Fraction:
        """The execution price in ticks (a half tick when the lit spread was odd)."""
        return Fraction(self.price_x2, 2)


def mid_x2(bid: int | None, ask: int | None) -> int | None:
    """Twice the lit midpoint in ticks, or None when the quote is one-sided, locked or crossed."""
    if bid is None or ask is None or bid >= ask:
        return None
    return bid + ask


def avg_price(order: Order) -> Fraction | None:
    """Average execution price in ticks of a dark-pool order (its ``cost`` is in half ticks)."""
    return Fraction(order.cost, 2 * order.cum_qty) if order.cum_qty else None


def _seq(party: Party) -> int:
    return party.seq


def _leaves(party: Party) -> int:
    return party.qty - party.cum_qty if isinstance(party, Order) else party.qty


def _accepts(order: Order, m2: int) -> bool:
    """Does the order's limit (if any) accept a midpoint of m2 / 2 ticks?"""
    price = order.price
    if price is None:
        return True
    return m2 <= 2 * price if order.side is _BUY else m2 >= 2 * price


class DarkPool:
    """Hidden midpoint-crossing pool with simulated contra interest; see the module docstring.

    Orders passed in are mutated in place (``seq``, ``cum_qty``, ``cost`` in half ticks,
    ``cancelled``; ``qty``/``price`` on replace).  ``rng`` drives only the contra stream;
    ``rest_rng`` (default: ``rng``) draws the contras' lifetimes.  ``start`` is the simulated time
    from which the first contra arrival is drawn.  Every ``now`` argument advances the pool's clock
    (never backwards), at which resting contra expires; ``on_contra``'s also schedules the next
    arrival.
    """

    def __init__(
        self,
        symbol: str,
        rng: random.Random,
        contra_rate_per_s: float,
        contra_size_median: int,
        contra_size_sigma: float,
        start: float = 0.0,
        contra_rest_s: float = 0.0,
        rest_rng: random.Random | None = None,
    ) -> None:
        if contra_rate_per_s < 0 or contra_size_median < 1 or contra_size_sigma < 0 or contra_rest_s < 0:
            raise ValueError("contra rate, sigma and rest must be >= 0 and the median size >= 1")
        self.symbol = symbol
        self._rng = rng
        self._rate = contra_rate_per_s
        self._mu = math.log(contra_size_median)
        self._sigma = contra_size_sigma
        self._buys: dict[str, Order] = {}  # insertion order == time priority
        self._sells: dict[str, Order] = {}
        self._seq = 0
        self._m2: int | None = None  # midpoint (x2) of the last quote seen; the pool is settled at it
        self._next_contra = start + rng.expovariate(contra_rate_per_s) if contra_rate_per_s > 0 else None
        self._rest_s = contra_rest_s
        self._rest_rng = rest_rng or rng
        self._contra_buys: dict[int, _Contra] = {}  # by seq; insertion order == time priority
        self._contra_sells: dict[int, _Contra] = {}
        self._expiries: list[tuple[float, int]] = []  # heap of (expires, seq); stale entries skipped
        self._now = start  # latest time seen: resting contra is alive while _now < expires
        # Ledger checked by _check(): every share entered is resting, filled or cancelled.
        self._added = 0
        self._crossed = 0  # shares traded between two pool orders (counted in both cum_qty)
        self._contra_filled = 0  # shares traded against contra interest
        self._cancelled = 0
        # Contra ledger: every contra share arrived is filled, resting, expired or vanished.
        self._contra_arrived = 0
        self._contra_gone = 0  # left unmatched: at once (no rest) or at its expiry

    # ------------------------------------------------------------------ order entry

    def submit(self, order: Order, bid: int | None, ask: int | None, now: float) -> list[DarkFill]:
        """Enter an order: it crosses resting contra orders at the midpoint if allowed, else rests (hidden).

        The caller learns the outcome from the fills and the order itself: ``order.cancelled``
        (IOC/FOK remainder), ``order.done``, or ``get(order_id)`` for a resting order.
        """
        oid = order.order_id
        if oid in self._buys or oid in self._sells:
            raise BookError(f"duplicate order id {oid!r}")
        if order.qty <= 0 or order.cum_qty or order.cancelled:
            raise BookError(f"order {oid!r} is not a fresh order with a positive quantity")
        if not 0 <= order.min_qty <= order.qty:
            raise BookError(f"order {oid!r}: min_qty {order.min_qty} outside 0..{order.qty}")
        if order.ord_type is OrdType.LIMIT and order.price is None:
            raise BookError(f"limit order {oid!r} without a price")
        self._advance(now)
        fills = self._settle(bid, ask)
        self._seq += 1
        order.seq = self._seq
        self._added += order.qty
        fills += self._enter(order, order.tif is _IOC or order.tif is _FOK, order.tif is _FOK)
        return fills

    def _enter(self, order: Order, no_rest: bool, all_or_none: bool) -> list[DarkFill]:
        """Cross ``order`` at the current midpoint, then rest it or cancel the remainder."""
        m2 = self._m2
        fills: list[DarkFill] = []
        if m2 is not None:
            plan = self._plan(m2, order)
            if all_or_none and sum(x for mk, tk, x in plan if order is mk or order is tk) < order.qty:
                plan = []
            fills = self._apply(plan, m2)
        leaves = order.qty - order.cum_qty
        if not leaves:
            return fills
        if no_rest:
            order.cancelled = True
            self._cancelled += leaves
            return fills
        (self._buys if order.side is _BUY else self._sells)[order.order_id] = order
        return fills

    def cancel(self, order_id: str) -> Order | None:
        """Remove a resting order; None if unknown or already done."""
        order = self._buys.pop(order_id, None) or self._sells.pop(order_id, None)
        if order is None:
            return None
        self._cancelled += order.qty - order.cum_qty
        order.cancelled = True
        return order

    def replace(
        self, order_id: str, new_qty: int, new_price: int | None, bid: int | None, ask: int | None, now: float
    ) -> list[DarkFill]:
        """Cancel/replace a resting order (lit rules for priority); may trade at the current midpoint.

        ``new_price`` None keeps the limit or cap (a market peg stays a market peg, an uncapped peg
        stays uncapped); a pegged order may be given a cap.  ``new_qty <= cum_qty``
        finishes the order (remainder cancelled, ``qty`` set to ``cum_qty``).
        """
        order = self._buys.get(order_id) or self._sells.get(order_id)
        if order is None:
            raise BookError(f"replace of unknown or finished order {order_id!r}")
        self._advance(now)
        if new_qty < 0:
            raise BookError(f"replace of {order_id!r} to a negative quantity {new_qty}")
        if new_price is not None and order.ord_type is OrdType.MARKET:
            raise BookError(f"replace of {order_id!r}: a market (midpoint) peg has no limit to change")
        if new_qty <= order.cum_qty:
            self.cancel(order_id)
            order.qty = order.cum_qty
            return self._settle(bid, ask)
        price = order.price if new_price is None else new_price
        book = self._buys if order.side is _BUY else self._sells
        if price == order.price and new_qty <= order.qty:
            self._added -= order.qty - new_qty
            order.qty = new_qty
            # Smaller leaves can make a pair compatible with the other side's minimum: settle again.
            return self._settle(bid, ask)
        del book[order_id]
        self._added += new_qty - order.qty
        order.qty = new_qty
        order.price = price
        fills = self._settle(bid, ask)
        self._seq += 1
        order.seq = self._seq
        fills += self._enter(order, False, False)
        return fills

    # ------------------------------------------------------------------ market events

    def on_quote(self, bid: int | None, ask: int | None, now: float) -> list[DarkFill]:
        """A new lit BBO: resting orders (and contra) that became able to trade at the new mid cross."""
        self._advance(now)
        return self._settle(bid, ask)

    def quiet_at(self, now: float, quotes: Callable[[str], tuple[int | None, int | None]], symbol: str) -> bool:
        """True when nothing can happen in the pool at ``now``: no contra arrives by then, and
        :meth:`on_quote` with the current lit quote (``quotes(symbol)``, asked only if needed) could
        not trade: nothing of ours rests, or the midpoint is the one the pool is settled at.  The
        pool is settled after every entry point (no pair of its parties can trade at ``_m2``), and
        what happens between entry points (contra expiring) only removes parties, which cannot make
        a pair able to trade."""
        due = self._next_contra
        if due is not None and due <= now:
            return False
        if not (self._buys or self._sells):
            return True
        bid, ask = quotes(symbol)
        return mid_x2(bid, ask) == self._m2

    def next_contra_time(self) -> float | None:
        """When simulated contra interest next arrives (None if the rate is 0).

        Arrivals only: resting contra expires lazily (module docstring), no wake-up is needed for it.
        """
        return self._next_contra

    def on_contra(self, now: float, bid: int | None, ask: int | None) -> list[DarkFill]:
        """Contra interest arrives (call at ``next_contra_time()``): it fills resting orders at the mid.

        The contra is a buyer or a seller with equal probability and a lognormal size; it trades
        with resting orders of the other side whose limit accepts the midpoint, in time priority,
        skipping orders whose per-fill minimum it cannot meet; what is left of it rests hidden until
        its expiry (``contra_rest_s`` > 0) or vanishes.
        """
        rng = self._rng
        contra_side = _BUY if rng.random() < 0.5 else Side.SELL
        size = max(1, round(rng.lognormvariate(self._mu, self._sigma)))
        # Drawn always (even if matched in full at once): the stream must not depend on what rests.
        life = self._rest_rng.expovariate(1.0 / self._rest_s) if self._rest_s > 0 else 0.0
        self._next_contra = now + rng.expovariate(self._rate) if self._rate > 0 else None
        self._advance(now)
        self._contra_arrived += size
        fills = self._settle(bid, ask)
        m2 = self._m2
        if m2 is None:
            self._rest_contra(contra_side, size, now + life)
            return fills
        plan: Plan = []
        rem = size
        contra = _Contra(contra_side, size, 0, now + life)  # its seq is given if it comes to rest
        for order in (self._sells if contra_side is _BUY else self._buys).values():
            if not rem:
                break
            if not _accepts(order, m2):
                continue
            leaves = order.qty - order.cum_qty
            x = min(rem, leaves)
            if x < min(order.min_qty, leaves):
                continue
            plan.append((order, contra, x))
            rem -= x
        fills += self._apply(plan, m2)
        self._rest_contra(contra_side, contra.qty, now + life)
        fills += self._settle(bid, ask)  # partial contra fills shrink leaves: minimums may now be met
        return fills

    def _rest_contra(self, side: Side, qty: int, expires: float) -> None:
        """What is left of an arriving contra rests until ``expires``, or vanishes (no rest, or late)."""
        if not qty:
            return
        if expires <= self._now:
            self._contra_gone += qty
            return
        self._seq += 1
        (self._contra_buys if side is _BUY else self._contra_sells)[self._seq] = _Contra(side, qty, self._seq, expires)
        heapq.heappush(self._expiries, (expires, self._seq))

    def _advance(self, now: float) -> None:
        """Move the pool's clock to ``now`` (never back) and drop the contra that expired by then."""
        if now > self._now:
            self._now = now
        heap = self._expiries
        while heap and heap[0][0] <= self._now:
            _, seq = heapq.heappop(heap)
            gone = self._contra_buys.pop(seq, None) or self._contra_sells.pop(seq, None)
            if gone is not None:  # else it was filled in full earlier
                self._contra_gone += gone.qty

    # ------------------------------------------------------------------ queries

    def get(self, order_id: str) -> Order | None:
        return self._buys.get(order_id) or self._sells.get(order_id)

    def resting(self) -> list[Order]:
        """Resting orders in time priority (both sides)."""
        return sorted([*self._buys.values(), *self._sells.values()], key=lambda o: o.seq)

    def __len__(self) -> int:
        return len(self._buys) + len(self._sells)

    def resting_contra(self) -> list[tuple[Side, int, float]]:
        """Contra interest resting hidden now, in time priority: (side, shares, expiry); for tests and the lab.

        Only what is still alive at the latest ``now`` seen (expired contra is dropped at each entry).
        """
        rest = sorted([*self._contra_buys.values(), *self._contra_sells.values()], key=lambda c: c.seq)
        return [(c.side, c.qty, c.expires) for c in rest]

    # ------------------------------------------------------------------ crossing

    def _settle(self, bid: int | None, ask: int | None) -> list[DarkFill]:
        """Adopt the quote and cross resting orders that it makes marketable against each other."""
        m2 = self._m2 = mid_x2(bid, ask)
        if m2 is None or not (self._buys or self._sells):
            return []
        if not (self._buys or self._contra_buys) or not (self._sells or self._contra_sells):
            return []
        return self._apply(self._plan(m2, None), m2)

    def _plan(self, m2: int, extra: Order | None) -> Plan:
        """The pool's fills at mid m2, with ``extra`` (a newly entered order) included; no effects.

        Each side is its resting orders whose limit accepts m2 and its resting contra, merged in
        time priority.  Buys are taken in that order, each against sells in that order (two contras
        never trade), and passes repeat until one makes no fill: a fill shrinks leaves and with them
        per-fill minimums, which can make a pair skipped earlier compatible.  Each fill reduces total
        leaves, so this ends.  A contra has no limit and no minimum (``min_qty`` 0 below).
        """
        buys: list[Party] = [o for o in self._buys.values() if _accepts(o, m2)]
        sells: list[Party] = [o for o in self._sells.values() if _accepts(o, m2)]
        if self._contra_buys:
            buys = list(heapq.merge(buys, self._contra_buys.values(), key=_seq))
        if self._contra_sells:
            sells = list(heapq.merge(sells, self._contra_sells.values(), key=_seq))
        if extra is not None and _accepts(extra, m2):
            (buys if extra.side is _BUY else sells).append(extra)  # latest seq: last in priority
        if not buys or not sells:
            return []
        leaves = {id(p): _leaves(p) for p in (*buys, *sells)}
        plan: Plan = []
        progress = True
        while progress:
            progress = False
            for b in buys:
                lb = leaves[id(b)]
                b_min = b.min_qty if isinstance(b, Order) else 0
                for s in sells:
                    if not lb:
                        break
                    ls = leaves[id(s)]
                    if not ls or (isinstance(b, _Contra) and isinstance(s, _Contra)):
                        continue
                    s_min = s.min_qty if isinstance(s, Order) else 0
                    x = min(lb, ls)
                    if x < min(b_min, lb) or x < min(s_min, ls):
                        continue
                    plan.append((b, s, x) if b.seq < s.seq else (s, b, x))
                    lb -= x
                    leaves[id(s)] = ls - x
                    progress = True
                leaves[id(b)] = lb
        return plan

    def _apply(self, plan: Plan, m2: int) -> list[DarkFill]:
        """Execute a plan: orders gain ``cum_qty``/``cost``, contra loses ``qty``; the done leave."""
        fills: list[DarkFill] = []
        for maker, taker, x in plan:
            parties: list[Order | None] = []
            for p in (maker, taker):
                if isinstance(p, Order):
                    p.cum_qty += x
                    p.cost += m2 * x
                    if p.cum_qty >= p.qty:
                        (self._buys if p.side is _BUY else self._sells).pop(p.order_id, None)
                    parties.append(p)
                else:
                    p.qty -= x
                    if not p.qty:
                        (self._contra_buys if p.side is _BUY else self._contra_sells).pop(p.seq, None)
                    parties.append(None)
            if isinstance(maker, Order) and isinstance(taker, Order):
                self._crossed += x
            else:
                self._contra_filled += x
            fills.append(DarkFill(parties[0], parties[1], m2, x))
        return fills

    # ------------------------------------------------------------------ invariants

    def _check(self) -> None:
        """Assert the pool's invariants; for tests."""
        leaves = 0
        for side, book in ((_BUY, self._buys), (Side.SELL, self._sells)):
            last = 0
            for oid, o in book.items():
                assert o.order_id == oid and o.side is side, "order filed under the wrong key or side"
                assert not o.done and 0 <= o.cum_qty < o.qty, "done order resting"
                assert o.tif is not _IOC and o.tif is not _FOK, "IOC/FOK order resting"
                assert o.seq > last, "time priority broken"
                last = o.seq
                leaves += o.qty - o.cum_qty
        assert not self._buys.keys() & self._sells.keys(), "order id on both sides"
        contra = 0
        for side, cbook in ((_BUY, self._contra_buys), (Side.SELL, self._contra_sells)):
            last = 0
            for seq, c in cbook.items():
                assert c.seq == seq and c.side is side, "contra filed under the wrong key or side"
                assert c.qty > 0 and c.expires > self._now, "filled or expired contra resting"
                assert c.seq > last, "contra time priority broken"
                last = c.seq
                contra += c.qty
        assert not self._contra_buys.keys() & self._contra_sells.keys(), "contra on both sides"
        if self._m2 is not None:
            assert not self._plan(self._m2, None), "resting orders could cross at the last quote"
        assert self._added == leaves + 2 * self._crossed + self._contra_filled + self._cancelled, "quantity lost"
        assert self._contra_arrived == contra + self._contra_filled + self._contra_gone, "contra quantity lost"
