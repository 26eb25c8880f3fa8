"""The strategy parameters a client may give in TargetStrategyParameters (848), strategy by strategy.

848 is free text in FIX 4.4; metaorder reads it as ``key=value`` pairs separated by ``;``.  Two keys
apply to every strategy (``Urgency``, ``Aggressiveness``: they are fields of the mandate); the others
belong to one strategy and are checked here, at intake, so a client hears at once — in the reject's
Text — that ``RiskAversion`` is not a POV parameter or that ``MaxPOV=1.5`` is not a fraction, instead
of the engine finding out later with nobody to tell.

Accepted values are rewritten canonically (a number as ``Decimal`` prints it) and kept, keys sorted,
as one text (``MaxPOV=0.2;MinPOV=0.05``) in :attr:`~metaorder.orders.model.Mandate.params`: part of
the aggregation key (orders asking for different risk aversions are not worked as one) and journaled
as it is.  The strategies read the values back with :func:`parse_params`.

=========  =================  =================================================================
Strategy   Key                Meaning
=========  =================  =================================================================
any        ``Routing``        the routing logic of the order's child orders: ``BEST``,
                              ``SEQUENTIAL``, ``PARALLEL`` or ``SEEK`` (any case); without it,
                              ``[routing]``'s map of Urgency x Aggressiveness decides
IS         ``RiskAversion``   Almgren–Chriss λ, per dollar (0 to 1; 0 is TWAP-like); overrides the
                              Urgency map of ``[strategy.is]``
POV        ``MinPOV``         participation below which the strategy takes liquidity to catch up
                              (a fraction, 0 < MinPOV ≤ ParticipationRate 849)
POV        ``MaxPOV``         participation never exceeded over the rolling window (a fraction,
                              ParticipationRate ≤ MaxPOV < 1)
=========  =================  =================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation

from metaorder.orders.model import Strategy

#: Keys every strategy accepts (mandate fields, read by normalization itself).
COMMON_KEYS: tuple[str, ...] = ("Urgency", "Aggressiveness")


class ParameterError(ValueError):
    """An 848 value that is not what its key needs; the message names the key and the value."""


def _number(key: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ParameterError(f"{key} {text!r} is not a number") from None
    if not value.is_finite():
        raise ParameterError(f"{key} {text!r} is not a number")
    return value


#: The largest risk aversion accepted, per $: far beyond any sensible mandate (1e-5 already finishes a
#: 2 h order in minutes), yet small enough that every figure of the plan stays a finite float.
MAX_RISK_AVERSION = Decimal(1)


def _canonical(value: Decimal) -> str:
    """One text per number: ``0.10`` and ``0.1`` are the same key, and never an exponent (``1E+2``)."""
    return format(value.normalize(), "f") if value else "0"


def _risk_aversion(key: str, text: str) -> str:
    value = _number(key, text)
    if not 0 <= value <= MAX_RISK_AVERSION:
        raise ParameterError(f"{key} {text!r} must be between 0 and {MAX_RISK_AVERSION} per $")
    return _canonical(value)


def _fraction(key: str, text: str) -> str:
    value = _number(key, text)
    if not 0 < value < 1:
        raise ParameterError(f"{key} {text!r} must be a fraction in (0, 1), e.g. 0.1 for 10 %")
    return _canonical(value)


#: The routing logics a client may name (execution.types.Routing's values; not imported: the order
#: side does not depend on the execution package).
ROUTINGS: tuple[str, ...] = ("BEST", "SEQUENTIAL", "PARALLEL", "SEEK")


def _routing(key: str, text: str) -> str:
    value = text.strip().upper()
    if value not in ROUTINGS:
        raise ParameterError(f"{key} {text!r} is not a routing logic (known: {', '.join(ROUTINGS)})")
    return value


#: Keys of every strategy that are not mandate fields: kept in the params like a strategy's own.
SHARED_KEYS: Mapping[str, Callable[[str, str], str]] = {"Routing": _routing}

#: Each strategy's own keys and how a value is checked and rewritten.
STRATEGY_KEYS: Mapping[Strategy, Mapping[str, Callable[[str, str], str]]] = {
    Strategy.TWAP: {**SHARED_KEYS},
    Strategy.VWAP: {**SHARED_KEYS},
    Strategy.IS: {**SHARED_KEYS, "RiskAversion": _risk_aversion},
    Strategy.POV: {**SHARED_KEYS, "MinPOV": _fraction, "MaxPOV": _fraction},
}


def known_keys(strategy: Strategy) -> tuple[str, ...]:
    return (*COMMON_KEYS, *STRATEGY_KEYS[strategy])


def canonical_params(strategy: Strategy, params: Mapping[str, str], rate: Decimal | None) -> str:
    """The strategy's own keys of ``params`` checked and in canonical text ("" when none).

    ``params`` is every 848 pair; the common keys are skipped (the caller reads them).  ``rate`` is the
    order's ParticipationRate (849, or the default), which POV's bounds must bracket.  Raises
    :class:`ParameterError` naming the first key that is unknown for the strategy or ill-valued.
    """
    keys = STRATEGY_KEYS[strategy]
    out: dict[str, str] = {}
    for key in sorted(params):
        if key in COMMON_KEYS:
            continue
        check = keys.get(key)
        if check is None:
            raise ParameterError(f"unknown key {key!r} for {strategy.name} (known: {', '.join(known_keys(strategy))})")
        out[key] = check(key, params[key])
    if strategy is Strategy.POV:
        low, high = out.get("MinPOV"), out.get("MaxPOV")
        if low is not None and rate is not None and Decimal(low) > rate:
            raise ParameterError(f"MinPOV {low} is above the ParticipationRate (849) {rate}")
        if high is not None and rate is not None and Decimal(high) < rate:
            raise ParameterError(f"MaxPOV {high} is below the ParticipationRate (849) {rate}")
    return ";".join(f"{key}={value}" for key, value in out.items())


def parse_params(text: str) -> tuple[tuple[str, str], ...]:
    """:attr:`Mandate.params` back into sorted (key, value) pairs."""
    if not text:
        return ()
    return tuple((key, value) for key, _, value in (pair.partition("=") for pair in text.split(";")))
