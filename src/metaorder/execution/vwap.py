"""VWAP: execute a parent along the market's expected volume curve over its window [start_time, end_time].

The benchmark is the interval VWAP (the market's volume-weighted price over the window), so the
point is to trade when the market trades: a share of the parent proportional to the share of the
window's volume expected in each slice (GUIDE §6, VWAP schedule).

Target curve.  With C the instrument's cumulative intraday volume profile
(:mod:`metaorder.execution.volume_profile`: learned from trade prints, a U shape until there is
history), the fraction of the parent due by time t is the profile renormalised over the window,

    P(t) = (C(t) − C(start)) / (C(end) − C(start)),

C counting whole days before t's day, so a window across midnight stays monotone.  If the window
has (almost) no expected volume — it lies outside the session — P falls back to time-linear (the
TWAP curve) and the decision notes say so.  The curve is read from the profile when the strategy
is made and again at the first decision at or after the start (the day may have rolled since),
and whenever the window changes; between those it is fixed, so the schedule does not wobble
under a parent while it works.

Slices.  Exactly as TWAP (:mod:`metaorder.execution.twap`, whose functions this module reuses):
about one slice per ``slice_interval``, within [``min_slices``, ``max_slices``], never shorter than
``min_slice_interval``, never more slices than lots; slice i goes out at its grid point
start + i·Δ moved within ±``jitter``·Δ, the times drawn once from ``random.Random(seed)``.  What
differs is the size: once slice i is due, the cumulative target is Q·P(start + (i+1)·Δ) rounded
down to whole lots, and the last slice's target is Q itself, so the slices add up to Q exactly
(the odd lot last, sent only when completing: a resting odd lot may never fill).  Fills and
working quantity are read afresh on every call, so the next slice always sizes against what is
really done (GUIDE §6: recalibrate after fills).

Orders joining or leaving.  Q is ``target_qty`` at the call.  When it changes once slices have
started, the curve is *re-anchored* at the last slice boundary due (grid point g, curve fraction
f_a): what was due there under the old Q stays due (so a lag stays a lag, base x_a), and the rest
is spread over the rest of the window's expected volume,

    target_i = x_a + (Q − x_a)·(P_i − f_a)/(1 − f_a)

(GUIDE §6, q_b = R·w_b/Σ_{s≥b} w_s; :func:`cumulative_target`).  Why not rescale the whole curve
(as TWAP does): the added quantity would count as "behind" and be taken at once, one large
aggressive order walking the book — in the lab (standard flow, aggregated parents of 2–10 min) such
catch-ups after joins were most of the tracking error vs the interval VWAP, e.g. a ZEPH parent
growing from 5,700 to 45,000 shares finished 7 bps above its interval VWAP.  Spread over the
remaining volume, the joined shares trade when the market trades.  Before the first slice a change
simply rescales the curve.  The anchor is the strategy's own state: recovery after a restart
starts a fresh strategy, whose curve is the plain rescaled one (it catches up as its band says).

Ahead / behind.  The lag is what the curve says should have *executed* by now (the target of the
previous slice, i.e. the curve at this slice's grid point) minus what has: resting children are
not progress.  The band a lag may reach before catching up depends on Urgency and is a fraction of
an average slice Q/n — the same unit as TWAP, so that a 5-slice order and a 100-slice day are
equally tolerant in time: HIGH ``band_high`` (1/10 of a slice), MEDIUM ``band_medium`` (1/2), LOW
``band_low`` (1); a PASSIVE mandate adds ``band_passive_extra`` (one slice).  Within the band the
slice is posted passively (Style.PASSIVE: rest at the near touch), probing for spread capture.
Beyond it the strategy pulls its resting children and takes the shortfall (the lag, rounded up to
a lot) aggressively; the rest of the slice is posted passively on the next call, once the
shortfall is out.  When filled + working already reaches the target (ahead), nothing is sent.

Style and completion.  AGGRESSIVE mandate: always takes.  The last slice is worked like the others
(posted passively within the band); completion starts at end − min(``retry_interval``, Δ/4): then
everything unworked is taken and resting children are pulled, every ``retry_interval`` until done.
Taking the whole last slice at its start (as before) put 1/n of the parent into one aggressive
order a full slice before the end; the short lead still finishes by the end.  After end_time it
keeps completing (as TWAP: the window's end is the client's deadline for the algo; expiring the
orders is the book's job).

Limits.  Every intent carries the parent's limit.  A ParticipationRate ρ (849) caps executed plus
working quantity at ρ/(1−ρ) × the others' volume since the start (GUIDE §6, POV;
:func:`metaorder.execution.twap.participation_room`).  Others' volume is the market's printed
volume since the first call at or after start_time minus our own prints since then
(``parent.printed_qty``: lit fills are on the tape, dark fills are not, so subtracting
``filled_qty`` would understate the others), while "ours" in the cap is everything executed at
venues since then, dark fills included (the client's ρ is its share of the market).  The cap
outranks the schedule, completion phase included; the note says when it holds the parent back.

Numbers.  The curve is a float model estimate; quantities are integer shares.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from metaorder.execution.strategy import Decision
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.twap import (
    AGGRESSIVENESS,
    ParticipationBaseline,
    TwapSettings,
    lot_sized,
    slice_count,
    slice_times,
)
from metaorder.execution.types import Intent, MarketView, ParentState, Style
from metaorder.execution.volume_profile import DAY_S, ProfileBook, ProfileSettings

URGENCIES: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH")
# Below this expected share of a day's volume, the window counts as having none (time-linear curve).
NO_VOLUME = 1e-9


class ProfileSource(Protocol):
    """The intraday volume curve VWAP plans on (a :class:`~metaorder.execution.volume_profile.ProfileBook`)."""

    def cumulative(self, symbol: str, when: float) -> float:
        """Expected fraction of ``when``'s trading day's volume traded by ``when``: 0 at the open, 1 at the close."""
        ...


@dataclass(frozen=True, slots=True)
class VwapSettings:
    """The ``[strategy.vwap]`` table: slicing and bands, and the volume profile's own settings."""

    slice_interval: float = 30.0  # target seconds between slices (the window decides the exact Δ)
    min_slices: int = 5  # even a short window is worked in this many slices (lots and min_slice_interval allowing)
    max_slices: int = 100  # a day-long window gets longer slices instead of more of them
    min_slice_interval: float = 1.0  # seconds: no slice is shorter, whatever min_slices asks
    jitter: float = 0.2  # each slice time moves up to ± this fraction of Δ; < 0.5 keeps slices in order
    retry_interval: float = 5.0  # seconds between checks while completing, capped or waiting for cancels
    band_high: float = 0.1  # lag tolerated before catching up, in average slices (Q/n), HIGH urgency
    band_medium: float = 0.5  # … MEDIUM urgency
    band_low: float = 1.0  # … LOW urgency
    band_passive_extra: float = 1.0  # added for a PASSIVE mandate (spread capture over schedule)
    # The volume profile (volume_profile.ProfileSettings; one book per engine, shared by all parents).
    session_open_s: int = 9 * 3600 + 1800
    session_close_s: int = 16 * 3600
    bin_s: int = 300
    decay: float = 0.2
    u_shape: float = 2.0
    close_tilt: float = 0.25
    min_days: int = 1

    def __post_init__(self) -> None:
        try:
            self.twap_settings()
            self.profile_settings()
        except ValueError as exc:
            raise ValueError(f"VWAP {exc.args[0].removeprefix('TWAP ')}") from exc
        for name in ("band_high", "band_medium", "band_low", "band_passive_extra"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"VWAP {name} must be >= 0 slices, not {value}")

    def twap_settings(self) -> TwapSettings:
        """The slicing part, as TWAP's functions take it."""
        return TwapSettings(
            slice_interval=self.slice_interval,
            min_slices=self.min_slices,
            max_slices=self.max_slices,
            min_slice_interval=self.min_slice_interval,
            jitter=self.jitter,
            retry_interval=self.retry_interval,
        )

    def profile_settings(self) -> ProfileSettings:
        """The volume profile's part, for the engine's :class:`ProfileBook`."""
        return ProfileSettings(
            session_open_s=self.session_open_s,
            session_close_s=self.session_close_s,
            bin_s=self.bin_s,
            decay=self.decay,
            u_shape=self.u_shape,
            close_tilt=self.close_tilt,
            min_days=self.min_days,
        )

    def band(self, urgency: str, aggressiveness: str) -> float:
        """Lag tolerated, in average slices, for this mandate."""
        base = {"HIGH": self.band_high, "MEDIUM": self.band_medium, "LOW": self.band_low}[urgency]
        return base + (self.band_passive_extra if aggressiveness == "PASSIVE" else 0.0)

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> VwapSettings:
        """Settings from configuration, refusing unknown names and ill-typed values (ValueError naming them)."""
        return settings_from_mapping(cls, settings, "VWAP", whole=_WHOLE, other=_CLOCK_TIMES)


