"""What an accepted order will do, in one line for the acknowledgement's Text (58).

An OMS that sent 847=1 with a window and a participation rate should read back, on the ack itself,
that metaorder understood: "VWAP 14:00–16:00 UTC, participation ≤ 10%".  Before this, every
algorithmic order got a bare ack and only the journal knew what was done with it.

The window is the order's own: from its EffectiveTime (168) or its arrival, whichever is later, to
its ExpireTime (126) or, without one, the end of its trading day (the engine's
:meth:`~metaorder.execution.engine.ExecutionSettings.default_end`, handed in as ``default_end``), or
"until canceled" for a GTC order.  Times are UTC, to the minute unless seconds matter.  The text says
only what the client asked for and what follows from it; the strategies' configured defaults (a risk
aversion for an urgency, say) are theirs to report in the audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from metaorder.orders.model import ClientOrder, Strategy, TimeInForce, day_anchor
from metaorder.orders.strategy_params import parse_params

_NAMES = {Strategy.TWAP: "TWAP", Strategy.VWAP: "VWAP", Strategy.IS: "IS (Almgren-Chriss)", Strategy.POV: "POV"}


def clock_time(when: float) -> str:
    """``HH:MM`` UTC, or ``HH:MM:SS`` when the seconds are not zero."""
    t = time.gmtime(when)
    return time.strftime("%H:%M" if t.tm_sec == 0 else "%H:%M:%S", t)


def percent(rate: Decimal) -> str:
    """0.1 → ``10%``, 0.125 → ``12.5%``."""
    value = (rate * 100).normalize()
    return f"{value:f}%"


def describe_order(order: ClientOrder, default_end: Callable[[float], float]) -> str:
    """One line: strategy, window, and the parameters that shape it (see the module docstring)."""
    m = order.mandate
    start = max(m.start_time or order.arrival, order.arrival)
    if m.end_time:
        until = clock_time(m.end_time)
    elif order.tif is TimeInForce.GTC:
        until = "until canceled"
    else:
        until = clock_time(default_end(day_anchor(order)))
    window = f"{clock_time(start)}-{until}" if until != "until canceled" else f"from {clock_time(start)} until canceled"
    params = dict(parse_params(m.params))
    parts = [f"{_NAMES[m.strategy]} {window} UTC"]
    rate = m.participation_rate
    if m.strategy is Strategy.POV and rate is not None:
        band = ""
        if "MinPOV" in params or "MaxPOV" in params:
            low = percent(Decimal(params["MinPOV"])) if "MinPOV" in params else "-"
            high = percent(Decimal(params["MaxPOV"])) if "MaxPOV" in params else "-"
            band = f" (min {low}, max {high})"
        parts.append(f"participation {percent(rate)}{band}")
    elif rate is not None:
        parts.append(f"participation <= {percent(rate)}")
    if "RiskAversion" in params:
        parts.append(f"risk aversion {params['RiskAversion']}/$")
    else:
        parts.append(f"urgency {m.urgency.value}")
    if m.aggressiveness.value != "NEUTRAL":
        parts.append(m.aggressiveness.value.lower())
    return ", ".join(parts)


class Describer:
    """:func:`describe_order` for the intake's acknowledgements, remembering the last answer.

    Orders arriving in a burst mostly share their mandate (one object for every order without
    algorithmic tags) and their arrival second, and the text depends on nothing else, so the last
    text is handed out again instead of formatting two times and the parameters per order: the ack
    is on the NewOrderSingle's hot path.
    """

    __slots__ = ("_default_end", "_key", "_text")

    def __init__(self, default_end: Callable[[float], float]) -> None:
        self._default_end = default_end
        self._key: tuple[object, object, int] | None = None
        self._text = ""

    def __call__(self, order: ClientOrder) -> str:
        key = (order.mandate, order.tif, int(order.arrival))
        last = self._key
        if last is not None and last[0] is key[0] and last[1] is key[1] and last[2] == key[2]:
            return self._text
        self._text = describe_order(order, self._default_end)
        self._key = key
        return self._text
