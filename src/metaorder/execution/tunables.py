"""Reading a strategy's tunables from configuration, the same way for every strategy.

A ``[strategy.<kind>]`` table is a mapping of names to TOML values.  Every strategy's settings are a
frozen dataclass of numbers (and a few values in another notation, like a time of day); what may go
wrong is the same for all of them, so the answer is too: an unknown name is refused with the list of
known ones, a value that is not a number (a boolean included: TOML's ``true`` is not 1) or not a
whole number where one is needed is refused naming the setting, and the dataclass's own
``__post_init__`` checks ranges.  The daemon turns the ``ValueError`` into a one-line configuration
error naming the table (:func:`metaorder.wiring.build_strategies`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def settings_from_mapping(cls: type[T], values: Mapping[str, object], kind: str, *,
                          whole: frozenset[str] = frozenset(),
                          other: Mapping[str, tuple[str, Callable[[str, object], Any]]] | None = None) -> T:
    """``cls(**values)`` after checking them (see the module docstring).

    ``kind`` names the strategy in messages ("TWAP"); ``whole`` are the fields that count things;
    ``other`` maps a configuration name that is not a number to (the field it sets, its parser):
    ``{"session_open": ("session_open_s", seconds_of_day)}``.  A parser raises ``ValueError``.
    """
    other = other or {}
    known = {f.name for f in fields(cls)} | set(other)  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {kind} setting(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    typed: dict[str, Any] = {}
    for name, value in values.items():
        if name in other:
            field, parse = other[name]
            typed[field] = parse(name, value)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{kind} setting {name} must be a number, not {value!r}")
        number = float(value)
        if not math.isfinite(number):  # TOML has inf and nan
            raise ValueError(f"{kind} setting {name} must be a finite number, not {value!r}")
        if name in whole:
            if not number.is_integer():
                raise ValueError(f"{kind} setting {name} must be a whole number, not {number:g}")
            typed[name] = int(number)
        else:
            typed[name] = number
    return cls(**typed)
