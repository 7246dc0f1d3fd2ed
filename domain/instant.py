"""Instants: the engine's only notion of time.

An instant is an ``int`` of microseconds since the Unix epoch, UTC. Integers make the rule
"a response exactly at the deadline is within it" exact (no float rounding), are cheap to compare
and sort on the hot path, and cannot be naive. Conversion to and from RFC 3339 text happens only
here.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Final

Instant = int
"""Microseconds since 1970-01-01T00:00:00Z."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = 1_000_000
MINUTE = 60 * SECOND
_ONE_US = timedelta(microseconds=1)

MIN_INSTANT: Instant = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // _ONE_US
"""0001-01-01T00:00:00Z: the earliest instant an output may carry (SPEC.md rule 16)."""
MAX_INSTANT: Instant = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - EPOCH) // _ONE_US
"""9999-12-31T23:59:59.999999Z: the latest instant an output may carry (SPEC.md rule 16)."""


def in_range(instant: Instant) -> bool:
    """Is the instant inside the years 1-9999 (UTC), where RFC 3339 text has four digits?"""
    return MIN_INSTANT <= instant <= MAX_INSTANT


def from_datetime(dt: datetime) -> Instant:
    """An aware datetime as an instant; a naive one is refused."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset")
    return (dt - EPOCH) // _ONE_US


def to_datetime(instant: Instant) -> datetime:
    return EPOCH + timedelta(microseconds=instant)


# RFC 3339 section 5.6 date-time: a full date, a full time with seconds, an optional fraction
# and a mandatory offset. "T" or a space separates date and time; "T" and "Z" may be lower case.
RFC3339_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)
_NAIVE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?")


def parse_rfc3339_datetime(text: str) -> datetime:
    """An RFC 3339 timestamp with an offset (SPEC.md section 2), as an aware datetime.

    The one parser of timestamp text: ``occurred_at`` (the codec's fast path and the pydantic
    models), ``--now`` and ``--start``. A timestamp without an offset is refused: the SLA clock
    must not depend on the zone of whichever machine reads the event. Digits beyond
    microseconds are truncated. The ``ValueError`` says why, for a person.
    """
    if _RFC3339.fullmatch(text) is None:
        if _NAIVE.fullmatch(text) is not None:
            raise ValueError(
                f"timestamp has no UTC offset: {text!r} (add Z or an offset such as +02:00)"
            )
        raise ValueError(
            f"not an RFC 3339 timestamp with offset: {text!r} "
            "(expected e.g. 2024-05-01T09:30:00+02:00 or 2024-05-01T07:30:00Z)"
        )
    shown = text
    if text[10] == "t" or text[-1] == "z":
        text = text.upper()
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:  # a well-formed shape with an impossible value (month 13, +24:00)
        raise ValueError(f"not a valid timestamp: {shown!r} ({exc})") from None


def parse_rfc3339(text: str) -> Instant:
    """:func:`parse_rfc3339_datetime` as an instant (the same texts accepted and refused).

    The codec's fast path reads every ``occurred_at`` here: a well-formed text is read inline,
    anything else goes to :func:`parse_rfc3339_datetime`, which refuses it with the reason.
    """
    if _RFC3339.fullmatch(text) is not None:
        upper = text.upper() if text[10] == "t" or text[-1] == "z" else text
        try:
            return (datetime.fromisoformat(upper) - EPOCH) // _ONE_US
        except ValueError:
            pass
    return (parse_rfc3339_datetime(text) - EPOCH) // _ONE_US


_DAY_TEXT: dict[int, str] = {}
_DAY_TEXT_LIMIT = 1 << 16


def format_utc(instant: Instant) -> str:
    """RFC 3339 in UTC with ``Z``; microseconds only when there are any.

    The date part comes from ``time.gmtime`` once per day (remembered: a replay formats many
    instants of few days), the time of day from integer arithmetic: the same text as
    ``datetime.strftime``, several times faster on the replay's hot path.
    """
    whole, micro = divmod(instant, SECOND)
    day, rest = divmod(whole, 86_400)
    date_text = _DAY_TEXT.get(day)
    if date_text is None:
        if len(_DAY_TEXT) >= _DAY_TEXT_LIMIT:
            _DAY_TEXT.clear()
        date_text = _DAY_TEXT[day] = "%04d-%02d-%02dT" % time.gmtime(day * 86_400)[:3]  # noqa: UP031
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if micro:
        return "%s%02d:%02d:%02d.%06dZ" % (date_text, hours, minutes, secs, micro)  # noqa: UP031
    return "%s%02d:%02d:%02dZ" % (date_text, hours, minutes, secs)  # noqa: UP031


def seconds(instant_delta: int) -> float:
    """A span of microseconds in seconds (integral spans come back as whole floats)."""
    return instant_delta / SECOND
