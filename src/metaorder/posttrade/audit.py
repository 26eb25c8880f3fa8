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

Entries are ordered by their sequence number, not by their stored time: the sequence is the
order in which the engine did things, and it agrees with the time order unless the wall clock
was stepped back (then sorting by time would put an effect before its cause).

Money is exact: prices, fees and the average price are ``Decimal`` from the journal's decimal
strings; a float where a decimal belongs is reported as a malformed entry, never rounded through.
The average price is ``notional / cum_qty`` evaluated exactly as the intake computes AvgPx (6),
so the summary matches the client's last ExecutionReport digit for digit.  Times are the
journal's stored epoch seconds formatted in UTC with milliseconds; this module never reads a clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, Final, TextIO

from metaorder.orders.journal import JournalEntry, JournalReader, json_default
from metaorder.orders.model import OrderStatus, OrderType, Side, Strategy, TimeInForce

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

#: Parent entries that show an order what was done for it at the venues; every other ``child.*``
#: kind (e.g. ``child.cancel_requested``) is shown too, so a new pipeline event is never hidden.
FEED_KINDS: Final = frozenset({
    "child.placed", "child.acked", "child.replaced", "child.canceled", "child.rejected",
    "venue.execution", "parent.halted",
})


def _is_feed(kind: str) -> bool:
    return kind in FEED_KINDS or kind.startswith("child.")
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
    fields: Mapping[str, Any]  # the essentials, for tools (decimals as strings)


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


def _decimal(value: object, what: str) -> Decimal:
    """A decimal as the journal stores it (a string, or an int); a float would already be inexact."""
    if isinstance(value, str):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise ValueError(f"{what} is not a decimal string: {value!r}")


