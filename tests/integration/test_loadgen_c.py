"""The compiled benchmark tools (``bench/loadgen.c``, ``bench/echo_server.c``, ``bench/quickfix_echo.cpp``)
against real servers: they must keep speaking FIX correctly, or ``make bench`` reports nonsense.

Nothing here is timed: counts, exit codes, the JSON line's keys and the session messages are checked.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.fixclient import Frame, encode, utc_timestamp
from tests.support import REPO, MetaorderProcess, load_bench, start_reflector

# The keys of bench/loadgen.py's JSON line that the harness reads, per mode.
COMMON_KEYS = {"mode", "sent", "received", "missing", "msgs_per_s", "elapsed_s", "p50_us", "p90_us", "p99_us",
               "p99.9_us", "max_us", "latency_samples"}


native_tools = load_bench("native_tools")
needs_cc = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")


@pytest.fixture(scope="module")
def tools() -> dict[str, Path]:
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    return {name: native_tools.build(name) for name in ("loadgen", "echo_server")}


def run_loadgen(tools: dict[str, Path], port: int, *args: str, timeout: float = 30) -> tuple[int, dict[str, Any], str]:
    out = subprocess.run([str(tools["loadgen"]), "--port", str(port), "--timeout", "5", *args],
                         capture_output=True, text=True, timeout=timeout)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, (out.stdout, out.stderr)
    return out.returncode, json.loads(lines[0]), out.stderr


class Tool:
    """A compiled server, ready once its stderr says ``listening on port N``; stopped with SIGTERM."""

    def __init__(self, cmd: list[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.port = 0
        while not self.port:
            line = self.lines.get(timeout=20)
            if line is None:
                raise AssertionError(f"{cmd[0]} exited before it was ready: {self.seen}")
            match = re.search(r"listening on port (\d+)", line)
            self.port = int(match.group(1)) if match else 0

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.seen.append(line.rstrip())
            self.lines.put(line)
        self.lines.put(None)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise


@pytest.fixture
def echo_server(tools: dict[str, Path]) -> Iterator[Tool]:
    server = Tool([str(tools["echo_server"]), "--port", "0"])
    try:
        yield server
    finally:
        assert server.stop() == 0, server.seen


def test_the_loadgen_collects_every_ack_of_the_echo_server_when_saturating(
        tools: dict[str, Path], echo_server: Tool) -> None:
    status, result, _ = run_loadgen(tools, echo_server.port, "--reset-seq", "--reply-type", "8",
                                    "--mode", "saturate", "--count", "300", "--window", "50")
    assert status == 0
    assert COMMON_KEYS | {"window"} <= set(result)
    assert (result["sent"], result["received"], result["missing"], result["latency_samples"]) == (300, 300, 0, 300)
    assert 0 < result["p50_us"] <= result["p99_us"] <= result["max_us"]


def test_the_loadgen_paces_orders_and_reports_its_own_send_lag_in_rate_mode(
        tools: dict[str, Path], echo_server: Tool) -> None:
    status, result, _ = run_loadgen(tools, echo_server.port, "--reset-seq", "--reply-type", "8",
                                    "--mode", "rate", "--rate", "1000", "--duration", "0.5")
    assert status == 0
    assert COMMON_KEYS | {"target_rate", "send_rate", "send_lag_p99_us"} <= set(result)
    assert (result["sent"], result["received"], result["latency_samples"]) == (500, 500, 500)
    assert result["target_rate"] == 1000.0


def test_the_c_loadgen_prints_every_key_the_python_loadgen_prints(tools: dict[str, Path], echo_server: Tool) -> None:
    args = ["--port", str(echo_server.port), "--reset-seq", "--reply-type", "8", "--mode", "saturate",
            "--count", "200"]
    python = subprocess.run([sys.executable, str(REPO / "bench" / "loadgen.py"), *args, "--no-uvloop"],
                            capture_output=True, text=True, timeout=30)
    assert python.returncode == 0, python.stderr
    status, compiled, _ = run_loadgen(tools, echo_server.port, *args[2:])
    assert status == 0
    assert set(json.loads(python.stdout)) <= set(compiled)


def test_the_loadgen_drives_the_reflector_whose_replies_are_echoed_orders(
        tools: dict[str, Path], tmp_path: Path) -> None:
    proc, port = start_reflector(tmp_path / "store.db", targets=("LOADGEN",))
    try:
        status, result, _ = run_loadgen(tools, port, "--reset-seq", "--target-comp-id", "ISLD", "--reply-type", "D",
                                        "--mode", "saturate", "--count", "300", "--window", "100")
    finally:
        proc.stop()
    assert status == 0, proc.log()
    assert (result["sent"], result["received"]) == (300, 300)


INTAKE_CONFIG = """
[metrics]
port = 0
[acceptor]
port = 0
[[acceptor.sessions]]
target_comp_id = "LOADGEN"
[risk]
max_order_qty = 100000
price_collar_pct = "10"
[[instrument]]
symbol = "ACME"
reference_price = "142.50"
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
[logging]
format = "json"
"""


def test_the_loadgen_drives_the_intake_whose_replies_are_ack_execution_reports(
        tools: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "metaorder.toml"
    config.write_text(INTAKE_CONFIG.format(tmp=tmp_path))
    proc = MetaorderProcess(["run", "--config", str(config)])
    try:
        port = proc.wait_listening()
        status, result, _ = run_loadgen(tools, port, "--reset-seq", "--target-comp-id", "METAORDER",
                                        "--reply-type", "8", "--symbol", "ACME", "--price", "142.00",
                                        "--mode", "saturate", "--count", "200", "--window", "50")
    finally:
        proc.stop()
    assert status == 0, proc.log()
    assert (result["sent"], result["received"]) == (200, 200)
    assert "rejects" not in result


def test_a_refused_connection_is_exit_2_with_the_reason_in_the_json(tools: dict[str, Path]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    status, result, _ = run_loadgen(tools, port, "--mode", "saturate", "--count", "10")
    assert status == 2
    assert result["error"].startswith("connect failed")


def test_a_bad_command_line_is_exit_2_with_a_one_line_reason(tools: dict[str, Path]) -> None:
    out = subprocess.run([str(tools["loadgen"]), "--port", "1", "--mode", "sideways"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 2
    assert out.stderr.splitlines()[-1] == ("loadgen: error: argument --mode: invalid choice: 'sideways' "
                                           "(choose from 'saturate', 'rate')")


# -- session behaviour, against a scripted acceptor ---------------------------------------------------------

def frames(sock: socket.socket) -> Iterator[Frame]:
    buf = b""
    while True:
        match = re.search(rb"\x0110=\d{3}\x01", buf)
        if match is None:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
            continue
        yield Frame(buf[:match.end()])
        buf = buf[match.end():]


def reply(sock: socket.socket, seq: int, msg_type: str, *fields: tuple[int, object]) -> None:
    sock.sendall(encode(msg_type, [(34, seq), (49, "ISLD"), (52, utc_timestamp()), (56, "LOADGEN"), *fields]))


def scripted_acceptor(script: Callable[[socket.socket, list[Frame]], None], connections: int = 1) -> tuple[
        int, list[list[Frame]], threading.Thread]:
    """Accepts ``connections`` connections one after the other; ``script`` runs each, filling its frame list."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)
    seen: list[list[Frame]] = []

    def serve() -> None:
        with listener:
            for _ in range(connections):
                conn, _ = listener.accept()
                conn.settimeout(20)
                seen.append([])
                with conn:
                    script(conn, seen[-1])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener.getsockname()[1], seen, thread


