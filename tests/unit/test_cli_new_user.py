"""The command line tried again as a new user would (issue 10, item 7; issue 7's commands).

Mistakes the first test list missed, each found by hand: a report written over the database it
reads, a negative ``--limit`` taken as a Python slice, ``--batch-lines 0``, an unreachable broker
for ``simulate --bootstrap`` answered as an internal error, a database URL of no known kind for
``erase`` answered as a failure of the work. And ``-`` where a file is expected: standard input
for ``compare`` and ``project --input``, standard output for ``report --write-schema`` and
``simulate --write-policy`` (each used to write a file named ``-``).
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leadsla import cli
from leadsla.projections import project
from leadsla.projections.report_schema import report_schema_document
from leadsla.projections.store import Store
from leadsla.simulate import policy_toml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = EXAMPLES / "sample-leads.jsonl"
POLICY = EXAMPLES / "policy.toml"
NO_BROKER = "127.0.0.1:1"  # nothing listens there


def _run(
    args: list[str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    env = {
        **os.environ,
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
        timeout=120,
        input=stdin if stdin is not None else b"",
    )


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample leads replayed: a JSON-lines file of output events."""
    folder = tmp_path_factory.mktemp("outputs")
    out = folder / "outputs.jsonl"
    done = _run(["replay", str(SAMPLE), "--policy", str(POLICY), "--out", str(out)], folder)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture
def read_models(tmp_path: Path, outputs: Path) -> Path:
    db = tmp_path / "rm.db"
    done = _run(["project", "--input", str(outputs), "--db", f"sqlite:///{db}"], tmp_path)
    assert done.returncode == 0, done.stderr
    return db


