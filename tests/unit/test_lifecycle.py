"""The engine's explicit lifecycle: one phase per lead, moved only along the transition table.

Given a lead brought to a phase by real inputs, when the input of a row of
``engine.TRANSITIONS`` arrives, then ``evaluate`` reports the row's next phase (and the measured
status that phase means, and the output the transition emits); when an input the phase has no
row for arrives, then the phase stays. The table itself is checked for what makes an impossible
combination unrepresentable: one phase value (the old flags are gone), every phase reachable,
no two phases meaning the same thing, and no phase that is both answered and excluded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from leadsla.domain import engine
from leadsla.domain.engine import NEXT_PHASE, TRANSITIONS, LeadResult, evaluate
from leadsla.domain.events import (
    ActivityLogged,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.instant import MINUTE, Instant, parse_rfc3339
from leadsla.domain.policy import Policy
from leadsla.domain.vocabulary import (
    LEAD_PHASES,
    LIFECYCLE_INPUTS,
    FactStatus,
    LeadPhase,
    LeadStatus,
    LifecycleInput,
    OutputType,
)

T0 = parse_rfc3339("2026-03-02T09:00:00Z")  # a 60-minute window: the deadline is T0 + 60 min
POLICY = Policy(default_manager="mgr", version="lifecycle")
LEAD = "L1"


def at(minutes: int) -> Instant:
    return T0 + minutes * MINUTE


def created(**fields: object) -> LeadCreated:
    return LeadCreated("created", LEAD, T0, "web_form", **fields)  # type: ignore[arg-type]


def owner(minutes: int = 1) -> OwnerAssigned:
    return OwnerAssigned(f"owner-{minutes}", LEAD, at(minutes), "alice", backup_owner_id="bob")


def answer(minutes: int) -> ActivityLogged:
    return ActivityLogged(f"answer-{minutes}", LEAD, at(minutes), "alice", "person", "call")


def status(value: LeadStatus, minutes: int) -> StatusChanged:
    return StatusChanged(f"status-{value}-{minutes}", LEAD, at(minutes), value)


def updated(minutes: int, **fields: object) -> LeadUpdated:
    return LeadUpdated(f"updated-{minutes}", LEAD, at(minutes), **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reached:
    """Inputs that bring the lead to a phase, and the minute after which the next may come."""

    events: tuple[InputEvent, ...]
    minute: int


_OPEN = (created(), owner())
_BREACHED = _OPEN  # with the clock past T0 + 60 min
REACH: dict[LeadPhase, Reached] = {
    "pending": Reached((), 0),
    "open": Reached(_OPEN, 10),
    # answered late while held (consent unclear): the breach still comes when the hold ends
    "answered": Reached((created(consent="unclear"), owner(), answer(70)), 75),
    "breached": Reached(_BREACHED, 65),
    "breached_answered": Reached((*_BREACHED, answer(70)), 75),
    "excluded": Reached((*_OPEN, status("disqualified", 10)), 15),
    "closed": Reached((*_OPEN, status("closed", 10)), 15),
    "support": Reached((created(category="support_issue"),), 10),
    "breached_excluded": Reached((*_BREACHED, status("disqualified", 70)), 75),
    "breached_excluded_answered": Reached((*_BREACHED, status("disqualified", 70), answer(80)), 85),
    "breached_closed": Reached((*_BREACHED, status("closed", 70)), 75),
    "breached_closed_answered": Reached((*_BREACHED, status("closed", 70), answer(80)), 85),
    "breached_support": Reached((*_BREACHED, updated(70, category="support_issue")), 75),
    "breach_hidden": Reached((*_BREACHED, status("spam", 70)), 75),
    "breach_hidden_closed": Reached(
        (*_BREACHED, status("closed", 70), status("duplicate", 80)), 85
    ),
}

STATUS: dict[LeadPhase, FactStatus | None] = {
    "pending": None,
    "open": "open",
    "answered": "held",  # REACH's answered lead is still held (consent unclear)
    "excluded": "excluded",
    "closed": "excluded",
    "support": "excluded",
    "breach_hidden": "excluded",
    "breach_hidden_closed": "excluded",
}
"""The measured status each reached phase shows; every other phase shows ``breached``."""


def trigger(phase: LeadPhase, via: LifecycleInput) -> tuple[tuple[InputEvent, ...], int]:
    """The input ``via`` for a lead in ``phase``: (events to add, the clock in minutes)."""
    m = REACH[phase].minute + 1
    match via:
        case "create":
            if phase == "pending":
                return (created(),), m
            return (LeadCreated("created-again", LEAD, at(m), "web_form"),), m
        case "support":
            if phase == "pending":
                return (created(customer_status="existing_customer"),), m
            return (updated(m, customer_status="existing_customer"),), m
        case "respond":
            return (answer(m),), m
        case "breach":
            if phase == "answered":  # the consent hold ends after the deadline
                return (updated(m, consent="granted"),), m
            return (), m + 60  # the clock passes the deadline
        case "exclude":
            return (status("disqualified", m),), m
        case "close":
            return (status("closed", m),), m
        case "hide":
            return (status("spam", m),), m
        case "reopen":
            return (status("reopened", m),), m
    raise AssertionError(via)  # pragma: no cover


def run(events: tuple[InputEvent, ...], minute: int) -> LeadResult:
    return evaluate(LEAD, events, at(minute), POLICY)


def expected_status(phase: LeadPhase) -> FactStatus | None:
    return STATUS.get(phase, "breached")


# -------------------------------------------------------------------------------- the table


def test_there_is_one_phase_value_and_none_of_the_old_flags() -> None:
    flags = [
        "created",
        "timed",
        "stopped",
        "breached",
        "excluded",
        "closed",
        "support_route",
        "warned",
        "warn_skipped",
        "escalated",
        "level",
        "routed_to_review",
    ]

    lead = engine._Lead(LEAD, POLICY, T0)

    left = [flag for flag in flags if hasattr(engine._Lead, flag) or hasattr(lead, flag)]

    assert left == []
    assert lead.phase == "pending"


def test_the_table_is_a_function_over_the_vocabulary() -> None:
    keys = [(a, via) for a, via, _b in TRANSITIONS]

    assert len(keys) == len(set(keys))  # one next phase per (phase, input)
    assert {a for a, _v, _b in TRANSITIONS} | {b for _a, _v, b in TRANSITIONS} <= set(LEAD_PHASES)
    assert {via for _a, via, _b in TRANSITIONS} == set(LIFECYCLE_INPUTS)
    assert all(NEXT_PHASE[via][a] == b for a, via, b in TRANSITIONS)
    assert sum(len(rows) for rows in NEXT_PHASE.values()) == len(TRANSITIONS)


def test_every_phase_is_reachable_from_pending_and_none_comes_back_to_it() -> None:
    reached = {"pending"}
    frontier = ["pending"]
    while frontier:
        a = frontier.pop()
        for row_from, _via, b in TRANSITIONS:
            if row_from == a and b not in reached:
                reached.add(b)
                frontier.append(b)

    assert reached == set(LEAD_PHASES)
    assert all(b != "pending" for _a, _v, b in TRANSITIONS)


def _meaning(phase: LeadPhase) -> tuple[bool, bool, bool, bool, bool, bool]:
    """What a phase says: answered, breached, excluded (status), clock running, reopenable,
    routed to support."""
    return (
        phase in engine._ANSWERED,
        phase in engine._BREACHED,
        phase in engine._EXCLUDED,
        phase in engine._CLOCKED,
        phase in NEXT_PHASE["reopen"],
        phase.endswith("support"),
    )


def test_no_phase_means_an_impossible_combination() -> None:
    meanings = {phase: _meaning(phase) for phase in LEAD_PHASES if phase != "pending"}

    # no two phases mean the same: each combination has exactly one name
    assert len(set(meanings.values())) == len(meanings)
    for phase, (answered, _breached, excluded, clocked, reopenable, support) in meanings.items():
        assert not (answered and excluded), phase  # an excluded lead is never answered
        assert not (clocked and (excluded or reopenable)), phase  # out of the clock: no timers
        assert not (support and (answered or clocked or reopenable)), phase
    # answered and excluded are the only impossible pairs: the breached, stopped and answered
    # combinations exist (an owner may still answer after an exclusion that kept the breach)
    assert meanings["breached_excluded_answered"] == (True, True, False, False, False, False)


def test_the_terminal_phases_have_no_way_out() -> None:
    terminal = {a for a in LEAD_PHASES} - {a for a, _v, _b in TRANSITIONS}

    assert terminal == {
        "excluded",
        "support",
        "breached_answered",
        "breached_excluded_answered",
        "breached_support",
        "breach_hidden",
    }


# -------------------------------------------------------------------------------- the engine


@pytest.mark.parametrize("phase", LEAD_PHASES)
def test_each_phase_is_reached_by_real_inputs(phase: LeadPhase) -> None:
    reached = REACH[phase]

    result = run(reached.events, reached.minute)

    assert result.phase == phase
    assert (result.fact.status if result.fact else None) == expected_status(phase)


@pytest.mark.parametrize(("before", "via", "after"), TRANSITIONS)
def test_each_transition_moves_the_lead(
    before: LeadPhase, via: LifecycleInput, after: LeadPhase
) -> None:
    events, minute = trigger(before, via)
    given = REACH[before]
    assert run(given.events, given.minute).phase == before

    result = run((*given.events, *events), minute)

    assert result.phase == after
    assert result.fact is not None
    assert result.fact.status == expected_status(after) or after == "answered"
    emitted = [o.type for o in result.outputs if o.occurred_at >= at(given.minute)]
    emits: dict[LifecycleInput, list[OutputType]] = {
        "create": [engine.TIMER_STARTED],
        "support": [engine.EXCLUDED],
        "respond": [engine.RESPONSE],
        "breach": [engine.BREACHED],
        "exclude": [engine.EXCLUDED],
        "close": [engine.EXCLUDED],
        "hide": [engine.EXCLUDED],
        # the clock restarts for a lead excluded by `closed`; a breach kept visible: nothing
        "reopen": [engine.TIMER_UPDATED] if before in engine._EXCLUDED else [],
    }
    wanted = emits[via]
    assert [t for t in emitted if t in wanted] == wanted


IGNORED = [
    (phase, via)
    for phase in LEAD_PHASES
    for via in LIFECYCLE_INPUTS
    if phase not in NEXT_PHASE[via]
]


@pytest.mark.parametrize(("phase", "via"), IGNORED)
def test_an_input_without_a_row_leaves_the_phase(phase: LeadPhase, via: LifecycleInput) -> None:
    events, minute = trigger(phase, via)
    given = REACH[phase]
    before = run(given.events, minute)

    result = run((*given.events, *events), minute)

    assert result.phase == phase
    refused = [r.reason for r in result.rejected[len(before.rejected) :]]
    if via == "create":  # a second lead.created is refused (rule 16), nothing else
        assert refused == ["a second lead.created for a lead that already exists"]
    else:
        assert refused == []
    if phase != "pending" and via in ("exclude", "close", "hide", "support"):
        assert engine.EXCLUDED not in [
            o.type for o in result.outputs if o.occurred_at == at(minute)
        ]


def test_reopening_restores_the_original_clock_and_reopening_twice_is_nothing() -> None:
    given = REACH["closed"]
    reopened = (*given.events, status("reopened", 20))

    before_deadline = run(reopened, 30)
    after_deadline = run(reopened, 61)
    twice = run((*reopened, status("reopened", 25)), 61)

    assert before_deadline.phase == "open"
    at_20 = [o.type for o in before_deadline.outputs if o.occurred_at == at(20)]
    assert at_20[0] == engine.TIMER_UPDATED
    assert after_deadline.phase == "breached"
    assert twice.outputs == after_deadline.outputs


def test_a_breach_kept_by_an_exclusion_is_hidden_by_spam_and_stays_hidden() -> None:
    given = REACH["breached_excluded"]

    hidden = run((*given.events, status("spam", 80)), 81)
    again = run((*given.events, status("spam", 80), status("duplicate", 85)), 86)

    assert hidden.phase == again.phase == "breach_hidden"
    assert hidden.fact is not None and hidden.fact.status == "excluded"
    excluded = [o for o in again.outputs if o.type == engine.EXCLUDED]
    assert len(excluded) == 2  # disqualified (breach kept), spam (hidden); duplicate: nothing


# ------------------------------------------------------------------- the timers' sub-states


def test_the_escalation_runs_level_one_then_level_two_while_breached() -> None:
    level_one = run(_OPEN, 61)
    level_two = run(_OPEN, 91)  # escalate_to_manager_after 0.5: 30 minutes after the deadline

    assert level_one.fact is not None and level_two.fact is not None
    assert (level_one.fact.escalated, level_one.fact.escalation_level) == (True, 1)
    assert (level_two.fact.escalated, level_two.fact.escalation_level) == (True, 2)
    assert level_two.phase == "breached"


def test_a_review_lead_gets_one_review_at_level_one_and_never_level_two() -> None:
    events = (created(category="complaint"), owner())

    result = run(events, 200)

    assert result.fact is not None
    assert (result.fact.escalated, result.fact.escalation_level) == (True, 1)
    assert engine.ESCALATION not in [o.type for o in result.outputs]


def test_a_lead_answered_late_while_held_breaches_without_escalation() -> None:
    given = REACH["answered"]
    events, minute = trigger("answered", "breach")

    result = run((*given.events, *events), minute + 60)

    assert result.phase == "breached_answered"
    assert result.fact is not None
    assert (result.fact.escalated, result.fact.escalation_level) == (False, 0)
    assert result.fact.within_sla is False


def test_the_warning_is_sent_once_or_skipped_when_the_deadline_is_already_reached() -> None:
    sent = run(_OPEN, 59)  # warn_at 0.75: minute 45
    # held past the warning and the deadline: when the hold ends the warning is skipped
    held = (created(consent="unclear"), owner())
    skipped = run((*held, updated(70, consent="granted")), 71)

    assert sent.fact is not None and sent.fact.pre_breach_warned
    assert [o.type for o in sent.outputs].count(engine.WARNING) == 1
    assert skipped.fact is not None and not skipped.fact.pre_breach_warned
    assert engine.WARNING not in [o.type for o in skipped.outputs]
    assert skipped.phase == "breached"
