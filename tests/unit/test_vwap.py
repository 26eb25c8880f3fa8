"""VWAP as pure function calls: whole windows run in virtual time against a volume profile, no engine.

``Sim`` plays the engine's part of the strategy contract (as in test_twap.py): it calls ``decide``
at each ``wake_at`` and again after every change of the parent's state until nothing changes (that
also checks idempotency), and fills intents with a simple model — aggressive ones at once, passive
ones a fraction (whole lots), the rest resting as working; ``cancel_working`` returns resting
quantity to unworked.  Every fill prints on the tape (``printed_qty`` and the market volume).
Every intent is checked on the way in: positive, within unworked, whole lots but a final
remainder, carrying the parent's limit.
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

from metaorder.execution.strategy import Decision
from metaorder.execution.types import ParentState, Style
from metaorder.execution.volume_profile import DAY_S, ProfileBook, ProfileSettings
from metaorder.execution.vwap import Vwap, VwapSettings, cumulative_target
from tests.unit.strategysupport import FakeMarket

D = Decimal
DAY0 = 19_676 * DAY_S  # a UTC midnight
OPEN = DAY0 + 9 * 3600 + 1800
CLOSE = DAY0 + 16 * 3600
START = DAY0 + 11 * 3600  # mid-morning: the default U slopes down over the next hour

BASE = ParentState(
    parent_id="P1",
    symbol="ACME",
    direction=1,
    target_qty=10_000,
    filled_qty=0,
    working_qty=0,
    limit=D("101.50"),
    start_time=START,
    end_time=START + 600.0,  # 20 slices of 30 s
    lot_size=100,
)


@dataclass
class Step:
    now: float
    seen: ParentState
    decision: Decision


class Sim:
    def __init__(
        self,
        parent: ParentState = BASE,
        *,
        seed: int = 7,
        passive_fill: Fraction = Fraction(1),
        profiles: ProfileBook | None = None,
        vwap_settings: VwapSettings | None = None,
    ) -> None:
        self.parent = parent
        self.strategy = Vwap(parent, seed, vwap_settings or VwapSettings(), profiles)
        self.market = FakeMarket()
        self.passive_fill = passive_fill
        self.steps: list[Step] = []
        self.finished_at: float | None = None

    def call(self, now: float) -> Decision:
        seen = self.parent
        decision = self.strategy.decide(seen, self.market, now)
        self._apply(decision, now)
        self.steps.append(Step(now, seen, decision))
        return decision

    def settle(self, now: float) -> Decision:
        for _ in range(6):
            before = self.parent
            decision = self.call(now)
            if self.parent == before:
                return decision
        raise AssertionError(f"decide keeps acting at {now}: it is not idempotent")

    def run(self, on_wake: Callable[[Sim, float], None] | None = None) -> None:
        now = self.parent.start_time - 60.0
        deadline = self.parent.end_time + 600.0
        while now <= deadline:
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
        printed = p.printed_qty + (filled - p.filled_qty)
        self.parent = replace(p, filled_qty=filled, working_qty=working, printed_qty=printed)
        if self.finished_at is None and filled == p.target_qty:
            self.finished_at = now

    def sent(self) -> list[tuple[float, Style, int]]:
        return [(s.now, i.style, i.qty) for s in self.steps for i in s.decision.intents]


def vwap_of(sim: Sim) -> Vwap:
    return sim.strategy


# ---------------------------------------------------------------------------------------------- the curve


def test_a_day_long_window_trades_more_near_the_open_and_close_than_at_midday() -> None:
    parent = replace(BASE, start_time=OPEN, end_time=CLOSE, target_qty=1_000_000, lot_size=100)
    sim = Sim(parent)
    sim.run()
    assert sim.parent.filled_qty == 1_000_000
    by_hour = [0] * 7
    for now, _, qty in sim.sent():
        by_hour[min(int((now - OPEN) // 3600), 6)] += qty
    first, middle, last = by_hour[0], by_hour[3], by_hour[6]  # 09:30-10:30, 12:30-13:30, 15:30-16:00
    assert first > 1.8 * middle
    assert last / 0.5 > first  # the last half hour, per hour, is the heaviest
    assert len(vwap_of(sim).schedule) == 100  # a day is not thousands of slices


def test_the_targets_are_the_profile_renormalised_over_the_window() -> None:
    profiles = ProfileBook(ProfileSettings())
    sim = Sim(profiles=profiles)
    strategy = vwap_of(sim)
    assert strategy.by_volume
    n = len(strategy.schedule)
    c0, c1 = profiles.cumulative("ACME", START), profiles.cumulative("ACME", START + 600.0)
    for i, f in enumerate(strategy.fractions):
        t = START + 600.0 * (i + 1) / n
        assert math.isclose(f, (profiles.cumulative("ACME", t) - c0) / (c1 - c0), abs_tol=1e-12)
    # mid-morning the U slopes down: earlier slices are bigger than later ones
    sizes = [b - a for a, b in itertools.pairwise([0.0, *strategy.fractions])]
    assert sizes[0] > sizes[-1]


def test_a_learned_profile_steers_the_schedule() -> None:
    """A day whose volume all came in the second half of a window's first hour..."""
    book = ProfileBook(ProfileSettings())
    for k in range(6):  # 11:30 to 12:00
        book.on_trade("ACME", 1_000, START + 1800 + 300 * k + 1)
    book.on_trade("ACME", 1, START + DAY_S)  # completes the day
    parent = replace(BASE, start_time=START + DAY_S, end_time=START + DAY_S + 3600)
    strategy = Vwap(parent, 7, VwapSettings(), book)
    n = len(strategy.schedule)
    assert strategy.fractions[n // 2 - 1] == 0.0  # nothing due before 11:30
    assert strategy.fractions[-1] == 1.0


def test_a_window_outside_the_session_falls_back_to_time_linear_and_says_so() -> None:
    evening = DAY0 + 20 * 3600
    parent = replace(BASE, start_time=evening, end_time=evening + 600.0)
    sim = Sim(parent)
    strategy = vwap_of(sim)
    assert not strategy.by_volume
    assert strategy.fractions == tuple((i + 1) / 20 for i in range(20))
    sim.run()
    assert sim.parent.filled_qty == 10_000
    assert "time-linear" in sim.steps[-1].decision.note


def test_a_window_across_midnight_keeps_a_rising_curve() -> None:
    parent = replace(BASE, start_time=CLOSE - 3600, end_time=OPEN + DAY_S + 3600)
    strategy = Vwap(parent, 3, VwapSettings(), ProfileBook(ProfileSettings()))
    assert strategy.by_volume
    assert all(a <= b for a, b in itertools.pairwise(strategy.fractions))
    assert 0.4 < strategy.fractions[len(strategy.fractions) // 2] < 0.6  # one busy hour each side of the night


# ---------------------------------------------------------------------------------------------- adding up


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    qty=st.integers(1, 200_000),
    lot=st.sampled_from([1, 10, 100]),
    start=st.floats(0, DAY_S),
    window=st.floats(0.0, 2 * DAY_S),
    seed=st.integers(0, 10),
)
def test_the_targets_rise_in_whole_lots_to_exactly_the_quantity(
    qty: int, lot: int, start: float, window: float, seed: int
) -> None:
    parent = replace(BASE, target_qty=qty, lot_size=lot, start_time=DAY0 + start, end_time=DAY0 + start + window)
    strategy = Vwap(parent, seed, VwapSettings())
    fractions = strategy.fractions
    targets = [cumulative_target(qty, lot, fractions, i) for i in range(-1, len(fractions))]
    assert targets[0] == 0 and targets[-1] == qty
    assert all(a <= b for a, b in itertools.pairwise(targets))
    assert all(t % lot == 0 for t in targets[:-1])


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
    assert sim.finished_at <= parent.end_time + VwapSettings().retry_interval


def test_only_the_last_intent_is_an_odd_lot() -> None:
    sim = Sim(replace(BASE, target_qty=10_050))
    sim.run()
    quantities = [qty for *_, qty in sim.sent()]
    assert sum(quantities) == 10_050
    assert all(q % 100 == 0 for q in quantities[:-1])
    assert quantities[-1] % 100 == 50


# ---------------------------------------------------------------------------------------------- tracking


def started(parent: ParentState = BASE, **kwargs: object) -> tuple[Vwap, FakeMarket]:
    strategy = Vwap(parent, 7, VwapSettings(**kwargs))  # type: ignore[arg-type]
    market = FakeMarket()
    strategy.decide(parent, market, parent.start_time)  # the participation baseline
    return strategy, market


def test_within_the_band_the_slice_is_posted_passively() -> None:
    strategy, market = started()
    at = strategy.schedule[5]
    expected = cumulative_target(10_000, 100, strategy.fractions, 4)  # what should be executed by now
    due = cumulative_target(10_000, 100, strategy.fractions, 5)
    state = replace(BASE, filled_qty=expected - 200, working_qty=100)  # 200 behind: < half a 500-share slice
    decision = strategy.decide(state, market, at)
    assert [(i.style, i.qty) for i in decision.intents] == [(Style.PASSIVE, due - expected + 100)]
    assert not decision.cancel_working


def test_behind_beyond_the_band_it_pulls_resting_children_and_takes_the_shortfall() -> None:
    strategy, market = started()
    at = strategy.schedule[5]
    expected = cumulative_target(10_000, 100, strategy.fractions, 4)
    state = replace(BASE, filled_qty=expected - 700, working_qty=0)  # 700 behind > 250 (MEDIUM: half a slice)
    decision = strategy.decide(state, market, at)
    assert [(i.style, i.qty) for i in decision.intents] == [(Style.AGGRESSIVE, 700)]
    assert "behind by 700 > 250" in decision.note
    resting = replace(state, working_qty=300)
    again = strategy.decide(resting, market, at)
    assert again.cancel_working
    assert all(i.style is Style.AGGRESSIVE for i in again.intents)
    # once the shortfall is taken the rest of the slice goes out passively
    caught_up = replace(BASE, filled_qty=expected)
    rest = strategy.decide(caught_up, market, at)
    assert [i.style for i in rest.intents] == [Style.PASSIVE] and not rest.cancel_working


@pytest.mark.parametrize(("urgency", "lag", "takes"), [("HIGH", 100, True), ("MEDIUM", 200, False),
                                                        ("MEDIUM", 300, True), ("LOW", 500, False),
                                                        ("LOW", 600, True)])
def test_the_band_narrows_with_urgency(urgency: str, lag: int, takes: bool) -> None:
    parent = replace(BASE, urgency=urgency)
    strategy, market = started(parent)
    expected = cumulative_target(10_000, 100, strategy.fractions, 4)
    decision = strategy.decide(replace(parent, filled_qty=expected - lag), market, strategy.schedule[5])
    assert (decision.intents[0].style is Style.AGGRESSIVE) is takes


def test_unfilled_passive_slices_fall_behind_and_are_caught_up_aggressively() -> None:
    sim = Sim(passive_fill=Fraction(0))
    sim.run()
    assert sim.parent.filled_qty == 10_000
    styles = [style for _, style, _ in sim.sent()]
    assert Style.PASSIVE in styles and Style.AGGRESSIVE in styles
    assert any(s.decision.cancel_working for s in sim.steps if s.now < vwap_of(sim).schedule[-1])


def test_ahead_of_the_curve_nothing_is_sent() -> None:
    strategy, market = started()
    state = replace(BASE, filled_qty=cumulative_target(10_000, 100, strategy.fractions, 8))
    decision = strategy.decide(state, market, strategy.schedule[5])
    assert decision.intents == ()
    assert "ahead" in decision.note


def test_aggressive_mandate_always_takes() -> None:
    sim = Sim(replace(BASE, aggressiveness="AGGRESSIVE"), passive_fill=Fraction(1))
    sim.run()
    assert {style for _, style, _ in sim.sent()} == {Style.AGGRESSIVE}


def test_an_order_joining_mid_window_is_spread_over_the_rest_of_the_curve_not_taken_at_once() -> None:
    """The added quantity follows the remaining expected volume (GUIDE §6 recalibration); taking it as
    a lag would dump it into the book in one aggressive order (the lab measured that as most of the
    tracking error of aggregated parents)."""
    strategy, market = started()
    at = strategy.schedule[9]
    f = strategy.fractions
    on_track = cumulative_target(10_000, 100, f, 8)  # executed what slices 1-9 asked
    small = strategy.decide(replace(BASE, filled_qty=on_track), market, at)
    due_small = cumulative_target(10_000, 100, f, 9)
    assert [(i.style, i.qty) for i in small.intents] == [(Style.PASSIVE, due_small - on_track)]
    # an order joins: the parent doubles; what was due stays due, the other 10,000 follow the curve
    grown = replace(BASE, target_qty=20_000, filled_qty=on_track)
    big = strategy.decide(grown, market, at)
    due_big = on_track + math.floor((20_000 - on_track) * (f[9] - f[8]) / (1 - f[8])) // 100 * 100
    assert due_big == cumulative_target(20_000, 100, f, 9, on_track, f[8])
    assert due_small < due_big < 2 * due_small  # more than before, far less than a doubled curve
    assert f"target {due_big}," in big.note
    assert [(i.style, i.qty) for i in big.intents] == [(Style.PASSIVE, due_big - on_track)]
    assert not big.cancel_working
    # deciding again with the same quantity does not move the anchor (idempotent)
    assert strategy.decide(grown, market, at) == big


def test_a_lag_from_before_the_join_is_still_caught_up_after_it() -> None:
    strategy, market = started()
    at = strategy.schedule[9]
    f = strategy.fractions
    strategy.decide(replace(BASE, filled_qty=cumulative_target(10_000, 100, f, 8)), market, at)
    behind = cumulative_target(10_000, 100, f, 8) - 700  # 700 behind > 250 (MEDIUM: half a slice)
    decision = strategy.decide(replace(BASE, target_qty=20_000, filled_qty=behind), market, at)
    assert [(i.style, i.qty) for i in decision.intents] == [(Style.AGGRESSIVE, 700)]
    assert "behind by 700" in decision.note


def test_a_join_before_the_first_slice_rescales_the_whole_curve() -> None:
    strategy, market = started()
    strategy.decide(replace(BASE, target_qty=20_000), market, strategy.schedule[0] - 0.5)
    grown = replace(BASE, target_qty=20_000)
    first = strategy.decide(grown, market, strategy.schedule[0])
    assert [i.qty for i in first.intents] == [cumulative_target(20_000, 100, strategy.fractions, 0)]


def test_orders_leaving_shrink_the_rest_of_the_curve() -> None:
    strategy, market = started()
    at = strategy.schedule[10]
    f = strategy.fractions
    done = cumulative_target(10_000, 100, f, 9)
    strategy.decide(replace(BASE, filled_qty=done), market, at)
    shrunk = replace(BASE, target_qty=8_000, filled_qty=done)
    decision = strategy.decide(shrunk, market, at)
    due = cumulative_target(8_000, 100, f, 10, done, f[9])
    assert 0 < due - done < cumulative_target(10_000, 100, f, 10) - done  # a smaller share of what is left
    assert [i.qty for i in decision.intents] == [due - done]


def test_the_last_slice_rests_passively_and_completion_comes_just_before_the_end() -> None:
    strategy, market = started()
    last = strategy.schedule[-1]
    before = cumulative_target(10_000, 100, strategy.fractions, 18)
    decision = strategy.decide(replace(BASE, filled_qty=before), market, last)
    assert [(i.style, i.qty) for i in decision.intents] == [(Style.PASSIVE, 10_000 - before)]
    assert decision.wake_at is not None and last < decision.wake_at < START + 600.0
    state = replace(BASE, filled_qty=before, working_qty=10_000 - before)
    completing = strategy.decide(replace(state, working_qty=200, filled_qty=9_800), market, decision.wake_at)
    assert completing.cancel_working and "completing" in completing.note


def test_a_parent_that_grows_mid_window_still_ends_exactly() -> None:
    def grow(sim: Sim, now: float) -> None:
        if now >= START + 300 and sim.parent.target_qty == 10_000:
            sim.parent = replace(sim.parent, target_qty=15_050)

    sim = Sim()
    sim.run(on_wake=grow)
    assert sim.parent.filled_qty == 15_050
    assert sim.finished_at is not None and sim.finished_at <= BASE.end_time + 5.0


def test_a_later_expire_time_replans_the_window() -> None:
    strategy, market = started()
    longer = replace(BASE, end_time=START + 1200.0)
    strategy.decide(longer, market, START + 1.0)
    assert len(strategy.schedule) == 40
    assert strategy.schedule[-1] > START + 1100


# ---------------------------------------------------------------------------------------------- contract


def test_decide_twice_at_the_same_instant_does_not_send_twice() -> None:
    strategy = Vwap(BASE, 7)
    market = FakeMarket()
    first_slice = strategy.schedule[0]
    first = strategy.decide(BASE, market, first_slice)
    assert len(first.intents) == 1
    after = replace(BASE, working_qty=first.intents[0].qty)
    again = strategy.decide(after, market, first_slice)
    assert again.intents == ()
    assert strategy.decide(after, market, first_slice) == again


def test_nothing_before_the_start_and_no_wake_once_done() -> None:
    strategy = Vwap(BASE, 7)
    decision = strategy.decide(BASE, FakeMarket(), START - 10.0)
    assert decision.intents == () and decision.wake_at == START
    done = strategy.decide(replace(BASE, filled_qty=10_000), FakeMarket(), START + 600.0)
    assert done.intents == () and done.wake_at is None


def test_after_the_end_it_completes_aggressively() -> None:
    strategy = Vwap(BASE, 7)
    now = START + 700.0
    decision = strategy.decide(replace(BASE, filled_qty=9_300, working_qty=200), FakeMarket(), now)
    assert [(i.qty, i.style) for i in decision.intents] == [(500, Style.AGGRESSIVE)]
    assert decision.cancel_working
    assert decision.wake_at == now + 5.0
    assert "after end" in decision.note


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    filled=st.integers(0, 12_000),
    working=st.integers(0, 12_000),
    printed_share=st.floats(0, 1),
    offset=st.floats(-10, 900),
    rate=st.sampled_from([None, D("0.05"), D("0.3")]),
    others=st.integers(0, 100_000),
    aggressiveness=st.sampled_from(["PASSIVE", "NEUTRAL", "AGGRESSIVE"]),
)
def test_never_more_than_unworked_and_always_at_the_parent_limit(
    filled: int, working: int, printed_share: float, offset: float, rate: Decimal | None, others: int,
    aggressiveness: str,
) -> None:
    parent = replace(BASE, participation_rate=rate, aggressiveness=aggressiveness, direction=-1, limit=D("99.5"))
    strategy, market = started(parent)
    state = replace(parent, filled_qty=filled, working_qty=working, printed_qty=int(filled * printed_share))
    market.traded = others + state.printed_qty
    decision = strategy.decide(state, market, START + offset)
    assert sum(i.qty for i in decision.intents) <= state.unworked_qty
    assert all(i.limit == D("99.5") and i.direction == -1 and i.qty > 0 for i in decision.intents)


