"""``lead-sla project`` from the output topics: offsets in the database, never twice.

Given output records on the worker's topics (keyed by lead, the JSON replay writes, produced here
with kafka-python rather than by the worker), when the projector reads them until caught up,
then its tables equal a projection of the same events from a file; when more records arrive and
it runs again, it applies exactly the new ones (the offsets it stored in the same transaction as
the rows), and the result still equals the file projection.
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

import orjson
import pytest

from leadsla import cli
from leadsla.projections.project import (
    Projector,
    prepare,
    project_file,
    project_topics,
)
from leadsla.projections.store import Store
from leadsla.schemas.outputs import topics_for
from leadsla.streams.admin import create_topics
from leadsla.topics import SLA_DLQ
from tests.pg_fixture import REPO_ROOT, History

pytestmark = pytest.mark.kafka


def _produce(bootstrap: str, records: list[tuple[str, bytes | None, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        for topic, key, value in records:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=5)


def _records(settings: Any, events: list[dict[str, Any]]) -> list[tuple[str, bytes | None, bytes]]:
    out: list[tuple[str, bytes | None, bytes]] = []
    for event in events:
        value = orjson.dumps(event)
        if "original_base64" in event:
            out.append((settings.topic(SLA_DLQ), None, value))
            continue
        for topic in topics_for(event["type"], event["data"]):
            out.append((settings.topic(topic), event["lead_id"].encode(), value))
    return out


def _topics_and_history(
    kafka_settings: Callable[..., Any],
    projection_history: Callable[..., History],
    leads: int,
    seed: int,
) -> tuple[Any, list[dict[str, Any]]]:
    """Fresh settings with the worker's topics created, and a replayed history's outputs."""
    settings = kafka_settings()
    create_topics(settings)
    history = projection_history(leads, seed=seed)
    return settings, [orjson.loads(line) for line in history.outputs.read_bytes().splitlines()]


def _tables(db: str) -> dict[str, list[tuple[Any, ...]]]:
    with Store(db) as store:
        snap = store.snapshot()
    snap.pop("projector_positions")
    return snap


def test_project_from_topics_stores_offsets_and_applies_each_record_once(
    kafka_bootstrap: str,
    kafka_settings: Callable[..., Any],
    projection_history: Callable[..., History],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the worker's topics and the outputs of a replayed history, plus a dead letter and
    # a retraction (live-only records)
    settings, events = _topics_and_history(kafka_settings, projection_history, 300, 5)
    breach = next(e for e in events if e["type"] == "sla.breached")
    events.append(
        {
            "event_id": "f" * 32,
            "type": "sla.alert_retracted",
            "lead_id": breach["lead_id"],
            "occurred_at": breach["occurred_at"],
            "data": {
                **{k: breach["data"][k] for k in ("source", "priority", "created_at", "owner_id")},
                "due_at": breach["data"]["due_at"],
                "suppressed": False,
                "retracted_event_id": breach["event_id"],
                "retracted_type": "sla.breached",
                "reason": "late_activity",
            },
        }
    )
    events.append(
        {
            "original_base64": "bm90IGpzb24=",
            "key_base64": None,
            "headers": [],
            "topic": settings.topic("leads.activity"),
            "partition": 1,
            "offset": 4,
            "reason": "not valid JSON",
            "received_at": "2026-11-02T10:00:00Z",
            "event_id": None,
            "lead_id": "ghost-lead",
        }
    )
    first, second = events[: len(events) * 2 // 3], events[len(events) * 2 // 3 :]
    reference = tmp_path / "all.jsonl"
    reference.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    file_db = f"sqlite:///{tmp_path / 'file.db'}"
    with Store(file_db) as store:
        zone = prepare(store, "UTC", rebuild=False)
        project_file(store, Projector(store, zone), reference)

    # When the first part is on the topics and the command runs until caught up
    _produce(kafka_bootstrap, _records(settings, first))
    db = f"sqlite:///{tmp_path / 'topics.db'}"
    for name, value in {
        "LEADSLA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
    }.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["project", "--db", db, "--until-caught-up"]) == 0
    with Store(db) as store:
        stored = store.positions("kafka:")
        facts = store.query("SELECT COUNT(*) AS n FROM lead_facts")[0]["n"]
    # Then the offsets of the four topics it reads are in the database
    # (the dead letter is in the second part, so sla.dlq has nothing to record yet)
    assert {stream for stream, _ in stored} == {
        f"kafka:{settings.topic(t)}" for t in ("sla.measurements", "sla.alerts", "sla.tasks")
    }
    assert facts > 0

    # When the rest arrives and the projector runs again
    _produce(kafka_bootstrap, _records(settings, second))
    with Store(db) as store:
        zone = prepare(store, "UTC", rebuild=False)
        counts = project_topics(store, Projector(store, zone), settings, until_caught_up=True)
    # Then it applied exactly the new records (sla.facts is not read: facts come once, from
    # sla.measurements)
    new_records = [r for r in _records(settings, second) if not r[0].endswith("sla.facts")]
    assert counts.applied == len(new_records)
    # And the tables equal the projection of the same events from a file
    assert _tables(db) == _tables(file_db)
    with Store(db) as store:
        report_alerts = store.query(
            "SELECT retracted FROM alert_log WHERE event_id = ?", (breach["event_id"],)
        )
        coverage = store.query("SELECT * FROM coverage")[0]
    assert report_alerts == [{"retracted": True}]
    assert coverage["dead_letters"] == 1 and coverage["leads_without_created"] == 1


PROGRESS_SQL = (
    "SELECT (SELECT COUNT(*) FROM alerts) AS alerts, (SELECT COUNT(*) FROM tasks) AS tasks, "
    "(SELECT COUNT(*) FROM task_closings) AS closings, "
    "(SELECT COUNT(*) FROM responses) AS responses, (SELECT COUNT(*) FROM lead_timers) AS timers, "
    "(SELECT SUM(version) FROM lead_facts) AS versions"
)


def _progress(db: str) -> dict[str, Any] | None:
    with Store(db) as store:
        if "lead_facts" not in store.existing_tables():
            return None
        return store.query(PROGRESS_SQL)[0]


def _file_projection(events: list[dict[str, Any]], folder: Path, name: str) -> str:
    path = folder / f"{name}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    db = f"sqlite:///{folder / name}.db"
    with Store(db) as store:
        zone = prepare(store, "UTC", rebuild=False)
        project_file(store, Projector(store, zone), path)
    return db


def _wait_for(db: str, expected: dict[str, Any] | None, process: subprocess.Popen[bytes]) -> None:
    """Until every table holds what the file projection holds (bounded)."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1].decode()
        if _progress(db) == expected:
            return
        time.sleep(0.3)
    raise AssertionError(f"the projection never reached {expected} (now {_progress(db)})")


