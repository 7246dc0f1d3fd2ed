"""Rule 6: escalation after a breach: level 1 to backup (or manager), level 2 to the manager."""

from __future__ import annotations

from typing import Any

from .runner import Result, RunScenario
from .scenario import activity, assert_at, assigned, autoresponder, created, policy, status, t

NOW = t(240)


def _tasks(r: Result) -> list[dict[str, Any]]:
    return sorted(r.of_type("sla.escalation_task"), key=lambda e: e["data"]["level"])


def test_rule_06_level_1_to_backup_then_level_2_to_manager(run: RunScenario) -> None:
    """Rule 6: alice (backup bob, manager carol): L1 to bob at +60, L2 to carol at +90."""
    r = run([created(at=0), assigned(at=0, owner="alice")], policy(), now=NOW)
    level1, level2 = _tasks(r)
    assert_at(level1["occurred_at"], 60)
    assert level1["data"]["level"] == 1
    assert level1["data"]["assignee_id"] == "bob"
    assert level1["data"]["assignee_role"] == "backup_owner"
    assert level1["data"]["breach_reason"] == "owner_no_action"
    assert level1["data"]["apology_review_required"] is False
    assert_at(level2["occurred_at"], 90)
    assert level2["data"]["level"] == 2
    assert level2["data"]["assignee_id"] == "carol"
    assert level2["data"]["assignee_role"] == "manager"
    assert level1["data"]["task_id"] != level2["data"]["task_id"]
    fact = r.final_fact()
    assert fact["escalated"] is True
    assert fact["escalation_level"] == 2


def test_rule_06_only_level_1_before_the_level_2_point(run: RunScenario) -> None:
    """Rule 6: at +89 only the level-1 task exists."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(89))
    assert [task["data"]["level"] for task in _tasks(r)] == [1]
    assert r.final_fact()["escalation_level"] == 1


def test_rule_06_no_backup_level_1_and_level_2_both_to_manager(run: RunScenario) -> None:
    """Rule 6: erin has no backup: L1 to the manager, and L2 to the manager too."""
    events = [created(at=0), assigned(at=0, owner="erin", manager="mia")]
    r = run(events, policy(), now=NOW)
    level1, level2 = _tasks(r)
    assert level1["data"]["assignee_id"] == "mia"
    assert level1["data"]["assignee_role"] == "manager"
    assert level2["data"]["assignee_id"] == "mia"
    assert level2["data"]["assignee_role"] == "manager"
    assert level2["data"]["level"] == 2


def test_rule_06_unowned_lead_escalates_to_default_manager(run: RunScenario) -> None:
    """Rule 6: no owner at all: L1 and L2 to default_manager, breach_reason no_owner."""
    r = run([created(at=0)], policy(), now=NOW)
    level1, level2 = _tasks(r)
    for task in (level1, level2):
        assert task["data"]["assignee_id"] == "mgr"
        assert task["data"]["assignee_role"] == "manager"
        assert task["data"]["breach_reason"] == "no_owner"


def test_rule_06_backup_and_manager_from_the_event_beat_the_roster(run: RunScenario) -> None:
    """Rule 6: assignment names backup frank and manager mia: L1 to frank, L2 to mia."""
    events = [created(at=0), assigned(at=0, owner="alice", backup="frank", manager="mia")]
    r = run(events, policy(), now=NOW)
    level1, level2 = _tasks(r)
    assert level1["data"]["assignee_id"] == "frank"
    assert level2["data"]["assignee_id"] == "mia"


def test_rule_06_escalate_to_manager_after_from_policy(run: RunScenario) -> None:
    """Rule 6: escalate_to_manager_after = 1.0: L2 at +120, not at +90."""
    events = [created(at=0), assigned(at=0)]
    before = run(events, policy("escalate_to_manager_after = 1.0"), now=t(119))
    assert [task["data"]["level"] for task in _tasks(before)] == [1]
    after = run(events, policy("escalate_to_manager_after = 1.0"), now=t(120))
    assert_at(_tasks(after)[1]["occurred_at"], 120)


def test_rule_06_apology_review_when_an_autoresponder_reached_the_customer(
    run: RunScenario,
) -> None:
    """Rule 6: the customer got an autoresponder: both tasks say apology_review_required."""
    events = [created(at=0), assigned(at=0), autoresponder(at=1)]
    r = run(events, policy(), now=NOW)
    level1, level2 = _tasks(r)
    assert level1["data"]["apology_review_required"] is True
    assert level2["data"]["apology_review_required"] is True
    assert level1["data"]["breach_reason"] == "autoresponder_only"


def test_rule_06_apology_review_when_a_sequence_email_reached_the_customer(
    run: RunScenario,
) -> None:
    """Rule 6: a sequence-tool email in the owner's name is an automated touch too."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=5, actor="alice", kind="email", sequence_id="cadence-3"),
    ]
    r = run(events, policy(), now=t(70))
    assert _tasks(r)[0]["data"]["apology_review_required"] is True


