"""The builders of the core objects, shared by the daemon, the simulation, the demo and the benchmarks.

``metaorder run`` (:mod:`metaorder.daemon`) and the in-process simulation (:mod:`metaorder.simulate`)
must run the same intake and the same engine, built the same way from the same configuration: a
difference here would make every simulated result a statement about some other program.  So both
call these builders, and only the shells around them (sockets and the event loop, or a virtual
clock and in-process venues) differ.  Nothing here does I/O beyond what the journal it is given does.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog

from metaorder.config import ConfigError, ExecutionSettingsModel, MetaorderConfig, VenuesConfig
from metaorder.execution.control import ParentGuard
from metaorder.execution.engine import ExecutionEngine, ExecutionSettings, InstrumentRules
from metaorder.execution.impact_model import InstrumentModels, InstrumentPrior
from metaorder.execution.marketview import ConsolidatedMarket
from metaorder.execution.scorecard import Scorecard, ScorecardSettings
from metaorder.execution.smart_router import RoutingSettings, SmartRouter
from metaorder.execution.strategies import STRATEGIES, StrategyRegistry, StrategySettingsError
from metaorder.execution.strategy import StrategyContext
from metaorder.execution.types import VenueInfo, VenueKind
from metaorder.execution.volume_profile import ProfileBook, ProfileSettings
from metaorder.execution.vwap import VwapSettings
from metaorder.orders.book import ParentBook
from metaorder.orders.describe import Describer
from metaorder.orders.intake import Intake
from metaorder.orders.journal import Journal
from metaorder.orders.model import Aggressiveness, Strategy, Urgency
from metaorder.orders.normalize import IntakeDefaults
from metaorder.orders.risk import RiskEngine, RiskLimits
from metaorder.snapshot import SnapshotError, build_fingerprint, restore, usable_snapshot

log = structlog.get_logger("metaorder.wiring")


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
    book = ParentBook(references.get, aggregate=intake_cfg.aggregate, net=intake_cfg.net)
    return Intake(references, risk, journal, book, defaults)


def venue_infos(config: MetaorderConfig, embedded: VenuesConfig | None) -> dict[str, VenueInfo]:
    """What the router knows of each venue: the embedded simulated ones and the external ones."""
    infos: dict[str, VenueInfo] = {}
    for v in embedded.venue if embedded is not None else ():
        infos[v.name] = VenueInfo(v.name, VenueKind(v.kind), v.maker_fee, v.taker_fee, v.ack_latency_ms,
                                  min_order_qty=v.min_order_qty, max_order_qty=v.max_order_qty,
                                  max_notional=v.max_notional, odd_lots=v.odd_lots,
                                  order_types=frozenset(v.order_types), time_in_force=frozenset(v.time_in_force),
                                  allow_min_qty=v.allow_min_qty)
    for x in config.execution.venue:
        infos[x.name] = VenueInfo(x.name, VenueKind(x.kind), x.maker_fee, x.taker_fee, x.latency_ms,
                                  min_order_qty=max(x.min_qty, 1), max_order_qty=x.max_order_qty,
                                  max_notional=x.max_notional, odd_lots=x.odd_lots,
                                  order_types=frozenset(x.order_types), time_in_force=frozenset(x.time_in_force),
                                  allow_min_qty=x.allow_min_qty)
    return infos


def build_strategies(execution: ExecutionSettingsModel, tables: Mapping[str, Mapping[str, Any]] | None = None,
                     context: StrategyContext | None = None) -> StrategyRegistry:
    """Every registered strategy with its tunables, refused at start-up when wrong.

    A kind's tunables are its ``[strategy.<kind>]`` table (``tables``); TWAP's may also come from the
    older ``[execution.twap]``, which the newer table overrides name by name."""
    tables = {kind.upper(): dict(values) for kind, values in (tables or {}).items()}
    unknown = sorted(set(tables) - set(STRATEGIES))
    if unknown:
        raise ConfigError(f"strategy.{unknown[0].lower()}: unknown strategy (known: "
                          f"{', '.join(k.lower() for k in STRATEGIES)})")
    tunables = {kind: {**(getattr(execution, kind.lower(), None) or {}), **tables.get(kind, {})} for kind in STRATEGIES}
    try:
        return StrategyRegistry(tunables, context=context)
    except StrategySettingsError as exc:
        where = "strategy" if exc.kind in tables or exc.kind != "TWAP" else "execution"
        raise ConfigError(f"{where}.{exc.kind.lower()}: {exc}") from exc


def build_models(config: MetaorderConfig, profiles_path: Path | None = None) -> StrategyContext:
    """What the strategies learn from market data: the intraday volume profiles (VWAP), loaded from
    ``profiles_path`` when given (the daemon's; a simulation starts from the configured shape so its
    figures do not depend on what an earlier run learned)."""
    vwap = build_strategies(config.execution, config.strategy).settings("VWAP")
    assert isinstance(vwap, VwapSettings)
    settings = vwap.profile_settings()
    profiles = load_profiles(profiles_path, settings) if profiles_path is not None else ProfileBook(settings)
    session_s = float(settings.session_close_s - settings.session_open_s)
    priors = {i.symbol: InstrumentPrior(i.symbol, i.reference_price, i.tick_size, i.daily_volatility, i.daily_volume,
                                        session_s) for i in config.instrument}
    return StrategyContext(profiles=profiles, models=InstrumentModels(priors))


def load_profiles(path: Path, settings: ProfileSettings) -> ProfileBook:
    """The saved volume profiles, or the configured shape when the file cannot be read: they are an
    optimisation of VWAP's schedule, not a reason to stay down.  An unreadable file is moved aside
    (kept for a look, not overwritten by the next save) and said so."""
    try:
        return ProfileBook.load(path, settings)
    except (ValueError, OSError) as exc:
        aside = path.with_name(f"{path.name}.unreadable")
        log.warning("volume profiles unreadable: starting from the configured shape", path=str(path),
                    error=str(exc), moved_to=str(aside))
        with contextlib.suppress(OSError):  # not movable either: the next save replaces it
            path.replace(aside)
        return ProfileBook(settings)


MIN_QUOTE_INTERVAL_S = 1.0  # the cost model samples the mid every few seconds: no need to tell it more often


def learn_from_market(market: ConsolidatedMarket, context: StrategyContext) -> None:
    """Feed the market's prints and quotes to the models in ``context``."""
    profiles, models = context.profiles, context.models
    if isinstance(profiles, ProfileBook):
        market.trade_listeners.append(lambda symbol, price, size, now: profiles.on_trade(symbol, size, now))
    if isinstance(models, InstrumentModels):
        market.trade_listeners.append(models.observe_trade)

        told: dict[str, float] = {}

        def quote(symbol: str, now: float) -> None:
            # A book changes many times a second; the consolidated quote is worth computing for the
            # model only as often as it samples (the event loop is the intake's too).
            if now - told.get(symbol, -MIN_QUOTE_INTERVAL_S) < MIN_QUOTE_INTERVAL_S:
                return
            bid, ask = market.best_bid(symbol), market.best_ask(symbol)
            if bid is not None and ask is not None and bid < ask:
                told[symbol] = now
                models.observe_quote(symbol, bid, ask, now)

        market.quote_listeners.append(quote)


