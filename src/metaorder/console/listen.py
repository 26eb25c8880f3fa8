"""``metaorder console --listen``: log on, send nothing, record every report — the simplest post-trade consumer.

Typically as DROPCOPY on the drop-copy port (``--listen --port 9877 --sender-comp-id DROPCOPY``):
every ExecutionReport the engine sends an OMS, with OnBehalfOfCompID (115) naming the OMS, and
every street-side venue execution, with 115 naming the venue.  Each is printed as one line
(:func:`metaorder.console.view.report_line`, ``for=OMS1``), or with ``--out FILE.jsonl`` appended
to that file as one JSON object per line and flushed at once (a consumer tailing the file sees it
immediately; a crash loses at most the line being written)::

    {"received": "20250101-14:00:01.234", "seq": 12, "msg_type": "8", "possdup": false,
     "line": "ER A1 FILL ACME BUY 500 ...", "fields": {"ClOrdID": "A1", "LastMkt": "ATLX", ...}}

``fields`` holds every field by its FIX 4.4 name (the tag number when the dictionary has no name),
header included, values as sent (strings).

It runs until SIGINT/SIGTERM (then Logout, exit 0) or until the session ends (the engine logged it
out or went away: exit 1, so a supervisor notices).  Without ``--store`` every Logon resets the
sequence numbers, and copies made while the listener was away are not resent; with ``--store PATH``
it keeps its sequence numbers and gets them by the ordinary FIX resend after it logs on again.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TextIO

from metaorder.clock import Clock
from metaorder.console.client import CommandError, Endpoint, SessionApp, log_on, open_session, stop
from metaorder.console.view import report_line
from metaorder.fix.codec import Message, format_utc_timestamp
from metaorder.fix.dictionary import Dictionary
from metaorder.fix.session import Session
from metaorder.fix.transport import SessionConnection
from metaorder.serving import signal_handlers, until_stopped


def json_record(msg: Message, received: float, dictionary: Dictionary) -> dict[str, object]:
    """One report as the JSON object ``--out`` appends (see the module docstring)."""
    fields: dict[str, str] = {}
    for tag, value in msg.fields:
        spec = dictionary.fields.get(tag)
        fields.setdefault(spec.name if spec is not None else str(tag), value)
    seq = msg.get(34)
    return {"received": format_utc_timestamp(received), "seq": int(seq) if seq and seq.isdigit() else None,
            "msg_type": msg.msg_type, "possdup": msg.get(43) == "Y", "line": report_line(msg), "fields": fields}


class Listener(SessionApp):
    """Every application message, as a line on ``out`` or a JSON object appended to ``sink``."""

    def __init__(self, session: Session, clock: Clock, out: TextIO, sink: TextIO | None) -> None:
        super().__init__(session, clock, lambda line: print(line, file=out, flush=True))
        self._sink = sink
        self.received = 0

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        self.received += 1
        if self._sink is not None:
            self._sink.write(json.dumps(json_record(message, now, self.session.dictionary)) + "\n")
            self._sink.flush()
        else:
            line = report_line(message)
            self.emit(line + (" possdup" if message.get(43) == "Y" else ""))
        self.changed()


async def run_listen(endpoint: Endpoint, clock: Clock, out: TextIO, jsonl: Path | None, logon_timeout: float) -> int:
    session, db = open_session(endpoint)
    sink: TextIO | None = None
    try:
        if jsonl is not None:
            jsonl.parent.mkdir(parents=True, exist_ok=True)
            sink = jsonl.open("a", encoding="utf-8")
        app = Listener(session, clock, out, sink)
        try:
            initiator, task = await log_on(app, endpoint, logon_timeout)
        except CommandError as exc:
            print(f"metaorder: {exc}", file=sys.stderr)
            return 2
        stopping = asyncio.Event()
        ended = asyncio.ensure_future(app.ended.wait())
        try:
            with signal_handlers({signal.SIGINT: stopping.set, signal.SIGTERM: stopping.set}):
                await until_stopped([ended], stopping)
        finally:
            ended.cancel()
            by_peer = app.ended.is_set() and not stopping.is_set()
            print(f"END received={app.received}" + (f" session ended: {app.end_reason}" if by_peer else ""),
                  file=out, flush=True)
            await stop(initiator, task, 3.0)
        return 1 if by_peer else 0
    finally:
        if sink is not None:
            sink.close()
        if db is not None:
            db.close()
