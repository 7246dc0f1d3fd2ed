"""The SLA policy (SPEC.md section 3): its shape, and loading it from TOML.

A policy file is validated completely on load. Every refusal is a :class:`PolicyError` naming the
dotted key (``targets[1].minutes``, ``business_hours.windows.mon``) and its 1-based line, because
a typo that silently became a default would quietly change every deadline. ``tomllib`` reports no
positions for keys, so a small scanner over the raw text (``_key_lines``) maps key paths to lines.
"""

from __future__ import annotations

import bisect
import contextlib
import difflib
import hashlib
import json
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Any, NoReturn

from .calendar import DEFAULT_BUSINESS_HOURS, WEEKDAYS, BusinessCalendar, BusinessHours
from .instant import parse_rfc3339


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
# Loading


def short_hash(data: bytes) -> str:
    """The default policy version: the first 12 hex digits of the SHA-256 of the file."""
    return hashlib.sha256(data).hexdigest()[:12]


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read a policy file (UTF-8) and parse it; default version is a short hash of the bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise PolicyError(f"cannot read policy file {os.fspath(path)!r}: {e.strerror}") from e
    try:
        # utf-8-sig: a byte-order mark written by some editors is not an error worth refusing.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise PolicyError(
            f"the file is not valid UTF-8 (byte {e.start} of the file)", line=line
        ) from e
    return parse_policy(text, default_version=short_hash(data))


def parse_policy(text: str, *, default_version: str | None = None) -> Policy:
    """Parse and validate policy TOML text; raise PolicyError naming the key and line.

    Without a ``version`` key the version is ``default_version``, else a short hash of the text.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(text, e) from e
    if default_version is None:
        default_version = short_hash(text.encode("utf-8"))
    return _Validator(text).policy(doc, default_version)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)$")


def _syntax_error(text: str, error: tomllib.TOMLDecodeError) -> PolicyError:
    # Python 3.11's TOMLDecodeError has no lineno attribute (3.14 adds it); the position is only
    # in the message, as "(at line N, column M)" or "(at end of document)".
    message = str(error)
    lineno = getattr(error, "lineno", None)
    found = _TOML_POSITION.search(message)
    if found:
        message = message[: found.start()]
        lineno = lineno if isinstance(lineno, int) else int(found.group(1))
        return PolicyError(
            f"invalid TOML (column {found.group(2)}): {message}", key=None, line=lineno
        )
    at_end = _TOML_AT_END.search(message)
    if at_end:
        message = message[: at_end.start()] + " (at the end of the file)"
        lineno = lineno if isinstance(lineno, int) else max(1, len(text.splitlines()))
    return PolicyError(f"invalid TOML: {message}", key=None, line=lineno)


# --------------------------------------------------------------------------------------------
# Validation


_Path = tuple[str | int, ...]
Window = tuple[tuple[int, int], ...]  # one weekday's (start_minute, end_minute) pairs

_TOP_KEYS = (
    "version",
    "clock",
    "timezone",
    "targets",
    "warn_at",
    "grace_seconds",
    "escalate_to_manager_after",
    "stale_after",
    "high_intent_sources",
    "meaningful_kinds",
    "response_from",
    "review_categories",
    "business_hours",
    "roster",
    "default_manager",
    "include_contact_details",
    "alert_horizon_minutes",
    "max_future_minutes",
)
_TARGET_KEYS = ("source", "priority", "minutes")
_ROSTER_KEYS = ("backup", "manager")
_BUSINESS_HOURS_KEYS = ("days", "start", "end", "holidays", "windows")
_CLOCKS = ("calendar", "business")
_RESPONSE_FROM = ("owner_or_backup", "any_person")
_PRIORITIES = ("urgent", "high", "normal", "low")
# The lead categories of SPEC section 2; a review category outside them could never match.
_CATEGORIES = ("inquiry", "complaint", "urgent_request", "customer_conflict", "support_issue")

_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_WINDOW = re.compile(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


_NumberRule = tuple[str, Callable[[float], bool]]


def _number_rule(low: float, *, low_open: bool, high: float | None = None) -> _NumberRule:
    """A human description of an allowed range and its predicate."""
    if high is not None:
        shown = f"{int(high):,}" if float(high).is_integer() else f"{high:g}"
        text = f"a number in {'(' if low_open else '['}{low:g}, {shown}]"
    else:
        text = f"a number {'>' if low_open else '>='} {low:g}"

    def ok(v: float) -> bool:
        return (v > low if low_open else v >= low) and (high is None or v <= high)

    return text, ok


# Upper bounds (rule 16: every derived point in time must stay inside the years 1-9999, and a
# business calendar must be able to place it in bounded time). Generous for any real policy.
_YEAR_MINUTES = 525_960  # 365.25 days
MAX_TARGET_MINUTES = 10 * _YEAR_MINUTES
"""A target window of at most 10 years (5,259,600 minutes)."""
MAX_FRACTION_OF_WINDOW = 100.0
"""``stale_after`` and ``escalate_to_manager_after``: at most 100 windows."""
MAX_DERIVED_MINUTES = 100 * _YEAR_MINUTES
"""The latest derived point (level 2 or stale) at most 100 years after the lead's creation."""
MAX_BUSINESS_YEARS = 20
"""Business clock: the latest derived point needs at most 20 years of the calendar's business
time (measured over 2024-2027), so that placing it stays a matter of milliseconds."""
MAX_GRACE_SECONDS = 366 * 86_400
"""``grace_seconds``: at most a year."""
MAX_LIVE_MINUTES = 100 * _YEAR_MINUTES
"""``alert_horizon_minutes`` and ``max_future_minutes``: at most 100 years."""

