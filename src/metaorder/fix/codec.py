"""FIX tag=value framing, decoding and encoding.

This is the only module of metaorder that imports :mod:`simplefix`.  simplefix frames on the
CheckSum field and verifies neither BodyLength nor CheckSum, and at ~120 µs a message its parser is
too slow for a hot path, so framing and parsing are done here with ``bytes.find`` and ``str.split``
(no per-byte Python loop).  simplefix stays useful as an independent reference encoder
(:func:`to_simplefix`), which the tests use to cross-check this encoder.

Framing follows the FIX session rules and QuickFIX's behaviour where the rules are silent:

* a frame starts at ``8=FIX``; bytes before it are discarded as garbage;
* BodyLength (9) must be the second field; the frame ends at the first ``<SOH>10=`` found from the
  position BodyLength announces, through the SOH after the checksum.  When BodyLength is wrong the
  frame is still cut there and then reported as garbled, so the stream resynchronises on the next
  message;
* a garbled frame (bad BodyLength, bad CheckSum, first three fields out of order, a field that is not
  ``tag=value``) is reported as :class:`Garbled` and must be ignored by the session *without*
  consuming a sequence number.
"""

from __future__ import annotations

import calendar
import operator
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import simplefix

SOH: Final = b"\x01"
_SOH_S: Final = "\x01"
_BEGIN: Final = b"8=FIX"
_CHECKSUM_MARK: Final = b"\x0110="

#: Length fields and the data field whose value they measure: the data may contain SOH bytes.
DATA_LENGTH_FIELDS: Final[dict[int, int]] = {
    90: 91, 93: 89, 95: 96, 212: 213, 348: 349, 350: 351, 352: 353, 354: 355, 356: 357,
    358: 359, 360: 361, 362: 363, 364: 365, 445: 446, 618: 619, 621: 622,
}

Field = tuple[int, str]
FieldValue = str | int | Decimal | bool


class EncodeError(ValueError):
    """A message could not be encoded: a bug on our side (a float, an SOH inside a value...)."""


@dataclass(frozen=True, slots=True)
class Garbled:
    """A frame that failed the wire-level checks; ``data`` is what was discarded."""

    reason: str
    data: bytes


class Message:
    """A decoded FIX message.

    ``fields`` holds every field after BodyLength and before CheckSum, in wire order, starting with
    MsgType (35).  Values are ``str`` (bytes decoded as Latin-1, which is lossless), so nothing of
    simplefix's bytes leaks past this module.  Tags may be out of the valid range (0, negative):
    rejecting them is the data dictionary's job, with a session Reject, not the framer's.
    """

    __slots__ = ("_first", "begin_string", "fields", "raw")

    def __init__(self, begin_string: str, fields: list[Field], raw: bytes = b"") -> None:
        self.begin_string = begin_string
        self.fields = fields
        self.raw = raw
        self._first: dict[int, str] | None = None

    @property
    def msg_type(self) -> str:
        return self.fields[0][1]

    def first_values(self) -> dict[int, str]:
        """Each tag's first value, as a dict (shared: do not modify); faster than many ``get`` calls."""
        first = self._first
        if first is None:
            first = self._first = dict(reversed(self.fields))
        return first

    def get(self, tag: int, default: str | None = None) -> str | None:
        """The value of the first occurrence of ``tag``."""
        first = self._first
        if first is None:
            first = self._first = dict(reversed(self.fields))
        return first.get(tag, default)

    def __contains__(self, tag: int) -> bool:
        return self.get(tag) is not None

    def __getitem__(self, tag: int) -> str:
        value = self.get(tag)
        if value is None:
            raise KeyError(tag)
        return value

    def __repr__(self) -> str:
        body = "|".join(f"{t}={v}" for t, v in self.fields)
        return f"Message(8={self.begin_string}|{body})"


# --------------------------------------------------------------------------------------------
# framing


