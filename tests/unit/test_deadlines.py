"""The worker's clock per partition: the deadline index and the backlog guard (rule 14).

``DeadlineIndex`` must hand out each due lead once, in wake order, per partition, and never a lead
whose wake instant moved since it was scheduled. ``BacklogGuard`` must never let a partition's
deadlines run past the record time of the input read there while input is still unread.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from leadsla.domain.instant import MINUTE, SECOND, parse_rfc3339
from leadsla.streams.deadlines import BacklogGuard, DeadlineIndex
from leadsla.topics import INPUT_TOPICS, LEADS_ACTIVITY, LEADS_CREATED, LEADS_OWNERSHIP

T0 = parse_rfc3339("2026-03-02T09:00:00Z")
WALL = T0 + 60 * MINUTE


# ------------------------------------------------------------------ the deadline index


def test_pop_due_gives_the_due_leads_of_one_partition_in_wake_order() -> None:
    # Given three leads of partition 0 scheduled out of order, and one of partition 1
    index = DeadlineIndex()
    index.schedule(0, "c", T0 + 30)
    index.schedule(0, "a", T0 + 10)
    index.schedule(0, "b", T0 + 20)
    index.schedule(1, "x", T0 + 5)
    # When partition 0's clock reaches T0 + 20 (inclusive)
    due = index.pop_due(0, T0 + 20)
    # Then a and b come out, earliest first; the lead of partition 1 does not
    assert due == [("a", T0 + 10), ("b", T0 + 20)]
    # and they are removed: the next turn gives only what became due since
    assert index.pop_due(0, T0 + 20) == []
    assert index.pop_due(0, T0 + 100) == [("c", T0 + 30)]
    assert index.pop_due(1, T0 + 100) == [("x", T0 + 5)]
    assert len(index) == 0


def test_a_lead_rescheduled_later_is_not_popped_at_its_old_instant() -> None:
    # Given a lead scheduled at +10 and then moved to +50 (its heap entry at +10 stays behind)
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    index.schedule(0, "L", T0 + 50)
    # When the clock passes +10, nothing is due
    assert index.pop_due(0, T0 + 20) == []
    # Then at +50 it is due exactly once
    assert index.pop_due(0, T0 + 60) == [("L", T0 + 50)]
    assert index.pop_due(0, T0 + 1000) == []


def test_a_lead_rescheduled_earlier_is_popped_once_and_its_stale_entry_skipped() -> None:
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 50)
    index.schedule(0, "L", T0 + 10)
    assert index.pop_due(0, T0 + 20) == [("L", T0 + 10)]
    # the stale +50 entry is skipped when the clock reaches it
    assert index.pop_due(0, T0 + 60) == []
    assert len(index) == 0


def test_a_lead_that_needs_the_clock_no_more_is_never_popped() -> None:
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    index.schedule(0, "L", None)
    assert len(index) == 0
    assert index.pop_due(0, T0 + 60) == []


def test_scheduling_the_same_instant_twice_pops_the_lead_once() -> None:
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    index.schedule(0, "L", T0 + 10)
    assert index.pop_due(0, T0 + 60) == [("L", T0 + 10)]


def test_a_lead_popped_and_scheduled_again_at_the_same_instant_is_due_again() -> None:
    # A tick that found nothing to do leaves the lead at its wake; the index must take it back.
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    assert index.pop_due(0, T0 + 10) == [("L", T0 + 10)]
    index.schedule(0, "L", T0 + 10)
    assert index.pop_due(0, T0 + 10) == [("L", T0 + 10)]


def test_rebuild_keeps_only_the_given_partitions_and_drops_what_was_there() -> None:
    # Given an index holding a lead that the table no longer has
    index = DeadlineIndex()
    index.schedule(0, "gone", T0 + 1)
    entries = [("a", 0, T0 + 30), ("b", 1, T0 + 10), ("c", 2, T0 + 20), ("d", 0, T0 + 5)]
    # When it is rebuilt for partitions 0 and 2 from the table's entries
    index.rebuild([0, 2], entries)
    # Then it holds exactly the leads of those partitions, ordered by wake
    assert len(index) == 3
    assert index.pop_due(0, T0 + 100) == [("d", T0 + 5), ("a", T0 + 30)]
    assert index.pop_due(2, T0 + 100) == [("c", T0 + 20)]
    assert index.pop_due(1, T0 + 100) == []


def test_forget_drops_the_revoked_partitions_only() -> None:
    index = DeadlineIndex()
    index.schedule(0, "a", T0 + 10)
    index.schedule(1, "b", T0 + 10)
    index.schedule(2, "c", T0 + 10)
    index.forget([0, 2])
    assert len(index) == 1
    assert index.pop_due(0, T0 + 100) == []
    assert index.pop_due(2, T0 + 100) == []
    assert index.pop_due(1, T0 + 100) == [("b", T0 + 10)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=2),  # partition
            st.sampled_from(["a", "b", "c", "d", "e"]),
            st.one_of(st.none(), st.integers(min_value=0, max_value=100)),
        ),
        max_size=40,
    ),
    st.integers(min_value=0, max_value=100),
)
def test_pop_due_gives_exactly_the_last_schedule_of_each_due_lead(
    schedules: list[tuple[int, str, int | None]], until: int
) -> None:
    # Given any sequence of (re-)schedules (a lead lives in one partition, like a key)
    home = {lead: partition for partition, lead, _ in reversed(schedules)}
    index = DeadlineIndex()
    last: dict[str, int | None] = {}
    for _, lead, wake in schedules:
        index.schedule(home[lead], lead, wake)
        last[lead] = wake
    # When every partition's clock reaches `until`
    popped = [item for partition in range(3) for item in index.pop_due(partition, until)]
    # Then each lead whose latest wake is due comes out once, at that wake, in order per partition
    expected = {(lead, wake) for lead, wake in last.items() if wake is not None and wake <= until}
    assert sorted(popped) == sorted(expected)
    assert len(popped) == len(expected)
    for partition in range(3):
        mine = [wake for lead, wake in popped if home[lead] == partition]
        assert mine == sorted(mine)
    assert len(index) == sum(1 for w in last.values() if w is not None and w > until)


# ------------------------------------------------------------------ the backlog guard


class Offsets:
    """The consumer's view: high-water marks and committed offsets per (topic, partition)."""

    def __init__(
        self,
        highwater: dict[tuple[str, int], int | None] | None = None,
        committed: dict[tuple[str, int], int | None] | None = None,
    ) -> None:
        self.marks = dict(highwater or {})
        self.commits = dict(committed or {})

    def highwater(self, topic: str, partition: int) -> int | None:
        return self.marks.get((topic, partition))

    def committed(self, topic: str, partition: int) -> int | None:
        return self.commits.get((topic, partition))


