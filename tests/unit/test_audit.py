"""``metaorder audit``: one order's life from a real journal written by the real intake.

The journal is an SqliteJournal the intake writes as it accepts, crosses, aggregates and allocates
parent fills; the execution pipeline's entries (child.*, venue.execution) are appended by hand,
as that pipeline will append them, between the intake's calls.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from metaorder.fix.codec import FieldValue
from metaorder.orders.book import ParentBook
from metaorder.orders.intake import Intake
from metaorder.orders.journal import JournalReader, SqliteJournal
from metaorder.orders.risk import RiskEngine, RiskLimits
from metaorder.posttrade.audit import AuditError, audit, format_time, run_audit
from tests.unit.test_intake import fix, nos

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20.000Z
REFS = {"ACME": Decimal("100.00"), "GLOBX": Decimal("50.00")}


class Scenario:
    """Drives the intake and plays the execution pipeline's part in the same journal."""

    def __init__(self, journal: SqliteJournal) -> None:
        self.journal = journal
        self.intake = Intake(REFS, RiskEngine(RiskLimits(), {}, REFS.get), journal, ParentBook(REFS.get))
        self.intake.recover()
        self.intake.start(T0)

    def child(self, kind: str, t: float, parent: str, child: str, **data: Any) -> None:
        self.journal.append(T0 + t, kind, [parent, child], {"parent_id": parent, "child_id": child, **data})

    def placed(self, t: float, parent: str, child: str, venue: str, qty: int, price: str | None,
               symbol: str = "ACME", ioc: bool = False) -> None:
        self.child("child.placed", t, parent, child, venue=venue, symbol=symbol, side="1", qty=qty, price=price,
                   ioc=ioc, reason="slice")
        self.child("child.acked", t + 0.001, parent, child, venue=venue, venue_order_id=f"{venue}-{child}")

    def executed(self, t: float, parent: str, child: str, venue: str, qty: int, price: str, liquidity: str,
                 fee: str) -> None:
        """A venue execution and, as the pipeline will do next, the parent fill it gives the intake."""
        self.child("venue.execution", t, parent, child, venue=venue, exec_id=f"X{child}.{qty}", qty=qty,
                   price=price, liquidity=liquidity, fee=fee)
        self.intake.on_parent_fill(parent, qty, Decimal(price), venue, T0 + t)


def amend(orig: str, new: str, qty: int, price: str) -> list[tuple[int, FieldValue]]:
    return [(41, orig), (11, new), (55, "GLOBX"), (54, "1"), (60, "20231114-22:13:20"), (38, qty), (40, "2"),
            (44, price)]


def build_journal(path: Path) -> None:
    """O1 (buy 500) crosses O2 (sell 200), O3 (buy 300) joins O1's parent P1, which fills at venues;
    O4 is replaced from parent P2 into P3, partly filled and canceled; two orders are rejected."""
    with SqliteJournal(path) as journal:
        s = Scenario(journal)
        s.intake.on_message("OMS1", nos("B1", "1", 500, "101.00"), T0)  # O1 -> P1
        s.placed(0.5, "P1", "C0", "CYGX", 100, "99.90")  # before O3 arrives
        s.intake.on_message("OMS2", nos("S1", "2", 200, "99.00"), T0 + 1)  # O2 crosses 200 @ 100.00
        s.intake.on_message("OMS1", nos("B2", "1", 300, "101.00"), T0 + 2)  # O3 -> P1
        s.child("child.cancel_requested", 2.4, "P1", "C0", venue="CYGX", reason="repriced")
        s.child("child.canceled", 2.5, "P1", "C0", venue="CYGX", reason="repriced")
        s.placed(3, "P1", "C1", "ATLX", 250, "100.02", ioc=True)
        s.executed(3.002, "P1", "C1", "ATLX", 250, "100.02", "2", "0.75")  # 125 each
        s.placed(4, "P1", "C2", "BORX", 350, "100.05")
        s.placed(4.2, "P1", "C3", "UMBRA", 100, None)
        s.child("child.placed", 4.25, "P1", "C4", venue="NOCT", symbol="ACME", side="1", qty=50, price=None,
                ioc=False, reason="slice")
        s.child("child.rejected", 4.3, "P1", "C4", venue="NOCT", text="venue halted")
        s.executed(4.5, "P1", "C2", "BORX", 150, "100.03", "1", "-0.30")  # 75 each
        s.executed(5, "P1", "C2", "BORX", 200, "100.05", "1", "-0.40")  # 100 each: O1 and O3 filled
        s.child("child.canceled", 6, "P1", "C3", venue="UMBRA", reason="parent done")  # after both were done

        s.intake.on_message("OMS1", nos("C1", "1", 100, "50.00", symbol="GLOBX"), T0 + 10)  # O4 -> P2
        s.placed(11, "P2", "C5", "ATLX", 100, "50.00", symbol="GLOBX")
        s.intake.on_message("OMS1", fix("G", amend("C1", "C1b", 100, "50.10")), T0 + 12)  # O4 -> P3
        s.child("child.canceled", 12.5, "P2", "C5", venue="ATLX", reason="parent closed")
        s.placed(13, "P3", "C6", "ATLX", 100, "50.10", symbol="GLOBX")
        s.executed(14, "P3", "C6", "ATLX", 40, "50.05", "2", "0.12")
        s.intake.on_message("OMS1", fix("F", [(41, "C1b"), (11, "C1c"), (55, "GLOBX"), (54, "1"),
                                              (60, "20231114-22:13:20")]), T0 + 15)
        s.child("child.canceled", 15.5, "P3", "C6", venue="ATLX", reason="parent closed")

        s.intake.on_message("OMS2", nos("BAD", "1", 10, "1.00", symbol="NOPE"), T0 + 20)  # unknown symbol
        s.intake.on_message("OMS1", nos("B1", "1", 10, "101.00"), T0 + 21)  # duplicate ClOrdID


