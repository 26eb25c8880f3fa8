"""What the engine looks like right now, read at scrape time into one plain :class:`Snapshot`.

The Prometheus collector and ``metaorder ctl status`` both read a snapshot, so a number on a
dashboard and the number an operator asks for on the command line come from the same code.  The
snapshot is plain data: the collector is tested on hand-made snapshots, without an engine.

Reading happens on the event loop (the scrape is served there), so the engine's state needs no
locks: what is read is what the loop has between two callbacks.  The counters come from
:mod:`.counters`; everything else (sessions, orders, parents, children, kill switches, market data,
journal) is asked of the objects themselves, which already know it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from metaorder.clock import Clock
from metaorder.execution.engine import ExecutionEngine
from metaorder.fix.session import Session
from metaorder.metrics.counters import ACK_LATENCY_BUCKETS, Counters
from metaorder.orders.intake import Intake
from metaorder.orders.journal import SqliteJournal
from metaorder.orders.model import ParentOrder


@dataclass(frozen=True, slots=True)
class SessionState:
    role: str  # "oms", "venue" or "dropcopy"
    counterparty: str  # TargetCompID
    logged_on: bool
    next_sender_seq: int  # MsgSeqNum of the next message we send
    next_target_seq: int  # MsgSeqNum we expect next from the counterparty


@dataclass(slots=True)
class Snapshot:
    """Every metric's value at one moment; dict keys are label values (strings, decoded)."""

    sessions: list[SessionState] = field(default_factory=list)
    messages_received: dict[tuple[str, str], int] = field(default_factory=dict)  # (counterparty, MsgType)
    messages_sent: dict[tuple[str, str], int] = field(default_factory=dict)
    session_rejects: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (cp, direction, 373)
    business_rejects: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (cp, direction, 380)
    order_rejects: dict[str, int] = field(default_factory=dict)  # OrdRejReason -> count
    client_reports: dict[str, int] = field(default_factory=dict)  # ExecType -> execution reports sent
    client_orders: dict[str, int] = field(default_factory=dict)  # open orders by OrdStatus name
    ack_latency_bounds: tuple[float, ...] = ACK_LATENCY_BUCKETS
    ack_latency_cumulative: list[int] = field(default_factory=lambda: [0] * (len(ACK_LATENCY_BUCKETS) + 1))
    ack_latency_sum: float = 0.0
    parents_working: int = 0
    children_open: dict[str, int] = field(default_factory=dict)  # venue -> open child orders
    children_sent: dict[str, int] = field(default_factory=dict)
    child_rejects: dict[str, int] = field(default_factory=dict)
    venue_fills: dict[str, int] = field(default_factory=dict)
    venue_shares: dict[str, int] = field(default_factory=dict)
    internal_crosses: int = 0
    internal_crossed_shares: int = 0
    journal_commits: int = 0
    journal_uncommitted: int | None = None  # None: this journal does not say
    global_kill: bool = False
    session_kills: dict[str, bool] = field(default_factory=dict)  # OMS session -> engaged
    trading_suspended: bool = False
    venues: list[str] = field(default_factory=list)  # every venue the engine knows
    venues_connected: list[str] = field(default_factory=list)
    market_data_age: dict[str, float] = field(default_factory=dict)  # venue -> seconds since its last update

    @property
    def ack_latency_count(self) -> int:
        return self.ack_latency_cumulative[-1]

    def counters(self) -> dict[str, object]:
        """The counters as one JSON-ready object (``metaorder ctl status``): totals, then details."""
        def by_cp(values: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for (cp, msg_type), n in sorted(values.items()):
                out.setdefault(cp, {})[msg_type] = n
            return out

        def rejects(values: dict[tuple[str, str, str], int]) -> dict[str, int]:
            return {f"{cp} {direction} {reason}": n for (cp, direction, reason), n in sorted(values.items())}

        count = self.ack_latency_count
        return {
            "messages_received": by_cp(self.messages_received),
            "messages_sent": by_cp(self.messages_sent),
            "resend_requests_received": sum(n for (_, t), n in self.messages_received.items() if t == "2"),
            "resend_requests_sent": sum(n for (_, t), n in self.messages_sent.items() if t == "2"),
            "session_rejects": rejects(self.session_rejects),
            "business_rejects": rejects(self.business_rejects),
            "order_rejects": dict(sorted(self.order_rejects.items())),
            "execution_reports": dict(sorted(self.client_reports.items())),
            "orders_by_status": dict(sorted(self.client_orders.items())),
            "new_order_acks": count,
            "ack_latency_mean_s": round(self.ack_latency_sum / count, 6) if count else None,
            "children_sent": dict(sorted(self.children_sent.items())),
            "children_open": dict(sorted(self.children_open.items())),
            "child_rejects": dict(sorted(self.child_rejects.items())),
            "venue_fills": dict(sorted(self.venue_fills.items())),
            "venue_shares": dict(sorted(self.venue_shares.items())),
            "internal_crosses": self.internal_crosses,
            "internal_crossed_shares": self.internal_crossed_shares,
            "journal_commits": self.journal_commits,
            "journal_uncommitted_entries": self.journal_uncommitted,
            "market_data_age_s": {v: round(age, 3) for v, age in sorted(self.market_data_age.items())},
        }


#: (role, session) of every FIX session of the daemon, asked at each scrape (venue sessions appear
#: once their initiators exist).
SessionList = Callable[[], Iterable[tuple[str, Session]]]


class EngineState:
    """The live objects a snapshot is read from, and the readiness checks over them."""

    def __init__(self, counters: Counters, intake: Intake, engine: ExecutionEngine, journal: SqliteJournal,
                 sessions: SessionList, oms_sessions: Iterable[str], clock: Clock,
                 oms_listening: Callable[[], bool]) -> None:
        self.counters = counters
        self.intake = intake
        self.engine = engine
        self.journal = journal
        self.sessions = sessions
        self.oms_sessions = sorted(oms_sessions)
        self.clock = clock
        self.oms_listening = oms_listening

    def snapshot(self) -> Snapshot:
        c, intake, engine = self.counters, self.intake, self.engine
        snap = Snapshot()
        for role, session in self.sessions():
            store = session.store
            snap.sessions.append(SessionState(role, session.config.target_comp_id, session.logged_on,
                                              store.next_sender_seq(), store.next_target_seq()))
        for cp, counts in c.sessions.items():
            for raw, n in counts.received.items():
                snap.messages_received[cp, _text(raw)] = n
            for raw, n in counts.sent.items():
                snap.messages_sent[cp, _text(raw)] = n
            for (direction, raw), n in counts.session_rejects.items():
                snap.session_rejects[cp, direction, _text(raw) or "none"] = n
            for (direction, raw), n in counts.business_rejects.items():
                snap.business_rejects[cp, direction, _text(raw) or "none"] = n
        oms = c.oms
        snap.order_rejects = dict(oms.order_rejects)
        snap.client_reports = dict(oms.reports)
        snap.ack_latency_bounds = oms.ack_latency.bounds
        snap.ack_latency_cumulative = oms.ack_latency.cumulative()
        snap.ack_latency_sum = oms.ack_latency.sum
        snap.internal_crosses = oms.internal_fills // 2  # each cross reports a fill to both of its orders
        snap.internal_crossed_shares = intake.crossed_qty
        snap.client_orders, snap.parents_working = open_orders_by_status(intake.book.parents())
        for child in engine.open_children():
            snap.children_open[child.venue] = snap.children_open.get(child.venue, 0) + 1
        v = c.venues
        snap.children_sent, snap.child_rejects = dict(v.children_sent), dict(v.child_rejects)
        snap.venue_fills, snap.venue_shares = dict(v.fills), dict(v.shares)
        snap.journal_commits = self.journal.commits
        snap.journal_uncommitted = uncommitted_entries(self.journal)
        risk = intake.risk
        snap.global_kill = risk.global_killed
        snap.session_kills = {s: risk.session_killed(s) for s in self.oms_sessions}
        snap.trading_suspended = engine.suspended
        snap.venues = sorted(engine.venues)
        snap.venues_connected = sorted(engine.connected)
        now = self.clock.now()
        for venue in snap.venues:
            try:
                last = engine.market.last_update(venue)
            except KeyError:  # a venue the market view was not built with: no data to age
                continue
            if last is not None:
                snap.market_data_age[venue] = max(0.0, now - last)
        return snap

    def readiness(self) -> list[str]:
        """What keeps the daemon from being ready to trade, one line each; empty: ready."""
        failed: list[str] = []
        if not self.oms_listening():
            failed.append("oms acceptor: not listening")
        journal_problem = journal_unwritable(self.journal)
        if journal_problem:
            failed.append(f"journal: {journal_problem}")
        venues = [s for role, s in self.sessions() if role == "venue"]
        if not any(s.logged_on for s in venues):
            failed.append(f"venues: none of {len(venues)} logged on")
        return failed


def open_orders_by_status(parents: Iterable[ParentOrder]) -> tuple[dict[str, int], int]:
    """The open client orders by OrdStatus name, and the number of parents, from the parents'
    running counts: O(parents), not O(orders) (a million open orders took a second per scrape).

    Every open order sits in exactly one working parent, and an order in a parent always has
    shares left (the book detaches an order when it is filled, canceled or expired: see
    :class:`~metaorder.orders.book.ParentBook`), so its status is ``new`` until it has a fill and
    ``partially_filled`` from then on: :attr:`Children.started <metaorder.orders.model.Children>`
    counts the latter.  A status with no order is left out, as before.
    """
    count = members = started = 0
    for parent in parents:
        count += 1
        children = parent.children
        members += len(children)
        started += children.started
    by_status: dict[str, int] = {}
    if members > started:
        by_status["new"] = members - started
    if started:
        by_status["partially_filled"] = started
    return by_status, count


def uncommitted_entries(journal: SqliteJournal) -> int:
    """Entries appended but not yet committed to the SQLite file (:attr:`SqliteJournal.uncommitted`)."""
    return journal.uncommitted


def journal_unwritable(journal: SqliteJournal) -> str:
    """Why the journal cannot take entries now ("" when it can): its writer failed, or its file is
    not writable any more.  ``flush`` reports a failed writer without side effects beyond handing
    over what is pending, which the outbox would do at the end of this loop iteration anyway."""
    durable = journal.flush()
    if durable.done() and durable.exception() is not None:
        return str(durable.exception())
    if not os.access(journal.path, os.W_OK):
        return f"{journal.path} is not writable"
    return ""


def _text(raw: bytes) -> str:
    return raw.decode("ascii", "replace")
