"""The lab's figures: one run's execution quality, then mean and standard deviation over seeds.

Every figure is a statistic over simulated runs, so it is a float (money stays exact in the run
records; it is divided only here).  Definitions, per run and per group of instruments:

* ``cost_vs_arrival_bps`` — s·(P_avg − P₀)/P₀·10⁴ per client order, P₀ the consolidated mid at its
  acknowledgement (:mod:`metaorder.posttrade.tca`), weighted by filled quantity; positive = worse.
* ``fees_bps`` — venue fees of the children (negative: rebates) over the notional they executed at the
  venues, in bps: what the routing paid per executed share.
* ``all_in_cost_bps`` — ``cost_vs_arrival_bps`` plus the same fees over the *client* filled notional:
  what the clients' orders cost all told.  Netting shows here twice: crossed shares pay no spread and
  no fee.
* ``vs_interval_vwap_bps`` — the same cost against the market VWAP of each order's life (ack to final
  report), weighted by filled quantity; positive = worse than VWAP.
* ``participation`` — per parent, its lit executions over the consolidated tape volume of its symbol
  between its first order's acknowledgement and its last order's final report (the tape includes our
  prints, so this is ρ of GUIDE §6: ours / everyone's); averaged over parents weighted by the
  parent's quantity (Σ of its orders').  Dark fills and internal crosses do not print, so they are in
  neither the numerator nor the denominator.  Parents over which nothing printed are left out.
* ``completion`` — client shares filled at or before each order's ExpireTime over client shares ordered.
* ``internal_share`` — client shares filled by internal crosses over client shares ordered.
* ``sent_to_venues`` — shares of all child orders sent (a re-sent remainder counts again: this is the
  footprint the venues saw); ``executed_at_venues`` — shares the venues executed.

Over seeds: the mean, and the sample standard deviation (``None`` with fewer than two seeds: a
spread of one value is not zero, it is unknown).  A figure with no data in a run (no fills: no
cost) is left out of that mean.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from metaorder.lab.runner import RunResult

FIGURES = ("cost_vs_arrival_bps", "fees_bps", "all_in_cost_bps", "vs_interval_vwap_bps", "participation",
           "completion", "internal_share", "sent_to_venues", "executed_at_venues", "client_qty", "filled_qty",
           "orders")
_BPS = 10_000.0


@dataclass(frozen=True, slots=True)
class Figures:
    """One run's figures for one group of instruments (None: no data for it)."""

    values: dict[str, float | None]


def run_figures(run: RunResult, symbols: Callable[[str], bool] = lambda s: True) -> Figures:
    """The figures of ``run`` over the instruments ``symbols`` accepts (see the module docstring)."""
    orders = [o for o in run.orders if symbols(o.symbol)]
    execs = [x for x in run.executions if symbols(x.symbol)]
    parents = [p for p in run.parents if symbols(p.symbol) and p.tape_volume > 0]
    qty = sum(o.qty for o in orders)
    filled = sum(o.filled for o in orders)
    client_notional = sum((o.notional for o in orders), Decimal(0))
    fees = sum((x.fee for x in execs), Decimal(0))
    venue_notional = sum((x.qty * x.price for x in execs), Decimal(0))
    cost = _weighted((o.cost_bps, o.filled) for o in orders)
    values: dict[str, float | None] = {
        "cost_vs_arrival_bps": cost,
        "fees_bps": float(fees / venue_notional) * _BPS if venue_notional else None,
        "all_in_cost_bps": (cost + float(fees / client_notional) * _BPS) if cost is not None and client_notional
        else None,
        "vs_interval_vwap_bps": _weighted((o.vwap_bps, o.filled) for o in orders),
        "participation": (sum(p.qty * p.lit_qty / p.tape_volume for p in parents) / sum(p.qty for p in parents)
                          if parents else None),
        "completion": sum(o.filled_by_expiry for o in orders) / qty if qty else None,
        "internal_share": sum(o.internal for o in orders) / qty if qty else None,
        "sent_to_venues": float(sum(c.qty for c in run.children if c.qty > 0 and symbols(c.symbol))),
        "executed_at_venues": float(sum(x.qty for x in execs)),
        "client_qty": float(qty),
        "filled_qty": float(filled),
        "orders": float(len(orders)),
    }
    return Figures(values)


def _weighted(pairs: Iterable[tuple[Decimal | None, int]]) -> float | None:
    total = weight = 0.0
    for value, w in pairs:
        if value is not None and w > 0:
            total += float(value) * w
            weight += w
    return total / weight if weight else None


def over_seeds(runs: Sequence[Figures]) -> dict[str, float | None]:
    """``{figure: mean, figure_sd: sample sd}`` over runs (seeds); None where no run has the figure."""
    out: dict[str, float | None] = {}
    for name in FIGURES:
        values = [v for r in runs if (v := r.values.get(name)) is not None and math.isfinite(v)]
        out[name] = statistics.fmean(values) if values else None
        out[f"{name}_sd"] = statistics.stdev(values) if len(values) >= 2 else None
    return out


def summarize(runs: Sequence[RunResult],
              breakdowns: Mapping[str, Mapping[str, Callable[[str], bool]]]) -> dict[str, object]:
    """Figures over seeds for all instruments, then per breakdown and group.

    ``breakdowns`` is ``{breakdown: {group: accepts symbol}}``, e.g. ``{"by_liquidity": {"liquid": ...,
    "illiquid": ...}, "by_instrument": {"ACME": ...}}``; each becomes a key of the result."""
    out: dict[str, object] = dict(over_seeds([run_figures(r) for r in runs]))
    for breakdown, groups in breakdowns.items():
        out[breakdown] = {name: over_seeds([run_figures(r, accepts) for r in runs]) for name, accepts in groups.items()}
    return out


def order_costs(runs: Iterable[RunResult]) -> list[float]:
    """Every filled order's cost vs arrival (bps) over the runs: the distribution the plot shows."""
    return [float(o.cost_bps) for r in runs for o in r.orders if o.cost_bps is not None]
