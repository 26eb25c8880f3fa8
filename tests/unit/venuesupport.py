"""Builders for venue tests: FIX messages as a counterparty would send them."""

from __future__ import annotations

from decimal import Decimal

from metaorder.fix.codec import FieldValue, Message, decode, encode
from metaorder.venues.venue import Instrument, Outbound

T0 = 1_700_000_000.0
ACME = Instrument("ACME", Decimal("0.01"), 1, Decimal("100.00"))
LOTS = Instrument("LOTS", Decimal("0.05"), 100, Decimal("20.00"))


def fix(msg_type: str, body: list[tuple[int, FieldValue]]) -> Message:
    raw = encode("FIX.4.4", msg_type, [(34, 1), (49, "C"), (52, "20231114-22:13:20"), (56, "V")], body)
    msg = decode(raw)
    assert isinstance(msg, Message)
    return msg


def new_order(cl: str, side: str, qty: int | str, price: str | None = None, symbol: str = "ACME",
              ord_type: str | None = None, tif: str = "0",
              extra: list[tuple[int, FieldValue]] | None = None) -> Message:
    body: list[tuple[int, FieldValue]] = [(11, cl), (21, "1"), (55, symbol), (54, side), (60, "20231114-22:13:20"),
                                          (38, str(qty)), (40, ord_type or ("2" if price else "1"))]
    if price is not None:
        body.append((44, price))
    body.append((59, tif))
    return fix("D", body + (extra or []))


def cancel(cl: str, orig: str, side: str = "1", symbol: str = "ACME") -> Message:
    return fix("F", [(41, orig), (11, cl), (55, symbol), (54, side), (60, "20231114-22:13:20")])


def replace(cl: str, orig: str, side: str, qty: int, price: str, symbol: str = "ACME") -> Message:
    return fix("G", [(41, orig), (11, cl), (21, "1"), (55, symbol), (54, side), (60, "20231114-22:13:20"),
                     (38, str(qty)), (40, "2"), (44, price)])


def body(out: Outbound) -> dict[int, str]:
    return {t: str(v) for t, v in out.body}


def reports(outs: list[Outbound], owner: str | None = None) -> list[dict[int, str]]:
    return [body(o) for o in outs if o.msg_type == "8" and (owner is None or o.owner == owner)]
