"""The projector's ``/healthz`` and ``/readyz`` (``projections/health.py``), without a broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from leadsla.projections.health import Health, serve_health


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read()


def test_liveness_follows_the_loops_beat_and_readiness_the_catching_up() -> None:
    # Given a projector that has not caught up yet, its endpoints on a free port
    health = Health(stale_after_s=30)
    server = serve_health("127.0.0.1", 0, health)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        # Then it is alive and not ready
        assert _get(base + "/healthz") == (200, b"ok\n")
        assert _get(base + "/readyz") == (503, b"not ready\n")
        # When it caught up
        health.ready = True
        assert _get(base + "/readyz") == (200, b"ready\n")
        # When its loop has not turned for longer than the limit: neither alive nor ready
        health.beat = time.monotonic() - 31
        assert _get(base + "/healthz") == (503, b"stalled\n")
        assert _get(base + "/readyz")[0] == 503
        # Anything else is not found
        assert _get(base + "/metrics")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--health-port", "70000"], "not a TCP port"),
        (["--health-port", "0"], "must be 1 or more"),
        (["--health-port", "9109", "--input", "x.jsonl"], "--health-port is for the topics"),
    ],
)
def test_a_bad_health_port_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], says: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leadsla.cli", "project", "--db", "sqlite:///rm.db", *args],
        cwd=tmp_path,
        env={**os.environ, "LEADSLA_BOOTSTRAP_SERVERS": "127.0.0.1:1"},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # not even the database


def test_a_busy_health_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    # Given a port something else already serves
    taken = serve_health("127.0.0.1", 0, Health())
    port = taken.server_address[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "leadsla.cli", "project", "--health-port", str(port)],
            cwd=tmp_path,
            env={
                **os.environ,
                "LEADSLA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                "LEADSLA_WEB_HOST": "127.0.0.1",
            },
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
    finally:
        taken.shutdown()
        taken.server_close()
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and f"cannot serve --health-port on 127.0.0.1:{port}" in lines[0]
