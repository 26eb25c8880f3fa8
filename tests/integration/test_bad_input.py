"""Bad input gets the FIX-correct answer and never hurts the process or the other sessions.

Two kinds of server:

* a real ``metaorder reflector`` subprocess (ISLD accepting TW44 and TW, reset on logon), whose JSON
  log lines are read back after it has been stopped with SIGTERM (which must exit 0);
* an in-process :func:`metaorder.serving.run_acceptor` on the test's own event loop, where small
  :class:`TransportLimits` make the limits reachable quickly and ``structlog.testing.capture_logs``
  sees every log line.  The blocking test client runs in a worker thread there.

Every case checks that the problem is reported by exactly one warning-level log line, that the
process is still serving afterwards and that the other session was not disturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import structlog
from structlog.testing import capture_logs

from metaorder import serving
from metaorder.fix import transport
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.session import Role, SessionConfig
from metaorder.fix.transport import TransportLimits
from metaorder.reflector import ECHOED_TYPES, Reflector
from tests.integration.fixclient import FixClient, encode, new_order_fields, utc_timestamp
from tests.support import MetaorderProcess, start_reflector

TARGETS = ("TW44", "TW")
TW44 = "FIX.4.4:ISLD->TW44"
TW = "FIX.4.4:ISLD->TW"
T = TypeVar("T", bound=MutableMapping[str, Any])
PROBLEM_LEVELS = frozenset({"warning", "error", "critical", "exception"})


@pytest.fixture(autouse=True)
def _uncached_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """capture_logs needs loggers that are not cached and a configuration that filters nothing.

    ``configure_logging`` (which other tests in this process may call) caches every logger on first
    use and filters below its level; a cached module-level logger would never reach capture_logs.
    """
    saved = structlog.get_config()
    structlog.reset_defaults()
    monkeypatch.setattr(transport, "log", structlog.get_logger("metaorder.fix"))
    monkeypatch.setattr(serving, "log", structlog.get_logger("metaorder"))
    yield
    structlog.configure(**saved)


# ---- subprocess -----------------------------------------------------------------------------------


@pytest.fixture
def reflector(tmp_path: Path) -> Iterator[tuple[MetaorderProcess, int]]:
    proc, port = start_reflector(tmp_path / "reflector.db", targets=TARGETS)
    try:
        yield proc, port
    finally:
        proc.stop(signal.SIGKILL)  # no-op when the test already stopped it


def finish(proc: MetaorderProcess) -> list[dict[str, Any]]:
    """Check the process survived, stop it with SIGTERM (exit 0) and return all its JSON log lines."""
    assert proc.proc.poll() is None, "the reflector died:\n" + proc.log()
    code = proc.stop()
    assert code == 0, f"exit code {code} after SIGTERM:\n{proc.log()}"
    events = []
    for line in proc.lines:
        with contextlib.suppress(ValueError):
            events.append(json.loads(line))
    return events


def problems(events: Sequence[T], level_key: str = "level") -> list[T]:
    return [e for e in events if e.get(level_key) in PROBLEM_LEVELS]


def logon_pair(port: int) -> tuple[FixClient, FixClient]:
    """TW44 and TW, both logged on."""
    first = FixClient(port, "TW44")
    second = FixClient(port, "TW")
    first.logon()
    second.logon()
    return first, second


# ---- in-process -----------------------------------------------------------------------------------


class TimedReflector(Reflector):
    """The reflector, noting when it last got a message from each session."""

    def __init__(self, dictionary: Any) -> None:
        super().__init__(dictionary)
        self.last_message: dict[str, float] = {}

    def on_message(self, conn: Any, message: Any, now: float) -> None:
        self.last_message[conn.id] = time.monotonic()
        super().on_message(conn, message, now)


@dataclass
class InProcess:
    port: int
    task: asyncio.Task[None]
    logs: list[MutableMapping[str, Any]]
    apps: list[TimedReflector] = field(default_factory=list)

    def events(self, name: str, **match: object) -> list[MutableMapping[str, Any]]:
        return [e for e in self.logs if e["event"] == name and all(e.get(k) == v for k, v in match.items())]

    def problems(self) -> list[MutableMapping[str, Any]]:
        return problems(self.logs, "log_level")


@contextlib.asynccontextmanager
async def in_process(limits: TransportLimits) -> AsyncIterator[InProcess]:
    """run_acceptor(ISLD <- TW44, TW; reflector) on this event loop; stopped (and checked) on exit."""
    configs = [
        SessionConfig("ISLD", target, Role.ACCEPTOR, reset_on_logon=True, supported_app_types=ECHOED_TYPES)
        for target in TARGETS
    ]
    apps: list[TimedReflector] = []

    def app_factory(dictionary: Any) -> TimedReflector:
        apps.append(TimedReflector(dictionary))
        return apps[-1]

    loop = asyncio.get_running_loop()
    started: asyncio.Future[int] = loop.create_future()
    stop = asyncio.Event()
    with capture_logs() as logs:
        task = asyncio.create_task(serving.run_acceptor(
            configs, app_factory, "127.0.0.1", 0, builtin_fix44(), None, limits=limits,
            on_started=started.set_result, stop=stop))
        either: list[asyncio.Future[Any]] = [started, task]
        await asyncio.wait(either, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            stop.set()
            await asyncio.wait_for(task, 10)
            raise AssertionError("the acceptor did not start")
        try:
            yield InProcess(started.result(), task, logs, apps)
            assert not task.done(), "the acceptor stopped serving"
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Wait for a condition (checked every few milliseconds), failing after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking client call off the event loop (the server lives on the loop)."""
    return asyncio.to_thread(fn, *args)


