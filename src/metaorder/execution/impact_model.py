"""Per-instrument Almgren–Chriss parameters (σ, η, γ, ε) from priors, market data and configuration.

Why: the IS strategy and ``metaorder estimate`` need the linear cost model of GUIDE §6 for each
instrument, in one time unit — **seconds** here.  The figures are model estimates, so floats; the
priors (reference price, tick, fee) stay ``Decimal`` as configured.

Every parameter has a source, reported by :meth:`InstrumentModels.describe`, in this order of
precedence: ``override`` (configuration) > ``observed`` (market data blended with the prior) >
``prior`` (the instrument's configuration) > ``default`` (the constants below).

Estimators (P the price: the last observed mid, else the reference price; S = ``session_seconds``):

* **σ, $/share/√s.**  The mid is sampled at the first quote at least ``sample_interval_s`` after the
  previous sample; each sample gives a log return r over Δt, an unbiased estimate r²/Δt of the
  variance per second under Brownian motion (RiskMetrics-style EWMA of squared returns, J.P. Morgan
  1996, weighted by time).  Observed variance and the prior variance (daily_volatility²/S; default
  ``DEFAULT_DAILY_VOLATILITY``) are blended as ``(A + v₀·R)/(B + R)`` where A and B are the
  exponentially decayed sums (half-life ``half_life_s``) of r² and Δt, and R = max(W − B, 0) with
  W = half_life/ln 2 the weight of a fully observed window: the prior counts for the part of the
  window not yet observed, so it fades as quotes come in
  (and comes back as they grow stale: after a long silence the estimates return to the prior).
  σ = √var · P.  Sampling every few seconds picks up some bid-ask bounce of the mid; it biases σ
  up, on the prudent side.
* **ε, $/share** = half the time-weighted EWMA of the quoted spread (each spread weighted by how long
  it stood, blended with a prior of one tick the same way) + ``fee_per_share`` (the taker fee).
* **Daily volume** = trade prints' rate (decayed sum of printed shares over the decayed observed
  time, blended with the prior rate daily_volume/S; default ``DEFAULT_DAILY_VOLUME``) × S.  The
  prints include ours, and only the venues the engine watches: both make it a rough figure.
* **η, $·s/share²** — the square-root law (GUIDE §6; Tóth, Bouchaud et al. 2011) says a metaorder of
  q·ADV shares costs about Y·σ_daily·√q per share, as a fraction of P.  The AC model's temporary cost
  per share is linear in the trading *rate* v instead (η·v), so it is linearised at a reference:
  ``REFERENCE_SIZE`` = 1 % of ADV worked at ``REFERENCE_PARTICIPATION`` = 10 % of the market's rate
  (v = 0.1·ADV/S), a typical IS order.  η·v = Y·σ_daily·P·√0.01 gives **η = Y·σ_daily·P·S/ADV**
  (Y = ``IMPACT_Y`` = 0.7, "of order 1", and the value of our simulated market, configs/venues.toml).
  Linearising at 100 % participation instead (1 % of ADV in 1 % of the day) would make η ten times
  smaller, and the typical order, which participates at a few percent, would be estimated an order
  of magnitude cheaper than the square-root law says; at 10 % the two agree where IS orders live.
  For comparison, Almgren, Thum, Hauptmann & Li (2005) fit a temporary impact 0.142·σ·(rate)^{3/5},
  which linearised at the same 10 % gives η ≈ 0.36·σ_daily·P·S/ADV, the same order.
* **γ, $/share²** — permanent impact of Almgren et al. (2005), I = 0.314·σ_daily·(X/ADV)·(Θ/V)^{1/4},
  with the turnover factor (Θ/V)^{1/4} taken as 1 (we do not know the float): **γ = 0.314·σ_daily·P/ADV**.
  It only adds ½γX² to E (and shrinks η̃ = η − γτ/2 a little); it does not shape the trajectory.

**The order's own linearisation** (:meth:`InstrumentModels.order_parameters`, what IS plans with and
``metaorder estimate`` prints).  The figures above are an instrument's; an order of X shares over T
seconds in N periods, placed with an Aggressiveness, is charged by the simulated market
(:mod:`metaorder.venues.market`) in three ways, each estimated at the order's own X, T and N:

* *square-root impact with memory* — every fill moves the price by the square-root law on the
  signed volume still remembered (half-life H = ``impact_memory_half_life_s``).  Worked at X/T, the
  fills pay C(X, T) = k·X^{3/2}·g(aT), k = Y·σ_daily·P/√ADV, a = ln 2/H,
  g(b) = ∫₀¹ √((1 − e^{−bu})/b) du (g(0) = 2/3: no memory loss gives the textbook ⅔·Y·σ·√(X/ADV)
  per share).  The AC model is linear, so C is linearised at the order's own rate: the part that
  depends on the pace is −T·∂C/∂T = k·X^{3/2}·h(aT), h(b) = −b·g′(b), which a TWAP pays in the AC
  model as η·X²/T, so **η_impact = k·T·h(aT)/√X**; the rest, k·X^{3/2}·(g − h), depends on the volume
  only (the price moves with what is bought, however fast) and is charged per share:
  **ε_impact = k·√X·(g(aT) − h(aT))**.  It is not put in γ: AC's discrete form gives the trade's own
  period a rebate of ½γΣn² (η̃ = η − γτ/2), which for short windows makes η̃ ≤ 0 and the model
  ill-posed, while adding the same ½γX² to E as a per-share constant does.  γ is therefore
  **γ = 0** in the order's parameters (the volume-only cost is in ε); ``describe_order`` reports the
  γ it stands for, 2·(g − h)·k/√X.
* *the book* — a child of n shares taken from d shares a tick (all lit venues, one side,
  d = ``depth_fraction``·ADV: configs/lab-venues.toml's level_size_fraction 5e-4 + 2e-4 + 1e-4) walks
  n/d ticks, n²·tick/(2d) more than the touch; the book refills within a period (resilience half-life
  10 s, periods of 30 s and more), so it is a per-period cost (η/τ)·n² with **η_book = τ·tick/(2d)**.
  Small at a TWAP's pace; it is what keeps a HIGH-urgency plan from sending the whole order at once.
* *the placement* — the fixed cost of the way IS places each slice (its Aggressiveness): a share taken
  pays half the spread and the taker fee, a share filled resting earns half the spread and pays the
  maker fee (negative: a rebate).  **ε_place = (1 − φ)·(s/2 + f_take) + φ·(−s/2 + f_make)**, φ the share
  filled passively: :data:`PASSIVE_FILL_SHARE` (AGGRESSIVE 0; NEUTRAL 0.3 and PASSIVE 0.5 are
  judgement, not yet measured: the lab's IS experiment is where to fit them), s the spread
  estimate above, f_take = ``fee_per_share``, f_make = ``maker_fee_per_share``.

σ is the instrument's.  So **ε = ε_place + ε_impact, η = η_impact + η_book, γ = 0**, for that order.

``overrides`` (configuration) set any of ``sigma`` ($/share/√s), ``eta`` ($·s/share²), ``gamma``
($/share²) and ``epsilon`` ($/share) per symbol directly; they win over everything else.

Sans-IO: time is the ``now`` passed in (epoch seconds); nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from metaorder.execution.almgren_chriss import AcParameters

DEFAULT_DAILY_VOLATILITY = 0.02  # 2 % a day: a typical large-cap equity
DEFAULT_DAILY_VOLUME = 1_000_000  # shares a day, when neither config nor prints say
IMPACT_Y = 0.7  # Y of the square-root law (GUIDE §6)
REFERENCE_SIZE = 0.01  # fraction of ADV at which η is linearised
REFERENCE_PARTICIPATION = 0.10  # share of the market's rate at which η is linearised
PERMANENT_COEFFICIENT = 0.314  # Almgren et al. (2005), permanent impact
OVERRIDE_KEYS: tuple[str, ...] = ("sigma", "eta", "gamma", "epsilon")
IMPACT_MEMORY_HALF_LIFE_S = 3600.0  # the simulated market's impact memory (configs/lab-venues.toml)
DEPTH_FRACTION = 0.0008  # shares a tick on one side, all lit venues, / ADV (the venues' level_size_fraction)
# φ: share of an IS order filled passively, by Aggressiveness (AGGRESSIVE takes everything).  NEUTRAL
# posts at the touch for passive_share (70 %) of each period, behind the liquidity providers' queue.
PASSIVE_FILL_SHARE: dict[str, float] = {"AGGRESSIVE": 0.0, "NEUTRAL": 0.3, "PASSIVE": 0.5}


@dataclass(frozen=True, slots=True)
class InstrumentPrior:
    """What configuration says of an instrument before any market data."""

    symbol: str
    reference_price: Decimal
    tick_size: Decimal
    daily_volatility: float | None = None  # fraction of price per trading day (0.02 = 2 %)
    daily_volume: int | None = None  # shares per trading day
    session_seconds: float = 23_400.0  # length of the trading day (6.5 h)
    fee_per_share: Decimal = Decimal("0.003")  # taker fee (the primary's)
    maker_fee_per_share: Decimal = Decimal("-0.002")  # maker fee, negative a rebate (the primary's)


def _halved(elapsed: float, half_life: float) -> float:
    """2^(−elapsed/half_life): the weight left of an observation ``elapsed`` seconds old."""
    return math.exp(-math.log(2) * max(elapsed, 0.0) / half_life)


def _memory_integrand(b: float, w: float) -> float:
    """√((1 − e^{−b·w²})/b)·2w: g's integrand after u = w² (smooth at 0, so Simpson converges)."""
    if b <= 1e-12:
        return 2.0 * w * w
    return math.sqrt(-math.expm1(-b * w * w) / b) * 2.0 * w


