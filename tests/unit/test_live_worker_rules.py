"""The live-only rules of ``domain/live.py`` (rules 13, 16, 17, retirement, the two clocks).

Each test drives ``step`` (and, where the rule is about what a dead letter carries, the
``LeadProcessor`` that wraps it) with plain values: a lead's state, one input or none (a tick),
the guarded clock ``now`` and the wall clock ``wall``.
"""

from __future__ import annotations

import base64
import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla.codec import encode_input, wire_data
from leadsla.domain.engine import (
    ALERT_TYPES,
    BREACHED,
    ESCALATION,
    MEASURED,
    RETRACTED,
    TASK_TYPES,
    TIMER_UPDATED,
    WARNING,
    Output,
)
from leadsla.domain.events import (
    ActivityLogged,
    InputEvent,
    LeadCreated,
    OwnerAssigned,
    StatusChanged,
)
from leadsla.domain.instant import MINUTE, SECOND, Instant, format_utc, parse_rfc3339
from leadsla.domain.live import (
    DAY,
    LiveConfig,
    LiveLead,
    Step,
    policy_for,
    step,
    step_many,
)
from leadsla.domain.policy import Policy, TargetRule
from leadsla.streams.process import LeadProcessor, Origin
from leadsla.topics import LEADS_ACTIVITY, LEADS_OWNERSHIP, SLA_DLQ

from .test_engine_properties import NOW, POLICY, histories

T0 = parse_rfc3339("2026-03-02T09:00:00Z")
CONFIG = LiveConfig(held_timeout=120 * SECOND, retention=7 * DAY)
V1 = Policy(default_manager="mgr", version="v1", targets=(TargetRule(minutes=60),))
V2 = Policy(default_manager="mgr", version="v2", targets=(TargetRule(minutes=30),))
FUTURE = Policy(default_manager="mgr", version="v1", max_future_minutes=60)


def _id_of(lead_id: str, output: Output) -> str:
    return f"{lead_id}:{output.type}:{output.occurred_at}"


def _step(
    state: LiveLead,
    event: InputEvent | None,
    now: Instant,
    policy: Policy = V1,
    wall: Instant | None = None,
) -> Step:
    # The worker knows every policy it ran (its policies topic): v1 here, as after a switch.
    return step(state, event, now, policy, _id_of, wall=wall, config=CONFIG, known={"v1": V1})


def _types(result: Step) -> list[str]:
    return [o.type for o in result.outputs]


def _open_lead(policy: Policy = V1) -> LiveLead:
    """Created at T0, owned by alice (backup bob) from T0, read at T0."""
    state = _step(LiveLead("L"), LeadCreated("c", "L", T0, source="web_form"), T0, policy).state
    owner = OwnerAssigned("o", "L", T0, owner_id="alice", backup_owner_id="bob")
    return _step(state, owner, T0, policy).state


def _answer(at: Instant) -> ActivityLogged:
    return ActivityLogged("a", "L", at, actor_id="alice", actor_kind="person", kind="call")


def _met_lead(policy: Policy = V1, answered: Instant = T0 + 40 * MINUTE) -> LiveLead:
    """Answered by alice at +40 (within V1's 60 minutes, not within V2's 30), read then."""
    state = _step(_open_lead(policy), _answer(answered), answered, policy).state
    assert state.fact is not None and state.fact.status == "met"
    return state


# ------------------------------------------------------------------ rule 16: max_future_minutes


def test_rule_16_an_input_too_far_ahead_of_the_wall_clock_is_dead_lettered_never_applied() -> None:
    # Given an open lead and a policy allowing inputs at most 60 minutes ahead of the wall clock
    state = _open_lead(FUTURE)
    wall = T0 + 10 * MINUTE
    # When an answer stamped 61 minutes ahead of the wall clock arrives
    answer = _answer(wall + 61 * MINUTE)
    result = _step(state, answer, wall, FUTURE, wall=wall)
    # Then it is one dead letter with a readable reason, and nothing else happens
    assert [r.event for r in result.dead_letters] == [answer]
    reason = result.dead_letters[0].reason
    assert "max_future_minutes" in reason and "61 minutes ahead" in reason
    assert result.outputs == []
    assert result.state == state
    # and the lead is still open later: the answer was never applied
    later = _step(result.state, None, T0 + 70 * MINUTE, FUTURE).state
    assert later.fact is not None and later.fact.status == "breached"


