"""The session layer's fast paths give exactly what the general code gives.

* :class:`HeaderEncoder` (the header of one sender rendered once) against :func:`encode`;
* :func:`byte_sum` (Adler-32 in C) against ``sum``;
* the receive fast path for in-sequence application messages against ``_dispatch``/``_process``;
* :class:`MultiRowInsert` against one ``executemany`` row per step.
"""

from __future__ import annotations

import random
import sqlite3
from decimal import Decimal

import pytest

from metaorder.fix.codec import (
    EncodeError,
    FieldValue,
    HeaderEncoder,
    byte_sum,
    encode,
    format_utc_timestamp,
)
from metaorder.fix.session import Session
from metaorder.wal import MultiRowInsert
from tests.unit.fixsupport import T0, frame, logged_on_acceptor, order, order_body, refit

VALUES: list[FieldValue] = ["", "x", "ACME", "142.00", "a=b", 0, 7, -3, 10**20, True, False, Decimal("142.00"),
                            Decimal("0"), Decimal("-0.5"), Decimal("1E+2"), Decimal("1E-9"), Decimal("NaN")]


def test_header_encoder_gives_the_bytes_of_encode() -> None:
    rng = random.Random(11)
    for _ in range(2000):
        begin = rng.choice(["FIX.4.4", "FIX.4.2", "FIXT.1.1"])
        sender, target = rng.choice(["METAORDER", "S", "é"]), rng.choice(["LOADGEN", "T", "x y"])
        msg_type = rng.choice(["8", "D", "j", "AE"])
        seq = rng.randint(1, 10**12)
        stamp = format_utc_timestamp(T0 + rng.random() * 10**6)
        body = [(rng.choice([1, 11, 37, 44, 58, 6, 9999]), rng.choice(VALUES)) for _ in range(rng.randint(0, 20))]
        head = HeaderEncoder(begin, sender, target)
        assert head.usable
        expected = encode(begin, msg_type, [(34, seq), (49, sender), (52, stamp), (56, target)], body)
        assert head.encode(msg_type, seq, stamp, body) == expected


def test_header_encoder_refuses_what_encode_refuses() -> None:
    head = HeaderEncoder("FIX.4.4", "S", "T")
    stamp = format_utc_timestamp(T0)
    cases: list[tuple[str, str, list[tuple[int, FieldValue]]]] = [
        ("8", stamp, [(58, "a\x01b")]),
        ("8\x01", stamp, []),
        ("8", stamp + "\x01", [(58, "x")]),
        ("8", stamp, [(95, 3), (96, "a\x01b")]),  # a data field may hold an SOH
        ("8", stamp, [(58, 1.5)]),  # type: ignore[list-item]
    ]
    for msg_type, sending_time, body in cases:
        header: list[tuple[int, FieldValue]] = [(34, 1), (49, "S"), (52, sending_time), (56, "T")]
        try:
            expected: bytes | type[Exception] = encode("FIX.4.4", msg_type, header, body)
        except EncodeError:
            expected = EncodeError
        if expected is EncodeError:
            with pytest.raises(EncodeError):
                head.encode(msg_type, 1, sending_time, body)
        else:
            assert head.encode(msg_type, 1, sending_time, body) == expected
    assert not HeaderEncoder("FIX.4.4", "S\x01", "T").usable
    assert not HeaderEncoder("FIX.4.4", "S", "T\x01").usable


def test_byte_sum_is_sum() -> None:
    rng = random.Random(3)
    for n in [*range(0, 600), 5000, 65536, 70001]:
        data = bytes(rng.choice([0, 255, rng.randrange(256)]) for _ in range(n))
        assert byte_sum(data) == sum(data)
        assert byte_sum(bytearray(data)) == sum(data)
        assert byte_sum(memoryview(data)[1:]) == sum(data[1:])
        assert byte_sum(b"\xff" * n) == 255 * n


def _feed(session: Session, data: list[bytes], now: float) -> tuple[list[object], bytes]:
    events: list[object] = []
    for i, chunk in enumerate(data):
        events += session.receive_data(chunk, now + i * 0.01)
    return events, session.data_to_send()


