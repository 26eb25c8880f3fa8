"""FIX data dictionary: field types and enums, messages, components and repeating groups.

Two sources build the same :class:`Dictionary` through :class:`DictionaryBuilder`:
metaorder's own FIX 4.4 definitions (:mod:`metaorder.fix.fix44`) and QuickFIX's XML format
(:func:`load_quickfix_xml`), because counterparties' FIX teams already maintain dictionaries in that
format and expect to hand them over as they are.

:meth:`Dictionary.validate` implements the session-level message checks of the FIX specification in
the order QuickFIX applies them (the acceptance suite compares the Reject a bad message earns, and
with several faults in one message the first check that fails decides the answer):
fields out of order → unknown MsgType → required fields → header/trailer fields → body fields
(repeated tag, empty value, data format, enum value, unknown tag, tag not in message, group count).
"""

from __future__ import annotations

import operator
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from metaorder.fix.codec import Message

# SessionRejectReason (373) values and the texts QuickFIX puts in Text (58).
INVALID_TAG_NUMBER: Final = 0
REQUIRED_TAG_MISSING: Final = 1
TAG_NOT_DEFINED_FOR_MESSAGE: Final = 2
UNDEFINED_TAG: Final = 3
TAG_WITHOUT_VALUE: Final = 4
VALUE_OUT_OF_RANGE: Final = 5
INCORRECT_DATA_FORMAT: Final = 6
COMPID_PROBLEM: Final = 9
SENDINGTIME_ACCURACY: Final = 10
INVALID_MSGTYPE: Final = 11
TAG_REPEATED: Final = 13
TAG_OUT_OF_ORDER: Final = 14
GROUP_FIELDS_OUT_OF_ORDER: Final = 15
GROUP_COUNT_MISMATCH: Final = 16
OTHER: Final = 99

REJECT_TEXT: Final[dict[int, str]] = {
    INVALID_TAG_NUMBER: "Invalid tag number",
    REQUIRED_TAG_MISSING: "Required tag missing",
    TAG_NOT_DEFINED_FOR_MESSAGE: "Tag not defined for this message type",
    UNDEFINED_TAG: "Undefined Tag",
    TAG_WITHOUT_VALUE: "Tag specified without a value",
    VALUE_OUT_OF_RANGE: "Value is incorrect (out of range) for this tag",
    INCORRECT_DATA_FORMAT: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    COMPID_PROBLEM: "CompID problem",
    SENDINGTIME_ACCURACY: "SendingTime accuracy problem",
    INVALID_MSGTYPE: "Invalid MsgType",
    TAG_REPEATED: "Tag appears more than once",
    TAG_OUT_OF_ORDER: "Tag specified out of required order",
    GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    GROUP_COUNT_MISMATCH: "Incorrect NumInGroup count for repeating group",
    17: "Non Data value includes field delimiter (SOH character)",
    OTHER: "Other",
}

