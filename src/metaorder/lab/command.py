"""``metaorder lab``: the command line, the loop over strategies and seeds, and ``make bench``'s figures.

Why a lab: metaorder's promise is that aggregating, netting and slicing small orders costs less than
sending each alone.  The lab replays one client flow once per strategy, and once as the baseline
ALONE (every order on arrival, on its own, marketable, through the same router: no aggregation, no
netting), over several seeds, and reports the figures of :mod:`metaorder.lab.metrics` as mean±sd.
Seed s drives the market, the strategies' timing and the standard flow, so every figure is
repeatable; the defaults (seeds 1..5, 200 orders, configs/lab.toml and lab-venues.toml) are fixed.

The issue's targets: aggregation is the flow's (its cost against ALONE's); the strategies' targets
(VWAP tracking, POV participation, IS against its estimate and against TWAP) are measured by the
target experiments of :mod:`metaorder.lab.experiments` — small flows of sizeable parents that
exercise them — run by default beside the flow (``--no-targets`` skips them, ``--targets-only``
runs them alone, ``--experiment-minutes`` shortens them for tests).

``--routers BEST,SEQUENTIAL,PARALLEL,SEEK`` compares the routing logics instead (issue 15,
:mod:`metaorder.lab.routing`): the flow once per router and seed, every order routed by it, and
(unless ``--no-targets``) the KELP experiment per router and seed; ``by_router`` in the JSON.  The
strategies' runs and experiments are then left out unless ``--strategies`` / ``--experiments`` ask
for them too.

Runs are independent, so ``--jobs`` spreads them over worker processes; the result is the same
whatever the number of jobs (each run is a pure function of its inputs).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from metaorder.cliargs import positive
from metaorder.config import MetaorderConfig, VenuesConfig, load_config, load_venues_config
from metaorder.lab.experiments import DEFAULT_MINUTES, EXPERIMENTS, Task, merge_targets, run_task
from metaorder.lab.experiments import tasks as experiment_tasks
from metaorder.lab.flow import URGENCIES, FlowError, FlowInstrument, FlowOrder, read_flow, standard_flow
from metaorder.lab.metrics import summarize
from metaorder.lab.report import LabOutcome, format_table, to_json, write_plot
from metaorder.lab.routing import ROUTERS, RouterTask, router_tasks, routing_targets, run_router_task
from metaorder.lab.routing import summaries as router_summaries
from metaorder.lab.runner import ALONE, FLOW, STRATEGY_KINDS, RunResult, run_once
from metaorder.lab.targets import aggregation
from metaorder.wiring import build_strategies

DEFAULT_STRATEGIES = ("TWAP", "VWAP", "IS", "POV")
DEFAULT_ORDERS = 200
DEFAULT_SEEDS = 5
DEFAULT_CONFIG = "configs/lab.toml"
DEFAULT_VENUES = "configs/lab-venues.toml"
ILLIQUID_SPREAD_BPS = Decimal(10)  # an instrument whose one-tick spread is this wide or wider is "illiquid"


def _strategies(text: str) -> tuple[str, ...]:
    """``--strategies``: a comma-separated list of TWAP, VWAP, IS, POV, FLOW (ALONE is always added)."""
    names = [n.strip().upper() for n in text.split(",") if n.strip()]
    known = (*STRATEGY_KINDS, FLOW, ALONE)
    for name in names:
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown strategy {name!r} (known: {', '.join(known)})")
    if not names:
        raise argparse.ArgumentTypeError("no strategy given")
    return tuple(dict.fromkeys(n for n in names if n != ALONE))


def _routers(text: str) -> tuple[str, ...]:
    """``--routers``: a comma-separated list of BEST, SEQUENTIAL, PARALLEL, SEEK."""
    names = [n.strip().upper() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in ROUTERS:
            raise argparse.ArgumentTypeError(f"unknown router {name!r} (known: {', '.join(ROUTERS)})")
    if not names:
        raise argparse.ArgumentTypeError("no router given")
    return tuple(dict.fromkeys(names))


def _experiments(text: str) -> tuple[str, ...]:
    """``--experiments``: a comma-separated list of is, vwap, pov."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    for name in names:
        if name not in EXPERIMENTS:
            raise argparse.ArgumentTypeError(f"unknown experiment {name!r} (known: {', '.join(EXPERIMENTS)})")
    return tuple(dict.fromkeys(names))