def memory_factor(b: float, steps: int = 64) -> float:
    """g(b) = ∫₀¹ √((1 − e^{−bu})/b) du (module docstring; g(0) = 2/3), by Simpson's rule in w = √u."""
    if not b >= 0:
        raise ValueError(f"memory factor needs b >= 0, not {b}")
    step = 1.0 / steps
    total = _memory_integrand(b, 0.0) + _memory_integrand(b, 1.0)
    for i in range(1, steps):
        total += (4 if i % 2 else 2) * _memory_integrand(b, i * step)
    return total * step / 3.0


def pace_factor(b: float) -> float:
    """h(b) = −b·g′(b) ≥ 0: the share of the square-root cost that depends on the pace (central difference)."""
    if b <= 0:
        return 0.0
    d = 1e-4 * b
    return -b * (memory_factor(b + d) - memory_factor(b - d)) / (2 * d)


class _Blend:
    """A decayed sum of values over a decayed sum of weights, with a prior filling the unobserved rest.

    ``value()`` = (A + prior·R)/(B + R), R = max(W − B, 0), W = half_life/ln 2: see the module docstring.
    """

    __slots__ = ("at", "num", "weight")

    def __init__(self) -> None:
        self.num = 0.0
        self.weight = 0.0
        self.at = 0.0

    def _decay(self, now: float, half_life: float) -> float:
        return _halved(now - self.at, half_life)

    def add(self, value_times_weight: float, weight: float, now: float, half_life: float) -> None:
        d = self._decay(now, half_life)
        self.num = self.num * d + value_times_weight
        self.weight = self.weight * d + weight
        self.at = max(now, self.at)

    def value(self, prior: float, now: float, half_life: float) -> float:
        d = self._decay(now, half_life)
        num, weight = self.num * d, self.weight * d
        rest = max(half_life / math.log(2) - weight, 0.0)
        return (num + prior * rest) / (weight + rest)


