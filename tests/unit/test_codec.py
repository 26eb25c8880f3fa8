"""FIX tag=value framing, decoding, encoding and timestamps (metaorder.fix.codec)."""

from __future__ import annotations

import calendar
import time
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaorder.fix.codec import (
    DATA_LENGTH_FIELDS,
    EncodeError,
    FieldValue,
    Framer,
    Garbled,
    Message,
    checksum,
    decode,
    encode,
    format_utc_timestamp,
    format_value,
    parse_utc_timestamp,
    to_simplefix,
)

STAMP = "20231114-22:13:20.000"
HEADER: list[tuple[int, FieldValue]] = [(34, 1), (49, "SND"), (52, STAMP), (56, "TGT")]


def msg(msg_type: str = "D", seq: int = 1, body: list[tuple[int, FieldValue]] | None = None) -> bytes:
    header = [(34, seq), *HEADER[1:]]
    return encode("FIX.4.4", msg_type, header, body if body is not None else [(11, f"ORD{seq}"), (58, "hello")])


def cut(data: bytes | list[bytes], max_message_size: int = 1 << 20) -> list[bytes | Garbled]:
    """Feed ``data`` (one chunk or a list of chunks) to a Framer and collect everything it yields."""
    framer = Framer(max_message_size)
    out: list[bytes | Garbled] = []
    for chunk in [data] if isinstance(data, bytes) else data:
        framer.feed(chunk)
        while (item := framer.next_frame()) is not None:
            out.append(item)
    return out


def with_body_length(raw: bytes, length: int) -> bytes:
    """``raw`` with its BodyLength replaced (CheckSum recomputed, so only BodyLength is wrong)."""
    begin, _, rest = raw.split(b"\x01", 2)
    body = rest[: rest.rindex(b"10=")]
    head = begin + b"\x019=%d\x01" % length + body
    return head + b"10=%03d\x01" % checksum(head)


def with_fields(*fields: bytes) -> bytes:
    """A frame with a correct BodyLength and CheckSum around arbitrary raw fields after 9."""
    body = b"".join(f + b"\x01" for f in fields)
    head = b"8=FIX.4.4\x019=%d\x01" % len(body) + body
    return head + b"10=%03d\x01" % checksum(head)


# --------------------------------------------------------------------------------------------
# framing


def test_a_message_split_at_every_possible_boundary_is_reassembled() -> None:
    raw = msg()
    for i in range(1, len(raw)):
        assert cut([raw[:i], raw[i:]]) == [raw], i


def test_a_message_fed_one_byte_at_a_time_is_reassembled() -> None:
    raw = msg()
    assert cut([raw[i : i + 1] for i in range(len(raw))]) == [raw]


def test_several_messages_in_one_chunk_are_cut_apart() -> None:
    raws = [msg(seq=n) for n in range(1, 5)]
    assert cut(b"".join(raws)) == raws


@given(st.lists(st.integers(min_value=0, max_value=400), max_size=12))
@settings(max_examples=150, deadline=None)
def test_arbitrary_chunking_yields_the_same_frames(split_points: list[int]) -> None:
    stream = b"".join(msg(seq=n) for n in range(1, 4))
    points = sorted({min(p, len(stream)) for p in split_points})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert cut(chunks) == [msg(seq=n) for n in range(1, 4)]


def test_garbage_before_begin_string_is_reported_then_the_message_is_framed() -> None:
    raw = msg()
    out = cut(b"\x01junk=1\x01" + raw)
    assert isinstance(out[0], Garbled)
    assert out[0].data == b"\x01junk=1\x01"
    assert out[1:] == [raw]


def test_garbage_without_any_begin_string_is_discarded_keeping_only_a_short_tail() -> None:
    framer = Framer()
    framer.feed(b"x" * 1000 + b"8=FI")
    garbled = framer.next_frame()
    assert isinstance(garbled, Garbled)
    assert framer.next_frame() is None
    assert framer.buffered == 4  # "8=FI" may be the start of a message
    framer.feed(b"X.4.4" + msg()[len(b"8=FIX.4.4") :])
    assert framer.next_frame() == msg()


