"""Sequential routing (cost minimisation): one venue at a time, cheapest expected cost per share first.

Why this logic exists
---------------------
The best-price router sends everything at once to the venues showing the best prices, so it pays the
taker fee on every share and never tries the dark pools.  Sequential routing asks the cheapest venue
first — all-in, fees and rebates and the learned adverse selection included — waits a little for it,
and only then moves on: it trades speed for the lowest cost per share, and in particular the lowest
fees (a rebate or a dark pool's midpoint beats paying to take).

Slots
-----
Every usable venue (configured, OPEN, not excluded, not tried yet in this placement) is one *slot*,
an order shaped by the venue and the intent's style:

* dark pool: a midpoint peg (capped at the intent's limit) — DAY with a timeout of
  ``dark_timeout_s`` for a PASSIVE intent (``OrderKind.MIDPOINT``), IOC for an AGGRESSIVE one
  (``OrderKind.MIDPOINT_IOC``: it meets only what already rests in the pool, its own estimates).  A pool that takes
  no pegs gets a limit order at the limit (the pools read it as a capped peg), none without a limit;
* lit venue, PASSIVE intent: a DAY order at the consolidated near touch (or at the limit when the
  touch is beyond it), timeout ``passive_timeout_s``; never one that would lock or cross the far touch;
* lit venue, AGGRESSIVE intent: an IOC for that venue's displayed depth within the limit.

Ranking: expected cost per share relative to the consolidated mid, lower is better, ties by name::

    price component  (lit take: d*(average price taken - mid); lit post: d*(near - mid), negative:
                      the half spread captured; dark: 0, it fills at the mid)
  + estimates.cost_per_share(venue, symbol, kind)   (fees or rebates, adverse selection: what a
                                                     share costs beyond its price, so the half
                                                     spread is counted once, in the price component)
  + (1 - fill_probability) * miss_penalty_spreads * half spread

The last term prices a miss: an order that does not fill leaves its shares to be taken later, which
costs about the half spread (taking at the far touch instead of the mid) per share — so a rarely
filling pool does not win on its zero price component alone.  ``miss_penalty_spreads`` scales it.

The walk
--------
The cheapest slot gets the most that venue takes of the room (its size and notional rules, whole
lots, the displayed depth for an IOC; the intent's odd remainder only to a venue taking odd lots).
Then: an IOC's unfilled remainder or a reject moves on to the next slot at once; a resting order
that times out (``wake_at``) or fills partly is canceled, and once the venue confirms the cancel the
remainder goes to the next slot.  A venue is never tried twice in one placement (a partial fill's
remainder goes elsewhere).  Slots are re-ranked on the market of the moment at each step.  When no
slot is left the placement stops: the remainder is the strategy's again (``unplaced``).  While a
child is out and slots remain, the room is :attr:`held` (the strategy must not send it again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metaorder.execution.estimates import OrderKind, VenueEstimates
from metaorder.execution.placement import ChildResult, LedgerPlacement
from metaorder.execution.router import far_side, within_limit
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.types import (
    Intent,
    MarketView,
    Style,
    VenueBook,
    VenueInfo,
    VenueKind,
    VenueOrder,
    VenueStatus,
)

#: expected costs are rounded to this for the audit (model estimates: more digits say nothing)
COST_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class SequentialSettings:
    """``[routing.sequential]``: the sequential logic's tunables (module docstring).

    Timeouts are seconds of virtual or wall time and must stay well below the engine's
    ``passive_max_age_s`` (20 s), which would otherwise pull the resting child itself and end the
    walk."""

    dark_timeout_s: float = 3.0  # a resting dark peg unfilled this long is canceled: next venue
    passive_timeout_s: float = 5.0  # a resting lit order unfilled this long is canceled: next venue
    miss_penalty_spreads: float = 1.0  # an unfilled share costs this many half spreads (taken later)

    def __post_init__(self) -> None:
        if not self.dark_timeout_s > 0:
            raise ValueError(f"sequential dark_timeout_s must be > 0 seconds, not {self.dark_timeout_s}")
        if not self.passive_timeout_s > 0:
            raise ValueError(f"sequential passive_timeout_s must be > 0 seconds, not {self.passive_timeout_s}")
        if not self.miss_penalty_spreads >= 0:
            raise ValueError(f"sequential miss_penalty_spreads must be >= 0, not {self.miss_penalty_spreads}")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> SequentialSettings:
        """Settings from configuration, refusing unknown names and bad values (ValueError)."""
        return settings_from_mapping(cls, settings, "sequential")


# ------------------------------------------------------------------------ shared with seek.py


def quote(market: MarketView, symbol: str) -> tuple[Decimal | None, Decimal]:
    """The consolidated mid (None: no two-sided uncrossed quote) and the half spread (0 without one)."""
    mid = market.mid(symbol)
    bid, ask = market.best_bid(symbol), market.best_ask(symbol)
    if mid is None or bid is None or ask is None or ask <= bid:
        return mid, Decimal(0)
    return mid, (ask - bid) / 2


def usable(info: VenueInfo, market: MarketView, exclude: frozenset[str]) -> bool:
    """A venue a logic may send to now: not excluded, OPEN."""
    return info.name not in exclude and market.status(info.name) is VenueStatus.OPEN


def dark_shape(info: VenueInfo, limit: Decimal | None) -> tuple[bool, Decimal | None] | None:
    """How a dark pool is sent a midpoint order: (peg, price).  A peg capped at the limit where the
    pool takes pegs; else a limit order at the limit (the pools read it as a capped peg); None when
    neither can be sent (no pegs and no limit: a market order would be an uncapped peg we did not
    mean to give a pool that may not read it so)."""
    if info.midpoint:
        return True, limit
    if limit is not None and "limit" in info.order_types:
        return False, limit
    return None


def size_for(info: VenueInfo, room: int, cap: int, price: Decimal | None, lot: int) -> int:
    """The most of ``room`` one order to ``info`` may carry: at most ``cap`` and the venue's size and
    notional limits, whole lots — plus the odd remainder (``room % lot``) when the venue takes odd
    lots and the whole of ``room`` fits.  0 when that is below the venue's minimum size."""
    most = min(room, cap, info.max_qty_at(price, lot))
    qty = room if info.odd_lots and most >= room else most - most % lot
    return qty if qty >= max(info.min_order_qty, 1) else 0


