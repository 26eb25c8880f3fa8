"""The configurations shipped with metaorder load, and the container's say what the default ones say."""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest

from metaorder.config import ConfigError, load_config, load_venues_config

ROOT = Path(__file__).resolve().parents[2]


def _as_deployed(config_file: Path, tmp: Path) -> dict[str, Any]:
    """The config loaded as its deployment sees it (from ``<project>/configs/metaorder.toml``, where
    both the checkout and the image keep it), its paths relative to the project directory: the
    checkout's and the container's can then be compared setting by setting."""
    project = tmp / config_file.parent.name
    (project / "configs").mkdir(parents=True)
    shutil.copyfile(config_file, project / "configs" / "metaorder.toml")
    base = project.resolve()

    def relative(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: relative(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [relative(v) for v in value]
        if isinstance(value, Path) and value.is_relative_to(base):
            return value.relative_to(base).as_posix()
        return value

    dumped = relative(load_config(project / "configs" / "metaorder.toml").model_dump())
    assert isinstance(dumped, dict)
    return dumped


def test_the_docker_config_is_the_default_one_but_for_each_intended_difference(tmp_path: Path) -> None:
    """Every difference between docker/metaorder.toml and configs/metaorder.toml is listed here; a
    setting changed in one file and not the other fails (the risk limits of the container drifting
    from the checkout's, say)."""
    default = _as_deployed(ROOT / "configs" / "metaorder.toml", tmp_path)
    docker = _as_deployed(ROOT / "docker" / "metaorder.toml", tmp_path)
    expected = copy.deepcopy(default)
    # Inside a container 127.0.0.1 is not reachable through a published port.
    expected["acceptor"]["host"] = "0.0.0.0"
    expected["dropcopy"]["host"] = "0.0.0.0"
    # The health check and the ops dashboards need the metrics endpoint, on the port compose publishes.
    expected["metrics"].update(enabled=True, host="0.0.0.0", port=9879)
    expected["logging"]["format"] = "json"  # one object per line for the container log
    # The venues are a service of their own (docker/compose.yml), not embedded: compared just below.
    expected["execution"]["embedded_venues"] = None
    expected["execution"]["venue"] = docker["execution"]["venue"]
    assert docker == expected


def test_the_docker_engine_knows_the_venues_service_as_the_default_one_knows_its_embedded_venues() -> None:
    """Same fees, latency priors and rules for the router, whether the venues run inside the daemon
    (make run) or as the compose stack's `venues` service; and they are the same venues."""
    from metaorder.wiring import venue_infos

    default = load_config(ROOT / "configs" / "metaorder.toml")
    docker = load_config(ROOT / "docker" / "metaorder.toml")
    assert default.execution.embedded_venues is not None
    embedded = load_venues_config(default.execution.embedded_venues)
    assert venue_infos(docker, None) == venue_infos(default, embedded)
    service = load_venues_config(ROOT / "docker" / "venues.toml")
    assert {(x.name, x.kind, x.comp_id, x.port) for x in docker.execution.venue} == {
        (v.name, v.kind, v.comp_id, v.port) for v in service.venue}


def test_the_docker_venues_are_the_default_venues_listening_on_all_interfaces_with_json_logs() -> None:
    default = load_venues_config(ROOT / "configs" / "venues.toml")
    docker = load_venues_config(ROOT / "docker" / "venues.toml")
    assert {v.host for v in docker.venue} == {"0.0.0.0"} and docker.logging.format == "json"
    as_default = docker.model_copy(update={
        "venue": [v.model_copy(update={"host": "127.0.0.1"}) for v in docker.venue], "logging": default.logging})
    assert as_default == default


def test_the_default_config_trades_the_instruments_its_embedded_venues_list() -> None:
    default = load_config(ROOT / "configs" / "metaorder.toml")
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    symbols = {i.symbol: (i.tick_size, i.lot_size) for i in venues.instrument}
    assert {i.symbol: (i.tick_size, i.lot_size) for i in default.instrument} == symbols


def test_every_execution_setting_reaches_the_engine_under_its_own_name() -> None:
    from metaorder.orders.journal import MemoryJournal
    from metaorder.wiring import build_engine, build_intake

    config = load_config(ROOT / "configs" / "metaorder.toml")
    execution = config.execution.model_copy(update={"seed": 42, "expiry_grace_s": 3.5, "stale_market_s": 7.0,
                                                    "passive_max_age_s": 11.0, "reject_cooldown_s": 2.5,
                                                    "max_idle_s": 0.75, "market_close": dt.time(20, 30)})
    intake = config.intake.model_copy(update={"trading_day_start": dt.time(22, 0)})
    config = config.model_copy(update={"execution": execution, "intake": intake})
    engine = build_engine(config, build_intake(config, MemoryJournal()), {})
    s = engine.settings
    assert (s.seed, s.expiry_grace_s, s.stale_market_s, s.passive_max_age_s, s.reject_cooldown_s, s.max_idle_s,
            s.market_close_s, s.trading_day_start_s) == (42, 3.5, 7.0, 11.0, 2.5, 0.75, 20 * 3600 + 1800, 22 * 3600)


def test_an_order_without_expire_time_is_worked_until_the_end_of_the_trading_day_by_default() -> None:
    """The README's "end of day", not a fixed few minutes: the shipped config has no market_close, so
    the window ends at the next trading_day_start (00:00 UTC)."""
    from metaorder.orders.journal import MemoryJournal
    from metaorder.wiring import build_engine, build_intake

    config = load_config(ROOT / "configs" / "metaorder.toml")
    assert config.execution.market_close is None
    s = build_engine(config, build_intake(config, MemoryJournal()), {}).settings
    nine_am = 1_767_258_000.0  # 2026-01-01 09:00 UTC
    assert s.default_end(nine_am) == 1_767_312_000.0  # 2026-01-02 00:00 UTC


def test_a_bad_market_close_is_refused_in_one_line(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "metaorder.toml").read_text()
    assert '# market_close = "20:00"' in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('# market_close = "20:00"', 'market_close = "24:30"'))
    with pytest.raises(ConfigError, match=r"execution\.market_close") as info:
        load_config(bad)
    assert "\n" not in str(info.value)


def test_the_trading_day_start_reaches_the_intake_and_a_bad_one_is_refused_in_one_line(tmp_path: Path) -> None:
    from metaorder.orders.journal import MemoryJournal
    from metaorder.wiring import build_intake

    text = (ROOT / "configs" / "metaorder.toml").read_text()
    assert 'trading_day_start = "00:00"' in text
    good = tmp_path / "good.toml"
    good.write_text(text.replace('trading_day_start = "00:00"', 'trading_day_start = "22:30"'))
    intake = build_intake(load_config(good), MemoryJournal())
    assert intake.defaults.trading_day_start_s == 22 * 3600 + 30 * 60
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('trading_day_start = "00:00"', 'trading_day_start = "25:00"'))
    with pytest.raises(ConfigError, match=r"intake\.trading_day_start") as info:
        load_config(bad)
    assert "\n" not in str(info.value)


