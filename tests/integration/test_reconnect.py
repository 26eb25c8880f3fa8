"""A client that drops TCP without a Logout and logs on again at once always gets a live session.

Issue 13: the old connection's teardown (its end processed by the transport after the new Logon
had been answered) logged out the session the new connection now owned; the new socket then stayed
open and nothing on it was answered.  Three tests pin it down:

* the teardown of the old connection is held back (its last write waits for a store flush the test
  controls) until the new connection has logged on, then let go: the new session must survive it;
* the old connection's end is still unread (the connection is not reading: back-pressure) when the
  newcomer logs on: the newcomer waits for that end and then wins instead of being refused;
* hundreds of real drop-and-reconnect cycles against ``metaorder reflector`` (uvloop, its own
  process), with and without a pending sequence gap on the old connection.

The client drops TCP with a FIN (a plain close) or with a reset (SO_LINGER 0, as gateways do, or a
close with unread data): asyncio hands the reader an end of stream for the one and an exception
(ConnectionResetError) for the other, and both must count as the old connection's end.

The servers bind 127.0.0.1 on a free port; the blocking test client runs in a worker thread while the
in-process server runs on the test's event loop.  Every wait is on an event or a read with a timeout.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import signal
import socket
import struct
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from metaorder.clock import LiveClock
from metaorder.fix import transport
from metaorder.fix.codec import Message
from metaorder.fix.dictionary import Dictionary
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.session import Role, Session, SessionConfig
from metaorder.fix.store import MemoryStore
from metaorder.fix.transport import Acceptor, SessionConnection, TransportLimits
from metaorder.reflector import ECHOED_TYPES, Reflector
from tests.integration.fixclient import Closed, FixClient
from tests.support import start_reflector

TW44 = "FIX.4.4:ISLD->TW44"
TRIES = 300


@pytest.fixture(autouse=True)
def _uncached_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """capture_logs needs a logger that is not cached (see tests/integration/test_bad_input.py)."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    monkeypatch.setattr(transport, "log", structlog.get_logger("metaorder.fix"))
    yield
    structlog.configure(**saved)


class HoldableStore:
    """A MemoryStore whose flushes can be held: the bytes of a held flush wait for :meth:`let_go`.

    A delegate, not a subclass: the store may be a compiled class.
    """

    def __init__(self) -> None:
        self._store = MemoryStore()
        self.holding = False
        self.held: list[concurrent.futures.Future[None]] = []
        self.held_one = asyncio.Event()

    def let_go(self) -> None:
        self.holding = False
        for future in self.held:
            future.set_result(None)
        self.held.clear()

    def flush(self) -> concurrent.futures.Future[None]:
        if not self.holding:
            return self._store.flush()
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_running_or_notify_cancel()
        self.held.append(future)
        self.held_one.set()
        return future

    def next_sender_seq(self) -> int:
        return self._store.next_sender_seq()

    def next_target_seq(self) -> int:
        return self._store.next_target_seq()

    def set_next_sender_seq(self, seq: int) -> None:
        self._store.set_next_sender_seq(seq)

    def set_next_target_seq(self, seq: int) -> None:
        self._store.set_next_target_seq(seq)

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._store.save_sent(seq, raw)

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return self._store.get_sent(begin, end)

    def reset(self, creation_time: str) -> None:
        self._store.reset(creation_time)

    def creation_time(self) -> str | None:
        return self._store.creation_time()


class RecordingReflector(Reflector):
    """The reflector, keeping every connection it was told about, in order."""

    def __init__(self, dictionary: Dictionary) -> None:
        super().__init__(dictionary)
        self.logons: list[SessionConnection] = []
        self.logouts: list[SessionConnection] = []
        self.logged_on = asyncio.Event()

    def on_logon(self, conn: SessionConnection) -> None:
        self.logons.append(conn)
        self.logged_on.set()
        super().on_logon(conn)

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        self.logouts.append(conn)
        super().on_logout(conn, reason)

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        super().on_message(conn, message, now)


@dataclass
class Served:
    port: int
    acceptor: Acceptor
    app: RecordingReflector
    store: HoldableStore
    logs: list[MutableMapping[str, Any]]

    def count(self, event: str) -> int:
        return sum(1 for e in self.logs if e["event"] == event)

    def problems(self) -> list[tuple[str, object]]:
        return [(e["event"], e.get("session")) for e in self.logs
                if e["log_level"] in ("warning", "error", "critical", "exception")]


@contextlib.asynccontextmanager
async def acceptor(limits: TransportLimits | None = None) -> AsyncIterator[Served]:
    """ISLD accepting TW44 (reset on logon) with a :class:`RecordingReflector`, on this event loop."""
    dictionary = builtin_fix44()
    store = HoldableStore()
    session = Session(SessionConfig("ISLD", "TW44", Role.ACCEPTOR, reset_on_logon=True,
                                    supported_app_types=ECHOED_TYPES), store, dictionary)
    app = RecordingReflector(dictionary)
    with capture_logs() as logs:
        server = Acceptor("127.0.0.1", 0, [session], app, LiveClock(), limits)
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(server.serve(started.set_result))
        try:
            port = await asyncio.wait_for(asyncio.shield(started), 10)
            yield Served(port, server, app, store, logs)
        finally:
            store.let_go()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for a condition the server's event loop makes true (checked every few milliseconds)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking client call off the event loop (the server lives on the loop)."""
    return asyncio.to_thread(fn, *args)