def test_rule_16_an_input_exactly_at_the_limit_is_applied() -> None:
    state = _open_lead(FUTURE)
    wall = T0 + 10 * MINUTE
    answer = _answer(wall + 60 * MINUTE)
    result = _step(state, answer, wall, FUTURE, wall=wall)
    assert result.dead_letters == []
    assert answer in result.state.events


def test_rule_16_is_measured_on_the_wall_clock_not_the_guarded_clock() -> None:
    # Given a partition whose guarded clock is held back three days behind the wall clock
    state = _open_lead(FUTURE)
    wall = T0 + 3 * DAY
    now = T0 + 30 * MINUTE
    # When an input 10 minutes ahead of the wall (three days ahead of `now`) arrives
    update = StatusChanged("s", "L", wall + 10 * MINUTE, status="closed")
    result = _step(state, update, now, FUTURE, wall=wall)
    # Then it is accepted
    assert result.dead_letters == []
    assert update in result.state.events


def test_rule_16_a_future_lead_created_leaves_no_trace_in_the_state() -> None:
    created = LeadCreated("c", "L", T0 + 2 * DAY, source="web_form")
    result = _step(LiveLead("L"), created, T0, FUTURE, wall=T0)
    assert len(result.dead_letters) == 1
    assert result.state == LiveLead("L")
    assert result.state.wake(CONFIG) is None
    assert result.state.empty  # the worker stores nothing for it


# ------------------------------------------------------------------ rule 13: bounded wait


def test_rule_13_an_event_before_its_lead_is_held_and_wakes_the_lead_at_the_timeout() -> None:
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    result = _step(LiveLead("L"), owner, T0, wall=T0 + 5 * SECOND)
    assert result.held and result.outputs == [] and result.dead_letters == []
    assert result.state.held_since == T0 + 5 * SECOND
    assert result.state.wake(CONFIG) == T0 + 5 * SECOND + CONFIG.held_timeout


def test_rule_13_a_second_held_event_does_not_restart_the_wait() -> None:
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    state = _step(LiveLead("L"), owner, T0, wall=T0).state
    second = _step(state, _answer(T0 + MINUTE), T0 + MINUTE, wall=T0 + MINUTE)
    assert second.held
    assert second.state.held_since == T0
    assert second.state.wake(CONFIG) == T0 + CONFIG.held_timeout


def test_rule_13_held_events_are_applied_when_their_lead_arrives_in_time() -> None:
    owner = OwnerAssigned("o", "L", T0, owner_id="alice", backup_owner_id="bob")
    state = _step(LiveLead("L"), owner, T0, wall=T0).state
    created = LeadCreated("c", "L", T0, source="web_form")
    wall = T0 + CONFIG.held_timeout - 1
    result = _step(state, created, wall, wall=wall)
    assert result.dead_letters == [] and not result.held
    assert result.state.held_since is None and result.state.held_records == ()
    assert result.state.fact is not None and result.state.fact.owner_id == "alice"


def test_rule_13_held_events_go_to_the_dead_letters_after_the_wait_on_the_wall_clock() -> None:
    # Given two events of a lead whose lead.created never comes, the first read at T0
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    answer = _answer(T0 + MINUTE)
    state = _step(LiveLead("L"), owner, T0, wall=T0).state
    state = _step(state, answer, T0, wall=T0 + MINUTE).state
    # When the wall clock is one microsecond short of the wait, nothing happens
    early = _step(state, None, T0, wall=T0 + CONFIG.held_timeout - 1)
    assert early.dead_letters == [] and early.state.events == state.events
    # When it reaches the wait (the guarded clock held back a day: it does not matter)
    result = _step(state, None, T0 - DAY, wall=T0 + CONFIG.held_timeout)
    # Then both are dead letters saying why, and the lead keeps nothing of them
    assert sorted(r.event.event_id for r in result.dead_letters) == ["a", "o"]
    for rejection in result.dead_letters:
        assert rejection.reason.startswith("held 120 s waiting for lead.created of lead L")
    assert result.outputs == []
    assert result.state.events == () and result.state.held_since is None
    # it needs the clock only once more, to be forgotten a retention period after its input
    assert result.state.wake(CONFIG) == T0 + MINUTE + CONFIG.retention
    # and a later tick does not send them again
    assert _step(result.state, None, T0, wall=T0 + DAY).dead_letters == []


