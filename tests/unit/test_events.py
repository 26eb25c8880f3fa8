"""Typed events and their one journal codec: every event round-trips, and journals already written read as they are.

``TODAY`` holds journal rows exactly as the intake and the engine wrote them before the codec existed
(captured once by running that code, pasted here as literals): the codec must decode each one and encode
the event back to the same bytes, so a later change of any writer cannot change the format silently.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import functools
import inspect
import sys
import types
import typing
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaorder import eventcodec, events
from metaorder.eventcodec import (
    KINDS,
    VERSION,
    EventDecodeError,
    MalformedEvent,
    UnknownEventKind,
    append,
    decode,
    decode_entry,
    encode,
    encode_dict,
    order_accepted_json,
)
from metaorder.events import (
    EVENT_TYPES,
    ChildRejected,
    Event,
    MarketSample,
    OrderAccepted,
    OrderCanceled,
    VenueExecution,
)
from metaorder.native import source_path
from metaorder.orders.journal import EncodedData, JournalError, MemoryJournal, decode_data, encode_data
from metaorder.orders.model import ClientOrder, Mandate, Side
from tests.unit.test_order_record_json import orders

#: (kind, order_ids, payload text) as written by metaorder before the codec (event format version 1).
TODAY: list[tuple[str, tuple[str, ...], str]] = [
    ('child.acked', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","venue_order_id":"ATLX-1"}'),
    ('child.cancel_requested', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","reason":"parent halted by the parent/child contr'
     'ol"}'),
    ('child.canceled', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","reason":"","text":"","leaves_qty":5000}'),
    ('child.canceled', ('P1', 'C1.8'),
     '{"parent_id":"P1","child_id":"C1.8","venue":"CYGX","reason":"unfilled remainder cancelled","text":"u'
     'nfilled remainder cancelled","leaves_qty":67}'),
    ('child.placed', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","symbol":"ACME","side":"1","qty":5000,"price":"14'
     '2.51","ioc":false,"reason":"TWAP slice 1/4: target 5000, done 0 (filled 0)","expected_cost":"142.508'
     '3000"}'),
    ('child.placed', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","symbol":"ACME","side":"2","qty":171,"price":"142'
     '.52","ioc":false,"reason":"TWAP slice 1/4: target 750, done 0 (filled 0); held back by participation'
     ' cap (room 171): falling behind is intended","expected_cost":"142.5217353"}'),
    ('child.rejected', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","reason":"Unknown order","text":"Unknown order","'
     'leaves_qty":5000}'),
    ('cross', ('O2', 'O1'),
     '{"incoming":"O2","resting":"O1","qty":200,"price":"100.00","market":"INTERNAL"}'),
    ('engine.started', (),
     '{"orders":0}'),
    ('fill', ('P1', 'O1'),
     '{"parent_id":"P1","qty":171,"price":"142.52","market":"ATLX","allocations":[["O1",171]]}'),
    ('fill', ('P1', 'O1', 'O2'),
     '{"parent_id":"P1","qty":300,"price":"100.25","market":"ATLX","allocations":[["O1",214],["O2",86]]}'),
    ('order.accepted', ('O1', 'P1'),
     '{"order_id":"O1","session":"OMS1","cl_ord_id":"A","symbol":"ACME","side":"1","qty":100,"ord_type":"2'
     '","limit":"99.00","tif":"0","arrival":1700000000.0,"arrival_seq":1,"account":null,"strategy":"1000",'
     '"urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":null,"participation_rate"'
     ':null,"parent_id":"P1"}'),
    ('order.accepted', ('O1', 'P1'),
     '{"order_id":"O1","session":"OMS1","cl_ord_id":"A","symbol":"ACME","side":"1","qty":20000,"ord_type":'
     '"1","limit":null,"tif":"0","arrival":1767258005.0,"arrival_seq":1,"account":null,"strategy":"1000","'
     'urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":1767258125.0,"participatio'
     'n_rate":null,"parent_id":"P1"}'),
    ('order.accepted', ('O1', 'P1'),
     '{"order_id":"O1","session":"OMS1","cl_ord_id":"L","symbol":"ACME","side":"1","qty":500,"ord_type":"2'
     '","limit":"130.00","tif":"0","arrival":1767258005.0,"arrival_seq":1,"account":null,"strategy":"1000"'
     ',"urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":1767258035.0,"participat'
     'ion_rate":null,"parent_id":"P1"}'),
    ('order.accepted', ('O1', 'P1'),
     '{"order_id":"O1","session":"OMS1","cl_ord_id":"OMS1-0","symbol":"ACME","side":"1","qty":100,"ord_typ'
     'e":"1","limit":null,"tif":"0","arrival":1700000000.0,"arrival_seq":1,"account":null,"strategy":"1000'
     '","urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":null,"participation_rat'
     'e":null,"parent_id":"P1"}'),
    ('order.accepted', ('O1', 'P1'),
     '{"order_id":"O1","session":"OMS1","cl_ord_id":"V1","symbol":"ACME","side":"2","qty":3000,"ord_type":'
     '"1","limit":null,"tif":"0","arrival":1767258005.0,"arrival_seq":1,"account":"ACC\\"1","strategy":"1",'
     '"urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":1767258005.0,"end_time":1767258125.0,"par'
     'ticipation_rate":"0.1","parent_id":"P1"}'),
    ('order.accepted', ('O2',),
     '{"order_id":"O2","session":"OMS1","cl_ord_id":"OMS1-1","symbol":"ACME","side":"2","qty":1600,"ord_ty'
     'pe":"1","limit":null,"tif":"0","arrival":1700000000.0,"arrival_seq":2,"account":null,"strategy":"100'
     '0","urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":null,"participation_ra'
     'te":null,"parent_id":null}'),
    ('order.accepted', ('O2',),
     '{"order_id":"O2","session":"OMS2","cl_ord_id":"S","symbol":"ACME","side":"2","qty":200,"ord_type":"2'
     '","limit":"99.00","tif":"0","arrival":1700000000.0,"arrival_seq":2,"account":null,"strategy":"1000",'
     '"urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":null,"participation_rate"'
     ':null,"parent_id":null}'),
    ('order.accepted', ('O3', 'P2'),
     '{"order_id":"O3","session":"OMS1","cl_ord_id":"M1","symbol":"GLOBX","side":"1","qty":500,"ord_type":'
     '"1","limit":null,"tif":"0","arrival":1767258005.0,"arrival_seq":3,"account":null,"strategy":"1000","'
     'urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":1767258125.0,"participatio'
     'n_rate":null,"parent_id":"P2"}'),
    ('order.accepted', ('O6',),
     '{"order_id":"O6","session":"OMS2","cl_ord_id":"OMS2-6","symbol":"ACME","side":"2","qty":492,"ord_typ'
     'e":"2","limit":"139.65","tif":"0","arrival":1767258006.1294816,"arrival_seq":6,"account":null,"strat'
     'egy":"1000","urgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":1767258045.05'
     ',"participation_rate":null,"parent_id":null}'),
    ('order.accepted', ('O7',),
     '{"order_id":"O7","session":"OMS1","cl_ord_id":"C6","symbol":"GLOBX","side":"1","qty":70,"ord_type":"'
     '1","limit":null,"tif":"0","arrival":1767258005.0,"arrival_seq":7,"account":null,"strategy":"1000","u'
     'rgency":"MEDIUM","aggressiveness":"NEUTRAL","start_time":null,"end_time":1767258095.0,"participation'
     '_rate":null,"parent_id":null}'),
    ('order.canceled', ('O1',),
     '{"order_id":"O1","cl_ord_id":"A","reason":"cancel on disconnect"}'),
    ('order.canceled', ('O1',),
     '{"order_id":"O1","cl_ord_id":"A4"}'),
    ('order.expired', ('O1',),
     '{"order_id":"O1","text":"ExpireTime passed with 500 of 500 unfilled"}'),
    ('order.rejected', ('OMS1:',),
     '{"session":"OMS1","cl_ord_id":null,"reason":99,"text":"ClOrdID (11) is required"}'),
    ('order.rejected', ('OMS1:B',),
     '{"session":"OMS1","cl_ord_id":"B","reason":6,"text":"duplicate ClOrdID B for OMS1: already used toda'
     'y"}'),
    ('order.replaced', ('O1', 'P2'),
     '{"order_id":"O1","cl_ord_id":"A2","orig_cl_ord_id":"A","qty":150,"limit":"98.00","parent_id":"P2"}'),
    ('order.replaced', ('O3', 'P2'),
     '{"order_id":"O3","cl_ord_id":"M2","orig_cl_ord_id":"M1","qty":700,"limit":null,"parent_id":"P2"}'),
    ('parent.halted', ('P1',),
     '{"parent_id":"P1","text":"fill of 25000 with only 5000 working (over-fill)"}'),
    ('parent.halted', ('P1',),
     '{"parent_id":"P1","text":"fill of 5000 with only 0 working (over-fill)"}'),
    ('parent.overfill', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","qty":5000,"price":"142.40","text":"P1: ATLX exec'
     'uted 25000 at 142.40 but its orders wanted only 20000: 5000 shares over-filled, parent halted"}'),
    ('parent.strategy', ('P1',),
     '{"parent_id":"P1","requested":"VWAP","used":"TWAP","text":"VWAP is not available yet; worked as TWAP'
     '"}'),
    ('venue.execution', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","exec_id":"ATLX-E2","qty":171,"price":"142.52","l'
     'iquidity":"1","fee":"-0.3420"}'),
    ('venue.execution', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","exec_id":"ATLX:reconciled:X","qty":300,"price":"'
     '142.40","liquidity":"","fee":null}'),
    ('venue.execution', ('P1', 'C1.1'),
     '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","exec_id":"BIG","qty":25000,"price":"142.40","liq'
     'uidity":"","fee":null}'),
    ('venue.execution', ('P1', 'C7.1'),
     '{"parent_id":"P1","child_id":"C7.1","venue":"ATLX","exec_id":"ATLX-E3","qty":250,"price":"142.51","l'
     'iquidity":"1","fee":"-0.5000"}'),
]


def _text(data: dict[str, Any] | EncodedData) -> str:
    return str(data) if isinstance(data, EncodedData) else encode_data(data)


# ---- the registry ---------------------------------------------------------------------------------


def test_every_event_class_of_the_module_has_one_kind_of_its_own_in_the_registry() -> None:
    defined = {obj for _, obj in inspect.getmembers(events, inspect.isclass)
               if obj.__module__ == events.__name__ and dataclasses.is_dataclass(obj)}
    assert defined == set(EVENT_TYPES)
    kinds = [cls.kind for cls in EVENT_TYPES]
    assert all(isinstance(k, str) and k for k in kinds)
    assert len(set(kinds)) == len(kinds)
    assert dict(KINDS) == {cls.kind: cls for cls in EVENT_TYPES}
    assert set(typing.get_args(Event)) == set(EVENT_TYPES)


def test_events_are_frozen_slotted_values_without_the_time() -> None:
    for cls in EVENT_TYPES:
        names = {f.name for f in dataclasses.fields(cls)}
        assert cls.__dictoffset__ == 0, cls  # slotted: no instance __dict__ (as Python slots or mypyc's native class)
        assert "time" not in names and "kind" not in names, cls
        assert getattr(cls, "__dataclass_params__").frozen, cls  # noqa: B009 (a dataclass internal)
    event = OrderCanceled("O1", "A")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.order_id = "O2"  # type: ignore[misc]


# ---- journals written before the codec --------------------------------------------------------------


def test_todays_rows_cover_every_kind_written_before_the_codec() -> None:
    assert {kind for kind, _, _ in TODAY} == set(KINDS) - {"kill_switch", "parent.estimate", "child.cancel_rejected",
                                                       "venue.markout", "market.sample"}  # kinds added since


def test_a_market_sample_row_reads_back_exactly_and_is_indexed_under_its_symbol() -> None:
    text = '{"symbol":"ACME","bid":"142.40","ask":"142.45","volume":1200,"notional":"170910.00"}'
    event = decode("market.sample", text)
    assert isinstance(event, MarketSample)
    assert (event.bid, event.ask, event.volume, event.notional) == (Decimal("142.40"), Decimal("142.45"), 1200,
                                                                    Decimal("170910.00"))
    assert event.mid == Decimal("142.425") and event.ids == ("market:ACME",)
    assert _text(encode(event)[2]) == text
    one_sided = decode("market.sample", {"symbol": "ACME", "bid": None, "ask": "1", "volume": 0, "notional": "0"})
    assert isinstance(one_sided, MarketSample) and one_sided.mid is None


@pytest.mark.parametrize(("kind", "ids", "text"), TODAY, ids=[f"{k}-{n}" for n, (k, _, _) in enumerate(TODAY)])
def test_a_row_written_before_the_codec_decodes_and_encodes_back_to_the_same_bytes(
    kind: str, ids: tuple[str, ...], text: str,
) -> None:
    event = decode(kind, decode_data(text), seq=1)
    assert type(event) is KINDS[kind]
    assert event.ids == ids
    again_kind, again_ids, data = encode(event)
    assert (again_kind, again_ids, _text(data)) == (kind, ids, text)
    assert decode(kind, text) == event  # the stored text itself is accepted too


def test_decoded_values_are_typed_and_exact() -> None:
    [text] = [t for k, _, t in TODAY if k == "order.accepted" and '"participation_rate":"0.1"' in t]
    accepted = decode("order.accepted", text)
    assert isinstance(accepted, OrderAccepted)
    assert accepted.side is Side.SELL and accepted.account == 'ACC"1' and accepted.parent_id == "P1"
    assert accepted.mandate.participation_rate == Decimal("0.1") and accepted.mandate.start_time == 1767258005.0
    [text] = [t for k, _, t in TODAY if k == "venue.execution" and "-0.3420" in t]
    execution = decode("venue.execution", text)
    assert isinstance(execution, VenueExecution)
    assert str(execution.fee) == "-0.3420" and str(execution.price) == "142.52" and execution.qty == 171


def test_rows_that_lack_what_older_or_hand_written_rows_lack_take_the_fields_defaults() -> None:
    event = decode("child.rejected", {"parent_id": "P1", "child_id": "C4", "venue": "NOCT", "text": "venue halted"})
    assert event == ChildRejected("P1", "C4", "NOCT", reason="", text="venue halted", leaves_qty=None)
    assert decode("order.canceled", {"order_id": "O1", "cl_ord_id": "A4"}) == OrderCanceled("O1", "A4", None)


# ---- what the codec refuses --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["parent.created", "allocation", "cancel", "child.replaced", ""])
def test_an_unknown_kind_is_a_clear_error_naming_the_kind_and_the_entry(kind: str) -> None:
    with pytest.raises(UnknownEventKind) as err:
        decode(kind, {"parent_id": "P1"}, seq=42)
    assert f"journal entry 42: unknown event kind {kind!r}" in str(err.value)
    assert isinstance(err.value, JournalError) and err.value.seq == 42 and err.value.kind == kind


def test_an_unknown_kind_read_from_a_journal_names_its_sequence_number() -> None:
    journal = MemoryJournal()
    journal.append(1.0, "engine.started", [], {"orders": 0})
    seq = journal.append(2.0, "child.replaced", ["P1", "C1"], {"parent_id": "P1", "child_id": "C1"})
    first, second = journal.replay()
    assert decode_entry(first).event == events.EngineStarted(0)
    with pytest.raises(UnknownEventKind, match=rf"^journal entry {seq}: unknown event kind 'child.replaced'"):
        decode_entry(second)


@pytest.mark.parametrize(("change", "detail"), [
    ({"qty": None}, "qty is not a whole number: None"),
    ({"qty": 2.5}, "qty is not a whole number: 2.5"),
    ({"qty": True}, "qty is not a whole number: True"),
    ({"price": 100.1}, "price is not a decimal string: 100.1"),
    ({"price": "cheap"}, "price is not a decimal string: 'cheap'"),
    ({"price": "NaN"}, "price is not a decimal string: 'NaN'"),
    ({"venue": 7}, "venue is not a string: 7"),
])
def test_an_ill_typed_field_is_a_clear_error_naming_entry_kind_and_key(change: dict[str, Any], detail: str) -> None:
    data = {"parent_id": "P1", "child_id": "C1", "venue": "ATLX", "exec_id": "X1", "qty": 100, "price": "100.10",
            "liquidity": "2", "fee": "0.30"} | change
    with pytest.raises(MalformedEvent) as err:
        decode("venue.execution", data, seq=7)
    assert str(err.value) == f"journal entry 7 (venue.execution) is malformed: {detail}"
    assert err.value.detail == detail


@pytest.mark.parametrize("text", [
    # Written by version 1 code, which stored the venue's Commission (12) string unchecked.
    '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","exec_id":"ATLX-E9","qty":100,"price":"142.52","l'
    'iquidity":"1","fee":"abc"}',
    '{"parent_id":"P1","child_id":"C1.1","venue":"ATLX","exec_id":"ATLX-E9","qty":100,"price":"142.52","l'
    'iquidity":"1","fee":null}',
])
def test_a_venue_executions_fee_that_is_not_a_finite_decimal_reads_as_no_fee(text: str) -> None:
    journal = MemoryJournal()  # as recovery and the audit read it back: decode_entry, at the journal's version
    journal.append(1.0, "venue.execution", ["P1", "C1.1"], decode_data(text))
    [entry] = journal.replay()
    assert journal.event_version == 1
    event = decode_entry(entry, version=journal.event_version).event
    assert event == VenueExecution("P1", "C1.1", "ATLX", "ATLX-E9", 100, Decimal("142.52"), "1", None)


@pytest.mark.parametrize("fee", ["NaN", "Infinity", "", 0.3, True, ["0.30"]])
def test_only_the_fee_is_lenient_the_execution_around_it_stays_strict(fee: object) -> None:
    data = {"parent_id": "P1", "child_id": "C1", "venue": "ATLX", "exec_id": "X1", "qty": 100, "price": "100.10",
            "liquidity": "2", "fee": fee}
    execution = decode("venue.execution", data, seq=7)
    assert isinstance(execution, VenueExecution) and execution.fee is None
    with pytest.raises(MalformedEvent, match=r"malformed: price is not a decimal string: 'abc'$"):
        decode("venue.execution", data | {"price": "abc"}, seq=7)


def test_a_missing_field_and_a_bad_enum_value_are_clear_errors() -> None:
    with pytest.raises(MalformedEvent, match=r"^journal entry 3 \(cross\) is malformed: missing 'qty'$"):
        decode("cross", {"incoming": "O2", "resting": "O1", "price": "1", "market": "INTERNAL"}, seq=3)
    [text] = [t for k, _, t in TODAY if k == "order.accepted" and '"cl_ord_id":"A"' in t and '"qty":100,' in t]
    bad = decode_data(text) | {"side": "9"}
    with pytest.raises(MalformedEvent, match=r"malformed: side is not a Side: '9'$"):
        decode("order.accepted", bad, seq=4)


def test_a_format_version_this_code_does_not_read_is_refused() -> None:
    with pytest.raises(EventDecodeError, match="event format version 2 is not readable"):
        decode("engine.started", {"orders": 0}, seq=1, version=VERSION + 1)


# ---- every event round-trips --------------------------------------------------------------------------

_ID_FIELDS = {"order_id", "parent_id", "child_id", "session", "incoming", "resting"}
ids_text = st.text(min_size=1, max_size=8)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=None) | st.decimals(
    min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=4)
floats = st.floats(allow_nan=False, allow_infinity=False)


def _strategy(tp: Any, name: str) -> st.SearchStrategy[Any]:
    """A strategy for a field of type ``tp`` (the types events use; a new one fails here, loudly)."""
    if isinstance(tp, types.UnionType):
        return st.one_of(*(_strategy(arg, name) for arg in typing.get_args(tp)))
    if tp is type(None):
        return st.none()
    if tp is str:
        return ids_text if name in _ID_FIELDS else st.text(max_size=12)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-(2**63), max_value=2**63)
    if tp is float:
        return floats
    if tp is Decimal:
        return decimals
    if inspect.isclass(tp) and issubclass(tp, enum.Enum):
        return st.sampled_from(tp)
    if tp is Mandate:
        return st.builds(Mandate, *(_strategy(t, "") for t in field_types(Mandate).values()))
    if typing.get_origin(tp) is tuple:
        pair = typing.get_args(typing.get_args(tp)[0])
        if pair == (float, Decimal):  # a markout's (horizon, mid)
            return st.lists(st.tuples(floats, decimals), max_size=4).map(tuple)
        return st.lists(st.tuples(ids_text, st.integers(0, 10**9)), max_size=4).map(tuple)
    raise AssertionError(f"no strategy for {tp!r} ({name})")


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Field name -> type, as the class's source writes it.  Read from the source, not from
    ``typing.get_type_hints``: mypyc, which compiles events.py and model.py, leaves a union as ``type``
    in the compiled classes' annotations."""
    tree = ast.parse(source_path(cls.__module__).read_text())
    [node] = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__]
    namespace = vars(sys.modules[cls.__module__])
    return {item.target.id: eval(ast.unparse(item.annotation), namespace)
            for item in node.body if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)}


