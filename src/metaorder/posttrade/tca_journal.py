"""``metaorder tca P3 | O17 | SESSION:ClOrdID | --day YYYY-MM-DD``: costs from the journal.

Why this module exists
----------------------
The journal holds every fact of an execution: the client order as accepted (and when), each child
placed (with the mid when it left), each venue execution (with its fee), each parent fill and how
it was allocated, the IS parents' pre-trade estimates, the venues' markouts and, since
:class:`~metaorder.events.MarketSample`, the market itself sampled about once a second.  This module
folds those events — pure, no IO, no clock — into the figures a desk asks for, per client order,
per parent, per child and per venue.  Reading the journal is :mod:`.tca_source`'s job.

Benchmarks
----------
* **arrival mid** P_d: the consolidated mid when the client order was accepted (for a parent: when
  its first order was), as the last market sample at or before that instant recorded it.  Samples
  are journaled at most every ``market_sample_s`` and only when the market changed, so that mid may
  be up to ``market_sample_s`` old (older when the market was quiet, or across a restart): the
  figures carry the source's instant (``arrival_time``) and age (``arrival_age_s``).  A journal
  without samples (written before they existed) falls back to the IS estimate's arrival price
  (parents) or the mid at the first child, sent *after* arrival (a negative age); the report says
  which (``arrival_source``: ``sample``, ``estimate``, ``first child``).
* **start mid** P₀: the mid when the first child of the execution left (``ChildPlaced.mid``): the
  market the execution actually met.
* **interval VWAP**: Δnotional/Δvolume of the consolidated tape between the last sample at or before
  the start and the first sample at or after the end (samples are ≤ 1 s apart, so the interval is
  that much wider, never narrower).  The tape's figures restart at zero with each engine run, so
  it is summed as increments within each run (:class:`Tape`), never differenced across a restart.
  None without two samples or when nothing traded.
* **pre-trade estimate** (IS parents): the Almgren–Chriss expected cost and its standard deviation
  as journaled when the parent was planned (``PreTradeEstimate``), against the realized shortfall
  measured from the estimate's own arrival price.

Implementation shortfall (Perold, GUIDE §6), in money, s = +1 buy / −1 sell, X ordered, X_f filled:
delay s·X_f·(P₀ − P_d) (the market moved before the first child left), execution s·X_f·(P_avg − P₀),
opportunity s·(X − X_f)·(P_end − P_d) (P_end the mid at the end, for what was not filled), and the
venues' fees.  Their sum is s·X_f·(P_avg − P_d) + opportunity + fees; in bps over the paper
notional X·P_d.  Fees are charged to parents; an order is charged its parent's fees pro rata to
the shares allocated to it.  An order crossed internally on arrival has no child: P₀ = P_d.

Every bps figure is labelled: **cost** s·(P − P_b)/P_b·10⁴ (positive is bad), **performance** its
negative (GUIDE §6).  Markouts (GUIDE §9): s·(mid(t + h) − price)/price·10⁴ per fill, averaged by
quantity; negative means the market moved against the venue's fills (adverse selection).

Money is exact (``Decimal``, quotients at 28 significant digits), nothing is rounded here.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Final

from metaorder import events as ev
from metaorder.eventcodec import Recorded

__all__ = [
    "ChildTca",
    "JournalReport",
    "OrderFigures",
    "Picture",
    "Shortfall",
    "Tape",
    "TcaError",
    "VenueTca",
    "analyse_journal",
]

_Q: Final = Context(prec=28)
_BPS: Final = Decimal(10_000)
_ZERO: Final = Decimal(0)
_DAY_S: Final = 86_400


class TcaError(Exception):
    """The journal cannot answer (unknown id, nothing that day, malformed entry): one line."""


def _div(a: Decimal, b: Decimal | int) -> Decimal:
    return _Q.divide(a, b)


def cost_bps(sign: int, price: Decimal | None, benchmark: Decimal | None) -> Decimal | None:
    """s·(P − P_b)/P_b·10⁴, positive is bad; None when either is unknown."""
    if price is None or benchmark is None or benchmark <= 0:
        return None
    return _Q.multiply(_div(sign * (price - benchmark), benchmark), _BPS)


# --------------------------------------------------------------------------- the market tape


class Tape:
    """One symbol's market samples in time order: the mid at an instant and the VWAP over an interval.

    A sample's volume and notional are cumulative *since its engine run started* (each run's market
    view begins at zero), so two samples of different runs cannot be subtracted: 1,000 @ 100 before
    a restart and 5,000 @ 120 after it would make Δ = 4,000 shares for 500,000, a VWAP of 125 nobody
    traded at.  The tape is therefore rebuilt as one running total of *increments*: between two
    consecutive samples of one run, their difference; for the first sample of a run, its own figures
    (traded since the run's zero).  A run starts at each ``engine.started`` (``starts``, which are also
    points of the tape: zero traded in the new run so far, a valid end of an interval before it and
    start of one after it) and wherever the volume or notional falls (a restart the journal read did
    not show).  Before the first start the tape knows no zero, so its first sample is the baseline.
    Samples are assumed to follow a start with the same time (the start is journaled first).
    """

    def __init__(self, samples: Sequence[tuple[float, ev.MarketSample]], starts: Iterable[float] = ()) -> None:
        self.samples = sorted(samples, key=lambda s: s[0])
        self._times = [t for t, _ in self.samples]
        points = sorted([(t, 0, None) for t in starts] + [(t, 1, s) for t, s in self.samples],
                        key=lambda p: (p[0], p[1]))
        self._points: list[float] = []  # times of the running totals below
        self._volume: list[int] = []  # traded up to that point, summed over runs
        self._notional: list[Decimal] = []
        volume, notional = 0, _ZERO
        base: tuple[int, Decimal] | None = None  # this run's last cumulative figures; None: zero unknown
        for t, _, sample in points:
            if sample is None:
                base = (0, _ZERO)
            else:
                if base is not None and (sample.volume < base[0] or sample.notional < base[1]):
                    base = (0, _ZERO)  # the figures fell: a new run began since the last sample
                if base is not None:
                    volume += sample.volume - base[0]
                    notional += sample.notional - base[1]
                base = (sample.volume, sample.notional)
            self._points.append(t)
            self._volume.append(volume)
            self._notional.append(notional)

    def mid(self, at: float) -> Decimal | None:
        """The mid of the last two-sided sample at or before ``at``."""
        found = self.mid_sample(at)
        return None if found is None else found[1]

    def mid_sample(self, at: float) -> tuple[float, Decimal] | None:
        """(time, mid) of the last two-sided sample at or before ``at``: what :meth:`mid` is, and how old."""
        n = bisect.bisect_right(self._times, at)
        while n > 0:
            n -= 1
            t, sample = self.samples[n]
            mid = sample.mid
            if mid is not None:
                return t, mid
        return None

    def vwap(self, start: float, end: float) -> Decimal | None:
        """Δnotional/Δvolume of the running totals from the last point ≤ start to the first ≥ end (else
        the last); None when nothing traded in between."""
        if not self._points:
            return None
        first = max(bisect.bisect_right(self._points, start) - 1, 0)
        last = min(bisect.bisect_left(self._points, end), len(self._points) - 1)
        volume = self._volume[last] - self._volume[first]
        if volume <= 0:
            return None
        return _div(self._notional[last] - self._notional[first], volume)

    def path(self, start: float, end: float) -> list[tuple[float, Decimal]]:
        """(time, mid) of the samples from just before ``start`` to just after ``end``."""
        lo = max(bisect.bisect_right(self._times, start) - 1, 0)
        hi = bisect.bisect_left(self._times, end) + 1
        return [(t, s.mid) for t, s in self.samples[lo:hi] if s.mid is not None]


# --------------------------------------------------------------------------- folded state


@dataclass(slots=True)
class _Child:
    placed: ev.ChildPlaced
    time: float
    fills: list[tuple[float, int, Decimal, Decimal | None]] = field(default_factory=list)  # time, qty, px, fee
    state: str = "working"
    markouts: list[ev.VenueMarkout] = field(default_factory=list)


@dataclass(slots=True)
class _Parent:
    parent_id: str
    children: dict[str, _Child] = field(default_factory=dict)
    members: dict[str, None] = field(default_factory=dict)
    estimate: ev.PreTradeEstimate | None = None
    strategy: str = ""
    allocated: dict[str, int] = field(default_factory=dict)  # order id -> shares allocated from venue fills
    last_time: float = 0.0
    estimate_time: float = 0.0


@dataclass(slots=True)
class _Order:
    accepted: ev.OrderAccepted
    time: float
    qty: int
    fills: list[tuple[float, int, Decimal, str]] = field(default_factory=list)  # time, qty, price, market
    parents: dict[str, None] = field(default_factory=dict)
    end: float | None = None
    status: str = "working"


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Implementation shortfall in money (see the module docstring), and in bps of X·P_d."""

    delay: Decimal
    execution: Decimal
    opportunity: Decimal
    fees: Decimal
    paper: Decimal  # X·P_d

    @property
    def total(self) -> Decimal:
        return self.delay + self.execution + self.opportunity + self.fees

    def bps(self, part: Decimal) -> Decimal | None:
        return _Q.multiply(_div(part, self.paper), _BPS) if self.paper else None


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """A client order's or a parent's costs (``kind`` "order" or "parent")."""

    kind: str
    id: str
    label: str  # SESSION ClOrdID for an order, strategy for a parent
    symbol: str
    side: str
    sign: int
    qty: int
    filled: int
    avg_price: Decimal | None
    start: float
    end: float | None  # None: still working when the journal ends
    arrival: Decimal | None  # P_d
    arrival_source: str
    start_mid: Decimal | None  # P₀
    end_mid: Decimal | None  # P_end
    vwap: Decimal | None
    shortfall: Shortfall | None  # None: no arrival price known
    fees: Decimal
    estimate: ev.PreTradeEstimate | None = None
    realized_vs_estimate: Decimal | None = None  # money, measured from the estimate's arrival price
    status: str = ""
    arrival_time: float | None = None  # when the arrival mid was observed (the sample, the child, the estimate)

    @property
    def arrival_age_s(self) -> float | None:
        """How long before the arrival instant (``start``) its mid was observed; negative: after it
        (the first child's mid, in a journal without samples)."""
        return None if self.arrival_time is None else self.start - self.arrival_time

    @property
    def cost_vs_arrival_bps(self) -> Decimal | None:
        return cost_bps(self.sign, self.avg_price, self.arrival)

    @property
    def cost_vs_vwap_bps(self) -> Decimal | None:
        return cost_bps(self.sign, self.avg_price, self.vwap)

    @property
    def estimate_z(self) -> Decimal | None:
        """(realized − expected)/σ of the pre-trade estimate: how many standard deviations off."""
        e, r = self.estimate, self.realized_vs_estimate
        if e is None or r is None or e.std_cost <= 0:
            return None
        return _div(r - Decimal(repr(e.expected_cost)), Decimal(repr(e.std_cost)))


