"""`make demo`'s story: a few leads whose whole life plays out in seconds on a real worker.

``python -m devtools.demo_story play`` produces a timed script of input events (times relative to
the moment it starts, windows of a few seconds: see ``POLICY``), waits until every deadline of
the script has passed, then prints every output the worker published, in the order it published
them, and one line per lead from its latest ``sla.measured`` fact.

The cast: a pricing-page lead with only an autoresponder (warning, breach, escalation to the
backup, then the manager, stale), a lead answered in time, a complaint (review request), a lead
held for unclear consent, a breached lead whose owner answers late (tasks closed), a lead whose
reply happened in time but reached Kafka after the deadline (breach retracted), an existing
customer (excluded), and a lead nobody owns.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from leadsla.settings import Settings, client_config

POLICY = """\
version = "demo-story-1"
clock = "calendar"
default_manager = "claudia-weber"
warn_at = 0.5
grace_seconds = 1
escalate_to_manager_after = 0.5
stale_after = 2.0

# Windows of seconds, so the whole life of a lead fits in the demo (0.1 minutes = 6 s).
[[targets]]
source = "pricing_page"
minutes = 0.1

[[targets]]
minutes = 0.15

[roster.anna-keller]
backup = "jonas-becker"
manager = "claudia-weber"

[roster.lea-hoffmann]
backup = "david-okafor"
manager = "claudia-weber"

[roster.david-okafor]
backup = "lea-hoffmann"
manager = "claudia-weber"

[roster.lukas-brandt]
backup = "mia-fischer"
manager = "claudia-weber"
"""

Step = tuple[float, float, str, str, dict[str, Any]]
"""(produce at, occurred at, lead, type, data): seconds after the start."""

SCRIPT: list[Step] = [
    # L-1 pricing page, owner anna, only an autoresponder: warning, breach, level 1 and 2, stale
    (0.0, 0.0, "L-1-autoresponder-only", "lead.created", {"source": "pricing_page"}),
    (0.2, 0.2, "L-1-autoresponder-only", "lead.owner_assigned", {"owner_id": "anna-keller"}),
    (
        0.4,
        0.4,
        "L-1-autoresponder-only",
        "lead.activity_logged",
        {"actor_id": "mailbot", "actor_kind": "automation", "kind": "autoresponder"},
    ),
    # L-2 answered in time by its owner
    (0.0, 0.0, "L-2-answered", "lead.created", {"source": "web_form"}),
    (0.2, 0.2, "L-2-answered", "lead.owner_assigned", {"owner_id": "lea-hoffmann"}),
    (
        2.0,
        2.0,
        "L-2-answered",
        "lead.activity_logged",
        {"actor_id": "lea-hoffmann", "actor_kind": "person", "kind": "call"},
    ),
    # L-3 a complaint: a review request to the manager at creation, answered in time
    (0.0, 0.0, "L-3-complaint", "lead.created", {"source": "email", "category": "complaint"}),
    (0.2, 0.2, "L-3-complaint", "lead.owner_assigned", {"owner_id": "david-okafor"}),
    (
        3.0,
        3.0,
        "L-3-complaint",
        "lead.activity_logged",
        {"actor_id": "david-okafor", "actor_kind": "person", "kind": "email"},
    ),
    # L-4 consent unclear: held for a person, no alert while held
    (0.0, 0.0, "L-4-held", "lead.created", {"source": "web_form", "consent": "unclear"}),
    (0.2, 0.2, "L-4-held", "lead.owner_assigned", {"owner_id": "lukas-brandt"}),
    # L-5 breached, escalated, then answered late: response recorded, tasks closed
    (0.0, 0.0, "L-5-answered-late", "lead.created", {"source": "chat"}),
    (0.2, 0.2, "L-5-answered-late", "lead.owner_assigned", {"owner_id": "david-okafor"}),
    (
        11.5,
        11.5,
        "L-5-answered-late",
        "lead.activity_logged",
        {"actor_id": "david-okafor", "actor_kind": "person", "kind": "call"},
    ),
    # L-6 answered at 3 s, but the reply reached Kafka only at 12 s: breach, then retracted
    (0.0, 0.0, "L-6-late-data", "lead.created", {"source": "chat"}),
    (0.2, 0.2, "L-6-late-data", "lead.owner_assigned", {"owner_id": "lukas-brandt"}),
    (
        12.0,
        3.0,
        "L-6-late-data",
        "lead.activity_logged",
        {"actor_id": "lukas-brandt", "actor_kind": "person", "kind": "email"},
    ),
    # L-7 an existing customer: not a new lead, excluded (support route)
    (
        0.0,
        0.0,
        "L-7-existing-customer",
        "lead.created",
        {"source": "email", "customer_status": "existing_customer"},
    ),
    # L-8 nobody owns it: warning and breach to the manager
    (0.0, 0.0, "L-8-no-owner", "lead.created", {"source": "referral"}),
]

TOPIC_OF = {"lead.created": "leads.created", "lead.owner_assigned": "leads.ownership"}
SETTLE_S = 17.0
"""Seconds after the start by which every deadline, level 2 and stale point has passed."""


def _ts(start: datetime, seconds: float) -> str:
    return (start + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def play(settings: Settings) -> float:
    """Produce the script in time; returns the start (epoch seconds)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", linger_ms=0, **client_config(settings))
    start_epoch = time.time()
    start = datetime.fromtimestamp(start_epoch, UTC)
    try:
        for number, (at, occurred, lead, type_, data) in enumerate(
            sorted(SCRIPT, key=lambda s: s[0])
        ):
            wait = start_epoch + at - time.time()
            if wait > 0:
                time.sleep(wait)
            event = {
                "event_id": f"demo-{number:03d}",
                "type": type_,
                "lead_id": lead,
                "occurred_at": _ts(start, occurred),
                "data": data,
            }
            topic = settings.topic(TOPIC_OF.get(type_, "leads.activity"))
            producer.send(topic, key=lead.encode(), value=orjson.dumps(event))
            producer.flush()
    finally:
        producer.close()
    return start_epoch


