"""Rule 1: the clock starts at the lead's ``occurred_at``; business clock counts business time.

Default policy: a 60-minute window, so warning at +45, deadline at +60.
"""

from __future__ import annotations

from .runner import ReplayRunner, RunScenario
from .scenario import BUSINESS, assert_at, assigned, created, policy, t

FRI_1630 = "2026-03-06T16:30:00Z"
MON_0915 = "2026-03-09T09:15:00Z"
MON_0930 = "2026-03-09T09:30:00Z"


def test_rule_01_timer_starts_at_occurred_at_even_if_the_line_comes_last(
    runner: ReplayRunner,
) -> None:
    """Rule 1: created at +0 but written after later events: the deadline is +60, not later."""
    runner.seed = None  # keep the file order: lead.created is the LAST line
    events = [assigned(at=5), created(at=0)]
    r = runner.run(events, policy(), now=t(120))
    started = r.one("sla.timer_started")
    assert_at(started["data"]["due_at"], 60)
    assert_at(started["data"]["warn_at"], 45)
    warning = r.one("sla.pre_breach_warning")
    assert_at(warning["occurred_at"], 45)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], 60)
    assert_at(breach["data"]["due_at"], 60)
    assert_at(r.final_fact()["created_at"], 0)


def test_rule_01_clock_uses_the_source_timestamp_with_offset(run: RunScenario) -> None:
    """Rule 1: an occurred_at with a +02:00 offset is the same instant; outputs are in UTC."""
    events = [created(at="2026-03-02T11:00:00+02:00"), assigned(at=0)]
    r = run(events, policy(), now=t(61))
    breach = r.one("sla.breached")
    assert breach["occurred_at"].endswith("Z")
    assert_at(breach["occurred_at"], 60)
    assert_at(r.one("sla.timer_started")["data"]["due_at"], 60)


def test_rule_01_lead_created_long_before_it_is_read_is_already_due(run: RunScenario) -> None:
    """Rule 1: a lead whose occurred_at is far in the past breaches at its own deadline."""
    events = [created(at=-600), assigned(at=-600)]
    r = run(events, policy(), now=t(0))
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], -540)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], -555)


def test_rule_01_business_clock_friday_afternoon_is_due_monday(run: RunScenario) -> None:
    """Rule 1 (business): Fri 16:30 + 60 business minutes (Mon-Fri 09-17 UTC) = Mon 09:30."""
    events = [created(at=FRI_1630), assigned(at=FRI_1630)]
    r = run(events, policy(BUSINESS), now="2026-03-09T10:00:00Z")
    started = r.one("sla.timer_started")
    assert started["data"]["clock"] == "business"
    assert_at(started["data"]["due_at"], MON_0930)
    assert_at(started["data"]["warn_at"], MON_0915)
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], MON_0915)
    breach = r.one("sla.breached")
    assert_at(breach["occurred_at"], MON_0930)
    assert_at(r.final_fact()["due_at"], MON_0930)


def test_rule_01_business_clock_nothing_fires_over_the_weekend(run: RunScenario) -> None:
    """Rule 1 (business): by Monday 09:00 nothing has fired for the Friday 16:30 lead."""
    events = [created(at=FRI_1630), assigned(at=FRI_1630)]
    r = run(events, policy(BUSINESS), now="2026-03-09T09:00:00Z")
    r.none("sla.pre_breach_warning", "sla.breached")
    assert r.final_fact()["status"] == "open"


def test_rule_01_business_clock_lead_before_opening_counts_from_opening(run: RunScenario) -> None:
    """Rule 1 (business): created Mon 07:00 (before 09:00), 60 minutes: due Mon 10:00."""
    events = [created(at="2026-03-02T07:00:00Z"), assigned(at="2026-03-02T07:00:00Z")]
    r = run(events, policy(BUSINESS), now=t(120))
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-02T10:00:00Z")
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], "2026-03-02T09:45:00Z")