CLOSE_STYLES = pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])


def drop(client: FixClient, reset: bool) -> None:
    """Drop TCP without a Logout: a plain close (FIN) or, with ``reset``, a reset (RST)."""
    if reset:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


async def test_the_old_connections_teardown_after_a_new_logon_leaves_the_new_session_alive() -> None:
    async with acceptor() as srv:
        old_client = FixClient(srv.port, "TW44")
        new_client: FixClient | None = None
        try:
            await thread(old_client.logon)
            old = srv.app.logons[-1]
            # Something to write is still waiting for its store flush when the client drops TCP: the
            # old connection cannot finish (its writer waits), only its reader sees the end.
            srv.store.holding = True
            old.send("B", [(148, "held back")])  # News
            srv.store.holding = False
            old_client.close()
            await asyncio.wait_for(old.released(), 10)
            assert srv.app.logouts == [old]

            new_client = FixClient(srv.port, "TW44")
            await thread(new_client.logon)
            new = srv.app.logons[-1]
            assert new is not old
            await thread(new_client.test_request, "before the old connection ended")

            srv.store.let_go()  # the old connection writes, closes and tears down: after the new Logon
            await until(lambda: srv.count("disconnected") == 1, "the old connection to end")

            await thread(new_client.test_request, "after the old connection ended")
            assert srv.app.logouts == [old]  # the old connection's end reached the application once
            assert srv.acceptor.connections[TW44] is new
            assert new.owns_session and not old.owns_session
            frames = await thread(new_client.logout)
            assert frames[-1].msg_type == "5"
        finally:
            old_client.close()
            if new_client is not None:
                new_client.close()
        assert srv.problems() == [], srv.problems()


@CLOSE_STYLES
async def test_a_newcomer_waits_for_the_end_of_a_connection_the_peer_closed_and_then_wins(reset: bool) -> None:
    # One write queued is enough to stop reading from a peer: the old connection stops reading right
    # after the TestRequest whose Heartbeat is held, so its end of stream stays unread.
    async with acceptor(TransportLimits(max_pending_writes=1)) as srv:
        old_client = FixClient(srv.port, "TW44")
        new_client = FixClient(srv.port, "TW44")  # connected now; its Logon goes later
        try:
            await thread(old_client.logon)
            old = srv.app.logons[-1]
            srv.store.holding = True
            old_client.send("1", [(112, "held")])
            await asyncio.wait_for(srv.store.held_one.wait(), 10)
            drop(old_client, reset)
            await until(lambda: old.peer_closed, "the old connection's end to arrive")
            assert old.owns_session  # arrived, not processed: nothing reads it

            new_client.send("A", [(98, 0), (108, 30), (141, "Y")])
            new_client.next_seq = 2
            waiting = "session's previous connection is ending; waiting for it"
            await until(lambda: srv.count(waiting) == 1, "the newcomer to wait for the old connection")
            srv.store.let_go()  # the old connection writes, reads its end of stream and lets go

            reply = await thread(new_client.expect, "A")
            assert reply.get(141) == "Y"
            await thread(new_client.test_request, "the newcomer won")
            assert srv.app.logons == [old, srv.acceptor.connections[TW44]]
            assert srv.app.logouts == [old]
        finally:
            old_client.close()
            new_client.close()
        assert srv.problems() == [], srv.problems()


async def test_a_newcomer_for_a_session_whose_connection_is_alive_is_refused_and_closed() -> None:
    async with acceptor() as srv:
        with FixClient(srv.port, "TW44") as first, FixClient(srv.port, "TW44") as second:
            await thread(first.logon)
            second.send("A", [(98, 0), (108, 30), (141, "Y")])
            frames, _ = await thread(second.wait_closed)
            assert frames == []
            await thread(first.test_request, "still mine")
        assert srv.problems() == [
            ("duplicate identity: session already connected; disconnected", TW44)], srv.problems()


@CLOSE_STYLES
@pytest.mark.parametrize("pending_gap", [False, True], ids=["in-sequence", "pending-gap"])
def test_reconnecting_at_once_after_dropping_tcp_always_gets_a_live_session(
    tmp_path: Path, pending_gap: bool, reset: bool
) -> None:
    """Connect, Logon 141=Y, (a message too far ahead,) close (FIN or RST) without Logout, reconnect at once,
    Logon, TestRequest: the Heartbeat must come every time, against the real ``metaorder reflector``."""
    proc, port = start_reflector(tmp_path / "reflector.db", targets=("TW44",))
    try:
        failures: list[str] = []
        for attempt in range(TRIES):
            with FixClient(port, "TW44") as old:
                old.logon()
                if pending_gap:
                    old.send("1", [(112, "ahead")], seq=old.next_seq + 5)  # queued behind a ResendRequest
                drop(old, reset)
            with FixClient(port, "TW44") as new:
                try:
                    new.logon()
                    new.test_request(f"try {attempt}")
                except (Closed, TimeoutError, AssertionError) as exc:
                    failures.append(f"try {attempt}: {exc!r}")
                    if len(failures) >= 3:  # enough to see it; each costs a read timeout
                        break
        assert failures == [], f"reconnects that got no live session (stopped at 3): {failures}"
        assert proc.proc.poll() is None, "the reflector died:\n" + proc.log()
        assert proc.stop() == 0, proc.log()
    finally:
        proc.stop(signal.SIGKILL)
    refused = sum('"duplicate identity' in line for line in proc.lines)
    assert refused == 0, proc.log()
