"""Placements: routing with memory, told each child's result (execution/placement.py).

The best-price placement must behave exactly as the stateless router did inside the engine; every
placement must stay within its intent whatever its children do; and the hook that lets a routing
logic re-route a rejected remainder must work, in isolation and inside the engine.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.placement import (
    ChildOutcome,
    ChildResult,
    LedgerPlacement,
    OnePassPlacement,
    Placement,
    limit_out_of_reach,
)
from metaorder.execution.router import BestPriceRouter, FeeLatencyCosts
from metaorder.execution.types import Intent, MarketView, Style, VenueInfo, VenueOrder, VenueStatus
from tests.unit.test_router import INTENTS, NOW, FakeMarket, intent, levels, lit, markets, vbook, venues
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation

D = Decimal
ROUTER = BestPriceRouter(FeeLatencyCosts(latency_cost_per_ms=D(0), queue_cost_per_share=D(0)))


def placed(p: Placement, orders: list[VenueOrder], first_id: int = 1) -> list[str]:
    """Tell ``p`` every order was placed whole, as children C<n>; returns their ids."""
    ids = []
    for n, o in enumerate(orders, first_id):
        p.on_placed(o, f"C{n}", o.qty)
        ids.append(f"C{n}")
    return ids


def result(order: VenueOrder, child_id: str, filled: int, outcome: ChildOutcome) -> ChildResult:
    return ChildResult(order.venue, child_id, order.qty, filled, outcome, NOW)


class RerouteOnReject(LedgerPlacement):
    """Test-only logic: a rejected child's unfilled remainder goes to the next best venue."""

    def __init__(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
                 now: float, exclude: frozenset[str] = frozenset()) -> None:
        super().__init__(intent, market, venues, lot_size, now, exclude)
        self.tried: set[str] = set()

    def _first(self) -> list[VenueOrder]:
        return ROUTER.route(self.intent, self.market, self.venues, self.lot_size, self.started, self.exclude)

    def _after(self, result: ChildResult) -> list[VenueOrder]:
        if result.outcome is not ChildOutcome.REJECTED:
            return []
        self.tried.add(result.venue)
        rest = dataclasses.replace(self.intent, qty=min(result.unfilled, self.room))
        exclude = self.exclude | result.exclude | frozenset(self.tried)
        return [dataclasses.replace(o, reason=f"re-routed after {result.venue} rejected")
                for o in ROUTER.route(rest, self.market, self.venues, self.lot_size, result.now, exclude)]


# ------------------------------------------------------------------------- the best-price placement


@settings(max_examples=300, deadline=None)
@given(markets(), INTENTS, st.sampled_from([1, 10, 100]), st.sets(st.sampled_from(["A", "B", "C", "D"]), max_size=2))
def test_the_best_price_placement_sends_what_the_engine_used_to_route_in_one_pass(
    mk: tuple[FakeMarket, dict[str, VenueInfo]], it: Intent, lot: int, excluded: set[str]
) -> None:
    market, vs = mk
    exclude = frozenset(excluded)
    expected = ROUTER.route(it, market, vs, lot, NOW, exclude)
    routed = sum(o.qty for o in expected)
    if (it.style is Style.AGGRESSIVE and routed < it.qty
            and limit_out_of_reach(market, it.symbol, it.direction, it.limit)):
        rest = dataclasses.replace(it, qty=it.qty - routed, style=Style.PASSIVE)
        expected += ROUTER.route(rest, market, vs, lot, NOW, exclude)
    placement = ROUTER.start(it, market, vs, lot, NOW, exclude)
    got = placement.orders()
    assert [(o.venue, o.qty, o.price, o.ioc) for o in got] == [(o.venue, o.qty, o.price, o.ioc) for o in expected]
    assert placement.orders() == []  # the first orders are asked once


def test_an_aggressive_intent_with_the_market_beyond_its_limit_rests_at_the_limit_saying_why() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.05", 500)))])
    placement = ROUTER.start(dataclasses.replace(intent(100, limit="10.00"), reason="slice 3"), market,
                             venues(lit("A")), 1, NOW)
    [rest] = placement.orders()
    assert (rest.venue, rest.qty, rest.price, rest.ioc) == ("A", 100, D("10.00"), False)
    assert rest.reason == "slice 3; market beyond the limit: rest at the limit"


