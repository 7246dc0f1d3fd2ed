"""The SLA policy (SPEC.md section 3): its shape, and loading it from TOML.

STUB: the Policy shape is fixed (the engine uses it); parse_policy/load_policy to be implemented.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .calendar import DEFAULT_BUSINESS_HOURS, BusinessCalendar, BusinessHours


class PolicyError(ValueError):
    """A policy file was refused. ``key`` is the dotted key, ``line`` 1-based (None if unknown)."""

    def __init__(self, message: str, key: str | None = None, line: int | None = None) -> None:
        self.key = key
        self.line = line
        where = ""
        if key is not None:
            where += f"key {key!r}"
        if line is not None:
            where += f"{' ' if where else ''}at line {line}"
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True, slots=True)
class TargetRule:
    minutes: float
    source: str | None = None
    priority: str | None = None


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
    clock: str = "calendar"  # "calendar" | "business"
    timezone: str = "UTC"
    targets: tuple[TargetRule, ...] = (TargetRule(minutes=60),)
    warn_at: float = 0.75
    grace_seconds: float = 0.0
    escalate_to_manager_after: float = 0.5
    stale_after: float = 2.0
    high_intent_sources: frozenset[str] = frozenset({"pricing_page", "demo_request"})
    meaningful_kinds: frozenset[str] = DEFAULT_MEANINGFUL_KINDS
    response_from: str = "owner_or_backup"  # "owner_or_backup" | "any_person"
    review_categories: frozenset[str] = frozenset(
        {"complaint", "urgent_request", "customer_conflict"}
    )
    business_hours: BusinessHours = DEFAULT_BUSINESS_HOURS
    roster: Mapping[str, RosterEntry] = field(default_factory=dict)
    include_contact_details: bool = False
    alert_horizon_minutes: float = 1440.0
    calendar: BusinessCalendar | None = None  # built from business_hours/timezone when clock="business"

    def target_minutes(self, source: str, priority: str) -> float:
        """The first rule whose given fields all match wins; no match: 60 minutes."""
        for rule in self.targets:
            if (rule.source is None or rule.source == source) and (
                rule.priority is None or rule.priority == priority
            ):
                return rule.minutes
        return 60.0


def parse_policy(text: str) -> Policy:
    """Parse and validate policy TOML text; raise PolicyError naming the key and line."""
    raise NotImplementedError


def load_policy(path: str) -> Policy:
    """Read a policy file (UTF-8) and parse it; default version is a short hash of the bytes."""
    raise NotImplementedError
