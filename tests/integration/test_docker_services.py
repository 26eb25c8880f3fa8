"""The compose stack without Docker: each service's `command:` from docker/compose.yml run as a process.

No Docker engine runs here, so the stack is reproduced as the containers would run it: each service
gets its own directory standing for its container (``/app`` → ``<tmp>/<service>/app``, the docker
configs where the Dockerfile copies them), the service names resolve to 127.0.0.1, and the fixed ports
become free ones: the venues and the engine listen on port 0 and the ports they log are what the
engine's venue entries and the consumer's ``--port`` are rewritten to.  Every other byte of the
configs and of the commands is the shipped one.  Then the stack is used as ops and an OMS would:
the healthchecks pass, ``/readyz`` answers 200, an order from OMS1 fills on the venues, its copies
reach the consumer's file, and every service stops within its ``stop_grace_period``.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml  # PyYAML ships no type stubs (mypy: ignore_missing_imports); only safe_load is used

from metaorder.config import load_venues_config
from tests.integration.fixclient import FixClient
from tests.integration.test_pipeline import collect, twap_order
from tests.support import MetaorderProcess
from tests.unit.test_docker_stack import copies, healthcheck, seconds

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]


class Service(MetaorderProcess):
    """A compose service's command as a process, with its log lines counted by event name."""

    def wait_for_each(self, counts: Mapping[str, int], timeout: float = 20.0) -> dict[str, list[dict[str, object]]]:
        """Every line of each event in ``counts`` until each has come that many times, in any order."""
        found: dict[str, list[dict[str, object]]] = {name: [] for name in counts}
        deadline = time.monotonic() + timeout
        while any(len(found[n]) < k for n, k in counts.items()):
            try:
                event = self._events.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                missing = {n: k - len(found[n]) for n, k in counts.items() if len(found[n]) < k}
                raise AssertionError(f"missing log lines {missing} after {timeout}s:\n" + self.log()) from None
            if event is None:
                raise AssertionError("process exited before its log lines:\n" + self.log())
            name = event.get("event")
            if isinstance(name, str) and name in found:
                found[name].append(event)
        return found


class Container:
    """What a service's container holds of the image: /app, its configs and the healthcheck probe."""

    def __init__(self, tmp: Path, service: str) -> None:
        self.root = tmp / service
        for dest, source in copies().items():
            if source.startswith("docker/"):
                target = self.root / dest.relative_to("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ROOT / source, target)
        self.workdir = self.path("/app")  # the Dockerfile's WORKDIR: relative defaults resolve there

    def path(self, in_container: str) -> Path:
        return self.root / in_container.lstrip("/")

    def rewrite(self, in_container: str, ports: Mapping[int, int]) -> None:
        """Hosts to 127.0.0.1 (all interfaces and the compose service names alike), ``port = N`` to
        ``ports[N]``: a port the map does not know fails, so a new listener cannot go unnoticed."""
        config = self.path(in_container)
        text = re.sub(r'(?m)^host = "(0\.0\.0\.0|' + "|".join(SERVICES) + ')"', 'host = "127.0.0.1"',
                      config.read_text(encoding="utf-8"))
        config.write_text(re.sub(r"(?m)^port = (\d+)", lambda m: f"port = {ports[int(m.group(1))]}", text),
                          encoding="utf-8")

    def command(self, args: Sequence[str], ports: Mapping[int, int] | None = None) -> list[str]:
        """``args`` as they run here: /app paths in this directory, a service name after ``--host`` as
        127.0.0.1, the ports of ``ports`` (``--port N`` and ``127.0.0.1:N`` in URLs) replaced."""
        ports = ports or {}
        out: list[str] = []
        for i, arg in enumerate(args):
            if arg.startswith("/app/"):
                arg = str(self.path(arg))
            elif i > 0 and args[i - 1] == "--host" and arg in SERVICES:
                arg = "127.0.0.1"
            elif i > 0 and args[i - 1] == "--port":
                arg = str(ports[int(arg)])
            elif re.match(r"^(tcp|http)://", arg):
                arg = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[int(m.group(1))]}", arg)
            out.append(arg)
        return out

    def probe(self, check: Sequence[str], ports: Mapping[int, int]) -> subprocess.CompletedProcess[str]:
        """A healthcheck's CMD (``python /app/healthcheck.py URL...``) run here."""
        assert check[0] == "python", check
        return subprocess.run([sys.executable, *self.command(check[1:], ports)], capture_output=True, text=True,
                              timeout=30, check=False)


def command(service: str) -> list[str]:
    return [str(a) for a in SERVICES[service]["command"]]


def stop_within_grace_period(service: str, proc: MetaorderProcess) -> int:
    grace = seconds(SERVICES[service]["stop_grace_period"])
    started = time.monotonic()
    code = proc.stop(signal.SIGTERM, timeout=grace)
    took = time.monotonic() - started
    assert took < grace, f"{service} took {took:.1f}s to stop (stop_grace_period {grace}s):\n{proc.log()}"
    return code


