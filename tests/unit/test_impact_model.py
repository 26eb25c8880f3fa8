"""Per-instrument cost model: the documented prior figures, market data pulling them, overrides winning."""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from metaorder.execution.impact_model import (
    DEFAULT_DAILY_VOLATILITY,
    DEFAULT_DAILY_VOLUME,
    IMPACT_Y,
    InstrumentModels,
    InstrumentPrior,
)

ACME = InstrumentPrior("ACME", Decimal("142.50"), Decimal("0.01"), daily_volatility=0.02, daily_volume=6_000_000)
BARE = InstrumentPrior("BARE", Decimal("10"), Decimal("0.01"))
S = 23_400.0
T0 = 1_700_000_000.0


def models(**kwargs: object) -> InstrumentModels:
    return InstrumentModels({"ACME": ACME, "BARE": BARE}, **kwargs)  # type: ignore[arg-type]


def test_priors_alone_give_the_documented_figures() -> None:
    p = models().parameters("ACME", T0)
    assert p.sigma == pytest.approx(0.02 * 142.5 / math.sqrt(S))
    assert p.eta == pytest.approx(IMPACT_Y * 0.02 * 142.5 * S / 6_000_000)  # Y·σ_d·P·S/ADV
    assert p.gamma == pytest.approx(0.314 * 0.02 * 142.5 / 6_000_000)
    assert p.epsilon == pytest.approx(0.01 / 2 + 0.003)  # half of one tick + the fee


def test_eta_makes_1pct_of_adv_at_10pct_participation_cost_the_square_root_law() -> None:
    p = models().parameters("ACME", T0)
    rate = 0.10 * 6_000_000 / S  # shares per second
    assert p.eta * rate == pytest.approx(IMPACT_Y * 0.02 * 142.5 * math.sqrt(0.01))


def test_missing_priors_fall_back_to_documented_defaults_and_say_so() -> None:
    m = models()
    p = m.parameters("BARE", T0)
    assert p.sigma == pytest.approx(DEFAULT_DAILY_VOLATILITY * 10 / math.sqrt(S))
    assert p.gamma == pytest.approx(0.314 * DEFAULT_DAILY_VOLATILITY * 10 / DEFAULT_DAILY_VOLUME)
    d = m.describe("BARE", T0)
    assert d["daily_volatility_source"] == "default" and d["daily_volume_source"] == "default"
    assert d["time_unit"] == "second"


def feed_random_walk(m: InstrumentModels, daily_vol: float, seconds: int, spread: Decimal, start: float) -> float:
    """Quotes every second, the mid a log random walk of ``daily_vol``; returns the end time."""
    rng = random.Random(42)
    step = daily_vol / math.sqrt(S)
    mid = 142.5
    for i in range(seconds):
        mid *= math.exp(step * rng.gauss(0.0, 1.0))
        m.observe_quote("ACME", Decimal(f"{mid:.4f}") - spread / 2, Decimal(f"{mid:.4f}") + spread / 2, start + i)
    return start + seconds


def test_observed_returns_pull_sigma_toward_the_observed_volatility() -> None:
    m = models()
    prior = m.parameters("ACME", T0).sigma
    end = feed_random_walk(m, 0.06, 1800, Decimal("0.02"), T0)
    half_way = m.parameters("ACME", end).sigma
    end = feed_random_walk(m, 0.06, 4 * 3600, Decimal("0.02"), end)
    later = m.parameters("ACME", end).sigma
    target = 0.06 * 142.5 / math.sqrt(S)
    assert prior < half_way < later
    assert later == pytest.approx(target, rel=0.15)
    assert "observed" in str(m.describe("ACME", end)["sigma_source"])


def test_observed_spread_pulls_epsilon_toward_half_of_it() -> None:
    m = models()
    end = feed_random_walk(m, 0.02, 4 * 3600, Decimal("0.10"), T0)
    eps = m.parameters("ACME", end).epsilon
    assert eps == pytest.approx(0.05 + 0.003, rel=0.05)


def test_observed_prints_pull_daily_volume_and_so_eta() -> None:
    m = models()
    before = m.parameters("ACME", T0)
    # 12M shares a day: twice the prior, as 100-share prints
    per_second = 12_000_000 / S
    t = T0
    for _ in range(100_000):  # 5.4 hours: the prior's weight is 2^-10.8 of the window
        m.observe_trade("ACME", Decimal("142.50"), 100, t)
        t += 100 / per_second
    after = m.parameters("ACME", t)
    d = m.describe("ACME", t)
    assert d["daily_volume"] == pytest.approx(12_000_000, rel=0.05)
    assert after.eta == pytest.approx(before.eta / 2, rel=0.05)
    assert after.gamma == pytest.approx(before.gamma / 2, rel=0.05)


