"""The one codec: Kafka bytes and JSON lines <-> the engine's events, and outputs -> bytes.

This is the boundary between the two type systems (ARCHITECTURE.md): pydantic models of the
wire contract (``leadsla.schemas``) on one side, the engine's frozen dataclasses
(``leadsla.domain.events``) on the other. orjson does all JSON work here.

Decoding has two paths with the same acceptance rules. The fast path checks a well-formed
envelope by hand and builds the dataclass directly; anything it does not recognise as plainly
valid (a wrong type, a missing field, an older ``schema_version``, ...) goes to the pydantic
path, which decides and, when it refuses, writes the reason. ``tests/unit/test_codec.py`` runs
a corpus of good and bad events through both and checks that they agree.

Output ``event_id``s are content-derived (SPEC.md rule 15): the same transition always gets the
same id, in the live worker and in replay, and ``suppressed`` does not change it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from typing import TYPE_CHECKING, Any, Final

import orjson

from leadsla.domain.events import (
    TYPE_NAME,
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.instant import Instant, format_utc, from_datetime
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
    ACTIVITY_LOGGED,
    ACTOR_KINDS,
    BREACH_RESOLVED,
    BREACHED,
    CATEGORIES,
    CONSENTS,
    CURRENT_SCHEMA_VERSION,
    CUSTOMER_STATUSES,
    DIRECTIONS,
    ESCALATION,
    EXCLUDED,
    GAP,
    INTENTS,
    LEAD_CREATED,
    LEAD_STATUSES,
    LEAD_UPDATED,
    MEASURED,
    OWNER_ASSIGNED,
    OWNER_KINDS,
    PRIORITIES,
    RESPONSE,
    RETRACTED,
    REVIEW,
    STALE,
    STATUS_CHANGED,
    TASK_CLOSED,
    TIMER_STARTED,
    TIMER_UPDATED,
    WARNING,
)

if TYPE_CHECKING:
    from leadsla.schemas.inputs import InputEventModel

# The wire contract's closed sets are the domain's (``leadsla.domain.vocabulary``): the fast path
# never imports pydantic (its import alone is a fifth of a short replay). Only the pydantic path
# (a refusal to explain, an older schema_version) imports the models.
RFC3339_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339_PATTERN)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)


def timestamp_micros(text: str) -> int:
    """``leadsla.schemas.common.timestamp_micros`` without importing pydantic (same texts)."""
    if _RFC3339.fullmatch(text) is None:
        raise ValueError(text)
    if text[10] == "t" or text[-1] == "z":
        text = text.upper()
    return (datetime.fromisoformat(text) - _EPOCH) // _ONE_MICROSECOND


__all__ = [
    "Headers",
    "InvalidEvent",
    "data_from_wire",
    "decode_envelope",
    "decode_envelope_fast",
    "decode_envelope_validated",
    "decode_input",
    "decode_line",
    "decode_output",
    "encode_dlq",
    "encode_input",
    "encode_output",
    "encode_output_record",
    "event_id_of",
    "fact_from_wire",
    "output_event_id",
    "to_domain",
    "wire_data",
]

Headers = Mapping[str, bytes | None] | Sequence[tuple[str, bytes | None]]
"""Kafka headers: a mapping (faust) or a sequence of pairs (aiokafka, kafka-python)."""

MAX_ID_LENGTH: Final = 128
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
_BINARY_RENAME: Final = {
    "event_id": "ce_id header",
    "type": "ce_type header",
    "occurred_at": "ce_time header",
    "lead_id": "Kafka key (lead_id)",
    "schema_version": "ce_schemaversion header",
}


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


# --------------------------------------------------------------------------------------------
# Decoding: bytes -> JSON -> envelope dict
# --------------------------------------------------------------------------------------------


def decode_input(
    value: bytes | None,
    headers: Headers | None = None,
    key: bytes | None = None,
) -> InputEvent:
    """A Kafka record's value (and headers, key) as an engine event; raise :class:`InvalidEvent`.

    Accepts the plain envelope, a structured-mode CloudEvent (``content-type:
    application/cloudevents+json`` header, or a JSON object carrying ``specversion``: the
    envelope is its ``data``) and a binary-mode CloudEvent (``ce_id``, ``ce_type``, ``ce_time``
    headers; the key is ``lead_id``; the value is ``data``).
    """
    structured = False
    if headers:
        found = _cloudevent_headers(headers)
        if found is not None:
            content_type, attributes = found
            if content_type is not None and content_type.startswith(CLOUDEVENTS_CONTENT_TYPE):
                if content_type.startswith(CLOUDEVENTS_BATCH_CONTENT_TYPE):
                    raise InvalidEvent(
                        "CloudEvents batch mode is not supported: one event per record"
                    )
                structured = True
            elif attributes:
                return _decode_binary(value, attributes, key)
    if value is None:
        raise InvalidEvent("empty record: the value is null (a tombstone?)")
    obj = _loads(value)
    if structured or "specversion" in obj:
        return _decode_structured(obj)
    return decode_envelope(obj)


def decode_line(line: bytes | str) -> InputEvent:
    """One JSON line (replay) as an engine event; structured CloudEvents are accepted too."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(_json_problem(line, exc)) from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {_json_kind(obj)}")
    if "specversion" in obj:
        return _decode_structured(obj)
    event = decode_envelope_fast(obj)  # decode_envelope, one call less on replay's hot path
    if event is not None:
        return event
    return decode_envelope_validated(obj)


