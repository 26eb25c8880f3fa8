"""asyncio transport: the thin shell that gives sans-IO FIX sessions sockets, timers and a store.

* :class:`Acceptor` serves many sessions on one port: a new connection is identified by the CompIDs
  of its first message, unknown or already-connected identities are refused, connections that never
  log on are dropped after the logon timeout, and at most ``max_pending`` connections may be waiting
  to log on at once (a Logon flood cannot exhaust the process).  A session belongs to one
  connection at a time: a newcomer for a session whose connection the peer has already closed
  waits for that end to be processed and then takes over; one for a session whose connection is
  alive is refused (closed).  The end of a connection acts only on the session it still owns: a
  client that drops TCP and logs on again at once used to find its new connection's session ended
  by the old connection's teardown, which ran after the new Logon (issue 13).
* :class:`Initiator` connects out and reconnects with exponential backoff.
* :class:`SessionConnection` runs one connection: every connection has its own TaskGroup with a reader
  and a writer task.  Outgoing bytes are written only once the store has committed them (durable
  before sent) — the writer awaits the store's flush: resolved at once with ``synchronous = NORMAL``
  (the batch is in the store's redo log, a page-cache write; SQLite commits it on its thread), or
  a group commit on the store's thread with ``FULL``, so the event loop never waits for an fsync.
  The write queue is bounded: when it is full the reader stops reading (TCP back-pressure); a
  peer that stops reading is disconnected after ``write_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import structlog

from metaorder.clock import Clock
from metaorder.fix.codec import FieldValue, Framer, Garbled, Message, decode
from metaorder.fix.session import (
    AppMessage,
    Disconnect,
    Event,
    LoggedOn,
    LoggedOut,
    Problem,
    Session,
)
from metaorder.fix.store import StoreError

log = structlog.get_logger("metaorder.fix")

#: Bytes handled per event-loop iteration at most (~80 NewOrderSingles).  With pipelined input the
#: answers to one read leave at the end of its iteration: reading 64 KB at a time held back the
#: acknowledgements of a whole window of orders until the last was processed, and the engine
#: then sat idle while the client turned them into new orders (event loop busy 87-89% at
#: saturation; 94-95% at 16 KB, with the answers to the first reads on their way meanwhile).
_READ_SIZE = 16384
#: What a connection's stream buffers before it stops reading from the socket (flow control).
_STREAM_LIMIT = 1 << 18


class Application(Protocol):
    """What an application sees of its FIX sessions.  Callbacks run on the event loop and must not block."""

    def on_logon(self, conn: SessionConnection) -> None: ...

    def on_logout(self, conn: SessionConnection, reason: str) -> None: ...

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None: ...


class Tap(Protocol):
    """Sees a connection's bytes each way (the metrics count messages by type there): ``received``
    gets input as it is read, ``sent`` whole encoded messages.  Called on the event loop; must be cheap."""

    def received(self, data: bytes) -> None: ...

    def sent(self, data: bytes) -> None: ...


#: Gives a new connection of a session its tap.
TapFactory = Callable[[Session], Tap]


@dataclass(frozen=True, slots=True)
class TransportLimits:
    max_message_size: int = 1 << 20  # bytes in one FIX message
    max_pending_writes: int = 256  # batches waiting for the store or the socket
    write_high_water: int = 1 << 20  # bytes queued or buffered for the peer before we stop reading from it
    write_timeout: float = 10.0  # seconds a peer may leave us blocked before it is disconnected
    logon_timeout: float = 10.0  # acceptor: seconds from connect to a first message
    max_pending: int = 64  # acceptor: connections not yet identified


def session_id(session: Session) -> str:
    cfg = session.config
    return f"{cfg.begin_string}:{cfg.sender_comp_id}->{cfg.target_comp_id}"


#: id(session) -> the connection that owns that session now: one per acceptor or initiator.
Owners = dict[int, "SessionConnection"]


class SessionConnection:
    """One TCP connection of one session, for as long as it lasts.

    It owns its session from the moment the connection is made until this connection's end has been
    handed to the session (:meth:`Session.connection_lost` with the session's ``connection_id`` of that
    moment).  A connection that no longer owns its session never touches its state or its output
    again: sends an application still makes through it go out on the connection that owns the
    session now (or are stored for a resend if none does), its logout does nothing.
    """

    def __init__(
        self,
        session: Session,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        app: Application,
        clock: Clock,
        limits: TransportLimits,
        owners: Owners | None = None,
        tap: Tap | None = None,
    ) -> None:
        self.session = session
        self._tap = tap
        #: When the last input was read (clock time): where the acknowledgement latency starts.
        self.read_at = 0.0
        # id(session) -> the connection that owns it, shared by every connection of the acceptor or
        # initiator that made this one (entries live exactly as long as the ownership).
        self._owners: Owners = owners if owners is not None else {}
        self.id = session_id(session)
        self._reader = reader
        self._writer = writer
        self._app = app
        # Optional: an application that must see what the session handled itself (a Reject of a message
        # it sent, a garbled message), e.g. the trader's console, defines on_problem(conn, kind, detail).
        self._on_problem: Callable[[SessionConnection, str, str], None] | None = getattr(app, "on_problem", None)
        self._clock = clock
        self._limits = limits
        self._pending: deque[tuple[Future[None], bytes] | None] = deque()
        self._wake_writer = asyncio.Event()
        self._pending_bytes = 0  # bytes queued for the writer: with the socket buffer, what the peer owes us
        self._writer_room = asyncio.Event()
        self._writer_room.set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # the clock time the armed timer is for
        self._writer_holds = False  # the writer task took an item off _pending and has not written it yet
        self._closing = False
        self._in_step = False
        self._state_flush_scheduled = False  # a flush of state changes alone is due this loop iteration
        self._connection_id: int | None = None  # session.connection_id while this connection owns it
        self._released = asyncio.Event()  # set once this connection has let go of the session
        self._log = log.bind(session=self.id)

    # ---- public -------------------------------------------------------------------------------

    @property
    def owns_session(self) -> bool:
        """Whether this connection is the one its session belongs to now."""
        return self._owners.get(id(self.session)) is self

    @property
    def peer_closed(self) -> bool:
        """The connection is ending: closing on our side, or the peer's end has arrived (possibly
        behind data not processed yet), as an end of stream (FIN) or as an error such as a reset (RST)."""
        reader = self._reader
        if self._closing or self._writer.is_closing() or reader.exception() is not None or reader.at_eof():
            # A reset (or any other transport error) is set as the reader's exception, not as an end
            # of stream, and the transport is closing from then on.
            return True
        # StreamReader.at_eof() is False while data is still buffered in front of the end of stream and
        # there is no public way to ask whether that end has arrived: its _eof flag says so (asyncio's
        # attribute since 3.4).
        return bool(getattr(reader, "_eof", False))

    async def released(self) -> None:
        """Wait until this connection has let go of its session."""
        await self._released.wait()

    def send(
        self, msg_type: str, body: Sequence[tuple[int, FieldValue]], header: Sequence[tuple[int, FieldValue]] = ()
    ) -> int:
        """Send an application message now (from application code, outside or inside a callback)."""
        owner = self._owners.get(id(self.session))
        if owner is not None and owner is not self:
            return owner.send(msg_type, body, header)
        seq = self.session.send(msg_type, body, self._clock.now(), header)
        if not self._in_step:
            self._flush_output()
        return seq

    def send_batch(
        self, messages: Sequence[tuple[str, Sequence[tuple[int, FieldValue]]]], after: Future[None] | None = None,
        header: Sequence[tuple[int, FieldValue]] = (),
    ) -> None:
        """Send several application messages with one store flush and one write.

        ``after``: another durability the bytes must also wait for (the order journal's commit).
        With writer threads both commits then run at the same time instead of one after the other.
        ``header``: extra header fields for every message of the batch (OnBehalfOfCompID of a drop copy).
        """
        owner = self._owners.get(id(self.session))
        if owner is not None and owner is not self:
            owner.send_batch(messages, after, header)
            return
        now = self._clock.now()
        for msg_type, body in messages:
            self.session.send(msg_type, body, now, header)
        self._flush_output(after)

    def logout(self, text: str = "") -> None:
        """Start the Logout handshake; nothing on a connection that no longer owns its session."""
        if self.owns_session:
            self._step(self.session.logout(self._clock.now(), text))

    async def run(self, initial: bytes = b"") -> None:
        """Serve the connection until either side closes it."""
        session = self.session
        now = self._clock.now()
        self._log.info("connected", peer=self._peer())
        # Messages after the first are framed by the session: it must obey the same size limit as the
        # acceptor's first read (Session has no public setting for it; connection_made keeps this one).
        session.max_message_size = self._limits.max_message_size
        try:
            made = session.connection_made(now)  # raises if another connection still owns the session
        except BaseException:
            self._released.set()
            self._writer.transport.abort()
            raise
        self._connection_id = session.connection_id
        self._owners[id(session)] = self
        try:
            self._step(made)
            if initial:
                if self._tap is not None:
                    self._tap.received(initial)
                self.read_at = now
                self._step(session.receive_data(initial, now))
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read_loop())
                tg.create_task(self._write_loop())
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self.owns_session:
                self._dispatch(self._release())
            self._released.set()
            self._writer.transport.abort()
            self._log.info("disconnected")

    # ---- internals ----------------------------------------------------------------------------

    def _peer(self) -> str:
        peer = self._writer.get_extra_info("peername")
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    async def _read_loop(self) -> None:
        reader = self._reader
        while not self._closing:
            if not self._writer_room.is_set():
                await self._writer_room.wait()  # back-pressure: the peer is not reading our answers
                continue
            try:
                data = await reader.read(_READ_SIZE)
            except (ConnectionError, OSError) as exc:
                self._log.info("read failed", error=str(exc))
                data = b""
            if not data:
                self._step(self._release())
                self._request_close()
                return
            if self._tap is not None:
                self._tap.received(data)
            self.read_at = now = self._clock.now()
            self._step(self.session.receive_data(data, now))
            if len(data) >= _READ_SIZE:  # more is probably buffered: let this read's answers go first
                await asyncio.sleep(0)

    async def _write_loop(self) -> None:
        writer = self._writer
        pending = self._pending
        limits = self._limits
        try:
            while True:
                if not pending:
                    self._wake_writer.clear()
                    await self._wake_writer.wait()
                    continue
                item = pending.popleft()
                if item is None:
                    break
                durable, data = item
                self._pending_bytes -= len(data)
                self._writer_holds = True
                if not durable.done():
                    await asyncio.wrap_future(durable)
                durable.result()  # raises StoreError: never send what is not stored
                chunks = [data]
                while pending and pending[0] is not None and pending[0][0].done():
                    nxt = pending.popleft()
                    assert nxt is not None
                    nxt[0].result()
                    self._pending_bytes -= len(nxt[1])
                    chunks.append(nxt[1])
                writer.write(b"".join(chunks) if len(chunks) > 1 else data)
                self._writer_holds = False
                if writer.transport.get_write_buffer_size() > limits.write_high_water:
                    try:
                        await asyncio.wait_for(writer.drain(), limits.write_timeout)
                    except TimeoutError:
                        self._log.warning("peer stopped reading; disconnecting", timeout=limits.write_timeout)
                        return  # no second wait for a drain: the peer has had its write_timeout
                if len(pending) < limits.max_pending_writes and self._pending_bytes <= limits.write_high_water:
                    self._writer_room.set()
            with contextlib.suppress(ConnectionError, OSError):
                if not writer.is_closing():
                    await asyncio.wait_for(writer.drain(), limits.write_timeout)
        except StoreError as exc:
            self._log.error("message store failed; closing the connection", error=str(exc))
        except (ConnectionError, OSError) as exc:
            self._log.info("write failed", error=str(exc))
        finally:
            self._closing = True
            self._writer_room.set()  # a reader held back by back-pressure must wake up to see _closing
            if writer.transport.get_write_buffer_size():
                writer.transport.abort()
            else:
                writer.close()

    def _release(self) -> list[Event]:
        """Hand this connection's end to the session and let go of it (before a newcomer may take it)."""
        events = self.session.connection_lost(self._clock.now(), self._connection_id)
        if self._owners.get(id(self.session)) is self:
            del self._owners[id(self.session)]
        self._released.set()
        return events

    def _request_close(self) -> None:
        if not self._closing:
            self._closing = True
            self._pending.append(None)
            self._wake_writer.set()

    def _flush_output(self, after: Future[None] | None = None) -> None:
        owner = self._owners.get(id(self.session))
        if owner is not None and owner is not self:
            # The session's output is its owner's now: taking it here would lose it with this connection.
            owner._flush_output(after)
            return
        out = self.session.data_to_send()
        if out and self._tap is not None:
            self._tap.sent(out)
        if not out and after is None:
            # Only state changed (the sequence number of a message that produced no output yet):
            # flush it at the end of this loop iteration instead, where an application that answers
            # from a callback (the OMS ships its reports with call_soon) flushes it together with
            # its answers, in one store commit instead of two one after the other.
            if not self._state_flush_scheduled:
                try:
                    loop = asyncio.get_running_loop()
                except RuntimeError:  # not on the event loop: flush now
                    self.session.store.flush()
                    return
                self._state_flush_scheduled = True
                loop.call_soon(self._flush_state)
            return
        durable = self.session.store.flush()  # also persists state changes that produced no output
        if after is not None:
            durable = _both(durable, after)
        if out and not self._closing:
            if (not self._pending and not self._writer_holds and durable.done() and durable.exception() is None
                    and not self._writer.transport.get_write_buffer_size()):
                # Durable already (a redo log), nothing queued before it and the socket keeping up:
                # written now.  Through the writer task the bytes would wait a loop iteration, and
                # often the processing of the next read too (its callback may run first).
                self._write_now(out)
                return
            self._pending.append((durable, out))
            self._pending_bytes += len(out)
            self._wake_writer.set()
            limits = self._limits
            if len(self._pending) >= limits.max_pending_writes or self._pending_bytes > limits.write_high_water:
                self._writer_room.clear()  # back-pressure: stop reading until the writer catches up

    def _write_now(self, data: bytes) -> None:
        try:
            self._writer.write(data)
        except (ConnectionError, OSError) as exc:
            self._log.info("write failed", error=str(exc))
            self._request_close()

    def _flush_state(self) -> None:
        self._state_flush_scheduled = False
        self.session.store.flush()

    def _step(self, events: list[Event]) -> None:
        self._in_step = True
        try:
            self._dispatch(events)
        finally:
            self._in_step = False
        self._flush_output()
        if any(isinstance(e, Disconnect) for e in events):
            self._request_close()
        self._schedule_timer()

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, AppMessage):
                try:
                    self._app.on_message(self, event.message, self._clock.now())
                except Exception:  # an application bug must not take the session down with it
                    self._log.exception("application failed on message", msg_type=event.message.msg_type)
            elif isinstance(event, Problem):
                self._log.warning(event.kind, detail=event.detail)
                if self._on_problem is not None:
                    try:
                        self._on_problem(self, event.kind, event.detail)
                    except Exception:  # as on_message: an application bug must not take the session down
                        self._log.exception("application failed on problem", kind=event.kind)
            elif isinstance(event, LoggedOn):
                self._log.info("logged on", reset=event.reset, heartbeat=self.session.heartbeat_interval)
                self._app.on_logon(self)
            elif isinstance(event, LoggedOut):
                self._log.info("logged out", reason=event.reason)
                self._app.on_logout(self, event.reason)
            elif isinstance(event, Disconnect):
                self._log.info("closing", reason=event.reason)

    def _schedule_timer(self) -> None:
        """Arm the timer for the session's next deadline.

        A timer already armed for that deadline or an earlier one is left as it is: deadlines
        mostly move later (every message received or sent pushes the heartbeat ones back), and
        re-arming after every read cost a cancel and a new timer each time.  A timer that fires
        early finds nothing due and arms the next one.
        """
        timer = self._timer
        if self._closing:
            if timer is not None:
                timer.cancel()
                self._timer = None
            return
        deadline = self.session.next_deadline()
        if timer is not None:
            if deadline is not None and deadline >= self._timer_at:
                return
            timer.cancel()
            self._timer = None
        if deadline is not None:
            delay = max(0.0, deadline - self._clock.now())
            self._timer_at = deadline
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.owns_session:
            self._step(self.session.handle_timers(self._clock.now()))


