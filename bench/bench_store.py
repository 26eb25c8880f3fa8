"""Throughput of the durable FIX store: save_sent + flush, with and without group commit.

Why: the session layer waits for flush() before a message reaches the socket, so the
store's commit rate bounds the engine's outgoing message rate.  This script shows what
group commit buys at each flush cadence and what FULL (fsync per commit) costs.

Cases, each for synchronous=NORMAL and FULL:

* ``wait/N``   : save N messages, then block on flush().result() -- one session, worst case.
* ``pipe/N``   : save N messages, call flush() without waiting (as an event loop does when it
                 has many orders in flight); wait once at the end.
* ``10 sess/1``: ten threads, each its own session, each waiting on every message: the
                 writer commits their flushes together.

A second table shows what the store costs the *calling* thread (the event loop, in the
engine): the time per ``save_sent`` + ``set_next_target_seq`` pair, which is what a FIX
session does per echoed message, with a ``flush()`` every 10 pairs (one read batch), either
without waiting (``pipe``: the writer thread runs concurrently and competes for the GIL) or
waiting on each flush (``wait``).  ``pairs`` is the time inside the two calls only,
``+flush`` adds the ``flush()`` calls themselves (not the wait for the disk).

Run: ``PYTHONPATH=src python bench/bench_store.py [--messages 100000] [--max-seconds 10]``.
A case stops early after --max-seconds (FULL with a flush per message is fsync-bound).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from metaorder.fix.store import SqliteStore, SqliteStoreDatabase

Sync = Literal["NORMAL", "FULL"]


def make_message(seq: int) -> bytes:
    """A ~200-byte NewOrderSingle-like message."""
    body = (
        b"35=D\x0134=%d\x0149=METAORDER\x0152=20240102-03:04:05.678\x0156=BROKER\x01"
        b"11=ORD%010d\x0121=1\x0155=EUR/USD\x0154=1\x0160=20240102-03:04:05.678\x01"
        b"38=1000000\x0140=2\x0144=1.08765\x0159=0\x0158=benchmark order\x01" % (seq, seq)
    )
    raw = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return raw + b"10=%03d\x01" % (sum(raw) % 256)


def run_single(store: SqliteStore, n: int, every: int, wait: bool, deadline: float) -> int:
    done = 0
    while done < n and time.perf_counter() < deadline:
        for _ in range(every):
            done += 1
            store.save_sent(done, make_message(done))
        fut = store.flush()
        if wait:
            fut.result()
    store.flush().result()
    return done


def run_sessions(db: SqliteStoreDatabase, sessions: int, n: int, deadline: float) -> int:
    counts = [0] * sessions

    def worker(i: int) -> None:
        store = db.open_session(f"FIX.4.4:BENCH{i}->BROKER")
        seq = 0
        while seq < n // sessions and time.perf_counter() < deadline:
            seq += 1
            store.save_sent(seq, make_message(seq))
            store.flush().result()
        counts[i] = seq

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


def run_caller_cost(db: SqliteStoreDatabase, pairs: int, every: int, wait: bool) -> tuple[float, float]:
    """Seconds spent in the write calls, and in the write calls plus flush(), for ``pairs`` pairs."""
    store = db.open_session(f"FIX.4.4:MICRO-{every}-{wait}->BROKER")
    raw = make_message(1)  # the store neither parses nor copies bytes: one object will do
    clock = time.perf_counter
    in_writes = 0.0
    in_flush = 0.0
    seq = 0
    while seq < pairs:
        t0 = clock()
        for _ in range(every):
            seq += 1
            store.save_sent(seq, raw)
            store.set_next_target_seq(seq + 1)
        t1 = clock()
        fut = store.flush()
        t2 = clock()
        in_writes += t1 - t0
        in_flush += t2 - t1
        if wait:
            fut.result()
    store.flush().result()
    return in_writes, in_writes + in_flush


def measure(
    directory: Path, sync: Sync, name: str, body: Callable[[SqliteStoreDatabase, float], int], budget: float
) -> tuple[str, Sync, int, float, int]:
    path = directory / f"bench-{sync}-{name.replace('/', '_').replace(' ', '_')}.db"
    with SqliteStoreDatabase(path, synchronous=sync) as db:
        start = time.perf_counter()
        count = body(db, start + budget)
        elapsed = time.perf_counter() - start
        commits = db.commits
    return name, sync, count, elapsed, commits


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--max-seconds", type=float, default=10.0, help="time budget per case")
    parser.add_argument("--dir", type=Path, default=None, help="parent of the temporary databases")
    parser.add_argument("--pairs", type=int, default=100_000, help="write pairs in the caller-cost table")
    parser.add_argument("--repeat", type=int, default=5, help="caller-cost runs per case (best is shown)")
    args = parser.parse_args()
    n: int = args.messages
    budget: float = args.max_seconds

    def single(every: int, wait: bool) -> Callable[[SqliteStoreDatabase, float], int]:
        return lambda db, deadline: run_single(db.open_session("S"), n, every, wait, deadline)

    cases: list[tuple[str, Callable[[SqliteStoreDatabase, float], int]]] = [
        *((f"wait/{every}", single(every, True)) for every in (1, 10, 100)),
        *((f"pipe/{every}", single(every, False)) for every in (1, 100)),
        ("10 sess/1", lambda db, deadline: run_sessions(db, 10, n, deadline)),
    ]

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"{n} messages of {len(make_message(1))} bytes, at most {budget:g} s per case, in {tmp}")
        print(
            f"{'case':<10} {'sync':<6} {'messages':>9} {'seconds':>8} {'msg/s':>10}"
            f" {'commits':>8} {'msg/commit':>10}"
        )
        for sync in ("NORMAL", "FULL"):
            for name, body in cases:
                case, s, count, elapsed, commits = measure(Path(tmp), sync, name, body, budget)
                per_commit = count / commits if commits else 0.0
                print(
                    f"{case:<10} {s:<6} {count:>9} {elapsed:>8.2f} {count / elapsed:>10.0f}"
                    f" {commits:>8} {per_commit:>10.1f}"
                )

        pairs: int = args.pairs
        every = 10
        print()
        print(f"caller cost: {pairs} save_sent + set_next_target_seq pairs, flush() every {every}")
        print(f"{'case':<10} {'sync':<6} {'ns/pair':>9} {'+flush':>9} {'commits':>8}")
        syncs: tuple[Sync, ...] = ("NORMAL", "FULL")
        for sync in syncs:
            for wait in (False, True):
                best: tuple[float, float] | None = None
                path = Path(tmp) / f"micro-{sync}-{wait}.db"
                with SqliteStoreDatabase(path, synchronous=sync) as db:
                    before = db.commits
                    for _ in range(args.repeat):
                        result = run_caller_cost(db, pairs, every, wait)
                        best = result if best is None or result[0] < best[0] else best
                    commits = (db.commits - before) // args.repeat
                assert best is not None
                name = f"{'wait' if wait else 'pipe'}/{every}"
                print(
                    f"{name:<10} {sync:<6} {best[0] / pairs * 1e9:>9.0f} {best[1] / pairs * 1e9:>9.0f}"
                    f" {commits:>8}"
                )


if __name__ == "__main__":
    main()
