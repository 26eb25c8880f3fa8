"""The routing dispatcher: which routing logic places an intent, and the ``[routing]`` settings.

Why this module exists
----------------------
The engine knows one :class:`~metaorder.execution.router.Router`; issue 15 has four logics (the
best-price baseline, sequential, parallel sweep, liquidity-seeking).  :class:`SmartRouter` is that
one router: it starts the placement the intent's ``routing`` names (848 ``Routing=``, or the
engine's choice from the order's Urgency × Aggressiveness through :meth:`RoutingSettings.choose`),
so the engine does not change when a logic is added, and the baseline stays byte-for-byte the
best-price router it was.

The default map (:data:`DEFAULT_MAP`) and why
---------------------------------------------
Urgency is how soon the client needs it done; Aggressiveness how much spread and impact it accepts
for that.  The three logics trade the same three things — speed, fees, information leakage:

============  ==============  ==============  ==============
Urgency       PASSIVE         NEUTRAL         AGGRESSIVE
============  ==============  ==============  ==============
LOW           SEEK            SEEK            SEQUENTIAL
MEDIUM        SEEK            SEEK            PARALLEL
HIGH          SEQUENTIAL      PARALLEL        PARALLEL
============  ==============  ==============  ==============

* **SEEK** where the client has time and does not want to pay the spread: dark pools first, at the
  midpoint with MinQty, shows the market the least — impact is the largest cost of a patient order,
  and only a patient one can wait for a dark pool's rare contra.  The MEDIUM NEUTRAL cell, every
  order's without 848 keys, is SEEK on the lab's evidence: on the standard flow (seeds 1-5) SEEK
  cost -0.15 bps vs arrival, BEST +0.95, PARALLEL +1.42, SEQUENTIAL +1.54.
* **PARALLEL** where the client is in a hurry and accepts crossing: every venue at once is the
  fastest way to the quantity; the leakage it causes is what urgency buys.
* **SEQUENTIAL** on the diagonal between them: one venue at a time, cheapest expected cost first,
  minimises fees when neither extreme dominates — a LOW-urgency order that may cross (no hurry to
  sweep, but no wish to wait on pools either), a HIGH-urgency order whose client refuses to cross
  (it must get done, but without paying a sweep's fees and footprint).

BEST is never a default: it is the baseline the lab compares against, chosen explicitly
(848 ``Routing=BEST``, ``[routing.map]``, or ``metaorder lab --routers BEST``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from metaorder.execution.estimates import VenueEstimates
from metaorder.execution.parallel import ParallelPlacement, ParallelSettings
from metaorder.execution.placement import Placement, limit_out_of_reach
from metaorder.execution.router import BestPriceRouter, within_limit
from metaorder.execution.seek import SeekPlacement, SeekSettings
from metaorder.execution.sequential import SequentialPlacement, SequentialSettings
from metaorder.execution.types import Intent, MarketView, Routing, Style, VenueInfo

URGENCIES: tuple[str, ...] = ("LOW", "MEDIUM", "HIGH")  # orders.model.Urgency's values
AGGRESSIVENESSES: tuple[str, ...] = ("PASSIVE", "NEUTRAL", "AGGRESSIVE")  # orders.model.Aggressiveness's

#: (Urgency, Aggressiveness) -> routing logic when the order names none (module docstring: why).
DEFAULT_MAP: Mapping[tuple[str, str], Routing] = {
    ("LOW", "PASSIVE"): Routing.SEEK,
    ("LOW", "NEUTRAL"): Routing.SEEK,
    ("LOW", "AGGRESSIVE"): Routing.SEQUENTIAL,
    ("MEDIUM", "PASSIVE"): Routing.SEEK,
    ("MEDIUM", "NEUTRAL"): Routing.SEEK,
    ("MEDIUM", "AGGRESSIVE"): Routing.PARALLEL,
    ("HIGH", "PASSIVE"): Routing.SEQUENTIAL,
    ("HIGH", "NEUTRAL"): Routing.PARALLEL,
    ("HIGH", "AGGRESSIVE"): Routing.PARALLEL,
}

_LOGICS = ("sequential", "parallel", "seek")


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """``[routing]``: the Urgency × Aggressiveness map and each logic's tunables."""

    map: Mapping[tuple[str, str], Routing] = field(default_factory=lambda: dict(DEFAULT_MAP))
    sequential: SequentialSettings = field(default_factory=SequentialSettings)
    parallel: ParallelSettings = field(default_factory=ParallelSettings)
    seek: SeekSettings = field(default_factory=SeekSettings)

    def __post_init__(self) -> None:
        missing = [f"{u}.{a}" for u in URGENCIES for a in AGGRESSIVENESSES if (u, a) not in self.map]
        if missing:
            raise ValueError(f"routing.map has no logic for {', '.join(missing)}")

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> RoutingSettings:
        """The ``[routing]`` table: ``[routing.map]`` as ``LOW = { PASSIVE = "SEEK", ... }`` (cells not
        given keep their default), ``[routing.sequential]``, ``[routing.parallel]``, ``[routing.seek]``
        through each logic's own ``from_mapping``.  A ValueError names what is wrong, by its full
        name: ``routing.map.LOW.PASSIVE``, ``routing.parallel: ...``."""
        unknown = sorted(set(m) - {"map", *_LOGICS})
        if unknown:
            raise ValueError(f"unknown routing setting(s) {', '.join(unknown)} "
                             f"(known: map, {', '.join(_LOGICS)})")
        table = dict(DEFAULT_MAP)
        rows = m.get("map", {})
        if not isinstance(rows, Mapping):
            raise ValueError(f"routing.map must be a table of urgencies, not {rows!r}")
        for urgency, cells in rows.items():
            if urgency not in URGENCIES:
                raise ValueError(f"routing.map.{urgency}: unknown urgency (known: {', '.join(URGENCIES)})")
            if not isinstance(cells, Mapping):
                raise ValueError(f"routing.map.{urgency} must be a table of aggressiveness, not {cells!r}")
            for aggressiveness, name in cells.items():
                where = f"routing.map.{urgency}.{aggressiveness}"
                if aggressiveness not in AGGRESSIVENESSES:
                    raise ValueError(f"{where}: unknown aggressiveness (known: {', '.join(AGGRESSIVENESSES)})")
                table[urgency, aggressiveness] = _routing(name, where)
        logics: dict[str, Any] = {}
        for name, settings_cls in (("sequential", SequentialSettings), ("parallel", ParallelSettings),
                                   ("seek", SeekSettings)):
            values = m.get(name, {})
            if not isinstance(values, Mapping):
                raise ValueError(f"routing.{name} must be a table of settings, not {values!r}")
            try:
                logics[name] = settings_cls.from_mapping(values)
            except ValueError as exc:
                raise ValueError(f"routing.{name}: {exc}") from None
        return cls(table, **logics)

    def choose(self, urgency: str, aggressiveness: str) -> Routing:
        """The logic for an order of this Urgency and Aggressiveness (an unknown pair: the
        MEDIUM NEUTRAL cell, the normalized default mandate)."""
        found = self.map.get((urgency, aggressiveness))
        return found if found is not None else self.map[("MEDIUM", "NEUTRAL")]

    @staticmethod
    def uniform(routing: Routing) -> RoutingSettings:
        """Every cell the same logic (the lab's ``--routers``: one run per logic), default tunables."""
        return RoutingSettings(dict.fromkeys(DEFAULT_MAP, routing))


