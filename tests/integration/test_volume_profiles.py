"""The intraday volume profiles VWAP learns survive a restart of `metaorder run` (issue 14).

The daemon learns from every venue's prints (the embedded simulated venues trade on their own) and
saves the profiles at a clean stop to ``[execution] volume_profiles``; the next start reads them back.
The profile's session is the whole day here, so prints count whatever the hour the test runs at.
"""

from __future__ import annotations

import signal
from pathlib import Path

from metaorder.execution.volume_profile import ProfileBook, ProfileSettings
from tests.integration.fixclient import FixClient
from tests.integration.test_pipeline import CONFIG, Daemon, collect, twap_order

PROFILE_CONFIG = CONFIG.replace("passive_max_age_s = 3\n", '''passive_max_age_s = 3
volume_profiles = "{tmp}/profiles.json"
''').replace("[dropcopy]", '''[strategy.vwap]
session_open = "00:00"
session_close = "24:00"
[dropcopy]''')


def test_the_learned_profiles_are_saved_at_a_clean_stop_and_read_back_at_the_next_start(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path)
    daemon.config.write_text(PROFILE_CONFIG.format(tmp=tmp_path, root=Path(__file__).resolve().parents[2]))
    path = tmp_path / "profiles.json"
    try:
        daemon.start()  # every venue session is up: market data flows
        assert daemon.proc is not None
        with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=30) as oms:
            oms.logon()
            oms.send("D", [*twap_order("V1", "ACME", "1", 300, 2.0), (848, "Aggressiveness=AGGRESSIVE")])
            collect(oms, lambda reports: any(r.get(39) == "2" for r in reports), 30)  # filled: it printed
        assert daemon.proc.stop(signal.SIGTERM) == 0
        settings = ProfileSettings(session_open_s=0, session_close_s=86_400)
        saved = ProfileBook.load(path, settings)
        text = path.read_text()
        assert '"ACME"' in text, text[:200]  # prints were seen and kept (today's bins, not yet a learned day)
        daemon.start()  # reads them back (a file it could not read would stop it: ValueError at start-up)
        assert daemon.proc.stop(signal.SIGTERM) == 0
        again = ProfileBook.load(path, settings)
        assert again.to_json() != "" and set(_symbols(again)) >= set(_symbols(saved))
    finally:
        if daemon.proc is not None and daemon.proc.proc.poll() is None:
            daemon.proc.stop(signal.SIGKILL)


def _symbols(book: ProfileBook) -> list[str]:
    import json

    return list(json.loads(book.to_json())["symbols"])
