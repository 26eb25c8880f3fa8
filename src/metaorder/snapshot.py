"""Recovery snapshots: the state recovery's fold had built at one journal entry, so that a restart
replays only the entries after it.

Why.  Recovery rebuilds the intake and the engine by folding every journal entry (``Intake.apply``
then ``ExecutionEngine.apply``): its time grows with the journal's whole history, minutes for a
heavy day's ten million entries.  A snapshot is that fold's state after entry *N*; a restart
restores it and folds entries *N+1*... only.  The fold is the same code either way, so "snapshot
then tail" builds exactly what "everything" builds (``tests/unit/test_snapshot.py`` checks it
object by object at every cut of real journals), and the live engine never takes a snapshot
itself: :mod:`metaorder.snapshotter`, a child process, folds the committed journal beside it and
writes them, so the event loop pays nothing.

What a snapshot is not: a second source of truth.  The journal stays the record; a snapshot is a
cache of a computation over it, and any doubt sends recovery back to the full replay (said in the
log with the reason): a missing, damaged or truncated file, one written by another build (the
pickled classes and the fold's code must be the ones that wrote it: :func:`build_fingerprint`), or
one whose first entry or entry *N* is not this journal's (another journal, or entries lost after
the snapshot was written, as a power loss may lose the last redo records).

The file (``<journal>.snapshot``): one line of JSON (the :class:`SnapshotHeader`), then the
payload: the intake's and the engine's fold states pickled together, so that the objects they
share (a client order is in the intake's index, its parent and the book's) stay shared.  Pickle
is chosen over a field-by-field format because the fold states are graphs of the engine's own
objects: a format written by hand would have to follow every field added to them, and forgetting
one would restore a subtly different engine; pickle follows them by construction and the build
fingerprint refuses what an older build wrote.  A snapshot is as trusted as the journal beside it
(both live in the engine's own directory; unpickling runs code named in the file).  It is written
to a temporary file, fsync'ed and renamed over the previous one, so a crash while writing leaves
the previous snapshot whole.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from metaorder.orders.journal import JournalEntry

__all__ = [
    "Snapshot",
    "SnapshotError",
    "SnapshotHeader",
    "build_fingerprint",
    "capture",
    "entry_digest",
    "read_snapshot",
    "restore",
    "snapshot_path",
    "usable_snapshot",
    "write_snapshot",
    "written_by_this_build",
]

FORMAT: Final = "metaorder-snapshot"
VERSION: Final = 1
_PROTOCOL: Final = pickle.HIGHEST_PROTOCOL


class SnapshotError(Exception):
    """A snapshot that cannot be used: the reason, in one line (recovery then replays everything)."""


class Folding(Protocol):
    """The intake and the engine, as far as snapshots are concerned."""

    def fold_state(self) -> Any: ...

    def restore_fold_state(self, state: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    seq: int  # the last journal entry folded into the state
    entry_digest: str  # that entry's digest (entry_digest): the journal's identity at seq
    first_digest: str  # the journal's first entry's (its first engine start: when and how many orders)
    fingerprint: str  # the build that wrote it (build_fingerprint)
    payload_bytes: int
    payload_sha256: str
    open_orders: int  # for the log: what the state holds
    parents: int
    format: str = FORMAT
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class Snapshot:
    header: SnapshotHeader
    payload: bytes


def snapshot_path(journal_path: Path) -> Path:
    """Where the snapshots of the journal at ``journal_path`` live: beside it."""
    return journal_path.with_name(journal_path.name + ".snapshot")


def entry_digest(entry: JournalEntry) -> str:
    """A digest of one journal entry, identical for the same entry read from any copy of the journal."""
    text = repr((entry.seq, entry.time, entry.kind, tuple(entry.order_ids), entry.data))
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache  # the sources do not change under a running process
def build_fingerprint() -> str:
    """The build a snapshot belongs to: the package's sources, whether they run compiled, Python's
    version.  A pickled state is only restored by the code that pickled it: another build's
    classes or fold may differ, and the full replay is the safe answer to any difference."""
    from metaorder.orders import model  # the compiled build pickles its classes differently

    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    digest.update(f"{sys.version}|{model.__file__.endswith('.py')}|{_PROTOCOL}".encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def capture(intake: Folding, engine: Folding, first: JournalEntry, last: JournalEntry, fingerprint: str,
            open_orders: int, parents: int) -> Snapshot:
    """The fold state of ``intake`` and ``engine`` after the journal's entry ``last`` (its first: ``first``)."""
    if first.seq != 1:
        raise ValueError(f"entry {first.seq} given as the journal's first")
    payload = pickle.dumps((intake.fold_state(), engine.fold_state()), protocol=_PROTOCOL)
    header = SnapshotHeader(last.seq, entry_digest(last), entry_digest(first), fingerprint, len(payload),
                            hashlib.sha256(payload).hexdigest(), open_orders, parents)
    return Snapshot(header, payload)


