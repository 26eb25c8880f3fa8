"""The redo log's file format: what a crash can leave behind is read back as a clean prefix."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.redo import RedoError, RedoLog


def written(directory: Path, payloads: list[bytes], *, segment_bytes: int = 1 << 20) -> RedoLog:
    log = RedoLog(directory, segment_bytes=segment_bytes)
    assert log.recover(0) == []
    log.start()
    for p in payloads:
        log.append(p)
    log.close(remove=False)
    return log


def reopened(directory: Path, applied_id: int = 0) -> list[bytes]:
    return RedoLog(directory).recover(applied_id)


def test_records_come_back_in_order_across_segments(tmp_path: Path) -> None:
    payloads = [b"record %d " % n * (n % 7) for n in range(200)]
    written(tmp_path / "r", payloads, segment_bytes=500)
    assert len(list((tmp_path / "r").glob("*.seg"))) > 5
    assert reopened(tmp_path / "r") == payloads


def test_records_the_database_applied_are_skipped_and_ids_go_on(tmp_path: Path) -> None:
    written(tmp_path / "r", [b"a", b"b", b"c"])
    log = RedoLog(tmp_path / "r")
    assert log.recover(2) == [b"c"]
    assert log.last_id() == 3
    log.start()
    assert log.append(b"d") == 4
    log.close(remove=False)
    assert reopened(tmp_path / "r", applied_id=3) == [b"d"]


def test_a_database_ahead_of_every_record_keeps_its_id(tmp_path: Path) -> None:
    written(tmp_path / "r", [b"a"])
    log = RedoLog(tmp_path / "r")
    assert log.recover(10) == []
    assert log.last_id() == 10  # the next record is 11: never an id the database has seen


def test_a_log_starting_beyond_the_database_is_refused(tmp_path: Path) -> None:
    """Segments go only once the database has them: a log starting later is not this database's."""
    log = RedoLog(tmp_path / "s")
    log.recover(0)
    log.start()
    log._next_id = 5
    log.append(b"e")
    log.close(remove=False)
    with pytest.raises(RedoError, match=r"starts at record 5 but the database holds records up to 3"):
        reopened(tmp_path / "s", applied_id=3)
    assert reopened(tmp_path / "s", applied_id=4) == [b"e"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20), st.data())
def test_a_torn_or_damaged_tail_gives_back_an_intact_prefix(payloads: list[bytes], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "r"
        written(directory, payloads)
        (segment,) = directory.glob("*.seg")
        raw = bytearray(segment.read_bytes())
        cut = data.draw(st.integers(0, len(raw)), label="cut")
        if data.draw(st.booleans(), label="flip a byte instead of cutting") and cut < len(raw):
            raw[cut] ^= 0xFF
        else:
            del raw[cut:]
        segment.write_bytes(bytes(raw))
        got = reopened(directory)
        assert got == payloads[: len(got)]
        offsets = [0]
        for p in payloads:
            offsets.append(offsets[-1] + 16 + len(p))
        # Every record wholly before the damage is read back.
        assert len(got) >= sum(1 for end in offsets[1:] if end <= cut)


def test_a_failed_write_refuses_every_later_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = RedoLog(tmp_path / "r")
    log.recover(0)
    log.start()
    log.append(b"ok")

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(RedoError, match=r"write failed.*No space left"):
        log.append(b"lost")
    monkeypatch.undo()
    with pytest.raises(RedoError, match="write failed"):
        log.append(b"after")
    log.close(remove=False)
    assert reopened(tmp_path / "r") == [b"ok"]


def test_a_path_that_is_a_file_is_refused_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "r").write_text("not a directory")
    with pytest.raises(RedoError, match=r"redo log .*/r: "):
        RedoLog(tmp_path / "r")


def test_an_older_segment_an_os_crash_left_empty_ends_recovery_without_refusing_the_log(tmp_path: Path) -> None:
    written(tmp_path / "r", [b"a" * 50 for _ in range(10)], segment_bytes=100)
    first, *_ = sorted((tmp_path / "r").glob("*.seg"))
    first.write_bytes(b"")  # its data never reached the disk, a newer segment's did
    assert reopened(tmp_path / "r") == []


def test_a_rotation_that_cannot_open_the_next_segment_fails_and_closes_nothing_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = RedoLog(tmp_path / "r", segment_bytes=10)
    log.recover(0)
    log.start()
    log.append(b"x" * 20)
    real_open = os.open

    def no_more_files(*args: object, **kwargs: object) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "open", no_more_files)
    with pytest.raises(RedoError, match="cannot create"):
        log.append(b"y")
    monkeypatch.setattr(os, "open", real_open)
    log.close(remove=False)  # must not close the old descriptor again
    assert reopened(tmp_path / "r") == [b"x" * 20]
