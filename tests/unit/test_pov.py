"""POV as pure function calls: whole windows run on a synthetic tape in virtual time, no engine.

``Sim`` plays the engine's part of the contract in ``metaorder.execution.strategy``: it calls
``decide`` at each ``wake_at`` and after every change of the parent's state — a fill, a cancel
confirmed — until nothing changes (which also checks idempotency); it never calls on a plain market
print, as the engine does not.  Its fill model: an AGGRESSIVE intent fills at once (on the tape,
unless a ``dark_share`` of it crosses in the dark); a PASSIVE one rests, and each print of the
others fills ``passive_fill`` of that print's size from the resting shares (whole lots, or the odd
rest).  ``cancel_working`` pulls the resting shares, but the venue confirms only ``cancel_delay``
later: they can still fill meanwhile.  During ``dead`` intervals (the market away from the limit)
nothing of ours fills.  Every intent is checked on the way in (positive, within unworked, whole
lots except a final remainder, the parent's limit and direction).
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaorder.execution.pov import Pov, PovSettings, pov_bounds, ratio, rolling_room
from metaorder.execution.strategy import Decision
from metaorder.execution.types import ParentState, Style
from tests.unit.strategysupport import FakeMarket

D = Decimal
START = 1_700_000_000.0
HOUR = 3600.0

BASE = ParentState(
    parent_id="P1",
    symbol="ACME",
    direction=1,
    target_qty=10_000_000,  # more than a window's participation: the run is paced by the volume
    filled_qty=0,
    working_qty=0,
    limit=D("101.50"),
    start_time=START,
    end_time=START + 1800.0,
    participation_rate=D("0.1"),
    lot_size=100,
)


def make_tape(seed: int, start: float, end: float, rate: float = 2.0, size: int = 400) -> list[tuple[float, int]]:
    """The others' prints: Poisson arrivals whose intensity changes every few minutes (0.1× to 4×:
    bursts and lulls), sizes log-normal around ``size``; from a minute before the start to a minute
    after the end."""
    rng = random.Random(seed)
    tape: list[tuple[float, int]] = []
    t = start - 60.0
    regime_end, mult = t, 1.0
    while t < end + 60.0:
        if t >= regime_end:
            regime_end = t + rng.uniform(60.0, 600.0)
            mult = rng.choice([0.1, 0.3, 1.0, 1.0, 2.0, 4.0])
        t += rng.expovariate(rate * mult)
        tape.append((t, max(1, int(rng.lognormvariate(math.log(size), 0.8)))))
    return tape


@dataclass
class Sim:
    parent: ParentState
    tape: Sequence[tuple[float, int]]
    seed: int = 7
    passive_fill: Fraction = Fraction(1, 2)
    cancel_delay: float = 0.3
    dark_share: float = 0.0
    dead: tuple[tuple[float, float], ...] = ()
    pov: PovSettings = field(default_factory=PovSettings)
    market: FakeMarket = field(default_factory=FakeMarket)
    resting: int = 0
    pulling: list[list[float]] = field(default_factory=list)  # [confirmed at, shares] being canceled
    fills: list[tuple[float, int]] = field(default_factory=list)  # ours, after the baseline
    others: list[tuple[float, int]] = field(default_factory=list)  # theirs, after the baseline
    calls: list[tuple[float, ParentState, Decision]] = field(default_factory=list)
    baseline: float | None = None

    def __post_init__(self) -> None:
        self.strategy = Pov(self.parent, self.seed, self.pov)
        self.rng = random.Random(self.seed)

    # -- the engine's side ----------------------------------------------------------------------

    def working(self) -> int:
        return self.resting + sum(int(q) for _, q in self.pulling)

    def live(self, now: float) -> bool:
        return not any(a <= now < b for a, b in self.dead)

    def call(self, now: float) -> Decision:
        seen = self.parent
        decision = self.strategy.decide(seen, self.market, now)
        if self.baseline is None and now >= seen.start_time:
            self.baseline = now
        self.calls.append((now, seen, decision))
        self._apply(decision, now)
        return decision

    def settle(self, now: float) -> Decision:
        for _ in range(8):
            before = self.parent
            decision = self.call(now)
            if self.parent == before:
                return decision
        raise AssertionError(f"decide keeps acting at {now}: it is not idempotent")

    def _fill(self, now: float, qty: int, printed: bool) -> None:
        p = self.parent
        self.parent = replace(p, filled_qty=p.filled_qty + qty, printed_qty=p.printed_qty + (qty if printed else 0),
                              working_qty=self.working())
        if printed:
            self.market.traded += qty
        self.fills.append((now, qty))

    def _apply(self, decision: Decision, now: float) -> None:
        p = self.parent
        unworked = p.unworked_qty
        if decision.cancel_working and self.resting:
            self.pulling.append([now + self.cancel_delay, self.resting])
            self.resting = 0
        for intent in decision.intents:
            assert 0 < intent.qty <= unworked, (intent, p)
            assert intent.qty % p.lot_size == 0 or intent.qty == unworked, (intent, p)
            assert (intent.limit, intent.direction, intent.symbol, intent.parent_id) == (
                p.limit, p.direction, p.symbol, p.parent_id)
            assert p.start_time <= now < p.end_time, "an intent outside the window"
            unworked -= intent.qty
            if intent.style is Style.PASSIVE:
                self.resting += intent.qty
                self.parent = replace(self.parent, working_qty=self.working())
            elif self.live(now):  # an IOC: fills at once, or not at all
                dark = math.floor(intent.qty * self.dark_share)
                if dark:
                    self._fill(now, dark, printed=False)
                if intent.qty - dark:
                    self._fill(now, intent.qty - dark, printed=True)

    def _print(self, now: float, size: int) -> bool:
        """Another participant's print; it may fill our resting shares.  True if it did."""
        self.market.traded += size
        if self.baseline is not None:
            self.others.append((now, size))
        pool = self.working()
        if not pool or not self.live(now):
            return False
        lot = self.parent.lot_size
        take = math.floor(size * self.passive_fill)
        qty = min(pool, take // lot * lot) if pool >= lot else min(pool, take)
        if qty <= 0:
            return False
        left = qty
        for batch in self.pulling:  # the oldest children are first in the queue
            used = min(int(batch[1]), left)
            batch[1] -= used
            left -= used
        self.resting -= left
        self.pulling = [b for b in self.pulling if b[1] > 0]
        self._fill(now, qty, printed=True)
        return True

    def run(self, until: float | None = None) -> None:
        until = self.parent.end_time + 120.0 if until is None else until
        wake: float | None = self.parent.start_time - 30.0
        i = 0
        while True:
            trade = self.tape[i][0] if i < len(self.tape) else math.inf
            confirm = min((b[0] for b in self.pulling), default=math.inf)
            due = math.inf if wake is None else wake
            now = min(trade, confirm, due)
            if now > until:
                return
            if now == trade:
                i += 1
                if not self._print(now, self.tape[i - 1][1]):
                    continue
            elif now == confirm:
                self.pulling = [b for b in self.pulling if b[0] != confirm]
                self.parent = replace(self.parent, working_qty=self.working())
            decision = self.settle(now)
            assert decision.wake_at is None or decision.wake_at > now, "a wake-up must move time forward"
            wake = decision.wake_at

    # -- what to measure ------------------------------------------------------------------------

    def participation(self, until: float) -> float:
        ours = sum(q for t, q in self.fills if t <= until)
        theirs = sum(q for t, q in self.others if t <= until)
        return ours / (ours + theirs)

    def worst_window_excess(self, max_rate: Fraction, window: float) -> Fraction:
        """The largest E_w − M·(E_w + O_w) over the windows (f − window, f] ending at our fills."""
        ours_t, ours_c = _cumulative(self.fills)
        theirs_t, theirs_c = _cumulative(self.others)
        worst = Fraction(-(10**12))
        for f in sorted({t for t, _ in self.fills}):
            ours = _between(ours_t, ours_c, f - window, f)
            theirs = _between(theirs_t, theirs_c, f - window, f)
            worst = max(worst, ours - max_rate * (ours + theirs))
        return worst


def _cumulative(events: Sequence[tuple[float, int]]) -> tuple[list[float], list[int]]:
    """Times (sorted) and the running total after each, for window sums by bisection."""
    times, totals, total = [], [0], 0
    for t, q in sorted(events):
        times.append(t)
        total += q
        totals.append(total)
    return times, totals


def _between(times: list[float], totals: list[int], lo: float, hi: float) -> int:
    """Shares at times in (lo, hi]."""
    return totals[bisect.bisect_right(times, hi)] - totals[bisect.bisect_right(times, lo)]


def intents(sim: Sim) -> list[tuple[float, Style, int]]:
    return [(now, i.style, i.qty) for now, _, d in sim.calls for i in d.intents]


# ---------------------------------------------------------------------------------------------- settings and bounds


def test_settings_from_mapping_accepts_known_numbers_and_refuses_the_rest_by_name() -> None:
    s = PovSettings.from_mapping({"check_interval_s": 2, "window_s": 90.0, "passive_lead": 0.25})
    assert (s.check_interval_s, s.window_s, s.passive_lead) == (2.0, 90.0, 0.25)
    assert PovSettings.from_mapping({}) == PovSettings()
    with pytest.raises(ValueError, match=r"unknown POV setting.*slice_interval"):
        PovSettings.from_mapping({"slice_interval": 30})
    with pytest.raises(ValueError, match="POV setting window_s must be a number"):
        PovSettings.from_mapping({"window_s": "60"})
    with pytest.raises(ValueError, match="POV setting window_s must be a finite number"):
        PovSettings.from_mapping({"window_s": float("inf")})
    with pytest.raises(ValueError, match="POV setting jitter"):
        PovSettings.from_mapping({"jitter": True})
    for name, value in [("check_interval_s", 0), ("passive_lead", -1), ("behind_tolerance", 1),
                        ("retry_interval", 0), ("jitter", 1), ("cancel_allowance_s", -0.1),
                        ("max_headroom", -0.1), ("max_headroom", 1.5)]:
        with pytest.raises(ValueError, match=f"POV {name}"):
            PovSettings.from_mapping({name: value})


def test_a_window_no_longer_than_the_caps_horizon_is_refused() -> None:
    assert PovSettings().horizon_s == pytest.approx(1.0 * 1.2 + 1.0)
    with pytest.raises(ValueError, match="POV window_s must be longer"):
        PovSettings(window_s=2.2)


def test_bounds_default_to_a_line_below_rho_and_the_cap_at_rho_or_a_configured_headroom_above() -> None:
    b = pov_bounds(BASE, PovSettings())
    assert (b.rate, b.min_rate, b.max_rate) == (Fraction(1, 10), Fraction(9, 100), Fraction(1, 10))  # the rule
    assert pov_bounds(BASE, PovSettings(max_headroom=0.1)).max_rate == Fraction(11, 100)
    near_one = replace(BASE, participation_rate=D("0.95"))
    assert pov_bounds(near_one, PovSettings(max_headroom=0.1)).max_rate == 1  # never a cap above everything
    given_both = replace(BASE, params=(("MaxPOV", "0.15"), ("MinPOV", "0.05")))
    b = pov_bounds(given_both, PovSettings())
    assert (b.min_rate, b.max_rate) == (Fraction(1, 20), Fraction(3, 20))


@pytest.mark.parametrize(
    ("params", "rate", "message"),
    [
        ((("MinPOV", "abc"),), "0.1", "848 MinPOV=abc must be a decimal fraction"),
        ((("MaxPOV", "1.5"),), "0.1", "848 MaxPOV=1.5 must be a decimal fraction"),
        ((("MinPOV", "0"),), "0.1", "848 MinPOV=0 must"),
        ((("MinPOV", "0.2"),), "0.1", "848 MinPOV=0.2 is above"),
        ((("MaxPOV", "0.05"),), "0.1", "848 MaxPOV=0.05 is below"),
        ((), None, "needs a ParticipationRate"),
    ],
)
def test_bad_bounds_are_refused_naming_the_key(
    params: tuple[tuple[str, str], ...], rate: str | None, message: str
) -> None:
    parent = replace(BASE, params=params, participation_rate=None if rate is None else D(rate))
    with pytest.raises(ValueError, match=message):
        Pov(parent, 1)


# ---------------------------------------------------------------------------------------------- the cap's arithmetic


def test_rolling_room_charges_the_sample_gap_at_the_window_start_against_the_parent() -> None:
    # M = 1/5 (k = 1/4), lot 100 (slack 125), window 60 s, horizon 5 s: window starts in [40, 45].
    history = [(0.0, 0, 0), (30.0, 400, 100), (42.0, 800, 200), (50.0, 1_000, 250), (100.0, 2_000, 400)]
    room = rolling_room(history, max_rate=Fraction(1, 5), lot=100, working=50, window_s=60.0, horizon_s=5.0)
    # The gaps reaching [40, 45] are (30, 42) and (42, 50): bounds 1/4·(2000 − 800) + 100 = 400 and
    # 1/4·(2000 − 1000) + 200 = 450; the worst, 400, + 125 − 400 executed − 50 working.
    assert room == 400 + 125 - 400 - 50
    assert rolling_room(history, max_rate=Fraction(1), lot=100, working=0, window_s=60.0, horizon_s=5.0) is None


def test_rolling_room_before_any_volume_is_the_one_lot_of_slack() -> None:
    room = rolling_room([(0.0, 0, 0)], max_rate=Fraction(1, 10), lot=100, working=0, window_s=60.0, horizon_s=3.0)
    assert room == math.floor(Fraction(100) / Fraction(9, 10)) == 111


@given(
    gaps=st.lists(st.tuples(st.floats(0.01, 5.0), st.integers(0, 3_000), st.integers(0, 500)), min_size=1,
                  max_size=60),
    rate=st.sampled_from([Fraction(1, 20), Fraction(1, 10), Fraction(3, 10)]),
    working=st.integers(0, 1_000),
    horizon=st.floats(0.0, 5.0),
)
def test_rolling_room_never_allows_an_exposure_that_breaks_the_rule_for_a_fill_within_the_horizon(
    gaps: list[tuple[float, int, int]], rate: Fraction, working: int, horizon: float
) -> None:
    """Brute force: whatever the others do between samples (here: all of it just before each
    sample, the worst case), an exposure of room + working filling at any instant up to the horizon
    keeps every window ending there within (M·O_w + lot)/(1 − M)."""
    history, t, o, e = [(0.0, 0, 0)], 0.0, 0, 0
    for dt, do, de in gaps:
        t, o, e = t + dt, o + do, e + de
        history.append((t, o, e))
    window, lot = 20.0, 100
    room = rolling_room(history, max_rate=rate, lot=lot, working=working, window_s=window, horizon_s=horizon)
    assert room is not None
    exposure = e + working + max(room, 0)
    if room < 0:
        return
    # Ours executed at the samples' times; the others' volume fell at the very end of each gap.
    for step in range(21):
        fill_at = t + horizon * step / 20
        start = fill_at - window
        ours_before = max((ei for ti, _, ei in history if ti <= start), default=0)
        theirs_in = o - min((oi for ti, oi, _ in history if ti >= start), default=o)
        assert exposure - ours_before <= (rate * theirs_in + lot) / (1 - rate)


# ---------------------------------------------------------------------------------------------- whole runs


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rate=st.sampled_from(["0.05", "0.1", "0.2", "0.3"]),
    passive_fill=st.sampled_from([Fraction(0), Fraction(1, 10), Fraction(1, 2), Fraction(1)]),
    cancel_delay=st.sampled_from([0.0, 0.2, 1.0]),
    dark_share=st.sampled_from([0.0, 0.3]),
    aggressiveness=st.sampled_from(["PASSIVE", "NEUTRAL", "AGGRESSIVE"]),
)
def test_realized_participation_is_within_the_band_of_rho_and_never_above_max_pov_over_a_window(
    seed: int, rate: str, passive_fill: Fraction, cancel_delay: float, dark_share: float, aggressiveness: str
) -> None:
    """The issue's band is ±10 %; with a headroom of 10 % (MaxPOV 1.1 ρ) the parent holds about
    0.95–1.01 ρ (the low end: ρ = 0.3 with resting children that never fill, so it runs between the
    MinPOV line and the target: 0.948 ρ seen) and never more than one lot above 1.1 ρ over any window
    ending at one of its fills."""
    parent = replace(BASE, participation_rate=D(rate), aggressiveness=aggressiveness)
    sim = Sim(parent, make_tape(seed, START, parent.end_time), seed=seed, passive_fill=passive_fill,
              cancel_delay=cancel_delay, dark_share=dark_share, pov=PovSettings(max_headroom=0.1))
    sim.run()
    rho = float(rate)
    realized = sim.participation(parent.end_time)
    assert 0.93 * rho <= realized <= 1.01 * rho, (realized, rho)
    excess = sim.worst_window_excess(Fraction(D(rate)) * Fraction(11, 10), PovSettings().window_s)
    assert excess <= parent.lot_size, excess


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rate=st.sampled_from(["0.05", "0.1", "0.2", "0.3"]),
    passive_fill=st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(1)]),
    cancel_delay=st.sampled_from([0.0, 1.0]),
    aggressiveness=st.sampled_from(["PASSIVE", "AGGRESSIVE"]),
)
def test_with_max_pov_at_rho_it_is_never_above_rho_over_a_window_and_still_within_ten_percent(
    seed: int, rate: str, passive_fill: Fraction, cancel_delay: float, aggressiveness: str
) -> None:
    """The issue's strict rule (the default; here also asked for with 848 MaxPOV = ρ): never above ρ
    over a rolling window by more than one lot; it costs a few % of participation, inside the ±10 % band."""
    parent = replace(BASE, participation_rate=D(rate), aggressiveness=aggressiveness, params=(("MaxPOV", rate),))
    sim = Sim(parent, make_tape(seed, START, parent.end_time), seed=seed, passive_fill=passive_fill,
              cancel_delay=cancel_delay)
    sim.run()
    rho = float(rate)
    assert 0.9 * rho <= sim.participation(parent.end_time) <= 1.01 * rho
    assert sim.worst_window_excess(Fraction(D(rate)), PovSettings().window_s) <= parent.lot_size


