"""``lead-sla topics create``: create every topic the worker reads and writes.

All topics get the same partition count (the input topics must be co-partitioned by lead,
SPEC.md section 2); ``sla.facts`` is compacted. A topic that already exists is left alone, but an
input topic whose partition count differs is reported as an error, since it breaks
co-partitioning.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from leadsla.settings import Settings, SettingsError, client_config, settings_for_command
from leadsla.topics import ALL_TOPICS, INPUT_TOPICS, TOPIC_CONFIGS

log = logging.getLogger("leadsla.worker")

TOPIC_ALREADY_EXISTS = 36  # Kafka error code


def create_topics(
    settings: Settings,
    partitions: int | None = None,
    replication_factor: int | None = None,
    timeout_s: float = 30.0,
) -> dict[str, str]:
    """Create the worker's topics; returns ``{topic: "created" | "exists" | "error: ..."}``."""
    from kafka import KafkaAdminClient  # kafka-python: imported only by the commands that use it

    partitions = partitions or settings.partitions
    replication_factor = replication_factor or settings.replication_factor
    names = {settings.topic(suffix): suffix for suffix in ALL_TOPICS}
    admin = KafkaAdminClient(client_id=f"{settings.app_id}-admin", **client_config(settings))
    try:
        response = admin.create_topics(
            {
                name: {
                    "num_partitions": partitions,
                    "replication_factor": replication_factor,
                    "configs": dict(TOPIC_CONFIGS.get(suffix, {})),
                }
                for name, suffix in names.items()
            },
            timeout_ms=int(timeout_s * 1000),
            raise_errors=False,
        )
        result: dict[str, str] = {}
        for topic in response["topics"]:
            code = topic.get("error_code", 0)
            if code == 0:
                result[topic["name"]] = "created"
            elif code == TOPIC_ALREADY_EXISTS:
                result[topic["name"]] = "exists"
            else:
                message = topic.get("error_message") or f"error code {code}"
                result[topic["name"]] = f"error: {message}"
        created = [name for name, status in result.items() if status == "created"]
        if created:
            admin.wait_for_topics(created, timeout_ms=int(timeout_s * 1000))
        existing = [name for name, status in result.items() if status == "exists"]
        if existing:
            for info in admin.describe_topics(existing):
                name = info.get("name")
                count = len(info.get("partitions") or [])
                if names.get(name) in INPUT_TOPICS and count != partitions:
                    result[name] = (
                        f"error: exists with {count} partitions, not {partitions} "
                        "(input topics must be co-partitioned)"
                    )
        return result
    finally:
        admin.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    create = sub.add_parser(
        "create",
        help="create every input and output topic",
        description="Create every input and output topic (names prefixed by "
        "LEADSLA_TOPIC_PREFIX, broker from LEADSLA_BOOTSTRAP_SERVERS).",
    )
    create.add_argument(
        "--partitions", type=int, default=None, help="partitions (default: LEADSLA_PARTITIONS)"
    )
    create.add_argument(
        "--replication-factor",
        type=int,
        default=None,
        help="replication factor (default: LEADSLA_REPLICATION_FACTOR)",
    )
    create.add_argument("--bootstrap-servers", default=None, help="overrides the environment")
    create.add_argument("--prefix", default=None, help="topic prefix; overrides the environment")


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_for_command(args.bootstrap_servers, args.prefix)
    except SettingsError as exc:
        print(f"lead-sla topics: {exc}", file=sys.stderr)
        return 2
    from leadsla.kafka_login import LoginFailed, check_login

    try:
        check_login(settings)
        result = create_topics(settings, args.partitions, args.replication_factor)
    except LoginFailed as exc:
        print(f"lead-sla topics: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a broker that does not answer: say so, no traceback
        print(
            f"lead-sla topics: cannot create topics at {settings.bootstrap_servers}: {exc!r}",
            file=sys.stderr,
        )
        return 1
    for name, status in result.items():
        print(f"{name}\t{status}")
    return 1 if any(status.startswith("error") for status in result.values()) else 0


class TopicProblem(RuntimeError):
    """The cluster's topics contradict what the worker needs; the message says what to fix."""


def ensure_topics(
    settings: Settings, internal: dict[str, dict[str, str]], timeout_s: float = 30.0
) -> int:
    """Check and create every topic the worker uses; return the partition count to use.

    The input topics must be co-partitioned (equal partition counts). Missing topics are
    created with their configuration; an existing output topic that contradicts it (another
    partition count, ``sla.facts`` not compacted) refuses the start. ``internal`` names the
    worker's own topics (changelog, ticks, policies) with their configuration; they are created
    with the input topics' partition count, except those whose config says otherwise.
    """
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(client_id=f"{settings.app_id}-admin", **client_config(settings))
    try:
        existing = set(admin.list_topics())
        names = {settings.topic(suffix): suffix for suffix in ALL_TOPICS}
        counts: dict[str, int] = {}
        present = [name for name in (*names, *internal) if name in existing]
        if present:
            for info in admin.describe_topics(present):
                counts[info["name"]] = len(info.get("partitions") or [])
        inputs = {
            settings.topic(s): counts[settings.topic(s)]
            for s in INPUT_TOPICS
            if settings.topic(s) in counts
        }
        if len(set(inputs.values())) > 1:
            listed = ", ".join(f"{name}: {count}" for name, count in sorted(inputs.items()))
            raise TopicProblem(
                "input topics are not co-partitioned (their partition counts differ: "
                f"{listed}); every input topic must have the same number of partitions"
            )
        partitions = next(iter(inputs.values()), settings.partitions)
        wanted: dict[str, tuple[int, dict[str, str]]] = {}
        for name, suffix in names.items():
            wanted[name] = (partitions, dict(TOPIC_CONFIGS.get(suffix, {})))
        for name, config in internal.items():
            config = dict(config)
            count = int(config.pop("partitions", partitions))
            wanted[name] = (count, config)
        problems = [
            f"{name} has {counts[name]} partitions, the worker needs {count} "
            "(the same as the input topics)"
            for name, (count, _config) in wanted.items()
            if name in counts and counts[name] != count and names.get(name) != "sla.dlq"
        ]
        compacted = [
            name
            for name, (_c, config) in wanted.items()
            if config.get("cleanup.policy") == "compact" and name in existing
        ]
        if compacted:
            resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in compacted]
            described = admin.describe_configs(resources)
            for topic_name, entries in (described.get("topic") or {}).items():
                policy = (entries.get("cleanup.policy") or {}).get("value", "delete")
                if "compact" not in str(policy):
                    problems.append(
                        f"{topic_name} exists with cleanup.policy={policy}, it must be compacted "
                        "(the latest fact per lead); delete it or alter its cleanup.policy"
                    )
        if problems:
            raise TopicProblem("; ".join(problems))
        missing = {name: spec for name, spec in wanted.items() if name not in existing}
        if missing:
            response = admin.create_topics(
                {
                    name: {
                        "num_partitions": count,
                        "replication_factor": settings.replication_factor,
                        "configs": config,
                    }
                    for name, (count, config) in missing.items()
                },
                timeout_ms=int(timeout_s * 1000),
                raise_errors=False,
            )
            failed = [
                f"{topic['name']}: {topic.get('error_message') or topic.get('error_code')}"
                for topic in response["topics"]
                if topic.get("error_code", 0) not in (0, TOPIC_ALREADY_EXISTS)
            ]
            if failed:
                raise TopicProblem("cannot create topics: " + "; ".join(failed))
            admin.wait_for_topics(list(missing), timeout_ms=int(timeout_s * 1000))
        return partitions
    finally:
        admin.close()


