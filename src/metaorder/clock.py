"""The one place that reads the wall clock.

Everything else receives ``now`` (seconds since the Unix epoch, UTC, as a float) from a
:class:`Clock` injected at the composition root.  That is what lets the same core run live
(wall clock) and simulated (a virtual clock that jumps from event to event), and what lets
tests drive timers deterministically instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time, in epoch seconds (UTC)."""

    def now(self) -> float: ...


class LiveClock:
    """The wall clock.  ``time.time()`` is read here and nowhere else in metaorder."""

    __slots__ = ()

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """A clock that only moves when told to: tests and simulations advance it explicitly."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a virtual clock never runs backwards")
        self._now += seconds
        return self._now

    def jump_to(self, when: float) -> float:
        if when < self._now:
            raise ValueError("a virtual clock never runs backwards")
        self._now = when
        return self._now
