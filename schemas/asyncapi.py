"""The AsyncAPI 3 document of every topic, generated from the models, and ``lead-sla schemas asyncapi``.

One channel per topic (the three inputs, the four outputs and the dead-letter topic), each with
its Kafka bindings (partitions, replicas, cleanup policy) and its messages: for every event type
the key (``lead_id``), the value schema (the same pydantic models the JSON Schemas under
``schemas/json/`` are exported from, with their shared definitions under
``components.schemas``) and the headers. Inputs are described in their three accepted forms: the
plain JSON envelope, a structured-mode CloudEvent (the envelope is its ``data``) and a
binary-mode CloudEvent (``ce_*`` headers, the key is ``lead_id``, the value is ``data``).
Outputs carry CloudEvents binary-mode headers. The output is deterministic, so the checked-in
copy (:data:`DOCUMENT_PATH`) is compared byte for byte by a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Final

import orjson
from pydantic import BaseModel

from leadsla.domain import vocabulary
from leadsla.outputs import OutputError, open_output
from leadsla.settings import Settings
from leadsla.topics import (
    INPUT_TOPICS,
    LEADS_ACTIVITY,
    LEADS_CREATED,
    LEADS_OWNERSHIP,
    SLA_ALERTS,
    SLA_DLQ,
    SLA_FACTS,
    SLA_MEASUREMENTS,
    SLA_TASKS,
    TOPIC_CONFIGS,
)

from .dlq import DeadLetter
from .inputs import CURRENT_SCHEMA_VERSION, INPUT_MODELS
from .outputs import OUTPUT_MODELS, OUTPUT_TOPICS, RETRACTION_TYPE

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
DOCUMENT_PATH: Final = "docs/asyncapi.json"
REGENERATE_COMMAND: Final = f"lead-sla schemas asyncapi {DOCUMENT_PATH}"
REF: Final = "#/components/schemas/{model}"

INPUT_TOPIC_TYPES: Final[dict[str, tuple[str, ...]]] = {
    LEADS_CREATED: (vocabulary.LEAD_CREATED,),
    LEADS_OWNERSHIP: (vocabulary.OWNER_ASSIGNED,),
    LEADS_ACTIVITY: (
        vocabulary.LEAD_UPDATED,
        vocabulary.ACTIVITY_LOGGED,
        vocabulary.STATUS_CHANGED,
        vocabulary.BREACH_RESOLVED,
    ),
}
"""Where producers write each input type (README, "Topics and schemas"); the worker accepts any
input type on any input topic."""

CHANNEL_IDS: Final = {
    LEADS_CREATED: "leadsCreated",
    LEADS_OWNERSHIP: "leadsOwnership",
    LEADS_ACTIVITY: "leadsActivity",
    SLA_ALERTS: "slaAlerts",
    SLA_TASKS: "slaTasks",
    SLA_MEASUREMENTS: "slaMeasurements",
    SLA_FACTS: "slaFacts",
    SLA_DLQ: "slaDlq",
}

OUTPUT_HEADERS: Final = (
    "ce_id",
    "ce_type",
    "ce_source",
    "ce_time",
    "ce_specversion",
    "content-type",
)
"""The headers of every output record, in the order the worker writes them."""

RETENTION_NOTE: Final = (
    "Retention: the broker's default (`log.retention.hours`, 7 days unless the cluster says "
    "otherwise); lead-sla sets no retention on it. Keep at least the replay window you need."
)


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    """Put ``model``'s schema (and its definitions) into ``schemas``; return a reference to it."""
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        _add(schemas, name, definition)
    _add(schemas, model.__name__, schema)
    return {"$ref": REF.format(model=model.__name__)}


