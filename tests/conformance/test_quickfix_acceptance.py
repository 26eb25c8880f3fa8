"""QuickFIX's FIX 4.4 acceptance suite against ``metaorder reflector``.

Each script is its own test case, against a reflector started for it (SenderCompID ISLD,
TargetCompIDs TW44 and TW, reset on logon, QuickFIX's FIX44.xml), so no script can inherit state
from another.  The scripts are read from ../shared; they are not part of this project.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.acceptance_script import load_patterns, run_script
from tests.support import QUICKFIX_DIR, in_ci, start_reflector

pytestmark = pytest.mark.conformance

SCRIPTS = sorted((QUICKFIX_DIR / "fix44").glob("*.def")) if QUICKFIX_DIR.is_dir() else []


def test_the_acceptance_suite_is_present() -> None:
    if not QUICKFIX_DIR.is_dir():
        message = f"QuickFIX acceptance scripts not found at {QUICKFIX_DIR}"
        if in_ci():
            pytest.fail(message + " (CI=true: the conformance suite must run)")
        pytest.skip(message)
    assert len(SCRIPTS) == 59


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_script(script: Path, tmp_path: Path) -> None:
    proc, port = start_reflector(tmp_path / "store.db", dictionary=QUICKFIX_DIR / "FIX44.xml")
    try:
        run_script(script, port, load_patterns(QUICKFIX_DIR / "fields.fmt"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- reflector log ---\n{proc.log()}") from None
    finally:
        proc.stop()
