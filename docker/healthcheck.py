"""The containers' health probe: exit 0 when every target answers, else 1 and one line saying which did not.

The slim image has no curl, so the probe is the image's own Python and the standard library only (it
must not import metaorder: a probe that loads the engine's code costs seconds and memory every
interval).  Docker shows the line in ``docker inspect``; a traceback there would bury it.

Targets, as many as given, all must answer:

* ``http://HOST:PORT/PATH``: a GET answered 200 — the engine's ``/readyz`` (its OMS acceptor listens,
  its journal is writable, a venue is logged on);
* ``tcp://HOST:PORT``: a TCP connection accepted — a FIX acceptor (the simulated venues).  Closed at
  once without a byte, which an acceptor drops silently: no log line every interval.
"""

from __future__ import annotations

import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence

TIMEOUT_S = 3.0  # below the HEALTHCHECK --timeout, so that the probe, not Docker, says what failed


def probe(target: str, timeout: float = TIMEOUT_S) -> str | None:
    """None when ``target`` answers, else why not (one line)."""
    url = urllib.parse.urlsplit(target)
    try:
        if url.scheme == "tcp":
            if url.hostname is None or url.port is None:
                return f"{target}: expected tcp://HOST:PORT"
            with socket.create_connection((url.hostname, url.port), timeout=timeout):
                return None
        if url.scheme == "http":
            with urllib.request.urlopen(target, timeout=timeout) as answer:
                status = int(answer.status)
            return None if status == 200 else f"{target}: HTTP {status}"
    except urllib.error.HTTPError as exc:  # 503 from /readyz: not ready, and the body says why
        body = exc.read(200).decode("utf-8", "replace").strip().replace("\n", " ")
        return f"{target}: HTTP {exc.code}" + (f": {body}" if body else "")
    except urllib.error.URLError as exc:
        return f"{target}: {exc.reason}"
    except (OSError, ValueError) as exc:
        return f"{target}: {exc}"
    return f"{target}: expected http://HOST:PORT/PATH or tcp://HOST:PORT"


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("unhealthy: usage: healthcheck.py http://HOST:PORT/PATH | tcp://HOST:PORT ...")
        return 1  # Docker reserves 2
    problems = [p for p in (probe(t) for t in argv) if p is not None]
    for problem in problems:
        print(f"unhealthy: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
