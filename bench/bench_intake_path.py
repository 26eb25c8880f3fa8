"""CPU time per order of the intake path, in one process: FIX bytes in, acknowledgements out.

Why: the socket benchmark's figures move with the load generator and with this VM's speed from one
hour to the next; this one times only our code (the minimum of several runs), so a change to the
order path shows as microseconds per order.  What it runs is what ``metaorder run`` runs for each
NewOrderSingle, minus the sockets and the event loop's I/O: the FIX session (framing, decoding,
validation, sequence checks), normalization, risk, the parent book, the journal entry, the
ExecutionReport (encoded and saved in the FIX store), one journal and one store commit per batch
of ``--batch`` orders (as the daemon commits once per read of pipelined orders), and the execution
engine's tick.  The same with the in-memory journal and store gives what persistence costs.

Run: ``PYTHONPATH=src python bench/bench_intake_path.py [--orders 20000] [--batch 50] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from metaorder.clock import LiveClock
from metaorder.config import load_config
from metaorder.fix.codec import FieldValue, encode, format_utc_timestamp
from metaorder.fix.session import AppMessage, Role, Session
from metaorder.orders.journal import Journal, MemoryJournal, SqliteJournal
from metaorder.serving import load_dictionary, open_stores, quiet_garbage_collector, store_key
from metaorder.shells.oms import OmsApplication
from metaorder.wiring import start_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import INTAKE_CONFIG  # the socket benchmark's configuration: the same risk checks


class StoringConnection:
    """What OmsApplication needs of a SessionConnection: send a batch, store it, produce the bytes."""

    def __init__(self, session: Session, clock: LiveClock) -> None:
        self.session = session
        self._clock = clock
        self.bytes_out = 0

    def send_batch(self, messages: Sequence[tuple[str, Sequence[tuple[int, FieldValue]]]], after: object = None,
                   header: Sequence[tuple[int, FieldValue]] = ()) -> None:
        now = self._clock.now()
        for msg_type, body in messages:
            self.session.send(msg_type, body, now, header)
        self.session.store.flush()
        self.bytes_out += len(self.session.data_to_send())


def _orders(count: int, stamp: str) -> list[bytes]:
    head = [(49, "LOADGEN"), (52, stamp), (56, "METAORDER")]
    return [encode("FIX.4.4", "D", [(34, n + 2), *head],
                   [(11, f"C{n}"), (21, "1"), (55, "ACME"), (54, "1"), (60, stamp), (38, 100), (40, "2"),
                    (44, "142.00"), (59, "0")]) for n in range(count)]


async def _one_run(tmp: Path, orders: int, batch: int, persistent: bool) -> float:
    config_path = tmp / "metaorder.toml"
    config_path.write_text(INTAKE_CONFIG.format(port=0, tmp=tmp))
    config = load_config(config_path)
    clock = LiveClock()
    acc = config.acceptor
    session_config = acc.sessions[0].session_config(acc.sender_comp_id, Role.ACCEPTOR, frozenset("DFGH"))
    journal: Journal = SqliteJournal(config.journal.path, redo=True) if persistent else MemoryJournal()
    db, stores = open_stores(config.store.path if persistent else None, "NORMAL", [store_key(session_config)])
    try:
        pipeline = start_pipeline(config, journal, {}, clock.now())
        intake, engine = pipeline.intake, pipeline.engine
        quiet_garbage_collector()
        session = Session(session_config, stores[store_key(session_config)], load_dictionary(None))
        app = OmsApplication(intake, {"LOADGEN": session}, clock)
        conn = StoringConnection(session, clock)
        session.connection_made(clock.now())
        stamp = format_utc_timestamp(clock.now())
        session.receive_data(encode("FIX.4.4", "A", [(34, 1), (49, "LOADGEN"), (52, stamp), (56, "METAORDER")],
                                    [(98, 0), (108, 30), (141, "Y")]), clock.now())
        session.store.flush()
        session.data_to_send()
        app.on_logon(conn)  # type: ignore[arg-type]  # the one method of SessionConnection it calls
        frames = _orders(orders, stamp)
        chunks = [b"".join(frames[i:i + batch]) for i in range(0, orders, batch)]
        start = time.perf_counter()
        for chunk in chunks:
            now = clock.now()
            for event in session.receive_data(chunk, now):
                if isinstance(event, AppMessage):
                    app.on_message(conn, event.message, now)  # type: ignore[arg-type]
            session.store.flush()
            await asyncio.sleep(0)  # the reports' flush, as call_soon runs it in the daemon
            engine.on_tick(now)
        elapsed = time.perf_counter() - start
    finally:
        journal.close()
        if db is not None:
            db.close()
    if conn.bytes_out < orders * 100:
        raise RuntimeError(f"only {conn.bytes_out} bytes of acknowledgements for {orders} orders")
    return elapsed / orders * 1e6


def measure(orders: int, batch: int, repeat: int, persistent: bool) -> float:
    """Microseconds per order: the fastest of ``repeat`` runs (others were slowed by the machine)."""
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            best = min(best, asyncio.run(_one_run(Path(tmp), orders, batch, persistent)))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50, help="orders per read (one commit each)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # the engine's info lines off
    figures = {
        "us_per_order": round(measure(args.orders, args.batch, args.repeat, persistent=True), 1),
        "us_per_order_memory": round(measure(args.orders, args.batch, args.repeat, persistent=False), 1),
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"intake path: {figures['us_per_order']} us/order with the SQLite journal and store, "
              f"{figures['us_per_order_memory']} us/order in memory")


if __name__ == "__main__":
    main()
