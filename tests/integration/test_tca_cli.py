"""``python -m metaorder tca`` as a real process: on a fills file (the totals a spreadsheet gives) and on the
journal of a real simulated run; bad input is one line on stderr and exit status 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from metaorder.orders.journal import SqliteJournal
from tests.unit.test_simulated_pipeline import order, simulation

ROOT = Path(__file__).resolve().parents[2]
HEADER = "child_id,time,venue,order_type,side,quantity,price,benchmark\n"
ROWS = [("C1", "09:30:01", "XNYS", "limit", 1200, "100.005", "100.010"),
        ("C2", "09:31:15", "ARCA", "market", 800, "100.020", "100.010"),
        ("C3", "09:33:40", "XNYS", "limit", 2000, "99.990", "100.000"),
        ("C4", "09:35:00", "DARK1", "midpoint", 500, "100.0025", "100.005")]


def tca(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", "tca", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def fills(tmp_path: Path) -> Path:
    path = tmp_path / "fills.csv"
    path.write_text(HEADER + "".join(f'{c},{t},{v},{o},buy,"{q:,}",{p},{b}\n' for c, t, v, o, q, p, b in ROWS))
    return path


def test_a_fills_file_gives_the_totals_a_spreadsheet_gives(fills: Path, tmp_path: Path) -> None:
    result = tca(["--fills", str(fills), "--format", "json"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    total = json.loads(result.stdout)["total"]
    quantity = sum(r[4] for r in ROWS)  # =SUM(quantity)
    avg_p = sum((Fraction(r[4]) * Fraction(r[5]) for r in ROWS), Fraction(0)) / quantity  # =SUMPRODUCT(q,p)/SUM(q)
    avg_b = sum((Fraction(r[4]) * Fraction(r[6]) for r in ROWS), Fraction(0)) / quantity
    perf = (avg_b - avg_p) / avg_b * 10_000
    assert total["quantity"] == quantity == 4500
    for key, expected in (("avg_price", avg_p), ("avg_benchmark", avg_b), ("performance_bps", perf),
                          ("cost_bps", -perf)):
        assert abs(Fraction(Decimal(total[key])) - expected) < Fraction(1, 10**24), key
    table = tca(["--fills", str(fills)], tmp_path)
    assert table.returncode == 0
    assert table.stdout.splitlines()[-1] == (
        "total buy: 4 fills  quantity 4,500  avg price 100.0007  avg benchmark 100.0050"
        "  performance +0.43 bps  cost -0.43 bps  vs benchmark +19.25")


def test_csv_output_reads_back_in_a_spreadsheet_and_the_plot_is_a_png(fills: Path, tmp_path: Path) -> None:
    plot = tmp_path / "fills.png"
    result = tca(["--fills", str(fills), "--format", "csv", "--plot", str(plot)], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert [r["child_id"] for r in rows[:4]] == ["C1", "C2", "C3", "C4"]
    assert rows[-1]["section"] == "total" and rows[-1]["quantity"] == "4500"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_row_is_one_line_naming_the_line_and_the_column(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(HEADER + "C1,09:30,X,limit,buy,100,10,10\n" * 5 + "C7,09:31,X,limit,buy,abc,10,10\n")
    assert one_line_error(tca(["--fills", str(path)], tmp_path)) == (
        f"metaorder tca: {path} line 7, column quantity: 'abc' is not a whole number")


@pytest.mark.parametrize("content,message", [
    (None, "no such file"),
    ("", "empty file"),
    ("child_id,time,venue,quantity,price,benchmark\nC1,09:30,X,1,1,1\n", "line 1: missing column order_type"),
])
def test_a_missing_or_empty_file_or_a_missing_column_is_one_line(content: str | None, message: str,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    if content is not None:
        path.write_text(content)
    assert message in one_line_error(tca(["--fills", str(path)], tmp_path))


def test_no_subject_or_two_subjects_or_a_bad_day_is_one_line(fills: Path, tmp_path: Path) -> None:
    assert "give exactly one of" in one_line_error(tca([], tmp_path))
    assert "give exactly one of" in one_line_error(tca(["P1", "--fills", str(fills)], tmp_path))
    assert "is not a date" in one_line_error(tca(["--day", "2026-13-01", "--journal", "x.db"], tmp_path))


@pytest.fixture(scope="module")
def run_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real journal: a TWAP buy worked through the simulated venues on the virtual clock."""
    path = tmp_path_factory.mktemp("tca") / "journal.db"
    journal = SqliteJournal(path)
    try:
        sim = simulation(journal)  # type: ignore[arg-type]
        now = sim.clock.now()
        sim.submit("OMS1", "D", order("A", "GLOBX", "1", 2500, 60, now))
        sim.run_until(now + 65)
        journal.flush().result(timeout=10)
    finally:
        journal.close()
    return path


