"""Property tests of the engine's invariants (hypothesis), on the pure core only.

Given any mix of inputs for a lead, whatever the delivery order:
- the outputs are the same (the engine decides by occurred_at, rule 13);
- a repeated event changes nothing (rule 15);
- a lead answered meaningfully by its owner within its window is never breached (rules 3, 5);
- every eligible lead ends open, met or breached; facts grow in version;
- no output is timed before the lead's creation.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla.codec import wire_data
from leadsla.domain.engine import BREACHED, MEASURED, RESPONSE, evaluate
from leadsla.domain.events import (
    ActivityLogged,
    BreachResolved,
    InputEvent,
    LeadCreated,
    LeadUpdated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.instant import MINUTE, parse_rfc3339
from leadsla.domain.policy import Policy, RosterEntry, TargetRule

T0 = parse_rfc3339("2026-03-02T09:00:00Z")
POLICY = Policy(
    default_manager="mgr",
    version="prop",
    targets=(TargetRule(minutes=30, source="chat"), TargetRule(minutes=60)),
    roster={"alice": RosterEntry(backup="bob", manager="carol"), "dave": RosterEntry()},
)
PEOPLE = ["alice", "bob", "carol", "dave", "erin"]

minutes = st.integers(min_value=-10, max_value=240).map(lambda m: T0 + m * MINUTE)
person = st.sampled_from(PEOPLE)

created = st.builds(
    lambda src, prio, cat, status, consent: LeadCreated(
        "c",
        "L",
        T0,
        source=src,
        priority=prio,
        category=cat,
        customer_status=status,
        consent=consent,
    ),
    st.sampled_from(["pricing_page", "web_form", "chat", "referral"]),
    st.sampled_from(["urgent", "high", "normal", "low"]),
    st.sampled_from(["inquiry", "inquiry", "inquiry", "complaint", "support_issue"]),
    st.sampled_from(["new", "new", "new", "existing_customer"]),
    st.sampled_from(["granted", "granted", "granted", "unclear", "declined"]),
)


def _activity(
    at: int, actor: str, kind: str, actor_kind: str, direction: str, auto: bool
) -> dict[str, Any]:
    return {
        "at": at,
        "actor_id": actor,
        "kind": kind,
        "actor_kind": actor_kind,
        "direction": direction,
        "auto_submitted": auto,
    }


other = st.one_of(
    st.builds(
        lambda at, who, kind: ("own", at, who, kind),
        minutes,
        person,
        st.sampled_from(["person", "person", "queue"]),
    ),
    st.builds(
        lambda at, who, kind, ak, d, auto: ("act", _activity(at, who, kind, ak, d, auto)),
        minutes,
        person,
        st.sampled_from(["email", "call", "note", "autoresponder", "meeting_booked", "sms"]),
        st.sampled_from(["person", "person", "automation"]),
        st.sampled_from(["outbound", "outbound", "inbound", "internal"]),
        st.booleans(),
    ),
    st.builds(
        lambda at, prio: ("upd", at, prio),
        minutes,
        st.sampled_from(["urgent", "high", "normal", "low"]),
    ),
    st.builds(
        lambda at, consent: ("consent", at, consent),
        minutes,
        st.sampled_from(["granted", "unclear", "declined"]),
    ),
    st.builds(
        lambda at, s: ("status", at, s),
        minutes,
        st.sampled_from(["spam", "closed", "reopened", "converted", "opted_out"]),
    ),
    st.builds(lambda at: ("resolve", at), minutes),
)


def _build(spec: tuple[Any, ...], index: int) -> InputEvent:
    eid = f"e{index:02d}"
    kind = spec[0]
    if kind == "own":
        return OwnerAssigned(eid, "L", spec[1], owner_id=spec[2], owner_kind=spec[3])
    if kind == "act":
        a = spec[1]
        return ActivityLogged(
            eid,
            "L",
            a["at"],
            actor_id=a["actor_id"],
            actor_kind=a["actor_kind"],
            kind=a["kind"],
            direction=a["direction"],
            auto_submitted=a["auto_submitted"],
        )
    if kind == "upd":
        return LeadUpdated(eid, "L", spec[1], priority=spec[2])
    if kind == "consent":
        return LeadUpdated(eid, "L", spec[1], consent=spec[2])
    if kind == "status":
        return StatusChanged(eid, "L", spec[1], status=spec[2])
    return BreachResolved(eid, "L", spec[1], resolved_by="carol", resolution_note="noted")


histories = st.builds(
    lambda c, rest: [c] + [_build(s, i) for i, s in enumerate(rest)],
    created,
    st.lists(other, max_size=8),
)
NOW = T0 + 400 * MINUTE
PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _signature(events: list[InputEvent]) -> list[tuple[object, ...]]:
    result = evaluate("L", events, NOW, POLICY)
    return [(o.type, o.occurred_at, sorted(wire_data(o.data).items())) for o in result.outputs]


@PROPS
@given(histories, st.randoms(use_true_random=False))
def test_any_delivery_order_gives_the_same_outputs(
    events: list[InputEvent], rnd: random.Random
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert _signature(shuffled) == _signature(events)


@PROPS
@given(histories, st.data())
def test_a_repeated_event_changes_nothing(events: list[InputEvent], data: st.DataObject) -> None:
    repeated = data.draw(st.sampled_from(events))
    position = data.draw(st.integers(min_value=0, max_value=len(events)))
    with_repeat = [*events[:position], repeated, *events[position:]]
    if repeated is events[0] and position == 0:
        with_repeat = [*events, repeated]
    assert _signature(with_repeat) == _signature(events)


@PROPS
@given(histories)
def test_every_eligible_lead_ends_open_met_or_breached(events: list[InputEvent]) -> None:
    result = evaluate("L", events, NOW, POLICY)
    assert result.fact is not None
    status = result.fact.status
    assert status in ("open", "held", "met", "breached", "excluded")
    assert result.fact.eligible == (status in ("open", "met", "breached"))
    versions = [wire_data(o.data)["version"] for o in result.outputs if o.type == MEASURED]
    assert versions == list(range(1, len(versions) + 1))
    assert all(o.occurred_at >= T0 for o in result.outputs)


@PROPS
@given(histories, st.integers(min_value=0, max_value=29))
def test_a_lead_answered_by_its_owner_within_the_window_never_breaches(
    events: list[InputEvent], answer_minute: int
) -> None:
    # Given a plain inquiry owned by alice from its creation, whatever else happens later,
    # when alice answers by email inside even the shortest window (30 minutes)
    base = events[0]
    assert isinstance(base, LeadCreated)
    lead = LeadCreated(
        "c",
        "L",
        T0,
        source=base.source,
        priority=base.priority,
        category="inquiry",
        customer_status="new",
        consent="granted",
    )
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    answer = ActivityLogged(
        "a", "L", T0 + answer_minute * MINUTE, actor_id="alice", actor_kind="person", kind="email"
    )
    later = [e for e in events[1:] if e.occurred_at > answer.occurred_at]
    result = evaluate("L", [lead, owner, answer, *later], NOW, POLICY)
    # then it is met, never breached
    assert not [o for o in result.outputs if o.type == BREACHED]
    responses = [o for o in result.outputs if o.type == RESPONSE]
    assert len(responses) == 1 and wire_data(responses[0].data)["within_sla"] is True
    assert result.fact is not None and result.fact.status == "met"


@PROPS
@given(histories)
def test_breach_iff_no_meaningful_response_by_the_deadline_for_plain_leads(
    events: list[InputEvent],
) -> None:
    # Only ownership and activity: no holds, exclusions or priority changes.
    base = events[0]
    assert isinstance(base, LeadCreated)
    lead = LeadCreated("c", "L", T0, source=base.source, priority=base.priority)
    rest = [e for e in events[1:] if isinstance(e, (OwnerAssigned, ActivityLogged))]
    result = evaluate("L", [lead, *rest], NOW, POLICY)
    breached = any(o.type == BREACHED for o in result.outputs)
    responses = [o for o in result.outputs if o.type == RESPONSE]
    conflicts = result.fact is not None and result.fact.status == "held"
    if conflicts:
        assert not breached
        return
    answered_in_time = bool(responses) and wire_data(responses[0].data)["within_sla"] is True
    assert breached != answered_in_time
