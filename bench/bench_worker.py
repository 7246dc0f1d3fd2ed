"""Live worker benchmarks (``make bench-worker``; not a test). Issue 6, section "Benchmarks".

Every benchmark starts the real worker as a subprocess (``python -m leadsla.cli worker``) with a
fresh topic prefix and app id on a broker (a local one from ``devtools.kafka_local`` unless
``--bootstrap`` names one), and prints a markdown table.

``delay``
    Deadline-to-alert delay. ``--leads`` (10,000) ``lead.created`` are produced over
    ``--spread`` (60) seconds, stamped with the moment they are sent, under a calendar policy of
    ``--target-minutes`` (1) with ``warn_at = 0.5``, ``grace_seconds = 0`` and no answer ever:
    warnings are due 30 s after each lead, breaches (and level-1 escalation tasks) 60 s after,
    level-2 tasks 90 s after. Per alert, the delay is its Kafka record timestamp (set when the
    worker produced it) minus its ``occurred_at`` (the due instant). p50, p99 and max per type,
    then the worker's own ``lead_sla_alert_delay_seconds`` histogram next to the same buckets
    counted from the records.

``throughput``
    End-to-end input events per second. The workload (``--workload sim``: ``lead-sla
    simulate``'s leads; ``--workload history``: leads with ``--history`` events each) is produced
    to the input topics first; then, ``--repeat`` times, interleaved: a raw aiokafka pipe (consume
    the three topics, produce each record unchanged to one output topic with acks=all, commit per
    batch; no logic) and the worker, each in its own process and consumer group. Both are timed
    the same way: from their first input read (the raw pipe's first poll, the worker's first
    ``lead_sla_inputs_total`` increase) to the moment their consumer group has committed the
    end offsets of all three input topics (polled every 0.2 s).

``process``
    The floor: the worker's per-record work (decode, ``domain.live.step``, encode, state
    load/store per batch) in one process with no Kafka and no faust, on the same workloads as
    ``throughput``; ``--profile`` adds a pyinstrument profile.

``recovery``
    Memory per open lead with the RocksDB store and recovery from the changelog. ``--leads``
    open leads (a 14-day target: every lead keeps a timer) go through one worker; then RSS and
    on-disk sizes are read, the worker is stopped (SIGTERM) and restarted twice: once with its
    RocksDB folder kept, once with it deleted (full recovery from the changelog topic). A
    restart is timed until a probe lead produced after it is processed, and until the deadline
    index holds every lead again (``lead_sla_open_leads``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from workerlib import (
    INPUTS,
    ROOT,
    GroupWatch,
    Paced,
    Record,
    WorkerProc,
    broker,
    broker_log_dir,
    collapse_profile,
    cpu_seconds,
    create_topic,
    create_topics,
    dir_mib,
    end_offsets,
    fresh_name,
    histogram_quantile,
    input_topic,
    log,
    machine_line,
    median,
    percentile,
    produce,
    read_to_end,
    table,
)

from leadsla.domain.instant import SECOND, format_utc, parse_rfc3339

DELAY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)
ALERT_TYPES = {
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
    "sla.escalation_task",
    "sla.review_requested",
    "sla.task_closed",
}


def now_us() -> int:
    return time.time_ns() // 1000


def lead_created(lead_id: str, at: int, **data: Any) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"{lead_id}-created",
            "type": "lead.created",
            "lead_id": lead_id,
            "occurred_at": format_utc(at),
            "data": {"source": "web_form", "priority": "normal", **data},
        }
    )


def calendar_policy(minutes: float, **extra: object) -> str:
    lines = [
        'version = "bench-1"',
        'clock = "calendar"',
        'default_manager = "bench-manager"',
        "warn_at = 0.5",
        "grace_seconds = 0",
        "escalate_to_manager_after = 0.5",
        "stale_after = 100.0",
    ]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    lines += ["", "[[targets]]", f"minutes = {minutes:g}", ""]
    return "\n".join(lines)


def wait_until_ready(worker: WorkerProc, probe: tuple[str, bytes, bytes], timeout: float) -> float:
    """Produce ``probe`` and wait until the worker counted an input; seconds since its start."""
    paced = Paced(worker.bootstrap)
    try:
        paced.send(*probe)
    finally:
        paced.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = worker.wait_metrics(timeout)
        if m.total("lead_sla_inputs_total") >= 1:
            return time.monotonic() - worker.started_at
        time.sleep(0.1)
    raise SystemExit(f"bench: the worker processed nothing in {timeout:g} s ({worker.log_path})")


# --------------------------------------------------------------------------- profiling


def worker_env(args: argparse.Namespace) -> dict[str, str]:
    pairs = [item.partition("=") for item in args.worker_env]
    return {name: value for name, _eq, value in pairs}


def settings_line(args: argparse.Namespace) -> str:
    return f"; worker env {' '.join(args.worker_env)}" if args.worker_env else ""


def profiler(args: argparse.Namespace, work: Path, name: str) -> tuple[list[str], Path | None]:
    if not args.profile:
        return [], None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.path.exists(spy):
        raise SystemExit("bench: --profile needs py-spy (pip install py-spy into the venv)")
    out = work / f"{name}.pyspy.txt"
    return [
        spy,
        "record",
        "--format",
        "raw",
        "--rate",
        "100",
        "--threads",
        "--gil",
        "-o",
        str(out),
        "--",
    ], out


def report_profile(path: Path | None) -> None:
    if path is None:
        return
    for _ in range(100):  # py-spy writes its file when the worker has exited
        if path.exists() and path.stat().st_size:
            break
        time.sleep(0.1)
    if path.exists():
        print(f"\nProfile of the worker ({path}):\n")
        print(collapse_profile(path))


# --------------------------------------------------------------------------- 1. delay


def run_delay(args: argparse.Namespace, bootstrap: str, work: Path, rep: int) -> dict[str, Any]:
    prefix = fresh_name("delay") + "-"
    app_id = fresh_name("app")
    create_topics(bootstrap, prefix, args.partitions)
    policy = work / f"delay-{rep}.toml"
    policy.write_text(calendar_policy(args.target_minutes), encoding="utf-8")
    wrap, prof = profiler(args, work, f"delay-{rep}")
    worker = WorkerProc(
        bootstrap,
        prefix,
        app_id,
        policy,
        work / f"delay-{rep}-data",
        work / f"delay-{rep}.log",
        partitions=args.partitions,
        wrap=wrap,
        extra_env=worker_env(args),
    ).start()
    created = prefix + "leads.created"
    try:
        # Warm-up: an existing customer is excluded at once (no timers, one sla.excluded).
        probe = lead_created("warmup", now_us(), customer_status="existing_customer")
        ready = wait_until_ready(worker, (created, b"warmup", probe), 180)
        log(f"delay run {rep}: worker ready after {ready:.1f} s; sending {args.leads} leads")
        paced = Paced(bootstrap)
        started = time.monotonic()
        try:
            for i in range(args.leads):
                due = started + args.spread * i / args.leads
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                lead = f"lead-{i:06d}"
                paced.send(created, lead.encode(), lead_created(lead, now_us()))
        finally:
            paced.close()
        sent_for = time.monotonic() - started
        window = args.target_minutes * 60
        last_due = started + sent_for + window * 1.5  # level-2 tasks: deadline + 0.5 window
        expected = {"sla.pre_breach_warning": args.leads, "sla.breached": args.leads}
        while True:
            m = worker.metrics()
            done = (
                all(m.get("lead_sla_outputs_total", type=t) >= n for t, n in expected.items())
                and m.get("lead_sla_outputs_total", type="sla.escalation_task") >= 2 * args.leads
            )
            if done or time.monotonic() > last_due + 60:
                break
            if not worker.alive():
                raise SystemExit(f"bench: the worker died ({worker.log_path})")
            time.sleep(1.0)
        time.sleep(1.5)  # let a last scrape see the final sends
        metrics = worker.metrics()
    finally:
        worker.stop()
    report_profile(prof)
    records = read_to_end(bootstrap, [prefix + "sla.alerts", prefix + "sla.tasks"])
    delays: dict[str, list[float]] = {}
    observed: list[float] = []  # what the worker's histogram observes: every unsuppressed alert
    for r in records:
        ev = orjson.loads(r.value)
        if ev["type"] not in ALERT_TYPES or ev["data"].get("suppressed"):
            continue
        delay = r.timestamp_ms / 1000 - parse_rfc3339(ev["occurred_at"]) / SECOND
        observed.append(delay)
        if ev["lead_id"] == "warmup":
            continue  # the warm-up lead's exclusion: due before the worker was up
        kind = ev["type"]
        if kind == "sla.escalation_task":
            kind += f" L{ev['data']['level']}"
        delays.setdefault(kind, []).append(delay)
    return {
        "ready_s": ready,
        "sent_for_s": sent_for,
        "delays": delays,
        "observed": observed,
        "metric": metrics.buckets("lead_sla_alert_delay_seconds"),
        "metric_count": metrics.get("lead_sla_alert_delay_seconds_count"),
        "metric_sum": metrics.get("lead_sla_alert_delay_seconds_sum"),
    }


def cmd_delay(args: argparse.Namespace, bootstrap: str, work: Path) -> None:
    runs = []
    for rep in range(args.repeat):
        runs.append(run_delay(args, bootstrap, work, rep))
        r = runs[-1]
        for kind, values in sorted(r["delays"].items()):
            log(
                f"run {rep}: {kind}: n={len(values)} p50={percentile(values, 50):.3f} "
                f"p99={percentile(values, 99):.3f} max={max(values):.3f}"
            )
    print(f"\n## Deadline-to-alert delay ({machine_line()})\n")
    print(
        f"{args.leads:,} leads over {args.spread:g} s, target {args.target_minutes:g} min, "
        f"warn_at 0.5, grace 0 s, {args.partitions} partitions{settings_line(args)}, "
        f"{args.repeat} runs; "
        "delay = record timestamp - occurred_at (due instant), seconds. Medians over the runs "
        "(and the worst run's value in brackets).\n"
    )
    kinds = sorted({k for r in runs for k in r["delays"]})
    rows = []
    for kind in kinds:
        per = [r["delays"].get(kind, []) for r in runs]
        p50 = [percentile(v, 50) for v in per]
        p99 = [percentile(v, 99) for v in per]
        mx = [max(v) if v else math.nan for v in per]
        rows.append(
            (
                kind,
                int(median(len(v) for v in per)),
                f"{args.leads - min(len(v) for v in per):,}",
                median(p50),
                f"{median(p99):.3f} ({max(p99):.3f})",
                f"{median(mx):.3f} ({max(mx):.3f})",
            )
        )
    print(table(["output", "count", "missing (worst run)", "p50 s", "p99 s", "max s"], rows))
    print(
        "\nPer run: "
        + "; ".join(
            f"run {i}: ready after {r['ready_s']:.1f} s, leads sent in {r['sent_for_s']:.1f} s"
            for i, r in enumerate(runs)
        )
    )
    # The worker's histogram against the same buckets counted from the records (last run).
    last = runs[-1]
    metric = dict(last["metric"])
    observed = last["observed"]
    rows2: list[tuple[object, ...]] = []
    for bound in (*DELAY_BUCKETS, math.inf):
        mine = sum(1 for d in observed if d <= bound)
        rows2.append(
            ("+Inf" if math.isinf(bound) else f"{bound:g}", int(metric.get(bound, 0)), mine)
        )
    print(
        "\nlead_sla_alert_delay_seconds (worker, from its due instant to the broker's ack) "
        "vs the records (due instant to record timestamp), last run, cumulative counts:\n"
    )
    print(table(["le (s)", "worker histogram", "from records"], rows2))
    mq = [histogram_quantile(q, last["metric"]) for q in (0.5, 0.99)]
    print(
        f"\nhistogram_quantile from the worker's buckets: p50 {mq[0]:.3f} s, p99 {mq[1]:.3f} s; "
        f"from the records: p50 {percentile(observed, 50):.3f} s, "
        f"p99 {percentile(observed, 99):.3f} s; worker mean "
        f"{last['metric_sum'] / max(1, last['metric_count']):.3f} s over "
        f"{int(last['metric_count'])} observations, records mean "
        f"{sum(observed) / max(1, len(observed)):.3f} s over {len(observed)}."
    )


# --------------------------------------------------------------------------- 2. throughput


def sim_workload(leads: int, seed: int, rebase: str) -> list[tuple[str, str, bytes]]:
    """(type, lead_id, JSON) of the simulator's leads, shifted so the last event is recent/old."""
    from leadsla.simulate import DEFAULT_START, generate

    events = list(generate(leads, seed, parse_rfc3339(DEFAULT_START)))
    last = max(parse_rfc3339(e["occurred_at"]) for e in events)
    target = now_us() - (60 * SECOND if rebase == "recent" else 7 * 86400 * SECOND)
    shift = target - last
    out = []
    for e in events:
        e["occurred_at"] = format_utc(parse_rfc3339(e["occurred_at"]) + shift)
        out.append((e["type"], e["lead_id"], orjson.dumps(e)))
    return out