# Fields the codec owns: framing fields are checked on the wire, not by the dictionary.
_FRAMING: Final = frozenset({8, 9, 10})


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message fails validation: SessionRejectReason, RefTagID (if any) and the Text."""

    reason: int
    tag: int | None = None

    @property
    def text(self) -> str:
        return REJECT_TEXT.get(self.reason, "Other")


# --------------------------------------------------------------------------------------------
# model


@dataclass(frozen=True, slots=True)
class FieldDef:
    tag: int
    name: str
    type: str
    enums: frozenset[str] | None = None


@dataclass(slots=True)
class FieldSet:
    """The fields allowed at one level: a message body, the header, or one group entry."""

    order: tuple[int, ...] = ()
    required: tuple[int, ...] = ()
    groups: dict[int, GroupDef] = field(default_factory=dict)
    members: frozenset[int] = frozenset()


@dataclass(slots=True)
class GroupDef:
    count_tag: int
    delimiter: int
    entry: FieldSet


@dataclass(slots=True)
class MessageDef:
    msg_type: str
    name: str
    category: str  # "admin" or "app"
    body: FieldSet


# Items a builder accepts (names, not tags, as in QuickFIX's XML).
@dataclass(frozen=True, slots=True)
class Field:
    name: str
    required: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    items: Sequence[Item]
    required: bool = False


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    required: bool = False


Item = Field | Group | Component


class DictionaryError(ValueError):
    """A dictionary definition is inconsistent (unknown field name, unknown component...)."""


# --------------------------------------------------------------------------------------------
# value format checks (QuickFIX's converters: no leading '+', no exponent, no blanks)

_INT = re.compile(r"-?\d+\Z")
_FLOAT = re.compile(r"-?(?:\d+\.?\d*|\.\d+)\Z")
_TIMESTAMP = re.compile(
    r"[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)"
    r"(?:\.[0-9]{1,9})?\Z"
)
_TIMEONLY = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?\Z")
_DATE = re.compile(r"\d{8}\Z")
_MONTHYEAR = re.compile(r"\d{6}(?:\d{2}|w\d)?\Z")


def _date_ok(v: str) -> bool:
    if not _DATE.match(v):
        return False
    month, day = int(v[4:6]), int(v[6:8])
    return 1 <= month <= 12 and 1 <= day <= 31


def _time_ok(v: str) -> bool:
    return bool(_TIMEONLY.match(v)) and int(v[:2]) < 24 and int(v[3:5]) < 60 and int(v[6:8]) <= 60


_FORMAT_CHECKS: Final[dict[str, Callable[[str], bool]]] = {
    **{t: lambda v: _INT.match(v) is not None
       for t in ("INT", "LENGTH", "SEQNUM", "NUMINGROUP", "TAGNUM", "DAYOFMONTH")},
    **{t: lambda v: _FLOAT.match(v) is not None
       for t in ("FLOAT", "PRICE", "QTY", "AMT", "PRICEOFFSET", "PERCENTAGE")},
    "CHAR": lambda v: len(v) == 1,
    "BOOLEAN": lambda v: v in ("Y", "N"),
    "UTCTIMESTAMP": lambda v: _TIMESTAMP.match(v) is not None,
    "TZTIMESTAMP": lambda v: len(v) >= 17,
    "UTCTIMEONLY": _time_ok,
    "UTCDATEONLY": _date_ok,
    "UTCDATE": _date_ok,
    "LOCALMKTDATE": _date_ok,
    "MONTHYEAR": lambda v: _MONTHYEAR.match(v) is not None,
}

_MULTI_VALUE_TYPES: Final = frozenset({"MULTIPLEVALUESTRING", "MULTIPLECHARVALUE", "MULTIPLESTRINGVALUE"})


# --------------------------------------------------------------------------------------------
# dictionary


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """QuickFIX's validation switches, under their QuickFIX names in the config docs."""

    check_fields_out_of_order: bool = True  # ValidateFieldsOutOfOrder
    check_fields_have_values: bool = True  # ValidateFieldsHaveValues
    check_user_defined_fields: bool = True  # ValidateUserDefinedFields (tags >= 5000)
    allow_unknown_message_fields: bool = False  # AllowUnknownMsgFields


_DEFAULT_OPTIONS: Final = ValidationOptions()

#: The value checks of one tag sequence: (index, tag, format check, enums, multi-valued) in walk order.
_Plan = tuple[tuple[int, int, "Callable[[str], bool] | None", "frozenset[str] | None", bool], ...]
#: A plan, and its entries that have a format or enum check (the only ones a non-empty value can fail).
_Plans = tuple[_Plan, _Plan]
_VALUE: Final = operator.itemgetter(1)
#: Tag sequences whose plans are kept at most (then the cache starts afresh).
_MAX_PLANS: Final = 1024


