"""Transaction cost analysis: what each client order paid against arrival price and interval VWAP.

Pure and sans-IO.  :class:`TcaRecorder` is fed the execution reports a client was sent, as the
intake made them (:class:`~metaorder.orders.messages.ExecutionReport` and
:class:`~metaorder.orders.messages.NoOrderReport`, not their FIX rendering: FIX is the OMS
adapter's business) together with the ``now`` at which they were produced, and reads the
consolidated market only through the three queries of :class:`MarketTape` at those instants; it
never reads a clock, so a replay of the same reports against the same market gives the same figures.

Benchmarks (GUIDE §6):

* **arrival price** P₀: the consolidated midpoint when the order was acknowledged (a NEW report).
  With no two-sided quote at that instant the instrument's reference price stands in, which is also
  what the internal crossing used then, and :attr:`OrderTca.arrival_source` says so.
* **interval VWAP**: the market's VWAP over the order's life, Δnotional / Δvolume of the consolidated
  tape between acknowledgement and the report that finished the order.  It includes our own lit
  prints (they are market volume); dark fills publish nothing, so they are not in it.  The end is the
  tape as it stands when the final report is produced, so a print a venue publishes in the same
  instant just after its fill report is not in it.  None when the tape did not move: a VWAP of
  nothing is not a price.

Every bps figure is a **cost**, labelled so because two conventions are in use:
``cost = s·(P_avg − P_b)/P_b·10⁴`` with s = +1 for a buy and −1 for a sell; positive is worse than
the benchmark (a buy above it, a sell below it).  *Performance* is its negative.

Implementation shortfall (Perold, GUIDE §6), in money, with the decision price taken as the arrival
price (an OMS order is decided when it is sent, so the delay term is zero here):
execution ``s·X_f·(P_avg − P₀)`` plus opportunity ``s·(X − X_f)·(P_end − P₀)``, P_end being the
midpoint when the order finished (or when the analysis was cut off).  Venue fees are charged to
parent orders, not to client fills, so they are not in the per-order figures.

Money is exact: quantities ``int``, prices ``Decimal``.  Divisions use a fixed 28-digit context
(independent of the caller's ``decimal`` context) and nothing is rounded here: display rounding is
the renderer's business.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Final, Protocol

from metaorder.orders.messages import ExecutionReport, NoOrderReport, ReportKind
from metaorder.orders.model import OrderStatus

_Q: Final = Context(prec=28)  # quotients: the same precision as the intake's AvgPx and the tape's VWAP
_BPS: Final = Decimal(10_000)
_ZERO: Final = Decimal(0)


class MarketTape(Protocol):
    """What TCA needs of the market (ConsolidatedMarket provides it)."""

    def mid(self, symbol: str) -> Decimal | None: ...

    def notional(self, symbol: str) -> Decimal: ...

    def volume(self, symbol: str) -> int: ...


def cost_bps(sign: int, avg_px: Decimal, benchmark: Decimal) -> Decimal:
    """Cost in bps, positive is bad: s·(P_avg − P_b)/P_b·10⁴ (GUIDE §6)."""
    if benchmark <= 0:
        raise ValueError(f"benchmark price {benchmark} must be positive")
    return _Q.multiply(_Q.divide(sign * (avg_px - benchmark), benchmark), _BPS)


def interval_vwap(notional_start: Decimal, volume_start: int, notional_end: Decimal, volume_end: int) -> Decimal | None:
    """Δnotional/Δvolume of a cumulative tape; None when no volume traded in between."""
    volume = volume_end - volume_start
    if volume <= 0:
        return None
    return _Q.divide(notional_end - notional_start, volume)


@dataclass(frozen=True, slots=True)
class Fill:
    qty: int  # the report's last_qty (LastQty)
    price: Decimal  # last_px (LastPx)
    market: str  # last_mkt (LastMkt): a venue, or INTERNAL for a cross
    time: float


@dataclass(frozen=True, slots=True)
class OrderTca:
    """One client order's costs.  ``end`` is None while the order is still working."""

    order_id: str
    session: str
    symbol: str
    sign: int  # s: +1 a buy, −1 a sell or a short sale (Side.sign)
    qty: int
    fills: tuple[Fill, ...]
    arrival: Decimal
    arrival_source: str  # "mid" or "reference"
    start: float
    end: float | None
    vwap: Decimal | None
    end_mid: Decimal | None  # P_end for the opportunity cost
    reported_avg_px: Decimal  # avg_px (AvgPx) of the last fill report, to check against the fills

    @property
    def filled(self) -> int:
        return sum(f.qty for f in self.fills)

    @property
    def notional(self) -> Decimal:
        return sum((f.qty * f.price for f in self.fills), _ZERO)

    @property
    def avg_px(self) -> Decimal | None:
        """Σ qty·px / Σ qty of the fills, evaluated as the intake evaluates AvgPx."""
        filled = self.filled
        return self.notional / filled if filled else None

    @property
    def done(self) -> bool:
        return self.end is not None and self.filled == self.qty

    @property
    def cost_vs_arrival_bps(self) -> Decimal | None:
        avg = self.avg_px
        return None if avg is None else cost_bps(self.sign, avg, self.arrival)

    @property
    def cost_vs_vwap_bps(self) -> Decimal | None:
        avg = self.avg_px
        return None if avg is None or self.vwap is None else cost_bps(self.sign, avg, self.vwap)

    @property
    def execution_cost(self) -> Decimal:
        """s·X_f·(P_avg − P₀) = s·(notional − X_f·P₀), exact."""
        return self.sign * (self.notional - self.filled * self.arrival)

    @property
    def opportunity_cost(self) -> Decimal:
        """s·(X − X_f)·(P_end − P₀); zero when fully filled or when P_end is unknown."""
        unfilled = self.qty - self.filled
        if not unfilled or self.end_mid is None:
            return _ZERO
        return self.sign * unfilled * (self.end_mid - self.arrival)


