#!/usr/bin/env python3
"""The fill path from outside: venue fill → client ExecutionReports, through ``metaorder run``.

Issue 17's target: "Venue fill → client ExecutionReport (allocation to 100 orders of a parent, journal,
reports): p99 ≤ 1 ms at 1,000 fills/s".  The compiled driver ``bench/fillpath.c`` (built into
``build/bench/`` by ``bench/native_tools.py``) is both ends of the engine: its only venue (an external lit
FIX venue, ATLX) and its OMS client (FILLBENCH).  It sends ``--orders`` limit buys that aggregate into one
parent, waits until the engine's children for the whole parent rest at its venue, then fills them at
``--rate`` fills/s for ``--duration`` s and times each fill from its write to the client report that
completes its allocation.  This script starts the driver and the daemon (production settings: journal and
message store in SQLite behind their redo logs, metrics off, no drop copy), and prints the driver's JSON
line with the daemon's settings added.  A benchmark, never a test: nothing here asserts a time.

    python bench/bench_fillpath.py [--rate 1000 | --rates 100,300,1000] [--duration 5] [--orders 100]
                                   [--warmup S] [--timeout 30] [--profile FILE] [--pure-python] [--json]

``--profile FILE`` runs the daemon under cProfile (with ``METAORDER_PURE_PYTHON=1`` for Python-level
detail) and writes its statistics to FILE at the daemon's clean stop.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import native_tools  # noqa: E402

# Children rest at the buys' limit (the venue's offer is a cent above it) until filled: nothing re-decides
# them (passive_max_age_s), and the orders' one-second window ends without ending them (expiry_grace_s), so
# the whole parent is out at the venue before the first fill and stays there.
CONFIG = """
[metrics]
enabled = false
[acceptor]
port = {oms_port}
[[acceptor.sessions]]
target_comp_id = "FILLBENCH"
[risk]
max_order_qty = 1000000
max_order_notional = "1000000000"
price_collar_pct = "10"
max_open_notional = "1000000000000"
max_orders_per_second = 100000
[[instrument]]
symbol = "ACME"
reference_price = "100.00"
[execution]
passive_max_age_s = 36000
expiry_grace_s = 36000
[[execution.venue]]
name = "ATLX"
kind = "lit"
host = "127.0.0.1"
port = {venue_port}
comp_id = "ATLX"
odd_lots = true
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
[logging]
format = "json"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop, which also writes a profile), SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(rate: float, duration: float, orders: int, *, timeout: float = 30.0, warmup: float = 0.0,
        profile: Path | None = None, pure_python: bool = False, verbose: bool = False,
        log: Path | None = None) -> dict[str, Any]:
    """One measurement against a fresh daemon: the driver's JSON line (``error`` set when there was none)."""
    driver = native_tools.build("fillpath")
    with tempfile.TemporaryDirectory(prefix="fillpath-") as tmp:
        oms_port, venue_port = free_port(), free_port()
        config = Path(tmp) / "metaorder.toml"
        config.write_text(CONFIG.format(oms_port=oms_port, venue_port=venue_port, tmp=tmp))
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if pure_python or profile is not None:
            env["METAORDER_PURE_PYTHON"] = "1"
        daemon_cmd = [sys.executable, *(["-m", "cProfile", "-o", str(profile)] if profile else []),
                      "-m", "metaorder", "run", "--config", str(config)]
        driver_cmd = [str(driver), "--engine-port", str(oms_port), "--venue-port", str(venue_port),
                      "--rate", str(rate), "--duration", str(duration), "--orders", str(orders),
                      "--timeout", str(timeout), "--warmup", str(warmup), *(["--verbose"] if verbose else [])]
        daemon_log = log if log is not None else Path(tmp) / "daemon.log"
        with open(daemon_log, "wb") as err:
            # the driver first: its venue must listen before the engine's first connect attempt
            drv = subprocess.Popen(driver_cmd, stdout=subprocess.PIPE, stderr=None if verbose else subprocess.PIPE)
            daemon = subprocess.Popen(daemon_cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
            try:
                out, drv_err = drv.communicate(timeout=duration + 4 * timeout + 60)
            except subprocess.TimeoutExpired:
                drv.kill()
                out, drv_err = drv.communicate()
            finally:
                _stop(daemon)
        lines = out.decode().strip().splitlines()
        try:
            result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        except ValueError:
            result = {}
        if not result:
            tail = (drv_err or b"").decode(errors="replace").strip()[-300:]
            result = {"error": f"driver exited {drv.returncode} without a result: {tail}"}
        if "error" in result:
            result["daemon_log_tail"] = daemon_log.read_text(errors="replace").strip().splitlines()[-5:]
        result.update(exit_status=drv.returncode, rate=rate, duration_s=duration, implementation=_implementation(env))
        return result


def _implementation(env: dict[str, str]) -> str:
    """What the daemon ran: "compiled", or "python" (PURE_PYTHON, or compiled modules older than their sources)."""
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", "import metaorder; print(metaorder.IMPLEMENTATION)"],
                         capture_output=True, text=True, env=env, timeout=60)
    return out.stdout.strip() or "unknown"


