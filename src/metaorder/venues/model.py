"""Plain data shared by the matching engines, the market simulator and the FIX venue servers.

Prices are integer ticks and quantities integer shares: exact arithmetic on the hot path; the FIX
edge converts Decimal prices with the instrument's tick size (and refuses what is not a multiple).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Side(enum.IntEnum):
    BUY = 1
    SELL = 2

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrdType(enum.Enum):
    """OrdType (40).  PEGGED exists only in dark pools: a midpoint peg (ExecInst 18=M), ``price`` its cap or None.

    In a dark pool every order already executes at the midpoint (a limit order is a capped peg, a
    market order an uncapped one); PEGGED is the name FIX gives that order, so a router can say what
    it means without relying on the pool's reading of a limit order.
    """

    MARKET = "1"
    LIMIT = "2"
    PEGGED = "P"


class TimeInForce(enum.Enum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"


@dataclass(slots=True, eq=False)
class Order:
    """An order inside a matching engine.  ``owner`` says who gets the execution reports."""

    order_id: str
    owner: str
    side: Side
    qty: int
    price: int | None  # ticks; None for market orders and uncapped pegs
    ord_type: OrdType = OrdType.LIMIT
    tif: TimeInForce = TimeInForce.DAY
    min_qty: int = 0
    cum_qty: int = 0
    cost: int = 0  # sum of fill price (ticks) * qty: AvgPx = cost / cum_qty, exactly
    seq: int = 0  # arrival sequence, set by the engine: time priority
    cancelled: bool = False
    tag: object = field(default=None, repr=False)  # the venue's own per-order record

    @property
    def leaves_qty(self) -> int:
        return 0 if self.cancelled else self.qty - self.cum_qty

    @property
    def done(self) -> bool:
        return self.cancelled or self.cum_qty >= self.qty


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution between a resting (maker) and an incoming (taker) order."""

    maker: Order
    taker: Order
    price: int  # ticks
    qty: int
