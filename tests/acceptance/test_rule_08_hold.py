"""Rule 8: holds for a person (consent unclear, ownership conflict) block the pressure."""

from __future__ import annotations

from typing import Any

from .runner import Result, RunScenario
from .scenario import activity, approx, assert_at, assigned, created, policy, t, updated

NOW = t(240)
PRESSURE = ("sla.pre_breach_warning", "sla.breached", "sla.escalation_task")


def _review(r: Result, reason: str) -> dict[str, Any]:
    found = [e for e in r.of_type("sla.review_requested") if e["data"]["reason"] == reason]
    assert len(found) == 1, f"expected one {reason} review:\n{r.dump()}"
    return found[0]


# ----------------------------------------------------------------------------- consent


def test_rule_08_consent_unclear_holds_the_lead(run: RunScenario) -> None:
    """Rule 8: consent unclear: review (consent_unclear) to the manager; nothing else, held."""
    events = [created(at=0, consent="unclear"), assigned(at=1)]
    r = run(events, policy(), now=NOW)
    review = _review(r, "consent_unclear")
    assert_at(review["occurred_at"], 0)
    assert review["data"]["recipient_id"] == "mgr"
    r.none(*PRESSURE)
    fact = r.final_fact()
    assert fact["status"] == "held"
    assert fact["eligible"] is False


def test_rule_08_consent_granted_before_deadline_resumes_the_original_clock(
    run: RunScenario,
) -> None:
    """Rule 8: granted at +30: hold review closed (hold_ended); warning +45, breach +60."""
    events = [created(at=0, consent="unclear"), assigned(at=0), updated(at=30, consent="granted")]
    r = run(events, policy(), now=NOW)
    review = _review(r, "consent_unclear")
    closes = [
        c for c in r.of_type("sla.task_closed") if c["data"]["task_id"] == review["data"]["task_id"]
    ]
    assert len(closes) == 1
    assert closes[0]["data"]["reason"] == "hold_ended"
    assert_at(closes[0]["occurred_at"], 30)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 45)
    assert_at(r.one("sla.breached")["occurred_at"], 60)
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert fact["eligible"] is True


def test_rule_08_consent_granted_after_deadline_breaches_at_once(run: RunScenario) -> None:
    """Rule 8: granted at +80 (deadline +60 passed): breach at once at +80, due_at +60."""
    events = [created(at=0, consent="unclear"), assigned(at=0), updated(at=80, consent="granted")]
    r = run(events, policy(), now=t(85))
    breach = r.one("sla.breached")
    # ASSUMPTION (SPEC: "breaches at once"): stamped with the instant the hold ended.
    assert_at(breach["occurred_at"], 80)
    assert_at(breach["data"]["due_at"], 60)
    r.none("sla.pre_breach_warning")
    task = r.one("sla.escalation_task")
    assert task["data"]["level"] == 1
    assert_at(task["occurred_at"], 80)


def test_rule_08_consent_granted_late_then_level_2_on_the_original_clock(run: RunScenario) -> None:
    """Rule 8: the original clock stands: after a late grant (+80), level 2 still at +90."""
    events = [created(at=0, consent="unclear"), assigned(at=0), updated(at=80, consent="granted")]
    r = run(events, policy(), now=NOW)
    levels = sorted(
        (e["data"]["level"], e["occurred_at"]) for e in r.of_type("sla.escalation_task")
    )
    assert [level for level, _ in levels] == [1, 2]
    assert_at(levels[1][1], 90)


def test_rule_08_consent_declined_ends_the_hold_as_excluded(run: RunScenario) -> None:
    """Rule 8: declined at +30: sla.excluded (consent_declined), hold review closed excluded."""
    events = [created(at=0, consent="unclear"), assigned(at=0), updated(at=30, consent="declined")]
    r = run(events, policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 30)
    assert excluded["data"]["reason"] == "consent_declined"
    review = _review(r, "consent_unclear")
    closed = r.one("sla.task_closed")
    assert closed["data"]["task_id"] == review["data"]["task_id"]
    assert closed["data"]["reason"] == "excluded"
    r.none(*PRESSURE)
    fact = r.final_fact()
    assert fact["status"] == "excluded"
    assert fact["eligible"] is False


