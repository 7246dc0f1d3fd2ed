"""Fixtures: ``run`` replays a scenario in a fresh temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from .runner import ReplayRunner, RunScenario


@pytest.fixture
def runner(tmp_path: Path) -> ReplayRunner:
    return ReplayRunner(tmp_path)


@pytest.fixture
def run(runner: ReplayRunner) -> RunScenario:
    """``run(events, policy_toml, now=None) -> Result`` through ``lead-sla replay``."""
    return runner.run
