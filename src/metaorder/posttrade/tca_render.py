"""Rendering TCA results for people (table), tools (json) and spreadsheets (csv).

Why this module exists
----------------------
The analyses (:mod:`.tca_fills`, :mod:`.tca_journal`) compute exact ``Decimal`` figures and never
round; rounding is a display decision and lives here, once, for every format:

* ``table``: bps with 2 decimals, average prices with 4, money with 2, rounded half away from zero
  (as a spreadsheet rounds); quantities with thousands separators.  Input prices are shown as written.
* ``json``: one JSON document; every decimal is its exact string (full precision), quantities integers.
* ``csv``: one header row and one row per line of the table (``section`` says which table), exact
  decimals, so a spreadsheet can recompute and compare.

Each renderer returns the lines to print (no trailing newline), so the command decides where they go.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, Final

from metaorder.posttrade.tca_fills import FillsReport, Total
from metaorder.posttrade.tca_journal import ChildTca, JournalReport, OrderFigures, VenueTca

__all__ = ["FORMATS", "bps", "money", "price", "qty", "render_fills", "render_journal", "table", "to_csv", "to_json"]

FORMATS: Final = ("table", "json", "csv")
_BPS_Q: Final = Decimal("0.01")
_PRICE_Q: Final = Decimal("0.0001")
#: Rounding for display in its own wide context: the ambient 28 digits would refuse to quantize a
#: large figure to 2 decimals (InvalidOperation), and rounding must not depend on the caller.
_SHOW: Final = Context(prec=100, rounding=ROUND_HALF_UP)


def bps(value: Decimal | None, signed: bool = True) -> str:
    if value is None:
        return "-"
    rounded = _SHOW.quantize(value, _BPS_Q)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return f"{rounded:+}" if signed else str(rounded)


def price(value: Decimal | None) -> str:
    return "-" if value is None else str(_SHOW.quantize(value, _PRICE_Q))


def money(value: Decimal | None) -> str:
    if value is None:
        return "-"
    rounded = _SHOW.quantize(value, _BPS_Q)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:+,}"


def qty(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def exact(value: Decimal | None) -> str | None:
    """A decimal for tools: its exact string, never an exponent form for ordinary magnitudes."""
    return None if value is None else f"{value:f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    """Columns padded to their widest cell; columns in ``right`` right-aligned (numbers)."""
    body = [list(r) for r in rows]
    widths = [max([len(h), *(len(r[n]) for r in body)]) for n, h in enumerate(headers)]
    align = set(right)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if n in align else c.ljust(w) for n, (c, w) in enumerate(zip(cells, widths,
                                                                                                  strict=True))).rstrip()

    return [line(headers), *(line(r) for r in body)]


def to_json(document: Mapping[str, Any]) -> list[str]:
    return [json.dumps(document, indent=2, ensure_ascii=False)]


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    width = len(header)  # every row as wide as the header: sections leave the columns they lack empty
    writer.writerows(["" if v is None else v for v in [*row, *([None] * (width - len(row)))]] for row in rows)
    return buffer.getvalue().split("\n")[:-1]  # not splitlines(): a cell may hold \x0c or U+2028


# --------------------------------------------------------------------------- fills


def _total_words(t: Total) -> str:
    label = "total" if t.side != "all" else "total all sides"
    avg = "" if t.side == "all" else f"  avg price {price(t.avg_price)}  avg benchmark {price(t.avg_benchmark)}"
    side = f" {t.side}" if t.side != "all" else ""
    return (f"{label}{side}: {t.fills} fills  quantity {qty(t.quantity)}{avg}"
            f"  performance {bps(t.performance_bps)} bps  cost {bps(t.cost_bps)} bps"
            f"  vs benchmark {money(t.performance_money)}")


def _total_json(t: Total) -> dict[str, Any]:
    return {"side": t.side, "fills": t.fills, "quantity": t.quantity, "notional": exact(t.notional),
            "benchmark_notional": exact(t.benchmark_notional), "avg_price": exact(t.avg_price),
            "avg_benchmark": exact(t.avg_benchmark), "performance_bps": exact(t.performance_bps),
            "cost_bps": exact(t.cost_bps), "performance_money": exact(t.performance_money)}


_FILL_CSV: Final = ("section", "child_id", "time", "venue", "order_type", "side", "fills", "quantity", "price",
                    "benchmark", "performance_bps", "cost_bps", "performance_money")


def render_fills(report: FillsReport, fmt: str) -> list[str]:
    """``report`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return to_json({
            "source": report.source,
            "conventions": {"performance_bps": "s*(benchmark-price)/benchmark*1e4, positive is better",
                            "cost_bps": "-performance_bps, positive is worse"},
            "fills": [{"line": r.line, "child_id": r.child_id, "time": r.time, "venue": r.venue,
                       "order_type": r.order_type, "side": r.side, "quantity": r.quantity, "price": exact(r.price),
                       "benchmark": exact(r.benchmark), "performance_bps": exact(r.performance_bps),
                       "cost_bps": exact(r.cost_bps), "performance_money": exact(r.performance_money)}
                      for r in report.rows],
            "totals": [_total_json(t) for t in report.totals],
            "total": _total_json(report.total),
        })
    if fmt == "csv":
        rows: list[list[object]] = [
            ["fill", r.child_id, r.time, r.venue, r.order_type, r.side, 1, r.quantity, exact(r.price),
             exact(r.benchmark), exact(r.performance_bps), exact(r.cost_bps), exact(r.performance_money)]
            for r in report.rows]
        rows += [["total", "", "", "", "", t.side, t.fills, t.quantity, exact(t.avg_price), exact(t.avg_benchmark),
                  exact(t.performance_bps), exact(t.cost_bps), exact(t.performance_money)] for t in report.totals]
        return to_csv(_FILL_CSV, rows)
    lines = [f"{report.source}: {len(report.rows)} fills; performance = s*(benchmark - price)/benchmark in bps"
             " (positive is better), cost = its negative"]
    lines += table(
        ("child", "time", "venue", "type", "side", "quantity", "price", "benchmark", "perf bps", "cost bps"),
        ([r.child_id, r.time, r.venue, r.order_type, r.side, qty(r.quantity), str(r.price), str(r.benchmark),
          bps(r.performance_bps), bps(r.cost_bps)] for r in report.rows),
        right=(5, 6, 7, 8, 9))
    lines.append("")
    lines += [_total_words(t) for t in report.totals]
    return lines


# --------------------------------------------------------------------------- journal


def _time(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    from metaorder.posttrade.audit import format_time

    return format_time(epoch)


_SOURCE_WORDS: Final = {"sample": "sample", "first child": "child", "estimate": "estimate"}


def _age(f: OrderFigures) -> str:
    """Where the arrival mid was seen, relative to arrival, for the table: ``sample -0.350s``."""
    age = f.arrival_age_s
    if f.arrival is None or age is None:
        return "-"
    return f"{_SOURCE_WORDS.get(f.arrival_source, f.arrival_source)} {-age:+.3f}s"


def _arrival_detail(f: OrderFigures) -> str | None:
    """The same for tools, in words: ``sample at 09:00:00.650 (350 ms before arrival)``."""
    age, seen = f.arrival_age_s, f.arrival_time
    if f.arrival is None or age is None or seen is None:
        return None
    ms = round(age * 1000)
    when = "at arrival" if ms == 0 else f"{abs(ms):,} ms {'before' if ms > 0 else 'after'} arrival"
    return f"{f.arrival_source} at {_time(seen)[11:-1]} ({when})"


def _figures_json(f: OrderFigures) -> dict[str, Any]:
    s = f.shortfall
    doc: dict[str, Any] = {
        "kind": f.kind, "id": f.id, "label": f.label, "symbol": f.symbol, "side": f.side, "qty": f.qty,
        "filled": f.filled, "avg_price": exact(f.avg_price), "start": _time(f.start), "end": _time(f.end),
        "status": f.status, "arrival_mid": exact(f.arrival), "arrival_source": f.arrival_source,
        "arrival_time": None if f.arrival_time is None else _time(f.arrival_time),
        "arrival_age_s": None if f.arrival_age_s is None else round(f.arrival_age_s, 3),
        "arrival_detail": _arrival_detail(f),
        "start_mid": exact(f.start_mid), "end_mid": exact(f.end_mid), "interval_vwap": exact(f.vwap),
        "cost_vs_arrival_bps": exact(f.cost_vs_arrival_bps), "cost_vs_vwap_bps": exact(f.cost_vs_vwap_bps),
        "fees": exact(f.fees), "shortfall": None,
    }
    if s is not None:
        doc["shortfall"] = {name: {"money": exact(v), "bps": exact(s.bps(v))} for name, v in
                            (("delay", s.delay), ("execution", s.execution), ("opportunity", s.opportunity),
                             ("fees", s.fees), ("total", s.total))}
    if f.estimate is not None:
        e = f.estimate
        doc["pre_trade_estimate"] = {"expected_cost": e.expected_cost, "std_cost": e.std_cost,
                                     "arrival_price": exact(e.arrival_price),
                                     "realized_cost": exact(f.realized_vs_estimate), "z": exact(f.estimate_z)}
    return doc


def _child_json(c: ChildTca) -> dict[str, Any]:
    return {"child_id": c.child_id, "parent_id": c.parent_id, "venue": c.venue, "time": _time(c.time),
            "side": "buy" if c.sign > 0 else "sell", "qty": c.qty, "order_type": c.order_type,
            "limit": exact(c.limit), "peg": c.peg,
            "filled": c.filled,
            "avg_price": exact(c.avg_price), "mid_at_send": exact(c.mid), "cost_vs_mid_bps": exact(c.cost_vs_mid_bps),
            "fees": exact(c.fees), "state": c.state,
            "markout_bps": {f"{h:g}s": exact(v) for h, v in c.markouts}}


def _venue_json(v: VenueTca) -> dict[str, Any]:
    return {"venue": v.venue, "children": v.children, "sent": v.sent, "filled": v.filled,
            "fill_rate": exact(v.fill_rate), "fees": exact(v.fees), "cost_vs_mid_bps": exact(v.cost_vs_mid_bps),
            "markout_bps": {f"{h:g}s": exact(b) for h, b in v.markouts}}


_JOURNAL_CSV: Final = ("section", "id", "label", "parent_id", "symbol", "venue", "side", "qty", "filled", "avg_price",
                       "arrival_mid", "cost_vs_arrival_bps", "interval_vwap", "cost_vs_vwap_bps", "delay",
                       "execution", "opportunity", "fees", "shortfall", "shortfall_bps", "mid_at_send",
                       "cost_vs_mid_bps", "fill_rate", "status", "arrival_source", "arrival_age_s", "order_type",
                       "limit", "peg")


def _figures_row(f: OrderFigures) -> list[object]:
    s = f.shortfall
    parts: list[object] = [None] * 6 if s is None else [exact(s.delay), exact(s.execution), exact(s.opportunity),
                                                        exact(s.fees), exact(s.total), exact(s.bps(s.total))]
    return [f.kind, f.id, f.label, "", f.symbol, "", f.side, f.qty, f.filled, exact(f.avg_price), exact(f.arrival),
            exact(f.cost_vs_arrival_bps), exact(f.vwap), exact(f.cost_vs_vwap_bps), *parts, None, None, None,
            f.status, f.arrival_source, None if f.arrival_age_s is None else round(f.arrival_age_s, 3)]


def _figures_table(rows: Sequence[OrderFigures], first: str) -> list[str]:
    return table(
        (first, "label", "side", "qty", "filled", "avg px", "arrival mid", "mid seen", "cost vs arr", "VWAP",
         "cost vs VWAP", "status"),
        ([f.id, f.label, f"{f.side} {f.symbol}", qty(f.qty), qty(f.filled), price(f.avg_price), price(f.arrival),
          _age(f), bps(f.cost_vs_arrival_bps), price(f.vwap), bps(f.cost_vs_vwap_bps), f.status] for f in rows),
        right=(3, 4, 5, 6, 8, 9, 10))


def _shortfall_table(rows: Sequence[OrderFigures]) -> list[str]:
    body = []
    for f in rows:
        s = f.shortfall
        if s is None:
            body.append([f.id, "-", "-", "-", "-", "-", "-"])
            continue
        body.append([f.id, *(f"{money(v)} ({bps(s.bps(v))})" for v in (s.delay, s.execution, s.opportunity,
                                                                        s.fees)), money(s.total), bps(s.bps(s.total))])
    return table(("shortfall", "delay", "execution", "opportunity", "fees", "total", "total bps"), body,
                 right=(1, 2, 3, 4, 5, 6))


def render_journal(report: JournalReport, fmt: str) -> list[str]:
    """``report`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return to_json({
            "subject": report.subject, "journal": report.source, "market_samples": report.samples,
            "conventions": {"cost_bps": "s*(price-benchmark)/benchmark*1e4, positive is worse",
                            "shortfall": "money; bps of qty*arrival_mid; positive is a cost",
                            "markout_bps": "s*(mid(t+h)-price)/price*1e4, negative is adverse"},
            "orders": [_figures_json(f) for f in report.orders],
            "parents": [_figures_json(f) for f in report.parents],
            "children": [_child_json(c) for c in report.children],
            "venues": [_venue_json(v) for v in report.venues],
        })
    if fmt == "csv":
        rows = [_figures_row(f) for f in (*report.orders, *report.parents)]
        rows += [["child", c.child_id, "", c.parent_id, "", c.venue, "buy" if c.sign > 0 else "sell", c.qty, c.filled,
                  exact(c.avg_price), *([None] * 10), exact(c.mid), exact(c.cost_vs_mid_bps), None, c.state, None,
                  None, c.order_type, exact(c.limit), "true" if c.peg else "false"]
                 for c in report.children]
        rows += [["venue", v.venue, "", "", "", v.venue, "", v.sent, v.filled, *([None] * 8), exact(v.fees),
                  *([None] * 3), exact(v.cost_vs_mid_bps), exact(v.fill_rate), ""] for v in report.venues]
        return to_csv(_JOURNAL_CSV, rows)
    lines = [f"tca {report.subject} from {report.source}: {len(report.orders)} orders, {len(report.parents)} parents,"
             f" {len(report.children)} children; costs in bps, positive is worse"]
    if not report.samples:
        lines.append("note: no market samples in this journal (written before they were recorded): arrival is the"
                     " mid at the first child, sent after it (mid seen: child +N s), no interval VWAP")
    lines += ["", *_figures_table(report.orders, "order")]
    if report.parents:
        lines += ["", *_figures_table(report.parents, "parent")]
    lines += ["", *_shortfall_table([*report.orders, *report.parents])]
    for f in report.parents:
        e = f.estimate
        if e is not None:
            z = f.estimate_z
            lines.append(f"{f.id} pre-trade estimate ({e.strategy}): expected cost {e.expected_cost:,.2f}"
                         f" ± {e.std_cost:,.2f}; realized {money(f.realized_vs_estimate)}"
                         + (f" ({z:+.2f} sd)" if z is not None else ""))
    if report.children:
        lines += ["", *table(
            ("child", "parent", "venue", "time", "qty", "type", "filled", "avg px", "mid at send", "cost vs mid",
             "fees", "state", "markouts"),
            ([c.child_id, c.parent_id, c.venue, _time(c.time)[11:], qty(c.qty),
              c.order_type, qty(c.filled), price(c.avg_price), price(c.mid),
              bps(c.cost_vs_mid_bps), money(c.fees) if c.fees else "-", c.state,
              " ".join(f"{h:g}s {bps(v)}" for h, v in c.markouts) or "-"] for c in report.children),
            right=(4, 6, 7, 8, 9, 10))]
    if report.venues:
        lines += ["", *table(
            ("venue", "children", "sent", "filled", "fill rate", "fees", "cost vs mid", "markouts (bps)"),
            ([v.venue, str(v.children), qty(v.sent), qty(v.filled),
              "-" if v.fill_rate is None else f"{v.fill_rate * 100:.1f}%", money(v.fees), bps(v.cost_vs_mid_bps),
              " ".join(f"{h:g}s {bps(b)}" for h, b in v.markouts) or "-"] for v in report.venues),
            right=(1, 2, 3, 4, 5, 6))]
    return lines
