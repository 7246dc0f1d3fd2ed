"""Pieces every wire model shares: timestamps, identifiers, and readable validation errors.

Input timestamps are read by ``leadsla.domain.instant.parse_rfc3339_datetime`` (through
:func:`parse_timestamp` here, directly in the codec's fast path and for ``--now``): one pattern,
one parser, so all accept exactly the same texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Final

from pydantic import AwareDatetime, BeforeValidator, Field, ValidationError, WithJsonSchema

from leadsla.domain.instant import RFC3339_PATTERN, parse_rfc3339_datetime

# Output timestamps are written by ``leadsla.domain.instant.format_utc`` only.
UTC_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$"

EVENT_ID_PATTERN: Final = r"^[0-9a-f]{32}$"


def parse_timestamp(value: object) -> datetime:
    """An RFC 3339 timestamp with an offset, as an aware datetime (SPEC.md section 2).

    Strings are read by ``leadsla.domain.instant.parse_rfc3339_datetime``, the one parser of
    timestamp text (the codec's fast path, ``--now``): the same texts are accepted and refused.
    """
    if isinstance(value, datetime):  # a Python caller building a model by hand
        return value
    if type(value) is not str:
        raise ValueError(
            f"must be an RFC 3339 timestamp string such as 2024-05-01T09:30:00+02:00, "
            f"not {_shown(value)}"
        )
    return parse_rfc3339_datetime(value)


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(parse_timestamp),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": RFC3339_PATTERN,
            "description": "RFC 3339 timestamp with a UTC offset (Z or +hh:mm)",
        }
    ),
]
"""An input timestamp: RFC 3339 text with an offset; naive timestamps are refused."""

UtcTimestamp = Annotated[
    str,
    Field(
        pattern=UTC_PATTERN,
        json_schema_extra={"format": "date-time", "description": "RFC 3339 in UTC, ending in Z"},
    ),
]
"""An output timestamp: UTC text ending in ``Z`` (microseconds only when there are any)."""

EnvelopeId = Annotated[str, Field(min_length=1, max_length=128)]
"""``event_id`` and ``lead_id`` of an input: 1 to 128 characters."""

NonEmptyStr = Annotated[str, Field(min_length=1)]
"""An identifier or required name: an empty string is refused."""

OutputEventId = Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
"""A deterministic output ``event_id``: 16 bytes of SHA-256 as 32 lower-case hex digits."""

# The closed sets of SPEC.md (priority, category, ...) are ``leadsla.domain.vocabulary``'s.

_VALUE_ERROR_PREFIX = "Value error, "
_SHOW_INPUT_FOR = {
    "string_type",
    "bool_type",
    "int_type",
    "float_type",
    "literal_error",
    "string_too_short",
    "string_too_long",
    "string_pattern_mismatch",
    "greater_than_equal",
    "less_than_equal",
    "timezone_aware",
}
_MAX_SHOWN = 40


def _shown(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 3] + "..."
    return text


def format_validation_error(
    exc: ValidationError, *, rename: Mapping[str, str] | None = None, limit: int = 6
) -> str:
    """A short reason a person can read: ``path: message`` for each bad field, ``; ``-separated.

    ``rename`` replaces the first path element (a binary CloudEvent reports ``ce_time header``
    where a plain envelope says ``occurred_at``). At most ``limit`` fields are listed.
    """
    parts: list[str] = []
    errors = exc.errors(include_url=False)
    for error in errors[:limit]:
        loc = [str(part) for part in error["loc"]]
        if loc and rename is not None and loc[0] in rename:
            loc[0] = rename[loc[0]]
        path = ".".join(loc) or "event"
        message: str = error["msg"]
        if error["type"] in ("model_type", "dict_type"):
            message = f"Input should be an object (got {_shown(error['input'])})"
        elif message.startswith(_VALUE_ERROR_PREFIX):
            message = message[len(_VALUE_ERROR_PREFIX) :]
        elif error["type"] in _SHOW_INPUT_FOR:
            message = f"{message} (got {_shown(error['input'])})"
        parts.append(f"{path}: {message}")
    if len(errors) > limit:
        parts.append(f"and {len(errors) - limit} more")
    return "; ".join(parts)