def test_a_headroom_above_rho_centres_participation_on_rho_where_the_cap_at_rho_runs_below_it() -> None:
    """Same tapes, resting children that rarely fill: with the cap at ρ (the default) it binds at
    almost every check and the parent runs ~5 % below ρ; with max_headroom 0.1 it is within 2 % of ρ."""
    strict: list[float] = []
    headroom: list[float] = []
    for seed in range(3):
        for settings_, out in ((PovSettings(), strict), (PovSettings(max_headroom=0.1), headroom)):
            sim = Sim(BASE, make_tape(seed, START, BASE.end_time), seed=seed, passive_fill=Fraction(1, 10),
                      pov=settings_)
            sim.run()
            out.append(sim.participation(BASE.end_time) / 0.1)
    assert min(strict) >= 0.9 and max(strict) < 0.97
    assert min(headroom) >= 0.98 and max(headroom) <= 1.005
    assert sum(headroom) / 3 - sum(strict) / 3 >= 0.03


CAPS = pytest.mark.parametrize("params", [(), (("MaxPOV", "0.22"),)], ids=["default-cap-at-rho", "cap-above-rho"])


@CAPS
def test_a_thin_market_that_goes_quiet_after_a_burst_never_fills_it_above_the_cap(
    params: tuple[tuple[str, str], ...]
) -> None:
    """A burst for a minute, then one print every 20 s: the resting child posted in the burst must
    not fill into windows the burst has left."""
    burst = [(START + i * 0.1, 300) for i in range(600)]
    quiet = [(START + 60.0 + 20.0 * i, 2_000) for i in range(60)]
    parent = replace(BASE, aggressiveness="PASSIVE", participation_rate=D("0.2"), params=params)
    sim = Sim(parent, burst + quiet, passive_fill=Fraction(1), cancel_delay=0.9)
    sim.run()
    assert sum(q for _, q in sim.fills) > 5_000
    assert sim.worst_window_excess(sim.strategy.bounds.max_rate, 60.0) <= 100


