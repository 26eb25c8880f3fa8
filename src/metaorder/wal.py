"""What the FIX message store and the order journal share about living in an SQLite WAL file.

Both are append-mostly logs written by one writer thread with group commit; both must survive a
kill -9, refuse a second process and refuse a damaged file.  What is common to them lives here:
the group-commit loop's steps (:func:`take_queued`, :func:`commit_group`), the integrity check
(:func:`integrity_problem`), and:

* :func:`lock_exclusively` — a ``<path>.lock`` file held with ``flock`` for as long as the writer
  lives (the kernel releases it on kill -9), so two processes never interleave writes;
* :class:`WalCheckpointer` — WAL checkpoints on their own thread.  SQLite's automatic checkpoint
  runs inside a commit and held every flush waiting on that commit for milliseconds (it was the
  whole p99 of the echo benchmark), so writers run with ``wal_autocheckpoint = 0`` and this thread
  copies the WAL back with PASSIVE checkpoints, which never block the writer.  Frames committed
  while a checkpoint ran are left over; the writer copies those few itself before its next
  transaction (:meth:`WalCheckpointer.catch_up`), after which SQLite restarts the WAL from its
  beginning, so the file stays small and no commit pays for a whole checkpoint.  (Only the
  writer can do this last step: SQLite restarts the WAL for a writer whose transaction began on a
  wholly copied WAL, and another connection's checkpoint cannot tell it has copied everything
  while commits keep coming: such a checkpointer left the WAL growing by ~6 KB an order.)

Commits run on a writer thread (group commit).  With ``synchronous = FULL`` the caller waits for
them; with a redo log in front (:mod:`metaorder.redo`, the daemon's choice for ``NORMAL``) it
does not: its flush is durable once the redo record is written, and the commits, with their
fsyncs and the checkpoints', run in a child process (:mod:`metaorder.redo_apply`, which uses the
checkpointer and the catch-up below the same way), off the event loop and off its GIL.
(Committing inline on the event loop, as before, paid the catch-up checkpoint's and the WAL
restart's fsyncs there ten times a second under load: half of the intake's p99.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, Protocol, TypeVar

try:
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows has no flock; the lock file is then advisory only
    _fcntl = None  # type: ignore[assignment]


def lock_exclusively(path: Path, label: str, holder: str, error: type[Exception]) -> int:
    """Take ``<path>.lock`` exclusively; returns its descriptor (close it to release the lock)."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise error(f"{label} {path}: cannot create lock file {lock_path}: {exc}") from exc
    if _fcntl is not None:
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise error(f"{label} {path}: already in use by another process or {holder}") from exc
    return fd


class WalCheckpointer:
    """A thread that checkpoints one WAL database every ``rows_per_checkpoint`` written rows."""

    def __init__(self, path: Path, name: str, rows_per_checkpoint: int,
                 on_checkpoint: Callable[[int], None] | None = None) -> None:
        self._path = path
        self._on_checkpoint = on_checkpoint  # called on this thread with the count after each checkpoint
        self._threshold = rows_per_checkpoint
        self._rows = 0  # written by the writer thread only
        self._due = threading.Event()
        self._stopping = False
        self._catch_up = False  # set here, consumed by the writer
        self.checkpoints = 0
        #: Set after every background checkpoint (observability and tests: wait on it, don't poll).
        self.checkpointed = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def committed(self, rows: int) -> None:
        """Writer thread, after each commit: ``rows`` more rows are in the WAL."""
        self._rows += rows
        if self._rows >= self._threshold:
            self._rows = 0
            self._due.set()

    def catch_up(self, conn: sqlite3.Connection) -> None:
        """Writer, before a transaction: copy what the last background checkpoint left.

        If a background checkpoint is running meanwhile (busy), this one copied nothing: it is tried
        again before the next transaction, or the WAL would not restart before the next round.
        """
        if self._catch_up:
            self._catch_up = False
            busy = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0][0]
            if busy:
                self._catch_up = True

    def stop(self) -> None:
        """Stop the thread (call after the writer has stopped) and wait for it."""
        self._stopping = True
        self._due.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error:
            return  # without checkpoints the WAL only grows; the writer still works
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._stopping:
                    return
                with contextlib.suppress(sqlite3.Error):  # busy: the next trigger will try again
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                    self._catch_up = True
                    self.checkpointed.set()
                if self._on_checkpoint is not None:
                    self._on_checkpoint(self.checkpoints)
        finally:
            conn.close()


