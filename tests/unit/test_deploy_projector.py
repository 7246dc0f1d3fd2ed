"""The compose stack's projector has health checks too (issue 10, item 3): ``docker-compose
config`` shows it started with ``--health-port`` on the port the image's ``HEALTHCHECK`` probes,
and its compose health check asks ``/readyz`` on that port; the option exists in the command."""

from __future__ import annotations

import re

from leadsla import cli
from tests.unit.test_deploy import _compose, _service


def test_the_projector_serves_and_is_checked_on_the_images_health_port() -> None:
    config = _compose("config")
    assert config.returncode == 0, config.stderr
    projector = _service(config.stdout, "projector")
    assert "disable: true" not in projector
    assert re.search(r"- --health-port\n\s+- '9108'", projector), projector
    assert "http://127.0.0.1:9108/readyz" in projector


def test_project_has_the_health_port_option() -> None:
    parser = cli.build_parser("project")
    args = parser.parse_args(["project", "--health-port", "9108"])
    assert args.health_port == 9108
