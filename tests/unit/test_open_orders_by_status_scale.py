"""The open-order counts by status read from the parents' running counts (O(parents) per scrape)
equal a walk over every open order, through new orders, crosses, fills, cancels and replaces."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.metrics.state import open_orders_by_status
from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.model import ClientOrder, ParentOrder
from metaorder.orders.risk import RiskEngine, RiskLimits

T0 = 1_700_000_000.0
REFS = {"ACME": Decimal("100.00"), "GLOBX": Decimal("50.00")}
LIMITS = {"ACME": ["99.00", "100.00", "101.00"], "GLOBX": ["49.50", "50.00", "50.50"]}


def _intake() -> Intake:
    risk = RiskEngine(RiskLimits(), {}, REFS.get)
    intake = Intake(REFS, risk, MemoryJournal(), ParentBook(REFS.get))  # crosses at the reference mid
    intake.recover()
    intake.start(T0)
    return intake


def _fix(msg_type: str, body: list[tuple[int, FieldValue]]) -> Message:
    msg = decode(encode("FIX.4.4", msg_type, [(34, 2), (49, "X"), (52, "20231114-22:13:20"), (56, "ME")], body))
    assert isinstance(msg, Message)
    return msg


def _walk(parents: list[ParentOrder]) -> dict[str, int]:
    """What the snapshot computed before: every open order's status, one by one."""
    counts: dict[str, int] = {}
    for parent in parents:
        for order in parent.children:
            status = order.status.name.lower()
            counts[status] = counts.get(status, 0) + 1
    return counts


def _open_orders(intake: Intake, ids: list[str]) -> list[ClientOrder]:
    return [o for o in (intake.book.order(i) for i in ids) if o is not None]


def _step(rng: random.Random, intake: Intake, ids: list[str], n: int, now: float) -> None:
    open_orders = _open_orders(intake, ids)
    action = rng.random()
    if action < 0.45 or not open_orders:
        symbol = rng.choice(sorted(LIMITS))
        body: list[tuple[int, FieldValue]] = [
            (11, f"N{n}"), (55, symbol), (54, rng.choice("12")), (60, "20231114-22:13:20"),
            (38, rng.choice([100, 300, 1000])), (40, "2"), (44, rng.choice(LIMITS[symbol]))]
        for out in intake.on_message("OMS1", _fix("D", body), now):
            order_id = getattr(out.report, "order_id", None)
            if order_id is not None and order_id not in ids:
                ids.append(order_id)
    elif action < 0.70:
        parent = intake.parent(rng.choice(open_orders).parent_id or "")
        assert parent is not None and parent.key.limit is not None
        intake.on_parent_fill(parent.parent_id, rng.randint(1, parent.wanted_qty), parent.key.limit, "XVEN", now)
    elif action < 0.85:
        order = rng.choice(open_orders)
        intake.on_message("OMS1", _fix("F", [(41, order.cl_ord_id), (11, f"C{n}"), (55, order.symbol),
                                             (54, order.side.value), (60, "20231114-22:13:20")]), now)
    else:
        order = rng.choice(open_orders)
        qty = order.cum_qty + rng.choice([1, 50, 500])
        limit = rng.choice(LIMITS[order.symbol])  # the same limit (stays in its parent) or another (moves)
        intake.on_message("OMS1", _fix("G", [(41, order.cl_ord_id), (11, f"R{n}"), (55, order.symbol),
                                             (54, order.side.value), (60, "20231114-22:13:20"), (38, qty),
                                             (40, "2"), (44, limit)]), now)


@pytest.mark.parametrize("seed", range(6))
def test_counts_by_status_from_the_parents_equal_a_walk_over_every_open_order(seed: int) -> None:
    rng = random.Random(seed)
    intake = _intake()
    ids: list[str] = []
    seen: set[str] = set()
    for n in range(400):
        _step(rng, intake, ids, n, T0 + n)
        intake.book._check()  # the running counts behind `started` among the parents' invariants
        parents = list(intake.parents())
        walked = _walk(parents)
        assert open_orders_by_status(parents) == (walked, len(parents))
        assert set(walked) <= {"new", "partially_filled"}  # an order in a parent always has shares left
        assert sum(walked.values()) == len(_open_orders(intake, ids))
        seen.update(walked)
    assert seen == {"new", "partially_filled"}  # both statuses were exercised


def test_an_empty_book_has_no_status_and_no_parent() -> None:
    assert open_orders_by_status([]) == ({}, 0)


def test_an_order_counts_as_partially_filled_from_its_first_fill_until_it_leaves() -> None:
    intake = _intake()
    body: list[tuple[int, FieldValue]] = [(55, "ACME"), (54, "1"), (60, "20231114-22:13:20"), (38, 100), (40, "2"),
                                          (44, "99.00")]
    for cl in ("A", "B"):
        intake.on_message("OMS1", _fix("D", [(11, cl), *body]), T0)
    [parent] = intake.parents()
    assert open_orders_by_status([parent]) == ({"new": 2}, 1)
    intake.on_parent_fill(parent.parent_id, 100, Decimal("99.00"), "XVEN", T0 + 1)  # 50 each
    assert open_orders_by_status([parent]) == ({"partially_filled": 2}, 1)
    intake.on_message("OMS1", _fix("F", [(41, "A"), (11, "A2"), (55, "ACME"), (54, "1")]), T0 + 2)
    assert open_orders_by_status(list(intake.parents())) == ({"partially_filled": 1}, 1)
    intake.on_parent_fill(parent.parent_id, 50, Decimal("99.00"), "XVEN", T0 + 3)  # B filled: the parent is done
    assert open_orders_by_status(list(intake.parents())) == ({}, 0)
