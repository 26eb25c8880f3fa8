"""``metaorder audit ORDER_ID``: one order's life, read back from the journal.

Why this module exists
----------------------
A client asks "why was my order filled at that price?"  The answer is spread over the journal:
the order's own entries (accepted with its mandate, replaced, canceled, internal crosses, its
pro-rata share of each parent fill) and, because orders are aggregated, the entries of every
parent it belonged to (child orders placed, acknowledged, replaced, canceled, rejected at the
venues, and the venue executions).  This module joins the two into one time-ordered timeline
and ends it with a summary computed from the fills themselves, so it can be checked against the
ExecutionReports the client received.

What "fed" an order
-------------------
A parent's activity is shown for the time the order was *in* that parent: from the entry that
put it there (``order.accepted`` or an ``order.replaced`` naming the parent) until it left (a
replace into another parent) or was done (filled or canceled).  Child orders working before the
order arrived, or still canceling after it was filled, did not feed it and are left out; the
parent view (``P3``) shows everything.

Reading the journal
-------------------
Only through :class:`~metaorder.orders.journal.JournalReader`: read-only, no lock, so an audit
can run beside the engine and sees what is committed.  Orders and parents are found through the
journal's audit index (``history``), one range scan each.  A ``SESSION:ClOrdID`` is not in that
index (only rejections are indexed by it), so that lookup scans the journal once.

Entries are read as typed events through the journal's one codec (:mod:`metaorder.eventcodec`),
as recovery reads them.  A payload the codec refuses (a missing key, a float where a decimal
belongs) is a one-line :class:`AuditError` naming the entry; a kind the codec does not know (a
journal written by a newer version) is shown as stored rather than hidden or refused: an audit
is for people, and a line they cannot fully read is worth more to them than no answer.

Entries are ordered by their sequence number, not by their stored time: the sequence is the
order in which the engine did things, and it agrees with the time order unless the wall clock
was stepped back (then sorting by time would put an effect before its cause).

Money is exact: prices, fees and the average price are ``Decimal``s from the events.
The average price is ``notional / cum_qty`` evaluated exactly as the intake computes AvgPx (6),
so the summary matches the client's last ExecutionReport digit for digit.  Times are the
journal's stored epoch seconds formatted in UTC with milliseconds; this module never reads a clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TextIO

from metaorder import events as ev
from metaorder.eventcodec import MalformedEvent, UnknownEventKind, decode, encode_dict
from metaorder.orders.journal import JournalEntry, JournalReader, json_default
from metaorder.orders.model import Mandate, OrderStatus, OrderType, Side

__all__ = [
    "AuditError",
    "Event",
    "Life",
    "Summary",
    "audit",
    "format_time",
    "render_json",
    "render_text",
    "run_audit",
]

#: Parent events that show an order what was done for it at the venues.
FEED_TYPES: Final = (ev.ChildPlaced, ev.ChildAcknowledged, ev.ChildCancelRequested, ev.ChildCanceled,
                     ev.ChildRejected, ev.VenueExecution, ev.ParentHalted)
_ChildEvent = (ev.ChildPlaced | ev.ChildAcknowledged | ev.ChildCancelRequested | ev.ChildCanceled
               | ev.ChildRejected | ev.VenueExecution)
_TIME_WIDTH: Final = 24  # len("2023-11-14T22:13:20.000Z")
_KIND_WIDTH: Final = 15  # len("venue.execution")


class AuditError(Exception):
    """The audit cannot answer: unknown order or a malformed entry.  The message is one line."""


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a life: a journal entry as it concerns the audited order or parent."""

    seq: int
    time: float  # epoch seconds, as journaled
    kind: str  # the journal kind ("order.accepted", "fill", "venue.execution", ...)
    subject: str  # the order, parent or SESSION:ClOrdID the line is about
    text: str  # the essentials, for people
    fields: Mapping[str, Any]  # the essentials, for tools (the event's payload: decimals as strings)


@dataclass(frozen=True, slots=True)
class Summary:
    """Where an order (or a parent) stands at the end of the journal."""

    subject: str
    text: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Life:
    subject: str
    events: list[Event]
    summaries: list[Summary]


# --------------------------------------------------------------------------- formatting helpers


