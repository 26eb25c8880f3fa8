"""``metaorder demo``: a burst of small OMS orders worked to completion in accelerated time, then TCA.

This is the accelerated-time wiring (:mod:`metaorder.simulate`): the daemon's own intake, execution
engine and router in front of the simulated venues of ``configs/venues.toml``, all in one process
on a :class:`~metaorder.clock.VirtualClock` that jumps from event to event.  ``make run`` is the
same objects over sockets on the wall clock.  Nothing is short-circuited on the order side either:
every OMS order is a NewOrderSingle put through the FIX codec (``Simulation.submit`` →
``on_the_wire``).  The reports are counted as the intake made them
(:mod:`metaorder.orders.messages`: what the OMS adapter renders into the FIX the session sends),
so TCA reads the values the client is told without decoding FIX.

Why a seeded burst of *small* orders from *two* OMS sessions, both sides, four instruments: that is
the traffic metaorder exists for — it nets opposite interest internally (crosses at the midpoint)
and aggregates the rest into parent orders, so the summary can show the shares that never went to
a venue.  Orders are TWAP (847=1000) over a window that varies a little per order; their arrivals
are spread over the first part of the window.  Each (session, symbol, side, quantity, price) is kept
distinct within the risk engine's likely-duplicate window, so the burst is not refused as
duplicates; limit orders sit well inside the price collar.

Figures: orders sent/acknowledged/rejected, fills, internal crosses, venue executions against the
gross quantity (the netting saving), per-venue shares and fills (dark pools included), and TCA
(:mod:`metaorder.posttrade.tca`): cost vs arrival mid and vs interval VWAP in bps, labelled as a
*cost* (positive = worse than the benchmark), per symbol and overall.

The market tape and mid are read at the instant each report is produced: ``Simulation`` has no
report hook, so :class:`ObservedReports` (a list that tells the recorder what is added to it; the
execution lab uses it too) stands in for ``sim.reports``.  Wall time is measured with an injectable stopwatch
(``time.perf_counter`` by default: a duration, never a timestamp); virtual time is the clock's.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, SupportsIndex

from metaorder.clock import VirtualClock
from metaorder.config import ConfigError, MetaorderConfig, TradableInstrument, load_config, load_venues_config
from metaorder.eventcodec import decode_entry
from metaorder.events import VenueExecution
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.book import INTERNAL
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.messages import CancelReject, Outgoing, ReportKind
from metaorder.posttrade.tca import CostSummary, OrderTca, TcaRecorder, aggregate, by_symbol
from metaorder.simulate import Simulation, build_simulation

T0 = 1_767_258_000.0  # 2026-01-01 09:00:00 UTC: the virtual session opens here
WARM_UP_S = 5.0  # liquidity providers quote and the engine's market view fills in before the burst
ARRIVAL_SPREAD = 0.3  # arrivals fall in the first 30 % of the window
WINDOW_JITTER = 0.15  # each order's window is window_s × U(0.85, 1.15)
MARGIN_S = 10.0  # run this long past the last ExpireTime before calling an order unfinished
STEP_S = 1.0  # after the burst, check for completion this often (virtual seconds)
MEDIAN_NOTIONAL = 40_000  # a "small" order: lognormal sizes around this notional
SIZE_SIGMA = 0.9
LIMIT_SHARE = 0.25  # this share of orders are limits, 2 % through the reference price
LIMIT_OFFSET = Decimal("0.02")
SESSIONS = ("OMS1", "OMS2")


class ObservedReports(list[Outgoing]):
    """``sim.reports`` that also hands each report to a listener as it is added.

    The hook we would rather have is a report callback on :class:`~metaorder.simulate.Simulation`;
    until then this list subclass lets TCA snapshot the market at the instant of each report.
    """

    def __init__(self, listener: Callable[[Outgoing], None]) -> None:
        super().__init__()
        self._listener = listener

    def __iadd__(self, other: Iterable[Outgoing]) -> ObservedReports:  # type: ignore[override,misc]
        items = list(other)
        for item in items:
            self._listener(item)
        super().__iadd__(items)
        return self

    def append(self, item: Outgoing) -> None:
        self._listener(item)
        super().append(item)

    def extend(self, other: Iterable[Outgoing]) -> None:
        self.__iadd__(other)

    def insert(self, index: SupportsIndex, item: Outgoing) -> None:  # pragma: no cover - not used by simulate
        raise TypeError("reports are appended, never inserted")


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    offset_s: float  # arrival, seconds after the burst starts
    session: str
    cl_ord_id: str
    symbol: str
    side: str  # "1" buy, "2" sell
    qty: int
    limit: Decimal | None
    window_s: float

    def body(self, now: float) -> list[tuple[int, FieldValue]]:
        """NewOrderSingle: TWAP (847=1000) until ExpireTime (126) = arrival + window."""
        body: list[tuple[int, FieldValue]] = [(11, self.cl_ord_id), (55, self.symbol), (54, self.side),
                                              (60, format_utc_timestamp(now)), (38, self.qty)]
        body += [(40, "2"), (44, self.limit)] if self.limit is not None else [(40, "1")]
        body += [(59, "0"), (847, 1000), (126, format_utc_timestamp(now + self.window_s))]
        return body


def plan_burst(orders: int, seed: int, window_s: float, instruments: list[TradableInstrument],
               duplicate_window_s: float | None) -> list[PlannedOrder]:
    """The OMS traffic: seeded, so the same arguments give the same burst.

    Sizes are lognormal in notional around :data:`MEDIAN_NOTIONAL`, rounded to whole lots (NOVA 10,
    ZEPH 100).  An order that would repeat a (session, symbol, side, qty, limit) seen less than the
    duplicate window (plus a second) before is made one lot larger, as an OMS splitting a block would.
    """
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, ARRIVAL_SPREAD * window_s) for _ in range(orders))
    guard = (duplicate_window_s or 0.0) + 1.0
    last_seen: dict[tuple[str, str, str, int, Decimal | None], float] = {}
    out: list[PlannedOrder] = []
    for n, offset in enumerate(offsets):
        inst = rng.choice(instruments)
        session = rng.choice(SESSIONS)
        side = rng.choice("12")
        notional = MEDIAN_NOTIONAL * math.exp(rng.gauss(0, SIZE_SIGMA))
        lots = max(1, round(notional / float(inst.reference_price) / inst.lot_size))
        limit: Decimal | None = None
        if rng.random() < LIMIT_SHARE:
            through = 1 + LIMIT_OFFSET if side == "1" else 1 - LIMIT_OFFSET
            limit = (inst.reference_price * through / inst.tick_size).to_integral_value(ROUND_HALF_EVEN) \
                * inst.tick_size
        qty = lots * inst.lot_size
        while offset - last_seen.get((session, inst.symbol, side, qty, limit), -math.inf) < guard:
            qty += inst.lot_size
        last_seen[(session, inst.symbol, side, qty, limit)] = offset
        window = window_s * rng.uniform(1 - WINDOW_JITTER, 1 + WINDOW_JITTER)
        out.append(PlannedOrder(offset, session, f"{session}-{n + 1}", inst.symbol, side, qty, limit, window))
    return out


@dataclass(frozen=True, slots=True)
class VenueUse:
    kind: str  # lit or dark
    shares: int  # executed at the venue (parent level)
    fills: int  # venue executions
    client_fills: int  # client fills allocated from them
    fees: Decimal  # what the venue charged (negative: rebates)


@dataclass(frozen=True, slots=True)
class DemoSummary:
    seed: int
    window_s: float
    sent: int
    acknowledged: int
    rejected: int
    reject_texts: dict[str, int]
    filled: int
    expired: list[str]  # OrderIDs the engine finished (expired, canceled) before they were fully filled
    working: list[str]  # OrderIDs still working when the run stopped (window end + margin)
    client_fills: int
    cross_count: int
    crossed_shares: int
    gross_qty: int  # shares ordered
    filled_qty: int  # shares filled to clients, internally or from venues
    venue_qty: int
    venues: dict[str, VenueUse]
    overall: CostSummary
    symbols: dict[str, CostSummary]
    orders: list[OrderTca]
    virtual_s: float
    wall_s: float
    venue_messages: int
    alerts: list[str]

    @property
    def netting_saving(self) -> int:
        """Client shares filled without a venue execution (twice the crossed shares: both sides)."""
        return self.filled_qty - self.venue_qty

    @property
    def unfinished(self) -> list[str]:
        return [*self.expired, *self.working]

    def to_json(self) -> dict[str, Any]:
        """One JSON object: counts as integers, money as exact decimal strings, bps rounded to 4 places."""
        return {
            "seed": self.seed, "window_s": self.window_s, "orders": self.sent, "acknowledged": self.acknowledged,
            "rejected": self.rejected, "reject_texts": self.reject_texts, "filled": self.filled,
            "unfinished": self.unfinished, "expired": self.expired, "working": self.working,
            "client_fills": self.client_fills,
            "internal_crosses": {"count": self.cross_count, "shares": self.crossed_shares},
            "gross_qty": self.gross_qty, "filled_qty": self.filled_qty, "venue_executed_qty": self.venue_qty,
            "netting_saving_qty": self.netting_saving,
            "venues": {name: {"kind": v.kind, "shares": v.shares, "fills": v.fills, "client_fills": v.client_fills,
                              "fees": str(v.fees)} for name, v in self.venues.items()},
            "cost_bps_convention": "cost = s*(avg_px - benchmark)/benchmark*1e4; positive = worse than benchmark",
            "overall": _cost_json(self.overall),
            "symbols": {symbol: _cost_json(c) for symbol, c in self.symbols.items()},
            "virtual_s": round(self.virtual_s, 3), "wall_s": round(self.wall_s, 3),
            "venue_messages": self.venue_messages, "alerts": self.alerts,
        }


def _bps_number(value: Decimal | None) -> float | None:
    return None if value is None else float(value.quantize(Decimal("0.0001")))


def _cost_json(c: CostSummary) -> dict[str, Any]:
    return {"orders": c.orders, "filled_qty": c.filled_qty, "cost_vs_arrival_bps": _bps_number(c.vs_arrival_bps),
            "cost_vs_vwap_bps": _bps_number(c.vs_vwap_bps), "vwap_qty": c.vwap_qty,
            "shortfall": str(c.shortfall), "execution_cost": str(c.execution_cost),
            "opportunity_cost": str(c.opportunity_cost), "shortfall_bps": _bps_number(c.shortfall_bps)}


@dataclass
class _Run:
    """The demo's OMS side: counts the reports the clients are sent and feeds them to the TCA recorder."""

    sim: Simulation
    recorder: TcaRecorder
    reject_texts: dict[str, int] = field(default_factory=dict)

    def on_report(self, out: Outgoing) -> None:
        report = out.report
        if isinstance(report, CancelReject):
            return  # not an execution report: nothing TCA or the reject count reads
        if report.kind is ReportKind.REJECTED:
            self.reject_texts[report.text] = self.reject_texts.get(report.text, 0) + 1
        self.recorder.on_report(report, self.sim.clock.now(), out.session)


