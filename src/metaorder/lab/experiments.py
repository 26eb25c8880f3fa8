"""The lab's target experiments: each target of the issue measured on a small flow that exercises it.

Why not the standard flow: its 200 small orders (windows of 2–10 minutes, heavily netted) are what
aggregation is about, not what the strategies' targets are about.  An IS estimate is a forecast for
one *sizeable* parent (1–3 % of daily volume, where impact and risk matter); a POV participation
needs a parent that trades for a while and cannot finish early; a VWAP tracking figure needs a
parent that is a few % of its window's volume.  So each target gets a fixed, small flow of such
parents, run through :func:`metaorder.lab.runner.run_once` on the lab's landscape (configs/lab.toml,
lab-venues.toml) on fixed seeds — no new simulation code, the same measurements:

* ``is`` — buy 60,000 ACME, sell 150,000 GLOBX, buy 20,000 NOVA (1.0, 1.7, 1.0 % of ADV) over 30
  minutes at the open, Urgency HIGH, worked as IS; and the same orders worked as TWAP (Urgency HIGH).
  Target 4a (:func:`metaorder.lab.targets.is_vs_estimate`): per seed, each IS parent's realized shortfall ($, vs the
  journaled estimate's arrival price, fees and opportunity on the unfilled included) against its
  E ± 1 sd (counted), and — the headline — the seed's total against ΣE ± sqrt(ΣVar).  The headline
  is the total because the target speaks of seeds, and a seed is one trial of the whole flow; the
  per-parent count is shown too, pooled over seeds (about 68 % inside if the model's σ is right).
  Target 4b (:func:`metaorder.lab.targets.is_high_vs_twap`): E + λ·Var, in the model from each
  journaled estimate against the TWAP trajectory with the same parameters, and realized: per order,
  mean realized cost + λ × variance of the realized cost across seeds, summed over the orders, IS
  runs against TWAP runs.
* ``vwap`` — per seed one run of six VWAP parents on the four liquid names: two over 60 minutes,
  two over 30 minutes from the open and two more over 30 minutes after those end, each about
  :data:`VWAP_WINDOW_SHARE` of its window's expected volume.  Target 2: the executed-qty-weighted
  mean |slippage vs interval VWAP| (bps) over the parents ≤ 2 bps on every seed
  (:func:`metaorder.lab.targets.vwap_tracking`).
* ``pov`` — per seed one run of four POV parents too large to complete (
  :data:`POV_OVERSIZE` × what ρ of the window's expected volume would be): ρ = 0.1 on ACME (30 min)
  and GLOBX (25 min), 0.05 on NOVA (30 min), 0.2 on ZEPH (20 min).  Target 3: realized participation
  / ρ in [0.9, 1.1] on every seed, ours = venue executions, others = tape volume − our prints over
  the parent's life (:func:`metaorder.lab.targets.pov_participation`); completion is reported so a
  reader can check that none of them finished early.

``minutes`` scales every window (30 by default: the IS window, the VWAP's short one, the POV's
longest); quantities scale with the window so the orders stay the same share of it.  The tests run
the experiments with a few minutes.  Every experiment is a pure function of its seeds and configs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from metaorder.config import MetaorderConfig, VenuesConfig, load_config, load_venues_config
from metaorder.lab.flow import FlowOrder
from metaorder.lab.runner import RunResult, run_once
from metaorder.lab.targets import (
    is_high_vs_twap,
    is_vs_estimate,
    pov_participation,
    pov_ratios,
    vwap_tracking,
    vwap_tracking_bps,
)

EXPERIMENTS = ("is", "vwap", "pov")
DEFAULT_MINUTES = 30.0
DEFAULT_CONFIG = "configs/lab.toml"
DEFAULT_VENUES = "configs/lab-venues.toml"
SESSION_S = 6.5 * 3600  # the simulated session (lab-venues.toml session_hours)
OPEN_BUSY = 1.8  # the first half hour's volume over an even day's: taker rate ∝ 1 + 2x², x = -1 at the open
VWAP_WINDOW_SHARE = 0.03  # a VWAP parent's share of its window's expected volume
POV_OVERSIZE = 1.5  # a POV parent is this many times what it could do at ρ over its window
LIQUID = ("ACME", "GLOBX", "NOVA", "ZEPH")
# (symbol, side, shares over DEFAULT_MINUTES): 1.0 %, 1.7 %, 1.0 % of ADV (lab.toml daily_volume)
IS_ORDERS = (("ACME", "1", 60_000), ("GLOBX", "2", 150_000), ("NOVA", "1", 20_000))
# (symbol, side, window as a multiple of `minutes`, start as a multiple of `minutes`)
VWAP_ORDERS = (("ACME", "1", 2.0, 0.0), ("NOVA", "2", 2.0, 0.0), ("GLOBX", "1", 1.0, 0.0),
               ("ZEPH", "2", 1.0, 0.0), ("GLOBX", "2", 1.0, 1.02), ("ZEPH", "1", 1.0, 1.02))
# (symbol, side, ρ, window as a multiple of `minutes`)
POV_ORDERS = (("ACME", "1", "0.1", 1.0), ("GLOBX", "2", "0.1", 25 / 30), ("NOVA", "1", "0.05", 1.0),
              ("ZEPH", "2", "0.2", 20 / 30))
SESSIONS = ("OMS1", "OMS2", "OMS3")

Task = tuple[str, str, int, str | None]  # (experiment, strategy, seed, urgency)


@dataclass(frozen=True, slots=True)
class _Instrument:
    daily_volume: int
    lot_size: int


def _instruments(config: MetaorderConfig) -> dict[str, _Instrument]:
    return {i.symbol: _Instrument(i.daily_volume or 0, i.lot_size) for i in config.instrument}


def _lots(shares: float, lot: int) -> int:
    return max(1, round(shares / lot)) * lot


def _order(n: int, symbol: str, side: str, qty: int, window_s: float, start_s: float = 0.0,
           strategy: str | None = None, participation: Decimal | None = None,
           urgency: str | None = None) -> FlowOrder:
    return FlowOrder(start_s, SESSIONS[n % len(SESSIONS)], f"EXP{n + 1:02d}", symbol, side, qty, None, strategy,
                     window_s, participation, urgency, cl_ord_id=f"X{n + 1}")


def window_volume(daily_volume: int, window_s: float) -> float:
    """Expected tape volume of a window near the open: an even day's share, times :data:`OPEN_BUSY`."""
    return daily_volume * window_s / SESSION_S * OPEN_BUSY


