"""The contracts users' tools read: the AsyncAPI document of every topic, the sample events of the
README and examples/ against their schemas, and the schema-evolution rule (schema_version)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from leadsla import cli
from leadsla.codec import decode_input, decode_line
from leadsla.domain.policy import Policy, TargetRule
from leadsla.schemas import inputs
from leadsla.schemas.asyncapi import (
    DOCUMENT_PATH,
    OUTPUT_HEADERS,
    REGENERATE_COMMAND,
    asyncapi_document,
    check_asyncapi,
    render,
)
from leadsla.schemas.dlq import DeadLetter
from leadsla.schemas.inputs import INPUT_MODELS, INPUT_TYPES, validate_input
from leadsla.schemas.outputs import OUTPUT_MODELS, OUTPUT_TOPICS, RETRACTION_TYPE, validate_output
from leadsla.streams.process import LeadProcessor, Origin
from leadsla.topics import ALL_TOPICS, INPUT_TOPICS, TOPIC_CONFIGS
from tests.ops_tools import ROOT, node_env, node_validator

CHECKED_IN = ROOT / DOCUMENT_PATH
SCHEMA_DIR = ROOT / "schemas" / "json"


# --------------------------------------------------------------------------------------------
# The AsyncAPI document
# --------------------------------------------------------------------------------------------


def test_the_checked_in_asyncapi_document_is_what_the_models_generate() -> None:
    assert check_asyncapi(CHECKED_IN) == [], (
        f"{DOCUMENT_PATH} is out of date with the models; regenerate with: {REGENERATE_COMMAND}"
    )


def test_the_asyncapi_document_validates_with_the_asyncapi_parser() -> None:
    # Given the checked-in document and the @asyncapi/parser package (pinned, in .cache/node)
    command = node_validator()

    # When the parser validates it
    done = subprocess.run(
        [*command, "asyncapi", str(CHECKED_IN)],
        capture_output=True,
        text=True,
        timeout=120,
        env=node_env(),
        check=False,
    )

    # Then it reports no error and no warning, and sees every topic and message
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not re.search(r"^(error|warning) ", done.stdout, re.MULTILINE), done.stdout
    assert "valid: 8 channels, 8 operations, 32 messages" in done.stdout


def test_the_asyncapi_parser_refuses_a_broken_document(tmp_path: Path) -> None:
    # Given the document with a cleanup policy Kafka does not know, and an operation that
    # sends a message its channel does not carry
    command = node_validator()
    document = asyncapi_document()
    facts = document["channels"]["slaFacts"]["bindings"]["kafka"]
    facts["topicConfiguration"]["cleanup.policy"] = ["squash"]
    document["operations"]["sendSlaDlq"]["messages"] = [
        {"$ref": "#/channels/slaAlerts/messages/sla.breached"}
    ]
    broken = tmp_path / "broken.json"
    broken.write_bytes(orjson.dumps(document))

    # When the parser validates it
    done = subprocess.run(
        [*command, "asyncapi", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        env=node_env(),
        check=False,
    )

    # Then both mistakes are reported as errors and the exit code says so
    assert done.returncode == 1, done.stdout
    assert "cleanup.policy" in done.stdout
    assert "Operation message does not belong to the specified channel" in done.stdout


def _channel(document: dict[str, Any], topic: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        c for c in document["channels"].values() if c["address"] == topic
    ]
    assert len(found) == 1, topic
    return found[0]


def test_every_topic_is_a_channel_with_its_partitioning_and_compaction() -> None:
    document = asyncapi_document()

    assert sorted(c["address"] for c in document["channels"].values()) == sorted(ALL_TOPICS)
    for topic in ALL_TOPICS:
        kafka = _channel(document, topic)["bindings"]["kafka"]
        assert kafka["topic"] == topic
        assert kafka["partitions"] == 4  # LEADSLA_PARTITIONS' default
        compacted = TOPIC_CONFIGS.get(topic, {}).get("cleanup.policy") == "compact"
        assert kafka["topicConfiguration"]["cleanup.policy"] == (
            ["compact"] if compacted else ["delete"]
        )
    assert _channel(document, "sla.facts")["bindings"]["kafka"]["topicConfiguration"] == {
        "cleanup.policy": ["compact"]
    }


def test_every_event_type_is_a_message_on_the_topics_that_carry_it() -> None:
    document = asyncapi_document()
    messages = document["components"]["messages"]

    # Inputs: each type in its three accepted forms, on an input topic
    on_inputs = {name for topic in INPUT_TOPICS for name in _channel(document, topic)["messages"]}
    for type_ in INPUT_TYPES:
        forms = {type_, f"{type_}.cloudevents-structured", f"{type_}.cloudevents-binary"}
        assert forms <= on_inputs, type_
        assert messages[f"{type_}.cloudevents-binary"]["headers"]["required"] == [
            "ce_id",
            "ce_type",
            "ce_time",
        ]
    # Outputs: on exactly the topics the worker writes them to; retractions on alerts and tasks
    for type_, topics in OUTPUT_TOPICS.items():
        carrying = {c["address"] for c in document["channels"].values() if type_ in c["messages"]}
        assert carrying == set(topics), type_
    carrying = {
        c["address"] for c in document["channels"].values() if RETRACTION_TYPE in c["messages"]
    }
    assert carrying == {"sla.alerts", "sla.tasks"}
    assert set(_channel(document, "sla.dlq")["messages"]) == {"dead-letter"}
    # Every message is keyed (lead_id, or the original key for a dead letter)
    for name, message in messages.items():
        assert message["bindings"]["kafka"]["key"]["type"] == "string", name


def test_the_value_schemas_are_the_models_schemas() -> None:
    schemas = asyncapi_document()["components"]["schemas"]

    for model in (*INPUT_MODELS.values(), *OUTPUT_MODELS.values(), DeadLetter):
        exported = model.model_json_schema(mode="validation")
        exported.pop("$defs", None)
        as_text = orjson.dumps(exported).decode().replace("#/$defs/", "#/components/schemas/")
        assert schemas[model.__name__] == orjson.loads(as_text), model.__name__


def test_output_headers_in_the_document_are_the_ones_the_worker_writes() -> None:
    # Given a lead.created through the worker's per-record work
    processor = LeadProcessor(
        Policy(default_manager="mgr-1", targets=(TargetRule(minutes=30),)), source="lead-sla/x"
    )
    value = orjson.dumps(
        {
            "event_id": "e-1",
            "type": "lead.created",
            "lead_id": "L-1",
            "occurred_at": "2026-03-02T09:00:00Z",
            "data": {"source": "web_form"},
        }
    )
    now = 1_772_442_000_000_000
    handled = processor.on_input(
        value, Origin("leads.created", 0, 0, now, key=b"L-1"), lambda _lead: None, now, now
    )
    messages = asyncapi_document()["components"]["messages"]

    # Then every record's headers are those the document names, with the values it allows
    assert handled.records
    for record in handled.records:
        headers = {name: raw.decode() for name, raw in record.headers if raw is not None}
        assert tuple(name for name, _raw in record.headers) == OUTPUT_HEADERS
        declared = messages[record.type]["headers"]
        assert declared["required"] == list(OUTPUT_HEADERS)
        assert headers["ce_type"] == declared["properties"]["ce_type"]["const"] == record.type
        assert headers["ce_specversion"] == declared["properties"]["ce_specversion"]["const"]
        assert headers["content-type"] == declared["properties"]["content-type"]["const"]
        assert record.value is not None
        assert headers["ce_id"] == orjson.loads(record.value)["event_id"]


def test_lead_sla_schemas_asyncapi_writes_and_checks_the_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "docs" / "asyncapi.json"

    assert cli.main(["schemas", "asyncapi", str(target)]) == 0
    assert target.read_bytes() == render()
    assert cli.main(["schemas", "asyncapi", "--check", str(target)]) == 0

    target.write_bytes(render().replace(b'"lead-sla"', b'"lead-sla-old"', 1))
    assert cli.main(["schemas", "asyncapi", "--check", str(target)]) == 1
    assert "regenerate with: lead-sla schemas asyncapi" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# Sample events: README.md and examples/*.jsonl
# --------------------------------------------------------------------------------------------


def _readme_samples() -> list[tuple[str, Any]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found: list[tuple[str, Any]] = []
    for match in re.finditer(r"^```(json|jsonl)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        line = text.count("\n", 0, match.start()) + 2
        body = match.group(2)
        if match.group(1) == "json":
            found.append((f"README.md:{line}", orjson.loads(body)))
        else:
            for number, row in enumerate(body.splitlines()):
                if row.strip():
                    found.append((f"README.md:{line + number}", orjson.loads(row)))
    return found


def _example_samples() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for path in sorted((ROOT / "examples").glob("*.jsonl")):
        for number, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if row.strip():
                found.append((f"examples/{path.name}:{number}", orjson.loads(row)))
    return found


def _schema_of(sample: Any) -> tuple[str, Any]:
    """(JSON Schema file, the object it validates) for one sample; fails on an unknown kind."""
    assert isinstance(sample, dict), "a sample event is a JSON object"
    if "specversion" in sample:  # a structured-mode CloudEvent: its data is the envelope
        return _schema_of(sample["data"])
    if "original_base64" in sample:
        return "dlq-record.json", sample
    type_ = sample.get("type")
    assert type_ in INPUT_MODELS or type_ in OUTPUT_MODELS, f"unknown event type {type_!r}"
    return f"{type_}.json", sample


def _validate_with_models(sample: Any) -> None:
    if "specversion" in sample:
        decode_line(orjson.dumps(sample))
        sample = sample["data"]
    if "original_base64" in sample:
        DeadLetter.model_validate(sample)
    elif sample["type"] in INPUT_MODELS:
        validate_input(sample)
        decode_line(orjson.dumps(sample))  # and the codec reads it
    else:
        validate_output(sample)


SAMPLES = _readme_samples() + _example_samples()


def test_there_are_samples_in_the_readme_and_in_examples() -> None:
    readme = [where for where, _ in SAMPLES if where.startswith("README")]
    assert len(readme) >= 3
    assert len(SAMPLES) - len(readme) >= 24
    kinds = {_schema_of(sample)[0] for _, sample in SAMPLES}
    assert {"lead.created.json", "sla.breached.json", "lead.activity_logged.json"} <= kinds


@pytest.mark.parametrize(("where", "sample"), SAMPLES, ids=[w for w, _ in SAMPLES])
def test_every_sample_event_validates_against_its_model(where: str, sample: Any) -> None:
    _schema_of(sample)
    _validate_with_models(sample)


def test_every_sample_event_validates_against_its_json_schema_file(tmp_path: Path) -> None:
    # Given every sample with the checked-in JSON Schema of its type, and a broken copy of one
    command = node_validator()
    rows = [
        {"where": where, "schema": str(SCHEMA_DIR / _schema_of(s)[0]), "instance": _schema_of(s)[1]}
        for where, s in SAMPLES
    ]
    broken = {**rows[0]["instance"], "occurred_at": "yesterday"}
    rows.append({"where": "broken", "schema": rows[0]["schema"], "instance": broken})
    listing = tmp_path / "samples.jsonl"
    listing.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))

    # When ajv (JSON Schema 2020-12, formats checked) validates them
    done = subprocess.run(
        [*command, "samples", str(listing)],
        capture_output=True,
        text=True,
        timeout=120,
        env=node_env(),
        check=False,
    )

    # Then only the broken copy is refused
    print(done.stdout)
    assert done.stdout.splitlines()[-1] == f"samples: {len(SAMPLES)} valid, 1 invalid", (
        done.stdout + done.stderr
    )
    assert done.stdout.startswith("broken: data/occurred_at must match"), done.stdout


# --------------------------------------------------------------------------------------------
# Schema evolution
# --------------------------------------------------------------------------------------------

VERSION_1 = {
    "event_id": "crm-1",
    "type": "lead.created",
    "lead_id": "L-1",
    "occurred_at": "2026-03-02T09:00:00+01:00",
    "data": {"source": "web_form"},
}


def test_a_version_1_event_without_schema_version_still_reads() -> None:
    # Given a version-1 event as producers wrote it before schema_version existed
    assert "schema_version" not in VERSION_1

    # Then the model, the codec (plain JSON and binary-mode CloudEvent) all read it as version 1
    assert validate_input(dict(VERSION_1)).schema_version == 1
    assert decode_line(orjson.dumps(VERSION_1)).lead_id == "L-1"
    binary = decode_input(
        orjson.dumps(VERSION_1["data"]),
        [("ce_id", b"crm-1"), ("ce_type", b"lead.created"), ("ce_time", b"2026-03-02T09:00:00Z")],
        key=b"L-1",
    )
    assert binary.event_id == "crm-1"


def test_an_older_version_is_upcast_on_read_and_a_newer_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lead-sla that reads version 2, whose step from 1 moves data.source_system to
    # data.source (the README's rule: one upcaster per version step)
    def one_to_two(raw: dict[str, Any]) -> dict[str, Any]:
        data = dict(raw["data"])
        data["source"] = data.pop("source_system")
        return {**raw, "data": data}

    monkeypatch.setattr(inputs, "CURRENT_SCHEMA_VERSION", 2)
    monkeypatch.setitem(inputs.UPGRADERS, 1, one_to_two)
    old = {**VERSION_1, "data": {"source_system": "chat"}}

    # When a version-1 event (no schema_version) is read
    event = validate_input(old)

    # Then it was upcast: version 2, the field moved, and the original left untouched
    assert isinstance(event, inputs.LeadCreatedEvent)
    assert event.schema_version == 2
    assert event.data.source == "chat"
    assert old["data"] == {"source_system": "chat"}
    # and an event newer than the reader is refused with the reason
    with pytest.raises(ValidationError, match="unsupported schema_version 3"):
        validate_input({**VERSION_1, "schema_version": 3})
