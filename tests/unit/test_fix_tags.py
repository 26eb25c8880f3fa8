"""The names in metaorder.fix.tags are the FIX 4.4 specification's, checked against the built-in dictionary."""

from __future__ import annotations

import enum
import re

import pytest

from metaorder.fix import tags
from metaorder.fix.codec import Message
from metaorder.fix.fix44 import builtin_fix44
from metaorder.fix.tags import Tag

DICTIONARY = builtin_fix44()


def snake(fix_name: str) -> str:
    """``ClOrdID`` -> ``CL_ORD_ID``, ``NoMDEntries`` -> ``NO_MD_ENTRIES``."""
    return "_".join(re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|\b)|[A-Z]?[a-z]+|\d+", fix_name)).upper()


@pytest.mark.parametrize("tag", list(Tag), ids=lambda t: t.name)
def test_each_tag_is_named_as_the_fix44_dictionary_names_its_number(tag: Tag) -> None:
    assert snake(DICTIONARY.fields[tag.value].name) == tag.name


VALUE_ENUMS = {
    tags.MsgType: None, tags.ExecType: Tag.EXEC_TYPE, tags.OrdStatus: Tag.ORD_STATUS, tags.Side: Tag.SIDE,
    tags.OrdType: Tag.ORD_TYPE, tags.TimeInForce: Tag.TIME_IN_FORCE, tags.CxlRejReason: Tag.CXL_REJ_REASON,
    tags.CxlRejResponseTo: Tag.CXL_REJ_RESPONSE_TO, tags.OrdRejReason: Tag.ORD_REJ_REASON,
    tags.MDEntryType: Tag.MD_ENTRY_TYPE, tags.MDUpdateAction: Tag.MD_UPDATE_ACTION,
    tags.SubscriptionRequestType: Tag.SUBSCRIPTION_REQUEST_TYPE, tags.MDUpdateType: Tag.MD_UPDATE_TYPE,
    tags.TradSesStatus: Tag.TRAD_SES_STATUS, tags.LastLiquidityInd: Tag.LAST_LIQUIDITY_IND,
    tags.YesNo: Tag.POSS_DUP_FLAG, tags.ExecInst: Tag.EXEC_INST,
}


def test_every_value_enum_of_the_module_is_checked_here() -> None:
    defined = {v for v in vars(tags).values() if isinstance(v, type) and issubclass(v, enum.StrEnum)
               and v.__module__ == tags.__name__}
    assert defined == set(VALUE_ENUMS)


@pytest.mark.parametrize("cls", list(VALUE_ENUMS), ids=lambda c: c.__name__)
def test_each_enum_value_is_one_the_fix44_dictionary_allows_for_its_field(cls: type[enum.StrEnum]) -> None:
    tag = VALUE_ENUMS[cls]
    if tag is None:  # MsgType: the dictionary's messages
        assert {m.value for m in cls} <= set(DICTIONARY.messages)
        return
    allowed = DICTIONARY.fields[tag].enums
    assert allowed is not None and {m.value for m in cls} - NOT_FIX44.get(cls, set()) <= allowed


#: Values FIX 4.4 dropped that venues still on FIX 4.2 habits send: read, never written.
NOT_FIX44: dict[type[enum.StrEnum], set[str]] = {tags.ExecType: {tags.ExecType.PARTIAL_FILL, tags.ExecType.FILL}}


def test_members_work_as_the_codec_keys_and_values_they_stand_for() -> None:
    msg = Message("FIX.4.4", [(35, "8"), (11, "C1"), (150, "F"), (14, "100")])
    assert msg.get(Tag.CL_ORD_ID) == "C1" and Tag.CUM_QTY in msg and msg[Tag.CUM_QTY] == "100"
    assert msg.get(Tag.EXEC_TYPE) == tags.ExecType.TRADE and msg.msg_type == tags.MsgType.EXECUTION_REPORT
    assert f"{Tag.SYMBOL}={tags.Side.BUY}" == "55=1"
