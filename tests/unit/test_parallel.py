"""The parallel sweep (execution/parallel.py): breadth without ever sending more than the intent.

Hand cases pin what a sweep sends (lit IOCs at the touch, dark midpoint orders for the rest, the
passive split, venue rules up front), where remainders go (elsewhere), the timeout, and what an
over-filling venue leaves it doing (nothing).  Hypothesis then plays the venues in any order —
fills, the placement's own cancels, cancels that lose the race to a fill, venue cancels, rejects,
over-fills — and checks the budget at every step and conservation at the end.  In virtual time on
the simulated venues it must use the dark pools, respect every venue's rules up front and fill
the client order exactly.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.execution.estimates import FillPriors, OrderKind, PriorEstimates
from metaorder.execution.parallel import ParallelPlacement, ParallelRouter, ParallelSettings, _Candidate, split
from metaorder.execution.placement import ChildOutcome, ChildResult
from metaorder.execution.types import (
    Intent,
    Level,
    Style,
    VenueBook,
    VenueInfo,
    VenueKind,
    VenueOrder,
    VenueStatus,
)
from tests.unit.test_router import FakeMarket as Market
from tests.unit.test_simulated_pipeline import order, reports_by_order, simulation

D = Decimal
NOW = 1_700_000_000.0
SETTINGS = ParallelSettings(rest_timeout_s=3.0, min_child_qty=100)


def book(venue: str, bids: list[tuple[str, int]] = (), asks: list[tuple[str, int]] = ()) -> VenueBook:  # type: ignore[assignment]
    return VenueBook(venue, "ACME", [Level(D(p), s) for p, s in bids], [Level(D(p), s) for p, s in asks], NOW)


def lit(name: str, maker: str = "0", taker: str = "0", **rules: object) -> VenueInfo:
    rules.setdefault("odd_lots", True)
    return VenueInfo(name, VenueKind.LIT, D(maker), D(taker), **rules)  # type: ignore[arg-type]


def dark(name: str, fee: str = "0.001", **rules: object) -> VenueInfo:
    rules.setdefault("order_types", frozenset({"limit", "market", "pegged"}))
    return VenueInfo(name, VenueKind.DARK, D(fee), D(fee), **rules)  # type: ignore[arg-type]


def venues(*infos: VenueInfo) -> dict[str, VenueInfo]:
    return {v.name: v for v in infos}


def intent(qty: int, style: Style = Style.AGGRESSIVE, limit: str | None = "10.05", direction: int = 1) -> Intent:
    return Intent("P1", "ACME", direction, qty, D(limit) if limit is not None else None, style)


def start(it: Intent, market: Market, vs: dict[str, VenueInfo], lot: int = 1,
          exclude: frozenset[str] = frozenset(), s: ParallelSettings = SETTINGS) -> ParallelPlacement:
    return ParallelPlacement(it, market, vs, lot, NOW, exclude, estimates=PriorEstimates(vs), settings=s)


def shape(orders: list[VenueOrder]) -> list[tuple[str, int, Decimal | None, bool, bool]]:
    return sorted((o.venue, o.qty, o.price, o.ioc, o.peg) for o in orders)


class Venues:
    """Plays the engine for one placement: ids, results, and the cancels it asks for."""

    def __init__(self, p: ParallelPlacement) -> None:
        self.p = p
        self.sent: dict[str, VenueOrder] = {}
        self.filled: dict[str, int] = {}
        self.open: set[str] = set()
        self.canceling: set[str] = set()

    def place(self, orders: list[VenueOrder]) -> list[str]:
        ids = []
        for o in orders:
            cid = f"C{len(self.sent) + 1}"
            self.p.on_placed(o, cid, o.qty)
            self.sent[cid], self.filled[cid] = o, 0
            self.open.add(cid)
            ids.append(cid)
        self.canceling |= set(self.p.take_cancels())
        return ids

    def tell(self, cid: str, filled: int, outcome: ChildOutcome, now: float = NOW) -> list[str]:
        o = self.sent[cid]
        self.filled[cid] = filled
        if outcome.closed:
            self.open.discard(cid)
            self.canceling.discard(cid)
        result = ChildResult(o.venue, cid, o.qty, filled, outcome, now, requested=cid in self.canceling)
        return self.place(self.p.on_child_result(result))

    def wake(self, now: float) -> list[str]:
        return self.place(self.p.on_wakeup(now, frozenset()))

    def out(self) -> int:
        """Filled plus still open at the venues, as the venues see it."""
        return sum(self.filled.values()) + sum(max(self.sent[c].qty - self.filled[c], 0) for c in self.open)


LIT_AND_DARK = venues(lit("A"), lit("B"), dark("UMBRA"), dark("NOCT", min_order_qty=1000,
                                                               order_types=frozenset({"limit", "market"})))
BOOKS = Market([book("A", bids=[("9.99", 500)], asks=[("10.00", 300), ("10.10", 900)]),
                book("B", bids=[("9.98", 500)], asks=[("10.01", 200)])])


# ------------------------------------------------------------------------------------ what one sweep sends


def test_an_aggressive_sweep_takes_the_lit_depth_within_the_limit_and_sends_the_rest_to_the_dark_pools() -> None:
    p = start(intent(3000), BOOKS, LIT_AND_DARK)
    orders = p.orders()
    # 10.10 is beyond the 10.05 limit: only 500 shown within it; the 2500 left split over both pools.
    assert shape(orders) == [("A", 300, D("10.00"), True, False), ("B", 200, D("10.01"), True, False),
                             ("NOCT", 1250, D("10.05"), True, False),  # no pegs there: a limit at the limit
                             ("UMBRA", 1250, D("10.05"), True, True)]  # a midpoint peg capped at the limit
    assert all(o.reason.startswith("parallel sweep: ") for o in orders)
    dark_cost = {o.venue: o.expected_cost for o in orders if o.venue in ("UMBRA", "NOCT")}
    assert dark_cost == {"UMBRA": D("9.995") + D("0.001"), "NOCT": D("9.995") + D("0.001")}  # mid + fee
    assert sum(o.qty for o in orders) == 3000 and p.room == 0


class Asked:
    """The configuration's estimates, recording which (venue, kind) every question was about."""

    def __init__(self, vs: dict[str, VenueInfo]) -> None:
        self.prior = PriorEstimates(vs)
        self.asked: set[tuple[str, OrderKind]] = set()

    def fill_probability(self, venue: str, symbol: str, kind: OrderKind) -> float:
        self.asked.add((venue, kind))
        return self.prior.fill_probability(venue, symbol, kind)

    def expected_fill(self, venue: str, symbol: str, kind: OrderKind, qty: int) -> float:
        self.asked.add((venue, kind))
        return self.prior.expected_fill(venue, symbol, kind, qty)

    def cost_per_share(self, venue: str, symbol: str, kind: OrderKind) -> Decimal:
        self.asked.add((venue, kind))
        return self.prior.cost_per_share(venue, symbol, kind)

    def latency_ms(self, venue: str) -> float:
        return 0.0

    def reject_rate(self, venue: str) -> float:
        return 0.0


