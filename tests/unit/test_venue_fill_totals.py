"""Each fill report carries CumQty, LeavesQty and AvgPx as of its own execution (FIX), even when one
incoming order sweeps several levels and all its fills are reported together."""

from __future__ import annotations

from decimal import Decimal

from metaorder.venues.venue import LitVenue
from tests.unit.venuesupport import ACME, LOTS, T0, new_order, reports


def test_a_sweep_reports_each_fill_with_the_cumulative_state_after_that_fill() -> None:
    v = LitVenue("ATLX", [ACME, LOTS])
    v.new_order("A", new_order("s1", "2", 100, "100.00"), T0)
    v.new_order("A", new_order("s2", "2", 200, "100.01"), T0)
    v.new_order("A", new_order("s3", "2", 300, "100.02"), T0)
    fills = [r for r in reports(v.new_order("B", new_order("b1", "1", 500, "100.02"), T0), "B") if r[150] == "F"]
    assert [(r[32], r[14], r[151], r[39]) for r in fills] == [
        ("100", "100", "400", "1"), ("200", "300", "200", "1"), ("200", "500", "0", "2")]
    assert [Decimal(r[6]) for r in fills] == [
        Decimal("100"), (Decimal("100.00") * 100 + Decimal("100.01") * 200) / 300,
        (Decimal("100.00") * 100 + Decimal("100.01") * 200 + Decimal("100.02") * 200) / 500]
