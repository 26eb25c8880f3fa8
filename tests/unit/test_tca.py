"""Transaction cost analysis: hand-computed costs, then a real simulated run through TcaRecorder.

Conventions under test (GUIDE §6): cost = s·(P_avg − P_b)/P_b·10⁴, s = +1 buy / −1 sell, positive
is worse than the benchmark; figures are exact Decimals.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from metaorder.clock import VirtualClock
from metaorder.config import load_config, load_venues_config
from metaorder.demo import plan_burst
from metaorder.orders.messages import CancelReject, ExecutionReport, NoOrderReport, ReportKind
from metaorder.orders.model import OrderStatus, OrderType, Side, TimeInForce
from metaorder.posttrade.tca import (
    Fill,
    OrderTca,
    TcaRecorder,
    aggregate,
    by_symbol,
    cost_bps,
    interval_vwap,
)
from metaorder.simulate import build_simulation

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def tca(sign: int, qty: int, fills: list[tuple[int, str]], arrival: str, vwap: str | None = None,
        symbol: str = "ACME", end_mid: str | None = None) -> OrderTca:
    return OrderTca("O1", "OMS1", symbol, sign, qty, tuple(Fill(q, D(p), "ATLX", 0.0) for q, p in fills), D(arrival),
                    "mid", 0.0, 1.0, D(vwap) if vwap else None, D(end_mid) if end_mid else None, D(0))


def test_a_buy_above_its_arrival_price_is_a_positive_cost() -> None:
    assert cost_bps(1, D("100.05"), D("100.00")) == D("5")


def test_a_sell_below_its_arrival_price_is_a_positive_cost() -> None:
    assert cost_bps(-1, D("99.95"), D("100.00")) == D("5")


def test_a_buy_below_its_benchmark_is_a_negative_cost_the_guides_performance_example() -> None:
    # GUIDE §6: a buy at 100.005 against a VWAP of 100.010 is +0.5 bps performance, so −0.5 bps cost.
    cost = cost_bps(1, D("100.005"), D("100.010"))
    assert cost == D("-0.4999500049995000499950005000")  # −0.005/100.010 to 28 digits, ×10⁴ exactly
    assert cost.quantize(D("0.01")) == D("-0.50")  # rounded only for display


def test_bps_are_exact_decimals_not_floats() -> None:
    value = cost_bps(1, D("142.51"), D("142.50"))
    assert isinstance(value, Decimal)
    assert value == D("0.7017543859649122807017543860")  # 0.01/142.5·10⁴ to 28 digits


def test_a_short_sale_is_costed_as_a_sell() -> None:
    rec = TcaRecorder(_Tape({"ACME": D("100")}), {"ACME": D("100")})
    rec.on_report(report(ReportKind.NEW, OrderStatus.NEW, side=Side.SELL_SHORT), 1.0)
    rec.on_report(report(ReportKind.NEW, OrderStatus.NEW, order_id="O2", side=Side.BUY), 1.0)
    assert [o.sign for o in rec.results()] == [-1, 1]


def test_interval_vwap_is_the_change_in_notional_over_the_change_in_volume() -> None:
    assert interval_vwap(D("1000"), 10, D("3010"), 30) == D("100.5")


def test_interval_vwap_is_none_when_no_market_volume_traded() -> None:
    assert interval_vwap(D("1000"), 10, D("1000"), 10) is None
    assert tca(1, 100, [(100, "10")], "10").cost_vs_vwap_bps is None


def test_an_orders_average_price_and_costs_come_from_its_fills() -> None:
    o = tca(1, 300, [(100, "10.00"), (200, "10.03")], arrival="10.00", vwap="10.01")
    assert o.avg_px == D("10.02")
    assert o.cost_vs_arrival_bps == D("20")
    assert o.cost_vs_vwap_bps == D("9.990009990009990009990009990")
    assert o.execution_cost == D("6.00")  # 300 × 0.02
    assert o.opportunity_cost == 0 and o.done


def test_opportunity_cost_charges_the_unfilled_shares_the_move_since_arrival() -> None:
    o = tca(-1, 500, [(200, "50.00")], arrival="50.00", end_mid="49.80")  # a sell; the price fell
    assert o.execution_cost == 0
    assert o.opportunity_cost == D("60.00")  # −1 × 300 × (49.80 − 50.00)
    assert not o.done


def test_aggregates_weigh_each_order_by_its_filled_quantity() -> None:
    a = tca(1, 100, [(100, "100.10")], arrival="100", vwap="100")  # +10 bps on 100
    b = tca(-1, 300, [(300, "100.10")], arrival="100", vwap="100.20")  # −10 bps on 300; +≈9.98 vs VWAP
    c = tca(1, 50, [], arrival="100", symbol="GLOBX")  # nothing filled: weighs nothing
    total = aggregate([a, b, c])
    assert total.orders == 3 and total.filled_qty == 400
    assert total.vs_arrival_bps == D("-5")  # (100·10 − 300·10) / 400
    assert total.vs_vwap_bps == (100 * D(10) + 300 * cost_bps(-1, D("100.10"), D("100.20"))) / 400
    assert total.paper_notional == D("45000")
    assert total.shortfall == D("-20.00")  # +10 − 30 execution, no opportunity (c's P_end unknown)
    assert set(by_symbol([a, b, c])) == {"ACME", "GLOBX"}
    assert by_symbol([a, b, c])["GLOBX"].vs_arrival_bps is None


class _Tape:
    """A market whose mid and cumulative tape the test sets by hand."""

    def __init__(self, mids: dict[str, Decimal], notional: str = "0", volume: int = 0) -> None:
        self.mids, self.notional_, self.volume_ = mids, D(notional), volume

    def mid(self, symbol: str) -> Decimal | None:
        return self.mids.get(symbol)

    def notional(self, symbol: str) -> Decimal:
        return self.notional_

    def volume(self, symbol: str) -> int:
        return self.volume_


def report(kind: ReportKind, status: OrderStatus, order_id: str = "O1", symbol: str = "ACME", side: Side = Side.BUY,
           qty: int = 100, fill: tuple[int, str, str] | None = None, avg_px: str = "0") -> ExecutionReport:
    """An execution report as the intake makes it; ``fill`` is (last_qty, last_px, last_mkt)."""
    last_qty, last_px, last_mkt = (fill[0], D(fill[1]), fill[2]) if fill else (None, None, None)
    return ExecutionReport(order_id, f"C-{order_id}", None, None, "E1", kind, status, symbol, side, qty,
                           OrderType.MARKET, None, TimeInForce.DAY, last_qty, last_px, last_mkt, 0, 0, D(avg_px),
                           0.0, "")


def test_the_recorder_snapshots_arrival_at_the_ack_and_the_tape_at_the_final_fill() -> None:
    tape = _Tape({"ACME": D("142.50")}, "1000", 10)
    rec = TcaRecorder(tape, {"ACME": D("140")})
    rec.on_report(report(ReportKind.NEW, OrderStatus.NEW), 1.0, "OMS1")
    tape.mids["ACME"] = D("142.60")
    tape.notional_, tape.volume_ = D("1000") + 300 * D("142.55"), 310
    rec.on_report(report(ReportKind.FILL, OrderStatus.PARTIALLY_FILLED, fill=(40, "142.52", "INTERNAL"),
                         avg_px="142.52"), 2.0, "OMS1")
    rec.on_report(report(ReportKind.FILL, OrderStatus.FILLED, fill=(60, "142.57", "ATLX"), avg_px="142.55"), 3.0,
                  "OMS1")
    [o] = rec.results()
    assert (o.arrival, o.arrival_source, o.start, o.end) == (D("142.50"), "mid", 1.0, 3.0)
    assert o.vwap == D("142.55") and o.end_mid == D("142.60")
    assert o.avg_px == o.reported_avg_px == D("142.55")
    assert o.cost_vs_vwap_bps == 0


def test_the_recorder_falls_back_to_the_reference_price_without_a_quote_and_counts_rejects() -> None:
    rec = TcaRecorder(_Tape({}), {"ZEPH": D("9.875")})
    rec.on_report(NoOrderReport(ReportKind.REJECTED, "C1", "ZEPH", "2", "E1", 99, "refused", 1.0), 1.0)
    rec.on_report(NoOrderReport(ReportKind.STATUS, "C9", "ZEPH", "2", "E2", None, "unknown order", 1.0), 1.0)
    rec.on_report(report(ReportKind.NEW, OrderStatus.NEW, symbol="ZEPH", side=Side.SELL), 1.0)
    [o] = rec.results()
    assert (o.arrival, o.arrival_source, o.sign, rec.rejected, rec.acknowledged) == (D("9.875"), "reference", -1, 1, 1)


def test_a_simulated_burst_records_the_market_mid_at_acceptance_and_avg_prices_equal_the_fills() -> None:
    config = load_config(ROOT / "configs" / "metaorder.toml")
    venues = load_venues_config(ROOT / "configs" / "venues.toml")
    t0 = 1_767_258_000.0
    sim = build_simulation(config, venues, VirtualClock(t0))
    sim.connect()
    sim.run_until(t0 + 5)
    market = sim.engine.market
    rec = TcaRecorder(market, {i.symbol: i.reference_price for i in config.instrument})
    seen = 0

    def feed() -> None:
        nonlocal seen
        for out in sim.reports[seen:]:
            if not isinstance(out.report, CancelReject):
                rec.on_report(out.report, sim.clock.now(), out.session)
        seen = len(sim.reports)

    mids: dict[str, Decimal | None] = {}
    plan = plan_burst(30, 11, 40.0, config.instrument, config.risk.duplicate_window_s)
    for p in plan:
        sim.run_until(t0 + 5 + p.offset_s)
        feed()
        mids[f"O{len(mids) + 1}"] = market.mid(p.symbol)  # the intake numbers orders O1, O2, ... in arrival order
        sim.submit(p.session, "D", p.body(sim.clock.now()))
        feed()
    sim.run_until(t0 + 5 + 60)
    feed()
    results = rec.results()
    assert len(results) == 30 and rec.rejected == 0
    for o in results:
        assert o.arrival == mids[o.order_id] and o.arrival_source == "mid", o.order_id
        assert o.filled == o.qty and o.avg_px == o.reported_avg_px, o.order_id
        assert o.cost_vs_arrival_bps is not None
    assert any(f.market == "INTERNAL" for o in results for f in o.fills)
    assert any(f.market != "INTERNAL" for o in results for f in o.fills)
