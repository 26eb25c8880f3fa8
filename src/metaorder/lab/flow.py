"""The execution lab's client flow: read from a CSV file, or generated (the standard flow), as FIX orders.

A flow is a list of :class:`FlowOrder`: when it arrives, from which OMS session and account, what it
asks for, and its mandate (strategy, window, participation, urgency).  The lab sends each one through
:meth:`metaorder.simulate.Simulation.submit` as a NewOrderSingle (:func:`new_order_body`), so the
orders meet the intake exactly as an OMS's would: FIX on the wire, normalization, risk, the book.

CSV format (``--flow FILE.csv``; a header line naming the columns, in any order):

==============  =========================================================================  ================
column          meaning                                                                    empty cell
==============  =========================================================================  ================
time_s          arrival, seconds after the flow starts (the 09:00 open + 5 s warm-up)      required
session         OMS session (SenderCompID) the order comes from                            ``OMS1``
account         Account (1)                                                                no account
symbol          an instrument of the lab's configuration                                   required
side            ``buy``, ``sell``, ``short`` (or FIX Side 1, 2, 5)                          required
qty             any whole number of shares; thousands separators allowed ("12,500")        required
ord_type        ``market`` or ``limit`` (or FIX OrdType 1, 2)                               limit if a limit
                                                                                           is given, else
                                                                                           market
limit           limit price (limit orders only)                                            none
strategy        TWAP, VWAP, IS or POV (or TargetStrategy 1000, 1, 1001, 2); replaced by    intake default
                ``--strategies`` unless the run is FLOW
window_s        EffectiveTime (168) = arrival, ExpireTime (126) = arrival + window_s        300
participation   ParticipationRate (849), a fraction in (0, 1]                              none (POV runs:
                                                                                           0.1)
urgency         LOW, MEDIUM or HIGH, sent as 848 ``Urgency=...``                            intake default
==============  =========================================================================  ================

A bad row is refused with :class:`FlowError`, whose message is one line: ``FILE:LINE: column NAME:
what is wrong``.  Lines are counted as the file's (the header is line 1); blank lines and lines
starting with ``#`` are skipped, so a flow file can document itself.

The standard flow (:func:`standard_flow`, ``--orders N``) is what the lab exists to measure: many small
orders from three OMS sessions over several instruments, both sides (so netting has something to
cross), arriving uniformly over ``orders`` × :data:`ARRIVAL_GAP_S` seconds (ten a minute: the same
traffic density whatever the size of the flow) with windows of a few minutes; a quarter
of them on the illiquid instruments, sized so that together they are about
:data:`ILLIQUID_ADV_SHARE` of such an instrument's daily volume — enough for impact and timing to
show.  It is seeded: the same ``(orders, seed)`` gives the same flow.
"""

from __future__ import annotations

import csv
import math
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path

from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.model import Strategy

COLUMNS = ("time_s", "session", "account", "symbol", "side", "qty", "ord_type", "limit", "strategy", "window_s",
           "participation", "urgency")
REQUIRED = frozenset({"time_s", "symbol", "side", "qty"})
DEFAULT_SESSION = "OMS1"
DEFAULT_WINDOW_S = 300.0
DEFAULT_POV_RATE = Decimal("0.1")  # a POV run needs a ParticipationRate: rows without one get this

SIDES = {"buy": "1", "sell": "2", "short": "5", "1": "1", "2": "2", "5": "5"}
ORD_TYPES = {"market": "1", "limit": "2", "1": "1", "2": "2"}
STRATEGY_NAMES = {s.name: s.name for s in Strategy} | {s.value: s.name for s in Strategy}
URGENCIES = ("LOW", "MEDIUM", "HIGH")
_WHOLE = re.compile(r"\d+|\d{1,3}(,\d{3})+|\d{1,3}(_\d{3})+")

