"""Dark pool order entry: midpoint fills reported exactly, hidden orders, contra interest."""

from __future__ import annotations

import random
from decimal import Decimal

from metaorder.venues.dark import DarkPool
from metaorder.venues.venue import DarkVenue, Rules
from tests.unit.venuesupport import ACME, T0, body, cancel, new_order, reports


def dark(bid: int | None = 9900, ask: int | None = 10000, rate: float = 0.0, **kw: object) -> DarkVenue:
    pools = {"ACME": DarkPool("ACME", random.Random(1), rate, 300, 0.5, T0)}
    venue = DarkVenue("UMBRA", [ACME], pools, **kw)  # type: ignore[arg-type]
    venue.quotes = lambda symbol: (bid, ask)
    return venue


def test_a_resting_order_is_acknowledged_and_crossed_at_the_lit_midpoint() -> None:
    v = dark()
    [ack] = v.new_order("A", new_order("b1", "1", 500, "100.00"), T0)
    assert (body(ack)[150], body(ack)[39]) == ("0", "0")
    out = v.new_order("B", new_order("s1", "2", 200, "99.00", tif="3"), T0)
    maker = next(r for r in reports(out, "A") if r[150] == "F")
    taker = next(r for r in reports(out, "B") if r[150] == "F")
    assert (maker[31], maker[32], maker[30], maker[851]) == ("99.5", "200", "UMBRA", "1")
    assert (taker[31], taker[39], taker[6]) == ("99.5", "2", "99.5")
    assert (maker[14], maker[151], maker[39]) == ("200", "300", "1")


def test_an_odd_spread_gives_an_exact_half_tick_price() -> None:
    v = dark(9900, 9901)
    v.new_order("A", new_order("b1", "1", 100, "99.01"), T0)
    out = v.new_order("B", new_order("s1", "2", 100, "99.00"), T0)
    fill = next(r for r in reports(out, "B") if r[150] == "F")
    assert Decimal(fill[31]) == Decimal("99.005") and Decimal(fill[6]) == Decimal("99.005")


def test_limits_are_respected_and_nothing_trades_without_a_two_sided_quote() -> None:
    v = dark()
    v.new_order("A", new_order("b1", "1", 100, "99.40"), T0)  # below the 99.50 mid: no fill
    out = v.new_order("B", new_order("s1", "2", 100, "99.00"), T0)
    assert not [r for r in reports(out) if r[150] == "F"]
    one_sided = dark(9900, None)
    one_sided.new_order("A", new_order("b1", "1", 100, "100.00"), T0)
    out = one_sided.new_order("B", new_order("s1", "2", 100, "99.00", tif="3"), T0)
    assert [r[150] for r in reports(out, "B")] == ["0", "4"]


def test_contra_interest_fills_resting_orders_over_time() -> None:
    v = dark(rate=5.0)
    v.new_order("A", new_order("b1", "1", 5000, "100.00"), T0)
    filled = 0
    now = T0
    for _ in range(200):
        due = v.next_event_time()
        assert due is not None and due >= now
        now = due
        filled += sum(int(r[32]) for r in reports(v.on_time(now)) if r[150] == "F")
        if filled >= 5000:
            break
    assert 0 < filled <= 5000


def test_a_dark_order_can_be_cancelled_and_min_size_rules_apply() -> None:
    v = dark(rules=Rules(min_order_qty=1000))
    [rej] = v.new_order("A", new_order("small", "1", 100, "100.00"), T0)
    assert body(rej)[39] == "8" and "below the minimum 1000" in body(rej)[58]
    v.new_order("A", new_order("big", "1", 1000, "100.00"), T0)
    [out] = v.cancel("A", cancel("c", "big"), T0)
    assert (body(out)[150], body(out)[39]) == ("4", "4")
    assert v.pools["ACME"].resting() == []
