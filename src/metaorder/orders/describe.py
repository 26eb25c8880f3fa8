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
    parts.append(f"urgency {m.urgency.value}")
    if "RiskAversion" in params:
        parts.append(f"risk aversion {params['RiskAversion']}/$")
    if m.aggressiveness.value != "NEUTRAL":
        parts.append(m.aggressiveness.value.lower())
    if "Routing" in params:  # the client named it (otherwise [routing.map] decides, by the above)
        parts.append(f"routing {params['Routing']}")
    return ", ".join(parts)


class Describer:
    """:func:`describe_order` for the intake's acknowledgements, remembering recent answers.

    The text depends only on the order's mandate (a frozen value), its TimeInForce and its arrival
    second, and orders arriving together mostly share those (every order without algorithmic tags
    shares one mandate object; an OMS's algo orders repeat the same few), so a small table keyed by
    them answers a burst without formatting two times and the parameters per order: the ack is on
    the NewOrderSingle's hot path.  The table is emptied when it fills (a new second makes all its
    keys stale anyway).
    """

    __slots__ = ("_arrival_mid", "_default_end", "_last", "_last_text", "_texts")

    MAX_ENTRIES = 256

    def __init__(self, default_end: Callable[[float], float],
                 arrival_mid: Callable[[ClientOrder], Decimal | None] | None = None) -> None:
        self._default_end = default_end
        # The live consolidated mid of an order's symbol (None: no two-sided quote): the ack then ends with
        # ", arrival mid 142.505", the benchmark the client's own cost vs arrival is measured against
        # (the trader's console shows it; an OMS that keeps no market data of its own gets it too).
        self._arrival_mid = arrival_mid
        self._texts: dict[tuple[object, object, int], str] = {}
        self._last: tuple[object, object, int] | None = None
        self._last_text = ""

    def __call__(self, order: ClientOrder) -> str:
        text = self._mandate_text(order)
        if self._arrival_mid is not None and (mid := self._arrival_mid(order)) is not None:
            return f"{text}, arrival mid {mid}"
        return text

    def _mandate_text(self, order: ClientOrder) -> str:
        second = int(order.arrival)
        last = self._last
        # The common case first, without hashing a mandate: the very same one as the order before.
        if last is not None and last[0] is order.mandate and last[1] is order.tif and last[2] == second:
            return self._last_text
        key = (order.mandate, order.tif, second)
        text = self._texts.get(key)
        if text is None:
            if len(self._texts) >= self.MAX_ENTRIES:
                self._texts.clear()
            text = self._texts[key] = describe_order(order, self._default_end)
        self._last, self._last_text = key, text
        return text