@CAPS
def test_a_resting_child_cannot_fill_after_the_volume_that_allowed_it_left_the_window(
    params: tuple[tuple[str, str], ...]
) -> None:
    """100 000 shares print in 5 s while the market is away from the limit; then it comes back and
    the parent catches up on them at once.  A minute later the burst leaves the window while the
    catch-up is still in it: a child resting then must not fill into those windows.  Sized against
    the window at the decision instant only (no horizon) it does: 3 960 shares over the rule."""
    burst = [(START + i * 0.05, 1_000) for i in range(100)]
    steady = [(START + 5.0 + 2.0 * i, 400) for i in range(1, 57)]
    parent = replace(BASE, aggressiveness="PASSIVE", participation_rate=D("0.2"), end_time=START + 120.0,
                     params=params)
    sim = Sim(parent, burst + steady, passive_fill=Fraction(1), cancel_delay=0.9, dead=((START, START + 5.5),))
    sim.run()
    assert sum(q for t, q in sim.fills if t < START + 6.0) >= 20_000  # the catch-up
    assert sim.worst_window_excess(sim.strategy.bounds.max_rate, 60.0) <= 100


def test_dark_fills_do_not_count_as_the_others_volume() -> None:
    """Others = volume − our prints; a dark fill is not a print.  Using filled_qty instead would
    understate the others and send 87, not 100."""
    parent = replace(BASE, participation_rate=D("0.2"), aggressiveness="AGGRESSIVE", lot_size=1)
    pov = Pov(parent, 1)
    market = FakeMarket()
    market.traded = 5_000
    pov.decide(parent, market, START)  # baseline
    market.traded += 1_100  # 1 000 of theirs and our 100 lit
    state = replace(parent, filled_qty=150, printed_qty=100)  # and 50 in the dark
    decision = pov.decide(state, market, START + 5.0)
    # target = 1/4 × 1 000 = 250; executed 150
    assert [(i.qty, i.style) for i in decision.intents] == [(100, Style.AGGRESSIVE)]
    assert "others 1000, target 250" in decision.note


