"""The pre-trade risk limits (:class:`RiskLimits`) and how a session's own override the global ones (:func:`merge`).

A pydantic model, validated when the configuration is read; kept apart from the checks in
:mod:`metaorder.orders.risk`, which are compiled with mypyc (a pydantic model cannot be).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RiskLimits", "merge"]

_PositiveInt = Annotated[int, Field(gt=0)]
_PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
_PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RiskLimits(BaseModel):
    """One set of limits; every limit is optional (``None``: no limit).

    The same model serves for the global limits and for a session's overrides: a session sets only
    the fields it wants to change, and :func:`merge` fills in the rest from the global limits.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_order_qty: _PositiveInt | None = None
    max_order_notional: _PositiveDecimal | None = None
    # A limit price further than this percentage from the reference price is refused (fat finger).
    price_collar_pct: _PositiveDecimal | None = None
    restricted_symbols: frozenset[str] = frozenset()
    # "Likely duplicate": same session, symbol, side, qty and price accepted less than this ago.
    duplicate_window_s: _PositiveSeconds | None = None
    # Credit limit: sum over the session's open orders of leaves_qty × (limit or reference price).
    max_open_notional: _PositiveDecimal | None = None
    # Per session, over a sliding one-second window.
    max_orders_per_second: _PositiveInt | None = None
    # Used by the intake (cancel the session's orders when it drops); not checked here.
    cancel_on_disconnect: bool = False


def merge(global_limits: RiskLimits, session_limits: RiskLimits | None) -> RiskLimits:
    """The limits that apply to a session: its own settings override the global ones field by field.

    A field overrides when the session *set* it (pydantic's ``model_fields_set``), so a session
    configured with only ``max_order_qty`` keeps every other global limit.  Setting a field to
    ``None`` explicitly lifts that global limit for the session (TOML has no null, so only code can
    do this).  Restricted symbols are the union: a session can add restrictions, never lift one.
    """
    if session_limits is None:
        return global_limits
    updates: dict[str, object] = {
        name: getattr(session_limits, name) for name in session_limits.model_fields_set if name != "restricted_symbols"
    }
    updates["restricted_symbols"] = global_limits.restricted_symbols | session_limits.restricted_symbols
    return global_limits.model_copy(update=updates)
