"""An order without ExpireTime (126) is worked until the end of its trading day, not a fixed few minutes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaorder.execution.engine import ExecutionSettings
from metaorder.execution.tradingday import DAY_S, end_of_day, next_time_of_day

MIDNIGHT = 1_767_225_600.0  # 2026-01-01 00:00 UTC
H = 3600


def test_without_a_close_the_window_ends_at_the_next_trading_day_start() -> None:
    assert end_of_day(MIDNIGHT + 9 * H, 0) == MIDNIGHT + DAY_S
    assert end_of_day(MIDNIGHT + 9 * H, 22 * H) == MIDNIGHT + 22 * H
    assert end_of_day(MIDNIGHT + 23 * H, 22 * H) == MIDNIGHT + DAY_S + 22 * H  # already the next trading day


def test_with_a_close_the_window_ends_at_todays_close_or_after_it_at_the_next_days() -> None:
    close = 20 * H
    assert end_of_day(MIDNIGHT + 9 * H, 0, close) == MIDNIGHT + close
    assert end_of_day(MIDNIGHT + 21 * H, 0, close) == MIDNIGHT + DAY_S + close  # after the close: next session
    assert end_of_day(MIDNIGHT + close, 0, close) == MIDNIGHT + DAY_S + close  # at the close: not an empty window


def test_a_time_of_day_outside_the_day_is_refused() -> None:
    with pytest.raises(ValueError, match="time of day"):
        next_time_of_day(MIDNIGHT, DAY_S)


@given(a=st.floats(0, 2 * DAY_S), b=st.floats(0, 2 * DAY_S), start=st.integers(0, DAY_S - 1),
       close=st.none() | st.integers(0, DAY_S - 1))
def test_the_end_is_within_a_day_after_the_arrival_and_never_earlier_for_a_later_arrival(
    a: float, b: float, start: int, close: int | None
) -> None:
    """Monotone: ParentOrder.window keeps only the earliest and latest arrival and relies on it."""
    early, late = sorted((MIDNIGHT + a, MIDNIGHT + b))
    assert early < end_of_day(early, start, close) <= early + DAY_S
    assert end_of_day(early, start, close) <= end_of_day(late, start, close)


def test_the_engine_settings_compute_the_default_end_from_the_arrival() -> None:
    settings = ExecutionSettings(trading_day_start_s=22 * H, market_close_s=20 * H)
    assert settings.default_end(MIDNIGHT + 10 * H) == MIDNIGHT + 20 * H
    assert ExecutionSettings().default_end(MIDNIGHT + 10 * H) == MIDNIGHT + DAY_S


def test_a_simulated_order_without_expire_time_is_scheduled_over_the_rest_of_the_day() -> None:
    from tests.unit.test_simulated_pipeline import simulation

    sim = simulation()
    now = sim.clock.now()  # 09:05 UTC
    sim.submit("OMS1", "D", [(11, "DAY1"), (55, "ACME"), (54, "1"), (60, "20260101-09:00:05"), (38, 5000),
                             (40, "1"), (59, "0"), (847, 1000)])
    sim.run_until(now + 1)
    [parent] = list(sim.intake.book.parents())
    assert parent.window(sim.engine.settings.default_end)[1:] == (MIDNIGHT + DAY_S, MIDNIGHT + DAY_S)
    strategy = sim.engine._worked[parent.parent_id].strategy
    schedule: tuple[float, ...] = strategy.schedule  # type: ignore[union-attr]
    assert len(schedule) == 100  # ~15 h at the default TWAP settings: max_slices, each ~9 minutes
    assert schedule[-1] > MIDNIGHT + 23 * H


def test_an_order_ends_at_its_expire_time_else_a_day_order_with_its_day_and_a_gtc_order_never() -> None:
    from decimal import Decimal

    from metaorder.orders.model import ClientOrder, Mandate, OrderType, Side, TimeInForce, end_of

    settings = ExecutionSettings(market_close_s=20 * H)
    arrival = MIDNIGHT + 10 * H

    def make(tif: TimeInForce, expire: float | None = None) -> ClientOrder:
        return ClientOrder("O1", "OMS1", "C1", "ACME", Side.BUY, 100, OrderType.LIMIT, Decimal("10"), tif,
                           Mandate(end_time=expire), arrival, 1)

    assert end_of(make(TimeInForce.DAY), settings.default_end) == MIDNIGHT + 20 * H
    assert end_of(make(TimeInForce.IOC), settings.default_end) == MIDNIGHT + 20 * H  # worked like a DAY order
    assert end_of(make(TimeInForce.GTC), settings.default_end) is None  # good till canceled
    assert end_of(make(TimeInForce.GTC, MIDNIGHT + 11 * H), settings.default_end) == MIDNIGHT + 11 * H
    assert end_of(make(TimeInForce.GTD, MIDNIGHT + 30 * H), settings.default_end) == MIDNIGHT + 30 * H


def test_a_day_order_sent_after_the_close_to_start_at_the_next_open_is_worked_until_that_days_close() -> None:
    """Judged from its arrival (15:00, before a 16:00 close), its day would end before its window began
    (tomorrow 09:30) and the whole order would go at once at the open; its EffectiveTime says which
    day it is for."""
    from decimal import Decimal

    from metaorder.orders.model import (
        ClientOrder,
        Mandate,
        OrderType,
        ParentKey,
        ParentOrder,
        Side,
        Strategy,
        TimeInForce,
        Urgency,
        end_of,
    )

    settings = ExecutionSettings(market_close_s=16 * H)
    arrival, tomorrow_open = MIDNIGHT + 15 * H, MIDNIGHT + DAY_S + 9.5 * H
    order = ClientOrder("O1", "OMS1", "C1", "ACME", Side.BUY, 100, OrderType.LIMIT, Decimal("10"), TimeInForce.DAY,
                        Mandate(start_time=tomorrow_open), arrival, 1)
    assert end_of(order, settings.default_end) == MIDNIGHT + DAY_S + 16 * H
    parent = ParentOrder("P1", ParentKey("ACME", 1, Strategy.TWAP, Urgency.MEDIUM, Decimal("10")), arrival, [order])
    assert parent.window(settings.default_end) == (tomorrow_open, MIDNIGHT + DAY_S + 16 * H,
                                                   MIDNIGHT + DAY_S + 16 * H)
    assert parent.earliest_end(settings.default_end) == MIDNIGHT + DAY_S + 16 * H
