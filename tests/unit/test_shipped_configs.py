"""The configurations shipped with metaorder load, and the container's says what the default one says."""

from __future__ import annotations

from pathlib import Path

import pytest

from metaorder.config import ConfigError, load_config, load_venues_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_and_the_docker_configs_load_and_agree_but_for_listening_addresses_and_log_format() -> None:
    default = load_config(ROOT / "configs" / "metaorder.toml")
    docker = load_config(ROOT / "docker" / "metaorder.toml")
    assert docker.acceptor.host == "0.0.0.0" and docker.dropcopy is not None and docker.dropcopy.host == "0.0.0.0"
    assert docker.instrument == default.instrument and docker.risk == default.risk
    assert docker.intake == default.intake
    assert docker.execution.model_dump(exclude={"embedded_venues"}) == default.execution.model_dump(
        exclude={"embedded_venues"})
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    symbols = {i.symbol: (i.tick_size, i.lot_size) for i in venues.instrument}
    assert {i.symbol: (i.tick_size, i.lot_size) for i in default.instrument} == symbols


def test_every_execution_setting_reaches_the_engine_under_its_own_name() -> None:
    from metaorder.daemon import build_engine, build_intake
    from metaorder.orders.journal import MemoryJournal

    config = load_config(ROOT / "configs" / "metaorder.toml")
    execution = config.execution.model_copy(update={"seed": 42, "expiry_grace_s": 3.5, "stale_market_s": 7.0,
                                                    "passive_max_age_s": 11.0, "reject_cooldown_s": 2.5,
                                                    "max_idle_s": 0.75, "default_window_s": 99.0})
    config = config.model_copy(update={"execution": execution})
    engine = build_engine(config, build_intake(config, MemoryJournal()), {})
    s = engine.settings
    assert (s.seed, s.expiry_grace_s, s.stale_market_s, s.passive_max_age_s, s.reject_cooldown_s, s.max_idle_s,
            s.default_window_s) == (42, 3.5, 7.0, 11.0, 2.5, 0.75, 99.0)


def test_the_trading_day_start_reaches_the_intake_and_a_bad_one_is_refused_in_one_line(tmp_path: Path) -> None:
    from metaorder.daemon import build_intake
    from metaorder.orders.journal import MemoryJournal

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