def test_every_venue_is_asked_about_the_kind_of_order_it_would_get_an_ioc_peg_as_one() -> None:
    # An IOC peg meets only what rests in the pool, a resting one what arrives too: their fill
    # estimates differ by an order of magnitude, so the sweep must weigh each by its own.
    vs = venues(lit("A"), lit("B"), dark("UMBRA"))
    est = Asked(vs)
    ParallelPlacement(intent(3000), BOOKS, vs, 1, NOW, estimates=est, settings=SETTINGS).orders()
    assert est.asked == {("A", OrderKind.IOC), ("B", OrderKind.IOC), ("UMBRA", OrderKind.MIDPOINT_IOC)}
    est = Asked(vs)
    ParallelPlacement(intent(1000, Style.PASSIVE), BOOKS, vs, 1, NOW, estimates=est, settings=SETTINGS).orders()
    assert est.asked == {("A", OrderKind.PASSIVE), ("B", OrderKind.PASSIVE), ("UMBRA", OrderKind.MIDPOINT)}


def test_a_dark_pool_whose_share_is_below_its_minimum_size_is_left_out_and_the_others_take_it() -> None:
    p = start(intent(2000), BOOKS, LIT_AND_DARK)
    assert shape(p.orders())[-2:] == [("B", 200, D("10.01"), True, False), ("UMBRA", 1500, D("10.05"), True, True)]


def test_a_passive_sweep_rests_at_the_near_touch_on_the_lit_venues_and_at_the_midpoint_in_the_pools() -> None:
    vs = venues(lit("A"), lit("B"), dark("UMBRA"))
    p = start(intent(1000, Style.PASSIVE), BOOKS, vs, lot=100)
    orders = p.orders()
    # Weights: expected fill 0.5, 0.5 (passive) and 0.3 (midpoint) of 1000, in whole lots of 100.
    assert shape(orders) == [("A", 500, D("9.99"), False, False), ("B", 300, D("9.99"), False, False),
                             ("UMBRA", 200, D("10.05"), False, True)]
    assert p.wake_at is None  # nothing placed yet
    Venues(p).place(orders)
    assert p.wake_at == NOW + SETTINGS.rest_timeout_s