def history_workload(leads: int, per_lead: int, rebase: str) -> list[tuple[str, str, bytes]]:
    """Leads with ``per_lead`` events each: created, an owner, then inbound/automated activity
    (never a meaningful response, so every event re-evaluates a lead that is still open or
    breached), interleaved over time as leads overlap."""
    span = 3600 * SECOND  # each lead's events over an hour
    end = now_us() - (60 * SECOND if rebase == "recent" else 7 * 86400 * SECOND)
    start = end - span - leads * SECOND
    rng = random.Random(7)
    timed: list[tuple[int, str, str, bytes]] = []
    for i in range(leads):
        lead = f"hist-{i:06d}"
        t0 = start + i * SECOND
        for k in range(per_lead):
            at = t0 + k * span // per_lead
            eid = f"{lead}-{k}"
            if k == 0:
                ev: dict[str, Any] = {
                    "type": "lead.created",
                    "data": {"source": "web_form", "priority": "normal"},
                }
            elif k == 1:
                ev = {"type": "lead.owner_assigned", "data": {"owner_id": f"rep-{i % 40}"}}
            else:
                kind = rng.choice(("email", "note", "autoresponder", "call"))
                ev = {
                    "type": "lead.activity_logged",
                    "data": {
                        "actor_id": "crm-bot" if kind == "autoresponder" else "someone-else",
                        "actor_kind": "automation" if kind == "autoresponder" else "person",
                        "kind": kind,
                        "direction": "inbound" if kind in ("email", "call") else "internal",
                    },
                }
            ev.update(event_id=eid, lead_id=lead, occurred_at=format_utc(at))
            timed.append((at, ev["type"], lead, orjson.dumps(ev)))
    timed.sort(key=lambda t: t[0])
    return [(t, lead, v) for _at, t, lead, v in timed]