def test_the_shipped_venues_say_which_take_odd_lots_and_the_router_learns_it() -> None:
    """ATLX and CYGX take odd lots, BORX and the dark pools do not (configs/venues.toml)."""
    from metaorder.wiring import venue_infos

    config = load_config(ROOT / "configs" / "metaorder.toml")
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    assert {v.name: v.odd_lots for v in venues.venue} == {
        "ATLX": True, "BORX": False, "CYGX": True, "UMBRA": False, "NOCT": False}
    infos = venue_infos(config, venues)
    assert {name: info.odd_lots for name, info in infos.items()} == {v.name: v.odd_lots for v in venues.venue}
    from metaorder.config import ExternalVenue

    external = [ExternalVenue(name="X", port=9999, comp_id="X", odd_lots=True),
                ExternalVenue(name="Y", port=9998, comp_id="Y")]
    config = config.model_copy(update={"execution": config.execution.model_copy(update={"venue": external})})
    assert {n: i.odd_lots for n, i in venue_infos(config, None).items()} == {"X": True, "Y": False}


def test_every_session_setting_reaches_the_fix_session_config_under_its_own_name() -> None:
    """A setting in ``[[acceptor.sessions]]`` that never reached the session would be silently ignored."""
    from metaorder.config import SessionSettings
    from metaorder.fix.session import Role

    settings = SessionSettings(target_comp_id="OMS9", heartbeat_interval=7, resend_request_chunk_size=3,
                               resend_request_timeout=4.5, logon_timeout=3.0, max_latency=9.0)
    config = settings.session_config("METAORDER", Role.ACCEPTOR)
    assert (config.target_comp_id, config.heartbeat_interval, config.resend_request_chunk_size) == ("OMS9", 7, 3)
    assert (config.resend_request_timeout, config.logon_timeout, config.max_latency) == (4.5, 3.0, 9.0)
    assert SessionSettings(target_comp_id="X").session_config("M", Role.ACCEPTOR).resend_request_timeout is None
    with pytest.raises(ValueError, match="resend_request_timeout"):
        SessionSettings(target_comp_id="X", resend_request_timeout=-1)
