"""Market data over FIX for a simulated lit venue, as sans-IO code.

MarketDataRequest (V) → MarketDataSnapshotFullRefresh (W), then MarketDataIncrementalRefresh (X)
after every change; 263=2 unsubscribes; MarketDataRequestReject (Y) for an unknown symbol or an
unsupported request.

Each subscription keeps the view its subscriber was sent (top ``MarketDepth`` price levels per side)
and each increment is the difference between that view and the book now: levels entering the window
are ``New``, changed sizes ``Change``, levels leaving it ``Delete``.  So a client that applies the
increments to the snapshot always holds exactly what a fresh snapshot would show — including when a
deeper level moves into a depth-limited window.  Trades are sent as entries of type 2.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from metaorder.fix.codec import FieldValue, Message
from metaorder.venues.matching import OrderBook
from metaorder.venues.model import Side
from metaorder.venues.venue import Fields, Instrument, Outbound

FULL_BOOK = 1000  # MarketDepth 0 means the full book; deeper than any simulated book gets

# MDReqRejReason (281)
UNKNOWN_SYMBOL = "0"
DUPLICATE_REQ_ID = "1"
UNSUPPORTED_SUBSCRIPTION = "4"
UNSUPPORTED_DEPTH = "5"
UNSUPPORTED_ENTRY_TYPE = "8"

View = tuple[dict[int, int], dict[int, int]]  # (bids, asks): price ticks -> size


@dataclass(slots=True)
class Subscription:
    owner: str
    req_id: str
    symbols: list[str]
    depth: int
    books: bool  # bids/offers requested
    trades: bool
    views: dict[str, View] = field(default_factory=dict)


class MarketDataPublisher:
    def __init__(self, books: Mapping[str, OrderBook], instruments: Mapping[str, Instrument]) -> None:
        self.books = books
        self.instruments = instruments
        self._subs: dict[tuple[str, str], Subscription] = {}

    @property
    def subscriptions(self) -> int:
        return len(self._subs)

    def on_request(self, owner: str, msg: Message, now: float) -> list[Outbound]:
        req_id = msg.get(262) or ""
        kind = msg.get(263) or ""
        if kind == "2":
            self._subs.pop((owner, req_id), None)
            return []
        depth_text = msg.get(264) or "0"
        symbols = [v for t, v in msg.fields if t == 55]
        entry_types = {v for t, v in msg.fields if t == 269}
        problem = None
        if kind not in ("0", "1"):
            problem = (UNSUPPORTED_SUBSCRIPTION, f"SubscriptionRequestType {kind!r} is not supported")
        elif not depth_text.isdigit():
            problem = (UNSUPPORTED_DEPTH, f"MarketDepth {depth_text!r} is not supported")
        elif not symbols:
            problem = (UNKNOWN_SYMBOL, "no symbol requested")
        elif entry_types - {"0", "1", "2"}:
            problem = (UNSUPPORTED_ENTRY_TYPE, f"MDEntryType {sorted(entry_types - {'0', '1', '2'})} not supported")
        elif kind == "1" and (owner, req_id) in self._subs:
            problem = (DUPLICATE_REQ_ID, f"MDReqID {req_id!r} is already subscribed")
        else:
            unknown = [s for s in symbols if s not in self.books]
            if unknown:
                problem = (UNKNOWN_SYMBOL, f"unknown symbol {unknown[0]!r}")
        if problem is not None:
            return [Outbound(owner, "Y", [(262, req_id), (281, problem[0]), (58, problem[1])], now)]
        depth = int(depth_text) or FULL_BOOK
        sub = Subscription(owner, req_id, symbols, depth, not entry_types or bool(entry_types & {"0", "1"}),
                           not entry_types or "2" in entry_types)
        out = []
        for symbol in symbols:
            view = self._top(symbol, depth) if sub.books else ({}, {})
            sub.views[symbol] = view
            out.append(Outbound(owner, "W", self._snapshot(req_id, symbol, view), now))
        if kind == "1":
            self._subs[(owner, req_id)] = sub
        return out

    def drop_owner(self, owner: str) -> None:
        for key in [k for k in self._subs if k[0] == owner]:
            del self._subs[key]

    def publish(self, changed: Sequence[str], trades: Sequence[tuple[str, int, int]], now: float) -> list[Outbound]:
        """Increments for the symbols whose book changed, and the trades, to every subscriber."""
        if not self._subs or not (changed or trades):
            return []
        return self._publish(dict.fromkeys(changed), trades, now)

    def publish_changes(self, trades: Sequence[tuple[str, int, int]], now: float) -> list[Outbound]:
        """:meth:`publish` for what changed in the books since the last call (taken from them) and
        ``trades``: the same increments, computed from the levels the books say were touched
        instead of comparing whole views (the simulation publishes after every step)."""
        changed: dict[str, tuple[set[int], set[int]] | None] = {}
        for symbol, book in self.books.items():
            if book.has_changes:
                changed[symbol] = book.take_changed_prices()
        if not self._subs or not (changed or trades):
            return []
        return self._publish(changed, trades, now)

    def _publish(self, changed_set: Mapping[str, tuple[set[int], set[int]] | None],
                 trades: Sequence[tuple[str, int, int]], now: float) -> list[Outbound]:
        trades_by_symbol: dict[str, list[tuple[int, int]]] = {}
        for symbol, price, qty in trades:
            trades_by_symbol.setdefault(symbol, []).append((price, qty))
        out: list[Outbound] = []
        for sub in self._subs.values():
            entries: list[Fields] = []
            for symbol in sub.symbols:
                if sub.books and symbol in changed_set:
                    touched = changed_set[symbol]
                    if touched is None or not self._diff_touched(sub, symbol, touched, entries):
                        entries += self._diff(sub, symbol)
                if sub.trades:
                    for price, qty in trades_by_symbol.get(symbol, ()):
                        entries.append([(279, "0"), (269, "2"), (55, symbol), (270, self._px(symbol, price)),
                                        (271, qty)])
            if entries:
                body: Fields = [(262, sub.req_id), (268, len(entries))]
                for entry in entries:
                    body += entry
                out.append(Outbound(sub.owner, "X", body, now))
        return out

    # ---- internals ---------------------------------------------------------------------------

    def _px(self, symbol: str, ticks: int) -> FieldValue:
        return self.instruments[symbol].to_price(ticks)

    def _top(self, symbol: str, depth: int) -> View:
        bids, asks = self.books[symbol].depth(depth)
        return {p: q for p, q, _ in bids}, {p: q for p, q, _ in asks}

    def _snapshot(self, req_id: str, symbol: str, view: View) -> Fields:
        bids, asks = view
        entries: list[Fields] = []
        for entry_type, levels, reverse in (("0", bids, True), ("1", asks, False)):
            for price in sorted(levels, reverse=reverse):
                entries.append([(269, entry_type), (270, self._px(symbol, price)), (271, levels[price])])
        body: Fields = [(262, req_id), (55, symbol), (268, len(entries))]
        for entry in entries:
            body += entry
        return body

    def _diff_touched(self, sub: Subscription, symbol: str, touched: tuple[set[int], set[int]],
                      entries: list[Fields]) -> bool:
        """:meth:`_diff` when only the ``touched`` (bid, ask) prices can have changed and the view
        holds every level of the book, before and after (fewer than ``sub.depth`` before, at most
        that many now): then the view's change is the touched levels' and nothing enters or leaves
        the window otherwise.  Appends the same entries in the same order as :meth:`_diff`, updates
        the view and returns True; returns False (nothing done) when the window may be truncated."""
        book = self.books[symbol]
        view = sub.views[symbol]
        depth = sub.depth
        bid_levels, ask_levels = book.level_counts()
        if not (len(view[0]) < depth and len(view[1]) < depth and bid_levels <= depth and ask_levels <= depth):
            return False
        for entry_type, old, prices, side in (("0", view[0], touched[0], Side.BUY), ("1", view[1], touched[1],
                                                                                     Side.SELL)):
            if not prices:
                continue
            ordered = sorted(prices)
            now_qty = {price: book.level_qty(side, price) for price in ordered}
            for price in ordered:
                if not now_qty[price] and price in old:
                    entries.append([(279, "2"), (269, entry_type), (55, symbol), (270, self._px(symbol, price))])
            for price in ordered:
                size = now_qty[price]
                if not size:
                    old.pop(price, None)
                    continue
                before = old.get(price)
                if before is None:
                    entries.append([(279, "0"), (269, entry_type), (55, symbol), (270, self._px(symbol, price)),
                                    (271, size)])
                elif before != size:
                    entries.append([(279, "1"), (269, entry_type), (55, symbol), (270, self._px(symbol, price)),
                                    (271, size)])
                old[price] = size
        return True

    def _diff(self, sub: Subscription, symbol: str) -> list[Fields]:
        new_view = self._top(symbol, sub.depth)
        old_view = sub.views[symbol]
        sub.views[symbol] = new_view
        entries: list[Fields] = []
        for entry_type, old, new in (("0", old_view[0], new_view[0]), ("1", old_view[1], new_view[1])):
            for price in sorted(old.keys() - new.keys()):
                entries.append([(279, "2"), (269, entry_type), (55, symbol), (270, self._px(symbol, price))])
            for price in sorted(new):
                size = new[price]
                before = old.get(price)
                if before is None:
                    entries.append([(279, "0"), (269, entry_type), (55, symbol), (270, self._px(symbol, price)),
                                    (271, size)])
                elif before != size:
                    entries.append([(279, "1"), (269, entry_type), (55, symbol), (270, self._px(symbol, price)),
                                    (271, size)])
        return entries
