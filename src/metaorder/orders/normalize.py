"""From a NewOrderSingle to the engine's :class:`ClientOrder`, or a clear refusal.

The OMS adapter (:mod:`metaorder.orders.oms_fix`) has read the fields into a
:class:`~metaorder.orders.messages.NewOrderRequest`, values as the client sent them, and the data
dictionary has already checked formats and enums at the session layer; this module checks meaning
(known symbol, positive whole quantity, a price where one is needed, a coherent execution window)
and reads the strategy mandate from the FIX 4.4 algorithmic-trading tags:

* TargetStrategy (847): 1 = VWAP, 2 = POV (Participate), 1000 = TWAP, 1001 = IS; absent → default;
* EffectiveTime (168) / ExpireTime (126): the execution window;
* ParticipationRate (849): the maximum share of market volume, a fraction (0.1 = 10 %);
* TargetStrategyParameters (848): ``key=value`` pairs separated by ``;`` — ``Urgency=LOW|MEDIUM|HIGH``
  and ``Aggressiveness=PASSIVE|NEUTRAL|AGGRESSIVE`` for every strategy, and each strategy's own keys
  (:mod:`metaorder.orders.strategy_params`: ``RiskAversion`` for IS, ``MinPOV``/``MaxPOV`` for POV);
  a key the order's strategy does not know, or a bad value, is refused with a Text naming it.

Each refusal carries the FIX OrdRejReason (103) and a Text a counterparty's FIX team can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from metaorder.fix.codec import parse_utc_timestamp
from metaorder.orders.messages import NewOrderRequest
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
from metaorder.orders.strategy_params import ParameterError, canonical_params

REJ_UNKNOWN_SYMBOL = 1
REJ_UNSUPPORTED = 11
REJ_INCORRECT_QTY = 13
REJ_OTHER = 99


class NormalizeError(Exception):
    def __init__(self, reason: int, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


@dataclass(frozen=True, slots=True)
class IntakeDefaults:
    strategy: Strategy = Strategy.TWAP
    urgency: Urgency = Urgency.MEDIUM
    aggressiveness: Aggressiveness = Aggressiveness.NEUTRAL
    participation_rate: Decimal | None = None
    # Shares per lot by symbol.  Client orders are any whole number of shares (odd lots are the
    # typical small order); lots shape allocation and child orders at venues, never the client's
    # order (see README, "Sending orders to metaorder").
    lot_sizes: Mapping[str, int] | None = None
    # Seconds after UTC midnight at which a trading day begins (ClOrdIDs are unique per day).
    trading_day_start_s: int = 0

    def lot_size(self, symbol: str) -> int:
        return self.lot_sizes.get(symbol, 1) if self.lot_sizes else 1


_SIDES = {s.value: s for s in Side}
_TYPES = {t.value: t for t in OrderType}
_TIFS = {t.value: t for t in TimeInForce}
_STRATEGIES = {s.value: s for s in Strategy}


def parse_strategy_parameters(text: str) -> dict[str, str]:
    """``Urgency=HIGH;Aggressiveness=PASSIVE`` → {"Urgency": "HIGH", ...}; malformed pairs refused."""
    params: dict[str, str] = {}
    for pair in text.split(";"):
        pair = pair.strip()
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise NormalizeError(REJ_UNSUPPORTED, f"TargetStrategyParameters (848): {pair!r} is not key=value")
        params[key.strip()] = value.strip()
    return params


def _decimal(text: str | None, field: str) -> Decimal | None:
    """``text`` as a finite decimal; ``None`` when absent or empty.  ``field``: "Name (tag)" for the Text."""
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise NormalizeError(REJ_OTHER, f"{field} {text!r} is not a number") from None
    if not value.is_finite():
        raise NormalizeError(REJ_OTHER, f"{field} {text!r} is not a number")
    return value


def _time(text: str | None, field: str) -> float | None:
    if not text:
        return None
    when = parse_utc_timestamp(text)
    if when is None:
        raise NormalizeError(REJ_OTHER, f"{field} {text!r} is not a UTC timestamp")
    return when


#: An order carrying none of the mandate tags (847, 848, 849, 168, 126) gets the defaults' mandate.
_default_mandate: list[tuple[IntakeDefaults, Mandate] | None] = [None]  # last defaults -> their mandate


def mandate_of(request: NewOrderRequest, defaults: IntakeDefaults, now: float) -> Mandate:
    if (request.target_strategy is None and request.target_strategy_parameters is None
            and request.participation_rate is None and request.effective_time is None
            and request.expire_time is None):
        # The common case: no algorithmic tags (not even empty ones).  A Mandate is immutable, so one is shared.
        cached = _default_mandate[0]
        if cached is not None and cached[0] is defaults:
            return cached[1]
        mandate = _mandate_of(request, defaults, now)
        _default_mandate[0] = (defaults, mandate)
        return mandate
    return _mandate_of(request, defaults, now)


def _mandate_of(request: NewOrderRequest, defaults: IntakeDefaults, now: float) -> Mandate:
    strategy_text = request.target_strategy
    if strategy_text is None:
        strategy = defaults.strategy
    else:
        found = _STRATEGIES.get(strategy_text)
        if found is None:
            raise NormalizeError(
                REJ_UNSUPPORTED,
                f"TargetStrategy (847) {strategy_text!r} is not supported (1 VWAP, 2 POV, 1000 TWAP, 1001 IS)",
            )
        strategy = found
    params = parse_strategy_parameters(request.target_strategy_parameters or "")
    try:
        urgency = Urgency(params["Urgency"].upper()) if "Urgency" in params else defaults.urgency
        aggressiveness = (
            Aggressiveness(params["Aggressiveness"].upper()) if "Aggressiveness" in params
            else defaults.aggressiveness
        )
    except ValueError:
        raise NormalizeError(
            REJ_UNSUPPORTED, "TargetStrategyParameters (848): Urgency must be LOW|MEDIUM|HIGH and "
            "Aggressiveness PASSIVE|NEUTRAL|AGGRESSIVE"
        ) from None
    rate = _decimal(request.participation_rate, "ParticipationRate (849)")
    if rate is not None and not Decimal(0) < rate <= Decimal(1):
        raise NormalizeError(REJ_UNSUPPORTED, f"ParticipationRate (849) {rate} must be a fraction in (0, 1]")
    if rate is None:
        rate = defaults.participation_rate
    if strategy is Strategy.POV and rate is None:
        raise NormalizeError(REJ_UNSUPPORTED, "a POV order (847=2) needs a ParticipationRate (849)")
    if strategy is Strategy.POV and rate == 1:
        raise NormalizeError(REJ_UNSUPPORTED, "a POV order's ParticipationRate (849) must be below 1")
    try:
        own = canonical_params(strategy, params, rate)
    except ParameterError as exc:
        raise NormalizeError(REJ_UNSUPPORTED, f"TargetStrategyParameters (848): {exc}") from None
    start = _time(request.effective_time, "EffectiveTime (168)")
    end = _time(request.expire_time, "ExpireTime (126)")
    if end is not None and end <= max(now, start or now):
        raise NormalizeError(REJ_OTHER, "ExpireTime (126) must be after EffectiveTime (168) and after now")
    return Mandate(strategy, urgency, aggressiveness, start, end, rate, own)


def normalize_new_order(
    request: NewOrderRequest,
    session: str,
    now: float,
    order_id: str,
    arrival_seq: int,
    symbols: Mapping[str, object],
    defaults: IntakeDefaults = IntakeDefaults(),
) -> ClientOrder:
    """The engine's order for ``request``; raises :class:`NormalizeError` with what is wrong."""
    cl_ord_id = request.cl_ord_id or ""
    if not cl_ord_id:
        raise NormalizeError(REJ_OTHER, "ClOrdID (11) is required")
    symbol = request.symbol or ""
    if symbol not in symbols:
        raise NormalizeError(REJ_UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
    side = _SIDES.get(request.side or "")
    if side is None:
        raise NormalizeError(
            REJ_UNSUPPORTED, f"Side (54) {request.side!r} is not supported (1 buy, 2 sell, 5 sell short)"
        )
    qty_value = _decimal(request.order_qty, "OrderQty (38)")
    if qty_value is None:
        raise NormalizeError(REJ_INCORRECT_QTY, "OrderQty (38) is required")
    if qty_value <= 0:
        raise NormalizeError(REJ_INCORRECT_QTY, f"OrderQty (38) {qty_value} must be positive")
    if qty_value != qty_value.to_integral_value():
        raise NormalizeError(REJ_INCORRECT_QTY, f"OrderQty (38) {qty_value} is not a whole number of shares")
    ord_type = _TYPES.get(request.ord_type or "")
    if ord_type is None:
        raise NormalizeError(REJ_UNSUPPORTED, f"OrdType (40) {request.ord_type!r} is not supported (1 market, 2 limit)")
    limit = _decimal(request.price, "Price (44)")
    if ord_type is OrderType.LIMIT:
        if limit is None:
            raise NormalizeError(REJ_OTHER, "a limit order (40=2) needs a Price (44)")
        if limit <= 0:
            raise NormalizeError(REJ_OTHER, f"Price (44) {limit} must be positive")
    else:
        limit = None
    tif = _TIFS.get(request.time_in_force or "0")
    if tif is None:
        raise NormalizeError(REJ_UNSUPPORTED, f"TimeInForce (59) {request.time_in_force!r} is not supported")
    mandate = mandate_of(request, defaults, now)
    if tif is TimeInForce.GTD and mandate.end_time is None:
        raise NormalizeError(REJ_OTHER, "TimeInForce GTD (59=6) needs an ExpireTime (126)")
    order = ClientOrder(order_id, session, cl_ord_id, symbol, side, int(qty_value), ord_type, limit, tif, mandate,
                        now, arrival_seq)
    order.account = request.account or None  # an empty Account (1) is no account, as absent: not an account named ''
    return order
