"""The strategy registry: kind -> settings model + factory, tunables checked once, at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from metaorder.config import ConfigError, load_config
from metaorder.execution.strategies import StrategyRegistry, StrategySettingsError, StrategySpec
from metaorder.execution.strategy import Decision, StrategyContext
from metaorder.execution.twap import Twap, TwapSettings
from metaorder.execution.types import MarketView, ParentState
from metaorder.wiring import build_strategies

ROOT = Path(__file__).resolve().parents[2]
START = 1_700_000_000.0
PARENT = ParentState(parent_id="P1", symbol="ACME", direction=1, target_qty=10_000, filled_qty=0, working_qty=0,
                     limit=Decimal("101.50"), start_time=START, end_time=START + 600, lot_size=100)


@dataclass(frozen=True)
class PatienceSettings:
    minutes: float = 1.0

    @classmethod
    def parse(cls, values: Mapping[str, object]) -> PatienceSettings:
        unknown = set(values) - {"minutes"}
        if unknown:
            raise ValueError(f"unknown Patience setting(s) {', '.join(sorted(unknown))}")
        minutes = values.get("minutes", 1.0)
        assert isinstance(minutes, int | float)
        return cls(float(minutes))


@dataclass
class Patience:
    """A strategy that only waits: enough to show what a new kind needs."""

    parent: ParentState
    seed: int
    settings: PatienceSettings
    context: StrategyContext

    def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
        return Decision(wake_at=now + self.settings.minutes * 60, note="waiting")


def _twap(parent: ParentState, seed: int, settings: TwapSettings, context: StrategyContext) -> Twap:
    return Twap(parent, seed, settings)


SPECS: dict[str, StrategySpec[Any]] = {
    "TWAP": StrategySpec(TwapSettings.from_mapping, _twap),
    "PATIENCE": StrategySpec(PatienceSettings.parse, Patience),
}


def test_a_new_strategy_is_one_spec_and_gets_its_parsed_tunables_the_parent_the_seed_and_the_context() -> None:
    context = StrategyContext()
    registry = StrategyRegistry({"patience": {"minutes": 5}}, SPECS, context)
    assert "PATIENCE" in registry and "patience" in registry and "VWAP" not in registry
    strategy = registry.make("PATIENCE", PARENT, 42)
    assert isinstance(strategy, Patience)
    assert (strategy.parent, strategy.seed, strategy.settings) == (PARENT, 42, PatienceSettings(5.0))
    assert strategy.context is context


def test_a_kind_without_tunables_gets_its_defaults() -> None:
    strategy = StrategyRegistry(None, SPECS).make("PATIENCE", PARENT, 1)
    assert isinstance(strategy, Patience) and strategy.settings == PatienceSettings()


def test_twap_is_built_with_the_configured_tunables() -> None:
    strategy = StrategyRegistry({"TWAP": {"slice_interval": 60.0}}).make("TWAP", PARENT, 7)
    assert isinstance(strategy, Twap)
    assert strategy.schedule == Twap(PARENT, 7, TwapSettings(slice_interval=60.0)).schedule
    assert len(strategy.schedule) == 10  # 600 s at 60 s, not the default 30 s


def test_bad_tunables_are_refused_when_the_registry_is_built_naming_their_strategy() -> None:
    with pytest.raises(StrategySettingsError, match="unknown Patience setting") as info:
        StrategyRegistry({"PATIENCE": {"hours": 1}}, SPECS)
    assert info.value.kind == "PATIENCE"
    with pytest.raises(StrategySettingsError, match="unknown strategy kind 'VWAPP'"):
        StrategyRegistry({"VWAPP": {}}, SPECS)


def test_an_unknown_kind_is_a_value_error_at_make() -> None:
    with pytest.raises(ValueError, match=r"unknown strategy kind 'PATIENCE' \(known: TWAP, VWAP"):
        StrategyRegistry().make("PATIENCE", PARENT, 1)


def test_the_daemon_refuses_bad_twap_tunables_at_start_up_as_a_config_error() -> None:
    config = load_config(ROOT / "configs" / "metaorder.toml")
    bad = config.execution.model_copy(update={"twap": {"jitter": 0.7}})
    with pytest.raises(ConfigError, match=r"execution\.twap: TWAP jitter must be in"):
        build_strategies(bad)
    assert "TWAP" in build_strategies(config.execution)
