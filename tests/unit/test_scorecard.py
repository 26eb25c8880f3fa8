"""The venue scorecard against hand-computed cases: censored dark fills (Kaplan-Meier), decay and priors,
latency and reject rates, price improvement and markout signs, markout sampling, and the rebuild from
the journal (the same events replayed give the same table)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.ctl import Commands
from metaorder.events import (
    ChildAcknowledged,
    ChildCanceled,
    ChildCancelRejected,
    ChildCancelRequested,
    ChildPlaced,
    ChildRejected,
    Event,
    KillSwitchChanged,
    MarketSample,
    VenueExecution,
    VenueMarkout,
)
from metaorder.execution.estimates import FillPriors, OrderKind, VenueEstimates
from metaorder.execution.scorecard import (
    PLACEMENT_CANCEL_REASON,
    Scorecard,
    ScorecardSettings,
    _KaplanMeier,
    kaplan_meier_expected,
    render,
)
from metaorder.execution.types import VenueInfo, VenueKind
from metaorder.orders.model import Side

T0 = 1_700_000_000.0
NO_DECAY = 1e15
VENUES = {
    "ATLX": VenueInfo("ATLX", VenueKind.LIT, maker_fee=Decimal("-0.002"), taker_fee=Decimal("0.003"), latency_ms=2.0,
                      order_types=frozenset({"limit", "market"})),
    "UMBRA": VenueInfo("UMBRA", VenueKind.DARK, maker_fee=Decimal("0.001"), taker_fee=Decimal("0.001"),
                       latency_ms=5.0, order_types=frozenset({"limit", "pegged"})),
}
MID = Decimal("100.005")


def card(half_life: float = NO_DECAY, prior_weight: float = 0.0, mid_source: Callable[[str], Decimal | None]
         | None = None, priors: FillPriors | None = None) -> Scorecard:
    settings = ScorecardSettings(half_life_s=half_life, prior_weight=prior_weight, priors=priors or FillPriors())
    return Scorecard(VENUES, settings, mid_source=mid_source)


def placed(child: str, venue: str, qty: int, *, side: Side = Side.BUY, ioc: bool = False, peg: bool = False,
           mid: Decimal | None = MID, symbol: str = "ACME") -> ChildPlaced:
    return ChildPlaced("P1", child, venue, symbol, side, qty, None if peg else Decimal("100.00"), ioc, peg=peg,
                       mid=mid)


def fill(child: str, venue: str, qty: int, price: str = "100.00", exec_id: str | None = None,
         fee: Decimal | None = None, liquidity: str = "") -> VenueExecution:
    return VenueExecution("P1", child, venue, exec_id or f"{child}-x{qty}-{price}", qty, Decimal(price), liquidity, fee)


def dark_order(c: Scorecard, child: str, sent: int, filled: int, at: float) -> None:
    """One UMBRA midpoint order of ``sent`` that filled ``filled`` and then ended."""
    c.apply(placed(child, "UMBRA", sent, peg=True), at)
    if filled:
        c.apply(fill(child, "UMBRA", filled), at + 1)
    if filled < sent:
        c.apply(ChildCanceled("P1", child, "UMBRA", leaves_qty=sent - filled), at + 2)


# ---- dark pools: censored observations --------------------------------------------------------


def test_kaplan_meier_tail_from_censored_dark_fills_matches_the_hand_computation() -> None:
    c = card()
    dark_order(c, "C1", 1000, 300, T0)  # liquidity exactly 300
    dark_order(c, "C2", 500, 500, T0 + 10)  # censored: liquidity >= 500
    dark_order(c, "C3", 1000, 1000, T0 + 20)  # censored: >= 1000
    dark_order(c, "C4", 800, 200, T0 + 30)  # exactly 200
    # Uncensored values 200 and 300; at risk at 200: all 4, at 300: 3 (the 200 is below).
    # P(L >= x) = 1 for x <= 200; (1 - 1/4) = 3/4 for 200 < x <= 300; 3/4 * (1 - 1/3) = 1/2 for x > 300.
    # expected_fill(1000) = 200 * 1 + 100 * 3/4 + 700 * 1/2 = 200 + 75 + 350 = 625
    # expected_fill(250) = 200 + 50 * 3/4 = 237.5; expected_fill(301) = 200 + 75 + 0.5 = 275.5
    kind = OrderKind.MIDPOINT
    assert c.expected_fill("UMBRA", "ACME", kind, 1000) == pytest.approx(625.0)
    assert c.expected_fill("UMBRA", "ACME", kind, 250) == pytest.approx(237.5)
    assert c.expected_fill("UMBRA", "ACME", kind, 301) == pytest.approx(275.5)
    assert c.expected_fill("UMBRA", "ACME", kind, 200) == pytest.approx(200.0)
    assert c.fill_probability("UMBRA", "ACME", kind) == pytest.approx(1.0)  # every one of the four got something


def test_a_dark_miss_is_liquidity_zero_and_halves_the_tail() -> None:
    c = card()
    dark_order(c, "C1", 500, 0, T0)  # nothing there: uncensored at 0
    dark_order(c, "C2", 500, 500, T0 + 10)  # censored at 500
    # P(L >= x) = 1 - 1/2 for every x >= 1 (the tail stays flat beyond the largest observation)
    assert c.expected_fill("UMBRA", "ACME", OrderKind.MIDPOINT, 1000) == pytest.approx(500.0)
    assert c.fill_probability("UMBRA", "ACME", OrderKind.MIDPOINT) == pytest.approx(0.5)


def test_kaplan_meier_on_weighted_observations_sums_the_steps() -> None:
    # (value, uncensored weight, censored weight): 2 at 10, 1 censored at 10, 1 at 30.
    # at risk at 10: 4 -> S = 1 - 2/4 = 1/2 for x > 10; at 30: 1 -> S = 0 for x > 30.
    # sum_{x=1..40} = 10 * 1 + 20 * 1/2 + 10 * 0 = 20
    assert kaplan_meier_expected([(10, 2.0, 1.0), (30, 1.0, 0.0)], 40) == pytest.approx(20.0)
    assert kaplan_meier_expected([(10, 2.0, 1.0), (30, 1.0, 0.0)], 5) == pytest.approx(5.0)
    assert kaplan_meier_expected([], 7) == pytest.approx(7.0)


def dark_child(c: Scorecard, child: str, sent: int, filled: int, at: float, *, reason: str | None,
               ioc: bool = False) -> None:
    """A UMBRA peg of ``sent`` that filled ``filled``; canceled after a request with ``reason`` (None:
    the venue ended it by itself, as an IOC's remainder or an expiry)."""
    c.apply(placed(child, "UMBRA", sent, peg=True, ioc=ioc), at)
    if filled:
        c.apply(fill(child, "UMBRA", filled), at + 1)
    if filled < sent:
        if reason is not None:
            c.apply(ChildCancelRequested("P1", child, "UMBRA", reason), at + 2)
        c.apply(ChildCanceled("P1", child, "UMBRA", leaves_qty=sent - filled), at + 3)


def test_a_dark_child_the_strategy_cut_short_is_censored_at_its_fill_and_says_nothing_when_it_got_none() -> None:
    c = card()
    dark_child(c, "C1", 1000, 200, T0, reason=PLACEMENT_CANCEL_REASON)  # its timeout: exactly 200 there
    dark_child(c, "C2", 1000, 300, T0 + 10, reason="strategy: new decision")  # cut short: at least 300
    dark_child(c, "C3", 1000, 0, T0 + 20, reason="engine: kill switch")  # cut short, nothing: no observation
    dark_child(c, "C4", 1000, 600, T0 + 30, reason=None)  # ended by the venue: exactly 600
    # Observations: 200 exact, 300 censored, 600 exact (C3 is none).  At risk at 200: 3 -> S = 2/3
    # for 200 < x <= 600; the 300 leaves the risk set, at 600: 1 -> S = 0 beyond.
    # expected_fill(1000) = 200 + 400 x 2/3 = 466.67 (counting C2 as exactly 300 and C3 as 0 would
    # give S = 3/4 to 200, 2/4 to 300, 1/4 to 600: 150 + 50 + 75 = 275)
    assert c.expected_fill("UMBRA", "ACME", OrderKind.MIDPOINT, 1000) == pytest.approx(200 + 400 * 2 / 3)
    # the fill probability stays the realised share of our orders that got a fill: 3 of 4
    assert c.fill_probability("UMBRA", "ACME", OrderKind.MIDPOINT) == pytest.approx(0.75)


def test_an_ioc_midpoint_order_is_a_kind_of_its_own_with_its_own_curve_and_prior() -> None:
    assert OrderKind.of(VENUES["UMBRA"], True, True) is OrderKind.MIDPOINT_IOC
    assert OrderKind.of(VENUES["UMBRA"], True, False) is OrderKind.MIDPOINT_IOC  # a pool's limit order, IOC
    assert OrderKind.of(VENUES["UMBRA"], False, True) is OrderKind.MIDPOINT
    assert OrderKind.of(VENUES["ATLX"], True, False) is OrderKind.IOC
    assert OrderKind.MIDPOINT_IOC.dark and OrderKind.MIDPOINT.dark and not OrderKind.IOC.dark
    c = card(prior_weight=4.0, priors=FillPriors(midpoint=0.3, midpoint_ioc=0.05))
    assert c.fill_probability("UMBRA", "ACME", OrderKind.MIDPOINT_IOC) == 0.05
    for i in range(4):
        dark_child(c, f"R{i}", 1000, 1000, T0 + i, reason=None)  # resting pegs: filled, censored at 1000
        dark_child(c, f"I{i}", 1000, 0, T0 + i, reason=None, ioc=True)  # IOC pegs: nothing rested there
    # resting: 4 censored at 1000, S = 1 -> (4 x 1000 + 4 x 0.3 x 1000) / 8 = 650
    assert c.expected_fill("UMBRA", "ACME", OrderKind.MIDPOINT, 1000) == pytest.approx(650.0)
    # IOC: 4 exact at 0, S = 0 -> (4 x 0 + 4 x 0.05 x 1000) / 8 = 25
    assert c.expected_fill("UMBRA", "ACME", OrderKind.MIDPOINT_IOC, 1000) == pytest.approx(25.0)
    assert [r["kind"] for r in c.rows()] == ["midpoint", "midpoint_ioc"]
    s = ScorecardSettings.from_mapping({"prior_midpoint_ioc": 0.1})
    assert (s.priors.midpoint_ioc, s.priors.midpoint) == (0.1, 0.3)
    assert ScorecardSettings().priors.midpoint_ioc == 0.2


# ---- the Kaplan-Meier store: scale factor, cached steps, bounded values ----------------------------

observations = st.lists(st.tuples(st.integers(0, 3000), st.booleans(), st.floats(0.0, 0.45)), max_size=60)


def decayed_by_value(at: list[tuple[int, bool, float]], t: float) -> list[tuple[int, float, float]]:
    """(value, uncensored, censored) weights decayed to ``t`` (half-life 1), one row per value (a death and
    a censoring at one value are both at risk there)."""
    by_value: dict[int, list[float]] = {}
    for v, c, ti in at:
        by_value.setdefault(v, [0.0, 0.0])[1 if c else 0] += 2.0 ** -(t - ti)
    return [(v, d, c) for v, (d, c) in by_value.items()]


@settings(max_examples=200)
@given(observations, st.lists(st.integers(1, 4000), min_size=1, max_size=8))
def test_the_cached_curve_with_a_scale_factor_equals_the_curve_of_the_decayed_weights(
        obs: list[tuple[int, bool, float]], queries: list[int]) -> None:
    # Observations at increasing times, up to 27 half-lives in all (a rescale past 20, no weight
    # pruned); the reference decays every weight to the last time, as the old store did on every event.
    km = _KaplanMeier(0.0)
    t, at = 0.0, []
    for value, censored, gap in obs:
        t += gap
        km.add(value, censored, t, 1.0)
        at.append((value, censored, t))
        ref = decayed_by_value(at, t)
        for q in queries:  # read after every observation: the cache is rebuilt when one is added
            assert km.expected(q) == pytest.approx(kaplan_meier_expected(ref, q), rel=1e-9, abs=1e-9)
        assert km.total(t, 1.0) == pytest.approx(sum(d + c for _, d, c in ref), rel=1e-9)


def test_a_rescale_forgets_weights_decayed_below_the_threshold_and_keeps_the_curve_of_the_rest() -> None:
    km = _KaplanMeier(0.0)
    km.add(100, False, 0.0, 1.0)
    km.add(50, False, 21.0, 1.0)  # 2**21 past the reference: rescaled, the 100 kept at 2**-21
    assert len(km) == 2 and km.expected(200) == pytest.approx(50 + 50 * 2.0**-21 / (1 + 2.0**-21))
    km.add(30, True, 50.0, 1.0)  # rescaled again: the 100 at 2**-50 is forgotten, the 50 at 2**-29 kept
    assert sorted(km.weights) == [30, 50]
    ref = [(50, 2.0**-29, 0.0), (30, 0.0, 1.0)]
    assert km.expected(200) == pytest.approx(kaplan_meier_expected(ref, 200))
    assert km.total(60.0, 1.0) == pytest.approx((1 + 2.0**-29) * 2.0**-10)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 5000), st.booleans()), min_size=1, max_size=120), st.integers(2, 40))
