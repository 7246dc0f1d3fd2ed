"""The worker's metrics without a broker: records go through the agent's own per-record function
(``streams.app.handle_created``) and the counts are read back from the injected registry; the
worker's metrics port is scraped over HTTP."""

from __future__ import annotations

import socket
import urllib.request

import orjson
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from leadsla.domain.policy import Policy, TargetRule
from leadsla.settings import Settings, SettingsError
from leadsla.streams.app import handle_created
from leadsla.streams.metrics import Metrics, occurred_at_of, output_type
from leadsla.streams.process import Origin
from leadsla.streams.worker import serve_metrics

POLICY = Policy(default_manager="mgr-ines", targets=(TargetRule(minutes=90),), warn_at=0.5)
OCCURRED_AT = "2026-03-02T09:00:00-05:00"  # 14:00:00Z
OCCURRED_AT_US = 1_772_460_000_000_000
READ_90_S_LATER = OCCURRED_AT_US + 90_000_000


def origin(offset: int = 0, received_at: int = READ_90_S_LATER) -> Origin:
    return Origin("t1-leads.created", 0, offset, received_at=received_at, key=b"lead-7")


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
    assert REGISTRY.get_sample_value("lead_sla_inputs_total", {"topic": "leads.created"}) is None
    injected = CollectorRegistry()
    assert Metrics(injected).registry is injected
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(injected)  # one worker's metrics per registry


def test_every_series_starts_at_zero() -> None:
    metrics = Metrics()
    assert sample(metrics, "lead_sla_inputs_total", topic="leads.created") == 0
    assert sample(metrics, "lead_sla_dead_letters_total", topic="leads.activity") == 0
    assert sample(metrics, "lead_sla_outputs_total", type="sla.breached") == 0
    assert sample(metrics, "lead_sla_process_seconds_count") == 0
    assert sample(metrics, "lead_sla_send_seconds_count") == 0
    assert sample(metrics, "lead_sla_event_lag_seconds_count", topic="leads.created") == 0


# --------------------------------------------------------------------------- counting records


def test_records_are_counted_by_topic_dead_letter_and_output_type() -> None:
    # Given two valid leads and two invalid records
    metrics = Metrics()
    valid = [lead_created("lead-1"), lead_created("lead-2")]
    invalid = [b"\xff{not json", b'{"event_id": "e", "type": "lead.created"}']

    # When each goes through the agent's per-record function
    results = [
        handle_created(value, POLICY, origin(offset), metrics)
        for offset, value in enumerate([*valid, *invalid])
    ]

    # Then every input is counted, the refused ones as dead letters of their topic
    assert sample(metrics, "lead_sla_inputs_total", topic="leads.created") == 4
    assert sample(metrics, "lead_sla_dead_letters_total", topic="leads.created") == 2
    assert [len(r) for r in results[2:]] == [1, 1]
    # and the outputs by event type: sla.measured goes to two topics but is one event
    published = [orjson.loads(v)["type"] for r in results[:2] for _, _, v in r]
    assert sorted(published) == ["sla.measured"] * 4 + ["sla.timer_started"] * 2
    assert sample(metrics, "lead_sla_outputs_total", type="sla.timer_started") == 2
    assert sample(metrics, "lead_sla_outputs_total", type="sla.measured") == 2
    assert sample(metrics, "lead_sla_outputs_total", type="sla.breached") == 0
    # and every record's processing time is observed, in seconds
    assert sample(metrics, "lead_sla_process_seconds_count") == 4
    total = sample(metrics, "lead_sla_process_seconds_sum")
    assert total is not None and 0 < total < 4.0
    assert sample(metrics, "lead_sla_process_seconds_bucket", le="+Inf") == 4


def test_process_seconds_grows_with_every_record() -> None:
    metrics = Metrics()
    handle_created(lead_created(), POLICY, origin(), metrics)
    assert sample(metrics, "lead_sla_process_seconds_count") == 1
    handle_created(b"", POLICY, origin(1), metrics)
    assert sample(metrics, "lead_sla_process_seconds_count") == 2