def _loads(value: bytes | str) -> dict[str, Any]:
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(_json_problem(value, exc)) from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {_json_kind(obj)}")
    return obj


def _json_problem(value: bytes | str, exc: orjson.JSONDecodeError) -> str:
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


def _json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


def _cloudevent_headers(
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
            text = _header_text(raw)
            if text is not None:
                content_type = text.strip().lower()
        elif lowered.startswith("ce_"):
            attributes[lowered] = raw
    if content_type is None and not attributes:
        return None
    return content_type, attributes


def _decode_structured(obj: dict[str, Any]) -> InputEvent:
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
            f"CloudEvent data must be the lead-sla envelope object, not {_json_kind(envelope)}"
        )
    try:
        return decode_envelope(envelope)
    except InvalidEvent as exc:
        raise InvalidEvent(
            f"in CloudEvent data: {exc.reason}", event_id=exc.event_id, lead_id=exc.lead_id
        ) from None


def _decode_binary(
    value: bytes | None, attributes: Mapping[str, bytes | None], key: bytes | None
) -> InputEvent:
    specversion = attributes.get("ce_specversion")
    if specversion is not None and _header_text(specversion) not in CLOUDEVENTS_SPECVERSIONS:
        raise InvalidEvent(
            f"unsupported CloudEvents ce_specversion {_header_text(specversion)!r} "
            f"(expected {' or '.join(sorted(CLOUDEVENTS_SPECVERSIONS))})"
        )
    envelope: dict[str, Any] = {}
    for header, field in _CE_HEADERS.items():
        raw = attributes.get(header)
        if raw is None:
            continue
        text = _header_text(raw)
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
            event_id=_str_or_none(envelope.get("event_id")),
            lead_id=_str_or_none(envelope.get("lead_id")),
        )
    data = _loads(value)
    envelope["data"] = data
    return decode_envelope(envelope, rename=_BINARY_RENAME)


def _header_text(raw: bytes | str | None) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _header_int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def _str_or_none(value: object) -> str | None:
    return value if type(value) is str else None


# --------------------------------------------------------------------------------------------
# Envelope dict -> engine event: the fast path, and the pydantic path that decides the rest
# --------------------------------------------------------------------------------------------


def decode_envelope(
    envelope: dict[str, Any], *, rename: Mapping[str, str] | None = None
) -> InputEvent:
    """A decoded envelope object as an engine event; raise :class:`InvalidEvent`."""
    event = decode_envelope_fast(envelope)
    if event is not None:
        return event
    return decode_envelope_validated(envelope, rename=rename)


def decode_envelope_validated(
    envelope: dict[str, Any], *, rename: Mapping[str, str] | None = None
) -> InputEvent:
    """The reference path: upgrade, validate with the pydantic models, translate."""
    from pydantic import ValidationError

    from leadsla.schemas.common import format_validation_error
    from leadsla.schemas.inputs import validate_input

    try:
        model = validate_input(envelope)
    except ValidationError as exc:
        raise InvalidEvent(
            format_validation_error(exc, rename=rename),
            event_id=_str_or_none(envelope.get("event_id")),
            lead_id=_str_or_none(envelope.get("lead_id")),
        ) from None
    return to_domain(model)


