"""How the package decides between its mypyc-compiled modules and their sources."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path

import pytest

import metaorder
from metaorder.native import COMPILED, GROUP, build_state, source_path

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def fake_tree(root: Path, *, compiled: bool = True) -> Path:
    """A package directory with every compiled module's source (and, if ``compiled``, its
    extension and the shared library), all older than now."""
    package = root / "metaorder"
    for name in COMPILED:
        source = source_path(name, package)
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text("")
        os.utime(source, (1_000_000, 1_000_000))
        if compiled:
            source.with_name(source.stem + SUFFIX).write_bytes(b"")
    if compiled:
        (root / f"{GROUP}__mypyc{SUFFIX}").write_bytes(b"")
    return package


def test_a_build_newer_than_every_source_is_used(tmp_path: Path) -> None:
    assert build_state(fake_tree(tmp_path)) == "compiled"


def test_a_tree_without_extensions_is_a_pure_python_install(tmp_path: Path) -> None:
    assert build_state(fake_tree(tmp_path, compiled=False)) == "none"


def test_a_source_edited_after_the_build_makes_the_build_stale(tmp_path: Path) -> None:
    package = fake_tree(tmp_path)
    os.utime(source_path("metaorder.orders.intake", package))  # now: after the extensions were written
    assert build_state(package) == "stale: orders/intake.py changed after it was compiled"


def test_a_module_compiled_once_and_taken_off_the_list_makes_the_build_stale(tmp_path: Path) -> None:
    package = fake_tree(tmp_path)
    (package / "orders" / f"describe{SUFFIX}").write_bytes(b"")
    assert build_state(package) == (
        f"stale: orders/describe{SUFFIX} is not on the list of compiled modules")


def test_a_missing_shared_library_or_module_makes_the_build_stale(tmp_path: Path) -> None:
    package = fake_tree(tmp_path)
    (tmp_path / f"{GROUP}__mypyc{SUFFIX}").unlink()
    assert build_state(package) == "stale: the compiled library is missing"
    package = fake_tree(tmp_path / "again")
    source_path("metaorder.redo", package).with_name("redo" + SUFFIX).unlink()
    assert build_state(package) == "stale: metaorder.redo is not compiled"


def _implementation(env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c",
         "import metaorder, metaorder.orders.intake as m; print(metaorder.IMPLEMENTATION); print(m.__file__)"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env}, check=True)
    return out.stdout.splitlines()


def test_metaorder_pure_python_runs_the_sources_of_the_compiled_modules() -> None:
    implementation, path = _implementation({"METAORDER_PURE_PYTHON": "1"})
    assert implementation == "python"
    assert path.endswith("intake.py")


@pytest.mark.skipif(metaorder.IMPLEMENTATION != "compiled", reason="the compiled modules are not what runs here")
def test_a_current_build_runs_the_compiled_modules() -> None:
    implementation, path = _implementation({"METAORDER_PURE_PYTHON": ""})
    assert implementation == "compiled"
    assert path.endswith(SUFFIX)
