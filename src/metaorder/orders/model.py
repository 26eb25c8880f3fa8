"""The engine's view of client orders and the parent meta-orders they are aggregated into.

Quantities are integer shares; prices are Decimal (client limits arrive as FIX decimals and are kept
exactly).  Pydantic validates at the FIX edge (normalize.py); here, on the hot path, plain slotted
classes.

A parent can hold tens of thousands of orders (a day of small orders aggregated into one), and the
execution engine asks for its ``wanted_qty`` on every tick: so a parent keeps its aggregates as
running sums (:class:`Children`), updated by every change of its list and of its orders' qty,
cum_qty and canceled, instead of summing over its orders each time (which made the engine's ticks
O(orders) and the daemon's work per order grow with the book).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, SupportsIndex

from mypy_extensions import mypyc_attr


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
    EXPIRED = "C"  # its ExpireTime (126), or a DAY order's trading day, ended before it was filled
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
    # The strategy's own TargetStrategyParameters (848) beyond Urgency and Aggressiveness, in one
    # canonical text ("MaxPOV=0.2;MinPOV=0.05": keys sorted, values as normalization rewrote them) so
    # that it can be part of the aggregation key and journaled as it is; "" when there are none.
    params: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) by its constructor: being frozen, it cannot be filled in after."""
        return Mandate, (self.strategy, self.urgency, self.aggressiveness, self.start_time, self.end_time,
                         self.participation_rate, self.params)