def to_domain(model: InputEventModel) -> InputEvent:
    """Translate a validated wire model into the engine's dataclass."""
    from leadsla.schemas.inputs import (
        ActivityLoggedEvent,
        BreachResolvedEvent,
        LeadCreatedEvent,
        LeadUpdatedEvent,
        OwnerAssignedEvent,
        StatusChangedEvent,
    )

    event_id, lead_id = model.event_id, model.lead_id
    at = from_datetime(model.occurred_at)
    match model:
        case LeadCreatedEvent(data=d):
            return LeadCreated(
                event_id,
                lead_id,
                at,
                d.source,
                d.priority,
                d.intent,
                d.category,
                d.customer_status,
                d.consent,
                d.account_id,
                d.display_name,
            )
        case LeadUpdatedEvent(data=u):
            return LeadUpdated(
                event_id,
                lead_id,
                at,
                u.priority,
                u.intent,
                u.category,
                u.customer_status,
                u.consent,
            )
        case OwnerAssignedEvent(data=o):
            return OwnerAssigned(
                event_id, lead_id, at, o.owner_id, o.owner_kind, o.backup_owner_id, o.manager_id
            )
        case ActivityLoggedEvent(data=a):
            return ActivityLogged(
                event_id,
                lead_id,
                at,
                a.actor_id,
                a.actor_kind,
                a.kind,
                a.direction,
                a.next_step,
                bool(a.auto_submitted),
                a.sequence_id,
            )
        case StatusChangedEvent(data=s):
            return StatusChanged(event_id, lead_id, at, s.status, s.reason)
        case BreachResolvedEvent(data=b):
            return BreachResolved(
                event_id, lead_id, at, b.resolved_by, b.resolution_note, b.reason_code
            )
    raise TypeError(f"no translation for {type(model).__name__}")  # pragma: no cover


# The fast path. Each check below mirrors a rule of the pydantic models in schemas/inputs.py;
# when a check fails the builder returns None and the pydantic path decides (and explains).
# Values come from orjson, so ``type(x) is str`` is exact; a set membership test on an
# unhashable value raises TypeError, which also means "let pydantic decide".

_Builder = Callable[[str, str, Instant, dict[str, Any]], InputEvent | None]


def _is_opt_id(value: object) -> bool:
    return value is None or (type(value) is str and value != "")


def _is_opt_str(value: object) -> bool:
    return value is None or type(value) is str


def _lead_created(event_id: str, lead_id: str, at: Instant, d: dict[str, Any]) -> InputEvent | None:
    get = d.get
    source = get("source")
    priority = get("priority", "normal")
    intent = get("intent")
    category = get("category", "inquiry")
    customer_status = get("customer_status", "new")
    consent = get("consent", "granted")
    account_id = get("account_id")
    display_name = get("display_name")
    if (
        type(source) is not str
        or not source
        or priority not in PRIORITIES
        or (intent is not None and intent not in INTENTS)
        or category not in CATEGORIES
        or customer_status not in CUSTOMER_STATUSES
        or consent not in CONSENTS
        or not _is_opt_id(account_id)
        or not _is_opt_str(display_name)
    ):
        return None
    return LeadCreated(
        event_id,
        lead_id,
        at,
        source,
        priority,
        intent,
        category,
        customer_status,
        consent,
        account_id,
        display_name,
    )


def _lead_updated(event_id: str, lead_id: str, at: Instant, d: dict[str, Any]) -> InputEvent | None:
    get = d.get
    priority = get("priority")
    intent = get("intent")
    category = get("category")
    customer_status = get("customer_status")
    consent = get("consent")
    if (
        (priority is not None and priority not in PRIORITIES)
        or (intent is not None and intent not in INTENTS)
        or (category is not None and category not in CATEGORIES)
        or (customer_status is not None and customer_status not in CUSTOMER_STATUSES)
        or (consent is not None and consent not in CONSENTS)
        or (
            priority is None
            and intent is None
            and category is None
            and customer_status is None
            and consent is None
        )
    ):
        return None
    return LeadUpdated(event_id, lead_id, at, priority, intent, category, customer_status, consent)


def _owner_assigned(
    event_id: str, lead_id: str, at: Instant, d: dict[str, Any]
) -> InputEvent | None:
    get = d.get
    owner_id = get("owner_id")
    owner_kind = get("owner_kind", "person")
    backup_owner_id = get("backup_owner_id")
    manager_id = get("manager_id")
    if (
        type(owner_id) is not str
        or not owner_id
        or owner_kind not in OWNER_KINDS
        or not _is_opt_id(backup_owner_id)
        or not _is_opt_id(manager_id)
    ):
        return None
    return OwnerAssigned(event_id, lead_id, at, owner_id, owner_kind, backup_owner_id, manager_id)


