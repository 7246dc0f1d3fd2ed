"""The worker's metrics without a broker: records go through the agent's own per-record work
(``streams.process.LeadProcessor``) and the counts are read back from the injected registry; the
worker's metrics port is scraped over HTTP."""

from __future__ import annotations

import socket
import urllib.request

import orjson
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from leadsla.domain.policy import Policy, TargetRule
from leadsla.settings import Settings, SettingsError
from leadsla.streams.metrics import Metrics
from leadsla.streams.process import LeadProcessor, Origin, OutRecord
from leadsla.streams.worker import serve_metrics

POLICY = Policy(default_manager="mgr-ines", targets=(TargetRule(minutes=90),), warn_at=0.5)
OCCURRED_AT = "2026-03-02T09:00:00-05:00"  # 14:00:00Z
OCCURRED_AT_US = 1_772_460_000_000_000
READ_90_S_LATER = OCCURRED_AT_US + 90_000_000


def lead_created(lead_id: str = "lead-7", occurred_at: str = OCCURRED_AT) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"evt-{lead_id}",
            "type": "lead.created",
            "lead_id": lead_id,
            "occurred_at": occurred_at,
            "data": {"source": "email"},
        }
    )


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


# --------------------------------------------------------------------------- the registry


def test_metrics_use_their_own_registry_not_the_global_one() -> None:
    first, second = Metrics(), Metrics()
    assert first.registry is not second.registry
    assert first.registry is not REGISTRY
    assert REGISTRY.get_sample_value("lead_sla_inputs_total", {"type": "lead.created"}) is None
    injected = CollectorRegistry()
    assert Metrics(injected).registry is injected
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(injected)  # one worker's metrics per registry


def test_every_series_starts_at_zero() -> None:
    metrics = Metrics()
    assert sample(metrics, "lead_sla_inputs_total", type="lead.created") == 0
    assert sample(metrics, "lead_sla_inputs_total", type="invalid") == 0
    assert sample(metrics, "lead_sla_dead_letters_total", reason="invalid") == 0
    assert sample(metrics, "lead_sla_dead_letters_total", reason="future") == 0
    assert sample(metrics, "lead_sla_outputs_total", type="sla.breached") == 0
    assert sample(metrics, "lead_sla_retractions_total") == 0
    assert sample(metrics, "lead_sla_suppressed_total") == 0
    assert sample(metrics, "lead_sla_open_leads") == 0
    assert sample(metrics, "lead_sla_consumer_lag_records", topic="leads.activity") == 0
    assert sample(metrics, "lead_sla_alert_delay_seconds_count") == 0
    assert sample(metrics, "lead_sla_batch_seconds_count") == 0
    assert sample(metrics, "lead_sla_send_seconds_count") == 0
    assert sample(metrics, "lead_sla_event_lag_seconds_count", topic="leads.created") == 0


# --------------------------------------------------------------------------- counting records


def _process(metrics: Metrics, values: list[bytes]) -> list[list[OutRecord]]:
    """Values through the agent's per-record work (``LeadProcessor``), counted as one batch."""
    processor = LeadProcessor(POLICY)
    table: dict[str, object] = {}
    results = []
    for offset, value in enumerate(values):
        lead = orjson.loads(value).get("lead_id", "lead-7") if value.startswith(b"{") else "x"
        handled = processor.on_input(
            value,
            Origin("t1-leads.created", 0, offset, READ_90_S_LATER, key=str(lead).encode()),
            lambda _lead: None,
            READ_90_S_LATER,
            READ_90_S_LATER,
        )
        if handled.lead_id is not None:
            table[handled.lead_id] = handled.state
        results.append(handled.records)
    types = [
        r.type for rs in results for r in rs if r.topic != "sla.facts" and r.type != "dead_letter"
    ]
    metrics.observe_batch(processor.counts, types, 0.001)
    return results


