"""`lead-sla` commands as a user runs them: subprocesses configured by ``LEADSLA_*`` variables."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from leadsla.settings import Settings

from .conftest import KafkaIO, Record

CLI = [sys.executable, "-m", "leadsla.cli"]


def worker_env(settings: Settings, policy: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker on ``settings``'s broker, prefix and app id."""
    env = {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_DATA_DIR": settings.data_dir,
        "LEADSLA_PARTITIONS": str(settings.partitions),
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
        "LEADSLA_REBALANCE_TIMEOUT_S": "6",
        "LEADSLA_POLICY": str(policy),
    }
    env.update(extra)
    return env


def run_cli(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@contextlib.contextmanager
def running_worker(
    env: dict[str, str], log: Path, loglevel: str = "info"
) -> Iterator[subprocess.Popen[bytes]]:
    """`lead-sla worker` in the background (output to ``log``); SIGTERM on the way out, and the
    exit code must then be 0."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [*CLI, "worker", "--loglevel", loglevel],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        assert code == 0, f"worker exit {code}: {log.read_text(errors='replace')[-3000:]}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout_s: float = 40.0) -> bool:
    """True once the worker's ``/readyz`` on ``port`` answers 200 (partitions assigned, table
    recovered), False when ``timeout_s`` passes first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def lead_event(
    kind: str, lead_id: str, event_id: str, occurred_at: str, /, **data: object
) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "type": kind,
            "lead_id": lead_id,
            "occurred_at": occurred_at,
            "data": data,
        }
    )


def read_until(
    kafka_io: KafkaIO,
    topics: list[str],
    done: Callable[[list[Record]], bool],
    timeout_s: float = 30.0,
) -> list[Record]:
    """Everything on ``topics`` from the start, read again until ``done`` holds or time is up."""
    deadline = time.monotonic() + timeout_s
    records: list[Record] = []
    while time.monotonic() < deadline:
        records = kafka_io.read(topics, count=10_000, timeout_s=1.0)
        if done(records):
            return records
        time.sleep(0.2)
    return records
