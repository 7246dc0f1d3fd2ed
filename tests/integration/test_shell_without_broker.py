"""The integration layer's pure parts, no broker needed: settings, the worker's per-record work
and dead letters, the local broker's generated configuration."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import orjson
import pytest

from devtools import kafka_local
from leadsla.domain.policy import Policy, TargetRule
from leadsla.schemas.dlq import DeadLetter
from leadsla.settings import Settings, SettingsError
from leadsla.streams.process import LeadProcessor, Origin, OutRecord

NOW = 1_772_460_000_000_000  # 2026-03-02T14:00:00Z: the wall clock of these steps


def process_created(
    value: bytes, policy: Policy, *, origin: Origin
) -> list[tuple[str, bytes, bytes]]:
    """One record through the worker's per-record work, as (topic, key, value)."""
    handled = LeadProcessor(policy).on_input(value, origin, lambda _lead: None, NOW, NOW)
    return [(r.topic, r.key, _value(r)) for r in handled.records]


def _value(record: OutRecord) -> bytes:
    """A published record's value (these inputs never erase a lead, so never a tombstone)."""
    assert record.value is not None, f"unexpected tombstone on {record.topic}"
    return record.value


POLICY = Policy(default_manager="mgr-ines", targets=(TargetRule(minutes=90),), warn_at=0.5)
ORIGIN = Origin("p-leads.created", 3, 41, received_at=1_772_442_000_000_000, key=b"lead-7")


# --------------------------------------------------------------------------- settings


def test_settings_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.bootstrap_servers == "kafka://127.0.0.1:9092"
    assert settings.broker_urls == ["kafka://127.0.0.1:9092"]
    assert (settings.topic_prefix, settings.store, settings.app_id) == ("", "memory://", "lead-sla")
    assert settings.topic("sla.dlq") == "sla.dlq"


def test_settings_come_from_leadsla_variables() -> None:
    settings = Settings.from_env(
        {
            "LEADSLA_BOOTSTRAP_SERVERS": "10.0.0.1:9092, kafka://10.0.0.2:9093",
            "LEADSLA_TOPIC_PREFIX": "stage-",
            "LEADSLA_POLICY": "/etc/lead-sla/policy.toml",
            "LEADSLA_PARTITIONS": "12",
            "LEADSLA_SESSION_TIMEOUT_S": "6",
            "LEADSLA_WEB_ENABLED": "true",
            "LEADSLA_SASL_PASSWORD": "hunter2",
            "BROKER_SESSION_TIMEOUT": "99",  # faust's own variable: not ours, ignored
        }
    )
    assert settings.broker_hosts == ("10.0.0.1:9092", "10.0.0.2:9093")
    assert settings.topic("leads.created") == "stage-leads.created"
    assert settings.policy_path == "/etc/lead-sla/policy.toml"
    assert (settings.partitions, settings.session_timeout_s, settings.web_enabled) == (
        12,
        6.0,
        True,
    )
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)


def test_settings_errors_name_the_variable() -> None:
    with pytest.raises(SettingsError, match="LEADSLA_PARTITIONS"):
        Settings.from_env({"LEADSLA_PARTITIONS": "many"})
    with pytest.raises(SettingsError, match="session_timeout_s must not exceed"):
        Settings.from_env({"LEADSLA_SESSION_TIMEOUT_S": "40", "LEADSLA_REQUEST_TIMEOUT_S": "30"})


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ValueError):
        settings.partitions = 3  # type: ignore[misc]


# --------------------------------------------------------------------------- per-record work


def test_lead_created_gives_timer_started_from_its_own_time() -> None:
    value = orjson.dumps(
        {
            "event_id": "e-7",
            "type": "lead.created",
            "lead_id": "lead-7",
            "occurred_at": "2026-03-02T09:00:00-05:00",
            "data": {"source": "email"},
        }
    )
    records = process_created(value, POLICY, origin=ORIGIN)
    [(topic, key, out)] = [r for r in records if orjson.loads(r[2])["type"] == "sla.timer_started"]
    event = orjson.loads(out)
    assert (topic, key) == ("sla.measurements", b"lead-7")
    # the engine's first fact goes to the measurements topic and the compacted facts topic
    facts = [
        (t, orjson.loads(v)) for t, _, v in records if orjson.loads(v)["type"] == "sla.measured"
    ]
    assert [t for t, _ in facts] == ["sla.measurements", "sla.facts"]
    assert facts[0][1]["data"]["status"] == "open"
    assert event["occurred_at"] == "2026-03-02T14:00:00Z"
    assert event["data"]["due_at"] == "2026-03-02T15:30:00Z"
    assert event["data"]["warn_at"] == "2026-03-02T14:45:00Z"
    assert event["data"]["priority"] == "normal"
    # Deterministic output id: the same input gives the same record.
    assert process_created(value, POLICY, origin=ORIGIN) == records


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"event_id": "e", "type": "lead.created", "lead_id": "lead-7"}', "occurred_at"),
    ],
)
def test_invalid_input_becomes_one_dead_letter(value: bytes, reason: str) -> None:
    [(topic, key, out)] = process_created(value, POLICY, origin=ORIGIN)
    letter = DeadLetter.model_validate_json(out)  # the wire contract of sla.dlq
    assert (topic, key) == ("sla.dlq", b"lead-7")
    assert base64.b64decode(letter.original_base64) == value
    assert (letter.topic, letter.partition, letter.offset) == ("p-leads.created", 3, 41)
    assert reason.lower() in letter.reason.lower()


# --------------------------------------------------------------------------- local broker config


@pytest.mark.parametrize("version", ["3.9.2", "4.1.1"])
def test_broker_properties_are_a_single_kraft_node(version: str, tmp_path: Path) -> None:
    text = kafka_local.server_properties(version, 9092, 9093, tmp_path)
    props = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert ("share.coordinator.state.topic.replication.factor" in props) == version.startswith("4")


def test_pom_brings_a_logging_backend_for_each_major_version() -> None:
    assert "slf4j-reload4j" in kafka_local._pom("3.9.2")
    assert "log4j-slf4j-impl" in kafka_local._pom("4.1.1")
    with pytest.raises(kafka_local.KafkaLocalError):
        kafka_local._check_version("4.1; rm -rf /")


def test_cluster_ids_are_kafka_uuids() -> None:
    for _ in range(50):
        cid = kafka_local._cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid) and not cid.startswith("-")