class Framer:
    """Cuts a byte stream into FIX frames.  Sans-IO: feed bytes, pull frames.

    The buffer is bounded: a frame announcing more than ``max_message_size`` bytes, or garbage that
    never becomes a frame, is discarded rather than buffered without limit.
    """

    __slots__ = ("_buf", "max_message_size")

    def __init__(self, max_message_size: int = 1 << 20) -> None:
        self._buf = bytearray()
        self.max_message_size = max_message_size

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next_frame(self) -> bytes | Garbled | None:
        """The next complete frame, a :class:`Garbled` report, or ``None`` if more data is needed."""
        buf = self._buf
        if not buf:
            return None
        start = buf.find(_BEGIN)
        if start < 0:
            # Keep only a tail that could still become "8=FIX" with the next bytes.
            keep = next((k for k in (4, 3, 2, 1) if buf.endswith(_BEGIN[:k])), 0)
            if len(buf) > keep:
                junk = bytes(buf[: len(buf) - keep])
                del buf[: len(buf) - keep]
                return Garbled("garbage before BeginString", junk)
            return None
        if start > 0:
            junk = bytes(buf[:start])
            del buf[:start]
            return Garbled("garbage before BeginString", junk)
        soh = buf.find(SOH)
        if soh < 0:
            return self._need_more_or_discard(len(buf))
        if buf[soh + 1 : soh + 3] != b"9=":
            if len(buf) < soh + 3:
                return None
            return self._discard_through_checksum("BodyLength (9) is not the second field")
        length_end = buf.find(SOH, soh + 3)
        if length_end < 0:
            return self._need_more_or_discard(len(buf))
        length_text = buf[soh + 3 : length_end]
        if not length_text.isdigit() or len(length_text) > 9:
            return self._discard_through_checksum("BodyLength (9) is not a number")
        body_length = int(length_text)
        body_start = length_end + 1
        if body_length > self.max_message_size:
            return self._discard_through_checksum(
                f"BodyLength {body_length} exceeds the maximum message size {self.max_message_size}"
            )
        declared_end = body_start + body_length
        if len(buf) < declared_end + 7:  # "10=nnn<SOH>" must fit after the body
            return None
        mark = buf.find(_CHECKSUM_MARK, max(declared_end - 1, body_start - 1))
        if mark < 0:
            return self._need_more_or_discard(len(buf) - body_start)
        end = buf.find(SOH, mark + 4)
        if end < 0:
            return self._need_more_or_discard(len(buf) - body_start)
        end += 1
        frame = bytes(buf[:end])
        del buf[:end]
        if mark != declared_end - 1:
            return Garbled(f"BodyLength {body_length} does not match the body ({mark + 1 - body_start})", frame)
        checksum_text = frame[mark + 4 : end - 1]
        expected = byte_sum(memoryview(frame)[: mark + 1]) & 0xFF
        if len(checksum_text) != 3 or not checksum_text.isdigit() or int(checksum_text) != expected:
            return Garbled(f"CheckSum {checksum_text.decode('latin-1')!r} is wrong, expected {expected:03d}", frame)
        return frame

    def _need_more_or_discard(self, pending: int) -> Garbled | None:
        if pending <= self.max_message_size + 64:
            return None
        junk = bytes(self._buf)
        self._buf.clear()
        return Garbled("no complete message within the maximum message size", junk)

    def _discard_through_checksum(self, reason: str) -> Garbled | None:
        buf = self._buf
        mark = buf.find(_CHECKSUM_MARK)
        end = buf.find(SOH, mark + 4) if mark >= 0 else -1
        if end < 0:
            nxt = buf.find(_BEGIN, 1)
            if nxt > 0:
                junk = bytes(buf[:nxt])
                del buf[:nxt]
                return Garbled(reason, junk)
            if len(buf) > self.max_message_size:
                junk = bytes(buf)
                buf.clear()
                return Garbled(reason, junk)
            return None
        nxt = buf.find(_BEGIN, 1)
        cut = nxt if 0 < nxt <= mark else end + 1
        junk = bytes(buf[:cut])
        del buf[:cut]
        return Garbled(reason, junk)


# --------------------------------------------------------------------------------------------
# decoding


def _is_tag(text: str) -> bool:
    if text.isascii() and text.isdigit():
        return True
    return len(text) > 1 and text[0] == "-" and text[1:].isascii() and text[1:].isdigit()


#: A field start that is not ``tag=`` with a (possibly negative) decimal tag, or a data-length field:
#: either sends the message down the careful path.  One C-level scan keeps the common case fast.
_SUSPECT: Final = re.compile(
    "\x01(?:(?!-?[0-9]+=)|(?:" + "|".join(str(t) for t in DATA_LENGTH_FIELDS) + ")=)"
)


