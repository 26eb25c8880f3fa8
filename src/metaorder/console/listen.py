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
it keeps its sequence numbers and gets them by the ordinary FIX resend after it logs on again (a
store that does not exist yet resets at its first Logon: :mod:`metaorder.console.client`).

A report it cannot write to ``--out`` (disk full, file removed from a read-only mount...) is not
dropped: the listener writes nothing more, logs out and exits 1 with one line on stderr, and with
``--store`` it puts its expected sequence number back to the report that failed, so the next run
gets that report and every later one again by the FIX resend (as PossDup, 43=Y).  A copy still
prints one line per report; a consumer must tolerate a report twice anyway (``seq`` and
``possdup`` say which), so a line half-written before the failure may be followed by the same
report in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import TextIO

from metaorder.clock import Clock
from metaorder.console.client import Endpoint, SessionApp, log_on, open_session, persistent, stop
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
    number = int(seq) if seq and seq.isascii() and seq.isdigit() else None
    return {"received": format_utc_timestamp(received), "seq": number,
            "msg_type": msg.msg_type, "possdup": msg.get(43) == "Y", "line": report_line(msg), "fields": fields}


class Listener(SessionApp):
    """Every application message, as a line on ``out`` or a JSON object appended to ``sink``."""

    def __init__(self, session: Session, clock: Clock, out: TextIO, sink: TextIO | None) -> None:
        super().__init__(session, clock, lambda line: print(line, file=out, flush=True))
        self._sink = sink
        self.received = 0
        self.failed = asyncio.Event()  # a report could not be written: stop
        self.failure = ""
        self.failed_seq: int | None = None  # the first report not written (None: not known)

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        if self.failed.is_set():
            return  # after a failed write nothing more is written: the reports must stay in order
        if self._sink is not None:
            try:
                self._sink.write(json.dumps(json_record(message, now, self.session.dictionary)) + "\n")
                self._sink.flush()
            except OSError as exc:
                seq = message.get(34)
                self.failed_seq = int(seq) if seq and seq.isascii() and seq.isdigit() else None
                self.failure = f"cannot write report {seq or '?'} to --out: {exc.strerror or exc}"
                self.failed.set()
                self.changed()
                return
            self.received += 1
        else:
            self.received += 1
            line = report_line(message)
            self.emit(line + (" possdup" if message.get(43) == "Y" else ""))
        self.changed()


def _rewind(session: Session, seq: int | None) -> None:
    """With a store: expect ``seq`` again, so the next Logon asks for it and all after it (a resend).

    Done after the Logout, on a session that is no longer connected: during the session a lower
    expected number would make the session ask for a resend at once, into the failing file."""
    if seq is not None and persistent(session) and seq < session.store.next_target_seq():
        session.store.set_next_target_seq(seq)


async def run_listen(endpoint: Endpoint, clock: Clock, out: TextIO, jsonl: Path | None, logon_timeout: float) -> int:
    session, db = open_session(endpoint)
    sink: TextIO | None = None
    try:
        if jsonl is not None:
            jsonl.parent.mkdir(parents=True, exist_ok=True)
            sink = jsonl.open("a", encoding="utf-8")
        app = Listener(session, clock, out, sink)
        stopping = asyncio.Event()
        # The handlers go in before the logon: a SIGTERM right after it must log out, not kill.
        with signal_handlers({signal.SIGINT: stopping.set, signal.SIGTERM: stopping.set}):
            initiator, task = await log_on(app, endpoint, logon_timeout)
            ended = asyncio.ensure_future(app.ended.wait())
            failed = asyncio.ensure_future(app.failed.wait())
            try:
                await until_stopped([ended, failed], stopping)
            finally:
                ended.cancel()
                failed.cancel()
                by_peer = app.ended.is_set() and not stopping.is_set() and not app.failed.is_set()
                print(f"END received={app.received}" + (f" session ended: {app.end_reason}" if by_peer else "")
                      + (f" {app.failure}" if app.failed.is_set() else ""), file=out, flush=True)
                await stop(initiator, task, 3.0)
                if app.failed.is_set():
                    _rewind(session, app.failed_seq)
                    print(f"metaorder: {app.failure}; logged out", file=sys.stderr, flush=True)
        return 1 if by_peer or app.failed.is_set() else 0
    finally:
        if sink is not None:
            with contextlib.suppress(OSError):  # a failed write is already said; closing flushes it again
                sink.close()
        if db is not None:
            db.close()
