"""The snapshotter: a child process that keeps recovery's fold running beside the engine and writes
recovery snapshots (:mod:`metaorder.snapshot`), so a restart replays only the journal's tail.

Why a child process.  A snapshot is the state recovery would have built at some entry.  The live
engine's own state is not that (strategies, finished children pruned, the guard's counts), and
pickling a million orders on the event loop would stall it for seconds; a thread would share its
interpreter lock.  Here the same fold as recovery (:class:`JournalFold`: the intake and the engine
built by :mod:`metaorder.wiring` from the same configuration, fed every committed entry) runs in
its own process at low priority on the other core, reading the journal read-only as ``metaorder
audit`` does, and every ``[journal] snapshot_every`` entries it writes a snapshot.  It costs the
engine nothing but the folding CPU, and if it dies the engine trades on (its restart then replays
a longer tail).

Lifetime: the engine starts it (``python -m metaorder.snapshotter``, :class:`SnapshotterProcess`),
hands it the configuration on stdin and keeps the pipe open; the child stops when the pipe closes
(the engine stopped, or was killed: the kernel closes it then too).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import json
import os
import select
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import structlog

from metaorder.config import MetaorderConfig, load_venues_config
from metaorder.eventcodec import decode_entry
from metaorder.execution.types import VenueInfo
from metaorder.logs import configure_logging
from metaorder.orders.journal import EncodedData, Journal, JournalEntry, JournalError, JournalReader
from metaorder.serving import collector_paused, quiet_garbage_collector
from metaorder.snapshot import (
    Snapshot,
    SnapshotError,
    build_fingerprint,
    capture,
    restore,
    snapshot_path,
    usable_snapshot,
    write_snapshot,
)
from metaorder.wiring import build_engine, build_intake, venue_infos

log = structlog.get_logger("metaorder.snapshotter")

POLL_S = 0.5  # how often the journal is looked at for new committed entries when idle
CHUNK = 20_000  # entries folded between two looks at the pipe (a stop is never long in coming)
SPACING = 5.0  # a snapshot that took w seconds to write is followed by the next no sooner than 5w after it


class JournalFold:
    """Recovery's fold, kept going: the intake and engine recovery builds, fed entry by entry.

    ``journal`` is what the intake would journal to; the fold never appends (``apply`` only
    rebuilds), so a read-only :class:`JournalReader` serves."""

    def __init__(self, config: MetaorderConfig, venues: Mapping[str, VenueInfo], journal: Journal) -> None:
        self.intake = build_intake(config, journal)
        self.engine = build_engine(config, self.intake, venues)
        self.version = journal.event_version
        self.seq = 0  # the last entry folded
        self.first: JournalEntry | None = None
        self.last: JournalEntry | None = None

    def restore(self, snapshot: Snapshot, first: JournalEntry, last: JournalEntry) -> None:
        """Start from a snapshot (of the journal whose first entry is ``first``, taken at ``last``)
        instead of the journal's beginning."""
        restore(snapshot, self.intake, self.engine)
        self.seq, self.first, self.last = snapshot.header.seq, first, last

    def fold(self, entries: Iterable[JournalEntry]) -> int:
        """Fold entries that follow the last one folded; returns how many."""
        count = 0
        intake, engine, version = self.intake, self.engine, self.version
        for entry in entries:
            if entry.seq != self.seq + 1:
                raise JournalError(f"journal entry {entry.seq} follows {self.seq}: the journal has a gap")
            rec = decode_entry(entry, version)
            intake.apply(rec)
            engine.apply(rec)
            self.seq, self.last = entry.seq, entry
            if self.first is None:
                self.first = entry
            count += 1
        return count

    def capture(self, fingerprint: str) -> Snapshot:
        if self.first is None or self.last is None:
            raise ValueError("nothing folded yet: no snapshot to take")
        return capture(self.intake, self.engine, self.first, self.last, fingerprint, len(self.intake.book),
                       sum(1 for _ in self.intake.book.parents()))


class ReadOnlyJournal:
    """A :class:`JournalReader` where the intake expects its journal: the fold reads, never appends."""

    def __init__(self, reader: JournalReader) -> None:
        self.reader = reader

    @property
    def event_version(self) -> int:
        return self.reader.event_version

    def append(self, time: float, kind: str, order_ids: Sequence[str], data: Mapping[str, Any] | EncodedData) -> int:
        raise RuntimeError("the snapshotter's fold never journals")

    def flush(self) -> concurrent.futures.Future[None]:
        raise RuntimeError("the snapshotter's fold never journals")

    def replay(self, after: int = 0) -> Iterator[JournalEntry]:
        return self.reader.replay(after)

    def entry(self, seq: int) -> JournalEntry | None:
        return self.reader.entry(seq)

    def history(self, order_id: str) -> list[JournalEntry]:
        return self.reader.history(order_id)

    def close(self) -> None:
        self.reader.close()


