"""Live reconciliation: what the worker publishes when a lead's inputs or the clock move.

The live worker keeps, per lead, the inputs it accepted and what it already published. Each
step re-evaluates the lead with the pure engine and compares: outputs not yet published are
published; alerts and tasks published earlier that the new evaluation no longer contains are
retracted with ``sla.alert_retracted`` (reason ``late_activity``, rule 14); the fact is re-emitted
with the next version when it changed. Because every decision comes from ``engine.evaluate``, the
final facts and the standing (neither retracted nor suppressed) alerts and tasks equal the
replay's (SPEC.md section 8).

Live-only rule: a transition whose logical time is older than ``alert_horizon_minutes`` when it is
first computed (a backfill, a first start over a topic's history) is published with
``suppressed = true``: measured, not alerted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .engine import ALERT_TYPES, MEASURED, RETRACTED, TASK_TYPES, Output, Rejection, evaluate
from .events import InputEvent
from .instant import MINUTE, Instant
from .policy import Policy

EventIdOf = Callable[[str, Output], str]
"""How the codec names an output (content-derived); injected so the domain stays pure."""

_ALERTS_AND_TASKS = ALERT_TYPES | TASK_TYPES
_COMMON = ("source", "priority", "created_at", "owner_id", "due_at")


def _key(output: Output) -> tuple[object, ...]:
    data = output.data
    return (
        output.type,
        output.occurred_at,
        tuple((k, v) for k, v in data.items() if k != "suppressed"),
    )


@dataclass(frozen=True, slots=True)
class LiveLead:
    """What the worker keeps for one lead (stored in its changelog-backed table)."""

    lead_id: str
    events: tuple[InputEvent, ...] = ()
    published: frozenset[tuple[object, ...]] = frozenset()
    """Content keys of every non-fact output already published (never published twice)."""
    standing: tuple[Output, ...] = ()
    """Alerts and tasks published, not suppressed and not yet retracted."""
    fact: dict[str, object] | None = None
    version: int = 0
    dead_lettered: frozenset[str] = frozenset()
    next_due: Instant | None = None

    @property
    def event_ids(self) -> frozenset[str]:
        return frozenset(e.event_id for e in self.events)


@dataclass(frozen=True, slots=True)
class Step:
    state: LiveLead
    outputs: list[Output] = field(default_factory=list)
    """To publish, in order: new outputs, retractions, then the fact if it changed."""
    dead_letters: list[Rejection] = field(default_factory=list)
    duplicate: bool = False


def step(
    state: LiveLead,
    event: InputEvent | None,
    now: Instant,
    policy: Policy,
    event_id_of: EventIdOf,
) -> Step:
    """Apply one input (or none: the clock moved) and say what to publish (rules 14, 15)."""
    if event is not None and any(e.event_id == event.event_id for e in state.events):
        return Step(state=state, duplicate=True)  # rule 15
    events = state.events if event is None else (*state.events, event)
    result = evaluate(state.lead_id, events, now, policy)
    horizon = now - round(policy.alert_horizon_minutes * MINUTE)

    fresh: list[Output] = []
    published = set(state.published)
    current_keys: set[tuple[object, ...]] = set()
    standing = list(state.standing)
    for output in result.outputs:
        if output.type == MEASURED:
            continue
        key = _key(output)
        current_keys.add(key)
        if key in published:
            continue
        published.add(key)
        if output.type in _ALERTS_AND_TASKS:
            if output.occurred_at < horizon:
                output = output._replace(data={**output.data, "suppressed": True})
            else:
                standing.append(output)
        fresh.append(output)

    retractions: list[Output] = []
    still_standing: list[Output] = []
    for output in standing:
        key = _key(output)
        if key in current_keys:
            still_standing.append(output)
            continue
        published.discard(key)  # should it become true again, it is published again
        at = event.occurred_at if event is not None else now
        data: dict[str, object] = {k: output.data.get(k) for k in _COMMON}
        data["retracted_event_id"] = event_id_of(state.lead_id, output)
        data["retracted_type"] = output.type
        data["reason"] = "late_activity"
        data["suppressed"] = False
        retractions.append(Output(RETRACTED, max(at, output.occurred_at), data))

    outputs = fresh + retractions
    version = state.version
    fact = state.fact
    if result.fact is not None:
        new_fact = {k: v for k, v in result.fact.items() if k != "version"}
        if new_fact != fact:
            version += 1
            fact = new_fact
            at = _fact_instant(result.outputs, now)
            outputs.append(Output(MEASURED, at, {**new_fact, "version": version}))

    known = state.dead_lettered
    dead = [r for r in result.rejected if r.event.event_id not in known]
    new_state = replace(
        state,
        events=events,
        published=frozenset(published),
        standing=tuple(still_standing),
        fact=fact,
        version=version,
        dead_lettered=known | {r.event.event_id for r in dead},
        next_due=result.next_due,
    )
    return Step(state=new_state, outputs=outputs, dead_letters=dead)


def _fact_instant(outputs: list[Output], now: Instant) -> Instant:
    for output in reversed(outputs):
        if output.type == MEASURED:
            return output.occurred_at
    return now
