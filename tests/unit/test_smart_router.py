"""The routing dispatcher and ``[routing]`` (execution/smart_router.py).

What it must get right: every Urgency × Aggressiveness cell has a logic, the documented defaults
are the ones used, a configuration mistake is refused naming the setting by its full name, and
each intent goes to the placement its ``routing`` names — BEST to the unchanged baseline.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from metaorder.execution.estimates import PriorEstimates
from metaorder.execution.parallel import ParallelPlacement, ParallelSettings
from metaorder.execution.placement import OnePassPlacement
from metaorder.execution.router import BestPriceRouter
from metaorder.execution.seek import SeekPlacement, SeekSettings
from metaorder.execution.sequential import SequentialPlacement, SequentialSettings
from metaorder.execution.smart_router import (
    AGGRESSIVENESSES,
    DEFAULT_MAP,
    URGENCIES,
    RoutingSettings,
    SmartRouter,
)
from metaorder.execution.types import Intent, Level, Routing, Style, VenueBook, VenueInfo, VenueKind, VenueStatus

D = Decimal
NOW = 1_700_000_000.0
VENUES = {"A": VenueInfo("A", VenueKind.LIT, odd_lots=True),
          "UMBRA": VenueInfo("UMBRA", VenueKind.DARK, order_types=frozenset({"limit", "pegged"}))}


class OneBook:
    """A market of one lit book (ACME 9.99 / 10.00)."""

    book_ = VenueBook("A", "ACME", [Level(D("9.99"), 500)], [Level(D("10.00"), 500)], NOW)

    def book(self, venue: str, symbol: str) -> VenueBook | None:
        return self.book_ if venue == "A" else None

    def books(self, symbol: str) -> list[VenueBook]:
        return [self.book_]

    def status(self, venue: str) -> VenueStatus:
        return VenueStatus.OPEN

    def best_bid(self, symbol: str) -> Decimal | None:
        return D("9.99")

    def best_ask(self, symbol: str) -> Decimal | None:
        return D("10.00")

    def mid(self, symbol: str) -> Decimal | None:
        return D("9.995")

    def volume(self, symbol: str) -> int:
        return 0

    def vwap(self, symbol: str) -> Decimal | None:
        return None


def intent(routing: Routing) -> Intent:
    return Intent("P1", "ACME", 1, 300, D("10.05"), Style.AGGRESSIVE, "slice", routing)


# ---------------------------------------------------------------------------------------- the map


def test_the_default_map_is_the_documented_one_and_covers_every_cell() -> None:
    s = RoutingSettings()
    assert {(u, a) for u in URGENCIES for a in AGGRESSIVENESSES} == set(DEFAULT_MAP)
    rows = {u: tuple(s.choose(u, a).value for a in AGGRESSIVENESSES) for u in URGENCIES}
    assert rows == {"LOW": ("SEEK", "SEEK", "SEQUENTIAL"),
                    "MEDIUM": ("SEEK", "SEEK", "PARALLEL"),
                    "HIGH": ("SEQUENTIAL", "PARALLEL", "PARALLEL")}
    assert Routing.BEST not in DEFAULT_MAP.values()  # the baseline is only ever chosen explicitly


def test_an_unknown_pair_gets_the_medium_neutral_cell() -> None:
    assert RoutingSettings().choose("URGENT", "NEUTRAL") is Routing.SEEK


def test_uniform_puts_one_logic_in_every_cell() -> None:
    s = RoutingSettings.uniform(Routing.BEST)
    assert {s.choose(u, a) for u in URGENCIES for a in AGGRESSIVENESSES} == {Routing.BEST}
    assert s.parallel == ParallelSettings() and s.seek == SeekSettings() and s.sequential == SequentialSettings()


def test_from_mapping_overrides_the_cells_given_keeps_the_others_and_reads_each_logics_table() -> None:
    s = RoutingSettings.from_mapping({
        "map": {"LOW": {"PASSIVE": "PARALLEL"}, "HIGH": {"AGGRESSIVE": "best"}},
        "parallel": {"rest_timeout_s": 1.5},
        "sequential": {}, "seek": {},
    })
    assert s.choose("LOW", "PASSIVE") is Routing.PARALLEL
    assert s.choose("HIGH", "AGGRESSIVE") is Routing.BEST
    assert s.choose("LOW", "NEUTRAL") is Routing.SEEK  # not given: the default
    assert s.parallel == ParallelSettings(rest_timeout_s=1.5)
    assert RoutingSettings.from_mapping({}) == RoutingSettings()


@pytest.mark.parametrize(("table", "named"), [
    ({"maps": {}}, "unknown routing setting(s) maps"),
    ({"map": {"LOW": {"PASSIVE": "FASTEST"}}}, "routing.map.LOW.PASSIVE must be one of BEST, SEQUENTIAL"),
    ({"map": {"LOW": {"PASSIVE": 3}}}, "routing.map.LOW.PASSIVE must be one of"),
    ({"map": {"URGENT": {"PASSIVE": "SEEK"}}}, "routing.map.URGENT: unknown urgency"),
    ({"map": {"LOW": {"TIMID": "SEEK"}}}, "routing.map.LOW.TIMID: unknown aggressiveness"),
    ({"map": {"LOW": "SEEK"}}, "routing.map.LOW must be a table"),
    ({"map": "SEEK"}, "routing.map must be a table"),
    ({"parallel": {"rest_timeout_s": -1}}, "routing.parallel: routing.parallel rest_timeout_s must be > 0"),
    ({"parallel": {"speed": 1}}, "routing.parallel: unknown routing.parallel setting(s) speed"),
    ({"sequential": {"nonsense": 1}}, "routing.sequential: "),
    ({"seek": {"nonsense": 1}}, "routing.seek: "),
    ({"seek": 5}, "routing.seek must be a table"),
])
def test_from_mapping_refuses_mistakes_naming_the_setting(table: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError) as err:
        RoutingSettings.from_mapping(table)
    assert named in str(err.value)


def test_a_map_missing_a_cell_is_refused_naming_it() -> None:
    cells = dict(DEFAULT_MAP)
    del cells["HIGH", "PASSIVE"]
    with pytest.raises(ValueError, match=r"HIGH\.PASSIVE"):
        RoutingSettings(cells)


# ----------------------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize(("routing", "kind"), [(Routing.SEQUENTIAL, SequentialPlacement),
                                               (Routing.PARALLEL, ParallelPlacement),
                                               (Routing.SEEK, SeekPlacement),
                                               (Routing.BEST, OnePassPlacement)])
def test_each_intent_goes_to_the_placement_its_routing_names(routing: Routing, kind: type) -> None:
    router = SmartRouter(PriorEstimates(VENUES))
    placement = router.start(intent(routing), OneBook(), VENUES, 1, NOW)
    assert type(placement) is kind
    assert placement.intent.routing is routing
    assert sum(o.qty for o in placement.orders()) <= 300


def test_the_logics_get_the_configured_settings_and_the_estimates() -> None:
    settings = dataclasses.replace(RoutingSettings(), parallel=ParallelSettings(rest_timeout_s=0.5))
    estimates = PriorEstimates(VENUES)
    placement = SmartRouter(estimates, settings).start(intent(Routing.PARALLEL), OneBook(), VENUES, 1, NOW)
    assert isinstance(placement, ParallelPlacement)
    assert placement.settings.rest_timeout_s == 0.5 and placement.estimates is estimates


def test_best_is_the_baseline_router_unchanged() -> None:
    best = BestPriceRouter()
    via_smart = SmartRouter(PriorEstimates(VENUES), best=best).start(intent(Routing.BEST), OneBook(), VENUES, 1, NOW)
    direct = best.start(intent(Routing.BEST), OneBook(), VENUES, 1, NOW)
    assert via_smart.orders() == direct.orders()
