"""The engine's facts as typed events: one frozen class per kind of journal entry.

Why this module exists
----------------------
Everything the engine must remember is a fact it journals (an order accepted, a child placed,
a venue execution, ...), and several readers need those facts back: recovery at start-up, the
audit, the drop copy, TCA, and next the venue scorecard and metrics.  Journal entries used to be
a kind string and a dict, written in place by each producer and picked apart by each reader, and
the schema drifted (kinds documented that nothing wrote, kinds read that nothing emitted).  Here
each fact is a class with typed fields, written in one place and read by everyone; the one
translation between these classes and journal rows is :mod:`metaorder.eventcodec`.

Producers record events through narrow interfaces, never by writing journal rows: the intake's
:meth:`~metaorder.orders.intake.Intake.record` (which the execution engine and the operator's
actions use too).  Recovery is a fold: start-up decodes the journal once and hands each recorded
event to :meth:`Intake.apply <metaorder.orders.intake.Intake.apply>` and then
:meth:`ExecutionEngine.apply <metaorder.execution.engine.ExecutionEngine.apply>`, which match on
its class.

Conventions
-----------
* Frozen and slotted: an event is a value; whoever holds one may keep it.
* Money and prices are ``Decimal``, quantities ``int`` shares, times epoch seconds as ``float``,
  ids ``str``; sequences are tuples.  Enums come from :mod:`metaorder.orders.model` where one
  exists (a venue's liquidity indicator and reject texts stay strings: they are the venue's words).
* ``kind`` (a class variable) is the journal kind, unchanged from the journals written before these
  classes existed, so those journals read as they are (codec version 1).  It lives in a small
  slotted base of its own (``_OrderAcceptedKind``, ...) rather than in the dataclass: this module
  is compiled with mypyc (the intake records an event with every order), and mypyc cannot compile
  a ``ClassVar`` inside a dataclass (mypyc issues 740 and 1122).
* ``ids`` are the orders, parents and children the fact concerns: the journal's ``order_ids``
  (its audit index), exactly as the producers indexed them before.
* **No time in the event.**  The journal row carries the time of every entry (and its sequence
  number, the order in which things happened); an event is *what* happened, and recovery and the
  audit get *when* from the row (:class:`metaorder.eventcodec.Recorded`).  A time inside the
  payload would repeat the row's, and the journals already written have none.  Times that are
  part of the fact itself (an order's arrival, its mandate's window) are fields.
* A field with a default is one that older rows (or rows written by hand in tests) may lack; the
  default is what its absence means.  Writers always write every field.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from metaorder.orders.model import ClientOrder, Mandate, OrderType, Side, TimeInForce

__all__ = [
    "EVENT_TYPES",
    "ChildAcknowledged",
    "ChildCancelRejected",
    "ChildCancelRequested",
    "ChildCanceled",
    "ChildPlaced",
    "ChildRejected",
    "Crossed",
    "EngineStarted",
    "Event",
    "KillSwitchChanged",
    "MarketSample",
    "OrderAccepted",
    "OrderCanceled",
    "OrderExpired",
    "OrderRejected",
    "OrderReplaced",
    "ParentFilled",
    "ParentHalted",
    "ParentOverfilled",
    "PreTradeEstimate",
    "StrategyChosen",
    "VenueExecution",
    "VenueMarkout",
]


# --------------------------------------------------------------------------- client orders (the intake)


class _OrderAcceptedKind:
    __slots__ = ()
    kind: ClassVar[str] = "order.accepted"


@dataclass(frozen=True, slots=True)
class OrderAccepted(_OrderAcceptedKind):
    """An order passed normalization and risk: a snapshot of it as accepted, and the parent it joined.

    ``parent_id`` is None when the order crossed in full on arrival (it never joined a parent).
    A snapshot, not the live :class:`~metaorder.orders.model.ClientOrder` (which changes with every
    fill): the mandate is shared with the order, as it is immutable too.
    """

    order_id: str
    session: str
    cl_ord_id: str
    symbol: str
    side: Side
    qty: int
    ord_type: OrderType
    limit: Decimal | None
    tif: TimeInForce
    arrival: float
    arrival_seq: int
    mandate: Mandate
    account: str | None = None
    parent_id: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.order_id,) if self.parent_id is None else (self.order_id, self.parent_id)

    @staticmethod
    def of(order: ClientOrder, parent_id: str | None) -> OrderAccepted:
        """The event of ``order`` accepted into ``parent_id`` (its fields as they are now)."""
        return OrderAccepted(order.order_id, order.session, order.cl_ord_id, order.symbol, order.side, order.qty,
                             order.ord_type, order.limit, order.tif, order.arrival, order.arrival_seq,
                             order.mandate, order.account, parent_id)

    def to_order(self) -> ClientOrder:
        """A fresh ClientOrder as it was accepted (nothing filled yet): recovery's starting point."""
        return ClientOrder(
            order_id=self.order_id, session=self.session, cl_ord_id=self.cl_ord_id, symbol=self.symbol,
            side=self.side, qty=self.qty, ord_type=self.ord_type, limit=self.limit, tif=self.tif,
            mandate=self.mandate, arrival=self.arrival, arrival_seq=self.arrival_seq, account=self.account,
        )


