"""Every kafka-marked test is bounded in time (pytest-timeout markers from conftest.py)."""

from __future__ import annotations

import os

import pytest

from .conftest import KAFKA_TEST_LIMIT_S


def _limit(request: pytest.FixtureRequest) -> tuple[tuple[object, ...], dict[str, object]]:
    marker = request.node.get_closest_marker("timeout")
    assert marker is not None, "no pytest-timeout marker on a kafka-marked test"
    return marker.args, marker.kwargs


@pytest.mark.kafka
def test_a_kafka_test_gets_the_default_limit_on_its_function(
    request: pytest.FixtureRequest,
) -> None:
    assert _limit(request) == ((KAFKA_TEST_LIMIT_S,), {"func_only": True})


@pytest.mark.kafka
@pytest.mark.timeout(123)
def test_a_kafka_test_keeps_its_own_timeout(request: pytest.FixtureRequest) -> None:
    assert _limit(request) == ((123,), {"func_only": True})


@pytest.mark.kafka(limit_s=45)
def test_a_kafka_test_may_ask_for_another_limit(request: pytest.FixtureRequest) -> None:
    factor = float(os.environ.get("LEADSLA_KAFKA_LIMIT_FACTOR", "1"))
    assert _limit(request) == ((45 * factor,), {"func_only": True})


def test_other_tests_have_the_global_backstop_only(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("timeout") is None
    assert float(request.config.getini("timeout")) > 0
    assert request.config.getini("timeout_method") == "signal"