# ---------------------------------------------------------------------------------------------- MinPOV, MaxPOV


def run_with(params: tuple[tuple[str, str], ...], **kwargs: object) -> Sim:
    parent = replace(BASE, params=params, **kwargs)  # type: ignore[arg-type]
    sim = Sim(parent, make_tape(3, START, parent.end_time, rate=2.0), passive_fill=Fraction(0))
    sim.run()
    return sim


def test_a_lower_min_pov_takes_later_and_less_often() -> None:
    """Resting children never fill: every share is a take, made when the parent falls below the
    line.  A lower line waits longer, takes less often and ends lower — but not below the line."""
    default = run_with(())
    low = run_with((("MinPOV", "0.05"),))
    takes = [sum(1 for _, style, _ in intents(s) if style is Style.AGGRESSIVE) for s in (default, low)]
    assert takes[0] > takes[1] > 0
    end = BASE.end_time
    assert default.participation(end) > low.participation(end) >= 0.05 * 0.95
    assert default.participation(end) >= 0.09


def test_a_max_pov_above_rho_lets_a_parent_that_fell_behind_catch_up() -> None:
    """Ten minutes with the market away from the limit, nothing fills; then it comes back.  At
    MaxPOV = ρ the parent can only keep pace (the deficit stays: catching up is trading above ρ);
    at MaxPOV = 2ρ it catches up, above ρ over some windows but never above 2ρ; at 1.1 ρ it makes
    up some of it, never above 1.1 ρ."""
    dead = ((START, START + 600.0),)

    def run(params: tuple[tuple[str, str], ...]) -> Sim:
        parent = replace(BASE, params=params)
        sim = Sim(parent, make_tape(11, START, parent.end_time), dead=dead)
        sim.run()
        return sim

    capped, default, free = run(()), run((("MaxPOV", "0.11"),)), run((("MaxPOV", "0.2"),))
    end = BASE.end_time
    assert capped.participation(end) < 0.08  # about 2/3 of ρ: the dead third is never made up
    assert capped.participation(end) < default.participation(end) < free.participation(end)
    assert default.worst_window_excess(Fraction(11, 100), 60.0) <= 100
    assert free.participation(end) >= 0.09
    assert capped.worst_window_excess(Fraction(1, 10), 60.0) <= 100
    assert free.worst_window_excess(Fraction(1, 10), 60.0) > 100  # above ρ over some windows ...
    assert free.worst_window_excess(Fraction(1, 5), 60.0) <= 100  # ... never above MaxPOV


