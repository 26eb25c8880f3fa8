"""Composition root: the one place where stores, sessions, transports and applications are wired.

Everything below this module receives what it needs as arguments; nothing reaches for globals.
:func:`serve_forever` owns every task in one TaskGroup, turns SIGINT/SIGTERM into a graceful
shutdown (Logout on every session, bounded wait for the replies) and closes the store last, so what
was acknowledged is on disk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import signal
from collections.abc import Callable, Coroutine, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from metaorder.clock import Clock, LiveClock
from metaorder.config import ConfigError, MetaorderConfig, VenuesConfig, load_venues_config
from metaorder.ctl import Commands
from metaorder.ctl import serve as serve_control
from metaorder.execution.control import ParentGuard
from metaorder.execution.engine import ExecutionEngine, ExecutionSettings, InstrumentRules
from metaorder.execution.live import VenueGateway
from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.router import BestPriceRouter
from metaorder.execution.strategy import Strategy as ExecutionStrategy
from metaorder.execution.strategy import make_strategy
from metaorder.execution.twap import TwapSettings
from metaorder.execution.types import ParentState, VenueInfo, VenueKind
from metaorder.fix.dictionary import Dictionary, load_quickfix_xml
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.session import Role, Session, SessionConfig
from metaorder.fix.store import MemoryStore, SessionStore, SqliteStoreDatabase
from metaorder.fix.transport import Acceptor, Application, Initiator, TransportLimits
from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import Journal, SqliteJournal
from metaorder.orders.model import Aggressiveness, Strategy, Urgency
from metaorder.orders.normalize import IntakeDefaults
from metaorder.orders.oms import OmsApplication
from metaorder.orders.risk import RiskEngine, RiskLimits, merge
from metaorder.posttrade.dropcopy import DropCopy
from metaorder.reflector import ECHOED_TYPES, Reflector

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
    ``before_shutdown(timeout)`` runs first (the engine pulls its child orders and its initiators log
    out while the embedded venues still listen), then every acceptor shuts down.
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(a.serve(cb)) for a, cb in zip(acceptors, on_started, strict=True)]
            tasks += [tg.create_task(work()) for work in workers]
            stopping = tg.create_task(stop.wait())
            await asyncio.wait({*tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
            log.info("shutting down", sessions_connected=sum(len(a.connections) for a in acceptors))
            if before_shutdown is not None:  # initiators first: pull child orders while the venues still listen
                await before_shutdown(shutdown_timeout)
            await asyncio.gather(*(a.shutdown(shutdown_timeout) for a in acceptors))
            for task in (*tasks, stopping):
                task.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


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


async def run_reflector(
    port: int,
    sender_comp_id: str,
    target_comp_ids: Sequence[str],
    reset_on_logon: bool,
    dictionary_path: Path | None,
    store_path: Path | None,
    host: str = "127.0.0.1",
    on_started: Callable[[int], None] | None = None,
) -> None:
    dictionary = load_dictionary(dictionary_path)
    configs = [
        SessionConfig(
            sender_comp_id=sender_comp_id,
            target_comp_id=target,
            role=Role.ACCEPTOR,
            begin_string=dictionary.begin_string,
            reset_on_logon=reset_on_logon,
            supported_app_types=ECHOED_TYPES,
        )
        for target in target_comp_ids
    ]
    await run_acceptor(configs, Reflector, host, port, dictionary, store_path, on_started=on_started)


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


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """gc callback: once a generation-1 collection is over, freeze what survived it."""
    if phase == "stop" and info["generation"] == 1:
        gc.freeze()


def build_intake(config: MetaorderConfig, journal: Journal) -> Intake:
    """The order intake of the daemon: normalization defaults, risk limits, parent book, journal."""
    references = {i.symbol: i.reference_price for i in config.instrument}
    risk_settings = config.risk
    global_limits = RiskLimits.model_validate(risk_settings.model_dump(exclude={"session"}))
    risk = RiskEngine(global_limits, risk_settings.session, references.get)
    intake_cfg = config.intake
    defaults = IntakeDefaults(
        Strategy[intake_cfg.default_strategy], Urgency[intake_cfg.default_urgency],
        Aggressiveness[intake_cfg.default_aggressiveness], intake_cfg.default_participation_rate,
        {i.symbol: i.lot_size for i in config.instrument}, intake_cfg.trading_day_start_s,
    )
    return Intake(references, risk, journal, ParentBook(references.get), defaults)


def venue_infos(config: MetaorderConfig, embedded: VenuesConfig | None) -> dict[str, VenueInfo]:
    """What the router knows of each venue: the embedded simulated ones and the external ones."""
    infos: dict[str, VenueInfo] = {}
    for v in embedded.venue if embedded is not None else ():
        infos[v.name] = VenueInfo(v.name, VenueKind(v.kind), v.maker_fee, v.taker_fee, v.ack_latency_ms,
                                  v.min_order_qty if v.kind == "dark" else 0)
    for x in config.execution.venue:
        infos[x.name] = VenueInfo(x.name, VenueKind(x.kind), x.maker_fee, x.taker_fee, x.latency_ms, x.min_qty)
    return infos


def build_engine(config: MetaorderConfig, intake: Intake, venues: Mapping[str, VenueInfo]) -> ExecutionEngine:
    """The execution pipeline behind the intake: market view, TWAP, best-price router, parent control."""
    e = config.execution
    # The config model and the engine's settings share their field names: copied by name, never by position.
    settings = ExecutionSettings(**e.model_dump(include={f.name for f in dataclasses.fields(ExecutionSettings)}))
    instruments = {i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size) for i in config.instrument}
    try:
        TwapSettings.from_mapping(e.twap)  # refuse bad tunables at start-up, not at the first parent
    except ValueError as exc:
        raise ConfigError(f"execution.twap: {exc}") from exc

    def strategies(kind: str, parent: ParentState, seed: int) -> ExecutionStrategy:
        return make_strategy(kind, parent, seed, **(e.twap if kind == "TWAP" else {}))

    engine = ExecutionEngine(intake, ConsolidatedMarket(venues), venues, BestPriceRouter(), ParentGuard(),
                             instruments, settings, strategies)
    references = {i.symbol: i.reference_price for i in config.instrument}
    market = engine.market

    def midpoint(symbol: str) -> Decimal | None:
        """Internal crosses happen at the live consolidated midpoint; the reference price before any quote."""
        mid = market.mid(symbol)
        return mid if mid is not None else references.get(symbol)

    intake.book.mid_source = midpoint
    return engine


async def run_daemon(config: MetaorderConfig, on_started: Callable[[int], None] | None = None,
                     clock: Clock | None = None) -> None:
    """``metaorder run``: OMS acceptor → intake → execution engine → venue sessions, plus the drop copy.

    With ``execution.embedded_venues`` set, the simulated venues of that file run in this process
    behind their own FIX acceptors on free local ports, and the engine connects to them like to any
    other venue.  The order journal and the FIX message store are opened first and closed last.
    """
    from metaorder.venues.runtime import SimulatedVenues, drive, venue_acceptors, venue_session_configs

    clock = clock or LiveClock()
    dictionary = load_dictionary(config.dictionary)
    config.store.path.parent.mkdir(parents=True, exist_ok=True)  # var/ on a fresh checkout
    config.journal.path.parent.mkdir(parents=True, exist_ok=True)
    acc, e = config.acceptor, config.execution
    embedded = load_venues_config(e.embedded_venues) if e.embedded_venues is not None else None
    supported = frozenset({"D", "F", "G", "H"})
    session_configs = [s.session_config(acc.sender_comp_id, Role.ACCEPTOR, supported) for s in acc.sessions]
    venue_configs = {v.name: SessionConfig(acc.sender_comp_id, v.comp_id, Role.INITIATOR,
                                           heartbeat_interval=v.heartbeat_interval) for v in e.venue}
    for v in embedded.venue if embedded is not None else ():
        venue_configs[v.name] = SessionConfig(acc.sender_comp_id, v.comp_id, Role.INITIATOR, heartbeat_interval=30,
                                              reset_on_logon=True)
    drop = config.dropcopy
    drop_config = SessionConfig(acc.sender_comp_id, drop.target_comp_id, Role.ACCEPTOR,
                                supported_app_types=frozenset()) if drop is not None else None
    own = [*session_configs, *venue_configs.values(), *([drop_config] if drop_config else [])]
    limits = TransportLimits(max_message_size=acc.max_message_size)
    journal = SqliteJournal(config.journal.path, synchronous=config.journal.synchronous,
                            redo=config.journal.synchronous == "NORMAL")
    db, stores = open_stores(config.store.path, config.store.synchronous, [store_key(c) for c in own])
    try:
        intake = build_intake(config, journal)
        engine = build_engine(config, intake, venue_infos(config, embedded))
        replayed = intake.recover(also=engine.replay)  # one pass over the journal rebuilds both
        open_children = engine.finish_recovery()
        intake.start(clock.now())
        engine.start(intake.boot)
        # The start entry is made durable now, which also starts the journal's applier child here
        # rather than inside the first order's flush (a Popen on the event loop, 5 ms or more).
        journal.flush()
        quiet_garbage_collector()
        log.info("order journal replayed", entries=replayed, open_orders=len(intake.book),
                 parents=sum(1 for _ in intake.book.parents()), open_children=open_children)
        sessions = [Session(c, stores[store_key(c)], dictionary) for c in session_configs]
        cancel_on_disconnect = frozenset(
            s.target_comp_id for s in acc.sessions
            if merge(config.risk, config.risk.session.get(s.target_comp_id)).cancel_on_disconnect
        )
        dropcopy = None
        acceptors: list[Acceptor] = []
        if drop is not None and drop_config is not None:
            dropcopy = DropCopy(Session(drop_config, stores[store_key(drop_config)], dictionary), clock)
            acceptors.append(Acceptor(drop.host, drop.port, [dropcopy.session], dropcopy, clock, limits))
        app = OmsApplication(intake, {s.config.target_comp_id: s for s in sessions}, clock, cancel_on_disconnect,
                             dropcopy)
        gateway = VenueGateway(engine, clock, app, {c.target_comp_id: name for name, c in venue_configs.items()},
                               dropcopy)
        app.on_change = gateway.orders_changed
        oms_acceptor = Acceptor(acc.host, acc.port, sessions, app, clock, limits)
        workers: list[Callable[[], Coroutine[Any, Any, None]]] = [gateway.run]
        venue_ports = {v.name: (v.host, v.port) for v in e.venue}
        venues_ready = asyncio.Event()
        started: list[Callable[[int], None] | None] = [None] * len(acceptors)
        if embedded is not None:
            sim = SimulatedVenues.build(embedded, clock, clock.now())
            venue_stores: dict[str, SessionStore] = {
                store_key(c): MemoryStore() for v in embedded.venue
                for c in venue_session_configs(v, acc.sender_comp_id)}
            embedded_acceptors = venue_acceptors(embedded, sim, venue_stores, clock, acc.sender_comp_id)
            pending = {v.name for v in embedded.venue}

            def venue_started(name: str, host: str) -> Callable[[int], None]:
                def report(port: int) -> None:
                    venue_ports[name] = (host, port)
                    pending.discard(name)
                    if not pending:
                        venues_ready.set()

                return report

            acceptors += embedded_acceptors
            started += [venue_started(v.name, v.host) for v in embedded.venue]
            workers.append(lambda: drive(sim, clock))
        else:
            venues_ready.set()
        initiators: list[Initiator] = []

        async def connect_venues() -> None:
            await venues_ready.wait()
            async with asyncio.TaskGroup() as tg:
                for name, cfg in venue_configs.items():
                    host, port = venue_ports[name]
                    initiator = Initiator(host, port, Session(cfg, stores[store_key(cfg)], dictionary), gateway,
                                          clock, limits, e.reconnect_min_s, e.reconnect_max_s)
                    initiators.append(initiator)
                    tg.create_task(initiator.run())

        if venue_configs:  # a worker that returns ends the daemon: only run it when it has sessions to keep
            workers.append(connect_venues)

        async def logout_venues(timeout: float) -> None:
            await gateway.stop_trading(timeout)
            await asyncio.gather(*(i.shutdown(timeout) for i in initiators))

        shutdown_timeout = max(c.logout_timeout for c in session_configs) + 1.0
        loop = asyncio.get_running_loop()

        def kill_switch(engaged: bool) -> None:
            now = clock.now()
            if engaged:
                intake.risk.kill(None, now)
                actions = engine.suspend(True, now)
                gateway.ship(actions)
                log.warning("global kill switch engaged: new orders are refused",
                            child_cancels_sent=sum(1 for a in actions.venue if a[1] == "F"))
            else:
                intake.risk.revive(None)
                engine.suspend(False, now)
                gateway.wake()
                log.warning("global kill switch released")

        def kill_session(session: str, now: float) -> int:
            intake.risk.kill(session, now)
            outs = intake.cancel_all(session, now, f"kill switch for {session} engaged")
            app.ship(outs)
            gateway.wake()  # their parents shrank: the engine cancels child orders as needed
            log.warning("session kill switch engaged: its orders are refused and canceled", session=session,
                        orders_canceled=len(outs))
            return len(outs)

        def revive_session(session: str) -> None:
            intake.risk.revive(session)
            log.warning("session kill switch released", session=session)

        def status() -> dict[str, object]:
            return {
                "global_kill": intake.risk.global_killed,
                "killed_sessions": sorted(s.target_comp_id for s in acc.sessions
                                          if intake.risk.session_killed(s.target_comp_id)),
                "open_orders": len(intake.book), "parents": sum(1 for _ in intake.book.parents()),
                "open_child_orders": len(engine.open_children()), "venues_connected": sorted(engine.connected),
                "trading_suspended": engine.suspended,
            }

        commands = Commands(frozenset(s.target_comp_id for s in acc.sessions), kill_session, revive_session,
                            kill_switch, status)
        control_path = config.control.socket
        workers.append(lambda: serve_control(control_path, commands, clock.now))

        # Operators pull the global kill switch with SIGUSR1 and release it with SIGUSR2.
        loop.add_signal_handler(signal.SIGUSR1, kill_switch, True)
        loop.add_signal_handler(signal.SIGUSR2, kill_switch, False)
        try:
            def oms_started(port: int) -> None:
                log.info("OMS clients connect here", host=acc.host, port=port, target_comp_id=acc.sender_comp_id,
                         sessions=[s.target_comp_id for s in acc.sessions],
                         dropcopy=f"{drop.host}:{drop.port} as {drop.target_comp_id}" if drop else None)
                if on_started is not None:
                    on_started(port)

            await serve_many([oms_acceptor, *acceptors], [oms_started, *started], workers,
                             shutdown_timeout=shutdown_timeout, before_shutdown=logout_venues)
        finally:
            loop.remove_signal_handler(signal.SIGUSR1)
            loop.remove_signal_handler(signal.SIGUSR2)
    finally:
        journal.close()
        if db is not None:
            db.close()
    log.info("stopped")
