"""Sequential routing (execution/sequential.py): one venue at a time, cheapest expected cost first.

Ranking is pinned against hand-made estimates; the walk (timeouts, partial fills, IOC remainders,
rejects) by driving the placement directly; the budget by a property over random result sequences;
and the whole thing in virtual time on the simulated venues, through the engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.events import ChildPlaced, VenueExecution
from metaorder.execution.estimates import OrderKind, PriorEstimates
from metaorder.execution.placement import ChildOutcome, ChildResult, LedgerPlacement, Placement
from metaorder.execution.scorecard import Scorecard, ScorecardSettings
from metaorder.execution.sequential import SequentialPlacement, SequentialSettings, build_slots
from metaorder.execution.types import Intent, MarketView, Style, VenueInfo, VenueKind, VenueOrder, VenueStatus
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.model import Side
from tests.unit.test_router import NOW, FakeMarket, levels, lit, vbook, venues
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation

D = Decimal
BUY, SELL = 1, -1


@dataclass
class FakeEstimates:
    """Hand-made estimates: per (venue, kind) fill probability and cost, per venue a fill curve."""

    prob: dict[tuple[str, OrderKind], float] = field(default_factory=dict)
    cost: dict[tuple[str, OrderKind], Decimal] = field(default_factory=dict)
    curves: dict[str, Callable[[int], float]] = field(default_factory=dict)
    default_prob: float = 0.5

    def fill_probability(self, venue: str, symbol: str, kind: OrderKind) -> float:
        return self.prob.get((venue, kind), self.default_prob)

    def expected_fill(self, venue: str, symbol: str, kind: OrderKind, qty: int) -> float:
        curve = self.curves.get(venue)
        return curve(qty) if curve is not None else self.fill_probability(venue, symbol, kind) * qty

    def cost_per_share(self, venue: str, symbol: str, kind: OrderKind) -> Decimal:
        return self.cost.get((venue, kind), D(0))

    def latency_ms(self, venue: str) -> float:
        return 0.0

    def reject_rate(self, venue: str) -> float:
        return 0.0


def dark(name: str, fee: str = "0", *, pegs: bool = True, min_qty: int = 1, max_qty: int | None = None,
         ioc: bool = True) -> VenueInfo:
    return VenueInfo(name, VenueKind.DARK, D(fee), D(fee), min_order_qty=min_qty, max_order_qty=max_qty,
                     order_types=frozenset({"limit", "market", "pegged"} if pegs else {"limit", "market"}),
                     time_in_force=frozenset({"day", "ioc"} if ioc else {"day"}))


def it(qty: int, style: Style = Style.PASSIVE, direction: int = BUY, limit: str | None = "10.05") -> Intent:
    return Intent("P1", "ACME", direction, qty, D(limit) if limit is not None else None, style)


def market() -> FakeMarket:
    """Bid 10.00 / ask 10.02 (mid 10.01, half spread 0.01) on A and B."""
    return FakeMarket([vbook("A", bids=levels(("10.00", 300)), asks=levels(("10.02", 300), ("10.03", 500))),
                       vbook("B", bids=levels(("9.99", 100)), asks=levels(("10.02", 200)))])


def seq(intent: Intent, vs: Mapping[str, VenueInfo], est: FakeEstimates | None = None, mk: MarketView | None = None,
        lot: int = 1, exclude: frozenset[str] = frozenset(), **kw: float) -> SequentialPlacement:
    return SequentialPlacement(intent, mk or market(), vs, lot, NOW, exclude, estimates=est or FakeEstimates(),
                               settings=SequentialSettings(**kw))


def place(p: Placement, o: VenueOrder, cid: str) -> str:
    p.on_placed(o, cid, o.qty)
    return cid


def res(o: VenueOrder, cid: str, filled: int, outcome: ChildOutcome, now: float = NOW,
        requested: bool = False) -> ChildResult:
    return ChildResult(o.venue, cid, o.qty, filled, outcome, now, requested)


# ----------------------------------------------------------------------------------------- settings


def test_settings_come_from_a_mapping_and_unknown_names_or_bad_values_are_refused_by_name() -> None:
    assert SequentialSettings.from_mapping({}) == SequentialSettings()
    assert SequentialSettings.from_mapping({"dark_timeout_s": 2}).dark_timeout_s == 2.0
    with pytest.raises(ValueError, match="dark_timeot_s"):
        SequentialSettings.from_mapping({"dark_timeot_s": 2})
    with pytest.raises(ValueError, match="passive_timeout_s"):
        SequentialSettings.from_mapping({"passive_timeout_s": 0})
    with pytest.raises(ValueError, match="miss_penalty_spreads"):
        SequentialSettings.from_mapping({"miss_penalty_spreads": "much"})
    with pytest.raises(ValueError, match="miss_penalty_spreads"):
        SequentialSettings.from_mapping({"miss_penalty_spreads": -1})


# ------------------------------------------------------------------------------------------ ranking


def test_passive_slots_rank_by_spread_captured_plus_cost_plus_the_priced_miss() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    est = FakeEstimates(prob={("A", OrderKind.PASSIVE): 0.5, ("B", OrderKind.PASSIVE): 0.5,
                              ("X", OrderKind.MIDPOINT): 0.9},
                        cost={("A", OrderKind.PASSIVE): D("-0.002"), ("B", OrderKind.PASSIVE): D("0.001"),
                              ("X", OrderKind.MIDPOINT): D("0.0005")})
    slots = build_slots(it(100), market(), vs, 1, 100, frozenset(), est, SequentialSettings())
    # post at 10.00: -0.01 vs the mid; miss: 0.5 x 1 x 0.01 = 0.005
    assert [(s.venue, s.rank_cost) for s in slots] == [("A", D("-0.007")), ("B", D("-0.004")),
                                                        ("X", D("0.0015"))]
    assert all(s.order.price == D("10.00") for s in slots if s.venue != "X")
    # a pool that nearly always fills beats lit once a miss is priced dearly enough
    slots = build_slots(it(100), market(), vs, 1, 100, frozenset(), est, SequentialSettings(miss_penalty_spreads=4))
    assert slots[0].venue == "X"


def test_aggressive_slots_rank_by_the_price_taken_so_an_inverted_venue_wins_on_all_in_cost() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    est = FakeEstimates(default_prob=1.0, cost={("A", OrderKind.IOC): D("0.003"), ("B", OrderKind.IOC): D("-0.0005"),
                                                ("X", OrderKind.MIDPOINT_IOC): D("0.001")})
    slots = build_slots(it(200, Style.AGGRESSIVE), market(), vs, 1, 200, frozenset(), est, SequentialSettings())
    assert [s.venue for s in slots] == ["X", "B", "A"]  # the mid is cheapest, then the rebate
    [b] = [s for s in slots if s.venue == "B"]
    assert (b.order.qty, b.order.price, b.order.ioc, b.kind) == (200, D("10.02"), True, OrderKind.IOC)
    [a] = [s for s in slots if s.venue == "A"]
    assert (a.order.qty, a.order.price) == (200, D("10.02"))  # enough at its touch
    [x] = [s for s in slots if s.venue == "X"]
    assert x.order.peg and x.order.ioc and x.order.price == D("10.05")  # an IOC peg capped at the limit
    assert x.order.expected_cost == D("10.011")  # the mid + its cost
    assert x.kind is OrderKind.MIDPOINT_IOC  # an IOC peg is asked about as one, not as a resting peg


def test_a_dark_slot_reads_the_estimates_of_the_kind_it_sends_resting_or_ioc() -> None:
    # X's resting pegs nearly always fill, its IOC pegs rarely: a PASSIVE intent sees the first, an
    # AGGRESSIVE one the second.  Miss penalty: (1 - p) x 1 x half spread 0.01.
    vs = venues(lit("A"), dark("X"))
    est = FakeEstimates(prob={("X", OrderKind.MIDPOINT): 0.9, ("X", OrderKind.MIDPOINT_IOC): 0.1})
    [x] = [s for s in build_slots(it(100), market(), vs, 1, 100, frozenset(), est, SequentialSettings())
           if s.venue == "X"]
    assert (x.kind, x.rank_cost, x.order.ioc) == (OrderKind.MIDPOINT, D("0.001"), False)  # 0.1 x 0.01
    [x] = [s for s in build_slots(it(100, Style.AGGRESSIVE), market(), vs, 1, 100, frozenset(), est,
                                  SequentialSettings()) if s.venue == "X"]
    assert (x.kind, x.rank_cost, x.order.ioc) == (OrderKind.MIDPOINT_IOC, D("0.009"), True)  # 0.9 x 0.01


def test_a_learned_scorecard_counts_the_half_spread_once() -> None:
    # A's IOC buys took the ask 10.02 with the mid at 10.01 (price improvement -0.01), its posts
    # filled at the bid 10.00 (+0.01); no fees, no markouts.  The slots price the book themselves:
    # take d x (10.02 - 10.01) = 0.01, post d x (10.00 - 10.01) = -0.01, plus the cost beyond the
    # price, 0 here.  Had the scorecard's cost held -(price improvement) too, taking would rank 0.02
    # and posting -0.02: the half spread twice.
    vs = venues(lit("A"), lit("B"), dark("X"))
    card = Scorecard(vs, ScorecardSettings(prior_weight=0.0))
    for i in range(20):
        card.apply(ChildPlaced("P", f"I{i}", "A", "ACME", Side.BUY, 100, D("10.02"), True, mid=D("10.01")), 0.0)
        card.apply(VenueExecution("P", f"I{i}", "A", f"XI{i}", 100, D("10.02"), "2", None), 0.0)
        card.apply(ChildPlaced("P", f"R{i}", "A", "ACME", Side.BUY, 100, D("10.00"), False, mid=D("10.01")), 0.0)
        card.apply(VenueExecution("P", f"R{i}", "A", f"XR{i}", 100, D("10.00"), "1", None), 0.0)
    assert card.price_improvement("A", "ACME", OrderKind.IOC) == D("-0.01")  # kept, as a figure of its own
    none = SequentialSettings(miss_penalty_spreads=0)
    for style, a_cost in ((Style.AGGRESSIVE, D("0.01")), (Style.PASSIVE, D("-0.01"))):
        learned = build_slots(it(100, style), market(), vs, 1, 100, frozenset(), card, none)
        priors = build_slots(it(100, style), market(), vs, 1, 100, frozenset(), PriorEstimates(vs), none)
        assert [(s.venue, s.rank_cost) for s in learned] == [(s.venue, s.rank_cost) for s in priors]
        assert [s.rank_cost for s in learned if s.venue == "A"] == [a_cost]


def test_an_ioc_is_sized_to_the_venues_displayed_depth_within_the_limit_and_priced_at_the_level_reached() -> None:
    vs = venues(lit("A"))
    [a] = build_slots(it(1000, Style.AGGRESSIVE, limit="10.02"), market(), vs, 1, 1000, frozenset(),
                      FakeEstimates(), SequentialSettings())
    assert (a.order.qty, a.order.price) == (300, D("10.02"))  # 10.03 is beyond the limit
    [a] = build_slots(it(1000, Style.AGGRESSIVE, limit=None), market(), vs, 1, 1000, frozenset(),
                      FakeEstimates(), SequentialSettings())
    assert (a.order.qty, a.order.price) == (800, D("10.03"))


def test_selling_mirrors_buying_posts_at_the_ask_and_caps_the_peg_at_the_limit() -> None:
    vs = venues(lit("A"), dark("X"))
    slots = build_slots(it(100, direction=SELL, limit="9.95"), market(), vs, 1, 100, frozenset(), FakeEstimates(),
                        SequentialSettings())
    by = {s.venue: s for s in slots}
    assert by["A"].order.price == D("10.02") and by["A"].rank_cost < 0
    assert by["X"].order.price == D("9.95") and by["X"].order.direction == SELL


def test_venue_rules_are_respected_up_front_sizes_capped_minimums_skipped_no_pegs_a_limit_order() -> None:
    vs = venues(lit("A"), dataclasses.replace(lit("B"), max_order_qty=50), dark("N", min_qty=1000),
                dark("U", pegs=False), dataclasses.replace(lit("C", odd_lots=False), order_types=frozenset({"market"})))
    mk = FakeMarket([*market().venue_books, vbook("C", bids=levels(("10.00", 5)))])
    slots = {s.venue: s for s in build_slots(it(500), mk, vs, 1, 500, frozenset(), FakeEstimates(),
                                              SequentialSettings())}
    assert slots["B"].order.qty == 50
    assert "N" not in slots  # 500 is below its minimum
    assert "C" not in slots  # takes no limit orders
    assert not slots["U"].order.peg and slots["U"].order.price == D("10.05")  # the pool reads it as a capped peg
    slots = {s.venue: s for s in build_slots(it(500, limit=None), mk, vs, 1, 500, frozenset(), FakeEstimates(),
                                              SequentialSettings())}
    assert "U" not in slots  # neither a peg nor a limit to cap it: not sent


def test_excluded_and_closed_venues_get_no_slot_nor_a_post_that_would_cross() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    mk = market()
    mk.statuses["B"] = VenueStatus.HALTED
    slots = build_slots(it(100), mk, vs, 1, 100, frozenset({"X"}), FakeEstimates(), SequentialSettings())
    assert [s.venue for s in slots] == ["A"]
    crossed = FakeMarket([vbook("A", bids=levels(("10.02", 100)), asks=levels(("10.01", 100)))])
    assert build_slots(it(100), crossed, venues(lit("A")), 1, 100, frozenset(), FakeEstimates(),
                       SequentialSettings()) == []


def test_whole_lots_and_the_odd_remainder_only_to_a_venue_taking_odd_lots() -> None:
    vs = venues(lit("A", odd_lots=False), lit("B", odd_lots=True))
    slots = {s.venue: s.order.qty for s in build_slots(it(250), market(), vs, 100, 250, frozenset(), FakeEstimates(),
                                                        SequentialSettings())}
    assert slots == {"A": 200, "B": 250}


# ------------------------------------------------------------------------------------------ the walk


def est_a_then_x_then_b() -> FakeEstimates:
    return FakeEstimates(cost={("A", OrderKind.PASSIVE): D("-0.003"), ("X", OrderKind.MIDPOINT): D("-0.02"),
                               ("B", OrderKind.PASSIVE): D("0.01")})


def test_a_resting_order_that_times_out_is_canceled_and_its_remainder_goes_to_the_next_venue() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    p = seq(it(300), vs, est_a_then_x_then_b(), passive_timeout_s=4, dark_timeout_s=2)
    [first] = p.orders()
    assert (first.venue, first.qty, first.ioc) == ("X", 300, False) and first.peg
    assert "1st venue tried" in first.reason and "cheapest of 3" in first.reason
    assert p.wake_at == NOW + 2
    c1 = place(p, first, "C1")
    assert p.held == 0 and p.unplaced == 0 and not p.done
    assert p.on_wakeup(NOW + 2, frozenset()) == [] and p.take_cancels() == ["C1"]
    assert p.held == 0  # all of it is still out
    [second] = p.on_child_result(res(first, c1, 0, ChildOutcome.CANCELED, NOW + 2.1, requested=True))
    assert (second.venue, second.qty, second.price) == ("A", 300, D("10.00"))
    assert "2nd venue tried" in second.reason
    assert p.wake_at == NOW + 2.1 + 4


def test_a_partial_fill_of_a_resting_order_pulls_it_and_the_remainder_goes_elsewhere_never_back() -> None:
    vs = venues(lit("A"), lit("B"), dark("X"))
    p = seq(it(300), vs, est_a_then_x_then_b())
    [first] = p.orders()
    c1 = place(p, first, "C1")
    assert p.on_child_result(res(first, c1, 100, ChildOutcome.WORKING)) == []
    assert p.take_cancels() == ["C1"] and p.wake_at is None
    [second] = p.on_child_result(res(first, c1, 120, ChildOutcome.CANCELED, requested=True))
    assert (second.venue, second.qty) == ("A", 180)
    c2 = place(p, second, "C2")
    [third] = p.on_child_result(res(second, c2, 0, ChildOutcome.REJECTED))  # a reject: next venue at once
    assert (third.venue, third.qty) == ("B", 180)
    c3 = place(p, third, "C3")
    assert p.on_wakeup(NOW + 10, frozenset()) == [] and p.take_cancels() == ["C3"]
    assert p.on_child_result(res(third, c3, 30, ChildOutcome.CANCELED, requested=True)) == []  # no venue left
    assert p.done and p.unplaced == 150 and p.tried == ["X", "A", "B"]


def test_an_iocs_unfilled_remainder_goes_to_the_next_venue_at_once() -> None:
    vs = venues(lit("A"), lit("B"))
    est = FakeEstimates(cost={("A", OrderKind.IOC): D("0.003"), ("B", OrderKind.IOC): D("-0.0005")})
    p = seq(it(400, Style.AGGRESSIVE), vs, est)
    [first] = p.orders()
    assert (first.venue, first.qty, first.ioc) == ("B", 200, True) and p.wake_at is None
    c1 = place(p, first, "C1")
    assert p.held == 200  # the rest waits for B's result: not the strategy's to send
    [second] = p.on_child_result(res(first, c1, 150, ChildOutcome.CANCELED))
    assert (second.venue, second.qty, second.price) == ("A", 250, D("10.02"))
    c2 = place(p, second, "C2")
    assert p.on_child_result(res(second, c2, 250, ChildOutcome.FILLED)) == []
    assert p.done and p.unplaced == 0 and p.held == 0


def test_a_venue_taking_less_than_the_room_is_filled_then_the_rest_goes_on() -> None:
    vs = venues(dataclasses.replace(lit("A"), max_order_qty=100), lit("B"))
    p = seq(it(250), vs, FakeEstimates(cost={("B", OrderKind.PASSIVE): D("0.01")}))
    [first] = p.orders()
    assert (first.venue, first.qty) == ("A", 100) and p.held == 150
    c1 = place(p, first, "C1")
    [second] = p.on_child_result(res(first, c1, 100, ChildOutcome.FILLED))
    assert (second.venue, second.qty) == ("B", 150)


def test_the_engines_own_cancel_is_not_re_routed_and_nothing_is_sent_with_no_venue() -> None:
    vs = venues(lit("A"), lit("B"))
    p = seq(it(300), vs)
    [first] = p.orders()
    c1 = place(p, first, "C1")
    p.supersede()
    assert p.on_child_result(res(first, c1, 0, ChildOutcome.CANCELED, requested=True)) == []
    assert p.done and p.unplaced == 300
    empty = seq(it(300), vs, mk=FakeMarket([]))
    assert empty.orders() == [] and empty.done and empty.unplaced == 300


def test_prior_estimates_make_the_rebate_venue_first_and_the_pools_last_for_a_passive_intent() -> None:
    vs = venues(lit("A", maker="-0.002"), lit("B", maker="0.001"), dark("X", "0.001"))
    p = SequentialPlacement(it(100), market(), vs, 1, NOW, estimates=PriorEstimates(vs),
                            settings=SequentialSettings())
    [first] = p.orders()
    assert first.venue == "A" and first.expected_cost == D("9.998")


# ----------------------------------------------------------------------------------- the budget


OUTCOMES = st.sampled_from([ChildOutcome.WORKING, ChildOutcome.CANCELED, ChildOutcome.REJECTED])


@settings(max_examples=250, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([1, 100]), st.sampled_from(list(Style)), st.data())
def test_never_more_than_the_intent_filled_and_open_never_a_venue_twice_whatever_the_children_do(
    qty: int, lot: int, style: Style, data: st.DataObject
) -> None:
    vs = venues(lit("A"), dataclasses.replace(lit("B", odd_lots=False), max_order_qty=500), dark("X"),
                dark("N", min_qty=1000))
    p: LedgerPlacement = seq(it(qty, style), vs, FakeEstimates(default_prob=0.4), lot=lot)
    children: dict[str, list[int]] = {}  # id -> [qty, filled, open]
    orders_of: dict[str, VenueOrder] = {}
    venues_sent: list[str] = []

    def send(orders: list[VenueOrder]) -> None:
        assert len(orders) <= 1  # one venue at a time
        for o in orders:
            assert o.venue not in venues_sent and vs[o.venue].refuses(o.qty, o.price, lot, ioc=o.ioc, peg=o.peg) is None
            assert o.qty % lot == 0 or vs[o.venue].odd_lots
            venues_sent.append(o.venue)
            if data.draw(st.integers(0, 9), label="refused") == 0:
                p.on_placed(o, None, 0)
                continue
            cid = f"C{len(children) + 1}"
            p.on_placed(o, cid, o.qty)
            children[cid], orders_of[cid] = [o.qty, 0, 1], o

    def check() -> None:
        filled = sum(c[1] for c in children.values())
        working = sum(c[0] - c[1] for c in children.values() if c[2])
        assert filled + working + p.held <= qty

    send(p.orders())
    check()
    for step in range(data.draw(st.integers(0, 30), label="steps")):
        if data.draw(st.booleans(), label="wake"):
            send(p.on_wakeup(NOW + step, frozenset()))
        for cid in p.take_cancels():  # the venue confirms, maybe after a last fill
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
        cid = data.draw(st.sampled_from(open_ids), label="child")
        child, o = children[cid], orders_of[cid]
        child[1] += data.draw(st.integers(0, child[0] - child[1]), label="fill")
        outcome = ChildOutcome.FILLED if child[1] == child[0] else data.draw(OUTCOMES, label="outcome")
        child[2] = int(not outcome.closed)
        send(p.on_child_result(ChildResult(o.venue, cid, o.qty, child[1], outcome, NOW + step)))
        check()
    for _ in range(len(vs) + 2):
        for cid in [cid for cid, c in children.items() if c[2]]:
            children[cid][2] = 0
            o = orders_of[cid]
            send(p.on_child_result(ChildResult(o.venue, cid, o.qty, children[cid][1], ChildOutcome.CANCELED, NOW)))
    p.take_cancels()
    filled = sum(c[1] for c in children.values())
    assert p.done and p.unplaced == qty - filled


# -------------------------------------------------------------------------- on the simulated venues


class SequentialRouter:
    """The test's router: every intent placed sequentially, routed as it is."""

    def __init__(self, est: object, settings: SequentialSettings) -> None:
        self.est, self.settings = est, settings

    def start(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
              now: float, exclude: frozenset[str] = frozenset()) -> Placement:
        return SequentialPlacement(intent, market, venues, lot_size, now, exclude,
                                   estimates=self.est, settings=self.settings)  # type: ignore[arg-type]


