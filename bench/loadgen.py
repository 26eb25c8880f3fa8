#!/usr/bin/env python3
"""FIX 4.4 load generator: a self-contained initiator that fires NewOrderSingles at an echoing acceptor.

Standalone on purpose (plain asyncio, its own encoder and framer, nothing from metaorder), so it measures
the server and not a shared code path. It logs on, then either

  --mode saturate --count N --window W
      keeps up to W NewOrderSingles outstanding (pipelined) until N echoes have come back; reports echoes/s;
  --mode rate --rate R --duration S
      sends R orders/s, paced in batches on a 1 ms tick, for S seconds; reports latency percentiles
      (send to echo, matched by ClOrdID) and the achieved rate;

answers TestRequests, gap-fills ResendRequests, logs out, and prints one line of JSON on stdout. Exit status:
0 all echoes received, 1 echoes missing (including a session the peer ended early), 2 no session (connect or
logon failed). Without --reset-seq it starts at MsgSeqNum 1 (or --seq-start); when the peer answers with a
Logout saying "MsgSeqNum too low, expecting N", it logs on once more from N.

Latency is measured with time.perf_counter_ns: a benchmark's stopwatch, not business logic. Every order in
a batch is stamped with the time of the write that carries it; every echo in a read with the time of that
read. Late batches are sent at once to catch up with the schedule (so a stalled server is not flattered).

Example:
    python bench/loadgen.py --port 5001 --sender-comp-id LOADGEN --target-comp-id ISLD --reset-seq \\
        --mode rate --rate 2000 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import sys
import time
from array import array
from collections.abc import Sequence
from typing import Any

SOH = b"\x01"
BEGIN = b"8=FIX.4.4\x01"
_HEAD_PREFIX = b"8=FIX.4.4\x019="
_HEAD_SUM = sum(_HEAD_PREFIX) + 1  # + the SOH after the BodyLength value
MAX_BODY_LENGTH = 1 << 20
_EXPECTING = re.compile(rb"expect\w*\D{0,20}?(\d+)", re.IGNORECASE)


def _log(text: str) -> None:
    sys.stderr.write(f"loadgen: {text}\n")
    sys.stderr.flush()


class Clock:
    """SendingTime/TransactTime text (UTC, milliseconds), recomputed at most once per millisecond."""

    __slots__ = ("_ms", "text", "text_sum")

    def __init__(self) -> None:
        self._ms = -1
        self.text = b""
        self.text_sum = 0

    def now(self) -> bytes:
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            self._ms = ms
            secs, milli = divmod(ms, 1000)
            self.text = (time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(secs)) + f".{milli:03d}").encode()
            self.text_sum = sum(self.text)
        return self.text


class OrderTemplate:
    """A NewOrderSingle pre-encoded around its four variable parts (MsgSeqNum, times, ClOrdID counter).

    The checksum of the constant parts is computed once; each order only sums its few variable bytes.
    """

    def __init__(self, sender: bytes, target: bytes, clordid_prefix: bytes, symbol: bytes,
                 price: bytes = b"10.25") -> None:
        self.parts = (
            b"35=D\x0134=",  # seq
            b"\x0149=" + sender + b"\x0152=",  # sending time
            b"\x0156=" + target + b"\x0111=" + clordid_prefix,  # counter
            b"\x0121=1\x0155=" + symbol + b"\x0154=1\x0160=",  # transact time
            b"\x0138=100\x0140=2\x0144=" + price + b"\x0159=0\x01",
        )
        self.fixed_len = sum(len(p) for p in self.parts)
        self.fixed_sum = sum(sum(p) for p in self.parts) + _HEAD_SUM

    def encode_batch(self, first_seq: int, first_n: int, count: int, ts: bytes, ts_sum: int) -> bytes:
        p0, p1, p2, p3, p4 = self.parts
        fixed_len = self.fixed_len + 2 * len(ts)
        fixed_sum = self.fixed_sum + 2 * ts_sum
        out = []
        append = out.append
        for i in range(count):
            seq = b"%d" % (first_seq + i)
            num = b"%d" % (first_n + i)
            blen = b"%d" % (fixed_len + len(seq) + len(num))
            cs = (fixed_sum + sum(seq) + sum(num) + sum(blen)) & 0xFF
            append(b"%s%s\x01%s%s%s%s%s%s%s%s%s10=%03d\x01" % (
                _HEAD_PREFIX, blen, p0, seq, p1, ts, p2, num, p3, ts, p4, cs))
        return b"".join(out)


def encode(msg_type: bytes, seq: int, sender: bytes, target: bytes, ts: bytes,
           fields: Sequence[tuple[int, bytes]] = (), header_extra: Sequence[tuple[int, bytes]] = ()) -> bytes:
    """The slow path, for session messages: any type, any fields (in the order given)."""
    body = [b"35=%s\x0134=%d\x0149=%s\x0152=%s\x0156=%s\x01" % (msg_type, seq, sender, ts, target)]
    body += [b"%d=%s\x01" % (tag, value) for tag, value in header_extra]
    body += [b"%d=%s\x01" % (tag, value) for tag, value in fields]
    raw = b"".join(body)
    head = b"%s%d\x01" % (_HEAD_PREFIX, len(raw))
    return b"%s%s10=%03d\x01" % (head, raw, (sum(head) + sum(raw)) & 0xFF)


def field(buf: bytes | bytearray, tag: bytes, start: int, end: int) -> bytes | None:
    """Value of the first `tag` (given as b"\\x01NN=") between start and end, or None."""
    i = buf.find(tag, start, end)
    if i < 0:
        return None
    i += len(tag)
    return bytes(buf[i:buf.find(SOH, i, end)])


class LoadClient(asyncio.Protocol):
    def __init__(self, args: argparse.Namespace, seq_start: int, total: int) -> None:
        self.args = args
        self.sender = args.sender_comp_id.encode()
        self.target = args.target_comp_id.encode()
        default_prefix = f"L{os.getpid() % 100000:05d}{int(time.time()) % 100000:05d}-"
        self.prefix = (args.clordid_prefix or default_prefix).encode()
        self.template = OrderTemplate(self.sender, self.target, self.prefix, args.symbol.encode(),
                                      args.price.encode())
        self.reply_head = b"35=%s\x01" % args.reply_type.encode()
        self.clock = Clock()
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.seq = seq_start  # next outgoing MsgSeqNum
        self.total = total
        self.sent_ns = array("q", bytes(8 * total))
        self.recv_ns = array("q", bytes(8 * total))
        self.sent = 0
        self.received = 0
        self.duplicates = 0
        self.unmatched = 0
        self.rejects = 0
        self.other_app = 0
        self.bad_checksum = 0
        self.garbage_bytes = 0
        self.last_send = time.monotonic()
        self.logon = asyncio.Event()
        self.logout = asyncio.Event()
        self.all_received = asyncio.Event()
        self.closed = asyncio.Event()
        self.logout_text = b""
        self.we_logged_out = False
        self.peer_logout = False
        self.running = False  # saturate: refill the window on every read
        self.saturate = args.mode == "saturate"
        self.window = args.window if self.saturate else 0
        self.first_send_ns = 0
        self.last_recv_ns = 0

    # -- transport callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()
        self.logout.set()  # unblock anyone waiting for a Logout reply
        self.logon.set()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buf = self.buf
        buf += data
        pos = 0
        n = len(buf)
        verify = self.args.verify_checksum
        while True:
            if n - pos < 16:
                break
            if buf[pos:pos + 10] != BEGIN:  # resynchronise on the next BeginString
                nxt = buf.find(BEGIN, pos + 1)
                skip_to = nxt if nxt >= 0 else n - 9
                self.garbage_bytes += skip_to - pos
                pos = skip_to
                continue
            j = buf.find(SOH, pos + 12, pos + 24)
            if j < 0:
                if n - pos >= 24:
                    self.garbage_bytes += 10
                    pos += 10
                    continue
                break
            body_start = j + 1
            try:
                body_length = int(buf[pos + 12:j])
            except ValueError:
                body_length = -1
            if not 0 < body_length <= MAX_BODY_LENGTH:  # not a message start: skip it and resynchronise
                self.garbage_bytes += 10
                pos += 10
                continue
            end = body_start + body_length + 7
            if end > n:
                break
            trailer = buf[end - 7:end]
            if trailer[:3] != b"10=" or trailer[6:] != SOH or not trailer[3:6].isdigit():
                self.garbage_bytes += 10  # BodyLength does not lead to a CheckSum
                pos += 10
                continue
            if verify and (sum(buf[pos:end - 7]) & 0xFF) != int(trailer[3:6]):
                self.bad_checksum += 1
            elif buf[body_start:body_start + 5] == self.reply_head:
                self._on_echo(buf, body_start, end, now)
            else:
                self._on_other(bytes(buf[pos:end]), body_start - pos)
            pos = end
        if pos:
            del buf[:pos]
        if self.running:
            self.fill_window()

    # -- inbound -------------------------------------------------------------------------------
    def _on_echo(self, buf: bytearray, start: int, end: int, now: int) -> None:
        value = field(buf, b"\x0111=", start, end)
        if value is None or not value.startswith(self.prefix):
            self.unmatched += 1
            return
        try:
            index = int(value[len(self.prefix):])
        except ValueError:
            self.unmatched += 1
            return
        if not 0 <= index < self.sent or self.recv_ns[index]:
            if 0 <= index < self.sent:
                self.duplicates += 1
            else:
                self.unmatched += 1
            return
        self.recv_ns[index] = now
        self.received += 1
        self.last_recv_ns = now
        if self.received == self.total:
            self.all_received.set()

    def _on_other(self, msg: bytes, body_start: int) -> None:
        msg_type = msg[body_start + 3:msg.find(SOH, body_start)]
        if msg_type == b"0":
            return
        if msg_type == b"1":  # TestRequest -> Heartbeat carrying its TestReqID
            test_req_id = field(msg, b"\x01112=", 0, len(msg)) or b""
            self.send_admin(b"0", [(112, test_req_id)])
        elif msg_type == b"A":
            self.logon.set()
        elif msg_type == b"5":
            self.logout_text = field(msg, b"\x0158=", 0, len(msg)) or b""
            if not self.we_logged_out:
                self.peer_logout = True
                _log(f"peer logged us out: {self.logout_text.decode(errors='replace')!r}")
                self.send_admin(b"5", [])  # complete the handshake
            self.logout.set()
        elif msg_type == b"2":  # ResendRequest: we keep no store, so gap-fill everything up to now
            begin = int(field(msg, b"\x017=", 0, len(msg)) or b"1")
            ts = self.clock.now()
            self.write(encode(b"4", begin, self.sender, self.target, ts,
                              fields=[(123, b"Y"), (36, b"%d" % self.seq)],
                              header_extra=[(43, b"Y"), (122, ts)]))
        elif msg_type in (b"3", b"j"):
            self.rejects += 1
            if self.rejects <= 5:
                _log(f"reject: {msg.replace(SOH, b'|').decode(errors='replace')}")
        elif msg_type == b"4":
            pass
        else:
            self.other_app += 1

    # -- outbound ------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            self.last_send = time.monotonic()

    def send_admin(self, msg_type: bytes, fields: list[tuple[int, bytes]]) -> None:
        self.write(encode(msg_type, self.seq, self.sender, self.target, self.clock.now(), fields))
        self.seq += 1

    def send_orders(self, count: int) -> None:
        count = min(count, self.total - self.sent)
        if count <= 0:
            return
        ts = self.clock.now()
        data = self.template.encode_batch(self.seq, self.sent, count, ts, self.clock.text_sum)
        stamp = time.perf_counter_ns()
        if not self.first_send_ns:
            self.first_send_ns = stamp
        sent_ns = self.sent_ns
        for i in range(self.sent, self.sent + count):
            sent_ns[i] = stamp
        self.write(data)
        self.seq += count
        self.sent += count

    def fill_window(self) -> None:
        self.send_orders(self.window - (self.sent - self.received))


async def heartbeat(client: LoadClient, interval: int) -> None:
    while not client.closed.is_set():
        await asyncio.sleep(1.0)
        if time.monotonic() - client.last_send >= interval:
            client.send_admin(b"0", [])


async def wait_for_echoes(client: LoadClient, idle_timeout: float) -> None:
    """Until every order has its echo, the session dies, or no echo arrives for `idle_timeout` seconds."""
    last, idle_since = client.received, time.monotonic()
    while not client.all_received.is_set() and not client.closed.is_set() and not client.logout.is_set():
        try:
            await asyncio.wait_for(client.all_received.wait(), 0.25)
        except TimeoutError:
            if client.received != last:
                last, idle_since = client.received, time.monotonic()
            elif time.monotonic() - idle_since >= idle_timeout:
                return


async def pace(client: LoadClient, rate: float) -> None:
    start = time.perf_counter_ns()
    while client.sent < client.total and not client.closed.is_set() and not client.we_logged_out:
        due = min(client.total, int((time.perf_counter_ns() - start) * rate / 1e9) + 1)
        if due > client.sent:
            client.send_orders(due - client.sent)
        await asyncio.sleep(0.001)


def percentile(sorted_values: list[int], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


async def session(args: argparse.Namespace, seq_start: int) -> tuple[dict[str, Any], int, int | None]:
    """One connection. Returns (summary, exit status, MsgSeqNum the peer asked for if it refused ours)."""
    total = args.count if args.mode == "saturate" else round(args.rate * args.duration)
    loop = asyncio.get_running_loop()
    try:
        _, client = await asyncio.wait_for(
            loop.create_connection(lambda: LoadClient(args, seq_start, total), args.host, args.port),
            args.timeout)
    except (TimeoutError, OSError) as exc:
        return {"mode": args.mode, "error": f"connect failed: {exc!r}"}, 2, None
    logon_fields = [(98, b"0"), (108, b"%d" % args.heartbeat)]
    if args.reset_seq:
        logon_fields.append((141, b"Y"))
    client.send_admin(b"A", logon_fields)
    hb = asyncio.create_task(heartbeat(client, args.heartbeat))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(client.logon.wait(), args.timeout)
        if client.closed.is_set() or client.logout.is_set() or not client.logon.is_set():
            text = client.logout_text
            wanted = _EXPECTING.search(text)
            if text:
                reason = f"peer sent Logout: {text.decode(errors='replace')!r}"
            elif client.closed.is_set():
                reason = "peer closed the connection without a Logon reply"
            else:
                reason = f"no Logon reply within {args.timeout} s"
            return ({"mode": args.mode, "error": f"logon failed: {reason}"}, 2,
                    int(wanted.group(1)) if wanted else None)

        t0 = time.perf_counter_ns()
        if args.mode == "saturate":
            client.running = True
            client.fill_window()
        else:
            await pace(client, args.rate)
        send_end = time.perf_counter_ns()
        await wait_for_echoes(client, args.timeout)
        end = time.perf_counter_ns()

        client.running = False
        client.we_logged_out = True
        if not client.closed.is_set() and not client.logout.is_set():
            client.send_admin(b"5", [])
            try:
                await asyncio.wait_for(client.logout.wait(), args.timeout)
            except TimeoutError:
                _log("no Logout reply")
    finally:
        hb.cancel()
        if client.transport is not None:
            client.transport.close()

    summary = summarise(args, client, t0, send_end, end)
    missing = client.sent - client.received
    status = 0 if missing == 0 and client.sent == total else 1
    if status:
        _log(f"{missing} echoes missing ({client.sent} of {total} sent)")
    return summary, status, None


def summarise(args: argparse.Namespace, client: LoadClient, t0: int, send_end: int,
              end: int) -> dict[str, Any]:
    sent_ns, recv_ns = client.sent_ns, client.recv_ns
    skip_ns = t0 + int(args.warmup * 1e9)
    lat = sorted(recv_ns[i] - sent_ns[i] for i in range(client.sent) if recv_ns[i] and sent_ns[i] >= skip_ns)
    elapsed = ((client.last_recv_ns or end) - (client.first_send_ns or t0)) / 1e9
    send_elapsed = (send_end - (client.first_send_ns or t0)) / 1e9
    summary: dict[str, Any] = {
        "mode": args.mode,
        "sent": client.sent,
        "received": client.received,
        "missing": client.sent - client.received,
        "msgs_per_s": round(client.received / elapsed, 1) if elapsed > 0 else None,
    }
    if args.mode == "rate":
        summary["target_rate"] = args.rate
        summary["send_rate"] = round(client.sent / send_elapsed, 1) if send_elapsed > 0 else None
    else:
        summary["window"] = args.window
    summary.update({
        "elapsed_s": round(elapsed, 3),
        "p50_us": round(percentile(lat, 50) / 1e3, 1) if lat else None,
        "p90_us": round(percentile(lat, 90) / 1e3, 1) if lat else None,
        "p99_us": round(percentile(lat, 99) / 1e3, 1) if lat else None,
        "p99.9_us": round(percentile(lat, 99.9) / 1e3, 1) if lat else None,
        "max_us": round(lat[-1] / 1e3, 1) if lat else None,
        "latency_samples": len(lat),
    })
    if client.peer_logout:
        summary["peer_logout"] = client.logout_text.decode(errors="replace")
    for key in ("duplicates", "unmatched", "rejects", "other_app", "bad_checksum", "garbage_bytes"):
        if getattr(client, key):
            summary[key] = getattr(client, key)
    return summary


async def run(args: argparse.Namespace) -> int:
    seq_start = args.seq_start
    summary, status, wanted = await session(args, seq_start)
    if wanted is not None and wanted > seq_start and not args.reset_seq:
        _log(f"peer expects MsgSeqNum {wanted}; logging on again from there")
        summary, status, _ = await session(args, wanted)
    print(json.dumps(summary), flush=True)
    return status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="FIX 4.4 NewOrderSingle load generator (echo server benchmark)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sender-comp-id", default="LOADGEN")
    p.add_argument("--target-comp-id", default="ISLD")
    p.add_argument("--reset-seq", action="store_true", help="send ResetSeqNumFlag 141=Y on Logon")
    p.add_argument("--seq-start", type=int, default=1,
                   help="first MsgSeqNum (without --reset-seq, a Logout saying which number the peer expects "
                        "triggers one more Logon from that number)")
    p.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt (s)")
    p.add_argument("--mode", choices=("saturate", "rate"), required=True)
    p.add_argument("--count", type=int, default=100_000, help="saturate: echoes to collect")
    p.add_argument("--window", type=int, default=100, help="saturate: orders outstanding")
    p.add_argument("--rate", type=float, default=2000.0, help="rate: orders per second")
    p.add_argument("--duration", type=float, default=10.0, help="rate: seconds of sending")
    p.add_argument("--warmup", type=float, default=0.0,
                   help="seconds at the start left out of latency figures")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="connect/logon/logout timeout, and how long to wait for the last echoes (s)")
    p.add_argument("--symbol", default="MSFT")
    p.add_argument("--price", default="10.25", help="limit price of every order")
    p.add_argument("--reply-type", default="D", choices=("D", "8"),
                   help="the reply that completes an order: D for an echo (reflector), 8 for an execution report")
    p.add_argument("--clordid-prefix", help="ClOrdID prefix (default: unique per run)")
    p.add_argument("--no-verify-checksum", dest="verify_checksum", action="store_false")
    p.add_argument("--no-uvloop", action="store_true", help="use the default asyncio event loop")
    args = p.parse_args(argv)
    if args.mode == "saturate" and (args.count <= 0 or args.window <= 0):
        p.error("--count and --window must be positive")
    if args.mode == "rate" and (args.rate <= 0 or args.duration <= 0):
        p.error("--rate and --duration must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loop_factory = None
    if not args.no_uvloop:
        try:
            import uvloop
            loop_factory = uvloop.new_event_loop
        except ImportError:
            pass
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
