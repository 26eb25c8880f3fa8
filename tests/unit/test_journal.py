"""Tests of the order journal (metaorder.orders.journal).

As in the FIX store tests, several tests hold SQLite's write lock from a separate connection
("the blocker") so that the writer thread cannot commit: that makes "in flight, not yet
committed" and "group commit" observable deterministically, without sleeps.  Appends never
reach the writer thread: only flush() and close() hand entries over.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaorder.fix.store import SqliteStoreDatabase
from metaorder.orders import journal as journal_module
from metaorder.orders.journal import (
    Journal,
    JournalEntry,
    JournalError,
    JournalReader,
    MemoryJournal,
    SqliteJournal,
    decode_data,
    encode_data,
    json_default,
)
from metaorder.orders.model import Side, Strategy
from tests.support import implements, pure_python_only, write_locked
from tests.unit.unwritable import unwritable_directory, unwritable_file

T0 = 1_700_000_000.125


#: Tests of how flush futures follow the writer thread's commits: without a redo log only.
WRITER_ONLY = pytest.mark.parametrize("journal", [False], ids=["writer"], indirect=True)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


@pytest.fixture(params=[False, True], ids=["writer", "redo"])
def journal(path: Path, request: pytest.FixtureRequest) -> Iterator[SqliteJournal]:
    """Both ways the daemon opens a journal: commits awaited on the writer thread, or a redo log first."""
    j = SqliteJournal(path, redo=request.param)
    yield j
    j.close()


@pytest.fixture(params=["memory", "sqlite"])
def any_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    j: Journal = MemoryJournal() if request.param == "memory" else SqliteJournal(tmp_path / "j.db")
    yield j
    j.close()


def committed_count(path: Path) -> int:
    """Entries in the file, read behind the journal's back."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM entries").fetchone()[0])
    finally:
        conn.close()


def fill(i: int) -> dict[str, Any]:
    return {"qty": 100 + i, "px": Decimal("187.25") + Decimal(i) / 100, "side": Side.BUY}


# ----------------------------------------------------------------------------- payloads


def test_both_journals_satisfy_the_protocol(path: Path) -> None:
    with SqliteJournal(path) as j:
        assert implements(j, Journal)
    assert implements(MemoryJournal(), Journal)


def test_round_trip_keeps_decimals_exact_as_strings_and_enums_as_values(any_journal: Journal) -> None:
    decimals = {
        "limit": Decimal("101.2500"),
        "tiny": Decimal("1E-12"),
        "huge": Decimal("123456789012345678901234567890.123456789"),
        "neg_zero": Decimal("-0.00"),
    }
    data = {
        **decimals,
        "side": Side.SELL,
        "strategy": Strategy.VWAP,
        "nested": {"legs": [{"px": Decimal("0.1")}, (1, 2)], "rate": 0.1, "none": None, "flag": True},
        "text": "ünïcode ✓",
    }
    seq = any_journal.append(T0, "order.accepted", ["O1"], data)
    any_journal.flush().result(timeout=10)
    [entry] = list(any_journal.replay())
    assert entry == JournalEntry(
        seq,
        T0,
        "order.accepted",
        ("O1",),
        {
            "limit": "101.2500",
            "tiny": "1E-12",
            "huge": "123456789012345678901234567890.123456789",
            "neg_zero": "-0.00",
            "side": "2",
            "strategy": "1",
            "nested": {"legs": [{"px": "0.1"}, [1, 2]], "rate": 0.1, "none": None, "flag": True},
            "text": "ünïcode ✓",
        },
    )
    for key, value in decimals.items():
        back = Decimal(entry.data[key])
        assert back == value and back.as_tuple() == value.as_tuple()  # exponent too
    assert Side(entry.data["side"]) is Side.SELL


def test_round_trip_survives_reopen(path: Path) -> None:
    with SqliteJournal(path) as j:
        j.append(T0, "fill", ("O1", "P1"), {"px": Decimal("99.990"), "side": Side.SELL_SHORT})
    with SqliteJournal(path) as j:
        [entry] = list(j.replay())
    assert entry == JournalEntry(1, T0, "fill", ("O1", "P1"), {"px": "99.990", "side": "5"})


