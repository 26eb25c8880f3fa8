"""The issue's targets, measured: figures per seed, the threshold, and whether it is met — not assertions.

Every figure here is a model estimate or a statistic over simulated runs, so a float (money stays
exact in the run records and is divided only here).  Cost convention (GUIDE §6): s·(P − P_b), s = +1
buy / −1 sell, positive = worse.  Aggregation is measured on the lab's flow; the others on the
target experiments of :mod:`metaorder.lab.experiments` (sizeable parents that exercise them).

1. ``aggregation`` — per seed, ``cost_vs_arrival_bps`` (:mod:`metaorder.lab.metrics`) of each
   aggregated strategy over ALONE's on the same flow and seed; over seeds, the ratio of the means.
   Target ≤ 0.5: aggregated and netted, the flow costs at most half of sending each order alone.  A
   negative ratio (the strategy *earned* against arrival while ALONE paid) meets it.
2. ``vwap_tracking`` — on the liquid instruments, per VWAP *parent*: |s·(P_avg − VWAP_int)/VWAP_int|
   in bps, P_avg its venue executions' average price, VWAP_int the consolidated tape's VWAP over the
   parent's active interval (its first order's acknowledgement to its last order's final report);
   the mean of |.| weighted by the parent's venue-executed quantity.  Per parent rather than per client
   order because the parent is what the VWAP algorithm schedules: a client order that joins a
   parent late is allocated pro-rata fills made before it arrived, so its own interval measures the
   allocation, not the schedule; and venue executions only, because internal crosses are netting
   (priced at the mid, not traded against the tape).  Target ≤ 2 bps on every seed.
3. ``pov_participation`` — per POV parent, realized participation as POV defines it (GUIDE §6):
   ours / (ours + others) over its active life, ours = its venue executions (lit and dark), others
   = tape volume − our lit prints; divided by its ρ.  Only parents active for at least
   :data:`POV_MIN_LIFE_S` count (over a few seconds a lot or two is most of the volume: the figure
   would measure rounding, not the algorithm), weighted by their active life.  Per seed the
   duration-weighted mean; target within [0.9, 1.1] on every seed.  ``per_seed_with_internal`` also
   counts the orders' internal crosses as ours (the POV strategy's own ``filled_qty``): shown, not
   judged — netting fills on arrival, outside the algorithm's control, so it measures the flow.
4. ``is_vs_estimate`` — per seed, the realized cost of the IS parents the journaled estimate covers
   (parents whose quantity is still the estimate's: one that grew after its plan has no estimate
   of the whole), in $ against the estimate's arrival price P₀: s·(notional − X_f·P₀) over all
   their fills (internal crosses too), plus venue fees, plus opportunity s·(X − X_f)·(P_end − P₀)
   (P_end the mid at the parent's end) — Perold's shortfall, delay excluded (P₀ is the decision
   price).  Met on a seed when |R − ΣE| ≤ sqrt(ΣVar) — the headline: the target speaks of seeds, and a
   seed is one trial of the whole flow; each parent against its own E ± sd is counted too
   (``parents_inside`` per seed, ``parents_inside_share`` pooled: about 68 % if the model's σ is
   right).  The target is met on ≥ 2/3 of seeds.
   ``is_high_vs_twap`` — with HIGH urgency, E + λ·Var: (a) in the model, for each IS parent's
   estimate, against the TWAP (λ = 0) trajectory over the same window and periods with the same
   parameters — the parameters are recovered from the journaled estimate (:func:`twap_of_estimate`);
   (b) realized, per order (one order per symbol in the lab's IS experiment,
   :mod:`metaorder.lab.experiments`): the mean over seeds of its realized cost ($, vs its arrival
   mid, fees and opportunity included) + λ × its variance over seeds, λ the median of its estimates';
   summed over the orders, IS runs against TWAP runs, both with every order's Urgency HIGH.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metaorder.execution.almgren_chriss import AcParameters, holdings_fraction, plan
from metaorder.lab.metrics import run_figures
from metaorder.lab.runner import ALONE, EstimateRecord, RunResult

AGGREGATION_MAX = 0.5
VWAP_TRACKING_MAX_BPS = 2.0
POV_BAND = (0.9, 1.1)
IS_SEED_SHARE = 2 / 3
POV_MIN_LIFE_S = 60.0
_BPS = 10_000.0


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


# ---- 1. aggregation ---------------------------------------------------------------------------


def aggregation(runs: Mapping[str, Sequence[RunResult]]) -> dict[str, Any]:
    """Cost vs arrival of each strategy over ALONE's, per seed and over seeds (see the module docstring)."""
    alone = {r.seed: run_figures(r).values.get("cost_vs_arrival_bps") for r in runs.get(ALONE, ())}
    by_strategy: dict[str, Any] = {}
    for name, rs in runs.items():
        if name == ALONE:
            continue
        per_seed: dict[str, float | None] = {}
        costs, bases = [], []
        for r in rs:
            cost, base = run_figures(r).values.get("cost_vs_arrival_bps"), alone.get(r.seed)
            per_seed[str(r.seed)] = cost / base if cost is not None and base else None
            if cost is not None and base is not None:
                costs.append(cost)
                bases.append(base)
        base_mean = statistics.fmean(bases) if bases else 0.0
        over = statistics.fmean(costs) / base_mean if costs and base_mean else None
        by_strategy[name] = {"per_seed": per_seed, "over_seeds": over,
                             "met": over is not None and over <= AGGREGATION_MAX}
    return {"threshold": AGGREGATION_MAX, "by_strategy": by_strategy,
            "met": bool(by_strategy) and all(s["met"] for s in by_strategy.values())}


