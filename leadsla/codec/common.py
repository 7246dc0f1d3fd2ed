"""What every part of the codec shares: the refusal of an input, Kafka headers, JSON helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import orjson

Headers = Mapping[str, bytes | None] | Sequence[tuple[str, bytes | None]]
"""Kafka headers: a mapping (faust) or a sequence of pairs (aiokafka, kafka-python)."""

MAX_ID_LENGTH: Final = 128
"""The longest ``event_id`` and ``lead_id`` of an input (SPEC.md section 2)."""


class InvalidEvent(ValueError):
    """An input that cannot be used; ``reason`` says why, for a person.

    ``event_id`` and ``lead_id`` are filled when they could be read, for the dead letter.
    """

    def __init__(
        self, reason: str, *, event_id: str | None = None, lead_id: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id
        self.lead_id = lead_id


def loads_object(value: bytes | str) -> dict[str, Any]:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(json_problem(value, exc)) from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {json_kind(obj)}")
    return obj


def json_problem(value: bytes | str, exc: orjson.JSONDecodeError) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return f"not UTF-8: byte 0x{raw[bad.start]:02x} at position {bad.start}"
        if not raw.strip():
            return "empty: no JSON in the record"
    elif not value.strip():
        return "empty line"
    return f"not valid JSON: {exc}"


def json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


def header_text(raw: bytes | str | None) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def str_or_none(value: object) -> str | None:
    return value if type(value) is str else None