def test_payload_is_a_snapshot_taken_at_append(any_journal: Journal) -> None:
    data: dict[str, Any] = {"legs": [1]}
    any_journal.append(T0, "x", ["O1"], data)
    data["legs"].append(2)
    data["late"] = True
    assert [e.data for e in any_journal.replay()] == [{"legs": [1]}]


def test_every_read_decodes_a_fresh_payload(any_journal: Journal) -> None:
    any_journal.append(T0, "x", ["O1"], {"a": [1]})
    first = any_journal.history("O1")[0]
    first.data["a"].append(99)
    assert any_journal.history("O1")[0].data == {"a": [1]}


def test_other_mappings_are_accepted_as_payloads(any_journal: Journal) -> None:
    any_journal.append(T0, "x", [], MappingProxyType({"inner": MappingProxyType({"px": Decimal("1.5")})}))
    assert [e.data for e in any_journal.replay()] == [{"inner": {"px": "1.5"}}]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((T0, "x", ["O1"], {"bad": object()}), TypeError),
        ((T0, "x", ["O1"], {"bad": {1, 2}}), TypeError),
        ((T0, "x", ["O1"], {"nan": float("nan")}), ValueError),
        ((T0, "x", ["O1"], [("not", "a mapping")]), TypeError),
        ((float("inf"), "x", ["O1"], {}), ValueError),
        (("1700000000", "x", ["O1"], {}), TypeError),
        pytest.param((True, "x", ["O1"], {}), TypeError, marks=pure_python_only),
        ((T0, "", ["O1"], {}), ValueError),
        ((T0, "x", "O1", {}), TypeError),
        ((T0, "x", ["O1", ""], {}), ValueError),
        ((T0, "x", ["O1", 7], {}), (ValueError, TypeError)),  # TypeError where compiled code checks the str
    ],
)
def test_invalid_appends_fail_at_the_caller_and_use_no_seq(
    any_journal: Journal, args: tuple[Any, ...], error: type[Exception] | tuple[type[Exception], ...]
) -> None:
    with pytest.raises(error):
        any_journal.append(*args)
    assert any_journal.append(T0, "ok", ["O1"], {}) == 1
    any_journal.flush().result(timeout=10)  # the writer was never given the bad entry
    assert [e.kind for e in any_journal.replay()] == ["ok"]


def test_integer_times_are_stored_as_floats(any_journal: Journal) -> None:
    any_journal.append(1_700_000_000, "x", [], {})
    [entry] = list(any_journal.replay())
    assert entry.time == 1_700_000_000.0 and type(entry.time) is float


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.decimals(allow_nan=False)
    | st.sampled_from(Side),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _json_values, max_size=6))
def test_the_fast_encoder_writes_exactly_what_the_public_json_encoder_writes(data: dict[str, Any]) -> None:
    expected = json.dumps(
        data, default=json_default, separators=(",", ":"), ensure_ascii=False, check_circular=False, allow_nan=False
    )
    assert encode_data(data) == expected
    assert decode_data(encode_data(data)) == json.loads(expected)


def test_encoding_helpers_match_what_is_stored() -> None:
    text = encode_data({"px": Decimal("1.10"), "side": Side.BUY})
    assert text == '{"px":"1.10","side":"1"}'
    assert decode_data(text) == {"px": "1.10", "side": "1"}
    with pytest.raises(JournalError, match="not a JSON object"):
        decode_data("[1]")


# ----------------------------------------------------------------------------- sequence and reads


def test_seqs_are_strictly_increasing_from_one(any_journal: Journal) -> None:
    seqs = [any_journal.append(T0 + i, "x", [], {"i": i}) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]


def test_seq_numbering_continues_after_reopen(path: Path) -> None:
    with SqliteJournal(path) as j:
        assert [j.append(T0, "a", ["O1"], {}) for _ in range(3)] == [1, 2, 3]
    with SqliteJournal(path) as j:
        assert j.append(T0, "b", ["O1"], {}) == 4
        assert [(e.seq, e.kind) for e in j.replay()] == [(1, "a"), (2, "a"), (3, "a"), (4, "b")]
    with SqliteJournal(path) as j:
        assert j.append(T0, "c", [], {}) == 5


