"""Rule 14 on the real worker: late data is retracted, and a backlog never fires false breaches.

- A reply that happened before the deadline but is read after deadline + grace: the breach is
  published, then retracted on the topic that carried it, and the final fact says met, as the
  replay does.
- The backlog guard: inputs pile up while the worker is down for longer than the windows; on its
  restart it emits no breach the replay does not have (no breach-then-retraction either).
"""

from __future__ import annotations

import time
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
    event,
    facts_of,
    launch,
    now_us,
    parse_iso,
    policy_toml,
    replay,
    workers,
    write_policy,
)

pytestmark = pytest.mark.kafka


@pytest.mark.kafka(limit_s=90)
def test_late_reply_retracts_the_breach_and_the_fact_says_met(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given a 4 s window with 1 s grace, and a lead created now with an owner
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(4.0, grace_s=1.0))
    (worker,) = launch(env, policy)
    base = now_us()
    lead = "late-1"
    control = "late-control"
    events = [
        created(lead, at(0, base)),
        assigned(lead, at(0, base)),
        created(control, at(0, base)),
        assigned(control, at(0, base)),
    ]
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        feed.send_all(events)
        # When the breach has been published (deadline + grace passed) ...
        log.wait_for(
            lambda _: log.of_type("sla.breached", lead), 30, "the breach of the unanswered lead"
        )
        breach = log.of_type("sla.breached", lead)[0]
        assert abs(parse_iso(breach["occurred_at"]) - (base + 4_000_000)) <= 1000, breach
        # (not sent before deadline + grace: the record's own timestamp says when it was sent)
        sent_ms = next(r.timestamp_ms for r in log.records if r.event_id == breach["event_id"])
        assert sent_ms * 1000 >= base + 5_000_000 - 20_000, (sent_ms, base)
        # ... and only then a reply arrives that happened 0.5 s before the deadline
        reply = answered(lead, at(3.5, base))
        feed.send_all([reply])
        events.append(reply)

        # Then the breach is retracted on sla.alerts, naming it
        log.wait_for(
            lambda _: any(
                r["data"].get("retracted_event_id") == breach["event_id"]
                for r in log.of_type("sla.alert_retracted", lead)
            ),
            30,
            "the retraction of the breach",
        )
        retraction = next(
            r
            for r in log.records
            if r.topic == "sla.alerts"
            and r.type == "sla.alert_retracted"
            and r.body["data"].get("retracted_event_id") == breach["event_id"]
        )
        assert retraction.body["lead_id"] == lead
        assert retraction.body["data"]["reason"] == "late_activity"

        # Every task raised by the breach is retracted too (on sla.tasks; that topic is read
        # separately, so its retraction may reach this log a moment after the alert's)
        def tasks_open() -> set[str]:
            raised = {
                r.body["event_id"]
                for r in log.on("sla.tasks")
                if r.type == "sla.escalation_task" and r.body["lead_id"] == lead
            }
            retracted = {
                r.body["data"]["retracted_event_id"]
                for r in log.on("sla.tasks")
                if r.type == "sla.alert_retracted"
            }
            return raised - retracted

        log.wait_for(
            lambda _: any(
                r.type == "sla.escalation_task" and r.body["lead_id"] == lead
                for r in log.on("sla.tasks")
            ),
            15,
            "the escalation task the breach raised",
        )
        log.wait_for(lambda _: not tasks_open(), 15, "the retraction of every escalation task")

        compare_at = log.wait_quiet(2.0, not_before_us=base + 6_500_000, timeout_s=30)
    # And the final fact says met within the SLA, and everything equals the replay
    facts = {
        r.body["lead_id"]: r.body["data"]
        for r in sorted(log.records, key=lambda r: r.offset)
        if r.topic == "sla.measurements" and r.type == "sla.measured"
    }
    assert facts[lead]["status"] == "met", facts[lead]
    assert facts[lead]["within_sla"] is True
    assert facts[control]["status"] == "breached"
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)


@pytest.mark.kafka(limit_s=150)
def test_backlog_after_a_stop_fires_no_breach_the_replay_does_not_have(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    # Given a 3 s window (grace 0.5 s), a worker that ran once and was stopped
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(3.0, grace_s=0.5))
    (worker,) = launch(env, policy)
    events = [created("warm-up", at(0)), assigned("warm-up", at(0))]
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        feed.send_all(events)
        log.wait_for(lambda _: log.of_type("sla.timer_started", "warm-up"), 30, "the warm-up lead")
        assert worker.stop() == 0, worker.log_text()

        # While it is down: 600 leads created, every other one answered 1 s later (in time),
        # and the wall clock passes beyond every window
        base = now_us()
        leads = [f"bl-{i:04d}" for i in range(600)]
        answered_leads = set(leads[::2])
        for i, lead in enumerate(leads):
            moment = at(i * 0.002, base)
            events += [created(lead, moment), assigned(lead, moment)]
        feed.send_all(events[2:])
        time.sleep(max(0.0, (base + round(len(leads) * 0.002 * 1e6) + 1_100_000 - now_us()) / 1e6))
        replies = [
            answered(lead, at(i * 0.002 + 1.0, base))
            for i, lead in enumerate(leads)
            if lead in answered_leads
        ]
        feed.send_all(replies)
        events += replies
        time.sleep(max(0.0, (base + 6_000_000 - now_us()) / 1e6))

        # When the worker starts again over that backlog
        worker.start()
        unanswered = set(leads) - answered_leads
        log.wait_for(
            lambda _: {b["lead_id"] for b in log.of_type("sla.breached")} >= unanswered,
            90,
            "the breaches of the unanswered leads",
        )
        compare_at = log.wait_quiet(3.0, not_before_us=0, timeout_s=60)

    # Then no lead answered in time was ever breached, warned or retracted
    for type_ in ("sla.breached", "sla.pre_breach_warning", "sla.alert_retracted"):
        wrong = sorted({b["lead_id"] for b in log.of_type(type_)} & answered_leads)
        assert not wrong, f"{type_} for {len(wrong)} leads answered in time: {wrong[:10]}"
    # The unanswered ones did breach (the guard does not hold deadlines forever)
    breached = {b["lead_id"] for b in log.of_type("sla.breached")}
    assert breached - {"warm-up"} == unanswered
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)


