"""`lead-sla replay` draws a progress bar on large files, only when standard error is a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from leadsla import replay
from leadsla.domain.instant import parse_rfc3339
from leadsla.simulate import generate

POLICY = 'default_manager = "mgr"\n'


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _workload(tmp_path: Path, leads: int) -> tuple[str, str]:
    events = tmp_path / "events.jsonl"
    start = parse_rfc3339("2026-03-02T08:00:00Z")
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in generate(leads, 7, start)))
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    return str(events), str(policy)


def test_progress_bar_on_a_terminal_ends_at_100_percent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "PROGRESS_EVERY", 500)
    events, policy = _workload(tmp_path, 300)
    err = _Terminal()
    summary = replay.run_replay(events, policy, str(tmp_path / "out.jsonl"), err=err)
    drawn = err.getvalue()
    assert drawn.count("\rreplay [") >= 2
    assert drawn.endswith(f"100%  {summary.lines_read:,} lines\n")


def test_no_progress_bar_when_standard_error_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay, "PROGRESS_EVERY", 500)
    events, policy = _workload(tmp_path, 300)
    err = io.StringIO()
    replay.run_replay(events, policy, str(tmp_path / "out.jsonl"), err=err)
    assert err.getvalue() == ""


def test_progress_bar_text() -> None:
    assert replay.progress_bar(50, 100, 1234, width=10) == "\rreplay [#####.....]  50%  1,234 lines"
    assert replay.progress_bar(0, 0, 0, width=4) == "\rreplay [####] 100%  0 lines"
