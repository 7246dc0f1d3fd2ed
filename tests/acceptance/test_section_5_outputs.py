"""Section 5: the output envelope, the fields every output type must carry, facts, order."""

from __future__ import annotations

import itertools

import pytest

from .runner import Result, RunScenario, parse_ts
from .scenario import (
    TIMESTAMP_KEYS,
    activity,
    assert_at,
    assert_z,
    assigned,
    autoresponder,
    created,
    policy,
    rich_history,
    rich_policy,
    t,
)

NOW = t(300)

REQUIRED = {
    "sla.timer_started": [
        "owner_id",
        "backup_owner_id",
        "manager_id",
        "due_at",
        "warn_at",
        "target_minutes",
        "clock",
        "source",
        "priority",
    ],
    "sla.timer_updated": [
        "owner_id",
        "backup_owner_id",
        "manager_id",
        "due_at",
        "warn_at",
        "target_minutes",
        "clock",
        "source",
        "priority",
    ],
    "sla.pre_breach_warning": [
        "recipient_id",
        "owner_id",
        "due_at",
        "reason",
        "autoresponder_sent",
    ],
    "sla.breached": [
        "owner_id",
        "backup_owner_id",
        "manager_id",
        "source",
        "priority",
        "due_at",
        "breach_reason",
        "autoresponder_sent",
        "routed_to_review",
    ],
    "sla.escalation_task": [
        "task_id",
        "assignee_id",
        "assignee_role",
        "level",
        "breach_reason",
        "apology_review_required",
    ],
    "sla.review_requested": ["task_id", "recipient_id", "reason", "apology_review_required"],
    "sla.task_closed": ["task_id", "reason"],
    "sla.response_recorded": [
        "responder_id",
        "kind",
        "response_seconds",
        "business_seconds",
        "within_sla",
    ],
    "sla.stale_lead": ["recipient_id", "owner_id", "age_seconds"],
    "sla.ownership_gap": ["recipient_id", "owner_id", "missing"],
    "sla.excluded": ["reason", "route"],
    "sla.alert_retracted": ["retracted_event_id", "reason"],
    "sla.measured": [
        "source",
        "priority",
        "intent",
        "owner_id",
        "manager_id",
        "created_at",
        "due_at",
        "status",
        "eligible",
        "responded_at",
        "response_seconds",
        "within_sla",
        "breach_reason",
        "resolution_note",
        "resolved_by",
        "pre_breach_warned",
        "escalated",
        "escalation_level",
        "meeting_after_escalation",
        "stale",
        "in_review",
        "policy_version",
        "version",
    ],
}
ALERTS_AND_TASKS = {
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
    "sla.escalation_task",
    "sla.review_requested",
    "sla.task_closed",
}
ENUMS: dict[tuple[str, str], set[str | None]] = {
    ("sla.escalation_task", "assignee_role"): {"backup_owner", "manager"},
    ("sla.review_requested", "reason"): {
        "complaint",
        "urgent_request",
        "customer_conflict",
        "consent_unclear",
        "ownership_conflict",
        "breach",
    },
    ("sla.task_closed", "reason"): {"answered", "excluded", "reassigned", "hold_ended"},
    ("sla.ownership_gap", "missing"): {"backup_owner"},
    ("sla.excluded", "route"): {"support", None},
    ("sla.measured", "status"): {"open", "held", "met", "breached", "excluded"},
    ("sla.pre_breach_warning", "reason"): {"owner_no_action", "autoresponder_only", "no_owner"},
}


@pytest.fixture
def rich(run: RunScenario) -> Result:
    r = run(rich_history(), rich_policy(), now=NOW)
    assert r.exit_code == 0, r.stderr
    return r


def test_section_5_every_output_has_the_envelope(rich: Result) -> None:
    """Section 5: event_id, type, lead_id, occurred_at, data on every output."""
    assert rich.outputs
    for event in rich.outputs:
        assert {"event_id", "type", "lead_id", "occurred_at", "data"} <= set(event), event
        assert isinstance(event["data"], dict)
        assert event["type"] in REQUIRED, f"unknown output type {event['type']}"


def test_section_5_rich_history_covers_the_output_types(rich: Result) -> None:
    """Section 5 (sanity of the scenario): the rich history produces most output types."""
    seen = set(rich.types())
    expected = set(REQUIRED) - {"sla.alert_retracted"}
    assert expected <= seen, f"missing: {sorted(expected - seen)}"


def test_section_5_every_type_carries_its_required_fields(rich: Result) -> None:
    """Section 5: each output type's data has the fields of the table."""
    for event in rich.outputs:
        missing = [k for k in REQUIRED[event["type"]] if k not in event["data"]]
        assert not missing, f"{event['type']} lacks {missing}: {event}"


