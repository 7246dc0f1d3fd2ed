"""Erasure on request on the real broker: `lead-sla erase LEAD_ID` and the worker's answer.

A lead the worker processed is erased: its rows leave the read models (``--db``), its fact gets
a tombstone on the compacted ``sla.facts`` topic, and after a restart of the worker (state recovered from the changelog) the lead is still
gone: a new activity for it is held like any input before its ``lead.created`` (and
dead-lettered when the wait ends), while another lead carries on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from .conftest import KafkaIO, Record
from .processes import (
    free_port,
    lead_event,
    read_until,
    run_cli,
    running_worker,
    wait_ready,
    worker_env,
)

pytestmark = pytest.mark.kafka

POLICY = 'default_manager = "mgr-ines"\n\n[[targets]]\nminutes = 60\n'


def _fact_rows(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {str(row[0]) for row in conn.execute("SELECT lead_id FROM lead_facts")}


def _types(records: list[Record], lead_id: str) -> list[str]:
    """The output types published for a lead (dead letters left out)."""
    return [
        r.json()["type"]
        for r in records
        if r.key == lead_id.encode() and r.value is not None and not r.topic.endswith("sla.dlq")
    ]


def test_an_erased_lead_gets_a_fact_tombstone_and_stays_gone_after_a_restart(
    kafka_settings: Callable[..., Any], kafka_io: KafkaIO, tmp_path: Path
) -> None:
    # Given a worker that processed two leads (each has a fact on sla.facts)
    settings = kafka_settings()
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    env = worker_env(settings, policy, LEADSLA_HELD_TIMEOUT_S="2")
    log = tmp_path / "worker.log"
    created = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    facts, measurements = settings.topic("sla.facts"), settings.topic("sla.measurements")
    topics = run_cli(["topics", "create"], env)  # before any reader could auto-create one
    assert topics.returncode == 0, topics.stderr
    with running_worker(env, log):
        kafka_io.produce(
            settings.topic("leads.created"),
            [
                (
                    b"lead-gone",
                    lead_event("lead.created", "lead-gone", "c-1", created, source="email"),
                ),
                (
                    b"lead-kept",
                    lead_event("lead.created", "lead-kept", "c-2", created, source="email"),
                ),
            ],
        )
        records = read_until(
            kafka_io,
            [facts],
            lambda rs: {r.key for r in rs} >= {b"lead-gone", b"lead-kept"},
            timeout_s=40,
        )
        assert {r.key for r in records} >= {b"lead-gone", b"lead-kept"}, log.read_text()[-3000:]

        # and read models projected from the worker's outputs
        db = tmp_path / "rm.db"
        projected = run_cli(["project", "--until-caught-up", "--db", f"sqlite:///{db}"], env)
        assert projected.returncode == 0, projected.stderr
        assert _fact_rows(db) == {"lead-gone", "lead-kept"}

        # When the lead is erased on request, from the worker and the read models
        erased = run_cli(["erase", "lead-gone", "--db", f"sqlite:///{db}"], env, timeout=60)
        assert erased.returncode == 0, erased.stderr
        assert erased.stdout.startswith(f"lead-gone\terase sent to {settings.topic_prefix}")
        assert "read models: " in erased.stdout and "lead_facts 1" in erased.stdout
        assert _fact_rows(db) == {"lead-kept"}

        # Then its fact gets a tombstone on sla.facts, after its last fact
        def tombstoned(rs: list[Record]) -> bool:
            mine = [r for r in rs if r.key == b"lead-gone"]
            return bool(mine) and mine[-1].value is None

        records = read_until(kafka_io, [facts], tombstoned, timeout_s=20)
        assert tombstoned(records), log.read_text()[-3000:]
        assert [r.value for r in records if r.key == b"lead-kept"][-1] is not None

    # When the worker restarts (its state recovered from the changelog) and both leads get a
    # meaningful answer
    answered = datetime.now(UTC).isoformat()
    answer = {
        "actor_id": "rep-1",
        "actor_kind": "person",
        "kind": "email",
        "direction": "outbound",
    }
    log = tmp_path / "worker-restarted.log"
    port = free_port()
    with running_worker({**env, "LEADSLA_METRICS_PORT": str(port)}, log):
        assert wait_ready(port), log.read_text()[-3000:]
        kafka_io.produce(
            settings.topic("leads.activity"),
            [
                (
                    b"lead-kept",
                    lead_event("lead.activity_logged", "lead-kept", "a-2", answered, **answer),
                ),
                (
                    b"lead-gone",
                    lead_event("lead.activity_logged", "lead-gone", "a-1", answered, **answer),
                ),
            ],
        )
        dlq = settings.topic("sla.dlq")
        records = read_until(
            kafka_io,
            [measurements, dlq],
            lambda rs: (
                "sla.response_recorded" in _types(rs, "lead-kept")
                and any(r.topic == dlq for r in rs)
            ),
            timeout_s=40,
        )

    # Then the kept lead is answered as usual
    assert "sla.response_recorded" in _types(records, "lead-kept"), log.read_text()[-12000:]
    # and the erased lead starts from nothing: its answer waited for a lead.created that never
    # came (held), then went to the dead letters; nothing was measured for it after the erase
    letters = [orjson.loads(r.value) for r in records if r.topic == dlq]
    assert [(x["lead_id"], x["event_id"]) for x in letters] == [("lead-gone", "a-1")]
    assert "lead.created" in letters[0]["reason"], letters[0]["reason"]
    assert "sla.response_recorded" not in _types(records, "lead-gone")
