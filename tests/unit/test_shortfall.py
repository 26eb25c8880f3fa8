"""Implementation Shortfall (Almgren–Chriss) as pure function calls: whole windows in virtual time, no engine.

``Sim`` plays the engine's part as in ``test_twap``: it calls ``decide`` at each ``wake_at`` and again
after every change (until nothing changes, which also checks idempotency), aggressive intents fill at
once, passive ones fill a fraction (whole lots) and rest, ``cancel_working`` returns resting quantity.
Every intent is checked on the way in: positive, within unworked, whole lots except a final remainder,
the parent's limit.  Fills print on the tape (``printed_qty``) unless a test crosses shares internally.
The model parameters are fixed (``FixedModels``), chosen so that κT over the 10-minute window is about
0.7 / 2 / 7 for LOW / MEDIUM / HIGH urgency: visibly different trajectories.
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

from metaorder.execution.almgren_chriss import AcParameters, plan
from metaorder.execution.impact_model import InstrumentModels, InstrumentPrior
from metaorder.execution.shortfall import (
    Shortfall,
    ShortfallSettings,
    cumulative_targets,
    period_count,
    risk_aversion_of,
)
from metaorder.execution.strategy import Decision, ParameterSource
from metaorder.execution.twap import cumulative_target
from metaorder.execution.types import ParentState, Style
from tests.unit.strategysupport import FakeMarket

D = Decimal
START = 1_700_000_000.0
WINDOW = 600.0  # 20 periods of 30 s by default
N = 20
TAU = WINDOW / N
PARAMS = AcParameters(sigma=0.05, eta=2e-4, gamma=1e-6, epsilon=0.01)  # per second

MID = D("100.00")
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


class FixedModels:
    """A ParameterSource with fixed parameters (replaceable mid-run), recording the calls."""

    def __init__(self, params: AcParameters = PARAMS) -> None:
        self.params = params
        self.calls: list[float] = []

    def parameters(self, symbol: str, now: float) -> AcParameters:
        self.calls.append(now)
        return self.params


@dataclass
class Step:
    now: float
    seen: ParentState
    decision: Decision
    after: ParentState
    volume: int


def make(parent: ParentState = BASE, seed: int = 7, models: ParameterSource | None = None,
         **tunables: float) -> Shortfall:
    return Shortfall(parent, seed, ShortfallSettings.from_mapping(tunables), models or FixedModels())


class Sim:
    def __init__(
        self,
        parent: ParentState = BASE,
        *,
        seed: int = 7,
        passive_fill: Fraction = Fraction(1),
        market_rate: float = 0.0,
        models: ParameterSource | None = None,
        **tunables: float,
    ) -> None:
        self.parent = parent
        self.models = models or FixedModels()
        self.strategy = make(parent, seed, self.models, **tunables)
        self.market = FakeMarket()
        self.passive_fill = passive_fill
        self.market_rate = market_rate
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
            assert (intent.limit, intent.direction, intent.parent_id) == (p.limit, p.direction, p.parent_id)
            unworked -= intent.qty
            if intent.style is Style.AGGRESSIVE:
                fill = intent.qty
            else:
                fill = math.floor(intent.qty * self.passive_fill) // p.lot_size * p.lot_size
            working += intent.qty - fill
            filled += fill
            self.market.traded += fill
        printed = p.printed_qty + filled - p.filled_qty
        self.parent = replace(p, filled_qty=filled, working_qty=working, printed_qty=printed)
        if self.finished_at is None and filled == p.target_qty:
            self.finished_at = now

    def intents(self) -> list[tuple[float, ParentState, Style, int]]:
        return [(s.now, s.seen, i.style, i.qty) for s in self.steps for i in s.decision.intents]

    def filled_by(self, t: float) -> int:
        """Filled once everything before ``t`` was applied."""
        return max((s.after.filled_qty for s in self.steps if s.now < t), default=0)


def with_risk_aversion(parent: ParentState, value: str) -> ParentState:
    return replace(parent, params=(("RiskAversion", value),))


# ---------------------------------------------------------------------------------------------- the trajectory


@pytest.mark.parametrize("urgency", ["LOW", "MEDIUM", "HIGH"])
@pytest.mark.parametrize(("aggressiveness", "passive_fill"), [("AGGRESSIVE", Fraction(1)), ("NEUTRAL", Fraction(1, 2)),
                                                              ("PASSIVE", Fraction(1))])
def test_executions_follow_the_closed_form_trajectory_at_every_boundary_within_one_lot(
    urgency: str, aggressiveness: str, passive_fill: Fraction
) -> None:
    parent = replace(BASE, urgency=urgency, aggressiveness=aggressiveness)
    sim = Sim(parent, passive_fill=passive_fill)
    sim.run()
    estimate = sim.strategy.estimate
    assert estimate.periods == N and estimate.horizon == pytest.approx(WINDOW)
    for i in range(1, N + 1):
        closed_form = 10_000 - estimate.holdings_at(i * TAU)
        assert abs(sim.filled_by(START + i * TAU) - closed_form) <= 100, (i, closed_form)
    assert sim.parent.filled_qty == 10_000
    assert sim.finished_at is not None and sim.finished_at < START + WINDOW


def test_the_estimate_is_the_almgren_chriss_plan_of_the_whole_window() -> None:
    strategy = make()
    expected = plan(10_000, WINDOW, N, PARAMS, 1e-6)
    assert strategy.estimate == expected
    assert strategy.risk_aversion == 1e-6
    assert [strategy.period_target(i) for i in range(N)] == list(
        cumulative_targets(10_000, 100, expected.holdings, 0, N))


def test_zero_risk_aversion_gives_the_twap_targets() -> None:
    strategy = make(with_risk_aversion(BASE, "0"))
    assert strategy.estimate.kappa == 0
    assert [strategy.period_target(i) for i in range(N)] == [cumulative_target(10_000, 100, N, i) for i in range(N)]
    sim = Sim(with_risk_aversion(replace(BASE, aggressiveness="AGGRESSIVE"), "0"))
    sim.run()
    assert [qty for *_, qty in sim.intents()] == [500] * N


def test_high_urgency_front_loads_more_than_medium_and_medium_more_than_low() -> None:
    def half_way(urgency: str) -> int:
        sim = Sim(replace(BASE, urgency=urgency, aggressiveness="AGGRESSIVE"))
        sim.run()
        return sim.filled_by(START + WINDOW / 2)

    low, medium, high = half_way("LOW"), half_way("MEDIUM"), half_way("HIGH")
    assert 5_000 <= low < medium < high
    assert high >= 9_000  # κT ≈ 7: nearly all done in the first half
    plans = [make(replace(BASE, urgency=u)).estimate for u in ("LOW", "MEDIUM", "HIGH")]
    assert plans[0].variance > plans[1].variance > plans[2].variance  # less risk ...
    assert plans[0].expected_cost < plans[1].expected_cost < plans[2].expected_cost  # ... for more impact


def test_risk_aversion_from_848_overrides_the_urgency_map() -> None:
    parent = with_risk_aversion(replace(BASE, urgency="LOW"), "2E-5")
    strategy = make(parent)
    assert strategy.risk_aversion == 2e-5
    assert strategy.estimate == plan(10_000, WINDOW, N, PARAMS, 2e-5)
    assert make(replace(BASE, urgency="LOW")).risk_aversion == ShortfallSettings().risk_aversion_low


def test_the_urgency_map_comes_from_the_settings() -> None:
    assert risk_aversion_of(replace(BASE, urgency="HIGH"), ShortfallSettings(risk_aversion_high=3e-4)) == 3e-4


@pytest.mark.parametrize("value", ["abc", "-1", "inf", "nan"])
def test_a_bad_risk_aversion_is_refused_naming_the_key(value: str) -> None:
    with pytest.raises(ValueError, match="RiskAversion"):
        make(with_risk_aversion(BASE, value))


# ---------------------------------------------------------------------------------------------- targets add up


@settings(max_examples=200, deadline=None)
@given(
    qty=st.integers(0, 200_000),
    lot=st.sampled_from([1, 10, 100]),
    risk_aversion=st.sampled_from([0.0, 1e-7, 1e-6, 1e-5, 1e-3]),
    window=st.floats(0.0, 30_000.0),
)
def test_cumulative_targets_rise_in_whole_lots_to_exactly_the_quantity(
    qty: int, lot: int, risk_aversion: float, window: float
) -> None:
    parent = with_risk_aversion(replace(BASE, target_qty=qty, lot_size=lot, end_time=START + window),
                                str(risk_aversion))
    strategy = make(parent)  # a straight line where the model is ill-posed (few long periods)
    n = period_count(parent, ShortfallSettings())
    targets = [strategy.period_target(i) for i in range(n)]
    assert targets[-1] == qty
    assert all(0 <= a <= b for a, b in itertools.pairwise([0, *targets]))
    assert all(t % lot == 0 and t <= qty for t in targets[:-1])


@pytest.mark.parametrize("aggressiveness", ["PASSIVE", "NEUTRAL", "AGGRESSIVE"])
@pytest.mark.parametrize("urgency", ["LOW", "HIGH"])
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
    assert sim.finished_at <= parent.end_time + ShortfallSettings().retry_interval


def test_only_the_last_intent_may_be_an_odd_lot() -> None:
    sim = Sim(replace(BASE, target_qty=10_050, aggressiveness="AGGRESSIVE"))
    sim.run()
    quantities = [qty for *_, qty in sim.intents()]
    assert sum(quantities) == 10_050
    assert all(q % 100 == 0 for q in quantities[:-1])
    assert quantities[-1] % 100 == 50


@settings(max_examples=40, deadline=None)
@given(
    qty=st.integers(1, 30_000),
    lot=st.sampled_from([1, 100]),
    urgency=st.sampled_from(["LOW", "MEDIUM", "HIGH"]),
    aggressiveness=st.sampled_from(["PASSIVE", "NEUTRAL", "AGGRESSIVE"]),
    passive_fill=st.fractions(0, 1),
    seed=st.integers(0, 2**32),
    change_at=st.floats(0.0, WINDOW),
    change_by=st.integers(-20_000, 20_000),
)
def test_never_more_than_the_parent_and_always_complete_when_orders_join_or_leave(
    qty: int, lot: int, urgency: str, aggressiveness: str, passive_fill: Fraction, seed: int,
    change_at: float, change_by: int,
) -> None:
    """Sim checks every intent (within unworked, whole lots, the parent's limit); here: never over the
    target, and done exactly by the end whatever the fills and a mid-window grow or shrink."""
    changed: list[float] = []

    def change(sim: Sim, now: float) -> None:
        if not changed and now >= START + change_at:
            p = sim.parent
            sim.parent = replace(p, target_qty=max(p.target_qty + change_by, p.filled_qty + p.working_qty))
            changed.append(now)

    parent = replace(BASE, target_qty=qty, lot_size=lot, urgency=urgency, aggressiveness=aggressiveness)
    sim = Sim(parent, seed=seed, passive_fill=passive_fill)
    sim.run(on_wake=change)
    assert all(s.after.filled_qty + s.after.working_qty <= s.after.target_qty for s in sim.steps)
    assert sim.parent.filled_qty == sim.parent.target_qty
    assert sim.finished_at is not None
    assert sim.finished_at <= START + WINDOW + ShortfallSettings().retry_interval


# ---------------------------------------------------------------------------------------------- re-solving


def test_a_fill_shortfall_is_re_solved_from_what_is_left_at_the_next_boundary() -> None:
    models = FixedModels()
    parent = replace(BASE, urgency="LOW", aggressiveness="PASSIVE")  # 300 short is within its tolerance
    strategy = make(parent, models=models)
    market = FakeMarket()
    first = strategy.decide(parent, market, strategy.schedule[0])
    assert first.intents[0].qty == strategy.period_target(0) == 600  # front-loaded a little
    # period 1 executed only 300 of its slice: at period 2 the plan is solved again for what is left
    state = replace(parent, filled_qty=300)
    now = strategy.schedule[1]
    decision = strategy.decide(state, market, now)
    current = strategy.current_plan
    assert strategy.anchor_index == 1
    assert current.holdings[0] == 9_700
    assert current.periods == N - 1
    assert current.horizon == pytest.approx(WINDOW - TAU)
    assert current.kappa == pytest.approx(strategy.estimate.kappa)  # same τ, same parameters: same κ
    assert current == plan(9_700, WINDOW - TAU, N - 1, PARAMS, strategy.risk_aversion)
    assert strategy.period_target(1) == round((10_000 - current.holdings[1]) / 100) * 100
    assert f"target {strategy.period_target(1)}, done 300" in decision.note
    assert models.calls[-1] == now  # the current parameters, asked at the boundary


def test_a_re_solve_uses_the_current_parameters() -> None:
    models = FixedModels()
    strategy = make(models=models)
    strategy.decide(BASE, FakeMarket(), strategy.schedule[0])
    models.params = replace(PARAMS, sigma=0.2)  # more volatile: more urgent
    strategy.decide(replace(BASE, filled_qty=strategy.period_target(0)), FakeMarket(), strategy.schedule[1])
    assert strategy.current_plan.kappa > 2 * strategy.estimate.kappa
    assert strategy.estimate.kappa == plan(10_000, WINDOW, N, PARAMS, 1e-6).kappa  # the estimate is kept


def test_a_parent_that_grows_mid_period_is_re_solved_at_once_from_the_same_anchor() -> None:
    strategy = make(replace(BASE, aggressiveness="AGGRESSIVE"))
    market = FakeMarket()
    strategy.decide(BASE, market, START)
    t = strategy.schedule[4]
    on_track = replace(BASE, filled_qty=strategy.period_target(3))
    strategy.decide(on_track, market, t)
    anchor_filled = on_track.filled_qty
    grown = replace(on_track, target_qty=15_000, filled_qty=anchor_filled + 200)  # some of period 4 done
    decision = strategy.decide(grown, market, t + 1.0)
    current = strategy.current_plan
    assert strategy.anchor_index == 4
    assert current.holdings[0] == 15_000 - anchor_filled
    assert strategy.period_target(N - 1) == 15_000
    # the added 5,000's share of the past periods is behind the start's schedule: caught up at once
    assert "behind the start's schedule" in decision.note
    assert sum(i.qty for i in decision.intents) > strategy.period_target(4) - grown.filled_qty


def test_a_shrink_below_what_is_out_pulls_resting_children_and_sends_nothing() -> None:
    strategy = make()
    strategy.decide(BASE, FakeMarket(), START)
    state = replace(BASE, target_qty=3_000, filled_qty=2_000, working_qty=1_500)
    decision = strategy.decide(state, FakeMarket(), strategy.schedule[10])
    assert decision.intents == ()
    assert decision.cancel_working
    assert "shrink" in decision.note


def test_a_longer_window_mid_way_redraws_the_grid_and_still_completes_exactly() -> None:
    def extend(sim: Sim, now: float) -> None:
        if sim.parent.end_time == START + WINDOW and now >= START + WINDOW / 2:
            sim.parent = replace(sim.parent, end_time=START + 2 * WINDOW)

    sim = Sim(replace(BASE, urgency="LOW", aggressiveness="AGGRESSIVE"))
    sim.run(on_wake=extend)
    assert len(sim.strategy.boundaries) == 2 * N
    assert sim.parent.filled_qty == 10_000
    assert sim.finished_at is not None and sim.finished_at > START + WINDOW


def test_parameters_the_model_refuses_later_fall_back_to_the_start_and_the_note_says_so() -> None:
    models = FixedModels()
    strategy = make(models=models)
    strategy.decide(BASE, FakeMarket(), START)
    models.params = replace(PARAMS, gamma=1.0)  # η̃ = η − γτ/2 < 0: ill-posed
    decision = strategy.decide(BASE, FakeMarket(), strategy.schedule[1])
    assert "current model refused" in decision.note
    assert strategy.current_plan == plan(10_000, WINDOW - TAU, N - 1, PARAMS, 1e-6)


def test_a_model_ill_posed_from_the_start_gives_a_straight_line_and_the_note_says_so() -> None:
    strategy = make(models=FixedModels(replace(PARAMS, gamma=1.0)))
    assert strategy.estimate.kappa == 0
    assert [strategy.period_target(i) for i in range(N)] == [cumulative_target(10_000, 100, N, i) for i in range(N)]
    decision = strategy.decide(BASE, FakeMarket(), strategy.schedule[0])
    assert "straight line" in decision.note
    assert [i.qty for i in decision.intents] == [500]


# ---------------------------------------------------------------------------------------------- placement


def test_neutral_posts_at_the_period_start_then_pulls_and_takes_what_is_missing() -> None:
    sim = Sim(passive_fill=Fraction(0))  # resting children never fill
    sim.run()
    strategy = sim.strategy
    target0 = strategy.estimate  # period 0's plan is the estimate (same parameters)
    due0 = cumulative_targets(10_000, 100, target0.holdings, 0, N)[0]
    at_send = [s for s in sim.steps if s.now == strategy.schedule[0]]
    assert [(i.qty, i.style) for s in at_send for i in s.decision.intents] == [(due0, Style.PASSIVE)]
    take = START + ShortfallSettings().passive_share * TAU
    pull, taken, *_ = (s for s in sim.steps if s.now == take)
    assert pull.decision.cancel_working and pull.decision.intents == ()
    assert [(i.qty, i.style) for i in taken.decision.intents] == [(due0, Style.AGGRESSIVE)]
    assert "end of the period" in taken.decision.note
    assert sim.parent.filled_qty == 10_000


def test_passive_stays_passive_while_on_the_trajectory_until_the_last_period() -> None:
    sim = Sim(replace(BASE, aggressiveness="PASSIVE"), passive_fill=Fraction(1))
    sim.run()
    last = sim.strategy.boundaries[-1]
    before_last = [style for now, _, style, _ in sim.intents() if now < last]
    assert len(before_last) == N - 1
    assert set(before_last) == {Style.PASSIVE}
    assert not any(s.decision.cancel_working for s in sim.steps if s.now < last)


def test_passive_takes_only_once_behind_the_start_schedule_by_more_than_its_tolerance_and_then_catches_up() -> None:
    # each passive slice executes 4/5 of it: the lag against the start's schedule grows period by period
    def first_take(urgency: str, aggressiveness: str) -> tuple[int, int, int]:
        sim = Sim(replace(BASE, urgency=urgency, aggressiveness=aggressiveness,
                          params=(("RiskAversion", "0"),)), passive_fill=Fraction(4, 5))
        sim.run()
        bounds = sim.strategy.boundaries
        step = next(s for s in sim.steps if any(i.style is Style.AGGRESSIVE for i in s.decision.intents))
        return max(i for i, b in enumerate(bounds) if b <= step.now), step.seen.filled_qty, step.after.filled_qty

    # TWAP-shaped (λ = 0): periods of 500; tolerated lag +1 period for PASSIVE: HIGH 550, MEDIUM 750, LOW 1000
    period, before, after = first_take("HIGH", "PASSIVE")
    assert (period, before) == (3, 900)  # 1,500 due by the start of period 4 (index 3): 600 behind
    assert after >= 1_500  # the lag is closed at once (the resting 300 are pulled and come back later)
    assert first_take("MEDIUM", "PASSIVE")[0] == 4
    assert first_take("LOW", "PASSIVE")[0] == 5
    assert first_take("HIGH", "NEUTRAL")[0] == 0  # NEUTRAL takes at the end of every period anyway


def test_aggressive_mandate_takes_every_slice() -> None:
    sim = Sim(replace(BASE, aggressiveness="AGGRESSIVE"))
    sim.run()
    assert {style for _, _, style, _ in sim.intents()} == {Style.AGGRESSIVE}


def test_the_last_period_pulls_resting_children_and_sends_the_rest_aggressively() -> None:
    strategy = make(replace(BASE, aggressiveness="PASSIVE"))
    strategy.decide(BASE, FakeMarket(), START)
    state = replace(BASE, aggressiveness="PASSIVE", filled_qty=8_000, working_qty=1_000)
    decision = strategy.decide(state, FakeMarket(), strategy.schedule[-1])
    assert decision.cancel_working
    assert [(i.qty, i.style) for i in decision.intents] == [(1_000, Style.AGGRESSIVE)]
    assert decision.wake_at == strategy.schedule[-1] + ShortfallSettings().retry_interval


def test_after_the_end_it_keeps_completing_aggressively() -> None:
    strategy = make()
    now = START + WINDOW + 120.0
    decision = strategy.decide(replace(BASE, filled_qty=9_300), FakeMarket(), now)
    assert [(i.qty, i.style) for i in decision.intents] == [(700, Style.AGGRESSIVE)]
    assert decision.wake_at == now + ShortfallSettings().retry_interval
    assert "after end" in decision.note


# ---------------------------------------------------------------------------------------------- contract


def test_decide_twice_at_the_same_instant_does_not_send_twice() -> None:
    strategy = make()
    market = FakeMarket()
    t = strategy.schedule[0]
    first = strategy.decide(BASE, market, t)
    assert len(first.intents) == 1
    after = replace(BASE, working_qty=first.intents[0].qty)
    again = strategy.decide(after, market, t)
    assert again.intents == ()
    assert strategy.decide(after, market, t) == again


def test_nothing_before_the_start_then_the_arrival_mid_is_the_benchmark() -> None:
    strategy = make()
    for now in (START - 3600.0, START - 0.001):
        decision = strategy.decide(BASE, FakeMarket(D("99.00")), now)
        assert (decision.intents, decision.wake_at) == ((), START)
        assert strategy.arrival_price is None
    strategy.decide(BASE, FakeMarket(None), START)  # one-sided: no mid yet
    assert strategy.arrival_price is None
    strategy.decide(BASE, FakeMarket(D("100.005")), START + 1.0)
    strategy.decide(BASE, FakeMarket(D("105")), START + 2.0)
    assert strategy.arrival_price == D("100.005")


def test_the_note_says_period_target_done_and_kappa_lambda_at_the_start() -> None:
    strategy = make()
    decision = strategy.decide(replace(BASE, filled_qty=100), FakeMarket(), strategy.schedule[0])
    target = strategy.period_target(0)
    assert decision.note.startswith(f"IS period 1/20: target {target}, done 100 (filled 100)")
    assert f"κ {strategy.estimate.kappa:.3g}/s, λ 1e-06/$ at start" in decision.note
    assert decision.intents[0].reason == decision.note


def test_nothing_left_means_no_wake_up() -> None:
    decision = make().decide(replace(BASE, filled_qty=10_000), FakeMarket(), START + 100.0)
    assert (decision.intents, decision.cancel_working, decision.wake_at) == ((), False, None)


def test_a_decision_for_another_parent_is_refused() -> None:
    with pytest.raises(ValueError, match="P1 asked to decide for P2"):
        make().decide(replace(BASE, parent_id="P2"), FakeMarket(), START)


def test_same_seed_same_send_times_within_jitter_of_the_boundaries() -> None:
    a, b = make(seed=1).schedule, make(seed=2).schedule
    assert a == make(seed=1).schedule and a != b
    assert all(0 <= s - (START + i * TAU) <= 0.2 * TAU for i, s in enumerate(a))


# ---------------------------------------------------------------------------------------------- participation


@settings(max_examples=40, deadline=None)
@given(
    rate=st.decimals(D("0.01"), D("0.99"), places=2),
    market_rate=st.floats(0.0, 200.0),
    qty=st.integers(1, 20_000),
    aggressiveness=st.sampled_from(["PASSIVE", "NEUTRAL", "AGGRESSIVE"]),
    internal=st.integers(0, 3_000),
)
def test_participation_cap_holds_at_every_step_counting_only_our_lit_prints_out_of_the_volume(
    rate: Decimal, market_rate: float, qty: int, aggressiveness: str, internal: int
) -> None:
    crossed: list[int] = []

    def cross(sim: Sim, now: float) -> None:  # an internal cross: filled, not printed, not in the volume
        p = sim.parent
        if not crossed and now >= START + 100.0:
            size = min(internal, p.unworked_qty)
            sim.parent = replace(p, filled_qty=p.filled_qty + size)
            crossed.append(size)

    parent = replace(BASE, target_qty=qty, participation_rate=rate, aggressiveness=aggressiveness)
    sim = Sim(parent, market_rate=market_rate, passive_fill=Fraction(1, 2))
    sim.run(on_wake=cross)
    base = next(s for s in sim.steps if s.now >= START)
    v0, f0, p0 = base.volume, base.seen.filled_qty, base.seen.printed_qty
    r = Fraction(rate)
    sent = [s for s in sim.steps[sim.steps.index(base):] if s.decision.intents]
    for s in sent:  # a cross happens to the parent; what the strategy sends must fit under the cap
        others = s.volume - v0 - (s.after.printed_qty - p0)
        assert s.after.filled_qty - f0 + s.after.working_qty <= r * others / (1 - r)


def test_a_thin_market_holds_it_back_and_the_note_says_why() -> None:
    parent = replace(BASE, participation_rate=D("0.1"), aggressiveness="AGGRESSIVE")
    sim = Sim(parent, market_rate=45.0)
    sim.run(deadline=START + WINDOW)
    assert 0 < sim.parent.filled_qty < 10_000
    assert any("participation cap" in s.decision.note for s in sim.steps)


# ---------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("tunables", "message"),
    [
        ({"period": 10.0}, "unknown IS setting"),
        ({"period_s": 0.0}, "period_s must be > 0"),
        ({"jitter": 0.7}, "jitter must be in"),
        ({"passive_share": 1.5}, "passive_share must be in"),
        ({"retry_interval": "5"}, "must be a number"),
        ({"min_periods": 0}, "min_periods must be at least 1"),
        ({"min_periods": 2.5}, "min_periods must be a whole number"),
        ({"min_periods": 10, "max_periods": 5}, "max_periods must be at least min_periods"),
        ({"risk_aversion_high": -1.0}, "risk_aversion_high must be"),
        ({"risk_aversion_low": True}, "must be a number"),
    ],
)
def test_bad_settings_raise_value_error_naming_the_setting(tunables: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShortfallSettings.from_mapping(tunables)


def test_settings_from_mapping_reads_numbers_and_counts() -> None:
    s = ShortfallSettings.from_mapping({"period_s": 60, "max_periods": 50.0, "risk_aversion_medium": 2e-6})
    assert (s.period_s, s.max_periods, s.risk_aversion_medium) == (60.0, 50, 2e-6)
    assert isinstance(s.max_periods, int)


def test_periods_scale_with_the_window() -> None:
    assert period_count(BASE, ShortfallSettings()) == N
    assert period_count(replace(BASE, end_time=START + 25.0), ShortfallSettings()) == 5
    assert period_count(replace(BASE, end_time=START + 6.5 * 3600), ShortfallSettings()) == 100


@pytest.mark.parametrize(
    ("parent", "field"),
    [(replace(BASE, urgency="EXTREME"), "urgency"), (replace(BASE, aggressiveness="EXTREME"), "aggressiveness")],
)
def test_an_unknown_mandate_value_is_refused(parent: ParentState, field: str) -> None:
    with pytest.raises(ValueError, match=f"unknown {field}"):
        make(parent)


def test_the_cap_counts_the_others_volume_net_of_our_lit_prints_only() -> None:
    """Internal crosses and dark fills do not print: subtracting filled_qty would understate the others."""
    parent = replace(BASE, participation_rate=D("0.5"), aggressiveness="AGGRESSIVE")
    strategy = make(parent)
    market = FakeMarket()
    strategy.decide(parent, market, START)  # the baseline: nothing traded yet
    market.traded = 9_000 + 2_000  # others' 9,000 and our 2,000 lit
    state = replace(parent, filled_qty=3_000, printed_qty=2_000)  # 1,000 more crossed internally
    decision = strategy.decide(state, market, strategy.schedule[-1])  # the last period wants everything
    assert [i.qty for i in decision.intents] == [9_000 - 3_000]  # ρ/(1−ρ)·9,000 less ours
    assert "participation cap (room 6000)" in decision.note


# ---------------------------------------------------------------------------------------------- the engine's model


def test_with_the_instrument_model_a_high_urgency_two_hours_is_front_loaded_and_completes() -> None:
    prior = InstrumentPrior("ACME", D("100.00"), D("0.01"), daily_volatility=0.02, daily_volume=1_000_000)
    models = InstrumentModels({"ACME": prior})
    two_hours = replace(BASE, target_qty=50_000, end_time=START + 7_200.0, urgency="HIGH",
                        aggressiveness="AGGRESSIVE")
    sim = Sim(two_hours, models=models)  # the engine's ParameterSource
    sim.run()
    estimate = sim.strategy.estimate
    assert estimate.periods == 100 and estimate.kappa * 7_200.0 > 1.0
    assert sim.filled_by(START + 3_600.0) > 30_000  # more than TWAP's 25,000 by half-time
    assert sim.parent.filled_qty == 50_000


def test_an_instrument_the_model_does_not_know_is_refused() -> None:
    models = InstrumentModels({})
    with pytest.raises(ValueError, match="no impact model for 'ACME'"):
        Shortfall(BASE, 1, ShortfallSettings(), models)
