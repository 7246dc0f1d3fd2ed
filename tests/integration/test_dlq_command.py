"""``lead-sla dlq list`` and ``resend`` against a real broker (SPEC.md section 7, rule 16).

Given dead letters written to ``sla.dlq`` with ``encode_dlq`` (from the bad-record corpus, one of
them cut to fit), ``list`` shows them with their reasons, ``resend`` puts an original back on its
topic byte for byte with its key and headers, and a cut original is refused.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest

from leadsla.cli import main
from leadsla.codec import InvalidEvent, decode_input, dlq_key, encode_dlq
from leadsla.domain.instant import parse_rfc3339
from leadsla.settings import Settings
from leadsla.streams.admin import create_topics
from tests.bad_records import BadRecord, bad_records

pytestmark = pytest.mark.kafka

NOW = dt.datetime(2026, 3, 2, 9, 15, tzinfo=dt.UTC)
RECEIVED = parse_rfc3339("2026-03-02T09:15:00Z")
CORPUS = {record.name: record for record in bad_records(NOW)}
# A plain invalid event, a binary CloudEvent (its key and headers carry the envelope), a value
# cut to fit, and one with a null header value (kafka-python cannot send it).
LETTERS = ("missing-fields", "cloudevent-binary-bad-time", "value-900kb", "odd-headers")


@dataclass(frozen=True)
class Read:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def read_all(settings: Settings, topic: str, timeout_s: float = 15.0) -> list[Read]:
    """Every record of ``topic`` up to its current end (bounded in time)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=list(settings.broker_hosts), group_id=None, enable_auto_commit=False
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        found: list[Read] = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for tp, messages in consumer.poll(timeout_ms=500).items():
                found.extend(
                    Read(tp.topic, tp.partition, m.offset, m.key, m.value, list(m.headers))
                    for m in messages
                )
        return found
    finally:
        consumer.close()


def reason_of(record: BadRecord) -> str:
    try:
        decode_input(record.value, record.headers, record.key)
    except InvalidEvent as exc:
        return exc.reason
    return record.why


