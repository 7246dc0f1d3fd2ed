"""Input events as the engine sees them: plain frozen dataclasses, already validated.

The wire models live in ``schemas/``; one translation module turns them into these. Times are
instants (``int`` microseconds, see ``instant.py``). Enumerated values are plain strings checked at
the edge; the engine compares them with the literals of SPEC.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from .instant import Instant


@dataclass(frozen=True, slots=True)
class LeadCreated:
    event_id: str
    lead_id: str
    occurred_at: Instant
    source: str
    priority: str = "normal"
    intent: str | None = None  # None: derived from policy.high_intent_sources
    category: str = "inquiry"
    customer_status: str = "new"
    consent: str = "granted"
    account_id: str | None = None
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class LeadUpdated:
    """Only the fields that were present in the event are not None."""

    event_id: str
    lead_id: str
    occurred_at: Instant
    priority: str | None = None
    intent: str | None = None
    category: str | None = None
    customer_status: str | None = None
    consent: str | None = None


@dataclass(frozen=True, slots=True)
class OwnerAssigned:
    event_id: str
    lead_id: str
    occurred_at: Instant
    owner_id: str
    owner_kind: str = "person"  # "person" | "queue"
    backup_owner_id: str | None = None
    manager_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActivityLogged:
    event_id: str
    lead_id: str
    occurred_at: Instant
    actor_id: str
    actor_kind: str  # "person" | "automation"
    kind: str
    direction: str = "outbound"  # "outbound" | "inbound" | "internal"
    next_step: str | None = None
    auto_submitted: bool = False
    sequence_id: str | None = None


@dataclass(frozen=True, slots=True)
class StatusChanged:
    event_id: str
    lead_id: str
    occurred_at: Instant
    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class BreachResolved:
    event_id: str
    lead_id: str
    occurred_at: Instant
    resolved_by: str
    resolution_note: str
    reason_code: str | None = None


InputEvent = LeadCreated | LeadUpdated | OwnerAssigned | ActivityLogged | StatusChanged | BreachResolved

# Rule 13: inputs at the same instant apply in this order (then by event_id).
TYPE_RANK: dict[type, int] = {
    LeadCreated: 0,
    OwnerAssigned: 1,
    LeadUpdated: 2,
    ActivityLogged: 3,
    StatusChanged: 4,
    BreachResolved: 5,
}

TYPE_NAME: dict[type, str] = {
    LeadCreated: "lead.created",
    OwnerAssigned: "lead.owner_assigned",
    LeadUpdated: "lead.updated",
    ActivityLogged: "lead.activity_logged",
    StatusChanged: "lead.status_changed",
    BreachResolved: "lead.breach_resolved",
}
