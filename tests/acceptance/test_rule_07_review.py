"""Rule 7: complaints, urgent requests and customer conflicts go to review, not escalation."""

from __future__ import annotations

import pytest

from .runner import RunScenario
from .scenario import activity, assert_at, assigned, autoresponder, created, policy, t, updated

NOW = t(240)


@pytest.mark.parametrize("category", ["complaint", "urgent_request", "customer_conflict"])
def test_rule_07_review_requested_at_creation(run: RunScenario, category: str) -> None:
    """Rule 7: a lead created in a review category: sla.review_requested to the manager."""
    r = run([created(at=0, category=category)], policy(), now=t(10))
    review = r.one("sla.review_requested")
    assert_at(review["occurred_at"], 0)
    assert review["data"]["reason"] == category
    assert review["data"]["recipient_id"] == "mgr"
    assert review["data"]["task_id"]
    assert review["data"]["apology_review_required"] is False
    r.one("sla.timer_started")  # its clock works as for any lead
    assert r.final_fact()["in_review"] is True


def test_rule_07_review_requested_when_updated_into_the_category(run: RunScenario) -> None:
    """Rule 7: inquiry updated to urgent_request at +10: review_requested at +10."""
    events = [created(at=0), assigned(at=0), updated(at=10, category="urgent_request")]
    r = run(events, policy(), now=t(20))
    review = r.one("sla.review_requested")
    assert_at(review["occurred_at"], 10)
    assert review["data"]["reason"] == "urgent_request"
    assert review["data"]["recipient_id"] == "carol"


def test_rule_07_plain_inquiry_gets_no_review(run: RunScenario) -> None:
    """Rule 7: category inquiry (default): no review request."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(30))
    r.none("sla.review_requested")
    assert r.final_fact()["in_review"] is False


def test_rule_07_review_lead_warns_and_breaches_like_any_lead(run: RunScenario) -> None:
    """Rule 7: the complaint's clock runs: warning at +45 and breach at +60, routed_to_review."""
    events = [created(at=0, category="complaint"), assigned(at=0)]
    r = run(events, policy(), now=NOW)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 45)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 60)
    assert breach["data"]["routed_to_review"] is True


def test_rule_07_breach_escalates_as_one_review_never_a_task(run: RunScenario) -> None:
    """Rule 7: at breach one review_requested (reason breach); no escalation task, not even L2."""
    events = [created(at=0, category="complaint"), assigned(at=0)]
    r = run(events, policy(), now=NOW)
    r.none("sla.escalation_task")
    reviews = r.of_type("sla.review_requested")
    assert sorted(rv["data"]["reason"] for rv in reviews) == ["breach", "complaint"]
    breach_review = next(rv for rv in reviews if rv["data"]["reason"] == "breach")
    assert_at(breach_review["occurred_at"], 60)
    assert breach_review["data"]["recipient_id"] == "carol"
    assert breach_review["data"]["apology_review_required"] is False


def test_rule_07_breach_review_flags_apology_when_an_autoresponder_was_sent(
    run: RunScenario,
) -> None:
    """Rule 7: the breach review says apology_review_required after an automated touch."""
    events = [created(at=0, category="customer_conflict"), assigned(at=0), autoresponder(at=1)]
    r = run(events, policy(), now=NOW)
    breach_review = next(
        rv for rv in r.of_type("sla.review_requested") if rv["data"]["reason"] == "breach"
    )
    assert breach_review["data"]["apology_review_required"] is True
    r.none("sla.escalation_task")


def test_rule_07_answer_closes_the_review(run: RunScenario) -> None:
    """Rules 6+7: the complaint answered at +30: its review gets task_closed (answered)."""
    events = [created(at=0, category="complaint"), assigned(at=0), activity(at=30, actor="alice")]
    r = run(events, policy(), now=NOW)
    review = r.one("sla.review_requested")
    closed = r.one("sla.task_closed")
    assert closed["data"]["task_id"] == review["data"]["task_id"]
    assert closed["data"]["reason"] == "answered"
    assert_at(closed["occurred_at"], 30)


def test_rule_07_review_categories_come_from_the_policy(run: RunScenario) -> None:
    """Rule 7: review_categories = ["complaint"]: an urgent_request escalates normally."""
    events = [created(at=0, category="urgent_request"), assigned(at=0)]
    r = run(events, policy('review_categories = ["complaint"]'), now=NOW)
    r.none("sla.review_requested")
    assert [e["data"]["level"] for e in r.of_type("sla.escalation_task")] == [1, 2]
    assert r.one("sla.breached")["data"]["routed_to_review"] is False


def test_rule_07_exclusion_closes_the_review(run: RunScenario) -> None:
    """Rules 6+7+9: a complaint marked spam at +20: its review gets task_closed (excluded)."""
    from .scenario import status

    events = [created(at=0, category="complaint"), assigned(at=0), status(at=20, status="spam")]
    r = run(events, policy(), now=NOW)
    review = r.one("sla.review_requested")
    closed = r.one("sla.task_closed")
    assert closed["data"]["task_id"] == review["data"]["task_id"]
    assert closed["data"]["reason"] == "excluded"
    r.none("sla.breached", "sla.pre_breach_warning")
