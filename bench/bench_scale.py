"""Flat with size: the intake's ack and fill paths with an empty book and with a million open orders.

Why: issue 17 asks that with 1,000,000 open client orders in 10,000 parents over 500 instruments
the ack latency and the fill path stay within 20% of the empty book's figures.  The socket
benchmark cannot say where a cost grows; this one runs the daemon's core in one process, without
sockets (as ``bench_intake_path.py`` does: FIX session, OMS application, intake, SQLite journal and
FIX store with their redo logs, the execution engine's tick), measures with a nearly empty book,
then loads the book through the same intake path and measures again, back to back.

What is measured, in each phase (``empty``, then ``full``), on parents of its own so both phases
do the same work (the full phase's parents share every index with the million loaded orders):

* ack: NewOrderSingle bytes in → ExecutionReport encoded and stored, one order at a time (FIX
  session, intake, journal append, outbox flush): per-order wall time, mean, p50, p99; and the mean
  per order in reads of ``--batch`` pipelined orders, as ``bench_intake_path.py`` does;
* fill: one parent fill allocated pro-rata to its 100 orders (``Intake.on_parent_fill``, what the
  engine calls for a venue execution), the ``ParentFilled`` journal entry, the 100 client
  ExecutionReports rendered, encoded and stored: per fill;
* ``EngineState.snapshot()`` (every Prometheus scrape and ``ctl status`` reads one): per call;
* the execution engine's tick, apart (it grows with parents, not orders, and the intake's figures
  should not hide it or be hidden by it): catching up with every parent changed since its last tick,
  then over the next simulated second (what the parents' own wake-ups make due), then with none due;
* garbage collection: collections and their pauses by generation during the measurement (the
  daemon's policy, :func:`metaorder.serving.quiet_garbage_collector`, unless ``--gc default``), and
  one full ``gc.collect()`` over the loaded heap with the long-lived state frozen and unfrozen.

The book is loaded through the same intake path in reads of ``--batch`` orders, without engine
ticks (see the tick figures for the engine's own cost).

Memory per open order: the process's resident set (``/proc/self/statm``, after a collection) after
the load minus before it, divided by the orders loaded; ``--tracemalloc`` adds the Python heap's
growth per order and the source lines that hold most of it (slower: use a smaller ``--orders``).

Loaded orders are GTC buy and sell limits (99.00 down / 101.00 up) of 1,000 shares on 500
instruments whose reference price is 100, with no venues and no market data: nothing crosses or
fills them.  Order n joins parent n mod 10,000 (20 parents per instrument: 2 sides x 10 limits).

Run: ``PYTHONPATH=src python bench/bench_scale.py [--orders 1000000] [--json]``.  Wall times
(``perf_counter``), best round of ``--rounds`` for the means; percentiles pooled over the rounds.
Nothing here is a test: no figure is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from metaorder.clock import LiveClock
from metaorder.config import load_config
from metaorder.fix.codec import FieldValue, encode, format_utc_timestamp
from metaorder.fix.session import AppMessage, Role, Session
from metaorder.metrics.counters import Counters
from metaorder.metrics.state import EngineState
from metaorder.orders.journal import SqliteJournal
from metaorder.orders.model import ParentOrder
from metaorder.serving import load_dictionary, open_stores, quiet_garbage_collector, store_key
from metaorder.shells.oms import OmsApplication
from metaorder.wiring import start_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_intake_path import StoringConnection  # what OmsApplication needs of a session connection

SESSION = "LOADGEN"
PARENTS_PER_INSTRUMENT = 20  # 2 sides x 10 limits
ORDER_QTY = 1000
FILL_ORDERS = 100  # orders in each parent a measured fill is allocated to
FILL_PARENTS = 20

CONFIG_HEAD = """
[acceptor]
port = 0
[[acceptor.sessions]]
target_comp_id = "LOADGEN"
[risk]  # bench/run.py's INTAKE_CONFIG checks; credit high enough for a million open orders
max_order_qty = 100000
max_order_notional = "5000000"
price_collar_pct = "10"
max_open_notional = "1000000000000000"
max_orders_per_second = 1000000
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
[logging]
format = "json"
"""


def _config_text(tmp: Path, instruments: int) -> str:
    symbols = "".join(f'[[instrument]]\nsymbol = "S{i}"\nreference_price = "100"\n' for i in range(instruments))
    return CONFIG_HEAD.format(tmp=tmp) + symbols


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One NewOrderSingle's business fields (the harness adds the header)."""

    cl_ord_id: str
    symbol: str
    side: str  # "1" buy, "2" sell
    limit: str


