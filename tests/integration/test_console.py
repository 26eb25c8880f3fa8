"""``metaorder console`` against a running ``metaorder run`` with embedded venues, through its real interfaces:
a piped script (subprocess), the interactive prompt (prompt_toolkit's pipe input, in-process) and
``--listen`` on the drop-copy port.  Orders are TWAP over a few seconds so they fill while the test waits."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import MetaorderProcess

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[metrics]
port = 0  # never the default 9879: tests run beside each other and beside `make run`
[acceptor]
port = 0
[[acceptor.sessions]]
target_comp_id = "OMS1"
[[acceptor.sessions]]
target_comp_id = "CONSOLE"
[risk.session.CONSOLE]
max_order_qty = 5000
cancel_on_disconnect = true
[[instrument]]
symbol = "ACME"
reference_price = "142.50"
[[instrument]]
symbol = "GLOBX"
reference_price = "58.20"
[execution]
embedded_venues = "{root}/configs/venues.toml"
passive_max_age_s = 3
[execution.twap]
slice_interval = 1.0
retry_interval = 0.5
[dropcopy]
port = 0
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
[logging]
format = "json"
"""


class Daemon:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "metaorder.toml"
        self.config.write_text(CONFIG.format(tmp=tmp, root=ROOT))
        self.proc = MetaorderProcess(["run", "--config", str(self.config)])
        self.ports: dict[str, int] = {}
        while len(self.ports) < 2:
            line = self.proc.wait_for_log("accepting")
            port = line["port"]
            assert isinstance(port, int)
            if "CONSOLE" in str(line["sessions"]):
                self.ports["OMS"] = port
            elif "DROPCOPY" in str(line["sessions"]):
                self.ports["DROPCOPY"] = port
        for _ in range(5):  # every venue session is up before the console trades
            self.proc.wait_for_log("venue session up")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("console")
    d: Daemon | None = None
    try:
        d = Daemon(tmp)
        yield d
    finally:
        if d is not None:
            d.proc.stop(signal.SIGKILL)