def test_the_odd_remainder_rides_only_on_a_venue_that_takes_odd_lots() -> None:
    vs = venues(lit("A", odd_lots=False), lit("B"), dark("UMBRA"))
    orders = start(intent(1050, Style.PASSIVE), BOOKS, vs, lot=100).orders()
    odd = [o for o in orders if o.qty % 100]
    assert [(o.venue, o.qty % 100) for o in odd] == [("B", 50)]
    assert sum(o.qty for o in orders) == 1050


def test_venue_rules_are_respected_up_front_cap_minimum_time_in_force_and_status() -> None:
    vs = venues(lit("A", max_order_qty=50), lit("B", time_in_force=frozenset({"day"})), dark("UMBRA"),
                dark("NOCT", min_order_qty=1000))
    market = dataclasses.replace(BOOKS, statuses={"UMBRA": VenueStatus.HALTED})
    orders = start(intent(800), market, vs).orders()
    # A capped at its 50; B takes no IOC; UMBRA halted; NOCT's 1,000 minimum is more than the 750 left.
    assert shape(orders) == [("A", 50, D("10.00"), True, False)]
    for o in orders:
        assert vs[o.venue].refuses(o.qty, o.price, 1, ioc=o.ioc, peg=o.peg) is None


def test_excluded_venues_get_nothing_and_a_limit_below_the_touch_leaves_only_the_dark_pools() -> None:
    orders = start(intent(600, limit="10.00"), BOOKS, LIT_AND_DARK, exclude=frozenset({"A"})).orders()
    assert shape(orders) == [("UMBRA", 600, D("10.00"), True, True)]  # mid 9.995 within 10.00


def test_without_a_midpoint_no_dark_order_is_sent() -> None:
    one_sided = Market([book("A", asks=[("10.00", 100)])])
    assert shape(start(intent(600), one_sided, LIT_AND_DARK).orders()) == [("A", 100, D("10.00"), True, False)]


def test_split_drops_the_lightest_piece_below_the_minimum_and_respects_caps() -> None:
    a, b, c = lit("A"), lit("B"), lit("C")
    cands = [_Candidate(a, 5.0, 1, 10_000), _Candidate(b, 4.0, 1, 300), _Candidate(c, 0.5, 1, 10_000)]
    assert split(1000, 100, cands, 150) == {"A": 700, "B": 300}  # C's 50 too small: dropped, B capped
    assert split(1000, 100, [_Candidate(c, 1.0, 2000, 10_000)], 150) == {}  # below its own minimum
    assert split(99, 100, cands, 1) == {}


# ---------------------------------------------------------------------------------- remainders and timeouts


def test_an_ioc_remainder_is_re_swept_at_once_to_the_other_venues_never_back_to_the_same() -> None:
    market = Market([book("A", bids=[("9.99", 500)], asks=[("10.00", 300)]),
                     book("B", bids=[("9.98", 500)], asks=[("10.01", 200)])])
    vs = venues(lit("A"), lit("B"), dark("UMBRA"))
    p = start(intent(500), market, vs)
    play = Venues(p)
    a, b = play.place(p.orders())
    # A's IOC got 100 of 300: A is tried, B still busy with its IOC; UMBRA is free: the 200 go there.
    [u] = play.tell(a, 100, ChildOutcome.CANCELED)
    o = play.sent[u]
    assert (o.venue, o.qty, o.ioc, o.peg) == ("UMBRA", 200, True, True)
    assert o.reason == "parallel re-sweep after A left 200: UMBRA IOC midpoint peg, 1 of 1 venues"
    # B's IOC got nothing: A tried, UMBRA busy: nothing free to take it, it is the strategy's again.
    assert play.tell(b, 0, ChildOutcome.CANCELED) == []
    assert play.tell(u, 0, ChildOutcome.CANCELED) == []  # UMBRA found nobody: every venue now tried
    assert p.done and p.unplaced == 400 and play.out() == 100


