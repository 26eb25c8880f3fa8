"""The interactive console: a prompt with live output above it and a live blotter below it.

Layout: a prompt_toolkit *prompt with live output*, not a full-screen application.  Reports scroll
above the prompt as one line each (the same lines as the script mode, so what a trader sees is
what a CI log greps for), and the bottom toolbar is the live blotter: the session's state and
sequence numbers and every open order (id, ClOrdID, cum/qty, avg px, status, last market, cost vs
arrival), redrawn on every report.  Why not full screen: the terminal's scrollback keeps the whole
session (a full-screen application owns the screen and loses it on exit), copy and paste work as
in any shell, and nothing needs a mouse.  ``orders``, ``status ID`` and ``fills ID`` print the
full blotter, one order and its executions on demand.

Keys: Tab completes commands, symbols (the config's instruments), option words and values, and
known order ids; Up/Down walk the history, Ctrl-R searches it (kept in ``var/console-history``
when a ``var/`` directory exists, else in memory); Ctrl-C clears the line; Ctrl-D or ``quit``
logs out and leaves.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from prompt_toolkit.patch_stdout import patch_stdout

from metaorder.clock import Clock
from metaorder.console.client import ConsoleClient, Endpoint, carry_out, log_on, open_session, stop
from metaorder.console.grammar import (
    AGGRESSIVENESS,
    COMMANDS,
    ORDER_OPTIONS,
    ROUTINGS,
    SIDES,
    URGENCIES,
)
from metaorder.console.view import row_cells

_VALUES = {"urgency": URGENCIES, "aggressiveness": AGGRESSIVENESS, "routing": ROUTINGS}
_TOOLBAR_ROWS = 8


def complete(before_cursor: str, symbols: Sequence[str], refs: Sequence[str]) -> list[str]:
    """The words that may come next at the cursor (starting with the word being typed)."""
    words = before_cursor.split()
    typing = "" if not before_cursor or before_cursor[-1].isspace() else words.pop()
    if not words:
        options: Iterable[str] = COMMANDS
    else:
        first, done = words[0].lower(), len(words)
        if first in SIDES:
            if done == 1:
                options = ()
            elif done == 2:
                options = symbols
            elif words[-1].lower() in _VALUES:
                options = [v.lower() for v in _VALUES[words[-1].lower()]]
            else:
                options = ORDER_OPTIONS
        elif first in ("cancel", "status", "fills", "wait", "replace"):
            options = refs if done == 1 else ("qty", "@") if first == "replace" else ()
        else:
            options = ()
    low = typing.lower()
    return [o for o in options if o.lower().startswith(low) and o.lower() != low]


class ConsoleCompleter(Completer):
    def __init__(self, symbols: Sequence[str], refs: Callable[[], Sequence[str]]) -> None:
        self._symbols = symbols
        self._refs = refs

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        before = document.text_before_cursor
        typing = "" if not before or before[-1].isspace() else before.split()[-1]
        for word in complete(before, self._symbols, self._refs()):
            yield Completion(word, start_position=-len(typing))


def toolbar_text(client: ConsoleClient) -> str:
    """The live blotter under the prompt: session line, then the open orders (newest last)."""
    lines = [client.state_line()]
    rows = client.blotter.open_rows()
    for row in rows[-_TOOLBAR_ROWS:]:
        ref, cl, symbol, side, qty, limit, cum, _leaves, avg, status, mkt, cost = row_cells(row)
        lines.append(f"{ref:<5} {cl:<14} {side:<5} {cum}/{qty} {symbol:<6} @{limit:<8} avg {avg:<10} {status:<8} "
                     f"{mkt:<8} {('cost ' + cost + ' bps') if cost else ''}".rstrip())
    if len(rows) > _TOOLBAR_ROWS:
        lines.append(f"... {len(rows) - _TOOLBAR_ROWS} more open: type orders")
    lines.append("Tab complete  Up/Down history  Ctrl-R search  Ctrl-D quit  help")
    return "\n".join(lines)


def default_history() -> History:
    var = Path("var")
    return FileHistory(str(var / "console-history")) if var.is_dir() else InMemoryHistory()


async def run_app(endpoint: Endpoint, clock: Clock, symbols: Sequence[str], logon_timeout: float,
                  history: History | None = None, input: Input | None = None, output: Output | None = None,
                  emit: Callable[[str], None] | None = None,
                  on_client: Callable[[ConsoleClient], None] | None = None) -> int:
    """The interactive console until ``quit``/Ctrl-D (0), or 2 when it cannot log on.

    ``input``/``output``/``emit`` are for tests (prompt_toolkit's pipe input and DummyOutput, and a
    list for the lines); without them the terminal is used, with reports printed above the prompt.
    ``on_client`` is handed the client once it exists (tests look at its blotter and toolbar).
    """
    real_terminal = emit is None
    out = emit or (lambda line: print(line, flush=True))  # sys.stdout at call time: the patched one
    session, db = open_session(endpoint)
    try:
        with patch_stdout(raw=True) if real_terminal else contextlib.nullcontext():
            if real_terminal:
                from metaorder.logs import configure_logging

                configure_logging("console", "WARNING", stream=sys.stderr)  # above the prompt too
            client = ConsoleClient(session, clock, out)
            if on_client is not None:
                on_client(client)
            initiator, task = await log_on(client, endpoint, logon_timeout)
            try:
                await _loop(client, symbols, history or InMemoryHistory(), input, output)
            finally:
                await stop(initiator, task, 3.0)
        return 0
    finally:
        if db is not None:
            db.close()


async def _loop(client: ConsoleClient, symbols: Sequence[str], history: History, input: Input | None,
                output: Output | None) -> None:
    prompt: PromptSession[str] = PromptSession(
        "metaorder> ", completer=ConsoleCompleter(symbols, client.blotter.refs), history=history,
        bottom_toolbar=lambda: toolbar_text(client), enable_history_search=False, input=input, output=output,
        complete_while_typing=False)
    client.on_change = prompt.app.invalidate
    out = client.emit
    while True:
        try:
            line = await prompt.prompt_async()
        except KeyboardInterrupt:
            continue
        except EOFError:
            return
        go_on, _ = await carry_out(client, line, out)
        if not go_on:
            return
