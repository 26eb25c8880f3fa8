"""The one translation between typed events (:mod:`metaorder.events`) and journal rows.

Why this module exists
----------------------
A journal row is ``(seq, time, kind, order_ids, data)`` with ``data`` a JSON object
(:mod:`metaorder.orders.journal`).  Writers turn an event into ``(kind, order_ids, data)``
with :func:`encode` (or append it with :func:`append`); readers turn a row back into an event
with :func:`decode` / :func:`decode_entry`.  Nobody else reads or writes payload keys, so the
format cannot drift between a writer and its readers again.

Versions
--------
:data:`VERSION` is the payload format.  Version 1 is the format the intake and the engine wrote
before this module existed: same kinds, same keys, same value encodings (decimals as their exact
``str``, enums as their values, tuples as lists), so every journal written so far decodes as
it is, without a migration.  ``tests/unit/test_events.py`` pins rows copied from those writers,
byte for byte.  A change of format is a new version: the decoder then has to keep reading the
older ones, never silently reinterpret them.  The journal records the version it was written in
(``meta.event_version``; a journal from before that is version 1) and refuses at open one newer
than this build reads; recovery and the audit pass it on to :func:`decode_entry`.

Decoding is strict about what it needs and lenient about what it can do without: a key some
reader has always required (``qty``, ``price``, ...) must be there with the right type, or
:class:`MalformedEvent` names the entry, the kind and the key; a key that older rows may lack
takes its field's default (see :mod:`metaorder.events`).  One value is read leniently: a venue
execution's ``fee``, which version 1 writers stored as the venue's Commission (12) string without
checking it, so a value that is not a finite decimal there reads as None (no fee known), as it
would have been had the venue sent none; every other decimal stays strict.  A kind nobody knows is
:class:`UnknownEventKind` (an entry written by a newer version, or damage), never skipped:
recovery that skipped a fact would rebuild a wrong state.  Both are :class:`JournalError`\\ s,
so the daemon reports them in one line and refuses to start.

Types, as in the journal: a decimal is a JSON string (or an integer); a float where a decimal
belongs is refused, as it has already lost exactness.  A quantity is an integer (or a string of
a whole number).  A time is a number.

Speed
-----
``order.accepted`` is journaled with every order, on the intake's hot path: its payload is written
as JSON text directly (:func:`order_accepted_json`, an :class:`~metaorder.orders.journal.EncodedData`
that the journal stores without encoding), the same text as the generic encoder's, at half the cost;
and the intake appends it with :func:`append_order_accepted`, straight from the accepted order,
without making the event object first (the same row: only the cost differs).
The other kinds are rare next to it and go through a dict and the journal's encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from enum import Enum
from json.encoder import encode_basestring as _json_str  # the journal encoder's string quoting
from typing import Any, Final, NamedTuple, Protocol, TypeVar

from metaorder.events import (
    EVENT_TYPES,
    ChildAcknowledged,
    ChildCanceled,
    ChildCancelRejected,
    ChildCancelRequested,
    ChildPlaced,
    ChildRejected,
    Crossed,
    EngineStarted,
    Event,
    KillSwitchChanged,
    MarketSample,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderReplaced,
    ParentFilled,
    ParentHalted,
    ParentOverfilled,
    PreTradeEstimate,
    StrategyChosen,
    VenueExecution,
    VenueMarkout,
)
from metaorder.orders.journal import EVENT_VERSION, EncodedData, JournalEntry, JournalError, decode_data
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

__all__ = [
    "KINDS",
    "VERSION",
    "EventDecodeError",
    "MalformedEvent",
    "Recorded",
    "UnknownEventKind",
    "append",
    "append_order_accepted",
    "decode",
    "decode_entry",
    "encode",
    "encode_dict",
    "order_accepted_json",
]

#: The payload format this module writes and the newest it reads (see the module docstring).  Each
#: journal records the version it was written in (``meta.event_version``, see
#: :data:`metaorder.orders.journal.EVENT_VERSION`, which is this value: defined there, as the journal
#: writes it at creation and refuses newer ones at open).
VERSION: Final = EVENT_VERSION

#: Journal kind -> event class: the registry (one class per kind, one kind per class).
KINDS: Final[Mapping[str, type[Event]]] = {cls.kind: cls for cls in EVENT_TYPES}

_E = TypeVar("_E", bound=Enum)


class EventDecodeError(JournalError):
    """A journal entry cannot be read as an event; the message names the entry and the kind."""

    def __init__(self, message: str, kind: str, seq: int | None) -> None:
        super().__init__(message)
        self.kind = kind
        self.seq = seq


class UnknownEventKind(EventDecodeError):
    """The entry's kind is not in :data:`KINDS` (written by a newer version, or damaged)."""


