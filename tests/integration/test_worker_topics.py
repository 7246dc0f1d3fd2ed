"""The worker checks its topics at start (issue 6, item 1), on the real broker.

Given input topics that are not co-partitioned, or an ``sla.facts`` that is not compacted, the
worker refuses to start with one clear line and exit code 2. Given nothing, it creates every
topic it needs with its configuration, its internal topics named from the prefix and app id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsla.settings import Settings

pytestmark = pytest.mark.kafka

POLICY = 'default_manager = "mgr"\n\n[[targets]]\nminutes = 30\n'


def _env(settings: Settings, policy: Path) -> dict[str, str]:
    return {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_DATA_DIR": settings.data_dir,
        "LEADSLA_PARTITIONS": "2",
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
        "LEADSLA_REBALANCE_TIMEOUT_S": "6",
        "LEADSLA_POLICY": str(policy),
    }


def _create(bootstrap: str, topics: dict[str, tuple[int, dict[str, str]]]) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {
                name: {"num_partitions": count, "replication_factor": 1, "configs": config}
                for name, (count, config) in topics.items()
            },
            timeout_ms=30_000,
        )
    finally:
        admin.close()


def _worker(env: dict[str, str], timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadsla.cli", "worker", "--loglevel", "warning"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_input_topics_that_are_not_co_partitioned_refuse_the_start(
    kafka_settings: Callable[..., Any], tmp_path: Path
) -> None:
    # Given leads.activity with 3 partitions beside leads.created with 2
    settings = kafka_settings()
    _create(
        settings.bootstrap_servers,
        {
            settings.topic("leads.created"): (2, {}),
            settings.topic("leads.ownership"): (2, {}),
            settings.topic("leads.activity"): (3, {}),
        },
    )
    (tmp_path / "p.toml").write_text(POLICY)
    # When the worker starts
    result = _worker(_env(settings, tmp_path / "p.toml"))
    # Then it refuses, naming the topics and their counts, without a traceback
    assert result.returncode == 2, result.stderr
    assert "not co-partitioned" in result.stderr
    assert f"{settings.topic('leads.activity')}: 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_sla_facts_topic_that_is_not_compacted_refuses_the_start(
    kafka_settings: Callable[..., Any], tmp_path: Path
) -> None:
    # Given sla.facts created by hand (or auto-created by the broker) without compaction
    settings = kafka_settings()
    _create(settings.bootstrap_servers, {settings.topic("sla.facts"): (2, {})})
    (tmp_path / "p.toml").write_text(POLICY)
    result = _worker(_env(settings, tmp_path / "p.toml"))
    assert result.returncode == 2, result.stderr
    assert f"{settings.topic('sla.facts')} exists with cleanup.policy=delete" in result.stderr
    assert "must be compacted" in result.stderr


def test_the_worker_creates_its_topics_with_their_configuration(
    kafka_settings: Callable[..., Any], tmp_path: Path
) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    settings = kafka_settings()
    (tmp_path / "p.toml").write_text(POLICY)
    worker = subprocess.Popen(
        [sys.executable, "-m", "leadsla.cli", "worker", "--loglevel", "warning"],
        env=_env(settings, tmp_path / "p.toml"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    prefix, app = settings.topic_prefix, settings.app_id
    wanted = {
        *(
            settings.topic(t)
            for t in (
                "leads.created",
                "leads.ownership",
                "leads.activity",
                "sla.alerts",
                "sla.tasks",
                "sla.measurements",
                "sla.facts",
                "sla.dlq",
            )
        ),
        f"{prefix}{app}-leads-changelog",
        f"{prefix}{app}-ticks",
        f"{prefix}{app}-policies",
    }
    admin = KafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not wanted <= set(admin.list_topics()):
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            time.sleep(0.5)
        assert wanted <= set(admin.list_topics())
        counts = {
            info["name"]: len(info["partitions"]) for info in admin.describe_topics(list(wanted))
        }
        assert counts.pop(f"{prefix}{app}-policies") == 1
        assert set(counts.values()) == {2}
        compacted = [
            settings.topic("sla.facts"),
            f"{prefix}{app}-leads-changelog",
            f"{prefix}{app}-policies",
        ]
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in compacted]
        )["topic"]
        assert {
            name: described[name]["cleanup.policy"]["value"] for name in compacted
        } == dict.fromkeys(compacted, "compact")
    finally:
        admin.close()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