def test_rule_13_the_wait_is_not_measured_on_the_guarded_clock() -> None:
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    state = _step(LiveLead("L"), owner, T0, wall=T0).state
    # `now` far ahead, wall clock still inside the wait: nothing expires
    result = _step(state, None, T0 + DAY, wall=T0 + CONFIG.held_timeout - 1)
    assert result.dead_letters == []
    assert result.state.events == (owner,)


def _processor(policy: Policy = V1) -> LeadProcessor:
    return LeadProcessor(policy, config=CONFIG, source="lead-sla/test")


def _letters(records: list[tuple[str, bytes | None]]) -> list[dict[str, object]]:
    return [orjson.loads(value or b"null") for topic, value in records if topic == SLA_DLQ]


def test_rule_13_a_held_event_expires_with_its_original_bytes_and_origin() -> None:
    # Given two held events, read from different places, with bytes the codec would not write
    processor = _processor()
    table: dict[str, LiveLead] = {}
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    answer = _answer(T0 + MINUTE)
    raw_owner = b"  " + encode_input(owner) + b"\n"
    raw_answer = b"\t" + encode_input(answer)
    for value, topic, partition, offset in (
        (raw_owner, LEADS_OWNERSHIP, 2, 41),
        (raw_answer, LEADS_ACTIVITY, 2, 7),
    ):
        origin = Origin(topic, partition, offset, T0, key=b"L")
        handled = processor.on_input(value, origin, table.get, T0, T0)
        assert handled.records == [] and handled.state is not None
        table["L"] = handled.state
    # When the wall clock reaches the end of the wait
    wall = T0 + CONFIG.held_timeout
    tick = processor.on_tick(table["L"], T0, wall)
    # Then each is a dead letter carrying its own original bytes, topic, partition and offset
    letters = {
        str(letter["event_id"]): letter
        for letter in _letters([(r.topic, r.value) for r in tick.records])
    }
    assert set(letters) == {"o", "a"}
    assert base64.b64decode(str(letters["o"]["original_base64"])) == raw_owner
    assert (letters["o"]["topic"], letters["o"]["partition"], letters["o"]["offset"]) == (
        LEADS_OWNERSHIP,
        2,
        41,
    )
    assert base64.b64decode(str(letters["a"]["original_base64"])) == raw_answer
    assert (letters["a"]["topic"], letters["a"]["offset"]) == (LEADS_ACTIVITY, 7)
    for letter in letters.values():
        assert letter["lead_id"] == "L"
        assert letter["received_at"] == format_utc(wall)
        assert "waiting for lead.created" in str(letter["reason"])
        assert "re-encoded" not in str(letter["reason"])
    assert processor.counts.dead_letters == {"held": 2}
    assert tick.state is not None and tick.state.held_records == ()


# ------------------------------------------------------------------ retirement


def test_a_decided_lead_without_timers_retires_after_retention_keeping_its_fact() -> None:
    # Given a lead met at +40 (no timer left), its last input read at +40
    state = _met_lead()
    assert state.next_due is None
    last = state.last_input_at
    assert last == T0 + 40 * MINUTE
    assert state.wake(CONFIG) == last + CONFIG.retention
    # When the wall clock is one microsecond short of the retention, it is kept as it is
    kept = _step(state, None, last + CONFIG.retention - 1, wall=last + CONFIG.retention - 1)
    assert not kept.state.retired and kept.state.events == state.events
    # When it reaches the retention
    result = _step(state, None, last + CONFIG.retention, wall=last + CONFIG.retention)
    # Then only the final fact remains, nothing is published, and it needs the clock no more
    retired = result.state
    assert retired.retired
    assert retired.fact == state.fact and retired.version == state.version
    assert retired.events == () and retired.published == frozenset() and retired.standing == ()
    assert result.outputs == [] and result.dead_letters == []
    assert retired.wake(CONFIG) is None


