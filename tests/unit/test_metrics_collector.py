"""The metrics' counters and collector: messages counted off the wire whatever the read boundaries,
reports counted by kind, and a snapshot exposed in the Prometheus text format as documented."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from concurrent.futures import Future
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metaorder.fix.codec import FieldValue, encode
from metaorder.metrics.collector import MetaorderCollector, build_registry
from metaorder.metrics.counters import ACK_LATENCY_BUCKETS, Histogram, OmsCounts, SessionCounts
from metaorder.metrics.state import SessionState, Snapshot
from metaorder.orders.book import INTERNAL
from metaorder.orders.messages import ExecutionReport, NoOrderReport, Outgoing, ReportKind
from metaorder.orders.model import OrderStatus, OrderType, Side, TimeInForce
from metaorder.shells.oms import OmsApplication

HEADER: list[tuple[int, FieldValue]] = [(34, 1), (49, "OMS1"), (52, "20240102-10:00:00.000"), (56, "METAORDER")]


def wire() -> bytes:
    """A stream of seven messages: Logon, two orders, Heartbeat, ResendRequest, a session Reject
    (reason 5) and a BusinessMessageReject (reason 3)."""
    return b"".join([
        encode("FIX.4.4", "A", HEADER, [(98, 0), (108, 30)]),
        encode("FIX.4.4", "D", HEADER, [(11, "A1"), (55, "ACME"), (54, "1"), (38, 100), (40, "1")]),
        encode("FIX.4.4", "D", HEADER, [(11, "A2"), (55, "ACME"), (54, "2"), (38, 100), (40, "1")]),
        encode("FIX.4.4", "0", HEADER, []),
        encode("FIX.4.4", "2", HEADER, [(7, 1), (16, 0)]),
        encode("FIX.4.4", "3", HEADER, [(45, 2), (371, 44), (372, "D"), (373, 5)]),
        encode("FIX.4.4", "j", HEADER, [(45, 3), (372, "Z"), (380, 3), (58, "Unsupported Message Type")]),
    ])


def test_messages_received_are_counted_by_type_wherever_the_reads_cut_the_stream() -> None:
    data = wire()
    for cut in range(1, len(data)):
        counts = SessionCounts()
        tap = counts.tap()
        tap.received(data[:cut])
        tap.received(data[cut:])
        assert counts.received == {b"A": 1, b"D": 2, b"0": 1, b"2": 1, b"3": 1, b"j": 1}, cut
        assert counts.session_rejects == {("in", b"5"): 1}, cut
        assert counts.business_rejects == {("in", b"3"): 1}, cut


def test_messages_received_one_byte_at_a_time_are_counted_once() -> None:
    counts = SessionCounts()
    tap = counts.tap()
    for i, byte in enumerate(wire() * 2):
        tap.received(bytes([byte]))
        assert i < 10 or sum(counts.received.values()) <= 14
    assert counts.received[b"D"] == 4 and sum(counts.received.values()) == 14


def test_reads_of_any_sizes_count_every_message_once_as_new_types_appear() -> None:
    """Seeded random reads over a stream whose later part brings types the tap has not seen yet
    (its fast path, which counts only known types, must notice and walk the read instead)."""
    rng = random.Random(16)
    orders = encode("FIX.4.4", "D", HEADER, [(11, "A1"), (55, "ACME"), (54, "1"), (38, 100), (40, "1")]) * 50
    stream = orders + wire() + orders + wire()
    for _ in range(200):
        counts = SessionCounts()
        tap = counts.tap()
        at = 0
        while at < len(stream):
            size = rng.choice((1, 7, 64, 500, 4096))
            tap.received(stream[at:at + size])
            at += size
        assert counts.received == {b"A": 2, b"D": 104, b"0": 2, b"2": 2, b"3": 2, b"j": 2}
        assert counts.session_rejects == {("in", b"5"): 2} and counts.business_rejects == {("in", b"3"): 2}


def test_messages_sent_are_counted_with_the_reasons_of_our_rejects() -> None:
    counts = SessionCounts()
    counts.tap().sent(wire())
    assert counts.sent[b"D"] == 2 and counts.session_rejects == {("out", b"5"): 1}
    assert counts.business_rejects == {("out", b"3"): 1}


def test_the_histogram_puts_each_value_in_the_first_bucket_at_or_above_it() -> None:
    h = Histogram((0.001, 0.01))
    for value in (0.0005, 0.001, 0.002, 5.0):
        h.observe(value)
    assert h.buckets == [2, 1, 1] and h.cumulative() == [2, 3, 4] and h.count == 4
    assert abs(h.sum - 5.0035) < 1e-12


def _fill(last_mkt: str) -> ExecutionReport:
    return ExecutionReport("O1", "A1", None, None, "E1", ReportKind.FILL, OrderStatus.PARTIALLY_FILLED, "ACME",
                           Side.BUY, 100, OrderType.MARKET, None, TimeInForce.DAY, 40, Decimal("142.50"),
                           last_mkt, 60, 40, Decimal("142.50"), 0.0, "")


def test_reports_are_counted_by_exec_type_refusals_by_reason_and_internal_fills_apart() -> None:
    counts = OmsCounts()
    refused = NoOrderReport(ReportKind.REJECTED, "A9", "ACME", "1", "E2", 3, "over the limit", 0.0)
    unknown = NoOrderReport(ReportKind.STATUS, "A8", "ACME", "1", "E3", None, "", 0.0)
    counts.count_reports([Outgoing("OMS1", _fill(INTERNAL)), Outgoing("OMS2", _fill(INTERNAL)),
                          Outgoing("OMS1", _fill("ATLX")), Outgoing("OMS1", refused), Outgoing("OMS1", unknown)])
    assert counts.reports == {"F": 3, "8": 1, "I": 1}
    assert counts.order_rejects == {"3": 1} and counts.internal_fills == 2


def snapshot() -> Snapshot:
    s = Snapshot()
    s.sessions = [SessionState("oms", "OMS1", True, 12, 9), SessionState("venue", "ATLX", False, 3, 4)]
    s.messages_received = {("OMS1", "D"): 3, ("OMS1", "2"): 1}
    s.messages_sent = {("OMS1", "8"): 5, ("ATLX", "2"): 2}
    s.session_rejects = {("OMS1", "out", "5"): 1}
    s.order_rejects = {"3": 2}
    s.client_reports = {"0": 3, "8": 2}
    s.client_orders = {"new": 2, "partially_filled": 1}
    hist = Histogram(ACK_LATENCY_BUCKETS)
    for value in (0.0002, 0.0004, 0.003):
        hist.observe(value)
    s.ack_latency_cumulative, s.ack_latency_sum = hist.cumulative(), hist.sum
    s.parents_working = 2
    s.children_open, s.children_sent = {"ATLX": 1}, {"ATLX": 4}
    s.venue_fills, s.venue_shares = {"ATLX": 2}, {"ATLX": 300}
    s.internal_crosses, s.internal_crossed_shares = 1, 100
    s.journal_commits, s.journal_uncommitted = 7, 0
    s.global_kill, s.session_kills = False, {"OMS1": True, "OMS2": False}
    s.venues, s.venues_connected = ["ATLX", "BORX"], ["ATLX"]
    s.market_data_age = {"ATLX": 0.25}
    return s


def exposition(s: Snapshot) -> dict[str, float]:
    """Every sample of the exposition, as ``name{label="value",...}`` -> value."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetaorderCollector(lambda: s))
    text = generate_latest(registry).decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("metaorder_") and family.documentation
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def test_a_snapshot_is_exposed_with_its_labels_types_and_units() -> None:
    m = exposition(snapshot())
    assert m['metaorder_fix_session_logged_on{counterparty="OMS1",role="oms"}'] == 1
    assert m['metaorder_fix_session_logged_on{counterparty="ATLX",role="venue"}'] == 0
    assert m['metaorder_fix_next_sender_seq_num{counterparty="OMS1",role="oms"}'] == 12
    assert m['metaorder_fix_messages_received_total{counterparty="OMS1",msg_type="D"}'] == 3
    assert m['metaorder_fix_messages_sent_total{counterparty="OMS1",msg_type="8"}'] == 5
    assert m['metaorder_fix_resend_requests_total{counterparty="OMS1",direction="in"}'] == 1
    assert m['metaorder_fix_resend_requests_total{counterparty="ATLX",direction="out"}'] == 2
    assert m['metaorder_fix_session_rejects_total{counterparty="OMS1",direction="out",reason="5"}'] == 1
    assert m['metaorder_order_rejects_total{reason="3"}'] == 2
    assert m['metaorder_execution_reports_total{exec_type="0"}'] == 3
    assert m['metaorder_client_orders{status="partially_filled"}'] == 1
    assert m['metaorder_new_order_ack_latency_seconds_bucket{le="0.00025"}'] == 1
    assert m['metaorder_new_order_ack_latency_seconds_bucket{le="0.0005"}'] == 2
    assert m['metaorder_new_order_ack_latency_seconds_bucket{le="+Inf"}'] == 3
    assert m["metaorder_new_order_ack_latency_seconds_count{}"] == 3
    assert abs(m["metaorder_new_order_ack_latency_seconds_sum{}"] - 0.0036) < 1e-12
    assert m["metaorder_parents_working{}"] == 2
    assert m['metaorder_child_orders_open{venue="ATLX"}'] == 1
    assert m['metaorder_child_orders_sent_total{venue="ATLX"}'] == 4
    assert m['metaorder_venue_filled_shares_total{venue="ATLX"}'] == 300
    assert m["metaorder_internal_crosses_total{}"] == 1 and m["metaorder_internal_crossed_shares_total{}"] == 100
    assert m["metaorder_journal_commits_total{}"] == 7 and m["metaorder_journal_uncommitted_entries{}"] == 0
    assert m['metaorder_kill_switch_engaged{scope="global"}'] == 0
    assert m['metaorder_kill_switch_engaged{scope="OMS1"}'] == 1
    assert m['metaorder_venue_connected{venue="BORX"}'] == 0
    assert m['metaorder_market_data_age_seconds{venue="ATLX"}'] == 0.25


