"""The worker's per-message work: one input record in, the records to publish out.

Every agent body in ``app.py`` is: build an ``Origin`` from the Kafka record, call one function
here, send what it returns. That function knows nothing of Kafka or faust, so it is testable
without a broker, and the engine can replace its body without touching the app.

WALKING SKELETON (issue #2): ``process_created`` below computes the ``sla.timer_started`` of a
``lead.created`` itself. It exists to prove the path topic -> faust agent -> topic through a
real broker. The SLA engine (``leadsla.domain``) replaces its body; the signature, the codec
calls and the dead-letter path can stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from leadsla.domain.events import LeadCreated
from leadsla.domain.instant import MINUTE, Instant, format_utc
from leadsla.domain.policy import Policy

from leadsla.codec import InvalidEvent, decode_input, encode_dlq, encode_output

from .topics import SLA_DLQ, SLA_MEASUREMENTS

Output = tuple[str, bytes, bytes]
"""(topic name without the prefix, key, value) of one record to publish."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where and when an input record was read: what a dead letter must carry."""

    topic: str
    partition: int
    offset: int
    received_at: Instant  # wall clock when the worker read it (the dead letter's received_at)
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=tuple)


def process_created(value: bytes, policy: Policy, *, origin: Origin) -> list[Output]:
    """A ``leads.created`` record -> its ``sla.timer_started``, or one dead letter (rule 16).

    SKELETON STEP, to be replaced by the engine call: no state, no exclusions (rule 9), no
    owner; other valid event types produce nothing yet.
    """
    try:
        event = decode_input(value, origin.headers or None, origin.key)
    except InvalidEvent as exc:
        return [dead_letter(value, exc.reason, origin, exc.event_id, exc.lead_id)]
    if not isinstance(event, LeadCreated):
        return []  # SKELETON: the engine handles every type on every topic.

    minutes = policy.target_minutes(event.source, event.priority)
    window = round(minutes * MINUTE)
    warn_offset = round(policy.warn_at * window)
    if policy.clock == "business" and policy.calendar is not None:
        due_at = policy.calendar.add(event.occurred_at, window)
        warn_at = policy.calendar.add(event.occurred_at, warn_offset)
    else:
        due_at = event.occurred_at + window
        warn_at = event.occurred_at + warn_offset
    data = {
        "owner_id": None,
        "backup_owner_id": None,
        "manager_id": policy.default_manager,
        "due_at": format_utc(due_at),
        "warn_at": format_utc(warn_at),
        "target_minutes": minutes,
        "clock": policy.clock,
        "source": event.source,
        "priority": event.priority,
    }
    value_out = encode_output(event.lead_id, "sla.timer_started", event.occurred_at, data)
    return [(SLA_MEASUREMENTS, event.lead_id.encode(), value_out)]


def dead_letter(
    value: bytes | None,
    reason: str,
    origin: Origin,
    event_id: str | None = None,
    lead_id: str | None = None,
) -> Output:
    """The ``sla.dlq`` record: original bytes (base64), topic, partition, offset, reason.

    Keyed by the original key, so the letters of one lead stay in one partition.
    """
    record = encode_dlq(
        value,
        topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        reason=reason,
        received_at=origin.received_at,
        key=origin.key,
        headers=list(origin.headers),
        event_id=event_id,
        lead_id=lead_id,
    )
    return (SLA_DLQ, origin.key or b"", record)
