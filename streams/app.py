"""The faust application: topics, agents, and every faust setting, built by ``create_app``.

One call, ``create_app(settings, policy, metrics)``, gives a ready ``faust.App``; the worker
command, the tests and the demo all go through it. Records are raw bytes both ways (decoding is
``process.py``'s job, so a malformed record reaches the dead-letter topic instead of crashing
the stream). An agent's work on one record is ``handle_created``: process it and count it in the
metrics (``app.metrics``), then the agent sends what it returns and times the send.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from typing import Any

import faust
from faust.types import EventT, Message

from leadsla.domain.policy import Policy
from leadsla.settings import Settings
from leadsla.topics import ALL_TOPICS, LEADS_CREATED

from .metrics import Metrics
from .process import Origin, Output, process_created

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """faust credentials for the configured security protocol (None for PLAINTEXT)."""
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return None
    context: ssl.SSLContext | None = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=settings.ssl_cafile)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=context,
    )


def origin_of(message: Message) -> Origin:
    """Where a record came from, and when the worker read it (wall clock: the shell's job)."""
    headers = message.headers
    pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    return Origin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        received_at=time.time_ns() // 1000,
        key=message.key,
        headers=tuple(pairs),
    )


def handle_created(value: bytes, policy: Policy, origin: Origin, metrics: Metrics) -> list[Output]:
    """The ``leads-created`` agent's work on one record, without Kafka: process, then count."""
    started = time.perf_counter()
    outputs = process_created(value, policy, origin=origin)
    seconds = time.perf_counter() - started
    metrics.observe_record(LEADS_CREATED, outputs, seconds, value=value, origin=origin)
    return outputs


def create_app(settings: Settings, policy: Policy, metrics: Metrics | None = None) -> faust.App:
    """The worker's faust app. ``app.topics_by_name`` maps topic suffixes to faust topics.

    ``metrics`` (a new ``Metrics`` on its own registry by default) is ``app.metrics``.
    """
    meters = metrics if metrics is not None else Metrics()
    app = faust.App(
        settings.app_id,
        broker=settings.broker_urls,
        broker_credentials=broker_credentials(settings),
        store=settings.store,
        datadir=settings.data_dir,
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=settings.heartbeat_interval_s,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_request_timeout=settings.request_timeout_s,
        broker_commit_interval=settings.commit_interval_s,
        consumer_auto_offset_reset=settings.auto_offset_reset,
        producer_acks=-1,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=settings.web_enabled,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_tables_enabled=False,  # /table would expose every lead's state
    )
    topics = {suffix: app.topic(settings.topic(suffix), **RAW) for suffix in ALL_TOPICS}
    app.topics_by_name = topics  # type: ignore[attr-defined]
    app.metrics = meters  # type: ignore[attr-defined]

    async def send_all(outputs: list[Output]) -> None:
        if not outputs:
            return
        started = time.perf_counter()
        for suffix, key, value in outputs:
            await topics[suffix].send(key=key, value=value)
        meters.observe_send(time.perf_counter() - started)

    # concurrency=1: with more, faust can commit past a record still in flight (faust #606).
    @app.agent(topics[LEADS_CREATED], name="leads-created", concurrency=1)
    async def on_created(stream: faust.StreamT[bytes]) -> None:
        event: EventT[bytes]
        async for event in stream.events():
            origin = origin_of(event.message)
            await send_all(handle_created(event.value, policy, origin, meters))

    return app
