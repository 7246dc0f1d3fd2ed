"""The SLA engine: every rule of SPEC.md section 4, as one pure fold over a lead's inputs.

``evaluate(lead_id, events, now, policy)`` takes every input event known for one lead, in any
order and with duplicates, and the clock position ``now``; it returns every output the lead has
produced up to ``now``, its latest measurement fact and the instant at which it next needs the
clock. It never reads a clock and does no I/O, so the replay (event time as the clock) and the
live worker (wall clock) get the same answers from the same inputs.

Why a fold from scratch rather than an incremental state machine: late data (rule 14) must be
applied at its own ``occurred_at``, which can change outputs already emitted. Re-deriving the
lead's history from its (small) event log makes late data, duplicates and delivery order unable to
change the outcome by construction; the live worker diffs two evaluations to find what to retract
(``live.py``). A lead has a handful of events, so the fold stays cheap.

Inside the fold a mutable working object is used for speed (this is the replay's hot path); it
never escapes ``evaluate``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, assert_never, cast, get_args

from . import vocabulary
from .events import (
    TYPE_NAME,
    TYPE_RANK,
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from .instant import MAX_INSTANT, MIN_INSTANT, SECOND, Instant, format_utc, in_range
from .outputs import (
    Breach,
    Escalation,
    Exclusion,
    Fact,
    Gap,
    Output,
    OutputData,
    PreBreachWarning,
    Response,
    Review,
    Stale,
    TaskClosed,
    Timer,
)
from .policy import Policy
from .vocabulary import (
    BREACHED,
    ESCALATION,
    EXCLUDED,
    GAP,
    MEASURED,
    RESPONSE,
    RETRACTED,
    REVIEW,
    STALE,
    TASK_CLOSED,
    TIMER_STARTED,
    TIMER_UPDATED,
    WARNING,
    AssigneeRole,
    BreachReason,
    Category,
    Consent,
    CustomerStatus,
    EscalationLevel,
    EscalationPhase,
    ExclusionReason,
    ExclusionRoute,
    FactStatus,
    Intent,
    LeadPhase,
    LeadStatus,
    LifecycleInput,
    OutputType,
    Priority,
    ReviewReason,
    TaskCloseReason,
    WarningPhase,
    WarningReason,
)

# The output types (SPEC.md section 5) are vocabulary's constants, re-exported here.
__all__ = [
    "ALERT_TYPES",
    "BREACHED",
    "ESCALATION",
    "EXCLUDED",
    "GAP",
    "MEASURED",
    "RESPONSE",
    "RETRACTED",
    "REVIEW",
    "STALE",
    "TASK_CLOSED",
    "TASK_TYPES",
    "TIMER_STARTED",
    "TIMER_UPDATED",
    "WARNING",
    "LeadResult",
    "Output",
    "Rejection",
    "canonical_json",
    "derived_id",
    "evaluate",
]
ALERT_TYPES: frozenset[str] = frozenset(vocabulary.ALERT_TYPES)
TASK_TYPES: frozenset[str] = frozenset(vocabulary.TASK_TYPES)

# Statuses that exclude a lead before a meaningful response (rule 9).
_EXCLUDING_STATUSES: frozenset[LeadStatus] = frozenset(
    {"disqualified", "duplicate", "spam", "opted_out", "consent_withdrawn"}
)
_UNHIDING_STATUSES: frozenset[str] = frozenset({"spam", "duplicate"})  # undo a breach (rule 9)
_AUTOMATED_KINDS = frozenset({"autoresponder", "acknowledgement"})
_MEETING_KINDS = frozenset({"meeting_booked", "conversation"})

# Timer kinds, in the order they fire when due at the same instant.
_WARN, _DEADLINE, _LEVEL2, _STALE = 0, 1, 2, 3


_new: Any = tuple.__new__
"""How the engine builds its records, ``_new(cls, items)``: ``tuple.__new__`` (``Output(...)``
and the others without their generated ``__new__``), or the same done in C
(:func:`use_record_builder`)."""


def use_record_builder(build: Callable[[Any, tuple[object, ...]], Any]) -> None:
    """Build the engine's records with ``build(cls, items)`` instead of ``tuple.__new__``; it
    must give the very same record. ``leadsla.codec.outputs`` passes the C encoder's
    ``new_record`` when it is built (one allocation and no generic call: the engine builds
    several records per input event)."""
    global _new
    _new = build


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _built(cls: Callable[_P, _R]) -> Callable[_P, _R]:
    """``cls(...)`` for a record class, called positionally, without its generated
    ``__new__`` (a Python function, interpreted even when this module is compiled): the fields
    go straight into the tuple. mypy checks every call against the class's fields."""

    record: Any = cls

    def build(*fields: object) -> object:
        return _new(record, fields)

    return cast(Callable[_P, _R], build)


