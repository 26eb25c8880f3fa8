"""docker/compose.yml, docker/Dockerfile, .dockerignore and the docker configs agree with each other.

No Docker engine runs here, so nothing else would notice a compose file publishing a port nobody
listens on, a healthcheck probing the wrong port, a volume that misses the journal, or a command the
CLI refuses: each would surface only on an ops machine.  The configs are read as the container sees
them (copied to /app/configs/ by the Dockerfile); tests/integration/test_docker_services.py runs the
commands themselves.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml  # PyYAML ships no type stubs (mypy: ignore_missing_imports); only safe_load is used

from metaorder.cli import _build_parser
from metaorder.config import MetaorderConfig, VenuesConfig, load_config, load_venues_config

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
APP = PurePosixPath("/app")  # the Dockerfile's WORKDIR


# ---- reading the files ------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document = yaml.safe_load((DOCKER / "compose.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def services() -> dict[str, dict[str, Any]]:
    found = compose()["services"]
    assert isinstance(found, dict)
    return found


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        word, _, rest = whole.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    return instructions


def instruction(name: str) -> list[str]:
    return [rest for word, rest in dockerfile() if word == name]


def exec_form(text: str) -> list[str]:
    """A JSON-array (exec form) argument list; the shell form is not used (no shell in between)."""
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def healthcheck() -> tuple[dict[str, str], list[str]]:
    """The Dockerfile's HEALTHCHECK: its --options and its CMD."""
    (text,) = instruction("HEALTHCHECK")
    options, _, command = text.partition("CMD ")
    flags = dict(re.findall(r"--([a-z-]+)=(\S+)", options))
    return flags, exec_form(command)


def copies() -> dict[PurePosixPath, str]:
    """What the Dockerfile copies: destination in the image -> source in the build context."""
    found: dict[PurePosixPath, str] = {}
    for text in instruction("COPY"):
        *sources, dest = text.split()
        for source in sources:
            target = APP / dest if not dest.startswith("/") else PurePosixPath(dest)
            if dest.endswith("/"):
                target = target / PurePosixPath(source).name
            found[target] = source
    return found


