"""Flat with size, measured from outside: the ack latency of ``metaorder run`` with an empty book and
with a million open client orders, and the memory an open order costs.

Issue 17's target: with 1,000,000 open client orders in 10,000 parents over 500 instruments, the
ack latency stays within 20% of the empty-book figure.  The million orders come in the way a
restarted engine gets them: a journal of 10,000 parents of 100 orders each (500 symbols, limits far
from the market so that none trades), folded into a recovery snapshot by the snapshotter's fold
(kept under ``--dir`` while the build is the same).  For each book (empty, full), ``metaorder run``
starts on a copy of that journal and snapshot, with the snapshotter running as in production; the
compiled load generator (``build/bench/loadgen``, else ``bench/loadgen.py``) then offers
NewOrderSingles at ``--rate`` for ``--duration`` seconds and reports the acknowledgement latency.
Runs alternate between the two books (``--repeat``) so that the VM's drift hits both.  Memory per
open order is the daemon's resident size with the full book minus with the empty one, over the
orders.

Run: ``PYTHONPATH=src python bench/bench_scale_socket.py [--orders 1000000] [--rate 5000] [--json]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from metaorder.eventcodec import append
from metaorder.events import EngineStarted, OrderAccepted
from metaorder.orders.journal import SqliteJournal
from metaorder.orders.model import Mandate, OrderType, Side, TimeInForce

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_restart import ROOT, T0, running, snapshot_current, write_snapshot_at

GENERATOR = 1
ORDERS_PER_PARENT = 100
SYMBOLS = 500


def config_text(journal: Path, tmp: Path) -> str:
    instruments = "".join(f'[[instrument]]\nsymbol = "Z{n:03d}"\nreference_price = "100.00"\n' for n in range(SYMBOLS))
    sessions = "".join(f'[[acceptor.sessions]]\ntarget_comp_id = "OMS{n}"\n' for n in range(1, 5))
    return f"""
[acceptor]
port = 0
{sessions}[[acceptor.sessions]]
target_comp_id = "LOADGEN"
[risk]
max_order_qty = 100000
max_order_notional = "5000000"
price_collar_pct = "10"
max_open_notional = "1000000000000"
max_orders_per_second = 100000
[[instrument]]
symbol = "ACME"
reference_price = "142.50"
{instruments}
[store]
path = "{tmp}/store.db"
[journal]
path = "{journal}"
[metrics]
enabled = false
[execution]
[[execution.venue]]
name = "ATLX"
kind = "lit"
host = "127.0.0.1"
port = 9  # nobody listens: the engine retries in the background; the intake acknowledges
comp_id = "ATLX"
[logging]
format = "json"
"""


def write_book(path: Path, orders: int) -> None:
    """``orders`` open orders, 100 per parent, over 500 symbols, bids far below the market."""
    ids = itertools.count(1)
    started = time.perf_counter()
    with SqliteJournal(path, synchronous="NORMAL", redo=True) as journal:
        t = T0
        append(journal, t, EngineStarted(0))
        for p in range(orders // ORDERS_PER_PARENT):
            symbol, side = f"Z{p % SYMBOLS:03d}", Side.BUY if p % 2 else Side.SELL
            limit = "91.00" if side is Side.BUY else "109.00"  # inside the 10% collar, far from 100
            for _ in range(ORDERS_PER_PARENT):
                n = next(ids)
                t += 0.0001
                append(journal, t, OrderAccepted(f"O{n}", f"OMS{1 + n % 4}", f"C{n}", symbol, side, 100,
                                                 OrderType.LIMIT, Decimal(limit), TimeInForce.DAY, t, n, Mandate(),
                                                 parent_id=f"P{p}"))
            if p % 500 == 0:
                journal.flush().result()
    print(f"book written: {path} in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def loadgen_cmd(port: int, args: Sequence[str]) -> list[str]:
    binary = ROOT / "build" / "bench" / "loadgen"
    common = ["--port", str(port), "--target-comp-id", "METAORDER", "--sender-comp-id", "LOADGEN", "--reset-seq"]
    if binary.exists():
        return [str(binary), *common, "--reply-type", "8", "--symbol", "ACME", "--price", "142.00", *args]
    return [sys.executable, str(ROOT / "bench" / "loadgen.py"), *common, *args]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def offer(port: int, rate: float, duration: float) -> dict[str, float]:
    """The load generator at ``rate`` for ``duration`` seconds: its figures."""
    out = subprocess.run(loadgen_cmd(port, ["--mode", "rate", "--rate", str(rate), "--duration", str(duration),
                                            "--warmup", "1"]), capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr[-500:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {k: float(v) for k, v in result.items() if isinstance(v, (int, float))}


def one_run(journal: Path, work: Path, rate: float, duration: float, settle: float) -> dict[str, float]:
    """Start metaorder run on a copy of ``journal`` (and its snapshot), offer the load at once (the
    engine's first decision for every parent after the restart runs meanwhile), then again after
    ``settle`` more seconds (figures prefixed ``settled_``), stop it."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy = work / "journal.db"
    if journal.exists():
        shutil.copy(journal, copy)
        snapshot = journal.with_name(journal.name + ".snapshot")
        if snapshot.exists():
            shutil.copy(snapshot, copy.with_name(copy.name + ".snapshot"))
    config = work / "metaorder.toml"
    config.write_text(config_text(copy, work))
    with running(config, "LOADGEN") as daemon:
        replayed = daemon.logged["order journal replayed"][1]
        figures: dict[str, float] = {"open_orders": replayed["open_orders"], "start_s": daemon.logged["accepting"][0],
                                     "rss_kb": rss_kb(daemon.proc.pid)}
        figures.update(offer(daemon.port, rate, duration))
        time.sleep(settle)
        figures.update({f"settled_{k}": v for k, v in offer(daemon.port, rate, duration).items()})
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--settle", type=float, default=10, help="seconds between the first load and the second")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    book = args.dir / f"scale-{args.orders}-g{GENERATOR}.db"
    config = args.dir / "scale-fold.toml"
    config.write_text(config_text(book, args.dir))
    if not book.exists():
        write_book(book, args.orders)
    entries = 1 + args.orders
    results: dict[str, float] = {"orders": args.orders}
    if not snapshot_current(book, entries):
        results.update({f"snapshot_{k}": v for k, v in write_snapshot_at(book, config, entries).items()})
    runs: dict[str, list[dict[str, float]]] = {"empty": [], "full": []}
    for _ in range(args.repeat):
        for name, journal in (("empty", args.dir / "absent.db"), ("full", book)):
            runs[name].append(one_run(journal, args.dir / f"scale-run-{name}", args.rate, args.duration,
                                      args.settle))
    for name, figures in runs.items():
        for key in ("p50_us", "p99_us", "p99.9_us", "max_us", "settled_p50_us", "settled_p99_us", "settled_p99.9_us",
                    "settled_max_us", "start_s", "rss_kb", "open_orders"):
            values = [f[key] for f in figures if key in f]
            if values:
                results[f"{name}_{key}"] = statistics.median(values)
    if "full_rss_kb" in results and "empty_rss_kb" in results:
        results["bytes_per_open_order"] = (results["full_rss_kb"] - results["empty_rss_kb"]) * 1024 / args.orders
    for key in ("p50_us", "p99_us", "settled_p50_us", "settled_p99_us"):
        if f"full_{key}" in results and f"empty_{key}" in results:
            results[f"{key}_full_over_empty"] = results[f"full_{key}"] / results[f"empty_{key}"]
    if args.json:
        print(json.dumps(results))
    else:
        for key, value in results.items():
            print(f"{key:28} {value:,.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
