"""Live reconciliation: what the worker publishes when a lead's inputs or the clock move.

The live worker keeps, per lead, the inputs it accepted and what it already published. Each
step re-evaluates the lead with the pure engine and compares: outputs not yet published are
published; alerts and tasks published earlier that the new evaluation no longer contains are
retracted with ``sla.alert_retracted`` (reason ``late_activity``, rule 14); the fact is re-emitted
with the next version when it changed. Because every decision comes from ``engine.evaluate``, the
final facts and the standing (neither retracted nor suppressed) alerts and tasks equal the
replay's (SPEC.md section 8).

Two clocks reach a step, both passed in (the domain never reads one):

- ``now``: how far the lead's timers may run. The worker passes the wall clock, held back by the
  backlog guard (rule 14) while the lead's partition still has unread input.
- ``wall``: the wall clock itself, for the live-only rules that are about the moment a transition
  is computed: ``alert_horizon_minutes`` suppression (an alert whose logical time is older than
  the horizon when first computed is published with ``suppressed = true``: measured, not
  alerted), ``max_future_minutes`` (rule 16: an input stamped further ahead is refused), the
  bounded wait of rule 13's held events, and the retention of decided leads.

Rule 17 (a policy change re-decides open leads only) is here too: a lead remembers the policy
``version`` it was decided under; see :func:`policy_for`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from .engine import (
    ALERT_TYPES,
    GAP,
    MEASURED,
    RETRACTED,
    REVIEW,
    TASK_TYPES,
    TIMER_STARTED,
    TIMER_UPDATED,
    WARNING,
    Output,
    Rejection,
    evaluate,
)
from .events import InputEvent, LeadCreated
from .instant import MINUTE, SECOND, Instant, format_utc
from .outputs import ALERT_RECORDS, TIME_FIELDS, Fact, Retraction
from .policy import Policy
from .vocabulary import RetractableType

EventIdOf = Callable[[str, Output], str]
"""How the codec names an output (content-derived); injected so the domain stays pure."""

_ALERTS_AND_TASKS = ALERT_TYPES | TASK_TYPES
_DECIDED = frozenset({"met", "breached", "excluded"})
DAY = 24 * 60 * MINUTE
_SAID_ONCE = frozenset({TIMER_STARTED, TIMER_UPDATED, WARNING, REVIEW, GAP})
"""What a lead that changes policy (rule 17) has already been told, whatever its new targets."""


def _warned(state: LiveLead) -> bool:
    return state.fact is not None and state.fact.pre_breach_warned


@dataclass(frozen=True, slots=True)
class LiveConfig:
    """The live worker's own bounds (settings, not policy)."""

    held_timeout: Instant = 300 * SECOND
    """Rule 13: how long (wall clock) events wait for their lead's ``lead.created``."""
    retention: Instant = 90 * DAY
    """A decided lead with no timer left is retired this long after its last input."""


DEFAULT_CONFIG = LiveConfig()


def _digest(output: Output) -> str:
    """A short content digest of an output, ``suppressed`` left out (never published twice).

    The digests are stored (``LiveLead.published``), so their text is fixed: the ``repr`` of
    ``(type, occurred_at, [(field, value), ...])`` with the data's fields in record order,
    instants as UTC text, and ``display_name`` only when the policy shares contact details.

    Every step of a lead re-evaluates it and digests all its outputs again, most of them equal
    to the last step's: recent digests are kept by output and the types of its data's values
    (equal outputs of the same types have the same text; ``60 == 60.0``, but not their text).
    """
    key = (output, tuple(map(type, output.data)))
    try:
        known = _DIGESTS.get(key)
    except TypeError:  # an unhashable value in the data: digested every time
        return _digest_text(output)
    if known is None:
        if len(_DIGESTS) >= _DIGEST_LIMIT:
            _DIGESTS.clear()
        known = _DIGESTS[key] = _digest_text(output)
    return known