def wait_for_lines(path: Path, done: Callable[[list[dict[str, Any]]], bool], timeout: float) -> list[dict[str, Any]]:
    """The JSON lines of ``path`` once ``done`` says they are complete (the consumer appends as copies
    arrive; nothing in its output says when the file was written but the file itself)."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        complete = text[: text.rfind("\n") + 1]  # a line being written is read next time
        lines = [json.loads(line) for line in complete.splitlines() if line.strip()]
        if done(lines):
            return lines
        assert time.monotonic() < deadline, f"{path}: {len(lines)} lines after {timeout}s: {text[-2000:]}"
        time.sleep(0.05)


@pytest.fixture
def stack() -> Iterator[list[tuple[str, MetaorderProcess]]]:
    """The started services, stopped (SIGKILL) at the end if the test has not stopped them."""
    started: list[tuple[str, MetaorderProcess]] = []
    yield started
    for _, proc in reversed(started):
        proc.stop(signal.SIGKILL)


def test_each_compose_service_command_runs_and_together_they_trade_ready_and_copy(
        tmp_path: Path, stack: list[tuple[str, MetaorderProcess]]) -> None:
    # venues: every venue on a free port, learnt from its "accepting" line
    venues = Container(tmp_path, "venues")
    venues_args = command("venues")
    config = venues_args[venues_args.index("--config") + 1]
    venue_ports = {int(p) for p in SERVICES["venues"]["expose"]}
    comp_ids = {v.port: v.comp_id for v in load_venues_config(venues.path(config)).venue}
    venues.rewrite(config, dict.fromkeys(venue_ports, 0))
    venues_proc = Service(venues.command(venues_args), cwd=venues.workdir)
    stack.append(("venues", venues_proc))
    accepting = venues_proc.wait_for_each({"accepting": len(venue_ports)})["accepting"]
    bound = {str(line["sessions"]).split("<-")[0].strip("['\" "): int(str(line["port"])) for line in accepting}
    ports = {port: bound[comp] for port, comp in comp_ids.items()}
    venues_probe = SERVICES["venues"]["healthcheck"]["test"][1:]
    probed = venues.probe(venues_probe, ports)
    assert probed.returncode == 0, probed.stdout

    # engine: the OMS acceptor, the drop copy and the metrics on free ports, the venues at theirs
    engine = Container(tmp_path, "engine")
    engine_args = command("engine")
    engine.rewrite(engine_args[engine_args.index("--config") + 1], {9876: 0, 9877: 0, 9879: 0, **ports})
    engine_proc = Service(engine.command(engine_args), cwd=engine.workdir)
    stack.append(("engine", engine_proc))
    lines = engine_proc.wait_for_each({"OMS clients connect here": 1, "accepting": 2, "metrics listening": 1,
                                       "venue session up": len(venue_ports)})
    oms_port = int(str(lines["OMS clients connect here"][0]["port"]))
    dropcopy_port = next(int(str(a["port"])) for a in lines["accepting"] if "DROPCOPY" in str(a["sessions"]))
    metrics_port = int(str(lines["metrics listening"][0]["port"]))
    ports |= {9876: oms_port, 9877: dropcopy_port, 9879: metrics_port}
    _, image_probe = healthcheck()  # the engine keeps the image's HEALTHCHECK
    probed = engine.probe(image_probe, ports)
    assert probed.returncode == 0, probed.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/readyz", timeout=5) as ready:
        assert ready.status == 200

    # dropcopy: the consumer logs on to the engine's drop copy and appends every report to its file
    consumer = Container(tmp_path, "dropcopy")
    consumer_args = command("dropcopy")
    out = consumer.path(consumer_args[consumer_args.index("--out") + 1])
    consumer_proc = Service(consumer.command(consumer_args, ports), cwd=consumer.workdir)
    stack.append(("dropcopy", consumer_proc))
    engine_proc.wait_for_log("drop copy connected")

    with FixClient(oms_port, "OMS1", "METAORDER", timeout=30) as oms:
        oms.logon()
        oms.send("D", twap_order("DOCKER-1", "ACME", "1", 200, 1.0))
        reports = collect(oms, lambda fs: bool(fs) and fs[-1].get(39) == "2", timeout=30)
    fills = [r for r in reports if r.get(150) == "F"]
    assert sum(int(r.get(32) or 0) for r in fills) == 200
    assert {r.get(30) for r in fills} <= set(comp_ids.values()), "filled on the venues service"

    # Each report OMS1 got has its copy in the file: its ExecID (unique) as a value of some line.
    exec_ids = {f'"{r.get(17)}"' for r in reports}
    wait_for_lines(out, lambda ls: all(any(e in json.dumps(line) for line in ls) for e in exec_ids), timeout=10)

    # compose stops the dependents first: the consumer, the engine (its venues still there), the venues
    assert stop_within_grace_period("dropcopy", consumer_proc) == 0, consumer_proc.log()
    assert stop_within_grace_period("engine", engine_proc) == 0, engine_proc.log()
    assert stop_within_grace_period("venues", venues_proc) == 0, venues_proc.log()
    probed = venues.probe(venues_probe, ports)  # and Docker would now see them unhealthy, told why in one line
    assert probed.returncode == 1 and probed.stdout.count("unhealthy: tcp://127.0.0.1:") == len(venue_ports)
