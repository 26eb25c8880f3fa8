"""Reading the journal for ``metaorder tca``: the recorded events an analysis needs, nothing more.

Why this module exists
----------------------
:mod:`.tca_journal` is pure (events in, figures out); this is its one contact with the file.  It
reads as ``metaorder audit`` does — :class:`~metaorder.orders.journal.JournalReader`, read-only and
without the lock, so it runs beside a working engine and sees what is committed — and decodes
every entry through the journal's one codec.

What is read: for a parent or an order id, the journal's audit index gives the target's history,
then its parents' histories (every child, execution and member order), the member orders' own
histories (replaces, cancels), the market tape of the symbols (``market:SYMBOL``, see
:class:`~metaorder.events.MarketSample`) and, when there is a tape, the ``engine.started`` entries:
each run's tape counts from zero, so the analysis must know where runs begin (a sample's volume
and notional cannot be differenced across one).  A handful of range scans, however long the
journal, and one scan of the entries' kinds (no payload decoded but the starts').
A ``SESSION:ClOrdID`` or a ``--day`` needs the whole journal (ClOrdIDs and days are not indexed):
one sequential replay.  A kind this version does not know is skipped (a journal written by a
newer metaorder: TCA reads what it understands); a malformed entry is a one-line error.
"""

from __future__ import annotations

from collections.abc import Iterable

from metaorder import events as ev
from metaorder.eventcodec import MalformedEvent, Recorded, UnknownEventKind, decode_entry
from metaorder.orders.journal import JournalEntry, JournalReader
from metaorder.posttrade.tca_journal import TcaError

__all__ = ["engine_starts", "read_events"]

def _decode(reader: JournalReader, entries: Iterable[JournalEntry], seen: dict[int, Recorded]) -> None:
    version = reader.event_version
    for entry in entries:
        if entry.seq in seen:
            continue
        try:
            seen[entry.seq] = decode_entry(entry, version)
        except UnknownEventKind:
            continue
        except MalformedEvent as exc:
            raise TcaError(f"journal {reader.path}: entry {entry.seq} ({entry.kind}) is malformed: {exc.detail}") \
                from exc


def read_events(reader: JournalReader, target: str | None, day: str | None) -> list[Recorded]:
    """The events ``target`` (P3, O17, SESSION:ClOrdID) or ``day`` needs, in journal order."""
    seen: dict[int, Recorded] = {}
    if day is not None or target is None or ":" in target:
        _decode(reader, reader.replay(), seen)
        return [seen[s] for s in sorted(seen)]
    _decode(reader, reader.history(target), seen)
    parents = {p for r in seen.values() for p in _parents_of(r.event)}
    for parent_id in sorted(parents):
        _decode(reader, reader.history(parent_id), seen)
    orders = {o for r in seen.values() for o in _orders_of(r.event)} - {target}
    for order_id in sorted(orders):
        _decode(reader, reader.history(order_id), seen)
    symbols = {r.event.symbol for r in seen.values() if isinstance(r.event, ev.OrderAccepted | ev.ChildPlaced)}
    tapes = len(seen)
    for symbol in sorted(symbols):
        _decode(reader, reader.history(f"market:{symbol}"), seen)
    if len(seen) > tapes:
        _decode(reader, engine_starts(reader), seen)
    return [seen[s] for s in sorted(seen)]


def engine_starts(reader: JournalReader) -> list[JournalEntry]:
    """Every ``engine.started`` entry, committed or still in the engine's redo log, in seq order."""
    return reader.of_kind(ev.EngineStarted.kind)


def _parents_of(event: ev.Event) -> tuple[str, ...]:
    if isinstance(event, ev.OrderAccepted | ev.OrderReplaced):
        return () if event.parent_id is None else (event.parent_id,)
    parent_id = getattr(event, "parent_id", None)
    return (parent_id,) if isinstance(parent_id, str) else ()


def _orders_of(event: ev.Event) -> tuple[str, ...]:
    if isinstance(event, ev.OrderAccepted):
        return (event.order_id,)
    if isinstance(event, ev.ParentFilled):
        return tuple(order_id for order_id, _ in event.allocations)
    return ()
