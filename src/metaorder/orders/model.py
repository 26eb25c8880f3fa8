"""The engine's view of client orders and the parent meta-orders they are aggregated into.

Quantities are integer shares; prices are Decimal (client limits arrive as FIX decimals and are kept
exactly).  Pydantic validates at the FIX edge (normalize.py); here, on the hot path, plain slotted
dataclasses.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


class Side(enum.Enum):
    BUY = "1"
    SELL = "2"
    SELL_SHORT = "5"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def direction(self) -> int:
        """+1 buying, -1 selling (short or not): what aggregation and netting look at."""
        return self.sign


class Strategy(enum.Enum):
    """TargetStrategy (847) values metaorder understands."""

    VWAP = "1"
    POV = "2"
    TWAP = "1000"
    IS = "1001"


class Urgency(enum.Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class Aggressiveness(enum.Enum):
    PASSIVE = "PASSIVE"
    NEUTRAL = "NEUTRAL"
    AGGRESSIVE = "AGGRESSIVE"


class OrderType(enum.Enum):
    MARKET = "1"
    LIMIT = "2"


class TimeInForce(enum.Enum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class OrderStatus(enum.Enum):
    """OrdStatus (39) of a client order."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REJECTED = "8"


@dataclass(frozen=True, slots=True)
class Mandate:
    """How the client wants the order worked (FIX 4.4 algorithmic fields, see README)."""

    strategy: Strategy = Strategy.TWAP
    urgency: Urgency = Urgency.MEDIUM
    aggressiveness: Aggressiveness = Aggressiveness.NEUTRAL
    start_time: float | None = None  # EffectiveTime (168)
    end_time: float | None = None  # ExpireTime (126)
    participation_rate: Decimal | None = None  # ParticipationRate (849), a fraction 0..1


@dataclass(slots=True, eq=False)
class ClientOrder:
    """One order as an OMS sent it, with its exact execution state."""

    order_id: str  # ours (OrderID 37), unique across restarts
    session: str  # source session: the counterparty CompID
    cl_ord_id: str
    symbol: str
    side: Side
    qty: int
    ord_type: OrderType
    limit: Decimal | None
    tif: TimeInForce
    mandate: Mandate
    arrival: float  # when it was accepted (epoch seconds)
    arrival_seq: int  # global arrival order: the deterministic tie-break of allocation
    cum_qty: int = 0
    notional: Decimal = Decimal(0)  # sum of LastQty * LastPx: AvgPx = notional / cum_qty, exactly
    canceled: bool = False
    parent_id: str | None = None
    orig_cl_ord_id: str | None = None
    account: str | None = None

    @property
    def leaves_qty(self) -> int:
        return 0 if self.canceled else max(self.qty - self.cum_qty, 0)

    @property
    def avg_px(self) -> Decimal:
        return self.notional / self.cum_qty if self.cum_qty else Decimal(0)

    @property
    def status(self) -> OrderStatus:
        if self.cum_qty >= self.qty:
            return OrderStatus.FILLED
        if self.canceled:
            return OrderStatus.CANCELED
        return OrderStatus.PARTIALLY_FILLED if self.cum_qty else OrderStatus.NEW

    def accepts_price(self, price: Decimal) -> bool:
        """Would a fill at ``price`` respect this order's limit?"""
        if self.limit is None:
            return True
        return price <= self.limit if self.side is Side.BUY else price >= self.limit


@dataclass(frozen=True, slots=True)
class ParentKey:
    """Orders are aggregated when all of these agree.

    The limit is part of the key: every order of a parent has the same limit (or none), so every
    price the parent can trade at respects every one of its orders, and a strategy working the
    parent never needs to know which of its orders a fill may go to.
    """

    symbol: str
    direction: int  # +1 buy, -1 sell (sell and sell short aggregate together)
    strategy: Strategy
    urgency: Urgency
    limit: Decimal | None


@dataclass(slots=True, eq=False)
class ParentOrder:
    """A meta-order: the aggregate of compatible client orders, worked as one."""

    parent_id: str
    key: ParentKey
    created: float
    children: list[ClientOrder] = field(default_factory=list)  # client orders, in arrival order
    working_qty: int = 0  # quantity out at venues in child orders (the execution pipeline keeps it)

    @property
    def wanted_qty(self) -> int:
        """What its orders still want: the parent never executes more than this."""
        return sum(o.leaves_qty for o in self.children)

    @property
    def cum_qty(self) -> int:
        return sum(o.cum_qty for o in self.children)

    @property
    def done(self) -> bool:
        return self.wanted_qty == 0


@dataclass(frozen=True, slots=True)
class Allocation:
    """One client order's share of an execution."""

    order: ClientOrder
    qty: int
    price: Decimal
    market: str  # LastMkt: the venue, or INTERNAL for an internal cross
