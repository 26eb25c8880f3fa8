"""Serving FIX acceptors until a signal: the generic helpers every long-running command shares.

``metaorder run``, ``metaorder venues`` and ``metaorder reflector`` all open a message store, put
sessions on it, serve acceptors (and background workers) in one TaskGroup until SIGINT/SIGTERM,
then shut down gracefully.  That part is here, apart from any one command's wiring, so the
composition roots (:mod:`metaorder.daemon`, :mod:`metaorder.venues.runtime`) depend on it and
never on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from metaorder.clock import Clock, LiveClock
from metaorder.fix.dictionary import Dictionary, load_quickfix_xml
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.session import Session, SessionConfig
from metaorder.fix.store import MemoryStore, SessionStore, SqliteStoreDatabase
from metaorder.fix.transport import Acceptor, Application, TransportLimits

log = structlog.get_logger("metaorder")


def load_dictionary(path: Path | str | None) -> Dictionary:
    return builtin_fix44() if path is None else load_quickfix_xml(path)


async def serve_forever(
    acceptor: Acceptor,
    shutdown_timeout: float,
    on_started: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run ``acceptor`` until SIGINT/SIGTERM (or ``stop``), then shut down gracefully."""
    await serve_many([acceptor], [on_started], [], stop, shutdown_timeout)


async def serve_many(
    acceptors: Sequence[Acceptor],
    on_started: Sequence[Callable[[int], None] | None],
    workers: Sequence[Callable[[], Coroutine[Any, Any, None]]],
    stop: asyncio.Event | None = None,
    shutdown_timeout: float = 3.0,
    before_shutdown: Callable[[float], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Run acceptors and background workers in one TaskGroup until a signal (or ``stop``).

    On SIGINT/SIGTERM every acceptor logs its sessions out (bounded by ``shutdown_timeout``), then
    every task is cancelled; a worker that fails takes the whole group down, loudly.
    ``before_shutdown(timeout)`` runs first, then every acceptor shuts down.
    """
    stop = stop or asyncio.Event()
    with signal_handlers({signal.SIGINT: stop.set, signal.SIGTERM: stop.set}):
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(a.serve(cb)) for a, cb in zip(acceptors, on_started, strict=True)]
            tasks += [tg.create_task(work()) for work in workers]
            await until_stopped(tasks, stop)
            log.info("shutting down", sessions_connected=sum(len(a.connections) for a in acceptors))
            if before_shutdown is not None:
                await before_shutdown(shutdown_timeout)
            await asyncio.gather(*(a.shutdown(shutdown_timeout) for a in acceptors))
            for task in tasks:
                task.cancel()


@contextlib.contextmanager
def signal_handlers(handlers: Mapping[signal.Signals, Callable[[], None]]) -> Iterator[None]:
    """Route signals to ``handlers`` on the running loop for the duration of the block."""
    loop = asyncio.get_running_loop()
    for sig, handler in handlers.items():
        loop.add_signal_handler(sig, handler)
    try:
        yield
    finally:
        for sig in handlers:
            loop.remove_signal_handler(sig)


async def until_stopped(tasks: Sequence[asyncio.Task[Any]], stop: asyncio.Event) -> None:
    """Return once ``stop`` is set or any of ``tasks`` ends: a service that ends (or fails) ends them all."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({*tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()


def open_stores(path: Path | None, synchronous: str, keys: Sequence[str]) -> tuple[
        SqliteStoreDatabase | None, dict[str, SessionStore]]:
    if path is None:
        return None, {k: MemoryStore() for k in keys}
    full = synchronous == "FULL"  # acknowledged after an fsync; NORMAL: after the redo log's write
    db = SqliteStoreDatabase(path, synchronous="FULL" if full else "NORMAL", redo=not full)
    return db, {k: db.open_session(k) for k in keys}


def store_key(config: SessionConfig) -> str:
    return f"{config.begin_string}:{config.sender_comp_id}->{config.target_comp_id}"


async def run_acceptor(
    sessions: Sequence[SessionConfig],
    app_factory: Callable[[Dictionary], Application],
    host: str,
    port: int,
    dictionary: Dictionary,
    store_path: Path | None,
    synchronous: str = "NORMAL",
    limits: TransportLimits | None = None,
    clock: Clock | None = None,
    on_started: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    clock = clock or LiveClock()
    db, stores = open_stores(store_path, synchronous, [store_key(c) for c in sessions])
    try:
        built = [Session(c, stores[store_key(c)], dictionary) for c in sessions]
        acceptor = Acceptor(host, port, built, app_factory(dictionary), clock, limits)
        quiet_garbage_collector()
        shutdown_timeout = max(c.logout_timeout for c in sessions) + 1.0
        await serve_forever(acceptor, shutdown_timeout, on_started, stop)
    finally:
        if db is not None:
            db.close()
    log.info("stopped")


def quiet_garbage_collector() -> None:
    """Keep the cyclic garbage collector off the latency path of a long-running daemon.

    Order books and journals make the heap large and long-lived; a full collection over it stalls
    the event loop for tens of milliseconds (it was the whole p99 of the intake benchmark), and
    grows with the day's orders.  Objects alive after start-up are frozen out of collections, and
    so are, after every generation-1 collection, the objects that survived it (orders, parents,
    risk records: the engine's state), so the oldest generation stays nearly empty and a full
    collection costs about as little as a young one however large the book.  Memory is still
    reclaimed by reference counting as usual; only reference cycles that outlive two collections
    are kept (they would otherwise wait for a full collection).

    Young collections are kept small too: a collection's pause grows with the objects it visits
    (visiting 50,000 took 10-25 ms now and then on this machine: memory latency, not work), and
    a pause holds up every order that arrives meanwhile.  With the compiled order path, at 5,000
    orders/s: 5,000 allocations per young collection paused 1.3-1.9 ms (generation 1: 3-4.7 ms),
    often enough to be the p99 (2.9 ms); 500 pause 0.2-0.3 ms (generation 1: 0.3-0.6 ms) and the
    p99 was 1.73-1.75 ms, for about the same total time (saturated throughput 3-5% lower).  Every
    other young collection is a generation-1 one (then frozen): with the default 50 it visited all
    that 50 young ones had left, 34-40 ms once every ~6 s.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(500, 1, 1000)
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while recovery builds the engine's state, which is then frozen.

    Restoring a recovery snapshot and replaying the journal allocate millions of objects that all
    stay alive (orders, parents, children, risk records); with the collector on, each young
    collection and the full ones that the growing heap sets off walk them again and again: loading
    the 10M-entry journal's snapshot took 23.6 s with it, 14.8 s without.  Freezing what recovery
    built then keeps the start-up collection (:func:`quiet_garbage_collector`) from walking it once
    more (2 s for 1.4 million orders).  The price: cyclic garbage made during recovery, if any, is
    never collected (decoding and folding the journal makes none that we know of)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """gc callback: once a generation-1 collection is over, freeze what survived it."""
    if phase == "stop" and info["generation"] == 1:
        gc.freeze()
