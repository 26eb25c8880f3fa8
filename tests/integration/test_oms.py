"""``metaorder run`` with OMS clients over real sockets: intake, netting, risk, cancels, kill -9."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient, Frame, utc_timestamp
from tests.support import MetaorderProcess

CONFIG = """
[metrics]
port = 0  # never the default 9879: tests run beside each other and beside `make run`
[acceptor]
port = 0
[[acceptor.sessions]]
target_comp_id = "OMS1"
[[acceptor.sessions]]
target_comp_id = "OMS2"
[risk]
max_order_qty = 10000
price_collar_pct = "10"
[[instrument]]
symbol = "ACME"
reference_price = "142.50"
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
snapshot_every = 100  # the crash tests restart from a recovery snapshot and the journal's tail
[logging]
format = "json"
"""


class Engine:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "metaorder.toml"
        self.config.write_text(CONFIG.format(tmp=tmp))
        self.proc: MetaorderProcess | None = None
        self.port = 0

    def start(self) -> int:
        self.proc = MetaorderProcess(["run", "--config", str(self.config)])
        self.replayed = self.proc.wait_for_log("order journal replayed")
        self.port = self.proc.wait_listening()
        return self.port

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.stop(signal.SIGKILL)

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.proc.send_signal(signal.SIGTERM)
        return self.proc.proc.wait(20)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = Engine(tmp_path)
    e.start()
    try:
        yield e
    finally:
        if e.proc is not None:
            e.proc.stop(signal.SIGKILL)


def order(cl: str, side: str, qty: int, price: str | None, symbol: str = "ACME",
          extra: list[tuple[int, object]] | None = None) -> list[tuple[int, object]]:
    body: list[tuple[int, object]] = [(11, cl), (21, "1"), (55, symbol), (54, side), (60, utc_timestamp()),
                                      (38, qty), (40, "2" if price else "1")]
    if price:
        body.append((44, price))
    return body + (extra or [])


def report(client: FixClient, want: Callable[[Frame], bool]) -> Frame:
    for _ in range(20):
        frame = client.receive()
        if want(frame):
            return frame
    raise AssertionError("no matching report")


def er(cl: str, exec_type: str) -> Callable[[Frame], bool]:
    return lambda f: f.msg_type == "8" and f.get(11) == cl and f.get(150) == exec_type


def test_opposing_orders_from_two_oms_are_crossed_internally_and_only_the_net_remains(engine: Engine) -> None:
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1, FixClient(engine.port, "OMS2", "METAORDER") as oms2:
        oms1.logon()
        oms2.logon()
        oms1.send("D", order("B1", "1", 500, "143.00", extra=[(847, "1000"), (848, "Urgency=HIGH")]))
        ack = report(oms1, er("B1", "0"))
        assert (ack.get(39), ack.get(151), ack.get(14)) == ("0", "500", "0")
        oms2.send("D", order("S1", "2", 200, "142.00"))
        report(oms2, er("S1", "0"))
        sell_fill = report(oms2, er("S1", "F"))
        assert (sell_fill.get(32), Decimal(sell_fill.get(31) or ""), sell_fill.get(30), sell_fill.get(39)) == (
            "200", Decimal("142.50"), "INTERNAL", "2")
        buy_fill = report(oms1, er("B1", "F"))
        assert (buy_fill.get(32), buy_fill.get(151), buy_fill.get(14)) == ("200", "300", "200")
        assert Decimal(buy_fill.get(6) or "") == Decimal("142.50")
        oms1.send("H", [(11, "B1"), (55, "ACME"), (54, "1")])
        status = report(oms1, er("B1", "I"))
        assert (status.get(39), status.get(151)) == ("1", "300")
        oms1.send("F", [(41, "B1"), (11, "B1-X"), (55, "ACME"), (54, "1"), (60, utc_timestamp())])
        cancel = report(oms1, er("B1-X", "4"))
        assert (cancel.get(39), cancel.get(41), cancel.get(14), cancel.get(151)) == ("4", "B1", "200", "0")


@pytest.mark.parametrize(
    ("body", "reason", "text"),
    [
        (order("R1", "1", 20000, "142.00"), "3", "max_order_qty"),
        (order("R2", "1", 100, "10.00", symbol="NOPE"), "1", "unknown symbol"),
        (order("R3", "1", 100, "200.00"), "3", "collar"),
        (order("R4", "1", 100, None, extra=[(848, "Urgency=SOON")]), "11", "Urgency must be"),
    ],
    ids=["too big", "unknown symbol", "outside the price collar", "bad urgency"],
)
def test_bad_orders_get_a_reject_naming_what_was_wrong(engine: Engine, body: list[tuple[int, object]],
                                                       reason: str, text: str) -> None:
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1:
        oms1.logon()
        oms1.send("D", body)
        rej = report(oms1, lambda f: f.msg_type == "8")
        assert (rej.get(150), rej.get(39), rej.get(103)) == ("8", "8", reason), rej
        assert text in (rej.get(58) or ""), rej
        oms1.send("F", [(41, "nope"), (11, "C9"), (55, "ACME"), (54, "1"), (60, utc_timestamp())])
        assert report(oms1, lambda f: f.msg_type == "9").get(102) == "1"


def test_a_cancel_with_the_wrong_symbol_and_side_is_rejected_over_the_wire_and_the_order_stays(
        engine: Engine) -> None:
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1:
        oms1.logon()
        oms1.send("D", order("W1", "2", 300, "142.40"))
        report(oms1, er("W1", "0"))
        oms1.send("F", [(41, "W1"), (11, "W1-X"), (55, "GLOBX"), (54, "1"), (60, utc_timestamp())])
        reject = report(oms1, lambda f: f.msg_type in ("8", "9") and f.get(11) == "W1-X")
        assert (reject.msg_type, reject.get(434), reject.get(102), reject.get(39)) == ("9", "1", "99", "0")
        assert reject.get(58) == "Symbol GLOBX does not match the order's ACME"
        oms1.send("H", [(11, "W1"), (55, "ACME"), (54, "2")])
        assert report(oms1, er("W1", "I")).get(151) == "300"
        oms1.send("F", [(41, "W1"), (11, "W1-X"), (55, "ACME"), (54, "2"), (60, utc_timestamp())])
        assert report(oms1, er("W1-X", "4")).get(39) == "4"


def test_after_a_kill_9_the_engine_rebuilds_open_orders_from_its_journal(engine: Engine) -> None:
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1:
        oms1.logon()
        oms1.send("D", order("K1", "1", 700, "142.00"))
        report(oms1, er("K1", "0"))
        oms1.send("D", order("K2", "2", 300, "142.40"))  # no cross: K1 (limit 142.00) refuses the 142.50 midpoint
        report(oms1, er("K2", "0"))
        next_seq = oms1.next_seq
    engine.kill()
    engine.start()
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1:
        oms1.next_seq = next_seq
        oms1.logon(reset=False)
        oms1.send("H", [(11, "K1"), (55, "ACME"), (54, "1")])
        status = report(oms1, er("K1", "I"))
        assert (status.get(39), status.get(151), status.get(14)) == ("0", "700", "0")
        oms1.send("D", order("K1", "1", 100, "142.00"))
        dup = report(oms1, lambda f: f.msg_type == "8" and f.get(11) == "K1" and f.get(150) == "8")
        assert dup.get(103) == "6"
        oms1.send("F", [(41, "K2"), (11, "K2-X"), (55, "ACME"), (54, "2"), (60, utc_timestamp())])
        assert report(oms1, er("K2-X", "4")).get(39) == "4"
    assert engine.stop() == 0


def test_an_unknown_target_strategy_value_is_a_session_level_reject(engine: Engine) -> None:
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1:
        oms1.logon()
        oms1.send("D", order("U1", "1", 100, "142.00", extra=[(847, "9")]))
        reject = report(oms1, lambda f: f.msg_type == "3")
        assert (reject.get(371), reject.get(373)) == ("847", "5")


def test_a_kill_9_in_the_middle_of_a_flow_loses_and_duplicates_nothing(engine: Engine) -> None:
    """Two OMSs stream crossing orders; the engine is killed mid-flow and restarted.

    Afterwards every order acknowledged before the kill still exists with at least the fills its
    OMS saw, no order is over-filled, and every crossed share still has exactly one buyer and one
    seller (a duplicated or lost fill would break that balance).
    """
    seen: dict[str, int] = {}  # ClOrdID -> CumQty last reported before the kill
    sessions = {"OMS1": "1", "OMS2": "2"}
    clients = {name: FixClient(engine.port, name, "METAORDER") for name in sessions}
    try:
        for client in clients.values():
            client.logon()
        for n in range(150):
            for name, side in sessions.items():
                clients[name].send("D", order(f"{name}-{n}", side, 100, None))
            if n == 100:
                assert engine.proc is not None
                engine.proc.wait_for_log("snapshot written", timeout=30)  # recovery will start from it
                for client in clients.values():  # read what has arrived so far, then pull the plug
                    client.sock.settimeout(0.5)
                    try:
                        while True:
                            frame = client.receive(0.5)
                            if frame.msg_type == "8" and frame.get(11):
                                seen[frame.get(11) or ""] = int(frame.get(14) or 0)
                    except (TimeoutError, OSError):
                        pass
                engine.kill()
                assert not engine.proc._drain.is_alive(), "a child of the engine outlived it"  # stderr closed
                break
    finally:
        for client in clients.values():
            client.close()
    assert seen, "nothing was acknowledged before the kill"
    engine.start()
    assert int(engine.replayed["from_snapshot_at"]) >= 100, engine.replayed  # type: ignore[call-overload]
    totals = {"1": 0, "2": 0}
    for name, side in sessions.items():
        with FixClient(engine.port, name, "METAORDER") as client:
            # Messages in flight at the kill may never have been read: start the FIX session afresh
            # (141=Y) so the test does not depend on that; order state comes from the journal.
            client.logon(reset=True)
            for n in range(101):
                cl = f"{name}-{n}"
                client.send("H", [(11, cl), (55, "ACME"), (54, side)])
                status = report(client, lambda f, cl=cl: f.msg_type == "8" and f.get(11) == cl and f.get(150) == "I")
                if status.get(39) == "8":  # never accepted before the kill: it must not have been acknowledged
                    assert cl not in seen, f"{cl} was acknowledged but is lost"
                    continue
                cum, qty = int(status.get(14) or 0), int(status.get(38) or 0)
                assert cum <= qty == 100, status
                assert cum >= seen.get(cl, 0), f"{cl} lost fills: saw {seen.get(cl)} before, {cum} after"
                totals[side] += cum
    assert totals["1"] == totals["2"], f"crossed shares out of balance after recovery: {totals}"
    assert totals["1"] > 0


def test_sigusr1_pulls_the_global_kill_switch_and_sigusr2_releases_it(engine: Engine) -> None:
    assert engine.proc is not None
    with FixClient(engine.port, "OMS1", "METAORDER") as oms1:
        oms1.logon()
        engine.proc.proc.send_signal(signal.SIGUSR1)
        engine.proc.wait_for_log("global kill switch engaged: new orders are refused")
        oms1.send("D", order("KS1", "1", 100, "142.00"))
        rej = report(oms1, lambda f: f.msg_type == "8" and f.get(11) == "KS1")
        assert (rej.get(150), rej.get(103)) == ("8", "2") and "global kill switch" in (rej.get(58) or "")
        engine.proc.proc.send_signal(signal.SIGUSR2)
        engine.proc.wait_for_log("global kill switch released")
        oms1.send("D", order("KS2", "1", 100, "142.00"))
        assert report(oms1, lambda f: f.msg_type == "8" and f.get(11) == "KS2").get(150) == "0"


def test_a_burst_of_pipelined_orders_in_one_write_is_acknowledged_in_order(engine: Engine) -> None:
    """400 NewOrderSingles (~60 KB, several of the engine's reads) sent at once: every one is
    acknowledged, in arrival order, under consecutive sequence numbers.  The engine answers such a
    burst a read at a time (the first answers leave while later orders are still being read)."""
    count = 400
    with FixClient(engine.port, "OMS1", "METAORDER") as oms:
        oms.logon()
        burst = b"".join(oms.build("D", order(f"P{n}", "1", 100, "142.00")) for n in range(count))
        assert len(burst) > 3 * 16384
        oms.send_raw(burst)
        acks = [oms.expect("8", timeout=30) for _ in range(count)]
    assert [a.get(11) for a in acks] == [f"P{n}" for n in range(count)]
    assert {a.get(150) for a in acks} == {"0"}
    assert [a.seq for a in acks] == list(range(acks[0].seq, acks[0].seq + count))


def test_a_heartbeat_follows_the_engines_last_message_by_one_interval_after_replies_moved_the_deadline(
        engine: Engine) -> None:
    """HeartBtInt=1.  The timer armed at logon is left alone when the order's acknowledgement
    moves the heartbeat deadline later: it fires early, finds nothing due and arms the next one,
    so the Heartbeat still comes, one interval after the acknowledgement (not never, not early)."""
    with FixClient(engine.port, "OMS1", "METAORDER") as oms:
        oms.logon(heartbeat=1)
        oms.send("D", order("HB1", "1", 100, "142.00"))
        ack = oms.expect("8")
        acked = time.monotonic()
        assert ack.get(150) == "0"
        heartbeat = oms.receive(timeout=5)
        waited = time.monotonic() - acked
    assert heartbeat.msg_type == "0" and heartbeat.get(112) is None, heartbeat
    assert waited >= 0.95, waited


def test_the_journals_applier_child_runs_before_the_first_order(engine: Engine) -> None:
    """Started with the engine, not inside the first order's flush (which it would hold up)."""
    assert engine.proc is not None
    pid = engine.proc.proc.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    commands = [Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0") for child in children]
    assert any(b"metaorder.redo_apply" in cmd and b"journal" in cmd for cmd in commands), commands