class Dictionary:
    """A validated, immutable view of a FIX version's messages and fields."""

    def __init__(
        self,
        begin_string: str,
        fields: dict[int, FieldDef],
        header: FieldSet,
        trailer: FieldSet,
        messages: dict[str, MessageDef],
    ) -> None:
        self.begin_string = begin_string
        self.fields = fields
        self.names = {f.name: f.tag for f in fields.values()}
        self.header = header
        self.trailer = trailer
        self.messages = messages
        self.header_tags = _all_tags(header)
        self.trailer_tags = _all_tags(trailer)
        self._header_required = tuple(t for t in header.required if t not in _FRAMING)
        self._trailer_required = tuple(t for t in trailer.required if t not in _FRAMING)
        self._checks: dict[int, tuple[Callable[[str], bool] | None, frozenset[str] | None, bool]] = {
            f.tag: (_FORMAT_CHECKS.get(f.type), f.enums, f.type in _MULTI_VALUE_TYPES) for f in fields.values()
        }
        # Count tags of repeating groups at any top level: a message carrying one is never planned
        # (its structure depends on the count's value, not only on the tags).
        self._group_tags = frozenset(header.groups) | frozenset(trailer.groups) | frozenset(
            tag for m in messages.values() for tag in m.body.groups
        )
        self._plans: dict[tuple[object, ...], _Plans] = {}

    def tag(self, name: str) -> int:
        try:
            return self.names[name]
        except KeyError:
            raise DictionaryError(f"unknown field name {name!r}") from None

    def is_admin(self, msg_type: str) -> bool:
        definition = self.messages.get(msg_type)
        return definition.category == "admin" if definition else msg_type in "0A12345"

    # ----------------------------------------------------------------------------------------

    def validate(self, msg: Message, options: ValidationOptions = _DEFAULT_OPTIONS) -> Rejection | None:
        """The first fault in ``msg``, or None if it conforms to this dictionary.

        Everything but the value checks (empty, data format, enum) depends only on the message's
        sequence of tags, its MsgType and the options, when it has no repeating group.  Once such
        a tag sequence has passed in full, its *plan* (the fields' value checks, in the order the
        full walk makes them) is kept, and the next message with the same tags only runs those:
        the same first fault, at a fraction of the cost (a session sees the same few shapes).
        """
        fields = msg.fields
        key = (options, msg.msg_type, *[f[0] for f in fields])
        plans = self._plans.get(key)
        if plans is not None:
            plan, checked = plans
            if "" not in map(_VALUE, fields):
                # No empty value: the first fault, if any, is the first failing format or enum check
                # in plan order, and ``checked`` is the plan's entries that have one, in that order.
                for i, tag, fmt, enums, multi in checked:
                    value = fields[i][1]
                    if fmt is not None and not fmt(value):
                        return Rejection(INCORRECT_DATA_FORMAT, tag)
                    if enums is not None and (
                        any(v not in enums for v in value.split(" ")) if multi else value not in enums
                    ):
                        return Rejection(VALUE_OUT_OF_RANGE, tag)
                return None
            check_values = options.check_fields_have_values
            for i, tag, fmt, enums, multi in plan:
                value = fields[i][1]
                if not value:
                    if check_values:
                        return Rejection(TAG_WITHOUT_VALUE, tag)
                elif fmt is not None and not fmt(value):
                    return Rejection(INCORRECT_DATA_FORMAT, tag)
                elif enums is not None and (
                    any(v not in enums for v in value.split(" ")) if multi else value not in enums
                ):
                    return Rejection(VALUE_OUT_OF_RANGE, tag)
            return None
        problem = self._validate(msg, options)
        if problem is None:
            self._remember_plan(key, fields)
        return problem

    def _remember_plan(self, key: tuple[object, ...], fields: Sequence[tuple[int, str]]) -> None:
        """Keep the value checks of a tag sequence that passed (strict section order, no groups)."""
        header_tags = self.header_tags
        trailer_tags = self.trailer_tags
        group_tags = self._group_tags
        header: list[int] = []
        body: list[int] = []
        trailer: list[int] = []
        for i, (tag, _) in enumerate(fields):
            if tag in group_tags:
                return
            if tag in header_tags:
                if body or trailer:
                    return  # loose order (allowed by the options): not planned
                header.append(i)
            elif tag in trailer_tags:
                trailer.append(i)
            elif trailer:
                return
            else:
                body.append(i)
        checks = self._checks
        plan: list[tuple[int, int, Callable[[str], bool] | None, frozenset[str] | None, bool]] = []
        for i in (*header, *trailer, *body):
            tag = fields[i][0]
            fmt, enums, multi = checks.get(tag, (None, None, False))
            plan.append((i, tag, fmt, enums, multi))
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()  # bounded: a peer cycling through shapes cannot grow it
        self._plans[key] = (tuple(plan), tuple(p for p in plan if p[2] is not None or p[3] is not None))

    def _validate(self, msg: Message, options: ValidationOptions) -> Rejection | None:
        fields = msg.fields
        header_tags = self.header_tags
        trailer_tags = self.trailer_tags
        # 1. structure: header, then body, then trailer.
        n = len(fields)
        i = 0
        while i < n and fields[i][0] in header_tags:
            i += 1
        header_end = i
        while i < n and fields[i][0] not in header_tags and fields[i][0] not in trailer_tags:
            i += 1
        body_end = i
        while i < n and fields[i][0] in trailer_tags:
            i += 1
        if i < n:
            if options.check_fields_out_of_order:
                return Rejection(TAG_OUT_OF_ORDER, fields[i][0])
            header, body, trailer = _split_sections_loose(fields, header_tags, trailer_tags)
        else:
            header, body, trailer = fields[:header_end], fields[header_end:body_end], fields[body_end:]
        # 2. message type.
        definition = self.messages.get(msg.msg_type)
        if definition is None:
            return Rejection(INVALID_MSGTYPE)
        # 3. required fields: header, trailer, body (ascending tag, as QuickFIX iterates a set).
        present = {t for t, _ in fields}
        for required in (self._header_required, self._trailer_required, definition.body.required):
            for tag in required:
                if tag not in present:
                    return Rejection(REQUIRED_TAG_MISSING, tag)
        # 4. header and trailer fields, then the body.
        problem = self._check_level(header, 0, len(header), self.header, options, False)[1]
        if problem is None and trailer:
            problem = self._check_level(trailer, 0, len(trailer), self.trailer, options, False)[1]
        if problem is None:
            problem = self._check_level(body, 0, len(body), definition.body, options, True)[1]
        return problem

    def _check_level(
        self,
        fields: Sequence[tuple[int, str]],
        start: int,
        end: int,
        spec: FieldSet,
        options: ValidationOptions,
        in_message: bool,
        entry_level: bool = False,
    ) -> tuple[int, Rejection | None]:
        """Check fields[start:end] against one level; returns (position reached, first fault).

        At group-entry level, the walk stops at the first field that is not a member of the entry
        (that field belongs to an enclosing level).
        """
        seen: set[int] = set()
        members = spec.members
        groups = spec.groups
        checks = self._checks
        known = self.fields
        check_values = options.check_fields_have_values
        i = start
        while i < end:
            tag, value = fields[i]
            if entry_level and tag not in members:
                return i, None
            if tag in seen:
                if entry_level:
                    return i, None  # a repeated tag in an entry ends it; the caller decides
                return i, Rejection(TAG_REPEATED, tag)
            seen.add(tag)
            check = checks.get(tag)
            if not value:
                if check_values:
                    return i, Rejection(TAG_WITHOUT_VALUE, tag)
            elif check is not None:
                fmt, enums, multi = check
                if fmt is not None and not fmt(value):
                    return i, Rejection(INCORRECT_DATA_FORMAT, tag)
                if enums is not None and (
                    any(v not in enums for v in value.split(" ")) if multi else value not in enums
                ):
                    return i, Rejection(VALUE_OUT_OF_RANGE, tag)
            if check is None and (tag < 5000 or options.check_user_defined_fields):
                return i, Rejection(INVALID_TAG_NUMBER, tag)
            if in_message and tag not in members and tag in known and not options.allow_unknown_message_fields:
                return i, Rejection(TAG_NOT_DEFINED_FOR_MESSAGE, tag)
            group = groups.get(tag) if groups else None
            i += 1
            if group is not None:
                if not value.isdigit():
                    return i, Rejection(INCORRECT_DATA_FORMAT, tag)
                i, problem = self._check_group(fields, i, end, group, int(value), options)
                if problem is not None:
                    return i, problem
        return i, None

    def _check_group(
        self,
        fields: Sequence[tuple[int, str]],
        start: int,
        end: int,
        group: GroupDef,
        declared: int,
        options: ValidationOptions,
    ) -> tuple[int, Rejection | None]:
        entries = 0
        i = start
        entry = group.entry
        while i < end and fields[i][0] == group.delimiter:
            entries += 1
            present_start = i
            i, problem = self._check_level(fields, i, end, entry, options, True, entry_level=True)
            if problem is not None:
                return i, problem
            present = {t for t, _ in fields[present_start:i]}
            for tag in entry.required:
                if tag not in present:
                    return i, Rejection(REQUIRED_TAG_MISSING, tag)
        if entries != declared:
            return i, Rejection(GROUP_COUNT_MISMATCH, group.count_tag)
        return i, None

