"""``metaorder run`` end to end, and metaorder's own Initiator against its own Acceptor."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from metaorder.clock import LiveClock
from metaorder.fix.codec import Framer, Message, decode, encode, format_utc_timestamp
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.session import Role, Session, SessionConfig
from metaorder.fix.store import SqliteStoreDatabase
from metaorder.fix.transport import Acceptor, Initiator, SessionConnection
from tests.support import MetaorderProcess

CONFIG = """
[metrics]
port = 0  # never the default 9879: tests run beside each other and beside `make run`
[acceptor]
port = 0
sender_comp_id = "METAORDER"
[[acceptor.sessions]]
target_comp_id = "OMS1"
[[acceptor.sessions]]
target_comp_id = "OMS2"
[[instrument]]
symbol = "MSFT"
reference_price = "400.00"
[store]
path = "{store}"
[journal]
path = "{journal}"
[logging]
format = "json"
"""


def _frame(msg_type: str, seq: int, body: list[tuple[int, str | int]], sender: str = "OMS1") -> bytes:
    import time

    header = [(34, seq), (49, sender), (52, format_utc_timestamp(time.time())), (56, "METAORDER")]
    return encode("FIX.4.4", msg_type, header, body)


def _read(sock: socket.socket, framer: Framer) -> Message:
    while True:
        frame = framer.next_frame()
        if frame is not None:
            assert isinstance(frame, bytes), frame
            msg = decode(frame)
            assert isinstance(msg, Message)
            return msg
        data = sock.recv(65536)
        assert data, "connection closed"
        framer.feed(data)


def test_run_accepts_orders_from_configured_sessions_and_logs_out_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "metaorder.toml"
    config.write_text(CONFIG.format(store=tmp_path / "var" / "store.db", journal=tmp_path / "var" / "journal.db"))
    proc = MetaorderProcess(["run", "--config", str(config)])
    try:
        port = proc.wait_listening()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            framer = Framer()
            sock.sendall(_frame("A", 1, [(98, 0), (108, 30)]))
            logon = _read(sock, framer)
            assert (logon.msg_type, logon.get(49), logon.get(56)) == ("A", "METAORDER", "OMS1")
            sock.sendall(_frame("D", 2, [(11, "O1"), (21, "1"), (38, "100"), (40, "1"), (54, "1"), (55, "MSFT"),
                                         (60, "20261123-10:00:00")]))
            ack = _read(sock, framer)
            assert (ack.msg_type, ack.get(11), ack.get(150), ack.get(39), ack.get(151)) == ("8", "O1", "0", "0", "100")
            proc.proc.send_signal(signal.SIGTERM)
            logout = _read(sock, framer)
            assert logout.msg_type == "5"
            sock.sendall(_frame("5", 3, []))
            assert sock.recv(65536) == b""
        assert proc.proc.wait(15) == 0
        assert (tmp_path / "var" / "store.db").exists()
    finally:
        proc.stop(signal.SIGKILL)


def test_run_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[acceptor]\nport = 99999\n")
    proc = MetaorderProcess(["run", "--config", str(config)])
    assert proc.proc.wait(30) == 2
    proc.stop()
    assert len(proc.lines) == 1
    assert proc.lines[0].startswith("metaorder: ") and "acceptor" in proc.lines[0]


class _Recorder:
    def __init__(self, echo: bool = False) -> None:
        self.echo = echo
        self.messages: asyncio.Queue[Message] = asyncio.Queue()
        self.logons: asyncio.Queue[str] = asyncio.Queue()

    def on_logon(self, conn: SessionConnection) -> None:
        self.logons.put_nowait(conn.id)

    def on_logout(self, conn: SessionConnection, reason: str) -> None:
        pass

    def on_message(self, conn: SessionConnection, message: Message, now: float) -> None:
        self.messages.put_nowait(message)
        if self.echo and message.msg_type == "D":
            conn.send("D", [f for f in message.fields if f[0] not in (34, 35, 49, 52, 56)])


async def test_initiator_logs_on_reconnects_after_the_acceptor_restarts_and_sequence_numbers_continue(
    tmp_path: Path,
) -> None:
    dictionary = builtin_fix44()
    clock = LiveClock()
    db = SqliteStoreDatabase(tmp_path / "both.db")
    try:
        acc_session = Session(SessionConfig("VENUE", "ENGINE", Role.ACCEPTOR), db.open_session("acc"), dictionary)
        ini_session = Session(SessionConfig("ENGINE", "VENUE", Role.INITIATOR, heartbeat_interval=5),
                              db.open_session("ini"), dictionary)
        acceptor_app, initiator_app = _Recorder(echo=True), _Recorder()
        ports: asyncio.Queue[int] = asyncio.Queue()

        def started(port: int) -> None:
            ports.put_nowait(port)

        acceptor = Acceptor("127.0.0.1", 0, [acc_session], acceptor_app, clock)
        serving = asyncio.create_task(acceptor.serve(started))
        port = await asyncio.wait_for(ports.get(), 10)
        initiator = Initiator("127.0.0.1", port, ini_session, initiator_app, clock, reconnect_min=0.05,
                              reconnect_max=0.2)
        running = asyncio.create_task(initiator.run())
        try:
            await asyncio.wait_for(initiator_app.logons.get(), 10)
            assert initiator.connection is not None
            initiator.connection.send("D", [(11, "C1"), (21, "1"), (38, "5"), (40, "1"), (54, "1"), (55, "X"),
                                            (60, "20261123-10:00:00")])
            echo = await asyncio.wait_for(initiator_app.messages.get(), 10)
            assert echo.get(11) == "C1"

            # Restart the acceptor on the same port: the initiator reconnects by itself.
            await acceptor.shutdown(5)
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)
            sent_before = ini_session.store.next_sender_seq()
            acceptor = Acceptor("127.0.0.1", port, [acc_session], acceptor_app, clock)
            serving = asyncio.create_task(acceptor.serve())
            await asyncio.wait_for(initiator_app.logons.get(), 20)
            assert ini_session.store.next_sender_seq() > sent_before  # no reset: numbers continue
            assert initiator.connection is not None
            initiator.connection.send("D", [(11, "C2"), (21, "1"), (38, "5"), (40, "1"), (54, "1"), (55, "X"),
                                            (60, "20261123-10:00:00")])
            echo = await asyncio.wait_for(initiator_app.messages.get(), 10)
            assert echo.get(11) == "C2"
        finally:
            await initiator.shutdown(5)
            running.cancel()
            await acceptor.shutdown(5)
            serving.cancel()
            await asyncio.gather(running, serving, return_exceptions=True)
    finally:
        db.close()
