"""Business calendar: business time added to an instant and measured between two instants.

Owns the ``business`` clock of SPEC.md section 3: business time is elapsed real time inside the
policy's windows, in the policy's IANA zone, so it stays correct across daylight-saving changes
(a window 01:00-04:00 lasts 2 real hours on a spring-forward night and 4 on a fall-back night).

Window boundaries are local wall times turned into instants once, with ``zoneinfo``:

- an ambiguous wall time (it occurs twice when the clocks go back) is its first occurrence
  (``fold=0``);
- a wall time that does not exist (skipped when the clocks go forward) is the instant at which the
  wall clock passes it, that is the first instant whose wall time is at or after it (the moment of
  the transition). A window that falls entirely into a gap lasts no time.

Windows belong to the local day they start on; a holiday removes the windows that start on it; a
window that crosses midnight ends on the next day. Overlapping windows are merged, so no time is
counted twice.

Speed: the union of all windows is computed per block of 32 UTC days (a "chunk") and cached as
sorted interval starts, ends and a running total of business time. ``add`` and ``between`` are then
a dict look-up and a binary search or two; datetime work happens only when a chunk is first used.
Whole chunks are skipped by their exact total, so long amounts stay exact across DST weeks.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .instant import Instant, format_utc

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Per-weekday windows in local wall time, as minutes after local midnight.

    ``windows[0]`` is Monday ... ``windows[6]`` Sunday; each entry is a tuple of
    ``(start_minute, end_minute)`` pairs with ``0 <= start_minute < 1440``. A window whose
    ``end_minute <= start_minute`` crosses midnight and ends on the next day (``"22:00-02:00"`` is
    ``(1320, 120)``); it belongs to the day it starts on. ``holidays`` are local dates whose
    windows (the ones that start on that date) are removed.
    """

    windows: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()

    def __reduce__(self) -> tuple[type[BusinessHours], tuple[object, ...]]:
        # Explicit, so that a mypyc-compiled (frozen) class pickles like the pure one.
        return (BusinessHours, (self.windows, self.holidays))


DEFAULT_BUSINESS_HOURS = BusinessHours(
    windows=(((540, 1020),),) * 5 + ((), ()),  # Mon-Fri 09:00-17:00
)

_SECOND = 1_000_000
_MINUTE = 60 * _SECOND
_DAY = 86_400 * _SECOND
_ONE_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_ORDINAL = date.max.toordinal()
_LAST_INSTANT = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - _EPOCH) // _ONE_US

