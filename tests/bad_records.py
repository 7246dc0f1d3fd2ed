"""A corpus of bad Kafka input records (SPEC.md rule 16), reusable by unit and broker tests.

``bad_records(now)`` returns :class:`BadRecord` tuples ``(name, key, value, headers, refused_by,
why, produce)``; the first four are the Kafka record (unpack ``record[:4]``), ``headers`` a list
of ``(str, bytes | None)`` pairs as kafka-python and aiokafka take them. Any record may go to
any input topic (SPEC.md section 2: any type on any of them).

``refused_by`` says who must refuse it:

- ``"decoder"``: ``leadsla.codec.decode_input(value, headers, key)`` raises ``InvalidEvent``;
- ``"worker"``: the decoder accepts it (a well-formed event), but the live worker must still
  dead-letter it: an ``occurred_at`` in year 9999 whose business-hours deadline leaves the
  years 1-9999, one more than ``max_future_minutes`` (1440 by default) ahead of the wall clock,
  a record without a key, a key that is not the envelope's ``lead_id``. ``why`` names the
  check.

``produce`` is false for a record a broker with default limits cannot take (a value over 1 MB:
the producer's ``max.request.size`` refuses it); it is there for the codec's unit tests.

Lead ids are ``f"{lead_prefix}{name}"``, so a broker test can namespace them, and every record
is distinct. ``valid_lead_created`` gives a good record to send after the bad ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, NamedTuple

import orjson

KAFKA_DEFAULT_MAX_REQUEST = 1_048_576
"""Kafka's default ``max.request.size`` (producer) and about its ``message.max.bytes``."""


class BadRecord(NamedTuple):
    name: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    refused_by: Literal["decoder", "worker"]
    why: str
    produce: bool = True


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(
    lead_id: str, type_: str, occurred_at: str, data: dict[str, Any], event_id: str | None = None
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt-{lead_id}",
        "type": type_,
        "lead_id": lead_id,
        "occurred_at": occurred_at,
        "data": data,
    }


def valid_lead_created(lead_id: str, at: dt.datetime) -> tuple[bytes, bytes]:
    """(key, value) of a plain valid ``lead.created`` for ``lead_id`` at ``at``."""
    value = orjson.dumps(envelope(lead_id, "lead.created", _utc(at), {"source": "web_form"}))
    return lead_id.encode(), value


