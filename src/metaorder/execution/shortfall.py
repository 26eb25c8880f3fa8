"""Implementation Shortfall: execute a parent along the Almgren–Chriss trajectory (GUIDE §6).

The benchmark is the arrival price (the mid at the first call at or after the start); the cost of
trading against it is impact (trading fast) plus risk (the price wanders while we wait).  Almgren &
Chriss (2000) minimise E[cost] + λ·Var[cost]: holdings x_j = X·sinh(κ(T−t_j))/sinh(κT) with
(2/τ²)(cosh κτ − 1) = λσ²/η̃ (:mod:`metaorder.execution.almgren_chriss` does the maths).  λ = 0 is
TWAP; a larger λ front-loads.  The *trajectory* sets the pace; the mandate's Aggressiveness decides
how each period's slice is *placed*.

Risk aversion.  λ (per dollar) comes from the 848 key ``RiskAversion`` when the client gave one,
else from the Urgency map of the settings (``risk_aversion_low/medium/high``).

Grid.  T is the parent's window [start_time, end_time]; it is cut into N periods of τ = T/N, N about
one per ``period_s`` within [``min_periods``, ``max_periods``], no period shorter than
``min_period_s`` and no more periods than lots (the same rule as TWAP's slices:
:func:`metaorder.execution.twap.slice_count`).  The period boundaries t_i = start + i·τ are fixed for
the window; each period's first send is delayed from its boundary by a uniform random fraction (up to
``jitter``) of τ, drawn once from ``random.Random(seed)``, so children do not arrive on a metronome.

Targets.  The plan's holdings give the cumulative target of period i (what should be executed by
t_{i+1}): Q − x_{i+1}, rounded to the *nearest* whole lot (nearest rather than down so a re-solved
plan stays within one lot of the closed form), the last period's target being Q itself so the
periods add up to the parent exactly, a final odd lot included.

Re-solving.  At the first call in each period (the boundary t_a), the trajectory is solved again for
what is left: X = Q − filled, T = the time left (N − a)·τ, N − a periods, the same λ and the model's
*current* parameters.  Because τ is unchanged, κ is unchanged unless the parameters moved: on track,
the re-solved curve is the old one (the AC trajectory is time-consistent); after a shortfall the
missed shares are spread over the rest of the window along the same sinh shape — the schedule is
re-anchored, not caught up in one go.  While what is left is within a lot of the plan's holding, the
plan's own fractional holding is the new X, so lot rounding does not compound from one re-solve to
the next.  A parent that grows or shrinks (target_qty changed) is re-solved at once from the same
anchor (X = new Q − filled at the anchor); a window that moves redraws the grid and re-solves from
the current period.  A deviation *within* a period (a passive slice not filling, an internal cross
shrinking the parent) is handled by placement below and absorbed by the next boundary's re-solve: anchoring
mid-period would break the equal-τ grid the closed form assumes.

Cost model.  The parameters come from the engine's :class:`ParameterSource`; when it is an
:class:`~metaorder.execution.impact_model.OrderParameterSource` (the engine's
:class:`~metaorder.execution.impact_model.InstrumentModels` is), they are linearised for *this*
order: its whole quantity Q over its window in its N periods, placed with its Aggressiveness
(impact_model's "The order's own linearisation": the square-root law with memory at the order's own
pace, the book's depth per period, the placement's expected spread and fees).  Re-solves ask again
with the same Q, window and N (current market data, the same linearisation), so κ stays the
order's and the re-solved trajectory stays the start's shape.

Ill-posed model.  η̃ = η − γτ/2 ≤ 0 (long periods with a large permanent impact; a small parent has
few, long periods since there are never more periods than lots) has no AC solution: the start's
parameters are tried next, then a straight line (TWAP, κ = 0), and the note says so.  The plan made
at construction, before anything traded, is kept as :attr:`Shortfall.estimate` (the pre-trade
estimate the engine journals).

Behind.  The lag is measured against that original schedule (scaled to the current Q), not against the
re-solved one — a re-solved plan is on schedule by construction: lag = Q·(1 − x_ref(t_a)/X) − filled
at the period start t_a, in units of an average period Q/N.  Tolerances are TWAP's: HIGH urgency
1/10 of a period, MEDIUM 1/2, LOW 1; one period more for a PASSIVE mandate.  Behind by more than
that, the period's target becomes the larger of the re-solved one and the start schedule's (to the
nearest lot), taken aggressively: the re-solve alone would spread the lag and never close it.

Placement.  AGGRESSIVE mandate: every slice takes.  NEUTRAL: posts the period's slice at the touch
at its send time and, from ``passive_share`` of the period on, pulls what still rests and takes what
the period's target still lacks; it takes at once when behind.  PASSIVE: posts, and takes only when
behind or in the last period.  The last period takes (and pulls resting children) for every mandate;
after end_time the strategy keeps completing aggressively every ``retry_interval``, like TWAP (the
orders' own expiry belongs to the order book).  Taking always comes with ``cancel_working``
(level-triggered: the pulled quantity returns as unworked and is re-sent as a taker).

Limits.  Every intent carries the parent's limit; intents never exceed ``unworked_qty``; whole lots
except the final remainder.  A ParticipationRate ρ (849) caps our executed plus working quantity at
ρ/(1−ρ) × the others' volume since the start (GUIDE §6, POV), others' volume being
``market.volume`` − baseline − this parent's lit prints since the start (``printed_qty``: dark
fills do not print).  Our side counts every venue fill since the start (``filled_qty``, dark ones
included; internal crosses are not fills of the parent, they shrink it).

Floats.  κ, holdings and the estimate are model quantities, floats by design; quantities sent are int
shares and the arrival price is the exact ``Decimal`` mid.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from metaorder.execution.almgren_chriss import AcParameters, AcPlan, holdings_fraction, plan
from metaorder.execution.almgren_chriss import expected_cost as ac_expected_cost
from metaorder.execution.almgren_chriss import variance as ac_variance
from metaorder.execution.impact_model import OrderParameterSource
from metaorder.execution.strategy import Decision, ParameterSource
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.twap import (
    AGGRESSIVENESS,
    PASSIVE_EXTRA_TOLERANCE,
    URGENCY_TOLERANCE,
    ParticipationBaseline,
    TwapSettings,
    lot_sized,
    slice_count,
)
from metaorder.execution.types import Intent, MarketView, ParentState, Style

RISK_AVERSION_KEY = "RiskAversion"  # the 848 key that overrides the Urgency map


@dataclass(frozen=True, slots=True)
class ShortfallSettings:
    period_s: float = 30.0  # target seconds per period (the window decides the exact τ)
    min_periods: int = 5  # even a short window is worked in this many periods (lots and min_period_s allowing)
    max_periods: int = 100  # a long window gets longer periods instead of more of them
    min_period_s: float = 1.0  # seconds: no period is shorter, whatever min_periods asks
    jitter: float = 0.2  # a period's first send is delayed by up to this fraction of τ
    passive_share: float = 0.7  # NEUTRAL posts for this fraction of a period, then takes what is missing
    retry_interval: float = 5.0  # seconds between checks while completing, capped or waiting for cancels
    risk_aversion_low: float = 1e-7  # λ per $ by Urgency (848 RiskAversion overrides)
    risk_aversion_medium: float = 1e-6
    risk_aversion_high: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("period_s", "min_period_s", "retry_interval"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"IS {name} must be > 0 seconds, not {value}")
        if not self.min_periods >= 1:
            raise ValueError(f"IS min_periods must be at least 1, not {self.min_periods}")
        if not self.max_periods >= self.min_periods:
            raise ValueError(
                f"IS max_periods must be at least min_periods ({self.min_periods}), not {self.max_periods}")
        if not 0 < self.passive_share <= 1:
            raise ValueError(f"IS passive_share must be in (0, 1] of a period, not {self.passive_share}")
        if not 0 <= self.jitter < self.passive_share:
            raise ValueError(
                f"IS jitter must be in [0, passive_share={self.passive_share}) of a period, not {self.jitter}")
        for name in ("risk_aversion_low", "risk_aversion_medium", "risk_aversion_high"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"IS {name} must be a finite number >= 0 (per $), not {value}")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> ShortfallSettings:
        """Settings from configuration, refusing unknown names and non-numbers (ValueError)."""
        return settings_from_mapping(cls, settings, "IS", whole=_COUNTS)

    def risk_aversion(self, urgency: str) -> float:
        """λ for an Urgency (LOW, MEDIUM, HIGH)."""
        by_urgency = {"LOW": self.risk_aversion_low, "MEDIUM": self.risk_aversion_medium,
                      "HIGH": self.risk_aversion_high}
        if urgency not in by_urgency:
            raise ValueError(f"unknown urgency {urgency!r} (known: {', '.join(by_urgency)})")
        return by_urgency[urgency]


_COUNTS = frozenset({"min_periods", "max_periods"})


def risk_aversion_of(parent: ParentState, settings: ShortfallSettings) -> float:
    """λ: the parent's 848 ``RiskAversion`` if given, else the settings' value for its Urgency."""
    text = parent.param(RISK_AVERSION_KEY)
    if text is None:
        return settings.risk_aversion(parent.urgency)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"IS {RISK_AVERSION_KEY} {text!r} is not a number") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"IS {RISK_AVERSION_KEY} {text!r} must be a finite number >= 0")
    return value


def period_count(parent: ParentState, settings: ShortfallSettings) -> int:
    """Periods for the window: TWAP's slice rule (:func:`~metaorder.execution.twap.slice_count`)."""
    as_slices = TwapSettings(slice_interval=settings.period_s, min_slices=settings.min_periods,
                             max_slices=settings.max_periods, min_slice_interval=settings.min_period_s)
    return slice_count(parent, as_slices)