def test_body_length_too_short_garbles_the_message_and_the_next_one_is_intact() -> None:
    raw, nxt = msg(seq=1), msg(seq=2)
    bad = with_body_length(raw, 10)
    out = cut(bad + nxt)
    assert len(out) == 2
    assert isinstance(out[0], Garbled) and out[0].data == bad
    assert out[1] == nxt


def test_body_length_too_long_swallows_through_the_next_checksum() -> None:
    """QuickFIX-style: the frame ends at the first CheckSum at or after the announced length."""
    first, second, third = msg(seq=1), msg(seq=2), msg(seq=3)
    bad = with_body_length(first, len(first) - 20)  # longer than the body, shorter than two messages
    out = cut(bad + second + third)
    assert len(out) == 2
    assert isinstance(out[0], Garbled)
    assert out[0].data == bad + second
    assert out[1] == third


def test_body_length_beyond_the_data_waits_for_more() -> None:
    framer = Framer()
    framer.feed(with_body_length(msg(), 500))
    assert framer.next_frame() is None


def test_bad_checksum_is_garbled() -> None:
    raw = msg()
    bad = raw[: raw.rindex(b"10=") + 3] + b"%03d\x01" % ((int(raw[-4:-1]) + 1) % 256)
    [out] = cut(bad)
    assert isinstance(out, Garbled) and "CheckSum" in out.reason


@pytest.mark.parametrize("value", [b"1", b"12", b"1234", b"abc"])
def test_malformed_checksum_value_is_garbled(value: bytes) -> None:
    raw = msg()
    out = cut(raw[: raw.rindex(b"10=") + 3] + value + b"\x01" + msg(seq=2))
    assert isinstance(out[0], Garbled)
    assert out[1:] == [msg(seq=2)]


def test_body_length_that_is_not_a_number_is_garbled_and_the_stream_resynchronises() -> None:
    raw = msg()
    bad = raw.replace(b"\x019=", b"\x019=x", 1)
    out = cut(bad + msg(seq=2))
    assert isinstance(out[0], Garbled)
    assert out[-1] == msg(seq=2)


def test_body_length_not_the_second_field_is_garbled() -> None:
    body = b"35=0\x0134=1\x01"
    bad = b"8=FIX.4.4\x01" + body + b"9=%d\x01" % len(body)
    bad += b"10=%03d\x01" % checksum(bad)
    out = cut(bad + msg(seq=2))
    assert isinstance(out[0], Garbled) and "BodyLength" in out[0].reason
    assert out[-1] == msg(seq=2)


def test_non_numeric_tag_is_garbled() -> None:
    for field in (b"x1=2", b"1x=2", b" 1=2", b"+1=2", b"=2", b"-=2", b"12"):
        frame = with_fields(b"35=D", b"34=1", field)
        [framed] = cut(frame)
        assert framed == frame
        assert isinstance(decode(frame), Garbled), field


def test_empty_field_between_delimiters_is_garbled() -> None:
    assert isinstance(decode(with_fields(b"35=D", b"34=1", b"", b"58=x")), Garbled)


def test_zero_and_negative_tags_decode_and_are_left_to_the_dictionary() -> None:
    decoded = decode(with_fields(b"35=D", b"34=1", b"0=zero", b"-5=minus"))
    assert isinstance(decoded, Message)
    assert decoded.fields == [(35, "D"), (34, "1"), (0, "zero"), (-5, "minus")]


@pytest.mark.parametrize(
    "fields",
    [
        (b"34=1", b"35=D"),  # MsgType not third
        (b"34=1",),  # no MsgType at all
    ],
)
def test_msg_type_not_the_third_field_is_garbled(fields: tuple[bytes, ...]) -> None:
    assert isinstance(decode(with_fields(*fields)), Garbled)


