"""Section 7: the ``lead-sla replay`` command contract (files, --now, --out, exit codes)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .runner import ReplayRunner, RunScenario, run_cli
from .scenario import activity, assert_at, assigned, created, policy, t


def test_section_7_now_defaults_to_the_latest_occurred_at(run: RunScenario) -> None:
    """Section 7: no --now: the clock advances to the latest event (+50): warned, not breached."""
    events = [
        created(at=0),
        assigned(at=0),
        activity(at=50, actor="alice", kind="note", direction="internal"),
    ]
    r = run(events, policy())
    assert r.exit_code == 0
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], 45)
    r.none("sla.breached")
    assert r.final_fact()["status"] == "open"


def test_section_7_default_now_fires_timers_due_at_that_instant(run: RunScenario) -> None:
    """Section 7: the latest event is another lead created at +60: L-1's +60 deadline fires."""
    events = [created("L-1", at=0), assigned("L-1", at=0), created("L-2", at=60)]
    r = run(events, policy())
    assert_at(r.one("sla.breached", lead="L-1")["occurred_at"], 60)


def test_section_7_now_is_inclusive(run: RunScenario) -> None:
    """Section 7: --now exactly at the deadline: the breach due then is emitted."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(60))
    assert_at(r.one("sla.breached")["occurred_at"], 60)


def test_section_7_now_later_than_all_events_runs_the_timers(run: RunScenario) -> None:
    """Section 7: --now beyond the input advances the clock: L1 and L2 tasks fire."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(95))
    assert sorted(e["data"]["level"] for e in r.of_type("sla.escalation_task")) == [1, 2]


def test_section_7_events_after_now_are_not_applied_and_are_counted(run: RunScenario) -> None:
    """Section 7: seven events after --now: not applied (no response), counted in the summary."""
    events = [created("L-1", at=0), assigned("L-1", at=0)]
    events += [activity("L-1", at=70 + i, actor="alice", kind="call") for i in range(4)]
    events += [
        created("L-late", at=80),
        assigned("L-late", at=81),
        activity("L-late", at=82, actor="alice"),
    ]
    r = run(events, policy(), now=t(65))
    assert r.exit_code == 0
    r.one("sla.breached", lead="L-1")
    r.none("sla.response_recorded")
    assert not [e for e in r.outputs if e["lead_id"] == "L-late"]
    assert re.search(r"\b7\b", r.stderr), f"summary does not count the 7 later events:\n{r.stderr}"
    assert r.final_fact("L-1")["status"] == "breached"


def test_section_7_no_output_after_now(run: RunScenario) -> None:
    """Section 7: nothing is emitted with an occurred_at after --now."""
    from .runner import parse_ts
    from .scenario import dt

    r = run([created(at=0, source="pricing_page"), assigned(at=0)], policy(), now=t(70))
    assert r.outputs
    assert all(parse_ts(e["occurred_at"]) <= dt(70) for e in r.outputs)
    r.none("sla.stale_lead")


def test_section_7_summary_on_stderr_and_exit_code_zero(run: RunScenario) -> None:
    """Section 7: a short summary on standard error; exit code 0."""
    r = run([created(at=0), assigned(at=0)], policy(), now=t(70))
    assert r.exit_code == 0
    assert r.stderr.strip(), "no summary on stderr"
    assert "Traceback" not in r.stderr


def test_section_7_output_to_stdout_without_out(runner: ReplayRunner, tmp_path: Path) -> None:
    """Section 7: without --out the output goes to standard output, same lines as --out."""
    events = [created(at=0), assigned(at=0), activity(at=70, actor="alice")]
    with_file = runner.run(events, policy(), now=t(100))
    events_path = tmp_path / "stdout-events.jsonl"
    events_path.write_text("".join(json.dumps(e) + "\n" for e in events))
    policy_path = tmp_path / "stdout-policy.toml"
    policy_path.write_text(policy())
    code, stderr, stdout = run_cli(
        ["replay", str(events_path), "--policy", str(policy_path), "--now", t(100)]
    )
    assert code == 0, stderr
    assert [json.loads(line) for line in stdout.splitlines() if line.strip()] == with_file.outputs


def test_section_7_empty_event_file_is_fine(runner: ReplayRunner) -> None:
    """Section 7: an empty file: no output, exit 0."""
    r = runner.run([], policy(), now=t(0))
    assert r.exit_code == 0
    assert r.outputs == []


