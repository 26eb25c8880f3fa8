"""One lab run: a flow through the simulated venues, for one strategy and one seed, measured.

The wiring is the demo's (:mod:`metaorder.demo`): the daemon's intake and engine in front of the
in-process venues on a virtual clock (:func:`metaorder.simulate.build_simulation`), every order a
NewOrderSingle through the FIX codec, the reports fed to :class:`~metaorder.posttrade.tca.TcaRecorder`
at the instant they are produced.  What a run varies:

* ``strategy`` — TWAP, VWAP, IS or POV: every order's TargetStrategy (847) is replaced by it (POV
  orders without a ParticipationRate get :data:`~metaorder.lab.flow.DEFAULT_POV_RATE`); FLOW keeps each
  row's own; ALONE is the baseline: ``[intake] aggregate = false`` and ``net = false`` (one parent per
  client order, no internal crosses) and every kind worked by
  :class:`~metaorder.execution.immediate.Immediate` (everything at once, as a taker, through the same
  router), from the lab's own registry;
* ``seed`` — the market's seed, the strategies' seed (``[execution] seed``) and, for a generated
  flow, the flow's (the caller generates it from the same seed);
* ``urgency`` — when given, every order's Urgency (848) is replaced by it (the lab's HIGH-urgency
  experiment of IS against TWAP, :mod:`metaorder.lab.targets`).

What it measures comes from three places, all read after the fact or at report instants, never by
reaching into the engine: the client reports (costs, completion, internal fills), the journal (venue
executions with their fees, child orders placed and canceled, which parent each order joined, the
IS parents' pre-trade estimates), and the consolidated tape's cumulative volume and notional and the
mid snapshotted when each order is acknowledged and when it ends (participation, interval VWAP,
opportunity cost).  :mod:`metaorder.lab.metrics` turns them into figures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

from metaorder.clock import VirtualClock
from metaorder.config import MetaorderConfig, VenuesConfig
from metaorder.demo import MARGIN_S, STEP_S, T0, WARM_UP_S, ObservedReports
from metaorder.eventcodec import decode_entry
from metaorder.events import (
    ChildCanceled,
    ChildPlaced,
    ChildRejected,
    Crossed,
    OrderAccepted,
    OrderReplaced,
    ParentFilled,
    ParentHalted,
    ParentOverfilled,
    PreTradeEstimate,
    VenueExecution,
    VenueMarkout,
)
from metaorder.execution.estimates import OrderKind
from metaorder.execution.immediate import Immediate, ImmediateSettings
from metaorder.execution.strategies import StrategyRegistry, StrategySpec
from metaorder.lab.flow import DEFAULT_POV_RATE, FlowOrder, new_order_body
from metaorder.orders.book import INTERNAL
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.messages import CancelReject, ExecutionReport, Outgoing, ReportKind
from metaorder.orders.model import OrderStatus, Strategy
from metaorder.posttrade.tca import TcaRecorder
from metaorder.simulate import Simulation, build_simulation

ALONE = "ALONE"
FLOW = "FLOW"  # each order keeps its own strategy
STRATEGY_KINDS = tuple(s.name for s in Strategy)  # TWAP, VWAP, IS, POV (TargetStrategy names)
_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED})
PRINT_LAG_S = 0.05  # a print reaches the tape within this of its fill report (venue latencies are ~1 ms)
SNAPSHOT_STEP_S = 0.25  # the run loop stops this often to take the end snapshots that are due
_JOURNAL_KINDS = frozenset({OrderAccepted.kind, ChildPlaced.kind, ChildCanceled.kind, ChildRejected.kind,
                            VenueExecution.kind, PreTradeEstimate.kind, OrderReplaced.kind, Crossed.kind,
                            ParentFilled.kind, ParentOverfilled.kind, ParentHalted.kind, VenueMarkout.kind})
MARKOUT_HORIZON_S = 10.0  # the markout the lab reports: the mid this long after each fill
# A ParentHalted text that speaks of more filled than wanted (the guard's and the engine's wording,
# execution/control.py and engine.py); other halts (a refused child) are not over-fills.
_OVERFILL_HALT = re.compile(r"over-fill|^filled \d+ exceeds limit|already filled")


def alone_registry() -> StrategyRegistry:
    """Every TargetStrategy worked by :class:`Immediate`: the baseline's registry."""
    spec: StrategySpec[ImmediateSettings] = StrategySpec(ImmediateSettings.from_mapping, Immediate)
    return StrategyRegistry(specs=dict.fromkeys(STRATEGY_KINDS, spec))