def test_empty_msg_type_is_garbled() -> None:
    assert isinstance(decode(with_fields(b"35=", b"34=1")), Garbled)


def test_empty_msg_type_is_garbled_also_when_the_message_carries_a_data_field() -> None:
    assert isinstance(decode(with_fields(b"35=", b"34=1", b"95=3", b"96=a\x01b")), Garbled)


def test_oversize_message_is_garbled_and_the_next_message_is_framed() -> None:
    big = msg(body=[(58, "x" * 600)])
    out = cut(big + msg(seq=2), max_message_size=256)
    assert isinstance(out[0], Garbled) and "maximum" in out[0].reason
    assert out[-1] == msg(seq=2)


def test_oversize_message_arriving_in_pieces_never_grows_the_buffer_past_the_limit() -> None:
    limit = 256
    big = msg(body=[(58, "x" * 5000)])
    framer = Framer(limit)
    frames: list[bytes | Garbled] = []
    stream = big + msg(seq=2)
    for i in range(0, len(stream), 37):
        framer.feed(stream[i : i + 37])
        while (item := framer.next_frame()) is not None:
            frames.append(item)
        assert framer.buffered <= 2 * limit + 256
    assert any(isinstance(f, Garbled) for f in frames)
    assert frames[-1] == msg(seq=2)


def test_a_frame_that_never_ends_is_discarded_once_it_exceeds_the_limit() -> None:
    limit = 256
    framer = Framer(limit)
    framer.feed(b"8=FIX.4.4\x019=100\x0135=D\x01" + b"58=" + b"y" * 2000)
    garbled = framer.next_frame()
    assert isinstance(garbled, Garbled)
    assert framer.buffered <= 2 * limit + 256


def test_begin_string_that_never_ends_is_discarded() -> None:
    framer = Framer(128)
    framer.feed(b"8=FIX" + b"z" * 1000)
    assert isinstance(framer.next_frame(), Garbled)
    assert framer.buffered <= 2 * 128 + 256


def test_raw_data_containing_soh_decodes() -> None:
    data = "ab\x01c=\x01d"
    raw = encode("FIX.4.4", "A", HEADER, [(98, 0), (108, 30), (95, len(data)), (96, data), (141, "Y")])
    [frame] = cut(raw)
    decoded = decode(frame)
    assert isinstance(decoded, Message)
    assert decoded.get(96) == data
    assert decoded.fields[-1] == (141, "Y")


@pytest.mark.parametrize("length", [b"1", b"2", b"30"])
def test_raw_data_that_does_not_match_its_length_is_garbled(length: bytes) -> None:
    frame = with_fields(b"35=A", b"95=" + length, b"96=a\x01b", b"141=Y")
    assert isinstance(decode(frame), Garbled)


def test_raw_data_length_with_a_non_ascii_digit_does_not_raise() -> None:
    # b"\xb2" decodes (Latin-1) to a superscript two, for which str.isdigit() is true and int() fails.
    decoded = decode(with_fields(b"35=A", b"95=\xb2", b"96=x"))
    assert isinstance(decoded, Message | Garbled)


def test_message_accessors() -> None:
    decoded = decode(msg(body=[(58, "first"), (58, "second")]))
    assert isinstance(decoded, Message)
    assert decoded.msg_type == "D"
    assert decoded.begin_string == "FIX.4.4"
    assert decoded[58] == "first"  # the first occurrence
    assert 58 in decoded and 99 not in decoded
    assert decoded.get(99, "none") == "none"
    with pytest.raises(KeyError):
        decoded[99]


# --------------------------------------------------------------------------------------------
# encoding


