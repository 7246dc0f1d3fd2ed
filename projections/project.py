"""``lead-sla project``: keep the SQL read models up to date from output events.

Two sources, one translation (:class:`Projector`):

- ``--input FILE``: a JSON-lines file of output events (what ``lead-sla replay --out`` writes;
  dead-letter records are accepted too). The position is the file's fingerprint (SHA-256 of its
  first 64 KiB) with the number of lines and bytes applied; a restart on the same file continues
  after the last committed line, another file starts from its first line.
- the output topics (default): ``sla.measurements``, ``sla.alerts``, ``sla.tasks`` and
  ``sla.dlq`` (with the worker's topic prefix), read with kafka-python in the consumer group
  ``{app_id}-projector``. Nothing is committed to Kafka: the next offset of every partition is
  stored in the database, in the same transaction as the rows it produced, and the consumer seeks
  there when a partition is assigned. ``--until-caught-up`` exits once every partition reached
  the end it had when the projector started; otherwise it runs until SIGINT/SIGTERM.

Either way a kill at any point loses at most the transaction in flight, which is applied again
on restart; every write is an idempotent upsert, so nothing is ever counted twice. ``--rebuild``
drops the read models and starts from the beginning.

Days (``lead_facts.created_day``, the compliance-by-day view) are calendar days in the policy's
time zone: ``--policy FILE`` (its ``timezone``) or ``--timezone ZONE`` (default UTC). The zone
is remembered in the database; another zone needs ``--rebuild``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType
from typing import Any, Final, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from leadsla.arguments import positive_int, readable

from .health import Health
from .store import DEFAULT_DB, Batch, Store, StoreError, mask_url

FILE_STREAM_PREFIX: Final = "file:"
KAFKA_STREAM_PREFIX: Final = "kafka:"
FINGERPRINT_BYTES: Final = 65536
BATCH_LINES: Final = 5000
PROGRESS_EVERY: Final = 20_000  # lines between two redraws of the progress bar (a terminal)

TIMER_TYPES: Final = frozenset({"sla.timer_started", "sla.timer_updated"})
ALERT_TYPES: Final = frozenset(
    {
        "sla.pre_breach_warning",
        "sla.breached",
        "sla.stale_lead",
        "sla.ownership_gap",
        "sla.excluded",
    }
)
TASK_TYPES: Final = frozenset({"sla.escalation_task", "sla.review_requested"})


class ProjectionError(ValueError):
    """An output event the projector cannot read (the message says which field)."""


def _iso_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Counts:
    read: int = 0
    applied: int = 0
    skipped: int = 0
    batches: int = 0


class Projector:
    """Turns output events (decoded JSON) into rows of a :class:`Batch` for one :class:`Store`."""

    def __init__(self, store: Store, zone: tzinfo) -> None:
        self.store = store
        self.zone = zone
        self._ts = store.ts
        self._flag = store.flag
        self._json: Callable[[Any], Any] = (
            (lambda d: orjson.dumps(d).decode()) if store.dialect == "sqlite" else _jsonb_dumper()
        )
        self._day_cache: dict[str, str] = {}

    def local_day(self, created_at: str) -> str:
        """The calendar day of an output timestamp in the policy's zone (``YYYY-MM-DD``)."""
        # Leads created in the same hour share their day (zones shift by whole quarter hours,
        # and a day boundary falls on a whole hour); cache per UTC minute.
        key = created_at[:16]
        day = self._day_cache.get(key)
        if day is None:
            moment = datetime.fromisoformat(key + ":00+00:00")
            day = moment.astimezone(self.zone).date().isoformat()
            if len(self._day_cache) > 100_000:
                self._day_cache.clear()
            self._day_cache[key] = day
        return day

    def add(self, batch: Batch, event: dict[str, Any]) -> None:
        """Add one output event (or dead-letter record) to ``batch``."""
        try:
            type_ = event.get("type")
            if type_ is None and "original_base64" in event:
                self._dead_letter(batch, event)
                return
            data = event["data"]
            lead_id = event["lead_id"]
            event_id = event["event_id"]
            at = event["occurred_at"]
            ts, flag = self._ts, self._flag
            if type_ == "sla.measured":
                version = data["version"]
                stored = batch.facts.get(lead_id)
                if stored is not None and (stored[1], stored[2]) >= (version, event_id):
                    return
                batch.facts[lead_id] = (
                    lead_id,
                    version,
                    event_id,
                    ts(at),
                    data["source"],
                    data["priority"],
                    data["intent"],
                    data["owner_id"],
                    data["manager_id"],
                    ts(data["created_at"]),
                    self.local_day(data["created_at"]),
                    ts(data["due_at"]),
                    data["status"],
                    flag(data["eligible"]),
                    ts(data["responded_at"]),
                    data["response_seconds"],
                    flag(data["within_sla"]),
                    data["breach_reason"],
                    data["resolution_note"],
                    data["resolved_by"],
                    flag(data["pre_breach_warned"]),
                    flag(data["escalated"]),
                    data["escalation_level"],
                    flag(data["meeting_after_escalation"]),
                    flag(data["stale"]),
                    flag(data["in_review"]),
                    data["policy_version"],
                )
            elif type_ in TIMER_TYPES:
                at_ts = ts(at)
                stored = batch.timers.get(lead_id)
                if stored is not None and (stored[2], stored[1]) >= (at_ts, event_id):
                    return
                batch.timers[lead_id] = (
                    lead_id,
                    event_id,
                    at_ts,
                    data["owner_id"],
                    data["backup_owner_id"],
                    data["manager_id"],
                    ts(data["due_at"]),
                    ts(data["warn_at"]),
                    float(data["target_minutes"]),
                    data["clock"],
                )
            elif type_ in ALERT_TYPES:
                reason = (
                    data.get("reason")
                    or data.get("breach_reason")
                    or data.get("missing")
                    or ("stale" if type_ == "sla.stale_lead" else None)
                )
                batch.alerts.append(
                    (
                        event_id,
                        lead_id,
                        type_,
                        ts(at),
                        data.get("recipient_id"),
                        data.get("owner_id"),
                        reason,
                        ts(data.get("due_at")),
                        data.get("source"),
                        data.get("priority"),
                        flag(bool(data.get("suppressed", False))),
                        self._json(data),
                    )
                )
            elif type_ in TASK_TYPES:
                escalation = type_ == "sla.escalation_task"
                batch.tasks.append(
                    (
                        event_id,
                        data["task_id"],
                        lead_id,
                        type_,
                        ts(at),
                        data["assignee_id"] if escalation else data["recipient_id"],
                        data["assignee_role"] if escalation else "manager",
                        data["level"] if escalation else None,
                        data["breach_reason"] if escalation else data["reason"],
                        flag(data["apology_review_required"]),
                        flag(bool(data.get("suppressed", False))),
                        self._json(data),
                    )
                )
            elif type_ == "sla.task_closed":
                batch.closings.append(
                    (
                        event_id,
                        data["task_id"],
                        lead_id,
                        ts(at),
                        data["reason"],
                        flag(bool(data.get("suppressed", False))),
                    )
                )
            elif type_ == "sla.alert_retracted":
                batch.retractions.append(
                    (
                        event_id,
                        data["retracted_event_id"],
                        data.get("retracted_type"),
                        lead_id,
                        ts(at),
                        data["reason"],
                    )
                )
            elif type_ == "sla.response_recorded":
                batch.responses.append(
                    (
                        event_id,
                        lead_id,
                        ts(at),
                        data["responder_id"],
                        data["kind"],
                        float(data["response_seconds"]),
                        data["business_seconds"],
                        flag(data["within_sla"]),
                    )
                )
            else:
                raise ProjectionError(f"unknown output type {type_!r}")
        except (KeyError, TypeError, AttributeError) as exc:
            raise ProjectionError(f"not an output event this projector reads: {exc!r}") from None

    def _dead_letter(self, batch: Batch, record: dict[str, Any]) -> None:
        batch.dead_letters.append(
            (
                record["topic"],
                int(record["partition"]),
                int(record["offset"]),
                record.get("lead_id"),
                record.get("event_id"),
                str(record["reason"]),
                self._ts(record["received_at"]),
            )
        )


