"""``metaorder run``'s metrics endpoint and ``ctl status`` seen from outside: a real daemon with its
embedded venues, an order over FIX, then what curl and an operator would see."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.fixclient import FixClient, Frame, utc_timestamp
from tests.integration.test_oms import CONFIG as NO_VENUES
from tests.integration.test_pipeline import CONFIG as WITH_VENUES
from tests.integration.test_pipeline import ROOT
from tests.support import MetaorderProcess


class Daemon:
    def __init__(self, tmp: Path, config: str, *also: str) -> None:
        self.config = tmp / "metaorder.toml"
        text = config.format(tmp=tmp, root=ROOT) + f'[control]\nsocket = "{tmp}/ctl.sock"\n'
        if "[metrics]" not in text:  # the shared configurations may come to have their own (port 0)
            text += "[metrics]\nport = 0\n"
        self.config.write_text(text)
        self.proc = MetaorderProcess(["run", "--config", str(self.config)])
        try:
            logs = self.proc.wait_for_logs("OMS clients connect here", "metrics listening", "control socket", *also)
        except BaseException:
            self.proc.stop(signal.SIGKILL)  # never leave a daemon behind a failed start
            raise
        self.port = int(str(logs["OMS clients connect here"]["port"]))
        metrics = logs["metrics listening"]
        assert metrics["host"] == "127.0.0.1"
        self.metrics_port = int(str(metrics["port"]))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def metrics(self) -> dict[str, float]:
        status, text = self.get("/metrics")
        assert status == 200
        return {f"{s.name}{{{','.join(f'{k}={v}' for k, v in sorted(s.labels.items()))}}}": s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def status(self) -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "metaorder", "ctl", "status", "--config", str(self.config)],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        assert isinstance(status, dict)
        return status


@pytest.fixture
def trading(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path, WITH_VENUES, "venue session up")
    try:
        yield d
    finally:
        d.proc.stop(signal.SIGKILL)


def first(client: FixClient, cl: str, exec_type: str) -> Frame:
    for _ in range(50):
        frame = client.receive(timeout=15)
        if frame.msg_type == "8" and frame.get(11) == cl and frame.get(150) == exec_type:
            return frame
    raise AssertionError(f"no ExecutionReport 150={exec_type} for {cl}")


def test_an_order_shows_in_the_metrics_and_in_ctl_status(trading: Daemon) -> None:
    assert trading.get("/healthz") == (200, "ok\n")
    assert trading.get("/readyz") == (200, "ready\n")
    with FixClient(trading.port, "OMS1", "METAORDER") as oms1:
        oms1.logon()
        expire = utc_timestamp(datetime.now(UTC) + timedelta(seconds=4))
        oms1.send("D", [(11, "M1"), (21, "1"), (55, "ACME"), (54, "1"), (60, utc_timestamp()), (38, 300),
                        (40, "1"), (59, "0"), (847, 1000), (126, expire)])
        first(oms1, "M1", "0")
        fill = first(oms1, "M1", "F")
        m = trading.metrics()
        status = trading.status()
    assert m["metaorder_fix_messages_received_total{counterparty=OMS1,msg_type=D}"] == 1
    assert m["metaorder_fix_messages_received_total{counterparty=OMS1,msg_type=A}"] == 1
    assert m["metaorder_fix_messages_sent_total{counterparty=OMS1,msg_type=8}"] >= 2
    assert m["metaorder_fix_session_logged_on{counterparty=OMS1,role=oms}"] == 1
    assert m["metaorder_execution_reports_total{exec_type=0}"] == 1
    assert m["metaorder_execution_reports_total{exec_type=F}"] >= 1
    assert m["metaorder_new_order_ack_latency_seconds_count{}"] == 1
    assert 0 < m["metaorder_new_order_ack_latency_seconds_sum{}"] < 1
    venue = fill.get(30)
    assert m[f"metaorder_child_orders_sent_total{{venue={venue}}}"] >= 1
    assert m[f"metaorder_venue_filled_shares_total{{venue={venue}}}"] >= int(fill.get(32) or 0)
    assert m[f"metaorder_fix_messages_sent_total{{counterparty={venue},msg_type=D}}"] >= 1
    assert m["metaorder_kill_switch_engaged{scope=global}"] == 0
    assert m["metaorder_journal_commits_total{}"] >= 1
    assert any(name.startswith("metaorder_market_data_age_seconds") for name in m)
    assert "process_resident_memory_bytes{}" in m

    sessions = status["oms_sessions"]
    assert isinstance(sessions, dict)
    assert sessions["OMS1"]["logged_on"] is True and sessions["OMS1"]["next_target_seq"] == 3
    assert sessions["OMS2"]["logged_on"] is False
    counters = status["counters"]
    assert isinstance(counters, dict)
    assert counters["messages_received"]["OMS1"]["D"] == 1 and counters["new_order_acks"] == 1


def test_readyz_says_what_is_missing_when_no_venue_is_logged_on(tmp_path: Path) -> None:
    d = Daemon(tmp_path, NO_VENUES)
    try:
        status, body = d.get("/readyz")
        assert (status, body) == (503, "venues: none of 0 logged on\n")
        assert d.get("/healthz")[0] == 200 and d.get("/nope")[0] == 404
    finally:
        started = time.monotonic()
        assert d.proc.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 10
