"""The in-process wiring: intake, execution engine and simulated venues on a virtual clock.

The same core objects the daemon runs, with the sockets taken out: every FIX message between the
engine and a venue is still encoded and decoded (so both sides see exactly what they would see on
the wire), but it is handed over directly and delivered when the venue's latency says it is due.
The clock jumps from event to event — venue reports, market events, strategy wake-ups — so a
trading day runs in seconds, bit for bit the same for the same seeds.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from metaorder.clock import VirtualClock
from metaorder.config import MetaorderConfig, VenuesConfig
from metaorder.execution.engine import Actions, ExecutionEngine
from metaorder.execution.strategies import StrategyRegistry
from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.orders.intake import Intake, Outgoing
from metaorder.orders.journal import Journal, MemoryJournal
from metaorder.venues.runtime import SimulatedVenues
from metaorder.venues.venue import Outbound, VenueStatus
from metaorder.wiring import start_pipeline, venue_infos

_Body = Sequence[tuple[int, FieldValue]]


def on_the_wire(msg_type: str, body: _Body, sender: str, target: str, seq: int = 1) -> Message:
    """``body`` as the counterparty would decode it: through the codec, both ways."""
    raw = encode("FIX.4.4", msg_type, [(34, seq), (49, sender), (52, "20260101-00:00:00.000"), (56, target)], body)
    msg = decode(raw)
    assert isinstance(msg, Message), msg
    return msg


class InProcessVenues:
    """Simulated venues called directly by one counterparty (the engine), on the caller's clock."""

    def __init__(self, sim: SimulatedVenues, owner: str) -> None:
        self.sim = sim
        self.owner = owner
        sim.extra_owners = (owner,)
        self._queue: list[tuple[float, int, str, Message]] = []
        self._seq = itertools.count()
        self._last_due: dict[str, float] = {}
        self.down: set[str] = set()  # venues whose "connection" is broken: nothing goes either way

    def break_connection(self, venue: str) -> None:
        self.down.add(venue)
        self._queue = [item for item in self._queue if item[2] != venue]
        heapq.heapify(self._queue)

    def set_status(self, venue: str, status: VenueStatus, now: float) -> None:
        """Halt, close or reopen a venue; it tells its counterparty (TradingSessionStatus)."""
        self._deliver(venue, self.sim.venues[venue].set_status(status, [self.owner], now))

    def logon(self, venue: str, now: float) -> None:
        self._deliver(venue, [self.sim.venues[venue].session_status(self.owner, now)])

    def send(self, venue: str, msg_type: str, body: _Body, now: float) -> None:
        self.catch_up(now)
        if venue in self.down:
            return  # lost on a broken connection
        out = self.sim.apps[venue].respond(self.owner, on_the_wire(msg_type, body, self.owner, venue), now)
        self._deliver(venue, out or [])  # the engine sends venues nothing they do not handle

    def catch_up(self, now: float) -> None:
        self.sim.step(now, self._deliver)

    def due(self, now: float) -> list[tuple[str, Message]]:
        """Messages from the venues due by ``now``, in delivery order."""
        self.catch_up(now)
        out: list[tuple[str, Message]] = []
        while self._queue and self._queue[0][0] <= now:
            _, _, venue, msg = heapq.heappop(self._queue)
            out.append((venue, msg))
        return out

    def next_time(self) -> float | None:
        venues = self.sim.next_event_time()
        if not self._queue:
            return venues
        queued = self._queue[0][0]
        return queued if venues is None or queued < venues else venues

    def _deliver(self, venue: str, messages: Sequence[Outbound]) -> None:
        for out in messages:
            if out.owner != self.owner or venue in self.down:
                continue  # an exchange does not queue reports for absent members
            due = max(out.due, self._last_due.get(venue, 0.0))  # a fill never overtakes its ack
            self._last_due[venue] = due
            heapq.heappush(self._queue, (due, next(self._seq), venue, on_the_wire(out.msg_type, out.body, venue,
                                                                                   self.owner)))


@dataclass
class Simulation:
    """Clients' orders in, the engine and the venues run in virtual time, reports out."""

    clock: VirtualClock
    intake: Intake
    engine: ExecutionEngine
    venues: InProcessVenues
    reports: list[Outgoing] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    venue_messages: int = 0

    def connect(self) -> None:
        now = self.clock.now()
        for name in self.venues.sim.venues:
            self.venues.logon(name, now)
            self._apply(self.engine.on_venue_session(name, True, now))

    def disconnect(self, venue: str) -> None:
        """The venue's session drops: messages in flight are lost, the engine routes around it."""
        self.venues.break_connection(venue)
        self._apply(self.engine.on_venue_session(venue, False, self.clock.now()))

    def reconnect(self, venue: str) -> None:
        """The session is back: the venue says its status, the engine subscribes and reconciles."""
        now = self.clock.now()
        self.venues.down.discard(venue)
        self.venues.logon(venue, now)
        self._apply(self.engine.on_venue_session(venue, True, now))

    def from_venue(self, venue: str, msg: Message) -> None:
        """Hand the engine a message as if ``venue`` had sent it now (tests: a misbehaving venue)."""
        self._apply(self.engine.on_venue_message(venue, msg, self.clock.now()))

    def submit(self, session: str, msg_type: str, body: _Body) -> list[Outgoing]:
        """An OMS message through the intake; returns the reports it produced (also kept in reports)."""
        now = self.clock.now()
        out = self.intake.on_message(session, on_the_wire(msg_type, body, session, "METAORDER"), now)
        self.reports += out
        return out

    def run_until(self, end: float, max_steps: int = 10_000_000) -> None:
        """Advance the clock event by event up to ``end``."""
        for _ in range(max_steps):
            now = self.clock.now()
            for venue, msg in self.venues.due(now):
                self.venue_messages += 1
                self._apply(self.engine.on_venue_message(venue, msg, now))
            self._apply(self.engine.on_tick(now))
            pending = self.venues.next_time()
            if (pending is not None and pending <= now) or self.engine.backlogged:
                continue  # answers due at once (zero latency), parents still due: before time moves
            if now >= end:
                return
            times = [t for t in (self.engine.next_wakeup(), pending) if t is not None and t > now]
            self.clock.jump_to(min([*times, end]))
        raise RuntimeError("simulation did not reach its end time")

    def _apply(self, actions: Actions) -> None:
        now = self.clock.now()
        self.reports += actions.client
        self.alerts += actions.alerts
        for venue, msg_type, body in actions.venue:
            self.venues.send(venue, msg_type, body, now)


def build_simulation(config: MetaorderConfig, venues_config: VenuesConfig, clock: VirtualClock,
                     journal: Journal | None = None, strategies: StrategyRegistry | None = None) -> Simulation:
    """The daemon's intake and engine, built the daemon's way, in front of in-process venues.

    ``strategies``: a registry to use instead of the configuration's (the execution lab's baseline)."""
    journal = journal if journal is not None else MemoryJournal()
    # As the daemon does: an earlier run's journal is picked up.
    pipeline = start_pipeline(config, journal, venue_infos(config, venues_config), clock.now(), strategies)
    sim = SimulatedVenues.build(venues_config, clock, clock.now())
    return Simulation(clock, pipeline.intake, pipeline.engine, InProcessVenues(sim, config.acceptor.sender_comp_id))
