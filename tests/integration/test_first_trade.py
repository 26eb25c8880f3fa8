"""Issue 16's "done when", as a newcomer does it: a daemon trading on its embedded venues, a trader's
first order typed into ``metaorder console``, the trade in ``curl /metrics``, then ``metaorder tca`` on
the journal giving the same quantity and average price the console's blotter showed."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.test_console import CONFIG
from tests.integration.test_metrics import Daemon


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, CONFIG, "venue session up")
    try:
        yield d
    finally:
        d.proc.stop(signal.SIGKILL)


def metaorder(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", *args], input=stdin, capture_output=True, text=True,
                          timeout=90)


def test_a_trader_types_a_vwap_order_sees_it_fill_then_finds_it_in_metrics_and_in_tca(
        daemon: Daemon, tmp_path: Path) -> None:
    before = daemon.metrics()
    deadline = time.monotonic() + 30  # the venues' first quotes: from then on an ack names the arrival mid
    while not any(k.startswith("metaorder_market_data_age_seconds{") for k in before):
        assert time.monotonic() < deadline, "no market data from any venue"
        time.sleep(0.1)  # polling another process's HTTP endpoint: no event to wait on
        before = daemon.metrics()
    typed = metaorder("console", "--config", str(daemon.config), "--port", str(daemon.port), "--wait", "30",
                      stdin="buy 100 ACME vwap for 5s\nwait C1 30\norders\n")
    assert typed.returncode == 0, typed.stdout + typed.stderr
    lines = typed.stdout.splitlines()
    ack = next(line for line in lines if line.startswith("ER C1 NEW ACME BUY 100 "))
    assert 'text="VWAP ' in ack  # the engine says what it will do with the order
    arrival = re.search(r"arrival mid ([0-9.]+)", ack)  # and against which mid its cost is measured
    assert arrival is not None, ack
    cl_ord_id = re.search(r"clordid=(\S+)", ack)
    assert cl_ord_id is not None
    last = [line for line in lines if line.startswith("ER C1 FILL ")][-1]
    assert "cum 100 leaves 0" in last and "status FILLED" in last
    avg = re.search(r" avg (\S+) ", last)
    assert avg is not None
    blotter_row = next(line for line in lines if line.startswith("C1 "))
    assert " FILLED " in blotter_row
    expected_cost = (Decimal(avg.group(1)) - Decimal(arrival.group(1))) / Decimal(arrival.group(1)) * 10_000
    assert blotter_row.split()[-1] == f"{expected_cost:+.1f}"  # cost vs arrival, in bps, in the blotter

    # curl /metrics after the trade shows it: the console's D, its ack and fills, the shares at venues.
    after = daemon.metrics()
    grew = {name: after[name] - before.get(name, 0.0) for name in after}
    assert grew["metaorder_fix_messages_received_total{counterparty=CONSOLE,msg_type=D}"] == 1
    assert grew["metaorder_execution_reports_total{exec_type=0}"] >= 1
    assert grew["metaorder_new_order_ack_latency_seconds_count{}"] == 1
    venue_shares = sum(v for k, v in grew.items() if k.startswith("metaorder_venue_filled_shares_total{"))
    assert venue_shares >= 100  # what the console's order (and nothing else here) bought at the venues
    assert daemon.get("/readyz")[0] == 200

    # TCA on the journal, once the daemon has stopped (so everything it acknowledged is committed).
    assert daemon.proc.stop(signal.SIGTERM) == 0
    tca = metaorder("tca", f"CONSOLE:{cl_ord_id.group(1)}", "--journal", str(tmp_path / "journal.db"),
                    "--format", "json")
    assert tca.returncode == 0, tca.stderr
    report = json.loads(tca.stdout)
    (order,) = report["orders"]
    assert int(order["filled"]) == 100
    assert Decimal(order["avg_price"]) == Decimal(avg.group(1))
    assert Decimal(order["arrival_mid"]) == Decimal(arrival.group(1))  # the very mid the trader was told
    assert order["cost_vs_arrival_bps"] is not None and order["interval_vwap"] is not None


def test_an_idle_engine_commits_its_market_samples_without_waiting_for_an_order(
        daemon: Daemon, tmp_path: Path) -> None:
    # Samples no report waits for must still reach the disk (else the next order's flush writes them
    # all on the event loop, in front of its ack): an idle engine's journal file gets them.
    deadline = time.monotonic() + 30
    rows = 0
    while rows < 2 and time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(f"file:{tmp_path / 'journal.db'}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT count(*) FROM entries WHERE kind = 'market.sample'").fetchone()[0]
        time.sleep(0.2)  # polling a file another process writes: there is no event to wait on
    assert rows >= 2