def _digest_text(output: Output) -> str:
    """The digest of ``repr((type, occurred_at, [(field, value), ...]))`` (see :func:`_digest`),
    that text written piece by piece: no pairs and no tuples are made to be printed."""
    data = output.data
    shares = _shares_contact(data)
    parts: list[str] = []
    values: tuple[object, ...] = data  # not the union of the records' field types: see
    # leadsla.codec.outputs._data_json (a build narrowed ``isinstance(value, int)`` to bool)
    for name, value in zip(data._fields, values, strict=True):
        if name == "contact_details" or (name == "display_name" and not shares):
            continue
        if name in TIME_FIELDS and isinstance(value, int):
            text = _TEXT.get(value)
            if text is None:
                if len(_TEXT) >= _TEXT_LIMIT:
                    _TEXT.clear()
                text = _TEXT[value] = format_utc(value)
            value = text
        prefix = _PAIR.get(name)
        if prefix is None:
            prefix = _PAIR[name] = "(" + repr(name) + ", "
        parts.append(prefix + repr(value) + ")")
    text = "(" + repr(output.type) + ", " + repr(output.occurred_at) + ", [" + ", ".join(parts)
    return hashlib.blake2b((text + "])").encode(), digest_size=12).hexdigest()


_PAIR: dict[str, str] = {}  # field name -> "('name', "
_DIGESTS: dict[tuple[Output, tuple[type, ...]], str] = {}  # recent outputs' digests
_DIGEST_LIMIT = 1 << 14
_TEXT: dict[Instant, str] = {}  # recent instants' UTC text: a lead's steps repeat them
_TEXT_LIMIT = 1 << 14


def _shares_contact(data: object) -> bool:
    return isinstance(data, ALERT_RECORDS) and data.contact_details


def event_key(event: InputEvent) -> str:
    """An input's identity with its content: a repeat has the same key, a conflict another."""
    return (
        event.event_id + "\x1f" + hashlib.blake2b(repr(event).encode(), digest_size=8).hexdigest()
    )


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """Where an event that waits for its lead came from, so its dead letter carries it."""

    event_id: str
    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True, slots=True)
class LiveLead:
    """What the worker keeps for one lead (stored in its changelog-backed table)."""

    lead_id: str
    events: tuple[InputEvent, ...] = ()
    published: frozenset[str] = frozenset()
    """Content digests of every non-fact output already published (never published twice)."""
    standing: tuple[Output, ...] = ()
    """Alerts and tasks published, not suppressed and not yet retracted."""
    fact: Fact | None = None
    """The last fact published (its ``version`` is ``version``)."""
    version: int = 0
    dead_lettered: frozenset[str] = frozenset()
    """``event_key``s of inputs already sent to the dead-letter topic."""
    next_due: Instant | None = None
    """The engine's next timer instant (on the guarded clock)."""
    policy_version: str | None = None
    """The policy the lead was last evaluated under (rule 17)."""
    held_since: Instant | None = None
    """Wall clock when the first event waiting for ``lead.created`` arrived (rule 13)."""
    held_records: tuple[HeldRecord, ...] = ()
    last_input_at: Instant | None = None
    """Wall clock of the last accepted input (retention)."""
    retired: bool = False
    """Decided long ago and no longer kept: only the final fact remains."""
    legacy: tuple[Output, ...] = ()
    """Alerts and tasks published under an earlier policy that the current one would not
    raise (rule 17): they stand, and are retracted only if late input makes them untrue under
    ``legacy_policy``."""
    legacy_policy: str | None = None

    @property
    def event_ids(self) -> frozenset[str]:
        return frozenset(e.event_id for e in self.events)

    @property
    def created(self) -> bool:
        return any(type(e) is LeadCreated for e in self.events)

    @property
    def decided(self) -> bool:
        return self.fact is not None and self.fact.status in _DECIDED

    def wake(self, config: LiveConfig = DEFAULT_CONFIG) -> Instant | None:
        """The next instant this lead needs the clock: a timer, the held wait, or retirement."""
        if self.retired:
            return None
        if self.next_due is not None:
            return self.next_due
        if self.held_since is not None and not self.created:
            return self.held_since + config.held_timeout
        if self.decided and self.last_input_at is not None:
            return self.last_input_at + config.retention
        if self.forgettable:
            return cast(Instant, self.last_input_at) + config.retention
        return None

    @property
    def empty(self) -> bool:
        """Nothing worth storing (a new lead whose inputs were all refused, or one forgotten)."""
        return (
            not self.events
            and self.fact is None
            and not self.dead_lettered
            and not self.held_records
            and self.held_since is None
            and not self.retired
            and not self.legacy
        )

    @property
    def forgettable(self) -> bool:
        """Nothing left but the memory of dead letters (held inputs whose lead never came):
        forgotten a retention period after the last input (see :func:`step`)."""
        return (
            not self.events
            and self.fact is None
            and not self.retired
            and self.held_since is None
            and self.last_input_at is not None
        )


