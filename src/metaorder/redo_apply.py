"""Commit redo records to their SQLite database in a child process, off the engine's GIL.

Why a process and not a thread.  Behind a redo log (:mod:`metaorder.redo`) the engine no longer
waits for SQLite at all, but a writer *thread* still shared the interpreter lock with the event
loop: every ``sqlite3`` call releases and re-takes the GIL, and each time the writer took it back
the loop stood waiting (for the writer's Python work and for the thread hand-over itself).  At
saturation the loop lost 7-16% of its time that way; with the commits skipped (an experiment) the
intake ran 6-15% faster.  A child process has its own interpreter: the engine's part of a flush
is then one ``os.write`` to the redo log and one ``os.writev`` to a pipe.

How it works.  :class:`RedoApplier` (in the engine) starts ``python -m metaorder.redo_apply`` the
first time it has a record to send, and writes every record (its id and payload, the same bytes
as in the redo log) to the child's stdin-like pipe right after the redo log has it.  The child
reads whatever has arrived, applies it in one transaction (``synchronous = FULL``, because a redo
segment is deleted once the database has its records), stores the id of the last record in
``meta('redo_applied')`` in the same transaction, and reports that id back on a second pipe.  A
thread in the engine reads the reports: it resolves the flush futures of the records applied,
lets the redo log delete segments, and fails the database if the child reports an error or
exits unexpectedly (its records stay in the redo log for the next open).  The child also runs
the WAL checkpoints (:class:`metaorder.wal.WalCheckpointer`), so the engine runs no SQLite
writes at all while it serves.

Safety.  The child applies a record only if its id is above the ``redo_applied`` it reads *inside*
its write transaction, so a record is applied exactly once even if the engine died, a new engine
already recovered the log, and the old child is still finishing what it had read.  The child
stops at the engine's stop marker, once it has applied everything before it; when its input just
ends (the engine died) it applies the complete records it has and exits: all of them are in the
redo log anyway, for the next engine to recover.

Back-pressure: the pipe holds up to 1 MB (``F_SETPIPE_SZ`` where the system allows); when the
child falls that far behind, the engine's write waits for it, as a full queue did for the
writer thread.

Protocol (little-endian).  Engine to child: ``[u32 length][u64 id][payload]`` per record, ids
consecutive, and at a clean close a stop marker (length ``2**32 - 1``, no payload) before the pipe
closes: a pipe that just ends means the engine died, and the child then exits without tidying up.
Child to engine: ``[u64 id][u64 commits][u64 checkpoints]`` once its input is drained, every
``_REPORT_EVERY`` commits while it is not, after each checkpoint and at the stop marker, ``id``
the newest record the database holds; an error is ``id = 2**64 - 1``,
``commits`` the length of the UTF-8 message that follows.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, InvalidStateError
from pathlib import Path
from typing import Final, Generic, TypeVar

from metaorder.redo import RedoError, RedoLog

__all__ = ["KINDS", "RECOVERY_ERRORS", "RedoApplier", "completed_future", "main", "open_redo_log", "recover_into",
           "settle"]

_RECORD: Final = struct.Struct("<IQ")
_REPORT: Final = struct.Struct("<QQQ")
_FAILED: Final = 2**64 - 1
_STOP: Final = 2**32 - 1  # as a record length: the engine is closing, apply the rest and exit
_PIPE_BYTES: Final = 1 << 20
_F_SETPIPE_SZ: Final = 1031  # Linux; elsewhere the pipe keeps its default size
_READ_BYTES: Final = 1 << 20
#: After each commit the child waits this long before it reads again, so that what arrives
#: meanwhile goes into the next transaction: at most ~100 commits a second per database however
#: the engine flushes.  Committing whatever had arrived (a read or two of orders at 5,000/s) made
#: a thousand fsync'ed transactions a second per database: each child then took 20% of a core,
#: woke 2,000 times a second, often on the event loop's CPU (preempting it 270 times a second),
#: and the fsyncs' journal commits held up the engine's own redo-log writes (single writes of
#: 8-10 ms).  Nothing waits for a commit: a flush is durable once in the redo log; the commit
#: only lets the log delete a segment (and the pipe holds 1 MB meanwhile).
_COMMIT_GAP_S: Final = 0.01
#: While records keep coming, one report every ``_REPORT_EVERY`` commits (~2 a second); once the
#: input is drained, a report at once.  Each report wakes the engine's reporting thread, which takes
#: the GIL: when that thread is preempted while it holds it (two cores shared with the load and
#: these children), the event loop waits until it runs again, and single cheap calls of the
#: loop were seen taking 8-10 ms.  Reports resolve commit futures, let the log delete segments and
#: stop the engine waiting at close; none of that is urgent while orders keep coming (an error is
#: reported at once, whatever the count).
_REPORT_EVERY: Final = 50

#: kind -> "module:function" applying payloads in the caller's transaction and returning the rows
#: written; resolved in the child only, so the engine's module graph stays as it is.
KINDS: Final = {
    "store": "metaorder.fix.store:apply_redo_payloads",
    "journal": "metaorder.orders.journal:apply_redo_payloads",
}
_SELECT_APPLIED: Final = "SELECT value FROM meta WHERE name = 'redo_applied'"
_SET_APPLIED: Final = "INSERT OR REPLACE INTO meta (name, value) VALUES ('redo_applied', ?)"

_Item = TypeVar("_Item")
#: ``apply(conn, payloads) -> rows written``, inside the caller's transaction.
Apply = Callable[[sqlite3.Connection, Sequence[bytes]], int]


def recover_into(conn: sqlite3.Connection, redo: RedoLog, apply: Apply, synchronous: str) -> bool:
    """At open: apply what ``redo`` holds beyond the database in one transaction, then let the log
    delete those segments and start a new one.  True if there was anything to apply.

    The commit is fsync'ed whatever the file's ``synchronous`` (restored afterwards): the segments
    go right after it.  The applied id is read inside the write transaction, because an applier
    child of an engine that died may still be committing what it had read (it checks the same way).
    """
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        payloads = redo.recover(_applied_id(conn))
        if payloads:
            apply(conn, payloads)
            conn.execute(_SET_APPLIED, (str(redo.last_id()),))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    finally:
        with contextlib.suppress(sqlite3.Error):  # (a failure above is the one to report)
            conn.execute(f"PRAGMA synchronous = {synchronous}")
    redo.start()
    return bool(payloads)


#: What applying a redo log at open can fail with (the last three: a payload marshal cannot read).
RECOVERY_ERRORS: Final = (RedoError, sqlite3.Error, ValueError, EOFError, TypeError)


def open_redo_log(conn: sqlite3.Connection, db_path: Path, wanted: bool, apply: Apply,
                  synchronous: str) -> tuple[RedoLog | None, bool]:
    """At open: the database's redo log, once what it held beyond the database is applied; and
    whether there was any such thing.

    A log left by an earlier run is applied even when none is ``wanted`` now (``synchronous``
    switched to FULL after a crash must not forget it); it is then removed, and None returned.
    Raises one of :data:`RECOVERY_ERRORS`.
    """
    redo_dir = db_path.with_name(db_path.name + ".redo")
    if not wanted and not redo_dir.is_dir():
        return None, False
    redo = RedoLog(redo_dir)
    applied = recover_into(conn, redo, apply, synchronous)
    if wanted:
        return redo, applied
    redo.close(remove=True)
    with contextlib.suppress(OSError):  # not empty: someone else's files, left alone
        redo_dir.rmdir()
    return None, applied


_DONE: Final[Future[None]] = Future()
_DONE.set_running_or_notify_cancel()
_DONE.set_result(None)


def completed_future(exc: BaseException | None = None) -> Future[None]:
    """A flush future that is already resolved, so callers treat every store and journal alike.

    Without ``exc`` it is one shared future: most flushes return it (a redo log makes a flush
    durable before it returns), and a fresh one cost two locks and a condition each time.  A done
    future never changes, so sharing it is safe: callbacks added to it run at once.
    """
    if exc is None:
        return _DONE
    fut: Future[None] = Future()
    fut.set_running_or_notify_cancel()
    fut.set_exception(exc)
    return fut


def settle(futures: Iterable[Future[None]], error: Callable[[], BaseException] | None = None) -> None:
    """Resolve each flush future, or fail it with a fresh ``error()``; one its flush has already
    failed (the send to the child did) is left as it is."""
    for future in futures:
        with contextlib.suppress(InvalidStateError):
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error())


def _applied_id(conn: sqlite3.Connection) -> int:
    row = conn.execute(_SELECT_APPLIED).fetchone()
    return int(row[0]) if row is not None else 0


class RedoApplier(Generic[_Item]):
    """The engine's end: sends records to the child and hears which the database holds.

    ``send`` is called by whoever appends to the redo log, in record order, with an ``item`` (the
    flushed batch) that comes back through ``on_applied`` -- on the reporting thread, oldest first
    -- once the database holds its record.  ``on_failed`` gets the error text and the items not
    applied when the child reports an error or exits before it was asked to.  Neither callback
    may block on the owner's locks for long: the owner may be waiting for the pipe meanwhile.
    """

    def __init__(self, kind: str, db_path: Path, checkpoint_rows: int, *,
                 on_applied: Callable[[list[_Item]], None],
                 on_failed: Callable[[str, list[_Item]], None]) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown redo applier kind {kind!r}")
        self._kind = kind
        self._db_path = db_path
        self._checkpoint_rows = checkpoint_rows
        self._on_applied = on_applied
        self._on_failed = on_failed
        self._lock = threading.Lock()  # the items in flight; never held while writing to the pipe
        self._in_flight: deque[tuple[int, _Item]] = deque()
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_child = -1
        self._reporter: threading.Thread | None = None
        self._closing = False
        self._failed = False
        self.commits = 0
        self.checkpoints = 0
        #: Set after every checkpoint the child reports (observability and tests: wait on it).
        self.checkpointed = threading.Event()

    @property
    def reporter_ident(self) -> int | None:
        """The thread that runs the callbacks (None before the first record)."""
        return self._reporter.ident if self._reporter is not None else None

    def send(self, rid: int, payload: bytes, item: _Item) -> None:
        """Hand record ``rid`` to the child; raises RedoError if the child is gone."""
        if self._failed:
            raise RedoError(f"redo applier of {self._db_path}: failed")
        if self._proc is None:
            self._spawn()
        with self._lock:
            self._in_flight.append((rid, item))
        data = _RECORD.pack(len(payload), rid) + payload
        try:
            written = os.write(self._to_child, data)
            while written < len(data):  # the pipe was full: the child is behind (back-pressure)
                written += os.write(self._to_child, data[written:])
        except OSError as exc:
            raise RedoError(f"redo applier of {self._db_path}: cannot send: {exc}") from exc

    def close(self) -> None:
        """Let the child apply everything sent, wait for it to exit and for its last report."""
        self._closing = True
        if self._proc is None:
            return
        if self._to_child >= 0:
            with contextlib.suppress(OSError):  # a child that is gone has been reported failed already
                os.write(self._to_child, _RECORD.pack(_STOP, 0))
            os.close(self._to_child)
            self._to_child = -1
        assert self._reporter is not None
        self._reporter.join()

    # -- internals -------------------------------------------------------------------

    def _spawn(self) -> None:
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        with contextlib.suppress(OSError, AttributeError):
            import fcntl

            fcntl.fcntl(to_child, _F_SETPIPE_SZ, _PIPE_BYTES)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "metaorder.redo_apply", self._kind, str(self._db_path),
                 str(child_in), str(child_out), str(self._checkpoint_rows)],
                pass_fds=(child_in, child_out), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True,  # out of the terminal's process group: Ctrl-C stops the engine, not it
            )
        except OSError as exc:
            for fd in (child_in, to_child, from_child, child_out):
                os.close(fd)
            self._failed = True
            raise RedoError(f"redo applier of {self._db_path}: cannot start: {exc}") from exc
        os.close(child_in)
        os.close(child_out)
        self._to_child = to_child
        self._reporter = threading.Thread(
            target=self._read_reports, args=(from_child,), name=f"redo-applier:{self._db_path.name}", daemon=True)
        self._reporter.start()

    def _read_reports(self, fd: int) -> None:
        buf = b""
        error: str | None = None
        try:
            while error is None:
                data = os.read(fd, 65536)
                if not data:
                    break
                buf += data
                while len(buf) >= _REPORT.size and error is None:
                    rid, commits, checkpoints = _REPORT.unpack_from(buf)
                    if rid == _FAILED:
                        if len(buf) < _REPORT.size + commits:
                            break
                        error = buf[_REPORT.size:_REPORT.size + commits].decode("utf-8", "replace")
                        break
                    buf = buf[_REPORT.size:]
                    self.commits = commits
                    if checkpoints != self.checkpoints:
                        self.checkpoints = checkpoints
                        self.checkpointed.set()
                    self._applied(rid)
        finally:
            os.close(fd)
        assert self._proc is not None
        status = self._proc.wait()
        if error is None and (status != 0 or not self._closing):
            error = f"redo applier exited unexpectedly (status {status})"
        if error is not None:
            self._failed = True
            with self._lock:
                items = [item for _, item in self._in_flight]
                self._in_flight.clear()
            self._on_failed(error, items)

    def _applied(self, rid: int) -> None:
        done: list[_Item] = []
        with self._lock:
            in_flight = self._in_flight
            while in_flight and in_flight[0][0] <= rid:
                done.append(in_flight.popleft()[1])
        if done:
            self._on_applied(done)


# --------------------------------------------------------------------------- the child


def _serve(kind: str, db_path: Path, in_fd: int, out_fd: int, checkpoint_rows: int) -> int:
    import signal

    from metaorder.wal import WalCheckpointer  # the child's own imports: the engine needs none of them

    module_name, _, func_name = KINDS[kind].partition(":")
    apply: Apply = getattr(importlib.import_module(module_name), func_name)
    # Stopped by the end of its input only: a Ctrl-C meant for the engine must not cut a commit short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _yield_to_the_engine()
    out_lock = threading.Lock()
    state = {"applied": 0, "commits": 0}

    def report(checkpoints: int) -> None:
        # An engine that is gone cannot hear it; the end of the input stops this process then.
        with out_lock, contextlib.suppress(OSError):
            os.write(out_fd, _REPORT.pack(state["applied"], state["commits"], checkpoints))

    conn = sqlite3.connect(db_path, isolation_level=None, timeout=30.0)
    checkpointer: WalCheckpointer | None = None
    try:
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        checkpointer = WalCheckpointer(db_path, f"{kind}-checkpointer", checkpoint_rows, on_checkpoint=report)
        buf = bytearray()
        stopped = False
        unreported = 0  # commits since the last report
        while not stopped:
            if unreported and not _input_waiting(in_fd):
                report(checkpointer.checkpoints)  # drained: the engine may be waiting for this
                unreported = 0
            data = os.read(in_fd, _READ_BYTES)
            buf += data
            records, stopped = _take_records(buf)
            if records:
                checkpointer.catch_up(conn)
                conn.execute("BEGIN IMMEDIATE")
                applied = _applied_id(conn)
                fresh = [payload for rid, payload in records if rid > applied]
                rows = apply(conn, fresh) if fresh else 0
                last = max(applied, records[-1][0])
                if fresh:
                    conn.execute(_SET_APPLIED, (str(last),))
                conn.execute("COMMIT")
                state["applied"] = last
                state["commits"] += 1
                checkpointer.committed(rows + 1)
                unreported += 1
                if stopped or unreported >= _REPORT_EVERY:
                    report(checkpointer.checkpoints)
                    unreported = 0
                if not stopped:
                    time.sleep(_COMMIT_GAP_S)  # let the next records gather: one transaction for them
            if not data and not stopped:
                # The engine is gone (a clean close says stop first): what it wrote is in its redo
                # log, an incomplete last record included, and the next engine recovers it.  No
                # tidying: that engine may be running already, and TRUNCATE would hold its writes up.
                if unreported:
                    report(checkpointer.checkpoints)  # (heard only if someone still reads)
                return 0
        if buf:
            raise RedoError(f"{len(buf)} bytes after the stop marker")
        with contextlib.suppress(sqlite3.Error):  # tidy, not essential: the WAL is valid as it is
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return 0
    except Exception as exc:  # disk full, I/O error, a trigger...: the engine must hear it
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        text = str(exc).encode("utf-8", "replace")[:4000]
        with out_lock, contextlib.suppress(OSError):
            os.write(out_fd, _REPORT.pack(_FAILED, len(text), 0) + text)
        return 1
    finally:
        if checkpointer is not None:
            checkpointer.stop()
        conn.close()


def _input_waiting(fd: int) -> bool:
    """Whether ``fd`` has input (or its end) to read right now."""
    readable, _, _ = select.select([fd], [], [], 0)
    return bool(readable)


def _yield_to_the_engine() -> None:
    """Run as a batch process at a lower priority: never preempt the engine's event loop.

    A pipe write wakes its reader "synchronously" (Linux then places the reader on the writer's
    CPU, expecting the writer to block): at normal priority the child preempted the event loop
    right after each flush, and some writes measured 2-12 ms.  SCHED_BATCH opts out of wake-up
    preemption; the lower priority leaves it the CPU time nobody else wants, and back-pressure
    (the pipe) keeps it from falling behind for good.  Best effort: where the system offers
    neither, it runs as it is.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(AttributeError, OSError):
        os.nice(10)


def _take_records(buf: bytearray) -> tuple[list[tuple[int, bytes]], bool]:
    """The complete records at the start of ``buf``, removed from it, and whether the stop marker
    followed them."""
    records: list[tuple[int, bytes]] = []
    pos = 0
    size = _RECORD.size
    while len(buf) - pos >= size:
        length, rid = _RECORD.unpack_from(buf, pos)
        if length == _STOP:
            del buf[:pos + size]
            return records, True
        end = pos + size + length
        if end > len(buf):
            break
        records.append((rid, bytes(buf[pos + size:end])))
        pos = end
    del buf[:pos]
    return records, False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m metaorder.redo_apply KIND DB IN_FD OUT_FD CHECKPOINT_ROWS`` (started by RedoApplier)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 5 or args[0] not in KINDS:
        sys.stderr.write("usage: python -m metaorder.redo_apply {store|journal} DB IN_FD OUT_FD CHECKPOINT_ROWS\n")
        return 2
    kind, db, in_fd, out_fd, rows = args
    return _serve(kind, Path(db), int(in_fd), int(out_fd), int(rows))


if __name__ == "__main__":
    sys.exit(main())