def test_replay_yields_every_entry_in_seq_order(any_journal: Journal) -> None:
    for i in range(50):
        any_journal.append(T0 + i, f"k{i % 3}", [f"O{i % 7}"], {"i": i})
        if i % 10 == 9:
            any_journal.flush()
    entries = list(any_journal.replay())
    assert [e.seq for e in entries] == list(range(1, 51))
    assert [e.data["i"] for e in entries] == list(range(50))
    assert [e.time for e in entries] == [T0 + i for i in range(50)]


def test_replay_reads_in_chunks_without_missing_or_repeating(
    journal: SqliteJournal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal_module, "REPLAY_CHUNK", 7)
    for i in range(100):
        journal.append(T0, "x", [], {"i": i})
        if i in (20, 69):  # exactly 10 chunks committed, then a partial tail in flight and pending
            journal.flush().result(timeout=10)
    assert [e.seq for e in journal.replay()] == list(range(1, 101))


def test_replay_covers_what_was_appended_before_the_call_only(any_journal: Journal) -> None:
    any_journal.append(T0, "before", [], {})
    entries = any_journal.replay()
    any_journal.append(T0, "after", [], {})
    any_journal.flush().result(timeout=10)
    assert [e.kind for e in entries] == ["before"]


def test_history_returns_every_entry_of_an_order_in_seq_order(any_journal: Journal) -> None:
    j = any_journal
    j.append(T0 + 0, "order.received", ["O1"], {})
    j.append(T0 + 1, "order.received", ["O2"], {})
    j.append(T0 + 2, "parent.created", ["P1", "O1", "O2"], {"qty": 300})
    j.append(T0 + 3, "fill", ["P1"], {"qty": 100})
    j.append(T0 + 4, "allocation", ["P1", "O2", "O2"], {"qty": 100})  # a repeated id counts once
    j.append(T0 + 5, "cancel", ["O1"], {})
    j.flush().result(timeout=10)
    j.append(T0 + 6, "order.done", ["O2"], {})  # not flushed: the audit still sees it
    assert [(e.seq, e.kind) for e in j.history("O1")] == [(1, "order.received"), (3, "parent.created"), (6, "cancel")]
    assert [(e.seq, e.kind) for e in j.history("O2")] == [
        (2, "order.received"),
        (3, "parent.created"),
        (5, "allocation"),
        (7, "order.done"),
    ]
    assert [e.seq for e in j.history("P1")] == [3, 4, 5]
    assert j.history("P1")[2].order_ids == ("P1", "O2")
    assert j.history("nobody") == []


def test_entries_without_orders_are_replayed_but_in_no_history(any_journal: Journal) -> None:
    any_journal.append(T0, "risk.limits.changed", [], {"max_notional": Decimal("1e6")})
    assert [e.order_ids for e in any_journal.replay()] == [()]


def test_history_after_reopen_reads_the_index(path: Path) -> None:
    with SqliteJournal(path) as j:
        for i in range(200):
            j.append(T0 + i, "x", [f"O{i % 10}", "P"], {"i": i})
    with SqliteJournal(path) as j:
        assert [e.data["i"] for e in j.history("O3")] == list(range(3, 200, 10))
        assert len(j.history("P")) == 200


# ----------------------------------------------------------------------------- flush and group commit


def test_memory_journal_flush_is_already_done() -> None:
    fut = MemoryJournal().flush()
    assert fut.done() and fut.result() is None


@WRITER_ONLY
def test_flush_future_resolves_only_once_the_entries_are_committed(journal: SqliteJournal, path: Path) -> None:
    journal.append(T0, "x", ["O1"], {})
    with write_locked(path):
        fut = journal.flush()
        with pytest.raises(concurrent.futures.TimeoutError):
            fut.result(timeout=0.2)
        assert committed_count(path) == 0
        # Reads see the entry while it is in flight.
        assert [e.seq for e in journal.replay()] == [1]
        assert [e.seq for e in journal.history("O1")] == [1]
    fut.result(timeout=10)
    assert committed_count(path) == 1
    assert not fut.cancel()  # a flush is a fact about the disk, not a request