def _mid_within(market: MarketView, intent: Intent) -> bool:
    """Whether a midpoint peg capped at the intent's limit could trade now."""
    mid = market.mid(intent.symbol)
    return mid is not None and within_limit(mid, intent.limit, intent.direction)


def _routing(name: object, where: str) -> Routing:
    if isinstance(name, str):
        try:
            return Routing(name.upper())
        except ValueError:
            pass
    raise ValueError(f"{where} must be one of {', '.join(r.value for r in Routing)}, not {name!r}")


class SmartRouter:
    """The engine's router: dispatches each intent to the placement its ``routing`` names.

    ``estimates``: what the logics rank venues by (the scorecard in production, ``PriorEstimates``
    before anything is learned).  ``best``: the baseline's router, unchanged (BEST intents)."""

    def __init__(self, estimates: VenueEstimates, settings: RoutingSettings | None = None,
                 best: BestPriceRouter | None = None) -> None:
        self.estimates = estimates
        self.settings = settings if settings is not None else RoutingSettings()
        self.best = best if best is not None else BestPriceRouter()

    def start(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
              now: float, exclude: frozenset[str] = frozenset()) -> Placement:
        routing = intent.routing
        s = self.settings
        if (routing is not Routing.BEST and intent.style is Style.AGGRESSIVE
                and limit_out_of_reach(market, intent.symbol, intent.direction, intent.limit)
                and not (routing is Routing.SEEK and _mid_within(market, intent))):
            # Nothing can be taken on a lit book within the limit: the slice rests at the limit (the
            # best-price placement's fallback), the most a taking slice may do.  A logic trying its
            # venues' IOCs in turn would end at once with nothing done, and the strategy, still behind,
            # would ask again: a child storm.  SEEK keeps its own logic while the midpoint is within
            # the limit: resting pegs capped at the limit may fill in the pools (seek.py).
            return self.best.start(intent, market, venues, lot_size, now, exclude)
        if routing is Routing.SEQUENTIAL:
            return SequentialPlacement(intent, market, venues, lot_size, now, exclude, estimates=self.estimates,
                                       settings=s.sequential)
        if routing is Routing.PARALLEL:
            return ParallelPlacement(intent, market, venues, lot_size, now, exclude, estimates=self.estimates,
                                     settings=s.parallel)
        if routing is Routing.SEEK:
            return SeekPlacement(intent, market, venues, lot_size, now, exclude, estimates=self.estimates,
                                 settings=s.seek)
        return self.best.start(intent, market, venues, lot_size, now, exclude)
