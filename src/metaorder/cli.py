"""The ``metaorder`` command line.  Argument parsing and error reporting only; no logic."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn

from metaorder import __version__
from metaorder.cliargs import positive
from metaorder.logs import configure_logging


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux/macOS
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def _run(coro: Coroutine[Any, Any, None]) -> None:
    with _runner() as runner:
        runner.run(coro)


def _one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make a subparser report a bad argument as one line ``PROG: MESSAGE`` and exit 2 (no usage dump),
    unrecognized arguments included: argparse would leave those to the top-level parser."""
    parse_known = parser.parse_known_args

    def error(message: str) -> NoReturn:
        print(f"{parser.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)

    def parse_known_args(args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = parse_known(args, namespace)
        if extras:
            error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras

    parser.error = error  # type: ignore[method-assign]
    parser.parse_known_args = parse_known_args  # type: ignore[method-assign,assignment]


_COMMANDS = ("run", "venues", "reflector", "audit", "ctl", "demo", "estimate", "lab", "console", "tca")


def _build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``command`` (the subcommand about to run, when known) lets the commands whose
    options live in heavier modules (``estimate``, ``lab``: the simulation, the lab) be imported only
    when they are the one that runs — `metaorder run` does not load the lab."""
    parser = argparse.ArgumentParser(prog="metaorder", description="Smart trading execution engine (FIX 4.4).")
    parser.add_argument("--version", action="version", version=f"metaorder {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="start the daemon on a configuration file")
    run.add_argument("--config", default="configs/metaorder.toml", help="TOML configuration (default: %(default)s)")
    run.add_argument("--log-format", choices=["console", "json"], help="override the config's logging.format")

    ven = sub.add_parser("venues", help="run the simulated venues (lit exchanges and dark pools) over FIX")
    ven.add_argument("--config", default="configs/venues.toml", help="TOML configuration (default: %(default)s)")
    ven.add_argument("--store-dir", type=Path, default=Path("var"),
                     help="directory of the venues' FIX message store (default: %(default)s)")
    ven.add_argument("--log-format", choices=["console", "json"], help="override the config's logging.format")

    ref = sub.add_parser("reflector", help="FIX acceptor that echoes orders (session certification)")
    ref.add_argument("--port", type=int, required=True)
    ref.add_argument("--sender-comp-id", required=True, metavar="ID")
    ref.add_argument("--target-comp-id", required=True, action="append", metavar="ID",
                     help="a counterparty CompID; repeat for several")
    ref.add_argument("--reset-on-logon", action="store_true", help="reset sequence numbers at every Logon")
    ref.add_argument("--dictionary", type=Path, metavar="FILE.xml", help="QuickFIX-format data dictionary")
    ref.add_argument("--store", type=Path, metavar="PATH", default=Path("reflector.db"),
                     help="SQLite message store (default: %(default)s)")
    ref.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    ref.add_argument("--log-format", choices=["console", "json"], default="console")

    aud = sub.add_parser("audit", help="print one order's life from the journal (read-only, beside a running engine)")
    aud.add_argument("order_id", metavar="ORDER_ID",
                     help="an OrderID (O17), a parent id (P3) or SESSION:ClOrdID (OMS1:abc-1)")
    aud.add_argument("--journal", type=Path, metavar="PATH", help="order journal (default: the journal of --config)")
    aud.add_argument("--config", default="configs/metaorder.toml", help="TOML configuration (default: %(default)s)")
    aud.add_argument("--json", action="store_true", help="one JSON object per line, for tools")

    ctl = sub.add_parser("ctl", help="operator commands to a running `metaorder run`: kill switches, status")
    ctl.add_argument("words", nargs="+", metavar="COMMAND",
                     help="kill SESSION|all, revive SESSION|all, status, scorecard")
    ctl.add_argument("--config", default="configs/metaorder.toml", help="TOML configuration (default: %(default)s)")
    ctl.add_argument("--json", action="store_true", help="JSON instead of a table (scorecard)")

    demo = sub.add_parser("demo", help="a burst of OMS orders worked in accelerated time, then a TCA summary")
    _one_line_errors(demo)
    demo.add_argument("--orders", type=positive(int, "a positive whole number"), default=400, metavar="N",
                      help="orders in the burst (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=7, metavar="S", help="burst and market seed (default: %(default)s)")
    demo.add_argument("--window", type=positive(float, "a positive number of seconds"), default=120.0,
                      metavar="SECONDS",
                      help="TWAP window of each order, about (default: %(default)s)")
    demo.add_argument("--config", default="configs/metaorder.toml", help="TOML configuration (default: %(default)s)")
    demo.add_argument("--venues", default="configs/venues.toml", help="simulated venues (default: %(default)s)")
    demo.add_argument("--json", action="store_true", help="the summary as one JSON object")

    est = sub.add_parser("estimate", help="Almgren-Chriss pre-trade estimate: trajectory, expected cost and risk",
                         description="Almgren-Chriss pre-trade estimate, from model parameters or from an "
                                     "instrument and a mandate.")
    _one_line_errors(est)
    if command in (None, "estimate"):
        from metaorder import estimate

        estimate.add_arguments(est)

    lab_ = sub.add_parser("lab", help="execution lab: a flow of orders through the simulated venues, cost per strategy",
                          description="Run a flow of client orders through the simulated venues on the virtual "
                                      "clock, over several seeds, once per strategy and once alone, and report "
                                      "execution quality.")
    _one_line_errors(lab_)
    if command in (None, "lab"):
        from metaorder import lab

        lab.add_arguments(lab_)

    con = sub.add_parser("console", help="a trader's FIX console: log on as CONSOLE and trade by typing",
                         description="Log on to a running `metaorder run` and send orders by typing "
                                     "(`buy 100 ACME vwap for 2m`); read commands from standard input when "
                                     "it is not a terminal; --listen prints every report it receives.")
    _one_line_errors(con)
    if command in (None, "console"):
        from metaorder.console import command as console

        console.add_arguments(con)

    tca = sub.add_parser("tca", help="transaction cost analysis of a fills file or of the journal",
                         description="Transaction cost analysis: per child and in total for a fills file "
                                     "(--fills FILE.csv), or per child, parent and client order from the "
                                     "journal (P3, O17, SESSION:ClOrdID or --day YYYY-MM-DD).")
    _one_line_errors(tca)
    if command in (None, "tca"):
        from metaorder.posttrade import tca_command

        tca_command.add_arguments(tca)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    command = next((w for w in words if not w.startswith("-")), None)
    args = _build_parser(command if command in _COMMANDS else None).parse_args(words)
    from metaorder.config import ConfigError, load_config, load_venues_config
    from metaorder.ctl import ControlError
    from metaorder.fix.dictionary import DictionaryError
    from metaorder.fix.store import StoreError
    from metaorder.orders.journal import JournalError
    from metaorder.posttrade.audit import AuditError

    try:
        if args.command == "reflector":
            configure_logging(args.log_format)
            from metaorder.reflector import run_reflector

            _run(run_reflector(args.port, args.sender_comp_id, args.target_comp_id, args.reset_on_logon,
                               args.dictionary, args.store, host=args.host))
        elif args.command == "venues":
            venues_config = load_venues_config(args.config)
            configure_logging(args.log_format or venues_config.logging.format, venues_config.logging.level)
            from metaorder.venues.runtime import run_venues

            args.store_dir.mkdir(parents=True, exist_ok=True)
            _run(run_venues(venues_config, args.store_dir))
        elif args.command == "run":
            config = load_config(args.config)
            configure_logging(args.log_format or config.logging.format, config.logging.level)
            from metaorder.daemon import run_daemon

            _run(run_daemon(config))
        elif args.command == "ctl":
            from metaorder.ctl import send

            words = [*args.words, *(["json"] if args.json else [])]
            reply = send(load_config(args.config).control.socket, " ".join(words))
            if reply.startswith("error"):
                print(f"metaorder: {reply}", file=sys.stderr)
                return 2
            print(reply)
        elif args.command == "audit":
            from metaorder.posttrade.audit import run_audit

            journal = args.journal if args.journal is not None else load_config(args.config).journal.path
            run_audit(journal, args.order_id, as_json=args.json, out=sys.stdout)
        elif args.command == "demo":
            configure_logging("console", "WARNING")  # stderr: stdout is the summary
            from metaorder.demo import print_demo, run_demo

            print_demo(run_demo(args.orders, args.seed, args.window, args.config, args.venues), as_json=args.json)
        elif args.command == "estimate":
            from metaorder import estimate

            return estimate.run(args, sys.stdout)
        elif args.command == "lab":
            configure_logging("console", "WARNING")  # stderr: stdout is the report
            from metaorder import lab

            return lab.run(args, sys.stdout)
        elif args.command == "console":
            from metaorder.console import command as console

            return console.run(args, sys.stdout)
        elif args.command == "tca":
            from metaorder.posttrade import tca_command

            return tca_command.run(args, sys.stdout)
    except (ConfigError, DictionaryError, StoreError, JournalError, AuditError, ControlError) as exc:
        print(f"metaorder: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"metaorder: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
