"""The console's script and interactive loops against a fake engine in this process: a FIX acceptor
(metaorder's own transport) that logs the console on and then answers nothing, or logs it out.

What only a silent or vanishing counterparty shows: an order without an answer, a session lost
while standard input stays open, and a line whose failure is not a ParseError (a bug) — none of
which may hang the console or end its session."""

from __future__ import annotations

import asyncio
import io
import signal
from collections.abc import AsyncIterator, Iterable, Iterator

import pytest

from metaorder.clock import LiveClock
from metaorder.console.client import ConsoleClient, Endpoint
from metaorder.console.grammar import Command, Orders
from metaorder.console.script import run_script
from metaorder.fix.codec import Message
from metaorder.fix.session import Role, Session, SessionConfig
from metaorder.fix.store import MemoryStore
from metaorder.fix.transport import Acceptor, SessionConnection
from metaorder.serving import load_dictionary

TIMEOUT = 10.0  # seconds any step may take before the test fails (a hang is the bug these tests look for)


class SilentEngine:
    """Accepts CONSOLE, keeps what it receives, answers nothing."""

    def __init__(self) -> None:
        self.session = Session(SessionConfig("METAORDER", "CONSOLE", Role.ACCEPTOR), MemoryStore(),
                               load_dictionary(None))
        self.acceptor = Acceptor("127.0.0.1", 0, [self.session], self, LiveClock())
        self.received: list[Message] = []
        self.got_message = asyncio.Event()
        self.connection: SessionConnection | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self.acceptor.serve(started.set_result))
        return await asyncio.wait_for(started, TIMEOUT)

    async def stop(self) -> None:
        await self.acceptor.shutdown(2.0)
        assert self._task is not None
        self._task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self._task

    def on_logon(self, conn: SessionConnection) -> None:
        self.connection = conn

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        self.connection = None

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        self.received.append(message)
        self.got_message.set()


async def lines_then_nothing(lines: Iterable[str], end: bool = True) -> AsyncIterator[str]:
    """Standard input as the script mode reads it; ``end=False``: it stays open (``tail -f |``)."""
    for line in lines:
        yield line + "\n"
    if not end:
        await asyncio.Event().wait()


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """run_script routes SIGINT/SIGTERM to its loop while it runs; pytest's own handlers come back after."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


async def script(lines: AsyncIterator[str], engine: SilentEngine, port: int, answer_wait_s: float = 0.3) -> str:
    out = io.StringIO()
    code = await asyncio.wait_for(run_script(Endpoint("127.0.0.1", port), LiveClock(), lines, out, 0.0, TIMEOUT,
                                             answer_wait_s=answer_wait_s), TIMEOUT)
    return f"{code}\n{out.getvalue()}"


@pytest.mark.usefixtures("restore_signals")
def test_an_order_without_an_answer_by_the_end_of_input_makes_the_script_exit_1() -> None:
    async def scenario() -> str:
        engine = SilentEngine()
        port = await engine.start()
        try:
            return await script(lines_then_nothing(["buy 100 ACME"]), engine, port)
        finally:
            await engine.stop()

    code, *out = asyncio.run(scenario()).splitlines()
    assert code == "1", out
    assert any(line.startswith("SENT C1 ") for line in out)
    assert "WAIT end of input: 1 messages not answered after 0.3 s" in out
    assert "END orders=1 open=1 rejects=0 errors=0 unanswered=1" in out


@pytest.mark.usefixtures("restore_signals")
def test_a_lost_session_ends_a_script_whose_input_stays_open() -> None:
    async def scenario() -> str:
        engine = SilentEngine()
        port = await engine.start()
        try:
            run = asyncio.create_task(script(lines_then_nothing(["buy 100 ACME"], end=False), engine, port))
            await asyncio.wait_for(engine.got_message.wait(), TIMEOUT)
            assert engine.connection is not None
            engine.connection.logout("going away")  # no further line will ever come on the console's stdin
            return await run
        finally:
            await engine.stop()

    code, *out = asyncio.run(scenario()).splitlines()
    assert code == "1", out
    end = next(line for line in out if line.startswith("END "))
    assert end.startswith("END orders=1 open=1 rejects=0 errors=0 session ended:"), out


@pytest.mark.usefixtures("restore_signals")
def test_a_line_failing_with_an_unexpected_error_is_an_error_line_and_the_session_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    execute = ConsoleClient.execute

    def failing(self: ConsoleClient, cmd: Command) -> list[str]:
        if isinstance(cmd, Orders):
            raise OverflowError("date value out of range")
        return execute(self, cmd)

    monkeypatch.setattr(ConsoleClient, "execute", failing)

    async def scenario() -> str:
        engine = SilentEngine()
        port = await engine.start()
        try:
            return await script(lines_then_nothing(["orders", "help", "buy 10 ACME"]), engine, port)
        finally:
            await engine.stop()

    code, *out = asyncio.run(scenario()).splitlines()
    assert code == "1", out
    error = out.index("ERROR line 1: OverflowError: date value out of range (nothing more was done for this line; "
                         "the session goes on)")
    sent = next(i for i, line in enumerate(out) if line.startswith("SENT C1 "))
    logged_out = next(i for i, line in enumerate(out) if line.startswith("SESSION logged out"))
    assert error < sent < logged_out == len(out) - 1
    assert any(line.startswith("END orders=1 open=1 rejects=0 errors=1") for line in out)


def test_the_interactive_console_survives_an_unexpected_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from metaorder.console.app import run_app

    def failing(self: ConsoleClient, cmd: Command) -> list[str]:
        raise ValueError("invalid literal for int() with base 10: '\u00b2'")

    monkeypatch.setattr(ConsoleClient, "execute", failing)
    seen: list[str] = []

    async def until(prefix: str) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not any(line.startswith(prefix) for line in seen):
                await asyncio.sleep(0.02)  # polling the lines the console printed, under a deadline

    async def scenario() -> int:
        engine = SilentEngine()
        port = await engine.start()
        try:
            with create_pipe_input() as keys:
                app = asyncio.create_task(run_app(Endpoint("127.0.0.1", port), LiveClock(), ["ACME"], TIMEOUT,
                                                  input=keys, output=DummyOutput(), emit=seen.append))
                await until("SESSION logged on")
                keys.send_text("orders\r")
                await until("ERROR ValueError: invalid literal")
                assert not any(line.startswith("SESSION logged out") for line in seen)
                keys.send_text("quit\r")
                return await asyncio.wait_for(app, TIMEOUT)
        finally:
            await engine.stop()

    assert asyncio.run(scenario()) == 0
    assert seen[-1].startswith("SESSION logged out")
