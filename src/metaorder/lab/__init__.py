"""The execution lab (``metaorder lab``): what aggregation, netting and slicing are worth, measured.

A flow of client orders (a CSV file, or the seeded standard flow) is replayed through the simulated
venues on the virtual clock once per strategy and once as the baseline ALONE, over several seeds;
the figures (cost vs arrival, fees, vs interval VWAP, participation, completion, internal share,
shares sent) are reported as mean±sd per strategy, overall, by liquidity and by instrument.

Modules: :mod:`~metaorder.lab.flow` (the orders), :mod:`~metaorder.lab.runner` (one run, measured),
:mod:`~metaorder.lab.metrics` (the figures), :mod:`~metaorder.lab.report` (table, JSON, plot),
:mod:`~metaorder.lab.command` (the command line and ``make bench``'s entry point),
:mod:`~metaorder.lab.targets` (the issue's targets) and :mod:`~metaorder.lab.experiments` (the
fixed-seed flows of sizeable parents the strategies' targets are measured on: ``run_experiment``);
:mod:`~metaorder.lab.routing` compares the routing logics (``--routers``: the flow once per router,
the KELP experiment, the routing targets).
"""

from metaorder.lab.command import add_arguments, bench_figures, run, run_lab
from metaorder.lab.experiments import run_experiment

__all__ = ["add_arguments", "bench_figures", "run", "run_experiment", "run_lab"]