def _add(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    if schemas.setdefault(name, schema) != schema:
        raise ValueError(f"two different schemas are both named {name!r}")


def _data_model(model: type[BaseModel]) -> type[BaseModel]:
    annotation = model.model_fields["data"].annotation
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        raise TypeError(f"{model.__name__}.data is not a model")
    return annotation


def _key(description: str) -> dict[str, Any]:
    return {
        "kafka": {
            "key": {"type": "string", "description": description},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


LEAD_KEY: Final = "lead_id (UTF-8): every record of one lead goes to the same partition"


def _string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _input_messages(type_: str, schemas: dict[str, Any]) -> dict[str, Any]:
    model = INPUT_MODELS[type_]
    envelope = _schema(model, schemas)
    data = _schema(_data_model(model), schemas)
    plain: dict[str, Any] = {
        "name": type_,
        "title": f"{type_} (JSON envelope)",
        "summary": f"Input event {type_} as a plain JSON envelope (SPEC.md section 2).",
        "description": f"JSON Schema: `schemas/json/{type_}.json`.",
        "contentType": "application/json",
        "payload": envelope,
        "bindings": _key(LEAD_KEY + "; must equal the envelope's lead_id"),
    }
    structured: dict[str, Any] = {
        "name": f"{type_}.cloudevents-structured",
        "title": f"{type_} (CloudEvent, structured mode)",
        "summary": f"Input event {type_} as a structured-mode CloudEvent whose data is the "
        "lead-sla envelope.",
        "description": "Recognised by the `content-type: application/cloudevents+json` header "
        "or by a `specversion` member. The worker reads the envelope from `data` (or "
        "`data_base64`); the other attributes are CloudEvents' own.",
        "contentType": "application/cloudevents+json",
        "headers": {
            "type": "object",
            "properties": {
                "content-type": _string(
                    "optional when the value carries specversion",
                    const="application/cloudevents+json",
                )
            },
        },
        "payload": {
            "type": "object",
            "required": ["specversion", "id", "source", "type", "data"],
            "properties": {
                "specversion": {"type": "string", "enum": ["1.0"]},
                "id": _string("CloudEvents id (usually the envelope's event_id)"),
                "source": _string("the producing system"),
                "type": _string("CloudEvents type (usually the envelope's type)"),
                "time": _string("CloudEvents time", format="date-time"),
                "datacontenttype": _string("application/json", const="application/json"),
                "data": envelope,
            },
        },
        "bindings": _key(LEAD_KEY + "; must equal the envelope's lead_id"),
    }
    binary: dict[str, Any] = {
        "name": f"{type_}.cloudevents-binary",
        "title": f"{type_} (CloudEvent, binary mode)",
        "summary": f"Input event {type_} as a binary-mode CloudEvent: the envelope in headers "
        "and the key, the value is the envelope's data.",
        "description": "`ce_id` is the event_id, `ce_type` the type, `ce_time` the occurred_at, "
        "the Kafka key the lead_id; `ce_schemaversion` (this project's extension attribute) the "
        "schema_version.",
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "required": ["ce_id", "ce_type", "ce_time"],
            "properties": {
                "ce_id": _string("event_id: unique per event; a repeat is a duplicate"),
                "ce_type": _string("the event type", const=type_),
                "ce_time": _string(
                    "occurred_at: when it happened in the source system, with a UTC offset",
                    format="date-time",
                ),
                "ce_specversion": {"type": "string", "enum": ["1.0", "0.3"]},
                "ce_source": _string("the producing system (not read)"),
                "ce_schemaversion": _string(
                    f"schema_version as decimal text; absent means 1, at most "
                    f"{CURRENT_SCHEMA_VERSION}",
                    pattern="^[1-9][0-9]*$",
                ),
                "content-type": _string("the value's content type", const="application/json"),
            },
        },
        "payload": data,
        "bindings": _key("lead_id (UTF-8), required: binary mode carries it only in the key"),
    }
    return {type_: plain, structured["name"]: structured, binary["name"]: binary}


def _output_message(type_: str, schemas: dict[str, Any]) -> dict[str, Any]:
    model = OUTPUT_MODELS[type_]
    properties = {
        "ce_id": _string("the event_id (content-derived: a repeat has the same id)"),
        "ce_type": _string("the event type", const=type_),
        "ce_source": _string("lead-sla/{app_id} (LEADSLA_APP_ID, default lead-sla)"),
        "ce_time": _string("the occurred_at, UTC with Z", format="date-time"),
        "ce_specversion": _string("CloudEvents version", const="1.0"),
        "content-type": _string("the value's content type", const="application/json"),
    }
    assert tuple(properties) == OUTPUT_HEADERS
    description = f"JSON Schema: `schemas/json/{type_}.json`."
    if type_ == RETRACTION_TYPE:
        description += " Published on the topic that carried the retracted event."
    return {
        "name": type_,
        "title": type_,
        "summary": f"Output event {type_} (SPEC.md section 5).",
        "description": description,
        "contentType": "application/json",
        "headers": {"type": "object", "required": list(OUTPUT_HEADERS), "properties": properties},
        "payload": _schema(model, schemas),
        "bindings": _key(LEAD_KEY),
    }


def _channel(topic: str, description: str, messages: list[str], config: dict[str, Any]) -> Any:
    defaults = Settings()
    return {
        "address": topic,
        "title": topic,
        "description": description
        + " The address is prefixed with LEADSLA_TOPIC_PREFIX when one is set.",
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "kafka": {
                "topic": topic,
                "partitions": defaults.partitions,
                "replicas": defaults.replication_factor,
                "topicConfiguration": config,
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3 document of every topic lead-sla reads and writes."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    partitioning = (
        "Partitions: LEADSLA_PARTITIONS (default 4) when lead-sla creates it; the three input "
        "topics must have the same partition count (co-partitioned by lead_id), and the worker "
        "refuses to start otherwise. Replicas: LEADSLA_REPLICATION_FACTOR (default 1)."
    )
    delete = {"cleanup.policy": ["delete"]}
    for topic in INPUT_TOPICS:
        names: list[str] = []
        for type_ in INPUT_TOPIC_TYPES[topic]:
            found = _input_messages(type_, schemas)
            messages.update(found)
            names.extend(found)
        channel_id = CHANNEL_IDS[topic]
        channels[channel_id] = _channel(
            topic,
            f"Input topic (keyed by lead_id). The worker accepts any input type here. "
            f"{partitioning} {RETENTION_NOTE}",
            names,
            delete,
        )
        operations[f"receive{channel_id[0].upper()}{channel_id[1:]}"] = {
            "action": "receive",
            "title": f"The worker reads {topic}",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in names],
        }
    for type_ in OUTPUT_MODELS:
        messages[type_] = _output_message(type_, schemas)
    retractable = {SLA_ALERTS, SLA_TASKS}
    for topic, what in (
        (SLA_ALERTS, "Alerts for a person: warnings, breaches, stale leads, ownership gaps."),
        (SLA_TASKS, "Tasks to act on and their closing (escalations, reviews)."),
        (SLA_MEASUREMENTS, "Timers and measurements, for analytics."),
        (
            SLA_FACTS,
            "Compacted: the latest sla.measured fact per lead, for sinks and rebuilds. "
            "An erased lead's fact is deleted with a tombstone (key lead_id, null value).",
        ),
    ):
        names = [t for t, topics in OUTPUT_TOPICS.items() if topic in topics]
        if topic in retractable:
            names.append(RETRACTION_TYPE)
        compacted = "compact" in TOPIC_CONFIGS.get(topic, {}).get("cleanup.policy", "")
        config = {"cleanup.policy": ["compact"]} if compacted else delete
        retention = (
            "Retention: compaction keeps the latest record per key."
            if compacted
            else RETENTION_NOTE
        )
        channel_id = CHANNEL_IDS[topic]
        channels[channel_id] = _channel(
            topic,
            f"Output topic (keyed by lead_id). {what} Every record carries CloudEvents "
            f"binary-mode headers; at-least-once: a repeat has the same event_id. "
            f"{partitioning} {retention}",
            names,
            config,
        )
        operations[f"send{channel_id[0].upper()}{channel_id[1:]}"] = {
            "action": "send",
            "title": f"The worker publishes to {topic}",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in names],
        }
    messages["dead-letter"] = {
        "name": "dead-letter",
        "title": "dead letter",
        "summary": "An input the worker refused, with its original bytes, key, headers and the "
        "reason (SPEC.md rule 16).",
        "description": "JSON Schema: `schemas/json/dlq-record.json`. Read and re-send with "
        "`lead-sla dlq`.",
        "contentType": "application/json",
        "payload": _schema(DeadLetter, schemas),
        "bindings": _key("the original record's key (usually the lead_id)"),
    }
    channels[CHANNEL_IDS[SLA_DLQ]] = _channel(
        SLA_DLQ,
        "Dead letters: refused inputs, never dropped. Keyed by the original key. Its partition "
        "count may differ from the other topics'. " + RETENTION_NOTE,
        ["dead-letter"],
        delete,
    )
    operations["sendSlaDlq"] = {
        "action": "send",
        "title": f"The worker dead-letters refused inputs to {SLA_DLQ}",
        "channel": {"$ref": "#/channels/slaDlq"},
        "messages": [{"$ref": "#/channels/slaDlq/messages/dead-letter"}],
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "lead-sla",
            "version": str(CURRENT_SCHEMA_VERSION),
            "description": "Lead response SLA monitor: the topics it reads and writes. "
            "Generated from the pydantic models by `" + REGENERATE_COMMAND + "`; do not edit. "
            "The info version is the input schema_version. Schema evolution: README.md, "
            "'Schema evolution'. The worker's internal topics ({prefix}{app_id}-leads-changelog, "
            "-ticks, -policies) are not part of the contract.",
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "A local broker (`make kafka-start`, `make stack` or the compose "
                "stack); a deployment names its own in LEADSLA_BOOTSTRAP_SERVERS.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": dict(sorted(schemas.items())),
        },
    }