def flatten(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One flat JSON object for ``bench/run.py`` (``fill_<rate>_<key>``), from one run per rate."""
    flat: dict[str, Any] = {"rates": [r["rate"] for r in results]}
    for r in results:
        pre = f"fill_{r['rate']:g}_"
        for key in ("p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "fills_sent", "fills_completed",
                    "reports_per_fill", "completion_rate", "send_rate", "sched_p99_us", "send_lag_p99_us",
                    "implementation", "error"):
            if key in r:
                flat[pre + key] = r[key]
    flat["orders"] = results[0].get("orders") if results else None
    return flat


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="venue fills per second (default 1000)")
    parser.add_argument("--rates", help="comma-separated rates, one fresh daemon each (overrides --rate)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of fills (default 5)")
    parser.add_argument("--orders", type=int, default=100, help="client orders in the parent (default 100)")
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds of fills left out of the percentiles")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds allowed for each set-up step, and for reports to stop coming")
    parser.add_argument("--profile", type=Path, help="cProfile the daemon (pure Python) into this file")
    parser.add_argument("--pure-python", action="store_true", help="run the daemon's sources uncompiled")
    parser.add_argument("--daemon-log", type=Path, help="keep the daemon's log here")
    parser.add_argument("--verbose", action="store_true", help="the driver says what the engine sends its venue")
    parser.add_argument("--json", action="store_true",
                        help="bench/run.py's form: each run's line on stderr, then one flat line (fill_<rate>_*); "
                             "exit 0 whenever every run measured something")
    args = parser.parse_args(argv)
    try:
        rates = [float(x) for x in args.rates.split(",")] if args.rates else [args.rate]
    except ValueError:
        parser.error(f"--rates: not a comma-separated list of numbers: {args.rates!r}")
    if min(rates) <= 0 or args.duration <= 0 or args.orders < 1 or args.timeout <= 0 or args.warmup < 0:
        parser.error("--rate(s), --duration, --orders and --timeout must be positive")
    results: list[dict[str, Any]] = []
    for rate in rates:
        try:
            result = run(rate, args.duration, args.orders, timeout=args.timeout, warmup=args.warmup,
                         profile=args.profile, pure_python=args.pure_python, verbose=args.verbose,
                         log=args.daemon_log)
        except native_tools.ToolUnavailable as exc:
            print(f"bench_fillpath: {exc}", file=sys.stderr)
            return 2
        results.append(result)
        print(json.dumps(result), file=sys.stderr if args.json else sys.stdout, flush=True)
    if args.json:
        print(json.dumps(flatten(results)), flush=True)
        return 2 if any("error" in r for r in results) else 0
    worst: int = max(r["exit_status"] if r["exit_status"] in (0, 1) else 2 for r in results)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