def _minutes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 120:
        raise argparse.ArgumentTypeError(f"must be a number of minutes in (0, 120], not {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``lab`` subcommand's options."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--flow", type=Path, metavar="FILE.csv",
                        help="client orders to replay (columns time_s,session,account,symbol,side,qty,ord_type,"
                             "limit,strategy,window_s,participation,urgency; see configs/lab-flow.csv)")
    source.add_argument("--orders", type=positive(int, "a positive whole number"), default=DEFAULT_ORDERS, metavar="N",
                        help="size of the generated standard flow, per seed (default: %(default)s)")
    parser.add_argument("--seeds", type=positive(int, "a positive whole number"), default=DEFAULT_SEEDS, metavar="K",
                        help="seeds 1..K (market, strategy timing, standard flow) (default: %(default)s)")
    parser.add_argument("--strategies", type=_strategies, default=None, metavar="LIST",
                        help="comma-separated TWAP,VWAP,IS,POV (FLOW: each order's own); the baseline ALONE "
                             "is always run (default: TWAP,VWAP,IS,POV; none with --routers)")
    parser.add_argument("--routers", type=_routers, default=(), metavar="LIST",
                        help="compare routing logics: comma-separated BEST,SEQUENTIAL,PARALLEL,SEEK; the flow "
                             "once per router with every order routed by it, and the KELP experiment "
                             "(by_router in --json)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="engine configuration (default: %(default)s)")
    parser.add_argument("--venues", default=DEFAULT_VENUES, help="simulated venues (default: %(default)s)")
    parser.add_argument("--urgency", type=str.upper, choices=URGENCIES, metavar="LEVEL",
                        help="replace every order's Urgency (848) by LOW, MEDIUM or HIGH (default: each order's)")
    targets = parser.add_mutually_exclusive_group()
    targets.add_argument("--no-targets", dest="targets", action="store_false",
                         help="skip the targets (the aggregation ratio and the target experiments)")
    targets.add_argument("--targets-only", action="store_true",
                         help="run only the target experiments (IS, VWAP, POV: lab/experiments.py), not the flow")
    parser.add_argument("--experiments", type=_experiments, default=None, metavar="LIST",
                        help="the target experiments to run, comma-separated (default: is,vwap,pov; none "
                             "with --routers and no --strategies)")
    parser.add_argument("--experiment-minutes", type=_minutes, default=DEFAULT_MINUTES, metavar="M",
                        help="the experiments' base window in minutes; quantities scale with it "
                             "(default: %(default)s)")
    parser.add_argument("--jobs", type=positive(int, "a positive whole number"), default=1, metavar="J",
                        help="worker processes (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="write the cost distribution per strategy and one parent's schedule (PNG)")


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the lab as ``args`` say and print the report on ``out``; 2 (and one line on stderr) for a bad flow."""
    import json

    config = load_config(args.config)
    venues = load_venues_config(args.venues)
    routers: tuple[str, ...] = getattr(args, "routers", ())
    strategies = args.strategies if args.strategies is not None else (() if routers else DEFAULT_STRATEGIES)
    experiments = args.experiments if args.experiments is not None else (
        () if routers and args.strategies is None else EXPERIMENTS)
    try:
        outcome = run_lab(config, venues, seeds=args.seeds, strategies=strategies, orders=args.orders,
                          flow_path=args.flow, jobs=args.jobs, urgency=args.urgency, targets=args.targets,
                          targets_only=args.targets_only, experiments=experiments,
                          experiment_minutes=args.experiment_minutes, routers=routers)
    except FlowError as exc:
        print(f"metaorder lab: {exc}", file=sys.stderr)
        return 2
    if args.plot is not None:
        write_plot(outcome, args.plot)
    print(json.dumps(to_json(outcome)) if args.json else format_table(outcome), file=out)
    return 0


def instruments(config: MetaorderConfig, venues: VenuesConfig) -> list[FlowInstrument]:
    """The instruments both the engine and the venues know, each marked illiquid when its one-tick
    spread is at least :data:`ILLIQUID_SPREAD_BPS`."""
    traded = {i.symbol: i for i in venues.instrument}
    out = []
    for i in config.instrument:
        v = traded.get(i.symbol)
        if v is not None:
            illiquid = v.tick_size / v.reference_price * 10_000 >= ILLIQUID_SPREAD_BPS
            out.append(FlowInstrument(i.symbol, i.reference_price, i.tick_size, i.lot_size, v.daily_volume, illiquid))
    return out


def run_lab(config: MetaorderConfig, venues: VenuesConfig, seeds: int = DEFAULT_SEEDS,
            strategies: Sequence[str] = DEFAULT_STRATEGIES, orders: int = DEFAULT_ORDERS,
            flow_path: Path | None = None, jobs: int = 1,
            stopwatch: Callable[[], float] = time.perf_counter, urgency: str | None = None,
            targets: bool = True, targets_only: bool = False, experiments: Sequence[str] = EXPERIMENTS,
            experiment_minutes: float = DEFAULT_MINUTES, routers: Sequence[str] = ()) -> LabOutcome:
    """Every (strategy, seed) run of the flow, ALONE included, their summaries and the targets.

    ``urgency`` replaces every order's.  With ``targets``, the aggregation target is measured on the
    flow's runs and the other targets by the target experiments (:mod:`metaorder.lab.experiments`,
    ``experiments`` of them, windows scaled by ``experiment_minutes``), all runs sharing one pool of
    ``jobs`` processes, longest first.  ``targets_only``: the experiments alone, no flow (the
    aggregation target, which is the flow's, is then not measured).  ``routers``: the flow once per
    router too (unless ``targets_only``) and, with targets, the KELP experiment per router
    (:mod:`metaorder.lab.routing`; its windows are ``experiment_minutes`` long); an empty
    ``strategies`` runs no strategy (nor ALONE)."""
    started = stopwatch()
    insts = instruments(config, venues)
    if not insts:
        raise FlowError("no instrument of the lab's configuration is traded at its venues")
    seed_list = tuple(range(1, seeds + 1))
    chosen = [n for n in strategies if n != ALONE]
    names: tuple[str, ...] = () if targets_only or not chosen else (*chosen, ALONE)
    flows: dict[int, list[FlowOrder]] = {}
    routed: list[RouterTask] = router_tasks(routers, seed_list, flow=not targets_only,
                                            kelp=bool(routers) and (targets or targets_only))
    if names or any(what == "flow" for what, _, _ in routed):
        fixed = read_flow(flow_path, [i.symbol for i in insts]) if flow_path is not None else None
        flows = {s: fixed if fixed is not None else standard_flow(orders, s, insts, config.risk.duplicate_window_s)
                 for s in seed_list}
    flow_tasks: list[tuple[str, int, str | None]] = [(name, s, urgency) for name in names for s in seed_list]
    todo: list[Task] = [t for e in experiments for t in experiment_tasks(e, seed_list)] \
        if targets or targets_only else []
    kelp_minutes = experiment_minutes  # the KELP experiment's window, KELP_MINUTES (30) by default
    total = len(flow_tasks) + len(todo) + len(routed)
    if jobs > 1 and total > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, total)) as pool:
            exp_futures = [pool.submit(run_task, config, venues, t, experiment_minutes) for t in todo]
            router_futures = [pool.submit(run_router_task, config, venues, t, flows.get(t[2]), kelp_minutes)
                              for t in routed]
            futures = [pool.submit(run_once, config, venues, flows[s], name, s, time.perf_counter, u)
                       for name, s, u in flow_tasks]
            exp_results = [f.result() for f in exp_futures]
            router_results = [f.result() for f in router_futures]
            results = [f.result() for f in futures]
    else:
        exp_results = [run_task(config, venues, t, experiment_minutes) for t in todo]
        router_results = [run_router_task(config, venues, t, flows.get(t[2]), kelp_minutes) for t in routed]
        results = [run_once(config, venues, flows[s], name, s, urgency=u) for name, s, u in flow_tasks]
    runs: dict[str, list[RunResult]] = {name: [] for name in names}
    for r in results:
        runs[r.strategy].append(r)
    liquidity = {i.symbol: "illiquid" if i.illiquid else "liquid" for i in insts}
    breakdowns: dict[str, dict[str, Callable[[str], bool]]] = {
        "by_liquidity": {g: _member(liquidity, g) for g in sorted(set(liquidity.values()))},
        "by_instrument": {sym: _is(sym) for sym in liquidity},
    }
    summaries: dict[str, dict[str, Any]] = {name: summarize(runs[name], breakdowns) for name in names}
    by_router: dict[str, list[RunResult]] = {r: [] for r in routers if not targets_only}
    kelp_runs: dict[str, list[RunResult]] = {r: [] for r in routers}
    for t, r in zip(routed, router_results, strict=True):
        (by_router if t[0] == "flow" else kelp_runs)[t[1]].append(r)
    registered = build_strategies(config.execution, config.strategy).kinds
    missing = tuple(n for n in names if n in STRATEGY_KINDS and n not in registered)
    if not names and not by_router:
        flow_text = "target experiments only"
    else:
        flow_text = str(flow_path) if flow_path is not None else f"standard flow of {orders} orders"
        if urgency is not None:
            flow_text += f", every order's Urgency {urgency}"
    target_figures: dict[str, Any] | None = None
    if targets or targets_only:
        target_figures = {}
        if names:
            target_figures["aggregation"] = aggregation(runs)
        target_figures.update(merge_targets(experiments, todo, exp_results, config))
        if routers:
            target_figures.update(routing_targets(by_router, {r: rs for r, rs in kelp_runs.items() if rs}))
    return LabOutcome(flow_text, seed_list, names, missing, liquidity, runs, summaries, stopwatch() - started,
                      target_figures, tuple(by_router), by_router, router_summaries(by_router, breakdowns))


def _member(liquidity: dict[str, str], group: str) -> Callable[[str], bool]:
    return lambda symbol: liquidity.get(symbol) == group


def _is(symbol: str) -> Callable[[str], bool]:
    return lambda s: s == symbol


def bench_figures(seeds: int = 3, orders: int = DEFAULT_ORDERS, strategies: Sequence[str] = DEFAULT_STRATEGIES,
                  config: str | Path = DEFAULT_CONFIG, venues: str | Path = DEFAULT_VENUES,
                  jobs: int = 1, targets_only: bool = False) -> dict[str, Any]:
    """``make bench``'s execution-quality section: the ``--json`` object of the standard flow and the
    target experiments (``targets_only``: the experiments alone), fixed seeds."""
    outcome = run_lab(load_config(config), load_venues_config(venues), seeds=seeds, strategies=strategies,
                      orders=orders, jobs=jobs, targets_only=targets_only)
    return to_json(outcome)
