"""Market data: snapshots, increments that rebuild the snapshot exactly, rejects, unsubscribe."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from metaorder.fix.codec import FieldValue
from metaorder.venues.marketdata import MarketDataPublisher
from metaorder.venues.venue import LitVenue, Outbound
from tests.unit.venuesupport import ACME, LOTS, T0, body, cancel, fix, new_order


def md_request(req_id: str, symbols: list[str], depth: int = 0, kind: str = "1",
               types: tuple[str, ...] = ("0", "1", "2")) -> object:
    fields: list[tuple[int, FieldValue]] = [(262, req_id), (263, kind), (264, depth), (267, len(types))]
    fields += [(269, t) for t in types]
    fields.append((146, len(symbols)))
    fields += [(55, s) for s in symbols]
    return fix("V", fields)


def setup() -> tuple[LitVenue, MarketDataPublisher]:
    v = LitVenue("ATLX", [ACME, LOTS])
    return v, MarketDataPublisher(v.books, v.instruments)


def publish(v: LitVenue, md: MarketDataPublisher) -> list[Outbound]:
    return md.publish(v.changed_symbols(), v.take_trades(), T0)


def entries(out: Outbound, first_tag: int) -> list[dict[int, str]]:
    """The repeating group of a W or X, one dict per entry (an entry starts at ``first_tag``)."""
    result: list[dict[int, str]] = []
    started = False
    for tag, value in out.body:
        if tag == 268:
            started = True
            continue
        if not started:
            continue
        if tag == first_tag:
            result.append({})
        result[-1][tag] = str(value)
    return result


class ClientBook:
    """What a subscriber rebuilds: snapshot, then increments."""

    def __init__(self, snapshot: Outbound) -> None:
        self.levels: dict[tuple[str, Decimal], int] = {}
        for e in entries(snapshot, 269):
            self.levels[(e[269], Decimal(e[270]))] = int(e[271])

    def apply(self, increment: Outbound) -> None:
        for e in entries(increment, 279):
            if e[269] == "2":
                continue
            key = (e[269], Decimal(e[270]))
            if e[279] == "2":
                assert key in self.levels, f"delete of an unknown level {key}"
                del self.levels[key]
            elif e[279] == "0":
                assert key not in self.levels, f"new level already known {key}"
                self.levels[key] = int(e[271])
            else:
                assert key in self.levels, f"change of an unknown level {key}"
                self.levels[key] = int(e[271])


def test_a_request_is_answered_with_a_snapshot_of_both_sides() -> None:
    v, md = setup()
    v.new_order("A", new_order("b", "1", 100, "99.00"), T0)
    v.new_order("A", new_order("s", "2", 200, "101.00"), T0)
    publish(v, md)
    [snap] = md.on_request("C", md_request("r1", ["ACME"]), T0)
    assert snap.msg_type == "W" and body(snap)[262] == "r1" and body(snap)[55] == "ACME"
    assert [(e[269], e[270], e[271]) for e in entries(snap, 269)] == [("0", "99", "100"), ("1", "101", "200")]


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_a_book_rebuilt_from_increments_always_equals_a_fresh_snapshot(depth: int) -> None:
    v, md = setup()
    rng = random.Random(depth)
    for i in range(20):
        v.new_order("A", new_order(f"seed{i}", rng.choice("12"), rng.randint(1, 5) * 100,
                                   f"{rng.choice([98, 99, 101, 102]) + rng.randint(0, 50) / 100:.2f}"), T0)
    publish(v, md)
    [snap] = md.on_request("C", md_request("r", ["ACME"], depth), T0)
    client = ClientBook(snap)
    live: list[str] = []
    for i in range(400):
        roll = rng.random()
        if roll < 0.5:
            cl = f"o{i}"
            v.new_order("A", new_order(cl, rng.choice("12"), rng.randint(1, 8) * 50,
                                       f"{99 + rng.randint(0, 200) / 100:.2f}"), T0)
            live.append(cl)
        elif roll < 0.8 and live:
            v.cancel("A", cancel(f"c{i}", live.pop(rng.randrange(len(live)))), T0)
            v.cancel("A", cancel(f"c{i}s", live[-1] if live else "x", side="2"), T0)
        else:
            v.new_order("B", new_order(f"m{i}", rng.choice("12"), rng.randint(1, 6) * 100), T0)
        for out in publish(v, md):
            if out.owner == "C":
                client.apply(out)
        [fresh] = md.on_request("Z", md_request(f"z{i}", ["ACME"], depth, kind="0"), T0)
        assert client.levels == ClientBook(fresh).levels, f"after step {i}"


def test_trades_are_published_as_entries_of_type_2() -> None:
    v, md = setup()
    md.on_request("C", md_request("r", ["ACME"]), T0)
    v.new_order("A", new_order("s", "2", 100, "100.00"), T0)
    publish(v, md)
    v.new_order("B", new_order("b", "1", 40, "100.00"), T0)
    [x] = publish(v, md)
    trades = [e for e in entries(x, 279) if e[269] == "2"]
    assert [(t[270], t[271]) for t in trades] == [("100", "40")]


def test_unknown_symbol_and_unsupported_requests_get_market_data_request_reject() -> None:
    _, md = setup()
    [rej] = md.on_request("C", md_request("r", ["NOPE"]), T0)
    assert rej.msg_type == "Y" and body(rej)[281] == "0" and "NOPE" in body(rej)[58]
    [rej] = md.on_request("C", md_request("r", ["ACME"], kind="7"), T0)
    assert body(rej)[281] == "4"
    md.on_request("C", md_request("dup", ["ACME"]), T0)
    [rej] = md.on_request("C", md_request("dup", ["ACME"]), T0)
    assert body(rej)[281] == "1"


def test_unsubscribe_and_snapshot_only_requests_send_no_increments() -> None:
    v, md = setup()
    md.on_request("C", md_request("r", ["ACME"]), T0)
    md.on_request("D", md_request("s", ["ACME"], kind="0"), T0)
    md.on_request("C", md_request("r", ["ACME"], kind="2"), T0)
    v.new_order("A", new_order("b", "1", 100, "99.00"), T0)
    assert publish(v, md) == []
    assert md.subscriptions == 0