def test_the_store_keeps_at_most_its_cap_of_values_the_smallest_and_every_weight(
        obs: list[tuple[int, bool]], cap: int) -> None:
    km = _KaplanMeier(0.0, max_values=cap)
    for i, (value, censored) in enumerate(obs):
        km.add(value, censored, float(i), NO_DECAY)
        assert len(km) <= cap
    assert min(km.weights) == min(v for v, _ in obs)  # merges go down: nothing below the smallest
    assert km.total(float(len(obs)), NO_DECAY) == pytest.approx(len(obs))  # merged, never dropped


def test_a_capped_store_stays_close_to_the_full_curve_on_a_pools_fill_sizes() -> None:
    rng = random.Random(1)
    full, capped = _KaplanMeier(0.0, max_values=10**9), _KaplanMeier(0.0)
    for i in range(3000):  # lognormal pool liquidity, orders of 1,000..20,000: ~1,400 distinct sizes
        q = rng.randint(1000, 20000)
        f = min(q, int(rng.lognormvariate(6.2, 1.0)))
        for km in (full, capped):
            km.add(f, f >= q, 5.0 * i, 4 * 3600.0)
    assert len(full) > 1000 and len(capped) <= 256
    for q in (100, 500, 1000, 3000, 10000, 40000):
        assert capped.expected(q) == pytest.approx(full.expected(q), rel=0.03)


