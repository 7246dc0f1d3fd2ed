"""Read models on SQLite: idempotent upserts, retractions and closings, percentiles, secrets.

Hand-made output events (the same JSON ``lead-sla replay --out`` writes) go through the
projector into a temporary SQLite file; the PostgreSQL twin of every query runs in
``tests/integration/test_projector_figures.py``.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from leadsla import cli
from leadsla.projections.project import Projector, prepare, project_file
from leadsla.projections.report import build_report, next_step
from leadsla.projections.store import Batch, Store, StoreError, mask_url, ts_sqlite

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)


def fact(lead: str, version: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": "web_form",
        "priority": "normal",
        "intent": "normal",
        "owner_id": "anna",
        "manager_id": "maria",
        "created_at": "2026-11-02T08:00:00Z",
        "due_at": "2026-11-02T09:00:00Z",
        "status": "open",
        "eligible": True,
        "responded_at": None,
        "response_seconds": None,
        "within_sla": None,
        "breach_reason": None,
        "resolution_note": None,
        "resolved_by": None,
        "pre_breach_warned": False,
        "escalated": False,
        "escalation_level": 0,
        "meeting_after_escalation": False,
        "stale": False,
        "in_review": False,
        "policy_version": "p1",
        "version": version,
    }
    data.update(changes)
    return {
        "event_id": f"{lead}-fact-{version}".ljust(32, "0")[:32],
        "type": "sla.measured",
        "lead_id": lead,
        "occurred_at": "2026-11-02T09:00:00Z",
        "data": data,
    }


def event(event_id: str, type_: str, lead: str, at: str, **data: Any) -> dict[str, Any]:
    base = {
        "source": "web_form",
        "priority": "normal",
        "created_at": "2026-11-02T08:00:00Z",
        "owner_id": "anna",
        "due_at": "2026-11-02T09:00:00Z",
        "suppressed": False,
    }
    return {
        "event_id": event_id,
        "type": type_,
        "lead_id": lead,
        "occurred_at": at,
        "data": {**base, **data},
    }


def project(db: str, events: list[dict[str, Any]], tmp_path: Path, name: str = "e") -> None:
    path = tmp_path / f"{name}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    with Store(db) as store:
        zone = prepare(store, "Europe/Berlin", rebuild=False)
        project_file(store, Projector(store, zone), path, batch_lines=3)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rm.db'}"


def history() -> list[dict[str, Any]]:
    breach = event(
        "b1",
        "sla.breached",
        "L1",
        "2026-11-02T09:00:00Z",
        backup_owner_id="ben",
        manager_id="maria",
        breach_reason="owner_no_action",
        autoresponder_sent=False,
        routed_to_review=False,
    )
    task = event(
        "t1",
        "sla.escalation_task",
        "L1",
        "2026-11-02T09:00:00Z",
        task_id="task-1",
        assignee_id="ben",
        assignee_role="backup_owner",
        level=1,
        breach_reason="owner_no_action",
        apology_review_required=False,
    )
    return [
        fact("L1", 1),
        fact(
            "L1",
            3,
            status="breached",
            breach_reason="owner_no_action",
            escalated=True,
            escalation_level=1,
        ),
        fact("L1", 2, status="breached", breach_reason="owner_no_action"),
        event(
            "tm1",
            "sla.timer_started",
            "L1",
            "2026-11-02T08:00:00Z",
            backup_owner_id="ben",
            manager_id="maria",
            warn_at="2026-11-02T08:45:00Z",
            target_minutes=60.0,
            clock="calendar",
        ),
        breach,
        task,
        fact(
            "L2",
            1,
            created_at="2026-11-02T23:30:00Z",
            status="met",
            responded_at="2026-11-02T23:40:00.5Z",
            response_seconds=600.5,
            within_sla=True,
        ),
        fact("L3", 1, status="excluded", eligible=False, owner_id="carl"),
        event("x3", "sla.excluded", "L3", "2026-11-02T08:10:00Z", reason="spam", route=None),
    ]


def test_replays_in_any_order_and_repeated_give_the_same_tables(db: str, tmp_path: Path) -> None:
    # Given a small history projected in file order
    events = history()
    project(db, events, tmp_path)
    with Store(db) as store:
        expected = store.snapshot()
    # When the same events are projected shuffled, twice, into another database
    other = f"sqlite:///{tmp_path / 'other.db'}"
    rng = random.Random(3)
    for round_ in range(3):
        shuffled = events[:]
        rng.shuffle(shuffled)
        project(other, shuffled, tmp_path, name=f"s{round_}")
    # Then the read models are the same (positions aside: other files were read)
    with Store(other) as store:
        got = store.snapshot()
    assert {k: v for k, v in got.items() if k != "projector_positions"} == {
        k: v for k, v in expected.items() if k != "projector_positions"
    }
    # And the newest fact version stands, whatever came last
    with Store(db) as store:
        (row,) = store.query("SELECT version, escalation_level FROM lead_facts WHERE lead_id='L1'")
    assert row == {"version": 3, "escalation_level": 1}


def test_a_day_is_the_policy_zones_day(db: str, tmp_path: Path) -> None:
    # Given a lead created at 23:30 UTC, which is 00:30 the next day in Berlin
    project(db, history(), tmp_path)
    with Store(db) as store:
        days = {r["lead_id"]: r["created_day"] for r in store.query("SELECT * FROM lead_facts")}
        # Then its day is the Berlin one
        assert days["L2"] == "2026-11-03"
        assert days["L1"] == "2026-11-02"
        # And a projector with another zone is refused without --rebuild
        with pytest.raises(StoreError, match="rebuild"):
            prepare(store, "UTC", rebuild=False)


def test_retractions_and_closings_apply_to_the_logs_and_the_short_list(
    db: str, tmp_path: Path
) -> None:
    # Given a breached lead with an open escalation task to its backup
    project(db, history(), tmp_path)
    with Store(db) as store:
        report = build_report(store, NOW)
    (entry,) = report["short_list"]
    assert entry["lead_id"] == "L1"
    assert (entry["backup_owner_id"], entry["next_step_by"]) == ("ben", "ben")
    assert entry["reason"] == "breached: owner_no_action"
    # When the task is closed, then the closing retracted, then the breach alert retracted
    project(
        db,
        [
            event(
                "c1",
                "sla.task_closed",
                "L1",
                "2026-11-02T10:00:00Z",
                task_id="task-1",
                reason="reassigned",
            )
        ],
        tmp_path,
        "close",
    )
    with Store(db) as store:
        (task,) = store.query("SELECT * FROM task_log")
        assert (task["close_reason"], task["retracted"]) == ("reassigned", False)
        assert store.query("SELECT * FROM open_tasks") == []
    project(
        db,
        [
            event(
                "r1",
                "sla.alert_retracted",
                "L1",
                "2026-11-02T10:05:00Z",
                retracted_event_id="c1",
                retracted_type="sla.task_closed",
                reason="late_activity",
            ),
            event(
                "r2",
                "sla.alert_retracted",
                "L1",
                "2026-11-02T10:05:00Z",
                retracted_event_id="b1",
                retracted_type="sla.breached",
                reason="late_activity",
            ),
        ],
        tmp_path,
        "retract",
    )
    with Store(db) as store:
        # Then the task is open again and the breach alert is marked retracted
        (task,) = store.query("SELECT * FROM open_tasks")
        assert task["task_id"] == "task-1"
        alerts = {r["event_id"]: r["retracted"] for r in store.query("SELECT * FROM alert_log")}
        assert alerts == {"b1": True, "x3": False}


def test_an_excluded_lead_never_reaches_the_short_list_even_after_a_breach(
    db: str, tmp_path: Path
) -> None:
    # Given a breached lead that was then closed (sla.excluded after the breach)
    events = [
        *history(),
        event("x1", "sla.excluded", "L1", "2026-11-03T08:00:00Z", reason="closed", route=None),
    ]
    project(db, events, tmp_path)
    with Store(db) as store:
        report = build_report(store, NOW)
    # Then nobody is asked to answer it, but it still counts as breached
    assert report["short_list"] == []
    assert report["compliance_overall"]["breached"] == 1


def test_percentiles_are_nearest_rank(db: str, tmp_path: Path) -> None:
    # Given ten answered leads with response times 10, 20, ..., 100 seconds
    events = [
        fact(
            f"P{i:02d}",
            1,
            status="met",
            responded_at="2026-11-02T08:10:00Z",
            response_seconds=float(10 * i),
            within_sla=True,
        )
        for i in range(1, 11)
    ]
    project(db, events, tmp_path)
    with Store(db) as store:
        report = build_report(store, NOW)
    # Then the median is the 5th value and p90 the 9th (ceil(p * n))
    assert report["median_first_response_seconds"] == 50.0
    assert report["p90_first_response_seconds"] == 90.0
    assert report["compliance_overall"]["compliance"] == 1.0
    # And with one more value, ceil(0.5 * 11) = 6 and ceil(0.9 * 11) = 10
    project(
        db,
        [
            fact(
                "P11",
                1,
                status="met",
                responded_at="2026-11-02T08:10:00Z",
                response_seconds=110.0,
                within_sla=True,
            )
        ],
        tmp_path,
        "more",
    )
    with Store(db) as store:
        report = build_report(store, NOW)
    assert (report["median_first_response_seconds"], report["p90_first_response_seconds"]) == (
        60.0,
        100.0,
    )


def test_dead_letters_count_in_coverage(db: str, tmp_path: Path) -> None:
    letter: dict[str, Any] = {
        "original_base64": "e30=",
        "key_base64": None,
        "headers": [],
        "topic": "leads.activity",
        "partition": 0,
        "offset": 17,
        "reason": "held event whose lead.created never came",
        "received_at": "2026-11-02T10:00:00Z",
        "event_id": "e-9",
        "lead_id": "GHOST",
    }
    project(db, [*history(), letter, letter], tmp_path)
    with Store(db) as store:
        report = build_report(store, NOW)
    assert report["coverage"] == {
        "leads_seen": 4,
        "leads_created": 3,
        "leads_without_created": 1,
        "dead_letters": 1,
    }


def test_held_leads_go_to_whoever_holds_the_review() -> None:
    row = {
        "status": "held",
        "hold_reason": "consent_unclear",
        "manager_id": "maria",
        "task_assignee_id": "martin",
        "owner_id": "anna",
    }
    reason, step, who = next_step(row)
    assert (reason, who) == ("held: consent unclear", "martin")
    assert "consent" in step


def test_timestamps_sort_as_time_in_sqlite() -> None:
    texts = ["2026-11-02T08:02:07.5Z", "2026-11-02T08:02:07Z", "2026-11-02T08:02:07.123456Z"]
    stored = [ts_sqlite(t) for t in texts]
    assert sorted(stored) == [stored[1], stored[2], stored[0]]  # type: ignore[type-var]
    assert stored[1] == "2026-11-02T08:02:07.000000Z"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
        (
            "postgresql://app@db/x?password=s3cret&sslmode=require",
            "postgresql://app@db/x?password=***&sslmode=require",
        ),
        ("sqlite:///lead-sla.db", "sqlite:///lead-sla.db"),
    ],
)
def test_a_password_is_never_shown(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_the_commands_never_print_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a PostgreSQL URL with a password and no server behind it
    url = "postgresql://app:s3cret-pw@127.0.0.1:1/nothing"
    # When project and report fail to connect
    assert cli.main(["project", "--db", url, "--input", __file__]) == 2
    assert cli.main(["report", "--db", url]) == 2
    # Then the messages name the database but not the password
    err = capsys.readouterr().err
    assert "postgresql://app:***@127.0.0.1:1/nothing" in err
    assert "s3cret" not in err


def test_a_newer_schema_is_refused(db: str) -> None:
    with Store(db) as store:
        store.ensure_schema()
        store.ensure_schema()  # idempotent
        store.set_meta("schema_version", "99")
        with pytest.raises(StoreError, match="newer"):
            store.ensure_schema()


def test_unreadable_lines_are_skipped_and_reported(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(orjson.dumps(fact("L1", 1)) + b"\nnot json\n[1]\n" + b'{"type": "x"}\n')
    assert cli.main(["project", "--db", db, "--input", str(path)]) == 0
    err = capsys.readouterr().err
    assert "mixed.jsonl:2: skipped" in err and "mixed.jsonl:4: skipped" in err
    assert "1 events applied" in err and "3 skipped" in err


def test_projector_batch_keeps_the_highest_version_per_lead(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'b.db'}") as store:
        projector = Projector(store, ZoneInfo("UTC"))
        batch = Batch()
        for version in (2, 5, 3):
            projector.add(batch, fact("L", version))
    assert batch.facts["L"][1] == 5


def test_a_file_that_changed_under_the_same_head_is_read_again(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file projected to its end
    path = tmp_path / "outputs.jsonl"
    long_note = "n" * 70_000  # the first line alone is longer than the fingerprinted head
    lines = [orjson.dumps(fact(f"L{i}", 1, resolution_note=long_note)) + b"\n" for i in range(3)]
    path.write_bytes(b"".join(lines))
    assert cli.main(["project", "--db", db, "--input", str(path)]) == 0
    # When it is rewritten shorter, with other content after the same first 64 KiB
    path.write_bytes(lines[0] + orjson.dumps(fact("L0", 2, status="met")) + b"\n")
    assert cli.main(["project", "--db", db, "--input", str(path)]) == 0
    # Then it was read again from the top (not skipped because of the stored position)
    assert "changed since the last run" in capsys.readouterr().err
    with Store(db) as store:
        (row,) = store.query("SELECT version, status FROM lead_facts WHERE lead_id = 'L0'")
    assert row == {"version": 2, "status": "met"}
