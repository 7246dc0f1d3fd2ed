"""``lead-sla erase LEAD_ID ...``: erasure on request (a data subject asked to be forgotten).

For each lead the command sends one control record to the worker's internal ticks topic
(``{prefix}{app_id}-ticks``): key = the lead id (UTF-8), value ``b"erase"``. kafka-python's
default partitioner (murmur2 of the key, as Kafka's Java clients) puts it on the partition of
that lead's inputs, since the ticks topic has the input topics' partition count (the command
checks it). The worker that owns the partition then deletes the lead's state (a tombstone in its
changelog) and publishes a tombstone (key = lead id, null value) for the lead's fact on the
compacted ``sla.facts`` topic, so compaction drops every earlier fact; a later input for that
lead starts from nothing.

With ``--db URL`` it then deletes the leads' rows from every read-model table that has a
``lead_id`` (facts, timers, alerts, tasks, closings, retractions, responses, dead letters), in
one transaction (:func:`erase_read_models`).

What this command does not erase: the input topics and the non-compacted output topics
(``sla.alerts``, ``sla.tasks``, ``sla.measurements``, ``sla.dlq``) keep their records until
their retention ends, so a read model rebuilt from them (``lead-sla project --rebuild``) within
that time brings the lead's rows back: erase again after a rebuild. Exit codes: 0 done, 2 bad
settings or arguments, refused login, no worker topic with that name or no read models at
``--db``, 1 the broker could not be reached or did not acknowledge within ``--timeout``, or the
database failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadsla.settings import Settings, SettingsError, client_config
from leadsla.topics import INPUT_TOPICS

ERASE = b"erase"
"""The control record's value; the worker's ``streams.app.ERASE``."""

DEFAULT_TIMEOUT_S = 30.0

ENVIRONMENT_HELP = """\
environment:
  LEADSLA_BOOTSTRAP_SERVERS  brokers, comma separated (default kafka://127.0.0.1:9092)
  LEADSLA_TOPIC_PREFIX       prepended to every topic name (default: none)
  LEADSLA_APP_ID             the worker's app id: the record goes to PREFIX+APP_ID-ticks
                             (default lead-sla)
  LEADSLA_SECURITY_PROTOCOL, LEADSLA_SASL_MECHANISM, LEADSLA_SASL_USERNAME,
  LEADSLA_SASL_PASSWORD, LEADSLA_SSL_CAFILE   the broker's security settings
--bootstrap-servers, --prefix and --app-id override the first three."""


class EraseError(Exception):
    """A problem to report in one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def ticks_topic(settings: Settings) -> str:
    """The worker's internal ticks topic (``streams.app.ticks_topic_name``)."""
    return f"{settings.topic_prefix}{settings.app_id}-ticks"


def erase(settings: Settings, lead_ids: Sequence[str], timeout_s: float) -> list[int]:
    """Send one erase record per lead; returns the partition each went to."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from leadsla.kafka_login import LoginFailed, check_login

    try:
        check_login(settings, timeout_s)
    except LoginFailed as exc:
        raise EraseError(str(exc), 2) from None
    timeout_ms = max(int(timeout_s * 1000), 1000)
    config = client_config(settings)
    config["request_timeout_ms"] = min(config["request_timeout_ms"], timeout_ms)
    topic = ticks_topic(settings)
    first_input = settings.topic(INPUT_TOPICS[0])
    counts = _partition_counts(settings, config, [topic, first_input], timeout_ms)
    if counts[topic] is None:
        raise EraseError(
            f"no topic {topic}: no worker with app id {settings.app_id!r} and prefix "
            f"{settings.topic_prefix!r} ran on this cluster (set LEADSLA_APP_ID and "
            "LEADSLA_TOPIC_PREFIX as the worker has them)",
            2,
        )
    if counts[first_input] is not None and counts[first_input] != counts[topic]:
        raise EraseError(
            f"{topic} has {counts[topic]} partitions and {first_input} has "
            f"{counts[first_input]}: the erase record would not reach the lead's worker",
            2,
        )
    try:
        producer = KafkaProducer(
            acks="all",
            linger_ms=0,
            max_block_ms=timeout_ms,
            client_id=f"{settings.app_id}-erase",
            **config,
        )
    except KafkaError as exc:
        raise EraseError(
            f"cannot reach the broker at {settings.bootstrap_servers}: {exc}", 1
        ) from None
    try:
        partitions = []
        for lead_id in lead_ids:
            try:
                metadata = producer.send(topic, key=lead_id.encode("utf-8"), value=ERASE).get(
                    timeout=timeout_s
                )
            except KafkaError as exc:
                raise EraseError(f"{lead_id}: not acknowledged by the broker: {exc}", 1) from None
            partitions.append(int(metadata.partition))
        producer.flush(timeout=timeout_s)
        return partitions
    finally:
        producer.close(timeout=5)


def erase_read_models(url: str, lead_ids: Sequence[str]) -> dict[str, int]:
    """Delete the leads' rows from every read-model table with a ``lead_id``, in one
    transaction; returns the rows deleted per table (tables with none left out)."""
    from leadsla.projections.schema import TABLES
    from leadsla.projections.store import Store, StoreError, mask_url, sqlite_path, url_dialect

    try:
        url_dialect(url)
    except StoreError as exc:  # not a database URL at all: a usage mistake
        raise EraseError(str(exc), 2) from None
    if url.startswith("sqlite:"):
        path = sqlite_path(url)
        if path != ":memory:" and not Path(path).is_file():  # Store would create an empty one
            raise EraseError(f"{mask_url(url)}: no such database file", 2)
    try:
        with Store(url) as store:
            existing = store.existing_tables()
            if "lead_facts" not in existing:
                raise EraseError(
                    f"{store.masked_url} holds no read models (lead-sla project creates them)", 2
                )
            tables = [t for t in TABLES if t in existing and "lead_id" in store.columns(t)]
            marks = ", ".join("?" for _ in lead_ids)
            deleted: dict[str, int] = {}
            if not lead_ids:
                return deleted
            with store.transaction() as cur:
                for table in tables:
                    store.execute(cur, f"DELETE FROM {table} WHERE lead_id IN ({marks})", lead_ids)
                    if cur.rowcount:
                        deleted[table] = int(cur.rowcount)
            return deleted
    except StoreError as exc:
        raise EraseError(str(exc), 1) from None
    except EraseError:
        raise
    except Exception as exc:  # the database failed half-way: rolled back, said in one line
        from leadsla.projections.store import _scrub

        raise EraseError(f"read models: {_scrub(str(exc), url).strip()}", 1) from None


def _partition_counts(
    settings: Settings, config: dict[str, Any], names: Sequence[str], timeout_ms: int
) -> dict[str, int | None]:
    """Each topic's partition count, None for a topic the cluster does not have (an admin
    client, so that asking never auto-creates it)."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            client_id=f"{settings.app_id}-erase", **{**config, "bootstrap_timeout_ms": timeout_ms}
        )
    except KafkaError as exc:
        raise EraseError(
            f"cannot reach the broker at {settings.bootstrap_servers}: {exc}", 1
        ) from None
    try:
        existing = set(admin.list_topics())
        counts: dict[str, int | None] = dict.fromkeys(names)
        present = [name for name in names if name in existing]
        if present:
            for info in admin.describe_topics(present):
                counts[info["name"]] = len(info.get("partitions") or [])
        return counts
    except KafkaError as exc:
        raise EraseError(
            f"cannot read the topics at {settings.bootstrap_servers}: {exc}", 1
        ) from None
    finally:
        admin.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Erasure on request: make the worker forget these leads. Sends an erase record per "
        "lead to the worker's ticks topic (PREFIX+APP_ID-ticks); the worker deletes the "
        "lead's state and writes a tombstone for its fact on the compacted sla.facts topic. "
        "The input topics and the other output topics keep their records until their "
        "retention ends."
    )
    parser.epilog = ENVIRONMENT_HELP
    parser.add_argument("lead_ids", nargs="+", metavar="LEAD_ID", help="the leads to erase")
    parser.add_argument(
        "--bootstrap-servers",
        default=None,
        metavar="HOSTS",
        help="Kafka bootstrap servers, host:port,... (LEADSLA_BOOTSTRAP_SERVERS)",
    )
    parser.add_argument("--prefix", default=None, help="topic prefix (LEADSLA_TOPIC_PREFIX)")
    parser.add_argument("--app-id", default=None, help="the worker's app id (LEADSLA_APP_ID)")
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="also delete the leads' rows from these read models (sqlite:///path or "
        "postgresql://...), after the erase records were sent",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up after this long (default {DEFAULT_TIMEOUT_S:g})",
    )