# ---- garbled input after logon --------------------------------------------------------------------


def _swap_second_and_third_fields(frame: bytes) -> bytes:
    begin, length, msg_type, rest = frame.split(b"\x01", 3)
    return b"\x01".join([begin, msg_type, length, rest])


#: Each case returns the bad bytes for a client whose next MsgSeqNum is ``c.next_seq``; a bad frame
#: carries that same MsgSeqNum, which the valid message sent right after it must still be able to use.
GARBLED: dict[str, Callable[[FixClient], bytes]] = {
    "line noise before a message": lambda c: b"\x00\xff\x7f line noise \x01\x02",
    "BodyLength too short": lambda c: c.build("D", new_order_fields("BAD-1"), seq=c.next_seq, length_error=-5),
    "wrong CheckSum": lambda c: c.build("D", new_order_fields("BAD-1"), seq=c.next_seq, checksum_error=1),
    "field not tag=value": lambda c: c.build("D", new_order_fields("BAD-1"), seq=c.next_seq,
                                             raw_fields=[b"garbage"]),
    "BodyLength not the second field": lambda c: _swap_second_and_third_fields(
        c.build("D", new_order_fields("BAD-1"), seq=c.next_seq)),
}


@pytest.mark.parametrize("case", list(GARBLED))
def test_garbled_frame_after_logon_is_ignored_without_consuming_a_sequence_number(
    reflector: tuple[MetaorderProcess, int], case: str
) -> None:
    proc, port = reflector
    with contextlib.ExitStack() as stack:
        client, other = logon_pair(port)
        stack.enter_context(client)
        stack.enter_context(other)
        bad = GARBLED[case](client)
        good = client.build("D", new_order_fields("GOOD-1"))  # the MsgSeqNum the bad frame carried
        if case.startswith("line noise"):
            client.send_raw(bad + good)  # noise in front of a message, as it arrives on a noisy line
        else:
            client.send_raw(bad)
            client.send_raw(good)
        echo = client.expect("D")  # not a Reject, not a ResendRequest, not a Logout
        assert echo.get(11) == "GOOD-1"
        assert echo.seq == 2
        assert client.test_request("still there").seq == 3  # and no ResendRequest for a phantom gap
        assert other.new_order("OTHER-1").seq == 2
        assert other.test_request("other").seq == 3
    events = finish(proc)
    warned = problems(events)
    assert [(e["event"], e.get("session")) for e in warned] == [("garbled", TW44)], warned


