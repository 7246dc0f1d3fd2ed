"""The SLA policy (SPEC.md section 3): the value object the engine reads, and its limits.

A :class:`Policy` is already valid: reading and validating a policy file is the edge's job
(``leadsla.policy_file``), which refuses anything outside the limits below (rule 16) naming the
key and the line. What stays here is pure: the policy's shape and defaults, which target applies
to a lead (:meth:`Policy.target_minutes`), and the computations the limits are checked with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .calendar import DEFAULT_BUSINESS_HOURS, BusinessCalendar, BusinessHours
from .instant import parse_rfc3339
from .vocabulary import Clock, ResponseFrom


@dataclass(frozen=True, slots=True)
class TargetRule:
    minutes: float
    source: str | None = None
    priority: str | None = None

    def covers(self, later: TargetRule) -> bool:
        """Every lead ``later`` matches is matched by this rule first (so ``later`` never wins)."""
        return (self.source is None or self.source == later.source) and (
            self.priority is None or self.priority == later.priority
        )


@dataclass(frozen=True, slots=True)
class RosterEntry:
    backup: str | None = None
    manager: str | None = None


DEFAULT_MEANINGFUL_KINDS = frozenset(
    {"email", "call", "voicemail", "sms", "chat", "meeting_booked", "conversation"}
)


@dataclass(frozen=True, slots=True)
class Policy:
    default_manager: str
    version: str = "default"
    clock: Clock = "calendar"
    timezone: str = "UTC"
    targets: tuple[TargetRule, ...] = (TargetRule(minutes=60),)
    warn_at: float = 0.75
    grace_seconds: float = 0.0
    escalate_to_manager_after: float = 0.5
    stale_after: float = 2.0
    high_intent_sources: frozenset[str] = frozenset({"pricing_page", "demo_request"})
    meaningful_kinds: frozenset[str] = DEFAULT_MEANINGFUL_KINDS
    response_from: ResponseFrom = "owner_or_backup"
    review_categories: frozenset[str] = frozenset(
        {"complaint", "urgent_request", "customer_conflict"}
    )
    business_hours: BusinessHours = DEFAULT_BUSINESS_HOURS
    roster: Mapping[str, RosterEntry] = field(default_factory=dict)
    include_contact_details: bool = False
    alert_horizon_minutes: float = 1440.0
    max_future_minutes: float = 1440.0
    """Live worker only (rule 16): an input further ahead of the wall clock is dead-lettered."""
    calendar: BusinessCalendar | None = (
        None  # built from business_hours/timezone when clock="business"
    )
    _target_cache: dict[tuple[str, str], float] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def target_minutes(self, source: str, priority: str) -> float:
        """The first rule whose given fields all match wins; no match: 60 minutes."""
        key = (source, priority)
        cached = self._target_cache.get(key)
        if cached is not None:
            return cached
        minutes = 60.0
        for rule in self.targets:
            if (rule.source is None or rule.source == source) and (
                rule.priority is None or rule.priority == priority
            ):
                minutes = rule.minutes
                break
        if len(self._target_cache) < 4096:  # sources are an open set: keep the memo bounded
            self._target_cache[key] = minutes
        return minutes


# --------------------------------------------------------------------------------------------
# Limits (rule 16): every derived point in time must stay inside the years 1-9999, and a business
# calendar must be able to place it in bounded time. Generous for any real policy; the edge
# refuses a policy file beyond them at load.

YEAR_MINUTES = 525_960
"""365.25 days."""
MAX_TARGET_MINUTES = 10 * YEAR_MINUTES
"""A target window of at most 10 years (5,259,600 minutes)."""
MAX_FRACTION_OF_WINDOW = 100.0
"""``stale_after`` and ``escalate_to_manager_after``: at most 100 windows."""
MAX_DERIVED_MINUTES = 100 * YEAR_MINUTES
"""The latest derived point (level 2 or stale) at most 100 years after the lead's creation."""
MAX_BUSINESS_YEARS = 20
"""Business clock: the latest derived point needs at most 20 years of the calendar's business
time (measured over 2024-2027), so that placing it stays a matter of milliseconds."""
MAX_GRACE_SECONDS = 366 * 86_400
"""``grace_seconds``: at most a year."""
MAX_LIVE_MINUTES = 100 * YEAR_MINUTES
"""``alert_horizon_minutes`` and ``max_future_minutes``: at most 100 years."""


def last_point_factor(escalate_to_manager_after: float, stale_after: float) -> float:
    """How many target windows after the start the latest derived point (level 2 or stale) lies."""
    return max(1.0 + escalate_to_manager_after, stale_after)


def business_minutes_per_year(calendar: BusinessCalendar) -> float:
    """The calendar's business minutes in an average year, measured over 2024-2027."""
    start = parse_rfc3339("2024-01-01T00:00:00Z")
    end = parse_rfc3339("2028-01-01T00:00:00Z")
    return calendar.between(start, end) / 4 / 60e6