def ensure_group_offsets(settings: Settings, topics: Sequence[str], partitions: int) -> int:
    """Give every partition of ``topics`` a committed offset for the worker's group, where it
    has none yet (the earliest or the latest, as ``auto_offset_reset`` says); return how many.

    faust drops the records fetched while a rebalance is under way and seeks each partition
    back to its committed offset; a partition with no committed offset is not sought at all,
    so those records were lost (seen when a second worker joined a new group: the first one's
    partitions lost their first records). With an offset committed before the worker joins,
    every seek has somewhere to go. Only an empty group accepts such a commit: when other
    workers are already running, a partition they have not committed yet is left to them.
    """
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import OffsetSpec

    group = settings.app_id
    wanted = [TopicPartition(t, p) for t in topics for p in range(partitions)]
    admin = KafkaAdminClient(client_id=f"{settings.app_id}-admin", **client_config(settings))
    try:
        committed = admin.list_group_offsets({group: wanted}).get(group, {})
        missing = [tp for tp in wanted if tp not in committed or committed[tp].offset < 0]
        if not missing:
            return 0
        spec = (
            OffsetSpec.EARLIEST if settings.auto_offset_reset == "earliest" else OffsetSpec.LATEST
        )
        results = admin.reset_group_offsets(group, dict.fromkeys(missing, spec))
        done = [tp for tp, result in results.items() if result["error"].__name__ == "NoError"]
        if len(done) < len(missing):
            log.info(
                "lead-sla worker: %d partitions without a committed offset left to the running "
                "members of group %s",
                len(missing) - len(done),
                group,
            )
        return len(done)
    finally:
        admin.close()
