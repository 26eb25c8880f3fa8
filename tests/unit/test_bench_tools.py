"""``bench/run.py`` and ``bench/native_tools.py`` without running a benchmark: what the README block says
about given figures, which sections ``--only`` runs, and how a tool that cannot be built is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import load_bench

native_tools = load_bench("native_tools")
run = load_bench("run")


def figures(saturated: float, p50_5k: float, p99_5k: float, p99_10k: float) -> dict[str, Any]:
    return {"runs": 3, "missing": 0, "realtime": True, "saturated_per_s": saturated, "p50_5k_us": p50_5k,
            "p99_5k_us": p99_5k, "p99.9_5k_us": p99_5k * 2, "p50_10k_us": p50_5k, "p99_10k_us": p99_10k,
            "p99.9_10k_us": p99_10k * 2, "send_lag_p99_5k_us": 12.0, "send_lag_p99_10k_us": 30.0}


def test_the_readme_block_shows_each_server_and_the_intake_targets_next_to_its_figures() -> None:
    results = {"floor": figures(300_000, 40, 90, 120), "quickfix": figures(30_000, 60, 120, 200),
               "intake": figures(39_000, 140, 600, 900), "machine": {"loadavg_before": 0.4, "loadavg_after": 2.5}}
    text = run.render(results)
    assert "| floor: bare C echo server (`bench/echo_server.c`) | 300,000 | 0.040 / 0.090 / 0.180 |" in text
    assert "| ack p50 at 5,000/s ≤ 0.15 ms | 0.140 ms | yes |" in text
    assert "| ack p99 at 5,000/s ≤ 0.5 ms | 0.600 ms | **no** |" in text
    assert "| ack p99 at 10,000/s ≤ 1 ms | 0.900 ms | yes |" in text
    assert "| saturated ≥ 1.2 × QuickFIX C++ | 1.30 × (39,000 against 30,000/s) | yes |" in text
    assert "(SCHED_FIFO); its own send lag p99 at most 30 µs. One-minute load average 0.4 before" in text
    assert "codec" not in text  # sections that did not run leave no empty rows


def test_without_quickfix_the_saturation_target_is_not_shown() -> None:
    text = run.render({"intake": figures(20_000, 100, 400, 800)})
    assert "QuickFIX" not in text
    assert "| ack p99 at 5,000/s ≤ 0.5 ms | 0.400 ms | yes |" in text


def test_only_rejects_an_unknown_section_with_the_list_of_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        run.main(["--only", "floor,intke"])
    assert exc.value.code == 2
    assert "--only: unknown section 'intke' (choose from codec, matching" in capsys.readouterr().err


def test_a_tool_whose_headers_are_missing_is_unavailable_with_the_package_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool = native_tools.TOOLS["quickfix_echo"]
    monkeypatch.setitem(native_tools.TOOLS, "quickfix_echo",
                        native_tools.Tool(tool.name, tool.source, True, tool.flags, tool.libs,
                                          tmp_path / "missing.h", "libquickfix-dev"))
    with pytest.raises(native_tools.ToolUnavailable, match=r"apt-get install libquickfix-dev"):
        native_tools.build("quickfix_echo", tmp_path)
    built = native_tools.build_all(["quickfix_echo"], tmp_path)
    assert isinstance(built["quickfix_echo"], str)


def test_a_missing_compiler_is_reported_not_raised_from_build_all(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("CC", "no-such-compiler-here")
    built = native_tools.build_all(["echo_server"], tmp_path)
    assert built == {"echo_server": "echo_server: no C compiler (no-such-compiler-here not found)"}
