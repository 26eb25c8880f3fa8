"""Durable FIX message store: sequence numbers and sent messages, per session.

Why this module exists
----------------------
A FIX session must survive a restart (and a ``kill -9``) without losing its sequence
numbers, and it must be able to answer a ResendRequest with the messages it really sent.
Two rules follow:

* A message is in the store *before* it reaches the socket.  The session layer calls
  :meth:`SessionStore.save_sent`, then waits for :meth:`SessionStore.flush` before it lets
  the bytes go out (or before it acknowledges anything that depends on them).
* A store that is corrupt or unusable fails loudly with :class:`StoreError`.  A silent
  reset to sequence number 1 would make the counterparty drop or re-process messages,
  which is far worse for a trading system than refusing to start.

Threading model (why there is one writer thread)
------------------------------------------------
The session layer is sans-IO and the transport is asyncio; neither may block on disk I/O.
:class:`SqliteStoreDatabase` therefore owns exactly one writer thread, shared by every
session in the database file.

Writes are cheap on the calling thread: ``save_sent``, ``set_next_*`` and ``reset`` only
update the session's memory (an attribute, a dict entry) -- no lock, no queue.  Each
``flush()`` hands everything the session wrote since its previous flush to the writer as
ONE immutable batch (its messages, whether a reset came first, and the final sequence
state), together with the flush future.  The writer takes every batch queued at that
moment, from any number of sessions, applies them in one transaction (``executemany``),
commits once and then resolves their futures (group commit).  Under load this turns
thousands of messages into a handful of fsyncs, and the engine's hot path into a few
hundred nanoseconds per message.

Because the queue is bounded (``max_queue`` batches), a producer that outruns the disk
blocks in ``flush()`` until the writer has taken the next group.  That pause is at most
about one commit long; it is deliberate back-pressure, so that memory cannot grow without
bound when the disk is slow.  Flush futures are resolved *on the writer thread*: their
done-callbacks must be cheap and must not use the store (``asyncio.wrap_future`` already
hops back to the event loop, which is the intended use); a flush from there raises
RuntimeError rather than waiting on its own queue.

``redo=True`` (what the daemon uses with ``synchronous = "NORMAL"``): ``flush()`` writes the
session's batch to a redo log beside the file (:mod:`metaorder.redo`: one ``os.write``, in the
page cache and safe from a kill -9 when it returns) and returns a resolved future; a child
process (:mod:`metaorder.redo_apply`, which gets the same record over a pipe) commits it moments
later with ``synchronous = FULL``, and the redo segment is deleted once the database has it.
There is no writer thread then: the commits no longer share this process's interpreter lock.
The event loop never waits for a commit nor for a checkpoint's fsyncs (which, with commits on
its thread, were half of the intake's p99).  Redo records the
database does not have yet are applied when the file is next opened, before anything is read.

Sequence numbers live in memory in each :class:`SqliteStore` and are authoritative for
reads; the writer persists them.  ``get_sent`` reads committed rows through a read-only
connection owned by the calling thread (WAL lets it read while the writer writes) and
merges the messages of batches still in flight and of the unflushed batch, so a resend
never misses a message that was saved but not yet committed.

What survives what
------------------
* ``flush()``'s future resolved: everything written on that session before the flush() call
  is committed and survives a ``kill -9`` (and, with ``"FULL"``, power loss).
* Written but not flushed: held in this process's memory only.  A ``kill -9`` (or any
  crash) loses it -- and only it, plus flushed batches whose future had not resolved yet.
  That is the contract the transport relies on: it never sends bytes before the flush
  covering them has resolved, so nothing the counterparty saw is ever lost.
* :meth:`SqliteStoreDatabase.close`: flushes every session's unflushed writes and commits
  them before the writer stops, so a clean shutdown loses nothing that was written.

Durability trade-off (``synchronous``)
--------------------------------------
The database runs in WAL mode.

* ``"NORMAL"`` (default): a commit is written to the WAL file and handed to the operating
  system, but not fsync'ed on every commit.  That survives a process crash or
  ``kill -9`` — the data is in the OS page cache and reaches disk anyway — but the last
  commits may be lost on power loss or a kernel crash.
* ``"FULL"``: every commit fsyncs the WAL.  That also survives power loss, at the price
  of one fsync per group commit; batching keeps this affordable under load.

Times
-----
This module never reads a clock.  ``creation_time`` values are supplied by the caller
(from the session's injected clock), which keeps tests deterministic.

What the integrity check can and cannot see
-------------------------------------------
At open, ``PRAGMA quick_check`` verifies the b-tree structure, so a damaged page or a
truncated file stops the engine with :class:`StoreError`.  SQLite keeps no checksums of
page contents, though: bytes flipped inside a stored message are not detected.  A torn
write at the end of the WAL (crash mid-commit) is detected by the WAL's own frame
checksums and that uncommitted tail is discarded, which is exactly the crash semantics
promised above.  quick_check reads the whole file, so start-up time grows with the store;
resetting sessions (which deletes their messages) keeps it small.

A lock file (``<path>.lock``, ``flock``-ed where available) keeps two engine processes
(or two database objects in one process) from writing the same store, which would
otherwise interleave sequence numbers without any error.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import marshal
import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal, NamedTuple, Protocol

from metaorder.redo import RedoError, RedoLog
from metaorder.redo_apply import RECOVERY_ERRORS, RedoApplier, completed_future, open_redo_log, settle
from metaorder.wal import (
    MultiRowInsert,
    WalCheckpointer,
    commit_group,
    integrity_problem,
    lock_exclusively,
    take_queued,
)

__all__ = [
    "SCHEMA_VERSION",
    "MemoryStore",
    "SessionStore",
    "SqliteStore",
    "SqliteStoreDatabase",
    "StoreError",
]

#: Schema version written to (and required from) the ``meta`` table.
SCHEMA_VERSION: Final = 1
#: Rows (plus one per commit) written between two WAL checkpoints.  Small checkpoints often
#: rather than big ones rarely: a checkpoint's fsync stalls the commits writing beside it for
#: as long as it runs, and that grows with the WAL written since the last (at 5,000 orders/s:
#: p99.9 5.5-11 ms at 1,000 rows, 8.5-18 ms at 4,000, 33-41 ms at 20,000).  A WAL of a few MB.
CHECKPOINT_ROWS = 1000  # not Final: compiled code would inline it, and tests set it smaller

#: SQLite integers are signed 64-bit; FIX "infinity" ranges are clamped to this.
_MAX_SEQ: Final = 2**63 - 1

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"

_SCHEMA: Final = (
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE sessions ("
    " key TEXT PRIMARY KEY,"
    " next_sender INTEGER NOT NULL,"
    " next_target INTEGER NOT NULL,"
    " creation_time TEXT)",
    "CREATE TABLE messages ("
    " key TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " raw BLOB NOT NULL,"
    " PRIMARY KEY (key, seq)) WITHOUT ROWID",
)


_INSERT_MESSAGES: Final = MultiRowInsert("INSERT OR REPLACE INTO messages (key, seq, raw)", 3)


class StoreError(Exception):
    """The store cannot be used; the message names the file and what is wrong.

    Raised instead of ever resetting sequence numbers silently: a human has to look.
    """


class SessionStore(Protocol):
    """Store of one FIX session (identified by a string key such as 'FIX.4.4:ISLD->TW44').

    All reads are answered synchronously from memory or from committed data plus pending
    writes; all writes are buffered and become durable only through the next flush():
    what was written before a flush() call is durable once its future has resolved.
    """

    def next_sender_seq(self) -> int:
        """Sequence number the next outgoing message will carry."""
        ...

    def next_target_seq(self) -> int:
        """Sequence number expected on the next incoming message."""
        ...

    def set_next_sender_seq(self, seq: int) -> None:
        """Override the outgoing sequence number (e.g. after a SequenceReset we sent)."""
        ...

    def set_next_target_seq(self, seq: int) -> None:
        """Record that incoming messages up to ``seq - 1`` have been processed."""
        ...

    def save_sent(self, seq: int, raw: bytes) -> None:
        """Store the encoded message and set next_sender_seq to ``seq + 1``."""
        ...

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Sent messages with ``begin <= seq <= end``, ascending; ``end`` may be huge."""
        ...

    def reset(self, creation_time: str) -> None:
        """Sequence numbers back to 1/1 and drop sent messages (ResetSeqNumFlag / ResetOnLogon)."""
        ...

    def creation_time(self) -> str | None:
        """Time of the last reset as given by the caller, or None if never reset."""
        ...

    def flush(self) -> concurrent.futures.Future[None]:
        """Future resolved once everything written on this session before this call is durable."""
        ...