@pytest.mark.kafka(limit_s=120)
def test_backlog_inputs_after_a_timer_do_not_erase_the_timer(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    """Rule 13 over a backlog: inputs timed after a lead's warning point or deadline, read in
    one go with its creation, come after those timers, as in the replay: an answer after the
    warning point keeps the warning; consent declined after the deadline keeps the breach."""
    # Given a 3 s window (warning at 2.25 s), a worker that ran once and was stopped
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(3.0))
    (worker,) = launch(env, policy)
    events = [created("warm-up", at(0)), assigned("warm-up", at(0))]
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        feed.send_all(events)
        log.wait_for(lambda _: log.of_type("sla.timer_started", "warm-up"), 30, "the warm-up lead")
        assert worker.stop() == 0, worker.log_text()

        # While it is down: leads answered after their warning point (before the deadline),
        # and leads whose consent is declined after their deadline
        base = now_us()
        late_answer = [f"la-{i:02d}" for i in range(20)]
        declined = [f"dc-{i:02d}" for i in range(20)]
        for lead in late_answer:
            events += [
                created(lead, at(0, base)),
                assigned(lead, at(0, base)),
                answered(lead, at(2.6, base)),
            ]
        for lead in declined:
            events += [
                created(lead, at(0, base)),
                assigned(lead, at(0, base)),
                event("lead.updated", lead, at(3.2, base), {"consent": "declined"}),
            ]
        time.sleep(max(0.0, (base + 3_500_000 - now_us()) / 1e6))
        feed.send_all(events[2:])

        # When the worker reads them all at once
        worker.start()
        log.wait_for(
            lambda _: (
                set(log.facts) >= set(late_answer + declined)
                and all(log.facts[lead][1]["status"] != "open" for lead in late_answer + declined)
            ),
            60,
            "every lead decided",
        )
        compare_at = log.wait_quiet(2.0, not_before_us=0, timeout_s=30)

    # Then the warnings and breaches stand, as in the replay
    facts = facts_of(log)
    assert [lead for lead in late_answer if not facts[lead]["pre_breach_warned"]] == []
    assert [lead for lead in declined if facts[lead]["status"] != "breached"] == []
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)


@pytest.mark.kafka(limit_s=90)
def test_inputs_timed_ahead_of_the_clock_keep_the_timers_before_them(
    worker_env: Callable[..., WorkerEnv], tmp_path: Path
) -> None:
    """Rule 13 with inputs read before their own occurred_at (a source clock a little ahead,
    well within max_future_minutes; or the worker's clock held back by the backlog guard): the
    timers due before an input still come first, as in the replay."""
    # Given a 3 s window (warning at 2.25 s) and a running worker
    env = worker_env(partitions=2)
    policy = write_policy(env, policy_toml(3.0))
    (worker,) = launch(env, policy)
    base = now_us()
    ahead_answer = [f"aa-{i:02d}" for i in range(10)]
    ahead_decline = [f"ad-{i:02d}" for i in range(10)]
    events = []
    for lead in ahead_answer:
        events += [
            created(lead, at(0, base)),
            assigned(lead, at(0, base)),
            answered(lead, at(2.6, base)),  # after the warning point, before the deadline
        ]
    for lead in ahead_decline:
        events += [
            created(lead, at(0, base)),
            assigned(lead, at(0, base)),
            event("lead.updated", lead, at(3.2, base), {"consent": "declined"}),  # after it
        ]
    with workers(worker), Feed(env) as feed, OutputLog(env) as log:
        log.watch(worker)
        # When every input is sent at once, seconds before its own occurred_at
        feed.send_all(events)
        compare_at = log.wait_quiet(2.0, not_before_us=base + 4_500_000, timeout_s=60)

    # Then the final facts and standing alerts are the replay's: warned and met; breached
    facts = facts_of(log)
    not_warned = [lead for lead in ahead_answer if not facts[lead]["pre_breach_warned"]]
    not_breached = {
        lead: facts[lead]["status"] for lead in ahead_decline if facts[lead]["status"] != "breached"
    }
    assert not not_warned and not not_breached, (
        f"answered at +2.6 s (warning due at +2.25 s) but never warned: {not_warned}; "
        f"consent declined at +3.2 s (deadline +3 s) but not breached: {not_breached}"
    )
    want = replay(events, policy, compare_at, tmp_path)
    diffs = compare(log.records, want)
    assert not diffs, "\n".join(diffs)
