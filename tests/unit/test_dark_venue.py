"""Dark pool order entry: midpoint fills reported exactly, hidden orders, contra interest, midpoint pegs."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from metaorder.config import load_venues_config
from metaorder.execution.children import ChildOrder
from metaorder.execution.venue_fix import new_order_single
from metaorder.fix.codec import FieldValue, Message
from metaorder.fix.fix44 import builtin_fix44
from metaorder.venues.dark import DarkPool
from metaorder.venues.model import OrdType
from metaorder.venues.runtime import rules
from metaorder.venues.venue import DarkVenue, Outbound, Rules
from tests.unit.venuesupport import ACME, T0, body, cancel, fix, new_order, replace, reports


def dark(bid: int | None = 9900, ask: int | None = 10000, rate: float = 0.0, **kw: object) -> DarkVenue:
    pools = {"ACME": DarkPool("ACME", random.Random(1), rate, 300, 0.5, T0)}
    venue = DarkVenue("UMBRA", [ACME], pools, **kw)  # type: ignore[arg-type]
    venue.quotes = lambda symbol: (bid, ask)
    return venue


def test_a_resting_order_is_acknowledged_and_crossed_at_the_lit_midpoint() -> None:
    v = dark()
    [ack] = v.new_order("A", new_order("b1", "1", 500, "100.00"), T0)
    assert (body(ack)[150], body(ack)[39]) == ("0", "0")
    out = v.new_order("B", new_order("s1", "2", 200, "99.00", tif="3"), T0)
    maker = next(r for r in reports(out, "A") if r[150] == "F")
    taker = next(r for r in reports(out, "B") if r[150] == "F")
    assert (maker[31], maker[32], maker[30], maker[851]) == ("99.5", "200", "UMBRA", "1")
    assert (taker[31], taker[39], taker[6]) == ("99.5", "2", "99.5")
    assert (maker[14], maker[151], maker[39]) == ("200", "300", "1")


def test_an_odd_spread_gives_an_exact_half_tick_price() -> None:
    v = dark(9900, 9901)
    v.new_order("A", new_order("b1", "1", 100, "99.01"), T0)
    out = v.new_order("B", new_order("s1", "2", 100, "99.00"), T0)
    fill = next(r for r in reports(out, "B") if r[150] == "F")
    assert Decimal(fill[31]) == Decimal("99.005") and Decimal(fill[6]) == Decimal("99.005")


def test_limits_are_respected_and_nothing_trades_without_a_two_sided_quote() -> None:
    v = dark()
    v.new_order("A", new_order("b1", "1", 100, "99.40"), T0)  # below the 99.50 mid: no fill
    out = v.new_order("B", new_order("s1", "2", 100, "99.00"), T0)
    assert not [r for r in reports(out) if r[150] == "F"]
    one_sided = dark(9900, None)
    one_sided.new_order("A", new_order("b1", "1", 100, "100.00"), T0)
    out = one_sided.new_order("B", new_order("s1", "2", 100, "99.00", tif="3"), T0)
    assert [r[150] for r in reports(out, "B")] == ["0", "4"]


def test_contra_interest_fills_resting_orders_over_time() -> None:
    v = dark(rate=5.0)
    v.new_order("A", new_order("b1", "1", 5000, "100.00"), T0)
    filled = 0
    now = T0
    for _ in range(200):
        due = v.next_event_time()
        assert due is not None and due >= now
        now = due
        filled += sum(int(r[32]) for r in reports(v.on_time(now)) if r[150] == "F")
        if filled >= 5000:
            break
    assert 0 < filled <= 5000


def test_a_dark_order_can_be_cancelled_and_min_size_rules_apply() -> None:
    v = dark(rules=Rules(min_order_qty=1000))
    [rej] = v.new_order("A", new_order("small", "1", 100, "100.00"), T0)
    assert body(rej)[39] == "8" and "below the minimum 1000" in body(rej)[58]
    v.new_order("A", new_order("big", "1", 1000, "100.00"), T0)
    [out] = v.cancel("A", cancel("c", "big"), T0)
    assert (body(out)[150], body(out)[39]) == ("4", "4")
    assert v.pools["ACME"].resting() == []


# ---- midpoint pegged orders (FIX 4.4: OrdType 40=P, ExecInst 18=M, Price 44 = optional cap) ------------

PEG_RULES = Rules(ord_types=frozenset({OrdType.LIMIT, OrdType.MARKET, OrdType.PEGGED}))


def pegs(bid: int | None = 9900, ask: int | None = 10000, rate: float = 0.0, size: int = 300,
         sigma: float = 0.5, rules: Rules = PEG_RULES) -> DarkVenue:
    """A dark venue that takes pegs; ``quote`` can be moved by assigning ``venue.quotes``."""
    pools = {"ACME": DarkPool("ACME", random.Random(1), rate, size, sigma, T0)}
    venue = DarkVenue("UMBRA", [ACME], pools, rules=rules)
    venue.quotes = lambda symbol: (bid, ask)
    return venue


def peg(cl: str, side: str, qty: int, cap: str | None = None, tif: str = "0", inst: str | None = "M",
        min_qty: int | None = None, more: list[tuple[int, FieldValue]] | None = None) -> Message:
    extra: list[tuple[int, FieldValue]] = [(18, inst)] if inst is not None else []
    if min_qty is not None:
        extra.append((110, str(min_qty)))
    return new_order(cl, side, qty, cap, ord_type="P", tif=tif, extra=extra + (more or []))


def fills(out: list[Outbound], owner: str | None = None) -> list[dict[int, str]]:
    return [r for r in reports(out, owner) if r[150] == "F"]


def test_a_day_peg_rests_hidden_and_fills_at_the_midpoint_when_contra_interest_arrives() -> None:
    v = pegs(rate=2.0, size=300, sigma=0.0)
    [ack] = v.new_order("A", peg("p1", "1", 1000), T0)
    er = body(ack)
    assert (er[150], er[39], er[40], er[18], er[151]) == ("0", "0", "P", "M", "1000")
    assert 44 not in er  # uncapped
    assert v.changed_symbols() == [] and v.take_trades() == []  # nothing displayed, nothing published
    got: list[dict[int, str]] = []
    now = T0
    while not got:
        due = v.next_event_time()
        assert due is not None and due < T0 + 600
        now = due
        got = fills(v.on_time(now), "A")
    [f] = got
    assert (f[31], f[32], f[40], f[18], f[851], f[39], f[151]) == ("99.5", "300", "P", "M", "1", "1", "700")


def test_a_peg_crosses_a_resting_pool_order_at_the_exact_half_tick_midpoint() -> None:
    v = pegs(9900, 9901)
    v.new_order("A", new_order("s1", "2", 500, "98.00"), T0)
    out = v.new_order("B", peg("p1", "1", 200, tif="3"), T0)
    [f] = fills(out, "B")
    assert Decimal(f[31]) == Decimal("99.005") and Decimal(f[6]) == Decimal("99.005")
    assert (f[32], f[39], f[40], f[851]) == ("200", "2", "P", "2")
    [maker] = fills(out, "A")
    assert Decimal(maker[31]) == Decimal("99.005") and maker[151] == "300"


def test_a_capped_peg_does_not_fill_while_the_midpoint_is_beyond_its_cap_and_fills_once_within() -> None:
    v = pegs(9900, 10000)  # mid 99.50
    [ack] = v.new_order("A", peg("p1", "1", 400, cap="99.40"), T0)
    assert (body(ack)[40], body(ack)[44]) == ("P", "99.4")
    out = v.new_order("B", new_order("s1", "2", 400, "99.00"), T0)  # a seller the mid suits
    assert fills(out) == []
    v.quotes = lambda symbol: (9890, 9980)  # mid 99.35: now within the cap
    [f, _] = sorted(fills(v.on_time(T0 + 1)), key=lambda r: r[11])
    assert (f[11], f[31], f[32], f[39]) == ("p1", "99.35", "400", "2")


def test_a_replace_moves_a_pegs_cap_and_the_order_stays_a_peg() -> None:
    v = pegs()  # mid 99.50
    v.new_order("B", new_order("s1", "2", 300, "99.00"), T0)
    v.new_order("A", peg("p1", "1", 300, cap="99.40"), T0)
    out = v.replace("A", replace("p2", "p1", "1", 300, "99.60"), T0 + 1)
    [rep] = [r for r in reports(out, "A") if r[150] == "5"]
    assert (rep[40], rep[18], rep[44]) == ("P", "M", "99.6")
    [f] = fills(out, "A")
    assert (f[31], f[32], f[11]) == ("99.5", "300", "p2")


def test_a_peg_with_min_qty_is_not_filled_by_smaller_contra_but_is_by_a_large_enough_one() -> None:
    v = pegs(rate=5.0, size=300, sigma=0.0)  # every contra arrival is 300 shares
    v.new_order("A", peg("p1", "1", 2000, min_qty=1000), T0)
    now = T0
    for _ in range(40):  # about 20 sellers of 300 go by
        due = v.next_event_time()
        assert due is not None
        now = due
        assert fills(v.on_time(now)) == []
    assert fills(v.new_order("B", new_order("s1", "2", 900, "99.00", tif="3"), now)) == []
    out = v.new_order("B", new_order("s2", "2", 1200, "99.00", tif="3"), now)
    [f] = fills(out, "A")
    assert (f[32], f[31], f[151]) == ("1200", "99.5", "800")


def test_an_ioc_peg_crosses_what_rests_at_once_and_cancels_the_rest() -> None:
    v = pegs()
    v.new_order("B", new_order("s1", "2", 300, "99.00"), T0)
    out = v.new_order("A", peg("p1", "1", 1000, tif="3"), T0)
    mine = reports(out, "A")
    assert [r[150] for r in mine] == ["0", "F", "4"]
    assert (mine[1][31], mine[1][32]) == ("99.5", "300")
    assert (mine[2][39], mine[2][14], mine[2][151], mine[2][40]) == ("4", "300", "0", "P")
    assert v.pools["ACME"].resting() == []
    alone = pegs()
    assert [r[150] for r in reports(alone.new_order("A", peg("p2", "1", 1000, tif="3"), T0))] == ["0", "4"]


@pytest.mark.parametrize(
    ("inst", "more", "why"),
    [
        (None, [], "got no ExecInst (18)"),
        ("P", [], "got ExecInst 'P'"),  # a market peg
        ("R G", [], "got ExecInst 'R G'"),  # a primary peg, all-or-none
        ("M R", [], "another peg instruction 'R'"),
        ("M", [(211, "0.01")], "PegOffsetValue (211) 0.01 is not supported"),
    ],
)
def test_a_peg_that_is_not_a_plain_midpoint_peg_is_rejected_saying_what_is_accepted(
    inst: str | None, more: list[tuple[int, FieldValue]], why: str
) -> None:
    v = pegs()
    [rej] = v.new_order("A", peg("p1", "1", 100, inst=inst, more=more), T0)
    er = body(rej)
    assert (er[150], er[39], er[103]) == ("8", "8", "11")
    assert er[58].startswith("UMBRA accepts pegged orders (40=P) as midpoint pegs only: ExecInst (18) M")
    assert why in er[58]
    assert v.pools["ACME"].resting() == []


def test_mid_peg_with_other_non_peg_instructions_and_a_zero_offset_is_accepted() -> None:
    v = pegs()
    [ack] = v.new_order("A", peg("p1", "1", 100, inst="M G", more=[(211, "0")]), T0)
    assert (body(ack)[150], body(ack)[40]) == ("0", "P")
    assert [o.ord_type for o in v.pools["ACME"].resting()] == [OrdType.PEGGED]


def test_a_dark_venue_that_does_not_list_pegged_rejects_40_p() -> None:
    v = pegs(rules=Rules())
    [rej] = v.new_order("A", peg("p1", "1", 100), T0)
    assert body(rej)[39] == "8" and body(rej)[58] == "order type 'P' is not accepted on UMBRA"


def test_the_size_rules_apply_to_pegs_as_to_any_order() -> None:
    v = pegs(rules=Rules(min_order_qty=1000, ord_types=PEG_RULES.ord_types))  # NOCT-like
    [rej] = v.new_order("A", peg("small", "1", 500), T0)
    assert body(rej)[39] == "8" and "OrderQty 500 is below the minimum 1000" in body(rej)[58]
    [rej] = v.new_order("A", peg("mq", "1", 1000, min_qty=1500), T0)
    assert "MinQty 1500 exceeds OrderQty 1000" in body(rej)[58]
    [ack] = v.new_order("A", peg("big", "1", 1000), T0)
    assert body(ack)[39] == "0"


def test_what_the_engine_sends_for_a_child_peg_is_accepted_and_filled_at_the_midpoint() -> None:
    """Engine and venue agree on the wire: venue_fix.new_order_single of a peg child, as UMBRA reads it.

    Both directions also pass the FIX 4.4 dictionary the sessions validate with (40=P, 18=M, 110).
    """
    dictionary = builtin_fix44()
    v = pegs()
    v.new_order("B", new_order("s1", "2", 1000, "99.00"), T0)
    for cl, cap, ioc in (("c1", Decimal("99.60"), False), ("c2", None, True)):
        child = ChildOrder(cl, "P1", "UMBRA", "ACME", +1, 400, cap, ioc, T0, peg=True, min_qty=200)
        sent = fix("D", new_order_single(child, T0))
        assert dictionary.validate(sent) is None
        out = v.new_order("A", sent, T0)
        assert [dictionary.validate(fix(o.msg_type, o.body)) for o in out if o.owner == "A"] == [None, None]
        [ack, f] = reports(out, "A")
        assert (ack[150], ack[40], ack[18], f[150], f[31], f[32]) == ("0", "P", "M", "F", "99.5", "400")
        assert ack.get(44) == (None if cap is None else "99.6") and ack[59] == ("3" if ioc else "0")


@pytest.mark.parametrize("path", ["configs/venues.toml", "configs/lab-venues.toml"])
def test_the_shipped_dark_pools_take_pegs_and_the_lit_venues_do_not(path: str) -> None:
    config = load_venues_config(Path(__file__).parents[2] / path)
    for v in config.venue:
        assert (OrdType.PEGGED in rules(v).ord_types) is (v.kind == "dark"), v.name
