"""``metaorder console`` against a running ``metaorder run`` with embedded venues, through its real interfaces:
a piped script (subprocess), the interactive prompt (prompt_toolkit's pipe input, in-process) and
``--listen`` on the drop-copy port.  Orders are TWAP over a few seconds so they fill while the test waits."""

from __future__ import annotations

import asyncio
import contextlib
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


# ---- review fixes (issue 16): bad input, windows, stopping, reconnects, the drop-copy consumer ------------


def test_unusual_input_gets_one_error_line_each_and_the_session_trades_on(daemon: Daemon) -> None:
    nines = "9" * 400
    done = console(daemon, f"buy \u00b200 ACME\nraw 35=D|\u00b2=5\nbuy 100 ACME for {nines}s\n"
                           "buy 100 ACME for 9999999999999999999h\nbuy 100 ACME twap for 3s\nreplace C1 @ 142.35\n"
                           "wait C1 30\n")
    out = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr
    assert [line.split(":", 1)[0] for line in out if line.startswith("ERROR")] == [
        f"ERROR line {n}" for n in (1, 2, 3, 4, 6)]
    assert "ERROR line 1: quantity must be a positive whole number of shares, not '\u00b200'" in out
    assert "ERROR line 4: duration must be at most 366 days, not '9999999999999999999h'" in out
    assert any(line.startswith("ERROR line 6: C1 is a market order: a replace cannot give it a limit") for line in out)
    assert not any(line.startswith("SENT C1 ") and "35=G" in line for line in out)
    assert any(line.startswith("ER C1 FILL") and "status FILLED" in line for line in out)
    assert out[-2] == "END orders=1 open=0 rejects=0 errors=5" and out[-1].startswith("SESSION logged out")
    assert "Traceback" not in done.stderr


def test_a_window_ending_on_a_later_day_is_sent_gtd_and_the_engine_takes_it(daemon: Daemon) -> None:
    done = console(daemon, "buy 10 ACME @ 100.00 twap for 25h\ncancel C1\nwait C1 20\n")
    assert done.returncode == 0, done.stdout + done.stderr
    sent = next(line for line in done.stdout.splitlines() if line.startswith("SENT C1 ") and "35=D" in line)
    assert "|59=6|" in sent and "|126=" in sent
    assert "NOTE C1 the window ends " in done.stdout and "sent as GTD (59=6)" in done.stdout
    assert "ER C1 NEW ACME BUY 10 " in done.stdout and "ER C1 CANCELED" in done.stdout


