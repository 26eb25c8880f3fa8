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
session in the database file.  All writes are turned into small records and put on a
bounded queue; the writer takes everything queued at that moment, applies it in one transaction,
commits once and then resolves the futures of every ``flush()`` covered by that commit
(group commit).  Under load this turns thousands of messages into a handful of fsyncs.

Because the queue is bounded, a producer that outruns the disk blocks in ``save_sent``
(or any other write) until the writer has taken the next batch.  That pause is at most
about one commit long; it is deliberate back-pressure, so that memory cannot grow without
bound when the disk is slow.  Flush futures are resolved *on the writer thread*: their
done-callbacks must be cheap and must not write to the store (``asyncio.wrap_future``
already hops back to the event loop, which is the intended use).

Sequence numbers live in memory in each :class:`SqliteStore` and are authoritative for
reads; the writer persists them.  ``get_sent`` reads committed rows through a read-only
connection owned by the calling thread (WAL lets it read while the writer writes) and
merges the messages that are still pending in memory, so a resend never misses a message
that was saved but not yet committed.

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
import os
import queue
import sqlite3
import threading
from collections import deque
from pathlib import Path
from typing import Final, Literal, NamedTuple, Protocol, runtime_checkable

try:  # pragma: no cover - platform dependent
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows has no flock; the lock file is then advisory only
    _fcntl = None  # type: ignore[assignment]

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


class StoreError(Exception):
    """The store cannot be used; the message names the file and what is wrong.

    Raised instead of ever resetting sequence numbers silently: a human has to look.
    """