def test_rule_08_consent_becoming_unclear_later_holds_from_then(run: RunScenario) -> None:
    """Rule 8: consent set to unclear at +10: review at +10, no warning/breach afterwards."""
    events = [created(at=0), assigned(at=0), updated(at=10, consent="unclear")]
    r = run(events, policy(), now=NOW)
    review = _review(r, "consent_unclear")
    assert_at(review["occurred_at"], 10)
    assert review["data"]["recipient_id"] == "carol"
    r.none(*PRESSURE)
    assert r.final_fact()["status"] == "held"


# ----------------------------------------------------------------------------- ownership


def test_rule_08_ownership_conflict_holds_the_lead(run: RunScenario) -> None:
    """Rule 8: dave (not owner/backup) emails alice's lead: review ownership_conflict; held."""
    events = [created(at=0), assigned(at=0, owner="alice"), activity(at=10, actor="dave")]
    r = run(events, policy(), now=NOW)
    review = _review(r, "ownership_conflict")
    assert_at(review["occurred_at"], 10)
    assert review["data"]["recipient_id"] == "carol"
    r.none("sla.response_recorded", *PRESSURE)
    fact = r.final_fact()
    assert fact["status"] == "held"
    assert fact["eligible"] is False


def test_rule_08_conflict_once_per_lead_and_actor(run: RunScenario) -> None:
    """Rule 8: dave twice and eve once: two ownership_conflict reviews, not three."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="dave"),
        activity(at=12, actor="dave", kind="call"),
        activity(at=14, actor="eve", kind="sms"),
    ]
    r = run(events, policy(), now=t(30))
    reviews = [
        e for e in r.of_type("sla.review_requested") if e["data"]["reason"] == "ownership_conflict"
    ]
    assert len(reviews) == 2
    assert len({e["data"]["task_id"] for e in reviews}) == 2


def test_rule_08_conflicting_responder_becoming_owner_counts_at_its_own_time(
    run: RunScenario,
) -> None:
    """Rule 8: dave answered at +10, made owner at +50: the response counts at +10 (600 s)."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="dave", kind="call"),
        assigned(at=50, owner="dave"),
    ]
    r = run(events, policy(), now=NOW)
    response = r.one("sla.response_recorded")
    assert_at(response["occurred_at"], 10)
    assert response["data"]["responder_id"] == "dave"
    assert response["data"]["response_seconds"] == approx(600)
    assert response["data"]["within_sla"] is True
    r.none(*PRESSURE)
    review = _review(r, "ownership_conflict")
    closes = [
        c for c in r.of_type("sla.task_closed") if c["data"]["task_id"] == review["data"]["task_id"]
    ]
    assert len(closes) == 1
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["within_sla"] is True
    assert fact["owner_id"] == "dave"


def test_rule_08_conflicting_responder_made_owner_after_deadline_still_met_in_time(
    run: RunScenario,
) -> None:
    """Rule 8: dave answered at +10 and became owner at +100: within SLA, never breached."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="dave", kind="call"),
        assigned(at=100, owner="dave"),
    ]
    r = run(events, policy(), now=NOW)
    assert r.one("sla.response_recorded")["data"]["within_sla"] is True
    r.none("sla.breached", "sla.escalation_task")
    assert r.final_fact()["status"] == "met"


def test_rule_08_conflict_resolved_by_another_owner_does_not_count_the_answer(
    run: RunScenario,
) -> None:
    """Rule 8: erin made owner at +50 (not dave): hold ends, dave's answer does not count."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="dave"),
        assigned(at=50, owner="erin"),
    ]
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded")
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 60)
    assert breach["data"]["owner_id"] == "erin"
    assert r.final_fact()["status"] == "breached"


