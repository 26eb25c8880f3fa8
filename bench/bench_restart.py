"""Restart time with a long journal: from ``metaorder run`` starting to the first order acknowledged.

Issue 17's target: with a journal of 10 million entries (a heavy day and its history) the engine
accepts orders again within 5 s of starting, by restoring a recovery snapshot and replaying only the
journal's tail.  This benchmark

1. writes such a journal once (``--events``, default 10,000,000, under ``--dir``, kept for later runs):
   five trading days of small-order flow, each parent of 100 client orders (1 to 4 OMS sessions, 20
   symbols) worked by 10 children at a lit venue (placed, acknowledged, executed) whose fills are
   allocated to its orders, market samples between; the last day ends with 100 parents (10,000
   orders) still working, each with a child out.  The entries are the engine's own events, journaled
   by its own codec, so recovery folds them exactly as it folds a real day's.
2. folds it with the snapshotter's fold (:class:`metaorder.snapshotter.JournalFold`) up to ``--tail``
   entries before its end and writes the recovery snapshot there (kept while the build is the same):
   the snapshotter's folding rate is the second figure.
3. starts ``metaorder run`` on it (``--runs`` times) and times, from the spawn, the OMS acceptor
   listening and the acknowledgement of a NewOrderSingle sent over FIX; ``--full`` also times one
   start without the snapshot (the whole journal replayed).

Run: ``PYTHONPATH=src python bench/bench_restart.py [--events 10000000] [--tail 200000] [--json]``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from metaorder.eventcodec import append
from metaorder.events import (
    ChildAcknowledged,
    ChildPlaced,
    EngineStarted,
    Event,
    MarketSample,
    OrderAccepted,
    ParentFilled,
    VenueExecution,
)
from metaorder.orders.journal import JournalReader, SqliteJournal
from metaorder.orders.model import Mandate, OrderType, Side, TimeInForce

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = 1  # bump when the generated journal changes: older files are then written again
SYMBOLS = [f"S{n:02d}" for n in range(20)]
DAYS = 5
ORDERS_PER_PARENT = 100
CHILDREN_PER_PARENT = 10
OPEN_PARENTS = 100
T0 = 1_798_797_600.0  # 2027-01-01 14:00 UTC: trading hours


def config_text(journal: Path, tmp: Path, snapshots: bool) -> str:
    instruments = "".join(f'[[instrument]]\nsymbol = "{s}"\nreference_price = "100.00"\n' for s in SYMBOLS)
    return f"""