_Timer = _built(Timer)
_Response = _built(Response)
_Review = _built(Review)
_TaskClosed = _built(TaskClosed)
_Stale = _built(Stale)
_Gap = _built(Gap)
_PreBreachWarning = _built(PreBreachWarning)
_Breach = _built(Breach)
_Escalation = _built(Escalation)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An input the engine refuses (it goes to the dead-letter topic), with a readable reason."""

    event: InputEvent
    reason: str


@dataclass(slots=True)  # not frozen: mypyc then builds it natively (3 % of a fold, frozen)
class LeadResult:
    lead_id: str
    outputs: list[Output]
    """Every output up to ``now``, in transition order (facts included, versions 1..n)."""
    fact: Fact | None
    """The latest ``sla.measured`` data, or None while the lead has no ``lead.created``."""
    rejected: list[Rejection]
    held: list[InputEvent]
    """Events still waiting for their lead's ``lead.created`` (rule 13)."""
    duplicates: int
    next_due: Instant | None
    """The next instant after ``now`` at which this lead's outputs may change without input."""
    phase: LeadPhase
    """Where the lead's lifecycle stands at ``now`` (``TRANSITIONS``)."""


def evaluate(
    lead_id: str, events: Iterable[InputEvent], now: Instant, policy: Policy
) -> LeadResult:
    """Fold one lead's inputs (any order, duplicates allowed) up to ``now`` (rules 1-16).

    Never raises for any input the codec can build: what the rules refuse comes back in
    ``rejected`` with a readable reason.
    """
    unique: dict[str, InputEvent] = {}
    duplicates = 0
    versions: dict[str, dict[tuple[type, InputEvent], InputEvent]] | None = None
    for event in events:
        seen = unique.get(event.event_id)
        if seen is None:
            unique[event.event_id] = event
        elif seen == event and type(seen) is type(event):
            duplicates += 1  # rule 15: an identical repeat changes nothing
        else:
            # Rule 15: the same event_id with different content. Collect every distinct version
            # (first occurrence kept); which one stands is decided below, whatever the order.
            if versions is None:
                versions = {}
            known = versions.get(event.event_id)
            if known is None:
                known = versions[event.event_id] = {(type(seen), seen): seen}
            if (type(event), event) in known:
                duplicates += 1
            else:
                known[(type(event), event)] = event
    rejected: list[Rejection] = []
    if versions is not None:
        for event_id, distinct in versions.items():
            found = list(distinct.values())
            keyed = sorted((e.occurred_at, canonical_json(e), i) for i, e in enumerate(found))
            winner = found[keyed[0][2]]
            unique[event_id] = winner
            stands = format_utc(winner.occurred_at) if in_range(winner.occurred_at) else "?"
            for _at, _text, i in keyed[1:]:
                rejected.append(
                    Rejection(
                        found[i],
                        f"conflicting_duplicate: event_id {event_id!r} was read with other "
                        f"content; the version with the earliest occurred_at ({stands}) stands",
                    )
                )
    ordered = list(unique.values())
    if not _strictly_later(ordered):  # read in time order, as most histories are: nothing to sort
        ordered.sort(key=lambda e: (e.occurred_at, TYPE_RANK[type(e)], e.event_id))
    if ordered and (ordered[0].occurred_at < MIN_INSTANT or ordered[-1].occurred_at > MAX_INSTANT):
        kept: list[InputEvent] = []
        for event in ordered:
            if in_range(event.occurred_at):
                kept.append(event)
            else:
                rejected.append(Rejection(event, _OUT_OF_RANGE_INPUT))
        ordered = kept
    lead = _Lead(lead_id, policy, now)
    lead.rejected = rejected
    lead.run(ordered)
    return LeadResult(
        lead_id=lead_id,
        outputs=lead.outputs,
        fact=lead.last_fact,
        rejected=lead.rejected,
        held=lead.held,
        duplicates=duplicates,
        next_due=lead.next_due(),
        phase=lead.phase,
    )


_OUT_OF_RANGE_INPUT = "occurred_at is outside the years 1-9999 (in UTC)"


def _strictly_later(events: list[InputEvent]) -> bool:
    """Whether each event occurred after the one before it (then they are in the fold's order:
    the type and the event_id only break ties of occurred_at)."""
    return all(events[i].occurred_at > events[i - 1].occurred_at for i in range(1, len(events)))


def canonical_json(event: InputEvent) -> str:
    """Rule 15's tie-break between two versions of an event: the engine's view of the event
    (its type name and every field of the domain record, ``occurred_at`` in microseconds since
    the epoch, absent optional fields as null) as JSON with sorted keys and no whitespace."""
    fields: dict[str, object] = dict(zip(event._fields, event, strict=True))
    fields["type"] = TYPE_NAME[type(event)]
    return json.dumps(fields, sort_keys=True, separators=(",", ":"))


_Points = tuple[float, Instant, Instant, Instant, Instant]
"""(target minutes, warning point, deadline, level-2 point, stale point)."""


class _OutOfRange(Exception):
    """A derived point in time would leave the years 1-9999 (rule 16); never leaves the fold."""


def derived_id(lead_id: str, key: str) -> str:
    """A deterministic identifier for something a lead's transition created (tasks)."""
    return hashlib.blake2b(f"{lead_id}\x1f{key}".encode(), digest_size=12).hexdigest()


# ---------------------------------------------------------------------------- the lifecycle
#
# A lead's phase is one LeadPhase value (vocabulary.py documents each); it moves only along the
# rows of this table, (phase, input) -> phase. An input a phase has no row for changes nothing
# there (a status change of an answered lead, a second exclusion, `reopened` of a lead that was
# never closed); `_Lead` emits the outputs of each transition (`_Lead._exclude`,
# `_record_response`, `_fire_breach`, `_on_status`). The timers and tasks are the phase's
# sub-states: `_Lead.warning` (WarningPhase), `_Lead.escalation` (EscalationPhase), `_Lead.stale`,
# `_Lead.open_tasks`; the holds of rule 8 (`consent_hold`, `conflicts`) run across phases: a lead
# may be held while breached or after its answer.