#: "1" .. "9999" -> their int: the tags of the fast path (a leading zero, a sign or a space is not
#: canonical and goes the checked way, where ``int()`` would otherwise accept " 12" or "1_2").
_CANONICAL_TAGS: Final[dict[str, int]] = {str(t): t for t in range(1, 10000)}


def decode(frame: bytes) -> Message | Garbled:
    """Parse a frame produced by :class:`Framer` into a :class:`Message`.

    The framer has already checked BodyLength and CheckSum; here every field must be ``tag=value``
    with a numeric tag and the first three fields must be 8, 9, 35.
    """
    text = frame.decode("latin-1")
    # text ends with "<SOH>10=nnn<SOH>"; drop the checksum field and the final SOH.
    body_end = text.rindex(_SOH_S, 0, len(text) - 1)
    parts = text[:body_end].split(_SOH_S)
    if len(parts) < 3 or not parts[0].startswith("8=") or not parts[1].startswith("9="):
        return Garbled("first fields are not BeginString, BodyLength", frame)
    if not parts[2].startswith("35="):
        return Garbled("MsgType (35) is not the third field", frame)
    # Fast path: every tag is a canonical decimal tag below 10000 (one dict lookup checks and
    # converts it) and none is a data-length field.  Anything else takes the checked path below.
    fields: list[Field] = []
    append = fields.append
    tag_of = _CANONICAL_TAGS.get
    for part in parts[2:]:
        tag_text, sep, value = part.partition("=")
        known = tag_of(tag_text)
        if known is None or not sep or known in DATA_LENGTH_FIELDS:
            break
        append((known, value))
    else:
        if not fields[0][1]:
            return Garbled("MsgType (35) is empty", frame)
        return Message(parts[0][2:], fields, frame)
    if _SUSPECT.search(text, 0, body_end):
        return _decode_with_data_fields(frame, text)
    fields = []
    append = fields.append
    try:
        for part in parts[2:]:
            tag, _, value = part.partition("=")
            append((int(tag), value))
    except ValueError:
        return Garbled("a field is not tag=value", frame)
    if not fields[0][1]:
        return Garbled("MsgType (35) is empty", frame)
    return Message(parts[0][2:], fields, frame)


def _decode_with_data_fields(frame: bytes, text: str) -> Message | Garbled:
    """Slow path for messages carrying length-prefixed data fields, whose values may contain SOH."""
    end = text.rindex(_SOH_S, 0, len(text) - 1) + 1
    pos = 0
    fields: list[Field] = []
    pending_length: tuple[int, int] | None = None  # (data tag, length)
    while pos < end:
        eq = text.find("=", pos, end)
        if eq < 0:
            return Garbled("field without '='", frame)
        tag_text = text[pos:eq]
        if not _is_tag(tag_text):
            return Garbled(f"field {tag_text[:32]!r} is not tag=value", frame)
        tag = int(tag_text)
        if pending_length is not None and pending_length[0] == tag:
            value_end = eq + 1 + pending_length[1]
            if value_end >= end or text[value_end] != _SOH_S:
                return Garbled(f"data field {tag} does not match its length", frame)
        else:
            value_end = text.find(_SOH_S, eq + 1, end)
        value = text[eq + 1 : value_end]
        pending_length = None
        if tag in DATA_LENGTH_FIELDS and value.isascii() and value.isdigit():
            pending_length = (DATA_LENGTH_FIELDS[tag], int(value))
        fields.append((tag, value))
        pos = value_end + 1
    if not fields[2][1]:
        return Garbled("MsgType (35) is empty", frame)
    begin = fields[0][1]
    return Message(begin, fields[2:], frame)


# --------------------------------------------------------------------------------------------
# encoding


