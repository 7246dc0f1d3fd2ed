"""Rule 13: the engine decides by occurred_at; same-instant inputs first, in type order."""

from __future__ import annotations

from .runner import ReplayRunner, RunScenario, mentions_line
from .scenario import activity, approx, assert_at, assigned, created, policy, status, t, updated

NOW = t(240)


def test_rule_13_response_exactly_at_the_deadline_applies_before_the_breach_timer(
    run: RunScenario,
) -> None:
    """Rule 13: inputs at an instant apply before timers due then: +60 response is within."""
    events = [created(at=0), assigned(at=0), activity(at=60, actor="alice", kind="call")]
    r = run(events, policy(), now=NOW)
    r.none("sla.breached", "sla.escalation_task")
    assert r.one("sla.response_recorded")["data"]["within_sla"] is True


def test_rule_13_owner_assigned_at_creation_instant_applies_after_created(
    runner: ReplayRunner,
) -> None:
    """Rule 13: assignment line before the creation line, same instant: the lead has alice."""
    runner.seed = None
    events = [assigned(at=0, owner="alice"), created(at=0)]
    r = runner.run(events, policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["recipient_id"] == "alice"
    assert warning["data"]["reason"] == "owner_no_action"


def test_rule_13_assignment_before_activity_at_the_same_instant(run: RunScenario) -> None:
    """Rule 13: dave assigned and dave's email both at +10: the assignment applies first."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="dave", event_id="a-first-by-id"),
        assigned(at=10, owner="dave", event_id="z-last-by-id"),
    ]
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "dave"
    assert_at(response["occurred_at"], 10)
    r.none("sla.review_requested")


def test_rule_13_update_before_activity_at_the_same_instant(run: RunScenario) -> None:
    """Rule 13: consent declined and an email at +10: lead.updated first, so it is excluded."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="alice", event_id="a-activity"),
        updated(at=10, consent="declined", event_id="z-update"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.excluded")["data"]["reason"] == "consent_declined"
    assert r.final_fact()["status"] == "excluded"


def test_rule_13_activity_before_status_at_the_same_instant(run: RunScenario) -> None:
    """Rule 13: an email and status spam at +10: activity first, the lead was answered."""
    events = [
        created(at=0),
        assigned(at=0),
        status(at=10, status="spam", event_id="a-status"),
        activity(at=10, actor="alice", event_id="z-activity"),
    ]
    r = run(events, policy(), now=NOW)
    r.one("sla.response_recorded")
    assert r.final_fact()["within_sla"] is True


def test_rule_13_same_type_same_instant_ordered_by_event_id(run: RunScenario) -> None:
    """Rule 13: two answers at +10: the one with the smaller event_id is the first response."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="alice", kind="call", event_id="evt-b"),
        activity(at=10, actor="bob", kind="email", event_id="evt-a"),
    ]
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "bob"
    assert response["data"]["kind"] == "email"


def test_rule_13_events_before_creation_are_held_and_applied(run: RunScenario) -> None:
    """Rule 13: an assignment timed before the lead's creation applies when it is created."""
    events = [assigned(at=-10, owner="alice"), created(at=0)]
    r = run(events, policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["recipient_id"] == "alice"
    assert r.final_fact()["owner_id"] == "alice"
    assert r.exit_code == 0


def test_rule_13_answer_timed_before_creation_counts_at_creation(run: RunScenario) -> None:
    """Rule 13: alice emailed at -5, the lead was created at 0: response at 0, 0 seconds."""
    events = [assigned(at=-10, owner="alice"), activity(at=-5, actor="alice"), created(at=0)]
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert_at(response["occurred_at"], 0)
    assert response["data"]["response_seconds"] == approx(0)
    assert response["data"]["within_sla"] is True
    r.none("sla.pre_breach_warning", "sla.breached")
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["response_seconds"] == approx(0)
    assert_at(fact["responded_at"], 0)


def test_rule_13_unowned_answer_before_creation_takes_the_lead_at_creation(
    run: RunScenario,
) -> None:
    """Rules 2+13: dave answered before creation of an unowned lead: met at creation, owner dave."""
    events = [activity(at=-3, actor="dave", kind="call"), created(at=0)]
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "dave"
    assert response["data"]["response_seconds"] == approx(0)
    assert r.final_fact()["owner_id"] == "dave"


def test_rule_13_events_whose_lead_never_appears_are_dead_lettered(runner: ReplayRunner) -> None:
    """Rules 13+16: activity for a lead never created: reported with its line number, no output."""
    runner.seed = None
    events = [created("L-1", at=0), activity("L-ghost", at=5, actor="alice")]
    r = runner.run(events, policy(), now=t(10))
    assert r.exit_code == 0
    assert not [e for e in r.outputs if e["lead_id"] == "L-ghost"]
    assert mentions_line(r.stderr, 2), f"no dead letter naming line 2 on stderr:\n{r.stderr}"


def test_rule_13_created_line_last_in_file_still_starts_the_clock(runner: ReplayRunner) -> None:
    """Rule 13: all of a lead's other lines come before its lead.created in the file."""
    runner.seed = None
    events = [
        activity(at=70, actor="alice"),
        assigned(at=0, owner="alice"),
        created(at=0),
    ]
    r = runner.run(events, policy(), now=NOW)
    assert_at(r.one("sla.breached")["occurred_at"], 60)
    assert r.one("sla.response_recorded")["data"]["within_sla"] is False


def test_rule_13_closed_exactly_at_the_deadline_applies_before_the_breach(run: RunScenario) -> None:
    """Rules 9+13: closed at exactly +60: the input applies before the +60 timer: excluded.

    ASSUMPTION: like a response at the deadline, a close at the deadline comes before the breach
    timer, so the deadline has not yet "passed" (rule 9) when it applies.
    """
    events = [created(at=0), assigned(at=0), status(at=60, status="closed")]
    r = run(events, policy(), now=NOW)
    r.none("sla.breached", "sla.escalation_task")
    assert r.one("sla.excluded")["data"]["reason"] == "closed"
    assert r.final_fact()["status"] == "excluded"