def test_a_venue_with_no_data_is_its_priors_and_configuration() -> None:
    c: VenueEstimates = card(prior_weight=4.0, priors=FillPriors(passive=0.5, ioc=0.9, midpoint=0.3))
    assert c.fill_probability("UMBRA", "ACME", OrderKind.MIDPOINT) == 0.3
    assert c.expected_fill("UMBRA", "ACME", OrderKind.MIDPOINT, 1000) == pytest.approx(300.0)
    assert c.expected_fill("ATLX", "ACME", OrderKind.IOC, 100) == pytest.approx(90.0)
    assert c.cost_per_share("ATLX", "ACME", OrderKind.IOC) == Decimal("0.003000")  # the taker fee
    assert c.cost_per_share("ATLX", "ACME", OrderKind.PASSIVE) == Decimal("-0.002000")  # the maker rebate
    assert c.latency_ms("UMBRA") == 5.0 and c.reject_rate("UMBRA") == 0.0
    assert isinstance(c, Scorecard) and c.rows() == []


def test_priors_hold_the_first_orders_and_the_estimate_moves_toward_the_realised_rate() -> None:
    c = card(prior_weight=4.0, priors=FillPriors(passive=0.5))
    distances = []
    for i in range(40):  # every fourth passive order fills: a realised rate of 25%
        child = f"C{i}"
        c.apply(placed(child, "ATLX", 100), T0 + i)
        if i % 4 == 0:
            c.apply(fill(child, "ATLX", 100, liquidity="1"), T0 + i + 0.5)
        else:
            c.apply(ChildCanceled("P1", child, "ATLX", leaves_qty=100), T0 + i + 0.5)
        if i == 0:
            assert c.fill_probability("ATLX", "ACME", OrderKind.PASSIVE) == pytest.approx((1 + 2) / 5)  # not 1.0
        distances.append(abs(c.fill_probability("ATLX", "ACME", OrderKind.PASSIVE) - 0.25))
    assert c.fill_probability("ATLX", "ACME", OrderKind.PASSIVE) == pytest.approx((10 + 4 * 0.5) / 44)
    assert distances[-1] < distances[3] < distances[0]
    assert c.expected_fill("ATLX", "ACME", OrderKind.PASSIVE, 200) == pytest.approx(200 * (10 + 2) / 44)