def test_the_loadgen_answers_test_requests_and_gap_fills_resend_requests(tools: dict[str, Path]) -> None:
    def script(conn: socket.socket, got: list[Frame]) -> None:
        seq = 1
        for frame in frames(conn):
            got.append(frame)
            if frame.msg_type == "A":
                for msg_type, fields in (("A", [(98, 0), (108, 30), (141, "Y")]), ("1", [(112, "PING")]),
                                         ("2", [(7, 1), (16, 0)])):
                    reply(conn, seq, msg_type, *fields)
                    seq += 1
            elif frame.msg_type == "D":
                reply(conn, seq, "8", (37, "O"), (11, frame.get(11)), (17, "E"), (150, 0), (39, 0), (55, "MSFT"),
                      (54, 1), (151, 100), (14, 0), (6, 0))
                seq += 1
            elif frame.msg_type == "5":
                reply(conn, seq, "5")
                return

    port, seen, thread = scripted_acceptor(script)
    status, result, _ = run_loadgen(tools, port, "--reset-seq", "--reply-type", "8", "--mode", "saturate",
                                    "--count", "20", "--window", "5")
    thread.join(20)
    assert status == 0 and result["received"] == 20
    got = seen[0]
    heartbeats = [f for f in got if f.msg_type == "0"]
    assert [f.get(112) for f in heartbeats] == ["PING"]
    (gap_fill,) = [f for f in got if f.msg_type == "4"]
    assert (gap_fill.seq, gap_fill.get(123), gap_fill.get(43)) == (1, "Y", "Y")
    before = got[:got.index(gap_fill)]  # what the loadgen had sent: the gap fill reaches past all of it
    assert int(gap_fill.get(36) or 0) == max(f.seq for f in before) + 1
    assert got[-1].msg_type == "5"


