"""The order journal: the durable record of every order event, for recovery and for the audit.

Why this module exists
----------------------
Two promises of the order engine rest on it:

* **Recovery.**  Every accepted order and every change to it is in the journal *before* it is
  acknowledged; after a ``kill -9`` and restart the engine rebuilds every open order and parent
  by replaying the journal.  So an entry must be durable before the engine tells anybody about
  it, and what was durable must come back, in order, after any crash.
* **Audit.**  Every fact (an order accepted into its parent or rejected, a cross, a parent fill
  and its allocation, a child placed, a venue execution, a cancel, ...: one class each in
  :mod:`metaorder.events`, turned into ``kind`` and payload by :mod:`metaorder.eventcodec` and
  nowhere else) is journaled with the time the engine saw it and the ids of the orders
  and parents it concerns, so ``metaorder audit ORDER_ID`` can print one order's life.

The write path mirrors the FIX store (:mod:`metaorder.fix.store`) and for the same reasons;
the design is repeated here rather than shared because the two differ in their unit of work
(one global sequence of entries here, per-session state there).

Entries, sequence numbers and payloads
--------------------------------------
:meth:`Journal.append` assigns the next global sequence number (strictly increasing, never
reused for a durable entry, continued after a restart) and returns it.  ``time`` is supplied
by the caller from the injected clock: this module never reads a clock.

The payload is encoded to JSON *inside append*, on the calling thread.  That is most of
append's cost (about 1.3 of 2.3 µs for a six-field order event; a flush() adds about 5 µs, once
per batch) and buys two things a deferred encoding could not: the entry is a
snapshot (the caller may mutate its dict afterwards), and a payload that cannot be encoded
is refused with ``TypeError``/``ValueError`` right there, at the faulty call, instead of
failing the writer thread and with it the whole journal.  The encoding rules
(:func:`json_default`) are part of the contract:

* ``Decimal`` is stored as its string, ``str(d)``: ``Decimal(entry.data["px"])`` gives back
  exactly the same value, trailing zeros and exponent included.  JSON numbers would go
  through binary floats and lose that.  Readers therefore get **strings** for decimals and
  convert them where they know a field is a decimal.
* An ``Enum`` is stored as its ``value`` (``Side.BUY`` becomes ``"1"``); readers rebuild it
  with ``Side(value)``.
* Tuples come back as lists, other mappings as dicts; keys should be strings (JSON turns
  others into strings); floats round-trip exactly; NaN and infinities are refused (not JSON).

Threading model
---------------
Appends are cheap on the calling thread: validate, encode, take the next sequence number and
append a row tuple to the pending list, under one short lock (so appends from several
threads are safe, and sequence order is buffer order).  :meth:`SqliteJournal.flush` hands the
pending list to the single writer thread as one immutable batch with its future.  The writer
takes every batch queued at that moment, inserts them in one transaction, commits once and
resolves their futures (group commit): under load, thousands of entries cost one commit.

The batch is queued while the lock is held, so the queue order is the sequence order and
the committed entries are always a prefix of the sequence: a flush future therefore covers
every entry appended before the flush, from any thread.  The writer never takes that lock,
so a producer blocked on a full queue (``max_queue`` batches: deliberate back-pressure,
about one commit long) cannot deadlock it.  Futures resolve on the writer thread: their
callbacks must be cheap and must not flush or close the journal (that raises RuntimeError
rather than deadlocking).  ``redo=True`` (the daemon's choice with ``synchronous="NORMAL"``)
writes each flushed batch first to a redo log beside the file (:mod:`metaorder.redo`: one
``os.write``, which survives a kill -9 as soon as it returns) and returns a resolved future;
a child process (:mod:`metaorder.redo_apply`) then commits the batch with ``synchronous = FULL``
off the caller's path and off its interpreter lock (there is no writer thread then), and the
redo segment is deleted once the database has it.  Nothing the caller waits for
syncs: the checkpoints' fsyncs were half of the intake's p99 while commits ran on its thread.

Reads (:meth:`~SqliteJournal.replay`, :meth:`~SqliteJournal.history`) see everything
appended before the call, durable or not: committed rows read through a per-thread read
connection (WAL lets it read beside the writer), merged with the batches still in flight
and the pending ones.  At start-up nothing is pending, so replay yields exactly what
survived.  This read-your-writes view is also what :class:`MemoryJournal` gives, so the two
are interchangeable in tests.

What survives what
------------------
* ``flush()``'s future resolved: every entry appended before the flush() call is committed
  (with ``redo=True``: in the redo log, committed moments later) and survives a ``kill -9``
  (and, with ``synchronous="FULL"``, power loss); redo records are applied at the next open.
* Appended but not flushed: in this process's memory only; a crash loses it (and flushed
  batches whose future had not resolved yet).  The sequence numbers of lost entries are
  handed out again after the restart: they were never durable, so nobody may have relied on
  them.
* :meth:`SqliteJournal.close` commits everything appended before it returns.
* A writer failure (disk full, I/O error) fails every pending flush future, every later
  append and flush, and close(): the journal never loses entries silently.

``synchronous="NORMAL"`` (default) survives process crashes but may lose the last commits on
power loss; ``"FULL"`` fsyncs every group commit and survives power loss too.

The file
--------
SQLite in WAL mode.  ``entries(seq INTEGER PRIMARY KEY, time REAL, kind TEXT, order_ids TEXT,
data TEXT)`` holds the entries; ``order_ids`` (a JSON array) is kept beside the audit index
so that replay is one sequential scan without a join.  ``entry_orders(order_id, seq)``, a
``WITHOUT ROWID`` table keyed by (order_id, seq), *is* the audit index: one order's history
is one range scan.  ``meta`` names the format and the schema version, so that neither a FIX
store nor a future schema is ever mistaken for a journal, and the event format version the
payloads are written in (``event_version``, :data:`EVENT_VERSION`; absent from journals written
before it was recorded, which are version 1).

Opening validates the file (``PRAGMA quick_check``, which reads the whole file: start-up time
grows with the journal; format; version) and fails with a one-line
:class:`JournalError` on anything wrong: a journal is never reset silently, because an engine
that forgot its orders would be far worse than one that refuses to start.  A missing file is
created; an empty file (a crash during the very first open) counts as missing.  A lock file
(``<path>.lock``, ``flock``-ed) keeps two engine processes from writing one journal.
Automatic checkpoints are off; a checkpointer thread copies the WAL back beside the writer,
as in the FIX store, so no commit ever pays for a whole checkpoint.

:class:`JournalReader` opens a journal read-only and without the lock, for
``metaorder audit`` while the engine is running.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import enum
import json
import json.encoder
import marshal
import math
import os
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple, Protocol

from mypy_extensions import mypyc_attr

from metaorder.redo import RedoError, RedoLog, read_records, segment_paths
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
    "CHECKPOINT_ROWS",
    "EVENT_VERSION",
    "FORMAT",
    "REPLAY_CHUNK",
    "SCHEMA_VERSION",
    "EncodedData",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalReader",
    "MemoryJournal",
    "SqliteJournal",
    "decode_data",
    "encode_data",
    "json_default",
]

#: Schema version written to (and required from) the ``meta`` table.
SCHEMA_VERSION: Final = 1
#: Value of ``meta.format``: tells a journal apart from any other SQLite file (a FIX store too).
FORMAT: Final = "metaorder-journal"
#: The event payload format this build writes, and the newest it reads (``meta.event_version``).  The
#: format is :mod:`metaorder.eventcodec`'s (its ``VERSION`` is this value); the journal only records
#: which one wrote the file, so a journal written by a newer format is refused at open instead of
#: being misread entry by entry.  A journal without the value predates it: version 1.
EVENT_VERSION: Final = 1
#: Rows (plus one per commit) written between two WAL checkpoints.  Small checkpoints often
#: rather than big ones rarely: a checkpoint's fsync stalls the commits writing beside it for
#: as long as it runs, and that grows with the WAL written since the last (at 5,000 orders/s:
#: p99.9 5.5-11 ms at 1,000 rows, 8.5-18 ms at 4,000, 33-41 ms at 20,000).  A WAL of a few MB.
CHECKPOINT_ROWS = 1000  # not Final: compiled code would inline it, and tests set it smaller
#: Rows read per query by replay: bounds memory and keeps each read transaction short.
REPLAY_CHUNK = 2000  # not Final (see CHECKPOINT_ROWS)

_MAX_SEQ: Final = 2**63 - 1
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"

_SCHEMA: Final = (
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE entries ("
    " seq INTEGER PRIMARY KEY,"
    " time REAL NOT NULL,"
    " kind TEXT NOT NULL,"
    " order_ids TEXT NOT NULL,"
    " data TEXT NOT NULL)",
    "CREATE TABLE entry_orders ("
    " order_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL,"
    " PRIMARY KEY (order_id, seq)) WITHOUT ROWID",
)
_TABLES: Final = frozenset({"meta", "entries", "entry_orders"})
_INSERT_ENTRIES: Final = MultiRowInsert("INSERT INTO entries (seq, time, kind, order_ids, data)", 5)
_INSERT_LINKS: Final = MultiRowInsert("INSERT INTO entry_orders (order_id, seq)", 2)

_SELECT_RANGE: Final = (
    "SELECT seq, time, kind, order_ids, data FROM entries WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
)
_SELECT_ONE: Final = "SELECT seq, time, kind, order_ids, data FROM entries WHERE seq = ?"
_SELECT_HISTORY: Final = (
    "SELECT e.seq, e.time, e.kind, e.order_ids, e.data FROM entry_orders AS o"
    " JOIN entries AS e ON e.seq = o.seq WHERE o.order_id = ? AND o.seq <= ? ORDER BY o.seq"
)


class JournalError(Exception):
    """The journal cannot be used; the one-line message names the file and what is wrong.

    Raised instead of ever starting from an empty journal silently: a human has to look.
    """


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled event, as replay and history return it.

    ``data`` is the decoded JSON payload: decimals are strings, enums their values (see the
    module docstring).  Each read decodes afresh, so mutating it changes nobody else's copy.
    """

    seq: int  # global, strictly increasing, assigned at append
    time: float  # epoch seconds, given by the caller
    kind: str  # an event kind, e.g. "order.accepted", "fill", "child.placed" (metaorder.eventcodec.KINDS)
    order_ids: tuple[str, ...]  # the orders and parents the event concerns: the audit index
    data: Mapping[str, Any]