def run_demo(orders: int = 400, seed: int = 7, window_s: float = 120.0,
             config_path: str | Path = "configs/metaorder.toml", venues_path: str | Path = "configs/venues.toml",
             stopwatch: Callable[[], float] = time.perf_counter) -> DemoSummary:
    """Send the burst, run the simulation until every order is done (or the last window + a margin)."""
    if orders < 1:
        raise ValueError("--orders must be at least 1")
    if not window_s > 0:
        raise ValueError("--window must be a positive number of seconds")
    started = stopwatch()
    config = load_config(config_path)
    venues_config = load_venues_config(venues_path)
    venues_config = venues_config.model_copy(update={"market": venues_config.market.model_copy(update={"seed": seed})})
    instruments = _tradable(config, {i.symbol for i in venues_config.instrument})
    plan = plan_burst(orders, seed, window_s, instruments, config.risk.duplicate_window_s)

    journal = MemoryJournal()
    sim = build_simulation(config, venues_config, VirtualClock(T0), journal)
    recorder = TcaRecorder(sim.engine.market, {i.symbol: i.reference_price for i in config.instrument})
    run = _Run(sim, recorder)
    sim.reports = ObservedReports(run.on_report)
    sim.connect()
    sim.run_until(T0 + WARM_UP_S)

    burst = sim.clock.now()
    for planned in plan:
        sim.run_until(burst + planned.offset_s)
        sim.submit(planned.session, "D", planned.body(sim.clock.now()))
    deadline = burst + max(p.offset_s + p.window_s for p in plan) + MARGIN_S
    while sim.clock.now() < deadline and not all(o.end is not None for o in recorder.results()):
        sim.run_until(min(sim.clock.now() + STEP_S, deadline))
    results = recorder.results()
    kinds = {v.name: v.kind for v in venues_config.venue}
    return DemoSummary(
        seed=seed, window_s=window_s, sent=len(plan), acknowledged=recorder.acknowledged, rejected=recorder.rejected,
        reject_texts=dict(run.reject_texts), filled=sum(o.done for o in results),
        expired=[o.order_id for o in results if o.end is not None and not o.done],
        working=[o.order_id for o in results if o.end is None],
        client_fills=sum(len(o.fills) for o in results),
        cross_count=sum(f.market == INTERNAL for o in results for f in o.fills) // 2,
        crossed_shares=sim.intake.crossed_qty, gross_qty=sum(o.qty for o in results),
        filled_qty=sum(o.filled for o in results),
        venue_qty=sim.engine.executed_qty, venues=_venue_use(journal, kinds, results),
        overall=aggregate(results), symbols=by_symbol(results), orders=results,
        virtual_s=sim.clock.now() - T0, wall_s=stopwatch() - started, venue_messages=sim.venue_messages,
        alerts=list(sim.alerts),
    )


