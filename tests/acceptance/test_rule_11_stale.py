"""Rule 11: stale high-intent leads (no meaningful response at stale_after of the window)."""

from __future__ import annotations

from .runner import RunScenario
from .scenario import BUSINESS, activity, assert_at, assigned, created, policy, t, updated

NOW = t(300)


def test_rule_11_pricing_page_lead_goes_stale_to_the_manager(run: RunScenario) -> None:
    """Rule 11: pricing_page (high intent by default), unanswered: stale at +120 to carol."""
    events = [created(at=0, source="pricing_page"), assigned(at=0, owner="alice")]
    r = run(events, policy(), now=NOW)
    stale = r.one("sla.stale_lead")
    assert_at(stale["occurred_at"], 120)
    assert stale["data"]["recipient_id"] == "carol"
    assert stale["data"]["owner_id"] == "alice"
    assert stale["data"]["age_seconds"] == 7200
    fact = r.final_fact()
    assert fact["stale"] is True
    assert fact["intent"] == "high"


def test_rule_11_not_stale_before_the_stale_point(run: RunScenario) -> None:
    """Rule 11: at +119 the lead is not stale yet."""
    events = [created(at=0, source="demo_request"), assigned(at=0)]
    r = run(events, policy(), now=t(119))
    r.none("sla.stale_lead")
    assert r.final_fact()["stale"] is False


def test_rule_11_demo_request_is_high_intent_by_default(run: RunScenario) -> None:
    """Rule 11: demo_request is in the default high_intent_sources."""
    r = run([created(at=0, source="demo_request"), assigned(at=0)], policy(), now=NOW)
    r.one("sla.stale_lead")


def test_rule_11_normal_intent_lead_never_goes_stale(run: RunScenario) -> None:
    """Rule 11: a web_form lead (normal intent) gets no stale alert."""
    r = run([created(at=0, source="web_form"), assigned(at=0)], policy(), now=NOW)
    r.none("sla.stale_lead")
    fact = r.final_fact()
    assert fact["intent"] == "normal"
    assert fact["stale"] is False


def test_rule_11_explicit_intent_overrides_the_source_default(run: RunScenario) -> None:
    """Rule 11: web_form with intent high is stale; pricing_page with intent low is not."""
    events = [
        created("L-hi", at=0, source="web_form", intent="high"),
        assigned("L-hi", at=0),
        created("L-lo", at=0, source="pricing_page", intent="low"),
        assigned("L-lo", at=0),
    ]
    r = run(events, policy(), now=NOW)
    assert [e["lead_id"] for e in r.of_type("sla.stale_lead")] == ["L-hi"]
    assert r.final_fact("L-lo")["intent"] == "low"


def test_rule_11_high_intent_sources_from_policy(run: RunScenario) -> None:
    """Rule 11: high_intent_sources = ["chat"]: a chat lead is stale, a pricing_page lead not."""
    events = [
        created("L-chat", at=0, source="chat"),
        assigned("L-chat", at=0),
        created("L-price", at=0, source="pricing_page"),
        assigned("L-price", at=0),
    ]
    r = run(events, policy('high_intent_sources = ["chat"]'), now=NOW)
    assert [e["lead_id"] for e in r.of_type("sla.stale_lead")] == ["L-chat"]


def test_rule_11_stale_after_from_policy(run: RunScenario) -> None:
    """Rule 11: stale_after = 1.5: stale at +90, age 5400 s."""
    events = [created(at=0, source="pricing_page"), assigned(at=0)]
    r = run(events, policy("stale_after = 1.5"), now=NOW)
    stale = r.one("sla.stale_lead")
    assert_at(stale["occurred_at"], 90)
    assert stale["data"]["age_seconds"] == 5400


def test_rule_11_answered_in_time_is_never_stale(run: RunScenario) -> None:
    """Rule 11: answered at +30: no stale alert."""
    events = [created(at=0, source="pricing_page"), assigned(at=0), activity(at=30, actor="alice")]
    r = run(events, policy(), now=NOW)
    r.none("sla.stale_lead")


def test_rule_11_answered_after_stale_keeps_the_alert_but_is_recorded(run: RunScenario) -> None:
    """Rule 11: stale at +120, answered at +130: one stale alert; the fact shows the response."""
    events = [created(at=0, source="pricing_page"), assigned(at=0), activity(at=130, actor="alice")]
    r = run(events, policy(), now=NOW)
    r.one("sla.stale_lead")
    fact = r.final_fact()
    assert fact["within_sla"] is False
    assert_at(fact["responded_at"], 130)


def test_rule_11_unowned_stale_lead_goes_to_default_manager(run: RunScenario) -> None:
    """Rule 11: unowned high-intent lead: stale alert to the default manager, owner null."""
    r = run([created(at=0, source="pricing_page")], policy(), now=NOW)
    stale = r.one("sla.stale_lead")
    assert stale["data"]["recipient_id"] == "mgr"
    assert stale["data"]["owner_id"] is None


def test_rule_11_intent_updated_to_high_makes_it_eligible_for_stale(run: RunScenario) -> None:
    """Rules 11+12: a web_form lead updated to intent high at +10 goes stale at +120."""
    events = [created(at=0, source="web_form"), assigned(at=0), updated(at=10, intent="high")]
    r = run(events, policy(), now=NOW)
    assert_at(r.one("sla.stale_lead")["occurred_at"], 120)


def test_rule_11_stale_point_on_business_clock(run: RunScenario) -> None:
    """Rule 11 (business): Fri 16:30 + 120 business minutes = Mon 10:30; age in calendar s."""
    events = [
        created(at="2026-03-06T16:30:00Z", source="pricing_page"),
        assigned(at="2026-03-06T16:30:00Z"),
    ]
    r = run(events, policy(BUSINESS), now="2026-03-09T12:00:00Z")
    stale = r.one("sla.stale_lead")
    assert_at(stale["occurred_at"], "2026-03-09T10:30:00Z")
    assert stale["data"]["age_seconds"] == 237600