def build_engine(config: MetaorderConfig, intake: Intake, venues: Mapping[str, VenueInfo],
                 strategies: StrategyRegistry | None = None, context: StrategyContext | None = None) -> ExecutionEngine:
    """The execution pipeline behind the intake: market view, strategies, venue scorecard, the router
    and its routing map, parent control."""
    e = config.execution
    # The config model and the engine's settings share their field names: copied by name, never by position.
    settings = ExecutionSettings(**e.model_dump(include={f.name for f in dataclasses.fields(ExecutionSettings)}))
    # Where the window of an order without ExpireTime ends: the close, else the end of the trading day.
    settings = dataclasses.replace(settings, trading_day_start_s=config.intake.trading_day_start_s,
                                   market_close_s=e.market_close_s)
    instruments = {i.symbol: InstrumentRules(i.symbol, i.tick_size, i.lot_size) for i in config.instrument}
    if context is None:
        context = build_models(config)
    if strategies is None:
        strategies = build_strategies(e, config.strategy, context)
    market = ConsolidatedMarket(venues)
    learn_from_market(market, context)
    try:
        card_settings = ScorecardSettings.from_mapping(config.scorecard)
    except ValueError as exc:
        raise ConfigError(f"scorecard: {exc}") from exc
    # The scorecard learns from every child the engine journals (and from the journal at recovery);
    # its mids for markouts come once recovery is over (start_pipeline), so replayed fills invent none.
    card = Scorecard(venues, card_settings)
    try:
        routing = RoutingSettings.from_mapping(config.routing)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    router = SmartRouter(card, routing)  # the logics rank venues by what the scorecard learned
    engine = ExecutionEngine(intake, market, venues, router, ParentGuard(), instruments, settings,
                             strategies, scorecard=card, routing_map=routing.choose)
    references = {i.symbol: i.reference_price for i in config.instrument}

    def midpoint(symbol: str) -> Decimal | None:
        """Internal crosses happen at the live consolidated midpoint; the reference price before any quote."""
        mid = market.mid(symbol)
        return mid if mid is not None else references.get(symbol)

    intake.book.mid_source = midpoint
    # The ack names the live mid (never the reference price), journaled then as TCA's arrival benchmark.
    intake.describe = Describer(settings.default_end, arrival_mid=lambda o: engine.arrival_mid(o.symbol, o.arrival))
    return engine


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The intake and the engine, recovered from the journal and started."""

    intake: Intake
    engine: ExecutionEngine
    context: StrategyContext  # the models the strategies learn (the daemon saves the volume profiles)
    replayed: int  # journal entries replayed
    open_children: int  # child orders still open at venues after recovery (to reconcile)
    snapshot_seq: int = 0  # the journal entry the recovery snapshot restored was taken at (0: none)
    snapshot_note: str = ""  # why no snapshot was used, when one was looked for


def start_pipeline(config: MetaorderConfig, journal: Journal, venues: Mapping[str, VenueInfo], now: float,
                   strategies: StrategyRegistry | None = None, profiles_path: Path | None = None,
                   snapshot: Path | None = None) -> Pipeline:
    """Build the intake and the engine, rebuild both from the journal in one pass, and start them at ``now``.

    ``strategies``: another registry than the configuration's (the execution lab's baseline);
    ``profiles_path``: where learned volume profiles are kept (the daemon's; None: start from the default);
    ``snapshot``: a recovery snapshot file (:mod:`metaorder.snapshot`): when it is usable, its fold
    state is restored and only the journal entries after it are replayed; otherwise all of them."""
    intake = build_intake(config, journal)
    context = strategies.context if strategies is not None else build_models(config, profiles_path)
    engine = build_engine(config, intake, venues, strategies, context)
    after, note = restore_snapshot(snapshot, journal, intake, engine) if snapshot is not None else (0, "")
    replayed = intake.recover(also=engine.apply, after=after)  # one pass over the journal, decoded once, rebuilds both
    open_children = engine.finish_recovery()
    if isinstance(engine.scorecard, Scorecard):
        engine.scorecard.finish_recovery(engine.market.mid)  # live from here: fills get their markouts
    intake.start(now)
    engine.start(intake.boot)
    return Pipeline(intake, engine, context, replayed, open_children, after, note)


def restore_snapshot(path: Path, journal: Journal, intake: Intake, engine: ExecutionEngine) -> tuple[int, str]:
    """Restore the recovery snapshot at ``path`` into a new intake and engine if it is usable;
    returns the journal seq to replay after (0: the whole journal) and, when none was used, why."""
    try:
        found = usable_snapshot(path, journal, build_fingerprint())
    except SnapshotError as exc:
        return 0, str(exc)
    restore(found, intake, engine)
    return found.header.seq, ""
