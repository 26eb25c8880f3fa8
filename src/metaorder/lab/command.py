"""``metaorder lab``: the command line, the loop over strategies and seeds, and ``make bench``'s figures.

Why a lab: metaorder's promise is that aggregating, netting and slicing small orders costs less than
sending each alone.  The lab replays one client flow once per strategy, and once as the baseline
ALONE (every order on arrival, on its own, marketable, through the same router: no aggregation, no
netting), over several seeds, and reports the figures of :mod:`metaorder.lab.metrics` as mean±sd.
Seed s drives the market, the strategies' timing and the standard flow, so every figure is
repeatable; the defaults (seeds 1..5, 200 orders, configs/lab.toml and lab-venues.toml) are fixed.

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

from metaorder.config import MetaorderConfig, VenuesConfig, load_config, load_venues_config
from metaorder.lab.flow import URGENCIES, FlowError, FlowInstrument, FlowOrder, read_flow, standard_flow
from metaorder.lab.metrics import summarize
from metaorder.lab.report import LabOutcome, format_table, to_json, write_plot
from metaorder.lab.runner import ALONE, FLOW, STRATEGY_KINDS, RunResult, run_once
from metaorder.lab.targets import compute_targets
from metaorder.wiring import build_strategies

DEFAULT_STRATEGIES = ("TWAP", "VWAP", "IS", "POV")
DEFAULT_ORDERS = 200
DEFAULT_SEEDS = 5
DEFAULT_CONFIG = "configs/lab.toml"
DEFAULT_VENUES = "configs/lab-venues.toml"
HIGH = "HIGH"
HIGH_PAIR = ("IS", "TWAP")  # the targets' experiment: both with every order's Urgency HIGH
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


def _count(what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``lab`` subcommand's options."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--flow", type=Path, metavar="FILE.csv",
                        help="client orders to replay (columns time_s,session,account,symbol,side,qty,ord_type,"
                             "limit,strategy,window_s,participation,urgency; see configs/lab-flow.csv)")
    source.add_argument("--orders", type=_count("a positive whole number"), default=DEFAULT_ORDERS, metavar="N",
                        help="size of the generated standard flow, per seed (default: %(default)s)")
    parser.add_argument("--seeds", type=_count("a positive whole number"), default=DEFAULT_SEEDS, metavar="K",
                        help="seeds 1..K (market, strategy timing, standard flow) (default: %(default)s)")
    parser.add_argument("--strategies", type=_strategies, default=DEFAULT_STRATEGIES, metavar="LIST",
                        help="comma-separated TWAP,VWAP,IS,POV (FLOW: each order's own); the baseline ALONE "
                             "is always run (default: TWAP,VWAP,IS,POV)")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="engine configuration (default: %(default)s)")
    parser.add_argument("--venues", default=DEFAULT_VENUES, help="simulated venues (default: %(default)s)")
    parser.add_argument("--urgency", type=str.upper, choices=URGENCIES, metavar="LEVEL",
                        help="replace every order's Urgency (848) by LOW, MEDIUM or HIGH (default: each order's)")
    parser.add_argument("--no-targets", dest="targets", action="store_false",
                        help="skip the targets (and their extra IS and TWAP runs with Urgency HIGH)")
    parser.add_argument("--jobs", type=_count("a positive whole number"), default=1, metavar="J",
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
                          flow_path=args.flow, jobs=args.jobs, urgency=args.urgency, targets=args.targets)
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
            targets: bool = True) -> LabOutcome:
    """Every (strategy, seed) run of the flow, ALONE included, their summaries and the targets.

    ``urgency`` replaces every order's.  With ``targets`` (and IS asked for), the IS and TWAP runs of
    the same flow with Urgency HIGH are added for :func:`~metaorder.lab.targets.is_high_vs_twap`
    (reused from the main runs when ``urgency`` is already HIGH and both are there)."""
    started = stopwatch()
    insts = instruments(config, venues)
    if not insts:
        raise FlowError("no instrument of the lab's configuration is traded at its venues")
    seed_list = tuple(range(1, seeds + 1))
    fixed = read_flow(flow_path, [i.symbol for i in insts]) if flow_path is not None else None
    flows: dict[int, list[FlowOrder]] = {
        s: fixed if fixed is not None else standard_flow(orders, s, insts, config.risk.duplicate_window_s)
        for s in seed_list}
    names = (*[n for n in strategies if n != ALONE], ALONE)
    tasks: list[tuple[str, int, str | None]] = [(name, s, urgency) for name in names for s in seed_list]
    high_reused = urgency == HIGH and all(n in names for n in HIGH_PAIR)
    if targets and "IS" in names and not high_reused:
        tasks += [(name, s, HIGH) for name in HIGH_PAIR for s in seed_list]
    results: list[RunResult]
    if jobs > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            futures = [pool.submit(run_once, config, venues, flows[s], name, s, time.perf_counter, u)
                       for name, s, u in tasks]
            results = [f.result() for f in futures]
    else:
        results = [run_once(config, venues, flows[s], name, s, urgency=u) for name, s, u in tasks]
    runs: dict[str, list[RunResult]] = {name: [] for name in names}
    high_runs: dict[str, list[RunResult]] = {}
    for r in results:
        if r.urgency == urgency:
            runs[r.strategy].append(r)
        if r.urgency == HIGH and r.strategy in HIGH_PAIR:
            high_runs.setdefault(r.strategy, []).append(r)
    liquidity = {i.symbol: "illiquid" if i.illiquid else "liquid" for i in insts}
    breakdowns: dict[str, dict[str, Callable[[str], bool]]] = {
        "by_liquidity": {g: _member(liquidity, g) for g in sorted(set(liquidity.values()))},
        "by_instrument": {sym: _is(sym) for sym in liquidity},
    }
    summaries: dict[str, dict[str, Any]] = {name: summarize(runs[name], breakdowns) for name in names}
    registered = build_strategies(config.execution, config.strategy).kinds
    missing = tuple(n for n in names if n in STRATEGY_KINDS and n not in registered)
    flow_text = str(flow_path) if flow_path is not None else f"standard flow of {orders} orders"
    if urgency is not None:
        flow_text += f", every order's Urgency {urgency}"
    target_figures = compute_targets(runs, liquidity, high_runs) if targets else None
    return LabOutcome(flow_text, seed_list, names, missing, liquidity, runs, summaries, stopwatch() - started,
                      target_figures)


def _member(liquidity: dict[str, str], group: str) -> Callable[[str], bool]:
    return lambda symbol: liquidity.get(symbol) == group


def _is(symbol: str) -> Callable[[str], bool]:
    return lambda s: s == symbol


def bench_figures(seeds: int = 3, orders: int = DEFAULT_ORDERS, strategies: Sequence[str] = DEFAULT_STRATEGIES,
                  config: str | Path = DEFAULT_CONFIG, venues: str | Path = DEFAULT_VENUES,
                  jobs: int = 1) -> dict[str, Any]:
    """``make bench``'s execution-quality section: the ``--json`` object of the standard flow, fixed seeds."""
    outcome = run_lab(load_config(config), load_venues_config(venues), seeds=seeds, strategies=strategies,
                      orders=orders, jobs=jobs)
    return to_json(outcome)