def _caught_up(partition: int, read: dict[str, int]) -> Offsets:
    """High-water marks equal to what was read (next offset) on every input topic."""
    return Offsets({(t, partition): read.get(t, 0) for t in INPUT_TOPICS})


def test_a_lagging_partition_runs_no_later_than_the_record_time_read_there() -> None:
    # Given partition 0 read up to offset 4 of leads.activity, whose record time is T0 + 5 min,
    # with 6 more records unread
    guard = BacklogGuard(INPUT_TOPICS)
    guard.observe(LEADS_ACTIVITY, 0, 4, T0 + 5 * MINUTE)
    offsets = Offsets(
        {(LEADS_ACTIVITY, 0): 11, (LEADS_CREATED, 0): 0, (LEADS_OWNERSHIP, 0): 0},
    )
    # When the wall clock is an hour later
    clock = guard.clock(0, WALL, offsets.highwater, offsets.committed)
    # Then the partition's deadlines run only to the record time read there
    assert clock == T0 + 5 * MINUTE
    assert guard.lag(LEADS_ACTIVITY, 0, 11) == 6


def test_a_caught_up_partition_runs_on_the_wall_clock() -> None:
    guard = BacklogGuard(INPUT_TOPICS)
    guard.observe(LEADS_CREATED, 0, 9, T0 + MINUTE)
    guard.observe(LEADS_ACTIVITY, 0, 2, T0 + 2 * MINUTE)
    offsets = _caught_up(0, {LEADS_CREATED: 10, LEADS_ACTIVITY: 3})
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) == WALL


