"""Rule 12: changes after creation: priority re-picks the target, new owners are re-addressed."""

from __future__ import annotations

from typing import Any

from .runner import Result, RunScenario, parse_ts
from .scenario import activity, assert_at, assigned, created, dt, policy, t, updated

NOW = t(300)


def _updates_from(r: Result, at: float | str) -> list[dict[str, Any]]:
    """timer_updated outputs at or after ``at`` (owner assignments also update the timer)."""
    return [e for e in r.of_type("sla.timer_updated") if parse_ts(e["occurred_at"]) >= dt(at)]


TARGETS = """
[[targets]]
priority = "urgent"
minutes = 15

[[targets]]
priority = "high"
minutes = 30

[[targets]]
priority = "low"
minutes = 120
"""


def test_rule_12_priority_change_repicks_the_target_from_the_original_occurred_at(
    run: RunScenario,
) -> None:
    """Rule 12: normal (60) -> high (30) at +10: timer_updated due +30; warning +22.5; breach +30."""
    events = [created(at=0), assigned(at=0), updated(at=10, priority="high")]
    r = run(events, policy("", TARGETS), now=NOW)
    (upd,) = _updates_from(r, 10)
    assert_at(upd["occurred_at"], 10)
    assert_at(upd["data"]["due_at"], 30)
    assert_at(upd["data"]["warn_at"], 22.5)
    assert upd["data"]["target_minutes"] == 30
    assert upd["data"]["priority"] == "high"
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 22.5)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 30)
    assert breach["data"]["priority"] == "high"
    fact = r.final_fact()
    assert fact["priority"] == "high"
    assert_at(fact["due_at"], 30)


def test_rule_12_priority_lowered_moves_the_deadline_later(run: RunScenario) -> None:
    """Rule 12: normal -> low (120 min) at +30: no breach at +60, breach at +120."""
    events = [created(at=0), assigned(at=0), updated(at=30, priority="low")]
    r = run(events, policy("", TARGETS), now=NOW)
    (upd,) = _updates_from(r, 30)
    assert_at(upd["data"]["due_at"], 120)
    assert_at(r.one("sla.breached")["occurred_at"], 120)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 90)


def test_rule_12_new_deadline_already_past_breaches_at_once(run: RunScenario) -> None:
    """Rule 12: normal -> urgent (15 min) at +20: breach at +20 (the update), due_at +15."""
    events = [created(at=0), assigned(at=0), updated(at=20, priority="urgent")]
    r = run(events, policy("", TARGETS), now=NOW)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 20)
    assert_at(breach["data"]["due_at"], 15)
    r.none("sla.pre_breach_warning")
    level1 = next(e for e in r.of_type("sla.escalation_task") if e["data"]["level"] == 1)
    assert_at(level1["occurred_at"], 20)


def test_rule_12_priority_change_after_answer_changes_nothing(run: RunScenario) -> None:
    """Rule 12: answered at +10, made urgent at +20: no timer_updated, no breach, still met."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="alice"),
        updated(at=20, priority="urgent"),
    ]
    r = run(events, policy("", TARGETS), now=NOW)
    assert _updates_from(r, 20) == []
    r.none("sla.breached")
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["within_sla"] is True
    assert_at(fact["due_at"], 60)


def test_rule_12_priority_change_after_breach_changes_nothing(run: RunScenario) -> None:
    """Rule 12: breached at +60, lowered at +70: no timer_updated, one breach, still breached."""
    events = [created(at=0), assigned(at=0), updated(at=70, priority="low")]
    r = run(events, policy("", TARGETS), now=NOW)
    assert _updates_from(r, 70) == []
    r.one("sla.breached")
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert_at(fact["due_at"], 60)


def test_rule_12_new_owner_readdresses_later_alerts(run: RunScenario) -> None:
    """Rule 12: alice replaced by erin at +30: warning, breach, escalation follow erin."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        assigned(at=30, owner="erin", manager="mia"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.pre_breach_warning")["data"]["recipient_id"] == "erin"
    breach = r.one("sla.breached")
    assert breach["data"]["owner_id"] == "erin"
    assert breach["data"]["backup_owner_id"] is None
    assert breach["data"]["manager_id"] == "mia"
    level1 = next(e for e in r.of_type("sla.escalation_task") if e["data"]["level"] == 1)
    assert level1["data"]["assignee_id"] == "mia"
    assert level1["data"]["assignee_role"] == "manager"