def _int(value: object, what: str) -> int:
    """A share quantity: an int, or a string of a whole number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        number = Decimal(value)
        if number == number.to_integral_value():
            return int(number)
    raise ValueError(f"{what} is not a whole number of shares: {value!r}")


def _side(value: object) -> str:
    return Side(value).name.lower().replace("_", " ")


def _price_text(price: object, what: str) -> str:
    return "market" if price is None else f"@ {_decimal(price, what)}"


def _limit_text(ord_type: object, limit: object) -> str:
    if ord_type == OrderType.MARKET.value or limit is None:
        return "market"
    return f"limit {_decimal(limit, 'limit')}"


def _liquidity(value: object) -> str:
    return {"1": "added", "2": "removed"}.get(str(value), f"liquidity {value}")


def _avg_px(notional: Decimal, cum_qty: int) -> Decimal | None:
    """AvgPx exactly as the intake reports it (ClientOrder.avg_px); None before any fill."""
    return notional / cum_qty if cum_qty else None


# --------------------------------------------------------------------------- describing entries


def _mandate_text(data: Mapping[str, Any]) -> str:
    parts = [Strategy(data["strategy"]).name, f"urgency {data['urgency']}", str(data["aggressiveness"])]
    start, end = data.get("start_time"), data.get("end_time")
    if start is not None or end is not None:
        parts.append(f"window {format_time(start) if start is not None else 'now'}"
                     f" to {format_time(end) if end is not None else 'end of day'}")
    if data.get("participation_rate") is not None:
        parts.append(f"rate {_decimal(data['participation_rate'], 'participation_rate')}")
    return ", ".join(parts)


def _accepted_text(data: Mapping[str, Any]) -> str:
    account = f", account {data['account']}" if data.get("account") else ""
    parent = f"parent {data['parent_id']}" if data.get("parent_id") else "no parent (crossed in full on arrival)"
    return (f"{data['session']} {data['cl_ord_id']}{account}: {_side(data['side'])} {_int(data['qty'], 'qty')}"
            f" {data['symbol']} {_limit_text(data['ord_type'], data.get('limit'))}"
            f" {TimeInForce(data['tif']).name}; {_mandate_text(data)}; {parent}")


def _replaced_text(data: Mapping[str, Any]) -> str:
    limit = "market" if data.get("limit") is None else f"limit {_decimal(data['limit'], 'limit')}"
    parent = f"parent {data['parent_id']}" if data.get("parent_id") else "no parent"
    return (f"{data['cl_ord_id']} (was {data.get('orig_cl_ord_id')}): qty {_int(data['qty'], 'qty')} {limit};"
            f" {parent}")


def _canceled_text(data: Mapping[str, Any]) -> str:
    reason = data.get("reason")
    return f"by {data['cl_ord_id']}" + (f": {reason}" if reason else "")


def _rejected_text(data: Mapping[str, Any]) -> str:
    return f"OrdRejReason {data.get('reason')}: {data.get('text')}"


def _child_text(kind: str, data: Mapping[str, Any]) -> str:
    where = f"{data['child_id']} on {data['venue']}"
    if kind == "child.placed":
        ioc = " IOC" if data.get("ioc") else ""
        reason = f" ({data['reason']})" if data.get("reason") else ""
        return (f"{where}: {_side(data['side'])} {_int(data['qty'], 'qty')} {data['symbol']}"
                f" {_price_text(data.get('price'), 'price')}{ioc}{reason}")
    if kind == "child.acked":
        return f"{where}: venue order id {data.get('venue_order_id')}"
    if kind == "child.replaced":
        return f"{where}: now {_int(data['qty'], 'qty')} {_price_text(data.get('price'), 'price')}"
    if kind == "child.canceled":
        return f"{where}: {data.get('reason') or 'canceled'}"
    if kind == "child.rejected":
        return f"{where}: {data.get('text') or 'rejected'}"
    if kind != "venue.execution":  # a child event this module has no words for yet
        return f"{where}" + (f": {data['reason']}" if data.get("reason") else "")
    fee = data.get("fee")
    fee_text = f", fee {_decimal(fee, 'fee')}" if fee is not None else ""
    return (f"{where}: {_int(data['qty'], 'qty')} @ {_decimal(data['price'], 'price')}"
            f" {_liquidity(data.get('liquidity'))}{fee_text}, exec {data.get('exec_id')}")


def _parent_fill_text(data: Mapping[str, Any]) -> str:
    shares = ", ".join(f"{oid} {_int(qty, 'allocation')}" for oid, qty in data["allocations"])
    return (f"{_int(data['qty'], 'qty')} @ {_decimal(data['price'], 'price')} on {data['market']}"
            f" allocated {shares or 'to nobody'}")


def _generic_text(data: Mapping[str, Any]) -> str:
    return json.dumps(data, default=json_default, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- the journal, read


class _Journal:
    """The reader plus caches: a parent's history is read once however many of its orders are audited."""

    def __init__(self, reader: JournalReader) -> None:
        self.reader = reader
        self._histories: dict[str, list[JournalEntry]] = {}

    @property
    def path(self) -> Path:
        return self.reader.path

    def history(self, oid: str) -> list[JournalEntry]:
        if oid not in self._histories:
            self._histories[oid] = self.reader.history(oid)
        return self._histories[oid]

    def accepted(self, order_id: str) -> JournalEntry | None:
        for entry in self.history(order_id):
            if entry.kind == "order.accepted" and entry.data.get("order_id") == order_id:
                return entry
        return None

    def event(self, entry: JournalEntry, subject: str, describe: Callable[[], str],
              extra: Mapping[str, Any] | None = None) -> Event:
        """An Event for ``entry``; a payload that does not read as its kind says is one clear error."""
        try:
            text = describe()
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise self.malformed(entry, exc) from exc
        fields = {**entry.data, **(extra or {})}
        return Event(entry.seq, entry.time, entry.kind, subject, text, fields)

    def malformed(self, entry: JournalEntry, exc: BaseException) -> AuditError:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        return AuditError(f"journal {self.path}: entry {entry.seq} ({entry.kind}) is malformed: {detail}")


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
    """An order's state, folded from its own entries exactly as the intake's recovery folds them."""

    order_id: str
    qty: int
    cum_qty: int = 0
    notional: Decimal = Decimal(0)
    canceled: bool = False
    done_seq: int | None = None
    stays: list[_Stay] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def status(self) -> OrderStatus:
        if self.cum_qty >= self.qty:
            return OrderStatus.FILLED
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
        leaves = 0 if self.canceled else max(self.qty - self.cum_qty, 0)
        text = (f"qty {self.qty}  cum qty {self.cum_qty}  leaves {leaves}"
                f"  avg px {avg if avg is not None else '-'}  status {self.status.name}")
        return Summary(self.order_id, text, {
            "order_id": self.order_id, "qty": self.qty, "cum_qty": self.cum_qty, "leaves_qty": leaves,
            "avg_px": None if avg is None else str(avg), "notional": str(self.notional),
            "status": self.status.name,
        })


