"""The builders of the core objects, shared by the daemon, the simulation, the demo and the benchmarks.

``metaorder run`` (:mod:`metaorder.daemon`) and the in-process simulation (:mod:`metaorder.simulate`)
must run the same intake and the same engine, built the same way from the same configuration: a
difference here would make every simulated result a statement about some other program.  So both
call these builders, and only the shells around them (sockets and the event loop, or a virtual
clock and in-process venues) differ.  Nothing here does I/O beyond what the journal it is given does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from metaorder.config import ConfigError, ExecutionSettingsModel, MetaorderConfig, VenuesConfig
from metaorder.execution.control import ParentGuard
from metaorder.execution.engine import ExecutionEngine, ExecutionSettings, InstrumentRules
from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.router import BestPriceRouter
from metaorder.execution.strategies import STRATEGIES, StrategyRegistry, StrategySettingsError
from metaorder.execution.types import VenueInfo, VenueKind
from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import Journal
from metaorder.orders.model import Aggressiveness, Strategy, Urgency
from metaorder.orders.normalize import IntakeDefaults
from metaorder.orders.risk import RiskEngine, RiskLimits


def build_intake(config: MetaorderConfig, journal: Journal) -> Intake:
    """The order intake of the daemon: normalization defaults, risk limits, parent book, journal."""
    references = {i.symbol: i.reference_price for i in config.instrument}
    risk_settings = config.risk
    global_limits = RiskLimits.model_validate(risk_settings.model_dump(exclude={"session"}))
    risk = RiskEngine(global_limits, risk_settings.session, references.get)
    intake_cfg = config.intake
    defaults = IntakeDefaults(
        Strategy[intake_cfg.default_strategy], Urgency[intake_cfg.default_urgency],
        Aggressiveness[intake_cfg.default_aggressiveness], intake_cfg.default_participation_rate,
        {i.symbol: i.lot_size for i in config.instrument}, intake_cfg.trading_day_start_s,
    )
    return Intake(references, risk, journal, ParentBook(references.get), defaults)


def venue_infos(config: MetaorderConfig, embedded: VenuesConfig | None) -> dict[str, VenueInfo]:
    """What the router knows of each venue: the embedded simulated ones and the external ones."""
    infos: dict[str, VenueInfo] = {}
    for v in embedded.venue if embedded is not None else ():
        infos[v.name] = VenueInfo(v.name, VenueKind(v.kind), v.maker_fee, v.taker_fee, v.ack_latency_ms,
                                  v.min_order_qty if v.kind == "dark" else 0, odd_lots=v.odd_lots)
    for x in config.execution.venue:
        infos[x.name] = VenueInfo(x.name, VenueKind(x.kind), x.maker_fee, x.taker_fee, x.latency_ms, x.min_qty,
                                  odd_lots=x.odd_lots)
    return infos


def build_strategies(execution: ExecutionSettingsModel) -> StrategyRegistry:
    """Every registered strategy with its tunables (``[execution.<kind>]``), refused at start-up when wrong."""
    tunables = {kind: getattr(execution, kind.lower(), None) or {} for kind in STRATEGIES}
    try:
        return StrategyRegistry(tunables)
    except StrategySettingsError as exc:
        raise ConfigError(f"execution.{exc.kind.lower()}: {exc}") from exc


def build_engine(config: MetaorderConfig, intake: Intake, venues: Mapping[str, VenueInfo]) -> ExecutionEngine:
    """The execution pipeline behind the intake: market view, strategies, best-price router, parent control."""
    e = config.execution
    # The config model and the engine's settings share their field names: copied by name, never by position.
    settings = ExecutionSettings(**e.model_dump(include={f.name for f in dataclasses.fields(ExecutionSettings)}))
    # Where the window of an order without ExpireTime ends: the close, else the end of the trading day.
    settings = dataclasses.replace(settings, trading_day_start_s=config.intake.trading_day_start_s,
                                   market_close_s=e.market_close_s)
    instruments = {i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size) for i in config.instrument}
    engine = ExecutionEngine(intake, ConsolidatedMarket(venues), venues, BestPriceRouter(), ParentGuard(),
                             instruments, settings, build_strategies(e))
    references = {i.symbol: i.reference_price for i in config.instrument}
    market = engine.market

    def midpoint(symbol: str) -> Decimal | None:
        """Internal crosses happen at the live consolidated midpoint; the reference price before any quote."""
        mid = market.mid(symbol)
        return mid if mid is not None else references.get(symbol)

    intake.book.mid_source = midpoint
    return engine


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The intake and the engine, recovered from the journal and started."""

    intake: Intake
    engine: ExecutionEngine
    replayed: int  # journal entries replayed
    open_children: int  # child orders still open at venues after recovery (to reconcile)


def start_pipeline(config: MetaorderConfig, journal: Journal, venues: Mapping[str, VenueInfo], now: float) -> Pipeline:
    """Build the intake and the engine, rebuild both from the journal in one pass, and start them at ``now``."""
    intake = build_intake(config, journal)
    engine = build_engine(config, intake, venues)
    replayed = intake.recover(also=engine.apply)  # one pass over the journal, decoded once, rebuilds both
    open_children = engine.finish_recovery()
    intake.start(now)
    engine.start(intake.boot)
    return Pipeline(intake, engine, replayed, open_children)
