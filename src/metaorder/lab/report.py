"""The lab's outputs: the terminal table, the JSON object and the plot.

Rendering only: the figures are :mod:`metaorder.lab.metrics`'s.  Every bps figure is labelled as a
*cost* (positive = worse than the benchmark, GUIDE §6), and every figure is a mean over seeds with
its standard deviation beside it, so two strategies are never compared on one lucky seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metaorder.lab.metrics import order_costs
from metaorder.lab.runner import ALONE, RunResult

CONVENTIONS = {
    "cost_bps": "cost = s*(avg_px - benchmark)/benchmark*1e4, s = +1 buy, -1 sell; positive = worse than benchmark",
    "cost_vs_arrival_bps": "vs the consolidated mid at each order's acknowledgement, weighted by filled qty",
    "fees_bps": "venue fees of the child orders (negative: rebates) over the notional executed at venues",
    "all_in_cost_bps": "cost_vs_arrival_bps + venue fees over the client filled notional",
    "vs_interval_vwap_bps": "vs the market VWAP over each order's life (ack to final report), weighted by filled qty",
    "participation": "per parent: lit executions / consolidated tape volume (ours included) between its first "
                     "acknowledgement and its last final report; mean over parents weighted by parent qty",
    "completion": "client shares filled by each order's ExpireTime / client shares ordered (a fraction)",
    "internal_share": "client shares filled by internal crosses / client shares ordered (a fraction)",
    "sent_to_venues": "shares of all child orders sent (re-sent remainders count again)",
    "executed_at_venues": "shares executed at venues",
    "_sd": "sample standard deviation over seeds (null with one seed)",
}
ROUTER_CONVENTIONS = {
    "dark_share": "shares executed in dark pools (midpoint) / shares executed at venues",
    "time_to_complete_s": "per fully filled client order, acknowledgement to last fill (s); mean over them",
    "markout_bps": "s*(mid at fill - mid 10 s later)/mid at fill*1e4 per journaled markout, qty-weighted; "
                   "positive = the market moved against the fill; null: none journaled (no scorecard)",
    "leakage_bps": "per parent, the simulated fair price's move from its start to its end, s*(end-start)/start*1e4, "
                   "weighted by parent qty; positive = against us (information-leakage proxy)",
    "fees_per_share": "venue fees / shares executed at venues ($ per share; negative: rebates)",
    "overfills_detected": "parents with a ParentOverfilled event or halted for an over-fill, summed over seeds",
    "overfills_allocated": "shares allocated to client orders beyond their OrderQty, summed over seeds (must be 0)",
}


@dataclass(frozen=True, slots=True)
class LabOutcome:
    """Everything a lab run produced: the runs by strategy and the summaries of their figures."""

    flow: str  # "standard (N orders per seed)" or the flow file
    seeds: tuple[int, ...]
    strategies: tuple[str, ...]  # in run order, ALONE last
    not_registered: tuple[str, ...]  # asked for, but the engine works them as TWAP (not registered yet)
    liquidity: dict[str, str]  # symbol -> "liquid" or "illiquid"
    runs: dict[str, list[RunResult]]
    summaries: dict[str, dict[str, Any]]
    wall_s: float
    targets: dict[str, Any] | None = None  # aggregation and the target experiments (None: not measured)
    routers: tuple[str, ...] = ()  # --routers: the flow once per routing logic (metaorder.lab.routing)
    router_runs: dict[str, list[RunResult]] = field(default_factory=dict)
    router_summaries: dict[str, dict[str, Any]] = field(default_factory=dict)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):  # 4 decimals, or 4 significant digits for tiny ones (λ is ~1e-5 per $)
        return round(value, 4) if abs(value) >= 0.01 or value == 0 else float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def to_json(outcome: LabOutcome) -> dict[str, Any]:
    """The ``--json`` object: ``{"seeds": K, "by_strategy": {"TWAP": {...}, ..., "ALONE": {...}}, ...}``."""
    by_strategy: dict[str, Any] = {}
    for name in outcome.strategies:
        runs = outcome.runs[name]
        by_strategy[name] = _rounded({
            **outcome.summaries[name],
            "rejected": sum(r.rejected for r in runs),
            "alerts": sum(len(r.alerts) for r in runs),
            "wall_s": sum(r.wall_s for r in runs),
            "virtual_s": max(r.virtual_s for r in runs),
        })
    out = {
        "seeds": len(outcome.seeds), "seed_list": list(outcome.seeds), "flow": outcome.flow,
        "strategies": list(outcome.strategies), "worked_as_twap": list(outcome.not_registered),
        "instruments": outcome.liquidity, "conventions": CONVENTIONS, "by_strategy": by_strategy,
        "targets": _rounded(outcome.targets) if outcome.targets is not None else None,
        "wall_s": round(outcome.wall_s, 3),
    }
    if outcome.routers:  # only with --routers: the default object stays as it was
        out["routers"] = list(outcome.routers)
        out["conventions"] = {**CONVENTIONS, **ROUTER_CONVENTIONS}
        out["by_router"] = {name: _rounded({
            **outcome.router_summaries[name],
            "rejected": sum(r.rejected for r in runs),
            "alerts": sum(len(r.alerts) for r in runs),
            "wall_s": sum(r.wall_s for r in runs),
            "virtual_s": max((r.virtual_s for r in runs), default=0.0),
        }) for name, runs in outcome.router_runs.items()}
    return out


# ---- the terminal table -------------------------------------------------------------------------


def _cell(summary: Mapping[str, Any], name: str, scale: float = 1.0, fmt: str = "+.2f") -> str:
    mean, sd = summary.get(name), summary.get(f"{name}_sd")
    if mean is None:
        return "n/a"
    text = f"{mean * scale:{fmt}}"
    return text if sd is None else f"{text}±{sd * scale:.{fmt[-2]}f}"


def format_table(outcome: LabOutcome) -> str:
    """The human-readable report: one line per strategy, then the costs by liquidity group."""
    seeds = outcome.seeds
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    lines = [
        f"metaorder lab  {outcome.flow}, {seed_text}, accelerated time (in-process venues, virtual clock)",
        "costs in bps, positive = worse than the benchmark; mean±sd over seeds; participation, completion and "
        "internal as % of quantity",
    ]
    if outcome.not_registered:
        lines.append(f"note           {', '.join(outcome.not_registered)} not registered yet: worked as TWAP")
    head = (f"  {'strategy':<9}{'vs arrival':>14}{'fees':>12}{'all-in':>14}{'vs VWAP':>14}{'particip.':>13}"
            f"{'complete':>13}{'internal':>12}{'sent':>11}{'executed':>11}")
    if outcome.strategies:
        lines.append(head)
    for name in outcome.strategies:
        s = outcome.summaries[name]
        lines.append(
            f"  {name:<9}{_cell(s, 'cost_vs_arrival_bps'):>14}{_cell(s, 'fees_bps'):>12}"
            f"{_cell(s, 'all_in_cost_bps'):>14}{_cell(s, 'vs_interval_vwap_bps'):>14}"
            f"{_cell(s, 'participation', 100, '.1f'):>13}{_cell(s, 'completion', 100, '.1f'):>13}"
            f"{_cell(s, 'internal_share', 100, '.1f'):>12}{_shares(s, 'sent_to_venues'):>11}"
            f"{_shares(s, 'executed_at_venues'):>11}")
    groups = sorted({g for s in outcome.summaries.values() for g in s.get("by_liquidity", {})})
    if groups:
        members = {g: ", ".join(sym for sym, kind in outcome.liquidity.items() if kind == g) for g in groups}
        lines.append("by liquidity   cost vs arrival (bps) / vs interval VWAP (bps) / participation (%)")
        lines.append("  " + f"{'strategy':<9}" + "".join(f"{f'{g} ({members[g]})':>44}" for g in groups))
        for name in outcome.strategies:
            by = outcome.summaries[name].get("by_liquidity", {})
            cells = []
            for g in groups:
                s = by.get(g, {})
                cells.append(f"{_cell(s, 'cost_vs_arrival_bps')} / {_cell(s, 'vs_interval_vwap_bps')} / "
                             f"{_cell(s, 'participation', 100, '.1f')}")
            lines.append("  " + f"{name:<9}" + "".join(f"{c:>44}" for c in cells))
    if outcome.routers:
        lines += router_table(outcome)
    base = outcome.summaries.get(ALONE, {}).get("cost_vs_arrival_bps")
    if base:
        ratios = [f"{name} {s['cost_vs_arrival_bps'] / base:.2f}" for name, s in outcome.summaries.items()
                  if name != ALONE and s.get("cost_vs_arrival_bps") is not None]
        lines.append(f"vs ALONE       cost vs arrival as a multiple of ALONE's: {', '.join(ratios)}")
    if outcome.targets is not None:
        lines += ["targets        (figures, not assertions; met = yes/no)"]
        lines += [f"  {line}" for line in target_lines(outcome.targets)]
    runs = sum(len(r) for r in outcome.runs.values()) + sum(len(r) for r in outcome.router_runs.values())
    what = f"{runs} runs of the flow" if runs else ""
    if outcome.targets is not None:
        what = f"{what} and the target experiments" if what else "the target experiments"
    lines.append(f"time           {what} in {outcome.wall_s:.1f} s wall")
    return "\n".join(lines)


def router_table(outcome: LabOutcome) -> list[str]:
    """The by-router lines of the table: the flow routed by each logic (metaorder.lab.routing)."""
    lines = ["by router      the flow with every order routed by one logic; costs in bps, fees in bps and $/share;"
             " dark, complete as % of qty; time to complete in s",
             f"  {'router':<11}{'vs arrival':>14}{'fees':>12}{'$/share':>10}{'complete':>13}{'t complete':>13}"
             f"{'dark':>11}{'markout':>12}{'leakage':>14}{'over-fills':>12}"]
    for name in outcome.routers:
        s = outcome.router_summaries[name]
        overfills = f"{s.get('overfills_detected', 0)}/{s.get('overfills_allocated', 0)}"
        lines.append(
            f"  {name:<11}{_cell(s, 'cost_vs_arrival_bps'):>14}{_cell(s, 'fees_bps'):>12}"
            f"{_num(s.get('fees_per_share'), '+.4f'):>10}{_cell(s, 'completion', 100, '.1f'):>13}"
            f"{_cell(s, 'time_to_complete_s', 1, '.0f'):>13}{_cell(s, 'dark_share', 100, '.1f'):>11}"
            f"{_cell(s, 'markout_bps'):>12}{_cell(s, 'leakage_bps'):>14}{overfills:>12}")
    lines.append("  (over-fills: parents detected / shares allocated to clients, summed over seeds)")
    return lines


def _num(value: Any, fmt: str = ".2f") -> str:
    return "n/a" if value is None else f"{value:{fmt}}"


def _seeds(per_seed: Mapping[str, Any], fmt: str = ".2f") -> str:
    return " ".join(_num(v, fmt) for v in per_seed.values())


def _met(target: Mapping[str, Any] | None) -> str:
    return "n/a" if target is None else ("yes" if target.get("met") else "NO")


def target_lines(targets: Mapping[str, Any]) -> list[str]:
    """One line per target (plain text, for the table and ``make bench``): figure per seed, threshold, met."""
    lines = []
    agg = targets.get("aggregation")
    if agg is not None:
        parts = [f"{name} {_num(s['over_seeds'])} [{_seeds(s['per_seed'])}]" for name, s in agg["by_strategy"].items()]
        lines.append(f"aggregation        cost vs arrival / ALONE's (≤ {agg['threshold']}): {'; '.join(parts)}"
                     f"  met: {_met(agg)}")
    vw = targets.get("vwap_tracking")
    if vw is not None:
        lines.append(f"vwap_tracking      VWAP parents' mean |vs interval VWAP|, liquid, bps (≤ {vw['threshold_bps']}):"
                     f" per seed {_seeds(vw['per_seed'])}  met: {_met(vw)}")
    pov = targets.get("pov_participation")
    if pov is not None:
        lines.append(f"pov_participation  realized / ρ, parents active ≥ {pov['min_life_s']:.0f} s "
                     f"(in [{pov['band'][0]}, {pov['band'][1]}] every seed): per seed {_seeds(pov['per_seed'], '.3f')}"
                     f"  met: {_met(pov)}")
        done = [c for o in pov.get("experiment", {}).get("orders", []) for c in o["completion"].values()
                if c is not None]
        if done:  # sized not to finish: the participation, not the order, ends them
            lines[-1] += f"; completion {min(done):.0%}..{max(done):.0%}"
    isv = targets.get("is_vs_estimate")
    if isv is not None:
        seeds = " ".join(f"{s['realized']:+.0f}/{s['expected']:+.0f}±{s['std']:.0f}" for s in isv["per_seed"].values())
        inside = " ".join(f"{s['parents_inside']}/{s['parents']}" for s in isv["per_seed"].values()
                          if "parents_inside" in s)
        pooled = isv.get("parents_inside_share")
        lines.append(f"is_vs_estimate     realized / ΣE±sqrt(ΣVar) $ per seed: {seeds}; inside on "
                     f"{isv['seeds_met']} of {len(isv['per_seed'])} (≥ 2/3)  met: {_met(isv)}")
        if inside:
            lines[-1] += f"; parents inside their own E±sd per seed: {inside} (pooled {_num(pooled)})"
    high = targets.get("is_high_vs_twap")
    if high is not None:
        m, r = high["model"], high["realized"]
        lines.append(f"is_high_vs_twap    E+λVar $, HIGH: model IS {m['is_objective']:.2f} vs "
                     f"TWAP {m['twap_objective']:.2f}"
                     f" ({m['parents_lower']}/{m['parents']} parents lower); realized IS {_num(r['is_objective'])} vs "
                     f"TWAP {_num(r['twap_objective'])} (λ {r['risk_aversion']:g})  met: model {_met(m)}, "
                     f"realized {_met(r)}")
        paired = r.get("paired")
        if paired:
            lines[-1] += (f"; IS − TWAP paired by seed {paired['mean_is_minus_twap']:+.0f} $ "
                          f"± {paired['stderr']:.0f} (stderr)")
    return lines + router_target_lines(targets)


def router_target_lines(targets: Mapping[str, Any]) -> list[str]:
    """The routing logics' targets (metaorder.lab.routing), one line each."""
    lines = []
    seek = targets.get("seek_kelp")
    if seek is not None:
        dark = seek["seek_dark_share"]
        share = _num(None if dark is None else dark * 100, ".1f")
        lines.append(f"seek_kelp          KELP experiment: SEEK dark share {share}"
                     f" % (≥ {seek['dark_share_min'] * 100:.0f} %), cost vs arrival SEEK {_num(seek['seek_cost_bps'])}"
                     f" vs BEST {_num(seek['best_cost_bps'])} bps (≤ {_num(seek['seek_cost_max_bps'])})  met: "
                     f"{_met(seek)} (dark {'yes' if seek['dark_met'] else 'NO'}, cost "
                     f"{'yes' if seek['cost_met'] else 'NO'})")
    for key, name, label, fmt, unit in (("parallel_fastest", "parallel_fastest", "time to complete", ".0f", " s"),
                                        ("sequential_lowest_fees", "sequential_fees", "fees per share", "+.5f",
                                         " $")):
        t = targets.get(key)
        if t is not None:
            values = ", ".join(f"{r} {_num(v, fmt)}" for r, v in t["by_router"].items())
            lines.append(f"{name:<19}{label}{unit}: {values}; lowest {t['lowest']}  met: {_met(t)}")
    over = targets.get("no_overfill_allocated")
    if over is not None:
        lines.append(f"no_overfill_alloc. {over['runs']} runs: {over['allocated']} shares allocated beyond OrderQty "
                     f"(must be 0), {over['detected']} over-filled parents detected  met: {_met(over)}")
    dark = targets.get("dark_fill_estimates")
    if dark is not None:
        if dark.get("met") is None:
            lines.append("dark_fill_estimates scorecard's dark fill probability vs realised: n/a (no scorecard)")
        else:
            pools = "; ".join(f"{p} {v['estimate'] * 100:.1f} vs {v['realised'] * 100:.1f} % ({v['children']} children)"
                              for p, v in dark["by_pool"].items()) or "no pool with enough children"
            lines.append(f"dark_fill_estimates scorecard estimate vs realised fill rate (within "
                         f"{dark['tolerance'] * 100:.0f} pts): {pools}  met: {_met(dark)}")
    return lines