class _OrderRejectedKind:
    __slots__ = ()
    kind: ClassVar[str] = "order.rejected"


@dataclass(frozen=True, slots=True)
class OrderRejected(_OrderRejectedKind):
    """A NewOrderSingle refused (normalization or risk); indexed as ``SESSION:ClOrdID``, as it has no OrderID.

    ``cl_ord_id`` is None when the message had none (that is then the reason).  ``reason`` is the
    OrdRejReason (103) sent to the client.
    """

    session: str
    cl_ord_id: str | None
    reason: int
    text: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (f"{self.session}:{self.cl_ord_id or ''}",)


class _OrderReplacedKind:
    __slots__ = ()
    kind: ClassVar[str] = "order.replaced"


@dataclass(frozen=True, slots=True)
class OrderReplaced(_OrderReplacedKind):
    """A cancel/replace accepted: the order's new ClOrdID, quantity and limit, and the parent it is in now.

    ``parent_id`` is None when the new terms crossed it in full; when it is the order's parent
    before the replace, the order kept its place there.
    """

    order_id: str
    cl_ord_id: str
    qty: int
    limit: Decimal | None
    parent_id: str | None
    orig_cl_ord_id: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.order_id,) if self.parent_id is None else (self.order_id, self.parent_id)


class _OrderCanceledKind:
    __slots__ = ()
    kind: ClassVar[str] = "order.canceled"


@dataclass(frozen=True, slots=True)
class OrderCanceled(_OrderCanceledKind):
    """An order canceled: by the client (``cl_ord_id`` is the cancel request's ClOrdID, which it
    now carries) or by the engine (cancel-on-disconnect, kill switch: ``reason`` says which, and
    ``cl_ord_id`` is the order's own)."""

    order_id: str
    cl_ord_id: str
    reason: str | None = None  # None: the client asked (the row then has no "reason")

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.order_id,)


class _OrderExpiredKind:
    __slots__ = ()
    kind: ClassVar[str] = "order.expired"


@dataclass(frozen=True, slots=True)
class OrderExpired(_OrderExpiredKind):
    """An order's ExpireTime passed with shares unfilled; ``text`` is what its report said."""

    order_id: str
    text: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.order_id,)


class _CrossedKind:
    __slots__ = ()
    kind: ClassVar[str] = "cross"


@dataclass(frozen=True, slots=True)
class Crossed(_CrossedKind):
    """Two client orders crossed internally (``market`` is ``INTERNAL``): both filled ``qty`` at ``price``."""

    incoming: str  # the order whose arrival (or replace) made the cross
    resting: str
    qty: int
    price: Decimal
    market: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.incoming, self.resting)


class _ParentFilledKind:
    __slots__ = ()
    kind: ClassVar[str] = "fill"


@dataclass(frozen=True, slots=True)
class ParentFilled(_ParentFilledKind):
    """A venue fill of a parent, allocated to its orders: ``allocations`` is (order id, shares) as computed.

    Recovery replays the split as journaled instead of recomputing it from a state that may differ.
    """

    parent_id: str
    qty: int
    price: Decimal
    market: str  # the venue (LastMkt)
    allocations: tuple[tuple[str, int], ...]

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, *(order_id for order_id, _ in self.allocations))


class _EngineStartedKind:
    __slots__ = ()
    kind: ClassVar[str] = "engine.started"


@dataclass(frozen=True, slots=True)
class EngineStarted(_EngineStartedKind):
    """A (re)start; its journal sequence number prefixes this run's ExecIDs and ClOrdIDs."""

    orders: int  # orders recovered from the journal

    @property
    def ids(self) -> tuple[str, ...]:
        return ()


class _KillSwitchChangedKind:
    __slots__ = ()
    kind: ClassVar[str] = "kill_switch"


@dataclass(frozen=True, slots=True)
class KillSwitchChanged(_KillSwitchChangedKind):
    """An operator engaged or released a kill switch: one session's (``session``) or the global one (None).

    Not journaled before codec version 1 was fixed (there are no such rows in older journals).
    """

    engaged: bool
    reason: str
    session: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return () if self.session is None else (self.session,)


# --------------------------------------------------------------------------- parents and children (the engine)