def test_body_length_too_long_swallows_the_next_message_which_is_then_resent(
    reflector: tuple[MetaorderProcess, int],
) -> None:
    """A BodyLength that is too long makes the frame end at the *next* message's CheckSum (QuickFIX's
    framing does the same): both are discarded as one garbled frame, no sequence number is consumed,
    and the gap is recovered by the ordinary ResendRequest."""
    proc, port = reflector
    with contextlib.ExitStack() as stack:
        client, other = logon_pair(port)
        stack.enter_context(client)
        stack.enter_context(other)
        n = client.next_seq
        bad = client.build("D", new_order_fields("BAD-1"), seq=n, length_error=20)
        swallowed = client.build("D", new_order_fields("GOOD-1"))
        client.send_raw(bad)
        client.send_raw(swallowed)
        client.send("D", new_order_fields("GOOD-2"))
        resend = client.expect("2")
        assert (resend.get(7), resend.get(16)) == (str(n), "0")
        for seq, cl_ord_id in ((n, "GOOD-1"), (n + 1, "GOOD-2")):
            client.send_raw(client.build("D", new_order_fields(cl_ord_id), seq=seq,
                                         header=[(43, "Y"), (122, utc_timestamp())]))
        first = client.expect("D")
        second = client.expect("D")
        assert [first.get(11), second.get(11)] == ["GOOD-1", "GOOD-2"]
        client.test_request("after the resend")
        other.test_request("other")
    events = finish(proc)
    warned = [(e["event"], e.get("session")) for e in problems(events)]
    assert warned == [("garbled", TW44), ("gap", TW44)], warned


def test_line_noise_read_on_its_own_gives_one_log_line(reflector: tuple[MetaorderProcess, int]) -> None:
    proc, port = reflector
    with contextlib.ExitStack() as stack:
        client, other = logon_pair(port)
        stack.enter_context(client)
        stack.enter_context(other)
        client.send_raw(b"\x00\xff\x7f line noise \x01\x02")
        proc.wait_for_log("garbled")  # the server has read the noise alone
        assert client.new_order("GOOD-1").seq == 2
    garbled = [e for e in finish(proc) if e.get("event") == "garbled"]
    assert len(garbled) == 1, garbled


# ---- refused connections (subprocess) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("begin_string", "sender", "target"),
    [("FIX.4.4", "NOPE", "ISLD"), ("FIX.4.4", "TW44", "NOTME"), ("FIX.4.2", "TW44", "ISLD")],
    ids=["unknown SenderCompID", "unknown TargetCompID", "other BeginString"],
)
def test_logon_from_unknown_identity_is_disconnected_without_reply(
    reflector: tuple[MetaorderProcess, int], begin_string: str, sender: str, target: str
) -> None:
    proc, port = reflector
    with FixClient(port, "TW") as other:
        other.logon()
        with FixClient(port, sender, target, begin_string=begin_string) as stranger:
            stranger.send("A", [(98, 0), (108, 30), (141, "Y")])
            frames, _ = stranger.wait_closed()
            assert frames == []  # no Logon, no Logout, nothing: we do not talk to strangers
        other.test_request("other")
    warned = problems(finish(proc))
    assert [e["event"] for e in warned] == ["unknown session; disconnected"], warned
    assert (warned[0]["sender"], warned[0]["target"], warned[0]["begin_string"]) == (sender, target, begin_string)


def test_duplicate_identity_is_refused_and_the_first_connection_is_unaffected(
    reflector: tuple[MetaorderProcess, int],
) -> None:
    proc, port = reflector
    with FixClient(port, "TW44") as first:
        assert first.logon().seq == 1
        with FixClient(port, "TW44") as second:
            second.send("A", [(98, 0), (108, 30), (141, "Y")])  # would reset TW44's numbers if accepted
            frames, _ = second.wait_closed()
            assert frames == []
        assert first.test_request("still mine").seq == 2  # sequence numbers untouched
        assert first.new_order("ORDER-1").seq == 3
    warned = problems(finish(proc))
    assert [(e["event"], e.get("session")) for e in warned] == [
        ("duplicate identity: session already connected; disconnected", TW44)], warned