def history_policy() -> str:
    return calendar_policy(30, alert_horizon_minutes=1440)


def wait_committed(
    watch: GroupWatch,
    group: str,
    ends: dict[tuple[str, int], int],
    alive: Any,
    timeout: float,
    first_input: Any,
    pid: int | None = None,
) -> tuple[float, float, int, float]:
    """Poll until ``group`` committed ``ends``: (t of first input, t of catch-up, inputs at
    t0, CPU seconds of ``pid`` in between)."""
    t0: float | None = None
    at_t0 = 0
    cpu0 = math.nan
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if t0 is None:
            seen = first_input()
            if seen is not None:
                t0, at_t0 = time.monotonic(), seen
                cpu0 = cpu_seconds(pid) if pid else math.nan
        ok, _done = watch.caught_up(group, ends)
        if ok:
            end = time.monotonic()
            cpu = (cpu_seconds(pid) - cpu0) if pid else math.nan
            return (t0 if t0 is not None else end), end, at_t0, cpu
        if not alive():
            raise SystemExit(f"bench: the process under test exited before catching up ({group})")
        time.sleep(0.2)
    raise SystemExit(f"bench: {group} did not catch up within {timeout:g} s")


def run_raw(bootstrap: str, prefix: str, work: Path, total: int, rep: int) -> dict[str, Any]:
    group = fresh_name("raw")
    out_topic = f"{prefix}raw.out"
    log_path = work / f"raw-{rep}.log"
    ends = end_offsets(bootstrap, [prefix + t for t in INPUTS])
    started = time.monotonic()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "raw-pipe",
                "--bootstrap",
                bootstrap,
                "--prefix",
                prefix,
                "--group",
                group,
                "--out-topic",
                out_topic,
                "--total",
                str(total),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    watch = GroupWatch(bootstrap)
    marker = log_path

    def first_input() -> int | None:
        text = marker.read_text(errors="replace")
        return 0 if "first-records" in text else None

    try:
        t0, t1, _, cpu = wait_committed(
            watch,
            group,
            ends,
            lambda: proc.poll() is None or proc.returncode == 0,
            900,
            first_input,
            proc.pid,
        )
    finally:
        watch.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(60)
        if proc.poll() is None:
            proc.kill()
    return {
        "startup_s": t0 - started,
        "seconds": t1 - t0,
        "events": total,
        "outputs": total,
        "cpu_s": cpu,
    }