def read_outputs(
    settings: Settings, timeout_s: float = 10.0
) -> list[tuple[int, str, dict[str, Any]]]:
    """Every output record so far: (record timestamp ms, topic, event)."""
    from kafka import KafkaConsumer

    topics = [settings.topic(t) for t in ("sla.alerts", "sla.tasks", "sla.measurements", "sla.dlq")]
    consumer = KafkaConsumer(
        *topics,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
        **client_config(settings),
    )
    found: list[tuple[int, str, dict[str, Any]]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            before = len(found)
            for message in consumer:
                found.append((message.timestamp, message.topic, orjson.loads(message.value)))
            if len(found) == before and found:
                break
    finally:
        consumer.close()
    return found


def _what(event: dict[str, Any]) -> str:
    data = event.get("data", {})
    kind = event.get("type", "")
    if kind == "sla.pre_breach_warning":
        return f"to {data.get('recipient_id')}: {data.get('reason')}"
    if kind == "sla.breached":
        return f"reason {data.get('breach_reason')}, owner {data.get('owner_id')}"
    if kind == "sla.escalation_task":
        return (
            f"level {data.get('level')} to {data.get('assignee_role')} {data.get('assignee_id')}"
            f", apology review {data.get('apology_review_required')}"
        )
    if kind == "sla.review_requested":
        return f"to {data.get('recipient_id')}: {data.get('reason')}"
    if kind == "sla.task_closed":
        return f"task {str(data.get('task_id'))[:8]}: {data.get('reason')}"
    if kind == "sla.alert_retracted":
        return f"{data.get('retracted_type')} withdrawn: {data.get('reason')}"
    if kind == "sla.response_recorded":
        return f"by {data.get('responder_id')}, within SLA {data.get('within_sla')}"
    if kind == "sla.stale_lead":
        return f"to {data.get('recipient_id')}, age {data.get('age_seconds')} s"
    if kind == "sla.excluded":
        return f"{data.get('reason')} (route {data.get('route')})"
    if kind == "sla.ownership_gap":
        return f"to {data.get('recipient_id')}: no {data.get('missing')}"
    if kind in ("sla.timer_started", "sla.timer_updated"):
        return f"owner {data.get('owner_id')}, due {str(data.get('due_at'))[11:23]}"
    return ""


def show(settings: Settings, start_epoch: float) -> int:
    records = read_outputs(settings)
    print(f"{'sent':>7}  {'lead':<24} {'event':<24} detail")
    facts: dict[str, dict[str, Any]] = {}
    for timestamp, topic, event in sorted(records, key=lambda r: r[0]):
        if topic.endswith("sla.dlq"):
            print(f"{timestamp / 1000 - start_epoch:>6.1f}s  dead letter: {event.get('reason')}")
            continue
        if event["type"] == "sla.measured":
            lead = event["lead_id"]
            if event["data"]["version"] >= facts.get(lead, {}).get("version", 0):
                facts[lead] = event["data"]
            continue
        print(
            f"{timestamp / 1000 - start_epoch:>6.1f}s  {event['lead_id']:<24} "
            f"{event['type'].removeprefix('sla.'):<24} {_what(event)}"
        )
    print()
    print(
        f"{'lead':<24} {'status':<9} {'reason':<22} {'responded':<10} {'escalation':<10} held/stale"
    )
    for lead in sorted(facts):
        fact = facts[lead]
        responded = (
            "-" if fact.get("response_seconds") is None else f"{fact['response_seconds']:.1f} s"
        )
        flags = ", ".join(name for name in ("in_review", "stale") if fact.get(name)) or "-"
        print(
            f"{lead:<24} {fact['status']:<9} {fact.get('breach_reason') or '-':<22} "
            f"{responded:<10} {'level ' + str(fact.get('escalation_level') or 0):<10} {flags}"
        )
    expected = {step[2] for step in SCRIPT}
    missing = expected - set(facts)
    if missing:
        print(f"demo: no fact read back for {sorted(missing)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo_story")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("policy", help="write the story's policy to a file").add_argument("path")
    sub.add_parser("play", help="produce the script in time, wait, show what came out")
    args = parser.parse_args(argv)
    if args.command == "policy":
        Path(args.path).write_text(POLICY)
        return 0
    settings = Settings.from_env()
    start = play(settings)
    remaining = start + SETTLE_S - time.time()
    if remaining > 0:
        print(f"== waiting {remaining:.0f} s for every deadline of the story to pass", flush=True)
        time.sleep(remaining)
    return show(settings, start)


if __name__ == "__main__":
    sys.exit(main())
