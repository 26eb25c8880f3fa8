"""The data dictionary (metaorder.fix.dictionary): validation and the QuickFIX XML loader.

Validation is tested against a small dictionary built here with :class:`DictionaryBuilder`, so the
tests do not move when the built-in FIX 4.4 dictionary grows.  Messages are made the way the session
sees them: encoded with :func:`encode` and decoded with :func:`decode`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.fix.dictionary import (
    GROUP_COUNT_MISMATCH,
    INCORRECT_DATA_FORMAT,
    INVALID_MSGTYPE,
    INVALID_TAG_NUMBER,
    REJECT_TEXT,
    REQUIRED_TAG_MISSING,
    TAG_NOT_DEFINED_FOR_MESSAGE,
    TAG_OUT_OF_ORDER,
    TAG_REPEATED,
    TAG_WITHOUT_VALUE,
    VALUE_OUT_OF_RANGE,
    Component,
    Dictionary,
    DictionaryBuilder,
    DictionaryError,
    Field,
    Group,
    Rejection,
    ValidationOptions,
    load_quickfix_xml,
)

STAMP = "20231114-22:13:20.000"
HEADER: list[tuple[int, FieldValue]] = [(34, 1), (49, "SND"), (52, STAMP), (56, "TGT")]


def build() -> Dictionary:
    b = DictionaryBuilder("FIX.4.4")
    for tag, name, type_ in [
        (8, "BeginString", "STRING"), (9, "BodyLength", "LENGTH"), (10, "CheckSum", "STRING"),
        (34, "MsgSeqNum", "SEQNUM"), (35, "MsgType", "STRING"), (49, "SenderCompID", "STRING"),
        (52, "SendingTime", "UTCTIMESTAMP"), (56, "TargetCompID", "STRING"), (115, "OnBehalfOfCompID", "STRING"),
        (93, "SignatureLength", "LENGTH"), (89, "Signature", "DATA"),
        (11, "ClOrdID", "STRING"), (38, "OrderQty", "QTY"), (44, "Price", "PRICE"), (58, "Text", "STRING"),
        (60, "TransactTime", "UTCTIMESTAMP"), (112, "TestReqID", "STRING"), (448, "PartyID", "STRING"),
        (453, "NoPartyIDs", "NUMINGROUP"), (523, "PartySubID", "STRING"), (802, "NoPartySubIDs", "NUMINGROUP"),
        (1000, "Flag", "BOOLEAN"), (1001, "Count", "INT"), (1002, "Day", "UTCDATEONLY"),
        (1003, "Clock", "UTCTIMEONLY"), (1004, "Letter", "CHAR"), (6000, "Custom", "STRING"),
    ]:
        b.add_field(tag, name, type_)
    b.add_field(54, "Side", "CHAR", {"1": "BUY", "2": "SELL"})
    b.add_field(18, "ExecInst", "MULTIPLEVALUESTRING", {"1": "NOT_HELD", "2": "WORK", "G": "ALL_OR_NONE"})
    b.add_field(447, "PartyIDSource", "CHAR", {"B": "BIC", "D": "PROPRIETARY"})
    b.add_field(452, "PartyRole", "INT", {"1": "EXECUTING_FIRM", "3": "CLIENT_ID"})
    b.add_field(803, "PartySubIDType", "INT", {"1": "FIRM", "2": "PERSON"})
    b.set_header([
        Field("BeginString", True), Field("BodyLength", True), Field("MsgType", True),
        Field("SenderCompID", True), Field("TargetCompID", True), Field("OnBehalfOfCompID"),
        Field("MsgSeqNum", True), Field("SendingTime", True),
    ])
    b.set_trailer([Field("SignatureLength"), Field("Signature"), Field("CheckSum", True)])
    b.add_component("Parties", [
        Group("NoPartyIDs", [
            Field("PartyID"), Field("PartyIDSource"), Field("PartyRole", True),
            Group("NoPartySubIDs", [Field("PartySubID"), Field("PartySubIDType", True)]),
        ]),
    ])
    b.add_message("0", "Heartbeat", "admin", [Field("TestReqID")])
    b.add_message("D", "NewOrderSingle", "app", [
        Field("ClOrdID", True), Component("Parties"), Field("Side", True), Field("TransactTime", True),
        Field("OrderQty"), Field("Price"), Field("ExecInst"), Field("Flag"), Field("Count"), Field("Day"),
        Field("Clock"), Field("Letter"), Field("Custom"), Field("Text"),
    ])
    return b.build()


DICT = build()
ORDER: list[tuple[int, FieldValue]] = [(11, "A1"), (54, "1"), (60, STAMP)]
STRICT = ValidationOptions()


def message(body: list[tuple[int, FieldValue]], msg_type: str = "D",
            header: list[tuple[int, FieldValue]] | None = None) -> Message:
    decoded = decode(encode("FIX.4.4", msg_type, HEADER if header is None else header, body))
    assert isinstance(decoded, Message)
    return decoded


def raw_message(*fields: tuple[int, str]) -> Message:
    """A message with fields in exactly the given order (encode sorts the header; this does not)."""
    return Message("FIX.4.4", list(fields))


def check(body: list[tuple[int, FieldValue]], options: ValidationOptions = STRICT,
          msg_type: str = "D") -> Rejection | None:
    return DICT.validate(message(body, msg_type), options)


# --------------------------------------------------------------------------------------------
# conforming messages


def test_a_conforming_message_validates() -> None:
    assert check(ORDER) is None
    assert check([*ORDER, (38, "100"), (44, "12.5"), (18, "1 2 G"), (1000, "Y"), (1001, "-3"),
                  (1002, "20240229"), (1003, "23:59:59.999"), (1004, "x"), (58, "free text")]) is None
    assert check([], msg_type="0") is None


def test_a_message_with_a_signature_in_the_trailer_validates() -> None:
    assert check([*ORDER, (93, 3), (89, "abc")]) is None


def test_nested_groups_validate() -> None:
    parties: list[tuple[int, FieldValue]] = [
        (453, 2),
        (448, "BRKR"), (447, "D"), (452, 1), (802, 2), (523, "desk"), (803, 1), (523, "joe"), (803, 2),
        (448, "CLNT"), (452, 3),
    ]
    assert check([(11, "A1"), *parties, (54, "1"), (60, STAMP)]) is None


def test_group_with_count_zero_and_no_entries_validates() -> None:
    assert check([(11, "A1"), (453, 0), (54, "1"), (60, STAMP)]) is None


# --------------------------------------------------------------------------------------------
# one test per SessionRejectReason the dictionary produces


@pytest.mark.parametrize("tag", [9999, 4999, 0, -5])
def test_unknown_tag_is_invalid_tag_number_0(tag: int) -> None:
    assert check([*ORDER, (tag, "x")]) == Rejection(INVALID_TAG_NUMBER, tag)


def test_user_defined_unknown_tag_is_invalid_tag_number_0_unless_user_defined_fields_are_unchecked() -> None:
    assert check([*ORDER, (5001, "x")]) == Rejection(INVALID_TAG_NUMBER, 5001)
    relaxed = ValidationOptions(check_user_defined_fields=False)
    assert check([*ORDER, (5001, "x")], relaxed) is None
    assert check([*ORDER, (4999, "x")], relaxed) == Rejection(INVALID_TAG_NUMBER, 4999)


@pytest.mark.parametrize("missing", [11, 54, 60])
def test_missing_required_body_field_is_required_tag_missing_1(missing: int) -> None:
    assert check([f for f in ORDER if f[0] != missing]) == Rejection(REQUIRED_TAG_MISSING, missing)


def test_missing_required_header_field_is_required_tag_missing_1() -> None:
    msg = message(ORDER, header=[(34, 1), (52, STAMP), (56, "TGT")])
    assert DICT.validate(msg) == Rejection(REQUIRED_TAG_MISSING, 49)


def test_required_fields_are_reported_header_first_then_body_in_ascending_tag_order() -> None:
    msg = message([(54, "1")], header=[(34, 1), (49, "SND"), (52, STAMP)])
    assert DICT.validate(msg) == Rejection(REQUIRED_TAG_MISSING, 56)
    assert check([(54, "1")]) == Rejection(REQUIRED_TAG_MISSING, 11)


def test_missing_required_field_in_a_group_entry_is_required_tag_missing_1() -> None:
    parties: list[tuple[int, FieldValue]] = [(453, 2), (448, "BRKR"), (452, 1), (448, "CLNT")]
    assert check([*ORDER, *parties]) == Rejection(REQUIRED_TAG_MISSING, 452)


def test_missing_required_field_in_a_nested_group_entry_is_required_tag_missing_1() -> None:
    parties: list[tuple[int, FieldValue]] = [(453, 1), (448, "BRKR"), (452, 1), (802, 1), (523, "desk")]
    assert check([*ORDER, *parties]) == Rejection(REQUIRED_TAG_MISSING, 803)


def test_field_defined_but_not_in_this_message_is_tag_not_defined_2() -> None:
    assert check([*ORDER, (112, "x")]) == Rejection(TAG_NOT_DEFINED_FOR_MESSAGE, 112)
    assert check([*ORDER, (112, "x")], ValidationOptions(allow_unknown_message_fields=True)) is None


def test_group_field_outside_its_group_is_tag_not_defined_2() -> None:
    assert check([*ORDER, (448, "BRKR")]) == Rejection(TAG_NOT_DEFINED_FOR_MESSAGE, 448)


def test_empty_value_is_tag_without_value_4() -> None:
    assert check([*ORDER, (58, "")]) == Rejection(TAG_WITHOUT_VALUE, 58)
    assert check([*ORDER, (58, "")], ValidationOptions(check_fields_have_values=False)) is None


def test_empty_header_value_is_tag_without_value_4() -> None:
    msg = message(ORDER, header=[*HEADER, (115, "")])
    assert DICT.validate(msg) == Rejection(TAG_WITHOUT_VALUE, 115)


@pytest.mark.parametrize(
    ("tag", "value"), [(54, "9"), (18, "X"), (18, "1 X"), (18, "1  2"), (18, "1,2"), (452, "2")]
)
def test_value_not_in_the_enumeration_is_value_out_of_range_5(tag: int, value: str) -> None:
    body = [(t, value if t == tag else v) for t, v in ORDER] if tag == 54 else [*ORDER, (tag, value)]
    assert check(body) == Rejection(VALUE_OUT_OF_RANGE, tag)


def test_value_out_of_range_inside_a_group_is_value_out_of_range_5() -> None:
    assert check([*ORDER, (453, 1), (448, "X"), (452, 2)]) == Rejection(VALUE_OUT_OF_RANGE, 452)
    assert check([*ORDER, (453, 1), (448, "X"), (447, "Z"), (452, 1)]) == Rejection(VALUE_OUT_OF_RANGE, 447)


def test_multiple_value_string_accepts_each_enumerated_value_separated_by_spaces() -> None:
    for value in ("1", "G", "1 2", "2 1 G"):
        assert check([*ORDER, (18, value)]) is None, value


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (38, "abc"), (38, "1e5"), (38, "+5"), (38, " 5"), (38, "1.2.3"), (44, "1,5"),
        (1001, "1.5"), (1001, "x"), (1004, "ab"), (1000, "yes"), (1000, "y"),
        (60, "20231114-22:13"), (60, "20231314-22:13:20"), (60, "20231114-25:00:00"), (60, "20231114 22:13:20"),
        (1002, "2024-02-29"), (1002, "20241301"), (1003, "25:00:00"), (1003, "12:00"),
        (453, "x"), (453, "-1"),
    ],
)
def test_badly_formatted_value_is_incorrect_data_format_6(tag: int, value: str) -> None:
    body = [(11, "A1"), (54, "1"), (60, value)] if tag == 60 else [*ORDER, (tag, value)]
    assert check(body) == Rejection(INCORRECT_DATA_FORMAT, tag)


@pytest.mark.parametrize(("tag", "value"), [(38, "100"), (38, "-1.5"), (38, ".5"), (38, "5."), (44, "0.0000001"),
                                            (60, "20231114-22:13:20"), (60, "20231114-22:13:20.123456789")])
def test_well_formatted_values_validate(tag: int, value: str) -> None:
    body = [(11, "A1"), (54, "1"), (60, value)] if tag == 60 else [*ORDER, (tag, value)]
    assert check(body) is None


def test_unknown_msg_type_is_invalid_msgtype_11() -> None:
    assert check(ORDER, msg_type="ZZ") == Rejection(INVALID_MSGTYPE)


def test_repeated_body_tag_is_tag_repeated_13() -> None:
    assert check([*ORDER, (58, "a"), (58, "b")]) == Rejection(TAG_REPEATED, 58)


def test_repeated_header_tag_is_tag_repeated_13() -> None:
    msg = message(ORDER, header=[*HEADER, (115, "A"), (115, "B")])
    assert DICT.validate(msg) == Rejection(TAG_REPEATED, 115)


def test_header_field_after_the_body_is_tag_out_of_order_14() -> None:
    msg = raw_message((35, "D"), (34, "1"), (49, "SND"), (52, STAMP), (11, "A1"), (56, "TGT"), (54, "1"),
                      (60, STAMP))
    assert DICT.validate(msg) == Rejection(TAG_OUT_OF_ORDER, 56)
    assert DICT.validate(msg, ValidationOptions(check_fields_out_of_order=False)) is None


def test_body_field_after_the_trailer_is_tag_out_of_order_14() -> None:
    msg = raw_message((35, "D"), (34, "1"), (49, "SND"), (52, STAMP), (56, "TGT"), (11, "A1"), (54, "1"),
                      (93, "3"), (60, STAMP), (89, "abc"))
    assert DICT.validate(msg) == Rejection(TAG_OUT_OF_ORDER, 60)
    assert DICT.validate(msg, ValidationOptions(check_fields_out_of_order=False)) is None


def test_out_of_order_is_reported_before_an_unknown_msg_type() -> None:
    msg = raw_message((35, "ZZ"), (34, "1"), (11, "A1"), (49, "SND"))
    assert DICT.validate(msg) == Rejection(TAG_OUT_OF_ORDER, 49)


def test_missing_required_field_is_reported_before_a_bad_value() -> None:
    assert check([(11, "A1"), (54, "9")]) == Rejection(REQUIRED_TAG_MISSING, 60)


def test_group_with_fewer_entries_than_declared_is_group_count_mismatch_16() -> None:
    assert check([*ORDER, (453, 2), (448, "X"), (452, 1)]) == Rejection(GROUP_COUNT_MISMATCH, 453)


def test_group_with_more_entries_than_declared_is_group_count_mismatch_16() -> None:
    body: list[tuple[int, FieldValue]] = [*ORDER, (453, 1), (448, "X"), (452, 1), (448, "Y"), (452, 3)]
    assert check(body) == Rejection(GROUP_COUNT_MISMATCH, 453)


def test_group_with_count_zero_but_an_entry_is_group_count_mismatch_16() -> None:
    assert check([*ORDER, (453, 0), (448, "X"), (452, 1)]) == Rejection(GROUP_COUNT_MISMATCH, 453)


def test_group_entry_not_starting_with_the_delimiter_is_group_count_mismatch_16() -> None:
    assert check([*ORDER, (453, 1), (452, 1), (448, "X")]) == Rejection(GROUP_COUNT_MISMATCH, 453)


def test_nested_group_count_mismatch_names_the_nested_count_tag() -> None:
    body: list[tuple[int, FieldValue]] = [*ORDER, (453, 1), (448, "X"), (452, 1), (802, 2), (523, "a"), (803, 1)]
    assert check(body) == Rejection(GROUP_COUNT_MISMATCH, 802)


def test_field_after_a_group_belongs_to_the_message_again() -> None:
    assert check([(11, "A1"), (453, 1), (448, "X"), (452, 1), (54, "1"), (60, STAMP), (58, "t")]) is None


def test_rejection_text_is_the_standard_text() -> None:
    assert Rejection(REQUIRED_TAG_MISSING, 11).text == "Required tag missing"
    assert Rejection(VALUE_OUT_OF_RANGE).text == REJECT_TEXT[VALUE_OUT_OF_RANGE]
    assert Rejection(12345).text == "Other"


# --------------------------------------------------------------------------------------------
# dictionary API


def test_tag_lookup_and_admin_categories() -> None:
    assert DICT.tag("ClOrdID") == 11
    with pytest.raises(DictionaryError):
        DICT.tag("NoSuchField")
    assert DICT.is_admin("0")
    assert not DICT.is_admin("D")
    assert DICT.is_admin("A")  # not defined here: the session message types are admin anyway
    assert not DICT.is_admin("ZZ")


def test_builder_rejects_unknown_fields_and_components() -> None:
    b = DictionaryBuilder("FIX.4.4")
    b.add_field(11, "ClOrdID", "STRING")
    b.add_message("D", "NewOrderSingle", "app", [Field("ClOrdID"), Field("Nope")])
    with pytest.raises(DictionaryError, match="Nope"):
        b.build()
    b = DictionaryBuilder("FIX.4.4")
    b.add_field(11, "ClOrdID", "STRING")
    b.add_message("D", "NewOrderSingle", "app", [Component("Missing")])
    with pytest.raises(DictionaryError, match="Missing"):
        b.build()


def test_builder_rejects_a_tag_defined_twice_under_different_names() -> None:
    b = DictionaryBuilder("FIX.4.4")
    b.add_field(11, "ClOrdID", "STRING")
    with pytest.raises(DictionaryError):
        b.add_field(11, "Other", "STRING")


def test_builder_rejects_a_component_cycle() -> None:
    b = DictionaryBuilder("FIX.4.4")
    b.add_field(11, "ClOrdID", "STRING")
    b.add_component("A", [Component("B")])
    b.add_component("B", [Component("A")])
    b.add_message("D", "NewOrderSingle", "app", [Component("A")])
    with pytest.raises(DictionaryError):
        b.build()


# --------------------------------------------------------------------------------------------
# QuickFIX XML

TINY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<fix type="FIX" major="4" minor="4" servicepack="0">
  <header>
    <field name="BeginString" required="Y"/>
    <field name="BodyLength" required="Y"/>
    <field name="MsgType" required="Y"/>
    <field name="SenderCompID" required="Y"/>
    <field name="TargetCompID" required="Y"/>
    <field name="MsgSeqNum" required="Y"/>
    <field name="SendingTime" required="Y"/>
  </header>
  <trailer>
    <field name="CheckSum" required="Y"/>
  </trailer>
  <messages>
    <message name="Heartbeat" msgtype="0" msgcat="admin">
      <field name="TestReqID" required="N"/>
    </message>
    <message name="NewOrderSingle" msgtype="D" msgcat="app">
      <field name="ClOrdID" required="Y"/>
      <component name="Instrument" required="Y"/>
      <component name="Parties" required="N"/>
      <field name="Side" required="Y"/>
    </message>
  </messages>
  <components>
    <component name="Instrument">
      <field name="Symbol" required="Y"/>
      <component name="SecAltIDGrp" required="N"/>
      <component name="Venue" required="Y"/>
    </component>
    <component name="Venue">
      <field name="SecurityExchange" required="Y"/>
    </component>
    <component name="SecAltIDGrp">
      <group name="NoSecurityAltID" required="N">
        <field name="SecurityAltID" required="N"/>
        <field name="SecurityAltIDSource" required="Y"/>
      </group>
    </component>
    <component name="Parties">
      <group name="NoPartyIDs" required="N">
        <field name="PartyID" required="N"/>
        <field name="PartyRole" required="Y"/>
      </group>
      <field name="Account" required="Y"/>
    </component>
  </components>
  <fields>
    <field number="1" name="Account" type="STRING"/>
    <field number="8" name="BeginString" type="STRING"/>
    <field number="9" name="BodyLength" type="LENGTH"/>
    <field number="10" name="CheckSum" type="STRING"/>
    <field number="11" name="ClOrdID" type="STRING"/>
    <field number="34" name="MsgSeqNum" type="SEQNUM"/>
    <field number="35" name="MsgType" type="STRING"/>
    <field number="49" name="SenderCompID" type="STRING"/>
    <field number="52" name="SendingTime" type="UTCTIMESTAMP"/>
    <field number="54" name="Side" type="CHAR">
      <value enum="1" description="BUY"/>
      <value enum="2" description="SELL"/>
    </field>
    <field number="55" name="Symbol" type="STRING"/>
    <field number="56" name="TargetCompID" type="STRING"/>
    <field number="112" name="TestReqID" type="STRING"/>
    <field number="207" name="SecurityExchange" type="EXCHANGE"/>
    <field number="448" name="PartyID" type="STRING"/>
    <field number="452" name="PartyRole" type="INT"/>
    <field number="453" name="NoPartyIDs" type="NUMINGROUP"/>
    <field number="454" name="NoSecurityAltID" type="NUMINGROUP"/>
    <field number="455" name="SecurityAltID" type="STRING"/>
    <field number="456" name="SecurityAltIDSource" type="STRING"/>
  </fields>
</fix>
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Dictionary:
    path = tmp_path / "TINY.xml"
    path.write_text(TINY_XML)
    return load_quickfix_xml(path)


def test_xml_loader_reads_begin_string_fields_and_enums(tiny: Dictionary) -> None:
    assert tiny.begin_string == "FIX.4.4"
    assert tiny.fields[54].enums == frozenset({"1", "2"})
    assert tiny.fields[52].type == "UTCTIMESTAMP"
    assert tiny.tag("SecurityAltIDSource") == 456
    assert tiny.is_admin("0") and not tiny.is_admin("D")
    assert {8, 9, 35, 49, 56, 34, 52} <= tiny.header_tags
    assert 10 in tiny.trailer_tags


def test_xml_loader_flattens_nested_components_in_order(tiny: Dictionary) -> None:
    body = tiny.messages["D"].body
    assert body.order == (11, 55, 454, 207, 453, 1, 54)


def test_xml_loader_required_fields_inherit_the_requiredness_of_their_components(tiny: Dictionary) -> None:
    # Symbol: required in a required component; SecurityExchange: required in a required component
    # nested in a required component; Account: required, but in an optional component.
    assert tiny.messages["D"].body.required == (11, 54, 55, 207)


def test_xml_loader_groups_in_components_keep_their_delimiter_and_required_entry_fields(tiny: Dictionary) -> None:
    body = tiny.messages["D"].body
    alt = body.groups[454]
    assert alt.delimiter == 455
    assert alt.entry.required == (456,)
    assert body.groups[453].delimiter == 448
    assert body.groups[453].entry.required == (452,)


def test_xml_dictionary_validates(tiny: Dictionary) -> None:
    def validate(body: list[tuple[int, FieldValue]]) -> Rejection | None:
        return tiny.validate(message(body))

    base: list[tuple[int, FieldValue]] = [(11, "A"), (55, "IBM"), (207, "N"), (54, "1")]
    assert validate(base) is None
    assert validate([(11, "A"), (55, "IBM"), (54, "1")]) == Rejection(REQUIRED_TAG_MISSING, 207)
    assert validate([*base[:3], (454, 1), (455, "x"), (54, "1")]) == Rejection(REQUIRED_TAG_MISSING, 456)
    assert validate([*base[:3], (453, 1), (448, "P"), (452, 1), (54, "1")]) is None
    assert validate([*base, (112, "x")]) == Rejection(TAG_NOT_DEFINED_FOR_MESSAGE, 112)


def test_xml_servicepack_goes_into_the_begin_string(tmp_path: Path) -> None:
    path = tmp_path / "SP.xml"
    path.write_text(TINY_XML.replace('major="4" minor="4" servicepack="0"', 'type="FIXT" major="5" minor="0" '
                                     'servicepack="2"').replace('type="FIX" ', ""))
    assert load_quickfix_xml(path).begin_string == "FIXT.5.0SP2"


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ('<component name="Venue" required="Y"/>', '<component name="Place" required="Y"/>', "Place"),
        ('<field name="Symbol" required="Y"/>', '<field name="Ticker" required="Y"/>', "Ticker"),
        ('<field name="TestReqID" required="N"/>', '<field name="TestReqId" required="N"/>', "TestReqId"),
    ],
)
def test_xml_loader_rejects_unknown_components_and_fields(tmp_path: Path, old: str, new: str, name: str) -> None:
    assert old in TINY_XML
    path = tmp_path / "BAD.xml"
    path.write_text(TINY_XML.replace(old, new))
    with pytest.raises(DictionaryError, match=name):
        load_quickfix_xml(path)


def test_xml_loader_rejects_unreadable_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError):
        load_quickfix_xml(tmp_path / "missing.xml")
    broken = tmp_path / "broken.xml"
    broken.write_text("<fix><header>")
    with pytest.raises(DictionaryError):
        load_quickfix_xml(broken)
    foreign = tmp_path / "foreign.xml"
    foreign.write_text("<html/>")
    with pytest.raises(DictionaryError):
        load_quickfix_xml(foreign)