def test_decay_halves_an_observations_weight_after_one_half_life() -> None:
    c = card(half_life=100.0, prior_weight=4.0, priors=FillPriors(ioc=0.9))
    c.apply(placed("C1", "ATLX", 100, ioc=True), T0)
    c.apply(ChildCanceled("P1", "C1", "ATLX", leaves_qty=100), T0)  # an IOC that got nothing
    assert c.fill_probability("ATLX", "ACME", OrderKind.IOC) == pytest.approx(3.6 / 5)  # (0 + 4 x 0.9) / (1 + 4)
    [row] = c.rows()
    assert row["orders"] == 1.0
    c.apply(placed("D1", "UMBRA", 100, peg=True), T0 + 100)  # time moves on (another venue's event)
    atlx = next(r for r in c.rows() if r["venue"] == "ATLX")
    assert atlx["orders"] == 0.5
    assert c.fill_probability("ATLX", "ACME", OrderKind.IOC) == pytest.approx(3.6 / 4.5)  # back toward the prior



def test_events_it_does_not_learn_from_do_not_move_its_clock() -> None:
    # A replay hands the scorecard every journaled event (orders, kill switches, market samples), the
    # live engine only its own: read after either, the figures must be the same.
    c = card(half_life=100.0)
    c.apply(placed("C1", "ATLX", 100, ioc=True), T0)
    c.apply(ChildCanceled("P1", "C1", "ATLX", leaves_qty=100), T0)
    c.apply(KillSwitchChanged(True, "global kill switch engaged"), T0 + 100)
    c.apply(MarketSample("ACME", Decimal("100.00"), Decimal("100.01"), 500, Decimal("50002.5")), T0 + 100)
    [row] = c.rows()
    assert row["orders"] == 1.0


# ---- latency, rejects, cancel rejects -----------------------------------------------------------


