#!/usr/bin/env python3
"""Builds the benchmark's compiled tools into ``build/bench/`` (``make bench-tools``; ``bench/run.py`` too).

The tools are C and C++ so that what measures (the load generator) and what sets the floor (a bare echo
server) and the baseline (QuickFIX C++) cost as little as they can:

- ``loadgen`` (``bench/loadgen.c``): the FIX load generator of every socket figure;
- ``echo_server`` (``bench/echo_server.c``): the floor, a FIX framer that answers and does nothing else;
- ``quickfix_echo`` (``bench/quickfix_echo.cpp``): QuickFIX C++ acking NewOrderSingles; needs Debian's
  ``libquickfix-dev`` (headers in /usr/include/quickfix): without it, it is skipped with a message;
- ``fillpath`` (``bench/fillpath.c``): the fill-path driver, venue and OMS client of
  ``metaorder run`` at once (``bench/bench_fillpath.py``).

The three C tools share ``bench/fixwire.h`` (buffer, framer, field readers, encoder, command line helpers).

A tool is compiled again only when its source (or a header it includes) is newer than its binary.  The
compilers are ``$CC``/``$CXX`` (default ``cc``/``c++``).  The binary is written under a temporary name and
renamed, so a benchmark that starts it while a test rebuilds it never runs half a file.

    python bench/native_tools.py [--build-dir DIR] [NAME ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BUILD_DIR = ROOT / "build" / "bench"
QUICKFIX_HEADER = Path("/usr/include/quickfix/Application.h")
FIXWIRE = BENCH / "fixwire.h"  # the C tools' shared helpers


class ToolUnavailable(Exception):
    """A tool cannot be built here (no compiler, no headers, or the compiler refused): the message says why."""


@dataclass(frozen=True)
class Tool:
    name: str
    source: Path
    cxx: bool  # C++ (``$CXX``) rather than C (``$CC``)
    flags: tuple[str, ...]
    libs: tuple[str, ...]
    needs_header: Path | None = None  # a header that must exist, with the package that brings it
    package: str = ""
    includes: tuple[Path, ...] = ()  # our own headers it includes: an edit to one rebuilds it


TOOLS: dict[str, Tool] = {
    "loadgen": Tool("loadgen", BENCH / "loadgen.c", False, ("-O2", "-Wall"), ("-lm",), includes=(FIXWIRE,)),
    "echo_server": Tool("echo_server", BENCH / "echo_server.c", False, ("-O2", "-Wall"), (), includes=(FIXWIRE,)),
    # libquickfix 1.15's headers use dynamic exception specifications: C++14 at most.
    "quickfix_echo": Tool("quickfix_echo", BENCH / "quickfix_echo.cpp", True,
                          ("-std=gnu++14", "-O2", "-Wno-deprecated"), ("-lquickfix", "-lpthread"),
                          QUICKFIX_HEADER, "libquickfix-dev"),
    "fillpath": Tool("fillpath", BENCH / "fillpath.c", False, ("-O2", "-Wall"), ("-lm",),
                     includes=(FIXWIRE,)),
}


def _compiler(tool: Tool) -> str:
    name = os.environ.get("CXX" if tool.cxx else "CC") or ("c++" if tool.cxx else "cc")
    if shutil.which(name) is None:
        raise ToolUnavailable(f"{tool.name}: no {'C++' if tool.cxx else 'C'} compiler ({name} not found)")
    return name


def build(name: str, build_dir: Path = BUILD_DIR) -> Path:
    """The path of tool ``name``'s binary, compiled first if it is missing or older than its source."""
    tool = TOOLS[name]
    if tool.needs_header is not None and not tool.needs_header.exists():
        raise ToolUnavailable(f"{name}: {tool.needs_header} not found (apt-get install {tool.package})")
    binary = build_dir / name
    newest = max(path.stat().st_mtime for path in (tool.source, *tool.includes))
    if binary.exists() and binary.stat().st_mtime >= newest:
        return binary
    compiler = _compiler(tool)
    build_dir.mkdir(parents=True, exist_ok=True)
    partial = build_dir / f".{name}.{os.getpid()}.tmp"
    cmd = [compiler, *tool.flags, "-o", str(partial), str(tool.source), *tool.libs]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            raise ToolUnavailable(f"{name}: {' '.join(cmd)} failed:\n{out.stderr.strip()[-2000:]}")
        os.replace(partial, binary)
    finally:
        partial.unlink(missing_ok=True)
    return binary


def build_all(names: Sequence[str] = tuple(TOOLS), build_dir: Path = BUILD_DIR) -> dict[str, Path | str]:
    """Each tool's binary, or the reason it could not be built."""
    built: dict[str, Path | str] = {}
    for name in names:
        try:
            built[name] = build(name, build_dir)
        except ToolUnavailable as exc:
            built[name] = str(exc)
    return built


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"tools to build (default: all of {', '.join(TOOLS)})")
    parser.add_argument("--build-dir", type=Path, default=BUILD_DIR)
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in TOOLS]
    if unknown:
        parser.error(f"unknown tool {unknown[0]!r} (choose from {', '.join(TOOLS)})")
    status = 0
    for name, result in build_all(args.names or tuple(TOOLS), args.build_dir).items():
        if isinstance(result, Path):
            print(f"{name}: {result}")
        else:
            print(f"skipped {result}", file=sys.stderr)
            if not TOOLS[name].needs_header:  # the C tools are required; QuickFIX is optional
                status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