_FRACTION = _number_rule(0, low_open=True, high=1)
_POSITIVE = _number_rule(0, low_open=True)
_NON_NEGATIVE = _number_rule(0, low_open=False)
_MINUTES = _number_rule(0, low_open=True, high=MAX_TARGET_MINUTES)
_WINDOWS = _number_rule(0, low_open=False, high=MAX_FRACTION_OF_WINDOW)
_STALE = _number_rule(0, low_open=True, high=MAX_FRACTION_OF_WINDOW)
_GRACE = _number_rule(0, low_open=False, high=MAX_GRACE_SECONDS)
_LIVE_MINUTES = _number_rule(0, low_open=True, high=MAX_LIVE_MINUTES)


class _Validator:
    """Turns a parsed TOML document into a Policy, refusing the first problem it meets."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: _KeyLines | None = None  # built only when an error needs a line

    # -- errors ------------------------------------------------------------------------------

    def line(self, path: _Path) -> int | None:
        if self._lines is None:
            self._lines = _KeyLines(self._text)
        return self._lines.line(path)

    def fail(self, path: _Path, message: str, *, at: _Path | None = None) -> NoReturn:
        """Refuse ``path``; ``at`` is a more precise position (a list element) when there is one."""
        raise PolicyError(message, key=_dotted(path), line=self.line(at if at else path))

    def unknown(self, path: _Path, allowed: tuple[str, ...], where: str) -> NoReturn:
        name = str(path[-1])
        message = "unknown key"
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        self.fail(path, f"{message}; allowed {where}: {', '.join(allowed)}")

    # -- scalars -----------------------------------------------------------------------------

    def number(self, path: _Path, value: object, rule: _NumberRule) -> float:
        text, ok = rule
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not ok(value)
        ):
            self.fail(path, f"must be {text}, got {_got(value)}")
        return float(value)

    def string(self, path: _Path, value: object, *, item: int | None = None) -> str:
        """A non-empty string; ``item`` is its index when it is an element of the array ``path``."""
        if not isinstance(value, str) or not value.strip():
            what = "must be" if item is None else f"item {item + 1} must be"
            at = None if item is None else (*path, item)
            self.fail(path, f"{what} a non-empty string, got {_got(value)}", at=at)
        return value

    def choice(self, path: _Path, value: object, allowed: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.fail(path, f"must be one of {_one_of(allowed)}, got {_got(value)}")
        return value

    def boolean(self, path: _Path, value: object) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_got(value)}")
        return value

    def table(self, path: _Path, value: object, what: str = "a table") -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be {what}, got {_got(value)}")
        return value

    def array(self, path: _Path, value: object, what: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"must be {what}, got {_got(value)}")
        return value

    def strings(
        self,
        path: _Path,
        value: object,
        *,
        allowed: tuple[str, ...] | None = None,
        non_empty: bool = False,
    ) -> frozenset[str]:
        items = self.array(path, value, "an array of strings")
        if non_empty and not items:
            self.fail(path, "must list at least one value")
        for i, item in enumerate(items):
            self.string(path, item, item=i)
            if allowed is not None and item not in allowed:
                self.fail(
                    path,
                    f"item {i + 1} must be one of {_one_of(allowed)}, got {_got(item)}",
                    at=(*path, i),
                )
        return frozenset(items)

    # -- the document ------------------------------------------------------------------------

    def policy(self, doc: dict[str, Any], default_version: str) -> Policy:
        values: dict[str, Any] = {}
        checks: dict[str, Callable[[_Path, object], object]] = {
            "version": self.string,
            "default_manager": self.string,
            "clock": lambda p, v: self.choice(p, v, _CLOCKS),
            "response_from": lambda p, v: self.choice(p, v, _RESPONSE_FROM),
            "timezone": self.timezone,
            "warn_at": lambda p, v: self.number(p, v, _FRACTION),
            "grace_seconds": lambda p, v: self.number(p, v, _GRACE),
            "escalate_to_manager_after": lambda p, v: self.number(p, v, _WINDOWS),
            "stale_after": lambda p, v: self.number(p, v, _STALE),
            "alert_horizon_minutes": lambda p, v: self.number(p, v, _LIVE_MINUTES),
            "max_future_minutes": lambda p, v: self.number(p, v, _LIVE_MINUTES),
            "include_contact_details": self.boolean,
            "high_intent_sources": self.strings,
            # An empty list would make every lead unanswerable: no response could ever count.
            "meaningful_kinds": lambda p, v: self.strings(p, v, non_empty=True),
            "review_categories": lambda p, v: self.strings(p, v, allowed=_CATEGORIES),
            "targets": self.targets,
            "roster": self.roster,
            "business_hours": self.business_hours,
        }
        # In file order, so that the first problem reported is (roughly) the first in the file.
        for key, value in doc.items():
            check = checks.get(key)
            if check is None:
                self.unknown((key,), _TOP_KEYS, "at the top level")
            values[key] = check((key,), value)

        if "default_manager" not in values:
            # A missing key has no line of its own; the top-level table has no header either.
            self.fail(
                ("default_manager",),
                "is required: every alert must reach a named person "
                '(for example default_manager = "sales-manager")',
            )
        values.setdefault("version", default_version)
        if "roster" in values:
            values["roster"] = MappingProxyType(values["roster"])
        else:
            values["roster"] = MappingProxyType({})

        hours: BusinessHours = values.get("business_hours", DEFAULT_BUSINESS_HOURS)
        if values.get("clock") == "business":
            if not any(hours.windows):
                where = self.business_hours_key(doc)
                self.fail(
                    where,
                    'has no business hours at all, so a "business" clock would never run',
                )
            try:
                values["calendar"] = BusinessCalendar(hours, values.get("timezone", "UTC"))
            except ValueError as e:  # the checks above should leave the calendar nothing to refuse
                self.fail(self.business_hours_key(doc), str(e))
        self.derived_bounds(doc, values)
        return Policy(**values)

    def derived_bounds(self, doc: dict[str, Any], values: dict[str, Any]) -> None:
        """Rule 16 at load: the latest point derived from any target stays reasonable."""
        factor = max(
            1.0 + values.get("escalate_to_manager_after", 0.5), values.get("stale_after", 2.0)
        )
        targets: tuple[TargetRule, ...] = values.get("targets", (TargetRule(minutes=60),))
        calendar: BusinessCalendar | None = values.get("calendar")
        per_year: float | None = None
        for i, rule in enumerate(targets):
            where: _Path = ("targets", i, "minutes") if "targets" in doc else ("targets",)
            span = rule.minutes * factor
            if span > MAX_DERIVED_MINUTES:
                self.fail(
                    where,
                    f"{rule.minutes:g} minutes times {factor:g} (the later of 1 + "
                    "escalate_to_manager_after and stale_after) puts the last point in time "
                    f"{span / _YEAR_MINUTES:.0f} years after the lead's creation; at most "
                    f"{MAX_DERIVED_MINUTES / _YEAR_MINUTES:.0f} years are allowed",
                )
            if calendar is None:
                continue
            if per_year is None:
                start, end = (
                    parse_rfc3339("2024-01-01T00:00:00Z"),
                    parse_rfc3339("2028-01-01T00:00:00Z"),
                )
                per_year = calendar.between(start, end) / 4 / 60e6
            if span > MAX_BUSINESS_YEARS * per_year:
                self.fail(
                    where,
                    f"{rule.minutes:g} business minutes times {factor:g} need "
                    + (
                        f"{span / per_year:.0f} years of this calendar's business time "
                        f"({per_year / 60:.0f} hours a year)"
                        if per_year > 0
                        else "business time, and the calendar has none in 2024-2027"
                    )
                    + f"; at most {MAX_BUSINESS_YEARS} years are allowed",
                )

    def timezone(self, path: _Path, value: object) -> str:
        name = self.string(path, value)
        problem = None
        if name == "localtime":
            problem = "depends on the machine"
        else:
            try:
                zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
                problem = "is not a known time zone"
        if problem:
            self.fail(
                path,
                f"must be an IANA time zone such as 'Europe/Berlin' or 'UTC'; {name!r} {problem}",
            )
        return name

    def targets(self, path: _Path, value: object) -> tuple[TargetRule, ...]:
        items = self.array(path, value, "an array of tables ([[targets]])")
        rules: list[TargetRule] = []
        for i, item in enumerate(items):
            where = (*path, i)
            entry = self.table(where, item, "a table {source?, priority?, minutes}")
            for key in entry:
                if key not in _TARGET_KEYS:
                    self.unknown((*where, key), _TARGET_KEYS, "in a target")
            source = priority = None
            if "source" in entry:
                source = self.string((*where, "source"), entry["source"])
            if "priority" in entry:
                priority = self.choice((*where, "priority"), entry["priority"], _PRIORITIES)
            if "minutes" not in entry:
                self.fail((*where, "minutes"), "is required in every target")
            minutes = self.number((*where, "minutes"), entry["minutes"], _MINUTES)
            rule = TargetRule(minutes=minutes, source=source, priority=priority)
            for j, earlier in enumerate(rules):
                if _covers(earlier, rule):
                    self.fail(
                        where,
                        f"can never match: targets[{j}] before it matches every lead this one "
                        "would (the first matching target wins; put the narrower rule first)",
                    )
            rules.append(rule)
        return tuple(rules)

    def roster(self, path: _Path, value: object) -> dict[str, RosterEntry]:
        owners = self.table(path, value, "a table of owners ([roster.OWNER_ID])")
        roster: dict[str, RosterEntry] = {}
        for owner, item in owners.items():
            where = (*path, owner)
            if not owner.strip():
                self.fail(where, "an owner id must not be empty")
            entry = self.table(where, item, "a table {backup?, manager?}")
            for key in entry:
                if key not in _ROSTER_KEYS:
                    self.unknown((*where, key), _ROSTER_KEYS, "in a roster entry")
            backup = manager = None
            if "backup" in entry:
                backup = self.string((*where, "backup"), entry["backup"])
            if "manager" in entry:
                manager = self.string((*where, "manager"), entry["manager"])
            roster[owner] = RosterEntry(backup=backup, manager=manager)
        return roster

    # -- business hours ----------------------------------------------------------------------

    def business_hours(self, path: _Path, value: object) -> BusinessHours:
        table = self.table(path, value)
        for key in table:
            if key not in _BUSINESS_HOURS_KEYS:
                self.unknown((*path, key), _BUSINESS_HOURS_KEYS, "in [business_hours]")
        holidays: frozenset[date] = frozenset()
        if "holidays" in table:
            holidays = self.holidays((*path, "holidays"), table["holidays"])
        if "windows" in table:
            for key in ("days", "start", "end"):
                if key in table:
                    self.fail(
                        (*path, key),
                        "cannot be combined with [business_hours.windows]: "
                        "give either days/start/end or per-day windows",
                    )
            windows = self.windows((*path, "windows"), table["windows"])
        else:
            windows = self.days_start_end(path, table)
        return BusinessHours(windows=windows, holidays=holidays)

    def days_start_end(self, path: _Path, table: dict[str, Any]) -> tuple[Window, ...]:
        days = set(range(5))
        if "days" in table:
            days_path = (*path, "days")
            items = self.array(days_path, table["days"], "an array of weekday names")
            days = set()
            for i, item in enumerate(items):
                if not isinstance(item, str) or item not in WEEKDAYS:
                    self.fail(
                        days_path,
                        f"item {i + 1} must be a weekday, one of {_one_of(WEEKDAYS)}, "
                        f"got {_got(item)}",
                        at=(*days_path, i),
                    )
                days.add(WEEKDAYS.index(item))
        start = self.clock_time((*path, "start"), table.get("start", "09:00"), is_end=False)
        end = self.clock_time((*path, "end"), table.get("end", "17:00"), is_end=True)
        if start == end:
            self.fail((*path, "end"), _EMPTY_WINDOW)
        return tuple(((start, end),) if d in days else () for d in range(7))

    def windows(self, path: _Path, value: object) -> tuple[Window, ...]:
        table = self.table(path, value, 'a table of weekdays (mon = ["08:00-12:00"])')
        days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
        for day, items in table.items():
            day_path = (*path, day)
            if day not in WEEKDAYS:
                self.fail(day_path, f"is not a weekday; use one of {_one_of(WEEKDAYS)}")
            spans = self.array(day_path, items, 'an array of "HH:MM-HH:MM" windows')
            for i, span in enumerate(spans):
                at = (*day_path, i)
                found = _WINDOW.fullmatch(span) if isinstance(span, str) else None
                if not found:
                    self.fail(
                        day_path,
                        f'window {i + 1} must be a string "HH:MM-HH:MM" such as "08:00-12:00", '
                        f"got {_got(span)}",
                        at=at,
                    )
                shown = f"window {i + 1} {span!r}"
                start = self._minutes(day_path, found.group(1), is_end=False, at=at, shown=shown)
                end = self._minutes(day_path, found.group(2), is_end=True, at=at, shown=shown)
                if start == end:
                    self.fail(day_path, f"{shown}: {_EMPTY_WINDOW}", at=at)
                days[WEEKDAYS.index(day)].append((start, end))
        return tuple(tuple(sorted(windows)) for windows in days)

    def clock_time(self, path: _Path, value: object, *, is_end: bool) -> int:
        if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value):
            self.fail(path, f'must be a time "HH:MM" (24-hour), got {_got(value)}')
        return self._minutes(path, value, is_end=is_end, at=path)

    def _minutes(self, path: _Path, hhmm: str, *, is_end: bool, at: _Path, shown: str = "") -> int:
        """Minutes after midnight of "HH:MM"; an end may be "24:00" (the following midnight)."""
        hours, minutes = (int(part) for part in hhmm.split(":"))
        if (hours, minutes) == (24, 0) and is_end:
            return 1440
        if hours > 23 or minutes > 59:
            allowed = '"00:00" to "24:00"' if is_end else '"00:00" to "23:59"'
            where = f"{shown}: " if shown else ""
            self.fail(path, f"{where}{hhmm!r} is not a time of day ({allowed})", at=at)
        return hours * 60 + minutes

    def holidays(self, path: _Path, value: object) -> frozenset[date]:
        items = self.array(path, value, "an array of dates (2026-12-25)")
        days: set[date] = set()
        for i, item in enumerate(items):
            day: date | None = None
            if isinstance(item, date) and not isinstance(item, datetime):
                day = item
            elif isinstance(item, str) and _ISO_DATE.fullmatch(item):
                try:
                    day = date.fromisoformat(item)
                except ValueError:
                    day = None
            if day is None:
                self.fail(
                    path,
                    f'item {i + 1} must be a date such as 2026-12-25 or "2026-12-25", '
                    f"got {_got(item)}",
                    at=(*path, i),
                )
            days.add(day)
        return frozenset(days)

    def business_hours_key(self, doc: dict[str, Any]) -> _Path:
        table = doc.get("business_hours")
        if not isinstance(table, dict):
            return ("business_hours",)
        for key in ("windows", "days"):
            if key in table:
                return ("business_hours", key)
        return ("business_hours",)


_EMPTY_WINDOW = "a window must not be empty (start equals end); for a whole day write 00:00-24:00"


def _covers(earlier: TargetRule, later: TargetRule) -> bool:
    """Every lead ``later`` matches is matched by ``earlier`` first."""
    return (earlier.source is None or earlier.source == later.source) and (
        earlier.priority is None or earlier.priority == later.priority
    )


def _one_of(allowed: tuple[str, ...]) -> str:
    return ", ".join(allowed)


def _got(value: object) -> str:
    """A value as the person wrote it in TOML, with its type when that is the problem."""
    if isinstance(value, bool):
        return f"{'true' if value else 'false'} (a boolean)"
    if isinstance(value, int | float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return f"{json.dumps(value, ensure_ascii=False)} (a string)"
    if isinstance(value, datetime):
        return f"{value.isoformat()} (a date-time)"
    if isinstance(value, date):
        return f"{value.isoformat()} (a date)"
    if isinstance(value, time):
        return f"{value.isoformat()} (a time)"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _dotted(path: _Path) -> str:
    """``("targets", 1, "minutes")`` as ``targets[1].minutes``; odd keys are quoted as in TOML."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        name = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
        out += f".{name}" if out else name
    return out