_WHOLE = frozenset({"min_slices", "max_slices", "session_open_s", "session_close_s", "bin_s", "min_days"})
# Settings given as a UTC time of day ("09:30") in configuration, for the seconds field they set.
_CLOCK_TIMES: dict[str, tuple[str, Callable[[str, object], Any]]] = {
    "session_open": ("session_open_s", lambda name, value: _seconds_of_day(name, value)),
    "session_close": ("session_close_s", lambda name, value: _seconds_of_day(name, value)),
}


def _seconds_of_day(name: str, value: object) -> int:
    """``"HH:MM"`` or ``"HH:MM:SS"`` (UTC) as seconds after midnight; ``"24:00"`` is the end of the day."""
    parts = value.split(":") if isinstance(value, str) else []
    if len(parts) not in (2, 3) or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"VWAP setting {name} must be a time of day like \"09:30\", not {value!r}")
    hours, minutes, seconds = (int(p) for p in (*parts, "00")[:3])
    if minutes > 59 or seconds > 59 or hours * 3600 + minutes * 60 + seconds > 86_400:
        raise ValueError(f"VWAP setting {name} must be a time of day like \"09:30\", not {value!r}")
    return hours * 3600 + minutes * 60 + seconds


def cumulative_target(qty: int, lot: int, fractions: tuple[float, ...], index: int, base: int = 0,
                      from_fraction: float = 0.0) -> int:
    """Shares that should be done once slice ``index`` (0-based) is due; -1 (none due yet) gives ``base``.

    ``fractions[i]`` is the share of the window's expected volume traded by the end of slice i.
    Without an anchor (``base`` 0, ``from_fraction`` 0) that is Q·fractions[i] (GUIDE §6, VWAP
    schedule).  With one, the curve restarts at the anchor: ``base`` shares were due at the point
    ``from_fraction`` of the curve, and the rest, Q − base, is spread over what remains of it in
    proportion to the expected volume, base + (Q − base)·(f_i − f_a)/(1 − f_a) — GUIDE §6,
    "recalibrate: q_b = R·w_b/Σ_{s≥b} w_s".  Whole lots, except the last slice, which takes
    everything so the slices add up to ``qty`` exactly.
    """
    if index >= len(fractions) - 1:
        return qty
    share = fractions[index] if index >= 0 else 0.0
    rest = 1.0 - from_fraction
    ahead = max(share - from_fraction, 0.0)
    add = (qty - base) * ahead / rest if rest > NO_VOLUME else float(qty - base)
    return max(min(math.floor(base + add) // lot * lot, qty), 0)


class Vwap:
    """The VWAP of one parent (see the module docstring)."""

    def __init__(
        self,
        parent: ParentState,
        seed: int,
        settings: VwapSettings | None = None,
        profiles: ProfileSource | None = None,
    ) -> None:
        if parent.urgency not in URGENCIES:
            raise ValueError(f"unknown urgency {parent.urgency!r} (known: {', '.join(URGENCIES)})")
        if parent.aggressiveness not in AGGRESSIVENESS:
            raise ValueError(f"unknown aggressiveness {parent.aggressiveness!r} (known: {', '.join(AGGRESSIVENESS)})")
        if parent.lot_size < 1:
            raise ValueError(f"lot size must be at least 1, not {parent.lot_size}")
        self._settings = settings or VwapSettings()
        self._slicing = self._settings.twap_settings()
        # Without an engine-wide book, the configured default curve (no history).
        self._profiles: ProfileSource = profiles if profiles is not None else ProfileBook(
            self._settings.profile_settings()
        )
        self._parent_id = parent.parent_id
        self._seed = seed
        # The anchor of the target curve (see "Orders joining or leaving" in the module docstring):
        # the quantity it was set for, the shares due at it and the time it sits at (its curve
        # fraction is recomputed by _plan, the window may move).  None until the first slice decision.
        self._anchor_qty: int | None = None
        self._anchor_base = 0
        self._anchor_time = parent.start_time
        self._anchor_fraction = 0.0
        self._plan(parent)
        # Participation baseline: the market volume and our prints when the parent started.
        self._baseline: ParticipationBaseline | None = None

    # ---- the plan ------------------------------------------------------------------------------

    def _plan(self, parent: ParentState) -> None:
        """Slice times (from the seed) and the profile's fraction due by the end of each slice."""
        self._start = parent.start_time
        self._end = max(parent.end_time, parent.start_time)
        self._n = slice_count(parent, self._slicing)
        self._times = slice_times(self._start, self._end, self._n, self._slicing.jitter, random.Random(self._seed))
        step = (self._end - self._start) / self._n
        begin = self._position(parent.symbol, self._start)
        span = self._position(parent.symbol, self._end) - begin
        self._by_volume = span > NO_VOLUME
        fractions: list[float] = []
        for i in range(1, self._n + 1):
            t = self._end if i == self._n else self._start + i * step
            f = (self._position(parent.symbol, t) - begin) / span if self._by_volume else i / self._n
            fractions.append(min(max(f, fractions[-1] if fractions else 0.0), 1.0))  # monotone, within [0, 1]
        fractions[-1] = 1.0
        self._fractions = tuple(fractions)
        self._step = step
        # Completion: the last moment to take what is left and still finish by the end.
        self._complete_at = max(self._times[-1], self._end - min(self._slicing.retry_interval, step / 4))
        self._anchor_fraction = self._curve_at(parent.symbol, self._anchor_time, begin, span)

    def _curve_at(self, symbol: str, when: float, begin: float, span: float) -> float:
        """P(when): the share of the window's expected volume traded by ``when``, within [0, 1]."""
        if when <= self._start:
            return 0.0
        if when >= self._end:
            return 1.0
        if not self._by_volume:
            return (when - self._start) / (self._end - self._start)
        return min(max((self._position(symbol, when) - begin) / span, 0.0), 1.0)

    def _position(self, symbol: str, when: float) -> float:
        """Days elapsed in volume: whole days before ``when``'s day, plus the profile within it."""
        return when // DAY_S + self._profiles.cumulative(symbol, when)

    @property
    def schedule(self) -> tuple[float, ...]:
        """The slice send times (epoch seconds), for the audit trail and tests."""
        return self._times

    @property
    def fractions(self) -> tuple[float, ...]:
        """Share of the parent due by the end of each slice (the renormalised profile), the last 1."""
        return self._fractions

    @property
    def by_volume(self) -> bool:
        """False when the window had no expected volume and the curve is time-linear."""
        return self._by_volume

    # ---- deciding ------------------------------------------------------------------------------

    def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
        if parent.parent_id != self._parent_id:
            raise ValueError(f"VWAP of {self._parent_id} asked to decide for {parent.parent_id}")
        if (parent.start_time, max(parent.end_time, parent.start_time)) != (self._start, self._end):
            # An order with another EffectiveTime/ExpireTime joined (the engine's window is the union).
            self._plan(parent)
        if now < self._start:
            return Decision(wake_at=self._start, note=f"VWAP: waiting for the start at {self._start:.3f}")
        if self._baseline is None:
            self._baseline = ParticipationBaseline(parent, market)
            self._plan(parent)  # the profile as it is now (a day may have been learned since the order came)
        index = bisect.bisect_right(self._times, now) - 1
        if index < 0:
            return Decision(wake_at=self._times[0], note=f"VWAP: first slice at {self._times[0]:.3f}")
        if parent.target_qty != self._anchor_qty:
            self._reanchor(parent, index)
        return self._slice(parent, market, now, index)

    def _target(self, qty: int, lot: int, index: int) -> int:
        """The cumulative target at slice ``index`` for ``qty``, from the current anchor."""
        return cumulative_target(qty, lot, self._fractions, index, self._anchor_base, self._anchor_fraction)

    def _reanchor(self, parent: ParentState, index: int) -> None:
        """The parent's quantity changed (orders joined or left; or the first decision): restart the
        curve at the last slice boundary due, keeping what was due there (so a lag stays a lag) and
        spreading the rest of the new quantity over the rest of the window's expected volume."""
        old = self._anchor_qty
        if old is None or index < 1:
            self._anchor_base, self._anchor_time, self._anchor_fraction = 0, self._start, 0.0
        else:
            due = self._target(old, parent.lot_size, index - 1)
            self._anchor_base = min(due, parent.target_qty)
            self._anchor_time = self._start + index * self._step
            self._anchor_fraction = self._fractions[index - 1]
        self._anchor_qty = parent.target_qty

    def _slice(self, parent: ParentState, market: MarketView, now: float, index: int) -> Decision:
        q, lot, n = parent.target_qty, parent.lot_size, self._n
        filled, working = parent.filled_qty, parent.working_qty
        done = filled + working
        due = self._target(q, lot, index)
        final = now >= self._complete_at
        lag = self._target(q, lot, index - 1) - filled
        threshold = math.floor(self._settings.band(parent.urgency, parent.aggressiveness) * q / n)
        behind = not final and lag > threshold
        over = done > q
        want = max(due - done, 0)
        mandate_takes = parent.aggressiveness == "AGGRESSIVE"
        if behind and not mandate_takes:
            # The shortfall only, in lots, less what is already out for it (a decision repeated before
            # the takers fill must not send it twice); the rest of the slice rests once it is caught up.
            want = min(max(-(-lag // lot) * lot - working, 0), want)
        room = self._room(parent, market)
        qty = lot_sized(want if room is None else min(want, room), parent.unworked_qty, lot)
        if not final:  # an odd remainder goes out once, when completing (a resting odd lot may not fill)
            qty = qty // lot * lot

        curve = "profile" if self._by_volume else "time-linear: the window has no expected volume"
        notes = [f"VWAP slice {index + 1}/{n} ({curve}): target {due}, done {done} (filled {filled})"]
        if final:
            notes.append("after end: completing aggressively" if now >= self._end else "end of the window: completing")
        elif behind:
            notes.append(f"behind by {lag} > {threshold}: taking the shortfall")
        elif want == 0 and not over:
            notes.append("on or ahead of schedule")
        if over:
            notes.append(f"over target {q} after a shrink: pulling resting children")
        capped = room is not None and room < min(want, parent.unworked_qty)
        if capped:
            notes.append(f"held back by participation cap (room {room}): falling behind is intended")
        note = "; ".join(notes)

        style = Style.AGGRESSIVE if final or behind or mandate_takes else Style.PASSIVE
        intents: tuple[Intent, ...] = ()
        if qty > 0:
            intents = (Intent(parent.parent_id, parent.symbol, parent.direction, qty, parent.limit, style, note),)
        cancel = working > 0 and (final or behind or over)

        nxt = self._times[index + 1] if index + 1 < n else (self._complete_at if not final else None)
        wake = nxt
        if parent.remaining_qty > 0 and (final or capped or cancel):
            retry = now + self._settings.retry_interval
            wake = retry if nxt is None else min(nxt, retry)
        return Decision(intents=intents, cancel_working=cancel, wake_at=wake, note=note)

    def _room(self, parent: ParentState, market: MarketView) -> int | None:
        """What the participation cap still allows (None: no cap)."""
        assert self._baseline is not None  # set by decide before any slice
        return self._baseline.room(parent, market)