def test_a_late_input_for_a_retired_lead_is_dead_lettered_with_a_reason() -> None:
    state = _met_lead()
    wall = T0 + 8 * DAY
    retired = _step(state, None, wall, wall=wall).state
    assert retired.retired
    late = StatusChanged("s", "L", T0 + 50 * MINUTE, status="converted")
    result = _step(retired, late, wall + 1, wall=wall + 1)
    assert [r.event for r in result.dead_letters] == [late]
    assert "was retired" in result.dead_letters[0].reason
    assert "7 days" in result.dead_letters[0].reason
    assert result.outputs == [] and result.state == retired
    # a tick on a retired lead changes nothing either
    assert _step(retired, None, wall + DAY, wall=wall + DAY) == Step(state=retired)


def test_a_late_input_for_a_retired_lead_is_counted_as_retired_by_the_processor() -> None:
    processor = _processor()
    wall = T0 + 8 * DAY
    retired = _step(_met_lead(), None, wall, wall=wall).state
    late = StatusChanged("s", "L", T0 + 50 * MINUTE, status="converted")
    origin = Origin(LEADS_ACTIVITY, 0, 3, wall, key=b"L")
    handled = processor.on_input(encode_input(late), origin, {"L": retired}.get, wall, wall)
    assert [r.topic for r in handled.records] == [SLA_DLQ]
    assert processor.counts.dead_letters == {"retired": 1}


def test_a_decided_lead_with_a_timer_still_to_come_is_not_retired() -> None:
    # Given a lead breached at +60 whose manager escalation (+90) has not fired: the guarded
    # clock is held back at +61 while the wall clock is far past the retention
    state = _step(_open_lead(), None, T0 + 61 * MINUTE).state
    assert state.decided and state.next_due == T0 + 90 * MINUTE
    wall = T0 + 61 * MINUTE + CONFIG.retention + DAY
    result = _step(state, None, T0 + 61 * MINUTE, wall=wall)
    assert not result.state.retired
    assert result.state.next_due == T0 + 90 * MINUTE


def test_an_open_lead_is_never_retired() -> None:
    slow = Policy(default_manager="mgr", version="v1", targets=(TargetRule(1e6),))
    state = _open_lead(slow)
    wall = T0 + 30 * DAY
    result = _step(state, None, wall, slow, wall=wall)
    assert not result.state.retired
    assert result.state.events == state.events


def test_retention_counts_from_the_last_input() -> None:
    state = _met_lead()
    later = T0 + 5 * DAY
    note = ActivityLogged(
        "n", "L", later, actor_id="alice", actor_kind="person", kind="note", direction="internal"
    )
    state = _step(state, note, later, wall=later).state
    assert state.last_input_at == later
    first_due = T0 + 40 * MINUTE + CONFIG.retention
    assert not _step(state, None, first_due, wall=first_due).state.retired
    assert _step(state, None, later + CONFIG.retention, wall=later + CONFIG.retention).state.retired


# ------------------------------------------------------------------ rule 17: policy changes


def test_rule_17_policy_for_keeps_a_decided_lead_on_its_known_old_policy() -> None:
    decided = _met_lead()
    known = {"v1": V1}
    assert policy_for(decided, V2, known) is V1
    # an open lead takes the new policy; so does a lead already under it, or never evaluated
    assert policy_for(_open_lead(), V2, known) is V2
    assert policy_for(LiveLead("L"), V2, known) is V2
    assert policy_for(_met_lead(V2, T0 + 20 * MINUTE), V2, known) is V2