@dataclass(frozen=True, slots=True)
class ChildTca:
    child_id: str
    parent_id: str
    venue: str
    time: float
    sign: int
    qty: int
    limit: Decimal | None
    filled: int
    avg_price: Decimal | None
    mid: Decimal | None  # when it was sent
    fees: Decimal
    state: str
    markouts: tuple[tuple[float, Decimal], ...]  # (horizon s, qty-weighted markout bps)
    peg: bool = False  # a midpoint peg (``limit`` its cap, None: uncapped)

    @property
    def order_type(self) -> str:
        """How it was priced, for people: ``market``, the limit, ``mid peg`` or ``mid peg <= cap``."""
        if self.peg:
            return "mid peg" if self.limit is None else f"mid peg <= {self.limit}"
        return "market" if self.limit is None else str(self.limit)

    @property
    def cost_vs_mid_bps(self) -> Decimal | None:
        return cost_bps(self.sign, self.avg_price, self.mid)


@dataclass(frozen=True, slots=True)
class VenueTca:
    venue: str
    children: int
    sent: int
    filled: int
    fees: Decimal
    cost_vs_mid_bps: Decimal | None  # filled-qty-weighted over its children
    markouts: tuple[tuple[float, Decimal], ...]

    @property
    def fill_rate(self) -> Decimal | None:
        return _div(Decimal(self.filled), self.sent) if self.sent else None


