"""``metaorder console``: the command line, and the choice between interactive, script and listen mode.

Imported by ``metaorder --help``: only argparse here at module level; prompt_toolkit and the FIX
layer are imported inside :func:`run`.

Where to connect, in this order: the options; else ``--config`` (default configs/metaorder.toml,
when it exists): the acceptor's port and SenderCompID (our TargetCompID), or with ``--listen`` as
the drop copy's counterparty the ``[dropcopy]`` port; else the README's defaults: 127.0.0.1:9876
as CONSOLE, or with ``--listen`` the drop copy, 127.0.0.1:9877 as DROPCOPY (what listening is
for; give ``--sender-comp-id`` to listen as an OMS session), and METAORDER.  Symbols for
completion come from the config's ``[[instrument]]`` entries.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from metaorder.cliargs import number, positive

if TYPE_CHECKING:
    from metaorder.console.client import Endpoint

DEFAULT_CONFIG = Path("configs/metaorder.toml")
#: The README's ports and CompIDs, when neither the options nor a config say otherwise.
OMS_PORT, DROPCOPY_PORT = 9876, 9877
CONSOLE, DROPCOPY = "CONSOLE", "DROPCOPY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None,
                        help="port, CompIDs and symbols from this config (default: configs/metaorder.toml if present)")
    parser.add_argument("--host", default="127.0.0.1", help="the daemon's host (default 127.0.0.1)")
    parser.add_argument("--port", type=positive(int, "a port number"), default=None,
                        help="the daemon's OMS port (default: [acceptor] port of the config, else 9876; "
                             "with --listen the [dropcopy] port, else 9877)")
    parser.add_argument("--sender-comp-id", default=None,
                        help="our CompID (default CONSOLE; with --listen DROPCOPY)")
    parser.add_argument("--target-comp-id", default=None,
                        help="the daemon's CompID (default: [acceptor] sender_comp_id of the config, else METAORDER)")
    parser.add_argument("--store", type=Path, default=None,
                        help="keep sequence numbers in this SQLite file (default: in memory, reset at logon)")
    parser.add_argument("--reset", action="store_true", help="with --store: reset sequence numbers at logon (141=Y)")
    parser.add_argument("--heartbeat", type=positive(int, "seconds"), default=30, help="HeartBtInt (default 30)")
    parser.add_argument("--logon-timeout", type=positive(float, "seconds"), default=10.0,
                        help="give up when not logged on after this many seconds (default 10)")
    parser.add_argument("--wait", type=number(float, "seconds"), default=0.0,
                        help="non-interactive: at end of input wait this long for open orders to finish (default 0)")
    parser.add_argument("--history", type=Path, default=None,
                        help="interactive: command history file (default var/console-history if var/ exists)")
    parser.add_argument("--listen", action="store_true",
                        help="log on and send nothing: print every report received (e.g. as DROPCOPY)")
    parser.add_argument("--out", type=Path, default=None,
                        help="with --listen: append each report to this file as one JSON object per line")


def run(args: argparse.Namespace, out: TextIO) -> int:
    from metaorder.console.client import LogonFailed

    try:
        return _run(args, out)
    except LogonFailed as exc:  # no daemon, an unknown CompID, the session taken: one line, exit 2
        print(f"metaorder: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, out: TextIO) -> int:
    import asyncio

    from metaorder.clock import LiveClock

    if args.out is not None and not args.listen:
        print("metaorder: --out goes with --listen", file=sys.stderr)
        return 2
    endpoint, symbols = _endpoint(args)
    clock = LiveClock()
    if args.listen:
        from metaorder.logs import configure_logging

        configure_logging("console", "WARNING")
        from metaorder.console.listen import run_listen

        return asyncio.run(run_listen(endpoint, clock, out, args.out, args.logon_timeout))
    if not sys.stdin.isatty():
        from metaorder.logs import configure_logging

        configure_logging("console", "WARNING")
        from metaorder.console.script import run_script, stdin_lines

        return asyncio.run(run_script(endpoint, clock, stdin_lines(sys.stdin), out, args.wait, args.logon_timeout))
    from prompt_toolkit.history import FileHistory

    from metaorder.console.app import default_history, run_app

    history = FileHistory(str(args.history)) if args.history is not None else default_history()
    return asyncio.run(run_app(endpoint, clock, symbols, args.logon_timeout, history))


def _endpoint(args: argparse.Namespace) -> tuple[Endpoint, list[str]]:
    """The :class:`~metaorder.console.client.Endpoint` and the symbols, from options and config."""
    from metaorder.config import load_config
    from metaorder.console.client import Endpoint  # at run time too

    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    port: int | None = args.port
    target: str | None = args.target_comp_id
    sender: str = args.sender_comp_id or (DROPCOPY if args.listen else CONSOLE)
    symbols: list[str] = []
    if path is not None:
        config = load_config(path)  # a bad config: ConfigError, one line and exit 2 (cli.py)
        symbols = [i.symbol for i in config.instrument]
        drop = config.dropcopy
        if port is None:
            if args.listen and drop is not None and sender == drop.target_comp_id:
                port = drop.port
            else:
                port = config.acceptor.port
        target = target or config.acceptor.sender_comp_id
    if port is None:
        port = DROPCOPY_PORT if args.listen and sender == DROPCOPY else OMS_PORT
    return Endpoint(args.host, port, sender, target or "METAORDER", args.store, args.reset, args.heartbeat), symbols
