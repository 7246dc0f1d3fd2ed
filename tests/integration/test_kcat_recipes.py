"""The README's kcat recipes, run as they are written, against the local broker and a worker.

The produce block's events, processed by the worker with ``examples/policy.toml``, give the
outputs the README documents (the tail block's lines, each lead's lines in the documented
order), and every record kcat wrote is on the partition Kafka's own clients choose (murmur2).
kcat and jq come from Debian's packages (``make recipe-tools`` installs them when missing); under
``CI=true`` a missing tool fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka.partitioner.default import murmur2

from leadsla.schemas.inputs import validate_input

from .conftest import KafkaIO
from .processes import run_cli, running_worker, worker_env

pytestmark = pytest.mark.kafka

README = Path(__file__).resolve().parents[2] / "README.md"
POLICY = README.parent / "examples" / "policy.toml"


def recipe(name: str) -> str:
    """The fenced block that follows ``<!-- recipe: NAME ... -->`` in the README."""
    match = re.search(
        rf"<!-- recipe: {re.escape(name)}\b[^>]*-->\n```[a-z]*\n(.*?)\n```",
        README.read_text(encoding="utf-8"),
        re.DOTALL,
    )
    assert match, f"no recipe {name!r} in README.md"
    return match.group(1)


@pytest.fixture
def recipe_tools() -> None:
    missing = [tool for tool in ("kcat", "jq") if shutil.which(tool) is None]
    if missing:
        message = f"missing {' and '.join(missing)} (make recipe-tools, or apt-get install kcat jq)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _bash(
    script: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _by_lead(lines: list[str]) -> dict[str, list[str]]:
    leads: dict[str, list[str]] = {}
    for line in lines:
        leads.setdefault(line.split(" ", 1)[0], []).append(line)
    return leads


def test_the_readme_kcat_recipes_give_the_documented_outputs(
    recipe_tools: None,
    kafka_settings: Callable[..., Any],
    kafka_io: KafkaIO,
    tmp_path: Path,
) -> None:
    # Given a worker with the example policy, its topics created
    settings = kafka_settings()
    env = worker_env(settings, POLICY)
    created = run_cli(["topics", "create"], env)
    assert created.returncode == 0, created.stderr
    shell_env = {**env, "BOOTSTRAP": settings.bootstrap_servers, "PREFIX": settings.topic_prefix}
    expected = recipe("kcat-expected").splitlines()
    log = tmp_path / "worker.log"
    with running_worker(env, log):
        # When the README's produce recipe runs
        produced = _bash(recipe("kcat-produce"), shell_env)
        assert produced.returncode == 0, produced.stderr

        # Then the README's tail recipe prints the documented lines
        deadline = time.monotonic() + 40
        lines: list[str] = []
        while time.monotonic() < deadline:
            tail = _bash(recipe("kcat-tail"), shell_env)
            assert tail.returncode == 0, tail.stderr
            lines = tail.stdout.splitlines()
            if len(lines) >= len(expected):
                break
            time.sleep(0.5)
        time.sleep(1.0)  # anything more than documented would show up now
        lines = _bash(recipe("kcat-tail"), shell_env).stdout.splitlines()
    assert sorted(lines) == sorted(expected), log.read_text(errors="replace")[-2000:]
    assert _by_lead(lines) == _by_lead(expected)
    assert not [line for line in lines if line.startswith("L-9002 ")]  # answered in time

    # and kcat put every record on the partition Kafka's own clients choose for its key
    inputs = [settings.topic(t) for t in ("leads.created", "leads.ownership", "leads.activity")]
    records = kafka_io.read(inputs, count=7, timeout_s=20)
    assert len(records) == 7
    # and each is a valid input event (the recipe's times filled in by the shell), keyed by
    # its lead_id
    for record in records:
        event = validate_input(record.json())
        assert record.key == event.lead_id.encode()
    for record in records:
        assert record.key is not None
        assert record.partition == (murmur2(record.key) & 0x7FFFFFFF) % settings.partitions
    # (librdkafka's default, CRC32, would have put some of these keys elsewhere)
    crc32_partitions = {r.key: zlib.crc32(r.key or b"") % settings.partitions for r in records}
    assert any(crc32_partitions[r.key] != r.partition for r in records)