def test_a_remainder_no_free_venue_could_take_is_the_strategys_and_never_re_sent_by_the_placement() -> None:
    market = Market([book("A", bids=[("9.99", 500)], asks=[("10.00", 300)])])
    vs = venues(lit("A"), dark("UMBRA"), dark("NOCT"))
    p = start(intent(1300), market, vs)
    play = Venues(p)
    a, n, u = play.place(p.orders())
    assert [(play.sent[c].venue, play.sent[c].qty) for c in (a, n, u)] == [("A", 300), ("NOCT", 500), ("UMBRA", 500)]
    assert play.tell(u, 0, ChildOutcome.CANCELED) == []  # A and NOCT busy, UMBRA tried: nowhere now
    assert p.unplaced == 500 and p.held == 0  # the strategy's: the engine counts it as unworked
    # A frees up, NOCT ends: the 500 are never swept by this placement again (the strategy may have
    # sent them in another intent already); NOCT's own remainder is, to A.
    assert play.tell(a, 300, ChildOutcome.FILLED) == []
    [again] = play.tell(n, 100, ChildOutcome.CANCELED)
    assert (play.sent[again].venue, play.sent[again].qty) == ("A", 300)  # shown at A: 300 of the 400
    assert p.unplaced == 500 + 100


def test_a_resting_child_past_its_timeout_is_cancelled_and_its_remainder_re_swept_aggressively() -> None:
    vs = venues(lit("A"), lit("B"), dark("UMBRA"))
    p = start(intent(1000, Style.PASSIVE), BOOKS, vs, lot=100)
    play = Venues(p)
    a, b, u = play.place(p.orders())
    play.tell(a, 100, ChildOutcome.WORKING, NOW + 1)
    assert play.wake(NOW + 2.9) == [] and play.canceling == set()  # not yet
    assert play.wake(NOW + 3.0) == [] and play.canceling == {a, b, u}  # all three timed out together
    assert p.wake_at is None  # nothing left to time out: each is being cancelled
    # B's cancel loses the race: it filled first (the engine then tells a FILLED close).
    assert play.tell(b, 300, ChildOutcome.FILLED, NOW + 3.1) == []
    # A's cancel is confirmed with 400 of 500 unfilled: re-swept as IOCs elsewhere (B is free again).
    again = [play.sent[c] for c in play.tell(a, 100, ChildOutcome.CANCELED, NOW + 3.2)]
    # A is tried, UMBRA still open (its cancel unconfirmed): B, free again, takes its 200 shown at 10.01.
    assert [(o.venue, o.qty, o.price, o.ioc) for o in again] == [("B", 200, D("10.01"), True)]
    assert play.out() <= 1000


def test_when_an_over_filling_venue_reaches_the_intent_the_rest_is_cancelled_and_nothing_more_is_sent() -> None:
    vs = venues(lit("A"), lit("B"), dark("UMBRA"))
    p = start(intent(1000, Style.PASSIVE), BOOKS, vs, lot=100)
    play = Venues(p)
    a, b, u = play.place(p.orders())
    assert play.tell(a, 1000, ChildOutcome.FILLED, NOW + 1) == []  # 1000 on a child of 500
    assert play.canceling == {b, u} and p.room == 0
    assert play.tell(b, 0, ChildOutcome.CANCELED, NOW + 2) == []
    assert play.tell(u, 0, ChildOutcome.CANCELED, NOW + 2) == []
    assert p.done and p.unplaced == 0


def test_the_engines_own_cancel_leaves_the_remainder_to_the_strategy() -> None:
    p = start(intent(1000, Style.PASSIVE), BOOKS, venues(lit("A"), lit("B")), lot=100)
    play = Venues(p)
    a, b = play.place(p.orders())
    p.supersede()
    play.canceling = {a, b}
    assert play.tell(a, 0, ChildOutcome.CANCELED) == [] and play.tell(b, 0, ChildOutcome.CANCELED) == []
    assert p.done and p.unplaced == 1000 and p.wake_at is None


# ------------------------------------------------------------------------- hypothesis: any interleaving


EVENTS = st.sampled_from(["fill", "fill", "fill", "end", "confirm", "too_late", "venue_cancel", "reject",
                          "overfill", "wake", "wake"])


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 5000), st.sampled_from([Style.AGGRESSIVE, Style.PASSIVE]), st.sampled_from([1, 10, 100]),
       st.data())