def run_worker_pass(
    args: argparse.Namespace,
    bootstrap: str,
    prefix: str,
    policy: Path,
    work: Path,
    total: int,
    rep: int,
    name: str,
) -> dict[str, Any]:
    ends = end_offsets(bootstrap, [prefix + t for t in INPUTS])
    app_id = fresh_name("app")
    wrap, prof = profiler(args, work, f"{name}-{rep}") if rep == 0 else ([], None)
    worker = WorkerProc(
        bootstrap,
        prefix,
        app_id,
        policy,
        work / f"{name}-{rep}-data",
        work / f"{name}-{rep}.log",
        store=args.store,
        partitions=args.partitions,
        wrap=wrap,
        extra_env={
            "LEADSLA_BATCH_MAX": str(args.batch_max),
            "LEADSLA_BATCH_WITHIN_S": str(args.batch_within),
            **worker_env(args),
        },
    ).start()
    watch = GroupWatch(bootstrap)

    def first_input() -> int | None:
        with contextlib.suppress(OSError):
            seen = int(worker.metrics().total("lead_sla_inputs_total"))
            return seen if seen > 0 else None
        return None

    try:
        t0, t1, at_t0, cpu = wait_committed(
            watch, app_id, ends, worker.alive, 1800, first_input, worker.worker_pid()
        )
        m = worker.metrics()
        rss = worker.rss_mib()
    finally:
        watch.close()
        worker.stop()
    report_profile(prof)
    return {
        "startup_s": t0 - worker.started_at,
        "seconds": t1 - t0,
        "cpu_s": cpu,
        "events": total - at_t0,
        "outputs": int(m.total("lead_sla_outputs_total")),
        "dead": int(m.total("lead_sla_dead_letters_total")),
        "suppressed": int(m.get("lead_sla_suppressed_total")),
        "ticks": int(m.get("lead_sla_ticks_total")),
        "batch_mean_ms": 1000
        * m.get("lead_sla_batch_seconds_sum")
        / max(1.0, m.get("lead_sla_batch_seconds_count")),
        "batches": int(m.get("lead_sla_batch_seconds_count")),
        "send_mean_ms": 1000
        * m.get("lead_sla_send_seconds_sum")
        / max(1.0, m.get("lead_sla_send_seconds_count")),
        "rss_mib": rss,
    }