def test_rule_17_a_decided_lead_keeps_its_decision_and_everything_published() -> None:
    # Given a lead met under v1 (answered at +40 of 60 minutes) that would be breached under v2
    state = _met_lead()
    # When the worker runs v2 and the lead's clock moves
    policy = policy_for(state, V2, {"v1": V1})
    result = _step(state, None, T0 + 2 * 60 * MINUTE, policy)
    # Then nothing is published or retracted, and its fact stands under v1
    assert result.outputs == []
    assert result.state.fact == state.fact
    assert result.state.fact is not None and result.state.fact.policy_version == "v1"
    assert result.state.standing == state.standing


def test_rule_17_a_breached_lead_keeps_its_breach_under_a_more_lenient_policy() -> None:
    # Given a lead breached under v2 (30 minutes) at +31, its escalation standing
    state = _step(_open_lead(V2), None, T0 + 31 * MINUTE, V2).state
    assert state.fact is not None and state.fact.status == "breached"
    standing = state.standing
    assert {o.type for o in standing} >= {BREACHED, ESCALATION}
    # When the worker goes back to v1 (60 minutes), where it would not have been breached yet
    policy = policy_for(state, V1, {"v2": V2})
    result = _step(state, None, T0 + 32 * MINUTE, policy)
    # Then nothing is retracted and the breach stands
    assert RETRACTED not in _types(result)
    assert result.state.fact is not None and result.state.fact.status == "breached"


def test_rule_17_a_decided_lead_whose_old_policy_is_unknown_keeps_its_decision() -> None:
    # Given a lead met under v1, and a worker on v2 that does not know v1 any more
    state = _met_lead()
    policy = policy_for(state, V2, {})
    result = _step(state, None, T0 + 2 * 60 * MINUTE, policy)
    # Then (SPEC rule 17, worker.known_policies: "such a lead is then kept as it is") it keeps
    # its decision and publishes no new alert
    assert not [o for o in result.outputs if o.type in ALERT_TYPES | TASK_TYPES]
    assert result.state.fact is not None and result.state.fact.status == "met"


def test_rule_17_an_open_lead_is_retargeted_once_without_a_second_warning() -> None:
    # Given an open lead warned under v1 at +45 (deadline +60), read at +46
    state = _step(_open_lead(), None, T0 + 46 * MINUTE).state
    assert state.fact is not None and state.fact.pre_breach_warned is True
    assert [o.type for o in state.standing] == [WARNING]
    # When the worker switches to v2 (30 minutes) at +50
    now = T0 + 50 * MINUTE
    result = _step(state, None, now, policy_for(state, V2, {"v1": V1}))
    # Then one sla.timer_updated carries the new targets, at the switch
    updates = [o for o in result.outputs if o.type == TIMER_UPDATED]
    assert len(updates) == 1
    assert updates[0].occurred_at == now
    assert wire_data(updates[0].data)["target_minutes"] == 30
    assert wire_data(updates[0].data)["due_at"] == format_utc(T0 + 30 * MINUTE)
    # no second warning, nothing retracted
    assert WARNING not in _types(result)
    assert RETRACTED not in _types(result)
    # and the deadline already past under v2 breaches at once (in this very step)
    breaches = [o for o in result.outputs if o.type == BREACHED]
    assert len(breaches) == 1 and breaches[0].occurred_at <= now
    assert wire_data(breaches[0].data)["due_at"] == format_utc(T0 + 30 * MINUTE)
    assert result.state.fact is not None
    assert result.state.fact.status == "breached"
    assert result.state.fact.policy_version == "v2"
    # and the next tick under v2 publishes none of it again
    again = _step(result.state, None, now, V2)
    assert [o for o in again.outputs if o.type != MEASURED] == []