def test_a_parent_from_the_journal_shows_orders_parents_children_and_venues(run_journal: Path,
                                                                            tmp_path: Path) -> None:
    result = tca(["P1", "--journal", str(run_journal)], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    text = result.stdout
    for heading in ("order ", "parent ", "shortfall ", "child ", "venue "):
        assert any(line.startswith(heading) for line in text.splitlines()), heading
    doc = json.loads(tca(["P1", "--journal", str(run_journal), "--format", "json"], tmp_path).stdout)
    [parent] = doc["parents"]
    assert parent["filled"] == parent["qty"] == 2500 and parent["arrival_source"] == "sample"
    assert parent["interval_vwap"] is not None
    shortfall = parent["shortfall"]
    parts = sum(Decimal(shortfall[k]["money"]) for k in ("delay", "execution", "opportunity", "fees"))
    assert parts == Decimal(shortfall["total"]["money"])
    executed = sum(c["filled"] for c in doc["children"])
    assert executed == 2500 == sum(v["filled"] for v in doc["venues"])
    [o] = doc["orders"]
    assert o["id"] == "O1" and o["label"] == "OMS1 A" and o["status"] == "filled"


def test_an_order_by_session_clordid_and_by_day_and_the_plot(run_journal: Path, tmp_path: Path) -> None:
    by_cl = json.loads(tca(["OMS1:A", "--journal", str(run_journal), "--format", "json"], tmp_path).stdout)
    by_day = json.loads(tca(["--day", "2026-01-01", "--journal", str(run_journal), "--format", "json"],
                            tmp_path).stdout)
    assert [o["id"] for o in by_cl["orders"]] == [o["id"] for o in by_day["orders"]] == ["O1"]
    plot = tmp_path / "p1.png"
    result = tca(["O1", "--journal", str(run_journal), "--format", "csv", "--plot", str(plot)], tmp_path)
    assert result.returncode == 0 and plot.read_bytes()[:4] == b"\x89PNG"
    assert {r["section"] for r in csv.DictReader(result.stdout.splitlines())} == {"order", "parent", "child", "venue"}


def test_an_unknown_id_or_a_missing_journal_is_one_line(run_journal: Path, tmp_path: Path) -> None:
    assert "no order or parent P99" in one_line_error(tca(["P99", "--journal", str(run_journal)], tmp_path))
    assert "no such file" in one_line_error(tca(["P1", "--journal", str(tmp_path / "none.db")], tmp_path))


def test_a_spreadsheets_trailing_empty_columns_and_a_form_feed_in_a_cell_are_read(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(HEADER.rstrip("\n") + ",,\n" + "C1,09:30,X\x0cY,limit,buy,100,10,10.01,,\n"
                    + "C2,09:31,X,limit,buy,abc,10,10,,\n", encoding="utf-8")
    assert one_line_error(tca(["--fills", str(path)], tmp_path)) == (
        f"metaorder tca: {path} line 3, column quantity: 'abc' is not a whole number")
    path.write_text(path.read_text(encoding="utf-8").replace("abc", "100"), encoding="utf-8")
    result = tca(["--fills", str(path), "--format", "json"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout)["total"]["quantity"] == 200


@pytest.mark.parametrize("price,benchmark,message", [
    ("1", "0.000000000000000000000001", "column benchmark: '0.000000000000000000000001' is too small"),
    ("1" + "0" * 40, "1", "column price: '1" + "0" * 40 + "' is too large"),
])
def test_an_absurd_magnitude_is_one_line_and_exit_2_not_a_traceback(price: str, benchmark: str, message: str,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(HEADER + f"C1,09:30,X,limit,buy,100,{price},{benchmark}\n")
    for fmt in ("table", "json"):
        assert one_line_error(tca(["--fills", str(path), "--format", fmt], tmp_path)).startswith(
            f"metaorder tca: {path} line 2, {message}")


def test_the_interval_vwap_across_an_engine_restart_and_the_arrival_mids_age(tmp_path: Path) -> None:
    from metaorder.eventcodec import append
    from tests.unit.test_tca_journal import restart_journal

    path = tmp_path / "journal.db"
    with SqliteJournal(path) as journal:
        for rec in restart_journal():
            append(journal, rec.time, rec.event)
        journal.flush().result(timeout=10)
    result = tca(["O1", "--journal", str(path), "--format", "json"], tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    [o] = json.loads(result.stdout)["orders"]
    assert Decimal(o["interval_vwap"]) == 120  # 5,000 @ 120 since the restart; differencing the runs gave 125
    assert o["arrival_detail"] == "sample at 08:59:10.350 (49,650 ms before arrival)"
