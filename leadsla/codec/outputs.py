"""Encoding outputs: the engine's typed output records -> the wire, and their ids.

The engine's records (``leadsla.domain.outputs``) carry instants and no wire concerns; here they
become the JSON envelope (``event_id``, ``type``, ``lead_id``, ``occurred_at``, ``data``) with
UTC text, sorted ``data`` keys, the live worker's ``suppressed`` flag on alerts and tasks, and
``display_name`` only when the policy shares contact details.

Output ``event_id``s are content-derived (SPEC.md rule 15): the same transition always gets the
same id, in the live worker and in replay, and ``suppressed`` does not change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from hashlib import sha256
from typing import Any, Final, NamedTuple

import orjson

from leadsla.domain.instant import Instant, format_utc, parse_rfc3339
from leadsla.domain.outputs import (
    ALERT_RECORDS,
    TIME_FIELDS,
    Breach,
    Escalation,
    Exclusion,
    Fact,
    Gap,
    Output,
    OutputData,
    PreBreachWarning,
    Response,
    Retraction,
    Review,
    Stale,
    TaskClosed,
    Timer,
)
from leadsla.domain.vocabulary import (
    BREACHED,
    ESCALATION,
    EXCLUDED,
    GAP,
    MEASURED,
    RESPONSE,
    RETRACTED,
    REVIEW,
    STALE,
    TASK_CLOSED,
    TIMER_STARTED,
    TIMER_UPDATED,
    WARNING,
)

from .common import InvalidEvent, json_kind

_SORTED: Final = orjson.OPT_SORT_KEYS
_SUPPRESSED: Final = "suppressed"
_SUPPRESSED_MEMBER: Final = {True: b',"suppressed":true', False: b',"suppressed":false'}
_SUPPRESSED_LAST: Final = {True: b',"suppressed":true}', False: b',"suppressed":false}'}
_UTC_TEXT_LIMIT: Final = 1 << 16


class _Shape(NamedTuple):
    """How one record class is written to the wire."""

    names: tuple[str, ...]
    """The wire keys in record order (``zip(names, record)`` stops before an alert's contact
    fields: ``display_name`` is written only when ``contact_details``)."""
    times: tuple[str, ...]
    """The keys holding instants (written as UTC text)."""
    alert: bool
    """Carries ``suppressed`` (every alert and task, and their retraction)."""
    contact: bool
    """Ends with ``display_name``, ``contact_details``."""
    tail: tuple[bytes, str] | None
    """The one key that sorts after ``suppressed`` (a task's ``task_id``), as ``,"key":``."""
    plain: dict[str, Any]
    """A scratch ``data`` object with the keys in sorted order (see :func:`_data_json`)."""
    named: dict[str, Any]
    """The same with ``display_name`` (for an alert whose policy shares contact details)."""


def _shape(cls: type[OutputData]) -> _Shape:
    fields: tuple[str, ...] = cls._fields
    contact = cls in ALERT_RECORDS
    if contact:
        assert fields[-2:] == ("display_name", "contact_details"), cls
        fields = fields[:-2]
    alert = contact or cls is Retraction
    times = tuple(name for name in fields if name in TIME_FIELDS)
    after = sorted(n for n in (*fields, "display_name") if n > _SUPPRESSED) if alert else []
    assert len(after) <= 1, cls  # _data_json writes at most one key after suppressed
    tail = (b',"%s":' % after[0].encode(), after[0]) if after else None
    return _Shape(
        fields,
        times,
        alert,
        contact,
        tail,
        dict.fromkeys(sorted(fields)),
        dict.fromkeys(sorted((*fields, "display_name"))),
    )


_SHAPES: Final[dict[type, _Shape]] = {
    cls: _shape(cls) for cls in (*ALERT_RECORDS, Retraction, Timer, Response, Fact)
}
_INSTANTS: dict[Instant, tuple[bytes, bytes, str]] = {}
"""Recent instants' (event id part, UTC text as bytes, UTC text): several outputs of a lead
share their instants (its creation, its deadline, one transition's outputs)."""


def _instant(instant: Instant) -> tuple[bytes, bytes, str]:
    parts = _INSTANTS.get(instant)
    if parts is None:
        if len(_INSTANTS) >= _UTC_TEXT_LIMIT:
            _INSTANTS.clear()
        text = format_utc(instant)
        parts = _INSTANTS[instant] = (b"%d\x00" % instant, text.encode(), text)
    return parts


def _wire_dict(data: OutputData, shape: _Shape) -> dict[str, Any]:
    """``data`` as the wire's ``data`` object, without ``suppressed``, keys in record order."""
    names, times, contact = shape.names, shape.times, shape.contact
    wire: dict[str, Any] = dict(zip(names, data, strict=False))
    if times:
        instants = _INSTANTS
        for name in times:
            value = wire[name]
            if value is not None:
                parts = instants.get(value)
                wire[name] = (parts if parts is not None else _instant(value))[2]
    if contact and data[-1] is True:  # contact_details: write the name
        wire["display_name"] = data[-2]
    return wire


def wire_data(data: OutputData, suppressed: bool = False) -> dict[str, Any]:
    """The wire ``data`` object of a record (``suppressed`` only for alerts and tasks), keys in
    record order: what the live worker stores and what :func:`encode_output` writes."""
    shape = _SHAPES[type(data)]
    wire = _wire_dict(data, shape)
    if shape.alert:
        wire[_SUPPRESSED] = suppressed
    return wire


def data_from_wire(type_: str, wire: Mapping[str, Any]) -> OutputData:
    """The record of a wire ``data`` object (the inverse of :func:`wire_data`).

    For what this codec wrote (the live worker's stored state); a field the record needs that
    the object lacks raises ``KeyError``, unknown keys and ``suppressed`` are ignored.
    """
    cls = _RECORD_OF_TYPE[type_]
    shape = _SHAPES[cls]
    names, times = shape.names, shape.times
    values: list[Any] = []
    for name in names:
        value = wire[name]
        if name in times and value is not None:
            value = parse_rfc3339(value)
        values.append(value)
    if cls in ALERT_RECORDS:
        shared = "display_name" in wire
        values.extend((wire["display_name"] if shared else None, shared))
    return cls(*values)


def fact_from_wire(wire: Mapping[str, Any]) -> Fact:
    """:func:`data_from_wire` of an ``sla.measured`` ``data`` object."""
    fact = data_from_wire(MEASURED, wire)
    assert isinstance(fact, Fact)
    return fact


_RECORD_OF_TYPE: Final[dict[str, type[OutputData]]] = {
    TIMER_STARTED: Timer,
    TIMER_UPDATED: Timer,
    WARNING: PreBreachWarning,
    BREACHED: Breach,
    ESCALATION: Escalation,
    REVIEW: Review,
    TASK_CLOSED: TaskClosed,
    RESPONSE: Response,
    STALE: Stale,
    GAP: Gap,
    EXCLUDED: Exclusion,
    RETRACTED: Retraction,
    MEASURED: Fact,
}


def _data_json(data: OutputData, suppressed: bool) -> tuple[bytes, bytes]:
    """The wire ``data`` as sorted-key JSON, and the same without ``suppressed`` (the part the
    ``event_id`` hashes).

    The replay's hot path. The values are written into the shape's scratch dict, whose keys are
    already in sorted order (updating a key keeps its place), so orjson writes them sorted
    without sorting and no dict is built per output; it is serialised at once and never leaves
    this function (so encoding is for one thread at a time, as in the worker and in replay).
    An alert's ``suppressed`` member goes in its sorted place: last, or before the one key that
    sorts after it (a task's ``task_id``).
    """
    names, times, alert, contact, tail, plain, named = _SHAPES[type(data)]
    wire = named if contact and data[-1] is True else plain
    wire.update(zip(names, data, strict=False))
    for name in times:
        value = wire[name]
        if value is not None:
            parts = _INSTANTS.get(value)
            wire[name] = (parts if parts is not None else _instant(value))[2]
    if wire is named:
        wire["display_name"] = data[-2]
    hashed = orjson.dumps(wire)
    if not alert:
        return hashed, hashed
    if tail is None:
        return hashed[:-1] + _SUPPRESSED_LAST[suppressed], hashed
    key, name = tail
    after = key + orjson.dumps(wire[name]) + b"}"
    return hashed[: -len(after)] + _SUPPRESSED_MEMBER[suppressed] + after, hashed


def _event_id(lead_id: str, type_: str, occurred_at: Instant, hashed: bytes) -> str:
    # Length prefixes keep the fields apart whatever characters a lead_id contains.
    prefix = f"{len(lead_id)}:{lead_id}{len(type_)}:{type_}{occurred_at}\x00".encode()
    # SHA-256 truncated to 128 bits: as collision-free for ids as blake2b-128, and about twice
    # as fast here (the CPU's SHA instructions); it runs once per output on the hot path.
    return sha256(prefix + hashed).hexdigest()[:32]


def output_event_id(
    lead_id: str, type_: str, occurred_at: Instant, data: Mapping[str, Any] | OutputData
) -> str:
    """The deterministic ``event_id`` of an output (SPEC.md rule 15).

    The first 16 bytes of SHA-256 (as hex) of ``f"{len(lead_id)}:{lead_id}{len(type_)}:{type_}{occurred_at}\\0"``
    (UTF-8; occurred_at in microseconds) followed by ``data`` as sorted-key orjson without
    ``suppressed``: the same transition always gets the same id, a changed transition a new
    one, and suppressing an alert does not change its id.

    ``data`` is a record of the engine, or the wire ``data`` object of a decoded output.
    """
    if isinstance(data, Mapping):
        hashed = orjson.dumps({k: v for k, v in data.items() if k != _SUPPRESSED}, option=_SORTED)
    else:
        hashed = _data_json(data, False)[1]
    return _event_id(lead_id, type_, occurred_at, hashed)


def event_id_of(lead_id: str, output: Output) -> str:
    """:func:`output_event_id` of an engine output (the live worker's ``event_id_of``)."""
    return _event_id(lead_id, output.type, output.occurred_at, _data_json(output.data, False)[1])


def encode_output(lead_id: str, output: Output) -> bytes:
    """One output event as JSON bytes: ``{"event_id", "type", "lead_id", "occurred_at", "data"}``.

    ``data`` is written with sorted keys and instants as ``format_utc`` text.
    """
    return encode_output_record(lead_id, output)[1]


def encode_output_record(lead_id: str, output: Output) -> tuple[str, bytes]:
    """:func:`encode_output` and the ``event_id`` it carries (written without the replay's
    inlined path: ``test_output_codec.py`` checks that both give the same bytes)."""
    type_, occurred_at, data, suppressed = output
    full, hashed = _data_json(data, suppressed)
    event_id = _event_id(lead_id, type_, occurred_at, hashed)
    line = b'{"event_id":"%s","type":%s,"lead_id":%s,"occurred_at":"%s","data":%s}' % (
        event_id.encode(),
        orjson.dumps(type_),
        orjson.dumps(lead_id),
        format_utc(occurred_at).encode(),
        full,
    )
    return event_id, line


OutputRecord = tuple[Instant, str, str, str, bytes]
"""(occurred_at, lead_id, type, event_id, line): sorting these gives SPEC section 7's order."""


def encode_lead_records(lead_id: str, outputs: Iterable[Output]) -> list[OutputRecord]:
    """Every output of one lead as :data:`OutputRecord`s.

    The hot path of replay: the lead's JSON and its part of the id prefix are made once per lead,
    the type's once per process, and the instants' text and id part are cached.
    """
    lead_json = orjson.dumps(lead_id)
    lead_prefix = f"{len(lead_id)}:{lead_id}".encode()
    records: list[OutputRecord] = []
    append = records.append
    instants = _INSTANTS
    types = _TYPE_PARTS
    dumps = orjson.dumps
    shapes = _SHAPES
    for type_, occurred_at, data, suppressed in outputs:
        # _data_json, inline (one call less per output; test_output_codec.py checks both agree)
        _names, times, alert, contact, tail, plain, named = shapes[type(data)]
        wire = named if contact and data[-1] is True else plain
        wire.update(zip(_names, data, strict=False))
        for name in times:
            value = wire[name]
            if value is not None:
                parts = instants.get(value)
                wire[name] = (parts if parts is not None else _instant(value))[2]
        if wire is named:
            wire["display_name"] = data[-2]
        full = hashed = dumps(wire)
        if alert:
            if tail is None:
                full = hashed[:-1] + _SUPPRESSED_LAST[suppressed]
            else:
                after = tail[0] + dumps(wire[tail[1]]) + b"}"
                full = hashed[: -len(after)] + _SUPPRESSED_MEMBER[suppressed] + after
        type_parts = types.get(type_)
        if type_parts is None:
            type_parts = types[type_] = (f"{len(type_)}:{type_}".encode(), dumps(type_))
        instant_parts = instants.get(occurred_at)
        if instant_parts is None:
            instant_parts = _instant(occurred_at)
        event_id = sha256(lead_prefix + type_parts[0] + instant_parts[0] + hashed).hexdigest()[:32]
        append(
            (
                occurred_at,
                lead_id,
                type_,
                event_id,
                b'{"event_id":"%s","type":%s,"lead_id":%s,"occurred_at":"%s","data":%s}'
                % (event_id.encode(), type_parts[1], lead_json, instant_parts[1], full),
            )
        )
    return records


_TYPE_PARTS: dict[str, tuple[bytes, bytes]] = {}


def decode_output(value: bytes | str) -> dict[str, Any]:
    """An output event's JSON as a dict (not validated: outputs are ours)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {json_kind(obj)}")
    return obj