def console(daemon: Daemon, script: str, *options: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``metaorder console`` with ``script`` piped to standard input (not a terminal: script mode)."""
    return subprocess.run([sys.executable, "-m", "metaorder", "console", "--config", str(daemon.config),
                           "--port", str(daemon.ports["OMS"]), *options],
                          input=script, capture_output=True, text=True, timeout=timeout)


class Lines:
    """A subprocess's stdout, line by line, read by a thread; :meth:`expect` waits for a line."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, want: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError("no such line; seen:\n" + "\n".join(self.seen[-30:])) from None
            if line is None:
                raise AssertionError("the process ended; seen:\n" + "\n".join(self.seen[-30:]))
            self.seen.append(line)
            if want(line):
                return line


def listener(daemon: Daemon, *options: str) -> tuple[subprocess.Popen[str], Lines]:
    proc = subprocess.Popen([sys.executable, "-m", "metaorder", "console", "--listen", "--port",
                             str(daemon.ports["DROPCOPY"]), "--sender-comp-id", "DROPCOPY", "--config",
                             str(daemon.config), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    lines = Lines(proc)
    try:
        lines.expect(lambda s: s.startswith("SESSION logged on DROPCOPY->METAORDER"))
    except BaseException:
        proc.kill()
        raise
    return proc, lines


def test_a_piped_script_trades_prints_one_line_per_report_and_exits_0(daemon: Daemon) -> None:
    done = console(daemon, "buy 100 ACME twap for 3s\nwait C1 30\norders\nfills C1\n", "--wait", "5")
    out = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert out[0].startswith("SESSION logged on CONSOLE->METAORDER active")
    sent = next(line for line in out if line.startswith("SENT C1"))
    assert "35=D|" in sent and "|55=ACME|54=1|" in sent and "|847=1000|126=" in sent
    ack = next(line for line in out if line.startswith("ER C1 NEW ACME BUY 100 "))
    assert 'text="TWAP ' in ack and "clordid=" in ack
    fills = [line for line in out if line.startswith("ER C1 FILL ACME BUY 100 last ")]
    assert fills and "status FILLED" in fills[-1] and "leaves 0" in fills[-1]
    blotter_row = next(line for line in out if line.startswith("C1 "))
    assert " FILLED " in blotter_row and " 100 " in blotter_row
    assert f"{len(fills)} executions, 100 shares" in done.stdout
    assert out[-2] == "END orders=1 open=0 rejects=0 errors=0" and out[-1].startswith("SESSION logged out")


def test_a_line_that_cannot_be_parsed_makes_the_script_exit_1_and_the_rest_still_runs(daemon: Daemon) -> None:
    done = console(daemon, "buy 110 ACME tomorrow\nbuy 110 ACME @ 100.00\ncancel C1\nwait C1 20\n")
    assert done.returncode == 1
    assert "ERROR line 1: unknown word 'tomorrow' in an order" in done.stdout
    assert "ER C1 NEW ACME BUY 110" in done.stdout and "ER C1 CANCELED" in done.stdout
    assert "END orders=1 open=0 rejects=0 errors=1" in done.stdout


def test_a_rejected_order_or_cancel_makes_the_script_exit_1_with_the_engines_text(daemon: Daemon) -> None:
    done = console(daemon, "buy 9000 ACME\ncancel C1\nwait 10\n")
    assert done.returncode == 1, done.stdout
    rejected = next(line for line in done.stdout.splitlines() if line.startswith("ER C1 REJECTED"))
    assert "status REJECTED" in rejected and "reason=3" in rejected and "text=" in rejected
    assert "CXLREJ C1 " in done.stdout
    assert "rejects=2 errors=0" in done.stdout


def test_without_a_daemon_the_console_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "metaorder", "console", "--port", str(port), "--target-comp-id",
                           "METAORDER", "--logon-timeout", "1", "--config", str(ROOT / "configs/metaorder.toml")],
                          input="buy 1 ACME\n", capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"metaorder: no logon to 127.0.0.1:{port} as CONSOLE->METAORDER within 1 s")


def test_listen_on_the_drop_copy_port_prints_a_copy_of_every_report(daemon: Daemon) -> None:
    proc, lines = listener(daemon)
    try:
        done = console(daemon, "buy 120 GLOBX twap for 3s\nwait C1 30\n")
        assert done.returncode == 0, done.stdout
        cl = next(w.split("=", 1)[1] for w in done.stdout.split() if w.startswith("clordid="))
        lines.expect(lambda s: s.startswith(f"ER {cl} NEW GLOBX BUY 120") and "for=CONSOLE" in s)
        lines.expect(lambda s: s.startswith(f"ER {cl} FILL") and "status FILLED" in s and "for=CONSOLE" in s)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        lines.expect(lambda s: s.startswith("END received="))
        street = [s for s in lines.seen if " FILL " in s and "for=CONSOLE" not in s]
        assert street, "the venue-side executions are copied too"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_listen_appends_one_json_object_per_report_to_out(daemon: Daemon, tmp_path: Path) -> None:
    out = tmp_path / "copies.jsonl"
    proc, lines = listener(daemon, "--out", str(out))
    try:
        done = console(daemon, "buy 130 ACME @ 100.00\ncancel C1\nwait C1 20\n")
        assert done.returncode == 0, done.stdout
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        lines.expect(lambda s: s.startswith("END received="))
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    mine = [r for r in records if r["fields"].get("OnBehalfOfCompID") == "CONSOLE" and r["fields"]["OrderQty"] == "130"]
    assert [r["fields"]["ExecType"] for r in mine] == ["0", "4"]
    assert all(r["msg_type"] == "8" and isinstance(r["seq"], int) and r["line"].startswith("ER ") for r in mine)


def test_the_interactive_console_trades_and_shows_the_blotter(daemon: Daemon) -> None:
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from metaorder.clock import LiveClock
    from metaorder.console.app import run_app, toolbar_text
    from metaorder.console.client import ConsoleClient, Endpoint

    seen: list[str] = []
    toolbars: list[str] = []
    clients: list[ConsoleClient] = []

    async def until(want: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next((line for line in seen if want(line)), None)
            if hit is not None:
                return hit
            await asyncio.sleep(0.05)  # polling the output the console has printed, with a deadline
        raise AssertionError("no such line; seen:\n" + "\n".join(seen))

    async def session() -> int:
        with create_pipe_input() as keys:
            app = asyncio.create_task(run_app(Endpoint("127.0.0.1", daemon.ports["OMS"]), LiveClock(), ["ACME"], 10,
                                              input=keys, output=DummyOutput(), emit=seen.append,
                                              on_client=clients.append))
            await until(lambda s: s.startswith("SESSION logged on"))
            keys.send_text("buy 140 ACME twap for 3s arrival 142.50\r")
            await until(lambda s: s.startswith("ER C1 NEW ACME BUY 140"))
            toolbars.append(toolbar_text(clients[0]))  # the live blotter under the prompt while it works
            await until(lambda s: s.startswith("ER C1 FILL") and "status FILLED" in s)
            keys.send_text("orders\r")
            await until(lambda s: s.startswith("C1 "))
            keys.send_text("bogus\r")
            await until(lambda s: s.startswith("ERROR unknown command 'bogus'"))
            keys.send_text("quit\r")
            return await asyncio.wait_for(app, 10)

    assert asyncio.run(session()) == 0
    row = next(line for line in seen if line.startswith("C1 "))
    assert " FILLED " in row and row.split()[-1].startswith(("+", "-"))  # cost vs the stated arrival, in bps
    assert "C1" in toolbars[0] and "CONSOLE->METAORDER active" in toolbars[0]
    assert seen[-1].startswith("SESSION logged out")


def test_a_script_ending_right_after_its_order_still_sees_the_reject_and_exits_1(daemon: Daemon) -> None:
    done = console(daemon, "raw 35=D|11=RAWBAD|21=1|55=ACME|54=9|38=100|40=1|60=20261207-12:00:00\n")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert out.index("ER RAWBAD REJECTED") < out.index("END orders=1 open=0 rejects=1 errors=0"), out
    assert "Side (54) '9' is not supported" in out


def test_a_session_level_reject_of_a_raw_message_is_shown_with_its_reason_and_exits_1(daemon: Daemon) -> None:
    # An OrderStatusRequest (H) without its required ClOrdID is refused by the engine's session layer
    # (35=3), which the console must not leave to a warning on stderr.  The engine answers in order, so
    # the Reject is in before the answers to the order that follows (a raw message without a ClOrdID
    # has no answer the console could wait for).
    done = console(daemon, "raw 35=H|55=ACME|54=1\nbuy 10 ACME @ 100.00\ncancel C1\nwait C1 20\n")
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'REJECT - ref=2 text="Required tag missing"' in done.stdout
    assert "END orders=1 open=0 rejects=1 errors=0" in done.stdout, done.stdout
