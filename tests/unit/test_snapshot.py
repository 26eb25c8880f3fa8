"""Recovery snapshots: a restart from a snapshot and the journal's tail builds exactly what the full replay builds.

The fold behind a snapshot is recovery's own (``Intake.apply``, ``ExecutionEngine.apply``), and it is
restored by pickle, so these tests hold the two paths to the same result on real journals (random
flows through the simulated pipeline, as ``test_engine_recovery_roundtrip.py`` runs them): at every
cut of the journal, "snapshot at the cut, then the tail" equals "everything", object by object
(:func:`same`, which walks every attribute, so a field a fold state forgot shows up), and also by the
engine's and the intake's own snapshots of what a restart must rebuild.  Then the file: damage,
another build, another journal, a journal that lost the snapshot's entry all fall back to the full
replay with the reason.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from array import array
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from metaorder.eventcodec import append as append_event
from metaorder.events import EngineStarted
from metaorder.orders.journal import MemoryJournal
from metaorder.snapshot import (
    SnapshotError,
    build_fingerprint,
    read_snapshot,
    snapshot_path,
    usable_snapshot,
    write_snapshot,
    written_by_this_build,
)
from metaorder.snapshotter import JournalFold
from metaorder.wiring import start_pipeline, venue_infos
from tests.unit.test_engine_recovery_roundtrip import (
    CONFIG,
    crash_copy,
    engine_snapshot,
    flows,
    operate,
    start,
    venues_config,
)
from tests.unit.test_recovery_roundtrip import snapshot as intake_snapshot

FINGERPRINT = build_fingerprint()


def same(a: Any, b: Any, path: str = "state", seen: set[tuple[int, int]] | None = None) -> None:
    """Assert two object graphs are equal attribute by attribute (dict order included); callables
    (configuration wiring) and counters are skipped.  Raises AssertionError naming the first difference."""
    seen = set() if seen is None else seen
    if (id(a), id(b)) in seen:
        return
    seen.add((id(a), id(b)))
    assert type(a) is type(b), f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if callable(a) and not isinstance(a, type) and not hasattr(a, "__slots__") and not hasattr(a, "__dict__"):
        return
    if isinstance(a, itertools.count):
        return
    if isinstance(a, Decimal):
        assert str(a) == str(b), f"{path}: {a} vs {b}"
    elif isinstance(a, (str, bytes, int, float, bool, Enum, type(None))):
        assert a == b or (a != a and b != b), f"{path}: {a!r} vs {b!r}"
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{path}: keys {list(a)[:5]}... vs {list(b)[:5]}..."
        for key in a:
            same(a[key], b[key], f"{path}[{key!r}]", seen)
        same_attributes(a, b, path, seen)  # a dict subclass's own attributes
    elif isinstance(a, (list, tuple)) or type(a).__name__ == "deque":
        assert len(a) == len(b), f"{path}: length {len(a)} vs {len(b)}"
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{n}]", seen)
        same_attributes(a, b, path, seen)  # Children (a list) counts its orders
    elif isinstance(a, array):  # the packed finished orders' offsets
        assert a == b, f"{path}: arrays differ"
    elif isinstance(a, (set, frozenset)):
        assert a == b, f"{path}: {sorted(map(repr, a ^ b))[:5]} differ"
    else:
        same_attributes(a, b, path, seen)


def same_attributes(a: Any, b: Any, path: str, seen: set[tuple[int, int]]) -> None:
    if type(a).__module__.startswith("metaorder") and type(a).__reduce__ is not object.__reduce__:
        # What the snapshot pickles of it (compiled, an object has neither __slots__ nor __dict__ to read).
        same(a.__reduce__()[1:], b.__reduce__()[1:], f"{path}<pickled>", seen)
        if not hasattr(a, "__dict__") and not getattr(type(a), "__slots__", ()):
            return
    names: list[str] = []
    if dataclasses.is_dataclass(a):
        names = [f.name for f in dataclasses.fields(a)]
    for klass in type(a).__mro__:
        names.extend(n for n in getattr(klass, "__slots__", ()) if n not in names)
    names.extend(n for n in getattr(a, "__dict__", {}) if n not in names)
    for name in names:
        if name.startswith("__"):
            continue
        x, y = getattr(a, name, None), getattr(b, name, None)
        if callable(x) and not hasattr(x, "__slots__") and not hasattr(x, "__dict__"):
            continue
        same(x, y, f"{path}.{name}", seen)


def prefix(journal: MemoryJournal, cut: int, changed: int = 0) -> MemoryJournal:
    """The journal as it was when its entry ``cut`` was the last (with entry ``changed``'s time moved)."""
    copy = MemoryJournal()
    for entry in itertools.islice(journal.replay(), cut):
        copy.append(entry.time + (entry.seq == changed), entry.kind, entry.order_ids, entry.data)
    return copy


def snapshot_at(journal: MemoryJournal, cut: int, latency_ms: float, path: Path) -> None:
    """What the snapshotter would write after folding the journal's first ``cut`` entries."""
    early = prefix(journal, cut)
    fold = JournalFold(CONFIG, venue_infos(CONFIG, venues_config(latency_ms)), early)
    assert fold.fold(early.replay()) == cut
    write_snapshot(path, fold.capture(FINGERPRINT))


# No shrinking: every example is a simulated run; the failing flow is printed.
@settings(max_examples=12, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(flow=flows)
def test_a_restart_from_a_snapshot_and_the_tail_rebuilds_what_the_full_replay_rebuilds(
        flow: tuple[Any, ...], tmp_path: Path) -> None:
    latency_ms, first, operations = flow
    journal = MemoryJournal()
    live = start(journal, latency_ms)
    for n, op in enumerate([*first, *operations]):
        operate(live, n, op)
    infos = venue_infos(CONFIG, venues_config(latency_ms))
    now = live.clock.now()
    full = start_pipeline(CONFIG, crash_copy(journal), infos, now)
    entries = sum(1 for _ in journal.replay())
    path = tmp_path / "journal.db.snapshot"
    for cut in sorted({1, entries, *random.Random(entries).sample(range(1, entries + 1), min(4, entries))}):
        snapshot_at(journal, cut, latency_ms, path)
        restarted = start_pipeline(CONFIG, crash_copy(journal), infos, now, snapshot=path)
        assert (restarted.snapshot_seq, restarted.snapshot_note) == (cut, ""), cut
        assert restarted.replayed == entries - cut
        same(restarted.intake.fold_state(), full.intake.fold_state(), f"intake (cut {cut})")
        same(restarted.engine.fold_state(), full.engine.fold_state(), f"engine (cut {cut})")
        assert engine_snapshot(restarted.engine, restarted.intake) == engine_snapshot(full.engine, full.intake)
        assert intake_snapshot(restarted.intake) == intake_snapshot(live.intake)
        assert restarted.open_children == full.open_children


def test_same_notices_a_field_the_fold_state_would_have_forgotten() -> None:
    """The comparison above must be able to fail: one order's filled quantity differs deep in the graph."""
    journal = MemoryJournal()
    live = start(journal, 50.0)
    operate(live, 0, ("new", "OMS1", "ACME", "1", 30, 0, None, "1000"))
    operate(live, 1, ("run", 2_000))
    infos = venue_infos(CONFIG, venues_config(50.0))
    a = start_pipeline(CONFIG, crash_copy(journal), infos, live.clock.now())
    b = start_pipeline(CONFIG, crash_copy(journal), infos, live.clock.now())
    same(a.intake.fold_state(), b.intake.fold_state())
    order = next(iter(b.intake.book.parents())).children[0]
    order.notional += 1
    with pytest.raises(AssertionError, match=rf"\['{order.order_id}'\].*: 0 vs 1"):
        same(a.intake.fold_state(), b.intake.fold_state())


@pytest.fixture
def run_with_snapshot(tmp_path: Path) -> tuple[MemoryJournal, Path, float]:
    journal = MemoryJournal()
    live = start(journal, 50.0)
    operate(live, 0, ("new", "OMS1", "ACME", "1", 30, 0, None, "1000"))
    operate(live, 1, ("run", 2_000))
    path = snapshot_path(tmp_path / "journal.db")
    snapshot_at(journal, 10, 50.0, path)
    return journal, path, live.clock.now()


def restart_note(journal: MemoryJournal, path: Path, now: float) -> tuple[int, str]:
    pipeline = start_pipeline(CONFIG, crash_copy(journal), venue_infos(CONFIG, venues_config(50.0)), now,
                              snapshot=path)
    assert pipeline.replayed == (sum(1 for _ in journal.replay()) - pipeline.snapshot_seq)
    return pipeline.snapshot_seq, pipeline.snapshot_note


def test_a_usable_snapshot_is_restored(run_with_snapshot: tuple[MemoryJournal, Path, float]) -> None:
    assert restart_note(*run_with_snapshot) == (10, "")


def test_a_damaged_snapshot_means_the_full_replay(run_with_snapshot: tuple[MemoryJournal, Path, float]) -> None:
    journal, path, now = run_with_snapshot
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    assert restart_note(journal, path, now) == (0, f"{path}: damaged (its payload does not match its checksum)")
    path.write_bytes(bytes(data[:-100]))  # cut short, as a full disk might leave a copy
    assert restart_note(journal, path, now)[0] == 0
    path.write_bytes(b"not a snapshot\n")
    assert restart_note(journal, path, now) == (0, f"{path} is not a metaorder snapshot")


def test_no_snapshot_means_the_full_replay(tmp_path: Path) -> None:
    journal = MemoryJournal()
    live = start(journal, 50.0)
    assert restart_note(journal, tmp_path / "none.snapshot", live.clock.now()) == (0, "no snapshot")


def test_a_snapshot_of_another_journal_or_build_is_not_used(
        run_with_snapshot: tuple[MemoryJournal, Path, float]) -> None:
    journal, path, now = run_with_snapshot
    entries = sum(1 for _ in journal.replay())
    assert restart_note(prefix(journal, entries, changed=10), path, now) == (
        0, "journal entry 10 differs from the one the snapshot was taken at")
    assert restart_note(prefix(journal, entries, changed=1), path, now) == (
        0, "taken of another journal (its first entry differs)")
    assert restart_note(prefix(journal, 9), path, now) == (
        0, "taken at journal entry 10, which this journal does not have")  # entries lost after the snapshot
    with pytest.raises(SnapshotError, match="another build"):
        usable_snapshot(path, journal, "0" * 64)


def test_the_engine_knows_from_the_header_alone_whether_a_snapshot_is_this_builds(
        run_with_snapshot: tuple[MemoryJournal, Path, float], tmp_path: Path) -> None:
    """Asked before the journal is opened, to skip its whole-file check when only the tail will be read."""
    _, path, _ = run_with_snapshot
    assert written_by_this_build(path, FINGERPRINT)
    assert not written_by_this_build(path, "0" * 64)
    assert not written_by_this_build(tmp_path / "missing", FINGERPRINT)
    (tmp_path / "junk").write_bytes(b"\xff\xfe not json\n")
    assert not written_by_this_build(tmp_path / "junk", FINGERPRINT)


def test_writing_a_snapshot_replaces_the_previous_one_whole(
        run_with_snapshot: tuple[MemoryJournal, Path, float]) -> None:
    journal, path, _ = run_with_snapshot
    snapshot_at(journal, 20, 50.0, path)
    assert read_snapshot(path).header.seq == 20
    assert not path.with_name(path.name + ".tmp").exists()


def test_recovery_forgets_the_children_and_parents_finished_before_the_day_of_its_last_entries(tmp_path: Path) -> None:
    """A restart holds yesterday's open children and parents, not every child the journal ever saw;
    a snapshot taken yesterday and the tail after it agree with the full replay on that too."""
    journal = MemoryJournal()
    live = start(journal, 50.0)
    operate(live, 0, ("new", "OMS1", "ACME", "1", 30, None, 3, "1000"))  # worked in 3 s: its children close
    operate(live, 1, ("new", "OMS1", "GLOBX", "1", 20, -400, None, "1000"))  # far below the market: stays open
    operate(live, 2, ("run", 6_000))
    infos = venue_infos(CONFIG, venues_config(50.0))
    today = start_pipeline(CONFIG, crash_copy(journal), infos, live.clock.now())
    closed = {c.child_id for c in today.engine.fold_state()[2].children()}  # packed by fold_state
    assert closed, "the flow closed no child: nothing to forget"
    tomorrow = crash_copy(journal)
    cut = sum(1 for _ in journal.replay())
    append_event(tomorrow, live.clock.now() + 86_400, EngineStarted(1))
    full = start_pipeline(CONFIG, crash_copy(tomorrow), infos, live.clock.now() + 86_400)
    children, packed = full.engine.fold_state()[1:3]
    assert not closed & set(children) and children == {cid: c for cid, c in children.items() if c.state.open}
    assert not closed & {c.child_id for c in packed.children()}  # forgotten, not packed
    assert {c.parent_id for c in children.values()} <= {p.parent_id for p in full.intake.book.parents()}
    path = tmp_path / "journal.db.snapshot"
    snapshot_at(tomorrow, cut, 50.0, path)
    restarted = start_pipeline(CONFIG, crash_copy(tomorrow), infos, live.clock.now() + 86_400, snapshot=path)
    assert restarted.snapshot_seq == cut
    same(restarted.engine.fold_state(), full.engine.fold_state())
    same(restarted.intake.fold_state(), full.intake.fold_state())


def test_a_child_order_pickles_every_field_it_has() -> None:
    """ChildOrder pickles through its constructor's arguments (faster to load): a field added to the
    class and not to ``__reduce__`` would be lost by every restart from a snapshot."""
    import pickle

    from metaorder.execution.children import ChildOrder, ChildState

    child = ChildOrder("X1", "P1", "ATLX", "ACME", -1, 300, Decimal("10.5"), True, 12.5, "slice", True, 100, 200,
                       Decimal("2100.0"), ChildState.NEW, "V9", True, True, 2, {"E1", "E2"})
    again = pickle.loads(pickle.dumps(child))
    fields = [f.name for f in dataclasses.fields(ChildOrder)]
    assert len(child.__reduce__()[1]) == len(fields)
    assert [getattr(again, name) for name in fields] == [getattr(child, name) for name in fields]
    assert all(getattr(child, name) != getattr(ChildOrder("X", "P", "V", "S", 1, 1, None, False, 0.0), name)
               for name in fields)  # every field set away from its default: a lost one would show
    # ... and so does its packed form (a closed child in a snapshot), read back by its ClOrdID.
    from metaorder.execution.children import FinishedChildren

    unpacked = pickle.loads(pickle.dumps(FinishedChildren().merged([child]))).get("X1")
    assert unpacked is not None and [getattr(unpacked, n) for n in fields] == [getattr(child, n) for n in fields]


def test_a_parents_worked_state_pickles_every_field_it_has() -> None:
    """The engine's side of a parent pickles through its constructor too (see the child's test)."""
    import pickle

    from metaorder.execution.children import ChildOrder
    from metaorder.execution.engine import _Worked

    child = ChildOrder("X1", "P1", "ATLX", "ACME", 1, 300, None, False, 1.0)
    worked = _Worked("P1", "a strategy", True, 500, 300, {"X1": child}, 5.0, 4.0, 6.0, {"ATLX": 9.0}, ["a placement"],
                     {"X1": "a placement"})  # type: ignore[arg-type]  # any picklable object stands for one
    again = pickle.loads(pickle.dumps(worked))
    fields = [f.name for f in dataclasses.fields(_Worked)]
    assert len(worked.__reduce__()[1]) == len(fields)
    assert [getattr(again, n) for n in fields if n != "children"] == [getattr(worked, n) for n in fields
                                                                       if n != "children"]
    assert list(again.children) == ["X1"] and again.children["X1"].qty == 300
    default = _Worked("P")
    assert all(getattr(worked, n) != getattr(default, n) for n in fields)


def test_a_closed_child_packed_in_the_snapshot_comes_back_for_a_late_report(tmp_path: Path) -> None:
    """A snapshot packs the day's closed children; a venue may still report on one (a late fill
    after a cancel).  The replay of such an entry after the snapshot takes the child back out and
    ends where the full replay ends, and the restarted engine finds it by any ClOrdID it carried."""
    from metaorder.events import VenueExecution

    journal = MemoryJournal()
    live = start(journal, 50.0)
    operate(live, 0, ("new", "OMS1", "ACME", "1", 30, None, 3, "1000"))  # worked in 3 s: its children close
    operate(live, 1, ("run", 6_000))
    infos = venue_infos(CONFIG, venues_config(50.0))
    now = live.clock.now()
    cut = sum(1 for _ in journal.replay())
    path = tmp_path / "journal.db.snapshot"
    snapshot_at(journal, cut, 50.0, path)
    packed = read_snapshot(path)
    [closed, *_] = [c for c in live.engine._children.values() if not c.state.open]
    late = crash_copy(journal)
    append_event(late, now + 1, VenueExecution(closed.parent_id, closed.child_id, closed.venue, "LATE-1", 1,
                                               closed.price or Decimal("100"), "2", None))
    full = start_pipeline(CONFIG, crash_copy(late), infos, now + 2)
    restarted = start_pipeline(CONFIG, crash_copy(late), infos, now + 2, snapshot=path)
    assert restarted.snapshot_seq == packed.header.seq == cut and restarted.replayed == 1
    again = restarted.engine._child_of(closed.child_id, None)
    assert again is not None and "LATE-1" in again.exec_ids and again.cum_qty == closed.cum_qty + 1
    assert restarted.engine._child_of("unknown", closed.child_id) is again  # by its other ClOrdID too
    same(restarted.engine.fold_state(), full.engine.fold_state())