def test_section_5_enumerated_values(rich: Result) -> None:
    """Section 5: enumerated fields use the spelled-out values."""
    for event in rich.outputs:
        for (type_, key), allowed in ENUMS.items():
            if event["type"] == type_:
                assert event["data"][key] in allowed, event


def test_section_5_every_alert_and_task_carries_lookup_free_fields(rich: Result) -> None:
    """Section 5: source, priority, created_at, owner_id, due_at (and suppressed) on each."""
    checked = 0
    for event in rich.outputs:
        if event["type"] in ALERTS_AND_TASKS:
            checked += 1
            for key in ("source", "priority", "created_at", "owner_id", "due_at"):
                assert key in event["data"], f"{event['type']} lacks {key}: {event}"
            assert event["data"]["suppressed"] is False, event
    assert checked > 10


def test_section_5_alert_fields_have_the_lead_values(run: RunScenario) -> None:
    """Section 5: the carried fields are the lead's: source, priority, created_at, owner, due."""
    events = [
        created(at=0, source="pricing_page", priority="high"),
        assigned(at=0),
        autoresponder(at=1),
    ]
    r = run(events, policy(), now=NOW)
    for type_ in (
        "sla.pre_breach_warning",
        "sla.breached",
        "sla.escalation_task",
        "sla.stale_lead",
    ):
        for event in r.of_type(type_):
            data = event["data"]
            assert data["source"] == "pricing_page"
            assert data["priority"] == "high"
            assert_at(data["created_at"], 0)
            assert data["owner_id"] == "alice"
            assert_at(data["due_at"], 60)


def test_section_5_timestamps_are_utc_with_z(rich: Result) -> None:
    """Section 5: every timestamp in the outputs is UTC with Z."""
    for event in rich.outputs:
        assert_z(event["occurred_at"])
        for key in TIMESTAMP_KEYS:
            if event["data"].get(key) is not None:
                assert_z(event["data"][key])


def test_section_5_output_is_ordered_by_instant_lead_type_id(rich: Result) -> None:
    """Section 7: outputs ordered by (occurred_at, lead_id, type, event_id)."""
    keys = [
        (parse_ts(e["occurred_at"]), e["lead_id"], e["type"], e["event_id"]) for e in rich.outputs
    ]
    assert keys == sorted(keys)


def test_section_5_output_occurred_at_is_the_logical_instant(run: RunScenario) -> None:
    """Section 5: occurred_at is the warning point / deadline / response, not the wall clock."""
    events = [created(at=0), assigned(at=0), activity(at=75, actor="alice")]
    r = run(events, policy(), now=NOW)
    assert_at(r.one("sla.timer_started")["occurred_at"], 0)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 45)
    assert_at(r.one("sla.breached")["occurred_at"], 60)
    assert_at(r.one("sla.response_recorded")["occurred_at"], 75)


def test_section_5_timer_started_fields(run: RunScenario) -> None:
    """Section 5: timer_started: nulls where no owner; due/warn, target, clock, source, priority."""
    r = run([created(at=0, source="chat", priority="high")], policy(), now=t(1))
    started = r.one("sla.timer_started")
    assert_at(started["occurred_at"], 0)
    data = started["data"]
    assert data["owner_id"] is None
    assert data["backup_owner_id"] is None
    assert_at(data["due_at"], 60)
    assert_at(data["warn_at"], 45)
    assert data["target_minutes"] == 60
    assert data["clock"] == "calendar"
    assert data["source"] == "chat"
    assert data["priority"] == "high"


def test_section_5_fact_versions_grow_by_one(rich: Result) -> None:
    """Section 5 (decision): each lead's facts are versions 1, 2, 3, ... in output order."""
    leads = {e["lead_id"] for e in rich.of_type("sla.measured")}
    assert len(leads) >= 5
    for lead in leads:
        versions = [e["data"]["version"] for e in rich.of_type("sla.measured", lead)]
        assert versions == list(range(1, len(versions) + 1)), (lead, versions)


def test_section_5_fact_changes_produce_new_versions(rich: Result) -> None:
    """Section 5: a fact is re-emitted only when it changes (no two identical in a row)."""
    for lead in {e["lead_id"] for e in rich.of_type("sla.measured")}:
        facts = rich.facts(lead)
        for before, after in itertools.pairwise(facts):
            a = {k: v for k, v in before["data"].items() if k != "version"}
            b = {k: v for k, v in after["data"].items() if k != "version"}
            assert a != b, f"{lead}: version {after['data']['version']} repeats the fact"


