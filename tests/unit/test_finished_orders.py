"""Today's finished orders, packed for recovery snapshots: read back as they were, answered for as before.

A recovery snapshot carries the day's finished orders packed (orders/finished.py) rather than as
order objects, which made a restart after a heavy day take half a minute.  These pin that nothing
an OMS can see changes: a packed order reads back field for field, the intake answers status,
cancel and replace requests about it exactly as the intake that never packed it, and the packing
is canonical (the same orders make the same bytes, however they were merged), which the snapshot
equivalence test (test_snapshot.py) relies on.
"""

from __future__ import annotations

import itertools
import pickle
import random
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metaorder.orders.finished import FinishedOrders
from metaorder.orders.journal import MemoryJournal
from metaorder.orders.model import (
    Aggressiveness,
    ClientOrder,
    Mandate,
    OrderType,
    Side,
    Strategy,
    TimeInForce,
    Urgency,
)
from tests.unit.test_recovery_roundtrip import (
    comparable,
    fix,
    flows,
    make_intake,
    order_state,
    run_flow,
    snapshot,
)

texts = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\x01"), min_size=1, max_size=12)
decimals = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999.9999"), places=4)


@st.composite
def finished_orders(draw: st.DrawFn, n: int) -> ClientOrder:
    mandate = Mandate(draw(st.sampled_from(list(Strategy))), draw(st.sampled_from(list(Urgency))),
                      draw(st.sampled_from(list(Aggressiveness))), draw(st.none() | st.floats(0, 2e9)),
                      draw(st.none() | st.floats(0, 2e9)), draw(st.none() | decimals),
                      draw(st.sampled_from(["", "MaxPOV=0.2"])))
    qty = draw(st.integers(1, 10**9))
    canceled = draw(st.booleans())
    order = ClientOrder(f"O{n}", draw(st.sampled_from(["OMS1", "OMS2", "Ω"])), draw(texts), draw(texts),
                        draw(st.sampled_from(list(Side))), qty, draw(st.sampled_from(list(OrderType))),
                        draw(st.none() | decimals), draw(st.sampled_from(list(TimeInForce))), mandate,
                        draw(st.floats(0, 2e9)), n, draw(st.integers(0, qty)) if canceled else qty,
                        draw(decimals), canceled, draw(st.none() | texts), draw(st.none() | texts),
                        draw(st.none() | texts))
    order.expired = canceled and draw(st.booleans())
    return order


@st.composite
def keyed_orders(draw: st.DrawFn) -> list[tuple[tuple[str, str], ClientOrder]]:
    """Orders under their (session, ClOrdID), some also under an earlier ClOrdID (canceled or replaced)."""
    orders = [draw(finished_orders(n)) for n in range(draw(st.integers(0, 30)))]
    keyed: dict[tuple[str, str], ClientOrder] = {}
    for order in orders:
        keyed.setdefault((order.session, order.cl_ord_id), order)
        if order.orig_cl_ord_id is not None:
            keyed.setdefault((order.session, order.orig_cl_ord_id), order)
    return list(keyed.items())


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(keyed=keyed_orders(), cuts=st.lists(st.integers(0, 60), max_size=4))
def test_packed_orders_read_back_field_for_field_and_merging_in_parts_makes_the_same_bytes(
        keyed: list[tuple[tuple[str, str], ClientOrder]], cuts: list[int]) -> None:
    whole = FinishedOrders().merged(keyed)
    parts = FinishedOrders()
    # Cut between orders, never between an order's keys: the intake packs an order once it is
    # finished, with every ClOrdID it had, and a finished order gets no new one.
    between = [n for n in range(1, len(keyed)) if keyed[n][1] is not keyed[n - 1][1]]
    bounds = sorted({0, len(keyed), *(between[c % len(between)] for c in cuts if between)})
    for lo, hi in itertools.pairwise(bounds):
        parts = parts.merged(keyed[lo:hi])
    assert pickle.dumps(parts) == pickle.dumps(whole)  # canonical: a snapshot + tail packs as the whole day
    again = pickle.loads(pickle.dumps(whole))
    assert len(again) == len({id(o) for _, o in keyed}) and again.keys == len(keyed)
    for (session, cl_ord_id), order in keyed:
        found = again.get(session, cl_ord_id)
        assert found is not None and order_state(found) == order_state(order)
        assert (session, cl_ord_id) in again
    assert again.get("OMS1", "never sent") is None and ("OMS9", "x") not in again
    assert sorted(order_state(o) for o in again.orders()) == sorted({id(o): order_state(o) for _, o in keyed}.values())
    assert [k for k, _ in again.items()] == sorted((k for k, _ in keyed), key=lambda k: (k[0].encode(), k[1].encode()))


def test_an_empty_merge_keeps_the_archive_and_a_later_order_takes_its_key() -> None:
    keyed = FinishedOrders()
    assert keyed.merged([]) is keyed and len(keyed) == 0 and keyed.get("OMS1", "A") is None
    first = ClientOrder("O1", "OMS1", "A", "ACME", Side.BUY, 10, OrderType.MARKET, None, TimeInForce.DAY, Mandate(),
                        1.0, 1, cum_qty=10, notional=Decimal("1000.0"))
    second = ClientOrder("O2", "OMS1", "A", "ACME", Side.SELL, 5, OrderType.LIMIT, Decimal("99.5"), TimeInForce.GTC,
                         Mandate(), 2.0, 2, canceled=True)
    archive = keyed.merged([(("OMS1", "A"), first)]).merged([(("OMS1", "A"), second)])
    found = archive.get("OMS1", "A")
    assert found is not None and order_state(found) == order_state(second) and archive.keys == 1


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(flows)
def test_an_intake_with_its_finished_orders_packed_answers_every_request_as_the_one_that_kept_them(
        flow: list[tuple[Any, ...]]) -> None:
    journal = MemoryJournal()
    live = make_intake(journal)
    live.recover()
    live.start(1_700_000_000.0)
    end, used = run_flow(live, flow)
    live.on_message("OMS1", fix("H", [(11, "NONE"), (55, "ACME"), (54, "1")], end), end)
    packed = make_intake(journal)
    packed.recover()
    packed.pack_finished()
    packed.start(end)
    assert not [o for o in packed._orders.values() if not o.leaves_qty]  # finished ones are packed...
    assert snapshot(packed) == snapshot(live)  # ... and still known, field for field
    requests: list[tuple[str, str, list[tuple[int, Any]]]] = []
    for n, (session, cl) in enumerate(random.Random(len(flow)).sample(used, len(used))):
        requests.append((session, "H", [(11, cl), (55, "ACME"), (54, "1")]))
        requests.append((session, "F", [(41, cl), (11, f"PC{n}"), (60, "20231114-22:13:20")]))
        requests.append((session, "G", [(41, cl), (11, f"PR{n}"), (55, "ACME"), (54, "1"), (60, "20231114-22:13:20"),
                                        (38, 10_000), (40, "1")]))
    for session, kind, body in requests:
        assert comparable(packed.on_message(session, fix(kind, body, end), end)) == \
            comparable(live.on_message(session, fix(kind, body, end), end)), (session, kind, body)
    assert snapshot(packed) == snapshot(live)