def bad_records(now: dt.datetime | None = None, lead_prefix: str = "bad-") -> list[BadRecord]:
    """Every bad record, with ``occurred_at`` texts around ``now`` (default: the wall clock)."""
    now = now or dt.datetime.now(dt.UTC)
    at = _utc(now - dt.timedelta(minutes=5))
    records: list[BadRecord] = []

    def add(
        name: str,
        value: bytes | None,
        *,
        key: bytes | Literal["lead"] | None = "lead",
        headers: list[tuple[str, bytes | None]] | None = None,
        refused_by: Literal["decoder", "worker"] = "decoder",
        why: str = "",
        produce: bool = True,
    ) -> None:
        lead_key = f"{lead_prefix}{name}".encode() if key == "lead" else key
        records.append(BadRecord(name, lead_key, value, headers or [], refused_by, why, produce))

    def lead(name: str) -> str:
        return f"{lead_prefix}{name}"

    def created(name: str, data: dict[str, Any], occurred_at: str = at) -> dict[str, Any]:
        return envelope(lead(name), "lead.created", occurred_at, data)

    add("broken-json", b'{"event_id": "evt-1", "type": "lead.created", "lead_id": ')
    add("binary-garbage", bytes(range(256)) * 4)
    add(
        "wrong-types",
        orjson.dumps(
            {
                "event_id": 17,
                "type": "lead.created",
                "lead_id": lead("wrong-types"),
                "occurred_at": 1_772_442_000,
                "data": {"source": ["web_form"], "priority": 3},
            }
        ),
    )
    add(
        "missing-fields",
        orjson.dumps(envelope(lead("missing-fields"), "lead.owner_assigned", at, {})),
    )
    add("missing-envelope-fields", orjson.dumps({"type": "lead.created", "data": {}}))
    add(
        "unknown-type",
        orjson.dumps(envelope(lead("unknown-type"), "lead.deleted", at, {"source": "web_form"})),
    )
    add(
        "value-900kb",
        orjson.dumps(
            created("value-900kb", {"source": "web_form", "priority": "whenever", "notes": ""})
        ).replace(b'"notes":""', b'"notes":"' + b"n" * 900_000 + b'"'),
        why="invalid (priority) and about 900 KB: its dead letter must still fit 1 MB",
    )
    add(
        "value-over-1mb",
        orjson.dumps(created("value-over-1mb", {"priority": "urgent", "notes": ""})).replace(
            b'"notes":""', b'"notes":"' + b"m" * 1_200_000 + b'"'
        ),
        why="invalid (no source) and over 1 MB: the dead letter holds its beginning only",
        produce=False,
    )
    add(
        "empty-value",
        b"",
    )
    add("json-not-an-object", b'["lead.created", "bad-json-not-an-object"]')
    add("json-string", b'"lead.created"')
    add(
        "deeply-nested",
        b'{"event_id": "evt-deep", "data": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
        why="past orjson's depth limit (1024)",
    )
    add(
        "nested-data",
        orjson.dumps(created("nested-data", {"source": "web_form", "priority": "urgent"})).replace(
            b'"priority":"urgent"', b'"priority":' + b"[" * 500 + b"]" * 500
        ),
        why="500 levels deep inside data: parses, then fails the schema",
    )
    add(
        "cloudevent-binary-bad-time",
        orjson.dumps({"source": "web_form"}),
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", b"evt-ce-bad-time"),
            ("ce_type", b"lead.created"),
            ("ce_source", b"/crm"),
            ("ce_time", b"yesterday at noon"),
            ("content-type", b"application/json"),
        ],
    )
    add(
        "cloudevent-binary-no-key",
        orjson.dumps({"source": "web_form"}),
        key=None,
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", b"evt-ce-no-key"),
            ("ce_type", b"lead.created"),
            ("ce_source", b"/crm"),
            ("ce_time", at.encode()),
        ],
        why="binary mode: the key is the lead_id, and there is none",
    )
    add(
        "non-utf8-key",
        orjson.dumps({"source": "web_form"}),
        key=b"\xff\xfe-lead",
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", b"evt-ce-bad-key"),
            ("ce_type", b"lead.created"),
            ("ce_time", at.encode()),
        ],
    )
    add(
        "null-value-tombstone",
        None,
    )
    add(
        "odd-headers",
        b"\x00\x01 not json",
        headers=[("", None), ("x-\u00e9t\u00e9", b"\xff\x00"), ("dup", b"1"), ("dup", b"2")],
    )
    # Well-formed for the decoder; the live worker must refuse them.
    add(
        "year-9999",
        orjson.dumps(
            created("year-9999", {"source": "web_form"}, occurred_at="9999-12-31T20:00:00Z")
        ),
        refused_by="worker",
        why="under a business-hours policy its deadline would leave the years 1-9999 "
        "(SPEC rule 16)",
    )
    add(
        "two-days-ahead",
        orjson.dumps(
            created(
                "two-days-ahead",
                {"source": "web_form"},
                occurred_at=_utc(now + dt.timedelta(days=2)),
            )
        ),
        refused_by="worker",
        why="occurred_at more than max_future_minutes (default 1440) ahead of the wall clock",
    )
    add(
        "null-key",
        orjson.dumps(created("null-key", {"source": "web_form"})),
        key=None,
        refused_by="worker",
        why="no Kafka key: inputs are keyed by lead_id (co-partitioning)",
    )
    add(
        "key-differs-from-lead-id",
        orjson.dumps(created("key-differs-from-lead-id", {"source": "web_form"})),
        key=b"someone-else",
        refused_by="worker",
        why="the Kafka key is not the envelope's lead_id: the lead would land in the wrong "
        "partition's state",
    )
    return records
