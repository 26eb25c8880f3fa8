"""Tests of the durable FIX message store (metaorder.fix.store).

Several tests hold SQLite's write lock from a separate connection ("the blocker") so that
the writer thread cannot commit: that makes "pending, not yet committed" and "group commit"
observable deterministically, without sleeps.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
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

KEY = "FIX.4.4:ISLD->TW44"
HUGE = 10**30  # beyond any 64-bit sequence number: FIX "to infinity"


def msg(seq: int, tag: str = "") -> bytes:
    return b"8=FIX.4.4\x019=5\x0135=D\x0134=%d\x0158=%s\x0110=000\x01" % (seq, tag.encode())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[SqliteStoreDatabase]:
    database = SqliteStoreDatabase(db_path)
    yield database
    database.close()


@contextlib.contextmanager
def writer_blocked(path: Path) -> Iterator[None]:
    """Hold the database write lock so the writer thread waits before its next commit."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def observable(s: SessionStore) -> tuple[int, int, str | None, list[tuple[int, bytes]]]:
    return s.next_sender_seq(), s.next_target_seq(), s.creation_time(), s.get_sent(1, HUGE)


# ----------------------------------------------------------------------------- basics


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_round_trip_of_seqs_and_messages(kind: str, tmp_path: Path) -> None:
    database = SqliteStoreDatabase(tmp_path / "s.db") if kind == "sqlite" else None
    s: SessionStore = database.open_session(KEY) if database else MemoryStore()
    assert isinstance(s, SessionStore)
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


def test_get_sent_sees_pending_messages_before_commit(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    s.save_sent(1, msg(1))
    s.flush().result(timeout=30)
    with writer_blocked(db_path):
        s.save_sent(2, msg(2))
        s.save_sent(1, msg(1, "again"))  # pending overrides the committed row
        fut = s.flush()
        assert s.get_sent(1, HUGE) == [(1, msg(1, "again")), (2, msg(2))]
        assert s.get_sent(2, 2) == [(2, msg(2))]
        assert not fut.done()
    fut.result(timeout=30)
    assert s.get_sent(1, HUGE) == [(1, msg(1, "again")), (2, msg(2))]


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


def test_uncommitted_reset_hides_committed_rows(db: SqliteStoreDatabase, db_path: Path) -> None:
    s = db.open_session(KEY)
    for seq in range(1, 6):
        s.save_sent(seq, msg(seq))
    s.flush().result(timeout=30)
    with writer_blocked(db_path):
        s.save_sent(6, msg(6))  # pending, then dropped by the reset
        s.reset("T1")
        s.save_sent(1, msg(1, "after-reset"))
        assert s.get_sent(1, HUGE) == [(1, msg(1, "after-reset"))]
        fut = s.flush()
    fut.result(timeout=30)
    assert s.get_sent(1, HUGE) == [(1, msg(1, "after-reset"))]
    db.close()
    with SqliteStoreDatabase(db_path) as again:
        assert observable(again.open_session(KEY)) == (2, 1, "T1", [(1, msg(1, "after-reset"))])


# ----------------------------------------------------------------------------- persistence


def test_reopen_after_close_keeps_everything(db_path: Path) -> None:
    with SqliteStoreDatabase(db_path, synchronous="FULL") as database:
        s = database.open_session(KEY)
        s.reset("20240101-00:00:00")
        for seq in range(1, 51):
            s.save_sent(seq, msg(seq))
        s.set_next_target_seq(33)
        s.set_next_sender_seq(60)
        # no flush: close() itself commits everything queued
    with SqliteStoreDatabase(db_path) as database:
        s = database.open_session(KEY)
        assert s.next_sender_seq() == 60
        assert s.next_target_seq() == 33
        assert s.creation_time() == "20240101-00:00:00"
        assert s.get_sent(1, HUGE) == [(i, msg(i)) for i in range(1, 51)]


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


def test_survives_kill_9_after_flush(db_path: Path) -> None:
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


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="not writable"):
            SqliteStoreDatabase(ro / "store.db")
    finally:
        ro.chmod(0o755)


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


def test_group_commit_batches_many_writes_into_few_transactions(
    db: SqliteStoreDatabase, db_path: Path
) -> None:
    s = db.open_session(KEY)
    before = db.commits
    with writer_blocked(db_path):
        for seq in range(1, 1001):
            s.save_sent(seq, msg(seq))
        fut = s.flush()
    fut.result(timeout=30)
    # The writer can have taken at most the first few writes before it blocked; the rest
    # queued up and went out in one more transaction.
    assert 1 <= db.commits - before <= 2
    assert len(s.get_sent(1, HUGE)) == 1000


def test_group_commit_is_shared_across_sessions(db: SqliteStoreDatabase, db_path: Path) -> None:
    sessions = [db.open_session(f"FIX.4.4:S{i}->T") for i in range(10)]
    before = db.commits
    with writer_blocked(db_path):
        for s in sessions:
            s.save_sent(1, msg(1))
        futures = [s.flush() for s in sessions]
    for fut in futures:
        fut.result(timeout=30)
    assert 1 <= db.commits - before <= 2


def test_unblocked_writes_still_batch(db: SqliteStoreDatabase) -> None:
    s = db.open_session(KEY)
    before = db.commits
    for seq in range(1, 1001):
        s.save_sent(seq, msg(seq))
    s.flush().result(timeout=30)
    assert db.commits - before < 500


def test_flush_of_an_idle_session_is_already_done(db: SqliteStoreDatabase) -> None:
    s = db.open_session(KEY)
    assert s.flush().done()
    s.save_sent(1, msg(1))
    s.flush().result(timeout=30)
    before = db.commits
    fut = s.flush()
    assert fut.done() and fut.result() is None
    assert db.commits == before


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
@given(st.lists(ops, max_size=40))
def test_sqlite_store_matches_memory_model(program: list[tuple[object, ...]]) -> None:
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
            real.flush().result(timeout=30)
            assert observable(real) == observable(model)
        finally:
            database.close()
        with SqliteStoreDatabase(path) as reopened:
            assert observable(reopened.open_session(KEY)) == observable(model)
