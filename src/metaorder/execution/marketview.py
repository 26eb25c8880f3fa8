"""The consolidated market: every venue's FIX 4.4 market data rebuilt into one :class:`MarketView`.

Each venue is its own FIX session; the engine hands this object the venue's name and each decoded
message (plus ``now``), and strategies and routers query it.  Sans-IO: no clock, no sockets — the
time of every event is the ``now`` the caller passes, so a replay gives the same answers.

What it understands, and why:

* **MarketDataSnapshotFullRefresh (W)** replaces one (venue, symbol) book.  Symbol (55) is in the
  body before NoMDEntries (268); entries start at MDEntryType (269).  Entries at the same price are
  summed, so a venue that sends one entry per order still gives a book by price.  Trade entries in a
  snapshot are history, not new volume: counting them would count a trade twice after a reconnect.
* **MarketDataIncrementalRefresh (X)**: entries start at MDUpdateAction (279), each with its own
  Symbol (or the previous entry's, or the single symbol of its MDReqID).  Bids and offers are keyed
  by price (we ask for an aggregated book, 266=Y); a Change or Delete without a price falls back to
  MDEntryPositionNo (290).  A size of 0 removes the level.  After each message a depth-limited book
  is cut to its depth, which is what a client must do when the venue uses MDImplicitDelete (547=Y)
  and sends no Delete for levels pushed off the bottom.  Trades (269=2, 279=0) add to the volume.
* **MarketDataRequestReject (Y)** is recorded per venue; no book changes (a rejected duplicate
  request leaves the first subscription working).
* **TradingSessionStatus (h)** sets the venue's status from TradSesStatus (340), see
  :data:`TRAD_SES_STATUS`.
* **The session** (:meth:`ConsolidatedMarket.on_session`): a disconnect drops the venue's books; after
  a reconnect a book exists again only once a new snapshot arrives, because increments sent while we
  were away are lost and any book patched across the gap would be wrong.

A malformed entry (a price or size that is not a FIX number, a fractional or negative size, an
unknown action, no side or no symbol) is skipped and counted in ``bad_entries``; the rest of its
message is applied.  FIX numbers are read strictly (digits, one optional point, optional leading
minus: no exponent, NaN, infinity or underscores, which :class:`Decimal` would otherwise accept).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Final

from metaorder.execution.types import Level, VenueBook, VenueInfo, VenueKind, VenueStatus
from metaorder.fix.codec import Message

# MDEntryType (269), MDUpdateAction (279)
BID: Final = "0"
OFFER: Final = "1"
TRADE: Final = "2"
NEW: Final = "0"
CHANGE: Final = "1"
DELETE: Final = "2"

#: TradSesStatus (340) → our status.  Pre-open (4) and pre-close (5) are call phases: orders may be
#: accepted but nothing executes continuously, so a router must not treat the quote as takeable —
#: CLOSED, not OPEN.  Unknown (0) and Request Rejected (6, the answer to a status request we could
#: not have) say nothing about the venue, so they leave its status alone.
TRAD_SES_STATUS: Final[Mapping[str, VenueStatus]] = {
    "1": VenueStatus.HALTED,
    "2": VenueStatus.OPEN,
    "3": VenueStatus.CLOSED,
    "4": VenueStatus.CLOSED,
    "5": VenueStatus.CLOSED,
}

#: A FIX 4.4 float/Qty/Price: optional minus, digits, optional point.  The length cap keeps every
#: product and sum below the precision of ``_EXACT``, so notional and midpoints are always exact.
_FIX_NUMBER: Final = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_MAX_NUMBER_LEN: Final = 32
_EXACT: Final = Context(prec=100)  # exact for any product/sum of the capped numbers above
_QUOTIENT: Final = Context(prec=28)  # the VWAP: exact when the division terminates, else 28 digits


@dataclass(frozen=True, slots=True)
class MarketDataReject:
    """A venue's MarketDataRequestReject (Y)."""

    req_id: str  # MDReqID (262)
    reason: str | None  # MDReqRejReason (281): 0 unknown symbol, 1 duplicate MDReqID, 4, 5, 8 ...
    text: str  # Text (58), "" when absent
    time: float  # when we received it


@dataclass(slots=True)
class _Book:
    """One (venue, symbol) book being rebuilt; levels keyed by price for O(1) increments."""

    depth: int  # 0: no limit (full book)
    bids: dict[Decimal, int] = field(default_factory=dict)
    asks: dict[Decimal, int] = field(default_factory=dict)
    updated: float = 0.0
    view: VenueBook | None = None  # the last VenueBook handed out, until the next change

    def side(self, entry_type: str) -> dict[Decimal, int]:
        return self.bids if entry_type == BID else self.asks

    def ordered(self, entry_type: str) -> list[Decimal]:
        """Prices best first: bids descending, offers ascending."""
        return sorted(self.side(entry_type), reverse=entry_type == BID)

    def truncate(self) -> None:
        if self.depth <= 0:
            return
        for entry_type in (BID, OFFER):
            levels = self.side(entry_type)
            if len(levels) > self.depth:
                for price in self.ordered(entry_type)[self.depth :]:
                    del levels[price]


