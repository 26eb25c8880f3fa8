"""``metaorder tca``: transaction cost analysis of a fills file or of the journal (the command's shell).

Why this module exists
----------------------
The analyses are pure (:mod:`.tca_fills`: CSV text in, figures out; :mod:`.tca_journal`: events
in, figures out); this module is the thin part around them: arguments, reading the file or the
journal, choosing the renderer, the plot, and turning every bad input into one line on stderr
with exit status 2.  ``metaorder --help`` imports it, so it imports nothing heavy at module level:
the journal reader and matplotlib are imported inside :func:`run`, when they are needed.

Arithmetic errors are the last resort: the readers bound every figure they accept (so that the exact
arithmetic stays exact and printable), but a figure that still cannot be computed — a decimal
overflow, a division the bounds did not foresee, a float overflow while plotting — becomes one line
naming what could not be computed (the figures, the plot or the output), exit status 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final, TextIO, TypeVar

__all__ = ["add_arguments", "run"]

_PROG: Final = "metaorder tca"
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_T = TypeVar("_T")


class _Uncomputable(Exception):
    """A figure could not be computed (see the module docstring); the message is the one line."""


def _compute(source: object, what: str, step: Callable[[], _T]) -> _T:
    """``step()``, its arithmetic errors turned into :class:`_Uncomputable` naming ``what``."""
    try:
        return step()
    except ArithmeticError as exc:  # decimal.DecimalException, ZeroDivisionError, OverflowError
        raise _Uncomputable(f"{source}: could not compute {what} ({type(exc).__name__} in the arithmetic;"
                            " is a price, benchmark or quantity out of range?)") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", metavar="ID",
                        help="what to analyse in the journal: a parent (P3), an order (O17) or SESSION:ClOrdID")
    parser.add_argument("--fills", type=Path, metavar="FILE.csv",
                        help="analyse a fills file instead (columns child_id,time,venue,order_type,side,quantity,"
                             "price,benchmark; side optional)")
    parser.add_argument("--day", metavar="YYYY-MM-DD",
                        help="every client order accepted that UTC day, and their parents")
    parser.add_argument("--journal", type=Path, metavar="PATH", help="order journal (default: the journal of --config)")
    parser.add_argument("--config", default="configs/metaorder.toml",
                        help="TOML configuration naming the journal (default: %(default)s)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table",
                        help="output format (default: %(default)s)")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="also draw the price path, the fills by venue, the benchmarks and the executed quantity")


def _fail(message: str) -> int:
    print(f"{_PROG}: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the command; 0 on success, 2 (and one line on stderr) on bad input."""
    chosen = [name for name, value in (("ID", args.target), ("--fills", args.fills), ("--day", args.day))
              if value is not None]
    if len(chosen) != 1:
        return _fail("give exactly one of ID (P3, O17, SESSION:ClOrdID), --day YYYY-MM-DD or --fills FILE.csv"
                     + (f" (got {', '.join(chosen)})" if chosen else ""))
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        return _fail(f"--plot {args.plot}: the plot is a PNG file (FILE.png)")
    if args.day is not None and not _valid_day(args.day):
        return _fail(f"--day {args.day!r} is not a date YYYY-MM-DD")
    try:
        lines = _fills(args.fills, args.format, args.plot) if args.fills is not None else _journal(args)
    except _Uncomputable as exc:
        return _fail(str(exc))
    if isinstance(lines, str):
        return _fail(lines)
    for line in lines:
        out.write(line + "\n")
    return 0


def _valid_day(day: str) -> bool:
    import datetime as dt

    if not _DAY.fullmatch(day):
        return False
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return False
    return True


def _fills(path: Path, fmt: str, plot: Path | None) -> list[str] | str:
    """The rendered lines, or the one-line error."""
    from metaorder.posttrade.tca_fills import FillsError, analyse_fills, parse_fills
    from metaorder.posttrade.tca_render import render_fills

    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return f"{path}: no such file"
    except IsADirectoryError:
        return f"{path}: is a directory, not a fills file"
    except UnicodeDecodeError:
        return f"{path}: not a text file (UTF-8 expected)"
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    try:
        report = _compute(path, "the figures", lambda: analyse_fills(parse_fills(text, str(path)), str(path)))
    except FillsError as exc:
        return str(exc)
    if plot is not None:
        from metaorder.posttrade.tca_plot import plot_fills

        problem = _compute(path, "the plot", lambda: _save(lambda: plot_fills(report, plot), plot))
        if problem:
            return problem
    return _compute(path, f"the {fmt} output", lambda: render_fills(report, fmt))


def _save(draw: object, plot: Path) -> str | None:
    """Call ``draw``; a file that cannot be written is a one-line error."""
    assert callable(draw)
    try:
        draw()
    except OSError as exc:
        return f"--plot {plot}: {exc.strerror or exc}"
    return None


def _journal(args: argparse.Namespace) -> list[str] | str:
    from metaorder.config import ConfigError, load_config
    from metaorder.orders.journal import JournalError, JournalReader
    from metaorder.posttrade.tca_journal import TcaError, analyse_journal
    from metaorder.posttrade.tca_render import render_journal
    from metaorder.posttrade.tca_source import read_events

    path = args.journal
    if path is None:
        try:
            path = load_config(args.config).journal.path
        except ConfigError as exc:
            return str(exc)
    if not Path(path).exists():
        return f"journal {path}: no such file"
    try:
        with JournalReader(path) as reader:
            records = read_events(reader, args.target, args.day)
        report = _compute(f"journal {path}", "the figures",
                          lambda: analyse_journal(records, args.target, args.day, str(path)))
    except (JournalError, TcaError) as exc:
        return str(exc)
    if args.plot is not None:
        from metaorder.posttrade.tca_plot import plot_journal

        problem = _compute(f"journal {path}", "the plot",
                           lambda: _save(lambda: plot_journal(report, args.plot), args.plot))
        if problem:
            return problem
    return _compute(f"journal {path}", f"the {args.format} output", lambda: render_journal(report, args.format))
