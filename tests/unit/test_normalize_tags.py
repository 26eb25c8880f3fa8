"""Tag by tag: what normalization reads from a NewOrderSingle, and where each value lands.

Every tag :func:`normalize_new_order` reads — ClOrdID 11, Account 1, Symbol 55, Side 54, OrderQty 38,
OrdType 40, Price 44, TimeInForce 59, TargetStrategy 847, TargetStrategyParameters 848,
ParticipationRate 849, EffectiveTime 168, ExpireTime 126 — with its edge values: present, 0, empty
and absent.  A one-line slip (a field dropped, a zero let through, an empty value read as a value)
changes one of these outcomes.  Empty values are not valid FIX (the session's dictionary refuses
them), but normalization is called on decoded messages and must not depend on that.

Quantities here are whole numbers of a lot size of 1: the lot rule is pinned elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from metaorder.fix.codec import FieldValue, Message, decode, encode
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
from metaorder.orders.normalize import IntakeDefaults, NormalizeError, normalize_new_order
from metaorder.orders.oms_fix import read_oms_message

NOW = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
SYMBOLS = {"ACME": Decimal("100"), "ZETA": Decimal("20")}
DEFAULTS = IntakeDefaults(Strategy.VWAP, Urgency.LOW, Aggressiveness.AGGRESSIVE, Decimal("0.05"))
ABSENT = None

#: A plain limit order; a test overrides single tags (``ABSENT`` removes one).
BASE: dict[int, FieldValue] = {11: "C1", 55: "ACME", 54: "1", 60: "20231114-22:13:20", 38: "500", 40: "2",
                               44: "100.25"}


def nos(fields: dict[int, FieldValue | None]) -> Message:
    merged: dict[int, FieldValue | None] = {**BASE, **fields}
    body = [(tag, value) for tag, value in merged.items() if value is not None]
    msg = decode(encode("FIX.4.4", "D", [(34, 2), (49, "OMS1"), (52, "20231114-22:13:20"), (56, "METAORDER")], body))
    assert isinstance(msg, Message)
    return msg


def request(msg: Message) -> NewOrderRequest:
    """``msg`` as the OMS adapter reads it for the intake, which hands it to normalization."""
    req = read_oms_message(msg)
    assert isinstance(req, NewOrderRequest), req
    return req


def norm(fields: dict[int, FieldValue | None]) -> ClientOrder:
    return normalize_new_order(request(nos(fields)), "OMS1", NOW, "O7", 42, SYMBOLS, DEFAULTS)


def test_every_tag_read_lands_in_its_own_field() -> None:
    order = norm({1: "ACC-9", 55: "ZETA", 54: "5", 38: "1200", 40: "2", 44: "19.875", 59: "6", 847: "2",
                  848: "Urgency=HIGH;Aggressiveness=PASSIVE", 849: "0.25", 168: "20231114-22:30:00",
                  126: "20231114-23:00:00"})
    assert (order.order_id, order.session, order.arrival, order.arrival_seq) == ("O7", "OMS1", NOW, 42)
    assert (order.cl_ord_id, order.account, order.symbol, order.side, order.qty, order.ord_type, order.tif) == (
        "C1", "ACC-9", "ZETA", Side.SELL_SHORT, 1200, OrderType.LIMIT, TimeInForce.GTD)
    assert order.limit is not None and str(order.limit) == "19.875"  # exactly as sent
    assert order.mandate == Mandate(Strategy.POV, Urgency.HIGH, Aggressiveness.PASSIVE, NOW + 1000, NOW + 2800,
                                    Decimal("0.25"))
    assert (order.cum_qty, order.notional, order.canceled, order.expired, order.parent_id, order.orig_cl_ord_id) == (
        0, Decimal(0), False, False, None, None)


Read = Callable[[ClientOrder], Any]


def _limit(o: ClientOrder) -> str | None:
    return None if o.limit is None else str(o.limit)


ACCEPTED: list[tuple[str, dict[int, FieldValue | None], Read, Any]] = [
    ("11 present", {11: "ORD-1"}, lambda o: o.cl_ord_id, "ORD-1"),
    ("11 zero is an id", {11: "0"}, lambda o: o.cl_ord_id, "0"),
    ("1 present", {1: "ACC1"}, lambda o: o.account, "ACC1"),
    ("1 zero is an account", {1: "0"}, lambda o: o.account, "0"),
    ("1 empty", {1: ""}, lambda o: o.account, None),
    ("1 absent", {1: ABSENT}, lambda o: o.account, None),
    ("55 present", {55: "ZETA"}, lambda o: o.symbol, "ZETA"),
    ("54 buy", {54: "1"}, lambda o: o.side, Side.BUY),
    ("54 sell", {54: "2"}, lambda o: o.side, Side.SELL),
    ("54 sell short", {54: "5"}, lambda o: o.side, Side.SELL_SHORT),
    ("38 whole", {38: "1"}, lambda o: o.qty, 1),
    ("38 with zero decimals", {38: "700.00"}, lambda o: o.qty, 700),
    ("38 exponent", {38: "1E+3"}, lambda o: o.qty, 1000),
    ("40 market", {40: "1", 44: ABSENT}, lambda o: (o.ord_type, o.limit), (OrderType.MARKET, None)),
    ("40 market ignores 44", {40: "1", 44: "99.5"}, lambda o: (o.ord_type, o.limit), (OrderType.MARKET, None)),
    ("40 market ignores 44 zero", {40: "1", 44: "0"}, lambda o: o.limit, None),
    ("40 limit", {40: "2"}, lambda o: o.ord_type, OrderType.LIMIT),
    ("44 exact", {44: "100.2500"}, _limit, "100.2500"),
    ("44 tiny", {44: "0.0001"}, _limit, "0.0001"),
    ("59 absent is day", {59: ABSENT}, lambda o: o.tif, TimeInForce.DAY),
    ("59 empty is day", {59: ""}, lambda o: o.tif, TimeInForce.DAY),
    ("59 day", {59: "0"}, lambda o: o.tif, TimeInForce.DAY),
    ("59 gtc", {59: "1"}, lambda o: o.tif, TimeInForce.GTC),
    ("59 ioc", {59: "3"}, lambda o: o.tif, TimeInForce.IOC),
    ("59 fok", {59: "4"}, lambda o: o.tif, TimeInForce.FOK),
    ("59 gtd", {59: "6", 126: "20231114-23:00:00"}, lambda o: (o.tif, o.mandate.end_time),
     (TimeInForce.GTD, NOW + 2800)),
    ("847 absent", {847: ABSENT}, lambda o: o.mandate.strategy, Strategy.VWAP),
    ("847 vwap", {847: "1"}, lambda o: o.mandate.strategy, Strategy.VWAP),
    ("847 pov", {847: "2", 849: "0.1"}, lambda o: o.mandate.strategy, Strategy.POV),
    ("847 twap", {847: "1000"}, lambda o: o.mandate.strategy, Strategy.TWAP),
    ("847 is", {847: "1001"}, lambda o: o.mandate.strategy, Strategy.IS),
    ("848 absent", {848: ABSENT}, lambda o: (o.mandate.urgency, o.mandate.aggressiveness),
     (Urgency.LOW, Aggressiveness.AGGRESSIVE)),
    ("848 empty", {848: ""}, lambda o: (o.mandate.urgency, o.mandate.aggressiveness),
     (Urgency.LOW, Aggressiveness.AGGRESSIVE)),
    ("848 urgency only", {848: "Urgency=high"}, lambda o: (o.mandate.urgency, o.mandate.aggressiveness),
     (Urgency.HIGH, Aggressiveness.AGGRESSIVE)),
    ("848 aggressiveness only", {848: "Aggressiveness=NEUTRAL"},
     lambda o: (o.mandate.urgency, o.mandate.aggressiveness), (Urgency.LOW, Aggressiveness.NEUTRAL)),
    ("849 present", {849: "0.15"}, lambda o: o.mandate.participation_rate, Decimal("0.15")),
    ("849 one", {849: "1"}, lambda o: o.mandate.participation_rate, Decimal("1")),
    ("849 empty is the default", {849: ""}, lambda o: o.mandate.participation_rate, Decimal("0.05")),
    ("849 absent is the default", {849: ABSENT}, lambda o: o.mandate.participation_rate, Decimal("0.05")),
    ("168 present", {168: "20231114-22:30:00"}, lambda o: o.mandate.start_time, NOW + 1000),
    ("168 in the past", {168: "20231114-22:00:00"}, lambda o: o.mandate.start_time, NOW - 800),
    ("168 empty", {168: ""}, lambda o: o.mandate.start_time, None),
    ("168 absent", {168: ABSENT}, lambda o: o.mandate.start_time, None),
    ("126 present", {126: "20231114-22:13:21"}, lambda o: o.mandate.end_time, NOW + 1),
    ("126 after 168", {168: "20231114-22:30:00", 126: "20231114-22:30:00.001"}, lambda o: o.mandate.end_time,
     NOW + 1000.001),
    ("126 empty", {126: ""}, lambda o: o.mandate.end_time, None),
    ("126 absent", {126: ABSENT}, lambda o: o.mandate.end_time, None),
]


@pytest.mark.parametrize(("fields", "read", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_each_tag_value_is_read_into_its_field(fields: dict[int, FieldValue | None], read: Read,
                                               expected: Any) -> None:
    assert read(norm(fields)) == expected


REFUSED: list[tuple[str, dict[int, FieldValue | None], int, str]] = [
    ("11 empty", {11: ""}, 99, "ClOrdID (11) is required"),
    ("11 absent", {11: ABSENT}, 99, "ClOrdID (11) is required"),
    ("55 unknown", {55: "NOPE"}, 1, "unknown symbol 'NOPE'"),
    ("55 zero", {55: "0"}, 1, "unknown symbol '0'"),
    ("55 empty", {55: ""}, 1, "unknown symbol ''"),
    ("55 absent", {55: ABSENT}, 1, "unknown symbol ''"),
    ("54 zero", {54: "0"}, 11, "Side (54) '0' is not supported"),
    ("54 sell plus", {54: "3"}, 11, "Side (54) '3' is not supported"),
    ("54 sell short exempt", {54: "6"}, 11, "Side (54) '6' is not supported"),
    ("54 empty", {54: ""}, 11, "Side (54) '' is not supported"),
    ("54 absent", {54: ABSENT}, 11, "Side (54) None is not supported"),
    ("38 zero", {38: "0"}, 13, "OrderQty (38) 0 must be positive"),
    ("38 zero decimals", {38: "0.000"}, 13, "must be positive"),
    ("38 negative", {38: "-100"}, 13, "OrderQty (38) -100 must be positive"),
    ("38 fractional", {38: "100.5"}, 13, "OrderQty (38) 100.5 is not a whole number of shares"),
    ("38 empty", {38: ""}, 13, "OrderQty (38) is required"),
    ("38 absent", {38: ABSENT}, 13, "OrderQty (38) is required"),
    ("38 not a number", {38: "ten"}, 99, "OrderQty (38) 'ten' is not a number"),
    ("38 infinite", {38: "Infinity"}, 99, "OrderQty (38) 'Infinity' is not a number"),
    ("38 nan", {38: "NaN"}, 99, "OrderQty (38) 'NaN' is not a number"),
    ("40 zero", {40: "0"}, 11, "OrdType (40) '0' is not supported"),
    ("40 stop", {40: "3"}, 11, "OrdType (40) '3' is not supported"),
    ("40 empty", {40: ""}, 11, "OrdType (40) '' is not supported"),
    ("40 absent", {40: ABSENT}, 11, "OrdType (40) None is not supported"),
    ("44 zero", {44: "0"}, 99, "Price (44) 0 must be positive"),
    ("44 zero decimals", {44: "0.00"}, 99, "Price (44) 0.00 must be positive"),
    ("44 negative", {44: "-1.5"}, 99, "Price (44) -1.5 must be positive"),
    ("44 empty", {44: ""}, 99, "a limit order (40=2) needs a Price (44)"),
    ("44 absent", {44: ABSENT}, 99, "a limit order (40=2) needs a Price (44)"),
    ("44 not a number", {44: "1O0"}, 99, "Price (44) '1O0' is not a number"),
    ("44 infinite", {44: "Infinity"}, 99, "Price (44) 'Infinity' is not a number"),
    ("59 opg", {59: "2"}, 11, "TimeInForce (59) '2' is not supported"),
    ("59 gtx", {59: "5"}, 11, "TimeInForce (59) '5' is not supported"),
    ("59 gtd without 126", {59: "6"}, 99, "TimeInForce GTD (59=6) needs an ExpireTime (126)"),
    ("847 zero", {847: "0"}, 11, "TargetStrategy (847) '0' is not supported"),
    ("847 empty", {847: ""}, 11, "TargetStrategy (847) '' is not supported"),
    ("848 unknown key", {848: "Speed=HIGH"}, 11, "unknown key 'Speed'"),
    ("848 no value", {848: "Urgency="}, 11, "'Urgency=' is not key=value"),
    ("848 no key", {848: "=HIGH"}, 11, "'=HIGH' is not key=value"),
    ("848 bad urgency", {848: "Urgency=NOW"}, 11, "Urgency must be LOW|MEDIUM|HIGH"),
    ("848 bad aggressiveness", {848: "Aggressiveness=0"}, 11, "Aggressiveness PASSIVE|NEUTRAL|AGGRESSIVE"),
    ("849 zero", {849: "0"}, 11, "ParticipationRate (849) 0 must be a fraction in (0, 1]"),
    ("849 negative", {849: "-0.1"}, 11, "ParticipationRate (849) -0.1 must be a fraction in (0, 1]"),
    ("849 above one", {849: "1.01"}, 11, "ParticipationRate (849) 1.01 must be a fraction in (0, 1]"),
    ("849 a percentage", {849: "15"}, 11, "ParticipationRate (849) 15 must be a fraction in (0, 1]"),
    ("849 not a number", {849: "x"}, 99, "ParticipationRate (849) 'x' is not a number"),
    ("168 zero", {168: "0"}, 99, "EffectiveTime (168) '0' is not a UTC timestamp"),
    ("168 not a time", {168: "tomorrow"}, 99, "EffectiveTime (168) 'tomorrow' is not a UTC timestamp"),
    ("126 zero", {126: "0"}, 99, "ExpireTime (126) '0' is not a UTC timestamp"),
    ("126 now", {126: "20231114-22:13:20"}, 99, "ExpireTime (126) must be after EffectiveTime (168) and after now"),
    ("126 past", {126: "20231114-22:00:00"}, 99, "ExpireTime (126) must be after"),
    ("126 at 168", {168: "20231114-22:30:00", 126: "20231114-22:30:00"}, 99, "ExpireTime (126) must be after"),
    ("126 before 168", {168: "20231114-22:30:00", 126: "20231114-22:20:00"}, 99, "ExpireTime (126) must be after"),
]


@pytest.mark.parametrize(("fields", "reason", "text"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_each_bad_tag_value_is_refused_with_its_reason_and_a_text_naming_the_tag(
    fields: dict[int, FieldValue | None], reason: int, text: str
) -> None:
    with pytest.raises(NormalizeError) as info:
        norm(fields)
    assert info.value.reason == reason, info.value.text
    assert text in info.value.text


@pytest.mark.parametrize("rate", ["", ABSENT], ids=["849 empty", "849 absent"])
def test_a_pov_order_without_849_takes_the_configured_rate_and_is_refused_without_one(rate: str | None) -> None:
    msg = nos({847: "2", 849: rate})
    assert normalize_new_order(request(msg), "OMS1", NOW, "O7", 42, SYMBOLS, DEFAULTS).mandate.participation_rate == (
        Decimal("0.05"))
    with pytest.raises(NormalizeError) as info:
        normalize_new_order(request(msg), "OMS1", NOW, "O7", 42, SYMBOLS, IntakeDefaults())
    assert info.value.reason == 11 and "a POV order (847=2) needs a ParticipationRate (849)" in info.value.text
