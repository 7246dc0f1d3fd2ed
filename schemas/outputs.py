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
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from .common import EnvelopeId, Intent, OutputEventId, Priority, UtcTimestamp

Clock = Literal["calendar", "business"]
WarningReason = Literal["owner_no_action", "autoresponder_only", "no_owner"]
BreachReason = Literal[
    "no_owner",
    "assigned_late",
    "non_meaningful_activity_only",
    "autoresponder_only",
    "owner_no_action",
]
AssigneeRole = Literal["backup_owner", "manager"]
ReviewReason = Literal[
    "complaint",
    "urgent_request",
    "customer_conflict",
    "consent_unclear",
    "ownership_conflict",
    "breach",
]
TaskCloseReason = Literal["answered", "excluded", "reassigned", "hold_ended"]
FactStatus = Literal["open", "held", "met", "breached", "excluded"]

ALERT_TYPES: Final = (
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
)
TASK_TYPES: Final = ("sla.escalation_task", "sla.review_requested", "sla.task_closed")
RetractableType = Literal[
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
    "sla.escalation_task",
    "sla.review_requested",
    "sla.task_closed",
]


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
    level: Literal[1, 2]
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
    missing: Literal["backup_owner"]


class ExcludedData(AlertFields):
    reason: str
    route: Literal["support"] | None


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
    type: Literal["sla.timer_started"]
    data: TimerData


class TimerUpdatedEvent(OutputEnvelopeBase):
    type: Literal["sla.timer_updated"]
    data: TimerData


class PreBreachWarningEvent(OutputEnvelopeBase):
    type: Literal["sla.pre_breach_warning"]
    data: PreBreachWarningData


class BreachedEvent(OutputEnvelopeBase):
    type: Literal["sla.breached"]
    data: BreachedData


class EscalationTaskEvent(OutputEnvelopeBase):
    type: Literal["sla.escalation_task"]
    data: EscalationTaskData


class ReviewRequestedEvent(OutputEnvelopeBase):
    type: Literal["sla.review_requested"]
    data: ReviewRequestedData


class TaskClosedEvent(OutputEnvelopeBase):
    type: Literal["sla.task_closed"]
    data: TaskClosedData


class ResponseRecordedEvent(OutputEnvelopeBase):
    type: Literal["sla.response_recorded"]
    data: ResponseRecordedData


class StaleLeadEvent(OutputEnvelopeBase):
    type: Literal["sla.stale_lead"]
    data: StaleLeadData


class OwnershipGapEvent(OutputEnvelopeBase):
    type: Literal["sla.ownership_gap"]
    data: OwnershipGapData


class ExcludedEvent(OutputEnvelopeBase):
    type: Literal["sla.excluded"]
    data: ExcludedData


class AlertRetractedEvent(OutputEnvelopeBase):
    type: Literal["sla.alert_retracted"]
    data: AlertRetractedData


class MeasuredEvent(OutputEnvelopeBase):
    type: Literal["sla.measured"]
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
    "sla.timer_started": TimerStartedEvent,
    "sla.timer_updated": TimerUpdatedEvent,
    "sla.pre_breach_warning": PreBreachWarningEvent,
    "sla.breached": BreachedEvent,
    "sla.escalation_task": EscalationTaskEvent,
    "sla.review_requested": ReviewRequestedEvent,
    "sla.task_closed": TaskClosedEvent,
    "sla.response_recorded": ResponseRecordedEvent,
    "sla.stale_lead": StaleLeadEvent,
    "sla.ownership_gap": OwnershipGapEvent,
    "sla.excluded": ExcludedEvent,
    "sla.alert_retracted": AlertRetractedEvent,
    "sla.measured": MeasuredEvent,
}
OUTPUT_TYPES: Final[tuple[str, ...]] = tuple(OUTPUT_MODELS)

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

RETRACTION_TYPE: Final = "sla.alert_retracted"

OUTPUT_TOPICS: Final[Mapping[str, tuple[str, ...]]] = {
    "sla.timer_started": (TOPIC_MEASUREMENTS,),
    "sla.timer_updated": (TOPIC_MEASUREMENTS,),
    "sla.response_recorded": (TOPIC_MEASUREMENTS,),
    "sla.measured": (TOPIC_MEASUREMENTS, TOPIC_FACTS),
    "sla.pre_breach_warning": (TOPIC_ALERTS,),
    "sla.breached": (TOPIC_ALERTS,),
    "sla.stale_lead": (TOPIC_ALERTS,),
    "sla.ownership_gap": (TOPIC_ALERTS,),
    "sla.excluded": (TOPIC_ALERTS,),
    "sla.escalation_task": (TOPIC_TASKS,),
    "sla.review_requested": (TOPIC_TASKS,),
    "sla.task_closed": (TOPIC_TASKS,),
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