def _activity_logged(
    event_id: str, lead_id: str, at: Instant, d: dict[str, Any]
) -> InputEvent | None:
    get = d.get
    actor_id = get("actor_id")
    actor_kind: Any = get("actor_kind")
    kind = get("kind")
    direction = get("direction", "outbound")
    next_step = get("next_step")
    auto_submitted = get("auto_submitted")
    sequence_id = get("sequence_id")
    if (
        type(actor_id) is not str
        or not actor_id
        or actor_kind not in ACTOR_KINDS
        or type(kind) is not str
        or not kind
        or direction not in DIRECTIONS
        or not _is_opt_str(next_step)
        or not (auto_submitted is None or auto_submitted is True or auto_submitted is False)
        or not _is_opt_id(sequence_id)
    ):
        return None
    return ActivityLogged(
        event_id,
        lead_id,
        at,
        actor_id,
        actor_kind,
        kind,
        direction,
        next_step,
        auto_submitted is True,
        sequence_id,
    )


def _status_changed(
    event_id: str, lead_id: str, at: Instant, d: dict[str, Any]
) -> InputEvent | None:
    status: Any = d.get("status")
    reason = d.get("reason")
    if status not in LEAD_STATUSES or not _is_opt_str(reason):
        return None
    return StatusChanged(event_id, lead_id, at, status, reason)


def _breach_resolved(
    event_id: str, lead_id: str, at: Instant, d: dict[str, Any]
) -> InputEvent | None:
    get = d.get
    resolved_by = get("resolved_by")
    resolution_note = get("resolution_note")
    reason_code = get("reason_code")
    if (
        type(resolved_by) is not str
        or not resolved_by
        or type(resolution_note) is not str
        or not resolution_note
        or not _is_opt_id(reason_code)
    ):
        return None
    return BreachResolved(event_id, lead_id, at, resolved_by, resolution_note, reason_code)


_BUILDERS: Final[dict[str, _Builder]] = {
    LEAD_CREATED: _lead_created,
    LEAD_UPDATED: _lead_updated,
    OWNER_ASSIGNED: _owner_assigned,
    ACTIVITY_LOGGED: _activity_logged,
    STATUS_CHANGED: _status_changed,
    BREACH_RESOLVED: _breach_resolved,
}


def decode_envelope_fast(envelope: dict[str, Any]) -> InputEvent | None:
    """The common well-formed case, checked by hand; None means "ask the pydantic path"."""
    try:
        type_: Any = envelope.get("type")
        build = _BUILDERS.get(type_)
        if build is None:
            return None
        event_id = envelope.get("event_id")
        lead_id = envelope.get("lead_id")
        occurred_at = envelope.get("occurred_at")
        data = envelope.get("data")
        version = envelope.get("schema_version", CURRENT_SCHEMA_VERSION)
        if (
            type(event_id) is not str
            or not 0 < len(event_id) <= MAX_ID_LENGTH
            or type(lead_id) is not str
            or not 0 < len(lead_id) <= MAX_ID_LENGTH
            or type(occurred_at) is not str
            or type(data) is not dict
            or type(version) is not int
            or version != CURRENT_SCHEMA_VERSION
        ):
            return None
        at = timestamp_micros(occurred_at)
        return build(event_id, lead_id, at, data)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------------------------
# Encoding: the engine's typed output records -> the wire
# --------------------------------------------------------------------------------------------

_SORTED: Final = orjson.OPT_SORT_KEYS
_SUPPRESSED: Final = "suppressed"
_SUPPRESSED_MEMBER: Final = {True: b',"suppressed":true', False: b',"suppressed":false'}
_UTC_TEXT_LIMIT: Final = 1 << 16


class _Shape:
    """How one record class is written: its wire keys, which hold instants, and where the
    ``suppressed`` member of an alert or task goes among the sorted keys."""

    __slots__ = ("alert", "names", "tail", "times")

    def __init__(self, cls: type[OutputData]) -> None:
        fields: tuple[str, ...] = cls._fields
        self.alert = cls in ALERT_RECORDS or cls is Retraction
        """Carries ``suppressed`` on the wire (every alert and task, and their retraction)."""
        if cls in ALERT_RECORDS:
            # display_name, contact_details: the name is written only when contact_details.
            assert fields[-2:] == ("display_name", "contact_details"), cls
            fields = fields[:-2]
        self.names = fields
        """The wire keys in record order (``dict(zip(names, record))`` stops before the
        contact fields of an alert)."""
        self.times = tuple(name for name in fields if name in TIME_FIELDS)
        self.tail = tuple(
            sorted(name for name in (*fields, "display_name") if name > _SUPPRESSED)
            if self.alert
            else ()
        )
        """The keys that sort after ``suppressed`` (a task's ``task_id``)."""


