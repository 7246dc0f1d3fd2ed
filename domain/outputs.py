"""Output records: what the engine says happened to a lead, typed, with instants.

One record class per ``data`` shape of SPEC.md section 5. Field names are the wire names of the
contract; times are instants (``int`` microseconds), never text. The codec
(``leadsla.codec``) alone turns a record into the wire: UTC text, sorted-key JSON, the
``suppressed`` member of alerts and tasks, the content-derived ``event_id``.

The field order of each record is the order its fields had in the engine's former ``data``
dicts: the live worker's stored content digests (``live._digest``) are computed in that order,
so it is part of the worker's stored state (``streams/state.py``, format 1).

``NamedTuple``s, like the input events: immutable and typed, and built on the hot path.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from .instant import Instant
from .vocabulary import (
    AssigneeRole,
    BreachReason,
    Category,
    Clock,
    ExclusionReason,
    ExclusionRoute,
    FactStatus,
    GapMissing,
    Intent,
    OutputType,
    Priority,
    RetractableType,
    RetractionReason,
    ReviewReason,
    TaskCloseReason,
    WarningReason,
)


class Timer(NamedTuple):
    """``sla.timer_started`` and ``sla.timer_updated``."""

    owner_id: str | None
    backup_owner_id: str | None
    manager_id: str | None
    due_at: Instant
    warn_at: Instant
    target_minutes: float
    clock: Clock
    source: str
    priority: Priority


# Every alert and task starts with the same five fields (what a notifier needs without a
# lookup) and ends with ``display_name`` and ``contact_details``: the name is written to the
# wire only when the policy's ``include_contact_details`` is on (``contact_details``).


class PreBreachWarning(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    recipient_id: str
    reason: WarningReason
    autoresponder_sent: bool
    display_name: str | None
    contact_details: bool


class Breach(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    backup_owner_id: str | None
    manager_id: str
    breach_reason: BreachReason
    autoresponder_sent: bool
    routed_to_review: bool
    display_name: str | None
    contact_details: bool


class Escalation(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    task_id: str
    assignee_id: str
    assignee_role: AssigneeRole
    level: int
    breach_reason: BreachReason | None
    apology_review_required: bool
    display_name: str | None
    contact_details: bool


class Review(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    task_id: str
    recipient_id: str
    reason: ReviewReason | Category
    apology_review_required: bool
    display_name: str | None
    contact_details: bool


class TaskClosed(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    task_id: str
    reason: TaskCloseReason
    display_name: str | None
    contact_details: bool


class Stale(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    recipient_id: str
    age_seconds: float
    display_name: str | None
    contact_details: bool


class Gap(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    recipient_id: str
    missing: GapMissing
    display_name: str | None
    contact_details: bool


class Exclusion(NamedTuple):
    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    reason: ExclusionReason
    route: ExclusionRoute | None
    display_name: str | None
    contact_details: bool


class Retraction(NamedTuple):
    """``sla.alert_retracted`` (built by the live worker, rule 14): no contact details."""

    source: str
    priority: Priority
    created_at: Instant
    owner_id: str | None
    due_at: Instant | None
    retracted_event_id: str
    retracted_type: RetractableType
    reason: RetractionReason


class Response(NamedTuple):
    """``sla.response_recorded``."""

    responder_id: str
    kind: str
    response_seconds: float
    business_seconds: float | None
    within_sla: bool


class Fact(NamedTuple):
    """``sla.measured``: one fact per lead, re-emitted with a growing ``version``."""

    source: str
    priority: Priority
    intent: Intent
    owner_id: str | None
    manager_id: str
    created_at: Instant
    due_at: Instant | None
    status: FactStatus
    eligible: bool
    responded_at: Instant | None
    response_seconds: float | None
    within_sla: bool | None
    breach_reason: str | None
    resolution_note: str | None
    resolved_by: str | None
    pre_breach_warned: bool
    escalated: bool
    escalation_level: int
    meeting_after_escalation: bool
    stale: bool
    in_review: bool
    policy_version: str
    version: int


AlertRecord = PreBreachWarning | Breach | Escalation | Review | TaskClosed | Stale | Gap | Exclusion
"""The ``data`` of an alert or a task (what can be suppressed and retracted)."""
ALERT_RECORDS: Final = (
    PreBreachWarning,
    Breach,
    Escalation,
    Review,
    TaskClosed,
    Stale,
    Gap,
    Exclusion,
)
OutputData = AlertRecord | Timer | Retraction | Response | Fact
"""Every ``data`` shape."""

TIME_FIELDS: Final = frozenset({"created_at", "due_at", "warn_at", "responded_at"})
"""The fields that hold instants (written to the wire as UTC text)."""


class Output(NamedTuple):
    """One output event of a lead: its type, logical instant and typed ``data``.

    ``suppressed`` is the live worker's (``alert_horizon_minutes``): the engine never sets it;
    the codec writes it into the ``data`` of alerts and tasks, outside the ``event_id``.

    A NamedTuple rather than a frozen dataclass: it is built for every output on the hot path,
    and a frozen dataclass's ``__init__`` costs several times more.
    """

    type: OutputType
    occurred_at: Instant
    data: OutputData
    suppressed: bool = False
