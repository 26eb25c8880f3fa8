"""Test support: start metaorder commands as real processes and talk to them over sockets."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

import metaorder

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
QUICKFIX_DIR = SHARED / "conformance" / "quickfix"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


class MetaorderProcess:
    """``python -m metaorder ...`` with JSON logs; waits for its "accepting" line to learn the port.

    stderr is drained by a thread (a full pipe would block the server) and kept for diagnostics.
    """

    def __init__(self, args: Sequence[str], cwd: Path | None = None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "metaorder", *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
        self.lines: list[str] = []
        self._events: queue.Queue[dict[str, object] | None] = queue.Queue()
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self._events.put(event)
        self._events.put(None)

    def wait_for_log(self, event_name: str, timeout: float = 20.0) -> dict[str, object]:
        while True:
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {event_name!r} log line within {timeout}s:\n" + self.log()) from None
            if event is None:
                raise AssertionError(f"process exited before {event_name!r}:\n" + self.log())
            if event.get("event") == event_name:
                return event

    def wait_for_logs(self, *event_names: str, timeout: float = 20.0) -> dict[str, dict[str, object]]:
        """The first line of each of ``event_names``, in whatever order they come."""
        found: dict[str, dict[str, object]] = {}
        while len(found) < len(event_names):
            try:
                event = self._events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"missing log lines {set(event_names) - set(found)}:\n" + self.log()) from None
            if event is None:
                raise AssertionError(f"process exited before {set(event_names) - set(found)}:\n" + self.log())
            name = event.get("event")
            if isinstance(name, str) and name in event_names:
                found.setdefault(name, event)
        return found

    def wait_listening(self, timeout: float = 20.0) -> int:
        port = self.wait_for_log("accepting", timeout)["port"]
        assert isinstance(port, int)
        return port

    def log(self) -> str:
        return "\n".join(self.lines[-60:])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._drain.join(timeout=5)
        return code


def start_reflector(
    store: Path,
    sender: str = "ISLD",
    targets: Sequence[str] = ("TW44", "TW"),
    reset_on_logon: bool = True,
    dictionary: Path | None = None,
    extra: Sequence[str] = (),
) -> tuple[MetaorderProcess, int]:
    args = ["reflector", "--port", "0", "--sender-comp-id", sender, "--store", str(store), "--log-format", "json"]
    for target in targets:
        args += ["--target-comp-id", target]
    if reset_on_logon:
        args.append("--reset-on-logon")
    if dictionary is not None:
        args += ["--dictionary", str(dictionary)]
    proc = MetaorderProcess([*args, *extra])
    try:
        port = proc.wait_listening()
    except BaseException:
        proc.stop(signal.SIGKILL)
        raise
    return proc, port


@contextlib.contextmanager
def write_locked(db_path: Path) -> Iterator[None]:
    """Hold an SQLite database's write lock: its writer (thread or applier process) cannot commit
    until the block ends."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def implements(obj: object, protocol: type) -> bool:
    """Whether ``obj`` has every public method and attribute ``protocol`` declares.

    The structural check ``isinstance`` makes for a ``runtime_checkable`` Protocol; the Protocols
    of the modules compiled with mypyc cannot be runtime-checkable.
    """
    names = {n for n in (*vars(protocol), *getattr(protocol, "__annotations__", {})) if not n.startswith("_")}
    return bool(names) and all(hasattr(obj, n) for n in names)


#: For tests of checks that only Python code can make: compiled code converts a bool to an int or
#: float when it is passed where one is declared, before the callee can see it was a bool.
pure_python_only = pytest.mark.skipif(
    metaorder.IMPLEMENTATION == "compiled", reason="compiled code converts bool at a typed boundary")


def load_bench(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module (the benchmark scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
