"""The strategy registry: which execution algorithms exist, their settings model and their factory.

Each kind (a TargetStrategy name, as ``parent.key.strategy.name`` gives it) maps to a
:class:`StrategySpec`: how to read and check the strategy's tunables (its settings model; a
``ValueError`` names what is wrong) and how to build one strategy object per parent from a
:class:`~metaorder.execution.types.ParentState`, a seed and those settings.

Adding a strategy is one module (a class with ``decide``, see :mod:`metaorder.execution.strategy`
for the contract) and one line in :data:`STRATEGIES`; its tunables, if it has any, are the
``[execution.<kind in lower case>]`` table of the daemon's configuration.

The registry lives apart from the interface (:mod:`~metaorder.execution.strategy`) so the
dependencies point one way: strategies import the interface, this module imports the
strategies, the engine imports this module.  A :class:`StrategyRegistry` parses every kind's
tunables when it is built, so a misconfiguration fails at start-up, not at the first parent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from metaorder.execution.pov import Pov, PovSettings
from metaorder.execution.shortfall import Shortfall, ShortfallSettings
from metaorder.execution.strategy import ParameterSource, Strategy, StrategyContext
from metaorder.execution.twap import Twap, TwapSettings
from metaorder.execution.types import ParentState
from metaorder.execution.vwap import Vwap, VwapSettings

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class StrategySpec(Generic[S]):
    """One kind of strategy: its settings model and its factory."""

    settings: Callable[[Mapping[str, object]], S]  # tunables -> settings; ValueError when unknown or ill-typed
    # (parent, seed, settings, the engine's models) -> the parent's strategy
    factory: Callable[[ParentState, int, S, StrategyContext], Strategy]


def _twap(parent: ParentState, seed: int, settings: TwapSettings, context: StrategyContext) -> Strategy:
    return Twap(parent, seed, settings)


def _vwap(parent: ParentState, seed: int, settings: VwapSettings, context: StrategyContext) -> Strategy:
    return Vwap(parent, seed, settings, context.profiles)  # no profiles: the configured default U shape


def _is(parent: ParentState, seed: int, settings: ShortfallSettings, context: StrategyContext) -> Strategy:
    models = context.models if context.models is not None else _default_models(parent.symbol)
    return Shortfall(parent, seed, settings, models)


def _pov(parent: ParentState, seed: int, settings: PovSettings, context: StrategyContext) -> Strategy:
    return Pov(parent, seed, settings)


def _default_models(symbol: str) -> ParameterSource:
    """An instrument model from its documented defaults only (tests and tools without an engine)."""
    from decimal import Decimal

    from metaorder.execution.impact_model import InstrumentModels, InstrumentPrior

    return InstrumentModels({symbol: InstrumentPrior(symbol, Decimal(100), Decimal("0.01"))})


STRATEGIES: Mapping[str, StrategySpec[Any]] = {
    "TWAP": StrategySpec(TwapSettings.from_mapping, _twap),
    "VWAP": StrategySpec(VwapSettings.from_mapping, _vwap),
    "IS": StrategySpec(ShortfallSettings.from_mapping, _is),
    "POV": StrategySpec(PovSettings.from_mapping, _pov),
}


class StrategySettingsError(ValueError):
    """A strategy's tunables are wrong; ``kind`` says whose (the message says what)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class StrategyRegistry:
    """The strategies an engine may use, each with its tunables already parsed and checked."""

    def __init__(self, tunables: Mapping[str, Mapping[str, object]] | None = None,
                 specs: Mapping[str, StrategySpec[Any]] = STRATEGIES, context: StrategyContext | None = None) -> None:
        self.context = context if context is not None else StrategyContext()
        tunables = {kind.upper(): values for kind, values in (tunables or {}).items()}
        unknown = sorted(set(tunables) - set(specs))
        if unknown:
            raise StrategySettingsError(unknown[0], f"unknown strategy kind {unknown[0]!r} (known: {', '.join(specs)})")
        self._kinds: dict[str, tuple[Callable[[ParentState, int, Any, StrategyContext], Strategy], object]] = {}
        for kind, spec in specs.items():
            try:
                self._kinds[kind] = (spec.factory, spec.settings(tunables.get(kind, {})))
            except ValueError as exc:
                raise StrategySettingsError(kind, str(exc)) from exc

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, str) and kind.upper() in self._kinds

    def make(self, kind: str, parent: ParentState, seed: int) -> Strategy:
        """The strategy ``kind`` for ``parent``; ``seed`` makes its randomness reproducible.

        Unknown kinds raise ``ValueError`` (the engine checks with ``in`` first and says what it
        does instead); a strategy may also refuse a parent it cannot work (``ValueError``).
        """
        made = self._kinds.get(kind.upper())
        if made is None:
            raise ValueError(f"unknown strategy kind {kind!r} (known: {', '.join(self._kinds)})")
        factory, settings = made
        return factory(parent, seed, settings, self.context)

    def settings(self, kind: str) -> object:
        """The parsed tunables of ``kind`` (KeyError when unknown)."""
        return self._kinds[kind.upper()][1]


def make_strategy(kind: str, parent: ParentState, seed: int, **settings: object) -> Strategy:
    """One strategy ``kind`` (case-insensitive: ``"TWAP"``, ...) for ``parent``, with ``settings`` as tunables.

    For tests and tools that want a single strategy; the engine holds a :class:`StrategyRegistry`.
    Unknown kinds and unknown or ill-typed settings raise ``ValueError``.
    """
    name = kind.upper()
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy kind {kind!r} (known: {', '.join(STRATEGIES)})")
    return StrategyRegistry({name: settings}).make(name, parent, seed)
