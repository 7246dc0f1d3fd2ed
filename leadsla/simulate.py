"""``lead-sla simulate``: a reproducible, realistic workload of input events (SPEC.md section 2).

This module owns the simulated sales organisation (five teams, forty reps, their backups and
managers: :data:`TEAMS`), the policy that matches it (:func:`policy_toml`, checked in as
``examples/simulate-policy.toml``) and the generator of what such an organisation's CRM, mail,
phone and chat systems would publish about its leads.

The same seed gives the same bytes: every draw comes from ``random.Random`` instances seeded from
the seed, the start instant is fixed unless ``--start now`` is given, and the business calendar
(``Europe/Berlin``, Mon-Fri 08:00-18:00 with the holidays of :data:`HOLIDAYS`) is fixed data.
Events are generated lazily, lead by lead in creation order, and come out in delivery order (the
source system's ``occurred_at`` plus the delivery jitter), so a million events need only the
memory of the leads still open.
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import sys
from bisect import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from leadsla.domain.instant import Instant, from_datetime, parse_rfc3339
from leadsla.outputs import OutputError, check_output, open_output

# --------------------------------------------------------------------------------------------
# The simulated organisation. Static data: the roster does not depend on the seed, so one policy
# file fits every run.

DEFAULT_START = "2026-11-02T08:00:00Z"  # a Monday, 09:00 in Berlin
DEFAULT_LEADS_PER_DAY = 300.0  # an ordinary weekday; weekends, holidays and nights get fewer
TIMEZONE = "Europe/Berlin"
WORK_START_MINUTE = 8 * 60
WORK_END_MINUTE = 18 * 60
DEFAULT_MANAGER = "martin-kraus"  # head of sales: what has no other manager goes to him


@dataclass(frozen=True, slots=True)
class Team:
    name: str
    manager: str
    reps: tuple[str, ...]
    weights: tuple[float, ...]  # how many leads each rep gets, relative
    no_backup: tuple[str, ...] = ()  # reps without a roster backup (sla.ownership_gap material)

    def backup_of(self, rep: str) -> str | None:
        if rep in self.no_backup:
            return None
        candidates = [r for r in self.reps if r not in self.no_backup]
        return candidates[(candidates.index(rep) + 1) % len(candidates)]


TEAMS: tuple[Team, ...] = tuple(
    Team(name, manager, tuple(reps.split()), weights, tuple(no_backup.split()))
    for name, manager, reps, weights, no_backup in (
        (
            "inbound",
            "claudia-weber",
            "anna-keller jonas-becker lea-hoffmann david-okafor sofia-romano lukas-brandt "
            "mia-fischer noah-schulz",
            (1.4, 1.2, 1.2, 1.0, 1.0, 0.9, 0.8, 0.5),
            "noah-schulz",
        ),
        (
            "smb",
            "thomas-lang",
            "emma-wagner felix-braun hannah-vogel omar-haddad laura-meyer paul-zimmermann "
            "clara-koch elias-roth",
            (1.3, 1.1, 1.1, 1.0, 1.0, 0.9, 0.8, 0.6),
            "elias-roth clara-koch",
        ),
        (
            "mid-market",
            "sabine-krueger",
            "leon-hartmann julia-schmitt mehmet-yilmaz nina-lorenz max-wolf sara-lindqvist "
            "tim-neumann ida-jensen",
            (1.2, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8, 0.7),
            "ida-jensen",
        ),
        (
            "enterprise",
            "andreas-richter",
            "katharina-berg oliver-grant isabel-costa stefan-huber marta-kowalska jan-peters "
            "victoria-hall ben-schaefer",
            (1.1, 1.1, 1.0, 1.0, 1.0, 0.9, 0.9, 0.8),
            "ben-schaefer",
        ),
        (
            "partners",
            "petra-schneider",
            "lisa-graf moritz-kaiser aylin-demir chris-evans eva-novak rafael-santos "
            "tobias-frank greta-lund",
            (1.3, 1.1, 1.0, 1.0, 0.9, 0.9, 0.8, 0.6),
            "greta-lund",
        ),
    )
)
_TEAM_BY_NAME = {team.name: team for team in TEAMS}
_TEAM_OF_REP = {rep: team for team in TEAMS for rep in team.reps}

SUPPORT_QUEUE = "queue-support"
SUPPORT_AGENTS = tuple(f"support-agent-{i:02d}" for i in range(1, 7))
CONTACT_PREFIX = "contact-"


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def _holidays(years: Iterable[int]) -> tuple[date, ...]:
    days: list[date] = []
    for year in years:
        easter = _easter(year)
        days += [
            date(year, 1, 1),
            easter - timedelta(days=2),
            easter + timedelta(days=1),
            date(year, 5, 1),
            easter + timedelta(days=39),
            easter + timedelta(days=50),
            date(year, 10, 3),
            date(year, 12, 24),
            date(year, 12, 25),
            date(year, 12, 26),
            date(year, 12, 31),
        ]
    return tuple(sorted(days))


HOLIDAYS: tuple[date, ...] = _holidays(range(2026, 2030))
"""German national holidays plus Christmas Eve and New Year's Eve, 2026-2029: no business hours
and weekend-level lead traffic."""

# Shares of SPEC section 2's values, as (value, weight) tables.
SOURCES = (
    ("web_form", 30),
    ("pricing_page", 15),
    ("chat", 15),
    ("email", 12),
    ("missed_call", 8),
    ("demo_request", 8),
    ("referral", 7),
    ("other", 5),
)
OTHER_SOURCES = (
    ("linkedin_ad", 30),
    ("webinar", 25),
    ("trade_show", 20),
    ("partner_portal", 15),
    ("review_site", 10),
)
PRIORITIES = (("urgent", 5), ("high", 20), ("normal", 60), ("low", 15))

_TEAMS_FOR_SOURCE = {
    "web_form": (("inbound", 50), ("smb", 30), ("mid-market", 15), ("enterprise", 5)),
    "pricing_page": (("smb", 30), ("mid-market", 40), ("enterprise", 30)),
    "chat": (("inbound", 70), ("smb", 30)),
    "email": (("inbound", 40), ("smb", 30), ("mid-market", 20), ("enterprise", 10)),
    "missed_call": (("inbound", 60), ("smb", 40)),
    "demo_request": (("smb", 10), ("mid-market", 50), ("enterprise", 40)),
    "referral": (("partners", 70), ("enterprise", 30)),
    "other": (("partners", 50), ("inbound", 50)),
}
# Median minutes to a first meaningful response, by source; scaled by priority.
_RESPONSE_MEDIAN_MINUTES = {
    "chat": 2.5,
    "missed_call": 9.0,
    "demo_request": 10.0,
    "pricing_page": 11.0,
    "web_form": 14.0,
    "email": 22.0,
    "referral": 18.0,
    "other": 18.0,
}
_PRIORITY_SPEED = {"urgent": 0.4, "high": 0.7, "normal": 1.0, "low": 1.8}
_PRIORITY_NEGLECT = {"urgent": 0.4, "high": 0.7, "normal": 1.0, "low": 1.6}  # mean 1.0
_FIRST_RESPONSE_KINDS = {
    "chat": (("chat", 85), ("email", 10), ("call", 5)),
    "missed_call": (("call", 55), ("voicemail", 25), ("sms", 15), ("email", 5)),
    "demo_request": (
        ("email", 40),
        ("call", 25),
        ("meeting_booked", 20),
        ("voicemail", 10),
        ("conversation", 5),
    ),
    "default": (
        ("email", 47),
        ("call", 25),
        ("voicemail", 11),
        ("sms", 6),
        ("conversation", 5),
        ("meeting_booked", 4),
        ("chat", 2),
    ),
}
_NEXT_STEPS = (
    "send pricing",
    "book discovery call",
    "call back tomorrow",
    "send case study",
    "schedule demo",
    "intro to solutions engineer",
    "qualify budget",
    "send proposal",
)
_NOTES = (
    "researching account",
    "checked CRM history",
    "waiting for territory check",
    "asked colleague about the account",
)
_SEQUENCES = ("seq-inbound-7day", "seq-pricing-followup", "seq-webinar-nurture", "seq-demo-noshow")
_AUTOMATIONS = ("marketing-automation", "helpdesk-autoreply")
_RESOLUTION_NOTES = (
    ("rep_absent", "owner was on sick leave; the lead was called by the backup the next day"),
    ("routing_error", "form routed to a retired queue; routing rule fixed"),
    ("activity_not_logged", "rep called from a mobile phone, the call was not logged in the CRM"),
    ("holiday", "arrived during the office closure; the out-of-office notice was sent"),
    (None, "buyer asked to be contacted next week, not recorded on the lead"),
    (None, "reviewed in the weekly breach review: capacity gap in the team"),
)
_DISQUALIFY_REASONS = ("no budget", "student", "competitor", "outside service area", "job seeker")
_CLOSE_REASONS = ("no response from buyer", "chose a competitor", "timing", "budget")
_FIRST = (
    "Alex",
    "Maria",
    "Sam",
    "Julia",
    "Peter",
    "Aisha",
    "Lars",
    "Elena",
    "Ravi",
    "Nora",
    "Marco",
    "Ines",
    "Kenji",
    "Chloe",
    "Tom",
    "Fatima",
    "Jakob",
    "Lina",
    "Diego",
    "Sven",
)
_LAST = (
    "Schmidt",
    "Jones",
    "Novak",
    "Rossi",
    "Larsen",
    "Dubois",
    "Garcia",
    "Nowak",
    "Kim",
    "Berger",
    "Silva",
    "Murphy",
    "Weiss",
    "Horvat",
    "Janssen",
    "Meier",
    "Costa",
    "Ito",
)
_COMPANIES = (
    "Nordwind GmbH",
    "Acme Logistics",
    "Brightpath Ltd",
    "Kessler & Sohn",
    "Bluefin Analytics",
    "Helios Energy",
    "Vetra AG",
    "Orbis Retail",
    "Fjord Labs",
    "Alpenblick Hotels",
    "Quantis Consulting",
    "Redwood Dental",
)

# Deliberate oddities of the delivery (rates per event, see _Simulator.stream).
DUPLICATE_RATE = 0.005  # at-least-once redelivery of the same event (same event_id)
EARLY_LEAD_RATE = 0.022  # leads whose lead.created is delivered after its first follow-up event

# --------------------------------------------------------------------------------------------
# Small helpers.

_MS = 1000  # instants below are int milliseconds since the epoch
_MINUTE_MS = 60_000
_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_EPOCH_DATE = date(1970, 1, 1)


_HM = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SS = tuple(f"{s:02d}" for s in range(60))
_FRACTION = tuple(f".{ms:03d}Z" for ms in range(1000))


class _Table:
    """A weighted choice: one ``random()`` and a bisect."""

    __slots__ = ("cum", "values")

    def __init__(self, pairs: Sequence[tuple[Any, float]]) -> None:
        self.values = tuple(v for v, _ in pairs)
        total = sum(w for _, w in pairs)
        acc = 0.0
        cum = []
        for _, w in pairs:
            acc += w / total
            cum.append(acc)
        cum[-1] = 1.0
        self.cum = tuple(cum)

    def pick(self, r: random.Random) -> Any:
        return self.values[bisect(self.cum, r.random())]


_SOURCE_TABLE = _Table(SOURCES)
_OTHER_TABLE = _Table(OTHER_SOURCES)
_PRIORITY_TABLE = _Table(PRIORITIES)
_TEAM_TABLES = {s: _Table(p) for s, p in _TEAMS_FOR_SOURCE.items()}
_REP_TABLES = {t.name: _Table(list(zip(t.reps, t.weights, strict=True))) for t in TEAMS}
_KIND_TABLES = {s: _Table(p) for s, p in _FIRST_RESPONSE_KINDS.items()}


class _WorkCalendar:
    """Local time of the simulated company: the arrival curve and the reps' working hours.

    Berlin's offsets are whole hours, so each UTC hour lies in one local hour; both lookups are
    cached per UTC hour and per local day.
    """

    # Relative lead arrivals per local hour of a working day (web traffic peaks mid-morning).
    HOURLY = (
        0.15,
        0.1,
        0.08,
        0.08,
        0.1,
        0.2,
        0.4,
        0.8,
        1.4,
        2.0,
        2.1,
        2.0,
        1.5,
        1.8,
        1.9,
        1.8,
        1.5,
        1.1,
        0.8,
        0.6,
        0.5,
        0.4,
        0.3,
        0.2,
    )
    OFF_DAY = 0.22  # weekends and holidays, relative to a working day

    def __init__(self) -> None:
        self.zone = ZoneInfo(TIMEZONE)
        self.holidays = frozenset(HOLIDAYS)
        self._hours: dict[int, tuple[float, int]] = {}
        self._windows: dict[int, tuple[int, int] | None] = {}
        self.day_weight = sum(self.HOURLY)

    def _hour(self, utc_hour: int) -> tuple[float, int]:
        """(relative arrival rate, local date ordinal) of a UTC hour."""
        cached = self._hours.get(utc_hour)
        if cached is None:
            local = datetime.fromtimestamp(utc_hour * 3600, tz=self.zone)
            day = local.date()
            rate = self.HOURLY[local.hour]
            if local.weekday() >= 5 or day in self.holidays:
                rate *= self.OFF_DAY
            cached = (rate, day.toordinal())
            self._hours[utc_hour] = cached
        return cached

    def rate(self, t: int) -> float:
        return self._hour(t // _HOUR_MS)[0]

    def window(self, ordinal: int) -> tuple[int, int] | None:
        """The working window (UTC ms) of a local day, None on weekends and holidays."""
        if ordinal in self._windows:
            return self._windows[ordinal]
        day = date.fromordinal(ordinal)
        result: tuple[int, int] | None = None
        if day.weekday() < 5 and day not in self.holidays:
            open_ = datetime(
                day.year,
                day.month,
                day.day,
                WORK_START_MINUTE // 60,
                WORK_START_MINUTE % 60,
                tzinfo=self.zone,
            )
            close = datetime(
                day.year,
                day.month,
                day.day,
                WORK_END_MINUTE // 60,
                WORK_END_MINUTE % 60,
                tzinfo=self.zone,
            )
            result = (int(open_.timestamp()) * _MS, int(close.timestamp()) * _MS)
        self._windows[ordinal] = result
        return result

    def working(self, t: int) -> bool:
        w = self.window(self._hour(t // _HOUR_MS)[1])
        return w is not None and w[0] <= t < w[1]

    def add_working(self, t: int, amount: int) -> int:
        """``t`` plus ``amount`` ms of working time (people act in their working hours)."""
        ordinal = self._hour(t // _HOUR_MS)[1]
        while True:
            w = self.window(ordinal)
            if w is not None:
                open_, close = w
                t = max(t, open_)
                if t < close:
                    if t + amount <= close:
                        return t + amount
                    amount -= close - t
            ordinal += 1


# --------------------------------------------------------------------------------------------
# The generator.


class _Simulator:
    def __init__(self, seed: int, start_ms: int, leads_per_day: float, shuffle_ms: int) -> None:
        self.r = random.Random(seed)
        # Delivery has its own stream so that the events themselves do not depend on the
        # shuffle window (the same seed gives the same leads, delivered differently).
        self.d = random.Random(f"lead-sla/delivery/{seed}")
        self.start = start_ms
        self.shuffle = shuffle_ms
        self.cal = _WorkCalendar()
        # Leads per ms at relative rate 1.0, so that a working day gets leads_per_day leads.
        self.scale = leads_per_day / (self.cal.day_weight * _HOUR_MS)
        self.max_rate = max(self.cal.HOURLY)
        self._day_prefix: dict[int, str] = {}
        self.lead_id = ""
        self.t0 = 0  # the current lead's creation
        self.evs: list[tuple[int, dict[str, Any]]] = []

    # -- formatting -------------------------------------------------------------------------

    def ts(self, t: int, with_ms: bool) -> str:
        day, rem = divmod(t, _DAY_MS)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH_DATE + timedelta(days=day)).isoformat() + "T"
            self._day_prefix[day] = prefix
        m, ms = divmod(rem, _MINUTE_MS)
        s, ms = divmod(ms, _MS)
        return prefix + _HM[m] + _SS[s] + (_FRACTION[ms] if with_ms else "Z")

    def event_id(self) -> str:
        x = f"{self.r.getrandbits(128):032x}"
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"

    def emit(self, etype: str, t: int, data: dict[str, Any], with_ms: bool = False) -> int:
        """Append one event of the current lead; whole-second sources truncate their clock."""
        if not with_ms:
            t -= t % _MS
            if t < self.t0:  # the same second as a creation stamped in milliseconds
                t += _MS
        self.evs.append(
            (
                t,
                {
                    "event_id": self.event_id(),
                    "type": etype,
                    "lead_id": self.lead_id,
                    "occurred_at": self.ts(t, with_ms),
                    "data": data,
                },
            )
        )
        return t

    def activity(
        self,
        t: int,
        actor: str,
        actor_kind: str,
        kind: str,
        direction: str = "outbound",
        **extra: Any,
    ) -> int:
        data: dict[str, Any] = {"actor_id": actor, "actor_kind": actor_kind, "kind": kind}
        if direction != "outbound" or self.r.random() < 0.6:
            data["direction"] = direction
        data.update(extra)
        # Mail, phone and chat systems stamp milliseconds; manual CRM entries whole seconds.
        return self.emit("lead.activity_logged", t, data, with_ms=self.r.random() < 0.6)

    def between(self, low: int, high: int) -> int:
        """``randint`` without its argument checks (a third of the cost)."""
        return low + int(self.r.random() * (high - low + 1))

    def between_d(self, low: int, high: int) -> int:
        return low + int(self.d.random() * (high - low + 1))

    def one_of(self, options: Sequence[Any]) -> Any:
        return options[int(self.r.random() * len(options))]

    def lognormal_ms(self, median_minutes: float, sigma: float) -> int:
        return int(median_minutes * _MINUTE_MS * math.exp(self.r.gauss(0.0, sigma)))

    def human_delay(self, t: int, amount: int, eager: float = 0.1) -> int:
        """When a person acts ``amount`` after ``t``: in working time, unless working late."""
        if self.r.random() < eager:
            return t + amount
        return self.cal.add_working(t, amount)

    # -- arrivals ---------------------------------------------------------------------------

    def next_arrival(self, t: int) -> int:
        """Non-homogeneous Poisson arrivals by thinning against the hourly curve."""
        r = self.r
        peak = self.max_rate * self.scale
        while True:
            t += max(1, int(r.expovariate(peak)))
            if r.random() * self.max_rate < self.cal.rate(t):
                return t

    # -- one lead ---------------------------------------------------------------------------

    def lead(self, n: int, t0: int) -> list[tuple[int, dict[str, Any]]]:
        r = self.r
        self.lead_id = f"lead-{n:07d}"
        self.evs = []
        source_group = _SOURCE_TABLE.pick(r)
        source = _OTHER_TABLE.pick(r) if source_group == "other" else source_group
        priority = _PRIORITY_TABLE.pick(r)

        u = r.random()
        customer_status, category = "new", "inquiry"
        if u < 0.06:
            customer_status = "existing_customer"
            v = r.random()
            category = "support_issue" if v < 0.4 else ("complaint" if v < 0.5 else "inquiry")
        elif u < 0.10:
            category = "support_issue"
        elif u < 0.14:
            category = (
                "complaint",
                "complaint",
                "urgent_request",
                "urgent_request",
                "customer_conflict",
            )[int(r.random() * 5)]
        support = customer_status == "existing_customer" or category == "support_issue"
        v = r.random()
        consent = "unclear" if v < 0.02 else ("declined" if v < 0.03 else "granted")

        data: dict[str, Any] = {"source": source}
        if priority != "normal" or r.random() < 0.7:
            data["priority"] = priority
        if r.random() < 0.1:
            data["intent"] = (
                "high"
                if source in ("referral", "demo_request", "pricing_page")
                else ("high", "normal", "low")[int(r.random() * 3)]
            )
        if category != "inquiry" or r.random() < 0.3:
            data["category"] = category
        if customer_status != "new" or r.random() < 0.5:
            data["customer_status"] = customer_status
        if consent != "granted" or r.random() < 0.4:
            data["consent"] = consent
        if customer_status == "existing_customer" or r.random() < 0.2:
            data["account_id"] = f"ACC-{r.randrange(100_000, 1_000_000)}"
        if r.random() < 0.85:
            person = f"{self.one_of(_FIRST)} {self.one_of(_LAST)}"
            data["display_name"] = (
                f"{person} ({self.one_of(_COMPANIES)})" if r.random() < 0.5 else person
            )
        self.t0 = 0
        t0 = self.t0 = self.emit(
            "lead.created", t0, data, with_ms=source in ("chat", "web_form") and r.random() < 0.5
        )
        if r.random() < 0.4:
            self.evs[-1][1]["schema_version"] = 1

        self.automated_touches(t0, source)
        if support:
            self.support_lead(t0)
            return self.evs

        team = _TEAM_BY_NAME[_TEAM_TABLES[source_group].pick(r)]
        rep_table = _REP_TABLES[team.name]

        # Ownership: (time, owner, is_person), in time order.
        owners: list[tuple[int, str, bool]] = []
        u = r.random()
        if u < 0.11:
            pass  # not assigned (routing gap); some get an owner by answering
        elif u < 0.21:
            tq = self.emit(
                "lead.owner_assigned",
                t0 + self.between(1_000, 20_000),
                {"owner_id": f"queue-{team.name}", "owner_kind": "queue"},
            )
            owners.append((tq, f"queue-{team.name}", False))
            if r.random() < 0.85:
                tp = self.human_delay(tq, self.lognormal_ms(25, 1.0))
                owner = rep_table.pick(r)
                owners.append((self.assign(tp, owner, team), owner, True))
        else:
            v = r.random()
            if v < 0.55:  # routing rule
                tp = t0 + self.between(1_000, 30_000)
            elif v < 0.9:  # a team lead assigns by hand
                tp = self.human_delay(t0, self.lognormal_ms(6, 0.9))
            else:  # assigned late, after the warning point of most targets
                tp = self.human_delay(t0, self.between(20 * _MINUTE_MS, 90 * _MINUTE_MS))
            owner = rep_table.pick(r)
            owners.append((self.assign(tp, owner, team), owner, True))

        # A few leads are handed to a colleague before anyone answered (sick leave, territory).
        if owners and owners[-1][2] and r.random() < 0.03:
            new_owner = self.one_of([x for x in team.reps if x != owners[-1][1]])
            tr = self.human_delay(owners[-1][0], self.between(10 * _MINUTE_MS, 90 * _MINUTE_MS))
            owners.append((self.assign(tr, new_owner, team), new_owner, True))

        # Terminal status before any answer: spam and duplicates are spotted quickly.
        u = r.random()
        end = None
        if u < 0.01:
            end = self.status(self.human_delay(t0, self.lognormal_ms(15, 1.0)), "spam")
        elif u < 0.02:
            end = self.status(self.human_delay(t0, self.lognormal_ms(40, 1.0)), "duplicate")
        elif u < 0.027:
            end = self.status(
                self.human_delay(t0, self.lognormal_ms(60, 1.0)),
                "disqualified",
                self.one_of(_DISQUALIFY_REASONS),
            )

        # Changes to the lead itself.
        if r.random() < 0.03:
            others = [p for p, _ in PRIORITIES if p != priority]
            self.emit(
                "lead.updated",
                self.human_delay(t0, self.between(5 * _MINUTE_MS, 2 * _HOUR_MS)),
                {"priority": self.one_of(others)},
            )
        if consent == "unclear":
            v = r.random()
            if v < 0.75:
                self.emit(
                    "lead.updated",
                    self.human_delay(t0, self.between(30 * _MINUTE_MS, 8 * _HOUR_MS)),
                    {"consent": "granted" if v < 0.6 else "declined"},
                )
        late_exclusion = False
        if r.random() < 0.01:  # the rep finds the buyer is already a customer
            late_exclusion = True
            self.emit(
                "lead.updated",
                self.human_delay(t0, self.between(10 * _MINUTE_MS, 4 * _HOUR_MS)),
                {"customer_status": "existing_customer"},
            )
        elif r.random() < 0.005:  # an angry inbound reply turns the lead into a complaint
            self.emit(
                "lead.updated",
                self.human_delay(t0, self.between(30 * _MINUTE_MS, 6 * _HOUR_MS)),
                {"category": "complaint"},
            )

        # Sequence emails: a cadence tool writes in the owner's name; they never count.
        if r.random() < 0.12:
            seq = self.one_of(_SEQUENCES)
            step_at = t0 + self.between(2 * _MINUTE_MS, 15 * _MINUTE_MS)
            for step in range(self.between(1, 3)):
                if end is not None and step_at >= end:
                    break
                owner = self.person_owner_at(owners, step_at)
                if owner is None:
                    self.activity(step_at, "sequencer", "automation", "email", sequence_id=seq)
                else:
                    self.activity(step_at, owner, "person", "email", sequence_id=seq)
                step_at += self.between(2, 3) * _DAY_MS + self.between(0, 4 * _HOUR_MS)
                if step == 0 and r.random() < 0.3:
                    break

        # The first meaningful response, or none.
        neglect = 0.12 * _PRIORITY_NEGLECT[priority]
        if end is not None:
            neglect = 0.9
        response = None
        if r.random() >= neglect:
            response = self.first_response(t0, source_group, priority, owners, team, end)
        else:
            owner = self.person_owner_at(owners, t0 + _HOUR_MS)
            if owner is not None and r.random() < 0.35:
                # Busy work on the lead, nothing the buyer would call an answer.
                t = self.human_delay(max(t0, owners[0][0]), self.lognormal_ms(30, 1.0))
                if end is None or t < end:
                    if r.random() < 0.6:
                        self.activity(t, owner, "person", "call_attempt")
                    else:
                        self.activity(
                            t,
                            owner,
                            "person",
                            "note",
                            "internal",
                            next_step=self.one_of(_NEXT_STEPS),
                        )
        if end is not None:
            return self.evs

        # Later life of the lead.
        eligible = consent == "granted" and not late_exclusion
        if response is None:
            if eligible and r.random() < 0.12:
                tb = t0 + self.between(5 * _DAY_MS, 8 * _DAY_MS)
                code, note = self.one_of(_RESOLUTION_NOTES)
                resolution: dict[str, Any] = {"resolved_by": team.manager, "resolution_note": note}
                if code is not None and r.random() < 0.6:
                    resolution["reason_code"] = code
                self.emit("lead.breach_resolved", tb, resolution)
                if r.random() < 0.5:
                    self.status(
                        tb + self.between(1, 3) * _DAY_MS, "closed", self.one_of(_CLOSE_REASONS)
                    )
            elif r.random() < 0.4:
                self.status(
                    t0 + self.between(3 * _DAY_MS, 14 * _DAY_MS),
                    "closed",
                    self.one_of(_CLOSE_REASONS),
                )
            return self.evs
        responded_at, responder = response
        self.follow_ups(responded_at, responder, source_group)
        u = r.random()
        if u < 0.07:
            self.status(responded_at + self.between(3 * _DAY_MS, 40 * _DAY_MS), "converted")
        elif u < 0.32:
            tc = self.status(
                responded_at + self.between(2 * _DAY_MS, 30 * _DAY_MS),
                "closed",
                self.one_of(_CLOSE_REASONS),
            )
            if r.random() < 0.1:
                self.status(tc + self.between(2 * _DAY_MS, 20 * _DAY_MS), "reopened")
        elif u < 0.336:
            self.status(
                self.human_delay(responded_at, self.between(_HOUR_MS, 2 * _DAY_MS)),
                "disqualified",
                self.one_of(_DISQUALIFY_REASONS),
            )
        elif u < 0.339:
            self.status(responded_at + self.between(_HOUR_MS, 10 * _DAY_MS), "opted_out")
        elif u < 0.34:
            self.status(responded_at + self.between(_HOUR_MS, 10 * _DAY_MS), "consent_withdrawn")
        return self.evs

    @staticmethod
    def person_owner_at(owners: list[tuple[int, str, bool]], t: int) -> str | None:
        current = None
        for at, owner, is_person in owners:
            if at > t:
                break
            current = owner if is_person else None
        return current

    def assign(self, t: int, owner: str, team: Team) -> int:
        r = self.r
        data: dict[str, Any] = {"owner_id": owner}
        if r.random() < 0.5:
            data["owner_kind"] = "person"
        backup = team.backup_of(owner)
        if backup is not None and r.random() < 0.4:
            data["backup_owner_id"] = backup
        elif backup is None and r.random() < 0.3:  # the CRM knows a backup the roster lacks
            data["backup_owner_id"] = self.one_of([x for x in team.reps if x != owner])
        if r.random() < 0.3:
            data["manager_id"] = team.manager
        return self.emit("lead.owner_assigned", t, data)

    def backup_of(self, owner: str, team: Team) -> str | None:
        """The backup named by the owner's latest assignment, else the roster's."""
        for _, ev in reversed(self.evs):
            data = ev["data"]
            if ev["type"] == "lead.owner_assigned" and data["owner_id"] == owner:
                if "backup_owner_id" in data:
                    backup: str = data["backup_owner_id"]
                    return backup
                break
        return team.backup_of(owner)

    def status(self, t: int, status: str, reason: str | None = None) -> int:
        data = {"status": status}
        if reason is not None:
            data["reason"] = reason
        return self.emit("lead.status_changed", t, data)

    def automated_touches(self, t0: int, source: str) -> None:
        r = self.r
        t = t0 + self.between(500, 20_000)
        if source in ("web_form", "email", "pricing_page"):
            if r.random() < 0.6:
                extra: dict[str, Any] = {"auto_submitted": True} if r.random() < 0.5 else {}
                kind = "autoresponder" if r.random() < 0.75 else "acknowledgement"
                self.activity(t, self.one_of(_AUTOMATIONS), "automation", kind, **extra)
        elif source == "chat":
            if r.random() < 0.5:
                self.activity(
                    t0 + self.between(500, 5_000), "chatbot", "automation", "acknowledgement"
                )
        elif source == "demo_request":
            if r.random() < 0.4:
                self.activity(
                    t, "meeting-scheduler", "automation", "acknowledgement", auto_submitted=True
                )
        elif source == "missed_call" and r.random() < 0.3:
            self.activity(t, "ivr", "automation", "sms")

    def support_lead(self, t0: int) -> None:
        """Existing customers and support issues: routed to support, answered by an agent."""
        r = self.r
        tq = self.emit(
            "lead.owner_assigned",
            t0 + self.between(1_000, 10_000),
            {"owner_id": SUPPORT_QUEUE, "owner_kind": "queue"},
        )
        if r.random() < 0.9:
            agent = self.one_of(SUPPORT_AGENTS)
            t = self.human_delay(tq, self.lognormal_ms(45, 1.2))
            self.activity(t, agent, "person", "email" if r.random() < 0.7 else "call")
            if r.random() < 0.6:
                self.status(t + self.between(_HOUR_MS, 3 * _DAY_MS), "closed", "handled by support")

    def first_response(
        self,
        t0: int,
        source: str,
        priority: str,
        owners: list[tuple[int, str, bool]],
        team: Team,
        end: int | None,
    ) -> tuple[int, str] | None:
        """Rule 2's meaningful response: mostly by the owner, sometimes not (conflicts)."""
        r = self.r
        median = _RESPONSE_MEDIAN_MINUTES[source] * _PRIORITY_SPEED[priority]
        delay = self.lognormal_ms(median, 1.1)
        if r.random() < 0.05:  # the long tail: answered the next day or later
            delay *= self.between(5, 20)
        eager = 0.4 if priority == "urgent" or source == "chat" else 0.12
        t = self.human_delay(t0, max(delay, 5_000), eager)
        if end is not None and t >= end:
            return None
        owner = self.person_owner_at(owners, t)
        rep_table = _REP_TABLES[team.name]
        conflict = False
        if owner is None:
            responder = rep_table.pick(r)  # whoever picks the lead up takes it
        else:
            u = r.random()
            backup = self.backup_of(owner, team)
            if backup is not None and 0.85 <= u < 0.93:
                responder = backup
            elif 0.93 <= u < 0.96:
                responder = self.one_of([x for x in team.reps if x not in (owner, backup)])
                conflict = True
            else:
                responder = owner
        kind = _KIND_TABLES.get(source, _KIND_TABLES["default"]).pick(r)
        if kind == "voicemail" or r.random() < 0.06:
            # A missed call first; the voicemail or the later call is the answer.
            before = self.between(20_000, 40 * _MINUTE_MS if kind != "voicemail" else 90_000)
            self.activity(max(t - before, t0 + 1_000), responder, "person", "call_attempt")
        elif r.random() < 0.05 and owner is not None:
            before = self.between(60_000, 20 * _MINUTE_MS)
            self.activity(
                max(t - before, t0 + 1_000),
                owner,
                "person",
                "note",
                "internal",
                next_step=self.one_of(_NEXT_STEPS),
            )
        extra: dict[str, Any] = {}
        if r.random() < 0.35:
            extra["next_step"] = self.one_of(_NEXT_STEPS)
        if r.random() < 0.005:
            # An out-of-office reply from the rep's mailbox: a person, but auto-submitted.
            self.activity(t, responder, "person", "email", auto_submitted=True)
            t = self.cal.add_working(t, self.lognormal_ms(120, 0.8))
        t = self.activity(t, responder, "person", kind, **extra)
        if owner is None and not any(p for _, _, p in owners) and r.random() < 0.25:
            self.assign(t + self.between(1_000, 120_000), responder, team)  # CRM: first touch owns
        elif conflict and r.random() < 0.5:
            self.assign(self.human_delay(t, self.lognormal_ms(30, 0.8)), responder, team)
        return t, responder

    def follow_ups(self, t: int, responder: str, source: str) -> None:
        """The conversation after the first answer, by whoever owns the lead by then."""
        r = self.r
        owner = responder
        for et, ev in self.evs:
            if (
                ev["type"] == "lead.owner_assigned"
                and et >= t
                and ev["data"].get("owner_kind") != "queue"
            ):
                owner = ev["data"]["owner_id"]
        contact = f"{CONTACT_PREFIX}{self.lead_id[5:]}"
        if r.random() < 0.45:
            channel = {"chat": "chat", "missed_call": "sms"}.get(source, "email")
            self.activity(t + self.lognormal_ms(180, 1.2), contact, "person", channel, "inbound")
        if r.random() < 0.4:
            self.activity(
                t + self.between(60_000, 30 * _MINUTE_MS),
                owner,
                "person",
                "note",
                "internal",
                next_step=self.one_of(_NEXT_STEPS),
            )
        if r.random() < 0.2:
            self.activity(
                self.human_delay(t, self.between(_HOUR_MS, 2 * _DAY_MS)), owner, "person", "call"
            )
        if r.random() < 0.22:
            self.activity(
                self.human_delay(t, self.between(_HOUR_MS, 3 * _DAY_MS)),
                owner,
                "person",
                "meeting_booked",
                next_step="discovery call",
            )
        if r.random() < 0.15:
            self.activity(
                self.human_delay(t, self.between(_DAY_MS, 7 * _DAY_MS)),
                owner,
                "person",
                "conversation",
            )

    # -- the stream -------------------------------------------------------------------------

    def stream(self, leads: int) -> Iterator[dict[str, Any]]:
        """All events in delivery order: (occurred_at + jitter, generation order)."""
        d = self.d
        shuffle = self.shuffle
        heap: list[tuple[int, int, dict[str, Any]]] = []
        seq = 0
        t = self.start
        for n in range(1, leads + 1):
            t = self.next_arrival(t)
            # Every event of this and later leads occurs at or after this lead's creation
            # (truncated to whole seconds), and jitter only delays: what is due is final.
            horizon = t - t % _MS
            while heap and heap[0][0] <= horizon:
                yield heapq.heappop(heap)[2]
            evs = self.lead(n, t)
            if min(occ for occ, _ in evs) < horizon:
                raise AssertionError(f"{self.lead_id}: an event before its lead's creation")
            deliveries = [occ + (int(d.random() * shuffle) if shuffle else 0) for occ, _ in evs]
            if len(evs) > 1 and d.random() < EARLY_LEAD_RATE:
                # CRM sync lag: the lead arrives after the first thing that happened to it.
                deliveries[0] = min(deliveries[1:]) + self.between_d(1_000, 90_000)
            for (_, ev), at in zip(evs, deliveries, strict=True):
                heapq.heappush(heap, (at, seq, ev))
                seq += 1
                if d.random() < DUPLICATE_RATE:
                    heapq.heappush(heap, (at + self.between_d(100, 15 * _MINUTE_MS), seq, dict(ev)))
                    seq += 1
        while heap:
            yield heapq.heappop(heap)[2]