# ---- 2. VWAP tracking -------------------------------------------------------------------------


def vwap_tracking_bps(run: RunResult, liquid: Mapping[str, bool]) -> float | None:
    """Venue-executed-qty-weighted mean of |slippage vs interval VWAP| (bps) over the liquid parents."""
    executed: dict[str, tuple[int, Decimal]] = {}
    for x in run.executions:
        qty, notional = executed.get(x.parent_id, (0, Decimal(0)))
        executed[x.parent_id] = (qty + x.qty, notional + x.qty * x.price)
    total = weight = 0.0
    for p in run.parents:
        qty, notional = executed.get(p.parent_id, (0, Decimal(0)))
        if not liquid.get(p.symbol, False) or qty <= 0 or p.tape_volume <= 0:
            continue
        vwap = p.tape_notional / p.tape_volume
        slip = abs(float(p.sign * (notional / qty - vwap) / vwap)) * _BPS
        total += slip * qty
        weight += qty
    return total / weight if weight else None


def vwap_tracking(runs: Sequence[RunResult], liquid: Mapping[str, bool]) -> dict[str, Any]:
    per_seed = {str(r.seed): vwap_tracking_bps(r, liquid) for r in runs}
    values = [v for v in per_seed.values() if v is not None]
    return {"threshold_bps": VWAP_TRACKING_MAX_BPS, "per_seed": per_seed, "mean": _mean(values),
            "met": bool(values) and all(v <= VWAP_TRACKING_MAX_BPS for v in values)}


# ---- 3. POV participation ---------------------------------------------------------------------


def pov_ratios(run: RunResult, internal: bool = False) -> list[tuple[float, float]]:
    """(realized participation / ρ, active life in s) of each POV parent active ≥ POV_MIN_LIFE_S;
    with ``internal``, ours also counts its orders' internal crosses (as the POV strategy counts
    ``filled_qty``)."""
    ours: dict[str, int] = {}
    for x in run.executions:
        ours[x.parent_id] = ours.get(x.parent_id, 0) + x.qty
    if internal:
        for o in run.orders:
            if o.parent_id is not None:
                ours[o.parent_id] = ours.get(o.parent_id, 0) + o.internal
    out = []
    for p in run.parents:
        life = p.end - p.start
        if p.rate is None or p.rate <= 0 or life < POV_MIN_LIFE_S:
            continue
        mine = ours.get(p.parent_id, 0)
        others = p.tape_volume - p.lit_qty
        if mine + others <= 0:
            continue
        out.append((mine / (mine + others) / float(p.rate), life))
    return out