def test_the_participation_cap_takes_only_our_prints_out_of_the_tape_but_counts_all_we_executed() -> None:
    parent = replace(BASE, participation_rate=D("0.1"), aggressiveness="AGGRESSIVE")
    strategy, market = started(parent)
    at = strategy.schedule[19]  # final slice: everything is wanted
    market.traded = 9_000 + 500  # 9,000 by others, 500 ours on the tape
    lit_only = replace(parent, filled_qty=500, printed_qty=500)
    decision = strategy.decide(lit_only, market, at)
    # ρ/(1−ρ)·others = 1,000, with others = 9,500 − our 500 prints; we executed 500: 500 more may go
    assert [i.qty for i in decision.intents] == [500]
    assert "participation cap" in decision.note
    with_dark = replace(parent, filled_qty=1_000, printed_qty=500)  # 500 more in the dark: not on the tape
    assert strategy.decide(with_dark, market, at).intents == ()  # but ours all the same: the cap is reached


# ---------------------------------------------------------------------------------------------- settings


def test_settings_from_a_mapping_refuse_unknown_names_and_bad_values_naming_them() -> None:
    s = VwapSettings.from_mapping({"band_high": 0.2, "min_slices": 3, "bin_s": 600, "session_open": "09:00",
                                   "session_close": "15:30"})
    assert (s.band_high, s.min_slices, s.bin_s) == (0.2, 3, 600)
    assert s.profile_settings() == ProfileSettings(bin_s=600, session_open_s=9 * 3600, session_close_s=15 * 3600 + 1800)
    for mapping, name in (
        ({"band_hihg": 0.2}, "band_hihg"),
        ({"band_low": "wide"}, "band_low"),
        ({"band_low": -1}, "band_low"),
        ({"min_slices": 2.5}, "min_slices"),
        ({"jitter": 0.7}, "jitter"),
        ({"decay": 0}, "decay"),
        ({"session_close_s": 100}, "session_close_s"),
        ({"session_open": "9:30"}, "session_open"),
        ({"session_close": 1600}, "session_close"),
        ({"session_open": "09:60"}, "session_open"),
        ({"slice_interval": True}, "slice_interval"),
    ):
        with pytest.raises(ValueError, match=name) as info:
            VwapSettings.from_mapping(mapping)
        assert "VWAP" in str(info.value)


def test_an_unknown_urgency_is_refused() -> None:
    with pytest.raises(ValueError, match="urgency"):
        Vwap(replace(BASE, urgency="NOW"), 7)