def test_in_virtual_time_the_pools_come_first_remainders_move_on_and_no_venue_rejects() -> None:
    journal = MemoryJournal()
    sim = simulation(journal)
    # Pools that nearly always fill, lit posts that rarely do, a miss priced at two half spreads: dark first.
    est = FakeEstimates(prob={(v, OrderKind.MIDPOINT): 0.95 for v in ("UMBRA", "NOCT")}, default_prob=0.1)
    sim.engine.router = SequentialRouter(est, SequentialSettings(dark_timeout_s=2, passive_timeout_s=3,
                                                                 miss_penalty_spreads=2))
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 3000, 120, now))
    sim.run_until(now + 240)
    events = list(journal.replay())
    placed = [e.data for e in events if e.kind == "child.placed"]
    assert not [e for e in events if e.kind == "child.rejected"]
    pooled = [c for c in placed if c["venue"] in ("UMBRA", "NOCT")]
    assert pooled and all(c["peg"] for c in pooled)
    assert any("2nd venue tried" in c["reason"] for c in placed)  # remainders moved on
    assert [e for e in events if e.kind == "child.cancel_requested"
            and "placement" in e.data.get("reason", "")]  # timeouts pulled children
    last = reports_by_order(sim)["O1"][-1]
    assert last[39] == "2" and last[14] == "3000"  # filled, exactly
    assert not sim.alerts
