"""An append-only redo log in front of an SQLite database: durable against kill -9 without a commit.

Why it exists.  With ``synchronous = NORMAL`` a WAL commit needs no fsync, but keeping the WAL
small does: every checkpoint syncs the WAL and the database, and the writer that restarts the
WAL syncs its header.  Whoever commits inline on the event loop pays those syncs there, ten
times a second under load, and whoever waits for a commit on another thread waits for them
too: they were half of the intake's p99 at 5,000 orders/s (p99 3.9 ms with them, 1.7-2.0 ms
in an experiment with every sync turned off).  Here a flush is one ``os.write`` of a
checksummed record into a plain file, which is in the OS page cache (and survives a kill -9)
the moment the call returns; the SQLite commit follows in a child process
(:mod:`metaorder.redo_apply`), off the acknowledgement path, with ``synchronous = FULL``, and a
segment file is deleted only once everything in it is fsync'ed in the database.  Nothing on the
hot path waits for the disk.

What survives what:

* kill -9: everything whose ``append`` returned (it is in the page cache).  At the next open
  :meth:`RedoLog.recover` gives back the records the database had not committed yet, and the
  owner applies them before anything else reads the database.
* power loss or an OS crash: what the database committed (fsync'ed) and the longest prefix of
  intact records after it; the last milliseconds before the crash may be lost, never half of
  something (every record has a CRC-32 and its id; reading stops at the first record that is
  incomplete or damaged).  That is SQLite's own ``NORMAL`` guarantee.

Records carry consecutive ids; the owner stores the id of the last record it applied in the same
transaction as the record's data, so a record is applied exactly once even if the process dies
between the commit and the deletion of its segment (a record re-applied *older* than the
database would otherwise move FIX sequence numbers back).

File layout: a directory ``<database>.redo`` of segments ``00000001.seg``, ``00000002.seg``...,
each a sequence of ``[u32 payload length][u32 crc32][u64 id][payload]`` (little-endian, the CRC
over id and payload).  A new segment is started when the current one reaches ``segment_bytes``.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections import deque
from pathlib import Path
from typing import Final

__all__ = ["RedoError", "RedoLog", "read_records", "segment_paths"]

_HEADER: Final = struct.Struct("<IIQ")
_ID: Final = struct.Struct("<Q")
#: Start a new segment beyond this size: small enough that a fully applied one is deleted soon.
SEGMENT_BYTES = 4 << 20
_SUFFIX: Final = ".seg"


class RedoError(Exception):
    """The redo log cannot be used (cannot create, write or read it); the message says why."""


def segment_paths(directory: Path) -> list[Path]:
    """The segment files in ``directory``, oldest first (none if it does not exist)."""
    try:
        paths = [p for p in directory.iterdir() if p.suffix == _SUFFIX and p.stem.isdigit()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RedoError(f"redo log {directory}: cannot list: {exc}") from exc
    return sorted(paths, key=lambda p: int(p.stem))


def read_records(paths: list[Path]) -> list[tuple[int, bytes]]:
    """(id, payload) of the intact records of ``paths`` in order, up to the first damage or gap.

    Read-only: also what a reader beside a running owner uses.  Segments are deleted oldest
    first once the database has them, so when one is gone meanwhile, it and every one read
    before it are in the database: they are dropped and reading goes on with the next.
    """
    records: list[tuple[int, bytes]] = []
    for i, path in enumerate(paths):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            records = []
            continue
        except OSError as exc:
            raise RedoError(f"redo log {path}: cannot read: {exc}") from exc
        if not data and i < len(paths) - 1:
            return records  # only the newest segment can be empty: an OS crash lost this one's data
        pos = 0
        while pos < len(data):
            if len(data) - pos < _HEADER.size:
                return records  # a torn header: the last write of a crash
            length, crc, rid = _HEADER.unpack_from(data, pos)
            end = pos + _HEADER.size + length
            body = data[pos + _HEADER.size : end]
            if end > len(data) or zlib.crc32(body, zlib.crc32(data[pos + 8 : pos + 16])) != crc:
                return records
            if records and rid != records[-1][0] + 1:
                return records
            records.append((rid, body))
            pos = end
    return records


class RedoLog:
    """Segments of checksummed records; one thread appends, another reports what is applied.

    ``append`` is called by the owner (one thread at a time, in the order its data must be
    applied); ``applied`` by the thread that commits the records to the database, in the same
    order.  The bookkeeping they share (records per segment) is under a lock held for a few
    instructions.
    """

    def __init__(self, directory: Path, *, segment_bytes: int | None = None) -> None:
        segment_bytes = SEGMENT_BYTES if segment_bytes is None else segment_bytes
        if segment_bytes < 1:
            raise ValueError("segment_bytes must be positive")
        self._dir = directory
        self._segment_bytes = segment_bytes
        try:
            directory.mkdir(exist_ok=True)
        except OSError as exc:
            raise RedoError(f"redo log {directory}: cannot create: {exc}") from exc
        if not directory.is_dir():
            raise RedoError(f"redo log {directory}: exists but is not a directory")
        self._lock = threading.Lock()
        # [segment number, records appended to it, records of it applied]; the last is current.
        self._segments: deque[list[int]] = deque()
        self._fd = -1
        self._size = 0
        self._next_id = 1
        self._failure: str | None = None
        self._old = segment_paths(directory)  # segments found at open: recover() reads them

    @property
    def directory(self) -> Path:
        """The directory holding the segments."""
        return self._dir

    @property
    def segments(self) -> int:
        """Segment files currently on disk that this log created (observability and tests)."""
        with self._lock:
            return len(self._segments)

    # -- opening ---------------------------------------------------------------------

    def recover(self, applied_id: int) -> list[bytes]:
        """The payloads of the intact records after ``applied_id``, oldest first.

        ``applied_id`` is the id the database says it applied last.  Reading stops at the first
        incomplete or damaged record (what follows cannot be trusted to be in order); a log that
        starts beyond ``applied_id + 1`` is refused with RedoError.  After this the owner applies
        the payloads (with :meth:`last_id` as its new applied id), then calls :meth:`start`, which
        deletes the segments read here.
        """
        payloads: list[bytes] = []
        last = applied_id
        for rid, payload in read_records(self._old):
            if rid > last:
                if rid != last + 1:
                    # Segments are deleted only once the database has them, so this cannot follow
                    # from a crash: the log is not this database's (a restored backup?).
                    raise RedoError(
                        f"redo log {self._dir}: starts at record {rid} but the database holds records up"
                        f" to {applied_id} only: it does not belong to this database (move it away to"
                        " start without it, knowing its records are then lost)")
                payloads.append(payload)
                last = rid
        self._next_id = last + 1
        return payloads

    def last_id(self) -> int:
        """The id of the newest record appended or recovered (0 if none)."""
        return self._next_id - 1

    def start(self) -> None:
        """Delete the segments found at open (the owner has applied them) and open a new one."""
        for path in self._old:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise RedoError(f"redo log {path}: cannot delete: {exc}") from exc
        number = int(self._old[-1].stem) + 1 if self._old else 1
        self._old = []
        self._open_segment(number)

    # -- appending (owner thread) ----------------------------------------------------

    def append(self, payload: bytes) -> int:
        """Write one record (one ``os.write``) and return its id; in the page cache on return.

        Raises RedoError if the write fails; the log then refuses every later append (a record
        after a torn one would never be read back).
        """
        if self._failure is not None:
            raise RedoError(self._failure)
        if self._size >= self._segment_bytes:
            self._rotate()
        rid = self._next_id
        head = _ID.pack(rid)
        record = _HEADER.pack(len(payload), zlib.crc32(payload, zlib.crc32(head)), rid) + payload
        try:
            written = os.write(self._fd, record)
            while written < len(record):  # a short write to a regular file: disk full, usually
                more = os.write(self._fd, record[written:])
                if more <= 0:
                    raise OSError("no progress writing")
                written += more
        except OSError as exc:
            self._failure = f"redo log {self._dir}: write failed: {exc}"
            raise RedoError(self._failure) from exc
        self._next_id = rid + 1
        self._size += len(record)
        with self._lock:
            self._segments[-1][1] += 1
        return rid

    def _rotate(self) -> None:
        fd, self._fd = self._fd, -1  # never closed twice, whatever happens next
        try:
            os.close(fd)
        except OSError as exc:  # pragma: no cover - close of a plain file we opened
            self._failure = f"redo log {self._dir}: close failed: {exc}"
            raise RedoError(self._failure) from exc
        with self._lock:
            number = self._segments[-1][0] + 1
        self._open_segment(number)

    def _open_segment(self, number: int) -> None:
        path = self._dir / f"{number:08d}{_SUFFIX}"
        try:
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        except OSError as exc:
            self._failure = f"redo log {path}: cannot create: {exc}"
            raise RedoError(self._failure) from exc
        self._size = 0
        with self._lock:
            self._segments.append([number, 0, 0])

    # -- applied (the thread hearing the commits) ----------------------------------------

    def applied(self, records: int) -> None:
        """``records`` more records (oldest first) are durable in the database.

        Segments all of whose records are applied, other than the one being appended to, are
        deleted.
        """
        with self._lock:
            for seg in self._segments:
                if records <= 0:
                    break
                take = min(records, seg[1] - seg[2])
                seg[2] += take
                records -= take
        self._drop_applied()

    def _drop_applied(self) -> None:
        """Delete fully applied segments, oldest first, under the lock.

        The segments on disk must stay one unbroken run (recovery stops at a missing id): so a
        segment leaves the list only once its file is gone, and a delete that fails leaves it and
        every newer one in place, to be tried again after the next commit.  Deleting under the
        lock keeps the writer thread and a rotation from ever deleting out of order.
        """
        with self._lock:
            while len(self._segments) >= 2 and self._segments[0][2] >= self._segments[0][1]:
                try:
                    (self._dir / f"{self._segments[0][0]:08d}{_SUFFIX}").unlink(missing_ok=True)
                except OSError:
                    return
                self._segments.popleft()

    def close(self, *, remove: bool) -> None:
        """Close the current segment; with ``remove`` (everything is applied) delete every segment."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if remove:
            with self._lock:
                numbers = [seg[0] for seg in self._segments]
                self._segments.clear()
            for number in numbers:
                (self._dir / f"{number:08d}{_SUFFIX}").unlink(missing_ok=True)
