"""A runner for QuickFIX's acceptance scripts (the ``.def`` format; see shared/.../README.md).

It is written independently of metaorder's codec on purpose: messages are cut from the socket with a
plain regular expression and compared field by field, so a bug in metaorder's framer cannot hide
itself by agreeing with the test.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
from dataclasses import dataclass
from pathlib import Path

SOH = "\x01"
_TIME = re.compile(r"<TIME([+-]\d+)?>")
_FRAME_END = re.compile(rb"\x0110=\d{3}\x01")
TIMESTAMP_FIELDS = frozenset({42, 52, 60, 122})


@dataclass(frozen=True)
class Step:
    action: str  # "connect", "disconnect", "send", "expect", "expect-disconnect"
    connection: int
    message: str
    line_no: int


def parse_script(path: Path) -> list[Step]:
    steps: list[Step] = []
    for line_no, raw in enumerate(path.read_bytes().decode("latin-1").splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        kind, rest = line[0], line[1:]
        connection = 1
        m = re.match(r"(\d+),", rest)
        if m:
            connection = int(m.group(1))
            rest = rest[m.end():]
        if kind == "i":
            action = {"CONNECT": "connect", "DISCONNECT": "disconnect"}[rest.strip()]
            steps.append(Step(action, connection, "", line_no))
        elif kind == "e":
            if rest.strip() != "DISCONNECT":
                raise ValueError(f"{path.name}:{line_no}: unknown expectation {line!r}")
            steps.append(Step("expect-disconnect", connection, "", line_no))
        elif kind == "I":
            steps.append(Step("send", connection, rest, line_no))
        elif kind == "E":
            steps.append(Step("expect", connection, rest, line_no))
        else:
            raise ValueError(f"{path.name}:{line_no}: unknown line {line!r}")
    return steps


def substitute_time(message: str, now: dt.datetime) -> str:
    def repl(m: re.Match[str]) -> str:
        shift = int(m.group(1) or 0)
        return (now + dt.timedelta(seconds=shift)).strftime("%Y%m%d-%H:%M:%S")

    return _TIME.sub(repl, message)


def fixify(message: str) -> str:
    """Insert BodyLength after BeginString and append CheckSum where the script leaves them out."""
    fields = message.split(SOH)
    if fields and fields[-1] == "":
        fields.pop()
    has_length = len(fields) > 1 and fields[1].startswith("9=")
    has_checksum = bool(fields) and fields[-1].startswith("10=")
    if not has_length and fields and fields[0].startswith("8="):
        body = fields[1:-1] if has_checksum else fields[1:]
        length = sum(len(f) + 1 for f in body)
        if has_checksum:
            length -= 1  # the script's convention: the SOH before a given CheckSum is not counted
        fields.insert(1, f"9={length}")
    text = SOH.join(fields) + SOH
    if not has_checksum:
        text += f"10={sum(text.encode('latin-1')) % 256:03d}{SOH}"
    return text


def load_patterns(path: Path) -> dict[int, re.Pattern[str]]:
    patterns: dict[int, re.Pattern[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            tag, pattern = line.split("=", 1)
            if int(tag) in TIMESTAMP_FIELDS:
                pattern = f"(?:{pattern})(?:[.]\\d{{3}})?"
            patterns[int(tag)] = re.compile(pattern)
    return patterns


def compare(expected: str, received: str, patterns: dict[int, re.Pattern[str]]) -> str | None:
    """None if ``received`` matches ``expected``, else a description of the first difference."""
    exp = [f.split("=", 1) for f in expected.rstrip(SOH).split(SOH)]
    got = [f.split("=", 1) for f in received.rstrip(SOH).split(SOH)]
    if [e[0] for e in exp] != [g[0] for g in got]:
        return f"tags differ:\n  expected {[e[0] for e in exp]}\n  received {[g[0] for g in got]}"
    for (tag, value), (_, actual) in zip(exp, got, strict=True):
        pattern = patterns.get(int(tag))
        if pattern is not None:
            if not pattern.fullmatch(actual):
                return f"field {tag}={actual!r} does not match {pattern.pattern!r}"
        elif value != actual:
            return f"field {tag}: expected {value!r}, received {actual!r}"
    return None


class Connection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, timeout: float) -> bytes | None:
        """The next message, or None if the peer closed the connection."""
        self.sock.settimeout(timeout)
        while True:
            m = _FRAME_END.search(self.buffer)
            if m:
                frame, self.buffer = self.buffer[: m.end()], self.buffer[m.end():]
                return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


def run_script(path: Path, port: int, patterns: dict[int, re.Pattern[str]], timeout: float = 20.0) -> None:
    """Run one script; raises AssertionError naming the line that failed."""
    connections: dict[int, Connection] = {}
    transcript: list[str] = []
    try:
        for step in parse_script(path):
            where = f"{path.name}:{step.line_no}"
            if step.action == "connect":
                connections[step.connection] = Connection(port)
            elif step.action == "disconnect":
                connections.pop(step.connection).close()
            elif step.action == "send":
                data = fixify(substitute_time(step.message, dt.datetime.now(dt.UTC)))
                transcript.append(f"> {data.replace(SOH, '|')}")
                connections[step.connection].send(data.encode("latin-1"))
            elif step.action == "expect":
                expected = fixify(substitute_time(step.message, dt.datetime.now(dt.UTC)))
                try:
                    frame = connections[step.connection].receive(timeout)
                except TimeoutError:
                    raise AssertionError(f"{where}: nothing received within {timeout}s; expected "
                                         f"{expected.replace(SOH, '|')}\n" + "\n".join(transcript)) from None
                if frame is None:
                    raise AssertionError(f"{where}: connection closed; expected {expected.replace(SOH, '|')}\n"
                                         + "\n".join(transcript))
                received = frame.decode("latin-1")
                transcript.append(f"< {received.replace(SOH, '|')}")
                problem = compare(expected, received, patterns)
                if problem:
                    raise AssertionError(f"{where}: {problem}\n  expected {expected.replace(SOH, '|')}\n"
                                         f"  received {received.replace(SOH, '|')}\n" + "\n".join(transcript))
            elif step.action == "expect-disconnect":
                conn = connections[step.connection]
                try:
                    frame = conn.receive(10.0)
                except TimeoutError:
                    raise AssertionError(f"{where}: still connected after 10s\n" + "\n".join(transcript)) from None
                except ConnectionResetError:
                    frame = None
                if frame is not None:
                    raise AssertionError(f"{where}: expected a disconnect, received "
                                         f"{frame.decode('latin-1').replace(SOH, '|')}\n" + "\n".join(transcript))
                connections.pop(step.connection).close()
    finally:
        for conn in connections.values():
            conn.close()