def _jsonb_dumper() -> Callable[[Any], Any]:
    from psycopg.types.json import Jsonb

    def dump(data: Any) -> Any:
        return Jsonb(data, dumps=lambda obj: orjson.dumps(obj).decode())

    return dump


# --------------------------------------------------------------------------- the file source


def fingerprint(path: Path) -> str:
    """SHA-256 (first 16 hex digits) of the file's first 64 KiB: which file this is."""
    with path.open("rb") as stream:
        head = stream.read(FINGERPRINT_BYTES)
    return hashlib.sha256(head).hexdigest()[:16]


def project_file(
    store: Store,
    projector: Projector,
    path: Path,
    *,
    batch_lines: int = BATCH_LINES,
    log: Callable[[str], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    progress: TextIO | None = None,
) -> Counts:
    """Apply the file's lines after the last committed one, ``batch_lines`` per transaction.

    With ``progress`` (standard error on a terminal) a progress bar is drawn as lines are read.
    """
    total_bytes = path.stat().st_size
    stream_name = FILE_STREAM_PREFIX + fingerprint(path)
    stored = store.positions(stream_name).get((stream_name, 0))
    start_line, start_byte = (stored[0], stored[1] or 0) if stored else (0, 0)
    counts = Counts()
    with path.open("rb") as source:
        if start_byte:
            # The same head but not the file we stopped in (shorter, or the position is not at
            # a line start): read it from the top. Every write is idempotent, so that is safe.
            source.seek(start_byte - 1)
            if source.read(1) != b"\n":
                if log is not None:
                    log(f"{path}: changed since the last run; reading it from the first line")
                start_line, start_byte = 0, 0
            source.seek(0)
        if start_byte:
            source.seek(start_byte)
        line_no = start_line
        byte_offset = start_byte
        batch = Batch()
        for raw in source:
            line_no += 1
            byte_offset += len(raw)
            counts.read += 1
            if raw.strip():
                try:
                    event = orjson.loads(raw)
                    if type(event) is not dict:
                        raise ProjectionError("not a JSON object")
                    projector.add(batch, event)
                    batch.events += 1
                except (orjson.JSONDecodeError, ProjectionError) as exc:
                    counts.skipped += 1
                    if log is not None and counts.skipped <= 20:
                        log(f"{path}:{line_no}: skipped: {exc}")
            if (line_no % batch_lines) == 0:
                batch.positions[(stream_name, 0)] = (line_no, byte_offset)
                store.apply(batch, _iso_now())
                counts.applied += batch.events
                counts.batches += 1
                batch = Batch()
                if should_stop():
                    return counts
            if progress is not None and counts.read % PROGRESS_EVERY == 0:
                progress.write(progress_bar(byte_offset, total_bytes, line_no))
                progress.flush()
        if progress is not None and counts.read >= PROGRESS_EVERY:
            progress.write(progress_bar(total_bytes, total_bytes, line_no) + "\n")
        batch.positions[(stream_name, 0)] = (line_no, byte_offset)
        store.apply(batch, _iso_now())
        counts.applied += batch.events
        counts.batches += 1
    return counts


def progress_bar(done: int, total: int, lines: int, width: int = 30) -> str:
    """``project [#######.......]  45%  123,456 lines`` (by bytes read), redrawn in place."""
    fraction = min(done / total, 1.0) if total > 0 else 1.0
    filled = round(fraction * width)
    return f"\rproject [{'#' * filled}{'.' * (width - filled)}] {fraction:4.0%}  {lines:,} lines"


# --------------------------------------------------------------------------- the Kafka source


def output_topics(prefix: str) -> list[str]:
    from leadsla.topics import SLA_ALERTS, SLA_DLQ, SLA_MEASUREMENTS, SLA_TASKS

    return [prefix + t for t in (SLA_MEASUREMENTS, SLA_ALERTS, SLA_TASKS, SLA_DLQ)]


def project_topics(
    store: Store,
    projector: Projector,
    settings: Any,
    *,
    until_caught_up: bool,
    group_id: str | None = None,
    log: Callable[[str], None] = lambda message: None,
    should_stop: Callable[[], bool] = lambda: False,
    idle_timeout_s: float | None = None,
    assign_timeout_s: float = 60.0,
    health: Health | None = None,
    progress: TextIO | None = None,
) -> Counts:
    """Consume the output topics into ``store``; offsets live in the database, not in Kafka.

    ``health`` (the ``--health-port`` endpoints) is kept up to date: a beat per turn of the
    loop, and ready once every assigned partition reached the end it had when assigned.
    With ``progress`` (standard error on a terminal) a running count is redrawn every second.
    """
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    from leadsla.settings import client_config

    topics = output_topics(settings.topic_prefix)
    group = group_id or f"{settings.app_id}-projector"
    consumer = KafkaConsumer(
        **client_config(settings),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval_s * 1000),
        max_poll_records=5000,
    )
    counts = Counts()
    targets: dict[Any, int] = {}
    caught_up: set[Any] = set()  # partitions that reached their target once
    drawn_at: float | None = None

    def draw(end: str = "") -> None:
        assert progress is not None
        progress.write(
            f"\rproject  {counts.applied:,} records applied, {counts.skipped:,} skipped{end}"
        )
        progress.flush()

    # The positions this projector has committed: read once, then kept up to date in memory,
    # because kafka-python may call the rebalance listener from its own thread.
    known = store.positions(KAFKA_STREAM_PREFIX)

    class Seek(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_revoked(self, revoked: Any) -> None:
            pass

        def on_partitions_assigned(self, assigned: Any) -> None:
            for tp in assigned:
                position = known.get((KAFKA_STREAM_PREFIX + tp.topic, tp.partition))
                if position is None:
                    consumer.seek_to_beginning(tp)
                else:
                    consumer.seek(tp, position[0])

    try:
        consumer.subscribe(topics, listener=Seek())
        started = last_data = time.monotonic()
        while not should_stop():
            polled = consumer.poll(timeout_ms=500)
            batch = Batch()
            for tp, messages in polled.items():
                for message in messages:
                    counts.read += 1
                    try:
                        event = orjson.loads(message.value)
                        if type(event) is not dict:
                            raise ProjectionError("not a JSON object")
                        projector.add(batch, event)
                        batch.events += 1
                    except (orjson.JSONDecodeError, ProjectionError) as exc:
                        counts.skipped += 1
                        if counts.skipped <= 20:
                            log(f"{tp.topic}[{tp.partition}]@{message.offset}: skipped: {exc}")
                if messages:
                    batch.positions[(KAFKA_STREAM_PREFIX + tp.topic, tp.partition)] = (
                        messages[-1].offset + 1,
                        None,
                    )
            if batch.positions:
                store.apply(batch, _iso_now())
                known.update(batch.positions)
                counts.applied += batch.events
                counts.batches += 1
                last_data = time.monotonic()
                if progress is not None and (drawn_at is None or last_data - drawn_at >= 1.0):
                    draw()
                    drawn_at = last_data
            if health is not None:
                health.beat = time.monotonic()
            if until_caught_up or health is not None:
                assignment = consumer.assignment()
                if (
                    until_caught_up
                    and not assignment
                    and time.monotonic() - started > assign_timeout_s
                ):
                    raise ProjectionError(
                        f"no partition of {', '.join(topics)} assigned after "
                        f"{assign_timeout_s:.0f}s: do the topics exist?"
                    )
                missing = [tp for tp in assignment if tp not in targets]
                if missing:
                    # The end of each partition when it was first assigned: what "caught up" means.
                    targets.update(consumer.end_offsets(missing))
                caught_up.update(
                    tp
                    for tp in assignment
                    if tp not in caught_up and consumer.position(tp) >= targets[tp]
                )
                done = bool(assignment) and assignment <= caught_up
                if health is not None:
                    health.ready = done
                if until_caught_up and done:
                    break
            if idle_timeout_s is not None and time.monotonic() - last_data > idle_timeout_s:
                log(f"no records for {idle_timeout_s:.0f}s: stopping")
                break
    finally:
        consumer.close(autocommit=False)
        if progress is not None and drawn_at is not None:
            draw("\n")
    return counts


# --------------------------------------------------------------------------- the command


def resolve_zone(args: argparse.Namespace) -> str:
    if args.policy:
        from leadsla.policy_file import load_policy

        return str(load_policy(args.policy).timezone)
    return str(args.timezone or "UTC")


def prepare(store: Store, zone_name: str, *, rebuild: bool) -> tzinfo:
    """Create or migrate the schema; check the stored time zone (set it on a fresh database)."""
    store.ensure_schema(rebuild=rebuild)
    stored = store.meta("timezone")
    if stored is None:
        store.set_meta("timezone", zone_name)
    elif stored != zone_name:
        raise StoreError(
            f"the read models in {store.masked_url} bucket days in {stored}, not {zone_name}: "
            "run with --rebuild to re-project in the new time zone"
        )
    return ZoneInfo(zone_name)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=DEFAULT_DB,
        metavar="URL",
        help=f"sqlite:///path or postgresql://user@host:port/db (default {DEFAULT_DB})",
    )
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="a JSON-lines file of output events (lead-sla replay --out) instead of the topics "
        "('-': standard input)",
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="drop the read models and start over"
    )
    parser.add_argument(
        "--until-caught-up",
        action="store_true",
        help="topics: exit once every partition reached its end at start-up",
    )
    zone = parser.add_mutually_exclusive_group()
    zone.add_argument(
        "--policy", metavar="P.toml", help="take the time zone of daily buckets from this policy"
    )
    zone.add_argument("--timezone", metavar="ZONE", help="IANA zone of daily buckets (UTC)")
    parser.add_argument(
        "--group-id", metavar="ID", help="consumer group (default {app_id}-projector)"
    )
    parser.add_argument(
        "--health-port",
        type=_port,
        metavar="PORT",
        help="topics: serve /healthz (the loop turns) and /readyz (caught up with the topics) "
        "on LEADSLA_WEB_HOST:PORT, for a container's health checks (default: off)",
    )
    parser.add_argument(
        "--batch-lines",
        type=positive_int,
        default=BATCH_LINES,
        metavar="N",
        help=f"file: lines per transaction (default {BATCH_LINES})",
    )