@dataclass(frozen=True, slots=True)
class CostSummary:
    """Costs of a set of orders.  The bps averages are weighted by filled quantity, as asked of a
    desk's blotter; ``shortfall_bps`` is money over paper notional (Σ X·P₀), so it weighs by notional."""

    orders: int
    filled_qty: int
    vs_arrival_bps: Decimal | None
    vs_vwap_bps: Decimal | None
    vwap_qty: int  # filled quantity of the orders that have an interval VWAP
    execution_cost: Decimal
    opportunity_cost: Decimal
    paper_notional: Decimal

    @property
    def shortfall(self) -> Decimal:
        return self.execution_cost + self.opportunity_cost

    @property
    def shortfall_bps(self) -> Decimal | None:
        if not self.paper_notional:
            return None
        return _Q.multiply(_Q.divide(self.shortfall, self.paper_notional), _BPS)


def aggregate(orders: Iterable[OrderTca]) -> CostSummary:
    """Filled-quantity-weighted average costs over ``orders`` (orders with nothing filled weigh 0)."""
    count = filled_total = vwap_qty = 0
    arrival_sum = vwap_sum = execution = opportunity = paper = _ZERO
    for o in orders:
        count += 1
        filled = o.filled
        paper += o.qty * o.arrival
        execution += o.execution_cost
        opportunity += o.opportunity_cost
        vs_arrival = o.cost_vs_arrival_bps
        if vs_arrival is not None:
            filled_total += filled
            arrival_sum += filled * vs_arrival
        vs_vwap = o.cost_vs_vwap_bps
        if vs_vwap is not None:
            vwap_qty += filled
            vwap_sum += filled * vs_vwap
    return CostSummary(
        orders=count, filled_qty=filled_total,
        vs_arrival_bps=_Q.divide(arrival_sum, filled_total) if filled_total else None,
        vs_vwap_bps=_Q.divide(vwap_sum, vwap_qty) if vwap_qty else None,
        vwap_qty=vwap_qty, execution_cost=execution, opportunity_cost=opportunity, paper_notional=paper,
    )