def nearest_lot(qty: float, lot: int) -> int:
    """``qty`` rounded to the nearest whole lot (halves up), never negative."""
    return max(math.floor(qty / lot + 0.5), 0) * lot


def cumulative_targets(qty: int, lot: int, holdings: tuple[float, ...], first: int, n: int) -> tuple[int, ...]:
    """Cumulative targets of periods ``first`` .. n−1 from a plan anchored at period ``first``.

    ``holdings`` are the plan's N−first+1 holdings (what is left at each boundary from t_first on);
    period i's target is Q − x_{i+1−first} to the nearest whole lot, never above Q in whole lots,
    and the last period's is Q exactly (the odd remainder goes there).
    """
    cap = qty // lot * lot
    out = [min(nearest_lot(qty - holdings[i + 1 - first], lot), cap) for i in range(first, n - 1)]
    if first <= n - 1:
        out.append(qty)
    return tuple(out)


def straight_line(qty: float, horizon: float, periods: int, params: AcParameters, risk_aversion: float) -> AcPlan:
    """The linear (TWAP, κ = 0) trajectory as an :class:`AcPlan`, for when the model refuses to solve;
    its cost figures use the GUIDE §6 sums as they are (η̃ may be ≤ 0: the estimate is then unreliable)."""
    tau = horizon / periods
    holdings = tuple(qty * (periods - j) / periods for j in range(periods + 1))
    trades = tuple(holdings[k - 1] - holdings[k] for k in range(1, periods + 1))
    return AcPlan(qty=qty, horizon=horizon, periods=periods, risk_aversion=risk_aversion, kappa=0.0, tau=tau,
                  holdings=holdings, trades=trades, expected_cost=ac_expected_cost(qty, trades, tau, params),
                  variance=ac_variance(holdings, tau, params))