@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    path = tmp_path / "journal.db"
    build_journal(path)
    return path


def text(path: Path, target: str) -> list[str]:
    out = io.StringIO()
    run_audit(path, target, as_json=False, out=out)
    return out.getvalue().splitlines()


def events(lines: list[str]) -> list[tuple[str, str]]:
    """(event, subject) of each timeline line, summaries included."""
    return [(line.split()[1], line.split()[2]) if not line.startswith(" ") else ("summary", line.split()[1])
            for line in lines if line]


def line_of(lines: list[str], *needles: str) -> str:
    [line] = [x for x in lines if all(n in x for n in needles)]
    return line


# ---- one order ------------------------------------------------------------------------------------


def test_an_orders_life_is_its_own_entries_and_what_its_parent_did_for_it_in_time_order(journal_path: Path) -> None:
    lines = text(journal_path, "O1")
    assert events(lines) == [
        ("order.accepted", "O1"), ("child.placed", "P1"), ("child.acked", "P1"), ("cross", "O1"),
        ("child.cancel_requested", "P1"), ("child.canceled", "P1"),
        ("child.placed", "P1"), ("child.acked", "P1"), ("venue.execution", "P1"), ("fill", "O1"),
        ("child.placed", "P1"), ("child.acked", "P1"), ("child.placed", "P1"), ("child.acked", "P1"),
        ("child.placed", "P1"), ("child.rejected", "P1"),
        ("venue.execution", "P1"), ("fill", "O1"), ("venue.execution", "P1"), ("fill", "O1"),
        ("summary", "O1"),
    ]
    times = [line.split()[0] for line in lines[:-1]]
    assert times == sorted(times)
    assert lines[0].startswith("2023-11-14T22:13:20.000Z  order.accepted   O1 OMS1 B1: buy 500 ACME limit 101.00 DAY;")
    assert "TWAP, urgency MEDIUM, NEUTRAL; parent P1" in lines[0]


def test_the_summary_gives_the_exact_average_price_of_its_crosses_and_allocations(journal_path: Path) -> None:
    # O1: 200 @ 100.00 (cross) + 125 @ 100.02 + 75 @ 100.03 + 100 @ 100.05 = 50009.75 over 500 shares
    assert text(journal_path, "O1")[-1].split() == [
        "summary", "O1", "qty", "500", "cum", "qty", "500", "leaves", "0", "avg", "px", "100.0195", "status",
        "FILLED"]
    assert "avg px 100.0325  status FILLED" in text(journal_path, "O3")[-1]  # 30009.75 / 300


def test_each_parent_fill_shows_the_orders_share_beside_the_parent_fill(journal_path: Path) -> None:
    lines = text(journal_path, "O3")
    fills = [line.split(None, 2)[2] for line in lines if "  fill " in line]
    assert fills == ["O3 125 of P1's fill of 250 @ 100.02 on ATLX", "O3 75 of P1's fill of 150 @ 100.03 on BORX",
                     "O3 100 of P1's fill of 200 @ 100.05 on BORX"]
    assert "P1 C1 on ATLX: 250 @ 100.02 removed, fee 0.75, exec XC1.250" in line_of(lines, "venue.execution", "C1")
    assert "P1 C1 on ATLX: buy 250 ACME @ 100.02 IOC (slice)" in line_of(lines, "child.placed", "C1")