def render() -> bytes:
    return orjson.dumps(asyncapi_document(), option=orjson.OPT_INDENT_2) + b"\n"


def write_asyncapi(path: str | Path) -> Path | None:
    """Write the document to ``path`` (``-``: standard output, and None is returned), whole or
    not at all (``leadsla.outputs.open_output``); a missing folder is created."""
    if str(path) == "-":
        with open_output("-") as stream:
            stream.write(render())
        return None
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open_output(str(target)) as stream:
        stream.write(render())
    return target


def check_asyncapi(path: str | Path) -> list[str]:
    """What differs between ``path`` and a fresh render: one line, or nothing."""
    target = Path(path)
    if not target.is_file():
        return [f"missing: {target}"]
    if target.read_bytes() != render():
        return [f"differs: {target}"]
    return []


def add_parser(actions: Any) -> None:
    """The ``schemas asyncapi FILE`` action (``actions``: the schemas sub-parsers)."""
    parser = actions.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3 document of every topic into FILE",
        description="Write the AsyncAPI 3 document of every topic (key, value schemas, "
        "CloudEvents headers, partitions, compaction), generated from the models, into FILE "
        f"(the checked-in copy is {DOCUMENT_PATH}).",
    )
    parser.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help="where to write the document (- for standard output; a missing folder is created)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when FILE differs from what would be written",
    )


def run(args: argparse.Namespace) -> int:
    if args.check:
        problems = check_asyncapi(args.file)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"regenerate with: lead-sla schemas asyncapi {args.file}", file=sys.stderr)
            return 1
        return 0
    try:
        written = write_asyncapi(args.file)
    except OutputError as exc:
        print(f"lead-sla schemas asyncapi: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lead-sla schemas asyncapi: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if written is not None:
        print(written)
    return 0
