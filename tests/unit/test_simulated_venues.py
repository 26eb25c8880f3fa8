"""The venues' in-process wiring on a virtual clock: a session in milliseconds, reproducible."""

from __future__ import annotations

from metaorder.clock import VirtualClock
from metaorder.config import VenuesConfig
from metaorder.venues.model import Side
from metaorder.venues.runtime import SimulatedVenues
from metaorder.venues.venue import VenueStatus

CONFIG = {
    "market": {"seed": 5, "session_hours": 0.25},
    "instrument": [{"symbol": "ACME", "reference_price": "50.00", "daily_volume": 3_000_000}],
    "venue": [
        {"name": "L1", "kind": "lit", "port": 0, "comp_id": "L1"},
        {"name": "L2", "kind": "lit", "port": 0, "comp_id": "L2", "half_spread_ticks": 1.0},
        {"name": "D1", "kind": "dark", "port": 0, "comp_id": "D1"},
    ],
}


def run_session(seed: int) -> tuple[list[tuple[str, str, int, int]], SimulatedVenues]:
    config = VenuesConfig.model_validate({**CONFIG, "market": {**CONFIG["market"], "seed": seed}})
    clock = VirtualClock(1_700_000_000.0)
    sim = SimulatedVenues.build(config, clock, clock.now())
    trades: list[tuple[str, str, int, int]] = []
    steps = 0
    while (due := sim.next_event_time()) is not None and due <= clock.now() + 3600 and steps < 200_000:
        clock.jump_to(due)
        for event in sim.step(clock.now()):
            trades += [(event.venue, event.symbol, f.price, f.qty) for f in event.fills]
        for venue in sim.lit:
            bid, ask = venue.books["ACME"].best_bid(), venue.books["ACME"].best_ask()
            assert bid is None or ask is None or bid[0] < ask[0], "a lit book is crossed at rest"
        steps += 1
    return trades, sim


def test_a_session_on_a_virtual_clock_is_reproducible_from_its_seed() -> None:
    first, _ = run_session(5)
    second, _ = run_session(5)
    other, _ = run_session(6)
    assert first and first == second
    assert first != other


def test_venues_close_with_the_session_and_the_consolidated_quote_is_withdrawn() -> None:
    _, sim = run_session(5)
    assert all(v.status is VenueStatus.CLOSED for v in (*sim.lit, *sim.dark))
    assert sim.consolidated_quote("ACME") == (None, None)  # quotes withdrawn at the close


def test_our_fills_on_a_venue_move_the_fair_price_by_its_impact_weight() -> None:
    venues = [{**v, "impact_weight": 0.0} if v["name"] == "D1" else v for v in CONFIG["venue"]]  # type: ignore[index,dict-item]
    config = VenuesConfig.model_validate({**CONFIG, "venue": venues})
    clock = VirtualClock(1_700_000_000.0)
    sim = SimulatedVenues.build(config, clock, clock.now())
    [dark] = sim.dark
    [lit, _] = sim.lit
    before = sim.market.fair_price("ACME")
    assert dark.on_client_fill is not None and lit.on_client_fill is not None
    dark.on_client_fill("ACME", Side.BUY, 30_000, clock.now())  # weight 0: a dark cross reveals nothing here
    assert sim.market.fair_price("ACME") == before
    lit.on_client_fill("ACME", Side.BUY, 30_000, clock.now())  # the default: all of it
    assert sim.market.fair_price("ACME") > before
