"""FIX 4.4 tag numbers and enum values, named once.

Why a module of names: a tag number scattered through the engine (``msg.get(150)``, ``(38, qty)``)
says nothing to a reader and has to be found by grep when a field changes meaning.  Here every tag
metaorder reads or writes has one name, spelled as the FIX 4.4 specification spells it (``ClOrdID``
→ ``CL_ORD_ID``; ``tests/unit/test_fix_tags.py`` checks each name and value against the built-in
dictionary of :mod:`metaorder.fix.fix44`), and every enumerated value metaorder uses is a member of
a :class:`~enum.StrEnum` named after its field.

Tags are an :class:`~enum.IntEnum`, so ``msg.get(Tag.CL_ORD_ID)`` works unchanged with
:class:`~metaorder.fix.codec.Message` (keyed by ``int``: an ``IntEnum`` member hashes and compares
as its value) and ``(Tag.SYMBOL, "ACME")`` encodes as ``55=ACME``.  Values are ``StrEnum``: a member
*is* its wire string (``ExecType.TRADE == "F"``, ``f"{ExecType.TRADE}" == "F"``), so comparing a
received value with a member needs no conversion, and a member can go straight into a field.

Cost, measured on this machine (CPython 3.11): ``d.get(Tag.CL_ORD_ID)`` takes ~95 ns against ~36 ns
for ``d.get(11)`` (the enum attribute lookup and an ``int.__eq__`` on the dict hit).  That is
nothing for the venue adapter (a few dozen reads per venue report, far fewer reports than client
orders), so the adapters use the enum directly.  The mypyc-compiled order path
(:mod:`metaorder.native`) would pay it per field per order and mypyc cannot fold an enum member into
a C constant; when the OMS adapter is written, bind the few tags it reads per order to module-level
``Final`` ints there (``_CL_ORD_ID: Final = 11``, with a test that they equal ``Tag`` members),
which mypyc compiles to constants, and keep ``Tag`` for everything else.

Only what metaorder uses is named: a new field gets a member here first.
"""

from __future__ import annotations

import enum


class Tag(enum.IntEnum):
    """FIX 4.4 tag numbers, named as the specification names the fields."""

    ACCOUNT = 1
    AVG_PX = 6
    BEGIN_SEQ_NO = 7
    BEGIN_STRING = 8
    BODY_LENGTH = 9
    CHECK_SUM = 10
    CL_ORD_ID = 11
    COMMISSION = 12
    CUM_QTY = 14
    END_SEQ_NO = 16
    EXEC_ID = 17
    EXEC_INST = 18
    LAST_MKT = 30
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    NEW_SEQ_NO = 36
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    ORIG_CL_ORD_ID = 41
    POSS_DUP_FLAG = 43
    PRICE = 44
    REF_SEQ_NUM = 45
    SENDER_COMP_ID = 49
    SENDING_TIME = 52
    SIDE = 54
    SYMBOL = 55
    TARGET_COMP_ID = 56
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    POSS_RESEND = 97
    ENCRYPT_METHOD = 98
    CXL_REJ_REASON = 102
    ORD_REJ_REASON = 103
    HEART_BT_INT = 108
    MIN_QTY = 110
    TEST_REQ_ID = 112
    ON_BEHALF_OF_COMP_ID = 115
    ORIG_SENDING_TIME = 122
    GAP_FILL_FLAG = 123
    EXPIRE_TIME = 126
    DELIVER_TO_COMP_ID = 128
    RESET_SEQ_NUM_FLAG = 141
    NO_RELATED_SYM = 146
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    EFFECTIVE_TIME = 168
    MD_REQ_ID = 262
    SUBSCRIPTION_REQUEST_TYPE = 263
    MARKET_DEPTH = 264
    MD_UPDATE_TYPE = 265
    AGGREGATED_BOOK = 266
    NO_MD_ENTRY_TYPES = 267
    NO_MD_ENTRIES = 268
    MD_ENTRY_TYPE = 269
    MD_ENTRY_PX = 270
    MD_ENTRY_SIZE = 271
    MD_UPDATE_ACTION = 279
    MD_REQ_REJ_REASON = 281
    MD_ENTRY_POSITION_NO = 290
    TRADING_SESSION_ID = 336
    TRAD_SES_STATUS = 340
    REF_TAG_ID = 371
    REF_MSG_TYPE = 372
    SESSION_REJECT_REASON = 373
    BUSINESS_REJECT_REASON = 380
    CXL_REJ_RESPONSE_TO = 434
    USERNAME = 553
    PASSWORD = 554
    TARGET_STRATEGY = 847
    TARGET_STRATEGY_PARAMETERS = 848
    PARTICIPATION_RATE = 849
    LAST_LIQUIDITY_IND = 851


