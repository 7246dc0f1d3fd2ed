"""``lead-sla worker``: run the live SLA worker (faust) until SIGTERM or Ctrl-C.

Configuration comes from the environment (``leadsla/settings.py``); the policy file from
``--policy`` or ``LEADSLA_POLICY``. With ``LEADSLA_METRICS_PORT`` set, Prometheus metrics
(``streams/metrics.py``) are served over HTTP on ``LEADSLA_WEB_HOST`` and that port, with
``/healthz`` (liveness) and ``/readyz`` (readiness) beside them. ``LEADSLA_LOG_FORMAT=json``
makes every log line a JSON object (``leadsla/logs.py``). Exit codes:
0 after a clean stop, 2 when the settings, the policy or the metrics port are unusable, faust's
own code otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from wsgiref.simple_server import WSGIServer
    from wsgiref.types import StartResponse

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


def serve_metrics(
    settings: Settings, metrics: Metrics, ready: Callable[[], bool] | None = None
) -> WSGIServer | None:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``web_host:metrics_port`` (a daemon
    thread); None when the port is not set.

    ``/metrics``: ``metrics.registry`` in Prometheus' text format. ``/healthz``: 200 while the
    process serves at all (liveness). ``/readyz``: 200 when ``ready()`` says so, else 503
    (readiness: partitions assigned and the table recovered, :func:`worker_ready`); without
    ``ready`` it is always 200. The caller stops it with ``server.shutdown()``; an unusable
    address raises ``OSError``.
    """
    if settings.metrics_port is None:
        return None
    import socket
    import threading
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from prometheus_client import make_wsgi_app

    host = settings.web_host or "127.0.0.1"
    family = socket.getaddrinfo(host, settings.metrics_port, type=socket.SOCK_STREAM)[0][0]

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = family

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # no line per scrape
            pass

    serve_registry = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/metrics", "/"):
            scraped: Iterable[bytes] = serve_registry(environ, start_response)
            return scraped
        if path == "/healthz":
            status, body = "200 OK", b"ok\n"
        elif path == "/readyz":
            try:
                is_ready = ready is None or ready()
            except Exception:
                is_ready = False
            status, body = (
                ("200 OK", b"ready\n") if is_ready else ("503 Service Unavailable", b"not ready\n")
            )
        else:
            status, body = "404 Not Found", b"not found: /metrics, /healthz, /readyz\n"
        start_response(
            status,
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    server = make_server(host, settings.metrics_port, app, Server, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, name="lead-sla-metrics", daemon=True).start()
    return server


def worker_ready(app: Any) -> bool:
    """The worker has partitions assigned and its table recovered: it is processing.

    Read from another thread (the HTTP server's): only attributes, no calls into the consumer.
    The deadline loop sets ``worker.indexed`` to the assigned partitions once a rebalance and
    the table's recovery are over.
    """
    worker = getattr(app, "worker", None)
    if worker is None or getattr(app, "rebalancing", True) or getattr(app, "in_recovery", True):
        return False
    indexed = getattr(worker, "indexed", None)
    return indexed is not None and bool(indexed[0])


def policies_topic_name(settings: Settings) -> str:
    return f"{settings.topic_prefix}{settings.app_id}-policies"


def known_policies(settings: Settings, policy_text: str, version: str) -> dict[str, Policy]:
    """Rule 17: every policy this deployment ran before, from its compacted policies topic.

    The current policy's text is added under its version. A decided lead keeps the policy it
    was decided under (``domain.live.policy_for``); an earlier text that no longer loads is left
    out (such a lead is then kept as it is, never retracted).
    """
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from leadsla.policy_file import PolicyError, parse_policy
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
    from leadsla.policy_file import PolicyError, load_policy
    from leadsla.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"lead-sla worker: {exc}", file=sys.stderr)
        return 2
    from leadsla import logs

    loglevel = args.loglevel or settings.log_level
    try:
        logs.configure(settings.log_format, loglevel)
    except ValueError as exc:
        print(f"lead-sla worker: --loglevel/LEADSLA_LOG_LEVEL: {exc}", file=sys.stderr)
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

    from .admin import TopicProblem, ensure_group_offsets, ensure_topics
    from .app import changelog_topic_name, create_app, ticks_topic_name
    from .metrics import Metrics

    internal = {
        changelog_topic_name(settings): {"cleanup.policy": "compact"},
        ticks_topic_name(settings): {"retention.ms": str(24 * 3600 * 1000)},
        policies_topic_name(settings): {"cleanup.policy": "compact", "partitions": "1"},
    }
    from leadsla.kafka_login import LoginFailed, check_login
    from leadsla.topics import INPUT_TOPICS

    delay = 1.0
    while True:
        try:
            check_login(settings)
            partitions = ensure_topics(settings, internal)
            consumed = [settings.topic(suffix) for suffix in INPUT_TOPICS]
            ensure_group_offsets(settings, [*consumed, ticks_topic_name(settings)], partitions)
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
        server = serve_metrics(settings, metrics, ready=lambda: worker_ready(app))
    except OSError as exc:
        print(
            f"lead-sla worker: metrics port {settings.web_host}:{settings.metrics_port}: {exc}",
            file=sys.stderr,
        )
        return 2
    worker = faust.Worker(
        app,
        loglevel=loglevel,
        quiet=True,
        logging_config=logs.logging_config(settings.log_format, loglevel),
    )
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
