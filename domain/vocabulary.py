"""The closed value sets of SPEC.md, defined once.

Every enumerated value of the wire contract is a ``Literal`` here; the domain events and the
engine use them as field types (so a misspelt value does not type-check), the pydantic models of
``schemas/`` import them (so the JSON Schemas list the same values), and the codec's fast path
checks membership in the ``frozenset`` derived from each (``typing.get_args``), without
importing pydantic.

The order of the values inside a ``Literal`` is the order the JSON Schemas list them in
(``schemas/json``): keep it.

Standard library only (the layer rule of ``domain/``).
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

# --------------------------------------------------------------------------------------------
# Event types (SPEC.md sections 2 and 5). One alias per type, so that a pydantic model can be
# discriminated by it; the constants below are the same values for code.
# --------------------------------------------------------------------------------------------

LeadCreatedType = Literal["lead.created"]
LeadUpdatedType = Literal["lead.updated"]
OwnerAssignedType = Literal["lead.owner_assigned"]
ActivityLoggedType = Literal["lead.activity_logged"]
StatusChangedType = Literal["lead.status_changed"]
BreachResolvedType = Literal["lead.breach_resolved"]

InputType = Literal[
    LeadCreatedType,
    LeadUpdatedType,
    OwnerAssignedType,
    ActivityLoggedType,
    StatusChangedType,
    BreachResolvedType,
]
"""The input event types, in the order SPEC.md section 2 lists them."""

TimerStartedType = Literal["sla.timer_started"]
TimerUpdatedType = Literal["sla.timer_updated"]
PreBreachWarningType = Literal["sla.pre_breach_warning"]
BreachedType = Literal["sla.breached"]
EscalationTaskType = Literal["sla.escalation_task"]
ReviewRequestedType = Literal["sla.review_requested"]
TaskClosedType = Literal["sla.task_closed"]
ResponseRecordedType = Literal["sla.response_recorded"]
StaleLeadType = Literal["sla.stale_lead"]
OwnershipGapType = Literal["sla.ownership_gap"]
ExcludedType = Literal["sla.excluded"]
AlertRetractedType = Literal["sla.alert_retracted"]
MeasuredType = Literal["sla.measured"]

AlertType = Literal[
    PreBreachWarningType, BreachedType, StaleLeadType, OwnershipGapType, ExcludedType
]
"""Outputs written to ``sla.alerts``."""
TaskType = Literal[EscalationTaskType, ReviewRequestedType, TaskClosedType]
"""Outputs written to ``sla.tasks``."""
RetractableType = Literal[AlertType, TaskType]
"""What ``sla.alert_retracted`` may retract: every alert and task."""
OutputType = Literal[
    TimerStartedType,
    TimerUpdatedType,
    PreBreachWarningType,
    BreachedType,
    EscalationTaskType,
    ReviewRequestedType,
    TaskClosedType,
    ResponseRecordedType,
    StaleLeadType,
    OwnershipGapType,
    ExcludedType,
    AlertRetractedType,
    MeasuredType,
]
"""The output event types, in the order SPEC.md section 5 lists them."""


def _only(alias: object) -> Any:
    """The one value of a single-value ``Literal`` alias (typed by the constant it names)."""
    (value,) = get_args(alias)
    return value


LEAD_CREATED: Final[LeadCreatedType] = _only(LeadCreatedType)
LEAD_UPDATED: Final[LeadUpdatedType] = _only(LeadUpdatedType)
OWNER_ASSIGNED: Final[OwnerAssignedType] = _only(OwnerAssignedType)
ACTIVITY_LOGGED: Final[ActivityLoggedType] = _only(ActivityLoggedType)
STATUS_CHANGED: Final[StatusChangedType] = _only(StatusChangedType)
BREACH_RESOLVED: Final[BreachResolvedType] = _only(BreachResolvedType)

TIMER_STARTED: Final[TimerStartedType] = _only(TimerStartedType)
TIMER_UPDATED: Final[TimerUpdatedType] = _only(TimerUpdatedType)
WARNING: Final[PreBreachWarningType] = _only(PreBreachWarningType)
BREACHED: Final[BreachedType] = _only(BreachedType)
ESCALATION: Final[EscalationTaskType] = _only(EscalationTaskType)
REVIEW: Final[ReviewRequestedType] = _only(ReviewRequestedType)
TASK_CLOSED: Final[TaskClosedType] = _only(TaskClosedType)
RESPONSE: Final[ResponseRecordedType] = _only(ResponseRecordedType)
STALE: Final[StaleLeadType] = _only(StaleLeadType)
GAP: Final[OwnershipGapType] = _only(OwnershipGapType)
EXCLUDED: Final[ExcludedType] = _only(ExcludedType)
RETRACTED: Final[AlertRetractedType] = _only(AlertRetractedType)
MEASURED: Final[MeasuredType] = _only(MeasuredType)

INPUT_TYPES: Final[tuple[InputType, ...]] = get_args(InputType)
OUTPUT_TYPES: Final[tuple[OutputType, ...]] = get_args(OutputType)
ALERT_TYPES: Final[tuple[AlertType, ...]] = get_args(AlertType)
TASK_TYPES: Final[tuple[TaskType, ...]] = get_args(TaskType)

# --------------------------------------------------------------------------------------------
# Input values (SPEC.md section 2)
# --------------------------------------------------------------------------------------------

CURRENT_SCHEMA_VERSION: Final = 1
"""The input envelope's ``schema_version`` this code writes and reads without upgrading."""