def event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    hints = field_types(cls)
    fields = {f.name: _strategy(hints[f.name], f.name) for f in dataclasses.fields(cls)}
    return st.builds(cls, **fields)


any_event = st.one_of(*(event_strategy(cls) for cls in EVENT_TYPES))


@settings(max_examples=600, deadline=None)
@given(any_event)
def test_every_event_round_trips_through_a_journal(event: Event) -> None:
    journal = MemoryJournal()
    seq = append(journal, 1_700_000_000.5, event)
    [entry] = journal.replay()
    assert entry.kind == event.kind and entry.order_ids == tuple(dict.fromkeys(event.ids))
    recorded = decode_entry(entry)
    assert recorded == (seq, 1_700_000_000.5, event)
    assert _text(encode(recorded.event)[2]) == _text(encode(event)[2])  # decimals keep their exact digits


@settings(max_examples=300, deadline=None)
@given(any_event)
def test_the_dict_and_the_text_encodings_agree(event: Event) -> None:
    assert _text(encode(event)[2]) == encode_data(encode_dict(event))


@settings(max_examples=400, deadline=None)
@given(orders(), st.none() | st.text(min_size=1, max_size=12))
def test_the_accepted_orders_direct_text_is_the_encoders_text(order: ClientOrder, parent_id: str | None) -> None:
    event = OrderAccepted.of(order, parent_id)
    text = order_accepted_json(event)
    assert type(text) is EncodedData
    assert text == encode_data(encode_dict(event))
    again = decode("order.accepted", text)
    assert again == event
    assert isinstance(again, OrderAccepted)
    assert order_accepted_json(OrderAccepted.of(again.to_order(), parent_id)) == text


def test_the_codec_module_names_its_version() -> None:
    assert eventcodec.VERSION == 1