def _fold_order(journal: _Journal, accepted: JournalEntry) -> _Order:
    """The order's own entries, in journal order, as events and as state."""
    order_id = str(accepted.data["order_id"])
    try:
        order = _Order(order_id, _int(accepted.data["qty"], "qty"))
    except (KeyError, ValueError, ArithmeticError) as exc:
        raise journal.malformed(accepted, exc) from exc
    for entry in journal.history(order_id):
        if entry.seq < accepted.seq:
            continue
        try:
            event = _own_event(journal, order, entry)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise journal.malformed(entry, exc) from exc
        if event is not None:
            order.events.append(event)
    return order


def _own_event(journal: _Journal, order: _Order, entry: JournalEntry) -> Event | None:
    """Apply one of the order's entries to its state and describe it (None: not about this order)."""
    data, oid = entry.data, order.order_id
    if entry.kind == "order.accepted":
        if data["order_id"] != oid:
            return None
        order.move_to(data.get("parent_id"), entry.seq)
        return journal.event(entry, oid, partial(_accepted_text, data))
    if entry.kind == "order.replaced" and data.get("order_id") == oid:
        order.qty = _int(data["qty"], "qty")
        order.move_to(data.get("parent_id"), entry.seq)
        return journal.event(entry, oid, partial(_replaced_text, data))
    if entry.kind == "order.canceled" and data.get("order_id") == oid:
        order.canceled = True
        if order.done_seq is None:
            order.finish(entry.seq)
        return journal.event(entry, oid, partial(_canceled_text, data))
    if entry.kind == "cross" and oid in (data.get("incoming"), data.get("resting")):
        return _cross_event(journal, order, entry)
    if entry.kind == "fill":
        share = sum(_int(q, "allocation") for a, q in data["allocations"] if a == oid)
        price = _decimal(data["price"], "price")
        order.filled(share, price, entry.seq)
        parent_fill = f"{_int(data['qty'], 'qty')} @ {price} on {data['market']}"
        return journal.event(entry, oid, lambda: f"{share} of {data['parent_id']}'s fill of {parent_fill}",
                             {"order_qty": share})
    return journal.event(entry, oid, partial(_generic_text, data))


def _cross_event(journal: _Journal, order: _Order, entry: JournalEntry) -> Event:
    """An internal cross, naming the counter-order the way its OMS knows it."""
    data, oid = entry.data, order.order_id
    incoming = data["incoming"] == oid
    counter = str(data["resting"] if incoming else data["incoming"])
    qty, price = _int(data["qty"], "qty"), _decimal(data["price"], "price")
    order.filled(qty, price, entry.seq)
    counter_entry = journal.accepted(counter)
    who = counter
    if counter_entry is not None:
        cd = counter_entry.data
        who = f"{counter} ({cd.get('session')} {cd.get('cl_ord_id')}, {_side(cd.get('side'))})"
    role = "incoming" if incoming else "resting"
    return journal.event(entry, oid, lambda: f"{qty} @ {price} {data['market']} with {who}; {oid} was {role}",
                         {"counter_order_id": counter, "role": role})


def _feed_event(journal: _Journal, entry: JournalEntry, parent_id: str) -> Event:
    data = entry.data
    if entry.kind == "parent.halted":
        return journal.event(entry, parent_id, lambda: str(data.get("text") or "halted"))
    return journal.event(entry, parent_id, partial(_child_text, entry.kind, data))


def _order_life(journal: _Journal, accepted: JournalEntry) -> Life:
    order = _fold_order(journal, accepted)
    events = {e.seq: e for e in order.events}
    for stay in order.stays:
        for entry in journal.history(stay.parent_id):
            if _is_feed(entry.kind) and stay.covers(entry.seq) and entry.seq not in events:
                events[entry.seq] = _feed_event(journal, entry, stay.parent_id)
    return Life(order.order_id, [events[s] for s in sorted(events)], [order.summary()])


# --------------------------------------------------------------------------- one parent