def _port(text: str) -> int:
    port = positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {port}")
    return port


def run(args: argparse.Namespace) -> int:
    def log(message: str) -> None:
        sys.stderr.write(f"lead-sla project: {message}\n")
        sys.stderr.flush()

    stop = {"requested": False}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop["requested"] = True

    if args.health_port is not None and args.input:
        log("--health-port is for the topics; with --input the command ends by itself")
        return 2
    try:
        zone_name = resolve_zone(args)
        ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        log(f"bad time zone or policy: {exc}")
        return 2
    started = time.monotonic()
    try:
        with contextlib.ExitStack() as stack, Store(args.db) as store:
            zone = prepare(store, zone_name, rebuild=args.rebuild)
            projector = Projector(store, zone)
            previous = [
                signal.signal(signal.SIGTERM, request_stop),
                signal.signal(signal.SIGINT, request_stop),
            ]
            try:
                if args.input:
                    if args.input != "-" and not Path(args.input).is_file():
                        log(f"no such file: {args.input}")
                        return 2
                    with readable(args.input) as name:
                        path = Path(name)
                        counts = project_file(
                            store,
                            projector,
                            path,
                            batch_lines=args.batch_lines,
                            log=log,
                            should_stop=lambda: stop["requested"],
                            progress=sys.stderr if sys.stderr.isatty() else None,
                        )
                    source = "standard input" if args.input == "-" else args.input
                    if counts.skipped and not counts.applied:
                        log(
                            f"no output event in {source}: {counts.skipped} of {counts.read} "
                            "lines skipped (project reads what lead-sla replay --out writes; "
                            "input events go to lead-sla replay)"
                        )
                        return 2
                else:
                    from leadsla.settings import Settings, SettingsError

                    try:
                        settings = Settings.from_env()
                    except SettingsError as exc:
                        log(str(exc))
                        return 2
                    from kafka.errors import KafkaError

                    health = None
                    if args.health_port is not None:
                        from .health import serve_health

                        health = Health()
                        try:
                            server = serve_health(settings.web_host, args.health_port, health)
                        except OSError as exc:
                            log(
                                f"cannot serve --health-port on {settings.web_host}:"
                                f"{args.health_port}: {exc.strerror or exc}"
                            )
                            return 2
                        stack.callback(server.shutdown)
                    try:
                        counts = project_topics(
                            store,
                            projector,
                            settings,
                            until_caught_up=args.until_caught_up,
                            group_id=args.group_id,
                            log=log,
                            should_stop=lambda: stop["requested"],
                            health=health,
                            progress=sys.stderr if sys.stderr.isatty() else None,
                        )
                    except KafkaError as exc:  # the broker's failure, not the database's
                        log(f"cannot read from Kafka at {settings.bootstrap_servers}: {exc}")
                        return 1
                    source = ", ".join(output_topics(settings.topic_prefix))
            finally:
                signal.signal(signal.SIGTERM, previous[0])
                signal.signal(signal.SIGINT, previous[1])
    except (StoreError, ProjectionError) as exc:
        log(str(exc))
        return 2
    except Exception as exc:  # a database or broker failure: say which database, never a secret
        log(f"failed on {mask_url(args.db)}: {type(exc).__name__}: {_safe(str(exc), args.db)}")
        return 1
    elapsed = time.monotonic() - started
    log(
        f"{counts.applied} events applied from {source} into {mask_url(args.db)} "
        f"({counts.skipped} skipped, {counts.batches} transactions, {elapsed:.1f}s)"
    )
    return 0


def _safe(text: str, url: str) -> str:
    from .store import _scrub

    return _scrub(text, url)


def iter_events(path: Path) -> Iterable[dict[str, Any]]:
    """Every decodable JSON object of a JSON-lines file (tests and tools)."""
    with path.open("rb") as stream:
        for raw in stream:
            if raw.strip():
                obj = orjson.loads(raw)
                if type(obj) is dict:
                    yield obj
