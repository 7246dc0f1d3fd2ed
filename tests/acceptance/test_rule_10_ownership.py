"""Rule 10: every monitored lead has an owner and a backup owner (ownership gap, no_owner)."""

from __future__ import annotations

from .runner import RunScenario
from .scenario import ROSTER, activity, assert_at, assigned, created, policy, t

NOW = t(30)


def test_rule_10_owner_without_backup_is_an_ownership_gap(run: RunScenario) -> None:
    """Rule 10: erin (no backup in event or roster): ownership_gap to the default manager."""
    r = run([created(at=0), assigned(at=5, owner="erin")], policy(), now=NOW)
    gap = r.one("sla.ownership_gap")
    assert_at(gap["occurred_at"], 5)
    assert gap["data"]["recipient_id"] == "mgr"
    assert gap["data"]["owner_id"] == "erin"
    assert gap["data"]["missing"] == "backup_owner"


def test_rule_10_gap_goes_to_the_owner_manager(run: RunScenario) -> None:
    """Rule 10: the gap goes to the manager named on the assignment."""
    r = run([created(at=0), assigned(at=0, owner="erin", manager="mia")], policy(), now=NOW)
    assert r.one("sla.ownership_gap")["data"]["recipient_id"] == "mia"


def test_rule_10_gap_goes_to_the_roster_manager(run: RunScenario) -> None:
    """Rule 10: roster gina has a manager but no backup: the gap goes to that manager."""
    roster = ROSTER + '\n[roster.gina]\nmanager = "mia"\n'
    r = run([created(at=0), assigned(at=0, owner="gina")], policy(roster=roster), now=NOW)
    gap = r.one("sla.ownership_gap")
    assert gap["data"]["recipient_id"] == "mia"
    assert gap["data"]["owner_id"] == "gina"


def test_rule_10_backup_from_the_roster_is_no_gap(run: RunScenario) -> None:
    """Rule 10: alice's backup bob comes from the roster: no gap."""
    r = run([created(at=0), assigned(at=0, owner="alice")], policy(), now=NOW)
    r.none("sla.ownership_gap")


def test_rule_10_backup_from_the_event_is_no_gap(run: RunScenario) -> None:
    """Rule 10: the assignment names a backup: no gap."""
    r = run([created(at=0), assigned(at=0, owner="erin", backup="bob")], policy(), now=NOW)
    r.none("sla.ownership_gap")


def test_rule_10_gap_once_per_lead_and_owner(run: RunScenario) -> None:
    """Rule 10: erin, alice, erin again: one gap for erin; frank later gets his own."""
    events = [
        created(at=0),
        assigned(at=1, owner="erin"),
        assigned(at=2, owner="alice"),
        assigned(at=3, owner="erin"),
        assigned(at=4, owner="frank"),
    ]
    r = run(events, policy(), now=NOW)
    gaps = r.of_type("sla.ownership_gap")
    assert sorted(g["data"]["owner_id"] for g in gaps) == ["erin", "frank"]


def test_rule_10_gap_per_lead(run: RunScenario) -> None:
    """Rule 10: erin owning two leads without backup: one gap for each lead."""
    events = [
        created("L-1", at=0),
        assigned("L-1", at=0, owner="erin"),
        created("L-2", at=0),
        assigned("L-2", at=0, owner="erin"),
    ]
    r = run(events, policy(), now=NOW)
    assert sorted(g["lead_id"] for g in r.of_type("sla.ownership_gap")) == ["L-1", "L-2"]


def test_rule_10_person_who_takes_the_lead_by_answering_raises_no_gap(run: RunScenario) -> None:
    """Rules 2+10: dave (not in roster) takes an unowned lead by answering: no gap."""
    r = run([created(at=0), activity(at=10, actor="dave")], policy(), now=NOW)
    r.none("sla.ownership_gap")
    assert r.final_fact()["owner_id"] == "dave"


def test_rule_10_no_person_owner_at_warning_point_is_a_no_owner_warning(run: RunScenario) -> None:
    """Rule 10: nobody owns it at +45: the warning is no_owner, to the manager."""
    r = run([created(at=0)], policy(), now=t(50))
    warning = r.one("sla.pre_breach_warning")
    assert warning["data"]["reason"] == "no_owner"
    assert warning["data"]["recipient_id"] == "mgr"


def test_rule_10_queue_assignment_is_not_an_owner_gap(run: RunScenario) -> None:
    """Rules 2+10: a queue is no owner, so assigning one raises no backup gap."""
    events = [created(at=0), assigned(at=0, owner="q-inbound", kind="queue")]
    r = run(events, policy(), now=NOW)
    r.none("sla.ownership_gap")
    assert r.final_fact()["owner_id"] is None