def test_ack_latency_is_measured_and_replaces_the_configured_one() -> None:
    c = card()
    assert c.latency_ms("ATLX") == 2.0
    c.apply(placed("C1", "ATLX", 100), T0)
    c.apply(ChildAcknowledged("P1", "C1", "ATLX", "V1"), T0 + 0.0035)
    c.apply(placed("C2", "ATLX", 100), T0 + 1)
    c.apply(ChildAcknowledged("P1", "C2", "ATLX", "V2"), T0 + 1.0015)
    c.apply(ChildAcknowledged("P1", "C2", "ATLX", "V2"), T0 + 1.5)  # a duplicate: not a second measurement
    assert c.latency_ms("ATLX") == pytest.approx(2.5, abs=1e-3)  # epoch floats: microsecond precision
    assert c.rows()[0]["ack_latency_ms"] == pytest.approx(2.5, abs=1e-3)  # epoch floats: microsecond precision


def test_reject_and_cancel_reject_rates() -> None:
    c = card()
    for i in range(4):
        c.apply(placed(f"C{i}", "ATLX", 100), T0 + i)
    c.apply(ChildRejected("P1", "C0", "ATLX", text="no"), T0 + 5)
    c.apply(ChildCancelRequested("P1", "C1", "ATLX", "timeout"), T0 + 5)
    c.apply(ChildCanceled("P1", "C1", "ATLX", leaves_qty=100), T0 + 6)
    c.apply(ChildCancelRequested("P1", "C2", "ATLX", "timeout"), T0 + 5)
    c.apply(fill("C2", "ATLX", 100), T0 + 5.5)  # the fill won the race: the child ended ...
    c.apply(ChildCancelRejected("P1", "C2", "ATLX", "too late to cancel"), T0 + 6)  # ... and the cancel is refused
    c.apply(ChildCanceled("P1", "C3", "ATLX", leaves_qty=100), T0 + 6)
    assert c.reject_rate("ATLX") == pytest.approx(0.25)
    assert c.cancel_reject_rate("ATLX") == pytest.approx(0.5)
    [row] = c.rows()
    assert (row["reject_rate"], row["cancel_reject_rate"], row["orders"]) == (0.25, 0.5, 4.0)
    # the reject is not a fill opportunity: 1 of the 3 orders the venue took filled
    assert c.fill_probability("ATLX", "ACME", OrderKind.PASSIVE) == pytest.approx(1 / 3)


# ---- price improvement, markouts, cost --------------------------------------------------------


def markout(child: str, side: Side, price: str, fill_mid: str, *mids: tuple[float, str], venue: str = "ATLX",
            qty: int = 100) -> VenueMarkout:
    return VenueMarkout("P1", child, venue, "ACME", side, qty, Decimal(price), Decimal(fill_mid),
                        tuple((h, Decimal(m)) for h, m in mids))


def test_a_buy_taking_pays_half_the_spread_and_the_mid_falling_after_it_is_against_us() -> None:
    c = card()
    c.apply(placed("B1", "ATLX", 100, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 100, "100.01", fee=Decimal("0.30")), T0 + 0.01)  # Commission: 0.003 per share
    # price improvement: +1 x (100.005 - 100.01) = -0.005 (we paid half the spread)
    row = c.rows()[0]
    assert (row["price_improvement"], row["fee"], row["markout_10s"]) == ("-0.005000", "0.003000", None)
    assert c.price_improvement("ATLX", "ACME", OrderKind.IOC) == Decimal("-0.005")
    # beyond its price a share cost the fee only (no markout yet): the half spread is in the price
    assert c.cost_per_share("ATLX", "ACME", OrderKind.IOC) == Decimal("0.003000")
    # the mid falls 2 cents in 10 s after our buy: +1 x (100.005 - 99.985) = +0.02 against us
    c.apply(markout("B1", Side.BUY, "100.01", "100.005", (1.0, "100.000"), (10.0, "99.985"), (60.0, "99.900")),
            T0 + 61)
    row = c.rows()[0]
    assert (row["markout_1s"], row["markout_10s"], row["markout_60s"]) == ("0.005000", "0.020000", "0.105000")
    assert c.cost_per_share("ATLX", "ACME", OrderKind.IOC) == Decimal("0.023000")  # 0.003 + 0.02
    assert row["cost_per_share"] == "0.023000" and row["price_improvement"] == "-0.005000"


def test_a_sell_resting_earns_the_rebate_and_improvement_and_the_mid_rising_after_it_is_against_us() -> None:
    c = card()
    c.apply(placed("S1", "ATLX", 100, side=Side.SELL), T0)
    c.apply(fill("S1", "ATLX", 100, "100.01", liquidity="1"), T0 + 3)  # no Commission: the maker fee, -0.002
    # price improvement: -1 x (100.005 - 100.01) = +0.005 (sold above the mid)
    # markout at 10 s: -1 x (100.005 - 100.025) = +0.02 (the price rose after we sold)
    c.apply(markout("S1", Side.SELL, "100.01", "100.005", (1.0, "100.005"), (10.0, "100.025"), (60.0, "99.995")),
            T0 + 64)
    row = c.rows()[0]
    assert (row["price_improvement"], row["fee"]) == ("0.005000", "-0.002000")
    assert (row["markout_1s"], row["markout_10s"], row["markout_60s"]) == ("0.000000", "0.020000", "-0.010000")
    assert c.cost_per_share("ATLX", "ACME", OrderKind.PASSIVE) == Decimal("0.018000")  # -0.002 + 0.02
    assert c.price_improvement("ATLX", "ACME", OrderKind.PASSIVE) == Decimal("0.005")  # its own figure
    assert row["time_to_fill_s"] == 3.0 and row["mean_fill_size"] == 100.0


