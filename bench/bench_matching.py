"""Throughput of the lit order book (metaorder.venues.matching.OrderBook).

Why: every simulated lit venue runs one book per instrument, and the market simulator plus our
router drive it for every event of a back-test; its operation rate bounds simulation speed.

The workload is the mix named in the design: 60% passive (non-crossing) limit orders placed 1..20
ticks behind the opposite best, 30% cancels of a random resting order, 10% aggressive orders
(half market, half IOC/DAY limits 0..2 ticks through the opposite best) about three times the
size of a passive order, so that the book stays roughly in a steady state.

Method: the operation stream is generated once by running it against a scratch book (so cancels
target orders that really rest), then replayed against a fresh book from pre-built ``Order``
objects.  Timings therefore cover the book only, not order construction or random numbers.
The mix is timed as a whole (headline figure), then replayed again with a timer around each
operation to split it by kind (that pass includes ~0.1 µs of timer overhead per operation).

Run: ``PYTHONPATH=src python bench/bench_matching.py [--ops 300000] [--seed 1] [--json]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from dataclasses import replace as dc_replace

from metaorder.venues.matching import OrderBook
from metaorder.venues.model import Order, OrdType, Side, TimeInForce

ADD, CANCEL, CROSS = "add", "cancel", "cross"
Op = tuple[str, Order | str]


def generate(n: int, seed: int) -> list[Op]:
    """The operation stream: run against a scratch book so that cancels name resting orders."""
    rng = random.Random(seed)
    book = OrderBook("BENCH")
    live: list[str] = []
    ops: list[Op] = []
    mid = 10_000
    for i in range(n):
        oid = f"o{i}"
        r = rng.random()
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        bb, ba = book.best_bid(), book.best_ask()
        if r < 0.6 or not live:
            if side is Side.BUY:
                ref = ba[0] if ba else (bb[0] + 1 if bb else mid)
                price = ref - rng.randint(1, 20)
            else:
                ref = bb[0] if bb else (ba[0] - 1 if ba else mid)
                price = ref + rng.randint(1, 20)
            order = Order(oid, "bench", side, rng.randint(1, 10) * 100, price)
            book.submit(dc_replace(order))
            live.append(oid)
            ops.append((ADD, order))
        elif r < 0.9:
            # Cancel a random resting order (swap-remove; drop ids already filled).
            while live:
                j = rng.randrange(len(live))
                live[j], live[-1] = live[-1], live[j]
                victim = live.pop()
                if book.get(victim) is not None:
                    book.cancel(victim)
                    ops.append((CANCEL, victim))
                    break
            else:
                ops.append((CANCEL, "missing"))
        else:
            qty = rng.randint(1, 30) * 100
            if rng.random() < 0.5:
                order = Order(oid, "bench", side, qty, None, OrdType.MARKET, TimeInForce.IOC)
            else:
                opp = ba if side is Side.BUY else bb
                ref = opp[0] if opp else mid
                price = ref + side.sign * rng.randint(0, 2)
                tif = TimeInForce.IOC if rng.random() < 0.5 else TimeInForce.DAY
                order = Order(oid, "bench", side, qty, price, OrdType.LIMIT, tif)
            ex = book.submit(dc_replace(order))
            if ex.rested:
                live.append(oid)
            ops.append((CROSS, order))
    return ops


def fresh(ops: list[Op]) -> list[Op]:
    """Unused copies of the stream's orders (the book mutates the ones it is given)."""
    return [(kind, dc_replace(arg) if isinstance(arg, Order) else arg) for kind, arg in ops]


def run_mix(ops: list[Op]) -> float:
    book = OrderBook("BENCH")
    submit, cancel = book.submit, book.cancel
    gc.collect()  # start clean; the collector stays on, as in a real run (it costs nothing measurable here)
    t0 = time.perf_counter()
    for kind, arg in ops:
        if kind is CANCEL:
            cancel(arg)  # type: ignore[arg-type]
        else:
            submit(arg)  # type: ignore[arg-type]
    return time.perf_counter() - t0


def run_by_kind(ops: list[Op]) -> dict[str, tuple[int, float]]:
    book = OrderBook("BENCH")
    submit, cancel = book.submit, book.cancel
    clock = time.perf_counter_ns
    totals = {ADD: 0, CANCEL: 0, CROSS: 0}
    counts = {ADD: 0, CANCEL: 0, CROSS: 0}
    gc.collect()
    for kind, arg in ops:
        if kind is CANCEL:
            t0 = clock()
            cancel(arg)  # type: ignore[arg-type]
            t1 = clock()
        else:
            t0 = clock()
            submit(arg)  # type: ignore[arg-type]
            t1 = clock()
        totals[kind] += t1 - t0
        counts[kind] += 1
    return {k: (counts[k], totals[k] / 1e9) for k in totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timed runs of the mix")
    parser.add_argument("--json", action="store_true", help='print one JSON line {"book_ops_per_s": ...}')
    args = parser.parse_args()

    ops = generate(args.ops, args.seed)
    best = min(run_mix(fresh(ops)) for _ in range(args.repeat))
    mix_rate = len(ops) / best
    if args.json:
        print(json.dumps({"book_ops_per_s": round(mix_rate)}))
        return
    by_kind = run_by_kind(fresh(ops))
    check = OrderBook("BENCH")
    fills = 0
    for _kind, arg in fresh(ops):
        if isinstance(arg, Order):
            fills += len(check.submit(arg).fills)
        else:
            check.cancel(arg)
    print(f"{len(ops)} operations, seed {args.seed}: {fills} fills, {len(check)} orders resting at the end")
    print(f"mix          {mix_rate:>12,.0f} ops/s  (best of {args.repeat})")
    for kind, (count, seconds) in by_kind.items():
        rate = count / seconds if seconds else float("inf")
        per_op = seconds * 1e6 / max(count, 1)
        print(f"{kind:<12} {rate:>12,.0f} ops/s  ({count} ops, {per_op:.2f} µs/op, timed singly)")


if __name__ == "__main__":
    main()
