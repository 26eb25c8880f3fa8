"""The FIX store and the order journal with ``redo=True``: a flush is durable once it returns.

The daemon opens both this way (``synchronous = "NORMAL"``): ``flush()`` writes the batch to the
redo log and returns a resolved future; the SQLite commit follows in the applier process.  So
what ``flush()`` returned must survive a kill -9 even when the database never committed it
(here: another connection holds the write lock the whole time), be applied exactly once at the
next open, and never be lost when the database refuses it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from metaorder import redo as redo_module
from metaorder.fix import store as store_module
from metaorder.fix.store import SqliteStoreDatabase, StoreError
from metaorder.orders import journal as journal_module
from metaorder.orders.journal import JournalError, JournalReader, SqliteJournal
from tests.support import write_locked

T0 = 1_790_000_000.0


def committed_rows(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)  # a connection of its own: sees only what is committed
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def segments(db_path: Path) -> list[str]:
    return sorted(p.name for p in db_path.with_name(db_path.name + ".redo").glob("*.seg"))


def test_a_store_flush_is_resolved_while_the_database_cannot_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with SqliteStoreDatabase(path, redo=True) as db:
        store = db.open_session("S")
        with write_locked(path):
            store.save_sent(1, b"one")
            store.save_sent(2, b"two")
            store.set_next_target_seq(7)
            future = store.flush()
            assert future.done() and future.exception() is None
            assert committed_rows(path, "SELECT count(*) FROM messages") == 0
            assert store.get_sent(1, 10) == [(1, b"one"), (2, b"two")]  # in flight, still readable
    assert segments(path) == []  # closed cleanly: everything committed, the redo log emptied
    with SqliteStoreDatabase(path, redo=True) as reopened:
        again = reopened.open_session("S")
        assert again.get_sent(1, 10) == [(1, b"one"), (2, b"two")]
        assert (again.next_sender_seq(), again.next_target_seq()) == (3, 7)


def test_a_journal_flush_is_resolved_while_the_database_cannot_commit(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    with SqliteJournal(path, redo=True) as journal, write_locked(path):
        journal.append(T0, "order.new", ["O1"], {"qty": 100})
        journal.append(T0 + 1, "order.fill", ["O1"], {"qty": 40})
        future = journal.flush()
        assert future.done() and future.exception() is None
        assert committed_rows(path, "SELECT count(*) FROM entries") == 0
        assert [e.kind for e in journal.history("O1")] == ["order.new", "order.fill"]
        # An audit beside the engine reads the redo log too.
        with JournalReader(path) as reader:
            assert [e.kind for e in reader.history("O1")] == ["order.new", "order.fill"]
            assert [e.seq for e in reader.replay()] == [1, 2]
    with SqliteJournal(path, redo=True) as reopened:
        assert [(e.seq, e.data) for e in reopened.replay()] == [(1, {"qty": 100}), (2, {"qty": 40})]


def test_close_commits_what_was_written_but_not_flushed(tmp_path: Path) -> None:
    with SqliteStoreDatabase(tmp_path / "s.db", redo=True) as db:
        db.open_session("S").save_sent(1, b"one")
    with SqliteJournal(tmp_path / "j.db", redo=True) as journal:
        journal.append(T0, "order.new", ["O1"], {})
    assert committed_rows(tmp_path / "s.db", "SELECT count(*) FROM messages") == 1
    assert committed_rows(tmp_path / "j.db", "SELECT count(*) FROM entries") == 1


def test_what_a_flush_returned_survives_a_kill_9_though_nothing_was_committed(tmp_path: Path) -> None:
    """The child flushes with both databases' write locks held by another connection, says so, and
    is killed: everything flushed comes back from the redo logs, nothing unflushed does."""
    child = textwrap.dedent(f"""
        import sqlite3, sys
        from metaorder.fix.store import SqliteStoreDatabase
        from metaorder.orders.journal import SqliteJournal
        db = SqliteStoreDatabase({str(tmp_path / "s.db")!r}, redo=True)
        store = db.open_session("S")
        journal = SqliteJournal({str(tmp_path / "j.db")!r}, redo=True)
        paths = ({str(tmp_path / "s.db")!r}, {str(tmp_path / "j.db")!r})
        locks = [sqlite3.connect(p, isolation_level=None) for p in paths]
        for conn in locks:
            conn.execute("BEGIN IMMEDIATE")
        for n in range(1, 501):
            store.save_sent(n, b"m%d" % n)
            store.set_next_target_seq(n + 1)
            journal.append({T0}, "order.new", ["O%d" % n], {{"n": n}})
            if n % 50 == 0:
                assert store.flush().done() and journal.flush().done()
        store.save_sent(501, b"never flushed")
        journal.append({T0}, "order.new", ["O501"], {{"n": 501}})
        sys.stdout.write("flushed\\n")
        sys.stdout.flush()
        sys.stdin.readline()  # killed here
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"flushed\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert committed_rows(tmp_path / "s.db", "SELECT count(*) FROM messages") == 0
    with SqliteStoreDatabase(tmp_path / "s.db", redo=True) as db:
        store = db.open_session("S")
        assert [seq for seq, _ in store.get_sent(1, 1000)] == list(range(1, 501))
        assert (store.next_sender_seq(), store.next_target_seq()) == (501, 501)
    with SqliteJournal(tmp_path / "j.db", redo=True) as journal:
        assert [e.data["n"] for e in journal.replay()] == list(range(1, 501))
        assert journal.append(T0, "next", [], {}) == 501  # seqs go on after the recovered ones


