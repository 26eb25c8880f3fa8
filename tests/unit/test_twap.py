"""TWAP as pure function calls: whole windows run in virtual time, no engine.

``Sim`` plays the engine's part of the contract in ``metaorder.execution.strategy``: it calls
``decide`` at each ``wake_at`` and again after every change of the parent's state (until nothing
changes: that also checks idempotency), and applies a simple fill model — aggressive intents fill
at once, passive ones fill a fraction (whole lots) and rest as working, ``cancel_working`` returns
resting quantity to unworked.  Every intent is checked on the way in (positive, within unworked,
whole lots except a final remainder).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.strategies import make_strategy
from metaorder.execution.strategy import Decision
from metaorder.execution.twap import Twap, TwapSettings, cumulative_target, slice_count
from metaorder.execution.types import ParentState, Style
from tests.unit.strategysupport import FakeMarket

D = Decimal
START = 1_700_000_000.0
WINDOW = 600.0  # 20 slices of 30 s by default

BASE = ParentState(
    parent_id="P1",
    symbol="ACME",
    direction=1,
    target_qty=10_000,
    filled_qty=0,
    working_qty=0,
    limit=D("101.50"),
    start_time=START,
    end_time=START + WINDOW,
    lot_size=100,
)


@dataclass
class Step:
    now: float
    seen: ParentState  # the state decide was given
    decision: Decision
    after: ParentState  # the state once the decision was applied
    volume: int  # market volume once applied


class Sim:
    def __init__(
        self,
        parent: ParentState = BASE,
        *,
        seed: int = 7,
        passive_fill: Fraction = Fraction(1, 2),
        market_rate: float = 0.0,
        **twap_settings: float,
    ) -> None:
        self.parent = parent
        self.strategy = make_strategy("TWAP", parent, seed, **twap_settings)
        self.market = FakeMarket()
        self.passive_fill = passive_fill
        self.market_rate = market_rate  # other participants' shares per second
        self.others = 0
        self.t0 = parent.start_time - 60.0
        self.steps: list[Step] = []
        self.finished_at: float | None = None

    def call(self, now: float) -> Decision:
        seen = self.parent
        decision = self.strategy.decide(seen, self.market, now)
        self._apply(decision, now)
        self.steps.append(Step(now, seen, decision, self.parent, self.market.traded))
        return decision

    def settle(self, now: float) -> Decision:
        """Call decide until it has nothing more to do at ``now``, as the engine does after each change."""
        for _ in range(6):
            before = self.parent
            decision = self.call(now)
            if self.parent == before:
                return decision
        raise AssertionError(f"decide keeps acting at {now}: it is not idempotent")

    def run(self, on_wake: Callable[[Sim, float], None] | None = None, deadline: float | None = None) -> None:
        now = self.t0
        deadline = self.parent.end_time + 600.0 if deadline is None else deadline
        while now <= deadline:
            others = math.floor(self.market_rate * (now - self.t0))
            self.market.traded += others - self.others
            self.others = others
            if on_wake is not None:
                on_wake(self, now)
            decision = self.settle(now)
            if decision.wake_at is None:
                return
            assert decision.wake_at > now, "a wake-up must move time forward"
            now = decision.wake_at

    def _apply(self, decision: Decision, now: float) -> None:
        p = self.parent
        unworked = p.unworked_qty
        working = 0 if decision.cancel_working else p.working_qty
        filled = p.filled_qty
        for intent in decision.intents:
            assert 0 < intent.qty <= unworked, (intent, p)
            assert intent.qty % p.lot_size == 0 or intent.qty == unworked, (intent, p)
            unworked -= intent.qty
            if intent.style is Style.AGGRESSIVE:
                fill = intent.qty
            else:
                fill = math.floor(intent.qty * self.passive_fill) // p.lot_size * p.lot_size
            working += intent.qty - fill
            filled += fill
            self.market.traded += fill
        # Every fill here is a print on the tape (self.market.traded): all lit.
        printed = p.printed_qty + filled - p.filled_qty
        self.parent = replace(p, filled_qty=filled, working_qty=working, printed_qty=printed)
        if self.finished_at is None and filled == p.target_qty:
            self.finished_at = now

    def intents(self) -> list[tuple[float, ParentState, Style, int]]:
        return [(s.now, s.seen, i.style, i.qty) for s in self.steps for i in s.decision.intents]


def twap_of(sim: Sim) -> Twap:
    assert isinstance(sim.strategy, Twap)
    return sim.strategy


# ---------------------------------------------------------------------------------------------- the schedule


@given(qty=st.integers(0, 100_000), lot=st.sampled_from([1, 10, 100]), n=st.integers(1, 200))
def test_cumulative_targets_are_whole_lots_rising_to_exactly_the_quantity(qty: int, lot: int, n: int) -> None:
    targets = [cumulative_target(qty, lot, n, i) for i in range(-1, n)]
    assert targets[0] == 0
    assert targets[-1] == qty
    assert all(a <= b for a, b in itertools.pairwise(targets))
    assert all(t % lot == 0 for t in targets[:-1])


@given(
    qty=st.integers(1, 50_000),
    lot=st.sampled_from([1, 100]),
    window=st.floats(0.0, 30_000.0),
    interval=st.floats(1.0, 600.0),
    min_slices=st.integers(1, 10),
    extra=st.integers(0, 200),
    min_interval=st.floats(0.1, 5.0),
)
def test_slice_count_scales_with_the_window_within_its_bounds_and_never_exceeds_the_lots(
    qty: int, lot: int, window: float, interval: float, min_slices: int, extra: int, min_interval: float
) -> None:
    """The old bound "n ≤ window / slice_interval" is gone on purpose: a short window now gets
    min_slices slices instead of collapsing into one."""
    parent = replace(BASE, target_qty=qty, lot_size=lot, end_time=START + window)
    s = TwapSettings(slice_interval=interval, min_slices=min_slices, max_slices=min_slices + extra,
                     min_slice_interval=min_interval)
    n = slice_count(parent, s)
    duration = parent.end_time - parent.start_time
    lots = max(1, qty // lot)
    assert 1 <= n <= min(lots, s.max_slices)
    assert n == 1 or duration / n >= min_interval * (1 - 1e-9)  # no slice shorter than the minimum
    by_time = math.floor(duration / interval + 0.5)  # about one slice per interval ...
    fit = min(lots, math.floor((duration + 1e-6) / min_interval))
    assert n == max(1, min(max(by_time, min_slices), s.max_slices, fit))  # ... clamped, in that order


def test_ten_minutes_at_30_seconds_is_twenty_slices() -> None:
    assert slice_count(BASE, TwapSettings()) == 20
    assert slice_count(replace(BASE, target_qty=700), TwapSettings()) == 7  # never more slices than lots


def test_a_25_second_window_is_worked_in_several_slices_spread_over_it() -> None:
    """Issue 13: with a fixed 30 s interval a 25 s window was one immediate slice."""
    parent = replace(BASE, end_time=START + 25.0)
    sim = Sim(parent, passive_fill=Fraction(1))
    times = twap_of(sim).schedule
    assert len(times) == TwapSettings().min_slices == 5
    step = 25.0 / 5
    assert all(abs(t - (START + i * step)) <= 0.2 * step for i, t in enumerate(times))
    assert times[-1] - times[0] >= 3 * step  # spread over the window, not bunched at its start
    sim.run()
    sent = [(now, qty) for now, _, _, qty in sim.intents()]
    assert sorted({now for now, _ in sent}) == list(times)
    assert sum(qty for _, qty in sent) == 10_000
    assert sim.finished_at is not None and sim.finished_at < START + 25.0


def test_a_short_window_gets_no_slice_shorter_than_the_minimum_interval() -> None:
    assert slice_count(replace(BASE, end_time=START + 3.0), TwapSettings()) == 3
    assert slice_count(replace(BASE, end_time=START + 3.0), TwapSettings(min_slice_interval=2.0)) == 1


def test_a_trading_day_window_gets_a_bounded_number_of_slices_that_add_up_exactly() -> None:
    day = 6.5 * 3600  # 780 slices of 30 s would be 780 child orders of a dozen lots
    parent = replace(BASE, target_qty=123_456, lot_size=1, end_time=START + day)
    assert slice_count(parent, TwapSettings()) == TwapSettings().max_slices == 100
    sim = Sim(parent, passive_fill=Fraction(1))
    times = twap_of(sim).schedule
    assert len(times) == 100
    assert times[1] - times[0] >= 0.6 * day / 100  # about 4 minutes apart (± jitter)
    sim.run()
    assert sum(qty for *_, qty in sim.intents()) == 123_456
    assert sim.parent.filled_qty == 123_456


@given(qty=st.integers(1, 100_000), lot=st.sampled_from([1, 10, 100]), window=st.floats(0.0, 86_400.0))
def test_the_targets_of_any_window_add_up_to_exactly_the_quantity(qty: int, lot: int, window: float) -> None:
    n = slice_count(replace(BASE, target_qty=qty, lot_size=lot, end_time=START + window), TwapSettings())
    targets = [cumulative_target(qty, lot, n, i) for i in range(n)]
    assert targets[-1] == qty
    steps = [b - a for a, b in itertools.pairwise([0, *targets])]
    assert all(step >= 0 for step in steps) and sum(steps) == qty


def test_same_seed_gives_the_same_schedule_and_another_seed_other_times() -> None:
    a = twap_of(Sim(seed=1)).schedule
    assert a == twap_of(Sim(seed=1)).schedule
    b = twap_of(Sim(seed=2)).schedule
    assert len(a) == len(b) == 20
    assert a != b


def test_slice_times_are_off_the_grid_within_jitter_in_order_and_inside_the_window() -> None:
    times = twap_of(Sim(seed=3)).schedule
    step = WINDOW / 20
    offsets = [t - (START + i * step) for i, t in enumerate(times)]
    assert sum(1 for o in offsets if abs(o) > 1e-6) >= 15  # not trivially on the grid
    assert all(-0.2 * step <= o <= 0.2 * step for o in offsets)
    assert times[0] >= START
    assert times[-1] < START + WINDOW
    assert all(a < b for a, b in itertools.pairwise(times))


def test_slices_go_out_at_the_jittered_times_not_the_grid() -> None:
    sim = Sim(seed=5, passive_fill=Fraction(1))
    sim.run()
    sent = sorted({now for now, *_ in sim.intents()})
    assert sent == list(twap_of(sim).schedule)


# ---------------------------------------------------------------------------------------------- whole windows


@pytest.mark.parametrize("aggressiveness", ["PASSIVE", "NEUTRAL", "AGGRESSIVE"])
@pytest.mark.parametrize("urgency", ["LOW", "MEDIUM", "HIGH"])
@pytest.mark.parametrize(("qty", "lot"), [(10_000, 100), (10_050, 100), (7, 1), (150, 100), (1, 100)])
@pytest.mark.parametrize("passive_fill", [Fraction(0), Fraction(1, 2), Fraction(1)])
def test_a_window_fills_exactly_the_quantity_by_the_end(
    aggressiveness: str, urgency: str, qty: int, lot: int, passive_fill: Fraction
) -> None:
    parent = replace(BASE, target_qty=qty, lot_size=lot, urgency=urgency, aggressiveness=aggressiveness)
    sim = Sim(parent, passive_fill=passive_fill)
    sim.run()
    assert sim.parent.filled_qty == qty
    assert sim.parent.working_qty == 0
    assert sim.finished_at is not None
    assert sim.finished_at <= parent.end_time + TwapSettings().retry_interval


def test_only_the_last_intent_may_be_an_odd_lot() -> None:
    sim = Sim(replace(BASE, target_qty=10_050), passive_fill=Fraction(1))
    sim.run()
    quantities = [qty for *_, qty in sim.intents()]
    assert sum(quantities) == 10_050
    assert all(q % 100 == 0 for q in quantities[:-1])
    assert quantities[-1] == 550  # the last slice's 500 and the odd 50


def test_decide_twice_at_the_same_instant_does_not_send_twice() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    market = FakeMarket()
    first_slice = twap_of_strategy(strategy).schedule[0]
    first = strategy.decide(BASE, market, first_slice)
    assert len(first.intents) == 1
    sent = first.intents[0].qty
    after = replace(BASE, working_qty=sent)  # the engine put the child out
    again = strategy.decide(after, market, first_slice)
    assert again.intents == ()
    assert strategy.decide(after, market, first_slice) == again


def twap_of_strategy(strategy: object) -> Twap:
    assert isinstance(strategy, Twap)
    return strategy


def test_intents_carry_the_parent_limit_direction_and_an_audit_reason() -> None:
    parent = replace(BASE, direction=-1, limit=D("99.25"))
    sim = Sim(parent, passive_fill=Fraction(1))
    sim.run()
    intents = [i for s in sim.steps for i in s.decision.intents]
    assert intents
    assert {(i.limit, i.direction, i.symbol, i.parent_id) for i in intents} == {(D("99.25"), -1, "ACME", "P1")}
    assert intents[2].reason.startswith("TWAP slice 3/20: target 1500, done 1000")


# ---------------------------------------------------------------------------------------------- start and end


def test_nothing_before_the_start_and_it_asks_to_be_woken_at_the_start() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    for now in (START - 3600.0, START - 0.001):
        decision = strategy.decide(BASE, FakeMarket(), now)
        assert decision.intents == ()
        assert not decision.cancel_working
        assert decision.wake_at == START


def test_final_slice_pulls_resting_children_and_sends_the_rest_aggressively() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    last = twap_of_strategy(strategy).schedule[-1]
    strategy.decide(BASE, FakeMarket(), START)  # first call: participation baseline
    state = replace(BASE, filled_qty=8_000, working_qty=1_000)
    decision = strategy.decide(state, FakeMarket(), last)
    assert decision.cancel_working
    assert [(i.qty, i.style) for i in decision.intents] == [(1_000, Style.AGGRESSIVE)]
    assert decision.wake_at is not None
    assert decision.wake_at <= last + TwapSettings().retry_interval


def test_after_the_end_it_keeps_completing_aggressively() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    state = replace(BASE, filled_qty=9_300)
    now = START + WINDOW + 120.0
    decision = strategy.decide(state, FakeMarket(), now)
    assert [(i.qty, i.style) for i in decision.intents] == [(700, Style.AGGRESSIVE)]
    assert decision.wake_at == now + TwapSettings().retry_interval
    assert "after end" in decision.note


def test_nothing_left_means_no_wake_up() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    decision = strategy.decide(replace(BASE, filled_qty=10_000), FakeMarket(), START + WINDOW)
    assert decision == Decision(intents=(), cancel_working=False, wake_at=None, note=decision.note)


# ---------------------------------------------------------------------------------------------- style, behind, ahead


def test_passive_mandate_stays_passive_while_on_schedule() -> None:
    sim = Sim(replace(BASE, aggressiveness="PASSIVE"), passive_fill=Fraction(1))
    sim.run()
    last = twap_of(sim).schedule[-1]
    before_last = [(style, qty) for now, _, style, qty in sim.intents() if now < last]
    assert len(before_last) == 19
    assert {style for style, _ in before_last} == {Style.PASSIVE}
    assert not any(s.decision.cancel_working for s in sim.steps if s.now < last)


def test_aggressive_mandate_takes_every_slice() -> None:
    sim = Sim(replace(BASE, aggressiveness="AGGRESSIVE"), passive_fill=Fraction(1))
    sim.run()
    assert {style for _, _, style, _ in sim.intents()} == {Style.AGGRESSIVE}
    assert [qty for *_, qty in sim.intents()] == [500] * 20


def test_unfilled_passive_slices_put_it_behind_and_it_catches_up_aggressively() -> None:
    sim = Sim(passive_fill=Fraction(0))  # resting children never fill
    sim.run()
    times = twap_of(sim).schedule
    at_one = [s for s in sim.steps if s.now == times[0]]
    assert [(i.qty, i.style) for s in at_one for i in s.decision.intents] == [(500, Style.PASSIVE)]
    # slice 2: slice 1 executed nothing, a whole slice behind (> half a slice at MEDIUM urgency)
    second, pulled_back, *_ = (s for s in sim.steps if s.now == times[1])
    assert second.decision.cancel_working
    assert [(i.qty, i.style) for i in second.decision.intents] == [(500, Style.AGGRESSIVE)]
    assert "behind by 500" in second.decision.note
    # the taker fill made up slice 1's shortfall: on schedule again, so when the pulled 500 comes
    # back (same instant) it is slice 2's own share and is posted as the mandate says
    assert pulled_back.seen.filled_qty == 500
    assert [(i.qty, i.style) for i in pulled_back.decision.intents] == [(500, Style.PASSIVE)]
    assert sim.parent.filled_qty == 10_000


def test_high_urgency_catches_up_sooner_than_low() -> None:
    def first_catch_up(urgency: str) -> int:
        # each passive slice of 500 executes 400: the lag grows by 100 a slice
        sim = Sim(replace(BASE, urgency=urgency), passive_fill=Fraction(4, 5))
        sim.run()
        times = twap_of(sim).schedule
        return next(times.index(now) for now, _, style, _ in sim.intents() if style is Style.AGGRESSIVE)

    # tolerated lag: HIGH 1/10 slice (50), MEDIUM 1/2 (250), LOW 1 (500); "behind" is strictly more
    assert (first_catch_up("HIGH"), first_catch_up("MEDIUM"), first_catch_up("LOW")) == (1, 3, 6)


def test_a_passive_mandate_tolerates_one_more_slice_of_lag_than_neutral() -> None:
    sim = Sim(replace(BASE, aggressiveness="PASSIVE", urgency="HIGH"), passive_fill=Fraction(4, 5))
    sim.run()
    times = twap_of(sim).schedule
    first = next(times.index(now) for now, _, style, _ in sim.intents() if style is Style.AGGRESSIVE)
    assert first == 6  # 1/10 + 1 slice = 550 tolerated: behind once the lag reaches 600


def test_ahead_of_schedule_it_sends_nothing_until_the_schedule_catches_up() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    times = twap_of_strategy(strategy).schedule
    strategy.decide(BASE, FakeMarket(), START)
    ahead = replace(BASE, filled_qty=2_000)  # four slices' worth done already
    for i in range(3):
        decision = strategy.decide(ahead, FakeMarket(), times[i])
        assert decision.intents == ()
        assert decision.wake_at == times[i + 1]
    resumed = strategy.decide(ahead, FakeMarket(), times[4])
    assert [i.qty for i in resumed.intents] == [500]


# ---------------------------------------------------------------------------------------------- recalibration


def test_growing_the_parent_mid_window_recalibrates_and_completes_exactly() -> None:
    grown: list[float] = []

    def grow(sim: Sim, now: float) -> None:
        if not grown and now >= START + WINDOW / 2:
            sim.parent = replace(sim.parent, target_qty=sim.parent.target_qty + 5_000)
            grown.append(now)

    sim = Sim(passive_fill=Fraction(1))
    sim.run(on_wake=grow)
    assert sim.parent.filled_qty == 15_000
    assert sim.finished_at is not None
    assert sim.finished_at <= START + WINDOW + TwapSettings().retry_interval
    step = next(s for s in sim.steps if s.now == grown[0])
    index = twap_of(sim).schedule.index(step.now)
    assert f"target {cumulative_target(15_000, 100, 20, index)}," in step.decision.note
    # the added quantity's share of the past slices is caught up at once
    assert step.decision.intents[0].style is Style.AGGRESSIVE


def test_shrinking_the_parent_mid_window_recalibrates_and_completes_exactly() -> None:
    def shrink(sim: Sim, now: float) -> None:
        if sim.parent.target_qty == 10_000 and now >= START + WINDOW / 2:
            sim.parent = replace(sim.parent, target_qty=max(6_000, sim.parent.filled_qty + sim.parent.working_qty))

    sim = Sim(passive_fill=Fraction(1, 2))
    sim.run(on_wake=shrink)
    assert sim.parent.target_qty == 6_000
    assert sim.parent.filled_qty == 6_000
    assert max(s.after.filled_qty + s.after.working_qty for s in sim.steps) == 6_000


def test_a_longer_window_mid_way_redraws_the_schedule_and_still_completes_exactly() -> None:
    def extend(sim: Sim, now: float) -> None:
        if sim.parent.end_time == START + WINDOW and now >= START + WINDOW / 2:
            sim.parent = replace(sim.parent, end_time=START + 2 * WINDOW)

    sim = Sim(passive_fill=Fraction(1))
    sim.run(on_wake=extend)
    times = twap_of(sim).schedule
    assert len(times) == 40
    assert times[-1] > START + WINDOW
    assert sim.parent.filled_qty == 10_000
    assert sim.finished_at is not None
    assert sim.finished_at > START + WINDOW  # the rest was spread over the new window, not rushed


def test_a_shrink_below_what_is_out_pulls_resting_children_and_sends_nothing() -> None:
    strategy = make_strategy("TWAP", BASE, 7)
    times = twap_of_strategy(strategy).schedule
    strategy.decide(BASE, FakeMarket(), START)
    state = replace(BASE, target_qty=3_000, filled_qty=2_000, working_qty=1_500)
    decision = strategy.decide(state, FakeMarket(), times[10])
    assert decision.intents == ()
    assert decision.cancel_working
    assert "shrink" in decision.note


# ---------------------------------------------------------------------------------------------- participation


def baseline(sim: Sim) -> Step:
    """The first call at or after the start: where the participation cap starts counting."""
    return next(s for s in sim.steps if s.now >= sim.parent.start_time)


@settings(max_examples=60, deadline=None)
@given(
    rate=st.decimals(D("0.01"), D("0.99"), places=2),
    market_rate=st.floats(0.0, 200.0),
    qty=st.integers(1, 20_000),
    lot=st.sampled_from([1, 100]),
    aggressiveness=st.sampled_from(["PASSIVE", "NEUTRAL", "AGGRESSIVE"]),
    seed=st.integers(0, 2**32),
)
def test_participation_cap_holds_at_every_step(
    rate: Decimal, market_rate: float, qty: int, lot: int, aggressiveness: str, seed: int
) -> None:
    parent = replace(BASE, target_qty=qty, lot_size=lot, participation_rate=rate, aggressiveness=aggressiveness)
    sim = Sim(parent, seed=seed, market_rate=market_rate)
    sim.run()
    base = baseline(sim)
    v0, f0 = base.volume, base.seen.filled_qty
    r = Fraction(rate)
    for s in sim.steps[sim.steps.index(base) :]:
        ours = s.after.filled_qty - f0
        others = s.volume - v0 - ours
        assert ours + s.after.working_qty <= r * others / (1 - r)
    if market_rate * WINDOW * r / (1 - r) >= 2 * qty + 100:  # a deep market: the cap never bites for long
        assert sim.parent.filled_qty == qty


def test_a_thin_market_holds_the_twap_back_and_the_note_says_why() -> None:
    parent = replace(BASE, participation_rate=D("0.1"), aggressiveness="AGGRESSIVE")
    sim = Sim(parent, market_rate=45.0)  # 45 shares/s of others: a 10 % share is 5 shares/s, half the schedule
    sim.run(deadline=START + WINDOW)
    assert 0 < sim.parent.filled_qty < 10_000
    assert any("participation cap" in s.decision.note for s in sim.steps)


def test_no_market_volume_means_nothing_under_a_participation_cap() -> None:
    strategy = make_strategy("TWAP", replace(BASE, participation_rate=D("0.2")), 7)
    state = replace(BASE, participation_rate=D("0.2"))
    times = twap_of_strategy(strategy).schedule
    strategy.decide(state, FakeMarket(), START)
    decision = strategy.decide(state, FakeMarket(), times[0])
    assert decision.intents == ()
    assert decision.wake_at == min(times[1], times[0] + TwapSettings().retry_interval)


# ---------------------------------------------------------------------------------------------- the factory


def test_unknown_strategy_kind_raises_a_clear_value_error() -> None:
    with pytest.raises(ValueError, match=r"unknown strategy kind 'VWAPP' \(known: TWAP, VWAP"):
        make_strategy("VWAPP", BASE, 1)


def test_strategy_kind_is_case_insensitive() -> None:
    assert isinstance(make_strategy("twap", BASE, 1), Twap)


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"slice_intervl": 10.0}, "unknown TWAP setting"),
        ({"slice_interval": 0.0}, "slice_interval must be > 0"),
        ({"jitter": 0.5}, "jitter must be in"),
        ({"retry_interval": "5"}, "must be a number"),
        ({"min_slices": 0}, "min_slices must be at least 1"),
        ({"min_slices": 2.5}, "min_slices must be a whole number"),
        ({"min_slices": 10, "max_slices": 5}, "max_slices must be at least min_slices"),
        ({"min_slice_interval": 0.0}, "min_slice_interval must be > 0"),
    ],
)
def test_bad_twap_settings_raise_value_error(settings_: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_strategy("TWAP", BASE, 1, **settings_)


@pytest.mark.parametrize(
    ("parent", "field"),
    [(replace(BASE, urgency="EXTREME"), "urgency"), (replace(BASE, aggressiveness="EXTREME"), "aggressiveness")],
)
def test_an_unknown_mandate_value_is_refused(parent: ParentState, field: str) -> None:
    with pytest.raises(ValueError, match=f"unknown {field}"):
        make_strategy("TWAP", parent, 1)


def test_a_decision_for_another_parent_is_refused() -> None:
    strategy = make_strategy("TWAP", BASE, 1)
    with pytest.raises(ValueError, match="P1 asked to decide for P2"):
        strategy.decide(replace(BASE, parent_id="P2"), FakeMarket(), START)