@runtime_checkable
class SessionStore(Protocol):
    """Store of one FIX session (identified by a string key such as 'FIX.4.4:ISLD->TW44').

    All reads are answered synchronously from memory or from committed data plus pending
    writes; all writes are buffered and become durable at the next flush().
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
        """Future resolved once everything written so far on this session is durable."""
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


def _completed_future(exc: BaseException | None = None) -> concurrent.futures.Future[None]:
    """A future that is already resolved, so callers can treat every store alike."""
    fut: concurrent.futures.Future[None] = concurrent.futures.Future()
    fut.set_running_or_notify_cancel()
    if exc is None:
        fut.set_result(None)
    else:
        fut.set_exception(exc)
    return fut


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
        return _completed_future()


# --------------------------------------------------------------------------- SQLite

#: (next_sender, next_target, creation_time) as it was right after a write.
_State = tuple[int, int, str | None]


class _Write(NamedTuple):
    """One write of one session, in the order it was made.

    It carries the session's full sequence state as of that write, so the writer persists
    a state that is consistent with the messages of the same batch and never one from a
    write that is not in the batch yet.
    """

    store: SqliteStore
    op_id: int
    state: _State
    seq: int
    raw: bytes | None
    reset: bool


class _Flush(NamedTuple):
    """A flush marker: resolved after the commit that covers everything queued before it."""

    future: concurrent.futures.Future[None]


#: ``None`` on the queue tells the writer to commit what it has and stop.
_Item = _Write | _Flush | None


class SqliteStore:
    """Durable store of one session, created by :meth:`SqliteStoreDatabase.open_session`.

    Use one store from one thread at a time (the event loop thread): the order of writes
    is the order in which that thread makes them.  Different sessions may live on
    different threads.
    """

    def __init__(self, db: SqliteStoreDatabase, key: str, state: _State) -> None:
        self._db = db
        self._key = key
        self._next_sender, self._next_target, self._creation_time = state
        # Everything below is shared with the writer thread and guarded by _lock.
        self._lock = threading.Lock()
        self._last_op = 0  # id of the newest write made on this session
        self._committed_op = 0  # id of the newest write known to be committed
        self._pending: dict[int, tuple[int, bytes]] = {}  # seq -> (op_id, raw), not yet committed
        self._pending_order: deque[tuple[int, int]] = deque()  # (op_id, seq) in write order
        self._reset_op: int | None = None  # uncommitted reset: committed rows are stale

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
        """Committed rows merged with pending messages (pending wins).

        The pending snapshot is taken *before* the database is read: a message committed in
        between is then found in one place or the other, never lost in the gap.
        """
        rng = _clamp_range(begin, end)
        if rng is None:
            return []
        lo, hi = rng
        with self._lock:
            reset_pending = self._reset_op is not None
            pending = {s: raw for s, (_, raw) in _in_range_pending(self._pending, lo, hi).items()}
        merged: dict[int, bytes] = {} if reset_pending else dict(self._db._read_sent(self._key, lo, hi))
        merged.update(pending)
        return sorted(merged.items())

    # -- writes ------------------------------------------------------------------------

    def set_next_sender_seq(self, seq: int) -> None:
        _check_seq(seq, "next sender seq")
        self._db._check_writable()
        self._next_sender = seq
        self._write(0, None, reset=False)

    def set_next_target_seq(self, seq: int) -> None:
        _check_seq(seq, "next target seq")
        self._db._check_writable()
        self._next_target = seq
        self._write(0, None, reset=False)

    def save_sent(self, seq: int, raw: bytes) -> None:
        _check_seq(seq, "seq")
        if seq == _MAX_SEQ:
            raise ValueError("seq leaves no room for a next sender seq")
        self._db._check_writable()
        self._next_sender = seq + 1
        self._write(seq, bytes(raw), reset=False)

    def reset(self, creation_time: str) -> None:
        self._db._check_writable()
        self._next_sender = 1
        self._next_target = 1
        self._creation_time = creation_time
        self._write(0, None, reset=True)

    def flush(self) -> concurrent.futures.Future[None]:
        """Resolve once this session's writes so far are committed.

        If nothing is outstanding the future is already resolved, so an idle session costs
        the writer nothing.  After a writer failure every flush fails with StoreError, even
        an idle one: the failure must reach whoever is still relying on the store.
        """
        if self._db._failure is not None:
            return _completed_future(self._db._failed_error())
        with self._lock:
            idle = self._committed_op >= self._last_op
        if idle:
            return _completed_future()
        if self._db._closed:  # only reachable by racing close() from another thread
            return _completed_future(StoreError(f"FIX store {self._db.path}: database is closed"))
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        # Running futures cannot be cancelled: a flush is a fact about the disk, not a request.
        fut.set_running_or_notify_cancel()
        self._db._enqueue(_Flush(fut))
        return fut

    def _write(self, seq: int, raw: bytes | None, *, reset: bool) -> None:
        """Record a write in memory and queue it for the writer thread.

        The queue put happens outside the lock: the writer needs the lock to report a commit,
        and a put may block (back-pressure) until the writer has made room.
        """
        state: _State = (self._next_sender, self._next_target, self._creation_time)
        with self._lock:
            self._last_op += 1
            op_id = self._last_op
            if reset:
                self._pending.clear()
                self._pending_order.clear()
                self._reset_op = op_id
            if raw is not None:
                self._pending[seq] = (op_id, raw)
                self._pending_order.append((op_id, seq))
        self._db._enqueue(_Write(self, op_id, state, seq, raw, reset))

    def _on_committed(self, op_id: int) -> None:
        """Called by the writer thread: writes up to ``op_id`` are durable, drop them from memory."""
        with self._lock:
            self._committed_op = max(self._committed_op, op_id)
            if self._reset_op is not None and self._reset_op <= op_id:
                self._reset_op = None
            order = self._pending_order
            while order and order[0][0] <= op_id:
                old_op, seq = order.popleft()
                entry = self._pending.get(seq)
                if entry is not None and entry[0] == old_op:
                    del self._pending[seq]


def _in_range_pending(
    pending: dict[int, tuple[int, bytes]], begin: int, end: int
) -> dict[int, tuple[int, bytes]]:
    """Pending entries within [begin, end], scanning whichever side is smaller."""
    if end - begin + 1 < len(pending):
        return {s: pending[s] for s in range(begin, end + 1) if s in pending}
    return {s: e for s, e in pending.items() if begin <= s <= end}


class SqliteStoreDatabase:
    """One SQLite file holding every session's store, with the one writer thread.

    Construction validates the file and raises :class:`StoreError` if it cannot be used;
    a missing file is created (the normal first start).
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        *,
        max_queue: int = 65536,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if max_queue < 1:
            raise ValueError("max_queue must be positive")
        self._path = Path(path)
        self._synchronous = synchronous
        self._lock_fd = self._check_and_lock(self._path)
        try:
            self._writer_conn = self._open_and_validate()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max_queue)
        self._sessions: dict[str, SqliteStore] = {}
        self._registry_lock = threading.Lock()
        self._readers = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._commits = 0
        self._failure: BaseException | None = None
        self._closed = False
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
    def commits(self) -> int:
        """Number of write transactions committed so far: shows how well group commit batches."""
        return self._commits

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
        """Commit everything queued, stop the writer thread and close all connections.

        Idempotent.  A writer failure is not raised again here: it has already failed every
        flush future and every later write.
        """
        with self._registry_lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(None)
        self._writer.join()
        # A write racing with close() from another thread may have landed after the stop
        # marker: its flush must not hang forever.
        try:
            while True:
                item = self._queue.get_nowait()
                if isinstance(item, _Flush):
                    item.future.set_exception(StoreError(f"FIX store {self._path}: database is closed"))
        except queue.Empty:
            pass
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
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"FIX store {path}: cannot create lock file {lock_path}: {exc}") from exc
        if _fcntl is not None:
            try:
                _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                raise StoreError(
                    f"FIX store {path}: already in use by another process or database object"
                ) from exc
        return fd

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
        try:
            result = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as exc:  # damage bad enough that the check itself gives up
            result = [str(exc)]
        if result != ["ok"]:
            # quick_check can list hundreds of pages over many lines: keep the error one line.
            detail = " | ".join(line for r in result for line in r.splitlines() if not line.startswith("***"))
            if len(detail) > 200:
                detail = detail[:200] + "..."
            raise StoreError(f"FIX store {path}: integrity check failed: {detail}")
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

    def _enqueue(self, item: _Write | _Flush) -> None:
        if threading.get_ident() == self._writer_ident:
            # A flush done-callback writing to the store would wait on its own queue.
            raise RuntimeError("FIX store written from a flush done-callback (the writer thread)")
        self._queue.put(item)  # blocks briefly when the queue is full: back-pressure

    # -- writer thread -----------------------------------------------------------------

    def _run_writer(self) -> None:
        """Group-commit loop: take everything queued, one transaction, resolve its flushes."""
        q = self._queue
        stop = False
        while not stop:
            batch: list[_Item] = [q.get()]
            # Take what is queued *now*, not what keeps arriving: a producer as fast as this
            # loop would otherwise keep one batch open, and its flushes waiting, indefinitely.
            for _ in range(q.qsize()):
                try:
                    batch.append(q.get_nowait())
                except queue.Empty:
                    break
            writes = [item for item in batch if isinstance(item, _Write)]
            flushes = [item.future for item in batch if isinstance(item, _Flush)]
            stop = any(item is None for item in batch)
            if self._failure is None and writes:
                try:
                    self._commit(writes)
                except Exception as exc:  # disk full, I/O error, ... : fail loudly, never swallow
                    self._failure = exc
                    # The failure is already recorded; a failing rollback adds nothing to it.
                    with contextlib.suppress(sqlite3.Error):
                        self._writer_conn.execute("ROLLBACK")
            for fut in flushes:
                if self._failure is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(self._failed_error())

    def _commit(self, writes: list[_Write]) -> None:
        conn = self._writer_conn
        last: dict[SqliteStore, _Write] = {}
        rows: list[tuple[str, int, bytes]] = []
        insert = "INSERT OR REPLACE INTO messages (key, seq, raw) VALUES (?, ?, ?)"
        conn.execute("BEGIN IMMEDIATE")
        for w in writes:
            if w.reset:
                if rows:
                    conn.executemany(insert, rows)
                    rows = []
                conn.execute("DELETE FROM messages WHERE key = ?", (w.store.key,))
            if w.raw is not None:
                rows.append((w.store.key, w.seq, w.raw))
            last[w.store] = w
        if rows:
            conn.executemany(insert, rows)
        conn.executemany(
            "INSERT INTO sessions (key, next_sender, next_target, creation_time) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET next_sender = excluded.next_sender,"
            " next_target = excluded.next_target, creation_time = excluded.creation_time",
            [(store.key, *w.state) for store, w in last.items()],
        )
        conn.execute("COMMIT")
        self._commits += 1
        for store, w in last.items():
            store._on_committed(w.op_id)
