"""Client orders must be whole lots of their instrument: venues take nothing else."""

from __future__ import annotations

from decimal import Decimal

import pytest

from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.normalize import IntakeDefaults, NormalizeError
from metaorder.orders.risk import RiskEngine, RiskLimits
from tests.unit.test_intake import T0, ers, fix, nos
from tests.unit.test_normalize import norm
from tests.unit.test_normalize import nos as nos_norm

LOTS = IntakeDefaults(lot_sizes={"ACME": 100})


def test_an_order_that_is_not_a_whole_number_of_lots_is_refused_naming_the_lot() -> None:
    with pytest.raises(NormalizeError) as err:
        norm(nos_norm(_38="150"), LOTS)
    assert err.value.reason == 13 and "lots of 100" in err.value.text


def test_whole_lots_are_accepted() -> None:
    assert norm(nos_norm(_38="300"), LOTS).qty == 300


def test_a_replace_to_an_odd_lot_is_refused_and_the_order_is_unchanged() -> None:
    refs = {"ACME": Decimal("100.00")}
    intake = Intake(refs, RiskEngine(RiskLimits(), {}, refs.get), MemoryJournal(), ParentBook(refs.get), LOTS)
    intake.start(T0)
    [ack] = ers(intake.on_message("OMS1", nos("A", "1", 200, "99.00"), T0))
    assert ack[150] == "0"
    [reject] = intake.on_message("OMS1", fix("G", [(41, "A"), (11, "A2"), (55, "ACME"), (54, "1"),
                                                   (60, "20231114-22:13:20"), (38, 250), (40, "2"), (44, "99.00")]), T0)
    assert reject.msg_type == "9" and "lots of 100" in dict(reject.body)[58]  # type: ignore[operator]
    order = intake.book.order("O1")
    assert order is not None and order.qty == 200