def test_stale_observations_fade_back_to_the_prior() -> None:
    m = models()
    end = feed_random_walk(m, 0.06, 3600, Decimal("0.10"), T0)
    prior = models().parameters("ACME", T0)
    fresh = m.parameters("ACME", end)
    stale = m.parameters("ACME", end + 10 * 86_400)
    assert abs(stale.sigma - prior.sigma) < abs(fresh.sigma - prior.sigma) / 10


def test_crossed_quotes_and_unknown_symbols_are_ignored() -> None:
    m = models()
    m.observe_quote("ACME", Decimal("143"), Decimal("142"), T0)
    m.observe_quote("NOPE", Decimal("1"), Decimal("2"), T0)
    m.observe_trade("NOPE", Decimal("1"), 100, T0)
    assert m.parameters("ACME", T0 + 10) == models().parameters("ACME", T0 + 10)


def test_overrides_win_over_priors_and_observations() -> None:
    m = models(overrides={"ACME": {"sigma": 0.5, "eta": 1e-3}})
    plain = models()
    for each in (m, plain):
        feed_random_walk(each, 0.06, 600, Decimal("0.10"), T0)
    p = m.parameters("ACME", T0 + 600)
    assert p.sigma == 0.5 and p.eta == 1e-3
    assert m.describe("ACME", T0 + 600)["eta_source"] == "override (configuration)"
    estimated = plain.parameters("ACME", T0 + 600)  # the rest still estimated, as without overrides
    assert (p.gamma, p.epsilon) == (estimated.gamma, estimated.epsilon)


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"ACME": {"kappa": 1.0}}, "ACME.kappa"),
        ({"ACME": {"eta": -1.0}}, "ACME.eta"),
        ({"ZZZ": {"eta": 1.0}}, "ZZZ"),
    ],
)
def test_bad_overrides_are_refused_by_name(overrides: dict[str, dict[str, float]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        models(overrides=overrides)


def test_unknown_symbol_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="NOPE"):
        models().parameters("NOPE", T0)


# ---- the order's own linearisation -------------------------------------------------------------


def test_memory_factor_is_two_thirds_without_memory_and_falls_with_it() -> None:
    from metaorder.execution.impact_model import memory_factor, pace_factor

    assert memory_factor(0.0) == pytest.approx(2 / 3, rel=1e-9)
    assert memory_factor(0.5) < memory_factor(0.1) < 2 / 3
    assert pace_factor(0.0) == 0.0
    assert pace_factor(0.01) == pytest.approx(0.01 / 10, rel=0.02)  # g ≈ 2/3 − b/10 for small b


def test_order_twap_cost_is_the_square_root_law_with_memory_plus_placement() -> None:
    from metaorder.execution.almgren_chriss import plan
    from metaorder.execution.impact_model import memory_factor

    m = models()
    qty, horizon, periods = 60_000.0, 1800.0, 60
    p = m.order_parameters("ACME", T0, qty, horizon, periods, "AGGRESSIVE")
    twap = plan(qty, horizon, periods, p, 0.0)
    k = IMPACT_Y * 0.02 * 142.5 / math.sqrt(6_000_000)
    impact = k * qty**1.5 * memory_factor(math.log(2) * horizon / 3600.0)
    book = (horizon / periods) * 0.01 / (2 * 0.0008 * 6_000_000) * qty**2 / horizon
    assert p.gamma == 0.0
    assert twap.expected_cost == pytest.approx(impact + book + qty * (0.005 + 0.003), rel=1e-6)


def test_placement_cost_falls_with_the_passive_share() -> None:
    m = models()
    eps = {a: m.order_parameters("ACME", T0, 10_000, 600, 20, a).epsilon for a in ("AGGRESSIVE", "NEUTRAL", "PASSIVE")}
    assert eps["AGGRESSIVE"] > eps["NEUTRAL"] > eps["PASSIVE"]
    assert eps["AGGRESSIVE"] - eps["NEUTRAL"] == pytest.approx(0.3 * (0.01 + 0.003 + 0.002))
    with pytest.raises(ValueError, match="aggressiveness"):
        m.order_parameters("ACME", T0, 10_000, 600, 20, "SLOW")


def test_order_parameters_keep_the_model_well_posed_on_short_windows() -> None:
    from metaorder.execution.almgren_chriss import plan

    p = models().order_parameters("ACME", T0, 5_000, 60, 5)
    assert p.eta_tilde(12.0) > 0
    assert plan(5_000, 60, 5, p, 1e-5).kappa > 0