# --------------------------------------------------------------------------- encoding


def json_default(obj: object) -> Any:
    """Encoder fallback: Decimal -> exact string, Enum -> its value, other mappings -> dict.

    Decimals become strings because a JSON number would be read back as a binary float,
    which cannot hold most decimal prices exactly.
    """
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"journal payload: {type(obj).__name__} is not JSON serialisable")


# One encoder for everything.  allow_nan=False: NaN and Infinity are not JSON and not a valid quantity.
_ENCODER: Final = json.JSONEncoder(
    default=json_default, separators=(",", ":"), ensure_ascii=False, check_circular=False, allow_nan=False
)


def _make_encode() -> Callable[[object], str]:
    """The fastest encoding function that gives exactly ``_ENCODER.encode``'s output.

    ``JSONEncoder.encode`` builds a new C encoder object on every call, a third of the cost of
    encoding a typical payload and the largest single item of append's budget; the C encoder is
    made once here instead, with _ENCODER's settings.  ``c_make_encoder`` is a CPython internal:
    where it is missing or its signature differs, the public method is used.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is not None:
        with contextlib.suppress(Exception):
            c_encoder = make(
                None,  # markers: no circular check (check_circular=False)
                _ENCODER.default,
                json.encoder.encode_basestring,  # ensure_ascii=False
                None,  # indent
                _ENCODER.key_separator,
                _ENCODER.item_separator,
                False,  # sort_keys
                False,  # skipkeys
                False,  # allow_nan
            )
            join = "".join

            def encode(obj: object) -> str:
                return join(c_encoder(obj, 0))

            if encode({"probe": [Decimal("1.0"), 0.5, None, "\u00e9"]}) == _ENCODER.encode(
                {"probe": [Decimal("1.0"), 0.5, None, "\u00e9"]}
            ):
                return encode
    return _ENCODER.encode


_encode: Final = _make_encode()


def encode_data(data: Mapping[str, Any]) -> str:
    """The JSON text a payload is stored as (see :func:`json_default` for the rules)."""
    return _encode(data)


@mypyc_attr(native_class=False)  # compiled code cannot subclass this builtin natively
class EncodedData(str):
    """A payload already encoded, exactly as :func:`encode_data` would encode it, by a producer on
    the hot path that builds the JSON text directly (:func:`metaorder.eventcodec.append_order_accepted`:
    the accepted order, the largest payload of all).  Appending one skips the encoding; its
    producer's tests pin the text to ``encode_data`` of the same payload.  It must be a JSON object."""

    __slots__ = ()


