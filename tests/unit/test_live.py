"""Rule 14 and section 8 on the pure core: the live reconciliation against the replay's answers."""

from __future__ import annotations

import random
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla.codec import wire_data
from leadsla.domain.engine import (
    ALERT_TYPES,
    BREACHED,
    ESCALATION,
    MEASURED,
    RETRACTED,
    TASK_TYPES,
    WARNING,
    Output,
    evaluate,
)
from leadsla.domain.events import ActivityLogged, InputEvent, LeadCreated, OwnerAssigned
from leadsla.domain.instant import MINUTE, parse_rfc3339
from leadsla.domain.live import DAY, LiveConfig, LiveLead, step
from leadsla.domain.outputs import ALERT_RECORDS
from leadsla.domain.policy import Policy, RosterEntry

from .test_engine_properties import NOW, POLICY, histories

# Deliveries in these properties may be hours apart on the wall clock: no held event may time out.
PATIENT = LiveConfig(held_timeout=365 * DAY)

T0 = parse_rfc3339("2026-03-02T09:00:00Z")
ROSTER_POLICY = Policy(
    default_manager="mgr", version="live", roster={"alice": RosterEntry(backup="bob")}
)


def _id_of(lead_id: str, output: Output) -> str:
    return f"{lead_id}:{output.type}:{output.occurred_at}"


def _run(
    events: list[InputEvent], clock: list[int], policy: Policy
) -> tuple[LiveLead, list[Output]]:
    state = LiveLead("L")
    published: list[Output] = []
    for event, now in zip(events, clock, strict=True):
        result = step(state, event, now, policy, _id_of, config=PATIENT)
        state = result.state
        published.extend(result.outputs)
    return state, published


def test_rule_14_a_late_answer_retracts_the_breach_and_corrects_the_fact() -> None:
    # Given a lead owned by alice whose deadline passed on the wall clock without an answer
    created = LeadCreated("c", "L", T0, source="web_form")
    owner = OwnerAssigned("o", "L", T0 + MINUTE, owner_id="alice")
    state = LiveLead("L")
    state = step(state, created, T0, ROSTER_POLICY, _id_of).state
    state = step(state, owner, T0 + MINUTE, ROSTER_POLICY, _id_of).state
    tick = step(state, None, T0 + 61 * MINUTE, ROSTER_POLICY, _id_of)
    assert {o.type for o in tick.outputs} >= {WARNING, BREACHED, ESCALATION}
    # When alice's answer, made at minute 30, arrives only now
    answer = ActivityLogged(
        "a", "L", T0 + 30 * MINUTE, actor_id="alice", actor_kind="person", kind="call"
    )
    late = step(tick.state, answer, T0 + 62 * MINUTE, ROSTER_POLICY, _id_of)
    # Then the breach, its escalation task and the warning are retracted, on the right topics
    retracted = {wire_data(o.data)["retracted_type"] for o in late.outputs if o.type == RETRACTED}
    assert retracted == {WARNING, BREACHED, ESCALATION}
    assert all(
        wire_data(o.data)["reason"] == "late_activity" for o in late.outputs if o.type == RETRACTED
    )
    ids = {wire_data(o.data)["retracted_event_id"] for o in late.outputs if o.type == RETRACTED}
    assert _id_of("L", next(o for o in tick.outputs if o.type == BREACHED)) in ids
    # and the fact is corrected: met within the SLA, with the next version
    facts = [o for o in late.outputs if o.type == MEASURED]
    assert (
        wire_data(facts[-1].data)["status"] == "met"
        and wire_data(facts[-1].data)["within_sla"] is True
    )
    assert wire_data(facts[-1].data)["version"] == tick.state.version + 1
    assert late.state.standing == ()


def test_rule_15_a_repeated_input_publishes_nothing() -> None:
    created = LeadCreated("c", "L", T0, source="web_form")
    first = step(LiveLead("L"), created, T0, ROSTER_POLICY, _id_of)
    again = step(first.state, created, T0 + MINUTE, ROSTER_POLICY, _id_of)
    assert again.duplicate and again.outputs == [] and again.state == first.state


def test_transitions_older_than_the_alert_horizon_are_measured_not_alerted() -> None:
    # Given a worker starting two days after a lead that was never answered
    created = LeadCreated("c", "L", T0, source="web_form")
    result = step(LiveLead("L"), created, T0 + 2 * 1440 * MINUTE, ROSTER_POLICY, _id_of)
    alerts = [o for o in result.outputs if o.type in ALERT_TYPES | TASK_TYPES]
    # Then the breach is computed and published, but suppressed, and it stands for no one
    assert {o.type for o in alerts} >= {WARNING, BREACHED, ESCALATION}
    assert all(o.suppressed is True for o in alerts)
    assert result.state.fact is not None and result.state.fact.status == "breached"
    assert result.state.standing == ()