def format_value(value: FieldValue) -> str:
    """Render a field value.  Floats are refused: money is Decimal or integer, never binary."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    raise EncodeError(f"cannot encode {type(value).__name__} {value!r}: use str, int or Decimal")


def encode(
    begin_string: str,
    msg_type: str,
    header: Iterable[tuple[int, FieldValue]],
    body: Iterable[tuple[int, FieldValue]],
) -> bytes:
    """Encode a message: 8, 9, 35 first, header fields in ascending tag order, body as given."""
    head = sorted(header, key=_TAG_OF)
    parts = [f"35={msg_type}"]
    _render_fields(parts, head)
    _render_body(parts, body)
    body_text = _SOH_S.join(parts)
    if body_text.count(_SOH_S) != len(parts) - 1 and not _only_data_fields_hold_soh(parts):
        raise EncodeError("a field value contains SOH")
    payload = body_text.encode("latin-1")
    prefix = f"8={begin_string}\x019={len(payload)}\x01".encode("latin-1")
    checksum = (byte_sum(prefix) + byte_sum(payload)) & 0xFF
    return b"".join((prefix, payload, b"10=%03d\x01" % checksum))


def _render_fields(parts: list[str], fields: Iterable[tuple[int, FieldValue]]) -> None:
    """Append ``tag=value`` of every field to ``parts``.  str and int (not bool) values format as
    themselves and a Decimal as format(value, "f"): format_value's call is skipped for them."""
    append = parts.append
    for tag, value in fields:
        kind = type(value)
        if kind is str or kind is int:
            append(f"{tag}={value}")
        elif kind is Decimal:
            append(f"{tag}={value:f}")
        else:
            append(f"{tag}={format_value(value)}")


def _render_body(parts: list[str], body: Iterable[tuple[int, FieldValue]]) -> None:
    """Append ``tag=value`` of every body field to ``parts``, then the empty part of the final SOH."""
    _render_fields(parts, body)
    parts.append("")


class HeaderEncoder:
    """:func:`encode` for one sender: BeginString, SenderCompID and TargetCompID rendered once.

    ``encode(msg_type, seq, sending_time, body)`` returns exactly the bytes of
    ``encode(begin_string, msg_type, [(34, seq), (49, sender), (52, sending_time), (56, target)], body)``
    (a test pins the two together); only the per-message parts are formatted.  Identities that
    :func:`encode` would refuse (an SOH inside) are not taken: ``usable`` is False and the caller
    must use :func:`encode`.
    """

    __slots__ = ("_begin", "_begin_sum", "_mid", "_tail", "usable")

    def __init__(self, begin_string: str, sender_comp_id: str, target_comp_id: str) -> None:
        self.usable = _SOH_S not in begin_string + sender_comp_id + target_comp_id
        self._begin = f"8={begin_string}\x019=".encode("latin-1") if self.usable else b""
        self._begin_sum = sum(self._begin)
        self._mid = f"\x0149={sender_comp_id}\x0152="
        self._tail = f"\x0156={target_comp_id}"

    def encode(self, msg_type: str, seq: int, sending_time: str, body: Iterable[tuple[int, FieldValue]]) -> bytes:
        parts = [f"35={msg_type}\x0134={seq}{self._mid}{sending_time}{self._tail}"]
        _render_body(parts, body)
        body_text = _SOH_S.join(parts)
        # The first part holds exactly four SOHs when MsgType and SendingTime hold none.
        if body_text.count(_SOH_S) != len(parts) + 3 and (
            _SOH_S in msg_type or _SOH_S in sending_time or not _only_data_fields_hold_soh(parts[1:])
        ):
            raise EncodeError("a field value contains SOH")
        payload = body_text.encode("latin-1")
        length = b"%d\x01" % len(payload)
        checksum = (self._begin_sum + sum(length) + byte_sum(payload)) & 0xFF
        return b"".join((self._begin, length, payload, b"10=%03d\x01" % checksum))


_DATA_FIELDS: Final = frozenset(DATA_LENGTH_FIELDS.values())


def _only_data_fields_hold_soh(parts: list[str]) -> bool:
    return all(int(p.partition("=")[0]) in _DATA_FIELDS for p in parts if _SOH_S in p)


def _tag_of(field: tuple[int, FieldValue]) -> int:
    return field[0]


_TAG_OF: Final = operator.itemgetter(0)  # the same as _tag_of, in C (a sort key called per header field)


def checksum(data: bytes) -> int:
    """FIX CheckSum of everything before the CheckSum field."""
    return byte_sum(data) & 0xFF


_adler32: Final = zlib.adler32


