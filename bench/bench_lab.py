"""Wall time of the simulated day: the engine trading a 10,000-order flow in the lab.

Why: issue 17's target is "4 instruments x 5 venues with the engine trading a 10,000-order flow in
the lab <= 10 s wall".  This script is that day, reproducibly: the lab's landscape
(configs/lab.toml, configs/lab-venues.toml: three lit venues, two dark pools), its four liquid
instruments (KELP, the illiquid one, left out), the standard flow's orders (lab/flow.py) arriving
over ``--span-hours`` of the 6.5 h session instead of ten a minute, and one lab run
(:func:`metaorder.lab.runner.run_once`: the daemon's intake and engine, every message FIX through
the codec, the virtual clock) worked by one strategy.  It reports the run's wall seconds and what
happened in it.

Run: ``PYTHONPATH=src python bench/bench_lab.py [--orders 10000] [--strategy TWAP] [--seed 1]
[--span-hours 6] [--json] [--profile FILE.pstats]``.  ``--json`` prints one line
``{"wall_s": ..., "orders": ..., "events": ..., "events_per_s": ...}`` (plus details): ``events`` is
the market's scheduled events (fair-price steps, background takers, dark contras), the venue
messages handed to the engine and the journal's entries, together.  ``METAORDER_PURE_PYTHON=1``
runs the compiled modules' sources (a profile then shows them).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import sys
import time
from pathlib import Path
from typing import Any

from metaorder.config import load_config, load_venues_config
from metaorder.lab.command import instruments
from metaorder.lab.flow import standard_flow
from metaorder.lab.runner import run_once
from metaorder.logs import configure_logging
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import Simulation

ROOT = Path(__file__).resolve().parent.parent


def run(orders: int, strategy: str, seed: int, span_hours: float, profile: Path | None = None) -> dict[str, Any]:
    config = load_config(ROOT / "configs/lab.toml")
    venues = load_venues_config(ROOT / "configs/lab-venues.toml")
    liquid = [i for i in instruments(config, venues) if not i.illiquid]
    flow = standard_flow(orders, seed, liquid, config.risk.duplicate_window_s, span_s=span_hours * 3600.0)
    seen: list[tuple[Simulation, MemoryJournal]] = []
    profiler = cProfile.Profile() if profile is not None else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = run_once(config, venues, flow, strategy, seed, on_simulation=lambda s, j: seen.append((s, j)))
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - started
    if profiler is not None and profile is not None:
        profiler.dump_stats(str(profile))
    sim, journal = seen[0]
    market_events = sim.venues.sim.market.stats().events
    journal_entries = sum(1 for _ in journal.replay())
    events = market_events + sim.venue_messages + journal_entries
    filled = sum(o.filled for o in result.orders)
    wanted = sum(o.qty for o in result.orders)
    return {
        "wall_s": round(wall, 2),
        "orders": len(result.orders),
        "events": events,
        "events_per_s": round(events / wall),
        "market_events": market_events,
        "venue_messages": sim.venue_messages,
        "journal_entries": journal_entries,
        "executions": len(result.executions),
        "completion": round(filled / wanted, 4) if wanted else None,
        "virtual_s": round(result.virtual_s, 1),
        "strategy": strategy,
        "seed": seed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--strategy", default="TWAP", help="TWAP, VWAP, IS, POV or ALONE (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--span-hours", type=float, default=6.0, help="the flow arrives over this many hours")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    parser.add_argument("--profile", type=Path, metavar="FILE.pstats", help="write a cProfile of the run")
    args = parser.parse_args()
    if args.orders < 1 or not 0 < args.span_hours <= 6.3:
        print("bench_lab: --orders must be positive and --span-hours in (0, 6.3] (the session is 6.5 h)",
              file=sys.stderr)
        return 2
    configure_logging("console", "WARNING")
    result = run(args.orders, args.strategy.upper(), args.seed, args.span_hours, args.profile)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
