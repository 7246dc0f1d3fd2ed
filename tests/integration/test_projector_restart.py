"""The projector stopped at any point (kill -9 included) and restarted never double counts.

Given a replayed history, when ``lead-sla project --input FILE`` runs as a child process and is
killed with SIGKILL at random moments, then restarted each time, then after every restart the
tables equal a fresh ``--rebuild`` of the same file; the same for SIGTERM (a clean stop).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsla.projections.store import Store
from tests.pg_fixture import REPO_ROOT, History

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]  # bounded in time

KILLS = 4
RUN_LIMIT_S = 120.0


def _project(db: str, history: History, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "leadsla.cli",
            "project",
            "--input",
            str(history.outputs),
            "--db",
            db,
            "--policy",
            str(history.policy),
            "--batch-lines",
            "700",
            *extra,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _finish(process: subprocess.Popen[bytes]) -> bytes:
    _, err = process.communicate(timeout=RUN_LIMIT_S)
    assert process.returncode == 0, err.decode()
    return err


def _position(db: str) -> int:
    with Store(db) as store:
        if "projector_positions" not in store.existing_tables():
            return 0
        rows = store.query("SELECT next_offset FROM projector_positions")
    return int(rows[0]["next_offset"]) if rows else 0


def _snapshot(db: str) -> dict[str, list[tuple[Any, ...]]]:
    with Store(db) as store:
        return store.snapshot()


def test_kill_9_at_random_points_then_restart_equals_a_fresh_rebuild(
    projection_history: Callable[..., History], db_url: str, tmp_path: Path
) -> None:
    # Given a replayed history and a fresh rebuild of it as the reference
    history = projection_history(4000, seed=11)
    reference = f"sqlite:///{tmp_path / 'reference.db'}"
    _finish(_project(reference, history, "--rebuild"))
    expected = _snapshot(reference)
    lines = sum(1 for _ in history.outputs.open("rb"))
    assert expected["projector_positions"][0][2] == lines

    rng = random.Random(20261130)
    positions = []
    for _attempt in range(KILLS):
        # When the projector is killed with SIGKILL at a random point of the file: once its
        # committed position passed a random line, after a random few milliseconds more (so
        # the kill lands between transactions or inside one)
        target = rng.randrange(1, lines - 2000)
        process = _project(db_url, history)
        deadline = time.monotonic() + RUN_LIMIT_S
        while process.poll() is None and _position(db_url) < target:
            assert time.monotonic() < deadline, "the projector made no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.03))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=RUN_LIMIT_S)
        positions.append(_position(db_url))
        # Then a restart that runs to the end leaves exactly the rebuilt tables
        restart = _project(db_url, history)
        _finish(restart)
        assert _snapshot(db_url) == expected
        # (start over for the next round, so every kill lands mid-file again)
        with Store(db_url) as store:
            store.ensure_schema(rebuild=True)
    # (the kills really landed mid-file: the test proves something)
    assert sum(0 < p < lines for p in positions) >= KILLS - 1, (positions, lines)


def test_a_clean_stop_then_a_restart_counts_nothing_twice(
    projection_history: Callable[..., History], tmp_path: Path
) -> None:
    # Given a history projected once
    history = projection_history(4000, seed=11)
    db = f"sqlite:///{tmp_path / 'rm.db'}"
    _finish(_project(db, history))
    before = _snapshot(db)
    # When the projector runs again on the same file
    err = _finish(_project(db, history))
    # Then it applies nothing (it resumes after the last committed line)
    assert b" 0 events applied" in err, err
    assert _snapshot(db) == before
    # And a SIGTERM mid-run stops at a transaction boundary; the restart completes the tables
    other = f"sqlite:///{tmp_path / 'other.db'}"
    process = _project(other, history)
    time.sleep(0.6)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=RUN_LIMIT_S)
    assert process.returncode in (0, -signal.SIGTERM)
    _finish(_project(other, history))
    assert _snapshot(other) == before
