"""The console's FIX client: metaorder's own session layer, logged on to ``metaorder run`` as CONSOLE.

The console is an OMS like any other (README "Sending orders"), built from the same parts as the
engine's venue links: a sans-IO :class:`~metaorder.fix.session.Session` on a message store, kept
connected by a :class:`~metaorder.fix.transport.Initiator`.  :class:`ConsoleClient` is that
session's application: it turns typed commands into messages (:mod:`metaorder.console.messages`),
folds what comes back into the :class:`~metaorder.console.blotter.Blotter` and hands each report to
``emit`` as one line (:mod:`metaorder.console.view`).  The interactive, script and listen modes are
thin loops around it.

Sequence numbers: without ``--store`` they live in memory and every Logon carries ResetSeqNumFlag
(141=Y), so each run starts at 1 (the engine keeps its own store: a reset is how a client with no
memory says "start over").  With ``--store PATH`` they persist in that SQLite file, and the console
resets only at the first Logon of a run, and only with ``--reset`` or when the store is new (both
numbers still at 1: a fresh store cannot know the engine's numbers, and without the reset the
engine would refuse our MsgSeqNum 1 as too low).  Every later Logon — a reconnect in the same run,
or the next run — keeps the numbers, so what the engine sent while the console was away comes
back by the ordinary FIX resend.

After a reconnect with reset (the in-memory store) nothing is resent: the engine may have changed
our orders meanwhile (the CONSOLE session is ``cancel_on_disconnect``), so the console asks for the
status (OrderStatusRequest, H) of every order its blotter still shows open, and the answers
(150=I) bring the blotter up to date.

ClOrdIDs: the engine refuses a ClOrdID used before by the session that day, across console runs,
so each run takes a token from the time of its first Logon (milliseconds since midnight UTC in
base 36, six characters) and names its orders ``TOKEN-C1``, ``TOKEN-C2``...; a replace of C1 is
``TOKEN-C1-R1``, a cancel ``TOKEN-C1-X1``.  The trader types ``C1``.  Two consoles cannot be
logged on as the same session at once, so a run's first Logon comes after the previous run's
Logout, later by the round trips of both: never in the same millisecond.  (The start time was not
enough: a short script run can end within the tenth of a second in which the next one starts.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from metaorder.clock import Clock
from metaorder.console.blotter import Blotter, OrderRow
from metaorder.console.grammar import (
    Cancel,
    Command,
    Fills,
    Help,
    NewOrder,
    Orders,
    ParseError,
    Quit,
    Raw,
    Replace,
    Status,
    Wait,
    parse,
)
from metaorder.console.messages import (
    SIDE_CODES,
    Body,
    WindowError,
    cancel_body,
    fix_text,
    new_order_body,
    price_or_none,
    replace_body,
    split_raw,
    status_body,
)
from metaorder.console.view import HELP, blotter_lines, fills_lines, order_lines, quote, report_line
from metaorder.fix.codec import Message
from metaorder.fix.session import ADMIN_TYPES, Role, Session, SessionConfig
from metaorder.fix.store import MemoryStore, SessionStore, SqliteStoreDatabase
from metaorder.fix.transport import Initiator, SessionConnection

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _reject_detail(detail: str) -> tuple[str | None, str]:
    """(RefSeqNum, Text) from the session's "counterparty rejected our 8: Required tag missing"."""
    head, _, text = detail.partition(": ")
    seq = head.rsplit(" ", 1)[-1]
    return (seq if seq.isascii() and seq.isdigit() else None), text


def _whole(text: str) -> int:
    """A raw message's OrderQty for the blotter (0 when it is not a plain whole number)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 15 else 0


class CommandError(ValueError):
    """A well-formed command that cannot be carried out now (unknown order, not logged on...)."""


class LogonFailed(Exception):
    """No Logon came: one line for the user (``metaorder console`` exits 2 with it)."""


def run_token(now: float) -> str:
    """Six base-36 characters: the millisecond of the UTC day of this run's first Logon."""
    value = int(now * 1000) % 86_400_000
    chars = []
    for _ in range(6):
        value, digit = divmod(value, 36)
        chars.append(_DIGITS[digit])
    return "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and as whom the console logs on."""

    host: str
    port: int
    sender_comp_id: str = "CONSOLE"
    target_comp_id: str = "METAORDER"
    store: Path | None = None  # None: sequence numbers in memory, reset at every Logon
    reset: bool = False  # with a store: send ResetSeqNumFlag anyway
    heartbeat: int = 30

    def describe(self) -> str:
        return f"{self.host}:{self.port} as {self.sender_comp_id}->{self.target_comp_id}"


