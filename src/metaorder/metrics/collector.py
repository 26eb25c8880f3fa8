"""The Prometheus collector: a :class:`~metaorder.metrics.state.Snapshot` into metric families.

A custom collector (rather than Counter/Gauge objects updated as things happen) because the
values already exist: the hot path keeps plain counters and the engine knows its own state, so
the only work is done here, once per scrape.  Every name starts with ``metaorder_``, carries its
unit, and says in its help text what it counts.  The registry is our own (never prometheus-client's
global one: a second daemon in the same process, as in tests, must not see the first's metrics),
with the process and platform collectors added for memory, CPU, file descriptors and the Python
version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from metaorder.metrics.state import Snapshot


class MetaorderCollector(Collector):
    """Yields every ``metaorder_*`` family from a fresh snapshot at each collection."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self._snapshot())


def build_registry(snapshot: Callable[[], Snapshot]) -> CollectorRegistry:
    """Our own registry: the engine's families plus the process and platform collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetaorderCollector(snapshot))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def families(s: Snapshot) -> list[Metric]:
    """The metric families of one snapshot (a pure function: the tests call it directly)."""
    out: list[Metric] = []

    # Values as (label values, value) pairs: an Iterable is covariant, so any dict's items() fit.
    def gauge(name: str, doc: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], float]]) -> None:
        family = GaugeMetricFamily(name, doc, labels=labels)
        for key, value in sorted(values):
            family.add_metric(list(key), value)
        out.append(family)

    def counter(name: str, doc: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], float]]) -> None:
        family = CounterMetricFamily(name, doc, labels=labels)
        for key, value in sorted(values):
            family.add_metric(list(key), value)
        out.append(family)

    sessions = {(x.role, x.counterparty): x for x in s.sessions}
    gauge("metaorder_fix_session_logged_on", "1 while the FIX session with this counterparty is logged on",
          ["role", "counterparty"], [(k, float(x.logged_on)) for k, x in sessions.items()])
    gauge("metaorder_fix_next_sender_seq_num", "MsgSeqNum of the next message we send on the session",
          ["role", "counterparty"], [(k, x.next_sender_seq) for k, x in sessions.items()])
    gauge("metaorder_fix_next_target_seq_num", "MsgSeqNum we expect next from the counterparty",
          ["role", "counterparty"], [(k, x.next_target_seq) for k, x in sessions.items()])
    counter("metaorder_fix_messages_received_total", "FIX messages received, by counterparty and MsgType (35)",
            ["counterparty", "msg_type"], s.messages_received.items())
    counter("metaorder_fix_messages_sent_total", "FIX messages sent (resends included), by counterparty and MsgType",
            ["counterparty", "msg_type"], s.messages_sent.items())
    resends: dict[tuple[str, ...], float] = {}
    for direction, messages in (("in", s.messages_received), ("out", s.messages_sent)):
        for (cp, msg_type), n in messages.items():
            if msg_type == "2":
                resends[cp, direction] = n
    counter("metaorder_fix_resend_requests_total", "ResendRequests (35=2): in = the counterparty asked us",
            ["counterparty", "direction"], resends.items())
    counter("metaorder_fix_session_rejects_total", "Session-level Rejects (35=3) by SessionRejectReason (373)",
            ["counterparty", "direction", "reason"], s.session_rejects.items())
    counter("metaorder_fix_business_rejects_total", "BusinessMessageRejects (35=j) by BusinessRejectReason (380)",
            ["counterparty", "direction", "reason"], s.business_rejects.items())
    counter("metaorder_order_rejects_total", "Client orders refused (ExecutionReport 150=8) by OrdRejReason (103)",
            ["reason"], [((r,), n) for r, n in s.order_rejects.items()])
    counter("metaorder_execution_reports_total", "ExecutionReports sent to OMS sessions, by ExecType (150)",
            ["exec_type"], [((t,), n) for t, n in s.client_reports.items()])
    gauge("metaorder_client_orders", "Open client orders by OrdStatus", ["status"],
          [((st,), n) for st, n in s.client_orders.items()])
    latency = HistogramMetricFamily(
        "metaorder_new_order_ack_latency_seconds",
        "NewOrderSingle read from the socket to its answer (ack or reject) handed to the socket after the "
        "journal commit")
    buckets = [(_le(b), float(n)) for b, n in zip(s.ack_latency_bounds, s.ack_latency_cumulative, strict=False)]
    buckets.append(("+Inf", float(s.ack_latency_count)))
    latency.add_metric([], buckets, s.ack_latency_sum)
    out.append(latency)
    gauge("metaorder_parents_working", "Parent orders being worked (aggregated client orders)", [],
          [((), s.parents_working)])
    gauge("metaorder_child_orders_open", "Child orders working at each venue", ["venue"],
          [((v,), n) for v, n in s.children_open.items()])
    counter("metaorder_child_orders_sent_total", "Child orders (NewOrderSingle) sent to each venue", ["venue"],
            [((v,), n) for v, n in s.children_sent.items()])
    counter("metaorder_child_order_rejects_total", "Child orders a venue rejected (150=8)", ["venue"],
            [((v,), n) for v, n in s.child_rejects.items()])
    counter("metaorder_venue_fills_total", "Executions of our child orders at each venue", ["venue"],
            [((v,), n) for v, n in s.venue_fills.items()])
    counter("metaorder_venue_filled_shares_total", "Shares executed at each venue", ["venue"],
            [((v,), n) for v, n in s.venue_shares.items()])
    counter("metaorder_internal_crosses_total", "Client orders crossed internally at the midpoint (pairs)", [],
            [((), s.internal_crosses)])
    counter("metaorder_internal_crossed_shares_total", "Shares crossed internally (each share counted once)", [],
            [((), s.internal_crossed_shares)])
    counter("metaorder_journal_commits_total", "Write transactions committed to the order journal", [],
            [((), s.journal_commits)])
    if s.journal_uncommitted is not None:
        gauge("metaorder_journal_uncommitted_entries",
              "Journal entries appended but not yet committed to its SQLite file (commit lag)", [],
              [((), s.journal_uncommitted)])
    kills = [(("global",), float(s.global_kill))]
    kills += [((session,), float(engaged)) for session, engaged in s.session_kills.items()]
    gauge("metaorder_kill_switch_engaged", "1 while a kill switch is engaged: scope global, or an OMS session",
          ["scope"], kills)
    gauge("metaorder_trading_suspended", "1 while the engine sends no new child orders (global kill switch)", [],
          [((), float(s.trading_suspended))])
    connected = set(s.venues_connected)
    gauge("metaorder_venue_connected", "1 while the engine's session with the venue is up", ["venue"],
          [((v,), float(v in connected)) for v in s.venues])
    gauge("metaorder_market_data_age_seconds", "Seconds since the venue's last market data update (W or X)",
          ["venue"], [((v,), age) for v, age in s.market_data_age.items()])
    return out


def _le(bound: float) -> str:
    return repr(float(bound))
