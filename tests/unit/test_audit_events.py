"""The audit reads the journal as typed events: what that changes for the lines people read."""

from __future__ import annotations

import io
from pathlib import Path

from metaorder.orders.journal import SqliteJournal
from metaorder.posttrade.audit import run_audit
from tests.unit.test_audit import T0, Scenario
from tests.unit.test_intake import nos


def lines(path: Path, target: str) -> list[str]:
    out = io.StringIO()
    run_audit(path, target, as_json=False, out=out)
    return out.getvalue().splitlines()


def test_a_child_kind_this_version_cannot_read_is_shown_as_stored_not_hidden_or_refused(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.db") as journal:
        s = Scenario(journal)
        s.intake.on_message("OMS1", nos("B1", "1", 500, "101.00"), T0)  # O1 -> P1
        s.placed(1, "P1", "C1", "ATLX", 100, "100.00")
        s.child("child.amended", 2, "P1", "C1", venue="ATLX", qty=50)  # a kind from a newer metaorder
    o1 = lines(tmp_path / "j.db", "O1")
    assert [x.split()[1] for x in o1[:-1]] == ["order.accepted", "child.placed", "child.acked", "child.amended"]
    assert o1[3].endswith('child.amended    P1 {"parent_id":"P1","child_id":"C1","venue":"ATLX","qty":50}')


def test_an_expired_order_is_summarized_as_expired_with_nothing_left(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "j.db") as journal:
        s = Scenario(journal)
        s.intake.on_message("OMS1", nos("B1", "1", 500, "101.00"), T0)
        [order] = [o for o in s.intake.book.parent("P1").children]  # type: ignore[union-attr]
        s.intake.expire(order, T0 + 60)
    o1 = lines(tmp_path / "j.db", "O1")
    assert o1[1].endswith("order.expired    O1 ExpireTime passed with 500 of 500 unfilled")
    assert o1[-1].endswith("qty 500  cum qty 0  leaves 0  avg px -  status EXPIRED")