def test_one_lagging_topic_holds_the_partition_back_even_if_the_others_are_caught_up() -> None:
    guard = BacklogGuard(INPUT_TOPICS)
    guard.observe(LEADS_CREATED, 0, 9, T0 + 50 * MINUTE)
    guard.observe(LEADS_OWNERSHIP, 0, 0, T0 + 3 * MINUTE)
    offsets = Offsets(
        {(LEADS_CREATED, 0): 10, (LEADS_OWNERSHIP, 0): 5, (LEADS_ACTIVITY, 0): 0},
    )
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) == T0 + 3 * MINUTE


def test_a_lagging_partition_does_not_hold_back_another_partition() -> None:
    guard = BacklogGuard(INPUT_TOPICS)
    guard.observe(LEADS_CREATED, 1, 0, T0)
    offsets = Offsets({(t, p): 0 for t in INPUT_TOPICS for p in (0, 1)})
    offsets.marks[(LEADS_CREATED, 1)] = 100  # partition 1 is far behind
    assert guard.clock(1, WALL, offsets.highwater, offsets.committed) == T0
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) == WALL


def test_an_unknown_highwater_holds_the_clock_back() -> None:
    # Given a worker that has read one record of leads.created and does not know that topic's
    # high-water mark yet (the other two are known and empty)
    guard = BacklogGuard(INPUT_TOPICS)
    guard.observe(LEADS_CREATED, 0, 0, T0 + MINUTE)
    offsets = Offsets({(LEADS_OWNERSHIP, 0): 0, (LEADS_ACTIVITY, 0): 0, (LEADS_CREATED, 0): None})
    # Then the partition runs no later than what it read there
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) == T0 + MINUTE
    assert guard.lag(LEADS_CREATED, 0, None) is None
    # and a partition with nothing read and nothing known does not run at all
    unknown = Offsets()
    assert guard.clock(1, WALL, unknown.highwater, unknown.committed) <= 0


def test_a_restart_with_nothing_new_to_read_is_caught_up() -> None:
    # Given a restarted worker that has read nothing yet, whose group committed offset equals
    # the high-water mark on every input topic
    guard = BacklogGuard(INPUT_TOPICS)
    offsets = Offsets(
        {(t, 0): 40 for t in INPUT_TOPICS},
        {(t, 0): 40 for t in INPUT_TOPICS},
    )
    # Then its deadlines run on the wall clock at once
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) == WALL
    assert guard.lag(LEADS_CREATED, 0, 40, 40) == 0


def test_a_restart_with_input_left_to_read_is_held_back() -> None:
    guard = BacklogGuard(INPUT_TOPICS)
    offsets = Offsets(
        {(t, 0): 40 for t in INPUT_TOPICS},
        {(LEADS_CREATED, 0): 40, (LEADS_OWNERSHIP, 0): 40, (LEADS_ACTIVITY, 0): 30},
    )
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) < T0
    assert guard.lag(LEADS_ACTIVITY, 0, 40, 30) == 10


def test_the_position_and_record_time_only_move_forward() -> None:
    # A record re-read after a rebalance (an older offset and timestamp) must not move the
    # guard back: the position stays after the furthest record read.
    guard = BacklogGuard(INPUT_TOPICS)
    guard.observe(LEADS_CREATED, 0, 9, T0 + 10 * MINUTE)
    guard.observe(LEADS_CREATED, 0, 3, T0 + 2 * MINUTE)
    assert guard.lag(LEADS_CREATED, 0, 10) == 0
    offsets = Offsets({(t, 0): 0 for t in INPUT_TOPICS})
    offsets.marks[(LEADS_CREATED, 0)] = 12
    assert guard.clock(0, WALL, offsets.highwater, offsets.committed) == T0 + 10 * MINUTE


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(INPUT_TOPICS),
            st.integers(min_value=0, max_value=3600),  # seconds after T0
        ),
        min_size=1,
        max_size=30,
    ),
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=7 * 24 * 3600),
)
def test_while_input_is_unread_the_clock_never_passes_a_record_time_read(
    reads: list[tuple[str, int]], unread: int, wall_after: int
) -> None:
    # Given records read in log order on partition 0 (offsets counting up per topic)
    guard = BacklogGuard(INPUT_TOPICS)
    next_offset: dict[str, int] = {}
    for topic, at in reads:
        offset = next_offset.get(topic, 0)
        guard.observe(topic, 0, offset, T0 + at * SECOND)
        next_offset[topic] = offset + 1
    # and `unread` more records waiting on the first topic read
    lagging = reads[0][0]
    marks: dict[tuple[str, int], int | None] = {(t, 0): next_offset.get(t, 0) for t in INPUT_TOPICS}
    marks[(lagging, 0)] = next_offset[lagging] + unread
    offsets = Offsets(marks)
    wall = T0 + wall_after * SECOND
    clock = guard.clock(0, wall, offsets.highwater, offsets.committed)
    # Then the clock is at most the latest record time read on the lagging topic, and the wall
    latest = max(T0 + at * SECOND for topic, at in reads if topic == lagging)
    assert clock <= latest
    assert clock <= wall


