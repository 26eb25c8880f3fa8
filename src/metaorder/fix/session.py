"""The FIX session layer as a sans-IO state machine.

A :class:`Session` never touches a socket, a task or a clock.  The caller feeds it bytes and ``now``
(epoch seconds) and gets back events, outgoing bytes (:meth:`Session.data_to_send`) and the next
instant it wants to be woken (:meth:`Session.next_deadline`).  The asyncio transport is a thin shell
around it; tests wire two sessions back to back or drive one with canned bytes and a virtual clock.

The rules implemented are the FIX session-layer specification's, and where it leaves room, QuickFIX's
choices, because counterparties certify against QuickFIX's acceptance suite:

* sequence numbers: a gap (MsgSeqNum too high) queues the message and sends one ResendRequest
  (chunked if configured, never duplicated while one is outstanding, asked again for what is still
  missing when nothing has filled the gap for ``resend_request_timeout``); too low without PossDupFlag
  is fatal (Logout, disconnect); too low with PossDupFlag is ignored after the OrigSendingTime checks;
* Logout and ResendRequest are acted on whatever their sequence number, SequenceReset-Reset ignores it;
* heartbeats: a Heartbeat after HeartBtInt of silence on our side, a TestRequest after 1.2×HeartBtInt
  of silence on theirs (no Heartbeats while it is outstanding), disconnect after 2.4×HeartBtInt;
* resends come from the message store: application messages again with PossDupFlag=Y and
  OrigSendingTime, administrative messages and holes as one SequenceReset-GapFill per run;
* every application message is validated against the data dictionary first; a bad one earns a session
  Reject (35=3) with SessionRejectReason, RefTagID, RefMsgType and the standard text, and still
  consumes its sequence number.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from mypy_extensions import mypyc_attr

from metaorder.fix import dictionary as dd
from metaorder.fix.codec import (
    FieldValue,
    Framer,
    Garbled,
    HeaderEncoder,
    Message,
    decode,
    encode,
    format_utc_timestamp,
    parse_utc_timestamp,
)
from metaorder.fix.dictionary import Dictionary, Rejection, ValidationOptions
from metaorder.fix.schedule import SessionSchedule
from metaorder.fix.store import SessionStore

ADMIN_TYPES = frozenset("0A12345")
#: The largest sequence number a store can hold; anything above is treated as malformed.
MAX_SEQ = (1 << 63) - 1
#: Header fields the session writes itself; everything else in a header is the caller's.
_SESSION_HEADER = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 122})
#: Reverse routing: a field received on the left is answered on the right (and vice versa).
_REVERSE_ROUTE = {115: 128, 116: 129, 144: 145, 128: 115, 129: 116, 145: 144}


class State(enum.Enum):
    DISCONNECTED = "disconnected"
    AWAITING_LOGON = "awaiting logon"  # acceptor: connected, no Logon yet
    LOGON_SENT = "logon sent"  # initiator: our Logon is out
    ACTIVE = "active"
    LOGOUT_SENT = "logout sent"


class Role(enum.Enum):
    ACCEPTOR = "acceptor"
    INITIATOR = "initiator"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """One FIX session's settings (QuickFIX's names in the comments)."""

    sender_comp_id: str  # SenderCompID
    target_comp_id: str  # TargetCompID
    role: Role = Role.ACCEPTOR  # ConnectionType
    begin_string: str = "FIX.4.4"  # BeginString
    heartbeat_interval: int = 30  # HeartBtInt (what an initiator proposes)
    reset_on_logon: bool = False  # ResetOnLogon
    reset_on_logout: bool = False  # ResetOnLogout
    reset_on_disconnect: bool = False  # ResetOnDisconnect
    logon_timeout: float = 10.0  # LogonTimeout
    logout_timeout: float = 2.0  # LogoutTimeout
    check_latency: bool = True  # CheckLatency
    max_latency: float = 120.0  # MaxLatency
    resend_request_chunk_size: int = 0  # ResendRequestChunkSize (0: ask for everything at once)
    #: Seconds our ResendRequest may go without any progress before we ask again for what is still
    #: missing (None: the HeartBtInt in force, 30 s without heartbeats; 0: never ask again).
    resend_request_timeout: float | None = None
    username: str | None = None  # initiator: sent as Username (553); acceptor: required
    password: str | None = None  # initiator: sent as Password (554); acceptor: required
    #: Application message types the application handles; others get BusinessMessageReject 380=3.
    supported_app_types: frozenset[str] | None = None
    validation: ValidationOptions = field(default_factory=ValidationOptions)
    schedule: SessionSchedule | None = None  # StartTime / EndTime


# ---- events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoggedOn:
    reset: bool  # sequence numbers were reset to 1


@dataclass(frozen=True, slots=True)
class AppMessage:
    message: Message


@dataclass(frozen=True, slots=True)
class LoggedOut:
    reason: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The transport must send what is pending, then close the connection."""

    reason: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Something the counterparty did wrong, worth one log line (the session has already answered)."""

    kind: str
    detail: str


Event = LoggedOn | AppMessage | LoggedOut | Disconnect | Problem

_CONSUMED = None  # queue marker: a sequence number already acted upon out of order


@mypyc_attr(native_class=False)  # compiled code cannot subclass this builtin natively
class LocalProtocolError(RuntimeError):
    """We misused the session (sending before logon, for example): a bug on our side."""


class Session:
    """One FIX session: identity, sequence numbers and store, across any number of connections."""

    #: Application messages in sequence skip _dispatch/_process (same outcome; tests turn it off to
    #: compare the two paths).
    _fast_path = True

    def __init__(self, config: SessionConfig, store: SessionStore, dictionary: Dictionary) -> None:
        self.config = config
        self.store = store
        self.dictionary = dictionary
        self.state = State.DISCONNECTED
        self._framer = Framer()
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._queue: dict[int, Message | None] = {}
        self._resend_target: int | None = None  # highest seq we asked for while a resend is pending
        self._resend_chunk_end = 0
        self._resend_since = 0.0  # when our ResendRequest went out or last made progress
        self._connection_id = 0  # how many connections this session has had; the last one owns it
        self._heartbeat = float(config.heartbeat_interval)
        self._last_sent = 0.0
        self._last_received = 0.0
        self._test_requests = 0
        self._deadline_logon = 0.0
        self._deadline_logout = 0.0
        self._logout_reason = ""
        self._closing = False
        self._reset_requested = False
        self._header_config: SessionConfig | None = None  # the config _header_encoder was built for
        self._header_encoder: HeaderEncoder | None = None

    # ---- inspection -----------------------------------------------------------------------------

    @property
    def logged_on(self) -> bool:
        return self.state in (State.ACTIVE, State.LOGOUT_SENT)

    @property
    def connected(self) -> bool:
        return self.state is not State.DISCONNECTED

    @property
    def max_message_size(self) -> int:
        """Largest message accepted from the counterparty (bytes); larger ones are dropped as garbled."""
        return self._framer.max_message_size

    @max_message_size.setter
    def max_message_size(self, size: int) -> None:
        self._framer.max_message_size = size

    @property
    def heartbeat_interval(self) -> float:
        return self._heartbeat

    @property
    def connection_id(self) -> int:
        """The number of the connection the session belongs to (the count of :meth:`connection_made` calls).

        A transport notes it when its connection is made and passes it to :meth:`connection_lost`:
        the end of a connection the session has since moved on from must not end the newer one.
        """
        return self._connection_id

    def _resend_timeout(self) -> float:
        timeout = self.config.resend_request_timeout
        if timeout is None:
            return self._heartbeat if self._heartbeat > 0 else 30.0
        return timeout

    def data_to_send(self) -> bytes:
        out = b"".join(self._out)
        self._out.clear()
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timers` should next be called, or None for never."""
        state = self.state
        if state in (State.AWAITING_LOGON, State.LOGON_SENT):
            return self._deadline_logon
        if state is State.LOGOUT_SENT:
            return self._deadline_logout
        if state is not State.ACTIVE:
            return None
        candidates = []
        schedule = self.config.schedule
        if schedule is not None:
            candidates.append(schedule.current_end(self._last_received))
        if self._resend_target is not None:
            resend_timeout = self._resend_timeout()
            if resend_timeout > 0:
                candidates.append(self._resend_since + resend_timeout)
        hb = self._heartbeat
        if hb > 0:
            timeout = self._last_received + 2.4 * hb
            candidates.append(timeout)
            candidates.append(min(timeout, self._last_received + 1.2 * (self._test_requests + 1) * hb))
            if not self._test_requests:
                candidates.append(self._last_sent + hb)
        return min(candidates) if candidates else None

    # ---- connection lifecycle -------------------------------------------------------------------

    def connection_made(self, now: float) -> list[Event]:
        """A transport connected.  An initiator sends its Logon; an acceptor waits for one."""
        if self.connected:
            raise LocalProtocolError("session is already connected")
        self._connection_id += 1
        self._framer = Framer(self._framer.max_message_size)
        self._queue.clear()
        self._resend_target = None
        self._test_requests = 0
        self._closing = False
        self._reset_requested = False
        self._last_received = self._last_sent = now
        self._deadline_logon = now + self.config.logon_timeout
        self._check_schedule_reset(now)
        if self.config.role is Role.INITIATOR:
            self.state = State.LOGON_SENT
            if self.config.reset_on_logon:
                self.store.reset(format_utc_timestamp(now))
            self._send_logon(now, reset=self.config.reset_on_logon)
        else:
            self.state = State.AWAITING_LOGON
        return self._take_events()

    def connection_lost(self, now: float, connection_id: int | None = None) -> list[Event]:
        """The transport's connection ended.

        ``connection_id``: the :attr:`connection_id` noted when that connection was made.  When the
        session has been connected again since (a client that dropped TCP and logged on again at
        once, before the old connection's teardown ran), the old connection's end is not this
        session's any more and changes nothing.
        """
        if connection_id is not None and connection_id != self._connection_id:
            return []
        if self.state is State.DISCONNECTED:
            return self._take_events()
        was_logged_on = self.logged_on
        self.state = State.DISCONNECTED
        self._out.clear()
        if was_logged_on:
            self._events.append(LoggedOut(self._logout_reason or "connection lost"))
        if self.config.reset_on_disconnect:
            self.store.reset(format_utc_timestamp(now))
        self._logout_reason = ""
        return self._take_events()

    def logout(self, now: float, text: str = "") -> list[Event]:
        """Start the Logout handshake (graceful shutdown, end of the session window...).

        Nothing happens on a connection that is already closing: a Logout sent after the handshake
        completed would consume a sequence number the counterparty never sees.
        """
        if self._closing:
            return self._take_events()
        if self.state is State.ACTIVE:
            self._send_logout(now, text)
        elif self.state in (State.AWAITING_LOGON, State.LOGON_SENT):
            self._disconnect(text or "logout before logon completed")
        return self._take_events()

    def reset_sequence_numbers(self, now: float) -> list[Event]:
        """Restart both sequence numbers at 1 on a running session (in-session Logon 141=Y)."""
        if self.state is not State.ACTIVE or self._closing:
            raise LocalProtocolError("sequence numbers can only be reset on an active session")
        self.store.reset(format_utc_timestamp(now))
        self._queue.clear()
        self._resend_target = None
        self._reset_requested = True
        self._send_logon(now, reset=True)
        return self._take_events()

    # ---- input ----------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed bytes from the transport; returns the events they caused."""
        framer = self._framer
        framer.feed(data)
        while not self._closing:
            frame = framer.next_frame()
            if frame is None:
                break
            self.receive_frame(frame, now)
        return self._take_events()

    def receive_frame(self, frame: bytes | Garbled, now: float) -> None:
        if self._closing or self.state is State.DISCONNECTED:
            return
        msg = decode(frame) if isinstance(frame, bytes) else frame
        if isinstance(msg, Garbled):
            self._on_garbled(msg)
            return
        self._last_received = now
        if msg.begin_string != self.config.begin_string:
            self._on_wrong_begin_string(msg, now)
            return
        if not self.logged_on and msg.msg_type != "A" and not (
            self.state is State.LOGON_SENT and msg.msg_type == "5"
        ):
            self._events.append(Problem("not-logon", f"first message is {msg.msg_type!r}, not Logon"))
            self._disconnect("first message was not a Logon")
            return
        seq_text = msg.get(34)
        if seq_text is None or not (seq_text.isascii() and seq_text.isdigit()) or int(seq_text) >= MAX_SEQ:
            self._fatal(now, "MsgSeqNum(34) missing" if seq_text is None else f"MsgSeqNum(34) {seq_text!r} is invalid")
            return
        self._test_requests = 0
        seq = int(seq_text)
        msg_type = msg.fields[0][1]
        if (
            msg_type not in ADMIN_TYPES and not self._queue and self._resend_target is None
            and seq == self.store.next_target_seq() and self._fast_path
        ):
            # The common case, an application message in sequence with no gap pending: what
            # _dispatch -> _process would do, without their branches for the other cases.
            if self._checks_pass(msg, seq, now):
                self._advance_target(seq)
                supported = self.config.supported_app_types
                if supported is not None and msg_type not in supported:
                    self._send_business_reject(msg, now, 3, "Unsupported Message Type")
                else:
                    self._events.append(AppMessage(msg))
            return
        self._dispatch(msg, seq, now)

    def handle_timers(self, now: float) -> list[Event]:
        state = self.state
        if state in (State.AWAITING_LOGON, State.LOGON_SENT):
            if now >= self._deadline_logon:
                self._events.append(Problem("logon-timeout", "no Logon within the logon timeout"))
                self._disconnect("logon timeout")
        elif state is State.LOGOUT_SENT:
            if now >= self._deadline_logout:
                if self.config.reset_on_logout:
                    self.store.reset(format_utc_timestamp(now))
                self._disconnect("no Logout reply within the logout timeout")
        elif state is State.ACTIVE:
            schedule = self.config.schedule
            if schedule is not None and not schedule.is_in_session(now):
                self._send_logout(now, "End of session")
                return self._take_events()
            hb = self._heartbeat
            if hb > 0:
                silent = now - self._last_received
                if silent >= 2.4 * hb:
                    self._events.append(Problem("heartbeat-timeout", f"nothing received for {silent:.1f}s"))
                    self._disconnect("timed out waiting for heartbeat")
                elif silent >= 1.2 * (self._test_requests + 1) * hb:
                    self._send("1", [(112, "TEST")], now)
                    self._test_requests += 1
                elif now - self._last_sent >= hb and not self._test_requests:
                    self._send("0", [], now)
            if self._resend_target is not None and not self._closing:
                resend_timeout = self._resend_timeout()
                if resend_timeout > 0 and now >= self._resend_since + resend_timeout:
                    self._send_resend_request(self.store.next_target_seq(), now, again_after=resend_timeout)
        return self._take_events()

    # ---- output ---------------------------------------------------------------------------------

    def send(
        self,
        msg_type: str,
        body: Sequence[tuple[int, FieldValue]],
        now: float,
        header: Sequence[tuple[int, FieldValue]] = (),
    ) -> int:
        """Send an application message; returns its MsgSeqNum.

        While not logged on the message is still stored under its sequence number, and reaches the
        counterparty when it asks for a resend after the next Logon (as QuickFIX does).
        """
        if msg_type in ADMIN_TYPES:
            raise LocalProtocolError(f"{msg_type!r} is a session message; the session sends those itself")
        return self._send(msg_type, body, now, header, transmit=self.logged_on)

    # ---- dispatch -------------------------------------------------------------------------------

    def _dispatch(self, msg: Message, seq: int, now: float) -> None:
        msg_type = msg.msg_type
        if msg_type == "A":
            self._on_logon(msg, seq, now)
            return
        if msg_type == "4" and msg.get(123) != "Y":
            self._on_sequence_reset(msg, seq, now)
            self._drain_queue(now)
            return
        if msg_type in ("5", "2"):  # acted upon whatever their sequence number
            if not self._checks_pass(msg, seq, now):
                return
            if seq > self.store.next_target_seq() and msg_type == "2":
                self._queue[seq] = _CONSUMED
                self._request_resend(seq, now)
            elif seq == self.store.next_target_seq():
                self._advance_target(seq)
            if msg_type == "5":
                self._on_logout(msg, now)
            else:
                self._on_resend_request(msg, now)
                self._drain_queue(now)
            return
        expected = self.store.next_target_seq()
        if seq > expected:
            self._queue[seq] = msg
            self._request_resend(seq, now)
            return
        if seq < expected:
            self._on_too_low(msg, seq, expected, now)
            return
        self._process(msg, seq, now)
        self._drain_queue(now)

    def _drain_queue(self, now: float) -> None:
        queue = self._queue
        while queue and not self._closing:
            expected = self.store.next_target_seq()
            for stale in [s for s in queue if s < expected]:
                del queue[stale]
            if expected not in queue:
                break
            queued = queue.pop(expected)
            if queued is None:
                self._advance_target(expected)
            else:
                self._process(queued, expected, now)

    def _process(self, msg: Message, seq: int, now: float) -> None:
        """Handle a message whose MsgSeqNum is the one expected."""
        if not self._checks_pass(msg, seq, now):
            return
        self._note_resend_progress(seq, now)
        msg_type = msg.msg_type
        if msg_type == "4":  # SequenceReset-GapFill
            self._apply_new_seq_no(msg, seq, now)
            return
        self._advance_target(seq)
        if msg_type == "1":
            test_id = msg.get(112)
            self._send("0", [(112, test_id)] if test_id is not None else [], now)
        elif msg_type == "3":
            self._events.append(Problem("reject-received", f"counterparty rejected our {msg.get(45)}: {msg.get(58)}"))
        elif msg_type == "0":
            pass
        else:
            supported = self.config.supported_app_types
            if supported is not None and msg_type not in supported:
                self._send_business_reject(msg, now, 3, "Unsupported Message Type")
            else:
                self._events.append(AppMessage(msg))

    def _checks_pass(self, msg: Message, seq: int, now: float) -> bool:
        """Dictionary validation, SendingTime, CompIDs and PossDup rules; answers any failure."""
        cfg = self.config
        rejection = self.dictionary.validate(msg, cfg.validation)
        if rejection is not None:
            self._reject(msg, seq, rejection, now)
            return False
        first = msg.first_values()
        if cfg.check_latency:  # _sending_time_ok, inline
            sent = parse_utc_timestamp(first.get(52) or "")
            if sent is None or not abs(now - sent) <= cfg.max_latency:
                self._reject(msg, seq, Rejection(dd.SENDINGTIME_ACCURACY), now)
                self._send_logout(now, "")
                return False
        if first.get(49) != cfg.target_comp_id or first.get(56) != cfg.sender_comp_id:
            self._reject(msg, seq, Rejection(dd.COMPID_PROBLEM), now)
            self._send_logout(now, "")
            return False
        if first.get(43) == "Y" and msg.msg_type != "4":
            return self._poss_dup_ok(msg, seq, now)
        return True

    def _poss_dup_ok(self, msg: Message, seq: int, now: float) -> bool:
        orig = msg.get(122)
        if orig is None:
            self._reject(msg, seq, Rejection(dd.REQUIRED_TAG_MISSING, 122), now)
            return False
        orig_time = parse_utc_timestamp(orig)
        sending_time = parse_utc_timestamp(msg.get(52) or "")
        if orig_time is not None and sending_time is not None and orig_time > sending_time:
            self._reject(msg, seq, Rejection(dd.SENDINGTIME_ACCURACY), now)
            self._send_logout(now, "")
            return False
        return True

    def _sending_time_ok(self, msg: Message, now: float) -> bool:
        if not self.config.check_latency:
            return True
        sent = parse_utc_timestamp(msg.get(52) or "")
        return sent is not None and abs(now - sent) <= self.config.max_latency

    def _on_too_low(self, msg: Message, seq: int, expected: int, now: float) -> None:
        if msg.get(43) != "Y":
            self._fatal(now, f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        if msg.msg_type != "4" and not self._poss_dup_ok(msg, seq, now):
            return
        # A duplicate of something already processed: ignore it.

    def _fatal(self, now: float, text: str) -> None:
        self._events.append(Problem("fatal", text))
        if self.logged_on:
            self._send("5", [(58, text)], now)
        self._disconnect(text)

    # ---- logon / logout -------------------------------------------------------------------------

    def _on_logon(self, msg: Message, seq: int, now: float) -> None:
        cfg = self.config
        if self.state is State.ACTIVE and msg.get(141) != "Y":
            self._fatal(now, "Logon received while already logged on")
            return
        rejection = self.dictionary.validate(msg, cfg.validation)
        problem = None
        if rejection is not None:
            problem = f"invalid Logon: {rejection.text} ({rejection.tag})"
        elif msg.get(49) != cfg.target_comp_id or msg.get(56) != cfg.sender_comp_id:
            problem = (f"Logon from {msg.get(49)}->{msg.get(56)} does not match "
                       f"{cfg.target_comp_id}->{cfg.sender_comp_id}")
        elif not self._sending_time_ok(msg, now):
            problem = f"Logon SendingTime {msg.get(52)} is not within {cfg.max_latency:g}s of now"
        elif cfg.schedule is not None and not cfg.schedule.is_in_session(now):
            problem = "Logon outside the session schedule"
        hbi_text = msg.get(108, "")
        if problem is None and (hbi_text is None or not hbi_text.isdigit()):
            problem = "Logon without a valid HeartBtInt(108)"
        if problem is not None:
            self._events.append(Problem("logon-refused", problem))
            self._disconnect(problem)
            return
        if cfg.role is Role.ACCEPTOR and cfg.username is not None and (
            msg.get(553) != cfg.username or msg.get(554) != cfg.password
        ):
            self._events.append(Problem("logon-refused", f"bad credentials for user {msg.get(553)!r}"))
            self._send("5", [(58, "Invalid username or password")], now)
            self._disconnect("bad credentials")
            return
        peer_reset = msg.get(141) == "Y"
        acknowledging = self._reset_requested and self.state is State.ACTIVE and peer_reset
        self._reset_requested = False
        # We answer a Logon when we are the acceptor, and also, in either role, when the counterparty
        # resets the sequence numbers of a running session with an in-session Logon 141=Y
        # (unless that Logon answers our own reset request).
        answering = not acknowledging and (cfg.role is Role.ACCEPTOR or self.state is State.ACTIVE)
        if answering:
            if peer_reset or (cfg.reset_on_logon and self.state is not State.ACTIVE):
                self.store.reset(format_utc_timestamp(now))
                self._queue.clear()
                self._resend_target = None
        elif self.state is not State.LOGON_SENT and not acknowledging:
            self._fatal(now, "unexpected Logon")
            return
        elif peer_reset and self.store.next_sender_seq() != 2 and not acknowledging:
            self.store.reset(format_utc_timestamp(now))
            self.store.set_next_sender_seq(2)
        expected = self.store.next_target_seq()
        if seq < expected:
            text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
            self._events.append(Problem("fatal", text))
            self._send("5", [(58, text)], now)
            self._disconnect(text)
            return
        if answering:
            self._heartbeat = float(int(hbi_text or "0"))
            self.state = State.ACTIVE
            self._send_logon(now, reset=peer_reset)
        self.state = State.ACTIVE
        self._events.append(LoggedOn(reset=peer_reset or cfg.reset_on_logon))
        if seq > expected:
            self._queue[seq] = _CONSUMED
            self._request_resend(seq, now)
        else:
            self._advance_target(seq)

    def _send_logon(self, now: float, reset: bool) -> None:
        body: list[tuple[int, FieldValue]] = [(98, 0), (108, int(self._heartbeat))]
        if reset:
            body.append((141, "Y"))
        cfg = self.config
        if cfg.role is Role.INITIATOR and cfg.username is not None:
            body.append((553, cfg.username))
            if cfg.password is not None:
                body.append((554, cfg.password))
        self._send("A", body, now)

    def _on_logout(self, msg: Message, now: float) -> None:
        text = msg.get(58) or ""
        if self.state is State.LOGOUT_SENT:
            self._logout_reason = self._logout_reason or "logout completed"
        else:
            self._logout_reason = f"counterparty logged out{': ' + text if text else ''}"
            self._send("5", [], now)
        if self.config.reset_on_logout:
            self.store.reset(format_utc_timestamp(now))
        self._disconnect(self._logout_reason)

    def _send_logout(self, now: float, text: str) -> None:
        if self.state is State.LOGOUT_SENT or self._closing:
            return
        self._send("5", [(58, text)] if text else [], now)
        self.state = State.LOGOUT_SENT
        self._logout_reason = text or "we logged out"
        self._deadline_logout = now + self.config.logout_timeout

    def _on_wrong_begin_string(self, msg: Message, now: float) -> None:
        self._events.append(Problem("begin-string", f"BeginString {msg.begin_string!r}"))
        if not self.logged_on:
            self._disconnect("wrong BeginString before Logon")
            return
        if msg.msg_type == "5":
            self._on_logout(msg, now)
            return
        seq = msg.get(34)
        if seq is not None and seq.isascii() and seq.isdigit() and int(seq) == self.store.next_target_seq() < MAX_SEQ:
            self._advance_target(int(seq))
        self._send_logout(now, "Incorrect BeginString")

    # ---- sequence numbers -----------------------------------------------------------------------

    def _advance_target(self, seq: int) -> None:
        self.store.set_next_target_seq(seq + 1)

    def _on_sequence_reset(self, msg: Message, seq: int, now: float) -> None:
        """SequenceReset-Reset: MsgSeqNum is ignored, NewSeqNo is the truth (unless it goes back)."""
        if self._checks_pass(msg, seq, now):
            self._apply_new_seq_no(msg, seq, now)

    def _apply_new_seq_no(self, msg: Message, seq: int, now: float) -> None:
        new_text = msg.get(36) or ""
        new = int(new_text) if new_text.isdigit() else 0
        expected = self.store.next_target_seq()
        if new > MAX_SEQ:
            self._reject(msg, seq, Rejection(dd.VALUE_OUT_OF_RANGE, 36), now)
        elif new > expected:
            self.store.set_next_target_seq(new)
            self._note_resend_progress(new - 1, now)
        elif new < expected:
            self._reject(msg, seq, Rejection(dd.VALUE_OUT_OF_RANGE), now)

    def _request_resend(self, seq: int, now: float) -> None:
        """Ask for what is missing before ``seq`` unless an outstanding request already covers it."""
        if self._resend_target is not None:
            self._resend_target = max(self._resend_target, seq - 1)
            return
        begin = self.store.next_target_seq()
        self._resend_target = seq - 1
        self._send_resend_request(begin, now)

    def _send_resend_request(self, begin: int, now: float, again_after: float = 0.0) -> None:
        """Ask for ``begin`` onwards (one chunk of it if chunked).

        ``again_after``: this repeats a request that nothing answered for that many seconds (the
        counterparty's GapFill or resent messages lost on the way, or garbled and dropped): without
        asking again the session would queue everything after the gap forever.
        """
        chunk = self.config.resend_request_chunk_size
        target = self._resend_target or begin
        end = 0 if chunk <= 0 else min(begin + chunk - 1, target)
        self._resend_chunk_end = end
        self._resend_since = now
        if again_after:
            self._events.append(Problem("resend-timeout", f"nothing filled the gap for {again_after:g}s; "
                                        f"requesting resend of {begin}..{end or 'infinity'} again"))
        else:
            self._events.append(Problem("gap", f"requesting resend of {begin}..{end or 'infinity'}"))
        self._send("2", [(7, begin), (16, end)], now)

    def _note_resend_progress(self, seq: int, now: float) -> None:
        target = self._resend_target
        if target is None:
            return
        self._resend_since = now  # progress: the timeout counts from the last message that filled some of it
        if seq >= target:
            self._resend_target = None
        elif self._resend_chunk_end and seq >= self._resend_chunk_end:
            self._send_resend_request(seq + 1, now)

    def _on_resend_request(self, msg: Message, now: float) -> None:
        begin = min(int(msg.get(7) or "0"), MAX_SEQ)
        end = min(int(msg.get(16) or "0"), MAX_SEQ)
        last = self.store.next_sender_seq() - 1
        if end == 0 or end > last:
            end = last
        if begin < 1 or begin > end:
            self._events.append(Problem("resend", f"nothing to resend for {msg.get(7)}..{msg.get(16)}"))
            return
        gap_start: int | None = None
        cursor = begin
        for seq, raw in self.store.get_sent(begin, end):
            stored = decode(raw)
            if seq > cursor and gap_start is None:
                gap_start = cursor
            if isinstance(stored, Garbled) or stored.msg_type in ADMIN_TYPES:
                if gap_start is None:
                    gap_start = seq
            else:
                if gap_start is not None:
                    self._send_gap_fill(gap_start, seq, now)
                    gap_start = None
                self._resend(stored, seq, now)
            cursor = seq + 1
        if gap_start is None and cursor <= end:
            gap_start = cursor
        if gap_start is not None:
            self._send_gap_fill(gap_start, end + 1, now)

    def _send_gap_fill(self, seq: int, new_seq: int, now: float) -> None:
        stamp = format_utc_timestamp(now)
        self._out.append(
            encode(
                self.config.begin_string,
                "4",
                [(34, seq), (43, "Y"), (49, self.config.sender_comp_id), (52, stamp),
                 (56, self.config.target_comp_id), (122, stamp)],
                [(36, new_seq), (123, "Y")],
            )
        )
        self._last_sent = now

    def _resend(self, stored: Message, seq: int, now: float) -> None:
        header_tags = self.dictionary.header_tags
        fields = stored.fields
        i = 1
        extra: list[tuple[int, FieldValue]] = []
        while i < len(fields) and fields[i][0] in header_tags:
            tag, value = fields[i]
            if tag not in _SESSION_HEADER:
                extra.append((tag, value))
            i += 1
        orig = stored.get(52) or format_utc_timestamp(now)
        header: list[tuple[int, FieldValue]] = [
            (34, seq), (43, "Y"), (49, self.config.sender_comp_id), (52, format_utc_timestamp(now)),
            (56, self.config.target_comp_id), (122, orig), *extra,
        ]
        self._out.append(encode(self.config.begin_string, stored.msg_type, header, fields[i:]))
        self._last_sent = now

    # ---- rejects --------------------------------------------------------------------------------

    def _reject(self, msg: Message, seq: int, rejection: Rejection, now: float) -> None:
        msg_type = msg.msg_type
        if msg_type not in ("A", "4") and seq == self.store.next_target_seq():
            self._advance_target(seq)
        body: list[tuple[int, FieldValue]] = []
        ref_seq = msg.get(34)
        if ref_seq:
            body.append((45, ref_seq))
        body.append((58, rejection.text))
        if rejection.tag is not None:
            body.append((371, rejection.tag))
        body.append((372, msg_type))
        body.append((373, rejection.reason))
        self._events.append(
            Problem("reject", f"{rejection.text} (tag {rejection.tag}) in {msg_type} #{ref_seq}")
        )
        self._send("3", body, now, reverse_route(msg))

    def _send_business_reject(self, msg: Message, now: float, reason: int, text: str) -> None:
        body: list[tuple[int, FieldValue]] = []
        ref_seq = msg.get(34)
        if ref_seq:
            body.append((45, ref_seq))
        body += [(58, text), (372, msg.msg_type), (380, reason)]
        self._events.append(Problem("business-reject", f"{text}: {msg.msg_type} #{ref_seq}"))
        self._send("j", body, now, reverse_route(msg))

    def business_reject(self, msg: Message, now: float, reason: int, text: str) -> None:
        """Answer an application message with BusinessMessageReject (for the application's use)."""
        self._send_business_reject(msg, now, reason, text)

    def _on_garbled(self, garbled: Garbled) -> None:
        self._events.append(Problem("garbled", garbled.reason))
        if not self.logged_on and self.config.role is Role.ACCEPTOR:
            self._disconnect("garbled data before Logon")

    # ---- plumbing -------------------------------------------------------------------------------

    def _send(
        self,
        msg_type: str,
        body: Sequence[tuple[int, FieldValue]],
        now: float,
        extra_header: Sequence[tuple[int, FieldValue]] = (),
        transmit: bool = True,
    ) -> int:
        store = self.store
        seq = store.next_sender_seq()
        cfg = self.config
        head = self._header_encoder
        if self._header_config is not cfg:
            head = self._header_encoder = HeaderEncoder(cfg.begin_string, cfg.sender_comp_id, cfg.target_comp_id)
            self._header_config = cfg
        extra = [f for f in extra_header if f[0] not in _SESSION_HEADER] if extra_header else None
        if not extra and head is not None and head.usable:
            # The same bytes as the general path below, with the constant header rendered once.
            raw = head.encode(msg_type, seq, format_utc_timestamp(now), body)
        else:
            header: list[tuple[int, FieldValue]] = [
                (34, seq), (49, cfg.sender_comp_id), (52, format_utc_timestamp(now)), (56, cfg.target_comp_id),
            ]
            if extra:
                header.extend(extra)
            raw = encode(cfg.begin_string, msg_type, header, body)
        store.save_sent(seq, raw)
        if transmit:
            self._out.append(raw)
            self._last_sent = now
        return seq

    def _disconnect(self, reason: str) -> None:
        if not self._closing:
            self._closing = True
            self._logout_reason = self._logout_reason or reason
            self._events.append(Disconnect(reason))

    def _check_schedule_reset(self, now: float) -> None:
        """A new session period (QuickFIX: a new StartTime) starts with fresh sequence numbers."""
        schedule = self.config.schedule
        if schedule is None:
            return
        created = self.store.creation_time()
        created_at = parse_utc_timestamp(created) if created else None
        if created_at is None or not schedule.same_period(created_at, now):
            self.store.reset(format_utc_timestamp(now))

    def _take_events(self) -> list[Event]:
        events = self._events
        self._events = []
        return events


def reverse_route(msg: Message) -> list[tuple[int, FieldValue]]:
    """Routing fields for a reply: OnBehalfOf* becomes DeliverTo* and vice versa (empty ones dropped)."""
    routed: list[tuple[int, FieldValue]] = []
    for tag, value in msg.fields:
        target = _REVERSE_ROUTE.get(tag)
        if target is not None and value:
            routed.append((target, value))
    return routed

