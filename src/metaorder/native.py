"""Which modules are compiled with mypyc, and the switch back to their sources when the build is stale.

Why compiled: the intake spends its time in plain Python (FIX framing and decoding, validation,
normalization, risk, the parent book, the journal and store records), 55-75 us per order on this
machine's one event-loop thread.  mypyc compiles exactly these typed modules to C extensions,
unchanged: 22-28% less CPU per order in ``bench/bench_intake_path.py`` and 32-35% more orders a
second saturated.  The sources stay the truth: ``setup.py`` compiles the list below when the
package is installed (``make install``), and without a C compiler, or with
``METAORDER_PURE_PYTHON=1``, the same modules run as Python.

A compiled module that is older than its source (edited since the last ``make install``) would
silently run the old code; the compiled modules call each other directly, so one stale module
cannot be swapped for its source alone.  :func:`use_sources_if_stale` (run by the package's
``__init__``) then loads all of them from their sources and says so once.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Final

#: The compiled modules: the order path, from bytes in to acknowledgement out.
COMPILED: Final = (
    "metaorder.eventcodec",
    "metaorder.events",
    "metaorder.fix.codec",
    "metaorder.fix.dictionary",
    "metaorder.fix.session",
    "metaorder.fix.store",
    "metaorder.orders.allocation",
    "metaorder.orders.book",
    "metaorder.orders.intake",
    "metaorder.orders.journal",
    "metaorder.orders.messages",
    "metaorder.orders.model",
    "metaorder.orders.normalize",
    "metaorder.orders.oms_fix",
    "metaorder.orders.risk",
    "metaorder.redo",
)
#: The shared library that holds the compiled code of all of them (``mypycify(group_name=...)``).
GROUP: Final = "metaorder_native"

_PACKAGE_DIR: Final = Path(__file__).resolve().parent


def source_path(module: str, package_dir: Path = _PACKAGE_DIR) -> Path:
    """The ``.py`` file of a module of this package."""
    return package_dir.joinpath(*module.split(".")[1:]).with_suffix(".py")


def _extension(base: Path) -> Path | None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.exists():
            return candidate
    return None


def build_state(package_dir: Path = _PACKAGE_DIR) -> str:
    """``"compiled"``, ``"none"`` (a pure Python install) or ``"stale: <why>"``."""
    shims = {name: _extension(source_path(name, package_dir).with_suffix("")) for name in COMPILED}
    if not any(shims.values()):
        return "none"
    group = _extension(package_dir.parent / f"{GROUP}__mypyc")
    if group is None:
        return "stale: the compiled library is missing"
    expected = {shim for shim in shims.values() if shim is not None}
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for stray in package_dir.rglob("*"):  # one walk for every suffix (this runs at each import)
        if stray.name.endswith(suffixes) and stray not in expected:  # compiled once, no longer listed
            return f"stale: {stray.relative_to(package_dir)} is not on the list of compiled modules"
    for name, shim in shims.items():
        if shim is None:
            return f"stale: {name} is not compiled"
        source = source_path(name, package_dir)
        if source.stat().st_mtime > min(shim.stat().st_mtime, group.stat().st_mtime):
            return f"stale: {source.relative_to(package_dir)} changed after it was compiled"
    return "compiled"


class _SourceFinder:
    """Finds the compiled modules' sources ahead of their extensions."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name not in COMPILED:
            return None
        return importlib.util.spec_from_file_location(name, source_path(name))


def use_sources_if_stale() -> str:
    """Load the compiled modules from their sources when asked to or when the build is stale.

    Returns what runs: ``"compiled"``, ``"python"`` or ``"python (stale build: ...)"``.
    """
    state = build_state()
    forced = os.environ.get("METAORDER_PURE_PYTHON", "") not in ("", "0")
    if state == "compiled" and not forced:
        return "compiled"
    if state == "none":
        return "python"
    if not any(isinstance(f, _SourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourceFinder())
    if forced:
        return "python"
    warnings.warn(f"metaorder: compiled modules are out of date ({state[7:]}); running their Python "
                  "sources, which is slower: `make install` rebuilds them", RuntimeWarning, stacklevel=2)
    return f"python (stale build: {state[7:]})"