def _all_tags(spec: FieldSet) -> frozenset[int]:
    tags = set(spec.members)
    for group in spec.groups.values():
        tags |= _all_tags(group.entry)
    return frozenset(tags)


Sections = tuple[list[tuple[int, str]], list[tuple[int, str]], list[tuple[int, str]]]


def _split_sections(
    fields: Sequence[tuple[int, str]], header_tags: frozenset[int], trailer_tags: frozenset[int]
) -> Sections | Rejection:
    header: list[tuple[int, str]] = []
    body: list[tuple[int, str]] = []
    trailer: list[tuple[int, str]] = []
    phase = 0  # 0 header, 1 body, 2 trailer
    for f in fields:
        tag = f[0]
        if tag in header_tags:
            if phase:
                return Rejection(TAG_OUT_OF_ORDER, tag)
            header.append(f)
        elif tag in trailer_tags:
            phase = 2
            trailer.append(f)
        else:
            if phase == 2:
                return Rejection(TAG_OUT_OF_ORDER, tag)
            phase = 1
            body.append(f)
    return header, body, trailer


def _split_sections_loose(
    fields: Sequence[tuple[int, str]], header_tags: frozenset[int], trailer_tags: frozenset[int]
) -> Sections:
    header = [f for f in fields if f[0] in header_tags]
    trailer = [f for f in fields if f[0] in trailer_tags]
    body = [f for f in fields if f[0] not in header_tags and f[0] not in trailer_tags]
    return header, body, trailer


