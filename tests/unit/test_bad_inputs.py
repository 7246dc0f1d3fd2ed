"""No input breaks replay (issue 8): years at the edges, absurd policies, conflicting duplicates.

Given an input or a policy that used to abort the run, hang or print a 5-digit year, when it is
replayed (or loaded), then it is refused with a readable reason (and its line), and nothing else
changes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsla.cli import main
from leadsla.codec import wire_data
from leadsla.domain.engine import canonical_json, evaluate
from leadsla.domain.events import ActivityLogged, InputEvent, LeadCreated, OwnerAssigned
from leadsla.domain.instant import MAX_INSTANT, MIN_INSTANT, format_utc, parse_rfc3339
from leadsla.policy_file import PolicyError, parse_policy

FOUR_DIGIT_YEAR = re.compile(rb'"(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z"')
ANY_TIMESTAMP = re.compile(rb'"([+-]?\d+)-\d{2}-\d{2}T[^"]*Z"')

CALENDAR = 'default_manager = "mgr"\n[[targets]]\nminutes = 60\n'
BUSINESS = 'default_manager = "mgr"\nclock = "business"\ntimezone = "Europe/Berlin"\n'


def _ev(eid: str, type_: str, lead: str, at: str, **data: Any) -> str:
    return json.dumps(
        {"event_id": eid, "type": type_, "lead_id": lead, "occurred_at": at, "data": data}
    )


def _replay(tmp_path: Path, lines: list[str], policy: str, *extra: str) -> tuple[int, str, bytes]:
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(policy)
    out = tmp_path / "out.jsonl"
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(
            ["replay", str(events), "--policy", str(policy_path), "--out", str(out), *extra]
        )
    return code, err.getvalue(), out.read_bytes() if out.exists() else b""


def _assert_only_four_digit_years(raw: bytes) -> None:
    for match in ANY_TIMESTAMP.finditer(raw):
        assert FOUR_DIGIT_YEAR.fullmatch(match.group(0)), match.group(0)
        assert match.group(1) != b"0000"


# --------------------------------------------------------------------------------------------
# Rule 16: years 1-9999


EDGE_LEADS = {
    "created_in_9999": ("9999-12-31T23:30:00Z", CALENDAR),
    "created_in_9999_business": ("9999-12-31T16:30:00+01:00", BUSINESS),
    "year_1_before_utc": ("0001-01-01T00:30:00+01:00", CALENDAR),
    "year_1_business_before_utc": ("0001-01-01T00:30:00+01:00", BUSINESS),
}


@pytest.mark.parametrize("name", list(EDGE_LEADS))
@pytest.mark.parametrize("partitions", ["1", "2"])
def test_a_lead_whose_points_leave_the_years_1_to_9999_is_dead_lettered_with_its_line(
    tmp_path: Path, name: str, partitions: str
) -> None:
    at, policy = EDGE_LEADS[name]
    lines = [
        _ev("ok-c", "lead.created", "L-ok", "2026-03-02T09:00:00Z", source="web_form"),
        _ev("edge-c", "lead.created", "L-edge", at, source="web_form"),
        _ev("edge-o", "lead.owner_assigned", "L-edge", at, owner_id="alice"),
    ]
    code, err, raw = _replay(tmp_path, lines, policy, "--jobs", "1", "--partitions", partitions)
    assert code == 0, err
    assert "Traceback" not in err
    assert re.search(r"line 2: .*years 1-9999", err), err
    _assert_only_four_digit_years(raw)
    assert b'"L-ok"' in raw  # the rest of the file was replayed
    assert b'"L-edge"' not in raw
    assert "refused by the engine: 2" in err  # the lead.created and its held owner


def test_a_lead_on_the_first_day_of_year_1_works_on_both_clocks(tmp_path: Path) -> None:
    lines = [_ev("c", "lead.created", "L-1", "0001-01-02T09:00:00Z", source="web_form")]
    for policy in (CALENDAR, BUSINESS):
        code, err, raw = _replay(tmp_path, lines, policy, "--now", "0001-01-09T00:00:00Z")
        assert code == 0 and "Traceback" not in err
        assert b'"sla.breached"' in raw
        _assert_only_four_digit_years(raw)


def test_a_priority_change_whose_new_window_leaves_9999_is_refused_alone() -> None:
    policy = parse_policy(
        'default_manager = "m"\n[[targets]]\npriority = "low"\nminutes = 5000000\n'
    )
    at = parse_rfc3339("9999-06-01T00:00:00Z")
    from leadsla.domain.events import LeadUpdated

    created = LeadCreated("c", "L", at, "web_form")
    update = LeadUpdated("u", "L", at + 1, priority="low")
    result = evaluate("L", [created, update], at + 10, policy)
    assert [r.event for r in result.rejected] == [update]
    assert "years 1-9999" in result.rejected[0].reason
    assert result.fact is not None and result.fact.priority == "normal"


instants = st.one_of(
    st.integers(MIN_INSTANT - 10**12, MIN_INSTANT + 10**14),
    st.integers(MAX_INSTANT - 10**14, MAX_INSTANT + 10**12),
    st.integers(MIN_INSTANT, MAX_INSTANT),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    created=instants,
    offsets=st.lists(st.integers(-(10**12), 10**12), max_size=3),
    business=st.booleans(),
)
def test_property_the_engine_never_raises_and_never_leaves_the_years(
    created: int, offsets: list[int], business: bool
) -> None:
    policy = parse_policy(BUSINESS if business else CALENDAR)
    events: list[InputEvent] = [
        LeadCreated("c", "L", created, "pricing_page"),
        OwnerAssigned("o", "L", created, "alice"),
    ]
    events += [
        ActivityLogged(f"a{i}", "L", created + off, "alice", "person", "call")
        for i, off in enumerate(offsets)
    ]
    now = max(e.occurred_at for e in events) + 10**13
    result = evaluate("L", events, now, policy)
    for output in result.outputs:
        assert MIN_INSTANT <= output.occurred_at <= MAX_INSTANT
        for value in wire_data(output.data).values():
            if isinstance(value, str) and value.endswith("Z") and value[4:5] == "-":
                assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z", value), value
    assert all(r.reason for r in result.rejected)


# --------------------------------------------------------------------------------------------
# Absurd policies: refused at load with key and line, never a traceback or a hang

ABSURD = {
    "minutes_1e300": (
        'default_manager = "m"\n[[targets]]\nminutes = 1e300\n',
        "targets[0].minutes",
        3,
    ),
    "stale_after_1e300": ('default_manager = "m"\nstale_after = 1e300\n', "stale_after", 2),
    "escalation_1e300": (
        'default_manager = "m"\nescalate_to_manager_after = 1e300\n',
        "escalate_to_manager_after",
        2,
    ),
    "business_minutes_1e8": (
        'default_manager = "m"\nclock = "business"\n[[targets]]\nminutes = 1e8\n',
        "targets[0].minutes",
        4,
    ),
    "business_minutes_too_many_years": (
        'default_manager = "m"\nclock = "business"\n[[targets]]\nminutes = 5000000\n',
        "targets[0].minutes",
        4,
    ),
    "derived_span_over_a_century": (
        'default_manager = "m"\nstale_after = 100\n[[targets]]\nminutes = 5000000\n',
        "targets[0].minutes",
        4,
    ),
    "grace_1e300": ('default_manager = "m"\ngrace_seconds = 1e300\n', "grace_seconds", 2),
    "horizon_1e301": (
        'default_manager = "m"\nalert_horizon_minutes = 1e301\n',
        "alert_horizon_minutes",
        2,
    ),
    "future_1e301": (
        'default_manager = "m"\nmax_future_minutes = 1e301\n',
        "max_future_minutes",
        2,
    ),
}


def _mondays_2024_2027() -> list[str]:
    from datetime import date, timedelta

    day = date(2024, 1, 1)  # a Monday
    found = []
    while day.year < 2028:
        found.append(day.isoformat())
        day += timedelta(days=7)
    return found


ABSURD["no_business_time_in_the_reference_years"] = (
    'default_manager = "m"\nclock = "business"\n[[targets]]\nminutes = 60\n[business_hours]\n'
    'days = ["mon"]\nholidays = [' + ", ".join(f'"{d}"' for d in _mondays_2024_2027()) + "]\n",
    "targets[0].minutes",
    4,
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(ABSURD))
def test_an_absurd_policy_is_refused_with_its_key_and_line(tmp_path: Path, name: str) -> None:
    text, key, line = ABSURD[name]
    with pytest.raises(PolicyError) as refused:
        parse_policy(text)
    assert refused.value.key == key
    assert refused.value.line == line
    code, err, _ = _replay(
        tmp_path, [_ev("c", "lead.created", "L", "2026-03-02T09:00:00Z", source="x")], text
    )
    assert code == 2
    assert key in err and f"line {line}" in err
    assert "Traceback" not in err


@pytest.mark.timeout(60)
def test_a_calendar_without_business_time_for_years_refuses_the_leads_it_cannot_place(
    tmp_path: Path,
) -> None:
    """Holidays on every working day of 2030-2031: leads of 2030 are refused, others replayed."""
    from datetime import date, timedelta

    day, holidays = date(2030, 1, 1), []
    while day.year < 2032:
        holidays.append(f'"{day.isoformat()}"')
        day += timedelta(days=1)
    policy = (
        'default_manager = "m"\nclock = "business"\n[business_hours]\n'
        f"holidays = [{', '.join(holidays)}]\n"
    )
    lines = [
        _ev("a", "lead.created", "L-2029", "2029-06-04T09:00:00Z", source="web_form"),
        _ev("b", "lead.created", "L-2030", "2030-06-03T09:00:00Z", source="web_form"),
    ]
    code, err, raw = _replay(tmp_path, lines, policy)
    assert code == 0 and "Traceback" not in err
    assert re.search(r"line 2: .*no working time", err), err
    assert b'"L-2029"' in raw and b'"L-2030"' not in raw


# --------------------------------------------------------------------------------------------
# Rule 15: conflicting duplicates, decided the same whatever the order


def _created(at: str, source: str = "web_form", eid: str = "c") -> LeadCreated:
    return LeadCreated(eid, "L", parse_rfc3339(at), source)


def test_the_earliest_version_stands_whatever_the_order() -> None:
    policy = parse_policy(CALENDAR)
    early = _created("2026-03-02T09:00:00Z", "chat")
    late = _created("2026-03-02T09:05:00Z", "web_form")
    now = parse_rfc3339("2026-03-02T12:00:00Z")
    one = evaluate("L", [early, late], now, policy)
    other = evaluate("L", [late, early], now, policy)
    assert one.outputs == other.outputs
    assert one.fact is not None and one.fact.source == "chat"
    assert [r.event for r in one.rejected] == [late] == [r.event for r in other.rejected]
    assert one.rejected[0].reason.startswith("conflicting_duplicate")
    assert one.duplicates == other.duplicates == 0


def test_a_tie_is_broken_by_canonical_json_and_repeats_are_plain_duplicates() -> None:
    policy = parse_policy(CALENDAR)
    a = _created("2026-03-02T09:00:00Z", "chat")
    b = _created("2026-03-02T09:00:00Z", "referral")
    assert canonical_json(a) < canonical_json(b)  # "chat" sorts before "referral"
    assert canonical_json(a) == (
        '{"account_id":null,"category":"inquiry","consent":"granted","customer_status":"new",'
        '"display_name":null,"event_id":"c","intent":null,"lead_id":"L",'
        f'"occurred_at":{a.occurred_at},"priority":"normal","source":"chat","type":"lead.created"}}'
    )
    now = parse_rfc3339("2026-03-02T12:00:00Z")
    results = [
        evaluate("L", order, now, policy) for order in ([a, b, b, a], [b, a, a, b], [b, b, a])
    ]
    assert all(r.outputs == results[0].outputs for r in results)
    assert results[0].fact is not None and results[0].fact.source == "chat"
    assert [len(r.rejected) for r in results] == [1, 1, 1]
    assert [r.duplicates for r in results] == [2, 2, 1]


def test_conflicting_lines_are_reported_with_the_line_of_the_version_refused(
    tmp_path: Path,
) -> None:
    first = _ev("c", "lead.created", "L", "2026-03-02T09:05:00Z", source="web_form")
    second = _ev("c", "lead.created", "L", "2026-03-02T09:00:00Z", source="chat")
    outputs = []
    for lines, refused_line in (([first, second], 1), ([second, first], 2)):
        code, err, raw = _replay(tmp_path, lines, CALENDAR)
        assert code == 0
        assert re.search(rf"line {refused_line}: conflicting_duplicate", err), err
        outputs.append(raw)
    assert outputs[0] == outputs[1]
    assert b'"source":"chat"' in outputs[0]


def test_format_utc_keeps_four_digits_at_both_ends() -> None:
    assert format_utc(MIN_INSTANT) == "0001-01-01T00:00:00Z"
    assert format_utc(MAX_INSTANT) == "9999-12-31T23:59:59.999999Z"


@pytest.mark.timeout(60)
def test_thousands_of_versions_of_one_event_and_thousands_of_refusals_stay_cheap(
    tmp_path: Path,
) -> None:
    """Rule 15 and 16 at scale in one lead: no quadratic work (each refusal found by identity)."""
    lines = [_ev("c", "lead.created", "L", "2026-03-02T09:00:00Z", source="web_form")]
    lines += [
        _ev(
            "a",
            "lead.activity_logged",
            "L",
            "2026-03-02T09:30:00Z",
            actor_id=f"rep-{n}",
            actor_kind="automation",
            kind="autoresponder",
        )
        for n in range(4000)
    ]
    lines += [
        _ev(f"x{n}", "lead.status_changed", "L", "2026-03-02T10:00:00Z", status="spam")
        for n in range(2)
    ]
    lines += [
        _ev(
            f"r{n}",
            "lead.breach_resolved",
            "L",
            "2026-03-02T09:10:00Z",
            resolved_by="carol",
            resolution_note="n",
        )
        for n in range(4000)
    ]
    code, err, _ = _replay(tmp_path, lines, CALENDAR)
    assert code == 0 and "Traceback" not in err
    assert "refused by the engine: 7999" in err, err[-500:]
    assert err.count("conflicting_duplicate") == 3999
