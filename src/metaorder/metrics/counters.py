"""The counters the hot path keeps: plain ints and dicts, read by the collector at scrape time.

Nothing here knows Prometheus.  Every method on the order path costs a dict increment or two: the
intake's latency budget (issue 17: p99 ≤ 0.5 ms at 5k orders/s) has no room for metric objects,
label lookups or locks, and it needs none: everything runs on the event loop's one thread, and the
scrape runs there too.

Messages in and out are counted per session and MsgType on the wire (:class:`WireTap`), where every
message passes, administrative ones included (Heartbeats, ResendRequests, session Rejects), which
the sans-IO session never hands to the application.  Reading MsgType off the bytes needs no
decoding: it is the third field of every message, right after BodyLength, so ``SOH 35=`` marks it.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Final

from metaorder.fix.session import Session
from metaorder.orders.book import INTERNAL
from metaorder.orders.messages import ExecutionReport, NoOrderReport, Outgoing, ReportKind

_TYPE: Final = b"\x0135="  # the MsgType field; tag 35 and no other starts with SOH 3 5 =
_SOH: Final = b"\x01"
_TRAILER: Final = b"\x0110="  # CheckSum: the end of a message's body
#: The reason field of the messages whose reasons are counted: session Reject, BusinessMessageReject.
_REASON_TAG: Final = {b"3": b"\x01373=", b"j": b"\x01380="}
#: Bytes kept from one read to the next while a message's MsgType or reject reason is incomplete;
#: more than this without its end is not FIX we can count (it is counted with reason "unknown").
_MAX_CARRY: Final = 65536

_FILL: Final = ReportKind.FILL.value
_REJECTED: Final = ReportKind.REJECTED.value

#: Upper bounds (seconds) of the NewOrderSingle → acknowledgement latency histogram: the intake's
#: target is 0.5 ms at the 99th percentile, so the buckets are finest there.
ACK_LATENCY_BUCKETS: Final = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                              1.0, 2.5)


class SessionCounts:
    """One FIX session's traffic: messages by MsgType each way, and the reasons of the rejects.

    Keys are the raw bytes off the wire (MsgType, SessionRejectReason, BusinessRejectReason): the
    collector decodes them at scrape time, not the hot path at every message.
    """

    __slots__ = ("business_rejects", "received", "sent", "session_rejects")

    def __init__(self) -> None:
        self.received: dict[bytes, int] = {}
        self.sent: dict[bytes, int] = {}
        self.session_rejects: dict[tuple[str, bytes], int] = {}  # (direction "in"/"out", 373) -> count
        self.business_rejects: dict[tuple[str, bytes], int] = {}  # (direction, 380) -> count

    def tap(self) -> WireTap:
        """A tap for one connection of this session (each connection has its own partial input)."""
        return WireTap(self)


class WireTap:
    """Counts the messages of one connection from its bytes, each way (the transport calls it).

    Output comes in whole messages (the session encodes them); input comes as the socket delivers
    it, so a MsgType or a reject's reason cut by a read boundary is kept for the next read.

    The fast path counts whole buffers in C: ``bytes.count`` of ``SOH 35=`` for the total, then of
    ``SOH 35=<type> SOH`` for each type this connection has already seen, most frequent first, until
    they add up (one read of 80 NewOrderSingles: two passes over 16 KB, about 0.2 µs a message).
    A buffer with a type not seen yet, or with a reject (whose reason is wanted too), is walked
    message by message instead (:func:`_scan`), which also learns its types.
    """

    __slots__ = ("_carry", "_counts", "_hot_in", "_hot_out")

    def __init__(self, counts: SessionCounts) -> None:
        self._counts = counts
        self._carry = b""
        self._hot_in: list[tuple[bytes, bytes]] = []  # (MsgType, its pattern) seen in input, most frequent first
        self._hot_out: list[tuple[bytes, bytes]] = []

    def received(self, data: bytes) -> None:
        carry = self._carry
        buf = carry + data if carry else data
        last = buf.rfind(_TYPE)
        if last < 0:  # no MsgType here (a read inside a long message): keep what could start one
            self._carry = buf[-3:]
            return
        end = len(buf)
        if buf.find(_SOH, last + 4) < 0:
            end = last  # the last MsgType is cut by the read: counted with the next one
        counts = self._counts
        if not _count_hot(buf, end, self._hot_in, counts.received):
            rest = _scan(buf, counts.received, counts.session_rejects, counts.business_rejects, "in")
            self._hot_in = _hot(counts.received)
            if rest >= 0:
                end = rest
        if end < len(buf):
            self._carry = buf[end:] if len(buf) - end <= _MAX_CARRY else b""
        else:  # nothing cut: keep what could start a MsgType field (at most SOH 3 5)
            self._carry = buf[-3:]

    def sent(self, data: bytes) -> None:
        counts = self._counts
        if not _count_hot(data, len(data), self._hot_out, counts.sent):
            _scan(data, counts.sent, counts.session_rejects, counts.business_rejects, "out")
            self._hot_out = _hot(counts.sent)


def _count_hot(buf: bytes, end: int, hot: list[tuple[bytes, bytes]], counts: dict[bytes, int]) -> bool:
    """Count ``buf[:end]`` by the known types only; False (nothing counted) if they do not cover it."""
    remaining = buf.count(_TYPE, 0, end)
    if not hot:
        return remaining == 0
    found: list[tuple[bytes, int]] = []
    for msg_type, pattern in hot:
        if not remaining:
            break
        n = buf.count(pattern, 0, end)
        if n:
            found.append((msg_type, n))
            remaining -= n
    if remaining:
        return False
    for msg_type, n in found:
        counts[msg_type] += n
    return True


def _hot(counts: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The types the fast path looks for: every type counted so far but rejects, most frequent first."""
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    return [(t, _TYPE + t + _SOH) for t, _ in ranked if t not in _REASON_TAG]


