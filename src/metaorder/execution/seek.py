"""Liquidity-seeking routing (impact minimisation): dark pools first, lit venues only for the rest.

Why this logic exists
---------------------
Every share shown on a lit book tells the market someone is trading, and the price moves away before
the rest is done (impact, information leakage).  A dark pool shows nothing and fills at the mid; its
cost is uncertainty (an order may fill at once, later, partly or never).  So this logic asks the pools
first, sized by what the scorecard expects each to fill, and shows on lit books only what the pools
cannot take — in pieces, never the whole size on one venue.

Dark rounds
-----------
A round allocates the room over the usable pools (configured dark, OPEN, not excluded, not "burned"
— see below — and able to take a midpoint order: a peg capped at the limit, or a limit order at the
limit for a pool without pegs) *lot by lot to the pool with the largest marginal expected fill*::

    gain(pool) = estimates.expected_fill(pool, symbol, MIDPOINT, q + step) - expected_fill(..., q)

per lot of the step, ties to the pool with less so far, then by name.  A pool gets either nothing or
at least its ``min_order_qty`` (its first step jumps to it: the gain is averaged over the jump), and
never more than its maximum size.  Allocation stops when no pool expects any more fill (a censored
estimate that has never seen more than q shares there says so): the rest is what the pools cannot take.
With many lots the step is coarsened (at most ``_MAX_STEPS`` steps per round) so a 100,000-share
intent of lot 1 costs a few hundred estimate calls, not 200,000.

Each pool child carries MinQty (110): ``max(min_fill_lots x lot, min_fill_shares rounded up to lots,
the pool's min_order_qty)``, never above the order — no small pings that leak our presence for a
few shares.  PASSIVE intent: DAY pegs, pulled after ``dark_timeout_s``; AGGRESSIVE intent (the
schedule is behind): IOC pegs, and what they do not fill at once goes lit.  Each estimate is asked
for the kind of order actually sent (``OrderKind.of``: a resting peg is MIDPOINT, an IOC peg
MIDPOINT_IOC where the estimates tell them apart — their fill rates differ by an order of magnitude).

When all of a round's pool children have closed (filled, timed out and canceled, or ended by the
venue), the unfilled room is allocated again — except to a pool whose order in the round filled
nothing ("burned": within one placement it is not asked again; across placements the scorecard's
lower estimate does the same job).  After ``max_dark_rounds`` rounds, or with no pool left, the rest
goes lit.

Lit for the rest
----------------
AGGRESSIVE: one best-price pass (:class:`~metaorder.execution.router.BestPriceRouter`) over the lit
books for what the pools did not fill.  PASSIVE: DAY orders at the consolidated near touch (or at the
limit when the touch is beyond it; never locking or crossing the far touch), split over the lit
venues cheapest to rest on first (``estimates.cost_per_share(..., PASSIVE)``), each venue showing at
most ``max_display_fraction`` of the intent *and* at most ``max_touch_multiple`` times the size that
venue displays at its touch (its near side's best level; the far side's when it has no near side),
whole lots — but at least one lot (an intent of one lot cannot be split).  Both caps are on what the
placement *shows* there: what its open lit children on that venue already rest is subtracted, so
rounds that each send a piece never add up to more than the cap on one venue.  What no venue may
show is not sent: it stays with the strategy, which comes back with it later.  The intent's odd
remainder goes, whole, with the first venue taking odd lots.

AGGRESSIVE with the limit out of reach
--------------------------------------
A taking slice whose lit far touch is beyond its limit can take nothing lit; while the midpoint is
within the limit a pool still can fill it.  So (re-judged at every round) it is placed as a PASSIVE
one: DAY pegs capped at the limit, ``dark_timeout_s`` rounds, not IOC pegs (an IOC peg meets only what
already rests in the pool: the strategy, still behind, would ask again at once); and the lit rest
rests *at the limit*, split as above — not at the touch: a strategy behind schedule pulls, at every
decision, resting children that are not at its limit (a child storm), while children at the limit it
leaves alone.  The far touch is beyond the limit, so nothing crosses.  When the market comes back
within the limit, the next round takes again (IOC).

Lit pieces' age
---------------
Lit pieces get no timeout of their own: the engine pulls any resting child older than its
``passive_max_age_s`` and, while the placement is live, without superseding it.  The pulled piece's
unfilled part is back in the room; the next round re-allocates it, dark first (one more round even
after ``max_dark_rounds``, to the pools not burned): at once when no round is out, else, held, when
the round out now ends.  It is neither lost (left unworked by a live placement) nor sent twice.

While a dark round is out, the placement holds the room (:attr:`held`): it will place it itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metaorder.execution.estimates import OrderKind, VenueEstimates
from metaorder.execution.placement import ChildResult, LedgerPlacement, limit_out_of_reach
from metaorder.execution.router import BestPriceRouter, far_side, near_side, open_lit_books, within_limit
from metaorder.execution.sequential import as_cost, dark_shape, quote, usable
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.types import Intent, MarketView, Style, VenueInfo, VenueKind, VenueOrder

_MAX_STEPS = 400  # allocation steps per round at most (the step grows with the intent: module docstring)


@dataclass(frozen=True, slots=True)
class SeekSettings:
    """``[routing.seek]``: the liquidity-seeking logic's tunables (module docstring).

    ``dark_timeout_s`` must stay below the engine's ``passive_max_age_s`` (20 s), which would pull the
    peg itself and end the placement; 10 s gives a pool with 6 contras a minute (UMBRA) about a 40 %
    chance of a fill per round."""

    dark_timeout_s: float = 10.0  # a resting dark peg is pulled after this; its unfilled rest re-allocated
    min_fill_lots: int = 2  # MinQty of a dark child, in lots (at least)
    min_fill_shares: int = 200  # MinQty of a dark child, in shares (at least; rounded up to lots)
    max_dark_rounds: int = 3  # dark rounds per placement before the rest goes lit
    max_display_fraction: float = 0.5  # of the intent, displayed on any one lit venue at most
    max_touch_multiple: float = 3.0  # x the venue's displayed touch size, displayed on it at most

    def __post_init__(self) -> None:
        if not self.dark_timeout_s > 0:
            raise ValueError(f"seek dark_timeout_s must be > 0 seconds, not {self.dark_timeout_s}")
        if not self.min_fill_lots >= 1:
            raise ValueError(f"seek min_fill_lots must be at least 1, not {self.min_fill_lots}")
        if not self.min_fill_shares >= 0:
            raise ValueError(f"seek min_fill_shares must be >= 0, not {self.min_fill_shares}")
        if not self.max_dark_rounds >= 1:
            raise ValueError(f"seek max_dark_rounds must be at least 1, not {self.max_dark_rounds}")
        if not 0 < self.max_display_fraction <= 1:
            raise ValueError(f"seek max_display_fraction must be in (0, 1], not {self.max_display_fraction}")
        if not self.max_touch_multiple > 0:
            raise ValueError(f"seek max_touch_multiple must be > 0, not {self.max_touch_multiple}")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> SeekSettings:
        """Settings from configuration, refusing unknown names and bad values (ValueError)."""
        return settings_from_mapping(cls, settings, "seek", whole=_COUNTS)


_COUNTS = frozenset({"min_fill_lots", "min_fill_shares", "max_dark_rounds"})


# ------------------------------------------------------------------------------------ allocation


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool the allocation may use: its name, least and most one order may carry (shares)."""

    name: str
    minimum: int
    maximum: int


