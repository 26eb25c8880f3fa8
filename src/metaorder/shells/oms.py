"""The OMS sessions' FIX application: intake behind the transport, journal before acknowledgement.

Reports leave in the order the intake produced them, and only once the journal has committed the
entries written before them: they go through the :class:`~metaorder.shells.outbox.Outbox`, which
flushes once per event-loop iteration for every report of it (with ``synchronous = NORMAL`` one
write to the journal's redo log, a page-cache write, SQLite committing it moments later on its
thread; with ``FULL`` a commit on that thread, whose fsyncs the loop must not wait for).  A report
for a session that is not connected is handed to its FIX session anyway: the session stores it
under its sequence number and the OMS receives it by resend after its next Logon.  Every
ExecutionReport is also copied to the drop copy, after the same journal commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future

import structlog

from metaorder.clock import Clock
from metaorder.fix.codec import Message
from metaorder.fix.session import Session
from metaorder.fix.transport import SessionConnection
from metaorder.metrics.counters import OmsCounts
from metaorder.orders.intake import Intake, Outgoing
from metaorder.orders.oms_fix import EXECUTION_REPORT, NEW_ORDER_SINGLE, Fields, render_all
from metaorder.shells.dropcopy import DropCopy
from metaorder.shells.outbox import Outbox

log = structlog.get_logger("metaorder.oms")


class OmsApplication:
    def __init__(self, intake: Intake, sessions: Mapping[str, Session], clock: Clock,
                 cancel_on_disconnect: frozenset[str] = frozenset(), dropcopy: DropCopy | None = None,
                 on_change: Callable[[], None] | None = None, outbox: Outbox | None = None,
                 counts: OmsCounts | None = None) -> None:
        self.intake = intake
        self.counts = counts  # metrics: reports by kind, refusals, acknowledgement latency (None: not kept)
        # When the NewOrderSingles whose answers wait in the outbox were read (metrics only): their
        # answers are all in the next delivery, since the intake answers a request at once.
        self._reads: list[float] = []
        self.dropcopy = dropcopy  # gets a copy of every execution report, after the same journal commit
        self.on_change = on_change  # orders changed: the execution engine should look at its parents
        self.sessions = sessions  # counterparty CompID -> FIX session
        self.clock = clock
        self.cancel_on_disconnect = cancel_on_disconnect
        self.connections: dict[str, SessionConnection] = {}
        # Shared with the venue gateway in the daemon: one journal flush covers both.
        self.outbox = outbox if outbox is not None else Outbox(intake.journal)
        self._post = self.outbox.post  # bound once: ship runs once per order on the intake path

    def on_logon(self, conn: SessionConnection) -> None:
        self.connections[conn.session.config.target_comp_id] = conn

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        session = conn.session.config.target_comp_id
        if self.connections.get(session) is conn:
            del self.connections[session]
        if session in self.cancel_on_disconnect:
            outs = self.intake.cancel_all(session, self.clock.now(), "cancel on disconnect")
            log.info("cancel on disconnect", session=session, orders=len(outs))
            self.ship(outs)
            if self.on_change is not None:
                self.on_change()

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        outs = self.intake.on_message(conn.session.config.target_comp_id, message, now)
        self.ship(outs)
        if self.counts is not None and outs and message.msg_type == NEW_ORDER_SINGLE:
            self._reads.append(conn.read_at)
        if self.on_change is not None:
            self.on_change()

    def ship(self, outs: Sequence[Outgoing]) -> None:
        """Send ``outs`` once everything journaled so far is durable, after anything shipped before.

        Reports of one loop iteration (a whole read of pipelined orders) share one journal flush:
        one commit and one wake-up for all of them, instead of one per order.  The intake's domain
        reports become FIX here, once, through the OMS adapter (the drop copy gets the same bodies).
        """
        if not outs:
            return
        if self.counts is not None:
            self.counts.count_reports(outs)
        messages = render_all(outs)
        if self.dropcopy is not None:
            self._post(self.dropcopy, [(session, body) for session, msg_type, body in messages
                                       if msg_type == EXECUTION_REPORT])
        self._post(self, messages)

    def deliver(self, items: Sequence[tuple[str, str, Fields]], after: Future[None]) -> None:
        """Outbox sink: hand the (session, MsgType, body) messages to their FIX sessions now; the
        bytes leave after ``after``.

        One batch per session (one store flush, one write); a session not connected stores them.
        """
        by_session: dict[str, list[tuple[str, Fields]]] = {}
        for session_name, msg_type, body in items:
            by_session.setdefault(session_name, []).append((msg_type, body))
        for session_name, batch in by_session.items():
            conn = self.connections.get(session_name)
            if conn is not None:
                conn.send_batch(batch, after=after)
                continue
            session = self.sessions.get(session_name)
            if session is not None:  # stored now, delivered by resend after the next Logon
                now = self.clock.now()
                for msg_type, body in batch:
                    session.send(msg_type, body, now)
        if self._reads:
            self._acknowledged(after)

    def _acknowledged(self, after: Future[None]) -> None:
        """Time the answers just handed to the transport from their orders' reads (metrics).

        The answers leave once ``after`` (the journal commit) is done: with ``synchronous =
        NORMAL`` it already is and the transport writes them within this call (unless the peer's
        socket is backed up); otherwise they are timed when the commit completes, on the loop.
        """
        reads, self._reads = self._reads, []
        counts = self.counts
        assert counts is not None
        histogram = counts.ack_latency
        clock = self.clock

        def observe() -> None:
            now = clock.now()
            for read in reads:
                histogram.observe(now - read)

        if after.done():
            if after.exception() is None:  # a failed journal answers nothing: nothing to time
                observe()
            return
        loop = asyncio.get_running_loop()

        def committed(done: Future[None]) -> None:  # on the journal's thread
            if done.exception() is None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: the daemon is gone
                    loop.call_soon_threadsafe(observe)

        after.add_done_callback(committed)