# ------------------------------------------------------------------------------------- window, done, idempotency


def test_nothing_before_the_start_and_it_asks_to_be_woken_at_the_start() -> None:
    pov = Pov(BASE, 7)
    for now in (START - 3600.0, START - 0.001):
        decision = pov.decide(BASE, FakeMarket(), now)
        assert decision == Decision(wake_at=START, note=decision.note)


def test_at_the_end_it_sends_nothing_pulls_what_rests_and_says_the_window_ended() -> None:
    pov = Pov(BASE, 7)
    market = FakeMarket()
    pov.decide(BASE, market, START)
    state = replace(BASE, filled_qty=3_000, working_qty=200)
    for now in (BASE.end_time, BASE.end_time + 60.0):
        decision = pov.decide(state, market, now)
        assert decision.intents == ()
        assert decision.cancel_working
        assert decision.wake_at is None
        assert "window ended" in decision.note


def test_a_run_sends_only_inside_the_window_and_wakes_exactly_at_the_end() -> None:
    sim = Sim(BASE, make_tape(5, START, BASE.end_time))
    sim.run()
    times = [now for now, _, _ in intents(sim)]
    assert times and min(times) >= START and max(times) < BASE.end_time  # also asserted per intent
    assert any(now == BASE.end_time for now, _, _ in sim.calls)
    assert sim.parent.filled_qty > 0
    assert all(t < BASE.end_time + 1.0 for t, _ in sim.fills)  # a pull confirmed 0.3 s later


