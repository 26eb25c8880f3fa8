"""The interface between the engine and execution strategies (TWAP, VWAP, IS, POV).

A strategy is one object per parent order.  It owns only what cannot be recomputed from the
parent's state: its schedule (slice times drawn once from a seeded ``random.Random``) and what it
had to observe itself (for instance the market volume when the parent started, for a
participation cap).  Everything else — how much is filled, working, still wanted — arrives in a
fresh :class:`~metaorder.execution.types.ParentState` on every call, so a strategy recalibrates
automatically when orders join (the parent grows) or cancel (it shrinks).

Engine contract
---------------
* The engine calls :meth:`Strategy.decide` at the ``wake_at`` the last decision asked for, after
  every change to the parent's state (a fill, a child done or canceled, orders joining or
  leaving), and may call it on market updates.  ``decide`` is sans-IO: ``now`` is passed in, it
  never reads a clock.
* ``decide`` is idempotent for the same inputs: called twice at the same ``now`` with the same
  state it must not send twice.  Strategies achieve that by sizing every slice against
  ``filled_qty + working_qty`` (what the engine already has out), never against a memory of what
  they sent.
* ``cancel_working`` is *level-triggered*: "I want none of this parent's resting (non-IOC)
  children".  Repeating it is harmless (the engine does not cancel twice), which keeps ``decide``
  idempotent.  The pulled quantity comes back as ``unworked_qty`` on a later call, once the venues
  confirm the cancels; the strategy re-sends it then, in the style it now wants.
* Intents never exceed ``unworked_qty`` (the engine's parent guard enforces it again).

Adding a strategy: write a class with ``decide`` in its own module and add its line to
:data:`metaorder.execution.strategies.STRATEGIES` (kind -> settings model and factory).  This module
imports no strategy, so every strategy can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from metaorder.execution.types import Intent, MarketView, ParentState

if TYPE_CHECKING:
    from metaorder.execution.almgren_chriss import AcParameters, AcPlan


@dataclass(frozen=True, slots=True)
class Decision:
    """What a strategy wants now.

    ``intents`` is a tuple (not a list) so a decision can be compared, logged and replayed without
    anyone mutating it after the fact; an empty tuple means "nothing now".
    """

    intents: tuple[Intent, ...] = ()
    cancel_working: bool = False  # pull this parent's resting children (to re-post them differently)
    wake_at: float | None = None  # call me again then, absent other events (None: only on events)
    note: str = ""  # one line for the audit trail: why this decision


class Strategy(Protocol):
    """One parent's execution algorithm."""

    def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision: ...



@runtime_checkable
class Estimating(Protocol):
    """A strategy that plans with a cost model (IS): the engine journals its pre-trade estimate once
    the plan has its benchmark (``arrival_price`` set at the first decision), so TCA can compare."""

    @property
    def estimate(self) -> AcPlan: ...

    @property
    def arrival_price(self) -> Decimal | None: ...

    @property
    def risk_aversion(self) -> float: ...

    def restore_arrival(self, price: Decimal | None) -> None:
        """After a restart, the benchmark the parent's journaled estimate was made against."""
        ...


class VolumeProfiles(Protocol):
    """The intraday volume curve per instrument (VWAP's schedule): learned or configured."""

    def cumulative(self, symbol: str, when: float) -> float:
        """Expected share of the trading day's volume traded by ``when`` (epoch seconds): 0 at the
        open, 1 at the close."""
        ...


class ParameterSource(Protocol):
    """Per-instrument Almgren–Chriss parameters (IS's trajectory), estimated from market data or configured."""

    def parameters(self, symbol: str, now: float) -> AcParameters: ...


@dataclass(frozen=True, slots=True)
class StrategyContext:
    """What strategies may read beyond their parent and the market view: the models the engine
    keeps up to date from market data (one per engine, shared by every parent).  None: the
    registry's factories fall back to what needs no history (a default U profile, priors)."""

    profiles: VolumeProfiles | None = None
    models: ParameterSource | None = None