def pov_participation(runs: Sequence[RunResult]) -> dict[str, Any]:
    per_seed: dict[str, float | None] = {}
    with_internal: dict[str, float | None] = {}
    parents: dict[str, int] = {}
    for r in runs:
        for out, internal in ((per_seed, False), (with_internal, True)):
            ratios = pov_ratios(r, internal)
            life = sum(w for _, w in ratios)
            out[str(r.seed)] = sum(v * w for v, w in ratios) / life if life else None
        parents[str(r.seed)] = len(ratios)
    values = [v for v in per_seed.values() if v is not None]
    low, high = POV_BAND
    return {"band": list(POV_BAND), "min_life_s": POV_MIN_LIFE_S, "per_seed": per_seed,
            "per_seed_with_internal": with_internal, "parents": parents,
            "met": bool(values) and len(values) == len(per_seed) and all(low <= v <= high for v in values)}


# ---- 4. IS against its estimate, and against TWAP with HIGH urgency ---------------------------


@dataclass(frozen=True, slots=True)
class ParentCost:
    """One parent's realized shortfall in $ against ``benchmark`` (see the module docstring)."""

    parent_id: str
    qty: int
    filled: int
    cost: float  # execution + fees + opportunity, $


def parent_costs(run: RunResult, benchmarks: Mapping[str, Decimal] | None = None) -> dict[str, ParentCost]:
    """Realized cost per parent: vs ``benchmarks[parent]`` when given (parents without one are left
    out), else vs the arrival mid of its first order."""
    orders: dict[str, list[Any]] = {}
    for o in run.orders:
        if o.parent_id is not None:
            orders.setdefault(o.parent_id, []).append(o)
    fees: dict[str, Decimal] = {}
    for x in run.executions:
        fees[x.parent_id] = fees.get(x.parent_id, Decimal(0)) + x.fee
    out: dict[str, ParentCost] = {}
    for p in run.parents:
        own = orders.get(p.parent_id)
        if not own:
            continue
        if benchmarks is not None:
            if p.parent_id not in benchmarks:
                continue
            p0 = benchmarks[p.parent_id]
        else:
            p0 = own[0].arrival
        qty = sum(o.qty for o in own)
        filled = sum(o.filled for o in own)
        notional = sum((o.notional for o in own), Decimal(0))
        end = p.end_mid if p.end_mid is not None else p0
        execution = p.sign * (notional - filled * p0)
        cost = execution + fees.get(p.parent_id, Decimal(0)) + p.sign * (qty - filled) * (end - p0)
        out[p.parent_id] = ParentCost(p.parent_id, qty, filled, float(cost))
    return out


def is_vs_estimate_seed(run: RunResult) -> dict[str, Any]:
    """One seed: realized cost of the IS parents the estimates cover against ΣE ± sqrt(ΣVar)."""
    qty_of = {p.parent_id: p.qty for p in run.parents}
    covered = {e.parent_id: e for e in run.estimates
               if e.arrival_price is not None and qty_of.get(e.parent_id) == e.qty}
    benchmarks = {pid: e.arrival_price for pid, e in covered.items() if e.arrival_price is not None}
    costs = parent_costs(run, benchmarks)
    realized = sum(c.cost for c in costs.values())
    expected = sum(covered[pid].expected_cost for pid in costs)
    std = math.sqrt(sum(covered[pid].std_cost ** 2 for pid in costs))
    return {"parents": len(costs), "estimates": len(run.estimates), "realized": realized, "expected": expected,
            "std": std, "z": (realized - expected) / std if std > 0 else None,
            "met": bool(costs) and abs(realized - expected) <= std}


