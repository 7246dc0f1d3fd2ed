"""What ships for operators: the Prometheus alert rules (``promtool``), the Grafana dashboard (loads,
well formed, only metrics the worker exposes) and the compose stack (``docker-compose config``)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest

from leadsla.streams.metrics import Metrics
from tests.ops_tools import ROOT, require_command

PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "lead-sla.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
COMPOSE = ROOT / "docker-compose.yml"
METRIC = re.compile(r"\b(lead_sla_[a-z_]+|up)\b")


def _exposed() -> tuple[set[str], set[str]]:
    """(sample names, metric family names) a fresh worker's registry exposes."""
    text = generate_latest(Metrics().registry).decode()
    samples = {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines()}
    samples = {name for name in samples if name and not name.startswith("#")}
    families = set(re.findall(r"^# TYPE (\S+) ", text, re.MULTILINE))
    return samples, families


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    print(done.stdout, done.stderr)
    return done


# --------------------------------------------------------------------------------------------
# Prometheus
# --------------------------------------------------------------------------------------------


def test_metric_names_follow_the_prometheus_conventions() -> None:
    text = generate_latest(Metrics().registry).decode()
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE))
    samples, _families = _exposed()

    assert len(types) == 15
    for name, kind in types.items():
        assert re.fullmatch(r"lead_sla_[a-z]+(_[a-z]+)*", name), name  # one prefix, snake_case
        assert not re.search(r"milli|micro|_ms\b|minutes|hours", name), name  # base units
        if kind == "counter":
            assert name.endswith("_total") and name in samples, name
        elif kind == "histogram":
            assert name.endswith("_seconds"), name  # every histogram here is a duration
            assert {f"{name}_bucket", f"{name}_sum", f"{name}_count"} <= samples
        else:
            assert kind == "gauge" and not name.endswith("_total"), name


def test_promtool_accepts_the_alert_rules_and_the_prometheus_config() -> None:
    promtool = require_command("promtool")

    rules = _run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    config = _run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))

    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 6 rules found" in rules.stdout
    assert config.returncode == 0, config.stdout + config.stderr


def test_each_alert_fires_on_its_condition_and_not_on_a_healthy_worker() -> None:
    # promtool's rule unit tests (deploy/prometheus/alerts.test.yml): given series, when
    # evaluated, then exactly the expected alerts with their labels and annotations
    promtool = require_command("promtool")

    done = _run(promtool, "test", "rules", "alerts.test.yml", cwd=PROMETHEUS)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    promtool = require_command("promtool")
    broken = tmp_path / "alerts.yml"
    text = (PROMETHEUS / "alerts.yml").read_text()
    broken.write_text(text.replace("> 1.5", "> > 1.5", 1))

    done = _run(promtool, "check", "rules", str(broken))

    assert done.returncode != 0
    assert "FAILED" in done.stdout + done.stderr


def test_the_alert_rules_cover_the_issue_and_use_only_exposed_metrics() -> None:
    text = (PROMETHEUS / "alerts.yml").read_text()
    samples, _families = _exposed()

    alerts = set(re.findall(r"^\s*- alert: (\w+)", text, re.MULTILINE))
    assert alerts == {
        "LeadSlaWorkerDown",
        "LeadSlaWorkerStalled",
        "LeadSlaConsumerLagHigh",
        "LeadSlaDeadLettersGrowing",
        "LeadSlaAlertDelayHigh",
        "LeadSlaBreachesHigh",
    }
    expressions = " ".join(re.findall(r"expr: (\|\n(?:\s{10}.*\n)+|.*)", text))
    used = set(METRIC.findall(expressions))
    assert used - {"up"} <= samples, used - samples
    assert "lead_sla_alert_delay_seconds_bucket" in used
    assert re.search(r"histogram_quantile\(0\.99,.*lead_sla_alert_delay_seconds_bucket", text)
    assert re.search(r"\)\s*> 1\.5\b", text)


# --------------------------------------------------------------------------------------------
# Grafana
# --------------------------------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    document = orjson.loads(DASHBOARD.read_bytes())
    assert isinstance(document, dict)
    return document


