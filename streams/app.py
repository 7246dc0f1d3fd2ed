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
import contextlib
import dataclasses
import gc
import logging
import os
import ssl
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, cast

import faust
from faust.types import TP, EventT
from faust.types.stores import StoreT
from mode.services import WaitResults

from leadsla.domain.instant import SECOND, Instant
from leadsla.domain.live import DAY, LiveConfig, LiveLead
from leadsla.domain.policy import Policy
from leadsla.settings import Settings
from leadsla.topics import INPUT_TOPICS, OUTPUT_TOPICS

from . import state as state_codec
from .continuity import SKIP, ReadTracker, RecoveryWatch
from .deadlines import BacklogGuard, DeadlineIndex
from .metrics import Metrics
from .process import Accepted, Counts, LeadProcessor, Origin, OutRecord

log = logging.getLogger("leadsla.worker")
trace = logging.getLogger("leadsla.worker.batches")
"""Each batch's offsets by partition, at debug level (diagnosis)."""

RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
TICK = b"tick"
ERASE = b"erase"
"""A control record on the ticks topic: forget this lead (erasure on request)."""
STALL_S = 10.0
"""An input partition with records waiting and none delivered for this long is read again (and
a changelog partition of a table recovery)."""
RECOVERY_WATCH_S = 1.0
"""How often a table recovery under way is looked at (:meth:`Worker.unstall_recovery`)."""
RECORD_BATCH_BYTES = 512 * 1024
"""The most a record batch the worker sends holds (aiokafka's ``max_batch_size``)."""
REBUILD_SLICE = 5_000
"""Leads read from the table between two turns of the event loop while the index is rebuilt."""
TICK_RESEND_S = 15.0
"""A tick the agent has not seen after this long is sent again (lost with the broker?)."""


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


Message = tuple[str, bytes | None, bytes | None, int | None, list[tuple[str, bytes]] | None]
"""One record to produce: topic, key, value, partition (None: by key), headers."""


def _headers(message_headers: object) -> list[tuple[str, bytes | None]]:
    if isinstance(message_headers, Mapping):
        return list(message_headers.items())
    return list(cast("Sequence[tuple[str, bytes | None]]", message_headers or ()))


@contextlib.contextmanager
def _as_current(event: EventT[bytes]) -> Iterator[None]:
    """faust's "current event" set to ``event`` (the store finds the partition from it)."""
    from faust.streams import _current_event  # faust's own context variable

    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


_NO_EVENT: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


def _no_current(event: EventT[bytes]) -> contextlib.AbstractContextManager[None]:
    """For a store that does not read the current event (memory): nothing to set."""
    return _NO_EVENT


class _NothingBehind(dict[TP, int | None]):
    """faust's "read offset" per partition, always read as unknown (see :func:`_deliver_all`)."""

    def __getitem__(self, key: TP) -> None:
        return None


def _deliver_all(app: faust.App) -> None:
    """Stop faust's consumer from dropping records on its own, before they reach the agent.

    faust remembers the offset it last delivered per partition and drops any record before it;
    a seek back (``continuity.py``) races with records already on their way, which set that
    offset forward again, so the records read again after the seek were dropped once more.
    And it takes a jump in the offsets for a hole in the log (compaction) and acknowledges the
    offsets in between, so they could be committed unread: on uncompacted input topics a jump
    means dropped records. With its read offset always unknown, faust delivers every record it
    fetched (a second reading is handled again: the engine drops what it already has) and
    fills no gaps. Done when the app is made, before its consumer fetches anything.
    """
    consumer = app.consumer
    consumer._read_offset = _NothingBehind()  # type: ignore[attr-defined]

    async def keep_unread(tp: TP, offset_from: int, offset_to: int) -> None:
        log.debug("lead-sla worker: %s: offsets %d-%d not read yet", tp, offset_from, offset_to)

    consumer._add_gap = keep_unread  # type: ignore[attr-defined]


def _quick_delivery(app: faust.App, worker: Worker) -> None:
    """Hand each fetched record to the agent's queue without faust's four tasks per record.

    faust's consumer delivers every record through ``wait_first(deliver(record),
    suspend_flow.wait())``, which wraps both, and the service's stop and crash events, in tasks
    and waits for the first: about a tenth of the worker's time. The delivery waits only when
    flow is suspended (a rebalance) or the agent's queue is full (faust's producer buffer,
    unused here, aside). A full queue is waited out here, a millisecond at a time (the agent
    empties it a batch at a time); then, with flow running, the delivery cannot wait and is
    awaited directly. With flow suspended, faust's own path runs, so a rebalance still
    interrupts a waiting delivery.
    """
    consumer = cast("Any", app.consumer)
    slow = consumer.wait_first
    suspended = consumer.suspend_flow
    flow = app.flow_control

    def running() -> bool:
        return not suspended.is_set() and flow.is_active() and not consumer.should_stop

    async def wait_first(*coros: Any, timeout: float | None = None) -> Any:
        queue = worker.queue
        if (
            len(coros) == 2
            and timeout is None
            and queue is not None
            and asyncio.iscoroutine(coros[0])
            and asyncio.iscoroutine(coros[1])
        ):
            while queue.full() and running():
                await asyncio.sleep(0.001)
            if running() and not queue.full():
                coros[1].close()  # suspend_flow.wait(), not needed
                result = await coros[0]
                return WaitResults([coros[0]], [result], False)
        return await slow(*coros, timeout=timeout)

    consumer.wait_first = wait_first