@WRITER_ONLY
def test_flush_with_nothing_pending_follows_the_newest_batch_in_flight(journal: SqliteJournal, path: Path) -> None:
    assert journal.flush().done()  # idle: nothing to wait for
    journal.append(T0, "x", [], {})
    with write_locked(path):
        fut = journal.flush()
        again = journal.flush()
        assert again is fut and not again.done()
    again.result(timeout=10)
    assert journal.flush().done()


@WRITER_ONLY
def test_appends_alone_never_reach_the_disk(journal: SqliteJournal, path: Path) -> None:
    for i in range(100):
        journal.append(T0, "x", [], {"i": i})
    assert committed_count(path) == 0
    journal.flush().result(timeout=10)
    assert committed_count(path) == 100


@WRITER_ONLY
def test_many_appends_then_one_flush_is_exactly_one_commit(journal: SqliteJournal) -> None:
    before = journal.commits
    for i in range(1000):
        journal.append(T0, "x", [f"O{i}"], {"i": i})
    journal.flush().result(timeout=10)
    assert journal.commits - before == 1


@WRITER_ONLY
def test_flushes_queued_while_the_disk_is_busy_share_one_commit(journal: SqliteJournal, path: Path) -> None:
    before = journal.commits
    with write_locked(path):
        futures = []
        for i in range(1000):
            journal.append(T0, "x", [], {"i": i})
            if i % 10 == 9:
                futures.append(journal.flush())
    for fut in futures:
        fut.result(timeout=10)
    # The writer can have taken the first batch before it blocked; the other 99 went in one more.
    assert 1 <= journal.commits - before <= 2
    assert committed_count(path) == 1000


@WRITER_ONLY
def test_a_flush_covers_entries_appended_before_it_on_other_threads(journal: SqliteJournal, path: Path) -> None:
    journal.append(T0, "first", [], {})
    with write_locked(path):
        other = journal.flush()  # another thread's flush, in flight
        journal.append(T0, "second", [], {})
        mine = journal.flush()
    mine.result(timeout=10)
    assert other.done()
    assert committed_count(path) == 2


def test_concurrent_appends_get_unique_seqs_and_all_become_durable(path: Path) -> None:
    threads_n, per_thread = 8, 500
    with SqliteJournal(path) as j:

        def work(t: int) -> list[int]:
            seqs = []
            for i in range(per_thread):
                seqs.append(j.append(T0, "x", [f"T{t}"], {"i": i}))
                if i % 50 == 49:
                    j.flush()
            j.flush().result(timeout=30)
            return seqs

        with concurrent.futures.ThreadPoolExecutor(threads_n) as pool:
            results = list(pool.map(work, range(threads_n)))
        all_seqs = sorted(s for seqs in results for s in seqs)
        assert all_seqs == list(range(1, threads_n * per_thread + 1))
        for t, seqs in enumerate(results):
            assert seqs == sorted(seqs)
            assert [e.data["i"] for e in j.history(f"T{t}")] == list(range(per_thread))
    assert committed_count(path) == threads_n * per_thread


def test_back_pressure_on_a_full_queue_does_not_deadlock(path: Path) -> None:
    with SqliteJournal(path, max_queue=2) as j:
        with write_locked(path):
            producer_done = threading.Event()

            def produce() -> None:
                for i in range(10):
                    j.append(T0, "x", [], {"i": i})
                    j.flush()  # blocks once two batches wait
                producer_done.set()

            thread = threading.Thread(target=produce)
            thread.start()
            assert not producer_done.wait(timeout=0.3)
        thread.join(timeout=10)
        assert producer_done.is_set()
        j.flush().result(timeout=10)
    assert committed_count(path) == 10


@WRITER_ONLY
def test_flush_or_close_from_a_done_callback_is_refused(journal: SqliteJournal, path: Path) -> None:
    errors: list[BaseException] = []

    def callback(_: object) -> None:  # runs on the writer thread, which must not wait on itself
        journal.append(T0, "y", [], {})
        for action in (journal.flush, journal.close):
            try:
                action()
            except RuntimeError as exc:
                errors.append(exc)

    journal.append(T0, "x", [], {})
    with write_locked(path):  # registered before the commit: the callback runs on the writer thread
        fut = journal.flush()
        fut.add_done_callback(callback)
    fut.result(timeout=10)
    journal.flush().result(timeout=10)  # the entry appended in the callback was not lost
    assert len(errors) == 2
    assert [e.kind for e in journal.replay()] == ["x", "y"]