# ---- what one run returns (plain, picklable values: runs may go to worker processes) -----------


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One client order's outcome."""

    order_id: str
    symbol: str
    sign: int
    qty: int
    filled: int
    filled_by_expiry: int  # shares filled at or before its ExpireTime
    internal: int  # shares filled by internal crosses
    notional: Decimal  # Σ fill qty × price
    cost_bps: Decimal | None  # vs arrival mid (TCA convention: positive = worse)
    vwap_bps: Decimal | None  # vs interval VWAP
    arrival: Decimal
    parent_id: str | None
    completed_s: float | None = None  # fully filled: its acknowledgement to its last fill (s); else None


@dataclass(frozen=True, slots=True)
class ParentRecord:
    """One parent (a set of aggregated orders) as the lab's participation measure sees it."""

    parent_id: str
    symbol: str
    qty: int  # Σ of its orders' quantities
    start: float  # first of its orders acknowledged
    end: float  # last of them final (or the run's end)
    tape_volume: int  # consolidated volume of the symbol over [start, end], ours included
    lit_qty: int  # its executions on lit venues (prints: in tape_volume)
    sign: int = 1  # +1 buy, -1 sell
    tape_notional: Decimal = Decimal(0)  # Σ price·size of the tape over [start, end] (interval VWAP)
    end_mid: Decimal | None = None  # consolidated mid at its end snapshot (opportunity cost)
    rate: Decimal | None = None  # ParticipationRate of its orders (POV runs: DEFAULT_POV_RATE if none)
    # the simulated market's latent fair price (a model quantity, float) at its start and at its end
    fair_start: float | None = None
    fair_end: float | None = None


@dataclass(frozen=True, slots=True)
class Execution:
    """One venue execution of a child order."""

    time: float
    parent_id: str
    symbol: str
    venue: str
    lit: bool
    qty: int
    price: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class EstimateRecord:
    """An IS parent's journaled pre-trade estimate (events.PreTradeEstimate): model figures, floats, $."""

    parent_id: str
    qty: int
    horizon_s: float
    periods: int
    risk_aversion: float  # λ, per $
    kappa: float  # per second
    expected_cost: float  # E, $
    std_cost: float  # sqrt(Var), $
    arrival_price: Decimal | None


@dataclass(frozen=True, slots=True)
class ChildEvent:
    """A child placed (+qty) or done with shares unexecuted (−leaves), for the schedule plot and counts."""

    time: float
    parent_id: str
    symbol: str
    qty: int  # signed: +placed, −canceled/rejected leaves


