"""Integration fixtures: one real Kafka broker per test session, fresh names for every test.

``kafka_bootstrap`` (session) picks, in order: ``KAFKA_BOOTSTRAP_SERVERS`` if set; a local
broker from Maven jars (``devtools/kafka_local.py``, started once, always stopped at the end);
testcontainers' Kafka when a Docker engine answers. With none, a test that needs a broker is a
FAILURE under ``CI=true`` and a skip (with the reason) elsewhere.

Every test that uses the broker must be marked ``@pytest.mark.kafka``; such a test is bounded in
time by pytest-timeout: ``LEADSLA_KAFKA_TEST_LIMIT_S`` (60 s by default), or its own
``@pytest.mark.timeout(N)`` (or ``@pytest.mark.kafka(limit_s=N)``). Past it the test fails with
every thread's stack and the session goes on (pyproject's ``timeout_method = "signal"``);
pyproject's global ``timeout`` bounds every other test as a backstop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # devtools/ is not an installed package
    sys.path.insert(0, str(REPO_ROOT))

KAFKA_TEST_LIMIT_S = float(os.environ.get("LEADSLA_KAFKA_TEST_LIMIT_S", "60"))
TESTCONTAINERS_IMAGE = os.environ.get(
    "LEADSLA_TESTCONTAINERS_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0"
)


# --------------------------------------------------------------------------- marker discipline


def pytest_configure(config: pytest.Config) -> None:
    # kafka-python 3.0.12 loads its protocol schemas with importlib.resources' legacy API.
    for text in ("read_text is deprecated", "open_text is deprecated"):
        config.addinivalue_line("filterwarnings", f"ignore:{text}:DeprecationWarning")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if "kafka_bootstrap" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("kafka") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that use the Kafka broker must be marked @pytest.mark.kafka: "
            + ", ".join(unmarked)
        )
    for item in items:
        if item.get_closest_marker("kafka") is not None:
            item.add_marker(kafka_time_limit(item), append=False)


def kafka_time_limit(item: pytest.Item) -> pytest.MarkDecorator:
    """The pytest-timeout marker of a kafka-marked test (put first, so it is the closest one).

    Its own ``@pytest.mark.timeout(...)``, else ``@pytest.mark.kafka(limit_s=N)`` (times
    ``LEADSLA_KAFKA_LIMIT_FACTOR``), else ``KAFKA_TEST_LIMIT_S``. Only the test function is
    timed (``func_only``): the session's broker start-up, done in the set-up of the first test
    that needs it and bounded by its own start-up timeout, is not counted against that test.
    """
    own = item.get_closest_marker("timeout")
    if own is not None:
        return pytest.mark.timeout.with_args(*own.args, **{"func_only": True, **own.kwargs})
    kafka = item.get_closest_marker("kafka")
    limit_s = kafka.kwargs.get("limit_s") if kafka is not None else None
    if limit_s is not None:
        factor = float(os.environ.get("LEADSLA_KAFKA_LIMIT_FACTOR", "1"))
        return pytest.mark.timeout.with_args(float(limit_s) * factor, func_only=True)
    return pytest.mark.timeout.with_args(KAFKA_TEST_LIMIT_S, func_only=True)


# --------------------------------------------------------------------------- the broker


def _no_broker(reasons: list[str]) -> None:
    message = "no Kafka broker for the integration tests: " + " | ".join(reasons)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _docker_answers() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker  # type: ignore[import-untyped]  # docker-py ships no type information

        client = docker.from_env(timeout=3)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a Kafka broker for this test session."""
    env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if env:
        yield env
        return

    reasons: list[str] = []
    from devtools.kafka_local import KafkaLocalError, LocalKafka

    broker = LocalKafka(startup_timeout=90)
    try:
        bootstrap = broker.start()
    except (KafkaLocalError, OSError) as exc:
        broker.stop()
        reasons.append(f"local jar broker: {exc}")
    else:
        try:
            yield bootstrap
        finally:
            broker.stop()
        return

    docker_problem = _docker_answers()
    if docker_problem is not None:
        reasons.append(f"testcontainers: no Docker engine ({docker_problem})")
        _no_broker(reasons)
        return
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer(TESTCONTAINERS_IMAGE).with_kraft()
    try:
        container.start()
    except Exception as exc:
        with contextlib.suppress(Exception):
            container.stop()
        reasons.append(f"testcontainers {TESTCONTAINERS_IMAGE}: {exc}")
        _no_broker(reasons)
        return
    try:
        yield container.get_bootstrap_server()
    finally:
        container.stop()