def bench_markdown(figures: Mapping[str, Any]) -> str:
    """``make bench``'s execution-quality section from the lab's JSON object (:func:`to_json`)."""
    seeds = figures.get("seed_list", [])
    lines = [f"Execution quality: `metaorder lab`, {figures.get('flow', '')}, seeds {', '.join(map(str, seeds))} "
             "(in-process venues, virtual clock). Costs in bps, positive = worse; mean ± sd over seeds.", "",
             "| strategy | vs arrival | fees | vs VWAP | participation | completion | internal |",
             "|---|---|---|---|---|---|---|"]
    if not figures.get("by_strategy"):
        lines = lines[:1]  # the target experiments alone: no flow to tabulate
    for name, s in figures.get("by_strategy", {}).items():
        lines.append(f"| {name} | {_cell(s, 'cost_vs_arrival_bps')} | {_cell(s, 'fees_bps')} | "
                     f"{_cell(s, 'vs_interval_vwap_bps')} | {_cell(s, 'participation', 100, '.1f')} % | "
                     f"{_cell(s, 'completion', 100, '.1f')} % | {_cell(s, 'internal_share', 100, '.1f')} % |")
    targets = figures.get("targets")
    if targets:
        lines += ["", "Targets (figures, not assertions):", ""]
        lines += [f"- {line}" for line in target_lines(targets)]
    return "\n".join(lines)


