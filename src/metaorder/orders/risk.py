"""Pre-trade risk checks in the spirit of SEC Rule 15c3-5 (market access rule).

Every client order passes here before the engine accepts it, so the checks are the last line of
defence against fat fingers, runaway OMS loops and breached credit.  Limits are configured
globally and may be overridden per OMS session (the counterparty CompID); see :func:`merge`.

The engine is sans-IO and synchronous: the caller passes ``now`` (epoch seconds, assumed
non-decreasing) and a ``reference_price`` callable, so a replayed day makes the same decisions.
All money is ``Decimal`` and all quantities ``int``: a limit is never broken or honoured by a
rounding error.

What is recorded, and when:

* :meth:`RiskEngine.check` has no side effect when it refuses an order.  When it accepts, it records
  the order in the per-session state: ClOrdID (duplicate ClOrdIDs), the rate window, the
  likely-duplicate window and the open notional (credit).
* The open notional of an order is ``leaves_qty × price basis``, where the basis is frozen at
  acceptance: the limit price, or for an order without one the reference price at that moment.
  Freezing it means a release (:meth:`RiskEngine.on_fill`, :meth:`RiskEngine.on_order_done`) takes
  away exactly what was added, so an idle session always returns to exactly zero.

Unknown reference price (``reference_price`` returns ``None``, or a non-positive price, which is
treated as unknown):

* a limit order is valued at its limit, so the notional and credit checks still apply;
* the price collar cannot be applied and is skipped (the notional limits still bound the order);
* an order without a limit is refused (reason 99, "no reference price") if the session has a
  ``max_order_notional`` or ``max_open_notional``: its size in money cannot be known, and
  15c3-5 wants such an order stopped, not waved through.  Without those limits it is accepted and
  carries no open notional.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from metaorder.orders.model import ClientOrder, OrderType
from metaorder.orders.risk_limits import RiskLimits, merge

__all__ = ["RejectReason", "RiskEngine", "RiskLimits", "RiskReject", "merge"]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")
_RATE_WINDOW_S = 1.0


class RejectReason(enum.IntEnum):
    """OrdRejReason (103) values the risk checks use (an ``int``, so it goes into FIX as is)."""

    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2  # also: a kill switch is engaged
    ORDER_EXCEEDS_LIMIT = 3
    DUPLICATE_ORDER = 6
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    INCORRECT_QUANTITY = 13
    OTHER = 99


@dataclass(frozen=True, slots=True)
class RiskReject:
    """Why an order was refused: an OrdRejReason (103) and a Text (58) naming the broken limit."""

    reason: int
    text: str


def _money(value: Decimal) -> str:
    """Thousands separators and at least two decimals, but never rounded: a text saying
    "1,000,000.00 exceeds 1,000,000.00" after rounding away the excess would be useless."""
    if value == value.quantize(_CENT):
        return f"{value:,.2f}"
    return f"{value.normalize():,f}"


def _price(value: Decimal) -> str:
    return f"{value:,f}"


@dataclass(slots=True)
class _Open:
    """An accepted order's contribution to its session's open notional."""

    session: str
    qty: int
    filled: int
    # The price basis, frozen at acceptance (or at an accepted replace); None: an order without a
    # limit accepted with no reference price (possible only without notional limits), worth 0.
    price: Decimal | None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) by its constructor."""
        return _Open, (self.session, self.qty, self.filled, self.price)

    @property
    def leaves(self) -> int:
        return max(self.qty - self.filled, 0)

    @property
    def notional(self) -> Decimal:
        return self.leaves * self.price if self.price is not None else Decimal(0)


def _duplicate_cl_ord_id(session: str, cl_ord_id: str) -> RiskReject:
    """A new order, replace or cancel reusing a ClOrdID of the session's trading day."""
    return RiskReject(RejectReason.DUPLICATE_ORDER, f"duplicate ClOrdID {cl_ord_id} for {session}: already used today")


#: (symbol, side's FIX value, qty, limit, Account (1)): plain values, hashed in C (an enum's hash is
#: Python code).  The account is in it because many accounts buying the same quantity at the same
#: price is ordinary small-order flow, not a duplicate; the same account doing it twice may be one.
_DupKey = tuple[str, str, int, Decimal | None, str | None]