#: ``raw_decode`` is ``json.loads`` without its two Python layers and their whitespace matching: the
#: journal writes compact JSON, and recovery decodes two texts per entry (a restart's tail replay
#: spent a third of its time in ``json.loads``).  Anything else falls back to ``json.loads``, which
#: also words the error.
_JSON: Final = json.JSONDecoder()


def _json(text: str) -> Any:
    try:
        value, end = _JSON.raw_decode(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def decode_data(text: str) -> dict[str, Any]:
    """A payload as stored, decoded; decimals stay strings (the reader knows which fields they are)."""
    value = _json(text)
    if not isinstance(value, dict):
        raise JournalError(f"journal payload is not a JSON object: {text[:60]!r}")
    return value


#: What one pending entry is until it is written: (seq, time, kind, order_ids, data as JSON).
_Row = tuple[int, float, str, tuple[str, ...], str]


def _prepare(
    time: float, kind: str, order_ids: Sequence[str], data: Mapping[str, Any] | EncodedData
) -> tuple[float, tuple[str, ...], str]:
    """Validate and encode one append; everything that can be wrong with it fails here, at the caller."""
    if type(time) is not float:
        if isinstance(time, bool) or not isinstance(time, int | float):
            raise TypeError(f"journal time must be epoch seconds (float), got {type(time).__name__}")
        time = float(time)
    if not math.isfinite(time):
        raise ValueError(f"journal time must be finite, got {time}")
    if type(kind) is not str or not kind:
        raise ValueError(f"journal kind must be a non-empty str, got {kind!r}")
    if type(order_ids) is tuple:
        ids: tuple[str, ...] = order_ids
    else:
        if isinstance(order_ids, str):  # a str is a Sequence[str]: "ORD1" would index 'O','R','D','1'
            raise TypeError("journal order_ids must be a sequence of ids, not one str")
        ids = tuple(order_ids)
    for oid in ids:
        if type(oid) is not str or not oid:
            raise ValueError(f"journal order ids must be non-empty str, got {oid!r}")
    if len(ids) > 1 and len(set(ids)) != len(ids):
        ids = tuple(dict.fromkeys(ids))  # the audit index holds an order once per entry
    if type(data) is EncodedData:
        return time, ids, str(data)  # an exact str: what marshal (the redo log) and SQLite take
    if type(data) is not dict and not isinstance(data, Mapping):
        raise TypeError(f"journal data must be a mapping, got {type(data).__name__}")
    return time, ids, _encode(data)


def _from_row(row: _Row) -> JournalEntry:
    seq, time, kind, ids, text = row
    return JournalEntry(seq, time, kind, ids, decode_data(text))


def _from_db(row: tuple[Any, ...]) -> JournalEntry:
    seq, time, kind, ids, text = row
    return JournalEntry(int(seq), float(time), str(kind), tuple(_json(ids)), decode_data(text))


# --------------------------------------------------------------------------- protocol


class Journal(Protocol):
    """Append-only, globally sequenced record of order events.

    Appends are buffered; an entry is durable once a flush() made after its append has
    resolved.  Reads see every entry appended before them, durable or not.
    """

    def append(self, time: float, kind: str, order_ids: Sequence[str],
               data: Mapping[str, Any] | EncodedData) -> int:
        """Buffer one entry (payload encoded now, see module docstring) and return its seq."""
        ...

    def flush(self) -> concurrent.futures.Future[None]:
        """Future resolved once every entry appended before this call is durable (group commit)."""
        ...

    def replay(self, after: int = 0) -> Iterator[JournalEntry]:
        """Every entry appended before this call, in seq order: the engine's recovery input.

        ``after``: only the entries whose seq is above it (the tail after a recovery snapshot)."""
        ...

    def entry(self, seq: int) -> JournalEntry | None:
        """The entry ``seq``, or None if there is none (a recovery snapshot checks it was taken of
        this journal's history: the entry it ends at must be there, the same)."""
        ...

    def history(self, order_id: str) -> list[JournalEntry]:
        """Every entry concerning ``order_id``, in seq order: the audit of one order or parent."""
        ...

    def close(self) -> None:
        """Make everything appended durable, then release the journal."""
        ...

    @property
    def event_version(self) -> int:
        """The event format version of the entries (:data:`EVENT_VERSION`; older files may be older)."""
        ...


# --------------------------------------------------------------------------- MemoryJournal


class MemoryJournal:
    """Non-durable journal for tests; it is the reference model of :class:`SqliteJournal`.

    Payloads are encoded and decoded exactly as on disk, so a test on this journal sees what
    recovery would see (decimals as strings) and an unserialisable payload fails here too.
    Reads still work after close(): a test may inspect what an engine journaled on shutdown.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[_Row] = []
        self._by_order: dict[str, list[int]] = {}  # order id -> indexes into _rows
        self._closed = False

    def append(self, time: float, kind: str, order_ids: Sequence[str],
               data: Mapping[str, Any] | EncodedData) -> int:
        t, ids, text = _prepare(time, kind, order_ids, data)
        with self._lock:
            if self._closed:
                raise JournalError("memory journal: closed")
            index = len(self._rows)
            seq = index + 1
            self._rows.append((seq, t, kind, ids, text))
            for oid in ids:
                self._by_order.setdefault(oid, []).append(index)
        return seq

    def flush(self) -> concurrent.futures.Future[None]:
        """Nothing to make durable: an already-completed future."""
        return completed_future()

    def replay(self, after: int = 0) -> Iterator[JournalEntry]:
        with self._lock:
            rows = self._rows[max(after, 0):]  # the entries appended before the call, as promised (seq = index + 1)
        return map(_from_row, rows)

    def entry(self, seq: int) -> JournalEntry | None:
        with self._lock:
            return _from_row(self._rows[seq - 1]) if 0 < seq <= len(self._rows) else None

    def history(self, order_id: str) -> list[JournalEntry]:
        with self._lock:
            rows = [self._rows[i] for i in self._by_order.get(order_id, ())]
        return [_from_row(row) for row in rows]

    def close(self) -> None:
        self._closed = True

    @property
    def event_version(self) -> int:
        """Always this build's: a memory journal holds only what this process wrote."""
        return EVENT_VERSION


# --------------------------------------------------------------------------- opening helpers


def _check_file(path: Path, *, create: bool) -> None:
    """Fail early, with a message a human understands, on problems SQLite words badly."""
    parent = path.parent
    if not parent.is_dir():
        raise JournalError(f"journal {path}: directory {parent} does not exist")
    if create and not os.access(parent, os.W_OK | os.X_OK):
        raise JournalError(f"journal {path}: directory {parent} is not writable")
    if not path.exists():
        if not create:
            raise JournalError(f"journal {path}: file does not exist")
        return
    if not path.is_file():
        raise JournalError(f"journal {path}: exists but is not a regular file")
    mode = os.R_OK | os.W_OK if create else os.R_OK
    if not os.access(path, mode):
        raise JournalError(f"journal {path}: file is not {'readable and writable' if create else 'readable'}")
    with path.open("rb") as fh:
        header = fh.read(len(_SQLITE_MAGIC))
    if header and header != _SQLITE_MAGIC:
        raise JournalError(f"journal {path}: file is not an SQLite database")
    if not header and not create:
        raise JournalError(f"journal {path}: file is empty")


def _lock(path: Path) -> int:
    """Take ``<path>.lock`` exclusively: a second writer would interleave sequence numbers."""
    return lock_exclusively(path, "journal", "journal object", JournalError)


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)