def test_a_script_whose_input_stays_open_stops_at_once_on_sigterm(daemon: Daemon) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "metaorder", "console", "--config", str(daemon.config),
                             "--port", str(daemon.ports["OMS"])], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = Lines(proc)
        assert proc.stdin is not None
        proc.stdin.write("buy 10 ACME @ 100.00\n")
        proc.stdin.flush()  # and standard input stays open, as under `tail -f orders | metaorder console`
        lines.expect(lambda s: s.startswith("ER C1 NEW ACME BUY 10"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        lines.expect(lambda s: s.startswith("END orders=1 "))
    finally:
        if proc.poll() is None:
            proc.kill()


class Proxy:
    """A TCP relay to the daemon whose connections the test can cut: a network failure on demand."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()


def test_after_a_reconnect_the_blotter_learns_what_the_engine_did_while_it_was_away(daemon: Daemon) -> None:
    """CONSOLE is cancel_on_disconnect: a cut connection cancels its open order, and the report of it
    is not resent to a console that resets at logon.  The status request after the logon tells it."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from metaorder.clock import LiveClock
    from metaorder.console.app import run_app
    from metaorder.console.client import ConsoleClient, Endpoint

    seen: list[str] = []
    clients: list[ConsoleClient] = []

    async def until(want: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next((line for line in seen if want(line)), None)
            if hit is not None:
                return hit
            await asyncio.sleep(0.05)  # polling the output the console has printed, under a deadline
        raise AssertionError("no such line; seen:\n" + "\n".join(seen) + "\ndaemon:\n" + daemon.proc.log())

    async def session() -> int:
        proxy = Proxy(daemon.ports["OMS"])
        port = await proxy.start()
        try:
            with create_pipe_input() as keys:
                app = asyncio.create_task(run_app(Endpoint("127.0.0.1", port), LiveClock(), ["ACME"], 10,
                                                  input=keys, output=DummyOutput(), emit=seen.append,
                                                  on_client=clients.append))
                await until(lambda s: s.startswith("SESSION logged on"))
                for _ in range(30):  # the prompt reads keys once it runs: until then "orders" may go unseen
                    keys.send_text("orders\r")
                    with contextlib.suppress(AssertionError):
                        await until(lambda s: s == "no orders yet", timeout=1)
                        break
                keys.send_text("buy 170 ACME @ 100.00\r")
                await until(lambda s: s.startswith("SENT C1 "))
                await until(lambda s: s.startswith("ER C1 NEW ACME BUY 170"))
                proxy.cut()
                await until(lambda s: s.startswith("SESSION logged on again: asking the status of 1 open orders (C1)"))
                await until(lambda s: s.startswith("ER C1 ") and "status CANCELED" in s)
                keys.send_text("quit\r")
                return await asyncio.wait_for(app, 10)
        finally:
            proxy.close()

    assert asyncio.run(session()) == 0
    assert any(line.startswith("SENT C1 ") and "35=H|" in line for line in seen)
    row = clients[0].blotter.find("C1")
    assert row is not None and row.status == "CANCELED" and clients[0].blotter.open_rows() == []


def test_listen_with_a_new_store_logs_on_without_reset_and_gets_what_was_sent_while_it_was_away(
        daemon: Daemon, tmp_path: Path) -> None:
    first, _ = listener(daemon)  # a run that resets: the engine's numbers for DROPCOPY are past 1 now
    first.send_signal(signal.SIGTERM)
    assert first.wait(20) == 0
    store = tmp_path / "dropcopy.db"
    proc, _ = listener(daemon, "--store", str(store))  # a store that does not exist yet, and no --reset
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    done = console(daemon, "buy 180 ACME @ 100.00\ncancel C1\nwait C1 20\n")  # while no consumer is logged on
    assert done.returncode == 0, done.stdout
    cl = next(w.split("=", 1)[1] for w in done.stdout.split() if w.startswith("clordid="))
    proc, lines = listener(daemon, "--store", str(store))
    try:
        lines.expect(lambda s: s.startswith(f"ER {cl} NEW ACME BUY 180") and s.endswith(" possdup"))
        lines.expect(lambda s: s.startswith(f"ER {cl}-X1 CANCELED") and s.endswith(" possdup"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_listen_that_cannot_write_its_out_file_exits_1_and_the_next_run_gets_the_report_again(
        daemon: Daemon, tmp_path: Path) -> None:
    store = tmp_path / "dropcopy.db"
    proc, _ = listener(daemon, "--out", "/dev/full", "--store", str(store))  # every write: ENOSPC
    try:
        done = console(daemon, "buy 190 ACME @ 100.00\ncancel C1\nwait C1 20\n")
        assert done.returncode == 0, done.stdout
        assert proc.wait(20) == 1
        assert proc.stderr is not None
        stderr = proc.stderr.read().strip().splitlines()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert stderr[-1].startswith("metaorder: cannot write report ") and stderr[-1].endswith(
        ": No space left on device; logged out"), stderr
    failed_seq = int(stderr[-1].split()[4])
    out = tmp_path / "copies.jsonl"
    proc, _ = listener(daemon, "--out", str(out), "--store", str(store))
    try:
        cl = next(w.split("=", 1)[1] for w in done.stdout.split() if w.startswith("clordid="))
        deadline = time.monotonic() + 20
        while not (out.exists() and f'"ClOrdID": "{cl}-X1"' in out.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)  # the file is the listener's only output here: polled under a deadline
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records[0]["seq"] == failed_seq and records[0]["possdup"] is True
    mine = [r for r in records if r["fields"].get("ClOrdID") in (cl, f"{cl}-X1")
            and r["fields"].get("OnBehalfOfCompID") == "CONSOLE"]
    assert [r["fields"]["ExecType"] for r in mine] == ["0", "4"]  # the ack (the report that failed) and the cancel