# --------------------------------------------------------------------------------------------
# builder


class DictionaryBuilder:
    """Collects fields, components and messages by name, then resolves them into a Dictionary."""

    def __init__(self, begin_string: str) -> None:
        self.begin_string = begin_string
        self._fields: dict[int, FieldDef] = {}
        self._names: dict[str, int] = {}
        self._components: dict[str, Sequence[Item]] = {}
        self._header: Sequence[Item] = ()
        self._trailer: Sequence[Item] = ()
        self._messages: list[tuple[str, str, str, Sequence[Item]]] = []

    def add_field(self, tag: int, name: str, type: str, enums: Mapping[str, str] | None = None) -> None:
        if tag in self._fields and self._fields[tag].name != name:
            raise DictionaryError(f"tag {tag} defined twice ({self._fields[tag].name}, {name})")
        self._fields[tag] = FieldDef(tag, name, type.upper(), frozenset(enums) if enums else None)
        self._names[name] = tag

    def add_component(self, name: str, items: Sequence[Item]) -> None:
        self._components[name] = items

    def set_header(self, items: Sequence[Item]) -> None:
        self._header = items

    def set_trailer(self, items: Sequence[Item]) -> None:
        self._trailer = items

    def add_message(self, msg_type: str, name: str, category: str, items: Sequence[Item]) -> None:
        self._messages.append((msg_type, name, category, items))

    def build(self) -> Dictionary:
        messages = {
            msg_type: MessageDef(msg_type, name, category, self._resolve(items, f"message {name}"))
            for msg_type, name, category, items in self._messages
        }
        return Dictionary(
            self.begin_string,
            dict(self._fields),
            self._resolve(self._header, "header"),
            self._resolve(self._trailer, "trailer"),
            messages,
        )

    def _tag(self, name: str, where: str) -> int:
        try:
            return self._names[name]
        except KeyError:
            raise DictionaryError(f"{where}: unknown field {name!r}") from None

    def _resolve(self, items: Sequence[Item], where: str) -> FieldSet:
        order: list[int] = []
        required: set[int] = set()
        groups: dict[int, GroupDef] = {}
        self._flatten(items, True, where, order, required, groups, depth=0)
        return FieldSet(tuple(order), tuple(sorted(required)), groups, frozenset(order))

    def _flatten(
        self,
        items: Sequence[Item],
        enclosing_required: bool,
        where: str,
        order: list[int],
        required: set[int],
        groups: dict[int, GroupDef],
        depth: int,
    ) -> None:
        if depth > 32:
            raise DictionaryError(f"{where}: components nest too deeply (a cycle?)")
        for item in items:
            if isinstance(item, Component):
                try:
                    inner = self._components[item.name]
                except KeyError:
                    raise DictionaryError(f"{where}: unknown component {item.name!r}") from None
                self._flatten(inner, enclosing_required and item.required, where, order, required, groups,
                              depth + 1)
                continue
            tag = self._tag(item.name, where)
            if tag in order:
                continue
            order.append(tag)
            if item.required and enclosing_required:
                required.add(tag)
            if isinstance(item, Group):
                entry = self._resolve(item.items, f"{where}/{item.name}")
                if not entry.order:
                    raise DictionaryError(f"{where}: group {item.name} has no fields")
                groups[tag] = GroupDef(tag, entry.order[0], entry)


