"""The acknowledgement's Text: what an accepted order will do, in one line (orders/describe.py)."""

from __future__ import annotations

import calendar
from decimal import Decimal

from metaorder.orders.describe import Describer, describe_order
from metaorder.orders.model import ClientOrder, Mandate, OrderType, Side, Strategy, TimeInForce, Urgency

ARRIVAL = calendar.timegm((2026, 12, 7, 14, 0, 0))  # 14:00:00 UTC


def close_at_1600(anchor: float) -> float:
    return anchor - anchor % 86_400 + 16 * 3600


def order(mandate: Mandate, tif: TimeInForce = TimeInForce.DAY) -> ClientOrder:
    return ClientOrder("O1", "OMS1", "A1", "ACME", Side.BUY, 100, OrderType.MARKET, None, tif, mandate, ARRIVAL, 1)


def test_a_vwap_order_with_a_window_and_a_participation_cap() -> None:
    m = Mandate(Strategy.VWAP, end_time=ARRIVAL + 7200, participation_rate=Decimal("0.1"))
    assert describe_order(order(m), close_at_1600) == "VWAP 14:00-16:00 UTC, participation <= 10%, urgency MEDIUM"


def test_without_expire_time_a_day_order_ends_with_its_trading_day_and_a_gtc_order_never() -> None:
    assert describe_order(order(Mandate()), close_at_1600) == "TWAP 14:00-16:00 UTC, urgency MEDIUM"
    assert describe_order(order(Mandate(), TimeInForce.GTC), close_at_1600) == (
        "TWAP from 14:00 until canceled UTC, urgency MEDIUM")


def test_a_later_effective_time_starts_the_window_and_seconds_show_when_they_matter() -> None:
    m = Mandate(Strategy.IS, Urgency.HIGH, start_time=ARRIVAL + 90.5, end_time=ARRIVAL + 3600)
    assert describe_order(order(m), close_at_1600) == "IS (Almgren-Chriss) 14:01:30-15:00 UTC, urgency HIGH"


def test_strategy_parameters_are_said_as_the_client_gave_them() -> None:
    m = Mandate(Strategy.POV, participation_rate=Decimal("0.125"), params="MaxPOV=0.2;MinPOV=0.05")
    assert describe_order(order(m), close_at_1600) == (
        "POV 14:00-16:00 UTC, participation 12.5% (min 5%, max 20%), urgency MEDIUM")
    m = Mandate(Strategy.IS, params="RiskAversion=0.000002")
    assert describe_order(order(m), close_at_1600).endswith("urgency MEDIUM, risk aversion 0.000002/$")
    m = Mandate(Strategy.TWAP, Urgency.LOW, params="Routing=SEEK")
    assert describe_order(order(m), close_at_1600) == "TWAP 14:00-16:00 UTC, urgency LOW, routing SEEK"


def test_the_intakes_describer_answers_a_burst_from_its_last_text_and_nothing_else() -> None:
    describer = Describer(close_at_1600)
    shared = Mandate()
    first = order(shared)
    assert describer(first) == describe_order(first, close_at_1600)
    same_second = ClientOrder("O2", "OMS1", "A2", "GLOBX", Side.SELL, 5, OrderType.MARKET, None, TimeInForce.DAY,
                              shared, ARRIVAL + 0.5, 2)
    assert describer(same_second) == "TWAP 14:00-16:00 UTC, urgency MEDIUM"
    later = ClientOrder("O3", "OMS1", "A3", "ACME", Side.BUY, 5, OrderType.MARKET, None, TimeInForce.DAY,
                        shared, ARRIVAL + 61, 3)
    assert describer(later) == "TWAP 14:01:01-16:00 UTC, urgency MEDIUM"
    gtc = order(shared, TimeInForce.GTC)
    assert describer(gtc) == describe_order(gtc, close_at_1600)
    vwap = order(Mandate(Strategy.VWAP))
    assert describer(vwap).startswith("VWAP 14:00-16:00")


def test_algo_orders_with_equal_mandates_share_a_text_and_a_full_table_starts_over() -> None:
    describer = Describer(close_at_1600)
    a = order(Mandate(Strategy.VWAP, participation_rate=Decimal("0.1")))
    b = order(Mandate(Strategy.VWAP, participation_rate=Decimal("0.1")))  # equal, another object
    assert a.mandate is not b.mandate
    assert describer(a) is describer(b)
    for n in range(Describer.MAX_ENTRIES + 5):
        other = ClientOrder("O9", "OMS1", "A9", "ACME", Side.BUY, 1, OrderType.MARKET, None, TimeInForce.DAY,
                            Mandate(Strategy.TWAP), ARRIVAL + n, 9)
        assert describer(other) == describe_order(other, close_at_1600)


def test_the_ack_ends_with_the_arrival_mid_when_the_market_has_one_and_says_nothing_without() -> None:
    mids: dict[str, Decimal] = {}
    describer = Describer(close_at_1600, arrival_mid=lambda o: mids.get(o.symbol))
    assert describer(order(Mandate())) == "TWAP 14:00-16:00 UTC, urgency MEDIUM"  # no quote yet: no benchmark claimed
    mids["ACME"] = Decimal("142.505")
    assert describer(order(Mandate())) == "TWAP 14:00-16:00 UTC, urgency MEDIUM, arrival mid 142.505"