class _StrategyChosenKind:
    __slots__ = ()
    kind: ClassVar[str] = "parent.strategy"


@dataclass(frozen=True, slots=True)
class StrategyChosen(_StrategyChosenKind):
    """The strategy a parent is worked with is not the one its orders asked for (not available yet)."""

    parent_id: str
    requested: str  # Strategy names ("VWAP"), as the strategy registry knows them
    used: str
    text: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id,)


class _PreTradeEstimateKind:
    __slots__ = ()
    kind: ClassVar[str] = "parent.estimate"


@dataclass(frozen=True, slots=True)
class PreTradeEstimate(_PreTradeEstimateKind):
    """The Almgren–Chriss estimate an IS parent was planned with (what ``metaorder estimate``
    prints), so TCA can hold the realized cost against it.  Model figures: floats, dollars."""

    parent_id: str
    strategy: str  # "IS"
    qty: int  # shares the plan is for
    horizon_s: float
    periods: int
    risk_aversion: float  # λ, per dollar
    kappa: float  # per second
    expected_cost: float  # E, dollars
    std_cost: float  # sqrt(Var), dollars
    arrival_price: Decimal | None  # the benchmark: the mid when the parent started (None: no quote)

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id,)


class _ChildPlacedKind:
    __slots__ = ()
    kind: ClassVar[str] = "child.placed"


@dataclass(frozen=True, slots=True)
class ChildPlaced(_ChildPlacedKind):
    """A child order created for a parent, journaled before its NewOrderSingle leaves.

    ``price`` None is a market order; ``expected_cost`` is the router's per-share estimate, fees
    included (None: not recorded).  ``peg``: a midpoint peg (``price`` its cap); ``min_qty`` its
    MinQty; ``mid`` the consolidated mid when it was sent (the venue scorecard's reference for price
    improvement, None: no two-sided quote); ``routing`` the routing logic that placed it ("" in rows
    written before there were several).
    """

    parent_id: str
    child_id: str
    venue: str
    symbol: str
    side: Side
    qty: int
    price: Decimal | None
    ioc: bool
    reason: str = ""
    expected_cost: Decimal | None = None
    peg: bool = False
    min_qty: int = 0
    mid: Decimal | None = None
    routing: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ChildAcknowledgedKind:
    __slots__ = ()
    kind: ClassVar[str] = "child.acked"


@dataclass(frozen=True, slots=True)
class ChildAcknowledged(_ChildAcknowledgedKind):
    """The venue acknowledged a child (ExecType 0), under its own order id."""

    parent_id: str
    child_id: str
    venue: str
    venue_order_id: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ChildCancelRequestedKind:
    __slots__ = ()
    kind: ClassVar[str] = "child.cancel_requested"


@dataclass(frozen=True, slots=True)
class ChildCancelRequested(_ChildCancelRequestedKind):
    """The engine asked a venue to cancel a child (each request has its own ClOrdID, never reused)."""

    parent_id: str
    child_id: str
    venue: str
    reason: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ChildCancelRejectedKind:
    __slots__ = ()
    kind: ClassVar[str] = "child.cancel_rejected"


@dataclass(frozen=True, slots=True)
class ChildCancelRejected(_ChildCancelRejectedKind):
    """A venue refused to cancel a child (OrderCancelReject 9): the scorecard's cancel-reject rate."""

    parent_id: str
    child_id: str
    venue: str
    text: str = ""

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ChildCanceledKind:
    __slots__ = ()
    kind: ClassVar[str] = "child.canceled"


@dataclass(frozen=True, slots=True)
class ChildCanceled(_ChildCanceledKind):
    """A child is done at its venue with ``leaves_qty`` unexecuted (None: not recorded).

    ``reason`` and ``text`` are both the venue's Text (58), as journaled since codec version 1.
    """

    parent_id: str
    child_id: str
    venue: str
    reason: str = ""
    text: str = ""
    leaves_qty: int | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ChildRejectedKind:
    __slots__ = ()
    kind: ClassVar[str] = "child.rejected"


@dataclass(frozen=True, slots=True)
class ChildRejected(_ChildRejectedKind):
    """The venue rejected a child (OrdStatus 8); fields as :class:`ChildCanceled`."""

    parent_id: str
    child_id: str
    venue: str
    reason: str = ""
    text: str = ""
    leaves_qty: int | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _VenueExecutionKind:
    __slots__ = ()
    kind: ClassVar[str] = "venue.execution"


