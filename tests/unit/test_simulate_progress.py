"""`lead-sla simulate` draws a progress bar on a terminal (issue 10: long work shows progress).

200,000 leads take most of a minute on this machine, silent until now. The bar goes by the leads
whose `lead.created` went through, ends at 100 % with the line count, and is drawn only when
standard error is a terminal and the events do not go to that same terminal.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from leadsla import cli, simulate


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(monkeypatch: pytest.MonkeyPatch, stderr: io.StringIO, *argv: str) -> int:
    monkeypatch.setattr(simulate, "PROGRESS_EVERY", 50)
    monkeypatch.setattr("sys.stderr", stderr)
    args = cli.build_parser("simulate").parse_args(["simulate", *argv])
    return simulate.run(args)


def test_a_terminal_sees_the_bar_grow_to_100_percent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given standard error on a terminal and the events going to a file
    terminal = _Terminal()
    out = tmp_path / "events.jsonl"
    # When 200 leads are simulated
    assert _run(monkeypatch, terminal, "--leads", "200", "--out", str(out)) == 0
    # Then the bar was redrawn in place, never went back, and ends at 100 % with every line
    lines = out.read_bytes().count(b"\n")
    drawn = terminal.getvalue()
    bars = [part for part in drawn.split("\r") if part.startswith("simulate [")]
    assert len(bars) == lines // 50 + 1
    percents = [int(bar.split("]")[1].split("%")[0]) for bar in bars]
    assert percents == sorted(percents) and percents[0] < 50 and percents[-2] <= 99
    assert bars[-1].startswith(f"simulate [{'#' * 30}] 100%  {lines:,} lines\n")


def test_no_bar_when_standard_error_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = io.StringIO()
    assert _run(monkeypatch, pipe, "--leads", "200", "--out", str(tmp_path / "e.jsonl")) == 0
    assert "\r" not in pipe.getvalue()
    assert pipe.getvalue().startswith("lead-sla simulate: 200 leads")