def test_section_5_final_fact_of_a_breached_escalated_lead(rich: Result) -> None:
    """Section 5: L-a: breached (autoresponder_only), escalated L2, meeting after escalation."""
    fact = rich.final_fact("L-a")
    assert fact["status"] == "breached"
    assert fact["eligible"] is True
    assert fact["source"] == "pricing_page"
    assert fact["priority"] == "normal"
    assert fact["intent"] == "high"
    assert fact["owner_id"] == "alice"
    assert fact["manager_id"] == "carol"
    assert_at(fact["created_at"], 0)
    assert_at(fact["due_at"], 60)
    assert_at(fact["responded_at"], 100)
    assert fact["response_seconds"] == 6000
    assert fact["within_sla"] is False
    assert fact["breach_reason"] == "autoresponder_only"
    assert fact["resolution_note"] == "rep out sick"
    assert fact["resolved_by"] == "carol"
    assert fact["pre_breach_warned"] is True
    assert fact["escalated"] is True
    assert fact["escalation_level"] == 2
    assert fact["meeting_after_escalation"] is True
    assert fact["stale"] is False
    assert fact["in_review"] is False
    assert fact["policy_version"] == "acc-1"


def test_section_5_final_fact_of_a_met_lead(rich: Result) -> None:
    """Section 5: L-b (complaint answered at +15 after creation): met, in review."""
    fact = rich.final_fact("L-b")
    assert fact["status"] == "met"
    assert fact["within_sla"] is True
    assert fact["response_seconds"] == 900
    assert fact["breach_reason"] is None
    assert fact["pre_breach_warned"] is False
    assert fact["escalated"] is False
    assert fact["escalation_level"] in (0, None)
    # in_review was true while the complaint review was open (after the answer: SPEC silent)
    assert any(f["data"]["in_review"] for f in rich.facts("L-b"))


def test_section_5_fact_of_stale_unowned_lead(rich: Result) -> None:
    """Section 5: L-i (demo_request, never owned): breached no_owner, stale, owner null."""
    fact = rich.final_fact("L-i")
    assert fact["status"] == "breached"
    assert fact["breach_reason"] == "no_owner"
    assert fact["stale"] is True
    assert fact["owner_id"] is None
    assert fact["manager_id"] == "mgr"


def test_section_5_policy_version_on_every_fact(rich: Result) -> None:
    """Section 3/5: policy_version is the policy's version label on every fact."""
    for event in rich.of_type("sla.measured"):
        assert event["data"]["policy_version"] == "acc-1"


def test_section_5_policy_version_defaults_to_a_hash_of_the_file(run: RunScenario) -> None:
    """Section 3: without version, policy_version is a short hash that differs per file."""
    events = [created(at=0), assigned(at=0)]
    first = run(events, policy(version=""), now=t(5)).final_fact()["policy_version"]
    second = run(events, policy("warn_at = 0.5", version=""), now=t(5)).final_fact()[
        "policy_version"
    ]
    again = run(events, policy(version=""), now=t(5)).final_fact()["policy_version"]
    assert isinstance(first, str) and first
    assert first == again
    assert first != second


def test_section_5_queue_owner_is_null_owner_in_outputs(run: RunScenario) -> None:
    """Section 5 (decision): a queue owner appears as owner_id null in alerts and facts."""
    events = [created(at=0), assigned(at=0, owner="q-inbound", kind="queue")]
    r = run(events, policy(), now=t(70))
    assert r.one("sla.breached")["data"]["owner_id"] is None
    assert r.one("sla.pre_breach_warning")["data"]["owner_id"] is None
    assert r.final_fact()["owner_id"] is None


def test_section_5_display_name_absent_by_default(rich: Result) -> None:
    """Section 5: without include_contact_details no alert or task carries the display name."""
    for event in rich.outputs:
        if event["type"] in ALERTS_AND_TASKS:
            assert event["data"].get("display_name") is None, event
    assert b"Ada Lovelace" not in b"".join(
        line for line in rich.raw.splitlines() if b"sla.measured" not in line
    )


def test_section_5_display_name_with_include_contact_details(run: RunScenario) -> None:
    """Section 5: include_contact_details = true copies display_name into alerts and tasks."""
    r = run(rich_history(), rich_policy("include_contact_details = true"), now=NOW)
    checked = 0
    for event in r.outputs:
        if event["type"] in ALERTS_AND_TASKS and event["lead_id"] in ("L-i", "L-j"):
            checked += 1
            expected = "Ada Lovelace" if event["lead_id"] == "L-i" else "Grace Hopper"
            assert event["data"].get("display_name") == expected, event
    assert checked >= 4


def test_section_5_response_recorded_fields(run: RunScenario) -> None:
    """Section 5: responder, kind, calendar seconds, business_seconds null (calendar clock)."""
    events = [created(at=0), assigned(at=0), activity(at=12.5, actor="bob", kind="sms")]
    r = run(events, policy(), now=t(20))
    data = r.one("sla.response_recorded")["data"]
    assert data["responder_id"] == "bob"
    assert data["kind"] == "sms"
    assert data["response_seconds"] == 750
    assert data["business_seconds"] is None
    assert data["within_sla"] is True
