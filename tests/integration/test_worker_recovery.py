"""A table recovery whose changelog partitions are never fetched does not wait forever.

faust's recoveries were seen to wait forever on this project's broker tests (faust-streaming
#21, #74): after a rebalance, the survivor's recovery received no changelog record for minutes,
and no deadline fired. The worker's deadline loop seeks back and resumes a changelog partition
of the recovery that received nothing for 10 s while records wait
(``streams/continuity.py: RecoveryWatch``). Here the stall is forced: the worker's faust drops
the changelog partitions from the first resume of a recovery, so they are never fetched.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .worker_harness import (
    Feed,
    OutputLog,
    Worker,
    WorkerEnv,
    now_us,
    open_leads,
    policy_toml,
    wait_group_stable,
    workers,
    write_policy,
)

pytestmark = pytest.mark.kafka

WINDOW_S = 20.0

# In the worker's process: the first resume of changelog partitions during a recovery leaves
# them out (what a stalled recovery looks like: nothing of them is fetched, ever).
DROP_FIRST_CHANGELOG_RESUME = """
from faust.transport import consumer as _consumer
_resume = _consumer.Consumer.resume_partitions
_dropped = []
def _resume_partitions(self, tps):
    tps = set(tps)
    changelog = {tp for tp in tps if tp.topic.endswith("-changelog")}
    if changelog and not _dropped and self.app.in_recovery:
        _dropped.append(changelog)
        print("test fault: changelog partitions left paused", sorted(changelog), flush=True)
        tps -= changelog
    _resume(self, tps)
_consumer.Consumer.resume_partitions = _resume_partitions
"""


@pytest.mark.kafka(limit_s=150)
def test_a_recovery_that_fetches_nothing_is_sought_back_and_the_deadlines_fire(
    worker_env: Callable[..., WorkerEnv],
) -> None:
    # Given a worker whose leads' states are in its table's changelog
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(WINDOW_S, grace_s=0.5))
    env.create_topics()
    worker = Worker(env, policy, "w1", prelude=DROP_FIRST_CHANGELOG_RESUME)
    base = now_us()
    leads = [f"rec-{i:02d}" for i in range(10)]
    with workers(worker.start()), Feed(env) as feed, OutputLog(env) as log:
        wait_group_stable(env.bootstrap, env.app_id, 1, 90, worker)
        log.watch(worker)
        open_leads(feed, log, leads, base)
        # When it is killed and started again before the deadlines: its table (in memory) is
        # recovered from the changelog, whose partitions its faust then never fetches
        worker.kill()
        worker.start()
        assert now_us() < base + round(WINDOW_S * 1e6), "precondition: before the deadlines"
        # Then the recovery is sought back, it ends, and every lead breaches
        log.wait_for(
            lambda _: {b["lead_id"] for b in log.of_type("sla.breached")} >= set(leads),
            WINDOW_S + 60,
            "the breaches of every lead",
        )
        text = worker.log_text(400)
        assert "test fault: changelog partitions left paused" in text  # the stall was forced
        assert "the table's recovery received nothing" in text  # and the watch ended it