# --------------------------------------------------------------------------------------------
# Key lines: where each key path starts in the raw text


class _KeyLines:
    """The 1-based line of every key path of a TOML text, found by a forgiving scan.

    It follows table headers (``[a.b]``; ``[[targets]]`` with a running index), dotted and
    quoted keys, comments, strings (multi-line too), arrays (elements get an index in the path)
    and inline tables. It never raises: on text it cannot follow it simply knows fewer keys, and
    ``line`` falls back to the nearest enclosing key or table header.
    """

    _BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

    def __init__(self, text: str) -> None:
        self._s = text
        self._i = 0
        self._newlines = [i for i, c in enumerate(text) if c == "\n"]
        self._lines: dict[_Path, int] = {}
        self._aot: dict[_Path, int] = {}  # arrays of tables seen so far: path -> count
        # A best-effort scan must never turn one refusal into a crash.
        with contextlib.suppress(Exception):
            self._document()

    def line(self, path: _Path) -> int | None:
        """The line where ``path`` starts, else where its nearest located parent starts."""
        for n in range(len(path), 0, -1):
            found = self._lines.get(path[:n])
            if found is not None:
                return found
        return None

    # -- scanning ----------------------------------------------------------------------------

    def _line_at(self, pos: int) -> int:
        return bisect.bisect_left(self._newlines, pos) + 1

    def _record(self, path: _Path, pos: int) -> None:
        line = self._line_at(pos)
        for n in range(1, len(path) + 1):
            self._lines.setdefault(path[:n], line)

    def _peek(self, k: int = 0) -> str:
        j = self._i + k
        return self._s[j] if j < len(self._s) else ""

    def _skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces, tabs, comments and (when allowed) line breaks."""
        s = self._s
        while self._i < len(s):
            c = s[self._i]
            if c in " \t" or (newlines and c in "\r\n"):
                self._i += 1
            elif c == "#":
                end = s.find("\n", self._i)
                self._i = len(s) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: _Path = ()
        s = self._s
        while True:
            self._skip_blank(newlines=True)
            if self._i >= len(s):
                return
            start = self._i
            if s.startswith("[[", start):
                self._i += 2
                table = self._header(self._key(), array=True)
                self._record(table, start)
            elif s[start] == "[":
                self._i += 1
                table = self._header(self._key(), array=False)
                self._record(table, start)
            else:
                keys = self._key()
                self._skip_blank(newlines=False)
                if keys and self._peek() == "=":
                    self._i += 1
                    path = table + keys
                    self._record(path, start)
                    self._value(path)
            # Whatever is left on this line (a comment, or text the scan could not follow).
            end = s.find("\n", self._i)
            self._i = len(s) if end < 0 else end + 1
            if self._i <= start:
                self._i = start + 1

    def _header(self, keys: _Path, *, array: bool) -> _Path:
        resolved: _Path = ()
        for n, key in enumerate(keys):
            resolved = (*resolved, key)
            if array and n == len(keys) - 1:
                count = self._aot.get(resolved, 0)
                self._aot[resolved] = count + 1
                resolved = (*resolved, count)
            elif resolved in self._aot:
                resolved = (*resolved, self._aot[resolved] - 1)
        return resolved

    def _key(self) -> tuple[str, ...]:
        """A possibly dotted, possibly quoted key; stops before ``=`` or ``]``."""
        parts: list[str] = []
        s = self._s
        while True:
            self._skip_blank(newlines=False)
            c = self._peek()
            if c in "\"'":
                start = self._i
                self._string()
                parts.append(_unquote(s[start : self._i]))
            else:
                start = self._i
                while self._i < len(s) and s[self._i] in self._BARE:
                    self._i += 1
                if self._i == start:
                    return tuple(parts)
                parts.append(s[start : self._i])
            self._skip_blank(newlines=False)
            if self._peek() != ".":
                return tuple(parts)
            self._i += 1

    def _string(self) -> None:
        """Skip one string of any of the four kinds, from its opening quote."""
        s = self._s
        quote = s[self._i]
        escapes = quote == '"'
        if s.startswith(quote * 3, self._i):
            self._i += 3
            while self._i < len(s):
                if escapes and s[self._i] == "\\":
                    self._i += 2
                elif s.startswith(quote * 3, self._i):
                    self._i += 3
                    extra = 0  # up to two quotes just before the closing ones are content
                    while extra < 2 and self._peek() == quote:
                        self._i += 1
                        extra += 1
                    return
                else:
                    self._i += 1
            return
        self._i += 1
        while self._i < len(s) and s[self._i] != "\n":
            c = s[self._i]
            if escapes and c == "\\":
                self._i += 2
            elif c == quote:
                self._i += 1
                return
            else:
                self._i += 1

    def _value(self, path: _Path) -> None:
        s = self._s
        self._skip_blank(newlines=False)
        c = self._peek()
        if c in "\"'":
            self._string()
        elif c == "[":
            self._i += 1
            index = 0
            while True:
                self._skip_blank(newlines=True)
                if self._i >= len(s) or self._peek() == "]":
                    self._i += 1
                    return
                before = self._i
                self._record((*path, index), before)
                self._value((*path, index))
                index += 1
                self._skip_blank(newlines=True)
                # Past the separator; on text the scan cannot follow, make progress anyway.
                if self._peek() == "," or (self._peek() != "]" and self._i == before):
                    self._i += 1
        elif c == "{":
            self._i += 1
            while True:
                self._skip_blank(newlines=True)
                if self._i >= len(s) or self._peek() == "}":
                    self._i += 1
                    return
                before = self._i
                keys = self._key()
                self._skip_blank(newlines=False)
                if keys and self._peek() == "=":
                    self._i += 1
                    self._record(path + keys, before)
                    self._value(path + keys)
                self._skip_blank(newlines=True)
                # Past the separator; on text the scan cannot follow, make progress anyway.
                if self._peek() == "," or (self._peek() != "}" and self._i == before):
                    self._i += 1
        else:
            # A number, boolean or date-time: up to the next separator.
            while self._i < len(s) and s[self._i] not in ",]}#\r\n":
                self._i += 1


def _unquote(raw: str) -> str:
    """The name of a quoted key, escapes decoded by tomllib itself."""
    try:
        value = tomllib.loads(f"k = {raw}")["k"]
    except (tomllib.TOMLDecodeError, KeyError):
        return raw.strip("\"'")
    return value if isinstance(value, str) else raw