class _State:
    """What has been observed of one instrument."""

    __slots__ = (
        "first_trade",
        "last_mid",
        "last_spread",
        "quote_at",
        "sample_at",
        "sample_mid",
        "samples",
        "spread",
        "traded",
        "variance",
    )

    def __init__(self) -> None:
        self.variance = _Blend()  # r² over Δt, per second
        self.spread = _Blend()  # spread × time it stood, over time
        self.traded = _Blend()  # shares printed (weights are added separately: observed time)
        self.sample_at: float | None = None
        self.sample_mid = 0.0
        self.samples = 0
        self.last_mid: float | None = None
        self.last_spread: float | None = None
        self.quote_at = 0.0
        self.first_trade: float | None = None


class InstrumentModels:
    """The cost model of each configured instrument, updated from market data (see the module docstring)."""

    def __init__(
        self,
        priors: Mapping[str, InstrumentPrior],
        overrides: Mapping[str, Mapping[str, float]] | None = None,
        *,
        half_life_s: float = 1800.0,
        sample_interval_s: float = 5.0,
        impact_y: float = IMPACT_Y,
        impact_memory_half_life_s: float = IMPACT_MEMORY_HALF_LIFE_S,
        depth_fraction: float = DEPTH_FRACTION,
        passive_fill_share: Mapping[str, float] | None = None,
    ) -> None:
        if not half_life_s > 0:
            raise ValueError(f"impact model half_life_s must be > 0, not {half_life_s}")
        if not sample_interval_s > 0:
            raise ValueError(f"impact model sample_interval_s must be > 0, not {sample_interval_s}")
        if not impact_y > 0:
            raise ValueError(f"impact model impact_y must be > 0, not {impact_y}")
        if not impact_memory_half_life_s > 0:
            raise ValueError(f"impact model impact_memory_half_life_s must be > 0, not {impact_memory_half_life_s}")
        if not depth_fraction > 0:
            raise ValueError(f"impact model depth_fraction must be > 0, not {depth_fraction}")
        shares = dict(PASSIVE_FILL_SHARE if passive_fill_share is None else passive_fill_share)
        for key, value in shares.items():
            if not 0 <= value <= 1:
                raise ValueError(f"impact model passive_fill_share {key} must be in [0, 1], not {value}")
        self._memory = impact_memory_half_life_s
        self._depth = depth_fraction
        self._passive = shares
        self._priors = dict(priors)
        self._overrides: dict[str, dict[str, float]] = {}
        for symbol, values in (overrides or {}).items():
            if symbol not in self._priors:
                raise ValueError(f"impact model override for unknown instrument {symbol!r}")
            checked: dict[str, float] = {}
            for key, value in values.items():
                if key not in OVERRIDE_KEYS:
                    raise ValueError(
                        f"impact model override {symbol}.{key}: unknown (known: {', '.join(OVERRIDE_KEYS)})"
                    )
                number = float(value)
                if not (number >= 0 and math.isfinite(number)):
                    raise ValueError(f"impact model override {symbol}.{key} must be a finite number >= 0, not {value}")
                checked[key] = number
            self._overrides[symbol] = checked
        self._half_life = half_life_s
        self._interval = sample_interval_s
        self._y = impact_y
        self._state = {symbol: _State() for symbol in self._priors}

    # ---- observations ------------------------------------------------------------------------

    def observe_quote(self, symbol: str, bid: Decimal, ask: Decimal, now: float) -> None:
        """The consolidated best bid and ask at ``now``: feeds σ (mid returns) and ε (spread).

        Crossed or one-sided quotes are ignored (no mid to speak of); unknown symbols too.
        """
        st = self._state.get(symbol)
        if st is None or bid <= 0 or ask < bid:
            return
        mid = float((bid + ask) / 2)
        spread = float(ask - bid)
        h = self._half_life
        if st.last_spread is not None and now > st.quote_at:
            held = now - st.quote_at
            st.spread.add(st.last_spread * held, held, now, h)
        st.last_spread = spread
        st.quote_at = max(now, st.quote_at)
        st.last_mid = mid
        if st.sample_at is None:
            st.sample_at, st.sample_mid = now, mid
        elif now - st.sample_at >= self._interval:
            dt = now - st.sample_at
            r = math.log(mid / st.sample_mid)
            st.variance.add(r * r, dt, now, h)
            st.sample_at, st.sample_mid = now, mid
            st.samples += 1

    def observe_trade(self, symbol: str, price: Decimal, qty: int, now: float) -> None:
        """A trade print (anyone's) of ``qty`` at ``price``: feeds the volume rate, hence η and γ."""
        st = self._state.get(symbol)
        if st is None or qty <= 0:
            return
        if st.first_trade is None:
            st.first_trade = now
        st.traded.add(float(qty), 0.0, now, self._half_life)

    # ---- estimates ---------------------------------------------------------------------------

    def prior(self, symbol: str) -> InstrumentPrior:
        """The configured prior of ``symbol`` (KeyError if unknown): to build a model with overrides."""
        return self._prior(symbol)

    def _prior(self, symbol: str) -> InstrumentPrior:
        prior = self._priors.get(symbol)
        if prior is None:
            raise KeyError(f"unknown instrument {symbol!r}")
        return prior

    def _estimates(self, symbol: str, now: float) -> dict[str, tuple[float, str]]:
        prior = self._prior(symbol)
        st = self._state[symbol]
        h = self._half_life
        session = prior.session_seconds
        price = st.last_mid if st.last_mid is not None else float(prior.reference_price)
        price_source = "observed mid" if st.last_mid is not None else "reference price"

        vol_prior, vol_source = (
            (prior.daily_volatility, "prior")
            if prior.daily_volatility is not None
            else (DEFAULT_DAILY_VOLATILITY, "default")
        )
        var_prior = vol_prior * vol_prior / session
        if st.samples:
            var_s = st.variance.value(var_prior, now, h)
            vol_source = f"observed ({st.samples} mid returns) blended with {vol_source}"
        else:
            var_s = var_prior
        daily_vol = math.sqrt(var_s * session)

        adv_prior, adv_source = (
            (float(prior.daily_volume), "prior")
            if prior.daily_volume is not None
            else (float(DEFAULT_DAILY_VOLUME), "default")
        )
        if st.first_trade is not None:
            # observed time, decayed: W·(1 − 2^(−span/h)); the prior covers the rest of the window
            window = h / math.log(2)
            observed = window * (1.0 - _halved(now - st.first_trade, h))
            decayed = st.traded.num * _halved(now - st.traded.at, h)
            rest = window - observed
            rate = (decayed + adv_prior / session * rest) / (observed + rest)
            adv = max(rate * session, 1.0)
            adv_source = f"observed prints blended with {adv_source}"
        else:
            adv = adv_prior

        tick = float(prior.tick_size)
        if st.last_spread is not None:
            # the spread standing now counts for the time since it was quoted
            blend = _Blend()
            blend.num, blend.weight, blend.at = st.spread.num, st.spread.weight, st.spread.at
            held = max(now - st.quote_at, 0.0)
            if held > 0:
                blend.add(st.last_spread * held, held, now, h)
            spread = blend.value(tick, now, h) if blend.weight > 0 else st.last_spread
            spread_source = "observed (time-weighted EWMA) blended with one tick"
        else:
            spread, spread_source = tick, "prior (one tick)"

        fee = float(prior.fee_per_share)
        values: dict[str, tuple[float, str]] = {
            "sigma": (math.sqrt(var_s) * price, f"daily volatility {daily_vol:.4%}: {vol_source}"),
            "eta": (
                # η·v = Y·σ_d·P·√q at v = ρ·ADV/S
                self._y * daily_vol * price * math.sqrt(REFERENCE_SIZE) * session / (REFERENCE_PARTICIPATION * adv),
                f"square-root law Y={self._y} linearised at {REFERENCE_SIZE:.0%} of ADV, "
                f"{REFERENCE_PARTICIPATION:.0%} participation; ADV {adv:,.0f}: {adv_source}",
            ),
            "gamma": (
                PERMANENT_COEFFICIENT * daily_vol * price / adv,
                f"Almgren et al. 2005 permanent {PERMANENT_COEFFICIENT}*sigma_daily*P/ADV",
            ),
            "epsilon": (spread / 2 + fee, f"half spread {spread / 2:.6g} ({spread_source}) + fee {fee:g}"),
            "price": (price, price_source),
            "daily_volatility": (daily_vol, vol_source),
            "daily_volume": (adv, adv_source),
            "spread": (spread, spread_source),
        }
        for key, value in self._overrides.get(symbol, {}).items():
            values[key] = (value, "override (configuration)")
        return values

    def parameters(self, symbol: str, now: float) -> AcParameters:
        """σ, η, γ, ε of ``symbol`` at ``now``, per-second units.  KeyError for an unknown symbol."""
        e = self._estimates(symbol, now)
        return AcParameters(sigma=e["sigma"][0], eta=e["eta"][0], gamma=e["gamma"][0], epsilon=e["epsilon"][0])

    def describe(self, symbol: str, now: float) -> dict[str, object]:
        """Every estimate with where it came from, for the audit trail and ``metaorder estimate``."""
        e = self._estimates(symbol, now)
        out: dict[str, object] = {"symbol": symbol, "time_unit": "second"}
        for key, (value, source) in e.items():
            out[key] = value
            out[f"{key}_source"] = source
        return out

    def _order_estimates(self, symbol: str, now: float, qty: float, horizon: float, periods: int,
                         aggressiveness: str) -> dict[str, tuple[float, str]]:
        if not (qty > 0 and horizon > 0 and periods >= 1):
            raise ValueError(f"order parameters need qty > 0, horizon > 0 and periods >= 1, not {qty}, {horizon}, "
                             f"{periods}")
        if aggressiveness not in self._passive:
            raise ValueError(f"unknown aggressiveness {aggressiveness!r} (known: {', '.join(self._passive)})")
        e = self._estimates(symbol, now)
        prior = self._prior(symbol)
        price, daily_vol, adv = e["price"][0], e["daily_volatility"][0], e["daily_volume"][0]
        spread, tick = e["spread"][0], float(prior.tick_size)
        k = self._y * daily_vol * price / math.sqrt(adv)
        b = math.log(2) * horizon / self._memory
        g, h = memory_factor(b), pace_factor(b)
        root = math.sqrt(qty)
        eta_impact = k * horizon * h / root
        eps_impact = k * root * (g - h)
        tau = horizon / periods
        eta_book = tau * tick / (2 * self._depth * adv)
        phi = self._passive[aggressiveness]
        taker, maker = float(prior.fee_per_share), float(prior.maker_fee_per_share)
        eps_place = (1 - phi) * (spread / 2 + taker) + phi * (-spread / 2 + maker)
        out = dict(e)
        out["eta"] = (eta_impact + eta_book,
                      f"square-root law Y={self._y} with memory {self._memory:g} s linearised at {qty:,.0f} "
                      f"shares over {horizon:g} s (impact {eta_impact:.4g}) + book depth "
                      f"{self._depth:g}*ADV a tick at tau {tau:g} s ({eta_book:.4g}); ADV {adv:,.0f}")
        out["gamma"] = (0.0, f"0: the volume-only part of the square-root law is in epsilon "
                             f"(equivalent gamma {2 * k * (g - h) / root:.4g})")
        out["epsilon"] = (eps_place + eps_impact,
                          f"placement {eps_place:.4g} ({aggressiveness}: {phi:.0%} passive, spread {spread:.4g}, "
                          f"fees {taker:g}/{maker:g}) + square-root volume cost {eps_impact:.4g}")
        for key, value in self._overrides.get(symbol, {}).items():
            if key in ("eta", "gamma", "epsilon"):
                out[key] = (value, "override (configuration)")
        return out

    def order_parameters(self, symbol: str, now: float, qty: float, horizon: float, periods: int,
                         aggressiveness: str = "NEUTRAL") -> AcParameters:
        """σ, η, γ, ε linearised for an order of ``qty`` shares over ``horizon`` seconds in ``periods``
        periods placed with ``aggressiveness`` (module docstring, "The order's own linearisation").
        KeyError for an unknown symbol, ValueError for a bad order."""
        e = self._order_estimates(symbol, now, qty, horizon, periods, aggressiveness)
        return AcParameters(sigma=e["sigma"][0], eta=e["eta"][0], gamma=e["gamma"][0], epsilon=e["epsilon"][0])

    def describe_order(self, symbol: str, now: float, qty: float, horizon: float, periods: int,
                       aggressiveness: str = "NEUTRAL") -> dict[str, object]:
        """:meth:`describe` for an order's own linearisation."""
        e = self._order_estimates(symbol, now, qty, horizon, periods, aggressiveness)
        out: dict[str, object] = {"symbol": symbol, "time_unit": "second"}
        for key, (value, source) in e.items():
            out[key] = value
            out[f"{key}_source"] = source
        return out


@runtime_checkable
class OrderParameterSource(Protocol):
    """A parameter source that can linearise for an order (IS uses it when the engine's models can)."""

    def parameters(self, symbol: str, now: float) -> AcParameters: ...

    def order_parameters(self, symbol: str, now: float, qty: float, horizon: float, periods: int,
                         aggressiveness: str = "NEUTRAL") -> AcParameters: ...
