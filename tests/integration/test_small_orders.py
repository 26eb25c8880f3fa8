"""What a real OMS sends (issue 13): 300 small orders of 1-100 shares, odd lots included, over sockets.

``metaorder run`` with the embedded simulated venues of configs/venues.toml: every order of 1-100
shares of ACME, GLOBX and NOVA (NOVA trades in lots of 10, so most of its orders are odd lots), both
sides, each for its own Account among thousands, is acknowledged and completely filled within its
window; allocation is in whole lots but for the rule of orders/allocation.py; and the same holds
across a kill -9 of the daemon in the middle, with no fill lost or counted twice.
"""

from __future__ import annotations

import random
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient, Frame
from tests.integration.test_pipeline import CONFIG, Daemon, collect, drain, qty, twap_order

LOTS = {"ACME": 1, "GLOBX": 1, "NOVA": 10}
# Likely duplicates are checked (as in the shipped config): orders of the same size for different
# accounts within the window must still pass.
SMALL_CONFIG = CONFIG.replace("max_orders_per_second = 100000\n",
                              "max_orders_per_second = 100000\nduplicate_window_s = 2.0\n")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    d.config.write_text(SMALL_CONFIG.format(tmp=tmp_path, root=Path(__file__).resolve().parents[2]))
    try:
        d.start()  # inside the try: a failed start must not leave a daemon behind
        yield d
    finally:
        if d.proc is not None:
            d.proc.stop(signal.SIGKILL)


def small_orders(seed: int, prefix: str, window_s: float) -> list[tuple[str, str, str, int, list[tuple[int, object]]]]:
    """300 orders (ClOrdID, symbol, side, qty, body): 1-100 shares, market, TWAP, each its own Account."""
    rng = random.Random(seed)
    accounts = rng.sample(range(100_000), 300)
    out = []
    for n, account in enumerate(accounts):
        symbol, side, size = rng.choice(list(LOTS)), rng.choice("12"), rng.randrange(1, 101)
        body = [*twap_order(f"{prefix}{n}", symbol, side, size, window_s), (1, f"ACC{account:05d}")]
        out.append((f"{prefix}{n}", symbol, side, size, body))
    return out


Allocation = tuple[str, int, int, str]  # OrderID, shares, the order's leaves before it, symbol


def journal_allocations(path: Path) -> tuple[dict[str, str], dict[str, int], list[str], list[list[Allocation]]]:
    """From the journal: ClOrdID by OrderID, shares allocated per OrderID (venue fills and crosses),
    the venue executions' ids, and each venue fill's allocations."""
    from metaorder.orders.journal import JournalReader

    cl_of: dict[str, str] = {}
    symbol_of: dict[str, str] = {}
    order_qty: dict[str, int] = {}
    allocated: dict[str, int] = defaultdict(int)
    exec_ids: list[str] = []
    fills: list[list[Allocation]] = []
    with JournalReader(path) as journal:
        for entry in journal.replay():
            data = entry.data
            if entry.kind == "order.accepted":
                cl_of[data["order_id"]] = data["cl_ord_id"]
                symbol_of[data["order_id"]] = data["symbol"]
                order_qty[data["order_id"]] = int(data["qty"])
            elif entry.kind == "fill":
                fill = []
                for order_id, size in data["allocations"]:
                    fill.append((order_id, int(size), order_qty[order_id] - allocated[order_id], symbol_of[order_id]))
                    allocated[order_id] += int(size)
                fills.append(fill)
            elif entry.kind == "cross":
                allocated[data["incoming"]] += int(data["qty"])
                allocated[data["resting"]] += int(data["qty"])
            elif entry.kind == "venue.execution":
                exec_ids.append(f'{data["child_id"]}/{data["exec_id"]}')
    return cl_of, allocated, exec_ids, fills


def assert_allocated_in_lots(fills: list[list[Allocation]]) -> None:
    """Every allocation of a venue fill is whole lots of its instrument or completes its order (its
    odd tail), but for at most one per fill: the residue of an odd print, or of the tails handed out
    before it (orders/allocation.py; README, Execution)."""
    nova = [fill for fill in fills if fill and fill[0][3] == "NOVA"]
    assert nova, "no NOVA venue fill"
    for fill in nova:
        residue = [a for a in fill if a[1] % LOTS["NOVA"] and a[1] != a[2]]
        assert len(residue) <= 1, fill
    assert any(len(fill) > 1 for fill in nova)  # pro-rata over several orders did happen


