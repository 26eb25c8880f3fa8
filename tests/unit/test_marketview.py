"""The consolidated market view: books rebuilt from real venue market data, status, trades, staleness.

Venue-side messages come from the real simulated venue (LitVenue over matching.OrderBook and its
MarketDataPublisher) and travel through the real codec (encode, then decode), so the market view
sees exactly what it would see on a FIX session.  Messages a standards-conforming venue could send
but the simulator does not are built by hand, through the same codec.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.types import Level, MarketView, VenueInfo, VenueKind, VenueStatus
from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.fix.fix44 import builtin_fix44
from metaorder.venues.marketdata import FULL_BOOK, MarketDataPublisher
from metaorder.venues.venue import Instrument, LitVenue, Outbound
from metaorder.venues.venue import VenueStatus as SimStatus
from tests.unit.venuesupport import ACME, LOTS, T0, cancel, new_order

ENGINE = "METAORDER"
VENUES = {
    "ATLX": VenueInfo("ATLX", VenueKind.LIT),
    "BORX": VenueInfo("BORX", VenueKind.LIT),
    "UMBRA": VenueInfo("UMBRA", VenueKind.DARK),
}


def wire(sender: str, msg_type: str, body: Sequence[tuple[int, FieldValue]]) -> Message:
    """A message as it arrives on a FIX session: encoded, then decoded by the real codec."""
    header: list[tuple[int, FieldValue]] = [(34, 1), (49, sender), (52, "20231114-22:13:20"), (56, ENGINE)]
    msg = decode(encode("FIX.4.4", msg_type, header, body))
    assert isinstance(msg, Message)
    return msg


class Feed:
    """One simulated lit venue publishing to a ConsolidatedMarket over (encoded, decoded) FIX."""

    def __init__(self, market: ConsolidatedMarket, name: str, depth: int = 0, now: float = T0,
                 instruments: Sequence[Instrument] = (ACME, LOTS), req_id: str = "md1") -> None:
        self.market = market
        self.name = name
        self.depth = depth
        self.venue = LitVenue(name, instruments)
        self.md = MarketDataPublisher(self.venue.books, self.venue.instruments)
        self.traded: dict[str, tuple[int, int]] = {}  # symbol -> (shares, Σ ticks·shares): the venue's tape
        self.orders = 0
        market.on_session(name, True, now)
        self.deliver([self.venue.session_status(ENGINE, now)], now)
        self.subscribe(req_id, now)

    def subscribe(self, req_id: str, now: float) -> None:
        body = self.market.subscription_request(req_id, list(self.venue.instruments), self.depth)
        out = self.md.on_request(ENGINE, wire(ENGINE, "V", body), now)
        assert [o.msg_type for o in out] == ["W"] * len(self.venue.instruments)
        self.deliver(out, now)

    def deliver(self, outs: Sequence[Outbound], now: float) -> None:
        for out in outs:
            if out.owner == ENGINE:
                self.market.on_message(self.name, wire(self.name, out.msg_type, out.body), now)

    def publish(self, now: float) -> None:
        trades = self.venue.take_trades()
        for symbol, ticks, qty in trades:
            shares, cost = self.traded.get(symbol, (0, 0))
            self.traded[symbol] = (shares + qty, cost + ticks * qty)
        self.deliver(self.md.publish(self.venue.changed_symbols(), trades, now), now)

    def limit(self, side: str, qty: int, price: str, now: float = T0, symbol: str = "ACME", owner: str = "A") -> str:
        self.orders += 1
        cl = f"o{self.orders}"
        self.venue.new_order(owner, new_order(cl, side, qty, price, symbol=symbol), now)
        self.publish(now)
        return cl

    def market_order(self, side: str, qty: int, now: float = T0, symbol: str = "ACME") -> None:
        self.orders += 1
        self.venue.new_order("B", new_order(f"m{self.orders}", side, qty, symbol=symbol), now)
        self.publish(now)

    def cancel(self, cl: str, side: str, now: float = T0, symbol: str = "ACME") -> None:
        self.orders += 1
        self.venue.cancel("A", cancel(f"c{self.orders}", cl, side=side, symbol=symbol), now)
        self.publish(now)

    def expected(self, symbol: str) -> tuple[list[Level], list[Level]]:
        """The venue's own book, top ``depth`` levels, as Levels with exact Decimal prices."""
        instrument = self.venue.instruments[symbol]
        bids, asks = self.venue.books[symbol].depth(self.depth or FULL_BOOK)
        return ([Level(instrument.to_price(p), q) for p, q, _ in bids],
                [Level(instrument.to_price(p), q) for p, q, _ in asks])

    def assert_rebuilt(self, step: object = None) -> None:
        for symbol in self.venue.instruments:
            book = self.market.book(self.name, symbol)
            assert book is not None, f"no {symbol} book after step {step}"
            assert (book.bids, book.asks) == self.expected(symbol), f"{symbol} after step {step}"
            assert all(type(lv.price) is Decimal and type(lv.size) is int for lv in book.bids + book.asks)


