"""Every input record read, in spite of faust: the next offset to read, per input partition.

faust drops records in three places around a rebalance, after the Kafka client has already moved
past them: records fetched while its flow is suspended, records of partitions it does not count
as active yet (recovery), and messages of the previous generation that reach the stream (those it
even acknowledges). It then seeks every partition back to its committed offset, which undoes the
loss, but only when the seek comes after the drop, and a partition with no committed offset is not
sought at all. Worse, when the next record it delivers is further on, faust takes the offsets in
between for a hole in the log (compaction) and acknowledges them, so they are committed unread.
Seen on this project's broker tests: a worker that kept its partitions after a second worker
joined never read their first records.

The worker therefore keeps, per input partition, the next offset it must read (from the group's
committed offset as faust knows it, then from each record it handles) and checks every record
against it, so that a partition is always handled in offset order (rule 14's backlog guard
depends on it: a partition is caught up only when everything before is read):

- a record further on than expected means records were dropped: the worker seeks the partition
  back to the expected offset and leaves this record for the second reading (not acknowledged);
- until the expected record arrives, the records further on (already on their way when it
  sought back) are left for the second reading too; if it does not arrive within
  ``cooldown_s`` while later ones do, the offset holds no record (a transaction marker): the
  worker seeks back once more and takes the first record that comes as the next one;
- a record before the expected offset is a second reading: handled again (the engine drops
  what it already has; outputs keep their ids);
- a partition whose log end is past the next offset to read while nothing of it arrived for
  ``stall_s`` seconds is sought back too (the records were dropped and nothing came after them;
  no record at all may have come).

Pure bookkeeping: the worker (``app.py``) does the seeks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Key = tuple[str, int]
"""(topic, partition)"""
SKIP = -1
""":meth:`ReadTracker.admit`: leave this record for the second reading."""


@dataclass(slots=True)
class _Partition:
    next: int | None = None
    """The next offset to read, once a record was handled (else the committed offset counts)."""
    rewound_to: int | None = None
    """The offset this partition was sought back to and not read yet (None: reading in order)."""
    rewound_at: float | None = None
    """Monotonic time of its last seek back."""
    hole: bool = False
    """Sought back a second time: the first record that comes is the next one."""
    last_seen: float = 0.0
    """Monotonic time of its last record (or of the start of the generation)."""


class ReadTracker:
    """Per input partition, the next offset to read; see the module docstring."""

    def __init__(self, stall_s: float = 10.0, cooldown_s: float = 5.0) -> None:
        self.stall_s = stall_s
        self.cooldown_s = cooldown_s
        self.partitions: dict[Key, _Partition] = {}
        self.generation = -1
        self.rewinds = 0
        """Seeks asked for so far (a metric: records faust dropped, or real holes)."""

    def start(self, generation: int) -> None:
        """A new assignment: what was expected under the old one no longer holds."""
        if generation != self.generation:
            self.generation = generation
            self.partitions.clear()

    def admit(self, key: Key, offset: int, committed: int | None, now: float) -> int | None:
        """Whether the record at ``offset`` is handled now: None; :data:`SKIP` to leave it for
        the second reading; else the offset to seek the partition back to (the record is left
        for the second reading too). ``committed``: the group's committed offset for the
        partition, None when not known (yet)."""
        state = self.partitions.get(key)
        if state is None:
            state = self.partitions[key] = _Partition()
        state.last_seen = now
        expected = state.next if state.next is not None else committed
        target = state.rewound_to
        if target is not None:  # waiting for the second reading to reach ``target``
            if offset > target:
                if state.hole:
                    state.hole = False  # the first record after a missing offset: taken
                    state.rewound_to = None
                elif state.rewound_at is not None and now - state.rewound_at >= self.cooldown_s:
                    state.hole = True  # ``target`` never came: a hole; read again, take next
                    state.rewound_at = now
                    self.rewinds += 1
                    return target
                else:
                    return SKIP
            elif offset == target:
                state.rewound_to = None  # the second reading reached the gap: in order again
        elif expected is not None and offset > expected:
            state.rewound_at = now
            state.rewound_to = expected
            self.rewinds += 1
            return expected
        if state.next is None or offset + 1 > state.next:
            state.next = offset + 1
        return None

    def stalled(
        self, key: Key, log_end: int | None, committed: int | None, now: float
    ) -> int | None:
        """The offset to seek ``key`` back to when records of it are waiting but none arrived for
        ``stall_s`` seconds; else None."""
        state = self.partitions.get(key)
        if state is None:
            self.partitions[key] = _Partition(last_seen=now)
            return None
        expected = state.next if state.next is not None else (committed or 0)
        if log_end is None or log_end <= expected:
            state.last_seen = now  # nothing waiting: nothing can be stalled
            return None
        if now - state.last_seen < self.stall_s:
            return None
        state.last_seen = now
        state.rewound_at = now
        state.rewound_to = expected
        state.hole = False
        self.rewinds += 1
        return expected


@dataclass(slots=True)
class RecoveryWatch:
    """Per changelog partition of a table recovery, when the worker last sought it back.

    faust's recovery reads each active changelog partition from the offset its table has to the
    partition's end; it ends when every one is read. Seen on this project's broker tests (2 of 3
    full runs, 2026-11-30): after the other worker of the group was killed, the survivor's
    recovery received no changelog record at all for minutes, while records were waiting, and
    its deadlines never fired (faust-streaming #21, #74: recoveries that hang). A partition of a
    recovery that has received nothing for ``stall_s`` seconds while records remain is sought
    back to where the recovery stands, as faust's own start of recovery does, at most once every
    ``stall_s`` seconds (a record read twice is applied twice: a store write, the same value).
    """

    stall_s: float = 10.0
    started_at: float | None = None
    """The recovery these seeks belong to (faust's start time of it)."""
    sought_at: dict[Key, float] = field(default_factory=dict)
    seeks: int = 0
    """Seeks asked for so far."""

    def stalled(
        self,
        started_at: float | None,
        offsets: Mapping[Key, int | None],
        log_ends: Mapping[Key, int | None],
        received_at: Mapping[Key, float],
        now: float,
    ) -> list[tuple[Key, int]]:
        """The changelog partitions to seek back, with the offset to read from.

        ``started_at``: when the recovery started (None: none is under way); ``offsets``: per
        active changelog partition, the last offset its table has (-1: none; None: unknown,
        left to faust); ``log_ends``: the
        last offset of the partition (faust's highwater); ``received_at``: when a record of it
        last arrived (absent: none since the recovery started).
        """
        if started_at is None:
            return []
        if started_at != self.started_at:
            self.started_at = started_at
            self.sought_at.clear()
        due: list[tuple[Key, int]] = []
        for key, offset in offsets.items():
            end = log_ends.get(key)
            if offset is None or end is None or offset >= end:
                continue  # read to its end: nothing is waiting
            last = max(received_at.get(key, started_at), self.sought_at.get(key, started_at))
            if now - last < self.stall_s:
                continue
            self.sought_at[key] = now
            self.seeks += 1
            due.append((key, max(offset, 0)))
        return due