# ------------------------------------------------------------------ ticks in flight


def test_a_popped_lead_stays_in_flight_until_its_tick_is_seen() -> None:
    # Given a lead whose tick was sent at monotonic time 100
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    assert index.pop_due(0, T0 + 10, 100.0) == [("L", T0 + 10)]
    assert len(index) == 0 and "L" in index.inflight
    # When the agent has not seen it within the resend delay, nothing changes yet
    assert index.overdue(114.0, 15.0) == 0
    assert index.pop_due(0, T0 + 100, 114.0) == []
    # When it is overdue, it is due again (a tick lost with the broker is sent again)
    assert index.overdue(115.5, 15.0) == 1
    assert index.pop_due(0, T0 + 100, 116.0) == [("L", T0 + 10)]


def test_a_settled_tick_is_never_sent_again() -> None:
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    index.pop_due(0, T0 + 10, 100.0)
    index.settle("L")
    assert index.overdue(1000.0, 15.0) == 0
    assert index.pop_due(0, T0 + 1000, 1000.0) == []
    assert len(index) == 0


def test_a_lead_rescheduled_after_its_tick_is_not_resent_at_its_old_wake() -> None:
    # The agent saw the tick and the lead now wakes later: only the new wake stands
    index = DeadlineIndex()
    index.schedule(0, "L", T0 + 10)
    index.pop_due(0, T0 + 10, 100.0)
    index.schedule(0, "L", T0 + 50)
    assert index.inflight == {}
    assert index.overdue(1000.0, 15.0) == 0
    assert index.pop_due(0, T0 + 20, 1000.0) == []
    assert index.pop_due(0, T0 + 50, 1000.0) == [("L", T0 + 50)]


def test_what_the_agent_schedules_during_a_rebuild_wins_over_the_table_read() -> None:
    # Given a rebuild under way (the table is read in slices while the agent goes on)
    index = DeadlineIndex()
    index.schedule(0, "settled", T0 + 1)
    index.schedule(0, "moved", T0 + 1)
    index.begin_rebuild()
    # When, meanwhile, the agent makes a new lead, moves one and settles another ...
    index.schedule(0, "new", T0 + 7)
    index.schedule(0, "moved", T0 + 9)
    index.schedule(0, "settled", None)
    # ... and the rebuild ends with what it read before those changes
    read = [("moved", 0, T0 + 1), ("settled", 0, T0 + 1), ("old", 0, T0 + 3)]
    index.rebuild([0], read)
    # Then the index has the agent's view of the leads it touched, the table's of the others
    assert index.pop_due(0, T0 + 100) == [("old", T0 + 3), ("new", T0 + 7), ("moved", T0 + 9)]
    # And a rebuild without begin_rebuild takes the table whole, as before
    index.schedule(0, "x", T0 + 2)
    index.rebuild([0], [("y", 0, T0 + 4)])
    assert index.pop_due(0, T0 + 100) == [("y", T0 + 4)]


def test_rebuild_and_forget_drop_the_ticks_in_flight() -> None:
    index = DeadlineIndex()
    index.schedule(0, "a", T0)
    index.schedule(1, "b", T0)
    index.pop_due(0, T0, 1.0)
    index.pop_due(1, T0, 1.0)
    index.forget([0])
    assert set(index.inflight) == {"b"}
    index.rebuild([1], [("b", 1, T0 + 5)])
    assert index.inflight == {}
    assert index.overdue(1000.0, 15.0) == 0
    assert index.pop_due(1, T0 + 5, 1000.0) == [("b", T0 + 5)]
