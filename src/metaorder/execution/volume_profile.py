"""The intraday volume profile per instrument: what share of a trading day's volume trades by when.

VWAP needs it (GUIDE §6, VWAP schedule: the target for bin b is Q·w_b/Σw, w an intraday volume
profile).  The profile is learned from the venues' trade prints and falls back to a configured
U shape until an instrument has history.

Bins.  The session [``session_open_s``, ``session_close_s``) (seconds after UTC midnight) is cut
into bins of ``bin_s`` seconds; the last one is shorter when the session is not a whole number of
bins.  A curve is one weight per bin, the weights summing to 1.  The cumulative share by a time
inside the session is the sum of the earlier bins plus the current bin's weight pro rata of the
time elapsed in it (piecewise linear); 0 at or before the open, 1 at or after the close.

Default curve (no history yet).  With x ∈ [−1, 1] the position in the session (−1 the open, 0 the
middle, +1 the close), the intensity is

    f(x) = 1 + a·x²            for x ≤ 0  (the morning)
    f(x) = 1 + a·(1 + k)·x²    for x > 0  (the afternoon)

with a = ``u_shape`` and k = ``close_tilt``: the open is (1 + a)× as busy as mid-session, the close
(1 + a·(1 + k))×, heavier.  A bin's weight is the integral of f over it (antiderivative
G(x) = x + a·m·x³/3, m = 1 in the morning and 1 + k in the afternoon) over the session's total
G(1) − G(−1) = 2 + a·(2 + k)/3.  With k = 0 it is exactly the simulated market's background taker
intensity λ0·(1 + a·x²) (``venues/market.py``, ``taker_u_shape``).

Learning.  A trade print counts for the trading day of its time (the UTC date) and the bin of its
time of day; prints outside the session are ignored (no bin holds them).  When a print (or
:meth:`ProfileBook.roll`) arrives for a later day, the day in progress is complete: its bins,
normalised to shares of that day, are folded into the average with exponential decay,
avg = (1 − decay)·avg + decay·day (the first day is taken as it is), provided that day saw volume
in the session.  The learned curve replaces the default once ``min_days`` days have been folded;
the day in progress never counts (half a day's bins would say the afternoon is empty).  Late prints
for a day already folded are ignored.

Persistence.  :meth:`ProfileBook.save` writes JSON atomically (a temporary file, then
``os.replace``) so a crash mid-write leaves the previous file; :meth:`ProfileBook.load` of a
missing file gives an empty book.  Curves saved with another bin layout (the session or ``bin_s``
changed in the configuration) are resampled onto the new bins from their cumulative curve, so a
configuration change does not throw the history away.

Numbers.  Curves are floats: they are model estimates (expected shares of volume), not amounts.
Sans-IO apart from ``save``/``load``: time is passed in (epoch seconds).
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

DAY_S = 86_400
_FORMAT = 1  # version of the JSON document


@dataclass(frozen=True, slots=True)
class ProfileSettings:
    session_open_s: int = 9 * 3600 + 1800  # seconds after UTC midnight
    session_close_s: int = 16 * 3600
    bin_s: int = 300  # seconds per bin (the last bin may be shorter)
    decay: float = 0.2  # weight of a newly completed day in the average (1: only the last day counts)
    u_shape: float = 2.0  # a: the open is (1 + a)× as busy as mid-session (the simulator's taker_u_shape)
    close_tilt: float = 0.25  # k: the close is (1 + a·(1 + k))× as busy as mid-session; 0: symmetric
    min_days: int = 1  # completed days of history before the learned curve replaces the default

    def __post_init__(self) -> None:
        if not 0 <= self.session_open_s < self.session_close_s <= DAY_S:
            raise ValueError(
                f"profile session_open_s/session_close_s must satisfy 0 <= open < close <= {DAY_S}, "
                f"not {self.session_open_s}/{self.session_close_s}"
            )
        if not self.bin_s > 0:
            raise ValueError(f"profile bin_s must be > 0 seconds, not {self.bin_s}")
        if not 0 < self.decay <= 1:
            raise ValueError(f"profile decay must be in (0, 1], not {self.decay}")
        if not (math.isfinite(self.u_shape) and self.u_shape >= 0):
            raise ValueError(f"profile u_shape must be >= 0, not {self.u_shape}")
        if not (math.isfinite(self.close_tilt) and self.close_tilt >= 0):
            raise ValueError(f"profile close_tilt must be >= 0, not {self.close_tilt}")
        if not self.min_days >= 1:
            raise ValueError(f"profile min_days must be at least 1, not {self.min_days}")

    def edges(self) -> tuple[int, ...]:
        """Bin boundaries in seconds after midnight: open, open + bin_s, …, close."""
        inner = range(self.session_open_s, self.session_close_s, self.bin_s)
        return (*inner, self.session_close_s)


def default_curve(settings: ProfileSettings) -> tuple[float, ...]:
    """The configured U shape (module docstring), integrated over each bin, summing to 1."""
    a, k = settings.u_shape, settings.close_tilt
    mid = (settings.session_open_s + settings.session_close_s) / 2
    half = (settings.session_close_s - settings.session_open_s) / 2

    def g(t: float) -> float:
        x = (t - mid) / half
        m = 1.0 if x <= 0 else 1.0 + k
        return x + a * m * x**3 / 3

    edges = settings.edges()
    total = g(settings.session_close_s) - g(settings.session_open_s)  # 2 + a·(2 + k)/3
    return tuple((g(hi) - g(lo)) / total for lo, hi in itertools.pairwise(edges))


def cumulative_of(curve: Sequence[float], edges: Sequence[int], seconds: float) -> float:
    """Share of the day done by ``seconds`` after midnight: piecewise linear within a bin."""
    if seconds <= edges[0]:
        return 0.0
    if seconds >= edges[-1]:
        return 1.0
    b = bisect.bisect_right(edges, seconds) - 1
    lo, hi = edges[b], edges[b + 1]
    done = math.fsum(curve[:b]) + curve[b] * (seconds - lo) / (hi - lo)
    return min(max(done, 0.0), 1.0)


def _normalised(bins: Sequence[float]) -> list[float]:
    total = math.fsum(bins)
    return [v / total for v in bins]


def _resample(curve: Sequence[float], old_edges: Sequence[int], new_edges: Sequence[int]) -> list[float]:
    """``curve`` (on ``old_edges``) onto ``new_edges`` through its cumulative curve, renormalised."""
    cum = [cumulative_of(curve, old_edges, e) for e in new_edges]
    out = [max(hi - lo, 0.0) for lo, hi in itertools.pairwise(cum)]
    total = math.fsum(out)
    if total <= 0:  # no overlap between the old and the new session: nothing to keep
        return []
    return [v / total for v in out]


@dataclass(slots=True)
class _Symbol:
    """One instrument's learning state."""

    average: list[float] | None = None  # the learned curve (shares of a day), None until a day is folded
    days: int = 0  # completed days folded into ``average``
    day: int | None = None  # the trading day in progress (days since the epoch, UTC)
    bins: list[float] = field(default_factory=list)  # its shares traded per bin so far


