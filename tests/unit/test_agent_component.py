"""Component test of the faust wiring (``streams/app.py``) without a broker.

The real app from ``create_app`` with a ``memory://`` store is driven through its own
``Worker.handle_batch`` (the agent body) and ``Worker.tick`` (the deadline loop) on a simulated
wall clock; only the edges that need a broker are replaced: ``publish`` (capture the records),
``store`` and ``load`` (the table's memory store, no changelog), the high-water marks, the partition
assignment and the ticks topic (ticks sent are fed back through ``handle_batch``, as the broker
would). The acceptance scenarios' rich history, with late, held, repeated and mis-keyed inputs
on top, must end where the engine's ``evaluate`` ends: the same final facts (all but
``version``) and the same standing alerts and tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest
from faust.types import TP, EventT

import leadsla.streams.app as app_module
from leadsla.codec import decode_line, output_event_id, wire_data
from leadsla.domain.engine import ALERT_TYPES, RETRACTED, TASK_TYPES, evaluate
from leadsla.domain.events import InputEvent
from leadsla.domain.instant import MINUTE, SECOND, Instant, parse_rfc3339
from leadsla.domain.policy import Policy
from leadsla.policy_file import parse_policy
from leadsla.settings import Settings
from leadsla.streams import state as state_codec
from leadsla.streams.app import TICK, Worker, create_app
from leadsla.streams.process import OutRecord
from leadsla.topics import INPUT_TOPICS, LEADS_ACTIVITY, LEADS_CREATED, LEADS_OWNERSHIP, SLA_DLQ

from ..acceptance.scenario import BASE, activity, assigned, created, rich_history, rich_policy

PARTITIONS = 3
PREFIX = "unit."
T0 = parse_rfc3339(BASE.isoformat())
TOPIC_OF_TYPE = {
    "lead.created": LEADS_CREATED,
    "lead.owner_assigned": LEADS_OWNERSHIP,
    "lead.updated": LEADS_CREATED,
    "lead.activity_logged": LEADS_ACTIVITY,
    "lead.status_changed": LEADS_ACTIVITY,
    "lead.breach_resolved": LEADS_ACTIVITY,
}


def partition_of(key: bytes) -> int:
    return zlib.crc32(key) % PARTITIONS


@dataclass
class Delivery:
    """One input record and the wall-clock minute (after BASE) at which it is read."""

    envelope: dict[str, Any]
    read_minute: float
    key: bytes | None = None
    keyed_by_lead: bool = True

    @property
    def value(self) -> bytes:
        return orjson.dumps(self.envelope)

    @property
    def record_key(self) -> bytes | None:
        return str(self.envelope["lead_id"]).encode() if self.keyed_by_lead else self.key


class _Record(SimpleNamespace):
    """A record as the agent sees it (a subclass: the worker keeps weak references to it)."""


@dataclass
class Harness:
    """The real faust app's worker, with the broker's part played here."""

    worker: Worker
    wall: Instant = T0
    published: list[OutRecord] = field(default_factory=list)
    log_end: dict[tuple[str, int], int] = field(default_factory=dict)
    pending_ticks: list[tuple[bytes, int]] = field(default_factory=list)
    changelog: dict[bytes, bytes] = field(default_factory=dict)
    """The last state stored on the changelog per lead (what a restarted worker recovers)."""
    ticks_sent: int = 0

    # -- the broker's side
    async def publish(self, records: Sequence[OutRecord]) -> None:
        self.published.extend(records)

    async def store(
        self,
        writes: Sequence[tuple[EventT[bytes], int, bytes, bytes | None]],
        *,
        acknowledged: bool = True,
    ) -> None:
        for _event, _partition, key, value in writes:
            if value is None:
                self.changelog.pop(key, None)
            else:
                self.changelog[key] = value

    def highwater(self, topic: str, partition: int) -> int | None:
        return self.log_end.get((topic, partition), 0)

    def committed(self, topic: str, partition: int) -> int | None:
        return None

    async def send_tick(
        self, *, key: bytes, value: bytes, partition: int, force: bool = False
    ) -> None:
        assert value == TICK and force
        self.pending_ticks.append((key, partition))
        self.ticks_sent += 1

    # -- driving it
    def _event(self, topic: str, partition: int, key: bytes | None, value: bytes) -> EventT[bytes]:
        tp = (topic, partition)
        offset = self.log_end.get(tp, 0)
        self.log_end[tp] = offset + 1
        message = SimpleNamespace(
            topic=topic,
            partition=partition,
            offset=offset,
            key=key,
            headers=[],
            timestamp=self.wall / SECOND,
        )
        return cast("EventT[bytes]", _Record(message=message, value=value))

    def records(self, deliveries: Sequence[Delivery]) -> list[EventT[bytes]]:
        events = []
        for d in deliveries:
            topic = TOPIC_OF_TYPE[str(d.envelope["type"])]
            key = d.record_key
            partition = partition_of(str(d.envelope["lead_id"]).encode())
            events.append(self._event(PREFIX + topic, partition, key, d.value))
        return events

    def read(self, deliveries: Sequence[Delivery]) -> None:
        asyncio.run(self.worker.handle_batch(self.records(deliveries)))

    def run_clock(self) -> None:
        """One turn of the deadline loop, and the ticks it sent read back by the agent."""
        for _ in range(10):
            asyncio.run(self.worker.tick())
            if not self.pending_ticks:
                return
            ticks, self.pending_ticks = self.pending_ticks, []
            events = [self._event(self.worker.ticks_name, p, key, TICK) for key, p in ticks]
            asyncio.run(self.worker.handle_batch(events))
        raise AssertionError("the deadline loop does not settle")

    def facts(self) -> dict[str, dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for record in self.published:
            if record.topic != "sla.facts" or record.value is None:  # None: an erasure
                continue
            value = orjson.loads(record.value)
            lead = value["lead_id"]
            if lead not in latest or value["data"]["version"] > latest[lead]["data"]["version"]:
                latest[lead] = value
        return latest

    def outputs(self) -> Iterator[dict[str, Any]]:
        seen: set[str] = set()
        for record in self.published:
            if record.topic == SLA_DLQ or record.value is None:
                continue
            value = orjson.loads(record.value)
            if value["event_id"] not in seen:
                seen.add(value["event_id"])
                yield value

    def letters(self) -> list[dict[str, Any]]:
        return [orjson.loads(r.value or b"null") for r in self.published if r.topic == SLA_DLQ]


@pytest.fixture
def policy() -> Policy:
    return parse_policy(rich_policy())


def make_harness(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch, state_cache: int = 20_000
) -> Harness:
    """A fresh app (as a restarted worker process would build it) with its broker edges."""
    settings = Settings(
        state_cache=state_cache,
        store="memory://",
        data_dir=str(tmp_path),
        app_id="component",
        topic_prefix=PREFIX,
        partitions=PARTITIONS,
        bootstrap_servers="kafka://127.0.0.1:1",  # never contacted
    )
    app = create_app(settings, policy)
    worker = cast("Worker", app.worker)  # type: ignore[attr-defined]
    harness = Harness(worker)
    monkeypatch.setattr(app_module, "wall_clock", lambda: harness.wall)
    monkeypatch.setattr(worker, "publish", harness.publish)
    monkeypatch.setattr(worker, "store", harness.store)
    monkeypatch.setattr(worker, "load", lambda _event, key: worker.table.data.get(key))
    monkeypatch.setattr(worker, "_highwater", lambda topic, p: harness.highwater(PREFIX + topic, p))
    monkeypatch.setattr(worker, "_committed", harness.committed)
    monkeypatch.setattr(worker, "assigned_partitions", lambda: frozenset(range(PARTITIONS)))
    monkeypatch.setattr(worker, "ticks", SimpleNamespace(send=harness.send_tick))
    return harness


@pytest.fixture
def harness(tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch) -> Harness:
    return make_harness(tmp_path, policy, monkeypatch)


def _deliveries() -> list[Delivery]:
    """The rich history read 30 s after each event, plus late, held, repeated, mis-keyed input."""
    history = rich_history()
    deliveries = [Delivery(e, float(_minute(e)) + 0.5) for e in history]
    # a late answer: made at +30 (inside the window), read at +75 (after the breach at +60)
    deliveries += [
        Delivery(created("L-late", at=0), 0.5),
        Delivery(assigned("L-late", at=0, owner="alice"), 0.5),
        Delivery(activity("L-late", at=30, actor="alice", kind="call"), 75.5),
    ]
    # a held lead: its owner arrives 2 minutes before the lead itself (inside the 300 s wait)
    deliveries += [
        Delivery(assigned("L-held", at=40, owner="alice"), 40.5),
        Delivery(created("L-held", at=40), 42.5),
    ]
    # a repeat (the same record read again) and a record keyed by another lead
    deliveries.append(Delivery(deliveries[0].envelope, 3.5))
    deliveries.append(Delivery(activity("L-d", at=21, actor="dave"), 21.5, b"L-a", False))
    return deliveries


def _minute(envelope: dict[str, Any]) -> float:
    return (parse_rfc3339(str(envelope["occurred_at"])) - T0) / MINUTE


def _run(harness: Harness, deliveries: list[Delivery], until_minute: int) -> Instant:
    by_minute: dict[int, list[Delivery]] = {}
    for d in deliveries:
        by_minute.setdefault(int(d.read_minute), []).append(d)
    for minute in range(until_minute + 1):
        harness.wall = T0 + minute * MINUTE + 30 * SECOND
        batch = by_minute.pop(minute, [])
        if batch:
            harness.read(batch)
        harness.run_clock()
    assert not by_minute
    return harness.wall


def _standing(outputs: list[dict[str, Any]]) -> set[str]:
    retracted = {o["data"]["retracted_event_id"] for o in outputs if o["type"] == RETRACTED}
    return {
        o["event_id"]
        for o in outputs
        if o["type"] in ALERT_TYPES | TASK_TYPES
        and o["event_id"] not in retracted
        and not o["data"].get("suppressed")
    }


def test_the_real_app_ends_where_the_engine_ends(harness: Harness, policy: Policy) -> None:
    # Given the acceptance scenarios' rich history and the extra cases, read on a wall clock
    # running alongside the events, the deadline loop turning every minute
    deliveries = _deliveries()
    end = _run(harness, deliveries, until_minute=400)
    # Then for every lead the final fact is the engine's over the same inputs, but the version
    accepted: dict[str, list[InputEvent]] = {}
    for d in deliveries:
        if d.keyed_by_lead:
            event = decode_line(d.value)
            accepted.setdefault(event.lead_id, []).append(event)
    facts = harness.facts()
    assert set(facts) == set(accepted)
    outputs = list(harness.outputs())
    wanted_standing: set[str] = set()
    for lead_id, events in accepted.items():
        replay = evaluate(lead_id, events, end, policy)
        assert replay.fact is not None
        live = {k: v for k, v in facts[lead_id]["data"].items() if k != "version"}
        assert live == {k: v for k, v in wire_data(replay.fact).items() if k != "version"}, lead_id
        wanted_standing |= {
            output_event_id(lead_id, o.type, o.occurred_at, o.data)
            for o in replay.outputs
            if o.type in ALERT_TYPES | TASK_TYPES
        }
    # and the alerts and tasks still standing are the engine's, with the same event ids
    assert _standing(outputs) == wanted_standing
    # The late answer retracted what it made untrue, on the topic that carried it
    late = [o for o in outputs if o["lead_id"] == "L-late"]
    assert {o["data"]["retracted_type"] for o in late if o["type"] == RETRACTED} >= {
        "sla.breached",
        "sla.escalation_task",
    }
    assert facts["L-late"]["data"]["status"] == "met"
    # The mis-keyed record is one dead letter; nothing else was refused
    letters = harness.letters()
    assert len(letters) == 1 and "Kafka key" in letters[0]["reason"]
    assert letters[0]["topic"] == PREFIX + LEADS_ACTIVITY
    # The metrics saw the repeat, the dead letter, and the ticks the deadline loop sent
    metrics = harness.worker.metrics
    assert metrics.duplicates == 1
    assert metrics.dead_letters["key"] == 1
    assert metrics.ticks == harness.ticks_sent > 0


def test_the_table_holds_every_lead_in_its_own_partition(harness: Harness) -> None:
    _run(harness, _deliveries(), until_minute=200)
    stored = {bytes(k).decode(): bytes(v) for k, v in harness.worker.table.data.items()}
    assert "L-a" in stored and "L-held" in stored
    # the changelog ends with what the local store holds (nothing left half-stored)
    assert {k.decode(): v for k, v in harness.changelog.items()} == stored
    for lead_id, raw in stored.items():
        wake, partition = state_codec.header(raw)
        state = state_codec.loads(raw)
        assert state.lead_id == lead_id
        assert partition == partition_of(lead_id.encode())
        assert wake == state.wake(harness.worker.config)
        # and the deadline index knows exactly the leads that still need the clock
        scheduled = harness.worker.index.scheduled.get(lead_id)
        assert scheduled == (None if wake is None else (partition, wake))


def test_the_backlog_guard_holds_a_lagging_partition_back(harness: Harness) -> None:
    # Given a lead read at +0.5 whose deadline (+60) has passed on the wall clock
    lead = created("L-lag", at=0)
    harness.read([Delivery(lead, 0.5)])
    partition = partition_of(b"L-lag")
    # while its partition still has unread input on leads.activity (appended, not read)
    harness.log_end[(PREFIX + LEADS_ACTIVITY, partition)] = 5
    harness.wall = T0 + 120 * MINUTE
    harness.run_clock()
    # Then no deadline of that partition fires past the record time read there
    assert harness.ticks_sent == 0
    assert not [o for o in harness.outputs() if o["type"] == "sla.breached"]
    # When the partition has caught up, the breach goes out
    harness.log_end[(PREFIX + LEADS_ACTIVITY, partition)] = 0
    harness.run_clock()
    breaches = [o for o in harness.outputs() if o["type"] == "sla.breached"]
    assert [b["lead_id"] for b in breaches] == ["L-lag"]


def test_a_restarted_worker_rebuilds_its_deadlines_from_the_table(
    harness: Harness, tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker that read a lead and stopped before its deadline
    harness.read([Delivery(created("L-r", at=0), 0.5)])
    assert not [o for o in harness.outputs() if o["type"] == "sla.breached"]
    stored = dict(harness.changelog)
    # When a new worker starts with the recovered table and the wall clock is past the deadline
    (tmp_path / "again").mkdir()
    fresh = make_harness(tmp_path / "again", policy, monkeypatch)
    for key, value in stored.items():
        fresh.worker.table.data[key] = value
    fresh.log_end = {(PREFIX + t, p): 0 for t in INPUT_TOPICS for p in range(PARTITIONS)}
    fresh.wall = T0 + 61 * MINUTE
    fresh.run_clock()
    # Then the deadline fires from the rebuilt index
    breaches = [o for o in fresh.outputs() if o["type"] == "sla.breached"]
    assert [b["lead_id"] for b in breaches] == ["L-r"]


def test_a_tick_read_while_the_partition_fell_behind_is_not_lost(harness: Harness) -> None:
    # Given a lead L read at +0.5 and another lead M of the same partition read at +1.5 (the
    # last record read on leads.activity there), L's deadline at +60
    lead = "L-tick"
    partition = partition_of(lead.encode())
    other = next(f"M-{i}" for i in range(100) if partition_of(f"M-{i}".encode()) == partition)
    harness.read([Delivery(created(lead, at=0), 0.5)])
    harness.wall = T0 + MINUTE + 30 * SECOND
    harness.read([Delivery(created(other, at=1, customer_status="existing_customer"), 1.5)])
    # When the deadline loop sends L's tick at +61 (the partition caught up)
    harness.wall = T0 + 61 * MINUTE
    asyncio.run(harness.worker.tick())
    assert [key for key, _ in harness.pending_ticks] == [lead.encode()]
    # and, before the tick is read, a new record for M is appended on leads.activity there
    appended = [Delivery(activity(other, at=61, actor="dave", kind="note"), 61.0)]
    behind = (PREFIX + LEADS_ACTIVITY, partition)
    before = harness.log_end.get(behind, 0)
    harness.log_end[behind] = before + 1
    ticks, harness.pending_ticks = harness.pending_ticks, []
    tick_events = [harness._event(harness.worker.ticks_name, p, k, TICK) for k, p in ticks]
    asyncio.run(harness.worker.handle_batch(tick_events))
    # and then read (the partition has caught up again), the wall clock running on
    harness.log_end[behind] = before  # the appended record is the next one read
    harness.read(appended)
    for minute in range(62, 70):
        harness.wall = T0 + minute * MINUTE
        harness.run_clock()
    # Then L's breach has been published: a deadline may fire late, never not at all
    breaches = [o for o in harness.outputs() if o["type"] == "sla.breached"]
    assert [b["lead_id"] for b in breaches] == [lead]


def test_a_tick_that_could_not_be_sent_is_sent_on_a_later_turn(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a lead whose deadline (+60) has passed, and a broker that refuses the first send
    harness.read([Delivery(created("L-send", at=0), 0.5)])
    harness.wall = T0 + 61 * MINUTE
    refused: list[bytes] = []

    async def flaky(*, key: bytes, value: bytes, partition: int, force: bool = False) -> None:
        if not refused:
            refused.append(key)
            raise ConnectionError("broker unreachable")
        await harness.send_tick(key=key, value=value, partition=partition, force=force)

    monkeypatch.setattr(harness.worker, "ticks", SimpleNamespace(send=flaky))
    # When the deadline loop turns (the send fails: the app's timer logs it and goes on) and
    # turns again
    with contextlib.suppress(ConnectionError):
        asyncio.run(harness.worker.tick())
    harness.wall += MINUTE
    harness.run_clock()
    # Then the breach goes out, late but not never
    assert refused == [b"L-send"]
    breaches = [o for o in harness.outputs() if o["type"] == "sla.breached"]
    assert [b["lead_id"] for b in breaches] == ["L-send"]


def test_a_crash_between_storing_and_publishing_loses_nothing(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker that stores a batch's states and dies before its records reach the broker
    first = make_harness(tmp_path / "first", policy, monkeypatch)
    lost: list[OutRecord] = []

    async def killed(records: Sequence[OutRecord]) -> None:
        lost.extend(records)
        raise RuntimeError("kill -9")

    monkeypatch.setattr(first.worker, "publish", killed)
    batch = [Delivery(created("L-crash", at=0), 0.5), Delivery(assigned("L-crash", at=0), 0.5)]
    first.wall = T0 + 30 * SECOND
    with pytest.raises(RuntimeError):
        first.read(batch)
    assert lost, "the batch made records"
    assert first.published == []
    # When a new worker recovers the stored states (the changelog) and its clock turns
    second = make_harness(tmp_path / "second", policy, monkeypatch)
    for key, value in first.changelog.items():
        second.worker.table.data[key] = value
    second.wall = first.wall
    second.run_clock()
    # Then every record of the lost batch is published, byte for byte, without any input
    assert [(r.topic, r.key, r.value) for r in second.published] == [
        (r.topic, r.key, r.value) for r in lost
    ]
    # ... and the state keeps no outbox any more; the inputs read again change nothing
    raw = second.worker.table.data[b"L-crash"]
    assert state_codec.load(raw).outbox == []
    published = len(second.published)
    second.read(batch)
    assert len(second.published) == published


def _sent(harness: Harness) -> list[tuple[str, bytes, bytes | None]]:
    return [(r.topic, r.key, r.value) for r in harness.published]


def test_a_batch_worked_out_while_the_one_before_is_published_repeats_and_loses_nothing(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two batches for one lead, and what a worker finishing each before the next sends
    one = [Delivery(created("L-pipe", at=0), 0.5)]
    two = [Delivery(assigned("L-pipe", at=1), 0.5), Delivery(activity("L-pipe", at=2), 0.5)]
    serial = make_harness(tmp_path / "serial", policy, monkeypatch)
    serial.wall = T0 + 5 * MINUTE
    serial.read(one)
    serial.read(two)
    # When the agent works the second batch out before the first is stored and published
    piped = make_harness(tmp_path / "piped", policy, monkeypatch)
    piped.wall = serial.wall
    worker = piped.worker
    first = worker.prepare(piped.records(one))
    second = worker.prepare(piped.records(two))
    # Then the second state carries the first outbox on, unpublished ...
    raw = worker.table.data[b"L-pipe"]
    carried = state_codec.load(raw).outbox
    assert carried[: len(first.records)] == first.records
    assert second.records, "the second batch made records of its own"
    assert not set(map(id, second.records)) & set(map(id, first.records))
    asyncio.run(worker.finish(first))
    asyncio.run(worker.finish(second))
    # ... and what is published is what the serial worker published, once, in the same order
    assert _sent(piped) == _sent(serial)
    assert state_codec.load(worker.table.data[b"L-pipe"]).outbox == []


@pytest.mark.parametrize("recovered_from", ["changelog", "local store"])
def test_a_crash_while_the_batch_before_is_published_loses_nothing(
    recovered_from: str, tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a worker that worked out a second batch while publishing the first, and died there
    one = [Delivery(created("L-pipe-crash", at=0), 0.5)]
    two = [
        Delivery(assigned("L-pipe-crash", at=1), 0.5),
        Delivery(activity("L-pipe-crash", at=2), 0.5),
    ]
    first = make_harness(tmp_path / "first", policy, monkeypatch)
    first.wall = T0 + 5 * MINUTE
    lost: list[OutRecord] = []

    async def killed(records: Sequence[OutRecord]) -> None:
        lost.extend(records)
        raise RuntimeError("kill -9")

    monkeypatch.setattr(first.worker, "publish", killed)
    plan_one = first.worker.prepare(first.records(one))
    assert first.worker.prepare(first.records(two)).records, "the second batch made records"
    with pytest.raises(RuntimeError):
        asyncio.run(first.worker.finish(plan_one))
    assert lost
    # When a new worker starts from the changelog (memory store), or from the local store the
    # dead one left (RocksDB kept on disk), which holds the second batch's state already
    second = make_harness(tmp_path / "second", policy, monkeypatch)
    kept = first.changelog if recovered_from == "changelog" else dict(first.worker.table.data)
    for key, value in kept.items():
        second.worker.table.data[key] = value
    second.wall = first.wall
    second.run_clock()
    # Then the first batch's records are published all the same, byte for byte
    sent = _sent(second)
    assert all((r.topic, r.key, r.value) in sent for r in lost)


def test_the_agent_collects_garbage_less_often_and_not_its_start_up_objects() -> None:
    import gc

    before = gc.get_threshold()
    try:
        gc.unfreeze()
        app_module._tune_gc()
        assert gc.get_threshold() == app_module.GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what existed at the start is out of the scans
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_decoded_state_cache_changes_nothing(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same reads through a worker that keeps states decoded and one that does not
    deliveries = _deliveries()
    cached = make_harness(tmp_path / "cached", policy, monkeypatch)
    _run(cached, deliveries, until_minute=200)
    plain = make_harness(tmp_path / "plain", policy, monkeypatch, state_cache=0)
    _run(plain, deliveries, until_minute=200)
    # Then they publish the same records and store the same states, byte for byte
    assert cached.worker.decoded and not plain.worker.decoded
    # and say where their states came from
    kept = cached.worker.metrics.state_loads
    assert kept["kept"] > 0 and kept["kept"] > kept["decoded"]
    assert plain.worker.metrics.state_loads["kept"] == 0
    assert plain.worker.metrics.state_loads["decoded"] == sum(kept.values())
    assert [(r.topic, r.key, r.value) for r in cached.published] == [
        (r.topic, r.key, r.value) for r in plain.published
    ]
    assert cached.changelog == plain.changelog


def test_a_state_stored_by_someone_else_is_decoded_from_the_store(harness: Harness) -> None:
    # Given a lead this worker stored (and keeps decoded)
    harness.read([Delivery(created("L-x", at=0), 0.5)])
    key = b"L-x"
    data = harness.worker.table.data
    assert key in harness.worker.decoded
    # When its state in the store is replaced by other bytes (another worker's, after a
    # rebalance): here the same lead at fact version 41
    mine = state_codec.load(data[key])
    assert mine.state.fact is not None
    theirs = state_codec.dumps(
        dataclasses.replace(mine.state, version=41, fact=mine.state.fact._replace(version=41)),
        partition_of(key),
        epoch=mine.epoch,
    )
    data[key] = theirs
    harness.wall = T0 + MINUTE
    harness.read([Delivery(assigned("L-x", at=0.9, owner="alice"), 1.0)])
    # Then the next fact follows the stored state, not the one this worker remembered
    assert harness.facts()["L-x"]["data"]["version"] == 42


def test_faust_never_drops_a_partition_from_the_fetch_and_checks_its_buffer_cheaply(
    harness: Harness,
) -> None:
    app = harness.worker.app
    consumer = cast("Any", app.consumer)
    # Given faust's consumer, when a queue is under pressure for a partition
    tp = TP(PREFIX + LEADS_CREATED, 0)
    consumer.on_buffer_full(tp)
    # Then the partition stays in the fetch (faust's own would drop it, then sleep a second)
    assert tp not in consumer._buffered_partitions
    # And the producer-buffer check waits (faust's own wait) only when the buffer is long
    buffer = cast("Any", app.producer).buffer
    waited: list[int] = []

    async def wait() -> None:
        await buffer.wait_until_ebb()
        waited.append(buffer.pending.qsize())

    asyncio.run(wait())
    assert waited == [0]
    for _ in range(buffer.max_messages + 1):
        buffer.pending.put_nowait(None)
    slow_calls: list[int] = []

    async def flush_atmost(n: int) -> int:
        slow_calls.append(n)
        while buffer.pending.qsize():
            buffer.pending.get_nowait()
        return n

    buffer.flush_atmost = flush_atmost
    asyncio.run(wait())
    assert slow_calls == [buffer.max_messages] and waited == [0, 0]
