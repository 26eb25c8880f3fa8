#!/usr/bin/env python3
"""QuickFIX (C++ engine, Python binding) FIX 4.4 echo acceptor — the baseline for ``bench/loadgen.py``.

Behaves like ``metaorder reflector`` at the application level, and takes the same command line, so it can
stand in for the reflector in benchmarks and interop tests:

    python bench/quickfix_echo_acceptor.py --port PORT --sender-comp-id ID --target-comp-id ID
        [--target-comp-id ID ...] [--reset-on-logon] [--dictionary FILE.xml | --no-dictionary]
        [--store PATH] [--single-threaded] [--file-log DIR]

- every NewOrderSingle (35=D) is echoed back to its sender: body fields unchanged, the acceptor's own header;
  a PossResend (97=Y) copy of a ClOrdID already seen since the last Logout is dropped;
- SecurityDefinition (35=d) is echoed the same way; any other application message gets a
  BusinessMessageReject (35=j, 380=3 "Unsupported Message Type");
- messages are stored in a QuickFIX FileStore under ``--store`` (a directory; a fresh temporary directory,
  removed at exit, when not given), so without ``--reset-on-logon`` sequence numbers persist across restarts;
- logs session events to stderr; runs until SIGINT/SIGTERM, then logs out and exits 0.

Quirks of QuickFIX 1.16 (the ``quickfix-tls`` wheel) worth knowing:
- there is no setting to choose the acceptor's listen address (no ``SocketAcceptHost``/``Address``): it binds
  every interface. ``AllowedRemoteAddresses=127.0.0.1`` makes it refuse any peer but localhost.
- ``SocketAcceptor.stop()`` (the single-threaded acceptor) races its own I/O thread: ``Acceptor::stop`` calls
  ``SocketServer::close()`` on the caller's thread while the acceptor thread closes and deletes the same
  server, and about one stop in twenty segfaults. ``ThreadedSocketAcceptor`` (the default here) does not;
  its throughput is the same within noise.
- the wheel ships no data dictionaries (no ``FIX44.xml``); by default this script uses the QuickFIX
  project's copy in ``../shared/conformance/quickfix/FIX44.xml`` (relative to the repository root) when it
  exists.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import quickfix as fix

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIX44 = REPO_ROOT.parent / "shared" / "conformance" / "quickfix" / "FIX44.xml"

_MSGTYPE_NEW_ORDER_SINGLE = "D"
_MSGTYPE_SECURITY_DEFINITION = "d"
_ECHOED = frozenset({_MSGTYPE_NEW_ORDER_SINGLE, _MSGTYPE_SECURITY_DEFINITION})


def _log(text: str) -> None:
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    sys.stderr.write(f"{stamp} quickfix-echo: {text}\n")
    sys.stderr.flush()


class EchoApplication(fix.Application):  # type: ignore[misc]
    """Echo 35=D and 35=d, reject everything else. Callbacks run on QuickFIX's threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = {}  # session id -> ClOrdIDs seen since the last Logout
        self.echoed = 0

    # -- session events ------------------------------------------------------------------------
    def onCreate(self, session_id: fix.SessionID) -> None:
        _log(f"session created {session_id}")

    def onLogon(self, session_id: fix.SessionID) -> None:
        _log(f"logon {session_id}")

    def onLogout(self, session_id: fix.SessionID) -> None:
        with self._lock:
            self._seen.pop(session_id.toString(), None)
        _log(f"logout {session_id} (echoed {self.echoed} so far)")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    # -- application messages ------------------------------------------------------------------
    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        header = message.getHeader()
        msg_type = header.getField(35)
        if msg_type not in _ECHOED:
            self._reject(message, msg_type, session_id)
            return
        if msg_type == _MSGTYPE_NEW_ORDER_SINGLE and message.isSetField(11):
            cl_ord_id = message.getField(11)
            poss_resend = header.isSetField(97) and header.getField(97) == "Y"
            with self._lock:
                seen = self._seen.setdefault(session_id.toString(), set())
                if poss_resend and cl_ord_id in seen:
                    return
                seen.add(cl_ord_id)
        echo = fix.Message(message)
        echo_header = echo.getHeader()
        echo_header.clear()  # drop routing, PossDup/PossResend, OrigSendingTime...; the session refills it
        echo_header.setField(fix.BeginString(session_id.getBeginString().getValue()))
        echo_header.setField(fix.MsgType(msg_type))
        echo.getTrailer().clear()
        fix.Session.sendToTarget(echo, session_id)
        self.echoed += 1

    @staticmethod
    def _reject(message: fix.Message, msg_type: str, session_id: fix.SessionID) -> None:
        reject = fix.Message()
        reject.getHeader().setField(fix.BeginString(session_id.getBeginString().getValue()))
        reject.getHeader().setField(fix.MsgType(fix.MsgType_BusinessMessageReject))
        reject.setField(fix.RefSeqNum(int(message.getHeader().getField(34))))
        reject.setField(fix.RefMsgType(msg_type))
        reject.setField(fix.BusinessRejectReason(fix.BusinessRejectReason_UNSUPPORTED_MESSAGE_TYPE))
        reject.setField(fix.Text("Unsupported Message Type"))
        fix.Session.sendToTarget(reject, session_id)


