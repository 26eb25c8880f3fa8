"""What the routing logics know about a venue beyond its configuration: the interface of the scorecard.

Why this module exists
----------------------
The sequential, parallel and liquidity-seeking logics rank venues by what an order *will probably*
do there — fill or not, how much, at what all-in cost — and that is learned from our own child orders
by the venue scorecard (``scorecard.py``).  They read it through :class:`VenueEstimates` only, so a
logic is tested against hand-made estimates, and the scorecard is tested against hand-computed
cases, each without the other.  :class:`PriorEstimates` is what the configuration alone says (the
scorecard's starting point, and what a logic sees before anything is learned).

Conventions: probabilities and expected shares are model estimates (``float``); costs per share are
``Decimal`` in the instrument's price units, positive is bad (a rebate is negative), so they add to a
price exactly as the best-price router's fees do.  A logic's all-in cost of a share is
side x (price it will pay - mid), read from the live book, plus ``cost_per_share``.  Ask with the kind
of the order that will be sent (:meth:`OrderKind.of`): a resting and an IOC midpoint order fill at
rates an order of magnitude apart.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from metaorder.execution.types import VenueInfo, VenueKind


class OrderKind(enum.Enum):
    """What kind of child order an estimate is about (fill rates differ by kind more than by venue)."""

    PASSIVE = "passive"  # a lit limit order resting at the near touch
    IOC = "ioc"  # a lit order taking displayed liquidity (immediate or cancel)
    MIDPOINT = "midpoint"  # a dark midpoint peg (or a pool's limit order) that rests
    # An IOC midpoint order: it only meets the contra interest already resting in the pool, where a
    # resting peg also meets what arrives while it waits.  Their fill rates differ by an order of
    # magnitude, so one Kaplan-Meier curve over both would be biased for each: a kind of its own.
    MIDPOINT_IOC = "midpoint_ioc"

    @property
    def dark(self) -> bool:
        """A midpoint order (resting or IOC): its fills are censored, learned by Kaplan-Meier."""
        return self is OrderKind.MIDPOINT or self is OrderKind.MIDPOINT_IOC

    @staticmethod
    def of(info: VenueInfo | None, ioc: bool, peg: bool) -> OrderKind:
        """The kind of a child sent to ``info`` (an unknown venue counts as lit)."""
        if peg or (info is not None and info.kind is VenueKind.DARK):
            return OrderKind.MIDPOINT_IOC if ioc else OrderKind.MIDPOINT
        return OrderKind.IOC if ioc else OrderKind.PASSIVE


class VenueEstimates(Protocol):
    """Per venue x instrument x kind of order: what the router expects an order to do there."""

    def fill_probability(self, venue: str, symbol: str, kind: OrderKind) -> float:
        """The chance that an order of this kind gets any fill before it ends (0..1)."""
        ...

    def expected_fill(self, venue: str, symbol: str, kind: OrderKind, qty: int) -> float:
        """The shares of an order of ``qty`` expected to fill before it ends (0..qty).

        For a dark pool this is the censored-data estimate: what it shows of its liquidity is
        min(what we sent, what was there)."""
        ...

    def cost_per_share(self, venue: str, symbol: str, kind: OrderKind) -> Decimal:
        """What a share that fills costs beyond its price: fee (or rebate) plus adverse selection
        (the mid's move against us after the fill).

        Not the price against the mid: a logic prices that from the live book (the touch it takes or
        joins, the midpoint), so an estimate of it here would count the half spread twice."""
        ...

    def latency_ms(self, venue: str) -> float:
        """Order-to-acknowledgement round trip, measured (the configured value until measured)."""
        ...

    def reject_rate(self, venue: str) -> float:
        """Share of orders the venue rejects (0..1)."""
        ...


@dataclass(frozen=True, slots=True)
class FillPriors:
    """Fill probabilities assumed before anything is learned (``[scorecard]`` in the configuration).

    Orders of magnitude, not calibrations: a marketable IOC at a displayed price mostly fills, a
    passive order at the touch about half the time before it is pulled, a midpoint order in a dark
    pool rarely while it rests, and an IOC midpoint order (only what already rests there) more rarely
    still (the simulated pools' contra interest, and real pools' typical fill rates)."""

    passive: float = 0.5
    ioc: float = 0.9
    midpoint: float = 0.3
    midpoint_ioc: float = 0.2

    def of(self, kind: OrderKind) -> float:
        if kind is OrderKind.PASSIVE:
            return self.passive
        if kind is OrderKind.IOC:
            return self.ioc
        return self.midpoint if kind is OrderKind.MIDPOINT else self.midpoint_ioc


def fee_of(info: VenueInfo, kind: OrderKind) -> Decimal:
    """The configured fee per share for a kind of order: taking pays the taker fee; resting and
    midpoint orders the maker fee (a dark pool's two fees are usually the same)."""
    return info.taker_fee if kind is OrderKind.IOC else info.maker_fee


@dataclass(frozen=True, slots=True)
class PriorEstimates:
    """What the configuration alone says: the priors' fill rates, the fees, the configured latency."""

    venues: Mapping[str, VenueInfo]
    priors: FillPriors = FillPriors()

    def fill_probability(self, venue: str, symbol: str, kind: OrderKind) -> float:
        return self.priors.of(kind)

    def expected_fill(self, venue: str, symbol: str, kind: OrderKind, qty: int) -> float:
        return self.priors.of(kind) * qty

    def cost_per_share(self, venue: str, symbol: str, kind: OrderKind) -> Decimal:
        info = self.venues.get(venue)
        return fee_of(info, kind) if info is not None else Decimal(0)

    def latency_ms(self, venue: str) -> float:
        info = self.venues.get(venue)
        return info.latency_ms if info is not None else 0.0

    def reject_rate(self, venue: str) -> float:
        return 0.0
