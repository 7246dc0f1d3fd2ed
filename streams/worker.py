"""``lead-sla worker``: run the live SLA worker (faust) until SIGTERM or Ctrl-C.

Configuration comes from the environment (``leadsla/settings.py``); the policy file from
``--policy`` or ``LEADSLA_POLICY``. With ``LEADSLA_METRICS_PORT`` set, Prometheus metrics
(``streams/metrics.py``) are served over HTTP on ``LEADSLA_WEB_HOST`` and that port. Exit codes:
0 after a clean stop, 2 when the settings, the policy or the metrics port are unusable, faust's
own code otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from leadsla.domain.policy import Policy
    from leadsla.settings import Settings

    from .metrics import Metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default=None, help="policy TOML file (default: LEADSLA_POLICY)")
    parser.add_argument(
        "--create-topics",
        action="store_true",
        help="kept for compatibility: the worker always checks its topics and creates the "
        "missing ones at start",
    )
    parser.add_argument(
        "--loglevel", default=None, help="log level (default: LEADSLA_LOG_LEVEL or info)"
    )


def serve_metrics(settings: Settings, metrics: Metrics) -> WSGIServer | None:
    """Serve ``metrics.registry`` on ``web_host:metrics_port`` (a daemon thread); None when off.

    The caller stops it with ``server.shutdown()``; an unusable address raises ``OSError``.
    """
    if settings.metrics_port is None:
        return None
    from prometheus_client import start_http_server

    server, _thread = start_http_server(
        settings.metrics_port, addr=settings.web_host or "127.0.0.1", registry=metrics.registry
    )
    return server


def policies_topic_name(settings: Settings) -> str:
    return f"{settings.topic_prefix}{settings.app_id}-policies"


def known_policies(settings: Settings, policy_text: str, version: str) -> dict[str, Policy]:
    """Rule 17: every policy this deployment ran before, from its compacted policies topic.

    The current policy's text is added under its version. A decided lead keeps the policy it
    was decided under (``domain.live.policy_for``); an earlier text that no longer loads is left
    out (such a lead is then kept as it is, never retracted).
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from leadsla.domain.policy import PolicyError, parse_policy
    from leadsla.settings import client_config

    topic = policies_topic_name(settings)
    consumer = KafkaConsumer(enable_auto_commit=False, **client_config(settings))
    texts: dict[str, str] = {}
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        while consumer.position(tp) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                for record in records:
                    if record.key and record.value is not None:
                        texts[record.key.decode()] = record.value.decode()
    finally:
        consumer.close()
    if texts.get(version) != policy_text:
        producer = KafkaProducer(acks="all", **client_config(settings))
        try:
            producer.send(topic, key=version.encode(), value=policy_text.encode()).get(30)
        finally:
            producer.close()
    known: dict[str, Policy] = {}
    for old_version, text in texts.items():
        if old_version == version:
            continue
        try:
            known[old_version] = parse_policy(text, default_version=old_version)
        except PolicyError:
            continue
    return known


def run(args: argparse.Namespace) -> int:
    from leadsla.domain.policy import PolicyError, load_policy
    from leadsla.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"lead-sla worker: {exc}", file=sys.stderr)
        return 2
    policy_path = args.policy or settings.policy_path
    if not policy_path:
        print(
            "lead-sla worker: no policy file: pass --policy or set LEADSLA_POLICY",
            file=sys.stderr,
        )
        return 2
    try:
        policy = load_policy(policy_path)
        with open(policy_path, encoding="utf-8") as stream:
            policy_text = stream.read()
    except (OSError, PolicyError, UnicodeDecodeError) as exc:
        print(f"lead-sla worker: policy {policy_path}: {exc}", file=sys.stderr)
        return 2

    import faust  # only now: the other commands never pay for importing faust

    from .admin import TopicProblem, ensure_topics
    from .app import changelog_topic_name, create_app, ticks_topic_name
    from .metrics import Metrics

    internal = {
        changelog_topic_name(settings): {"cleanup.policy": "compact"},
        ticks_topic_name(settings): {"retention.ms": str(24 * 3600 * 1000)},
        policies_topic_name(settings): {"cleanup.policy": "compact", "partitions": "1"},
    }
    from leadsla.kafka_login import LoginFailed, check_login

    delay = 1.0
    while True:
        try:
            check_login(settings)
            partitions = ensure_topics(settings, internal)
            known = known_policies(settings, policy_text, policy.version)
            break
        except (TopicProblem, LoginFailed) as exc:
            print(f"lead-sla worker: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 0
        except Exception as exc:  # a long-running service: say so in one line, keep trying
            print(
                f"lead-sla worker: cannot reach the broker at {settings.bootstrap_servers} "
                f"({type(exc).__name__}: {exc}); retrying in {delay:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            try:
                time.sleep(delay)
            except KeyboardInterrupt:
                return 0
            delay = min(30.0, delay * 2)
    metrics = Metrics()
    app = create_app(settings, policy, metrics, known_policies=known, partitions=partitions)
    try:
        server = serve_metrics(settings, metrics)
    except OSError as exc:
        print(
            f"lead-sla worker: metrics port {settings.web_host}:{settings.metrics_port}: {exc}",
            file=sys.stderr,
        )
        return 2
    worker = faust.Worker(app, loglevel=args.loglevel or settings.log_level, quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return 0
