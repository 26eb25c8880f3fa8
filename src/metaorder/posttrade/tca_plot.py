"""``metaorder tca --plot FILE.png``: the picture of an execution.

Why this module exists
----------------------
A table says how much an execution cost; a picture says where: fills chasing a rising price, a
venue that filled only at the worst moments, an execution running behind its schedule.  Only
``--plot`` imports this module, and it imports matplotlib (with the file-only Agg backend: no
display is needed, and none is opened) when it draws, so the command and the daemon never pay for it.

Two panels, sharing the time axis:

* top: the price — the market's mid (journal), the fills as markers, one colour per venue, sized
  by quantity, and the benchmarks as horizontal lines (arrival mid and interval VWAP; for a fills
  file, each fill's benchmark as a step line and the average price);
* bottom: cumulative quantity executed against the schedule (journal: the strategy's straight
  line from start to end for the parent's quantity; a fills file has no schedule, so it shows
  the cumulative fills alone).

Prices are drawn as floats: plotting is the one place a float is good enough.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from metaorder.posttrade.tca_fills import FillsReport

if TYPE_CHECKING:
    from metaorder.posttrade.tca_journal import JournalReport

__all__ = ["plot_fills", "plot_journal"]

_FIGSIZE = (11.0, 7.0)  # inches: wide enough for a trading hour on the time axis

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _times(seconds: Sequence[float]) -> list[dt.datetime]:
    """Matplotlib x values: UTC datetimes (a time of day, as seconds since midnight, lands on 1970-01-01)."""
    return [dt.datetime.fromtimestamp(s, tz=dt.UTC) for s in seconds]


def _size(quantity: int, largest: int) -> float:
    return 30.0 + 170.0 * quantity / largest if largest else 60.0


def _finish(plt: Any, fig: Any, top: Any, bottom: Any, quantity_label: str, path: Path) -> None:
    """Both panels labelled and gridded, prices as prices (no "+1e2" offset), times as HH:MM:SS, then
    the file; the figure is closed (pyplot keeps every open one)."""
    import matplotlib.dates as mdates

    bottom.set_ylabel(quantity_label)
    bottom.set_xlabel("time (UTC)")
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="upper left", fontsize="small")
    top.ticklabel_format(axis="y", useOffset=False, style="plain")
    top.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    fig.autofmt_xdate()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fills(report: FillsReport, path: Path) -> None:
    """Fills over time by venue with each fill's benchmark, then the cumulative quantity."""
    plt = _pyplot()
    rows = sorted(report.rows, key=lambda r: (r.seconds, r.line))
    times = _times([r.seconds for r in rows])
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=_FIGSIZE, height_ratios=(3, 1.4),
                                      layout="constrained")
    largest = max(r.quantity for r in rows)
    top.step(times, [float(r.benchmark) for r in rows], where="post", color="0.45", linewidth=1.2,
             label="benchmark")
    for n, venue in enumerate(sorted({r.venue for r in rows})):
        mine = [(t, r) for t, r in zip(times, rows, strict=True) if r.venue == venue]
        top.scatter([t for t, _ in mine], [float(r.price) for _, r in mine], s=[_size(r.quantity, largest)
                                                                                   for _, r in mine],
                    marker=_MARKERS[n % len(_MARKERS)], alpha=0.8, label=f"fills {venue or '(no venue)'}",
                    edgecolors="black", linewidths=0.4, zorder=3)
    for total in report.totals:
        if total.avg_price is not None:
            top.axhline(float(total.avg_price), linestyle="--", linewidth=1, color="tab:red" if total.side == "buy"
                        else "tab:purple", label=f"avg price {total.side} {total.avg_price:.4f}")
    total = report.total
    top.set_title(f"{Path(report.source).name}: {len(rows)} fills, {total.quantity:,} shares, "
                  f"performance {total.performance_bps:+.2f} bps (cost {total.cost_bps:+.2f} bps)")
    cumulative, running = [0], 0
    for r in rows:
        running += r.quantity
        cumulative.append(running)
    bottom.step([times[0], *times], cumulative, where="post", color="tab:blue", label="executed")
    _finish(plt, fig, top, bottom, "cumulative quantity", path)


def plot_journal(report: JournalReport, path: Path) -> None:
    """One parent's (the first) execution: mid, fills by venue, arrival and VWAP; executed vs schedule."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=_FIGSIZE, height_ratios=(3, 1.4),
                                      layout="constrained")
    picture = report.picture
    if picture is None:
        top.text(0.5, 0.5, "nothing executed", ha="center", va="center", transform=top.transAxes)
    else:
        if picture.mids:
            top.step(_times([t for t, _ in picture.mids]), [float(m) for _, m in picture.mids],
                     where="post", color="0.4", linewidth=1, label=f"{picture.symbol} mid")
        fills = picture.fills
        largest = max((q for _, _, q, _ in fills), default=0)
        for n, venue in enumerate(sorted({v for _, _, _, v in fills})):
            mine = [f for f in fills if f[3] == venue]
            top.scatter(_times([t for t, _, _, _ in mine]), [float(p) for _, p, _, _ in mine],
                        s=[_size(q, largest) for _, _, q, _ in mine], marker=_MARKERS[n % len(_MARKERS)],
                        alpha=0.8, edgecolors="black", linewidths=0.4, label=f"fills {venue}", zorder=3)
        if picture.arrival is not None:
            top.axhline(float(picture.arrival), color="tab:green", linestyle="--", linewidth=1.2,
                        label=f"arrival mid {picture.arrival:.4f}")
        if picture.vwap is not None:
            top.axhline(float(picture.vwap), color="tab:orange", linestyle="-.", linewidth=1.2,
                        label=f"interval VWAP {picture.vwap:.4f}")
        if picture.avg_price is not None:
            top.axhline(float(picture.avg_price), color="tab:red", linestyle=":", linewidth=1.5,
                        label=f"avg price {picture.avg_price:.4f}")
        top.set_title(picture.title)
        executed = picture.executed
        if executed:
            bottom.step(_times([t for t, _ in executed]), [q for _, q in executed], where="post",
                        color="tab:blue", label="executed")
        if picture.schedule:
            bottom.plot(_times([t for t, _ in picture.schedule]), [q for _, q in picture.schedule],
                        color="0.5", linestyle="--", label="schedule (linear over the window)")
    _finish(plt, fig, top, bottom, "cumulative shares", path)