def _parent_life(journal: _Journal, parent_id: str) -> Life:
    """Everything the parent did, its orders' own events while they were in it, and where each stands.

    Orders are found through the parent's index: those accepted into it and those allocated a
    fill.  An order replaced into the parent is found only once it gets a fill, because
    ``order.replaced`` entries are indexed under the order alone.
    """
    events: dict[int, Event] = {}
    members: dict[str, None] = {}
    venue_qty, venue_notional, fees = 0, Decimal(0), Decimal(0)
    alloc_qty, alloc_notional = 0, Decimal(0)
    halted = False
    for entry in journal.history(parent_id):
        data = entry.data
        try:
            if entry.kind in ("order.accepted", "order.replaced") and data.get("parent_id") == parent_id:
                members[str(data["order_id"])] = None
                describe = _accepted_text if entry.kind == "order.accepted" else _replaced_text
                events[entry.seq] = journal.event(entry, str(data["order_id"]), partial(describe, data))
            elif entry.kind == "fill" and data.get("parent_id") == parent_id:
                members.update((str(oid), None) for oid, _ in data["allocations"])
                qty, price = _int(data["qty"], "qty"), _decimal(data["price"], "price")
                alloc_qty += qty
                alloc_notional += qty * price
                events[entry.seq] = journal.event(entry, parent_id, partial(_parent_fill_text, data))
            elif _is_feed(entry.kind):
                if entry.kind == "venue.execution":
                    qty, price = _int(data["qty"], "qty"), _decimal(data["price"], "price")
                    venue_qty += qty
                    venue_notional += qty * price
                    fees += _decimal(data["fee"], "fee") if data.get("fee") is not None else 0
                halted = halted or entry.kind == "parent.halted"
                events[entry.seq] = _feed_event(journal, entry, parent_id)
            else:  # a kind this module has no words for yet: shown as stored rather than hidden
                events[entry.seq] = journal.event(entry, parent_id, partial(_generic_text, data))
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise journal.malformed(entry, exc) from exc

    summaries: list[Summary] = []
    working = False
    for order_id in members:
        accepted = journal.accepted(order_id)
        if accepted is None:
            continue
        order = _fold_order(journal, accepted)
        stays = [s for s in order.stays if s.parent_id == parent_id]
        for event in order.events:
            if event.seq not in events and any(s.covers(event.seq) for s in stays):
                events[event.seq] = event
        working = working or any(s.end is None for s in stays)
        summaries.append(order.summary())
    summaries.append(_parent_summary(parent_id, len(members), (alloc_qty, alloc_notional),
                                     (venue_qty, venue_notional, fees), halted, working))
    return Life(parent_id, [events[s] for s in sorted(events)], summaries)


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


def _by_cl_ord_id(journal: _Journal, target: str) -> list[Life]:
    """Every order the OMS knew as ``SESSION:ClOrdID`` (original, replace or cancel ClOrdID) and its rejections.

    One pass over the journal: accepted and replaced entries are indexed by OrderID only.
    """
    session, _, cl_ord_id = target.partition(":")
    sessions: dict[str, str] = {}
    found: dict[str, JournalEntry] = {}
    rejected: list[JournalEntry] = []
    for entry in journal.reader.replay():
        data = entry.data
        oid = str(data.get("order_id"))
        if entry.kind == "order.accepted":
            sessions[oid] = str(data.get("session"))
            if data.get("session") == session and data.get("cl_ord_id") == cl_ord_id:
                found.setdefault(oid, entry)
        elif entry.kind in ("order.replaced", "order.canceled"):
            names = (data.get("cl_ord_id"), data.get("orig_cl_ord_id"))
            if sessions.get(oid) == session and cl_ord_id in names and oid not in found:
                accepted = journal.accepted(oid)
                if accepted is not None:
                    found[oid] = accepted
        elif entry.kind == "order.rejected" and data.get("session") == session and data.get("cl_ord_id") == cl_ord_id:
            rejected.append(entry)
    lives = [_order_life(journal, accepted) for accepted in found.values()]
    if rejected:
        events = [journal.event(e, target, partial(_rejected_text, e.data)) for e in rejected]
        summary = Summary(target, f"{len(rejected)} rejected  status {OrderStatus.REJECTED.name}",
                          {"session": session, "cl_ord_id": cl_ord_id, "rejected": len(rejected),
                           "status": OrderStatus.REJECTED.name})
        lives.append(Life(target, events, [summary]))
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
        accepted = journal.accepted(target)
        if accepted is not None:
            lives = [_order_life(journal, accepted)]
        elif any(e.data.get("parent_id") == target for e in journal.history(target)):
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