LIVE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@LIVE
@given(histories, st.randoms(use_true_random=False))
def test_section_8_live_worker_ends_where_the_replay_ends(
    events: list[InputEvent], rnd: random.Random
) -> None:
    # Given the same inputs delivered in any order, each read at some wall-clock instant
    arrival = list(events)
    rnd.shuffle(arrival)
    clock = sorted(rnd.randint(T0, NOW) for _ in arrival)
    state, _published = _run(arrival, clock, POLICY)
    state = step(state, None, NOW, POLICY, _id_of, config=PATIENT).state
    replay = evaluate("L", events, NOW, POLICY)
    # Then the final fact (all but version) is the replay's
    assert replay.fact is not None and state.fact is not None
    assert state.fact._replace(version=0) == replay.fact._replace(version=0)
    # and the alerts and tasks still standing are exactly the replay's (none were suppressed)
    wanted = sorted(
        (
            repr((o.type, o.occurred_at, sorted(wire_data(o.data).items())))
            for o in replay.outputs
            if o.type in ALERT_TYPES | TASK_TYPES
        ),
    )
    standing = sorted(
        repr((o.type, o.occurred_at, sorted(wire_data(o.data).items()))) for o in state.standing
    )
    assert standing == wanted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_a_remembered_digest_is_the_digest_of_that_very_output(
    history: list[InputEvent],
) -> None:
    # Given the outputs of a lead evaluated twice (the second time from the cache of digests)
    from leadsla.domain import live

    outputs = evaluate("L", history, NOW, POLICY).outputs
    first = [live._digest(o) for o in outputs]
    again = [live._digest(o) for o in evaluate("L", history, NOW, POLICY).outputs]
    # Then each digest is the one its own content gives, and outputs that differ differ
    assert first == again == [live._digest_text(o) for o in outputs]
    texts = {live._digest_text(o) for o in outputs}
    assert len(set(first)) == len(texts)


def _reference_digest(output: Output) -> str:
    """The digest's definition (``domain.live._digest``): its text as ``repr`` prints it."""
    import hashlib

    from leadsla.domain.instant import format_utc
    from leadsla.domain.outputs import TIME_FIELDS

    data = output.data
    shares = isinstance(data, ALERT_RECORDS) and data.contact_details
    pairs = [
        (name, format_utc(value) if name in TIME_FIELDS and isinstance(value, int) else value)
        for name, value in zip(data._fields, data, strict=True)
        if name != "contact_details" and (name != "display_name" or shares)
    ]
    text = repr((output.type, output.occurred_at, pairs))
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_the_digest_is_the_digest_of_the_outputs_repr(history: list[InputEvent]) -> None:
    from leadsla.domain import live

    for output in evaluate("L", history, NOW, POLICY).outputs:
        assert live._digest_text(output) == _reference_digest(output)
        odd = output._replace(type=cast(Any, 'it\'s "odd" \u00e9\n'))  # quotes, escapes
        assert live._digest_text(odd) == _reference_digest(odd)
        if isinstance(output.data, ALERT_RECORDS):  # an alert that shares the owner's name
            shared = output._replace(data=output.data._replace(contact_details=True))
            assert live._digest_text(shared) == _reference_digest(shared)


def test_equal_outputs_whose_numbers_differ_in_type_keep_their_own_digests() -> None:
    # Given two timers equal as values but one with an int, one with a float (60 == 60.0)
    from leadsla.domain import live
    from leadsla.domain.outputs import Timer

    [timer] = [
        o
        for o in evaluate("L", [LeadCreated("c", "L", T0, "web_form")], T0, POLICY).outputs
        if o.type == "sla.timer_started"
    ]
    data = timer.data
    assert isinstance(data, Timer)
    as_int = timer._replace(data=data._replace(target_minutes=60))
    as_float = timer._replace(data=data._replace(target_minutes=60.0))
    assert as_int == as_float
    # Then each digest is its own text's, whichever was digested first
    assert live._digest(as_int) == live._digest_text(as_int)
    assert live._digest(as_float) == live._digest_text(as_float)
    assert live._digest_text(as_int) != live._digest_text(as_float)


def test_step_builds_every_field_of_the_state() -> None:
    # step_many builds the new LiveLead field by field (dataclasses.replace is slow): a field
    # added to LiveLead must be added there too, then here.
    import dataclasses

    assert [f.name for f in dataclasses.fields(LiveLead)] == [
        "lead_id",
        "events",
        "published",
        "standing",
        "fact",
        "version",
        "dead_lettered",
        "next_due",
        "policy_version",
        "held_since",
        "held_records",
        "last_input_at",
        "retired",
        "legacy",
        "legacy_policy",
    ]
