"""The ``metaorder reflector`` command-line contract, against the real process.

* bad invocations and unusable files end with exit code 2 and one line on stderr, never a traceback;
* a NewOrderSingle is echoed end to end;
* without ``--reset-on-logon`` sequence numbers survive a restart on the same ``--store``;
* SIGTERM logs every session out before the connections close, and the process exits 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.integration.fixclient import FixClient, new_order_fields
from tests.support import MetaorderProcess, start_reflector

VALID = ["reflector", "--port", "0", "--sender-comp-id", "ISLD", "--target-comp-id", "TW44", "--log-format", "json"]


def run_cli(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "metaorder", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    assert lines[0].startswith("metaorder: "), lines[0]
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[MetaorderProcess]]:
    """Processes a test starts; any still running at teardown are killed."""
    procs: list[MetaorderProcess] = []
    yield procs
    for proc in procs:
        proc.stop(signal.SIGKILL)


def reflector(procs: list[MetaorderProcess], store: Path, reset_on_logon: bool = True) -> tuple[
        MetaorderProcess, int]:
    proc, port = start_reflector(store, targets=("TW44", "TW"), reset_on_logon=reset_on_logon)
    procs.append(proc)
    return proc, port


def stop_cleanly(proc: MetaorderProcess) -> None:
    assert proc.proc.poll() is None, "the reflector died:\n" + proc.log()
    code = proc.stop()
    assert code == 0, f"exit code {code}:\n{proc.log()}"


# ---- invocation errors ----------------------------------------------------------------------------


def test_missing_required_arguments_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["reflector"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("usage: metaorder reflector")
    errors = [line for line in lines if "error:" in line]
    assert errors == [lines[-1]]
    assert errors[0] == ("metaorder reflector: error: the following arguments are required: --port, "
                         "--sender-comp-id, --target-comp-id")
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir()), "nothing may be created by a rejected invocation"


def test_missing_dictionary_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "FIX44.xml"
    line = one_line_error(run_cli([*VALID, "--dictionary", str(missing), "--store", str(tmp_path / "r.db")],
                                  tmp_path))
    assert str(missing) in line
    assert "No such file or directory" in line


@pytest.mark.parametrize("blocked", [False, True], ids=["missing directory", "a file in the way"])
def test_store_in_a_directory_that_does_not_exist(tmp_path: Path, blocked: bool) -> None:
    """The reflector does not create directories: a mistyped --store path must not silently start a
    fresh store at sequence number 1."""
    if blocked:
        (tmp_path / "var").write_text("a regular file")
    store = tmp_path / "var" / "sub" / "reflector.db"
    line = one_line_error(run_cli([*VALID, "--store", str(store)], tmp_path))
    assert line == f"metaorder: FIX store {store}: directory {store.parent} does not exist"
    assert not (tmp_path / "var" / "sub").exists()


def _damaged_store(tmp_path: Path, procs: list[MetaorderProcess]) -> Path:
    """A store the reflector really wrote, then with every page after the first overwritten."""
    store = tmp_path / "real.db"
    proc, port = reflector(procs, store)
    with FixClient(port, "TW44") as client:
        client.logon()
        for i in range(20):
            client.new_order(f"ORDER-{i}")
    stop_cleanly(proc)
    data = bytearray(store.read_bytes())
    assert len(data) > 4096
    data[4096:] = b"\xab" * (len(data) - 4096)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(bytes(data))
    return damaged


@pytest.mark.parametrize("kind", ["not SQLite", "damaged pages", "a directory"])
def test_unusable_store_file(tmp_path: Path, started: list[MetaorderProcess], kind: str) -> None:
    if kind == "not SQLite":
        store = tmp_path / "garbage.db"
        store.write_bytes(b"this is not a database\n" * 200)
        expected = "file is not an SQLite database"
    elif kind == "damaged pages":
        store = _damaged_store(tmp_path, started)
        expected = "integrity check failed"
    else:
        store = tmp_path / "dir.db"
        store.mkdir()
        expected = "exists but is not a regular file"
    before = store.read_bytes() if store.is_file() else None
    line = one_line_error(run_cli([*VALID, "--store", str(store)], tmp_path))
    assert line.startswith(f"metaorder: FIX store {store}: "), line
    assert expected in line, line
    if before is not None:
        assert store.read_bytes() == before, "a store that cannot be used must be left as it was"


def test_store_in_use_by_another_reflector(tmp_path: Path, started: list[MetaorderProcess]) -> None:
    store = tmp_path / "shared.db"
    first, port = reflector(started, store)
    line = one_line_error(run_cli([*VALID, "--store", str(store)], tmp_path))
    assert "already in use" in line, line
    with FixClient(port, "TW44") as client:  # the first one is unaffected
        client.logon()
        client.new_order("ORDER-1")
    stop_cleanly(first)


# ---- serving --------------------------------------------------------------------------------------


def test_new_order_single_is_echoed_end_to_end(tmp_path: Path, started: list[MetaorderProcess]) -> None:
    proc, port = reflector(started, tmp_path / "r.db")
    with FixClient(port, "TW44") as client:
        client.logon()
        fields = new_order_fields("ORDER-1")
        client.send("D", list(reversed(fields)))  # any body order; the echo comes back in tag order
        echo = client.expect("D")
        assert (echo.get(49), echo.get(56), echo.seq) == ("ISLD", "TW44", 2)
        assert echo.body() == sorted((tag, str(value)) for tag, value in fields)
        client.logout()
    stop_cleanly(proc)


def test_sequence_numbers_continue_across_a_restart_without_reset_on_logon(
    tmp_path: Path, started: list[MetaorderProcess]
) -> None:
    store = tmp_path / "persistent.db"
    proc, port = reflector(started, store, reset_on_logon=False)
    with FixClient(port, "TW44") as client:
        assert client.logon(reset=False).seq == 1
        assert client.new_order("ORDER-1").seq == 2
        assert client.logout()[-1].seq == 3
        ours = client.next_seq
    stop_cleanly(proc)

    proc, port = reflector(started, store, reset_on_logon=False)
    with FixClient(port, "TW44") as client:
        client.next_seq = ours  # 4: what the reflector expects from us after the restart
        reply = client.logon(reset=False)
        assert reply.seq == 4, reply
        assert reply.get(141) is None
        assert client.new_order("ORDER-2").seq == 5
        client.logout()
    stop_cleanly(proc)


@pytest.mark.parametrize("answer", [True, False], ids=["client answers the Logout", "client stays silent"])
def test_sigterm_logs_sessions_out_then_exits_zero(
    tmp_path: Path, started: list[MetaorderProcess], answer: bool
) -> None:
    proc, port = reflector(started, tmp_path / "r.db")
    with FixClient(port, "TW44") as client, FixClient(port, "TW") as other:
        client.logon()
        other.logon()
        client.new_order("ORDER-1")
        proc.proc.send_signal(signal.SIGTERM)
        logout = client.expect("5")
        assert logout.get(58) == "shutting down"
        other.expect("5")
        if answer:
            client.send("5")
            other.send("5")
        frames, _ = client.wait_closed()  # silent: closed after the reflector's logout timeout
        assert frames == []
        other.wait_closed()
    assert proc.proc.wait(15) == 0, proc.log()
    proc.stop()
    assert proc.proc.returncode == 0
