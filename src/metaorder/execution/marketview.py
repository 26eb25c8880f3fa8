"""The consolidated market: every venue's FIX 4.4 market data rebuilt into one :class:`MarketView`.

Each venue is its own FIX session; the venue adapter (``venue_fix.py``) reads each market data
message into a domain update, the engine hands this object the venue's name and the update (plus
``now``, :meth:`ConsolidatedMarket.apply`), and strategies and routers query it.  Sans-IO: no clock,
no sockets — the time of every event is the ``now`` the caller passes, so a replay gives the same
answers.  No FIX tag is read here; :meth:`ConsolidatedMarket.on_message` and
:meth:`ConsolidatedMarket.subscription_request` are conveniences that go through the adapter.

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
  :data:`metaorder.execution.venue_fix.TRAD_SES_STATUS`.
* **The session** (:meth:`ConsolidatedMarket.on_session`): a disconnect drops the venue's books; after
  a reconnect a book exists again only once a new snapshot arrives, because increments sent while we
  were away are lost and any book patched across the gap would be wrong.

A malformed entry (a price or size that is not a FIX number, a fractional or negative size, an
unknown action, no side or no symbol) is skipped and counted in ``bad_entries``; the rest of its
message is applied.  The adapter reads FIX numbers strictly (digits, one optional point, optional
leading minus: no exponent, NaN, infinity or underscores, which :class:`Decimal` would otherwise accept).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Final

from metaorder.execution.children import Fields
from metaorder.execution.types import Level, VenueBook, VenueInfo, VenueKind, VenueStatus
from metaorder.execution.venue_fix import (
    BookChangeKind,
    BookIncrement,
    BookSnapshot,
    MarketDataRejected,
    MarketDataUpdate,
    TradingStatus,
    market_data_request,
    read_venue_message,
)
from metaorder.fix.codec import Message
from metaorder.fix.tags import MDEntryType, MDUpdateAction

_MARKET_DATA: Final = (BookSnapshot, BookIncrement, MarketDataRejected, TradingStatus)
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

    def side(self, bid: bool) -> dict[Decimal, int]:
        return self.bids if bid else self.asks

    def ordered(self, bid: bool) -> list[Decimal]:
        """Prices best first: bids descending, offers ascending."""
        return sorted(self.side(bid), reverse=bid)

    def truncate(self) -> None:
        if self.depth <= 0:
            return
        for bid in (True, False):
            levels = self.side(bid)
            if len(levels) > self.depth:
                for price in self.ordered(bid)[self.depth :]:
                    del levels[price]


@dataclass(slots=True)
class _Venue:
    info: VenueInfo
    status: VenueStatus = VenueStatus.DISCONNECTED
    books: dict[str, _Book] = field(default_factory=dict)
    last_update: float | None = None
    reject: MarketDataReject | None = None
    volume: dict[str, int] = field(default_factory=dict)


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
        # Bumped by every change of a book or a venue's status: a mid computed since is still right.
        # The mid is asked once per client order (the ack's arrival benchmark) and by every routing
        # decision, far more often than the books change, and computing it walks every lit book.
        self._version = 0
        self._mids: dict[str, tuple[int, Decimal | None]] = {}
        self._books: dict[str, tuple[int, list[VenueBook]]] = {}  # symbol -> (version, books())
        #: Entries skipped because they could not be understood (see the module docstring).
        self.bad_entries = 0
        #: Whole messages skipped: a snapshot whose symbol cannot be told.
        self.bad_messages = 0
        #: Told of every trade print (symbol, price, size, now): the models strategies learn from
        #: (the intraday volume profile, the cost model's volume rate).
        self.trade_listeners: list[Callable[[str, Decimal, int, float], None]] = []
        #: Told when a lit book of ``symbol`` changed (symbol, now): they read the new quote themselves.
        self.quote_listeners: list[Callable[[str, float], None]] = []

    # ---- requests ------------------------------------------------------------------------------

    def subscribe(self, req_id: str, symbols: Sequence[str], depth: int = 0) -> None:
        """Remember a MarketDataRequest about to be sent, so its answers can be read: its depth for
        truncation, its symbol for entries that omit Symbol.  Depth 0 is the full book."""
        if not symbols:
            raise ValueError("a MarketDataRequest needs at least one symbol")
        if depth < 0:
            raise ValueError(f"MarketDepth {depth} must be 0 (full book) or positive")
        self._requests[req_id] = (list(symbols), depth)

    def subscription_request(self, req_id: str, symbols: Sequence[str], depth: int = 0) -> Fields:
        """:meth:`subscribe`, and the MarketDataRequest (V) body the venue adapter builds for it."""
        self.subscribe(req_id, symbols, depth)
        return market_data_request(req_id, symbols, depth)

    # ---- events --------------------------------------------------------------------------------

    def on_session(self, venue: str, connected: bool, now: float) -> None:
        """The venue's FIX session came up (presumed OPEN until TradingSessionStatus says otherwise)
        or went down (DISCONNECTED; its books are dropped until a new snapshot after reconnect)."""
        state = self._venue(venue)
        self._version += 1
        if connected:
            if state.status is VenueStatus.DISCONNECTED:
                state.status = VenueStatus.OPEN
            return
        state.status = VenueStatus.DISCONNECTED
        state.books.clear()

    def on_message(self, venue: str, msg: Message, now: float) -> None:
        """Read one message from ``venue`` with the venue adapter and :meth:`apply` it if it is
        market data (W, X, Y, h); other types are ignored."""
        update = read_venue_message(msg)
        if isinstance(update, _MARKET_DATA):
            self.apply(venue, update, now)

    def apply(self, venue: str, update: MarketDataUpdate, now: float) -> None:
        """Apply one market data update from ``venue``.

        Nothing can arrive on a session that is down, so updates for a DISCONNECTED venue are
        dropped rather than allowed to resurrect its books without a reconnect.
        """
        state = self._venue(venue)
        if state.status is VenueStatus.DISCONNECTED:
            return
        self._version += 1
        if isinstance(update, BookSnapshot):
            self._on_snapshot(state, update, now)
        elif isinstance(update, BookIncrement):
            self._on_increment(state, update, now)
        elif isinstance(update, MarketDataRejected):
            state.reject = MarketDataReject(update.req_id, update.reason, update.text, now)
        elif update.status is not None:
            state.status = update.status

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

        Age is not judged here (no ``now`` in the protocol): use :meth:`stale` for that.  The list
        is remembered until the next change (:attr:`version`): routing asks for it several times
        per decision; each caller gets its own copy.
        """
        cached = self._books.get(symbol)
        if cached is not None and cached[0] == self._version:
            return list(cached[1])
        out: list[VenueBook] = []
        for name, state in self._venues.items():
            if state.info.kind is VenueKind.LIT and state.status is VenueStatus.OPEN:
                book = state.books.get(symbol)
                if book is not None:
                    out.append(self._view(name, symbol, book))
        self._books[symbol] = (self._version, out)
        return list(out)

    def status(self, venue: str) -> VenueStatus:
        return self._venue(venue).status

    def best_bid(self, symbol: str) -> Decimal | None:
        """The highest bid of the lit books :meth:`books` returns (read from the levels: no view is built)."""
        best: Decimal | None = None
        for book in self._lit_books(symbol):
            if book.bids:
                price = max(book.bids)
                if best is None or price > best:
                    best = price
        return best

    def best_ask(self, symbol: str) -> Decimal | None:
        """The lowest offer of the lit books :meth:`books` returns."""
        best: Decimal | None = None
        for book in self._lit_books(symbol):
            if book.asks:
                price = min(book.asks)
                if best is None or price < best:
                    best = price
        return best

    def _lit_books(self, symbol: str) -> list[_Book]:
        """The books behind :meth:`books`, in the same order, as levels (no views)."""
        out: list[_Book] = []
        for state in self._venues.values():
            if state.info.kind is VenueKind.LIT and state.status is VenueStatus.OPEN:
                book = state.books.get(symbol)
                if book is not None:
                    out.append(book)
        return out

    def mid(self, symbol: str) -> Decimal | None:
        """(best bid + best ask) / 2, exact (a half tick when the spread is odd); None when one-sided,
        locked or crossed — a crossed consolidated quote has no meaningful midpoint."""
        cached = self._mids.get(symbol)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        bid, ask = self.best_bid(symbol), self.best_ask(symbol)
        mid = None if bid is None or ask is None or bid >= ask else _EXACT.divide(_EXACT.add(bid, ask), 2)
        self._mids[symbol] = (self._version, mid)
        return mid

    @property
    def version(self) -> int:
        """Changes whenever a book, a venue's status or the tape may have changed."""
        return self._version

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
            bids = [Level(p, book.bids[p]) for p in book.ordered(True)]
            asks = [Level(p, book.asks[p]) for p in book.ordered(False)]
            book.view = VenueBook(venue, symbol, bids, asks, book.updated)
        return book.view

    def _request(self, req_id: str | None) -> tuple[list[str], int]:
        return self._requests.get(req_id or "", ([], 0))

    def _on_snapshot(self, state: _Venue, snapshot: BookSnapshot, now: float) -> None:
        symbols, depth = self._request(snapshot.req_id)
        symbol = snapshot.symbol or (symbols[0] if len(symbols) == 1 else None)
        if symbol is None:
            self.bad_messages += 1
            return
        if state.info.kind is VenueKind.DARK:
            return  # a dark venue has no book, whatever it sends
        state.last_update = now
        self.bad_entries += snapshot.bad_entries
        book = _Book(depth, updated=now)
        for level in snapshot.levels:
            if level.size:
                levels = book.side(level.side is MDEntryType.BID)
                levels[level.price] = levels.get(level.price, 0) + level.size
        book.truncate()
        state.books[symbol] = book
        for quote_listener in self.quote_listeners:
            quote_listener(symbol, now)

    def _on_increment(self, state: _Venue, increment: BookIncrement, now: float) -> None:
        symbols, _ = self._request(increment.req_id)
        only = symbols[0] if len(symbols) == 1 else None
        touched: set[str] = set()
        lit = state.info.kind is VenueKind.LIT
        if lit:
            state.last_update = now
        for change in increment.changes:
            symbol = change.symbol or only
            kind = change.kind
            if symbol is None or change.action is None or kind is None:
                self.bad_entries += 1  # no symbol, an unknown action or no side
            elif kind is BookChangeKind.TRADE:
                if change.action is MDUpdateAction.NEW:
                    if change.error is not None or change.price is None or change.size is None:
                        self.bad_entries += 1
                    else:
                        self._trade(state, symbol, change.price, change.size, now)
            elif kind in (BookChangeKind.BID, BookChangeKind.OFFER) and lit:
                if change.error is not None:
                    self.bad_entries += 1
                    continue
                book = state.books.get(symbol)
                if book is not None:
                    _apply(book, kind is BookChangeKind.BID, change.action, change.price, change.size, change.position)
                    touched.add(symbol)
        for name in touched:
            book = state.books[name]
            book.truncate()
            book.updated = now
            book.view = None
            for quote_listener in self.quote_listeners:
                quote_listener(name, now)

    def _trade(self, state: _Venue, symbol: str, price: Decimal, size: int, now: float) -> None:
        tape = self._tape.setdefault(symbol, _Tape())
        tape.volume += size
        tape.notional = _EXACT.add(tape.notional, _EXACT.multiply(price, Decimal(size)))
        tape.last = (price, size, now)
        state.volume[symbol] = state.volume.get(symbol, 0) + size
        for listener in self.trade_listeners:
            listener(symbol, price, size, now)


def _apply(book: _Book, bid: bool, action: MDUpdateAction, price: Decimal | None, size: int | None,
           position: int) -> None:
    levels = book.side(bid)
    if price is None:  # by position (Change or Delete)
        ordered = book.ordered(bid)
        if position > len(ordered):
            return  # nothing there: the venue's book and ours already agree it is gone
        price = ordered[position - 1]
    if action is MDUpdateAction.DELETE or not size:
        levels.pop(price, None)
    else:
        levels[price] = size