@dataclass(frozen=True, slots=True)
class Picture:
    """What the plot draws (one parent)."""

    title: str
    symbol: str
    mids: list[tuple[float, Decimal]]
    fills: list[tuple[float, Decimal, int, str]]  # time, price, qty, venue
    arrival: Decimal | None
    vwap: Decimal | None
    avg_price: Decimal | None
    executed: list[tuple[float, int]]
    schedule: list[tuple[float, int]]


@dataclass(frozen=True, slots=True)
class JournalReport:
    subject: str
    source: str
    orders: tuple[OrderFigures, ...]
    parents: tuple[OrderFigures, ...]
    children: tuple[ChildTca, ...]
    venues: tuple[VenueTca, ...]
    samples: int  # market samples used (0: an older journal, benchmarks fall back)
    picture: Picture | None


# --------------------------------------------------------------------------- the fold


class _Fold:
    def __init__(self, records: Iterable[Recorded]) -> None:
        self.orders: dict[str, _Order] = {}
        self.parents: dict[str, _Parent] = {}
        self.children: dict[str, _Child] = {}
        samples: dict[str, list[tuple[float, ev.MarketSample]]] = {}
        starts: list[float] = []  # engine runs: each restarts the tape's cumulative figures
        self.last_time = 0.0
        for rec in records:
            self.last_time = max(self.last_time, rec.time)
            e = rec.event
            if isinstance(e, ev.MarketSample):
                samples.setdefault(e.symbol, []).append((rec.time, e))
            elif isinstance(e, ev.EngineStarted):
                starts.append(rec.time)
            else:
                self._apply(e, rec.time)
        self.tapes = {symbol: Tape(s, starts) for symbol, s in samples.items()}

    def parent(self, parent_id: str, time: float) -> _Parent:
        p = self.parents.get(parent_id)
        if p is None:
            p = self.parents[parent_id] = _Parent(parent_id)
        p.last_time = max(p.last_time, time)
        return p

    def _apply(self, e: ev.Event, t: float) -> None:
        if isinstance(e, ev.OrderAccepted):
            new = self.orders[e.order_id] = _Order(e, t, e.qty)
            if e.parent_id is not None:
                new.parents[e.parent_id] = None
                p = self.parent(e.parent_id, t)
                p.members[e.order_id] = None
                p.strategy = p.strategy or e.mandate.strategy.name
        elif isinstance(e, ev.OrderReplaced):
            order = self.orders.get(e.order_id)
            if order is not None:
                order.qty = e.qty
                if e.parent_id is not None:
                    order.parents[e.parent_id] = None
                    self.parent(e.parent_id, t).members[e.order_id] = None
        elif isinstance(e, ev.OrderCanceled | ev.OrderExpired):
            order = self.orders.get(e.order_id)
            if order is not None and order.end is None:
                order.end, order.status = t, "canceled" if isinstance(e, ev.OrderCanceled) else "expired"
        elif isinstance(e, ev.Crossed):
            for oid in (e.incoming, e.resting):
                self._order_fill(oid, t, e.qty, e.price, e.market)
        elif isinstance(e, ev.ParentFilled):
            p = self.parent(e.parent_id, t)
            for oid, qty in e.allocations:
                p.allocated[oid] = p.allocated.get(oid, 0) + qty
                self._order_fill(oid, t, qty, e.price, e.market)
        elif isinstance(e, ev.ChildPlaced):
            self.children[e.child_id] = self.parent(e.parent_id, t).children[e.child_id] = _Child(e, t)
        elif isinstance(e, ev.VenueExecution):
            child = self.children.get(e.child_id)
            if child is not None:
                child.fills.append((t, e.qty, e.price, e.fee))
                self.parent(e.parent_id, t)
        elif isinstance(e, ev.ChildCanceled | ev.ChildRejected):
            child = self.children.get(e.child_id)
            if child is not None:
                child.state = "canceled" if isinstance(e, ev.ChildCanceled) else "rejected"
        elif isinstance(e, ev.VenueMarkout):
            child = self.children.get(e.child_id)
            if child is not None:
                child.markouts.append(e)
        elif isinstance(e, ev.PreTradeEstimate):
            p = self.parent(e.parent_id, t)
            p.estimate, p.estimate_time = e, t
        elif isinstance(e, ev.StrategyChosen):
            self.parent(e.parent_id, t).strategy = e.used

    def _order_fill(self, oid: str, t: float, qty: int, price: Decimal, market: str) -> None:
        order = self.orders.get(oid)
        if order is None:
            return
        order.fills.append((t, qty, price, market))
        if order.end is None and sum(f[1] for f in order.fills) >= order.qty:
            order.end, order.status = t, "filled"

    # ---- figures ------------------------------------------------------------------------------

    def mid(self, symbol: str, at: float) -> Decimal | None:
        tape = self.tapes.get(symbol)
        return tape.mid(at) if tape is not None else None

    def mid_sample(self, symbol: str, at: float) -> tuple[float, Decimal] | None:
        tape = self.tapes.get(symbol)
        return tape.mid_sample(at) if tape is not None else None

    def vwap(self, symbol: str, start: float, end: float) -> Decimal | None:
        tape = self.tapes.get(symbol)
        return tape.vwap(start, end) if tape is not None else None

    def first_child(self, parent_ids: Iterable[str], after: float) -> _Child | None:
        kids = [c for pid in parent_ids if pid in self.parents for c in self.parents[pid].children.values()
                if c.time >= after]
        return min(kids, key=lambda c: (c.time, c.placed.child_id), default=None)

    def parent_fees(self, p: _Parent) -> Decimal:
        return sum((f[3] for c in p.children.values() for f in c.fills if f[3] is not None), _ZERO)

    def order_figures(self, o: _Order) -> OrderFigures:
        a = o.accepted
        sign = a.side.sign
        filled = sum(f[1] for f in o.fills)
        notional = sum((f[1] * f[2] for f in o.fills), _ZERO)
        avg = _div(notional, filled) if filled else None
        first = self.first_child(o.parents, o.time)
        arrival, source, observed = _observed(self.mid_sample(a.symbol, o.time), "sample")
        if arrival is None and first is not None and first.placed.mid is not None:
            arrival, source, observed = first.placed.mid, "first child", first.time
        start_mid = first.placed.mid if first is not None and first.placed.mid is not None else arrival
        if o.fills and first is not None and o.fills[0][0] < first.time:
            start_mid = arrival  # crossed on arrival before any child left
        end = o.end if o.end is not None else self.last_time
        end_mid = self.mid(a.symbol, end)
        fees = _ZERO
        for pid in o.parents:
            p = self.parents.get(pid)
            if p is None:
                continue
            executed = sum(f[1] for c in p.children.values() for f in c.fills)
            if executed:
                fees += _div(self.parent_fees(p) * p.allocated.get(a.order_id, 0), executed)
        shortfall = _shortfall(sign, o.qty, filled, notional, arrival, start_mid, end_mid, fees)
        return OrderFigures("order", a.order_id, f"{a.session} {a.cl_ord_id}", a.symbol, _side(a.side.sign), sign,
                            o.qty, filled, avg, o.time, o.end, arrival, source if arrival is not None else "none",
                            start_mid, end_mid, self.vwap(a.symbol, o.time, end), shortfall, fees,
                            status=o.status, arrival_time=observed)

    def parent_figures(self, p: _Parent) -> OrderFigures | None:
        members = [self.orders[oid] for oid in p.members if oid in self.orders]
        kids = sorted(p.children.values(), key=lambda c: c.time)
        if not members and not kids:
            return None
        symbol = kids[0].placed.symbol if kids else members[0].accepted.symbol
        sign = kids[0].placed.side.sign if kids else members[0].accepted.side.sign
        fills = sorted((f for c in kids for f in c.fills), key=lambda f: f[0])
        filled = sum(f[1] for f in fills)
        notional = sum((f[1] * f[2] for f in fills), _ZERO)
        avg = _div(notional, filled) if filled else None
        leaves = sum(max(o.qty - sum(f[1] for f in o.fills), 0) for o in members
                     if next(reversed(o.parents), None) == p.parent_id)
        qty = filled + leaves
        start = min([o.time for o in members] or [kids[0].time])
        arrival, source, observed = _observed(self.mid_sample(symbol, start), "sample")
        if arrival is None and p.estimate is not None and p.estimate.arrival_price is not None:
            arrival, source, observed = p.estimate.arrival_price, "estimate", p.estimate_time
        if arrival is None and kids and kids[0].placed.mid is not None:
            arrival, source, observed = kids[0].placed.mid, "first child", kids[0].time
        start_mid = kids[0].placed.mid if kids and kids[0].placed.mid is not None else arrival
        done = all(o.end is not None for o in members) and not any(c.state == "working" and
                                                                 sum(f[1] for f in c.fills) < c.placed.qty
                                                                 for c in kids)
        end = max([p.last_time, *(o.end for o in members if o.end is not None)]) if done else self.last_time
        end_mid = self.mid(symbol, end)
        fees = self.parent_fees(p)
        shortfall = _shortfall(sign, qty, filled, notional, arrival, start_mid, end_mid, fees)
        realized = None
        e = p.estimate
        if e is not None and e.arrival_price is not None and filled:
            realized = sign * (notional - filled * e.arrival_price) + fees
        return OrderFigures("parent", p.parent_id, p.strategy or "-", symbol, _side(sign), sign, qty, filled, avg,
                            start, end if done else None, arrival, source if arrival is not None else "none",
                            start_mid, end_mid, self.vwap(symbol, start, end), shortfall, fees, e, realized,
                            "done" if done else "working", observed)

    def child_figures(self, c: _Child) -> ChildTca:
        pl = c.placed
        filled = sum(f[1] for f in c.fills)
        notional = sum((f[1] * f[2] for f in c.fills), _ZERO)
        fees = sum((f[3] for f in c.fills if f[3] is not None), _ZERO)
        state = "filled" if filled >= pl.qty else c.state
        return ChildTca(pl.child_id, pl.parent_id, pl.venue, c.time, pl.side.sign, pl.qty, pl.price, filled,
                        _div(notional, filled) if filled else None, pl.mid, fees, state, _markouts(c.markouts),
                        pl.peg)