def test_records_are_counted_by_type_dead_letter_reason_and_output_type() -> None:
    # Given two valid leads and two invalid records
    metrics = Metrics()
    valid = [lead_created("lead-1"), lead_created("lead-2")]
    invalid = [b"\xff{not json", b'{"event_id": "e", "type": "lead.created"}']

    # When they go through the agent's per-record work as one batch
    results = _process(metrics, [*valid, *invalid])

    # Then every input is counted by type, the refused ones as dead letters with their reason
    assert sample(metrics, "lead_sla_inputs_total", type="lead.created") == 2
    assert sample(metrics, "lead_sla_inputs_total", type="invalid") == 2
    assert sample(metrics, "lead_sla_dead_letters_total", reason="invalid") == 2
    assert [len(r) for r in results[2:]] == [1, 1]
    # and the outputs by event type: sla.measured goes to two topics but is one event
    published = [orjson.loads(_value(r))["type"] for rs in results[:2] for r in rs]
    assert sorted(published) == ["sla.measured"] * 4 + ["sla.timer_started"] * 2
    assert sample(metrics, "lead_sla_outputs_total", type="sla.timer_started") == 2
    assert sample(metrics, "lead_sla_outputs_total", type="sla.measured") == 2
    assert sample(metrics, "lead_sla_outputs_total", type="sla.breached") == 0
    # and the batch's processing time is observed, in seconds
    assert sample(metrics, "lead_sla_batch_seconds_count") == 1
    assert sample(metrics, "lead_sla_batch_seconds_sum") == pytest.approx(0.001)


def _value(record: OutRecord) -> bytes:
    """A published record's value (these inputs never erase a lead, so never a tombstone)."""
    assert record.value is not None, f"unexpected tombstone on {record.topic}"
    return record.value


def test_event_lag_and_alert_delay_are_histograms_in_seconds() -> None:
    metrics = Metrics()
    metrics.observe_event_lag("leads.created", 90.0)
    metrics.observe_event_lag("leads.created", -5.0)  # a producer's clock ahead: no lag
    lag = "lead_sla_event_lag_seconds"
    assert sample(metrics, f"{lag}_count", topic="leads.created") == 2
    assert sample(metrics, f"{lag}_sum", topic="leads.created") == pytest.approx(90.0)
    assert sample(metrics, f"{lag}_bucket", topic="leads.created", le="0.05") == 1
    assert sample(metrics, f"{lag}_bucket", topic="leads.created", le="300.0") == 2
    metrics.observe_alert_delay(0.25)
    metrics.observe_alert_delay(1.2)
    assert sample(metrics, "lead_sla_alert_delay_seconds_bucket", le="0.3") == 1
    assert sample(metrics, "lead_sla_alert_delay_seconds_bucket", le="1.5") == 2


def test_send_seconds_are_observed_per_published_batch() -> None:
    metrics = Metrics()
    metrics.observe_send(0.002)
    metrics.observe_send(0.0004)
    assert sample(metrics, "lead_sla_send_seconds_count") == 2
    assert sample(metrics, "lead_sla_send_seconds_sum") == pytest.approx(0.0024)
    assert sample(metrics, "lead_sla_send_seconds_bucket", le="0.0005") == 1
    assert sample(metrics, "lead_sla_send_seconds_bucket", le="0.0025") == 2


# --------------------------------------------------------------------------- exposition


def test_metrics_port_is_a_setting_off_by_default() -> None:
    assert Settings.from_env({}).metrics_port is None
    assert Settings.from_env({"LEADSLA_METRICS_PORT": ""}).metrics_port is None
    assert Settings.from_env({"LEADSLA_METRICS_PORT": "9464"}).metrics_port == 9464
    with pytest.raises(SettingsError, match="LEADSLA_METRICS_PORT"):
        Settings.from_env({"LEADSLA_METRICS_PORT": "0"})
    with pytest.raises(SettingsError, match="metrics_port must differ"):
        Settings.from_env({"LEADSLA_METRICS_PORT": "6066", "LEADSLA_WEB_ENABLED": "true"})
    assert serve_metrics(Settings.from_env({}), Metrics()) is None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_worker_metrics_port_serves_the_registry_over_http() -> None:
    metrics = Metrics()
    _process(metrics, [lead_created()])
    settings = Settings.from_env({}, metrics_port=_free_port(), web_host="127.0.0.1")
    server = serve_metrics(settings, metrics)
    assert server is not None
    try:
        url = f"http://127.0.0.1:{settings.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.status == 200
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'lead_sla_inputs_total{type="lead.created"} 1.0' in text
    assert 'lead_sla_outputs_total{type="sla.timer_started"} 1.0' in text
    assert "# TYPE lead_sla_alert_delay_seconds histogram" in text
    assert 'lead_sla_alert_delay_seconds_bucket{le="0.05"}' in text


def test_a_busy_metrics_port_is_an_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = Settings.from_env({}, metrics_port=busy.getsockname()[1])
        with pytest.raises(OSError):
            serve_metrics(settings, Metrics())