def test_price_improvement_is_share_weighted() -> None:
    c = card()
    c.apply(placed("B1", "ATLX", 400, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 300, "100.005"), T0 + 0.1)  # improvement 0 on 300
    c.apply(fill("B1", "ATLX", 100, "100.015"), T0 + 0.2)  # -0.01 on 100
    assert c.rows()[0]["price_improvement"] == "-0.002500"  # (-0.01 x 100) / 400
    assert c.rows()[0]["mean_fill_size"] == 200.0


# ---- markout sampling ----------------------------------------------------------------------------


class Mids:
    def __init__(self, mid: str) -> None:
        self.mid: Decimal | None = Decimal(mid)
        self.reads = 0

    def __call__(self, symbol: str) -> Decimal | None:
        self.reads += 1
        return self.mid


def test_take_markouts_samples_each_horizon_at_or_after_it_is_due_and_returns_one_event_per_fill() -> None:
    mids = Mids("100.005")
    c = card(mid_source=mids)
    c.apply(placed("B1", "ATLX", 200, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 100, "100.01", exec_id="E1"), T0 + 0.1)
    c.apply(fill("B1", "ATLX", 100, "100.01", exec_id="E2"), T0 + 0.2)
    assert c.next_markout_at() == pytest.approx(T0 + 1.1)
    mids.mid = Decimal("100.000")
    assert c.take_markouts(T0 + 1.15, mids) == []  # E1's 1 s sampled at 100.000; E2's not due yet
    assert c.next_markout_at() == pytest.approx(T0 + 1.2)
    mids.mid = Decimal("99.990")
    assert c.take_markouts(T0 + 1.3, mids) == []  # E2's 1 s at 99.990
    assert c.next_markout_at() == pytest.approx(T0 + 10.1)
    mids.mid = Decimal("99.980")
    assert c.take_markouts(T0 + 15, mids) == []  # both 10 s horizons, sampled late (at the first tick after)
    mids.mid = Decimal("99.900")
    done = c.take_markouts(T0 + 60.15, mids)
    assert [(m.child_id, m.mids) for m in done] == [
        ("B1", ((1.0, Decimal("100.000")), (10.0, Decimal("99.980")), (60.0, Decimal("99.900")))),
    ]
    assert done[0].fill_mid == Decimal("100.005") and done[0].side is Side.BUY and done[0].qty == 100
    [second] = c.take_markouts(T0 + 60.2, mids)
    assert second.mids[0] == (1.0, Decimal("99.990")) and c.next_markout_at() is None
    before = c.cost_per_share("ATLX", "ACME", OrderKind.IOC)
    for m in (*done, second):  # the engine journals each and then folds it
        c.apply(m, T0 + 60.2)
    # 10 s markout: +1 x (100.005 - 99.980) = 0.025 on both fills
    assert c.cost_per_share("ATLX", "ACME", OrderKind.IOC) - before == Decimal("0.025000")


def test_a_horizon_without_a_quote_is_left_out_of_the_markout() -> None:
    mids = Mids("100.005")
    c = card(mid_source=mids)
    c.apply(placed("B1", "ATLX", 100, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 100, "100.01"), T0)
    mids.mid = None
    assert c.take_markouts(T0 + 5, mids) == []
    mids.mid = Decimal("100.015")
    assert c.take_markouts(T0 + 12, mids) == []
    [m] = c.take_markouts(T0 + 60, mids)
    assert m.mids == ((10.0, Decimal("100.015")), (60.0, Decimal("100.015")))


def test_a_horizon_sampled_more_than_its_length_late_is_left_out_and_a_fill_with_none_gives_no_markout() -> None:
    mids = Mids("100.005")
    c = card(mid_source=mids)
    c.apply(placed("B1", "ATLX", 200, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 100, "100.01", exec_id="E1"), T0)
    [m] = c.take_markouts(T0 + 65, mids)  # the engine slept through the 1 s and 10 s horizons
    assert m.mids == ((60.0, Decimal("100.005")),)
    c.apply(fill("B1", "ATLX", 100, "100.01", exec_id="E2"), T0 + 100)
    assert c.take_markouts(T0 + 1000, mids) == []  # every horizon long gone: nothing to journal
    assert c.next_markout_at() is None