def _app_traffic(rng: random.Random) -> list[bytes]:
    """In-order orders with the odd fault: stale SendingTime, wrong CompID, bad values, PossDup,
    an unsupported type, a gap, a duplicate, an admin message, a garbled frame."""
    out: list[bytes] = []
    seq = 2
    for _ in range(60):
        roll = rng.random()
        if roll < 0.55:
            out.append(order(seq, T0, cl_ord_id=f"C{seq}"))
        elif roll < 0.6:
            out.append(order(seq, T0 - 1000))  # SendingTime far off
        elif roll < 0.64:
            out.append(order(seq, T0, sender="OTHER"))
        elif roll < 0.7:
            body = order_body(f"C{seq}")
            i = rng.randrange(len(body))
            body[i] = (body[i][0], rng.choice(["", "X", "-1", "1.5"]))
            out.append(frame("D", seq, body))
        elif roll < 0.74:
            out.append(order(seq, T0, header=[(43, "Y"), (122, format_utc_timestamp(T0 - rng.choice([1, -1])))]))
        elif roll < 0.77:
            out.append(frame("AE", seq, [(571, "R1")]))
        elif roll < 0.8:
            out.append(order(seq + rng.randint(1, 3)))  # a gap: the slow path from here on
        elif roll < 0.83:
            out.append(order(max(2, seq - 1), header=[(43, "Y"), (122, format_utc_timestamp(T0))]))
            continue
        elif roll < 0.86:
            out.append(frame("0", seq))
        elif roll < 0.88:
            out.append(refit(order(seq))[:-4] + b"999\x01")  # bad CheckSum: no seq consumed
            continue
        else:
            out.append(frame("D", seq, order_body(f"C{seq}"), header=[(97, "Y")]))
        seq += 1
    return out


def test_the_receive_fast_path_does_what_dispatch_does() -> None:
    rng = random.Random(7)
    seen: set[str] = set()
    for _ in range(40):
        traffic = _app_traffic(rng)
        chunks: list[bytes] = []
        i = 0
        while i < len(traffic):
            n = rng.randint(1, 8)
            chunks.append(b"".join(traffic[i : i + n]))
            i += n
        results = []
        supported = frozenset(rng.choice(["DFGH", "FGH"]))  # without D: BusinessMessageReject 380=3
        for fast in (True, False):
            session = logged_on_acceptor(supported_app_types=supported)
            session._fast_path = fast
            events, out = _feed(session, chunks, T0)
            results.append((repr(events), out, session.store.next_target_seq(), session.store.next_sender_seq(),
                            session.state))
        assert results[0] == results[1]
        seen.update(kind for kind in ("AppMessage", "'reject'", "'gap'", "'business-reject'", "'garbled'")
                    if kind in results[0][0])
    assert len(seen) == 5, seen  # every kind of outcome was compared


def test_multi_row_insert_inserts_like_executemany() -> None:
    rng = random.Random(1)
    for n in [0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 127, 128, 129, 255, 300, 1000]:
        rows = [("K", rng.randint(1, 50), rng.randbytes(4)) for _ in range(n)]  # repeated seqs: replaced
        results = []
        for multi in (True, False):
            conn = sqlite3.connect(":memory:", isolation_level=None)
            conn.execute("CREATE TABLE m (key TEXT, seq INTEGER, raw BLOB, PRIMARY KEY (key, seq)) WITHOUT ROWID")
            conn.execute("BEGIN")
            if multi:
                MultiRowInsert("INSERT OR REPLACE INTO m (key, seq, raw)", 3).run(
                    conn, [v for row in rows for v in row])
            else:
                conn.executemany("INSERT OR REPLACE INTO m (key, seq, raw) VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
            results.append(conn.execute("SELECT key, seq, raw FROM m ORDER BY key, seq").fetchall())
        assert results[0] == results[1]
    with pytest.raises(ValueError):
        MultiRowInsert("INSERT INTO m (key, seq, raw)", 3).run(sqlite3.connect(":memory:"), [1, 2])
