"""TargetStrategyParameters (848) over a socket, key by key: accepted with an ack that says what the
order will do, or refused with an ExecutionReport 150=8 whose Text names the key (issue 14).

One ``metaorder run`` (embedded simulated venues) serves every case: each order is a NewOrderSingle
from OMS1 with its own ClOrdID, and its first ExecutionReport is the answer looked at.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from tests.integration.fixclient import FixClient, Frame, utc_timestamp
from tests.integration.test_pipeline import Daemon, utc_timestamp_at


@pytest.fixture(scope="module")
def oms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FixClient]:
    daemon = Daemon(tmp_path_factory.mktemp("params"))
    try:
        daemon.start()
        with FixClient(daemon.ports["OMS"], "OMS1", "METAORDER", timeout=20) as client:
            client.logon()
            yield client
    finally:
        if daemon.proc is not None:
            daemon.proc.stop(signal.SIGKILL)


_ids = iter(range(1, 1_000_000))


def first_report(oms: FixClient, strategy: str, params: str | None, rate: str | None = None,
                 window_s: float = 600.0) -> Frame:
    """Send one 100-share ACME limit buy far from the market (it rests: nothing fills) and return its
    first ExecutionReport."""
    cl = f"P{next(_ids)}"
    body: list[tuple[int, object]] = [(11, cl), (55, "ACME"), (54, "1"), (60, utc_timestamp()), (38, 100),
                                      (40, "2"), (44, "100.00"), (59, "0"), (847, strategy),
                                      (126, utc_timestamp_at(time.time() + window_s))]
    if params is not None:
        body.append((848, params))
    if rate is not None:
        body.append((849, rate))
    oms.send("D", body)
    deadline = time.monotonic() + 20
    while True:
        frame = oms.receive(max(deadline - time.monotonic(), 0.01))
        if frame.msg_type == "1":
            oms.send("0", [(112, frame.get(112) or "")])
        elif frame.msg_type == "8" and frame.get(11) == cl:
            return frame


@pytest.mark.parametrize(("strategy", "params", "rate", "says"), [
    ("1000", None, None, "TWAP "),
    ("1", "Urgency=HIGH", "0.1", "VWAP "),
    ("1001", "RiskAversion=2e-6", None, "risk aversion 0.000002/$"),
    ("1001", "Urgency=LOW;Aggressiveness=PASSIVE", None, "urgency LOW, passive"),
    ("2", "MinPOV=0.05;MaxPOV=0.15", "0.1", "participation 10% (min 5%, max 15%)"),
    ("2", None, "0.2", "POV "),
    ("1000", "Urgency=LOW;Routing=seek", None, "urgency LOW, routing SEEK"),
    ("2", "Routing=PARALLEL", "0.1", "routing PARALLEL"),
])
def test_accepted_parameters_are_acknowledged_with_a_text_saying_what_the_order_will_do(
    oms: FixClient, strategy: str, params: str | None, rate: str | None, says: str,
) -> None:
    ack = first_report(oms, strategy, params, rate)
    assert (ack.get(150), ack.get(39)) == ("0", "0"), ack
    text = ack.get(58) or ""
    assert says in text and "UTC" in text, text
    if rate is not None and strategy == "1":
        assert "participation <= 10%" in text


@pytest.mark.parametrize(("strategy", "params", "rate", "names"), [
    ("1000", "RiskAversion=1e-6", None, "unknown key 'RiskAversion' for TWAP"),
    ("1", "MinPOV=0.1", None, "unknown key 'MinPOV' for VWAP"),
    ("1001", "MaxPOV=0.2", None, "unknown key 'MaxPOV' for IS"),
    ("1001", "RiskAversion=cautious", None, "RiskAversion 'cautious' is not a number"),
    ("1001", "RiskAversion=-1", None, "RiskAversion '-1' must be between 0 and 1 per $"),
    ("1001", "RiskAversion=1e160", None, "RiskAversion '1e160' must be between 0 and 1 per $"),
    ("1001", "RiskAversion=Infinity", None, "RiskAversion 'Infinity' is not a number"),
    ("2", "MinPOV=1.5", "0.1", "MinPOV '1.5' must be a fraction"),
    ("2", "MaxPOV=0.05", "0.1", "MaxPOV 0.05 is below the ParticipationRate (849) 0.1"),
    ("2", "MinPOV=0.2", "0.1", "MinPOV 0.2 is above the ParticipationRate (849) 0.1"),
    ("2", "Speed=fast", "0.1", "unknown key 'Speed' for POV"),
    ("2", None, None, "needs a ParticipationRate (849)"),
    ("1000", "Urgency", None, "'Urgency' is not key=value"),
    ("1000", "Urgency=NOW", None, "Urgency must be LOW|MEDIUM|HIGH"),
    ("1", "Routing=FASTEST", None, "Routing 'FASTEST' is not a routing logic (known: BEST, SEQUENTIAL, PARALLEL,"),
])
def test_each_bad_parameter_is_refused_with_a_text_naming_it(
    oms: FixClient, strategy: str, params: str | None, rate: str | None, names: str,
) -> None:
    reject = first_report(oms, strategy, params, rate)
    assert (reject.get(150), reject.get(39)) == ("8", "8"), reject
    assert names in (reject.get(58) or ""), reject.get(58)
    assert "TargetStrategyParameters (848)" in (reject.get(58) or "") or "(849)" in names