def _tradable(config: MetaorderConfig, at_venues: set[str]) -> list[TradableInstrument]:
    instruments = [i for i in config.instrument if i.symbol in at_venues]
    if not instruments:
        raise ConfigError("no instrument of the engine's configuration is traded at the simulated venues")
    return instruments


def _venue_use(journal: MemoryJournal, kinds: Mapping[str, str], results: list[OrderTca]) -> dict[str, VenueUse]:
    """Per venue: executions and fees from the journal (parent level), client fills from the reports.

    Every configured venue is listed, used or not (most used first), so a venue the router left
    alone — today the dark pools: the best-price router works lit books only — shows as zero.
    """
    shares = dict.fromkeys(kinds, 0)
    fills = dict.fromkeys(kinds, 0)
    fees = dict.fromkeys(kinds, Decimal(0))
    for entry in journal.replay():
        if entry.kind != VenueExecution.kind:
            continue  # only the venue executions count here: the rest need not be decoded
        execution = decode_entry(entry, journal.event_version).event
        if isinstance(execution, VenueExecution):
            venue = execution.venue
            shares[venue] = shares.get(venue, 0) + execution.qty
            fills[venue] = fills.get(venue, 0) + 1
            fees[venue] = fees.get(venue, Decimal(0)) + (execution.fee if execution.fee is not None else Decimal(0))
    client: dict[str, int] = {}
    for o in results:
        for f in o.fills:
            client[f.market] = client.get(f.market, 0) + 1
    return {name: VenueUse(kinds.get(name, "external"), shares[name], fills[name], client.get(name, 0), fees[name])
            for name in sorted(shares, key=lambda v: -shares[v])}