def test_a_fill_without_a_quote_gets_no_markout() -> None:
    mids = Mids("100.005")
    mids.mid = None
    c = card(mid_source=mids)
    c.apply(placed("B1", "ATLX", 100, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 100, "100.01"), T0)
    assert c.next_markout_at() is None


def test_replayed_fills_get_no_markout_and_live_ones_do_after_finish_recovery() -> None:
    mids = Mids("100.005")
    c = card()  # replaying: no mid source
    c.apply(placed("B1", "ATLX", 200, ioc=True), T0)
    c.apply(fill("B1", "ATLX", 100, "100.01", exec_id="E1"), T0)
    c.finish_recovery(mids)
    assert c.next_markout_at() is None and c.take_markouts(T0 + 100, mids) == []
    c.apply(fill("B1", "ATLX", 100, "100.01", exec_id="E2"), T0 + 200)
    assert c.next_markout_at() == pytest.approx(T0 + 201)
    assert len(c.take_markouts(T0 + 260, mids)) == 1


# ---- robustness: unknown children, duplicates, bounded memory -------------------------------------


def test_events_about_unknown_children_and_duplicates_change_nothing() -> None:
    c = card()
    c.apply(fill("X", "ATLX", 100), T0)  # placed before the journal began
    c.apply(ChildCanceled("P1", "X", "ATLX"), T0)
    c.apply(ChildAcknowledged("P1", "X", "ATLX"), T0)
    c.apply(ChildCancelRejected("P1", "X", "ATLX"), T0)
    c.apply(KillSwitchChanged(True, "not the scorecard's"), T0)
    assert c.rows() == []
    c.apply(placed("C1", "UMBRA", 500, peg=True), T0)
    c.apply(placed("C1", "UMBRA", 500, peg=True), T0)  # duplicate
    c.apply(fill("C1", "UMBRA", 200, exec_id="E1"), T0 + 1)
    c.apply(fill("C1", "UMBRA", 200, exec_id="E1"), T0 + 1)  # duplicate execution
    c.apply(ChildCanceled("P1", "C1", "UMBRA", leaves_qty=300), T0 + 2)
    c.apply(ChildCanceled("P1", "C1", "UMBRA", leaves_qty=300), T0 + 2)  # duplicate end
    [row] = c.rows()
    assert row["orders"] == 1.0 and row["mean_fill_size"] == 200.0
    # one uncensored observation at 200: P(L >= x) = 1 up to 200, 0 beyond
    assert c.expected_fill("UMBRA", "ACME", OrderKind.MIDPOINT, 500) == pytest.approx(200.0)


def test_only_open_children_are_remembered() -> None:
    c = card()
    for i in range(50):
        c.apply(placed(f"C{i}", "ATLX", 100), T0 + i)
        c.apply(fill(f"C{i}", "ATLX", 100), T0 + i + 0.5)
    c.apply(placed("OPEN", "ATLX", 100), T0 + 60)
    assert c.open_children == 1


# ---- the rebuild --------------------------------------------------------------------------------


