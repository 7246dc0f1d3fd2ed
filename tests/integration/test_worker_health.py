"""The worker as the compose stack's health checks see it, on the real broker: ``/healthz`` while
it runs, ``/readyz`` once it has partitions and its table recovered, and JSON log lines with
``LEADSLA_LOG_FORMAT=json``."""

from __future__ import annotations

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

import orjson
import pytest

pytestmark = pytest.mark.kafka

POLICY = 'default_manager = "mgr"\n\n[[targets]]\nminutes = 30\n'


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return None  # not listening yet


def test_the_worker_becomes_ready_and_logs_json_lines(
    kafka_settings: Callable[..., Any], tmp_path: Path
) -> None:
    # Given a worker with its metrics port and JSON logs
    settings = kafka_settings()
    (tmp_path / "p.toml").write_text(POLICY)
    port = _free_port()
    env = {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_DATA_DIR": settings.data_dir,
        "LEADSLA_PARTITIONS": "2",
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
        "LEADSLA_REBALANCE_TIMEOUT_S": "6",
        "LEADSLA_POLICY": str(tmp_path / "p.toml"),
        "LEADSLA_METRICS_PORT": str(port),
        "LEADSLA_LOG_FORMAT": "json",
        "LEADSLA_LOG_LEVEL": "info",
    }
    log_path = tmp_path / "worker.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "leadsla.cli", "worker"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # When it starts: alive first, then ready once its partitions are assigned
            seen: list[int | None] = []
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                assert worker.poll() is None, log_path.read_text()
                seen.append(_status(base + "/readyz"))
                if seen[-1] == 200:
                    break
                time.sleep(0.2)
            assert seen[-1] == 200, (seen[-5:], log_path.read_text()[-3000:])
            assert set(seen) <= {None, 503, 200}
            assert _status(base + "/healthz") == 200
            with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
                assert b"lead_sla_consumer_lag_records" in response.read()
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=10)

    # Then every line it wrote is one JSON object with time, level, logger and message
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert lines, "the worker logged nothing at level info"
    for line in lines:
        record = orjson.loads(line)
        assert {"time", "level", "logger", "message"} <= record.keys(), line
    assert any(orjson.loads(line)["logger"].startswith("faust") for line in lines)
