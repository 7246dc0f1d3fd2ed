"""The broker restarts under a running worker (same port, same data): the worker carries on and
nothing is lost (its facts and standing alerts equal the replay's).

This is the only test that restarts the session's broker; it waits until the broker answers again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from .worker_harness import (
    Feed,
    OutputLog,
    WorkerEnv,
    answered,
    assigned,
    at,
    compare,
    created,
    facts_of,
    launch,
    now_us,
    policy_toml,
    replay,
    restart_session_broker,
    workers,
    write_policy,
)

pytestmark = pytest.mark.kafka


@pytest.mark.kafka(limit_s=180)
def test_worker_carries_on_through_a_broker_restart(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given a worker with a 6 s window, and leads created before the restart (half answered)
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(6.0, grace_s=0.5))
    (worker,) = launch(env, policy)
    base = now_us()
    before = [f"pre-{i:02d}" for i in range(20)]
    events = []
    for i, lead in enumerate(before):
        events += [created(lead, at(0, base)), assigned(lead, at(0, base))]
        if i % 2:
            events.append(answered(lead, at(0.5, base)))
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        feed.send_all(events)
        log.wait_for(
            lambda _: set(facts_of(log)) >= set(before), 60, "the facts of the first leads"
        )
        # When the broker restarts (pending deadlines of the first leads span the outage)
        restart_session_broker(env.bootstrap)
        # ... and more leads come after it
        after = [f"post-{i:02d}" for i in range(20)]
        later = now_us()
        more = []
        for i, lead in enumerate(after):
            more += [created(lead, at(0, later)), assigned(lead, at(0, later))]
            if i % 2:
                more.append(answered(lead, at(0.5, later)))
        feed.send_all(more)
        events += more

        # Then every lead is decided: answered ones met, the others breached
        def decided(_: object) -> bool:
            facts = facts_of(log)
            return all(
                facts.get(lead, {}).get("status") in ("met", "breached") for lead in before + after
            )

        log.wait_for(decided, 90, "every lead decided")
        compare_at = log.wait_quiet(2.0, not_before_us=later + 7_000_000, timeout_s=60)
        assert worker.alive, worker.log_text()
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)
