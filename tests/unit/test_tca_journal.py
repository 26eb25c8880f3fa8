"""``metaorder tca`` on the journal: a hand-made journal whose every figure is computed by hand, the
fall-backs of a journal without market samples, and the engine's market samples in a simulated run."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from metaorder import events as ev
from metaorder.eventcodec import Recorded, append, decode_entry
from metaorder.orders.journal import JournalReader, MemoryJournal, SqliteJournal
from metaorder.orders.model import Mandate, OrderType, Side, Strategy, TimeInForce
from metaorder.posttrade.tca_journal import TcaError, analyse_journal
from metaorder.posttrade.tca_render import render_journal
from metaorder.posttrade.tca_source import read_events

D = Decimal
T = 1_767_258_000.0  # 2026-01-01 09:00 UTC


def sample(bid: str, ask: str, volume: int, notional: str) -> ev.MarketSample:
    return ev.MarketSample("ACME", D(bid), D(ask), volume, D(notional))


def accepted(order_id: str = "O1", qty: int = 1000, side: Side = Side.BUY,
             parent: str | None = "P1") -> ev.OrderAccepted:
    return ev.OrderAccepted(order_id, "OMS1", f"cl-{order_id}", "ACME", side, qty, OrderType.MARKET, None,
                            TimeInForce.DAY, T, 1, Mandate(Strategy.TWAP, end_time=T + 60), None, parent)


def journal(with_samples: bool = True) -> list[Recorded]:
    """Buy 1000 ACME: arrival mid 100.00, first child sent at mid 100.02, 600 filled at 100.05 (fee 0.60),
    the rest canceled when the mid is 100.08; the tape trades 1000 shares for 100100 meanwhile (VWAP 100.10)."""
    events: list[tuple[float, ev.Event]] = [
        (T, sample("99.98", "100.02", 1000, "100000")),
        (T, accepted()),
        (T + 1, sample("100.00", "100.04", 1000, "100000")),
        (T + 2, ev.ChildPlaced("P1", "C1", "XNYS", "ACME", Side.BUY, 600, None, True, mid=D("100.02"))),
        (T + 2, ev.VenueExecution("P1", "C1", "XNYS", "E1", 600, D("100.05"), "2", D("0.60"))),
        (T + 2, ev.ParentFilled("P1", 600, D("100.05"), "XNYS", (("O1", 600),))),
        (T + 3, sample("100.06", "100.10", 2000, "200100")),
        (T + 3, ev.VenueMarkout("P1", "C1", "XNYS", "ACME", Side.BUY, 600, D("100.05"), D("100.02"),
                                ((1.0, D("100.08")),))),
        (T + 4, ev.OrderCanceled("O1", "cl-O1-cxl")),
    ]
    kept = [(t, e) for t, e in events if with_samples or not isinstance(e, ev.MarketSample)]
    return [Recorded(n, t, e) for n, (t, e) in enumerate(kept, 1)]


def test_an_orders_benchmarks_and_shortfall_decomposition_by_hand() -> None:
    report = analyse_journal(journal(), "O1", None)
    [o] = report.orders
    assert (o.qty, o.filled, o.avg_price, o.status) == (1000, 600, D("100.05"), "canceled")
    assert (o.arrival, o.arrival_source, o.start_mid, o.end_mid) == (D("100.00"), "sample", D("100.02"), D("100.08"))
    assert o.vwap == D("100.10")  # (200100 − 100000) / (2000 − 1000)
    assert o.cost_vs_arrival_bps == D("5")  # (100.05 − 100)/100 · 10⁴
    assert o.cost_vs_vwap_bps is not None and o.cost_vs_vwap_bps.quantize(D("0.000001")) == D("-4.995005")
    s = o.shortfall
    assert s is not None
    assert s.delay == D("12.00")  # 600 · (100.02 − 100.00): the market moved before the child left
    assert s.execution == D("18.00")  # 600 · (100.05 − 100.02)
    assert s.opportunity == D("32.00")  # 400 · (100.08 − 100.00): what was not bought
    assert s.fees == D("0.60")
    assert s.total == D("62.60") and s.bps(s.total) == D("6.26")  # over 1000 · 100.00


def test_the_parent_the_child_and_the_venue_by_hand() -> None:
    report = analyse_journal(journal(), "P1", None)
    [p] = report.parents
    assert (p.qty, p.filled, p.label, p.status) == (1000, 600, "TWAP", "done")
    assert p.shortfall is not None and p.shortfall.total == D("62.60")
    [c] = report.children
    assert (c.venue, c.filled, c.mid, c.state) == ("XNYS", 600, D("100.02"), "filled")
    assert c.cost_vs_mid_bps is not None and c.cost_vs_mid_bps.quantize(D("0.000001")) == D("2.999400")
    [(horizon, markout)] = c.markouts
    assert horizon == 1.0 and markout.quantize(D("0.000001")) == D("2.998501")  # (100.08 − 100.05)/100.05 · 10⁴
    [v] = report.venues
    assert (v.venue, v.children, v.sent, v.filled, v.fees) == ("XNYS", 1, 600, 600, D("0.60"))
    assert v.fill_rate == 1
    assert report.picture is not None and report.picture.executed[-1][1] == 600


def test_a_sell_mirrors_the_signs() -> None:
    events = [Recorded(1, T, sample("99.98", "100.02", 0, "0")), Recorded(2, T, accepted(side=Side.SELL, qty=100)),
              Recorded(3, T + 1, ev.ChildPlaced("P1", "C1", "XNYS", "ACME", Side.SELL, 100, None, True,
                                                mid=D("100.00"))),
              Recorded(4, T + 1, ev.VenueExecution("P1", "C1", "XNYS", "E1", 100, D("99.90"))),
              Recorded(5, T + 1, ev.ParentFilled("P1", 100, D("99.90"), "XNYS", (("O1", 100),)))]
    [o] = analyse_journal(events, "O1", None).orders
    assert o.cost_vs_arrival_bps == D("10")  # sold 10 bps below the arrival mid: a cost
    assert o.shortfall is not None and o.shortfall.execution == D("10.00") and o.status == "filled"


def test_without_market_samples_the_arrival_is_the_first_childs_mid_and_there_is_no_vwap() -> None:
    report = analyse_journal(journal(with_samples=False), "O1", None)
    [o] = report.orders
    assert (o.arrival, o.arrival_source, o.vwap) == (D("100.02"), "first child", None)
    assert report.samples == 0
    assert any("no market samples" in line for line in render_journal(report, "table"))


def test_session_clordid_and_day_select_orders_and_unknowns_are_one_line_errors() -> None:
    assert [o.id for o in analyse_journal(journal(), "OMS1:cl-O1", None).orders] == ["O1"]
    assert [o.id for o in analyse_journal(journal(), None, "2026-01-01").orders] == ["O1"]
    with pytest.raises(TcaError, match=r"^no order accepted on 2026-01-02 \(UTC\)"):
        analyse_journal(journal(), None, "2026-01-02")
    with pytest.raises(TcaError, match=r"^no order or parent P9 "):
        analyse_journal(journal(), "P9", None)


def test_the_index_read_of_a_real_journal_gives_the_same_figures_as_the_events(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with SqliteJournal(path) as j:
        for rec in journal():
            append(j, rec.time, rec.event)
        j.flush().result(timeout=10)
    with JournalReader(path) as reader:
        records = read_events(reader, "O1", None)
    assert analyse_journal(records, "O1", None).orders == analyse_journal(journal(), "O1", None).orders


def test_the_engine_samples_each_symbols_market_at_most_once_a_second_when_it_changes() -> None:
    from tests.unit.test_simulated_pipeline import order, simulation

    memory = MemoryJournal()
    sim = simulation(memory)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "GLOBX", "1", 2500, 60, now))
    sim.run_until(now + 65)
    samples = [(e.time, e.data) for e in memory.replay() if e.kind == ev.MarketSample.kind]
    assert samples
    last: dict[str, tuple[float, object]] = {}
    for t, data in samples:
        symbol = data["symbol"]
        if symbol in last:
            assert t - last[symbol][0] >= 1.0 - 1e-9, (symbol, t)
            assert data != last[symbol][1]  # an unchanged market is not journaled again
        last[symbol] = (t, data)
    report = analyse_journal([decode_entry(e) for e in memory.replay()], "P1", None)
    [p] = report.parents
    assert p.filled == 2500 and p.arrival_source == "sample" and p.vwap is not None
