"""CloudEvents (SPEC.md section 2): which headers say a record is one, and the lead-sla
envelope a structured-mode or binary-mode CloudEvent stands for."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from .common import Headers, InvalidEvent, header_text, json_kind, loads_object, str_or_none

CLOUDEVENTS_CONTENT_TYPE: Final = "application/cloudevents"
CLOUDEVENTS_BATCH_CONTENT_TYPE: Final = "application/cloudevents-batch"
CLOUDEVENTS_SPECVERSIONS: Final = frozenset({"1.0", "0.3"})

# Binary-mode CloudEvent headers and the envelope fields they stand for (SPEC.md section 2).
# ``ce_schemaversion`` is this project's CloudEvents extension attribute for schema_version.
_CE_HEADERS: Final = {
    "ce_id": "event_id",
    "ce_type": "type",
    "ce_time": "occurred_at",
    "ce_schemaversion": "schema_version",
}
BINARY_RENAME: Final = {
    "event_id": "ce_id header",
    "type": "ce_type header",
    "occurred_at": "ce_time header",
    "lead_id": "Kafka key (lead_id)",
    "schema_version": "ce_schemaversion header",
}


def cloudevent_headers(
    headers: Headers,
) -> tuple[str | None, dict[str, bytes | None]] | None:
    """(content-type, ce_* attributes) when the headers mention CloudEvents, else None."""
    pairs: Iterable[tuple[str, bytes | None]] = (
        headers.items() if isinstance(headers, Mapping) else headers
    )
    content_type: str | None = None
    attributes: dict[str, bytes | None] = {}
    for name, raw in pairs:
        lowered = name.lower()
        if lowered == "content-type":
            text = header_text(raw)
            if text is not None:
                content_type = text.strip().lower()
        elif lowered.startswith("ce_"):
            attributes[lowered] = raw
    if content_type is None and not attributes:
        return None
    return content_type, attributes


def structured_envelope(obj: dict[str, Any]) -> dict[str, Any]:
    """The lead-sla envelope a structured-mode CloudEvent carries as its ``data``."""
    if "data" in obj:
        envelope = obj["data"]
    elif "data_base64" in obj:
        encoded = obj["data_base64"]
        if type(encoded) is not str:
            raise InvalidEvent("CloudEvent data_base64: must be a base64 string")
        try:
            envelope = orjson.loads(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise InvalidEvent("CloudEvent data_base64: not base64 of a JSON object") from None
    else:
        raise InvalidEvent("CloudEvent without data: the lead-sla envelope must be its data")
    if type(envelope) is not dict:
        raise InvalidEvent(
            f"CloudEvent data must be the lead-sla envelope object, not {json_kind(envelope)}"
        )
    return envelope


def binary_envelope(
    value: bytes | None, attributes: Mapping[str, bytes | None], key: bytes | None
) -> dict[str, Any]:
    """The envelope a binary-mode CloudEvent stands for: ``ce_*`` headers, the key as
    ``lead_id``, the value as ``data`` (decode it with ``rename=BINARY_RENAME``)."""
    specversion = attributes.get("ce_specversion")
    if specversion is not None and header_text(specversion) not in CLOUDEVENTS_SPECVERSIONS:
        raise InvalidEvent(
            f"unsupported CloudEvents ce_specversion {header_text(specversion)!r} "
            f"(expected {' or '.join(sorted(CLOUDEVENTS_SPECVERSIONS))})"
        )
    envelope: dict[str, Any] = {}
    for header, field in _CE_HEADERS.items():
        raw = attributes.get(header)
        if raw is None:
            continue
        text = header_text(raw)
        if text is None:
            raise InvalidEvent(f"{header} header is not valid UTF-8")
        envelope[field] = _header_int(text) if field == "schema_version" else text
    if key:
        try:
            envelope["lead_id"] = key.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent("Kafka key (lead_id) is not valid UTF-8") from None
    if value is None:
        raise InvalidEvent(
            "empty record: a binary CloudEvent's value must be the data object",
            event_id=str_or_none(envelope.get("event_id")),
            lead_id=str_or_none(envelope.get("lead_id")),
        )
    data = loads_object(value)
    envelope["data"] = data
    return envelope


def _header_int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text