def _integrity_check(conn: sqlite3.Connection, path: Path) -> None:
    problem = integrity_problem(conn)
    if problem is not None:
        raise JournalError(f"journal {path}: integrity check failed: {problem}")


def _check_schema(conn: sqlite3.Connection, path: Path, tables: set[str]) -> int:
    """The file is a journal of this schema version, or a JournalError says what it is instead.

    Returns the event format version its entries were written in (see :data:`EVENT_VERSION`)."""
    if "meta" not in tables:
        raise JournalError(f"journal {path}: SQLite database is not a metaorder journal (no meta table)")
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    if meta.get("format") != FORMAT:
        raise JournalError(
            f"journal {path}: SQLite database is not a metaorder journal (format {meta.get('format')!r})"
        )
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise JournalError(
            f"journal {path}: unknown schema version {meta.get('schema_version')!r}"
            f" (this build supports {SCHEMA_VERSION})"
        )
    missing = _TABLES - tables
    if missing:
        raise JournalError(f"journal {path}: missing tables {sorted(missing)}")
    event_version = meta.get("event_version", "1")
    if not (event_version.isdigit() and 1 <= int(event_version) <= EVENT_VERSION):
        raise JournalError(
            f"journal {path}: its events are in format version {event_version!r}, which this build does not"
            f" read (it reads versions 1 to {EVENT_VERSION}; was it written by a newer metaorder?)"
        )
    return int(event_version)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