def test_rule_17_an_open_lead_not_yet_warned_gets_the_new_warning_once() -> None:
    # Given an open lead read at +20 under v1 (warning at +45): not warned
    state = _step(_open_lead(), None, T0 + 20 * MINUTE).state
    assert state.fact is not None and state.fact.pre_breach_warned is False
    # When v2 (warning at +22.5, deadline +30) takes over at +25
    now = T0 + 25 * MINUTE
    result = _step(state, None, now, policy_for(state, V2, {"v1": V1}))
    # Then the lead is re-targeted and warned once; not breached yet
    assert _types(result).count(TIMER_UPDATED) == 1
    assert _types(result).count(WARNING) == 1
    assert BREACHED not in _types(result)
    assert result.state.next_due == T0 + 30 * MINUTE


# ------------------------------------------------------------------ the two clocks


def test_the_guarded_clock_bounds_the_timers_while_the_wall_clock_runs_ahead() -> None:
    # Given an open lead (warning +45, deadline +60) and a partition held back at +30 while the
    # wall clock is five hours later
    state = _open_lead()
    result = _step(state, None, T0 + 30 * MINUTE, wall=T0 + 5 * 60 * MINUTE)
    # Then nothing fires past `now`
    assert [o for o in result.outputs if o.type != MEASURED] == []
    assert result.state.next_due == T0 + 45 * MINUTE
    # and when `now` moves to +61, the warning and breach fire at their own instants
    later = _step(result.state, None, T0 + 61 * MINUTE, wall=T0 + 5 * 60 * MINUTE)
    fired = {o.type: o for o in later.outputs}
    assert fired[WARNING].occurred_at == T0 + 45 * MINUTE
    assert fired[BREACHED].occurred_at == T0 + 60 * MINUTE
    assert all(o.occurred_at <= T0 + 61 * MINUTE for o in later.outputs)


@pytest.mark.parametrize("held_back", [0, 1, 44, 45, 59, 60, 89, 90])
def test_no_output_is_ever_timed_after_the_guarded_clock(held_back: int) -> None:
    now = T0 + held_back * MINUTE
    result = _step(_open_lead(), None, now, wall=T0 + 3 * DAY)
    assert all(o.occurred_at <= now for o in result.outputs)
    assert (WARNING in _types(result)) == (held_back >= 45)
    assert (BREACHED in _types(result)) == (held_back >= 60)
    assert _types(result).count(ESCALATION) == (held_back >= 60) + (held_back >= 90)


def test_suppression_is_decided_on_the_wall_clock() -> None:
    # Given the same lead breached at +60 and the same guarded clock (+61)
    now = T0 + 61 * MINUTE

    def alerts(wall: Instant) -> tuple[list[Output], LiveLead]:
        result = _step(_open_lead(), None, now, wall=wall)
        out = [o for o in result.outputs if o.type in ALERT_TYPES | TASK_TYPES]
        assert {o.type for o in out} >= {WARNING, BREACHED, ESCALATION}
        return out, result.state

    # When the wall clock is close to the transitions, they are alerts that stand
    live, live_state = alerts(now + MINUTE)
    assert all(o.suppressed is False for o in live)
    assert len(live_state.standing) == len(live)
    # When the wall clock is beyond the alert horizon (1440 minutes) past them, they are
    # measured, not alerted, and stand for no one
    old, old_state = alerts(T0 + 60 * MINUTE + 1441 * MINUTE)
    assert all(o.suppressed is True for o in old)
    assert old_state.standing == ()
    # and the fact is the same either way
    assert old_state.fact == live_state.fact


def test_without_a_wall_clock_the_guarded_clock_is_the_wall_clock() -> None:
    now = T0 + 61 * MINUTE + 1441 * MINUTE
    with_default = _step(_open_lead(), None, now)
    explicit = _step(_open_lead(), None, now, wall=now)
    assert with_default == explicit
    alerts = [o for o in with_default.outputs if o.type in ALERT_TYPES | TASK_TYPES]
    horizon = now - 1440 * MINUTE
    assert {o.type for o in alerts if o.occurred_at < horizon} >= {WARNING, BREACHED}
    for output in alerts:
        assert output.suppressed is (output.occurred_at < horizon)


