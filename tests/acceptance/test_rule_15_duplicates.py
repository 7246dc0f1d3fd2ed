"""Rule 15: duplicates (same event_id for a lead) are ignored; output ids are deterministic."""

from __future__ import annotations

from pathlib import Path

from .runner import ReplayRunner, RunScenario
from .scenario import (
    activity,
    assigned,
    autoresponder,
    created,
    policy,
    rich_history,
    rich_policy,
    t,
)

NOW = t(300)


def test_rule_15_repeated_lines_give_byte_identical_output(
    runner: ReplayRunner, tmp_path: Path
) -> None:
    """Rule 15: every line written twice: the output file is byte for byte the same."""
    events = rich_history()
    once = runner.run(events, rich_policy(), now=NOW)
    twice = runner.run(events + [dict(e) for e in events], rich_policy(), now=NOW)
    assert once.exit_code == twice.exit_code == 0
    assert once.raw, "no output at all"
    assert twice.raw == once.raw
    # ...because every repeat was recognised and ignored, not re-applied (a re-applied
    # lead.created would be a dead letter of its own).
    assert f"duplicates ignored: {len(events)}" in twice.stderr
    assert "lead.created" not in twice.stderr


def test_rule_15_duplicate_autoresponder_is_one_touch(run: RunScenario) -> None:
    """Rule 15: a repeated activity event changes nothing (still one touch, one warning)."""
    touch = autoresponder(at=1)
    events = [created(at=0), assigned(at=0), touch, dict(touch), dict(touch)]
    r = run(events, policy(), now=NOW)
    r.one("sla.pre_breach_warning")
    r.one("sla.breached")


def test_rule_15_duplicate_created_does_not_restart_the_clock(run: RunScenario) -> None:
    """Rule 15: the same lead.created twice: one timer, one breach at +60."""
    c = created(at=0)
    r = run([c, dict(c), assigned(at=0)], policy(), now=NOW)
    r.one("sla.timer_started")
    r.one("sla.breached")


def test_rule_15_same_event_id_on_another_lead_is_not_a_duplicate(run: RunScenario) -> None:
    """Rule 15: a duplicate is a repeated event_id FOR THE SAME LEAD; other leads still count."""
    events = [
        created("L-1", at=0),
        assigned("L-1", at=0),
        created("L-2", at=0),
        assigned("L-2", at=0),
        activity("L-1", at=10, actor="alice", event_id="crm-activity-1"),
        activity("L-2", at=10, actor="alice", event_id="crm-activity-1"),
    ]
    r = run(events, policy(), now=NOW)
    assert sorted(e["lead_id"] for e in r.of_type("sla.response_recorded")) == ["L-1", "L-2"]


def test_rule_15_output_event_ids_are_deterministic_across_runs(runner: ReplayRunner) -> None:
    """Rule 15: two runs (different line orders) give the same output event_ids."""
    events = rich_history()
    first = runner.run(events, rich_policy(), now=NOW)
    runner.seed = 7
    second = runner.run(events, rich_policy(), now=NOW)
    ids_first = [e["event_id"] for e in first.outputs]
    assert ids_first == [e["event_id"] for e in second.outputs]
    assert len(set(ids_first)) == len(ids_first), "output event_ids are not unique"


def test_rule_15_output_ids_derive_from_the_lead_and_transition_only(run: RunScenario) -> None:
    """Rule 15: a lead's output ids do not depend on the other leads in the file."""
    alone = run([created("L-a", at=0), assigned("L-a", at=0)], policy(), now=NOW)
    together = run(
        [created("L-a", at=0), assigned("L-a", at=0), created("L-z", at=3), assigned("L-z", at=4)],
        policy(),
        now=NOW,
    )
    ids_alone = [(e["type"], e["event_id"]) for e in alone.outputs]
    ids_together = [(e["type"], e["event_id"]) for e in together.outputs if e["lead_id"] == "L-a"]
    assert ids_alone == ids_together
    other_ids = {e["event_id"] for e in together.outputs if e["lead_id"] == "L-z"}
    assert not other_ids & {i for _, i in ids_alone}
