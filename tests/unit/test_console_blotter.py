"""The console's blotter (``metaorder.console.blotter``) and the lines it shows (``view``), from canned reports."""

from __future__ import annotations

from decimal import Decimal

from metaorder.console.app import complete
from metaorder.console.blotter import Blotter
from metaorder.console.client import _reject_detail, run_token
from metaorder.console.view import blotter_lines, fills_lines, report_line
from metaorder.fix.codec import Message


def msg(msg_type: str, *fields: tuple[int, object]) -> Message:
    return Message("FIX.4.4", [(35, msg_type), *((t, str(v)) for t, v in fields)])


def er(cl: str, exec_type: str, status: str, cum: int, leaves: int, avg: str, *extra: tuple[int, object],
       qty: int = 100, order_id: str = "O1") -> Message:
    return msg("8", (37, order_id), (11, cl), (17, f"X-{cl}-{exec_type}-{cum}"), (150, exec_type), (39, status),
               (55, "ACME"), (54, "1"), (38, qty), (40, "1"), *extra, (151, leaves), (14, cum), (6, avg),
               (60, "20250304-14:00:01.000"))


def fill(cl: str, exec_id: str, last: int, px: str, mkt: str, cum: int, leaves: int, avg: str) -> Message:
    return msg("8", (37, "O1"), (11, cl), (17, exec_id), (150, "F"), (39, "1" if leaves else "2"), (55, "ACME"),
               (54, "1"), (38, 100), (40, "1"), (32, last), (31, px), (30, mkt), (151, leaves), (14, cum),
               (6, avg), (60, "20250304-14:00:02.000"))


def test_an_order_is_sent_acknowledged_and_filled_and_the_row_takes_the_engines_numbers() -> None:
    b = Blotter()
    row = b.sent_order("C1", "T-C1", "ACME", "BUY", 100)
    assert (row.status, row.leaves, row.cost_bps()) == ("SENT", 100, None)
    ack = b.apply(er("T-C1", "0", "0", 0, 100, "0", (58, "TWAP 14:00-14:02 UTC, urgency MEDIUM")))
    assert ack.row is row and ack.exec_type == "NEW" and not ack.reject
    assert (row.status, row.text) == ("NEW", "TWAP 14:00-14:02 UTC, urgency MEDIUM")
    b.apply(fill("T-C1", "E1", 40, "142.51", "ATLX", 40, 60, "142.51"))
    b.apply(fill("T-C1", "E2", 60, "142.49", "INTERNAL", 100, 0, "142.498"))
    assert (row.cum, row.leaves, row.avg_px, row.status, row.last_market) == (
        100, 0, Decimal("142.498"), "FILLED", "INTERNAL")
    assert [(e.qty, e.price, e.market) for e in row.executions] == [
        (40, Decimal("142.51"), "ATLX"), (60, Decimal("142.49"), "INTERNAL")]
    assert row.finished and b.open_rows() == [] and b.rejects == []


def test_a_resent_execution_is_listed_once() -> None:
    b = Blotter()
    row = b.sent_order("C1", "T-C1", "ACME", "BUY", 100)
    b.apply(fill("T-C1", "E1", 40, "142.51", "ATLX", 40, 60, "142.51"))
    again = b.apply(fill("T-C1", "E1", 40, "142.51", "ATLX", 40, 60, "142.51"))
    assert again.duplicate and len(row.executions) == 1


def test_cost_vs_arrival_is_blank_without_a_stated_arrival_and_signed_by_side_with_one() -> None:
    b = Blotter()
    buy = b.sent_order("C1", "T-C1", "ACME", "BUY", 100, arrival=Decimal("100.00"))
    sell = b.sent_order("C2", "T-C2", "ACME", "SELL", 100, arrival=Decimal("100.00"))
    blank = b.sent_order("C3", "T-C3", "ACME", "BUY", 100)
    for row in (buy, sell, blank):
        row.cum, row.avg_px = 100, Decimal("100.005")
    assert buy.cost_bps() == Decimal("0.5")  # bought above arrival: a cost
    assert sell.cost_bps() == Decimal("-0.5")  # sold above arrival: a gain
    assert blank.cost_bps() is None
    table = blotter_lines(b)
    assert "Cost bps" in table[0] and table[1].endswith("+0.5") and table[2].endswith("-0.5")


def test_the_arrival_mid_the_ack_names_is_the_benchmark_unless_the_trader_stated_one() -> None:
    b = Blotter()
    told = b.sent_order("C1", "T-C1", "ACME", "BUY", 100)
    stated = b.sent_order("C2", "T-C2", "ACME", "BUY", 100, arrival=Decimal("142.40"))
    quiet = b.sent_order("C3", "T-C3", "ACME", "BUY", 100)
    b.apply(er("T-C1", "0", "0", 0, 100, "0", (58, "VWAP 14:00-14:02 UTC, urgency MEDIUM, arrival mid 142.505")))
    b.apply(er("T-C2", "0", "0", 0, 100, "0", (58, "TWAP 14:00-14:02 UTC, urgency MEDIUM, arrival mid 142.505")))
    b.apply(er("T-C3", "0", "0", 0, 100, "0", (58, "TWAP 14:00-14:02 UTC, urgency MEDIUM")))  # no quote then
    assert (told.arrival, stated.arrival, quiet.arrival) == (Decimal("142.505"), Decimal("142.40"), None)
    b.apply(fill("T-C1", "E1", 100, "142.52", "ATLX", 100, 0, "142.52"))
    assert told.cost_bps() == (Decimal("142.52") - Decimal("142.505")) / Decimal("142.505") * 10_000


