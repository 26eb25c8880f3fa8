"""The routing logics compared (``metaorder lab --routers``): per-router figures, their targets, the KELP experiment.

Why: issue 15 gives the engine four routing logics (BEST, SEQUENTIAL, PARALLEL, SEEK) and promises
what each is for — SEEK the least impact on an illiquid name by using the dark pools, PARALLEL the
fastest completion, SEQUENTIAL the lowest fees, none ever allocating an over-fill to a client.  The
lab replays the same flow once per router (every order routed by it: ``[routing.map]`` set to it,
:func:`metaorder.lab.runner.routed_by`; the orders keep their own strategy, FLOW) and measures, on
top of :mod:`metaorder.lab.metrics`'s figures (floats: statistics over simulated runs):

* ``dark_share`` — shares executed in dark pools (venue kind ``dark``) over shares executed at
  venues.  The simulated pools cross only at the lit midpoint (venues/dark.py), so every dark share
  is a midpoint share.
* ``time_to_complete_s`` — per fully filled client order, its acknowledgement to its last fill (s);
  the mean over those orders.  Orders not filled in full are in ``completion``, not here.
* ``markout_bps`` — per journaled markout (events.VenueMarkout) at 10 s, the mid's move against the
  fill, s·(mid_fill − mid_10s)/mid_fill·10⁴ (positive: the market moved against what we just did —
  adverse selection), weighted by the fill's quantity; None when none was journaled (the markouts
  are the scorecard's: an engine without one journals none).
* ``leakage_bps`` — the information-leakage proxy: per parent, the simulated market's latent fair
  price (venues/market.py) from its first acknowledgement to its end, s·(fair_end − fair_start)/
  fair_start·10⁴ (positive: against us), weighted by the parent's quantity.  Our fills move the fair
  price (the square-root law), the random walk averages out over seeds and parents.
* ``fees_per_share`` — venue fees over shares executed at venues ($ per share; negative: rebates).
* ``overfills_detected`` — parents with a ParentOverfilled event, or halted for an over-fill;
  ``overfills_allocated`` — shares allocated to client orders (venue fills and crosses) beyond their
  OrderQty.  Both summed over the runs (seeds), not averaged: one is one too many.

Targets (:func:`routing_targets`; figures, not assertions, like :mod:`metaorder.lab.targets`):

1. ``seek_kelp`` — on the KELP experiment (:func:`kelp_flow`: one sizeable KELP parent per seed, the
   same for every router): SEEK's ``dark_share`` ≥ 30 % and its cost vs arrival at least 20 %
   lower than BEST's (means over seeds: the seeds are the same market for both, so it is paired).
2. ``parallel_fastest`` — PARALLEL's mean ``time_to_complete_s`` on the flow the lowest of the routers.
3. ``no_overfill_allocated`` — ``overfills_allocated`` 0 in every run, flow and experiment.
4. ``sequential_lowest_fees`` — SEQUENTIAL's ``fees_per_share`` on the flow the lowest of the routers.
5. ``dark_fill_estimates`` — per dark pool, the scorecard's midpoint fill probability at the end of a
   run (per instrument, weighted by the child orders sent there: the realised rate is per child)
   within 10 points of the share of the pool's child orders with any fill, pooled over the router
   runs that sent at least :data:`MIN_DARK_CHILDREN` children there.  ``n/a`` without a scorecard.

The targets comparing routers need all of them run: one that cannot be measured is left out.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from metaorder.config import MetaorderConfig, VenuesConfig
from metaorder.lab.flow import FlowOrder
from metaorder.lab.metrics import run_figures, summarize
from metaorder.lab.runner import FLOW, RunResult, run_once

ROUTERS = ("BEST", "SEQUENTIAL", "PARALLEL", "SEEK")
ROUTER_FIGURES = ("dark_share", "time_to_complete_s", "markout_bps", "leakage_bps", "fees_per_share")
ILLIQUID = "KELP"
SEEK_DARK_SHARE_MIN = 0.30
SEEK_COST_CUT = 0.20  # SEEK's cost vs arrival at least this much lower than BEST's, on KELP
DARK_ESTIMATE_TOLERANCE = 0.10
MIN_DARK_CHILDREN = 10  # fewer child orders in a pool and its realised fill rate is noise
KELP_ADV_SHARE = 0.04  # the KELP experiment's parent: this share of KELP's daily volume over KELP_MINUTES
KELP_MINUTES = 30.0
_BPS = 10_000.0

RouterTask = tuple[str, str, int]  # (what: "flow" or "kelp", router, seed)


# ---- the figures --------------------------------------------------------------------------------


def router_figures(run: RunResult, symbols: Callable[[str], bool] = lambda s: True) -> dict[str, float | None]:
    """The router figures of one run over the instruments ``symbols`` accepts (module docstring)."""
    execs = [x for x in run.executions if symbols(x.symbol)]
    executed = sum(x.qty for x in execs)
    dark = sum(x.qty for x in execs if not x.lit)
    fees = sum((x.fee for x in execs), Decimal(0))
    done = [o.completed_s for o in run.orders if symbols(o.symbol) and o.completed_s is not None]
    marks = [m for m in run.markouts if symbols(m.symbol) and m.fill_mid > 0]
    mark_qty = sum(m.qty for m in marks)
    moved = [(p.sign * (p.fair_end - p.fair_start) / p.fair_start * _BPS, p.qty) for p in run.parents
             if symbols(p.symbol) and p.fair_start and p.fair_end is not None]
    moved_qty = sum(q for _, q in moved)
    return {
        "dark_share": dark / executed if executed else None,
        "time_to_complete_s": statistics.fmean(done) if done else None,
        "markout_bps": sum(m.sign * (m.fill_mid - m.mid_after) / m.fill_mid * _BPS * m.qty for m in marks) / mark_qty
        if mark_qty else None,
        "leakage_bps": sum(v * q for v, q in moved) / moved_qty if moved_qty else None,
        "fees_per_share": float(fees / executed) if executed else None,
    }


def _router_over_seeds(runs: Sequence[RunResult], symbols: Callable[[str], bool]) -> dict[str, float | None]:
    per_run = [router_figures(r, symbols) for r in runs]
    out: dict[str, float | None] = {}
    for name in ROUTER_FIGURES:
        values = [v for f in per_run if (v := f[name]) is not None and math.isfinite(v)]
        out[name] = statistics.fmean(values) if values else None
        out[f"{name}_sd"] = statistics.stdev(values) if len(values) >= 2 else None
    return out


def summarize_router(runs: Sequence[RunResult],
                     breakdowns: Mapping[str, Mapping[str, Callable[[str], bool]]]) -> dict[str, Any]:
    """:func:`metaorder.lab.metrics.summarize`'s figures plus the router figures, overall and per
    breakdown group, and the over-fill counts summed over the runs."""
    out: dict[str, Any] = dict(summarize(runs, breakdowns))
    out.update(_router_over_seeds(runs, lambda s: True))
    for breakdown, groups in breakdowns.items():
        for group, accepts in groups.items():
            out[breakdown][group].update(_router_over_seeds(runs, accepts))
    out["overfills_detected"] = sum(len(r.overfilled_parents) for r in runs)
    out["overfills_allocated"] = sum(r.overallocated for r in runs)
    return out


# ---- the KELP experiment ------------------------------------------------------------------------


def kelp_flow(config: MetaorderConfig, seed: int, minutes: float = KELP_MINUTES) -> list[FlowOrder]:
    """One KELP parent of :data:`KELP_ADV_SHARE` of its daily volume (scaled to ``minutes``), TWAP over
    ``minutes`` from the flow's start: a buy on odd seeds, a sell on even ones (so the market's drift
    over the seeds does not favour one side).  One order: nothing to net, every share is routed; the
    strategy is the same for every router, only the routing differs."""
    inst = {i.symbol: i for i in config.instrument}[ILLIQUID]
    qty = max(1, round(KELP_ADV_SHARE * (inst.daily_volume or 0) * minutes / KELP_MINUTES / inst.lot_size)) \
        * inst.lot_size
    side = "1" if seed % 2 else "2"
    return [FlowOrder(0.0, "OMS1", "KELP01", ILLIQUID, side, qty, None, "TWAP", minutes * 60, None, None,
                      cl_ord_id="K1")]


def router_tasks(routers: Sequence[str], seeds: Sequence[int], flow: bool, kelp: bool) -> list[RouterTask]:
    """The runs ``--routers`` needs: the flow per router and seed, and the KELP experiment's."""
    return ([("kelp", r, s) for r in routers for s in seeds] if kelp else []) + \
        ([("flow", r, s) for r in routers for s in seeds] if flow else [])


