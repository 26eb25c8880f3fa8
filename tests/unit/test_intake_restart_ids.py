"""Ids the engine hands out are never reused after a restart, even for parents that finished."""

from __future__ import annotations

from metaorder.orders.journal import MemoryJournal
from tests.unit.test_intake import T0, fix, intake, nos


def test_a_parent_id_is_not_reused_after_a_restart_even_when_its_parent_finished() -> None:
    journal = MemoryJournal()
    first = intake(journal)
    first.on_message("OMS1", nos("B", "1", 100, "101.00"), T0)  # P1
    first.on_message("OMS2", nos("S", "2", 100, "99.00"), T0)  # crosses P1's whole order: P1 is done
    assert not list(first.book.parents())
    again = intake(journal)
    again.on_message("OMS1", nos("B2", "1", 100, "101.00"), T0 + 1)
    [parent] = again.book.parents()
    assert parent.parent_id == "P2"


def test_a_replace_that_moves_an_order_to_another_parent_is_in_that_parents_history() -> None:
    journal = MemoryJournal()
    i = intake(journal)
    i.on_message("OMS1", nos("A", "1", 100, "99.00"), T0)
    i.on_message("OMS1", fix("G", [(41, "A"), (11, "A2"), (55, "ACME"), (54, "1"), (60, "20231114-22:13:20"),
                                   (38, 100), (40, "2"), (44, "98.00")]), T0 + 1)
    [parent] = i.book.parents()
    assert parent.parent_id == "P2"
    assert [e.kind for e in journal.history("P2")] == ["order.replaced"]
