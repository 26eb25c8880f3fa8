"""Placements: routing with memory, one per intent, from the first child order to the last result.

Why this module exists
----------------------
A routing *pass* (:meth:`BestPriceRouter.route <metaorder.execution.router.BestPriceRouter.route>`)
is a pure function of the market now: it cannot remember "I tried venue A, now B".  Sequential
routing (one venue after another), a parallel sweep that must never over-fill, and
liquidity-seeking routing (dark pools and midpoint first, then lit) all need exactly that memory.
So a router *starts* a :class:`Placement` for each intent of a strategy, and the engine keeps it
until it is :attr:`~Placement.done`, telling it

* what it actually placed (:meth:`~Placement.on_placed`: the parent/child control may refuse an
  order, the engine gives it its ClOrdID),
* every result of its children (:meth:`~Placement.on_child_result`: a fill, a fill that closed it,
  an IOC's unfilled remainder canceled, a reject),
* every market change, if it asked for them (:attr:`~Placement.watches_market`,
  :meth:`~Placement.on_market`),

and sending whatever each answer asks for, through the same parent/child control as everything
else.  The engine never needs to know which logic a placement follows: a new routing logic is a new
placement, the engine does not change.  (The shape is NautilusTrader's execution algorithm: a
primary order spawning children and told of their events; GUIDE section 7.)

Contract of every placement (on top of its routing pass's contract, see ``router.py``):

* **Budget.**  At no moment do its fills plus its children still open plus the orders it has just
  asked for exceed ``intent.qty``: over its whole life, however its children end, it never fills
  more than the intent (a re-route only ever re-sends what a closed child did not fill).
  :class:`LedgerPlacement` enforces it for every placement built on it.
* **Supersession.**  Once the engine supersedes it (the strategy or the engine cancelled one of its
  children, the parent is done, halted or the kill switch is engaged), it asks for nothing more.
* **Done.**  A placement is done once none of its children is open, nothing it asked for awaits
  placing and it holds nothing back (:attr:`~Placement.held`: shares it means to place later
  itself, e.g. after the next market change); :attr:`~Placement.unplaced` is then what it leaves
  to the strategy, which sees it as unworked and may decide again.  While a placement holds shares,
  the engine counts them as working for the strategy, so a strategy never sends them a second time.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from metaorder.execution.types import Intent, MarketView, Style, VenueInfo, VenueOrder


class ChildOutcome(enum.Enum):
    """What became of a placement's child, as the venue's reports say."""

    WORKING = "working"  # a fill that did not close it: still open at the venue
    FILLED = "filled"
    CANCELED = "canceled"  # canceled or expired: an IOC's unfilled remainder, a cancel the engine asked for
    REJECTED = "rejected"

    @property
    def closed(self) -> bool:
        return self is not ChildOutcome.WORKING


@dataclass(frozen=True, slots=True)
class ChildResult:
    """One result of one child, told to the placement that asked for it."""

    venue: str
    child_id: str
    qty: int  # sent
    filled: int  # executed so far, in total (an over-filling venue may report more than ``qty``)
    outcome: ChildOutcome
    now: float
    # The engine asked for its cancel (the strategy re-decides, the parent shrank or ended): the
    # placement has been superseded by then; a cancel without it is the venue's (an IOC's remainder).
    requested: bool = False
    exclude: frozenset[str] = frozenset()  # venues the engine would not route to now (reject cooldown, down, stale)

    @property
    def leaves(self) -> int:
        """Still working at the venue: 0 once closed."""
        return 0 if self.outcome.closed else max(self.qty - self.filled, 0)

    @property
    def unfilled(self) -> int:
        """What this child will never fill once it is closed: a re-route's most."""
        return max(self.qty - self.filled, 0) if self.outcome.closed else 0