GC_THRESHOLDS = (50_000, 20, 100)
"""The garbage collector's thresholds while the agent runs (Python's default: 700, 10, 10)."""


def _tune_gc() -> None:
    """Let the garbage collector run less often: it took a fifth of the worker's CPU.

    A batch makes hundreds of thousands of short-lived objects (decoded inputs, engine
    outputs, encoded records), freed by reference counting when the batch is done; with
    Python's default thresholds the collector ran every 700 allocations and, as the batch's
    objects outlived young collections, scanned the whole heap (faust, aiokafka, the deadline
    index) again and again: 20 % of the worker's CPU in ``gc_collect_main`` (py-spy
    ``--native``, ``bench_worker.py throughput``). What exists when the agent starts (modules,
    the app, recovered tables) is moved out of the collector's sight (``gc.freeze``), and the
    young generation is collected every 50,000 allocations: 4,527 -> 5,280-5,450 input events
    per CPU-second. Cycles are still collected, only less often.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _keep_fetching(app: faust.App) -> None:
    """Never take a partition out of the fetch because the agent's queue is under pressure.

    faust drops a partition from its fetch when it delivers a record to a queue more than 80 %
    full, and puts it back only when the queue is empty; once every partition was dropped, its
    fetcher slept a whole second before it asked again. With the worker's one agent (and its
    one queue) that happened whenever the queue ran dry: idle 0.4-0.6 s, about a tenth of a
    ``bench_worker.py throughput`` run. A full queue already holds the fetcher back (it waits
    for room, :func:`_quick_delivery`), and aiokafka fetches no more for a partition until its
    fetched records are used, so memory stays bounded without it.
    """

    def on_buffer_full(tp: TP) -> None:
        return None

    cast("Any", app.consumer).on_buffer_full = on_buffer_full


def _lean_producer_check(app: faust.App) -> None:
    """faust's per-record check of its producer buffer, without faust's settings lookups.

    Before each record is delivered, faust waits until its producer buffer (where a table
    assignment queues its changelog record) is small enough. The worker writes its table's
    store and changelog itself, so that buffer stays empty; the check itself read faust's
    settings twice per record through their descriptors, 2-3 % of the worker's CPU. Here the
    buffer's queue is looked at directly, and faust's wait runs only when it is too long.
    """
    buffer = cast("Any", app.producer).buffer
    if app.conf.producer_threaded:
        return  # the buffer is another queue then: faust's own check
    slow = buffer.wait_until_ebb
    pending = buffer.pending
    limit = buffer.max_messages

    async def wait_until_ebb() -> None:
        if pending.qsize() > limit:
            await slow()

    buffer.wait_until_ebb = wait_until_ebb


def _last_offsets(results: Sequence[Any], sending: Sequence[tuple[Any, int]]) -> dict[int, int]:
    """Per partition, the offset of the last record of the acknowledged batches."""
    last: dict[int, int] = {}
    for meta, (_future, count) in zip(results, sending, strict=True):
        end = int(meta.offset) + count - 1
        if end > last.get(meta.partition, -1):
            last[meta.partition] = end
    return last


def _due(state: LiveLead, config: LiveConfig, now: Instant) -> bool:
    wake = state.wake(config)
    return wake is not None and wake <= now


def _spans(events: Sequence[EventT[bytes]]) -> str:
    spans: dict[tuple[str, int], list[int]] = {}
    for event in events:
        message = event.message
        spans.setdefault((message.topic, message.partition), []).append(message.offset)
    return " ".join(
        f"{topic}/{partition}:{min(o)}-{max(o)}({len(o)})"
        for (topic, partition), o in sorted(spans.items())
    )


class _LeadWork:
    """One lead's share of a batch."""

    __slots__ = ("event", "fresh", "inputs", "now", "partition", "tick")

    def __init__(self, event: EventT[bytes], partition: int) -> None:
        self.event = event
        """The lead's last record in the batch: its state is written as part of it."""
        self.partition = partition
        self.inputs: list[Accepted] = []
        self.tick = False
        self.fresh = False
        self.now: Instant = 0