def _observed(found: tuple[float, Decimal] | None, source: str) -> tuple[Decimal | None, str, float | None]:
    """(mid, source, when) of a tape's sample, or nothing found."""
    return (None, source, None) if found is None else (found[1], source, found[0])


def _side(sign: int) -> str:
    return "buy" if sign > 0 else "sell"


def _shortfall(sign: int, qty: int, filled: int, notional: Decimal, arrival: Decimal | None,
               start_mid: Decimal | None, end_mid: Decimal | None, fees: Decimal) -> Shortfall | None:
    if arrival is None:
        return None
    p0 = start_mid if start_mid is not None else arrival
    unfilled = max(qty - filled, 0)
    opportunity = sign * unfilled * (end_mid - arrival) if unfilled and end_mid is not None else _ZERO
    return Shortfall(delay=sign * filled * (p0 - arrival), execution=sign * (notional - filled * p0),
                     opportunity=opportunity, fees=fees, paper=qty * arrival)


def _markouts(marks: Iterable[ev.VenueMarkout]) -> tuple[tuple[float, Decimal], ...]:
    """Quantity-weighted markout bps per horizon: s·(mid(t+h) − price)/price·10⁴ (GUIDE §9)."""
    sums: dict[float, tuple[Decimal, int]] = {}
    for m in marks:
        for horizon, mid in m.mids:
            value = _Q.multiply(_div(m.side.sign * (mid - m.price), m.price), _BPS) * m.qty
            total, qty = sums.get(horizon, (_ZERO, 0))
            sums[horizon] = (total + value, qty + m.qty)
    return tuple((h, _div(total, qty)) for h, (total, qty) in sorted(sums.items()) if qty)


