"""The accepted order's journal payload, written out directly, is exactly what the encoder writes."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.orders.intake import order_from_record, order_record, order_record_json
from metaorder.orders.journal import EncodedData, MemoryJournal, decode_data, encode_data
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

texts = st.text(min_size=1, max_size=12)  # quotes, backslashes, control characters, any unicode
times = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999"), places=4)


@st.composite
def orders(draw: st.DrawFn) -> ClientOrder:
    limit = draw(st.none() | prices)
    mandate = Mandate(draw(st.sampled_from(Strategy)), draw(st.sampled_from(Urgency)),
                      draw(st.sampled_from(Aggressiveness)), draw(st.none() | times), draw(st.none() | times),
                      draw(st.none() | st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1"), places=3)))
    return ClientOrder(
        order_id=draw(texts), session=draw(texts), cl_ord_id=draw(texts), symbol=draw(texts),
        side=draw(st.sampled_from(Side)), qty=draw(st.integers(1, 10**9)),
        ord_type=OrderType.MARKET if limit is None else OrderType.LIMIT, limit=limit,
        tif=draw(st.sampled_from(TimeInForce)), mandate=mandate, arrival=draw(times),
        arrival_seq=draw(st.integers(1, 10**9)), account=draw(st.none() | texts),
    )


@settings(max_examples=400, deadline=None)
@given(orders(), st.none() | texts)
def test_the_direct_text_is_the_encoders_text_of_the_same_record(order: ClientOrder, parent_id: str | None) -> None:
    text = order_record_json(order, parent_id)
    assert type(text) is EncodedData
    assert text == encode_data(order_record(order, parent_id))


@settings(max_examples=100, deadline=None)
@given(orders(), st.none() | texts)
def test_a_journaled_direct_text_replays_into_the_same_order(order: ClientOrder, parent_id: str | None) -> None:
    journal = MemoryJournal()
    journal.append(1.0, "order.accepted", ["O1"], order_record_json(order, parent_id))
    [entry] = journal.replay()
    assert entry.data == decode_data(encode_data(order_record(order, parent_id)))
    again = order_from_record(entry.data)
    assert order_record(again, parent_id) == order_record(order, parent_id)
