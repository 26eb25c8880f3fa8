"""Plain data shared by the execution pipeline: market view, strategies, router, child orders.

The pipeline is a chain of pure functions of (state, market view, ``now``):

    parent order --strategy--> Intent --router--> VenueOrder(s) --venue sessions--> fills

Strategies never know venues; routers never know schedules.  Prices are ``Decimal`` (what the
venues speak on FIX), quantities integer shares.  ``direction`` is +1 buying and -1 selling
(sell short included): the same convention as :class:`metaorder.orders.model.ParentKey`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


class VenueKind(enum.Enum):
    LIT = "lit"
    DARK = "dark"


class Routing(enum.Enum):
    """How an intent's child orders are spread over venues (router.py's module docstring).

    Chosen per order by 848 ``Routing=`` or, without it, from its Urgency and Aggressiveness by
    ``[routing]`` in the configuration."""

    BEST = "BEST"  # one best-price pass over the lit books (the baseline)
    SEQUENTIAL = "SEQUENTIAL"  # one venue at a time, cheapest expected cost first: lowest fees
    PARALLEL = "PARALLEL"  # several venues at once, lit at the touch and dark at the midpoint: speed
    SEEK = "SEEK"  # dark pools first at the midpoint with MinQty, lit only for the rest: least impact


class VenueStatus(enum.Enum):
    """What the engine knows of a venue's trading status (TradingSessionStatus 340 and the session)."""

    OPEN = "open"
    HALTED = "halted"
    CLOSED = "closed"
    DISCONNECTED = "disconnected"


class Style(enum.Enum):
    """How a slice may be worked: resting at the near touch, or taking liquidity."""

    PASSIVE = "passive"  # post at the near touch (join the bid when buying); earns the maker fee
    AGGRESSIVE = "aggressive"  # cross the spread up to the limit (IOC); pays the taker fee


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    size: int


@dataclass(slots=True)
class VenueBook:
    """One venue's view of one instrument, as rebuilt from its market data."""

    venue: str
    symbol: str
    bids: list[Level] = field(default_factory=list)  # best (highest) first
    asks: list[Level] = field(default_factory=list)  # best (lowest) first
    updated: float = 0.0  # when the engine last heard from this book (epoch seconds)

    @property
    def best_bid(self) -> Level | None:
        return self.bids[0] if self.bids else None

    @property
    def best_ask(self) -> Level | None:
        return self.asks[0] if self.asks else None


@dataclass(frozen=True, slots=True)
class VenueInfo:
    """Static facts about a venue, from the engine's configuration."""

    name: str
    kind: VenueKind
    maker_fee: Decimal = Decimal(0)  # per share; negative is a rebate
    taker_fee: Decimal = Decimal(0)  # per share
    latency_ms: float = 0.0  # expected order-to-ack round trip (the configured prior; the scorecard measures it)
    # Its rules, from the configuration, so that the router never sends what the venue will reject:
    min_order_qty: int = 1  # smallest OrderQty (a block pool's minimum size)
    max_order_qty: int | None = None  # largest OrderQty (None: no limit)
    max_notional: Decimal | None = None  # largest OrderQty x Price (None: no limit)
    # Takes orders that are not whole lots (odd and mixed lots).  Only such venues get a parent's
    # odd remainder; elsewhere child orders are whole lots.  False unless the configuration says so.
    odd_lots: bool = False
    order_types: frozenset[str] = frozenset({"limit", "market"})  # and "pegged": midpoint pegs (40=P, 18=M)
    time_in_force: frozenset[str] = frozenset({"day", "gtc", "ioc", "fok"})
    allow_min_qty: bool = True  # accepts MinQty (110)

    @property
    def midpoint(self) -> bool:
        """Takes midpoint pegged orders (OrdType P with ExecInst M)."""
        return "pegged" in self.order_types

    @property
    def ioc(self) -> bool:
        return "ioc" in self.time_in_force

    def max_qty_at(self, price: Decimal | None, lot_size: int = 1) -> int:
        """The most this venue takes in one order at ``price`` (whole lots), by its size and notional
        limits; a large quantity is split or capped by the router rather than rejected here."""
        cap = self.max_order_qty if self.max_order_qty is not None else 1 << 62
        if self.max_notional is not None and price is not None and price > 0:
            cap = min(cap, int(self.max_notional / price))
        return cap - cap % lot_size if lot_size > 1 else cap

    def refuses(self, qty: int, price: Decimal | None, lot_size: int = 1, *, ioc: bool = False, peg: bool = False,
                min_qty: int = 0) -> str | None:
        """Why this venue would reject such an order (None: it would not): checked before sending."""
        kind = "pegged" if peg else ("market" if price is None else "limit")
        if kind not in self.order_types:
            return f"{self.name} does not take {kind} orders"
        tif = "ioc" if ioc else "day"
        if tif not in self.time_in_force:
            return f"{self.name} does not take TimeInForce {tif}"
        if min_qty and not self.allow_min_qty:
            return f"{self.name} does not take MinQty"
        if qty < self.min_order_qty:
            return f"{qty} is below {self.name}'s minimum order size {self.min_order_qty}"
        if self.max_order_qty is not None and qty > self.max_order_qty:
            return f"{qty} is above {self.name}'s maximum order size {self.max_order_qty}"
        if self.max_notional is not None and price is not None and qty * price > self.max_notional:
            return f"{qty} x {price} is above {self.name}'s maximum notional {self.max_notional}"
        if lot_size > 1 and qty % lot_size and not self.odd_lots:
            return f"{qty} is not whole lots of {lot_size} and {self.name} takes no odd lots"
        return None