def _both(first: Future[None], second: Future[None]) -> Future[None]:
    """A future done when both are (failed if either failed); callbacks may run on any thread."""
    if first.done() and second.done():
        return second if first.exception() is None else first
    combined: Future[None] = Future()
    combined.set_running_or_notify_cancel()
    remaining = [2]
    lock = threading.Lock()

    def done(f: Future[None]) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if f.exception() is not None and not combined.done():
            with contextlib.suppress(Exception):
                combined.set_exception(f.exception())
        elif last and not combined.done():
            with contextlib.suppress(Exception):
                combined.set_result(None)

    first.add_done_callback(done)
    second.add_done_callback(done)
    return combined


def _set_nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Acceptor:
    """Many sessions on one listening port, dispatched by (our CompID, their CompID)."""

    def __init__(
        self,
        host: str,
        port: int,
        sessions: Sequence[Session],
        app: Application,
        clock: Clock,
        limits: TransportLimits | None = None,
        tap: TapFactory | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tap = tap  # counts each connection's messages (metrics); None: not counted
        self.sessions: Mapping[tuple[str, str, str], Session] = {
            (s.config.begin_string, s.config.sender_comp_id, s.config.target_comp_id): s for s in sessions
        }
        self.app = app
        self.clock = clock
        self.limits = limits or TransportLimits()
        self.connections: dict[str, SessionConnection] = {}  # session id -> its newest connection
        self._owners: Owners = {}  # id(session) -> the connection that owns it now
        self._running = 0  # connections being served, including old ones still ending
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._server: asyncio.Server | None = None
        self._tg: asyncio.TaskGroup | None = None
        self.bound_port: int | None = None

    async def serve(self, started: Callable[[int], None] | None = None) -> None:
        """Listen until cancelled; every connection task belongs to this call's TaskGroup."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            server = await asyncio.start_server(self._on_client, self.host, self.port, limit=_STREAM_LIMIT)
            self._server = server
            self.bound_port = server.sockets[0].getsockname()[1]
            log.info("accepting", host=self.host, port=self.bound_port, sessions=sorted(
                f"{k[1]}<-{k[2]}" for k in self.sessions))
            if started is not None:
                started(self.bound_port)
            try:
                await asyncio.Future()  # until cancelled
            finally:
                server.close()

    async def shutdown(self, timeout: float) -> None:
        """Log out every session, then wait (bounded) for the Logout handshakes to finish."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.logout("shutting down")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()

    def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._tg is not None
        if self._pending >= self.limits.max_pending:
            log.warning("too many connections waiting to log on; refused", peer=writer.get_extra_info("peername"))
            writer.transport.abort()
            return
        # Counted here, not when the task starts: a burst of connections is accepted (and this
        # callback runs for each) before any of their tasks runs.
        self._pending += 1
        self._tg.create_task(self._handle(reader, writer))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            _set_nodelay(writer)
            peer = writer.get_extra_info("peername")
            identified = await self._identify(reader, peer)
            if identified is not None and not await self._session_free(identified[0], peer):
                identified = None
        finally:
            self._pending -= 1
        if identified is None:
            writer.transport.abort()
            return
        # No await from the check in _session_free to conn.run() taking the session (connection_made
        # runs before run() first yields): no other connection can take it in between.
        session, initial = identified
        conn = SessionConnection(session, reader, writer, self.app, self.clock, self.limits, self._owners,
                                 self.tap(session) if self.tap is not None else None)
        self.connections[conn.id] = conn
        self._running += 1
        self._idle.clear()
        try:
            await conn.run(initial)
        except Exception:
            log.exception("connection failed", session=conn.id)
        finally:
            if self.connections.get(conn.id) is conn:  # not a newer connection of the same session
                del self.connections[conn.id]
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def _session_free(self, session: Session, peer: object) -> bool:
        """Whether a newcomer may have ``session``; waits for a connection the peer has closed to end.

        A client that drops TCP and logs on again at once can be identified before its old
        connection has processed its end of stream: that connection is dead, so the newcomer waits
        (at most the logon timeout) for it to let go and then wins.  A connection that is alive
        keeps its session and the newcomer is refused, and closed, as before.
        """
        if not session.connected:
            return True
        owner = self._owners.get(id(session))
        if owner is not None and owner.peer_closed:
            log.info("session's previous connection is ending; waiting for it", peer=peer,
                     session=session_id(session))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.logon_timeout):
                    await owner.released()
            if not session.connected:
                return True
        log.warning("duplicate identity: session already connected; disconnected", peer=peer,
                    session=session_id(session))
        return False

    async def _identify(self, reader: asyncio.StreamReader, peer: object) -> tuple[Session, bytes] | None:
        """Read up to the first complete frame and find its session; None means refuse."""
        framer = Framer(self.limits.max_message_size)
        received = bytearray()
        frame: bytes | Garbled | None = None
        try:
            async with asyncio.timeout(self.limits.logon_timeout):
                while frame is None:
                    data = await reader.read(_READ_SIZE)
                    if not data:
                        return None
                    received += data
                    framer.feed(data)
                    frame = framer.next_frame()
        except TimeoutError:
            log.warning("no logon within the logon timeout; disconnected", peer=peer)
            return None
        except (ConnectionError, OSError):
            return None
        msg = decode(frame) if isinstance(frame, bytes) else frame
        if isinstance(msg, Garbled):
            log.warning("garbled first message; disconnected", peer=peer, reason=msg.reason)
            return None
        key = (msg.begin_string, msg.get(56) or "", msg.get(49) or "")
        session = self.sessions.get(key)
        if session is None:
            log.warning("unknown session; disconnected", peer=peer, begin_string=key[0], sender=key[2], target=key[1])
            return None
        return session, bytes(received)