def _venues(fold: _Fold, children: Sequence[_Child]) -> tuple[VenueTca, ...]:
    out: list[VenueTca] = []
    for venue in sorted({c.placed.venue for c in children}):
        mine = [c for c in children if c.placed.venue == venue]
        figures = [fold.child_figures(c) for c in mine]
        weighted = [(f.cost_vs_mid_bps, f.filled) for f in figures if f.cost_vs_mid_bps is not None and f.filled]
        weight = sum(q for _, q in weighted)
        cost = _div(sum((b * q for b, q in weighted), _ZERO), weight) if weight else None
        out.append(VenueTca(venue, len(mine), sum(c.placed.qty for c in mine), sum(f.filled for f in figures),
                            sum((f.fees for f in figures), _ZERO), cost,
                            _markouts(m for c in mine for m in c.markouts)))
    return tuple(out)


def _picture(fold: _Fold, p: _Parent, figures: OrderFigures) -> Picture:
    fills = sorted(((f[0], f[2], f[1], c.placed.venue) for c in p.children.values() for f in c.fills),
                   key=lambda f: f[0])
    end = figures.end if figures.end is not None else fold.last_time
    tape = fold.tapes.get(figures.symbol)
    mids = tape.path(figures.start, end) if tape is not None else []
    executed: list[tuple[float, int]] = [(figures.start, 0)]
    for t, _, q, _ in fills:
        executed.append((t, executed[-1][1] + q))
    members = [fold.orders[o] for o in p.members if o in fold.orders]
    windows = [o.accepted.mandate.end_time for o in members if o.accepted.mandate.end_time is not None]
    window_end = max(windows) if windows else end
    starts = [o.accepted.mandate.start_time for o in members if o.accepted.mandate.start_time is not None]
    window_start = max([figures.start, *starts])
    schedule = [(figures.start, 0), (window_start, 0), (window_end, figures.qty)]
    title = (f"{p.parent_id} {figures.side} {figures.qty:,} {figures.symbol} ({figures.label}): "
             f"filled {figures.filled:,}")
    bps = figures.cost_vs_arrival_bps
    if bps is not None:
        title += f", cost vs arrival {bps:+.2f} bps"
    return Picture(title, figures.symbol, mids, fills, figures.arrival, figures.vwap, figures.avg_price, executed,
                   schedule)