def test_section_7_missing_event_file_is_an_error(tmp_path: Path) -> None:
    """Section 7: an unusable events file: non-zero exit code."""
    policy_path = tmp_path / "p.toml"
    policy_path.write_text(policy())
    code, stderr, _ = run_cli(
        [
            "replay",
            str(tmp_path / "nope.jsonl"),
            "--policy",
            str(policy_path),
            "--out",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert code not in (0, None)
    assert stderr.strip()


def test_section_7_missing_policy_file_is_an_error(tmp_path: Path) -> None:
    """Section 7: an unusable policy file: non-zero exit code."""
    events_path = tmp_path / "e.jsonl"
    events_path.write_text(json.dumps(created(at=0)) + "\n")
    code, stderr, _ = run_cli(
        [
            "replay",
            str(events_path),
            "--policy",
            str(tmp_path / "nope.toml"),
            "--out",
            str(tmp_path / "o.jsonl"),
        ]
    )
    assert code not in (0, None)
    assert stderr.strip()


BAD_POLICIES = {
    # name: (policy text, key expected in the message, line expected in the message or None)
    "missing_default_manager": ('version = "x"\nclock = "calendar"\n', "default_manager", None),
    "warn_at_not_a_number": (
        'default_manager = "mgr"\nversion = "x"\nwarn_at = "soon"\n',
        "warn_at",
        3,
    ),
    "unknown_clock": ('default_manager = "mgr"\n\n\nclock = "lunar"\n', "clock", 4),
    "unknown_response_from": (
        'default_manager = "mgr"\nresponse_from = "anyone"\n',
        "response_from",
        2,
    ),
    "negative_target_minutes": (
        'default_manager = "mgr"\n\n[[targets]]\nsource = "chat"\nminutes = -5\n',
        "minutes",
        5,
    ),
    "unknown_timezone": (
        'default_manager = "mgr"\ntimezone = "Mars/Olympus_Mons"\n',
        "timezone",
        2,
    ),
    "bad_business_hours_start": (
        'default_manager = "mgr"\n[business_hours]\nstart = "25:99"\nend = "17:00"\n',
        "start",
        3,
    ),
    "toml_syntax_error": ('default_manager = "mgr"\nwarn_at = 0.75\nthis is not toml\n', None, 3),
    "negative_grace": ('default_manager = "mgr"\ngrace_seconds = -1\n', "grace_seconds", 2),
    "meaningful_kinds_not_a_list": (
        'default_manager = "mgr"\nmeaningful_kinds = "email"\n',
        "meaningful_kinds",
        2,
    ),
}


@pytest.mark.parametrize("name", list(BAD_POLICIES), ids=list(BAD_POLICIES))
def test_section_7_bad_policy_is_refused_naming_key_and_line(
    runner: ReplayRunner, name: str
) -> None:
    """Sections 3+7: a bad policy: non-zero exit, message names the key and the line."""
    text, key, line = BAD_POLICIES[name]
    r = runner.run([created(at=0)], text, now=t(10))
    assert r.exit_code not in (0, None), f"bad policy accepted: {r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    if key is not None:
        assert key in r.stderr, f"key {key!r} not named:\n{r.stderr}"
    if line is not None:
        assert re.search(rf"line\D{{0,3}}{line}\b|:{line}\b", r.stderr, re.IGNORECASE), (
            f"line {line} not named:\n{r.stderr}"
        )


def test_section_7_line_order_does_not_matter(runner: ReplayRunner) -> None:
    """Section 7: the same events in three line orders give byte-identical output."""
    from .scenario import rich_history, rich_policy

    events = rich_history()
    outputs = []
    for seed in (None, 1, 2):
        runner.seed = seed
        outputs.append(runner.run(events, rich_policy(), now=t(300)).raw)
    assert outputs[0] and outputs[0] == outputs[1] == outputs[2]


@pytest.mark.parametrize("bad_now", ["yesterday", "2026-03-02T10:00:00"])
def test_section_7_unusable_now_is_refused(runner: ReplayRunner, bad_now: str) -> None:
    """Section 7: --now must be an RFC 3339 timestamp with offset; otherwise non-zero exit."""
    r = runner.run([created(at=0)], policy(), now=bad_now)
    assert r.exit_code not in (0, None)
    assert bad_now in r.stderr
    assert "Traceback" not in r.stderr


def test_section_7_a_byte_order_mark_on_the_first_line_is_not_an_invalid_line(
    tmp_path: Path,
) -> None:
    """Spreadsheet and Windows exports start files with a UTF-8 BOM; the first event still counts."""
    import orjson

    from leadsla.cli import main

    events = tmp_path / "bom.jsonl"
    events.write_bytes(b"\xef\xbb\xbf" + orjson.dumps(created("L-bom", 0)) + b"\n")
    pol = tmp_path / "p.toml"
    pol.write_text(policy())
    out = tmp_path / "out.jsonl"
    assert main(["replay", str(events), "--policy", str(pol), "--out", str(out)]) == 0
    types = [orjson.loads(line)["type"] for line in out.read_bytes().splitlines()]
    assert "sla.timer_started" in types
