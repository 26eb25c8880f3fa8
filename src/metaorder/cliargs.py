"""Argument types the command line's subcommands share (``metaorder demo``, ``estimate``, ``lab``).

Each is an argparse ``type``: it returns the value, or raises ``ArgumentTypeError("must be WHAT, not
'TEXT'")``, which the subcommands print as one line and exit 2.  NaN and infinity are refused: a
count or a price of ``inf`` is never what a person meant.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TypeVar

N = TypeVar("N", int, float)


def positive(kind: type[N], what: str) -> Callable[[str], N]:
    """A positive finite ``kind`` (``int`` refuses "2.5"), else ``must be WHAT``."""
    return number(kind, what, allow_zero=False)


def number(kind: type[N], what: str, *, allow_zero: bool = True) -> Callable[[str], N]:
    """A finite ``kind`` that is not negative (and not zero unless ``allow_zero``), else ``must be WHAT``."""

    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
        if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return parse