# ----------------------------------------------------------------------------- close


def test_close_commits_everything_appended(path: Path) -> None:
    j = SqliteJournal(path)
    for i in range(10):
        j.append(T0, "x", ["O1"], {"i": i})
    j.close()
    assert committed_count(path) == 10
    assert not Path(str(path) + "-wal").exists() or Path(str(path) + "-wal").stat().st_size == 0


def test_close_is_idempotent_and_a_closed_journal_refuses_use(path: Path) -> None:
    j = SqliteJournal(path)
    j.close()
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.append(T0, "x", [], {})
    with pytest.raises(JournalError, match="closed"):
        j.replay()
    with pytest.raises(JournalError, match="closed"):
        j.history("O1")
    assert j.flush().done()  # nothing was pending


def test_closed_memory_journal_refuses_appends_but_can_still_be_read() -> None:
    j = MemoryJournal()
    j.append(T0, "x", ["O1"], {})
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.append(T0, "y", [], {})
    assert [e.kind for e in j.history("O1")] == ["x"]


def test_close_releases_the_lock(path: Path) -> None:
    SqliteJournal(path).close()
    SqliteJournal(path).close()


# ----------------------------------------------------------------------------- crash


def test_kill_9_keeps_every_flushed_entry_and_numbering_continues(path: Path) -> None:
    n = 2000
    src_root = Path(journal_module.__file__).resolve().parents[2]
    code = textwrap.dedent(
        f"""
        import sys, threading
        from decimal import Decimal
        sys.path.insert(0, {str(src_root)!r})
        from metaorder.orders.journal import SqliteJournal
        j = SqliteJournal({str(path)!r})
        for i in range(1, {n} + 1):
            j.append(1700000000.0 + i, "fill", ["O%d" % (i % 10), "P1"], {{"i": i, "px": Decimal("1.%04d" % i)}})
            if i % 100 == 0:
                j.flush()
        j.flush().result()
        # Appended but never flushed: only in this process's memory, lost with it.
        for i in range(10):
            j.append(1.0, "never.flushed", ["O1"], {{}})
        print("FLUSHED", flush=True)
        threading.Event().wait()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        line = proc.stdout.readline() if ready else ""
        assert line.strip() == "FLUSHED", proc.stderr.read() if proc.stderr and proc.poll() is not None else line
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    with SqliteJournal(path) as j:  # the dead process's lock is gone too
        entries = list(j.replay())
        assert [e.seq for e in entries] == list(range(1, n + 1))
        assert all(e.data == {"i": e.seq, "px": f"1.{e.seq:04d}"} for e in entries)
        assert all(e.time == 1_700_000_000.0 + e.seq for e in entries)
        assert [e.seq for e in j.history("O1")] == list(range(1, n + 1, 10))
        assert j.append(T0, "after.restart", ["O1"], {}) == n + 1


# ----------------------------------------------------------------------------- unusable files


def test_missing_file_is_created(path: Path) -> None:
    assert not path.exists()
    with SqliteJournal(path) as j:
        assert list(j.replay()) == []
    assert path.exists()


def test_empty_file_is_a_fresh_journal(path: Path) -> None:
    path.write_bytes(b"")
    with SqliteJournal(path) as j:
        assert j.append(T0, "x", [], {}) == 1


def test_garbage_file_is_a_clear_error(path: Path) -> None:
    path.write_bytes(b"this is not a database at all\x00\xff" * 100)
    with pytest.raises(JournalError, match=r"journal\.db: file is not an SQLite database"):
        SqliteJournal(path)
    assert path.read_bytes().startswith(b"this is not")  # never silently replaced


def test_foreign_sqlite_database_is_refused(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orders (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=r"not a metaorder journal \(no meta table\)"):
        SqliteJournal(path)


def test_a_fix_store_is_not_mistaken_for_a_journal(path: Path) -> None:
    SqliteStoreDatabase(path).close()
    with pytest.raises(JournalError, match=r"not a metaorder journal \(format None\)"):
        SqliteJournal(path)


def test_unknown_schema_version_is_a_clear_error(path: Path) -> None:
    SqliteJournal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=r"journal\.db: unknown schema version '99' \(this build supports 1\)"):
        SqliteJournal(path)


def test_a_new_journal_records_the_event_format_version_it_is_written_in(path: Path) -> None:
    SqliteJournal(path).close()
    conn = sqlite3.connect(path)
    [(stored,)] = conn.execute("SELECT value FROM meta WHERE name = 'event_version'").fetchall()
    conn.close()
    assert stored == str(journal_module.EVENT_VERSION) == "1"
    with SqliteJournal(path) as journal, JournalReader(path) as reader:
        assert journal.event_version == reader.event_version == 1
    assert MemoryJournal().event_version == journal_module.EVENT_VERSION


def test_a_journal_written_before_the_event_version_was_recorded_is_version_1(path: Path) -> None:
    with SqliteJournal(path) as journal:
        journal.append(T0, "engine.started", [], {"orders": 0})
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE name = 'event_version'")
    conn.commit()
    conn.close()
    with SqliteJournal(path) as journal, JournalReader(path) as reader:
        assert journal.event_version == reader.event_version == 1
        assert [e.kind for e in journal.replay()] == ["engine.started"]


@pytest.mark.parametrize("stored", ["2", "0", "one", ""])
def test_an_event_version_this_build_does_not_read_is_refused_at_open(path: Path, stored: str) -> None:
    SqliteJournal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE name = 'event_version'", (stored,))
    conn.commit()
    conn.close()
    message = rf"journal\.db: its events are in format version '{stored}', which this build does not read"
    with pytest.raises(JournalError, match=message):
        SqliteJournal(path)
    with pytest.raises(JournalError, match=message):
        JournalReader(path)


def test_missing_table_is_a_clear_error(path: Path) -> None:
    SqliteJournal(path).close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE entry_orders")
    conn.commit()
    conn.close()
    with pytest.raises(JournalError, match=r"missing tables \['entry_orders'\]"):
        SqliteJournal(path)


def _checkpointed_journal(path: Path) -> int:
    """Write a journal big enough to have many b-tree pages, all in the main file; return page size."""
    with SqliteJournal(path) as j:
        for i in range(3000):
            j.append(T0, "fill", [f"O{i}"], {"pad": "x" * 100})
    conn = sqlite3.connect(path)
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    conn.close()
    assert path.stat().st_size > 20 * page_size
    return page_size


def test_damaged_pages_fail_the_integrity_check_on_one_line(path: Path) -> None:
    page_size = _checkpointed_journal(path)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(size // 2 - (size // 2) % page_size)
        fh.write(bytes(range(256)) * (4 * page_size // 256))
    with pytest.raises(JournalError, match=r"journal\.db: integrity check failed: ") as info:
        SqliteJournal(path)
    assert "\n" not in str(info.value)


def test_a_damaged_file_opens_unverified_for_a_snapshot_restart_and_the_reader_check_finds_the_damage(
        path: Path) -> None:
    """A restart from a recovery snapshot skips the whole-file check (it reads only the tail); the
    snapshotter's reader runs it beside the engine and says the same thing."""
    page_size = _checkpointed_journal(path)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.seek(size // 2 - (size // 2) % page_size)
        fh.write(bytes(range(256)) * (4 * page_size // 256))
    SqliteJournal(path, verify=False).close()
    with JournalReader(path) as reader, pytest.raises(JournalError, match=r"journal\.db: integrity check failed: "):
        reader.check()


def test_second_open_of_the_same_file_is_refused(journal: SqliteJournal, path: Path) -> None:
    with pytest.raises(JournalError, match=r"journal\.db: already in use"):
        SqliteJournal(path)


def test_missing_parent_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "journal.db"
    with pytest.raises(JournalError, match=r"directory .*nope does not exist"):
        SqliteJournal(path)
    assert not path.parent.exists()


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    # Runs as root too (CI does): see tests/unit/unwritable.py.
    with unwritable_directory(tmp_path) as ro:
        path = ro / "journal.db"
        with pytest.raises(JournalError, match=re.escape(f"journal {path}: directory {ro} is not writable")):
            SqliteJournal(path)
        assert not path.exists()


def test_unwritable_file_is_a_clear_error(path: Path) -> None:
    SqliteJournal(path).close()
    with unwritable_file(path), pytest.raises(JournalError, match="not readable and writable"):
        SqliteJournal(path)


def test_path_that_is_a_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="not a regular file"):
        SqliteJournal(tmp_path)


def test_invalid_options_are_refused(path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SqliteJournal(path, "OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_queue"):
        SqliteJournal(path, max_queue=0)


@WRITER_ONLY
def test_writer_failure_fails_flushes_appends_and_close(journal: SqliteJournal, path: Path) -> None:
    journal.append(T0, "x", [], {})
    journal.flush().result(timeout=10)
    conn = sqlite3.connect(path)  # an SQLite-level write error, as a full disk would give
    conn.execute("CREATE TRIGGER boom BEFORE INSERT ON entries BEGIN SELECT RAISE(FAIL, 'disk on fire'); END")
    conn.commit()
    conn.close()
    journal.append(T0, "y", [], {})
    with pytest.raises(JournalError, match="writer failed: disk on fire"):
        journal.flush().result(timeout=10)
    with pytest.raises(JournalError, match="writer failed"):
        journal.flush().result(timeout=10)
    with pytest.raises(JournalError, match="writer failed"):
        journal.append(T0, "z", [], {})
    with pytest.raises(JournalError, match="writer failed"):
        journal.close()
    journal.close()  # the second close has nothing more to say


# ----------------------------------------------------------------------------- checkpoints


def test_the_checkpointer_copies_the_wal_back_and_nothing_is_lost(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "CHECKPOINT_ROWS", 20)
    j = SqliteJournal(path)
    for i in range(100):
        j.append(T0, "x", ["O1"], {"pad": "x" * 200})
        if i % 5 == 4:
            j.flush().result(timeout=10)
    assert j.checkpointed.wait(timeout=10)
    assert j.checkpoints >= 1
    for _ in range(10):  # after a checkpoint the writer catches up and the WAL restarts
        j.append(T0, "y", ["O1"], {})
    j.flush().result(timeout=10)
    j.close()
    with SqliteJournal(path) as again:
        assert [e.seq for e in again.history("O1")] == list(range(1, 111))


# ----------------------------------------------------------------------------- read-only audit


def test_reader_audits_a_journal_while_the_engine_holds_it(journal: SqliteJournal, path: Path) -> None:
    journal.append(T0, "order.received", ["O1"], {"px": Decimal("1.50")})
    journal.append(T0 + 1, "fill", ["O1", "P1"], {})
    journal.flush().result(timeout=10)
    journal.append(T0 + 2, "unflushed", ["O1"], {})
    with JournalReader(path) as reader:
        assert [(e.seq, e.kind) for e in reader.history("O1")] == [(1, "order.received"), (2, "fill")]
        assert [e.seq for e in reader.replay()] == [1, 2]
        assert reader.history("O1")[0].data == {"px": "1.50"}
    journal.flush().result(timeout=10)  # the engine carries on undisturbed
    assert journal.append(T0, "x", [], {}) == 4


def test_reader_replays_in_chunks(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "REPLAY_CHUNK", 3)
    with SqliteJournal(path) as j:
        for i in range(10):
            j.append(T0, "x", [], {"i": i})
    with JournalReader(path) as reader:
        assert [e.seq for e in reader.replay()] == list(range(1, 11))


def test_reader_never_creates_or_accepts_a_non_journal(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="file does not exist"):
        JournalReader(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(JournalError, match="file is empty"):
        JournalReader(tmp_path / "empty.db")
    SqliteStoreDatabase(tmp_path / "fix.db").close()
    with pytest.raises(JournalError, match="not a metaorder journal"):
        JournalReader(tmp_path / "fix.db")
