"""VWAP, IS and POV worked by the engine itself, in virtual time against the simulated venues.

The strategies' own tests drive them with synthetic markets; these pin what only the whole pipeline
shows: the engine builds each kind from the registry (no "worked as TWAP" fallback), hands it the 848
keys and the learned models, journals an IS parent's pre-trade estimate once (not again after a
restart), and a POV order whose window ends unfilled is ended with 150=C and a Text saying how much.
"""

from __future__ import annotations

from metaorder.eventcodec import decode_entry
from metaorder.events import PreTradeEstimate, StrategyChosen
from metaorder.execution.shortfall import Shortfall
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.orders.journal import MemoryJournal
from tests.unit.test_simulated_pipeline import reports_by_order, simulation


def algo_order(cl: str, symbol: str, side: str, qty: int, strategy: int, window_s: float, now: float,
               params: str | None = None, rate: str | None = None) -> list[tuple[int, FieldValue]]:
    body: list[tuple[int, FieldValue]] = [(11, cl), (55, symbol), (54, side), (60, format_utc_timestamp(now)),
                                          (38, qty), (40, "1"), (59, "0"), (847, strategy),
                                          (126, format_utc_timestamp(now + window_s))]
    if params is not None:
        body.append((848, params))
    if rate is not None:
        body.append((849, rate))
    return body


def events(journal: MemoryJournal) -> list[object]:
    return [decode_entry(entry).event for entry in journal.replay()]


def test_vwap_and_is_orders_are_worked_by_their_own_strategy_and_complete() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", algo_order("V1", "ACME", "1", 4000, 1, 300, now))
    sim.submit("OMS1", "D", algo_order("I1", "GLOBX", "2", 6000, 1001, 300, now, "Urgency=HIGH"))
    sim.run_until(now + 320)
    reports = reports_by_order(sim)
    for order_id, qty in (("O1", 4000), ("O2", 6000)):
        assert reports[order_id][-1][39] == "2" and reports[order_id][-1][14] == str(qty)
    recorded = events(journal)
    assert not [e for e in recorded if isinstance(e, StrategyChosen)]  # nothing fell back to TWAP
    [estimate] = [e for e in recorded if isinstance(e, PreTradeEstimate)]
    assert estimate.strategy == "IS" and estimate.qty == 6000 and estimate.risk_aversion == 1e-5
    assert estimate.expected_cost > 0 and estimate.std_cost > 0 and estimate.kappa > 0
    assert estimate.arrival_price is not None and abs(float(estimate.arrival_price) - 58.20) < 1.0
    assert not sim.alerts


def test_an_is_parents_estimate_is_journaled_once_and_its_benchmark_kept_across_a_restart() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    sim.submit("OMS1", "D", algo_order("I1", "ACME", "1", 5000, 1001, 600, now, "RiskAversion=0.000003"))
    sim.run_until(now + 60)
    assert [e.risk_aversion for e in events(journal) if isinstance(e, PreTradeEstimate)] == [3e-6]
    [estimate] = [e for e in events(journal) if isinstance(e, PreTradeEstimate)]
    again = simulation(journal, seed=8)  # restarted on the same journal, in a market whose mid is elsewhere
    again.run_until(again.clock.now() + 60)
    assert len([e for e in events(journal) if isinstance(e, PreTradeEstimate)]) == 1
    # ... and the restarted IS measures against the journaled benchmark, not against a new mid.
    [worked] = [w for w in again.engine._worked.values() if w.strategy is not None]
    assert isinstance(worked.strategy, Shortfall) and worked.strategy.arrival_price == estimate.arrival_price


def test_a_pov_order_trades_about_its_share_and_ends_at_expire_time_saying_how_much_was_left() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    now = sim.clock.now()
    volume_before = sim.engine.market.volume("NOVA")
    # 12,000 NOVA at 5 % cannot complete in 2 minutes: the rest must end with the window.
    sim.submit("OMS1", "D", algo_order("P1", "NOVA", "1", 12_000, 2, 120, now, "MaxPOV=0.06", "0.05"))
    sim.run_until(now + 130)
    reports = reports_by_order(sim)["O1"]
    last = reports[-1]
    filled = int(last[14])
    assert (last[150], last[39]) == ("C", "C")
    assert f"with {12_000 - filled} of 12000 unfilled" in last[58]
    market = sim.engine.market.volume("NOVA") - volume_before
    assert filled > 0 and 0.03 < filled / market < 0.08, (filled, market)  # about 5 % of all volume
    assert not [e for e in events(journal) if isinstance(e, StrategyChosen)]


