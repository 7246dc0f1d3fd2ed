"""Operations: JSON log lines (``leadsla/logs.py``) and the worker's HTTP endpoints (``/metrics``,
``/healthz``, ``/readyz`` on the metrics port, ``streams/worker.py: serve_metrics``)."""

from __future__ import annotations

import io
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from leadsla import logs
from leadsla.settings import Settings, SettingsError
from leadsla.streams.metrics import Metrics
from leadsla.streams.worker import serve_metrics, worker_ready

# --------------------------------------------------------------------------------------------
# JSON logs
# --------------------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("leadsla.test-json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [orjson.loads(line) for line in text.splitlines()]


def test_a_log_record_is_one_json_object_on_one_line_with_the_lead_and_event_id(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log

    logger.warning(
        "lead %s: cannot advance\nsecond line", "L-1", extra={"lead_id": "L-1", "event_id": "e-9"}
    )
    logger.info("no lead here")

    first, second = _lines(stream)
    assert first["level"] == "WARNING"
    assert first["logger"] == "leadsla.test-json"
    assert first["message"] == "lead L-1: cannot advance\nsecond line"
    assert (first["lead_id"], first["event_id"]) == ("L-1", "e-9")
    assert first["time"].endswith("Z") and first["time"][10] == "T"
    assert len(first["time"]) == len("2026-03-02T09:00:00.123Z")
    assert second["message"] == "no lead here"
    assert "lead_id" not in second and "event_id" not in second


def test_an_exception_is_logged_inside_its_json_line(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    try:
        raise RuntimeError("broken state")
    except RuntimeError:
        logger.exception("the clock cannot advance lead %r", "L-2", extra={"lead_id": "L-2"})

    (line,) = _lines(stream)
    assert line["level"] == "ERROR"
    assert line["lead_id"] == "L-2"
    assert "RuntimeError: broken state" in line["exception"]
    assert line["exception"].startswith("Traceback")


def test_the_format_is_a_setting_and_json_configures_the_root_logger(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"LEADSLA_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="LEADSLA_LOG_FORMAT"):
        Settings.from_env({"LEADSLA_LOG_FORMAT": "xml"})
    assert logs.logging_config("text", "info") is None

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logs.configure("json", "warning")
        logging.getLogger("leadsla.worker").info("dropped: below the level")
        logging.getLogger("leadsla.worker").warning("kept", extra={"event_id": "e-1"})
        (line,) = [orjson.loads(text) for text in capsys.readouterr().err.splitlines()]
        assert (line["logger"], line["message"], line["event_id"]) == (
            "leadsla.worker",
            "kept",
            "e-1",
        )
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        logs.configure("json", "loud")


# --------------------------------------------------------------------------------------------
# /metrics, /healthz, /readyz
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


def test_the_metrics_port_serves_metrics_liveness_and_readiness() -> None:
    # Given a worker that is not ready yet, its metrics port served
    ready = {"now": False}
    settings = Settings.from_env({}, metrics_port=_free_port(), web_host="127.0.0.1")
    server = serve_metrics(settings, Metrics(), ready=lambda: ready["now"])
    assert server is not None
    base = f"http://127.0.0.1:{settings.metrics_port}"
    try:
        # Then it is alive but not ready, and its metrics are there
        assert _get(base + "/healthz") == (200, "ok\n")
        assert _get(base + "/readyz") == (503, "not ready\n")
        status, text = _get(base + "/metrics")
        assert status == 200
        assert 'lead_sla_inputs_total{type="lead.created"} 0.0' in text
        # When it becomes ready, /readyz says so
        ready["now"] = True
        assert _get(base + "/readyz") == (200, "ready\n")
        # and a readiness check that raises counts as not ready; other paths are 404
        ready.clear()
        assert _get(base + "/readyz")[0] == 503
        assert _get(base + "/nothing")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_without_a_readiness_check_readyz_is_200() -> None:
    settings = Settings.from_env({}, metrics_port=_free_port(), web_host="127.0.0.1")
    server = serve_metrics(settings, Metrics())
    assert server is not None
    try:
        assert _get(f"http://127.0.0.1:{settings.metrics_port}/readyz") == (200, "ready\n")
    finally:
        server.shutdown()
        server.server_close()


def test_readiness_needs_no_rebalance_no_recovery_and_assigned_partitions() -> None:
    class App:
        def __init__(self, **attributes: Any) -> None:
            self.__dict__.update(attributes)

    class Worker:
        def __init__(self, indexed: Any) -> None:
            self.indexed = indexed

    settled = {"rebalancing": False, "in_recovery": False}
    assert worker_ready(App(**settled, worker=Worker((frozenset({0, 1}), 1)))) is True
    assert worker_ready(App(**settled)) is False  # no worker yet
    assert worker_ready(App(**settled, worker=Worker(None))) is False  # never assigned
    assert worker_ready(App(**settled, worker=Worker((frozenset(), 1)))) is False
    busy = {**settled, "rebalancing": True}
    assert worker_ready(App(**busy, worker=Worker((frozenset({0}), 1)))) is False
    recovering = {**settled, "in_recovery": True}
    assert worker_ready(App(**recovering, worker=Worker((frozenset({0}), 1)))) is False