def test_first_message_not_a_logon_is_disconnected_without_reply(reflector: tuple[MetaorderProcess, int]) -> None:
    proc, port = reflector
    with FixClient(port, "TW44") as client:
        client.send("1", [(112, "hello?")])
        frames, _ = client.wait_closed()
        assert frames == []
    with FixClient(port, "TW44") as again:  # the session is free again
        again.logon()
        again.new_order("ORDER-1")
    warned = problems(finish(proc))
    assert [(e["event"], e.get("session")) for e in warned] == [("not-logon", TW44)], warned


def test_logon_flood_against_the_real_process(reflector: tuple[MetaorderProcess, int]) -> None:
    """200 connections against ``metaorder reflector`` (uvloop, default ``max_pending`` of 64)."""
    proc, port = reflector
    flood, max_pending = 200, 64
    refused = "too many connections waiting to log on; refused"

    def count(event: str) -> int:
        return sum(f'"event": "{event}"' in line for line in list(proc.lines))

    with FixClient(port, "TW44") as legit, contextlib.ExitStack() as stack:
        legit.logon()
        socks = [stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
                 for _ in range(flood)]
        deadline = time.monotonic() + 30
        while count(refused) < flood - max_pending:  # the refusals are logged as they happen
            assert time.monotonic() < deadline, f"only {count(refused)} refused:\n{proc.log()}"
            time.sleep(0.01)
        legit.test_request("while the flood waits")
        for i, sock in enumerate(socks):
            sender = "TW44" if i % 2 else f"EVIL{i}"
            with contextlib.suppress(ConnectionError):
                sock.sendall(encode("A", [(34, 1), (49, sender), (52, utc_timestamp()), (56, "ISLD"), (98, 0),
                                          (108, 30), (141, "Y")]))
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(65536) == b"", "a flood connection got an answer"
        legit.test_request("after the flood")
        assert legit.new_order("ORDER-1").get(11) == "ORDER-1"
    with FixClient(port, "TW") as other:  # every waiting slot was given back
        other.logon()
    counts: dict[str, int] = {}
    for e in problems(finish(proc)):
        counts[e["event"]] = counts.get(e["event"], 0) + 1
    assert counts.pop(refused) == flood - max_pending
    identified = counts.pop("unknown session; disconnected", 0) + counts.pop(
        "duplicate identity: session already connected; disconnected", 0)
    assert identified == max_pending
    assert counts == {}, counts


# ---- limits (in-process) --------------------------------------------------------------------------


async def test_oversize_message_after_logon_is_discarded_and_the_session_continues() -> None:
    async with in_process(TransportLimits(max_message_size=4096)) as srv:
        client = FixClient(srv.port, "TW44")
        other = FixClient(srv.port, "TW")
        with client, other:
            await thread(client.logon)
            await thread(other.logon)
            huge = client.build("D", new_order_fields("HUGE-1", text="x" * 8000), seq=client.next_seq)
            assert len(huge) > 8000
            await thread(client.send_raw, huge)
            echo = await thread(client.new_order, "GOOD-1")  # same MsgSeqNum as the discarded one
            assert echo.seq == 2
            await thread(client.test_request, "still there")
            await thread(other.new_order, "OTHER-1")
        warned = srv.problems()
    assert [(e["event"], e.get("session")) for e in warned] == [("garbled", TW44)], warned
    assert "exceeds the maximum message size 4096" in warned[0]["detail"]


