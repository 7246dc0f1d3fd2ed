"""Rule 16 on the real worker: every bad record lands in ``sla.dlq`` with a reason, and the valid
events after them are processed.

The corpus is ``tests/bad_records.py`` when it is there (the shared one); otherwise the small
inline list below (broken JSON, binary garbage, wrong types, missing fields, an unknown type, a
900 KB value, a null key, a key that is not the lead_id, a timestamp two days ahead).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from .worker_harness import (
    INPUT_TOPICS,
    Feed,
    OutputLog,
    WorkerEnv,
    answered,
    assigned,
    at,
    compare,
    created,
    event,
    launch,
    policy_toml,
    replay,
    workers,
    write_policy,
)

pytestmark = pytest.mark.kafka

Bad = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes | None]]]
"""(name, key, value, headers)"""


def inline_corpus(prefix: str) -> list[Bad]:
    def lead(name: str) -> str:
        return prefix + name

    def dump(value: Any) -> bytes:
        return orjson.dumps(value)

    past = at(-60)
    big = dict(created(lead("big"), past, priority="whenever"))
    big["data"]["notes"] = "n" * 900_000
    return [
        ("broken-json", lead("broken-json").encode(), b'{"event_id": "e1", "type": ', []),
        ("binary-garbage", lead("binary-garbage").encode(), bytes(range(256)) * 4, []),
        (
            "wrong-types",
            lead("wrong-types").encode(),
            dump(
                {
                    "event_id": 17,
                    "type": "lead.created",
                    "lead_id": lead("wrong-types"),
                    "occurred_at": 1_772_442_000,
                    "data": {"source": ["web_form"]},
                }
            ),
            [],
        ),
        (
            "missing-fields",
            lead("missing-fields").encode(),
            dump(event("lead.owner_assigned", lead("missing-fields"), past, {})),
            [],
        ),
        (
            "unknown-type",
            lead("unknown-type").encode(),
            dump(event("lead.deleted", lead("unknown-type"), past, {"source": "web_form"})),
            [],
        ),
        ("value-900kb", lead("big").encode(), dump(big), []),
        ("null-key", None, dump(created(lead("null-key"), past)), []),
        ("key-differs", b"someone-else", dump(created(lead("key-differs"), past)), []),
        ("two-days-ahead", lead("ahead").encode(), dump(created(lead("ahead"), at(172_800))), []),
    ]


def corpus(prefix: str) -> tuple[str, list[Bad]]:
    """The shared corpus if ``tests/bad_records.py`` exists, else the inline one."""
    try:
        shared = importlib.import_module("tests.bad_records")
    except ImportError:
        return "inline", inline_corpus(prefix)
    records = shared.bad_records(lead_prefix=prefix)
    return "tests/bad_records.py", [
        (r.name, r.key, r.value, list(r.headers)) for r in records if r.produce
    ]


@pytest.mark.kafka(limit_s=120)
def test_bad_records_are_dead_lettered_and_valid_events_after_them_are_processed(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given a running worker, and a corpus of bad records spread over the three input topics
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(600.0))
    (worker,) = launch(env, policy)
    source, bad = corpus("bad-")
    assert len(bad) >= 9, source
    valid_leads = [f"good-{i}" for i in range(6)]
    valid = []
    for i, lead in enumerate(valid_leads):
        valid += [created(lead, at(-30)), assigned(lead, at(-29), owner="alice")]
        if i % 2:
            valid.append(answered(lead, at(-20)))
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        written: dict[tuple[str, int, int], tuple[str, bytes | None, bytes | None]] = {}
        for i, (name, key, value, headers) in enumerate(bad):
            topic = env.topic(INPUT_TOPICS[i % len(INPUT_TOPICS)])
            partition, offset = feed.send_raw(topic, key, value, headers)
            written[(topic, partition, offset)] = (name, key, value)
        # When valid events follow them
        feed.send_all(valid)

        # Then every bad record has its dead letter, and the valid leads their facts
        def done(_: object) -> bool:
            facts = {b["lead_id"] for b in log.of_type("sla.measured")}
            return len(log.on("sla.dlq")) >= len(bad) and facts >= set(valid_leads)

        log.wait_for(done, 60, f"{len(bad)} dead letters and facts of {valid_leads}")
        compare_at = log.wait_quiet(2.0, not_before_us=0, timeout_s=30)
        assert worker.alive, worker.log_text()

    letters: dict[tuple[str, int, int], dict[str, Any]] = {}
    for record in log.on("sla.dlq"):
        assert len(record.value) < 1_000_000
        letter = orjson.loads(record.value)
        where = (letter["topic"], letter["partition"], letter["offset"])
        assert where not in letters, f"two dead letters for {where}"
        letters[where] = letter
    missing = [written[w][0] for w in written if w not in letters]
    assert not missing, f"no dead letter for {missing} (corpus: {source})"
    unexpected = [w for w in letters if w not in written]
    assert not unexpected, f"dead letters of valid records: {unexpected}"
    for where, (name, key, value) in written.items():
        letter = letters[where]
        assert isinstance(letter["reason"], str) and letter["reason"].strip(), (name, letter)
        kept = base64.b64decode(letter["original_base64"])
        original = value or b""
        truncated = any(k.endswith("truncated") and v for k, v in letter.items())
        if truncated:
            assert original.startswith(kept) and len(kept) < len(original), name
        else:
            assert kept == original, f"{name}: the original bytes were not kept"
        for field, digest in letter.items():
            if "sha256" in field and digest:
                assert digest == hashlib.sha256(original).hexdigest(), (name, field)
        want_key = None if key is None else base64.b64encode(key).decode()
        assert letter.get("key_base64") == want_key, name
    # Nothing of the bad leads was measured; the valid ones equal the replay
    measured = {b["lead_id"] for b in log.of_type("sla.measured")}
    assert measured == set(valid_leads), measured
    want = replay(valid, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)
