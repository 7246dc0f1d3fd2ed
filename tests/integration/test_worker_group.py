"""Two workers in one consumer group, then one is killed -9: the other takes over its partitions and
fires their pending deadlines (the state of those leads comes back from the changelog)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .worker_harness import (
    Feed,
    OutputLog,
    WorkerEnv,
    compare,
    launch,
    now_us,
    open_leads,
    parse_iso,
    policy_toml,
    repeats_with_other_ids,
    replay,
    same_id_other_content,
    workers,
    write_policy,
)

pytestmark = pytest.mark.kafka

WINDOW_S = 12.0


@pytest.mark.kafka(limit_s=120)
def test_the_surviving_worker_fires_the_pending_deadlines_of_a_killed_one(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given two workers in one group over 4 partitions, and 40 leads spread over them
    env = worker_env(partitions=4)
    policy = write_policy(env, policy_toml(WINDOW_S, grace_s=0.5))
    first, second = launch(env, policy, "w1", "w2")
    base = now_us()
    leads = [f"grp-{i:02d}" for i in range(40)]
    with workers(first, second), Feed(env) as feed, OutputLog(env) as log:
        log.watch(first, second)
        events = open_leads(feed, log, leads, base)
        # When one of them stops before any deadline
        stopped_at = now_us()
        second.kill()  # kill -9: its session must time out before the group moves on
        deadline = base + round(WINDOW_S * 1e6)
        assert stopped_at < deadline, "precondition: the stop came after the deadlines"
        assert not log.of_type("sla.breached")

        # Then every lead breaches, those of the stopped worker's partitions included
        log.wait_for(
            lambda _: {b["lead_id"] for b in log.of_type("sla.breached")} >= set(leads),
            WINDOW_S + 60,
            "the breaches of every lead",
        )
        compare_at = log.wait_quiet(2.0, not_before_us=deadline + 1_500_000, timeout_s=60)
        assert first.alive, first.log_text()
    for breach in log.of_type("sla.breached"):
        assert parse_iso(breach["occurred_at"]) > stopped_at  # due after the stop
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)
    problems = same_id_other_content(log.records)
    assert not problems, "\n".join(problems[:20])
    problems = repeats_with_other_ids(log.records)
    assert not problems, "\n".join(problems[:20])
