#!/usr/bin/env python3
"""``make bench``: metaorder's benchmark harness.  Numbers go to stdout and into README.md.

Benchmarks, not tests: nothing here asserts a time.  What is measured (``--only`` picks sections):

- ``codec``: frame+decode, encode and data-dictionary validation of a NewOrderSingle, messages/s on one core;
- ``matching``, ``market``, ``intake_path``: the in-process scripts ``bench/bench_*.py`` (the order book's
  operations/s, a simulated day's wall time, the intake's CPU time per order without sockets);
- socket figures, one server at a time, each driven over loopback by the compiled load generator
  (``bench/loadgen.c``) in its own process: saturated replies/s (200 orders in flight) and latency
  percentiles at 5,000 and 10,000 orders/s offered (coordinated-omission-free: from each order's
  scheduled send time).  The servers (:data:`TARGETS`):
    ``floor``        ``bench/echo_server.c``, a bare C framer that acks: the cost of the load generator, the
                     kernel and the scheduler, under every other figure;
    ``intake``       ``metaorder run`` acking NewOrderSingles (normalize, risk, book, journal + store);
    ``quickfix``     QuickFIX C++ (Debian's libquickfix) acking them, file store, data dictionary on;
    ``reflector``    ``metaorder reflector`` echoing them (SQLite store);
    ``floor-py``, ``quickfix-py`` (only when named): the floor driven by ``bench/loadgen.py`` (what the
                     Python load generator adds), and QuickFIX's C++ engine under a Python application;
  servers take turns: each repeat starts every server afresh, in an order rotated by one per repeat, so a
  machine that slows down for a minute slows them all; each figure is the median over repeats;
- ``restart``: ``bench/bench_restart.py``: ``metaorder run`` starting on a 10,000,000-entry journal with a
  recovery snapshot 50,000 entries before its end, seconds to the first ack (the journal is written once
  into var/bench/, about 8 minutes; the snapshot once per build: the fold of 10M entries, minutes);
- ``scale``: ``bench/bench_scale_socket.py``: ack latency at 5,000/s with an empty book and with 1,000,000
  open orders (10,000 parents, 500 symbols), and the memory per open order;
- ``fillpath``: ``bench/bench_fillpath.py``: venue fill → the client ExecutionReports of the 100 orders of
  its parent (allocation, journal, reports) through ``metaorder run``, p50/p99 at 100, 300 and 1,000 fills/s,
  driven by the compiled ``bench/fillpath.c`` (the engine's venue and OMS client at once);
- ``lab``: execution quality, ``metaorder lab`` on the standard flow, seeds 1..3 (about two minutes).

The tools in C and C++ are compiled into ``build/bench/`` first (``bench/native_tools.py``); QuickFIX C++ is
skipped with a message where libquickfix-dev is not installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import native_tools  # noqa: E402

import metaorder  # noqa: E402
from metaorder.fix.codec import FieldValue, Framer, decode, encode  # noqa: E402
from metaorder.fix.fix44 import builtin_fix44  # noqa: E402
from metaorder.lab import bench_figures  # noqa: E402
from metaorder.lab.report import bench_markdown  # noqa: E402
from metaorder.logs import configure_logging  # noqa: E402

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
SATURATE_WINDOW = 200
RATES = (5000, 10000)  # orders/s offered in the latency runs
FIX44_XML = next((p for p in (Path("/usr/share/quickfix/FIX44.xml"),
                              ROOT.parent / "shared" / "conformance" / "quickfix" / "FIX44.xml") if p.is_file()), None)


def per_second(fn: Callable[[], object], seconds: float = 1.0) -> float:
    n = 0
    batch = 1000
    t0 = time.perf_counter()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            return n / elapsed


def codec_figures() -> dict[str, float]:
    header: list[tuple[int, FieldValue]] = [(34, 12345), (49, "OMS1"), (52, "20261123-10:00:00.123"), (56, "METAORDER")]
    body: list[tuple[int, FieldValue]] = [
        (11, "ORD-000123456"), (1, "ACC1"), (55, "MSFT"), (54, "1"), (60, "20261123-10:00:00.123"), (38, 100),
        (40, "2"), (44, "412.25"), (59, "0"), (847, 1000), (848, "Urgency=HIGH")]
    raw = encode("FIX.4.4", "D", header, body)
    framer = Framer()
    dictionary = builtin_fix44()

    def frame_and_decode() -> object:
        framer.feed(raw)
        frame = framer.next_frame()
        assert isinstance(frame, bytes)
        return decode(frame)

    msg = decode(raw)
    assert not isinstance(msg, type(None)) and dictionary.validate(msg) is None  # type: ignore[arg-type]
    return {
        "decode_per_s": per_second(frame_and_decode),
        "encode_per_s": per_second(lambda: encode("FIX.4.4", "D", header, body)),
        "validate_per_s": per_second(lambda: dictionary.validate(msg)),  # type: ignore[arg-type]
    }


class Server:
    """A server process, ready once a line of its stderr matches ``ready``; stderr is drained after that."""

    def __init__(self, cmd: Sequence[str], ready: re.Pattern[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        seen: list[str] = []
        for line in self.proc.stderr:
            seen = [*seen[-10:], line.rstrip()]
            if ready.search(line):
                break
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{cmd[0]} did not start within 30 s: {seen}")
        else:
            self.proc.wait()
            raise RuntimeError(f"{Path(cmd[0]).name} exited ({self.proc.returncode}) before it was ready: {seen}")
        # keep draining stderr so the server never blocks on a full pipe
        self._drain = subprocess.Popen(["cat"], stdin=self.proc.stderr, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if hasattr(self, "_drain"):
            self._drain.wait()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# -- the servers under load -------------------------------------------------------------------------------

INTAKE_CONFIG = """
[metrics]
port = 0  # never the default 9879: a `make run` beside the benchmark would keep the intake from starting
[acceptor]
port = {port}
[[acceptor.sessions]]
target_comp_id = "LOADGEN"
[risk]  # every per-order check on; credit and rate limits high enough not to refuse the benchmark's flow
max_order_qty = 100000
max_order_notional = "5000000"
price_collar_pct = "10"
max_open_notional = "1000000000000"
max_orders_per_second = 100000
[[instrument]]
symbol = "ACME"
reference_price = "142.50"
[store]
path = "{tmp}/store.db"
[journal]
path = "{tmp}/journal.db"
[logging]
format = "json"
"""


def floor_cmd(port: int, tmp: Path) -> list[str]:
    return [str(native_tools.BUILD_DIR / "echo_server"), "--port", str(port)]


def intake_cmd(port: int, tmp: Path) -> list[str]:
    config = tmp / "metaorder.toml"
    config.write_text(INTAKE_CONFIG.format(port=port, tmp=tmp))
    return [sys.executable, "-m", "metaorder", "run", "--config", str(config)]


def reflector_cmd(port: int, tmp: Path) -> list[str]:
    return [sys.executable, "-m", "metaorder", "reflector", "--port", str(port), "--sender-comp-id", "ISLD",
            "--target-comp-id", "LOADGEN", "--reset-on-logon", "--store", str(tmp / "store.db"),
            "--log-format", "json"]


def quickfix_cmd(port: int, tmp: Path) -> list[str]:
    store = tmp / "qf-store"
    store.mkdir()
    cmd = [str(native_tools.BUILD_DIR / "quickfix_echo"), "--port", str(port), "--sender-comp-id", "ISLD",
           "--target-comp-id", "LOADGEN", "--reset-on-logon", "--store", str(store)]
    return [*cmd, "--dictionary", str(FIX44_XML)] if FIX44_XML else cmd


def quickfix_py_cmd(port: int, tmp: Path) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "quickfix_echo_acceptor.py"), "--port", str(port),
            "--sender-comp-id", "ISLD", "--target-comp-id", "LOADGEN", "--reset-on-logon",
            "--store", str(tmp / "qf-store")]


@dataclass(frozen=True)
class Target:
    """A server under load: how to start it, how to tell it is ready, how the load generator talks to it."""

    label: str
    command: Callable[[int, Path], list[str]]
    ready: str  # a regular expression on its stderr
    target_comp_id: str = "ISLD"
    loadgen_args: tuple[str, ...] = ("--reply-type", "8")
    python_loadgen: bool = False
    default: bool = True  # run unless --only names it or not
    needs: str = ""  # the compiled tool it runs (skipped when it cannot be built)


TARGETS: dict[str, Target] = {
    "floor": Target("floor: bare C echo server (`bench/echo_server.c`)", floor_cmd, r"listening on port",
                    needs="echo_server"),
    "floor-py": Target("floor, driven by the Python load generator (`bench/loadgen.py`)", floor_cmd,
                       r"listening on port", python_loadgen=True, default=False, needs="echo_server"),
    "intake": Target("`metaorder run`: NewOrderSingle → ack (normalize, risk, book, journal + store)", intake_cmd,
                     r'"accepting"', "METAORDER", ("--reply-type", "8", "--symbol", "ACME", "--price", "142.00")),
    "quickfix": Target("QuickFIX C++ (Debian's libquickfix): NewOrderSingle → ack, file store"
                       + (", data dictionary" if FIX44_XML else ""), quickfix_cmd, r"listening on port",
                       needs="quickfix_echo"),
    "reflector": Target("`metaorder reflector`: NewOrderSingle echoed (SQLite store)", reflector_cmd,
                        r'"accepting"', loadgen_args=("--reply-type", "D")),
    "quickfix-py": Target("QuickFIX 1.16 (C++ engine, Python app, file store): echo", quickfix_py_cmd,
                          r"listening on port", loadgen_args=("--reply-type", "D"), default=False),
}


def loadgen(port: int, target: Target, args: Sequence[str], python: bool, realtime: bool) -> dict[str, Any]:
    """One load generator run's JSON line; raises when there was no session or no result."""
    if python or target.python_loadgen:
        cmd = [sys.executable, str(ROOT / "bench" / "loadgen.py")]
    else:
        cmd = [str(native_tools.BUILD_DIR / "loadgen"), *(["--realtime"] if realtime else [])]
    out = subprocess.run(
        [*cmd, "--port", str(port), "--target-comp-id", target.target_comp_id, "--sender-comp-id", "LOADGEN",
         "--reset-seq", *target.loadgen_args, *args],
        capture_output=True, text=True, timeout=300,
    )
    lines = out.stdout.strip().splitlines()
    if out.returncode not in (0, 1) or not lines:  # 1: replies missing, still figures worth showing
        raise RuntimeError(f"loadgen failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if out.returncode == 1:
        print(f"{target.label}: replies missing: {out.stderr.strip()[-300:]}", file=sys.stderr)
    return result


def measure(target: Target, count: int, duration: float, python: bool, realtime: bool) -> dict[str, Any]:
    """One repeat against a fresh server: a warm-up, a saturated run, then one run per rate of :data:`RATES`."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = Server(target.command(port, Path(tmp)), re.compile(target.ready))
        try:
            def run(*args: str) -> dict[str, Any]:
                return loadgen(port, target, args, python, realtime)

            run("--mode", "saturate", "--count", "5000", "--window", str(SATURATE_WINDOW))  # warm-up
            sat = run("--mode", "saturate", "--count", str(count), "--window", str(SATURATE_WINDOW))
            figures: dict[str, Any] = {"saturated_per_s": sat["msgs_per_s"], "missing": sat["missing"]}
            for rate in RATES:
                r = run("--mode", "rate", "--rate", str(rate), "--duration", str(duration), "--warmup", "1")
                k = rate // 1000
                for q in ("p50", "p99", "p99.9"):
                    figures[f"{q}_{k}k_us"] = r[f"{q}_us"]
                figures[f"send_lag_p99_{k}k_us"] = r.get("send_lag_p99_us")
                figures["missing"] += r["missing"]
                figures["realtime"] = r.get("realtime")  # None: the Python load generator
        finally:
            server.stop()
    return figures


def load_figures(names: Sequence[str], repeat: int, count: int, duration: float, python: bool,
                 realtime: bool) -> dict[str, dict[str, Any]]:
    """Medians per server over ``repeat`` rounds; each round runs every server once, the order rotated."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for rep in range(repeat):
        order = [*names[rep % len(names):], *names[:rep % len(names)]]
        for name in order:
            try:
                figures = measure(TARGETS[name], count, duration, python, realtime)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                print(f"{name}: run {rep + 1} failed: {exc}", file=sys.stderr)
                continue
            runs[name].append(figures)
            print(json.dumps({name: figures, "run": rep + 1}), flush=True)
    results: dict[str, dict[str, Any]] = {}
    for name, done in runs.items():
        if not done:
            continue
        median: dict[str, Any] = {"runs": len(done), "missing": sum(f["missing"] for f in done),
                                  "realtime": done[0]["realtime"]}
        for key in done[0]:
            values = [f[key] for f in done if isinstance(f.get(key), int | float) and not isinstance(f[key], bool)]
            if key not in median and values:
                median[key] = statistics.median(values)
        results[name] = median
    return results


def script_json(name: str, *args: str, timeout: float = 600) -> dict[str, float] | None:
    """Run ``bench/<name> --json`` and return its last JSON line (None if the script is absent)."""
    script = ROOT / "bench" / name
    if not script.exists():
        return None
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out = subprocess.run([sys.executable, str(script), "--json", *args], capture_output=True, text=True,
                         timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed: {out.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- the README block ---------------------------------------------------------------------------------------

def _ms(us: float | None) -> str:
    return "–" if us is None else f"{us / 1000:.3f}"


def _busy(machine: dict[str, float] | None) -> str:
    """The 1-minute load average around the socket runs: above the core count, other processes shared the
    cores with the servers (and the figures say as much about them)."""
    if not machine:
        return ""
    return (f" One-minute load average {machine['loadavg_before']:.1f} before the socket runs, "
            f"{machine['loadavg_after']:.1f} after ({os.cpu_count()} cores).")


def load_table(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| server (over loopback, one FIX session) | saturated, replies/s "
             + "".join(f"| {rate:,}/s offered: p50 / p99 / p99.9, ms " for rate in RATES) + "|",
             "|---|---|" + "---|" * len(RATES)]
    for name, target in TARGETS.items():
        r = results.get(name)
        if not r:
            continue
        cells = [f"{r['saturated_per_s']:,.0f}"]
        for rate in RATES:
            k = rate // 1000
            cells.append(" / ".join(_ms(r.get(f"{q}_{k}k_us")) for q in ("p50", "p99", "p99.9")))
        lines.append(f"| {target.label} | " + " | ".join(cells) + " |")
    return lines


def target_lines(results: dict[str, dict[str, Any]]) -> list[str]:
    """Issue 17's targets for the intake, next to the figures of the same run."""
    i, q = results.get("intake"), results.get("quickfix")
    if not i:
        return []

    def row(what: str, value: float | None, limit: float, shown: str) -> str:
        met = "–" if value is None else ("yes" if value <= limit else "**no**")
        return f"| {what} | {shown} | {met} |"

    lines = ["| intake target (issue 17) | figure | met |", "|---|---|---|",
             row("ack p50 at 5,000/s ≤ 0.15 ms", i.get("p50_5k_us"), 150, f"{_ms(i.get('p50_5k_us'))} ms"),
             row("ack p99 at 5,000/s ≤ 0.5 ms", i.get("p99_5k_us"), 500, f"{_ms(i.get('p99_5k_us'))} ms"),
             row("ack p99 at 10,000/s ≤ 1 ms", i.get("p99_10k_us"), 1000, f"{_ms(i.get('p99_10k_us'))} ms")]
    if q:
        ratio = i["saturated_per_s"] / q["saturated_per_s"]
        lines.append(f"| saturated ≥ 1.2 × QuickFIX C++ | {ratio:.2f} × ({i['saturated_per_s']:,.0f} against "
                     f"{q['saturated_per_s']:,.0f}/s) | {'yes' if ratio >= 1.2 else '**no**'} |")
    return lines


def fillpath_lines(f: dict[str, Any] | None) -> list[str]:
    """Issue 17's fill-path target beside the figures at each rate (``bench/bench_fillpath.py --json``)."""
    if not f:
        return []
    cells = []
    for rate in f["rates"]:
        pre = f"fill_{rate:g}_"
        done = f"{f.get(pre + 'fills_completed', 0):,.0f}/{f.get(pre + 'fills_sent', 0):,.0f}"
        sent = f.get(pre + "send_rate") or rate  # below the rate: fills waited for their price slot (overload)
        short = f", offered {sent:,.0f}/s" if sent < 0.95 * rate else ""
        cells.append(f"{rate:,.0f}/s: {_ms(f.get(pre + 'p50_us'))} / {_ms(f.get(pre + 'p99_us'))} ms ({done}{short})")
    p99 = f.get("fill_1000_p99_us")
    met = "–" if p99 is None else ("yes" if p99 <= 1000 and not f.get("fill_1000_error") else "**no**")
    return [f"| venue fill → client 150=F of each of its parent's {f.get('orders') or 100} orders (allocation, "
            f"journal, reports), p50 / p99 (fills completed) | {'; '.join(cells)} | p99 ≤ 1 ms at 1,000/s: {met} |"]


def render(results: dict[str, dict[str, Any]], lab: dict[str, Any] | None = None) -> str:
    lines = [
        f"Measured by `make bench` on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"order path {metaorder.IMPLEMENTATION}.",
        "",
        "| what | figure | target |",
        "|---|---|---|",
    ]
    c = results.get("codec")
    if c:
        lines += [
            f"| codec: frame + decode a NewOrderSingle | {c['decode_per_s']:,.0f} msgs/s | |",
            f"| codec: encode a NewOrderSingle | {c['encode_per_s']:,.0f} msgs/s | |",
            f"| data dictionary validation | {c['validate_per_s']:,.0f} msgs/s | |",
        ]
    m = results.get("matching")
    if m:
        lines.append(f"| order book: 60% add, 30% cancel, 10% crossing | {m['book_ops_per_s']:,.0f} ops/s "
                     "| ≥ 200,000 |")
    d = results.get("market")
    if d:
        lines.append(f"| one simulated 6.5 h day, one instrument, background flow | {d['day_seconds']:.2f} s wall "
                     f"({d['events']:,.0f} events, {d['trades']:,.0f} trades) | < 10 s |")
    p = results.get("intake_path")
    if p:
        lines.append(f"| intake path in one process, CPU per order (SQLite / in-memory journal and store) "
                     f"| {p['us_per_order']:.1f} / {p['us_per_order_memory']:.1f} µs | |")
    r = results.get("restart")
    if r:
        lines.append(f"| restart on a {r['journal_entries']:,.0f}-entry journal, snapshot {r['replayed_entries']:,.0f} "
                     f"entries before its end: start → first ack (median / max of runs) "
                     f"| {r['first_ack_s_median']:.2f} / {r['first_ack_s_max']:.2f} s "
                     f"(listening {r['listening_s_median']:.2f} s) | ≤ 5 s |")
    sc = results.get("scale")
    if sc:
        lines.append(f"| ack latency at 5,000/s, empty book → {sc['orders']:,.0f} open orders (10,000 parents, 500 "
                     f"symbols), p50 / p99 | {_ms(sc.get('empty_p50_us'))} / {_ms(sc.get('empty_p99_us'))} → "
                     f"{_ms(sc.get('full_p50_us'))} / {_ms(sc.get('full_p99_us'))} ms "
                     f"(× {sc.get('p50_us_full_over_empty', 0):.2f} / × {sc.get('p99_us_full_over_empty', 0):.2f}) "
                     "in the first seconds after the start; "
                     f"{_ms(sc.get('empty_settled_p50_us'))} / {_ms(sc.get('empty_settled_p99_us'))} → "
                     f"{_ms(sc.get('full_settled_p50_us'))} / {_ms(sc.get('full_settled_p99_us'))} ms "
                     f"(× {sc.get('settled_p50_us_full_over_empty', 0):.2f} / "
                     f"× {sc.get('settled_p99_us_full_over_empty', 0):.2f}) once settled | within 20% |")
        lines.append(f"| memory per open client order (daemon's resident size, full − empty, over the orders) "
                     f"| {sc.get('bytes_per_open_order', 0):,.0f} bytes | stated |")
    lines += fillpath_lines(results.get("fillpath"))
    if len(lines) == 4:
        lines = lines[:1]  # no in-process figure in this run
    loads = {name: results[name] for name in TARGETS if name in results}
    if loads:
        runs = sorted({r["runs"] for r in loads.values()})
        lags = [r[k] for r in loads.values() for k in ("send_lag_p99_5k_us", "send_lag_p99_10k_us")
                if isinstance(r.get(k), int | float)]
        compiled = [r for r in loads.values() if r.get("realtime") is not None]  # None: bench/loadgen.py
        if compiled:
            realtime = " (SCHED_FIFO)" if all(r["realtime"] for r in compiled) else ""
            lag = f"; its own send lag p99 at most {max(lags):.0f} µs" if lags else ""
            generator = f"`bench/loadgen.c` in its own process on the same {os.cpu_count()} cores{realtime}{lag}"
        else:
            generator = f"`bench/loadgen.py` (Python) in its own process on the same {os.cpu_count()} cores"
        targets = target_lines(loads)
        lines += ["", *load_table(loads), *(["", *targets] if targets else []), "",
                  f"Load figures: medians of {'/'.join(map(str, runs))} runs per server, servers in turn (order "
                  f"rotated each round); the load generator is {generator}.{_busy(results.get('machine'))}"]
        missing = sum(r.get("missing", 0) for r in loads.values())
        if missing:
            lines.append(f"**{missing} replies missing** across the runs (see the run's output).")
    if lab is not None:
        lines += ["", bench_markdown(lab)]
    return "\n".join(lines)


def write_readme(path: Path, table: str) -> int:
    text = path.read_text()
    if START not in text or END not in text:
        print(f"{path}: no {START} ... {END} markers; not updated", file=sys.stderr)
        return 1
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(f"{before}{START}\n{table}\n{END}{after}")
    return 0


IN_PROCESS = {"matching": "bench_matching.py", "market": "bench_market.py", "intake_path": "bench_intake_path.py"}
#: Whole-process benchmarks run by their own scripts, after the socket figures (section -> script, arguments).
WHOLE = {"restart": ("bench_restart.py", ("--events", "10000000", "--tail", "50000")),
         "scale": ("bench_scale_socket.py", ("--orders", "1000000")),
         "fillpath": ("bench_fillpath.py", ("--rates", "100,300,1000", "--duration", "3", "--warmup", "0.5"))}
SECTIONS = ("codec", *IN_PROCESS, *TARGETS, *WHOLE, "lab")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", type=Path, help="write the figures into this README between the markers")
    parser.add_argument("--no-readme", action="store_true", help="print the figures only (overrides --readme)")
    parser.add_argument("--only", metavar="NAMES",
                        help=f"comma-separated sections to run, of: {', '.join(SECTIONS)} (the README is then "
                             "left alone: a subset would lose the other figures)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the socket figures")
    parser.add_argument("--count", type=int, default=50_000, help="replies per saturated run")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per latency run (the first left out)")
    parser.add_argument("--python-loadgen", action="store_true", help="drive every server with bench/loadgen.py")
    parser.add_argument("--realtime", action="store_true",
                        help="run the load generator with SCHED_FIFO: its own lateness stays tiny on a busy machine, "
                             "but it then takes CPU before the server under test (on 2 shared cores, the server "
                             "measured slower with it)")
    parser.add_argument("--no-quickfix", action="store_true", help="skip the QuickFIX baseline")
    parser.add_argument("--no-lab", action="store_true", help="skip the execution-quality section (metaorder lab)")
    parser.add_argument("--lab-seeds", type=int, default=3, help="seeds of the execution-quality section")
    args = parser.parse_args(argv)
    if args.only:
        chosen = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in chosen if name not in SECTIONS]
        if unknown:
            parser.error(f"--only: unknown section {unknown[0]!r} (choose from {', '.join(SECTIONS)})")
    else:
        chosen = [name for name in SECTIONS if name not in TARGETS or TARGETS[name].default]
        if args.no_quickfix:
            chosen.remove("quickfix")
        if args.no_lab:
            chosen.remove("lab")
    if args.repeat < 1 or args.count < 1 or args.duration <= 1:
        parser.error("--repeat and --count must be positive, --duration over 1 s")

    built = native_tools.build_all()
    for result in built.values():
        if not isinstance(result, Path):
            print(f"skipped {result}", file=sys.stderr)
    servers = [name for name in TARGETS if name in chosen and (not TARGETS[name].needs
                                                               or isinstance(built[TARGETS[name].needs], Path))]
    if servers and not isinstance(built["loadgen"], Path) and not args.python_loadgen:
        print("no compiled load generator: the socket figures use bench/loadgen.py", file=sys.stderr)
        args.python_loadgen = True

    results: dict[str, dict[str, Any]] = {}
    if "codec" in chosen:
        results["codec"] = codec_figures()
        print(json.dumps({"codec": results["codec"]}), flush=True)
    for key, script in IN_PROCESS.items():
        if key in chosen:
            figures = script_json(script)
            if figures is not None:
                results[key] = figures
                print(json.dumps({key: figures}), flush=True)
    if servers:
        before = os.getloadavg()[0]
        loads = load_figures(servers, args.repeat, args.count, args.duration, args.python_loadgen,
                             args.realtime)
        results.update(loads)
        results["machine"] = {"loadavg_before": before, "loadavg_after": os.getloadavg()[0]}
        print(json.dumps({"load": loads, "machine": results["machine"]}), flush=True)
    for key, (script, script_args) in WHOLE.items():
        if key in chosen:
            figures = script_json(script, *script_args, timeout=7200)
            if figures is not None:
                results[key] = figures
                print(json.dumps({key: figures}), flush=True)
    lab: dict[str, Any] | None = None
    if "lab" in chosen:
        cwd = Path.cwd()
        os.chdir(ROOT)  # the lab's default configs are relative to the repository
        configure_logging("console", "WARNING")  # the figures, not every parent's log lines
        try:
            lab = bench_figures(seeds=args.lab_seeds, jobs=min(os.cpu_count() or 1, 2))
        finally:
            os.chdir(cwd)
        print(json.dumps({"lab": {"wall_s": lab["wall_s"], "targets": lab["targets"]}}), flush=True)
    table = render(results, lab)
    print(table)
    if args.readme and not args.no_readme and not args.only:
        return write_readme(args.readme, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