def test_whatever_the_venues_do_in_whatever_order_filled_plus_working_never_exceeds_the_intent(
    qty: int, style: Style, lot: int, data: st.DataObject
) -> None:
    vs = venues(lit("A", max_order_qty=2000), lit("B", odd_lots=False), dark("UMBRA"),
                dark("NOCT", min_order_qty=1000))
    market = Market([book("A", bids=[("9.99", 700)], asks=[("10.00", 400), ("10.02", 900)]),
                     book("B", bids=[("9.99", 300)], asks=[("10.01", 600)])])
    it = intent(qty, style)
    p = start(it, market, vs, lot)
    play = Venues(p)
    now = NOW
    overfilled = False

    def check(ids: list[str]) -> None:
        odd_open = [c for c in play.open if play.sent[c].qty % lot]
        assert len(odd_open) <= 1
        for cid in ids:
            o = play.sent[cid]
            info = vs[o.venue]
            assert info.refuses(o.qty, o.price, lot, ioc=o.ioc, peg=o.peg) is None
            assert o.price is None or o.price <= it.limit  # type: ignore[operator]
            assert o.peg <= info.midpoint
        if not overfilled:
            assert play.out() <= qty  # never more out than the intent, at any step
        assert p.filled == sum(play.filled.values())

    check(play.place(p.orders()))
    for _ in range(data.draw(st.integers(0, 60), label="steps")):
        event = data.draw(EVENTS, label="event")
        now += data.draw(st.floats(0, 2), label="dt")
        if event == "wake":
            if p.wake_at is not None:
                now = max(now, p.wake_at)
                check(play.wake(now))
            continue
        pool = sorted(play.canceling if event in ("confirm", "too_late") else play.open)
        if not pool:
            continue
        cid = data.draw(st.sampled_from(pool), label="child")
        o, done = play.sent[cid], play.filled[cid]
        if event == "fill":
            f = done + data.draw(st.integers(1, o.qty - done), label="fill") if o.qty > done else done
            ids = play.tell(cid, f, ChildOutcome.FILLED if f >= o.qty else ChildOutcome.WORKING, now)
        elif event == "overfill":
            overfilled = True
            ids = play.tell(cid, o.qty + data.draw(st.integers(1, 500), label="excess"), ChildOutcome.FILLED, now)
        elif event == "too_late":  # the cancel was rejected: it had filled
            ids = play.tell(cid, o.qty, ChildOutcome.FILLED, now)
        elif event == "reject":
            ids = play.tell(cid, done, ChildOutcome.REJECTED, now)
        else:  # an IOC's end, a confirmed cancel, the venue's own cancel
            ids = play.tell(cid, done, ChildOutcome.CANCELED, now)
        check(ids)
    for _ in range(50):  # the venues end whatever is left; each end may re-sweep once per venue
        if not play.open:
            break
        for cid in sorted(play.open):
            if cid in play.open:
                check(play.tell(cid, play.filled[cid], ChildOutcome.CANCELED, now))
    assert not play.open and p.done
    filled = sum(play.filled.values())
    assert p.filled == filled
    assert p.unplaced == max(qty - filled, 0)
    assert p.take_cancels() == [] or overfilled


# ---------------------------------------------------------------------------------- in the engine


def test_on_the_simulated_venues_a_sweep_uses_the_dark_pools_respects_the_rules_and_fills_exactly() -> None:
    sim = simulation()
    vs = sim.engine.venues
    sim.engine.router = ParallelRouter(PriorEstimates(vs, FillPriors()), ParallelSettings(rest_timeout_s=2.0))
    now = sim.clock.now()
    sim.submit("OMS1", "D", order("A", "ACME", "1", 30000, 300, now, limit="143.50"))
    sim.run_until(now + 400)
    children = list({id(c): c for c in sim.engine._children.values()}.values())
    by_venue = {v: sum(c.cum_qty for c in children if c.venue == v) for v in vs}
    assert by_venue["UMBRA"] + by_venue["NOCT"] > 0  # the dark pools were used
    assert all(c.state.name != "REJECTED" for c in children)  # every venue's rules respected up front
    assert all(c.qty <= 50000 for c in children if c.venue == "BORX")
    assert all(c.qty >= 1000 for c in children if c.venue == "NOCT")
    assert any("re-sweep" in c.reason for c in children)  # remainders went elsewhere
    assert any(c.ioc for c in children if c.venue in ("UMBRA", "NOCT"))
    last = reports_by_order(sim)["O1"][-1]
    assert last[39] == "2" and last[14] == "30000"  # filled, exactly
    assert sum(c.cum_qty for c in children) == 30000
    assert not sim.alerts


def test_settings_from_mapping_refuses_unknown_names_and_bad_values_naming_them() -> None:
    assert ParallelSettings.from_mapping({"rest_timeout_s": 1.5, "min_child_qty": 200}) == ParallelSettings(1.5, 200)
    with pytest.raises(ValueError, match=r"routing\.parallel.*rest_timeouts"):
        ParallelSettings.from_mapping({"rest_timeouts": 1})
    with pytest.raises(ValueError, match="rest_timeout_s"):
        ParallelSettings.from_mapping({"rest_timeout_s": 0})
    with pytest.raises(ValueError, match="min_child_qty"):
        ParallelSettings.from_mapping({"min_child_qty": 1.5})
    with pytest.raises(ValueError, match="rest_timeout_s"):
        ParallelSettings.from_mapping({"rest_timeout_s": True})
