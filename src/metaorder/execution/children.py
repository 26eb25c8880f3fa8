"""Child orders: what the engine has out at venues, and the FIX it speaks to them.

A child order belongs to exactly one parent and one venue.  Its ClOrdID is
``C<boot>.<n>``: ``boot`` is the journal sequence number of this run's ``engine.started`` entry, so
ids never repeat across restarts (a recovered engine cannot submit a second order under an id a
venue has already seen), and ``n`` counts within the run.  Cancel requests get their own ClOrdIDs
(``<child>.X<k>``) as FIX requires; every id a child has carried maps back to it.

The child's state follows the venue's ExecutionReports only — never the engine's hopes: a child is
working until the venue says it is filled, canceled, expired or rejected.  After a disconnect the
venue's reports may have been lost (an exchange does not queue reports for absent members), so
the engine asks for each open child's status (OrderStatusRequest) after the next logon and
:meth:`ChildOrder.reconcile` turns the answer into the fills it missed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from metaorder.fix.codec import FieldValue, Message, format_utc_timestamp

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
    cum_qty: int = 0
    notional: Decimal = Decimal(0)  # sum of fill qty * price: what reconciliation compares with AvgPx
    state: ChildState = ChildState.PENDING_NEW
    venue_order_id: str | None = None
    cancel_requested: bool = False
    cancels_sent: int = 0
    exec_ids: set[str] = field(default_factory=set)

    @property
    def leaves_qty(self) -> int:
        return self.qty - self.cum_qty if self.state.open else 0

    @property
    def side(self) -> str:
        return "1" if self.direction > 0 else "2"

    def new_order_single(self, now: float) -> Fields:
        body: Fields = [(11, self.child_id), (55, self.symbol), (54, self.side), (60, format_utc_timestamp(now)),
                        (38, self.qty)]
        if self.price is None:
            body += [(40, "1")]
        else:
            body += [(40, "2"), (44, self.price)]
        body.append((59, "3" if self.ioc else "0"))
        return body

    def cancel_request(self, now: float) -> tuple[str, Fields]:
        """The next OrderCancelRequest for this child: (its own ClOrdID, body)."""
        self.cancels_sent += 1
        cancel_id = f"{self.child_id}.X{self.cancels_sent}"
        body: Fields = [(41, self.child_id), (11, cancel_id), (55, self.symbol), (54, self.side),
                        (60, format_utc_timestamp(now)), (38, self.qty)]
        if self.venue_order_id:
            body.insert(0, (37, self.venue_order_id))
        return cancel_id, body

    def status_request(self) -> Fields:
        body: Fields = [(11, self.child_id), (55, self.symbol), (54, self.side)]
        if self.venue_order_id:
            body.insert(0, (37, self.venue_order_id))
        return body

    def execution_copy(self, exec_id: str, qty: int, price: Decimal, liquidity: str, fee: str | None,
                       now: float) -> Fields:
        """One counted execution as an ExecutionReport body, for the drop copy (the same fields
        whether it came in a fill report or was recovered from a status report)."""
        done = self.cum_qty >= self.qty
        body: Fields = [(37, self.venue_order_id or "NONE"), (11, self.child_id), (17, exec_id), (150, "F"),
                        (39, "2" if done else "1"), (55, self.symbol), (54, self.side), (38, self.qty),
                        (32, qty), (31, price), (151, max(self.qty - self.cum_qty, 0)), (14, self.cum_qty),
                        (6, self.notional / self.cum_qty if self.cum_qty else Decimal(0))]
        if liquidity:
            body.append((851, liquidity))
        if fee:
            body.append((12, fee))
        body.append((60, format_utc_timestamp(now)))
        return body

    def missing_fill(self, msg: Message) -> tuple[int, Decimal] | None:
        """What a status report (150=I) shows that the engine never heard about: (qty, avg price).

        The venue's CumQty and AvgPx cover every fill; the engine knows its own ``cum_qty`` and
        ``notional``; the difference is the missed executions, priced exactly so that the child's
        average matches the venue's.  None when nothing is missing.
        """
        try:
            venue_cum = int(Decimal(msg.get(14) or "0"))
            avg = Decimal(msg.get(6) or "0")
        except ArithmeticError:
            return None
        missing = venue_cum - self.cum_qty
        if missing <= 0:
            return None
        price = (avg * venue_cum - self.notional) / missing
        return missing, price
