"""Where ``metaorder console`` connects (``metaorder.console.command``), and the compose consumer's options."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest
import yaml  # PyYAML ships no type stubs (mypy: ignore_missing_imports); only safe_load is used

from metaorder.cli import _build_parser
from metaorder.console.client import Endpoint
from metaorder.console.command import _endpoint

ROOT = Path(__file__).resolve().parents[2]


def endpoint(*options: str) -> Endpoint:
    return _endpoint(_build_parser("console").parse_args(["console", *options]))[0]


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A working directory without configs/metaorder.toml: nothing but the options and the defaults."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_config")
def test_without_a_config_the_console_logs_on_to_the_oms_port_as_console() -> None:
    e = endpoint()
    assert (e.port, e.sender_comp_id, e.target_comp_id) == (9876, "CONSOLE", "METAORDER")


@pytest.mark.usefixtures("no_config")
def test_without_a_config_listen_is_the_drop_copy_on_its_own_port() -> None:
    assert (endpoint("--listen").port, endpoint("--listen").sender_comp_id) == (9877, "DROPCOPY")
    assert endpoint("--listen", "--sender-comp-id", "DROPCOPY").port == 9877


@pytest.mark.usefixtures("no_config")
def test_listen_as_an_oms_session_or_on_a_given_port_goes_where_it_is_told() -> None:
    assert endpoint("--listen", "--sender-comp-id", "OMS1").port == 9876
    assert endpoint("--listen", "--port", "19877").port == 19877


def test_with_a_config_listen_takes_the_drop_copy_port_and_the_console_the_acceptors(tmp_path: Path) -> None:
    config = tmp_path / "m.toml"
    config.write_text('[acceptor]\nport = 19876\nsender_comp_id = "ENGINE"\n'
                      '[[acceptor.sessions]]\ntarget_comp_id = "CONSOLE"\n'
                      '[dropcopy]\nport = 19877\n'
                      '[[instrument]]\nsymbol = "ACME"\nreference_price = "10"\n')
    listen = endpoint("--listen", "--config", str(config))
    assert (listen.port, listen.sender_comp_id, listen.target_comp_id) == (19877, "DROPCOPY", "ENGINE")
    trader = endpoint("--config", str(config))
    assert (trader.port, trader.sender_comp_id) == (19876, "CONSOLE")


def test_the_compose_drop_copy_consumer_keeps_its_sequence_numbers_on_its_volume() -> None:
    """So the engine resends (FIX resend) the copies made while the consumer was down or restarting."""
    compose = yaml.safe_load((ROOT / "docker" / "compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["dropcopy"]
    args = _build_parser("console").parse_args([str(a) for a in service["command"]])
    volumes = [PurePosixPath(str(v).split(":")[1]) for v in service["volumes"]]
    assert args.listen and args.store is not None and not args.reset
    assert any(PurePosixPath(str(args.store)).is_relative_to(v) for v in volumes)