_CHUNK_DAYS = 27  # divides the Gregorian cycle: 146,097 days = 5,411 chunks (see _Periods)
_CHUNK = _CHUNK_DAYS * _DAY
# Every local day's windows lie within one UTC day before its date and three after (UTC offsets
# are under 24 h, a window lasts at most one day), so a chunk needs the local days from two before
# its first UTC day to one after its last.
_DAYS_BEFORE_CHUNK = 2
_DAYS_AFTER_CHUNK = 1
MAX_IDLE_DAYS = 400
"""``add`` gives up when it finds no business time this many days (about) ahead."""
_MAX_IDLE_CHUNKS = -(-MAX_IDLE_DAYS // _CHUNK_DAYS)
_MAX_CACHED_CHUNKS = 4096  # about 300 years of calendar; a bound, not a working-set size
_LONG_SPAN_CHUNKS = 64  # longer spans are summed from chunk totals (see _Periods)
_CYCLE_CHUNKS = 146_097 // _CHUNK_DAYS  # 400 Gregorian years, a whole number of weeks too
# Outside [1600, 2200) and beyond the holidays, business time repeats every 400 years: the
# weekdays and the calendar do, and so do the zone's rules (before its first transition a zone
# keeps one offset; after its last explicit one, at the latest in the 2080s, it follows a
# yearly rule of the Gregorian calendar).
_EARLY_YEAR = 1600
_LATE_YEAR = 2200

# (interval starts, interval ends, running total): cum[i] is the business time in the chunk
# before interval i, cum[-1] the chunk's total. Intervals are disjoint, sorted, never empty.
_Chunk = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


class BusinessCalendar:
    """Business time of one IANA zone. Elapsed real time inside the windows, DST-correct."""

    __slots__ = ("_chunks", "_periods", "_zone", "hours", "timezone")

    def __init__(self, hours: BusinessHours, timezone: str) -> None:
        _check_windows(hours)
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {timezone!r} (expected an IANA name)") from None
        self.hours = hours
        self.timezone = timezone
        self._zone = zone
        self._chunks: dict[int, _Chunk] = {}
        self._periods: _Periods | None = None

    def add(self, start: Instant, amount: int) -> Instant:
        """The instant at which ``amount`` microseconds of business time after ``start`` elapse.

        That is the earliest instant ``t >= start`` with ``between(start, t) >= amount``: time
        counts from ``start`` if it is inside a window, else from the next opening; an amount that
        runs out exactly at a window's end gives that end, not the next opening; and an amount of
        zero gives ``start`` itself, inside business hours or not (no business time has to pass).
        """
        if amount <= 0:
            if amount == 0:
                return start
            raise ValueError(f"business time to add must not be negative, got {amount}")
        k = start // _CHUNK
        chunk = self._chunks.get(k)
        if chunk is None:
            chunk = self._build_chunk(k)
        starts, ends, cum = chunk
        i = bisect_right(ends, start)  # the first interval that ends after start
        if i < len(ends):
            opened = starts[i]
            target = cum[i] + amount + (start - opened if start > opened else 0)
            if target <= cum[-1]:
                m = bisect_left(cum, target, 1)
                return ends[m - 1] - (cum[m] - target)
            remaining = target - cum[-1]
        else:
            remaining = amount
        idle = 0
        while True:
            k += 1
            chunk = self._chunks.get(k)
            if chunk is None:
                chunk = self._build_chunk(k)
            cum = chunk[2]
            total = cum[-1]
            if remaining <= total:
                m = bisect_left(cum, remaining, 1)
                return chunk[1][m - 1] - (cum[m] - remaining)
            if total:
                idle = 0
                remaining -= total
            elif k * _CHUNK > _LAST_INSTANT:
                raise ValueError("the business time runs past the years 1-9999")
            else:
                idle += 1
                if idle >= _MAX_IDLE_CHUNKS:
                    raise ValueError(
                        f"business_hours has no working time in the {MAX_IDLE_DAYS} days "
                        f"ahead of {format_utc(start)} (are all of those days holidays?)"
                    )

    def between(self, start: Instant, end: Instant) -> int:
        """Microseconds of business time in ``[start, end)`` (0 when ``end <= start``)."""
        if end <= start:
            return 0
        k = start // _CHUNK
        last = end // _CHUNK
        chunk = self._chunks.get(k)
        if chunk is None:
            chunk = self._build_chunk(k)
        before_start = _elapsed(chunk, start)
        if k == last:
            return _elapsed(chunk, end) - before_start
        total = chunk[2][-1] - before_start
        if last - k > _LONG_SPAN_CHUNKS:
            if self._periods is None:
                self._periods = _Periods(self)
            total += self._periods.sum(k + 1, last)
        else:
            for middle in range(k + 1, last):
                chunk = self._chunks.get(middle)
                if chunk is None:
                    chunk = self._build_chunk(middle)
                total += chunk[2][-1]
        chunk = self._chunks.get(last)
        if chunk is None:
            chunk = self._build_chunk(last)
        return total + _elapsed(chunk, end)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return self.hours == other.hours and self.timezone == other.timezone

    def __hash__(self) -> int:
        return hash((self.hours, self.timezone))

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.hours!r}, {self.timezone!r})"

    def __reduce__(self) -> tuple[type[BusinessCalendar], tuple[BusinessHours, str]]:
        return (BusinessCalendar, (self.hours, self.timezone))

    # -- building the cache -------------------------------------------------------------------

    def _build_chunk(self, k: int) -> _Chunk:
        """The union of all windows, clipped to UTC ``[k * _CHUNK, (k + 1) * _CHUNK)``."""
        lo = k * _CHUNK
        hi = lo + _CHUNK
        first_day = lo // _DAY + _EPOCH_ORDINAL
        windows: list[tuple[int, int]] = []
        for ordinal in range(
            first_day - _DAYS_BEFORE_CHUNK, first_day + _CHUNK_DAYS + _DAYS_AFTER_CHUNK
        ):
            windows.extend(self._windows_starting_on(ordinal))
        windows.sort()
        starts: list[int] = []
        ends: list[int] = []
        cum = [0]
        for opened, closed in windows:
            if closed <= lo or opened >= hi:
                continue
            opened = max(opened, lo)
            closed = min(closed, hi)
            if ends and opened <= ends[-1]:  # overlaps or touches the previous one: merge
                if closed > ends[-1]:
                    cum[-1] += closed - ends[-1]
                    ends[-1] = closed
            else:
                starts.append(opened)
                ends.append(closed)
                cum.append(cum[-1] + closed - opened)
        chunk = (tuple(starts), tuple(ends), tuple(cum))
        if len(self._chunks) >= _MAX_CACHED_CHUNKS:
            self._chunks.clear()
        self._chunks[k] = chunk
        return chunk

    def _windows_starting_on(self, ordinal: int) -> list[tuple[int, int]]:
        """The windows that start on a local date, as ``(start, end)`` instants."""
        if not 1 <= ordinal <= _MAX_ORDINAL:
            return []  # outside the years 1-9999 there is no calendar

        day = date.fromordinal(ordinal)
        spec = self.hours.windows[day.weekday()]
        if not spec or day in self.hours.holidays:
            return []
        found = []
        for start_minute, end_minute in spec:
            try:
                opened = self._instant_of(ordinal, start_minute)
                if end_minute <= start_minute:
                    closed = self._instant_of(ordinal + 1, end_minute)
                else:
                    closed = self._instant_of(ordinal, end_minute)
            except (OverflowError, ValueError):
                continue  # a window at the edge of the years 1-9999 that leaves them
            if closed > opened:  # a window inside a DST gap lasts no time
                found.append((opened, closed))
        return found

    def _instant_of(self, ordinal: int, minute: int) -> Instant:
        """A local wall time as an instant: first occurrence if ambiguous, transition if skipped."""
        ordinal += minute // 1440
        minute %= 1440
        day = date.fromordinal(ordinal)
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self._zone)
        wall = (ordinal - _EPOCH_ORDINAL) * _DAY + minute * _MINUTE
        first = wall - _us(local.utcoffset())
        second = wall - _us(local.replace(fold=1).utcoffset())
        if first == second or self._wall_at(first) == wall:
            return first  # an ordinary time, or the first occurrence of an ambiguous one
        # Skipped by a forward jump: the wall clock passes it at the transition, which lies
        # between the two readings. Transitions fall on whole seconds; search those.
        lo = min(first, second) // _SECOND  # the wall clock still reads before it here...
        hi = -(-max(first, second) // _SECOND)  # ...and after it here
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._wall_at(mid * _SECOND) >= wall:
                hi = mid
            else:
                lo = mid
        return hi * _SECOND

    def _wall_at(self, instant: Instant) -> int:
        """The local wall time at an instant, as microseconds since 1970-01-01 00:00 local."""
        local = (_EPOCH + timedelta(microseconds=instant)).astimezone(self._zone)
        return instant + _us(local.utcoffset())


class _Periods:
    """Sums of whole chunks' business time over any span, at most a few thousand chunks built.

    Chunk totals are remembered (an int each). A chunk entirely in the periodic regions (before
    the early edge or after the late edge, see ``_EARLY_YEAR``) has the total of the chunk one
    or more 400-year cycles nearer the middle, and a whole cycle of chunks there has one known
    sum, so a span of thousands of years costs what a few centuries cost, once per calendar.
    """

    __slots__ = ("_calendar", "_cycle_sums", "_early", "_late", "_totals")

    def __init__(self, calendar: BusinessCalendar) -> None:
        self._calendar = calendar
        self._totals: dict[int, int] = {}
        self._cycle_sums: dict[int, int] = {}
        holidays = calendar.hours.holidays
        early = datetime(_EARLY_YEAR, 1, 1, tzinfo=UTC)
        late = datetime(_LATE_YEAR, 1, 1, tzinfo=UTC)
        if holidays:
            # A chunk depends on the local days from 2 before it to 1 after it: keep a margin.
            early = min(early, datetime.combine(min(holidays), time(), UTC) - timedelta(days=4))
            late = max(late, datetime.combine(max(holidays), time(), UTC) + timedelta(days=4))
        self._early = ((early - _EPOCH) // _ONE_US) // _CHUNK - 1  # chunks < this are periodic
        self._late = -(-((late - _EPOCH) // _ONE_US) // _CHUNK) + 1  # chunks >= this are

    def total(self, k: int) -> int:
        if k >= self._late + _CYCLE_CHUNKS:
            k = self._late + (k - self._late) % _CYCLE_CHUNKS
        elif k < self._early - _CYCLE_CHUNKS:
            k = self._early - _CYCLE_CHUNKS + (k - self._early) % _CYCLE_CHUNKS
        found = self._totals.get(k)
        if found is None:
            chunk = self._calendar._chunks.get(k)
            if chunk is None:
                chunk = self._calendar._build_chunk(k)
            found = self._totals[k] = chunk[2][-1]
        return found

    def _plain(self, lo: int, hi: int) -> int:
        return sum(self.total(k) for k in range(lo, hi))

    def _cycle_sum(self, first: int) -> int:
        found = self._cycle_sums.get(first)
        if found is None:
            found = self._cycle_sums[first] = self._plain(first, first + _CYCLE_CHUNKS)
        return found

    def sum(self, lo: int, hi: int) -> int:
        """Business time of the whole chunks ``lo <= k < hi``."""
        total = 0
        if lo < self._early:  # the early periodic region
            end = min(hi, self._early)
            cycles, rest = divmod(end - lo, _CYCLE_CHUNKS)
            total += self._plain(lo, lo + rest)
            if cycles:
                total += cycles * self._cycle_sum(self._early - _CYCLE_CHUNKS)
            lo = end
        if lo < hi and lo < self._late:  # the middle, counted chunk by chunk
            end = min(hi, self._late)
            total += self._plain(lo, end)
            lo = end
        if lo < hi:  # the late periodic region
            cycles, rest = divmod(hi - lo, _CYCLE_CHUNKS)
            total += self._plain(hi - rest, hi)
            if cycles:
                total += cycles * self._cycle_sum(self._late)
        return total


def _elapsed(chunk: _Chunk, instant: Instant) -> int:
    """Business time in the chunk before ``instant`` (which lies in the chunk or at its end)."""
    starts, ends, cum = chunk
    i = bisect_right(ends, instant)
    if i < len(ends) and instant > starts[i]:
        return cum[i] + instant - starts[i]
    return cum[i]


def _us(offset: timedelta | None) -> int:
    if offset is None:  # pragma: no cover - a ZoneInfo always has an offset
        raise ValueError("time zone has no UTC offset")
    return offset // _ONE_US


def _check_windows(hours: BusinessHours) -> None:
    if len(hours.windows) != len(WEEKDAYS):
        raise ValueError(
            f"business_hours needs windows for {len(WEEKDAYS)} weekdays (mon..sun), "
            f"got {len(hours.windows)}"
        )
    for name, day in zip(WEEKDAYS, hours.windows, strict=True):
        # checked, not trusted (compiled with mypyc, an item of another type would raise)
        for window in cast("tuple[object, ...]", day):
            if not (
                isinstance(window, tuple)
                and len(window) == 2
                and all(type(minute) is int for minute in window)
            ):
                raise ValueError(
                    f"business_hours window on {name} is not a (start_minute, end_minute) "
                    f"pair of ints: {window!r}"
                )
            start_minute, end_minute = window
            if not 0 <= start_minute < 1440 or not 0 <= end_minute <= 1440:
                raise ValueError(
                    f"business_hours window on {name} out of range: "
                    f"({start_minute}, {end_minute}) minutes after midnight"
                )
    if not any(hours.windows):
        raise ValueError("business_hours has no working time")
