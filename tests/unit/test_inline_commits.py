"""The FIX store and the order journal with ``inline=True``: the commit runs inside ``flush()``.

The daemon opens both this way (``synchronous = "NORMAL"``): what ``flush()`` returns must then
already be on disk, for another connection and for a process that dies right after it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from metaorder.fix import store as store_module
from metaorder.fix.store import SqliteStoreDatabase, StoreError
from metaorder.orders import journal as journal_module
from metaorder.orders.journal import JournalError, SqliteJournal

T0 = 1_790_000_000.0


def writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if "writer" in t.name}


def new_writer_threads(before: set[threading.Thread]) -> set[str]:
    """Names of writer threads started since ``before`` (another test's may still be closing)."""
    return {t.name for t in writer_threads() - before}


def committed_rows(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)  # a connection of its own: sees only what is committed
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def test_a_store_flush_returns_committed_and_no_writer_thread_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    before = writer_threads()
    with SqliteStoreDatabase(path, inline=True) as db:
        assert new_writer_threads(before) == set()
        store = db.open_session("S")
        store.save_sent(1, b"one")
        store.save_sent(2, b"two")
        store.set_next_target_seq(7)
        future = store.flush()
        assert future.done() and future.exception() is None
        assert committed_rows(path, "SELECT count(*) FROM messages") == 2
        assert committed_rows(path, "SELECT next_target FROM sessions") == 7
        assert store.flush().done()  # nothing new: an idle flush costs nothing and is resolved
    with SqliteStoreDatabase(path, inline=True) as reopened:
        again = reopened.open_session("S")
        assert again.get_sent(1, 10) == [(1, b"one"), (2, b"two")]
        assert (again.next_sender_seq(), again.next_target_seq()) == (3, 7)


def test_a_journal_flush_returns_committed_and_no_writer_thread_runs(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    before = writer_threads()
    with SqliteJournal(path, inline=True) as journal:
        assert new_writer_threads(before) == set()
        journal.append(T0, "order.new", ["O1"], {"qty": 100})
        journal.append(T0 + 1, "order.fill", ["O1"], {"qty": 40})
        future = journal.flush()
        assert future.done() and future.exception() is None
        assert committed_rows(path, "SELECT count(*) FROM entries") == 2
        assert [e.kind for e in journal.history("O1")] == ["order.new", "order.fill"]
    with SqliteJournal(path, inline=True) as reopened:
        assert [(e.seq, e.data) for e in reopened.replay()] == [(1, {"qty": 100}), (2, {"qty": 40})]


def test_close_commits_what_was_written_but_not_flushed(tmp_path: Path) -> None:
    with SqliteStoreDatabase(tmp_path / "s.db", inline=True) as db:
        db.open_session("S").save_sent(1, b"one")
    with SqliteJournal(tmp_path / "j.db", inline=True) as journal:
        journal.append(T0, "order.new", ["O1"], {})
    assert committed_rows(tmp_path / "s.db", "SELECT count(*) FROM messages") == 1
    assert committed_rows(tmp_path / "j.db", "SELECT count(*) FROM entries") == 1


def test_an_inline_store_commit_failure_fails_that_flush_and_every_later_write(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    db = SqliteStoreDatabase(path, inline=True)
    store = db.open_session("S")
    store.save_sent(1, b"one")
    store.flush().result()
    conn = sqlite3.connect(path)  # an SQLite-level write error, as a full disk would give
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.seq = 2 "
                 "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END")
    conn.commit()
    conn.close()
    store.save_sent(2, b"two")
    with pytest.raises(StoreError, match=r"writer failed.*simulated disk full"):
        store.flush().result()
    with pytest.raises(StoreError, match="writer failed"):
        store.save_sent(3, b"three")
    db.close()
    assert committed_rows(path, "SELECT count(*) FROM messages") == 1  # the failed batch is not half in


def test_an_inline_journal_commit_failure_fails_flushes_appends_and_close(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    journal = SqliteJournal(path, inline=True)
    journal.append(T0, "x", [], {})
    journal.flush().result()
    conn = sqlite3.connect(path)
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'disk on fire'); END")
    conn.commit()
    conn.close()
    journal.append(T0, "y", [], {})
    with pytest.raises(JournalError, match="writer failed: disk on fire"):
        journal.flush().result()
    with pytest.raises(JournalError, match="writer failed"):
        journal.append(T0, "z", [], {})
    with pytest.raises(JournalError, match="writer failed"):
        journal.close()


def test_what_an_inline_flush_returned_survives_a_kill_9(tmp_path: Path) -> None:
    """The child flushes, says so, and is killed at once: both files hold everything flushed."""
    child = textwrap.dedent(f"""
        import os, sys
        from metaorder.fix.store import SqliteStoreDatabase
        from metaorder.orders.journal import SqliteJournal
        db = SqliteStoreDatabase({str(tmp_path / "s.db")!r}, inline=True)
        store = db.open_session("S")
        journal = SqliteJournal({str(tmp_path / "j.db")!r}, inline=True)
        for n in range(1, 501):
            store.save_sent(n, b"m%d" % n)
            journal.append({T0}, "order.new", ["O%d" % n], {{"n": n}})
            if n % 50 == 0:
                assert store.flush().done() and journal.flush().done()
        store.save_sent(501, b"never flushed")
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
    with SqliteStoreDatabase(tmp_path / "s.db", inline=True) as db:
        assert [seq for seq, _ in db.open_session("S").get_sent(1, 1000)] == list(range(1, 501))
    with SqliteJournal(tmp_path / "j.db", inline=True) as journal:
        assert [e.data["n"] for e in journal.replay()] == list(range(1, 501))


@pytest.mark.parametrize("kind", ["store", "journal"])
def test_the_wal_restarts_while_an_inline_writer_keeps_committing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """Checkpoints under a steady flow of commits must still let the WAL restart at its start.

    (A checkpointer that finished the job on its own connection left the WAL growing by every
    page ever written: the writer has to copy the last frames itself.)
    """
    path = tmp_path / f"{kind}.db"
    if kind == "store":
        monkeypatch.setattr(store_module, "CHECKPOINT_ROWS", 50)
        db = SqliteStoreDatabase(path, inline=True)
        store = db.open_session("S")
        checkpointed = db.checkpointed
        seq = iter(range(1, 1_000_000))

        def commit() -> None:
            for _ in range(5):
                store.save_sent(next(seq), b"8=FIX.4.4\x01" + bytes(200))
            store.flush()

        close = db.close
    else:
        monkeypatch.setattr(journal_module, "CHECKPOINT_ROWS", 50)
        journal = SqliteJournal(path, inline=True)
        checkpointed = journal.checkpointed
        n = iter(range(1_000_000))

        def commit() -> None:
            for _ in range(5):
                journal.append(T0, "x", [f"O{next(n)}", "P1"], {"pad": "x" * 200})
            journal.flush()

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


@pytest.mark.parametrize(("synchronous", "threads"), [("NORMAL", set()), ("FULL", {"fix-store-writer:s.db"})])
def test_the_daemon_commits_normal_stores_inline_and_fsyncing_ones_on_a_writer_thread(
        tmp_path: Path, synchronous: str, threads: set[str]) -> None:
    from metaorder.daemon import open_stores

    before = writer_threads()
    db, _ = open_stores(tmp_path / "s.db", synchronous, ["S"])
    assert db is not None
    try:
        assert new_writer_threads(before) == threads
    finally:
        db.close()
