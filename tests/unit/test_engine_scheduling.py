"""The engine attends only to the parents that are due: many quiet parents cost nothing per tick."""

from __future__ import annotations

from decimal import Decimal

from metaorder.simulate import Simulation
from tests.unit.test_simulated_pipeline import order, simulation


def attended(sim: Simulation, now: float) -> list[str]:
    seen: list[str] = []
    attend = sim.engine._attend

    def spy(parent_id: str, when: float, actions: object) -> None:
        seen.append(parent_id)
        attend(parent_id, when, actions)  # type: ignore[arg-type]

    sim.engine._attend = spy  # type: ignore[method-assign]
    try:
        sim.engine.on_tick(now)
        while sim.engine.backlogged:  # more were due than one tick attends: the next ticks come at once
            sim.engine.on_tick(now)
    finally:
        sim.engine._attend = attend  # type: ignore[method-assign]
    return seen


def test_a_tick_between_wake_ups_attends_to_no_parent_and_a_new_order_wakes_only_its_own() -> None:
    sim = simulation()
    now = sim.clock.now()
    for n in range(200):  # 200 parents: each its own limit, far from the market so nothing fills
        sim.submit("OMS1", "D", order(f"L{n}", "ACME", "1", 100, 600, now,
                                      limit=str(Decimal("130.00") + Decimal(n) / 100)))
    assert len(list(sim.intake.book.parents())) == 200
    assert len(attended(sim, now)) == 200  # all new: each gets a first decision
    wake = sim.engine.next_wakeup()
    assert wake is not None and wake > now
    assert attended(sim, now + (wake - now) / 2) == []  # nobody is due: nothing is looked at
    sim.submit("OMS2", "D", order("NEW", "GLOBX", "2", 100, 600, now))
    assert len(attended(sim, now + (wake - now) / 2)) == 1