@dataclass(slots=True)
class _SessionState:
    """What a session's accepted orders left behind."""

    cl_ord_ids: set[str] = field(default_factory=set)
    recent: deque[float] = field(default_factory=deque)  # acceptance times inside the rate window
    last_seen: dict[_DupKey, float] = field(default_factory=dict)  # likely-duplicate key -> acceptance time
    seen_order: deque[tuple[float, _DupKey]] = field(default_factory=deque)  # to expire last_seen
    open_notional: Decimal = Decimal(0)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (recovery snapshots) by its constructor."""
        return _SessionState, (self.cl_ord_ids, self.recent, self.last_seen, self.seen_order, self.open_notional)


#: :meth:`RiskEngine.fold_state`: sessions, open orders' records, the global and the sessions' kill switches.
RiskFold = tuple[dict[str, _SessionState], dict[str, _Open], float | None, dict[str, float]]


class RiskEngine:
    """Pre-trade checks for new orders and replaces, and the per-session state they need.

    Checks run in this order and the first failure is reported: kill switch (2), duplicate ClOrdID
    (6), quantity and order type sanity (13, 11), restricted symbol (99), order rate (3), order
    quantity (3), reference price availability (99), price collar (3), order notional (3), open
    notional (3), likely duplicate (6).
    """

    def __init__(
        self,
        global_limits: RiskLimits,
        session_limits: Mapping[str, RiskLimits],
        reference_price: Callable[[str], Decimal | None],
    ) -> None:
        self._global = global_limits
        self._session_limits = dict(session_limits)
        self._reference_price = reference_price
        self._merged: dict[str, RiskLimits] = {}
        self._sessions: dict[str, _SessionState] = {}
        self._open: dict[str, _Open] = {}  # by order_id
        self._global_kill: float | None = None  # when it was engaged
        self._session_kills: dict[str, float] = {}

    # ------------------------------------------------------------------------------------ queries

    def limits(self, session: str) -> RiskLimits:
        """The effective limits of a session (global merged with its overrides), e.g. for the
        intake's ``cancel_on_disconnect``."""
        merged = self._merged.get(session)
        if merged is None:
            merged = self._merged[session] = merge(self._global, self._session_limits.get(session))
        return merged

    @property
    def global_killed(self) -> bool:
        return self._global_kill is not None

    def session_killed(self, session: str) -> bool:
        """The session's own kill switch (whatever the global one says)."""
        return session in self._session_kills

    def killed(self, session: str) -> bool:
        """Whether new orders from ``session`` are refused by the global or its own kill switch."""
        return self._global_kill is not None or session in self._session_kills

    def open_notional(self, session: str) -> Decimal:
        """The session's credit usage: its open orders' leaves quantity times their price basis."""
        state = self._sessions.get(session)
        return state.open_notional if state is not None else Decimal(0)

    # ------------------------------------------------------------------------------------ checks

    def check(self, order: ClientOrder, now: float) -> RiskReject | None:
        """Check a new order; ``None`` means accepted, and the order is then recorded.

        A refused order leaves no trace (not in the rate window, the duplicate window, the ClOrdID
        set or the open notional), so an OMS that corrects and resends it is judged afresh.
        """
        session = order.session
        limits = self._merged.get(session)
        if limits is None:
            limits = self.limits(session)
        state = self._sessions.get(session)

        if self._global_kill is not None or session in self._session_kills:
            return self._kill_reject(session)
        if state is not None and order.cl_ord_id in state.cl_ord_ids:
            return _duplicate_cl_ord_id(session, order.cl_ord_id)
        qty, limit = order.qty, order.limit
        if (qty <= 0 or (limit is None and order.ord_type is OrderType.LIMIT)
                or (limit is not None and not (limit.is_finite() and limit > 0))):
            return self._sanity_reject(order, qty, limit)
        if order.symbol in limits.restricted_symbols:
            return RiskReject(RejectReason.OTHER, f"symbol {order.symbol} is in restricted_symbols for {session}")
        if limits.max_orders_per_second is not None and state is not None:
            # Drop what has left the window first, so the count is O(1) instead of a scan of up to
            # max_orders_per_second timestamps per order (forgetting expired entries is not a trace).
            recent = state.recent
            cutoff = now - _RATE_WINDOW_S
            while recent and recent[0] <= cutoff:
                recent.popleft()
            in_window = len(recent)
            if in_window >= limits.max_orders_per_second:
                return RiskReject(
                    RejectReason.ORDER_EXCEEDS_LIMIT,
                    f"order rate: {in_window} orders in the last second reaches "
                    f"max_orders_per_second {limits.max_orders_per_second} for {session}",
                )

        reference = self._reference(order.symbol)
        basis = limit if limit is not None else reference
        reject = self._order_limits_reject(order, limits, qty, limit, reference, basis, collar=True)
        if reject is not None:
            return reject
        record = _Open(session, qty, order.cum_qty, basis)
        notional = record.notional
        if limits.max_open_notional is not None and notional > 0:
            reject = self._credit_reject(session, limits, _ZERO, notional)
            if reject is not None:
                return reject

        dup_key: _DupKey = (order.symbol, order.side._value_, order.qty, order.limit, order.account)
        window = limits.duplicate_window_s
        if window is not None and state is not None:
            seen = state.last_seen.get(dup_key)
            if seen is not None and now - seen < window:
                return RiskReject(
                    RejectReason.DUPLICATE_ORDER,
                    f"likely duplicate of an order accepted {now - seen:.3f} s ago (same account, symbol, side, "
                    f"qty and price) within duplicate_window_s {window} for {session}",
                )

        self._accept(order, now, limits, dup_key, record, notional)
        return None

    def check_replace(
        self,
        order: ClientOrder,
        new_qty: int,
        new_limit: Decimal | None,
        now: float,
        *,
        new_cl_ord_id: str | None = None,
    ) -> RiskReject | None:
        """Check an amendment of an open order to ``new_qty`` (total, fills included) and
        ``new_limit`` (the amended order's limit; ``None`` only for an order without one).

        Quantity, order notional and credit are re-checked for the amended order, and the collar
        when the limit changes.  An amendment that does not increase the open notional is never
        refused for credit: a session over its credit limit must still be able to reduce.  A kill
        switch refuses replaces too (cancels do not come here).  ``now`` is accepted for symmetry
        with :meth:`check`; replaces do not count in the rate or duplicate windows.  On acceptance
        the order's open notional is re-valued to the amended quantity and price.

        ``new_cl_ord_id``, the replace request's own ClOrdID (11), is held to the same once-a-day
        rule as a new order's: refused (6) if already used, recorded on acceptance.
        """
        del now  # replaces are not rate limited or duplicate-checked
        session = order.session
        limits = self.limits(session)
        reject = self._kill_reject(session)
        if reject is not None:
            return reject
        record = self._open.get(order.order_id)
        if record is None:
            return RiskReject(RejectReason.OTHER, f"order {order.cl_ord_id} of {session} is not open")
        state = self._state(session)
        if new_cl_ord_id is not None and new_cl_ord_id in state.cl_ord_ids:
            return _duplicate_cl_ord_id(session, new_cl_ord_id)
        reject = self._sanity_reject(order, new_qty, new_limit)
        if reject is not None:
            return reject

        reference = self._reference(order.symbol)
        # Without a limit, value at today's reference; without one either, keep the frozen basis.
        basis = new_limit if new_limit is not None else (reference if reference is not None else record.price)
        # The collar applies to a new limit price only: an unchanged limit already passed it, and a
        # quantity-only amendment must not be refused because the market has moved since.
        collar = new_limit is not None and new_limit != record.price
        reject = self._order_limits_reject(order, limits, new_qty, new_limit, reference, basis, collar=collar)
        if reject is not None:
            return reject
        amended = _Open(session, new_qty, record.filled, basis)
        reject = self._credit_reject(session, limits, record.notional, amended.notional)
        if reject is not None:
            return reject

        if new_cl_ord_id is not None:
            state.cl_ord_ids.add(new_cl_ord_id)
        self._record(order.order_id, amended)
        return None

    # ------------------------------------------------------------------------------ order events

    def on_fill(self, order: ClientOrder, qty: int) -> None:
        """Release the open notional of ``qty`` filled shares (at the order's frozen price basis).

        Fills beyond the order's leaves release nothing more; unknown orders are ignored.  A fully
        filled order is forgotten at once (as by :meth:`on_order_done`), so the engine's memory
        does not grow with the day's filled orders.
        """
        if qty < 0:
            raise ValueError(f"negative fill qty {qty} for {order.order_id}")
        record = self._open.get(order.order_id)
        if record is None:
            return
        before = record.notional
        record.filled += qty
        self._state(record.session).open_notional -= before - record.notional
        if not record.leaves:
            del self._open[order.order_id]

    def on_order_done(self, order: ClientOrder) -> None:
        """The order is canceled, filled or rejected: release all of its open notional."""
        record = self._open.pop(order.order_id, None)
        if record is not None:
            self._state(record.session).open_notional -= record.notional

    def restore(self, order: ClientOrder) -> None:
        """Record an order accepted before a restart (journal replay) without checking it.

        Its ClOrdID and its open notional count again (its leaves valued at its limit, else at
        today's reference price); the rate and duplicate windows are not rebuilt.  Restoring an
        order again replaces its record, so a replay applies a journaled replace by restoring the
        amended order.
        """
        state = self._state(order.session)
        state.cl_ord_ids.add(order.cl_ord_id)
        if order.leaves_qty == 0:
            return
        basis = order.limit if order.limit is not None else self._reference(order.symbol)
        self._record(order.order_id, _Open(order.session, order.qty, order.cum_qty, basis))

    def fold_state(self) -> RiskFold:
        """What recovery's fold built (sessions' ClOrdIDs and open notional, open orders' records,
        kill switches), for a recovery snapshot (:mod:`metaorder.snapshot`); limits and reference
        prices come from the configuration."""
        return self._sessions, self._open, self._global_kill, self._session_kills

    def restore_fold_state(self, state: RiskFold) -> None:
        self._sessions, self._open, self._global_kill, self._session_kills = state

    def claim_cl_ord_id(self, session: str, cl_ord_id: str) -> RiskReject | None:
        """A cancel request's own ClOrdID (11): refused when the session already used it today,
        else recorded, so no later order, replace or cancel of the session can take it again."""
        state = self._state(session)
        if cl_ord_id in state.cl_ord_ids:
            return _duplicate_cl_ord_id(session, cl_ord_id)
        state.cl_ord_ids.add(cl_ord_id)
        return None

    def new_day(self, session: str | None = None, keep: Mapping[str, Iterable[str]] | None = None) -> None:
        """Forget the ClOrdIDs used so far (they are unique per day), for one session or all,
        except ``keep[session]`` (the ids of orders still open: those stay taken)."""
        names: Iterable[str] = self._sessions if session is None else [session] if session in self._sessions else []
        for name in names:
            ids = self._sessions[name].cl_ord_ids
            ids.clear()
            if keep is not None:
                ids.update(keep.get(name, ()))

    # ------------------------------------------------------------------------------ kill switches

    def kill(self, session: str | None, now: float) -> None:
        """Engage a kill switch: ``None`` the global one, else the session's.  From now on new orders
        and replaces are refused with reason 2; cancelling open orders is the caller's job."""
        if session is None:
            if self._global_kill is None:
                self._global_kill = now
        else:
            self._session_kills.setdefault(session, now)

    def revive(self, session: str | None) -> None:
        """Release a kill switch (``None``: the global one).  A session killed on its own stays
        killed when the global switch is released, and vice versa."""
        if session is None:
            self._global_kill = None
        else:
            self._session_kills.pop(session, None)

    # ---------------------------------------------------------------------------------- internals

    def _state(self, session: str) -> _SessionState:
        state = self._sessions.get(session)
        if state is None:
            state = self._sessions[session] = _SessionState()
        return state

    def _reference(self, symbol: str) -> Decimal | None:
        price = self._reference_price(symbol)
        return price if price is not None and price.is_finite() and price > 0 else None

    def _kill_reject(self, session: str) -> RiskReject | None:
        if self._global_kill is not None:
            return RiskReject(RejectReason.EXCHANGE_CLOSED, f"global kill switch engaged at {self._global_kill}")
        killed_at = self._session_kills.get(session)
        if killed_at is not None:
            return RiskReject(RejectReason.EXCHANGE_CLOSED, f"kill switch for {session} engaged at {killed_at}")
        return None

    @staticmethod
    def _sanity_reject(order: ClientOrder, qty: int, limit: Decimal | None) -> RiskReject | None:
        """Malformed orders that would make the limit checks meaningless."""
        if qty <= 0:
            return RiskReject(RejectReason.INCORRECT_QUANTITY, f"order qty {qty} is not positive for {order.session}")
        if order.ord_type is OrderType.LIMIT and limit is None:
            return RiskReject(
                RejectReason.UNSUPPORTED_ORDER_CHARACTERISTIC, f"limit order without a limit price for {order.session}"
            )
        if limit is not None and not (limit.is_finite() and limit > 0):
            return RiskReject(
                RejectReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
                f"limit price {limit} is not a positive price for {order.session}",
            )
        return None

    @staticmethod
    def _order_limits_reject(
        order: ClientOrder,
        limits: RiskLimits,
        qty: int,
        limit: Decimal | None,
        reference: Decimal | None,
        basis: Decimal | None,
        *,
        collar: bool,
    ) -> RiskReject | None:
        """Per-order limits: quantity, reference price availability, collar, notional."""
        session = order.session
        if limits.max_order_qty is not None and qty > limits.max_order_qty:
            return RiskReject(
                RejectReason.ORDER_EXCEEDS_LIMIT,
                f"order qty {qty:,} exceeds max_order_qty {limits.max_order_qty:,} for {session}",
            )
        if basis is None:
            # Only an order without a limit and without a reference price gets here.
            needs = [n for n in ("max_order_notional", "max_open_notional") if getattr(limits, n) is not None]
            if needs:
                return RiskReject(
                    RejectReason.OTHER,
                    f"no reference price for {order.symbol}: cannot check {' and '.join(needs)} of an order "
                    f"without a limit for {session}",
                )
        pct = limits.price_collar_pct
        # Exact: |limit - reference| / reference > pct / 100, without dividing.
        if (
            collar
            and pct is not None
            and limit is not None
            and reference is not None
            and abs(limit - reference) * _HUNDRED > pct * reference
        ):
            low = reference * (_HUNDRED - pct) / _HUNDRED
            high = reference * (_HUNDRED + pct) / _HUNDRED
            return RiskReject(
                RejectReason.ORDER_EXCEEDS_LIMIT,
                f"limit {_price(limit)} is outside price_collar_pct {pct}% of reference {_price(reference)} "
                f"({_price(low)} to {_price(high)}) for {session}",
            )
        if limits.max_order_notional is not None and basis is not None:
            notional = qty * basis
            if notional > limits.max_order_notional:
                return RiskReject(
                    RejectReason.ORDER_EXCEEDS_LIMIT,
                    f"order notional {_money(notional)} exceeds max_order_notional "
                    f"{_money(limits.max_order_notional)} for {session}",
                )
        return None

    def _credit_reject(
        self, session: str, limits: RiskLimits, old_open: Decimal, new_open: Decimal
    ) -> RiskReject | None:
        """Would replacing ``old_open`` by ``new_open`` in the session's open notional breach its
        credit limit?  Never when it does not grow: reducing risk is always allowed."""
        limit = limits.max_open_notional
        if limit is None or new_open <= old_open:
            return None
        current = self.open_notional(session)
        total = current - old_open + new_open
        if total > limit:
            return RiskReject(
                RejectReason.ORDER_EXCEEDS_LIMIT,
                f"open notional {_money(current - old_open)} + order {_money(new_open)} = {_money(total)} "
                f"exceeds max_open_notional {_money(limit)} for {session}",
            )
        return None

    def _accept(self, order: ClientOrder, now: float, limits: RiskLimits, dup_key: _DupKey, record: _Open,
                notional: Decimal) -> None:
        state = self._state(order.session)
        state.cl_ord_ids.add(order.cl_ord_id)
        if limits.max_orders_per_second is not None:
            recent = state.recent
            while recent and recent[0] <= now - _RATE_WINDOW_S:
                recent.popleft()
            recent.append(now)
        window = limits.duplicate_window_s
        if window is not None:
            expiry = state.seen_order
            while expiry and now - expiry[0][0] >= window:
                seen_at, key = expiry.popleft()
                if state.last_seen.get(key) == seen_at:
                    del state.last_seen[key]
            state.last_seen[dup_key] = now
            expiry.append((now, dup_key))
        order_id = order.order_id
        if order_id in self._open:
            self._record(order_id, record)
        else:  # the common case of _record: nothing to take back first
            self._open[order_id] = record
            state.open_notional += notional

    def _record(self, order_id: str, record: _Open) -> None:
        # An order_id is ours and unique; should one come twice, replace, never double-count.
        previous = self._open.get(order_id)
        if previous is not None:
            self._state(previous.session).open_notional -= previous.notional
        self._open[order_id] = record
        self._state(record.session).open_notional += record.notional
