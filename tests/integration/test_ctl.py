"""``metaorder ctl``: operators' kill switches per session and global, and status, on a running daemon."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient, Frame
from tests.integration.test_oms import CONFIG, order, report
from tests.support import MetaorderProcess


class Daemon:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "metaorder.toml"
        self.config.write_text(CONFIG.format(tmp=tmp) + f'[control]\nsocket = "{tmp}/ctl.sock"\n')
        self.proc = MetaorderProcess(["run", "--config", str(self.config)])
        try:
            logs = self.proc.wait_for_logs("OMS clients connect here", "control socket")
        except BaseException:
            self.proc.stop(signal.SIGKILL)  # never leave a daemon behind a failed start
            raise
        port = logs["OMS clients connect here"]["port"]
        assert isinstance(port, int)
        self.port = port

    def ctl(self, *words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "metaorder", "ctl", *words, "--config", str(self.config)],
                              capture_output=True, text=True, timeout=30)


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    try:
        yield d
    finally:
        d.proc.stop(signal.SIGKILL)


def is_er(cl: str, exec_type: str) -> object:
    return lambda f: f.msg_type == "8" and f.get(11) == cl and f.get(150) == exec_type


def test_a_session_kill_switch_cancels_that_sessions_orders_refuses_new_ones_and_spares_the_others(
        daemon: Daemon) -> None:
    with FixClient(daemon.port, "OMS1", "METAORDER") as oms1, FixClient(daemon.port, "OMS2", "METAORDER") as oms2:
        oms1.logon()
        oms2.logon()
        oms1.send("D", order("A", "1", 100, "140.00"))
        report(oms1, is_er("A", "0"))  # type: ignore[arg-type]
        oms2.send("D", order("B", "1", 100, "139.00"))
        report(oms2, is_er("B", "0"))  # type: ignore[arg-type]
        done = daemon.ctl("kill", "OMS1")
        assert done.returncode == 0 and "kill switch for OMS1 engaged, 1 open orders canceled" in done.stdout
        canceled: Frame = report(oms1, is_er("A", "4"))  # type: ignore[arg-type]
        assert "kill switch" in (canceled.get(58) or "")
        oms1.send("D", order("A2", "1", 100, "140.00"))
        refused = report(oms1, is_er("A2", "8"))  # type: ignore[arg-type]
        assert refused.get(103) == "2" and "kill switch for OMS1" in (refused.get(58) or "")
        oms2.send("D", order("B2", "1", 200, "139.00"))
        report(oms2, is_er("B2", "0"))  # type: ignore[arg-type]  # OMS2 trades on
        status = json.loads(daemon.ctl("status").stdout)
        assert status["killed_sessions"] == ["OMS1"] and status["global_kill"] is False
        assert status["open_orders"] == 2
        assert daemon.ctl("revive", "OMS1").returncode == 0
        oms1.send("D", order("A3", "1", 100, "140.00"))
        report(oms1, is_er("A3", "0"))  # type: ignore[arg-type]


def test_the_global_switch_refuses_every_session_until_released(daemon: Daemon) -> None:
    with FixClient(daemon.port, "OMS2", "METAORDER") as oms2:
        oms2.logon()
        assert "global kill switch engaged" in daemon.ctl("kill", "all").stdout
        oms2.send("D", order("G1", "1", 100, "140.00"))
        assert report(oms2, is_er("G1", "8")).get(103) == "2"  # type: ignore[arg-type]
        assert json.loads(daemon.ctl("status").stdout)["global_kill"] is True
        daemon.ctl("revive", "all")
        oms2.send("D", order("G2", "1", 100, "140.00"))
        report(oms2, is_er("G2", "0"))  # type: ignore[arg-type]


def test_bad_commands_and_no_daemon_are_one_line_errors(daemon: Daemon, tmp_path: Path) -> None:
    for words, text in ((("kill", "NOBODY"), "unknown session 'NOBODY'"), (("halt",), "unknown command")):
        result = daemon.ctl(*words)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and text in result.stderr, result
    daemon.proc.stop(signal.SIGTERM)
    gone = daemon.ctl("status")
    assert gone.returncode == 2 and gone.stderr.startswith("metaorder: no metaorder listening on")


def test_a_switch_acknowledged_by_ctl_is_in_the_journal_even_after_a_kill_9(daemon: Daemon) -> None:
    """Durable before acknowledged holds for operators too: a release makes no report and no venue
    message that would flush the journal, so only the control channel's own wait makes it durable."""
    from metaorder.eventcodec import decode_entry
    from metaorder.events import KillSwitchChanged
    from metaorder.orders.journal import JournalReader

    assert daemon.ctl("kill", "OMS2").returncode == 0
    assert daemon.ctl("revive", "OMS2").returncode == 0
    daemon.proc.stop(signal.SIGKILL)
    with JournalReader(daemon.config.parent / "journal.db") as journal:
        switches = [rec.event for rec in map(decode_entry, journal.replay())
                    if isinstance(rec.event, KillSwitchChanged)]
    assert [(s.engaged, s.session) for s in switches] == [(True, "OMS2"), (False, "OMS2")]
