"""The worker's per-record work, without Kafka: one input record or tick in, records out.

Every agent body in ``app.py`` is: read a batch, call :class:`LeadProcessor` for each record
with the lead's stored state, publish what it returns, store the new states. The processor
knows nothing of Kafka or faust (it is driven by plain values in the component tests); every
SLA decision is the engine's, reached through ``domain.live.step``. What is decided here is only
the Kafka contract: a record that cannot be decoded, or whose key is not its ``lead_id`` (the
input topics are co-partitioned by that key), becomes a dead letter.

Nothing raised while handling a record may lose it: any exception becomes a dead letter with the
reason, and the lead's state is left as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from leadsla.codec import (
    InvalidEvent,
    decode_input,
    dlq_key,
    encode_dlq,
    encode_input,
    encode_output_record,
    event_id_of,
)
from leadsla.domain.engine import ALERT_TYPES, MEASURED, RETRACTED, TASK_TYPES, Output
from leadsla.domain.events import TYPE_NAME, InputEvent
from leadsla.domain.instant import Instant, format_utc
from leadsla.domain.live import (
    DEFAULT_CONFIG,
    HeldRecord,
    LiveConfig,
    LiveLead,
    Step,
    policy_for,
    step_many,
)
from leadsla.domain.outputs import Retraction
from leadsla.domain.policy import Policy
from leadsla.schemas.outputs import topics_for
from leadsla.topics import SLA_DLQ

log = logging.getLogger("leadsla.worker")

Headers = list[tuple[str, bytes]]
_ALERTS_AND_TASKS = ALERT_TYPES | TASK_TYPES
CE_SPECVERSION = b"1.0"
CONTENT_TYPE = b"application/json"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where and when an input record was read: what a dead letter must carry."""

    topic: str
    partition: int
    offset: int
    received_at: Instant  # wall clock when the worker read it (the dead letter's received_at)
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes | None]] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to publish: topic (without the prefix), key, value, headers."""

    topic: str
    key: bytes
    value: bytes | None
    """None: a tombstone (an erased lead's fact)."""
    headers: Headers
    type: str
    due: Instant | None = None
    """For an alert or task that is not suppressed: its logical instant (alert delay metric)."""


@dataclass(slots=True)
class Counts:
    """What one batch did, for the metrics (``metrics.py`` turns it into series)."""

    inputs: dict[str, int] = field(default_factory=dict)
    """By input event type (``invalid`` for undecodable records)."""
    dead_letters: dict[str, int] = field(default_factory=dict)
    """By reason kind (``invalid``, ``key``, ``engine``, ``future``, ``held``, ...)."""
    duplicates: int = 0
    suppressed: int = 0
    retractions: int = 0


@dataclass(frozen=True, slots=True)
class Accepted:
    """An input that decoded and is keyed by its lead: ready for the engine."""

    event: InputEvent
    origin: Origin
    value: bytes | None


@dataclass(slots=True)
class Handled:
    lead_id: str | None
    state: LiveLead | None
    """The state to store (None: nothing to store)."""
    records: list[OutRecord]


class LeadProcessor:
    """Decode, step the lead, encode: the agent's work on one record or tick."""

    def __init__(
        self,
        policy: Policy,
        *,
        known_policies: Mapping[str, Policy] | None = None,
        config: LiveConfig = DEFAULT_CONFIG,
        source: str = "lead-sla",
    ) -> None:
        self.policy = policy
        self.known = dict(known_policies or {})
        self.config = config
        self.ce_source = source.encode()
        self.counts = Counts()
        self.step: Callable[..., Step] = step_many
        """``domain.live.step_many`` (an attribute: the tests make it raise)."""

    # ------------------------------------------------------------------ inputs

    def accept(
        self, value: bytes | None, origin: Origin
    ) -> tuple[Accepted | None, list[OutRecord]]:
        """Decode a record and check its key: the accepted input, or its dead letter."""
        try:
            event = decode_input(value, origin.headers or None, origin.key)
        except InvalidEvent as exc:
            self._count_input("invalid")
            return None, [self._dead(value, exc.reason, origin, exc.event_id, exc.lead_id)]
        except Exception as exc:  # the codec must not raise anything else; if it does, keep it
            self._count_input("invalid")
            return None, [self._dead(value, f"decoding failed: {exc!r}", origin, kind="failed")]
        self._count_input(TYPE_NAME[type(event)])
        lead_id = event.lead_id
        if origin.key is None or origin.key != lead_id.encode():
            shown = "null" if origin.key is None else repr(origin.key[:140])
            reason = (
                f"the record's Kafka key ({shown}) is not its lead_id {lead_id!r}: input topics "
                "are co-partitioned by lead_id, so every event must be keyed by it"
            )
            return None, [self._dead(value, reason, origin, event.event_id, lead_id, "key")]
        return Accepted(event, origin, value), []

    def advance(
        self,
        lead_id: str,
        inputs: Sequence[Accepted],
        state_of: Callable[[str], LiveLead | None],
        now: Instant,
        wall: Instant,
    ) -> Handled:
        """A lead's accepted inputs of one batch (none: a tick), applied and evaluated once.

        Should the engine raise, the inputs are tried one by one, so that only the one that
        makes it raise becomes a dead letter and the others are applied.
        """
        try:
            state = state_of(lead_id) or LiveLead(lead_id)
            return self._advance(state, inputs, now, wall)
        except Exception as exc:
            if not inputs:
                log.exception(
                    "lead-sla worker: the clock cannot advance lead %r",
                    lead_id,
                    extra={"lead_id": lead_id},
                )
                return Handled(lead_id, None, [])
            if len(inputs) > 1:
                return self._one_by_one(lead_id, inputs, state_of, now, wall)
            [single] = inputs
            reason = f"processing failed: {type(exc).__name__}: {exc}"
            event = single.event
            letter = self._dead(
                single.value, reason, single.origin, event.event_id, lead_id, "failed"
            )
            return Handled(lead_id, None, [letter])

    def _one_by_one(
        self,
        lead_id: str,
        inputs: Sequence[Accepted],
        state_of: Callable[[str], LiveLead | None],
        now: Instant,
        wall: Instant,
    ) -> Handled:
        latest: LiveLead | None = None
        records: list[OutRecord] = []

        def current(lead: str) -> LiveLead | None:
            return latest if latest is not None else state_of(lead)

        for item in inputs:
            handled = self.advance(lead_id, [item], current, now, wall)
            records.extend(handled.records)
            if handled.state is not None:
                latest = handled.state
        return Handled(lead_id, latest, records)

    def _advance(
        self, state: LiveLead, inputs: Sequence[Accepted], now: Instant, wall: Instant
    ) -> Handled:
        lead_id = state.lead_id
        policy = policy_for(state, self.policy, self.known)
        result = self.step(
            state,
            [item.event for item in inputs],
            now,
            policy,
            _event_id_of,
            wall=wall,
            config=self.config,
            known=self.known,
        )
        self.counts.duplicates += result.duplicates
        if inputs and result.duplicate:
            return Handled(lead_id, None, [])
        new_state = result.state
        if result.held_events:
            stored = list(new_state.held_records)
            for item in inputs:
                if any(item.event is e for e in result.held_events):
                    origin = item.origin
                    stored.append(
                        HeldRecord(
                            item.event.event_id,
                            origin.topic,
                            origin.partition,
                            origin.offset,
                            item.value or b"",
                        )
                    )
            new_state = replace(new_state, held_records=tuple(stored))
        records = self._records(lead_id, result, state, inputs, wall)
        return Handled(lead_id, new_state, records)

    def on_input(
        self,
        value: bytes | None,
        origin: Origin,
        state_of: Callable[[str], LiveLead | None],
        now: Instant,
        wall: Instant,
    ) -> Handled:
        """One input record: a dead letter, nothing (a repeat), or the lead's new outputs."""
        accepted, letters = self.accept(value, origin)
        if accepted is None:
            return Handled(None, None, letters)
        return self.advance(accepted.event.lead_id, [accepted], state_of, now, wall)

    # ------------------------------------------------------------------ the clock

    def on_tick(self, state: LiveLead, now: Instant, wall: Instant) -> Handled:
        """The clock reached a lead's wake instant (a tick): fire what is due."""
        return self.advance(state.lead_id, [], lambda _lead: state, now, wall)

    # ------------------------------------------------------------------ encoding

    def _records(
        self,
        lead_id: str,
        result: Step,
        before: LiveLead,
        inputs: Sequence[Accepted],
        wall: Instant,
    ) -> list[OutRecord]:
        key = lead_id.encode()
        records: list[OutRecord] = []
        counts = self.counts
        for output in result.outputs:
            records.extend(self._encode(lead_id, key, output))
            if output.type == RETRACTED:
                counts.retractions += 1
            elif output.suppressed:
                counts.suppressed += 1
        held = {h.event_id: h for h in before.held_records}
        fallback = inputs[-1].origin if inputs else Origin("", 0, 0, wall, key)
        for rejection in result.dead_letters:
            refused = rejection.event
            kind = _reason_kind(rejection.reason)
            stored = held.get(refused.event_id)
            mine = next((item for item in inputs if item.event == refused), None)
            if mine is not None:
                original, where, reason = mine.value, mine.origin, rejection.reason
            elif stored is not None:
                original = stored.value
                where = Origin(stored.topic, stored.partition, stored.offset, wall, key)
                reason = rejection.reason
            else:
                # An input accepted earlier and refused only now (the other version of a
                # conflicting duplicate): its bytes are re-encoded from the worker's state.
                original, where = encode_input(refused), fallback
                reason = rejection.reason + " (original re-encoded from the worker's state)"
            records.append(self._dead(original, reason, where, refused.event_id, lead_id, kind))
        return records

    def _encode(self, lead_id: str, key: bytes, output: Output) -> list[OutRecord]:
        event_id, value = encode_output_record(lead_id, output)
        headers: Headers = [
            ("ce_id", event_id.encode()),
            ("ce_type", output.type.encode()),
            ("ce_source", self.ce_source),
            ("ce_time", format_utc(output.occurred_at).encode()),
            ("ce_specversion", CE_SPECVERSION),
            ("content-type", CONTENT_TYPE),
        ]
        due = None
        if output.type in _ALERTS_AND_TASKS and not output.suppressed:
            due = output.occurred_at
        data = output.data
        retracted = {"retracted_type": data.retracted_type} if isinstance(data, Retraction) else {}
        return [
            OutRecord(topic, key, value, headers, output.type, due)
            for topic in topics_for(output.type, retracted)
        ]

    def _dead(
        self,
        value: bytes | None,
        reason: str,
        origin: Origin,
        event_id: str | None = None,
        lead_id: str | None = None,
        kind: str = "invalid",
    ) -> OutRecord:
        letters = self.counts.dead_letters
        letters[kind] = letters.get(kind, 0) + 1
        log.warning(
            "lead-sla worker: dead letter for %s/%d offset %d: %s",
            origin.topic,
            origin.partition,
            origin.offset,
            reason if len(reason) <= 500 else reason[:500] + "...",
            extra={"lead_id": lead_id, "event_id": event_id},
        )
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
        headers: Headers = [
            ("ce_id", f"{origin.topic}/{origin.partition}/{origin.offset}".encode()),
            ("ce_type", b"sla.dead_letter"),
            ("ce_source", self.ce_source),
            ("ce_time", format_utc(origin.received_at).encode()),
            ("ce_specversion", CE_SPECVERSION),
            ("content-type", CONTENT_TYPE),
        ]
        return OutRecord(SLA_DLQ, dlq_key(origin.key) or b"", record, headers, "dead_letter")

    def _count_input(self, type_: str) -> None:
        inputs = self.counts.inputs
        inputs[type_] = inputs.get(type_, 0) + 1


def _reason_kind(reason: str) -> str:
    if reason.startswith("held "):
        return "held"
    if "max_future_minutes" in reason:
        return "future"
    if "was retired" in reason:
        return "retired"
    if reason.startswith("conflicting_duplicate"):
        return "conflict"
    return "engine"


def _event_id_of(lead_id: str, output: Output) -> str:
    return event_id_of(lead_id, output)


__all__ = ["MEASURED", "Handled", "LeadProcessor", "Origin", "OutRecord"]