@dataclass(slots=True)
class _Venue:
    info: VenueInfo
    status: VenueStatus = VenueStatus.DISCONNECTED
    books: dict[str, _Book] = field(default_factory=dict)
    last_update: float | None = None
    reject: MarketDataReject | None = None
    volume: dict[str, int] = field(default_factory=dict)


class _BadEntry(Exception):
    """An entry that cannot be applied; caught per entry, never escapes the module."""


@dataclass(slots=True)
class _Tape:
    """Trades in one symbol across all venues since we started watching."""

    volume: int = 0
    notional: Decimal = Decimal(0)
    last: tuple[Decimal, int, float] | None = None


class ConsolidatedMarket:
    """A :class:`~metaorder.execution.types.MarketView` rebuilt from each venue's market data.

    Books handed out are snapshots: the market view never mutates a :class:`VenueBook` after
    returning it (it builds a new one on the next change), so a strategy can hold one while deciding.
    Callers must not mutate them either: the same object is returned until the book changes.
    """

    def __init__(self, venues: Mapping[str, VenueInfo]) -> None:
        self._venues = {name: _Venue(info) for name, info in venues.items()}
        self._requests: dict[str, tuple[list[str], int]] = {}  # MDReqID -> (symbols, depth)
        self._tape: dict[str, _Tape] = {}
        #: Entries skipped because they could not be understood (see the module docstring).
        self.bad_entries = 0
        #: Whole messages skipped: a snapshot whose symbol cannot be told.
        self.bad_messages = 0

    # ---- requests ------------------------------------------------------------------------------

    def subscription_request(self, req_id: str, symbols: Sequence[str], depth: int = 0) -> list[tuple[int, str | int]]:
        """The body of a MarketDataRequest (V): bids, offers and trades; snapshot, then increments.

        263=1 (snapshot + updates), 264 MarketDepth (0 = full book), 265=1 (incremental refresh),
        266=Y (one entry per price: the books here are keyed by price).  Field order follows the
        FIX 4.4 message layout, which a validating venue checks.  The request is remembered so the
        answers can be read: its depth for truncation, its symbol for entries that omit Symbol.
        """
        if not symbols:
            raise ValueError("a MarketDataRequest needs at least one symbol")
        if depth < 0:
            raise ValueError(f"MarketDepth {depth} must be 0 (full book) or positive")
        self._requests[req_id] = (list(symbols), depth)
        body: list[tuple[int, str | int]] = [(262, req_id), (263, "1"), (264, depth), (265, "1"), (266, "Y")]
        body += [(267, 3), (269, BID), (269, OFFER), (269, TRADE), (146, len(symbols))]
        body += [(55, symbol) for symbol in symbols]
        return body

    # ---- events --------------------------------------------------------------------------------

    def on_session(self, venue: str, connected: bool, now: float) -> None:
        """The venue's FIX session came up (presumed OPEN until TradingSessionStatus says otherwise)
        or went down (DISCONNECTED; its books are dropped until a new snapshot after reconnect)."""
        state = self._venue(venue)
        if connected:
            if state.status is VenueStatus.DISCONNECTED:
                state.status = VenueStatus.OPEN
            return
        state.status = VenueStatus.DISCONNECTED
        state.books.clear()

    def on_message(self, venue: str, msg: Message, now: float) -> None:
        """Apply one application message from ``venue``; types other than W, X, Y, h are ignored.

        Nothing can arrive on a session that is down, so messages for a DISCONNECTED venue are
        dropped rather than allowed to resurrect its books without a reconnect.
        """
        state = self._venue(venue)
        if state.status is VenueStatus.DISCONNECTED:
            return
        kind = msg.msg_type
        if kind == "W":
            self._on_snapshot(state, msg, now)
        elif kind == "X":
            self._on_increment(state, msg, now)
        elif kind == "Y":
            state.reject = MarketDataReject(msg.get(262) or "", msg.get(281), msg.get(58) or "", now)
        elif kind == "h":
            status = TRAD_SES_STATUS.get(msg.get(340) or "")
            if status is not None:
                state.status = status

    # ---- MarketView ----------------------------------------------------------------------------

    def book(self, venue: str, symbol: str) -> VenueBook | None:
        """The venue's book for ``symbol`` whatever its status, or None (no snapshot, dark, unknown)."""
        state = self._venues.get(venue)
        if state is None:
            return None
        book = state.books.get(symbol)
        return None if book is None else self._view(venue, symbol, book)

    def books(self, symbol: str) -> list[VenueBook]:
        """Books of lit venues that are OPEN and hold a snapshot since they last connected.

        Age is not judged here (no ``now`` in the protocol): use :meth:`stale` for that.
        """
        out: list[VenueBook] = []
        for name, state in self._venues.items():
            if state.info.kind is VenueKind.LIT and state.status is VenueStatus.OPEN:
                book = state.books.get(symbol)
                if book is not None:
                    out.append(self._view(name, symbol, book))
        return out

    def status(self, venue: str) -> VenueStatus:
        return self._venue(venue).status

    def best_bid(self, symbol: str) -> Decimal | None:
        bids = [b.bids[0].price for b in self.books(symbol) if b.bids]
        return max(bids) if bids else None

    def best_ask(self, symbol: str) -> Decimal | None:
        asks = [b.asks[0].price for b in self.books(symbol) if b.asks]
        return min(asks) if asks else None

    def mid(self, symbol: str) -> Decimal | None:
        """(best bid + best ask) / 2, exact (a half tick when the spread is odd); None when one-sided,
        locked or crossed — a crossed consolidated quote has no meaningful midpoint."""
        bid, ask = self.best_bid(symbol), self.best_ask(symbol)
        if bid is None or ask is None or bid >= ask:
            return None
        return _EXACT.divide(_EXACT.add(bid, ask), 2)

    def volume(self, symbol: str) -> int:
        tape = self._tape.get(symbol)
        return tape.volume if tape else 0

    def vwap(self, symbol: str) -> Decimal | None:
        """Σ price·size / Σ size over the trades seen: exact when the quotient terminates (the
        notional always is: :meth:`notional`), else correctly rounded to 28 significant digits."""
        tape = self._tape.get(symbol)
        if not tape or not tape.volume:
            return None
        return _QUOTIENT.divide(tape.notional, tape.volume)

    # ---- more queries --------------------------------------------------------------------------

    def notional(self, symbol: str) -> Decimal:
        """Σ price·size of the trades seen in ``symbol``, exactly."""
        tape = self._tape.get(symbol)
        return tape.notional if tape else Decimal(0)

    def venue_volume(self, venue: str, symbol: str) -> int:
        return self._venue(venue).volume.get(symbol, 0)

    def last_trade(self, symbol: str) -> tuple[Decimal, int, float] | None:
        """(price, size, time received) of the latest trade on any venue."""
        tape = self._tape.get(symbol)
        return tape.last if tape else None

    def last_update(self, venue: str) -> float | None:
        """When the venue last sent market data (W or X), or None if it never has."""
        return self._venue(venue).last_update

    def stale(self, venue: str, now: float, max_age: float) -> bool:
        """True when the venue's market data cannot be trusted at ``now``.

        A lit venue is stale when disconnected, without a snapshot since it connected, or silent for
        more than ``max_age`` seconds.  A dark venue publishes nothing, so it is stale only when
        disconnected.
        """
        state = self._venue(venue)
        if state.status is VenueStatus.DISCONNECTED:
            return True
        if state.info.kind is VenueKind.DARK:
            return False
        if not state.books or state.last_update is None:
            return True
        return now - state.last_update > max_age

    def reject(self, venue: str) -> MarketDataReject | None:
        """The venue's latest MarketDataRequestReject, or None."""
        return self._venue(venue).reject

    # ---- internals -----------------------------------------------------------------------------

    def _venue(self, venue: str) -> _Venue:
        state = self._venues.get(venue)
        if state is None:
            raise KeyError(f"unknown venue {venue!r}: not in the configuration")
        return state

    @staticmethod
    def _view(venue: str, symbol: str, book: _Book) -> VenueBook:
        if book.view is None:
            bids = [Level(p, book.bids[p]) for p in book.ordered(BID)]
            asks = [Level(p, book.asks[p]) for p in book.ordered(OFFER)]
            book.view = VenueBook(venue, symbol, bids, asks, book.updated)
        return book.view

    def _request(self, msg: Message) -> tuple[list[str], int]:
        return self._requests.get(msg.get(262) or "", ([], 0))

    def _on_snapshot(self, state: _Venue, msg: Message, now: float) -> None:
        head, entries = _split(msg.fields, 269)
        symbols, depth = self._request(msg)
        symbol = head.get(55) or (symbols[0] if len(symbols) == 1 else None)
        if symbol is None:
            self.bad_messages += 1
            return
        if state.info.kind is VenueKind.DARK:
            return  # a dark venue has no book, whatever it sends
        state.last_update = now
        book = _Book(depth, updated=now)
        for entry in entries:
            entry_type = entry[269]
            if entry_type not in (BID, OFFER):
                continue  # trades in a snapshot are history; other types (open, close...) unused
            try:
                price = _decimal(entry.get(270))
                size = _size(entry.get(271))
            except _BadEntry:
                self.bad_entries += 1
                continue
            if size:
                levels = book.side(entry_type)
                levels[price] = levels.get(price, 0) + size
        book.truncate()
        state.books[symbol] = book

    def _on_increment(self, state: _Venue, msg: Message, now: float) -> None:
        _, entries = _split(msg.fields, 279)
        symbols, _ = self._request(msg)
        symbol = symbols[0] if len(symbols) == 1 else None
        touched: set[str] = set()
        lit = state.info.kind is VenueKind.LIT
        if lit:
            state.last_update = now
        for entry in entries:
            symbol = entry.get(55) or symbol
            try:
                if symbol is None:
                    raise _BadEntry("no symbol")
                action = entry[279]
                entry_type = entry.get(269)
                if action not in (NEW, CHANGE, DELETE) or entry_type is None:
                    raise _BadEntry("unknown action or no side")
                if entry_type == TRADE:
                    if action == NEW:
                        self._trade(state, symbol, _decimal(entry.get(270)), _size(entry.get(271)), now)
                elif entry_type in (BID, OFFER) and lit:
                    book = state.books.get(symbol)
                    parsed = _parse_level(action, entry)
                    if book is not None:
                        _apply(book, entry_type, action, *parsed)
                        touched.add(symbol)
            except _BadEntry:
                self.bad_entries += 1
        for name in touched:
            book = state.books[name]
            book.truncate()
            book.updated = now
            book.view = None

    def _trade(self, state: _Venue, symbol: str, price: Decimal, size: int, now: float) -> None:
        if size <= 0:
            raise _BadEntry("a trade of no shares")
        tape = self._tape.setdefault(symbol, _Tape())
        tape.volume += size
        tape.notional = _EXACT.add(tape.notional, _EXACT.multiply(price, Decimal(size)))
        tape.last = (price, size, now)
        state.volume[symbol] = state.volume.get(symbol, 0) + size