def test_the_best_price_placement_sends_nothing_after_its_pass_and_is_done_when_its_children_close() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 60))), vbook("B", asks=levels(("10.01", 100)))])
    placement = ROUTER.start(intent(100), market, venues(lit("A"), lit("B")), 1, NOW)
    a, b = placement.orders()
    ids = placed(placement, [a, b])
    assert not placement.done and placement.unplaced == 0
    assert placement.on_child_result(result(a, ids[0], 60, ChildOutcome.FILLED)) == []
    assert placement.on_child_result(result(b, ids[1], 10, ChildOutcome.WORKING)) == []
    assert not placement.done
    assert placement.on_child_result(result(b, ids[1], 25, ChildOutcome.CANCELED)) == []  # the IOC's remainder
    assert placement.done and placement.unplaced == 100 - 60 - 25  # the strategy's to decide again
    assert placement.on_market(market, NOW, frozenset()) == []


def test_a_placement_with_nothing_to_send_is_done_at_once() -> None:
    placement = ROUTER.start(intent(100), FakeMarket([]), venues(lit("A")), 1, NOW)
    assert placement.orders() == [] and placement.done and placement.unplaced == 100


# ---------------------------------------------------------------- re-routing through the result hook


def test_a_placement_told_its_child_was_rejected_can_re_route_the_remainder_to_the_next_venue() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 500))), vbook("B", asks=levels(("10.02", 500)))])
    placement = RerouteOnReject(intent(300), market, venues(lit("A"), lit("B")), 1, NOW)
    [first] = placement.orders()
    assert (first.venue, first.qty) == ("A", 300)
    [cid] = placed(placement, [first])
    [again] = placement.on_child_result(result(first, cid, 0, ChildOutcome.REJECTED))
    assert (again.venue, again.qty, again.reason) == ("B", 300, "re-routed after A rejected")
    placed(placement, [again], first_id=2)
    assert not placement.done
    placement.on_child_result(result(again, "C2", 300, ChildOutcome.FILLED))
    assert placement.done and placement.unplaced == 0


def test_a_superseded_placement_asks_for_nothing_more() -> None:
    market = FakeMarket([vbook("A", asks=levels(("10.00", 500))), vbook("B", asks=levels(("10.02", 500)))])
    placement = RerouteOnReject(intent(300), market, venues(lit("A"), lit("B")), 1, NOW)
    [first] = placement.orders()
    [cid] = placed(placement, [first])
    placement.supersede()
    assert placement.on_child_result(result(first, cid, 0, ChildOutcome.REJECTED)) == []
    assert placement.done and placement.unplaced == 300


# ------------------------------------------------------------------------ the budget, whatever happens


OUTCOMES = st.sampled_from([ChildOutcome.WORKING, ChildOutcome.CANCELED, ChildOutcome.REJECTED])


