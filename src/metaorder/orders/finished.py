"""Today's finished client orders, packed: what a restart loads in a fraction of a second.

The intake answers for every order of the trading day, finished ones included: a status request
(OrderStatusRequest) gets its last state, a cancel or replace of it gets "too late" with its
status.  A heavy day has more than a million of them, and as full order objects (strings, enums,
Decimals, a mandate each) a recovery snapshot took 10-20 us an order to load: 1.4 million orders
were most of a 30 s restart.  Packed here, they are four flat buffers (keys, records and their
offsets) that pickle and load as a few byte copies, whatever their number; an order is decoded
only when someone asks for it.

Keys are (session, ClOrdID), every ClOrdID the order had (a canceled or replaced order answers to
its earlier ClOrdIDs too), sorted as bytes so a lookup is a binary search.  A record is the
order's whole state (``marshal`` of plain values: the snapshot that carries it is only read by the
same build, hence the same Python), so an order read back is the order as it finished.

The archive is immutable: :meth:`FinishedOrders.merged` builds a new one with more orders (the
snapshotter does it when it captures a snapshot; it costs about a second per million orders, never
on the engine's event loop).  Finished orders are never changed again (a fill goes to an open
order; a cancel or replace of a finished one is refused), so nothing is lost by freezing them.
"""

from __future__ import annotations

import marshal
from array import array
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from metaorder.orders.model import (
    Aggressiveness,
    ClientOrder,
    Mandate,
    OrderType,
    Side,
    Strategy,
    TimeInForce,
    Urgency,
)

__all__ = ["FinishedOrders", "Packed", "PackedArchive"]

_SEP = b"\x00"  # between session and ClOrdID in a key: a configured CompID never contains it


def _key(session: str, cl_ord_id: str) -> bytes:
    return session.encode() + _SEP + cl_ord_id.encode()


def _encode(order: ClientOrder) -> bytes:
    m = order.mandate
    rate = m.participation_rate
    return marshal.dumps((
        order.order_id, order.session, order.cl_ord_id, order.symbol, order.side.value, order.qty,
        order.ord_type.value, None if order.limit is None else str(order.limit), order.tif.value,
        m.strategy.value, m.urgency.value, m.aggressiveness.value, m.start_time, m.end_time,
        None if rate is None else str(rate), m.params, order.arrival, order.arrival_seq, order.cum_qty,
        str(order.notional), order.canceled, order.parent_id, order.orig_cl_ord_id, order.account, order.expired,
    ))


def _decode(record: bytes) -> ClientOrder:
    (order_id, session, cl_ord_id, symbol, side, qty, ord_type, limit, tif, strategy, urgency, aggressiveness,
     start_time, end_time, rate, params, arrival, arrival_seq, cum_qty, notional, canceled, parent_id,
     orig_cl_ord_id, account, expired) = marshal.loads(record)
    mandate = Mandate(Strategy(strategy), Urgency(urgency), Aggressiveness(aggressiveness), start_time, end_time,
                      None if rate is None else Decimal(rate), params)
    order = ClientOrder(order_id, session, cl_ord_id, symbol, Side(side), qty, OrderType(ord_type),
                        None if limit is None else Decimal(limit), TimeInForce(tif), mandate, arrival, arrival_seq,
                        cum_qty, Decimal(notional), canceled, parent_id, orig_cl_ord_id, account)
    order.expired = expired
    return order