def _up_to_lots(qty: int, lot: int) -> int:
    return -(-qty // lot) * lot


def allocate(qty: int, pools: list[Pool], lot: int, expected_fill: Callable[[str, int], float]) -> dict[str, int]:
    """Whole lots of ``qty`` over ``pools`` by largest marginal expected fill (module docstring).

    ``expected_fill(name, q)`` is the model's expected shares filled of an order of ``q`` (float).
    Returns only pools that get something; the sum is at most ``qty``."""
    alloc = {p.name: 0 for p in pools}
    left = qty - qty % lot
    unit = lot * max(1, -(-(left // lot) // _MAX_STEPS))  # lot by lot, coarsened for huge intents
    memo: dict[tuple[str, int], float] = {}

    def ef(name: str, q: int) -> float:
        if q <= 0:
            return 0.0
        key = (name, q)
        if key not in memo:
            memo[key] = float(expected_fill(name, q))
        return memo[key]

    while left >= lot:
        best: tuple[float, int, str] | None = None
        best_step = 0
        for p in pools:
            q = alloc[p.name]
            step = min(unit, left - left % lot) if q else max(unit, _up_to_lots(p.minimum, lot))
            step = min(step, p.maximum - q)
            step -= step % lot
            if step < lot or step > left or q + step < p.minimum:
                continue
            gain = (ef(p.name, q + step) - ef(p.name, q)) * lot / step
            key = (-gain, q, p.name)
            if best is None or key < best:
                best, best_step = key, step
        if best is None or -best[0] <= 1e-12:
            break
        alloc[best[2]] += best_step
        left -= best_step
    return {name: q for name, q in alloc.items() if q > 0}


def min_fill(info: VenueInfo, qty: int, lot: int, settings: SeekSettings) -> int:
    """MinQty of a dark child of ``qty`` (module docstring): 0 where the pool takes no MinQty."""
    if not info.allow_min_qty:
        return 0
    least = max(settings.min_fill_lots * lot, _up_to_lots(settings.min_fill_shares, lot), info.min_order_qty)
    return min(least, qty)


# ------------------------------------------------------------------------------- lit for the rest


def lit_split(intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot: int, qty: int,
              exclude: frozenset[str], estimates: VenueEstimates, settings: SeekSettings,
              shown: Mapping[str, int] | None = None, at_limit: bool = False) -> list[VenueOrder]:
    """``qty`` rested over the lit venues, a capped piece each (module docstring).

    ``shown``: per venue, what the placement already rests there (its open lit children's leaves),
    subtracted from that venue's display caps.  ``at_limit``: rest at the intent's limit instead of
    the near touch (an AGGRESSIVE intent whose limit the far touch is beyond)."""
    d, symbol, limit = intent.direction, intent.symbol, intent.limit
    shown = shown or {}
    bid, ask = market.best_bid(symbol), market.best_ask(symbol)
    near, far = (bid, ask) if d > 0 else (ask, bid)
    joins = not at_limit and near is not None and within_limit(near, limit, d)
    price = near if joins else limit
    if qty <= 0 or price is None or (far is not None and d * (price - far) >= 0):
        return []
    ranked = sorted(
        (estimates.cost_per_share(info.name, symbol, OrderKind.PASSIVE), info.name, info, book)
        for info, book in open_lit_books(market, venues, symbol, exclude) if "limit" in info.order_types
    )
    fraction_cap = int(settings.max_display_fraction * intent.qty)
    odd = qty % lot
    left = qty - odd
    pieces: list[tuple[VenueInfo, int, Decimal]] = []
    for cost, _, info, book in ranked:
        if left <= 0 and not odd:
            break
        touch = next((lv.size for lv in near_side(book, d) if lv.size > 0), 0) or \
            next((lv.size for lv in far_side(book, d) if lv.size > 0), 0)
        most = info.max_qty_at(price, lot)
        already = max(shown.get(info.name, 0), 0)
        cap = min(fraction_cap, int(settings.max_touch_multiple * touch)) - already
        cap = max(min(cap, most), 0)
        cap -= cap % lot
        if already and cap <= 0:
            continue  # this venue already shows all it may of this placement
        if not already:
            cap = max(cap, min(lot, most))  # one lot at least: a one-lot intent cannot be split
        whole = min(left, cap)
        whole -= whole % lot
        extra = odd if info.odd_lots else 0
        q = whole + extra
        if q <= 0 or info.refuses(q, price, lot) is not None:
            continue
        pieces.append((info, q, cost))
        left -= whole
        odd -= extra
    where = "at the limit (the market is beyond it)" if at_limit else "resting"
    return [VenueOrder(info.name, symbol, d, q, price, ioc=False, expected_cost=as_cost(price + d * cost),
                       reason=f"seek: lit for what the pools cannot take, {q} of {intent.qty} shown on "
                              f"{info.name} at {price}, {where}")
            for info, q, cost in pieces]


# ---------------------------------------------------------------------------------- the placement


class SeekPlacement(LedgerPlacement):
    """Dark pools first with MinQty, sized by the scorecard; lit for the rest (module docstring)."""

    def __init__(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
                 now: float, exclude: frozenset[str] = frozenset(), *, estimates: VenueEstimates,
                 settings: SeekSettings) -> None:
        super().__init__(intent, market, venues, lot_size, now, exclude)
        self.estimates = estimates
        self.settings = settings
        self.rounds = 0  # dark rounds sent
        self.burned: set[str] = set()  # pools whose order in a round filled nothing: not asked again
        self.round: set[str] = set()  # child ids of the dark round out now
        self._lit_taken = False  # an AGGRESSIVE intent's one lit pass is done
        self._redo = False  # a lit piece was pulled: its room earns one more dark round (module docstring)
        # Of the room, what went back to the strategy when no round was out (not ours to send again:
        # the strategy may have sent it already; the parent's control would halt the parent).
        self.released = 0

    # ---- hooks ---------------------------------------------------------------------------------

    def _first(self) -> list[VenueOrder]:
        return self._step(self.started, frozenset())

    def _after(self, result: ChildResult) -> list[VenueOrder]:
        # A superseded placement asks for nothing (``_step`` and ``_admit`` see to it): an engine's
        # cancel that took the remainder back supersedes us before its result comes.
        if not result.outcome.closed:
            return []  # a partial fill: the child keeps resting (a pool's: that is the point)
        if result.child_id in self.round:
            self.round.discard(result.child_id)
            if result.filled <= 0:
                self.burned.add(result.venue)
            if self.round:
                return []
            self.wake_at = None
            return self._step(result.now, result.exclude)
        if not result.requested or result.unfilled <= 0 or self.superseded:
            # A lit child filled, or ended by its venue (an IOC's rest, a reject): its unfilled part is
            # the strategy's — unless a round is out, whose end re-allocates the room it holds.
            if not self.round:
                self.released += result.unfilled
            return []
        # A lit piece pulled (its age) while we are live: its unfilled part is back in the room.
        self._redo = True
        if self.round:
            return []  # held: the round's end re-allocates it, dark first
        return self._step(result.now, result.exclude)

    def _on_wakeup(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        if self.round:
            for cid in sorted(self.round):
                self.cancel(cid)  # timed out: re-allocated once every pool child has closed
            return []
        return self._step(now, exclude)

    def _held(self) -> int:
        return self.usable if self.round else 0

    @property
    def usable(self) -> int:
        """Of the room, what this placement may still place itself (not released to the strategy)."""
        return max(self.room - self.released, 0)

    def on_placed(self, order: VenueOrder, child_id: str | None, qty: int) -> None:
        super().on_placed(order, child_id, qty)
        info = self.venues.get(order.venue)
        if info is not None and info.kind is VenueKind.DARK:
            if child_id is not None and qty > 0:
                self.round.add(child_id)
            else:  # the engine refused it: do not ask that pool again in this placement
                self.burned.add(order.venue)
        if not self._asked and not self.round:
            self.released = self.room  # the batch is placed and no round is out: we hold nothing

    # ---- rounds --------------------------------------------------------------------------------

    def lit_shown(self) -> dict[str, int]:
        """Per lit venue, what this placement's open children rest there now (their leaves)."""
        shown: dict[str, int] = {}
        for _, child in self.open_children():
            info = self.venues.get(child.venue)
            if info is not None and info.kind is not VenueKind.DARK:
                shown[child.venue] = shown.get(child.venue, 0) + max(child.qty - child.filled, 0)
        return shown

    def _step(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        """A dark round for the room (and, resting, lit pieces for what the pools cannot take), or,
        once the pools are done, the lit venues for the rest."""
        room = self.usable
        if room <= 0 or self.superseded:
            return []
        skip = self.exclude | exclude
        it = self.intent
        # AGGRESSIVE (behind schedule) takes: one round of IOC pegs, then lit.  With the lit far touch
        # beyond its limit there is nothing to take: it rests, as PASSIVE does, the lit part at the limit.
        beyond = it.style is Style.AGGRESSIVE and limit_out_of_reach(self.market, it.symbol, it.direction,
                                                                      it.limit)
        take = it.style is Style.AGGRESSIVE and not beyond
        rounds = 1 if take else self.settings.max_dark_rounds
        redo, self._redo = self._redo and not take, False
        dark = self._dark_round(room, skip, ioc=take) if self.rounds < rounds or redo else []
        if dark:
            self.rounds += 1
            self.wake_at = now + self.settings.dark_timeout_s
        rest = room - sum(o.qty for o in dark)
        if take:
            if dark or self._lit_taken:
                orders = dark  # what the IOC pegs do not fill goes lit when they close
            else:
                self._lit_taken = True
                orders = self._take(rest, now, skip)
        else:
            orders = dark + lit_split(it, self.market, self.venues, self.lot_size, rest, skip, self.estimates,
                                      self.settings, shown=self.lit_shown(), at_limit=beyond)
        if not orders and not self.round:
            self.released = self.room  # nothing to place and no round out: the rest is the strategy's
        return orders

    def _dark_round(self, room: int, skip: frozenset[str], *, ioc: bool) -> list[VenueOrder]:
        it, lot = self.intent, self.lot_size
        pools: list[Pool] = []
        shapes: dict[str, tuple[bool, Decimal | None]] = {}
        for name in sorted(self.venues):
            info = self.venues[name]
            shape = dark_shape(info, it.limit)
            if (info.kind is not VenueKind.DARK or name in self.burned or not usable(info, self.market, skip)
                    or shape is None or (ioc and not info.ioc)):
                continue
            most = info.max_qty_at(shape[1], lot)
            if most < max(info.min_order_qty, lot):
                continue
            shapes[name] = shape
            pools.append(Pool(name, max(info.min_order_qty, 1), most))
        if not pools:
            return []
        symbol = it.symbol
        # The estimates of the kind actually sent: a resting peg (MIDPOINT) or an IOC one (MIDPOINT_IOC).
        kinds = {name: OrderKind.of(self.venues[name], ioc, shapes[name][0]) for name in shapes}
        plan = allocate(room, pools, lot, lambda v, q: self.estimates.expected_fill(v, symbol, kinds[v], q))
        mid, _ = quote(self.market, symbol)
        orders = []
        for name, qty in plan.items():
            info = self.venues[name]
            peg, price = shapes[name]
            mq = min_fill(info, qty, lot, self.settings)
            if info.refuses(qty, price, lot, ioc=ioc, peg=peg, min_qty=mq) is not None:
                continue
            cost = self.estimates.cost_per_share(name, symbol, kinds[name])
            base = mid if mid is not None else (price if price is not None else Decimal(0))
            expect = self.estimates.expected_fill(name, symbol, kinds[name], qty)
            how = "midpoint peg" if peg else "limit at the limit (a capped peg)"
            orders.append(VenueOrder(
                name, symbol, it.direction, qty, price, ioc=ioc, min_qty=mq, peg=peg,
                expected_cost=as_cost(base + it.direction * cost),
                reason=(f"seek: {name} {how}{' IOC' if ioc else ''} for {qty} of {it.qty}, MinQty {mq}, "
                        f"round {self.rounds + 1}, expected fill {expect:.0f} (largest marginal expected fill)")))
        return orders

    def _take(self, qty: int, now: float, skip: frozenset[str]) -> list[VenueOrder]:
        if qty <= 0:
            return []
        # At the touch only: walking a thin book is the impact this logic exists to avoid; what the
        # touch does not cover is the strategy's again, after the book has had time to refill.
        it = self.intent
        touch = self.market.best_ask(it.symbol) if it.direction > 0 else self.market.best_bid(it.symbol)
        limit = it.limit
        if touch is not None and (limit is None or it.direction * (touch - limit) < 0):
            limit = touch
        rest = dataclasses.replace(it, qty=qty, limit=limit)
        why = "seek: lit for what the pools did not fill" if self.rounds else "seek: no pool usable, lit"
        return [dataclasses.replace(o, reason=why)
                for o in BestPriceRouter().route(rest, self.market, self.venues, self.lot_size, now, skip)]