def test_rule_01_business_clock_skips_holidays(run: RunScenario) -> None:
    """Rule 1 (business): Monday 2026-03-09 a holiday: the Friday 16:30 lead is due Tue 09:30."""
    top = BUSINESS + "\n"
    tables = """
[business_hours]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "17:00"
holidays = ["2026-03-09"]
"""
    events = [created(at=FRI_1630), assigned(at=FRI_1630)]
    r = run(events, policy(top, tables), now="2026-03-10T12:00:00Z")
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-10T09:30:00Z")


def test_rule_01_business_clock_split_shift_windows(run: RunScenario) -> None:
    """Rule 1 (business): windows 08-12 and 13-17; created Mon 11:30, 60 min: due Mon 13:30."""
    tables = """
[business_hours.windows]
mon = ["08:00-12:00", "13:00-17:00"]
tue = ["08:00-12:00", "13:00-17:00"]
"""
    events = [created(at="2026-03-02T11:30:00Z"), assigned(at="2026-03-02T11:30:00Z")]
    r = run(events, policy(BUSINESS, tables), now="2026-03-02T15:00:00Z")
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-02T13:30:00Z")
    # 45 business minutes: 30 before the lunch break, 15 after it.
    assert_at(r.one("sla.pre_breach_warning")["occurred_at"], "2026-03-02T13:15:00Z")


def test_rule_01_business_clock_window_crossing_midnight(run: RunScenario) -> None:
    """Rule 1 (business): window Mon 22:00-02:00; created Mon 23:30, 60 min: due Tue 00:30."""
    tables = """
[business_hours.windows]
mon = ["22:00-02:00"]
"""
    events = [created(at="2026-03-02T23:30:00Z"), assigned(at="2026-03-02T23:30:00Z")]
    r = run(events, policy(BUSINESS, tables), now="2026-03-03T03:00:00Z")
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-03T00:30:00Z")


def test_rule_01_business_clock_holiday_removes_the_window_that_starts_on_it(
    run: RunScenario,
) -> None:
    """Rule 1 (business): Mon 22:00-02:00 removed by a Monday holiday; next is Tue 22:00."""
    tables = """
[business_hours]
holidays = ["2026-03-02"]

[business_hours.windows]
mon = ["22:00-02:00"]
tue = ["22:00-02:00"]
"""
    events = [created(at="2026-03-02T21:00:00Z"), assigned(at="2026-03-02T21:00:00Z")]
    r = run(events, policy(BUSINESS, tables), now="2026-03-04T03:00:00Z")
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-03T23:00:00Z")


def test_rule_01_business_clock_in_a_zone_across_daylight_saving(run: RunScenario) -> None:
    """Rule 1 (business, Europe/Berlin): Fri 27 Mar 16:30 CET + 60 min: Mon 30 Mar 09:30 CEST."""
    top = 'clock = "business"\ntimezone = "Europe/Berlin"'
    events = [created(at="2026-03-27T15:30:00Z"), assigned(at="2026-03-27T15:30:00Z")]
    r = run(events, policy(top), now="2026-03-30T12:00:00Z")
    assert_at(r.one("sla.breached")["occurred_at"], "2026-03-30T07:30:00Z")


def test_rule_01_business_clock_response_measures_calendar_and_business_seconds(
    run: RunScenario,
) -> None:
    """Rule 1 + section 5: Fri 16:30 -> Mon 09:10 is 232800 calendar s, 2400 business s."""
    from .scenario import activity

    events = [
        created(at=FRI_1630),
        assigned(at=FRI_1630),
        activity(at="2026-03-09T09:10:00Z", actor="alice", kind="call"),
    ]
    r = run(events, policy(BUSINESS), now="2026-03-09T12:00:00Z")
    response = r.one("sla.response_recorded")
    assert response["data"]["within_sla"] is True
    assert response["data"]["response_seconds"] == 232800
    assert response["data"]["business_seconds"] == 2400
    r.none("sla.breached", "sla.pre_breach_warning")