TRANSITIONS: tuple[tuple[LeadPhase, LifecycleInput, LeadPhase], ...] = (
    # lead.created (rules 1, 9): the clock starts, or the lead goes to support without one
    ("pending", "create", "open"),
    ("pending", "support", "support"),
    # the first meaningful response (rule 3)
    ("open", "respond", "answered"),
    ("breached", "respond", "breached_answered"),
    ("breached_excluded", "respond", "breached_excluded_answered"),
    ("breached_closed", "respond", "breached_closed_answered"),
    # the deadline (rule 5): unanswered, or answered late while held
    ("open", "breach", "breached"),
    ("answered", "breach", "breached_answered"),
    # exclusions (rule 9): before a breach the lead is excluded; after it the breach stays
    # visible, unless spam or duplicate hide it
    ("open", "exclude", "excluded"),
    ("breached", "exclude", "breached_excluded"),
    ("open", "close", "closed"),
    ("breached", "close", "breached_closed"),
    ("open", "hide", "excluded"),
    ("breached", "hide", "breach_hidden"),
    ("breached_excluded", "hide", "breach_hidden"),
    ("breached_closed", "hide", "breach_hidden_closed"),
    ("open", "support", "support"),
    ("breached", "support", "breached_support"),
    # reopened (rule 9) undoes `closed` only, with the original clock
    ("closed", "reopen", "open"),
    ("breach_hidden_closed", "reopen", "breached"),
    ("breached_closed", "reopen", "breached"),
    ("breached_closed_answered", "reopen", "breached_answered"),
)


def _rows(lifecycle_input: LifecycleInput) -> dict[LeadPhase, LeadPhase]:
    return {a: b for a, via, b in TRANSITIONS if via == lifecycle_input}


NEXT_PHASE: dict[LifecycleInput, dict[LeadPhase, LeadPhase]] = {
    via: _rows(via) for via in vocabulary.LIFECYCLE_INPUTS
}
"""The transition table by input: ``NEXT_PHASE[input][phase]`` is the next phase."""
_CREATE = NEXT_PHASE["create"]
_RESPOND = NEXT_PHASE["respond"]
_BREACH = NEXT_PHASE["breach"]
_REOPEN = NEXT_PHASE["reopen"]

# What a phase means for the rules (each a set of phases, so none can disagree with the phase).
_ANSWERED: frozenset[LeadPhase] = frozenset(
    {"answered", "breached_answered", "breached_excluded_answered", "breached_closed_answered"}
)
_BREACHED: frozenset[LeadPhase] = frozenset(
    phase for phase in get_args(LeadPhase) if phase.startswith("breach")
)
"""Every phase after a breach (the vocabulary names each of them ``breach...``)."""
_EXCLUDED: frozenset[LeadPhase] = frozenset(
    {"excluded", "closed", "support", "breach_hidden", "breach_hidden_closed"}
)
"""The phases whose measured status is ``excluded``."""
_CLOCKED: frozenset[LeadPhase] = frozenset({"open", "answered", "breached", "breached_answered"})
"""The phases whose timers may still run (not excluded; a hold pauses them)."""


def exclusion_input(reason: ExclusionReason, route: ExclusionRoute | None) -> LifecycleInput:
    """Rule 9: which exclusion an excluding status, declined consent or the support route is."""
    if route == "support":
        return "support"
    if reason in _UNHIDING_STATUSES:
        return "hide"  # rule 9: spam and duplicate hide a breach; any other keeps it visible
    if reason == "closed":
        return "close"
    return "exclude"