# ---- the text summary -------------------------------------------------------------------------


def _bps(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value.quantize(Decimal('0.01')):+}"


def _ids(order_ids: list[str]) -> str:
    if not order_ids:
        return ""
    return f" ({', '.join(order_ids[:6])}{' ...' if len(order_ids) > 6 else ''})"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "n/a"


def format_summary(s: DemoSummary) -> str:
    """The human-readable summary: one fact a line, bps labelled as costs."""
    lines = [
        f"metaorder demo  seed {s.seed}, TWAP windows ~{s.window_s:g} s, accelerated time "
        f"(in-process venues, virtual clock)",
        f"orders         {s.sent} sent by {', '.join(SESSIONS)}, {s.acknowledged} acknowledged, {s.rejected} rejected",
        f"filled         {s.filled} fully filled, {len(s.expired)} expired partly filled{_ids(s.expired)}, "
        f"{len(s.working)} still working{_ids(s.working)}; {s.filled_qty} of {s.gross_qty} shares filled",
        f"client fills   {s.client_fills}",
        f"crosses        {s.cross_count} internal crosses, {s.crossed_shares} shares each side "
        f"({2 * s.crossed_shares} client shares filled internally)",
        f"netting        {s.venue_qty} shares executed at venues for {s.filled_qty} filled: "
        f"{s.netting_saving} shares ({_pct(s.netting_saving, s.filled_qty)}) never went to market",
        "venues         shares    fills  client fills  fees",
    ]
    for name, v in s.venues.items():
        lines.append(f"  {name:<6} {v.kind:<4} {v.shares:>9} {v.fills:>8} {v.client_fills:>13}  {v.fees:.2f}")
    for text, count in sorted(s.reject_texts.items()):
        lines.append(f"rejected       {count} × {text}")
    lines.append("TCA            cost in bps, positive = worse than benchmark; vs arrival mid and vs interval VWAP "
                 "weighted by filled qty; IS = implementation shortfall vs arrival incl. opportunity, over notional")
    lines.append("  symbol   orders    filled  vs arrival   vs VWAP       IS")
    for symbol, c in [*s.symbols.items(), ("ALL", s.overall)]:
        lines.append(f"  {symbol:<6} {c.orders:>8} {c.filled_qty:>9} {_bps(c.vs_arrival_bps):>11} "
                     f"{_bps(c.vs_vwap_bps):>9} {_bps(c.shortfall_bps):>8}")
    lines.append(f"time           {s.virtual_s:.1f} s simulated in {s.wall_s:.2f} s wall "
                 f"({s.venue_messages} venue messages)")
    if s.alerts:
        lines += [f"ALERT          {a}" for a in s.alerts]
    return "\n".join(lines)


def print_demo(summary: DemoSummary, as_json: bool) -> None:
    print(json.dumps(summary.to_json()) if as_json else format_summary(summary))