def test_encode_puts_begin_string_body_length_msg_type_first_and_sorts_the_header() -> None:
    raw = encode("FIX.4.4", "D", [(56, "T"), (34, 7), (52, STAMP), (49, "S")], [(58, "b"), (11, "a")])
    fields = raw.split(b"\x01")[:-1]
    tags = [int(f.split(b"=")[0]) for f in fields]
    assert tags == [8, 9, 35, 34, 49, 52, 56, 58, 11, 10]  # body keeps its given order
    body_start = raw.index(b"35=")
    assert int(fields[1][2:]) == raw.rindex(b"10=") - body_start
    assert int(fields[-1][3:]) == sum(raw[: raw.rindex(b"10=")]) % 256


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E+2"), "100"),
        (Decimal("0.0000001"), "0.0000001"),
        (Decimal("1E-7"), "0.0000001"),
        (Decimal("-12.50"), "-12.50"),
        (Decimal("123456789.123456789"), "123456789.123456789"),
        (7, "7"),
        (-3, "-3"),
        (True, "Y"),
        (False, "N"),
        ("text", "text"),
    ],
)
def test_values_render_without_exponent_or_binary_floats(value: FieldValue, text: str) -> None:
    assert format_value(value) == text
    raw = encode("FIX.4.4", "D", HEADER, [(44, value)])
    assert b"\x0144=" + text.encode() + b"\x01" in raw


def test_float_raises_encode_error() -> None:
    with pytest.raises(EncodeError):
        encode("FIX.4.4", "D", HEADER, [(44, 1.5)])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (HEADER, [(58, "a\x01b")]),
        ([*HEADER, (115, "x\x01")], []),
        (HEADER, [(58, "\x01")]),
    ],
)
def test_soh_inside_a_value_raises_encode_error(
    header: list[tuple[int, FieldValue]], body: list[tuple[int, FieldValue]]
) -> None:
    with pytest.raises(EncodeError):
        encode("FIX.4.4", "D", header, body)


def test_soh_inside_the_msg_type_raises_encode_error() -> None:
    with pytest.raises(EncodeError):
        encode("FIX.4.4", "D\x01", HEADER, [])


# --------------------------------------------------------------------------------------------
# timestamps


def test_timestamp_format() -> None:
    assert format_utc_timestamp(1_700_000_000.0) == "20231114-22:13:20.000"
    assert format_utc_timestamp(1_700_000_000.0, millis=False) == "20231114-22:13:20"
    assert format_utc_timestamp(1_700_000_000.123) == "20231114-22:13:20.123"
    assert format_utc_timestamp(0.0) == "19700101-00:00:00.000"


def test_timestamp_milliseconds_never_round_up_to_1000() -> None:
    assert format_utc_timestamp(1_700_000_000.9996) == "20231114-22:13:20.999"


def _reference_stamp(now: float, millis: bool) -> str:
    whole = int(now)
    t = time.gmtime(whole)
    text = time.strftime("%Y%m%d-%H:%M:%S", t)
    return f"{text}.{min(round((now - whole) * 1_000_000) // 1000, 999):03d}" if millis else text


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from([1_700_000_000.0, 1_700_000_000.0004, 1_700_000_000.0009,
                                           1_700_000_000.001, 1_700_000_001.5, 1_800_000_000.25]),
                          st.booleans()), min_size=1, max_size=30))
def test_timestamps_of_repeated_and_interleaved_instants_are_each_formatted_exactly(
        calls: list[tuple[float, bool]]) -> None:
    """The caches (last instant, last millisecond, date per day) never hand out another instant's text."""
    for now, millis in calls:
        assert format_utc_timestamp(now, millis) == _reference_stamp(now, millis)


