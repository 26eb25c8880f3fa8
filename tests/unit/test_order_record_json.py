"""The accepted order's journal payload, written out directly by the codec, is exactly what the encoder writes.

(The intake's own ``order_record*`` functions are gone: it records an ``OrderAccepted`` event, and the
codec's :func:`~metaorder.eventcodec.order_accepted_json` is the fast path.  ``orders`` is shared with
``test_events.py``.)
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder.eventcodec import append, append_order_accepted, decode_entry, encode_dict, order_accepted_json
from metaorder.events import OrderAccepted
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
    event = OrderAccepted.of(order, parent_id)
    text = order_accepted_json(event)
    assert type(text) is EncodedData
    assert text == encode_data(encode_dict(event))


@settings(max_examples=100, deadline=None)
@given(orders(), st.none() | texts)
def test_a_journaled_direct_text_replays_into_the_same_order(order: ClientOrder, parent_id: str | None) -> None:
    journal = MemoryJournal()
    event = OrderAccepted.of(order, parent_id)
    append(journal, 1.0, event)  # the fast path: the text goes in as it is
    [entry] = journal.replay()
    assert entry.kind == "order.accepted" and entry.data == decode_data(encode_data(encode_dict(event)))
    again = decode_entry(entry).event
    assert again == event
    assert isinstance(again, OrderAccepted)
    assert OrderAccepted.of(again.to_order(), parent_id) == event


@settings(max_examples=200, deadline=None)
@given(orders(), st.none() | texts)
def test_the_intakes_hot_path_appends_the_same_row_as_the_accepted_event(order: ClientOrder,
                                                                         parent_id: str | None) -> None:
    by_event, direct = MemoryJournal(), MemoryJournal()
    append(by_event, 1.0, OrderAccepted.of(order, parent_id))
    append_order_accepted(direct, 1.0, order, parent_id)  # without making the event object
    assert list(direct.replay()) == list(by_event.replay())
