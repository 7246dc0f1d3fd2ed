"""``lead-sla replay`` and ``lead-sla compare`` import nothing heavy (issue 8: a short run's
start-up is mostly imports): no pydantic, no broker client, no database driver, no metrics
library, not even ``importlib.metadata`` (``--version`` looks it up only when asked).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "examples" / "simulate-policy.toml"
HEAVY = (
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "faust",
    "mode",
    "aiokafka",
    "kafka",
    "psycopg",
    "prometheus_client",
    "rocksdict",
    "importlib.metadata",
)
_RUN = """\
import sys
from leadsla.cli import main
heavy = set(sys.argv[1].split(","))
code = main(sys.argv[2:])
print(code, sorted(m for m in sys.modules if m in heavy or m.split(".")[0] in heavy))
"""


@pytest.mark.parametrize("command", ["replay", "compare"])
def test_replay_and_compare_import_nothing_heavy(tmp_path: Path, command: str) -> None:
    # Given one valid event
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id":"c","type":"lead.created","lead_id":"L",'
        '"occurred_at":"2026-03-02T09:00:00Z","data":{"source":"chat"}}\n'
    )
    args = [command, str(events), "--policy", str(POLICY)]
    args += ["--out", str(tmp_path / "out.jsonl")] if command == "replay" else []
    args += ["--candidate", str(POLICY)] if command == "compare" else []
    # When the command runs in a fresh interpreter
    done = subprocess.run(
        [sys.executable, "-c", _RUN, ",".join(HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    # Then it succeeded without importing any of them
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stdout
