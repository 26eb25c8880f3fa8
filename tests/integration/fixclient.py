"""A tiny blocking FIX 4.4 client for integration tests.

It has its own encoder and frame reader on purpose: nothing here comes from ``metaorder.fix``, so a
bug in metaorder's codec cannot hide itself by being on both ends of the wire.  It can also produce
the broken frames (wrong BodyLength, wrong CheckSum, fields that are not ``tag=value``) a real codec
refuses to write.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

SOH = b"\x01"
BEGIN = "FIX.4.4"

Fields = Sequence[tuple[int, object]]


def utc_timestamp(when: datetime | None = None) -> str:
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%d-%H:%M:%S.%f")
    return stamp[:-3]


def encode(
    msg_type: str,
    fields: Iterable[tuple[int, object]],
    *,
    begin_string: str = BEGIN,
    length_error: int = 0,
    checksum_error: int = 0,
    raw_fields: Iterable[bytes] = (),
) -> bytes:
    """A frame: 8, 9, 35, ``fields`` in the order given, then ``raw_fields`` verbatim, then 10.

    ``length_error`` and ``checksum_error`` are added to the correct BodyLength and CheckSum (to build
    broken frames); ``raw_fields`` may be anything (a field that is not ``tag=value``...).
    """
    body = b"".join(f"{tag}={value}".encode("latin-1") + SOH for tag, value in [(35, msg_type), *fields])
    body += b"".join(raw + SOH for raw in raw_fields)
    head = f"8={begin_string}\x019={len(body) + length_error}\x01".encode("latin-1")
    total = (sum(head) + sum(body) + checksum_error) % 256
    return head + body + b"10=%03d\x01" % total


def new_order_fields(cl_ord_id: str, symbol: str = "IBM", text: str | None = None) -> list[tuple[int, object]]:
    fields: list[tuple[int, object]] = [
        (11, cl_ord_id), (21, 1), (55, symbol), (54, 1), (60, utc_timestamp()), (38, 100), (40, 2), (44, "10.5"),
    ]
    if text is not None:
        fields.append((58, text))
    return fields


class Frame:
    """A message read from the wire (checked: BodyLength and CheckSum are right)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.fields = [
            (int(tag), value)
            for tag, _, value in (part.partition("=") for part in raw.decode("latin-1").split("\x01")[:-1])
        ]

    def get(self, tag: int) -> str | None:
        for t, v in self.fields:
            if t == tag:
                return v
        return None

    @property
    def msg_type(self) -> str:
        return self.fields[2][1]

    @property
    def seq(self) -> int:
        return int(self.get(34) or "0")

    def body(self, header_tags: frozenset[int] = frozenset({8, 9, 35, 34, 43, 49, 52, 56, 97, 122, 10})) -> list[
            tuple[int, str]]:
        return [(t, v) for t, v in self.fields if t not in header_tags]

    def __repr__(self) -> str:
        text = self.raw.replace(SOH, b"|").decode("latin-1")
        return f"Frame({text if len(text) <= 400 else text[:300] + '...' + text[-60:]})"


class Closed(Exception):
    """The server closed the connection (orderly close or reset)."""

    def __init__(self, reset: bool, frames: list[Frame]) -> None:
        super().__init__("connection reset" if reset else "connection closed")
        self.reset = reset
        self.frames = frames


