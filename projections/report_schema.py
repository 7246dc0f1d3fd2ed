"""The JSON form of ``lead-sla report`` as pydantic models, and its JSON Schema document.

The checked-in copy is ``schemas/json/report.schema.json`` (next to the event schemas); a test
fails when it drifts from these models. Regenerate it with
``lead-sla report --write-schema schemas/json/report.schema.json``.
"""

from __future__ import annotations

from typing import Any, Final

import orjson
from pydantic import BaseModel, ConfigDict, Field

SCHEMA_FILE_NAME: Final = "report.schema.json"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class ShortListEntry(_Model):
    lead_id: str
    source: str
    priority: str
    owner_id: str | None
    backup_owner_id: str | None
    manager_id: str | None
    created_at: str = Field(description="the lead's occurred_at (UTC, Z)")
    age_seconds: float = Field(description="from created_at to the report's now")
    status: str = Field(description="breached, held or open")
    reason: str = Field(description="why the lead is on the list")
    next_step: str = Field(description="what should happen next")
    next_step_by: str | None = Field(description="who should do it (a person id)")
    escalation_level: int
    apology_review_required: bool


class Compliance(_Model):
    leads: int
    eligible_leads: int
    decided: int = Field(description="eligible leads met or breached")
    met: int = Field(description="eligible leads met within SLA")
    breached: int
    compliance: float | None = Field(description="met / decided; null when nothing is decided")


class SourceCompliance(Compliance):
    source: str


class OwnerCompliance(Compliance):
    owner_id: str = Field(description="(none) for leads without an owner")


class DayCompliance(Compliance):
    day: str = Field(description="calendar day of creation in the policy's time zone")


class ReviewNote(_Model):
    lead_id: str
    resolution_note: str
    resolved_by: str | None


class ReasonCount(_Model):
    breach_reason: str
    breaches: int
    resolved: int = Field(description="breaches with a resolution note")


class ReviewReason(ReasonCount):
    notes: list[ReviewNote]


class BreachReview(_Model):
    start: str = Field(description="start of the week (exclusive), UTC")
    end: str = Field(description="the report's now (inclusive), UTC")
    breaches: int
    by_reason: list[ReviewReason]


class DistributionBucket(_Model):
    label: str
    lower_seconds: float
    upper_seconds: float | None
    responses: int


class StaleLead(_Model):
    lead_id: str
    source: str
    owner_id: str | None
    manager_id: str | None
    created_at: str
    age_seconds: float
    status: str


class MeetingRate(_Model):
    escalated: int
    meetings: int
    rate: float | None


class OwnerExclusion(_Model):
    owner_id: str
    leads: int
    excluded: int
    rate: float


class Coverage(_Model):
    leads_seen: int = Field(description="leads in any projected output or dead letter")
    leads_created: int = Field(description="leads with a valid lead.created (a fact)")
    leads_without_created: int
    dead_letters: int = Field(description="inputs sent to the dead-letter topic")


class Report(_Model):
    """``lead-sla report --format json``."""

    generated_at: str = Field(description="the report's now (UTC, Z)")
    timezone: str = Field(description="zone of the daily buckets")
    short_list: list[ShortListEntry] = Field(description="oldest first")
    short_list_total: int = Field(description="entries before --limit")
    breach_review: BreachReview
    compliance_overall: Compliance
    compliance_by_source: list[SourceCompliance]
    compliance_by_owner: list[OwnerCompliance]
    compliance_by_day: list[DayCompliance]
    first_responses: int
    median_first_response_seconds: float | None = Field(description="nearest rank")
    p90_first_response_seconds: float | None = Field(description="nearest rank")
    response_time_distribution: list[DistributionBucket]
    pre_breach_warnings: int = Field(description="leads that got a pre-breach warning")
    breaches_by_reason: list[ReasonCount]
    stale_high_intent_open: list[StaleLead]
    meeting_rate_after_escalation: MeetingRate
    exclusion_rate_by_owner: list[OwnerExclusion]
    coverage: Coverage


def report_schema() -> dict[str, Any]:
    schema = Report.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        **schema,
        "title": "lead-sla report",
        "description": "The JSON form of `lead-sla report` (README.md, section Read models)",
    }


def report_schema_document() -> bytes:
    """The checked-in file's exact content (sorted keys, two-space indent, newline)."""
    return orjson.dumps(report_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