def run_router_task(config: MetaorderConfig, venues: VenuesConfig, task: RouterTask,
                    flow: Sequence[FlowOrder] | None = None, minutes: float = KELP_MINUTES) -> RunResult:
    """One run of ``task`` (module level: it goes to worker processes); ``flow``: the seed's flow, for
    a ``"flow"`` task (the KELP experiment makes its own)."""
    what, router, seed = task
    if what == "kelp":
        flow = kelp_flow(config, seed, minutes)
    if flow is None:
        raise ValueError(f"a {what} run needs its flow")
    return run_once(config, venues, flow, FLOW, seed, router=router)


# ---- the targets --------------------------------------------------------------------------------


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.fmean(kept) if kept else None


def _lowest(by_router: Mapping[str, float | None], who: str) -> dict[str, Any] | None:
    if set(ROUTERS) - set(by_router):
        return None
    values = {r: v for r, v in by_router.items() if v is not None}
    best = min(values, key=lambda r: values[r]) if values else None
    return {"by_router": dict(by_router), "lowest": best, "met": best == who}


def seek_kelp(kelp_runs: Mapping[str, Sequence[RunResult]]) -> dict[str, Any] | None:
    """Target 1 on the KELP experiment's runs by router (None without SEEK's and BEST's)."""
    seek, best = kelp_runs.get("SEEK"), kelp_runs.get("BEST")
    if not seek or not best:
        return None
    kelp = lambda s: s == ILLIQUID  # noqa: E731

    def cost(runs: Sequence[RunResult]) -> float | None:
        return _mean([run_figures(r, kelp).values.get("cost_vs_arrival_bps") for r in runs])

    dark = _mean([router_figures(r, kelp)["dark_share"] for r in seek])
    seek_cost, best_cost = cost(seek), cost(best)
    # "at least 20 % lower": below BEST's by 20 % of its magnitude (a BEST that earned must be beaten too)
    cut = best_cost - SEEK_COST_CUT * abs(best_cost) if best_cost is not None else None
    by_router = {r: {"cost_vs_arrival_bps": cost(rs), "dark_share": _mean([router_figures(x, kelp)["dark_share"]
                                                                           for x in rs])}
                 for r, rs in kelp_runs.items()}
    dark_ok = dark is not None and dark >= SEEK_DARK_SHARE_MIN
    cost_ok = seek_cost is not None and cut is not None and seek_cost <= cut
    return {"dark_share_min": SEEK_DARK_SHARE_MIN, "cost_cut": SEEK_COST_CUT, "seek_dark_share": dark,
            "seek_cost_bps": seek_cost, "best_cost_bps": best_cost, "seek_cost_max_bps": cut,
            "per_seed": {str(r.seed): {"seek_dark_share": router_figures(r, kelp)["dark_share"],
                                       "seek_cost_bps": run_figures(r, kelp).values.get("cost_vs_arrival_bps")}
                         for r in seek},
            "by_router": by_router, "dark_met": dark_ok, "cost_met": cost_ok, "met": dark_ok and cost_ok}


