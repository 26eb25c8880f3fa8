"""The engine trading on venues in another process: `metaorder venues` listed as [[execution.venue]].

The same path a real FIX venue takes: the engine is the initiator, venues are configured by host,
port and CompID, sequence numbers persist in the engine's store.
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

from tests.integration.fixclient import FixClient
from tests.integration.test_pipeline import CONFIG, collect, twap_order
from tests.support import MetaorderProcess

ROOT = Path(__file__).resolve().parents[2]


def test_the_engine_trades_on_a_separate_metaorder_venues_process(tmp_path: Path) -> None:
    venues_toml = re.sub(r"(?m)^port = \d+", "port = 0", (ROOT / "configs" / "venues.toml").read_text())
    (tmp_path / "venues.toml").write_text(venues_toml)
    venues = MetaorderProcess(["venues", "--config", str(tmp_path / "venues.toml"), "--store-dir", str(tmp_path),
                               "--log-format", "json"])
    daemon = None
    try:
        ports: dict[str, int] = {}
        while len(ports) < 5:
            line = venues.wait_for_log("accepting")
            comp_id = str(line["sessions"]).split("<-")[0].strip("['\" ")
            ports[comp_id] = int(line["port"])  # type: ignore[call-overload]
        external = "".join(
            f'[[execution.venue]]\nname = "{name}"\nkind = "{"dark" if name in ("UMBRA", "NOCT") else "lit"}"\n'
            f'port = {port}\ncomp_id = "{name}"\ntaker_fee = "0.0030"\nmaker_fee = "-0.0020"\n\n'
            for name, port in sorted(ports.items()))
        config = CONFIG.format(tmp=tmp_path, root=ROOT).replace(
            f'embedded_venues = "{ROOT}/configs/venues.toml"\n', "")
        config = config.replace("[execution.twap]", external + "[execution.twap]")
        (tmp_path / "metaorder.toml").write_text(config)
        daemon = MetaorderProcess(["run", "--config", str(tmp_path / "metaorder.toml")])
        oms_port = daemon.wait_for_logs("OMS clients connect here")["OMS clients connect here"]["port"]
        for _ in range(5):
            daemon.wait_for_log("venue session up")
        assert isinstance(oms_port, int)
        with FixClient(oms_port, "OMS1", "METAORDER", timeout=30) as oms:
            oms.logon()
            oms.send("D", twap_order("X1", "GLOBX", "1", 900, 4.0))
            reports = collect(oms, lambda fs: bool(fs) and fs[-1].get(39) == "2", timeout=30)
        fills = [r for r in reports if r.get(150) == "F"]
        assert sum(int(r.get(32) or 0) for r in fills) == 900
        assert {r.get(30) for r in fills} <= set(ports)  # LastMkt: the venues of the other process
    finally:
        if daemon is not None:
            daemon.stop(signal.SIGTERM)
        venues.stop(signal.SIGTERM)
