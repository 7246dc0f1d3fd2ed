"""The simulator after its split into rooms: same bytes as before, one calendar, the settings' Kafka.

``leadsla.simulation`` holds the organisation, the workload and the delivery faults;
``leadsla.simulate`` is the command. The digests below were taken from the simulator before the
split (one 1,400-line module with its own calendar): the benchmark's and the demos' inputs must not
move when the code is reorganised, so a change of them is a deliberate act that updates the pins.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from types import ModuleType
from typing import Any, ClassVar

import orjson
import pytest

from leadsla import simulate
from leadsla.domain.instant import parse_rfc3339
from leadsla.policy_file import parse_policy
from leadsla.simulation import iter_lines
from leadsla.simulation.organisation import BUSINESS_HOURS, TIMEZONE, business_calendar

PINNED: list[tuple[dict[str, Any], str, int]] = [
    (
        {"leads": 300, "seed": 7, "start": "2026-12-21T08:00:00Z", "shuffle_window": 120.0,
         "invalid_rate": 0.03},
        "f41bc269e244d907b11d3b1f1dc151a2e237380f1292cd8b01c95ef1b04c4dff",
        1676,
    ),
    (
        {"leads": 300, "seed": 42, "start": simulate.DEFAULT_START},
        "3cb7854c0728eaf1f48578997dc9b42fd817aca524d05373bfccd8565f690f85",
        1620,
    ),
]  # fmt: skip
POLICY_SHA256 = "085ee39acb79518e4502ff8d48e6e5736e8ff01260fd75f2ca0a79be4b7382ec"


@pytest.mark.parametrize(("options", "digest", "count"), PINNED)
def test_a_seed_gives_the_same_bytes_as_before_the_split(
    options: dict[str, Any], digest: str, count: int
) -> None:
    given = dict(options)
    leads, seed, start = given.pop("leads"), given.pop("seed"), given.pop("start")

    data = b"".join(
        line.value + b"\n" for line in iter_lines(leads, seed, parse_rfc3339(start), **given)
    )

    assert len(data.splitlines()) == count
    assert hashlib.sha256(data).hexdigest() == digest


def test_the_policy_text_is_the_same_as_before_the_split() -> None:
    assert hashlib.sha256(simulate.policy_toml().encode()).hexdigest() == POLICY_SHA256


def test_the_people_work_on_the_policys_business_calendar() -> None:
    policy = parse_policy(simulate.policy_toml())

    assert policy.business_hours == BUSINESS_HOURS
    assert policy.timezone == TIMEZONE
    assert policy.calendar == business_calendar()


class FakeProducer:
    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        FakeProducer.instances.append(self)

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append((topic, key, value))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_producing_uses_the_settings_connection_and_topic_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_kafka = ModuleType("kafka")
    fake_kafka.KafkaProducer = FakeProducer  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kafka", fake_kafka)
    FakeProducer.instances.clear()
    for name, value in {
        "LEADSLA_SECURITY_PROTOCOL": "SASL_SSL",
        "LEADSLA_SASL_MECHANISM": "SCRAM-SHA-512",
        "LEADSLA_SASL_USERNAME": "simulator",
        "LEADSLA_SASL_PASSWORD": "s3cret",
        "LEADSLA_SSL_CAFILE": "/etc/ssl/cluster-ca.pem",
        "LEADSLA_TOPIC_PREFIX": "staging.",
    }.items():
        monkeypatch.setenv(name, value)
    args = argparse.Namespace(
        leads=20,
        seed=5,
        start=simulate.DEFAULT_START,
        leads_per_day=300.0,
        out="-",
        bootstrap="broker-1:9093,broker-2:9093",
        topic_prefix=None,  # not given: LEADSLA_TOPIC_PREFIX
        invalid_rate=0.0,
        shuffle_window=0.0,
        write_policy=None,
    )

    assert simulate.run(args) == 0

    (producer,) = FakeProducer.instances
    assert producer.config["bootstrap_servers"] == ["broker-1:9093", "broker-2:9093"]
    assert producer.config["security_protocol"] == "SASL_SSL"
    assert producer.config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert producer.config["sasl_plain_username"] == "simulator"
    assert producer.config["sasl_plain_password"] == "s3cret"
    assert producer.config["ssl_cafile"] == "/etc/ssl/cluster-ca.pem"
    routes = {orjson.loads(value)["type"]: topic for topic, _, value in producer.sent}
    assert routes["lead.created"] == "staging.leads.created"
    assert routes["lead.owner_assigned"] == "staging.leads.ownership"
    assert routes["lead.activity_logged"] == "staging.leads.activity"


def test_a_bad_setting_is_a_usage_error_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADSLA_SECURITY_PROTOCOL", "CARRIER_PIGEON")
    args = argparse.Namespace(
        leads=5,
        seed=1,
        start=simulate.DEFAULT_START,
        leads_per_day=300.0,
        out="-",
        bootstrap="127.0.0.1:9092",
        topic_prefix="",
        invalid_rate=0.0,
        shuffle_window=0.0,
        write_policy=None,
    )

    assert simulate.run(args) == 2
    assert "LEADSLA_SECURITY_PROTOCOL" in capsys.readouterr().err
