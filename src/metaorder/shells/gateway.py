"""The execution engine on the event loop: venue FIX sessions, the decision timer, shipping.

The thin asyncio shell around :class:`~metaorder.execution.engine.ExecutionEngine`:

* :class:`VenueGateway` is the FIX application of every venue session (the engine is their
  initiator): logons, logouts and messages go to the engine; what the engine wants sent goes out
  through the outbox shared with the OMS application (:mod:`metaorder.shells.outbox`) — venue
  messages at once but only after the journal holds the children they concern, client reports
  through the OMS application, venue executions also to the drop copy.
* :meth:`VenueGateway.run` is the decision loop: it sleeps until the engine's next wake-up or
  until something changed (an order arrived, a fill came back), then lets the engine decide.  It
  is one task, owned by the daemon's TaskGroup.

Alerts from the parent/child control are logged at ERROR with the parent's id: an operator must
see them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future

import structlog

from metaorder.clock import Clock
from metaorder.execution.children import Fields
from metaorder.execution.engine import Actions, ExecutionEngine
from metaorder.fix.codec import Message
from metaorder.fix.tags import ExecType, LastLiquidityInd, MsgType, Side, Tag
from metaorder.fix.transport import SessionConnection
from metaorder.metrics.counters import VenueCounts
from metaorder.shells.dropcopy import DropCopy
from metaorder.shells.oms import OmsApplication
from metaorder.shells.outbox import Outbox

log = structlog.get_logger("metaorder.execution")

MIN_TICK_S = 0.001  # the loop never spins faster than this when nothing new happened
_LIQUIDITY: dict[str, str] = {LastLiquidityInd.ADDED_LIQUIDITY: "added", LastLiquidityInd.REMOVED_LIQUIDITY: "removed"}


class VenueGateway:
    def __init__(self, engine: ExecutionEngine, clock: Clock, oms: OmsApplication,
                 venue_by_comp_id: Mapping[str, str], dropcopy: DropCopy | None = None,
                 outbox: Outbox | None = None, wake: asyncio.Event | None = None,
                 counts: VenueCounts | None = None) -> None:
        self.engine = engine
        self.counts = counts  # metrics: children sent, rejected and filled per venue (None: not kept)
        self.clock = clock
        self.oms = oms
        self.outbox = outbox if outbox is not None else oms.outbox  # one journal flush for both
        self.venue_by_comp_id = dict(venue_by_comp_id)  # venue session TargetCompID -> venue name
        self.dropcopy = dropcopy
        self.connections: dict[str, SessionConnection] = {}  # venue name -> live connection
        self._samples_seen = 0  # engine.samples_taken at the last ship
        # Set when something changed (also by the OMS application, whose on_change sets it): decide now.
        self._wake = wake if wake is not None else asyncio.Event()

    # ---- Application (venue sessions) -----------------------------------------------------------

    def on_logon(self, conn: SessionConnection) -> None:
        venue = self._venue(conn)
        self.connections[venue] = conn
        log.info("venue session up", venue=venue)
        self.ship(self.engine.on_venue_session(venue, True, self.clock.now()))
        self.wake()

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        venue = self._venue(conn)
        if self.connections.get(venue) is conn:
            del self.connections[venue]
        log.warning("venue session down: routing around it", venue=venue, reason=reason)
        self.ship(self.engine.on_venue_session(venue, False, self.clock.now()))

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        venue = self._venue(conn)
        actions = self.engine.on_venue_message(venue, message, now)
        self.ship(actions)  # first: nothing below (logs, metrics) may stand between a fill and its reports
        if message.msg_type in ("8", "9"):
            self.wake()  # a fill, a reject or a closed child: the parent re-decides now, as in simulation
        counts = self.counts
        if (counts is not None and message.msg_type == MsgType.EXECUTION_REPORT
                and message.get(Tag.EXEC_TYPE) == ExecType.REJECTED):
            counts.child_rejects[venue] = counts.child_rejects.get(venue, 0) + 1
        for _, body in actions.street:
            fields = dict(body)
            if counts is not None:
                counts.fills[venue] = counts.fills.get(venue, 0) + 1
                counts.shares[venue] = counts.shares.get(venue, 0) + int(str(fields.get(Tag.LAST_QTY, 0)))
            log.info("venue fill", venue=venue, child=fields.get(Tag.CL_ORD_ID), symbol=fields.get(Tag.SYMBOL),
                     side="buy" if fields.get(Tag.SIDE) == Side.BUY else "sell", qty=fields.get(Tag.LAST_QTY),
                     price=str(fields.get(Tag.LAST_PX)),
                     liquidity=_LIQUIDITY.get(str(fields.get(Tag.LAST_LIQUIDITY_IND, "")), "unknown"))

    # ---- the decision loop ------------------------------------------------------------------------

    async def stop_trading(self, timeout: float) -> None:
        """Graceful shutdown, first step: send nothing new, pull every working child and wait
        (bounded) for the venues to confirm, so nothing rests at a venue while the engine is down."""
        self.ship(self.engine.suspend(True, self.clock.now()))
        deadline = self.clock.now() + timeout
        while self.engine.open_children() and self.connections and self.clock.now() < deadline:
            await asyncio.sleep(0.05)
        left = len(self.engine.open_children())
        log.info("trading stopped", children_still_open=left)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            started = self.clock.now()
            self.ship(self.engine.on_tick(started))
            if self.engine.backlogged:
                # Parents were left over (a restart, or a market move touching thousands): attend
                # them at the next tick, but give the event loop back for at least as long as this
                # tick took, whatever wakes the engine meanwhile.  Back to back, 10,000 parents'
                # first decisions after a restart held acknowledgements for seconds (p50 0.37 s
                # in the first 10 s at 5,000 orders/s); paced, the catch-up takes at most half the loop.
                await asyncio.sleep(max(self.clock.now() - started, MIN_TICK_S))
                continue
            due = self.engine.next_wakeup()
            delay = None if due is None else max(due - self.clock.now(), MIN_TICK_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    # ---- shipping ---------------------------------------------------------------------------------

    def ship(self, actions: Actions) -> None:
        """Send what the engine wants: venue messages now, once the journal holds their children."""
        for alert in actions.alerts:
            log.error("parent/child control alert", alert=alert)
        outbox = self.outbox
        if self.dropcopy is not None:  # every counted venue execution, once, after its journal commit
            outbox.put(self.dropcopy, actions.street)
        outbox.put(self, actions.venue)
        if actions.client:
            self.oms.ship(actions.client)
        if actions.venue or actions.street:
            outbox.flush()  # children are journaled before they leave, and leave at once
        elif self.engine.samples_taken != self._samples_seen:
            # Market samples (at most one per instrument a second): to disk as they come, not piled up
            # for the next order's flush to write on the loop in front of its ack.
            outbox.journal.flush()
        self._samples_seen = self.engine.samples_taken

    def deliver(self, items: Sequence[tuple[str, str, Fields]], after: Future[None]) -> None:
        """Outbox sink: (venue, MsgType, body) to the venue sessions, one batch per venue."""
        by_venue: dict[str, list[tuple[str, Fields]]] = {}
        for venue, msg_type, body in items:
            by_venue.setdefault(venue, []).append((msg_type, body))
        for venue, batch in by_venue.items():
            conn = self.connections.get(venue)
            if conn is None:  # reconciled by OrderStatusRequest after the next logon
                log.warning("venue not connected: message not sent", venue=venue, messages=len(batch))
                continue
            conn.send_batch(batch, after=after)
            if self.counts is not None:
                sent = self.counts.children_sent
                new = sum(1 for msg_type, _ in batch if msg_type == MsgType.NEW_ORDER_SINGLE)
                sent[venue] = sent.get(venue, 0) + new

    def _venue(self, conn: SessionConnection) -> str:
        target = conn.session.config.target_comp_id
        return self.venue_by_comp_id.get(target, target)