def test_event_lag_is_read_time_minus_occurred_at_of_accepted_inputs() -> None:
    metrics = Metrics()
    handle_created(lead_created(), POLICY, origin(), metrics)  # read 90 s after it happened
    # occurred_at in the future (a producer's clock ahead of ours) counts as no lag
    handle_created(lead_created("lead-8"), POLICY, origin(received_at=OCCURRED_AT_US - 5), metrics)
    handle_created(b"[]", POLICY, origin(), metrics)  # refused: no lag
    lag = "lead_sla_event_lag_seconds"
    assert sample(metrics, f"{lag}_count", topic="leads.created") == 2
    assert sample(metrics, f"{lag}_sum", topic="leads.created") == pytest.approx(90.0)
    assert sample(metrics, f"{lag}_bucket", topic="leads.created", le="0.05") == 1
    assert sample(metrics, f"{lag}_bucket", topic="leads.created", le="60.0") == 1
    assert sample(metrics, f"{lag}_bucket", topic="leads.created", le="300.0") == 2


def test_send_seconds_are_observed_per_published_batch() -> None:
    metrics = Metrics()
    metrics.observe_send(0.002)
    metrics.observe_send(0.0004)
    assert sample(metrics, "lead_sla_send_seconds_count") == 2
    assert sample(metrics, "lead_sla_send_seconds_sum") == pytest.approx(0.0024)
    assert sample(metrics, "lead_sla_send_seconds_bucket", le="0.0005") == 1
    assert sample(metrics, "lead_sla_send_seconds_bucket", le="0.0025") == 2


# --------------------------------------------------------------------------- cheap readers


def test_output_type_is_read_from_the_codec_layout_or_parsed() -> None:
    metrics = Metrics()
    [(_, _, record), *_] = handle_created(lead_created(), POLICY, origin(), metrics)
    assert output_type(record) == "sla.timer_started"
    # Not the codec's layout: parsed, whatever the type
    assert output_type(b'{ "type" : "sla.breached" }') == "sla.breached"
    assert output_type(b'{"data": {}, "type": "sla.future_type"}') == "sla.future_type"
    assert output_type(b"not json") == "unknown"


@pytest.mark.parametrize(
    ("value", "headers", "expected"),
    [
        (lead_created(), (), OCCURRED_AT_US),
        (b'{"occurred_at" : "2026-03-02T14:00:00Z"}', (), OCCURRED_AT_US),  # parsed
        (b'{"occurred_at":"2026-03-02t14:00:00.5z"}', (), OCCURRED_AT_US + 500_000),
        (  # structured CloudEvent: the envelope is its data
            orjson.dumps({"specversion": "1.0", "time": "x", "data": orjson.loads(lead_created())}),
            (),
            OCCURRED_AT_US,
        ),
        (b'{"source": "email"}', (("ce_time", b"2026-03-02T14:00:00Z"),), OCCURRED_AT_US),
        (  # the key twice (one in data): parsed, the envelope's wins
            b'{"data": {"occurred_at": "2020-01-01T00:00:00Z"}, "occurred_at":"2026-03-02T14:00:00Z"}',
            (),
            OCCURRED_AT_US,
        ),
        (b'{"occurred_at":"2026-03-02T14:00:00"}', (), None),  # naive: unknown
        (b'{"source": "email"}', (), None),
    ],
)
def test_occurred_at_of_every_input_form(
    value: bytes, headers: tuple[tuple[str, bytes], ...], expected: int | None
) -> None:
    assert occurred_at_of(value, headers) == expected


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
    handle_created(lead_created(), POLICY, origin(), metrics)
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
    assert 'lead_sla_inputs_total{topic="leads.created"} 1.0' in text
    assert 'lead_sla_outputs_total{type="sla.timer_started"} 1.0' in text
    assert "# TYPE lead_sla_process_seconds histogram" in text
    assert 'lead_sla_process_seconds_bucket{le="1e-05"}' in text


def test_a_busy_metrics_port_is_an_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings = Settings.from_env({}, metrics_port=busy.getsockname()[1])
        with pytest.raises(OSError):
            serve_metrics(settings, Metrics())