def format_time(epoch: float) -> str:
    """A journal time as ISO 8601 UTC with milliseconds, e.g. ``2023-11-14T22:13:20.123Z``."""
    stamp = dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="milliseconds")
    return stamp.removesuffix("+00:00") + "Z"


def _side(side: Side) -> str:
    return side.name.lower().replace("_", " ")


def _price_text(price: Decimal | None) -> str:
    return "market" if price is None else f"@ {price}"


def _limit_text(ord_type: OrderType, limit: Decimal | None) -> str:
    if ord_type is OrderType.MARKET or limit is None:
        return "market"
    return f"limit {limit}"


def _liquidity(value: str) -> str:
    return {"1": "added", "2": "removed"}.get(value, f"liquidity {value}")


def _avg_px(notional: Decimal, cum_qty: int) -> Decimal | None:
    """AvgPx exactly as the intake reports it (ClientOrder.avg_px); None before any fill."""
    return notional / cum_qty if cum_qty else None


# --------------------------------------------------------------------------- describing events


def _mandate_text(m: Mandate) -> str:
    parts = [m.strategy.name, f"urgency {m.urgency.value}", m.aggressiveness.value]
    start, end = m.start_time, m.end_time
    if start is not None or end is not None:
        parts.append(f"window {format_time(start) if start is not None else 'now'}"
                     f" to {format_time(end) if end is not None else 'end of day'}")
    if m.participation_rate is not None:
        parts.append(f"rate {m.participation_rate}")
    return ", ".join(parts)


def _accepted_text(e: ev.OrderAccepted) -> str:
    account = f", account {e.account}" if e.account else ""
    parent = f"parent {e.parent_id}" if e.parent_id else "no parent (crossed in full on arrival)"
    return (f"{e.session} {e.cl_ord_id}{account}: {_side(e.side)} {e.qty} {e.symbol} {_limit_text(e.ord_type, e.limit)}"
            f" {e.tif.name}; {_mandate_text(e.mandate)}; {parent}")


def _replaced_text(e: ev.OrderReplaced) -> str:
    limit = "market" if e.limit is None else f"limit {e.limit}"
    parent = f"parent {e.parent_id}" if e.parent_id else "no parent"
    return f"{e.cl_ord_id} (was {e.orig_cl_ord_id}): qty {e.qty} {limit}; {parent}"


def _canceled_text(e: ev.OrderCanceled) -> str:
    return f"by {e.cl_ord_id}" + (f": {e.reason}" if e.reason else "")


def _child_text(e: _ChildEvent) -> str:
    where = f"{e.child_id} on {e.venue}"
    if isinstance(e, ev.ChildPlaced):
        ioc = " IOC" if e.ioc else ""
        reason = f" ({e.reason})" if e.reason else ""
        return f"{where}: {_side(e.side)} {e.qty} {e.symbol} {_price_text(e.price)}{ioc}{reason}"
    if isinstance(e, ev.ChildAcknowledged):
        return f"{where}: venue order id {e.venue_order_id}"
    if isinstance(e, ev.ChildCanceled):
        return f"{where}: {e.reason or 'canceled'}"
    if isinstance(e, ev.ChildRejected):
        return f"{where}: {e.text or 'rejected'}"
    if isinstance(e, ev.ChildCancelRequested):
        return f"{where}" + (f": {e.reason}" if e.reason else "")
    fee_text = f", fee {e.fee}" if e.fee is not None else ""
    return f"{where}: {e.qty} @ {e.price} {_liquidity(e.liquidity)}{fee_text}, exec {e.exec_id}"


def _parent_fill_text(e: ev.ParentFilled) -> str:
    shares = ", ".join(f"{oid} {qty}" for oid, qty in e.allocations)
    return f"{e.qty} @ {e.price} on {e.market} allocated {shares or 'to nobody'}"


def _describe(event: ev.Event) -> str:
    """Words for an event no view has a sentence of its own for; its payload as stored otherwise."""
    if isinstance(event, ev.OrderAccepted):
        return _accepted_text(event)
    if isinstance(event, ev.OrderReplaced):
        return _replaced_text(event)
    if isinstance(event, ev.OrderCanceled):
        return _canceled_text(event)
    if isinstance(event, ev.OrderRejected):
        return f"OrdRejReason {event.reason}: {event.text}"
    if isinstance(event, ev.ParentFilled):
        return _parent_fill_text(event)
    if isinstance(event, FEED_TYPES) and not isinstance(event, ev.ParentHalted):
        return _child_text(event)
    if isinstance(event, ev.ParentHalted):
        return event.text or "halted"
    if isinstance(event, ev.OrderExpired | ev.ParentOverfilled | ev.StrategyChosen):
        return event.text or event.kind
    return _generic_text(encode_dict(event))