def _bounded(entries: Iterable[JournalEntry], most: int) -> Iterable[JournalEntry]:
    for n, entry in enumerate(entries):
        if n >= most:
            return
        yield entry


def run(config: MetaorderConfig, venues: Mapping[str, VenueInfo], every: int, stop: StopSignal) -> int:
    """Fold the journal and write a snapshot each ``every`` entries, until ``stop`` says so."""
    path = config.journal.path
    target = snapshot_path(path)
    fingerprint = build_fingerprint()
    with JournalReader(path) as reader:
        reader.check()  # the engine skipped it if it started from a snapshot: a damaged journal is said now
        fold = JournalFold(config, venues, ReadOnlyJournal(reader))
        with collector_paused():
            try:
                found = usable_snapshot(target, reader, fingerprint)
                first, last = reader.entry(1), reader.entry(found.header.seq)
                assert first is not None and last is not None  # usable_snapshot checked both
                fold.restore(found, first, last)
                log.info("snapshotter resumed from the snapshot", seq=fold.seq)
            except SnapshotError as exc:
                log.info("snapshotter folds the journal from its start", reason=str(exc))
        quiet_garbage_collector()  # the fold's state is long-lived, as the engine's
        written, not_before = fold.seq, 0.0
        while not stop.stopped():
            folded = fold.fold(_bounded(reader.replay(fold.seq), CHUNK))
            if fold.seq - written >= every and time.perf_counter() >= not_before:
                started = time.perf_counter()
                snapshot = fold.capture(fingerprint)
                write_snapshot(target, snapshot)
                written, took = fold.seq, time.perf_counter() - started
                # A large state costs seconds to write: at most a fifth of the time goes to writing.
                not_before = started + SPACING * took
                log.info("snapshot written", seq=fold.seq, bytes=snapshot.header.payload_bytes,
                         open_orders=snapshot.header.open_orders, parents=snapshot.header.parents,
                         seconds=round(took, 3))
            if folded < CHUNK:
                stop.wait(POLL_S)
    return 0


class StopSignal:
    """The end of the engine's pipe on stdin: closed when the engine stops or dies."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._stopped = False

    def stopped(self) -> bool:
        return self._stopped or self.wait(0)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the pipe to close; True once it has."""
        if not self._stopped:
            readable, _, _ = select.select([self.fd], [], [], seconds)
            if readable and not os.read(self.fd, 4096):
                self._stopped = True
        return self._stopped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metaorder.snapshotter", description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, required=True, help="journal entries between two snapshots")
    args = parser.parse_args(argv)
    # The configuration comes first on stdin, one line of JSON; the rest of stdin is the engine's pipe.
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            return 0  # the engine went away before saying anything
        line += chunk
    config = MetaorderConfig.model_validate(json.loads(line))
    configure_logging(config.logging.format, config.logging.level)
    _only_when_idle()
    e = config.execution
    embedded = load_venues_config(e.embedded_venues) if e.embedded_venues is not None else None
    try:
        return run(config, venue_infos(config, embedded), args.every, StopSignal(0))
    except (JournalError, SnapshotError, OSError) as exc:  # a damaged journal, a full disk: no snapshots
        log.error("snapshotter stopped", error=str(exc))
        return 1


def _only_when_idle() -> None:
    """Fold on CPU time nobody else wants (SCHED_IDLE, else the lowest nice): at 5,000 orders/s the
    fold needs about a third of a core, and niced only (10) it still took it from the event loop on
    two busy cores.  A snapshotter starved by a saturated machine falls behind (a restart then
    replays a longer tail); the engine never waits for it."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    with contextlib.suppress(OSError):
        os.nice(19)


class SnapshotterProcess:
    """The engine's side: starts the child, hands it the configuration, and stops it with the engine."""

    RESTART_S = 60.0  # a snapshotter that died is started again after this (the engine trades on meanwhile)

    def __init__(self, config: MetaorderConfig, every: int) -> None:
        self.config = config
        self.every = every

    async def run(self) -> None:
        """Keep a snapshotter running until cancelled (the daemon's TaskGroup owns this task)."""
        while True:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "metaorder.snapshotter", "--every", str(self.every),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL)
            assert proc.stdin is not None
            proc.stdin.write(self.config.model_dump_json().encode() + b"\n")
            try:
                code = await proc.wait()
            except asyncio.CancelledError:
                proc.stdin.close()  # the child's stop signal
                try:
                    await asyncio.wait_for(proc.wait(), 5.0)
                except (TimeoutError, asyncio.CancelledError):
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                raise
            log.error("snapshotter exited: restarts will replay a longer journal tail until it runs again",
                      code=code, restart_in_s=self.RESTART_S)
            await asyncio.sleep(self.RESTART_S)


if __name__ == "__main__":
    sys.exit(main())