def restore(snapshot: Snapshot, intake: Folding, engine: Folding) -> None:
    """Put the snapshot's fold state into a freshly built intake and engine (then replay the tail)."""
    intake_state, engine_state = pickle.loads(snapshot.payload)
    intake.restore_fold_state(intake_state)
    engine.restore_fold_state(engine_state)


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Replace the snapshot at ``path`` atomically: the previous one stays whole until the new one is."""
    tmp = path.with_name(path.name + ".tmp")
    header = json.dumps(asdict(snapshot.header), separators=(",", ":")).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(header + b"\n" + snapshot.payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power loss
    finally:
        os.close(directory)


def read_snapshot(path: Path) -> Snapshot:
    """The snapshot at ``path``, checked whole (header, length, checksum); SnapshotError otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError("no snapshot") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from exc
    line, sep, payload = data.partition(b"\n")
    try:
        fields = json.loads(line) if sep else None
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or fields.get("format") != FORMAT:
        raise SnapshotError(f"{path} is not a metaorder snapshot")
    if fields.get("version") != VERSION:
        raise SnapshotError(f"{path}: snapshot format version {fields.get('version')}, this build reads {VERSION}")
    try:
        header = SnapshotHeader(**fields)
    except TypeError as exc:
        raise SnapshotError(f"{path}: damaged header ({exc})") from exc
    if len(payload) != header.payload_bytes or hashlib.sha256(payload).hexdigest() != header.payload_sha256:
        raise SnapshotError(f"{path}: damaged (its payload does not match its checksum)")
    return Snapshot(header, payload)


def written_by_this_build(path: Path, fingerprint: str) -> bool:
    """Whether ``path`` holds a snapshot this build may restore, judged by its header alone (cheap:
    the engine asks before opening its journal, to know whether recovery will read only the tail)."""
    try:
        with path.open("rb") as fh:
            fields = json.loads(fh.readline())
    except (OSError, ValueError):
        return False
    return isinstance(fields, dict) and fields.get("format") == FORMAT and fields.get("version") == VERSION \
        and fields.get("fingerprint") == fingerprint


class EntrySource(Protocol):
    def entry(self, seq: int) -> JournalEntry | None: ...


def usable_snapshot(path: Path, journal: EntrySource, fingerprint: str) -> Snapshot:
    """The snapshot at ``path`` if it can stand for the replay of ``journal`` up to its entry, else
    SnapshotError saying why (recovery then replays the whole journal)."""
    snapshot = read_snapshot(path)
    header = snapshot.header
    if header.fingerprint != fingerprint:
        raise SnapshotError("written by another build of metaorder")
    first = journal.entry(1)
    if first is None or entry_digest(first) != header.first_digest:
        raise SnapshotError("taken of another journal (its first entry differs)")
    entry = journal.entry(header.seq)
    if entry is None:
        raise SnapshotError(f"taken at journal entry {header.seq}, which this journal does not have")
    if entry_digest(entry) != header.entry_digest:
        raise SnapshotError(f"journal entry {header.seq} differs from the one the snapshot was taken at")
    return snapshot