def seconds(duration: str) -> float:
    """A compose duration: 10s, 1m30s, 500ms."""
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The image's config files where the Dockerfile puts them, under a temporary root: loaded from
    there, their relative paths resolve as they do in the container."""
    root = tmp_path_factory.mktemp("image")
    for dest, source in copies().items():
        if source.startswith("docker/") and dest.is_relative_to(APP / "configs"):
            target = root / dest.relative_to("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ROOT / source, target)
    yield root


def in_image(root: Path, path: Path) -> PurePosixPath:
    return PurePosixPath("/") / path.relative_to(root).as_posix()


def engine_config(root: Path) -> MetaorderConfig:
    return load_config(root / "app" / "configs" / "metaorder.toml")


def venues_config(root: Path) -> VenuesConfig:
    return load_venues_config(root / "app" / "configs" / "venues.toml")


def command(service: str) -> list[str]:
    value = services()[service]["command"]
    assert isinstance(value, list), f"{service}: command in exec form (a list), no shell in between"
    return [str(v) for v in value]


def parsed(service: str) -> Any:
    args = command(service)
    return _build_parser(args[0]).parse_args(args)


def mounts(service: str) -> dict[PurePosixPath, str]:
    """Container path -> named volume."""
    found: dict[PurePosixPath, str] = {}
    for spec in services()[service].get("volumes", []):
        volume, target = str(spec).split(":")[:2]
        found[PurePosixPath(target)] = volume
    return found


def on_a_volume(service: str, path: PurePosixPath) -> bool:
    return any(path.is_relative_to(target) for target in mounts(service))


# ---- the tests --------------------------------------------------------------------------------


def test_the_stack_has_the_engine_the_venues_and_the_drop_copy_consumer_built_from_the_one_image() -> None:
    assert set(services()) == {"engine", "venues", "dropcopy"}
    for name, service in services().items():
        assert service["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert service["image"] == "metaorder:latest", name
    assert [exec_form(t) for t in instruction("ENTRYPOINT")] == [["metaorder"]]
    assert [exec_form(t) for t in instruction("CMD")] == [command("engine")], "docker run <image> is the engine"
    assert instruction("USER") == ["metaorder"], "the services run as the image's non-root user"


def test_every_service_command_parses_with_metaorders_own_command_line_parser() -> None:
    assert parsed("venues").command == "venues"
    assert parsed("engine").command == "run"
    consumer = parsed("dropcopy")
    assert consumer.command == "console" and consumer.listen is True


def test_the_configs_the_commands_name_are_the_docker_configs_the_image_holds() -> None:
    image = copies()
    assert image[PurePosixPath(parsed("engine").config)] == "docker/metaorder.toml"
    assert image[PurePosixPath(parsed("venues").config)] == "docker/venues.toml"
    (volume,) = (exec_form(t) for t in instruction("VOLUME"))
    assert volume == ["/app/var"]


def test_every_published_port_is_the_port_its_config_listens_on_and_only_on_localhost(image_root: Path) -> None:
    config = engine_config(image_root)
    assert config.dropcopy is not None and config.metrics.enabled
    listening = {config.acceptor.port, config.dropcopy.port, config.metrics.port}
    assert listening == {9876, 9877, 9879}
    assert {config.acceptor.host, config.dropcopy.host, config.metrics.host} == {"0.0.0.0"}, \
        "inside a container 127.0.0.1 is not reachable through a published port"
    published = set()
    for spec in services()["engine"]["ports"]:
        address, host_port, container_port = str(spec).split(":")
        assert address == "127.0.0.1", f"{spec}: published to this machine only"
        assert host_port == container_port, spec
        published.add(int(container_port))
    assert published == listening
    assert {int(p) for t in instruction("EXPOSE") for p in t.split()} == listening
    assert "ports" not in services()["venues"] and "ports" not in services()["dropcopy"]


def test_the_venues_service_exposes_every_venue_port_on_all_interfaces(image_root: Path) -> None:
    venues = venues_config(image_root)
    assert {int(p) for p in services()["venues"]["expose"]} == {v.port for v in venues.venue}
    assert {v.host for v in venues.venue} == {"0.0.0.0"}, "the engine connects from its own container"


def test_the_engine_connects_to_the_venues_service_with_each_venues_port_comp_id_kind_and_fees(
        image_root: Path) -> None:
    config, venues = engine_config(image_root), venues_config(image_root)
    assert config.execution.embedded_venues is None, "the venues are a service of their own"
    external = {x.name: x for x in config.execution.venue}
    assert set(external) == {v.name for v in venues.venue}
    for v in venues.venue:
        x = external[v.name]
        assert x.host == "venues" and x.host in services()
        assert (x.port, x.comp_id, x.kind, x.maker_fee, x.taker_fee) == (
            v.port, v.comp_id, v.kind, v.maker_fee, v.taker_fee), v.name
        assert config.acceptor.sender_comp_id in v.counterparties, f"{v.name} does not know the engine's CompID"


def test_the_engine_waits_for_healthy_venues_and_the_consumer_for_a_ready_engine() -> None:
    assert services()["engine"]["depends_on"] == {"venues": {"condition": "service_healthy"}}
    assert services()["dropcopy"]["depends_on"] == {"engine": {"condition": "service_healthy"}}


def test_the_engines_healthcheck_is_the_images_get_of_readyz_on_the_metrics_port(image_root: Path) -> None:
    config = engine_config(image_root)
    flags, probe = healthcheck()
    assert probe == ["python", "/app/healthcheck.py", f"http://127.0.0.1:{config.metrics.port}/readyz"]
    assert copies()[PurePosixPath("/app/healthcheck.py")] == "docker/healthcheck.py"
    assert "healthcheck" not in services()["engine"], "the engine keeps the image's healthcheck"
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("healthcheck", DOCKER / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    assert seconds(flags["timeout"]) > module.TIMEOUT_S, "the probe says what failed before Docker gives up"
    assert seconds(flags["start-period"]) >= 10


def test_the_venues_healthcheck_probes_every_venue_port_and_the_consumer_has_none(image_root: Path) -> None:
    venues = venues_config(image_root)
    check = services()["venues"]["healthcheck"]
    assert check["test"] == ["CMD", "python", "/app/healthcheck.py",
                             *(f"tcp://127.0.0.1:{v.port}" for v in venues.venue)]
    assert seconds(check["timeout"]) > 3
    assert services()["dropcopy"]["healthcheck"] == {"disable": True}


def test_named_volumes_hold_the_journal_the_store_and_whatever_each_service_writes(image_root: Path) -> None:
    declared = set(compose()["volumes"])
    for service in services():
        assert mounts(service), service
        for target, volume in mounts(service).items():
            assert volume in declared, f"{service}: {volume} is a named volume"
            # A named volume starts as a copy of the image's directory, ownership included: only the
            # image's VOLUME, made and chowned in the Dockerfile, is writable by the non-root user.
            assert target == PurePosixPath("/app/var"), f"{service}: {target}"
    config = engine_config(image_root)
    for what, path in [("journal", config.journal.path), ("store", config.store.path),
                       ("control socket", config.control.socket),
                       ("volume profiles", config.execution.volume_profiles)]:
        assert on_a_volume("engine", in_image(image_root, path)), f"the engine's {what} is not on a volume: {path}"
    assert on_a_volume("venues", PurePosixPath(parsed("venues").store_dir))
    assert on_a_volume("dropcopy", PurePosixPath(parsed("dropcopy").out))
    assert len({volume for s in services() for volume in mounts(s).values()}) == 3, "a volume of its own each"


def test_the_drop_copy_consumer_logs_on_to_the_engines_drop_copy_port_as_its_comp_id(image_root: Path) -> None:
    config = engine_config(image_root)
    assert config.dropcopy is not None
    args = parsed("dropcopy")
    assert args.host == "engine" and args.host in services()
    assert args.port == config.dropcopy.port
    assert (args.sender_comp_id, args.target_comp_id) == (config.dropcopy.target_comp_id,
                                                          config.acceptor.sender_comp_id)


def test_every_service_has_a_grace_period_the_engines_long_enough_for_its_own_shutdown(image_root: Path) -> None:
    from metaorder.daemon import SessionPlan

    grace = {name: seconds(s["stop_grace_period"]) for name, s in services().items()}
    config = engine_config(image_root)
    # Pulling the children from the venues, then logging every session out: each step bounded by this.
    step = SessionPlan.from_config(config, None).shutdown_timeout()
    assert grace["engine"] > 2 * step + 5
    assert min(grace.values()) >= 5


# ---- .dockerignore ----------------------------------------------------------------------------


def dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    """(excluded?, pattern) as Docker reads .dockerignore: anchored at the context's root, ``*`` within
    one path segment, ``**`` any number of them, ``!`` re-includes; the last matching line wins."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
            regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        rules.append((not include, re.compile(regex)))
    return rules


def ignored(path: str) -> bool:
    """Whether ``path`` (relative to the context) is left out: it or a directory above it matches."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for excluded, pattern in dockerignore():
        if any(pattern.fullmatch(p) for p in prefixes):
            verdict = excluded
    return verdict


def test_the_build_context_keeps_what_the_image_is_built_from_and_leaves_this_machines_state_out() -> None:
    needed = [*copies().values(), "src/metaorder/cli.py", "src/metaorder/fix/session.py"]
    assert "src" in needed and "setup.py" in needed and "README.md" in needed
    for path in needed:
        assert not ignored(path), f".dockerignore leaves out {path}, which the Dockerfile copies"
    for path in [".venv/bin/python", ".git/HEAD", "var/journal.db", "build/lib/metaorder/cli.py",
                 "src/metaorder/events.cpython-311-x86_64-linux-gnu.so",
                 "src/metaorder/__pycache__/cli.cpython-311.pyc",
                 "tests/unit/test_docker_stack.py", "bench/run.py", ".mypy_cache/3.11/x.json", "journal.db-wal"]:
        assert ignored(path), f".dockerignore lets {path} into the build context"
