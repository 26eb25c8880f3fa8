"""A QuickFIX (C++) initiator trades on a simulated venue: an engine nobody here wrote.

QuickFIX validates every message we send against its own FIX44.xml, so this also checks that the
venue's ExecutionReports and TradingSessionStatus are well-formed FIX 4.4 (a malformed one would
make QuickFIX answer with a session Reject, which the test looks for).
"""

from __future__ import annotations

import queue
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.test_quickfix_initiator import QuickFixClient, fix, fix44, msg_type, parse
from tests.support import MetaorderProcess

pytestmark = pytest.mark.interop

CONFIG = """
[market]
seed = 3
session_hours = 1.0

[[instrument]]
symbol = "ACME"
tick_size = "0.01"
reference_price = "100.00"
daily_volume = 2000000

[[venue]]
name = "LITX"
kind = "lit"
port = 0
comp_id = "LITX"
counterparties = ["QFTRADER"]

[logging]
format = "json"
"""


@pytest.fixture
def venue_port(tmp_path: Path) -> Iterator[int]:
    config = tmp_path / "venues.toml"
    config.write_text(CONFIG)
    proc = MetaorderProcess(["venues", "--config", str(config), "--store-dir", str(tmp_path)])
    try:
        yield proc.wait_listening()
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(20) == 0
    finally:
        proc.stop(signal.SIGKILL)


def test_a_quickfix_initiator_buys_on_a_simulated_lit_venue(venue_port: int, tmp_path: Path) -> None:
    client = QuickFixClient(venue_port, tmp_path, reset_on_logon=True, sender="QFTRADER", target="LITX")
    try:
        client.start()
        assert client.app.logged_on.wait(15), client.app.traffic.dump()
        order = fix44.NewOrderSingle()
        order.setField(fix.ClOrdID("QF-1"))
        order.setField(fix.Symbol("ACME"))
        order.setField(fix.Side(fix.Side_BUY))
        order.setField(fix.TransactTime(3))
        order.setField(fix.OrderQty(100))
        order.setField(fix.OrdType(fix.OrdType_LIMIT))
        order.setField(fix.Price(105.0))  # well through the offer: fills against the background quotes
        order.setField(fix.TimeInForce(fix.TimeInForce_IMMEDIATE_OR_CANCEL))
        client.send(order)
        reports: list[dict[int, str]] = []
        deadline = time.monotonic() + 15
        while not reports or reports[-1].get(39) not in ("2", "4"):
            try:
                raw = client.app.app_in.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("no final execution report\n" + client.app.traffic.dump())
            if msg_type(raw) == "8":
                reports.append(dict(parse(raw)))
        assert reports[0][150] == "0"
        fills = [r for r in reports if r[150] == "F"]
        assert sum(int(r[32]) for r in fills) == int(reports[-1][14]) > 0
        assert all(r[30] == "LITX" and r[851] == "2" for r in fills)
        assert not client.app.traffic.snapshot("out", "3"), "QuickFIX rejected one of our messages:\n" + \
            client.app.traffic.dump()
        status = client.app.traffic.snapshot("in", "h")
        assert status and dict(parse(status[0]))[340] == "2"
    finally:
        client.logout()
        client.app.logged_out.wait(10)
        client.close()