async def test_oversize_logon_is_disconnected_without_reply() -> None:
    async with in_process(TransportLimits(max_message_size=4096)) as srv:
        with FixClient(srv.port, "TW") as other:
            await thread(other.logon)
            with FixClient(srv.port, "TW44") as client:
                await thread(client.send, "A", [(98, 0), (108, 30), (141, "Y"), (58, "x" * 8000)])
                frames, _ = await thread(client.wait_closed)
                assert frames == []
            with FixClient(srv.port, "TW44") as again:  # the identity was not taken
                await thread(again.logon)
            await thread(other.test_request, "other")
        warned = srv.problems()
    assert [e["event"] for e in warned] == ["garbled first message; disconnected"], warned
    assert "exceeds the maximum message size 4096" in warned[0]["reason"]


@pytest.mark.parametrize("sends", [b"", b"8=FIX.4.4\x019=7"], ids=["silent", "partial Logon"])
async def test_connection_without_logon_is_dropped_after_the_logon_timeout(sends: bytes) -> None:
    async with in_process(TransportLimits(logon_timeout=0.5)) as srv:
        with FixClient(srv.port, "TW") as other:
            await thread(other.logon)
            with FixClient(srv.port, "TW44") as idle:
                started = time.monotonic()
                if sends:
                    await thread(idle.send_raw, sends)
                frames, reset = await thread(idle.wait_closed, 10.0)  # returns when recv() gives b""
                waited = time.monotonic() - started
            assert frames == []
            assert not reset, "an orderly close (FIN) was expected: everything sent had been read"
            assert waited >= 0.45, f"dropped after {waited:.3f}s, before the logon timeout"
            await thread(other.test_request, "other")
        warned = srv.problems()
    assert [e["event"] for e in warned] == ["no logon within the logon timeout; disconnected"], warned


