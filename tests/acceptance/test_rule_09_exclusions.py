"""Rule 9: exclusions: support route, declined consent, status exclusions, closed/converted."""

from __future__ import annotations

import pytest

from .runner import RunScenario
from .scenario import activity, assert_at, assigned, created, policy, status, t, updated

NOW = t(240)
NEW_LEAD_ALERTS = (
    "sla.timer_started",
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.escalation_task",
    "sla.review_requested",
    "sla.stale_lead",
    "sla.ownership_gap",
)
PRESSURE = ("sla.pre_breach_warning", "sla.breached", "sla.escalation_task", "sla.stale_lead")


def test_rule_09_existing_customer_goes_to_support(run: RunScenario) -> None:
    """Rule 9: customer_status existing_customer: sla.excluded route support, no timer at all."""
    events = [
        created(at=0, source="pricing_page", customer_status="existing_customer"),
        assigned(at=0, owner="erin"),
    ]
    r = run(events, policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 0)
    assert excluded["data"]["reason"] == "existing_customer"
    assert excluded["data"]["route"] == "support"
    r.none(*NEW_LEAD_ALERTS)
    fact = r.final_fact()
    assert fact["status"] == "excluded"
    assert fact["eligible"] is False


def test_rule_09_support_issue_goes_to_support(run: RunScenario) -> None:
    """Rule 9: category support_issue: sla.excluded (support_issue, route support), no timer."""
    r = run([created(at=0, category="support_issue"), assigned(at=0)], policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert excluded["data"]["reason"] == "support_issue"
    assert excluded["data"]["route"] == "support"
    r.none(*NEW_LEAD_ALERTS)
    assert r.final_fact()["status"] == "excluded"


def test_rule_09_existing_customer_complaint_gets_no_review(run: RunScenario) -> None:
    """Rule 9: an existing customer's complaint is not a new lead: no review request."""
    events = [
        created(at=0, category="complaint", customer_status="existing_customer"),
        assigned(at=0),
    ]
    r = run(events, policy(), now=NOW)
    r.none("sla.review_requested", "sla.timer_started")
    assert r.one("sla.excluded")["data"]["route"] == "support"


def test_rule_09_updated_to_existing_customer_goes_to_support(run: RunScenario) -> None:
    """Rule 9: updated to existing_customer at +20 (unanswered): excluded, route support."""
    events = [created(at=0), assigned(at=0), updated(at=20, customer_status="existing_customer")]
    r = run(events, policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 20)
    assert excluded["data"]["route"] == "support"
    r.none(*PRESSURE)
    assert r.final_fact()["status"] == "excluded"


def test_rule_09_consent_declined_at_creation(run: RunScenario) -> None:
    """Rule 9 (decision): consent declined: timer_started then excluded consent_declined, route null."""
    r = run([created(at=0, consent="declined"), assigned(at=0)], policy(), now=NOW)
    assert_at(r.one("sla.timer_started")["occurred_at"], 0)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 0)
    assert excluded["data"]["reason"] == "consent_declined"
    assert excluded["data"]["route"] is None
    r.none(*PRESSURE)
    assert r.final_fact()["status"] == "excluded"
    assert r.final_fact()["eligible"] is False


def test_rule_09_consent_declined_by_update(run: RunScenario) -> None:
    """Rule 9: consent declined at +20: excluded at +20, no pressure afterwards."""
    events = [created(at=0), assigned(at=0), updated(at=20, consent="declined")]
    r = run(events, policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 20)
    assert excluded["data"]["reason"] == "consent_declined"
    r.none(*PRESSURE)


@pytest.mark.parametrize(
    "st", ["opted_out", "consent_withdrawn", "disqualified", "duplicate", "spam"]
)
def test_rule_09_status_exclusion_before_response_stops_every_timer(
    run: RunScenario, st: str
) -> None:
    """Rule 9: the status before a response: sla.excluded (reason = status), nothing after."""
    events = [created(at=0, source="pricing_page"), assigned(at=0), status(at=20, status=st)]
    r = run(events, policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 20)
    assert excluded["data"]["reason"] == st
    assert excluded["data"]["route"] is None
    r.none(*PRESSURE)
    fact = r.final_fact()
    assert fact["status"] == "excluded"
    assert fact["eligible"] is False


def test_rule_09_exclusion_after_breach_keeps_it_breached(run: RunScenario) -> None:
    """Rule 9: disqualified at +70 after the +60 breach: excluded emitted, fact stays breached."""
    events = [
        created(at=0, source="pricing_page"),
        assigned(at=0),
        status(at=70, status="disqualified"),
    ]
    r = run(events, policy(), now=NOW)
    r.one("sla.breached")
    assert_at(r.one("sla.excluded")["occurred_at"], 70)
    assert [e["data"]["level"] for e in r.of_type("sla.escalation_task")] == [1]
    r.none("sla.stale_lead")
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert fact["breach_reason"] == "owner_no_action"
    assert fact["eligible"] is True


