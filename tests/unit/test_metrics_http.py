"""The metrics endpoint's HTTP server: three routes, and bad requests answered (or dropped) without
harm to the event loop it shares with the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from metaorder.metrics import http
from metaorder.metrics.collector import build_registry
from metaorder.metrics.http import Endpoints, route
from metaorder.metrics.state import Snapshot


@dataclass
class Checks:
    failed: list[str] = field(default_factory=lambda: ["venues: none of 2 logged on"])
    error: Exception | None = None  # a check with a bug

    def __call__(self) -> list[str]:
        if self.error is not None:
            raise self.error
        return list(self.failed)


@dataclass
class Server:
    port: int
    checks: Checks


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    checks = Checks()
    endpoints = Endpoints(build_registry(Snapshot), checks)
    started: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(http.serve("127.0.0.1", 0, endpoints, started.set_result))
    port = await asyncio.wait_for(started, 5)
    try:
        yield Server(port, checks)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` raw, read until the server closes: (status, headers, body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


async def test_healthz_answers_ok_while_the_loop_runs(server: Server) -> None:
    status, headers, body = await exchange(server.port, get("/healthz"))
    assert (status, body) == (200, b"ok\n") and headers["connection"] == "close"


async def test_readyz_lists_each_failed_check_until_all_pass(server: Server) -> None:
    server.checks.failed = ["oms acceptor: not listening", "venues: none of 2 logged on"]
    status, _, body = await exchange(server.port, get("/readyz"))
    assert status == 503 and body.decode().splitlines() == server.checks.failed
    server.checks.failed = []
    assert (await exchange(server.port, get("/readyz")))[:3:2] == (200, b"ready\n")


async def test_metrics_are_in_the_prometheus_text_format(server: Server) -> None:
    status, headers, body = await exchange(server.port, get("/metrics?name[]=x"))
    assert status == 200 and headers["content-type"].startswith("text/plain; version=")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"metaorder_parents_working", "metaorder_fix_messages_received", "process_cpu_seconds"} <= names


async def test_unknown_paths_are_404_and_other_methods_405(server: Server) -> None:
    assert (await exchange(server.port, get("/admin")))[0] == 404
    status, headers, _ = await exchange(server.port, get("/metrics", "POST"))
    assert status == 405 and headers["allow"] == "GET, HEAD"


async def test_head_gets_the_headers_without_the_body(server: Server) -> None:
    status, headers, body = await exchange(server.port, get("/healthz", "HEAD"))
    assert status == 200 and headers["content-length"] == "3" and body == b""


async def test_an_oversized_request_is_refused_with_431(server: Server) -> None:
    big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * (http.MAX_REQUEST * 2) + b"\r\n\r\n"
    assert (await exchange(server.port, big))[0] == 431


async def test_a_request_that_is_not_http_is_answered_400(server: Server) -> None:
    assert (await exchange(server.port, b"\x16\x03\x01 hello there\r\n\r\n"))[0] == 400


async def test_a_client_that_sends_nothing_is_dropped_after_the_request_timeout(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "REQUEST_TIMEOUT", 0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /metrics HTTP/1.1\r\n")  # never finished
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server, without an answer
    writer.close()
    assert (await exchange(server.port, get("/healthz")))[0] == 200  # and the server serves on


async def test_a_busy_port_leaves_the_engine_running_and_says_why() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    endpoints = Endpoints(build_registry(Snapshot), Checks())
    with capture_logs() as logs:
        task = asyncio.create_task(http.serve("127.0.0.1", port, endpoints))
        with pytest.raises(TimeoutError):  # a task that ended would stop the daemon's TaskGroup
            await asyncio.wait_for(asyncio.shield(task), 0.5)
    task.cancel()
    blocker.close()
    [line] = [e for e in logs if e["event"] == "metrics endpoint not started"]
    assert line["log_level"] == "error" and line["port"] == port


def test_routes_ignore_the_query_string() -> None:
    endpoints = Endpoints(build_registry(Snapshot), Checks([]))
    assert route(endpoints, "GET", "/healthz?verbose=1").status == 200
    assert route(endpoints, "DELETE", "/nowhere").status == 404


async def test_a_failing_check_is_answered_500_and_the_server_goes_on(server: Server) -> None:
    server.checks.error = RuntimeError("the journal vanished")
    with capture_logs() as logs:
        status, _, body = await exchange(server.port, b"GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 500 and b"RuntimeError: the journal vanished" in body
    assert any(e["event"] == "metrics endpoint failed" for e in logs)
    assert (await exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))[0] == 200
