"""The daemon's decision loop paces a catch-up: after a tick that left parents over, it gives the event
loop back for as long as the tick took, however often orders wake it meanwhile.

Back to back, 10,000 parents' first decisions after a restart held the acknowledgements of the
first seconds (p50 0.37 s at 5,000 orders/s); paced, the catch-up takes at most half the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from metaorder.execution.engine import Actions
from metaorder.shells.gateway import MIN_TICK_S, VenueGateway

TICK_S = 0.004


class SteppedClock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def now(self) -> float:
        return self.t


class BackloggedEngine:
    """Three ticks leave parents over, each taking TICK_S of the clock; then nothing is due."""

    def __init__(self, clock: SteppedClock, wake: asyncio.Event) -> None:
        self.clock, self.wake = clock, wake
        self.ticks = 0
        self.samples_taken = 0

    def on_tick(self, now: float) -> Actions:
        self.ticks += 1
        self.clock.t += TICK_S
        self.wake.set()  # orders keep arriving (the OMS application wakes the engine for each)
        return Actions()

    @property
    def backlogged(self) -> bool:
        return self.ticks <= 3

    def next_wakeup(self) -> float | None:
        return None


class Outbox:
    def put(self, sink: object, items: list[object]) -> None:
        assert not items


async def test_a_backlogged_tick_is_followed_by_a_pause_as_long_as_itself_even_when_woken(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteppedClock()
    wake = asyncio.Event()
    engine = BackloggedEngine(clock, wake)
    gateway = VenueGateway(cast(Any, engine), cast(Any, clock), cast(Any, None), {}, outbox=cast(Any, Outbox()),
                           wake=wake)
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(delay: float) -> None:
        pauses.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recorded_sleep)
    task = asyncio.create_task(gateway.run())
    for _ in range(1000):  # three paced ticks, then ticks woken by orders, at once
        if engine.ticks >= 6:
            break
        wake.set()
        await real_sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pauses[:3] == [pytest.approx(TICK_S)] * 3 and TICK_S > MIN_TICK_S
    assert len(pauses) == 3  # not backlogged: woken at once, no pause
