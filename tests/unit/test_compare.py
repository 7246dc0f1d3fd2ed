"""`lead-sla compare`: one history, two policies, per source and per owner, before deploying."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from leadsla.cli import main


def _event(eid: str, type_: str, lead: str, minute: int, **data: object) -> bytes:
    at = f"2026-03-02T{9 + minute // 60:02d}:{minute % 60:02d}:00Z"
    return orjson.dumps(
        {"event_id": eid, "type": type_, "lead_id": lead, "occurred_at": at, "data": data}
    )


@pytest.fixture
def history(tmp_path: Path) -> Path:
    lines = [
        # web_form lead owned by alice, answered at minute 90: breached at 60, met at 120
        _event("a1", "lead.created", "A", 0, source="web_form"),
        _event("a2", "lead.owner_assigned", "A", 1, owner_id="alice"),
        _event(
            "a3",
            "lead.activity_logged",
            "A",
            90,
            actor_id="alice",
            actor_kind="person",
            kind="call",
        ),
        # chat lead owned by bob, answered at minute 10: met under both
        _event("b1", "lead.created", "B", 0, source="chat"),
        _event("b2", "lead.owner_assigned", "B", 1, owner_id="bob"),
        _event(
            "b3", "lead.activity_logged", "B", 10, actor_id="bob", actor_kind="person", kind="email"
        ),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _policy(tmp_path: Path, name: str, minutes: int) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'version = "{name}"\ndefault_manager = "mgr"\n[[targets]]\nminutes = {minutes}\n'
    )
    return path


def test_compare_shows_how_a_longer_window_changes_compliance_per_source_and_owner(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _policy(tmp_path, "current", 60)
    candidate = _policy(tmp_path, "candidate", 120)
    code = main(
        [
            "compare",
            str(history),
            "--policy",
            str(current),
            "--candidate",
            str(candidate),
            "--now",
            "2026-03-02T13:00:00Z",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    by_source = {row["key"]: row for row in report["by_source"]}
    assert by_source["web_form"]["met"] == [0, 1]
    assert by_source["web_form"]["breached"] == [1, 0]
    assert by_source["web_form"]["compliance"] == [0.0, 1.0]
    assert by_source["chat"]["compliance"] == [1.0, 1.0]
    by_owner = {row["key"]: row for row in report["by_owner"]}
    assert by_owner["alice"]["warnings"] == [1, 0]  # warned at 45 under 60 minutes only
    assert report["total"][0]["compliance"] == [0.5, 1.0]


def test_compare_table_names_both_policies_and_the_change(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _policy(tmp_path, "current", 60)
    candidate = _policy(tmp_path, "candidate", 120)
    assert (
        main(["compare", str(history), "--policy", str(current), "--candidate", str(candidate)])
        == 0
    )
    out = capsys.readouterr().out
    assert "policy current -> candidate candidate" in out
    assert "+50.0 pt" in out  # all leads: 50% -> 100%


def test_compare_refuses_a_bad_candidate_with_its_key_and_line(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = _policy(tmp_path, "current", 60)
    bad = tmp_path / "bad.toml"
    bad.write_text('default_manager = "mgr"\nwarn_at = 1.5\n')
    assert main(["compare", str(history), "--policy", str(current), "--candidate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "warn_at" in err and "line 2" in err