# --------------------------------------------------------------------------- helpers


def _check_seq(seq: int, what: str) -> None:
    """Reject sequence numbers FIX cannot carry, before they reach memory or disk."""
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise TypeError(f"{what} must be an int, got {type(seq).__name__}")
    if not 1 <= seq <= _MAX_SEQ:
        raise ValueError(f"{what} must be between 1 and {_MAX_SEQ}, got {seq}")


def _clamp_range(begin: int, end: int) -> tuple[int, int] | None:
    """Clamp a resend range to valid sequence numbers; None if it is empty."""
    begin = max(begin, 1)
    end = min(end, _MAX_SEQ)
    if begin > end:
        return None
    return begin, end


def _in_range(msgs: dict[int, bytes], begin: int, end: int) -> dict[int, bytes]:
    """Messages of ``msgs`` within [begin, end], scanning whichever side is smaller."""
    if end - begin + 1 < len(msgs):
        return {s: msgs[s] for s in range(begin, end + 1) if s in msgs}
    return {s: raw for s, raw in msgs.items() if begin <= s <= end}


# --------------------------------------------------------------------------- MemoryStore


class MemoryStore:
    """Non-durable store: for tests, and for running without ``--store``.

    It is also the reference model against which :class:`SqliteStore` is property-tested,
    so its semantics are the specification.
    """

    def __init__(self) -> None:
        self._next_sender = 1
        self._next_target = 1
        self._creation_time: str | None = None
        self._messages: dict[int, bytes] = {}

    def next_sender_seq(self) -> int:
        return self._next_sender

    def next_target_seq(self) -> int:
        return self._next_target

    def set_next_sender_seq(self, seq: int) -> None:
        _check_seq(seq, "next sender seq")
        self._next_sender = seq

    def set_next_target_seq(self, seq: int) -> None:
        _check_seq(seq, "next target seq")
        self._next_target = seq

    def save_sent(self, seq: int, raw: bytes) -> None:
        _check_seq(seq, "seq")
        if seq == _MAX_SEQ:
            raise ValueError("seq leaves no room for a next sender seq")
        self._messages[seq] = bytes(raw)
        self._next_sender = seq + 1

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        rng = _clamp_range(begin, end)
        if rng is None:
            return []
        return sorted(_in_range(self._messages, *rng).items())

    def reset(self, creation_time: str) -> None:
        self._next_sender = 1
        self._next_target = 1
        self._creation_time = creation_time
        self._messages.clear()

    def creation_time(self) -> str | None:
        return self._creation_time

    def flush(self) -> concurrent.futures.Future[None]:
        """Nothing to make durable: an already-completed future."""
        return completed_future()


