"""The console without a terminal: commands from standard input, one line per report on standard output.

For scripts and CI jobs.  Every line read is a console command (blank lines and ``#`` comments are
skipped); every report the engine sends is printed as one line (:mod:`metaorder.console.view`),
as is everything the console sends (``SENT``) and every session change (``SESSION``).  A line
that cannot be parsed or carried out prints ``ERROR line N: ...`` and the script goes on (the
exit status says it failed; stopping half-way would leave the orders already sent unattended).

At the end of input the console waits (up to 10 s) for an answer to everything it sent (an ack, a
reject), then up to ``--wait SECONDS`` for its open orders to finish —
the CONSOLE session is ``cancel_on_disconnect`` in configs/metaorder.toml, so whatever is still
open when it logs out is canceled by the engine — then prints ``END`` with a count and logs out.
``wait [ID] [SECONDS]`` inside a script waits the same way at that point.

Exit status: 0; 1 if a line could not be parsed or carried out, if an order or a request was
rejected (ExecutionReport 150=8, OrderCancelReject 35=9, Reject 35=3, BusinessMessageReject
35=j), if something sent had no answer by the end of that wait (its fate is unknown), or if the
session ended before the script did; 2 if the console could not log on.

Standard input may stay open for ever (``tail -f orders.txt | metaorder console``): every line is
awaited together with SIGINT/SIGTERM and the end of the session, so either stops the script at
once instead of at the next line.  Any failure of a line, even a bug, is that line's ``ERROR``:
ending the session would make the engine cancel every open order.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TextIO

from metaorder.clock import Clock
from metaorder.console.client import ConsoleClient, Endpoint, carry_out, log_on, open_session, stop
from metaorder.serving import signal_handlers

#: Seconds the end of input waits for the answers (ack or reject) to what was sent.
ANSWER_WAIT_S = 10.0


async def stdin_lines(stream: TextIO) -> AsyncIterator[str]:
    """Lines of a blocking stream, read on a daemon thread (a thread blocked in read must not keep
    the process alive once the console is done, as an executor's worker would)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def run_script(endpoint: Endpoint, clock: Clock, lines: AsyncIterator[str], out: TextIO, wait_s: float,
                     logon_timeout: float, answer_wait_s: float = ANSWER_WAIT_S) -> int:
    def emit(line: str) -> None:
        print(line, file=out, flush=True)

    session, db = open_session(endpoint)
    try:
        client = ConsoleClient(session, clock, emit)
        stopping = asyncio.Event()
        errors = 0
        unanswered = 0
        # The handlers go in before the logon: a SIGTERM right after it must log out, not kill.
        with signal_handlers({signal.SIGINT: stopping.set, signal.SIGTERM: stopping.set}):
            initiator, task = await log_on(client, endpoint, logon_timeout)
            try:
                errors = await _commands(client, lines, emit, stopping)
                # Whatever --wait says, what was sent is answered before END: the exit status says
                # whether an order was rejected, and a script ending right after its order must see it.
                if (not stopping.is_set() and not client.ended.is_set()
                        and not await _until(client.wait_answered(answer_wait_s), stopping)
                        and not stopping.is_set() and not client.ended.is_set()):
                    unanswered = client.blotter.unanswered()
                    emit(f"WAIT end of input: {unanswered} messages not answered after {answer_wait_s:g} s")
                if wait_s > 0 and not stopping.is_set() and not client.ended.is_set():
                    await _until(client.wait_done(None, wait_s), stopping)
            finally:
                ended_early = client.ended.is_set()
                open_rows = client.blotter.open_rows()
                rows = client.blotter.rows()
                emit(f"END orders={len(rows)} open={len(open_rows)} rejects={len(client.blotter.rejects)} "
                     f"errors={errors}" + (f" unanswered={unanswered}" if unanswered else "")
                     + (f" session ended: {client.end_reason}" if ended_early else ""))
                await stop(initiator, task, 3.0)
        return 1 if errors or unanswered or client.blotter.rejects or ended_early else 0
    finally:
        if db is not None:
            db.close()


async def _commands(client: ConsoleClient, lines: AsyncIterator[str], emit: Callable[[str], None],
                    stopping: asyncio.Event) -> int:
    errors = 0
    number = 0
    while (line := await _next_line(lines, stopping, client.ended)) is not None:
        number += 1
        go_on, failed = await carry_out(client, line, emit, f"line {number}: ",
                                        lambda waiting: _until(waiting, stopping))
        errors += failed
        if not go_on:
            break
    return errors


async def _next_line(lines: AsyncIterator[str], stopping: asyncio.Event, ended: asyncio.Event) -> str | None:
    """The next line, or None at end of input, on SIGINT/SIGTERM (``stopping``) or when the session
    ends — whichever comes first: a stdin that stays open must not keep a stopped script waiting."""
    if stopping.is_set() or ended.is_set():
        return None
    reading = asyncio.ensure_future(_anext(lines))
    halts = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(ended.wait())]
    try:
        await asyncio.wait({reading, *halts}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for halt in halts:
            halt.cancel()
    if stopping.is_set() or ended.is_set() or not reading.done():
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await reading
        return None
    return reading.result()


async def _anext(lines: AsyncIterator[str]) -> str | None:
    return await anext(lines, None)


async def _until(work: Coroutine[Any, Any, bool], stopping: asyncio.Event) -> bool:
    """Run the ``wait_done`` coroutine ``work`` unless ``stopping`` comes first (then False)."""
    waiting = asyncio.ensure_future(work)
    halt = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({waiting, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.cancel()
    if not waiting.done():
        waiting.cancel()
        return False
    return waiting.result()