def integrity_problem(conn: sqlite3.Connection) -> str | None:
    """``PRAGMA quick_check`` as one line of text, or None when the file is sound."""
    try:
        result = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:  # damage bad enough that the check itself gives up
        result = [str(exc)]
    if result == ["ok"]:
        return None
    # quick_check can list hundreds of pages over many lines: keep the error one line.
    detail = " | ".join(line for r in result for line in r.splitlines() if not line.startswith("***"))
    return detail[:200] + "..." if len(detail) > 200 else detail


#: Rows per multi-row INSERT statement, largest first (each size is one cached statement).
_CHUNKS: Final = (128, 32, 8, 2, 1)


class MultiRowInsert:
    """``INSERT ... VALUES (?, ...), (?, ...), ...``: many rows in a few statements.

    ``executemany`` runs one statement step per row, and the sqlite3 module releases the GIL around
    every step: under load the writer thread then waits for the event loop's thread to hand the
    GIL back once per *row* (up to the switch interval each time), so a group commit of a few
    hundred rows took tens of milliseconds.  Here the rows of a commit go in at most a handful of
    steps (chunks of 128, 32, 8, 2 and 1 rows), with the same effect: the rows are inserted in
    the given order, each with the statement's conflict clause, inside the caller's transaction.
    """

    def __init__(self, head: str, width: int) -> None:
        row = "(" + ", ".join(["?"] * width) + ")"
        self._width = width
        self._sql = {k: head + " VALUES " + ", ".join([row] * k) for k in _CHUNKS}

    def run(self, conn: sqlite3.Connection, flat: list[object]) -> None:
        """Insert the rows whose parameters are ``flat`` (row after row, ``width`` each)."""
        total = len(flat)
        if total % self._width:
            raise ValueError(f"{total} parameters do not make rows of {self._width}")
        pos = 0
        for k in _CHUNKS:
            step = k * self._width
            if total - pos < step:
                continue
            sql = self._sql[k]
            while total - pos >= step:
                conn.execute(sql, flat[pos : pos + step])
                pos += step


class _HasFuture(Protocol):
    @property
    def future(self) -> concurrent.futures.Future[None]: ...


_Batch = TypeVar("_Batch", bound=_HasFuture)
_BatchIn = TypeVar("_BatchIn", bound=_HasFuture, contravariant=True)


def take_queued(q: queue.Queue[_Batch | None]) -> tuple[list[_Batch], bool]:
    """One blocking get, then what is queued *now*; and whether the stop marker (None) was among them.

    Only what is already there, not what keeps arriving: a producer as fast as the writer would
    otherwise keep one transaction open, and its flushes waiting, indefinitely.
    """
    items = [q.get()]
    for _ in range(q.qsize()):
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            break
    batches = [item for item in items if item is not None]
    return batches, len(batches) != len(items)


class GroupWriter(Protocol[_BatchIn]):
    """What :func:`commit_group` needs of the store or journal it commits for."""

    _failure: BaseException | None

    def _commit(self, batches: Sequence[_BatchIn]) -> None: ...

    def _failed_error(self) -> BaseException: ...


def commit_group(writer: GroupWriter[_Batch], batches: Sequence[_Batch], conn: sqlite3.Connection) -> None:
    """Commit ``batches`` in one transaction unless the writer has already failed, then resolve
    every batch's future.

    A failure is recorded on the writer *before* any future resolves (so appends and flushes on
    other threads refuse at once) and is never swallowed: every waiting flush, and every later
    one, gets the error.
    """
    if writer._failure is None and batches:
        try:
            writer._commit(batches)
        except Exception as exc:  # disk full, I/O error, ...
            writer._failure = exc
            with contextlib.suppress(sqlite3.Error):  # the failure is recorded already
                conn.execute("ROLLBACK")
    for batch in batches:
        if writer._failure is None:
            batch.future.set_result(None)
        else:
            batch.future.set_exception(writer._failed_error())
