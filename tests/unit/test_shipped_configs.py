"""The configurations shipped with metaorder load, and the container's says what the default one says."""

from __future__ import annotations

from pathlib import Path

from metaorder.config import load_config, load_venues_config

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_and_the_docker_configs_load_and_agree_but_for_listening_addresses_and_log_format() -> None:
    default = load_config(ROOT / "configs" / "metaorder.toml")
    docker = load_config(ROOT / "docker" / "metaorder.toml")
    assert docker.acceptor.host == "0.0.0.0" and docker.dropcopy is not None and docker.dropcopy.host == "0.0.0.0"
    assert docker.instrument == default.instrument and docker.risk == default.risk
    assert docker.execution.model_dump(exclude={"embedded_venues"}) == default.execution.model_dump(
        exclude={"embedded_venues"})
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    symbols = {i.symbol: (i.tick_size, i.lot_size) for i in venues.instrument}
    assert {i.symbol: (i.tick_size, i.lot_size) for i in default.instrument} == symbols