class MsgType(enum.StrEnum):
    """MsgType (35)."""

    HEARTBEAT = "0"
    TEST_REQUEST = "1"
    RESEND_REQUEST = "2"
    REJECT = "3"
    SEQUENCE_RESET = "4"
    LOGOUT = "5"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    LOGON = "A"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    BUSINESS_MESSAGE_REJECT = "j"
    MARKET_DATA_REQUEST = "V"
    MARKET_DATA_SNAPSHOT_FULL_REFRESH = "W"
    MARKET_DATA_INCREMENTAL_REFRESH = "X"
    MARKET_DATA_REQUEST_REJECT = "Y"
    TRADING_SESSION_STATUS = "h"


class ExecType(enum.StrEnum):
    """ExecType (150)."""

    NEW = "0"
    PARTIAL_FILL = "1"  # FIX 4.2; FIX 4.4 venues send TRADE
    FILL = "2"  # FIX 4.2; FIX 4.4 venues send TRADE
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    REPLACE = "5"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    RESTATED = "D"
    PENDING_REPLACE = "E"
    TRADE = "F"
    TRADE_CORRECT = "G"
    TRADE_CANCEL = "H"
    ORDER_STATUS = "I"


class OrdStatus(enum.StrEnum):
    """OrdStatus (39)."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    DONE_FOR_DAY = "3"
    CANCELED = "4"
    PENDING_CANCEL = "6"
    STOPPED = "7"
    REJECTED = "8"
    SUSPENDED = "9"
    PENDING_NEW = "A"
    CALCULATED = "B"
    EXPIRED = "C"
    ACCEPTED_FOR_BIDDING = "D"
    PENDING_REPLACE = "E"


class Side(enum.StrEnum):
    """Side (54)."""

    BUY = "1"
    SELL = "2"
    SELL_SHORT = "5"
    SELL_SHORT_EXEMPT = "6"


class OrdType(enum.StrEnum):
    """OrdType (40)."""

    MARKET = "1"
    LIMIT = "2"
    PEGGED = "P"


class ExecInst(enum.StrEnum):
    """ExecInst (18): the value metaorder sends (a multiple-value string in FIX)."""

    MID_PRICE_PEG = "M"  # pegged to the midpoint of the inside quote (with OrdType P)


class TimeInForce(enum.StrEnum):
    """TimeInForce (59)."""

    DAY = "0"
    GOOD_TILL_CANCEL = "1"
    IMMEDIATE_OR_CANCEL = "3"
    FILL_OR_KILL = "4"
    GOOD_TILL_DATE = "6"


class CxlRejReason(enum.StrEnum):
    """CxlRejReason (102)."""

    TOO_LATE_TO_CANCEL = "0"
    UNKNOWN_ORDER = "1"
    BROKER_CREDIT = "2"
    ORDER_ALREADY_IN_PENDING_CANCEL_OR_PENDING_REPLACE_STATUS = "3"
    DUPLICATE_CLORDID_RECEIVED = "6"
    OTHER = "99"


class CxlRejResponseTo(enum.StrEnum):
    """CxlRejResponseTo (434)."""

    ORDER_CANCEL_REQUEST = "1"
    ORDER_CANCEL_REPLACE_REQUEST = "2"


class OrdRejReason(enum.StrEnum):
    """OrdRejReason (103)."""

    BROKER_CREDIT = "0"
    UNKNOWN_SYMBOL = "1"
    EXCHANGE_CLOSED = "2"
    ORDER_EXCEEDS_LIMIT = "3"
    TOO_LATE_TO_ENTER = "4"
    UNKNOWN_ORDER = "5"
    DUPLICATE_ORDER = "6"
    UNSUPPORTED_ORDER_CHARACTERISTIC = "11"
    INCORRECT_QUANTITY = "13"
    OTHER = "99"


class MDEntryType(enum.StrEnum):
    """MDEntryType (269)."""

    BID = "0"
    OFFER = "1"
    TRADE = "2"


class MDUpdateAction(enum.StrEnum):
    """MDUpdateAction (279)."""

    NEW = "0"
    CHANGE = "1"
    DELETE = "2"


class SubscriptionRequestType(enum.StrEnum):
    """SubscriptionRequestType (263)."""

    SNAPSHOT = "0"
    SNAPSHOT_PLUS_UPDATES = "1"
    DISABLE_PREVIOUS_SNAPSHOT_PLUS_UPDATE_REQUEST = "2"


class MDUpdateType(enum.StrEnum):
    """MDUpdateType (265)."""

    FULL_REFRESH = "0"
    INCREMENTAL_REFRESH = "1"


class TradSesStatus(enum.StrEnum):
    """TradSesStatus (340)."""

    UNKNOWN = "0"
    HALTED = "1"
    OPEN = "2"
    CLOSED = "3"
    PRE_OPEN = "4"
    PRE_CLOSE = "5"
    REQUEST_REJECTED = "6"


class LastLiquidityInd(enum.StrEnum):
    """LastLiquidityInd (851)."""

    ADDED_LIQUIDITY = "1"
    REMOVED_LIQUIDITY = "2"
    LIQUIDITY_ROUTED_OUT = "3"


class YesNo(enum.StrEnum):
    """The FIX BOOLEAN type (PossDupFlag 43, GapFillFlag 123, AggregatedBook 266 ...)."""

    YES = "Y"
    NO = "N"
