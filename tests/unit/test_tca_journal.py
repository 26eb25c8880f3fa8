"""``metaorder tca`` on the journal: a hand-made journal whose every figure is computed by hand, the
fall-backs of a journal without market samples, and the engine's market samples in a simulated run."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from metaorder import events as ev
from metaorder.eventcodec import Recorded, append, decode_entry
from metaorder.orders.journal import JournalReader, MemoryJournal, SqliteJournal
from metaorder.orders.model import Mandate, OrderType, Side, Strategy, TimeInForce
from metaorder.posttrade.tca_journal import Tape, TcaError, analyse_journal
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


# --------------------------------------------------------------------------- across engine restarts


def tick(t: float, volume: int, notional: str, bid: str = "99.98",
         ask: str = "100.02") -> tuple[float, ev.MarketSample]:
    return t, sample(bid, ask, volume, notional)


def test_the_interval_vwap_does_not_difference_samples_of_two_engine_runs() -> None:
    # 1,000 @ 100 before the restart, then 5,000 @ 120 in the new run: the old reading (600000 − 100000)/
    # (5000 − 1000) = 125 is a price nobody traded at; from after the restart the tape is 5,000 @ 120.
    tape = Tape([tick(T, 1000, "100000"), tick(T + 10, 5000, "600000")], starts=[T + 5])
    assert tape.vwap(T + 6, T + 10) == D(120)
    assert tape.vwap(T + 1, T + 10) == D(120)  # from the last point before the start: the pre-restart sample


def test_an_interval_spanning_a_restart_sums_both_runs_increments() -> None:
    tape = Tape([tick(T, 500, "50000"), tick(T + 2, 1000, "100000"),
                 tick(T + 10, 5000, "600000")], starts=[T + 5])
    assert tape.vwap(T, T + 10) == D(650000) / D(5500)  # (500 @ 100 + 5,000 @ 120) / 5,500
    assert tape.vwap(T, T + 2) == D(100)
    assert tape.vwap(T + 2, T + 4) is None  # nothing traded between the last sample and the restart


def test_a_fall_of_the_cumulative_volume_is_a_restart_the_journal_did_not_show() -> None:
    tape = Tape([tick(T, 1000, "100000"), tick(T + 10, 400, "48000")])
    assert tape.vwap(T, T + 10) == D(120)  # the 400 traded since the unseen restart; was None (negative Δ)


def test_a_tape_starting_with_an_engine_start_counts_the_first_sample_from_zero() -> None:
    tape = Tape([tick(T + 1, 300, "30300")], starts=[T])
    assert tape.vwap(T, T + 1) == D(101)


def restart_journal() -> list[Recorded]:
    """A sample before a restart (1,000 @ 100 in the old run), the order after it, and the new run's first
    sample after the fill (5,000 @ 120 since the restart): the brief's reproduction."""
    events: list[tuple[float, ev.Event]] = [
        (T - 100, ev.EngineStarted(0)),
        tick(T - 49.65, 1000, "100000", "119.98", "120.02"),
        (T - 10, ev.EngineStarted(0)),
        (T, accepted()),
        (T + 2, ev.ChildPlaced("P1", "C1", "XNYS", "ACME", Side.BUY, 1000, None, True, mid=D("120.00"))),
        (T + 2, ev.VenueExecution("P1", "C1", "XNYS", "E1", 1000, D("120.01"), "2")),
        (T + 2, ev.ParentFilled("P1", 1000, D("120.01"), "XNYS", (("O1", 1000),))),
        tick(T + 3, 5000, "600000", "119.98", "120.02"),
    ]
    return [Recorded(n, t, e) for n, (t, e) in enumerate(events, 1)]


def test_an_orders_vwap_after_a_restart_is_the_new_runs_tape() -> None:
    [o] = analyse_journal(restart_journal(), "O1", None).orders
    assert o.vwap == D(120)  # from the restart's zero: 600000/5000; differencing the runs gave 500000/4000 = 125
    assert o.arrival == D(120)  # the pre-restart sample's mid: the last one at or before acceptance


