"""What an operator can do to a running engine: kill switches and their release, status, the venue scorecard.

One :class:`Operator` per daemon, used by every operator surface: ``metaorder ctl`` (through the
control socket, :mod:`metaorder.ctl`), the signals (SIGUSR1 pulls the global kill switch, SIGUSR2
releases it) and any later one (a console, metrics).  The surfaces only translate; what a kill
switch does, and what gets logged when it does, is decided here once, so a switch pulled by a
signal and one pulled over the socket cannot differ.

Every switch and release is recorded in the journal as a ``KillSwitchChanged`` event (through the
intake's :meth:`~metaorder.orders.intake.Intake.record`, before its effects), for the audit and the
later readers of the event stream; :meth:`Operator.recorded` tells a surface when that record is
durable, so that ``metaorder ctl`` never says "ok" about a switch a kill -9 could erase.  Recovery
does not fold it: a restart starts with every switch released, as before.

Effects go through the shells: reports to the OMS sessions through the OMS application, cancels
of child orders through the venue gateway (both after the journal commit, as everything else).
Every switch is logged at WARNING.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

import structlog

from metaorder.clock import Clock
from metaorder.events import KillSwitchChanged
from metaorder.execution.engine import ExecutionEngine
from metaorder.execution.scorecard import Scorecard
from metaorder.metrics.state import Snapshot
from metaorder.orders.intake import Intake
from metaorder.shells.gateway import VenueGateway
from metaorder.shells.oms import OmsApplication

log = structlog.get_logger("metaorder")


class Operator:
    """Kill switches (per OMS session and global), their release, and a status snapshot."""

    def __init__(self, intake: Intake, engine: ExecutionEngine, oms: OmsApplication, gateway: VenueGateway,
                 sessions: frozenset[str], clock: Clock, snapshot: Callable[[], Snapshot] | None = None) -> None:
        self.intake = intake
        self.snapshot = snapshot  # the metrics' view of the engine, for the counters in status (None: none kept)
        self.engine = engine
        self.oms = oms
        self.gateway = gateway
        self.sessions = sessions  # the OMS sessions' CompIDs: what a session switch may name
        self.clock = clock

    def kill_all(self) -> None:
        """Global kill switch: every new order is refused and every working child order is canceled.

        Open client orders stay open, to be worked again after :meth:`revive_all`.
        """
        now = self.clock.now()
        self.intake.record(KillSwitchChanged(True, "global kill switch engaged"), now)
        self.intake.risk.kill(None, now)
        actions = self.engine.suspend(True, now)
        self.gateway.ship(actions)
        log.warning("global kill switch engaged: new orders are refused",
                    child_cancels_sent=sum(1 for a in actions.venue if a[1] == "F"))

    def revive_all(self) -> None:
        """Release the global kill switch: orders are accepted and parents worked again."""
        now = self.clock.now()
        self.intake.record(KillSwitchChanged(False, "global kill switch released"), now)
        self.intake.risk.revive(None)
        self.engine.suspend(False, now)
        self.gateway.wake()
        log.warning("global kill switch released")

    def kill_session(self, session: str) -> int:
        """One session's kill switch: its new orders are refused and its open orders canceled.

        Returns how many orders were canceled.  Their parents shrink, so the engine cancels child
        orders as needed; other sessions are not touched.
        """
        now = self.clock.now()
        self.intake.record(KillSwitchChanged(True, f"kill switch for {session} engaged", session), now)
        self.intake.risk.kill(session, now)
        outs = self.intake.cancel_all(session, now, f"kill switch for {session} engaged")
        self.oms.ship(outs)
        self.gateway.wake()  # their parents shrank: the engine cancels child orders as needed
        log.warning("session kill switch engaged: its orders are refused and canceled", session=session,
                    orders_canceled=len(outs))
        return len(outs)

    def revive_session(self, session: str) -> None:
        self.intake.record(KillSwitchChanged(False, f"kill switch for {session} released", session), self.clock.now())
        self.intake.risk.revive(session)
        log.warning("session kill switch released", session=session)

    def recorded(self) -> concurrent.futures.Future[None]:
        """Resolves once every action taken so far is durable in the journal: an operator surface
        answers "ok" only then, as an OMS is told of an order only once it is journaled."""
        return self.intake.journal.flush()

    def status(self) -> dict[str, object]:
        """Kill switches, open orders and parents, open child orders, venues connected, the OMS
        sessions (logged on, next sequence numbers) and, when metrics are kept, their counters."""
        risk, book, engine = self.intake.risk, self.intake.book, self.engine
        status: dict[str, object] = {
            "global_kill": risk.global_killed,
            "killed_sessions": sorted(s for s in self.sessions if risk.session_killed(s)),
            "open_orders": len(book), "parents": sum(1 for _ in book.parents()),
            "open_child_orders": len(engine.open_children()), "venues_connected": sorted(engine.connected),
            "trading_suspended": engine.suspended,
            "oms_sessions": {
                name: {"logged_on": session.logged_on, "next_sender_seq": session.store.next_sender_seq(),
                       "next_target_seq": session.store.next_target_seq()}
                for name, session in sorted(self.oms.sessions.items())
            },
        }
        if self.snapshot is not None:
            status["counters"] = self.snapshot().counters()
        return status

    def scorecard_rows(self) -> list[dict[str, object]] | None:
        """The venue scorecard's table (:meth:`Scorecard.rows <metaorder.execution.scorecard.Scorecard.rows>`),
        None when the engine keeps no scorecard."""
        scorecard = self.engine.scorecard  # whatever learns from its children: the table is a Scorecard's
        return scorecard.rows() if isinstance(scorecard, Scorecard) else None
