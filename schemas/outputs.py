"""Output events (SPEC.md section 5): the envelope, each type's ``data``, and their topics.

Outputs use the input envelope (``event_id``, ``type``, ``lead_id``, ``occurred_at``, ``data``)
with timestamps in UTC ending in ``Z``; ``occurred_at`` is the logical instant of the
transition. ``event_id`` is deterministic (see ``leadsla.codec.output_event_id``).

Every alert and task carries the :class:`AlertFields` (``source``, ``priority``, ``created_at``,
``owner_id``, ``due_at``, optional ``display_name``, ``suppressed``) so a notifier can act
without a lookup. The models forbid unknown fields: the engine emitting a field the contract
does not name is a bug the tests should see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from leadsla.domain import vocabulary
from leadsla.domain.vocabulary import (
    AlertRetractedType,
    AssigneeRole,
    BreachedType,
    BreachReason,
    Clock,
    EscalationLevel,
    EscalationTaskType,
    ExcludedType,
    ExclusionRoute,
    FactStatus,
    GapMissing,
    Intent,
    MeasuredType,
    OwnershipGapType,
    PreBreachWarningType,
    Priority,
    ResponseRecordedType,
    RetractableType,
    ReviewReason,
    ReviewRequestedType,
    StaleLeadType,
    TaskClosedType,
    TaskCloseReason,
    TimerStartedType,
    TimerUpdatedType,
    WarningReason,
)

from .common import EnvelopeId, OutputEventId, UtcTimestamp

ALERT_TYPES: Final[tuple[str, ...]] = vocabulary.ALERT_TYPES
TASK_TYPES: Final[tuple[str, ...]] = vocabulary.TASK_TYPES


class OutputData(BaseModel):
    """Base of every output ``data`` object."""

    model_config = ConfigDict(strict=True, extra="forbid")


class AlertFields(OutputData):
    """Carried by every alert and task, so a notifier can act without a lookup."""

    source: str
    priority: Priority
    created_at: UtcTimestamp = Field(description="the lead's occurred_at")
    owner_id: str | None = Field(description="the current owner; null when there is none")
    due_at: UtcTimestamp | None = Field(description="the deadline; null when there is no timer")
    display_name: str | None = Field(
        default=None, description="only with the policy's include_contact_details"
    )
    suppressed: bool = Field(
        description="true: measured but not alerted (older than alert_horizon_minutes when "
        "first computed by the live worker); never true in replay"
    )


class TimerData(OutputData):
    """``sla.timer_started`` and ``sla.timer_updated``."""

    owner_id: str | None
    backup_owner_id: str | None
    manager_id: str | None
    due_at: UtcTimestamp
    warn_at: UtcTimestamp
    target_minutes: float = Field(gt=0)
    clock: Clock
    source: str
    priority: Priority


class PreBreachWarningData(AlertFields):
    recipient_id: str
    due_at: UtcTimestamp
    reason: WarningReason
    autoresponder_sent: bool


class BreachedData(AlertFields):
    backup_owner_id: str | None
    manager_id: str | None
    due_at: UtcTimestamp
    breach_reason: BreachReason
    autoresponder_sent: bool
    routed_to_review: bool


class EscalationTaskData(AlertFields):
    task_id: str
    assignee_id: str
    assignee_role: AssigneeRole
    level: EscalationLevel
    breach_reason: BreachReason
    apology_review_required: bool


class ReviewRequestedData(AlertFields):
    task_id: str
    recipient_id: str
    reason: ReviewReason
    apology_review_required: bool


class TaskClosedData(AlertFields):
    task_id: str
    reason: TaskCloseReason


class ResponseRecordedData(OutputData):
    responder_id: str
    kind: str
    response_seconds: float = Field(description="calendar seconds from the lead's occurred_at")
    business_seconds: float | None = Field(description="business clock only, else null")
    within_sla: bool


class StaleLeadData(AlertFields):
    recipient_id: str
    age_seconds: float


class OwnershipGapData(AlertFields):
    recipient_id: str
    owner_id: str
    missing: GapMissing


class ExcludedData(AlertFields):
    reason: str
    route: ExclusionRoute | None


class AlertRetractedData(AlertFields):
    retracted_event_id: OutputEventId
    retracted_type: RetractableType = Field(
        description="type of the retracted event; the retraction goes to that event's topic"
    )
    reason: str = Field(description="late_activity: a late input made it untrue")


class MeasuredData(OutputData):
    """One fact per lead, re-emitted with a growing ``version`` whenever it changes."""

    source: str
    priority: Priority
    intent: Intent
    owner_id: str | None
    manager_id: str | None
    created_at: UtcTimestamp
    due_at: UtcTimestamp | None
    status: FactStatus
    eligible: bool
    responded_at: UtcTimestamp | None
    response_seconds: float | None
    within_sla: bool | None
    breach_reason: str | None
    resolution_note: str | None
    resolved_by: str | None
    pre_breach_warned: bool
    escalated: bool
    escalation_level: int = Field(ge=0, le=2)
    meeting_after_escalation: bool
    stale: bool
    in_review: bool
    policy_version: str
    version: int = Field(ge=1)


class OutputEnvelopeBase(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    event_id: OutputEventId = Field(
        description="deterministic: SHA-256 (first 128 bits) of lead_id, type, occurred_at and data "
        "(without suppressed)"
    )
    lead_id: EnvelopeId
    occurred_at: UtcTimestamp = Field(description="the logical instant of the transition")


class TimerStartedEvent(OutputEnvelopeBase):
    type: TimerStartedType
    data: TimerData


class TimerUpdatedEvent(OutputEnvelopeBase):
    type: TimerUpdatedType
    data: TimerData


class PreBreachWarningEvent(OutputEnvelopeBase):
    type: PreBreachWarningType
    data: PreBreachWarningData


class BreachedEvent(OutputEnvelopeBase):
    type: BreachedType
    data: BreachedData


class EscalationTaskEvent(OutputEnvelopeBase):
    type: EscalationTaskType
    data: EscalationTaskData


class ReviewRequestedEvent(OutputEnvelopeBase):
    type: ReviewRequestedType
    data: ReviewRequestedData


class TaskClosedEvent(OutputEnvelopeBase):
    type: TaskClosedType
    data: TaskClosedData


class ResponseRecordedEvent(OutputEnvelopeBase):
    type: ResponseRecordedType
    data: ResponseRecordedData


class StaleLeadEvent(OutputEnvelopeBase):
    type: StaleLeadType
    data: StaleLeadData


class OwnershipGapEvent(OutputEnvelopeBase):
    type: OwnershipGapType
    data: OwnershipGapData


class ExcludedEvent(OutputEnvelopeBase):
    type: ExcludedType
    data: ExcludedData


class AlertRetractedEvent(OutputEnvelopeBase):
    type: AlertRetractedType
    data: AlertRetractedData


class MeasuredEvent(OutputEnvelopeBase):
    type: MeasuredType
    data: MeasuredData


OutputEventModel = (
    TimerStartedEvent
    | TimerUpdatedEvent
    | PreBreachWarningEvent
    | BreachedEvent
    | EscalationTaskEvent
    | ReviewRequestedEvent
    | TaskClosedEvent
    | ResponseRecordedEvent
    | StaleLeadEvent
    | OwnershipGapEvent
    | ExcludedEvent
    | AlertRetractedEvent
    | MeasuredEvent
)

OUTPUT_MODELS: Final[dict[str, type[OutputEventModel]]] = {
    vocabulary.TIMER_STARTED: TimerStartedEvent,
    vocabulary.TIMER_UPDATED: TimerUpdatedEvent,
    vocabulary.WARNING: PreBreachWarningEvent,
    vocabulary.BREACHED: BreachedEvent,
    vocabulary.ESCALATION: EscalationTaskEvent,
    vocabulary.REVIEW: ReviewRequestedEvent,
    vocabulary.TASK_CLOSED: TaskClosedEvent,
    vocabulary.RESPONSE: ResponseRecordedEvent,
    vocabulary.STALE: StaleLeadEvent,
    vocabulary.GAP: OwnershipGapEvent,
    vocabulary.EXCLUDED: ExcludedEvent,
    vocabulary.RETRACTED: AlertRetractedEvent,
    vocabulary.MEASURED: MeasuredEvent,
}
OUTPUT_TYPES: Final[tuple[str, ...]] = vocabulary.OUTPUT_TYPES

AnyOutputEvent = Annotated[OutputEventModel, Field(discriminator="type")]
OUTPUT_EVENT_ADAPTER: Final[TypeAdapter[OutputEventModel]] = TypeAdapter(AnyOutputEvent)
"""All output types as one discriminated union (the ``output-envelope`` JSON Schema)."""


def validate_output(raw: Any) -> OutputEventModel:
    """Validate one output event (a decoded dict); raise pydantic's ``ValidationError``."""
    return OUTPUT_EVENT_ADAPTER.validate_python(raw)


