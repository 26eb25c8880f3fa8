"""``metaorder estimate``: an Almgren–Chriss pre-trade estimate, before anything trades.

Why: a quant must be able to check the IS strategy's model against the paper (the explicit form,
every parameter on the command line, any time unit), and a trader wants the expected cost and risk
of a mandate on a configured instrument (the instrument form, the engine's own cost model with its
priors: :mod:`metaorder.execution.impact_model`).  Both print κ, the half-life 1/κ, the holdings
(N+1 values from X to 0) and trades per period, E and its standard deviation in dollars and in bps
of the notional (cost convention: positive is bad), and E + λ·Var (GUIDE §6).  The figures are model
estimates, so floats.

Explicit form::

    metaorder estimate --qty X --horizon T --periods N --sigma S --epsilon E --gamma G --eta H
                       --risk-aversion L [--price P] [--json]

Instrument form (time unit: seconds)::

    metaorder estimate --symbol ACME --side buy --qty 50000 --window 2h [--urgency HIGH]
                       [--periods N] [--risk-aversion L] [--sigma ...] [--config PATH] [--json]

In the instrument form λ comes from the urgency: ``[strategy.is] risk_aversion_low/medium/high`` in
the configuration, else :data:`DEFAULT_RISK_AVERSION`; explicit ``--sigma/--eta/--gamma/--epsilon``
override the model's estimates (per-second units).  The instrument form *is* the engine's estimate:
the engine's models (:func:`metaorder.wiring.build_models`, priors only: no market data yet), the
``[strategy.is]`` settings, and a :class:`~metaorder.execution.shortfall.Shortfall` built for the
mandate, whose ``estimate`` is printed — the same periods (one per ``period_s``), the same
linearisation for the order's size, window and ``--aggressiveness`` (impact_model's "The order's own
linearisation"), the figure the engine journals as ``parent.estimate`` for the same inputs.
``--periods`` overrides the strategy's grid.

Default risk aversions (per $).  κ ≈ √(λσ²/η) = √(λ·σ_daily·P·ADV/Y)/S with the impact model's σ and
η, so it depends on the instrument's dollar volume and volatility, not on the order's size.  For
ACME (σ_daily 2 %, ADV 6M, $142.50), 50,000 shares over 2 h in the strategy's 100 periods, with
the shipped configuration: LOW 1e-7 gives κT ≈ 0.8 (close to TWAP), MEDIUM 1e-6 κT ≈ 2.7, HIGH 1e-5
κT ≈ 8.4 (half-life 14 min: 88 % done after 30 min, against 25 % for TWAP).  The other configured
instruments' σ_daily·P·ADV are within a factor 2.5 of ACME's, so the same map suits them; it
therefore stays as the issue proposed.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TextIO

from metaorder.cliargs import number, positive
from metaorder.execution.almgren_chriss import AcParameters, AcPlan, plan
from metaorder.execution.impact_model import InstrumentModels
from metaorder.execution.shortfall import RISK_AVERSION_KEY, Shortfall, ShortfallSettings
from metaorder.execution.types import ParentState

DEFAULT_RISK_AVERSION: dict[str, float] = {"LOW": 1e-7, "MEDIUM": 1e-6, "HIGH": 1e-5}
PROG = "metaorder estimate"

_DURATION = re.compile(r"^(?:(\d+(?:\.\d*)?)h)?(?:(\d+(?:\.\d*)?)m)?(?:(\d+(?:\.\d*)?)s)?$")
_MODEL_FLAGS = ("sigma", "eta", "gamma", "epsilon")


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1h30m`` (or a bare number of seconds) -> seconds > 0."""
    stripped = text.strip().lower()
    try:
        seconds = float(stripped)
    except ValueError:
        match = _DURATION.match(stripped)
        if match is None or not any(match.groups()):
            raise ValueError(f"bad duration {text!r} (e.g. 90s, 30m, 2h, 1h30m)") from None
        h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = h * 3600 + m * 60 + s
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"duration must be > 0, not {text!r}")
    return seconds