def by_symbol(orders: Iterable[OrderTca]) -> dict[str, CostSummary]:
    groups: dict[str, list[OrderTca]] = {}
    for o in orders:
        groups.setdefault(o.symbol, []).append(o)
    return {symbol: aggregate(groups[symbol]) for symbol in sorted(groups)}


@dataclass(slots=True)
class _Open:
    order_id: str
    session: str
    symbol: str
    sign: int
    qty: int
    arrival: Decimal
    arrival_source: str
    start: float
    notional0: Decimal
    volume0: int
    fills: list[Fill] = field(default_factory=list)
    avg_px: Decimal = _ZERO
    end: float | None = None
    vwap: Decimal | None = None
    end_mid: Decimal | None = None


_FINAL_STATUSES: Final = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED})


class TcaRecorder:
    """Builds :class:`OrderTca` from a client's execution reports, snapshotting the market as they come.

    Feed every execution report at the instant it is produced: the acknowledgement
    (:attr:`ReportKind.NEW`) takes the arrival snapshot (mid, cumulative notional and volume of the
    symbol), a fill (:attr:`ReportKind.FILL`) adds its last_qty/last_px/last_mkt, and the report
    that makes the order final (status FILLED, CANCELED or EXPIRED) takes the end snapshot.  A
    refused new order (a :class:`NoOrderReport` REJECTED) is counted, not analysed; a status answer
    about no order is ignored.
    """

    def __init__(self, market: MarketTape, references: Mapping[str, Decimal]) -> None:
        self.market = market
        self.references = references
        self._orders: dict[str, _Open] = {}
        self.rejected = 0
        self.acknowledged = 0

    def on_report(self, report: ExecutionReport | NoOrderReport, now: float, session: str = "") -> None:
        if type(report) is NoOrderReport:
            if report.kind is ReportKind.REJECTED:
                self.rejected += 1
            return
        assert type(report) is ExecutionReport, report
        kind = report.kind
        if kind is ReportKind.NEW:
            self._accept(session, report, now)
            return
        order = self._orders.get(report.order_id)
        if order is None:
            return  # an order acknowledged before we started watching: no arrival snapshot to compare with
        order.qty = report.qty  # a replace may change it
        if kind is ReportKind.FILL:
            assert report.last_qty is not None and report.last_px is not None, report  # a fill's own shares and price
            order.fills.append(Fill(report.last_qty, report.last_px, report.last_mkt or "", now))
            order.avg_px = report.avg_px
        if order.end is None and report.status in _FINAL_STATUSES:
            order.end = now
            market = self.market
            order.vwap = interval_vwap(order.notional0, order.volume0, market.notional(order.symbol),
                                       market.volume(order.symbol))
            order.end_mid = market.mid(order.symbol)

    def _accept(self, session: str, report: ExecutionReport, now: float) -> None:
        self.acknowledged += 1
        symbol = report.symbol
        mid = self.market.mid(symbol)
        arrival, source = (mid, "mid") if mid is not None else (self.references[symbol], "reference")
        self._orders[report.order_id] = _Open(report.order_id, session, symbol, report.side.sign, report.qty,
                                              arrival, source, now, self.market.notional(symbol),
                                              self.market.volume(symbol))

    def results(self) -> list[OrderTca]:
        """Every acknowledged order, in acknowledgement order.  An order still working is cut off
        here: its P_end is the midpoint now (for the opportunity cost), and it has no interval VWAP."""
        out: list[OrderTca] = []
        for o in self._orders.values():
            end_mid = o.end_mid if o.end is not None else self.market.mid(o.symbol)
            out.append(OrderTca(o.order_id, o.session, o.symbol, o.sign, o.qty, tuple(o.fills), o.arrival,
                                o.arrival_source, o.start, o.end, o.vwap, end_mid, o.avg_px))
        return out