def _day_bounds(day: str) -> tuple[float, float]:
    start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC).timestamp()
    return start, start + _DAY_S


def analyse_journal(records: Iterable[Recorded], target: str | None, day: str | None,
                    source: str = "journal") -> JournalReport:
    """The figures for ``target`` (P3, O17, SESSION:ClOrdID) or every order accepted on ``day``."""
    fold = _Fold(records)
    if day is not None:
        lo, hi = _day_bounds(day)
        orders = [o for o in fold.orders.values() if lo <= o.time < hi]
        if not orders:
            raise TcaError(f"no order accepted on {day} (UTC) in {source}")
        parent_ids = list(dict.fromkeys(pid for o in orders for pid in o.parents))
        subject = day
    elif target is not None and ":" in target:
        session, _, cl = target.partition(":")
        orders = [o for o in fold.orders.values() if o.accepted.session == session and o.accepted.cl_ord_id == cl]
        if not orders:
            raise TcaError(f"no order {target} in {source}")
        parent_ids = list(dict.fromkeys(pid for o in orders for pid in o.parents))
        subject = target
    elif target is not None and target in fold.orders:
        orders = [fold.orders[target]]
        parent_ids = list(orders[0].parents)
        subject = target
    elif target is not None and target in fold.parents:
        p = fold.parents[target]
        orders = [fold.orders[o] for o in p.members if o in fold.orders]
        parent_ids = [target]
        subject = target
    else:
        raise TcaError(f"no order or parent {target} in {source}")
    parents = [fold.parents[pid] for pid in parent_ids if pid in fold.parents]
    parent_figures = [(p, f) for p in parents if (f := fold.parent_figures(p)) is not None]
    children = sorted((c for p in parents for c in p.children.values()), key=lambda c: c.time)
    picture = None
    if parent_figures:
        picture = _picture(fold, *parent_figures[0])
    return JournalReport(subject, source, tuple(fold.order_figures(o) for o in orders),
                         tuple(f for _, f in parent_figures), tuple(fold.child_figures(c) for c in children),
                         _venues(fold, children), sum(len(t.samples) for t in fold.tapes.values()), picture)
