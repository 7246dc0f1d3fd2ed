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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from leadsla.settings import Settings

    from .metrics import Metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", default=None, help="policy TOML file (default: LEADSLA_POLICY)")
    parser.add_argument(
        "--create-topics",
        action="store_true",
        help="create missing topics first (as `lead-sla topics create`)",
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
    except (OSError, PolicyError) as exc:
        print(f"lead-sla worker: policy {policy_path}: {exc}", file=sys.stderr)
        return 2

    import faust  # only now: the other commands never pay for importing faust

    from .admin import create_topics
    from .app import create_app
    from .metrics import Metrics

    if args.create_topics:
        for name, status in create_topics(settings).items():
            print(f"lead-sla worker: topic {name}: {status}", file=sys.stderr)
    metrics = Metrics()
    app = create_app(settings, policy, metrics)
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
