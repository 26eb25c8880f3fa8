"""``metaorder ctl scorecard``: the venue scorecard of a running daemon, as a table and as JSON, learned
from its own child orders and rebuilt unchanged after a kill -9."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient
from tests.integration.test_pipeline import CONFIG, ROOT, collect, twap_order
from tests.support import MetaorderProcess

VENUES = {"ATLX", "BORX", "CYGX", "UMBRA", "NOCT"}


class Daemon:
    """``metaorder run`` with the embedded simulated venues and a control socket."""

    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "metaorder.toml"
        self.config.write_text(CONFIG.format(tmp=tmp, root=ROOT) + f'[control]\nsocket = "{tmp}/ctl.sock"\n')
        self.proc: MetaorderProcess | None = None
        self.port = 0

    def start(self) -> None:
        self.proc = MetaorderProcess(["run", "--config", str(self.config)])
        self.proc.wait_for_log("control socket")
        while not self.port:
            line = self.proc.wait_for_log("accepting")
            port = line["port"]
            if "OMS1" in str(line["sessions"]) and isinstance(port, int):
                self.port = port
        for _ in range(len(VENUES)):  # every venue session is up before the test trades
            self.proc.wait_for_log("venue session up")

    def ctl(self, *words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "metaorder", "ctl", *words, "--config", str(self.config)],
                              capture_output=True, text=True, timeout=30)

    def rows(self, *flag: str) -> list[dict[str, object]]:
        done = self.ctl("scorecard", *(flag or ("json",)))
        assert done.returncode == 0, done.stderr
        rows = json.loads(done.stdout)
        assert isinstance(rows, list)
        return rows

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.stop(signal.SIGKILL)
        self.port = 0


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    try:
        d.start()
        yield d
    finally:
        if d.proc is not None:
            d.proc.stop(signal.SIGKILL)


def test_the_scorecard_learned_from_fills_is_printed_and_survives_a_kill_9(daemon: Daemon) -> None:
    assert daemon.rows() == []  # nothing sent yet
    with FixClient(daemon.port, "OMS1", "METAORDER", timeout=60) as oms:
        oms.logon()
        oms.send("D", twap_order("SC1", "ACME", "1", 3000, 6.0))
        collect(oms, lambda frames: bool(frames) and frames[-1].get(39) == "2", timeout=60)
    rows = daemon.rows()
    assert rows, "a filled parent left no scorecard rows"
    assert {r["venue"] for r in rows} <= VENUES and {r["symbol"] for r in rows} == {"ACME"}
    assert sum(float(str(r["orders"])) for r in rows) > 0
    assert any(r["mean_fill_size"] is not None for r in rows)
    assert all(r["ack_latency_ms"] is not None for r in rows)  # measured, not configured

    table = daemon.ctl("scorecard")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["venue", "symbol", "kind"] and len(lines) == len(rows) + 1

    daemon.kill()
    daemon.start()
    assert daemon.rows() == rows  # rebuilt from the journal: nothing learned was lost


def test_the_json_flag_is_the_same_as_the_json_word(daemon: Daemon) -> None:
    """``metaorder ctl scorecard --json`` (the CLI passes the flag on as a word)."""
    assert daemon.rows("--json") == daemon.rows("json") == []


def test_a_bad_scorecard_argument_is_a_one_line_error(daemon: Daemon) -> None:
    done = daemon.ctl("scorecard", "yaml")
    assert done.returncode == 2 and "unknown command" in done.stderr and done.stderr.count("\n") == 1