def test_rule_12_owner_change_after_answer_changes_nothing(run: RunScenario) -> None:
    """Rule 12: answered by alice at +10, re-owned to erin at +20: the fact keeps alice, met."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="alice"),
        assigned(at=20, owner="erin"),
    ]
    r = run(events, policy(), now=NOW)
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["owner_id"] == "alice"


def test_rule_12_target_picked_by_source_and_first_match_wins(run: RunScenario) -> None:
    """Section 3 targets: first matching rule wins; no match: 60 minutes."""
    tables = """
[[targets]]
source = "chat"
priority = "urgent"
minutes = 2

[[targets]]
source = "chat"
minutes = 5

[[targets]]
priority = "urgent"
minutes = 10
"""
    events = [
        created("L-chat-urgent", at=0, source="chat", priority="urgent"),
        created("L-chat", at=0, source="chat"),
        created("L-form-urgent", at=0, source="web_form", priority="urgent"),
        created("L-email", at=0, source="email"),
    ]
    r = run(events, policy("", tables), now=t(1))
    minutes = {e["lead_id"]: e["data"]["target_minutes"] for e in r.of_type("sla.timer_started")}
    assert minutes == {"L-chat-urgent": 2, "L-chat": 5, "L-form-urgent": 10, "L-email": 60}
    due = {e["lead_id"]: e["data"]["due_at"] for e in r.of_type("sla.timer_started")}
    assert_at(due["L-chat-urgent"], 2)
    assert_at(due["L-email"], 60)


def test_rule_12_fractional_minutes(run: RunScenario) -> None:
    """Section 3: minutes may be fractional: 0.5 minutes = 30 s window."""
    tables = '[[targets]]\nsource = "chat"\nminutes = 0.5\n'
    r = run([created(at=0, source="chat"), assigned(at=0)], policy("", tables), now=t(5))
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-02T09:00:30Z")
    assert r.one("sla.timer_started")["data"]["target_minutes"] == 0.5


def test_rule_12_business_clock_priority_change_with_past_deadline(run: RunScenario) -> None:
    """Rules 1+12 (business): Fri 16:30 lead made urgent (20 min) Mon 09:05: due Fri 16:50, past.

    The new deadline is counted in business time from the original occurred_at; it has passed,
    so the breach is emitted at once, stamped with the update's instant.
    """
    tables = '[[targets]]\npriority = "urgent"\nminutes = 20\n'
    top = 'clock = "business"\ntimezone = "UTC"'
    events = [
        created(at="2026-03-06T16:30:00Z"),
        assigned(at="2026-03-06T16:30:00Z"),
        updated(at="2026-03-09T09:05:00Z", priority="urgent"),
    ]
    r = run(events, policy(top, tables), now="2026-03-09T10:00:00Z")
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], "2026-03-09T09:05:00Z")
    assert_at(breach["data"]["due_at"], "2026-03-06T16:50:00Z")
    r.none("sla.pre_breach_warning")


def test_rule_12_reassigning_the_same_owner_changes_nothing(run: RunScenario) -> None:
    """Rule 12: a new owner re-addresses; the same owner again is no change (no timer_updated)."""
    events = [created(at=0), assigned(at=1, owner="alice"), assigned(at=5, owner="alice")]
    r = run(events, policy(), now=t(30))
    updates = r.of_type("sla.timer_updated")
    assert len(updates) == 1
    assert_at(updates[0]["occurred_at"], 1)
