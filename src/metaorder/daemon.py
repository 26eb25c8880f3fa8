"""``metaorder run``: the composition root, where stores, sessions, shells and the engine are wired.

Everything below this module receives what it needs as arguments; nothing reaches for globals.
:func:`run_daemon` reads as the list of what runs: the durable state is opened first, the intake
and the engine are rebuilt from the journal (:mod:`metaorder.wiring`, the same builders as the
simulation), the asyncio shells are put around them (:mod:`metaorder.shells`), then everything
starts in one TaskGroup.  SIGINT/SIGTERM set the stop event; SIGUSR1/SIGUSR2 go to the
:class:`~metaorder.operations.Operator` (as ``metaorder ctl`` does).  Shutdown is graceful and
bounded: the engine pulls its child orders and its venue sessions log out while the embedded venues
still listen, then every acceptor logs its sessions out; the journal and the message store are
closed last, so what was acknowledged is on disk.  The generic parts of serving (stores, signals,
the first task to end) are in :mod:`metaorder.serving`, shared with ``metaorder venues`` and
``metaorder reflector``.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from metaorder.clock import Clock, LiveClock
from metaorder.config import MetaorderConfig, VenuesConfig, load_venues_config
from metaorder.ctl import Commands
from metaorder.ctl import serve as serve_control
from metaorder.execution.volume_profile import ProfileBook
from metaorder.fix.session import Role, Session, SessionConfig
from metaorder.fix.store import MemoryStore, SessionStore
from metaorder.fix.transport import Acceptor, Initiator, TapFactory, TransportLimits
from metaorder.metrics.collector import build_registry
from metaorder.metrics.counters import Counters
from metaorder.metrics.http import Endpoints
from metaorder.metrics.http import serve as serve_metrics
from metaorder.metrics.state import EngineState
from metaorder.operations import Operator
from metaorder.orders.journal import SqliteJournal
from metaorder.orders.risk import merge
from metaorder.serving import (
    collector_paused,
    load_dictionary,
    open_stores,
    quiet_garbage_collector,
    signal_handlers,
    store_key,
    until_stopped,
)
from metaorder.shells.dropcopy import DropCopy
from metaorder.shells.gateway import VenueGateway
from metaorder.shells.oms import OmsApplication
from metaorder.shells.outbox import Outbox
from metaorder.snapshot import build_fingerprint, snapshot_path, written_by_this_build
from metaorder.snapshotter import SnapshotterProcess
from metaorder.venues.runtime import SimulatedVenues, drive, venue_acceptors, venue_session_configs
from metaorder.wiring import start_pipeline, venue_infos

log = structlog.get_logger("metaorder")

OMS_MESSAGES = frozenset({"D", "F", "G", "H"})  # what the OMS sessions accept; others: BusinessMessageReject


async def run_daemon(config: MetaorderConfig, on_started: Callable[[int], None] | None = None,
                     clock: Clock | None = None) -> None:
    """``metaorder run``: OMS acceptor → intake → execution engine → venue sessions, plus the drop copy.

    With ``execution.embedded_venues`` set, the simulated venues of that file run in this process
    behind their own FIX acceptors on free local ports, and the engine connects to them like to any
    other venue.  The order journal and the FIX message store are opened first and closed last.
    """
    clock = clock or LiveClock()
    dictionary = load_dictionary(config.dictionary)
    e = config.execution
    embedded = load_venues_config(e.embedded_venues) if e.embedded_venues is not None else None
    plan = SessionPlan.from_config(config, embedded)
    limits = TransportLimits(max_message_size=config.acceptor.max_message_size)
    config.store.path.parent.mkdir(parents=True, exist_ok=True)  # var/ on a fresh checkout
    config.journal.path.parent.mkdir(parents=True, exist_ok=True)
    snapshots = config.journal.snapshot_every
    snapshot = snapshot_path(config.journal.path) if snapshots else None
    # The integrity check reads the whole file (seconds for a long history): skipped when recovery
    # starts from a snapshot and reads only the tail; the snapshotter checks the file meanwhile.
    journal = SqliteJournal(config.journal.path, synchronous=config.journal.synchronous,
                            redo=config.journal.synchronous == "NORMAL",
                            verify=snapshot is None or not written_by_this_build(snapshot, build_fingerprint()))
    db, stores = open_stores(config.store.path, config.store.synchronous, [store_key(c) for c in plan.all()])
    try:
        # The engine: intake and execution rebuilt from the journal in one pass, then started.
        with collector_paused():
            pipeline = start_pipeline(config, journal, venue_infos(config, embedded), clock.now(),
                                      profiles_path=e.volume_profiles, snapshot=snapshot)
        intake, engine = pipeline.intake, pipeline.engine
        # The start entry is made durable now, which also starts the journal's applier child here
        # rather than inside the first order's flush (a Popen on the event loop, 5 ms or more).
        journal.flush()
        quiet_garbage_collector()
        log.info("order journal replayed", entries=pipeline.replayed, open_orders=len(intake.book),
                 parents=sum(1 for _ in intake.book.parents()), open_children=pipeline.open_children,
                 from_snapshot_at=pipeline.snapshot_seq or None, no_snapshot=pipeline.snapshot_note or None)

        # The shells: drop copy, OMS sessions, venue gateway, sharing one flush-then-send outbox.
        def session(c: SessionConfig) -> Session:
            return Session(c, stores[store_key(c)], dictionary)

        outbox = Outbox(journal)
        counters = Counters()  # messages, reports, fills... kept on the hot path as plain ints (metrics, ctl status)
        changed = asyncio.Event()  # client orders changed: the engine's decision loop looks again
        drop = config.dropcopy
        dropcopy = DropCopy(session(plan.dropcopy), clock) if plan.dropcopy is not None else None
        oms_sessions = [session(c) for c in plan.oms]
        oms = OmsApplication(intake, {s.config.target_comp_id: s for s in oms_sessions}, clock,
                             plan.cancel_on_disconnect, dropcopy, on_change=changed.set, outbox=outbox,
                             counts=counters.oms)
        gateway = VenueGateway(engine, clock, oms, {c.target_comp_id: name for name, c in plan.venues.items()},
                               dropcopy, outbox, wake=changed, counts=counters.venues)

        # The listeners: OMS sessions, drop copy, embedded venues (their ports known once listening).
        acc = config.acceptor
        oms_acceptor = Acceptor(acc.host, acc.port, oms_sessions, oms, clock, limits, tap=counters.tap)
        drop_acceptors = [Acceptor(drop.host, drop.port, [dropcopy.session], dropcopy, clock, limits,
                                   tap=counters.tap)] if drop is not None and dropcopy is not None else []
        links = VenueLinks(plan.venues, {v.name: (v.host, v.port) for v in e.venue}, session, gateway, clock,
                           limits, e.reconnect_min_s, e.reconnect_max_s, tap=counters.tap)

        # What operators see: the metrics' view of the engine (read at scrape time), ctl status, /readyz.
        def fix_sessions() -> list[tuple[str, Session]]:
            return [*(("oms", s) for s in oms_sessions), *(("dropcopy", d.session) for d in [dropcopy] if d),
                    *(("venue", i.session) for i in links.initiators)]

        state = EngineState(counters, intake, engine, journal, fix_sessions, oms.sessions, clock,
                            oms_listening=lambda: oms_acceptor.bound_port is not None)
        operator = Operator(intake, engine, oms, gateway, frozenset(c.target_comp_id for c in plan.oms), clock,
                            snapshot=state.snapshot)
        metrics = config.metrics
        endpoints = Endpoints(build_registry(state.snapshot), state.readiness) if metrics.enabled else None
        sim = SimulatedVenues.build(embedded, clock, clock.now()) if embedded is not None else None
        sim_acceptors = embedded_venue_acceptors(embedded, sim, clock, acc.sender_comp_id) if embedded and sim else []
        links.expect({name for _, name in sim_acceptors})

        def oms_started(port: int) -> None:
            log.info("OMS clients connect here", host=acc.host, port=port, target_comp_id=acc.sender_comp_id,
                     sessions=[c.target_comp_id for c in plan.oms],
                     dropcopy=f"{drop.host}:{drop.port} as {drop.target_comp_id}" if drop else None)
            if on_started is not None:
                on_started(port)

        profiles = pipeline.context.profiles if isinstance(pipeline.context.profiles, ProfileBook) else None

        # Everything starts in one TaskGroup; the first task to end (or fail), or a signal, stops it all.
        stop = asyncio.Event()
        signals = {signal.SIGINT: stop.set, signal.SIGTERM: stop.set,
                   signal.SIGUSR1: operator.kill_all, signal.SIGUSR2: operator.revive_all}
        acceptors = [oms_acceptor, *drop_acceptors, *(a for a, _ in sim_acceptors)]
        with signal_handlers(signals):
            async with asyncio.TaskGroup() as tg:
                tasks = [
                    tg.create_task(oms_acceptor.serve(oms_started)),
                    *(tg.create_task(a.serve()) for a in drop_acceptors),
                    *(tg.create_task(a.serve(links.listening(name, a.host))) for a, name in sim_acceptors),
                    *([tg.create_task(drive(sim, clock))] if sim is not None else []),
                    tg.create_task(gateway.run()),
                    # A task that returns ends the daemon: the links only run when there are sessions to keep.
                    *([tg.create_task(links.run())] if plan.venues else []),
                    tg.create_task(serve_control(config.control.socket, Commands(operator))),
                    *([tg.create_task(serve_metrics(metrics.host, metrics.port, endpoints))] if endpoints else []),
                    *([tg.create_task(keep_profiles(profiles, e.volume_profiles, clock))] if profiles else []),
                    *([tg.create_task(SnapshotterProcess(config, snapshots).run())] if snapshots else []),
                ]
                await until_stopped(tasks, stop)
                await shut_down(acceptors, links, plan.shutdown_timeout())
                for task in tasks:
                    task.cancel()
        if profiles is not None:
            save_profiles(profiles, e.volume_profiles)
    finally:
        journal.close()
        if db is not None:
            db.close()
    log.info("stopped")


PROFILE_SAVE_INTERVAL_S = 300.0  # what a kill -9 can lose of the learned volume profiles: today's, at most this


async def keep_profiles(profiles: ProfileBook, path: Path, clock: Clock) -> None:
    """Save the learned intraday volume profiles every few minutes (and the caller saves them at a clean
    stop): a finished day is learned once and must survive a restart; the day in progress is not
    learned until it ends, so losing its last minutes costs nothing."""
    while True:
        await asyncio.sleep(PROFILE_SAVE_INTERVAL_S)
        profiles.roll(clock.now())
        # The document is made on the loop (the book is the loop's); writing and fsyncing it is not:
        # the intake must not wait for a disk.
        await asyncio.to_thread(write_profiles, profiles.to_json(), path)


def save_profiles(profiles: ProfileBook, path: Path) -> None:
    write_profiles(profiles.to_json(), path)


def write_profiles(document: str, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ProfileBook.write(document, path)
    except OSError as exc:  # the profiles are an optimisation: trading goes on with the old ones
        log.warning("volume profiles not saved", path=str(path), error=exc.strerror or str(exc))


async def shut_down(acceptors: Sequence[Acceptor], links: VenueLinks, timeout: float) -> None:
    """Graceful, each step bounded by ``timeout``: venues first (pull the child orders while the
    embedded venues still listen, then log out), then every acceptor logs its sessions out."""
    log.info("shutting down", sessions_connected=sum(len(a.connections) for a in acceptors))
    await links.shutdown(timeout)
    await asyncio.gather(*(a.shutdown(timeout) for a in acceptors))


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """Every FIX session of the daemon that keeps its state in the message store."""

    oms: list[SessionConfig]  # OMS sessions (we accept)
    venues: dict[str, SessionConfig]  # venue name -> our session with it (we initiate)
    dropcopy: SessionConfig | None  # the drop-copy session (we accept)
    cancel_on_disconnect: frozenset[str]  # OMS sessions whose orders are canceled when they drop

    @classmethod
    def from_config(cls, config: MetaorderConfig, embedded: VenuesConfig | None) -> SessionPlan:
        acc, e, drop = config.acceptor, config.execution, config.dropcopy
        oms = [s.session_config(acc.sender_comp_id, Role.ACCEPTOR, OMS_MESSAGES) for s in acc.sessions]
        venues = {v.name: SessionConfig(acc.sender_comp_id, v.comp_id, Role.INITIATOR,
                                        heartbeat_interval=v.heartbeat_interval) for v in e.venue}
        for v in embedded.venue if embedded is not None else ():
            venues[v.name] = SessionConfig(acc.sender_comp_id, v.comp_id, Role.INITIATOR, heartbeat_interval=30,
                                           reset_on_logon=True)
        dropcopy = SessionConfig(acc.sender_comp_id, drop.target_comp_id, Role.ACCEPTOR,
                                 supported_app_types=frozenset()) if drop is not None else None
        cancel_on_disconnect = frozenset(
            s.target_comp_id for s in acc.sessions
            if merge(config.risk, config.risk.session.get(s.target_comp_id)).cancel_on_disconnect
        )
        return cls(oms, venues, dropcopy, cancel_on_disconnect)

    def all(self) -> list[SessionConfig]:
        return [*self.oms, *self.venues.values(), *([self.dropcopy] if self.dropcopy else [])]

    def shutdown_timeout(self) -> float:
        return max(c.logout_timeout for c in self.oms) + 1.0


def embedded_venue_acceptors(embedded: VenuesConfig, sim: SimulatedVenues, clock: Clock,
                             owner: str) -> list[tuple[Acceptor, str]]:
    """The embedded simulated venues behind their own acceptors (free ports), with their names.

    Their sessions start afresh with the process (in-memory stores, reset at every logon): nothing
    of a previous run exists on their side to resend.
    """
    stores: dict[str, SessionStore] = {store_key(c): MemoryStore() for v in embedded.venue
                                       for c in venue_session_configs(v, owner)}
    acceptors = venue_acceptors(embedded, sim, stores, clock, owner)
    return list(zip(acceptors, [v.name for v in embedded.venue], strict=True))


class VenueLinks:
    """The engine's venue sessions: one FIX initiator per venue, connected once every venue listens."""

    def __init__(self, configs: dict[str, SessionConfig], addresses: dict[str, tuple[str, int]],
                 session: Callable[[SessionConfig], Session], gateway: VenueGateway, clock: Clock,
                 limits: TransportLimits, reconnect_min_s: float, reconnect_max_s: float,
                 tap: TapFactory | None = None) -> None:
        self.configs = configs
        self._tap = tap
        self.addresses = dict(addresses)  # venue -> (host, port); embedded venues are added as they listen
        self._session = session
        self.gateway = gateway
        self._clock = clock
        self._limits = limits
        self._reconnect = (reconnect_min_s, reconnect_max_s)
        self.initiators: list[Initiator] = []
        self._waiting: set[str] = set()
        self._ready = asyncio.Event()
        self._ready.set()

    def expect(self, venues: set[str]) -> None:
        """Connect only once these venues (embedded ones, on ports not known yet) are listening."""
        self._waiting = set(venues)
        if self._waiting:
            self._ready.clear()

    def listening(self, venue: str, host: str) -> Callable[[int], None]:
        """The ``on_started`` of an embedded venue's acceptor: records its port."""
        def report(port: int) -> None:
            self.addresses[venue] = (host, port)
            self._waiting.discard(venue)
            if not self._waiting:
                self._ready.set()

        return report

    async def run(self) -> None:
        await self._ready.wait()
        async with asyncio.TaskGroup() as tg:
            for name, config in self.configs.items():
                host, port = self.addresses[name]
                initiator = Initiator(host, port, self._session(config), self.gateway, self._clock, self._limits,
                                      *self._reconnect, tap=self._tap)
                self.initiators.append(initiator)
                tg.create_task(initiator.run())

    async def shutdown(self, timeout: float) -> None:
        """Send nothing new, pull the working child orders (bounded wait), then log every venue out."""
        await self.gateway.stop_trading(timeout)
        await asyncio.gather(*(i.shutdown(timeout) for i in self.initiators))
