"""The shortcuts taken for the lab's speed (issue 17) change nothing anyone can see.

Every step of the in-process simulation asks each dark pool whether the lit quote lets something
cross and each lit venue what changed in its books.  Most steps change nothing, so those answers
take shortcuts: a pool in which nothing can trade is not asked, market-data increments are computed
from the levels the book says were touched instead of comparing whole views, the consolidated quote
reads the books' best prices directly.  On the engine's side the market view remembers its list of
books until the next change and reads best prices from the levels.  Each test drives the shortcut
and the long way side by side through random steps and requires the same messages, in the same
order, and the same state.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from metaorder.clock import VirtualClock
from metaorder.config import load_venues_config
from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.types import VenueKind, VenueStatus
from metaorder.fix.codec import Message
from metaorder.venues.dark import DarkPool
from metaorder.venues.marketdata import MarketDataPublisher
from metaorder.venues.runtime import SimulatedVenues
from metaorder.venues.venue import DarkVenue, LitVenue, Outbound
from metaorder.venues.venue import VenueStatus as SimStatus
from tests.unit.test_marketview import ENGINE, VENUES, Feed, random_step
from tests.unit.venuesupport import ACME, LOTS, T0, cancel, fix, new_order, replace

LAB_VENUES = Path(__file__).resolve().parents[2] / "configs" / "lab-venues.toml"


class AlwaysAsked(DarkPool):
    """A pool that never says it is quiet: the venue asks it at every step, as before the shortcut."""

    def quiet_at(self, now: float, quotes: Callable[[str], tuple[int | None, int | None]], symbol: str) -> bool:
        return False


def dark_venue(pool_class: type[DarkPool], quote: dict[str, tuple[int | None, int | None]]) -> DarkVenue:
    pools = {"ACME": pool_class("ACME", random.Random(5), 0.5, 300, 0.8, T0, 4.0, random.Random(6))}
    venue = DarkVenue("UMBRA", [ACME], pools)
    venue.quotes = lambda symbol: quote[symbol]
    return venue


def md_request(req_id: str, symbols: list[str], depth: int) -> Message:
    """A MarketDataRequest for bids, offers and trades, snapshot then increments."""
    return fix("V", [(262, req_id), (263, "1"), (264, depth), (267, 3), (269, "0"), (269, "1"), (269, "2"),
                     (146, len(symbols)), *[(55, s) for s in symbols]])


def wire(out: list[Outbound]) -> list[tuple[str, str, list[tuple[int, object]], float]]:
    return [(o.owner, o.msg_type, list(o.body), o.due) for o in out]


@pytest.mark.parametrize("seed", range(6))
def test_a_dark_pool_left_alone_when_nothing_can_cross_reports_what_one_asked_every_step_reports(seed: int) -> None:
    rng = random.Random(seed)
    quote: dict[str, tuple[int | None, int | None]] = {"ACME": (9990, 10010)}
    fast, slow = dark_venue(DarkPool, quote), dark_venue(AlwaysAsked, quote)
    now = T0
    live: list[str] = []
    for i in range(600):
        now += rng.expovariate(1.0)
        roll = rng.random()
        if roll < 0.3:  # the lit quote moves (sometimes one-sided, locked or back where it was)
            bid = rng.choice([None, *range(9980, 10001, 2)])
            quote["ACME"] = (bid, rng.choice([None, bid or 9990, *range(10000, 10021, 2)]))
        elif roll < 0.55:
            cl = f"o{i}"
            message = new_order(cl, rng.choice("12"), rng.randint(1, 8) * 50,
                                rng.choice([None, f"{99.9 + rng.randint(0, 20) / 100:.2f}"]),
                                tif=rng.choice("03"))
            assert wire(fast.new_order("A", message, now)) == wire(slow.new_order("A", message, now))
            live.append(cl)
        elif roll < 0.65 and live:
            message = cancel(f"c{i}", live.pop(rng.randrange(len(live))))
            assert wire(fast.cancel("A", message, now)) == wire(slow.cancel("A", message, now))
        assert wire(fast.on_time(now)) == wire(slow.on_time(now)), f"step {i}"
        assert [o.order_id for o in fast.pools["ACME"].resting()] == [o.order_id for o in slow.pools["ACME"].resting()]
    # The pool left alone expires resting contra lazily: at the next entry, the same as the other's.
    for venue in (fast, slow):
        venue.pools["ACME"].on_quote(*quote["ACME"], now)
        venue.pools["ACME"]._check()
    assert fast.pools["ACME"].resting_contra() == slow.pools["ACME"].resting_contra()


def random_request(rng: random.Random, i: int, live: list[tuple[str, str, str]]) -> tuple[str, str, Message]:
    """(method, owner, message): a random order-entry request to a lit venue trading ACME and LOTS."""
    symbol = rng.choice(["ACME", "LOTS"])
    tick, lot, ref = (0.01, 1, 100) if symbol == "ACME" else (0.05, 100, 20)
    roll = rng.random()
    if roll < 0.45 or not live:
        cl, side = f"o{i}", rng.choice("12")
        live.append((cl, side, symbol))
        return "new_order", "A", new_order(cl, side, rng.randint(1, 6) * 10 * lot,
                                           f"{ref + rng.randint(-12, 12) * tick:.2f}", symbol=symbol)
    if roll < 0.7:
        cl, side, symbol = live.pop(rng.randrange(len(live)))
        return "cancel", "A", cancel(f"c{i}", cl, side, symbol)
    if roll < 0.8:
        cl, side, symbol = live[rng.randrange(len(live))]
        tick, lot, ref = (0.01, 1, 100) if symbol == "ACME" else (0.05, 100, 20)
        return "replace", "A", replace(f"r{i}", cl, side, rng.randint(1, 6) * 10 * lot,
                                       f"{ref + rng.randint(-12, 12) * tick:.2f}", symbol)
    return "new_order", "B", new_order(f"m{i}", rng.choice("12"), rng.randint(1, 9) * 10 * lot, symbol=symbol)


@pytest.mark.parametrize("depth", [0, 2])
def test_increments_from_the_touched_levels_are_those_of_comparing_whole_views(depth: int) -> None:
    rng = random.Random(depth)
    venues = [LitVenue("ATLX", [ACME, LOTS]) for _ in range(2)]
    publishers = [MarketDataPublisher(v.books, v.instruments) for v in venues]
    for md in publishers:
        md.on_request("C", md_request("r", ["ACME", "LOTS"], depth), T0)
        md.on_request("D", md_request("s", ["ACME"], 0), T0)
    live: list[tuple[str, str, str]] = []
    for i in range(500):
        method, owner, message = random_request(rng, i, live)
        for venue in venues:
            getattr(venue, method)(owner, message, T0)
        if rng.random() < 0.6:  # publish after some steps only: changes pile up in between
            shortcut = publishers[0].publish_changes(venues[0].take_trades(), T0)
            whole = publishers[1].publish(venues[1].changed_symbols(), venues[1].take_trades(), T0)
            assert wire(shortcut) == wire(whole), f"step {i}"


def test_the_consolidated_quote_is_the_best_of_the_lit_books_after_every_step() -> None:
    config = load_venues_config(LAB_VENUES)
    clock = VirtualClock(T0)
    sim = SimulatedVenues.build(config, clock, T0)
    rng = random.Random(3)
    symbols = [i.symbol for i in config.instrument]
    for _ in range(400):
        clock.jump_to(clock.now() + rng.expovariate(4.0))
        sim.step(clock.now(), lambda venue, out: None)
        for symbol in symbols:
            bids = [q[0] for v in sim.lit if symbol in v.books and (q := v.books[symbol].best_bid())]
            asks = [q[0] for v in sim.lit if symbol in v.books and (q := v.books[symbol].best_ask())]
            expected = (max(bids) if bids else None, min(asks) if asks else None)
            assert sim.consolidated_quote(symbol) == expected


def test_a_step_with_nothing_due_hands_nothing_over() -> None:
    config = load_venues_config(LAB_VENUES)
    clock = VirtualClock(T0)
    sim = SimulatedVenues.build(config, clock, T0)
    handed: list[tuple[str, list[Outbound]]] = []
    sim.step(T0, lambda venue, out: handed.append((venue, list(out))))
    assert sim.market.due(T0) is False
    handed.clear()
    assert sim.step(T0, lambda venue, out: handed.append((venue, list(out)))) == []
    assert handed == []


@pytest.mark.parametrize("seed", range(4))
def test_the_market_views_remembered_books_and_best_prices_are_those_of_the_books_now(seed: int) -> None:
    # books() is remembered until the next change and the best prices are read from the levels:
    # after every step, both must be what walking every venue's current view gives.
    rng = random.Random(seed)
    market = ConsolidatedMarket(VENUES)
    feeds = [Feed(market, "ATLX"), Feed(market, "BORX")]
    lives: list[list[tuple[str, str, str]]] = [[], []]
    for i in range(300):
        n = rng.randrange(2)
        roll = rng.random()
        if roll < 0.03:
            market.on_session(feeds[n].name, False, T0 + i)
            feeds[n].md.drop_owner(ENGINE)
            market.on_session(feeds[n].name, True, T0 + i)
            feeds[n].subscribe(f"md{i}", T0 + i)
        elif roll < 0.06:
            status = rng.choice([SimStatus.HALTED, SimStatus.OPEN])
            feeds[n].deliver(feeds[n].venue.set_status(status, [ENGINE], T0 + i), T0 + i)
        else:
            random_step(feeds[n], rng, lives[n], T0 + i)
        for symbol in ("ACME", "LOTS"):
            fresh = [book for name, info in VENUES.items()
                     if info.kind is VenueKind.LIT and market.status(name) is VenueStatus.OPEN
                     and (book := market.book(name, symbol)) is not None]
            for _ in range(2):  # asked twice between changes: the remembered answer is the same
                assert market.books(symbol) == fresh, i
                bids = [b.bids[0].price for b in fresh if b.bids]
                asks = [b.asks[0].price for b in fresh if b.asks]
                assert market.best_bid(symbol) == (max(bids) if bids else None), i
                assert market.best_ask(symbol) == (min(asks) if asks else None), i
            market.books(symbol).clear()  # a caller's copy: clearing it changes nothing remembered
            assert market.books(symbol) == fresh