def test_checks_come_every_jittered_interval_and_the_jitter_is_a_function_of_seed_and_time() -> None:
    sim = Sim(BASE, make_tape(5, START, BASE.end_time))
    sim.run(until=START + 300.0)
    gaps = [d.wake_at - now for now, _, d in sim.calls
            if d.wake_at is not None and now >= START and not d.cancel_working]
    assert min(gaps) >= 0.8 - 1e-9 and max(gaps) <= 1.2 + 1e-9
    assert max(gaps) - min(gaps) > 0.2  # not a metronome
    again = Pov(BASE, 7)
    again.decide(BASE, FakeMarket(), START)
    assert again.decide(BASE, FakeMarket(), START + 1.0).wake_at == Pov(BASE, 7).decide(
        BASE, FakeMarket(), START + 1.0).wake_at


def test_decide_twice_at_the_same_instant_does_not_send_twice() -> None:
    parent = replace(BASE, aggressiveness="AGGRESSIVE")
    pov = Pov(parent, 7)
    market = FakeMarket()
    pov.decide(parent, market, START)
    market.traded += 9_000
    first = pov.decide(parent, market, START + 1.0)
    assert first == pov.decide(parent, market, START + 1.0)  # same state, same answer
    assert [i.qty for i in first.intents] == [1_000]  # 1/9 × 9 000
    after = replace(parent, working_qty=1_000)  # the engine put it out
    again = pov.decide(after, market, START + 1.0)
    assert again.intents == ()
    assert pov.decide(after, market, START + 1.0) == again


