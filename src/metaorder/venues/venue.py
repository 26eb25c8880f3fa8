"""A simulated venue's order entry, as sans-IO code: FIX requests in, execution reports out.

:class:`LitVenue` owns one :class:`~metaorder.venues.matching.OrderBook` per instrument and speaks
FIX 4.4 order entry the way an exchange does: NewOrderSingle, OrderCancelRequest,
OrderCancelReplaceRequest and OrderStatusRequest in; ExecutionReports with ExecType, OrdStatus,
CumQty, LeavesQty, AvgPx, LastMkt, LastLiquidityInd and the fee charged (Commission 12, CommType 13)
out; OrderCancelReject when a cancel or replace comes too late or names no order.

Everything it decides is returned as :class:`Outbound` messages stamped with the instant they are
due (``now`` plus the venue's acknowledgement or fill latency); the FIX server delivers them then.
Bad input — an unknown symbol, a price off the tick grid, a size outside the rules of engagement, a
halted venue — is refused with a reject whose Text names the rule, and leaves the book untouched.

Pegged orders (dark pools only): FIX 4.4 spells a midpoint peg OrdType (40) = P with ExecInst (18)
containing M; Price (44), if present, caps it.  A venue whose rules list ``OrdType.PEGGED`` takes
exactly that and refuses any other peg (market, primary, VWAP ... pegs, a peg offset) with a Text
that says what it accepts, rather than silently treating it as a midpoint peg.  Reports of a peg
echo 40=P and 18=M.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from metaorder.fix.codec import FieldValue, Message, format_utc_timestamp
from metaorder.venues.dark import DarkFill, DarkPool
from metaorder.venues.matching import Execution, OrderBook
from metaorder.venues.model import Fill, Order, OrdType, Side, TimeInForce

Fields = list[tuple[int, FieldValue]]

#: Owner of the market simulator's background orders: fills against them are not reported to anyone.
BACKGROUND = "BG"


class VenueStatus(enum.Enum):
    """TradSesStatus (340)."""

    HALTED = "1"
    OPEN = "2"
    CLOSED = "3"


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    tick_size: Decimal
    lot_size: int
    reference_price: Decimal

    def to_ticks(self, price: Decimal) -> int | None:
        """Integer ticks for ``price``, or None if it is not on the tick grid."""
        ticks = price / self.tick_size
        return int(ticks) if ticks == ticks.to_integral_value() else None

    def to_price(self, ticks: int | Decimal) -> Decimal:
        return (self.tick_size * ticks).normalize() + Decimal(0)


@dataclass(frozen=True, slots=True)
class Fees:
    """Per-share fees in the quote currency; a negative maker fee is a rebate."""

    maker_per_share: Decimal = Decimal("-0.0020")
    taker_per_share: Decimal = Decimal("0.0030")


@dataclass(frozen=True, slots=True)
class Rules:
    """Rules of engagement; a breach is rejected with the rule in Text."""

    min_order_qty: int = 1
    max_order_qty: int = 1_000_000
    max_notional: Decimal = Decimal("50000000")
    ord_types: frozenset[OrdType] = frozenset({OrdType.LIMIT, OrdType.MARKET})
    tifs: frozenset[TimeInForce] = frozenset(TimeInForce)
    allow_min_qty: bool = True
    # Orders that are not a whole number of lots (odd lots, and mixed lots such as 150 in a 100-share
    # instrument).  Venues differ on this; one that refuses them says so in the reject's Text.
    odd_lots: bool = False


@dataclass(frozen=True, slots=True)
class Latency:
    """Seconds between a request and its acknowledgement, and between a match and its fill report."""

    ack: float = 0.0005
    fill: float = 0.0005


@dataclass(frozen=True, slots=True)
class Outbound:
    owner: str  # the FIX session (counterparty CompID) that receives it
    msg_type: str
    body: Fields
    due: float


# OrdRejReason (103), CxlRejReason (102), OrdStatus (39), ExecType (150)
REJ_BROKER = 0
REJ_UNKNOWN_SYMBOL = 1
REJ_EXCHANGE_CLOSED = 2
REJ_EXCEEDS_LIMIT = 3
REJ_DUPLICATE = 6
REJ_UNSUPPORTED = 11
REJ_INCORRECT_QTY = 13
REJ_OTHER = 99

_ORD_TYPES = {t.value: t for t in OrdType}
_TIFS = {t.value: t for t in TimeInForce}
#: ExecInst (18) values that are peg instructions (FIX 4.4); only M (mid-price peg) is accepted.
_MID_PEG = "M"
_PEG_INSTRUCTIONS = frozenset({"L", "M", "O", "P", "R", "W", "a", "d"})


@dataclass(slots=True, eq=False)
class VenueOrder:
    """The venue's record of a client order: the engine order plus what FIX needs to report it."""

    order: Order
    cl_ord_id: str
    instrument: Instrument
    orig_cl_ord_id: str | None = None
    fees: Decimal = Decimal(0)
    last_status: str = "0"
    history: list[str] = field(default_factory=list)  # ClOrdIDs this order has carried

    @property
    def owner(self) -> str:
        return self.order.owner