@dataclass(frozen=True, slots=True)
class Step:
    state: LiveLead
    outputs: list[Output] = field(default_factory=list)
    """To publish, in order: new outputs, retractions, then the fact if it changed."""
    dead_letters: list[Rejection] = field(default_factory=list)
    duplicate: bool = False
    """Every input given was a repeat (rule 15)."""
    duplicates: int = 0
    held: bool = False
    """The input waits for its lead's ``lead.created`` (the caller records where it came from)."""
    held_events: tuple[InputEvent, ...] = ()
    """Which inputs wait (with :func:`step_many`, possibly several)."""


def policy_for(state: LiveLead, current: Policy, known: Mapping[str, Policy]) -> Policy:
    """Rule 17: a decided lead keeps the policy it was decided under; an open one takes the new.

    ``known`` maps the versions of earlier policies the worker has seen to the policies. A
    decided lead whose policy is not known any more is evaluated under ``current`` with its
    published outputs kept (see :func:`step`'s ``keep_published``).
    """
    version = state.policy_version
    if version is None or version == current.version or not state.decided:
        return current
    return known.get(version, current)


def step(
    state: LiveLead,
    event: InputEvent | None,
    now: Instant,
    policy: Policy,
    event_id_of: EventIdOf,
    *,
    wall: Instant | None = None,
    config: LiveConfig = DEFAULT_CONFIG,
    known: Mapping[str, Policy] | None = None,
) -> Step:
    """Apply one input (or none: the clock moved) and say what to publish (rules 13-17)."""
    return step_many(
        state,
        () if event is None else (event,),
        now,
        policy,
        event_id_of,
        wall=wall,
        config=config,
        known=known,
    )