class MalformedEvent(EventDecodeError):
    """A known kind whose payload lacks a key it needs or holds a value of the wrong type."""

    def __init__(self, message: str, kind: str, seq: int | None, detail: str) -> None:
        super().__init__(message, kind, seq)
        self.detail = detail  # e.g. "price is not a decimal string: 100.1", "missing 'qty'"


class Recorded(NamedTuple):
    """An event as the journal recorded it: its sequence number and time come from the row."""

    seq: int
    time: float
    event: Event


class _Appender(Protocol):
    def append(self, time: float, kind: str, order_ids: tuple[str, ...],
               data: Mapping[str, Any] | EncodedData) -> int: ...


# --------------------------------------------------------------------------- encoding


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_accepted_json(e: OrderAccepted) -> EncodedData:
    """The payload of ``e`` as JSON text, exactly ``encode_data`` of its dict (tests pin the two, and
    both to rows written before this module existed), written out directly: the one payload journaled
    with every order."""
    return _accepted_json(e, e.parent_id)


#: ``OrderAccepted.kind`` read once: compiled, a class variable is a Python attribute lookup on each read.
_ORDER_ACCEPTED: Final = OrderAccepted.kind


def append_order_accepted(journal: _Appender, time: float, order: ClientOrder, parent_id: str | None) -> int:
    """Journal ``OrderAccepted.of(order, parent_id)`` without building it: the same row (a test pins
    them together), for the intake's hot path, where the event object would be made only to be
    written (a frozen dataclass of 14 fields costs about as much as its JSON text, compiled or not)."""
    ids = (order.order_id,) if parent_id is None else (order.order_id, parent_id)
    return journal.append(time, _ORDER_ACCEPTED, ids, _accepted_json(order, parent_id))



def _accepted_json(e: OrderAccepted | ClientOrder, parent_id: str | None) -> EncodedData:
    """The ``order.accepted`` payload text from an event or from the order it snapshots.  Enum values
    (ASCII digits and words) go in as they are; strings go through the journal encoder's own quoting."""
    m = e.mandate
    limit = e.limit
    rate = m.participation_rate
    account = e.account
    start, end = m.start_time, m.end_time
    # Only when there are any: rows of orders without strategy keys stay what every build wrote.
    params = f'"params":{_json_str(m.params)},' if m.params else ""
    return EncodedData(
        f'{{"order_id":{_json_str(e.order_id)},"session":{_json_str(e.session)},'
        f'"cl_ord_id":{_json_str(e.cl_ord_id)},"symbol":{_json_str(e.symbol)},'
        f'"side":"{e.side._value_}","qty":{e.qty!r},"ord_type":"{e.ord_type._value_}",'
        f'"limit":{"null" if limit is None else _json_str(str(limit))},"tif":"{e.tif._value_}",'
        f'"arrival":{e.arrival!r},"arrival_seq":{e.arrival_seq!r},'
        f'"account":{"null" if account is None else _json_str(account)},'
        f'"strategy":"{m.strategy._value_}","urgency":"{m.urgency._value_}",'
        f'"aggressiveness":"{m.aggressiveness._value_}","start_time":{"null" if start is None else repr(start)},'
        f'"end_time":{"null" if end is None else repr(end)},'
        f'"participation_rate":{"null" if rate is None else _json_str(str(rate))},'
        f'{params}'
        f'"parent_id":{"null" if parent_id is None else _json_str(parent_id)}}}'
    )


def _order_accepted_dict(e: OrderAccepted) -> dict[str, Any]:
    """The same payload as a dict (what :func:`order_accepted_json` writes as text)."""
    m = e.mandate
    return {
        "order_id": e.order_id, "session": e.session, "cl_ord_id": e.cl_ord_id, "symbol": e.symbol,
        "side": e.side._value_, "qty": e.qty, "ord_type": e.ord_type._value_, "limit": _dec(e.limit),
        "tif": e.tif._value_, "arrival": e.arrival, "arrival_seq": e.arrival_seq, "account": e.account,
        "strategy": m.strategy._value_, "urgency": m.urgency._value_, "aggressiveness": m.aggressiveness._value_,
        "start_time": m.start_time, "end_time": m.end_time, "participation_rate": _dec(m.participation_rate),
        **({"params": m.params} if m.params else {}),  # absent in rows written before 848 strategy keys
        "parent_id": e.parent_id,
    }