def risk_aversion_for(urgency: str, tunables: Mapping[str, object]) -> float:
    """λ (per $) for an urgency: ``risk_aversion_<urgency>`` from ``tunables`` ([strategy.is]), else the default."""
    key = urgency.strip().upper()
    if key not in DEFAULT_RISK_AVERSION:
        raise ValueError(f"unknown urgency {urgency!r} (LOW, MEDIUM or HIGH)")
    name = f"risk_aversion_{key.lower()}"
    raw = tunables.get(name)
    if raw is None:
        return DEFAULT_RISK_AVERSION[key]
    try:
        value = float(str(raw))
    except ValueError:
        raise ValueError(f"{name} must be a number >= 0, not {raw!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a number >= 0, not {raw!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``metaorder estimate`` (both forms; see the module docstring)."""
    parser.epilog = (
        "Units: quantities in shares; the explicit form's time unit is yours (T, and sigma per sqrt of it, "
        "eta per share per it); the instrument form works in seconds. Costs are in $ and in bps of the "
        "notional (positive = a cost)."
    )
    parser.add_argument(
        "--qty", type=positive(float, "a positive number of shares"), help="shares to trade (X)"
    )
    parser.add_argument(
        "--horizon",
        type=positive(float, "a positive duration"),
        help="explicit form: trading horizon T, in a time unit of your choice",
    )
    parser.add_argument(
        "--periods", type=positive(int, "a whole number >= 1"),
        help="number of periods N (instrument form default: the IS strategy's, one per [strategy.is] period_s = 30 s, "
        "5 to 100)"
    )
    parser.add_argument("--sigma", type=number(float, "a number >= 0"), help="volatility, $/share per sqrt(time unit)")
    parser.add_argument("--epsilon", type=number(float, "a number >= 0"),
                        help="fixed cost, $/share (half spread + fees)")
    parser.add_argument("--gamma", type=number(float, "a number >= 0"), help="permanent impact, $/share^2")
    parser.add_argument(
        "--eta",
        type=number(float, "a number >= 0"),
        help="temporary impact, $*(time unit)/share^2 (cost per share = eta x shares per unit)",
    )
    parser.add_argument(
        "--risk-aversion",
        dest="risk_aversion",
        type=number(float, "a number >= 0"),
        help="lambda, per $ (instrument form default: from --urgency)",
    )
    parser.add_argument(
        "--price",
        type=positive(float, "a positive price"),
        help="price for bps of notional (instrument form default: the reference price)",
    )
    parser.add_argument("--symbol", help="instrument form: a configured instrument")
    parser.add_argument("--side", choices=("buy", "sell", "short"), help="instrument form: side of the mandate")
    parser.add_argument("--window", help="instrument form: duration, e.g. 90s, 30m, 2h, 1h30m")
    parser.add_argument(
        "--urgency",
        type=str.upper,
        choices=tuple(DEFAULT_RISK_AVERSION),
        default="MEDIUM",
        help="instrument form: sets lambda (default: %(default)s)",
    )
    parser.add_argument(
        "--aggressiveness",
        type=str.upper,
        choices=("PASSIVE", "NEUTRAL", "AGGRESSIVE"),
        default="NEUTRAL",
        help="instrument form: how IS places its slices; sets the expected spread and fees (default: %(default)s)",
    )
    parser.add_argument(
        "--config", default="configs/metaorder.toml", help="instrument form: configuration (default: %(default)s)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimate and what it was computed from."""

    plan: AcPlan
    params: AcParameters
    price: float | None
    time_unit: str
    mandate: dict[str, object] = field(default_factory=dict)
    sources: dict[str, object] = field(default_factory=dict)


class EstimateError(ValueError):
    """A command line that cannot be estimated: one line for the user."""


def _explicit(args: argparse.Namespace) -> Estimate:
    needed = ("qty", "horizon", "periods", "sigma", "epsilon", "gamma", "eta", "risk_aversion")
    missing = [f"--{n.replace('_', '-')}" for n in needed if getattr(args, n) is None]
    if missing:
        raise EstimateError(f"missing {', '.join(missing)} (or give --symbol, --side, --qty and --window)")
    if args.window is not None or args.side is not None:
        raise EstimateError("--window and --side belong to the instrument form: give --symbol too")
    params = AcParameters(sigma=args.sigma, eta=args.eta, gamma=args.gamma, epsilon=args.epsilon)
    return Estimate(plan(args.qty, args.horizon, args.periods, params, args.risk_aversion), params, args.price, "unit")


def _instrument(args: argparse.Namespace) -> Estimate:
    from metaorder.config import load_config
    from metaorder.wiring import build_models

    missing = [f"--{n}" for n in ("side", "qty", "window") if getattr(args, n) is None]
    if missing:
        raise EstimateError(f"missing {', '.join(missing)} for --symbol {args.symbol}")
    if args.horizon is not None:
        raise EstimateError("--horizon belongs to the explicit form: the instrument form takes --window")
    if args.qty != int(args.qty):
        raise EstimateError(f"--qty must be a whole number of shares, not {args.qty:g}")
    horizon = parse_duration(args.window)
    config = load_config(args.config)
    instrument = next((i for i in config.instrument if i.symbol == args.symbol), None)
    if instrument is None:
        known = ", ".join(i.symbol for i in config.instrument) or "none"
        raise EstimateError(f"unknown symbol {args.symbol!r} in {args.config} (configured: {known})")
    # The engine's own models, settings and strategy: the estimate is the one it would journal.
    context = build_models(config)
    engine_models = context.models
    assert isinstance(engine_models, InstrumentModels)
    prior = engine_models.prior(instrument.symbol)
    overrides = {k: float(getattr(args, k)) for k in _MODEL_FLAGS if getattr(args, k) is not None}
    models = InstrumentModels({prior.symbol: prior}, {prior.symbol: overrides}) if overrides else engine_models
    tunables = config.strategy.get("is", {})
    lam = args.risk_aversion if args.risk_aversion is not None else risk_aversion_for(args.urgency, tunables)
    settings = ShortfallSettings.from_mapping(tunables)
    if args.periods is not None:
        tau = horizon / args.periods
        settings = replace(settings, period_s=tau, min_periods=args.periods, max_periods=args.periods,
                           min_period_s=min(settings.min_period_s, tau))
    parent = ParentState("estimate", prior.symbol, 1 if args.side == "buy" else -1, int(args.qty), 0, 0, None,
                         0.0, horizon, urgency=args.urgency, aggressiveness=args.aggressiveness,
                         lot_size=instrument.lot_size, params=((RISK_AVERSION_KEY, repr(lam)),))
    strategy = Shortfall(parent, 0, settings, models)
    est_plan = strategy.estimate
    params = models.order_parameters(prior.symbol, 0.0, float(int(args.qty)), est_plan.horizon, est_plan.periods,
                                     args.aggressiveness)
    price = args.price if args.price is not None else float(instrument.reference_price)
    described = models.describe_order(prior.symbol, 0.0, float(int(args.qty)), est_plan.horizon, est_plan.periods,
                                      args.aggressiveness)
    sources = {k: described[f"{k}_source"] for k in _MODEL_FLAGS}
    mandate: dict[str, object] = {
        "symbol": prior.symbol,
        "side": args.side,
        "urgency": args.urgency,
        "aggressiveness": args.aggressiveness,
        "window": args.window,
        "lot_size": instrument.lot_size,
        "reference_price": str(instrument.reference_price),
        "risk_aversion_source": "--risk-aversion" if args.risk_aversion is not None else f"urgency {args.urgency}",
    }
    return Estimate(est_plan, params, price, "second", mandate, sources)


def compute(args: argparse.Namespace) -> Estimate:
    """The estimate the arguments ask for; EstimateError/ValueError (one line) when they cannot be met."""
    return _instrument(args) if args.symbol is not None else _explicit(args)


def to_json(est: Estimate) -> dict[str, object]:
    """The ``--json`` object (infinite half-life as null; bps null without a price)."""
    p = est.plan
    unit = est.time_unit
    out: dict[str, object] = {
        "kappa": p.kappa,
        "half_life": None if math.isinf(p.half_life) else p.half_life,
        "holdings": list(p.holdings),
        "trades": list(p.trades),
        "times": [k * p.tau for k in range(p.periods + 1)],
        "expected_cost": p.expected_cost,
        "std_cost": p.std_cost,
        "variance": p.variance,
        "objective": p.objective,
        "expected_cost_bps": None if est.price is None else p.expected_cost_bps(est.price),
        "std_cost_bps": None if est.price is None else p.std_cost_bps(est.price),
        "notional": None if est.price is None else p.qty * est.price,
        "price": est.price,
        "qty": p.qty,
        "horizon": p.horizon,
        "periods": p.periods,
        "tau": p.tau,
        "risk_aversion": p.risk_aversion,
        "parameters": {
            "sigma": est.params.sigma,
            "eta": est.params.eta,
            "gamma": est.params.gamma,
            "epsilon": est.params.epsilon,
        },
        "units": {
            "time": unit,
            "qty": "shares",
            "sigma": f"$/share/sqrt({unit})",
            "eta": f"$*{unit}/share^2",
            "gamma": "$/share^2",
            "epsilon": "$/share",
            "kappa": f"1/{unit}",
            "half_life": unit,
            "expected_cost": "$",
            "std_cost": "$",
            "variance": "$^2",
            "risk_aversion": "1/$",
            "bps": "of notional, positive = cost",
        },
    }
    if est.mandate:
        out["mandate"] = est.mandate
        out["sources"] = est.sources
    return out


def _shares(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,g}"


def _money(x: float) -> str:
    return f"${x:,.2f}"


def render(est: Estimate) -> str:
    """The terminal table."""
    p, unit = est.plan, est.time_unit
    lines: list[str] = []
    if est.mandate:
        m = est.mandate
        lines.append(
            f"Almgren-Chriss estimate: {m['side']} {p.qty:,.0f} {m['symbol']} over {m['window']} "
            f"({p.horizon:g} s) in {p.periods} periods of {p.tau:g} s; "
            f"lambda {p.risk_aversion:g} per $ ({m['risk_aversion_source']})"
        )
    else:
        lines.append(
            f"Almgren-Chriss estimate: {_shares(p.qty)} shares over T={p.horizon:g} in {p.periods} periods "
            f"of {p.tau:g}; lambda {p.risk_aversion:g} per $"
        )
    prm = est.params
    lines.append(f"  sigma   {prm.sigma:.6g} $/share/sqrt({unit})" + _src(est, "sigma"))
    lines.append(f"  eta     {prm.eta:.6g} $*{unit}/share^2" + _src(est, "eta"))
    lines.append(f"  gamma   {prm.gamma:.6g} $/share^2" + _src(est, "gamma"))
    lines.append(f"  epsilon {prm.epsilon:.6g} $/share" + _src(est, "epsilon"))
    half = "infinite (risk-neutral: TWAP)" if math.isinf(p.half_life) else f"{p.half_life:.6g} {unit}"
    lines.append(f"kappa      {p.kappa:.6g} per {unit}   half-life {half}")
    price = est.price

    def bps(amount: float) -> str:
        return f"  {p.bps(amount, price):8.2f} bps" if price else ""

    notional = f" of notional {_money(p.qty * price)} at {price:g}" if price else " (no --price: no bps)"
    lines.append(f"E[cost]    {_money(p.expected_cost):>16}{bps(p.expected_cost)}{notional}")
    lines.append(f"std[cost]  {_money(p.std_cost):>16}{bps(p.std_cost)}")
    lines.append(f"E+lam*Var  {_money(p.objective):>16}")
    lines.append("")
    lines.append(f"{'period':>6}  {'time (' + unit + ')':>12}  {'holdings':>16}  {'trade':>14}")
    for k, x in enumerate(p.holdings):
        trade = f"{p.trades[k - 1]:14,.2f}" if k else ""
        lines.append(f"{k:>6}  {k * p.tau:>12.6g}  {x:16,.2f}  {trade}")
    return "\n".join(lines) + "\n"


def _src(est: Estimate, key: str) -> str:
    source = est.sources.get(key)
    return f"   [{source}]" if source else ""


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``metaorder estimate``; 0, or 2 with one line ``metaorder estimate: ...`` on stderr."""
    try:
        est = compute(args)
    except (ValueError, OSError) as exc:  # ConfigError is a ValueError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{PROG}: {message}", file=sys.stderr)
        return 2
    if args.json:
        out.write(json.dumps(to_json(est)) + "\n")
    else:
        out.write(render(est))
    return 0
