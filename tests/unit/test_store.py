"""Tests of the durable FIX message store (metaorder.fix.store).

Several tests hold SQLite's write lock from a separate connection ("the blocker") so that
the writer thread cannot commit: that makes "in flight, not yet committed" and "group
commit" observable deterministically, without sleeps.  Writes themselves never reach the
writer thread: only flush() (and close()) hand a session's batch over.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaorder.fix import store as store_module
from metaorder.fix.store import (
    MemoryStore,
    SessionStore,
    SqliteStore,
    SqliteStoreDatabase,
    StoreError,
)
from tests.support import implements, write_locked
from tests.unit.unwritable import unwritable_directory, unwritable_file

KEY = "FIX.4.4:ISLD->TW44"
HUGE = 10**30  # beyond any 64-bit sequence number: FIX "to infinity"


def msg(seq: int, tag: str = "") -> bytes:
    return b"8=FIX.4.4\x019=5\x0135=D\x0134=%d\x0158=%s\x0110=000\x01" % (seq, tag.encode())


#: Tests of how flush futures follow the writer thread's commits: without a redo log only.
WRITER_ONLY = pytest.mark.parametrize("db", [False], ids=["writer"], indirect=True)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture(params=[False, True], ids=["writer", "redo"])
def db(db_path: Path, request: pytest.FixtureRequest) -> Iterator[SqliteStoreDatabase]:
    """Both ways the daemon opens a store: commits awaited on the writer thread, or a redo log first."""
    database = SqliteStoreDatabase(db_path, redo=request.param)
    yield database
    database.close()


def observable(s: SessionStore) -> tuple[int, int, str | None, list[tuple[int, bytes]]]:
    return s.next_sender_seq(), s.next_target_seq(), s.creation_time(), s.get_sent(1, HUGE)


# ----------------------------------------------------------------------------- basics


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_round_trip_of_seqs_and_messages(kind: str, tmp_path: Path) -> None:
    database = SqliteStoreDatabase(tmp_path / "s.db") if kind == "sqlite" else None
    s: SessionStore = database.open_session(KEY) if database else MemoryStore()
    assert implements(s, SessionStore)
    assert (s.next_sender_seq(), s.next_target_seq(), s.creation_time()) == (1, 1, None)
    for seq in range(1, 6):
        s.save_sent(seq, msg(seq))
    s.set_next_target_seq(42)
    s.flush().result(timeout=30)
    assert s.next_sender_seq() == 6
    assert s.next_target_seq() == 42
    assert s.get_sent(1, 5) == [(i, msg(i)) for i in range(1, 6)]
    assert s.get_sent(2, 3) == [(2, msg(2)), (3, msg(3))]
    assert s.get_sent(4, HUGE) == [(4, msg(4)), (5, msg(5))]
    assert s.get_sent(0, 1) == [(1, msg(1))]
    assert s.get_sent(6, HUGE) == []
    assert s.get_sent(3, 2) == []
    s.set_next_sender_seq(100)
    assert s.next_sender_seq() == 100
    if database:
        database.close()


def test_save_sent_overwrites_and_sets_next_sender(db: SqliteStoreDatabase) -> None:
    s = db.open_session(KEY)
    s.save_sent(10, msg(10, "a"))
    s.save_sent(3, msg(3))
    assert s.next_sender_seq() == 4  # save_sent *sets* next_sender = seq + 1
    s.save_sent(10, msg(10, "b"))
    s.flush().result(timeout=30)
    assert s.get_sent(1, HUGE) == [(3, msg(3)), (10, msg(10, "b"))]


def test_invalid_sequence_numbers_are_rejected(db: SqliteStoreDatabase) -> None:
    for s in (MemoryStore(), db.open_session(KEY)):
        with pytest.raises(ValueError):
            s.save_sent(0, b"x")
        with pytest.raises(ValueError):
            s.set_next_sender_seq(0)
        with pytest.raises(ValueError):
            s.set_next_target_seq(2**63)
        assert s.next_sender_seq() == 1


def test_memory_store_flush_is_already_done() -> None:
    s = MemoryStore()
    s.save_sent(1, b"x")
    assert s.flush().done()


@WRITER_ONLY
def test_get_sent_sees_pending_messages_before_commit(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    s.save_sent(1, msg(1))
    s.save_sent(4, msg(4))
    s.flush().result(timeout=30)
    with write_locked(db_path):
        s.save_sent(2, msg(2))
        s.save_sent(1, msg(1, "again"))  # pending overrides the committed row
        assert s.get_sent(1, HUGE) == [(1, msg(1, "again")), (2, msg(2)), (4, msg(4))]  # unflushed
        fut = s.flush()
        s.save_sent(3, msg(3))
        s.save_sent(2, msg(2, "again"))  # the unflushed batch overrides the one in flight
        # committed + in flight + unflushed, newest wins
        assert s.get_sent(1, HUGE) == [
            (1, msg(1, "again")),
            (2, msg(2, "again")),
            (3, msg(3)),
            (4, msg(4)),
        ]
        assert s.get_sent(2, 2) == [(2, msg(2, "again"))]
        fut2 = s.flush()
        waiting = s.flush()  # nothing new: waits for what is in flight
        assert not fut.done() and not fut2.done() and not waiting.done()
    waiting.result(timeout=30)
    assert fut.done() and fut2.done()
    assert s.get_sent(1, HUGE) == [(1, msg(1, "again")), (2, msg(2, "again")), (3, msg(3)), (4, msg(4))]
    assert s.flush().done()


# ----------------------------------------------------------------------------- reset


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_reset_semantics(kind: str, tmp_path: Path) -> None:
    database = SqliteStoreDatabase(tmp_path / "s.db") if kind == "sqlite" else None
    s: SessionStore = database.open_session(KEY) if database else MemoryStore()
    for seq in range(1, 4):
        s.save_sent(seq, msg(seq))
    s.set_next_target_seq(9)
    s.flush().result(timeout=30)
    s.reset("20240102-03:04:05.000")
    assert observable(s) == (1, 1, "20240102-03:04:05.000", [])
    s.save_sent(1, msg(1, "new"))
    s.flush().result(timeout=30)
    assert observable(s) == (2, 1, "20240102-03:04:05.000", [(1, msg(1, "new"))])
    if database:
        database.close()
        with SqliteStoreDatabase(tmp_path / "s.db") as again:
            assert observable(again.open_session(KEY)) == (
                2,
                1,
                "20240102-03:04:05.000",
                [(1, msg(1, "new"))],
            )


@WRITER_ONLY
def test_uncommitted_reset_hides_committed_rows(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    for seq in range(1, 6):
        s.save_sent(seq, msg(seq))
    s.flush().result(timeout=30)
    with write_locked(db_path):
        s.save_sent(6, msg(6))
        before_reset = s.flush()  # in flight, then made obsolete by the reset
        s.save_sent(7, msg(7))  # unflushed, dropped by the reset
        s.reset("T1")
        s.save_sent(1, msg(1, "after-reset"))
        assert s.get_sent(1, HUGE) == [(1, msg(1, "after-reset"))]
        fut = s.flush()
        assert s.get_sent(1, HUGE) == [(1, msg(1, "after-reset"))]  # the reset is in flight
        s.save_sent(2, msg(2, "after-reset"))
        assert s.get_sent(1, HUGE) == [(1, msg(1, "after-reset")), (2, msg(2, "after-reset"))]
        assert not before_reset.done()
    fut.result(timeout=30)
    assert s.get_sent(1, HUGE) == [(1, msg(1, "after-reset")), (2, msg(2, "after-reset"))]
    db.close()
    with SqliteStoreDatabase(db_path) as again:
        assert observable(again.open_session(KEY)) == (
            3,
            1,
            "T1",
            [(1, msg(1, "after-reset")), (2, msg(2, "after-reset"))],
        )


@WRITER_ONLY
def test_reset_then_writes_in_one_batch_leave_exactly_the_new_state(
    db: SqliteStoreDatabase, db_path: Path
) -> None:
    s = db.open_session(KEY)
    for seq in range(1, 6):
        s.save_sent(seq, msg(seq))
    s.set_next_target_seq(9)
    s.flush().result(timeout=30)
    before = db.commits
    s.save_sent(6, msg(6))  # written before the reset in the same batch: must not survive it
    s.set_next_target_seq(10)
    s.reset("T2")
    s.save_sent(1, msg(1, "new"))
    s.save_sent(2, msg(2, "new"))
    s.set_next_target_seq(3)
    s.flush().result(timeout=30)
    assert db.commits - before == 1
    expected = (3, 3, "T2", [(1, msg(1, "new")), (2, msg(2, "new"))])
    assert observable(s) == expected
    db.close()
    with SqliteStoreDatabase(db_path) as again:
        assert observable(again.open_session(KEY)) == expected


# ----------------------------------------------------------------------------- persistence


def test_reopen_after_close_keeps_everything(db_path: Path) -> None:
    with SqliteStoreDatabase(db_path, synchronous="FULL") as database:
        s = database.open_session(KEY)
        s.reset("20240101-00:00:00")
        for seq in range(1, 51):
            s.save_sent(seq, msg(seq))
        s.set_next_target_seq(33)
        s.set_next_sender_seq(60)
        # no flush: close() itself flushes and commits everything written
    with SqliteStoreDatabase(db_path) as database:
        s = database.open_session(KEY)
        assert s.next_sender_seq() == 60
        assert s.next_target_seq() == 33
        assert s.creation_time() == "20240101-00:00:00"
        assert s.get_sent(1, HUGE) == [(i, msg(i)) for i in range(1, 51)]


def test_close_persists_unflushed_writes_of_every_session(db_path: Path) -> None:
    database = SqliteStoreDatabase(db_path)
    a = database.open_session("FIX.4.4:A->B")  # flushed, then more writes that are not
    b = database.open_session("FIX.4.4:C->D")  # never flushed at all
    c = database.open_session("FIX.4.4:E->F")  # committed data, then an unflushed reset
    d = database.open_session("FIX.4.4:G->H")  # a flush still in flight at close()
    for seq in range(1, 4):
        a.save_sent(seq, msg(seq, "a"))
        c.save_sent(seq, msg(seq, "c"))
    a.flush().result(timeout=30)
    c.flush().result(timeout=30)
    a.save_sent(4, msg(4, "a"))
    a.set_next_target_seq(11)
    b.save_sent(1, msg(1, "b"))
    b.set_next_sender_seq(5)
    b.set_next_target_seq(22)
    c.reset("TC")
    c.save_sent(1, msg(1, "c-new"))
    d.save_sent(1, msg(1, "d"))
    in_flight = d.flush()
    d.save_sent(2, msg(2, "d"))
    expected = {s.key: observable(s) for s in (a, b, c, d)}
    assert expected["FIX.4.4:A->B"] == (5, 11, None, [(i, msg(i, "a")) for i in range(1, 5)])
    database.close()
    assert in_flight.result(timeout=0) is None  # close() waited for it
    with SqliteStoreDatabase(db_path) as again:
        assert {key: observable(again.open_session(key)) for key in expected} == expected


def test_two_sessions_in_one_database_are_independent(db: SqliteStoreDatabase, db_path: Path) -> None:
    a = db.open_session("FIX.4.4:A->B")
    b = db.open_session("FIX.4.4:C->D")
    assert db.open_session("FIX.4.4:A->B") is a  # same key, same source of truth
    a.save_sent(1, msg(1, "a"))
    a.save_sent(2, msg(2, "a"))
    b.save_sent(1, msg(1, "b"))
    b.set_next_target_seq(7)
    a.flush().result(timeout=30)
    b.flush().result(timeout=30)
    b.reset("T")
    b.flush().result(timeout=30)
    assert observable(a) == (3, 1, None, [(1, msg(1, "a")), (2, msg(2, "a"))])
    assert observable(b) == (1, 1, "T", [])
    db.close()
    with SqliteStoreDatabase(db_path) as again:
        assert observable(again.open_session("FIX.4.4:A->B")) == (
            3,
            1,
            None,
            [(1, msg(1, "a")), (2, msg(2, "a"))],
        )
        assert observable(again.open_session("FIX.4.4:C->D")) == (1, 1, "T", [])
        assert observable(again.open_session("FIX.4.4:never")) == (1, 1, None, [])


def test_kill_9_keeps_what_was_flushed_and_only_that(db_path: Path) -> None:
    n = 500
    src_root = Path(store_module.__file__).resolve().parents[2]
    code = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {str(src_root)!r})
        from metaorder.fix.store import SqliteStoreDatabase
        db = SqliteStoreDatabase({str(db_path)!r})
        s = db.open_session({KEY!r})
        s.reset("T0")
        for i in range(1, {n} + 1):
            s.save_sent(i, b"8=FIX.4.4\\x0134=%d\\x01" % i + b"x" * 150)
        s.set_next_target_seq(321)
        s.flush().result()
        # Written but never flushed: only in this process's memory, lost with it.
        for i in range({n} + 1, {n} + 11):
            s.save_sent(i, b"never flushed")
        s.set_next_target_seq(999)
        print("FLUSHED", flush=True)
        threading.Event().wait()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == "FLUSHED", (
            proc.stderr.read() if proc.stderr and proc.poll() is not None else line
        )
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    with SqliteStoreDatabase(db_path) as database:  # the dead process's lock is gone too
        s = database.open_session(KEY)
        assert s.next_sender_seq() == n + 1
        assert s.next_target_seq() == 321
        assert s.creation_time() == "T0"
        sent = s.get_sent(1, HUGE)
        assert [seq for seq, _ in sent] == list(range(1, n + 1))
        assert all(raw == b"8=FIX.4.4\x0134=%d\x01" % seq + b"x" * 150 for seq, raw in sent)


# ----------------------------------------------------------------------------- unusable stores


def test_garbage_file_is_a_clear_error(db_path: Path) -> None:
    db_path.write_bytes(b"this is not a database at all\x00\xff" * 100)
    with pytest.raises(StoreError, match=r"store\.db.*not an SQLite database"):
        SqliteStoreDatabase(db_path)
    assert db_path.read_bytes().startswith(b"this is not")  # never silently replaced


def _checkpointed_store_with_messages(db_path: Path) -> int:
    """Write a store big enough to have many b-tree pages, all in the main file; return page size."""
    with SqliteStoreDatabase(db_path) as database:
        s = database.open_session(KEY)
        for seq in range(1, 2001):
            s.save_sent(seq, msg(seq) * 4)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    assert db_path.stat().st_size > 20 * page_size
    return page_size


def _scribble(db_path: Path, offset: int, data: bytes) -> None:
    with db_path.open("r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def test_damaged_page_header_fails_the_integrity_check(db_path: Path) -> None:
    page_size = _checkpointed_store_with_messages(db_path)
    middle_page = db_path.stat().st_size // page_size // 2
    # Bytes 5..8 of a b-tree page header: start of cell content area and friends.
    _scribble(db_path, middle_page * page_size + 5, b"\xff\xff\xff\xff")
    with pytest.raises(StoreError, match=r"store\.db: integrity check failed: Page \d+: free space") as info:
        SqliteStoreDatabase(db_path)
    assert "\n" not in str(info.value)


def test_garbled_pages_fail_the_integrity_check(db_path: Path) -> None:
    page_size = _checkpointed_store_with_messages(db_path)
    size = db_path.stat().st_size
    _scribble(db_path, size // 2 - (size // 2) % page_size, bytes(range(256)) * (4 * page_size // 256))
    with pytest.raises(StoreError, match=r"store\.db: integrity check failed: .*malformed"):
        SqliteStoreDatabase(db_path)


def test_missing_parent_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "store.db"
    with pytest.raises(StoreError, match=r"directory .*nope does not exist"):
        SqliteStoreDatabase(path)
    assert not path.parent.exists()


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    # Runs as root too (CI does): see tests/unit/unwritable.py.
    with unwritable_directory(tmp_path) as ro:
        path = ro / "store.db"
        with pytest.raises(StoreError, match=re.escape(f"FIX store {path}: directory {ro} is not writable")):
            SqliteStoreDatabase(path)
        assert not path.exists()


def test_unwritable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteStoreDatabase(path).close()
    with unwritable_file(path), pytest.raises(StoreError, match="not readable and writable"):
        SqliteStoreDatabase(path)


def test_path_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a regular file"):
        SqliteStoreDatabase(tmp_path)


def test_unknown_schema_version_is_a_clear_error(db_path: Path) -> None:
    SqliteStoreDatabase(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match=r"store\.db.*unknown schema version '99'"):
        SqliteStoreDatabase(db_path)


def test_foreign_sqlite_database_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a metaorder store"):
        SqliteStoreDatabase(db_path)


def test_empty_file_is_a_fresh_store(db_path: Path) -> None:
    db_path.write_bytes(b"")
    with SqliteStoreDatabase(db_path) as database:
        assert observable(database.open_session(KEY)) == (1, 1, None, [])


def test_second_open_of_the_same_file_is_refused(db: SqliteStoreDatabase, db_path: Path) -> None:
    with pytest.raises(StoreError, match="already in use"):
        SqliteStoreDatabase(db_path)


@WRITER_ONLY
def test_writer_failure_fails_pending_and_later_flushes(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    s.save_sent(1, msg(1))
    s.flush().result(timeout=30)
    conn = sqlite3.connect(db_path)  # an SQLite-level write error, as a full disk would give
    conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN NEW.seq = 13 "
        "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
    )
    conn.commit()
    conn.close()
    s.save_sent(13, msg(13))
    with pytest.raises(StoreError, match=r"store\.db.*writer failed.*simulated disk full"):
        s.flush().result(timeout=30)
    with pytest.raises(StoreError, match="writer failed"):
        s.save_sent(14, msg(14))
    with pytest.raises(StoreError, match="writer failed"):
        s.flush().result(timeout=30)
    with pytest.raises(StoreError, match="writer failed"):
        db.open_session("other").flush().result(timeout=30)
    db.close()  # does not hang or raise again


def test_closed_database_refuses_writes(db_path: Path) -> None:
    database = SqliteStoreDatabase(db_path)
    s = database.open_session(KEY)
    database.close()
    database.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        s.save_sent(1, b"x")
    with pytest.raises(StoreError, match="closed"):
        database.open_session("x")


# ----------------------------------------------------------------------------- group commit


def committed_count(path: Path, key: str) -> int:
    """Messages of ``key`` in the file, read behind the store's back."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM messages WHERE key = ?", (key,)).fetchone()[0])
    finally:
        conn.close()