_SHAPES: Final[dict[type, _Shape]] = {
    cls: _Shape(cls) for cls in (*ALERT_RECORDS, Retraction, Timer, Response, Fact)
}
_UTC_TEXT: dict[Instant, str] = {}


def _utc(instant: Instant) -> str:
    text = _UTC_TEXT.get(instant)
    if text is None:
        if len(_UTC_TEXT) >= _UTC_TEXT_LIMIT:
            _UTC_TEXT.clear()
        text = _UTC_TEXT[instant] = format_utc(instant)
    return text


def _wire_dict(data: OutputData, shape: _Shape) -> dict[str, Any]:
    """``data`` as the wire's ``data`` object, without ``suppressed``, keys in record order."""
    wire: dict[str, Any] = dict(zip(shape.names, data, strict=False))
    for name in shape.times:
        value = wire[name]
        if value is not None:
            wire[name] = _utc(value)
    if shape.alert and data[-1] is True:  # an alert's contact_details: write the name
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
    values: list[Any] = []
    for name in shape.names:
        value = wire[name]
        if name in shape.times and value is not None:
            value = timestamp_micros(value)
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
    ``event_id`` hashes). An alert's ``suppressed`` member is written in its sorted place: after
    every key but the ``tail`` ones, which are written after it."""
    shape = _SHAPES[type(data)]
    wire = _wire_dict(data, shape)
    if not shape.alert:
        full = orjson.dumps(wire, option=_SORTED)
        return full, full
    if not shape.tail:
        hashed = orjson.dumps(wire, option=_SORTED)
        return hashed[:-1] + _SUPPRESSED_MEMBER[suppressed] + b"}", hashed
    tail = b"".join(
        b',"%s":%s' % (name.encode(), orjson.dumps(wire.pop(name)))
        for name in shape.tail
        if name in wire
    )
    head = orjson.dumps(wire, option=_SORTED)[:-1]
    return head + _SUPPRESSED_MEMBER[suppressed] + tail + b"}", head + tail + b"}"


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
    """:func:`encode_output` and the ``event_id`` it carries."""
    records = encode_lead_records(lead_id, (output,))
    return records[0][3], records[0][4]


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
    instants = _INSTANT_PARTS
    types = _TYPE_PARTS
    for type_, occurred_at, data, suppressed in outputs:
        full, hashed = _data_json(data, suppressed)
        type_parts = types.get(type_)
        if type_parts is None:
            type_parts = types[type_] = (f"{len(type_)}:{type_}".encode(), orjson.dumps(type_))
        instant_parts = instants.get(occurred_at)
        if instant_parts is None:
            if len(instants) >= _UTC_TEXT_LIMIT:
                instants.clear()
            instant_parts = instants[occurred_at] = (
                b"%d\x00" % occurred_at,
                format_utc(occurred_at).encode(),
            )
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
_INSTANT_PARTS: dict[Instant, tuple[bytes, bytes]] = {}


def decode_output(value: bytes | str) -> dict[str, Any]:
    """An output event's JSON as a dict (not validated: outputs are ours)."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {_json_kind(obj)}")
    return obj


def encode_input(event: InputEvent) -> bytes:
    """An engine event back as its plain JSON envelope (for simulate and tests).

    Optional fields that are None are left out; ``decode_line(encode_input(e)) == e``.
    """
    data: dict[str, Any] = {}
    for name in event._fields:
        if name in ("event_id", "lead_id", "occurred_at"):
            continue
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    return orjson.dumps(
        {
            "event_id": event.event_id,
            "type": TYPE_NAME[type(event)],
            "lead_id": event.lead_id,
            "occurred_at": format_utc(event.occurred_at),
            "data": data,
        }
    )


# Dead letters (SPEC.md rule 16). A letter must always fit the producer's limit: Kafka's default
# ``max.request.size`` and ``message.max.bytes`` are about 1 MB for key + value + headers, so a
# letter's value stays at or under ``DLQ_MAX_BYTES`` and its Kafka key under ``DLQ_KEY_MAX_BYTES``.
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
            event_id = _limited(_header_text(raw))
    if lead_id is None and key:
        lead_id = _limited(_header_text(key))
    return event_id, lead_id


def _limited(value: object) -> str | None:
    if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH:
        return _dlq_text(value, None)
    return None
