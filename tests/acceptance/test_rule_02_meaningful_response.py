"""Rule 2: what a meaningful response is; automated touches, inbound and internal never count."""

from __future__ import annotations

from typing import Any

import pytest

from .runner import RunScenario
from .scenario import activity, assert_at, assigned, autoresponder, created, policy, t

NOW = t(180)


def _owned(*more: dict[str, Any]) -> list[dict[str, Any]]:
    return [created(at=0), assigned(at=0, owner="alice"), *more]


def test_rule_02_owner_outbound_email_is_a_meaningful_response(run: RunScenario) -> None:
    """Rule 2: person, outbound, meaningful kind, by the owner: the response."""
    r = run(_owned(activity(at=20, actor="alice", kind="email")), policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert_at(response["occurred_at"], 20)
    assert response["data"]["responder_id"] == "alice"
    assert response["data"]["kind"] == "email"
    assert response["data"]["within_sla"] is True
    r.none("sla.pre_breach_warning", "sla.breached", "sla.escalation_task")
    assert r.final_fact()["status"] == "met"


def test_rule_02_backup_owner_response_counts(run: RunScenario) -> None:
    """Rule 2: the backup owner (bob, from the roster) answering is a meaningful response."""
    r = run(_owned(activity(at=30, actor="bob", kind="call")), policy(), now=NOW)
    assert r.one("sla.response_recorded")["data"]["responder_id"] == "bob"
    r.none("sla.breached", "sla.review_requested")


def test_rule_02_backup_owner_from_the_event_counts(run: RunScenario) -> None:
    """Rule 2: a backup named on the assignment event is a backup owner too."""
    events = [
        created(at=0),
        assigned(at=0, owner="erin", backup="frank"),
        activity(at=30, actor="frank", kind="sms"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.response_recorded")["data"]["responder_id"] == "frank"
    r.none("sla.breached", "sla.review_requested")


@pytest.mark.parametrize(
    "kind", ["email", "call", "voicemail", "sms", "chat", "meeting_booked", "conversation"]
)
def test_rule_02_every_default_meaningful_kind_counts(run: RunScenario, kind: str) -> None:
    """Rule 2: each default meaningful kind by the owner stops the clock."""
    r = run(_owned(activity(at=10, actor="alice", kind=kind)), policy(), now=NOW)
    assert r.one("sla.response_recorded")["data"]["kind"] == kind
    r.none("sla.breached")


AUTOMATED: dict[str, dict[str, Any]] = {
    "automation_actor": dict(actor="bot-mailer", actor_kind="automation", kind="email"),
    "autoresponder_kind_by_person": dict(actor="alice", kind="autoresponder"),
    "acknowledgement_kind_by_person": dict(actor="alice", kind="acknowledgement"),
    "auto_submitted_header": dict(actor="alice", kind="email", auto_submitted=True),
    "sequence_tool_in_owner_name": dict(actor="alice", kind="email", sequence_id="seq-7"),
}


@pytest.mark.parametrize("touch", list(AUTOMATED), ids=list(AUTOMATED))
def test_rule_02_automated_touches_never_count(run: RunScenario, touch: str) -> None:
    """Rule 2: automation actor / autoresponder / acknowledgement / auto_submitted / sequence_id."""
    r = run(_owned(activity(at=5, **AUTOMATED[touch])), policy(), now=NOW)
    r.none("sla.response_recorded")
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 60)
    assert breach["data"]["breach_reason"] == "autoresponder_only"
    assert breach["data"]["autoresponder_sent"] is True
    assert r.final_fact()["status"] == "breached"


def test_rule_02_inbound_message_is_not_a_response(run: RunScenario) -> None:
    """Rule 2: an inbound message (the customer writing again) does not stop the clock."""
    events = _owned(activity(at=10, actor="customer-1", kind="email", direction="inbound"))
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    assert r.one("sla.breached")["data"]["breach_reason"] == "owner_no_action"


def test_rule_02_inbound_logged_by_the_owner_is_not_a_response(run: RunScenario) -> None:
    """Rule 2: direction inbound never counts, whoever logged it."""
    events = _owned(activity(at=10, actor="alice", kind="call", direction="inbound"))
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    r.one("sla.breached")


def test_rule_02_internal_note_is_not_a_response(run: RunScenario) -> None:
    """Rule 2: an internal note by the owner is person activity, not a response."""
    events = _owned(activity(at=10, actor="alice", kind="note", direction="internal"))
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    assert r.one("sla.breached")["data"]["breach_reason"] == "non_meaningful_activity_only"


def test_rule_02_internal_email_is_not_a_response(run: RunScenario) -> None:
    """Rule 2: direction internal never counts, even with a meaningful kind."""
    events = _owned(activity(at=10, actor="alice", kind="email", direction="internal"))
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    r.one("sla.breached")


def test_rule_02_kind_outside_meaningful_kinds_is_not_a_response(run: RunScenario) -> None:
    """Rule 2: a call_attempt by the owner is not in meaningful_kinds."""
    events = _owned(activity(at=10, actor="alice", kind="call_attempt"))
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    assert r.one("sla.breached")["data"]["breach_reason"] == "non_meaningful_activity_only"


def test_rule_02_policy_meaningful_kinds_replace_the_default(run: RunScenario) -> None:
    """Rule 2: meaningful_kinds = ["call"]: an email does not count, the later call does."""
    events = _owned(
        activity(at=10, actor="alice", kind="email"),
        activity(at=20, actor="alice", kind="call"),
    )
    r = run(events, policy('meaningful_kinds = ["call"]'), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["kind"] == "call"
    assert_at(response["occurred_at"], 20)


def test_rule_02_unowned_lead_answered_by_any_person_who_takes_it(run: RunScenario) -> None:
    """Rule 2: no person owner yet: dave's answer counts, dave becomes owner, no ownership gap."""
    events = [created(at=0), activity(at=15, actor="dave", kind="call")]
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "dave"
    assert response["data"]["within_sla"] is True
    r.none("sla.ownership_gap", "sla.review_requested", "sla.pre_breach_warning", "sla.breached")
    fact = r.final_fact()
    assert fact["owner_id"] == "dave"
    assert fact["status"] == "met"


def test_rule_02_a_queue_owner_is_no_owner_so_a_person_answer_takes_the_lead(
    run: RunScenario,
) -> None:
    """Rule 2: owned by a queue: any person's answer counts and takes the lead (no conflict)."""
    events = [
        created(at=0),
        assigned(at=0, owner="q-inbound", kind="queue"),
        activity(at=15, actor="dave", kind="email"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.response_recorded")["data"]["responder_id"] == "dave"
    r.none("sla.review_requested", "sla.ownership_gap", "sla.breached")
    assert r.final_fact()["owner_id"] == "dave"


def test_rule_02_queue_member_activity_is_not_owner_activity(run: RunScenario) -> None:
    """Rule 2: a queue is no owner: automated touch on a queue-owned lead -> breach no_owner."""
    events = [
        created(at=0),
        assigned(at=0, owner="q-inbound", kind="queue"),
        autoresponder(at=1),
    ]
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    breach = r.one("sla.breached")
    assert breach["data"]["breach_reason"] == "no_owner"
    assert breach["data"]["owner_id"] is None


def test_rule_02_other_person_does_not_answer_an_owned_lead(run: RunScenario) -> None:
    """Rule 2: under owner_or_backup, dave (neither owner nor backup) does not stop alice's clock."""
    r = run(_owned(activity(at=10, actor="dave", kind="email")), policy(), now=NOW)
    r.none("sla.response_recorded")
    assert r.final_fact()["status"] != "met"


def test_rule_02_any_person_counts_under_response_from_any_person(run: RunScenario) -> None:
    """Rule 2: response_from = "any_person": dave's answer to alice's lead counts, no conflict."""
    events = _owned(activity(at=10, actor="dave", kind="email"))
    r = run(events, policy('response_from = "any_person"'), now=NOW)
    response = r.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "dave"
    assert response["data"]["within_sla"] is True
    r.none("sla.review_requested", "sla.breached", "sla.pre_breach_warning")
    assert r.final_fact()["status"] == "met"


def test_rule_02_any_person_still_excludes_automated_touches(run: RunScenario) -> None:
    """Rule 2: response_from = any_person does not make an automation a person."""
    events = _owned(activity(at=10, actor="bot", actor_kind="automation", kind="email"))
    r = run(events, policy('response_from = "any_person"'), now=NOW)
    r.none("sla.response_recorded")
    assert r.one("sla.breached")["data"]["breach_reason"] == "autoresponder_only"


def test_rule_02_automated_then_human_response_counts_the_human_one(run: RunScenario) -> None:
    """Rule 2: an autoresponder at +1 then the owner's call at +30: the call is the response."""
    events = _owned(autoresponder(at=1), activity(at=30, actor="alice", kind="call"))
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert_at(response["occurred_at"], 30)
    assert response["data"]["kind"] == "call"
    assert response["data"]["response_seconds"] == 1800