# --------------------------------------------------------------------------- SqliteJournal


class _Batch(NamedTuple):
    """The entries appended between two flushes: ONE queue item for the writer thread.

    Immutable once handed over: the journal starts a new pending list and never touches this
    one again, so the writer reads it without a lock.  Never empty.
    """

    rows: list[_Row]
    future: concurrent.futures.Future[None]

    @property
    def last_seq(self) -> int:
        return self.rows[-1][0]


#: ``None`` on the queue tells the writer to commit what it has and stop.
_Item = _Batch | None


class SqliteJournal:
    """Durable journal in one SQLite file, with one writer thread and one checkpointer thread.

    Construction validates the file and raises :class:`JournalError` if it cannot be used; a
    missing file is created.  ``max_queue`` is the number of flushed batches (not entries)
    that may wait for the writer before ``flush()`` blocks (back-pressure).  ``verify=False``
    skips the integrity check, which reads the whole file: a restart from a recovery snapshot
    reads only the journal's tail (SQLite still refuses any damaged page it reads), and the
    snapshotter checks the whole file beside the running engine (:meth:`JournalReader.check`).
    """

    def __init__(
        self,
        path: str | Path,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        *,
        max_queue: int = 65536,
        redo: bool = False,
        verify: bool = True,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if max_queue < 1:
            raise ValueError("max_queue must be positive")
        self._path = Path(path)
        # With a redo log the database is what lets a segment be deleted: it must be fsync'ed.
        self._synchronous = "FULL" if redo else synchronous
        _check_file(self._path, create=True)
        self._lock_fd = _lock(self._path)
        self._redo: RedoLog | None = None
        self._event_version = EVENT_VERSION  # the file's, read by _open_and_validate
        try:
            self._conn, last_seq = self._open_and_validate(verify)
            self._redo, recovered = open_redo_log(self._conn, self._path, redo, apply_redo_payloads,
                                                  self._synchronous)
            if recovered:
                last_seq = int(self._conn.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0])
        except RECOVERY_ERRORS as exc:
            self._conn.close()
            os.close(self._lock_fd)
            raise JournalError(f"journal {self._path}: cannot apply its redo log: {exc}") from exc
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._max_lag = max(1, max_queue // 2)
        # Guarded by _lock: the sequence counter, the pending rows, the in-flight batches and
        # the queue put (so queue order is seq order).  The writer never takes it.
        self._lock = threading.Lock()
        self._next_seq = last_seq + 1
        self._pending: list[_Row] = []
        self._in_flight: deque[_Batch] = deque()  # handed to the writer, oldest first
        self._committed_seq = last_seq  # written by the writer only, after each commit
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=max_queue)
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
            self._applier = RedoApplier("journal", self._path, CHECKPOINT_ROWS,
                                        on_applied=self._on_applied, on_failed=self._on_applier_failed)
            #: Set after every background checkpoint (observability and tests: wait on it, don't poll).
            self.checkpointed = self._applier.checkpointed
            return
        self._checkpointer = WalCheckpointer(self._path, f"journal-checkpointer:{self._path.name}", CHECKPOINT_ROWS)
        self.checkpointed = self._checkpointer.checkpointed
        self._writer = threading.Thread(
            target=self._run_writer, name=f"journal-writer:{self._path.name}", daemon=True)
        self._writer.start()
        self._writer_ident = self._writer.ident

    # -- public ------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def event_version(self) -> int:
        """The event format version the file's entries are written in (see :data:`EVENT_VERSION`)."""
        return self._event_version

    @property
    def commits(self) -> int:
        """Write transactions committed so far: shows how well group commit batches."""
        return self._applier.commits if self._applier is not None else self._commits

    @property
    def checkpoints(self) -> int:
        """WAL checkpoints run in the background so far."""
        if self._applier is not None:
            return self._applier.checkpoints
        assert self._checkpointer is not None
        return self._checkpointer.checkpoints

    def append(self, time: float, kind: str, order_ids: Sequence[str],
               data: Mapping[str, Any] | EncodedData) -> int:
        """Buffer one entry and return its seq; durable after the next flush() resolves.

        Raises TypeError/ValueError for an invalid entry (nothing is appended, no seq is
        used) and JournalError once the journal is closed or its writer has failed.
        """
        t, ids, text = _prepare(time, kind, order_ids, data)
        with self._lock:
            if self._failure is not None or self._closed:
                raise self._unusable()
            seq = self._next_seq
            self._next_seq = seq + 1
            self._pending.append((seq, t, kind, ids, text))
        return seq

    @property
    def uncommitted(self) -> int:
        """Entries appended but not yet committed to the SQLite file (with a redo log: durable there,
        waiting for the applier): the commit lag operators watch (``metaorder_journal_uncommitted_entries``)."""
        return max(0, self._next_seq - 1 - self._committed_seq)

    def flush(self) -> concurrent.futures.Future[None]:
        """Hand the pending entries to the writer as one batch; the future resolves at its commit.

        The future covers every entry appended before this call, from any thread: batches
        commit in seq order.  With nothing pending, the newest in-flight batch's future (or a
        completed one) is returned, so an idle journal costs the writer nothing.  After a
        writer failure the future fails with JournalError, even when nothing is pending.
        May block briefly when ``max_queue`` batches wait (back-pressure).
        """
        if self._failure is not None:
            return completed_future(self._failed_error())
        with self._lock:
            if not self._pending:
                in_flight = self._prune()
                if not in_flight or (self._redo is not None and len(in_flight) <= self._max_lag):
                    return completed_future()  # (with a redo log, what is in flight is in it)
                return in_flight[-1].future
            if self._closed:  # only reachable by racing close() from another thread
                return completed_future(JournalError(f"journal {self._path}: closed"))
            self._check_not_writer()  # before the batch is taken: a refused flush loses nothing
            return self._hand_over()

    def replay(self, after: int = 0) -> Iterator[JournalEntry]:
        """Every entry appended before this call (whose seq is above ``after``), in seq order, read
        lazily in chunks.

        The set of entries is fixed when replay() is called (not at the first next()): what
        is appended while iterating is not included.  Raises JournalError if closed.
        """
        self._check_open()
        tail, end = self._snapshot()
        return self._replay(tail, end, after)

    def entry(self, seq: int) -> JournalEntry | None:
        self._check_open()
        tail, _ = self._snapshot()
        for row in tail:
            if row[0] == seq:
                return _from_row(row)
        rows = self._read(_SELECT_ONE, (seq,))
        return _from_db(rows[0]) if rows else None

    def history(self, order_id: str) -> list[JournalEntry]:
        """Every entry appended before this call whose order_ids include ``order_id``, seq order."""
        if type(order_id) is not str:
            raise TypeError(f"order_id must be a str, got {type(order_id).__name__}")
        self._check_open()
        tail, end = self._snapshot()
        # Every batch in ``tail`` is either committed by the time of this one-statement read (then
        # the read returns its matching entries) or not (then they can only come from ``tail``).
        entries = [_from_db(row) for row in self._read(_SELECT_HISTORY, (order_id, end))]
        seen = {entry.seq for entry in entries}
        # Uncommitted seqs are all above committed ones: appending keeps the list in seq order.
        entries.extend(_from_row(row) for row in tail if order_id in row[3] and row[0] not in seen)
        return entries

    def close(self) -> None:
        """Commit everything appended, stop both threads, close the file and release the lock.

        Idempotent.  Raises JournalError (after releasing everything) if the writer failed at
        any point: the journal on disk is then incomplete, and that must not pass silently.
        """
        if self._is_writer():
            raise RuntimeError("journal closed from a flush done-callback (the writer thread)")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._pending and self._failure is None:
                self._hand_over()
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
        if self._failure is None and self._applier is None:  # (the applier does it itself)
            with contextlib.suppress(sqlite3.Error):  # tidy, not essential: the WAL is valid as it is
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns.clear()
        os.close(self._lock_fd)
        if self._failure is not None:
            raise self._failed_error()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calling threads ---------------------------------------------------------------

    def _hand_over(self) -> concurrent.futures.Future[None]:
        """Queue the pending rows as one batch (caller holds _lock and checked there are some)."""
        fut: concurrent.futures.Future[None] = concurrent.futures.Future()
        # Running futures cannot be cancelled: a flush is a fact about the disk, not a request.
        fut.set_running_or_notify_cancel()
        rows = self._pending
        batch = _Batch(rows, fut)
        # In flight before it is handed over: the writer or the applier may report it committed at once.
        self._pending = []
        in_flight = self._prune()
        in_flight.append(batch)
        if self._applier is None:
            self._queue.put(batch)  # blocks briefly when max_queue batches wait: back-pressure
            return fut
        assert self._redo is not None
        payload = marshal.dumps(rows)
        try:
            self._applier.send(self._redo.append(payload), payload, batch)
        except RedoError as exc:
            self._failure = exc
            return completed_future(self._failed_error())
        if len(in_flight) <= self._max_lag:
            return completed_future()  # durable in the redo log; the commit follows
        return fut

    def _prune(self) -> deque[_Batch]:
        """The batches still in flight, after dropping those the writer reported committed (under _lock)."""
        in_flight = self._in_flight
        committed = self._committed_seq  # read once: the writer may advance it meanwhile
        while in_flight and in_flight[0].last_seq <= committed:
            in_flight.popleft()
        return in_flight

    def _snapshot(self) -> tuple[list[_Row], int]:
        """The uncommitted rows (in flight, then pending) and the last seq appended, taken together.

        Taken *before* the database is read: a batch committed in between is then found in
        both places and deduplicated by seq, never missed.
        """
        with self._lock:
            tail = [row for batch in self._prune() for row in batch.rows]
            tail.extend(self._pending)
            return tail, self._next_seq - 1

    def _replay(self, tail: list[_Row], end: int, after: int) -> Iterator[JournalEntry]:
        # Committed entries are always a prefix of the seqs (batches commit in seq order), so
        # reading committed rows in order and then the uncommitted ones above them misses none.
        last = after
        while True:
            rows = self._read(_SELECT_RANGE, (last, end, REPLAY_CHUNK))
            for row in rows:
                yield _from_db(row)
            if rows:
                last = int(rows[-1][0])
            if len(rows) < REPLAY_CHUNK:
                break
        for row in tail:
            if row[0] > last:
                yield _from_row(row)

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self._path}: cannot read: {exc}") from exc

    def _reader(self) -> sqlite3.Connection:
        """The calling thread's read connection: reads never contend with the writer connection."""
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            self._check_open()
            try:
                conn = _connect(self._path)
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.Error as exc:
                raise JournalError(f"journal {self._path}: cannot open for reading: {exc}") from exc
            self._readers.conn = conn
            self._reader_conns.append(conn)
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise JournalError(f"journal {self._path}: closed")

    def _is_writer(self) -> bool:
        """On the thread that resolves flush futures (the writer, or the applier's reporter)?"""
        writer = self._applier.reporter_ident if self._applier is not None else self._writer_ident
        return writer is not None and threading.get_ident() == writer

    def _check_not_writer(self) -> None:
        if self._is_writer():
            # A flush done-callback flushing the journal could wait on its own full queue.
            raise RuntimeError("journal flushed from a flush done-callback (the writer thread)")

    def _unusable(self) -> JournalError:
        if self._failure is not None:
            return self._failed_error()
        return JournalError(f"journal {self._path}: closed")

    def _failed_error(self) -> JournalError:
        """A fresh JournalError per caller (shared exception objects accumulate tracebacks)."""
        err = JournalError(f"journal {self._path}: writer failed: {self._failure}")
        err.__cause__ = self._failure
        return err

    # -- opening -----------------------------------------------------------------------

    def _open_and_validate(self, verify: bool) -> tuple[sqlite3.Connection, int]:
        """Open the writer connection, check the file, create the schema on first start; return last seq."""
        path = self._path
        try:
            conn = _connect(path)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {path}: cannot open: {exc}") from exc
        try:
            if verify:
                _integrity_check(conn, path)
            tables = _tables(conn)
            if not tables:
                conn.execute("BEGIN IMMEDIATE")
                for stmt in _SCHEMA:
                    conn.execute(stmt)
                conn.executemany(
                    "INSERT INTO meta (name, value) VALUES (?, ?)",
                    [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                     ("event_version", str(EVENT_VERSION))],
                )
                conn.execute("COMMIT")
                tables = set(_TABLES)
            self._event_version = _check_schema(conn, path, tables)
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"journal {path}: cannot switch to WAL mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            # No automatic checkpoints on the writer: one would copy the WAL into the database
            # inside a commit and hold up every flush waiting on it; the checkpointer does it.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            last_seq = int(conn.execute("SELECT coalesce(max(seq), 0) FROM entries").fetchone()[0])
        except JournalError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(f"journal {path}: unusable: {exc}") from exc
        return conn, last_seq

    # -- writer thread -----------------------------------------------------------------

    def _run_writer(self) -> None:
        """Group-commit loop: take every batch queued, one transaction, resolve their futures."""
        stop = False
        while not stop:
            batches, stop = take_queued(self._queue)
            commit_group(self, batches, self._conn)

    def _commit(self, batches: Sequence[_Batch]) -> None:
        """Insert ``batches`` (queue order = seq order) in one transaction and report the last seq."""
        conn = self._conn
        assert self._checkpointer is not None
        self._checkpointer.catch_up(conn)
        rows = [row for batch in batches for row in batch.rows]
        conn.execute("BEGIN IMMEDIATE")
        _insert_rows(conn, rows)
        conn.execute("COMMIT")
        self._commits += 1
        self._checkpointer.committed(len(rows) + 1)
        self._committed_seq = batches[-1].last_seq  # before the futures resolve

    # -- the redo applier's reports (its reporting thread) -----------------------------

    def _on_applied(self, batches: list[_Batch]) -> None:
        self._committed_seq = batches[-1].last_seq  # before the futures resolve
        assert self._redo is not None
        self._redo.applied(len(batches))
        settle(b.future for b in batches)

    def _on_applier_failed(self, error: str, batches: list[_Batch]) -> None:
        if self._failure is None:
            self._failure = RedoError(error)
        settle((b.future for b in batches), self._failed_error)