def as_cost(x: Decimal) -> Decimal:
    return x.quantize(COST_QUANTUM)


def prob(p: float) -> Decimal:
    """A model probability as a Decimal weight, clamped to [0, 1]."""
    return Decimal(repr(min(max(float(p), 0.0), 1.0)))


# ------------------------------------------------------------------------------------ the slots


@dataclass(frozen=True, slots=True)
class Slot:
    """One venue's candidate order and its expected cost per share relative to the mid."""

    rank_cost: Decimal  # vs the mid, per share, positive is bad (the ranking key)
    venue: str
    kind: OrderKind
    order: VenueOrder  # sized for the room when the slot was built
    timeout: float | None  # seconds before a resting order is pulled (None: an IOC)


def build_slots(intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot: int, room: int,
                exclude: frozenset[str], estimates: VenueEstimates, settings: SequentialSettings) -> list[Slot]:
    """Every usable venue's order for ``room`` shares, cheapest expected cost first (module docstring)."""
    if room <= 0:
        return []
    d, symbol = intent.direction, intent.symbol
    mid, half = quote(market, symbol)
    penalty = Decimal(repr(settings.miss_penalty_spreads)) * half
    aggressive = intent.style is Style.AGGRESSIVE
    books = {b.venue: b for b in market.books(symbol) if b.symbol == symbol}
    bid, ask = market.best_bid(symbol), market.best_ask(symbol)  # consolidated: never lock or cross it
    near, far = (bid, ask) if d > 0 else (ask, bid)
    slots: list[Slot] = []
    for name in sorted(venues):
        info = venues[name]
        if not usable(info, market, exclude):
            continue
        slot: Slot | None
        if info.kind is VenueKind.DARK:
            slot = _dark_slot(intent, info, lot, room, mid, penalty, aggressive, estimates, settings)
        elif name not in books:  # a lit venue without an open, fresh book: nothing to price an order by
            slot = None
        elif aggressive:
            slot = _take_slot(intent, info, books[name], lot, room, mid, penalty, estimates)
        else:
            slot = _post_slot(intent, info, lot, room, mid, near, far, penalty, estimates, settings)
        if slot is not None:
            slots.append(slot)
    slots.sort(key=lambda s: (s.rank_cost, s.venue))
    return slots