def generate(
    leads: int,
    seed: int,
    start: Instant,
    *,
    shuffle_window: float = 0.0,
    leads_per_day: float = DEFAULT_LEADS_PER_DAY,
) -> Iterator[dict[str, Any]]:
    """Input events (SPEC section 2) of ``leads`` leads created from ``start`` on, lazily.

    ``start`` is an instant (int microseconds, see ``domain/instant.py``). Events come in delivery
    order: ``occurred_at`` plus a uniform jitter of up to ``shuffle_window`` seconds, with about
    0.5% redelivered duplicates and 0.5% events delivered before their ``lead.created``.
    """
    if leads < 0:
        raise ValueError("leads must be >= 0")
    if shuffle_window < 0:
        raise ValueError("shuffle_window must be >= 0")
    sim = _Simulator(seed, start // 1000, leads_per_day, int(shuffle_window * _MS))
    return sim.stream(leads)


# --------------------------------------------------------------------------------------------
# Invalid lines (for dead-letter testing) and the serialised stream.

_INVALID_KINDS = (
    "truncated",
    "not_json",
    "missing_lead_id",
    "empty_event_id",
    "no_offset",
    "bad_timestamp",
    "unknown_type",
    "data_not_object",
    "missing_source",
    "missing_actor_kind",
    "long_event_id",
    "not_an_object",
)


class Line(NamedTuple):
    """One serialised input event: the Kafka key, the type that picks the topic, the JSON."""

    key: str | None
    type: str
    value: bytes
    valid: bool = True


def _invalid_line(r: random.Random, ev: dict[str, Any]) -> Line:
    """A deliberately invalid line modelled on a real event."""
    kind = r.choice(_INVALID_KINDS)
    bad = {**ev, "event_id": f"bad-{r.getrandbits(64):016x}", "data": dict(ev["data"])}
    lead_id: str | None = ev["lead_id"]
    etype = ev["type"]
    if kind == "truncated":
        line = orjson.dumps(bad)
        return Line(lead_id, etype, line[: r.randint(1, len(line) - 2)], False)
    if kind == "not_json":
        return Line(
            None,
            etype,
            r.choice(
                (
                    b"<html><body>502 Bad Gateway</body></html>",
                    b"lead_id=" + ev["lead_id"].encode() + b"&type=new",
                    b"\xff\xfe{\x00",
                )
            ),
            False,
        )
    if kind == "missing_lead_id":
        del bad["lead_id"]
        lead_id = None
    elif kind == "empty_event_id":
        bad["event_id"] = ""
    elif kind == "no_offset":
        bad["occurred_at"] = ev["occurred_at"].rstrip("Z")
    elif kind == "bad_timestamp":
        bad["occurred_at"] = r.choice(("yesterday", "2026-13-45T25:61:00Z", "", "1700000000"))
    elif kind == "unknown_type":
        bad["type"] = r.choice(("lead.deleted", "lead.created.v2", "Lead.Created"))
    elif kind == "data_not_object":
        bad["data"] = [ev["data"]]
    elif kind == "missing_source":
        bad["type"] = "lead.created"
        bad["data"] = {k: v for k, v in ev["data"].items() if k != "source"}
        etype = "lead.created"
    elif kind == "missing_actor_kind":
        bad["type"] = "lead.activity_logged"
        bad["data"] = {"actor_id": "anna-keller", "kind": "email"}
        etype = "lead.activity_logged"
    elif kind == "long_event_id":
        bad["event_id"] = "x" * 129
    else:  # not_an_object
        return Line(lead_id, etype, orjson.dumps([bad]), False)
    return Line(lead_id, etype, orjson.dumps(bad), False)


def iter_lines(
    leads: int,
    seed: int,
    start: Instant,
    *,
    shuffle_window: float = 0.0,
    invalid_rate: float = 0.0,
    leads_per_day: float = DEFAULT_LEADS_PER_DAY,
) -> Iterator[Line]:
    """The serialised workload, one :class:`Line` (JSON without the newline) per event.

    With ``invalid_rate`` R, a fraction R of the lines are deliberately invalid (extra lines next
    to the valid stream, drawn from their own random stream: the valid lines are the same for
    every R).
    """
    if not 0.0 <= invalid_rate < 1.0:
        raise ValueError("invalid_rate must be in [0, 1)")
    dumps = orjson.dumps
    events = generate(
        leads, seed, start, shuffle_window=shuffle_window, leads_per_day=leads_per_day
    )
    if invalid_rate == 0.0:
        for ev in events:
            yield Line(ev["lead_id"], ev["type"], dumps(ev))
        return
    ir = random.Random(f"lead-sla/invalid/{seed}")
    p = invalid_rate / (1.0 - invalid_rate)
    for ev in events:
        yield Line(ev["lead_id"], ev["type"], dumps(ev))
        while ir.random() < p:
            yield _invalid_line(ir, ev)


# --------------------------------------------------------------------------------------------
# The policy that matches the simulated organisation (SPEC section 3).

POLICY_TARGETS: tuple[tuple[str | None, str | None, float], ...] = (
    ("chat", None, 10),
    (None, "urgent", 15),
    ("demo_request", None, 30),
    ("pricing_page", None, 30),
    ("missed_call", None, 30),
    (None, "high", 30),
    (None, "low", 240),
    ("email", None, 120),
    (None, None, 60),
)


def policy_toml() -> str:
    """The policy file for the simulated organisation (``examples/simulate-policy.toml``)."""
    out = [
        "# Policy for the workload of `lead-sla simulate`: its teams, reps and business hours.",
        "# Generated by leadsla.simulate.policy_toml(); tests/unit/test_simulate.py checks that",
        "# this file and the simulator's roster agree.",
        'version = "simulate-1"',
        'clock = "business"',
        f'timezone = "{TIMEZONE}"',
        "warn_at = 0.75",
        "grace_seconds = 120",
        "escalate_to_manager_after = 0.5",
        "stale_after = 2.0",
        'high_intent_sources = ["pricing_page", "demo_request"]',
        'response_from = "owner_or_backup"',
        f'default_manager = "{DEFAULT_MANAGER}"',
        "include_contact_details = false",
        "alert_horizon_minutes = 1440",
        "",
        "# First match wins.",
    ]
    for source, priority, minutes in POLICY_TARGETS:
        out.append("[[targets]]")
        if source is not None:
            out.append(f'source = "{source}"')
        if priority is not None:
            out.append(f'priority = "{priority}"')
        out.append(f"minutes = {minutes:g}")
        out.append("")
    start, end = WORK_START_MINUTE, WORK_END_MINUTE
    out += [
        "[business_hours]",
        'days = ["mon", "tue", "wed", "thu", "fri"]',
        f'start = "{start // 60:02d}:{start % 60:02d}"',
        f'end = "{end // 60:02d}:{end % 60:02d}"',
        "holidays = [",
    ]
    for i in range(0, len(HOLIDAYS), 6):
        out.append("  " + ", ".join(f'"{d.isoformat()}"' for d in HOLIDAYS[i : i + 6]) + ",")
    out += ["]", ""]
    for team in TEAMS:
        out.append(f"# team {team.name}, manager {team.manager}")
        for rep in team.reps:
            out.append(f"[roster.{rep}]")
            backup = team.backup_of(rep)
            if backup is not None:
                out.append(f'backup = "{backup}"')
            out.append(f'manager = "{team.manager}"')
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_policy(path: str, seed: int = 42) -> None:
    """Write :func:`policy_toml` to ``path`` (the roster is static: ``seed`` changes nothing)."""
    del seed
    with open(path, "w", encoding="utf-8") as f:
        f.write(policy_toml())


# --------------------------------------------------------------------------------------------
# The command.


def _topics(prefix: str) -> dict[str, str]:
    return {
        "lead.created": f"{prefix}leads.created",
        "lead.owner_assigned": f"{prefix}leads.ownership",
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--leads", type=int, default=1000, help="number of leads (default 1000)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--start",
        default=DEFAULT_START,
        help=f"RFC 3339 instant of the first day, or 'now' (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--leads-per-day",
        type=float,
        default=DEFAULT_LEADS_PER_DAY,
        help="leads on an ordinary working day (default %(default)s)",
    )
    parser.add_argument(
        "--out",
        default="-",
        help="JSON-lines file, written whole or not at all (default or '-': standard output)",
    )
    parser.add_argument(
        "--bootstrap",
        default=None,
        help="Kafka bootstrap servers (host:port,...): produce to the input topics instead; "
        "this option, not LEADSLA_BOOTSTRAP_SERVERS, says where (simulate reads no variable)",
    )
    parser.add_argument(
        "--topic-prefix", default="", help="prefix of the input topic names (with --bootstrap)"
    )
    parser.add_argument(
        "--invalid-rate",
        type=float,
        default=0.0,
        help="fraction of deliberately invalid lines (default 0)",
    )
    parser.add_argument(
        "--shuffle-window",
        type=float,
        default=0.0,
        help="delivery jitter in seconds against occurred_at (default 0)",
    )
    parser.add_argument(
        "--write-policy",
        metavar="FILE",
        default=None,
        help="also write the matching policy TOML to FILE",
    )


def _start_instant(text: str) -> Instant:
    if text == "now":
        now = datetime.now(UTC).replace(microsecond=0)
        return from_datetime(now)
    return parse_rfc3339(text)


def run(args: argparse.Namespace) -> int:
    try:
        start = _start_instant(args.start)
    except ValueError as exc:
        print(f"lead-sla simulate: --start: {exc}", file=sys.stderr)
        return 2
    if args.leads < 0 or args.shuffle_window < 0 or not 0 <= args.invalid_rate < 1:
        print(
            "lead-sla simulate: --leads and --shuffle-window must be >= 0, "
            "--invalid-rate in [0, 1)",
            file=sys.stderr,
        )
        return 2
    if not 0 < args.leads_per_day <= 1_000_000:
        print(
            f"lead-sla simulate: --leads-per-day must be above 0 and at most 1000000, "
            f"got {args.leads_per_day:g}",
            file=sys.stderr,
        )
        return 2
    try:
        if not args.bootstrap:
            check_output(args.out)
        if args.write_policy:
            check_output(args.write_policy, [args.out])
    except OutputError as exc:
        print(f"lead-sla simulate: {exc}", file=sys.stderr)
        return 2
    if args.write_policy:
        write_policy(args.write_policy, args.seed)
    lines = iter_lines(
        args.leads,
        args.seed,
        start,
        shuffle_window=args.shuffle_window,
        invalid_rate=args.invalid_rate,
        leads_per_day=args.leads_per_day,
    )
    counted = _Counted(lines)
    if args.bootstrap:
        _produce(counted, args)
        where = f"{args.bootstrap} (topics {args.topic_prefix}leads.*)"
    else:
        try:
            _write(counted, args.out)
        except BrokenPipeError:  # `lead-sla simulate | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        where = "standard output" if args.out == "-" else args.out
    invalid = f", {counted.invalid} of them invalid" if args.invalid_rate else ""
    print(
        f"lead-sla simulate: {args.leads} leads, {counted.lines} lines{invalid} "
        f"(seed {args.seed}) to {where}",
        file=sys.stderr,
    )
    return 0


class _Counted:
    """Counts the lines (and the invalid ones) that went through."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self._lines = lines
        self.lines = 0
        self.invalid = 0

    def __iter__(self) -> Iterator[Line]:
        for line in self._lines:
            self.lines += 1
            if not line.valid:
                self.invalid += 1
            yield line


def _write(lines: Iterable[Line], out: str) -> None:
    buf: list[bytes] = []
    with open_output(out) as stream:
        for line in lines:
            buf.append(line.value)
            if len(buf) >= 4096:
                buf.append(b"")
                stream.write(b"\n".join(buf))
                buf.clear()
        if buf:
            buf.append(b"")
            stream.write(b"\n".join(buf))


def _produce(lines: Iterable[Line], args: argparse.Namespace) -> None:
    """Key = lead_id, value = the JSON line, topic by type (SPEC section 2's defaults)."""
    from kafka import KafkaProducer  # lazily: file mode does not need kafka-python

    topics = _topics(args.topic_prefix)
    activity = f"{args.topic_prefix}leads.activity"
    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap.split(","),
        acks="all",
        linger_ms=20,
        client_id="lead-sla-simulate",
    )
    try:
        for line in lines:
            producer.send(
                topics.get(line.type, activity),
                key=line.key.encode() if line.key is not None else None,
                value=line.value,
            )
        producer.flush()
    finally:
        producer.close()
