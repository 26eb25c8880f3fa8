#!/usr/bin/env python3
"""``make bench``: metaorder's benchmark harness.  Numbers go to stdout and into README.md.

Benchmarks, not tests: nothing here asserts a time.  What is measured:

1. codec: frame+decode and encode of a NewOrderSingle, messages/s on one core;
2. validation against the data dictionary, messages/s;
3. ``metaorder reflector`` with its SQLite store on, driven over loopback by ``bench/loadgen.py`` in a
   separate process: saturated echoes/s (200 orders in flight) and latency percentiles at 5,000
   orders/s offered;
4. ``bench/bench_intake_path.py``: the intake's CPU time per order in one process, without sockets
   (steadier than the load figures on this VM: it times only our code, best of 5 runs);
5. for scale, the same load against QuickFIX (C++ engine, Python application, file store) when the
   ``quickfix`` module is installed;
6. execution quality: ``metaorder lab`` on the standard flow, seeds 1..3 (figures per strategy and the
   issue's targets, :func:`metaorder.lab.bench_figures`; about two minutes on two cores).

Each load figure is the median of ``--repeat`` runs (the machine has 2 cores shared by the server,
the load generator and the store's writer thread, so single runs are noisy).
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import metaorder  # noqa: E402
from metaorder.fix.codec import Framer, decode, encode  # noqa: E402
from metaorder.fix.fix44 import builtin_fix44  # noqa: E402
from metaorder.lab import bench_figures  # noqa: E402
from metaorder.lab.report import bench_markdown  # noqa: E402
from metaorder.logs import configure_logging  # noqa: E402

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"


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
    header = [(34, 12345), (49, "OMS1"), (52, "20261123-10:00:00.123"), (56, "METAORDER")]
    body = [(11, "ORD-000123456"), (1, "ACC1"), (55, "MSFT"), (54, "1"), (60, "20261123-10:00:00.123"),
            (38, 100), (40, "2"), (44, "412.25"), (59, "0"), (847, 1000), (848, "Urgency=HIGH")]
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
    def __init__(self, cmd: Sequence[str], ready: re.Pattern[str]) -> None:
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        for line in self.proc.stderr:
            if ready.search(line):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
        # keep draining stderr so the server never blocks on a full pipe
        self._drain = subprocess.Popen(["cat"], stdin=self.proc.stderr, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._drain.wait()


def loadgen(port: int, target: str, args: Sequence[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "loadgen.py"), "--port", str(port), "--target-comp-id", target,
         "--sender-comp-id", "LOADGEN", "--reset-seq", *args],
        capture_output=True, text=True, timeout=300,
    )
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def echo_figures(server_cmd: Callable[[int, Path], list[str]], ready: str, repeat: int, count: int,
                 duration: float, target: str = "ISLD", extra: Sequence[str] = ()) -> dict[str, float]:
    saturated: list[float] = []
    p50: list[float] = []
    p99: list[float] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            server = Server(server_cmd(port, Path(tmp)), re.compile(ready))
            try:
                loadgen(port, target, [*extra, "--mode", "saturate", "--count", "5000", "--window", "200"])  # warm-up
                sat = loadgen(port, target, [*extra, "--mode", "saturate", "--count", str(count), "--window", "200"])
                rate = loadgen(port, target, [*extra, "--mode", "rate", "--rate", "5000", "--duration", str(duration),
                                              "--warmup", "1"])
            finally:
                server.stop()
        saturated.append(sat["msgs_per_s"])
        p50.append(rate["p50_us"])
        p99.append(rate["p99_us"])
    return {
        "saturated_per_s": statistics.median(saturated),
        "p50_us": statistics.median(p50),
        "p99_us": statistics.median(p99),
        "runs": repeat,
    }


def reflector_cmd(port: int, tmp: Path) -> list[str]:
    return [sys.executable, "-m", "metaorder", "reflector", "--port", str(port), "--sender-comp-id", "ISLD",
            "--target-comp-id", "LOADGEN", "--reset-on-logon", "--store", str(tmp / "store.db"),
            "--log-format", "json"]


INTAKE_CONFIG = """
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


def intake_cmd(port: int, tmp: Path) -> list[str]:
    config = tmp / "metaorder.toml"
    config.write_text(INTAKE_CONFIG.format(port=port, tmp=tmp))
    return [sys.executable, "-m", "metaorder", "run", "--config", str(config)]


def quickfix_cmd(port: int, tmp: Path) -> list[str]:
    return [sys.executable, str(ROOT / "bench" / "quickfix_echo_acceptor.py"), "--port", str(port),
            "--sender-comp-id", "ISLD", "--target-comp-id", "LOADGEN", "--reset-on-logon",
            "--store", str(tmp / "qf-store")]