@pytest.mark.parametrize("st", ["opted_out", "consent_withdrawn"])
def test_rule_09_other_exclusions_after_breach_keep_it_breached(run: RunScenario, st: str) -> None:
    """Rule 9: only spam/duplicate can undo a breach; opted_out etc. cannot."""
    events = [created(at=0), assigned(at=0), status(at=70, status=st)]
    r = run(events, policy(), now=NOW)
    assert r.final_fact()["status"] == "breached"


@pytest.mark.parametrize("st", ["spam", "duplicate"])
def test_rule_09_spam_or_duplicate_after_breach_excludes(run: RunScenario, st: str) -> None:
    """Rule 9: spam/duplicate after the breach: the lead is excluded after all."""
    events = [created(at=0), assigned(at=0), status(at=70, status=st)]
    r = run(events, policy(), now=NOW)
    r.one("sla.breached")
    assert r.one("sla.excluded")["data"]["reason"] == st
    fact = r.final_fact()
    assert fact["status"] == "excluded"
    assert fact["eligible"] is False
    assert [e["data"]["level"] for e in r.of_type("sla.escalation_task")] == [1]


@pytest.mark.parametrize("st", ["closed", "converted"])
def test_rule_09_closed_or_converted_before_deadline_is_excluded(run: RunScenario, st: str) -> None:
    """Rule 9: closed/converted at +30, unanswered, deadline ahead: excluded, no breach."""
    events = [created(at=0), assigned(at=0), status(at=30, status=st)]
    r = run(events, policy(), now=NOW)
    excluded = r.one("sla.excluded")
    assert_at(excluded["occurred_at"], 30)
    assert excluded["data"]["reason"] == st
    r.none(*PRESSURE)
    assert r.final_fact()["status"] == "excluded"


@pytest.mark.parametrize("st", ["closed", "converted"])
def test_rule_09_closed_or_converted_after_deadline_is_breached(run: RunScenario, st: str) -> None:
    """Rule 9: closed/converted at +70, unanswered: the lead is breached; timers stop (no L2)."""
    events = [created(at=0, source="pricing_page"), assigned(at=0), status(at=70, status=st)]
    r = run(events, policy(), now=NOW)
    r.one("sla.breached")
    assert [e["data"]["level"] for e in r.of_type("sla.escalation_task")] == [1]
    r.none("sla.stale_lead")
    fact = r.final_fact()
    assert fact["status"] == "breached"
    assert fact["eligible"] is True


def test_rule_09_reopened_undoes_closed_with_the_original_clock(run: RunScenario) -> None:
    """Rule 9: closed at +30, reopened at +40: warning +45 and breach +60 as if never closed."""
    events = [
        created(at=0),
        assigned(at=0),
        status(at=30, status="closed"),
        status(at=40, status="reopened"),
    ]
    r = run(events, policy(), now=NOW)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 45)
    assert_at(r.one("sla.breached")["occurred_at"], 60)
    assert r.final_fact()["status"] == "breached"
    assert r.final_fact()["eligible"] is True


def test_rule_09_reopened_after_the_deadline_is_breached(run: RunScenario) -> None:
    """Rule 9: closed at +30, reopened at +70: the original deadline (+60) has passed: breached."""
    events = [
        created(at=0),
        assigned(at=0),
        status(at=30, status="closed"),
        status(at=70, status="reopened"),
    ]
    r = run(events, policy(), now=NOW)
    breach = r.one("sla.breached")
    assert_at(breach["data"]["due_at"], 60)
    assert r.final_fact()["status"] == "breached"


@pytest.mark.parametrize(
    "st", ["spam", "disqualified", "opted_out", "duplicate", "consent_withdrawn"]
)
def test_rule_09_reopened_does_not_undo_other_exclusions(run: RunScenario, st: str) -> None:
    """Rule 9: reopened undoes closed only: a spam/disqualified/... lead stays excluded."""
    events = [
        created(at=0),
        assigned(at=0),
        status(at=20, status=st),
        status(at=30, status="reopened"),
    ]
    r = run(events, policy(), now=NOW)
    r.none(*PRESSURE)
    assert r.final_fact()["status"] == "excluded"


def test_rule_09_status_after_a_response_is_not_an_exclusion(run: RunScenario) -> None:
    """Rule 9: the exclusions apply before a meaningful response; a met lead stays met."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="alice"),
        status(at=20, status="disqualified"),
    ]
    r = run(events, policy(), now=NOW)
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["within_sla"] is True


def test_rule_09_response_after_exclusion_changes_nothing(run: RunScenario) -> None:
    """Rule 9: excluded (opted_out at +10): a later email is not a response; no pressure."""
    events = [
        created(at=0),
        assigned(at=0),
        status(at=10, status="opted_out"),
        activity(at=20, actor="alice"),
    ]
    r = run(events, policy(), now=NOW)
    r.none("sla.response_recorded", *PRESSURE)
    assert r.final_fact()["status"] == "excluded"


def test_rule_09_declined_twice_after_a_breach_is_one_exclusion(run: RunScenario) -> None:
    """Rule 9: consent declined, granted, declined again after the breach: one sla.excluded."""
    events = [
        created(at=0),
        updated(at=61, consent="declined"),
        updated(at=62, consent="granted"),
        updated(at=63, consent="declined"),
    ]
    r = run(events, policy(), now=t(200))
    r.one("sla.excluded")
    assert r.final_fact()["status"] == "breached"
