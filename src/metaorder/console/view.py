"""Text the console shows: one line per report, the blotter table, an order's executions.

Pure.  The one-line form is shared by the script mode, ``--listen`` and the interactive console, so
a trader who watched a session can grep a CI log for the same lines.  It is stable: a fixed word
order, ``key=value`` for the optional parts and the Text last, quoted (it may hold spaces):

    ER C1 NEW ACME BUY 100 cum 0 leaves 100 avg 0 status NEW clordid=K3F9-C1 text="TWAP 14:00-14:02 UTC, ..."
    ER C1 FILL ACME BUY 100 last 40@142.51 ATLX cum 40 leaves 60 avg 142.51 status PARTIAL clordid=K3F9-C1
    CXLREJ C1 clordid=K3F9-C1-X1 reason="too late" text="..."
    REJECT C2 ref=7 reason=5 tag=847 text="Value is incorrect (out of range) for this tag"
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from metaorder.console.blotter import CXL_REJ_REASONS, EXEC_TYPES, SIDES, STATUSES, Blotter, OrderRow
from metaorder.fix.codec import Message


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def number(value: Decimal) -> str:
    """A price as the engine sent it, without an exponent and without trailing zeros past the point."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def report_line(msg: Message, ref: str | None = None) -> str:
    """One line for a received application message; ``ref`` is the console's id of its order, if any."""
    get = msg.first_values().get
    msg_type = msg.msg_type
    if msg_type == "8":
        cl = get(11) or ""
        parts = ["ER", ref or cl or "-", EXEC_TYPES.get(get(150) or "", get(150) or "?"), get(55) or "-",
                 SIDES.get(get(54) or "", get(54) or "-"), get(38) or "-"]
        if get(32) is not None and get(150) == "F":
            parts.append(f"last {get(32)}@{number(_dec(get(31)))} {get(30) or '-'}")
        parts += [f"cum {get(14) or 0}", f"leaves {get(151) or 0}", f"avg {number(_dec(get(6)))}",
                  f"status {STATUSES.get(get(39) or '', get(39) or '?')}", f"clordid={cl}"]
        if get(41):
            parts.append(f"orig={get(41)}")
        if get(115):
            parts.append(f"for={get(115)}")  # a drop copy: whose order
        if get(103):
            parts.append(f"reason={get(103)}")
        if get(58):
            parts.append(f"text={quote(get(58) or '')}")
        return " ".join(parts)
    if msg_type == "9":
        reason = CXL_REJ_REASONS.get(get(102) or "", get(102) or "")
        parts = ["CXLREJ", ref or get(41) or "-", f"clordid={get(11) or ''}", f"orig={get(41) or ''}",
                 f"status {STATUSES.get(get(39) or '', get(39) or '?')}", f"reason={quote(reason)}"]
        if get(58):
            parts.append(f"text={quote(get(58) or '')}")
        return " ".join(parts)
    if msg_type == "3":
        parts = ["REJECT", ref or "-", f"ref={get(45) or ''}", f"reason={get(373) or ''}"]
        if get(371):
            parts.append(f"tag={get(371)}")
        if get(372):
            parts.append(f"msgtype={get(372)}")
        parts.append(f"text={quote(get(58) or '')}")
        return " ".join(parts)
    if msg_type == "j":
        return " ".join(["BREJECT", ref or "-", f"ref={get(45) or ''}", f"msgtype={get(372) or ''}",
                         f"reason={get(380) or ''}", f"text={quote(get(58) or '')}"])
    return "MSG " + msg_type + " " + "|".join(f"{t}={v}" for t, v in msg.fields[1:])


HEADER = ("ID", "ClOrdID", "Symbol", "Side", "Qty", "Limit", "Cum", "Leaves", "AvgPx", "Status", "LastMkt",
          "Cost bps")


def row_cells(row: OrderRow) -> tuple[str, ...]:
    cost = row.cost_bps()
    return (row.ref, row.cl_ord_id, row.symbol, row.side, str(row.qty),
            number(row.limit) if row.limit is not None else "MKT", str(row.cum), str(row.leaves),
            number(row.avg_px) if row.cum else "-", row.status, row.last_market or "-",
            f"{cost:+.1f}" if cost is not None else "")


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip(), *(fmt.format(*r).rstrip() for r in rows)]


def blotter_lines(blotter: Blotter, rows: Sequence[OrderRow] | None = None) -> list[str]:
    shown = blotter.rows() if rows is None else list(rows)
    if not shown:
        return ["no orders yet"]
    return table([row_cells(r) for r in shown], HEADER)


def order_lines(row: OrderRow) -> list[str]:
    """``status ID``: the row, the chain of ClOrdIDs, the latest Text and the rejects."""
    lines = table([row_cells(row)], HEADER)
    lines.append(f"  chain: {' -> '.join(row.cl_ord_ids)}   order id: {row.order_id or '-'}")
    if row.text:
        lines.append(f"  text: {row.text}")
    if row.arrival is not None:
        lines.append(f"  arrival (stated): {number(row.arrival)}")
    lines += [f"  reject: {r}" for r in row.rejects]
    return lines


def fills_lines(row: OrderRow) -> list[str]:
    if not row.executions:
        return [f"{row.ref}: no executions yet"]
    cells = [(e.time, e.exec_id, str(e.qty), number(e.price), e.market) for e in row.executions]
    lines = table(cells, ("Time (UTC)", "ExecID", "Qty", "Price", "Market"))
    total = sum(e.qty for e in row.executions)
    lines.append(f"{len(row.executions)} executions, {total} shares, avg {number(row.avg_px)}")
    return lines


HELP = """\
new order                    buy|sell|short QTY SYMBOL [@ PRICE]   (market without a price)
  options, any order:        twap | vwap | is | pov RATE           (847; none: the engine's default)
                             for 30m|90s|2h  or  until HH:MM       (126 ExpireTime, UTC)
                             from HH:MM                            (168 EffectiveTime, UTC)
                             participation 10%                     (849)
                             urgency low|medium|high  aggressiveness passive|neutral|aggressive
                             routing best|sequential|parallel|seek (848)
                             arrival PRICE                         (not sent: the cost benchmark)
  e.g.                       buy 100 ACME vwap for 2m    sell 300 ZEPH pov 10%    buy 100 ACME @ 142.40
cancel ID                    replace ID [qty N] [@ PRICE]    status ID    fills ID
orders                       the blotter          wait [ID] [SECONDS]   until done (or SECONDS pass)
raw 35=D|55=ACME|...         any message; | for SOH; the header is filled in
help, quit                   ID: the console's C1, C2... or any ClOrdID"""


def _dec(text: str | None) -> Decimal:
    try:
        return Decimal(text or "0")
    except ArithmeticError:
        return Decimal(0)