# --------------------------------------------------------------------------------------------
# QuickFIX XML


def load_quickfix_xml(path: str | Path) -> Dictionary:
    """Load a data dictionary in QuickFIX's XML format (FIX44.xml and the like)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise DictionaryError(f"cannot read FIX dictionary {path}: {exc}") from exc
    if root.tag != "fix":
        raise DictionaryError(f"{path}: not a QuickFIX dictionary (root element <{root.tag}>)")
    kind = root.get("type", "FIX")
    begin = f"{kind}.{root.get('major')}.{root.get('minor')}"
    sp = root.get("servicepack")
    if sp and sp != "0":
        begin += f"SP{sp}"
    builder = DictionaryBuilder(begin)
    for f in root.iterfind("fields/field"):
        enums = {v.get("enum", ""): v.get("description", "") for v in f.iterfind("value")}
        builder.add_field(int(f.get("number", "0")), f.get("name", ""), f.get("type", "STRING"), enums or None)
    for c in root.iterfind("components/component"):
        builder.add_component(c.get("name", ""), _xml_items(c))
    header = root.find("header")
    trailer = root.find("trailer")
    builder.set_header(_xml_items(header) if header is not None else ())
    builder.set_trailer(_xml_items(trailer) if trailer is not None else ())
    for m in root.iterfind("messages/message"):
        builder.add_message(m.get("msgtype", ""), m.get("name", ""), m.get("msgcat", "app"), _xml_items(m))
    return builder.build()


def _xml_items(element: ET.Element) -> list[Item]:
    items: list[Item] = []
    for child in element:
        name = child.get("name", "")
        required = child.get("required", "N").upper() == "Y"
        if child.tag == "field":
            items.append(Field(name, required))
        elif child.tag == "group":
            items.append(Group(name, _xml_items(child), required))
        elif child.tag == "component":
            items.append(Component(name, required))
    return items