class FixClient:
    """One TCP connection speaking FIX as ``sender`` -> ``target``.  Every read has a timeout."""

    def __init__(
        self,
        port: int,
        sender: str = "TW44",
        target: str = "ISLD",
        *,
        host: str = "127.0.0.1",
        begin_string: str = BEGIN,
        timeout: float = 10.0,
        rcvbuf: int | None = None,
        sndbuf: int | None = None,
    ) -> None:
        self.sender = sender
        self.target = target
        self.begin_string = begin_string
        self.timeout = timeout
        self.next_seq = 1
        self.received: list[Frame] = []
        self._buf = bytearray()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            if rcvbuf is not None:  # before connect(), so the window is small from the start
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if sndbuf is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(timeout)
            sock.connect((host, port))
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def __enter__(self) -> FixClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    # ---- sending ------------------------------------------------------------------------------

    def build(
        self,
        msg_type: str,
        body: Fields = (),
        *,
        seq: int | None = None,
        header: Fields = (),
        length_error: int = 0,
        checksum_error: int = 0,
        raw_fields: Iterable[bytes] = (),
    ) -> bytes:
        """Encode a message with our header; takes the next sequence number unless ``seq`` is given."""
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
        fields = [(34, seq), (49, self.sender), (52, utc_timestamp()), (56, self.target), *header, *body]
        return encode(msg_type, fields, begin_string=self.begin_string, length_error=length_error,
                      checksum_error=checksum_error, raw_fields=raw_fields)

    def send(self, msg_type: str, body: Fields = (), *, seq: int | None = None, header: Fields = ()) -> int:
        if seq is None:
            seq = self.next_seq
            self.next_seq += 1
        self.sock.sendall(self.build(msg_type, body, seq=seq, header=header))
        return seq

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    # ---- receiving ----------------------------------------------------------------------------

    def _frame(self) -> Frame | None:
        buf = self._buf
        start = buf.find(b"8=FIX")
        if start < 0:
            return None
        if start:
            raise AssertionError(f"server sent garbage: {bytes(buf[:start])!r}")
        first = buf.find(SOH)
        second = buf.find(SOH, first + 1)
        if first < 0 or second < 0:
            return None
        assert buf[first + 1 : first + 3] == b"9=", bytes(buf)
        length = int(buf[first + 3 : second])
        end = second + 1 + length + 7  # "10=nnn<SOH>"
        if len(buf) < end:
            return None
        raw = bytes(buf[:end])
        assert raw[end - 7 : end - 4] == b"10=", f"BodyLength is wrong in {raw!r}"
        assert int(raw[end - 4 : end - 1]) == sum(raw[: end - 7]) % 256, f"CheckSum is wrong in {raw!r}"
        del buf[:end]
        return Frame(raw)

    def receive(self, timeout: float | None = None) -> Frame:
        """The next message; raises :class:`Closed` if the connection ends, TimeoutError if nothing comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            frame = self._frame()
            if frame is not None:
                self.received.append(frame)
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message within the timeout")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                raise Closed(True, []) from None
            if not data:
                raise Closed(False, [])
            self._buf += data

    def expect(self, msg_type: str, timeout: float | None = None) -> Frame:
        frame = self.receive(timeout)
        assert frame.msg_type == msg_type, f"expected 35={msg_type}, got {frame}"
        return frame

    def wait_closed(self, timeout: float | None = None) -> tuple[list[Frame], bool]:
        """Read until the server closes; returns what arrived before and whether it was a reset."""
        frames: list[Frame] = []
        while True:
            try:
                frames.append(self.receive(timeout))
            except Closed as closed:
                assert not self._buf, f"connection closed after a partial frame: {bytes(self._buf)!r}"
                return frames, closed.reset

    # ---- session helpers ----------------------------------------------------------------------

    def logon(self, reset: bool = True, heartbeat: int = 30, seq: int | None = None) -> Frame:
        body: list[tuple[int, object]] = [(98, 0), (108, heartbeat)]
        if reset:
            body.append((141, "Y"))
            self.next_seq = 1
        if seq is not None:
            self.next_seq = seq
        self.send("A", body)
        reply = self.expect("A")
        assert reply.get(49) == self.target and reply.get(56) == self.sender, reply
        return reply

    def test_request(self, test_id: str, timeout: float | None = None) -> Frame:
        """TestRequest and its Heartbeat (the very next message must be that Heartbeat)."""
        self.send("1", [(112, test_id)])
        reply = self.expect("0", timeout)
        assert reply.get(112) == test_id, reply
        return reply

    def new_order(self, cl_ord_id: str, seq: int | None = None) -> Frame:
        """Send a NewOrderSingle and return its echo."""
        self.send("D", new_order_fields(cl_ord_id), seq=seq)
        echo = self.expect("D")
        assert echo.get(11) == cl_ord_id, echo
        return echo

    def logout(self) -> list[Frame]:
        """Logout, the reply, then the close."""
        self.send("5")
        frames, _ = self.wait_closed()
        assert frames and frames[-1].msg_type == "5", frames
        return frames