def test_a_redo_record_the_database_already_has_is_not_applied_again(tmp_path: Path) -> None:
    """A kill -9 between a commit and the deletion of its segment: the state must not go back."""
    path = tmp_path / "s.db"
    saved = tmp_path / "saved"
    db = SqliteStoreDatabase(path, redo=True)
    store = db.open_session("S")
    store.set_next_target_seq(5)
    store.flush()
    store.save_sent(1, b"one")
    store.set_next_target_seq(9)
    store.flush()
    shutil.copytree(path.with_name("s.db.redo"), saved)  # the segment as the crash would leave it
    db.close()
    shutil.rmtree(path.with_name("s.db.redo"))
    shutil.copytree(saved, path.with_name("s.db.redo"))
    assert segments(path)
    with SqliteStoreDatabase(path, redo=True) as again:
        s = again.open_session("S")
        assert (s.next_target_seq(), s.get_sent(1, 10)) == (9, [(1, b"one")])
    jpath = tmp_path / "j.db"
    journal = SqliteJournal(jpath, redo=True)
    journal.append(T0, "a", ["O1"], {})
    journal.flush()
    shutil.copytree(jpath.with_name("j.db.redo"), tmp_path / "jsaved")
    journal.close()
    shutil.rmtree(jpath.with_name("j.db.redo"))
    shutil.copytree(tmp_path / "jsaved", jpath.with_name("j.db.redo"))
    with SqliteJournal(jpath, redo=True) as again_j:  # applied twice would break seq's uniqueness
        assert [e.kind for e in again_j.replay()] == ["a"]


def test_a_store_opened_without_redo_applies_a_redo_log_left_behind(tmp_path: Path) -> None:
    """Switching synchronous to FULL after a crash must not forget what the redo log holds."""
    path = tmp_path / "s.db"
    with SqliteStoreDatabase(path, redo=True) as db, write_locked(path):
        store = db.open_session("S")
        store.save_sent(1, b"one")
        store.flush()
        saved = tmp_path / "saved"
        shutil.copytree(path.with_name("s.db.redo"), saved)
    shutil.rmtree(path.with_name("s.db.redo"))
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM messages")  # as if the commit had never happened
    conn.execute("DELETE FROM meta WHERE name = 'redo_applied'")
    conn.commit()
    conn.close()
    shutil.copytree(saved, path.with_name("s.db.redo"))
    with SqliteStoreDatabase(path, synchronous="FULL") as db:
        assert db.open_session("S").get_sent(1, 10) == [(1, b"one")]
    assert not path.with_name("s.db.redo").exists()


def test_a_commit_the_database_refuses_loses_nothing_flushed(tmp_path: Path) -> None:
    """Disk full at commit: later writes fail, and the batch stays in the redo log for the next open."""
    path = tmp_path / "s.db"
    db = SqliteStoreDatabase(path, redo=True)
    store = db.open_session("S")
    conn = sqlite3.connect(path)  # an SQLite-level write error, as a full disk would give
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.seq = 2 "
                 "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END")
    conn.commit()
    store.save_sent(1, b"one")
    store.save_sent(2, b"two")
    assert store.flush().done()  # in the redo log: acknowledged
    db.close()  # waits for the writer, which fails
    with pytest.raises(StoreError, match="writer failed"):
        store.save_sent(3, b"three")
    assert committed_rows(path, "SELECT count(*) FROM messages") == 0
    assert segments(path)  # kept: the database never had it
    with pytest.raises(StoreError, match=r"cannot apply its redo log.*simulated disk full"):
        SqliteStoreDatabase(path, redo=True)
    conn.execute("DROP TRIGGER boom")
    conn.commit()
    conn.close()
    with SqliteStoreDatabase(path, redo=True) as again:
        assert again.open_session("S").get_sent(1, 10) == [(1, b"one"), (2, b"two")]


