"""Smart order routing: which venues get the child orders of one :class:`Intent`, at what price.

Routing has two layers.  A *routing pass* (:meth:`BestPriceRouter.route`) is a pure function of
(intent, market view, venue facts, ``now``): it never sends anything and keeps no state.  A
*placement* (``placement.py``) is routing with memory: the engine asks the router to
:meth:`~Router.start` one for each intent, keeps it per parent, tells it what each of its children
did and how the market moved, and sends what it asks for next — so sequential, parallel and
liquidity-seeking (dark, midpoint) logics are further placements on the same :class:`Router`
interface, and the engine does not change for them.  The best-price router's placement
(:class:`~metaorder.execution.placement.OnePassPlacement`) makes one pass and is done when its
children close: an unfilled remainder goes back to the strategy, which decides again with the
rejecting venue excluded (``exclude``) for a while.  The costs a policy ranks venues by come from
a :class:`VenueCosts`, so a venue scorecard (fill rates, mark-outs, reject history) plugs in by
supplying its own costs.

Contract of every routing pass and placement (the engine's
:class:`~metaorder.execution.control.ParentGuard` checks the parent totals independently; this is
the router's own half of the Knight Capital lesson):

* the quantities it returns add up to at most ``intent.qty`` — never more; a placement's fills,
  open children and new orders together never exceed it at any moment of its life;
* no order goes to an excluded venue, or to one whose status is not OPEN;
* no order is priced beyond ``intent.limit``;
* every order is a whole number of lots, except at most one, which carries the intent's own odd
  remainder (``intent.qty % lot_size``: a parent's last odd shares) and goes to a venue that accepts
  odd lots (``VenueInfo.odd_lots``).  With no such venue open, the odd remainder is not sent.

Money is exact: prices and fees ``Decimal``, quantities ``int``.  A venue's latency is configured
as a float of milliseconds; the cost derived from it goes through ``Decimal(str(ms))``, which is the
shortest decimal that round-trips the float, so ``0.3`` ms costs exactly 0.3 × the per-ms rate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from metaorder.execution.placement import OnePassPlacement, Placement
from metaorder.execution.types import (
    Intent,
    Level,
    MarketView,
    Style,
    VenueBook,
    VenueInfo,
    VenueKind,
    VenueOrder,
    VenueStatus,
)


class Router(Protocol):
    """Starts the placement of one intent (see the module docstring for the contract)."""

    def start(
        self,
        intent: Intent,
        market: MarketView,
        venues: Mapping[str, VenueInfo],
        lot_size: int,
        now: float,
        exclude: frozenset[str] = frozenset(),
    ) -> Placement: ...


class VenueCosts(Protocol):
    """Per-share charges of trading on a venue beyond the price itself, positive is bad.

    The one place a policy learns what a venue costs: a scorecard implements this to add what it
    has learnt (a venue that fades its quotes is dearer than its fee says).
    """

    def take(self, venue: VenueInfo) -> Decimal:
        """Cost per share of taking displayed liquidity on ``venue``."""
        ...

    def make(self, venue: VenueInfo, queue_ahead: int) -> Decimal:
        """Cost per share of resting on ``venue`` behind ``queue_ahead`` displayed shares."""
        ...


def latency_cost(latency_ms: float, cost_per_ms: Decimal) -> Decimal:
    """What a latency costs per share: the chance the quote moves before the order arrives,
    priced at ``cost_per_ms`` per share per millisecond.  Exact (see the module docstring)."""
    ms = Decimal(str(latency_ms))
    if not ms.is_finite() or ms < 0:
        raise ValueError(f"latency must be a finite, non-negative number of ms, not {latency_ms!r}")
    return ms * cost_per_ms


@dataclass(frozen=True, slots=True)
class FeeLatencyCosts:
    """The costs a venue's configuration alone tells: fees, latency, and the queue ahead.

    Defaults are orders of magnitude, not calibrations (configure them): 0.0001 per share per ms
    makes a 1 ms slower venue worth a tenth of a mil — small next to fees of 20-30 mils, but enough
    to break near-ties towards the faster venue; 1e-7 per share ahead makes 5,000 shares of queue
    worth half a mil, about the gap between two exchanges' rebates.
    """

    latency_cost_per_ms: Decimal = Decimal("0.0001")
    queue_cost_per_share: Decimal = Decimal("0.0000001")

    def take(self, venue: VenueInfo) -> Decimal:
        return venue.taker_fee + latency_cost(venue.latency_ms, self.latency_cost_per_ms)

    def make(self, venue: VenueInfo, queue_ahead: int) -> Decimal:
        return venue.maker_fee + self.queue_cost_per_share * queue_ahead


# ---------------------------------------------------------------------------------- book helpers


def open_lit_books(
    market: MarketView, venues: Mapping[str, VenueInfo], symbol: str, exclude: frozenset[str]
) -> list[tuple[VenueInfo, VenueBook]]:
    """The lit venues a lit policy may use now, by name: configured, OPEN, not excluded, with a book.

    ``market.books`` already promises open, fresh books; the status is checked again here because
    sending to a halted venue is a reject at best, and a router must not depend on a view's care.
    """
    out: dict[str, tuple[VenueInfo, VenueBook]] = {}
    for book in market.books(symbol):
        info = venues.get(book.venue)
        if (
            info is None
            or info.kind is not VenueKind.LIT
            or book.venue in exclude
            or book.symbol != symbol
            or book.venue in out
            or market.status(book.venue) is not VenueStatus.OPEN
        ):
            continue
        out[book.venue] = (info, book)
    return [out[name] for name in sorted(out)]


def far_side(book: VenueBook, direction: int) -> list[Level]:
    """The levels an order of ``direction`` takes from: asks when buying, bids when selling."""
    return book.asks if direction > 0 else book.bids


def near_side(book: VenueBook, direction: int) -> list[Level]:
    """The levels an order of ``direction`` joins when it rests: bids when buying, asks when selling."""
    return book.bids if direction > 0 else book.asks


def within_limit(price: Decimal, limit: Decimal | None, direction: int) -> bool:
    """Whether trading at ``price`` respects ``limit`` (at or below it buying, at or above selling)."""
    return limit is None or direction * (price - limit) <= 0


def odd_lot_venue(ranked: Sequence[tuple[VenueInfo, int]], odd: int) -> str | None:
    """Where an intent's odd remainder of ``odd`` shares goes: the first venue, in ``ranked`` order
    (cheapest first), that accepts odd lots and has room for all of it; None when none does.

    ``ranked`` walks the levels in cost order, pairing each level's venue with the room that venue
    has up to that level (displayed depth the whole lots did not take), so the venue chosen is the
    one whose worst level needed for the odd shares is the cheapest.  The odd remainder is never
    split: it goes out as one order, so at most one child of an intent is not a whole number of lots.
    """
    for info, room in ranked:
        if info.odd_lots and room >= odd:
            return info.name
    return None


def _check_args(intent: Intent, lot_size: int) -> None:
    if intent.direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, not {intent.direction!r}")
    if lot_size < 1:
        raise ValueError(f"lot size must be at least 1, not {lot_size!r}")


# ------------------------------------------------------------------------------ best price router


@dataclass(slots=True)
class _Taken:
    """What the aggressive walk took on one venue, level by level, in the order taken."""

    info: VenueInfo
    charges: Decimal
    levels: list[tuple[Decimal, int]] = field(default_factory=list)  # (price, shares)

    @property
    def qty(self) -> int:
        return sum(q for _, q in self.levels)

    def worst_price_for(self, qty: int) -> Decimal:
        """The price an IOC needs to get ``qty`` of what was taken: the last level it reaches."""
        covered = 0
        for price, q in self.levels:
            covered += q
            if covered >= qty:
                return price
        raise ValueError(f"{qty} is more than the {covered} shares taken")


@dataclass(frozen=True, slots=True)
class BestPriceRouter:
    """Cheapest expected execution over the open lit venues.

    AGGRESSIVE: every displayed level within the limit on the far side of every venue is ranked by
    its effective price — price + direction × (taker fee + latency cost), lower is better buying and
    higher selling — and levels are taken greedily in that order until the intent is covered (ties:
    venue name, then book order).  So an inverted venue (negative taker fee) with a worse price can
    come first, and a slow venue loses a near-tie.  One IOC per venue, priced at the worst level it
    needs there.  Displayed depth within the limit short of the intent is NOT chased: the rest is
    left unrouted and the strategy comes back with it (sweeping blind into hidden liquidity is a
    different policy).  The walk is in whole lots (each venue's take rounded down, the part-lot
    dropped: it comes back in the strategy's next intent); the intent's own odd remainder then goes,
    whole, to the cheapest venue that accepts odd lots with displayed depth left for it.

    PASSIVE: one DAY order for the whole intent at the consolidated near touch (best bid buying,
    best ask selling), or at the limit when the touch is beyond it, on the venue where resting is
    cheapest: maker fee plus a penalty for the displayed shares already queued at that price there
    (ties: venue name).  When the intent has an odd remainder and that venue does not take odd lots,
    the whole lots rest there and the odd remainder rests on the cheapest venue that does.  An
    order that would lock or cross the consolidated far touch is not sent
    (without a tick size the router cannot step back; the strategy decides).  No near touch at all
    (one-sided or empty market): post at the limit if the intent has one, otherwise send nothing —
    there is no price to join and inventing one is the strategy's call, not the router's.

    ``expected_cost`` is the per-share effective price: what a share costs buying, or nets selling,
    fees and the cost model's penalties included.  For an IOC it is the worst level it needs (exact,
    and a bound its fills can only beat).
    """

    costs: VenueCosts = field(default_factory=FeeLatencyCosts)

    def start(
        self,
        intent: Intent,
        market: MarketView,
        venues: Mapping[str, VenueInfo],
        lot_size: int,
        now: float,
        exclude: frozenset[str] = frozenset(),
    ) -> Placement:
        """One routing pass (and, with the limit out of reach, a passive one for the rest)."""
        _check_args(intent, lot_size)
        return OnePassPlacement(self, intent, market, venues, lot_size, now, exclude)

    def route(
        self,
        intent: Intent,
        market: MarketView,
        venues: Mapping[str, VenueInfo],
        lot_size: int,
        now: float,
        exclude: frozenset[str] = frozenset(),
    ) -> list[VenueOrder]:
        _check_args(intent, lot_size)
        if intent.qty <= 0:
            return []
        tif = "ioc" if intent.style is Style.AGGRESSIVE else "day"
        candidates = [(info, book) for info, book in open_lit_books(market, venues, intent.symbol, exclude)
                      if tif in info.time_in_force and "limit" in info.order_types]
        if not candidates:
            return []
        if intent.style is Style.AGGRESSIVE:
            orders = self._take(intent, candidates, lot_size)
        else:
            orders = self._post(intent, candidates, lot_size)
        if sum(o.qty for o in orders) > intent.qty:  # cannot happen; a future edit must not make it
            raise RuntimeError(f"router over-allocated {intent.parent_id}: {orders} for {intent.qty}")
        return orders

    def _take(self, intent: Intent, candidates: list[tuple[VenueInfo, VenueBook]], lot_size: int) -> list[VenueOrder]:
        d = intent.direction
        ladder: list[tuple[Decimal, str, int, Level, _Taken]] = []
        for info, book in candidates:
            taken = _Taken(info, self.costs.take(info))
            for i, level in enumerate(far_side(book, d)):
                if level.size > 0 and within_limit(level.price, intent.limit, d):
                    ladder.append((d * level.price + taken.charges, book.venue, i, level, taken))
        ladder.sort(key=lambda step: step[:3])

        odd = intent.qty % lot_size
        need = intent.qty - odd  # the whole lots, from any venue
        walked: dict[str, _Taken] = {}  # insertion order: cheapest first level first
        used: dict[tuple[str, int], int] = {}  # (venue, level index) -> shares the walk took there
        for _, name, i, level, taken in ladder:
            if need == 0:
                break
            q = min(level.size, need)
            taken.levels.append((level.price, q))
            walked.setdefault(name, taken)
            used[name, i] = q
            need -= q
        sizes = {name: t.qty - t.qty % lot_size for name, t in walked.items()}

        if odd:  # the odd remainder: whole, to the cheapest odd-lot venue with depth left for it
            room: dict[str, list[tuple[Decimal, int]]] = {}
            ranked: list[tuple[VenueInfo, int]] = []
            for _, name, i, level, taken in ladder:  # depth left, level by level, in cost order
                free = level.size - used.get((name, i), 0)
                if free > 0 and taken.info.odd_lots:
                    room.setdefault(name, []).append((level.price, free))
                    ranked.append((taken.info, sum(q for _, q in room[name])))
            target = odd_lot_venue(ranked, odd)
            if target is not None:
                taken = next(t for _, n, _, _, t in ladder if n == target)
                # The levels beyond the walk's continue its prefix of that venue's book, so the
                # IOC's price below is the level its whole quantity reaches.
                taken.levels.extend(room[target])
                walked.setdefault(target, taken)
                sizes[target] = sizes.get(target, 0) + odd

        orders = []
        for name, taken in walked.items():
            qty = sizes[name]
            if qty <= 0:
                continue
            price = taken.worst_price_for(qty)
            # The venue's own limits (size, notional) cap what it gets; the rest comes back to the
            # strategy rather than being rejected there.
            cap = taken.info.max_qty_at(price, lot_size)
            if qty > cap:
                qty = cap
                price = taken.worst_price_for(qty) if qty else price
            if qty < taken.info.min_order_qty:
                continue
            orders.append(
                VenueOrder(name, intent.symbol, d, qty, price, ioc=True, expected_cost=price + d * taken.charges)
            )
        return orders

    def _post(self, intent: Intent, candidates: list[tuple[VenueInfo, VenueBook]], lot_size: int) -> list[VenueOrder]:
        d = intent.direction
        near = _touch([near_side(b, d) for _, b in candidates], -d)
        far = _touch([far_side(b, d) for _, b in candidates], d)
        price = near if near is not None and within_limit(near, intent.limit, d) else intent.limit
        if price is None or (far is not None and d * (price - far) >= 0):
            return []
        infos = {info.name: info for info, _ in candidates}
        scored = sorted(
            (self.costs.make(info, _displayed_at(near_side(book, d), price)), book.venue) for info, book in candidates
        )
        odd = intent.qty % lot_size
        score, name = scored[0]
        info = infos[name]
        whole = intent.qty if info.odd_lots else intent.qty - odd
        if whole <= info.max_qty_at(price, lot_size):  # the usual case: one order on the cheapest venue
            if whole == intent.qty:
                return [VenueOrder(name, intent.symbol, d, whole, price, ioc=False, expected_cost=price + d * score)]
            orders = [VenueOrder(name, intent.symbol, d, whole, price, ioc=False, expected_cost=price + d * score)] \
                if whole else []
        else:  # beyond a venue's size or notional limit: the rest on the next cheapest venues, whole lots
            orders, left = [], intent.qty - odd
            for score_v, name_v in scored:
                if left <= 0:
                    break
                qty = min(left, infos[name_v].max_qty_at(price, lot_size))
                if qty >= max(infos[name_v].min_order_qty, 1):
                    orders.append(VenueOrder(name_v, intent.symbol, d, qty, price, ioc=False,
                                             expected_cost=price + d * score_v))
                    left -= qty
        odd_score, odd_name = next(((s, n) for s, n in scored if infos[n].odd_lots), (score, ""))
        if odd and odd_name and not (info.odd_lots and whole == intent.qty):
            orders.append(VenueOrder(odd_name, intent.symbol, d, odd, price, ioc=False,
                                     expected_cost=price + d * odd_score))
        return orders


def _touch(sides: list[list[Level]], direction: int) -> Decimal | None:
    """The best price over several venues' sides: lowest when ``direction`` is +1 (asks), highest
    when -1 (bids).  Levels of no size do not make a touch."""
    prices = [level.price for side in sides for level in side if level.size > 0]
    if not prices:
        return None
    return min(prices) if direction > 0 else max(prices)


def _displayed_at(side: list[Level], price: Decimal) -> int:
    """Shares already displayed at ``price`` on one venue's side: the queue a new order joins."""
    return sum(level.size for level in side if level.price == price and level.size > 0)
