"""Business time over thousands of years is computed in seconds, and exactly (issue 8).

Given a business calendar in a zone with daylight-saving time and holidays, when business time
is measured between instants centuries or millennia apart, then the chunk totals it sums (taken
from the 400-year Gregorian cycle outside 1600-2200) equal the chunks built directly, sums add up,
and a replay with a response in year 9999 to a lead of 2026 finishes.
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from leadsla.domain import calendar as cal_module
from leadsla.domain.calendar import BusinessCalendar, BusinessHours
from leadsla.domain.instant import MAX_INSTANT, MIN_INSTANT, parse_rfc3339
from leadsla.replay import run_replay

HOURS = BusinessHours(
    windows=(((540, 1020),),) * 4 + (((480, 720), (1320, 120)),) + ((), ()),
    holidays=frozenset({date(2026, 12, 25), date(2031, 1, 1), date(1999, 12, 31)}),
)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("zone", ["America/New_York", "Australia/Lord_Howe"])
def test_far_chunks_have_the_totals_of_their_cycle(zone: str) -> None:
    calendar = BusinessCalendar(HOURS, zone)
    start, end = parse_rfc3339("0001-01-05T00:00:00Z"), parse_rfc3339("9999-12-20T00:00:00Z")
    calendar.between(start, end)  # builds the cycle sums
    periods = calendar._periods
    assert periods is not None
    rng = random.Random(zone)
    chunk = cal_module._CHUNK
    for _ in range(25):
        k = rng.randrange(MIN_INSTANT // chunk + 2, MAX_INSTANT // chunk - 2)
        assert periods.total(k) == calendar._build_chunk(k)[2][-1], k


@pytest.mark.timeout(120)
def test_long_spans_add_up() -> None:
    calendar = BusinessCalendar(HOURS, "Europe/Berlin")
    rng = random.Random(8)
    a, c = parse_rfc3339("0003-05-01T10:00:00Z"), parse_rfc3339("9990-01-01T00:00:00Z")
    whole = calendar.between(a, c)
    for _ in range(5):
        b = rng.randrange(a, c)
        assert whole == calendar.between(a, b) + calendar.between(b, c)
    near = parse_rfc3339("2026-03-02T00:00:00Z")
    by_chunks = sum(
        calendar.between(x, x + 7 * 86_400_000_000)
        for x in range(near, near + 70 * 7 * 86_400_000_000, 7 * 86_400_000_000)
    )
    assert calendar.between(near, near + 490 * 86_400_000_000) == by_chunks


@pytest.mark.timeout(120)
def test_a_response_in_year_9999_to_a_lead_of_2026_is_measured(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"event_id":"c","type":"lead.created","lead_id":"L","occurred_at":'
        '"2026-03-02T09:00:00Z","data":{"source":"chat"}}\n'
        '{"event_id":"o","type":"lead.owner_assigned","lead_id":"L","occurred_at":'
        '"2026-03-02T09:00:00Z","data":{"owner_id":"alice"}}\n'
        '{"event_id":"a","type":"lead.activity_logged","lead_id":"L","occurred_at":'
        '"9999-12-30T10:00:00Z","data":{"actor_id":"alice","actor_kind":"person","kind":"call"}}\n'
    )
    policy = tmp_path / "policy.toml"
    policy.write_text('default_manager = "m"\nclock = "business"\ntimezone = "Europe/Berlin"\n')
    out = tmp_path / "out.jsonl"
    summary = run_replay(str(events), str(policy), str(out), jobs=1, partitions=1)
    assert summary.events_applied == 3 and summary.adds_up()
    assert b'"business_seconds":' in out.read_bytes()
    assert b'"within_sla":false' in out.read_bytes()