# ---- the standard flow --------------------------------------------------------------------------
ARRIVAL_GAP_S = 6.0  # mean seconds between arrivals: 200 orders arrive over the first 20 minutes
WINDOW_RANGE_S = (120.0, 600.0)  # each order's window: uniform in 2..10 minutes
ILLIQUID_ORDER_SHARE = 0.25  # this share of the orders are on the illiquid instruments
ILLIQUID_ADV_SHARE = 0.12  # their sizes add up to about this share of the instrument's daily volume
MEDIAN_NOTIONAL = 40_000  # liquid names: lognormal sizes around this notional (as the demo's burst)
SIZE_SIGMA = 0.9
LIMIT_SHARE = 0.2  # this share of orders are limits, 2 % through the reference price
LIMIT_OFFSET = Decimal("0.02")
URGENCY_MIX = ((None, 0.7), ("HIGH", 0.2), ("LOW", 0.1))  # None: the intake's default (MEDIUM)
SESSIONS = ("OMS1", "OMS2", "OMS3")
ACCOUNTS = tuple(f"ACC{n:02d}" for n in range(1, 9))


class FlowError(ValueError):
    """A flow file that cannot be used; the message is one line naming the file, line and column."""


@dataclass(frozen=True, slots=True)
class FlowOrder:
    """One client order of a flow (values as the intake will be sent them)."""

    time_s: float
    session: str
    account: str | None
    symbol: str
    side: str  # FIX Side: "1" buy, "2" sell, "5" sell short
    qty: int
    limit: Decimal | None  # None: a market order
    strategy: str | None  # TWAP, VWAP, IS, POV; None: the intake's default
    window_s: float
    participation: Decimal | None
    urgency: str | None
    cl_ord_id: str = ""
    line: int = 0  # where it came from in its file (0: generated)

    @property
    def sign(self) -> int:
        return 1 if self.side == "1" else -1


@dataclass(frozen=True, slots=True)
class FlowInstrument:
    """What the flow generator knows of an instrument."""

    symbol: str
    reference_price: Decimal
    tick_size: Decimal
    lot_size: int
    daily_volume: int
    illiquid: bool


def new_order_body(order: FlowOrder, now: float, strategy: str | None = None) -> list[tuple[int, FieldValue]]:
    """The NewOrderSingle of ``order`` sent at ``now``, its strategy replaced by ``strategy`` when given.

    EffectiveTime (168) is the arrival and ExpireTime (126) arrival + window; TimeInForce GTD (59=6),
    the order ends at its ExpireTime.  A POV order without a participation gets :data:`DEFAULT_POV_RATE`.
    """
    kind = strategy or order.strategy
    body: list[tuple[int, FieldValue]] = [(11, order.cl_ord_id)]
    if order.account:
        body.append((1, order.account))
    body += [(55, order.symbol), (54, order.side), (60, format_utc_timestamp(now)), (38, order.qty)]
    body += [(40, "2"), (44, order.limit)] if order.limit is not None else [(40, "1")]
    body += [(59, "6"), (168, format_utc_timestamp(now)), (126, format_utc_timestamp(now + order.window_s))]
    if kind is not None:
        body.append((847, Strategy[kind].value))
    rate = order.participation if order.participation is not None or kind != "POV" else DEFAULT_POV_RATE
    if rate is not None:
        body.append((849, rate))
    if order.urgency is not None:
        body.append((848, f"Urgency={order.urgency}"))
    return body


# ---- reading a flow file ------------------------------------------------------------------------


