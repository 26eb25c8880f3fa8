"""What the FIX message store and the order journal share about living in an SQLite WAL file.

Both are append-mostly logs written by one writer thread with group commit; both must survive a
kill -9 and refuse a second process.  Two pieces are common to them:

* :func:`lock_exclusively` — a ``<path>.lock`` file held with ``flock`` for as long as the writer
  lives (the kernel releases it on kill -9), so two processes never interleave writes;
* :class:`WalCheckpointer` — WAL checkpoints on their own thread.  SQLite's automatic checkpoint
  runs inside a commit and held every flush waiting on that commit for milliseconds (it was the
  whole p99 of the echo benchmark), so writers run with ``wal_autocheckpoint = 0`` and this thread
  copies the WAL back with PASSIVE checkpoints, which never block the writer.  Frames committed
  while a checkpoint ran are left over; the writer copies those few itself before its next
  transaction (:meth:`WalCheckpointer.catch_up`), after which SQLite restarts the WAL from its
  beginning, so the file stays small and no commit pays for a whole checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

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

    def __init__(self, path: Path, name: str, rows_per_checkpoint: int) -> None:
        self._path = path
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
        """Writer thread, before a transaction: copy what the last background checkpoint left."""
        if self._catch_up:
            self._catch_up = False
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

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
        finally:
            conn.close()
