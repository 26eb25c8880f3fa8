"""``metaorder tca``'s shell: the last resort for arithmetic that still fails (one line naming what could
not be computed, exit status 2), exercised by making each step fail, since bounded input no longer does."""

from __future__ import annotations

import argparse
import io
from decimal import InvalidOperation, Overflow
from pathlib import Path

import pytest

from metaorder.posttrade import tca_command, tca_render

HEADER = "child_id,time,venue,order_type,side,quantity,price,benchmark\n"


def args(tmp_path: Path, fmt: str = "table", **extra: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tca_command.add_arguments(parser)
    path = tmp_path / "fills.csv"
    path.write_text(HEADER + "C1,09:30,X,limit,buy,100,10,10\n")
    namespace = parser.parse_args(["--fills", str(path), "--format", fmt])
    for key, value in extra.items():
        setattr(namespace, key, value)
    return namespace


def test_an_arithmetic_error_while_rendering_is_one_line_naming_the_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(report: object, fmt: str) -> list[str]:
        raise InvalidOperation([InvalidOperation])

    monkeypatch.setattr(tca_render, "render_fills", broken)
    out = io.StringIO()
    assert tca_command.run(args(tmp_path, "json"), out) == 2
    assert out.getvalue() == ""
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"metaorder tca: {tmp_path / 'fills.csv'}: could not compute the json output "
                           "(InvalidOperation in the arithmetic;")


def test_an_arithmetic_error_in_the_analysis_or_the_plot_names_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from metaorder.posttrade import tca_fills, tca_plot

    def overflow(*_: object) -> None:
        raise Overflow

    monkeypatch.setattr(tca_plot, "plot_fills", overflow)
    assert tca_command.run(args(tmp_path, plot=tmp_path / "f.png"), io.StringIO()) == 2
    assert "could not compute the plot (Overflow" in capsys.readouterr().err
    monkeypatch.setattr(tca_fills, "analyse_fills", overflow)
    assert tca_command.run(args(tmp_path), io.StringIO()) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "could not compute the figures (Overflow" in line


def test_a_good_file_still_prints_its_report(tmp_path: Path) -> None:
    out = io.StringIO()
    assert tca_command.run(args(tmp_path), out) == 0
    assert out.getvalue().splitlines()[-1].startswith("total buy: 1 fills  quantity 100")
