"""Typed console commands to FIX 4.4 message bodies, exactly as README "Sending orders" documents them.

Pure: ``now`` (epoch seconds, UTC) comes in, a body and any notes for the trader come out.  The
console is an OMS like any other, so it speaks only the tags the engine documents:

=================  ===================================================================
847 TargetStrategy  1 VWAP, 2 POV, 1000 TWAP, 1001 IS; absent for a bare order (the
                    engine's ``default_strategy`` applies and the ack's Text says which)
168 EffectiveTime   ``from HH:MM`` (today, UTC; a time already past is sent as it is: the
                    engine starts at once)
126 ExpireTime      ``for D``: the window's start + D (the start is ``from``, else now);
                    ``until HH:MM``: the first HH:MM (UTC) after the start, so tomorrow's if
                    it has passed today (a note says so: a trader typing 09:30 at 10:00 may
                    have meant something else)
59 TimeInForce      0 (DAY) when the window ends today (UTC) or has no end; 6 (GTD) when
                    126 falls on a later day
849 ParticipationRate  ``pov RATE`` / ``participation RATE``
848 TargetStrategyParameters  ``Urgency=..;Aggressiveness=..;Routing=..``
=================  ===================================================================

Why GTD: a DAY order says "over by the end of today", and an ExpireTime tomorrow contradicts it.
metaorder itself ends an order at its ExpireTime whatever its TimeInForce (README "Execution", end
of an order's time), but the console must say what it means: GTD (59=6) is FIX's "good till the
ExpireTime", which is what the trader typed.

Always 40 OrdType (2 with 44 Price for a limit, else 1), 59 TimeInForce and 60 TransactTime.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from metaorder.console.grammar import NewOrder
from metaorder.fix.codec import FieldValue, format_utc_timestamp
from metaorder.fix.tags import Tag

Body = list[tuple[int, FieldValue]]

SIDE_CODES = {"BUY": "1", "SELL": "2", "SHORT": "5"}
SIDE_NAMES = {"1": "BUY", "2": "SELL", "5": "SHORT", "6": "SHORT-EXEMPT"}
STRATEGY_CODES = {"VWAP": "1", "POV": "2", "TWAP": "1000", "IS": "1001"}
#: Header fields the session writes itself: a ``raw`` message may not set them.
SESSION_HEADER = frozenset({8, 9, 10, 34, 35, 43, 49, 52, 56, 97, 122})


class WindowError(ValueError):
    """An order whose window cannot be sent (it is over before it begins); ``str()`` is one line."""


def at_clock_time(when: clock, now: float) -> tuple[float, bool]:
    """Epoch seconds of UTC clock time ``when`` today, or tomorrow if it has passed; and whether tomorrow."""
    today = datetime.fromtimestamp(now, UTC).date()
    moment = datetime.combine(today, when, UTC)
    if moment.timestamp() <= now:
        return (moment + timedelta(days=1)).timestamp(), True
    return moment.timestamp(), False


def new_order_body(order: NewOrder, cl_ord_id: str, now: float) -> tuple[Body, list[str]]:
    """NewOrderSingle (D) for ``order``; the notes tell the trader about anything not obvious."""
    notes: list[str] = []
    body: Body = [(Tag.CL_ORD_ID, cl_ord_id), (Tag.SYMBOL, order.symbol), (Tag.SIDE, SIDE_CODES[order.side]),
                  (Tag.TRANSACT_TIME, format_utc_timestamp(now)), (Tag.ORDER_QTY, order.qty)]
    if order.price is not None:
        body += [(Tag.ORD_TYPE, "2"), (Tag.PRICE, order.price)]
    else:
        body.append((Tag.ORD_TYPE, "1"))
    start, end = _window(order, now, notes)
    ends_later = end is not None and _utc_date(end) != _utc_date(now)
    body.append((Tag.TIME_IN_FORCE, "6" if ends_later else "0"))
    if order.strategy is not None:
        body.append((Tag.TARGET_STRATEGY, STRATEGY_CODES[order.strategy]))
    if start is not None:
        body.append((Tag.EFFECTIVE_TIME, format_utc_timestamp(start)))
    if end is not None:
        body.append((Tag.EXPIRE_TIME, format_utc_timestamp(end)))
        if ends_later and not notes:  # a rolled ``until`` has said so already
            notes.append(f"the window ends {_utc_date(end):%Y-%m-%d} {_hhmm(end)} UTC, not today: sent as GTD "
                         f"(59=6), worked until then")
    if order.participation is not None:
        body.append((Tag.PARTICIPATION_RATE, order.participation))
    params = [f"{key}={value}" for key, value in (("Urgency", order.urgency), ("Aggressiveness", order.aggressiveness),
                                                  ("Routing", order.routing)) if value is not None]
    if params:
        body.append((Tag.TARGET_STRATEGY_PARAMETERS, ";".join(params)))
    return body, notes


def _window(order: NewOrder, now: float, notes: list[str]) -> tuple[float | None, float | None]:
    """(EffectiveTime, ExpireTime) in epoch seconds, either None when not given."""
    start: float | None = None
    if order.start is not None:
        start, tomorrow = at_clock_time(order.start, now)
        if tomorrow:  # a start already past means now: send it as today's (the engine starts at once)
            start -= 86400
    begin = max(now, start) if start is not None else now
    end: float | None = None
    if order.duration is not None:
        end = (start if start is not None else now) + order.duration
        if end <= now:
            assert order.start is not None  # only a start in the past can put the end there
            raise WindowError(f"the window from {order.start:%H:%M} for {_span(order.duration)} ended at "
                              f"{_hhmm(end)} UTC: nothing to do (leave out 'from' to start now)")
    elif order.until is not None:
        end, later = at_clock_time(order.until, begin)
        if later:
            at = f"{order.until:%H:%M}"
            why = "has passed today" if begin == now else f"is not after the start ({order.start:%H:%M} UTC)"
            notes.append(f"{at} UTC {why}: the window ends tomorrow at {at} UTC (sent as GTD, 59=6)")
    return start, end


def _utc_date(when: float) -> date:
    return datetime.fromtimestamp(when, UTC).date()


def _hhmm(when: float) -> str:
    return f"{datetime.fromtimestamp(when, UTC):%H:%M}"


def _span(seconds: float) -> str:
    if seconds != int(seconds):
        return f"{seconds:g}s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)


def price_or_none(text: str | None) -> Decimal | None:
    """A raw message's Price (44) for the blotter, or None when it is not a plain positive number."""
    if not text or len(text) > 40 or not re.fullmatch(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+", text):
        return None
    value = Decimal(text)
    return value if value > 0 else None


def cancel_body(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str, qty: int, now: float) -> Body:
    """OrderCancelRequest (F); ``side`` is the FIX code."""
    return [(Tag.ORIG_CL_ORD_ID, orig_cl_ord_id), (Tag.CL_ORD_ID, cl_ord_id), (Tag.SYMBOL, symbol), (Tag.SIDE, side),
            (Tag.TRANSACT_TIME, format_utc_timestamp(now)), (Tag.ORDER_QTY, qty)]


def replace_body(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str, qty: int, limit: Decimal | None,
                 now: float) -> Body:
    """OrderCancelReplaceRequest (G): the whole order as it should be (FIX asks for qty and type again)."""
    body: Body = [(Tag.ORIG_CL_ORD_ID, orig_cl_ord_id), (Tag.CL_ORD_ID, cl_ord_id), (Tag.SYMBOL, symbol),
                  (Tag.SIDE, side), (Tag.TRANSACT_TIME, format_utc_timestamp(now)), (Tag.ORDER_QTY, qty)]
    if limit is not None:
        body += [(Tag.ORD_TYPE, "2"), (Tag.PRICE, limit)]
    else:
        body.append((Tag.ORD_TYPE, "1"))
    return body


def status_body(cl_ord_id: str, symbol: str, side: str) -> Body:
    """OrderStatusRequest (H)."""
    return [(Tag.CL_ORD_ID, cl_ord_id), (Tag.SYMBOL, symbol), (Tag.SIDE, side)]


def split_raw(fields: Sequence[tuple[int, str]], header_tags: frozenset[int]) -> tuple[Body, Body]:
    """A ``raw`` message's fields as (header, body): the session writes its own header fields
    (refused here with a ValueError naming the tag); other header tags (OnBehalfOfCompID...) go
    into the header, the rest into the body in the order typed."""
    header: Body = []
    body: Body = []
    for tag, value in fields:
        if tag in SESSION_HEADER:
            raise ValueError(f"raw: tag {tag} is written by the session; leave it out")
        (header if tag in header_tags else body).append((tag, value))
    return header, body


def fix_text(body: Sequence[tuple[int, FieldValue]], msg_type: str) -> str:
    """``35=D|11=..|55=ACME``: what was sent, for the trader's eyes."""
    return "|".join([f"35={msg_type}", *(f"{int(t)}={_show(v)}" for t, v in body)])


def _show(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)
