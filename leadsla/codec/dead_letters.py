"""Dead letters (SPEC.md rule 16): the ``sla.dlq`` record of a refused input, always fitting.

A letter must always fit the producer's limit: Kafka's default
``max.request.size`` and ``message.max.bytes`` are about 1 MB for key + value + headers, so a
letter's value stays at or under ``DLQ_MAX_BYTES`` and its Kafka key under ``DLQ_KEY_MAX_BYTES``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from hashlib import sha256
from typing import Any, Final

import orjson

from leadsla.domain.instant import Instant, format_utc

from .common import MAX_ID_LENGTH, Headers, header_text

DLQ_MAX_BYTES: Final = 900_000
"""Default upper bound of an encoded dead letter, in bytes (the original is cut to fit)."""
DLQ_MIN_BYTES: Final = 4_096
"""The smallest ``max_bytes`` honoured; a smaller one counts as this."""
DLQ_KEY_MAX_BYTES: Final = 16_384
"""The longest original key kept whole, in the letter and as the letter's Kafka key."""
DLQ_REASON_MAX_CHARS: Final = 2_000
"""The longest reason kept whole; a longer one is cut (and says so)."""
_DLQ_TOPIC_MAX_CHARS: Final = 255  # Kafka allows 249
_DLQ_HEADER_NAME_MAX_CHARS: Final = 256


def encode_dlq(
    original: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    reason: str,
    received_at: Instant,
    key: bytes | None = None,
    headers: Headers | None = None,
    event_id: str | None = None,
    lead_id: str | None = None,
    max_bytes: int = DLQ_MAX_BYTES,
) -> bytes:
    """The ``sla.dlq`` record (``leadsla.schemas.dlq.DeadLetter``) for a refused input.

    ``event_id`` and ``lead_id`` not given are read from the original when possible (the
    envelope, a structured CloudEvent's data, the ``ce_id`` header, the key); an id that is not
    1 to 128 characters is left out (null).

    The result is never longer than ``max_bytes`` (at least ``DLQ_MIN_BYTES``): an original too
    large to fit is cut, and ``original_length``, ``original_sha256`` (always those of the full
    original value) and ``original_truncated`` say so. A key over ``DLQ_KEY_MAX_BYTES`` or
    headers over a quarter of ``max_bytes`` are cut too (``original_truncated`` is then true as
    well: the letter no longer holds the whole record, so it cannot be re-sent). A reason over
    ``DLQ_REASON_MAX_CHARS`` characters is cut. This function never raises, whatever the input.
    """
    try:
        return _encode_dlq(
            original,
            topic=topic,
            partition=partition,
            offset=offset,
            reason=reason,
            received_at=received_at,
            key=key,
            headers=headers,
            event_id=event_id,
            lead_id=lead_id,
            max_bytes=max(_dlq_int(max_bytes, DLQ_MAX_BYTES), DLQ_MIN_BYTES),
        )
    except Exception as exc:  # never lose a record to a bug here: the smallest honest letter
        return _minimal_dlq(original, topic, partition, offset, reason, received_at, exc)


def dlq_key(key: bytes | None) -> bytes | None:
    """The Kafka key of a dead letter: the original key, cut to ``DLQ_KEY_MAX_BYTES``.

    Letters of one lead share its key (and so its partition); an absurdly long key is cut so the
    letter's record still fits the producer's limit.
    """
    raw = _dlq_bytes(key)
    return None if raw is None else raw[:DLQ_KEY_MAX_BYTES]


