"""Wall time of one simulated trading day of the background market.

Why: every back-test of the router and the execution algorithms runs the market simulator under
it, so a simulated day must cost seconds, not minutes (budget: under 10 s for one instrument on one
lit venue with the default background flow).  This script runs the default day event by event, the
way the venue layer drives it (``next_event_time`` then ``advance``), and reports the cost.

Run: ``PYTHONPATH=src python bench/bench_market.py [--seed 1] [--venues 1] [--json]``.
``--json`` prints one line ``{"day_seconds": ..., "events": ..., "trades": ...}`` (plus details):
``events`` are the scheduled events run (clock ticks and taker arrivals), ``trades`` the fills.
"""

from __future__ import annotations

import argparse
import json
import time

from metaorder.venues.market import EventKind, InstrumentParams, Market, MarketParams
from metaorder.venues.matching import OrderBook

T0 = 1_700_000_000.0
DAY = 23_400.0


def run(seed: int, venues: int) -> dict[str, float | int]:
    instrument = InstrumentParams("ACME", reference_price_ticks=5000)
    books = {f"V{i + 1}": {"ACME": OrderBook("ACME")} for i in range(venues)}
    market = Market(MarketParams(seed=seed, session_start=T0, session_end=T0 + DAY), [instrument], books)
    trades = volume = market_events = 0
    started = time.perf_counter()
    while (t := market.next_event_time()) is not None:
        for event in market.advance(t):
            market_events += 1
            if event.kind is EventKind.TRADE:
                trades += len(event.fills)
                volume += sum(f.qty for f in event.fills)
    elapsed = time.perf_counter() - started
    stats = market.stats()
    return {
        "day_seconds": round(elapsed, 3),
        "events": stats.events,
        "trades": trades,
        "market_events": market_events,
        "taker_orders": stats.taker_orders,
        "volume": volume,
        "quotes_placed": stats.quotes_placed,
        "quotes_cancelled": stats.quotes_cancelled,
        "final_fair_ticks": round(market.fair_price("ACME"), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--venues", type=int, default=1, help="lit venues trading the instrument")
    parser.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    args = parser.parse_args()
    result = run(args.seed, args.venues)
    if args.json:
        print(json.dumps(result))
        return
    print(f"one 6.5 h day, 1 instrument, {args.venues} lit venue(s), seed {args.seed}")
    for key, value in result.items():
        print(f"  {key:<18} {value}")


if __name__ == "__main__":
    main()