def test_the_running_projector_survives_kill_9_and_stops_on_sigterm(
    kafka_bootstrap: str,
    kafka_settings: Callable[..., Any],
    projection_history: Callable[..., History],
    tmp_path: Path,
) -> None:
    # Given the worker's topics with the first part of a history on them
    settings, events = _topics_and_history(kafka_settings, projection_history, 300, 5)
    first, second = events[: len(events) // 2], events[len(events) // 2 :]
    first_db = _file_projection(first, tmp_path, "first")
    all_db = _file_projection(events, tmp_path, "all")
    _produce(kafka_bootstrap, _records(settings, first))
    env = {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
        "LEADSLA_APP_ID": settings.app_id,
        "LEADSLA_SESSION_TIMEOUT_S": "6",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
    }
    db = f"sqlite:///{tmp_path / 'live.db'}"
    command = [sys.executable, "-m", "leadsla.cli", "project", "--db", db]

    # When the projector runs (no --until-caught-up), has projected the first part, and is
    # killed with SIGKILL while more records arrive
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
    try:
        _wait_for(db, _progress(first_db), process)
        _produce(kafka_bootstrap, _records(settings, second[: len(second) // 2]))
        process.kill()
        process.communicate(timeout=30)
        _produce(kafka_bootstrap, _records(settings, second[len(second) // 2 :]))
        # Then a restarted projector catches up with everything, once
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stderr=subprocess.PIPE)
        _wait_for(db, _progress(all_db), process)
        # And SIGTERM stops it cleanly
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err.decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
    # And its tables are the file projection's
    assert _tables(db) == _tables(all_db)