def _encode_dlq(
    original: object,
    *,
    topic: object,
    partition: object,
    offset: object,
    reason: object,
    received_at: object,
    key: object,
    headers: object,
    event_id: object,
    lead_id: object,
    max_bytes: int,
) -> bytes:
    value = _dlq_bytes(original)
    full = value or b""
    raw_key = _dlq_bytes(key)
    header_pairs = _dlq_headers(headers)
    cut = False

    if raw_key is not None and len(raw_key) > min(DLQ_KEY_MAX_BYTES, max_bytes // 8):
        raw_key = raw_key[: min(DLQ_KEY_MAX_BYTES, max_bytes // 8)]
        cut = True
    kept_headers: list[dict[str, str | None]] = []
    header_budget = max_bytes // 4
    for name, raw in header_pairs:
        short_name = _dlq_text(name, _DLQ_HEADER_NAME_MAX_CHARS)
        entry = {"key": short_name, "value_base64": None if raw is None else _b64(raw)}
        size = len(orjson.dumps(entry)) + 1
        if short_name != name or size > header_budget:
            cut = True
        if size > header_budget:
            continue
        header_budget -= size
        kept_headers.append(entry)

    found_event_id = _limited(event_id)
    found_lead_id = _limited(lead_id)
    if found_event_id is None or found_lead_id is None:
        peeked_event_id, peeked_lead_id = _peek_ids(value, header_pairs, raw_key)
        found_event_id = found_event_id if found_event_id is not None else peeked_event_id
        found_lead_id = found_lead_id if found_lead_id is not None else peeked_lead_id

    record: dict[str, Any] = {
        "original_base64": "",
        "key_base64": None if raw_key is None else _b64(raw_key),
        "headers": kept_headers,
        "topic": _dlq_text(topic, _DLQ_TOPIC_MAX_CHARS),
        "partition": _dlq_int(partition, 0),
        "offset": _dlq_int(offset, 0),
        "reason": _dlq_reason(reason),
        "received_at": _dlq_time(received_at),
        "event_id": found_event_id,
        "lead_id": found_lead_id,
        "original_length": len(full),
        "original_sha256": sha256(full).hexdigest(),
        "original_truncated": False,  # "false" is longer than "true": the estimate holds
    }
    room = max_bytes - len(orjson.dumps(record))
    if room < 0:  # only with a tiny max_bytes: drop the key and headers, shorten the reason
        record["key_base64"] = None
        record["headers"] = []
        record["reason"] = _dlq_reason(reason, 200)
        cut = True
        room = max_bytes - len(orjson.dumps(record))
    keep = max(room, 0) // 4 * 3  # base64: 4 ASCII characters for every 3 bytes
    if len(full) > keep:
        full = full[:keep]
        cut = True
    record["original_base64"] = _b64(full)
    record["original_truncated"] = cut
    letter = orjson.dumps(record)
    if len(letter) > max_bytes:  # pragma: no cover - the arithmetic above rules it out
        raise ValueError(f"dead letter of {len(letter)} bytes over {max_bytes}")
    return letter


def _minimal_dlq(
    original: object,
    topic: object,
    partition: object,
    offset: object,
    reason: object,
    received_at: object,
    exc: Exception,
) -> bytes:
    """A letter that always encodes: no original, key or headers, and why they are missing."""
    full = _dlq_bytes(original) or b""
    problem = _dlq_text(f"{type(exc).__name__}: {exc}", 100)
    return orjson.dumps(
        {
            "original_base64": "",
            "key_base64": None,
            "headers": [],
            "topic": _dlq_text(topic, 100),
            "partition": _dlq_int(partition, 0),
            "offset": _dlq_int(offset, 0),
            "reason": _dlq_reason(reason, 200) + f" (dead letter cut: {problem})",
            "received_at": _dlq_time(received_at),
            "event_id": None,
            "lead_id": None,
            "original_length": len(full),
            "original_sha256": sha256(full).hexdigest(),
            "original_truncated": True,
        }
    )


def _dlq_bytes(raw: object) -> bytes | None:
    """Kafka bytes as they may come from any client: bytes, bytearray, memoryview, str, None."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogatepass")
    return _dlq_text(repr(raw), 1_000).encode()


def _dlq_headers(headers: object) -> list[tuple[str, bytes | None]]:
    """Headers as (name, value) pairs, whatever shape they came in; odd entries are described."""
    if not headers:
        return []
    pairs: list[tuple[str, bytes | None]] = []
    items: Iterable[Any] = headers.items() if isinstance(headers, Mapping) else headers  # type: ignore[assignment]
    for item in items:
        if isinstance(item, tuple | list) and len(item) == 2:
            name, raw = item
        else:
            name, raw = "?", item
        if isinstance(name, bytes | bytearray | memoryview):
            name = bytes(name).decode("utf-8", "backslashreplace")
        pairs.append((_dlq_text(name, None), _dlq_bytes(raw)))
    return pairs


def _dlq_text(value: object, limit: int | None) -> str:
    """Any value as text orjson can write (no lone surrogates), at most ``limit`` characters."""
    text = value if isinstance(value, str) else repr(value)
    if limit is not None and len(text) > limit:
        text = text[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        if limit is not None:
            text = text[:limit]
    return text


def _dlq_reason(reason: object, limit: int = DLQ_REASON_MAX_CHARS) -> str:
    text = _dlq_text(reason, None)
    if len(text) <= limit:
        return text
    note = f" [... cut: the reason had {len(text)} characters]"
    return text[: max(limit - len(note), 0)] + note


def _dlq_int(value: object, default: int) -> int:
    """An int JSON can carry and the schema accepts (0 to 2**63 - 1); else ``default``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return default
    return min(max(value, 0), 2**63 - 1)


_DLQ_FIRST_INSTANT: Final = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_DLQ_LAST_INSTANT: Final = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


def _dlq_time(instant: object) -> str:
    """``received_at`` as UTC text; an instant outside the years 1-9999 counts as the epoch."""
    if (
        isinstance(instant, int)
        and not isinstance(instant, bool)
        and _DLQ_FIRST_INSTANT <= instant <= _DLQ_LAST_INSTANT
    ):
        return format_utc(instant)
    return format_utc(0)


def _b64(raw: bytes) -> str:
    return base64.b64encode(bytes(raw)).decode("ascii")


def _peek_ids(
    original: bytes | None, headers: Sequence[tuple[str, bytes | None]], key: bytes | None
) -> tuple[str | None, str | None]:
    """Best-effort event_id and lead_id of a record that may be broken in any way."""
    event_id: str | None = None
    lead_id: str | None = None
    try:
        obj = orjson.loads(original) if original else None
    except orjson.JSONDecodeError:
        obj = None
    if type(obj) is dict and "specversion" in obj and type(obj.get("data")) is dict:
        obj = obj["data"]
    if type(obj) is dict:
        event_id = _limited(obj.get("event_id"))
        lead_id = _limited(obj.get("lead_id"))
    for name, raw in headers:
        if event_id is None and name.lower() == "ce_id":
            event_id = _limited(header_text(raw))
    if lead_id is None and key:
        lead_id = _limited(header_text(key))
    return event_id, lead_id


def _limited(value: object) -> str | None:
    if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH:
        return _dlq_text(value, None)
    return None