@dataclass(frozen=True, slots=True)
class _Anchor:
    """The current re-solved plan: made at period ``index`` for ``target`` shares, ``filled`` then done."""

    index: int
    target: int
    filled: int
    plan: AcPlan  # kappa 0 on the straight-line fallback (the model refused every parameter set)
    targets: tuple[int, ...]  # cumulative targets of periods index .. N−1
    note: str  # "" or why the fallback


class Shortfall:
    """The IS strategy of one parent (see the module docstring)."""

    def __init__(self, parent: ParentState, seed: int, settings: ShortfallSettings | None,
                 models: ParameterSource) -> None:
        self._settings = settings or ShortfallSettings()
        if parent.aggressiveness not in AGGRESSIVENESS:
            raise ValueError(f"unknown aggressiveness {parent.aggressiveness!r} (known: {', '.join(AGGRESSIVENESS)})")
        if parent.urgency not in URGENCY_TOLERANCE:
            raise ValueError(f"unknown urgency {parent.urgency!r} (known: {', '.join(URGENCY_TOLERANCE)})")
        if parent.lot_size < 1:
            raise ValueError(f"lot size must be at least 1, not {parent.lot_size}")
        self._parent_id = parent.parent_id
        self._lot = parent.lot_size
        self._seed = seed
        self._models = models
        self._lambda = risk_aversion_of(parent, self._settings)
        self._grid(parent)
        # The pre-trade estimate: the model as it stands at the start (a straight line if it is ill-posed).
        try:
            self._start_params = self._parameters(parent, parent.start_time)
        except KeyError:
            raise ValueError(f"IS has no impact model for {parent.symbol!r}") from None
        self._estimate, self._estimate_note = self._solve(parent.target_qty, self._n, self._start_params,
                                                          self._start_params)
        self._reference = self._estimate
        self._anchor: _Anchor | None = None
        self._arrival: Decimal | None = None
        self._started = False
        self._baseline: ParticipationBaseline | None = None

    def _parameters(self, parent: ParentState, now: float) -> AcParameters:
        """The model's parameters at ``now``: linearised for this order (its whole quantity, window,
        periods and Aggressiveness: see "Cost model" above) when the source can, else the instrument's."""
        models = self._models
        if isinstance(models, OrderParameterSource):
            qty = max(parent.target_qty, 1)
            return models.order_parameters(parent.symbol, now, float(qty), self._horizon, self._n,
                                           parent.aggressiveness)
        return models.parameters(parent.symbol, now)

    # ------------------------------------------------------------------------------------------ the grid

    def _grid(self, parent: ParentState) -> None:
        """Period boundaries and send times for the parent's window (drawn again, same seed, if it moved)."""
        self._start = parent.start_time
        self._end = max(parent.end_time, parent.start_time)
        self._n = period_count(parent, self._settings)
        self._tau = (self._end - self._start) / self._n
        # The model's τ: a zero-length window is still one period of min_period_s (a finite estimate).
        self._horizon = max(self._end - self._start, self._n * self._settings.min_period_s)
        rng = random.Random(self._seed)
        self._bounds = tuple(self._start + i * self._tau for i in range(self._n))
        self._sends = tuple(b + rng.random() * self._settings.jitter * self._tau for b in self._bounds)
        self._takes = tuple(b + self._settings.passive_share * self._tau for b in self._bounds)

    @property
    def estimate(self) -> AcPlan:
        """The plan made at construction, before anything traded: the pre-trade estimate for the journal."""
        return self._estimate

    @property
    def arrival_price(self) -> Decimal | None:
        """The benchmark: the mid at the first call at or after the start (None until a two-sided quote)."""
        return self._arrival

    def restore_arrival(self, price: Decimal | None) -> None:
        """After a restart: the benchmark the parent was planned against (its journaled estimate's
        arrival price), instead of the mid at the restarted strategy's first decision."""
        if price is not None:
            self._arrival = price

    @property
    def risk_aversion(self) -> float:
        """λ per $ (848 RiskAversion, else the Urgency map)."""
        return self._lambda

    @property
    def boundaries(self) -> tuple[float, ...]:
        """Period start times t_0 .. t_{N−1} (epoch seconds)."""
        return self._bounds

    @property
    def schedule(self) -> tuple[float, ...]:
        """Each period's first send time (its boundary plus jitter), for the audit trail and tests."""
        return self._sends

    @property
    def current_plan(self) -> AcPlan:
        """The re-solved plan in force (the estimate before the start)."""
        return self._estimate if self._anchor is None else self._anchor.plan

    @property
    def anchor_index(self) -> int:
        """The period the plan in force was solved at (0 before the start)."""
        return 0 if self._anchor is None else self._anchor.index

    def period_target(self, index: int) -> int:
        """Cumulative target of period ``index`` (0-based) under the plan in force (the estimate's before
        the start); periods before the plan's anchor are history and raise ``ValueError``."""
        if self._anchor is None:
            qty = round(self._estimate.qty)
            return cumulative_targets(qty, self._lot, self._estimate.holdings, 0, self._n)[index]
        if not self._anchor.index <= index < self._n:
            raise ValueError(f"period {index} is not under the plan solved at period {self._anchor.index}")
        return self._anchor.targets[index - self._anchor.index]

    # ------------------------------------------------------------------------------------------ deciding

    def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
        if parent.parent_id != self._parent_id:
            raise ValueError(f"IS of {self._parent_id} asked to decide for {parent.parent_id}")
        self._lot = parent.lot_size
        if (parent.start_time, max(parent.end_time, parent.start_time)) != (self._start, self._end):
            # An order with another EffectiveTime/ExpireTime joined (the engine's window is the union).
            self._grid(parent)
            self._reference = self._solve(parent.target_qty, self._n, self._start_params, self._start_params)[0]
            self._anchor = None
        if now < self._start:
            return Decision(wake_at=self._start, note=f"IS: waiting for the start at {self._start:.3f}")
        if not self._started:
            self._started = True
            self._baseline = ParticipationBaseline(parent, market)
        if self._arrival is None:
            self._arrival = market.mid(parent.symbol)
        index = bisect.bisect_right(self._bounds, now) - 1
        anchor = self._anchor
        if anchor is None or anchor.index != index:
            self._anchor = self._resolve(parent, index, parent.filled_qty, now, self._on_track(parent, index))
        elif anchor.target != parent.target_qty:
            self._anchor = self._resolve(parent, index, anchor.filled, now, None)
        return self._period(parent, market, now, index)

    def _on_track(self, parent: ParentState, index: int) -> float | None:
        """The plan's own holding at period ``index``'s boundary if what is left is within a lot of it.

        Targets are whole lots, so an execution on track leaves what is left up to half a lot off
        the plan's (fractional) holding; re-solving from the rounded figure at every boundary would let
        those rounding errors compound.  Within a lot, the plan's holding is kept as the new X.
        """
        anchor = self._anchor
        if anchor is None or anchor.target != parent.target_qty or not anchor.index < index <= self._n:
            return None
        planned = anchor.plan.holdings[index - anchor.index]
        return planned if abs(parent.remaining_qty - planned) < parent.lot_size else None

    def _resolve(self, parent: ParentState, index: int, filled: int, now: float, planned: float | None) -> _Anchor:
        """Re-solve the trajectory for what is left at period ``index`` (see "Re-solving" above):
        ``planned`` (the old plan's holding, when on track) or the target less ``filled``."""
        left = max(parent.target_qty - filled, 0) if planned is None else planned
        periods = self._n - index
        try:
            current = self._parameters(parent, now)
        except KeyError:  # the instrument left the model's configuration: keep the start's figures
            current = self._start_params
        solved, note = self._solve(left, periods, current, self._start_params)
        targets = cumulative_targets(parent.target_qty, parent.lot_size, solved.holdings, index, self._n)
        return _Anchor(index, parent.target_qty, filled, solved, targets, note)

    def _solve(self, qty: float, periods: int, current: AcParameters, fallback: AcParameters) -> tuple[AcPlan, str]:
        """The plan for ``qty`` over the last ``periods`` periods; the model's refusal (η̃ ≤ 0) falls back
        to ``fallback``'s parameters, then to a straight line, and the returned text says which."""
        horizon = self._horizon * periods / self._n
        try:
            return plan(qty, horizon, periods, current, self._lambda), ""
        except ValueError as exc:
            refused = str(exc)
        try:
            return plan(qty, horizon, periods, fallback, self._lambda), f"current model refused ({refused}): start's"
        except ValueError:
            line = straight_line(qty, horizon, periods, fallback, self._lambda)
            return line, f"model refused ({refused}): straight line"

    def _period(self, parent: ParentState, market: MarketView, now: float, index: int) -> Decision:
        anchor = self._anchor
        assert anchor is not None  # set by decide
        q, lot, n = parent.target_qty, parent.lot_size, self._n
        filled, working = parent.filled_qty, parent.working_qty
        done = filled + working
        final = index >= n - 1
        mandate = parent.aggressiveness
        sending = now >= self._sends[index] or now >= self._end
        due = anchor.targets[index - anchor.index] if sending else min(done, q)
        over = done > q

        lag = self._reference_target(q, index) - filled
        tolerance = URGENCY_TOLERANCE[parent.urgency] + (PASSIVE_EXTRA_TOLERANCE if mandate == "PASSIVE" else 0)
        threshold = math.floor(tolerance * Fraction(q, n))
        behind = sending and not final and lag > threshold
        if behind:  # catch up with the start's schedule, not only with the re-solved (slower) one
            due = max(due, min(nearest_lot(self._reference_target(q, index + 1), lot), q // lot * lot))
        late = mandate == "NEUTRAL" and now >= self._takes[index]
        taking = sending and (final or behind or late or mandate == "AGGRESSIVE")

        want = max(due - done, 0)
        room = self._room(parent, market)
        qty = lot_sized(want if room is None else min(want, room), parent.unworked_qty, lot)
        capped = room is not None and room < min(want, parent.unworked_qty)

        notes = [f"IS period {index + 1}/{n}: target {due}, done {done} (filled {filled})"]
        if not sending:
            notes.append(f"next send at {self._sends[index]:.3f}")
        elif final:
            notes.append("after end: completing aggressively" if now >= self._end else "last period: completing")
        elif behind:
            notes.append(f"behind the start's schedule by {lag} > {threshold}: taking")
        elif late and want + working > 0:
            notes.append("end of the period: taking what is missing")
        elif want == 0 and not over:
            notes.append("on or ahead of the trajectory")
        if over:
            notes.append(f"over target {q} after a shrink: pulling resting children")
        if capped:
            notes.append(f"held back by participation cap (room {room}): falling behind is intended")
        if anchor.note or self._estimate_note:
            notes.append(anchor.note or self._estimate_note)
        notes.append(f"κ {self._estimate.kappa:.3g}/s, λ {self._lambda:g}/$ at start")
        note = "; ".join(notes)

        intents: tuple[Intent, ...] = ()
        if qty > 0:
            style = Style.AGGRESSIVE if taking else Style.PASSIVE
            intents = (Intent(parent.parent_id, parent.symbol, parent.direction, qty, parent.limit, style, note),)
        cancel = working > 0 and (over or (final and sending) or (taking and mandate != "AGGRESSIVE"))
        return Decision(intents=intents, cancel_working=cancel,
                        wake_at=self._wake(parent, now, index, sending, final or capped or cancel), note=note)

    def _reference_target(self, qty: int, index: int) -> int:
        """What the start's schedule (scaled to ``qty``) had executed by period ``index``'s start."""
        ref = self._reference
        return math.floor(qty * (1.0 - holdings_fraction(ref.kappa, ref.horizon, index * ref.tau)))

    def _wake(self, parent: ParentState, now: float, index: int, sending: bool, retry: bool) -> float | None:
        if parent.remaining_qty == 0:
            return None  # a parent that grows again is an event: the engine calls back
        times = [self._sends[index + 1]] if index + 1 < self._n else []
        if not sending:
            times.append(self._sends[index])
        elif parent.aggressiveness == "NEUTRAL" and now < self._takes[index] and index < self._n - 1:
            times.append(self._takes[index])
        if retry and sending:
            times.append(now + self._settings.retry_interval)
        return min(times) if times else None

    def _room(self, parent: ParentState, market: MarketView) -> int | None:
        """What the participation cap still allows (None: no cap); others exclude our lit prints."""
        if self._baseline is None:
            return None if parent.participation_rate is None else 0  # not started: nothing is allowed yet
        return self._baseline.room(parent, market)