def test_a_strategy_that_fails_halts_its_parent_and_the_others_trade_on() -> None:
    """A bug in one parent's strategy is that parent's problem: it is halted (journaled, alert
    raised, its orders left for an operator or their ExpireTime), and the engine works the others."""
    from metaorder.config import load_config
    from metaorder.events import ParentHalted
    from metaorder.execution.strategies import STRATEGIES, StrategyRegistry, StrategySpec
    from metaorder.execution.strategy import Decision, StrategyContext
    from metaorder.execution.types import MarketView, ParentState
    from tests.unit.test_simulated_pipeline import ROOT

    class Broken:
        def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
            raise ArithmeticError("cannot convert float NaN to integer")

    def broken(parent: ParentState, seed: int, settings: object, context: StrategyContext) -> Broken:
        return Broken()

    config = load_config(ROOT / "configs" / "metaorder.toml")
    specs = {**STRATEGIES, "VWAP": StrategySpec(lambda values: None, broken)}
    journal = MemoryJournal()
    sim = simulation(journal, strategies=StrategyRegistry(config.strategy, specs))
    now = sim.clock.now()
    sim.submit("OMS1", "D", algo_order("B1", "ACME", "1", 1000, 1, 60, now))  # VWAP: broken
    sim.submit("OMS1", "D", algo_order("T1", "GLOBX", "1", 1000, 1000, 60, now))  # TWAP
    sim.run_until(now + 70)
    reports = reports_by_order(sim)
    assert reports["O2"][-1][39] == "2"  # the TWAP order completed
    assert reports["O1"][-1][39] == "C" and reports["O1"][-1][14] == "0"  # never traded; ended at ExpireTime
    [halted] = [e for e in events(journal) if isinstance(e, ParentHalted)]
    assert "VWAP strategy failed" in halted.text and "ArithmeticError" in halted.text
    assert any("VWAP strategy failed" in alert for alert in sim.alerts)


def test_a_strategys_own_wake_up_stands_and_one_naming_none_is_looked_at_every_max_idle_s() -> None:
    """The engine asks a strategy again at the time its last decision named (and after every change
    to its parent), not every ``max_idle_s`` besides: with 10,000 working parents, a re-decision of
    each every second took more than a core.  A decision naming no time is still looked at every
    ``max_idle_s``."""
    from metaorder.config import load_config
    from metaorder.execution.strategies import STRATEGIES, StrategyRegistry, StrategySpec
    from metaorder.execution.strategy import Decision, StrategyContext
    from metaorder.execution.types import MarketView, ParentState
    from tests.unit.test_simulated_pipeline import ROOT

    calls: dict[str, list[float]] = {"ASKS": [], "SILENT": []}

    class Sleepy:
        def __init__(self, name: str) -> None:
            self.name = name

        def decide(self, parent: ParentState, market: MarketView, now: float) -> Decision:
            calls[self.name].append(now)
            return Decision(wake_at=now + 30 if self.name == "ASKS" else None)

    def asks(parent: ParentState, seed: int, settings: object, context: StrategyContext) -> Sleepy:
        return Sleepy("ASKS")

    def silent(parent: ParentState, seed: int, settings: object, context: StrategyContext) -> Sleepy:
        return Sleepy("SILENT")

    config = load_config(ROOT / "configs" / "metaorder.toml")
    specs = {**STRATEGIES, "VWAP": StrategySpec(lambda values: None, asks),
             "POV": StrategySpec(lambda values: None, silent)}
    sim = simulation(MemoryJournal(), strategies=StrategyRegistry(config.strategy, specs))
    now = sim.clock.now()
    sim.submit("OMS1", "D", algo_order("A1", "ACME", "1", 1000, 1, 600, now))  # VWAP: wakes itself every 30 s
    sim.submit("OMS1", "D", algo_order("S1", "GLOBX", "1", 1000, 2, 600, now, rate="0.1"))  # POV: names no time
    sim.run_until(now + 65)
    asked = [round(t - calls["ASKS"][0]) for t in calls["ASKS"]]
    assert asked == [0, 30, 60]  # the parent never changed: only its own wake-ups
    idle_s = sim.engine.settings.max_idle_s
    assert len(calls["SILENT"]) >= 60 / idle_s