def apply_redo_payloads(conn: sqlite3.Connection, payloads: Sequence[bytes]) -> int:
    """Apply redo records of this journal inside the caller's transaction; returns the rows written.

    Used by recovery at open and by the redo applier process (:mod:`metaorder.redo_apply`).
    """
    rows: list[_Row] = [row for payload in payloads for row in marshal.loads(payload)]
    _insert_rows(conn, rows)
    return 2 * len(rows)  # an entry and (about) one audit index row each: what checkpoints count


def _insert_rows(conn: sqlite3.Connection, rows: Sequence[_Row]) -> None:
    """The entries and their audit index rows, inside the caller's transaction."""
    entries: list[object] = []
    links: list[object] = []
    add_entry = entries.extend
    add_link = links.extend
    for seq, t, kind, ids, text in rows:
        add_entry((seq, t, kind, _encode(ids), text))
        for oid in ids:
            add_link((oid, seq))
    _INSERT_ENTRIES.run(conn, entries)
    _INSERT_LINKS.run(conn, links)


# --------------------------------------------------------------------------- JournalReader


class JournalReader:
    """Read-only view of a journal file, e.g. for ``metaorder audit`` beside a running engine.

    It takes no lock (WAL lets it read while the engine writes), never creates or changes
    the file, and skips the full integrity check (an audit must start fast on a large
    journal; damaged pages still fail the read that meets them, with JournalError).  It sees
    what is committed and what the engine's redo log holds beyond it (the last milliseconds
    before a commit, or everything since the last commit of an engine killed and not yet
    restarted).  Use it from one thread at a time.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        _check_file(self._path, create=False)
        try:
            self._conn = _connect(self._path)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self._path}: cannot open: {exc}") from exc
        try:
            self._conn.execute("PRAGMA query_only = ON")
            self._event_version = _check_schema(self._conn, self._path, _tables(self._conn))
        except JournalError:
            self._conn.close()
            raise
        except sqlite3.Error as exc:
            self._conn.close()
            raise JournalError(f"journal {self._path}: unusable: {exc}") from exc

    @property
    def path(self) -> Path:
        return self._path

    @property
    def event_version(self) -> int:
        """The event format version the file's entries are written in (see :data:`EVENT_VERSION`)."""
        return self._event_version

    def replay(self, after: int = 0) -> Iterator[JournalEntry]:
        """Every entry (whose seq is above ``after``), in seq order, committed ones read lazily in chunks."""
        tail = self._redo_tail()  # before the database: what left the redo log is committed
        last = after
        while True:
            rows = self._read(_SELECT_RANGE, (last, _MAX_SEQ, REPLAY_CHUNK))
            for row in rows:
                yield _from_db(row)
            if rows:
                last = int(rows[-1][0])
            if len(rows) < REPLAY_CHUNK:
                break
        for entry in tail:
            if entry[0] > last:
                yield _from_row(entry)

    def history(self, order_id: str) -> list[JournalEntry]:
        """Every entry concerning ``order_id``, in seq order."""
        tail = self._redo_tail()
        entries = [_from_db(row) for row in self._read(_SELECT_HISTORY, (order_id, _MAX_SEQ))]
        seen = {entry.seq for entry in entries}
        entries.extend(_from_row(row) for row in tail if order_id in row[3] and row[0] not in seen)
        return entries

    def check(self) -> None:
        """The integrity check the engine skips when it starts from a recovery snapshot (it reads
        the whole file): JournalError if the file is damaged."""
        try:
            _integrity_check(self._conn, self._path)
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self._path}: cannot read: {exc}") from exc

    def entry(self, seq: int) -> JournalEntry | None:
        """The entry ``seq``, or None if there is none."""
        for row in self._redo_tail():
            if row[0] == seq:
                return _from_row(row)
        rows = self._read(_SELECT_ONE, (seq,))
        return _from_db(rows[0]) if rows else None

    def of_kind(self, kind: str) -> list[JournalEntry]:
        """Every entry of ``kind``, in seq order: those no order's history lists (``engine.started``,
        which TCA needs to tell one engine run's market tape from the next)."""
        tail = self._redo_tail()
        entries = [_from_db(row) for row in self._read(
            "SELECT seq, time, kind, order_ids, data FROM entries WHERE kind = ? ORDER BY seq", (kind,))]
        seen = {entry.seq for entry in entries}
        entries.extend(_from_row(row) for row in tail if row[2] == kind and row[0] not in seen)
        return entries

    def _redo_tail(self) -> list[_Row]:
        """The rows in the engine's redo log (maybe committed too: callers skip seqs they have)."""
        try:
            records = read_records(segment_paths(self._path.with_name(self._path.name + ".redo")))
        except RedoError as exc:
            raise JournalError(f"journal {self._path}: {exc}") from exc
        return [row for _, payload in records for row in marshal.loads(payload)]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self._path}: cannot read: {exc}") from exc