def test_rule_14_after_a_policy_switch_a_late_answer_retracts_the_old_warning() -> None:
    # Given an open lead warned under v1 at +45, switched to v2 (30 minutes) at +50
    state = _step(_open_lead(), None, T0 + 46 * MINUTE).state
    warning = next(o for o in state.standing if o.type == WARNING)
    state = _step(state, None, T0 + 50 * MINUTE, policy_for(state, V2, {"v1": V1})).state
    # When alice's answer made at +10 (before every warning point) arrives at +51
    result = _step(state, _answer(T0 + 10 * MINUTE), T0 + 51 * MINUTE, V2)
    assert result.state.fact is not None and result.state.fact.status == "met"
    # Then every alert published for the lead that is no longer true is retracted, the v1
    # warning included (rule 14: the answer, not the policy change, made it untrue)
    retracted = {
        wire_data(o.data)["retracted_event_id"] for o in result.outputs if o.type == RETRACTED
    }
    assert _id_of("L", warning) in retracted


def test_rule_13_an_input_after_the_wait_expires_the_held_events_with_it() -> None:
    # Given an event held since T0
    processor = _processor()
    table: dict[str, LiveLead] = {}
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    raw_owner = encode_input(owner) + b" "
    first = processor.on_input(
        raw_owner, Origin(LEADS_OWNERSHIP, 0, 3, T0, key=b"L"), table.get, T0, T0
    )
    assert first.state is not None
    table["L"] = first.state
    # When another event of the lead (still no lead.created) is read after the wait
    wall = T0 + CONFIG.held_timeout + SECOND
    answer = _answer(T0 + MINUTE)
    raw_answer = encode_input(answer)
    handled = processor.on_input(
        raw_answer, Origin(LEADS_ACTIVITY, 0, 9, wall, key=b"L"), table.get, wall, wall
    )
    # Then both are dead letters, each with its own bytes and origin, and nothing waits any more
    letters = {
        str(letter["event_id"]): letter
        for letter in _letters([(r.topic, r.value) for r in handled.records])
    }
    assert set(letters) == {"o", "a"}
    assert base64.b64decode(str(letters["o"]["original_base64"])) == raw_owner
    assert (letters["o"]["topic"], letters["o"]["offset"]) == (LEADS_OWNERSHIP, 3)
    assert base64.b64decode(str(letters["a"]["original_base64"])) == raw_answer
    assert (letters["a"]["topic"], letters["a"]["offset"]) == (LEADS_ACTIVITY, 9)
    assert handled.state is not None
    assert handled.state.events == () and handled.state.held_records == ()
    # only forgetting is left (a retention period after the last input)
    assert handled.state.wake(CONFIG) == handled.state.last_input_at + CONFIG.retention  # type: ignore[operator]


# ------------------------------------------------------------------ a batch of inputs at once


def test_step_many_never_publishes_what_a_later_input_of_the_batch_retracts() -> None:
    # Given a lead created at T0 and read with alice's +30 answer in one batch at +61
    owner = OwnerAssigned("o", "L", T0, owner_id="alice", backup_owner_id="bob")
    created = LeadCreated("c", "L", T0, source="web_form")
    now = T0 + 61 * MINUTE
    batch = step_many(LiveLead("L"), [created, owner], now, V1, _id_of, config=CONFIG)
    assert BREACHED in _types(batch)  # alone, the batch breaches
    together = step_many(
        LiveLead("L"), [created, owner, _answer(T0 + 30 * MINUTE)], now, V1, _id_of, config=CONFIG
    )
    # Then neither the breach nor a retraction of it is published; the fact is met
    assert BREACHED not in _types(together) and RETRACTED not in _types(together)
    assert together.state.fact is not None and together.state.fact.status == "met"
    # while one input at a time publishes the breach and then retracts it
    state = LiveLead("L")
    seen: list[str] = []
    for event in (created, owner, _answer(T0 + 30 * MINUTE)):
        result = _step(state, event, now)
        seen += _types(result)
        state = result.state
    assert BREACHED in seen and RETRACTED in seen
    assert state.fact is not None  # the same fact (its published version counts differ)
    assert state.fact._replace(version=0) == together.state.fact._replace(version=0)


