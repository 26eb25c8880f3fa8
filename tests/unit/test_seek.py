"""Liquidity-seeking routing (execution/seek.py): dark pools first with MinQty, lit only for the rest.

Allocation across pools is pinned with hand-made fill curves; rounds, timeouts and the lit rest by
driving the placement directly; the budget by a property over random result sequences; and the whole
thing in virtual time on the simulated venues, through the engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.estimates import OrderKind, PriorEstimates, VenueEstimates
from metaorder.execution.placement import ChildOutcome, ChildResult, Placement
from metaorder.execution.seek import Pool, SeekPlacement, SeekSettings, allocate, lit_split, min_fill
from metaorder.execution.types import Intent, MarketView, Style, VenueInfo, VenueKind, VenueOrder, VenueStatus
from metaorder.orders.journal import MemoryJournal
from tests.unit.test_router import NOW, FakeMarket, levels, lit, vbook, venues
from tests.unit.test_sequential import FakeEstimates, dark, it, market, place, res
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation

D = Decimal
BUY, SELL = 1, -1


def seek(intent: Intent, vs: Mapping[str, VenueInfo], est: FakeEstimates | None = None, mk: MarketView | None = None,
         lot: int = 1, **kw: float) -> SeekPlacement:
    return SeekPlacement(intent, mk or market(), vs, lot, NOW, estimates=est or FakeEstimates(),
                         settings=SeekSettings(**kw))  # type: ignore[arg-type]


def capped(cap: int):  # type: ignore[no-untyped-def]
    """A pool that holds ``cap`` shares for sure: expected fill min(q, cap) (a censored estimate's shape)."""
    return lambda q: float(min(q, cap))


# ----------------------------------------------------------------------------------------- settings


def test_settings_come_from_a_mapping_and_unknown_names_or_bad_values_are_refused_by_name() -> None:
    assert SeekSettings.from_mapping({}) == SeekSettings()
    assert SeekSettings.from_mapping({"min_fill_lots": 3}).min_fill_lots == 3
    with pytest.raises(ValueError, match="min_fill_lot"):
        SeekSettings.from_mapping({"min_fill_lot": 3})
    with pytest.raises(ValueError, match="min_fill_lots"):
        SeekSettings.from_mapping({"min_fill_lots": 1.5})
    with pytest.raises(ValueError, match="max_display_fraction"):
        SeekSettings.from_mapping({"max_display_fraction": 1.5})
    with pytest.raises(ValueError, match="dark_timeout_s"):
        SeekSettings.from_mapping({"dark_timeout_s": True})


# ---------------------------------------------------------------------------------------- allocation


def test_lots_go_to_the_pool_with_the_largest_marginal_expected_fill() -> None:
    curves = {"U": lambda q: 0.5 * min(q, 300) + 0.1 * max(q - 300, 0), "N": lambda q: 0.3 * q}
    plan = allocate(1000, [Pool("N", 1, 10**9), Pool("U", 1, 10**9)], 100, lambda v, q: curves[v](q))
    assert plan == {"U": 300, "N": 700}  # U's first 300 fill at 0.5 a share, then N's 0.3 beats U's 0.1


def test_a_pool_gets_nothing_or_at_least_its_minimum_and_never_above_its_maximum() -> None:
    ef = {"N": capped(10**9), "U": capped(10**9)}
    plan = allocate(900, [Pool("N", 1000, 10**9), Pool("U", 1, 500)], 100, lambda v, q: ef[v](q))
    assert plan == {"U": 500}  # N's minimum does not fit; U stops at its maximum
    plan = allocate(1500, [Pool("N", 1000, 10**9), Pool("U", 1, 10**9)], 100, lambda v, q: ef[v](q))
    assert plan["N"] >= 1000 and sum(plan.values()) == 1500


def test_pools_expected_to_fill_no_more_get_no_more_the_rest_is_what_they_cannot_take() -> None:
    ef = {"N": capped(200), "U": capped(300)}
    plan = allocate(2000, [Pool("N", 1, 10**9), Pool("U", 1, 10**9)], 100, lambda v, q: ef[v](q))
    assert plan == {"N": 200, "U": 300}


def test_equal_pools_share_the_intent_and_huge_intents_take_few_steps() -> None:
    calls = 0

    def ef(v: str, q: int) -> float:
        nonlocal calls
        calls += 1
        return 0.3 * q

    plan = allocate(100_000, [Pool("A", 1, 10**9), Pool("B", 1, 10**9)], 1, ef)
    assert sum(plan.values()) == 100_000 and abs(plan["A"] - plan["B"]) <= 250
    assert calls < 2_000


def test_min_qty_is_the_larger_of_the_settings_and_the_pools_minimum_never_above_the_order() -> None:
    s = SeekSettings(min_fill_lots=2, min_fill_shares=150)
    assert min_fill(dark("U"), 5000, 100, s) == 200
    assert min_fill(dark("U"), 5000, 1, s) == 150
    assert min_fill(dark("N", min_qty=1000), 5000, 100, s) == 1000
    assert min_fill(dark("U"), 100, 100, s) == 100
    assert min_fill(dataclasses.replace(dark("U"), allow_min_qty=False), 5000, 100, s) == 0


# ----------------------------------------------------------------------------------- the lit rest


def test_a_passive_lit_rest_is_split_never_more_than_half_the_intent_nor_three_touches_on_one_venue() -> None:
    mk = FakeMarket([vbook("A", bids=levels(("10.00", 300)), asks=levels(("10.02", 300))),
                     vbook("B", bids=levels(("9.99", 100)), asks=levels(("10.02", 200))),
                     vbook("C", bids=levels(("10.00", 1000)), asks=levels(("10.03", 100)))])
    vs = venues(lit("A"), lit("B"), lit("C"))
    est = FakeEstimates(cost={("A", OrderKind.PASSIVE): D("-0.003"), ("B", OrderKind.PASSIVE): D("-0.002")})
    orders = lit_split(it(2000), mk, vs, 100, 2000, frozenset(), est, SeekSettings())
    assert [(o.venue, o.qty, o.price, o.ioc) for o in orders] == [
        ("A", 900, D("10.00"), False),  # 3 x its 300 at the touch
        ("B", 300, D("10.00"), False),  # 3 x its 100
        ("C", 800, D("10.00"), False),  # the rest: under half of 2,000 and 3 x 1,000
    ]
    small = lit_split(it(100), mk, vs, 100, 100, frozenset(), est, SeekSettings())
    assert [(o.venue, o.qty) for o in small] == [("A", 100)]  # one lot cannot be split


def test_what_no_lit_venue_may_show_is_not_sent_and_the_odd_remainder_rides_with_an_odd_lot_venue() -> None:
    mk = FakeMarket([vbook("A", bids=levels(("10.00", 100)), asks=levels(("10.02", 100)))])
    vs = venues(lit("A"))
    [o] = lit_split(it(1050), mk, vs, 100, 1050, frozenset(), FakeEstimates(), SeekSettings())
    assert o.qty == 350  # 3 lots (3 x the touch) and the 50 odd shares


# ---------------------------------------------------------------------------------------- the rounds


def vs3() -> dict[str, VenueInfo]:
    return venues(lit("A"), lit("B"), dark("N", min_qty=1000), dark("U"))


def test_a_passive_intent_goes_to_the_pools_first_with_min_qty_and_the_rest_they_cannot_take_rests_lit() -> None:
    est = FakeEstimates(curves={"N": capped(1500), "U": capped(500)})
    p = seek(it(3000), vs3(), est, lot=100)
    orders = p.orders()
    pools = {o.venue: o for o in orders if o.venue in ("N", "U")}
    assert {v: (o.qty, o.min_qty, o.peg, o.ioc, o.price) for v, o in pools.items()} == {
        "N": (1500, 1000, True, False, D("10.05")), "U": (500, 200, True, False, D("10.05"))}
    assert all(o.expected_cost == D("10.01") for o in pools.values())  # at the mid, no fee
    lit_orders = [o for o in orders if o.venue in ("A", "B")]
    assert sum(o.qty for o in lit_orders) == 1000 and all(o.qty <= 1500 for o in lit_orders)
    assert p.wake_at == NOW + SeekSettings().dark_timeout_s


def test_on_a_timeout_the_pools_are_pulled_and_the_rest_re_allocated_but_not_to_a_pool_that_filled_nothing() -> None:
    vs = venues(dark("N"), dark("U"), lit("A"))
    est = FakeEstimates(default_prob=0.3)
    p = seek(it(2000), vs, est, lot=100, dark_timeout_s=5)
    first = p.orders()
    assert {o.venue for o in first} == {"N", "U"} and sum(o.qty for o in first) == 2000
    ids = {o.venue: place(p, o, f"C{i}") for i, o in enumerate(first, 1)}
    by = {o.venue: o for o in first}
    assert p.held == 0 and p.on_child_result(res(by["N"], ids["N"], 400, ChildOutcome.WORKING)) == []
    assert p.on_wakeup(NOW + 5, frozenset()) == [] and sorted(p.take_cancels()) == sorted(ids.values())
    assert p.on_child_result(res(by["U"], ids["U"], 0, ChildOutcome.CANCELED, NOW + 5, requested=True)) == []
    assert p.held == 1000  # U's unfilled 1,000: ours to re-allocate
    again = p.on_child_result(res(by["N"], ids["N"], 400, ChildOutcome.CANCELED, NOW + 5, requested=True))
    assert [(o.venue, o.qty) for o in again] == [("N", 1600)] and "round 2" in again[0].reason
    assert p.burned == {"U"}


def test_an_aggressive_intent_sends_ioc_pegs_and_what_they_do_not_fill_goes_to_the_lit_prices() -> None:
    vs = venues(dark("U"), lit("A"), lit("B"))
    p = seek(it(400, Style.AGGRESSIVE), vs, FakeEstimates(), lot=100)
    [peg] = p.orders()
    assert (peg.venue, peg.qty, peg.ioc, peg.peg, peg.min_qty) == ("U", 400, True, True, 200)
    assert p.wake_at is not None
    c1 = place(p, peg, "C1")
    rest = p.on_child_result(res(peg, c1, 100, ChildOutcome.CANCELED))
    assert sum(o.qty for o in rest) == 300 and all(o.ioc and o.venue in ("A", "B") for o in rest)
    assert all(o.reason == "seek: lit for what the pools did not fill" for o in rest)


def test_with_no_pool_usable_the_lit_venues_get_it_at_once() -> None:
    vs = venues(dark("U"), lit("A"), lit("B"))
    mk = market()
    mk.statuses["U"] = VenueStatus.HALTED
    p = seek(it(400, Style.AGGRESSIVE), vs, FakeEstimates(), mk=mk, lot=100)
    assert {o.venue for o in p.orders()} <= {"A", "B"}
    p = seek(it(600), vs, FakeEstimates(), mk=mk, lot=100)
    orders = p.orders()
    assert {o.venue for o in orders} == {"A", "B"} and all(o.qty <= 300 for o in orders)
    assert p.wake_at is None


def test_the_engines_own_cancel_is_not_re_allocated() -> None:
    vs = venues(dark("U"), lit("A"))
    p = seek(it(400), vs, FakeEstimates(), lot=100)
    [peg] = p.orders()
    c1 = place(p, peg, "C1")
    p.supersede()
    assert p.on_child_result(res(peg, c1, 0, ChildOutcome.CANCELED, requested=True)) == []
    assert p.done and p.unplaced == 400


# ------------------------------------------------------------------- display caps across rounds


def two_deep_books(bid: str = "10.00", ask: str = "10.02") -> FakeMarket:
    return FakeMarket([vbook("A", bids=levels((bid, 5000)), asks=levels((ask, 5000))),
                       vbook("B", bids=levels((bid, 5000)), asks=levels((ask, 5000)))])


def test_lit_split_subtracts_what_the_placement_already_shows_on_each_venue() -> None:
    vs = venues(lit("A"), lit("B"))
    orders = lit_split(it(2000), two_deep_books(), vs, 100, 600, frozenset(), FakeEstimates(), SeekSettings(),
                       shown={"A": 1000, "B": 700})
    assert [(o.venue, o.qty) for o in orders] == [("B", 300)]  # A shows its half already; B has 300 left
    assert lit_split(it(2000), two_deep_books(), vs, 100, 600, frozenset(), FakeEstimates(), SeekSettings(),
                     shown={"A": 1000, "B": 1000}) == []  # no venue may show more: not the one-lot minimum


def test_rounds_never_show_more_than_the_display_cap_on_one_venue_in_total() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    p = seek(it(2000), vs, FakeEstimates(curves={"X": capped(300)}), mk=two_deep_books())
    first = p.orders()
    assert [(o.venue, o.qty) for o in first] == [("X", 300), ("A", 1000), ("B", 700)]
    ids = {o.venue: place(p, o, f"C{i}") for i, o in enumerate(first)}
    assert p.on_wakeup(NOW + 10, frozenset()) == [] and p.take_cancels() == [ids["X"]]
    again = p.on_child_result(res(first[0], ids["X"], 0, ChildOutcome.CANCELED, NOW + 10.1, requested=True))
    assert [(o.venue, o.qty) for o in again] == [("B", 300)]  # A already shows 1,000 (half of 2,000)
    shown = {v: sum(o.qty for o in first + again if o.venue == v) for v in ("A", "B")}
    assert shown == {"A": 1000, "B": 1000}


# ------------------------------------------------------------------ AGGRESSIVE, limit out of reach


class KindLog(FakeEstimates):
    """FakeEstimates that remember which kinds of order the logic asked about."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.kinds: set[OrderKind] = set()

    def expected_fill(self, venue: str, symbol: str, kind: OrderKind, qty: int) -> float:
        self.kinds.add(kind)
        return super().expected_fill(venue, symbol, kind, qty)


@pytest.mark.parametrize("direction, bid, ask, limit", [(BUY, "10.00", "10.05", "10.03"),
                                                         (SELL, "10.00", "10.05", "10.02")])
def test_aggressive_beyond_the_limit_rests_pegs_and_the_lit_rest_at_the_limit_split_and_never_crossing(
    direction: int, bid: str, ask: str, limit: str
) -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    est = KindLog(curves={"X": capped(300)})
    intent = it(2000, Style.AGGRESSIVE, direction, limit=limit)
    p = seek(intent, vs, est, mk=two_deep_books(bid, ask), lot=100)
    orders = p.orders()
    [peg] = [o for o in orders if o.venue == "X"]
    assert (peg.qty, peg.peg, peg.ioc, peg.price, peg.min_qty) == (300, True, False, D(limit), 200)
    assert est.kinds == {OrderKind.MIDPOINT}  # asked about resting pegs, the kind sent
    lit_orders = [o for o in orders if o.venue != "X"]
    assert [(o.venue, o.qty) for o in lit_orders] == [("A", 1000), ("B", 700)]  # under the display cap
    assert all(o.price == D(limit) and not o.ioc and o.peg is False for o in lit_orders)
    far = D(ask) if direction == BUY else D(bid)
    assert all(o.price is not None and direction * (o.price - far) < 0 for o in lit_orders)  # nothing crosses
    assert "at the limit" in lit_orders[0].reason
    assert p.wake_at == NOW + SeekSettings().dark_timeout_s  # a resting round's timeout, as PASSIVE
    ids = {o.venue: place(p, o, f"C{i}") for i, o in enumerate(orders)}
    assert p.on_wakeup(NOW + 10, frozenset()) == [] and p.take_cancels() == [ids["X"]]
    again = p.on_child_result(res(peg, ids["X"], 100, ChildOutcome.CANCELED, NOW + 10.1, requested=True))
    assert [(o.venue, o.qty, o.ioc, o.price) for o in again] == [("X", 200, False, D(limit))]  # round 2 rests


def test_aggressive_within_reach_still_sends_ioc_pegs_asking_the_ioc_midpoint_estimates() -> None:
    est = KindLog()
    p = seek(it(400, Style.AGGRESSIVE), venues(dark("U"), lit("A")), est, lot=100)
    [peg] = p.orders()
    assert peg.ioc and peg.peg and est.kinds == {OrderKind.MIDPOINT_IOC}


def test_aggressive_beyond_the_limit_takes_again_once_the_market_comes_back_within_it() -> None:
    mk = two_deep_books("10.00", "10.05")
    p = seek(it(600, Style.AGGRESSIVE, limit="10.03"), venues(dark("X"), lit("A")),
             FakeEstimates(curves={"X": capped(10**6)}), mk=mk, lot=100, max_dark_rounds=1)
    [peg] = p.orders()
    cid = place(p, peg, "C1")
    mk.venue_books[0] = vbook("A", bids=levels(("10.00", 5000)), asks=levels(("10.03", 5000)))
    p.on_wakeup(NOW + 10, frozenset())
    taken = p.on_child_result(res(peg, cid, 0, ChildOutcome.CANCELED, NOW + 10, requested=True))
    assert [(o.venue, o.qty, o.ioc, o.price) for o in taken] == [("A", 600, True, D("10.03"))]


# ------------------------------------------------------------------------ lit pieces' age


def test_a_lit_piece_the_engine_pulls_is_re_allocated_dark_first_at_once_when_no_round_is_out() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    p = seek(it(2000), vs, FakeEstimates(curves={"X": capped(300)}), mk=two_deep_books(), max_dark_rounds=1)
    first = p.orders()
    ids = {o.venue: place(p, o, f"C{i}") for i, o in enumerate(first)}
    by = {o.venue: o for o in first}
    p.on_wakeup(NOW + 10, frozenset())
    p.take_cancels()
    last = p.on_child_result(res(by["X"], ids["X"], 100, ChildOutcome.CANCELED, NOW + 10, requested=True))
    assert [(o.venue, o.qty) for o in last] == [("B", 200)]  # rounds done: lit, under B's cap
    place(p, last[0], "C9")
    assert p.wake_at is None  # no timeout of their own for lit pieces
    # The engine pulls A (older than passive_max_age_s) without superseding us: 950 unfilled back.
    again = p.on_child_result(res(by["A"], ids["A"], 50, ChildOutcome.CANCELED, NOW + 21, requested=True))
    assert [(o.venue, o.qty, o.peg) for o in again] == [("X", 300, True), ("A", 650, False)]  # dark first
    assert p.wake_at == NOW + 31 and "round 2" in again[0].reason  # one more round for the pulled room
    assert p.unplaced == 0  # all 950 re-sent: nothing lost
    ids2 = {o.venue: place(p, o, f"D{i}") for i, o in enumerate(again)}
    assert p.held == 0 and p.room == 0
    # A pull while that round is out: held, re-allocated (dark first) when the round ends.
    assert p.on_child_result(res(again[1], ids2["A"], 0, ChildOutcome.CANCELED, NOW + 25, requested=True)) == []
    assert p.held == 650 and p.unplaced == 650  # ours, counted as working for the strategy
    p.on_wakeup(NOW + 31, frozenset())
    assert p.take_cancels() == [ids2["X"]]
    end = p.on_child_result(res(again[0], ids2["X"], 300, ChildOutcome.FILLED, NOW + 31))
    assert [(o.venue, o.qty, o.peg) for o in end] == [("X", 300, True), ("A", 350, False)]


def test_a_pulled_lit_piece_re_sends_only_its_own_unfilled_never_what_went_back_to_the_strategy() -> None:
    mk = FakeMarket([vbook("A", bids=levels(("10.00", 100)), asks=levels(("10.02", 100))),
                     vbook("B", bids=levels(("10.00", 100)), asks=levels(("10.02", 100)))])
    p = seek(it(2000), venues(lit("A"), lit("B")), FakeEstimates(), mk=mk)
    first = p.orders()
    assert [(o.venue, o.qty) for o in first] == [("A", 300), ("B", 300)]  # 3 x the touch each
    ids = {o.venue: place(p, o, f"C{i}") for i, o in enumerate(first)}
    assert p.held == 0 and p.unplaced == 1400  # the strategy's: it may send it elsewhere at once
    again = p.on_child_result(res(first[0], ids["A"], 50, ChildOutcome.CANCELED, NOW + 21, requested=True))
    assert [(o.venue, o.qty) for o in again] == [("A", 250)]  # A's 250 unfilled, not a share of the 1,400
    place(p, again[0], "C3")
    # a venue's own end of a lit piece (not the engine's pull) is the strategy's: nothing re-sent
    assert p.on_child_result(res(first[1], ids["B"], 0, ChildOutcome.REJECTED, NOW + 22)) == []
    assert p.held == 0 and p.unplaced == 1700
    assert p.on_child_result(res(again[0], "C3", 0, ChildOutcome.CANCELED, NOW + 42, requested=True)) != []


def test_a_pulled_lit_piece_of_a_superseded_placement_is_not_re_sent() -> None:
    p = seek(it(600), venues(lit("A"), lit("B")), FakeEstimates(), mk=two_deep_books())
    first = p.orders()
    ids = {o.venue: place(p, o, f"C{i}") for i, o in enumerate(first)}
    p.supersede()
    assert p.on_child_result(res(first[0], ids["A"], 0, ChildOutcome.CANCELED, NOW + 21, requested=True)) == []


# ----------------------------------------------------------------------------------- the budget


OUTCOMES = st.sampled_from([ChildOutcome.WORKING, ChildOutcome.CANCELED, ChildOutcome.REJECTED])


@settings(max_examples=250, deadline=None)
@given(st.integers(1, 5000), st.sampled_from([1, 100]), st.sampled_from(list(Style)), st.data())
def test_never_more_than_the_intent_filled_and_open_and_never_what_a_venue_refuses(
    qty: int, lot: int, style: Style, data: st.DataObject
) -> None:
    """Also with the engine pulling lit pieces (their age) and the strategy sending, elsewhere, what the
    placement neither has out nor holds: the two together never exceed the intent (nothing sent twice)."""
    vs = venues(lit("A"), dataclasses.replace(lit("B", odd_lots=False), max_order_qty=500), dark("U"),
                dark("N", min_qty=1000), dark("X", max_qty=700))
    est = FakeEstimates(curves={"U": capped(data.draw(st.integers(0, 3000), label="U holds")),
                                "N": capped(data.draw(st.integers(0, 6000), label="N holds"))})
    beyond = data.draw(st.booleans(), label="limit out of reach")
    p = seek(it(qty, style, limit="10.01" if beyond else "10.05"), vs, est, lot=lot)
    elsewhere = 0  # what the strategy took back and sent in other placements (it never comes back here)
    children: dict[str, list[int]] = {}
    orders_of: dict[str, VenueOrder] = {}

    def send(orders: list[VenueOrder]) -> None:
        assert sum(1 for o in orders if o.qty % lot) <= 1
        for o in orders:
            assert vs[o.venue].refuses(o.qty, o.price, lot, ioc=o.ioc, peg=o.peg, min_qty=o.min_qty) is None
            assert o.qty % lot == 0 or vs[o.venue].odd_lots
            assert o.min_qty <= o.qty
            if data.draw(st.integers(0, 9), label="refused") == 0:
                p.on_placed(o, None, 0)
                continue
            cid = f"C{len(children) + 1}"
            p.on_placed(o, cid, o.qty)
            children[cid], orders_of[cid] = [o.qty, 0, 1], o

    def check() -> None:
        nonlocal elsewhere
        filled = sum(c[1] for c in children.values())
        working = sum(c[0] - c[1] for c in children.values() if c[2])
        assert filled + working + p.held + elsewhere <= qty
        if data.draw(st.booleans(), label="strategy sends the unworked"):
            elsewhere += qty - filled - working - p.held - elsewhere

    send(p.orders())
    check()
    for step in range(data.draw(st.integers(0, 30), label="steps")):
        if data.draw(st.booleans(), label="wake"):
            send(p.on_wakeup(NOW + step, frozenset()))
        for cid in p.take_cancels():
            child = children[cid]
            child[1] += data.draw(st.integers(0, child[0] - child[1]), label="late fill")
            child[2] = 0
            o = orders_of[cid]
            send(p.on_child_result(ChildResult(o.venue, cid, o.qty, child[1], ChildOutcome.CANCELED, NOW + step,
                                               True)))
            check()
        open_ids = [cid for cid, c in children.items() if c[2]]
        if not open_ids:
            break
        lit_ids = [cid for cid in open_ids if vs[orders_of[cid].venue].kind is VenueKind.LIT]
        if lit_ids and data.draw(st.integers(0, 3), label="engine pulls") == 0:
            cid = data.draw(st.sampled_from(lit_ids), label="pulled")
            child, o = children[cid], orders_of[cid]
            child[1] += data.draw(st.integers(0, child[0] - child[1]), label="fill before the pull")
            child[2] = 0
            send(p.on_child_result(ChildResult(o.venue, cid, o.qty, child[1], ChildOutcome.CANCELED, NOW + step,
                                               True)))
            check()
            continue
        cid = data.draw(st.sampled_from(open_ids), label="child")
        child, o = children[cid], orders_of[cid]
        child[1] += data.draw(st.integers(0, child[0] - child[1]), label="fill")
        outcome = ChildOutcome.FILLED if child[1] == child[0] else data.draw(OUTCOMES, label="outcome")
        child[2] = int(not outcome.closed)
        send(p.on_child_result(ChildResult(o.venue, cid, o.qty, child[1], outcome, NOW + step)))
        check()
    for _ in range(12):  # the venues end what is left; the placement may re-allocate a few rounds
        for cid in [cid for cid, c in children.items() if c[2]]:
            children[cid][2] = 0
            o = orders_of[cid]
            send(p.on_child_result(ChildResult(o.venue, cid, o.qty, children[cid][1], ChildOutcome.CANCELED, NOW)))
        if p.wake_at is not None:
            send(p.on_wakeup(p.wake_at, frozenset()))
    p.take_cancels()
    filled = sum(c[1] for c in children.values())
    assert p.done and p.unplaced == qty - filled
    assert filled + elsewhere <= qty


# -------------------------------------------------------------------------- on the simulated venues


class SeekRouter:
    """The test's router: every intent placed liquidity-seeking, routed as it is."""

    def __init__(self, est: VenueEstimates, settings: SeekSettings) -> None:
        self.est, self.settings = est, settings

    def start(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
              now: float, exclude: frozenset[str] = frozenset()) -> Placement:
        return SeekPlacement(intent, market, venues, lot_size, now, exclude, estimates=self.est,
                             settings=self.settings)


def test_in_virtual_time_pools_get_pegs_with_min_qty_fill_at_the_mid_and_no_venue_rejects() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    sim.engine.router = SeekRouter(PriorEstimates(sim.engine.venues), SeekSettings())
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 20000, 300, now))
    sim.run_until(now + 600)
    events = list(journal.replay())
    assert not [e for e in events if e.kind == "child.rejected"]
    placed = {e.data["child_id"]: e.data for e in events if e.kind == "child.placed"}
    pooled = [c for c in placed.values() if c["venue"] in ("UMBRA", "NOCT")]
    assert pooled and all(c.get("peg") and c.get("min_qty", 0) >= min(200, c["qty"]) for c in pooled)
    assert all(c["qty"] >= 1000 and c["min_qty"] >= 1000 for c in pooled if c["venue"] == "NOCT")
    dark_fills = [e.data for e in events if e.kind == "venue.execution" and e.data["venue"] in ("UMBRA", "NOCT")]
    assert dark_fills
    for f in dark_fills:  # at the mid when the child was sent or later: a midpoint, a half cent at most
        assert D(f["price"]) * 200 == int(D(f["price"]) * 200)
    last = reports_by_order(sim)["O1"][-1]
    assert last[39] == "2" and last[14] == "20000"  # filled, exactly
    assert not sim.alerts