def _split(fields: Iterable[tuple[int, str]], first_tag: int) -> tuple[dict[int, str], list[dict[int, str]]]:
    """The fields before NoMDEntries (268), and its entries (each starts at ``first_tag``).

    Within an entry the first occurrence of a tag wins, like :meth:`Message.get`.  Fields between
    268 and the first entry start belong to no entry and are dropped.
    """
    head: dict[int, str] = {}
    entries: list[dict[int, str]] = []
    in_group = False
    for tag, value in fields:
        if not in_group:
            if tag == 268:
                in_group = True
            else:
                head.setdefault(tag, value)
        elif tag == first_tag:
            entries.append({tag: value})
        elif entries:
            entries[-1].setdefault(tag, value)
    return head, entries


def _decimal(text: str | None) -> Decimal:
    if text is None or len(text) > _MAX_NUMBER_LEN or not _FIX_NUMBER.fullmatch(text):
        raise _BadEntry(f"not a FIX number: {text!r}")
    return Decimal(text)


def _size(text: str | None) -> int:
    """A size in whole shares: "100" and "100.0" are the same; "100.5" and "-1" are malformed."""
    value = _decimal(text)
    if value < 0 or value != value.to_integral_value():
        raise _BadEntry(f"not a whole number of shares: {text!r}")
    return int(value)


def _parse_level(action: str, entry: Mapping[int, str]) -> tuple[Decimal | None, int | None, int]:
    """(price, size, position) of a bid/offer entry, checked before anything is applied.

    New needs a price and a size; Change a size and a price or position; Delete a price or position.
    """
    price = _decimal(entry[270]) if 270 in entry else None
    position = 0
    if 290 in entry:
        text = entry[290]
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise _BadEntry(f"bad MDEntryPositionNo {text!r}")
        position = int(text)
    if price is None and (action == NEW or not position):
        raise _BadEntry("no price")
    size = None if action == DELETE else _size(entry.get(271))
    return price, size, position


def _apply(book: _Book, entry_type: str, action: str, price: Decimal | None, size: int | None, position: int) -> None:
    levels = book.side(entry_type)
    if price is None:  # by position (Change or Delete)
        ordered = book.ordered(entry_type)
        if position > len(ordered):
            return  # nothing there: the venue's book and ours already agree it is gone
        price = ordered[position - 1]
    if action == DELETE or not size:
        levels.pop(price, None)
    else:
        levels[price] = size