def write_letters(settings: Settings) -> dict[str, str]:
    """Dead-letter the chosen corpus records into sla.dlq; name -> ``P:O`` of each letter."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=list(settings.broker_hosts), acks="all")
    positions: dict[str, str] = {}
    try:
        for offset, name in enumerate(LETTERS, start=100):
            record = CORPUS[name]
            letter = encode_dlq(
                record.value,
                topic=settings.topic("leads.created"),
                partition=0,
                offset=offset,
                reason=reason_of(record),
                received_at=RECEIVED,
                key=record.key,
                headers=record.headers,
            )
            metadata = producer.send(
                settings.topic("sla.dlq"), key=dlq_key(record.key), value=letter
            ).get(timeout=15)
            positions[name] = f"{metadata.partition}:{metadata.offset}"
        producer.flush(timeout=15)
    finally:
        producer.close(timeout=5)
    return positions


def cli(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> tuple[int, str, str]:
    code = main(
        [
            "dlq",
            *argv,
            "--bootstrap-servers",
            settings.bootstrap_servers,
            "--prefix",
            settings.topic_prefix,
            "--timeout",
            "20",
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def dlq_settings(kafka_settings: Callable[..., Settings]) -> tuple[Settings, dict[str, str]]:
    settings = kafka_settings()
    assert all(status == "created" for status in create_topics(settings).values())
    return settings, write_letters(settings)


def test_list_shows_every_letter_with_its_reason(
    dlq_settings: tuple[Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, positions = dlq_settings

    code, out, err = cli(capsys, settings, "list")

    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split("\t")[:2] == ["DLQ", "TOPIC"]
    by_position = {row.split("\t")[0]: row.split("\t") for row in rows}
    assert set(by_position) == set(positions.values())
    missing = by_position[positions["missing-fields"]]
    assert missing[1:6] == [
        settings.topic("leads.created"),
        "0",
        "100",
        "evt-bad-missing-fields",
        "bad-missing-fields",
    ]
    assert missing[7] == "data.owner_id: Field required"
    cut = by_position[positions["value-900kb"]]
    assert cut[6] == f"{len(CORPUS['value-900kb'].value or b'')} (cut)"
    assert "ce_time header" in by_position[positions["cloudevent-binary-bad-time"]][7]
    assert "4 shown of 4 records" in err


def test_list_filters_limits_and_speaks_json(
    dlq_settings: tuple[Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, positions = dlq_settings

    code, out, _ = cli(capsys, settings, "list", "--reason", "FIELD REQUIRED", "--json")
    assert code == 0
    (row,) = [orjson.loads(line) for line in out.splitlines()]
    assert f"{row['dlq_partition']}:{row['dlq_offset']}" == positions["missing-fields"]
    assert row["reason"] == "data.owner_id: Field required"
    assert row["truncated"] is False and row["received_at"] == "2026-03-02T09:15:00Z"

    code, out, _ = cli(capsys, settings, "list", "--limit", "2")
    assert code == 0
    assert len(out.splitlines()) == 1 + 2


def test_resend_puts_the_original_back_byte_for_byte(
    dlq_settings: tuple[Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, positions = dlq_settings
    chosen = ("missing-fields", "cloudevent-binary-bad-time")

    # A dry run sends nothing
    code, out, err = cli(
        capsys, settings, "resend", "--offset", *(positions[n] for n in chosen), "--dry-run"
    )
    assert code == 0, err
    assert out.count("would re-send") == 2
    assert read_all(settings, settings.topic("leads.created")) == []

    # When two letters are re-sent
    code, out, err = cli(capsys, settings, "resend", "--offset", *(positions[n] for n in chosen))

    # Then their originals are on their topic, value, key and headers as they came
    assert code == 0, err
    assert out.count("re-sent") == 2
    back = read_all(settings, settings.topic("leads.created"))
    got = sorted((r.key, r.value, r.headers) for r in back)
    expected = sorted((CORPUS[n].key, CORPUS[n].value, CORPUS[n].headers) for n in chosen)
    assert got == expected


def test_resend_by_event_id(
    dlq_settings: tuple[Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = dlq_settings

    code, _, err = cli(capsys, settings, "resend", "--event-id", "evt-bad-missing-fields")

    assert code == 0, err
    (back,) = read_all(settings, settings.topic("leads.created"))
    assert (back.key, back.value) == (
        CORPUS["missing-fields"].key,
        CORPUS["missing-fields"].value,
    )


def test_a_cut_original_is_refused_and_nothing_is_sent(
    dlq_settings: tuple[Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, positions = dlq_settings

    code, out, err = cli(capsys, settings, "resend", "--offset", positions["value-900kb"])
    assert code == 2
    assert out == ""
    first, *rest = err.splitlines()
    assert "original was cut to fit" in first and positions["value-900kb"] in first
    assert rest == [
        "lead-sla dlq: nothing re-sent (choose others with --offset, or --skip-unsendable)"
    ]

    # --all refuses as a whole; --skip-unsendable sends what can be sent
    code, _, err = cli(capsys, settings, "resend", "--all")
    assert code == 2
    assert "original was cut" in err and "null value" in err
    assert read_all(settings, settings.topic("leads.created")) == []
    code, out, err = cli(capsys, settings, "resend", "--all", "--skip-unsendable")
    assert code == 0, err
    assert len(read_all(settings, settings.topic("leads.created"))) == 2


def test_mistakes_are_one_line(
    dlq_settings: tuple[Settings, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = dlq_settings

    code, _, err = cli(capsys, settings, "resend", "--offset", "0:99999")
    assert (code, err.count("\n")) == (2, 1)
    assert "no dead letter" in err and "0:99999" in err

    code = main(
        ["dlq", "list", "--bootstrap-servers", settings.bootstrap_servers, "--prefix", "nope-"]
    )
    _, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and "nope-sla.dlq does not exist" in err


def test_the_command_reads_its_broker_and_prefix_from_the_environment(
    dlq_settings: tuple[Settings, dict[str, str]],
) -> None:
    settings, positions = dlq_settings
    env = {
        **os.environ,
        "LEADSLA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "LEADSLA_TOPIC_PREFIX": settings.topic_prefix,
    }

    done = subprocess.run(
        [sys.executable, "-m", "leadsla.cli", "dlq", "list", "--json", "--timeout", "20"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert {f"{r['dlq_partition']}:{r['dlq_offset']}" for r in rows} == set(positions.values())
    assert b"Traceback" not in done.stderr