class ProfileBook:
    """Volume profiles of every instrument the engine sees (module docstring)."""

    def __init__(self, settings: ProfileSettings) -> None:
        self.settings = settings
        self._edges = settings.edges()
        self._default = default_curve(settings)
        self._symbols: dict[str, _Symbol] = {}

    # ---- learning ------------------------------------------------------------------------------

    def on_trade(self, symbol: str, qty: int, now: float) -> None:
        """A print of ``qty`` shares in ``symbol`` at ``now`` (epoch seconds), on any venue."""
        if qty <= 0:
            return
        day, seconds = divmod(now, DAY_S)
        state = self._symbols.setdefault(symbol, _Symbol())
        self._roll(state, int(day))
        if state.day != int(day):  # a late print for a day already folded
            return
        if not self._edges[0] <= seconds < self._edges[-1]:
            return
        b = bisect.bisect_right(self._edges, seconds) - 1
        state.bins[b] += qty

    def roll(self, now: float) -> None:
        """Complete every instrument's day that ended before ``now``'s day (e.g. at the new day's start),
        so the first parent of the day already plans on yesterday's volume."""
        day = int(now // DAY_S)
        for state in self._symbols.values():
            self._roll(state, day)

    def _roll(self, state: _Symbol, day: int) -> None:
        if state.day is not None and day <= state.day:
            return
        if state.day is not None and math.fsum(state.bins) > 0:
            today = _normalised(state.bins)
            if state.average is None:
                state.average = today
            else:
                d = self.settings.decay
                state.average = [(1 - d) * old + d * new for old, new in zip(state.average, today, strict=True)]
            state.days += 1
        state.day = day
        state.bins = [0.0] * (len(self._edges) - 1)

    # ---- reading -------------------------------------------------------------------------------

    def curve(self, symbol: str) -> tuple[float, ...]:
        """The per-bin shares in use for ``symbol``: learned after ``min_days`` days, else the default."""
        state = self._symbols.get(symbol)
        if state is not None and state.average is not None and state.days >= self.settings.min_days:
            return tuple(state.average)
        return self._default

    def learned_days(self, symbol: str) -> int:
        """Completed days folded into ``symbol``'s curve (0: it runs on the default)."""
        state = self._symbols.get(symbol)
        return 0 if state is None else state.days

    def cumulative(self, symbol: str, when: float) -> float:
        """Expected fraction of ``when``'s trading day's volume traded by ``when`` (epoch seconds)."""
        return cumulative_of(self.curve(symbol), self._edges, when % DAY_S)

    def share(self, symbol: str, start: float, end: float) -> float:
        """Expected fraction of a day's volume between ``start`` and ``end`` (same day: C(end) − C(start))."""
        return self.cumulative(symbol, end) - self.cumulative(symbol, start)

    # ---- persistence ---------------------------------------------------------------------------

    def to_json(self) -> str:
        symbols = {
            name: {"average": s.average, "days": s.days, "day": s.day, "bins": s.bins}
            for name, s in sorted(self._symbols.items())
        }
        return json.dumps({"format": _FORMAT, "edges": list(self._edges), "settings": asdict(self.settings),
                           "symbols": symbols})

    @classmethod
    def from_json(cls, text: str, settings: ProfileSettings) -> ProfileBook:
        """The book ``to_json`` wrote, under ``settings`` (curves resampled if the bins changed).

        ValueError when the text is not such a document."""
        book = cls(settings)
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
                raise ValueError(f"not a volume profile document of format {_FORMAT}")
            old_edges = [int(e) for e in doc["edges"]]
            if len(old_edges) < 2 or any(b <= a for a, b in itertools.pairwise(old_edges)):
                raise ValueError("bin edges must rise")
            same = tuple(old_edges) == book._edges
            for name, entry in doc["symbols"].items():
                book._symbols[str(name)] = book._read_symbol(entry, old_edges, same)
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"malformed volume profile document: {exc!r}") from exc
        return book

    def _read_symbol(self, entry: dict[str, object], old_edges: list[int], same: bool) -> _Symbol:
        n_old = len(old_edges) - 1
        average = _floats(entry["average"], n_old) if entry["average"] is not None else None
        bins = _floats(entry["bins"], n_old) if entry["day"] is not None else []
        if average is not None:
            if not math.fsum(average) > 0:
                raise ValueError("a learned curve must have some volume")
            average = _normalised(average)
        days = entry["days"]
        day = entry["day"]
        if not isinstance(days, int) or days < 0 or not (day is None or isinstance(day, int)):
            raise ValueError("days must be a count and day a day number or null")
        if not same:
            if average is not None:
                average = _resample(average, old_edges, self._edges) or None
                days = days if average is not None else 0
            if day is not None:
                total = math.fsum(bins)
                shares = _resample(bins, old_edges, self._edges) if total > 0 else []
                bins = [v * total for v in shares] if shares else [0.0] * (len(self._edges) - 1)
        return _Symbol(average=average, days=days, day=day, bins=bins)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the book to ``path`` atomically (temporary file in the same directory, then replace)."""
        self.write(self.to_json(), path)

    @staticmethod
    def write(document: str, path: str | os.PathLike[str]) -> None:
        """Write a :meth:`to_json` document to ``path`` atomically and durably (any thread may: it
        touches nothing but the file)."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(document)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], settings: ProfileSettings) -> ProfileBook:
        """The book saved at ``path``; an empty one if there is no file; ValueError naming the path if
        the file is not a profile document."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(settings)
        try:
            return cls.from_json(text, settings)
        except ValueError as exc:
            raise ValueError(f"volume profile file {os.fspath(path)} is unreadable: {exc}") from exc


def _floats(value: object, n: int) -> list[float]:
    if not isinstance(value, list) or len(value) != n:
        raise ValueError(f"expected a list of {n} numbers")
    out = [float(v) for v in value]
    if not all(math.isfinite(v) and v >= 0 for v in out):
        raise ValueError("curve values must be finite and >= 0")
    return out