def _dark_slot(intent: Intent, info: VenueInfo, lot: int, room: int, mid: Decimal | None, penalty: Decimal,
               aggressive: bool, estimates: VenueEstimates, settings: SequentialSettings) -> Slot | None:
    shape = dark_shape(info, intent.limit)
    if shape is None or (aggressive and not info.ioc):
        return None
    peg, price = shape
    qty = size_for(info, room, room, price, lot)
    if qty <= 0 or info.refuses(qty, price, lot, ioc=aggressive, peg=peg) is not None:
        return None
    kind = OrderKind.of(info, aggressive, peg)  # a resting and an IOC peg fill at very different rates
    cost = estimates.cost_per_share(info.name, intent.symbol, kind)
    miss = (1 - prob(estimates.fill_probability(info.name, intent.symbol, kind))) * penalty
    rank = cost + miss
    expected = (mid if mid is not None else (price if price is not None else Decimal(0))) + intent.direction * cost
    how = "midpoint peg" if peg else "limit at the limit (a capped peg)"
    order = VenueOrder(info.name, intent.symbol, intent.direction, qty, price, ioc=aggressive, peg=peg,
                       expected_cost=as_cost(expected), reason=f"sequential: {info.name} {how}")
    return Slot(rank, info.name, kind, order, None if aggressive else settings.dark_timeout_s)


def _take_slot(intent: Intent, info: VenueInfo, book: VenueBook, lot: int, room: int, mid: Decimal | None,
               penalty: Decimal, estimates: VenueEstimates) -> Slot | None:
    if not info.ioc or "limit" not in info.order_types or mid is None:
        return None
    d = intent.direction
    levels = [lv for lv in far_side(book, d) if lv.size > 0 and within_limit(lv.price, intent.limit, d)]
    depth = sum(lv.size for lv in levels)
    if depth <= 0:
        return None
    worst = levels[-1].price
    qty = size_for(info, room, depth, worst, lot)
    if qty <= 0:
        return None
    taken, notional, price = 0, Decimal(0), levels[0].price
    for lv in levels:  # the levels this qty reaches: the IOC's price and the average price taken
        q = min(lv.size, qty - taken)
        taken += q
        notional += q * lv.price
        price = lv.price
        if taken >= qty:
            break
    if info.refuses(qty, price, lot, ioc=True) is not None:
        return None
    kind = OrderKind.of(info, True, False)
    cost = estimates.cost_per_share(info.name, intent.symbol, kind)
    miss = (1 - prob(estimates.fill_probability(info.name, intent.symbol, kind))) * penalty
    rank = d * (notional / qty - mid) + cost + miss
    order = VenueOrder(info.name, intent.symbol, d, qty, price, ioc=True, expected_cost=as_cost(price + d * cost),
                       reason=f"sequential: {info.name} IOC for its displayed depth")
    return Slot(rank, info.name, kind, order, None)