def _child_closed_dict(e: ChildCanceled | ChildRejected) -> dict[str, Any]:
    return {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue, "reason": e.reason,
            "text": e.text, "leaves_qty": e.leaves_qty}


def _order_canceled_dict(e: OrderCanceled) -> dict[str, Any]:
    data: dict[str, Any] = {"order_id": e.order_id, "cl_ord_id": e.cl_ord_id}
    if e.reason is not None:  # a client's cancel has no "reason" key (version 1)
        data["reason"] = e.reason
    return data


def _child_placed_dict(e: ChildPlaced) -> dict[str, Any]:
    data: dict[str, Any] = {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue, "symbol": e.symbol,
                            "side": e.side._value_, "qty": e.qty, "price": _dec(e.price), "ioc": e.ioc,
                            "reason": e.reason, "expected_cost": _dec(e.expected_cost)}
    # Written when they say something, so that a plain lit child's row is the version 1 row, byte for
    # byte, and older metaorders read what they know of a new row.
    if e.peg:
        data["peg"] = True
    if e.min_qty:
        data["min_qty"] = e.min_qty
    if e.mid is not None:
        data["mid"] = str(e.mid)
    if e.routing:
        data["routing"] = e.routing
    return data


# Key order is the order today's (version 1) writers produced, so the text is the same byte for byte.
_ENCODERS: Final[Mapping[type, Callable[[Any], dict[str, Any]]]] = {
    OrderAccepted: _order_accepted_dict,
    OrderRejected: lambda e: {"session": e.session, "cl_ord_id": e.cl_ord_id, "reason": e.reason, "text": e.text},
    OrderReplaced: lambda e: {"order_id": e.order_id, "cl_ord_id": e.cl_ord_id, "orig_cl_ord_id": e.orig_cl_ord_id,
                              "qty": e.qty, "limit": _dec(e.limit), "parent_id": e.parent_id},
    OrderCanceled: _order_canceled_dict,
    OrderExpired: lambda e: {"order_id": e.order_id, "text": e.text},
    Crossed: lambda e: {"incoming": e.incoming, "resting": e.resting, "qty": e.qty, "price": str(e.price),
                        "market": e.market},
    ParentFilled: lambda e: {"parent_id": e.parent_id, "qty": e.qty, "price": str(e.price), "market": e.market,
                             "allocations": [[oid, qty] for oid, qty in e.allocations]},
    EngineStarted: lambda e: {"orders": e.orders},
    KillSwitchChanged: lambda e: {"session": e.session, "engaged": e.engaged, "reason": e.reason},
    StrategyChosen: lambda e: {"parent_id": e.parent_id, "requested": e.requested, "used": e.used, "text": e.text},
    PreTradeEstimate: lambda e: {"parent_id": e.parent_id, "strategy": e.strategy, "qty": e.qty,
                                 "horizon_s": e.horizon_s, "periods": e.periods, "risk_aversion": e.risk_aversion,
                                 "kappa": e.kappa, "expected_cost": e.expected_cost, "std_cost": e.std_cost,
                                 "arrival_price": _dec(e.arrival_price)},
    ChildPlaced: _child_placed_dict,
    ChildCancelRejected: lambda e: {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue,
                                    "text": e.text},
    VenueMarkout: lambda e: {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue,
                             "symbol": e.symbol, "side": e.side._value_, "qty": e.qty, "price": str(e.price),
                             "fill_mid": _dec(e.fill_mid), "mids": [[h, str(m)] for h, m in e.mids]},
    ChildAcknowledged: lambda e: {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue,
                                  "venue_order_id": e.venue_order_id},
    ChildCancelRequested: lambda e: {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue,
                                     "reason": e.reason},
    ChildCanceled: _child_closed_dict,
    ChildRejected: _child_closed_dict,
    VenueExecution: lambda e: {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue,
                               "exec_id": e.exec_id, "qty": e.qty, "price": str(e.price), "liquidity": e.liquidity,
                               "fee": _dec(e.fee)},
    ParentOverfilled: lambda e: {"parent_id": e.parent_id, "child_id": e.child_id, "venue": e.venue, "qty": e.qty,
                                 "price": str(e.price), "text": e.text},
    ParentHalted: lambda e: {"parent_id": e.parent_id, "text": e.text},
    MarketSample: lambda e: {"symbol": e.symbol, "bid": _dec(e.bid), "ask": _dec(e.ask), "volume": e.volume,
                             "notional": str(e.notional)},
}