def dark_fill_estimates(runs: Sequence[RunResult]) -> dict[str, Any]:
    """Target 5: per dark pool, the scorecard's estimate against the realised child fill rate."""
    if not any(r.dark_estimates is not None for r in runs):
        return {"tolerance": DARK_ESTIMATE_TOLERANCE, "by_pool": {}, "met": None, "note": "n/a: no scorecard"}
    pools: dict[str, list[tuple[int, int, float]]] = {}  # pool -> (sent, filled, children-weighted estimate)
    for r in runs:
        if r.dark_estimates is None:
            continue
        estimated = {(v, s, ioc): p for v, s, ioc, p in r.dark_estimates}
        by_pool: dict[str, list[Any]] = {}
        for d in r.dark_children:
            row = by_pool.setdefault(d.venue, [0, 0, 0.0])
            row[0] += d.sent
            row[1] += d.filled
            row[2] += d.sent * estimated.get((d.venue, d.symbol, d.ioc), 0.0)
        for pool, (sent, filled, weighted) in by_pool.items():
            if sent >= MIN_DARK_CHILDREN:
                pools.setdefault(pool, []).append((sent, filled, weighted / sent))
    out: dict[str, Any] = {}
    for pool, rows in sorted(pools.items()):
        sent = sum(n for n, _, _ in rows)
        realised = sum(f for _, f, _ in rows) / sent
        estimate = sum(n * e for n, _, e in rows) / sent
        out[pool] = {"runs": len(rows), "children": sent, "realised": realised, "estimate": estimate,
                     "met": abs(estimate - realised) <= DARK_ESTIMATE_TOLERANCE}
    return {"tolerance": DARK_ESTIMATE_TOLERANCE, "min_children": MIN_DARK_CHILDREN, "by_pool": out,
            "met": bool(out) and all(p["met"] for p in out.values())}