def _scan(buf: bytes, counts: dict[bytes, int], session_rejects: dict[tuple[str, bytes], int],
          business_rejects: dict[tuple[str, bytes], int], direction: str) -> int:
    """Count every complete MsgType in ``buf``; the index of an incomplete one (-1: none)."""
    find = buf.find
    pos = find(_TYPE)
    while pos >= 0:
        start = pos + 4
        end = find(_SOH, start)
        if end < 0:
            return pos
        msg_type = buf[start:end]
        reason_tag = _REASON_TAG.get(msg_type)
        if reason_tag is not None:  # rare: a reject, whose reason is counted too
            stop = find(_TRAILER, end)
            if stop < 0:
                return pos
            reason = _field(buf, reason_tag, end, stop)
            rejects = session_rejects if msg_type == b"3" else business_rejects
            key = (direction, reason)
            rejects[key] = rejects.get(key, 0) + 1
        counts[msg_type] = counts.get(msg_type, 0) + 1
        pos = find(_TYPE, end)
    return -1


def _field(buf: bytes, tag: bytes, start: int, stop: int) -> bytes:
    at = buf.find(tag, start, stop)
    if at < 0:
        return b""
    at += len(tag)
    end = buf.find(_SOH, at, stop + 1)
    return buf[at:end] if end >= 0 else b""


class Histogram:
    """Counts per bucket and their sum, Prometheus-style, without Prometheus on the hot path."""

    __slots__ = ("bounds", "buckets", "count", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.buckets[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[int]:
        """Counts at or below each bound, then the total (+Inf), as the exposition format has them."""
        out: list[int] = []
        total = 0
        for n in self.buckets:
            total += n
            out.append(total)
        return out


class OmsCounts:
    """What the OMS sessions were told, counted as the reports leave the intake (the OMS shell)."""

    __slots__ = ("ack_latency", "internal_fills", "order_rejects", "reports")

    def __init__(self) -> None:
        self.reports: dict[str, int] = {}  # ExecType (150) value -> execution reports sent
        self.order_rejects: dict[str, int] = {}  # OrdRejReason (103) -> refused orders
        self.internal_fills = 0  # client fills from internal crosses (two per cross: one each side)
        self.ack_latency = Histogram(ACK_LATENCY_BUCKETS)

    def count_reports(self, outs: Sequence[Outgoing]) -> None:
        """Count the reports of one shipment by ExecType, refusals by OrdRejReason (cancel rejects,
        35=9, are counted on the wire)."""
        reports = self.reports
        for out in outs:
            report = out.report
            if type(report) is ExecutionReport:
                exec_type = report.kind._value_
                reports[exec_type] = reports.get(exec_type, 0) + 1
                if exec_type == _FILL and report.last_mkt == INTERNAL:
                    self.internal_fills += 1
            elif type(report) is NoOrderReport:
                exec_type = report.kind._value_
                reports[exec_type] = reports.get(exec_type, 0) + 1
                if exec_type == _REJECTED:
                    reason = "none" if report.reason is None else str(int(report.reason))
                    self.order_rejects[reason] = self.order_rejects.get(reason, 0) + 1


class VenueCounts:
    """The engine's traffic with each venue, counted in the venue gateway."""

    __slots__ = ("child_rejects", "children_sent", "fills", "shares")

    def __init__(self) -> None:
        self.children_sent: dict[str, int] = {}  # venue -> NewOrderSingles sent
        self.child_rejects: dict[str, int] = {}  # venue -> child orders it rejected (150=8)
        self.fills: dict[str, int] = {}  # venue -> executions counted
        self.shares: dict[str, int] = {}  # venue -> shares executed


class Counters:
    """Every counter of one daemon: per FIX session, the OMS side and the venue side."""

    def __init__(self) -> None:
        self.sessions: dict[str, SessionCounts] = {}  # counterparty CompID -> its traffic
        self.oms = OmsCounts()
        self.venues = VenueCounts()

    def session(self, counterparty: str) -> SessionCounts:
        counts = self.sessions.get(counterparty)
        if counts is None:
            counts = self.sessions[counterparty] = SessionCounts()
        return counts

    def tap(self, session: Session) -> WireTap:
        """A new connection's tap, counting into its session's counters (the transport's ``tap``)."""
        return self.session(session.config.target_comp_id).tap()