def test_an_unknown_commit_lag_is_left_out_rather_than_shown_as_zero() -> None:
    s = snapshot()
    s.journal_uncommitted = None
    assert not any(name.startswith("metaorder_journal_uncommitted") for name in exposition(s))


def test_the_registry_adds_process_metrics_and_each_scrape_reads_a_fresh_snapshot() -> None:
    seen: list[int] = []

    def fresh() -> Snapshot:
        seen.append(1)
        return snapshot()

    registry = build_registry(fresh)
    first = generate_latest(registry).decode()
    generate_latest(registry)
    assert len(seen) == 2
    assert "python_info" in first and "metaorder_parents_working 2.0" in first


def test_ctl_status_counters_are_one_json_object_with_totals() -> None:
    counters = snapshot().counters()
    assert json.loads(json.dumps(counters)) == counters
    assert counters["messages_received"] == {"OMS1": {"2": 1, "D": 3}}
    assert counters["resend_requests_received"] == 1 and counters["resend_requests_sent"] == 2
    assert counters["new_order_acks"] == 3 and counters["ack_latency_mean_s"] == 0.0012
    assert counters["session_rejects"] == {"OMS1 out 5": 1}


class _Outbox:
    def __init__(self) -> None:
        self.posted: list[object] = []

    def post(self, sink: object, items: list[object]) -> None:
        self.posted.append(items)


