"""``metaorder tca --fills FILE.csv``: the cost of each child fill against its own benchmark, and in total.

Why this module exists
----------------------
A desk is often handed fills from elsewhere (another broker's algo, a venue's drop copy, a
spreadsheet) and asked "how did we do?".  This module answers with the arithmetic a careful
spreadsheet would do, exactly: pure functions, a CSV text in, rows and totals out; reading the
file and rendering are the caller's business.

The file
--------
A header line naming the columns ``child_id,time,venue,order_type,side,quantity,price,benchmark``
in any order (case and surrounding blanks ignored; unknown columns ignored; ``side`` may be left
out, every row is then a buy).  Parsed by :mod:`csv`, so a quoted field may hold the separator:
``"1,200"`` is a quantity of 1200.

* ``quantity``: a positive whole number, thousands separators allowed (``1,200``, ``12,000``), at
  most :data:`MAX_QUANTITY`.
* ``price``, ``benchmark``: positive decimals, thousands separators allowed (``1,234.50``), from
  :data:`MIN_PRICE` to :data:`MAX_PRICE` with at most :data:`MAX_PLACES` decimal places (trailing
  zeros do not count).  The bounds are far beyond any market's and keep every product and sum
  exact (see below) and every figure printable: a typo such as a benchmark of ``0.000…01`` is
  refused on its line instead of producing a 10²⁸ bps "cost".
* ``side``: ``buy``/``b``/``1`` or ``sell``/``s``/``2``, or ``short``/``sell short``/``5`` (a sell
  for cost purposes); case-insensitive; an empty cell is a buy.
* ``time``: ISO 8601 (``2026-01-01T09:30:00.250Z``, ``2026-01-01 09:30:00``), FIX UTCTimestamp
  (``20260101-09:30:00.250``) or a time of day (``09:30:00``, ``09:30``): checked, kept as written
  for display, and read as seconds only to order the plot.

Conventions (GUIDE §6), s = +1 for a buy, −1 for a sell:

* **performance** bps = s·(benchmark − price)/benchmark·10⁴: positive is better than the benchmark;
* **cost** bps = its negative, s·(price − benchmark)/benchmark·10⁴: positive is worse.

The total of one side: quantity Q = Σq, average price P̄ = Σq·p/Q, average benchmark B̄ = Σq·b/Q,
performance s·(B̄ − P̄)/B̄·10⁴ (which is also Σ s·q·(b − p) / Σ q·b · 10⁴: each fill weighs by its
benchmark notional), and the performance in money s·Σq·(b − p).

Mixed sides: each side gets its own total (an average price across buys and sells means
nothing), and an overall line adds the money (Σ s·q·(b − p)) and divides by the gross benchmark
notional (Σ q·b): the same formula as one side's, so an all-buy file's overall line is its buy
line.  Its quantity is the gross quantity; it has no average price.

Exactness: quantities are ``int``; products and sums are taken in a 100-digit context that traps
inexact results, which the bounds above never reach (13 + 32 digits a product), so they are exact
whatever the caller's context; each quotient is taken once in a fixed 28-significant-digit context —
the precision of :mod:`metaorder.posttrade.tca`.  Nothing is rounded here: rendering rounds.

Errors: :class:`FillsError`, one line naming the file, the line number (as an editor counts
lines, the header being line 1; a row whose quoted cell spans lines is named by its first line;
only ``\\n``, ``\\r\\n`` and ``\\r`` end a line — a form feed or U+2028 inside a cell is text) and
the column, e.g.
``fills.csv line 7, column quantity: 'abc' is not a whole number``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Final

__all__ = [
    "COLUMNS",
    "MAX_PLACES",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "MIN_PRICE",
    "FillRow",
    "FillsError",
    "FillsReport",
    "Total",
    "analyse_fills",
    "parse_fills",
    "parse_time",
]

#: Columns of the file, in the documented order; ``side`` is optional.
COLUMNS: Final = ("child_id", "time", "venue", "order_type", "side", "quantity", "price", "benchmark")
_REQUIRED: Final = tuple(c for c in COLUMNS if c != "side")
#: Bounds of a row's figures (see the module docstring: they keep the arithmetic exact and printable).
MAX_QUANTITY: Final = 10**12
MIN_PRICE: Final = Decimal("0.00000001")
MAX_PRICE: Final = Decimal(10**12)
MAX_PLACES: Final = 20
_Q: Final = Context(prec=28)
_EXACT: Final = Context(prec=100, traps=[InvalidOperation, Overflow, Inexact])
_SHOWN: Final = 60  # characters of a cell an error line quotes
_BPS: Final = Decimal(10_000)
_ZERO: Final = Decimal(0)
_SIDES: Final = {"": 1, "buy": 1, "b": 1, "1": 1, "sell": -1, "s": -1, "2": -1,
                 "short": -1, "sell short": -1, "5": -1}
_WHOLE: Final = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")
_DECIMAL: Final = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")
_TIME_OF_DAY: Final = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?")
_FIX_TIME: Final = re.compile(r"(\d{8})-(\d{2}:\d{2}:\d{2}(?:\.\d+)?)")


class FillsError(Exception):
    """The file cannot be analysed; the message is one line naming the file, line and column."""


@dataclass(frozen=True, slots=True)
class FillRow:
    """One child fill, as read, with its own figures."""

    line: int  # line number in the file (header = 1)
    child_id: str
    time: str  # as written
    seconds: float  # ``time`` as seconds (epoch, or since midnight for a time of day): ordering only
    venue: str
    order_type: str
    sign: int  # s: +1 buy, −1 sell
    quantity: int
    price: Decimal
    benchmark: Decimal

    @property
    def side(self) -> str:
        return "buy" if self.sign > 0 else "sell"

    @property
    def performance_money(self) -> Decimal:
        """s·q·(b − p): what the fill saved (positive) or lost against its benchmark."""
        return _EXACT.multiply(self.sign * self.quantity, _EXACT.subtract(self.benchmark, self.price))

    @property
    def performance_bps(self) -> Decimal:
        return _Q.multiply(_Q.divide(self.sign * (self.benchmark - self.price), self.benchmark), _BPS)

    @property
    def cost_bps(self) -> Decimal:
        return -self.performance_bps


@dataclass(frozen=True, slots=True)
class Total:
    """The total of one side (``side`` "buy"/"sell") or of all rows (``side`` "all")."""

    side: str
    fills: int
    quantity: int
    notional: Decimal  # Σ q·p
    benchmark_notional: Decimal  # Σ q·b
    performance_money: Decimal  # Σ s·q·(b − p)

    @property
    def avg_price(self) -> Decimal | None:
        """Σq·p/Σq; None for the all-sides line (buys and sells do not average)."""
        return None if self.side == "all" else _Q.divide(self.notional, self.quantity)

    @property
    def avg_benchmark(self) -> Decimal | None:
        return None if self.side == "all" else _Q.divide(self.benchmark_notional, self.quantity)

    @property
    def performance_bps(self) -> Decimal:
        """Σ s·q·(b − p) / Σ q·b · 10⁴, which for one side is s·(B̄ − P̄)/B̄·10⁴."""
        return _Q.multiply(_Q.divide(self.performance_money, self.benchmark_notional), _BPS)

    @property
    def cost_bps(self) -> Decimal:
        return -self.performance_bps


@dataclass(frozen=True, slots=True)
class FillsReport:
    source: str  # the file's name, for headings
    rows: tuple[FillRow, ...]
    totals: tuple[Total, ...]  # one per side present, in buy, sell order, then "all" when both are

    @property
    def total(self) -> Total:
        """The overall total (the one side's when there is one)."""
        return self.totals[-1]


# --------------------------------------------------------------------------- reading


def _whole(text: str) -> int | None:
    text = text.strip()
    return int(text.replace(",", "")) if _WHOLE.fullmatch(text) else None


def _exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Σ values, exact (the ambient context would round past 28 digits)."""
    total = _ZERO
    for value in values:
        total = _EXACT.add(total, value)
    return total


def _decimal(text: str) -> Decimal | None:
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return None


def parse_time(text: str) -> float | None:
    """Seconds for ordering: epoch seconds for a date and time (UTC unless an offset is given),
    seconds since midnight for a time of day; None: not a time this module reads."""
    text = text.strip()
    m = _TIME_OF_DAY.fullmatch(text)
    if m:
        hours, minutes, seconds = int(m[1]), int(m[2]), int(m[3] or 0)
        if hours > 23 or minutes > 59 or seconds > 60:
            return None
        return hours * 3600 + minutes * 60 + seconds + float(m[4] or 0)
    fix = _FIX_TIME.fullmatch(text)
    if fix:
        text = f"{fix[1][:4]}-{fix[1][4:6]}-{fix[1][6:]}T{fix[2]}"
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.timestamp()


def _header(fields: Sequence[str] | None, name: str) -> dict[str, int]:
    if fields is None or not any(f.strip() for f in fields):
        raise FillsError(f"{name}: empty file (a header line {','.join(COLUMNS)} is required)")
    index: dict[str, int] = {}
    for n, field_name in enumerate(fields):
        key = field_name.strip().lower().lstrip("\ufeff").strip()  # a spreadsheet's UTF-8 byte order mark
        if not key:  # an unnamed column (a spreadsheet's trailing ",,"): ignored like any unknown one
            continue
        if key in index:
            raise FillsError(f"{name} line 1: column {key} appears twice")
        index[key] = n
    missing = [c for c in _REQUIRED if c not in index]
    if missing:
        raise FillsError(f"{name} line 1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
                         f" (the header must name {','.join(COLUMNS)}; side is optional)")
    return index


def _shown(text: str) -> str:
    """A cell quoted for an error line; a huge one (a runaway number) cut, so the error stays one line."""
    if len(text) <= _SHOWN:
        return repr(text)
    return f"{text[:_SHOWN // 2]!r}... ({len(text):,} characters)"


def _row(values: Sequence[str], index: dict[str, int], line: int, name: str) -> FillRow:
    def cell(column: str) -> str:
        n = index.get(column)
        if n is None:
            return ""
        if n >= len(values):
            raise FillsError(f"{name} line {line}, column {column}: missing (the line has {len(values)} fields)")
        return values[n].strip()

    def bad(column: str, why: str) -> FillsError:
        return FillsError(f"{name} line {line}, column {column}: {_shown(cell(column))} {why}")

    child_id = cell("child_id")
    if not child_id:
        raise bad("child_id", "is empty")
    time = cell("time")
    seconds = parse_time(time)
    if seconds is None:
        raise bad("time", "is not a time (ISO 8601, YYYYMMDD-HH:MM:SS or HH:MM:SS)")
    sign = _SIDES.get(cell("side").lower())
    if sign is None:
        raise bad("side", "is not a side (buy, sell, short; or FIX 1, 2, 5)")
    quantity = _whole(cell("quantity"))
    if quantity is None:
        raise bad("quantity", "is not a whole number")
    if quantity <= 0:
        raise bad("quantity", "is not positive")
    if quantity > MAX_QUANTITY:
        raise bad("quantity", f"is too large (at most {MAX_QUANTITY:,})")
    prices: list[Decimal] = []
    for column in ("price", "benchmark"):
        value = _decimal(cell(column))
        if value is None:
            raise bad(column, "is not a decimal number")
        if value <= 0:
            raise bad(column, "is not positive")
        if value < MIN_PRICE:
            raise bad(column, f"is too small (at least {MIN_PRICE:f})")
        if value > MAX_PRICE:
            raise bad(column, f"is too large (at most {MAX_PRICE:,})")
        places = -int(value.normalize().as_tuple().exponent)
        if places > MAX_PLACES:
            raise bad(column, f"has {places} decimal places (at most {MAX_PLACES})")
        prices.append(value)
    return FillRow(line, child_id, time, seconds, cell("venue"), cell("order_type"), sign, quantity, *prices)


def parse_fills(text: str, name: str = "fills") -> list[FillRow]:
    """The rows of a fills CSV (``name`` names it in errors).  Blank lines are skipped; a file with
    a header and no rows is an error too (there is nothing to analyse).

    The text is read as :mod:`csv` requires (``newline=""``): only ``\\n``, ``\\r\\n`` and ``\\r``
    end a line, so the reader's ``line_num`` counts lines as an editor does; ``str.splitlines``
    would also split at a form feed or U+2028 inside a cell and misnumber every later line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        index = _header(next(reader, None), name)
        rows: list[FillRow] = []
        while True:
            first_line = reader.line_num + 1  # a quoted cell may span lines: name the row's first
            values = next(reader, None)
            if values is None:
                break
            if not any(v.strip() for v in values):
                continue
            rows.append(_row(values, index, first_line, name))
    except csv.Error as exc:
        raise FillsError(f"{name} line {reader.line_num}: {exc}") from None
    if not rows:
        raise FillsError(f"{name}: no fills after the header")
    return rows


# --------------------------------------------------------------------------- arithmetic


def _total(side: str, rows: Sequence[FillRow]) -> Total:
    return Total(side, len(rows), sum(r.quantity for r in rows),
                 _exact_sum(_EXACT.multiply(r.quantity, r.price) for r in rows),
                 _exact_sum(_EXACT.multiply(r.quantity, r.benchmark) for r in rows),
                 _exact_sum(r.performance_money for r in rows))


def analyse_fills(rows: Sequence[FillRow], source: str = "fills") -> FillsReport:
    """Rows in file order and the totals: one per side present, and an overall one when both are."""
    totals = [_total(side, [r for r in rows if r.side == side]) for side in ("buy", "sell")
              if any(r.side == side for r in rows)]
    if len(totals) > 1:
        totals.append(_total("all", rows))
    return FillsReport(source, tuple(rows), tuple(totals))
