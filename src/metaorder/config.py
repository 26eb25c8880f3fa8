"""Configuration files (TOML), validated once at start-up with pydantic and passed down.

Each setting's QuickFIX name is given beside it (and in the README) so FIX engineers recognise
them; the values mean what they mean in QuickFIX.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from metaorder.fix.dictionary import ValidationOptions
from metaorder.fix.schedule import SessionSchedule
from metaorder.fix.session import Role, SessionConfig


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


class MetaorderConfig(_Strict):
    dictionary: Path | None = None  # DataDictionary (QuickFIX XML); built-in FIX 4.4 when absent
    acceptor: AcceptorSettings
    store: StoreSettings = StoreSettings()
    logging: LoggingSettings = LoggingSettings()


def load_config(path: str | Path) -> MetaorderConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = MetaorderConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
    base = path.parent.parent if path.parent.name == "configs" else path.parent
    store = config.store
    if not store.path.is_absolute():
        store = store.model_copy(update={"path": base / store.path})
    dictionary = config.dictionary
    if dictionary is not None and not dictionary.is_absolute():
        dictionary = base / dictionary
    return config.model_copy(update={"store": store, "dictionary": dictionary})