def open_session(endpoint: Endpoint) -> tuple[Session, SqliteStoreDatabase | None]:
    """The console's session and the store database to close at the end (None in memory)."""
    from metaorder.serving import load_dictionary, store_key

    config = SessionConfig(endpoint.sender_comp_id, endpoint.target_comp_id, Role.INITIATOR,
                           heartbeat_interval=endpoint.heartbeat,
                           reset_on_logon=endpoint.store is None or endpoint.reset)
    db: SqliteStoreDatabase | None = None
    store: SessionStore
    if endpoint.store is None:
        store = MemoryStore()
    else:
        endpoint.store.parent.mkdir(parents=True, exist_ok=True)
        db = SqliteStoreDatabase(endpoint.store)
        store = db.open_session(store_key(config))
        if store.next_sender_seq() == 1 and store.next_target_seq() == 1:
            config = replace(config, reset_on_logon=True)  # a new store: see the module docstring
    return Session(config, store, load_dictionary(None)), db


def persistent(session: Session) -> bool:
    """Whether the session's sequence numbers outlive the run (``--store``)."""
    return not isinstance(session.store, MemoryStore)


class SessionApp:
    """What every mode shares: logon and logout as events, the connection, a change signal."""

    def __init__(self, session: Session, clock: Clock, emit: Callable[[str], None]) -> None:
        self.session = session
        self.clock = clock
        self.emit = emit
        self.connection: SessionConnection | None = None
        self.logged_on = asyncio.Event()
        self.ended = asyncio.Event()  # the session ended after a logon (logout or connection lost)
        self.end_reason = ""
        self.logons = 0
        self._changed = asyncio.Event()
        self.on_change: Callable[[], None] = lambda: None  # the UI redraws

    def state_line(self) -> str:
        s = self.session
        cfg = s.config
        return (f"{cfg.sender_comp_id}->{cfg.target_comp_id} {s.state.value}, "
                f"next seq out {s.store.next_sender_seq()} in {s.store.next_target_seq()}")

    def changed(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
        self.on_change()

    async def next_change(self, timeout: float | None) -> None:
        """Wait for the next message or session change (at most ``timeout`` seconds)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    # ---- Application --------------------------------------------------------------------------

    def on_logon(self, conn: SessionConnection) -> None:
        self.connection = conn
        self.logons += 1
        if persistent(self.session) and self.session.config.reset_on_logon:
            # With a store the reset is for this run's first Logon only (--reset, or a new store):
            # a reconnect must keep the numbers, or what was sent meanwhile would never be resent.
            self.session.config = replace(self.session.config, reset_on_logon=False)
        self.ended.clear()
        self.logged_on.set()
        self.emit(f"SESSION logged on {self.state_line()}")
        self.changed()

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        if self.connection is conn:
            self.connection = None
        self.logged_on.clear()
        self.end_reason = reason
        self.ended.set()
        self.emit(f"SESSION logged out: {reason}")
        self.changed()

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        self.emit(report_line(message))
        self.changed()

    def on_problem(self, conn: SessionConnection, kind: str, detail: str) -> None:
        """What the session handled itself but the trader must see (a session Reject of our message).

        The transport calls it for every problem its session handled (and logs it as a warning too):
        a Reject of a `raw` message counts as a rejection (exit status 1 in a script).
        """
        if kind == "reject-received":
            self.session_reject(*_reject_detail(detail))
        self.changed()

    def session_reject(self, ref_seq: str | None, text: str) -> None:
        self.emit(f"REJECT - ref={ref_seq or ''} text={quote(text)}")


class ConsoleClient(SessionApp):
    """The trading console's application: commands out, reports into the blotter."""

    def __init__(self, session: Session, clock: Clock, emit: Callable[[str], None], token: str | None = None) -> None:
        super().__init__(session, clock, emit)
        self.token = token  # None until the first Logon (see the module docstring)
        self.blotter = Blotter()
        self._orders = 0
        self._requests: dict[str, int] = {}  # ref -> requests made for it (R1, X2...)

    def on_logon(self, conn: SessionConnection) -> None:
        if self.token is None:
            self.token = run_token(self.clock.now())
        super().on_logon(conn)
        if self.logons > 1 and self.session.config.reset_on_logon:
            self._refresh_open_orders()

    def _refresh_open_orders(self) -> None:
        """After a reconnect that reset the sequence numbers nothing is resent, and the engine may
        have canceled our orders meanwhile (cancel_on_disconnect): ask for each open row's status."""
        rows = [r for r in self.blotter.open_rows() if r.symbol]
        if not rows:
            return
        self.emit(f"SESSION logged on again: asking the status of {len(rows)} open orders "
                  f"({', '.join(r.ref for r in rows)})")
        for row in rows:
            try:
                body = status_body(row.cl_ord_id, row.symbol, SIDE_CODES.get(row.side, "1"))
                for line in self._send("H", body, row):
                    self.emit(line)
            except Exception as exc:  # called by the transport: report, never raise
                self.emit(f"ERROR status request for {row.ref}: {exc}")
                return

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        notice = self.blotter.apply(message)
        self.emit(report_line(message, notice.row.ref if notice.row is not None else None))
        self.changed()

    def session_reject(self, ref_seq: str | None, text: str) -> None:
        notice = self.blotter.session_reject(ref_seq, text)
        ref = notice.row.ref if notice.row is not None else "-"
        self.emit(f"REJECT {ref} ref={ref_seq or ''} text={quote(text)}")

    # ---- commands -----------------------------------------------------------------------------

    def execute(self, cmd: Command) -> list[str]:
        """Carry out ``cmd``: the lines to show.  :class:`CommandError` when it cannot be done.

        ``Wait`` and ``Quit`` belong to the loop that drives the console (they are about time and
        about the loop itself); asked here they do nothing.
        """
        if isinstance(cmd, NewOrder):
            return self._new_order(cmd)
        if isinstance(cmd, Cancel):
            row = self._row(cmd.ref)
            cl = self._request_id(row, "X")
            body = cancel_body(cl, row.cl_ord_id, row.symbol, SIDE_CODES.get(row.side, "1"), row.qty, self.clock.now())
            return self._send("F", body, row, cl)
        if isinstance(cmd, Replace):
            row = self._row(cmd.ref)
            if cmd.price is not None and row.limit is None:
                raise CommandError(f"{cmd.ref} is a market order: a replace cannot give it a limit "
                                   f"(cancel it and send a limit order instead)")
            cl = self._request_id(row, "R")
            qty = cmd.qty if cmd.qty is not None else row.qty
            limit = cmd.price if cmd.price is not None else row.limit
            body = replace_body(cl, row.cl_ord_id, row.symbol, SIDE_CODES.get(row.side, "1"), qty, limit,
                                self.clock.now())
            return self._send("G", body, row, cl)
        if isinstance(cmd, Status):
            row = self._row(cmd.ref)
            lines = order_lines(row)
            return [*lines, *self._send("H", status_body(row.cl_ord_id, row.symbol, SIDE_CODES.get(row.side, "1")),
                                        row)]
        if isinstance(cmd, Fills):
            return fills_lines(self._row(cmd.ref))
        if isinstance(cmd, Orders):
            return [*blotter_lines(self.blotter), self.state_line()]
        if isinstance(cmd, Raw):
            return self._raw(cmd)
        if isinstance(cmd, Help):
            return HELP.splitlines()
        assert isinstance(cmd, Wait | Quit)
        return []

    def _new_order(self, cmd: NewOrder) -> list[str]:
        self._connected()
        assert self.token is not None  # taken at the first Logon, and orders go out only after one
        ref = f"C{self._orders + 1}"
        cl = f"{self.token}-{ref}"
        try:
            body, notes = new_order_body(cmd, cl, self.clock.now())
        except WindowError as exc:
            raise CommandError(str(exc)) from None
        self._orders += 1
        row = self.blotter.sent_order(ref, cl, cmd.symbol, cmd.side, cmd.qty, cmd.price, cmd.arrival)
        return [*self._send("D", body, row), *(f"NOTE {ref} {n}" for n in notes)]

    def _raw(self, cmd: Raw) -> list[str]:
        if cmd.msg_type in ADMIN_TYPES:
            raise CommandError(f"raw: 35={cmd.msg_type} is a session message; the session sends those itself")
        try:
            header, body = split_raw(cmd.fields, self.session.dictionary.header_tags)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        row: OrderRow | None = None
        values = dict(cmd.fields)
        if cmd.msg_type == "D" and values.get(11):
            cl = values[11]
            qty = values.get(38, "0")
            limit = price_or_none(values.get(44)) if values.get(40) == "2" else None
            row = self.blotter.sent_order(cl, cl, values.get(55, ""), {"1": "BUY", "2": "SELL", "5": "SHORT"}.get(
                values.get(54, ""), values.get(54, "")), _whole(qty), limit)
        elif values.get(41) and (row := self.blotter.find(values[41])) is not None and values.get(11):
            self.blotter.sent_request(row, values[11])
        return self._send(cmd.msg_type, body, row, header=header)

    def _send(self, msg_type: str, body: Body, row: OrderRow | None, cl: str | None = None,
              header: Body | None = None) -> list[str]:
        conn = self._connected()
        if row is not None and cl is not None:
            self.blotter.sent_request(row, cl)
        seq = conn.send(msg_type, body, header or ())
        self.blotter.sent_seq(seq, row)
        self.changed()
        return [f"SENT {row.ref if row is not None else '-'} seq={seq} {fix_text([*(header or ()), *body], msg_type)}"]

    def _connected(self) -> SessionConnection:
        conn = self.connection
        if conn is None or not self.session.logged_on:
            raise CommandError(f"not logged on ({self.session.state.value}): nothing sent")
        return conn

    def _row(self, ref: str) -> OrderRow:
        row = self.blotter.find(ref)
        if row is None:
            known = ", ".join(self.blotter.refs()[-5:]) or "none yet"
            raise CommandError(f"no order {ref!r} (known: {known})")
        return row

    def _request_id(self, row: OrderRow, kind: str) -> str:
        n = self._requests.get(row.ref, 0) + 1
        self._requests[row.ref] = n
        return f"{row.cl_ord_ids[0]}-{kind}{n}"

    # ---- waiting ------------------------------------------------------------------------------

    async def wait_answered(self, seconds: float) -> bool:
        """Until every order and request sent has had an answer (ack, reject, cancel reject), the
        session ends, or ``seconds`` pass: a script's exit status must not be read before them."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.blotter.unanswered():
            remaining = deadline - loop.time()
            if self.ended.is_set() or remaining <= 0:
                return False
            await self.next_change(remaining)
        return True

    async def wait_done(self, ref: str | None, seconds: float | None) -> bool:
        """Until ``ref`` (or every open order) is finished and its cancel and replace requests are
        answered, the session ends, or ``seconds`` pass."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        row = self._row(ref) if ref is not None else None
        while True:
            b = self.blotter
            done = (row.finished if row is not None else not b.open_rows()) and not b.pending(row)
            if done:
                return True
            if self.ended.is_set():
                return False
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await self.next_change(remaining)


async def log_on(app: SessionApp, endpoint: Endpoint, timeout: float) -> tuple[Initiator, asyncio.Task[None]]:
    """Start the initiator and wait for the Logon; :class:`LogonFailed` (one line) if none comes."""
    initiator = Initiator(endpoint.host, endpoint.port, app.session, app, app.clock, reconnect_min=0.5,
                          reconnect_max=5.0)
    task = asyncio.create_task(initiator.run(), name="console-initiator")
    try:
        await asyncio.wait_for(app.logged_on.wait(), timeout)
    except TimeoutError:
        await stop(initiator, task, 1.0)
        raise LogonFailed(f"no logon to {endpoint.describe()} within {timeout:g} s (is `metaorder run` "
                           f"listening there, with {endpoint.sender_comp_id} among its sessions, "
                           f"and no other {endpoint.sender_comp_id} logged on?)") from None
    return initiator, task


async def stop(initiator: Initiator, task: asyncio.Task[None], timeout: float) -> None:
    """Logout (bounded by ``timeout``), then end the initiator's task."""
    try:
        await initiator.shutdown(timeout)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


#: Seconds ``wait`` waits when the line gives none (an order that never finishes must not hang a script).
DEFAULT_WAIT_S = 60.0

Waiting = Callable[[Coroutine[Any, Any, bool]], Awaitable[bool]]


async def carry_out(client: ConsoleClient, line: str, emit: Callable[[str], None], where: str = "",
                    until: Waiting | None = None) -> tuple[bool, bool]:
    """One typed line, parsed and carried out, the same at the prompt and in a script:
    ``(go_on, failed)``.  ``where`` prefixes its ERROR and WAIT lines ("line 3: " in a script);
    ``until`` runs a ``wait`` (a script races it against SIGTERM).

    Nothing a line does may end the session: logging out would cancel every open order of the
    CONSOLE session (cancel_on_disconnect), so even a bug is one ERROR line and the session goes on.
    """
    try:
        cmd = parse(line)
        if cmd is None:
            return True, False
        if isinstance(cmd, Quit):
            return False, False
        if isinstance(cmd, Wait):
            seconds = cmd.seconds if cmd.seconds is not None else DEFAULT_WAIT_S
            waiting = client.wait_done(cmd.ref, seconds)
            if not await (until(waiting) if until is not None else waiting):
                emit(f"WAIT {where}{cmd.ref or 'open orders'} not finished after {seconds:g} s")
            return True, False
        for text in client.execute(cmd):
            emit(text)
        return True, False
    except (ParseError, CommandError) as exc:
        emit(f"ERROR {where}{exc}")
    except Exception as exc:
        emit(f"ERROR {where}{type(exc).__name__}: {exc} (nothing more was done for this line; the session goes on)")
    return True, True
