"""Normalization of NewOrderSingle into the engine's order, and its refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.orders.messages import NewOrderRequest
from metaorder.orders.model import Aggressiveness, OrderType, Side, Strategy, TimeInForce, Urgency
from metaorder.orders.normalize import IntakeDefaults, NormalizeError, normalize_new_order, parse_strategy_parameters
from metaorder.orders.oms_fix import read_oms_message

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SYMBOLS = {"ACME": Decimal("100")}


def nos(extra: list[tuple[int, FieldValue]] = (), **override: FieldValue) -> Message:  # type: ignore[assignment]
    fields: dict[int, FieldValue] = {11: "C1", 55: "ACME", 54: "1", 60: "20231114-22:13:20", 38: "500", 40: "2",
                                     44: "100.25"}
    fields.update({int(k[1:]): v for k, v in override.items()})
    body = [(t, v) for t, v in fields.items() if v is not None] + list(extra)
    msg = decode(encode("FIX.4.4", "D", [(34, 2), (49, "OMS1"), (52, "20231114-22:13:20"), (56, "METAORDER")], body))
    assert isinstance(msg, Message)
    return msg


def request(msg: Message) -> NewOrderRequest:
    """``msg`` as the OMS adapter reads it for the intake, which hands it to normalization."""
    req = read_oms_message(msg)
    assert isinstance(req, NewOrderRequest), req
    return req


def norm(msg: Message, defaults: IntakeDefaults = IntakeDefaults()):  # type: ignore[no-untyped-def]
    return normalize_new_order(request(msg), "OMS1", NOW, "O1", 1, SYMBOLS, defaults)


def test_a_plain_limit_order_gets_the_default_mandate() -> None:
    order = norm(nos())
    assert (order.symbol, order.side, order.qty, order.ord_type, order.limit, order.tif) == (
        "ACME", Side.BUY, 500, OrderType.LIMIT, Decimal("100.25"), TimeInForce.DAY)
    assert (order.mandate.strategy, order.mandate.urgency) == (Strategy.TWAP, Urgency.MEDIUM)
    assert order.session == "OMS1" and order.arrival == NOW


def test_the_strategy_mandate_is_read_from_fix_44_algorithmic_tags() -> None:
    order = norm(nos([(847, "2"), (848, "Urgency=HIGH;Aggressiveness=PASSIVE"), (849, "0.15"),
                      (168, "20231114-22:30:00"), (126, "20231114-23:00:00")]))
    m = order.mandate
    assert (m.strategy, m.urgency, m.aggressiveness, m.participation_rate) == (
        Strategy.POV, Urgency.HIGH, Aggressiveness.PASSIVE, Decimal("0.15"))
    assert m.end_time is not None and m.start_time is not None and m.end_time - m.start_time == 1800


def test_sell_short_and_market_orders_are_understood() -> None:
    order = norm(nos(_54="5", _40="1", _44=None))
    assert order.side is Side.SELL_SHORT and order.ord_type is OrderType.MARKET and order.limit is None


@pytest.mark.parametrize(
    ("msg", "reason", "text"),
    [
        (nos(_55="NOPE"), 1, "unknown symbol 'NOPE'"),
        (nos(_38="0"), 13, "must be positive"),
        (nos(_38="-5"), 13, "must be positive"),
        (nos(_38="10.5"), 13, "whole number"),
        (nos(_44=None), 99, "needs a Price"),
        (nos(_44="-1"), 99, "must be positive"),
        (nos([(847, "7")]), 11, "TargetStrategy (847) '7'"),
        (nos([(848, "Urgency=NOW")]), 11, "Urgency must be"),
        (nos([(848, "Speed=HIGH")]), 11, "unknown key 'Speed'"),
        (nos([(848, "Urgency")]), 11, "not key=value"),
        (nos([(847, "2")]), 11, "needs a ParticipationRate"),
        (nos([(849, "1.5")]), 11, "fraction in (0, 1]"),
        (nos([(126, "20231114-22:00:00")]), 99, "ExpireTime (126) must be after"),
        (nos(_59="6"), 99, "GTD (59=6) needs an ExpireTime"),
    ],
    ids=["unknown symbol", "zero qty", "negative qty", "fractional qty", "limit without price", "negative price",
         "bad strategy", "bad urgency", "unknown param", "malformed param", "POV without rate", "rate above 1",
         "expired window", "GTD without expiry"],
)
def test_bad_orders_are_refused_with_a_reason_and_a_text_saying_what_is_wrong(
    msg: Message, reason: int, text: str
) -> None:
    with pytest.raises(NormalizeError) as info:
        norm(msg)
    assert info.value.reason == reason and text in info.value.text


def test_defaults_come_from_the_configuration() -> None:
    defaults = IntakeDefaults(Strategy.VWAP, Urgency.LOW, Aggressiveness.AGGRESSIVE, Decimal("0.1"))
    m = norm(nos(), defaults).mandate
    assert (m.strategy, m.urgency, m.aggressiveness, m.participation_rate) == (
        Strategy.VWAP, Urgency.LOW, Aggressiveness.AGGRESSIVE, Decimal("0.1"))


def test_strategy_parameters_parse_and_ignore_blank_pairs() -> None:
    assert parse_strategy_parameters("Urgency=LOW; ;Aggressiveness=NEUTRAL;") == {
        "Urgency": "LOW", "Aggressiveness": "NEUTRAL"}