class Placement(Protocol):
    """One intent being placed at venues, from its first child to its last result (module docstring)."""

    @property
    def intent(self) -> Intent: ...

    @property
    def watches_market(self) -> bool:
        """Whether the engine should call :meth:`on_market` on market changes (a cost when True)."""
        ...

    def orders(self) -> list[VenueOrder]:
        """The first child orders, asked once right after the router started the placement."""
        ...

    def on_placed(self, order: VenueOrder, child_id: str | None, qty: int) -> None:
        """The engine placed ``order`` as child ``child_id`` for ``qty`` shares, or refused it (None, 0)."""
        ...

    def on_child_result(self, result: ChildResult) -> list[VenueOrder]:
        """A child filled (partly or wholly), or closed unfilled: what to send next (maybe nothing)."""
        ...

    def on_market(self, market: MarketView, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        """The market changed (only when :attr:`watches_market`): what to send now."""
        ...

    def supersede(self) -> None:
        """Ask for nothing more: the engine or the strategy took the intent's remainder back."""
        ...

    @property
    def superseded(self) -> bool: ...

    def take_cancels(self) -> list[str]:
        """Children (ClOrdIDs) it wants canceled now, asked once each: a sequential logic's timeout,
        a parallel sweep's leftovers once the target is reached.  The engine sends the cancels after
        every call above; the children stay open (and in the budget) until their venues confirm."""
        ...

    @property
    def wake_at(self) -> float | None:
        """When it wants :meth:`on_wakeup` called (a timeout); None: never."""
        ...

    def on_wakeup(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        """Its time came (``now >= wake_at``): what to send now (it may also ask for cancels)."""
        ...

    @property
    def held(self) -> int:
        """Shares it means to place itself later: neither at a venue nor left to the strategy."""
        ...

    @property
    def done(self) -> bool: ...

    @property
    def unplaced(self) -> int:
        """Of the intent, neither filled nor open at a venue nor asked for: the strategy's again once done."""
        ...


class RoutingPass(Protocol):
    """One routing decision over the market now, stateless (``router.py``'s contract)."""

    def route(
        self,
        intent: Intent,
        market: MarketView,
        venues: Mapping[str, VenueInfo],
        lot_size: int,
        now: float,
        exclude: frozenset[str] = frozenset(),
    ) -> list[VenueOrder]: ...


def limit_out_of_reach(market: MarketView, symbol: str, direction: int, limit: Decimal | None) -> bool:
    """Is the consolidated far touch beyond ``limit`` (nothing can be taken at an acceptable price)?"""
    if limit is None:
        return False
    if direction > 0:
        ask = market.best_ask(symbol)
        return ask is None or ask > limit
    bid = market.best_bid(symbol)
    return bid is None or bid < limit


@dataclass(slots=True)
class PlacedChild:
    """A placement's ledger entry for one of its children."""

    venue: str
    qty: int
    filled: int = 0
    open: bool = True


class LedgerPlacement:
    """The bookkeeping every placement shares; a routing logic overrides the three ``_`` hooks.

    It keeps the ledger of its children (sent, filled, open), enforces the budget on everything the
    hooks ask for (a breach is a bug and raises, as the router's own check does: the engine's
    parent/child control would refuse it anyway), stops asking once superseded, and says when it
    is done.  ``market``, ``venues``, ``lot_size`` and ``exclude`` are kept for the hooks: the
    market view is the engine's live one.
    """

    watches_market: bool = False

    def __init__(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
                 now: float, exclude: frozenset[str] = frozenset()) -> None:
        self._intent = intent
        self.market = market
        self.venues = venues
        self.lot_size = lot_size
        self.started = now
        self.exclude = exclude
        self.children: dict[str, PlacedChild] = {}
        self._asked = 0  # asked for and not yet placed or refused by the engine
        self._opened = False
        self.superseded = False
        self._cancels: list[str] = []  # children to cancel, not yet handed to the engine
        self._canceling: set[str] = set()  # children whose cancel was asked for (never asked twice)
        self.wake_at: float | None = None  # a logic sets it for on_wakeup

    # ---- the Placement interface ----------------------------------------------------------

    @property
    def intent(self) -> Intent:
        return self._intent

    def orders(self) -> list[VenueOrder]:
        if self._opened:
            return []
        self._opened = True
        return self._admit(self._first())

    def on_placed(self, order: VenueOrder, child_id: str | None, qty: int) -> None:
        self._asked = max(self._asked - order.qty, 0)
        if child_id is not None and qty > 0:
            self.children[child_id] = PlacedChild(order.venue, qty)

    def on_child_result(self, result: ChildResult) -> list[VenueOrder]:
        child = self.children.get(result.child_id)
        if child is None or not child.open:
            return []
        child.filled = result.filled
        child.open = not result.outcome.closed
        return self._admit(self._after(result))

    def on_market(self, market: MarketView, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        return self._admit(self._on_market(market, now, exclude))

    def supersede(self) -> None:
        self.superseded = True
        self.wake_at = None

    def take_cancels(self) -> list[str]:
        cancels, self._cancels = self._cancels, []
        return cancels

    def on_wakeup(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        self.wake_at = None
        if self.superseded:
            return []
        return self._admit(self._on_wakeup(now, exclude))

    @property
    def held(self) -> int:
        return 0 if self.superseded else self._held()

    @property
    def done(self) -> bool:
        return self._opened and not self._asked and not self.held and not any(c.open for c in self.children.values())

    @property
    def unplaced(self) -> int:
        return max(self._intent.qty - self.filled - self.working - self._asked, 0)

    # ---- the ledger ---------------------------------------------------------------------------

    @property
    def filled(self) -> int:
        return sum(c.filled for c in self.children.values())

    @property
    def working(self) -> int:
        """Open at venues: sent and not yet filled."""
        return sum(max(c.qty - c.filled, 0) for c in self.children.values() if c.open)

    @property
    def room(self) -> int:
        """What may still be asked for without breaking the budget."""
        return max(self._intent.qty - self.filled - self.working - self._asked, 0)

    def open_children(self) -> list[tuple[str, PlacedChild]]:
        """Its children still open at their venues (ClOrdID, ledger entry), oldest first."""
        return [(cid, c) for cid, c in self.children.items() if c.open]

    def cancel(self, child_id: str) -> None:
        """Ask the engine to cancel one of its open children (once; a superseded placement's
        children are the engine's to cancel, not its own)."""
        child = self.children.get(child_id)
        if child is None or not child.open or child_id in self._canceling or self.superseded:
            return
        self._canceling.add(child_id)
        self._cancels.append(child_id)

    def canceling(self, child_id: str) -> bool:
        return child_id in self._canceling

    def _admit(self, orders: list[VenueOrder]) -> list[VenueOrder]:
        if self.superseded or not orders:
            return []
        total = sum(o.qty for o in orders)
        if total > self.room:  # cannot happen in a correct logic; a future one must not make it
            raise RuntimeError(f"placement for {self._intent.parent_id} asked for {total} with room for "
                               f"{self.room} of {self._intent.qty}: {orders}")
        self._asked += total
        return orders

    # ---- the routing logic's hooks -------------------------------------------------------------

    def _first(self) -> list[VenueOrder]:
        """The first orders."""
        return []

    def _after(self, result: ChildResult) -> list[VenueOrder]:
        """What to send after a child's result (the ledger is already updated)."""
        return []

    def _on_market(self, market: MarketView, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        """What to send after a market change (called only when ``watches_market``)."""
        return []

    def _on_wakeup(self, now: float, exclude: frozenset[str]) -> list[VenueOrder]:
        """What to send when ``wake_at`` has come (set ``wake_at`` again to be woken again)."""
        return []

    def _held(self) -> int:
        """Shares this logic means to place later itself (0: whatever is not out is the strategy's)."""
        return 0


class OnePassPlacement(LedgerPlacement):
    """The best-price behaviour: one routing pass, done when its children close.

    AGGRESSIVE with the limit out of reach (the far touch beyond it, or no far touch): what the
    pass could not take within the limit rests at the limit instead, with a PASSIVE pass for the
    remainder, so the order is there when the market comes back to it.  Nothing else is ever sent:
    a child's unfilled remainder (an IOC's, a reject's) goes back to the strategy, which decides
    again with the rejecting venue excluded for a while.
    """

    def __init__(self, router: RoutingPass, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo],
                 lot_size: int, now: float, exclude: frozenset[str] = frozenset()) -> None:
        super().__init__(intent, market, venues, lot_size, now, exclude)
        self.router = router

    def _first(self) -> list[VenueOrder]:
        intent = self.intent
        orders = self.router.route(intent, self.market, self.venues, self.lot_size, self.started, self.exclude)
        routed = sum(o.qty for o in orders)
        if (intent.style is Style.AGGRESSIVE and routed < intent.qty
                and limit_out_of_reach(self.market, intent.symbol, intent.direction, intent.limit)):
            rest = dataclasses.replace(intent, qty=intent.qty - routed, style=Style.PASSIVE,
                                       reason=f"{intent.reason}; market beyond the limit: rest at the limit")
            # At the limit itself, not at the near touch the passive pass would join: the strategy asked to
            # take, and the limit is the most it may do (the far touch is beyond it, so nothing crosses).  A
            # child resting at the limit is one the engine does not pull when the strategy re-decides;
            # one at the touch was pulled and re-sent at every decision, thousands of times a minute.
            orders += [dataclasses.replace(o, price=intent.limit, reason=rest.reason) for o in
                       self.router.route(rest, self.market, self.venues, self.lot_size, self.started, self.exclude)]
        return orders
