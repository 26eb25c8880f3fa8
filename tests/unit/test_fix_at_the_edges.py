"""FIX at the edges only: apart from the adapters, no module of the core reads or writes a FIX tag number.

A tag number in the engine (``msg.get(150)``, ``(38, qty)``) means a new report field is an edit in
many places; the venue adapter (``execution/venue_fix.py``) and the OMS adapter (``orders/oms_fix.py``)
are where FIX ends; post-trade (``posttrade/``: TCA, the audit) reads the same typed reports and
events as the core and has no adapter.  The scan is syntactic (``ast``), so it looks for the shapes
FIX access takes:

* ``x.get(N)``, ``x.pop(N)`` and ``x.setdefault(N, ...)``;
* ``x[N]`` (``N`` of 4 and above: smaller constants are taken as sequence indices, ``pair[1]``);
* ``N in x`` and ``N not in x``;
* ``(N, value)`` pairs, a FIX field as the codec takes it (``N`` of 4 and above, as for indices);

where ``N`` is an integer constant that the FIX 4.4 dictionary knows as a tag.  Code that names tags
through :mod:`metaorder.fix.tags` (``Tag.CL_ORD_ID``) is not flagged: that is the adapters' way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from metaorder.fix.fix44 import builtin_fix44

SRC = Path(__file__).resolve().parents[2] / "src" / "metaorder"
KNOWN_TAGS = frozenset(builtin_fix44().fields)
SMALLEST_INDEX_TAG = 4  # below this, x[N] and (N, v) are far more often indices and pairs than tags

#: The adapters, where FIX is spoken on purpose, per package scanned.
ADAPTERS: dict[str, set[str]] = {
    "execution": {"venue_fix.py"},
    "orders": {"oms_fix.py"},
    "posttrade": set(),
}


def _tag(node: ast.AST, smallest: int = 1) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int and node.value >= smallest \
            and node.value in KNOWN_TAGS:
        return node.value
    return None


def fix_tag_accesses(source: str, filename: str = "<source>") -> list[str]:
    """Every place in ``source`` that reads or writes a FIX tag by number: ``"line: what"``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args \
                and node.func.attr in ("get", "pop", "setdefault"):
            tag = _tag(node.args[0])
            if tag is not None:
                found.append(f"{node.lineno}: .{node.func.attr}({tag})")
        elif isinstance(node, ast.Subscript):
            tag = _tag(node.slice, SMALLEST_INDEX_TAG)
            if tag is not None:
                found.append(f"{node.lineno}: [{tag}]")
        elif isinstance(node, ast.Compare):
            tag = _tag(node.left)
            if tag is not None and isinstance(node.ops[0], ast.In | ast.NotIn):
                found.append(f"{node.lineno}: {tag} in ...")
        elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
            tag = _tag(node.elts[0], SMALLEST_INDEX_TAG)
            if tag is not None:
                found.append(f"{node.lineno}: ({tag}, ...)")
    return sorted(found, key=lambda hit: int(hit.partition(":")[0]))  # stable: same-line hits keep their order


@pytest.mark.parametrize(("source", "expected"), [
    ("msg.get(150)", ["1: .get(150)"]),
    ("first.pop(11, None)", ["1: .pop(11)"]),
    ("entry.setdefault(269, v)", ["1: .setdefault(269)"]),
    ("msg[14]", ["1: [14]"]),
    ("if 14 in msg: pass", ["1: 14 in ..."]),
    ("if 290 not in entry: pass", ["1: 290 in ..."]),
    ("body = [(11, cid), (55, sym)]", ["1: (11, ...)", "1: (55, ...)"]),
    ("msg.get(Tag.EXEC_TYPE)", []),
    ("pair[1]; heap[0][0]; (1, 2); (0, x)", []),
    ("d.get(name, 1); x.get(0); y.get(4999)", []),  # not a tag number, or not one FIX 4.4 knows
])
def test_the_scan_finds_fix_tag_numbers_in_each_shape_they_take(source: str, expected: list[str]) -> None:
    assert fix_tag_accesses(source) == expected


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (SRC / package).glob("*.py") if p.name not in ADAPTERS[package])


@pytest.mark.parametrize("package", sorted(ADAPTERS))
def test_no_module_outside_the_adapters_reads_a_fix_tag_number(package: str) -> None:
    offenders = {
        str(path.relative_to(SRC)): hits
        for path in _modules(package)
        if (hits := fix_tag_accesses(path.read_text(encoding="utf-8"), str(path)))
    }
    assert not offenders, "FIX tag numbers outside the adapters:\n" + "\n".join(
        f"  {name}: {', '.join(hits)}" for name, hits in offenders.items())