def script_json(name: str, *args: str) -> dict[str, float] | None:
    """Run ``bench/<name> --json`` and return its last JSON line (None if the script is absent)."""
    script = ROOT / "bench" / name
    if not script.exists():
        return None
    out = subprocess.run([sys.executable, str(script), "--json", *args], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed: {out.stderr.strip()[-500:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def render(results: dict[str, dict[str, float]], lab: dict[str, Any] | None = None) -> str:
    c = results["codec"]
    lines = [
        f"Measured by `make bench` on {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"order path {metaorder.IMPLEMENTATION}.",
        "",
        "| what | figure | target |",
        "|---|---|---|",
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
    r = results.get("reflector")
    if r:
        lines += [
            f"| reflector echoes, saturated (SQLite store on) | {r['saturated_per_s']:,.0f} echoes/s | ≥ 20,000 |",
            f"| reflector echo latency at 5,000/s offered, p50 | {r['p50_us'] / 1000:.2f} ms | |",
            f"| reflector echo latency at 5,000/s offered, p99 | {r['p99_us'] / 1000:.2f} ms | < 2 ms |",
        ]
    i = results.get("intake")
    if i:
        lines += [
            f"| intake: NewOrderSingle → ack (normalize, risk, book, journal + store on), saturated "
            f"| {i['saturated_per_s']:,.0f} orders/s | ≥ 20,000 |",
            f"| intake ack latency at 5,000/s offered, p50 / p99 | {i['p50_us'] / 1000:.2f} / "
            f"{i['p99_us'] / 1000:.2f} ms | p99 < 2 ms |",
        ]
    p = results.get("intake_path")
    if p:
        lines.append(f"| intake path in one process, CPU per order (SQLite / in-memory journal and store) "
                     f"| {p['us_per_order']:.1f} / {p['us_per_order_memory']:.1f} µs | |")
    q = results.get("quickfix")
    if q:
        lines += [
            f"| QuickFIX 1.16 (C++ engine, Python app, file store), saturated | {q['saturated_per_s']:,.0f} "
            "echoes/s | for scale |",
            f"| QuickFIX at 5,000/s offered, p50 / p99 | {q['p50_us'] / 1000:.2f} / {q['p99_us'] / 1000:.2f} ms "
            "| for scale |",
        ]
    lines += ["", f"Load figures are medians of {r['runs'] if r else 0} runs; the load generator "
              "(`bench/loadgen.py`) is a separate process on the same 2 cores."]
    if lab is not None:
        lines += ["", bench_markdown(lab)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", type=Path, help="write the figures into this README between the markers")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--count", type=int, default=50_000, help="echoes per saturated run")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per 5,000/s run")
    parser.add_argument("--no-quickfix", action="store_true", help="skip the QuickFIX baseline")
    parser.add_argument("--no-lab", action="store_true", help="skip the execution-quality section (metaorder lab)")
    parser.add_argument("--lab-seeds", type=int, default=3, help="seeds of the execution-quality section")
    args = parser.parse_args(argv)

    results: dict[str, dict[str, float]] = {"codec": codec_figures()}
    print(json.dumps({"codec": results["codec"]}), flush=True)
    for key, script in (("matching", "bench_matching.py"), ("market", "bench_market.py"),
                        ("intake_path", "bench_intake_path.py")):
        figures = script_json(script)
        if figures is not None:
            results[key] = figures
            print(json.dumps({key: figures}), flush=True)
    results["reflector"] = echo_figures(reflector_cmd, r'"accepting"', args.repeat, args.count, args.duration)
    print(json.dumps({"reflector": results["reflector"]}), flush=True)
    results["intake"] = echo_figures(intake_cmd, r'"accepting"', args.repeat, args.count, args.duration,
                                     target="METAORDER", extra=["--symbol", "ACME", "--price", "142.00",
                                                                "--reply-type", "8"])
    print(json.dumps({"intake": results["intake"]}), flush=True)
    if not args.no_quickfix:
        try:
            import quickfix  # noqa: F401
        except ImportError:
            print("quickfix not installed: skipping the QuickFIX baseline", file=sys.stderr)
        else:
            results["quickfix"] = echo_figures(quickfix_cmd, r"listening on port", args.repeat, args.count,
                                               args.duration)
            print(json.dumps({"quickfix": results["quickfix"]}), flush=True)
    lab: dict[str, Any] | None = None
    if not args.no_lab:
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
    if args.readme:
        text = args.readme.read_text()
        if START not in text or END not in text:
            print(f"{args.readme}: no {START} ... {END} markers; not updated", file=sys.stderr)
            return 1
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        args.readme.write_text(f"{before}{START}\n{table}\n{END}{after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
