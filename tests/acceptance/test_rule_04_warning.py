"""Rule 4: the pre-breach warning: reason, recipient, at most one, the passed-warning rule."""

from __future__ import annotations

from .runner import RunScenario, parse_ts
from .scenario import activity, assert_at, assigned, autoresponder, created, dt, policy, t, updated

NOW = t(180)

TARGETS = """
[[targets]]
priority = "urgent"
minutes = 20

[[targets]]
priority = "low"
minutes = 120

[[targets]]
minutes = 60
"""


def test_rule_04_warning_to_owner_with_no_action(run: RunScenario) -> None:
    """Rule 4: owner assigned, nothing logged: warning at +45 to alice, reason owner_no_action."""
    r = run([created(at=0), assigned(at=0, owner="alice")], policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert_at(warning["occurred_at"], 45)
    assert warning["data"]["recipient_id"] == "alice"
    assert warning["data"]["owner_id"] == "alice"
    assert warning["data"]["reason"] == "owner_no_action"
    assert warning["data"]["autoresponder_sent"] is False
    assert_at(warning["data"]["due_at"], 60)
    r.none("sla.breached")
    assert r.final_fact()["pre_breach_warned"] is True


def test_rule_04_warning_reason_autoresponder_only(run: RunScenario) -> None:
    """Rule 4: only automated touches logged: reason autoresponder_only, autoresponder_sent."""
    events = [created(at=0), assigned(at=0, owner="alice"), autoresponder(at=1)]
    r = run(events, policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["reason"] == "autoresponder_only"
    assert warning["data"]["recipient_id"] == "alice"
    assert warning["data"]["autoresponder_sent"] is True


def test_rule_04_warning_to_manager_when_no_owner(run: RunScenario) -> None:
    """Rule 4: no person owner at the warning point: to the (default) manager, reason no_owner."""
    r = run([created(at=0), autoresponder(at=1)], policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert_at(warning["occurred_at"], 45)
    assert warning["data"]["recipient_id"] == "mgr"
    assert warning["data"]["reason"] == "no_owner"
    assert warning["data"]["owner_id"] is None


def test_rule_04_warning_to_manager_when_only_a_queue_owns_it(run: RunScenario) -> None:
    """Rules 4+2: a queue owner is no owner: the warning is no_owner to the manager."""
    events = [created(at=0), assigned(at=0, owner="q-inbound", kind="queue")]
    r = run(events, policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["reason"] == "no_owner"
    assert warning["data"]["recipient_id"] == "mgr"
    assert warning["data"]["owner_id"] is None


def test_rule_04_warning_and_breach_are_separate_events(run: RunScenario) -> None:
    """Rule 4: a lead that breaches had one warning at +45 and one breach at +60, distinct."""
    r = run([created(at=0), assigned(at=0)], policy(), now=NOW)
    warning = r.one("sla.pre_breach_warning")
    breach = r.one("sla.breached")
    assert warning["event_id"] != breach["event_id"]
    assert_at(warning["occurred_at"], 45)
    assert_at(breach["occurred_at"], 60)


def test_rule_04_warn_at_from_policy(run: RunScenario) -> None:
    """Rule 4: warn_at = 0.5: the warning fires at +30."""
    r = run([created(at=0), assigned(at=0)], policy("warn_at = 0.5"), now=t(40))
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 30)


def test_rule_04_at_most_one_warning_when_priority_moves_the_deadline_later(
    run: RunScenario,
) -> None:
    """Rule 4: warned at +45, then lowered to 120 min at +50: no second warning at +90."""
    events = [created(at=0), assigned(at=0), updated(at=50, priority="low")]
    r = run(events, policy("", TARGETS), now=t(200))
    warning = r.one("sla.pre_breach_warning")
    assert_at(warning["occurred_at"], 45)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 120)


def test_rule_04_passed_warning_point_fires_if_the_deadline_is_ahead(run: RunScenario) -> None:
    """Rule 4: at +16 priority urgent (20 min): warning point +15 passed, deadline +20 ahead."""
    events = [created(at=0), assigned(at=0), updated(at=16, priority="urgent")]
    r = run(events, policy("", TARGETS), now=t(18))
    warning = r.one("sla.pre_breach_warning")
    # ASSUMPTION (SPEC silent): the late warning is stamped with the update's instant, like
    # the rule-12 breach; the warning point itself (+15) is tolerated too.
    assert dt(15) <= parse_ts(warning["occurred_at"]) <= dt(16)
    assert warning["data"]["recipient_id"] == "alice"
    assert_at(warning["data"]["due_at"], 20)


def test_rule_04_passed_warning_point_does_not_fire_when_the_deadline_passed_too(
    run: RunScenario,
) -> None:
    """Rule 4: at +25 priority urgent (20 min): deadline passed: breach at once, no warning."""
    events = [created(at=0), assigned(at=0), updated(at=25, priority="urgent")]
    r = run(events, policy("", TARGETS), now=t(60))
    r.none("sla.pre_breach_warning")
    assert_at(r.one("sla.breached")["occurred_at"], 25)


def test_rule_04_new_owner_receives_the_warning(run: RunScenario) -> None:
    """Rules 4+12: alice replaced by erin at +30: the +45 warning goes to erin."""
    events = [created(at=0), assigned(at=0, owner="alice"), assigned(at=30, owner="erin")]
    r = run(events, policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["recipient_id"] == "erin"
    assert warning["data"]["owner_id"] == "erin"


def test_rule_04_no_warning_after_a_response(run: RunScenario) -> None:
    """Rule 4: answered at +10: no warning at +45."""
    events = [created(at=0), assigned(at=0), activity(at=10, actor="alice")]
    r = run(events, policy(), now=NOW)
    r.none("sla.pre_breach_warning")


def test_rule_04_automated_touch_after_warning_point_does_not_change_the_warning(
    run: RunScenario,
) -> None:
    """Rule 4: the reason is decided at the warning point: an autoresponder at +50 is later."""
    events = [created(at=0), assigned(at=0), autoresponder(at=50)]
    r = run(events, policy(), now=t(55))
    assert r.one("sla.pre_breach_warning")["data"]["reason"] == "owner_no_action"
