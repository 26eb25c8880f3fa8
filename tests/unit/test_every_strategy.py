"""What every registered strategy owes the engine, whatever its algorithm (execution/strategy.py).

One property over every kind of the registry (TWAP, VWAP, IS, POV) and random parents, fills and
market volume: an intent never asks for more than the parent's unworked quantity (all intents of a
decision together), always carries the parent's limit and direction, is whole lots unless it is the
parent's final remainder, and a decision repeated at the same instant with its intents counted as
working sends nothing more.  A strategy added to the registry is checked here without a line more.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.strategies import STRATEGIES, make_strategy
from metaorder.execution.types import ParentState
from tests.unit.strategysupport import FakeMarket

START = 1_767_258_000.0 + 3600  # 10:00 UTC


@st.composite
def parents(draw: st.DrawFn) -> ParentState:
    lot = draw(st.sampled_from([1, 10, 100]))
    qty = draw(st.integers(1, 2_000)) * lot + draw(st.sampled_from([0, 0, lot // 2]))
    window = draw(st.sampled_from([20.0, 300.0, 3600.0, 23_400.0]))
    limit = draw(st.sampled_from([None, Decimal("100.50"), Decimal("99.50")]))
    return ParentState(
        parent_id="P1", symbol="ACME", direction=draw(st.sampled_from([1, -1])), target_qty=max(qty, 1),
        filled_qty=0, working_qty=0, limit=limit, start_time=START, end_time=START + window,
        participation_rate=draw(st.sampled_from([None, Decimal("0.1"), Decimal("0.25")])),
        urgency=draw(st.sampled_from(["LOW", "MEDIUM", "HIGH"])),
        aggressiveness=draw(st.sampled_from(["PASSIVE", "NEUTRAL", "AGGRESSIVE"])), lot_size=lot,
    )


@settings(max_examples=200, deadline=None, derandomize=True)
@given(kind=st.sampled_from(sorted(STRATEGIES)), parent=parents(), seed=st.integers(0, 1000),
       steps=st.lists(st.tuples(st.floats(0.0, 0.2), st.integers(0, 5_000), st.floats(0.0, 1.0)), min_size=1,
                      max_size=25))
def test_no_strategy_asks_for_more_than_the_parent_or_beyond_its_limit_and_none_sends_twice(
    kind: str, parent: ParentState, seed: int, steps: list[tuple[float, int, float]],
) -> None:
    if kind == "POV" and parent.participation_rate is None:
        parent = replace(parent, participation_rate=Decimal("0.1"))
    strategy = make_strategy(kind, parent, seed)
    market = FakeMarket()
    window = parent.end_time - parent.start_time
    now = parent.start_time
    for advance, volume, fill_share in steps:
        now += advance * window
        market.traded += volume
        decision = strategy.decide(parent, market, now)
        asked = sum(i.qty for i in decision.intents)
        assert asked <= parent.unworked_qty, (kind, decision, parent)
        for intent in decision.intents:
            assert intent.qty > 0 and intent.limit == parent.limit and intent.direction == parent.direction
            assert intent.parent_id == parent.parent_id and intent.symbol == parent.symbol
            final = intent.qty == parent.unworked_qty or parent.target_qty % parent.lot_size
            assert intent.qty % parent.lot_size == 0 or final, (kind, intent, parent)
        # What it asked for is out, and what it pulled is still working until the venues confirm.
        counted = replace(parent, working_qty=parent.working_qty + asked)
        again = strategy.decide(counted, market, now)
        assert not again.intents, (kind, decision, again, counted)  # nothing twice
        # The pulls are confirmed; some of what was asked fills (lit: printed on the tape), the rest works on.
        filled = int(asked * fill_share)
        market.traded += filled
        working = (0 if decision.cancel_working else parent.working_qty) + asked - filled
        parent = replace(parent, filled_qty=parent.filled_qty + filled, working_qty=working,
                         printed_qty=parent.printed_qty + filled)