def price_for(instrument: Instrument, rng: random.Random) -> str:
    """A random price on the instrument's grid within ±2% of its reference (Decimal, never float)."""
    span = int(instrument.reference_price * Decimal("0.02") / instrument.tick_size)
    return str(instrument.reference_price + instrument.tick_size * rng.randint(-span, span))


def random_step(feed: Feed, rng: random.Random, live: list[tuple[str, str, str]], now: float) -> None:
    """An add (often crossing), a cancel, or a market order, on a random instrument."""
    instrument = rng.choice([ACME, LOTS])
    symbol, lot = instrument.symbol, instrument.lot_size
    roll = rng.random()
    if roll < 0.55:
        side = rng.choice("12")
        live.append((feed.limit(side, rng.randint(1, 8) * lot, price_for(instrument, rng), now, symbol), side, symbol))
    elif roll < 0.85 and live:
        cl, side, sym = live.pop(rng.randrange(len(live)))
        feed.cancel(cl, side, now, sym)
    else:
        feed.market_order(rng.choice("12"), rng.randint(1, 6) * lot, now, symbol)


def assert_tape(market: ConsolidatedMarket, feeds: Sequence[Feed]) -> None:
    """Volume and notional against the venues' own trade records, in integer ticks."""
    for instrument in (ACME, LOTS):
        symbol = instrument.symbol
        shares = sum(f.traded.get(symbol, (0, 0))[0] for f in feeds)
        cost = sum(f.traded.get(symbol, (0, 0))[1] for f in feeds)
        assert market.volume(symbol) == shares == sum(f.venue.books[symbol].traded_volume for f in feeds)
        assert market.notional(symbol) == instrument.to_price(cost)
        for f in feeds:
            assert market.venue_volume(f.name, symbol) == f.traded.get(symbol, (0, 0))[0]


# ---- the request ---------------------------------------------------------------------------------


def test_subscription_request_conforms_to_fix44_and_is_accepted_by_the_simulated_venue() -> None:
    market = ConsolidatedMarket(VENUES)
    body = market.subscription_request("md7", ["ACME", "LOTS"], depth=5)
    msg = wire(ENGINE, "V", body)
    assert builtin_fix44().validate(msg) is None
    assert (msg[262], msg[263], msg[264], msg[265]) == ("md7", "1", "5", "1")
    assert [v for t, v in msg.fields if t == 269] == ["0", "1", "2"]
    assert [v for t, v in msg.fields if t == 55] == ["ACME", "LOTS"]
    venue = LitVenue("ATLX", [ACME, LOTS])
    md = MarketDataPublisher(venue.books, venue.instruments)
    out = md.on_request(ENGINE, msg, T0)
    assert [o.msg_type for o in out] == ["W", "W"] and md.subscriptions == 1


def test_subscription_request_refuses_no_symbols_and_negative_depth() -> None:
    market = ConsolidatedMarket(VENUES)
    with pytest.raises(ValueError):
        market.subscription_request("r", [])
    with pytest.raises(ValueError):
        market.subscription_request("r", ["ACME"], depth=-1)


# ---- rebuilding books from the simulated venue -----------------------------------------------------