MISTAKES: list[tuple[str, list[str], int, str]] = [
    (
        "report over its own database",
        ["report", "--db", "sqlite:///{db}", "--format", "csv", "--out", "{db}"],
        2,
        "also an input",
    ),
    ("report limit 0", ["report", "--db", "sqlite:///{db}", "--limit", "0"], 2, "--limit"),
    ("report negative limit", ["report", "--db", "sqlite:///{db}", "--limit", "-1"], 2, "--limit"),
    (
        "report --now without seconds",
        ["report", "--db", "sqlite:///{db}", "--now", "2026-03-02T09:00Z"],
        2,
        "RFC 3339",
    ),
    (
        "report schema into a missing folder",
        ["report", "--write-schema", "{d}/no/such/report.json"],
        2,
        "does not exist",
    ),
    (
        "project no lines per batch",
        ["project", "--input", "{outputs}", "--db", "sqlite:///{db}", "--batch-lines", "0"],
        2,
        "--batch-lines",
    ),
    (
        "simulate both outputs to standard output",
        ["simulate", "--leads", "2", "--out", "-", "--write-policy", "-"],
        2,
        "both be standard output",
    ),
    (
        "simulate to an unreachable broker",
        ["simulate", "--leads", "2", "--bootstrap", NO_BROKER],
        1,
        f"cannot produce to Kafka at {NO_BROKER}",
    ),
    ("erase into no known database", ["erase", "L-1", "--db", "bogus://x"], 2, "bogus://x"),
    (
        "project with two time zones",
        [
            "project",
            "--input",
            "{outputs}",
            "--db",
            "sqlite:///{db}",
            "--timezone",
            "UTC",
            "--policy",
            str(POLICY),
        ],
        2,
        "not allowed with argument",
    ),
    (
        "compare at a bad --now",
        [
            "compare",
            str(SAMPLE),
            "--policy",
            str(POLICY),
            "--candidate",
            str(POLICY),
            "--now",
            "yesterday",
        ],
        2,
        "lead-sla compare: --now: not an RFC 3339 timestamp",
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [pytest.param(a, c, s, id=name) for name, a, c, s in MISTAKES],
)
def test_each_mistake_is_one_line_and_its_documented_exit_code(
    tmp_path: Path, read_models: Path, outputs: Path, args: list[str], code: int, says: str
) -> None:
    # Given read models and a folder whose content we know
    database = read_models.read_bytes()
    before = sorted(p.name for p in tmp_path.iterdir())
    # When the command is run with the mistake
    filled = [a.format(db=read_models, d=tmp_path, outputs=outputs) for a in args]
    result = _run(filled, tmp_path)
    # Then one line, the exit code, no traceback, and nothing written or overwritten
    stderr = result.stderr.decode()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert result.returncode == code, stderr
    assert len(lines) == 1 and lines[0].startswith("lead-sla"), stderr
    assert says in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert read_models.read_bytes() == database


def test_project_refuses_a_file_with_no_output_event_in_it(tmp_path: Path) -> None:
    # Given the INPUT events (a new user's mistake: they go to replay, not to project)
    # When they are given to project
    result = _run(["project", "--input", str(SAMPLE), "--db", "sqlite:///rm.db"], tmp_path)
    # Then it says so at the end and fails as a usage mistake, no traceback
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert result.returncode == 2, stderr
    last = stderr.splitlines()[-1]
    assert "no output event in" in last and "lead-sla replay" in last, last


def test_report_write_schema_dash_is_standard_output(tmp_path: Path) -> None:
    result = _run(["report", "--write-schema", "-"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == report_schema_document()
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_simulate_write_policy_dash_is_standard_output(tmp_path: Path) -> None:
    result = _run(
        ["simulate", "--leads", "3", "--out", "events.jsonl", "--write-policy", "-"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == policy_toml()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]


def test_simulate_write_policy_file_is_the_policy(tmp_path: Path) -> None:
    result = _run(["simulate", "--leads", "3", "--write-policy", "p.toml"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p.toml").read_text() == policy_toml()
    assert result.stdout.count(b"\n") >= 3  # the events went to standard output


def test_compare_reads_standard_input_as_it_reads_the_file(tmp_path: Path) -> None:
    common = ["--policy", str(POLICY), "--candidate", str(EXAMPLES / "policy-business.toml")]
    from_file = _run(["compare", str(SAMPLE), *common, "--json"], tmp_path)
    from_stdin = _run(["compare", "-", *common, "--json"], tmp_path, stdin=SAMPLE.read_bytes())
    assert from_file.returncode == 0, from_file.stderr
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    assert b'"by_source"' in from_stdin.stdout


def test_compare_names_standard_input_not_its_spool(tmp_path: Path) -> None:
    common = ["--policy", str(POLICY), "--candidate", str(POLICY)]
    result = _run(["compare", "-", *common], tmp_path, stdin=b"not json\n")
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "no usable event in standard input" in stderr, stderr


def test_project_reads_standard_input_and_continues_after_what_it_applied(
    tmp_path: Path, outputs: Path
) -> None:
    # Given the outputs projected from the file
    from_file = _run(["project", "--input", str(outputs), "--db", "sqlite:///file.db"], tmp_path)
    assert from_file.returncode == 0, from_file.stderr
    # When the same lines are piped in, twice
    lines = outputs.read_bytes()
    first = _run(["project", "--input", "-", "--db", "sqlite:///stdin.db"], tmp_path, lines)
    again = _run(["project", "--input", "-", "--db", "sqlite:///stdin.db"], tmp_path, lines)
    # Then the tables are the file's, and the second run applied nothing new
    assert first.returncode == 0 and again.returncode == 0, (first.stderr, again.stderr)
    count = lines.count(b"\n")
    assert f"{count} events applied from standard input".encode() in first.stderr
    assert b"0 events applied from standard input" in again.stderr
    query = "SELECT * FROM lead_facts ORDER BY lead_id"
    with (
        Store(f"sqlite:///{tmp_path / 'file.db'}") as a,
        Store(f"sqlite:///{tmp_path / 'stdin.db'}") as b,
    ):
        assert a.query(query) == b.query(query)
        assert len(a.query(query)) > 0


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_project_draws_a_progress_bar_that_ends_at_100_percent(
    tmp_path: Path, outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a redraw every 10 lines
    monkeypatch.setattr(project, "PROGRESS_EVERY", 10)
    terminal = _Terminal()
    # When the file is projected with the terminal as progress
    with Store(f"sqlite:///{tmp_path / 'rm.db'}") as store:
        zone = project.prepare(store, "UTC", rebuild=False)
        counts = project.project_file(
            store, project.Projector(store, zone), outputs, progress=terminal
        )
    # Then the bar was redrawn in place and ends at 100 % with every line counted
    drawn = terminal.getvalue()
    assert counts.read == outputs.read_bytes().count(b"\n")
    assert drawn.count("\rproject [") == counts.read // 10 + 1
    assert drawn.endswith(f"100%  {counts.read:,} lines\n")


HELP_NOT_CHECKED: frozenset[str] = frozenset()


def _arguments_without_help(parser: argparse.ArgumentParser, label: str) -> list[str]:
    missing: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += _arguments_without_help(sub, f"{label} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            missing.append(f"{label} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_argument_of_every_command_says_what_it_is_in_help() -> None:
    missing: list[str] = []
    for name in sorted(set(cli.COMMANDS) - HELP_NOT_CHECKED):
        parser = cli.build_parser(name)
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        missing += _arguments_without_help(commands.choices[name], f"lead-sla {name}")
    assert missing == []
