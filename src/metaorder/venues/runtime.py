"""``metaorder venues``: the configured venues, the market behind them, and their FIX acceptors.

The wiring of the simulated venues, in one place: instruments and venues from the config, one lit
order book per (lit venue, instrument), one dark pool per (dark venue, instrument), the market
simulator acting on the lit books, and one FIX acceptor per venue on its own port.  The same
objects can be wired in-process with a virtual clock (the engine's simulated mode); here they run
live, on the wall clock.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from metaorder.clock import Clock, LiveClock
from metaorder.config import InstrumentSettings, VenuesConfig, VenueSettings
from metaorder.fix.session import Role, Session, SessionConfig
from metaorder.fix.store import SessionStore
from metaorder.fix.transport import Acceptor
from metaorder.serving import load_dictionary, open_stores, serve_many, store_key
from metaorder.venues.dark import DarkPool
from metaorder.venues.market import EventKind, InstrumentParams, LiquidityParams, Market, MarketEvent, MarketParams
from metaorder.venues.marketdata import MarketDataPublisher
from metaorder.venues.matching import OrderBook
from metaorder.venues.model import OrdType, Side, TimeInForce
from metaorder.venues.server import VenueApplication
from metaorder.venues.venue import (
    DarkVenue,
    Fees,
    Instrument,
    Latency,
    LitVenue,
    Outbound,
    Rules,
    Venue,
    VenueStatus,
)

log = structlog.get_logger("metaorder.venues")

_ORD_TYPES = {"limit": OrdType.LIMIT, "market": OrdType.MARKET, "pegged": OrdType.PEGGED}
_TIFS = {"day": TimeInForce.DAY, "gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}
_STATUS = {"open": VenueStatus.OPEN, "halted": VenueStatus.HALTED, "closed": VenueStatus.CLOSED}
APP_TYPES = frozenset({"D", "F", "G", "H", "V"})
Deliver = Callable[[str, Sequence[Outbound]], None]


def instrument(settings: InstrumentSettings) -> Instrument:
    return Instrument(settings.symbol, settings.tick_size, settings.lot_size, settings.reference_price)


def rules(v: VenueSettings) -> Rules:
    return Rules(
        min_order_qty=v.min_order_qty,
        max_order_qty=v.max_order_qty,
        max_notional=v.max_notional,
        ord_types=frozenset(_ORD_TYPES[t] for t in v.order_types),
        tifs=frozenset(_TIFS[t] for t in v.time_in_force),
        allow_min_qty=v.allow_min_qty,
        odd_lots=v.odd_lots,
    )


@dataclass
class SimulatedVenues:
    """Everything ``metaorder venues`` runs, built from a config (also usable in-process)."""

    config: VenuesConfig
    lit: list[LitVenue]
    dark: list[DarkVenue]
    apps: dict[str, VenueApplication]
    market: Market
    #: Owners to address status broadcasts to when no FIX session is connected (in-process wiring).
    extra_owners: tuple[str, ...] = ()
    _books_of: dict[str, list[OrderBook]] = field(default_factory=dict, init=False, repr=False)

    @property
    def venues(self) -> dict[str, Venue]:
        return {v.name: v for v in (*self.lit, *self.dark)}

    @classmethod
    def build(cls, config: VenuesConfig, clock: Clock, start: float) -> SimulatedVenues:
        instruments = {i.symbol: instrument(i) for i in config.instrument}
        lit: list[LitVenue] = []
        dark: list[DarkVenue] = []
        apps: dict[str, VenueApplication] = {}
        for v in config.venue:
            symbols = v.instruments or list(instruments)
            venue_rules = rules(v)
            fees = Fees(v.maker_fee, v.taker_fee)
            latency = Latency(v.ack_latency_ms / 1000, v.fill_latency_ms / 1000)
            status = _STATUS[v.status]
            if v.kind == "lit":
                venue = LitVenue(v.name, [instruments[s] for s in symbols], venue_rules, fees, latency, status)
                lit.append(venue)
                apps[v.name] = VenueApplication(venue, MarketDataPublisher(venue.books, venue.instruments), clock)
            else:
                pools = {
                    # Lifetimes from their own generator: the arrivals, sides and sizes stay the same
                    # whatever contra_rest_s is (common random numbers across that setting too).
                    s: DarkPool(s, _rng(config.market.seed, v.name, s), v.contra_rate_per_min / 60.0,
                                v.contra_size_median, v.contra_size_sigma, start, v.contra_rest_s,
                                _rng(config.market.seed, v.name, f"{s}:contra-rest"))
                    for s in symbols
                }
                dvenue = DarkVenue(v.name, [instruments[s] for s in symbols], pools, venue_rules, fees, latency, status)
                dark.append(dvenue)
                apps[v.name] = VenueApplication(dvenue, None, clock)
        market = Market(
            market_params(config, start),
            [instrument_params(i) for i in config.instrument],
            # A venue that starts halted or closed has no background trading on its books.
            {venue.name: venue.books for venue in lit if venue.status is VenueStatus.OPEN},
        )
        sim = cls(config, lit, dark, apps, market)
        for d in dark:
            d.quotes = sim.consolidated_quote
        weights = {v.name: v.impact_weight for v in config.venue}
        for venue_ in (*lit, *dark):
            venue_.on_client_fill = functools.partial(sim.on_client_fill, weight=weights.get(venue_.name, 1.0))
        for app in apps.values():
            app.catch_up = sim.step
        return sim

    def on_client_fill(self, symbol: str, side: Side, qty: int, now: float, weight: float = 1.0) -> None:
        """Our orders move prices: every client execution feeds the market's impact model, weighted
        by its venue's ``impact_weight``."""
        self.market.on_external_fill(symbol, side, qty, now, weight)

    def consolidated_quote(self, symbol: str) -> tuple[int | None, int | None]:
        """Best bid and offer across the lit venues (ticks): the dark pools' midpoint reference."""
        bid: int | None = None
        ask: int | None = None
        for book in self._lit_books(symbol):
            b, a = book.best_prices()
            if b is not None and (bid is None or b > bid):
                bid = b
            if a is not None and (ask is None or a < ask):
                ask = a
        return bid, ask

    def _lit_books(self, symbol: str) -> list[OrderBook]:
        """The lit books of ``symbol``, venue by venue (asked for every dark pool at every step)."""
        books = self._books_of.get(symbol)
        if books is None:
            books = self._books_of[symbol] = [v.books[symbol] for v in self.lit if symbol in v.books]
        return books

    def step(self, now: float, deliver: Deliver | None = None) -> list[MarketEvent]:
        """Run every market and dark-pool event due by ``now``, publish what changed; the market's events.

        ``deliver(venue, messages)`` receives what each venue sends; by default its FIX application
        delivers it to the connected sessions.  The in-process wiring (:mod:`metaorder.simulate`)
        passes its own, so the same step drives venues with no sockets and no event loop.
        """
        send = deliver or self._deliver
        events = self.market.advance(now) if self.market.due(now) else []
        if events:
            closed: set[str] = set()
            venues = self.venues
            for event in events:
                if event.venue not in self.apps:
                    continue
                if event.fills:
                    venue = venues[event.venue]
                    venue.record_trades(event.symbol, event.fills)
                    send(event.venue, venue.report_fills(event.fills, now))
                if event.kind is EventKind.CLOSE:
                    closed.add(event.venue)
            if closed:  # the session is over: every venue closes and says so
                for name in self.apps:
                    send(name, venues[name].set_status(VenueStatus.CLOSED, self.owners(name), now))
        # Most steps change nothing (the engine woke up, a report fell due): what follows must cost
        # next to nothing then, and nothing is handed to ``send`` that it would do nothing with.
        for d in self.dark:
            if out := d.on_time(now):
                send(d.name, out)
        for name, app in self.apps.items():
            if out := app.publish(now):
                send(name, out)
        return events

    def owners(self, venue: str) -> list[str]:
        """Counterparties connected to ``venue`` (those a status broadcast goes to)."""
        return list(self.apps[venue].connections) or list(self.extra_owners)

    def _deliver(self, venue: str, messages: Sequence[Outbound]) -> None:
        if messages:
            self.apps[venue].deliver(messages)

    def next_event_time(self) -> float | None:
        first = self.market.next_event_time()
        for d in self.dark:
            t = d.next_event_time()
            if t is not None and (first is None or t < first):
                first = t
        return first