def _generic_text(data: Mapping[str, Any]) -> str:
    return json.dumps(data, default=json_default, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- the journal, read


@dataclass(frozen=True, slots=True)
class _Fact:
    """A journal entry read as its event; ``event`` None: a kind this version does not know."""

    entry: JournalEntry
    event: ev.Event | None

    @property
    def seq(self) -> int:
        return self.entry.seq

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def parent_id(self) -> str | None:
        """The parent the event is about or happened in (None: none, or not a parent's event)."""
        parent_id = getattr(self.event, "parent_id", None)
        return parent_id if isinstance(parent_id, str) else None


class _Journal:
    """The reader plus caches: a parent's history is read once however many of its orders are audited."""

    def __init__(self, reader: JournalReader) -> None:
        self.reader = reader
        self._histories: dict[str, list[_Fact]] = {}

    @property
    def path(self) -> Path:
        return self.reader.path

    def history(self, oid: str) -> list[_Fact]:
        if oid not in self._histories:
            self._histories[oid] = [self.fact(entry) for entry in self.reader.history(oid)]
        return self._histories[oid]

    def fact(self, entry: JournalEntry) -> _Fact:
        """``entry`` as its event; a payload the codec refuses is one clear AuditError."""
        try:
            return _Fact(entry, decode(entry.kind, entry.data, entry.seq, self.reader.event_version))
        except UnknownEventKind:
            return _Fact(entry, None)
        except MalformedEvent as exc:
            raise AuditError(f"journal {self.path}: entry {entry.seq} ({entry.kind}) is malformed:"
                             f" {exc.detail}") from exc

    def accepted(self, order_id: str) -> ev.OrderAccepted | None:
        for fact in self.history(order_id):
            if isinstance(fact.event, ev.OrderAccepted) and fact.event.order_id == order_id:
                return fact.event
        return None

    def accepted_fact(self, order_id: str) -> _Fact | None:
        for fact in self.history(order_id):
            if isinstance(fact.event, ev.OrderAccepted) and fact.event.order_id == order_id:
                return fact
        return None


def _line(fact: _Fact, subject: str, text: str | None = None, extra: Mapping[str, Any] | None = None) -> Event:
    """The timeline line of ``fact``: ``text`` (default: the event's words) and its payload for tools."""
    entry, event = fact.entry, fact.event
    if event is None:
        return Event(entry.seq, entry.time, entry.kind, subject, text or _generic_text(entry.data),
                     {**entry.data, **(extra or {})})
    return Event(entry.seq, entry.time, entry.kind, subject, text if text is not None else _describe(event),
                 {**encode_dict(event), **(extra or {})})


def _is_feed(fact: _Fact) -> bool:
    """Does this parent fact show its orders what was done for them (a newer ``child.*`` kind too)?"""
    if fact.event is None:
        return fact.kind.startswith("child.")
    return isinstance(fact.event, FEED_TYPES)


# --------------------------------------------------------------------------- one order


@dataclass(slots=True)
class _Stay:
    """A stretch of time (in journal sequence numbers) an order spent in one parent."""

    parent_id: str
    start: int  # seq of the entry that put the order there
    end: int | None = None  # seq it left or was done; None: still there

    def covers(self, seq: int) -> bool:
        return self.start <= seq and (self.end is None or seq <= self.end)


@dataclass(slots=True)
class _Order:
    """An order's state, folded from its own events exactly as the intake's recovery folds them."""

    order_id: str
    qty: int
    cum_qty: int = 0
    notional: Decimal = Decimal(0)
    canceled: bool = False
    expired: bool = False
    done_seq: int | None = None
    stays: list[_Stay] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def status(self) -> OrderStatus:
        if self.cum_qty >= self.qty:
            return OrderStatus.FILLED
        if self.expired:
            return OrderStatus.EXPIRED
        if self.canceled:
            return OrderStatus.CANCELED
        return OrderStatus.PARTIALLY_FILLED if self.cum_qty else OrderStatus.NEW

    def move_to(self, parent_id: str | None, seq: int) -> None:
        current = self.stays[-1] if self.stays and self.stays[-1].end is None else None
        if current is not None and current.parent_id == parent_id:
            return
        if current is not None:
            current.end = seq
        if parent_id is not None and self.done_seq is None:
            self.stays.append(_Stay(parent_id, seq))

    def filled(self, qty: int, price: Decimal, seq: int) -> None:
        self.cum_qty += qty
        self.notional += qty * price
        if self.done_seq is None and self.cum_qty >= self.qty:
            self.finish(seq)

    def finish(self, seq: int) -> None:
        self.done_seq = seq
        self.move_to(None, seq)

    def summary(self) -> Summary:
        avg = _avg_px(self.notional, self.cum_qty)
        leaves = 0 if self.canceled or self.expired else max(self.qty - self.cum_qty, 0)
        text = (f"qty {self.qty}  cum qty {self.cum_qty}  leaves {leaves}"
                f"  avg px {avg if avg is not None else '-'}  status {self.status.name}")
        return Summary(self.order_id, text, {
            "order_id": self.order_id, "qty": self.qty, "cum_qty": self.cum_qty, "leaves_qty": leaves,
            "avg_px": None if avg is None else str(avg), "notional": str(self.notional),
            "status": self.status.name,
        })


def _fold_order(journal: _Journal, accepted: _Fact) -> _Order:
    """The order's own events, in journal order, as timeline lines and as state."""
    assert isinstance(accepted.event, ev.OrderAccepted)
    order = _Order(accepted.event.order_id, accepted.event.qty)
    for fact in journal.history(order.order_id):
        if fact.seq < accepted.seq:
            continue
        line = _own_event(journal, order, fact)
        if line is not None:
            order.events.append(line)
    return order


def _own_event(journal: _Journal, order: _Order, fact: _Fact) -> Event | None:
    """Apply one of the order's facts to its state and describe it (None: not about this order)."""
    event, oid, seq = fact.event, order.order_id, fact.seq
    if isinstance(event, ev.OrderAccepted):
        if event.order_id != oid:
            return None
        order.move_to(event.parent_id, seq)
        return _line(fact, oid)
    if isinstance(event, ev.OrderReplaced) and event.order_id == oid:
        order.qty = event.qty
        order.move_to(event.parent_id, seq)
        return _line(fact, oid)
    if isinstance(event, ev.OrderCanceled | ev.OrderExpired) and event.order_id == oid:
        if isinstance(event, ev.OrderExpired):
            order.expired = True
        else:
            order.canceled = True
        if order.done_seq is None:
            order.finish(seq)
        return _line(fact, oid)
    if isinstance(event, ev.Crossed) and oid in (event.incoming, event.resting):
        return _cross_event(journal, order, fact, event)
    if isinstance(event, ev.ParentFilled):
        share = sum(qty for a, qty in event.allocations if a == oid)
        order.filled(share, event.price, seq)
        parent_fill = f"{event.qty} @ {event.price} on {event.market}"
        return _line(fact, oid, f"{share} of {event.parent_id}'s fill of {parent_fill}", {"order_qty": share})
    return _line(fact, oid)


def _cross_event(journal: _Journal, order: _Order, fact: _Fact, cross: ev.Crossed) -> Event:
    """An internal cross, naming the counter-order the way its OMS knows it."""
    oid = order.order_id
    incoming = cross.incoming == oid
    counter = cross.resting if incoming else cross.incoming
    order.filled(cross.qty, cross.price, fact.seq)
    counter_accepted = journal.accepted(counter)
    who = counter
    if counter_accepted is not None:
        c = counter_accepted
        who = f"{counter} ({c.session} {c.cl_ord_id}, {_side(c.side)})"
    role = "incoming" if incoming else "resting"
    return _line(fact, oid, f"{cross.qty} @ {cross.price} {cross.market} with {who}; {oid} was {role}",
                 {"counter_order_id": counter, "role": role})


def _order_life(journal: _Journal, accepted: _Fact) -> Life:
    order = _fold_order(journal, accepted)
    lines = {e.seq: e for e in order.events}
    for stay in order.stays:
        for fact in journal.history(stay.parent_id):
            if _is_feed(fact) and stay.covers(fact.seq) and fact.seq not in lines:
                lines[fact.seq] = _line(fact, stay.parent_id)
    return Life(order.order_id, [lines[s] for s in sorted(lines)], [order.summary()])


# --------------------------------------------------------------------------- one parent


def _parent_life(journal: _Journal, parent_id: str) -> Life:
    """Everything the parent did, its orders' own events while they were in it, and where each stands.

    Orders are found through the parent's index: those accepted into it and those allocated a
    fill.  An order replaced into the parent is found only once it gets a fill, because
    ``order.replaced`` entries are indexed under the order alone.
    """
    lines: dict[int, Event] = {}
    members: dict[str, None] = {}
    venue_qty, venue_notional, fees = 0, Decimal(0), Decimal(0)
    alloc_qty, alloc_notional = 0, Decimal(0)
    halted = False
    for fact in journal.history(parent_id):
        event = fact.event
        if isinstance(event, ev.OrderAccepted | ev.OrderReplaced) and event.parent_id == parent_id:
            members[event.order_id] = None
            lines[fact.seq] = _line(fact, event.order_id)
        elif isinstance(event, ev.ParentFilled) and event.parent_id == parent_id:
            members.update((oid, None) for oid, _ in event.allocations)
            alloc_qty += event.qty
            alloc_notional += event.qty * event.price
            lines[fact.seq] = _line(fact, parent_id)
        elif _is_feed(fact):
            if isinstance(event, ev.VenueExecution):
                venue_qty += event.qty
                venue_notional += event.qty * event.price
                fees += event.fee if event.fee is not None else 0
            halted = halted or isinstance(event, ev.ParentHalted)
            lines[fact.seq] = _line(fact, parent_id)
        else:  # the parent's other facts (over-fills, strategy), and kinds this version cannot read
            lines[fact.seq] = _line(fact, parent_id)

    summaries: list[Summary] = []
    working = False
    for order_id in members:
        accepted = journal.accepted_fact(order_id)
        if accepted is None:
            continue
        order = _fold_order(journal, accepted)
        stays = [s for s in order.stays if s.parent_id == parent_id]
        for line in order.events:
            if line.seq not in lines and any(s.covers(line.seq) for s in stays):
                lines[line.seq] = line
        working = working or any(s.end is None for s in stays)
        summaries.append(order.summary())
    summaries.append(_parent_summary(parent_id, len(members), (alloc_qty, alloc_notional),
                                     (venue_qty, venue_notional, fees), halted, working))
    return Life(parent_id, [lines[s] for s in sorted(lines)], summaries)


def _parent_summary(parent_id: str, orders: int, allocated: tuple[int, Decimal],
                    venue: tuple[int, Decimal, Decimal], halted: bool, working: bool) -> Summary:
    alloc_avg = _avg_px(allocated[1], allocated[0])
    venue_avg = _avg_px(venue[1], venue[0])
    status = ("HALTED" if halted else "WORKING") if working else "DONE"
    text = (f"orders {orders}  allocated {allocated[0]} avg px {alloc_avg if alloc_avg is not None else '-'}"
            f"  venue executions {venue[0]} avg px {venue_avg if venue_avg is not None else '-'} fees {venue[2]}"
            f"  status {status}")
    return Summary(parent_id, text, {
        "parent_id": parent_id, "orders": orders, "cum_qty": allocated[0],
        "avg_px": None if alloc_avg is None else str(alloc_avg), "venue_qty": venue[0],
        "venue_avg_px": None if venue_avg is None else str(venue_avg), "fees": str(venue[2]), "status": status,
    })


# --------------------------------------------------------------------------- SESSION:ClOrdID

_BY_CL_ORD_ID_KINDS: Final = frozenset({ev.OrderAccepted.kind, ev.OrderReplaced.kind, ev.OrderCanceled.kind,
                                        ev.OrderRejected.kind})


def _by_cl_ord_id(journal: _Journal, target: str) -> list[Life]:
    """Every order the OMS knew as ``SESSION:ClOrdID`` (original, replace or cancel ClOrdID) and its rejections.

    One pass over the journal, reading only the kinds that name ClOrdIDs: accepted and replaced
    entries are indexed by OrderID only.
    """
    session, _, cl_ord_id = target.partition(":")
    sessions: dict[str, str] = {}
    found: dict[str, _Fact] = {}
    rejected: list[_Fact] = []
    for entry in journal.reader.replay():
        if entry.kind not in _BY_CL_ORD_ID_KINDS:
            continue
        fact = journal.fact(entry)
        event = fact.event
        if isinstance(event, ev.OrderAccepted):
            sessions[event.order_id] = event.session
            if event.session == session and event.cl_ord_id == cl_ord_id:
                found.setdefault(event.order_id, fact)
        elif isinstance(event, ev.OrderReplaced | ev.OrderCanceled):
            oid = event.order_id
            names = (event.cl_ord_id, event.orig_cl_ord_id if isinstance(event, ev.OrderReplaced) else None)
            if sessions.get(oid) == session and cl_ord_id in names and oid not in found:
                accepted = journal.accepted_fact(oid)
                if accepted is not None:
                    found[oid] = accepted
        elif isinstance(event, ev.OrderRejected) and event.session == session and event.cl_ord_id == cl_ord_id:
            rejected.append(fact)
    lives = [_order_life(journal, accepted) for accepted in found.values()]
    if rejected:
        lines = [_line(fact, target) for fact in rejected]
        summary = Summary(target, f"{len(rejected)} rejected  status {OrderStatus.REJECTED.name}",
                          {"session": session, "cl_ord_id": cl_ord_id, "rejected": len(rejected),
                           "status": OrderStatus.REJECTED.name})
        lives.append(Life(target, lines, [summary]))
    return lives


# --------------------------------------------------------------------------- entry points


def audit(reader: JournalReader, target: str) -> list[Life]:
    """The lives ``target`` names: an OrderID, a parent id, or ``SESSION:ClOrdID`` (maybe several).

    Raises :class:`AuditError` when the journal knows nothing by that name.
    """
    journal = _Journal(reader)
    lives: list[Life] = []
    if ":" in target:
        lives = _by_cl_ord_id(journal, target)
    else:
        accepted = journal.accepted_fact(target)
        if accepted is not None:
            lives = [_order_life(journal, accepted)]
        elif any(fact.parent_id == target for fact in journal.history(target)):
            lives = [_parent_life(journal, target)]
    if not lives:
        raise AuditError(f"no order {target} in journal {reader.path}")
    return lives


def render_text(lives: Iterable[Life]) -> Iterator[str]:
    """One readable line per event, then the summary lines; a blank line between lives."""
    for n, life in enumerate(lives):
        if n:
            yield ""
        for e in life.events:
            yield f"{format_time(e.time):<{_TIME_WIDTH}}  {e.kind:<{_KIND_WIDTH}}  {e.subject} {e.text}"
        for s in life.summaries:
            yield f"{'':<{_TIME_WIDTH}}  {'summary':<{_KIND_WIDTH}}  {s.subject} {s.text}"


def render_json(lives: Iterable[Life]) -> Iterator[str]:
    """One JSON object per line: events carry the journal's payload, summaries the exact totals."""
    for life in lives:
        for e in life.events:
            head = {"seq": e.seq, "time": format_time(e.time), "event": e.kind, "subject": e.subject}
            yield _json_line(head, e.fields, e.text)
        for s in life.summaries:
            yield _json_line({"event": "summary", "subject": s.subject}, s.fields, s.text)


def _json_line(head: dict[str, Any], fields: Mapping[str, Any], text: str) -> str:
    """``head`` first and never overwritten by a payload key, then the payload, then the readable text."""
    record = {**head, **{k: v for k, v in fields.items() if k not in head}, "text": text}
    return json.dumps(record, default=json_default, ensure_ascii=False)


def run_audit(journal_path: Path, target: str, *, as_json: bool, out: TextIO) -> None:
    """``metaorder audit``: read, then print; nothing is printed if the journal cannot answer.

    Raises :class:`~metaorder.orders.journal.JournalError` (missing, unreadable or foreign file)
    or :class:`AuditError`; both carry a one-line message.
    """
    with JournalReader(journal_path) as reader:
        try:
            lives = audit(reader, target)
        except json.JSONDecodeError as exc:  # order_ids of a damaged row (payloads raise JournalError)
            raise AuditError(f"journal {journal_path}: an entry is not valid JSON: {exc.msg}") from exc
    for line in (render_json if as_json else render_text)(lives):
        out.write(line + "\n")