def build_settings(args: argparse.Namespace, store_dir: Path) -> fix.SessionSettings:
    settings = fix.SessionSettings()
    defaults = fix.Dictionary()
    defaults.setString("ConnectionType", "acceptor")
    defaults.setString("SocketAcceptPort", str(args.port))
    defaults.setString("AllowedRemoteAddresses", "127.0.0.1")
    defaults.setString("SocketReuseAddress", "Y")
    defaults.setString("SocketNodelay", "Y")
    defaults.setString("FileStorePath", str(store_dir))
    defaults.setString("StartTime", "00:00:00")
    defaults.setString("EndTime", "00:00:00")  # equal start and end: the session never ends
    defaults.setString("ResetOnLogon", "Y" if args.reset_on_logon else "N")
    defaults.setString("TimestampPrecision", "3")
    if args.file_log:
        defaults.setString("FileLogPath", str(args.file_log))
    dictionary: Path | None = None
    if not args.no_dictionary:
        dictionary = args.dictionary or (SHARED_FIX44 if SHARED_FIX44.is_file() else None)
    if dictionary is not None:
        defaults.setString("UseDataDictionary", "Y")
        defaults.setString("DataDictionary", str(dictionary))
    else:
        defaults.setString("UseDataDictionary", "N")
    settings.set(defaults)
    for target in args.target_comp_id:
        settings.set(fix.SessionID("FIX.4.4", args.sender_comp_id, target), fix.Dictionary())
    _log(f"dictionary: {dictionary or 'none'}; store: {store_dir}; reset on logon: {args.reset_on_logon}")
    return settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sender-comp-id", required=True)
    parser.add_argument("--target-comp-id", action="append", required=True)
    parser.add_argument("--reset-on-logon", action="store_true")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--dictionary", type=Path,
                       help="FIX44.xml (default: the shared QuickFIX copy if present)")
    group.add_argument("--no-dictionary", action="store_true", help="UseDataDictionary=N")
    parser.add_argument("--store", type=Path, help="FileStore directory (default: a temporary directory)")
    parser.add_argument("--single-threaded", action="store_true",
                        help="SocketAcceptor instead of ThreadedSocketAcceptor (may segfault on stop)")
    parser.add_argument("--file-log", type=Path,
                        help="directory for QuickFIX's FileLog (default: no message log)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    temp_dir = None
    if args.store is None:
        temp_dir = tempfile.mkdtemp(prefix="qf-echo-store-")
        store_dir = Path(temp_dir)
    else:
        store_dir = args.store
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        _log(f"received {signal.Signals(signum).name}, stopping")
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    try:
        settings = build_settings(args, store_dir)
        app = EchoApplication()
        store_factory = fix.FileStoreFactory(settings)
        acceptor_cls = fix.SocketAcceptor if args.single_threaded else fix.ThreadedSocketAcceptor
        if args.file_log:
            log_factory = fix.FileLogFactory(settings)
            acceptor = acceptor_cls(app, store_factory, settings, log_factory)
        else:
            acceptor = acceptor_cls(app, store_factory, settings)
        acceptor.start()
        _log(f"listening on port {args.port} as {args.sender_comp_id} for {', '.join(args.target_comp_id)}")
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
        acceptor.stop()  # logs every session out (waits for the Logout replies, bounded) and closes sockets
        _log(f"stopped; echoed {app.echoed} messages")
        return 0
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
