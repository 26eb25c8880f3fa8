"""``python -m metaorder audit`` as a real process against a journal the real intake wrote.

* a known order prints its timeline and summary on stdout, exit 0, nothing on stderr;
* without ``--journal`` the journal is the one ``--config`` names, resolved as ``metaorder run`` does;
* an unknown id, a missing journal or a file that is not a journal: exit 2 and one line on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.unit.test_audit import build_journal

CONFIG = """\
[acceptor]
port = 0
[[acceptor.sessions]]
target_comp_id = "OMS1"
[journal]
path = "var/journal.db"
"""


def audit(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", "audit", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    path = tmp_path / "journal.db"
    build_journal(path)
    return path


def test_a_known_order_prints_its_timeline_and_exits_0(journal: Path, tmp_path: Path) -> None:
    result = audit(["O1", "--journal", str(journal)], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2023-11-14T22:13:20.000Z  order.accepted   O1 OMS1 B1: buy 500 ACME")
    assert any("venue.execution  P1 C2 on BORX: 200 @ 100.05" in line for line in lines)
    assert lines[-1].split() == ["summary", "O1", "qty", "500", "cum", "qty", "500", "leaves", "0", "avg", "px",
                                 "100.0195", "status", "FILLED"]


def test_json_output_is_one_object_per_line(journal: Path, tmp_path: Path) -> None:
    result = audit(["OMS1:B2", "--journal", str(journal), "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["event"] == "order.accepted" and records[0]["order_id"] == "O3"
    assert (records[-1]["event"], records[-1]["avg_px"], records[-1]["status"]) == ("summary", "100.0325", "FILLED")


def test_without_journal_the_configs_journal_is_read_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "metaorder.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "var").mkdir()
    build_journal(tmp_path / "var" / "journal.db")
    result = audit(["P1"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].endswith("status DONE")


def test_an_unknown_order_is_exit_2_and_one_line(journal: Path, tmp_path: Path) -> None:
    line = one_line_error(audit(["O99", "--journal", str(journal)], tmp_path))
    assert line == f"metaorder: no order O99 in journal {journal}"


def test_the_default_journal_names_itself_when_the_order_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "metaorder.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "var").mkdir()
    build_journal(tmp_path / "var" / "journal.db")
    assert one_line_error(audit(["O99"], tmp_path)) == "metaorder: no order O99 in journal var/journal.db"


def test_a_missing_journal_is_exit_2_and_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    line = one_line_error(audit(["O1", "--journal", str(missing)], tmp_path))
    assert line == f"metaorder: journal {missing}: file does not exist"
    assert not missing.exists(), "an audit never creates a journal"


def test_a_file_that_is_not_a_journal_is_exit_2_and_one_line(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    other.write_text("not a database\n", encoding="utf-8")
    line = one_line_error(audit(["O1", "--journal", str(other)], tmp_path))
    assert line == f"metaorder: journal {other}: file is not an SQLite database"


def test_a_missing_config_is_exit_2_and_one_line(tmp_path: Path) -> None:
    line = one_line_error(audit(["O1"], tmp_path))
    assert line.startswith("metaorder: configs/metaorder.toml: cannot read")
