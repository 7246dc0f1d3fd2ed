"""The command line as a new user meets it (issue 10, item 7): every mistake is one clear line.

Every sub-command is run (as a child process, as a user would) with arguments a person gets
wrong: each answer is a documented exit code and exactly one line on standard error, never a
Python traceback, and nothing half-written is left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadsla import cli

POLICY = 'default_manager = "mgr"\n\n[[targets]]\nminutes = 30\n'
EVENT = (
    b'{"event_id":"e1","type":"lead.created","lead_id":"L1",'
    b'"occurred_at":"2026-03-02T09:00:00Z","data":{"source":"web_form"}}\n'
)
NO_BROKER = "127.0.0.1:1"  # nothing listens there


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "p.toml").write_text(POLICY)
    (tmp_path / "bad.toml").write_text('default_manager = "mgr"\nwarn_at = 7\n')
    (tmp_path / "e.jsonl").write_bytes(EVENT)
    (tmp_path / "garbage.jsonl").write_bytes(b"not json\n{also not\n")
    (tmp_path / "a-file").write_text("x")
    return tmp_path


MISTAKES: list[tuple[str, list[str], int, str]] = [
    ("no command", [], 2, "required: COMMAND"),
    ("unknown command", ["nosuch"], 2, "invalid choice"),
    ("unknown option", ["replay", "--bogus"], 2, "see lead-sla replay --help"),
    ("replay without a file", ["replay", "--policy", "{d}/p.toml"], 2, "EVENTS.jsonl"),
    ("replay missing file", ["replay", "{d}/nope.jsonl", "--policy", "{d}/p.toml"], 2, "nope"),
    ("replay a folder", ["replay", "{d}", "--policy", "{d}/p.toml"], 2, "is a folder"),
    ("replay bad policy", ["replay", "{d}/e.jsonl", "--policy", "{d}/bad.toml"], 2, "warn_at"),
    ("replay missing policy", ["replay", "{d}/e.jsonl", "--policy", "{d}/no.toml"], 2, "no.toml"),
    (
        "replay bad --now",
        ["replay", "{d}/e.jsonl", "--policy", "{d}/p.toml", "--now", "soon"],
        2,
        "soon",
    ),
    (
        "replay out into a missing folder",
        ["replay", "{d}/e.jsonl", "--policy", "{d}/p.toml", "--out", "{d}/no/such/out.jsonl"],
        2,
        "no/such",
    ),
    (
        "replay out is the input",
        ["replay", "{d}/e.jsonl", "--policy", "{d}/p.toml", "--out", "{d}/e.jsonl"],
        2,
        "also an input",
    ),
    (
        "compare missing candidate",
        ["compare", "{d}/e.jsonl", "--policy", "{d}/p.toml", "--candidate", "{d}/no.toml"],
        2,
        "no.toml",
    ),
    (
        "compare unreadable history",
        ["compare", "{d}/garbage.jsonl", "--policy", "{d}/p.toml", "--candidate", "{d}/p.toml"],
        2,
        "line",
    ),
    ("simulate no leads per day", ["simulate", "--leads-per-day", "0"], 2, "--leads-per-day"),
    ("simulate negative leads", ["simulate", "--leads", "-5"], 2, "--leads"),
    ("simulate bad start", ["simulate", "--start", "monday"], 2, "--start"),
    (
        "simulate out into a missing folder",
        ["simulate", "--leads", "3", "--out", "{d}/no/x.jsonl"],
        2,
        "does not exist",
    ),
    ("simulate out is a folder", ["simulate", "--leads", "3", "--out", "{d}"], 2, "folder"),
    ("schemas export onto a file", ["schemas", "export", "{d}/a-file"], 2, "not a folder"),
    ("schemas no action", ["schemas"], 2, "ACTION"),
    ("worker missing policy", ["worker", "--policy", "{d}/no.toml"], 2, "no.toml"),
    ("worker bad policy", ["worker", "--policy", "{d}/bad.toml"], 2, "warn_at"),
    ("worker bad log level", ["worker", "--policy", "{d}/p.toml", "--loglevel", "loud"], 2, "loud"),
    (
        "topics unreachable broker",
        ["topics", "create", "--bootstrap-servers", NO_BROKER],
        1,
        NO_BROKER,
    ),
    ("topics no action", ["topics"], 2, "ACTION"),
    (
        "dlq unreachable broker",
        ["dlq", "list", "--bootstrap-servers", NO_BROKER, "--timeout", "2"],
        1,
        NO_BROKER,
    ),
    ("dlq resend nothing chosen", ["dlq", "resend"], 2, "one of the arguments"),
    (
        "project missing input",
        ["project", "--input", "{d}/no.jsonl", "--db", "sqlite:///{d}/x.db"],
        2,
        "no.jsonl",
    ),
    ("report no read models", ["report", "--db", "sqlite:///{d}/none.db"], 2, "lead-sla project"),
    ("report bad format", ["report", "--format", "pdf"], 2, "pdf"),
    (
        "report unreachable database, password hidden",
        ["report", "--db", "postgresql://u:s3cr3t@127.0.0.1:1/db"],
        2,
        "u:***@",
    ),
]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # One-shot commands against a broker that never answers give up quickly.
        "LEADSLA_REQUEST_TIMEOUT_S": "2",
        "LEADSLA_SESSION_TIMEOUT_S": "1",
        "LEADSLA_HEARTBEAT_INTERVAL_S": "0.5",
        "LEADSLA_BOOTSTRAP_SERVERS": NO_BROKER,
    }
    return subprocess.run(
        [sys.executable, "-m", "leadsla.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [pytest.param(a, c, s, id=name) for name, a, c, s in MISTAKES],
)
def test_every_mistake_is_one_line_and_a_documented_exit_code(
    files: Path, args: list[str], code: int, says: str
) -> None:
    before = sorted(p.name for p in files.iterdir())
    result = _run([a.format(d=files) for a in args], files)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert says in lines[0], lines[0]
    assert lines[0].startswith("lead-sla"), lines[0]
    # nothing half-written left behind (the projector's database aside, which it creates)
    after = sorted(p.name for p in files.iterdir() if not p.name.startswith("x.db"))
    assert after == before


def test_version_and_help_name_every_command_and_their_environment(files: Path) -> None:
    version = _run(["--version"], files)
    assert version.returncode == 0 and version.stdout.startswith("lead-sla ")
    for name in cli.COMMANDS:
        helped = _run([name, "--help"], files)
        assert helped.returncode == 0, helped.stderr
        text = " ".join(helped.stdout.split())  # argparse wraps the epilog
        assert "environment:" in text, name
        assert "exit codes:" in text, name


def test_an_internal_error_is_one_line_unless_a_traceback_is_asked_for(
    files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import leadsla.replay

    def broken(args: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(leadsla.replay, "run", broken)
    argv = ["replay", str(files / "e.jsonl"), "--policy", str(files / "p.toml")]
    assert cli.main(argv) == cli.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: RuntimeError: boom" in err
    assert "Traceback" not in err
    assert cli.main(["--traceback", *argv]) == cli.INTERNAL_ERROR
    assert "Traceback" in capsys.readouterr().err


def test_simulate_writes_its_file_whole_or_not_at_all(files: Path) -> None:
    out = files / "sim.jsonl"
    done = _run(["simulate", "--leads", "20", "--out", str(out)], files)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().count(b"\n") > 20
    assert not [p for p in files.iterdir() if p.name.startswith(".sim.jsonl.")]


def test_replay_of_a_file_without_one_input_event_says_so_and_exits_2(files: Path) -> None:
    # Given a file whose every line is unreadable as an input event
    result = _run(
        ["replay", str(files / "garbage.jsonl"), "--policy", str(files / "p.toml")], files
    )
    # Then each line is reported, and the last line says what went wrong, with exit 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert lines[-1].startswith("lead-sla replay: no input event in"), lines[-1]
    assert "all 2 lines invalid" in lines[-1] and "lead-sla project --input" in lines[-1]