def routing_targets(flow_runs: Mapping[str, Sequence[RunResult]],
                    kelp_runs: Mapping[str, Sequence[RunResult]]) -> dict[str, Any]:
    """The targets that can be measured on these runs (router -> runs), keyed by name."""
    out: dict[str, Any] = {}
    seek = seek_kelp(kelp_runs)
    if seek is not None:
        out["seek_kelp"] = seek
    every = lambda s: True  # noqa: E731
    fastest = _lowest({r: _mean([router_figures(x, every)["time_to_complete_s"] for x in rs])
                       for r, rs in flow_runs.items()}, "PARALLEL")
    if fastest is not None:
        out["parallel_fastest"] = fastest
    cheapest = _lowest({r: _mean([router_figures(x, every)["fees_per_share"] for x in rs])
                        for r, rs in flow_runs.items()}, "SEQUENTIAL")
    if cheapest is not None:
        out["sequential_lowest_fees"] = cheapest
    all_runs = [x for group in (flow_runs, kelp_runs) for rs in group.values() for x in rs]
    if all_runs:
        allocated = {f"{what} {x.router} seed {x.seed}": x.overallocated
                     for what, group in (("flow", flow_runs), ("kelp", kelp_runs)) for rs in group.values() for x in rs}
        out["no_overfill_allocated"] = {"runs": len(all_runs), "allocated": sum(allocated.values()),
                                        "detected": sum(len(x.overfilled_parents) for x in all_runs),
                                        "offending": {k: v for k, v in allocated.items() if v},
                                        "met": not any(allocated.values())}
        out["dark_fill_estimates"] = dark_fill_estimates(all_runs)
    return out


def summaries(runs: Mapping[str, Sequence[RunResult]],
              breakdowns: Mapping[str, Mapping[str, Callable[[str], bool]]]) -> dict[str, dict[str, Any]]:
    """``{router: summarize_router(...)}`` in the order given."""
    return {name: summarize_router(rs, breakdowns) for name, rs in runs.items()}