async def test_ack_latency_runs_from_the_read_to_the_journal_commit_even_when_it_completes_on_another_thread(
) -> None:
    """With ``synchronous = FULL`` the commit completes on the journal's thread: the answers are
    timed then, on the loop, from the moment their orders were read."""
    now = [10.0]
    clock = SimpleNamespace(now=lambda: now[0])
    refused = NoOrderReport(ReportKind.REJECTED, "A9", "ACME", "1", "E2", 3, "over the limit", 0.0)
    intake = SimpleNamespace(on_message=lambda session, message, at: [Outgoing("OMS1", refused)])
    counts = OmsCounts()
    app = OmsApplication(cast(Any, intake), {}, cast(Any, clock), outbox=cast(Any, _Outbox()), counts=counts)
    conn = SimpleNamespace(read_at=9.9996, session=SimpleNamespace(config=SimpleNamespace(target_comp_id="OMS1")))
    app.on_message(cast(Any, conn), cast(Any, SimpleNamespace(msg_type="D")), 9.9998)
    commit: Future[None] = Future()
    app.deliver([], commit)
    assert counts.ack_latency.count == 0  # not committed yet: not answered yet
    now[0] = 10.0004
    writer = threading.Thread(target=commit.set_result, args=(None,))
    writer.start()
    writer.join()
    await asyncio.sleep(0)  # the loop runs what the journal's thread handed it
    assert counts.ack_latency.count == 1 and abs(counts.ack_latency.sum - 0.0008) < 1e-9
    assert counts.order_rejects == {"3": 1}
