"""``python -m devtools.pg_local``: a throw-away PostgreSQL from Debian's binaries, no Docker.

Given the server binaries, when ``start --state-file F`` runs, then it prints only a URL that
answers, ``status`` says it runs, and ``stop`` stops it and removes its data folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.pg_fixture import REPO_ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]  # bounded in time


def _pg_local(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools.pg_local", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_status_stop_with_a_state_file(tmp_path: Path) -> None:
    from devtools.pg_local import PgLocalError, find_bindir

    try:
        find_bindir()
    except PgLocalError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(str(exc), pytrace=False)
        pytest.skip(str(exc))
    state = tmp_path / "pg.json"
    # When the server starts
    started = _pg_local("start", "--state-file", str(state))
    try:
        assert started.returncode == 0, started.stderr
        # Then standard output is only the URL, and the URL answers
        url = started.stdout.strip()
        assert url.startswith("postgresql://app@127.0.0.1:") and "\n" not in url
        with psycopg.connect(url, connect_timeout=10) as conn:
            (version,) = conn.execute("SHOW server_version").fetchone() or ("",)
        assert str(version).split(".")[0].isdigit()
        status = _pg_local("status", "--state-file", str(state))
        assert status.returncode == 0 and "running" in status.stdout
        run_dir = Path(json.loads(state.read_text())["run_dir"])
        assert run_dir.is_dir()
    finally:
        # When it stops, then it no longer answers and its folder is gone
        stopped = _pg_local("stop", "--state-file", str(state))
    assert stopped.returncode == 0, stopped.stderr
    assert not run_dir.exists() and not state.exists()
    assert _pg_local("status", "--state-file", str(state)).returncode == 1
