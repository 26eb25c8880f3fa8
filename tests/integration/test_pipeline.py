"""``metaorder run`` trading end to end over real sockets: OMS → engine → embedded venues → drop copy.

The daemon runs the simulated venues of configs/venues.toml in-process behind their FIX acceptors;
its execution engine connects to them as an initiator, works parents with TWAP over a short window
and allocates every venue fill back to the client orders.
"""

from __future__ import annotations

import random
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient, Frame, utc_timestamp
from tests.support import MetaorderProcess

ROOT = Path(__file__).resolve().parents[2]
LOTS = {"ACME": 1, "GLOBX": 1, "NOVA": 10, "ZEPH": 100}

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
max_order_qty = 100000
max_orders_per_second = 100000
[[instrument]]
symbol = "ACME"
reference_price = "142.50"
[[instrument]]
symbol = "GLOBX"
reference_price = "58.20"
[[instrument]]
symbol = "NOVA"
reference_price = "311.00"
tick_size = "0.05"
lot_size = 10
[[instrument]]
symbol = "ZEPH"
reference_price = "9.875"
tick_size = "0.005"
lot_size = 100
[execution]
embedded_venues = "{root}/configs/venues.toml"
passive_max_age_s = 3
[execution.twap]
slice_interval = 2.0
retry_interval = 0.5
[dropcopy]
port = 0
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
snapshot_every = 200  # the crash test restarts from a recovery snapshot and the journal's tail
[logging]
format = "json"
"""


class Daemon:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "metaorder.toml"
        self.config.write_text(CONFIG.format(tmp=tmp, root=ROOT))
        self.proc: MetaorderProcess | None = None
        self.ports: dict[str, int] = {}

    def start(self) -> None:
        self.proc = MetaorderProcess(["run", "--config", str(self.config)])
        self.replayed = self.proc.wait_for_log("order journal replayed")
        self.ports = {}
        while "OMS" not in self.ports or "DROPCOPY" not in self.ports:
            line = self.proc.wait_for_log("accepting")
            sessions = str(line["sessions"])
            port = line["port"]
            assert isinstance(port, int)
            if "OMS1" in sessions:
                self.ports["OMS"] = port
            elif "DROPCOPY" in sessions:
                self.ports["DROPCOPY"] = port
        for _ in range(5):  # every venue session is up before the test trades
            self.proc.wait_for_log("venue session up")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.stop(signal.SIGKILL)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    try:
        d.start()  # inside the try: a failed start must not leave a daemon behind
        yield d
    finally:
        if d.proc is not None:
            d.proc.stop(signal.SIGKILL)


def twap_order(cl: str, symbol: str, side: str, qty: int, window_s: float,
               routing: str | None = None) -> list[tuple[int, object]]:
    now = time.time()  # the test is the OMS: it stamps its orders with the wall clock
    body: list[tuple[int, object]] = [(11, cl), (55, symbol), (54, side), (60, utc_timestamp()), (38, qty), (40, "1"),
                                      (59, "0"), (847, 1000), (126, utc_timestamp_at(now + window_s))]
    if routing is not None:
        body.append((848, f"Routing={routing}"))
    return body


def utc_timestamp_at(epoch: float) -> str:
    from datetime import UTC, datetime

    return utc_timestamp(datetime.fromtimestamp(epoch, UTC))


def collect(client: FixClient, done: Callable[[list[Frame]], bool], timeout: float) -> list[Frame]:
    """Execution reports from ``client`` until ``done(reports)``; answers TestRequests meanwhile."""
    deadline = time.monotonic() + timeout
    frames: list[Frame] = []
    while not done(frames):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out after {len(frames)} execution reports"
        frame = client.receive(remaining)
        if frame.msg_type == "1":
            client.send("0", [(112, frame.get(112) or "")])
        elif frame.msg_type == "8":
            frames.append(frame)
    return frames


def qty(frame: Frame) -> int:
    return int(frame.get(32) or 0)


@pytest.mark.parametrize("routing", ["BEST", "SEQUENTIAL", "PARALLEL", "SEEK"])
def test_a_thousand_small_orders_are_netted_worked_and_completely_filled_with_a_drop_copy(
    daemon: Daemon, routing: str,
) -> None:
    """With every routing logic, named per order in 848 (Routing=...)."""
    rng = random.Random(11)
    orders: dict[str, int] = {}  # ClOrdID -> qty
    gross = 0
    with FixClient(daemon.ports["DROPCOPY"], "DROPCOPY", "METAORDER", timeout=60) as drop, \
            FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=60) as oms:
        drop.logon()
        oms.logon()
        expire: dict[str, str] = {}
        for n in range(1000):
            symbol = rng.choice(list(LOTS))
            orders[f"T{n}"] = size = LOTS[symbol] * rng.randrange(1, 8)
            gross += size
            body = twap_order(f"T{n}", symbol, rng.choice("12"), size, 12.0, routing)
            expire[f"T{n}"] = str(dict(body)[126])
            oms.send("D", body)
        filled: set[str] = set()

        def all_filled(frames: list[Frame]) -> bool:
            if frames and frames[-1].get(39) == "2":
                filled.add(frames[-1].get(11) or "")
            return len(filled) == len(orders)

        reports = collect(oms, all_filled, timeout=90)
        client_fills = [r for r in reports if r.get(150) == "F"]
        venue_qty = sum(qty(r) for r in client_fills if r.get(30) != "INTERNAL")
        wanted_ids = {r.get(17) for r in reports}

        def complete(copies: list[Frame]) -> bool:
            ids = {f.get(17) for f in copies if f.get(115) == "OMS1"}
            street = sum(qty(f) for f in copies if f.get(115) != "OMS1" and f.get(150) == "F")
            return wanted_ids <= ids and street == venue_qty

        copies = collect(drop, complete, timeout=30)  # every report copied, and the street fills behind them
    by_order: dict[str, list[Frame]] = defaultdict(list)
    for r in reports:
        by_order[r.get(11) or ""].append(r)
    for cl, size in orders.items():
        rs = by_order[cl]
        assert rs[0].get(150) == "0", rs[0]  # acknowledged first
        fills = [r for r in rs if r.get(150) == "F"]
        assert sum(qty(r) for r in fills) == size
        last = rs[-1]
        assert (last.get(39), int(last.get(14) or 0), int(last.get(151) or 0)) == ("2", size, 0)
        assert (last.get(60) or "") <= expire[cl], (cl, last.get(60), expire[cl])  # filled within its window
        assert Decimal(last.get(6) or 0) == sum(qty(r) * Decimal(r.get(31) or 0) for r in fills) / size
    internal = sum(qty(r) for r in client_fills if r.get(30) == "INTERNAL")
    assert internal > 0 and venue_qty + internal == gross
    assert venue_qty < gross  # netting kept shares off the market
    assert {f.get(115) for f in copies} <= {"OMS1", "ATLX", "BORX", "CYGX", "UMBRA", "NOCT"}


def drain(client: FixClient, seconds: float) -> list[Frame]:
    """Everything that arrives within ``seconds`` (the OMS reading its reports as they come)."""
    frames: list[Frame] = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frame = client.receive(remaining)
        except (TimeoutError, OSError):
            break
        if frame.msg_type == "1":
            client.send("0", [(112, frame.get(112) or "")])
        frames.append(frame)
    return frames


def test_a_kill_9_mid_run_loses_nothing_and_duplicates_nothing(daemon: Daemon, tmp_path: Path) -> None:
    """Orders are being worked at the venues when the engine is killed; after the restart every
    acknowledged order completes exactly: no fill lost (CumQty never goes back), none duplicated
    (the journal's allocations per order add up to its quantity, not more)."""
    from metaorder.orders.journal import JournalReader

    rng = random.Random(5)
    orders: dict[str, tuple[str, str, int]] = {}
    seen: dict[str, int] = {}  # ClOrdID -> CumQty reported before the kill
    with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=30) as oms:
        oms.logon()
        for n in range(300):
            symbol = rng.choice(["ACME", "GLOBX"])
            side = rng.choice("12")
            orders[f"K{n}"] = (symbol, side, size := rng.randrange(1, 30) * 10)
            oms.send("D", twap_order(f"K{n}", symbol, side, size, 8.0))
        for frame in drain(oms, 3.0):
            if frame.msg_type == "8" and frame.get(11) in orders:
                seen[frame.get(11) or ""] = int(frame.get(14) or 0)
    assert seen and any(seen.values()), "nothing was filled before the kill"
    assert daemon.proc is not None
    daemon.proc.wait_for_log("snapshot written", timeout=30)  # the snapshotter folded the journal this far
    daemon.kill()
    daemon.start()
    # Recovery starts from the snapshot and replays the journal's tail after it.
    assert int(daemon.replayed["from_snapshot_at"]) >= 200, daemon.replayed  # type: ignore[call-overload]
    # Children that were out at the venues are rebuilt from the journal and reconciled at logon.
    assert int(daemon.replayed["open_orders"]) > 0  # type: ignore[call-overload]
    done: dict[str, int] = {}
    deadline = time.monotonic() + 60
    with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=30) as oms:
        oms.logon(reset=True)  # order state comes from the journal, not from resends
        while len(done) < len(seen):
            assert time.monotonic() < deadline, f"{len(seen) - len(done)} orders did not complete after restart"
            for cl in [c for c in seen if c not in done]:
                symbol, side, _ = orders[cl]
                oms.send("H", [(11, cl), (55, symbol), (54, side)])
            for frame in drain(oms, 1.0):
                cl = frame.get(11) or ""
                if frame.msg_type == "8" and frame.get(150) == "I" and cl in seen:
                    cum = int(frame.get(14) or 0)
                    assert cum >= seen[cl], f"{cl} lost fills: {seen[cl]} before the kill, {cum} after"
                    assert cum <= orders[cl][2], frame
                    if frame.get(39) == "2":
                        done[cl] = cum
    assert all(done[cl] == orders[cl][2] for cl in done)
    daemon.kill()
    allocated: dict[str, int] = defaultdict(int)  # OrderID -> shares allocated in the journal
    cl_of: dict[str, str] = {}
    exec_ids: list[str] = []
    with JournalReader(tmp_path / "journal.db") as journal:
        for entry in journal.replay():
            if entry.kind == "order.accepted":
                cl_of[entry.data["order_id"]] = entry.data["cl_ord_id"]
            elif entry.kind == "fill":
                for order_id, size in entry.data["allocations"]:
                    allocated[order_id] += int(size)
            elif entry.kind == "cross":
                allocated[entry.data["incoming"]] += int(entry.data["qty"])
                allocated[entry.data["resting"]] += int(entry.data["qty"])
            elif entry.kind == "venue.execution":
                exec_ids.append(f'{entry.data["child_id"]}/{entry.data["exec_id"]}')
    assert len(exec_ids) == len(set(exec_ids)), "a venue execution was counted twice"
    for order_id, cl in cl_of.items():
        assert allocated[order_id] <= orders[cl][2], f"{cl} over-allocated in the journal"
        if cl in done:
            assert allocated[order_id] == orders[cl][2], f"{cl}: journal allocations differ from CumQty"