def simulated_day(seed: int) -> tuple[list[tuple[float, Event]], Scorecard]:
    """A live scorecard fed random child lives on three kinds; the journal it would leave (markouts included)."""
    rng = random.Random(seed)
    mid = {"v": Decimal("100.000")}
    live = card(half_life=600.0, prior_weight=4.0, mid_source=lambda s: mid["v"])
    journal: list[tuple[float, Event]] = []

    def record(event: Event, at: float) -> None:
        journal.append((at, event))
        live.apply(event, at)

    now = T0
    for i in range(150):
        now += rng.uniform(0.1, 5.0)
        mid["v"] += Decimal(rng.choice((-1, 0, 1))) * Decimal("0.005")
        for m in live.take_markouts(now, lambda s: mid["v"]):
            record(m, now)
        venue, peg, ioc = rng.choice((("ATLX", False, True), ("ATLX", False, False), ("UMBRA", True, False),
                                      ("UMBRA", True, True)))
        side = rng.choice((Side.BUY, Side.SELL))
        qty = rng.choice((100, 300, 500, 1000))
        child = f"C{i}"
        record(placed(child, venue, qty, side=side, ioc=ioc, peg=peg, mid=mid["v"]), now)
        if rng.random() < 0.05:
            record(ChildRejected("P1", child, venue, text="no"), now + 0.002)
            continue
        record(ChildAcknowledged("P1", child, venue), now + rng.uniform(0.001, 0.01))
        filled = rng.choice((0, qty // 2, qty))
        if filled:
            record(fill(child, venue, filled, str(mid["v"] + Decimal("0.005") * side.sign),
                        fee=Decimal("0.1") if rng.random() < 0.5 else None), now + 0.05)
        if filled < qty:
            record(ChildCancelRequested("P1", child, venue, rng.choice(("done", PLACEMENT_CANCEL_REASON))), now + 0.06)
            if rng.random() < 0.1:
                record(ChildCancelRejected("P1", child, venue), now + 0.07)
            record(ChildCanceled("P1", child, venue, leaves_qty=qty - filled), now + 0.08)
    return journal, live


def test_a_scorecard_rebuilt_from_the_journal_equals_the_live_one() -> None:
    journal, live = simulated_day(seed=15)
    assert any(isinstance(e, VenueMarkout) for _, e in journal)
    rebuilt = card(half_life=600.0, prior_weight=4.0)
    for at, event in journal:
        rebuilt.apply(event, at)
    rebuilt.finish_recovery()
    assert rebuilt.rows() == live.rows() and len(live.rows()) == 4
    for venue, kind in (("ATLX", OrderKind.IOC), ("ATLX", OrderKind.PASSIVE), ("UMBRA", OrderKind.MIDPOINT),
                        ("UMBRA", OrderKind.MIDPOINT_IOC)):
        assert rebuilt.cost_per_share(venue, "ACME", kind) == live.cost_per_share(venue, "ACME", kind)
        assert rebuilt.price_improvement(venue, "ACME", kind) == live.price_improvement(venue, "ACME", kind)
        assert rebuilt.expected_fill(venue, "ACME", kind, 700) == live.expected_fill(venue, "ACME", kind, 700)
    assert rebuilt.latency_ms("ATLX") == live.latency_ms("ATLX")
    assert json.loads(json.dumps(live.rows())) == live.rows()  # JSON-ready


# ---- settings ----------------------------------------------------------------------------------


def test_settings_from_a_scorecard_table() -> None:
    s = ScorecardSettings.from_mapping({"half_life_s": 600, "markout_horizons_s": [2, 20, 120], "prior_ioc": 0.8,
                                        "prior_weight": 0})
    assert (s.half_life_s, s.markout_horizons_s, s.priors.ioc, s.priors.passive, s.prior_weight) == (
        600.0, (2.0, 20.0, 120.0), 0.8, 0.5, 0.0)
    assert s.cost_horizon_s == 20.0
    assert ScorecardSettings.from_mapping({}) == ScorecardSettings()


@pytest.mark.parametrize(("table", "named"), [
    ({"half_life": 60}, "half_life"),
    ({"half_life_s": 0}, "half_life_s"),
    ({"half_life_s": "long"}, "half_life_s"),
    ({"markout_horizons_s": [10, 1]}, "markout_horizons_s"),
    ({"markout_horizons_s": []}, "markout_horizons_s"),
    ({"prior_midpoint": 1.5}, "prior_midpoint"),
    ({"prior_passive": True}, "prior_passive"),
    ({"prior_weight": -1}, "prior_weight"),
])
def test_bad_scorecard_settings_are_refused_by_name(table: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        ScorecardSettings.from_mapping(table)


# ---- the operator's view -------------------------------------------------------------------------


def test_render_is_a_fixed_width_table_with_a_dash_for_what_is_not_measured() -> None:
    c = card()
    c.apply(placed("C1", "ATLX", 100, ioc=True), T0)
    c.apply(fill("C1", "ATLX", 100, "100.01"), T0 + 0.1)
    c.apply(placed("D1", "UMBRA", 500, peg=True), T0)
    c.apply(ChildCanceled("P1", "D1", "UMBRA", leaves_qty=500), T0 + 5)
    lines = render(c.rows()).splitlines()
    assert len(lines) == 3
    assert lines[0].split()[:5] == ["venue", "symbol", "kind", "orders", "fill_p"]
    assert "mo_10s" in lines[0] and "cost/sh" in lines[0]
    assert lines[1].split()[:3] == ["ATLX", "ACME", "ioc"] and lines[2].split()[:3] == ["UMBRA", "ACME", "midpoint"]
    assert len({len(line) for line in lines[:1]}) == 1 and "-" in lines[2].split()  # UMBRA: no fill size
    assert render([]) == "scorecard: no child orders seen yet"


class FakeOperator:
    def __init__(self, rows: list[dict[str, object]] | None) -> None:
        self.rows = rows
        self.sessions = frozenset({"OMS1"})

    def scorecard_rows(self) -> list[dict[str, object]] | None:
        return self.rows


def test_ctl_scorecard_prints_the_table_or_its_json() -> None:
    c = card()
    c.apply(placed("C1", "ATLX", 100, ioc=True), T0)
    c.apply(fill("C1", "ATLX", 100, "100.01"), T0 + 0.1)
    commands = Commands(FakeOperator(c.rows()))  # type: ignore[arg-type]
    assert commands.handle("scorecard") == render(c.rows())
    assert json.loads(commands.handle("scorecard json")) == c.rows()
    assert json.loads(commands.handle("scorecard --json")) == c.rows()
    assert commands.handle("scorecard loud").startswith("error: unknown command")
    assert Commands(FakeOperator(None)).handle("scorecard").startswith("error: no scorecard")  # type: ignore[arg-type]