# --------------------------------------------------------------------------- fresh names


@dataclass(frozen=True)
class KafkaNames:
    """A test's own topic prefix and consumer group id, so tests never see each other's data."""

    prefix: str
    group_id: str

    def topic(self, suffix: str) -> str:
        return self.prefix + suffix


@pytest.fixture
def kafka_names() -> Callable[[], KafkaNames]:
    """Factory: each call gives a fresh ``t<random>-`` prefix and group id."""

    def make() -> KafkaNames:
        prefix = f"t{uuid.uuid4().hex[:10]}-"
        return KafkaNames(prefix=prefix, group_id=f"{prefix}lead-sla")

    return make


@pytest.fixture
def kafka_settings(
    kafka_bootstrap: str,
    kafka_names: Callable[[], KafkaNames],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Any]:
    """Factory: worker ``Settings`` on the session's broker, fresh names, short group timeouts."""
    from leadsla.settings import Settings

    def make(**overrides: object) -> Settings:
        names = kafka_names()
        values: dict[str, object] = {
            "bootstrap_servers": kafka_bootstrap,
            "topic_prefix": names.prefix,
            "app_id": names.group_id,
            "data_dir": str(tmp_path_factory.mktemp("faust-data")),
            "partitions": 2,
            # The broker's group.min.session.timeout.ms is 6 s.
            "session_timeout_s": 6.0,
            "heartbeat_interval_s": 0.5,
            "rebalance_timeout_s": 6.0,
            "request_timeout_s": 15.0,
            "commit_interval_s": 0.5,
        }
        values.update(overrides)
        return Settings.from_env({}, **values)

    return make


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes

    def json(self) -> Any:
        return orjson.loads(self.value)


class KafkaIO:
    """kafka-python helpers: produce records, read records back (bounded in time)."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def produce(
        self, topic: str, records: list[tuple[bytes | None, bytes]]
    ) -> list[tuple[int, int]]:
        """Send records one by one; returns the (partition, offset) each was written at."""
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=0)
        written = []
        try:
            for key, value in records:
                metadata = producer.send(topic, key=key, value=value).get(timeout=15)
                written.append((metadata.partition, metadata.offset))
            producer.flush(timeout=15)
        finally:
            producer.close(timeout=5)
        return written

    def read(self, topics: list[str], count: int, timeout_s: float = 20.0) -> list[Record]:
        """Read ``count`` records from the start of ``topics``; fewer if ``timeout_s`` passes."""
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            *topics,
            bootstrap_servers=self.bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=500,
        )
        found: list[Record] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(found) < count and time.monotonic() < deadline:
                for message in consumer:
                    found.append(
                        Record(
                            message.topic,
                            message.partition,
                            message.offset,
                            message.key,
                            message.value,
                        )
                    )
                    if len(found) >= count or time.monotonic() >= deadline:
                        break
        finally:
            consumer.close()
        return found

    async def read_async(
        self, topics: list[str], count: int, timeout_s: float = 20.0
    ) -> list[Record]:
        """``read`` in a worker thread, so a faust app on this event loop keeps running."""
        return await asyncio.get_running_loop().run_in_executor(
            None, self.read, topics, count, timeout_s
        )


@pytest.fixture
def kafka_io(kafka_bootstrap: str) -> KafkaIO:
    return KafkaIO(kafka_bootstrap)


@pytest.fixture
def faust_app_running() -> Callable[..., contextlib.AbstractAsyncContextManager[Any]]:
    """``async with faust_app_running(settings, policy) as app:`` the worker app, in-process.

    Started on the running event loop and always stopped (and its consumer thread ended) on
    the way out.
    """

    @contextlib.asynccontextmanager
    async def running(
        settings: Any, policy: Any, start_timeout_s: float = 30.0
    ) -> AsyncIterator[Any]:
        from leadsla.streams.app import create_app

        app = create_app(settings, policy)
        try:
            await asyncio.wait_for(app.start(), start_timeout_s)
            yield app
        finally:
            await asyncio.wait_for(app.stop(), 30.0)

    return running
