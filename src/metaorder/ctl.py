"""The operators' control channel of a running ``metaorder run``: kill switches and status.

A Unix domain socket next to the journal (``[control] socket``, default ``var/metaorder.ctl``),
reachable only by users who can reach that file: one command per connection, one line in, the
reply out (one line, or a table).  ``metaorder ctl`` is its client.  Commands:

* ``kill SESSION`` — the session's kill switch: its new orders and replaces are refused (OrdRejReason
  2, with a Text saying so) and its open orders are canceled (ExecutionReport 150=4); their parents
  shrink, so their child orders at venues are canceled as needed.  Other sessions are not touched.
* ``kill all`` — the global kill switch (as SIGUSR1): every new order is refused and every working
  child order is canceled; open client orders stay open, to be worked again after ``revive all``.
* ``revive SESSION`` / ``revive all`` — release a kill switch (as SIGUSR2 for ``all``).
* ``status`` — one JSON object: kill switches, open orders and parents, open child orders, venues,
  the OMS sessions (logged on, next sequence numbers each way) and the counters the metrics expose
  (``counters``: messages by session and type, rejects, reports, fills per venue, crosses, journal).
* ``scorecard`` — the venue scorecard as a text table (one line per venue x symbol x kind of order);
  ``scorecard json`` (or ``scorecard --json``) the same rows as one JSON array.  Such a reply spans
  many lines: the client reads until the daemon closes the connection.

:class:`Commands` is plain code (a command line in, the reply out, effects through the daemon's
:class:`~metaorder.operations.Operator`, which the signal handlers use too); :func:`serve` is the
asyncio shell and :func:`send` the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:  # the client side (``metaorder ctl``) must not load the engine to send one line
    from metaorder.operations import Operator

log = structlog.get_logger("metaorder.ctl")

MAX_LINE = 1024
_USAGE = "kill SESSION|all, revive SESSION|all, status, scorecard [json]"


class ControlError(Exception):
    """The control channel cannot be used (no daemon listening, bad reply)."""


class Commands:
    """The control channel's language: one command line to one :class:`Operator` action."""

    def __init__(self, operator: Operator) -> None:
        self.operator = operator

    def handle(self, line: str) -> str:
        """The reply to one command line: ``ok ...``, ``error ...``, a JSON status or the scorecard."""
        words = line.split()
        if not words:
            return f"error: empty command (try: {_USAGE})"
        verb, args = words[0].lower(), words[1:]
        operator = self.operator
        if verb == "status" and not args:
            return json.dumps(operator.status(), sort_keys=True)
        if verb == "scorecard" and [a.lower() for a in args] in ([], ["json"], ["--json"]):
            rows = operator.scorecard_rows()
            if rows is None:
                return "error: no scorecard (this engine keeps none)"
            if args:
                return json.dumps(rows, sort_keys=True)
            from metaorder.execution.scorecard import render

            return render(rows)
        if verb in ("kill", "revive") and len(args) == 1:
            target = args[0]
            if target.lower() == "all":
                if verb == "kill":
                    operator.kill_all()
                    return "ok: global kill switch engaged"
                operator.revive_all()
                return "ok: global kill switch released"
            if target not in operator.sessions:
                return f"error: unknown session {target!r} (sessions: {', '.join(sorted(operator.sessions))})"
            if verb == "kill":
                canceled = operator.kill_session(target)
                return f"ok: kill switch for {target} engaged, {canceled} open orders canceled"
            operator.revive_session(target)
            return f"ok: kill switch for {target} released"
        return f"error: unknown command {line.strip()[:80]!r} (try: {_USAGE})"


async def serve(path: Path, commands: Commands) -> None:
    """Listen on ``path`` until cancelled; the socket file is removed when done."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if path.is_socket():
            path.unlink()  # left over by a process that was killed: nobody listens on it any more

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await asyncio.wait_for(reader.readline(), timeout=5.0))[:MAX_LINE]
            reply = commands.handle(line.decode("utf-8", "replace"))
            # Durable before acknowledged: the switch's journal record is on disk before "ok" leaves.
            await asyncio.wrap_future(commands.operator.recorded())
            log.warning("operator command", command=line.decode("utf-8", "replace").strip()[:80], reply=reply[:200])
            writer.write(reply.encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_unix_server(handle, path=str(path))
    os.chmod(path, 0o600)  # operators only: the owner of the daemon's files
    log.info("control socket", path=str(path))
    try:
        async with server:
            await asyncio.Future()  # until cancelled
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def send(path: Path, command: str, timeout: float = 10.0) -> str:
    """One command to the daemon listening on ``path``; its reply (without the final newline).

    Read until the daemon closes the connection (it does after every reply): a reply of many lines
    (the scorecard) may arrive in chunks that end with a newline before the reply does."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ControlError(f"no metaorder listening on {path} ({exc.strerror or exc})") from exc
        sock.sendall(command.encode() + b"\n")
        chunks: list[bytes] = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        reply = b"".join(chunks)
    if not reply:
        raise ControlError(f"{path}: no reply")
    return reply.decode("utf-8", "replace").strip()