def _rng(seed: int, venue: str, symbol: str) -> random.Random:
    return random.Random(f"{seed}:{venue}:{symbol}")


def instrument_params(i: InstrumentSettings) -> InstrumentParams:
    ticks = i.reference_price / i.tick_size
    return InstrumentParams(i.symbol, int(ticks), i.tick_size, i.daily_volatility, i.daily_volume, i.lot_size)


def market_params(config: VenuesConfig, start: float) -> MarketParams:
    m = config.market
    per_venue = tuple(
        (v.name, LiquidityParams(v.half_spread_ticks, v.depth_levels, v.level_size_fraction,
                                 m.resilience_half_life_s, taker_share=v.taker_share))
        for v in config.venue if v.kind == "lit"
    )
    return MarketParams(
        seed=m.seed,
        session_start=start,
        session_end=start + m.session_hours * 3600.0,
        venue_liquidity=per_venue,
        taker_volume_fraction=m.taker_volume_fraction,
        taker_u_shape=m.taker_u_shape,
        taker_median_size_fraction=m.taker_median_size_fraction,
        impact_y=m.impact_y,
        impact_memory_half_life=m.impact_memory_half_life_s,
    )


async def drive(sim: SimulatedVenues, clock: Clock) -> None:
    """Advance the market on the wall clock: sleep until the next event, run it, publish."""
    while True:
        due = sim.next_event_time()
        if due is None:  # nothing will ever happen again: keep serving requests until shutdown
            await asyncio.Event().wait()
            return
        delay = due - clock.now()
        if delay > 0:
            await asyncio.sleep(delay)
        sim.step(clock.now())