Priority = Literal["urgent", "high", "normal", "low"]
Intent = Literal["high", "normal", "low"]
Category = Literal["inquiry", "complaint", "urgent_request", "customer_conflict", "support_issue"]
CustomerStatus = Literal["new", "existing_customer"]
Consent = Literal["granted", "unclear", "declined"]
OwnerKind = Literal["person", "queue"]
ActorKind = Literal["person", "automation"]
Direction = Literal["outbound", "inbound", "internal"]
ExcludingStatus = Literal[
    "disqualified",
    "duplicate",
    "spam",
    "opted_out",
    "consent_withdrawn",
    "closed",
    "converted",
]
"""The statuses that take a lead out of the clock (rule 9)."""
LeadStatus = Literal[ExcludingStatus, "reopened"]
"""``lead.status_changed``'s ``status``."""

PRIORITIES: Final = frozenset(get_args(Priority))
INTENTS: Final = frozenset(get_args(Intent))
CATEGORIES: Final = frozenset(get_args(Category))
CUSTOMER_STATUSES: Final = frozenset(get_args(CustomerStatus))
CONSENTS: Final = frozenset(get_args(Consent))
OWNER_KINDS: Final = frozenset(get_args(OwnerKind))
ACTOR_KINDS: Final = frozenset(get_args(ActorKind))
DIRECTIONS: Final = frozenset(get_args(Direction))
LEAD_STATUSES: Final = frozenset(get_args(LeadStatus))

# --------------------------------------------------------------------------------------------
# Policy values (SPEC.md section 3)
# --------------------------------------------------------------------------------------------

Clock = Literal["calendar", "business"]
ResponseFrom = Literal["owner_or_backup", "any_person"]

CLOCKS: Final = frozenset(get_args(Clock))
RESPONSE_FROM: Final = frozenset(get_args(ResponseFrom))

# --------------------------------------------------------------------------------------------
# Output values (SPEC.md sections 4 and 5)
# --------------------------------------------------------------------------------------------

WarningReason = Literal["owner_no_action", "autoresponder_only", "no_owner"]
"""``sla.pre_breach_warning``'s ``reason`` (rule 4)."""
BreachReason = Literal[
    "no_owner",
    "assigned_late",
    "non_meaningful_activity_only",
    "autoresponder_only",
    "owner_no_action",
]
"""The derived ``breach_reason`` (rule 5), in the order the rule tries them."""
AssigneeRole = Literal["backup_owner", "manager"]
EscalationLevel = Literal[1, 2]
"""``sla.escalation_task``'s ``level``: 1 the backup owner (or manager), 2 the manager."""
ReviewReason = Literal[
    "complaint",
    "urgent_request",
    "customer_conflict",
    "consent_unclear",
    "ownership_conflict",
    "breach",
]
"""``sla.review_requested``'s ``reason``."""
TaskCloseReason = Literal["answered", "excluded", "reassigned", "hold_ended"]
FactStatus = Literal["open", "held", "met", "breached", "excluded"]
"""``sla.measured``'s ``status``."""
ExclusionReason = Literal[ExcludingStatus, "consent_declined", "existing_customer", "support_issue"]
"""``sla.excluded``'s ``reason`` (rule 9): an excluding status, declined consent, or the support
route (the wire model keeps it an open string)."""
ExclusionRoute = Literal["support"]
"""``sla.excluded``'s ``route`` (or null)."""
GapMissing = Literal["backup_owner"]
"""``sla.ownership_gap``'s ``missing``."""
RetractionReason = Literal["late_activity"]
"""``sla.alert_retracted``'s ``reason`` (rule 14; the wire model keeps it an open string)."""

