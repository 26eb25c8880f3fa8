"""Child orders: what the engine has out at venues (the FIX spoken to venues is in ``venue_fix.py``).

A child order belongs to exactly one parent and one venue.  Its ClOrdID is
``C<boot>.<n>``: ``boot`` is the journal sequence number of this run's ``engine.started`` entry, so
ids never repeat across restarts (a recovered engine cannot submit a second order under an id a
venue has already seen), and ``n`` counts within the run.  Cancel requests get their own ClOrdIDs
(``<child>.X<k>``) as FIX requires; every id a child has carried maps back to it.

The child's state follows the venue's ExecutionReports only — never the engine's hopes: a child is
working until the venue says it is filled, canceled, expired or rejected.  After a disconnect the
venue's reports may have been lost (an exchange does not queue reports for absent members), so
the engine asks for each open child's status (OrderStatusRequest) after the next logon and
:meth:`ChildOrder.missing_fill` turns the answer into the fills it missed.
"""

from __future__ import annotations

import enum
import marshal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from metaorder.fix.codec import FieldValue
from metaorder.orders.finished import PackedArchive

#: A FIX message body, as the engine hands it to a venue session (built by ``venue_fix.py``).
Fields = list[tuple[int, FieldValue]]


class ChildState(enum.Enum):
    PENDING_NEW = "pending_new"  # sent, no answer yet
    NEW = "new"  # acknowledged, resting or being executed
    FILLED = "filled"
    CANCELED = "canceled"  # canceled or expired (an IOC's unfilled remainder too)
    REJECTED = "rejected"

    @property
    def open(self) -> bool:
        return self in (ChildState.PENDING_NEW, ChildState.NEW)


@dataclass(slots=True, eq=False)
class ChildOrder:
    child_id: str
    parent_id: str
    venue: str
    symbol: str
    direction: int  # +1 buy, -1 sell
    qty: int
    price: Decimal | None  # None: market order
    ioc: bool
    sent_at: float
    reason: str = ""
    peg: bool = False  # a midpoint peg (OrdType P, ExecInst M); ``price`` is its cap
    min_qty: int = 0  # MinQty (110)
    cum_qty: int = 0
    notional: Decimal = Decimal(0)  # sum of fill qty * price: what reconciliation compares with AvgPx
    state: ChildState = ChildState.PENDING_NEW
    venue_order_id: str | None = None
    cancel_requested: bool = False  # a cancel is in flight (no second one until it is answered)
    cancel_wanted: bool = False  # the engine or its placement wants it canceled (re-sent if refused)
    cancels_sent: int = 0
    exec_ids: set[str] = field(default_factory=set)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) as one call of its constructor: a day's children (140,000 on
        a heavy day) load 2.2 times as fast as through the slotted dataclass's default state."""
        return ChildOrder, (self.child_id, self.parent_id, self.venue, self.symbol, self.direction, self.qty,
                            self.price, self.ioc, self.sent_at, self.reason, self.peg, self.min_qty, self.cum_qty,
                            self.notional, self.state, self.venue_order_id, self.cancel_requested,
                            self.cancel_wanted, self.cancels_sent, self.exec_ids)

    @property
    def leaves_qty(self) -> int:
        return self.qty - self.cum_qty if self.state.open else 0

    @property
    def side(self) -> str:
        """The side as the journal records it (FIX Side values: "1" buy, "2" sell)."""
        return "1" if self.direction > 0 else "2"

    def next_cancel_id(self) -> str:
        """The ClOrdID of this child's next OrderCancelRequest (never the same twice)."""
        self.cancels_sent += 1
        return f"{self.child_id}.X{self.cancels_sent}"

    def missing_fill(self, venue_cum: int, venue_avg_px: Decimal) -> tuple[int, Decimal] | None:
        """What a venue's status or final report shows that the engine never heard about: (qty, avg price).

        The venue's CumQty and AvgPx cover every fill; the engine knows its own ``cum_qty`` and
        ``notional``; the difference is the missed executions, priced exactly so that the child's
        average matches the venue's.  None when nothing is missing.
        """
        missing = venue_cum - self.cum_qty
        if missing <= 0:
            return None
        price = (venue_avg_px * venue_cum - self.notional) / missing
        return missing, price


def _encode_child(child: ChildOrder) -> bytes:
    return marshal.dumps((
        child.child_id, child.parent_id, child.venue, child.symbol, child.direction, child.qty,
        None if child.price is None else str(child.price), child.ioc, child.sent_at, child.reason, child.peg,
        child.min_qty, child.cum_qty, str(child.notional), child.state.value, child.venue_order_id,
        child.cancel_requested, child.cancel_wanted, child.cancels_sent, tuple(sorted(child.exec_ids)),
    ))


def _decode_child(record: bytes) -> ChildOrder:
    (child_id, parent_id, venue, symbol, direction, qty, price, ioc, sent_at, reason, peg, min_qty, cum_qty,
     notional, state, venue_order_id, cancel_requested, cancel_wanted, cancels_sent, exec_ids) = marshal.loads(record)
    return ChildOrder(child_id, parent_id, venue, symbol, direction, qty, None if price is None else Decimal(price),
                      ioc, sent_at, reason, peg, min_qty, cum_qty, Decimal(notional), ChildState(state),
                      venue_order_id, cancel_requested, cancel_wanted, cancels_sent, set(exec_ids))


class FinishedChildren(PackedArchive):
    """The day's closed children by ClOrdID, packed for recovery snapshots (as the intake packs its
    finished orders, :mod:`metaorder.orders.finished`): a heavy day has 140,000, which as objects
    were most of what was left of loading a snapshot.  A venue may still report on one (a late
    fill, a bust); the engine then takes it back out (:meth:`get`) and works with the live object."""

    __slots__ = ()

    def get(self, child_id: str) -> ChildOrder | None:
        """The closed child with this ClOrdID, decoded (a new object each call)."""
        record = self._packed.record(child_id.encode())
        return None if record is None else _decode_child(record)

    def children(self) -> Iterator[ChildOrder]:
        return map(_decode_child, self._packed.records())

    def merged(self, more: Iterable[ChildOrder]) -> FinishedChildren:
        """A new archive with these children added (a child already here is replaced)."""
        packed = self._packed.merged((child.child_id.encode(), _encode_child(child)) for child in more)
        return self if packed is self._packed else FinishedChildren(packed)