def test_a_logout_expecting_a_higher_msgseqnum_makes_the_loadgen_log_on_again_from_it(tools: dict[str, Path]) -> None:
    connections: list[int] = []

    def script(conn: socket.socket, got: list[Frame]) -> None:
        connections.append(1)
        first = len(connections) == 1
        for frame in frames(conn):
            got.append(frame)
            if frame.msg_type == "A" and first:
                reply(conn, 1, "5", (58, "MsgSeqNum too low, expecting 42 but received 1"))
                return
            if frame.msg_type == "A":
                reply(conn, 1, "A", (98, 0), (108, 30))
            elif frame.msg_type == "D":
                reply(conn, 2, "8", (11, frame.get(11)), (150, 0), (39, 0))
            elif frame.msg_type == "5":
                reply(conn, 3, "5")
                return

    port, got_all, thread = scripted_acceptor(script, connections=2)
    status, result, stderr = run_loadgen(tools, port, "--reply-type", "8", "--mode", "saturate", "--count", "1")
    thread.join(20)
    assert status == 0, stderr
    assert result["received"] == 1
    assert "peer expects MsgSeqNum 42" in stderr
    assert [f.seq for f in got_all[1]][:2] == [42, 43]  # Logon, then the order


# -- QuickFIX C++ -------------------------------------------------------------------------------------------

@pytest.mark.skipif(not native_tools.QUICKFIX_HEADER.exists(), reason="libquickfix-dev is not installed")
def test_quickfix_cpp_acks_every_order_from_its_file_store_and_stops_on_sigterm(
        tools: dict[str, Path], tmp_path: Path) -> None:
    binary = native_tools.build("quickfix_echo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = tmp_path / "store"
    store.mkdir()
    server = Tool([str(binary), "--port", str(port), "--sender-comp-id", "ISLD", "--target-comp-id", "LOADGEN",
                   "--store", str(store), "--reset-on-logon"])
    try:
        status, result, stderr = run_loadgen(tools, port, "--reset-seq", "--reply-type", "8", "--mode", "saturate",
                                             "--count", "300", "--window", "50")
    finally:
        code = server.stop()
    assert status == 0, (stderr, server.seen)
    assert (result["sent"], result["received"]) == (300, 300)
    assert "rejects" not in result
    assert code == 0
    assert any(path.name.endswith(".body") for path in store.iterdir())