@dataclass(frozen=True, slots=True)
class VenueExecution(_VenueExecutionKind):
    """One execution of a child at its venue, counted once (by ExecID and by the venue's CumQty).

    ``exec_id`` is the venue's, or ``VENUE:reconciled:ID`` for executions learned from a status
    report.  ``liquidity`` is LastLiquidityInd (851) as sent ("" when absent); ``fee`` the venue's
    Commission (12), None when it sent none or an unreadable one (journals written before the venue
    adapter stored the raw text: an unreadable one there also reads as None).
    """

    parent_id: str
    child_id: str
    venue: str
    exec_id: str
    qty: int
    price: Decimal
    liquidity: str = ""
    fee: Decimal | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _VenueMarkoutKind:
    __slots__ = ()
    kind: ClassVar[str] = "venue.markout"


@dataclass(frozen=True, slots=True)
class VenueMarkout(_VenueMarkoutKind):
    """How the market moved after one execution: the consolidated mid at the fill and at each
    horizon after it (seconds), journaled once the last horizon has passed.

    The venue scorecard learns adverse selection and information leakage from these, and rebuilds
    them after a restart from the journal: a mid that was seen is never lost, and one not yet seen
    at a crash cannot be seen afterwards (the markout of a fill younger than its last horizon is
    dropped, not invented).  ``side`` is ours; ``fill_mid`` None: no two-sided quote at the fill.
    """

    parent_id: str
    child_id: str
    venue: str
    symbol: str
    side: Side
    qty: int
    price: Decimal
    fill_mid: Decimal | None
    mids: tuple[tuple[float, Decimal], ...]  # (horizon in seconds, mid then), shortest first

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ParentOverfilledKind:
    __slots__ = ()
    kind: ClassVar[str] = "parent.overfill"


@dataclass(frozen=True, slots=True)
class ParentOverfilled(_ParentOverfilledKind):
    """A venue execution beyond what the parent's orders still wanted: ``qty`` shares were not allocated."""

    parent_id: str
    child_id: str
    venue: str
    qty: int
    price: Decimal
    text: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id, self.child_id)


class _ParentHaltedKind:
    __slots__ = ()
    kind: ClassVar[str] = "parent.halted"


@dataclass(frozen=True, slots=True)
class ParentHalted(_ParentHaltedKind):
    """The parent/child control halted a parent: no new children until an operator looks."""

    parent_id: str
    text: str

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.parent_id,)


# --------------------------------------------------------------------------- the market (the engine)


class _MarketSampleKind:
    __slots__ = ()
    kind: ClassVar[str] = "market.sample"


@dataclass(frozen=True, slots=True)
class MarketSample(_MarketSampleKind):
    """The consolidated market of one symbol as the engine saw it: best bid and ask (None: that side
    empty) and the tape's cumulative volume and notional since the engine started.

    Journaled at most once per ``market_sample_s`` per symbol, and only when something changed, so
    post-trade analysis (``metaorder tca``) has a market tape — the mid at any instant, the interval
    VWAP as Δnotional/Δvolume between two samples — without a journal write per quote.  Nothing is
    rebuilt from it (recovery folds skip it).  Indexed under ``market:SYMBOL``: one range scan reads
    a symbol's tape.  The cumulative figures restart from zero with the engine (a new
    ``engine.started``): readers take differences between samples of one run only.
    """

    symbol: str
    bid: Decimal | None
    ask: Decimal | None
    volume: int
    notional: Decimal

    @property
    def ids(self) -> tuple[str, ...]:
        return (f"market:{self.symbol}",)

    @property
    def mid(self) -> Decimal | None:
        """(bid + ask)/2, None when one-sided, locked or crossed (as the engine's market view says)."""
        bid, ask = self.bid, self.ask
        if bid is None or ask is None or bid >= ask:
            return None
        return (bid + ask) / 2


#: Any event (match on it: mypy checks the cases are exhaustive).
Event = (
    OrderAccepted | OrderRejected | OrderReplaced | OrderCanceled | OrderExpired | Crossed | ParentFilled
    | EngineStarted | KillSwitchChanged | StrategyChosen | ChildPlaced | ChildAcknowledged
    | ChildCancelRequested | ChildCanceled | ChildRejected | VenueExecution | ParentOverfilled | ParentHalted
    | PreTradeEstimate | ChildCancelRejected | VenueMarkout | MarketSample
)

#: Every event class, in the order above (the codec's registry is built from it).
EVENT_TYPES: tuple[type[Event], ...] = (
    OrderAccepted, OrderRejected, OrderReplaced, OrderCanceled, OrderExpired, Crossed, ParentFilled,
    EngineStarted, KillSwitchChanged, StrategyChosen, ChildPlaced, ChildAcknowledged,
    ChildCancelRequested, ChildCanceled, ChildRejected, VenueExecution, ParentOverfilled, ParentHalted,
    PreTradeEstimate, ChildCancelRejected, VenueMarkout, MarketSample,
)
