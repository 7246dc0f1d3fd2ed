"""The policy file (SPEC.md section 3): its defaults, its meaning, and every way it is refused.

Refusals name the dotted key and its 1-based line. A key that is missing altogether has no line
of its own: it points at the header of the table that should hold it, and a key missing from the
top level (``default_manager``) has ``line = None``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from leadsla.domain.calendar import BusinessCalendar, BusinessHours
from leadsla.domain.instant import MINUTE, from_datetime
from leadsla.domain.policy import (
    DEFAULT_MEANINGFUL_KINDS,
    Policy,
    RosterEntry,
    TargetRule,
)
from leadsla.policy_file import PolicyError, load_policy, parse_policy
from leadsla.toml_lines import KeyLines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANAGER = 'default_manager = "sales-manager"'


def toml(*lines: str) -> str:
    """A policy text whose line N is ``lines[N - 1]``, so that line numbers read off the test."""
    return "\n".join(lines) + "\n"


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def windows(**days: list[tuple[int, int]]) -> tuple[tuple[tuple[int, int], ...], ...]:
    return tuple(tuple(days.get(d, ())) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"))


# --------------------------------------------------------------------------------------------
# Defaults and meaning


def test_a_file_with_only_default_manager_gets_every_default_of_the_spec() -> None:
    # given / when
    text = toml(MANAGER)
    policy = parse_policy(text)

    # then
    assert policy == Policy(default_manager="sales-manager", version=short_hash(text))
    assert policy.clock == "calendar"
    assert policy.timezone == "UTC"
    assert policy.targets == (TargetRule(minutes=60),)
    assert (policy.warn_at, policy.grace_seconds) == (0.75, 0)
    assert (policy.escalate_to_manager_after, policy.stale_after) == (0.5, 2.0)
    assert policy.high_intent_sources == {"pricing_page", "demo_request"}
    assert policy.meaningful_kinds == DEFAULT_MEANINGFUL_KINDS
    assert policy.response_from == "owner_or_backup"
    assert policy.review_categories == {"complaint", "urgent_request", "customer_conflict"}
    assert policy.business_hours.windows == windows(
        mon=[(540, 1020)],
        tue=[(540, 1020)],
        wed=[(540, 1020)],
        thu=[(540, 1020)],
        fri=[(540, 1020)],
    )
    assert policy.business_hours.holidays == frozenset()
    assert dict(policy.roster) == {}
    assert policy.include_contact_details is False
    assert policy.alert_horizon_minutes == 1440
    assert policy.max_future_minutes == 1440
    assert policy.calendar is None


FULL = toml(
    'version = "2026-05-b2b"',  # 1
    'default_manager = "maria"',
    'clock = "business"',
    'timezone = "Europe/Berlin"',
    "warn_at = 0.8",  # 5
    "grace_seconds = 30",
    "escalate_to_manager_after = 1",
    "stale_after = 3.5",
    'high_intent_sources = ["pricing_page"]',
    'meaningful_kinds = ["call", "email"]',  # 10
    'response_from = "any_person"',
    'review_categories = ["complaint"]',
    "include_contact_details = true",
    "alert_horizon_minutes = 90",
    "",  # 15
    "[[targets]]",
    'source = "chat"',
    'priority = "urgent"',
    "minutes = 2.5",
    "",  # 20
    "[[targets]]",
    "minutes = 45",
    "",
    "[business_hours]",
    'days = ["mon", "tue", "wed", "thu", "fri", "sat"]',  # 25
    'start = "08:30"',
    'end = "18:00"',
    'holidays = [2026-12-25, "2026-12-26"]',
    "",
    "[roster.alice]",  # 30
    'backup = "bob"',
    'manager = "sam"',
    "",
    "[roster.bob]",
    'manager = "sam"',  # 35
)


def test_a_policy_with_every_key_is_read_as_written() -> None:
    # given / when
    policy = parse_policy(FULL)

    # then
    hours = BusinessHours(
        windows=((((510, 1080),),) * 6) + ((),),
        holidays=frozenset({date(2026, 12, 25), date(2026, 12, 26)}),
    )
    assert dataclasses.replace(policy, calendar=None) == Policy(
        default_manager="maria",
        version="2026-05-b2b",
        clock="business",
        timezone="Europe/Berlin",
        targets=(TargetRule(minutes=2.5, source="chat", priority="urgent"), TargetRule(45)),
        warn_at=0.8,
        grace_seconds=30,
        escalate_to_manager_after=1,
        stale_after=3.5,
        high_intent_sources=frozenset({"pricing_page"}),
        meaningful_kinds=frozenset({"call", "email"}),
        response_from="any_person",
        review_categories=frozenset({"complaint"}),
        business_hours=hours,
        roster={
            "alice": RosterEntry(backup="bob", manager="sam"),
            "bob": RosterEntry(manager="sam"),
        },
        include_contact_details=True,
        alert_horizon_minutes=90,
    )
    assert isinstance(policy.calendar, BusinessCalendar)
    assert (policy.calendar.hours, policy.calendar.timezone) == (hours, "Europe/Berlin")


def test_numbers_are_floats_and_the_roster_is_read_only() -> None:
    policy = parse_policy(FULL)

    assert all(type(rule.minutes) is float for rule in policy.targets)
    assert type(policy.grace_seconds) is float
    assert isinstance(policy.roster, MappingProxyType)
    with pytest.raises(TypeError):
        policy.roster["carol"] = RosterEntry()  # type: ignore[index]


TARGETS = toml(
    MANAGER,
    "[[targets]]",
    'source = "pricing_page"',
    'priority = "urgent"',
    "minutes = 5",
    "[[targets]]",
    'source = "pricing_page"',
    "minutes = 15",
    "[[targets]]",
    'priority = "urgent"',
    "minutes = 10",
    "[[targets]]",
    'source = "chat"',
    "minutes = 0.5",
)


@pytest.mark.parametrize(
    ("source", "priority", "minutes"),
    [
        pytest.param("pricing_page", "urgent", 5, id="source-and-priority"),
        pytest.param("pricing_page", "low", 15, id="source-only"),
        pytest.param("web_form", "urgent", 10, id="priority-only"),
        pytest.param("chat", "urgent", 10, id="earlier-rule-wins-over-later"),
        pytest.param("chat", "normal", 0.5, id="fractional-minutes"),
        pytest.param("web_form", "normal", 60, id="no-match-falls-back-to-60"),
    ],
)
def test_the_first_matching_target_wins(source: str, priority: str, minutes: float) -> None:
    policy = parse_policy(TARGETS)

    assert policy.target_minutes(source, priority) == minutes


def test_targets_keep_file_order_and_inline_tables_work_too() -> None:
    policy = parse_policy(
        toml(MANAGER, 'targets = [{minutes = 1.25, source = "chat"}, {minutes = 7}]')
    )

    assert policy.targets == (TargetRule(1.25, source="chat"), TargetRule(7.0))


def test_an_empty_targets_list_means_no_rule_and_the_60_minute_fallback() -> None:
    policy = parse_policy(toml(MANAGER, "targets = []"))

    assert policy.targets == ()
    assert policy.target_minutes("pricing_page", "urgent") == 60


def test_per_day_windows_with_split_shifts_and_an_overnight_window() -> None:
    # given
    text = toml(
        MANAGER,
        'clock = "business"',
        "[business_hours.windows]",
        'mon = ["13:00-17:00", "08:00-12:00"]',
        'fri = ["22:00-02:00"]',
        'sat = ["18:00-24:00"]',
        "sun = []",
    )

    # when
    policy = parse_policy(text)

    # then: sorted per day; overnight is (start, end) with end <= start; 24:00 is minute 1440
    assert policy.business_hours.windows == windows(
        mon=[(480, 720), (780, 1020)], fri=[(1320, 120)], sat=[(1080, 1440)]
    )
    assert policy.calendar is not None


@pytest.mark.parametrize(
    "holidays",
    [
        pytest.param("[2026-12-25, 2027-01-01]", id="toml-dates"),
        pytest.param('["2026-12-25", "2027-01-01"]', id="strings"),
        pytest.param('[2026-12-25, "2027-01-01", 2026-12-25]', id="mixed-with-duplicate"),
    ],
)
def test_holidays_are_toml_dates_or_iso_strings(holidays: str) -> None:
    policy = parse_policy(toml(MANAGER, "[business_hours]", f"holidays = {holidays}"))

    assert policy.business_hours.holidays == {date(2026, 12, 25), date(2027, 1, 1)}


def test_a_calendar_clock_has_no_business_calendar() -> None:
    policy = parse_policy(toml(MANAGER, 'clock = "calendar"', 'timezone = "America/New_York"'))

    assert policy.calendar is None


# --------------------------------------------------------------------------------------------
# Version


def test_version_defaults_to_a_short_hash_that_changes_with_the_file() -> None:
    one = toml(MANAGER)
    two = toml(MANAGER, "warn_at = 0.5")

    assert parse_policy(one).version == short_hash(one)
    assert len(parse_policy(one).version) == 12
    assert parse_policy(two).version != parse_policy(one).version


def test_a_given_default_version_is_used_only_when_the_file_has_none() -> None:
    assert parse_policy(toml(MANAGER), default_version="v-from-caller").version == "v-from-caller"
    assert parse_policy(toml(MANAGER, 'version = "v1"'), default_version="x").version == "v1"


def test_load_policy_versions_by_a_hash_of_the_bytes(tmp_path: Path) -> None:
    # given
    data = toml(MANAGER, 'timezone = "Europe/Paris"').encode()
    path = tmp_path / "policy.toml"
    path.write_bytes(data)

    # when
    policy = load_policy(str(path))

    # then
    assert policy.timezone == "Europe/Paris"
    assert policy.version == hashlib.sha256(data).hexdigest()[:12]


def test_load_policy_refuses_a_file_that_is_not_utf8_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b'default_manager = "m"\n# caf\xe9\n')

    with pytest.raises(PolicyError) as refused:
        load_policy(path)

    assert refused.value.line == 2
    assert "UTF-8" in str(refused.value)


def test_load_policy_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["policy.toml", "policy-business.toml"])
def test_the_example_policies_load(name: str) -> None:
    policy = load_policy(EXAMPLES / name)

    assert policy.default_manager
    assert policy.targets


def test_the_business_example_counts_only_business_time() -> None:
    # given: a demo request on Friday 15:50 Berlin, 60-minute target, office shut at 16:00
    policy = load_policy(EXAMPLES / "policy-business.toml")
    assert policy.calendar is not None
    friday = from_datetime(datetime(2026, 6, 5, 13, 50, tzinfo=UTC))  # 15:50 CEST

    # when
    due = policy.calendar.add(friday, int(policy.target_minutes("demo_request", "normal")) * MINUTE)

    # then: 10 minutes on Friday, 50 on Saturday morning
    assert due == from_datetime(datetime(2026, 6, 6, 7, 50, tzinfo=UTC))  # 09:50 CEST


# --------------------------------------------------------------------------------------------
# Refusals: each names the key and its line


def test_a_refusal_reads_as_key_line_and_what_is_allowed() -> None:
    text = toml(MANAGER, 'clock = "calendar"', "", "warn_at = 1.5")

    with pytest.raises(PolicyError) as refused:
        parse_policy(text)

    assert str(refused.value) == "key 'warn_at' at line 4: must be a number in (0, 1], got 1.5"


REFUSALS = [
    # missing required key: no line, the top-level table has no header
    ("missing-default-manager", toml("warn_at = 0.5"), "default_manager", None),
    ("empty-default-manager", toml('default_manager = "  "'), "default_manager", 1),
    # unknown keys, at every level
    ("unknown-top-level-key", toml(MANAGER, "warn_after = 0.5"), "warn_after", 2),
    (
        "unknown-business-hours-key",
        toml(MANAGER, "", "[business_hours]", 'day = ["mon"]'),
        "business_hours.day",
        4,
    ),
    (
        "unknown-target-key",
        toml(MANAGER, "[[targets]]", "minutes = 5", "max_minutes = 9"),
        "targets[0].max_minutes",
        4,
    ),
    (
        "unknown-roster-key",
        toml(MANAGER, "[roster.alice]", 'backup = "bob"', 'escalate_to = "sam"'),
        "roster.alice.escalate_to",
        4,
    ),
    # wrong types
    ("number-as-string", toml(MANAGER, 'warn_at = "0.5"'), "warn_at", 2),
    ("bool-is-not-a-number", toml(MANAGER, "grace_seconds = true"), "grace_seconds", 2),
    (
        "bool-as-string",
        toml(MANAGER, 'include_contact_details = "yes"'),
        "include_contact_details",
        2,
    ),
    ("list-as-string", toml(MANAGER, 'high_intent_sources = "chat"'), "high_intent_sources", 2),
    (
        "list-item-not-a-string",
        toml(MANAGER, "high_intent_sources = [", '  "chat",', "  42,", "]"),
        "high_intent_sources",
        4,
    ),
    ("version-not-a-string", toml(MANAGER, "version = 3"), "version", 2),
    ("empty-version", toml(MANAGER, 'version = ""'), "version", 2),
    ("roster-entry-not-a-table", toml(MANAGER, "[roster]", 'alice = "bob"'), "roster.alice", 3),
    (
        "roster-value-not-a-string",
        toml(MANAGER, "[roster.alice]", "manager = 7"),
        "roster.alice.manager",
        3,
    ),
    # out-of-range values
    ("warn-at-above-one", toml(MANAGER, "warn_at = 1.5"), "warn_at", 2),
    ("warn-at-zero", toml(MANAGER, "warn_at = 0"), "warn_at", 2),
    ("warn-at-nan", toml(MANAGER, "warn_at = nan"), "warn_at", 2),
    ("negative-grace", toml(MANAGER, "grace_seconds = -1"), "grace_seconds", 2),
    (
        "negative-escalation",
        toml(MANAGER, "escalate_to_manager_after = -0.1"),
        "escalate_to_manager_after",
        2,
    ),
    ("zero-stale-after", toml(MANAGER, "stale_after = 0"), "stale_after", 2),
    ("zero-alert-horizon", toml(MANAGER, "alert_horizon_minutes = 0"), "alert_horizon_minutes", 2),
    ("infinite-horizon", toml(MANAGER, "alert_horizon_minutes = inf"), "alert_horizon_minutes", 2),
    ("zero-future", toml(MANAGER, "max_future_minutes = 0"), "max_future_minutes", 2),
    ("text-future", toml(MANAGER, 'max_future_minutes = "a day"'), "max_future_minutes", 2),
    # choices
    ("unknown-clock", toml(MANAGER, 'clock = "wall"'), "clock", 2),
    ("unknown-response-from", toml(MANAGER, 'response_from = "anyone"'), "response_from", 2),
    (
        "unknown-review-category",
        toml(MANAGER, 'review_categories = ["complain"]'),
        "review_categories",
        2,
    ),
    (
        "review-category-that-is-no-review-reason",
        toml(MANAGER, 'review_categories = ["complaint", "inquiry"]'),
        "review_categories",
        2,
    ),
    ("empty-meaningful-kinds", toml(MANAGER, "meaningful_kinds = []"), "meaningful_kinds", 2),
    ("bad-iana-zone", toml(MANAGER, 'timezone = "Mars/Olympus_Mons"'), "timezone", 2),
    ("zone-with-wrong-case", toml(MANAGER, 'timezone = "europe/berlin"'), "timezone", 2),
    # targets
    (
        "second-target-with-zero-minutes",
        toml(
            MANAGER,
            "",
            "[[targets]]",
            'source = "chat"',
            "minutes = 5",
            "",
            "[[targets]]",
            "minutes = 0",
        ),
        "targets[1].minutes",
        8,
    ),
    (
        "target-without-minutes-points-at-its-header",
        toml(MANAGER, "[[targets]]", "minutes = 5", 'source = "a"', "[[targets]]", 'source = "b"'),
        "targets[1].minutes",
        5,
    ),
    (
        "unknown-priority",
        toml(MANAGER, "[[targets]]", 'priority = "critical"', "minutes = 5"),
        "targets[0].priority",
        3,
    ),
    (
        "target-shadowed-by-an-earlier-catch-all",
        toml(
            MANAGER, "[[targets]]", "minutes = 60", "[[targets]]", 'source = "chat"', "minutes = 5"
        ),
        "targets[1]",
        4,
    ),
    (
        "inline-target-on-its-own-line",
        toml(MANAGER, "targets = [", '  {source = "chat", minutes = 5},', "  {minutes = -1},", "]"),
        "targets[1].minutes",
        4,
    ),
    ("targets-not-an-array", toml(MANAGER, "[targets]", "minutes = 5"), "targets", 2),
    # business hours
    (
        "bad-time-in-a-window",
        toml(
            MANAGER,
            "[business_hours.windows]",
            "mon = [",
            '  "08:00-12:00",',
            '  "25:00-26:00",',
            "]",
        ),
        "business_hours.windows.mon",
        5,
    ),
    (
        "window-not-a-range",
        toml(MANAGER, "[business_hours.windows]", 'tue = ["08:00"]'),
        "business_hours.windows.tue",
        3,
    ),
    (
        "empty-window",
        toml(MANAGER, "[business_hours.windows]", 'tue = ["08:00-08:00"]'),
        "business_hours.windows.tue",
        3,
    ),
    (
        "bad-weekday-in-days",
        toml(MANAGER, "[business_hours]", 'days = ["mon", "tuesday"]'),
        "business_hours.days",
        3,
    ),
    (
        "bad-weekday-in-windows",
        toml(MANAGER, "[business_hours.windows]", 'monday = ["08:00-12:00"]'),
        "business_hours.windows.monday",
        3,
    ),
    ("bad-start", toml(MANAGER, "[business_hours]", 'start = "9am"'), "business_hours.start", 3),
    ("end-after-24", toml(MANAGER, "[business_hours]", 'end = "24:30"'), "business_hours.end", 3),
    (
        "windows-and-start-together",
        toml(
            MANAGER,
            "[business_hours]",
            'start = "08:00"',
            "[business_hours.windows]",
            'mon = ["08:00-12:00"]',
        ),
        "business_hours.start",
        3,
    ),
    (
        "holiday-not-a-date",
        toml(MANAGER, "[business_hours]", 'holidays = ["2026-12-25", "25.12.2026"]'),
        "business_hours.holidays",
        3,
    ),
    (
        "holiday-with-a-time",
        toml(MANAGER, "[business_hours]", "holidays = [2026-12-25T00:00:00]"),
        "business_hours.holidays",
        3,
    ),
    (
        "business-clock-without-any-hours",
        toml(MANAGER, 'clock = "business"', "[business_hours]", "days = []"),
        "business_hours.days",
        4,
    ),
    (
        "business-clock-with-empty-windows",
        toml(MANAGER, 'clock = "business"', "[business_hours.windows]", "mon = []"),
        "business_hours.windows",
        3,
    ),
    # keys the line scanner has to work for
    (
        "quoted-dotted-key",
        toml(MANAGER, 'roster."alice smith".backup = 5'),
        'roster."alice smith".backup',
        2,
    ),
    (
        "dotted-key-inside-a-table",
        toml(MANAGER, "[business_hours]", "# windows below", 'windows.wed = ["9:00-99:00"]'),
        "business_hours.windows.wed",
        4,
    ),
    (
        "after-a-multiline-string-and-comments",
        toml(
            'version = """',
            "v1 # not a comment",
            '[not] a = "table"',
            '"""',
            MANAGER,
            "# x = 1",
            "warn_at = 2",
        ),
        "warn_at",
        7,
    ),
    # TOML syntax: the line tomllib reports, no key
    (
        "toml-syntax-error",
        toml(MANAGER, "warn_at = 0.5", "stale_after = ", "clock = 'business'"),
        None,
        3,
    ),
    ("toml-duplicate-key", toml(MANAGER, "warn_at = 0.5", "warn_at = 0.6"), None, 3),
    ("toml-unclosed-array-at-end", toml(MANAGER, "meaningful_kinds = [", '"call",'), None, 3),
]