def book_orders(count: int, parents: int, instruments: int, start: int = 0) -> Iterator[OrderSpec]:
    """The loaded book: order n to parent n mod ``parents``; parents spread over ``instruments``,
    half buying below 100, half selling above, so no two could ever cross."""
    per_instrument = max(1, parents // instruments)
    half = max(1, per_instrument // 2)
    for n in range(start, start + count):
        p = n % parents
        symbol = f"S{(p // per_instrument) % instruments}"
        j = p % per_instrument
        buy = j < half
        step = Decimal(j % half) / 100
        limit = Decimal("99.00") - step if buy else Decimal("101.00") + step
        yield OrderSpec(f"L{n}", symbol, "1" if buy else "2", str(limit))


def phase_orders(tag: str, count: int, limit: str, parents: int, start: int = 0) -> Iterator[OrderSpec]:
    """Orders of a phase's own parents: buys at ``limit`` (outside the book's limits) on S0..S{parents-1}."""
    for n in range(start, start + count):
        yield OrderSpec(f"{tag}{n}", f"S{n % parents}", "1", limit)


class Harness:
    """The daemon's core for one OMS session, fed FIX bytes directly (no sockets)."""

    def __init__(self, tmp: Path, instruments: int, gc_policy: str) -> None:
        config_path = tmp / "metaorder.toml"
        config_path.write_text(_config_text(tmp, instruments))
        config = load_config(config_path)
        self.clock = clock = LiveClock()
        acc = config.acceptor
        session_config = acc.sessions[0].session_config(acc.sender_comp_id, Role.ACCEPTOR, frozenset("DFGH"))
        self.journal = SqliteJournal(config.journal.path, redo=True)
        self.db, stores = open_stores(config.store.path, "NORMAL", [store_key(session_config)])
        pipeline = start_pipeline(config, self.journal, {}, clock.now())
        self.intake, self.engine = pipeline.intake, pipeline.engine
        if gc_policy == "daemon":
            quiet_garbage_collector()
        self.session = Session(session_config, stores[store_key(session_config)], load_dictionary(None))
        self.app = OmsApplication(self.intake, {SESSION: self.session}, clock)
        self.conn = StoringConnection(self.session, clock)
        self.session.connection_made(clock.now())
        self._seq = 1
        self.session.receive_data(self._frame("A", [(98, 0), (108, 30), (141, "Y")]), clock.now())
        self.session.store.flush()
        self.session.data_to_send()
        self.app.on_logon(self.conn)  # type: ignore[arg-type]  # the one method of SessionConnection it calls
        self.state = EngineState(Counters(), self.intake, self.engine, self.journal, lambda: [("oms", self.session)],
                                 [SESSION], clock, lambda: True)

    def close(self) -> None:
        self.journal.close()
        if self.db is not None:
            self.db.close()

    def _frame(self, msg_type: str, body: list[tuple[int, FieldValue]]) -> bytes:
        stamp = format_utc_timestamp(self.clock.now())
        frame = encode("FIX.4.4", msg_type, [(34, self._seq), (49, SESSION), (52, stamp), (56, "METAORDER")], body)
        self._seq += 1
        return frame

    def frames(self, orders: Sequence[OrderSpec]) -> bytes:
        stamp = format_utc_timestamp(self.clock.now())
        return b"".join(self._frame("D", [(11, o.cl_ord_id), (21, "1"), (55, o.symbol), (54, o.side), (60, stamp),
                                          (38, ORDER_QTY), (40, "2"), (44, o.limit), (59, "1")]) for o in orders)

    async def feed(self, data: bytes) -> None:
        """One read: every message in ``data`` through the intake, the answers flushed (no engine
        tick: see :func:`engine_ticks`, the engine's cost grows with its parents, not its orders)."""
        now = self.clock.now()
        for event in self.session.receive_data(data, now):
            if isinstance(event, AppMessage):
                self.app.on_message(self.conn, event.message, now)  # type: ignore[arg-type]
        self.session.store.flush()
        await asyncio.sleep(0)  # the outbox's flush, as call_soon runs it in the daemon

    async def load(self, orders: Iterator[OrderSpec], batch: int) -> None:
        chunk: list[OrderSpec] = []
        for order in orders:
            chunk.append(order)
            if len(chunk) == batch:
                await self.feed(self.frames(chunk))
                chunk = []
        if chunk:
            await self.feed(self.frames(chunk))

    async def fill(self, parent: ParentOrder, qty: int, price: Decimal) -> None:
        """A venue execution of ``parent`` as the engine hands it over: allocated, journaled, reported."""
        now = self.clock.now()
        self.app.ship(self.intake.on_parent_fill(parent.parent_id, qty, price, "XVEN", now))
        await asyncio.sleep(0)

    def parents_at(self, limit: Decimal) -> list[ParentOrder]:
        return [p for p in self.intake.parents() if p.key.limit == limit]


class PauseLog:
    """gc callback: each collection's pause, by generation, into ``into`` (None: not recording)."""

    def __init__(self) -> None:
        self.into: dict[int, list[float]] | None = None
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if self.into is None:
            return
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.into[info["generation"]].append(time.perf_counter() - self._start)


@dataclass
class Phase:
    """What one book measured (microseconds; pooled samples over its rounds)."""

    ack_us: list[float] = field(default_factory=list)
    ack_cpu_us: list[float] = field(default_factory=list)  # the event loop thread's CPU time
    fill_cpu_us: list[float] = field(default_factory=list)
    ack_round_means: list[float] = field(default_factory=list)
    ack_batched_means: list[float] = field(default_factory=list)
    fill_us: list[float] = field(default_factory=list)
    fill_round_means: list[float] = field(default_factory=list)
    snapshot_ms: list[float] = field(default_factory=list)
    walk_ms: list[float] = field(default_factory=list)
    pauses: dict[int, list[float]] = field(default_factory=lambda: {0: [], 1: [], 2: []})
    ticks: dict[str, object] = field(default_factory=dict)

    def figures(self) -> dict[str, object]:
        gc_figures: dict[str, object] = {}
        for gen, values in self.pauses.items():
            gc_figures[f"gen{gen}_collections"] = len(values)
            gc_figures[f"gen{gen}_max_pause_ms"] = round(max(values) * 1e3, 2) if values else None
            gc_figures[f"gen{gen}_total_ms"] = round(sum(values) * 1e3, 1)
        return {
            "ack_us_mean": round(min(self.ack_round_means), 1),
            "ack_us_p50": _pct(self.ack_us, 50), "ack_us_p99": _pct(self.ack_us, 99),
            "ack_us_max": round(max(self.ack_us), 1),
            "ack_us_batched": round(min(self.ack_batched_means), 1),
            "fill_us_mean": round(min(self.fill_round_means), 1),
            "fill_us_p50": _pct(self.fill_us, 50), "fill_us_p99": _pct(self.fill_us, 99),
            "fill_us_max": round(max(self.fill_us), 1),
            "ack_cpu_us_mean": round(statistics.fmean(self.ack_cpu_us), 1),
            "ack_cpu_us_p50": _pct(self.ack_cpu_us, 50), "ack_cpu_us_p99": _pct(self.ack_cpu_us, 99),
            "fill_cpu_us_mean": round(statistics.fmean(self.fill_cpu_us), 1),
            "fill_cpu_us_p50": _pct(self.fill_cpu_us, 50), "fill_cpu_us_p99": _pct(self.fill_cpu_us, 99),
            "snapshot_ms": round(min(self.snapshot_ms), 2),
            "status_walk_ms": round(min(self.walk_ms), 2),
            **gc_figures,
            **self.ticks,
        }


def _walk_by_status(parents: Iterable[ParentOrder]) -> dict[str, int]:
    """How the snapshot counted open orders by status before issue 17 (one status per order), for
    its before/after figure: ``status_walk_ms`` against ``snapshot_ms`` (the whole snapshot now)."""
    counts: dict[str, int] = {}
    for parent in parents:
        for order in parent.children:
            status = order.status.name.lower()
            counts[status] = counts.get(status, 0) + 1
    return counts


def _pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 1)


class Probe:
    """Measures one book in rounds, on parents of its own (``limit``): the fill set, FILL_PARENTS
    parents of FILL_ORDERS orders each, and the measured acks' parents half a point below."""

    def __init__(self, h: Harness, tag: str, limit: str) -> None:
        self.h, self.tag, self.price = h, tag, Decimal(limit)
        self.ack_limit = str(self.price - Decimal("0.50"))
        self.phase = Phase()
        self.fill_parents: list[ParentOrder] = []
        self._acks = self._fills = 0

    async def prepare(self, batch: int) -> None:
        await self.h.load(phase_orders(f"{self.tag}F", FILL_PARENTS * FILL_ORDERS, str(self.price), FILL_PARENTS),
                          batch)
        self.fill_parents = self.h.parents_at(self.price)
        assert len(self.fill_parents) == FILL_PARENTS
        assert all(len(p.children) == FILL_ORDERS for p in self.fill_parents)

    async def round(self, acks: int, fills: int, batch: int, pauses: PauseLog) -> None:
        h, phase = self.h, self.phase
        pauses.into = phase.pauses
        samples: list[float] = []
        cpu: list[float] = []
        for spec in phase_orders(f"{self.tag}A", acks, self.ack_limit, FILL_PARENTS, start=self._acks):
            data = h.frames([spec])
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            await h.feed(data)
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            samples.append((t1 - t0) / 1e3)
            cpu.append((c1 - c0) / 1e3)
        self._acks += acks
        phase.ack_us += samples
        phase.ack_cpu_us += cpu
        phase.ack_round_means.append(statistics.fmean(samples))
        chunks = [h.frames(list(phase_orders(f"{self.tag}A", batch, self.ack_limit, FILL_PARENTS,
                                             start=self._acks + i))) for i in range(0, acks, batch)]
        self._acks += len(chunks) * batch
        t0 = time.perf_counter_ns()
        for data in chunks:
            await h.feed(data)
        phase.ack_batched_means.append((time.perf_counter_ns() - t0) / 1e3 / (len(chunks) * batch))
        samples, cpu = [], []
        for _ in range(fills):
            parent = self.fill_parents[self._fills % len(self.fill_parents)]
            self._fills += 1
            c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
            await h.fill(parent, FILL_ORDERS * 10, self.price)  # 10 shares to each of its 100 orders
            t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
            samples.append((t1 - t0) / 1e3)
            cpu.append((c1 - c0) / 1e3)
        phase.fill_us += samples
        phase.fill_cpu_us += cpu
        phase.fill_round_means.append(statistics.fmean(samples))
        pauses.into = None
        t0 = time.perf_counter_ns()
        h.state.snapshot()
        phase.snapshot_ms.append((time.perf_counter_ns() - t0) / 1e6)
        t0 = time.perf_counter_ns()
        _walk_by_status(h.intake.parents())
        phase.walk_ms.append((time.perf_counter_ns() - t0) / 1e6)


def engine_ticks(h: Harness) -> dict[str, object]:
    """The engine's tick over this book: catching up (every parent new or changed since the last
    tick), then the ticks of the next simulated second (what parents' own wake-ups, passive
    re-posts and expiries make due), then a tick with nothing due."""
    parents = sum(1 for _ in h.intake.parents())
    now = h.clock.now()
    t0 = time.perf_counter()
    h.engine.on_tick(now)
    while h.engine.backlogged:  # a tick attends at most MAX_ATTENDED_PER_TICK parents
        h.engine.on_tick(now)
    catch_up = time.perf_counter() - t0
    due = 0
    t0 = time.perf_counter()
    for step in range(1, 11):  # ten ticks over the next second
        later = now + step / 10
        while True:
            wake = h.engine.next_wakeup()
            if wake is None or wake > later:
                break
            due += 1
            h.engine.on_tick(later)
    next_second = time.perf_counter() - t0
    t0 = time.perf_counter()
    h.engine.on_tick(later)
    idle = time.perf_counter() - t0
    return {"tick_parents": parents, "tick_catch_up_ms": round(catch_up * 1e3, 1),
            "tick_next_second_ms": round(next_second * 1e3, 1), "ticks_next_second": due,
            "tick_none_due_us": round(idle * 1e6, 1)}


def resident_bytes() -> int:
    """The process's resident set now (not its peak), after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed_collect() -> tuple[float, int]:
    """One full collection: its pause in ms and the unreachable objects it found."""
    t0 = time.perf_counter()
    found = gc.collect()
    return round((time.perf_counter() - t0) * 1e3, 1), found


async def run(args: argparse.Namespace, tmp: Path) -> dict[str, object]:
    """Both books in one process: the empty one built first, the full one loaded, then their
    measuring rounds interleaved (E F F E E F ...) so the machine's drift falls on both alike."""
    pauses = PauseLog()
    (tmp / "empty").mkdir()
    (tmp / "full").mkdir()
    empty = Probe(Harness(tmp / "empty", args.instruments, args.gc), "E", "98.50")
    full = Probe(Harness(tmp / "full", args.instruments, args.gc), "F", "97.50")
    gc.callbacks.append(pauses)  # after the daemon's own callback: its freezing is inside the pause
    try:
        await empty.prepare(args.batch)
        rss0 = resident_bytes()
        if args.tracemalloc:
            tracemalloc.start()
            traced0 = tracemalloc.take_snapshot()
        t0 = time.perf_counter()
        await full.h.load(book_orders(args.orders, args.parents, args.instruments), args.batch)
        load_s = time.perf_counter() - t0
        loaded: dict[str, object] = {}
        if args.tracemalloc:
            traced1 = tracemalloc.take_snapshot()
            tracemalloc.stop()
            diff = traced1.compare_to(traced0, "lineno")
            loaded["traced_bytes_per_order"] = round(sum(d.size_diff for d in diff) / args.orders)
            loaded["traced_top"] = [f"{d.traceback[0].filename.rsplit('/src/', 1)[-1]}:{d.traceback[0].lineno} "
                                    f"{d.size_diff / args.orders:.0f} B/order" for d in diff[:12]]
        rss1 = resident_bytes()
        await full.prepare(args.batch)
        open_orders = len(full.h.intake.book)
        for r in range(args.rounds):
            for probe in (empty, full) if r % 2 == 0 else (full, empty):
                await probe.round(args.acks, args.fills, args.batch, pauses)
        empty.phase.ticks = engine_ticks(empty.h)
        full.phase.ticks = engine_ticks(full.h)
        collect_policy = timed_collect()  # as the process is: what the policy left unfrozen
        frozen = gc.get_freeze_count()
        gc.unfreeze()
        collect_unfrozen = timed_collect()  # also finds the garbage cycles frozen with the live state
        gc.freeze()
        collect_frozen = timed_collect()
    finally:
        gc.callbacks.remove(pauses)
        empty.h.close()
        full.h.close()
    e, f = empty.phase.figures(), full.phase.figures()
    return {
        "orders_loaded": args.orders, "open_orders_full": open_orders, "parents_full": f["tick_parents"],
        "instruments": args.instruments, "gc_policy": args.gc,
        "load_s": round(load_s, 1), "load_us_per_order": round(load_s / args.orders * 1e6, 1),
        "rss_bytes_per_order": round((rss1 - rss0) / args.orders), "rss_mb": round(rss1 / 2**20),
        **loaded,
        "full_collect_ms": {"as_left_by_policy": collect_policy[0], "unfrozen": collect_unfrozen[0],
                            "after_freeze": collect_frozen[0]},
        "frozen_objects": frozen, "frozen_garbage_found_unfrozen": collect_unfrozen[1],
        "empty": e, "full": f,
        "ratio_full_to_empty": {k: round(float(f[k]) / float(v), 2)  # type: ignore[arg-type]
                                for k, v in e.items() if k.startswith(("ack_", "fill_")) and v},
    }


def main(argv: Sequence[str] | None = None, echo: Callable[[str], None] = print) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000, help="open client orders to load")
    parser.add_argument("--parents", type=int, default=10_000)
    parser.add_argument("--instruments", type=int, default=500)
    parser.add_argument("--acks", type=int, default=2000, help="measured NewOrderSingles per round")
    parser.add_argument("--fills", type=int, default=300, help="measured parent fills per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50, help="orders per read while loading")
    parser.add_argument("--gc", choices=("daemon", "default"), default="daemon",
                        help="daemon: serving.quiet_garbage_collector, as metaorder run; default: Python's")
    parser.add_argument("--tracemalloc", action="store_true", help="also the Python heap's growth per order")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    if args.parents % args.instruments or args.rounds * args.fills > FILL_PARENTS * 99:
        parser.error("--parents must be a multiple of --instruments; rounds x fills at most "
                     f"{FILL_PARENTS * 99} (each fill set's orders would fill up)")
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # the engine's info lines off
    with tempfile.TemporaryDirectory() as tmp:
        figures = asyncio.run(run(args, Path(tmp)))
    echo(json.dumps(figures) if args.json else json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