@pytest.mark.parametrize(
    ("text", "civil"),
    [
        ("20240229-12:00:00", (2024, 2, 29, 12, 0, 0)),  # leap year
        ("20000229-00:00:00", (2000, 2, 29, 0, 0, 0)),  # divisible by 400: leap
        ("20231231-23:59:59", (2023, 12, 31, 23, 59, 59)),
        ("20240301-00:00:00", (2024, 3, 1, 0, 0, 0)),
        ("19700101-00:00:00", (1970, 1, 1, 0, 0, 0)),
    ],
)
def test_timestamps_round_trip_across_calendar_edges(text: str, civil: tuple[int, ...]) -> None:
    epoch = calendar.timegm((*civil, 0, 0, 0))
    assert parse_utc_timestamp(text) == epoch
    assert format_utc_timestamp(epoch, millis=False) == text
    assert format_utc_timestamp(epoch) == text + ".000"


def test_timestamp_fractions_up_to_nanoseconds_parse() -> None:
    base = parse_utc_timestamp("20231114-22:13:20")
    assert base == 1_700_000_000
    assert parse_utc_timestamp("20231114-22:13:20.5") == pytest.approx(base + 0.5)
    assert parse_utc_timestamp("20231114-22:13:20.123456") == pytest.approx(base + 0.123456)
    assert parse_utc_timestamp("20231114-22:13:20.123456789") == pytest.approx(base + 0.123456789)


@given(st.integers(min_value=0, max_value=253_402_300_799_999))  # up to 9999-12-31 23:59:59.999
@settings(max_examples=300, deadline=None)
def test_timestamp_round_trip_to_the_millisecond(millis: int) -> None:
    now = millis / 1000
    text = format_utc_timestamp(now)
    parsed = parse_utc_timestamp(text)
    assert parsed is not None
    assert abs(parsed - now) < 0.0011


@pytest.mark.parametrize(
    "text",
    [
        "",
        "20231114",
        "20231114-22:13",
        "20231114 22:13:20",
        "20231114-22.13.20",
        "2023111-22:13:20.",
        "20231114-22:13:20.",
        "20231114-22:13:20.1234567890",  # more than nanoseconds
        "20231114-22:13:20.12a",
        "20231114-22:13:20,123",
        "20231314-22:13:20",  # month 13
        "20231100-22:13:20",  # day 0
        "20231131-22:13:20",  # 31 November
        "20230229-12:00:00",  # not a leap year
        "19000229-12:00:00",  # divisible by 100, not by 400
        "20231114-24:00:00",
        "20231114-22:60:00",
        "20231114-22:13:61",
        "2023-11-14T22:13:20",
        "abcdefgh-ij:kl:mn",
        "2023111\u00b2-22:13:20",  # superscript two: str.isdigit() says yes, int() says no
        "20231114-22:13:\u00b9\u00b9",
    ],
)
def test_malformed_timestamps_parse_to_none(text: str) -> None:
    assert parse_utc_timestamp(text) is None


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_parse_timestamp_never_raises(text: str) -> None:
    parse_utc_timestamp(text)


# --------------------------------------------------------------------------------------------
# differential: our encoder against simplefix, and decode(encode(x)) == x

_HEADER_TAGS = [34, 49, 50, 52, 56, 57, 115, 116, 128, 129, 142, 143, 144, 145]
_EXCLUDED_BODY_TAGS = {8, 9, 10, 35} | set(DATA_LENGTH_FIELDS) | set(DATA_LENGTH_FIELDS.values())

values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(),
    st.builds(
        lambda n, e: Decimal(n).scaleb(e),
        st.integers(min_value=-(10**9), max_value=10**9),
        st.integers(min_value=-9, max_value=9),
    ),
)
header_fields = st.lists(st.tuples(st.sampled_from(_HEADER_TAGS), values), max_size=6)
body_fields = st.lists(
    st.tuples(st.integers(min_value=11, max_value=20_000).filter(lambda t: t not in _EXCLUDED_BODY_TAGS), values),
    max_size=15,
)
msg_types = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="="), min_size=1,
                    max_size=3)