def test_a_small_parent_completes_exactly_with_its_odd_remainder_and_then_stops() -> None:
    parent = replace(BASE, target_qty=12_345)
    sim = Sim(parent, make_tape(9, START, parent.end_time), passive_fill=Fraction(1, 2))
    sim.run()
    assert sim.parent.filled_qty == 12_345
    sent = [q for _, _, q in intents(sim)]
    assert sum(q % 100 != 0 for q in sent) <= 1  # only the final remainder is an odd lot
    done_at = max(t for t, _ in sim.fills)
    assert done_at < parent.end_time
    last = sim.calls[-1][2]
    assert last.wake_at is None and "done" in last.note
    assert all(not d.intents for now, _, d in sim.calls if now > done_at)


def test_limit_and_direction_are_carried_on_a_sell() -> None:
    parent = replace(BASE, direction=-1, limit=D("99.25"))
    sim = Sim(parent, make_tape(2, START, START + 300.0))
    sim.run(until=START + 300.0)
    sent = [i for _, _, d in sim.calls for i in d.intents]
    assert sent
    assert {(i.limit, i.direction) for i in sent} == {(D("99.25"), -1)}


def test_rho_of_one_takes_everything_at_the_start() -> None:
    parent = replace(BASE, participation_rate=D("1"), target_qty=5_000)
    decision = Pov(parent, 1).decide(parent, FakeMarket(), START)
    assert [(i.qty, i.style) for i in decision.intents] == [(5_000, Style.AGGRESSIVE)]


def test_passive_mandate_posts_ahead_and_takes_only_when_behind() -> None:
    parent = replace(BASE, aggressiveness="PASSIVE")
    sim = Sim(parent, make_tape(4, START, parent.end_time), passive_fill=Fraction(1))
    sim.run()
    styles = [style for _, style, _ in intents(sim)]
    assert styles.count(Style.PASSIVE) > 10 * max(styles.count(Style.AGGRESSIVE), 1)
    assert any("ahead of the expected volume" in d.note for _, _, d in sim.calls)
    assert abs(sim.participation(parent.end_time) - 0.1) <= 0.01


def test_ratio_is_rho_over_one_minus_rho() -> None:
    assert ratio(Fraction(1, 10)) == Fraction(1, 9)
    assert ratio(Fraction(3, 10)) == Fraction(3, 7)