def _shares(summary: Mapping[str, Any], name: str) -> str:
    value = summary.get(name)
    return "n/a" if value is None else f"{value:,.0f}"


# ---- the plot ---------------------------------------------------------------------------------


def write_plot(outcome: LabOutcome, path: str | Path) -> None:
    """Two panels: per-order cost vs arrival per strategy (box plot over seeds × orders), and one
    parent's execution against its schedule (cumulative shares sent and not canceled — the strategy's
    decisions as the venues saw them — and cumulative shares executed, with an even pace from its
    first order's arrival to its last order's ExpireTime for reference; shares crossed internally
    never reach a venue, so the pace is drawn to what the venues executed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (costs, schedule) = plt.subplots(1, 2, figsize=(13, 5))
    names = list(outcome.strategies)
    data = [order_costs(outcome.runs[n]) or [0.0] for n in names]
    costs.boxplot(data, showfliers=False)
    costs.set_xticks(range(1, len(names) + 1), names)
    costs.axhline(0.0, color="grey", linewidth=0.8)
    costs.set_ylabel("cost vs arrival mid, bps (positive = worse)")
    costs.set_title(f"Per-order cost, {len(outcome.seeds)} seed(s) x orders (whiskers 1.5 IQR)")

    picked = _schedule_run(outcome)
    if picked is not None:
        run, parent_id = picked
        _plot_schedule(schedule, run, parent_id)
    else:
        schedule.text(0.5, 0.5, "no parent to show", ha="center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _schedule_run(outcome: LabOutcome) -> tuple[RunResult, str] | None:
    """The parent of the first strategy's first seed that executed most at venues (ALONE only if it is
    all there is): the one whose schedule has the most steps to show."""
    names = [n for n in outcome.strategies if n != ALONE] or list(outcome.strategies)
    run = outcome.runs[names[0]][0]
    executed: dict[str, int] = {}
    for x in run.executions:
        executed[x.parent_id] = executed.get(x.parent_id, 0) + x.qty
    if not executed:
        return None
    return run, max(executed, key=lambda p: (executed[p], p))


def _plot_schedule(ax: Any, run: RunResult, parent_id: str) -> None:
    parent = next(p for p in run.parents if p.parent_id == parent_id)
    start, end = run.windows.get(parent_id, (parent.start, parent.end))
    t0 = start
    out_t, out_q, total = [t0], [0], 0
    for c in sorted((c for c in run.children if c.parent_id == parent_id), key=lambda c: c.time):
        total += c.qty
        out_t.append(c.time)
        out_q.append(total)
    fill_t, fill_q, filled = [t0], [0], 0
    for x in sorted((x for x in run.executions if x.parent_id == parent_id), key=lambda x: x.time):
        filled += x.qty
        fill_t.append(x.time)
        fill_q.append(filled)
    venue_qty = filled or parent.qty
    minutes = [(t - t0) / 60 for t in out_t]
    ax.step(minutes, out_q, where="post", label="sent, not canceled (filled + working)")
    ax.step([(t - t0) / 60 for t in fill_t], fill_q, where="post", label="executed at venues")
    ax.plot([0, (end - t0) / 60], [0, venue_qty], linestyle="--", color="grey",
            label="even pace, first arrival to last ExpireTime")
    orders = sum(1 for o in run.orders if o.parent_id == parent_id)
    ax.set_title(f"{run.strategy} seed {run.seed}: parent {parent_id}, {parent.symbol}, {orders} order(s) of "
                 f"{parent.qty:,} shares, {filled:,} at venues", fontsize=10)
    ax.set_xlabel("minutes after the parent's first order")
    ax.set_ylabel("shares (cumulative)")
    ax.legend(loc="lower right")

