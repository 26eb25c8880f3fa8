"""Helpers for driving sans-IO FIX sessions in unit tests (no sockets, no sleeps, no clock).

Two sessions are wired back to back the h11/h2 way: what one side has to send is fed to the other
(:func:`pump`), with ``now`` given explicitly.  One side can also be driven with hand-made frames
(:func:`frame`) and its output read back as decoded messages (:func:`sent`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from metaorder.fix.codec import (
    FieldValue,
    Framer,
    Garbled,
    Message,
    checksum,
    decode,
    encode,
    format_utc_timestamp,
)
from metaorder.fix.dictionary import Dictionary
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.session import Event, Role, Session, SessionConfig
from metaorder.fix.store import MemoryStore, SessionStore

#: 2023-11-14 22:13:20 UTC: a fixed "now" for every test.
T0 = 1_700_000_000.0

ACCEPTOR_ID = "ACC"
INITIATOR_ID = "INI"


@functools.cache
def fix44() -> Dictionary:
    """metaorder's built-in FIX 4.4 dictionary, the one the daemon runs with.

    No fallback to QuickFIX's FIX44.xml: a built-in dictionary that fails to build must fail the
    session tests loudly, not let them pass against a different dictionary.
    """
    return builtin_fix44()


def config(role: Role = Role.ACCEPTOR, **overrides: Any) -> SessionConfig:
    """A session config: the acceptor is ACC talking to INI, the initiator INI talking to ACC."""
    if role is Role.ACCEPTOR:
        ids = {"sender_comp_id": ACCEPTOR_ID, "target_comp_id": INITIATOR_ID}
    else:
        ids = {"sender_comp_id": INITIATOR_ID, "target_comp_id": ACCEPTOR_ID}
    return SessionConfig(**{**ids, "role": role, **overrides})


def acceptor(store: SessionStore | None = None, **overrides: Any) -> Session:
    return Session(config(Role.ACCEPTOR, **overrides), store or MemoryStore(), fix44())


def initiator(store: SessionStore | None = None, **overrides: Any) -> Session:
    return Session(config(Role.INITIATOR, **overrides), store or MemoryStore(), fix44())


@dataclass
class Pumped:
    """What a :func:`pump` delivered: events of each side and the messages that crossed."""

    a_events: list[Event] = field(default_factory=list)
    b_events: list[Event] = field(default_factory=list)
    a_to_b: list[Message] = field(default_factory=list)
    b_to_a: list[Message] = field(default_factory=list)


def pump(a: Session, b: Session, now: float, max_rounds: int = 100) -> Pumped:
    """Deliver pending output both ways until neither side has anything left to send."""
    result = Pumped()
    for _ in range(max_rounds):
        out_a = a.data_to_send()
        out_b = b.data_to_send()
        if not out_a and not out_b:
            return result
        if out_a:
            result.a_to_b += messages(out_a)
            result.b_events += b.receive_data(out_a, now)
        if out_b:
            result.b_to_a += messages(out_b)
            result.a_events += a.receive_data(out_b, now)
    raise AssertionError(f"sessions still talking after {max_rounds} rounds")


def connect(ini: Session, acc: Session, now: float) -> Pumped:
    """Both transports connect (acceptor first), then the Logon exchange runs to completion."""
    result = Pumped()
    result.b_events += acc.connection_made(now)
    result.a_events += ini.connection_made(now)
    pumped = pump(ini, acc, now)
    result.a_events += pumped.a_events
    result.b_events += pumped.b_events
    result.a_to_b += pumped.a_to_b
    result.b_to_a += pumped.b_to_a
    return result


def close(a: Session, b: Session, now: float) -> tuple[list[Event], list[Event]]:
    """Both ends see the connection go (after the last bytes were delivered by :func:`pump`)."""
    return a.connection_lost(now), b.connection_lost(now)


def frame(
    msg_type: str,
    seq: int,
    body: Sequence[tuple[int, FieldValue]] = (),
    now: float = T0,
    *,
    sender: str = INITIATOR_ID,
    target: str = ACCEPTOR_ID,
    header: Iterable[tuple[int, FieldValue]] = (),
    begin_string: str = "FIX.4.4",
) -> bytes:
    """A hand-made frame from the initiator's side (by default) with a correct standard header."""
    head: list[tuple[int, FieldValue]] = [(34, seq), (49, sender), (52, format_utc_timestamp(now)), (56, target)]
    head += header
    return encode(begin_string, msg_type, head, body)


def refit(raw: bytes) -> bytes:
    """``raw`` after hand edits: BodyLength and CheckSum made right again."""
    begin, _, rest = raw.split(b"\x01", 2)
    body = rest[: rest.rindex(b"10=")]
    head = begin + b"\x019=%d\x01" % len(body) + body
    return head + b"10=%03d\x01" % checksum(head)


def logon(
    seq: int = 1, now: float = T0, hbi: int = 30, extra: Sequence[tuple[int, FieldValue]] = (), **kw: Any
) -> bytes:
    return frame("A", seq, [(98, 0), (108, hbi), *extra], now, **kw)


def order(seq: int, now: float = T0, cl_ord_id: str = "ORD1", **kw: Any) -> bytes:
    """A valid NewOrderSingle."""
    return frame("D", seq, order_body(cl_ord_id, now), now, **kw)


def order_body(cl_ord_id: str = "ORD1", now: float = T0) -> list[tuple[int, FieldValue]]:
    return [(11, cl_ord_id), (55, "IBM"), (54, "1"), (60, format_utc_timestamp(now)), (38, 100), (40, "1")]


def execution_report(exec_id: str = "E1") -> list[tuple[int, FieldValue]]:
    """A valid ExecutionReport body (what an acceptor sends)."""
    return [(37, "O1"), (17, exec_id), (150, "0"), (39, "0"), (55, "IBM"), (54, "1"), (151, 100), (14, 0), (6, 0)]


def messages(data: bytes) -> list[Message]:
    """Every message in ``data``; anything garbled fails the test."""
    framer = Framer()
    framer.feed(data)
    out: list[Message] = []
    while (cut := framer.next_frame()) is not None:
        assert not isinstance(cut, Garbled), cut
        msg = decode(cut)
        assert not isinstance(msg, Garbled), msg
        out.append(msg)
    assert framer.buffered == 0, "trailing partial frame"
    return out


def sent(session: Session) -> list[Message]:
    """Decode and take everything the session has to send."""
    return messages(session.data_to_send())


def types(msgs: Iterable[Message]) -> list[str]:
    return [m.msg_type for m in msgs]


def of_type(events: Iterable[object], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def logged_on_acceptor(**overrides: Any) -> Session:
    """An acceptor that has accepted INI's Logon (seq 1) and whose Logon reply was taken."""
    acc = acceptor(**overrides)
    acc.connection_made(T0)
    acc.receive_data(logon(1), T0)
    reply = sent(acc)
    assert types(reply) == ["A"], reply
    return acc
