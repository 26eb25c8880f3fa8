"""``metaorder audit`` on the journal of a real (simulated) run: child orders and venue fills included."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

from metaorder.orders.journal import SqliteJournal
from metaorder.posttrade.audit import run_audit
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation


def test_an_orders_audit_shows_its_children_venue_fills_and_its_allocations(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = SqliteJournal(path)
    try:
        sim = simulation(journal)  # type: ignore[arg-type]
        now = sim.clock.now()
        sim.submit("OMS1", "D", order("A", "GLOBX", "1", 2500, 60, now))
        sim.submit("OMS2", "D", order("S", "GLOBX", "2", 400, 60, now))  # crosses 400 of A on arrival
        sim.run_until(now + 65)
        journal.flush().result(timeout=10)
    finally:
        journal.close()
    out = io.StringIO()
    run_audit(path, "O1", as_json=False, out=out)
    text = out.getvalue()
    assert "accepted" in text and "cross" in text.lower()
    for kind in ("child.placed", "venue.execution"):
        assert kind in text or kind.split(".")[1] in text, kind
    last = reports_by_order(sim)["O1"][-1]
    assert last[39] == "2"
    summary = text.strip().splitlines()[-1]
    assert "2500" in summary and str(Decimal(last[6])) in summary, summary
