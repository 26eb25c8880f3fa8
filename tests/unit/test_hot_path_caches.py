"""The hot path's caches and fast paths give exactly what the uncached code gives."""

from __future__ import annotations

import random

from metaorder.fix.codec import (
    _SOH_S as SOH,
)
from metaorder.fix.codec import (
    _SUSPECT,
    Garbled,
    Message,
    _decode_with_data_fields,
    decode,
    encode,
    format_utc_timestamp,
)
from metaorder.fix.dictionary import ValidationOptions
from metaorder.fix.fix44 import builtin_fix44
from metaorder.orders.messages import NewOrderRequest
from metaorder.orders.model import Strategy, Urgency
from metaorder.orders.normalize import IntakeDefaults, _mandate_of, mandate_of
from metaorder.orders.oms_fix import read_oms_message

HEADER = [(34, 5), (49, "OMS1"), (52, "20261123-10:00:00.123"), (56, "METAORDER")]
BODY = [(11, "C1"), (1, "ACC"), (55, "ACME"), (54, "1"), (60, "20261123-10:00:00.123"), (38, "100"), (40, "2"),
        (44, "142.00"), (59, "0"), (847, "1000")]
BAD_VALUES = ["", "X", "-1", "1.5", "abc", "20261399-25:61:61", "0", "99", "1 2", " "]


def test_validation_with_plans_gives_the_first_fault_the_full_walk_gives() -> None:
    rng = random.Random(5)
    dictionary = builtin_fix44()
    options = [ValidationOptions(), ValidationOptions(check_fields_have_values=False),
               ValidationOptions(check_user_defined_fields=False, allow_unknown_message_fields=True)]
    for _ in range(3000):
        header = list(HEADER)
        body = list(BODY)
        if rng.random() < 0.3:
            body.pop(rng.randrange(len(body)))  # another shape (possibly missing a required field)
        if rng.random() < 0.1:
            body.append((rng.choice([5001, 9999, 58, 11]), "x"))  # user-defined, text, repeated tag
        for _ in range(rng.randint(0, 3)):
            fields = rng.choice([header, body])
            i = rng.randrange(len(fields))
            if fields[i][0] not in (34, 49, 56):  # keep the frame decodable as a message of this session
                fields[i] = (fields[i][0], rng.choice(BAD_VALUES))
        raw = encode("FIX.4.4", rng.choice(["D", "D", "D", "F"]), header, body)
        msg = decode(raw)
        assert isinstance(msg, Message)
        opts = rng.choice(options)
        assert dictionary.validate(msg, opts) == dictionary._validate(msg, opts), msg


def test_a_message_with_a_repeating_group_is_never_planned() -> None:
    dictionary = builtin_fix44()
    raw = encode("FIX.4.4", "D", HEADER, [*BODY[:9], (453, "1"), (448, "P1"), (447, "D"), (452, "1")])
    msg = decode(raw)
    assert isinstance(msg, Message)
    options = ValidationOptions()
    assert dictionary.validate(msg, options) == dictionary._validate(msg, options)
    assert not any(453 in key for key in dictionary._plans)


def _reference_decode(frame: bytes) -> Message | Garbled:
    """decode() as it was before its fast path: the regex screen, then int() of every tag."""
    text = frame.decode("latin-1")
    body_end = text.rindex(SOH, 0, len(text) - 1)
    parts = text[:body_end].split(SOH)
    if _SUSPECT.search(text, 0, body_end):
        return _decode_with_data_fields(frame, text)
    fields: list[tuple[int, str]] = []
    try:
        for part in parts[2:]:
            tag, _, value = part.partition("=")
            fields.append((int(tag), value))
    except ValueError:
        return Garbled("a field is not tag=value", frame)
    return Message(parts[0][2:], fields, frame)


def test_decode_fast_path_agrees_with_the_checked_path_on_odd_tags() -> None:
    base = encode("FIX.4.4", "D", HEADER, BODY)
    body = base[base.index(b"\x0135=") + 1: base.rindex(b"\x0110=") + 1]
    for odd in (b"0011=X", b"+11=X", b" 11=X", b"1_1=X", b"11", b"=X", b"-5=X", b"10000=X", b"0=X", b"95=2\x0196=ab",
                b"58=a=b", b"9999=", b"\xe9=1"):
        frame_body = body + odd + b"\x01"
        frame = b"8=FIX.4.4\x019=%d\x01" % len(frame_body) + frame_body
        frame += b"10=%03d\x01" % (sum(frame) % 256)
        got, want = decode(frame), _reference_decode(frame)
        assert type(got) is type(want), odd
        if isinstance(got, Message) and isinstance(want, Message):
            assert (got.begin_string, got.fields) == (want.begin_string, want.fields), odd
        else:
            assert isinstance(got, Garbled) and isinstance(want, Garbled)
            assert got.reason == want.reason, odd


def test_timestamp_cache_returns_what_formatting_afresh_returns() -> None:
    rng = random.Random(9)
    t = 1_764_600_000.0
    for _ in range(20000):
        t += rng.choice([0.0, 0.0001, 0.0004, 0.001, 0.37, 1.0, 86400.0, -0.5])
        got = format_utc_timestamp(t)
        whole = int(t)
        ms = min(round((t - whole) * 1_000_000) // 1000, 999)
        assert got == format_utc_timestamp(t, millis=False) + f".{ms:03d}"


def test_the_shared_default_mandate_is_the_one_the_full_reading_makes() -> None:
    for defaults in (IntakeDefaults(), IntakeDefaults(Strategy.VWAP, Urgency.HIGH)):
        msg = decode(encode("FIX.4.4", "D", HEADER, BODY[:9]))
        assert isinstance(msg, Message)
        request = read_oms_message(msg)
        assert isinstance(request, NewOrderRequest)
        first = mandate_of(request, defaults, 1.0)
        assert first == _mandate_of(request, defaults, 1.0)
        assert mandate_of(request, defaults, 2.0) is first  # shared: a Mandate is immutable