def test_the_journal_read_by_index_finds_the_engine_starts(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with SqliteJournal(path) as j:
        for rec in restart_journal():
            append(j, rec.time, rec.event)
        j.flush().result(timeout=10)
    with JournalReader(path) as reader:
        records = read_events(reader, "O1", None)
    assert [r.time for r in records if isinstance(r.event, ev.EngineStarted)] == [T - 100, T - 10]
    [o] = analyse_journal(records, "O1", None).orders
    assert o.vwap == D(120)
    assert analyse_journal(records, "O1", None).orders == analyse_journal(restart_journal(), "O1", None).orders


# --------------------------------------------------------------------------- how old the arrival mid is


def test_the_arrival_mid_says_which_sample_it_is_and_how_old() -> None:
    report = analyse_journal(restart_journal(), "O1", None)
    [o] = report.orders
    # the last sample at or before acceptance, here from before a restart: 49.65 s old, and the report says so
    assert (o.arrival_source, o.arrival_time) == ("sample", T - 49.65)
    assert o.arrival_age_s == pytest.approx(49.65)
    doc = json.loads("\n".join(render_journal(report, "json")))
    order = doc["orders"][0]
    assert order["arrival_age_s"] == 49.65
    assert order["arrival_detail"] == "sample at 08:59:10.350 (49,650 ms before arrival)"
    assert order["arrival_time"] == "2026-01-01T08:59:10.350Z"
    [row] = [r for r in csv.DictReader(render_journal(report, "csv")) if r["section"] == "order"]
    assert (row["arrival_source"], row["arrival_age_s"]) == ("sample", "49.65")
    header, o1 = [line for line in render_journal(report, "table") if line.startswith(("order ", "O1 "))][:2]
    assert "mid seen" in header and "sample -49.650s" in o1


def test_without_samples_the_first_childs_mid_is_seen_after_arrival() -> None:
    [o] = analyse_journal(journal(with_samples=False), "O1", None).orders
    assert (o.arrival_source, o.arrival_age_s) == ("first child", -2.0)
    [order] = json.loads("\n".join(render_journal(analyse_journal(journal(with_samples=False), "O1", None),
                                                  "json")))["orders"]
    assert order["arrival_detail"] == "first child at 09:00:02.000 (2,000 ms after arrival)"


# --------------------------------------------------------------------------- midpoint pegs


def test_midpoint_peg_children_say_so_in_every_format() -> None:
    events = [
        *journal()[:4],
        Recorded(20, T + 2, ev.ChildPlaced("P1", "C2", "DARK1", "ACME", Side.BUY, 200, D("100.05"), False, peg=True,
                                           mid=D("100.02"))),
        Recorded(21, T + 2, ev.ChildPlaced("P1", "C3", "DARK2", "ACME", Side.BUY, 100, None, False, peg=True,
                                           mid=D("100.02"))),
        Recorded(22, T + 2, ev.ChildPlaced("P1", "C4", "XNYS", "ACME", Side.BUY, 100, D("100.01"), False,
                                           mid=D("100.02"))),
    ]
    report = analyse_journal(events, "P1", None)
    assert [c.order_type for c in report.children] == ["market", "mid peg <= 100.05", "mid peg", "100.01"]
    table = render_journal(report, "table")
    assert any("DARK1" in line and "mid peg <= 100.05" in line for line in table)
    assert any("DARK2" in line and "mid peg " in line and "<=" not in line for line in table)
    children = json.loads("\n".join(render_journal(report, "json")))["children"]
    assert [(c["order_type"], c["limit"], c["peg"]) for c in children] == [
        ("market", None, False), ("mid peg <= 100.05", "100.05", True), ("mid peg", None, True),
        ("100.01", "100.01", False)]
    rows = [r for r in csv.DictReader(render_journal(report, "csv")) if r["section"] == "child"]
    assert [(r["order_type"], r["limit"], r["peg"]) for r in rows] == [
        ("market", "", "false"), ("mid peg <= 100.05", "100.05", "true"), ("mid peg", "", "true"),
        ("100.01", "100.01", "false")]