async def test_logon_flood_is_bounded_and_the_logged_on_session_keeps_answering() -> None:
    flood, max_pending = 200, 8
    async with in_process(TransportLimits(max_pending=max_pending, logon_timeout=30.0)) as srv:
        with FixClient(srv.port, "TW44") as legit:
            await thread(legit.logon)
            stop_pinging = threading.Event()
            pings: list[float] = []

            def ping() -> None:  # TestRequest/Heartbeat on the legitimate session all through the flood
                i = 0
                while not stop_pinging.is_set():
                    sent = time.monotonic()
                    legit.test_request(f"ping-{i}", 5.0)
                    pings.append(time.monotonic() - sent)
                    i += 1
                    stop_pinging.wait(0.005)

            pinger = asyncio.ensure_future(thread(ping))
            try:
                # Phase 1: every connection opens at once and says nothing yet: max_pending of them wait to
                # log on, every other one is refused on the spot.
                conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", srv.port) for _ in range(flood)))
                refused = "too many connections waiting to log on; refused"
                await until(lambda: len(srv.events(refused)) >= flood - max_pending, "the excess to be refused", 30)
                answered = len(pings)  # the next complete TestRequest/Heartbeat round trip starts after this
                await until(lambda: len(pings) >= answered + 2, "TW44 to answer while max_pending wait", 10)

                # Phase 2: every connection sends a Logon, half for unknown CompIDs, half for TW44 again.
                async def attempt(i: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
                    sender = "TW44" if i % 2 else f"EVIL{i}"
                    writer.write(encode("A", [(34, 1), (49, sender), (52, utc_timestamp()), (56, "ISLD"),
                                              (98, 0), (108, 30), (141, "Y")]))
                    try:
                        await writer.drain()
                        return await asyncio.wait_for(reader.read(), 10)  # up to the close
                    except ConnectionError:
                        return b""
                    finally:
                        writer.close()

                replies = await asyncio.gather(*(attempt(i, r, w) for i, (r, w) in enumerate(conns)))
                assert replies == [b""] * flood, "a flood connection got an answer"
                answered = len(pings)
                await until(lambda: len(pings) >= answered + 2, "TW44 to answer after the flood", 10)
            finally:
                stop_pinging.set()
                await pinger
            assert pings, "no TestRequest was answered during the flood"
            with FixClient(srv.port, "TW") as other:  # every waiting slot was given back
                await thread(other.logon)
            echo = await thread(legit.new_order, "ORDER-1")
            assert echo.get(11) == "ORDER-1"
        warned = srv.problems()
        counts: dict[str, int] = {}
        for e in warned:
            counts[e["event"]] = counts.get(e["event"], 0) + 1
    assert counts.pop(refused) == flood - max_pending, warned
    identified = counts.pop("unknown session; disconnected", 0) + counts.pop(
        "duplicate identity: session already connected; disconnected", 0)
    assert identified == max_pending
    assert counts == {}, counts  # nothing went wrong on the legitimate session


@dataclass
class FloodResult:
    sent: int = 0
    disconnected: bool = False


def flood_without_reading(client: FixClient, deadline: float) -> FloodResult:
    """Send NewOrderSingles as fast as the socket takes them, never reading, until disconnected."""
    result = FloodResult()
    sock = client.sock
    sock.settimeout(0.25)
    batch = 0
    while time.monotonic() < deadline:
        batch += 1
        view = memoryview(b"".join(client.build("D", new_order_fields(f"F{batch}-{k}")) for k in range(50)))
        while view and time.monotonic() < deadline:
            try:
                n = sock.send(view)  # a timeout sent nothing, so the stream stays aligned
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                result.disconnected = True
                return result
            view = view[n:]
            result.sent += n
    return result


STOPPED_READING = "peer stopped reading; disconnecting"


@pytest.mark.parametrize("max_pending_writes", [8, 256])
async def test_peer_that_stops_reading_is_throttled_then_disconnected(max_pending_writes: int) -> None:
    """TW44 floods NewOrderSingles and never reads the echoes (4 KiB receive buffer).

    With a small ``max_pending_writes`` the acceptor must stop reading from it (back-pressure: the
    reflector sees no message from TW44 for most of the ``write_timeout`` before the disconnect); with
    the default it buffers up to that many batches meanwhile.  Either way TW44 is disconnected after
    ``write_timeout``, its session is released, and TW is answered throughout.
    """
    limits = TransportLimits(write_high_water=16384, write_timeout=1.0, max_pending_writes=max_pending_writes)
    async with in_process(limits) as srv:
        with FixClient(srv.port, "TW") as other:
            await thread(other.logon)
            hog = FixClient(srv.port, "TW44", rcvbuf=4096, sndbuf=8192)
            stop_pinging = threading.Event()
            pings: list[float] = []

            def ping() -> None:
                i = 0
                while not stop_pinging.is_set():
                    sent = time.monotonic()
                    other.test_request(f"ping-{i}", 5.0)
                    pings.append(time.monotonic() - sent)
                    i += 1
                    stop_pinging.wait(0.01)

            async def when_given_up() -> float:
                await until(lambda: bool(srv.events(STOPPED_READING)), "the acceptor to give up on TW44", 30)
                return time.monotonic()

            given_up = asyncio.ensure_future(when_given_up())
            pinger = asyncio.ensure_future(thread(ping))
            try:
                with hog:
                    await thread(hog.logon)
                    result = await thread(flood_without_reading, hog, time.monotonic() + 30)
                assert result.disconnected, f"still connected after flooding {result.sent} bytes"
                idle = await given_up - srv.apps[0].last_message[TW44]
            finally:
                given_up.cancel()
                stop_pinging.set()
                await pinger
            if max_pending_writes == 8:
                assert idle >= 0.5, f"the acceptor kept reading from TW44 until {idle:.3f}s before giving up"
            await until(lambda: bool(srv.events("disconnected", session=TW44)), "TW44's connection to end")
            assert pings, "the other session was not answered while TW44 flooded"
            with FixClient(srv.port, "TW44") as again:  # the session was released, not left half-open
                await thread(again.logon)
                await thread(again.new_order, "AGAIN-1")
            await thread(other.new_order, "OTHER-1")
        warned = srv.problems()
    assert [(e["event"], e.get("session")) for e in warned] == [(STOPPED_READING, TW44)], warned