def run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.bootstrap_servers:
        overrides["bootstrap_servers"] = args.bootstrap_servers
    if args.prefix is not None:
        overrides["topic_prefix"] = args.prefix
    if args.app_id:
        overrides["app_id"] = args.app_id
    if not 0 < args.timeout <= 3600:
        print("lead-sla erase: --timeout must be between 0 and 3600 seconds", file=sys.stderr)
        return 2
    if any(not lead_id.strip() for lead_id in args.lead_ids):
        print("lead-sla erase: a LEAD_ID is empty", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(None, **overrides)
    except SettingsError as exc:
        print(f"lead-sla erase: {exc}", file=sys.stderr)
        return 2
    try:
        if args.db:
            erase_read_models(args.db, [])  # usable read models? (deletes nothing)
        partitions = erase(settings, args.lead_ids, args.timeout)
    except EraseError as exc:
        print(f"lead-sla erase: {exc}", file=sys.stderr)
        return exc.code
    topic = ticks_topic(settings)
    for lead_id, partition in zip(args.lead_ids, partitions, strict=True):
        print(f"{lead_id}\terase sent to {topic} partition {partition}")
    if args.db:
        try:
            deleted = erase_read_models(args.db, args.lead_ids)
        except EraseError as exc:
            print(f"lead-sla erase: {exc}", file=sys.stderr)
            return exc.code
        rows = ", ".join(f"{table} {count}" for table, count in deleted.items()) or "none"
        print(f"read models: {sum(deleted.values())} rows deleted ({rows})")
    return 0
