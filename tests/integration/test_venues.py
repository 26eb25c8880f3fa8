"""``metaorder venues`` over real sockets: a lit exchange and a dark pool, with background flow."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient, Frame, utc_timestamp
from tests.support import MetaorderProcess

CONFIG = """
[market]
seed = 11
session_hours = 1.0
taker_volume_fraction = 2.0

[[instrument]]
symbol = "ACME"
tick_size = "0.01"
lot_size = 1
reference_price = "100.00"
daily_volume = 2000000

[[venue]]
name = "LITX"
kind = "lit"
port = 0
comp_id = "LITX"
counterparties = ["TRADER", "METAORDER"]
max_order_qty = 10000

[[venue]]
name = "DARKX"
kind = "dark"
port = 0
comp_id = "DARKX"
counterparties = ["TRADER"]
contra_rate_per_min = 600.0

[logging]
format = "json"
"""


@pytest.fixture
def venues(tmp_path: Path) -> Iterator[dict[str, int]]:
    config = tmp_path / "venues.toml"
    config.write_text(CONFIG)
    proc = MetaorderProcess(["venues", "--config", str(config), "--store-dir", str(tmp_path)])
    try:
        ports: dict[str, int] = {}
        while len(ports) < 2:
            event = proc.wait_for_log("accepting")
            sessions = event["sessions"]
            assert isinstance(sessions, list) and isinstance(event["port"], int)
            ports[str(sessions[0]).split("<-")[0]] = event["port"]
        yield ports
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(20) == 0, proc.log()
    finally:
        proc.stop(signal.SIGKILL)


def fields(frame: Frame) -> list[tuple[int, str]]:
    parts = frame.raw.decode("latin-1").split("\x01")[:-1]
    return [(int(t), v) for t, _, v in (p.partition("=") for p in parts)]


def until(client: FixClient, want: Callable[[Frame], bool], limit: int = 500) -> Frame:
    """The next message satisfying ``want``, skipping market data and status on the way."""
    for _ in range(limit):
        frame = client.receive()
        if want(frame):
            return frame
    raise AssertionError("no matching message")


def order(
    cl: str, side: str, qty: int, price: str | None, symbol: str = "ACME", tif: str = "0"
) -> list[tuple[int, object]]:
    body: list[tuple[int, object]] = [(11, cl), (21, "1"), (55, symbol), (54, side), (60, utc_timestamp()),
                                      (38, qty), (40, "2" if price else "1")]
    if price:
        body.append((44, price))
    return [*body, (59, tif)]


def logon(port: int, target: str) -> FixClient:
    client = FixClient(port, "TRADER", target)
    client.logon(reset=True)
    status = until(client, lambda f: f.msg_type == "h")
    assert (status.get(336), status.get(340)) == (target, "2")
    return client


def test_lit_venue_publishes_a_book_and_fills_a_marketable_order_with_fees(venues: dict[str, int]) -> None:
    with logon(venues["LITX"], "LITX") as client:
        client.send("V", [(262, "md1"), (263, "1"), (264, 5), (267, 2), (269, "0"), (269, "1"), (146, 1),
                          (55, "ACME")])
        snap = until(client, lambda f: f.msg_type == "W")
        entries = [(t, v) for t, v in fields(snap) if t in (269, 270, 271)]
        bids = [float(v) for (t, v), (_, side) in zip(entries[1::3], entries[0::3], strict=True) if side == "0"]
        asks = [float(v) for (t, v), (_, side) in zip(entries[1::3], entries[0::3], strict=True) if side == "1"]
        assert bids and asks and max(bids) < min(asks), snap  # background quotes, never crossed
        best_ask = f"{min(asks):.2f}"
        client.send("D", order("buy1", "1", 100, best_ask, tif="3"))
        ack = until(client, lambda f: f.msg_type == "8" and f.get(11) == "buy1")
        assert (ack.get(150), ack.get(39)) == ("0", "0")
        fill = until(client, lambda f: f.msg_type == "8" and f.get(11) == "buy1")
        if fill.get(150) == "F":
            assert fill.get(30) == "LITX" and fill.get(851) == "2" and fill.get(13) == "3"
            assert float(fill.get(12) or 0) > 0 and float(fill.get(31) or 0) <= float(best_ask)
        else:  # the level moved between snapshot and order: the IOC is cancelled, not left resting
            assert (fill.get(150), fill.get(39)) == ("4", "4")


def test_lit_venue_rejects_bad_orders_with_the_rule_in_text(venues: dict[str, int]) -> None:
    with logon(venues["LITX"], "LITX") as client:
        client.send("D", order("bad1", "1", 100, "10.00", symbol="NOPE"))
        rej = until(client, lambda f: f.msg_type == "8" and f.get(11) == "bad1")
        assert (rej.get(150), rej.get(103)) == ("8", "1") and "unknown symbol" in (rej.get(58) or "")
        client.send("D", order("bad2", "1", 100, "99.999"))
        rej = until(client, lambda f: f.msg_type == "8" and f.get(11) == "bad2")
        assert "tick size" in (rej.get(58) or "")
        client.send("D", order("bad3", "1", 20000, "99.00"))
        rej = until(client, lambda f: f.msg_type == "8" and f.get(11) == "bad3")
        assert rej.get(103) == "3" and "maximum 10000" in (rej.get(58) or "")
        client.send("F", [(41, "never"), (11, "c1"), (55, "ACME"), (54, "1"), (60, utc_timestamp())])
        reject = until(client, lambda f: f.msg_type == "9")
        assert (reject.get(102), reject.get(434)) == ("1", "1")
        client.send("V", [(262, "md2"), (263, "1"), (264, 1), (267, 1), (269, "0"), (146, 1), (55, "NOPE")])
        md_reject = until(client, lambda f: f.msg_type == "Y")
        assert md_reject.get(281) == "0"


def test_dark_pool_accepts_hidden_orders_and_fills_them_at_the_midpoint(venues: dict[str, int]) -> None:
    with logon(venues["DARKX"], "DARKX") as client:
        client.send("D", order("d1", "1", 300, None))
        ack = until(client, lambda f: f.msg_type == "8" and f.get(11) == "d1")
        assert (ack.get(150), ack.get(39)) == ("0", "0")
        fill = until(client, lambda f: f.msg_type == "8" and f.get(11) == "d1" and f.get(150) == "F", limit=50)
        assert fill.get(30) == "DARKX" and float(fill.get(31) or 0) > 0
        client.send("V", [(262, "md"), (263, "1"), (264, 1), (267, 1), (269, "0"), (146, 1), (55, "ACME")])
        reject = until(client, lambda f: f.msg_type == "Y")
        assert "dark pool" in (reject.get(58) or "")