@WRITER_ONLY
def test_many_writes_then_one_flush_is_exactly_one_commit(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    other = db.open_session("FIX.4.4:OTHER->X")
    for seq in range(1, 1001):
        s.save_sent(seq, msg(seq))
        s.set_next_target_seq(seq + 1)
    # The writer works in queue order: had any of those writes been queued, this flush of
    # another session would resolve only after they were committed.
    other.set_next_target_seq(2)
    other.flush().result(timeout=30)
    assert committed_count(db_path, KEY) == 0  # writes alone never reach the writer thread
    before = db.commits
    s.flush().result(timeout=30)
    assert db.commits - before == 1
    assert committed_count(db_path, KEY) == 1000
    assert observable(s) == (1001, 1001, None, [(i, msg(i)) for i in range(1, 1001)])
    db.close()
    with SqliteStoreDatabase(db_path) as again:
        assert observable(again.open_session(KEY)) == (1001, 1001, None, [(i, msg(i)) for i in range(1, 1001)])


@WRITER_ONLY
def test_flushes_queued_while_the_disk_is_busy_share_one_commit(
    db: SqliteStoreDatabase, db_path: Path
) -> None:
    s = db.open_session(KEY)
    before = db.commits
    with write_locked(db_path):
        futures = []
        for seq in range(1, 1001):
            s.save_sent(seq, msg(seq))
            if seq % 10 == 0:
                futures.append(s.flush())
    for fut in futures:
        fut.result(timeout=30)
    # The writer can have taken the first batch before it blocked; the other 99 queued up
    # and went out in one more transaction.
    assert 1 <= db.commits - before <= 2
    assert len(s.get_sent(1, HUGE)) == 1000


@WRITER_ONLY
def test_group_commit_is_shared_across_sessions(db: SqliteStoreDatabase, db_path: Path) -> None:
    sessions = [db.open_session(f"FIX.4.4:S{i}->T") for i in range(10)]
    before = db.commits
    with write_locked(db_path):
        for s in sessions:
            s.save_sent(1, msg(1))
        futures = [s.flush() for s in sessions]
    for fut in futures:
        fut.result(timeout=30)
    assert 1 <= db.commits - before <= 2


def test_flush_of_an_idle_session_is_already_done(db: SqliteStoreDatabase) -> None:
    s = db.open_session(KEY)
    assert s.flush().done()
    s.save_sent(1, msg(1))
    s.flush().result(timeout=30)
    before = db.commits
    fut = s.flush()
    assert fut.done() and fut.result() is None
    assert db.commits == before


def test_back_pressure_is_per_batch_and_never_on_writes(db_path: Path) -> None:
    with SqliteStoreDatabase(db_path, max_queue=1) as database:
        s = database.open_session(KEY)
        with write_locked(db_path):
            for seq in range(1, 10_001):  # would block on the first put if writes were queued
                s.save_sent(seq, msg(seq))
                s.set_next_target_seq(seq + 1)
            first = s.flush()  # the writer takes it and waits for the lock
            s.save_sent(10_001, msg(10_001))
            second = s.flush()  # fills the queue (once the writer has taken the first)
            s.save_sent(10_002, msg(10_002))
            flushed: list[object] = []
            third = threading.Thread(target=lambda: flushed.append(s.flush()))
            third.start()
            third.join(timeout=0.3)
            assert third.is_alive(), "a flush beyond max_queue batches must wait for the writer"
            assert not first.done() and not second.done()
        third.join(timeout=30)
        assert not third.is_alive()
        for fut in (first, second, flushed[0]):
            assert isinstance(fut, concurrent.futures.Future)
            fut.result(timeout=30)
        assert observable(s) == (10_003, 10_001, None, [(i, msg(i)) for i in range(1, 10_003)])


@WRITER_ONLY
def test_flush_from_a_done_callback_is_refused(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    outcome: list[BaseException | None] = []

    def callback(_: object) -> None:  # runs on the writer thread, which must not wait on itself
        try:
            s.flush()
            outcome.append(None)
        except RuntimeError as exc:
            outcome.append(exc)

    with write_locked(db_path):
        s.save_sent(1, msg(1))
        fut = s.flush()
        fut.add_done_callback(callback)  # not done yet: the writer thread will run it
        s.save_sent(2, msg(2))  # so that the callback's flush has something to hand over
    fut.result(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)
    assert "done-callback" in str(outcome[0])
    s.flush().result(timeout=30)  # the refused flush lost nothing
    assert [seq for seq, _ in s.get_sent(1, HUGE)] == [1, 2]


def test_bounded_queue_applies_back_pressure_without_deadlock(db_path: Path) -> None:
    with SqliteStoreDatabase(db_path, max_queue=2) as database:
        s = database.open_session(KEY)
        for seq in range(1, 301):
            s.save_sent(seq, msg(seq))
            if seq % 7 == 0:
                s.flush()
        s.flush().result(timeout=30)
        assert [seq for seq, _ in s.get_sent(1, HUGE)] == list(range(1, 301))


# ----------------------------------------------------------------------------- model-based

seqs = st.integers(min_value=1, max_value=25)
ops = st.one_of(
    st.tuples(st.just("save"), seqs, st.binary(min_size=1, max_size=12)),
    st.tuples(st.just("sender"), seqs),
    st.tuples(st.just("target"), seqs),
    st.tuples(st.just("reset"), st.sampled_from(["T1", "T2", "20240101-00:00:00.000"])),
    st.tuples(st.just("flush"), st.booleans()),
    st.tuples(st.just("get"), st.integers(min_value=-2, max_value=30), st.sampled_from([0, 5, 20, 30, HUGE])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=40), st.booleans())
def test_sqlite_store_matches_memory_model(program: list[tuple[object, ...]], final_flush: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.db"
        model = MemoryStore()
        database = SqliteStoreDatabase(path)
        real: SqliteStore = database.open_session(KEY)
        try:
            for op in program:
                match op:
                    case ("save", int(seq), bytes(raw)):
                        model.save_sent(seq, raw)
                        real.save_sent(seq, raw)
                    case ("sender", int(seq)):
                        model.set_next_sender_seq(seq)
                        real.set_next_sender_seq(seq)
                    case ("target", int(seq)):
                        model.set_next_target_seq(seq)
                        real.set_next_target_seq(seq)
                    case ("reset", str(when)):
                        model.reset(when)
                        real.reset(when)
                    case ("flush", bool(wait)):
                        fut = real.flush()
                        if wait:
                            fut.result(timeout=30)
                    case ("get", int(begin), int(end)):
                        assert real.get_sent(begin, end) == model.get_sent(begin, end)
                assert (real.next_sender_seq(), real.next_target_seq(), real.creation_time()) == (
                    model.next_sender_seq(),
                    model.next_target_seq(),
                    model.creation_time(),
                )
            assert observable(real) == observable(model)
            if final_flush:  # otherwise close() must persist the unflushed writes itself
                real.flush().result(timeout=30)
                assert observable(real) == observable(model)
        finally:
            database.close()
        with SqliteStoreDatabase(path) as reopened:
            assert observable(reopened.open_session(KEY)) == observable(model)


def test_the_checkpointer_copies_the_wal_back_beside_the_writer_and_nothing_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "CHECKPOINT_ROWS", 20)
    path = tmp_path / "s.db"
    db = SqliteStoreDatabase(path)
    store = db.open_session("S")
    for seq in range(1, 101):
        store.save_sent(seq, b"8=FIX.4.4\x01" + bytes(200))
        if seq % 5 == 0:
            store.flush().result(timeout=10)
    assert db.checkpointed.wait(timeout=10)
    assert db.checkpoints >= 1
    for seq in range(101, 111):  # after a checkpoint the writer catches up and the WAL restarts
        store.save_sent(seq, b"x")
    store.flush().result(timeout=10)
    db.close()
    reopened = SqliteStoreDatabase(path)
    try:
        again = reopened.open_session("S")
        assert [s for s, _ in again.get_sent(1, 1000)] == list(range(1, 111))
        assert again.next_sender_seq() == 111
    finally:
        reopened.close()