def _panels(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in document["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text"}


def test_the_dashboard_loads_and_is_a_well_formed_grafana_dashboard() -> None:
    document = _dashboard()

    # Top level: what Grafana's provisioning needs to import it under a stable address
    assert document["uid"] == "lead-sla" and document["title"]
    assert isinstance(document["schemaVersion"], int) and document["schemaVersion"] >= 36
    assert "id" not in document or document["id"] is None  # provisioning assigns ids
    panels = _panels(document)
    assert len(panels) >= 10
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    # Every panel: a known type, a place on the 24-column grid, queries with their refId
    datasource_uid = re.search(
        r"uid: (\S+)", (PROVISIONING / "datasources" / "prometheus.yml").read_text()
    )
    assert datasource_uid is not None
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")), panel["title"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):  # no two panels overlap
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps another panel"
                cells.add((x, y))
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == datasource_uid.group(1), panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_the_dashboard_uses_only_metrics_the_worker_exposes_and_shows_each_of_them() -> None:
    document = _dashboard()
    samples, families = _exposed()
    expressions = [t["expr"] for p in _panels(document) for t in p.get("targets", [])]
    expressions.append(document["templating"]["list"][0]["definition"])

    used = {name for expr in expressions for name in METRIC.findall(expr)}

    assert used - {"up"} <= samples, sorted(used - samples)
    shown = {family for family in families if any(name.startswith(family) for name in used)}
    assert shown == families, sorted(families - shown)


def test_the_dashboard_is_provisioned_from_the_file_compose_mounts() -> None:
    provider = (PROVISIONING / "dashboards" / "lead-sla.yml").read_text()
    compose = COMPOSE.read_text()

    path = re.search(r"path: (\S+)", provider)
    assert path is not None
    assert f"./deploy/grafana/lead-sla.json:{path.group(1)}/lead-sla.json:ro" in compose
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in compose
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose


# --------------------------------------------------------------------------------------------
# The compose stack
# --------------------------------------------------------------------------------------------


def _compose(*arguments: str) -> subprocess.CompletedProcess[str]:
    docker_compose = require_command("docker-compose")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [docker_compose, "-f", str(COMPOSE), *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_docker_compose_parses_the_stack_with_every_service() -> None:
    # docker-compose validates the file against the compose schema; no engine needed for config
    config = _compose("config")
    services = _compose("config", "--services")

    assert config.returncode == 0, config.stderr
    assert services.returncode == 0, services.stderr
    assert set(services.stdout.split()) == {
        "kafka",
        "worker",
        "projector",
        "postgres",
        "prometheus",
        "grafana",
    }
    text = config.stdout
    assert "image: apache/kafka:3.9.2" in text
    assert "- project\n    - --db\n    - postgresql://lead_sla:" in text


def _service(config: str, name: str) -> str:
    match = re.search(rf"^  {name}:\n((?:    .*\n|\n)*)", config, re.MULTILINE)
    assert match is not None, name
    return match.group(1)


def test_the_health_checks_use_the_workers_readiness_and_the_image_its_liveness() -> None:
    config = _compose("config").stdout

    worker = _service(config, "worker")
    projector = _service(config, "projector")
    assert "http://127.0.0.1:9108/readyz" in worker
    assert "LEADSLA_METRICS_PORT: '9108'" in worker
    assert "LEADSLA_WEB_HOST: 0.0.0.0" in worker
    assert re.search(r"kafka:\n\s+condition: service_healthy", worker)
    assert re.search(r"worker:\n\s+condition: service_healthy", projector)
    assert re.search(r"postgres:\n\s+condition: service_healthy", projector)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"HEALTHCHECK .*\n.*http://127.0.0.1:9108/healthz", dockerfile)
    assert 'ENTRYPOINT ["lead-sla"]' in dockerfile


def test_docker_compose_refuses_a_broken_stack(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    # a misspelt healthcheck key: valid YAML, refused by the compose schema
    broken.write_text(
        COMPOSE.read_text().replace("      interval: 5s\n", "      intervall: 5s\n", 1)
    )
    docker_compose = require_command("docker-compose")

    done = subprocess.run(
        [docker_compose, "-f", str(broken), "config", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "is invalid" in done.stderr and "intervall" in done.stderr, done.stderr


def test_a_missing_tool_fails_under_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: a missing tool fails"):
        require_command("lead-sla-no-such-tool")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="lead-sla-no-such-tool"):
        require_command("lead-sla-no-such-tool")
