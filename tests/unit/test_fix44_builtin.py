"""metaorder's built-in FIX 4.4 dictionary (:mod:`metaorder.fix.fix44`).

Two kinds of tests:

* the dictionary on its own, through the public :class:`Dictionary` API (structure and validation);
* consistency with QuickFIX's FIX44.xml (``../shared/conformance/quickfix/FIX44.xml``, read only here,
  never by the project): same tag, name and type for every field we define, our enum values a subset
  of QuickFIX's (except :data:`EXTENSION_ENUMS`), and for every message we define the same required
  fields, the same fields in the same order, the same repeating groups with the same delimiters, at
  every nesting level.  The inbound messages of the QuickFIX acceptance scripts must also earn the same
  validation answer from both dictionaries.

Known, deliberate differences from QuickFIX's FIX44.xml (checked below, so the list stays true):

* TargetStrategy (847) has metaorder's user-defined values 1000 (TWAP) and 1001 (implementation
  shortfall);
* StipulationType (233) has no enumeration here (the values are open to bilateral agreement), so any
  value is accepted where QuickFIX checks its list;
* only the fields of the messages we define exist here (QuickFIX defines every FIX 4.4 field).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from metaorder.fix import fix44
from metaorder.fix.codec import Message
from metaorder.fix.dictionary import (
    INCORRECT_DATA_FORMAT,
    INVALID_TAG_NUMBER,
    REQUIRED_TAG_MISSING,
    TAG_NOT_DEFINED_FOR_MESSAGE,
    VALUE_OUT_OF_RANGE,
    Dictionary,
    DictionaryError,
    FieldSet,
    Rejection,
    load_quickfix_xml,
)
from metaorder.fix.fix44 import EXTENSION_ENUMS, builtin_fix44

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICKFIX_DIR = REPO_ROOT.parent / "shared" / "conformance" / "quickfix"
QUICKFIX_XML = QUICKFIX_DIR / "FIX44.xml"

#: Fields whose enumeration QuickFIX has and we deliberately leave open (any value accepted).
OPEN_ENUMS = frozenset({233})

SESSION_TYPES = ("0", "1", "2", "3", "4", "5", "A")
APP_TYPES = ("j", "D", "F", "G", "H", "8", "9", "Q", "V", "W", "X", "Y", "h", "g", "d", "c")

NOW = "20240102-10:11:12.345"


@pytest.fixture(scope="module")
def d() -> Dictionary:
    return builtin_fix44()


@pytest.fixture(scope="module")
def qf() -> Dictionary:
    if not QUICKFIX_XML.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{QUICKFIX_XML} is missing (required when CI=true)")
        pytest.skip(f"{QUICKFIX_XML} not available")
    return load_quickfix_xml(QUICKFIX_XML)


def message(msg_type: str, *body: tuple[int, str]) -> Message:
    header = [(35, msg_type), (34, "2"), (49, "CLIENT"), (52, NOW), (56, "METAORDER")]
    return Message("FIX.4.4", [*header, *body])


NEW_ORDER: tuple[tuple[int, str], ...] = (
    (11, "ord-1"), (21, "1"), (55, "INTC"), (54, "1"), (60, NOW), (38, "2000"), (40, "2"), (44, "35.10"),
    (59, "0"),
)


# --------------------------------------------------------------------------------------------
# the dictionary on its own


def test_built_once_and_cached() -> None:
    assert builtin_fix44() is builtin_fix44()


def test_header_and_trailer(d: Dictionary) -> None:
    assert d.begin_string == "FIX.4.4"
    assert set(d.header.required) == {8, 9, 35, 49, 56, 34, 52}
    assert d.header.order[:3] == (8, 9, 35)
    assert {43, 97, 115, 128, 122, 369, 627} <= d.header.members
    assert d.header.groups[627].delimiter == 628  # NoHops / HopCompID
    assert d.trailer.required == (10,)
    assert d.trailer.order[-1] == 10


def test_messages_and_categories(d: Dictionary) -> None:
    assert set(d.messages) == set(SESSION_TYPES) | set(APP_TYPES)
    for msg_type in SESSION_TYPES:
        assert d.messages[msg_type].category == "admin"
        assert d.is_admin(msg_type)
    for msg_type in APP_TYPES:
        assert d.messages[msg_type].category == "app"
        assert not d.is_admin(msg_type)
    assert d.messages["D"].name == "NewOrderSingle"
    assert d.messages["8"].name == "ExecutionReport"


@pytest.mark.parametrize(
    ("msg_type", "required"),
    [
        ("0", set()),
        ("1", {112}),
        ("2", {7, 16}),
        ("3", {45}),
        ("4", {36}),
        ("5", set()),
        ("A", {98, 108}),
        ("j", {372, 380}),
        ("D", {11, 54, 60, 40}),
        ("F", {41, 11, 54, 60}),
        ("G", {41, 11, 54, 60, 40}),
        ("H", {11, 54}),
        ("8", {37, 17, 150, 39, 54, 151, 14, 6}),
        ("9", {37, 11, 41, 39, 434}),
        ("Q", {37, 17, 127, 54}),
        ("V", {262, 263, 264, 267, 146}),
        ("W", {268}),
        ("X", {268}),
        ("Y", {262}),
        ("g", {335, 263}),
        ("h", {336, 340}),
        ("c", {320, 321}),
        ("d", {320, 322, 323}),
    ],
)
def test_required_fields(d: Dictionary, msg_type: str, required: set[int]) -> None:
    assert set(d.messages[msg_type].body.required) == required


def test_groups(d: Dictionary) -> None:
    logon = d.messages["A"].body
    assert logon.groups[384].delimiter == 372  # NoMsgTypes / RefMsgType
    assert {553, 554, 141, 98, 108, 789} <= logon.members

    order = d.messages["D"].body
    assert order.groups[453].delimiter == 448  # NoPartyIDs / PartyID
    assert order.groups[453].entry.groups[802].delimiter == 523  # NoPartySubIDs / PartySubID
    assert order.groups[78].delimiter == 79  # NoAllocs / AllocAccount
    assert order.groups[386].delimiter == 336  # NoTradingSessions / TradingSessionID
    assert order.groups[711].delimiter == 311  # NoUnderlyings / UnderlyingSymbol
    assert order.groups[454].delimiter == 455  # NoSecurityAltID (Instrument)
    assert order.groups[864].delimiter == 865  # NoEvents (Instrument)
    assert order.groups[232].delimiter == 233  # NoStipulations

    report = d.messages["8"].body
    assert report.groups[555].delimiter == 600  # NoLegs / LegSymbol
    assert report.groups[555].entry.groups[539].delimiter == 524  # NestedParties in legs
    assert report.groups[382].delimiter == 375  # NoContraBrokers
    assert report.groups[136].delimiter == 137  # NoMiscFees

    request = d.messages["V"].body
    assert request.groups[267].delimiter == 269  # NoMDEntryTypes / MDEntryType
    assert request.groups[146].delimiter == 55  # NoRelatedSym / Symbol
    assert request.groups[267].entry.required == (269,)
    assert d.messages["W"].body.groups[268].delimiter == 269  # NoMDEntries / MDEntryType
    assert d.messages["X"].body.groups[268].delimiter == 279  # NoMDEntries / MDUpdateAction
    assert d.messages["X"].body.groups[268].entry.required == (279,)


def test_algorithmic_order_fields(d: Dictionary) -> None:
    expected = {
        847: ("TargetStrategy", "INT"),
        848: ("TargetStrategyParameters", "STRING"),
        849: ("ParticipationRate", "PERCENTAGE"),
        168: ("EffectiveTime", "UTCTIMESTAMP"),
        126: ("ExpireTime", "UTCTIMESTAMP"),
        432: ("ExpireDate", "LOCALMKTDATE"),
        110: ("MinQty", "QTY"),
        111: ("MaxFloor", "QTY"),
        18: ("ExecInst", "MULTIPLEVALUESTRING"),
        851: ("LastLiquidityInd", "INT"),
        12: ("Commission", "AMT"),
        13: ("CommType", "CHAR"),
        30: ("LastMkt", "EXCHANGE"),
        100: ("ExDestination", "EXCHANGE"),
        336: ("TradingSessionID", "STRING"),
    }
    for tag, (name, type_) in expected.items():
        assert (d.fields[tag].name, d.fields[tag].type) == (name, type_)
        assert d.tag(name) == tag
    assert d.fields[847].enums == frozenset({"1", "2", "3", "1000", "1001"})
    assert EXTENSION_ENUMS[847] <= d.fields[847].enums
    for msg_type in ("D", "G", "8"):
        assert {847, 848, 849, 168, 126, 432, 110, 111, 18} <= d.messages[msg_type].body.members
    assert 100 in d.messages["D"].body.members and 100 in d.messages["G"].body.members
    assert {851, 12, 13, 30, 336} <= d.messages["8"].body.members


def test_core_enums(d: Dictionary) -> None:
    def enums(tag: int) -> frozenset[str]:
        values = d.fields[tag].enums
        assert values is not None, tag
        return values

    assert {"1", "2", "3", "4", "P"} <= enums(40)
    assert enums(21) == {"1", "2", "3"}
    assert {"1", "2", "5", "6"} <= enums(54)
    assert enums(59) == {"0", "1", "2", "3", "4", "5", "6", "7"}
    assert {"0", "4", "5", "8", "F", "I"} <= enums(150)
    assert {"1", "2"}.isdisjoint(enums(150))  # partial fill / fill were retired in FIX 4.4
    assert {"0", "1", "2", "4", "8", "A", "E"} <= enums(39)
    assert enums(279) == {"0", "1", "2"}
    assert enums(263) == {"0", "1", "2"}
    assert "CS" in enums(167)
    assert enums(43) == {"Y", "N"}
    assert enums(373) >= {str(v) for v in range(18)} | {"99"}
    assert enums(380) == {str(v) for v in range(8)}


# --------------------------------------------------------------------------------------------
# validation through the public API


def test_valid_messages(d: Dictionary) -> None:
    assert d.validate(message("D", *NEW_ORDER)) is None
    algo = (
        *NEW_ORDER, (18, "1 G"), (847, "1000"), (848, "start=09:30;end=16:00"), (849, "0.15"),
        (168, "20240102-09:30:00"), (126, "20240102-16:00:00"),
    )
    assert d.validate(message("D", *algo)) is None
    assert d.validate(message("A", (98, "0"), (108, "30"), (141, "Y"), (553, "user"), (554, "pw"))) is None
    assert d.validate(message("0")) is None
    md_request = message(
        "V", (262, "md-1"), (263, "1"), (264, "1"), (267, "2"), (269, "0"), (269, "1"),
        (146, "1"), (55, "INTC"),
    )
    assert d.validate(md_request) is None
    incremental = message(
        "X", (268, "2"), (279, "0"), (269, "0"), (55, "INTC"), (270, "35.1"), (271, "100"),
        (279, "2"), (269, "1"), (278, "q7"),
    )
    assert d.validate(incremental) is None
    report = message(
        "8", (37, "o1"), (11, "ord-1"), (17, "e1"), (150, "F"), (39, "1"), (55, "INTC"), (54, "1"),
        (32, "100"), (31, "35.1"), (30, "XNAS"), (151, "1900"), (14, "100"), (6, "35.1"), (851, "2"),
    )
    assert d.validate(report) is None


def test_rejections(d: Dictionary) -> None:
    def without(tag: int) -> list[tuple[int, str]]:
        return [f for f in NEW_ORDER if f[0] != tag]

    assert d.validate(message("D", *without(11))) == Rejection(REQUIRED_TAG_MISSING, 11)
    assert d.validate(message("D", *without(21), (21, "4"))) == Rejection(VALUE_OUT_OF_RANGE, 21)
    assert d.validate(message("D", *NEW_ORDER, (167, "BOO"))) == Rejection(VALUE_OUT_OF_RANGE, 167)
    assert d.validate(message("D", *NEW_ORDER, (167, "CS"))) is None
    assert d.validate(message("D", *without(40), (40, "w"))) == Rejection(VALUE_OUT_OF_RANGE, 40)
    assert d.validate(message("D", *NEW_ORDER, (18, "1 ?"))) == Rejection(VALUE_OUT_OF_RANGE, 18)
    assert d.validate(message("D", *without(38), (38, "+200"))) == Rejection(INCORRECT_DATA_FORMAT, 38)
    assert d.validate(message("D", *NEW_ORDER, (847, "999"))) == Rejection(VALUE_OUT_OF_RANGE, 847)
    assert d.validate(message("0", (55, "MSFT"))) == Rejection(TAG_NOT_DEFINED_FOR_MESSAGE, 55)
    assert d.validate(message("0", (999, "HI"))) == Rejection(INVALID_TAG_NUMBER, 999)
    miscounted = message("D", *NEW_ORDER, (386, "3"), (336, "PRE-OPEN"), (336, "AFTER-HOURS"))
    rejection = d.validate(miscounted)
    assert rejection is not None and rejection.tag == 386


# --------------------------------------------------------------------------------------------
# consistency with QuickFIX's FIX44.xml


def test_fields_match_quickfix(d: Dictionary, qf: Dictionary) -> None:
    problems = []
    for tag, ours in d.fields.items():
        theirs = qf.fields.get(tag)
        if theirs is None:
            problems.append(f"{tag} {ours.name}: not in QuickFIX")
        elif (ours.name, ours.type) != (theirs.name, theirs.type):
            problems.append(f"{tag}: ours {ours.name} {ours.type}, QuickFIX {theirs.name} {theirs.type}")
    assert not problems


def test_enums_are_subsets_of_quickfix(d: Dictionary, qf: Dictionary) -> None:
    problems = []
    for tag, ours in d.fields.items():
        theirs = qf.fields[tag].enums or frozenset()
        extra = (ours.enums or frozenset()) - theirs - EXTENSION_ENUMS.get(tag, frozenset())
        if extra:
            problems.append(f"{tag} {ours.name}: {sorted(extra)} not in QuickFIX")
    assert not problems


def test_enum_deviations_are_documented(d: Dictionary, qf: Dictionary) -> None:
    """Where QuickFIX enumerates and we do not (or lack values), it is on purpose."""
    for tag, values in EXTENSION_ENUMS.items():
        enums = d.fields[tag].enums
        assert enums is not None and values <= enums
        assert values.isdisjoint(qf.fields[tag].enums or frozenset())
    incomplete = set()
    for tag, ours in d.fields.items():
        theirs = qf.fields[tag].enums
        if theirs and not theirs <= (ours.enums or frozenset()):
            incomplete.add(tag)
    assert incomplete == OPEN_ENUMS
    for tag in OPEN_ENUMS:
        assert d.fields[tag].enums is None


def _compare_levels(ours: FieldSet, theirs: FieldSet, where: str) -> Iterator[str]:
    if set(ours.required) != set(theirs.required):
        yield f"{where}: required ours {sorted(ours.required)}, QuickFIX {sorted(theirs.required)}"
    if ours.order != theirs.order:
        missing = [t for t in theirs.order if t not in ours.members]
        extra = [t for t in ours.order if t not in theirs.members]
        yield f"{where}: fields differ (missing {missing}, extra {extra}) or are in another order"
    if set(ours.groups) != set(theirs.groups):
        yield f"{where}: groups ours {sorted(ours.groups)}, QuickFIX {sorted(theirs.groups)}"
    for count_tag, group in ours.groups.items():
        other = theirs.groups.get(count_tag)
        if other is None:
            continue
        if group.delimiter != other.delimiter:
            yield f"{where}/{count_tag}: delimiter ours {group.delimiter}, QuickFIX {other.delimiter}"
        yield from _compare_levels(group.entry, other.entry, f"{where}/{count_tag}")


def test_header_and_trailer_match_quickfix(d: Dictionary, qf: Dictionary) -> None:
    assert not list(_compare_levels(d.header, qf.header, "header"))
    assert not list(_compare_levels(d.trailer, qf.trailer, "trailer"))


@pytest.mark.parametrize("msg_type", SESSION_TYPES + APP_TYPES)
def test_message_matches_quickfix(d: Dictionary, qf: Dictionary, msg_type: str) -> None:
    ours = d.messages[msg_type]
    theirs = qf.messages[msg_type]
    assert (ours.name, ours.category) == (theirs.name, theirs.category)
    assert not list(_compare_levels(ours.body, theirs.body, f"{msg_type} {ours.name}"))


_TIME = re.compile(r"<TIME([+-]\d+)?>")


def _script_messages() -> Iterator[tuple[str, Message]]:
    """Inbound messages of the QuickFIX acceptance scripts (I lines), as the codec would decode them."""
    for script in sorted((QUICKFIX_DIR / "fix44").glob("*.def")):
        for number, line in enumerate(script.read_text("latin-1").splitlines(), 1):
            if not line.startswith("I") or "8=FIX" not in line:
                continue
            text = _TIME.sub("20240102-10:11:12", line[line.index("8=FIX") :])
            fields: list[tuple[int, str]] = []
            for part in text.rstrip("\x01").split("\x01"):
                tag, sep, value = part.partition("=")
                if not sep or not re.fullmatch(r"-?\d+", tag):
                    break
                if int(tag) not in (8, 9, 10):
                    fields.append((int(tag), value))
            else:
                if fields and fields[0][0] == 35:
                    yield f"{script.name}:{number}", Message("FIX.4.4", fields)


def test_acceptance_script_messages_validate_alike(d: Dictionary, qf: Dictionary) -> None:
    messages = list(_script_messages())
    assert len(messages) > 100
    differences = [
        f"{where}: ours {d.validate(msg)}, QuickFIX {qf.validate(msg)}"
        for where, msg in messages
        if d.validate(msg) != qf.validate(msg)
    ]
    assert not differences


@pytest.mark.parametrize("table", ["1 Account STRING\n1 Other STRING\n", "1 Account STRING\n2 Account STRING\n"])
def test_a_field_table_defining_a_tag_or_a_name_twice_is_refused(table: str) -> None:
    """(Through the table parser: the built-in tables are the only input, and they are valid.)"""
    with pytest.raises(DictionaryError, match="defined twice"):
        fix44._parse_fields(table)
