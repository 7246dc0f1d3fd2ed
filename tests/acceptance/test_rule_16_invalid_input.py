"""Rule 16 (replay side): invalid input is reported with its line number and skipped, exit 0."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .runner import ReplayRunner, RunScenario, mentions_line
from .scenario import activity, assert_at, assigned, created, policy, resolved, t

NOW = t(50)


def _line(event: dict[str, Any] | str) -> str:
    return json.dumps(event) if not isinstance(event, str) else event


def _without(
    original: dict[str, Any], *keys: str, data_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(original))
    for key in keys:
        event.pop(key)
    for key in data_keys:
        event["data"].pop(key)
    return event


def _with(original: dict[str, Any], **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(original))
    for key, value in changes.items():
        if key.startswith("data_"):
            event["data"][key[5:]] = value
        else:
            event[key] = value
    return event


INVALID: dict[str, dict[str, Any] | str] = {
    "not_json": "{this is not json",
    "json_array": "[1, 2, 3]",
    "json_string": '"lead.created"',
    "missing_event_id": _without(created("L-2"), "event_id"),
    "empty_event_id": _with(created("L-2"), event_id=""),
    "event_id_129_chars": _with(created("L-2"), event_id="e" * 129),
    "missing_lead_id": _without(created("L-2"), "lead_id"),
    "empty_lead_id": _with(created("L-2"), lead_id=""),
    "lead_id_129_chars": _with(created("L-2"), lead_id="L" * 129),
    "unknown_type": _with(created("L-2"), type="lead.deleted"),
    "missing_type": _without(created("L-2"), "type"),
    "bad_timestamp": _with(created("L-2"), occurred_at="yesterday"),
    "timestamp_without_offset": _with(created("L-2"), occurred_at="2026-03-02T09:00:00"),
    "missing_occurred_at": _without(created("L-2"), "occurred_at"),
    "data_not_an_object": _with(created("L-2"), data="pricing_page"),
    "created_without_source": _without(created("L-2"), data_keys=("source",)),
    "created_bad_priority": created("L-2", priority="asap"),
    "created_bad_consent": created("L-2", consent="maybe"),
    "owner_without_owner_id": _without(assigned("L-1", at=1), data_keys=("owner_id",)),
    "owner_bad_kind": assigned("L-1", at=1, owner="dave", kind="team"),
    "activity_without_actor_kind": _without(
        activity("L-1", at=2, actor="alice"), data_keys=("actor_kind",)
    ),
    "activity_without_actor_id": _without(
        activity("L-1", at=2, actor="alice"), data_keys=("actor_id",)
    ),
    "activity_bad_actor_kind": activity("L-1", at=2, actor="alice", actor_kind="robot"),
    "status_bad_value": {
        "event_id": "st-bad",
        "type": "lead.status_changed",
        "lead_id": "L-1",
        "occurred_at": t(3),
        "data": {"status": "vanished"},
    },
    "resolved_without_note": _without(resolved("L-1", at=4), data_keys=("resolution_note",)),
}


@pytest.mark.parametrize("name", list(INVALID), ids=list(INVALID))
def test_rule_16_invalid_line_is_reported_with_its_line_number_and_skipped(
    runner: ReplayRunner, name: str
) -> None:
    """Rule 16 + section 7: line 2 is invalid: named on stderr, skipped, the rest applied, exit 0."""
    runner.seed = None
    lines = [
        _line(created("L-1", at=0)),
        _line(INVALID[name]),
        _line(assigned("L-1", at=0, owner="alice")),
    ]
    r = runner.run(lines, policy(), now=NOW)
    assert r.exit_code == 0, r.stderr
    assert mentions_line(r.stderr, 2), f"line 2 not reported on stderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr
    # the valid lines were applied: alice owns L-1 and is warned; nothing came of the bad line
    warning = r.one("sla.pre_breach_warning", lead="L-1")
    assert warning["data"]["recipient_id"] == "alice"
    assert warning["data"]["reason"] == "owner_no_action"
    r.none("sla.response_recorded")
    assert not [e for e in r.outputs if e["lead_id"] != "L-1"]


def test_rule_16_several_invalid_lines_each_reported(runner: ReplayRunner) -> None:
    """Rule 16: lines 2 and 4 invalid: both reported, lines 1, 3, 5 applied."""
    runner.seed = None
    lines = [
        _line(created("L-1", at=0)),
        "garbage",
        _line(assigned("L-1", at=0)),
        '{"event_id": "x"}',
        _line(activity("L-1", at=10, actor="alice")),
    ]
    r = runner.run(lines, policy(), now=NOW)
    assert r.exit_code == 0
    assert mentions_line(r.stderr, 2) and mentions_line(r.stderr, 4), r.stderr
    assert r.one("sla.response_recorded")["data"]["responder_id"] == "alice"


def test_rule_16_unknown_extra_fields_are_kept_but_ignored(run: RunScenario) -> None:
    """Section 2: unknown extra fields in data (and schema_version 1) are accepted."""
    c = created(at=0, crm_campaign="spring", utm={"medium": "cpc"})
    c["schema_version"] = 1
    a = assigned(at=0, owner="alice", territory="north")
    r = run([c, a], policy(), now=t(70))
    assert r.exit_code == 0
    assert r.one("sla.breached")["data"]["owner_id"] == "alice"


def test_rule_16_breach_resolved_for_a_never_breached_lead_is_rejected(
    runner: ReplayRunner,
) -> None:
    """Rule 16: breach_resolved for a met lead: reported (line 4), not applied, exit 0."""
    runner.seed = None
    lines = [
        created(at=0),
        assigned(at=0),
        activity(at=10, actor="alice"),
        resolved(at=20, resolved_by="carol", note="nothing to see"),
    ]
    r = runner.run(lines, policy(), now=t(100))
    assert r.exit_code == 0
    assert mentions_line(r.stderr, 4), r.stderr
    fact = r.final_fact()
    assert fact["status"] == "met"
    assert fact["resolution_note"] is None
    assert fact["resolved_by"] is None


def test_rule_16_breach_resolved_fills_the_resolution(run: RunScenario) -> None:
    """Rules 5+16: a breached lead resolved: resolution_note and resolved_by on the fact."""
    events = [
        created(at=0),
        assigned(at=0),
        resolved(at=120, resolved_by="carol", note="rep out sick"),
    ]
    r = run(events, policy(), now=t(130))
    fact = r.final_fact()
    assert fact["resolution_note"] == "rep out sick"
    assert fact["resolved_by"] == "carol"
    assert fact["breach_reason"] == "owner_no_action"
    assert fact["status"] == "breached"


def test_rule_16_breach_resolved_reason_code_overrides_the_breach_reason(run: RunScenario) -> None:
    """Section 2: reason_code on lead.breach_resolved overrides the derived breach_reason."""
    events = [
        created(at=0),
        assigned(at=0),
        resolved(at=120, resolved_by="carol", note="CRM outage", reason_code="system_outage"),
    ]
    r = run(events, policy(), now=t(130))
    fact = r.final_fact()
    assert fact["breach_reason"] == "system_outage"
    assert fact["resolution_note"] == "CRM outage"
    assert_at(r.one("sla.breached")["occurred_at"], 60)