def step_many(
    state: LiveLead,
    events: Sequence[InputEvent],
    now: Instant,
    policy: Policy,
    event_id_of: EventIdOf,
    *,
    wall: Instant | None = None,
    config: LiveConfig = DEFAULT_CONFIG,
    known: Mapping[str, Policy] | None = None,
) -> Step:
    """Apply several inputs of one lead at once (a batch), then evaluate it once.

    The same as applying them one by one and publishing only what stands at the end: an alert
    that one input of the batch would raise and a later one would retract is never published.
    ``known`` maps earlier policy versions to their policies (rule 17, :func:`policy_for`).
    """
    wall = now if wall is None else wall
    if state.decided and state.policy_version not in (None, policy.version):
        # Rule 17: decided under a policy this worker does not know any more (policy_for
        # found none): the decision and everything published stand, nothing is re-decided.
        if not events:
            return Step(state=replace(state, next_due=None))
        reason = (
            f"lead {state.lead_id} was decided under policy {state.policy_version!r}, which "
            "this worker does not know any more; its decision stands (rule 17)"
        )
        return Step(state=state, dead_letters=[Rejection(e, reason) for e in events])
    if state.retired:
        if not events:
            return Step(state=state)
        reason = (
            f"lead {state.lead_id} was retired: decided and without input for "
            f"{config.retention // DAY} days; its final fact stands"
        )
        return Step(state=state, dead_letters=[Rejection(e, reason) for e in events])
    refused: list[Rejection] = []
    accepted: list[InputEvent] = []
    repeats = 0
    limit = policy.max_future_minutes * MINUTE
    for candidate in events:
        if candidate in state.events or candidate in accepted:
            repeats += 1  # rule 15: a repeat changes nothing
            continue
        if candidate.occurred_at - wall > limit:
            ahead = (candidate.occurred_at - wall) / MINUTE
            refused.append(
                Rejection(
                    candidate,
                    f"occurred_at is {ahead:.0f} minutes ahead of the worker's clock, more than "
                    f"max_future_minutes = {policy.max_future_minutes:g} (clock skew?)",
                )
            )
            continue
        accepted.append(candidate)
    if events and not accepted:
        return Step(
            state=state,
            dead_letters=refused,
            duplicate=repeats == len(events),
            duplicates=repeats,
        )
    event = accepted[-1] if accepted else None

    # Rule 17: a lead evaluated under another policy version.
    switching = (
        state.policy_version is not None
        and state.policy_version != policy.version
        and state.fact is not None
    )

    events = (*state.events, *accepted)
    held_since = state.held_since
    held_records = state.held_records
    expired: list[Rejection] = []
    created = any(type(e) is LeadCreated for e in events)
    if (
        not created
        and events
        and held_since is not None
        and wall >= held_since + config.held_timeout
    ):
        # Rule 13: the lead never appeared within the bounded wait.
        waited = config.held_timeout / SECOND
        for e in events:
            expired.append(
                Rejection(
                    e,
                    f"held {waited:g} s waiting for lead.created of lead {state.lead_id}, "
                    "which never arrived",
                )
            )
        events = ()
        held_since = None
    # An input stamped after the clock (a source clock ahead of ours, or the backlog guard
    # holding the clock back) waits, as replay's events after --now do: applied now, it would
    # hide the timers due before it. The lead wakes at its instant.
    ready = [e for e in events if e.occurred_at <= now]
    later = min((e.occurred_at for e in events if e.occurred_at > now), default=None)
    applied = ready if later is not None else events
    result = evaluate(state.lead_id, applied, now, policy)
    next_due = result.next_due
    if later is not None and (next_due is None or later < next_due):
        next_due = later
    horizon = wall - round(policy.alert_horizon_minutes * MINUTE)

    fresh: list[Output] = []
    published = set(state.published)
    current: set[str] = set()
    standing = list(state.standing)
    for output in result.outputs:
        if output.type == MEASURED:
            continue
        key = _digest(output)
        current.add(key)
        if key in published:
            continue
        published.add(key)
        if switching and output.occurred_at <= now and output.type in _SAID_ONCE:
            # Rule 17: the lead was already announced under the old policy; its new targets go
            # out as one sla.timer_updated now, and a warning already sent is not sent again.
            if output.type == TIMER_STARTED:
                fresh.append(Output(TIMER_UPDATED, max(now, output.occurred_at), output.data))
                published.add(_digest(fresh[-1]))
            if output.type != WARNING or _warned(state):
                continue
        if output.type in _ALERTS_AND_TASKS:
            if output.occurred_at < horizon:
                output = Output(output.type, output.occurred_at, output.data, True)
            else:
                standing.append(output)
        fresh.append(output)

    at = event.occurred_at if event is not None else now

    def retraction(output: Output) -> Output:
        alert = output.data
        assert isinstance(alert, ALERT_RECORDS)  # what stands: alerts and tasks only
        data = Retraction(
            alert.source,
            alert.priority,
            alert.created_at,
            alert.owner_id,
            alert.due_at,
            event_id_of(state.lead_id, output),
            cast(RetractableType, output.type),  # an alert or task type, as the data says
            "late_activity",
        )
        return Output(RETRACTED, max(at, output.occurred_at), data)

    retractions: list[Output] = []
    still_standing: list[Output] = []
    legacy = list(state.legacy)
    legacy_policy = state.legacy_policy
    for output in standing:
        if _digest(output) in current:
            still_standing.append(output)
            continue
        if switching:
            # Rule 17: a policy change never retracts what was published. It stands as it was
            # said under the old policy, and is retracted only if late input makes it untrue
            # under that policy (rule 14).
            legacy.append(output)
            legacy_policy = state.policy_version
            continue
        published.discard(_digest(output))  # should it become true again, it is published again
        retractions.append(retraction(output))
    old_policy = None if legacy_policy is None or known is None else known.get(legacy_policy)
    if state.legacy and accepted and old_policy is not None:
        under_old = {_digest(o) for o in evaluate(state.lead_id, applied, now, old_policy).outputs}
        kept = []
        for output in legacy:
            if output in state.legacy and _digest(output) not in under_old:
                retractions.append(retraction(output))
            else:
                kept.append(output)
        legacy = kept

    outputs = fresh + retractions
    version = state.version
    fact = state.fact
    if result.fact is not None:
        # Compared without the engine's version; _with_version is Fact._replace, cheaper.
        new_fact = _with_version(result.fact, version)
        if new_fact != fact:
            version += 1
            fact = _with_version(new_fact, version)
            at = _fact_instant(result.outputs, now)
            outputs.append(Output(MEASURED, at, fact))

    lettered = state.dead_lettered
    dead = [r for r in (*expired, *result.rejected) if event_key(r.event) not in lettered]
    dead.extend(refused)
    held = event is not None and not created
    if held and held_since is None and not expired:
        held_since = wall
    if created:
        held_since = None
        held_records = ()
    elif expired:
        held_records = ()
    last_input = wall if event is not None and not expired else state.last_input_at
    new_state = LiveLead(  # every field (dataclasses.replace is slow Python)
        lead_id=state.lead_id,
        events=events,
        published=frozenset(published),
        standing=tuple(still_standing),
        fact=fact,
        version=version,
        dead_lettered=lettered | {event_key(r.event) for r in dead},
        next_due=next_due,
        policy_version=policy.version,
        held_since=held_since,
        held_records=held_records,
        last_input_at=last_input,
        retired=state.retired,
        legacy=tuple(legacy),
        legacy_policy=legacy_policy if legacy else None,
    )
    if (
        event is None
        and not expired
        and new_state.forgettable
        and wall >= cast(Instant, new_state.last_input_at) + config.retention
    ):
        # Only dead letters were left (rule 13's held inputs, their lead never came): nothing
        # to keep. The empty state is deleted by the worker; a later lead.created starts anew.
        new_state = LiveLead(lead_id=state.lead_id)
    elif event is None and not expired and _retire_due(new_state, wall, config):
        new_state = LiveLead(
            lead_id=state.lead_id,
            fact=fact,
            version=version,
            policy_version=policy.version,
            last_input_at=state.last_input_at,
            retired=True,
        )
    return Step(
        state=new_state,
        outputs=outputs,
        dead_letters=dead,
        duplicates=repeats,
        held=held and not expired,
        held_events=tuple(accepted) if held and not expired else (),
    )


def _retire_due(state: LiveLead, wall: Instant, config: LiveConfig) -> bool:
    return (
        state.decided
        and state.next_due is None
        and state.last_input_at is not None
        and wall >= state.last_input_at + config.retention
    )


def _with_version(fact: Fact, version: int) -> Fact:
    assert Fact._fields[-1] == "version"
    new: Fact = tuple.__new__(Fact, (*fact[:-1], version))
    return new


def _fact_instant(outputs: list[Output], now: Instant) -> Instant:
    for output in reversed(outputs):
        if output.type == MEASURED:
            return output.occurred_at
    return now
