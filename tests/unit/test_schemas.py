"""The wire contract (SPEC.md sections 2 and 5): pydantic models, JSON Schema files, topics."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from leadsla import cli
from leadsla.schemas import inputs
from leadsla.schemas.common import format_validation_error, parse_timestamp
from leadsla.schemas.dlq import DeadLetter
from leadsla.schemas.export import (
    OTHER_DOCUMENTS,
    REGENERATE_COMMAND,
    check_schemas,
    export_schemas,
    schema_documents,
)
from leadsla.schemas.inputs import (
    INPUT_EVENT_ADAPTER,
    INPUT_MODELS,
    INPUT_TYPES,
    ActivityLoggedEvent,
    LeadCreatedEvent,
    LeadUpdatedEvent,
    upgrade,
    validate_input,
)
from leadsla.schemas.outputs import (
    ALERT_TYPES,
    OUTPUT_MODELS,
    OUTPUT_TOPICS,
    OUTPUT_TYPES,
    RETRACTION_TYPE,
    TASK_TYPES,
    TOPIC_ALERTS,
    TOPIC_FACTS,
    TOPIC_MEASUREMENTS,
    TOPIC_TASKS,
    MeasuredData,
    topics_for,
    validate_output,
)

CHECKED_IN = Path(__file__).resolve().parents[2] / "schemas" / "json"

# --------------------------------------------------------------------------------------------
# Input samples: the smallest valid data, and every field filled in
# --------------------------------------------------------------------------------------------

MINIMAL_DATA: dict[str, dict[str, Any]] = {
    "lead.created": {"source": "pricing_page"},
    "lead.updated": {"priority": "urgent"},
    "lead.owner_assigned": {"owner_id": "rep-17"},
    "lead.activity_logged": {"actor_id": "rep-17", "actor_kind": "person", "kind": "email"},
    "lead.status_changed": {"status": "closed"},
    "lead.breach_resolved": {"resolved_by": "mgr-1", "resolution_note": "rep was off sick"},
}

FULL_DATA: dict[str, dict[str, Any]] = {
    "lead.created": {
        "source": "demo_request",
        "priority": "high",
        "intent": "low",
        "category": "complaint",
        "customer_status": "existing_customer",
        "consent": "unclear",
        "account_id": "acc-42",
        "display_name": "Ada Lovelace",
    },
    "lead.updated": {
        "priority": "low",
        "intent": "high",
        "category": "support_issue",
        "customer_status": "new",
        "consent": "declined",
    },
    "lead.owner_assigned": {
        "owner_id": "queue-emea",
        "owner_kind": "queue",
        "backup_owner_id": "rep-3",
        "manager_id": "mgr-1",
    },
    "lead.activity_logged": {
        "actor_id": "bot-1",
        "actor_kind": "automation",
        "kind": "autoresponder",
        "direction": "inbound",
        "next_step": "call back Tuesday",
        "auto_submitted": True,
        "sequence_id": "seq-9",
    },
    "lead.status_changed": {"status": "opted_out", "reason": "asked to stop"},
    "lead.breach_resolved": {
        "resolved_by": "mgr-1",
        "resolution_note": "rep was off sick",
        "reason_code": "staffing",
    },
}

REQUIRED_DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "lead.created": ("source",),
    "lead.updated": (),
    "lead.owner_assigned": ("owner_id",),
    "lead.activity_logged": ("actor_id", "actor_kind", "kind"),
    "lead.status_changed": ("status",),
    "lead.breach_resolved": ("resolved_by", "resolution_note"),
}

# (type, field, a value outside the closed set)
BAD_ENUMS = [
    ("lead.created", "priority", "critical"),
    ("lead.created", "intent", "medium"),
    ("lead.created", "category", "question"),
    ("lead.created", "customer_status", "vip"),
    ("lead.created", "consent", "maybe"),
    ("lead.updated", "priority", "URGENT"),
    ("lead.updated", "consent", "yes"),
    ("lead.owner_assigned", "owner_kind", "team"),
    ("lead.activity_logged", "actor_kind", "robot"),
    ("lead.activity_logged", "direction", "outgoing"),
    ("lead.status_changed", "status", "won"),
]


def envelope(type_: str, data: Any = None, **fields: Any) -> dict[str, Any]:
    """An input event of ``type_``; ``data`` may be any JSON value (invalid shapes are tested)."""
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "type": type_,
        "lead_id": "lead-1",
        "occurred_at": "2026-03-02T09:15:00+01:00",
        "data": copy.deepcopy(MINIMAL_DATA[type_] if data is None else data),
    }
    event.update(fields)
    return event


def reason_of(raw: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_input(raw)
    return format_validation_error(caught.value)


# --------------------------------------------------------------------------------------------
# Inputs: valid events
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", INPUT_TYPES)
@pytest.mark.parametrize("sample", [MINIMAL_DATA, FULL_DATA], ids=["minimal", "full"])
def test_every_input_type_validates(type_: str, sample: dict[str, dict[str, Any]]) -> None:
    model = validate_input(envelope(type_, sample[type_]))

    assert type(model) is INPUT_MODELS[type_]
    assert model.type == type_
    assert model.schema_version == 1
    for name, value in sample[type_].items():
        assert getattr(model.data, name) == value


def test_defaults_of_lead_created_follow_the_spec() -> None:
    model = validate_input(envelope("lead.created"))

    assert isinstance(model, LeadCreatedEvent)
    assert model.data.priority == "normal"
    assert model.data.intent is None  # derived later from policy high_intent_sources
    assert model.data.category == "inquiry"
    assert model.data.customer_status == "new"
    assert model.data.consent == "granted"


def test_the_discriminated_union_picks_the_model_by_type() -> None:
    model = INPUT_EVENT_ADAPTER.validate_python(envelope("lead.activity_logged"))

    assert isinstance(model, ActivityLoggedEvent)


def test_open_sets_accept_any_string() -> None:
    created = validate_input(envelope("lead.created", {"source": "carrier_pigeon"}))
    activity = validate_input(
        envelope("lead.activity_logged", {"actor_id": "r", "actor_kind": "person", "kind": "fax"})
    )

    assert created.data.source == "carrier_pigeon"  # type: ignore[union-attr]
    assert activity.data.kind == "fax"  # type: ignore[union-attr]


def test_unknown_data_fields_are_kept_but_ignored() -> None:
    data = {"source": "web_form", "utm_campaign": "spring", "nested": {"a": [1, 2]}}

    model = validate_input(envelope("lead.created", data))

    assert model.data.model_extra == {"utm_campaign": "spring", "nested": {"a": [1, 2]}}


def test_unknown_top_level_fields_are_ignored() -> None:
    model = validate_input(envelope("lead.created", producer="crm-sync", trace={"id": 1}))

    assert model.lead_id == "lead-1"


def test_optional_fields_may_be_null() -> None:
    data = {
        "actor_id": "r",
        "actor_kind": "person",
        "kind": "call",
        "next_step": None,
        "auto_submitted": None,
        "sequence_id": None,
    }

    model = validate_input(envelope("lead.activity_logged", data))

    assert model.data.auto_submitted is None  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------
# Inputs: refusals name the field path
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "field"),
    [(t, f) for t, fields in REQUIRED_DATA_FIELDS.items() for f in fields],
)
def test_a_missing_required_data_field_is_named(type_: str, field: str) -> None:
    data = dict(FULL_DATA[type_])
    del data[field]

    assert reason_of(envelope(type_, data)) == f"data.{field}: Field required"


@pytest.mark.parametrize("field", ["event_id", "type", "lead_id", "occurred_at", "data"])
def test_a_missing_envelope_field_is_named(field: str) -> None:
    raw = envelope("lead.created")
    del raw[field]

    assert f"{field}: Field required" in reason_of(raw)


@pytest.mark.parametrize(("type_", "field", "bad"), BAD_ENUMS)
def test_a_value_outside_a_closed_set_is_refused(type_: str, field: str, bad: str) -> None:
    data = {**MINIMAL_DATA[type_], field: bad}

    reason = reason_of(envelope(type_, data))

    assert reason.startswith(f"data.{field}: Input should be ")
    assert repr(bad) in reason


def test_a_naive_timestamp_is_refused_with_a_clear_message() -> None:
    reason = reason_of(envelope("lead.created", occurred_at="2026-03-02T09:15:00"))

    assert reason.startswith("occurred_at: timestamp has no UTC offset")


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02",
        "2026-03-02T09:15+01:00",  # no seconds
        "20260302T091500Z",  # basic format
        "2026-03-02T09:15:00,5Z",  # comma fraction
        "2026-03-02T09:15:00+0100",
        "2026-03-02T09:15:00+01",
        "2026-03-02T24:00:00Z",
        "2026-02-30T09:15:00Z",
        "2026-03-02T09:15:00+24:00",
        "2026-03-02T09:15:00Z\n",
        "next tuesday",
    ],
)
def test_text_that_is_not_rfc3339_with_offset_is_refused(text: str) -> None:
    assert reason_of(envelope("lead.created", occurred_at=text)).startswith("occurred_at: ")


@pytest.mark.parametrize("value", [1772442900, 1772442900.5, None, True, ["2026"]])
def test_a_timestamp_must_be_a_string(value: object) -> None:
    reason = reason_of(envelope("lead.created", occurred_at=value))

    assert reason.startswith("occurred_at: must be an RFC 3339 timestamp string")


@pytest.mark.parametrize(
    ("text", "iso_utc"),
    [
        ("2026-03-02T09:15:00Z", "2026-03-02T09:15:00+00:00"),
        ("2026-03-02t09:15:00z", "2026-03-02T09:15:00+00:00"),
        ("2026-03-02 09:15:00+01:00", "2026-03-02T08:15:00+00:00"),
        ("2026-03-02T09:15:00.5-05:30", "2026-03-02T14:45:00.500000+00:00"),
        ("2026-03-02T09:15:00.123456789+00:00", "2026-03-02T09:15:00.123456+00:00"),
        ("2026-03-02T09:15:00-00:00", "2026-03-02T09:15:00+00:00"),
    ],
)
def test_rfc3339_variants_are_accepted(text: str, iso_utc: str) -> None:
    parsed = parse_timestamp(text)

    assert parsed.utcoffset() is not None
    assert parsed.astimezone(parse_timestamp("2026-01-01T00:00:00Z").tzinfo).isoformat() == iso_utc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            envelope("lead.activity_logged", {**MINIMAL_DATA["lead.activity_logged"]}, lead_id=7),
            "lead_id: Input should be a valid string (got 7)",
        ),
        (
            envelope(
                "lead.activity_logged",
                {**MINIMAL_DATA["lead.activity_logged"], "auto_submitted": "yes"},
            ),
            "data.auto_submitted: Input should be a valid boolean (got 'yes')",
        ),
        (
            envelope(
                "lead.activity_logged",
                {**MINIMAL_DATA["lead.activity_logged"], "auto_submitted": 1},
            ),
            "data.auto_submitted: Input should be a valid boolean (got 1)",
        ),
        (
            envelope("lead.owner_assigned", {"owner_id": 17}),
            "data.owner_id: Input should be a valid string (got 17)",
        ),
        (
            envelope("lead.owner_assigned", {"owner_id": ""}),
            "data.owner_id: String should have at least 1 character (got '')",
        ),
        (
            envelope("lead.owner_assigned", {"owner_id": "r", "backup_owner_id": ""}),
            "data.backup_owner_id: String should have at least 1 character (got '')",
        ),
        (
            envelope("lead.created", event_id=""),
            "event_id: String should have at least 1 character (got '')",
        ),
        (
            envelope("lead.created", lead_id="x" * 129),
            "lead_id: String should have at most 128 characters (got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...)",
        ),
        (
            envelope("lead.created", schema_version="1"),
            "schema_version: Input should be a valid integer (got '1')",
        ),
        (
            envelope("lead.created", schema_version=True),
            "schema_version: Input should be a valid integer (got true)",
        ),
        (
            envelope("lead.created", data=[]),
            "data: Input should be an object (got an array)",
        ),
        (
            envelope("lead.created", type="lead.deleted"),
            "type: unknown event type 'lead.deleted' (expected one of lead.created, "
            "lead.updated, lead.owner_assigned, lead.activity_logged, lead.status_changed, "
            "lead.breach_resolved)",
        ),
        (
            envelope("lead.created", type=3),
            "type: Input should be a valid string (got 3)",
        ),
    ],
)
def test_strictness_protects_users(raw: dict[str, Any], expected: str) -> None:
    assert reason_of(raw) == expected


def test_every_bad_field_is_listed() -> None:
    raw = envelope(
        "lead.owner_assigned", {"owner_kind": "team"}, event_id="", occurred_at="yesterday"
    )

    reason = reason_of(raw)

    assert reason.split("; ")[0].startswith("event_id: ")
    assert "occurred_at: not an RFC 3339 timestamp" in reason
    assert "data.owner_id: Field required" in reason
    assert "data.owner_kind: Input should be 'person' or 'queue' (got 'team')" in reason


def test_a_long_error_list_is_cut_short() -> None:
    data = {"actor_id": 1, "actor_kind": 2, "kind": 3, "direction": 4, "next_step": 5}
    raw = envelope("lead.activity_logged", data, event_id=1, lead_id=2, occurred_at=3)

    assert reason_of(raw).endswith("; and 2 more")


@pytest.mark.parametrize("data", [{}, {"priority": None}, {"unrelated": "x"}])
def test_lead_updated_needs_at_least_one_of_its_five_fields(data: dict[str, Any]) -> None:
    assert reason_of(envelope("lead.updated", data)) == (
        "data: at least one of priority, intent, category, customer_status, consent is required"
    )


@pytest.mark.parametrize("field", ["priority", "intent", "category", "customer_status", "consent"])
def test_lead_updated_with_one_field_is_enough(field: str) -> None:
    data = {field: FULL_DATA["lead.updated"][field]}

    model = validate_input(envelope("lead.updated", data))

    assert isinstance(model, LeadUpdatedEvent)
    assert getattr(model.data, field) == data[field]


# --------------------------------------------------------------------------------------------
# schema_version
# --------------------------------------------------------------------------------------------


def test_schema_version_1_is_the_default_and_may_be_explicit() -> None:
    assert validate_input(envelope("lead.created")).schema_version == 1
    assert validate_input(envelope("lead.created", schema_version=1)).schema_version == 1


@pytest.mark.parametrize("version", [2, 99])
def test_a_newer_schema_version_is_refused(version: int) -> None:
    reason = reason_of(envelope("lead.created", schema_version=version))

    assert reason.startswith(f"schema_version: unsupported schema_version {version}")


def test_schema_version_below_1_is_refused() -> None:
    assert reason_of(envelope("lead.created", schema_version=0)).startswith("schema_version: ")


def test_the_upgrade_hook_brings_older_versions_to_the_current_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pretend version 2 is current and version 1 renamed data.source to data.origin.
    def one_to_two(raw: dict[str, Any]) -> dict[str, Any]:
        data = dict(raw["data"])
        data["origin"] = data.pop("source")
        return {**raw, "data": data}

    monkeypatch.setattr(inputs, "CURRENT_SCHEMA_VERSION", 2)
    monkeypatch.setitem(inputs.UPGRADERS, 1, one_to_two)
    old = envelope("lead.created", schema_version=1)

    upgraded = upgrade(old)

    assert upgraded["schema_version"] == 2
    assert upgraded["data"] == {"origin": "pricing_page"}
    assert old["data"] == {"source": "pricing_page"}  # the caller's dict is untouched
    implicit = envelope("lead.created")  # no schema_version: version 1
    assert upgrade(implicit)["data"] == {"origin": "pricing_page"}


@pytest.mark.parametrize("version", [1, 0, "1", None, 5])
def test_upgrade_leaves_current_unknown_and_malformed_versions_to_validation(
    version: object,
) -> None:
    raw = envelope("lead.created", schema_version=version)

    assert upgrade(raw) is raw


# --------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------

COMMON = {
    "source": "pricing_page",
    "priority": "high",
    "created_at": "2026-03-02T08:15:00Z",
    "owner_id": "rep-17",
    "due_at": "2026-03-02T09:15:00Z",
    "suppressed": False,
}

OUTPUT_DATA: dict[str, dict[str, Any]] = {
    "sla.timer_started": {
        "owner_id": None,
        "backup_owner_id": None,
        "manager_id": "mgr-1",
        "due_at": "2026-03-02T09:15:00Z",
        "warn_at": "2026-03-02T09:00:00Z",
        "target_minutes": 60,
        "clock": "calendar",
        "source": "pricing_page",
        "priority": "high",
    },
    "sla.timer_updated": {
        "owner_id": "rep-17",
        "backup_owner_id": "rep-3",
        "manager_id": "mgr-1",
        "due_at": "2026-03-02T08:45:00Z",
        "warn_at": "2026-03-02T08:37:30Z",
        "target_minutes": 30.0,
        "clock": "business",
        "source": "pricing_page",
        "priority": "urgent",
    },
    "sla.pre_breach_warning": {
        **COMMON,
        "recipient_id": "rep-17",
        "reason": "autoresponder_only",
        "autoresponder_sent": True,
    },
    "sla.breached": {
        **COMMON,
        "owner_id": None,
        "backup_owner_id": None,
        "manager_id": "mgr-1",
        "breach_reason": "no_owner",
        "autoresponder_sent": True,
        "routed_to_review": False,
        "display_name": "Ada Lovelace",
    },
    "sla.escalation_task": {
        **COMMON,
        "task_id": "task-1",
        "assignee_id": "mgr-1",
        "assignee_role": "manager",
        "level": 2,
        "breach_reason": "owner_no_action",
        "apology_review_required": True,
    },
    "sla.review_requested": {
        **COMMON,
        "task_id": "review-1",
        "recipient_id": "mgr-1",
        "reason": "consent_unclear",
        "apology_review_required": False,
    },
    "sla.task_closed": {**COMMON, "task_id": "task-1", "reason": "answered"},
    "sla.response_recorded": {
        "responder_id": "rep-17",
        "kind": "call",
        "response_seconds": 1800.0,
        "business_seconds": None,
        "within_sla": True,
    },
    "sla.stale_lead": {**COMMON, "recipient_id": "mgr-1", "age_seconds": 7200.0},
    "sla.ownership_gap": {**COMMON, "recipient_id": "mgr-1", "missing": "backup_owner"},
    "sla.excluded": {**COMMON, "due_at": None, "reason": "existing_customer", "route": "support"},
    "sla.alert_retracted": {
        **COMMON,
        "suppressed": True,
        "retracted_event_id": "0123456789abcdef0123456789abcdef",
        "retracted_type": "sla.breached",
        "reason": "late_activity",
    },
    "sla.measured": {
        "source": "pricing_page",
        "priority": "high",
        "intent": "high",
        "owner_id": "rep-17",
        "manager_id": "mgr-1",
        "created_at": "2026-03-02T08:15:00Z",
        "due_at": "2026-03-02T09:15:00Z",
        "status": "met",
        "eligible": True,
        "responded_at": "2026-03-02T08:45:00.250000Z",
        "response_seconds": 1800.25,
        "within_sla": True,
        "breach_reason": None,
        "resolution_note": None,
        "resolved_by": None,
        "pre_breach_warned": False,
        "escalated": False,
        "escalation_level": 0,
        "meeting_after_escalation": False,
        "stale": False,
        "in_review": False,
        "policy_version": "2026-03",
        "version": 1,
    },
}


def output_event(type_: str, data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "fedcba9876543210fedcba9876543210",
        "type": type_,
        "lead_id": "lead-1",
        "occurred_at": "2026-03-02T09:15:00Z",
        "data": copy.deepcopy(OUTPUT_DATA[type_] if data is None else data),
    }
    event.update(fields)
    return event


def test_there_is_a_sample_for_every_output_type() -> None:
    assert set(OUTPUT_DATA) == set(OUTPUT_TYPES)


@pytest.mark.parametrize("type_", OUTPUT_TYPES)
def test_every_output_type_validates_a_sample(type_: str) -> None:
    model = validate_output(output_event(type_))

    assert type(model) is OUTPUT_MODELS[type_]
    assert model.model_dump(mode="json", exclude_unset=True)["data"] == OUTPUT_DATA[type_]


@pytest.mark.parametrize("type_", ALERT_TYPES + TASK_TYPES + (RETRACTION_TYPE,))
@pytest.mark.parametrize("field", ["source", "priority", "created_at", "owner_id", "due_at"])
def test_alerts_and_tasks_carry_the_common_fields(type_: str, field: str) -> None:
    data = {k: v for k, v in OUTPUT_DATA[type_].items() if k != field}

    with pytest.raises(ValidationError, match=f"data.{field}"):
        validate_output(output_event(type_, data))


@pytest.mark.parametrize("type_", ALERT_TYPES + TASK_TYPES + (RETRACTION_TYPE,))
def test_alerts_and_tasks_must_say_whether_they_are_suppressed(type_: str) -> None:
    data = {k: v for k, v in OUTPUT_DATA[type_].items() if k != "suppressed"}

    with pytest.raises(ValidationError, match="suppressed"):
        validate_output(output_event(type_, data))
    with pytest.raises(ValidationError, match="suppressed"):
        validate_output(output_event(type_, {**data, "suppressed": "false"}))


def test_display_name_is_optional_on_alerts() -> None:
    data = {k: v for k, v in OUTPUT_DATA["sla.breached"].items() if k != "display_name"}

    validate_output(output_event("sla.breached", data))


@pytest.mark.parametrize("type_", ["sla.timer_started", "sla.response_recorded", "sla.measured"])
def test_measurements_do_not_carry_alert_fields(type_: str) -> None:
    with pytest.raises(ValidationError, match="suppressed"):
        validate_output(output_event(type_, {**OUTPUT_DATA[type_], "suppressed": False}))


@pytest.mark.parametrize(
    ("type_", "change"),
    [
        ("sla.measured", {"version": 0}),
        ("sla.measured", {"status": "closed"}),
        ("sla.measured", {"escalation_level": 3}),
        ("sla.measured", {"extra_field": 1}),
        ("sla.breached", {"breach_reason": "lazy"}),
        ("sla.escalation_task", {"level": 3}),
        ("sla.escalation_task", {"assignee_role": "owner"}),
        ("sla.review_requested", {"reason": "vip"}),
        ("sla.task_closed", {"reason": "done"}),
        ("sla.excluded", {"route": "sales"}),
        ("sla.ownership_gap", {"missing": "manager"}),
        ("sla.pre_breach_warning", {"due_at": "2026-03-02T09:15:00+00:00"}),
        ("sla.timer_started", {"clock": "wall"}),
        ("sla.alert_retracted", {"retracted_type": "sla.measured"}),
    ],
)
def test_outputs_outside_the_contract_are_refused(type_: str, change: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        validate_output(output_event(type_, {**OUTPUT_DATA[type_], **change}))


@pytest.mark.parametrize(
    "fields",
    [
        {"occurred_at": "2026-03-02T09:15:00+01:00"},
        {"occurred_at": "2026-03-02T09:15:00.5Z"},
        {"event_id": "not-a-hash"},
        {"schema_version": 1},
    ],
)
def test_the_output_envelope_is_exact(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        validate_output(output_event("sla.breached", **fields))


def test_measured_facts_have_exactly_the_listed_fields() -> None:
    listed = [
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
    ]

    assert list(MeasuredData.model_fields) == listed


# --------------------------------------------------------------------------------------------
# Topics
# --------------------------------------------------------------------------------------------


def test_every_output_type_has_a_topic() -> None:
    assert set(OUTPUT_TOPICS) | {RETRACTION_TYPE} == set(OUTPUT_TYPES)
    for type_ in ALERT_TYPES:
        assert OUTPUT_TOPICS[type_] == (TOPIC_ALERTS,)
    for type_ in TASK_TYPES:
        assert OUTPUT_TOPICS[type_] == (TOPIC_TASKS,)
    for type_ in ("sla.timer_started", "sla.timer_updated", "sla.response_recorded"):
        assert OUTPUT_TOPICS[type_] == (TOPIC_MEASUREMENTS,)
    assert OUTPUT_TOPICS["sla.measured"] == (TOPIC_MEASUREMENTS, TOPIC_FACTS)


@pytest.mark.parametrize(
    ("retracted", "topic"),
    [(t, TOPIC_ALERTS) for t in ALERT_TYPES] + [(t, TOPIC_TASKS) for t in TASK_TYPES],
)
def test_a_retraction_goes_to_the_topic_of_what_it_retracts(retracted: str, topic: str) -> None:
    data = {**OUTPUT_DATA[RETRACTION_TYPE], "retracted_type": retracted}

    validate_output(output_event(RETRACTION_TYPE, data))
    assert topics_for(RETRACTION_TYPE, data) == (topic,)
    assert topics_for(retracted, OUTPUT_DATA[retracted]) == (topic,)


# --------------------------------------------------------------------------------------------
# The dead-letter record
# --------------------------------------------------------------------------------------------


def test_a_dead_letter_validates() -> None:
    letter = DeadLetter.model_validate(
        {
            "original_base64": "eyJ9",
            "key_base64": None,
            "headers": [{"key": "ce_id", "value_base64": "YQ=="}],
            "topic": "leads.activity",
            "partition": 3,
            "offset": 1200,
            "reason": "not valid JSON: unexpected end of data",
            "received_at": "2026-03-02T09:15:00.123456Z",
            "event_id": None,
            "lead_id": "lead-1",
        }
    )

    assert letter.partition == 3


@pytest.mark.parametrize(
    "change",
    [{"offset": -1}, {"original_base64": "not base64!"}, {"received_at": "2026-03-02"}],
)
def test_a_malformed_dead_letter_is_refused(change: dict[str, Any]) -> None:
    record = {
        "original_base64": "",
        "topic": "leads.activity",
        "partition": 0,
        "offset": 0,
        "reason": "x",
        "received_at": "2026-03-02T09:15:00Z",
        **change,
    }

    with pytest.raises(ValidationError):
        DeadLetter.model_validate(record)


# --------------------------------------------------------------------------------------------
# JSON Schema files
# --------------------------------------------------------------------------------------------


def test_the_checked_in_json_schema_files_match_the_models(tmp_path: Path) -> None:
    fresh = tmp_path / "json"
    export_schemas(fresh)
    fresh_files = {path.name: path.read_bytes() for path in fresh.glob("*.json")}
    checked_in = {
        path.name: path.read_bytes()
        for path in CHECKED_IN.glob("*.json")
        if path.name not in OTHER_DOCUMENTS  # drift-checked by their own module's test
    }

    changed = sorted(
        name
        for name in fresh_files.keys() | checked_in.keys()
        if fresh_files.get(name) != checked_in.get(name)
    )

    assert not changed, (
        f"schemas/json/ is out of date with the pydantic models ({', '.join(changed)}). "
        f"Regenerate with: {REGENERATE_COMMAND} (and delete files no model exports)"
    )


def test_there_is_one_schema_file_per_event_type() -> None:
    names = set(schema_documents())

    for type_ in (*INPUT_TYPES, *OUTPUT_TYPES):
        assert f"{type_}.json" in names
    assert {"input-envelope.json", "output-envelope.json", "dlq-record.json"} <= names


def test_the_export_is_deterministic() -> None:
    first = schema_documents()
    second = schema_documents()

    assert first == second
    for name, content in first.items():
        assert content.endswith(b"}\n"), name
        document = orjson.loads(content)
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert (
            orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + (b"\n")
            == content
        )


def test_the_exported_schema_says_what_the_models_enforce() -> None:
    created = orjson.loads(schema_documents()["lead.created.json"])
    data = created["$defs"]["LeadCreatedData"]

    assert created["properties"]["type"]["const"] == "lead.created"
    assert created["properties"]["occurred_at"]["format"] == "date-time"
    assert created["properties"]["schema_version"]["maximum"] == 1
    assert data["required"] == ["source"]
    assert data["additionalProperties"] is True
    assert data["properties"]["priority"]["enum"] == ["urgent", "high", "normal", "low"]
    breached = orjson.loads(schema_documents()["sla.breached.json"])
    assert breached["$defs"]["BreachedData"]["additionalProperties"] is False


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


def test_lead_sla_schemas_export_writes_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"

    assert cli.main(["schemas", "export", str(target)]) == 0

    written = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in written) == sorted(schema_documents())
    assert check_schemas(target) == []


def test_lead_sla_schemas_export_check_finds_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_schemas(tmp_path)
    assert cli.main(["schemas", "export", "--check", str(tmp_path)]) == 0

    (tmp_path / "sla.breached.json").write_text("{}\n")
    (tmp_path / "sla.old_type.json").write_text("{}\n")

    assert cli.main(["schemas", "export", "--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "differs: " in err and "sla.breached.json" in err
    assert "stale" in err and "sla.old_type.json" in err
    assert "regenerate with: lead-sla schemas export" in err


def test_lead_sla_schemas_needs_an_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["schemas"])

    assert "lead-sla schemas: the following arguments are required: ACTION" in (
        capsys.readouterr().err
    )
