"""Parallel sweep: one intent spread over several venues at once, lit at the touch and dark at the midpoint.

Why this logic exists
---------------------
Speed.  A sequential logic waits for one venue before asking the next; a sweep asks them all at
the same instant, so the intent fills as fast as the market's liquidity anywhere allows (issue 15,
"Three routing logics").  What it sends, for a sweep of ``q`` shares:

* **AGGRESSIVE**: IOCs for the displayed depth within the limit across the open lit venues (the
  best-price router's walk, ranked by the scorecard's cost of taking), and what the lit books do not
  show goes to the dark pools as IOC midpoint pegs (capped at the limit), split across the pools by
  the scorecard's expected fill.
* **PASSIVE**: DAY orders at the consolidated near touch (or the limit, never locking or crossing)
  on the lit venues and DAY midpoint pegs in the dark pools, the sweep split across all of them by
  the scorecard's expected fill of each kind.  Each rests at most ``rest_timeout_s``: then this
  placement cancels it and, once the venue confirms, re-sweeps its remainder aggressively.

When a child closes with an unfilled remainder (an IOC's rest, a reject, a timed-out resting order),
its venue is marked *tried* and that remainder is re-swept at once to the other venues — never back
to the one that just failed to fill it, nor to a venue where this placement still has a child open.
Only that remainder, and only at once: shares a sweep could not place anywhere are not *held* (see
``placement.py``), so they are the strategy's from that moment, which may send them again in another
intent — a placement that later re-swept them too would put them out twice (the engine's guard
would refuse it; a stress run found exactly that).  Each re-sweep follows a close that marked a
venue tried, so a placement sends finitely many children and ends.

Why the sweep never oversubscribes
----------------------------------
The speed comes from *breadth*, not from sending more than the intent: the venues get disjoint
pieces of the intent, never the intent each.  Every sweep is sized from the ledger's ``room`` —
intent − filled − working (every child still open at its venue, the part of it whose fills may be
in flight included) − asked — so at every moment filled + working ≤ intent, whatever arrives in
whatever order:

* a fill in flight is inside its child's working quantity until it arrives;
* a child whose cancel was sent stays open, and in the budget, until the venue *confirms* the cancel
  (a cancel that raced a fill: the cancel is rejected as too late and the fill arrives; nothing was
  re-sent meanwhile), and only the remainder the venue confirmed unfilled is re-swept;
* a venue that fills beyond a child's quantity (a misbehaving venue) leaves ``room`` at 0: nothing
  more is sent, anything still working is cancelled, and the engine, which counts executions itself,
  halts the parent and never allocates the excess to a client (``ParentOverfilled``).

So the "once the target is reached, cancel the rest" of a classic sweep is only ever needed after
a venue's over-fill: with the budget held, filled = intent leaves nothing working.

Estimates are the scorecard's (:class:`~metaorder.execution.estimates.VenueEstimates`): expected
fills are floats (model estimates), costs per share ``Decimal``.  Sans-IO: time comes in as ``now``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metaorder.execution.estimates import OrderKind, VenueEstimates
from metaorder.execution.placement import ChildResult, LedgerPlacement
from metaorder.execution.router import BestPriceRouter, far_side, near_side, open_lit_books, within_limit
from metaorder.execution.sequential import usable
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.types import (
    Intent,
    MarketView,
    Style,
    VenueInfo,
    VenueKind,
    VenueOrder,
)


@dataclass(frozen=True, slots=True)
class ParallelSettings:
    """``[routing.parallel]``.  Defaults are orders of magnitude, not calibrations.

    ``rest_timeout_s``: a resting child (PASSIVE sweep) is cancelled after this and its remainder
    re-swept aggressively.  It must stay well under the engine's ``passive_max_age_s`` (20 s), which
    would otherwise pull the child itself and take the remainder back to the strategy.
    ``min_child_qty``: when a sweep is split over several venues, no piece is smaller than this (a
    piece too small to matter is a message, a fee minimum and a footprint; its share goes to the
    others).  A sweep that goes to one venue only may be smaller.
    """

    rest_timeout_s: float = 3.0
    min_child_qty: int = 100

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rest_timeout_s) and self.rest_timeout_s > 0):
            raise ValueError(f"routing.parallel rest_timeout_s must be > 0 seconds, not {self.rest_timeout_s}")
        if self.min_child_qty < 1:
            raise ValueError(f"routing.parallel min_child_qty must be at least 1 share, not {self.min_child_qty}")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> ParallelSettings:
        """Settings from ``[routing.parallel]``, refusing unknown names and bad values (ValueError naming it)."""
        return settings_from_mapping(cls, m, "routing.parallel", whole=frozenset({"min_child_qty"}))


@dataclass(frozen=True, slots=True)
class _ScoredCosts:
    """The scorecard's costs as the best-price walk reads them (``router.VenueCosts``), for one symbol.

    The walk adds them to the price of each level it takes, so they must be what a share costs
    *beyond* its price — fee plus adverse selection, which is what ``cost_per_share`` is; the half
    spread is in the level's price already."""

    estimates: VenueEstimates
    symbol: str

    def take(self, venue: VenueInfo) -> Decimal:
        return self.estimates.cost_per_share(venue.name, self.symbol, OrderKind.of(venue, True, False))

    def make(self, venue: VenueInfo, queue_ahead: int) -> Decimal:
        return self.estimates.cost_per_share(venue.name, self.symbol, OrderKind.of(venue, False, False))


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A venue a sweep may give a piece to: its weight (expected fill) and its size bounds."""

    info: VenueInfo
    weight: float
    low: int  # the venue's minimum order size, in whole lots
    high: int  # the most it takes in one order at this price, in whole lots


def split(total: int, lot: int, candidates: list[_Candidate], min_child: int) -> dict[str, int]:
    """``total`` shares (whole lots of ``lot``) over ``candidates`` in proportion to their weights.

    Every piece is whole lots, within its venue's bounds, and — when there is more than one — at
    least ``min_child``.  A candidate whose piece would be too small is dropped (the lightest such
    one first) and the split done again over the others; a capped candidate's excess goes to the
    others in weight order.  What no candidate can take is left out (the sum may be below ``total``).
    """
    total -= total % lot
    active = sorted(candidates, key=lambda c: (-c.weight, c.info.name))
    while active and total > 0:
        floor_ = min_child if len(active) > 1 else 0
        weights = [max(c.weight, 0.0) for c in active]
        wsum = sum(weights) or float(len(active))
        if not sum(weights):
            weights = [1.0] * len(active)
        pieces = [min(int(total * w / wsum) // lot * lot, c.high) for c, w in zip(active, weights, strict=True)]
        left = total - sum(pieces)
        for i, c in enumerate(active):  # rounding and caps: the rest to the heaviest with room
            add = min(left, c.high - pieces[i])
            add -= add % lot
            pieces[i] += add
            left -= add
        short = [i for i, c in enumerate(active) if pieces[i] < max(c.low, floor_, lot)]
        if not short:
            return {c.info.name: q for c, q in zip(active, pieces, strict=True) if q > 0}
        del active[short[-1]]
    return {}


class ParallelPlacement(LedgerPlacement):
    """The parallel sweep of one intent (module docstring)."""

    def __init__(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
                 now: float, exclude: frozenset[str] = frozenset(), *, estimates: VenueEstimates,
                 settings: ParallelSettings) -> None:
        super().__init__(intent, market, venues, lot_size, now, exclude)
        self.estimates = estimates
        self.settings = settings
        self.tried: set[str] = set()  # venues that closed a child unfilled: not swept again by this placement
        self._now = now  # the time of the hook being answered: when the children it asks for are sent
        self._resting: dict[str, float] = {}  # open non-IOC child -> when it was sent
        self._ioc: dict[str, bool] = {}  # every child -> whether it was an IOC

    # ---- the Placement interface (bookkeeping on top of the ledger's) -------------------------

    def on_placed(self, order: VenueOrder, child_id: str | None, qty: int) -> None:
        super().on_placed(order, child_id, qty)
        if child_id is not None and qty > 0:
            self._ioc[child_id] = order.ioc
            if not order.ioc:
                self._resting[child_id] = self._now
            self._rearm()

    # ---- the hooks -----------------------------------------------------------------------------

    def _first(self) -> list[VenueOrder]:
        self._now = self.started
        return self._sweep(self.room, self.intent.style, frozenset(), "sweep")

    def _after(self, result: ChildResult) -> list[VenueOrder]:
        self._now = result.now
        cid = result.child_id
        if result.outcome.closed:
            self._resting.pop(cid, None)
            self._rearm()
        if self.superseded:
            return []
        if self.filled >= self.intent.qty:  # only after a venue over-filled (see the module docstring)
            for open_id, _ in self.open_children():
                self.cancel(open_id)
            return []
        if not result.outcome.closed:
            return []
        if not result.unfilled:
            return []
        self.tried.add(result.venue)
        timed_out = self.canceling(cid)
        if result.requested and not timed_out:
            return []  # the engine's cancel: it took the remainder back (superseded already)
        # Only what this child left, at once: shares the placement did not place before are the
        # strategy's already (not held), which may have sent them again in another intent.
        style = Style.AGGRESSIVE if timed_out or self._ioc.get(cid, False) else self.intent.style
        return self._sweep(result.unfilled, style, result.exclude, f"re-sweep after {result.venue} left "
                           f"{result.unfilled}")

    def _on_wakeup(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        self._now = now
        for cid, sent in list(self._resting.items()):
            if now >= sent + self.settings.rest_timeout_s and not self.canceling(cid):
                self.cancel(cid)  # re-swept aggressively once the venue confirms (``_after``)
        self._rearm()
        return []

    def _rearm(self) -> None:
        """Wake at the next resting child's timeout (children already being cancelled excepted)."""
        due = [sent + self.settings.rest_timeout_s for cid, sent in self._resting.items()
               if not self.canceling(cid) and self.children.get(cid) is not None and self.children[cid].open]
        self.wake_at = min(due) if due and not self.superseded else None

    # ---- one sweep ----------------------------------------------------------------------------

    def _sweep(self, qty: int, style: Style, exclude: frozenset[str], why: str) -> list[VenueOrder]:
        qty = min(qty, self.room)
        if qty <= 0:
            return []
        busy = {c.venue for _, c in self.open_children()}
        skip = self.exclude | exclude | frozenset(self.tried) | frozenset(busy)
        if style is Style.AGGRESSIVE:
            lit = self._take(qty, skip)
            dark = self._dark(qty - sum(o.qty for o in lit), skip, ioc=True)
            orders = lit + dark
        else:
            orders = self._post(qty, skip)
        n = len(orders)
        return [dataclasses.replace(o, reason=f"parallel {why}: {o.reason}, {i} of {n} venues")
                for i, o in enumerate(orders, 1)]

    def _take(self, qty: int, skip: frozenset[str]) -> list[VenueOrder]:
        """IOCs for the displayed depth within the limit (the best-price walk, scorecard costs),
        each cut to what its venue's rules take."""
        it = self.intent
        walk = BestPriceRouter(_ScoredCosts(self.estimates, it.symbol))
        sub = dataclasses.replace(it, qty=qty, style=Style.AGGRESSIVE)
        orders = []
        for o in walk.route(sub, self.market, self.venues, self.lot_size, self._now, skip):
            info = self.venues[o.venue]
            q = min(o.qty, info.max_qty_at(o.price, self.lot_size))
            if q > 0 and info.refuses(q, o.price, self.lot_size, ioc=True) is None:
                orders.append(dataclasses.replace(o, qty=q, reason=f"{o.venue} IOC at the touch"))
        return orders

    def _post(self, qty: int, skip: frozenset[str]) -> list[VenueOrder]:
        """DAY orders at the near touch on the lit venues and DAY midpoint pegs in the dark pools,
        split by expected fill."""
        it, lot, d = self.intent, self.lot_size, self.intent.direction
        candidates: list[_Candidate] = []
        price = self._passive_price(skip)
        lit_names: list[str] = []
        if price is not None:
            for info, _ in open_lit_books(self.market, self.venues, it.symbol, skip):
                c = self._candidate(info, qty, price, ioc=False, peg=False)
                if c is not None:
                    candidates.append(c)
                    lit_names.append(info.name)
        dark = self._dark_candidates(qty, skip, ioc=False)
        candidates += [c for c, _, _ in dark]
        pieces = split(qty, lot, candidates, self.settings.min_child_qty)
        forms = {c.info.name: (p, peg) for c, p, peg in dark}
        orders = []
        for c in candidates:
            q = pieces.get(c.info.name, 0)
            name = c.info.name
            if name in forms:
                if q:
                    orders.append(self._dark_order(c.info, q, ioc=False, form=forms[name]))
                continue
            assert price is not None
            odd = qty % lot
            if odd and c.info.odd_lots and c.info.refuses(q + odd, price, lot) is None:
                q, qty = q + odd, qty - odd  # the intent's odd remainder rides on one odd-lot venue
            if q:
                cost = self.estimates.cost_per_share(name, it.symbol, OrderKind.of(c.info, False, False))
                orders.append(VenueOrder(name, it.symbol, d, q, price, ioc=False, expected_cost=price + d * cost,
                                         reason=f"{name} DAY at {price}"))
        return orders

    def _passive_price(self, skip: frozenset[str]) -> Decimal | None:
        """The consolidated near touch, or the limit when the touch is beyond it; None when that
        would lock or cross the far touch, or there is no price at all."""
        it, d = self.intent, self.intent.direction
        books = [b for _, b in open_lit_books(self.market, self.venues, it.symbol, skip)]
        nears = [lv.price for b in books for lv in near_side(b, d)[:1] if lv.size > 0]
        fars = [lv.price for b in books for lv in far_side(b, d)[:1] if lv.size > 0]
        near = (max(nears) if d > 0 else min(nears)) if nears else None
        far = (min(fars) if d > 0 else max(fars)) if fars else None
        price = near if near is not None and within_limit(near, it.limit, d) else it.limit
        if price is None or (far is not None and d * (price - far) >= 0):
            return None
        return price

    def _dark(self, qty: int, skip: frozenset[str], *, ioc: bool) -> list[VenueOrder]:
        """``qty`` over the dark pools as midpoint orders, split by expected fill."""
        if qty < self.lot_size:
            return []
        dark = self._dark_candidates(qty, skip, ioc=ioc)
        pieces = split(qty, self.lot_size, [c for c, _, _ in dark], self.settings.min_child_qty)
        return [self._dark_order(c.info, pieces[c.info.name], ioc=ioc, form=(p, peg))
                for c, p, peg in dark if pieces.get(c.info.name)]

    def _dark_candidates(self, qty: int, skip: frozenset[str], *, ioc: bool
                         ) -> list[tuple[_Candidate, Decimal | None, bool]]:
        """The open dark pools that take a midpoint order now: (candidate, price or cap, peg).

        A pool that takes pegs gets one capped at the limit; one that does not gets a limit order
        at the limit (a pool's limit order is a capped midpoint peg), or a market order without a
        limit.  No midpoint (one-sided or crossed lit market): no dark order, it could not trade.
        An IOC whose midpoint is beyond the limit could not trade either."""
        it = self.intent
        mid = self.market.mid(it.symbol)
        if mid is None or (ioc and not within_limit(mid, it.limit, it.direction)):
            return []
        out = []
        for name in sorted(self.venues):
            info = self.venues[name]
            if info.kind is not VenueKind.DARK or not usable(info, self.market, skip):
                continue
            peg = info.midpoint
            c = self._candidate(info, qty, it.limit if it.limit is not None else mid, ioc=ioc, peg=peg,
                                price=it.limit)
            if c is not None:
                out.append((c, it.limit, peg))
        return out

    def _candidate(self, info: VenueInfo, qty: int, notional_price: Decimal, *, ioc: bool, peg: bool,
                   price: Decimal | None = None) -> _Candidate | None:
        """``info`` as a candidate for a piece of ``qty`` (None when its rules refuse any such order),
        weighted by the expected fill of the kind of order it would get (an IOC peg's, not a resting
        one's: they differ by an order of magnitude)."""
        lot = self.lot_size
        kind = OrderKind.of(info, ioc, peg)
        order_price = notional_price if price is None and not kind.dark else price
        low = -(-max(info.min_order_qty, 1) // lot) * lot
        high = min(info.max_qty_at(notional_price, lot), qty - qty % lot)
        if high < low or info.refuses(low, order_price, lot, ioc=ioc, peg=peg) is not None:
            return None
        weight = self.estimates.expected_fill(info.name, self.intent.symbol, kind, qty)
        return _Candidate(info, weight, low, high)

    def _dark_order(self, info: VenueInfo, qty: int, *, ioc: bool, form: tuple[Decimal | None, bool]) -> VenueOrder:
        it = self.intent
        price, peg = form
        mid = self.market.mid(it.symbol) or Decimal(0)
        cost = self.estimates.cost_per_share(info.name, it.symbol, OrderKind.of(info, ioc, peg))
        what = "IOC" if ioc else "DAY"
        return VenueOrder(info.name, it.symbol, it.direction, qty, price, ioc=ioc, peg=peg,
                          expected_cost=mid + it.direction * cost,
                          reason=f"{info.name} {what} {'midpoint peg' if peg else 'limit at the limit'}")


@dataclass(frozen=True, slots=True)
class ParallelRouter:
    """Starts a parallel sweep for every intent (tests and the lab; the dispatcher is ``smart_router.py``)."""

    estimates: VenueEstimates
    settings: ParallelSettings = ParallelSettings()

    def start(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
              now: float, exclude: frozenset[str] = frozenset()) -> ParallelPlacement:
        return ParallelPlacement(intent, market, venues, lot_size, now, exclude, estimates=self.estimates,
                                 settings=self.settings)
