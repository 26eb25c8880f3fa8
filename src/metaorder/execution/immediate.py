"""IMMEDIATE: everything at once, as a taker — the execution lab's ALONE baseline.

Why it exists.  The lab (:mod:`metaorder.lab`) asks what aggregation, netting and slicing are worth;
the answer needs the naive alternative run through *the same* router and venues: every client order
sent on arrival, on its own, as a marketable order.  This strategy is that order's algorithm.  It is
not a production algorithm (nothing maps a TargetStrategy to it): the lab registers it for every kind
in its own :class:`~metaorder.execution.strategies.StrategyRegistry`.

Behaviour (the contract of :mod:`metaorder.execution.strategy`):

* before the parent's ``start_time`` (EffectiveTime) nothing is sent; it asks to be woken then;
* from then on, every call sends the whole ``unworked_qty`` AGGRESSIVE (the router takes displayed
  liquidity up to the parent's limit, IOC); what the book could not give comes back as unworked once
  the IOCs are done, and the next call sends it again — every ``retry_interval`` seconds (and on every
  fill, which the engine reports) until the parent is done.  Sized against filled + working, so
  calling twice at the same instant sends nothing twice (idempotent);
* one intent for everything left: whole lots and the final odd remainder alike (the router puts the
  odd tail on an odd-lot venue), so the intents add up to the parent exactly;
* every intent carries ``parent.limit``: a limit order whose price the market left waits at the limit
  (retried, never sent beyond it);
* never ``cancel_working``: its only resting children are the router's (an AGGRESSIVE intent whose
  limit the market left rests the rest at the limit's side of the book, waiting for the market to
  come back).  Pulling them to re-send them would only loop: re-sent, they would rest again, and
  churn thousands of child orders an hour on a thin book (the engine re-decides stale passive
  children itself after ``passive_max_age_s``);
* a ParticipationRate (849) is ignored on purpose: the baseline is the order sent at once, not a
  capped one.  The decision note says so when the parent has one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metaorder.execution.strategy import Decision
from metaorder.execution.tunables import settings_from_mapping
from metaorder.execution.types import Intent, MarketView, ParentState, Style


@dataclass(frozen=True, slots=True)
class ImmediateSettings:
    retry_interval: float = 2.0  # seconds between attempts while the book cannot fill the rest

    def __post_init__(self) -> None:
        if not self.retry_interval > 0:
            raise ValueError(f"IMMEDIATE retry_interval must be > 0 seconds, not {self.retry_interval}")

    @classmethod
    def from_mapping(cls, settings: Mapping[str, object]) -> ImmediateSettings:
        """Settings from configuration, refusing unknown names and non-numbers (ValueError naming the setting)."""
        return settings_from_mapping(cls, settings, "IMMEDIATE")


class Immediate:
    """One parent sent at once, aggressively, retried until done (see the module docstring)."""

    def __init__(self, parent: ParentState, seed: int, settings: ImmediateSettings | None = None,
                 context: object = None) -> None:
        # ``seed`` and ``context`` are part of the registry's factory signature; nothing here is random
        # and nothing needs the engine's context.
        del seed, context
        self._parent_id = parent.parent_id
        self._settings = settings or ImmediateSettings()

    def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
        if parent.parent_id != self._parent_id:
            raise ValueError(f"IMMEDIATE of {self._parent_id} asked to decide for {parent.parent_id}")
        if now < parent.start_time:
            return Decision(wake_at=parent.start_time,
                            note=f"IMMEDIATE: waiting for the start at {parent.start_time:.3f}")
        qty = parent.unworked_qty
        note = f"IMMEDIATE: {qty} of {parent.remaining_qty} left sent as takers"
        if parent.participation_rate is not None:
            note += f" (participation {parent.participation_rate} ignored: baseline)"
        intents: tuple[Intent, ...] = ()
        if qty > 0:
            intents = (Intent(parent.parent_id, parent.symbol, parent.direction, qty, parent.limit, Style.AGGRESSIVE,
                              note),)
        wake = now + self._settings.retry_interval if parent.remaining_qty > 0 else None
        return Decision(intents=intents, wake_at=wake, note=note)
