"""Input events (SPEC.md section 2): the envelope and each type's ``data``, validated at the edge.

Strict where it protects users: strings must be strings, booleans booleans, integers integers
(no coercion), identifiers must not be empty, timestamps must carry an offset, and closed sets
(priority, intent, category, ...) are checked. Open sets (``source``, activity ``kind``) stay
plain strings. Unknown fields inside ``data`` are kept (``model_extra``) but ignored; unknown
top-level fields are ignored.

``schema_version`` is 1 today. :func:`upgrade` brings an older envelope to the current version
before validation (one function per version step in :data:`UPGRADERS`); a newer version is
refused with ``unsupported schema_version N``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from leadsla.domain import vocabulary
from leadsla.domain.vocabulary import (
    ActivityLoggedType,
    ActorKind,
    BreachResolvedType,
    Category,
    Consent,
    CustomerStatus,
    Direction,
    Intent,
    LeadCreatedType,
    LeadStatus,
    LeadUpdatedType,
    OwnerAssignedType,
    OwnerKind,
    Priority,
    StatusChangedType,
)

from .common import EnvelopeId, NonEmptyStr, Timestamp

CURRENT_SCHEMA_VERSION: Final = vocabulary.CURRENT_SCHEMA_VERSION

INPUT_TYPES: Final[tuple[str, ...]] = vocabulary.INPUT_TYPES
"""The input types (``leadsla.domain.vocabulary``), for messages and tests."""


class InputData(BaseModel):
    """Base of every input ``data`` object: unknown fields are kept but ignored."""

    model_config = ConfigDict(strict=True, extra="allow")


class LeadCreatedData(InputData):
    source: NonEmptyStr = Field(
        description="where the lead came from: pricing_page, web_form, chat, missed_call, "
        "demo_request, email, referral, or any other string"
    )
    priority: Priority = "normal"
    intent: Intent | None = Field(
        default=None, description="null or absent: derived from policy high_intent_sources"
    )
    category: Category = "inquiry"
    customer_status: CustomerStatus = "new"
    consent: Consent = "granted"
    account_id: NonEmptyStr | None = None
    display_name: str | None = None


UPDATABLE_FIELDS: Final = ("priority", "intent", "category", "customer_status", "consent")


class LeadUpdatedData(InputData):
    """The new values; at least one of the five fields must be present and not null."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in UPDATABLE_FIELDS
            ]
        }
    )

    priority: Priority | None = None
    intent: Intent | None = None
    category: Category | None = None
    customer_status: CustomerStatus | None = None
    consent: Consent | None = None

    @model_validator(mode="after")
    def _one_field_given(self) -> LeadUpdatedData:
        if (
            self.priority is None
            and self.intent is None
            and self.category is None
            and self.customer_status is None
            and self.consent is None
        ):
            raise ValueError("at least one of " + ", ".join(UPDATABLE_FIELDS) + " is required")
        return self


class OwnerAssignedData(InputData):
    owner_id: NonEmptyStr = Field(description="the new owner; replaces the previous one")
    owner_kind: OwnerKind = "person"
    backup_owner_id: NonEmptyStr | None = Field(
        default=None, description="null or absent: looked up in the policy roster"
    )
    manager_id: NonEmptyStr | None = Field(
        default=None, description="null or absent: looked up in the policy roster"
    )


class ActivityLoggedData(InputData):
    actor_id: NonEmptyStr
    actor_kind: ActorKind
    kind: NonEmptyStr = Field(
        description="autoresponder, acknowledgement, email, call, call_attempt, voicemail, sms, "
        "chat, meeting_booked, conversation, note, or another string"
    )
    direction: Direction = "outbound"
    next_step: str | None = None
    auto_submitted: bool | None = Field(
        default=None,
        description="the message carried an auto-reply header such as Auto-Submitted; "
        "null or absent: false",
    )
    sequence_id: NonEmptyStr | None = Field(
        default=None, description="sent by a sequence or cadence tool, even in the owner's name"
    )


class StatusChangedData(InputData):
    status: LeadStatus
    reason: str | None = None


class BreachResolvedData(InputData):
    resolved_by: NonEmptyStr
    resolution_note: NonEmptyStr
    reason_code: NonEmptyStr | None = Field(
        default=None, description="overrides the derived breach reason"
    )