WARNING_REASONS: Final = frozenset(get_args(WarningReason))
BREACH_REASONS: Final = frozenset(get_args(BreachReason))
ASSIGNEE_ROLES: Final = frozenset(get_args(AssigneeRole))
REVIEW_REASONS: Final = frozenset(get_args(ReviewReason))
TASK_CLOSE_REASONS: Final = frozenset(get_args(TaskCloseReason))
FACT_STATUSES: Final = frozenset(get_args(FactStatus))
EXCLUSION_REASONS: Final = frozenset(get_args(ExclusionReason))

# --------------------------------------------------------------------------------------------
# The engine's lifecycle (internal: never on the wire; docs/ARCHITECTURE.md, "Lifecycle")
# --------------------------------------------------------------------------------------------

LeadPhase = Literal[
    "pending",
    "open",
    "answered",
    "breached",
    "breached_answered",
    "excluded",
    "closed",
    "support",
    "breached_excluded",
    "breached_excluded_answered",
    "breached_closed",
    "breached_closed_answered",
    "breached_support",
    "breach_hidden",
    "breach_hidden_closed",
]
"""Where one lead is in its lifecycle: one value, so that no impossible combination of "answered",
"breached", "excluded", "closed" and "support route" can be written.

- ``pending``: no ``lead.created`` yet; its inputs are held (rule 13).
- ``open``: the clock runs, unanswered, not breached (rule 1).
- ``answered``: a meaningful response was recorded before any breach (rules 2, 3); its
  ``within_sla`` says met or late (a late answer given while held still breaches when the hold
  ends).
- ``breached``: the deadline passed unanswered (rule 5); escalation runs (rule 6).
- ``breached_answered``: breached, then answered (or answered late while held, then breached).
- ``excluded``: out of the clock before a breach (rule 9).
- ``closed``: excluded by ``closed`` before a breach; ``reopened`` restores the clock.
- ``support``: routed to support (rule 9): no clock at all, or the clock dropped before a breach.
- ``breached_excluded``, ``breached_excluded_answered``: excluded after a breach: the clock
  stopped, the breach stays visible (and it may still be answered, late).
- ``breached_closed``, ``breached_closed_answered``: the same by ``closed``: ``reopened``
  restores the breached clock.
- ``breached_support``: routed to support after a breach (the breach stays visible).
- ``breach_hidden``: ``spam`` or ``duplicate`` after a breach: excluded, the breach hidden.
- ``breach_hidden_closed``: the same after ``closed``: ``reopened`` shows the breach again.
"""
LifecycleInput = Literal[
    "create", "respond", "breach", "exclude", "close", "hide", "support", "reopen"
]
"""What moves a lead from one ``LeadPhase`` to another (the engine's transition table):
``create`` (``lead.created`` with a clock), ``respond`` (the first meaningful response, rule 3),
``breach`` (the deadline timer, rule 5), ``exclude`` (an excluding status other than the three
below, or declined consent, rule 9), ``close`` (status ``closed``), ``hide`` (status ``spam`` or
``duplicate``: also hides a breach), ``support`` (the support route), ``reopen`` (status
``reopened``)."""
WarningPhase = Literal["due", "sent", "skipped"]
"""The pre-breach warning timer (rule 4): still due, sent, or skipped (the deadline was already
reached when it came due; a new target or a reopened lead makes it due again)."""
EscalationPhase = Literal["none", "review", "level1", "level2"]
"""The escalation after a breach (rules 6, 7): none yet (or answered before it), routed to one
review (level 1, never level 2), the level-1 task, the level-2 task."""

LEAD_PHASES: Final[tuple[LeadPhase, ...]] = get_args(LeadPhase)
LIFECYCLE_INPUTS: Final[tuple[LifecycleInput, ...]] = get_args(LifecycleInput)