def byte_sum(data: bytes | bytearray | memoryview) -> int:
    """``sum(data)``, computed in C: the low half of an Adler-32 is 1 + the sum of the bytes modulo
    65521, which is the exact sum for up to 256 bytes (1 + 256 * 255 < 65521); longer data is
    summed in chunks of 256.  A test pins it equal to ``sum``."""
    n = len(data)
    if n <= 256:
        return (_adler32(data) & 0xFFFF) - 1
    view = memoryview(data)
    return sum([(_adler32(view[i : i + 256]) & 0xFFFF) - 1 for i in range(0, n, 256)])


# --------------------------------------------------------------------------------------------
# time

_date_cache: dict[int, str] = {}


def format_utc_timestamp(now: float, millis: bool = True) -> str:
    """``YYYYMMDD-HH:MM:SS.sss`` (UTC) from epoch seconds; the date part is cached per day."""
    if millis:
        instant, stamp = _last_instant[0]  # one tuple: read and written whole, safe across threads
        if now == instant:  # the same instant again: a batch's SendingTimes, its TransactTimes
            return stamp
    whole = int(now)
    day, secs = divmod(whole, 86400)
    date = _date_cache.get(day)
    if date is None:
        y, m, d = _civil_from_days(day)
        date = _date_cache[day] = f"{y:04d}{m:02d}{d:02d}"
    if not millis:
        hh, rem = divmod(secs, 3600)
        mm, ss = divmod(rem, 60)
        return f"{date}-{hh:02d}:{mm:02d}:{ss:02d}"
    # Round to the microsecond (binary floats), then truncate: a timestamp is never ahead of the clock.
    ms = min(round((now - whole) * 1_000_000) // 1000, 999)
    last_whole, last_ms, last_text = _last_stamp[0]
    if whole == last_whole and ms == last_ms:  # most messages of a busy millisecond share it
        _last_instant[0] = (now, last_text)
        return last_text
    hh, rem = divmod(secs, 3600)
    mm, ss = divmod(rem, 60)
    text = f"{date}-{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}"
    _last_stamp[0] = (whole, ms, text)
    _last_instant[0] = (now, text)
    return text


_last_stamp: list[tuple[int, int, str]] = [(-1, -1, "")]  # the last millisecond formatted
_last_instant: list[tuple[float, str]] = [(float("nan"), "")]  # the last instant formatted (nan: never equal)


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian date from days since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


_last_second: list[tuple[str, int]] = [("", 0)]  # the last whole second parsed: most messages share it


def parse_utc_timestamp(text: str) -> float | None:
    """Epoch seconds from ``YYYYMMDD-HH:MM:SS[.s…]`` (up to nanoseconds), or None if malformed."""
    n = len(text)
    if n < 17 or not text.isascii() or text[8] != "-" or text[11] != ":" or text[14] != ":":
        return None
    frac = 0.0
    if n > 17:
        digits = text[18:]
        if text[17] != "." or not digits.isdigit() or len(digits) > 9:
            return None
        frac = int(digits) / 10 ** len(digits)
    head = text[:17]
    cached_head, cached_epoch = _last_second[0]
    if head == cached_head:
        return cached_epoch + frac
    whole = _parse_second(head)
    if whole is None:
        return None
    _last_second[0] = (head, whole)
    return whole + frac


def _parse_second(text: str) -> int | None:
    date, hh, mm, ss = text[:8], text[9:11], text[12:14], text[15:17]
    if not (date.isdigit() and hh.isdigit() and mm.isdigit() and ss.isdigit()):
        return None
    y, mo, d = int(date[:4]), int(date[4:6]), int(date[6:8])
    h, mi, s = int(hh), int(mm), int(ss)
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60 and s <= 60):
        return None
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


# --------------------------------------------------------------------------------------------
# simplefix bridge


def to_simplefix(begin_string: str, fields: Sequence[tuple[int, FieldValue]]) -> simplefix.FixMessage:
    """The same message as a :class:`simplefix.FixMessage` (fields in the given order).

    Used as an independent reference encoder in tests and handy for users who already speak
    simplefix.
    """
    msg = simplefix.FixMessage()
    msg.append_pair(8, begin_string)
    for tag, value in fields:
        msg.append_pair(tag, format_value(value))
    return msg
