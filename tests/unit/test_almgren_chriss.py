"""The Almgren–Chriss closed form against independent computations (GUIDE §6)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.almgren_chriss import AcParameters, expected_cost, plan, solve_kappa, variance

# Almgren & Chriss (2000), §2 numerical example: X = 10^6 shares, S0 = $50, 30 % annual volatility
# (σ = 0.95 $/share/√day), spread 1/8 (ε = 0.0625), 5M shares daily volume (γ = 2.5e-7 $/share²,
# η = 2.5e-6 $·day/share²), T = 5 days in N = 5 periods.  Time unit: one day.
PAPER = AcParameters(sigma=0.95, eta=2.5e-6, gamma=2.5e-7, epsilon=0.0625)


def brute_force_kappa(params: AcParameters, tau: float, lam: float) -> float:
    """Solve (2/τ²)(cosh κτ − 1) = λσ²/η̃ by bisection (independent of the closed form's acosh).

    cosh x − 1 is written 2·sinh²(x/2) so that small κτ keeps its digits.
    """
    target = lam * params.sigma**2 / (params.eta - params.gamma * tau / 2)

    def lhs(k: float) -> float:
        return 4 / tau**2 * math.sinh(k * tau / 2) ** 2

    lo, hi = 0.0, 1.0
    while lhs(hi) < target:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if lhs(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def test_risk_neutral_paper_example_is_twap_with_its_hand_computed_cost() -> None:
    p = plan(1e6, 5.0, 5, PAPER, 0.0)
    assert p.kappa == 0.0
    assert p.holdings == (1e6, 8e5, 6e5, 4e5, 2e5, 0.0)
    assert p.trades == (2e5,) * 5
    # ½γX² + εX + (η − γτ/2)/τ · 5·(2e5)² = 125,000 + 62,500 + 475,000
    assert p.expected_cost == pytest.approx(662_500.0)
    # σ²τ(0.8² + 0.6² + 0.4² + 0.2²)X² = 0.9025 · 1.2e12
    assert p.variance == pytest.approx(0.9025 * 1.2e12)
    assert p.half_life == math.inf


def test_paper_example_with_risk_aversion_1e_6_has_kappa_0_607_per_day() -> None:
    p = plan(1e6, 5.0, 5, PAPER, 1e-6)
    # κ̃² = λσ²/η̃ = 1e-6·0.9025/2.375e-6 = 0.38; cosh κ = 1.19 → κ = acosh(1.19) ≈ 0.6071 per day
    assert p.kappa == pytest.approx(math.acosh(1.19), rel=1e-12)
    assert p.kappa == pytest.approx(0.6071, abs=1e-4)
    assert p.half_life == pytest.approx(1.647, abs=1e-3)
    assert p.holdings[1] == pytest.approx(1e6 * math.sinh(4 * p.kappa) / math.sinh(5 * p.kappa))


@given(
    lam=st.floats(1e-9, 1e-3),
    periods=st.integers(1, 60),
    horizon=st.floats(0.5, 50.0),
)
def test_kappa_solves_the_discrete_equation(lam: float, periods: int, horizon: float) -> None:
    tau = min(horizon / periods, 10.0)  # the paper's η̃ is positive for τ < 20 days
    assert solve_kappa(PAPER, tau, lam) == pytest.approx(brute_force_kappa(PAPER, tau, lam), rel=1e-9, abs=1e-12)


@given(lam=st.floats(0.0, 1e-4), periods=st.integers(1, 200), qty=st.floats(1.0, 1e7))
def test_holdings_start_at_x_end_at_zero_and_trades_add_up(lam: float, periods: int, qty: float) -> None:
    p = plan(qty, 5.0, periods, PAPER, lam)
    assert len(p.holdings) == periods + 1 and len(p.trades) == periods
    assert p.holdings[0] == qty and p.holdings[-1] == 0.0
    assert sum(p.trades) == pytest.approx(qty, rel=1e-12)
    assert all(n >= 0 for n in p.trades)  # a liquidation never buys back
    assert all(a >= b for a, b in itertools.pairwise(p.holdings))


def test_cost_and_variance_equal_the_direct_sums() -> None:
    p = plan(1e6, 5.0, 5, PAPER, 2e-6)
    e = 0.5 * PAPER.gamma * 1e12
    for n in p.trades:
        e += PAPER.epsilon * n + (PAPER.eta - PAPER.gamma / 2) * n * n
    v = sum(PAPER.sigma**2 * x * x for x in p.holdings[1:])
    assert p.expected_cost == pytest.approx(e, rel=1e-12)
    assert p.variance == pytest.approx(v, rel=1e-12)
    assert p.std_cost == pytest.approx(math.sqrt(v))
    assert p.objective == pytest.approx(e + 2e-6 * v)


def test_higher_risk_aversion_front_loads_lowers_variance_and_raises_cost() -> None:
    plans = [plan(1e6, 5.0, 5, PAPER, lam) for lam in (0.0, 1e-7, 1e-6, 1e-5)]
    for slow, fast in itertools.pairwise(plans):
        assert fast.kappa > slow.kappa
        assert fast.trades[0] > slow.trades[0]
        assert all(f <= s + 1e-6 for f, s in zip(fast.holdings, slow.holdings, strict=True))
        assert fast.variance < slow.variance
        assert fast.expected_cost > slow.expected_cost


@settings(max_examples=200)
@given(
    lam=st.floats(1e-8, 1e-5),
    periods=st.integers(2, 20),
    bumps=st.lists(st.floats(-0.05, 0.05), min_size=19, max_size=19),
)
def test_the_trajectory_minimises_e_plus_lambda_var_against_perturbations(
    lam: float, periods: int, bumps: list[float]
) -> None:
    qty = 1e6
    p = plan(qty, 5.0, periods, PAPER, lam)
    tau = p.tau
    # Move the interior holdings by up to ±5 % of X, keeping x_0 = X, x_N = 0 and monotone (so Σ|n| = X).
    xs = [p.holdings[0]] + [x + b * qty for x, b in zip(p.holdings[1:-1], bumps[: periods - 1], strict=True)] + [0.0]
    xs = [xs[0]] + [min(max(x, 0.0), qty) for x in xs[1:-1]] + [0.0]
    for i in range(1, len(xs)):
        xs[i] = min(xs[i], xs[i - 1])
    trades = [a - b for a, b in itertools.pairwise(xs)]
    perturbed = expected_cost(qty, trades, tau, PAPER) + lam * variance(xs, tau, PAPER)
    assert p.objective <= perturbed * (1 + 1e-12)


def test_fine_grid_tends_to_the_continuous_time_cost() -> None:
    # Continuous limit (τ → 0, ε = 0, γ = 0): E = η∫ẋ² dt and Var = σ²∫x² dt
    # with x(t) = X sinh(κ(T−t))/sinh(κT), κ = √(λσ²/η).
    params = AcParameters(sigma=0.95, eta=2.5e-6, gamma=0.0, epsilon=0.0)
    lam, qty, horizon = 1e-6, 1e6, 5.0
    k = math.sqrt(lam * params.sigma**2 / params.eta)
    s = math.sinh(k * horizon)
    # ∫₀ᵀ cosh² = (T/2 + sinh(2kT)/(4k)); ∫₀ᵀ sinh² = (sinh(2kT)/(4k) − T/2)
    e_cont = params.eta * (qty * k / s) ** 2 * (horizon / 2 + math.sinh(2 * k * horizon) / (4 * k))
    v_cont = params.sigma**2 * (qty / s) ** 2 * (math.sinh(2 * k * horizon) / (4 * k) - horizon / 2)
    p = plan(qty, horizon, 4000, params, lam)
    assert p.kappa == pytest.approx(k, rel=1e-6)
    assert p.expected_cost == pytest.approx(e_cont, rel=1e-3)
    assert p.variance == pytest.approx(v_cont, rel=1e-3)
    kd = p.kappa  # the discrete κ, within 1e-6 of k
    assert p.holdings_at(2.0) == pytest.approx(qty * math.sinh(kd * 3.0) / math.sinh(kd * horizon), rel=1e-12)


def test_large_kappa_t_does_not_overflow() -> None:
    # κT ≈ 64,000: sinh(κT) would overflow a float.
    p = plan(1e6, 5000.0, 5000, PAPER, 1.0)
    assert math.isfinite(p.expected_cost) and math.isfinite(p.variance)
    assert p.holdings[0] == 1e6 and p.holdings[-1] == 0.0
    assert p.trades[0] > 0.99e6
    assert p.holdings_at(2500.0) == 0.0


def test_tiny_risk_aversion_is_twap_to_rounding() -> None:
    p = plan(1e6, 5.0, 5, PAPER, 1e-30)
    assert p.holdings == pytest.approx((1e6, 8e5, 6e5, 4e5, 2e5, 0.0), rel=1e-12)


def test_holdings_at_is_linear_for_twap_and_clamped() -> None:
    p = plan(1000.0, 10.0, 4, PAPER, 0.0)
    assert p.holdings_at(2.5) == pytest.approx(750.0)
    assert p.holdings_at(-1.0) == 1000.0 and p.holdings_at(11.0) == 0.0


def test_bps_are_of_the_notional() -> None:
    p = plan(1e6, 5.0, 5, PAPER, 0.0)
    assert p.expected_cost_bps(50.0) == pytest.approx(662_500 / 50e6 * 1e4)
    assert p.std_cost_bps(50.0) == pytest.approx(math.sqrt(0.9025 * 1.2e12) / 50e6 * 1e4)


def test_non_positive_eta_tilde_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match=r"eta - gamma\*tau/2"):
        plan(1e6, 5.0, 1, AcParameters(sigma=0.95, eta=1e-7, gamma=2.5e-7, epsilon=0.0), 1e-6)


@pytest.mark.parametrize(
    "qty,horizon,periods,lam",
    [(-1.0, 5.0, 5, 0.0), (1.0, 0.0, 5, 0.0), (1.0, 5.0, 0, 0.0), (1.0, 5.0, 5, -1e-6)],
)
def test_bad_arguments_are_refused(qty: float, horizon: float, periods: int, lam: float) -> None:
    with pytest.raises(ValueError):
        plan(qty, horizon, periods, PAPER, lam)


def test_negative_model_parameter_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="sigma"):
        plan(1.0, 5.0, 5, AcParameters(sigma=-1.0, eta=1e-6, gamma=0.0, epsilon=0.0), 0.0)


def test_a_huge_risk_aversion_gives_a_finite_kappa_and_everything_at_once() -> None:
    """κ = 2·asinh(sqrt(z/2))/τ stays finite where acosh(1 + z) through z(z + 2) overflowed."""
    params = AcParameters(sigma=0.02, eta=0.05, gamma=0.0, epsilon=0.01)
    p = plan(10_000.0, 600.0, 10, params, 1e300)
    assert math.isfinite(p.kappa) and p.kappa > 0
    assert p.holdings[0] == 10_000.0 and p.holdings[-1] == 0.0
    assert p.trades[0] > 9_999.0  # essentially all in the first period
    assert math.isfinite(p.expected_cost) and math.isfinite(p.std_cost)
