"""The child process that commits redo records (metaorder.redo_apply), through its real pipes.

With ``redo=True`` the store and the journal run no writer thread: the SQLite commits happen in
``python -m metaorder.redo_apply``.  What must hold: a flush is acknowledged without waiting for
it, a commit future still resolves once the child has committed, a child that dies fails the
database loudly without losing anything flushed, a record the database already holds is never
applied twice (an old child may still be finishing while a new engine recovers), and a Ctrl-C
meant for the engine does not cut the child short.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from metaorder.fix.store import SqliteStoreDatabase, StoreError
from metaorder.orders.journal import JournalError, JournalReader, SqliteJournal
from metaorder.redo_apply import RedoApplier
from tests.support import write_locked

T0 = 1_790_000_000.0


def count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def applier_pid(owner: SqliteJournal | SqliteStoreDatabase) -> int:
    applier = owner._applier
    assert applier is not None and applier._proc is not None
    return applier._proc.pid


def test_journal_commits_run_in_a_child_process_and_their_futures_still_resolve(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, redo=True, max_queue=2)  # past 1 batch in flight, flush returns the commit's
    with write_locked(path):
        journal.append(T0, "a", ["O1"], {})
        assert journal.flush().done()  # in the redo log: acknowledged at once
        journal.append(T0, "b", ["O2"], {})
        commit = journal.flush()
        assert not commit.done()  # the commit itself waits for the database
    commit.result(timeout=30)
    assert count(path, "SELECT count(*) FROM entries") == 2
    assert applier_pid(journal) != os.getpid()
    names = [t.name for t in threading.enumerate()]
    assert not any(name.startswith(("journal-writer", "journal-checkpointer")) for name in names)
    journal.close()
    with JournalReader(path) as reader:
        assert [e.kind for e in reader.replay()] == ["a", "b"]


def test_a_dead_journal_applier_fails_the_journal_and_loses_nothing_flushed(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, redo=True, max_queue=2)
    with write_locked(path):
        journal.append(T0, "a", ["O1"], {})
        journal.flush()
        journal.append(T0, "b", ["O2"], {})
        commit = journal.flush()
        os.kill(applier_pid(journal), signal.SIGKILL)
        with pytest.raises(JournalError, match="redo applier exited unexpectedly"):
            commit.result(timeout=30)
    with pytest.raises(JournalError, match="writer failed"):
        journal.append(T0, "c", [], {})
    with pytest.raises(JournalError, match="writer failed"):
        journal.close()
    with SqliteJournal(path, redo=True) as again:  # the redo log had both
        assert [e.kind for e in again.replay()] == ["a", "b"]


def test_a_dead_store_applier_fails_the_store_and_loses_nothing_flushed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = SqliteStoreDatabase(path, redo=True, max_queue=2)
    store = db.open_session("S")
    with write_locked(path):
        store.save_sent(1, b"one")
        assert store.flush().done()
        store.save_sent(2, b"two")
        commit = store.flush()
        os.kill(applier_pid(db), signal.SIGKILL)
        with pytest.raises(StoreError, match="redo applier exited unexpectedly"):
            commit.result(timeout=30)
    with pytest.raises(StoreError, match="writer failed"):
        store.save_sent(3, b"three")
    db.close()
    with SqliteStoreDatabase(path, redo=True) as again:
        reopened = again.open_session("S")
        assert reopened.get_sent(1, 10) == [(1, b"one"), (2, b"two")]
        assert reopened.next_sender_seq() == 3


def test_the_applier_skips_records_the_database_already_holds_and_ignores_ctrl_c(tmp_path: Path) -> None:
    """An applier left over from a dead engine may get records a new engine has recovered already."""
    path = tmp_path / "j.db"
    with SqliteJournal(path, redo=True) as journal:
        journal.append(T0, "a", ["O1"], {})
        journal.flush()
    conn = sqlite3.connect(path)
    applied = int(conn.execute("SELECT value FROM meta WHERE name = 'redo_applied'").fetchone()[0])
    conn.close()
    assert applied == 1
    done: list[str] = []
    failures: list[str] = []
    heard = threading.Event()

    def on_applied(items: list[str]) -> None:
        done.extend(items)
        heard.set()

    def on_failed(error: str, items: list[str]) -> None:
        failures.append(error)
        heard.set()

    applier: RedoApplier[str] = RedoApplier("journal", path, 1000, on_applied=on_applied, on_failed=on_failed)
    # Record 1 again, with the same entry: applied twice it would break the entries' primary key.
    applier.send(1, marshal.dumps([(1, T0, "a", ("O1",), "{}")]), "again")
    assert heard.wait(timeout=30)
    assert (done, failures) == (["again"], [])
    assert applier._proc is not None
    os.kill(applier._proc.pid, signal.SIGINT)  # a Ctrl-C: the child goes on until its input ends
    heard.clear()
    applier.send(2, marshal.dumps([(2, T0, "b", ("O2",), "{}")]), "new")
    assert heard.wait(timeout=30)
    applier.close()
    assert (done, failures) == (["again", "new"], [])
    assert count(path, "SELECT count(*) FROM entries") == 2
    assert count(path, "SELECT value FROM meta WHERE name = 'redo_applied'") == 2


def test_a_database_that_never_writes_starts_no_child(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.db", redo=True) as journal:
        assert journal._applier is not None and journal._applier._proc is None
        assert list(journal.replay()) == []


@pytest.mark.parametrize("kind", ["store", "journal"])
def test_a_record_with_an_unreadable_payload_is_refused_at_open_with_the_lock_released(
        tmp_path: Path, kind: str) -> None:
    """A checksum-valid record whose payload is not what we write (a foreign or buggy writer)."""
    from metaorder.redo import RedoLog

    path = tmp_path / f"{kind}.db"
    opener = (lambda: SqliteStoreDatabase(path, redo=True)) if kind == "store" else (
        lambda: SqliteJournal(path, redo=True))
    opener().close()
    log = RedoLog(path.with_name(path.name + ".redo"))
    log.recover(0)
    log.start()
    log.append(b"not a marshalled batch")
    log.close(remove=False)
    error = StoreError if kind == "store" else JournalError
    for _ in range(2):  # the second time too: the first attempt released the lock
        with pytest.raises(error, match="cannot apply its redo log"):
            opener()


def start_journal_applier(path: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """A journal applier child on a new journal, driven by hand: (process, its input, its reports)."""
    SqliteJournal(path, redo=True).close()
    child_in, to_child = os.pipe()
    from_child, child_out = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "metaorder.redo_apply", "journal", str(path),
                             str(child_in), str(child_out), "1000"], pass_fds=(child_in, child_out))
    os.close(child_in)
    os.close(child_out)
    return proc, to_child, from_child


def test_an_applier_whose_engine_died_applies_the_complete_records_and_exits_quietly(tmp_path: Path) -> None:
    """The input just ends (no stop marker), in the middle of a record: what came whole is applied,
    the torn rest is left to the redo log (the next engine recovers it), and no error is reported."""
    path = tmp_path / "j.db"
    proc, to_child, from_child = start_journal_applier(path)
    whole = marshal.dumps([(1, T0, "a", ("O1",), "{}")])
    torn = marshal.dumps([(2, T0, "b", ("O2",), "{}")])
    os.write(to_child, struct.pack("<IQ", len(whole), 1) + whole + struct.pack("<IQ", len(torn), 2) + torn[:5])
    os.close(to_child)  # the engine dies
    assert proc.wait(timeout=30) == 0
    reports = b""
    while chunk := os.read(from_child, 4096):
        reports += chunk
    os.close(from_child)
    assert reports == struct.pack("<QQQ", 1, 1, 0)  # one commit, up to record 1; no error frame
    assert count(path, "SELECT count(*) FROM entries") == 1


def test_the_child_reports_its_commits_while_its_input_stays_open(tmp_path: Path) -> None:
    """Commits are gathered (the child waits a little between two), never withheld: with the input
    still open (no stop marker, nothing more sent), the report of the last record arrives, with no
    more reports than commits."""
    path = tmp_path / "j.db"
    proc, to_child, from_child = start_journal_applier(path)
    try:
        count_records = 40
        for rid in range(1, count_records + 1):
            payload = marshal.dumps([(rid, T0, "a", (f"O{rid}",), "{}")])
            os.write(to_child, struct.pack("<IQ", len(payload), rid) + payload)
        reports: list[tuple[int, int, int]] = []
        buf = b""
        while not reports or reports[-1][0] < count_records:
            readable, _, _ = select.select([from_child], [], [], 30)
            assert readable, f"no report of record {count_records} within 30 s: {reports}"
            buf += os.read(from_child, 4096)
            while len(buf) >= 24:
                reports.append(struct.unpack_from("<QQQ", buf))
                buf = buf[24:]
        assert count(path, "SELECT count(*) FROM entries") == count_records
        assert all(commits >= 1 for _, commits, _ in reports)
        assert [r[0] for r in reports] == sorted(r[0] for r in reports)
        assert len(reports) <= reports[-1][1]  # at most one report per commit
    finally:
        os.close(to_child)
        assert proc.wait(timeout=30) == 0
        os.close(from_child)