[acceptor]
port = 0
[[acceptor.sessions]]
target_comp_id = "OMS1"
[[acceptor.sessions]]
target_comp_id = "OMS2"
[[acceptor.sessions]]
target_comp_id = "OMS3"
[[acceptor.sessions]]
target_comp_id = "OMS4"
[[acceptor.sessions]]
target_comp_id = "BENCH"
[risk]
max_order_qty = 100000
max_open_notional = "1000000000000"
max_orders_per_second = 100000
{instruments}
[store]
path = "{tmp}/store.db"
[journal]
path = "{journal}"
snapshot_every = {1_000_000_000 if snapshots else 0}  # the benchmark's own snapshot stays the one used
[metrics]
enabled = false
[execution]
[[execution.venue]]
name = "ATLX"
kind = "lit"
host = "127.0.0.1"
port = 9  # nobody listens: the engine retries in the background, the intake acknowledges orders
comp_id = "ATLX"
[logging]
format = "json"
"""


def day_events(day: int, parents: int, ids: Iterator[int], open_at_end: bool, symbols: Sequence[str] = SYMBOLS,
               open_parents: int = OPEN_PARENTS) -> Iterator[tuple[float, Event]]:
    """One trading day's entries, in journal order, with their times: ``parents`` parents of 100
    orders each worked by 10 children to the end, but for the last ``open_parents`` when
    ``open_at_end`` (still working, one child out each)."""
    t = T0 + day * 86_400
    yield t, EngineStarted(0)
    for p in range(parents):
        parent = f"P{day}.{p}"
        symbol = symbols[p % len(symbols)]
        side = Side.BUY if p % 2 else Side.SELL
        orders = []
        for _ in range(ORDERS_PER_PARENT):
            n = next(ids)
            t += 0.0005
            orders.append(f"O{n}")
            yield t, OrderAccepted(f"O{n}", f"OMS{1 + n % 4}", f"C{n}", symbol, side, 100, OrderType.MARKET, None,
                                   TimeInForce.DAY, t, n, Mandate(), parent_id=parent)
        working = open_at_end and p >= parents - open_parents
        for c in range(1 if working else CHILDREN_PER_PARENT):
            child = f"X{day}.{p}.{c}"
            price = Decimal("100.00") + Decimal(c % 7) / 100
            t += 0.001
            yield t, ChildPlaced(parent, child, "ATLX", symbol, side, 1000, price, False, mid=Decimal("100.005"))
            t += 0.0003
            yield t, ChildAcknowledged(parent, child, "ATLX", f"V{child}")
            if working:
                continue
            t += 0.002
            yield t, VenueExecution(parent, child, "ATLX", f"E{child}", 1000, price, "2", Decimal("0.30"))
            yield t, ParentFilled(parent, 1000, price, "ATLX",
                                  tuple((o, 100) for o in orders[c * 10:(c + 1) * 10]))
        yield t, MarketSample(symbol, Decimal("99.99"), Decimal("100.01"), 1000 * p, Decimal(100_000) * p)


def write_journal(path: Path, events: int) -> None:
    per_parent = ORDERS_PER_PARENT + 4 * CHILDREN_PER_PARENT + 1
    parents = max(events // per_parent // DAYS, OPEN_PARENTS + 1)
    ids = itertools.count(1)
    started = time.perf_counter()
    with SqliteJournal(path, synchronous="NORMAL", redo=True) as journal:  # commits in a child process
        for day in range(DAYS):
            for n, (t, event) in enumerate(day_events(day, parents, ids, open_at_end=day == DAYS - 1)):
                append(journal, t, event)
                if n % 50_000 == 0:
                    journal.flush().result()
    print(f"journal written: {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def _count(path: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT max(seq) FROM entries").fetchone()[0] or 0)
    finally:
        conn.close()


def write_snapshot_at(journal_path: Path, config_path: Path, at: int) -> dict[str, float]:
    """Fold the journal's first ``at`` entries as the snapshotter does and write the snapshot there."""
    from metaorder.config import load_config
    from metaorder.serving import quiet_garbage_collector
    from metaorder.snapshot import build_fingerprint, snapshot_path, write_snapshot
    from metaorder.snapshotter import JournalFold, ReadOnlyJournal, _bounded
    from metaorder.wiring import venue_infos

    config = load_config(config_path)
    quiet_garbage_collector()  # the snapshotter's collector policy (its fold state is long-lived)
    started = time.perf_counter()
    with JournalReader(journal_path) as reader:
        fold = JournalFold(config, venue_infos(config, None), ReadOnlyJournal(reader))
        fold.fold(_bounded(reader.replay(), at))
        folded = time.perf_counter()
        snapshot = fold.capture(build_fingerprint())
    write_snapshot(snapshot_path(journal_path), snapshot)
    done = time.perf_counter()
    return {"fold_s": folded - started, "fold_per_s": at / (folded - started), "snapshot_write_s": done - folded,
            "snapshot_bytes": snapshot.header.payload_bytes, "snapshot_open_orders": snapshot.header.open_orders}


def snapshot_current(journal_path: Path, at: int) -> bool:
    from metaorder.snapshot import SnapshotError, build_fingerprint, snapshot_path, usable_snapshot

    try:
        with JournalReader(journal_path) as reader:
            found = usable_snapshot(snapshot_path(journal_path), reader, build_fingerprint())
    except SnapshotError:
        return False
    return found.header.seq == at


def fix(msg_type: str, seq: int, body: Sequence[tuple[int, object]]) -> bytes:
    stamp = time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime())
    fields = [(35, msg_type), (49, "BENCH"), (56, "METAORDER"), (34, seq), (52, stamp), *body]
    text = "".join(f"{tag}={value}\x01" for tag, value in fields).encode()
    head = b"8=FIX.4.4\x019=" + str(len(text)).encode() + b"\x01"
    return head + text + b"10=%03d\x01" % (sum(head + text) % 256)