# --------------------------------------------------------------------------- SQLite

#: (next_sender, next_target, creation_time) of a session as of a flush.
_State = tuple[int, int, str | None]


class SqliteStore:
    """Durable store of one session, created by :meth:`SqliteStoreDatabase.open_session`.

    Use one store from one thread at a time (the event loop thread), the *owner*: the order
    of writes is the order in which that thread makes them.  Different sessions may live
    on different threads.

    Writes only change memory on the owner thread (no lock, no queue): sequence numbers
    are set, messages go into the unflushed batch.  :meth:`flush` hands that batch to the
    writer thread as one queue item.  The writer shares exactly one thing back: it sets
    ``_committed_id`` (one attribute store) after each commit; the owner compares it with
    the ids of the batches it handed over to know which are still in flight.
    """

    def __init__(self, db: SqliteStoreDatabase, key: str, state: _State) -> None:
        self._db = db
        self._key = key
        self._next_sender, self._next_target, self._creation_time = state
        # The unflushed batch, owner thread only.
        self._rows: dict[int, bytes] = {}  # messages saved since the last flush (and the last reset)
        self._reset = False  # a reset is among the unflushed writes
        self._dirty = False  # a sequence number or reset changed since the last flush
        # Batches handed to the writer, oldest first, owner thread only; some may already be
        # committed (batch_id <= _committed_id) and are dropped whenever the owner looks.
        self._in_flight: deque[_Batch] = deque()
        self._last_batch_id = 0
        self._committed_id = 0  # written by the writer thread only: newest committed batch_id

    @property
    def key(self) -> str:
        """The session key this store belongs to."""
        return self._key

    # -- reads -------------------------------------------------------------------------

    def next_sender_seq(self) -> int:
        return self._next_sender

    def next_target_seq(self) -> int:
        return self._next_target

    def creation_time(self) -> str | None:
        return self._creation_time

    def get_sent(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """Committed rows merged with in-flight batches and the unflushed batch (newest wins).

        The in-flight batches are determined *before* the database is read: a batch
        committed in between is then applied twice, which changes nothing (applying a
        batch is idempotent), and never missed.  A reset that is not committed yet hides
        the committed rows and everything written before it.
        """
        rng = _clamp_range(begin, end)
        if rng is None:
            return []
        lo, hi = rng
        layers = [(b.reset, b.rows) for b in self._prune()]
        layers.append((self._reset, self._rows))
        start = 0
        for i in range(len(layers) - 1, -1, -1):
            if layers[i][0]:
                start = i
                break
        hidden = layers[start][0]
        merged: dict[int, bytes] = {} if hidden else dict(self._db._read_sent(self._key, lo, hi))
        for _, rows in layers[start:]:
            if rows:
                merged.update(_in_range(rows, lo, hi))
        return sorted(merged.items())

    # -- writes: memory only, on the owner thread -------------------------------------

    def set_next_sender_seq(self, seq: int) -> None:
        if type(seq) is not int or not 0 < seq <= _MAX_SEQ:
            _check_seq(seq, "next sender seq")
        db = self._db
        if db._failure is not None or db._closed:
            db._check_writable()
        self._next_sender = seq
        self._dirty = True

    def set_next_target_seq(self, seq: int) -> None:
        if type(seq) is not int or not 0 < seq <= _MAX_SEQ:
            _check_seq(seq, "next target seq")
        db = self._db
        if db._failure is not None or db._closed:
            db._check_writable()
        self._next_target = seq
        self._dirty = True

    def save_sent(self, seq: int, raw: bytes) -> None:
        if type(seq) is not int or not 0 < seq < _MAX_SEQ:
            _check_seq(seq, "seq")
            if seq == _MAX_SEQ:
                raise ValueError("seq leaves no room for a next sender seq")
        db = self._db
        if db._failure is not None or db._closed:
            db._check_writable()
        self._next_sender = seq + 1
        # An exact bytes object is immutable and kept as is; anything else is copied.
        self._rows[seq] = raw if type(raw) is bytes else bytes(raw)

    def reset(self, creation_time: str) -> None:
        db = self._db
        if db._failure is not None or db._closed:
            db._check_writable()
        self._next_sender = 1
        self._next_target = 1
        self._creation_time = creation_time
        self._rows.clear()  # still owner-only: not handed over yet
        self._reset = True
        self._dirty = True

    def flush(self) -> concurrent.futures.Future[None]:
        """Hand everything written since the last flush to the writer, as one batch.

        The future resolves once everything written on this session before this call is
        committed (and with ``synchronous="FULL"``, fsync'ed).  Writes are held only in this
        process's memory until a flush hands them over, so a ``kill -9`` loses exactly the
        writes made after the last flush() (plus flushed batches whose future had not yet
        resolved); :meth:`SqliteStoreDatabase.close` flushes every session first, so a clean
        close loses nothing.

        If nothing was written and nothing is in flight, the future is already resolved, so
        an idle session costs the writer nothing; if nothing was written but a batch is in
        flight, the future of the newest such batch is returned.  After a writer failure
        every flush fails with StoreError, even an idle one: the failure must reach whoever
        is still relying on the store.  The queue put may block briefly when the writer is
        ``max_queue`` batches behind (back-pressure).
        """
        db = self._db
        if db._failure is not None:
            return completed_future(db._failed_error())
        if self._dirty or self._rows:
            if db._closed:  # only reachable by racing close() from another thread
                return completed_future(StoreError(f"FIX store {db.path}: database is closed"))
            db._check_not_writer()  # before the batch is taken: a refused flush loses nothing
            fut: concurrent.futures.Future[None] = concurrent.futures.Future()
            # Running futures cannot be cancelled: a flush is a fact about the disk, not a request.
            fut.set_running_or_notify_cancel()
            if db._enqueue(self._take_batch(fut, self._rows)):
                return completed_future()  # in the redo log: durable now, committed moments later
            return fut
        in_flight = self._prune()
        if not in_flight or (db._redo is not None and len(in_flight) <= db._max_lag):
            return completed_future()
        # FIFO queue, one writer: the newest batch resolves after all older ones are committed.
        return in_flight[-1].future

    def _take_batch(self, fut: concurrent.futures.Future[None], rows: dict[int, bytes]) -> _Batch:
        """Turn the unflushed writes into a batch, remember it as in flight, start a new one."""
        self._last_batch_id += 1
        batch = _Batch(
            self,
            self._last_batch_id,
            self._reset,
            rows,
            (self._next_sender, self._next_target, self._creation_time),
            fut,
        )
        self._rows = {}
        self._reset = False
        self._dirty = False
        self._prune().append(batch)
        return batch

    def _flush_for_close(self) -> None:
        """Hand the unflushed batch over on behalf of close(), possibly from another thread.

        The rows are copied (one atomic C-level copy): a write racing with close() on the
        owner thread must not change a dict the writer is reading.  Such a racing write may
        be lost, but its own flush() then fails, so nothing was sent that depended on it.
        """
        if self._dirty or self._rows:
            fut: concurrent.futures.Future[None] = concurrent.futures.Future()
            fut.set_running_or_notify_cancel()
            self._db._enqueue(self._take_batch(fut, dict(self._rows)))

    def _prune(self) -> deque[_Batch]:
        """The batches still in flight, after dropping those the writer reported committed."""
        in_flight = self._in_flight
        committed = self._committed_id  # read once: the writer may advance it meanwhile
        while in_flight and in_flight[0].batch_id <= committed:
            in_flight.popleft()
        return in_flight


class _Batch(NamedTuple):
    """Everything one session wrote between two flushes: ONE queue item for the writer thread.

    Immutable once handed over: the session starts a new ``rows`` dict and never touches
    this one again, so the writer can read it without a lock.  Applying a batch means:
    delete the session's messages if ``reset`` (a reset drops every message before it, so
    the messages written before the last reset of the batch are not in it at all), upsert
    ``rows``, and store ``state``, the session's sequence state at the flush, which is
    consistent with the messages of the same batch.
    """

    store: SqliteStore
    batch_id: int  # per session, increasing: the writer reports commits by this id
    reset: bool
    rows: dict[int, bytes]  # seq -> raw, in write order (a re-saved seq keeps its place)
    state: _State
    future: concurrent.futures.Future[None]


#: ``None`` on the queue tells the writer to commit what it has and stop.
_Item = _Batch | None


class SqliteStoreDatabase:
    """One SQLite file holding every session's store, with its one writer thread (and a redo log).

    Construction validates the file and raises :class:`StoreError` if it cannot be used;
    a missing file is created (the normal first start).  ``max_queue`` is the number of
    flushed batches (not writes) that may wait for the writer before ``flush()`` blocks.
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        *,
        max_queue: int = 65536,
        redo: bool = False,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if max_queue < 1:
            raise ValueError("max_queue must be positive")
        self._path = Path(path)
        # With a redo log the database is what lets a segment be deleted: it must be fsync'ed.
        self._synchronous = "FULL" if redo else synchronous
        self._redo_lock = threading.Lock()  # redo record order = queue order, whichever thread
        self._stopping = False  # the writer's stop marker is queued (under _redo_lock)
        self._lock_fd = self._check_and_lock(self._path)
        self._redo: RedoLog | None = None
        try:
            self._writer_conn = self._open_and_validate()
            self._redo, _ = open_redo_log(self._writer_conn, self._path, redo, apply_redo_payloads,
                                          self._synchronous)
        except RECOVERY_ERRORS as exc:
            self._writer_conn.close()
            os.close(self._lock_fd)
            raise StoreError(f"FIX store {self._path}: cannot apply its redo log: {exc}") from exc
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._max_lag = max(1, max_queue // 2)  # in-flight batches per session before flush() waits
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max_queue)
        self._sessions: dict[str, SqliteStore] = {}
        self._registry_lock = threading.Lock()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._commits = 0
        self._failure: BaseException | None = None
        self._closed = False
        self._writer: threading.Thread | None = None
        self._writer_ident: int | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._applier: RedoApplier[_Batch] | None = None
        if self._redo is not None:  # commits in a child process: see metaorder.redo_apply
            self._applier = RedoApplier("store", self._path, CHECKPOINT_ROWS,
                                        on_applied=self._on_applied, on_failed=self._on_applier_failed)
            #: Set after every background checkpoint (observability and tests: wait on it, don't poll).
            self.checkpointed = self._applier.checkpointed
            return
        self._checkpointer = WalCheckpointer(
            self._path, f"fix-store-checkpointer:{self._path.name}", CHECKPOINT_ROWS
        )
        self.checkpointed = self._checkpointer.checkpointed
        self._writer = threading.Thread(
            target=self._run_writer, name=f"fix-store-writer:{self._path.name}", daemon=True
        )
        self._writer.start()
        self._writer_ident = self._writer.ident

    # -- public ------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def checkpoints(self) -> int:
        """Number of WAL checkpoints run in the background so far."""
        if self._applier is not None:
            return self._applier.checkpoints
        assert self._checkpointer is not None
        return self._checkpointer.checkpoints

    @property
    def commits(self) -> int:
        """Number of write transactions committed so far: shows how well group commit batches."""
        return self._applier.commits if self._applier is not None else self._commits

    def open_session(self, key: str) -> SqliteStore:
        """The store of session ``key``, loaded from the file (fresh at 1/1 if unknown).

        Opening the same key twice returns the same object, so a reconnecting session
        keeps one source of truth for its sequence numbers.
        """
        with self._registry_lock:
            if self._closed:
                raise StoreError(f"FIX store {self._path}: database is closed")
            store = self._sessions.get(key)
            if store is not None:
                return store
            try:
                row = (
                    self._reader()
                    .execute(
                        "SELECT next_sender, next_target, creation_time FROM sessions WHERE key = ?",
                        (key,),
                    )
                    .fetchone()
                )
            except sqlite3.Error as exc:
                raise StoreError(f"FIX store {self._path}: cannot read session {key!r}: {exc}") from exc
            state: _State = (1, 1, None) if row is None else (int(row[0]), int(row[1]), row[2])
            store = SqliteStore(self, key, state)
            self._sessions[key] = store
            return store

    def close(self) -> None:
        """Flush every session's unflushed writes, commit, stop the writer, close all connections.

        Nothing written before close() is lost: each session's unflushed batch is handed to
        the writer first and committed with the rest.  Idempotent.  A writer failure is not
        raised again here: it has already failed every flush future and every later write.
        """
        with self._registry_lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions.values())
        if self._failure is None:
            for store in sessions:
                store._flush_for_close()
        with self._redo_lock:  # no batch can be queued (nor written to the redo log) after the marker
            self._stopping = True
            if self._writer is not None:
                self._queue.put(None)
        if self._applier is not None:
            self._applier.close()  # waits for the child to commit everything sent and exit
        if self._writer is not None:
            self._writer.join()
        if self._checkpointer is not None:
            self._checkpointer.stop()  # after the writer: nothing is committed any more
        if self._redo is not None:  # everything is committed unless the writer failed
            self._redo.close(remove=self._failure is None)
        # A flush racing with close() from another thread may have landed after the stop
        # marker: its future must not hang forever.
        try:
            while True:
                item = self._queue.get_nowait()
                if item is not None:
                    item.future.set_exception(StoreError(f"FIX store {self._path}: database is closed"))
        except queue.Empty:
            pass
        if self._failure is None and self._applier is None:  # (the applier does it itself)
            with contextlib.suppress(sqlite3.Error):  # tidy, not essential: the WAL is valid as it is
                self._writer_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._writer_conn.close()
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns.clear()
        os.close(self._lock_fd)

    def __enter__(self) -> SqliteStoreDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- opening and validation --------------------------------------------------------

    @staticmethod
    def _check_and_lock(path: Path) -> int:
        """Fail early, with a message a human understands, on problems SQLite words badly."""
        parent = path.parent
        if not parent.is_dir():
            raise StoreError(f"FIX store {path}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise StoreError(f"FIX store {path}: directory {parent} is not writable")
        if path.exists():
            if not path.is_file():
                raise StoreError(f"FIX store {path}: exists but is not a regular file")
            if not os.access(path, os.R_OK | os.W_OK):
                raise StoreError(f"FIX store {path}: file is not readable and writable")
            with path.open("rb") as fh:
                header = fh.read(len(_SQLITE_MAGIC))
            # An empty file is what a crash during the very first open leaves: treat as new.
            if header and header != _SQLITE_MAGIC:
                raise StoreError(f"FIX store {path}: file is not an SQLite database")
        return lock_exclusively(path, "FIX store", "database object", StoreError)

    def _open_and_validate(self) -> sqlite3.Connection:
        """Open the writer connection, check the file and create the schema on first start."""
        path = self._path
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreError(f"FIX store {path}: cannot open: {exc}") from exc
        try:
            self._validate(conn)
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"FIX store {path}: unusable: {exc}") from exc
        return conn

    def _validate(self, conn: sqlite3.Connection) -> None:
        path = self._path
        problem = integrity_problem(conn)
        if problem is not None:
            raise StoreError(f"FIX store {path}: integrity check failed: {problem}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            conn.execute("BEGIN IMMEDIATE")
            for stmt in _SCHEMA:
                conn.execute(stmt)
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            conn.execute("COMMIT")
        elif "meta" not in tables:
            raise StoreError(f"FIX store {path}: SQLite database is not a metaorder store (no meta table)")
        row = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
        if row is None:
            raise StoreError(f"FIX store {path}: no schema version in meta table")
        if str(row[0]) != str(SCHEMA_VERSION):
            raise StoreError(
                f"FIX store {path}: unknown schema version {row[0]!r} (this build supports {SCHEMA_VERSION})"
            )
        missing = {"sessions", "messages"} - tables if tables else set()
        if missing:
            raise StoreError(f"FIX store {path}: missing tables {sorted(missing)}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"FIX store {path}: cannot switch to WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        # No automatic checkpoints on the writer: one would copy the WAL into the database inside a
        # commit, holding up every flush waiting on it for milliseconds (it was the whole p99 of
        # the echo benchmark).  The checkpointer thread does it beside the writer instead.
        conn.execute("PRAGMA wal_autocheckpoint = 0")

    # -- used by SqliteStore -----------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        """The calling thread's read connection, opened on first use.

        Each thread gets its own so reads never contend with the writer connection; WAL
        gives each read a consistent snapshot of committed data.
        """
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreError(f"FIX store {self._path}: database is closed")
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30.0)
            conn.execute("PRAGMA query_only = ON")
            self._readers.conn = conn
            self._reader_conns.append(conn)
        return conn

    def _read_sent(self, key: str, begin: int, end: int) -> list[tuple[int, bytes]]:
        if self._closed:
            raise StoreError(f"FIX store {self._path}: database is closed")
        try:
            rows = (
                self._reader()
                .execute(
                    "SELECT seq, raw FROM messages WHERE key = ? AND seq BETWEEN ? AND ? ORDER BY seq",
                    (key, begin, end),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise StoreError(f"FIX store {self._path}: cannot read messages of {key!r}: {exc}") from exc
        return [(int(seq), bytes(raw)) for seq, raw in rows]

    def _check_writable(self) -> None:
        """Refuse writes that could never become durable, before memory is changed."""
        if self._failure is not None:
            raise self._failed_error()
        if self._closed:
            raise StoreError(f"FIX store {self._path}: database is closed")

    def _failed_error(self) -> StoreError:
        """A fresh StoreError per caller (shared exception objects accumulate tracebacks)."""
        err = StoreError(f"FIX store {self._path}: writer failed: {self._failure}")
        err.__cause__ = self._failure
        return err

    def _check_not_writer(self) -> None:
        writer = self._applier.reporter_ident if self._applier is not None else self._writer_ident
        if writer is not None and threading.get_ident() == writer:
            # A flush done-callback flushing the store would wait on its own queue.
            raise RuntimeError("FIX store flushed from a flush done-callback (the writer thread)")

    def _enqueue(self, batch: _Batch) -> bool:
        """Queue ``batch`` for the writer; True if it is durable already (in the redo log)."""
        redo = self._redo
        payload = marshal.dumps((batch.store.key, batch.reset, batch.rows, batch.state)) if redo else b""
        with self._redo_lock:
            if self._stopping:  # a flush racing close() from another thread: refused, not lost
                batch.future.set_exception(StoreError(f"FIX store {self._path}: database is closed"))
                return False
            if redo is None:
                self._queue.put(batch)  # blocks briefly when max_queue batches wait: back-pressure
                return False
            assert self._applier is not None
            try:
                self._applier.send(redo.append(payload), payload, batch)
            except RedoError as exc:  # the store fails: this flush, and every later write
                self._failure = exc
                batch.future.set_exception(self._failed_error())
                return False
        return len(batch.store._in_flight) <= self._max_lag

    # -- writer thread -----------------------------------------------------------------

    def _run_writer(self) -> None:
        """Group-commit loop: take every batch queued, one transaction, resolve their futures."""
        stop = False
        while not stop:
            batches, stop = take_queued(self._queue)
            commit_group(self, batches, self._writer_conn)

    def _commit(self, batches: Sequence[_Batch]) -> None:
        """Apply ``batches`` (queue order) in one transaction; report each session's newest batch."""
        conn = self._writer_conn
        assert self._checkpointer is not None
        self._checkpointer.catch_up(conn)
        conn.execute("BEGIN IMMEDIATE")
        _apply(conn, [(b.store.key, b.reset, b.rows, b.state) for b in batches])
        conn.execute("COMMIT")
        self._commits += 1
        self._checkpointer.committed(sum(len(b.rows) for b in batches) + 1)
        for batch in batches:  # queue order: each session ends at its newest batch
            batch.store._committed_id = batch.batch_id  # before the futures resolve: flush() sees it

    # -- the redo applier's reports (its reporting thread) -----------------------------

    def _on_applied(self, batches: list[_Batch]) -> None:
        for batch in batches:  # record order: each session ends at its newest batch
            batch.store._committed_id = batch.batch_id  # before the futures resolve: flush() sees it
        assert self._redo is not None
        self._redo.applied(len(batches))
        settle(b.future for b in batches)

    def _on_applier_failed(self, error: str, batches: list[_Batch]) -> None:
        if self._failure is None:
            self._failure = RedoError(error)
        settle((b.future for b in batches), self._failed_error)


#: What applying one flushed batch takes: (session key, reset, rows seq -> raw, state).
_Applied = tuple[str, bool, dict[int, bytes], _State]


def apply_redo_payloads(conn: sqlite3.Connection, payloads: Sequence[bytes]) -> int:
    """Apply redo records of this store inside the caller's transaction; returns the rows written.

    Used by recovery at open and by the redo applier process (:mod:`metaorder.redo_apply`).
    """
    batches: list[_Applied] = [marshal.loads(p) for p in payloads]
    _apply(conn, batches)
    return sum(len(b[2]) for b in batches) + len(batches)


def _apply(conn: sqlite3.Connection, batches: Sequence[_Applied]) -> None:
    """Apply ``batches`` in order inside the caller's transaction (idempotent, so a batch applied
    twice changes nothing): a reset deletes the session's messages first, rows are upserted, and
    each session's state is the one of its newest batch."""
    last: dict[str, _State] = {}
    segment: list[_Applied] = []  # batches whose rows are inserted together
    for batch in batches:
        key, reset, rows, state = batch
        if reset:
            # Rows queued before the reset must be written before it deletes them.
            _insert(conn, segment)
            segment = []
            conn.execute("DELETE FROM messages WHERE key = ?", (key,))
        if rows:
            segment.append(batch)
        last[key] = state
    _insert(conn, segment)
    conn.executemany(
        "INSERT INTO sessions (key, next_sender, next_target, creation_time) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET next_sender = excluded.next_sender,"
        " next_target = excluded.next_target, creation_time = excluded.creation_time",
        [(key, *state) for key, state in last.items()],
    )


def _insert(conn: sqlite3.Connection, segment: list[_Applied]) -> None:
    """One multi-row insert for the rows of ``segment``; the parameter tuples are built in C."""
    if segment:
        _INSERT_MESSAGES.run(conn, list(itertools.chain.from_iterable(
            itertools.chain.from_iterable(
                zip(itertools.repeat(key), rows.keys(), rows.values()) for key, _, rows, _ in segment
            )
        )))