def test_parent_activity_before_the_order_arrived_or_after_it_was_done_did_not_feed_it(journal_path: Path) -> None:
    o3 = text(journal_path, "O3")
    assert [e for e in events(o3) if e[0].startswith("child.")][:2] == [  # C0's cancel only: placed before O3
        ("child.cancel_requested", "P1"), ("child.canceled", "P1")]
    assert not [line for line in o3 if "C0" in line and "child.placed" in line]
    assert not [line for line in o3 if "C3" in line and "child.canceled" in line]  # after O3 was filled
    assert line_of(o3, "child.canceled", "C0").endswith("P1 C0 on CYGX: repriced")


def test_a_cross_names_the_counter_order_as_its_oms_knows_it(journal_path: Path) -> None:
    assert line_of(text(journal_path, "O1"), "cross").endswith(
        "cross            O1 200 @ 100.00 INTERNAL with O2 (OMS2 S1, sell); O1 was resting")
    o2 = text(journal_path, "O2")
    assert events(o2) == [("order.accepted", "O2"), ("cross", "O2"), ("summary", "O2")]  # no parent: no children
    assert o2[0].endswith("no parent (crossed in full on arrival)")
    assert o2[1].endswith("with O1 (OMS1 B1, buy); O2 was incoming")
    assert o2[-1].endswith("cum qty 200  leaves 0  avg px 100.00  status FILLED")


def test_an_order_moved_to_another_parent_is_fed_by_each_parent_only_while_it_was_in_it(journal_path: Path) -> None:
    lines = text(journal_path, "O4")
    assert events(lines) == [
        ("order.accepted", "O4"), ("child.placed", "P2"), ("child.acked", "P2"), ("order.replaced", "O4"),
        ("child.placed", "P3"), ("child.acked", "P3"), ("venue.execution", "P3"), ("fill", "O4"),
        ("order.canceled", "O4"), ("summary", "O4"),
    ]  # C5's cancel in P2 came after O4 left P2; C6's cancel after O4 was canceled
    assert lines[3].endswith("order.replaced   O4 C1b (was C1): qty 100 limit 50.10; parent P3")
    assert lines[-1].endswith("qty 100  cum qty 40  leaves 0  avg px 50.05  status CANCELED")


# ---- a parent ------------------------------------------------------------------------------------


def test_the_parent_view_shows_every_child_its_orders_and_where_each_stands(journal_path: Path) -> None:
    lines = text(journal_path, "P1")
    kinds = events(lines)
    assert kinds[:2] == [("order.accepted", "O1"), ("child.placed", "P1")]
    assert ("cross", "O1") in kinds and ("order.accepted", "O3") in kinds
    assert kinds[-4:] == [("child.canceled", "P1"), ("summary", "O1"), ("summary", "O3"), ("summary", "P1")]
    assert "child.canceled   P1 C3 on UMBRA: parent done" in lines[-4]
    assert line_of(lines, "fill", "BORX", "150").endswith("P1 150 @ 100.03 on BORX allocated O1 75, O3 75")
    # venue: 250 @ 100.02 + 150 @ 100.03 + 200 @ 100.05 = 60019.50 over 600; fees 0.75 - 0.30 - 0.40
    assert lines[-1].split(None, 1)[1] == ("P1 orders 2  allocated 600 avg px 100.0325  venue executions 600"
                                           " avg px 100.0325 fees 0.05  status DONE")


def test_a_parent_the_order_moved_out_of_shows_the_replace_that_took_it_away(journal_path: Path) -> None:
    lines = text(journal_path, "P2")
    assert events(lines) == [("order.accepted", "O4"), ("child.placed", "P2"), ("child.acked", "P2"),
                             ("order.replaced", "O4"), ("child.canceled", "P2"), ("summary", "O4"),
                             ("summary", "P2")]
    assert lines[-1].endswith("allocated 0 avg px -  venue executions 0 avg px - fees 0  status DONE")


