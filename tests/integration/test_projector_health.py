"""``lead-sla project --health-port``: the projector's liveness and readiness on a real broker;
and the running count it draws on a terminal while it reads the topics.

Given output records on the worker's topics, when the projector runs with ``--health-port``,
then ``/healthz`` answers 200 while it runs, ``/readyz`` answers 200 only once it has caught up
with what the topics held (its tables then equal a projection of the same records from a file),
and SIGTERM still stops it cleanly. The compose stack's health check uses ``/readyz``.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsla.projections.project import Projector, prepare, project_topics
from leadsla.projections.store import Store
from tests.integration.test_projector_kafka import (
    _file_projection,
    _produce,
    _records,
    _tables,
    _topics_and_history,
)
from tests.pg_fixture import REPO_ROOT, History

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(180)]  # bounded in time


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)
    except OSError:
        return 0  # not listening yet


def test_readyz_answers_200_once_the_projector_caught_up_with_the_topics(
    kafka_bootstrap: str,
    kafka_settings: Callable[..., Any],
    projection_history: Callable[..., History],
    tmp_path: Path,
) -> None:
    # Given the worker's topics holding a history's outputs
    # (1,500 leads: more than one poll of 5,000 records)
    settings, events = _topics_and_history(kafka_settings, projection_history, 1500, 11)
    expected = _file_projection(events, tmp_path, "file")
    _produce(kafka_bootstrap, _records(settings, events))
    port = _free_port()
    env = {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
        "LEADSLA_WEB_HOST": "127.0.0.1",
    }
    db = f"sqlite:///{tmp_path / 'live.db'}"
    command = [
        sys.executable, "-m", "leadsla.cli", "project", "--db", db, "--health-port", str(port)
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    # When the projector runs with its health port
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    try:
        ready = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[1].decode()
            ready = _status(base + "/readyz")
            if ready == 200:
                break
            time.sleep(0.05)
        # Then it is alive, and ready only with every record of the topics in its tables
        assert ready == 200
        assert _tables(db) == _tables(expected)
        assert _status(base + "/healthz") == 200
        assert _status(base + "/nothing") == 404
        # And SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    assert _status(base + "/healthz") == 0  # the endpoint went with the process


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_running_count_end_at_every_record(
    kafka_bootstrap: str,
    kafka_settings: Callable[..., Any],
    projection_history: Callable[..., History],
    tmp_path: Path,
) -> None:
    # Given the worker's topics holding a history's outputs
    settings, events = _topics_and_history(kafka_settings, projection_history, 200, 12)
    _produce(kafka_bootstrap, _records(settings, events))
    terminal = _Terminal()
    # When the projector reads them until caught up, drawing on a terminal
    with Store(f"sqlite:///{tmp_path / 'rm.db'}") as store:
        zone = prepare(store, "UTC", rebuild=False)
        counts = project_topics(
            store, Projector(store, zone), settings, until_caught_up=True, progress=terminal
        )
    # Then the count was redrawn in place and its last state is every record, on its own line
    drawn = terminal.getvalue()
    assert counts.applied == len(events) and counts.skipped == 0  # sla.facts is not read
    assert drawn.startswith("\rproject  ")
    assert drawn.endswith(f"\rproject  {counts.applied:,} records applied, 0 skipped\n")
