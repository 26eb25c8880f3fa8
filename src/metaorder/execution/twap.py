"""TWAP: execute a parent evenly over its window [start_time, end_time].

Schedule.  The window is cut into N slices of equal length.  N scales with the window: about one
slice per ``slice_interval`` (the target Δ), but at least ``min_slices`` — a 25 s window is still
worked in several slices, not sent at once — and at most ``max_slices`` — a day-long window gets
slices of a few minutes, not thousands of tiny ones that would each be below a venue's useful size
and leave a trail of child orders anyone can count.  Two bounds come before those: a slice is never
shorter than ``min_slice_interval`` (a very short window gets fewer slices), and there are never more
slices than the parent has lots, so no slice is empty by construction.  Slice i is sent
at its grid point start + i·Δ moved by a uniform random amount within ±``jitter``·Δ (the first
slice only later, never before the start), so the child orders do not arrive on a detectable
metronome.  The times are drawn once, from a ``random.Random(seed)``: the same seed gives the
same schedule, which is all the state the strategy keeps apart from the participation baseline.
If the parent's window changes (an order with a later ExpireTime joins), the times are drawn
again for the new window from the same seed.

Quantities.  Once slice i (0-based) is due, the cumulative target is floor(Q·(i+1)/N) rounded
down to whole lots, and the last slice's target is Q itself, so the slices add up to Q exactly
(a final odd lot included).  Q is the parent's ``target_qty`` *at the time of the call*: when orders
join or cancel, the whole schedule rescales (recalibration).  A parent that grows mid-window is
then behind its even schedule for the added quantity, and catches up as its urgency says; that keeps
the execution tracking the window's time-weighted price, which is the TWAP benchmark.

Behind / ahead.  The lag is what earlier slices should have *executed* but did not:
target(i−1) − filled.  Measuring executions, not executions plus working orders, matters: a passive
child resting at a quote the market walked away from is not progress.  When the lag exceeds a
tolerance (a fraction of one slice: HIGH urgency 1/10, MEDIUM 1/2, LOW 1; one more slice for a
PASSIVE mandate, whose client prefers spread capture to schedule), the strategy pulls resting
children and sends the shortfall aggressively.  When filled + working already reaches the
target, nothing is sent until the schedule catches up.

Style.  AGGRESSIVE mandate: always takes.  PASSIVE and NEUTRAL: post at the touch unless behind.

Completion.  From the last slice on, everything unworked goes out aggressively and resting children
are pulled (to be re-sent as takers), every ``retry_interval`` until done.  After end_time the
strategy keeps completing aggressively rather than stopping: the end of the window is the client's
deadline for the algo, while expiring the orders themselves (ExpireTime, TimeInForce GTD) belongs to
the order book; when they expire the parent's target drops to what is filled and the strategy stops.

Limits.  Every intent carries the parent's limit.  A ParticipationRate ρ caps cumulative executed
plus working quantity at ρ/(1−ρ) × the market volume since the start excluding ours (GUIDE §6, POV)
— ``market.volume`` counts our lit fills too (``parent.printed_qty``), so those are subtracted; the
baseline volume is taken at the first call at or after start_time.  The cap holds in the completion
phase as well: the client's cap outranks the schedule, so a thin market makes the TWAP fall behind,
or finish late, and the decision note says so.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from metaorder.execution.strategy import Decision
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.types import Intent, MarketView, ParentState, Style

# Lag tolerated before catching up, in slices (see the module docstring).
URGENCY_TOLERANCE: dict[str, Fraction] = {"HIGH": Fraction(1, 10), "MEDIUM": Fraction(1, 2), "LOW": Fraction(1)}
PASSIVE_EXTRA_TOLERANCE = Fraction(1)
AGGRESSIVENESS: tuple[str, ...] = ("PASSIVE", "NEUTRAL", "AGGRESSIVE")


@dataclass(frozen=True, slots=True)
class TwapSettings:
    slice_interval: float = 30.0  # target seconds between slices (the window decides the exact Δ)
    min_slices: int = 5  # even a short window is worked in this many slices (lots and min_slice_interval allowing)
    max_slices: int = 100  # a long window gets longer slices instead of more of them (6.5 h: ~4 min each)
    min_slice_interval: float = 1.0  # seconds: no slice is shorter, whatever min_slices asks
    jitter: float = 0.2  # each slice time moves up to ± this fraction of Δ; < 0.5 keeps slices in order
    retry_interval: float = 5.0  # seconds between checks while completing, capped or waiting for cancels

    def __post_init__(self) -> None:
        if not self.slice_interval > 0:
            raise ValueError(f"TWAP slice_interval must be > 0 seconds, not {self.slice_interval}")
        if not self.min_slice_interval > 0:
            raise ValueError(f"TWAP min_slice_interval must be > 0 seconds, not {self.min_slice_interval}")
        if not self.min_slices >= 1:
            raise ValueError(f"TWAP min_slices must be at least 1, not {self.min_slices}")
        if not self.max_slices >= self.min_slices:
            raise ValueError(f"TWAP max_slices must be at least min_slices ({self.min_slices}), not {self.max_slices}")
        if not 0 <= self.jitter < 0.5:
            raise ValueError(f"TWAP jitter must be in [0, 0.5) of a slice, not {self.jitter}")
        if not self.retry_interval > 0:
            raise ValueError(f"TWAP retry_interval must be > 0 seconds, not {self.retry_interval}")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> TwapSettings:
        """Settings from configuration, refusing unknown names and non-numbers (ValueError)."""
        return settings_from_mapping(cls, settings, "TWAP", whole=_COUNTS)


_COUNTS = frozenset({"min_slices", "max_slices"})  # the settings that count slices: whole numbers


def slice_count(parent: ParentState, settings: TwapSettings) -> int:
    """Slices for the window (see the module docstring): the window over ``slice_interval``, rounded
    to the nearest, within [``min_slices``, ``max_slices``]; then no slice shorter than
    ``min_slice_interval`` and at most one slice per lot; always at least 1."""
    duration = max(parent.end_time - parent.start_time, 0.0)
    # A microsecond of slack: epoch-second floats are only that exact (600 s at 30 s is 20 slices,
    # 5 s at 1 s is 5).
    n = math.floor(duration / settings.slice_interval + 0.5)
    n = min(max(n, settings.min_slices), settings.max_slices)
    n = min(n, math.floor((duration + 1e-6) / settings.min_slice_interval))
    lots = parent.target_qty // max(parent.lot_size, 1)
    return max(1, min(n, lots))


def slice_times(start: float, end: float, n: int, jitter: float, rng: random.Random) -> tuple[float, ...]:
    """Send time of each slice: its grid point start + i·Δ, moved within ±jitter·Δ (never before start)."""
    step = max(end - start, 0.0) / n
    return tuple(start + (i + rng.uniform(-jitter if i else 0.0, jitter)) * step for i in range(n))


def cumulative_target(qty: int, lot: int, n: int, index: int) -> int:
    """Shares that should be done once slice ``index`` (0-based) is due; -1 (none due yet) gives 0.

    Whole lots, except the last slice, which takes everything left so the slices add up to ``qty``.
    """
    if index < 0:
        return 0
    if index >= n - 1:
        return qty
    return qty * (index + 1) // n // lot * lot


def participation_room(rate: Fraction, others: int, ours: int, working: int) -> int:
    """Shares that may still be sent: ρ/(1−ρ)·others − (ours + working), never negative (GUIDE §6)."""
    if rate >= 1:
        raise ValueError("a participation rate of 1 or more is no cap")
    cap = math.floor(rate * others / (1 - rate))
    return max(cap - ours - working, 0)


class ParticipationBaseline:
    """Where a ParticipationRate (849) cap is measured from: the tape's volume and the parent's own
    executions when it started (its first decision at or after its start time).

    The one rule every strategy with a cap applies (TWAP, VWAP, IS): ours is everything the parent
    executed at venues since then (dark fills too: ρ is the client's share of the market), and the
    others' volume is the tape's volume since then less our *lit* fills (``printed_qty``), the only
    ones of ours that print.  A strategy object made after a restart starts a new baseline."""

    __slots__ = ("filled", "printed", "volume")

    def __init__(self, parent: ParentState, market: MarketView) -> None:
        self.volume = market.volume(parent.symbol)
        self.filled = parent.filled_qty
        self.printed = parent.printed_qty

    def room(self, parent: ParentState, market: MarketView) -> int | None:
        """Shares the cap still allows out (executed + working + new ≤ ρ/(1−ρ)·others); None: no cap."""
        rate = parent.participation_rate
        if rate is None or rate >= 1:
            return None
        ours = max(parent.filled_qty - self.filled, 0)
        printed = max(parent.printed_qty - self.printed, 0)
        others = max(market.volume(parent.symbol) - self.volume - printed, 0)
        return participation_room(Fraction(rate) if rate > 0 else Fraction(0), others, ours, parent.working_qty)


def lot_sized(qty: int, unworked: int, lot: int) -> int:
    """``qty`` in whole lots, unless it is everything left (a final odd remainder goes out as is)."""
    if qty <= 0:
        return 0
    if qty >= unworked:
        return unworked
    return qty // lot * lot


class Twap:
    """The TWAP of one parent (see the module docstring); create it with ``make_strategy("TWAP", ...)``."""

    def __init__(self, parent: ParentState, seed: int, settings: TwapSettings | None = None) -> None:
        if parent.urgency not in URGENCY_TOLERANCE:
            raise ValueError(f"unknown urgency {parent.urgency!r} (known: {', '.join(URGENCY_TOLERANCE)})")
        if parent.aggressiveness not in AGGRESSIVENESS:
            raise ValueError(f"unknown aggressiveness {parent.aggressiveness!r} (known: {', '.join(AGGRESSIVENESS)})")
        if parent.lot_size < 1:
            raise ValueError(f"lot size must be at least 1, not {parent.lot_size}")
        self._settings = settings or TwapSettings()
        self._parent_id = parent.parent_id
        self._seed = seed
        self._plan(parent)
        # Participation baseline: the market volume and our fills when the parent started.
        self._baseline: ParticipationBaseline | None = None

    def _plan(self, parent: ParentState) -> None:
        """Draw the slice times for the parent's window (again, from the same seed, if the window moved)."""
        self._start = parent.start_time
        self._end = max(parent.end_time, parent.start_time)
        self._n = slice_count(parent, self._settings)
        self._times = slice_times(self._start, self._end, self._n, self._settings.jitter, random.Random(self._seed))

    @property
    def schedule(self) -> tuple[float, ...]:
        """The slice send times (epoch seconds), for the audit trail and tests."""
        return self._times

    def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
        if parent.parent_id != self._parent_id:
            raise ValueError(f"TWAP of {self._parent_id} asked to decide for {parent.parent_id}")
        if (parent.start_time, max(parent.end_time, parent.start_time)) != (self._start, self._end):
            # An order with another EffectiveTime/ExpireTime joined (the engine's window is the union).
            self._plan(parent)
        if now < self._start:
            return Decision(wake_at=self._start, note=f"TWAP: waiting for the start at {self._start:.3f}")
        if self._baseline is None:
            self._baseline = ParticipationBaseline(parent, market)
        index = bisect.bisect_right(self._times, now) - 1
        if index < 0:
            return Decision(wake_at=self._times[0], note=f"TWAP: first slice at {self._times[0]:.3f}")
        return self._slice(parent, market, now, index)

    def _slice(self, parent: ParentState, market: MarketView, now: float, index: int) -> Decision:
        q, lot, n = parent.target_qty, parent.lot_size, self._n
        filled, working = parent.filled_qty, parent.working_qty
        done = filled + working
        due = cumulative_target(q, lot, n, index)
        final = index >= n - 1
        lag = cumulative_target(q, lot, n, index - 1) - filled
        tolerance = self._tolerance(parent)
        threshold = math.floor(tolerance * Fraction(q, n))
        behind = not final and lag > threshold
        over = done > q
        want = max(due - done, 0)
        room = self._room(parent, market)
        qty = lot_sized(want if room is None else min(want, room), parent.unworked_qty, lot)

        notes = [f"TWAP slice {index + 1}/{n}: target {due}, done {done} (filled {filled})"]
        if final:
            notes.append("after end: completing aggressively" if now >= self._end else "final slice: completing")
        elif behind:
            notes.append(f"behind by {lag} > {threshold}: catch-up aggressive")
        elif want == 0 and not over:
            notes.append("on or ahead of schedule")
        if over:
            notes.append(f"over target {q} after a shrink: pulling resting children")
        capped = room is not None and room < min(want, parent.unworked_qty)
        if capped:
            notes.append(f"held back by participation cap (room {room}): falling behind is intended")
        note = "; ".join(notes)

        aggressive = final or behind or parent.aggressiveness == "AGGRESSIVE"
        style = Style.AGGRESSIVE if aggressive else Style.PASSIVE
        intents: tuple[Intent, ...] = ()
        if qty > 0:
            intent = Intent(parent.parent_id, parent.symbol, parent.direction, qty, parent.limit, style, note)
            intents = (intent,)
        cancel = working > 0 and (final or behind or over)

        nxt = self._times[index + 1] if index + 1 < n else None
        wake = nxt
        if parent.remaining_qty > 0 and (final or capped or cancel):
            retry = now + self._settings.retry_interval
            wake = retry if nxt is None else min(nxt, retry)
        return Decision(intents=intents, cancel_working=cancel, wake_at=wake, note=note)

    def _tolerance(self, parent: ParentState) -> Fraction:
        extra = PASSIVE_EXTRA_TOLERANCE if parent.aggressiveness == "PASSIVE" else Fraction(0)
        return URGENCY_TOLERANCE[parent.urgency] + extra

    def _room(self, parent: ParentState, market: MarketView) -> int | None:
        """What the participation cap still allows (None: no cap)."""
        assert self._baseline is not None  # set by decide before any slice
        return self._baseline.room(parent, market)