def test_step_many_refuses_only_the_future_input_of_a_batch() -> None:
    state = _open_lead(FUTURE)
    wall = T0 + 10 * MINUTE
    far = _answer(wall + 2 * 60 * MINUTE)
    result = step_many(state, [_NOTE, far], wall, FUTURE, _id_of, wall=wall, config=CONFIG)
    assert [r.event for r in result.dead_letters] == [far]
    assert _NOTE in result.state.events and far not in result.state.events
    # a batch of repeats only is a duplicate, counted, and changes nothing
    again = step_many(result.state, [_NOTE, _NOTE], wall, FUTURE, _id_of, wall=wall, config=CONFIG)
    assert again.duplicate and again.duplicates == 2 and again.state == result.state


_NOTE = ActivityLogged(
    "n", "L", T0 + 5 * MINUTE, actor_id="alice", actor_kind="person", kind="note"
)


def test_step_many_counts_the_repeats_of_a_batch_with_new_input() -> None:
    state = _open_lead()
    wall = T0 + 10 * MINUTE
    result = step_many(
        state, [_NOTE, state.events[0], _NOTE], wall, V1, _id_of, wall=wall, config=CONFIG
    )
    assert _NOTE in result.state.events and not result.duplicate
    assert result.duplicates == 2


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories, st.randoms(use_true_random=False), st.integers(min_value=1, max_value=4))
def test_step_many_ends_where_one_at_a_time_ends(
    events: list[InputEvent], rnd: random.Random, batches: int
) -> None:
    # Given a lead's inputs in any order, read at one instant, in a few batches or one by one
    arrival = list(events)
    rnd.shuffle(arrival)
    patient = LiveConfig(held_timeout=365 * DAY, retention=365 * DAY)
    single = LiveLead("L")
    for event in arrival:
        single = step(single, event, NOW, POLICY, _id_of, config=patient).state
    batched = LiveLead("L")
    size = -(-len(arrival) // batches)
    for start in range(0, len(arrival), size):
        chunk = arrival[start : start + size]
        batched = step_many(batched, chunk, NOW, POLICY, _id_of, config=patient).state
    # Then the fact, what stands and what the lead needs next are the same
    assert (batched.fact is None) == (single.fact is None)
    if batched.fact is not None and single.fact is not None:  # (published versions may differ)
        assert batched.fact._replace(version=0) == single.fact._replace(version=0)
    assert sorted(map(repr, batched.standing)) == sorted(map(repr, single.standing))
    assert batched.next_due == single.next_due
    assert set(batched.events) == set(single.events)


def test_what_is_left_of_held_inputs_whose_lead_never_came_is_forgotten_after_retention() -> None:
    # Given an owner assignment held for a lead that never comes, dead-lettered at the wait's end
    owner = OwnerAssigned("o", "L", T0, owner_id="alice")
    state = _step(LiveLead("L"), owner, T0, wall=T0).state
    expired_at = T0 + CONFIG.held_timeout
    expired = _step(state, None, expired_at, wall=expired_at)
    assert [r.event for r in expired.dead_letters] == [owner]
    left = expired.state
    # only the memory of that dead letter remains, and it still wakes once more
    assert left.events == () and left.fact is None and left.dead_lettered
    assert left.wake(CONFIG) == T0 + CONFIG.retention
    # a repeat of the held input inside the retention is not dead-lettered twice
    again = _step(left, owner, expired_at + 1, wall=expired_at + 1).state
    assert _step(again, None, expired_at * 2, wall=expired_at * 2).dead_letters == []
    # When the retention has passed without input
    last = T0 + CONFIG.retention
    kept = _step(left, None, last - 1, wall=last - 1)
    assert kept.state == left
    gone = _step(left, None, last, wall=last)
    # Then nothing is left of the lead (the worker deletes its state), and nothing is published
    assert gone.state == LiveLead("L") and gone.state.empty  # the worker deletes it
    assert not left.empty
    assert gone.outputs == [] and gone.dead_letters == []
    assert gone.state.wake(CONFIG) is None