def test_a_journal_commit_failure_fails_later_appends_and_close_but_keeps_the_batch(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, redo=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'disk on fire'); END")
    conn.commit()
    journal.append(T0, "y", ["O1"], {})
    assert journal.flush().done()
    with pytest.raises(JournalError, match="writer failed: disk on fire"):
        journal.close()
    with pytest.raises(JournalError, match=r"closed|writer failed"):
        journal.append(T0, "z", [], {})
    conn.execute("DROP TRIGGER boom")
    conn.commit()
    conn.close()
    with SqliteJournal(path, redo=True) as again:
        assert [e.kind for e in again.replay()] == ["y"]


def test_a_writer_far_behind_makes_flush_wait_for_it(tmp_path: Path) -> None:
    """Back-pressure: past max_queue / 2 batches in flight, flush() returns the commit's future."""
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, redo=True, max_queue=8)
    with write_locked(path):
        futures = []
        for n in range(6):
            journal.append(T0, "x", [], {"n": n})
            futures.append(journal.flush())
        assert [f.done() for f in futures] == [True, True, True, True, False, False]
    futures[-1].result(timeout=30)
    journal.close()


def test_segments_are_deleted_once_the_database_has_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redo_module, "SEGMENT_BYTES", 2000)
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, redo=True)
    with write_locked(path):
        for _ in range(50):
            journal.append(T0, "x", [], {"pad": "x" * 200})
            journal.flush()
        assert len(segments(path)) > 3  # nothing committed: every segment is kept
    for _ in range(50):  # committing now: the old segments go as the writer catches up
        journal.append(T0, "x", [], {"pad": "x" * 200})
        journal.flush()
    journal.close()
    assert segments(path) == []
    with JournalReader(path) as reader:
        assert len(list(reader.replay())) == 100


@pytest.mark.parametrize("kind", ["store", "journal"])
def test_the_wal_restarts_while_the_writer_keeps_committing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Checkpoints under a steady flow of commits must still let the WAL restart at its start.

    (A checkpointer that finished the job on its own connection left the WAL growing by every
    page ever written: the writer has to copy the last frames itself.)  A steady flow: each flush
    waits while two are uncommitted, so the applier commits a few records at a time, as under load,
    not a whole round in one transaction (which leaves it one chance per round to restart the WAL).
    """
    path = tmp_path / f"{kind}.db"
    if kind == "store":
        monkeypatch.setattr(store_module, "CHECKPOINT_ROWS", 50)
        db = SqliteStoreDatabase(path, redo=True, max_queue=2)  # flush() waits once 2 are in flight
        store = db.open_session("S")
        checkpointed = db.checkpointed
        seq = iter(range(1, 1_000_000))

        def commit() -> None:
            for _ in range(5):
                store.save_sent(next(seq), b"8=FIX.4.4\x01" + bytes(200))
            store.flush().result(timeout=30)

        close = db.close
    else:
        monkeypatch.setattr(journal_module, "CHECKPOINT_ROWS", 50)
        journal = SqliteJournal(path, redo=True, max_queue=2)
        checkpointed = journal.checkpointed
        n = iter(range(1_000_000))

        def commit() -> None:
            for _ in range(5):
                journal.append(T0, "x", [f"O{next(n)}", "P1"], {"pad": "x" * 200})
            journal.flush().result(timeout=30)

        close = journal.close
    wal_file = Path(f"{path}-wal")
    restarts_before = wal_restarts(wal_file)
    for _ in range(20):  # rounds of ~3 checkpoints' worth of rows, a checkpoint awaited in each
        checkpointed.clear()
        for _ in range(30):
            commit()
        assert checkpointed.wait(timeout=10)
    restarts = wal_restarts(wal_file) - restarts_before
    close()
    # Back-to-back checkpoints can hold a restart off for a round or two; never for good.
    assert restarts >= 5, restarts


def wal_restarts(wal_file: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL restarts."""
    return int.from_bytes(wal_file.read_bytes()[12:16], "big")


@pytest.mark.parametrize(("synchronous", "redo"), [("NORMAL", True), ("FULL", False)])
def test_the_daemon_puts_a_redo_log_before_normal_stores_only(tmp_path: Path, synchronous: str, redo: bool) -> None:
    from metaorder.serving import open_stores

    db, _ = open_stores(tmp_path / "s.db", synchronous, ["S"])
    assert db is not None
    try:
        assert (tmp_path / "s.db.redo").is_dir() is redo
    finally:
        db.close()