@given(msg_types, header_fields, body_fields)
@settings(max_examples=300, deadline=None)
def test_encoder_agrees_with_simplefix_and_decode_round_trips(
    msg_type: str, header: list[tuple[int, FieldValue]], body: list[tuple[int, FieldValue]]
) -> None:
    ours = encode("FIX.4.4", msg_type, header, body)
    ordered = [(35, msg_type), *sorted(header, key=lambda f: f[0]), *body]
    theirs = to_simplefix("FIX.4.4", ordered).encode()
    assert ours == theirs

    [frame] = cut(ours)
    assert frame == ours
    decoded = decode(frame)
    assert isinstance(decoded, Message)
    assert decoded.begin_string == "FIX.4.4"
    assert decoded.fields == [(tag, format_value(value)) for tag, value in ordered]
    assert decoded.raw == ours


# --------------------------------------------------------------------------------------------
# fuzz: nothing a counterparty sends makes the framer or the decoder raise

VALID = [
    msg(seq=1),
    encode("FIX.4.4", "A", HEADER, [(98, 0), (108, 30), (95, 3), (96, "a\x01b")]),
    msg("0", seq=3, body=[]),
]
LIMIT = 300


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    pieces = draw(st.lists(st.sampled_from(VALID), min_size=1, max_size=4))
    stream = bytearray(b"".join(pieces))
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        kind = draw(st.sampled_from(["flip", "truncate", "duplicate", "insert", "delete"]))
        if not stream:
            break
        pos = draw(st.integers(min_value=0, max_value=len(stream) - 1))
        if kind == "flip":
            stream[pos] = draw(st.sampled_from([0x01, 0x3D, 0x30, 0x39, 0x38, 0x00, 0xFF, 0xB2, 0x2D, 0x20]))
        elif kind == "truncate":
            del stream[pos:]
        elif kind == "duplicate":
            end = draw(st.integers(min_value=pos, max_value=len(stream)))
            stream[end:end] = stream[pos:end]
        elif kind == "insert":
            stream[pos:pos] = draw(st.binary(max_size=20))
        else:
            end = draw(st.integers(min_value=pos, max_value=len(stream)))
            del stream[pos:end]
    return bytes(stream)


def _framer_never_raises(chunks: list[bytes]) -> None:
    framer = Framer(LIMIT)
    for chunk in chunks:
        framer.feed(chunk)
        while (item := framer.next_frame()) is not None:
            if isinstance(item, Garbled):
                assert item.data
                continue
            assert item.startswith(b"8=FIX") and item.endswith(b"\x01")
            decoded = decode(item)
            assert isinstance(decoded, Message | Garbled)
            if isinstance(decoded, Message):
                assert decoded.fields and decoded.msg_type
        assert framer.buffered <= 2 * LIMIT + 256


@given(st.lists(st.binary(max_size=400), max_size=8))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_make_the_framer_or_decoder_raise(chunks: list[bytes]) -> None:
    _framer_never_raises(chunks)


@given(st.lists(st.binary(max_size=60).map(lambda b: b"8=FIX" + b), max_size=10))
@settings(max_examples=200, deadline=None)
def test_bytes_that_look_like_message_starts_never_make_the_framer_raise(chunks: list[bytes]) -> None:
    _framer_never_raises(chunks)


@given(mutated_streams(), st.lists(st.integers(min_value=1, max_value=80), min_size=1, max_size=10))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_valid_messages_never_make_the_framer_or_decoder_raise(stream: bytes, sizes: list[int]) -> None:
    chunks = []
    pos = 0
    i = 0
    while pos < len(stream):
        size = sizes[i % len(sizes)]
        chunks.append(stream[pos : pos + size])
        pos += size
        i += 1
    _framer_never_raises(chunks)


def test_unmodified_stream_after_garbage_is_recovered_in_full() -> None:
    junk = b"8=FIX.4.4\x019=12\x0135=0\x01garbage\x01"
    out = cut(junk + b"".join(VALID))
    frames = [f for f in out if not isinstance(f, Garbled)]
    assert frames[-2:] == VALID[1:]
