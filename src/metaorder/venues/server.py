"""The FIX face of a simulated venue: an Application for the FIX transport.

It hands each application message to the venue's sans-IO core and delivers the core's answers when
they are due (the venue's latency), in order per counterparty: a fill report can never overtake the
acknowledgement of its order, even if fills are configured faster than acks.  Market data goes out
after every change of the books, whoever caused it (a client or the market simulator).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import structlog

from metaorder.clock import Clock
from metaorder.fix.codec import Message
from metaorder.fix.transport import SessionConnection
from metaorder.venues.marketdata import MarketDataPublisher
from metaorder.venues.model import Fill
from metaorder.venues.venue import Outbound

log = structlog.get_logger("metaorder.venues")


class VenueCore(Protocol):
    name: str

    def on_message(self, owner: str, msg: Message, now: float) -> list[Outbound]: ...

    def session_status(self, owner: str, now: float) -> Outbound: ...

    def report_fills(self, fills: Sequence[Fill], now: float) -> list[Outbound]: ...

    def take_trades(self) -> list[tuple[str, int, int]]: ...

    def changed_symbols(self) -> list[str]: ...

    def has_news(self) -> bool: ...


class VenueApplication:
    """One venue's FIX application: order entry, market data, trading status."""

    def __init__(self, venue: VenueCore, market_data: MarketDataPublisher | None, clock: Clock) -> None:
        self.venue = venue
        self.market_data = market_data
        self.clock = clock
        self.connections: dict[str, SessionConnection] = {}
        self._outbox: dict[str, deque[Outbound]] = {}
        self._last_due: dict[str, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._log = log.bind(venue=venue.name)
        #: Brings the simulated market up to ``now`` before a request meets the book (set by the wiring).
        self.catch_up: Callable[[float], object] = lambda now: None

    # ---- Application ------------------------------------------------------------------------

    def on_logon(self, conn: SessionConnection) -> None:
        owner = conn.session.config.target_comp_id
        self.connections[owner] = conn
        self.deliver([self.venue.session_status(owner, self.clock.now())])

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        owner = conn.session.config.target_comp_id
        if self.connections.get(owner) is conn:
            del self.connections[owner]
        if self.market_data is not None:
            self.market_data.drop_owner(owner)

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        owner = conn.session.config.target_comp_id
        self.catch_up(now)
        out = self.respond(owner, message, now)
        if out is None:
            conn.session.business_reject(message, now, 3, "Unsupported Message Type")
            return
        self.deliver(out)

    def respond(self, owner: str, message: Message, now: float) -> list[Outbound] | None:
        """The venue's answers to one request, plus the market data it changed (None: not a
        message this venue handles).  Shared by the FIX shell above and the in-process wiring."""
        if message.msg_type == "V":
            if self.market_data is None:
                out = [Outbound(owner, "Y", [(262, message.get(262) or ""), (281, "8"),
                                             (58, f"{self.venue.name} is a dark pool: it publishes no market data")],
                                now)]
            else:
                out = self.market_data.on_request(owner, message, now)
        elif message.msg_type in ("D", "F", "G", "H"):
            out = self.venue.on_message(owner, message, now)
        else:
            return None
        return out + self.publish(now)

    # ---- market side ------------------------------------------------------------------------

    def on_fills(self, fills: Sequence[Fill], now: float) -> None:
        """Fills made by the market simulator (background orders hitting client orders)."""
        self.deliver(self.venue.report_fills(fills, now))

    def publish(self, now: float) -> list[Outbound]:
        """Market data for what changed since the last publication (nothing changed: nothing to do)."""
        if not self.venue.has_news():
            return []
        if self.market_data is None:
            self.venue.take_trades()
            return []
        return self.market_data.publish_changes(self.venue.take_trades(), now)

    def broadcast(self, make: Iterable[Outbound]) -> None:
        self.deliver(list(make))

    # ---- delivery ---------------------------------------------------------------------------

    def deliver(self, outbounds: Sequence[Outbound]) -> None:
        """Queue messages per counterparty; each goes out when due, never before an earlier one."""
        now = self.clock.now()
        for out in outbounds:
            due = max(out.due, self._last_due.get(out.owner, 0.0))
            self._last_due[out.owner] = due
            box = self._outbox.setdefault(out.owner, deque())
            if due <= now and not box:
                self._send(out)
            else:
                box.append(Outbound(out.owner, out.msg_type, out.body, due))
                self._arm(due)

    def _send(self, out: Outbound) -> None:
        conn = self.connections.get(out.owner)
        if conn is None:
            return  # the counterparty is gone: an exchange does not queue reports for absent members
        try:
            conn.send(out.msg_type, out.body)
        except Exception:  # a malformed report is our bug: log it, keep the venue running
            self._log.exception("cannot send", owner=out.owner, msg_type=out.msg_type)

    def _arm(self, due: float) -> None:
        if due >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = asyncio.get_running_loop().call_later(max(0.0, due - self.clock.now()), self._drain)

    def _drain(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        now = self.clock.now()
        next_due = float("inf")
        for box in self._outbox.values():
            while box and box[0].due <= now:
                self._send(box.popleft())
            if box:
                next_due = min(next_due, box[0].due)
        if next_due < float("inf"):
            self._arm(next_due)