# ---- SESSION:ClOrdID ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["OMS1:C1", "OMS1:C1b", "OMS1:C1c"])
def test_a_cl_ord_id_finds_the_order_by_its_original_replace_and_cancel_names(journal_path: Path, name: str) -> None:
    assert text(journal_path, name) == text(journal_path, "O4")


def test_a_cl_ord_id_of_another_session_is_not_the_order(journal_path: Path) -> None:
    with pytest.raises(AuditError, match=r"^no order OMS2:C1 in journal "):
        text(journal_path, "OMS2:C1")


def test_a_rejected_cl_ord_id_shows_the_rejection_and_its_reason(journal_path: Path) -> None:
    lines = text(journal_path, "OMS2:BAD")
    assert events(lines) == [("order.rejected", "OMS2:BAD"), ("summary", "OMS2:BAD")]
    assert "order.rejected   OMS2:BAD OrdRejReason" in lines[0] and "NOPE" in lines[0]
    assert lines[-1].endswith("1 rejected  status REJECTED")


def test_a_cl_ord_id_reused_by_a_rejected_duplicate_shows_the_order_and_then_the_rejection(
    journal_path: Path,
) -> None:
    lines = text(journal_path, "OMS1:B1")
    blank = lines.index("")
    assert lines[:blank] == text(journal_path, "O1")
    assert events(lines[blank + 1:]) == [("order.rejected", "OMS1:B1"), ("summary", "OMS1:B1")]


# ---- for tools ------------------------------------------------------------------------------------


def test_json_lines_carry_the_payload_and_the_exact_totals(journal_path: Path) -> None:
    out = io.StringIO()
    run_audit(journal_path, "O1", as_json=True, out=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    *timeline, summary = records
    assert [r["seq"] for r in timeline] == sorted(r["seq"] for r in timeline)
    assert timeline[0]["time"] == "2023-11-14T22:13:20.000Z" and timeline[0]["event"] == "order.accepted"
    assert timeline[0]["strategy"] == "1000" and timeline[0]["limit"] == "101.00"
    [first_fill] = [r for r in timeline if r["event"] == "fill"][:1]
    assert (first_fill["order_qty"], first_fill["qty"], first_fill["price"]) == (125, 250, "100.02")
    assert summary == {"event": "summary", "subject": "O1", "order_id": "O1", "qty": 500, "cum_qty": 500,
                       "leaves_qty": 0, "avg_px": "100.0195", "notional": "50009.75", "status": "FILLED",
                       "text": summary["text"]}


def test_times_are_the_journals_epoch_times_in_utc_with_milliseconds() -> None:
    assert format_time(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"
    assert format_time(0.0) == "1970-01-01T00:00:00.000Z"


# ---- errors and a running engine ---------------------------------------------------------------


def test_an_unknown_order_is_one_line_naming_the_journal(journal_path: Path) -> None:
    with pytest.raises(AuditError) as err:
        text(journal_path, "O99")
    assert str(err.value) == f"no order O99 in journal {journal_path}"


def test_the_audit_reads_a_journal_the_engine_still_has_open(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "live.db") as journal:
        s = Scenario(journal)
        s.intake.on_message("OMS1", nos("L1", "1", 100, "101.00"), T0)
        s.placed(1, "P1", "C1", "ATLX", 100, "100.01")
        journal.flush().result()
        lines = text(tmp_path / "live.db", "O1")  # the writer holds the lock; the audit needs none
        assert events(lines) == [("order.accepted", "O1"), ("child.placed", "P1"), ("child.acked", "P1"),
                                 ("summary", "O1")]
        assert lines[-1].endswith("cum qty 0  leaves 100  avg px -  status NEW")


def test_a_float_where_a_price_belongs_is_a_malformed_entry_not_a_rounded_price(tmp_path: Path) -> None:
    with SqliteJournal(tmp_path / "bad.db") as journal:
        s = Scenario(journal)
        s.intake.on_message("OMS1", nos("F1", "1", 100, "101.00"), T0)
        seq = journal.append(T0 + 1, "venue.execution", ["P1", "C1"], {
            "parent_id": "P1", "child_id": "C1", "venue": "ATLX", "exec_id": "X1", "qty": 100, "price": 100.1,
            "liquidity": "2", "fee": "0.30"})
    with JournalReader(tmp_path / "bad.db") as reader, pytest.raises(AuditError) as err:
        audit(reader, "O1")
    assert str(err.value) == (f"journal {tmp_path / 'bad.db'}: entry {seq} (venue.execution) is malformed:"
                              " price is not a decimal string: 100.1")