def read_flow(path: str | Path, symbols: Iterable[str]) -> list[FlowOrder]:
    """The orders of the CSV file ``path`` in arrival order (see the module docstring for the format)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise FlowError(f"{path}: not UTF-8 text: {exc.reason}") from exc
    return parse_flow(text.splitlines(), symbols, str(path))


def parse_flow(lines: Sequence[str], symbols: Iterable[str], name: str = "<flow>") -> list[FlowOrder]:
    """Rows of CSV text (header first) as orders, sorted by arrival (stable: file order breaks ties)."""
    known = frozenset(symbols)
    numbered = [(n, line) for n, line in enumerate(lines, start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise FlowError(f"{name}: empty flow: a header line naming the columns is needed ({','.join(COLUMNS)})")
    header_line, header_text = numbered[0]
    header = [h.strip() for h in next(csv.reader([header_text]))]
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise FlowError(f"{name}:{header_line}: unknown column {unknown[0]!r} (known: {', '.join(COLUMNS)})")
    if len(set(header)) != len(header):
        raise FlowError(f"{name}:{header_line}: a column is named twice")
    missing = sorted(REQUIRED - set(header))
    if missing:
        raise FlowError(f"{name}:{header_line}: missing column {missing[0]!r}")
    orders: list[FlowOrder] = []
    for line, text in numbered[1:]:
        cells = next(csv.reader([text]))
        if len(cells) > len(header):
            raise FlowError(f"{name}:{line}: {len(cells)} cells for {len(header)} columns")
        row = dict.fromkeys(COLUMNS, "") | {h: c.strip() for h, c in zip(header, cells, strict=False)}
        try:
            orders.append(_order(row, known, line))
        except _CellError as exc:
            raise FlowError(f"{name}:{line}: column {exc.column}: {exc}") from None
    orders.sort(key=lambda o: o.time_s)
    return [replace(o, cl_ord_id=f"L{o.line}") for o in orders]


class _CellError(ValueError):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


def _order(row: Mapping[str, str], symbols: frozenset[str], line: int) -> FlowOrder:
    time_s = _number(row, "time_s", minimum=0.0)
    symbol = row["symbol"]
    if not symbol:
        raise _CellError("symbol", "required")
    if symbol not in symbols:
        raise _CellError("symbol", f"unknown symbol {symbol!r} (known: {', '.join(sorted(symbols))})")
    side = SIDES.get(row["side"].lower())
    if side is None:
        raise _CellError("side", f"{row['side']!r} is not buy, sell, short (or 1, 2, 5)")
    qty = _qty(row["qty"])
    limit = _price(row["limit"]) if row["limit"] else None
    ord_type = ORD_TYPES.get(row["ord_type"].lower()) if row["ord_type"] else ("2" if limit is not None else "1")
    if ord_type is None:
        raise _CellError("ord_type", f"{row['ord_type']!r} is not market or limit (or 1, 2)")
    if ord_type == "2" and limit is None:
        raise _CellError("limit", "a limit order needs a limit price")
    if ord_type == "1" and limit is not None:
        raise _CellError("limit", "a market order takes no limit price")
    strategy: str | None = None
    if row["strategy"]:
        strategy = STRATEGY_NAMES.get(row["strategy"].upper())
        if strategy is None:
            raise _CellError("strategy", f"{row['strategy']!r} is not TWAP, VWAP, IS or POV (or 1000, 1, 1001, 2)")
    window = _number(row, "window_s", minimum=0.0, default=DEFAULT_WINDOW_S, positive=True)
    participation: Decimal | None = None
    if row["participation"]:
        try:
            participation = Decimal(row["participation"])
        except InvalidOperation:
            participation = None
        if participation is None or not participation.is_finite() or not 0 < participation <= 1:
            raise _CellError("participation", f"{row['participation']!r} is not a fraction in (0, 1]")
    urgency = row["urgency"].upper() or None
    if urgency is not None and urgency not in URGENCIES:
        raise _CellError("urgency", f"{row['urgency']!r} is not LOW, MEDIUM or HIGH")
    return FlowOrder(time_s, row["session"] or DEFAULT_SESSION, row["account"] or None, symbol, side, qty, limit,
                     strategy, window, participation, urgency, line=line)


def _number(row: Mapping[str, str], column: str, minimum: float, default: float | None = None,
            positive: bool = False) -> float:
    text = row[column]
    if not text:
        if default is None:
            raise _CellError(column, "required")
        return default
    try:
        value = float(text)
    except ValueError:
        raise _CellError(column, f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < minimum or (positive and value <= 0):
        raise _CellError(column, f"{text!r} must be {'positive' if positive else f'at least {minimum:g}'}")
    return value


def _qty(text: str) -> int:
    if not text:
        raise _CellError("qty", "required")
    if not _WHOLE.fullmatch(text):
        raise _CellError("qty", f"{text!r} is not a whole number of shares")
    qty = int(text.replace(",", "").replace("_", ""))
    if qty <= 0:
        raise _CellError("qty", f"{text!r} must be positive")
    return qty


def _price(text: str) -> Decimal:
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise _CellError("limit", f"{text!r} is not a price") from None
    if not price.is_finite() or price <= 0:
        raise _CellError("limit", f"{text!r} must be a positive price")
    return price


# ---- the standard flow --------------------------------------------------------------------------


def standard_flow(orders: int, seed: int, instruments: Sequence[FlowInstrument],
                  duplicate_window_s: float | None = None, span_s: float | None = None) -> list[FlowOrder]:
    """``orders`` seeded client orders (see the module docstring), in arrival order.

    ``span_s``: the orders arrive over this many seconds instead of ``orders`` × :data:`ARRIVAL_GAP_S`
    (a denser flow: ``bench/bench_lab.py`` puts 10,000 orders into one session).

    Liquid names: lognormal notional around :data:`MEDIAN_NOTIONAL`.  Illiquid ones: lognormal shares
    whose expected total is :data:`ILLIQUID_ADV_SHARE` of daily volume, spread over the expected number
    of orders on that instrument.  Both rounded to whole lots.  An order that would repeat a (session,
    symbol, side, qty, limit) within the risk engine's duplicate window is made one lot larger, as an
    OMS splitting a block would.
    """
    if orders < 1:
        raise ValueError("a flow needs at least one order")
    liquid = [i for i in instruments if not i.illiquid]
    illiquid = [i for i in instruments if i.illiquid]
    if not liquid and not illiquid:
        raise ValueError("a flow needs instruments")
    rng = random.Random(f"lab-flow/{seed}")
    illiquid_share = ILLIQUID_ORDER_SHARE if illiquid and liquid else (1.0 if illiquid else 0.0)
    per_illiquid = orders * illiquid_share / max(len(illiquid), 1)  # expected orders per illiquid instrument
    span = orders * ARRIVAL_GAP_S if span_s is None else span_s
    if not span > 0:
        raise ValueError("a flow's arrivals need a positive span")
    times = sorted(rng.uniform(0, span) for _ in range(orders))
    guard = (duplicate_window_s or 0.0) + 1.0
    last_seen: dict[tuple[str, str, str, int, Decimal | None], float] = {}
    out: list[FlowOrder] = []
    for n, t in enumerate(times):
        inst = rng.choice(illiquid if rng.random() < illiquid_share else liquid)
        side = rng.choice("12")
        if inst.illiquid:
            mean = ILLIQUID_ADV_SHARE * inst.daily_volume / max(per_illiquid, 1.0)
            shares = mean * math.exp(rng.gauss(-SIZE_SIGMA * SIZE_SIGMA / 2, SIZE_SIGMA))  # E[exp] = 1
        else:
            shares = MEDIAN_NOTIONAL * math.exp(rng.gauss(0, SIZE_SIGMA)) / float(inst.reference_price)
        qty = max(1, round(shares / inst.lot_size)) * inst.lot_size
        limit: Decimal | None = None
        if rng.random() < LIMIT_SHARE:
            through = 1 + LIMIT_OFFSET if side == "1" else 1 - LIMIT_OFFSET
            limit = (inst.reference_price * through / inst.tick_size).to_integral_value(ROUND_HALF_EVEN) \
                * inst.tick_size
        session = rng.choice(SESSIONS)
        while t - last_seen.get((session, inst.symbol, side, qty, limit), -math.inf) < guard:
            qty += inst.lot_size
        last_seen[(session, inst.symbol, side, qty, limit)] = t
        urgency = _pick(rng, URGENCY_MIX)
        out.append(FlowOrder(round(t, 3), session, rng.choice(ACCOUNTS), inst.symbol, side, qty, limit, "TWAP",
                             round(rng.uniform(*WINDOW_RANGE_S), 1), None, urgency, cl_ord_id=f"S{n + 1}"))
    return out


def _pick(rng: random.Random, mix: Sequence[tuple[str | None, float]]) -> str | None:
    x = rng.random()
    for value, weight in mix:
        if x < weight:
            return value
        x -= weight
    return mix[-1][0]


def write_flow(orders: Iterable[FlowOrder]) -> str:
    """The flow as CSV text in the file format (for saving a generated flow, and for tests)."""
    lines = [",".join(COLUMNS)]
    for o in orders:
        side = {"1": "buy", "2": "sell", "5": "short"}[o.side]
        cells = [repr(o.time_s), o.session, o.account or "", o.symbol, side, str(o.qty),
                 "limit" if o.limit is not None else "market", "" if o.limit is None else str(o.limit),
                 o.strategy or "", repr(o.window_s), "" if o.participation is None else str(o.participation),
                 o.urgency or ""]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"