def twap_of_estimate(e: EstimateRecord) -> tuple[float, float] | None:
    """(E, Var) of the TWAP (λ = 0) trajectory over the estimate's window, periods and parameters.

    The estimate journals κ, λ, E and sqrt(Var) but not σ, η, γ, ε; what the comparison needs is
    recovered from it exactly (GUIDE §6): the IS holdings x_k = X·sinh(κ(T−t_k))/sinh(κT) give
    σ² = Var/(τΣx_k²); then (2/τ²)(cosh κτ − 1) = λσ²/η̃ gives η̃; and E − (η̃/τ)Σn_k² is
    ½γX² + εX, the same for any trajectory that only buys (or only sells).  The TWAP plan is then
    :func:`~metaorder.execution.almgren_chriss.plan` at λ = 0 with η = η̃, γ = 0 and ε carrying that
    constant.  None when it cannot be recovered (κ = 0: the plan *was* TWAP; a single period).
    """
    n, qty, horizon = e.periods, float(e.qty), e.horizon_s
    if e.kappa <= 0 or n < 2 or qty <= 0 or horizon <= 0 or e.risk_aversion <= 0:
        return None
    tau = horizon / n
    xs = [qty * holdings_fraction(e.kappa, horizon, j * tau) for j in range(n + 1)]
    xs[0], xs[-1] = qty, 0.0
    squares = sum(x * x for x in xs[1:])
    if squares <= 0:
        return None
    sigma2 = e.std_cost ** 2 / (tau * squares)
    denom = 2.0 * (math.cosh(e.kappa * tau) - 1.0)
    if denom <= 0:
        return None
    eta_t = e.risk_aversion * sigma2 * tau * tau / denom
    trades = [xs[k - 1] - xs[k] for k in range(1, n + 1)]
    constant = e.expected_cost - eta_t / tau * sum(t * t for t in trades)
    params = AcParameters(sigma=math.sqrt(sigma2), eta=eta_t, gamma=0.0, epsilon=max(constant, 0.0) / qty)
    twap = plan(qty, horizon, n, params, 0.0)
    return twap.expected_cost, twap.variance


def is_vs_estimate(runs: Sequence[RunResult]) -> dict[str, Any]:
    """Target 4a: per seed, the total against ΣE ± sqrt(ΣVar) (the headline, ``met`` on ≥ 2/3 of seeds)
    and each parent against its own E ± sd (``parents_inside`` per seed, ``parents_inside_share`` pooled)."""
    per_seed: dict[str, Any] = {}
    inside = total = 0
    for r in runs:
        seed = is_vs_estimate_seed(r)
        by_id = {e.parent_id: e for e in r.estimates if e.arrival_price is not None}
        costs = parent_costs(r, {pid: e.arrival_price for pid, e in by_id.items() if e.arrival_price is not None})
        symbol = {p.parent_id: p.symbol for p in r.parents}
        parents = {}
        for pid, c in costs.items():
            e = by_id[pid]
            ok = abs(c.cost - e.expected_cost) <= e.std_cost
            parents[symbol.get(pid, pid)] = {"realized": c.cost, "expected": e.expected_cost, "std": e.std_cost,
                                             "z": (c.cost - e.expected_cost) / e.std_cost if e.std_cost > 0
                                             else None, "completion": c.filled / c.qty if c.qty else None,
                                             "inside": ok}
            inside += ok
            total += 1
        seed["parents_inside"] = sum(1 for p in parents.values() if p["inside"])
        seed["by_parent"] = parents
        per_seed[str(r.seed)] = seed
    met = sum(1 for s in per_seed.values() if s["met"])
    return {"headline": "per seed, total realized inside ΣE ± sqrt(ΣVar)",
            "threshold_seed_share": round(IS_SEED_SHARE, 4), "per_seed": per_seed, "seeds_met": met,
            "parents_inside_share": inside / total if total else None,
            "met": bool(per_seed) and met >= IS_SEED_SHARE * len(per_seed) - 1e-9}


