"""One engine tick attends a bounded number of parents; the rest are attended at the next ticks, at once.

Without the bound, 10,000 parents due together (the first tick after a restart, or a market move
touching them all) held the event loop, and every order's acknowledgement, for seconds.
"""

from __future__ import annotations

from metaorder.clock import VirtualClock
from metaorder.execution.engine import MAX_ATTENDED_PER_TICK
from metaorder.fix.codec import format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from metaorder.simulate import build_simulation
from tests.unit.test_engine_recovery_roundtrip import CONFIG, venues_config
from tests.unit.test_simulated_pipeline import T0

PARENTS = 2 * MAX_ATTENDED_PER_TICK + 3


def test_parents_due_together_are_attended_over_several_ticks_and_all_of_them_at_once_in_a_simulation() -> None:
    sim = build_simulation(CONFIG, venues_config(20.0), VirtualClock(T0), MemoryJournal())
    now = sim.clock.now()
    for n in range(PARENTS):  # a limit each: a parent each
        sim.submit("OMS1", "D", [(11, f"T{n}"), (55, "ACME"), (54, "1"), (60, format_utc_timestamp(now)), (38, 10),
                                 (40, "2"), (44, f"{130 + n / 100:.2f}")])
    assert len(list(sim.intake.parents())) == PARENTS
    engine = sim.engine
    seen = []
    for _ in range(3):
        engine.on_tick(now)
        seen.append(len(engine._worked))
        if not engine.backlogged:
            break
    assert seen == [MAX_ATTENDED_PER_TICK, 2 * MAX_ATTENDED_PER_TICK, PARENTS]
    assert engine.next_wakeup() != 0.0  # nothing left over
    sim2 = build_simulation(CONFIG, venues_config(20.0), VirtualClock(T0), MemoryJournal())
    for n in range(PARENTS):
        sim2.submit("OMS1", "D", [(11, f"T{n}"), (55, "ACME"), (54, "1"), (60, format_utc_timestamp(now)), (38, 10),
                                  (40, "2"), (44, f"{130 + n / 100:.2f}")])
    sim2.run_until(now)  # the simulation ticks again before its clock moves
    assert len(sim2.engine._worked) == PARENTS and sim2.clock.now() == now
