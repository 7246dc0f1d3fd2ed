"""Loading a policy file (SPEC.md section 3): reading it, parsing its TOML, validating every key.

This is the edge in front of :class:`leadsla.domain.policy.Policy`: the pure core gets a loaded,
valid value object and never reads a file. A policy file is validated completely on load. Every
refusal is a :class:`PolicyError` naming the dotted key (``targets[1].minutes``,
``business_hours.windows.mon``) and its 1-based line, because a typo that silently became a default
would quietly change every deadline. ``tomllib`` reports no positions for keys, so
:class:`leadsla.toml_lines.KeyLines` maps key paths to lines (built only when an error needs one).

Hand-written rather than pydantic: ``lead-sla replay`` loads a policy on every run, and importing
pydantic alone costs about a fifth of a short run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tomllib
import zoneinfo
from collections.abc import Callable
from datetime import date, datetime, time
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, get_args

from leadsla.domain.calendar import (
    DEFAULT_BUSINESS_HOURS,
    WEEKDAYS,
    BusinessCalendar,
    BusinessHours,
)
from leadsla.domain.policy import (
    MAX_BUSINESS_YEARS,
    MAX_DERIVED_MINUTES,
    MAX_FRACTION_OF_WINDOW,
    MAX_GRACE_SECONDS,
    MAX_LIVE_MINUTES,
    MAX_TARGET_MINUTES,
    YEAR_MINUTES,
    Policy,
    RosterEntry,
    TargetRule,
    business_minutes_per_year,
    last_point_factor,
)
from leadsla.domain.vocabulary import REVIEW_REASONS, Category, Clock, Priority, ResponseFrom

if TYPE_CHECKING:  # the scanner and the did-you-mean matcher load only when a policy is refused
    from leadsla.toml_lines import KeyLines, KeyPath


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
# SPEC's closed sets that a policy names, from the domain's vocabulary, in the order error
# messages list them. A review category outside the lead categories could never match, and one
# that is not a review reason (SPEC section 5: `inquiry`, `support_issue`) would make
# `sla.review_requested` records the schema refuses.
_CLOCKS: tuple[str, ...] = get_args(Clock)
_RESPONSE_FROM: tuple[str, ...] = get_args(ResponseFrom)
_PRIORITIES: tuple[str, ...] = get_args(Priority)
_CATEGORIES: tuple[str, ...] = get_args(Category)
_REVIEW_CATEGORIES: tuple[str, ...] = tuple(c for c in _CATEGORIES if c in REVIEW_REASONS)

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


# The upper bounds are the domain's (rule 16, ``leadsla.domain.policy``): refused here, at load.
_FRACTION = _number_rule(0, low_open=True, high=1)
_MINUTES = _number_rule(0, low_open=True, high=MAX_TARGET_MINUTES)
_WINDOWS = _number_rule(0, low_open=False, high=MAX_FRACTION_OF_WINDOW)
_STALE = _number_rule(0, low_open=True, high=MAX_FRACTION_OF_WINDOW)
_GRACE = _number_rule(0, low_open=False, high=MAX_GRACE_SECONDS)
_LIVE_MINUTES = _number_rule(0, low_open=True, high=MAX_LIVE_MINUTES)


class _Validator:
    """Turns a parsed TOML document into a Policy, refusing the first problem it meets."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._lines: KeyLines | None = None  # built only when an error needs a line

    # -- errors ------------------------------------------------------------------------------

    def line(self, path: KeyPath) -> int | None:
        if self._lines is None:
            from leadsla.toml_lines import KeyLines

            self._lines = KeyLines(self._text)
        return self._lines.line(path)

    def fail(self, path: KeyPath, message: str, *, at: KeyPath | None = None) -> NoReturn:
        """Refuse ``path``; ``at`` is a more precise position (a list element) when there is one."""
        from leadsla.toml_lines import dotted

        raise PolicyError(message, key=dotted(path), line=self.line(at if at else path))

    def unknown(self, path: KeyPath, allowed: tuple[str, ...], where: str) -> NoReturn:
        name = str(path[-1])
        message = "unknown key"
        import difflib

        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        self.fail(path, f"{message}; allowed {where}: {', '.join(allowed)}")

    # -- scalars -----------------------------------------------------------------------------

    def number(self, path: KeyPath, value: object, rule: _NumberRule) -> float:
        text, ok = rule
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not ok(value)
        ):
            self.fail(path, f"must be {text}, got {_got(value)}")
        return float(value)

    def string(self, path: KeyPath, value: object, *, item: int | None = None) -> str:
        """A non-empty string; ``item`` is its index when it is an element of the array ``path``."""
        if not isinstance(value, str) or not value.strip():
            what = "must be" if item is None else f"item {item + 1} must be"
            at = None if item is None else (*path, item)
            self.fail(path, f"{what} a non-empty string, got {_got(value)}", at=at)
        return value

    def choice(self, path: KeyPath, value: object, allowed: tuple[str, ...]) -> str:
        if not isinstance(value, str) or value not in allowed:
            self.fail(path, f"must be one of {_one_of(allowed)}, got {_got(value)}")
        return value

    def boolean(self, path: KeyPath, value: object) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"must be true or false, got {_got(value)}")
        return value

    def table(self, path: KeyPath, value: object, what: str = "a table") -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(path, f"must be {what}, got {_got(value)}")
        return value

    def array(self, path: KeyPath, value: object, what: str) -> list[Any]:
        if not isinstance(value, list):
            self.fail(path, f"must be {what}, got {_got(value)}")
        return value

    def strings(
        self,
        path: KeyPath,
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
        checks: dict[str, Callable[[KeyPath, object], object]] = {
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
            "review_categories": lambda p, v: self.strings(p, v, allowed=_REVIEW_CATEGORIES),
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
        factor = last_point_factor(
            values.get("escalate_to_manager_after", 0.5), values.get("stale_after", 2.0)
        )
        targets: tuple[TargetRule, ...] = values.get("targets", (TargetRule(minutes=60),))
        calendar: BusinessCalendar | None = values.get("calendar")
        per_year: float | None = None
        for i, rule in enumerate(targets):
            where: KeyPath = ("targets", i, "minutes") if "targets" in doc else ("targets",)
            span = rule.minutes * factor
            if span > MAX_DERIVED_MINUTES:
                self.fail(
                    where,
                    f"{rule.minutes:g} minutes times {factor:g} (the later of 1 + "
                    "escalate_to_manager_after and stale_after) puts the last point in time "
                    f"{span / YEAR_MINUTES:.0f} years after the lead's creation; at most "
                    f"{MAX_DERIVED_MINUTES / YEAR_MINUTES:.0f} years are allowed",
                )
            if calendar is None:
                continue
            if per_year is None:
                per_year = business_minutes_per_year(calendar)
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

    def timezone(self, path: KeyPath, value: object) -> str:
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

    def targets(self, path: KeyPath, value: object) -> tuple[TargetRule, ...]:
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
                if earlier.covers(rule):
                    self.fail(
                        where,
                        f"can never match: targets[{j}] before it matches every lead this one "
                        "would (the first matching target wins; put the narrower rule first)",
                    )
            rules.append(rule)
        return tuple(rules)

    def roster(self, path: KeyPath, value: object) -> dict[str, RosterEntry]:
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

    def business_hours(self, path: KeyPath, value: object) -> BusinessHours:
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

    def days_start_end(self, path: KeyPath, table: dict[str, Any]) -> tuple[Window, ...]:
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

    def windows(self, path: KeyPath, value: object) -> tuple[Window, ...]:
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

    def clock_time(self, path: KeyPath, value: object, *, is_end: bool) -> int:
        if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value):
            self.fail(path, f'must be a time "HH:MM" (24-hour), got {_got(value)}')
        return self._minutes(path, value, is_end=is_end, at=path)

    def _minutes(
        self, path: KeyPath, hhmm: str, *, is_end: bool, at: KeyPath, shown: str = ""
    ) -> int:
        """Minutes after midnight of "HH:MM"; an end may be "24:00" (the following midnight)."""
        hours, minutes = (int(part) for part in hhmm.split(":"))
        if (hours, minutes) == (24, 0) and is_end:
            return 1440
        if hours > 23 or minutes > 59:
            allowed = '"00:00" to "24:00"' if is_end else '"00:00" to "23:59"'
            where = f"{shown}: " if shown else ""
            self.fail(path, f"{where}{hhmm!r} is not a time of day ({allowed})", at=at)
        return hours * 60 + minutes

    def holidays(self, path: KeyPath, value: object) -> frozenset[date]:
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

    def business_hours_key(self, doc: dict[str, Any]) -> KeyPath:
        table = doc.get("business_hours")
        if not isinstance(table, dict):
            return ("business_hours",)
        for key in ("windows", "days"):
            if key in table:
                return ("business_hours", key)
        return ("business_hours",)


_EMPTY_WINDOW = "a window must not be empty (start equals end); for a whole day write 00:00-24:00"


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
