"""The worker's per-message work: one input record in, the records to publish out.

Every agent body in ``app.py`` is: build an ``Origin`` from the Kafka record, call one function
here, send what it returns. That function knows nothing of Kafka or faust, so it is testable
without a broker, and the engine can replace its body without touching the app.

WALKING SKELETON (issue #2): ``process_created`` evaluates a ``lead.created`` alone, at its own
instant, with the pure engine, and publishes what the engine says (``sla.timer_started``, the first
``sla.measured`` fact, an exclusion or a review request). It keeps no state yet: the stateful
worker (a changelog-backed table of ``domain.live.LiveLead``, deadline index, every input topic)
is the next step, and the signature, the codec calls and the dead-letter path stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from leadsla.codec import InvalidEvent, decode_input, encode_dlq, encode_output
from leadsla.domain.engine import evaluate
from leadsla.domain.events import LeadCreated
from leadsla.domain.instant import Instant
from leadsla.domain.policy import Policy
from leadsla.schemas.outputs import topics_for
from leadsla.topics import SLA_DLQ

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
    """A ``leads.created`` record -> the engine's outputs at its instant, or one dead letter.

    Every decision is the engine's (``domain.engine.evaluate``); this function only decodes,
    calls it and encodes, so the worker and the replay cannot disagree about a timer.
    """
    try:
        event = decode_input(value, origin.headers or None, origin.key)
    except InvalidEvent as exc:
        return [dead_letter(value, exc.reason, origin, exc.event_id, exc.lead_id)]
    if not isinstance(event, LeadCreated):
        return []  # SKELETON: the stateful worker handles every type on every topic.
    result = evaluate(event.lead_id, [event], event.occurred_at, policy)
    key = event.lead_id.encode()
    records: list[Output] = []
    for output in result.outputs:
        record = encode_output(event.lead_id, output.type, output.occurred_at, output.data)
        records.extend((topic, key, record) for topic in topics_for(output.type, output.data))
    return records


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
