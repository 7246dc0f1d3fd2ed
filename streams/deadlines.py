"""Deadlines as an index, and the backlog guard: the worker's clock, per partition.

:class:`DeadlineIndex` keeps, for each partition this worker holds, an ordered heap of
``(wake, lead_id)``: the next instant each lead needs the clock. The deadline loop pops what is
due, which costs work per deadline due, never a scan of the open leads. Entries are never
removed in place: a lead re-scheduled at another instant leaves a stale entry behind, skipped
when popped (``scheduled`` knows each lead's current instant).

:class:`BacklogGuard` is rule 14's second half. While a partition still has unread input (after
a restart, a rebalance or a lag spike), its clock does not run past the time of the input
already read there, so a backlog never becomes a burst of false breaches. The time compared is
the Kafka record timestamp of the inputs read, not their ``occurred_at``: the log's order is
append order, and a record's timestamp says how far into the log's history the worker has read
(everything appended before it has been read too), while ``occurred_at`` is the source system's
time and may be far older than the moment the record was written (late or back-filled data), so
it would hold the clock back for no reason, or not enough if a source clock runs ahead.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable

from leadsla.domain.instant import Instant

TopicPartition = tuple[str, int]


class DeadlineIndex:
    """Per-partition ordered wake instants of the leads this worker holds."""

    def __init__(self) -> None:
        self.heaps: dict[int, list[tuple[Instant, str]]] = {}
        self.scheduled: dict[str, tuple[int, Instant]] = {}
        self.inflight: dict[str, tuple[int, Instant, float]] = {}
        """Ticks sent and not yet seen by the agent: (partition, wake, when sent)."""
        self.touched: set[str] | None = None
        """Leads scheduled or settled since :meth:`begin_rebuild` (their entries in the table
        read for the rebuild may be older than what the index knows)."""

    def schedule(self, partition: int, lead_id: str, wake: Instant | None) -> None:
        """The lead's next wake instant (None: it needs the clock no more)."""
        if self.touched is not None:
            self.touched.add(lead_id)
        self.inflight.pop(lead_id, None)
        current = self.scheduled.get(lead_id)
        if wake is None:
            if current is not None:
                del self.scheduled[lead_id]
            return
        if current == (partition, wake):
            return
        self.scheduled[lead_id] = (partition, wake)
        heapq.heappush(self.heaps.setdefault(partition, []), (wake, lead_id))

    def pop_due(
        self, partition: int, until: Instant, sent_at: float = 0.0
    ) -> list[tuple[str, Instant]]:
        """Leads of ``partition`` whose wake instant is at or before ``until``.

        They leave the heap and are kept as in flight (sent at ``sent_at``, a monotonic time)
        until the agent has seen their tick: see :meth:`settle` and :meth:`overdue`.
        """
        heap = self.heaps.get(partition)
        due: list[tuple[str, Instant]] = []
        scheduled = self.scheduled
        inflight = self.inflight
        while heap and heap[0][0] <= until:
            wake, lead_id = heapq.heappop(heap)
            if scheduled.get(lead_id) == (partition, wake):
                del scheduled[lead_id]
                inflight[lead_id] = (partition, wake, sent_at)
                due.append((lead_id, wake))
        return due

    def settle(self, lead_id: str) -> None:
        """The agent has seen the lead's tick and needs nothing more for it."""
        if self.touched is not None:
            self.touched.add(lead_id)
        self.inflight.pop(lead_id, None)

    def overdue(self, now: float, after: float) -> int:
        """Ticks in flight for more than ``after`` seconds (a tick lost with the broker, a
        crash) go back into the index, to be sent again: a deadline may fire late, never not
        at all. Returns how many."""
        late = [(lead, v) for lead, v in self.inflight.items() if now - v[2] > after]
        for lead_id, (partition, wake, _sent) in late:
            del self.inflight[lead_id]
            if lead_id not in self.scheduled:
                self.schedule(partition, lead_id, wake)
        return len(late)

    def begin_rebuild(self) -> None:
        """A rebuild starts: the table is read from now on, while the agent goes on scheduling
        leads here; what it schedules meanwhile wins over what the rebuild read."""
        self.touched = set()

    def rebuild(
        self, partitions: Iterable[int], entries: Iterable[tuple[str, int, Instant]]
    ) -> None:
        """Start over for ``partitions`` from ``(lead_id, partition, wake)`` of the table.

        After :meth:`begin_rebuild`, the leads scheduled or settled since then keep what the
        index knows of them, and their entries in ``entries`` (maybe read before) are ignored.
        """
        touched = self.touched or set()
        self.touched = None
        keep = set(partitions)
        known, flying = self.scheduled, self.inflight
        self.heaps = {p: [] for p in keep}
        self.scheduled = {}
        self.inflight = {}
        for lead_id, partition, wake in entries:
            if partition in keep and lead_id not in touched:
                self.scheduled[lead_id] = (partition, wake)
                self.heaps[partition].append((wake, lead_id))
        for lead_id in touched:
            current = known.get(lead_id)
            if current is not None and current[0] in keep:
                self.scheduled[lead_id] = current
                self.heaps[current[0]].append((current[1], lead_id))
            sent = flying.get(lead_id)
            if sent is not None and sent[0] in keep:
                self.inflight[lead_id] = sent
        for heap in self.heaps.values():
            heapq.heapify(heap)

    def forget(self, partitions: Iterable[int]) -> None:
        for partition in partitions:
            self.heaps.pop(partition, None)
        gone = set(partitions)
        self.scheduled = {k: v for k, v in self.scheduled.items() if v[0] not in gone}
        self.inflight = {k: v for k, v in self.inflight.items() if v[0] not in gone}

    def __len__(self) -> int:
        return len(self.scheduled)


class BacklogGuard:
    """How far each partition's clock may run: the wall clock, or the input read so far."""

    def __init__(self, input_topics: Iterable[str]) -> None:
        self.input_topics = tuple(input_topics)
        self.position: dict[TopicPartition, int] = {}
        """The next offset to read: last input processed + 1."""
        self.read_time: dict[TopicPartition, Instant] = {}
        """Record timestamp of the last input processed."""

    def observe(self, topic: str, partition: int, offset: int, timestamp: Instant) -> None:
        tp = (topic, partition)
        if offset + 1 > self.position.get(tp, -1):
            self.position[tp] = offset + 1
        if timestamp > self.read_time.get(tp, -1):
            self.read_time[tp] = timestamp

    def lag(
        self, topic: str, partition: int, highwater: int | None, committed: int | None = None
    ) -> int | None:
        """Records of ``topic``/``partition`` not yet processed (None: not known yet).

        Before this worker has read anything there, the group's committed offset says where
        processing stands (a restart with nothing new to read is caught up).
        """
        if highwater is None:
            return None
        position = self.position.get((topic, partition))
        if position is None:
            position = committed or 0
        return max(0, highwater - position)

    def clock(
        self,
        partition: int,
        wall: Instant,
        highwater: Callable[[str, int], int | None],
        committed: Callable[[str, int], int | None] = lambda topic, partition: None,
    ) -> Instant:
        """The instant ``partition``'s deadlines may run to (rule 14's backlog guard)."""
        limit = wall
        for topic in self.input_topics:
            behind = self.lag(
                topic, partition, highwater(topic, partition), committed(topic, partition)
            )
            if behind == 0:
                continue  # caught up on this topic: it does not hold the clock back
            # Unread (or not yet known) input: no later than what was read there.
            limit = min(limit, self.read_time.get((topic, partition), 0))
        return limit