class RequestError(Exception):
    """A request that must be refused; ``reason`` is the FIX reject reason code."""

    def __init__(self, reason: int, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


class Venue:
    """Order-entry semantics shared by lit exchanges and dark pools; the matching engine is a hook.

    Subclasses say how an order enters, leaves and changes in their engine (``_engine_*``) and how
    a fill's price reads in ticks; everything FIX — validation, rules, fees, reports — is here.
    """

    #: Order.cost is accumulated in ticks / cost_scale (a dark pool counts half ticks).
    cost_scale = 1

    def __init__(
        self,
        name: str,
        instruments: Iterable[Instrument],
        rules: Rules = Rules(),
        fees: Fees = Fees(),
        latency: Latency = Latency(),
        status: VenueStatus = VenueStatus.OPEN,
    ) -> None:
        self.name = name
        self.instruments = {i.symbol: i for i in instruments}
        self.rules = rules
        self.fees = fees
        self.latency = latency
        self.status = status
        self._orders: dict[str, VenueOrder] = {}  # OrderID -> record
        self._by_cl_ord_id: dict[tuple[str, str], VenueOrder] = {}  # (owner, ClOrdID) -> record
        self._order_ids = itertools.count(1)
        self._exec_ids = itertools.count(1)
        self._trades: list[tuple[str, int, int]] = []  # (symbol, price ticks, qty) not yet published
        #: Called for every execution of a client order (the market's impact model listens).
        self.on_client_fill: Callable[[str, Side, int, float], None] | None = None

    # ---- requests ---------------------------------------------------------------------------

    def on_message(self, owner: str, msg: Message, now: float) -> list[Outbound]:
        """Dispatch one application message from ``owner``."""
        handler = {
            "D": self.new_order,
            "F": self.cancel,
            "G": self.replace,
            "H": self.order_status,
        }.get(msg.msg_type)
        if handler is None:
            return []
        return handler(owner, msg, now)

    def new_order(self, owner: str, msg: Message, now: float) -> list[Outbound]:
        cl_ord_id = msg.get(11) or ""
        try:
            order, instrument = self._parse_new_order(owner, msg, cl_ord_id)
        except RequestError as exc:
            return [self._reject(owner, msg, exc, now)]
        record = VenueOrder(order, cl_ord_id, instrument, history=[cl_ord_id])
        order.tag = record
        self._orders[order.order_id] = record
        self._by_cl_ord_id[(owner, cl_ord_id)] = record
        out = [self._report(record, "0", now + self.latency.ack)]
        fills, cancelled = self._engine_submit(order, instrument.symbol, now)
        out += self._after_execution(record, fills, cancelled, now)
        return out

    def cancel(self, owner: str, msg: Message, now: float) -> list[Outbound]:
        record = self._by_cl_ord_id.get((owner, msg.get(41) or ""))
        if record is None or record.order.done:
            return [self._cancel_reject(owner, msg, record, "1", now)]
        if msg.get(54) is not None and msg.get(54) != str(int(record.order.side)):
            return [self._cancel_reject(owner, msg, record, "1", now, "Side does not match the order")]
        self._engine_cancel(record.order, record.instrument.symbol)
        record.order.cancelled = True
        self._rename(record, msg.get(11) or "", msg.get(41))
        return [self._report(record, "4", now + self.latency.ack)]

    def replace(self, owner: str, msg: Message, now: float) -> list[Outbound]:
        record = self._by_cl_ord_id.get((owner, msg.get(41) or ""))
        if record is None or record.order.done:
            return [self._cancel_reject(owner, msg, record, "2", now)]
        order = record.order
        try:
            if msg.get(54) != str(int(order.side)):
                raise RequestError(REJ_OTHER, "Side cannot be changed by a replace")
            if msg.get(55) not in (None, record.instrument.symbol):
                raise RequestError(REJ_OTHER, "Symbol cannot be changed by a replace")
            new_qty = self._qty(msg, record.instrument)
            new_price = self._price(msg, record.instrument, order.ord_type)
            if new_price is not None:
                self._check_notional(new_qty, new_price, record.instrument)
        except RequestError as exc:
            return [self._cancel_reject(owner, msg, record, "2", now, exc.text)]
        fills, cancelled = self._engine_replace(order, record.instrument.symbol, new_qty, new_price, now)
        self._rename(record, msg.get(11) or "", msg.get(41))
        out = [self._report(record, "5", now + self.latency.ack)]
        out += self._after_execution(record, fills, cancelled, now)
        return out

    def order_status(self, owner: str, msg: Message, now: float) -> list[Outbound]:
        record = self._by_cl_ord_id.get((owner, msg.get(11) or ""))
        if record is None:
            body: Fields = [
                (37, msg.get(37) or "NONE"), (11, msg.get(11) or ""), (17, self._exec_id()), (150, "I"),
                (39, "8"), (55, msg.get(55) or ""), (54, msg.get(54) or "1"), (151, 0), (14, 0), (6, 0),
                (58, "Unknown order"), (60, format_utc_timestamp(now)),
            ]
            return [Outbound(owner, "8", body, now + self.latency.ack)]
        return [self._report(record, "I", now + self.latency.ack)]

    # ---- market side -------------------------------------------------------------------------

    def report_fills(self, fills: Sequence[Fill | DarkFill], now: float) -> list[Outbound]:
        """Execution reports for client orders among ``fills`` (made by the market simulator too)."""
        out: list[Outbound] = []
        # Each report carries CumQty/AvgPx as of its own execution, as FIX requires, although the
        # matching engine has applied the whole batch already: what later fills of the batch add
        # is taken back out.
        later: dict[int, tuple[int, Decimal]] = {}
        for fill in fills:
            for order in (fill.maker, fill.taker):
                if order is not None:
                    qty, cost = later.get(id(order), (0, Decimal(0)))
                    later[id(order)] = (qty + fill.qty, cost + self._fill_cost(fill))
        for fill in fills:
            for order, liquidity in ((fill.maker, "1"), (fill.taker, "2")):
                record = order.tag if order is not None else None
                if order is None or not isinstance(record, VenueOrder):
                    continue
                qty, cost = later[id(order)]
                qty, cost = qty - fill.qty, cost - self._fill_cost(fill)
                later[id(order)] = (qty, cost)
                out.append(self._fill_report(record, fill, liquidity, now, order.cum_qty - qty, order.cost - cost))
        return out

    def _fill_cost(self, fill: Fill | DarkFill) -> Decimal:
        """What one fill adds to Order.cost (ticks x qty, in the venue's cost scale)."""
        return self._fill_ticks(fill) * self.cost_scale * fill.qty

    def record_trades(self, symbol: str, fills: Iterable[Fill]) -> None:
        """Remember trades for the next market-data publication (client and background alike)."""
        self._trades.extend((symbol, f.price, f.qty) for f in fills)

    # ---- engine hooks --------------------------------------------------------------------------

    def _engine_submit(self, order: Order, symbol: str, now: float) -> tuple[Sequence[Fill | DarkFill], int]:
        raise NotImplementedError

    def _engine_cancel(self, order: Order, symbol: str) -> None:
        raise NotImplementedError

    def _engine_replace(
        self, order: Order, symbol: str, new_qty: int, new_price: int | None, now: float
    ) -> tuple[Sequence[Fill | DarkFill], int]:
        raise NotImplementedError

    def _fill_ticks(self, fill: Fill | DarkFill) -> Decimal:
        return Decimal(fill.price) if isinstance(fill, Fill) else Decimal(fill.price_x2) / 2

    def changed_symbols(self) -> list[str]:
        return []

    def take_trades(self) -> list[tuple[str, int, int]]:
        trades, self._trades = self._trades, []
        return trades

    def has_news(self) -> bool:
        """Something to publish: trades not yet taken (lit venues: or a book changed).  Asked at
        every step of the simulation, so the usual answer, no, must cost next to nothing."""
        return bool(self._trades)

    def set_status(self, status: VenueStatus, owners: Iterable[str], now: float) -> list[Outbound]:
        """Change the trading status; every connected owner hears it as TradingSessionStatus."""
        self.status = status
        return [self.session_status(owner, now) for owner in owners]

    def session_status(self, owner: str, now: float) -> Outbound:
        return Outbound(owner, "h", [(336, self.name), (340, self.status.value)], now)

    # ---- internals ---------------------------------------------------------------------------

    def _parse_new_order(self, owner: str, msg: Message, cl_ord_id: str) -> tuple[Order, Instrument]:
        if self.status is not VenueStatus.OPEN:
            raise RequestError(REJ_EXCHANGE_CLOSED, f"{self.name} is {self.status.name.lower()}")
        if not cl_ord_id:
            raise RequestError(REJ_OTHER, "ClOrdID (11) is required")
        if (owner, cl_ord_id) in self._by_cl_ord_id:
            raise RequestError(REJ_DUPLICATE, f"duplicate ClOrdID {cl_ord_id}")
        symbol = msg.get(55) or ""
        instrument = self.instruments.get(symbol)
        if instrument is None:
            raise RequestError(REJ_UNKNOWN_SYMBOL, f"unknown symbol {symbol!r} on {self.name}")
        side_text = msg.get(54)
        if side_text not in ("1", "2", "5"):
            raise RequestError(REJ_UNSUPPORTED, f"side {side_text!r} is not supported (1 buy, 2 sell, 5 sell short)")
        side = Side.BUY if side_text == "1" else Side.SELL
        ord_type = _ORD_TYPES.get(msg.get(40) or "")
        if ord_type is None or ord_type not in self.rules.ord_types:
            raise RequestError(REJ_UNSUPPORTED, f"order type {msg.get(40)!r} is not accepted on {self.name}")
        if ord_type is OrdType.PEGGED:
            self._check_peg(msg)
        tif = _TIFS.get(msg.get(59) or "0")
        if tif is None or tif not in self.rules.tifs:
            raise RequestError(REJ_UNSUPPORTED, f"TimeInForce {msg.get(59)!r} is not accepted on {self.name}")
        qty = self._qty(msg, instrument)
        price = self._price(msg, instrument, ord_type)
        if price is not None:
            self._check_notional(qty, price, instrument)
        min_qty = 0
        if msg.get(110):
            if not self.rules.allow_min_qty:
                raise RequestError(REJ_UNSUPPORTED, f"MinQty is not accepted on {self.name}")
            min_qty = self._int_field(msg, 110, "MinQty")
            if min_qty > qty:
                raise RequestError(REJ_INCORRECT_QTY, f"MinQty {min_qty} exceeds OrderQty {qty}")
        order = Order(f"{self.name}-{next(self._order_ids)}", owner, side, qty, price, ord_type, tif, min_qty)
        return order, instrument

    def _check_peg(self, msg: Message) -> None:
        """A pegged order must be a plain midpoint peg: ExecInst has M and no other peg, no offset.

        Anything else would be executed as something the sender did not ask for (a market peg
        at the midpoint, an offset ignored), so it is refused and the Text says what is accepted.
        """
        accepted = (f"{self.name} accepts pegged orders (40=P) as midpoint pegs only: "
                    "ExecInst (18) M, Price (44) an optional cap")
        inst = (msg.get(18) or "").split()
        if _MID_PEG not in inst:
            got = f"ExecInst {' '.join(inst)!r}" if inst else "no ExecInst (18)"
            raise RequestError(REJ_UNSUPPORTED, f"{accepted}; got {got}")
        others = sorted(_PEG_INSTRUCTIONS.intersection(inst) - {_MID_PEG})
        if others:
            raise RequestError(REJ_UNSUPPORTED, f"{accepted}; got M with another peg instruction {' '.join(others)!r}")
        offset = msg.get(211)
        if offset:
            try:
                nonzero = Decimal(offset) != 0
            except InvalidOperation:
                nonzero = True
            if nonzero:
                raise RequestError(REJ_UNSUPPORTED, f"{accepted}; PegOffsetValue (211) {offset} is not supported")

    def _qty(self, msg: Message, instrument: Instrument) -> int:
        qty = self._int_field(msg, 38, "OrderQty")
        rules = self.rules
        if qty <= 0:
            raise RequestError(REJ_INCORRECT_QTY, f"OrderQty {qty} must be positive")
        if qty % instrument.lot_size and not rules.odd_lots:
            raise RequestError(
                REJ_INCORRECT_QTY,
                f"OrderQty {qty} is not a multiple of the lot size {instrument.lot_size}: "
                f"{self.name} does not accept odd lots",
            )
        if qty < rules.min_order_qty:
            raise RequestError(REJ_INCORRECT_QTY, f"OrderQty {qty} is below the minimum {rules.min_order_qty}")
        if qty > rules.max_order_qty:
            raise RequestError(REJ_EXCEEDS_LIMIT, f"OrderQty {qty} exceeds the maximum {rules.max_order_qty}")
        return qty

    def _price(self, msg: Message, instrument: Instrument, ord_type: OrdType) -> int | None:
        text = msg.get(44)
        if ord_type is OrdType.MARKET:
            return None
        if not text:
            if ord_type is OrdType.PEGGED:
                return None  # an uncapped peg (a replace without a Price keeps the cap it had)
            raise RequestError(REJ_OTHER, "a limit order needs a Price (44)")
        try:
            price = Decimal(text)
        except InvalidOperation:
            raise RequestError(REJ_OTHER, f"Price {text!r} is not a number") from None
        if price <= 0:
            raise RequestError(REJ_OTHER, f"Price {text} must be positive")
        ticks = instrument.to_ticks(price)
        if ticks is None:
            raise RequestError(REJ_OTHER, f"Price {text} is not a multiple of the tick size {instrument.tick_size}")
        return ticks

    def _check_notional(self, qty: int, price: int, instrument: Instrument) -> None:
        notional = instrument.to_price(price) * qty
        if notional > self.rules.max_notional:
            raise RequestError(REJ_EXCEEDS_LIMIT, f"notional {notional} exceeds the maximum {self.rules.max_notional}")

    @staticmethod
    def _int_field(msg: Message, tag: int, name: str) -> int:
        text = msg.get(tag) or ""
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise RequestError(REJ_INCORRECT_QTY, f"{name} ({tag}) {text!r} is not a number") from None
        if value != value.to_integral_value():
            raise RequestError(REJ_INCORRECT_QTY, f"{name} ({tag}) {text} is not a whole number of shares")
        return int(value)

    def _after_execution(
        self, record: VenueOrder, fills: Sequence[Fill | DarkFill], cancelled_qty: int, now: float
    ) -> list[Outbound]:
        out = self.report_fills(fills, now)
        self.record_trades(record.instrument.symbol, [f for f in fills if isinstance(f, Fill)])  # lit only
        if cancelled_qty and not record.order.cum_qty >= record.order.qty:
            record.order.cancelled = True
            out.append(self._report(record, "4", now + self.latency.fill, "unfilled remainder cancelled"))
        return out

    def _rename(self, record: VenueOrder, new_cl_ord_id: str, orig: str | None) -> None:
        if new_cl_ord_id and new_cl_ord_id != record.cl_ord_id:
            record.orig_cl_ord_id = orig or record.cl_ord_id
            record.cl_ord_id = new_cl_ord_id
            record.history.append(new_cl_ord_id)
            self._by_cl_ord_id[(record.owner, new_cl_ord_id)] = record

    def _exec_id(self) -> str:
        return f"{self.name}-E{next(self._exec_ids)}"

    def _status(self, order: Order) -> str:
        if order.cum_qty >= order.qty:
            return "2"
        if order.cancelled:
            return "4"
        return "1" if order.cum_qty else "0"

    def _common(self, record: VenueOrder) -> Fields:
        order = record.order
        instrument = record.instrument
        body: Fields = [(37, order.order_id), (11, record.cl_ord_id)]
        if record.orig_cl_ord_id:
            body.append((41, record.orig_cl_ord_id))
        body += [(55, instrument.symbol), (54, int(order.side)), (38, order.qty), (40, order.ord_type.value)]
        if order.ord_type is OrdType.PEGGED:
            body.append((18, _MID_PEG))
        if order.price is not None:
            body.append((44, instrument.to_price(order.price)))
        body.append((59, order.tif.value))
        return body

    def _totals(self, record: VenueOrder, cum_qty: int | None = None, cost: Decimal | int | None = None) -> Fields:
        """LeavesQty, CumQty, AvgPx now, or as of an earlier point (``cum_qty``, ``cost``)."""
        order = record.order
        if cum_qty is None:
            cum_qty, cost = order.cum_qty, order.cost
        avg = record.instrument.to_price(Decimal(cost or 0) / (cum_qty * self.cost_scale)) if cum_qty else Decimal(0)
        leaves = 0 if order.cancelled and cum_qty == order.cum_qty else max(order.qty - cum_qty, 0)
        return [(151, leaves), (14, cum_qty), (6, avg)]

    def _report(self, record: VenueOrder, exec_type: str, due: float, text: str = "") -> Outbound:
        status = self._status(record.order)
        body = [*self._common(record), (17, self._exec_id()), (150, exec_type), (39, status)]
        body += [*self._totals(record), (60, format_utc_timestamp(due))]
        if text:
            body.append((58, text))
        return Outbound(record.owner, "8", body, due)

    def _fill_report(self, record: VenueOrder, fill: Fill | DarkFill, liquidity: str, now: float,
                     cum_qty: int, cost: Decimal) -> Outbound:
        fee_rate = self.fees.maker_per_share if liquidity == "1" else self.fees.taker_per_share
        fee = (fee_rate * fill.qty).quantize(Decimal("0.0001"))
        record.fees += fee
        if self.on_client_fill is not None:
            self.on_client_fill(record.instrument.symbol, record.order.side, fill.qty, now)
        due = now + self.latency.fill
        status = "2" if cum_qty >= record.order.qty else "1"
        body = [*self._common(record), (17, self._exec_id()), (150, "F"), (39, status)]
        body += [(32, fill.qty), (31, record.instrument.to_price(self._fill_ticks(fill))), (30, self.name),
                 (851, liquidity)]
        body += [*self._totals(record, cum_qty, cost), (12, fee), (13, "3"), (60, format_utc_timestamp(due))]
        return Outbound(record.owner, "8", body, due)

    def _reject(self, owner: str, msg: Message, exc: RequestError, now: float) -> Outbound:
        body: Fields = [
            (37, "NONE"), (11, msg.get(11) or ""), (17, self._exec_id()), (150, "8"), (39, "8"),
            (55, msg.get(55) or ""), (54, msg.get(54) or "1"), (151, 0), (14, 0), (6, 0), (103, exc.reason),
            (58, exc.text), (60, format_utc_timestamp(now)),
        ]
        return Outbound(owner, "8", body, now + self.latency.ack)

    def _cancel_reject(
        self, owner: str, msg: Message, record: VenueOrder | None, response_to: str, now: float, text: str = ""
    ) -> Outbound:
        if record is None:
            status, reason, default = "8", "1", f"unknown order {msg.get(41)!r}"
        elif record.order.done:
            status, reason, default = self._status(record.order), "0", "too late to cancel: the order is done"
        else:
            status, reason, default = self._status(record.order), "99", ""
        body: Fields = [
            (37, record.order.order_id if record else "NONE"), (11, msg.get(11) or ""), (41, msg.get(41) or ""),
            (39, status), (434, response_to), (102, reason), (58, text or default),
        ]
        return Outbound(owner, "9", body, now + self.latency.ack)


class LitVenue(Venue):
    """A lit exchange: one price-time order book per instrument, with market data."""

    def __init__(self, name: str, instruments: Iterable[Instrument], rules: Rules = Rules(), fees: Fees = Fees(),
                 latency: Latency = Latency(), status: VenueStatus = VenueStatus.OPEN) -> None:
        super().__init__(name, instruments, rules, fees, latency, status)
        if OrdType.PEGGED in self.rules.ord_types:
            # The price-time book has no midpoint pegs: refuse the configuration at start-up rather
            # than let a peg reach the book as something else.
            raise ValueError(f"lit venue {name}: pegged orders are supported by dark pools only")
        self.books: dict[str, OrderBook] = {s: OrderBook(s) for s in self.instruments}

    def changed_symbols(self) -> list[str]:
        """Symbols whose book changed since the last call (what market data must look at)."""
        return [symbol for symbol, book in self.books.items() if book.take_changed()]

    def has_news(self) -> bool:
        if self._trades:
            return True
        for book in self.books.values():  # noqa: SIM110 - asked at every step: a loop, no generator
            if book.has_changes:
                return True
        return False

    def _engine_submit(self, order: Order, symbol: str, now: float) -> tuple[Sequence[Fill], int]:
        execution = self.books[symbol].submit(order)
        return execution.fills, execution.cancelled_qty

    def _engine_cancel(self, order: Order, symbol: str) -> None:
        self.books[symbol].cancel(order.order_id)

    def _engine_replace(
        self, order: Order, symbol: str, new_qty: int, new_price: int | None, now: float
    ) -> tuple[Sequence[Fill], int]:
        execution: Execution = self.books[symbol].replace(order.order_id, new_qty, new_price)
        return execution.fills, execution.cancelled_qty


Quote = Callable[[str], tuple[int | None, int | None]]


class DarkVenue(Venue):
    """A dark pool: hidden midpoint matching against the consolidated lit quote, no market data."""

    cost_scale = 2  # DarkPool accumulates Order.cost in half ticks

    def __init__(self, name: str, instruments: Iterable[Instrument], pools: dict[str, DarkPool],
                 rules: Rules = Rules(), fees: Fees = Fees(), latency: Latency = Latency(),
                 status: VenueStatus = VenueStatus.OPEN) -> None:
        super().__init__(name, instruments, rules, fees, latency, status)
        self.pools = pools
        self.quotes: Quote = lambda symbol: (None, None)  # set by the wiring: the lit BBO

    def on_time(self, now: float) -> list[Outbound]:
        """Contra interest due by ``now`` and crossings made possible by the current lit quote.

        Called at every step of the simulation, so a pool in which nothing can happen is not asked:
        no contra is due and either no order of ours rests in it or the lit midpoint is the one it
        last settled at (:meth:`DarkPool.quiet_at`).  Asking it would only move its clock, which
        every entry point does anyway (contra expiry is lazy), so the outcome is the same.
        """
        out: list[Outbound] = []
        quotes = self.quotes
        for symbol, pool in self.pools.items():
            if pool.quiet_at(now, quotes, symbol):
                continue
            bid, ask = quotes(symbol)
            fills: list[DarkFill] = pool.on_quote(bid, ask, now)
            due = pool.next_contra_time()
            while due is not None and due <= now:
                fills += pool.on_contra(due, bid, ask)
                due = pool.next_contra_time()
            out += self.report_fills(fills, now)
        return out

    def next_event_time(self) -> float | None:
        first: float | None = None
        for pool in self.pools.values():
            t = pool.next_contra_time()
            if t is not None and (first is None or t < first):
                first = t
        return first

    def _engine_submit(self, order: Order, symbol: str, now: float) -> tuple[Sequence[DarkFill], int]:
        bid, ask = self.quotes(symbol)
        fills = self.pools[symbol].submit(order, bid, ask, now)
        return fills, (order.qty - order.cum_qty) if order.cancelled else 0

    def _engine_cancel(self, order: Order, symbol: str) -> None:
        self.pools[symbol].cancel(order.order_id)

    def _engine_replace(
        self, order: Order, symbol: str, new_qty: int, new_price: int | None, now: float
    ) -> tuple[Sequence[DarkFill], int]:
        bid, ask = self.quotes(symbol)
        fills = self.pools[symbol].replace(order.order_id, new_qty, new_price, bid, ask, now)
        return fills, 0
