"""Pre-trade risk checks: each rule at its limit and just beyond, the session overrides, the
time-window rules driven by explicit ``now`` values, the credit bookkeeping, the kill switches,
the no-trace guarantee of a refusal and the re-check of replaces."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest
from pydantic import ValidationError

from metaorder.orders.model import ClientOrder, Mandate, OrderType, Side, TimeInForce
from metaorder.orders.risk import RejectReason, RiskEngine, RiskLimits, RiskReject, merge

D = Decimal
T0 = 1_700_000_000.0

_ids = itertools.count(1)


def order(
    qty: int = 100,
    limit: str | None = "10.00",
    *,
    symbol: str = "ACME",
    side: Side = Side.BUY,
    session: str = "OMS1",
    cl: str | None = None,
    account: str | None = None,
) -> ClientOrder:
    n = next(_ids)
    return ClientOrder(
        order_id=f"O{n}",
        session=session,
        cl_ord_id=cl or f"C{n}",
        symbol=symbol,
        side=side,
        qty=qty,
        ord_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit=D(limit) if limit is not None else None,
        tif=TimeInForce.DAY,
        mandate=Mandate(),
        arrival=T0,
        arrival_seq=n,
        account=account,
    )


def same(o: ClientOrder) -> ClientOrder:
    """The same order again, as an OMS resends it (new OrderID, same ClOrdID and terms)."""
    n = next(_ids)
    return ClientOrder(
        order_id=f"O{n}",
        session=o.session,
        cl_ord_id=o.cl_ord_id,
        symbol=o.symbol,
        side=o.side,
        qty=o.qty,
        ord_type=o.ord_type,
        limit=o.limit,
        tif=o.tif,
        mandate=o.mandate,
        arrival=o.arrival,
        arrival_seq=n,
    )


def prices(**px: str) -> Callable[[str], Decimal | None]:
    table = {sym: D(p) for sym, p in px.items()}
    return table.get


def engine(
    session_limits: dict[str, RiskLimits] | None = None,
    reference: Callable[[str], Decimal | None] | None = None,
    **global_limits: object,
) -> RiskEngine:
    return RiskEngine(
        RiskLimits.model_validate(global_limits),
        session_limits or {},
        reference or prices(ACME="10.00", WIDG="50.00"),
    )


def rejected(result: RiskReject | None, reason: int) -> str:
    assert result is not None, "expected a reject"
    assert result.reason == reason, result
    return result.text


# ---------------------------------------------------------------------------------------------- limits


def test_limits_refuse_unknown_fields_and_non_positive_values_and_are_frozen() -> None:
    with pytest.raises(ValidationError):
        RiskLimits.model_validate({"max_qty": 10})
    for bad in ({"max_order_qty": 0}, {"max_order_notional": "-1"}, {"price_collar_pct": "NaN"}):
        with pytest.raises(ValidationError):
            RiskLimits.model_validate(bad)
    limits = RiskLimits(max_order_qty=10)
    with pytest.raises(ValidationError):
        limits.max_order_qty = 20  # type: ignore[misc]


def test_limits_from_toml_floats_keep_their_written_decimal_value() -> None:
    limits = RiskLimits.model_validate({"max_order_notional": 1000000.10, "restricted_symbols": ["X", "Y"]})
    assert limits.max_order_notional == D("1000000.10")
    assert limits.restricted_symbols == frozenset({"X", "Y"})


def test_merge_session_overrides_only_the_fields_it_sets() -> None:
    glob = RiskLimits(max_order_qty=1_000, max_order_notional=D(50_000), max_orders_per_second=5)
    merged = merge(glob, RiskLimits(max_order_qty=5_000))
    assert merged.max_order_qty == 5_000
    assert merged.max_order_notional == D(50_000)
    assert merged.max_orders_per_second == 5


def test_merge_session_may_tighten_below_the_global_limit() -> None:
    merged = merge(RiskLimits(max_order_qty=1_000), RiskLimits(max_order_qty=10))
    assert merged.max_order_qty == 10


def test_merge_explicit_none_lifts_a_global_limit_for_the_session() -> None:
    merged = merge(RiskLimits(max_order_qty=1_000, max_orders_per_second=5), RiskLimits(max_order_qty=None))
    assert merged.max_order_qty is None
    assert merged.max_orders_per_second == 5


def test_merge_restricted_symbols_are_the_union() -> None:
    merged = merge(RiskLimits(restricted_symbols=frozenset({"A"})), RiskLimits(restricted_symbols=frozenset({"B"})))
    assert merged.restricted_symbols == frozenset({"A", "B"})


def test_merge_without_session_limits_is_the_global_limits() -> None:
    glob = RiskLimits(max_order_qty=1_000, cancel_on_disconnect=True)
    assert merge(glob, None) == glob


def test_engine_exposes_the_merged_limits_of_each_session() -> None:
    eng = engine({"OMS2": RiskLimits(cancel_on_disconnect=True)}, max_order_qty=10)
    assert eng.limits("OMS2").cancel_on_disconnect and eng.limits("OMS2").max_order_qty == 10
    assert not eng.limits("OMS1").cancel_on_disconnect


def test_reject_reason_is_the_fix_integer() -> None:
    assert int(RejectReason.ORDER_EXCEEDS_LIMIT) == 3
    assert str(RejectReason.ORDER_EXCEEDS_LIMIT) == "3"


# ---------------------------------------------------------------------------------------------- per-order rules


def test_max_order_qty_accepts_at_the_limit_and_refuses_one_share_more() -> None:
    eng = engine(max_order_qty=10_000)
    assert eng.check(order(10_000, "1"), T0) is None
    text = rejected(eng.check(order(10_001, "1"), T0), 3)
    assert text == "order qty 10,001 exceeds max_order_qty 10,000 for OMS1"


@pytest.mark.parametrize("qty", [0, -5])
def test_non_positive_quantity_is_an_incorrect_quantity(qty: int) -> None:
    text = rejected(engine().check(order(qty), T0), 13)
    assert f"order qty {qty}" in text and "OMS1" in text


def test_limit_order_without_a_limit_price_is_an_unsupported_characteristic() -> None:
    o = order(100, "10")
    o.limit = None
    text = rejected(engine().check(o, T0), 11)
    assert "without a limit price" in text


def test_max_order_notional_accepts_at_the_limit_and_refuses_just_beyond() -> None:
    eng = engine(max_order_notional="1000000")
    assert eng.check(order(100_000, "10.00"), T0) is None
    text = rejected(eng.check(order(100_000, "10.01"), T0), 3)
    assert text == "order notional 1,001,000.00 exceeds max_order_notional 1,000,000.00 for OMS1"


def test_order_notional_text_does_not_round_the_excess_away() -> None:
    eng = engine(max_order_notional="1000")
    text = rejected(eng.check(order(1, "1000.001"), T0), 3)
    assert text == "order notional 1,000.001 exceeds max_order_notional 1,000.00 for OMS1"


def test_market_order_notional_is_valued_at_the_reference_price() -> None:
    eng = engine(max_order_notional="1000", reference=prices(ACME="10.00"))
    assert eng.check(order(100, None), T0) is None
    text = rejected(eng.check(order(101, None), T0), 3)
    assert text == "order notional 1,010.00 exceeds max_order_notional 1,000.00 for OMS1"


@pytest.mark.parametrize("limit_name", ["max_order_notional", "max_open_notional"])
def test_market_order_without_reference_price_is_refused_when_a_notional_limit_applies(limit_name: str) -> None:
    eng = RiskEngine(RiskLimits.model_validate({limit_name: "1000000"}), {}, prices())
    text = rejected(eng.check(order(1, None, symbol="NEW"), T0), 99)
    assert text.startswith("no reference price for NEW") and limit_name in text and "OMS1" in text


def test_market_order_without_reference_price_is_accepted_when_no_notional_limit_applies() -> None:
    eng = engine(reference=prices(), max_order_qty=100)
    assert eng.check(order(100, None, symbol="NEW"), T0) is None
    assert eng.open_notional("OMS1") == 0


def test_limit_order_without_reference_price_is_valued_at_its_limit_and_skips_the_collar() -> None:
    eng = engine(reference=prices(), max_order_notional="1000", price_collar_pct="5")
    assert eng.check(order(10, "100.00", symbol="NEW"), T0) is None
    text = rejected(eng.check(order(11, "100.00", symbol="NEW"), T0), 3)
    assert text == "order notional 1,100.00 exceeds max_order_notional 1,000.00 for OMS1"


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
@pytest.mark.parametrize("limit", ["9.50", "10.50"])
def test_price_collar_accepts_a_limit_exactly_at_the_band_edge(side: Side, limit: str) -> None:
    eng = engine(price_collar_pct="5", reference=prices(ACME="10.00"))
    assert eng.check(order(100, limit, side=side), T0) is None


@pytest.mark.parametrize("limit", ["9.49", "10.51"])
def test_price_collar_refuses_a_limit_just_outside_the_band(limit: str) -> None:
    eng = engine(price_collar_pct="5", reference=prices(ACME="10.00"))
    text = rejected(eng.check(order(100, limit), T0), 3)
    assert text == f"limit {limit} is outside price_collar_pct 5% of reference 10.00 (9.50 to 10.50) for OMS1"


def test_price_collar_does_not_apply_to_market_orders() -> None:
    eng = engine(price_collar_pct="1")
    assert eng.check(order(100, None), T0) is None


def test_restricted_symbol_is_refused_and_others_pass() -> None:
    eng = engine(restricted_symbols=["WIDG"])
    text = rejected(eng.check(order(symbol="WIDG"), T0), 99)
    assert text == "symbol WIDG is in restricted_symbols for OMS1"
    assert eng.check(order(symbol="ACME"), T0) is None


def test_session_restricted_symbols_add_to_the_global_ones() -> None:
    eng = engine({"OMS2": RiskLimits(restricted_symbols=frozenset({"ACME"}))}, restricted_symbols=["WIDG"])
    rejected(eng.check(order(session="OMS2", symbol="WIDG"), T0), 99)
    rejected(eng.check(order(session="OMS2", symbol="ACME"), T0), 99)
    assert eng.check(order(session="OMS1", symbol="ACME"), T0) is None


def test_session_override_replaces_the_global_limit_and_the_text_names_the_session() -> None:
    eng = engine({"OMS2": RiskLimits(max_order_qty=500)}, max_order_qty=100)
    assert eng.check(order(500, session="OMS2"), T0) is None
    assert rejected(eng.check(order(501, session="OMS2"), T0), 3) == (
        "order qty 501 exceeds max_order_qty 500 for OMS2"
    )
    assert rejected(eng.check(order(101, session="OMS1"), T0), 3) == (
        "order qty 101 exceeds max_order_qty 100 for OMS1"
    )


def test_session_without_overrides_gets_the_global_limits() -> None:
    eng = engine({"OMS2": RiskLimits(max_order_qty=500)}, max_order_qty=100)
    rejected(eng.check(order(101, session="UNCONFIGURED"), T0), 3)


# ---------------------------------------------------------------------------------------------- rate limit


def test_rate_limit_accepts_n_orders_within_a_second_and_refuses_the_next() -> None:
    eng = engine(max_orders_per_second=3)
    for dt in (0.0, 0.1, 0.2):
        assert eng.check(order(), T0 + dt) is None
    text = rejected(eng.check(order(), T0 + 0.9), 3)
    assert text == "order rate: 3 orders in the last second reaches max_orders_per_second 3 for OMS1"


def test_rate_limit_window_slides_an_order_leaves_it_exactly_one_second_later() -> None:
    eng = engine(max_orders_per_second=2)
    assert eng.check(order(), T0) is None
    assert eng.check(order(), T0 + 0.5) is None
    rejected(eng.check(order(), T0 + 0.75), 3)
    assert eng.check(order(), T0 + 1.0) is None  # T0 has left (T0, T0+1]
    rejected(eng.check(order(), T0 + 1.25), 3)  # T0+0.5 and T0+1.0 are in the window: not a fixed bucket
    assert eng.check(order(), T0 + 1.5) is None


def test_rate_limit_is_per_session() -> None:
    eng = engine(max_orders_per_second=1)
    assert eng.check(order(session="OMS1"), T0) is None
    rejected(eng.check(order(session="OMS1"), T0), 3)
    assert eng.check(order(session="OMS2"), T0) is None


def test_refused_orders_do_not_count_towards_the_rate() -> None:
    eng = engine(max_orders_per_second=2, max_order_qty=100)
    assert eng.check(order(100), T0) is None
    for _ in range(5):
        rejected(eng.check(order(101), T0 + 0.1), 3)
    assert eng.check(order(100), T0 + 0.2) is None


# ---------------------------------------------------------------------------------------------- duplicates


def test_likely_duplicate_inside_the_window_is_refused() -> None:
    eng = engine(duplicate_window_s=2.0)
    assert eng.check(order(100, "10.00"), T0) is None
    text = rejected(eng.check(order(100, "10.00"), T0 + 1.5), 6)
    assert text == (
        "likely duplicate of an order accepted 1.500 s ago (same account, symbol, side, qty and price) "
        "within duplicate_window_s 2.0 for OMS1"
    )


def test_likely_duplicate_outside_the_window_is_accepted() -> None:
    eng = engine(duplicate_window_s=2.0)
    assert eng.check(order(100, "10.00"), T0) is None
    rejected(eng.check(order(100, "10.00"), T0 + 1.5), 6)  # refused: does not restart the window
    assert eng.check(order(100, "10.00"), T0 + 2.0) is None
    rejected(eng.check(order(100, "10.00"), T0 + 3.0), 6)  # the window now runs from the last acceptance


def test_likely_duplicate_compares_prices_by_value() -> None:
    eng = engine(duplicate_window_s=2.0)
    assert eng.check(order(100, "10.0"), T0) is None
    rejected(eng.check(order(100, "10.00"), T0 + 1), 6)


@pytest.mark.parametrize(
    "other",
    [
        {"qty": 101},
        {"limit": "10.01"},
        {"limit": None},
        {"side": Side.SELL},
        {"symbol": "WIDG"},
        {"session": "OMS2"},
        {"account": "ACC-2"},
    ],
)
def test_orders_differing_in_one_term_are_not_likely_duplicates(other: dict[str, object]) -> None:
    eng = engine(duplicate_window_s=2.0)
    assert eng.check(order(100, "10.00"), T0) is None
    terms: dict[str, object] = {"qty": 100, "limit": "10.00"} | other
    assert eng.check(order(**terms), T0 + 1) is None  # type: ignore[arg-type]


def test_many_accounts_buying_the_same_quantity_at_once_are_not_likely_duplicates() -> None:
    eng = engine(duplicate_window_s=2.0)
    for n in range(50):
        assert eng.check(order(100, "10.00", account=f"ACC-{n}"), T0) is None
    text = rejected(eng.check(order(100, "10.00", account="ACC-7"), T0 + 1), 6)  # the same account again
    assert "likely duplicate" in text


def test_reused_clordid_is_refused_for_the_rest_of_the_day_even_after_the_order_is_done() -> None:
    eng = engine()
    first = order(cl="A1")
    assert eng.check(first, T0) is None
    eng.on_order_done(first)
    text = rejected(eng.check(order(cl="A1"), T0 + 3600), 6)
    assert text == "duplicate ClOrdID A1 for OMS1: already used today"


def test_clordids_are_per_session_and_forgotten_on_a_new_day() -> None:
    eng = engine()
    assert eng.check(order(cl="A1", session="OMS1"), T0) is None
    assert eng.check(order(cl="A1", session="OMS2"), T0) is None
    eng.new_day("OMS2")
    rejected(eng.check(order(cl="A1", session="OMS1"), T0), 6)
    assert eng.check(order(cl="A1", session="OMS2"), T0) is None
    eng.new_day()
    assert eng.check(order(cl="A1", session="OMS1"), T0) is None


# ---------------------------------------------------------------------------------------------- credit


def test_credit_limit_accumulates_over_open_orders_and_accepts_up_to_the_limit() -> None:
    eng = engine(max_open_notional="10000")
    assert eng.check(order(500, "10.00"), T0) is None
    assert eng.check(order(100, "50.00", symbol="WIDG"), T0) is None
    assert eng.open_notional("OMS1") == D("10000.00")
    text = rejected(eng.check(order(1, "0.01"), T0), 3)
    assert text == "open notional 10,000.00 + order 0.01 = 10,000.01 exceeds max_open_notional 10,000.00 for OMS1"
    assert eng.open_notional("OMS1") == D(10000)


def test_credit_is_per_session() -> None:
    eng = engine(max_open_notional="1000")
    assert eng.check(order(100, "10.00", session="OMS1"), T0) is None
    assert eng.check(order(100, "10.00", session="OMS2"), T0) is None
    assert eng.open_notional("OMS2") == D(1000)
    assert eng.open_notional("NOBODY") == 0


def test_fills_release_credit_by_the_filled_part_at_the_limit_price() -> None:
    eng = engine(max_open_notional="1000")
    o = order(100, "10.00")
    assert eng.check(o, T0) is None
    rejected(eng.check(order(30, "10.00"), T0), 3)
    eng.on_fill(o, 30)
    assert eng.open_notional("OMS1") == D("700.00")
    assert eng.check(order(30, "10.00"), T0) is None


def test_done_releases_the_rest_and_an_idle_session_returns_to_exactly_zero() -> None:
    eng = engine(max_open_notional="100000")
    a, b = order(333, "10.01"), order(77, "3.333", side=Side.SELL)
    assert eng.check(a, T0) is None
    assert eng.check(b, T0) is None
    eng.on_fill(a, 100)
    eng.on_fill(a, 33)
    eng.on_order_done(a)  # canceled with 200 open
    eng.on_fill(b, 77)
    eng.on_order_done(b)  # filled
    assert eng.open_notional("OMS1") == 0
    eng.on_order_done(b)  # a second done is harmless
    assert eng.open_notional("OMS1") == 0


def test_overfill_releases_no_more_than_the_order_added() -> None:
    eng = engine(max_open_notional="100000")
    a, b = order(100, "10.00"), order(100, "10.00")
    assert eng.check(a, T0) is None
    assert eng.check(b, T0) is None
    eng.on_fill(a, 150)
    assert eng.open_notional("OMS1") == D("1000.00")


def test_fully_filled_order_is_forgotten_and_can_no_longer_be_replaced() -> None:
    eng = engine()
    o = order(100, "10.00", cl="A1")
    assert eng.check(o, T0) is None
    eng.on_fill(o, 100)
    eng.on_order_done(o)  # harmless after the last fill
    assert eng.open_notional("OMS1") == 0
    rejected(eng.check_replace(o, 200, D("10.00"), T0 + 1), 99)


def test_market_order_credit_is_frozen_at_the_reference_price_of_acceptance() -> None:
    ref = {"ACME": D("10.00")}
    eng = engine(reference=ref.get, max_open_notional="5000")
    o = order(100, None)
    assert eng.check(o, T0) is None
    assert eng.open_notional("OMS1") == D("1000.00")
    ref["ACME"] = D("12.00")
    eng.on_fill(o, 40)
    assert eng.open_notional("OMS1") == D("600.00")
    eng.on_order_done(o)
    assert eng.open_notional("OMS1") == 0


def test_restored_orders_count_against_credit_and_hold_their_clordid() -> None:
    eng = engine(max_open_notional="1000")
    old = order(100, "10.00", cl="A1")
    old.cum_qty = 40
    eng.restore(old)
    assert eng.open_notional("OMS1") == D("600.00")
    rejected(eng.check(order(41, "10.00"), T0), 3)
    rejected(eng.check(order(1, "1.00", cl="A1"), T0), 6)
    eng.on_order_done(old)
    assert eng.open_notional("OMS1") == 0


# ---------------------------------------------------------------------------------------------- kill switches


def test_session_kill_switch_refuses_that_session_only_until_revived() -> None:
    eng = engine()
    eng.kill("OMS1", T0)
    assert eng.killed("OMS1") and not eng.killed("OMS2")
    text = rejected(eng.check(order(session="OMS1"), T0 + 1), 2)
    assert text == f"kill switch for OMS1 engaged at {T0}"
    assert eng.check(order(session="OMS2"), T0 + 1) is None
    eng.revive("OMS1")
    assert not eng.killed("OMS1")
    assert eng.check(order(session="OMS1"), T0 + 2) is None


def test_global_kill_switch_refuses_every_session_and_says_it_is_global() -> None:
    eng = engine()
    eng.kill(None, T0)
    assert eng.killed("OMS1") and eng.killed("ANY")
    for session in ("OMS1", "OMS2"):
        text = rejected(eng.check(order(session=session), T0 + 1), 2)
        assert text == f"global kill switch engaged at {T0}"
    eng.revive(None)
    assert eng.check(order(session="OMS2"), T0 + 2) is None


def test_reviving_the_global_switch_leaves_a_session_switch_engaged() -> None:
    eng = engine()
    eng.kill("OMS1", T0)
    eng.kill(None, T0 + 1)
    eng.revive(None)
    assert eng.killed("OMS1")
    rejected(eng.check(order(session="OMS1"), T0 + 2), 2)
    eng.revive("OMS1")
    assert eng.check(order(session="OMS1"), T0 + 3) is None


def test_kill_switch_keeps_the_time_it_was_first_engaged() -> None:
    eng = engine()
    eng.kill(None, T0)
    eng.kill(None, T0 + 5)
    assert rejected(eng.check(order(), T0 + 6), 2) == f"global kill switch engaged at {T0}"


# ---------------------------------------------------------------------------------------------- no trace


@pytest.mark.parametrize("cause", ["session kill", "global kill", "credit"])
def test_refused_order_leaves_no_trace_so_the_identical_order_is_accepted_next(cause: str) -> None:
    eng = engine(max_open_notional="1000", duplicate_window_s=60.0, max_orders_per_second=2)
    o = order(20, "10.00", cl="A1")
    blocker = order(90, "10.00", cl="BLOCK")
    if cause == "session kill":
        eng.kill("OMS1", T0)
    elif cause == "global kill":
        eng.kill(None, T0)
    else:
        assert eng.check(blocker, T0 - 10) is None
    before = eng.open_notional("OMS1")

    rejected(eng.check(o, T0), 2 if "kill" in cause else 3)
    assert eng.open_notional("OMS1") == before

    if cause == "session kill":
        eng.revive("OMS1")
    elif cause == "global kill":
        eng.revive(None)
    else:
        eng.on_order_done(blocker)
    # Same ClOrdID, same terms, same instant: no duplicate ClOrdID, no likely duplicate, rate unaffected.
    assert eng.check(same(o), T0) is None
    assert eng.check(order(1, "1.00"), T0) is None
    assert "max_orders_per_second 2" in rejected(eng.check(order(2, "1.00"), T0), 3)  # only now is the rate reached


# ---------------------------------------------------------------------------------------------- replace


def test_replace_rechecks_the_order_qty_limit() -> None:
    eng = engine(max_order_qty=1_000)
    o = order(500, "10.00")
    assert eng.check(o, T0) is None
    assert eng.check_replace(o, 1_000, D("10.00"), T0 + 1) is None
    text = rejected(eng.check_replace(o, 1_001, D("10.00"), T0 + 2), 3)
    assert text == "order qty 1,001 exceeds max_order_qty 1,000 for OMS1"


def test_replace_rechecks_the_order_notional_with_the_new_price() -> None:
    eng = engine(max_order_notional="1000")
    o = order(100, "10.00")
    assert eng.check(o, T0) is None
    text = rejected(eng.check_replace(o, 100, D("10.01"), T0 + 1), 3)
    assert text == "order notional 1,001.00 exceeds max_order_notional 1,000.00 for OMS1"


def test_replace_applies_the_collar_to_a_new_limit_price() -> None:
    ref = {"ACME": D("10.00")}
    eng = engine(reference=ref.get, price_collar_pct="5")
    o = order(100, "10.00")
    assert eng.check(o, T0) is None
    assert eng.check_replace(o, 100, D("10.50"), T0 + 1) is None
    rejected(eng.check_replace(o, 100, D("10.51"), T0 + 1), 3)


def test_qty_only_replace_is_not_refused_by_the_collar_after_the_market_moved() -> None:
    ref = {"ACME": D("10.00")}
    eng = engine(reference=ref.get, price_collar_pct="5")
    o = order(100, "10.00")
    assert eng.check(o, T0) is None
    ref["ACME"] = D("20.00")
    assert eng.check_replace(o, 50, D("10.00"), T0 + 1) is None


def test_accepted_replace_revalues_the_open_notional_net_of_fills() -> None:
    eng = engine(max_open_notional="10000")
    o = order(100, "10.00")
    assert eng.check(o, T0) is None
    eng.on_fill(o, 40)
    assert eng.check_replace(o, 200, D("11.00"), T0 + 1) is None
    assert eng.open_notional("OMS1") == D("1760.00")  # (200 - 40) × 11
    eng.on_order_done(o)
    assert eng.open_notional("OMS1") == 0


def test_replace_that_grows_beyond_the_credit_limit_is_refused_and_changes_nothing() -> None:
    eng = engine(max_open_notional="1000")
    o = order(50, "10.00")
    assert eng.check(o, T0) is None
    assert eng.check_replace(o, 100, D("10.00"), T0 + 1) is None
    text = rejected(eng.check_replace(o, 101, D("10.00"), T0 + 2), 3)
    assert text == "open notional 0.00 + order 1,010.00 = 1,010.00 exceeds max_open_notional 1,000.00 for OMS1"
    assert eng.open_notional("OMS1") == D("1000.00")


def test_replace_that_reduces_exposure_is_accepted_even_over_the_credit_limit() -> None:
    eng = engine(max_open_notional="1000")
    o = order(150, "10.00")
    eng.restore(o)  # from before a restart, when the limit was higher: 1,500 open
    assert eng.check_replace(o, 120, D("10.00"), T0) is None
    assert eng.open_notional("OMS1") == D("1200.00")
    rejected(eng.check_replace(o, 121, D("10.00"), T0), 3)


def test_market_order_replace_is_revalued_at_the_current_reference_price() -> None:
    ref = {"ACME": D("10.00")}
    eng = engine(reference=ref.get, max_open_notional="1000")
    o = order(50, None)
    assert eng.check(o, T0) is None
    ref["ACME"] = D("20.00")
    assert eng.check_replace(o, 50, None, T0 + 1) is None
    assert eng.open_notional("OMS1") == D("1000.00")
    rejected(eng.check_replace(o, 51, None, T0 + 1), 3)


def test_replace_while_killed_is_refused() -> None:
    eng = engine()
    o = order()
    assert eng.check(o, T0) is None
    eng.kill("OMS1", T0 + 1)
    rejected(eng.check_replace(o, 50, D("10.00"), T0 + 2), 2)


def test_replace_of_an_order_that_is_not_open_is_refused() -> None:
    eng = engine()
    o = order(cl="A1")
    assert eng.check(o, T0) is None
    eng.on_order_done(o)
    assert rejected(eng.check_replace(o, 50, D("10.00"), T0 + 1), 99) == "order A1 of OMS1 is not open"


def test_replace_to_a_non_positive_qty_or_of_a_limit_order_to_no_limit_is_refused() -> None:
    eng = engine()
    o = order()
    assert eng.check(o, T0) is None
    rejected(eng.check_replace(o, 0, D("10.00"), T0 + 1), 13)
    rejected(eng.check_replace(o, 100, None, T0 + 1), 11)


def test_replaces_do_not_count_in_the_rate_or_duplicate_windows() -> None:
    eng = engine(max_orders_per_second=1, duplicate_window_s=10.0)
    o = order(100, "10.00")
    assert eng.check(o, T0) is None
    for qty in (90, 80, 70):
        assert eng.check_replace(o, qty, D("10.00"), T0 + 0.1) is None
    assert eng.check(order(100, "10.00", symbol="WIDG"), T0 + 1.0) is None


def test_replace_clordid_is_held_to_the_once_a_day_rule() -> None:
    eng = engine()
    o = order(cl="A1")
    assert eng.check(o, T0) is None
    assert eng.check(order(cl="B1"), T0) is None
    text = rejected(eng.check_replace(o, 50, D("10.00"), T0 + 1, new_cl_ord_id="B1"), 6)
    assert text == "duplicate ClOrdID B1 for OMS1: already used today"
    assert eng.check_replace(o, 50, D("10.00"), T0 + 1, new_cl_ord_id="A2") is None
    rejected(eng.check(order(cl="A2"), T0 + 2), 6)


def test_restoring_an_amended_order_replaces_its_record() -> None:
    eng = engine()
    o = order(100, "10.00", cl="A1")
    eng.restore(o)
    o.cum_qty = 30
    eng.on_fill(o, 30)
    o.qty, o.limit, o.cl_ord_id = 200, D("11.00"), "A2"  # a journaled replace, replayed
    eng.restore(o)
    assert eng.open_notional("OMS1") == D("1870.00")  # (200 - 30) × 11
    rejected(eng.check(order(cl="A2"), T0), 6)
