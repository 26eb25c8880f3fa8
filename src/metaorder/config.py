"""Configuration files (TOML), validated once at start-up with pydantic and passed down.

Each setting's QuickFIX name is given beside it (and in the README) so FIX engineers recognise
them; the values mean what they mean in QuickFIX.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from metaorder.fix.dictionary import ValidationOptions
from metaorder.fix.schedule import SessionSchedule
from metaorder.fix.session import Role, SessionConfig
from metaorder.orders.risk import RiskLimits


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which file and which setting."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionSettings(_Strict):
    target_comp_id: str = Field(min_length=1)  # TargetCompID
    heartbeat_interval: int = Field(30, ge=0, le=3600)  # HeartBtInt
    reset_on_logon: bool = False  # ResetOnLogon
    reset_on_logout: bool = False  # ResetOnLogout
    reset_on_disconnect: bool = False  # ResetOnDisconnect
    logon_timeout: float = Field(10.0, gt=0)  # LogonTimeout
    logout_timeout: float = Field(2.0, gt=0)  # LogoutTimeout
    check_latency: bool = True  # CheckLatency
    max_latency: float = Field(120.0, gt=0)  # MaxLatency
    resend_request_chunk_size: int = Field(0, ge=0)  # ResendRequestChunkSize
    # Our ResendRequest unanswered this long (no progress on the gap): ask again for what is missing.
    # None: the HeartBtInt in force (30 s without heartbeats); 0: never ask again.
    resend_request_timeout: float | None = Field(None, ge=0)
    username: str | None = None  # (Username 553)
    password: str | None = None  # (Password 554)
    start_time: dt.time | None = None  # StartTime (UTC)
    end_time: dt.time | None = None  # EndTime (UTC)
    validate_user_defined_fields: bool = True  # ValidateUserDefinedFields
    allow_unknown_message_fields: bool = False  # AllowUnknownMsgFields

    @model_validator(mode="after")
    def _window(self) -> SessionSettings:
        if (self.start_time is None) != (self.end_time is None):
            raise ValueError("start_time and end_time go together")
        return self

    def session_config(
        self, sender_comp_id: str, role: Role, supported: frozenset[str] | None = None
    ) -> SessionConfig:
        schedule = None
        if self.start_time is not None and self.end_time is not None:
            schedule = SessionSchedule(self.start_time, self.end_time)
        return SessionConfig(
            sender_comp_id=sender_comp_id,
            target_comp_id=self.target_comp_id,
            role=role,
            heartbeat_interval=self.heartbeat_interval,
            reset_on_logon=self.reset_on_logon,
            reset_on_logout=self.reset_on_logout,
            reset_on_disconnect=self.reset_on_disconnect,
            logon_timeout=self.logon_timeout,
            logout_timeout=self.logout_timeout,
            check_latency=self.check_latency,
            max_latency=self.max_latency,
            resend_request_chunk_size=self.resend_request_chunk_size,
            resend_request_timeout=self.resend_request_timeout,
            username=self.username,
            password=self.password,
            supported_app_types=supported,
            validation=ValidationOptions(
                check_user_defined_fields=self.validate_user_defined_fields,
                allow_unknown_message_fields=self.allow_unknown_message_fields,
            ),
            schedule=schedule,
        )


class AcceptorSettings(_Strict):
    host: str = "127.0.0.1"  # SocketAcceptHost
    port: int = Field(9876, ge=0, le=65535)  # SocketAcceptPort
    sender_comp_id: str = Field("METAORDER", min_length=1)  # SenderCompID
    max_message_size: int = Field(1 << 20, ge=256)
    sessions: list[SessionSettings] = Field(min_length=1)


class StoreSettings(_Strict):
    path: Path = Path("var/metaorder.db")  # FileStorePath (one SQLite file for all sessions)
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"


class LoggingSettings(_Strict):
    format: Literal["console", "json"] = "console"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class TradableInstrument(_Strict):
    symbol: str = Field(min_length=1)
    reference_price: Decimal = Field(gt=0)  # risk collars, and the netting midpoint before any quote
    tick_size: Decimal = Field(Decimal("0.01"), gt=0)  # child order prices are rounded onto this grid
    # Client orders are any whole number of shares; children and allocations are whole lots except a
    # parent's odd remainder (sent only to venues with odd_lots) and odd prints (README, Execution).
    lot_size: int = Field(1, ge=1)
    # Priors of the instrument's cost model (IS, `metaorder estimate`): used until market data says
    # better, and documented in execution/impact_model.py.  None: that model's defaults.
    daily_volatility: float | None = Field(None, gt=0, lt=1)  # a fraction of the price per trading day (0.02)
    daily_volume: int | None = Field(None, gt=0)  # shares per trading day


class ExternalVenue(_Strict):
    """A FIX venue the engine connects to as an initiator (a real one, or `metaorder venues`)."""

    name: str = Field(min_length=1)
    kind: Literal["lit", "dark"] = "lit"
    host: str = "127.0.0.1"  # SocketConnectHost
    port: int = Field(ge=1, le=65535)  # SocketConnectPort
    comp_id: str = Field(min_length=1)  # TargetCompID of the venue session
    heartbeat_interval: int = Field(30, ge=1, le=3600)  # HeartBtInt
    maker_fee: Decimal = Decimal(0)  # per share; negative is a rebate
    taker_fee: Decimal = Decimal(0)
    latency_ms: float = Field(1.0, ge=0)
    # The venue's rules, so that the router never sends what it would reject (README, Routing):
    min_qty: int = Field(0, ge=0)  # smallest OrderQty (a block pool's minimum size; 0: none)
    max_order_qty: int | None = Field(None, ge=1)  # largest OrderQty (None: no limit)
    max_notional: Decimal | None = Field(None, gt=0)  # largest OrderQty x Price (None: no limit)
    odd_lots: bool = False  # takes orders that are not whole lots: gets a parent's odd remainder
    # "pegged": midpoint pegs (OrdType P, ExecInst M), what the liquidity-seeking router sends dark pools
    order_types: tuple[Literal["limit", "market", "pegged"], ...] = Field(("limit", "market"), min_length=1)
    time_in_force: tuple[Literal["day", "gtc", "ioc", "fok"], ...] = Field(("day", "gtc", "ioc", "fok"), min_length=1)
    allow_min_qty: bool = True  # accepts MinQty (110)


class ExecutionSettingsModel(_Strict):
    # An order without ExpireTime (126) is worked until the market close (UTC), the first after its
    # arrival; without one, until the end of the trading day ([intake] trading_day_start).
    market_close: dt.time | None = None
    passive_max_age_s: float = Field(20.0, gt=0)  # resting passive children older than this are re-decided
    reject_cooldown_s: float = Field(5.0, ge=0)  # a venue that rejected a child is avoided meanwhile
    max_idle_s: float = Field(1.0, gt=0)  # a parent whose strategy named no wake-up is looked at this often
    min_decision_interval_s: float = Field(0.2, ge=0)  # a fill re-decides its parent, but not more often
    stale_market_s: float = Field(30.0, gt=0)  # a lit venue quiet this long is asked for a fresh snapshot
    md_answer_timeout_s: float = Field(5.0, gt=0)  # ... and not routed to if it does not answer within this
    expiry_grace_s: float = Field(2.0, ge=0)  # an order is expired this long after its ExpireTime
    seed: int = 1  # strategies' randomized timing
    market_sample_s: float = Field(1.0, ge=0)  # journal each symbol's market (TCA's tape) at most this often; 0: never
    # Simulated venues started inside the daemon (a venues.toml, ports replaced by free ones); None: only
    # the [[execution.venue]] list.
    embedded_venues: Path | None = None
    venue: list[ExternalVenue] = Field(default_factory=list)
    # TWAP tunables: slice_interval (target s between slices), min_slices and max_slices (the slice count's
    # bounds, whatever the window), min_slice_interval (s), jitter (fraction of a slice), retry_interval (s).
    twap: dict[str, float] = Field(default_factory=dict)
    # Where the learned intraday volume profiles (VWAP) are kept across restarts.
    volume_profiles: Path = Path("var/volume-profiles.json")
    reconnect_min_s: float = Field(1.0, gt=0)  # ReconnectInterval (doubling up to reconnect_max_s)
    reconnect_max_s: float = Field(30.0, gt=0)

    @property
    def market_close_s(self) -> int | None:
        """Seconds after UTC midnight (None: no close configured)."""
        t = self.market_close
        return None if t is None else t.hour * 3600 + t.minute * 60 + t.second


class ControlSettings(_Strict):
    socket: Path = Path("var/metaorder.ctl")  # Unix socket of `metaorder ctl` (kill switches, status)


class DropCopySettings(_Strict):
    """Present in the file: the drop-copy acceptor runs (configs/metaorder.toml has it)."""

    host: str = "127.0.0.1"
    port: int = Field(9877, ge=0, le=65535)
    target_comp_id: str = Field("DROPCOPY", min_length=1)


class MetricsSettings(_Strict):
    """The HTTP endpoint for operators: Prometheus ``/metrics``, ``/healthz`` and ``/readyz``."""

    enabled: bool = True
    host: str = "127.0.0.1"  # 0.0.0.0 in a container, so that the scraper and the health check reach it
    port: int = Field(9879, ge=0, le=65535)  # 0: a free port (logged as "metrics listening")


class IntakeSettings(_Strict):
    default_strategy: Literal["TWAP", "VWAP", "IS", "POV"] = "TWAP"  # when TargetStrategy (847) is absent
    default_urgency: Literal["LOW", "MEDIUM", "HIGH"] = "MEDIUM"
    default_aggressiveness: Literal["PASSIVE", "NEUTRAL", "AGGRESSIVE"] = "NEUTRAL"
    default_participation_rate: Decimal | None = Field(None, gt=0, le=1)
    # When a trading day begins (UTC): ClOrdIDs are unique per session and trading day, so from
    # then on an OMS may reuse the ClOrdIDs of yesterday's finished orders.
    trading_day_start: dt.time = dt.time(0, 0)
    # Both on in production: compatible orders are worked as one parent, and opposite orders are
    # crossed internally at the midpoint.  The execution lab turns them off for its baseline.
    aggregate: bool = True
    net: bool = True

    @property
    def trading_day_start_s(self) -> int:
        """Seconds after UTC midnight."""
        t = self.trading_day_start
        return t.hour * 3600 + t.minute * 60 + t.second


class RiskSettings(RiskLimits):
    """Global pre-trade limits, with per-session overrides under ``[risk.session.<CompID>]``."""

    session: dict[str, RiskLimits] = Field(default_factory=dict)


class JournalSettings(_Strict):
    path: Path = Path("var/journal.db")
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    # A recovery snapshot (<path>.snapshot) every this many entries, written by a child process
    # (metaorder.snapshotter): a restart replays only the entries after it.  0: no snapshots.
    snapshot_every: int = Field(default=50_000, ge=0)


class MetaorderConfig(_Strict):
    dictionary: Path | None = None  # DataDictionary (QuickFIX XML); built-in FIX 4.4 when absent
    acceptor: AcceptorSettings
    store: StoreSettings = StoreSettings()
    journal: JournalSettings = JournalSettings()
    logging: LoggingSettings = LoggingSettings()
    intake: IntakeSettings = IntakeSettings()
    risk: RiskSettings = RiskSettings()
    instrument: list[TradableInstrument] = Field(default_factory=list)
    execution: ExecutionSettingsModel = ExecutionSettingsModel()
    # Each strategy's tunables and defaults: [strategy.twap], [strategy.vwap], [strategy.is], [strategy.pov]
    # (names and meanings in README, "Strategies"); checked by the strategy registry at start-up.
    strategy: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # The routing logics' tunables and the Urgency x Aggressiveness map ([routing], [routing.map]) and the
    # venue scorecard's ([scorecard]): checked by their settings classes at start-up (README, Routing).
    routing: dict[str, Any] = Field(default_factory=dict)
    scorecard: dict[str, Any] = Field(default_factory=dict)
    dropcopy: DropCopySettings | None = None
    control: ControlSettings = ControlSettings()
    metrics: MetricsSettings = MetricsSettings()


_Model = TypeVar("_Model", bound=BaseModel)


def _load(path: str | Path, model: type[_Model]) -> _Model:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}" if where else f"{path}: {first['msg']}") from exc


def load_config(path: str | Path) -> MetaorderConfig:
    path = Path(path)
    config = _load(path, MetaorderConfig)
    base = path.parent.parent if path.parent.name == "configs" else path.parent
    store = config.store
    if not store.path.is_absolute():
        store = store.model_copy(update={"path": base / store.path})
    journal = config.journal
    if not journal.path.is_absolute():
        journal = journal.model_copy(update={"path": base / journal.path})
    dictionary = config.dictionary
    if dictionary is not None and not dictionary.is_absolute():
        dictionary = base / dictionary
    execution = config.execution
    if execution.embedded_venues is not None and not execution.embedded_venues.is_absolute():
        execution = execution.model_copy(update={"embedded_venues": base / execution.embedded_venues})
    if not execution.volume_profiles.is_absolute():
        execution = execution.model_copy(update={"volume_profiles": base / execution.volume_profiles})
    control = config.control
    if not control.socket.is_absolute():
        control = control.model_copy(update={"socket": base / control.socket})
    return config.model_copy(update={"store": store, "journal": journal, "dictionary": dictionary,
                                     "execution": execution, "control": control})


# ---- simulated venues (configs/venues.toml) -----------------------------------------------------


class InstrumentSettings(_Strict):
    symbol: str = Field(min_length=1)
    tick_size: Decimal = Field(Decimal("0.01"), gt=0)
    lot_size: int = Field(1, ge=1)
    reference_price: Decimal = Field(gt=0)
    daily_volatility: float = Field(0.02, gt=0, lt=1)  # sigma of daily log returns
    daily_volume: int = Field(5_000_000, gt=0)  # shares a day, all venues: the impact law's V


class VenueSettings(_Strict):
    name: str = Field(min_length=1)
    kind: Literal["lit", "dark"]
    host: str = "127.0.0.1"
    port: int = Field(ge=0, le=65535)
    comp_id: str = Field(min_length=1)  # SenderCompID of the venue
    counterparties: tuple[str, ...] = Field(("METAORDER", "TRADER"), min_length=1)
    instruments: list[str] | None = None  # None: every configured instrument
    maker_fee: Decimal = Decimal("-0.0020")  # per share; negative is a rebate
    taker_fee: Decimal = Decimal("0.0030")
    ack_latency_ms: float = Field(0.5, ge=0)
    fill_latency_ms: float = Field(0.5, ge=0)
    min_order_qty: int = Field(1, ge=1)
    max_order_qty: int = Field(1_000_000, ge=1)
    max_notional: Decimal = Field(Decimal("50000000"), gt=0)
    # "pegged": midpoint pegs (OrdType P with ExecInst M; dark pools only)
    order_types: tuple[Literal["limit", "market", "pegged"], ...] = Field(("limit", "market"), min_length=1)
    time_in_force: tuple[Literal["day", "gtc", "ioc", "fok"], ...] = Field(("day", "gtc", "ioc", "fok"), min_length=1)
    allow_min_qty: bool = True
    odd_lots: bool = False  # accepts orders that are not whole lots (else rejected, Text saying so)
    status: Literal["open", "halted", "closed"] = "open"
    # lit venues: the background liquidity providers' quoting and this venue's share of the takers
    half_spread_ticks: float = Field(0.5, ge=0)  # quoted spread = max(1, round(2 x this)) ticks
    depth_levels: int = Field(10, ge=1)  # price levels per side, one tick apart
    level_size_fraction: float = Field(5e-4, gt=0)  # shares per level / the instrument's daily volume
    taker_share: float = Field(1.0, ge=0)  # weight of this venue in the background taker flow
    # dark pools: contra interest arriving at the midpoint
    contra_rate_per_min: float = Field(6.0, gt=0)
    contra_size_median: int = Field(400, ge=1)
    contra_size_sigma: float = Field(1.0, ge=0)
    # mean seconds an unmatched contra rests hidden (exponential lifetime) before it leaves; 0: it
    # vanishes at once.  Resting contra is what lets an IOC midpoint order meet earlier liquidity.
    contra_rest_s: float = Field(0.0, ge=0)
    # The share of the square-root impact our fills on this venue cause (1: all of it, as a lit print).
    # A dark midpoint cross with a natural counterparty neither consumes displayed depth nor shows on a
    # book before it happens; how much it still moves the price is a modelling choice (README).
    impact_weight: float = Field(1.0, ge=0, le=1)


class MarketSettings(_Strict):
    seed: int = 7
    session_hours: float = Field(6.5, gt=0, le=24)  # the simulated session starts when the process does
    impact_y: float = Field(0.7, ge=0)  # square-root law: impact = Y * sigma_daily * sqrt(Q / daily volume)
    impact_memory_half_life_s: float = Field(3600.0, gt=0)
    taker_volume_fraction: float = Field(1.0, ge=0)  # background taker volume / daily volume
    taker_u_shape: float = Field(2.0, ge=0)  # open and close are (1 + this) x as busy as mid-session
    taker_median_size_fraction: float = Field(2.5e-5, gt=0)  # median taker order / daily volume
    resilience_half_life_s: float = Field(10.0, gt=0)  # half of consumed depth is re-quoted in this time


class VenuesConfig(_Strict):
    market: MarketSettings = MarketSettings()
    instrument: list[InstrumentSettings] = Field(min_length=1)
    venue: list[VenueSettings] = Field(min_length=1)
    logging: LoggingSettings = LoggingSettings()

    @model_validator(mode="after")
    def _consistent(self) -> VenuesConfig:
        symbols = {i.symbol for i in self.instrument}
        if len(symbols) != len(self.instrument):
            raise ValueError("instrument symbols must be unique")
        names = [v.name for v in self.venue]
        if len(set(names)) != len(names):
            raise ValueError("venue names must be unique")
        ports = [v.port for v in self.venue if v.port]
        if len(set(ports)) != len(ports):
            raise ValueError("venue ports must be unique")
        for v in self.venue:
            if v.kind == "lit" and "pegged" in v.order_types:
                raise ValueError(f"venue {v.name}: pegged (midpoint) orders are for dark pools only")
            unknown = set(v.instruments or ()) - symbols
            if unknown:
                raise ValueError(f"venue {v.name}: unknown instruments {sorted(unknown)}")
        return self


def load_venues_config(path: str | Path) -> VenuesConfig:
    return _load(path, VenuesConfig)
