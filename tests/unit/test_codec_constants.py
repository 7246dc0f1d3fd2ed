"""One timestamp parser for ``occurred_at`` and ``--now``; the fast path never imports pydantic.

Given the texts a source or an operator may write, when the models, the codec's fast path and the
CLI's ``--now`` read them, then they accept and refuse the same texts; and replay decodes without
importing pydantic at all. (The closed sets are the domain vocabulary's: ``test_vocabulary.py``.)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from leadsla import cli
from leadsla.codec import inputs
from leadsla.domain.instant import from_datetime, parse_rfc3339
from leadsla.schemas import common


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-02T09:00:00Z",
        "2026-03-02t09:00:00.123456789z",
        "2026-03-02 09:00:00+01:00",
        "0001-01-01T00:00:00-05:00",
        "9999-12-31T23:59:59.999999+14:00",
        "2026-13-02T09:00:00Z",
        "2026-03-02T09:00:00",
        "2026-03-02T09:00Z",
        "2026-03-02T09:00:00+0100",
        "20260302T090000Z",
        "2026-03-02",
        "yesterday",
    ],
)
def test_one_parser_reads_occurred_at_and_now(text: str) -> None:
    # Given the texts a source or an operator may write, when the models (occurred_at), the
    # codec's fast path (occurred_at) and the CLI (--now) read them, then they accept and refuse
    # the same texts, with the same reason, and agree on the instant
    def parse(fn: Callable[[str], object]) -> object:
        try:
            value = fn(text)
        except ValueError as exc:
            return str(exc)
        return from_datetime(value) if isinstance(value, datetime) else value

    assert parse(common.parse_timestamp) == parse(inputs.timestamp_micros) == parse(parse_rfc3339)


def test_the_parser_says_why_a_text_is_refused() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_rfc3339("2026-03-02T09:00:00")
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp with offset"):
        parse_rfc3339("2026-03-02T09:00Z")
    with pytest.raises(ValueError, match="not a valid timestamp"):
        parse_rfc3339("2026-13-02T09:00:00Z")


def test_replay_refuses_a_now_the_events_could_not_carry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text(
        '{"event_id":"c","type":"lead.created","lead_id":"L",'
        '"occurred_at":"2026-03-02T09:00:00Z","data":{"source":"chat"}}\n'
    )
    policy = tmp_path / "p.toml"
    policy.write_text('default_manager = "m"\n')
    argv = ["replay", str(events), "--policy", str(policy), "--out", str(tmp_path / "o.jsonl")]

    assert cli.main([*argv, "--now", "2026-03-02T10:00:00Z"]) == 0
    assert cli.main([*argv, "--now", "2026-03-02T10:00Z"]) != 0  # no seconds: not RFC 3339
    assert "not an RFC 3339 timestamp with offset: '2026-03-02T10:00Z'" in capsys.readouterr().err


def test_a_replay_of_valid_lines_never_imports_pydantic(tmp_path: object) -> None:
    code = (
        "import sys, io, json, tempfile, os\n"
        "from leadsla import replay\n"
        "d = tempfile.mkdtemp()\n"
        "e = os.path.join(d, 'e.jsonl'); p = os.path.join(d, 'p.toml')\n"
        "open(p, 'w').write('default_manager = \"m\"\\n')\n"
        "open(e, 'w').write(json.dumps({'event_id': 'c', 'type': 'lead.created', 'lead_id': 'L',"
        " 'occurred_at': '2026-03-02T09:00:00Z', 'data': {'source': 'chat'}}) + '\\n')\n"
        "replay.run_replay(e, p, os.path.join(d, 'o.jsonl'))\n"
        "print('pydantic' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
