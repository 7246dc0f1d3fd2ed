"""Crashes and restarts of the real worker: nothing lost, repeats carry the same ids.

- kill -9 in the middle of a stream of over 20,000 events (``lead-sla simulate``, rebased to
  the past), then a restart: the final facts equal the replay's for every lead, and any output
  published twice carries the same event_id with the same content.
- The RocksDB store (``LEADSLA_STORE=rocksdb://``): state survives a restart; an answer read
  after the restart for a lead created before it is within the SLA, no second timer_started.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
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
    dump_records,
    facts_of,
    launch,
    now_us,
    parse_iso,
    policy_toml,
    repeats_with_other_ids,
    replay,
    replay_final_facts,
    same_id_other_content,
    versions_reused,
    workers,
    write_policy,
)

pytestmark = pytest.mark.kafka

SIM_LEADS = 4000  # about 21,000 input events


def simulated(workdir: Path) -> tuple[list[dict[str, Any]], str]:
    """``lead-sla simulate`` starting on a Monday 13 weeks ago (every timer long past by now),
    and its policy with an alert horizon that reaches back that far (nothing suppressed)."""
    from leadsla import cli

    today = datetime.now(UTC).date()
    monday = today - timedelta(days=91 + today.weekday())
    start = f"{monday.isoformat()}T08:00:00Z"
    out, policy = workdir / "sim.jsonl", workdir / "sim-policy.toml"
    code = cli.main(
        [
            "simulate",
            "--leads",
            str(SIM_LEADS),
            "--seed",
            "7",
            "--start",
            start,
            "--out",
            str(out),
            "--write-policy",
            str(policy),
        ]
    )
    assert code == 0
    events = [orjson.loads(line) for line in out.read_bytes().splitlines() if line.strip()]
    text, count = re.subn(
        r"(?m)^alert_horizon_minutes = .*$", "alert_horizon_minutes = 525600", policy.read_text()
    )
    assert count == 1, "the simulated policy no longer names alert_horizon_minutes"
    latest = max(parse_iso(e["occurred_at"]) for e in events)
    assert latest < now_us() - 7 * 86_400 * 1_000_000, "the simulated stream reaches too close"
    return events, text


@pytest.mark.kafka(limit_s=300)
def test_kill_9_mid_stream_then_restart_loses_nothing_and_repeats_keep_their_ids(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given over 20,000 simulated events and a worker reading them as they are produced
    events, policy_text = simulated(tmp_path)
    assert len(events) >= 20_000
    events.sort(key=lambda e: parse_iso(e["occurred_at"]))
    env = worker_env(partitions=4)
    policy = write_policy(env, policy_text)
    far = now_us() + 86_400 * 1_000_000
    expected_leads = set(replay_final_facts(replay(events, policy, far, tmp_path)))
    (worker,) = launch(env, policy)

    fed = [0]
    failures: list[BaseException] = []

    def feed() -> None:
        try:
            with Feed(env) as producer:
                for start in range(0, len(events), 500):
                    producer.send_all(events[start : start + 500])
                    fed[0] = start + 500
                    stop.wait(0.1)
        except BaseException as exc:
            failures.append(exc)

    stop = threading.Event()
    feeder = threading.Thread(target=feed, daemon=True)
    with workers(worker), OutputLog(env) as log:
        log.watch(worker)
        began = time.monotonic()
        feeder.start()
        try:
            # When the worker is killed -9 once it has measured a quarter of the leads
            log.wait_for(
                lambda _: len(facts_of(log)) >= len(expected_leads) // 4,
                120,
                "facts of a quarter of the leads",
            )
            worker.kill()
            killed_after = time.monotonic() - began
            at_kill = len(facts_of(log))
            fed_at_kill = fed[0]
            # ... and restarted (the stream goes on meanwhile)
            worker.start()
            feeder.join(timeout=120)
            assert not failures, failures
            log.wait_for(
                lambda _: set(facts_of(log)) >= expected_leads,
                180,
                f"facts of all {len(expected_leads)} leads",
            )
            all_after = time.monotonic() - began
            compare_at = log.wait_quiet(3.0, not_before_us=0, timeout_s=60)
        finally:
            stop.set()
            feeder.join(timeout=30)
        assert worker.alive, worker.log_text()
    print(
        f"\nkilled after {at_kill}/{len(expected_leads)} leads measured and "
        f"{fed_at_kill}/{len(events)} events produced ({killed_after:.1f}s); all leads measured "
        f"after {all_after:.1f}s; {len(log.records)} outputs read"
    )
    assert at_kill < len(expected_leads), "the kill came after everything was processed"

    # Then every lead's final fact, and the standing alerts and tasks, equal the replay's
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    if diffs:
        diffs.append(f"live outputs: {dump_records(log.records, tmp_path / 'live.jsonl')}")
    assert not diffs, "\n".join(diffs)
    # and whatever was published twice carries the same event_id with the same content
    problems = same_id_other_content(log.records)
    assert not problems, "\n".join(problems[:20])
    problems = repeats_with_other_ids(log.records)
    assert not problems, "\n".join(problems[:20])
    # and no fact version was published twice with different content
    problems = versions_reused(log.records)
    assert not problems, "\n".join(problems[:20])


@pytest.mark.kafka(limit_s=150)
def test_rocksdb_store_keeps_the_state_across_a_restart(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given the RocksDB store and a 60 s window
    env = worker_env(partitions=2, store="rocksdb://")
    policy = write_policy(env, policy_toml(60.0))
    (worker,) = launch(env, policy)
    base = now_us()
    leads = [f"rdb-{i}" for i in range(8)]
    events = []
    for lead in leads:
        events += [created(lead, at(0, base)), assigned(lead, at(0, base))]
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        feed.send_all(events)
        log.wait_for(
            lambda _: {t["lead_id"] for t in log.of_type("sla.timer_started")} >= set(leads),
            60,
            "the timers of every lead",
        )
        # When the worker stops and starts again on the same data folder
        assert worker.stop() == 0, worker.log_text()
        rocks = [p for p in worker.data_dir.rglob("CURRENT") if p.is_file()]
        assert rocks, f"no RocksDB files under {worker.data_dir}"
        worker.start()
        # ... and the answers (2 s after each creation) are read only after the restart
        replies = [answered(lead, at(2, base)) for lead in leads]
        feed.send_all(replies)
        events += replies
        log.wait_for(
            lambda _: {r["lead_id"] for r in log.of_type("sla.response_recorded")} >= set(leads),
            90,
            "the responses of every lead",
        )
        compare_at = log.wait_quiet(2.0, not_before_us=0, timeout_s=30)
        assert worker.alive, worker.log_text()

    # Then each answer is a response within the SLA, with one timer_started per lead
    for lead in leads:
        responses = {r["event_id"]: r for r in log.of_type("sla.response_recorded", lead)}
        assert [r["data"]["within_sla"] for r in responses.values()] == [True], responses
        timers = log.of_type("sla.timer_started", lead)
        assert len(timers) == 1, f"{lead}: timer_started published {len(timers)} times"
        assert facts_of(log)[lead]["status"] == "met"
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)
