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
    parser.add_argument("--strategies", type=_strategies, default=DEFAULT_STRATEGIES, metavar="LIST",
                        help="comma-separated TWAP,VWAP,IS,POV (FLOW: each order's own); the baseline ALONE "
                             "is always run (default: TWAP,VWAP,IS,POV)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="engine configuration (default: %(default)s)")
    parser.add_argument("--venues", default=DEFAULT_VENUES, help="simulated venues (default: %(default)s)")
    parser.add_argument("--urgency", type=str.upper, choices=URGENCIES, metavar="LEVEL",
                        help="replace every order's Urgency (848) by LOW, MEDIUM or HIGH (default: each order's)")
    targets = parser.add_mutually_exclusive_group()
    targets.add_argument("--no-targets", dest="targets", action="store_false",
                         help="skip the targets (the aggregation ratio and the target experiments)")
    targets.add_argument("--targets-only", action="store_true",
                         help="run only the target experiments (IS, VWAP, POV: lab/experiments.py), not the flow")
    parser.add_argument("--experiments", type=_experiments, default=EXPERIMENTS, metavar="LIST",
                        help="the target experiments to run, comma-separated (default: is,vwap,pov)")
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
    try:
        outcome = run_lab(config, venues, seeds=args.seeds, strategies=args.strategies, orders=args.orders,
                          flow_path=args.flow, jobs=args.jobs, urgency=args.urgency, targets=args.targets,
                          targets_only=args.targets_only, experiments=args.experiments,
                          experiment_minutes=args.experiment_minutes)
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
            experiment_minutes: float = DEFAULT_MINUTES) -> LabOutcome:
    """Every (strategy, seed) run of the flow, ALONE included, their summaries and the targets.

    ``urgency`` replaces every order's.  With ``targets``, the aggregation target is measured on the
    flow's runs and the other targets by the target experiments (:mod:`metaorder.lab.experiments`,
    ``experiments`` of them, windows scaled by ``experiment_minutes``), all runs sharing one pool of
    ``jobs`` processes, longest first.  ``targets_only``: the experiments alone, no flow (the
    aggregation target, which is the flow's, is then not measured)."""
    started = stopwatch()
    insts = instruments(config, venues)
    if not insts:
        raise FlowError("no instrument of the lab's configuration is traded at its venues")
    seed_list = tuple(range(1, seeds + 1))
    names: tuple[str, ...] = () if targets_only else (*[n for n in strategies if n != ALONE], ALONE)
    flows: dict[int, list[FlowOrder]] = {}
    if names:
        fixed = read_flow(flow_path, [i.symbol for i in insts]) if flow_path is not None else None
        flows = {s: fixed if fixed is not None else standard_flow(orders, s, insts, config.risk.duplicate_window_s)
                 for s in seed_list}
    flow_tasks: list[tuple[str, int, str | None]] = [(name, s, urgency) for name in names for s in seed_list]
    todo: list[Task] = [t for e in experiments for t in experiment_tasks(e, seed_list)] \
        if targets or targets_only else []
    if jobs > 1 and len(flow_tasks) + len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(flow_tasks) + len(todo))) as pool:
            exp_futures = [pool.submit(run_task, config, venues, t, experiment_minutes) for t in todo]
            futures = [pool.submit(run_once, config, venues, flows[s], name, s, time.perf_counter, u)
                       for name, s, u in flow_tasks]
            exp_results = [f.result() for f in exp_futures]
            results = [f.result() for f in futures]
    else:
        exp_results = [run_task(config, venues, t, experiment_minutes) for t in todo]
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
    registered = build_strategies(config.execution, config.strategy).kinds
    missing = tuple(n for n in names if n in STRATEGY_KINDS and n not in registered)
    if not names:
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
    return LabOutcome(flow_text, seed_list, names, missing, liquidity, runs, summaries, stopwatch() - started,
                      target_figures)


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
