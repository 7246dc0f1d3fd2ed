"""The report's figures equal an independent computation from the ``sla.measured`` facts.

Given a simulated history of 20,000 leads replayed into output events, when ``lead-sla project``
writes them into SQLite and into PostgreSQL and ``lead-sla report`` reads them back, then every
figure of the JSON form equals what plain Python computes from the facts in the file (latest
``version`` per lead), on both databases; and both databases hold the same schema.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from math import ceil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadsla import cli
from leadsla.policy_file import load_policy
from leadsla.projections.report_schema import Report, report_schema_document
from leadsla.projections.schema import TABLES, VIEW_NAMES
from leadsla.projections.store import Store
from tests.pg_fixture import History

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]  # bounded in time

NOW = datetime(2027, 1, 25, 12, 0, tzinfo=UTC)
LEADS = 20_000


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Expected:
    """The report's figures, computed from the output file without SQL."""

    def __init__(self, outputs: Path, zone: str, now: datetime) -> None:
        facts: dict[str, tuple[int, str, dict[str, Any]]] = {}
        excluded: set[str] = set()
        backups: dict[str, tuple[str, str, str | None]] = {}
        with outputs.open() as stream:
            for line in stream:
                event = json.loads(line)
                lead, type_ = event["lead_id"], event["type"]
                if type_ == "sla.measured":
                    key = (event["data"]["version"], event["event_id"])
                    if lead not in facts or facts[lead][:2] < key:
                        facts[lead] = (*key, event["data"])
                elif type_ == "sla.excluded":
                    excluded.add(lead)
                elif type_ in ("sla.timer_started", "sla.timer_updated"):
                    stamp = (event["occurred_at"], event["event_id"])
                    at = _ts(event["occurred_at"]).isoformat()
                    if lead not in backups or backups[lead][:2] < (at, stamp[1]):
                        backups[lead] = (at, stamp[1], event["data"]["backup_owner_id"])
        self.facts = {lead: f[2] for lead, f in facts.items()}
        self.excluded = excluded
        self.backups = {lead: b[2] for lead, b in backups.items()}
        self.zone = ZoneInfo(zone)
        self.now = now

    def compliance(self, key: Callable[[dict[str, Any]], str]) -> dict[str, dict[str, Any]]:
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for fact in self.facts.values():
            group = groups[key(fact)]
            group["leads"] += 1
            if fact["eligible"]:
                group["eligible_leads"] += 1
                if fact["status"] == "met" and fact["within_sla"]:
                    group["met"] += 1
                    group["decided"] += 1
                elif fact["status"] == "breached":
                    group["breached"] += 1
                    group["decided"] += 1
        return {
            name: {
                "leads": c["leads"],
                "eligible_leads": c["eligible_leads"],
                "decided": c["decided"],
                "met": c["met"],
                "breached": c["breached"],
                "compliance": c["met"] / c["decided"] if c["decided"] else None,
            }
            for name, c in groups.items()
        }

    def day(self, fact: dict[str, Any]) -> str:
        return _ts(fact["created_at"]).astimezone(self.zone).date().isoformat()

    def nearest_rank(self, share: Fraction) -> float | None:
        values = sorted(
            f["response_seconds"]
            for f in self.facts.values()
            if f["eligible"] and f["response_seconds"] is not None
        )
        if not values:
            return None
        return float(values[ceil(share * len(values)) - 1])

    def open_lead(self, lead: str, fact: dict[str, Any]) -> bool:
        return (
            lead not in self.excluded
            and fact["responded_at"] is None
            and _ts(fact["created_at"]) <= self.now
        )

    def short_list(self) -> list[str]:
        chosen = []
        for lead, f in self.facts.items():
            if not self.open_lead(lead, f):
                continue
            if (
                (f["status"] == "breached" and f["resolution_note"] is None)
                or f["status"] == "held"
                or (
                    f["status"] == "open"
                    and (f["stale"] or (f["owner_id"] is None and f["pre_breach_warned"]))
                )
            ):
                chosen.append((_ts(self.facts[lead]["created_at"]), lead))
        return [lead for _, lead in sorted(chosen)]

    def stale_open(self) -> list[str]:
        return [
            lead
            for _, lead in sorted(
                (_ts(f["created_at"]), lead)
                for lead, f in self.facts.items()
                if f["stale"]
                and f["intent"] == "high"
                and f["status"] in ("open", "held", "breached")
                and self.open_lead(lead, f)
            )
        ]

    def breach_review(self) -> dict[str, tuple[int, int, list[str]]]:
        start = self.now - timedelta(days=7)
        found: dict[str, tuple[int, int, list[str]]] = {}
        breached = sorted(
            (_ts(f["due_at"]), lead, f)
            for lead, f in self.facts.items()
            if f["status"] == "breached" and f["due_at"] is not None
        )
        for due, _lead, f in breached:
            if not (start < due <= self.now):
                continue
            count, resolved, notes = found.get(f["breach_reason"], (0, 0, []))
            if f["resolution_note"] is not None:
                resolved += 1
                notes = [*notes, f["resolution_note"]]
            found[f["breach_reason"]] = (count + 1, resolved, notes)
        return found


def _by(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: {k: v for k, v in row.items() if k != key} for row in rows}


