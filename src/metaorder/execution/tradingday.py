"""When an order without ExpireTime (126) stops being worked: the end of its trading day.

An OMS that sends a DAY order without an ExpireTime means "work it today": FIX's TimeInForce 0 is
good for the trading day, and that is what every broker algo does with it.  A fixed default
window (five minutes) would finish a large order far faster than the client asked, paying the
market impact that spreading it over the day is meant to avoid.  So the window of such an order
ends at

* the market close ``[execution] market_close`` (UTC ``HH:MM``), when configured: the first close
  after the order's arrival, or after its EffectiveTime (168) when that is later
  (:func:`metaorder.orders.model.day_anchor`).  An order arriving after today's close is worked until the *next*
  close: nothing can be done in a closed market, and an order entered after hours is, as brokers
  treat it, for the next session (give it an EffectiveTime (168) at the open if the schedule
  should not start before it);
* otherwise the end of the trading day, the next ``[intake] trading_day_start`` (UTC ``HH:MM``, the
  instant from which the intake considers ClOrdIDs of a new day) — for venues that trade around
  the clock, as the simulated ones do.

Pure functions of the arrival time and the settings (no clock is read): a recovered engine
computes the same window from the journaled arrival, and the simulation can run any day.  Both
are monotone in the arrival — a later arrival never ends earlier — which lets a parent keep its
window as running minima and maxima over its orders' arrivals
(:meth:`metaorder.orders.model.ParentOrder.window`).
"""

from __future__ import annotations

import math

DAY_S = 86400  # UTC days: epoch seconds have no leap seconds, so every day is this long


def next_time_of_day(now: float, seconds: int) -> float:
    """The first instant strictly after ``now`` that is ``seconds`` after a UTC midnight.

    Strictly after: an order arriving exactly at the close is worked until the next one, not over
    an empty window.
    """
    if not 0 <= seconds < DAY_S:
        raise ValueError(f"a time of day is 0 to {DAY_S} seconds after midnight, not {seconds}")
    t = math.floor(now / DAY_S) * DAY_S + seconds
    return t if t > now else t + DAY_S


def end_of_day(arrival: float, trading_day_start_s: int, market_close_s: int | None = None) -> float:
    """Where the window of an order without ExpireTime ends (see the module docstring)."""
    return next_time_of_day(arrival, trading_day_start_s if market_close_s is None else market_close_s)