def test_three_hundred_small_orders_for_many_accounts_are_acknowledged_and_completely_filled(
    daemon: Daemon, tmp_path: Path
) -> None:
    orders = small_orders(13, "S", 10.0)
    sizes = {cl: size for cl, _, _, size, _ in orders}
    assert any(size % 10 for cl, symbol, _, size, _ in orders if symbol == "NOVA")  # odd lots are sent
    with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=60) as oms:
        oms.logon()
        for _, _, _, _, body in orders:
            oms.send("D", body)
        done: set[str] = set()

        def all_done(frames: list[Frame]) -> bool:
            if frames and frames[-1].get(39) in ("2", "8", "C", "4"):
                done.add(frames[-1].get(11) or "")
            return len(done) == len(orders)

        reports = collect(oms, all_done, timeout=60)
    by_order: dict[str, list[Frame]] = defaultdict(list)
    for r in reports:
        by_order[r.get(11) or ""].append(r)
    for cl, size in sizes.items():
        rs = by_order[cl]
        assert rs[0].get(150) == "0", (cl, rs[0].get(58))  # acknowledged, never refused
        fills = [r for r in rs if r.get(150) == "F"]
        assert sum(qty(r) for r in fills) == size
        assert (rs[-1].get(39), int(rs[-1].get(14) or 0), int(rs[-1].get(151) or 0)) == ("2", size, 0), rs[-1]
    daemon.kill()
    cl_of, allocated, _, venue_fills = journal_allocations(tmp_path / "journal.db")
    assert {cl_of[o]: n for o, n in allocated.items()} == sizes
    assert_allocated_in_lots(venue_fills)
    # what the OMS was told of venue fills is what the journal allocated, report by report
    told = sorted((r.get(37) or "", qty(r)) for r in reports if r.get(150) == "F" and r.get(30) != "INTERNAL")
    assert told == sorted((a[0], a[1]) for fill in venue_fills for a in fill)


def test_three_hundred_small_orders_complete_exactly_across_a_kill_9_in_the_middle(
    daemon: Daemon, tmp_path: Path
) -> None:
    orders = small_orders(17, "K", 15.0)
    sizes = {cl: size for cl, _, _, size, _ in orders}
    terms = {cl: (symbol, side) for cl, symbol, side, _, _ in orders}
    seen: dict[str, int] = {}  # ClOrdID -> CumQty reported before the kill
    with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=30) as oms:
        oms.logon()
        for _, _, _, _, body in orders:
            oms.send("D", body)
        acked: set[str] = set()

        def all_acked(frames: list[Frame]) -> bool:
            if frames:
                cl = frames[-1].get(11) or ""
                assert frames[-1].get(150) != "8", frames[-1].get(58)
                seen[cl] = int(frames[-1].get(14) or 0)
                acked.add(cl)
            return len(acked) == len(orders)

        collect(oms, all_acked, timeout=30)  # every order in the journal before the kill
        for frame in drain(oms, 2.0):  # trading: some fills come in, the venues hold children
            if frame.msg_type == "8" and frame.get(11) in sizes:
                seen[frame.get(11) or ""] = int(frame.get(14) or 0)
    assert any(seen.values()) and not all(seen[cl] == sizes[cl] for cl in sizes), "killed too late"
    daemon.kill()
    daemon.start()
    done: dict[str, int] = {}
    deadline = time.monotonic() + 45
    with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=30) as oms:
        oms.logon(reset=True)  # order state comes from the journal, not from resends
        while len(done) < len(sizes):
            assert time.monotonic() < deadline, f"{len(sizes) - len(done)} orders did not complete after restart"
            for cl in [c for c in sizes if c not in done]:
                symbol, side = terms[cl]
                oms.send("H", [(11, cl), (55, symbol), (54, side)])
            for frame in drain(oms, 1.0):
                cl = frame.get(11) or ""
                if frame.msg_type == "8" and frame.get(150) == "I" and cl in sizes:
                    cum = int(frame.get(14) or 0)
                    assert cum >= seen.get(cl, 0), f"{cl} lost fills: {seen[cl]} before the kill, {cum} after"
                    assert cum <= sizes[cl], frame
                    assert frame.get(39) not in ("C", "4", "8"), (cl, frame.get(39), frame.get(58))
                    if frame.get(39) == "2":
                        done[cl] = cum
    assert done == sizes
    daemon.kill()
    cl_of, allocated, exec_ids, fills = journal_allocations(tmp_path / "journal.db")
    assert len(exec_ids) == len(set(exec_ids)), "a venue execution was counted twice"
    assert {cl_of[o]: n for o, n in allocated.items()} == sizes  # no fill lost, none duplicated
    assert_allocated_in_lots(fills)