@dataclass(frozen=True, slots=True)
class RunResult:
    strategy: str
    seed: int
    orders: tuple[OrderRecord, ...]
    parents: tuple[ParentRecord, ...]
    executions: tuple[Execution, ...]
    children: tuple[ChildEvent, ...]
    # parent id -> (first acknowledgement, latest ExpireTime) of its orders: the span its orders' windows cover
    windows: dict[str, tuple[float, float]]
    rejected: int
    reject_texts: tuple[str, ...]
    alerts: tuple[str, ...]
    virtual_s: float
    wall_s: float
    estimates: tuple[EstimateRecord, ...] = ()
    urgency: str | None = None  # the Urgency forced on every order (None: each order's own)
    router: str | None = None  # the routing logic forced on every order (None: the configuration's map)
    markouts: tuple[MarkoutRecord, ...] = ()
    overfilled_parents: tuple[str, ...] = ()  # parents with a ParentOverfilled, or halted for an over-fill
    overallocated: int = 0  # shares allocated to client orders beyond their OrderQty (must be 0)
    dark_children: tuple[DarkChildren, ...] = ()
    # (venue, symbol, the scorecard's midpoint fill probability at the run's end); None: no scorecard
    dark_estimates: tuple[tuple[str, str, bool, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class MarkoutRecord:
    """One journaled markout (events.VenueMarkout) at :data:`MARKOUT_HORIZON_S`: mids as floats."""

    venue: str
    symbol: str
    sign: int  # ours: +1 buy, -1 sell
    qty: int
    fill_mid: float
    mid_after: float


@dataclass(frozen=True, slots=True)
class DarkChildren:
    """Child orders sent to one dark pool for one instrument, and how many got any fill."""

    venue: str
    symbol: str
    sent: int
    filled: int
    ioc: bool = False  # IOC midpoint orders (the scorecard's MIDPOINT_IOC), else resting pegs (MIDPOINT)


# ---- the run ----------------------------------------------------------------------------------


_Snapshot = tuple[float, int, Decimal, Decimal | None, float | None]  # (t, tape volume, notional, mid, fair)


def fair_price(sim: Simulation, symbol: str) -> float | None:
    """The simulated market's latent fair price of ``symbol`` (ticks; None: not simulated)."""
    try:
        return sim.venues.sim.market.fair_price(symbol)
    except KeyError:
        return None


def snapshot(sim: Simulation, symbol: str, t: float) -> _Snapshot:
    market = sim.engine.market
    return t, market.volume(symbol), market.notional(symbol), market.mid(symbol), fair_price(sim, symbol)


@dataclass
class _Observer:
    """Feeds the TCA recorder and snapshots the tape (cumulative volume) when orders start and end.

    The end snapshot is taken :data:`PRINT_LAG_S` after an order's final report, at the first report
    or step of the run loop after that: a venue publishes the print of a fill just after it reports
    the fill, so a snapshot at the final report itself would miss the order's own last prints (and a
    participation of more than 100 % would follow).
    """

    sim: Simulation
    recorder: TcaRecorder
    # order -> (cl_ord_id, t, volume, notional, fair): the tape (and fair price) when it was acknowledged
    started: dict[str, tuple[str, float, int, Decimal, float | None]] = field(default_factory=dict)
    ended: dict[str, _Snapshot] = field(default_factory=dict)  # order -> (t, volume, notional, mid, fair)
    finals: dict[str, tuple[str, float]] = field(default_factory=dict)  # order -> (symbol, t) awaiting its snapshot
    reject_texts: list[str] = field(default_factory=list)

    def on_report(self, out: Outgoing) -> None:
        report = out.report
        if isinstance(report, CancelReject):
            return
        now = self.sim.clock.now()
        self.recorder.on_report(report, now, out.session)
        self.settle(now)
        if not isinstance(report, ExecutionReport):
            if report.kind is ReportKind.REJECTED:
                self.reject_texts.append(report.text)
            return
        if report.kind is ReportKind.NEW:
            market = self.sim.engine.market
            self.started[report.order_id] = (report.cl_ord_id, now, market.volume(report.symbol),
                                             market.notional(report.symbol), fair_price(self.sim, report.symbol))
        elif report.status in _FINAL and report.order_id not in self.ended and report.order_id not in self.finals:
            self.finals[report.order_id] = (report.symbol, now)

    def settle(self, now: float, force: bool = False) -> None:
        """Take the end snapshots that are due (all of them with ``force``)."""
        due = [o for o, (_, t) in self.finals.items() if force or t + PRINT_LAG_S <= now]
        for order_id in due:
            symbol, t = self.finals.pop(order_id)
            self.ended[order_id] = snapshot(self.sim, symbol, t)

    @property
    def done(self) -> bool:
        return len(self.ended) + len(self.finals) >= len(self.started)

    def run_until(self, end: float) -> None:
        """The simulation up to ``end`` in steps of at most :data:`SNAPSHOT_STEP_S`, settling snapshots."""
        sim = self.sim
        while sim.clock.now() < end:
            sim.run_until(min(sim.clock.now() + SNAPSHOT_STEP_S, end))
            self.settle(sim.clock.now())


URGENCY_LEVELS = ("LOW", "MEDIUM", "HIGH")
AGGRESSIVENESS_LEVELS = ("PASSIVE", "NEUTRAL", "AGGRESSIVE")


def routed_by(config: MetaorderConfig, router: str) -> MetaorderConfig:
    """``config`` with every Urgency x Aggressiveness of ``[routing.map]`` set to ``router``: every order
    the engine routes without an 848 Routing= of its own (the lab's flows never send one) goes to it."""
    routing_map = {u: dict.fromkeys(AGGRESSIVENESS_LEVELS, router) for u in URGENCY_LEVELS}
    return config.model_copy(update={"routing": {**config.routing, "map": routing_map}})


def run_once(config: MetaorderConfig, venues_config: VenuesConfig, flow: Sequence[FlowOrder], strategy: str,
             seed: int, stopwatch: Callable[[], float] = time.perf_counter, urgency: str | None = None,
             router: str | None = None,
             on_simulation: Callable[[Simulation, MemoryJournal], None] | None = None) -> RunResult:
    """Send ``flow`` worked as ``strategy`` (or ALONE, or FLOW) on market seed ``seed``; measure it.
    ``urgency`` (LOW, MEDIUM, HIGH), when given, replaces every order's; ``router`` (BEST, SEQUENTIAL,
    PARALLEL, SEEK), when given, routes every order (:func:`routed_by`).  ``on_simulation`` is
    handed the run's simulation and journal once they are built (``bench/bench_lab.py`` counts
    what happened in them)."""
    started = stopwatch()
    if urgency is not None:
        flow = [replace(o, urgency=urgency) for o in flow]
    if router is not None:
        config = routed_by(config, router)
    alone = strategy == ALONE
    intake = config.intake.model_copy(update={"aggregate": False, "net": False}) if alone else config.intake
    config = config.model_copy(update={"intake": intake,
                                       "execution": config.execution.model_copy(update={"seed": seed})})
    venues_config = venues_config.model_copy(update={"market": venues_config.market.model_copy(update={"seed": seed})})
    journal = MemoryJournal()
    sim = build_simulation(config, venues_config, VirtualClock(T0), journal, alone_registry() if alone else None)
    if on_simulation is not None:
        on_simulation(sim, journal)
    recorder = TcaRecorder(sim.engine.market, {i.symbol: i.reference_price for i in config.instrument})
    observer = _Observer(sim, recorder)
    sim.reports = ObservedReports(observer.on_report)
    sim.connect()
    sim.run_until(T0 + WARM_UP_S)

    begin = sim.clock.now()
    override = None if strategy == FLOW else ("TWAP" if alone else strategy)
    expiry = {o.cl_ord_id: begin + o.time_s + o.window_s for o in flow}
    rates = {o.cl_ord_id: o.participation if o.participation is not None or override != "POV" else DEFAULT_POV_RATE
             for o in flow}
    for order in sorted(flow, key=lambda o: o.time_s):
        observer.run_until(begin + order.time_s)
        sim.submit(order.session, "D", new_order_body(order, sim.clock.now(), override))
    deadline = begin + max((o.time_s + o.window_s for o in flow), default=0.0) + MARGIN_S
    while sim.clock.now() < deadline and not observer.done:
        observer.run_until(min(sim.clock.now() + STEP_S, deadline))
    observer.run_until(sim.clock.now() + PRINT_LAG_S)
    observer.settle(sim.clock.now(), force=True)
    lit = {v.name: v.kind == "lit" for v in venues_config.venue}
    result = _measure(sim, journal, recorder, observer, expiry, rates, lit, strategy, seed, stopwatch() - started)
    return replace(result, urgency=urgency, router=router)


def _measure(sim: Simulation, journal: MemoryJournal, recorder: TcaRecorder, observer: _Observer,
             expiry: dict[str, float], rates: dict[str, Decimal | None], lit: dict[str, bool], strategy: str,
             seed: int, wall_s: float) -> RunResult:
    now = sim.clock.now()
    estimates: list[EstimateRecord] = []
    parent_of: dict[str, str | None] = {}
    child_symbol: dict[str, str] = {}
    executions: list[Execution] = []
    children: list[ChildEvent] = []
    journaled = JournalFigures(lit)
    for entry in journal.replay():
        if entry.kind not in _JOURNAL_KINDS:
            continue
        event = decode_entry(entry, journal.event_version).event
        journaled.fold(event)
        if isinstance(event, OrderAccepted):
            parent_of[event.order_id] = event.parent_id
        elif isinstance(event, ChildPlaced):
            child_symbol[event.child_id] = event.symbol
            children.append(ChildEvent(entry.time, event.parent_id, event.symbol, event.qty))
        elif isinstance(event, ChildCanceled | ChildRejected):
            if event.leaves_qty:
                children.append(ChildEvent(entry.time, event.parent_id, child_symbol.get(event.child_id, ""),
                                           -event.leaves_qty))
        elif isinstance(event, PreTradeEstimate):
            estimates.append(EstimateRecord(event.parent_id, event.qty, event.horizon_s, event.periods,
                                            event.risk_aversion, event.kappa, event.expected_cost, event.std_cost,
                                            event.arrival_price))
        elif isinstance(event, VenueExecution):
            executions.append(Execution(entry.time, event.parent_id, child_symbol.get(event.child_id, ""), event.venue,
                                        lit.get(event.venue, True), event.qty, event.price,
                                        event.fee if event.fee is not None else Decimal(0)))

    orders: list[OrderRecord] = []
    windows: dict[str, tuple[float, float]] = {}
    spans: dict[str, list[tuple[float, int, Decimal, _Snapshot, int, Decimal | None]]] = {}
    first_fair: dict[str, tuple[float, float | None]] = {}  # parent -> (t, fair) of its first acknowledgement
    for tca in recorder.results():
        cl_ord_id, t0, v0, n0, f0 = observer.started[tca.order_id]
        due = expiry.get(cl_ord_id, now)
        parent = parent_of.get(tca.order_id)
        completed = max(f.time for f in tca.fills) - t0 if tca.fills and tca.filled >= tca.qty else None
        orders.append(OrderRecord(
            tca.order_id, tca.symbol, tca.sign, tca.qty, tca.filled,
            sum(f.qty for f in tca.fills if f.time <= due), sum(f.qty for f in tca.fills if f.market == INTERNAL),
            tca.notional, tca.cost_vs_arrival_bps, tca.cost_vs_vwap_bps, tca.arrival, parent, completed))
        if parent is not None:
            end = observer.ended.get(tca.order_id) or snapshot(sim, tca.symbol, now)
            spans.setdefault(parent, []).append((t0, v0, n0, end, tca.qty, rates.get(cl_ord_id)))
            if parent not in first_fair or t0 < first_fair[parent][0]:
                first_fair[parent] = (t0, f0)
            w0, w1 = windows.get(parent, (t0, due))
            windows[parent] = (min(w0, t0), max(w1, due))
    parents: list[ParentRecord] = []
    lit_by_parent: dict[str, int] = {}
    for x in executions:
        if x.lit:
            lit_by_parent[x.parent_id] = lit_by_parent.get(x.parent_id, 0) + x.qty
    symbol_of = {o.parent_id: o.symbol for o in orders if o.parent_id is not None}
    sign_of = {o.parent_id: o.sign for o in orders if o.parent_id is not None}
    for parent_id, parts in spans.items():
        first = min(parts, key=lambda p: p[0])
        t1, v1, n1, mid1, fair1 = max(parts, key=lambda p: p[3][0])[3]
        parents.append(ParentRecord(parent_id, symbol_of[parent_id], sum(p[4] for p in parts), first[0], t1,
                                    v1 - first[1], lit_by_parent.get(parent_id, 0), sign_of[parent_id],
                                    n1 - first[2], mid1, first[5], first_fair[parent_id][1], fair1))
    return RunResult(strategy, seed, tuple(orders), tuple(parents), tuple(executions), tuple(children), windows,
                     recorder.rejected, tuple(observer.reject_texts), tuple(sim.alerts), now - T0, wall_s,
                     tuple(estimates), markouts=tuple(journaled.markouts),
                     overfilled_parents=tuple(sorted(journaled.overfilled)), overallocated=journaled.overallocated(),
                     dark_children=journaled.dark(), dark_estimates=dark_estimates(sim, journaled.dark()))


@dataclass
class JournalFigures:
    """What the router comparison reads from the journal: markouts, over-fills (detected and
    allocated) and the dark pools' child orders."""

    lit: dict[str, bool]
    markouts: list[MarkoutRecord] = field(default_factory=list)
    overfilled: set[str] = field(default_factory=set)
    order_qty: dict[str, int] = field(default_factory=dict)
    allocated: dict[str, int] = field(default_factory=dict)
    dark_child: dict[str, tuple[str, str, bool]] = field(default_factory=dict)  # child -> (venue, symbol, ioc)
    dark_filled: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, journal: MemoryJournal, lit: dict[str, bool]) -> JournalFigures:
        """Fold a whole journal (a run's does it entry by entry, with the rest of its measures)."""
        out = cls(lit)
        for entry in journal.replay():
            if entry.kind in _JOURNAL_KINDS:
                out.fold(decode_entry(entry, journal.event_version).event)
        return out

    def fold(self, event: object) -> None:
        if isinstance(event, OrderAccepted | OrderReplaced):
            self.order_qty[event.order_id] = event.qty
        elif isinstance(event, ParentFilled):
            for order_id, qty in event.allocations:
                self.allocated[order_id] = self.allocated.get(order_id, 0) + qty
        elif isinstance(event, Crossed):
            for order_id in event.ids:
                self.allocated[order_id] = self.allocated.get(order_id, 0) + event.qty
        elif isinstance(event, ParentOverfilled):
            self.overfilled.add(event.parent_id)
        elif isinstance(event, ParentHalted):
            if _OVERFILL_HALT.search(event.text):
                self.overfilled.add(event.parent_id)
        elif isinstance(event, ChildPlaced):
            if not self.lit.get(event.venue, True):
                self.dark_child[event.child_id] = (event.venue, event.symbol, event.ioc)
        elif isinstance(event, VenueExecution):
            if event.child_id in self.dark_child:
                self.dark_filled.add(event.child_id)
        elif isinstance(event, VenueMarkout):
            after = dict(event.mids).get(MARKOUT_HORIZON_S)
            if event.fill_mid is not None and after is not None:
                self.markouts.append(MarkoutRecord(event.venue, event.symbol, event.side.sign,
                                                   event.qty, float(event.fill_mid), float(after)))

    def overallocated(self) -> int:
        """Shares allocated to client orders beyond their (last) OrderQty, summed over the orders."""
        return sum(max(qty - self.order_qty.get(o, qty), 0) for o, qty in self.allocated.items())

    def dark(self) -> tuple[DarkChildren, ...]:
        sent: dict[tuple[str, str, bool], list[int]] = {}
        for child, key in self.dark_child.items():
            counts = sent.setdefault(key, [0, 0])
            counts[0] += 1
            counts[1] += child in self.dark_filled
        return tuple(DarkChildren(v, s, n, f, ioc) for (v, s, ioc), (n, f) in sorted(sent.items()))


def dark_estimates(sim: Simulation, dark: Sequence[DarkChildren]) -> tuple[tuple[str, str, bool, float], ...] | None:
    """The engine's scorecard's fill probability for every (pool, symbol, IOC or resting) the run sent
    to; None when the engine has no scorecard (or one that does not estimate)."""
    scorecard = getattr(sim.engine, "scorecard", None)
    estimate = getattr(scorecard, "fill_probability", None)
    if estimate is None:
        return None
    return tuple((d.venue, d.symbol, d.ioc,
                  float(estimate(d.venue, d.symbol, OrderKind.MIDPOINT_IOC if d.ioc else OrderKind.MIDPOINT)))
                 for d in dark)