class _Lead:
    """The working state of one lead during a fold. Never leaves ``evaluate``."""

    # Immutable defaults live on the class: a fold builds one _Lead per lead, and setting
    # sixty attributes per lead costs more than the rules themselves.
    phase: LeadPhase = "pending"  # the lifecycle (TRANSITIONS): one value, never a set of flags
    cursor: Instant = 0
    # lead attributes
    created_at: Instant = 0
    source: str = ""
    priority: Priority = "normal"
    intent: Intent = "normal"
    category: Category = "inquiry"
    customer_status: CustomerStatus = "new"
    consent: Consent = "granted"
    display_name: str | None = None
    shown_name: str | None = None  # display_name, when the policy shares contact details
    # ownership
    owner_id: str | None = None  # the current person owner (a queue is no owner)
    backup_id: str | None = None
    first_person_owner_at: Instant | None = None
    # the clock (its points; whether it runs is the phase)
    target_minutes: float = 0.0
    warn_pt: Instant = 0
    due_pt: Instant = 0
    level2_pt: Instant = 0
    stale_pt: Instant = 0
    # the timers' and tasks' sub-states
    warning: WarningPhase = "due"
    escalation: EscalationPhase = "none"
    stale: bool = False  # the stale-lead alert was sent (rule 11)
    breach_reason: BreachReason | None = None
    # the response (set once, with the phase's "respond" transition)
    responded_at: Instant | None = None
    within_sla: bool | None = None
    # touches
    auto_touch_at: Instant | None = None
    person_touch_at: Instant | None = None  # owner/backup person activity, not meaningful
    meeting_after_escalation: bool = False
    # holds (rule 8; the ownership conflicts are `conflicts`)
    consent_hold: bool = False
    # resolution
    resolved_by: str | None = None
    resolution_note: str | None = None
    reason_code: str | None = None
    # facts
    last_fact: Fact | None = None
    last_fact_body: tuple[object, ...] | None = None  # the last fact without its version
    version: int = 0

    def __init__(self, lead_id: str, policy: Policy, now: Instant) -> None:
        self.lead_id = lead_id
        self.policy = policy
        self.now = now
        self.grace = round(policy.grace_seconds * SECOND)
        self.outputs: list[Output] = []
        self.rejected: list[Rejection] = []
        self.held: list[InputEvent] = []
        self.manager_id = policy.default_manager
        self.contact_details = policy.include_contact_details
        self.owner_history: list[tuple[Instant, str | None]] = []
        self.gaps: set[str] = set()
        self.conflicts: dict[str, ActivityLogged] = {}
        self.review_keys: set[tuple[str, str]] = set()
        # open tasks and reviews: task_id -> (kind, reason)
        self.open_tasks: dict[str, tuple[str, str]] = {}

    # ------------------------------------------------------------------ the fold

    def run(self, ordered: list[InputEvent]) -> None:
        for event in ordered:
            if self.phase == "pending":
                if isinstance(event, LeadCreated):
                    self._create(event)
                else:
                    self.held.append(event)  # rule 13: held until the lead exists
                continue
            t = event.occurred_at
            self._fire_timers(t, inclusive=False)  # inputs at t apply before timers due at t
            if t > self.cursor:
                self._emit_fact()
                self.cursor = t
            self._apply(event)
            self._fire_overdue()
        if self.phase != "pending":
            self._fire_timers(self.now, inclusive=True)
            self._emit_fact()

    def _create(self, event: LeadCreated) -> None:
        self.cursor = event.occurred_at
        self._apply(event)
        if self.phase == "pending":
            return  # refused (rule 16): whatever came before it stays held
        self._fire_overdue()
        if self.held:
            # Rule 13: events that came before their lead apply at its creation, in type order.
            early = sorted(self.held, key=lambda e: (TYPE_RANK[type(e)], e.occurred_at, e.event_id))
            self.held = []
            for held_event in early:
                self._apply(held_event)
                self._fire_overdue()

    def _apply(self, event: InputEvent) -> None:
        match event:
            case LeadCreated():
                if self.phase != "pending":
                    self.rejected.append(
                        Rejection(event, "a second lead.created for a lead that already exists")
                    )
                    return
                points = None
                if event.customer_status != "existing_customer" and event.category != (
                    "support_issue"
                ):
                    try:
                        points = self._points(event.source, event.priority, event.occurred_at)
                    except _OutOfRange as exc:
                        self.rejected.append(Rejection(event, str(exc)))
                        return
                self._on_created(event, points)
            case OwnerAssigned():
                self._on_owner_assigned(event)
            case LeadUpdated():
                points = None
                if (
                    event.priority is not None
                    and event.priority != self.priority
                    and self.phase == "open"
                ):
                    try:
                        points = self._points(self.source, event.priority, self.created_at)
                    except _OutOfRange as exc:
                        self.rejected.append(Rejection(event, str(exc)))
                        return
                self._on_updated(event, points)
            case ActivityLogged():
                self._on_activity(event)
            case StatusChanged():
                self._on_status(event)
            case BreachResolved():
                self._on_resolved(event)
            case _:
                assert_never(event)

    # ------------------------------------------------------------------ inputs

    def _on_created(self, e: LeadCreated, points: _Points | None) -> None:
        """Rules 1, 7, 8, 9: the clock starts at the lead's own occurred_at."""
        p = self.policy
        self.created_at = e.occurred_at
        self.source = e.source
        self.priority = e.priority
        self.intent = e.intent or ("high" if e.source in p.high_intent_sources else "normal")
        self.category = e.category
        self.customer_status = e.customer_status
        self.consent = e.consent
        self.display_name = e.display_name
        if self.contact_details:
            self.shown_name = e.display_name
        self.owner_history.append((e.occurred_at, None))
        if e.customer_status == "existing_customer" or e.category == "support_issue":
            reason: ExclusionReason = (
                "existing_customer" if e.customer_status == "existing_customer" else "support_issue"
            )
            self._exclude(reason, route="support")  # pending -> support: no clock
            return
        self.phase = _CREATE[self.phase]
        assert points is not None  # computed by _apply for every lead with a clock
        self._set_timer_points(points)
        self._emit(TIMER_STARTED, self.cursor, self._timer_data())
        if e.consent == "declined":
            self._exclude("consent_declined")
            return
        if e.category in p.review_categories:
            self._request_review(e.category, "")
        if e.consent == "unclear":
            self._start_consent_hold()

    def _on_owner_assigned(self, e: OwnerAssigned) -> None:
        """Rules 8, 10, 12: a new owner re-addresses later alerts and ends a conflict hold."""
        t = self.cursor
        person = e.owner_kind == "person"
        counted: ActivityLogged | None = None
        if self.conflicts:
            # Rule 8: a new owner ends an ownership conflict hold.
            counted = self.conflicts.get(e.owner_id) if person else None
            self.conflicts.clear()
            self._close_tasks("hold_ended", kinds=("conflict",))
        phase = self.phase
        if phase in _ANSWERED or phase in _BREACHED:
            # Rule 12: ownership after the answer or the breach changes nothing measured, but
            # the re-owned lead's open escalation work is handed back (rule 6).
            if phase not in _ANSWERED:
                self._close_tasks("reassigned", kinds=("escalation", "breach_review"))
                if counted is not None and phase not in _EXCLUDED:
                    # Rule 8: the conflicting answer now counts, late, at its own occurred_at.
                    self._record_response(counted.actor_id, counted.kind, counted.occurred_at)
            return
        addressed = (self.owner_id, self.backup_id, self.manager_id)
        self._set_owner(e.owner_id, person, t, e.backup_owner_id, e.manager_id)
        if phase != "open":
            return  # excluded, closed or routed to support before a breach
        if counted is not None:
            # The new owner is the person whose answer caused the conflict: that answer counts
            # at its own occurred_at.
            self._record_response(counted.actor_id, counted.kind, counted.occurred_at)
            return
        if person and self.backup_id is None and e.owner_id not in self.gaps:
            self.gaps.add(e.owner_id)
            self._emit(
                GAP,
                t,
                _Gap(
                    self.source,
                    self.priority,
                    self.created_at,
                    self.owner_id,
                    self.due_at,
                    self.manager_id,
                    "backup_owner",
                    self.shown_name,
                    self.contact_details,
                ),
            )
        if (self.owner_id, self.backup_id, self.manager_id) != addressed:
            self._emit(TIMER_UPDATED, t, self._timer_data())

    def _on_updated(self, e: LeadUpdated, points: _Points | None) -> None:
        """Rules 7, 8, 9, 12: changes after creation."""
        t = self.cursor
        p = self.policy
        answered = self.phase in _ANSWERED
        if e.intent is not None and e.intent != self.intent:
            self.intent = e.intent
        if e.customer_status is not None:
            self.customer_status = e.customer_status
        new_category = e.category is not None and e.category != self.category
        if e.category is not None:
            self.category = e.category
        consent_before = self.consent
        if e.consent is not None:
            self.consent = e.consent
        if self.consent_hold and (
            self.consent == "granted" or (answered and self.consent != "unclear")
        ):
            # Rule 8: the consent question is settled; the original clock stands (overdue timers
            # fire now). Declined before an answer is an exclusion, below.
            self.consent_hold = False
            self._close_tasks("hold_ended", kinds=("consent",))
        if self.phase != "open" and self.phase != "breached":
            return  # answered, or already out of the clock (excluded, or excluded after a breach)
        if self.customer_status == "existing_customer" or self.category == "support_issue":
            reason: ExclusionReason = (
                "existing_customer"
                if self.customer_status == "existing_customer"
                else "support_issue"
            )
            self._exclude(reason, route="support")
            return
        if self.consent == "declined" and consent_before != "declined":
            self._exclude("consent_declined")
            return
        if e.priority is not None and e.priority != self.priority and self.phase == "open":
            self.priority = e.priority
            if points is None:  # pragma: no cover - _apply computes them for this case
                points = self._points(self.source, e.priority, self.created_at)
            self._set_timer_points(points)
            if self.warning == "skipped":
                self.warning = "due"
            self._emit(TIMER_UPDATED, t, self._timer_data())
        if new_category and self.category in p.review_categories:
            self._request_review(self.category, "")
        if self.consent == "unclear" and consent_before != "unclear":
            self._start_consent_hold()

    def _on_activity(self, e: ActivityLogged) -> None:
        """Rules 2, 3, 8: what counts as a meaningful response, and who may give it."""
        t = self.cursor
        p = self.policy
        if (
            e.actor_kind != "person"
            or e.kind in _AUTOMATED_KINDS
            or e.auto_submitted
            or e.sequence_id is not None
        ):
            if e.direction == "outbound" and self.auto_touch_at is None:
                self.auto_touch_at = t
            return
        if self.escalation != "none" and e.kind in _MEETING_KINDS and e.direction != "internal":
            self.meeting_after_escalation = True
        owner_side = self.owner_id is not None and e.actor_id in (self.owner_id, self.backup_id)
        if e.direction != "outbound" or e.kind not in p.meaningful_kinds:
            if owner_side and self.person_touch_at is None:
                self.person_touch_at = t
            return
        if self.phase not in _RESPOND:
            return  # answered, excluded before a breach, or routed to support
        if owner_side:
            self._record_response(e.actor_id, e.kind, t)
        elif self.owner_id is None:
            # Rule 2: an unowned lead is taken by the person who answers it (no ownership gap).
            self._set_owner(e.actor_id, True, t)
            self._record_response(e.actor_id, e.kind, t)
        elif p.response_from == "any_person":
            self._record_response(e.actor_id, e.kind, t)
        else:
            # Rule 8: someone else's answer of an owned lead is an ownership conflict: hold it.
            if e.actor_id not in self.conflicts:
                self.conflicts[e.actor_id] = e
            self._request_review("ownership_conflict", e.actor_id)

    def _on_status(self, e: StatusChanged) -> None:
        """Rule 9: exclusions, closing and reopening."""
        status = e.status
        phase = self.phase
        if status == "reopened":
            reopened = _REOPEN.get(phase)
            if reopened is None:
                return  # reopening undoes `closed` only
            if phase in _EXCLUDED:
                # Reopening undoes `closed` only, with the original clock.
                if self.warning == "skipped":
                    self.warning = "due"
                self.phase = reopened
                self._emit(TIMER_UPDATED, self.cursor, self._timer_data())
            else:
                self.phase = reopened  # closed after a breach: the breach was visible all along
            return
        if status in _EXCLUDING_STATUSES or status in ("closed", "converted"):
            if phase not in NEXT_PHASE[exclusion_input(status, None)]:
                # Answered, routed to support, or already out of the clock: only spam/duplicate
                # can still hide a breach.
                return
            self._exclude(status)

    def _on_resolved(self, e: BreachResolved) -> None:
        """Rule 16: a resolution needs a breach; its reason_code overrides the derived reason."""
        if self.phase not in _BREACHED:
            self.rejected.append(
                Rejection(e, "lead.breach_resolved for a lead that never breached")
            )
            return
        self.resolved_by = e.resolved_by
        self.resolution_note = e.resolution_note
        if e.reason_code is not None:
            self.reason_code = e.reason_code

    # ------------------------------------------------------------------ transitions

    def _record_response(self, responder: str, kind: str, at: Instant) -> None:
        """Rule 3: the first meaningful response stops the clock."""
        responded = at if at > self.created_at else self.created_at
        self.phase = _RESPOND[self.phase]
        self.responded_at = responded
        self.within_sla = responded <= self.due_pt
        business: float | None = None
        cal = self.policy.calendar
        if self.policy.clock == "business" and cal is not None:
            business = cal.between(self.created_at, responded) / SECOND
        self._emit(
            RESPONSE,
            responded,
            _Response(
                responder,
                kind,
                (responded - self.created_at) / SECOND,
                business,
                self.within_sla,
            ),
        )
        self.conflicts.clear()
        self._close_tasks("answered", kinds=("escalation", "breach_review", "review", "conflict"))

    def _set_owner(
        self,
        owner: str,
        person: bool,
        t: Instant,
        backup: str | None = None,
        manager: str | None = None,
    ) -> None:
        """Rule 10: a missing backup or manager comes from the roster; a queue is no owner."""
        entry = self.policy.roster.get(owner)
        self.owner_id = owner if person else None
        self.backup_id = (backup or (entry.backup if entry else None)) if person else None
        self.manager_id = (
            manager or (entry.manager if entry else None) or self.policy.default_manager
        )
        if person and self.first_person_owner_at is None:
            self.first_person_owner_at = t
        self.owner_history.append((t, self.owner_id))

    def _start_consent_hold(self) -> None:
        if self.phase in _ANSWERED:
            return
        self.consent_hold = True
        self._request_review("consent_unclear", "")

    def _exclude(self, reason: ExclusionReason, route: ExclusionRoute | None = None) -> None:
        """Rule 9: the clock stops and every later timer is dropped; a breach stays visible."""
        t = self.cursor
        self.phase = NEXT_PHASE[exclusion_input(reason, route)][self.phase]
        self.consent_hold = False
        self.conflicts.clear()
        self._emit(
            EXCLUDED,
            t,
            Exclusion(
                self.source,
                self.priority,
                self.created_at,
                self.owner_id,
                self.due_at,
                reason,
                route,
                self.shown_name,
                self.contact_details,
            ),
        )
        self._close_tasks("excluded", kinds=None)

    def _request_review(self, reason: ReviewReason | Category, actor: str) -> None:
        """Rules 7 and 8: a review request to the manager, once per lead, reason and actor.

        ``reason`` may be any category of the policy's ``review_categories``: the policy accepts
        every category there, although SPEC.md's ``sla.review_requested`` reasons name only
        ``complaint``, ``urgent_request`` and ``customer_conflict`` (``inquiry`` would give an
        output the ``schemas/`` model refuses; the type says so rather than hiding it).
        """
        key = (reason, actor)
        if key in self.review_keys:
            return
        self.review_keys.add(key)
        task_id = derived_id(self.lead_id, f"review\x1f{reason}\x1f{actor}")
        if reason == "consent_unclear":
            kind = "consent"
        elif reason == "ownership_conflict":
            kind = "conflict"
        elif reason == "breach":
            kind = "breach_review"
        else:
            kind = "review"
        self.open_tasks[task_id] = (kind, reason)
        self._emit(
            REVIEW,
            self.cursor,
            _Review(
                self.source,
                self.priority,
                self.created_at,
                self.owner_id,
                self.due_at,
                task_id,
                self.manager_id,
                reason,
                self.auto_touch_at is not None,
                self.shown_name,
                self.contact_details,
            ),
        )

    def _close_tasks(self, reason: TaskCloseReason, kinds: tuple[str, ...] | None) -> None:
        if not self.open_tasks:
            return
        t = self.cursor
        for task_id, (kind, _why) in list(self.open_tasks.items()):
            if kinds is None or kind in kinds:
                del self.open_tasks[task_id]
                self._emit(
                    TASK_CLOSED,
                    t,
                    _TaskClosed(
                        self.source,
                        self.priority,
                        self.created_at,
                        self.owner_id,
                        self.due_at,
                        task_id,
                        reason,
                        self.shown_name,
                        self.contact_details,
                    ),
                )

    # ------------------------------------------------------------------ timers

    def _points(self, source: str, priority: Priority, created_at: Instant) -> _Points:
        """The window and every point derived from it, on the policy's clock (section 3).

        Raises :class:`_OutOfRange` when a point would leave the years 1-9999 or the business
        calendar cannot place it (rule 16); the caller refuses the event that asked for it.
        """
        p = self.policy
        minutes = p.target_minutes(source, priority)
        window = round(minutes * 60 * SECOND)
        c = created_at
        cal = p.calendar
        if p.clock == "business" and cal is not None:
            try:
                warn = cal.add(c, round(p.warn_at * window))
                due = cal.add(c, window)
                level2 = cal.add(c, window + round(p.escalate_to_manager_after * window))
                stale = cal.add(c, round(p.stale_after * window))
            except (ValueError, OverflowError) as exc:
                raise _OutOfRange(
                    f"the business-time points of its {minutes:g}-minute window cannot be "
                    f"placed: {exc}"
                ) from None
        else:
            warn = c + round(p.warn_at * window)
            due = c + window
            level2 = c + window + round(p.escalate_to_manager_after * window)
            stale = c + round(p.stale_after * window)
        if max(level2, stale) > MAX_INSTANT or min(warn, stale) < MIN_INSTANT:
            raise _OutOfRange(
                f"the points in time of its {minutes:g}-minute window (warning, deadline, "
                "level 2, stale) would leave the years 1-9999"
            )
        return minutes, warn, due, level2, stale

    def _set_timer_points(self, points: _Points) -> None:
        self.target_minutes, self.warn_pt, self.due_pt, self.level2_pt, self.stale_pt = points
        self.due_at = self.due_pt
        self.first_pt = min(self.warn_pt, self.stale_pt)

    def _next_timer(self, confirmed_only: bool) -> tuple[Instant, int] | None:
        """The earliest pending timer (rules 4, 5, 6, 11); none while stopped or held."""
        phase = self.phase
        if phase not in _CLOCKED or self.consent_hold or self.conflicts:
            return None
        best: tuple[Instant, int] | None = None
        unanswered = phase == "open" or phase == "breached"
        if phase == "open" and self.warning == "due":
            best = (self.warn_pt, _WARN)
        if (phase == "open" or phase == "answered") and not self.within_sla:
            due = self.due_pt
            if not confirmed_only or due + self.grace <= self.now:
                candidate = (due if confirmed_only else due + self.grace, _DEADLINE)
                if best is None or candidate < best:
                    best = candidate
        if phase == "breached" and self.escalation == "level1":
            candidate = (self.level2_pt, _LEVEL2)
            if best is None or candidate < best:
                best = candidate
        if unanswered and not self.stale and self.intent == "high":
            candidate = (self.stale_pt, _STALE)
            if best is None or candidate < best:
                best = candidate
        return best

    def _fire_timers(self, limit: Instant, inclusive: bool) -> None:
        if limit < self.first_pt:
            return  # most inputs come before the earliest timer point: nothing can be due
        if limit > self.now:
            # An input timed after the clock (a skewed source) never pulls timers forward.
            limit, inclusive = self.now, True
        while True:
            nxt = self._next_timer(confirmed_only=True)
            if nxt is None:
                return
            due, kind = nxt
            if due > limit or (due == limit and not inclusive):
                return
            # A timer that became due in the past (a priority change, a hold ending) fires now.
            if due > self.cursor:
                self._emit_fact()
                self.cursor = due
            self._fire(kind, self.cursor)

    def _fire_overdue(self) -> None:
        """Timers that became due in the past (a priority change, a hold ending) fire now."""
        self._fire_timers(self.cursor - 1, inclusive=True)

    def _fire(self, kind: int, at: Instant) -> None:
        if kind == _WARN:
            self._fire_warning(at)
        elif kind == _DEADLINE:
            self._fire_breach(at)
        elif kind == _LEVEL2:
            self.escalation = "level2"
            self._escalate(at, 2, self.manager_id, "manager")
        else:
            self.stale = True
            self._emit(
                STALE,
                at,
                _Stale(
                    self.source,
                    self.priority,
                    self.created_at,
                    self.owner_id,
                    self.due_at,
                    self.manager_id,
                    (at - self.created_at) / SECOND,
                    self.shown_name,
                    self.contact_details,
                ),
            )

    def _fire_warning(self, at: Instant) -> None:
        """Rule 4: one pre-breach warning, only while the deadline is still ahead."""
        if at != self.warn_pt and at >= self.due_pt:
            self.warning = "skipped"
            return
        self.warning = "sent"
        reason: WarningReason
        if self.owner_id is None:
            recipient, reason = self.manager_id, "no_owner"
        elif self.auto_touch_at is not None and self.person_touch_at is None:
            recipient, reason = self.owner_id, "autoresponder_only"
        else:
            recipient, reason = self.owner_id, "owner_no_action"
        self._emit(
            WARNING,
            at,
            _PreBreachWarning(
                self.source,
                self.priority,
                self.created_at,
                self.owner_id,
                self.due_at,
                recipient,
                reason,
                self.auto_touch_at is not None,
                self.shown_name,
                self.contact_details,
            ),
        )

    def _owner_at(self, instant: Instant) -> str | None:
        owner: str | None = None
        for since, who in self.owner_history:
            if since > instant:
                break
            owner = who
        return owner

    def _derive_breach_reason(self) -> BreachReason:
        """Rule 5: the first reason that holds at the deadline."""
        due = self.due_pt
        if self._owner_at(due) is None:
            return "no_owner"
        if self.first_person_owner_at is not None and self.first_person_owner_at > self.warn_pt:
            return "assigned_late"
        if self.person_touch_at is not None and self.person_touch_at <= due:
            return "non_meaningful_activity_only"
        if self.auto_touch_at is not None and self.auto_touch_at <= due:
            return "autoresponder_only"
        return "owner_no_action"

    def _fire_breach(self, at: Instant) -> None:
        """Rules 5, 6, 7: the breach, then one escalation (or one review for review leads)."""
        self.phase = _BREACH[self.phase]
        self.breach_reason = self._derive_breach_reason()
        routed_to_review = self.category in self.policy.review_categories
        self._emit(
            BREACHED,
            at,
            _Breach(
                self.source,
                self.priority,
                self.created_at,
                self.owner_id,
                self.due_at,
                self.backup_id,
                self.manager_id,
                self.breach_reason,
                self.auto_touch_at is not None,
                routed_to_review,
                self.shown_name,
                self.contact_details,
            ),
        )
        if self.phase == "breached_answered":
            return  # answered late while held: recorded, breached, nothing left to chase
        if routed_to_review:
            self.escalation = "review"
            self._request_review("breach", "")
        elif self.backup_id is not None:
            self.escalation = "level1"
            self._escalate(at, 1, self.backup_id, "backup_owner")
        else:
            self.escalation = "level1"
            self._escalate(at, 1, self.manager_id, "manager")

    def _escalate(
        self, at: Instant, level: EscalationLevel, assignee: str, role: AssigneeRole
    ) -> None:
        """Rule 6: an escalation task; the service never writes customer-facing text."""
        task_id = derived_id(self.lead_id, f"escalation\x1f{level}\x1f{assignee}\x1f{at}")
        self.open_tasks[task_id] = ("escalation", role)
        self._emit(
            ESCALATION,
            at,
            _Escalation(
                self.source,
                self.priority,
                self.created_at,
                self.owner_id,
                self.due_at,
                task_id,
                assignee,
                role,
                level,
                self.breach_reason,
                self.auto_touch_at is not None,
                self.shown_name,
                self.contact_details,
            ),
        )

    def next_due(self) -> Instant | None:
        """When the clock next matters for this lead (for the worker's deadline index)."""
        if self.phase == "pending":
            return None
        nxt = self._next_timer(confirmed_only=False)
        if nxt is None:
            return None
        return nxt[0]

    # ------------------------------------------------------------------ outputs

    due_at: Instant | None = None  # the deadline, once a timer was started
    first_pt: Instant = 0  # no timer is ever due before this instant

    def _emit(self, type_: OutputType, at: Instant, data: OutputData) -> None:
        self.outputs.append(_new(Output, (type_, at, data, False)))

    def _timer_data(self) -> Timer:
        return _Timer(
            self.owner_id,
            self.backup_id,
            self.manager_id,
            self.due_pt,
            self.warn_pt,
            self.target_minutes,
            self.policy.clock,
            self.source,
            self.priority,
        )

    def _status(self) -> FactStatus:
        phase = self.phase
        if phase in _EXCLUDED:
            return "excluded"
        if phase in _BREACHED:
            return "breached"
        if self.consent_hold or self.conflicts:
            return "held"
        if phase == "answered":
            return "met" if self.within_sla else "breached"
        return "open"

    def _emit_fact(self) -> None:
        """Section 5: re-emit the lead's fact (a growing version) whenever it changes.

        Called when the fold leaves an instant, so the changes one instant brings (an input and
        the timers it makes overdue, a breach and its escalation) make one new version. The
        fact's fields but its version are compared with the last one's as one tuple (one
        C-level comparison): most steps change something, so this is cheaper than comparing the
        raw fields first.
        """
        if self.phase == "pending":
            return
        status = self._status()
        responded = self.responded_at
        body = (
            self.source,
            self.priority,
            self.intent,
            self.owner_id,
            self.manager_id,
            self.created_at,
            self.due_at,  # None without a clock (support route from the start)
            status,
            status in ("open", "met", "breached"),  # eligible
            responded,
            (responded - self.created_at) / SECOND if responded is not None else None,
            self.within_sla,
            self.reason_code or self.breach_reason,
            self.resolution_note,
            self.resolved_by,
            self.warning == "sent",
            self.escalation != "none",
            2 if self.escalation == "level2" else 0 if self.escalation == "none" else 1,
            self.meeting_after_escalation,
            self.stale,
            self._in_review(),
            self.policy.version,
        )
        if body == self.last_fact_body:
            return
        self.version += 1
        self.last_fact_body = body
        # one concatenation: the unpacking (*body, version) builds a list first, compiled
        fact: Fact = _new(Fact, body + (self.version,))  # noqa: RUF005
        self.last_fact = fact
        self._emit(MEASURED, self.cursor, fact)

    def _in_review(self) -> bool:
        if not self.open_tasks:
            return False
        return any(kind != "escalation" for kind, _ in self.open_tasks.values())