def is_flow(config: MetaorderConfig, minutes: float = DEFAULT_MINUTES) -> list[FlowOrder]:
    """:data:`IS_ORDERS`, scaled to a window of ``minutes``, Urgency HIGH, at the flow's start."""
    inst = _instruments(config)
    scale = minutes / DEFAULT_MINUTES
    return [_order(n, sym, side, _lots(qty * scale, inst[sym].lot_size), minutes * 60, strategy="IS",
                   urgency="HIGH") for n, (sym, side, qty) in enumerate(IS_ORDERS)]


def vwap_flow(config: MetaorderConfig, minutes: float = DEFAULT_MINUTES) -> list[FlowOrder]:
    """:data:`VWAP_ORDERS`: each :data:`VWAP_WINDOW_SHARE` of its window's expected volume."""
    inst = _instruments(config)
    out = []
    for n, (sym, side, length, start) in enumerate(VWAP_ORDERS):
        window = length * minutes * 60
        qty = _lots(VWAP_WINDOW_SHARE * window_volume(inst[sym].daily_volume, window), inst[sym].lot_size)
        out.append(_order(n, sym, side, qty, window, start * minutes * 60, strategy="VWAP"))
    return out


def pov_flow(config: MetaorderConfig, minutes: float = DEFAULT_MINUTES) -> list[FlowOrder]:
    """:data:`POV_ORDERS`: :data:`POV_OVERSIZE` × ρ/(1−ρ) × the window's expected volume (GUIDE §6)."""
    inst = _instruments(config)
    out = []
    for n, (sym, side, rate, length) in enumerate(POV_ORDERS):
        window = length * minutes * 60
        rho = Decimal(rate)
        could = float(rho / (1 - rho)) * window_volume(inst[sym].daily_volume, window)
        out.append(_order(n, sym, side, _lots(POV_OVERSIZE * could, inst[sym].lot_size), window, strategy="POV",
                          participation=rho))
    return out


FLOWS: dict[str, Callable[[MetaorderConfig, float], list[FlowOrder]]] = {
    "is": is_flow, "vwap": vwap_flow, "pov": pov_flow}


def tasks(name: str, seeds: Sequence[int]) -> list[Task]:
    """The runs experiment ``name`` needs on ``seeds``."""
    if name == "is":
        return [(name, strategy, s, "HIGH") for strategy in ("IS", "TWAP") for s in seeds]
    if name in ("vwap", "pov"):
        return [(name, name.upper(), s, None) for s in seeds]
    raise ValueError(f"unknown experiment {name!r} (known: {', '.join(EXPERIMENTS)})")


def run_task(config: MetaorderConfig, venues: VenuesConfig, task: Task, minutes: float) -> RunResult:
    """One run of an experiment (a module-level function: it goes to worker processes)."""
    name, strategy, seed, urgency = task
    return run_once(config, venues, FLOWS[name](config, minutes), strategy, seed, urgency=urgency)