class ClientOrder:
    """One order as an OMS sent it, with its exact execution state.

    A plain slotted class rather than a dataclass because ``qty``, ``cum_qty`` and ``canceled``
    are properties: changing one tells every parent that counts the order (see
    :class:`ParentOrder`), whoever makes the change.  Equality is identity.
    """

    __slots__ = (
        "_canceled",
        "_counted_in",
        "_cum_qty",
        "_qty",
        "account",
        "arrival",
        "arrival_seq",
        "cl_ord_id",
        "expired",
        "limit",
        "mandate",
        "notional",
        "ord_type",
        "order_id",
        "orig_cl_ord_id",
        "parent_id",
        "session",
        "side",
        "symbol",
        "tif",
    )

    def __init__(
        self,
        order_id: str,  # ours (OrderID 37), unique across restarts
        session: str,  # source session: the counterparty CompID
        cl_ord_id: str,
        symbol: str,
        side: Side,
        qty: int,
        ord_type: OrderType,
        limit: Decimal | None,
        tif: TimeInForce,
        mandate: Mandate,
        arrival: float,  # when it was accepted (epoch seconds)
        arrival_seq: int,  # global arrival order: the deterministic tie-break of allocation
        cum_qty: int = 0,
        notional: Decimal = Decimal(0),  # sum of LastQty * LastPx: AvgPx = notional / cum_qty, exactly
        canceled: bool = False,
        parent_id: str | None = None,
        orig_cl_ord_id: str | None = None,
        account: str | None = None,
    ) -> None:
        self.order_id = order_id
        self.session = session
        self.cl_ord_id = cl_ord_id
        self.symbol = symbol
        self.side = side
        self._qty = qty
        self.ord_type = ord_type
        self.limit = limit
        self.tif = tif
        self.mandate = mandate
        self.arrival = arrival
        self.arrival_seq = arrival_seq
        self._cum_qty = cum_qty
        self.notional = notional
        self._canceled = canceled
        self.parent_id = parent_id
        self.orig_cl_ord_id = orig_cl_ord_id
        self.account = account
        self._counted_in: list[Children] = []  # one entry per occurrence in a parent's children
        self.expired = False  # ended because its ExpireTime or trading day passed (OrdStatus C rather than 4)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) as a blank order, then its attributes, when lists counting it
        refer back to it (it must exist before its state is read: pickle's BUILD step); an order no
        parent counts (most of a day's: finished) by one call of its constructor, which loads about
        twice as fast.  Not ``mypyc_attr(serializable=True)``: with it, mypyc 2.4 skipped
        ``__init__`` for an order made by Python code."""
        if not self._counted_in:
            return _finished_order, (
                self.order_id, self.session, self.cl_ord_id, self.symbol, self.side, self._qty, self.ord_type,
                self.limit, self.tif, self.mandate, self.arrival, self.arrival_seq, self._cum_qty, self.notional,
                self._canceled, self.parent_id, self.orig_cl_ord_id, self.account, self.expired)
        return _blank_order, (), (
            self.order_id, self.session, self.cl_ord_id, self.symbol, self.side, self._qty, self.ord_type,
            self.limit, self.tif, self.mandate, self.arrival, self.arrival_seq, self._cum_qty, self.notional,
            self._canceled, self.parent_id, self.orig_cl_ord_id, self.account, self._counted_in, self.expired)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (self.order_id, self.session, self.cl_ord_id, self.symbol, self.side, self._qty, self.ord_type,
         self.limit, self.tif, self.mandate, self.arrival, self.arrival_seq, self._cum_qty, self.notional,
         self._canceled, self.parent_id, self.orig_cl_ord_id, self.account, self._counted_in, self.expired) = state

    def __repr__(self) -> str:
        return (f"ClientOrder(order_id={self.order_id!r}, session={self.session!r}, cl_ord_id={self.cl_ord_id!r}, "
                f"symbol={self.symbol!r}, side={self.side}, qty={self._qty}, cum_qty={self._cum_qty}, "
                f"limit={self.limit}, canceled={self._canceled}, parent_id={self.parent_id!r})")

    # -- the three fields the parents' counters depend on ------------------------------------

    @property
    def qty(self) -> int:
        return self._qty

    @qty.setter
    def qty(self, value: int) -> None:
        self._change(value, self._cum_qty, self._canceled)

    @property
    def cum_qty(self) -> int:
        return self._cum_qty

    @cum_qty.setter
    def cum_qty(self, value: int) -> None:
        self._change(self._qty, value, self._canceled)

    @property
    def canceled(self) -> bool:
        return self._canceled

    @canceled.setter
    def canceled(self, value: bool) -> None:
        self._change(self._qty, self._cum_qty, value)

    def _change(self, qty: int, cum_qty: int, canceled: bool) -> None:
        counted = self._counted_in
        if counted:
            leaves_before, cum_before = self.leaves_qty, self._cum_qty
            self._qty, self._cum_qty, self._canceled = qty, cum_qty, canceled
            d_leaves, d_cum = self.leaves_qty - leaves_before, cum_qty - cum_before
            d_started = int(cum_qty > 0) - int(cum_before > 0)
            for children in counted:
                children.wanted += d_leaves
                children.cum += d_cum
                children.started += d_started
        else:
            self._qty, self._cum_qty, self._canceled = qty, cum_qty, canceled

    # -- derived -------------------------------------------------------------------------------

    @property
    def leaves_qty(self) -> int:
        if self._canceled:
            return 0
        leaves = self._qty - self._cum_qty
        return leaves if leaves > 0 else 0

    @property
    def avg_px(self) -> Decimal:
        return self.notional / self._cum_qty if self._cum_qty else Decimal(0)

    @property
    def status(self) -> OrderStatus:
        if self._cum_qty >= self._qty:
            return OrderStatus.FILLED
        if self._canceled:
            return OrderStatus.EXPIRED if self.expired else OrderStatus.CANCELED
        return OrderStatus.PARTIALLY_FILLED if self._cum_qty else OrderStatus.NEW

    def accepts_price(self, price: Decimal) -> bool:
        """Would a fill at ``price`` respect this order's limit?"""
        if self.limit is None:
            return True
        return price <= self.limit if self.side is Side.BUY else price >= self.limit


@mypyc_attr(native_class=False)  # compiled code cannot subclass this builtin natively
class Children(list[ClientOrder]):
    """A parent's client orders (a list, in arrival order) with three running sums kept exact:
    ``wanted`` = Σ leaves_qty and ``cum`` = Σ cum_qty of its members, and ``started`` = how many of
    them have some shares filled (cum_qty > 0): the open orders by status (new or partially
    filled) are then counted per parent, not per order, at every metrics scrape and ``ctl status``.

    Every way of changing the list goes through the overrides below, and every change of a
    member's qty, cum_qty or canceled goes through :meth:`ClientOrder._change`, which adjusts the
    sums of every list counting the order (once per occurrence, like a sum over the list).  So
    :attr:`ParentOrder.wanted_qty` and :attr:`ParentOrder.cum_qty` are O(1) however many orders a
    parent has, and always equal the sums (a unit test checks this after random operations, and
    ``ParentBook._check`` asserts it).
    """

    __slots__ = ("_window", "cum", "started", "wanted")

    def __init__(self, orders: Iterable[ClientOrder] = ()) -> None:
        super().__init__()
        self.wanted = 0
        self.cum = 0
        self.started = 0
        # (min start, min and max explicit end, min and max day anchor of those without an end, min
        # day anchor of those among them that end with their trading day (not GTC), min
        # participation rate) over the members, kept up to date by additions; None after a
        # removal: recomputed when asked.
        self._window: _Window | None = _EMPTY_WINDOW
        self.extend(orders)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) with its sums as they are: its members may be half-built
        while a snapshot is loaded (an order and the lists counting it refer to each other), so they
        are neither counted again nor looked at (:meth:`__setstate__`)."""
        return Children, (), (list(self), {name: getattr(self, name) for name in Children.__slots__})

    def __setstate__(self, state: tuple[list[ClientOrder], dict[str, Any]]) -> None:
        orders, sums = state
        for name, value in sums.items():
            setattr(self, name, value)
        super().extend(orders)

    def _count(self, order: ClientOrder) -> None:
        self.wanted += order.leaves_qty
        self.cum += order._cum_qty
        self.started += order._cum_qty > 0
        order._counted_in.append(self)
        if self._window is not None:
            self._window = _widen(self._window, order)

    def _uncount(self, order: ClientOrder) -> None:
        self.wanted -= order.leaves_qty
        self.cum -= order._cum_qty
        self.started -= order._cum_qty > 0
        order._counted_in.remove(self)
        self._window = None

    def window(self) -> _Window:
        """Over the members: (min start, min and max explicit end, min and max :func:`day_anchor` of
        those without an end, min day anchor of those without an end that are not GTC, min
        participation rate)."""
        window = self._window
        if window is None:
            window = _EMPTY_WINDOW
            for order in self:
                window = _widen(window, order)
            self._window = window
        return window

    def append(self, order: ClientOrder) -> None:
        super().append(order)
        self._count(order)

    def extend(self, orders: Iterable[ClientOrder]) -> None:
        for order in list(orders):
            self.append(order)

    def __iadd__(self, orders: Iterable[ClientOrder]) -> Children:  # type: ignore[override,misc]
        self.extend(orders)
        return self

    def insert(self, index: SupportsIndex, order: ClientOrder) -> None:
        super().insert(index, order)
        self._count(order)

    def remove(self, order: ClientOrder) -> None:
        super().remove(order)
        self._uncount(order)

    def pop(self, index: SupportsIndex = -1) -> ClientOrder:
        order = super().pop(index)
        self._uncount(order)
        return order

    def clear(self) -> None:
        for order in self:
            order._counted_in.remove(self)
        super().clear()
        self.wanted = 0
        self.cum = 0
        self.started = 0
        self._window = _EMPTY_WINDOW

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            old: list[ClientOrder] = list(super().__getitem__(index))
            new: list[ClientOrder] = list(value)
        else:
            old, new = [super().__getitem__(index)], [value]
        for order in old:
            self._uncount(order)
        super().__setitem__(index, value if not isinstance(index, slice) else new)
        for order in new:
            self._count(order)

    def __delitem__(self, index: Any) -> None:
        old: list[ClientOrder] = (list(super().__getitem__(index)) if isinstance(index, slice)
                                  else [super().__getitem__(index)])
        for order in old:
            self._uncount(order)
        super().__delitem__(index)

    def __imul__(self, n: SupportsIndex) -> Children:
        raise TypeError("a parent's children cannot be repeated")

    def _check(self) -> None:
        """The running sums equal the sums over the members."""
        assert self.wanted == sum(o.leaves_qty for o in self), (self.wanted, "wanted")
        assert self.cum == sum(o.cum_qty for o in self), (self.cum, "cum")
        assert self.started == sum(1 for o in self if o.cum_qty > 0), (self.started, "started")
        if self._window is not None:
            fresh = _EMPTY_WINDOW
            for order in self:
                fresh = _widen(fresh, order)
            assert self._window == fresh, (self._window, fresh)


#: See :meth:`Children.window`.
_Window = tuple[float | None, float | None, float | None, float | None, float | None, float | None, Decimal | None]
_EMPTY_WINDOW: _Window = (None, None, None, None, None, None, None)
_GTC = TimeInForce.GTC


def _widen(window: _Window, order: ClientOrder) -> _Window:
    start, end_lo, end_hi, anchor_lo, anchor_hi, day_lo, rate = window
    m = order.mandate
    s = m.start_time or order.arrival  # ``or``, as the engine reads it: a start of 0.0 means none
    if start is None or s < start:
        start = s
    e = m.end_time
    if e:
        if end_lo is None or e < end_lo:
            end_lo = e
        if end_hi is None or e > end_hi:
            end_hi = e
    else:
        a = day_anchor(order)
        if anchor_lo is None or a < anchor_lo:
            anchor_lo = a
        if anchor_hi is None or a > anchor_hi:
            anchor_hi = a
        if order.tif is not _GTC and (day_lo is None or a < day_lo):
            day_lo = a
    r = m.participation_rate
    if r is not None and (rate is None or r < rate):
        rate = r
    return start, end_lo, end_hi, anchor_lo, anchor_hi, day_lo, rate


def day_anchor(order: ClientOrder) -> float:
    """The instant whose trading day an order without ExpireTime is for: its EffectiveTime (168)
    when that is later than its arrival, else its arrival.  An order sent after the close with an
    EffectiveTime at tomorrow's open is for tomorrow: judged from its arrival, its day would end
    before its window began and the whole order would go at once at the open."""
    start = order.mandate.start_time
    return start if start and start > order.arrival else order.arrival


def end_of(order: ClientOrder, default_end: Callable[[float], float]) -> float | None:
    """When ``order`` is to be ended if still unfilled (None: not by time).

    Its ExpireTime (126) if it has one.  Without one, a GTC (59=1) order is good till canceled:
    never.  Any other — a DAY order (59=0 or no 59), and IOC/FOK, which metaorder works like DAY
    orders — is for its trading day: ``default_end(day_anchor(order))`` (the engine's
    :meth:`~metaorder.execution.engine.ExecutionSettings.default_end`).  Computed from what the
    client sent and the settings, never stored: the journal keeps the order as it came, and a
    restarted engine finds the same end.
    """
    end = order.mandate.end_time
    if end:  # ``or``-like, as _widen: an ExpireTime of 0.0 counts as none
        return end
    return None if order.tif is _GTC else default_end(day_anchor(order))


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
    # The strategy's own 848 parameters (Mandate.params): orders asking for a different risk
    # aversion or participation band cannot be worked as one.
    params: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) by its constructor: being frozen, it cannot be filled in after."""
        return ParentKey, (self.symbol, self.direction, self.strategy, self.urgency, self.limit, self.params)


class ParentOrder:
    """A meta-order: the aggregate of compatible client orders, worked as one."""

    __slots__ = ("_children", "created", "key", "parent_id", "working_qty")

    def __init__(self, parent_id: str, key: ParentKey, created: float,
                 children: Iterable[ClientOrder] = (), working_qty: int = 0) -> None:
        self.parent_id = parent_id
        self.key = key
        self.created = created
        self._children = Children(children)  # client orders, in arrival order
        self.working_qty = working_qty  # quantity out at venues in child orders (the execution pipeline keeps it)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) with its orders as they are (no re-counting while loading)."""
        return _blank_parent, (), (self.parent_id, self.key, self.created, self._children, self.working_qty)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.parent_id, self.key, self.created, self._children, self.working_qty = state

    def __repr__(self) -> str:
        return (f"ParentOrder(parent_id={self.parent_id!r}, key={self.key}, children={len(self._children)}, "
                f"wanted_qty={self.wanted_qty}, working_qty={self.working_qty})")

    @property
    def children(self) -> Children:
        return self._children

    @children.setter
    def children(self, orders: Iterable[ClientOrder]) -> None:
        self._children.clear()
        self._children.extend(orders)

    @property
    def wanted_qty(self) -> int:
        """What its orders still want: the parent never executes more than this.  O(1): a running sum."""
        return self._children.wanted

    @property
    def cum_qty(self) -> int:
        """What its orders have been filled, in all.  O(1): a running sum."""
        return self._children.cum

    def window(self, default_end: Callable[[float], float]) -> tuple[float, float, float]:
        """The parent's execution window over its orders: the earliest start (EffectiveTime, else
        arrival), and the earliest and the latest end (ExpireTime, else ``default_end(anchor)``: the
        engine's end of the trading day, :func:`metaorder.execution.tradingday.end_of_day`, of the
        order's :func:`day_anchor`, its arrival or its later EffectiveTime).

        The same as ``min(o.mandate.start_time or o.arrival ...)`` and ``min``/``max(o.mandate.end_time
        or default_end(o.arrival) ...)`` over the children, but O(1) while orders only join
        (recomputed once after an order leaves): ``default_end`` must never decrease with the
        arrival, so the earliest and the latest arrival give the earliest and the latest default end.
        Raises ValueError for a parent without orders.
        """
        start, end_lo, end_hi, anchor_lo, anchor_hi, _, _ = self._children.window()
        if start is None:
            raise ValueError(f"parent {self.parent_id} has no orders")
        lo = [e for e in (end_lo, None if anchor_lo is None else default_end(anchor_lo)) if e is not None]
        hi = [e for e in (end_hi, None if anchor_hi is None else default_end(anchor_hi)) if e is not None]
        return start, min(lo), max(hi)

    @property
    def earliest_expire_time(self) -> float | None:
        """The earliest ExpireTime (126) among its orders (None: none has one); O(1) like :meth:`window`.
        (An ExpireTime of 0.0, which normalization never accepts, counts as none.)"""
        return self._children.window()[1]

    def earliest_end(self, default_end: Callable[[float], float]) -> float | None:
        """The earliest instant at which one of its orders is to be ended unfilled (None: never, as far
        as the orders say): its ExpireTime (126), or for an order without one that is not GTC (59=1),
        ``default_end(day_anchor)``, the end of its trading day (see :func:`end_of`).  O(1) like
        :meth:`window`, so "is any order past its end?" costs nothing while none is; the engine
        wakes the parent up for it.  ``default_end`` must not decrease with the anchor."""
        _, end_lo, _, _, _, day_lo, _ = self._children.window()
        if day_lo is None:
            return end_lo
        day_end = default_end(day_lo)
        return day_end if end_lo is None or day_end < end_lo else end_lo

    @property
    def participation_rate(self) -> Decimal | None:
        """The smallest ParticipationRate (849) among its orders (None: none gave one); O(1) like
        :meth:`window`."""
        _, _, _, _, _, _, rate = self._children.window()
        return rate

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


_BLANK_MANDATE = Mandate()


def _blank_order() -> ClientOrder:
    """An order to unpickle into (:meth:`ClientOrder.__setstate__` fills in every attribute)."""
    return ClientOrder("", "", "", "", Side.BUY, 0, OrderType.MARKET, None, TimeInForce.DAY, _BLANK_MANDATE, 0.0, 0)


def _finished_order(order_id: str, session: str, cl_ord_id: str, symbol: str, side: Side, qty: int,
                    ord_type: OrderType, limit: Decimal | None, tif: TimeInForce, mandate: Mandate, arrival: float,
                    arrival_seq: int, cum_qty: int, notional: Decimal, canceled: bool, parent_id: str | None,
                    orig_cl_ord_id: str | None, account: str | None, expired: bool) -> ClientOrder:
    """An order no parent counts, unpickled (:meth:`ClientOrder.__reduce__`)."""
    order = ClientOrder(order_id, session, cl_ord_id, symbol, side, qty, ord_type, limit, tif, mandate, arrival,
                        arrival_seq, cum_qty, notional, canceled, parent_id, orig_cl_ord_id, account)
    order.expired = expired
    return order


def _blank_parent() -> ParentOrder:
    """A parent to unpickle into (:meth:`ParentOrder.__setstate__` fills in every attribute)."""
    return ParentOrder("", ParentKey("", 0, Strategy.TWAP, Urgency.MEDIUM, None), 0.0)