class MarketView(Protocol):
    """The consolidated market as the engine sees it now (read-only for strategies and routers)."""

    def book(self, venue: str, symbol: str) -> VenueBook | None: ...

    def books(self, symbol: str) -> list[VenueBook]:
        """Books of lit venues that are open and fresh, for ``symbol``."""
        ...

    def status(self, venue: str) -> VenueStatus: ...

    def best_bid(self, symbol: str) -> Decimal | None:
        """Highest bid over the open lit venues."""
        ...

    def best_ask(self, symbol: str) -> Decimal | None: ...

    def mid(self, symbol: str) -> Decimal | None:
        """Midpoint of the consolidated quote, when two-sided and uncrossed (exact: may be a half tick)."""
        ...

    def volume(self, symbol: str) -> int:
        """Shares traded in ``symbol`` on all venues since the engine started watching (trades, 269=2)."""
        ...

    def vwap(self, symbol: str) -> Decimal | None:
        """Volume-weighted average price of those trades."""
        ...


@dataclass(frozen=True, slots=True)
class ParentState:
    """What a strategy needs to know about a parent, at one instant."""

    parent_id: str
    symbol: str
    direction: int  # +1 buy, -1 sell
    target_qty: int  # what the parent's orders want in total: filled + still wanted
    filled_qty: int  # executed at venues so far (internal crosses shrink target_qty instead)
    working_qty: int  # out at venues now, not yet filled
    limit: Decimal | None
    start_time: float
    end_time: float
    participation_rate: Decimal | None = None  # max share of market volume (0..1), None: no cap
    urgency: str = "MEDIUM"
    aggressiveness: str = "NEUTRAL"
    lot_size: int = 1
    # TargetStrategyParameters (848) beyond Urgency and Aggressiveness, as normalization accepted
    # them (keys and canonical values, sorted): the strategy's own parameters, e.g. RiskAversion.
    params: tuple[tuple[str, str], ...] = ()
    # Shares of this parent executed on lit venues: those are prints on the public tape, so they are
    # in ``MarketView.volume``; a participation rule subtracts them (not ``filled_qty``, which also
    # counts dark fills, which do not print) to find the others' volume.
    printed_qty: int = 0

    def param(self, key: str) -> str | None:
        """The 848 value of ``key`` (None: the client did not give it)."""
        for name, value in self.params:
            if name == key:
                return value
        return None

    @property
    def remaining_qty(self) -> int:
        """Still to execute, whether out at venues or not."""
        return max(self.target_qty - self.filled_qty, 0)

    @property
    def unworked_qty(self) -> int:
        """Neither filled nor out at venues: what a strategy may send now."""
        return max(self.target_qty - self.filled_qty - self.working_qty, 0)


@dataclass(frozen=True, slots=True)
class Intent:
    """A strategy's decision: get ``qty`` more of ``parent_id`` executed, this way, now."""

    parent_id: str
    symbol: str
    direction: int
    qty: int
    limit: Decimal | None  # never trade beyond this (the parent's limit, or tighter)
    style: Style
    reason: str = ""  # one line for the audit trail: why this slice, now
    routing: Routing = Routing.BEST  # the parent's routing logic (set by the engine, not the strategy)


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """A router's decision: one child order for one venue."""

    venue: str
    symbol: str
    direction: int
    qty: int
    price: Decimal | None  # None: market order
    ioc: bool  # True: immediate-or-cancel; False: rests (DAY)
    min_qty: int = 0  # MinQty (110): in a dark pool, the least any one fill may be (no small pings)
    peg: bool = False  # a midpoint peg (OrdType P, ExecInst M): ``price`` is then its cap (None: none)
    expected_cost: Decimal = Decimal(0)  # the router's estimate, per share, fees included (for the audit)
    reason: str = ""  # why this order, when it says more than its intent's reason (journaled with the child)