def test_the_drop_copy_gets_what_it_missed_by_resend_after_it_reconnects(daemon: Daemon) -> None:
    copies: dict[int, Frame] = {}  # drop-copy MsgSeqNum -> copy (first and resent deliveries alike)
    with FixClient(daemon.ports["DROPCOPY"], "DROPCOPY", "METAORDER", timeout=30) as drop, \
            FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=30) as oms:
        drop.logon()
        oms.logon()
        oms.send("D", twap_order("R1", "ACME", "1", 300, 4.0))
        first = collect(drop, lambda fs: len(fs) >= 1, timeout=20)  # at least the ack's copy
        copies.update((f.seq, f) for f in first)
        next_seq = drop.next_seq
        drop.sock.close()  # the drop-copy client vanishes without a Logout
        oms.send("D", twap_order("R2", "GLOBX", "2", 500, 4.0))
        reports = collect(oms, lambda fs: sum(1 for f in fs if f.get(39) == "2") == 2, timeout=30)
    expected_ids = {r.get(17) for r in reports}
    with FixClient(daemon.ports["DROPCOPY"], "DROPCOPY", "METAORDER", timeout=30) as drop:
        drop.next_seq = next_seq
        reply = drop.logon(reset=False)
        assert reply.seq > max(copies), "the engine kept sending copies while the client was away"
        drop.send("2", [(7, max(copies) + 1), (16, 0)])  # ResendRequest: everything after what it saw

        def caught_up(frames: list[Frame]) -> bool:
            copies.update((f.seq, f) for f in frames)
            return expected_ids <= {f.get(17) for f in copies.values() if f.get(115) == "OMS1"}

        collect(drop, caught_up, timeout=30)
    resent = [f for f in copies.values() if f.get(43) == "Y"]
    assert resent, "nothing came back by resend"
    assert all(f.get(122) for f in resent)  # resends carry OrigSendingTime