@pytest.mark.parametrize("depth", [0, 1, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_rebuilt_book_equals_the_venue_book_after_every_step(depth: int, seed: int) -> None:
    rng = random.Random(seed * 100 + depth)
    market = ConsolidatedMarket(VENUES)
    feed = Feed(market, "ATLX", depth)
    live: list[tuple[str, str, str]] = []
    for i in range(300):
        random_step(feed, rng, live, T0 + i)
        feed.assert_rebuilt(i)
        assert_tape(market, [feed])
    assert market.volume("ACME") > 0 and market.volume("LOTS") > 0  # the walk did cross the spread


@settings(max_examples=40, deadline=None)
@given(depth=st.sampled_from([0, 1, 2, 5]), seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 80))
def test_rebuilt_book_equals_the_venue_book_for_any_order_flow(depth: int, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    market = ConsolidatedMarket(VENUES)
    feed = Feed(market, "ATLX", depth)
    live: list[tuple[str, str, str]] = []
    for i in range(steps):
        random_step(feed, rng, live, T0 + i)
        feed.assert_rebuilt(i)
    assert_tape(market, [feed])


def test_a_book_records_when_it_last_changed_and_handed_out_books_never_change() -> None:
    market = ConsolidatedMarket(VENUES)
    feed = Feed(market, "ATLX")
    feed.limit("1", 100, "99.00", T0 + 1)
    before = market.book("ATLX", "ACME")
    assert before is not None and before.updated == T0 + 1
    feed.limit("1", 50, "99.50", T0 + 2)
    assert before.bids == [Level(Decimal("99.00"), 100)]
    after = market.book("ATLX", "ACME")
    assert after is not None and after.updated == T0 + 2
    assert after.bids == [Level(Decimal("99.50"), 50), Level(Decimal("99.00"), 100)]
    lots = market.book("ATLX", "LOTS")
    assert lots is not None and lots.updated == T0  # untouched since its snapshot


# ---- consolidation ---------------------------------------------------------------------------------


def two_venues() -> tuple[ConsolidatedMarket, Feed, Feed]:
    market = ConsolidatedMarket(VENUES)
    atlx, borx = Feed(market, "ATLX"), Feed(market, "BORX")
    atlx.limit("1", 100, "99.99")
    atlx.limit("2", 100, "100.03")
    borx.limit("1", 200, "100.00")
    borx.limit("2", 300, "100.01")
    return market, atlx, borx


def test_two_venues_consolidate_to_the_best_bid_and_ask_and_an_exact_half_tick_mid() -> None:
    market, _, _ = two_venues()
    view: MarketView = market
    assert [b.venue for b in view.books("ACME")] == ["ATLX", "BORX"]
    assert view.best_bid("ACME") == Decimal("100.00")
    assert view.best_ask("ACME") == Decimal("100.01")
    mid = view.mid("ACME")
    assert mid == Decimal("100.005") and str(mid) == "100.005"


def test_mid_of_an_even_spread_is_a_whole_tick() -> None:
    market = ConsolidatedMarket(VENUES)
    feed = Feed(market, "ATLX")
    feed.limit("1", 100, "100.00")
    feed.limit("2", 100, "100.02")
    assert market.mid("ACME") == Decimal("100.01")


def test_mid_is_none_when_one_sided_locked_or_crossed_across_venues() -> None:
    market = ConsolidatedMarket(VENUES)
    atlx, borx = Feed(market, "ATLX"), Feed(market, "BORX")
    atlx.limit("1", 100, "100.00")
    assert market.best_bid("ACME") == Decimal("100.00") and market.mid("ACME") is None  # one-sided
    borx.limit("2", 100, "100.00")
    assert market.best_ask("ACME") == Decimal("100.00") and market.mid("ACME") is None  # locked
    atlx.limit("1", 100, "100.01")
    assert market.best_bid("ACME") == Decimal("100.01") and market.mid("ACME") is None  # crossed


def test_an_empty_market_has_no_quote_volume_or_vwap() -> None:
    market = ConsolidatedMarket(VENUES)
    assert market.books("ACME") == []
    assert (market.best_bid("ACME"), market.best_ask("ACME"), market.mid("ACME")) == (None, None, None)
    assert (market.volume("ACME"), market.vwap("ACME"), market.last_trade("ACME")) == (0, None, None)


# ---- trades ------------------------------------------------------------------------------------------


def test_volume_and_vwap_across_venues_are_exact() -> None:
    market = ConsolidatedMarket(VENUES)
    atlx, borx = Feed(market, "ATLX"), Feed(market, "BORX")
    atlx.limit("2", 100, "100.00", T0 + 1)
    atlx.limit("1", 100, "100.00", T0 + 1, owner="B")
    borx.limit("2", 300, "100.04", T0 + 2)
    borx.market_order("1", 300, T0 + 2)
    assert market.volume("ACME") == 400
    assert (market.venue_volume("ATLX", "ACME"), market.venue_volume("BORX", "ACME")) == (100, 300)
    assert market.vwap("ACME") == Decimal("100.03")  # (100·100.00 + 300·100.04) / 400
    assert market.last_trade("ACME") == (Decimal("100.04"), 300, T0 + 2)
    assert market.volume("LOTS") == 0 and market.vwap("LOTS") is None


def test_notional_stays_exact_when_the_vwap_does_not_terminate() -> None:
    market = ConsolidatedMarket(VENUES)
    feed = Feed(market, "ATLX")
    feed.limit("2", 1, "100.00")
    feed.limit("2", 2, "100.01")
    feed.market_order("1", 3)
    assert market.notional("ACME") == Decimal("300.02")
    vwap = market.vwap("ACME")
    assert vwap is not None and abs(vwap * 3 - Decimal("300.02")) < Decimal("1e-20")


# ---- trading status, sessions, staleness -----------------------------------------------------------


@pytest.mark.parametrize(("sim_status", "status"), [(SimStatus.HALTED, VenueStatus.HALTED),
                                                   (SimStatus.CLOSED, VenueStatus.CLOSED)])
def test_a_halted_or_closed_venue_drops_out_of_books_and_the_quote_until_it_reopens(
    sim_status: SimStatus, status: VenueStatus
) -> None:
    market, _, borx = two_venues()
    borx.deliver(borx.venue.set_status(sim_status, [ENGINE], T0 + 1), T0 + 1)
    assert market.status("BORX") is status
    assert [b.venue for b in market.books("ACME")] == ["ATLX"]
    assert (market.best_bid("ACME"), market.best_ask("ACME")) == (Decimal("99.99"), Decimal("100.03"))
    assert market.book("BORX", "ACME") is not None  # still known, just not usable
    borx.deliver(borx.venue.set_status(SimStatus.OPEN, [ENGINE], T0 + 2), T0 + 2)
    assert market.status("BORX") is VenueStatus.OPEN
    assert market.best_bid("ACME") == Decimal("100.00")


@pytest.mark.parametrize(("value", "status"), [("4", VenueStatus.CLOSED), ("5", VenueStatus.CLOSED),
                                               ("6", VenueStatus.OPEN), ("0", VenueStatus.OPEN),
                                               ("9", VenueStatus.OPEN)])
def test_trading_session_status_values_beyond_open_halted_closed(value: str, status: VenueStatus) -> None:
    market = ConsolidatedMarket(VENUES)
    market.on_session("ATLX", True, T0)
    market.on_message("ATLX", wire("ATLX", "h", [(336, "ATLX"), (340, value)]), T0)
    assert market.status("ATLX") is status


def test_disconnect_clears_books_and_reconnect_needs_a_new_snapshot() -> None:
    market, _, borx = two_venues()
    market.on_session("BORX", False, T0 + 1)
    borx.md.drop_owner(ENGINE)  # what the venue's server does when the session drops
    assert market.status("BORX") is VenueStatus.DISCONNECTED
    assert market.book("BORX", "ACME") is None and market.best_bid("ACME") == Decimal("99.99")
    assert market.stale("BORX", T0 + 1, 60)
    borx.limit("2", 150, "100.00", T0 + 2)  # the market moves while we are away: 150 of the 200 bid trade
    late = wire("BORX", "W", [(262, "md1"), (55, "ACME"), (268, 1), (269, "0"), (270, "1.00"), (271, 1)])
    market.on_message("BORX", late, T0 + 2)
    assert market.book("BORX", "ACME") is None  # nothing arrives on a session that is down
    market.on_session("BORX", True, T0 + 3)
    assert market.status("BORX") is VenueStatus.OPEN
    increment = wire("BORX", "X", [(262, "md1"), (268, 1), (279, "0"), (269, "0"), (55, "ACME"),
                                   (270, "100.02"), (271, 100)])
    market.on_message("BORX", increment, T0 + 3)
    assert market.book("BORX", "ACME") is None and market.books("ACME")[0].venue == "ATLX"
    borx.subscribe("md2", T0 + 4)
    borx.assert_rebuilt("resubscribed")
    book = market.book("BORX", "ACME")
    assert book is not None and book.bids == [Level(Decimal("100.00"), 50)]
    assert market.volume("ACME") == 0  # a trade while we were away was never seen
    assert market.best_bid("ACME") == Decimal("100.00") and [b.venue for b in market.books("ACME")] == ["ATLX", "BORX"]


def test_stale_follows_the_injected_time_of_the_last_market_data() -> None:
    market = ConsolidatedMarket(VENUES)
    assert market.stale("ATLX", T0, 5) and market.last_update("ATLX") is None  # never connected
    market.on_session("ATLX", True, T0)
    assert market.stale("ATLX", T0, 5)  # connected, no snapshot yet
    feed = Feed(market, "ATLX", now=T0 + 10)
    assert market.last_update("ATLX") == T0 + 10
    assert not market.stale("ATLX", T0 + 15, 5)
    assert market.stale("ATLX", T0 + 15.5, 5)
    feed.limit("1", 100, "99.00", T0 + 20)
    assert market.last_update("ATLX") == T0 + 20 and not market.stale("ATLX", T0 + 21, 5)


def test_a_dark_venue_has_a_status_but_never_a_book() -> None:
    market, _, _ = two_venues()
    assert market.status("UMBRA") is VenueStatus.DISCONNECTED
    market.on_session("UMBRA", True, T0)
    assert market.status("UMBRA") is VenueStatus.OPEN and not market.stale("UMBRA", T0 + 1000, 5)
    market.on_message("UMBRA", wire("UMBRA", "W", [(262, "d"), (55, "ACME"), (268, 1), (269, "0"),
                                                   (270, "101.00"), (271, 100)]), T0)
    assert market.book("UMBRA", "ACME") is None
    assert "UMBRA" not in [b.venue for b in market.books("ACME")] and market.best_bid("ACME") == Decimal("100.00")
    market.on_message("UMBRA", wire("UMBRA", "h", [(336, "UMBRA"), (340, "1")]), T0)
    assert market.status("UMBRA") is VenueStatus.HALTED
    market.on_session("UMBRA", False, T0)
    assert market.status("UMBRA") is VenueStatus.DISCONNECTED and market.stale("UMBRA", T0, 5)


def test_unknown_venues_are_a_wiring_error() -> None:
    market = ConsolidatedMarket(VENUES)
    with pytest.raises(KeyError):
        market.on_session("NOPE", True, T0)
    with pytest.raises(KeyError):
        market.status("NOPE")
    assert market.book("NOPE", "ACME") is None


# ---- rejects and malformed input ---------------------------------------------------------------------


def test_a_market_data_request_reject_is_recorded_for_its_venue_only() -> None:
    market, atlx, borx = two_venues()
    body = market.subscription_request("bad", ["NOPE"])
    [reject] = atlx.md.on_request(ENGINE, wire(ENGINE, "V", body), T0 + 1)
    atlx.deliver([reject], T0 + 1)
    got = market.reject("ATLX")
    assert got is not None
    assert (got.req_id, got.reason, got.time) == ("bad", "0", T0 + 1) and "NOPE" in got.text
    assert market.reject("BORX") is None
    borx.assert_rebuilt("after ATLX's reject")
    atlx.assert_rebuilt("after its own reject")
    [dup] = atlx.md.on_request(ENGINE, wire(ENGINE, "V", market.subscription_request("md1", ["ACME"])), T0 + 2)
    atlx.deliver([dup], T0 + 2)
    got = market.reject("ATLX")
    assert got is not None and got.reason == "1"
    atlx.limit("1", 10, "99.98", T0 + 3)  # the first subscription still works
    atlx.assert_rebuilt("after a duplicate request was rejected")


def snapshot(entries: list[list[tuple[int, FieldValue]]], req_id: str = "s", symbol: str | None = "ACME",
             venue: str = "ATLX") -> Message:
    body: list[tuple[int, FieldValue]] = [(262, req_id)]
    if symbol is not None:
        body += [(55, symbol), (48, "US0000000001"), (22, "4")]
    body.append((268, len(entries)))
    for entry in entries:
        body += entry
    return wire(venue, "W", body)


def increment(entries: list[list[tuple[int, FieldValue]]], req_id: str = "s", venue: str = "ATLX") -> Message:
    body: list[tuple[int, FieldValue]] = [(262, req_id), (268, len(entries))]
    for entry in entries:
        body += entry
    return wire(venue, "X", body)


def connected() -> ConsolidatedMarket:
    market = ConsolidatedMarket(VENUES)
    market.on_session("ATLX", True, T0)
    return market


def levels(market: ConsolidatedMarket, symbol: str = "ACME") -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    book = market.book("ATLX", symbol)
    assert book is not None
    return [(str(lv.price), lv.size) for lv in book.bids], [(str(lv.price), lv.size) for lv in book.asks]


def test_malformed_entries_are_skipped_and_counted_and_the_rest_applies() -> None:
    market = connected()
    market.on_message("ATLX", snapshot([
        [(269, "0"), (270, "99.00"), (271, 100)],
        [(269, "0"), (270, "abc"), (271, 100)],
        [(269, "1"), (270, "NaN"), (271, 100)],
        [(269, "1"), (270, "1E+2"), (271, 100)],
        [(269, "1"), (270, "101.00"), (271, "100.5")],
        [(269, "1"), (270, "101.25"), (271, "-5")],
        [(269, "1"), (270, "101.50"), (271, "200.0")],
    ]), T0)
    assert market.bad_entries == 5
    assert levels(market) == ([("99.00", 100)], [("101.50", 200)])
    market.on_message("ATLX", increment([
        [(279, "0"), (269, "0"), (55, "ACME"), (270, "99.50"), (271, 10)],
        [(279, "1"), (269, "1"), (55, "ACME"), (270, "--1"), (271, 10)],
        [(279, "7"), (269, "1"), (55, "ACME"), (270, "101.50"), (271, 10)],
        [(279, "0"), (55, "ACME"), (270, "101.50"), (271, 10)],
        [(279, "0"), (269, "2"), (55, "ACME"), (270, "oops"), (271, 10)],
        [(279, "0"), (269, "2"), (55, "ACME"), (270, "99.75"), (271, 0)],
        [(279, "2"), (269, "0"), (55, "ACME"), (270, "99.00")],
    ]), T0 + 1)
    assert market.bad_entries == 10
    assert levels(market) == ([("99.50", 10)], [("101.50", 200)])
    assert market.volume("ACME") == 0


def test_a_snapshot_whose_symbol_cannot_be_told_is_skipped_whole() -> None:
    market = connected()
    market.on_message("ATLX", snapshot([[(269, "0"), (270, "99.00"), (271, 100)]], symbol=None), T0)
    assert market.bad_messages == 1 and market.book("ATLX", "ACME") is None


def test_a_standards_conforming_venue_with_positions_decimal_sizes_and_order_level_snapshots() -> None:
    market = connected()
    market.subscription_request("std", ["ACME"])
    market.on_message("ATLX", snapshot([
        [(269, "0"), (270, "99.00"), (271, "100.0"), (272, "20231114"), (273, "22:13:20"), (290, 1)],
        [(269, "0"), (270, "98.50"), (271, "40"), (290, 2)],
        [(269, "0"), (270, "98.50"), (271, "60"), (290, 2)],  # one entry per order: summed
        [(269, "1"), (270, "101"), (271, "300"), (346, 3), (290, 1)],
        [(269, "2"), (270, "100.00"), (271, "500")],  # the last trade: history, not new volume
        [(269, "4"), (270, "99.70")],  # opening price: not a book entry
    ], req_id="std"), T0)
    assert market.bad_entries == 0 and market.volume("ACME") == 0
    assert levels(market) == ([("99.00", 100), ("98.50", 100)], [("101", 300)])
    market.on_message("ATLX", increment([
        [(279, "2"), (269, "0"), (55, "ACME"), (290, 2)],  # delete by position, no price
        [(279, "1"), (269, "1"), (290, 1), (271, "250.00")],  # change by position, symbol from the entry before
        [(279, "0"), (269, "2"), (270, "100.10"), (271, "75.0")],
        [(279, "2"), (285, "0"), (269, "2"), (270, "100.10"), (271, "75")],  # a bust: no trade id to match
    ], req_id="std"), T0 + 1)
    market.on_message("ATLX", increment([  # no Symbol at all: the request had one symbol
        [(279, "0"), (269, "1"), (270, "100.90"), (271, 10), (290, 1)],
    ], req_id="std"), T0 + 2)
    assert market.bad_entries == 0
    assert levels(market) == ([("99.00", 100)], [("100.90", 10), ("101", 250)])
    assert market.last_trade("ACME") == (Decimal("100.10"), 75, T0 + 1) and market.volume("ACME") == 75


def test_a_depth_limited_book_drops_levels_pushed_below_its_depth_without_a_delete() -> None:
    market = connected()
    market.subscription_request("d2", ["ACME"], depth=2)
    market.on_message("ATLX", snapshot([[(269, "0"), (270, "99.00"), (271, 1)], [(269, "0"), (270, "98.00"), (271, 2)],
                                        [(269, "0"), (270, "97.00"), (271, 4)]], req_id="d2"), T0)
    assert levels(market) == ([("99.00", 1), ("98.00", 2)], [])  # deeper than asked for: cut
    market.on_message("ATLX", increment([[(279, "0"), (269, "0"), (55, "ACME"), (270, "99.50"), (271, 3)]],
                                        req_id="d2"), T0 + 1)
    assert levels(market) == ([("99.50", 3), ("99.00", 1)], [])


def test_an_increment_entry_for_a_symbol_without_snapshot_is_ignored_but_its_trades_count() -> None:
    market = connected()
    market.on_message("ATLX", snapshot([[(269, "0"), (270, "99.00"), (271, 100)]]), T0)
    market.on_message("ATLX", increment([
        [(279, "0"), (269, "0"), (55, "LOTS"), (270, "20.00"), (271, 100)],
        [(279, "0"), (269, "2"), (55, "LOTS"), (270, "20.05"), (271, 200)],
    ]), T0 + 1)
    assert market.book("ATLX", "LOTS") is None and market.bad_entries == 0
    assert market.volume("LOTS") == 200 and market.vwap("LOTS") == Decimal("20.05")


def fresh_mid(market: ConsolidatedMarket, symbol: str) -> Decimal | None:
    bid, ask = market.best_bid(symbol), market.best_ask(symbol)
    return None if bid is None or ask is None or bid >= ask else (bid + ask) / 2


@pytest.mark.parametrize("seed", range(5))
def test_the_cached_mid_is_always_the_mid_of_the_books_as_they_are_now(seed: int) -> None:
    # The mid is remembered between book changes (it is asked once per client order): every change
    # of a book, a session or a status must forget it.
    rng = random.Random(seed)
    market = ConsolidatedMarket(VENUES)
    feeds = [Feed(market, "ATLX"), Feed(market, "BORX")]
    lives: list[list[tuple[str, str, str]]] = [[], []]
    for i in range(300):
        n = rng.randrange(2)
        if rng.random() < 0.03:
            market.on_session(feeds[n].name, False, T0 + i)
            feeds[n].md.drop_owner(ENGINE)
            market.on_session(feeds[n].name, True, T0 + i)
            feeds[n].subscribe(f"md{i}", T0 + i)
        else:
            random_step(feeds[n], rng, lives[n], T0 + i)
        assert market.mid("ACME") == fresh_mid(market, "ACME"), i
        assert market.mid("ACME") == fresh_mid(market, "ACME"), i  # asked again, unchanged: the same
