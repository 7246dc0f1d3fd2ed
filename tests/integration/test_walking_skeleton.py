"""Walking skeleton through a real broker: lead.created in, sla.timer_started out (issue #2).

Given topics with a fresh prefix and a lead.created produced with kafka-python, when the faust
worker app runs (in-process, on this test's event loop), then ``sla.timer_started`` can be read
back from ``sla.measurements``; invalid input lands in ``sla.dlq`` with its reason.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from leadsla.domain.policy import Policy, TargetRule
from leadsla.settings import Settings
from leadsla.streams.admin import create_topics

if TYPE_CHECKING:
    from .conftest import KafkaIO

RunningApp = Callable[..., AbstractAsyncContextManager[Any]]
"""The ``faust_app_running`` fixture: ``async with faust_app_running(settings, policy) as app``."""

pytestmark = pytest.mark.kafka

POLICY = Policy(
    default_manager="mgr-ines",
    targets=(TargetRule(minutes=15, source="pricing_page"), TargetRule(minutes=60)),
    warn_at=0.8,
)


def lead_created(lead_id: str, occurred_at: str, source: str, priority: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"evt-{lead_id}",
            "type": "lead.created",
            "lead_id": lead_id,
            "occurred_at": occurred_at,
            "data": {"source": source, "priority": priority, "display_name": "Ada Example"},
        }
    )


def test_lead_created_starts_the_timer(
    kafka_settings: Callable[..., Settings], kafka_io: KafkaIO, faust_app_running: RunningApp
) -> None:
    settings = kafka_settings()
    assert all(s == "created" for s in create_topics(settings).values())
    kafka_io.produce(
        settings.topic("leads.created"),
        [
            (
                b"lead-1",
                lead_created("lead-1", "2026-03-02T09:00:00+01:00", "pricing_page", "high"),
            ),
            (b"lead-2", lead_created("lead-2", "2026-03-02T10:30:00Z", "web_form", "low")),
        ],
    )

    async def scenario() -> tuple[list[Any], dict[str, Any]]:
        async with faust_app_running(settings, POLICY) as app:
            consumer = app.consumer._thread._consumer  # the aiokafka consumer faust made
            effective = {
                "group_id": consumer._group_id,
                "session_timeout_ms": consumer._session_timeout_ms,
                "heartbeat_interval_ms": consumer._heartbeat_interval_ms,
                "rebalance_timeout_ms": consumer._rebalance_timeout_ms,
                "auto_offset_reset": consumer._auto_offset_reset,
            }
            # per lead: sla.timer_started and the first sla.measured fact
            records = await kafka_io.read_async([settings.topic("sla.measurements")], count=4)
        return records, effective

    records, effective = asyncio.run(asyncio.wait_for(scenario(), 45))

    # The short consumer-group timeouts of the settings reached the Kafka consumer.
    assert effective == {
        "group_id": settings.app_id,
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 500,
        "rebalance_timeout_ms": 6000,
        "auto_offset_reset": "earliest",
    }
    by_lead = {r.key: r.json() for r in records if r.json()["type"] == "sla.timer_started"}
    assert set(by_lead) == {b"lead-1", b"lead-2"}, records
    first = by_lead[b"lead-1"]
    assert first["type"] == "sla.timer_started"
    assert first["lead_id"] == "lead-1"
    assert first["occurred_at"] == "2026-03-02T08:00:00Z"  # the lead's own time, in UTC
    assert first["data"] == {
        "owner_id": None,
        "backup_owner_id": None,
        "manager_id": "mgr-ines",
        "due_at": "2026-03-02T08:15:00Z",  # 15 minutes for pricing_page
        "warn_at": "2026-03-02T08:12:00Z",  # 0.8 of the window
        "target_minutes": 15,
        "clock": "calendar",
        "source": "pricing_page",
        "priority": "high",
    }
    second = by_lead[b"lead-2"]["data"]
    assert (second["due_at"], second["warn_at"]) == ("2026-03-02T11:30:00Z", "2026-03-02T11:18:00Z")
    assert (second["source"], second["priority"], second["target_minutes"]) == (
        "web_form",
        "low",
        60,
    )


def test_invalid_input_goes_to_the_dead_letter_topic(
    kafka_settings: Callable[..., Settings], kafka_io: KafkaIO, faust_app_running: RunningApp
) -> None:
    settings = kafka_settings()
    create_topics(settings)
    not_json = b"\xff{not json"  # not even UTF-8
    no_source = orjson.dumps(
        {
            "event_id": "evt-9",
            "type": "lead.created",
            "lead_id": "lead-9",
            "occurred_at": "2026-03-02T09:00:00Z",
            "data": {"priority": "high"},
        }
    )
    topic = settings.topic("leads.created")
    written = kafka_io.produce(topic, [(b"lead-8", not_json), (b"lead-9", no_source)])

    async def scenario() -> list[Any]:
        async with faust_app_running(settings, POLICY):
            return await kafka_io.read_async([settings.topic("sla.dlq")], count=2)

    records = asyncio.run(asyncio.wait_for(scenario(), 45))

    letters = {r.key: r.json() for r in records}
    assert set(letters) == {b"lead-8", b"lead-9"}, records
    for (key, original), (partition, offset) in zip(
        ((b"lead-8", not_json), (b"lead-9", no_source)), written, strict=True
    ):
        letter = letters[key]
        assert base64.b64decode(letter["original_base64"]) == original
        assert base64.b64decode(letter["key_base64"]) == key
        assert (letter["topic"], letter["partition"], letter["offset"]) == (
            topic,
            partition,
            offset,
        )
        assert letter["reason"]
    assert "UTF-8" in letters[b"lead-8"]["reason"]
    assert "data.source" in letters[b"lead-9"]["reason"]
    assert letters[b"lead-9"]["event_id"] == "evt-9"
    # Nothing reached sla.measurements.
    assert kafka_io.read([settings.topic("sla.measurements")], count=1, timeout_s=1.0) == []


def test_worker_command_runs_and_stops_on_sigterm(
    kafka_settings: Callable[..., Settings], kafka_io: KafkaIO, tmp_path: Path
) -> None:
    """`lead-sla topics create` and `lead-sla worker` as a user runs them, configured by env."""
    settings = kafka_settings()
    policy = tmp_path / "policy.toml"
    policy.write_text('default_manager = "mgr-ines"\n\n[[targets]]\nminutes = 30\n')
    env = {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_DATA_DIR": settings.data_dir,
        "LEADSLA_PARTITIONS": "2",
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_REBALANCE_TIMEOUT_S": "6",
        "LEADSLA_POLICY": str(policy),
    }
    cli = [sys.executable, "-m", "leadsla.cli"]
    created = subprocess.run(
        [*cli, "topics", "create"], env=env, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    assert f"{settings.topic('sla.facts')}\tcreated" in created.stdout
    kafka_io.produce(
        settings.topic("leads.created"),
        [(b"lead-5", lead_created("lead-5", "2026-03-02T09:00:00Z", "chat", "normal"))],
    )
    worker = subprocess.Popen(
        [*cli, "worker", "--loglevel", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        records = kafka_io.read([settings.topic("sla.measurements")], count=2, timeout_s=30)
        started_timers = [r.json() for r in records if r.json()["type"] == "sla.timer_started"]
        assert len(started_timers) == 1, "no sla.timer_started from the worker command"
        assert started_timers[0]["data"]["due_at"] == "2026-03-02T09:30:00Z"
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
        assert code == 0, worker.stdout.read().decode() if worker.stdout else code
        assert time.monotonic() - started < 30
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        if worker.stdout:
            worker.stdout.close()