class InputEnvelopeBase(BaseModel):
    """Fields every input envelope has; unknown top-level fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")

    event_id: EnvelopeId = Field(description="unique per event; a repeat is a duplicate")
    lead_id: EnvelopeId
    occurred_at: Timestamp = Field(
        description="when it happened in the source system, with a UTC offset"
    )
    schema_version: int = Field(
        default=CURRENT_SCHEMA_VERSION,
        ge=1,
        description="older versions are upgraded on read; newer ones are refused",
        json_schema_extra={"maximum": CURRENT_SCHEMA_VERSION},
    )

    @field_validator("schema_version")
    @classmethod
    def _supported_version(cls, version: int) -> int:
        if version > CURRENT_SCHEMA_VERSION:
            raise ValueError(
                f"unsupported schema_version {version} "
                f"(the newest this lead-sla reads is {CURRENT_SCHEMA_VERSION})"
            )
        return version


class InputEnvelope(InputEnvelopeBase):
    """Any input event, ``data`` unchecked: used to report an unknown or missing ``type``."""

    type: str
    data: dict[str, Any]

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in INPUT_TYPES:
            raise ValueError(
                f"unknown event type {value!r} (expected one of {', '.join(INPUT_TYPES)})"
            )
        return value


class LeadCreatedEvent(InputEnvelopeBase):
    type: LeadCreatedType
    data: LeadCreatedData


class LeadUpdatedEvent(InputEnvelopeBase):
    type: LeadUpdatedType
    data: LeadUpdatedData


class OwnerAssignedEvent(InputEnvelopeBase):
    type: OwnerAssignedType
    data: OwnerAssignedData


class ActivityLoggedEvent(InputEnvelopeBase):
    type: ActivityLoggedType
    data: ActivityLoggedData


class StatusChangedEvent(InputEnvelopeBase):
    type: StatusChangedType
    data: StatusChangedData


class BreachResolvedEvent(InputEnvelopeBase):
    type: BreachResolvedType
    data: BreachResolvedData


InputEventModel = (
    LeadCreatedEvent
    | LeadUpdatedEvent
    | OwnerAssignedEvent
    | ActivityLoggedEvent
    | StatusChangedEvent
    | BreachResolvedEvent
)

INPUT_MODELS: Final[dict[str, type[InputEventModel]]] = {
    vocabulary.LEAD_CREATED: LeadCreatedEvent,
    vocabulary.LEAD_UPDATED: LeadUpdatedEvent,
    vocabulary.OWNER_ASSIGNED: OwnerAssignedEvent,
    vocabulary.ACTIVITY_LOGGED: ActivityLoggedEvent,
    vocabulary.STATUS_CHANGED: StatusChangedEvent,
    vocabulary.BREACH_RESOLVED: BreachResolvedEvent,
}

AnyInputEvent = Annotated[InputEventModel, Field(discriminator="type")]
INPUT_EVENT_ADAPTER: Final[TypeAdapter[InputEventModel]] = TypeAdapter(AnyInputEvent)
"""All input types as one discriminated union (the ``input-envelope`` JSON Schema)."""


Upgrader = Callable[[dict[str, Any]], dict[str, Any]]
UPGRADERS: Final[dict[int, Upgrader]] = {}
"""``UPGRADERS[n]`` turns an envelope of schema_version ``n`` into one of version ``n + 1``.

Empty while 1 is the only version. When version 2 arrives, bump CURRENT_SCHEMA_VERSION, change
the models, and add ``UPGRADERS[1]`` (it must not mutate its argument).
"""


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring an input envelope of an older ``schema_version`` to the current one.

    A missing version is 1. A version that is not an integer, newer than current, or has no
    upgrade step is returned unchanged: validation then reports it.
    """
    version = raw.get("schema_version", 1)
    if type(version) is not int or version >= CURRENT_SCHEMA_VERSION:
        return raw
    while version < CURRENT_SCHEMA_VERSION:
        step = UPGRADERS.get(version)
        if step is None:
            return raw
        raw = step(raw)
        version += 1
    return {**raw, "schema_version": CURRENT_SCHEMA_VERSION}


def validate_input(raw: dict[str, Any]) -> InputEventModel:
    """Upgrade and validate one input envelope; raise pydantic's ``ValidationError``."""
    raw = upgrade(raw)
    type_ = raw.get("type")
    model = INPUT_MODELS.get(type_) if type(type_) is str else None
    if model is None:
        InputEnvelope.model_validate(raw)  # always fails: it reports the type (and the rest)
        raise AssertionError("unreachable: InputEnvelope accepted an unknown type")
    return model.model_validate(raw)