class Packed:
    """Records by key, packed in four flat buffers: the keys sorted (bytes order) with their ends,
    each key's record number, the records with their ends.  Immutable; built by :meth:`merged`.

    Canonical: records are numbered in the order of their first key, so the same (key, record)
    pairs make the same buffers however they were merged (a snapshot and its tail, or the whole
    day at once): recovery tests compare snapshots byte for byte."""

    __slots__ = ("_key_ends", "_keys", "_record_ends", "_record_of", "_records")

    def __init__(self, keys: bytes = b"", key_ends: array[int] | None = None, record_of: array[int] | None = None,
                 records: bytes = b"", record_ends: array[int] | None = None) -> None:
        self._keys = keys
        self._key_ends = key_ends if key_ends is not None else array("Q")
        self._record_of = record_of if record_of is not None else array("Q")  # the record of each key
        self._records = records
        self._record_ends = record_ends if record_ends is not None else array("Q")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) as its five buffers: loading copies bytes, it builds no objects."""
        return Packed, (self._keys, self._key_ends, self._record_of, self._records, self._record_ends)

    def __len__(self) -> int:
        """The number of records (not of keys)."""
        return len(self._record_ends)

    @property
    def keys(self) -> int:
        """The number of keys."""
        return len(self._key_ends)

    def record(self, key: bytes) -> bytes | None:
        """The record filed under ``key`` (binary search over the sorted keys), if any."""
        lo, hi = 0, len(self._key_ends)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._key_at(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._key_ends) and self._key_at(lo) == key:
            return self._record_bytes(self._record_of[lo])
        return None

    def records(self) -> Iterator[bytes]:
        """Every record, once, in the order of their first key."""
        for n in range(len(self._record_ends)):
            yield self._record_bytes(n)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key with its record (a record once per key), in key order."""
        for n in range(len(self._key_ends)):
            yield self._key_at(n), self._record_bytes(self._record_of[n])

    def merged(self, more: Iterable[tuple[bytes, bytes]]) -> Packed:
        """A new archive with these (key, record) pairs added; one record under several keys is the
        same bytes object for each (it is stored once).  A key already here is taken by the new record."""
        keyed: dict[bytes, bytes | int] = dict(more)  # key -> a new record, or an old record's number
        if not keyed:
            return self
        for n in range(len(self._key_ends)):
            keyed.setdefault(self._key_at(n), self._record_of[n])
        keys, key_ends, record_of = bytearray(), array("Q"), array("Q")
        blob, record_ends = bytearray(), array("Q")
        placed: dict[tuple[bool, int], int] = {}  # (new?, id of the new record or old number) -> new number
        for key in sorted(keyed):
            record = keyed[key]
            ref = (True, id(record)) if isinstance(record, bytes) else (False, record)
            number = placed.get(ref)
            if number is None:
                number = placed[ref] = len(record_ends)
                blob += record if isinstance(record, bytes) else self._record_bytes(record)
                record_ends.append(len(blob))
            keys += key
            key_ends.append(len(keys))
            record_of.append(number)
        return Packed(bytes(keys), key_ends, record_of, bytes(blob), record_ends)

    def _key_at(self, n: int) -> bytes:
        return self._keys[self._key_ends[n - 1] if n else 0:self._key_ends[n]]

    def _record_bytes(self, n: int) -> bytes:
        return self._records[self._record_ends[n - 1] if n else 0:self._record_ends[n]]


class PackedArchive:
    """What an archive of one kind of record (finished orders, closed children) shares: its
    :class:`Packed` buffers, pickled as they are, and its size in records.  Subclasses add how a
    record is keyed, encoded and decoded."""

    __slots__ = ("_packed",)

    def __init__(self, packed: Packed | None = None) -> None:
        self._packed = packed if packed is not None else Packed()

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self._packed,)

    def __len__(self) -> int:
        """The number of records (not of keys)."""
        return len(self._packed)


class FinishedOrders(PackedArchive):
    """Finished orders by (session, ClOrdID): packed, immutable, decoded on lookup."""

    __slots__ = ()

    @property
    def keys(self) -> int:
        """The number of (session, ClOrdID) keys."""
        return self._packed.keys

    def get(self, session: str, cl_ord_id: str) -> ClientOrder | None:
        """The finished order that had this ClOrdID in this session, decoded (a new object each call)."""
        record = self._packed.record(_key(session, cl_ord_id))
        return None if record is None else _decode(record)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self._packed.record(_key(*key)) is not None

    def orders(self) -> Iterator[ClientOrder]:
        """Every order, decoded, in the order of their first key."""
        return map(_decode, self._packed.records())

    def items(self) -> Iterator[tuple[tuple[str, str], ClientOrder]]:
        """Every (session, ClOrdID) key with its order (an order once per key), in key order."""
        for key, record in self._packed.items():
            session, cl_ord_id = key.split(_SEP, 1)
            yield (session.decode(), cl_ord_id.decode()), _decode(record)

    def merged(self, more: Iterable[tuple[tuple[str, str], ClientOrder]]) -> FinishedOrders:
        """A new archive with these orders added under these keys (an order under each of its keys;
        a key already here is taken by the order given for it)."""
        encoded: dict[int, bytes] = {}  # id(order) -> its record: one record for all its keys
        pairs: list[tuple[bytes, bytes]] = []
        for (session, cl_ord_id), order in more:
            record = encoded.get(id(order))
            if record is None:
                record = encoded[id(order)] = _encode(order)
            pairs.append((_key(session, cl_ord_id), record))
        packed = self._packed.merged(pairs)
        return self if packed is self._packed else FinishedOrders(packed)
