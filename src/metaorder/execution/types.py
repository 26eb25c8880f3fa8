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
    latency_ms: float = 0.0  # expected order-to-ack round trip
    min_qty: int = 0  # a dark pool's minimum size (0: none)
    # Takes orders that are not whole lots (odd and mixed lots).  Only such venues get a parent's
    # odd remainder; elsewhere child orders are whole lots.  False unless the configuration says so.
    odd_lots: bool = False


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


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """A router's decision: one child order for one venue."""

    venue: str
    symbol: str
    direction: int
    qty: int
    price: Decimal | None  # None: market order
    ioc: bool  # True: immediate-or-cancel; False: rests (DAY)
    min_qty: int = 0
    expected_cost: Decimal = Decimal(0)  # the router's estimate, per share, fees included (for the audit)
    reason: str = ""  # why this order, when it says more than its intent's reason (journaled with the child)
