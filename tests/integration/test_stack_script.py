"""``make stack`` without Docker (``devtools/stack.sh``), on the session's broker: it starts the
worker in the background, waits until it is ready, prints the URLs, and ``stop`` ends it."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ops_tools import ROOT

pytestmark = pytest.mark.kafka


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alive(pid: int) -> bool:
    """Running (a zombie left to a parent that does not reap it counts as gone)."""
    try:
        os.kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (ProcessLookupError, FileNotFoundError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_make_stack_starts_a_ready_worker_prints_its_urls_and_stops_it(
    kafka_settings: Callable[..., Any], tmp_path: Path
) -> None:
    # Given the session's broker (the script starts its own when none is named)
    settings = kafka_settings()
    port = _free_port()
    state = tmp_path / "stack"
    env = {
        **os.environ,
        "PY": str(ROOT / ".venv" / "bin" / "python"),
        "LEADSLA_STACK_BOOTSTRAP": settings.bootstrap_servers,
        "LEADSLA_STACK_DIR": str(state),
        "LEADSLA_METRICS_PORT": str(port),
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_PARTITIONS": "2",
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
        "LEADSLA_REBALANCE_TIMEOUT_S": "6",
    }
    script = ["bash", str(ROOT / "devtools" / "stack.sh")]
    pid = None
    try:
        # When the stack starts
        started = subprocess.run(
            [*script, "start"], env=env, capture_output=True, text=True, timeout=45, check=False
        )

        # Then it returns with the worker running and ready, and says where everything is
        assert started.returncode == 0, started.stdout + started.stderr
        pid = int((state / "worker.pid").read_text())
        assert _alive(pid)
        base = f"http://127.0.0.1:{port}"
        for line in (
            f"metrics     {base}/metrics",
            f"liveness    {base}/healthz",
            f"readiness   {base}/readyz",
            f"broker      {settings.bootstrap_servers}",
        ):
            assert line in started.stdout, started.stdout
        with urllib.request.urlopen(base + "/readyz", timeout=5) as response:
            assert response.status == 200
        # and a second start finds it running instead of starting another
        again = subprocess.run(
            [*script, "status"], env=env, capture_output=True, text=True, timeout=10, check=False
        )
        assert again.returncode == 0 and f"{base}/metrics" in again.stdout

        # When it is stopped, the worker is gone
        stopped = subprocess.run(
            [*script, "stop"], env=env, capture_output=True, text=True, timeout=45, check=False
        )
        assert stopped.returncode == 0, stopped.stderr
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
        assert not (state / "worker.pid").exists()
    finally:
        if pid is not None and _alive(pid):
            os.kill(pid, 9)
