"""The worker's read tracker (``streams/continuity.py``): records faust dropped are read again,
and a partition is handled in offset order."""

from __future__ import annotations

from leadsla.streams.continuity import SKIP, ReadTracker, RecoveryWatch

P = ("t.leads.created", 2)


def test_records_in_order_from_the_committed_offset_are_all_handled() -> None:
    reads = ReadTracker()
    reads.start(1)
    assert [reads.admit(P, offset, 0, 1.0) for offset in range(5)] == [None] * 5
    assert reads.rewinds == 0


def test_a_record_past_a_gap_asks_for_the_partition_to_be_read_again_from_the_gap() -> None:
    # Given records 0-3 dropped by the consumer: the first record delivered is 4
    reads = ReadTracker()
    reads.start(1)
    # Then the worker must go back to the committed offset, and not handle 4 now
    assert reads.admit(P, 4, 0, 1.0) == 0
    # ... the records already on their way are left for the second reading too
    assert reads.admit(P, 5, 0, 1.1) == SKIP
    assert reads.admit(P, 6, 0, 1.1) == SKIP
    # ... which handles every record in order
    assert [reads.admit(P, offset, 0, 1.2) for offset in range(8)] == [None] * 8
    assert reads.rewinds == 1
    # a gap later on: read again from it
    assert reads.admit(P, 12, 0, 2.0) == 8
    assert reads.admit(P, 8, 0, 2.1) is None


def test_a_real_hole_costs_one_more_reading_never_a_loop() -> None:
    # Given offset 3 holds no record (a transaction marker): 2 then 4
    reads = ReadTracker(cooldown_s=5.0)
    reads.start(1)
    assert reads.admit(P, 2, 2, 1.0) is None
    assert reads.admit(P, 4, 2, 1.0) == 3  # read again from 3
    assert reads.admit(P, 4, 2, 2.0) == SKIP  # 3 may still come
    assert reads.admit(P, 5, 2, 2.0) == SKIP
    # When 3 has not come within the cooldown, it is a hole: read again, take what comes
    assert reads.admit(P, 4, 2, 6.5) == 3
    assert reads.admit(P, 4, 2, 6.6) is None
    assert reads.admit(P, 5, 2, 6.6) is None
    assert reads.rewinds == 2


def test_an_unknown_committed_offset_is_not_held_against_the_first_record() -> None:
    reads = ReadTracker()
    reads.start(1)
    assert reads.admit(P, 263, None, 1.0) is None
    assert reads.admit(P, 264, 263, 1.0) is None
    assert reads.rewinds == 0


def test_a_second_reading_of_handled_records_is_handled_again() -> None:
    reads = ReadTracker()
    reads.start(1)
    for offset in range(3):
        assert reads.admit(P, offset, 0, 1.0) is None
    assert reads.admit(P, 1, 0, 1.0) is None  # re-delivered: handled (idempotent), no seek
    assert reads.admit(P, 3, 0, 1.0) is None
    assert reads.rewinds == 0


def test_a_partition_with_records_waiting_and_none_delivered_is_read_again_after_stall_s() -> None:
    # Given a partition whose log has 4 records and none was delivered
    reads = ReadTracker(stall_s=10.0)
    reads.start(1)
    assert reads.stalled(P, 4, 0, 100.0) is None  # first look: the clock starts
    assert reads.stalled(P, 4, 0, 105.0) is None  # not yet
    # When nothing came for stall_s seconds, it is read again from the committed offset
    assert reads.stalled(P, 4, 0, 110.5) == 0
    # ... and not again before another stall_s
    assert reads.stalled(P, 4, 0, 115.0) is None
    assert reads.rewinds == 1
    # ... and in order: a stale record further on waits for the second reading
    assert reads.admit(P, 2, 0, 111.0) == SKIP
    assert reads.admit(P, 0, 0, 111.0) is None
    # an unknown committed offset counts as the start of the log
    other = ("t.leads.activity", 0)
    reads.stalled(other, 2, None, 100.0)
    assert reads.stalled(other, 2, None, 111.0) == 0


def test_a_partition_that_is_read_up_to_its_end_is_never_stalled() -> None:
    reads = ReadTracker(stall_s=10.0)
    reads.start(1)
    for offset in range(4):
        reads.admit(P, offset, 0, 100.0)
    assert reads.stalled(P, 4, 0, 100.0) is None
    assert reads.stalled(P, 4, 0, 500.0) is None
    assert reads.stalled(P, None, 0, 900.0) is None


def test_a_new_generation_forgets_the_old_positions() -> None:
    reads = ReadTracker()
    reads.start(1)
    reads.admit(P, 10, 10, 1.0)
    reads.start(2)
    # the committed offset of the new assignment counts again
    assert reads.admit(P, 20, 15, 2.0) == 15
    reads.start(2)  # the same generation: kept (still waiting for 15)
    assert reads.admit(P, 20, 15, 2.0) == SKIP
    assert reads.admit(P, 15, 15, 2.0) is None


C0 = ("t.wt-leads-changelog", 0)
C1 = ("t.wt-leads-changelog", 1)


def test_a_recovery_partition_that_receives_nothing_while_records_wait_is_sought_back() -> None:
    # Given a recovery started at t=100 that must read C0 from offset 4 to 9 and C1 from none
    watch = RecoveryWatch(stall_s=10.0)
    offsets = {C0: 4, C1: -1}
    ends: dict[tuple[str, int], int | None] = {C0: 9, C1: 3}
    # When nothing arrived yet, before the stall time: nothing to do
    assert watch.stalled(100.0, offsets, ends, {}, 109.9) == []
    # When nothing arrived for the stall time: both are sought back to where recovery stands
    assert watch.stalled(100.0, offsets, ends, {}, 110.0) == [(C0, 4), (C1, 0)]
    # ... once: not again before another stall time
    assert watch.stalled(100.0, offsets, ends, {}, 115.0) == []
    assert watch.stalled(100.0, offsets, ends, {}, 120.0) == [(C0, 4), (C1, 0)]
    assert watch.seeks == 4


def test_a_recovery_partition_that_receives_or_is_read_to_its_end_is_left_alone() -> None:
    watch = RecoveryWatch(stall_s=10.0)
    # C0 receives records (its last 3 s ago); C1 is read to its end; a partition without a
    # known end is left to faust
    offsets = {C0: 4, C1: 7, ("t.x-changelog", 0): 0}
    ends: dict[tuple[str, int], int | None] = {C0: 9, C1: 7, ("t.x-changelog", 0): None}
    assert watch.stalled(100.0, offsets, ends, {C0: 127.0}, 130.0) == []
    # C0 then stops receiving while records wait: sought back after the stall time
    assert watch.stalled(100.0, offsets, ends, {C0: 127.0}, 137.0) == [(C0, 4)]


def test_no_recovery_no_seek_and_a_new_recovery_starts_afresh() -> None:
    watch = RecoveryWatch(stall_s=10.0)
    offsets, ends = {C0: 4}, {C0: 9}
    assert watch.stalled(None, offsets, dict(ends), {}, 500.0) == []  # no recovery under way
    assert watch.stalled(100.0, offsets, dict(ends), {}, 110.0) == [(C0, 4)]
    # A new recovery (another rebalance) at 111: its own stall time counts from its start
    assert watch.stalled(111.0, offsets, dict(ends), {}, 115.0) == []
    assert watch.stalled(111.0, offsets, dict(ends), {}, 121.0) == [(C0, 4)]
