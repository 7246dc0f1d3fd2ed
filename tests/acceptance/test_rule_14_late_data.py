"""Rule 14 (replay side): late lines apply at their own occurred_at; replay never retracts."""

from __future__ import annotations

from .runner import ReplayRunner, RunScenario
from .scenario import activity, assert_at, assigned, autoresponder, created, policy, t

NOW = t(240)


def test_rule_14_response_written_after_later_events_applies_at_its_own_time(
    runner: ReplayRunner,
) -> None:
    """Rule 14: the +50 answer is the last line of the file: no breach, nothing to retract."""
    runner.seed = None
    events = [
        created(at=0),
        assigned(at=0),
        autoresponder(at=1),
        activity(at=200, actor="alice", kind="note", direction="internal"),
        activity(at=50, actor="alice", kind="call"),
    ]
    r = runner.run(events, policy(), now=NOW)
    assert_at(r.one("sla.response_recorded")["occurred_at"], 50)
    r.none("sla.breached", "sla.escalation_task", "sla.alert_retracted")
    assert r.final_fact()["status"] == "met"


def test_rule_14_owner_assignment_timed_before_an_activity_is_applied_first(
    runner: ReplayRunner,
) -> None:
    """Rule 14: alice's +20 call precedes (in the file) her +10 assignment: it is her answer."""
    runner.seed = None
    events = [
        created(at=0),
        assigned(at=0, owner="erin", backup="frank"),
        activity(at=20, actor="alice", kind="call"),
        assigned(at=10, owner="alice"),
    ]
    r = runner.run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "alice"
    r.none("sla.review_requested", "sla.alert_retracted")


def test_rule_14_replay_never_retracts_and_never_suppresses(run: RunScenario) -> None:
    """Section 7: replay has all input at once: no sla.alert_retracted, suppressed is false."""
    events = [
        created("L-1", at=-5000, source="pricing_page"),
        assigned("L-1", at=-5000, owner="erin"),
        activity("L-1", at=-4000, actor="erin"),
        created("L-2", at=0, category="complaint"),
        assigned("L-2", at=0),
    ]
    r = run(events, policy(), now=NOW)
    r.none("sla.alert_retracted")
    alerts_and_tasks = [
        e
        for e in r.outputs
        if e["type"]
        not in ("sla.measured", "sla.timer_started", "sla.timer_updated", "sla.response_recorded")
    ]
    assert alerts_and_tasks
    for event in alerts_and_tasks:
        assert event["data"].get("suppressed") is False, event
