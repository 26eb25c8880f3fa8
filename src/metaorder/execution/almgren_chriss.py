"""Almgren–Chriss (2000) optimal execution: the discrete closed-form trajectory and its cost.

Pure math on floats.  These are *model estimates* (an expected cost and its standard deviation under
a linear impact model), not amounts anyone is charged, so ``float`` is the right type here; exact
money stays ``Decimal`` elsewhere.

Model (GUIDE §6, Almgren & Chriss, "Optimal execution of portfolio transactions", J. Risk 2000):
liquidate (or acquire — the maths is symmetric) ``X`` shares over ``T`` time units in ``N`` periods of
``τ = T/N``.  Holdings ``x_0 = X, …, x_N = 0``, trades ``n_k = x_{k-1} − x_k``.  The price moves by
arithmetic Brownian motion of volatility ``σ`` ($/share/√unit), plus permanent impact ``γ·n_k``
($/share per share traded) and a temporary per-share cost ``ε·sgn(n_k) + η·n_k/τ``.  Then

    E[cost]   = ½γX² + ε·Σ|n_k| + (η̃/τ)·Σ n_k²,            η̃ = η − γτ/2
    Var[cost] = σ²·Σ_{k=1..N} τ·x_k²

and the minimiser of ``E + λ·Var`` is ``x_j = X·sinh(κ(T − t_j))/sinh(κT)`` with ``t_j = jτ`` and
``(2/τ²)(cosh κτ − 1) = λσ²/η̃``.  ``λ = 0`` gives ``κ = 0`` and the linear (TWAP) trajectory; a
larger ``λ`` front-loads the trades, lowering the variance and raising ``E``.  The half-life of the
trade is ``1/κ``.  ``η̃ ≤ 0`` makes the problem ill-posed (trading faster would *lower* the cost), so
it is refused.

Numerics.  ``sinh(κT)`` overflows for large ``κT`` (an impatient trader on a long horizon), so the
ratio is evaluated as ``exp(−κt)·(1 − e^{−2κ(T−t)})/(1 − e^{−2κT})`` with ``expm1``, which is exact
in the limit ``κ → 0`` too; ``κ`` itself uses ``acosh(1+z) = log1p(z + √(z(z+2)))`` so a tiny
``λ`` does not lose its digits to the ``1 +``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AcParameters:
    """The linear impact model, in one consistent time unit (the caller's choice: seconds, days...)."""

    sigma: float  # price volatility, $/share per sqrt(time unit)
    eta: float  # temporary impact, $·(time unit)/share²  (cost per share = eta × shares per time unit)
    gamma: float  # permanent impact, $/share²  (price moves gamma per share traded)
    epsilon: float  # fixed cost per share, $/share (half the spread + fees)

    def eta_tilde(self, tau: float) -> float:
        """η̃ = η − γτ/2: the temporary impact net of the permanent impact's own-period share (GUIDE §6)."""
        return self.eta - self.gamma * tau / 2.0


def solve_kappa(params: AcParameters, tau: float, risk_aversion: float) -> float:
    """κ from (2/τ²)(cosh κτ − 1) = λσ²/η̃, per time unit.  Raises ValueError when η̃ ≤ 0."""
    if not tau > 0:
        raise ValueError(f"period length tau must be > 0, not {tau}")
    if risk_aversion < 0:
        raise ValueError(f"risk aversion must be >= 0, not {risk_aversion}")
    eta_t = params.eta_tilde(tau)
    if not eta_t > 0:
        raise ValueError(
            f"eta - gamma*tau/2 = {eta_t:g} <= 0: temporary impact eta={params.eta:g} too small for "
            f"permanent impact gamma={params.gamma:g} at period length tau={tau:g} (use more periods or a larger eta)"
        )
    z = risk_aversion * params.sigma * params.sigma * tau * tau / (2.0 * eta_t)
    if z <= 0:
        return 0.0
    # acosh(1 + z) = 2·asinh(sqrt(z/2)): accurate for tiny z, and finite for any finite z (z(z + 2)
    # would overflow for a huge risk aversion).
    return 2.0 * math.asinh(math.sqrt(z / 2.0)) / tau


def holdings_fraction(kappa: float, horizon: float, t: float) -> float:
    """sinh(κ(T−t))/sinh(κT), overflow-free; (T−t)/T when κ = 0.  ``t`` is clamped to [0, T]."""
    t = min(max(t, 0.0), horizon)
    rest = horizon - t
    if t <= 0.0:
        return 1.0  # exp(-κ·0) is 1 even where κ overflowed to infinity
    if kappa <= 0 or kappa * horizon < 1e-12:
        return rest / horizon
    num = -math.expm1(-2.0 * kappa * rest)
    den = -math.expm1(-2.0 * kappa * horizon)
    return math.exp(-kappa * t) * num / den


@dataclass(frozen=True, slots=True)
class AcPlan:
    """The optimal trajectory for one (X, T, N, parameters, λ), with its expected cost and variance."""

    qty: float
    horizon: float
    periods: int
    risk_aversion: float
    kappa: float  # per time unit
    tau: float  # period length, time units
    holdings: tuple[float, ...]  # N+1 values, qty .. 0
    trades: tuple[float, ...]  # N values, n_k = x_{k-1} - x_k
    expected_cost: float  # $
    variance: float  # $²

    @property
    def std_cost(self) -> float:
        return math.sqrt(self.variance)

    @property
    def half_life(self) -> float:
        """1/κ in time units; infinite for the risk-neutral (TWAP) plan."""
        return math.inf if self.kappa == 0 else 1.0 / self.kappa

    @property
    def objective(self) -> float:
        """E + λ·Var: what the trajectory minimises."""
        return self.expected_cost + self.risk_aversion * self.variance

    def holdings_at(self, t: float) -> float:
        """The continuous trajectory X·sinh(κ(T−t))/sinh(κT) (linear when κ = 0), t from the start."""
        return self.qty * holdings_fraction(self.kappa, self.horizon, t)

    def bps(self, amount: float, price: float) -> float:
        """``amount`` in basis points of the notional qty × price (cost convention: positive is bad)."""
        notional = abs(self.qty) * price
        if not notional > 0:
            raise ValueError("bps needs a positive price and quantity")
        return amount / notional * 1e4

    def expected_cost_bps(self, price: float) -> float:
        return self.bps(self.expected_cost, price)

    def std_cost_bps(self, price: float) -> float:
        return self.bps(self.std_cost, price)


def expected_cost(qty: float, trades: tuple[float, ...] | list[float], tau: float, params: AcParameters) -> float:
    """E = ½γX² + εΣ|n_k| + (η̃/τ)Σn_k² for any trajectory (GUIDE §6)."""
    eta_t = params.eta_tilde(tau)
    return (
        0.5 * params.gamma * qty * qty
        + params.epsilon * sum(abs(n) for n in trades)
        + eta_t / tau * sum(n * n for n in trades)
    )


def variance(holdings: tuple[float, ...] | list[float], tau: float, params: AcParameters) -> float:
    """Var = σ²Σ_{k=1..N} τ·x_k² for any trajectory (GUIDE §6); x_0 carries no risk (nothing has moved yet)."""
    return params.sigma * params.sigma * tau * sum(x * x for x in holdings[1:])


def plan(qty: float, horizon: float, periods: int, params: AcParameters, risk_aversion: float) -> AcPlan:
    """The Almgren–Chriss optimal trajectory for ``qty`` shares over ``horizon`` in ``periods`` slices.

    ``qty`` is a size (>= 0); the side does not change the maths.  Raises ValueError on a
    non-positive horizon, fewer than one period, negative λ or parameters, or η̃ ≤ 0.
    """
    if not horizon > 0 or not math.isfinite(horizon):
        raise ValueError(f"horizon must be > 0, not {horizon}")
    if periods < 1:
        raise ValueError(f"periods must be >= 1, not {periods}")
    if qty < 0 or not math.isfinite(qty):
        raise ValueError(f"qty must be >= 0, not {qty}")
    for name in ("sigma", "eta", "gamma", "epsilon"):
        value = getattr(params, name)
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number >= 0, not {value}")
    tau = horizon / periods
    kappa = solve_kappa(params, tau, risk_aversion)
    if kappa == 0:
        xs = [qty * (periods - j) / periods for j in range(periods + 1)]  # TWAP, no time rounding
    else:
        xs = [qty * holdings_fraction(kappa, horizon, j * tau) for j in range(periods + 1)]
    xs[0] = qty  # exactly, whatever the rounding: the trades must add up to qty
    xs[-1] = 0.0
    holdings = tuple(xs)
    trades = tuple(holdings[k - 1] - holdings[k] for k in range(1, periods + 1))
    return AcPlan(
        qty=qty,
        horizon=horizon,
        periods=periods,
        risk_aversion=risk_aversion,
        kappa=kappa,
        tau=tau,
        holdings=holdings,
        trades=trades,
        expected_cost=expected_cost(qty, trades, tau, params),
        variance=variance(holdings, tau, params),
    )