class _Plan(NamedTuple):
    """A batch worked out (:meth:`Worker.prepare`), for :meth:`Worker.finish` to send."""

    handled: list[EventT[bytes]]
    first: list[tuple[EventT[bytes], int, bytes, bytes | None]]
    """The states with their outboxes (None: delete), already in the local store."""
    records: list[OutRecord]
    third: list[tuple[EventT[bytes], int, bytes, bytes, bytes]]
    """Per state with an outbox: its record, partition, key, bytes with and without it."""
    schedules: list[tuple[int, str, Instant | None]]
    rewind: dict[tuple[str, int], tuple[int, int]]


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
        self.output_names = {suffix: settings.topic(suffix) for suffix in OUTPUT_TOPICS}
        self.changelog_name = changelog_topic_name(settings)
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
        self.reads = ReadTracker(stall_s=STALL_S)
        self.recovery_watch = RecoveryWatch(stall_s=STALL_S)
        self.recovery_watcher: asyncio.Future[None] | None = None
        self.guard = BacklogGuard(INPUT_TOPICS)
        self.indexed: tuple[frozenset[int], int] | None = None
        self._persisted_offsets: dict[TP, int] = {}
        self._current = _as_current if settings.store.startswith("rocksdb") else _no_current
        """faust's current event set around store access, for the RocksDB store only."""
        self.publishing: dict[bytes, bytes] = {}
        """Per lead key: its state stored with an outbox whose records are not acknowledged
        yet (the batch being finished); the next batch carries that outbox on, unpublished."""
        self.decoded: dict[bytes, tuple[bytes, bytes, LiveLead, int, list[OutRecord]]] = {}
        """Per lead key, the states this worker stored last (bytes with and without the
        outbox, the state, its generation and outbox): a lead whose
        stored bytes are still exactly these is not decoded again (``LEADSLA_STATE_CACHE``
        leads at most, the ones stored longest ago forgotten first)."""
        self.decoded_limit = settings.state_cache
        self.queue: Any = None
        """The agent's queue of fetched records (``_quick_delivery``), once the agent runs."""
        self._partitions: dict[str, tuple[dict[bytes, int], list[int]]] = {}
        """Per output topic: its partitions, and where each key seen goes (``_partition_of``)."""
        self.rebuild_again_at = 0.0

    # ------------------------------------------------------------------ the agent

    async def process(self, stream: faust.StreamT[bytes]) -> None:
        """The agent: records in batches, each acknowledged only once it was handled.

        A batch is what the stream has ready: records are gathered while more are already
        waiting in the stream's queue (up to ``batch_max``); when none is, the loop waits
        ``batch_within_s`` once for more, then handles the batch. Under load that makes batches
        of hundreds; when traffic is light, a record waits at most ``batch_within_s``.
        Acknowledgements are manual: a record is acknowledged after its outputs were
        acknowledged by the broker and its lead's state was stored, never before
        (faust's ``take()`` acknowledges its buffer when it is interrupted, and after a
        rebalance it was seen to stall: this loop does neither).
        """
        batch_max = self.settings.batch_max
        stream.enable_acks = False
        channel = cast("faust.ChannelT[bytes]", stream.channel)
        self.queue = channel.queue
        # faust's own Monitor sensor counts every record several times over (its figures feed
        # only faust's web statistics pages; the worker's metrics are its own): off the path.
        with contextlib.suppress(KeyError):
            self.app.sensors.remove(self.app.monitor)
        _tune_gc()
        pending: list[EventT[bytes]] = []
        event: EventT[bytes]
        within = self.settings.batch_within_s
        lingered = False
        finishing: asyncio.Future[None] | None = None
        async for event in stream.events():
            pending.append(event)
            if len(pending) < batch_max and not channel.empty():
                continue  # more is already waiting: take it into this batch
            if len(pending) < batch_max and not lingered:
                # Nothing more waiting: give the consumer ``batch_within_s`` to bring more, once
                # (a batch costs three acknowledged round trips to the broker, whatever its size).
                lingered = True
                await asyncio.sleep(within)
                if not channel.empty():
                    continue
            lingered = False
            batch, pending = pending, []
            try:
                # The next batch is worked out while the previous one is still being stored,
                # published and acknowledged (its task); its own sends start once that is done.
                plan = self.prepare(batch)
                if finishing is not None:
                    await finishing
                finishing = asyncio.ensure_future(self._finish_and_ack(plan, stream))
            except asyncio.CancelledError:
                if finishing is not None:
                    finishing.cancel()  # not acknowledged: read again after the restart
                # What was being published may not have been: loaded again, it is published.
                self.publishing.clear()
                raise
            except Exception:
                # Per-record failures are dead letters already (process.py); anything else here
                # is the worker's own fault. Stop at once, before any commit: the batch is read
                # again after the restart (at-least-once).
                log.exception("lead-sla worker: a batch failed; stopping so it is not lost")
                os._exit(70)

    async def _finish_and_ack(self, plan: _Plan, stream: faust.StreamT[bytes]) -> None:
        try:
            handled_events = await self.finish(plan)
            for handled in handled_events:
                await stream.ack(handled)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("lead-sla worker: a batch failed; stopping so it is not lost")
            os._exit(70)
        if trace.isEnabledFor(logging.DEBUG):
            trace.debug("batch acked: %s", _spans(handled_events))

    async def handle_batch(self, events: Sequence[EventT[bytes]]) -> list[EventT[bytes]]:
        """One batch, worked out, stored and published; the records handled (to acknowledge).
        The agent does the same in two halves, the next batch's :meth:`prepare` overlapping
        the previous batch's :meth:`finish`."""
        return await self.finish(self.prepare(events))

    def prepare(self, events: Sequence[EventT[bytes]]) -> _Plan:
        """One batch worked out: decode every record, then each lead of the batch is evaluated
        once; its new states written to the local store (with their outboxes), and what
        :meth:`finish` is to send.

        Per lead, its inputs of the batch are applied together (``domain.live.step_many``),
        on its partition's clock once the whole batch was read: the same outcome as one by one,
        one evaluation and one state write per lead instead of one per record. A record
        past a gap in its partition is left for a second reading (``continuity.py``): the
        partition is sought back once the batch is stored.
        """
        started = time.perf_counter()
        wall = wall_clock()
        processor = self.processor
        processor.counts = Counts()
        guard = self.guard
        highwater = self._highwater
        committed = self._committed
        records: list[OutRecord] = []
        # Per lead, in order of first appearance: its inputs, a tick, the last record and clock.
        work: dict[str, _LeadWork] = {}
        erased: dict[str, tuple[EventT[bytes], int]] = {}
        reads = self.reads
        reads.start(self.generation())
        now_mono = time.monotonic()
        rewind: dict[tuple[str, int], tuple[int, int]] = {}
        starts: dict[tuple[str, int], int | None] = {}  # committed offsets, read once a batch
        handled_events: list[EventT[bytes]] = []

        for event in events:
            message = event.message
            partition = message.partition
            topic = message.topic
            if topic != self.ticks_name:
                where = (topic, partition)
                if where in rewind:
                    continue  # read again after the seek
                if where in starts:
                    start = starts[where]
                else:
                    start = starts[where] = self._read_from(self.names[topic], partition)
                back = reads.admit(where, message.offset, start, now_mono)
                if back == SKIP:
                    continue  # a record further on than the second reading has reached
                if back is not None:
                    rewind[where] = (back, message.offset)
                    continue
            handled_events.append(event)
            if topic == self.ticks_name:
                lead_id = (message.key or b"").decode("utf-8", "replace")
                if event.value == ERASE:
                    # Erasure on request (`lead-sla erase`): the lead's state goes, and its
                    # latest fact gets a tombstone on the compacted facts topic.
                    erased[lead_id] = (event, partition)
                    work.pop(lead_id, None)
                    records.append(OutRecord("sla.facts", lead_id.encode(), None, [], "erase"))
                    continue
                item = work.get(lead_id)
                if item is None:
                    item = work[lead_id] = _LeadWork(event, partition)
                item.tick = True
                item.event = event
                continue
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
            accepted, letters = processor.accept(event.value, origin)
            records.extend(letters)
            if accepted is None:
                continue
            lead_id = accepted.event.lead_id
            self.metrics.observe_event_lag(suffix, (wall - accepted.event.occurred_at) / SECOND)
            item = work.get(lead_id)
            if item is None:
                item = work[lead_id] = _LeadWork(event, partition)
                item.fresh = lead_id in erased  # erased earlier in this batch: from nothing
            item.inputs.append(accepted)
            item.event = event

        # The clock of each partition once the whole batch was read (rule 14's backlog guard):
        # every input of the batch has been read by then.
        clocks = {
            partition: guard.clock(partition, wall, highwater, committed)
            for partition in {item.partition for item in work.values()}
        }
        for item in work.values():
            item.now = clocks[item.partition]
        config = self.config
        stored: list[tuple[str, LiveLead, EventT[bytes], int]] = []
        generation = self.generation()
        outboxes: dict[str, list[OutRecord]] = {}
        """Per lead: the records its new state is stored with, before they are published."""
        for lead_id, item in work.items():
            key = lead_id.encode()
            raw = None if item.fresh else self.load(item.event, key)
            state = None
            pending: list[OutRecord] = []
            carried: list[OutRecord] = []
            if raw is not None:
                state, written, pending = self._decode(key, raw)
                if pending and self.publishing.get(key) == raw:
                    # Stored by the batch before, whose records are being published right now:
                    # not published again, but kept in this state's outbox until they are.
                    carried, pending = pending, []
                if written < generation:
                    # Stored before the last rebalance or restart: a fact published by another
                    # worker after its last state reached this one may exist; step over it.
                    version = state.version + generation - written
                    fact = None if state.fact is None else state.fact._replace(version=version)
                    state = dataclasses.replace(state, version=version, fact=fact)
            elif item.inputs and generation:
                # No state: as if stored empty under generation 0.
                state = LiveLead(lead_id, version=generation)
            # Records stored with the state but maybe never published (a crash): first, again.
            lead_records = list(pending)
            handled_state: LiveLead | None = None
            if not item.inputs and (state is None or not _due(state, config, item.now)):
                # Only a tick, and not due (the lead moved on, or the guard holds the clock
                # back now): nothing to evaluate; an outbox is published all the same.
                if state is None or state.wake(config) is None:
                    self.index.settle(lead_id)
                else:
                    self.index.schedule(item.partition, lead_id, state.wake(config))
                if not pending or state is None:
                    continue
                handled_state = state
            else:

                def state_of(_lead: str, known: LiveLead | None = state) -> LiveLead | None:
                    return known

                handled = processor.advance(lead_id, item.inputs, state_of, item.now, wall)
                lead_records.extend(handled.records)
                handled_state = handled.state
                if handled_state is None and pending:
                    handled_state = state  # unchanged, but its outbox is emptied
            records.extend(lead_records)
            if handled_state is not None and not (raw is None and handled_state.empty):
                stored.append((lead_id, handled_state, item.event, item.partition))
                if (carried or lead_records) and not handled_state.empty:
                    outboxes[lead_id] = carried + lead_records
            elif state is not None:
                self.index.schedule(item.partition, lead_id, state.wake(config))
        self.metrics.observe_batch(
            processor.counts,
            [
                r.type
                for r in records
                if r.topic != "sla.facts" and r.type not in ("dead_letter", "erase")
            ],
            time.perf_counter() - started,
        )
        # 1. The new states, each with the records it made (its outbox), acknowledged before
        #    anything is published: whatever a crash leaves on the output topics is known to
        #    the stored state, and the outbox of a state is published again when it is loaded.
        first: list[tuple[EventT[bytes], int, bytes, bytes | None]] = [
            (event, partition, lead_id.encode(), None)
            for lead_id, (event, partition) in erased.items()
        ]
        # Each state with its outbox (step 1) and without (step 3), from one encoding.
        encoded: dict[str, tuple[bytes, bytes]] = {
            lead_id: state_codec.dumps_pair(
                state, partition, config, generation, outboxes.get(lead_id, ())
            )
            for lead_id, state, _event, partition in stored
            if not state.empty
        }
        decoded = self.decoded
        limit = self.decoded_limit
        for lead_id, state, _event, _partition in stored:
            key = lead_id.encode()
            decoded.pop(key, None)  # kept in the order stored
            if state.empty or not limit:
                continue
            if len(decoded) >= limit:
                del decoded[next(iter(decoded))]  # the lead stored longest ago
            with_outbox, plain = encoded[lead_id]
            decoded[key] = (with_outbox, plain, state, generation, outboxes.get(lead_id, []))
        first += [
            # a lead with nothing left to keep (domain.live: forgettable) is deleted
            (event, partition, lead_id.encode(), None if state.empty else encoded[lead_id][0])
            for lead_id, state, event, partition in stored
        ]
        self.write_local(first)
        third = [
            (event, partition, lead_id.encode(), encoded[lead_id][0], encoded[lead_id][1])
            for lead_id, _state, event, partition in stored
            if lead_id in outboxes
        ]
        for _event, _partition, key, with_outbox, _without in third:
            self.publishing[key] = with_outbox
        schedules: list[tuple[int, str, Instant | None]] = [
            (partition, lead_id, None) for lead_id, (_e, partition) in erased.items()
        ]
        schedules += [
            (partition, lead_id, state.wake(config)) for lead_id, state, _e, partition in stored
        ]
        return _Plan(handled_events, first, records, third, schedules, rewind)

    async def finish(self, plan: _Plan) -> list[EventT[bytes]]:
        """A prepared batch stored, published and stored again (see :meth:`store`); the
        records handled (to acknowledge)."""
        # 1. The states with their outboxes, on the changelog, acknowledged.
        await self.store(plan.first)
        # 2. The records, acknowledged.
        await self.publish(plan.records)
        # 3. The states again, their outboxes emptied (lost in a crash: published once more),
        #    queued before anything the next batch sends but not waited for; not for a lead
        #    the next batch has stored again already (its state carries this outbox on).
        data = cast("StoreT[bytes, bytes]", self.table.data)
        again: list[tuple[EventT[bytes], int, bytes, bytes | None]] = []
        decoded = self.decoded
        for event, partition, key, with_outbox, without in plan.third:
            if self.publishing.get(key) == with_outbox:
                del self.publishing[key]
            with self._current(event):
                if data.get(key) == with_outbox:
                    again.append((event, partition, key, without))
                    known = decoded.get(key)
                    if known is not None and known[0] == with_outbox:
                        # stored without its outbox now: the records need not be kept
                        decoded[key] = (without, without, known[2], known[3], [])
        self.write_local(again)
        await self.store(again, acknowledged=False)
        for partition, lead_id, wake in plan.schedules:
            self.index.schedule(partition, lead_id, wake)
        for (topic, partition), (offset, seen) in plan.rewind.items():
            await self.rewind(topic, partition, offset, f"record {seen} came before {offset}")
        return plan.handled

    async def rewind(self, topic: str, partition: int, offset: int, why: str) -> None:
        """Seek a partition back to ``offset``: an input partition whose records faust dropped
        after it, or a changelog partition of a stalled recovery (:meth:`unstall_recovery`)."""
        log.warning(
            "lead-sla worker: %s/%d: %s; reading it again from offset %d",
            topic,
            partition,
            why,
            offset,
        )
        self.metrics.rewinds = self.reads.rewinds  # the tracker counts the seeks it asked for
        await self.app.consumer.seek(TP(topic, partition), offset)

    def _decode(self, key: bytes, raw: bytes) -> state_codec.Stored:
        """A stored state decoded, or taken from :attr:`decoded` when ``raw`` is exactly the
        bytes this worker stored it as (with or without its outbox)."""
        loads = self.metrics.state_loads
        known = self.decoded.get(key)
        if known is not None:
            with_outbox, plain, state, epoch, outbox = known
            if raw == plain:
                loads["kept"] += 1
                return state_codec.Stored(state, epoch, [])
            if raw == with_outbox:
                loads["kept"] += 1
                return state_codec.Stored(state, epoch, outbox)
        loads["decoded"] += 1
        return state_codec.load(raw)

    def load(self, event: EventT[bytes], key: bytes) -> bytes | None:
        """A lead's stored state, read with its own record as faust's "current event": the
        RocksDB store reads the partition of the current event (in a batch, the stream's is the
        batch's last record, maybe of another partition)."""
        with self._current(event):
            return cast("bytes | None", self.table.data.get(key))

    async def store(
        self,
        writes: Sequence[tuple[EventT[bytes], int, bytes, bytes | None]],
        *,
        acknowledged: bool = True,
    ) -> None:
        """Store leads' new states on the changelog, acknowledged (the local store has them
        already: :meth:`write_local`).

        faust's own path (``table[key] = value``) queues the changelog record in its producer
        buffer, and neither an acknowledgement nor a commit waits for that buffer to be sent
        (its flush gives up after 0.1 s), so a crash could lose a state whose input offset was
        already committed. Here each state goes to the changelog directly, and this returns
        only once the broker has every one: the batch's inputs are acknowledged after that.
        The changelog offsets are persisted beside the local store: what the RocksDB store's
        recovery resumes from.

        With ``acknowledged=False`` (the states whose outbox was published: losing them only
        means publishing the outbox once more) this returns once the records are queued in the
        producer, in order before anything sent after them, without waiting for the broker.
        """
        if not writes:
            return
        data = cast("StoreT[bytes, bytes]", self.table.data)
        messages: list[Message] = [
            (self.changelog_name, key, value, partition, None)
            for _e, partition, key, value in writes
        ]
        if acknowledged:
            self._persisted(data, await self._send_all(messages))
            return
        try:
            sending = await self._queue_batches(messages)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "lead-sla worker: states not stored again (%s: %s)", type(exc).__name__, exc
            )
            return

        def done(gathered: asyncio.Future[list[Any]]) -> None:
            if gathered.cancelled():
                return
            if gathered.exception() is not None:
                log.warning("lead-sla worker: states not stored again: %s", gathered.exception())
                return
            self._persisted(data, _last_offsets(gathered.result(), sending))

        asyncio.gather(*(future for future, _count in sending)).add_done_callback(done)

    def write_local(self, writes: Sequence[tuple[EventT[bytes], int, bytes, bytes | None]]) -> None:
        """The table's own store (memory or RocksDB), each with its record as faust's current
        event (the RocksDB store takes the partition from it)."""
        data = cast("StoreT[bytes, bytes]", self.table.data)
        current = self._current
        for event, _partition, key, value in writes:
            with current(event):
                if value is None:
                    if key in data:
                        del data[key]
                else:
                    data[key] = value

    def _persisted(self, data: StoreT[bytes, bytes], offsets: Mapping[int, int]) -> None:
        for partition, offset in offsets.items():
            tp = TP(self.changelog_name, partition)
            if offset > self._persisted_offsets.get(tp, -1):
                self._persisted_offsets[tp] = offset
                data.set_persisted_offset(tp, offset)

    async def publish(self, records: Sequence[OutRecord]) -> None:
        """Send every record and wait until the broker has them all."""
        if not records:
            return
        started = time.perf_counter()
        await self._send_all(
            [(self.output_names[r.topic], r.key, r.value, None, r.headers) for r in records]
        )
        sent = wall_clock()
        self.metrics.observe_send(time.perf_counter() - started)
        for record in records:
            if record.due is not None and record.topic != "sla.facts":
                self.metrics.observe_alert_delay((sent - record.due) / SECOND)

    async def _send_all(self, messages: Sequence[Message]) -> dict[int, int]:
        """Send ``messages`` through the app's producer, in order, and wait until the broker
        acknowledged every one (``acks=all``); while it cannot, try again after a pause.

        The records are packed into one record batch per partition (aiokafka's
        ``create_batch``/``send_batch``, as many as the batch size needs), so there is one
        future per batch, not per record: per-record sends (faust's ``Topic.send``, then
        aiokafka's ``send``, futures and all) were most of the worker's cost. Records with a
        key and no partition go where Kafka's default partitioner puts them (murmur2 of the
        key, as any producer). Per partition, the records keep their order, and aiokafka keeps
        one batch per partition in flight, so they reach the log in that order. Returns, per
        partition, the offset of the last record written (the changelog's persisted offsets).
        """
        attempt = 0
        while True:
            try:
                return await self._send_batches(messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempt += 1
                log.warning(
                    "lead-sla worker: cannot publish %d records (%s: %s); retrying (attempt %d)",
                    len(messages),
                    type(exc).__name__,
                    exc,
                    attempt,
                )
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))

    async def _send_batches(self, messages: Sequence[Message]) -> dict[int, int]:
        sending = await self._queue_batches(messages)
        results = await asyncio.gather(*(future for future, _count in sending))
        return _last_offsets(results, sending)

    async def _queue_batches(self, messages: Sequence[Message]) -> list[tuple[Any, int]]:
        """Queue ``messages`` in the producer as record batches; each batch's future (settled
        when the broker acknowledged it) and how many records it holds."""
        producer = cast("Any", self.app.producer)._ensure_producer()
        groups: dict[tuple[str, int], list[Message]] = {}
        partition_of = self._partition_of
        for message in messages:
            topic, key, _value, partition, _headers = message
            if partition is None:
                partition = await partition_of(producer, topic, key)
            groups.setdefault((topic, partition), []).append(message)
        sending: list[tuple[Any, int]] = []
        for (topic, partition), group in groups.items():
            batch = producer.create_batch()
            count = 0
            for _topic, key, value, _partition, headers in group:
                appended = batch.append(key=key, value=value, timestamp=None, headers=headers or [])
                if appended is None:  # full: send it, and start the next one with this record
                    future = await producer.send_batch(batch, topic, partition=partition)
                    sending.append((future, count))
                    batch = producer.create_batch()
                    count = 0
                    appended = batch.append(
                        key=key, value=value, timestamp=None, headers=headers or []
                    )
                    if appended is None:
                        raise ValueError(f"a record of {len(value or b'')} bytes fits no batch")
                count += 1
            if count:
                sending.append(
                    (await producer.send_batch(batch, topic, partition=partition), count)
                )
        return sending

    async def _partition_of(self, producer: Any, topic: str, key: bytes | None) -> int:
        """Where Kafka's default partitioner puts ``key`` in ``topic`` (cached per key)."""
        cache = self._partitions.get(topic)
        if cache is None or key is None:
            await producer.client._wait_on_metadata(topic)
            metadata = producer.client.cluster
            every = sorted(metadata.partitions_for_topic(topic) or ())
            available = list(metadata.available_partitions_for_topic(topic) or ())
            if key is None:
                return int(producer._partitioner(None, every, available))
            cache = self._partitions[topic] = ({}, every)
        known, every = cache
        partition = known.get(key)
        if partition is None:
            if len(known) >= 1 << 16:
                known.clear()
            partition = known[key] = int(producer._partitioner(key, every, every))
        return partition

    # ------------------------------------------------------------------ the clock

    def generation(self) -> int:
        """The consumer group generation this worker's assignment belongs to."""
        value = getattr(self.app, "consumer_generation_id", None)
        return int(value) if isinstance(value, int) and value > 0 else 0

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

    def _read_from(self, topic: str, partition: int) -> int | None:
        """The group's committed offset of an input partition as faust knows it; None while it
        does not know it yet (records can arrive before faust records what it sought to).

        faust keeps a committed offset of 0 as None: a partition it has an entry for with None
        starts at 0 (``ensure_group_offsets`` committed an offset for every input partition).
        """
        offsets = getattr(self.app.consumer, "_committed_offset", {})
        tp = TP(self.settings.topic(topic), partition)
        if tp not in offsets:
            return None
        value = offsets[tp]
        return 0 if value is None else int(value)

    def assigned_partitions(self) -> frozenset[int]:
        try:
            assignment = self.app.consumer.assignment()
        except Exception:
            return frozenset()
        return frozenset(tp.partition for tp in assignment if tp.topic == self.ticks_name)

    async def rebuild_index(self, partitions: frozenset[int]) -> None:
        """The deadline index of ``partitions``, from the table (after recovery or a rebalance).

        The table is read in slices of ``REBUILD_SLICE`` leads with the event loop let go in
        between, so a worker holding a million leads goes on handling records and answering
        its health checks meanwhile; what the agent schedules during the rebuild wins over what
        the rebuild read (``DeadlineIndex.begin_rebuild``).
        """
        started = time.monotonic()
        self.index.begin_rebuild()
        entries: list[tuple[str, int, Instant]] = []
        items: Iterable[tuple[Any, Any]] = self.table.items()
        if not self.settings.store.startswith("rocksdb"):
            items = list(items)  # a dict cannot be read while the agent writes it: a snapshot
        try:
            for number, (key, raw) in enumerate(items):
                if number % REBUILD_SLICE == REBUILD_SLICE - 1:
                    await asyncio.sleep(0)
                if raw is None:
                    continue
                try:
                    wake, partition = state_codec.header(raw)
                except state_codec.StateError:
                    continue
                if wake is not None and partition in partitions:
                    entries.append((bytes(key).decode("utf-8", "replace"), partition, wake))
        except BaseException:
            self.index.touched = None
            raise
        self.index.rebuild(partitions, entries)
        log.info(
            "lead-sla worker: deadline index rebuilt for partitions %s: %d leads with a timer "
            "(%.1f s)",
            sorted(partitions),
            len(entries),
            time.monotonic() - started,
        )

    def start_recovery_watch(self) -> None:
        """Watch the table's recoveries from the first assignment on (:meth:`unstall_recovery`
        every second while one is under way): faust starts the app's timers, the deadline
        loop's among them, only once its first recovery is over. Started again after the app
        stopped it (a restart of the app ends its futures)."""
        if self.recovery_watcher is None or self.recovery_watcher.done():
            self.recovery_watcher = self.app.add_future(self._watch_recovery())

    async def _watch_recovery(self) -> None:
        while True:
            await asyncio.sleep(RECOVERY_WATCH_S)
            if not getattr(self.app, "in_recovery", False):
                continue
            try:
                await self.unstall_recovery(time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a rebalance under way: the next turn tries again
                log.warning("lead-sla worker: recovery watch: %s: %s", type(exc).__name__, exc)

    async def unstall_recovery(self, now: float) -> None:
        """Seek back the changelog partitions of a table recovery that receive nothing while
        records wait (:class:`~streams.continuity.RecoveryWatch`), and let them be fetched."""
        recovery = getattr(self.app.tables, "_recovery", None)
        if recovery is None:
            return
        watch = self.recovery_watch
        due = watch.stalled(
            getattr(recovery, "_recovery_started_at", None),
            recovery.active_offsets,
            recovery.active_highwaters,
            getattr(recovery, "_active_events_received_at", {}),
            now,
        )
        why = f"the table's recovery received nothing for {watch.stall_s:.0f} s while records wait"
        for (topic, partition), offset in due:
            self.app.consumer.resume_partitions([TP(topic, partition)])
            await self.rewind(topic, partition, offset, why)

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
            await self.rebuild_index(partitions)
        wall = wall_clock()
        sent = 0
        self.index.overdue(now_mono, TICK_RESEND_S)
        for partition in partitions:
            until = self.guard.clock(partition, wall, self._highwater, self._committed)
            due = self.index.pop_due(partition, until, now_mono)
            for number, (lead_id, _wake) in enumerate(due):
                try:
                    await self.ticks.send(
                        key=lead_id.encode(), value=TICK, partition=partition, force=True
                    )
                except Exception:
                    for lead, wake in due[number:]:  # not sent: due again on the next turn
                        self.index.schedule(partition, lead, wake)
                    raise
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
        # Records faust fetched and dropped with nothing after them: read them again.
        self.reads.start(self.generation())
        for suffix in INPUT_TOPICS:
            topic = self.settings.topic(suffix)
            for partition in partitions:
                start = self._read_from(suffix, partition)
                if start is None and self.settings.auto_offset_reset == "latest":
                    continue  # where reading starts is not known: never back to the start
                back = self.reads.stalled(
                    (topic, partition), self._highwater(suffix, partition), start, now_mono
                )
                if back is not None:
                    await self.rewind(topic, partition, back, "records waiting, none delivered")


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
        # A batch's records go out as few record batches as this allows; aiokafka keeps one
        # batch per partition in flight, so each further batch of a partition costs a round trip.
        producer_max_batch_size=RECORD_BATCH_BYTES,
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

    _deliver_all(app)
    _quick_delivery(app, worker)
    _keep_fetching(app)
    _lean_producer_check(app)
    # concurrency=1: with more, faust can commit past a record still in flight (faust #606).
    app.agent(worker.inputs, name="leads", concurrency=1)(worker.process)

    async def deadlines() -> None:
        try:
            await worker.tick()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The broker away, a rebalance under way: the next turn tries again (an exception
            # leaving a faust timer would stop the worker).
            log.warning("lead-sla worker: deadline loop: %s: %s", type(exc).__name__, exc)

    app.timer(interval=settings.tick_interval_s)(deadlines)

    def watch_recoveries(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        worker.start_recovery_watch()

    app.on_partitions_assigned.connect(watch_recoveries)

    return app
