"""The demo's two ends: feed sample input events to the input topics, print what comes out.

    python -m devtools.demo_io feed examples/sample-leads.jsonl [--shift-to-now]
    python -m devtools.demo_io read --expect 10 [--timeout 60] [--quiet 4]

Broker and topic prefix come from the worker's own settings (``LEADSLA_BOOTSTRAP_SERVERS``,
``LEADSLA_TOPIC_PREFIX``). ``feed`` routes each event by type (SPEC.md section 2:
``lead.created`` -> leads.created, ``lead.owner_assigned`` -> leads.ownership, the rest ->
leads.activity), keyed by lead_id. ``--shift-to-now`` moves every ``occurred_at`` by the same
amount so that the latest one is now, keeping the gaps between events (a live demo of a file
recorded in the past). ``read`` prints every record of the output topics until it has seen
``--expect`` leads have their first ``sla.measured`` fact and then ``--quiet`` seconds pass without a new record (or
``--timeout`` passes, or the ``--worker-pid`` process exits); it exits 1 if it saw no
``sla.timer_started`` at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from leadsla.settings import Settings, client_config
from leadsla.topics import (
    LEADS_ACTIVITY,
    LEADS_CREATED,
    LEADS_OWNERSHIP,
    OUTPUT_TOPICS,
)

ROUTE = {"lead.created": LEADS_CREATED, "lead.owner_assigned": LEADS_OWNERSHIP}


def _shift(events: list[dict[str, Any]]) -> None:
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    delta = datetime.now(UTC).replace(microsecond=0) - max(times)
    for event, at in zip(events, times, strict=True):
        event["occurred_at"] = (at + delta).astimezone(UTC).isoformat().replace("+00:00", "Z")


def feed(settings: Settings, path: Path, shift_to_now: bool) -> int:
    from kafka import KafkaProducer

    events = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    if shift_to_now:
        _shift(events)
    producer = KafkaProducer(acks="all", **client_config(settings))
    try:
        for event in events:
            topic = settings.topic(ROUTE.get(event["type"], LEADS_ACTIVITY))
            producer.send(topic, key=event["lead_id"].encode(), value=orjson.dumps(event))
            print(
                f"  > {topic:<28} {event['lead_id']:<8} {event['type']:<22} {event['occurred_at']}"
            )
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    print(f"fed {len(events)} events from {path}")
    return 0


def _summary(event: dict[str, Any]) -> str:
    data = event.get("data")
    if "original_base64" in event:  # a dead letter
        return f"reason={event.get('reason')!r}"
    if not isinstance(data, dict):
        return ""
    keys = (
        "due_at",
        "warn_at",
        "target_minutes",
        "manager_id",
        "owner_id",
        "recipient_id",
        "assignee_id",
        "reason",
        "breach_reason",
        "within_sla",
        "status",
        "suppressed",
    )
    return " ".join(f"{k}={data[k]}" for k in keys if k in data and data[k] is not None)


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def read(
    settings: Settings, expect: int, timeout_s: float, quiet_s: float, worker_pid: int | None
) -> int:
    from kafka import KafkaConsumer

    topics = [settings.topic(suffix) for suffix in OUTPUT_TOPICS]
    consumer = KafkaConsumer(
        *topics,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=250,
        **client_config(settings),
    )
    started = last = time.monotonic()
    timers = total = 0
    measured_leads: set[str] = set()  # every lead gets a fact, even one excluded at creation
    try:
        while True:
            for message in consumer:
                total += 1
                last = time.monotonic()
                try:
                    event = orjson.loads(message.value)
                except orjson.JSONDecodeError:
                    event = {}
                kind = event.get("type") or ("dead letter" if "original_base64" in event else "?")
                timers += kind == "sla.timer_started"
                lead = event.get("lead_id") or (message.key or b"").decode(errors="replace")
                if kind == "sla.measured":
                    measured_leads.add(lead)
                print(
                    f"  < {message.topic:<28} {lead:<8} {kind:<22} "
                    f"{event.get('occurred_at', '')} {_summary(event)}".rstrip(),
                    flush=True,
                )
            now = time.monotonic()
            if len(measured_leads) >= expect and now - last >= quiet_s:
                break
            if now - started >= timeout_s:
                print(f"stopped waiting after {timeout_s:.0f}s", file=sys.stderr)
                break
            if not _alive(worker_pid):
                print(f"the worker (pid {worker_pid}) has exited", file=sys.stderr)
                break
    finally:
        consumer.close()
    print(f"read {total} output records, {timers} of them sla.timer_started")
    return 0 if timers else 1


def wait_ready(settings: Settings, timeout_s: float, worker_pid: int | None) -> int:
    """Wait until the worker's consumer group is stable with a member (it has its partitions)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**client_config(settings))
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if not _alive(worker_pid):
                print(f"the worker (pid {worker_pid}) has exited", file=sys.stderr)
                return 1
            try:
                group = admin.describe_groups([settings.app_id])[settings.app_id]
                if group["group_state"] == "Stable" and group["members"]:
                    time.sleep(1.0)  # recovery of an empty table, then the fetcher starts
                    return 0
            except Exception:  # the group does not exist yet
                pass
            time.sleep(0.5)
    finally:
        admin.close()
    print(f"the worker was not ready after {timeout_s:.0f}s", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo_io")
    sub = parser.add_subparsers(dest="command", required=True)
    p_feed = sub.add_parser("feed", help="produce input events from a JSON-lines file")
    p_feed.add_argument("file", type=Path)
    p_feed.add_argument("--shift-to-now", action="store_true")
    p_read = sub.add_parser("read", help="print the output topics' records")
    p_read.add_argument("--expect", type=int, default=1, help="leads whose first fact to wait for")
    p_read.add_argument("--timeout", type=float, default=60.0)
    p_read.add_argument("--quiet", type=float, default=4.0)
    p_read.add_argument("--worker-pid", type=int, default=None, help="stop if it exits")
    p_ready = sub.add_parser("wait-ready", help="wait until the worker has joined its group")
    p_ready.add_argument("--timeout", type=float, default=60.0)
    p_ready.add_argument("--worker-pid", type=int, default=None, help="stop if it exits")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "wait-ready":
        return wait_ready(settings, args.timeout, args.worker_pid)
    if args.command == "feed":
        return feed(settings, args.file, args.shift_to_now)
    return read(settings, args.expect, args.timeout, args.quiet, args.worker_pid)


if __name__ == "__main__":
    sys.exit(main())
