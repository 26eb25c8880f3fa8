"""Lots and client orders: clients send any whole number of shares; allocation is in whole lots.

Odd lots are the typical small order (brokers take any whole number of shares), so a client order is
never refused for its lot.  Lots shape what happens behind it: a venue fill is allocated to the
parent's orders in whole lots, except an order's completing odd tail and at most one residue per
fill (the lot rule of orders/allocation.py); child orders at venues are whole lots except a
parent's odd remainder at a venue that accepts odd lots (tests/unit/test_router.py).
"""

from __future__ import annotations

import random
from decimal import Decimal

from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.normalize import IntakeDefaults
from metaorder.orders.oms_fix import render
from metaorder.orders.risk import RiskEngine, RiskLimits
from tests.unit.test_intake import T0, ers, fix, nos
from tests.unit.test_normalize import norm
from tests.unit.test_normalize import nos as nos_norm

LOTS = IntakeDefaults(lot_sizes={"ACME": 100})
REFS = {"ACME": Decimal("100.00")}


def lot_intake() -> Intake:
    intake = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), MemoryJournal(), ParentBook(REFS.get), LOTS)
    intake.start(T0)
    return intake


def test_an_odd_lot_order_is_accepted() -> None:
    assert norm(nos_norm(_38="37"), LOTS).qty == 37
    assert norm(nos_norm(_38="150"), LOTS).qty == 150  # a mixed lot, too
    assert norm(nos_norm(_38="300"), LOTS).qty == 300


def test_a_replace_to_an_odd_lot_is_accepted_and_a_fractional_quantity_refused() -> None:
    intake = lot_intake()
    [ack] = ers(intake.on_message("OMS1", nos("A", "1", 200, "99.00"), T0))
    assert ack[150] == "0"
    [replaced] = ers(intake.on_message("OMS1", fix("G", [(41, "A"), (11, "A2"), (55, "ACME"), (54, "1"),
                                                         (60, "20231114-22:13:20"), (38, 250), (40, "2"),
                                                         (44, "99.00")]), T0))
    assert (replaced[150], replaced[38]) == ("5", "250")
    [reject] = intake.on_message("OMS1", fix("G", [(41, "A2"), (11, "A3"), (55, "ACME"), (54, "1"),
                                                   (60, "20231114-22:13:20"), (38, "250.5"), (40, "2"),
                                                   (44, "99.00")]), T0)
    assert render(reject.report)[0] == "9" and "whole number of shares" in dict(render(reject.report)[1])[58]  # type: ignore[operator]
    order = intake.book.order("O1")
    assert order is not None and order.qty == 250


def test_venue_fills_are_allocated_in_whole_lots_except_completing_tails_and_odd_prints() -> None:
    intake = lot_intake()
    for n, qty in enumerate((37, 150, 230, 64, 19)):
        intake.on_message("OMS1", nos(f"A{n}", "1", qty, "101.00"), T0)
    [parent] = list(intake.book.parents())
    rng = random.Random(5)
    while parent.wanted_qty:
        odd_print = rng.random() < 0.2
        qty = min(parent.wanted_qty, rng.randrange(1, 99) if odd_print else 100 * rng.randrange(1, 3))
        wanted = {o.order_id: o.leaves_qty for o in parent.children}
        fills = ers(intake.on_parent_fill(parent.parent_id, qty, Decimal("100.25"), "ATLX", T0))
        assert sum(int(f[32]) for f in fills) == qty  # exact and conserved
        # Neither whole lots nor completing its order: at most one per fill, the residue of an odd
        # print or of the completing tails handed out before it.
        residue = [f for f in fills if int(f[32]) % 100 and f[151] != "0"]
        assert len(residue) <= 1
        for f in fills:
            assert int(f[32]) <= wanted[f[37]]
    assert all(o.cum_qty == o.qty for o in intake._orders.values())