# Topics (logical names; a deployment may prefix them).
TOPIC_ALERTS: Final = "sla.alerts"
TOPIC_TASKS: Final = "sla.tasks"
TOPIC_MEASUREMENTS: Final = "sla.measurements"
TOPIC_FACTS: Final = "sla.facts"
TOPIC_DLQ: Final = "sla.dlq"

RETRACTION_TYPE: Final = vocabulary.RETRACTED

OUTPUT_TOPICS: Final[Mapping[str, tuple[str, ...]]] = {
    vocabulary.TIMER_STARTED: (TOPIC_MEASUREMENTS,),
    vocabulary.TIMER_UPDATED: (TOPIC_MEASUREMENTS,),
    vocabulary.RESPONSE: (TOPIC_MEASUREMENTS,),
    vocabulary.MEASURED: (TOPIC_MEASUREMENTS, TOPIC_FACTS),
    vocabulary.WARNING: (TOPIC_ALERTS,),
    vocabulary.BREACHED: (TOPIC_ALERTS,),
    vocabulary.STALE: (TOPIC_ALERTS,),
    vocabulary.GAP: (TOPIC_ALERTS,),
    vocabulary.EXCLUDED: (TOPIC_ALERTS,),
    vocabulary.ESCALATION: (TOPIC_TASKS,),
    vocabulary.REVIEW: (TOPIC_TASKS,),
    vocabulary.TASK_CLOSED: (TOPIC_TASKS,),
}
"""Output type -> the topics it is written to (SPEC.md section 5).

``sla.alert_retracted`` is not here: it goes to the topic that carried the retracted event
(``data.retracted_type``); use :func:`topics_for`.
"""


def topics_for(type_: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The topics an output event is written to; a retraction follows the event it retracts."""
    if type_ == RETRACTION_TYPE:
        return OUTPUT_TOPICS[data["retracted_type"]]
    return OUTPUT_TOPICS[type_]
