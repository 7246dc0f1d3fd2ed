"""Business calendar: business time is elapsed real time inside the windows (SPEC.md section 3)."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsla.domain.calendar import (
    DEFAULT_BUSINESS_HOURS,
    WEEKDAYS,
    BusinessCalendar,
    BusinessHours,
)
from leadsla.domain.instant import MINUTE, SECOND, Instant, from_datetime

HOUR = 60 * MINUTE
DAY = 24 * HOUR

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"


def at(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> Instant:
    """A local wall time in ``zone`` as an instant (first occurrence when ambiguous)."""
    return from_datetime(datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> Instant:
    return from_datetime(datetime(year, month, day, hour, minute, tzinfo=UTC))


def every_day(*windows: tuple[int, int], holidays: frozenset[date] = frozenset()) -> BusinessHours:
    return BusinessHours(windows=(tuple(windows),) * 7, holidays=holidays)


def weekdays(*windows: tuple[int, int], holidays: frozenset[date] = frozenset()) -> BusinessHours:
    return BusinessHours(windows=(tuple(windows),) * 5 + ((), ()), holidays=holidays)


UTC_NINE_TO_FIVE = BusinessCalendar(DEFAULT_BUSINESS_HOURS, "UTC")
BERLIN_SPLIT_SHIFT = BusinessCalendar(
    BusinessHours(
        # Mon-Fri 08:00-12:00 and 13:00-17:00, Sunday 01:00-04:00 (across the DST switch)
        windows=(((480, 720), (780, 1020)),) * 5 + ((), ((60, 240),)),
        holidays=frozenset({date(2024, 5, 1), date(2024, 12, 25), date(2025, 1, 1)}),
    ),
    BERLIN,
)
NEW_YORK_OVERNIGHT = BusinessCalendar(
    BusinessHours(
        # Mon-Fri 22:00-02:00, Tuesday also 01:00-03:00 (overlaps Monday's night),
        # Saturday 09:00-13:00, Sunday 00:00-03:00 (across the DST switch)
        windows=(
            ((1320, 120),),
            ((60, 180), (1320, 120)),
            ((1320, 120),),
            ((1320, 120),),
            ((1320, 120),),
            ((540, 780),),
            ((0, 180),),
        ),
        holidays=frozenset({date(2024, 7, 4), date(2024, 12, 25), date(2025, 7, 4)}),
    ),
    NEW_YORK,
)
CALENDARS = [UTC_NINE_TO_FIVE, BERLIN_SPLIT_SHIFT, NEW_YORK_OVERNIGHT]
CALENDAR_IDS = ["utc-9-to-5", "berlin-split", "new-york-overnight"]


# -- counting from the next opening ---------------------------------------------------------------


def test_time_inside_a_window_is_plain_elapsed_time() -> None:
    # given a Monday 10:00 inside 09:00-17:00
    start = utc(2024, 1, 1, 10)
    # when / then
    assert UTC_NINE_TO_FIVE.add(start, 90 * MINUTE) == utc(2024, 1, 1, 11, 30)
    assert UTC_NINE_TO_FIVE.between(start, utc(2024, 1, 1, 11, 30)) == 90 * MINUTE


def test_before_opening_business_time_counts_from_the_opening() -> None:
    # given a lead at 07:12 on a Monday
    start = utc(2024, 1, 1, 7, 12)
    # when 30 business minutes are added
    due = UTC_NINE_TO_FIVE.add(start, 30 * MINUTE)
    # then they run from 09:00
    assert due == utc(2024, 1, 1, 9, 30)
    assert UTC_NINE_TO_FIVE.between(start, utc(2024, 1, 1, 9)) == 0


def test_after_closing_business_time_counts_from_the_next_days_opening() -> None:
    start = utc(2024, 1, 2, 18, 45)  # Tuesday evening
    assert UTC_NINE_TO_FIVE.add(start, HOUR) == utc(2024, 1, 3, 10)


def test_time_left_at_closing_carries_over_to_the_next_day() -> None:
    start = utc(2024, 1, 2, 16)  # one hour before closing
    assert UTC_NINE_TO_FIVE.add(start, 3 * HOUR) == utc(2024, 1, 3, 11)


def test_friday_afternoon_carries_over_the_weekend_to_monday() -> None:
    # given Friday 16:00
    start = utc(2024, 1, 5, 16)
    # when / then: one hour on Friday, one on Monday
    assert UTC_NINE_TO_FIVE.add(start, 2 * HOUR) == utc(2024, 1, 8, 10)
    assert UTC_NINE_TO_FIVE.between(start, utc(2024, 1, 8, 10)) == 2 * HOUR


def test_a_lead_on_saturday_starts_counting_on_monday() -> None:
    assert UTC_NINE_TO_FIVE.add(utc(2024, 1, 6, 12), MINUTE) == utc(2024, 1, 8, 9, 1)


def test_a_holiday_removes_that_days_window() -> None:
    # given Wednesday 2024-01-03 is a holiday
    calendar = BusinessCalendar(
        BusinessHours(DEFAULT_BUSINESS_HOURS.windows, holidays=frozenset({date(2024, 1, 3)})),
        "UTC",
    )
    # when a lead arrives on Tuesday an hour before closing and needs 2 business hours
    due = calendar.add(utc(2024, 1, 2, 16), 2 * HOUR)
    # then the second hour is on Thursday
    assert due == utc(2024, 1, 4, 10)
    assert calendar.between(utc(2024, 1, 3), utc(2024, 1, 4)) == 0


def test_add_that_runs_out_exactly_at_closing_returns_the_closing_not_the_next_opening() -> None:
    assert UTC_NINE_TO_FIVE.add(utc(2024, 1, 1, 9), 8 * HOUR) == utc(2024, 1, 1, 17)
    assert UTC_NINE_TO_FIVE.add(utc(2024, 1, 1, 16), HOUR) == utc(2024, 1, 1, 17)
    assert UTC_NINE_TO_FIVE.add(utc(2024, 1, 1, 9), 40 * HOUR) == utc(2024, 1, 5, 17)


def test_add_one_microsecond_past_closing_goes_to_the_next_opening() -> None:
    assert UTC_NINE_TO_FIVE.add(utc(2024, 1, 1, 16), HOUR + 1) == utc(2024, 1, 2, 9) + 1


@pytest.mark.parametrize(
    "start",
    [utc(2024, 1, 1, 10), utc(2024, 1, 1, 7), utc(2024, 1, 6, 12), utc(2024, 1, 1, 17)],
    ids=["inside", "before-opening", "weekend", "at-closing"],
)
def test_zero_business_time_elapses_at_once_even_outside_business_hours(start: Instant) -> None:
    assert UTC_NINE_TO_FIVE.add(start, 0) == start


def test_negative_business_time_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        UTC_NINE_TO_FIVE.add(utc(2024, 1, 1, 10), -1)


@pytest.mark.parametrize("delta", [0, -1, -DAY], ids=["equal", "one-us-before", "a-day-before"])
def test_between_is_zero_when_end_is_not_after_start(delta: int) -> None:
    start = utc(2024, 1, 1, 10)
    assert UTC_NINE_TO_FIVE.between(start, start + delta) == 0


def test_between_counts_only_the_time_inside_windows() -> None:
    # Friday 16:00 .. Monday 10:00: one hour each side of the weekend
    assert UTC_NINE_TO_FIVE.between(utc(2024, 1, 5, 16), utc(2024, 1, 8, 10)) == 2 * HOUR
    # a whole week
    assert UTC_NINE_TO_FIVE.between(utc(2024, 1, 1), utc(2024, 1, 8)) == 40 * HOUR


def test_a_year_of_business_time_is_added_exactly() -> None:
    # 52 weeks of 40 hours from Monday 2024-01-01 09:00 end on Friday 2024-12-27 17:00
    start = utc(2024, 1, 1, 9)
    assert UTC_NINE_TO_FIVE.add(start, 52 * 40 * HOUR) == utc(2024, 12, 27, 17)
    assert UTC_NINE_TO_FIVE.between(start, utc(2024, 12, 27, 17)) == 52 * 40 * HOUR


# -- split shifts, overlaps, windows crossing midnight -------------------------------------------


def test_the_lunch_break_of_a_split_shift_is_not_business_time() -> None:
    # given Monday 11:00 in Berlin (08:00-12:00, 13:00-17:00)
    start = at(BERLIN, 2024, 6, 3, 11)
    # when / then: one hour before lunch, one after
    assert BERLIN_SPLIT_SHIFT.add(start, 2 * HOUR) == at(BERLIN, 2024, 6, 3, 14)
    assert BERLIN_SPLIT_SHIFT.between(at(BERLIN, 2024, 6, 3), at(BERLIN, 2024, 6, 4)) == 8 * HOUR


def test_a_lead_during_lunch_waits_for_the_afternoon_shift() -> None:
    start = at(BERLIN, 2024, 6, 3, 12, 20)
    assert BERLIN_SPLIT_SHIFT.add(start, 10 * MINUTE) == at(BERLIN, 2024, 6, 3, 13, 10)
    assert BERLIN_SPLIT_SHIFT.add(start, 0) == start


def test_a_morning_shift_that_runs_out_at_noon_ends_at_noon() -> None:
    start = at(BERLIN, 2024, 6, 3, 8)
    assert BERLIN_SPLIT_SHIFT.add(start, 4 * HOUR) == at(BERLIN, 2024, 6, 3, 12)


def test_a_window_crossing_midnight_ends_on_the_next_day() -> None:
    # given Monday 23:00 in New York inside 22:00-02:00
    start = at(NEW_YORK, 2024, 6, 3, 23)
    # when / then
    assert NEW_YORK_OVERNIGHT.add(start, 2 * HOUR) == at(NEW_YORK, 2024, 6, 4, 1)
    # Monday's 22:00-02:00 and Tuesday's 01:00-03:00 overlap: 23:00-03:00 is 4 hours, not 5
    assert NEW_YORK_OVERNIGHT.between(start, at(NEW_YORK, 2024, 6, 4, 12)) == 4 * HOUR
    assert NEW_YORK_OVERNIGHT.add(start, 4 * HOUR) == at(NEW_YORK, 2024, 6, 4, 3)


def test_overnight_time_left_at_two_carries_over_to_the_next_night() -> None:
    start = at(NEW_YORK, 2024, 6, 5, 1)  # Wednesday 01:00, inside Tuesday's night
    assert NEW_YORK_OVERNIGHT.add(start, 2 * HOUR) == at(NEW_YORK, 2024, 6, 5, 23)


def test_a_holiday_on_the_start_day_removes_the_whole_overnight_window() -> None:
    # given 2024-07-04 (Thursday) is a holiday: its 22:00-02:00 window is gone
    start = at(NEW_YORK, 2024, 7, 4, 21)
    # when / then: the next night is Friday's
    assert NEW_YORK_OVERNIGHT.add(start, HOUR) == at(NEW_YORK, 2024, 7, 5, 23)
    assert NEW_YORK_OVERNIGHT.between(start, at(NEW_YORK, 2024, 7, 5, 12)) == 0


def test_a_holiday_on_the_end_day_keeps_the_window_that_crossed_into_it() -> None:
    # given Wednesday's 22:00-02:00 ends on the holiday 2024-07-04
    start = at(NEW_YORK, 2024, 7, 3, 23)
    # when / then: Wednesday's night still counts up to 02:00 on the holiday
    assert NEW_YORK_OVERNIGHT.add(start, 3 * HOUR) == at(NEW_YORK, 2024, 7, 4, 2)
    assert NEW_YORK_OVERNIGHT.between(start, at(NEW_YORK, 2024, 7, 5, 12)) == 3 * HOUR


def test_windows_of_one_day_that_overlap_are_counted_once() -> None:
    calendar = BusinessCalendar(weekdays((540, 720), (600, 1020), (660, 700)), "UTC")
    assert calendar.between(utc(2024, 1, 1), utc(2024, 1, 2)) == 8 * HOUR
    assert calendar.add(utc(2024, 1, 1, 9), 8 * HOUR) == utc(2024, 1, 1, 17)


def test_a_night_window_overlapping_the_next_mornings_window_is_counted_once() -> None:
    # given Monday 22:00-10:00 and Tuesday 09:00-17:00
    hours = BusinessHours(windows=(((1320, 600),), ((540, 1020),), (), (), (), (), ()))
    calendar = BusinessCalendar(hours, "UTC")
    # when / then: 22:00 Monday .. 17:00 Tuesday without a gap, 19 hours
    assert calendar.between(utc(2024, 1, 1), utc(2024, 1, 3)) == 19 * HOUR
    assert calendar.add(utc(2024, 1, 1, 22), 19 * HOUR) == utc(2024, 1, 2, 17)


def test_a_window_whose_end_equals_its_start_lasts_a_whole_day() -> None:
    calendar = BusinessCalendar(BusinessHours(((), (), (), (), (), ((540, 540),), ())), "UTC")
    assert calendar.between(utc(2024, 1, 1), utc(2024, 1, 8)) == 24 * HOUR
    assert calendar.add(utc(2024, 1, 6), 24 * HOUR) == utc(2024, 1, 7, 9)


def test_a_window_may_end_at_midnight_written_as_minute_1440() -> None:
    calendar = BusinessCalendar(weekdays((1200, 1440)), "UTC")
    assert calendar.add(utc(2024, 1, 1, 12), 4 * HOUR) == utc(2024, 1, 2)


# -- daylight saving and zones far from UTC --------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "night", "real_hours"),
    [
        (NEW_YORK, date(2024, 3, 10), 2),  # spring forward 02:00 -> 03:00
        (NEW_YORK, date(2024, 11, 3), 4),  # fall back 02:00 -> 01:00
        (NEW_YORK, date(2024, 6, 2), 3),
        (BERLIN, date(2024, 3, 31), 2),  # spring forward 02:00 -> 03:00
        (BERLIN, date(2024, 10, 27), 4),  # fall back 03:00 -> 02:00
        (BERLIN, date(2024, 6, 2), 3),
    ],
    ids=["ny-spring", "ny-fall", "ny-summer", "berlin-spring", "berlin-fall", "berlin-summer"],
)
def test_a_window_across_a_dst_change_counts_the_real_time_that_elapses(
    zone: str, night: date, real_hours: int
) -> None:
    # given a window 01:00-04:00 local every day
    calendar = BusinessCalendar(every_day((60, 240)), zone)
    next_day = night + timedelta(days=1)
    midnight = at(zone, night.year, night.month, night.day)
    next_midnight = at(zone, next_day.year, next_day.month, next_day.day)
    opening = at(zone, night.year, night.month, night.day, 1)
    closing = at(zone, night.year, night.month, night.day, 4)
    # when / then
    assert closing - opening == real_hours * HOUR
    assert calendar.between(midnight, next_midnight) == real_hours * HOUR
    assert calendar.add(midnight, real_hours * HOUR) == closing
    next_opening = at(zone, next_day.year, next_day.month, next_day.day, 1)
    assert calendar.add(midnight, real_hours * HOUR + 1) == next_opening + 1


def test_a_day_window_in_a_dst_week_still_counts_its_wall_clock_hours() -> None:
    # the week of 2024-03-31 (Berlin spring forward on Sunday): 5 days of 8 hours
    start = at(BERLIN, 2024, 3, 25)
    end = at(BERLIN, 2024, 4, 1)
    assert end - start == 7 * DAY - HOUR
    assert BERLIN_SPLIT_SHIFT.between(start, end) == 5 * 8 * HOUR + 2 * HOUR  # + Sunday night


def test_a_window_opening_in_the_spring_forward_gap_opens_when_the_clock_passes_it() -> None:
    # given 02:30-05:00 in New York: on 2024-03-10 02:30 does not exist (02:00 EST -> 03:00 EDT)
    calendar = BusinessCalendar(every_day((150, 300)), NEW_YORK)
    transition = utc(2024, 3, 10, 7)  # 02:00 EST == 03:00 EDT
    # when / then: it opens at the transition and lasts until 05:00 EDT
    assert calendar.add(at(NEW_YORK, 2024, 3, 10), 1) == transition + 1
    assert calendar.between(at(NEW_YORK, 2024, 3, 10), at(NEW_YORK, 2024, 3, 11)) == 2 * HOUR


def test_a_window_closing_in_the_spring_forward_gap_closes_when_the_clock_passes_it() -> None:
    # given 00:00-02:30 in New York: it closes at the 2024-03-10 transition, 2 real hours
    calendar = BusinessCalendar(every_day((0, 150)), NEW_YORK)
    assert calendar.between(at(NEW_YORK, 2024, 3, 10), at(NEW_YORK, 2024, 3, 11)) == 2 * HOUR
    assert calendar.add(at(NEW_YORK, 2024, 3, 10), 2 * HOUR) == utc(2024, 3, 10, 7)


def test_a_window_inside_the_spring_forward_gap_lasts_no_time() -> None:
    calendar = BusinessCalendar(every_day((130, 150)), NEW_YORK)  # 02:10-02:30
    assert calendar.between(at(NEW_YORK, 2024, 3, 10), at(NEW_YORK, 2024, 3, 11)) == 0
    assert calendar.add(at(NEW_YORK, 2024, 3, 10), 1) == at(NEW_YORK, 2024, 3, 11, 2, 10) + 1


def test_an_ambiguous_boundary_on_the_fall_back_night_is_its_first_occurrence() -> None:
    # given 01:30-03:00 in New York: on 2024-11-03 01:30 happens at 05:30 and 06:30 UTC
    calendar = BusinessCalendar(every_day((90, 180)), NEW_YORK)
    # when / then: it opens at the first one (EDT) and closes at 03:00 EST
    assert calendar.add(at(NEW_YORK, 2024, 11, 3), 1) == utc(2024, 11, 3, 5, 30) + 1
    assert calendar.between(at(NEW_YORK, 2024, 11, 3), at(NEW_YORK, 2024, 11, 4)) == 150 * MINUTE


def test_a_half_hour_zone_counts_its_own_wall_clock() -> None:
    # given 09:00-17:00 in Kolkata (UTC+05:30): 03:30-11:30 UTC
    calendar = BusinessCalendar(DEFAULT_BUSINESS_HOURS, "Asia/Kolkata")
    # when / then
    assert calendar.add(utc(2024, 1, 1), HOUR) == utc(2024, 1, 1, 4, 30)
    assert calendar.add(utc(2024, 1, 1, 11), HOUR) == utc(2024, 1, 2, 4)
    assert calendar.between(utc(2024, 1, 1), utc(2024, 1, 2)) == 8 * HOUR


def test_a_zone_ahead_of_utc_starts_its_monday_on_utc_sunday() -> None:
    # given 09:00-17:00 in Auckland (UTC+12 in June): Monday 09:00 is Sunday 21:00 UTC
    calendar = BusinessCalendar(DEFAULT_BUSINESS_HOURS, "Pacific/Auckland")
    start = utc(2024, 6, 9, 20)  # Monday 08:00 in Auckland
    # when / then
    assert calendar.add(start, HOUR) == utc(2024, 6, 9, 22)
    assert calendar.between(utc(2024, 6, 7, 5), utc(2024, 6, 9, 21)) == 0  # Fri 17:00-Mon 09:00
    assert calendar.add(utc(2024, 6, 7, 4), 2 * HOUR) == utc(2024, 6, 9, 22)  # Fri 16:00 NZ


def test_auckland_spring_forward_night_is_one_hour_shorter() -> None:
    # NZ clocks go 02:00 -> 03:00 on Sunday 2024-09-29
    calendar = BusinessCalendar(every_day((60, 240)), "Pacific/Auckland")
    zone = "Pacific/Auckland"
    assert calendar.between(at(zone, 2024, 9, 29), at(zone, 2024, 9, 30)) == 2 * HOUR
    assert calendar.between(at(zone, 2024, 9, 28), at(zone, 2024, 9, 29)) == 3 * HOUR


# -- refusing calendars that cannot work -----------------------------------------------------------


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus_Mons"):
        BusinessCalendar(DEFAULT_BUSINESS_HOURS, "Mars/Olympus_Mons")


def test_a_calendar_without_any_window_is_refused() -> None:
    with pytest.raises(ValueError, match="business_hours has no working time"):
        BusinessCalendar(BusinessHours(windows=((),) * 7), "UTC")


@pytest.mark.parametrize(
    "windows",
    [
        (((540, 1020),),) * 5,
        (((540, 1500),),) * 7,
        (((-1, 60),),) * 7,
        (((1440, 60),),) * 7,
        ((540, 1020),) * 5 + ((), ()),
    ],
    ids=["five-days", "end-past-midnight", "negative-start", "start-at-1440", "flat-pairs"],
)
def test_malformed_windows_are_refused(windows: tuple[tuple[tuple[int, int], ...], ...]) -> None:
    with pytest.raises(ValueError, match="business_hours"):
        BusinessCalendar(BusinessHours(windows=windows), "UTC")


def test_add_gives_up_when_no_business_time_exists_for_over_400_days() -> None:
    # given every day of 2030 and the first months of 2031 is a holiday
    holidays = frozenset(date(2030, 1, 1) + timedelta(days=n) for n in range(450))
    calendar = BusinessCalendar(BusinessHours(DEFAULT_BUSINESS_HOURS.windows, holidays), "UTC")
    # when / then
    with pytest.raises(ValueError, match="no working time"):
        calendar.add(utc(2030, 1, 1), MINUTE)
    assert calendar.between(utc(2030, 1, 1), utc(2031, 1, 1)) == 0


def test_add_finds_business_time_after_a_long_run_of_holidays() -> None:
    # given 2030-01-01 .. 2030-11-03 are holidays (307 days); 2030-11-04 is a Monday
    holidays = frozenset(date(2030, 1, 1) + timedelta(days=n) for n in range(307))
    calendar = BusinessCalendar(BusinessHours(DEFAULT_BUSINESS_HOURS.windows, holidays), "UTC")
    assert calendar.add(utc(2030, 1, 1), MINUTE) == utc(2030, 11, 4, 9, 1)


def test_calendars_with_the_same_hours_and_zone_are_equal_and_pickle() -> None:
    again = BusinessCalendar(DEFAULT_BUSINESS_HOURS, "UTC")
    assert again == UTC_NINE_TO_FIVE
    assert hash(again) == hash(UTC_NINE_TO_FIVE)
    assert again != BusinessCalendar(DEFAULT_BUSINESS_HOURS, BERLIN)
    copy = pickle.loads(pickle.dumps(NEW_YORK_OVERNIGHT))
    assert copy == NEW_YORK_OVERNIGHT
    assert copy.add(at(NEW_YORK, 2024, 6, 3, 23), HOUR) == at(NEW_YORK, 2024, 6, 4)


def test_default_business_hours_are_monday_to_friday_nine_to_five() -> None:
    assert len(DEFAULT_BUSINESS_HOURS.windows) == len(WEEKDAYS)
    assert DEFAULT_BUSINESS_HOURS.windows[:5] == (((540, 1020),),) * 5
    assert DEFAULT_BUSINESS_HOURS.windows[5:] == ((), ())


# -- properties ------------------------------------------------------------------------------------


def reference_between(calendar: BusinessCalendar, start: Instant, end: Instant) -> int:
    """Business time in [start, end) computed the slow, obvious way, day by day."""
    zone = ZoneInfo(calendar.timezone)

    def wall(instant: Instant) -> tuple[int, int, int, int, int]:
        local = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=instant)).astimezone(
            zone
        )
        return (local.year, local.month, local.day, local.hour, local.minute)

    def instant_of(day: date, minute: int) -> Instant:
        day += timedelta(days=minute // 1440)
        hour, minute = divmod(minute % 1440, 60)
        local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
        first = from_datetime(local)
        wanted = (day.year, day.month, day.day, hour, minute)
        if wall(first) == wanted:
            return first
        # skipped by the clocks going forward: the first whole minute the wall clock passes it
        probe = from_datetime(local.replace(fold=1))
        while wall(probe) < wanted:
            probe += MINUTE
        return probe

    first_day = wall(start - 2 * DAY)
    day = date(first_day[0], first_day[1], first_day[2])
    last_day = wall(end + DAY)
    windows = []
    while day <= date(last_day[0], last_day[1], last_day[2]):
        if day not in calendar.hours.holidays:
            for opening, closing in calendar.hours.windows[day.weekday()]:
                end_day = day + timedelta(days=1) if closing <= opening else day
                windows.append((instant_of(day, opening), instant_of(end_day, closing)))
        day += timedelta(days=1)
    total = 0
    covered_to = start
    for opening, closing in sorted(windows):
        opening = max(opening, covered_to)
        closing = min(closing, end)
        if closing > opening:
            total += closing - opening
            covered_to = closing
    return total


DST_NIGHTS = [
    at(NEW_YORK, 2024, 3, 10),
    at(NEW_YORK, 2024, 11, 3),
    at(BERLIN, 2024, 3, 31),
    at(BERLIN, 2024, 10, 27),
    at(NEW_YORK, 2025, 3, 9),
    at(BERLIN, 2025, 10, 26),
]
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)

starts = st.one_of(
    st.integers(utc(2023, 1, 1), utc(2027, 1, 1)),
    st.builds(
        lambda night, offset: night + offset,
        st.sampled_from(DST_NIGHTS),
        st.integers(-2 * DAY, 2 * DAY),
    ),
)
amounts = st.one_of(
    st.integers(0, 8 * HOUR),
    st.integers(0, 400 * HOUR),
    st.integers(0, 3).map(lambda hours: hours * HOUR),
)
calendars = st.sampled_from(CALENDARS)


@PROPERTY_SETTINGS
@given(calendar=calendars, start=starts, amount=amounts)
def test_the_business_time_between_start_and_add_is_the_amount_added(
    calendar: BusinessCalendar, start: Instant, amount: int
) -> None:
    due = calendar.add(start, amount)
    assert due >= start
    assert calendar.between(start, due) == amount


@PROPERTY_SETTINGS
@given(calendar=calendars, start=starts, amount=st.integers(1, 400 * HOUR))
def test_add_returns_the_earliest_instant_by_which_the_amount_has_elapsed(
    calendar: BusinessCalendar, start: Instant, amount: int
) -> None:
    due = calendar.add(start, amount)
    assert calendar.between(start, due - 1) == amount - 1


@PROPERTY_SETTINGS
@given(calendar=calendars, start=starts, a=amounts, b=amounts)
def test_add_is_monotonic_in_the_amount(
    calendar: BusinessCalendar, start: Instant, a: int, b: int
) -> None:
    smaller, larger = sorted((a, b))
    assert calendar.add(start, smaller) <= calendar.add(start, larger)


@PROPERTY_SETTINGS
@given(
    calendar=calendars,
    start=starts,
    steps=st.tuples(st.integers(0, 10 * DAY), st.integers(0, 10 * DAY)),
)
def test_between_is_additive(
    calendar: BusinessCalendar, start: Instant, steps: tuple[int, int]
) -> None:
    middle = start + steps[0]
    end = middle + steps[1]
    assert calendar.between(start, middle) + calendar.between(middle, end) == calendar.between(
        start, end
    )


@PROPERTY_SETTINGS
@given(calendar=calendars, start=starts, length=st.integers(0, 4 * DAY))
def test_between_matches_a_day_by_day_reference(
    calendar: BusinessCalendar, start: Instant, length: int
) -> None:
    end = start + length
    assert calendar.between(start, end) == reference_between(calendar, start, end)


@settings(max_examples=50, deadline=None)
@given(calendar=calendars, start=starts, shift=st.integers(0, SECOND))
def test_add_of_a_chunk_crossing_amount_agrees_with_between(
    calendar: BusinessCalendar, start: Instant, shift: int
) -> None:
    # amounts of several weeks cross the calendar's internal cache blocks
    amount = 300 * HOUR + shift
    assert calendar.between(start, calendar.add(start, amount)) == amount
