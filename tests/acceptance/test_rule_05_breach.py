"""Rule 5: the breach at the deadline and its derived reason, first match in priority order."""

from __future__ import annotations

from .runner import RunScenario
from .scenario import activity, assert_at, assigned, autoresponder, created, policy, t

NOW = t(180)


def test_rule_05_breach_at_deadline_owner_no_action_with_all_fields(run: RunScenario) -> None:
    """Rule 5: owner assigned, nothing done: sla.breached at +60, reason owner_no_action."""
    events = [created(at=0, source="web_form", priority="normal"), assigned(at=0, owner="alice")]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 60)
    data = breach["data"]
    assert data["breach_reason"] == "owner_no_action"
    assert data["owner_id"] == "alice"
    assert data["backup_owner_id"] == "bob"
    assert data["manager_id"] == "carol"
    assert data["source"] == "web_form"
    assert data["priority"] == "normal"
    assert_at(data["due_at"], 60)
    assert data["autoresponder_sent"] is False
    assert data["routed_to_review"] is False
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert fact["eligible"] is True
    assert fact["breach_reason"] == "owner_no_action"
    assert fact["within_sla"] is None
    assert fact["response_seconds"] is None


def test_rule_05_no_breach_before_the_deadline(run: RunScenario) -> None:
    """Rule 5: at +59 nothing has breached."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(59))
    r.none("sla.breached")
    assert r.final_fact()["status"] == "open"


def test_rule_05_no_owner_comes_first(run: RunScenario) -> None:
    """Rule 5: no person owner at the deadline (and an autoresponder): reason no_owner."""
    r = run([created(at=0), autoresponder(at=1)], policy(), now=NOW)
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "no_owner"
    assert breach["data"]["owner_id"] is None
    assert breach["data"]["autoresponder_sent"] is True


def test_rule_05_owner_assigned_after_the_deadline_is_still_no_owner(run: RunScenario) -> None:
    """Rule 5: the owner arrives at +61: at the deadline there was none: no_owner."""
    r = run([created(at=0), assigned(at=61)], policy(), now=NOW)
    assert r.one("sla.breached")["data"]["breach_reason"] == "no_owner"


def test_rule_05_assigned_late_first_person_owner_after_warning_point(run: RunScenario) -> None:
    """Rule 5: first person owner assigned at +50 (after +45): assigned_late beats automation."""
    events = [created(at=0), autoresponder(at=1), assigned(at=50, owner="alice")]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "assigned_late"
    assert breach["data"]["owner_id"] == "alice"
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["reason"] == "no_owner"
    assert warning["data"]["recipient_id"] == "mgr"


def test_rule_05_assigned_late_counts_the_first_person_owner_after_a_queue(
    run: RunScenario,
) -> None:
    """Rule 5: queue at +0, first person owner at +50: assigned_late."""
    events = [
        created(at=0),
        assigned(at=0, owner="q-inbound", kind="queue"),
        assigned(at=50, owner="alice"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.breached")["data"]["breach_reason"] == "assigned_late"


def test_rule_05_reassignment_after_warning_is_not_assigned_late(run: RunScenario) -> None:
    """Rule 5: alice (first person owner) at +0, erin at +50: not assigned_late."""
    events = [created(at=0), assigned(at=0, owner="alice"), assigned(at=50, owner="erin")]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "owner_no_action"
    assert breach["data"]["owner_id"] == "erin"


def test_rule_05_assigned_exactly_at_warning_point_is_not_late(run: RunScenario) -> None:
    """Rules 5+13: assigned at +45 (the warning point) is not after it; warning goes to alice."""
    events = [created(at=0), assigned(at=45, owner="alice")]
    r = run(events, policy(), now=NOW)
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["recipient_id"] == "alice"
    assert warning["data"]["reason"] == "owner_no_action"
    assert r.one("sla.breached")["data"]["breach_reason"] == "owner_no_action"


def test_rule_05_non_meaningful_activity_only_beats_autoresponder_only(run: RunScenario) -> None:
    """Rule 5: owner call_attempt + autoresponder: non_meaningful_activity_only."""
    events = [
        created(at=0),
        assigned(at=0),
        autoresponder(at=1),
        activity(at=10, actor="alice", kind="call_attempt"),
    ]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "non_meaningful_activity_only"
    assert breach["data"]["autoresponder_sent"] is True


def test_rule_05_non_meaningful_activity_by_backup(run: RunScenario) -> None:
    """Rule 5: the backup owner logged an internal note only: non_meaningful_activity_only."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="bob", kind="note", direction="internal"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.breached")["data"]["breach_reason"] == "non_meaningful_activity_only"


def test_rule_05_person_activity_by_someone_else_is_not_owner_activity(run: RunScenario) -> None:
    """Rule 5: a note by dave (not owner/backup) is not the owner's activity: owner_no_action."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="dave", kind="note", direction="internal"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.breached")["data"]["breach_reason"] == "owner_no_action"


def test_rule_05_autoresponder_only(run: RunScenario) -> None:
    """Rule 5: owner from the start, only an automated touch: autoresponder_only."""
    events = [created(at=0), assigned(at=0), autoresponder(at=1)]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "autoresponder_only"
    assert breach["data"]["autoresponder_sent"] is True
    assert r.final_fact()["breach_reason"] == "autoresponder_only"


def test_rule_05_one_breach_per_lead(run: RunScenario) -> None:
    """Rule 5: a lead breaches once, however long the replay runs."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(60 * 24 * 5))
    r.one("sla.breached")


def test_rule_05_grace_seconds_delay_the_breach_but_not_its_instant(run: RunScenario) -> None:
    """Rule 5: grace_seconds = 300: at +64 no breach yet; at +65 a breach stamped +60."""
    events = [created(at=0), assigned(at=0)]
    early = run(events, policy("grace_seconds = 300"), now=t(64))
    early.none("sla.breached")
    on_time = run(events, policy("grace_seconds = 300"), now=t(65))
    assert_at(on_time.one("sla.breached")["occurred_at"], 60)


def test_rule_05_grace_does_not_make_a_late_response_on_time(run: RunScenario) -> None:
    """Rules 3+5: with grace 300 s a response at +62 is still after the deadline: late."""
    events = [created(at=0), assigned(at=0), activity(at=62, actor="alice")]
    r = run(events, policy("grace_seconds = 300"), now=NOW)
    assert_at(r.one("sla.breached")["occurred_at"], 60)
    assert r.one("sla.response_recorded")["data"]["within_sla"] is False


def test_rule_05_person_owner_replaced_by_a_queue_is_no_owner_at_the_deadline(
    run: RunScenario,
) -> None:
    """Rules 2+5: alice replaced by a queue at +30: no person owner at +60: no_owner."""
    events = [created(at=0), assigned(at=0), assigned(at=30, owner="q-inbound", kind="queue")]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "no_owner"
    assert breach["data"]["owner_id"] is None
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["reason"] == "no_owner"