def _by_symbol(runs: Sequence[RunResult]) -> dict[str, list[float]]:
    """Realized cost ($, vs the first order's arrival mid, fees and opportunity included) per symbol
    over the runs: one order per symbol in the experiment, so a symbol names an order."""
    out: dict[str, list[float]] = {}
    for r in runs:
        symbol = {p.parent_id: p.symbol for p in r.parents}
        for pid, c in parent_costs(r).items():
            out.setdefault(symbol[pid], []).append(c.cost)
    return out


def is_high_vs_twap(is_runs: Sequence[RunResult], twap_runs: Sequence[RunResult]) -> dict[str, Any]:
    """Target 4b: E + λ·Var of IS against TWAP, both Urgency HIGH — in the model (each journaled
    estimate against the TWAP plan with its parameters, :func:`twap_of_estimate`) and realized (per
    order: mean + λ·variance of its realized cost over seeds, λ its estimates' median; summed)."""
    model_is = model_twap = 0.0
    parents = lower = 0
    lambdas: dict[str, list[float]] = {}
    for r in is_runs:
        symbol = {p.parent_id: p.symbol for p in r.parents}
        for e in r.estimates:
            lambdas.setdefault(symbol.get(e.parent_id, ""), []).append(e.risk_aversion)
            twap = twap_of_estimate(e)
            if twap is None:
                continue
            ours = e.expected_cost + e.risk_aversion * e.std_cost ** 2
            theirs = twap[0] + e.risk_aversion * twap[1]
            model_is += ours
            model_twap += theirs
            parents += 1
            lower += ours <= theirs * (1 + 1e-9)
    model = {"parents": parents, "parents_lower": lower, "is_objective": model_is, "twap_objective": model_twap,
             "met": parents > 0 and model_is < model_twap}
    ours_by, theirs_by = _by_symbol(is_runs), _by_symbol(twap_runs)
    by_order: dict[str, Any] = {}
    obj_is = obj_twap = 0.0
    complete = bool(ours_by)
    for sym in sorted(set(ours_by) | set(theirs_by)):
        lam = statistics.median(lambdas[sym]) if lambdas.get(sym) else None
        a, b = ours_by.get(sym, []), theirs_by.get(sym, [])
        with_is, with_twap = _objective(a, lam), _objective(b, lam)
        by_order[sym] = {"risk_aversion": lam, "is": with_is, "twap": with_twap}
        if with_is is None or with_twap is None:
            complete = False
            continue
        obj_is += with_is["objective"]
        obj_twap += with_twap["objective"]
    realized = {"by_order": by_order, "is_objective": obj_is if complete else None,
                "twap_objective": obj_twap if complete else None, "paired": _paired(is_runs, twap_runs),
                "risk_aversion": statistics.median([x for v in lambdas.values() for x in v]) if lambdas else 0.0,
                "met": complete and obj_is < obj_twap}
    return {"urgency": "HIGH", "model": model, "realized": realized, "met": model["met"] and realized["met"]}


def _paired(is_runs: Sequence[RunResult], twap_runs: Sequence[RunResult]) -> dict[str, Any] | None:
    """Shown, not judged: the mean over seeds of (IS − TWAP) total realized cost on the same market
    seed, and its standard error — whether the realized comparison is a signal or the seeds' noise."""
    def totals(runs: Sequence[RunResult]) -> dict[int, float]:
        return {r.seed: sum(c.cost for c in parent_costs(r).values()) for r in runs}

    ours, theirs = totals(is_runs), totals(twap_runs)
    diffs = [ours[s] - theirs[s] for s in sorted(set(ours) & set(theirs))]
    if len(diffs) < 2:
        return None
    return {"seeds": len(diffs), "mean_is_minus_twap": statistics.fmean(diffs),
            "stderr": statistics.stdev(diffs) / math.sqrt(len(diffs))}


def _objective(costs: Sequence[float], lam: float | None) -> dict[str, float] | None:
    if lam is None or len(costs) < 2:
        return None
    mean, var = statistics.fmean(costs), statistics.variance(costs)
    return {"mean": mean, "var": var, "sd": math.sqrt(var), "objective": mean + lam * var}