@settings(max_examples=300, deadline=None)
@given(markets(), INTENTS, st.sampled_from([1, 10, 100]), st.booleans(), st.data())
def test_a_placement_never_has_more_than_its_intent_filled_and_open_whatever_its_children_do(
    mk: tuple[FakeMarket, dict[str, VenueInfo]], it: Intent, lot: int, reroute: bool, data: st.DataObject
) -> None:
    market, vs = mk
    placement: LedgerPlacement = (RerouteOnReject(it, market, vs, lot, NOW) if reroute
                                  else OnePassPlacement(ROUTER, it, market, vs, lot, NOW))
    children: dict[str, list[int]] = {}  # child id -> [qty, filled, open]
    orders_of: dict[str, VenueOrder] = {}
    rejected: set[str] = set()
    sent = 0

    def place(orders: list[VenueOrder]) -> None:
        nonlocal sent
        assert sum(1 for o in orders if o.qty % lot) <= 1  # at most one odd-lot order per decision
        for o in orders:
            info = vs[o.venue]
            assert o.qty > 0 and o.direction == it.direction and o.symbol == it.symbol
            assert market.status(o.venue) is VenueStatus.OPEN and o.venue not in rejected
            assert it.limit is None or o.price is None or it.direction * (o.price - it.limit) <= 0
            assert o.qty % lot == 0 or info.odd_lots
            sent += o.qty
            if data.draw(st.integers(0, 9), label="refused") == 0:  # the parent/child control said no
                placement.on_placed(o, None, 0)
                continue
            cid = f"C{len(children) + 1}"
            placement.on_placed(o, cid, o.qty)
            children[cid], orders_of[cid] = [o.qty, 0, 1], o

    def check() -> None:
        filled = sum(c[1] for c in children.values())
        working = sum(c[0] - c[1] for c in children.values() if c[2])
        assert filled + working <= it.qty
        if not reroute:
            assert sent <= it.qty  # one pass: never more than the intent in total, ever

    def tell(cid: str, outcome: ChildOutcome, step: int) -> None:
        child, o = children[cid], orders_of[cid]
        if outcome is ChildOutcome.REJECTED:
            rejected.add(o.venue)
        child[2] = int(not outcome.closed)
        place(placement.on_child_result(ChildResult(o.venue, cid, o.qty, child[1], outcome, NOW + step)))
        check()

    place(placement.orders())
    check()
    for step in range(data.draw(st.integers(0, 40), label="steps")):
        open_ids = [cid for cid, c in children.items() if c[2]]
        if not open_ids:
            break
        cid = data.draw(st.sampled_from(open_ids), label="child")
        child = children[cid]
        child[1] += data.draw(st.integers(0, child[0] - child[1]), label="fill")
        tell(cid, ChildOutcome.FILLED if child[1] == child[0] else data.draw(OUTCOMES, label="outcome"), step)
        if data.draw(st.booleans(), label="market moved"):
            place(placement.on_market(market, NOW + step, frozenset()))
            check()
    for _ in range(len(vs) + 2):  # the venues cancel what is left (a reject may re-route once per venue)
        for cid in [cid for cid, c in children.items() if c[2]]:
            tell(cid, ChildOutcome.CANCELED, 99)
    filled = sum(c[1] for c in children.values())
    assert placement.done and placement.unplaced == it.qty - filled


# ---------------------------------------------------------------------------------- in the engine


class DarkFirstRouter:
    """Test-only routing logic, as issue 15's will be: the block pool first, what it does not take
    (an IOC's remainder, or a reject) re-routed to the best lit prices at once."""

    def start(self, intent: Intent, market: MarketView, venues: Mapping[str, VenueInfo], lot_size: int,
              now: float, exclude: frozenset[str] = frozenset()) -> Placement:
        return DarkFirst(intent, market, venues, lot_size, now, exclude)


class DarkFirst(LedgerPlacement):
    def _first(self) -> list[VenueOrder]:
        it = self.intent
        if "NOCT" in self.exclude:
            return ROUTER.route(it, self.market, self.venues, self.lot_size, self.started, self.exclude)
        return [VenueOrder("NOCT", it.symbol, it.direction, it.qty, it.limit, ioc=True, reason="dark first")]

    def _after(self, result: ChildResult) -> list[VenueOrder]:
        if not result.outcome.closed or result.requested or not result.unfilled:
            return []
        rest = dataclasses.replace(self.intent, qty=min(result.unfilled, self.room))
        exclude = self.exclude | result.exclude | {result.venue}
        return [dataclasses.replace(o, reason=f"re-routed after {result.venue}")
                for o in ROUTER.route(rest, self.market, self.venues, self.lot_size, result.now, exclude)]


def test_the_engine_tells_a_placement_its_child_was_rejected_and_sends_the_re_routed_remainder_at_once() -> None:
    sim = simulation()
    sim.engine.router = DarkFirstRouter()
    # The engine is not told NOCT's minimum size (else it would not send what NOCT rejects): the venue rejects.
    sim.engine.venues["NOCT"] = dataclasses.replace(sim.engine.venues["NOCT"], min_order_qty=1)
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 600, 60, now))  # slices far below NOCT's 1,000 minimum
    sim.run_until(now + 90)
    children = list({id(c): c for c in sim.engine._children.values()}.values())
    dark = [c for c in children if c.venue == "NOCT"]
    assert dark and all(c.state.name == "REJECTED" for c in dark)
    rerouted = [c for c in children if c.reason == "re-routed after NOCT"]  # only the placement says so
    assert sum(c.qty for c in rerouted) == sum(c.qty for c in dark)
    last = reports_by_order(sim)["O1"][-1]
    assert last[39] == "2" and last[14] == "600"  # filled, exactly
    assert not sim.alerts