def encode(event: Event) -> tuple[str, tuple[str, ...], dict[str, Any] | EncodedData]:
    """``(kind, order_ids, data)`` for :meth:`Journal.append`; ``data`` is JSON-ready (decimals as
    strings, enums as values), or already JSON text for ``order.accepted``."""
    if type(event) is OrderAccepted:
        return OrderAccepted.kind, event.ids, order_accepted_json(event)
    return event.kind, event.ids, _ENCODERS[type(event)](event)


def encode_dict(event: Event) -> dict[str, Any]:
    """The payload of ``event`` as a dict, ``order.accepted`` included (for readers showing it, e.g. the audit)."""
    return _ENCODERS[type(event)](event)


def append(journal: _Appender, time: float, event: Event) -> int:
    """Journal ``event`` at ``time`` (the injected clock's); returns its sequence number."""
    if type(event) is OrderAccepted:
        return journal.append(time, OrderAccepted.kind, event.ids, order_accepted_json(event))
    return journal.append(time, event.kind, event.ids, _ENCODERS[type(event)](event))


# --------------------------------------------------------------------------- decoding


class _Bad(Exception):
    """A payload value is missing or of the wrong type; ``args[0]`` says which, for MalformedEvent."""


_ABSENT: Final = object()


class _Data:
    """Typed reads of one payload; each raises _Bad naming the key."""

    __slots__ = ("_d",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._d = data

    def _get(self, key: str, default: object) -> object:
        value = self._d.get(key, _ABSENT)
        if value is _ABSENT:
            if default is _ABSENT:
                raise _Bad(f"missing {key!r}")
            return default
        return value

    def text(self, key: str, default: object = _ABSENT) -> str:
        value = self._get(key, default)
        if type(value) is not str:
            raise _Bad(f"{key} is not a string: {value!r}")
        return value

    def opt_text(self, key: str, default: object = _ABSENT) -> str | None:
        value = self._get(key, default)
        if value is not None and type(value) is not str:
            raise _Bad(f"{key} is not a string: {value!r}")
        return value

    def whole(self, key: str, default: object = _ABSENT) -> int:
        return _whole(key, self._get(key, default))

    def opt_whole(self, key: str, default: object = _ABSENT) -> int | None:
        value = self._get(key, default)
        return None if value is None else _whole(key, value)

    def flag(self, key: str, default: object = _ABSENT) -> bool:
        value = self._get(key, default)
        if type(value) is not bool:
            raise _Bad(f"{key} is not true or false: {value!r}")
        return value

    def number(self, key: str, default: object = _ABSENT) -> float:
        return _number(key, self._get(key, default))

    def opt_number(self, key: str, default: object = _ABSENT) -> float | None:
        value = self._get(key, default)
        return None if value is None else _number(key, value)

    def dec(self, key: str, default: object = _ABSENT) -> Decimal:
        return _decimal(key, self._get(key, default))

    def opt_dec(self, key: str, default: object = _ABSENT) -> Decimal | None:
        value = self._get(key, default)
        return None if value is None else _decimal(key, value)

    def loose_dec(self, key: str) -> Decimal | None:
        """An optional decimal that reads as None when absent, null, or not a decimal :func:`_decimal`
        accepts (a value written unchecked, see the module docstring); never raises."""
        value = self._d.get(key)
        if value is None:
            return None
        try:
            return _decimal(key, value)
        except _Bad:
            return None

    def enum(self, cls: type[_E], key: str) -> _E:
        value = self._get(key, _ABSENT)
        # The members by value, looked up directly: cls(value) goes through the enum machinery's
        # Python code (~0.5 us), six times per accepted order replayed at every restart.
        member: _E | None = cls._value2member_map_.get(value) if isinstance(value, str) else None  # type: ignore[assignment]
        if member is not None:
            return member
        try:
            return cls(value)
        except ValueError:
            raise _Bad(f"{key} is not a {cls.__name__}: {value!r}") from None

    def markouts(self, key: str) -> tuple[tuple[float, Decimal], ...]:
        value = self._get(key, _ABSENT)
        if not isinstance(value, list):
            raise _Bad(f"{key} is not a list: {value!r}")
        out: list[tuple[float, Decimal]] = []
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2:
                raise _Bad(f"{key} holds {pair!r}, not [horizon s, mid]")
            out.append((_number(key, pair[0]), _decimal(key, pair[1])))
        return tuple(out)

    def allocations(self, key: str) -> tuple[tuple[str, int], ...]:
        value = self._get(key, _ABSENT)
        if not isinstance(value, list):
            raise _Bad(f"{key} is not a list: {value!r}")
        out: list[tuple[str, int]] = []
        for pair in value:
            if not isinstance(pair, list) or len(pair) != 2 or type(pair[0]) is not str:
                raise _Bad(f"{key} holds {pair!r}, not [order id, shares]")
            out.append((pair[0], _whole(key, pair[1])))
        return tuple(out)


def _whole(key: str, value: object) -> int:
    """A share quantity: an int, or a string of a whole number (never a float or a bool)."""
    if type(value) is int:
        return value
    if type(value) is str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
    raise _Bad(f"{key} is not a whole number: {value!r}")


def _number(key: str, value: object) -> float:
    """A time in epoch seconds: a JSON number."""
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise _Bad(f"{key} is not a number: {value!r}")


def _decimal(key: str, value: object) -> Decimal:
    """A decimal as the journal stores it: its exact string (or an int); a float has lost exactness."""
    if type(value) is str:
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise _Bad(f"{key} is not a decimal string: {value!r}") from None
        if number.is_finite():
            return number
    elif type(value) is int:
        return Decimal(value)
    raise _Bad(f"{key} is not a decimal string: {value!r}")


def _order_accepted(d: _Data) -> OrderAccepted:
    mandate = Mandate(d.enum(Strategy, "strategy"), d.enum(Urgency, "urgency"),
                      d.enum(Aggressiveness, "aggressiveness"), d.opt_number("start_time", None),
                      d.opt_number("end_time", None), d.opt_dec("participation_rate", None),
                      d.opt_text("params", "") or "")
    return OrderAccepted(
        d.text("order_id"), d.text("session"), d.text("cl_ord_id"), d.text("symbol"), d.enum(Side, "side"),
        d.whole("qty"), d.enum(OrderType, "ord_type"), d.opt_dec("limit", None), d.enum(TimeInForce, "tif"),
        d.number("arrival"), d.whole("arrival_seq"), mandate, d.opt_text("account", None),
        d.opt_text("parent_id", None),
    )


def _child_placed(d: _Data) -> ChildPlaced:
    return ChildPlaced(d.text("parent_id"), d.text("child_id"), d.text("venue"), d.text("symbol"), d.enum(Side, "side"),
                       d.whole("qty"), d.opt_dec("price", None), d.flag("ioc"), d.text("reason", ""),
                       d.opt_dec("expected_cost", None), d.flag("peg", False), d.whole("min_qty", 0),
                       d.opt_dec("mid", None), d.text("routing", ""))


def _child_canceled(d: _Data) -> ChildCanceled:
    return ChildCanceled(d.text("parent_id"), d.text("child_id"), d.text("venue"), d.text("reason", ""),
                         d.text("text", ""), d.opt_whole("leaves_qty", None))


def _child_rejected(d: _Data) -> ChildRejected:
    return ChildRejected(d.text("parent_id"), d.text("child_id"), d.text("venue"), d.text("reason", ""),
                         d.text("text", ""), d.opt_whole("leaves_qty", None))


# What each kind requires is what its readers required before this module (``data[key]`` there is
# required here, ``data.get(key)`` has a default).
_DECODERS: Final[Mapping[str, Callable[[_Data], Event]]] = {
    OrderAccepted.kind: _order_accepted,
    OrderRejected.kind: lambda d: OrderRejected(d.text("session"), d.opt_text("cl_ord_id", None), d.whole("reason"),
                                                d.text("text")),
    OrderReplaced.kind: lambda d: OrderReplaced(d.text("order_id"), d.text("cl_ord_id"), d.whole("qty"),
                                                d.opt_dec("limit"), d.opt_text("parent_id"),
                                                d.opt_text("orig_cl_ord_id", None)),
    OrderCanceled.kind: lambda d: OrderCanceled(d.text("order_id"), d.text("cl_ord_id"), d.opt_text("reason", None)),
    OrderExpired.kind: lambda d: OrderExpired(d.text("order_id"), d.text("text", "")),
    Crossed.kind: lambda d: Crossed(d.text("incoming"), d.text("resting"), d.whole("qty"), d.dec("price"),
                                    d.text("market")),
    ParentFilled.kind: lambda d: ParentFilled(d.text("parent_id"), d.whole("qty"), d.dec("price"), d.text("market"),
                                              d.allocations("allocations")),
    EngineStarted.kind: lambda d: EngineStarted(d.whole("orders", 0)),
    KillSwitchChanged.kind: lambda d: KillSwitchChanged(d.flag("engaged"), d.text("reason", ""),
                                                        d.opt_text("session", None)),
    StrategyChosen.kind: lambda d: StrategyChosen(d.text("parent_id"), d.text("requested"), d.text("used"),
                                                  d.text("text", "")),
    PreTradeEstimate.kind: lambda d: PreTradeEstimate(
        d.text("parent_id"), d.text("strategy"), d.whole("qty"), d.number("horizon_s"), d.whole("periods"),
        d.number("risk_aversion"), d.number("kappa"), d.number("expected_cost"), d.number("std_cost"),
        d.opt_dec("arrival_price", None)),
    ChildPlaced.kind: _child_placed,
    ChildAcknowledged.kind: lambda d: ChildAcknowledged(d.text("parent_id"), d.text("child_id"), d.text("venue"),
                                                        d.opt_text("venue_order_id", None)),
    ChildCancelRequested.kind: lambda d: ChildCancelRequested(d.text("parent_id"), d.text("child_id"),
                                                              d.text("venue"), d.text("reason", "")),
    ChildCancelRejected.kind: lambda d: ChildCancelRejected(d.text("parent_id"), d.text("child_id"),
                                                            d.text("venue"), d.text("text", "")),
    VenueMarkout.kind: lambda d: VenueMarkout(d.text("parent_id"), d.text("child_id"), d.text("venue"),
                                              d.text("symbol"), d.enum(Side, "side"), d.whole("qty"), d.dec("price"),
                                              d.opt_dec("fill_mid", None), d.markouts("mids")),
    ChildCanceled.kind: _child_canceled,
    ChildRejected.kind: _child_rejected,
    # fee: version 1 rows hold the venue's Commission (12) string unchecked, so it is read leniently.
    VenueExecution.kind: lambda d: VenueExecution(d.text("parent_id"), d.text("child_id"), d.text("venue"),
                                                  d.text("exec_id"), d.whole("qty"), d.dec("price"),
                                                  d.text("liquidity", ""), d.loose_dec("fee")),
    ParentOverfilled.kind: lambda d: ParentOverfilled(d.text("parent_id"), d.text("child_id"), d.text("venue"),
                                                      d.whole("qty"), d.dec("price"), d.text("text", "")),
    ParentHalted.kind: lambda d: ParentHalted(d.text("parent_id"), d.text("text", "")),
    MarketSample.kind: lambda d: MarketSample(d.text("symbol"), d.opt_dec("bid", None), d.opt_dec("ask", None),
                                              d.whole("volume"), d.dec("notional")),
}


def decode(kind: str, data: Mapping[str, Any] | str, seq: int | None = None, version: int = VERSION) -> Event:
    """The event a journal row records; ``data`` is its payload (decoded, or the stored JSON text).

    ``seq`` only names the entry in errors.  Raises :class:`UnknownEventKind` or
    :class:`MalformedEvent` (both :class:`JournalError`), and :class:`EventDecodeError` for a
    ``version`` this code does not read.
    """
    where = f"journal entry {seq}" if seq is not None else "journal entry"
    if version != VERSION:
        raise EventDecodeError(f"{where} ({kind}): event format version {version} is not readable by this"
                               f" version of metaorder (it reads version {VERSION})", kind, seq)
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise UnknownEventKind(f"{where}: unknown event kind {kind!r} (event format version {VERSION} has"
                               f" {len(_DECODERS)} kinds; was it written by a newer metaorder?)", kind, seq)
    if isinstance(data, str):
        data = decode_data(data)
    elif not isinstance(data, Mapping):
        detail = f"payload is not an object: {type(data).__name__}"
        raise MalformedEvent(f"{where} ({kind}) is malformed: {detail}", kind, seq, detail)
    try:
        return decoder(_Data(data))
    except _Bad as exc:
        detail = str(exc)
        raise MalformedEvent(f"{where} ({kind}) is malformed: {detail}", kind, seq, detail) from None


def decode_entry(entry: JournalEntry, version: int = VERSION) -> Recorded:
    """A journal entry as its event, with the row's sequence number and time.

    ``version``: the event format version of the journal it comes from (``journal.event_version``)."""
    return Recorded(entry.seq, entry.time, decode(entry.kind, entry.data, entry.seq, version))