class Initiator:
    """Keeps one session connected to a counterparty, reconnecting with exponential backoff."""

    def __init__(
        self,
        host: str,
        port: int,
        session: Session,
        app: Application,
        clock: Clock,
        limits: TransportLimits | None = None,
        reconnect_min: float = 1.0,
        reconnect_max: float = 30.0,
        tap: TapFactory | None = None,
    ) -> None:
        self.host = host
        self.tap = tap  # counts each connection's messages (metrics); None: not counted
        self.port = port
        self.session = session
        self.app = app
        self.clock = clock
        self.limits = limits or TransportLimits()
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self.connection: SessionConnection | None = None
        self._owners: Owners = {}  # its session's current connection (see SessionConnection)
        self._stopping = False
        self._disconnected = asyncio.Event()

    async def run(self) -> None:
        delay = self.reconnect_min
        while not self._stopping:
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port, limit=_STREAM_LIMIT)
            except OSError as exc:
                log.info("connect failed; retrying", host=self.host, port=self.port, error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max)
                continue
            _set_nodelay(writer)
            conn = self.connection = SessionConnection(self.session, reader, writer, self.app, self.clock,
                                                       self.limits, self._owners,
                                                       self.tap(self.session) if self.tap is not None else None)
            self._disconnected.clear()
            try:
                await conn.run()
            finally:
                self.connection = None
                self._disconnected.set()
            if self.session.store.next_target_seq() > 1:
                delay = self.reconnect_min
            if not self._stopping:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.reconnect_max)

    async def shutdown(self, timeout: float) -> None:
        self._stopping = True
        conn = self.connection
        if conn is not None:
            conn.logout("shutting down")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._disconnected.wait()
