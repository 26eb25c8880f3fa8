"""The drop copy: a FIX acceptor that receives a copy of every execution, in order, with resend.

Two kinds of copies go to the drop-copy session (default counterparty ``DROPCOPY``):

* every ExecutionReport sent to an OMS session, unchanged, with OnBehalfOfCompID (115) naming
  the OMS session it was sent to (the usual way a drop copy tells whose order it is);
* every execution the engine counted for one of its child orders at a venue (from a fill report,
  or recovered from a status report after a reconnect), once, with 115 naming the venue, so a
  risk or back-office system can reconcile street-side against client-side fills.

Copies are handed to the drop-copy FIX session whether or not its counterparty is connected: the
session stores each message under its sequence number (durable before sent), and a counterparty
that reconnects gets what it missed by the ordinary FIX resend.  Both kinds arrive through the
shared :class:`~metaorder.shells.outbox.Outbox`, after the journal commit their originals wait for,
in the order the engine produced them.  The drop-copy counterparty sends no business of its own:
any application message from it is answered with BusinessMessageReject (the session does that,
since the session supports no application types).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

import structlog

from metaorder.clock import Clock
from metaorder.fix.codec import FieldValue, Message
from metaorder.fix.session import Session
from metaorder.fix.transport import SessionConnection

log = structlog.get_logger("metaorder.dropcopy")

Body = Sequence[tuple[int, FieldValue]]


class DropCopy:
    """The drop-copy session's application: copies out, nothing in."""

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self.connection: SessionConnection | None = None

    # ---- Application ------------------------------------------------------------------------

    def on_logon(self, conn: SessionConnection) -> None:
        self.connection = conn
        log.info("drop copy connected", session=conn.id)

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        if self.connection is conn:
            self.connection = None

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        conn.session.business_reject(message, now, 3, "the drop copy session accepts no application messages")

    # ---- copies (an outbox sink) -------------------------------------------------------------

    def deliver(self, items: Sequence[tuple[str, Body]], after: Future[None]) -> None:
        """Outbox sink: ExecutionReport copies, each (party for OnBehalfOfCompID, body), in order.

        ``after``: the journal commit the originals wait for; the copies wait for it too, so the drop
        copy never sees an execution that a crash could still take back.
        """
        if not items:
            return
        conn = self.connection
        if conn is not None:
            start = 0
            for end in range(1, len(items) + 1):  # one batch per run of copies for the same party
                if end == len(items) or items[end][0] != items[start][0]:
                    conn.send_batch([("8", body) for _, body in items[start:end]], after=after,
                                    header=[(115, items[start][0])])
                    start = end
            return
        now = self.clock.now()  # stored under its sequence number, delivered by resend after Logon
        for on_behalf_of, body in items:
            self.session.send("8", body, now, [(115, on_behalf_of)])
