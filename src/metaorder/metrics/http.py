"""The metrics and health endpoints: HTTP/1.1 on the engine's own event loop.

Three GET routes do not need a web framework, and HTTP is not something to parse by hand either:
:mod:`h11` is the sans-IO HTTP/1.1 protocol (the model our FIX session copies), so this module is
a thin asyncio shell around it, in two parts:

* :func:`route` — plain code: (method, target) to a :class:`Response`;
* :func:`serve` — the shell: one request per connection (``Connection: close``), the request head
  bounded (:data:`MAX_REQUEST` bytes, else 431) and timed (:data:`REQUEST_TIMEOUT`, else the
  connection is dropped), a malformed request answered 400.

Everything runs on the event loop, which is the point of ``/healthz``: if the loop answers, the
engine is alive; and a scrape reads the engine's state between two callbacks, without locks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import h11
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = structlog.get_logger("metaorder.metrics")

MAX_REQUEST = 8192  # bytes of request head: a scraper sends a few hundred
REQUEST_TIMEOUT = 5.0  # seconds to send a whole request
_READ_SIZE = 4096
_LINGER_BYTES = 1 << 20  # what is read away of a refused request before the connection is closed
_TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = _TEXT
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """What the routes read: the registry to expose and the readiness checks (failures, one line each)."""

    registry: CollectorRegistry
    readiness: Callable[[], list[str]]


def route(endpoints: Endpoints, method: str, target: str) -> Response:
    """The answer to one request: 200 on the three routes, 404 elsewhere, 405 for a method other than GET/HEAD."""
    path = target.split("?", 1)[0]
    if path not in ("/metrics", "/healthz", "/readyz"):
        return Response(404, b"not found: try /metrics, /healthz or /readyz\n")
    if method not in ("GET", "HEAD"):
        return Response(405, b"method not allowed: GET only\n", headers=(("Allow", "GET, HEAD"),))
    if path == "/healthz":
        return Response(200, b"ok\n")
    if path == "/readyz":
        failed = endpoints.readiness()
        if failed:
            return Response(503, "".join(f"{line}\n" for line in failed).encode())
        return Response(200, b"ready\n")
    return Response(200, generate_latest(endpoints.registry), CONTENT_TYPE_LATEST)


async def serve(host: str, port: int, endpoints: Endpoints, started: Callable[[int], None] | None = None) -> None:
    """Listen until cancelled; ``started`` gets the real port (``port`` 0: a free one)."""
    connections: set[asyncio.Task[None]] = set()

    def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(handle(reader, writer, endpoints))
        connections.add(task)
        task.add_done_callback(connections.discard)

    try:
        server = await asyncio.start_server(accepted, host, port)
    except OSError as exc:
        # Trading matters more than its metrics: the engine runs on, and says so loudly (the
        # container's health check, which asks /readyz, then reports the daemon unhealthy).
        log.error("metrics endpoint not started", host=host, port=port, error=exc.strerror or str(exc))
        await asyncio.Future()  # until cancelled: a task that returns would stop the daemon
        return
    bound = server.sockets[0].getsockname()[1]
    log.info("metrics listening", host=host, port=bound)
    if started is not None:
        started(bound)
    try:
        async with server:
            await asyncio.Future()  # until cancelled
    finally:
        for task in list(connections):
            task.cancel()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, endpoints: Endpoints) -> None:
    """One connection, one request, one response, closed; a client too slow either way is cut off."""
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_REQUEST)
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            target = "?"
            try:
                request = await _read_request(conn, reader)
                if request is None:
                    return
                head_only = request.method == b"HEAD"
                target = request.target.decode("ascii", "replace")
                response = route(endpoints, request.method.decode("ascii", "replace"), target)
            except h11.RemoteProtocolError as exc:
                head_only = False
                response = Response(exc.error_status_hint, f"bad request: {exc}\n".encode())
            except Exception as exc:  # a bug in a collector or a check: answer it, never leave the scraper hanging
                log.exception("metrics endpoint failed", target=target)
                head_only = False
                response = Response(500, f"internal error: {type(exc).__name__}: {exc}\n".encode())
            writer.write(_encode(conn, response, head_only))
            await writer.drain()
            if conn.their_state is h11.ERROR and writer.can_write_eof():
                # The rest of a refused request is still coming: closing on it would reset the
                # connection, and the client could lose our answer.  Read it away (bounded) first.
                writer.write_eof()
                discarded = 0
                while discarded < _LINGER_BYTES and (chunk := await reader.read(_READ_SIZE)):
                    discarded += len(chunk)
            writer.close()
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, OSError, h11.LocalProtocolError):
        pass
    finally:
        if not writer.is_closing():
            writer.transport.abort()
        elif writer.transport.get_write_buffer_size():
            writer.transport.abort()  # closing but not drained: the peer does not read


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> h11.Request | None:
    """The request head (its body, if any, is not read: connection close); None if the peer left."""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(_READ_SIZE))  # b"": end of stream, h11 says what it means
            continue
        if isinstance(event, h11.Request):
            return event
        return None  # ConnectionClosed before a request


def _encode(conn: h11.Connection, response: Response, head_only: bool) -> bytes:
    headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
               ("Connection", "close"), *response.headers]
    data = conn.send(h11.Response(status_code=response.status, headers=headers)) or b""
    if response.body and not head_only:
        data += conn.send(h11.Data(data=response.body)) or b""
    data += conn.send(h11.EndOfMessage()) or b""
    return data
