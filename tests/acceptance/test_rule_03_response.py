"""Rule 3: the first meaningful response stops the clock; a late one is recorded, stays breached."""

from __future__ import annotations

from typing import Any

from .runner import RunScenario
from .scenario import activity, approx, assert_at, assigned, created, policy, t

NOW = t(240)


def _owned(*more: dict[str, Any], source: str = "web_form") -> list[dict[str, Any]]:
    return [created(at=0, source=source), assigned(at=0, owner="alice"), *more]


def test_rule_03_response_within_window_stops_the_clock(run: RunScenario) -> None:
    """Rule 3: answered at +20: response_recorded (within_sla, 1200 s), nothing else fires."""
    r = run(_owned(activity(at=20, actor="alice")), policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert_at(response["occurred_at"], 20)
    assert response["data"]["within_sla"] is True
    assert response["data"]["response_seconds"] == approx(1200)
    assert response["data"]["business_seconds"] is None
    r.none("sla.pre_breach_warning", "sla.breached", "sla.escalation_task", "sla.stale_lead")
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["eligible"] is True
    assert fact["within_sla"] is True
    assert fact["response_seconds"] == approx(1200)
    assert_at(fact["responded_at"], 20)
    assert fact["breach_reason"] is None


def test_rule_03_response_exactly_at_deadline_is_within_sla(run: RunScenario) -> None:
    """Rules 3+13: a response at exactly +60 is within the SLA: no breach, no escalation."""
    r = run(_owned(activity(at=60, actor="alice")), policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["within_sla"] is True
    assert response["data"]["response_seconds"] == approx(3600)
    r.none("sla.breached", "sla.escalation_task")
    r.one("sla.pre_breach_warning")  # the warning at +45 had fired
    assert r.final_fact()["status"] == "met"


def test_rule_03_response_one_second_after_deadline_is_late(run: RunScenario) -> None:
    """Rule 3: a response at +60m01s is recorded with within_sla false; the lead stays breached."""
    late = "2026-03-02T10:00:01Z"
    r = run(_owned(activity(at=late, actor="alice")), policy(), now=NOW)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 60)
    response = r.one("sla.response_recorded")
    assert_at(response["occurred_at"], late)
    assert response["data"]["within_sla"] is False
    assert response["data"]["response_seconds"] == approx(3601)
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert fact["within_sla"] is False
    assert fact["response_seconds"] == approx(3601)
    assert_at(fact["responded_at"], late)
    assert fact["breach_reason"] == "owner_no_action"


def test_rule_03_late_response_cancels_level_2_and_stale(run: RunScenario) -> None:
    """Rule 3: answered at +70 (late): no level-2 task at +90, no stale alert at +120."""
    events = _owned(activity(at=70, actor="alice", kind="call"), source="pricing_page")
    r = run(events, policy(), now=NOW)
    r.one("sla.breached")
    tasks = r.of_type("sla.escalation_task")
    assert [task["data"]["level"] for task in tasks] == [1]
    r.none("sla.stale_lead")
    assert r.one("sla.response_recorded")["data"]["within_sla"] is False
    fact = r.final_fact()
    assert fact["stale"] is False
    assert fact["escalation_level"] == 1


def test_rule_03_only_the_first_meaningful_response_is_recorded(run: RunScenario) -> None:
    """Rule 3: two responses: one response_recorded, for the first."""
    events = _owned(
        activity(at=20, actor="alice", kind="call"),
        activity(at=25, actor="bob", kind="email"),
        activity(at=90, actor="alice", kind="meeting_booked"),
    )
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "alice"
    assert response["data"]["kind"] == "call"
    assert_at(response["occurred_at"], 20)


def test_rule_03_response_at_the_warning_point_prevents_the_warning(run: RunScenario) -> None:
    """Rules 3+13: a response exactly at the warning point (+45) applies before the warning."""
    r = run(_owned(activity(at=45, actor="alice")), policy(), now=NOW)
    r.none("sla.pre_breach_warning", "sla.breached")
    assert r.final_fact()["pre_breach_warned"] is False


def test_rule_03_response_after_warning_before_deadline_is_met(run: RunScenario) -> None:
    """Rule 3: a response at +50: the warning stood, the lead is met within SLA."""
    r = run(_owned(activity(at=50, actor="alice")), policy(), now=NOW)
    r.one("sla.pre_breach_warning")
    r.none("sla.breached")
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["pre_breach_warned"] is True