def _post_slot(intent: Intent, info: VenueInfo, lot: int, room: int, mid: Decimal | None, near: Decimal | None,
               far: Decimal | None, penalty: Decimal, estimates: VenueEstimates,
               settings: SequentialSettings) -> Slot | None:
    d, limit = intent.direction, intent.limit
    price = near if near is not None and within_limit(near, limit, d) else limit
    if price is None or (far is not None and d * (price - far) >= 0) or "limit" not in info.order_types:
        return None
    qty = size_for(info, room, room, price, lot)
    if qty <= 0 or info.refuses(qty, price, lot) is not None:
        return None
    kind = OrderKind.of(info, False, False)
    cost = estimates.cost_per_share(info.name, intent.symbol, kind)
    miss = (1 - prob(estimates.fill_probability(info.name, intent.symbol, kind))) * penalty
    rank = (d * (price - mid) if mid is not None else Decimal(0)) + cost + miss
    order = VenueOrder(info.name, intent.symbol, d, qty, price, ioc=False, expected_cost=as_cost(price + d * cost),
                       reason=f"sequential: {info.name} resting at {price}")
    return Slot(rank, info.name, kind, order, settings.passive_timeout_s)


# ---------------------------------------------------------------------------------- the placement


class SequentialPlacement(LedgerPlacement):
    """One venue at a time, cheapest expected cost first (module docstring)."""

    def __init__(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
                 now: float, exclude: frozenset[str] = frozenset(), *, estimates: VenueEstimates,
                 settings: SequentialSettings) -> None:
        super().__init__(intent, market, venues, lot_size, now, exclude)
        self.estimates = estimates
        self.settings = settings
        self.tried: list[str] = []  # venues sent to (or found unusable), in order: never again
        self.exhausted = False  # no slot was left at the last step: the rest is the strategy's
        self._resting: str | None = None  # the current child, when it rests (a timeout may pull it)

    # ---- hooks ---------------------------------------------------------------------------------

    def _first(self) -> list[VenueOrder]:
        return self._next(self.started, frozenset())

    def _after(self, result: ChildResult) -> list[VenueOrder]:
        if result.requested and not self.canceling(result.child_id):
            return []  # the engine's cancel: it has superseded us
        if not result.outcome.closed:
            if result.child_id == self._resting:  # a resting order filled partly: the rest goes elsewhere
                self.cancel(result.child_id)
                self.wake_at = None
            return []
        if result.child_id == self._resting:
            self._resting = None
            self.wake_at = None
        if self.open_children():
            return []
        return self._next(result.now, result.exclude)

    def _on_wakeup(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        if self._resting is not None:
            self.cancel(self._resting)  # timed out: its remainder goes to the next slot once it closes
            return []
        if not self.open_children():
            return self._next(now, exclude)
        return []

    def _held(self) -> int:
        out = self._asked or self.open_children()  # a result will come: the rest is ours to place
        return self.room if out and not self.exhausted else 0

    def on_placed(self, order: VenueOrder, child_id: str | None, qty: int) -> None:
        super().on_placed(order, child_id, qty)
        if child_id is not None and qty > 0 and not order.ioc:
            self._resting = child_id
        elif not order.ioc:  # refused by the engine: no timeout to wait for
            self.wake_at = None

    # ---- the walk ------------------------------------------------------------------------------

    def _next(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        """The next slot's order for the room, or nothing (no slot left: exhausted)."""
        room = self.room
        if room <= 0 or self.superseded:
            return []
        skip = self.exclude | exclude | frozenset(self.tried)
        slots = build_slots(self.intent, self.market, self.venues, self.lot_size, room, skip, self.estimates,
                            self.settings)
        if not slots:
            self.exhausted = True
            return []
        slot = slots[0]
        self.tried.append(slot.venue)
        if slot.timeout is not None:
            self.wake_at = now + slot.timeout
        n = len(self.tried)
        order = slot.order
        reason = (f"{order.reason}, {_ordinal(n)} venue tried, cheapest of {len(slots)} left by expected cost "
                  f"({as_cost(slot.rank_cost)} vs the mid)")
        return [VenueOrder(order.venue, order.symbol, order.direction, order.qty, order.price, order.ioc,
                           order.min_qty, order.peg, order.expected_cost, reason)]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