def _report(db: str, tmp_path: Path, name: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        cli.main(["report", "--db", db, "--format", "json", "--now", now, "--out", str(out)]) == 0
    )
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def check_figures(report: dict[str, Any], expected: Expected) -> None:
    Report.model_validate(report)
    assert _by(report["compliance_by_source"], "source") == expected.compliance(
        lambda f: f["source"]
    )
    assert _by(report["compliance_by_owner"], "owner_id") == expected.compliance(
        lambda f: f["owner_id"] or "(none)"
    )
    assert _by(report["compliance_by_day"], "day") == expected.compliance(expected.day)
    assert report["median_first_response_seconds"] == expected.nearest_rank(Fraction(1, 2))
    assert report["p90_first_response_seconds"] == expected.nearest_rank(Fraction(9, 10))
    facts = expected.facts.values()
    assert report["pre_breach_warnings"] == sum(f["pre_breach_warned"] for f in facts)
    reasons = Counter(f["breach_reason"] for f in facts if f["status"] == "breached")
    resolved = Counter(
        f["breach_reason"]
        for f in facts
        if f["status"] == "breached" and f["resolution_note"] is not None
    )
    assert {
        r["breach_reason"]: (r["breaches"], r["resolved"]) for r in report["breaches_by_reason"]
    } == {reason: (count, resolved[reason]) for reason, count in reasons.items()}
    assert [r["lead_id"] for r in report["stale_high_intent_open"]] == expected.stale_open()
    escalated = [f for f in facts if f["escalated"]]
    meetings = sum(f["meeting_after_escalation"] for f in escalated)
    assert report["meeting_rate_after_escalation"] == {
        "escalated": len(escalated),
        "meetings": meetings,
        "rate": meetings / len(escalated),
    }
    by_owner: dict[str, Counter[str]] = defaultdict(Counter)
    for f in facts:
        by_owner[f["owner_id"] or "(none)"]["leads"] += 1
        by_owner[f["owner_id"] or "(none)"]["excluded"] += f["status"] == "excluded"
    assert _by(report["exclusion_rate_by_owner"], "owner_id") == {
        owner: {"leads": c["leads"], "excluded": c["excluded"], "rate": c["excluded"] / c["leads"]}
        for owner, c in by_owner.items()
    }
    assert report["coverage"] == {
        "leads_seen": len(expected.facts),
        "leads_created": len(expected.facts),
        "leads_without_created": 0,
        "dead_letters": 0,
    }
    short = report["short_list"]
    managers = {f["manager_id"] for f in facts}
    assert [r["lead_id"] for r in short] == expected.short_list()
    assert report["short_list_total"] == len(short)
    for row in short:
        fact = expected.facts[row["lead_id"]]
        assert row["owner_id"] == fact["owner_id"]
        assert row["backup_owner_id"] == expected.backups.get(row["lead_id"])
        assert row["age_seconds"] == (NOW - _ts(fact["created_at"])).total_seconds()
        assert row["next_step_by"] is not None
        if fact["status"] == "held":
            assert row["reason"].startswith("held")
            # a hold is a manager's call: the lead's manager, or whoever got the review request
            assert row["next_step_by"] in managers
    review = report["breach_review"]
    assert {
        r["breach_reason"]: (
            r["breaches"],
            r["resolved"],
            [n["resolution_note"] for n in r["notes"]],
        )
        for r in review["by_reason"]
    } == expected.breach_review()
    assert review["breaches"] > 0  # the week chosen holds breaches: the check above compares data


def test_report_figures_equal_an_independent_computation_on_sqlite_and_postgresql(
    projection_history: Callable[..., History], pg_url: str, tmp_path: Path
) -> None:
    # Given a simulated history of 20,000 leads and its replayed output events
    history = projection_history(LEADS)
    zone = load_policy(history.policy).timezone
    expected = Expected(history.outputs, zone, NOW)
    assert len(expected.facts) == LEADS
    assert expected.short_list(), "the history should leave leads on the short list"

    reports = {}
    for name, db in (("sqlite", f"sqlite:///{tmp_path / 'rm.db'}"), ("postgresql", pg_url)):
        # When the projector writes them into the database and the report reads them back
        code = cli.main(
            [
                "project",
                "--input",
                str(history.outputs),
                "--db",
                db,
                "--policy",
                str(history.policy),
            ]
        )
        assert code == 0
        reports[name] = _report(db, tmp_path, name)
        # Then every figure equals the computation from the facts
        check_figures(reports[name], expected)

    # And both databases give the same answers, in the same JSON
    assert reports["sqlite"] == reports["postgresql"]

    # And both hold the same tables, views and columns
    with Store(f"sqlite:///{tmp_path / 'rm.db'}") as lite, Store(pg_url) as pg:
        for relation in (*TABLES, *VIEW_NAMES):
            assert lite.columns(relation) == pg.columns(relation), relation
        assert lite.snapshot() == {table: rows for table, rows in pg.snapshot().items()} or _diff(
            lite.snapshot(), pg.snapshot()
        )


def _diff(a: dict[str, list[Any]], b: dict[str, list[Any]]) -> bool:
    for table in a:
        if a[table] != b[table]:
            pytest.fail(f"{table} differs: {a[table][:2]} vs {b[table][:2]}")
    return False


def test_the_published_report_schema_is_the_models_schema() -> None:
    # Given the checked-in JSON Schema of the report's JSON form
    path = Path(__file__).resolve().parents[2] / "schemas" / "json" / "report.schema.json"
    # Then it is what the models export (regenerate with lead-sla report --write-schema)
    assert path.read_bytes() == report_schema_document()
    schema = json.loads(path.read_text())
    for key in (
        "short_list",
        "compliance_by_source",
        "compliance_by_owner",
        "median_first_response_seconds",
        "p90_first_response_seconds",
        "pre_breach_warnings",
        "breaches_by_reason",
        "stale_high_intent_open",
        "meeting_rate_after_escalation",
        "exclusion_rate_by_owner",
        "coverage",
    ):
        assert key in schema["required"]
