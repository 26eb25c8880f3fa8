"""The intraday volume profile: the default U, learning days with decay, persistence."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.volume_profile import DAY_S, ProfileBook, ProfileSettings, default_curve

DAY0 = 19_676 * DAY_S  # a UTC midnight (2023-11-15)
OPEN = 9 * 3600 + 1800
CLOSE = 16 * 3600
S = ProfileSettings()


def at(day: int, seconds: float) -> float:
    return DAY0 + day * DAY_S + seconds


def flat_day(book: ProfileBook, day: int, symbol: str = "ACME", per_bin: int = 100) -> None:
    for t in range(OPEN, CLOSE, S.bin_s):
        book.on_trade(symbol, per_bin, at(day, t + 1))


# ---------------------------------------------------------------------------------------------- the default


def test_the_default_is_a_u_heavier_into_the_close_and_sums_to_one() -> None:
    curve = default_curve(S)
    assert len(curve) == (CLOSE - OPEN) // 300 == 78
    assert math.isclose(math.fsum(curve), 1.0, rel_tol=1e-12)
    mid = min(curve)
    assert curve.index(mid) in (38, 39)  # the quiet middle of the session
    assert curve[0] > 2.5 * mid and curve[-1] > curve[0]  # heavy open, heavier close
    # The first bin of 5 min averages the intensity 1 + a·x² over x ∈ [-1, -1 + 2/78]: close to 1 + a = 3.
    assert 2.8 < curve[0] / mid < 3.0
    assert 3.2 < curve[-1] / mid < 3.5  # 1 + a·(1 + k) = 3.5 at the very close


def test_without_tilt_the_default_is_the_simulated_markets_intensity() -> None:
    """venues/market.py: background takers arrive at λ0·(1 + a·x²) over the session."""
    curve = default_curve(ProfileSettings(close_tilt=0.0, u_shape=2.0))
    assert all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(curve, reversed(curve), strict=True))  # symmetric
    half = (CLOSE - OPEN) / 2

    def intensity(t: float) -> float:
        x = (t - OPEN - half) / half
        return 1 + 2.0 * x * x

    # Simpson over each bin, normalised by the exact total 2·half·(1 + a/3)
    total = 2 * half * (1 + 2.0 / 3)
    for b in (0, 20, 39, 77):
        lo, hi = OPEN + 300 * b, OPEN + 300 * (b + 1)
        simpson = (hi - lo) / 6 * (intensity(lo) + 4 * intensity((lo + hi) / 2) + intensity(hi))
        assert math.isclose(curve[b], simpson / total, rel_tol=1e-9)


def test_cumulative_is_zero_before_the_open_one_after_the_close_and_linear_inside_a_bin() -> None:
    book = ProfileBook(S)
    curve = default_curve(S)
    assert book.cumulative("ACME", at(0, 0)) == 0.0
    assert book.cumulative("ACME", at(0, OPEN)) == 0.0
    assert book.cumulative("ACME", at(0, CLOSE)) == 1.0
    assert book.cumulative("ACME", at(0, 23 * 3600)) == 1.0
    assert math.isclose(book.cumulative("ACME", at(0, OPEN + 150)), curve[0] / 2)
    assert math.isclose(book.cumulative("ACME", at(0, OPEN + 300 + 60)), curve[0] + curve[1] / 5)
    assert math.isclose(book.share("ACME", at(0, OPEN), at(0, OPEN + 600)), curve[0] + curve[1])


def test_a_session_that_is_not_a_whole_number_of_bins_ends_with_a_short_bin() -> None:
    s = ProfileSettings(session_open_s=OPEN, session_close_s=OPEN + 1000, bin_s=300)
    assert s.edges() == (OPEN, OPEN + 300, OPEN + 600, OPEN + 900, OPEN + 1000)
    assert math.isclose(math.fsum(default_curve(s)), 1.0)


# ---------------------------------------------------------------------------------------------- learning


def test_a_learned_day_replaces_the_default_once_complete() -> None:
    book = ProfileBook(S)
    flat_day(book, 0)
    assert book.curve("ACME") == default_curve(S)  # the day in progress does not count
    book.on_trade("ACME", 100, at(1, OPEN + 5))  # the next day's first print completes day 0
    assert book.learned_days("ACME") == 1
    assert all(math.isclose(w, 1 / 78) for w in book.curve("ACME"))
    assert math.isclose(book.cumulative("ACME", at(1, (OPEN + CLOSE) / 2)), 0.5)
    assert book.curve("OTHER") == default_curve(S)  # per instrument


def test_the_learned_curve_waits_for_min_days() -> None:
    book = ProfileBook(ProfileSettings(min_days=2))
    flat_day(book, 0)
    book.roll(at(1, 0))
    assert book.learned_days("ACME") == 1
    assert book.curve("ACME") == default_curve(S)
    flat_day(book, 1)
    book.roll(at(2, 0))
    assert book.learned_days("ACME") == 2
    assert all(math.isclose(w, 1 / 78) for w in book.curve("ACME"))


def test_days_are_averaged_with_exponential_decay() -> None:
    book = ProfileBook(ProfileSettings(decay=0.2))
    book.on_trade("ACME", 500, at(0, OPEN + 10))  # day 0: all in the first bin
    book.on_trade("ACME", 700, at(1, CLOSE - 10))  # day 1: all in the last bin
    book.on_trade("ACME", 300, at(1, OPEN + 10))  # ... and some in the first
    book.roll(at(2, 0))
    curve = book.curve("ACME")
    assert math.isclose(curve[0], 0.8 * 1.0 + 0.2 * 0.3)
    assert math.isclose(curve[-1], 0.2 * 0.7)
    assert math.isclose(math.fsum(curve), 1.0)


def test_prints_outside_the_session_and_days_without_session_volume_are_not_learned() -> None:
    book = ProfileBook(S)
    book.on_trade("ACME", 1_000, at(0, OPEN - 60))  # pre-market
    book.on_trade("ACME", 1_000, at(0, CLOSE))  # the close belongs to no bin
    book.roll(at(1, 0))
    assert book.learned_days("ACME") == 0
    assert book.curve("ACME") == default_curve(S)


def test_a_late_print_for_a_day_already_folded_is_ignored() -> None:
    book = ProfileBook(S)
    flat_day(book, 0)
    book.roll(at(1, 0))
    before = book.curve("ACME")
    book.on_trade("ACME", 1_000_000, at(0, OPEN + 10))
    book.roll(at(2, 0))  # day 1 saw nothing: not folded either
    assert book.curve("ACME") == before
    assert book.learned_days("ACME") == 1


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    trades=st.lists(
        st.tuples(st.integers(0, 3), st.floats(0, DAY_S - 1e-3), st.integers(1, 10_000)), max_size=40
    ),
    times=st.lists(st.floats(0, DAY_S - 1), min_size=2, max_size=30),  # instants of one day
)
def test_cumulative_rises_from_zero_to_one_over_a_day(
    trades: list[tuple[int, float, int]], times: list[float]
) -> None:
    book = ProfileBook(ProfileSettings(decay=0.5))
    for day, seconds, qty in sorted(trades):
        book.on_trade("ACME", qty, at(day, seconds))
    book.roll(at(5, 0))
    curve = book.curve("ACME")
    assert math.isclose(math.fsum(curve), 1.0) and min(curve) >= 0
    instants = sorted(times)
    values = [book.cumulative("ACME", at(7, s)) for s in instants]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(values))


# ---------------------------------------------------------------------------------------------- persistence


def test_save_and_load_round_trip_learned_curves_and_the_day_in_progress(tmp_path: Path) -> None:
    book = ProfileBook(S)
    book.on_trade("ACME", 500, at(0, OPEN + 10))
    book.on_trade("ACME", 300, at(1, OPEN + 4000))  # day 0 folded, day 1 in progress
    book.on_trade("BETA", 42, at(1, CLOSE - 1))
    path = tmp_path / "profiles.json"
    book.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["profiles.json"]  # no temporary file left behind
    again = ProfileBook.load(path, S)
    assert again.to_json() == book.to_json()
    assert again.learned_days("ACME") == 1
    assert again.curve("ACME") == book.curve("ACME")
    again.roll(at(2, 0))
    book.roll(at(2, 0))
    assert again.curve("ACME") == book.curve("ACME")  # the day in progress survived the restart
    assert again.learned_days("BETA") == 1


def test_save_replaces_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "profiles.json"
    path.write_text("old")
    ProfileBook(S).save(path)
    assert json.loads(path.read_text())["symbols"] == {}


def test_a_missing_file_is_an_empty_book_and_a_corrupt_one_an_error_naming_it(tmp_path: Path) -> None:
    assert ProfileBook.load(tmp_path / "nothing.json", S).curve("ACME") == default_curve(S)
    bad = tmp_path / "bad.json"
    for text in ("{not json", "[]", '{"format": 1}', '{"format": 1, "edges": [1, 2], "symbols": {"A": 3}}',
                 '{"format": 1, "edges": [1, 2], "symbols": {"A": {"average": [-1], "days": 1, "day": null,'
                 ' "bins": []}}}'):
        bad.write_text(text)
        with pytest.raises(ValueError, match=r"bad\.json"):
            ProfileBook.load(bad, S)


def test_curves_saved_with_other_bins_are_resampled_onto_the_new_ones() -> None:
    book = ProfileBook(ProfileSettings(bin_s=300))
    book.on_trade("ACME", 100, at(0, OPEN + 10))  # first 5 minutes
    book.on_trade("ACME", 300, at(0, OPEN + 3600 + 10))
    book.roll(at(1, 0))
    coarse = ProfileBook.from_json(book.to_json(), ProfileSettings(bin_s=1800))
    assert len(coarse.curve("ACME")) == 13
    assert coarse.learned_days("ACME") == 1
    for seconds in (OPEN + 1800, OPEN + 3600, OPEN + 5400, CLOSE):  # common edges keep their cumulative
        assert math.isclose(coarse.cumulative("ACME", at(2, seconds)), book.cumulative("ACME", at(2, seconds)))


def test_settings_refuse_bad_values_naming_them() -> None:
    for kwargs, name in (
        ({"session_open_s": CLOSE}, "session_open_s"),
        ({"bin_s": 0}, "bin_s"),
        ({"decay": 0.0}, "decay"),
        ({"decay": 1.5}, "decay"),
        ({"u_shape": -1.0}, "u_shape"),
        ({"close_tilt": -0.5}, "close_tilt"),
        ({"min_days": 0}, "min_days"),
    ):
        with pytest.raises(ValueError, match=name):
            ProfileSettings(**kwargs)


def test_the_daemon_starts_from_the_configured_shape_when_the_saved_profiles_are_unreadable(tmp_path: Path) -> None:
    """The profiles are an optimisation: a corrupt file is moved aside (kept for a look) and the
    configured shape is used, rather than refusing to start."""
    from metaorder.wiring import load_profiles

    path = tmp_path / "profiles.json"
    path.write_text("{not json")
    book = load_profiles(path, ProfileSettings())
    assert book.learned_days("ACME") == 0
    assert not path.exists() and (tmp_path / "profiles.json.unreadable").read_text() == "{not json"