def test_rule_08_conflict_ending_after_the_deadline_breaches_at_once(run: RunScenario) -> None:
    """Rule 8: new owner erin at +80 ends the hold; deadline passed: breach at +80."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=10, actor="dave"),
        assigned(at=80, owner="erin"),
    ]
    r = run(events, policy(), now=t(85))
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 80)
    assert_at(breach["data"]["due_at"], 60)


def test_rule_08_non_meaningful_or_internal_activity_by_others_is_no_conflict(
    run: RunScenario,
) -> None:
    """Rule 8: dave's internal note / call_attempt / automation touch open no conflict."""
    events = [
        created(at=0),
        assigned(at=0, owner="alice"),
        activity(at=5, actor="dave", kind="note", direction="internal"),
        activity(at=6, actor="dave", kind="call_attempt"),
        activity(at=7, actor="dave", kind="email", direction="inbound"),
        activity(at=8, actor="nurture-bot", actor_kind="automation", kind="email"),
    ]
    r = run(events, policy(), now=NOW)
    r.none("sla.review_requested")
    r.one("sla.breached")


def test_rule_08_no_conflict_under_any_person(run: RunScenario) -> None:
    """Rule 8: the conflict exists only under owner_or_backup."""
    events = [created(at=0), assigned(at=0, owner="alice"), activity(at=10, actor="dave")]
    r = run(events, policy('response_from = "any_person"'), now=NOW)
    r.none("sla.review_requested")
    assert r.final_fact()["status"] == "met"


def test_rule_08_breached_lead_stays_breached_when_held_later(run: RunScenario) -> None:
    """Rule 8 (decision): a conflict after the breach does not turn the fact into held."""
    events = [created(at=0), assigned(at=0, owner="alice"), activity(at=70, actor="dave")]
    r = run(events, policy(), now=t(80))
    r.one("sla.breached")
    assert r.final_fact()["status"] == "breached"


def test_rule_08_consent_review_is_closed_only_by_the_consent_update(run: RunScenario) -> None:
    """Rule 8 (decision): an answer does not close the consent_unclear review; granted does."""
    events = [
        created(at=0, consent="unclear"),
        assigned(at=0),
        activity(at=20, actor="alice", kind="call"),
        updated(at=30, consent="granted"),
    ]
    r = run(events, policy(), now=NOW)
    review = _review(r, "consent_unclear")
    closes = [
        c for c in r.of_type("sla.task_closed") if c["data"]["task_id"] == review["data"]["task_id"]
    ]
    assert len(closes) == 1, r.dump()
    assert closes[0]["data"]["reason"] == "hold_ended"
    assert_at(closes[0]["occurred_at"], 30)


def test_rule_08_answered_during_consent_hold_then_granted_is_met(run: RunScenario) -> None:
    """Rule 8: the owner answered (+20, within SLA) while consent was unclear; granted at +30.

    When the hold ends the lead is an ordinary answered lead: met, eligible, not held.
    """
    events = [
        created(at=0, consent="unclear"),
        assigned(at=0),
        activity(at=20, actor="alice", kind="call"),
        updated(at=30, consent="granted"),
    ]
    r = run(events, policy(), now=NOW)
    r.none(*PRESSURE)
    fact = r.final_fact()
    assert fact["status"] == "met", r.dump()
    assert fact["eligible"] is True
    assert fact["within_sla"] is True


def test_rule_08_conflicting_answer_after_breach_counts_late_once_its_author_owns_it(
    run: RunScenario,
) -> None:
    """A conflict raised after the breach: assigning its author records that answer, late."""
    events = [
        created("L-cb", 0),
        assigned("L-cb", 1, "alice"),
        activity("L-cb", 70, "zoe", kind="call"),  # deadline at 60: breached, then a conflict
        assigned("L-cb", 80, "zoe"),
    ]
    result = run(events, policy(), now=t(200))
    response = result.one("sla.response_recorded")
    assert response["data"]["responder_id"] == "zoe"
    assert response["data"]["within_sla"] is False
    assert_at(response["occurred_at"], 70)
    fact = result.final_fact()
    assert fact["status"] == "breached"
    assert fact["escalation_level"] == 1  # level 2 (at 90) was never sent: answered at 70
    assert not [e for e in result.of_type("sla.escalation_task") if e["data"]["level"] == 2]