def first_ack(port: int, cl: str) -> None:
    """Log on as BENCH and wait for the acknowledgement of one NewOrderSingle."""
    stamp = time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime())
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(fix("A", 1, [(98, 0), (108, 30), (141, "Y")]))
        sock.sendall(fix("D", 2, [(11, cl), (55, SYMBOLS[0]), (54, "1"), (60, stamp), (38, 100), (40, "2"),
                                  (44, "100.00"), (59, "0")]))
        data = b""
        while f"\x0111={cl}\x01".encode() not in data or b"\x0135=8\x01" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError(f"connection closed before the ack: {data[-300:]!r}")
            data += chunk


@dataclass
class Running:
    """A ``metaorder run`` started by :func:`running`: its process, the OMS port, what its log said."""

    proc: subprocess.Popen[bytes]
    port: int
    logged: dict[str, tuple[float, dict[str, Any]]]  # event -> (seconds after the spawn, the first such line)


@contextlib.contextmanager
def running(config: Path, session: str) -> Iterator[Running]:
    """``metaorder run --config config`` until the acceptor of ``session`` listens (its log read so far,
    drained after), stopped by SIGTERM at the end."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "metaorder", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    assert proc.stderr is not None
    logged: dict[str, tuple[float, dict[str, Any]]] = {}
    drain: subprocess.Popen[bytes] | None = None
    try:
        for raw in proc.stderr:
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            logged.setdefault(str(event.get("event")), (time.perf_counter() - started, event))
            if event.get("event") == "accepting" and session in str(event.get("sessions")):
                break
        else:
            raise RuntimeError("metaorder run exited before accepting")
        drain = subprocess.Popen(["cat"], stdin=proc.stderr, stdout=subprocess.DEVNULL)
        yield Running(proc, int(logged["accepting"][1]["port"]), logged)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if drain is not None:
            drain.wait()


def time_restart(config_path: Path, cl: str) -> dict[str, float]:
    started = time.perf_counter()
    with running(config_path, "BENCH") as daemon:
        recovered_s, replayed = daemon.logged["order journal replayed"]
        listening_s = daemon.logged["accepting"][0]
        first_ack(daemon.port, cl)
        return {"recovered_s": recovered_s, "replayed_entries": replayed["entries"],
                "from_snapshot_at": replayed.get("from_snapshot_at") or 0, "listening_s": listening_s,
                "first_ack_s": time.perf_counter() - started}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--tail", type=int, default=200_000, help="entries after the snapshot (replayed at start)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also time one start replaying the whole journal")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    journal = args.dir / f"restart-{args.events}-g{GENERATOR}.db"
    tmp = args.dir / "restart-run"
    tmp.mkdir(exist_ok=True)
    config = tmp / "metaorder.toml"
    config.write_text(config_text(journal, tmp, snapshots=True))
    if not journal.exists():
        write_journal(journal, args.events)
    total = _count(journal)
    at = _generated_entries(journal) - args.tail
    results: dict[str, float] = {"journal_entries": total, "journal_bytes": journal.stat().st_size}
    if not snapshot_current(journal, at):
        results.update(write_snapshot_at(journal, config, at))
    runs = [time_restart(config, f"R{time.time_ns()}") for _ in range(args.runs)]
    for key in ("recovered_s", "listening_s", "first_ack_s"):
        values = sorted(r[key] for r in runs)
        results[f"{key}_median"] = values[len(values) // 2]
        results[f"{key}_max"] = values[-1]
    results["replayed_entries"] = runs[-1]["replayed_entries"]
    results["from_snapshot_at"] = runs[-1]["from_snapshot_at"]
    if args.full:
        config.write_text(config_text(journal, tmp, snapshots=False))
        full = time_restart(config, f"F{time.time_ns()}")
        results.update({f"full_{k}": v for k, v in full.items()})
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:28} {value:,.3f}" if isinstance(value, float) else f"{key:28} {value:,}")
    return 0


def _generated_entries(journal: Path) -> int:
    """The entries the generator wrote (the engine runs of earlier benchmarks appended a few after)."""
    per_parent = ORDERS_PER_PARENT + 4 * CHILDREN_PER_PARENT + 1
    parents = max(_events_of(journal) // per_parent // DAYS, OPEN_PARENTS + 1)
    open_parent = ORDERS_PER_PARENT + 2 + 1
    return DAYS * (1 + parents * per_parent) - OPEN_PARENTS * (per_parent - open_parent)


def _events_of(journal: Path) -> int:
    return int(journal.name.split("-")[1])


if __name__ == "__main__":
    sys.exit(main())
