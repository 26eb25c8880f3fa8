"""The console's blotter: every order's state, folded from what the engine reports.

Pure: :meth:`Blotter.apply` takes one received message (ExecutionReport 35=8, OrderCancelReject 35=9,
Reject 35=3, BusinessMessageReject 35=j) and returns a :class:`Notice` saying what it meant; the rows
are the fold of all of them.  The console tells the blotter what it sent (:meth:`Blotter.sent_order`,
:meth:`Blotter.sent_request`, :meth:`Blotter.sent_seq`) so a report or a reject finds its order:

* an order is known by the console's id (``C1``) and by every ClOrdID of its chain (the order's,
  then each replace's); a cancel request's ClOrdID points at the order too;
* the engine's numbers are taken as they come (OrderQty, CumQty, LeavesQty, AvgPx, OrdStatus):
  the blotter never recomputes what the engine states, so it cannot disagree with it;
* executions are listed once per ExecID (a resent report, PossDup, does not add a fill twice);
* a report for a ClOrdID the console never sent (a ``raw`` order, or a drop copy) gets a row of
  its own, named by that ClOrdID.

**Cost vs arrival.** The console is an OMS session: it sees no market data (the engine's OMS
sessions take only D/F/G/H).  The engine's acknowledgement names the benchmark: its Text ends with
``arrival mid 142.505``, the consolidated midpoint when the order was accepted (the same mid
``metaorder tca`` measures against); the blotter takes it from there.  A trader may state their own
instead (``arrival 142.45`` on the order line: what they saw when they decided), which wins.  With
neither (no quote when the order arrived) the column stays blank: we do not invent one (the first
fill's price reads 0 bps on the first fill and flatters every order that moves the market; the
instrument's reference price is a configuration value, not a quote).
Cost is ``s·(AvgPx − arrival)/arrival·10⁴`` (s = +1 buy, −1 sell): positive is worse than arrival
(GUIDE §6's *cost* convention), exact in Decimal, shown to 0.1 bps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from metaorder.fix.codec import Message

EXEC_TYPES = {"0": "NEW", "1": "PARTIAL", "2": "FILL", "3": "DONE", "4": "CANCELED", "5": "REPLACED",
              "6": "PENDING_CANCEL", "7": "STOPPED", "8": "REJECTED", "9": "SUSPENDED", "A": "PENDING_NEW",
              "B": "CALCULATED", "C": "EXPIRED", "D": "RESTATED", "E": "PENDING_REPLACE", "F": "FILL",
              "G": "TRADE_CORRECT", "H": "TRADE_CANCEL", "I": "STATUS"}
STATUSES = {"0": "NEW", "1": "PARTIAL", "2": "FILLED", "3": "DONE", "4": "CANCELED", "6": "PENDING_CANCEL",
            "7": "STOPPED", "8": "REJECTED", "9": "SUSPENDED", "A": "PENDING_NEW", "B": "CALCULATED",
            "C": "EXPIRED", "D": "ACCEPTED", "E": "PENDING_REPLACE"}
#: Order statuses after which nothing more happens to an order.
FINISHED = frozenset({"FILLED", "CANCELED", "REJECTED", "EXPIRED", "DONE"})
SIDES = {"1": "BUY", "2": "SELL", "5": "SHORT", "6": "SHORT-EXEMPT"}
CXL_REJ_REASONS = {"0": "too late", "1": "unknown order", "2": "broker option",
                   "3": "already pending", "6": "duplicate ClOrdID", "99": "other"}
_BPS = Decimal(10000)


@dataclass(frozen=True, slots=True)
class Execution:
    exec_id: str
    time: str  # TransactTime as sent (UTC)
    qty: int
    price: Decimal
    market: str  # LastMkt: a venue, or INTERNAL for a cross


@dataclass(slots=True)
class OrderRow:
    ref: str  # the console's id (C1), or the ClOrdID of an order it did not send
    cl_ord_ids: list[str]  # the chain: the order's, then each acknowledged replace's
    symbol: str
    side: str  # BUY, SELL, SHORT
    qty: int
    limit: Decimal | None = None
    arrival: Decimal | None = None
    cum: int = 0
    leaves: int = 0
    avg_px: Decimal = Decimal(0)
    status: str = "SENT"  # until the engine answers
    last_market: str = ""
    text: str = ""  # the latest Text (the ack's tells what the order will do)
    order_id: str = ""
    executions: list[Execution] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)  # rejects and cancel rejects, with their Text

    @property
    def cl_ord_id(self) -> str:
        """The ClOrdID the order is known by now (the last acknowledged in its chain)."""
        return self.cl_ord_ids[-1]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def cost_bps(self) -> Decimal | None:
        """Cost vs the arrival price in bps (positive = worse), or None when unknown or nothing filled."""
        if self.arrival is None or self.cum == 0 or self.arrival == 0:
            return None
        sign = 1 if self.side == "BUY" else -1
        return sign * (self.avg_px - self.arrival) / self.arrival * _BPS


@dataclass(frozen=True, slots=True)
class Notice:
    """What one received message meant: the row it touched (if any), a kind, and whether it is a reject."""

    kind: str  # ER, CXLREJ, REJECT, BREJECT, OTHER
    row: OrderRow | None
    reject: bool = False
    exec_type: str = ""
    duplicate: bool = False  # an execution already counted (a resend)
    text: str = ""


class Blotter:
    """Rows in the order they were sent (or first reported), found by id or any ClOrdID."""

    def __init__(self) -> None:
        self._rows: dict[str, OrderRow] = {}  # by ref, in creation order
        self._by_cl: dict[str, OrderRow] = {}  # every ClOrdID of every chain and request
        self._by_seq: dict[int, OrderRow] = {}  # MsgSeqNum we sent -> its order (for 35=3 / 35=j)
        self._exec_ids: set[tuple[str, str]] = set()  # (OrderID, ExecID) counted
        self._pending: dict[str, OrderRow] = {}  # cancel/replace requests not answered yet, by ClOrdID
        self.rejects: list[str] = []  # every reject, one line each, in order

    # ---- what the console sent ------------------------------------------------------------------

    def sent_order(self, ref: str, cl_ord_id: str, symbol: str, side: str, qty: int,
                   limit: Decimal | None = None, arrival: Decimal | None = None) -> OrderRow:
        row = OrderRow(ref, [cl_ord_id], symbol, side, qty, limit, arrival, leaves=qty)
        self._rows[ref] = row
        self._by_cl[cl_ord_id] = row
        return row

    def sent_request(self, row: OrderRow, cl_ord_id: str) -> None:
        """A cancel or replace request for ``row`` went out under ``cl_ord_id``."""
        self._by_cl[cl_ord_id] = row
        self._pending[cl_ord_id] = row

    def pending(self, row: OrderRow | None = None) -> int:
        """Cancel and replace requests (of ``row``, or all) the engine has not answered yet."""
        return sum(1 for r in self._pending.values() if row is None or r is row)

    def unanswered(self) -> int:
        """Orders the engine has not answered at all yet (status SENT) and requests not answered."""
        return sum(1 for r in self._rows.values() if r.status == "SENT") + len(self._pending)

    def sent_seq(self, seq: int, row: OrderRow | None) -> None:
        if row is not None:
            self._by_seq[seq] = row

    # ---- lookups ----------------------------------------------------------------------------------

    def find(self, ref: str) -> OrderRow | None:
        """By the console's id (any case: ``c1``) or by any ClOrdID of the chain."""
        return self._rows.get(ref) or self._rows.get(ref.upper()) or self._by_cl.get(ref)

    def rows(self) -> list[OrderRow]:
        return list(self._rows.values())

    def open_rows(self) -> list[OrderRow]:
        return [r for r in self._rows.values() if not r.finished]

    def refs(self) -> list[str]:
        return list(self._rows)

    # ---- what the engine said ---------------------------------------------------------------------

    def apply(self, msg: Message) -> Notice:
        msg_type = msg.msg_type
        if msg_type == "8":
            return self._execution_report(msg)
        if msg_type == "9":
            return self._cancel_reject(msg)
        if msg_type in ("3", "j"):
            row = self._seq_row(msg.get(45))
            text = msg.get(58) or ""
            kind = "REJECT" if msg_type == "3" else "BREJECT"
            self._reject(row, f"{kind} {text}".strip())
            return Notice(kind, row, reject=True, text=text)
        return Notice("OTHER", None)

    def session_reject(self, ref_seq: str | None, text: str) -> Notice:
        """A session-level Reject (35=3) of our message ``ref_seq``, as the session layer reports it.

        The FIX session handles 35=3 itself (it is an administrative message) and tells the
        transport only its RefSeqNum and Text; that is all the blotter gets.
        """
        row = self._seq_row(ref_seq)
        self._reject(row, f"REJECT {text}".strip())
        return Notice("REJECT", row, reject=True, text=text)

    def _execution_report(self, msg: Message) -> Notice:
        get = msg.first_values().get
        cl = get(11) or ""
        self._pending.pop(cl, None)
        exec_type = EXEC_TYPES.get(get(150) or "", get(150) or "?")
        row = self._by_cl.get(cl) or self._by_cl.get(get(41) or "")
        if row is None:  # an order the console did not send: a raw one, or a drop copy
            row = OrderRow(cl or get(37) or "?", [cl], get(55) or "", SIDES.get(get(54) or "", get(54) or ""),
                           _int(get(38)))
            self._rows[row.ref] = row
            self._by_cl[cl] = row
        text = get(58) or ""
        duplicate = False
        if exec_type == "REJECTED":
            self._reject(row, f"REJECTED {text}".strip())
        if get(150) == "5" and cl and cl != row.cl_ord_id:
            row.cl_ord_ids.append(cl)  # the replace is acknowledged: the order goes by its new ClOrdID
        if get(150) == "F":
            key = (get(37) or "", get(17) or "")
            duplicate = key in self._exec_ids
            if not duplicate:
                self._exec_ids.add(key)
                row.executions.append(Execution(get(17) or "", get(60) or "", _int(get(32)), _dec(get(31)),
                                                get(30) or ""))
                row.last_market = get(30) or row.last_market
        if get(38) is not None and get(37) != "NONE":
            row.qty = _int(get(38))
        if get(44) is not None:
            row.limit = _dec(get(44))
        elif get(40) == "1":
            row.limit = None
        if get(37) != "NONE" or row.status == "SENT":  # a status of no order must not undo a real one
            row.cum = _int(get(14))
            row.leaves = _int(get(151))
            row.avg_px = _dec(get(6))
            row.status = STATUSES.get(get(39) or "", get(39) or row.status)
            row.order_id = get(37) or row.order_id
        if text:
            row.text = text
            if row.arrival is None and get(150) == "0":
                row.arrival = arrival_mid(text)
        return Notice("ER", row, reject=exec_type == "REJECTED", exec_type=exec_type, duplicate=duplicate, text=text)

    def _cancel_reject(self, msg: Message) -> Notice:
        get = msg.first_values().get
        self._pending.pop(get(11) or "", None)
        row = self._by_cl.get(get(11) or "") or self._by_cl.get(get(41) or "")
        text = get(58) or ""
        reason = CXL_REJ_REASONS.get(get(102) or "", get(102) or "")
        self._reject(row, f"CXLREJ {reason}: {text}".strip())
        if row is not None and get(39) and get(37) != "NONE":
            row.status = STATUSES.get(get(39) or "", row.status)
        return Notice("CXLREJ", row, reject=True, text=text)

    def _reject(self, row: OrderRow | None, line: str) -> None:
        self.rejects.append(f"{row.ref}: {line}" if row is not None else line)
        if row is not None:
            row.rejects.append(line)

    def _seq_row(self, ref_seq: str | None) -> OrderRow | None:
        try:
            return self._by_seq.get(int(ref_seq or ""))
        except ValueError:
            return None


_ARRIVAL_MID = re.compile(r"arrival mid ([0-9]+(?:\.[0-9]+)?)\b")


def arrival_mid(text: str) -> Decimal | None:
    """The arrival mid an acknowledgement's Text names (``..., arrival mid 142.505``), or None."""
    found = _ARRIVAL_MID.search(text)
    return Decimal(found.group(1)) if found is not None else None


def _int(text: str | None) -> int:
    try:
        return int(Decimal(text or "0"))
    except (ArithmeticError, ValueError):  # InvalidOperation, and OverflowError for Infinity
        return 0


def _dec(text: str | None) -> Decimal:
    try:
        value = Decimal(text or "0")
    except InvalidOperation:
        return Decimal(0)
    return value if value.is_finite() else Decimal(0)
