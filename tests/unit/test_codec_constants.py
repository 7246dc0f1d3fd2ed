"""The codec's fast path never imports pydantic, and reads timestamps as the schemas do.

Given the schemas' timestamp parser, when compared with the codec's, then they accept the same
texts, and replay decodes without importing pydantic at all. (The closed sets both use are the
domain vocabulary's: ``test_vocabulary.py``.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from leadsla import codec
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
        "yesterday",
    ],
)
def test_the_codec_timestamp_parser_is_the_schemas(text: str) -> None:
    def parse(fn: object) -> object:
        try:
            return fn(text)  # type: ignore[operator]
        except ValueError:
            return ValueError

    assert parse(codec.timestamp_micros) == parse(common.timestamp_micros)


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
