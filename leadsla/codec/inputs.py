"""Decoding inputs: Kafka records and JSON lines -> the engine's events, or a readable refusal.

Decoding has two paths with the same acceptance rules. The fast path checks a well-formed
envelope by hand and builds the domain event directly; anything it does not recognise as plainly
valid (a wrong type, a missing field, an older ``schema_version``, ...) goes to the pydantic
path, which decides and, when it refuses, writes the reason. ``tests/unit/test_codec.py`` runs
a corpus of good and bad events through both and checks that they agree.

The fast path never imports pydantic (its import alone is a fifth of a short replay); the closed
sets it checks are the domain's (``leadsla.domain.vocabulary``), timestamps are read by the one
parser (``leadsla.domain.instant.parse_rfc3339``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
from leadsla.domain.instant import Instant, format_utc, from_datetime, parse_rfc3339
from leadsla.domain.vocabulary import (
    ACTIVITY_LOGGED,
    ACTOR_KINDS,
    BREACH_RESOLVED,
    CATEGORIES,
    CONSENTS,
    CURRENT_SCHEMA_VERSION,
    CUSTOMER_STATUSES,
    DIRECTIONS,
    INTENTS,
    LEAD_CREATED,
    LEAD_STATUSES,
    LEAD_UPDATED,
    OWNER_ASSIGNED,
    OWNER_KINDS,
    PRIORITIES,
    STATUS_CHANGED,
)

from .cloudevents import (
    BINARY_RENAME,
    CLOUDEVENTS_BATCH_CONTENT_TYPE,
    CLOUDEVENTS_CONTENT_TYPE,
    binary_envelope,
    cloudevent_headers,
    structured_envelope,
)
from .common import (
    MAX_ID_LENGTH,
    Headers,
    InvalidEvent,
    json_kind,
    json_problem,
    loads_object,
    str_or_none,
)

if TYPE_CHECKING:
    from leadsla.schemas.inputs import InputEventModel

timestamp_micros: Final = parse_rfc3339
"""An ``occurred_at`` text as an instant: the one parser (kept under the codec's old name)."""


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
        found = cloudevent_headers(headers)
        if found is not None:
            content_type, attributes = found
            if content_type is not None and content_type.startswith(CLOUDEVENTS_CONTENT_TYPE):
                if content_type.startswith(CLOUDEVENTS_BATCH_CONTENT_TYPE):
                    raise InvalidEvent(
                        "CloudEvents batch mode is not supported: one event per record"
                    )
                structured = True
            elif attributes:
                return decode_envelope(
                    binary_envelope(value, attributes, key), rename=BINARY_RENAME
                )
    if value is None:
        raise InvalidEvent("empty record: the value is null (a tombstone?)")
    obj = loads_object(value)
    if structured or "specversion" in obj:
        return _decode_structured(obj)
    return decode_envelope(obj)


def decode_line(line: bytes | str) -> InputEvent:
    """One JSON line (replay) as an engine event; structured CloudEvents are accepted too."""
    if _NATIVE_DECODE is not None:
        found: InputEvent | None = _NATIVE_DECODE(line)  # the C decoder, when built
        if found is not None:
            return found
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(json_problem(line, exc)) from None
    if type(obj) is not dict:
        raise InvalidEvent(f"not a JSON object: the event is {json_kind(obj)}")
    if "specversion" in obj:
        return _decode_structured(obj)
    event = decode_envelope_fast(obj)  # decode_envelope, one call less on replay's hot path
    if event is not None:
        return event
    return decode_envelope_validated(obj)


def route_native(line: bytes | str) -> tuple[str, Instant] | None:
    """(lead_id, occurred_at) of a JSON object line whose ``lead_id`` and ``occurred_at`` are
    strings (a valid event or not), read by the C decoder (``leadsla/_events.c``) when the
    timestamp is plain UTC text; None when it leaves the line to the Python reading (anything
    less plain, or no build). What the replay's spill routes a line by."""
    if _NATIVE is None:
        return None
    found: tuple[str, Instant] | None = _NATIVE.route(line)
    return found


def _decode_structured(obj: dict[str, Any]) -> InputEvent:
    envelope = structured_envelope(obj)
    try:
        return decode_envelope(envelope)
    except InvalidEvent as exc:
        raise InvalidEvent(
            f"in CloudEvent data: {exc.reason}", event_id=exc.event_id, lead_id=exc.lead_id
        ) from None


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
            event_id=str_or_none(envelope.get("event_id")),
            lead_id=str_or_none(envelope.get("lead_id")),
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


# The closed sets as this module's own constants: compiled, read without a dictionary lookup.
_PRIORITIES: Final = PRIORITIES
_INTENTS: Final = INTENTS
_CATEGORIES: Final = CATEGORIES
_CUSTOMER_STATUSES: Final = CUSTOMER_STATUSES
_CONSENTS: Final = CONSENTS
_OWNER_KINDS: Final = OWNER_KINDS
_ACTOR_KINDS: Final = ACTOR_KINDS
_DIRECTIONS: Final = DIRECTIONS
_LEAD_STATUSES: Final = LEAD_STATUSES
_ACTIVITY_LOGGED: Final[str] = ACTIVITY_LOGGED
_LEAD_CREATED: Final[str] = LEAD_CREATED
_OWNER_ASSIGNED: Final[str] = OWNER_ASSIGNED


def _is_opt_id(value: object) -> bool:
    return value is None or (type(value) is str and value != "")


def _is_opt_str(value: object) -> bool:
    return value is None or type(value) is str


def _lead_created(event_id: str, lead_id: str, at: Instant, d: dict[str, Any]) -> InputEvent | None:
    source = d.get("source")
    priority = d.get("priority", "normal")
    intent = d.get("intent")
    category = d.get("category", "inquiry")
    customer_status = d.get("customer_status", "new")
    consent = d.get("consent", "granted")
    account_id = d.get("account_id")
    display_name = d.get("display_name")
    if (
        type(source) is not str
        or not source
        or priority not in _PRIORITIES
        or (intent is not None and intent not in _INTENTS)
        or category not in _CATEGORIES
        or customer_status not in _CUSTOMER_STATUSES
        or consent not in _CONSENTS
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
    priority = d.get("priority")
    intent = d.get("intent")
    category = d.get("category")
    customer_status = d.get("customer_status")
    consent = d.get("consent")
    if (
        (priority is not None and priority not in _PRIORITIES)
        or (intent is not None and intent not in _INTENTS)
        or (category is not None and category not in _CATEGORIES)
        or (customer_status is not None and customer_status not in _CUSTOMER_STATUSES)
        or (consent is not None and consent not in _CONSENTS)
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
    owner_id = d.get("owner_id")
    owner_kind = d.get("owner_kind", "person")
    backup_owner_id = d.get("backup_owner_id")
    manager_id = d.get("manager_id")
    if (
        type(owner_id) is not str
        or not owner_id
        or owner_kind not in _OWNER_KINDS
        or not _is_opt_id(backup_owner_id)
        or not _is_opt_id(manager_id)
    ):
        return None
    return OwnerAssigned(event_id, lead_id, at, owner_id, owner_kind, backup_owner_id, manager_id)


def _activity_logged(
    event_id: str, lead_id: str, at: Instant, d: dict[str, Any]
) -> InputEvent | None:
    actor_id = d.get("actor_id")
    actor_kind: Any = d.get("actor_kind")
    kind = d.get("kind")
    direction = d.get("direction", "outbound")
    next_step = d.get("next_step")
    auto_submitted = d.get("auto_submitted")
    sequence_id = d.get("sequence_id")
    if (
        type(actor_id) is not str
        or not actor_id
        or actor_kind not in _ACTOR_KINDS
        or type(kind) is not str
        or not kind
        or direction not in _DIRECTIONS
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
    if status not in _LEAD_STATUSES or not _is_opt_str(reason):
        return None
    return StatusChanged(event_id, lead_id, at, status, reason)


def _breach_resolved(
    event_id: str, lead_id: str, at: Instant, d: dict[str, Any]
) -> InputEvent | None:
    resolved_by = d.get("resolved_by")
    resolution_note = d.get("resolution_note")
    reason_code = d.get("reason_code")
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
        at = utc_instant(occurred_at) if _COMPILED else parse_rfc3339(occurred_at)
        name: str = type_  # a key of _BUILDERS
        if name == _ACTIVITY_LOGGED:  # the builders called directly: natively, when compiled
            return _activity_logged(event_id, lead_id, at, data)
        if name == _LEAD_CREATED:
            return _lead_created(event_id, lead_id, at, data)
        if name == _OWNER_ASSIGNED:
            return _owner_assigned(event_id, lead_id, at, data)
        return build(event_id, lead_id, at, data)
    except (TypeError, ValueError):
        return None


_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_COMPILED: Final = not __file__.endswith(".py")
"""Compiled (mypyc), :func:`utc_instant` is about twice as fast as ``parse_rfc3339``; in pure
Python it is slower, and ``parse_rfc3339`` reads the timestamps (the same instants)."""


def utc_instant(text: str) -> Instant:
    """:func:`~leadsla.domain.instant.parse_rfc3339`, by arithmetic for what most producers
    write (``YYYY-MM-DDTHH:MM:SSZ``, or with exactly six fractional digits); any other text,
    and any field out of its range, goes to ``parse_rfc3339`` (which accepts or refuses it).
    ``tests/unit/test_codec_fast_paths.py`` checks that both agree."""
    raw = text.encode("utf-8", "surrogatepass")
    size = len(raw)
    # byte values: 45 "-", 58 ":", 84 "T", 90 "Z", 46 "."
    if (
        (size != 20 and (size != 27 or raw[19] != 46))
        or raw[size - 1] != 90
        or raw[4] != 45
        or raw[7] != 45
        or raw[10] != 84
        or raw[13] != 58
        or raw[16] != 58
    ):
        return parse_rfc3339(text)
    year = _number(raw, 0, 4)
    month = _number(raw, 5, 7)
    day = _number(raw, 8, 10)
    hour = _number(raw, 11, 13)
    minute = _number(raw, 14, 16)
    second = _number(raw, 17, 19)
    micro = _number(raw, 20, 26) if size == 27 else 0
    if (
        year < 1
        or not 1 <= month <= 12
        or day < 1
        or not 0 <= hour <= 23
        or not 0 <= minute <= 59
        or not 0 <= second <= 59
        or micro < 0
        or (
            day > _DAYS_IN_MONTH[month]
            and not (
                month == 2 and day == 29 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
            )
        )
    ):
        return parse_rfc3339(text)
    # Days since 1970-01-01 in the proleptic Gregorian calendar (years from March).
    y = year - 1 if month <= 2 else year
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days = era * 146_097 + day_of_era - 719_468
    return (days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000 + micro


def _number(raw: bytes, start: int, end: int) -> int:
    """The ASCII digits ``raw[start:end]`` as a number; -1 if any is not a digit."""
    value = 0
    for i in range(start, end):
        digit = raw[i] - 48
        if not 0 <= digit <= 9:
            return -1
        value = value * 10 + digit
    return value


# The C decoder (leadsla/_events.c): the rules of the builders above as a table it reads. Kinds:
_TEXT: Final = 0  # a non-empty str, required
_OPT_ID: Final = 1  # absent or null: None; else a non-empty str
_OPT_STR: Final = 2  # absent or null: None; else any str
_WORD: Final = 3  # a word of the closed set; absent: the default (None: required)
_OPT_WORD: Final = 4  # absent or null: None; else a word of the closed set
_FLAG: Final = 5  # absent, null or false: False; true: True

NativeField = tuple[str, int, tuple[str, ...], str | None]


def _field(
    name: str, kind: int, words: frozenset[str] = frozenset(), default: str | None = None
) -> NativeField:
    return (name, kind, tuple(sorted(words)), default)


def native_types() -> list[tuple[str, type[InputEvent], tuple[NativeField, ...], bool]]:
    """Every input type as the C decoder takes it: (type name, event class, its data fields in
    the class's order after the envelope's three, whether one of them must be given)."""
    p, i, c, s, k = _PRIORITIES, _INTENTS, _CATEGORIES, _CUSTOMER_STATUSES, _CONSENTS
    word_fields = (
        ("priority", p, "normal"),
        ("intent", i, None),
        ("category", c, "inquiry"),
        ("customer_status", s, "new"),
        ("consent", k, "granted"),
    )
    return [
        (
            LEAD_CREATED,
            LeadCreated,
            (
                _field("source", _TEXT),
                *(
                    _field(name, _WORD if default else _OPT_WORD, words, default)
                    for name, words, default in word_fields
                ),
                _field("account_id", _OPT_ID),
                _field("display_name", _OPT_STR),
            ),
            False,
        ),
        (
            LEAD_UPDATED,
            LeadUpdated,
            tuple(_field(name, _OPT_WORD, words) for name, words, _ in word_fields),
            True,
        ),
        (
            OWNER_ASSIGNED,
            OwnerAssigned,
            (
                _field("owner_id", _TEXT),
                _field("owner_kind", _WORD, _OWNER_KINDS, "person"),
                _field("backup_owner_id", _OPT_ID),
                _field("manager_id", _OPT_ID),
            ),
            False,
        ),
        (
            ACTIVITY_LOGGED,
            ActivityLogged,
            (
                _field("actor_id", _TEXT),
                _field("actor_kind", _WORD, _ACTOR_KINDS),
                _field("kind", _TEXT),
                _field("direction", _WORD, _DIRECTIONS, "outbound"),
                _field("next_step", _OPT_STR),
                _field("auto_submitted", _FLAG),
                _field("sequence_id", _OPT_ID),
            ),
            False,
        ),
        (
            STATUS_CHANGED,
            StatusChanged,
            (_field("status", _WORD, _LEAD_STATUSES), _field("reason", _OPT_STR)),
            False,
        ),
        (
            BREACH_RESOLVED,
            BreachResolved,
            (
                _field("resolved_by", _TEXT),
                _field("resolution_note", _TEXT),
                _field("reason_code", _OPT_ID),
            ),
            False,
        ),
    ]


def _native_decoder() -> Any:
    """The C decoder (``leadsla/_events.c``), configured, when the compiled modules run (else
    None: ``LEADSLA_PURE=1``, or no build)."""
    import leadsla

    if "_events.c" not in leadsla.native_extensions():
        return None
    from leadsla import _events

    types = native_types()
    for _, cls, fields, _ in types:  # the C decoder fills the class's items in this order
        if tuple(field[0] for field in fields) != cls._fields[3:]:
            raise RuntimeError(f"_events: the fields of {cls.__name__} changed")
    _events.configure(types, parse_rfc3339, CURRENT_SCHEMA_VERSION, MAX_ID_LENGTH)
    return _events


_NATIVE: Final = _native_decoder()
_NATIVE_DECODE: Final[Any] = _NATIVE.decode if _NATIVE is not None else None
"""Looked up once: it is called for every line."""


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