def test_rule_06_answer_closes_the_open_task_and_cancels_level_2(run: RunScenario) -> None:
    """Rule 6: answered at +70: L1's task_closed (answered) at +70, no L2."""
    events = [created(at=0), assigned(at=0), activity(at=70, actor="bob", kind="call")]
    r = run(events, policy(), now=NOW)
    (level1,) = _tasks(r)
    closed = r.one("sla.task_closed")
    assert closed["data"]["task_id"] == level1["data"]["task_id"]
    assert closed["data"]["reason"] == "answered"
    assert_at(closed["occurred_at"], 70)


def test_rule_06_answer_after_level_2_closes_both_tasks(run: RunScenario) -> None:
    """Rule 6: answered at +100: both open tasks are closed with reason answered."""
    events = [created(at=0), assigned(at=0), activity(at=100, actor="alice", kind="call")]
    r = run(events, policy(), now=NOW)
    task_ids = {task["data"]["task_id"] for task in _tasks(r)}
    closed = r.of_type("sla.task_closed")
    assert {c["data"]["task_id"] for c in closed} == task_ids
    assert len(closed) == 2
    assert {c["data"]["reason"] for c in closed} == {"answered"}


def test_rule_06_exclusion_closes_the_open_task(run: RunScenario) -> None:
    """Rule 6: disqualified at +70 after the breach: task_closed (excluded), no L2."""
    events = [created(at=0), assigned(at=0), status(at=70, status="disqualified")]
    r = run(events, policy(), now=NOW)
    (level1,) = _tasks(r)
    closed = r.one("sla.task_closed")
    assert closed["data"]["task_id"] == level1["data"]["task_id"]
    assert closed["data"]["reason"] == "excluded"
    assert_at(closed["occurred_at"], 70)


def test_rule_06_reowning_closes_the_open_task(run: RunScenario) -> None:
    """Rule 6: re-owned at +70 after the breach: task_closed (reassigned); fact unchanged."""
    events = [created(at=0), assigned(at=0, owner="alice"), assigned(at=70, owner="dave")]
    r = run(events, policy(), now=t(80))
    (level1,) = _tasks(r)
    closed = r.one("sla.task_closed")
    assert closed["data"]["task_id"] == level1["data"]["task_id"]
    assert closed["data"]["reason"] == "reassigned"
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert fact["owner_id"] == "alice"


def test_rule_06_no_escalation_when_answered_in_time(run: RunScenario) -> None:
    """Rule 6: answered at +30: no task at all."""
    events = [created(at=0), assigned(at=0), activity(at=30, actor="alice")]
    r = run(events, policy(), now=NOW)
    r.none("sla.escalation_task", "sla.task_closed")
    fact = r.final_fact()
    assert fact["escalated"] is False


def test_rule_06_meeting_after_escalation_is_measured(run: RunScenario) -> None:
    """Rule 6 + section 5: a meeting booked after the escalation sets meeting_after_escalation."""
    events = [created(at=0), assigned(at=0), activity(at=75, actor="bob", kind="meeting_booked")]
    r = run(events, policy(), now=NOW)
    fact = r.final_fact()
    assert fact["meeting_after_escalation"] is True
    assert fact["escalated"] is True


def test_rule_06_no_meeting_after_escalation_when_not_escalated(run: RunScenario) -> None:
    """Rule 6 + section 5: a meeting booked in time is not 'after escalation'."""
    events = [created(at=0), assigned(at=0), activity(at=30, actor="alice", kind="meeting_booked")]
    r = run(events, policy(), now=NOW)
    assert r.final_fact()["meeting_after_escalation"] is False


def test_rule_06_apology_review_for_an_automated_touch_after_the_breach(run: RunScenario) -> None:
    """Rule 6: autoresponder at +70 (after L1): L1 said no apology, L2 at +90 says apology."""
    events = [created(at=0), assigned(at=0), autoresponder(at=70)]
    r = run(events, policy(), now=NOW)
    level1, level2 = _tasks(r)
    assert level1["data"]["apology_review_required"] is False
    assert level2["data"]["apology_review_required"] is True