def cmd_throughput(args: argparse.Namespace, bootstrap: str, work: Path) -> None:
    prefix = fresh_name("tput") + "-"
    create_topics(bootstrap, prefix, args.partitions)
    create_topic(bootstrap, f"{prefix}raw.out", args.partitions)
    if args.workload == "sim":
        leads = int(args.events / 5.3 * 1.05) + 10
        events = sim_workload(leads, args.seed, args.rebase)[: args.events]
        policy = ROOT / "examples" / "simulate-policy.toml"
        what = f"lead-sla simulate (seed {args.seed}), {args.rebase} history"
    else:
        leads = max(1, args.events // args.history)
        events = history_workload(leads, args.history, args.rebase)
        policy = work / "history.toml"
        policy.write_text(history_policy(), encoding="utf-8")
        what = f"{leads:,} leads x {args.history} events, {args.rebase} history"
    n_leads = len({lead for _t, lead, _v in events})
    records: list[Record] = [
        (prefix + input_topic(t), lead.encode(), value) for t, lead, value in events
    ]
    started = time.monotonic()
    total = produce(bootstrap, records)
    log(f"produced {total:,} events of {n_leads:,} leads in {time.monotonic() - started:.1f} s")
    del records, events
    raws: list[dict[str, Any]] = []
    workers: list[dict[str, Any]] = []
    for rep in range(args.repeat):
        raws.append(run_raw(bootstrap, prefix, work, total, rep))
        log(f"raw run {rep}: {total / raws[-1]['seconds']:,.0f} events/s")
        workers.append(run_worker_pass(args, bootstrap, prefix, policy, work, total, rep, "tput"))
        w = workers[-1]
        log(f"worker run {rep}: {w['events'] / w['seconds']:,.0f} events/s ({w})")
    print(f"\n## Worker throughput ({machine_line()})\n")
    print(
        f"{total:,} input events ({what}; {n_leads:,} leads), {args.partitions} partitions, "
        f"store {args.store}, batch {args.batch_max} / {args.batch_within:g} s"
        f"{settings_line(args)}, {args.repeat} runs each, interleaved; medians (min-max).\n"
    )

    def rate(runs: Sequence[dict[str, Any]]) -> tuple[float, str]:
        rates = [r["events"] / r["seconds"] for r in runs]
        return median(rates), f"{min(rates):,.0f}-{max(rates):,.0f}"

    def per_cpu(runs: Sequence[dict[str, Any]]) -> float:
        return median(r["events"] / r["cpu_s"] for r in runs if r["cpu_s"] > 0)

    raw_rate, raw_span = rate(raws)
    w_rate, w_span = rate(workers)
    rows = [
        (
            "raw aiokafka pipe (no logic)",
            raw_rate,
            raw_span,
            median(r["seconds"] for r in raws),
            per_cpu(raws),
            median(r["startup_s"] for r in raws),
            total,
            "1.00",
        ),
        (
            "lead-sla worker",
            w_rate,
            w_span,
            median(r["seconds"] for r in workers),
            per_cpu(workers),
            median(r["startup_s"] for r in workers),
            int(median(r["outputs"] for r in workers)),
            f"{w_rate / raw_rate:.2f}",
        ),
    ]
    print(
        table(
            [
                "pipeline",
                "events/s",
                "range",
                "seconds",
                "events per CPU-second",
                "startup s",
                "records out",
                "vs raw",
            ],
            rows,
        )
    )
    w = workers[-1]
    print(
        f"\nWorker (last run): {w['batches']:,} batches, mean batch processing "
        f"{w['batch_mean_ms']:.1f} ms, mean publish-and-ack {w['send_mean_ms']:.1f} ms, "
        f"{w['suppressed']:,} suppressed outputs, {w['dead']:,} dead letters, {w['ticks']:,} "
        f"ticks, RSS {w['rss_mib']:.0f} MiB at the end."
    )


def cmd_raw_pipe(args: argparse.Namespace) -> None:
    """The baseline: consume the three input topics, produce each record unchanged, acks=all."""
    asyncio.run(raw_pipe(args.bootstrap, args.prefix, args.group, args.out_topic, args.total))


async def raw_pipe(bootstrap: str, prefix: str, group: str, out_topic: str, total: int) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        *(prefix + t for t in INPUTS),
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    seen = 0
    try:
        while seen < total:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            if not batches:
                continue
            if seen == 0:
                print("first-records", flush=True)
            futures = []
            for records in batches.values():
                for r in records:
                    futures.append(
                        await producer.send(out_topic, r.value, key=r.key, partition=r.partition)
                    )
                    seen += 1
            await asyncio.gather(*futures)
            await consumer.commit()
        print(f"done {seen}", flush=True)
    finally:
        await consumer.stop()
        await producer.stop()


# --------------------------------------------------------------------------- the floor


def cmd_process(args: argparse.Namespace) -> None:
    """The worker's per-record work without Kafka or faust: what one core can do at most.

    The same loop as ``Worker.handle_batch``: per batch of ``--batch-max`` records, decode +
    ``domain.live.step`` + encode (``LeadProcessor.on_input``) with states loaded from a dict of
    bytes (``streams/state.py``), then one ``state.dumps`` per lead of the batch.
    """
    from leadsla.domain.live import LiveConfig
    from leadsla.policy_file import load_policy
    from leadsla.streams import state as state_codec
    from leadsla.streams.process import LeadProcessor, Origin

    if args.workload == "sim":
        leads = int(args.events / 5.3 * 1.05) + 10
        events = sim_workload(leads, args.seed, args.rebase)[: args.events]
        policy = load_policy(str(ROOT / "examples" / "simulate-policy.toml"))
        what = f"lead-sla simulate (seed {args.seed}), {args.rebase} history"
    else:
        leads = max(1, args.events // args.history)
        events = history_workload(leads, args.history, args.rebase)
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(history_policy())
        policy = load_policy(f.name)
        os.unlink(f.name)
        what = f"{leads:,} leads x {args.history} events, {args.rebase} history"
    config = LiveConfig()
    processor = LeadProcessor(policy, config=config, source="lead-sla/bench")
    table_: dict[bytes, bytes] = {}
    batch_max = args.batch_max
    profile = None
    if args.profile:
        from pyinstrument import Profiler

        profile = Profiler(interval=0.0005)
        profile.start()
    started, cpu = time.perf_counter(), time.process_time()
    outputs = 0
    stored = 0
    for start in range(0, len(events), batch_max):
        wall = now_us()
        cache: dict[str, Any] = {}

        def state_of(lead_id: str, cache: dict[str, Any] = cache) -> Any:
            hit = cache.get(lead_id)
            if hit is not None:
                return hit
            raw = table_.get(lead_id.encode())
            return None if raw is None else state_codec.loads(raw)

        for offset, (etype, lead, value) in enumerate(events[start : start + batch_max]):
            origin = Origin(input_topic(etype), 0, start + offset, wall, lead.encode(), ())
            handled = processor.on_input(value, origin, state_of, wall, wall)
            outputs += len(handled.records)
            if handled.lead_id is not None and handled.state is not None:
                cache[handled.lead_id] = handled.state
        for lead_id, st in cache.items():
            table_[lead_id.encode()] = state_codec.dumps(st, 0, config)
            stored += 1
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profile is not None:
        profile.stop()
    n = len(events)
    state_bytes = sum(len(v) for v in table_.values())
    print(f"\n## The worker's per-record work without Kafka ({machine_line()})\n")
    print(f"{n:,} events ({what}), batches of {batch_max}, one process, one thread.\n")
    print(
        table(
            [
                "events",
                "seconds",
                "CPU s",
                "events/s",
                "us per event",
                "records out",
                "states stored",
                "state bytes per lead",
            ],
            [
                (
                    n,
                    seconds,
                    cpu,
                    n / seconds,
                    1e6 * cpu / n,
                    outputs,
                    stored,
                    state_bytes / max(1, len(table_)),
                )
            ],
        )
    )
    if profile is not None:
        print("\n```")
        print(profile.output_text(unicode=False, color=False, show_all=False)[:12000])
        print("```")


# --------------------------------------------------------------------------- 3. recovery


def created_records(prefix: str, leads: int, at: int) -> Iterator[Record]:
    topic = prefix + "leads.created"
    for i in range(leads):
        lead = f"open-{i:07d}"
        yield topic, lead.encode(), lead_created(lead, at + i)


def wait_open_leads(worker: WorkerProc, leads: int, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if worker.metrics().get("lead_sla_open_leads") >= leads:
                return time.monotonic() - worker.started_at
        if not worker.alive():
            raise SystemExit(f"bench: the worker died ({worker.log_path})")
        time.sleep(0.2)
    return math.nan


def log_marks(path: Path) -> dict[str, str]:
    """Lines of interest in a worker's log (recovery, index rebuild), for the report."""
    marks: dict[str, str] = {}
    pattern = re.compile(r"(Recovery|recovery|index rebuilt|Ready|Highwater|Done reading)")
    for line in path.read_text(errors="replace").splitlines():
        if pattern.search(line):
            marks.setdefault(pattern.search(line).group(1), line[:200])  # type: ignore[union-attr]
    return marks


def cmd_recovery(args: argparse.Namespace, bootstrap: str, work: Path, state: Path) -> None:
    prefix = fresh_name("rec") + "-"
    app_id = fresh_name("app")
    create_topics(bootstrap, prefix, args.partitions)
    policy = work / "recovery.toml"
    policy.write_text(calendar_policy(14 * 24 * 60), encoding="utf-8")
    data = work / "recovery-data"
    created = prefix + "leads.created"

    def worker(name: str, env: dict[str, str]) -> WorkerProc:
        return WorkerProc(
            bootstrap,
            prefix,
            app_id,
            policy,
            data,
            work / f"recovery-{name}.log",
            store="rocksdb://",
            partitions=args.partitions,
            extra_env=env,
        ).start()

    load_env = {**worker_env(args), **dict(i.partition("=")[::2] for i in args.load_env)}
    first = worker("load", load_env)
    rows: list[tuple[object, ...]] = []
    try:
        ready = wait_until_ready(
            first, (created, b"probe-0", lead_created("probe-0", now_us())), 180
        )
        time.sleep(2)
        rss0 = first.rss_mib()
        log(f"worker ready after {ready:.1f} s, RSS {rss0:.0f} MiB; producing {args.leads:,}")
        ends_before = end_offsets(bootstrap, [prefix + t for t in INPUTS])
        started = time.monotonic()
        total = produce(bootstrap, created_records(prefix, args.leads, now_us()))
        produced_s = time.monotonic() - started
        log(f"produced {total:,} leads in {produced_s:.1f} s")
        ends = end_offsets(bootstrap, [prefix + t for t in INPUTS])
        watch = GroupWatch(bootstrap)
        try:
            wait_committed(watch, app_id, ends, first.alive, 3600, lambda: 0)
        finally:
            watch.close()
        loaded_s = time.monotonic() - started
        del ends_before
        time.sleep(3)  # one more deadline-loop turn: the open-leads gauge
        m = first.metrics()
        open_leads = int(m.get("lead_sla_open_leads"))
        rss1 = first.rss_mib()
        stop_s = first.stop()
    finally:
        first.stop()
    db_mib = dir_mib(data)
    broker_dir = broker_log_dir(state)
    changelog_mib = math.nan
    if broker_dir is not None:
        changelog = f"{prefix}{app_id}-leads-changelog"
        # record bytes only: the broker preallocates 10 MiB index files per segment
        changelog_mib = sum(
            f.stat().st_size / 2**20
            for p in broker_dir.rglob(f"{changelog}-*")
            if p.is_dir()
            for f in p.glob("*.log")
        )
    n = args.leads + 1
    rows.append(("load: leads processed", n, f"{loaded_s:.1f} s ({n / loaded_s:,.0f}/s)"))
    rows.append(("open leads (gauge)", open_leads, ""))
    rows.append(("worker RSS, empty -> loaded", f"{rss0:.0f} -> {rss1:.0f} MiB", ""))
    rows.append(("RSS per open lead", f"{(rss1 - rss0) * 2**20 / n:.0f} B", ""))
    rows.append(("RocksDB folder per lead", f"{db_mib * 2**20 / n:.0f} B", f"{db_mib:.0f} MiB"))
    rows.append(
        (
            "changelog on the broker per lead",
            f"{changelog_mib * 2**20 / n:.0f} B",
            f"{changelog_mib:.0f} MiB",
        )
    )
    rows.append(("SIGTERM to exit", f"{stop_s:.1f} s", ""))

    for label, wipe in (("restart, RocksDB kept", False), ("restart, RocksDB wiped", True)):
        if wipe:
            shutil.rmtree(data, ignore_errors=True)
        w = worker("wiped" if wipe else "kept", worker_env(args))
        try:
            probe = f"probe-{'w' if wipe else 'k'}"
            ready = wait_until_ready(
                w, (created, probe.encode(), lead_created(probe, now_us())), 1800
            )
            indexed = wait_open_leads(w, n, 600)
            rss = w.rss_mib()
            marks = log_marks(w.log_path)
        finally:
            w.stop()
        rows.append((label + ": first input processed", f"{ready:.1f} s", ""))
        rows.append((label + ": deadline index full", f"{indexed:.1f} s", f"RSS {rss:.0f} MiB"))
        for key, line in marks.items():
            log(f"{label}: {key}: {line}")
    print(f"\n## Memory per open lead and recovery ({machine_line()})\n")
    print(
        f"{n:,} open leads (calendar policy, 14-day target: every lead keeps a timer), "
        f"store rocksdb://, {args.partitions} partitions{settings_line(args)}"
        f"{'; loading worker env ' + ' '.join(args.load_env) if args.load_env else ''}. "
        "Restart times are from the process start (Python and faust start-up included).\n"
    )
    print(table(["measure", "value", "detail"], rows))


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--bootstrap", default=None, help="a broker to use (default: start one)")
        p.add_argument(
            "--broker-state",
            default=None,
            help="kafka_local state file: reuse its running broker, or start one with it",
        )
        p.add_argument("--partitions", type=int, default=4)
        p.add_argument("--repeat", type=int, default=3)
        p.add_argument("--work-dir", default=None, help="keep logs and data here")
        p.add_argument("--profile", action="store_true", help="run the (first) worker under py-spy")
        p.add_argument(
            "--worker-env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="an extra environment variable for the worker (experiments, e.g. faust's "
            "PRODUCER_LINGER=0.005); repeatable",
        )

    p = sub.add_parser("delay", help="deadline-to-alert delay")
    common(p)
    p.add_argument("--leads", type=int, default=10_000)
    p.add_argument("--spread", type=float, default=60.0, help="seconds to create them over")
    p.add_argument("--target-minutes", type=float, default=1.0)

    p = sub.add_parser("throughput", help="input events per second, worker vs raw pipe")
    common(p)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--workload", choices=("sim", "history"), default="sim")
    p.add_argument("--history", type=int, default=50, help="events per lead (history workload)")
    p.add_argument("--rebase", choices=("old", "recent"), default="recent")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--store", default="memory://")
    p.add_argument("--batch-max", type=int, default=1000)
    p.add_argument("--batch-within", type=float, default=0.02)

    p = sub.add_parser("process", help="the processor alone, no Kafka (the floor)")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--workload", choices=("sim", "history"), default="sim")
    p.add_argument("--history", type=int, default=50, help="events per lead (history workload)")
    p.add_argument("--rebase", choices=("old", "recent"), default="recent")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--batch-max", type=int, default=1000)
    p.add_argument("--profile", action="store_true", help="pyinstrument profile of the loop")

    p = sub.add_parser("recovery", help="memory per open lead (RocksDB) and recovery time")
    common(p)
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument(
        "--load-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra variable for the loading worker only (a faster variant to fill the "
        "changelog; the restarts run the worker as it is)",
    )

    p = sub.add_parser("raw-pipe", help="(internal) the raw consume-and-produce baseline")
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--out-topic", required=True)
    p.add_argument("--total", type=int, required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.command == "raw-pipe":
        cmd_raw_pipe(args)
        return 0
    if args.command == "process":
        cmd_process(args)
        return 0
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench-worker-"))
    work.mkdir(parents=True, exist_ok=True)
    state = Path(args.broker_state) if args.broker_state else work / "broker.json"
    log(f"work folder {work}")
    print(f"`{' '.join(['python bench/bench_worker.py', *sys.argv[1:]])}`")
    with broker(args.bootstrap, state) as bootstrap:
        if args.command == "delay":
            cmd_delay(args, bootstrap, work)
        elif args.command == "throughput":
            cmd_throughput(args, bootstrap, work)
        else:
            cmd_recovery(args, bootstrap, work, state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
