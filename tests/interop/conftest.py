"""Shared helpers for interop tests: a free port, the reflector as a subprocess, waiting for it, stopping it.

Fixtures:
- ``free_tcp_port``: a port that was free on 127.0.0.1 a moment ago;
- ``reflector_factory``: ``start(port=..., store=..., ...) -> ServerProcess``; every process it started is
  killed at teardown if the test left it running.

Which server the fixtures start is chosen by ``METAORDER_INTEROP_SERVER``:
- ``reflector`` (default): ``python -m metaorder reflector ...`` with ``src/`` on PYTHONPATH;
- ``quickfix``: ``bench/quickfix_echo_acceptor.py`` with the same arguments, a QuickFIX acceptor that behaves
  like the reflector; it is how these tests were checked before the reflector existed, and a way to tell
  a test's fault from the reflector's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICKFIX_STAND_IN = REPO_ROOT / "bench" / "quickfix_echo_acceptor.py"
SERVER_ENV = "METAORDER_INTEROP_SERVER"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bind to port 0, read it, close). Racy in theory, fine in tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = START_TIMEOUT_S,
                  proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll connect() with a short backoff until the port accepts; fail early if `proc` exits."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"nothing accepts connections on {host}:{port} after {timeout} s") from exc
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


@dataclass
class ServerProcess:
    """A reflector (or stand-in) subprocess; its stderr goes to `log_path`."""

    proc: subprocess.Popen[bytes]
    port: int
    store: Path
    log_path: Path
    argv: list[str] = field(default_factory=list)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait up to `timeout`; return the exit status (kill and raise if it does not exit)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"server did not exit within {timeout} s of SIGTERM; log:\n{self.log_tail()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)


def server_command(port: int, store: Path, sender_comp_id: str, target_comp_ids: Sequence[str],
                   reset_on_logon: bool = False, dictionary: Path | None = None,
                   extra_args: Sequence[str] = ()) -> list[str]:
    """The reflector's command line (or the QuickFIX stand-in's, per METAORDER_INTEROP_SERVER)."""
    which = os.environ.get(SERVER_ENV, "reflector").strip().lower()
    if which == "reflector":
        argv = [sys.executable, "-m", "metaorder", "reflector"]
    elif which == "quickfix":
        argv = [sys.executable, str(QUICKFIX_STAND_IN)]
    else:
        raise ValueError(f"{SERVER_ENV} must be 'reflector' or 'quickfix', not {which!r}")
    argv += ["--port", str(port), "--sender-comp-id", sender_comp_id]
    for target in target_comp_ids:
        argv += ["--target-comp-id", target]
    if reset_on_logon:
        argv.append("--reset-on-logon")
    if dictionary is not None:
        argv += ["--dictionary", str(dictionary)]
    argv += ["--store", str(store), *extra_args]
    return argv


def start_reflector(port: int, store: Path, log_path: Path, sender_comp_id: str = "ISLD",
                    target_comp_ids: Sequence[str] = ("QFCLIENT",), reset_on_logon: bool = False,
                    dictionary: Path | None = None, extra_args: Sequence[str] = (),
                    timeout: float = START_TIMEOUT_S) -> ServerProcess:
    """Start the server and return once its port accepts connections."""
    argv = server_command(port, store, sender_comp_id, target_comp_ids, reset_on_logon, dictionary,
                          extra_args)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT / "src"), env.get("PYTHONPATH")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"$ {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, port, store, log_path, argv)
    try:
        wait_for_port(port, timeout=timeout, proc=proc)
    except (RuntimeError, TimeoutError) as exc:
        server.kill()
        raise AssertionError(f"{exc}\n$ {' '.join(argv)}\n{server.log_tail()}") from None
    return server


@pytest.fixture
def free_tcp_port() -> int:
    return free_port()


@pytest.fixture
def reflector_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``start(port, store, **kwargs)``: start_reflector logging to tmp_path; leftovers killed at teardown."""
    started: list[ServerProcess] = []

    def start(port: int, store: Path, **kwargs: object) -> ServerProcess:
        kwargs.setdefault("log_path", tmp_path / f"server-{port}-{len(started)}.log")
        server = start_reflector(port, store, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