def test_a_replace_moves_the_order_to_its_new_clordid_and_a_cancel_ends_it() -> None:
    b = Blotter()
    row = b.sent_order("C1", "T-C1", "ACME", "BUY", 100, limit=Decimal("142.00"))
    b.apply(er("T-C1", "0", "0", 0, 100, "0"))
    b.sent_request(row, "T-C1-R1")
    b.apply(er("T-C1-R1", "5", "0", 0, 200, "0", (41, "T-C1"), (44, "142.35"), qty=200))
    assert (row.cl_ord_ids, row.qty, row.limit) == (["T-C1", "T-C1-R1"], 200, Decimal("142.35"))
    assert b.find("T-C1-R1") is row and b.find("c1") is row
    b.sent_request(row, "T-C1-X2")
    b.apply(er("T-C1-X2", "4", "4", 0, 0, "0", (41, "T-C1-R1"), qty=200))
    assert row.status == "CANCELED" and row.finished


def test_rejects_and_cancel_rejects_are_kept_with_their_text() -> None:
    b = Blotter()
    row = b.sent_order("C1", "T-C1", "ACME", "BUY", 20000)
    refused = b.apply(msg("8", (37, "NONE"), (11, "T-C1"), (17, "R1"), (150, "8"), (39, "8"), (55, "ACME"),
                          (54, "1"), (151, 0), (14, 0), (6, 0), (103, "3"), (58, "max_order_qty 5000 exceeded")))
    assert refused.reject and row.status == "REJECTED"
    row2 = b.sent_order("C2", "T-C2", "ACME", "BUY", 100)
    b.sent_request(row2, "T-C2-X1")
    cxl = b.apply(msg("9", (37, "O2"), (11, "T-C2-X1"), (41, "T-C2"), (39, "2"), (434, "1"), (102, "0"),
                      (58, "order is filled")))
    assert cxl.kind == "CXLREJ" and cxl.row is row2
    assert b.rejects == ["C1: REJECTED max_order_qty 5000 exceeded", "C2: CXLREJ too late: order is filled"]
    b.sent_seq(7, row2)
    b.apply(msg("j", (45, 7), (372, "Q"), (380, "3"), (58, "unsupported message type")))
    b.session_reject("7", "Required tag missing")
    assert row2.rejects[-2:] == ["BREJECT unsupported message type", "REJECT Required tag missing"]


def test_a_report_for_an_order_the_console_did_not_send_gets_its_own_row() -> None:
    b = Blotter()
    notice = b.apply(er("RAW1", "0", "0", 0, 100, "0"))
    assert notice.row is not None and notice.row.ref == "RAW1" and [r.ref for r in b.rows()] == ["RAW1"]


def test_report_lines_are_one_stable_greppable_line() -> None:
    line = report_line(fill("T-C1", "E1", 40, "142.510", "ATLX", 40, 60, "142.51"), "C1")
    assert line == "ER C1 FILL ACME BUY 100 last 40@142.51 ATLX cum 40 leaves 60 avg 142.51 status PARTIAL clordid=T-C1"
    ack = report_line(er("T-C1", "0", "0", 0, 100, "0", (58, 'TWAP "fast"'), (115, "OMS1")))
    assert ack.endswith('for=OMS1 text="TWAP \\"fast\\""') and "\n" not in ack


def test_fills_lists_each_execution_and_the_total() -> None:
    b = Blotter()
    row = b.sent_order("C1", "T-C1", "ACME", "BUY", 100)
    assert fills_lines(row) == ["C1: no executions yet"]
    b.apply(fill("T-C1", "E1", 40, "142.51", "ATLX", 40, 60, "142.51"))
    lines = fills_lines(row)
    assert "ATLX" in lines[1] and lines[-1] == "1 executions, 40 shares, avg 142.51"


def test_run_tokens_differ_per_millisecond_and_fit_six_characters() -> None:
    tokens = {run_token(1_741_096_800 + n / 1000) for n in range(500)}
    assert len(tokens) == 500 and all(len(t) == 6 and t.isalnum() for t in tokens)
    assert len(run_token(1_741_132_799.9999)) == 6 and run_token(1_741_132_800) == "000000"  # a day fits


def test_the_sessions_reject_detail_yields_the_referenced_sequence_number() -> None:
    assert _reject_detail("counterparty rejected our 8: Required tag missing") == ("8", "Required tag missing")


def test_completion_offers_commands_symbols_options_values_and_order_ids() -> None:
    symbols, refs = ["ACME", "GLOBX"], ["C1", "C2"]
    assert complete("", symbols, refs)[:3] == ["buy", "sell", "short"]
    assert complete("ca", symbols, refs) == ["cancel"]
    assert complete("buy 100 ", symbols, refs) == ["ACME", "GLOBX"]
    assert complete("buy 100 AC", symbols, refs) == ["ACME"]
    assert "vwap" in complete("buy 100 ACME ", symbols, refs)
    assert complete("buy 100 ACME urgency ", symbols, refs) == ["low", "medium", "high"]
    assert complete("cancel ", symbols, refs) == ["C1", "C2"]
    assert complete("replace C1 ", symbols, refs) == ["qty", "@"]


def test_a_cancel_request_is_pending_until_the_engine_answers_it() -> None:
    b = Blotter()
    row = b.sent_order("C1", "T-C1", "ACME", "BUY", 100)
    b.sent_request(row, "T-C1-X1")
    assert b.pending() == 1 and b.pending(row) == 1
    b.apply(msg("9", (37, "NONE"), (11, "T-C1-X1"), (41, "T-C1"), (39, "8"), (434, "1"), (102, "1"), (58, "unknown")))
    assert b.pending() == 0
