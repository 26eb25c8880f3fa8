"""``bench/bench_lab.py``, the simulated day of issue 17, on a small flow; the flow it is made of."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from metaorder.config import load_config, load_venues_config
from metaorder.lab.command import instruments
from metaorder.lab.flow import ARRIVAL_GAP_S, standard_flow
from tests.support import REPO


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_bench_lab", REPO / "bench" / "bench_lab.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_a_flow_given_a_span_arrives_within_it_and_without_one_arrives_ten_a_minute() -> None:
    config = load_config(REPO / "configs/lab.toml")
    insts = instruments(config, load_venues_config(REPO / "configs/lab-venues.toml"))
    dense = standard_flow(300, 4, insts, config.risk.duplicate_window_s, span_s=600.0)
    assert len(dense) == 300 and max(o.time_s for o in dense) <= 600.0
    usual = standard_flow(300, 4, insts, config.risk.duplicate_window_s)
    assert usual == standard_flow(300, 4, insts, config.risk.duplicate_window_s, span_s=300 * ARRIVAL_GAP_S)
    assert max(o.time_s for o in usual) > 600.0


def test_the_bench_runs_a_flow_on_the_liquid_instruments_and_counts_what_happened() -> None:
    result = _bench().run(orders=30, strategy="TWAP", seed=2, span_hours=0.05)
    assert result["orders"] == 30 and result["completion"] > 0.9
    assert result["events"] == result["market_events"] + result["venue_messages"] + result["journal_entries"]
    assert result["market_events"] > 0 and result["venue_messages"] > 0 and result["journal_entries"] > 0
    assert result["wall_s"] > 0 and result["events_per_s"] > 0
