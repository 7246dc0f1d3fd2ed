"""The faust application: topics, the lead table, the agent and the deadline loop.

One call, ``create_app(settings, policy, metrics)``, gives a ready ``faust.App``; the worker
command, the tests and the demo all go through it. The shape:

- one agent, ``leads`` (concurrency 1: faust #606), reads the three input topics and the
  internal ``ticks`` topic, co-partitioned by lead. It takes records in batches; for each it asks
  :class:`~streams.process.LeadProcessor` (decode, ``domain.live.step``, encode), publishes every
  output and dead letter and waits until the broker acknowledged them, and only then stores the
  leads' new states in the table (so a crash can repeat an output, with the same id, but never
  lose one), and only then lets faust acknowledge the batch's offsets.
- the ``leads`` table (raw bytes, ``streams/state.py``) is backed by a compacted changelog topic,
  so a restarted or newly assigned worker recovers every lead.
- the deadline loop (a faust timer on every worker) pops the leads whose wake instant has come
  from a per-partition index (``streams/deadlines.py``), held back by the backlog guard, and
  sends a tick keyed by the lead to the same partition of the ticks topic: faust tables can only
  be written from the stream, so the clock reaches a lead through the same agent as its inputs.
  The index is rebuilt from the table after recovery and on every rebalance.

Internal topics are named from the topic prefix and the app id, so two deployments or test runs
on one cluster never share state: ``{prefix}{app_id}-leads-changelog`` and
``{prefix}{app_id}-ticks``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, cast

import faust
from faust.types import TP, EventT

from leadsla.domain.instant import SECOND, Instant
from leadsla.domain.live import DAY, LiveConfig, LiveLead
from leadsla.domain.policy import Policy
from leadsla.settings import Settings
from leadsla.topics import INPUT_TOPICS, OUTPUT_TOPICS

from . import state as state_codec
from .deadlines import BacklogGuard, DeadlineIndex
from .metrics import Metrics
from .process import Handled, LeadProcessor, Origin, OutRecord

log = logging.getLogger("leadsla.worker")

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
TICK = b"tick"


def changelog_topic_name(settings: Settings) -> str:
    return f"{settings.topic_prefix}{settings.app_id}-leads-changelog"


def ticks_topic_name(settings: Settings) -> str:
    return f"{settings.topic_prefix}{settings.app_id}-ticks"


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


def wall_clock() -> Instant:
    return time.time_ns() // 1000


def _headers(message_headers: object) -> list[tuple[str, bytes | None]]:
    if isinstance(message_headers, Mapping):
        return list(message_headers.items())
    return list(cast("Sequence[tuple[str, bytes | None]]", message_headers or ()))


class Worker:
    """What the agent and the deadline loop share on one worker process."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        policy: Policy,
        metrics: Metrics,
        known_policies: Mapping[str, Policy],
        partitions: int,
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.config = LiveConfig(
            held_timeout=round(settings.held_timeout_s * SECOND),
            retention=round(settings.retention_days * DAY),
        )
        self.processor = LeadProcessor(
            policy,
            known_policies=known_policies,
            config=self.config,
            source=f"lead-sla/{settings.app_id}",
        )
        self.partitions = partitions
        self.names = {settings.topic(suffix): suffix for suffix in INPUT_TOPICS}
        self.ticks_name = ticks_topic_name(settings)
        self.outputs = {
            suffix: app.topic(settings.topic(suffix), partitions=partitions, **RAW)
            for suffix in OUTPUT_TOPICS
        }
        self.ticks = app.topic(self.ticks_name, partitions=partitions, **RAW)
        self.inputs = app.topic(*self.names, self.ticks_name, partitions=partitions, **RAW)
        self.table = app.Table(
            "leads",
            default=None,
            partitions=partitions,
            changelog_topic=app.topic(
                changelog_topic_name(settings),
                partitions=partitions,
                compacting=True,
                deleting=False,
                **RAW,
            ),
            key_type=bytes,
            value_type=bytes,
        )
        self.index = DeadlineIndex()
        self.guard = BacklogGuard(INPUT_TOPICS)
        self.indexed: tuple[frozenset[int], int] | None = None
        self.rebuild_again_at = 0.0

    # ------------------------------------------------------------------ the agent

    async def process(self, stream: faust.StreamT[bytes]) -> None:
        batch_max = self.settings.batch_max
        within = self.settings.batch_within_s
        # faust-streaming's StreamT does not declare take_events (Stream has it).
        take_events = stream.take_events  # type: ignore[attr-defined]
        async for events in take_events(batch_max, within=within):
            try:
                await self.handle_batch(events)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Per-record failures are dead letters already (process.py); anything else here
                # is the worker's own fault. Leaving the loop would let take_events acknowledge
                # the batch and lose it, so stop at once, before any commit: the batch is read
                # again after the restart (at-least-once).
                log.exception("lead-sla worker: a batch failed; stopping so it is not lost")
                os._exit(70)

    async def handle_batch(self, events: Sequence[EventT[bytes]]) -> None:
        started = time.perf_counter()
        wall = wall_clock()
        processor = self.processor
        processor.counts = type(processor.counts)()
        cache: dict[str, tuple[LiveLead, EventT[bytes], int]] = {}
        records: list[OutRecord] = []
        guard = self.guard
        highwater = self._highwater
        committed = self._committed

        def state_of(lead_id: str) -> LiveLead | None:
            cached = cache.get(lead_id)
            if cached is not None:
                return cached[0]
            raw = self.table.get(lead_id.encode())
            return None if raw is None else state_codec.loads(raw)

        for event in events:
            message = event.message
            partition = message.partition
            topic = message.topic
            if topic == self.ticks_name:
                lead_id = (message.key or b"").decode("utf-8", "replace")
                state = state_of(lead_id)
                if state is None:
                    continue
                now = guard.clock(partition, wall, highwater, committed)
                wake = state.wake(self.config)
                if wake is None or wake > now:
                    continue  # a stale tick: the lead moved on since it was sent
                handled = processor.on_tick(state, now, wall)
            else:
                suffix = self.names.get(topic, topic)
                timestamp = round((message.timestamp or 0) * SECOND)
                guard.observe(suffix, partition, message.offset, timestamp)
                origin = Origin(
                    topic=topic,
                    partition=partition,
                    offset=message.offset,
                    received_at=wall,
                    key=message.key,
                    headers=tuple(_headers(message.headers)),
                )
                now = guard.clock(partition, wall, highwater, committed)
                value = event.value
                handled = processor.on_input(value, origin, state_of, now, wall)
                self._observe_lag(suffix, value, wall, handled)
            records.extend(handled.records)
            if handled.lead_id is not None and handled.state is not None:
                cache[handled.lead_id] = (handled.state, event, partition)
        process_seconds = time.perf_counter() - started
        self.metrics.observe_batch(
            processor.counts,
            [r.type for r in records if r.topic != "sla.facts" and r.type != "dead_letter"],
            process_seconds,
        )
        await self.publish(records)
        for lead_id, (state, event, partition) in cache.items():
            raw = state_codec.dumps(state, partition, self.config)
            self._write(event, lead_id.encode(), raw)
            self.index.schedule(partition, lead_id, state.wake(self.config))

    def _observe_lag(
        self, suffix: str, value: bytes | None, wall: Instant, handled: Handled
    ) -> None:
        state = handled.state
        if state is None or not state.events:
            return
        occurred = max(e.occurred_at for e in state.events[-1:])
        self.metrics.observe_event_lag(suffix, (wall - occurred) / SECOND)

    def _write(self, event: EventT[bytes], key: bytes, value: bytes) -> None:
        """Store a lead's state as part of the record that changed it.

        faust finds the table partition (and the changelog partition) from the stream's
        "current event"; in a batch that is the batch's last record, so each write is made with
        the record of its own lead set as the current event.
        """
        from faust.streams import _current_event  # faust's own context variable

        token = _current_event.set(weakref.ref(event))
        try:
            self.table[key] = value
        finally:
            _current_event.reset(token)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Send every record and wait until the broker has them; retry while it cannot."""
        if not records:
            return
        started = time.perf_counter()
        attempt = 0
        while True:
            try:
                futures = []
                for record in records:
                    topic = self.outputs[record.topic]
                    futures.append(
                        await topic.send(
                            key=record.key,
                            value=record.value,
                            headers=record.headers,
                            force=True,
                        )
                    )
                await asyncio.gather(*futures)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                log.warning(
                    "lead-sla worker: cannot publish %d records (%s: %s); retrying (attempt %d)",
                    len(records),
                    type(exc).__name__,
                    exc,
                    attempt,
                )
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        sent = wall_clock()
        self.metrics.observe_send(time.perf_counter() - started)
        for record in records:
            if record.due is not None and record.topic != "sla.facts":
                self.metrics.observe_alert_delay((sent - record.due) / SECOND)

    # ------------------------------------------------------------------ the clock

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(self.settings.topic(topic), partition))
        except Exception:
            return None
        return None if value is None else int(value)

    def _committed(self, topic: str, partition: int) -> int | None:
        offsets = getattr(self.app.consumer, "_committed_offset", {})
        value = offsets.get(TP(self.settings.topic(topic), partition))
        return None if value is None else int(value)

    def assigned_partitions(self) -> frozenset[int]:
        try:
            assignment = self.app.consumer.assignment()
        except Exception:
            return frozenset()
        return frozenset(tp.partition for tp in assignment if tp.topic == self.ticks_name)

    def rebuild_index(self, partitions: frozenset[int]) -> None:
        """The deadline index of ``partitions``, from the table (after recovery or a rebalance)."""
        entries: list[tuple[str, int, Instant]] = []
        for key, raw in self.table.items():
            if raw is None:
                continue
            try:
                wake, partition = state_codec.header(raw)
            except state_codec.StateError:
                continue
            if wake is not None and partition in partitions:
                entries.append((bytes(key).decode("utf-8", "replace"), partition, wake))
        self.index.rebuild(partitions, entries)
        log.info(
            "lead-sla worker: deadline index rebuilt for partitions %s: %d leads with a timer",
            sorted(partitions),
            len(entries),
        )

    async def tick(self) -> None:
        """The deadline loop's one turn: send a tick for every lead whose time has come."""
        app = self.app
        if app.rebalancing or getattr(app, "in_recovery", False):
            return
        partitions = self.assigned_partitions()
        generation = int(getattr(app, "rebalancing_count", 0))
        now_mono = time.monotonic()
        if self.indexed != (partitions, generation) or (
            self.rebuild_again_at and now_mono >= self.rebuild_again_at
        ):
            # Once at once, and once more a little later: recovery may finish in between.
            self.rebuild_again_at = (
                0.0 if self.indexed == (partitions, generation) else now_mono + 3
            )
            self.indexed = (partitions, generation)
            self.rebuild_index(partitions)
        wall = wall_clock()
        sent = 0
        for partition in partitions:
            until = self.guard.clock(partition, wall, self._highwater, self._committed)
            for lead_id, _wake in self.index.pop_due(partition, until):
                await self.ticks.send(
                    key=lead_id.encode(), value=TICK, partition=partition, force=True
                )
                sent += 1
        self.metrics.ticks += sent
        self.metrics.open_leads = len(self.index)
        for suffix in INPUT_TOPICS:
            total = 0
            for partition in partitions:
                behind = self.guard.lag(
                    suffix,
                    partition,
                    self._highwater(suffix, partition),
                    self._committed(suffix, partition),
                )
                total += behind or 0
            self.metrics.consumer_lag[suffix] = total


def create_app(
    settings: Settings,
    policy: Policy,
    metrics: Metrics | None = None,
    *,
    known_policies: Mapping[str, Policy] | None = None,
    partitions: int | None = None,
) -> faust.App:
    """The worker's faust app; ``app.worker`` is its :class:`Worker`, ``app.metrics`` its metrics."""
    meters = metrics if metrics is not None else Metrics()
    count = partitions or settings.partitions
    app = faust.App(
        settings.app_id,
        broker=settings.broker_urls,
        broker_credentials=broker_credentials(settings),
        store=settings.store,
        datadir=settings.data_dir,
        autodiscover=False,
        topic_partitions=count,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
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
        table_standby_replicas=0,
    )
    worker = Worker(app, settings, policy, meters, known_policies or {}, count)
    app.worker = worker  # type: ignore[attr-defined]
    app.metrics = meters  # type: ignore[attr-defined]
    app.topics_by_name = worker.outputs  # type: ignore[attr-defined]

    # concurrency=1: with more, faust can commit past a record still in flight (faust #606).
    app.agent(worker.inputs, name="leads", concurrency=1)(worker.process)

    async def deadlines() -> None:
        await worker.tick()

    app.timer(interval=settings.tick_interval_s)(deadlines)

    return app