def run_tasks(config: MetaorderConfig, venues: VenuesConfig, todo: Sequence[Task], minutes: float,
              jobs: int = 1) -> list[RunResult]:
    """Every task's run, in order, on ``jobs`` worker processes (the same results whatever ``jobs``)."""
    if jobs > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            futures = [pool.submit(run_task, config, venues, t, minutes) for t in todo]
            return [f.result() for f in futures]
    return [run_task(config, venues, t, minutes) for t in todo]


def liquid_map(config: MetaorderConfig) -> dict[str, bool]:
    return {i.symbol: i.symbol in LIQUID for i in config.instrument}


def targets_of(name: str, todo: Sequence[Task], results: Sequence[RunResult],
               config: MetaorderConfig) -> dict[str, Any]:
    """The ``targets`` entries experiment ``name`` measures, from its runs (``todo[i]`` made ``results[i]``)."""
    mine = [r for t, r in zip(todo, results, strict=True) if t[0] == name]
    if name == "is":
        is_runs = [r for r in mine if r.strategy == "IS"]
        twap_runs = [r for r in mine if r.strategy == "TWAP"]
        return {"is_vs_estimate": is_vs_estimate(is_runs), "is_high_vs_twap": is_high_vs_twap(is_runs, twap_runs)}
    if name == "vwap":
        out = vwap_tracking(mine, liquid_map(config))
        out["experiment"] = _describe(name, mine)
        return {"vwap_tracking": out}
    if name == "pov":
        out = pov_participation(mine)
        out["experiment"] = _describe(name, mine)
        return {"pov_participation": out}
    raise ValueError(f"unknown experiment {name!r} (known: {', '.join(EXPERIMENTS)})")


def _describe(name: str, runs: Sequence[RunResult]) -> dict[str, Any]:
    """Which orders the experiment ran and, per seed, how far each got (completion) and its own
    figure: |slippage vs interval VWAP| in bps (vwap) or realized participation / ρ (pov)."""
    orders: dict[str, dict[str, Any]] = {}
    for r in runs:
        figure = _parent_figures(name, r)
        for o in r.orders:
            row = orders.setdefault(o.order_id, {"symbol": o.symbol, "side": "buy" if o.sign > 0 else "sell",
                                                 "qty": o.qty, "completion": {}, "figure": {}})
            row["completion"][str(r.seed)] = o.filled / o.qty if o.qty else None
            row["figure"][str(r.seed)] = figure.get(o.parent_id or "")
    what = "|vs interval VWAP| bps" if name == "vwap" else "participation / rho"
    return {"name": name, "figure": what, "orders": list(orders.values())}


def _parent_figures(name: str, run: RunResult) -> dict[str, float]:
    """Per parent: |slippage vs interval VWAP| (bps, as :func:`vwap_tracking_bps` weighs them) or
    ours / (ours + others) / ρ (as :func:`pov_ratios`)."""
    out: dict[str, float] = {}
    for p in run.parents:
        alone = replace(run, parents=(p,))
        if name == "vwap":
            value = vwap_tracking_bps(alone, {p.symbol: True})
        else:
            ratios = pov_ratios(alone)
            value = ratios[0][0] if ratios else None
        if value is not None:
            out[p.parent_id] = value
    return out


def run_experiment(name: str, seeds: Sequence[int], jobs: int = 1, minutes: float = DEFAULT_MINUTES,
                   config: MetaorderConfig | str | Path = DEFAULT_CONFIG,
                   venues: VenuesConfig | str | Path = DEFAULT_VENUES) -> dict[str, Any]:
    """Experiment ``name`` (``is``, ``vwap``, ``pov``) on ``seeds``: ``{target: {per_seed, ..., met}}``
    plus ``wall_s``.  ``config`` and ``venues`` are the lab's (paths are relative to the working
    directory); ``minutes`` scales the windows (see the module docstring)."""
    started = time.perf_counter()
    cfg = config if isinstance(config, MetaorderConfig) else load_config(config)
    ven = venues if isinstance(venues, VenuesConfig) else load_venues_config(venues)
    todo = tasks(name, seeds)
    results = run_tasks(cfg, ven, todo, minutes, jobs)
    out = targets_of(name, todo, results, cfg)
    out["wall_s"] = time.perf_counter() - started
    return out


# ---- all experiments ----------------------------------------------------------------------------


def merge_targets(names: Sequence[str], todo: Sequence[Task], results: Sequence[RunResult],
                  config: MetaorderConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in names:
        out.update(targets_of(n, todo, results, config))
    return out