def venue_acceptors(
    config: VenuesConfig,
    sim: SimulatedVenues,
    stores: Mapping[str, SessionStore],
    clock: Clock,
    embedded_for: str | None = None,
) -> list[Acceptor]:
    """One FIX acceptor per venue, its sessions on ``stores`` (keyed by :func:`store_key`).

    ``embedded_for``: the venues run inside the engine's process for that one counterparty: they
    listen on free ports (the engine is told which), and both sides reset sequence numbers at every
    logon, because embedded venues start afresh with the process (nothing of a previous run exists
    on their side to resend).
    """
    dictionary = load_dictionary(None)
    acceptors: list[Acceptor] = []
    for v in config.venue:
        sessions = [Session(c, stores[store_key(c)], dictionary) for c in venue_session_configs(v, embedded_for)]
        acceptors.append(Acceptor(v.host, 0 if embedded_for else v.port, sessions, sim.apps[v.name], clock))
    return acceptors


def venue_session_configs(v: VenueSettings, embedded_for: str | None = None) -> list[SessionConfig]:
    parties = [embedded_for] if embedded_for else list(v.counterparties)
    return [SessionConfig(v.comp_id, c, Role.ACCEPTOR, supported_app_types=APP_TYPES,
                          reset_on_logon=embedded_for is not None) for c in parties]


async def run_venues(
    config: VenuesConfig,
    store_dir: Path | None = None,
    clock: Clock | None = None,
    on_started: Callable[[str, int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    clock = clock or LiveClock()
    sim = SimulatedVenues.build(config, clock, clock.now())
    keys = [store_key(c) for v in config.venue for c in venue_session_configs(v)]
    db, stores = open_stores(store_dir / "venues.db" if store_dir else None, "NORMAL", keys)
    try:
        acceptors = venue_acceptors(config, sim, stores, clock)
        names = {id(a): v.name for a, v in zip(acceptors, config.venue, strict=True)}

        def started(acceptor: Acceptor) -> Callable[[int], None]:
            def report(port: int) -> None:
                if on_started is not None:
                    on_started(names[id(acceptor)], port)

            return report

        await serve_many(acceptors, [started(a) for a in acceptors], [lambda: drive(sim, clock)], stop=stop,
                         shutdown_timeout=3.0)
    finally:
        if db is not None:
            db.close()