@pytest.mark.parametrize(
    ("text", "key", "line"), [pytest.param(*case[1:], id=case[0]) for case in REFUSALS]
)
def test_a_bad_policy_is_refused_naming_the_key_and_its_line(
    text: str, key: str | None, line: int | None
) -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text)

    assert (refused.value.key, refused.value.line) == (key, line), str(refused.value)


def test_an_unknown_key_suggests_the_closest_allowed_one() -> None:
    with pytest.raises(PolicyError, match="did you mean 'warn_at'"):
        parse_policy(toml(MANAGER, "warn_att = 0.5"))


def test_the_line_scanner_never_crashes_on_broken_text() -> None:
    # given: every truncation of real policies, and seeded noise from TOML's punctuation
    texts = [FULL[:n] for n in range(0, len(FULL), 3)]
    texts += [(EXAMPLES / "policy.toml").read_text()[:n] for n in range(0, 3000, 29)]
    noise = random.Random(20260501)
    alphabet = "[]{}\"'=.,#\n \\abc12-_"
    texts += ["".join(noise.choices(alphabet, k=noise.randrange(80))) for _ in range(300)]

    for text in texts:
        # when
        lines = KeyLines(text)

        # then
        found = lines.line(("roster", "alice", "backup"))
        assert found is None or 1 <= found <= text.count("\n") + 1
