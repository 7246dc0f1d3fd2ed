"""A sample notifier for lead-sla: tasks and alerts from Kafka to a webhook, each at least once.

It reads ``sla.tasks`` and ``sla.alerts`` with its own consumer group and POSTs JSON to one
webhook URL:

- every new task (``sla.escalation_task``, ``sla.review_requested``) and every alert
  (``sla.pre_breach_warning``, ``sla.breached``, ``sla.stale_lead``, ``sla.ownership_gap``,
  ``sla.excluded``) as ``{"action": "open", ...}``, unless it is ``suppressed`` (history the
  worker measured but does not alert: a backfill, a first start);
- ``sla.task_closed`` as ``{"action": "close", ...}`` for the task it opened with that
  ``task_id``;
- ``sla.alert_retracted`` as ``{"action": "withdraw", ...}`` for the task or alert it opened
  with that ``event_id`` (``retracted_event_id``).

Every POST carries an ``Idempotency-Key`` header: the ``event_id`` of the Kafka event it comes
from. The worker gives the same content the same ``event_id``, and this notifier may POST the
same event twice after a crash, so the receiver drops repeats by that key.

At least once, and remembered across restarts:

1. POST, and wait for a 2xx answer (retrying with back-off while the receiver fails: a 5xx,
   408, 429 or a network error); 409 counts as "already have it". Any other 4xx is the
   receiver refusing this event for good: it is recorded as ``rejected`` and logged.
2. record the delivery in a small SQLite file (``--db``), committed at once;
3. commit the Kafka offsets of a batch only after every record of it went through 1 and 2.

A crash between 1 and 2 repeats one POST (same key); a crash between 2 and 3 repeats nothing,
because the SQLite file says it was delivered. Closing and withdrawing use what the file says
was opened, so they survive restarts too.

Configuration (flags, or the environment; the Kafka settings use lead-sla's variable names)::

    --bootstrap-servers  LEADSLA_BOOTSTRAP_SERVERS   (default 127.0.0.1:9092)
    --prefix             LEADSLA_TOPIC_PREFIX        (default none)
    --webhook            NOTIFIER_WEBHOOK_URL        (required)
    --db                 NOTIFIER_DB                 (default notifier.sqlite)
    --group-id           NOTIFIER_GROUP_ID           (default lead-sla-notifier)
    --instance-id        NOTIFIER_INSTANCE_ID        (static group membership; optional)
    LEADSLA_SECURITY_PROTOCOL, LEADSLA_SASL_MECHANISM, LEADSLA_SASL_USERNAME,
    LEADSLA_SASL_PASSWORD, LEADSLA_SSL_CAFILE

Only the standard library and kafka-python (``requirements.txt``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("notifier")

TASKS = ("sla.escalation_task", "sla.review_requested")
ALERTS = (
    "sla.pre_breach_warning",
    "sla.breached",
    "sla.stale_lead",
    "sla.ownership_gap",
    "sla.excluded",
)
CLOSED = "sla.task_closed"
RETRACTED = "sla.alert_retracted"

SCHEMA = """
CREATE TABLE IF NOT EXISTS opened (
    event_id   TEXT PRIMARY KEY,  -- the task's or alert's event_id (its Idempotency-Key)
    type       TEXT NOT NULL,
    lead_id    TEXT NOT NULL,
    task_id    TEXT,              -- tasks only
    status     TEXT NOT NULL,     -- 'open', 'closed', 'withdrawn'
    opened_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS opened_by_task ON opened (task_id);
CREATE TABLE IF NOT EXISTS handled (
    event_id   TEXT PRIMARY KEY,  -- every Kafka event this notifier finished with
    outcome    TEXT NOT NULL,     -- 'posted', 'suppressed', 'nothing to close', 'rejected', ...
    handled_at TEXT NOT NULL
);
"""


class Rejected(Exception):
    """The receiver refused this event for good (a 4xx other than 408, 409, 429)."""


@dataclass(frozen=True)
class Config:
    bootstrap_servers: list[str]
    prefix: str
    webhook: str
    db: str
    group_id: str
    instance_id: str | None
    security: dict[str, Any]
    http_timeout_s: float = 10.0
    max_backoff_s: float = 30.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- the webhook


def post(config: Config, key: str, body: Mapping[str, Any], stop: list[bool]) -> int:
    """POST ``body`` with ``Idempotency-Key: key`` until the receiver takes it; its status."""
    data = json.dumps(body, separators=(",", ":")).encode()
    delay = 0.2
    while True:
        request = urllib.request.Request(
            config.webhook,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": key},
        )
        try:
            with urllib.request.urlopen(request, timeout=config.http_timeout_s) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code == 409:  # the receiver already has it
                return 409
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise Rejected(f"HTTP {exc.code}") from None
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = str(getattr(exc, "reason", exc))
        if stop[0]:
            raise KeyboardInterrupt  # asked to stop: leave the offset uncommitted
        log.warning("webhook: %s for %s; again in %.1f s", problem, key, delay)
        time.sleep(delay)
        delay = min(config.max_backoff_s, delay * 2)


# --------------------------------------------------------------------------- one event


def handle(db: sqlite3.Connection, config: Config, event: dict[str, Any], stop: list[bool]) -> str:
    """Deliver what one output event asks for (at most once per event, thanks to ``db``)."""
    event_id = str(event["event_id"])
    if db.execute("SELECT 1 FROM handled WHERE event_id = ?", (event_id,)).fetchone():
        return "already handled"
    kind = event.get("type")
    data = event.get("data") or {}
    lead_id = str(event.get("lead_id"))
    opened_row: tuple[str, str | None] | None = None
    finished: list[tuple[str, str]] = []  # (new status, opened event_id)
    if kind in TASKS or kind in ALERTS:
        if data.get("suppressed"):
            outcome = "suppressed"
        else:
            body: dict[str, Any] = {
                "action": "open",
                "kind": "task" if kind in TASKS else "alert",
                "event": event,
            }
            outcome = _deliver(config, event_id, body, stop)
            opened_row = (outcome, data.get("task_id"))
    elif kind in (CLOSED, RETRACTED):
        if kind == CLOSED:
            rows = db.execute(
                "SELECT event_id FROM opened WHERE task_id = ? AND status = 'open'",
                (data.get("task_id"),),
            ).fetchall()
        else:
            rows = db.execute(
                "SELECT event_id FROM opened WHERE event_id = ? AND status = 'open'",
                (data.get("retracted_event_id"),),
            ).fetchall()
        opened = [row[0] for row in rows]
        if not opened:
            outcome = "nothing to close"  # never opened here (suppressed, or before our time)
        else:
            action = "close" if kind == CLOSED else "withdraw"
            body = {"action": action, "opened_event_ids": opened, "event": event}
            outcome = _deliver(config, event_id, body, stop)
            status = "closed" if kind == CLOSED else "withdrawn"
            finished = [(status, opened_id) for opened_id in opened]
    else:
        outcome = "not for the notifier"
    with db:  # the delivery is remembered before the Kafka offset moves past it
        if opened_row is not None and opened_row[0] == "posted":
            db.execute(
                "INSERT OR IGNORE INTO opened VALUES (?, ?, ?, ?, 'open', ?)",
                (event_id, kind, lead_id, opened_row[1], _now()),
            )
        db.executemany("UPDATE opened SET status = ? WHERE event_id = ?", finished)
        db.execute("INSERT OR IGNORE INTO handled VALUES (?, ?, ?)", (event_id, outcome, _now()))
    return outcome


def _deliver(config: Config, key: str, body: Mapping[str, Any], stop: list[bool]) -> str:
    try:
        post(config, key, body, stop)
    except Rejected as exc:
        log.error("webhook refused %s for good (%s); recorded as rejected", key, exc)
        return "rejected"
    return "posted"


# --------------------------------------------------------------------------- the loop


def run(config: Config) -> int:
    from kafka import KafkaConsumer

    db = sqlite3.connect(config.db)
    db.executescript(SCHEMA)
    db.commit()
    stop = [False]

    def on_signal(signum: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    topics = [config.prefix + "sla.tasks", config.prefix + "sla.alerts"]
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=config.bootstrap_servers,
        group_id=config.group_id,
        group_instance_id=config.instance_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_records=100,
        client_id="lead-sla-notifier",
        **config.security,
    )
    log.info("reading %s as group %s; posting to %s", topics, config.group_id, config.webhook)
    try:
        while not stop[0]:
            batches = consumer.poll(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.value is None:
                        continue  # a tombstone: nothing to deliver
                    try:
                        event = json.loads(record.value)
                        if not isinstance(event, dict) or not event.get("event_id"):
                            raise ValueError("no event_id")
                    except ValueError:
                        log.error("%s:%d:%d is not an output event; skipped", *_where(record))
                        continue
                    outcome = handle(db, config, event, stop)
                    log.info(
                        "%s %s %s: %s",
                        event.get("type"),
                        event.get("lead_id"),
                        event["event_id"],
                        outcome,
                    )
            if batches:
                consumer.commit()  # only now: every record above is delivered and recorded
    except KeyboardInterrupt:
        log.info("stopping before the batch was delivered: its offsets stay uncommitted")
    finally:
        consumer.close(autocommit=False)
        db.close()
    return 0


def _where(record: Any) -> tuple[str, int, int]:
    return str(record.topic), int(record.partition), int(record.offset)


def _security(environ: Mapping[str, str]) -> dict[str, Any]:
    protocol = environ.get("LEADSLA_SECURITY_PROTOCOL") or "PLAINTEXT"
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        options["sasl_mechanism"] = environ.get("LEADSLA_SASL_MECHANISM") or "PLAIN"
        options["sasl_plain_username"] = environ.get("LEADSLA_SASL_USERNAME")
        options["sasl_plain_password"] = environ.get("LEADSLA_SASL_PASSWORD")
    if environ.get("LEADSLA_SSL_CAFILE"):
        options["ssl_cafile"] = environ["LEADSLA_SSL_CAFILE"]
    return options


def parse_config(argv: list[str] | None, environ: Mapping[str, str]) -> Config:
    parser = argparse.ArgumentParser(
        prog="notifier", description="lead-sla tasks and alerts to a webhook, at least once."
    )
    parser.add_argument(
        "--bootstrap-servers",
        default=environ.get("LEADSLA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka brokers, comma separated (LEADSLA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument(
        "--prefix", default=environ.get("LEADSLA_TOPIC_PREFIX", ""), help="topic prefix"
    )
    parser.add_argument(
        "--webhook", default=environ.get("NOTIFIER_WEBHOOK_URL"), help="URL to POST to"
    )
    parser.add_argument(
        "--db",
        default=environ.get("NOTIFIER_DB", "notifier.sqlite"),
        help="SQLite file of what was delivered",
    )
    parser.add_argument("--group-id", default=environ.get("NOTIFIER_GROUP_ID", "lead-sla-notifier"))
    parser.add_argument(
        "--instance-id",
        default=environ.get("NOTIFIER_INSTANCE_ID") or None,
        help="static group membership: a restart under the same id takes its partitions back "
        "at once instead of after the session timeout",
    )
    parser.add_argument("--log-level", default=environ.get("NOTIFIER_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    if not args.webhook:
        parser.error("no webhook: pass --webhook URL or set NOTIFIER_WEBHOOK_URL")
    logging.basicConfig(
        level=str(args.log_level).upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)  # kafka-python's INFO is chatty
    servers = [
        part.strip().removeprefix("kafka://")
        for part in str(args.bootstrap_servers).replace(";", ",").split(",")
        if part.strip()
    ]
    return Config(
        bootstrap_servers=servers,
        prefix=args.prefix,
        webhook=args.webhook,
        db=args.db,
        group_id=args.group_id,
        instance_id=args.instance_id,
        security=_security(environ),
    )


def main(argv: list[str] | None = None) -> int:
    return run(parse_config(argv, os.environ))


if __name__ == "__main__":
    sys.exit(main())
