"""The workload: the leads that reach the simulated organisation and what its people do with them.

Leads arrive as a non-homogeneous Poisson process over the local day (:class:`_ArrivalCurve`);
each lead's source, priority and category follow SPEC section 2's shares below; then the
organisation of :mod:`leadsla.simulation.organisation` routes it, answers it (or not), follows it
up and closes it, acting in its working hours (the domain's business calendar). :func:`histories`
gives each lead's whole history at once, in creation order; how it is delivered (jitter,
duplicates, late leads) is :mod:`leadsla.simulation.faults`' business.

Every draw comes from one ``random.Random`` seeded with the seed, in a fixed order, so the same
seed gives the same histories. Instants here are ``int`` milliseconds since the epoch (what the
source systems stamp); the business calendar is asked in microseconds.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from leadsla.domain.instant import SECOND

from .organisation import (
    CONTACT_PREFIX,
    HOLIDAYS,
    SUPPORT_AGENTS,
    SUPPORT_QUEUE,
    TEAM_BY_NAME,
    TEAMS,
    TIMEZONE,
    Team,
    business_calendar,
)

DEFAULT_LEADS_PER_DAY = 300.0  # an ordinary weekday; weekends, holidays and nights get fewer

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

# --------------------------------------------------------------------------------------------
# Small helpers.

# Instants here are int milliseconds since the epoch (the domain's are microseconds).
SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
US_PER_MS = SECOND // SECOND_MS
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


class _ArrivalCurve:
    """How many leads arrive when: a curve over the local hour, lower on weekends and holidays.

    Berlin's offsets are whole hours, so each UTC hour lies in one local hour; the rate is cached
    per UTC hour.
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
        self._rates: dict[int, float] = {}
        self.day_weight = sum(self.HOURLY)

    def rate(self, t: int) -> float:
        """The relative arrival rate at ``t`` (ms)."""
        utc_hour = t // HOUR_MS
        rate = self._rates.get(utc_hour)
        if rate is None:
            local = datetime.fromtimestamp(utc_hour * 3600, tz=self.zone)
            rate = self.HOURLY[local.hour]
            if local.weekday() >= 5 or local.date() in self.holidays:
                rate *= self.OFF_DAY
            self._rates[utc_hour] = rate
        return rate


# --------------------------------------------------------------------------------------------
# The generator.


class _NewLead(NamedTuple):
    """What the first event of a lead decided, for the rest of its history."""

    t0: int
    source_group: str  # SOURCES' value ("other" for every source of OTHER_SOURCES)
    source: str
    priority: str
    consent: str
    support: bool


class _Simulator:
    def __init__(self, seed: int, leads_per_day: float) -> None:
        self.r = random.Random(seed)
        self.arrivals = _ArrivalCurve()
        self.calendar = business_calendar()
        # Leads per ms at relative rate 1.0, so that a working day gets leads_per_day leads.
        self.scale = leads_per_day / (self.arrivals.day_weight * HOUR_MS)
        self.max_rate = max(self.arrivals.HOURLY)
        self._day_prefix: dict[int, str] = {}
        self.lead_id = ""
        self.t0 = 0  # the current lead's creation
        self.evs: list[tuple[int, dict[str, Any]]] = []

    # -- formatting -------------------------------------------------------------------------

    def ts(self, t: int, with_ms: bool) -> str:
        day, rem = divmod(t, DAY_MS)
        prefix = self._day_prefix.get(day)
        if prefix is None:
            prefix = (_EPOCH_DATE + timedelta(days=day)).isoformat() + "T"
            self._day_prefix[day] = prefix
        m, ms = divmod(rem, MINUTE_MS)
        s, ms = divmod(ms, SECOND_MS)
        return prefix + _HM[m] + _SS[s] + (_FRACTION[ms] if with_ms else "Z")

    def event_id(self) -> str:
        x = f"{self.r.getrandbits(128):032x}"
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"

    def emit(self, etype: str, t: int, data: dict[str, Any], with_ms: bool = False) -> int:
        """Append one event of the current lead; whole-second sources truncate their clock."""
        if not with_ms:
            t -= t % SECOND_MS
            if t < self.t0:  # the same second as a creation stamped in milliseconds
                t += SECOND_MS
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

    def one_of(self, options: Sequence[Any]) -> Any:
        return options[int(self.r.random() * len(options))]

    def lognormal_ms(self, median_minutes: float, sigma: float) -> int:
        return int(median_minutes * MINUTE_MS * math.exp(self.r.gauss(0.0, sigma)))

    def human_delay(self, t: int, amount: int, eager: float = 0.1) -> int:
        """When a person acts ``amount`` after ``t``: in working time, unless working late."""
        if self.r.random() < eager:
            return t + amount
        return self.add_working(t, amount)

    def add_working(self, t: int, amount: int) -> int:
        """``t`` plus ``amount`` ms of the organisation's working time (``amount`` > 0)."""
        return self.calendar.add(t * US_PER_MS, amount * US_PER_MS) // US_PER_MS

    # -- arrivals ---------------------------------------------------------------------------

    def next_arrival(self, t: int) -> int:
        """Non-homogeneous Poisson arrivals by thinning against the hourly curve."""
        r = self.r
        peak = self.max_rate * self.scale
        while True:
            t += max(1, int(r.expovariate(peak)))
            if r.random() * self.max_rate < self.arrivals.rate(t):
                return t

    # -- one lead ---------------------------------------------------------------------------
    def lead(self, n: int, t0: int) -> list[tuple[int, dict[str, Any]]]:
        """Lead ``n``'s whole history, created at ``t0``: (occurred_at in ms, event) pairs."""
        self.lead_id = f"lead-{n:07d}"
        self.evs = []
        new = self.new_lead(t0)
        self.automated_touches(new.t0, new.source)
        if new.support:
            self.support_lead(new.t0)
            return self.evs
        team = TEAM_BY_NAME[_TEAM_TABLES[new.source_group].pick(self.r)]
        owners = self.ownership(new.t0, team)
        self.handover(owners, team)
        end = self.early_end(new.t0)
        late_exclusion = self.lead_changes(new)
        self.sequence_emails(new.t0, owners, end)
        response = self.response_or_neglect(new, owners, team, end)
        if end is None:
            self.later_life(new, team, response, late_exclusion)
        return self.evs

    def new_lead(self, t0: int) -> _NewLead:
        """Draw the lead's attributes and emit its ``lead.created``."""
        r = self.r
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
        return _NewLead(t0, source_group, source, priority, consent, support)

    def ownership(self, t0: int, team: Team) -> list[tuple[int, str, bool]]:
        """Who owns the lead when: (time, owner, is_person), in time order; maybe nobody."""
        r = self.r
        rep_table = _REP_TABLES[team.name]
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
                tp = self.human_delay(t0, self.between(20 * MINUTE_MS, 90 * MINUTE_MS))
            owner = rep_table.pick(r)
            owners.append((self.assign(tp, owner, team), owner, True))
        return owners

    def handover(self, owners: list[tuple[int, str, bool]], team: Team) -> None:
        """A few leads are handed to a colleague before anyone answered (sick leave, territory)."""
        if owners and owners[-1][2] and self.r.random() < 0.03:
            new_owner = self.one_of([x for x in team.reps if x != owners[-1][1]])
            tr = self.human_delay(owners[-1][0], self.between(10 * MINUTE_MS, 90 * MINUTE_MS))
            owners.append((self.assign(tr, new_owner, team), new_owner, True))

    def early_end(self, t0: int) -> int | None:
        """A terminal status before any answer (spam and duplicates are spotted quickly)."""
        u = self.r.random()
        if u < 0.01:
            return self.status(self.human_delay(t0, self.lognormal_ms(15, 1.0)), "spam")
        if u < 0.02:
            return self.status(self.human_delay(t0, self.lognormal_ms(40, 1.0)), "duplicate")
        if u < 0.027:
            return self.status(
                self.human_delay(t0, self.lognormal_ms(60, 1.0)),
                "disqualified",
                self.one_of(_DISQUALIFY_REASONS),
            )
        return None

    def lead_changes(self, new: _NewLead) -> bool:
        """Changes to the lead itself; True when it turns out to be an existing customer's."""
        r, t0 = self.r, new.t0
        if r.random() < 0.03:
            others = [p for p, _ in PRIORITIES if p != new.priority]
            self.emit(
                "lead.updated",
                self.human_delay(t0, self.between(5 * MINUTE_MS, 2 * HOUR_MS)),
                {"priority": self.one_of(others)},
            )
        if new.consent == "unclear":
            v = r.random()
            if v < 0.75:
                self.emit(
                    "lead.updated",
                    self.human_delay(t0, self.between(30 * MINUTE_MS, 8 * HOUR_MS)),
                    {"consent": "granted" if v < 0.6 else "declined"},
                )
        if r.random() < 0.01:  # the rep finds the buyer is already a customer
            self.emit(
                "lead.updated",
                self.human_delay(t0, self.between(10 * MINUTE_MS, 4 * HOUR_MS)),
                {"customer_status": "existing_customer"},
            )
            return True
        if r.random() < 0.005:  # an angry inbound reply turns the lead into a complaint
            self.emit(
                "lead.updated",
                self.human_delay(t0, self.between(30 * MINUTE_MS, 6 * HOUR_MS)),
                {"category": "complaint"},
            )
        return False

    def sequence_emails(
        self, t0: int, owners: list[tuple[int, str, bool]], end: int | None
    ) -> None:
        """A cadence tool writes in the owner's name; such emails never count as a response."""
        r = self.r
        if r.random() >= 0.12:
            return
        seq = self.one_of(_SEQUENCES)
        step_at = t0 + self.between(2 * MINUTE_MS, 15 * MINUTE_MS)
        for step in range(self.between(1, 3)):
            if end is not None and step_at >= end:
                break
            owner = self.person_owner_at(owners, step_at)
            if owner is None:
                self.activity(step_at, "sequencer", "automation", "email", sequence_id=seq)
            else:
                self.activity(step_at, owner, "person", "email", sequence_id=seq)
            step_at += self.between(2, 3) * DAY_MS + self.between(0, 4 * HOUR_MS)
            if step == 0 and r.random() < 0.3:
                break

    def response_or_neglect(
        self, new: _NewLead, owners: list[tuple[int, str, bool]], team: Team, end: int | None
    ) -> tuple[int, str] | None:
        """The first meaningful response (time, responder), or none and maybe some busy work."""
        r, t0 = self.r, new.t0
        neglect = 0.12 * _PRIORITY_NEGLECT[new.priority]
        if end is not None:
            neglect = 0.9
        if r.random() >= neglect:
            return self.first_response(t0, new.source_group, new.priority, owners, team, end)
        owner = self.person_owner_at(owners, t0 + HOUR_MS)
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
        return None

    def later_life(
        self,
        new: _NewLead,
        team: Team,
        response: tuple[int, str] | None,
        late_exclusion: bool,
    ) -> None:
        """After the first response, or its absence: resolutions, follow-ups, the lead's end."""
        if response is None:
            self.unanswered_end(new, team, late_exclusion)
            return
        r = self.r
        responded_at, responder = response
        self.follow_ups(responded_at, responder, new.source_group)
        u = r.random()
        if u < 0.07:
            self.status(responded_at + self.between(3 * DAY_MS, 40 * DAY_MS), "converted")
        elif u < 0.32:
            tc = self.status(
                responded_at + self.between(2 * DAY_MS, 30 * DAY_MS),
                "closed",
                self.one_of(_CLOSE_REASONS),
            )
            if r.random() < 0.1:
                self.status(tc + self.between(2 * DAY_MS, 20 * DAY_MS), "reopened")
        elif u < 0.336:
            self.status(
                self.human_delay(responded_at, self.between(HOUR_MS, 2 * DAY_MS)),
                "disqualified",
                self.one_of(_DISQUALIFY_REASONS),
            )
        elif u < 0.339:
            self.status(responded_at + self.between(HOUR_MS, 10 * DAY_MS), "opted_out")
        elif u < 0.34:
            self.status(responded_at + self.between(HOUR_MS, 10 * DAY_MS), "consent_withdrawn")

    def unanswered_end(self, new: _NewLead, team: Team, late_exclusion: bool) -> None:
        """A lead nobody answered: its breach resolved by the manager, or closed, or left open."""
        r, t0 = self.r, new.t0
        eligible = new.consent == "granted" and not late_exclusion
        if eligible and r.random() < 0.12:
            tb = t0 + self.between(5 * DAY_MS, 8 * DAY_MS)
            code, note = self.one_of(_RESOLUTION_NOTES)
            resolution: dict[str, Any] = {"resolved_by": team.manager, "resolution_note": note}
            if code is not None and r.random() < 0.6:
                resolution["reason_code"] = code
            self.emit("lead.breach_resolved", tb, resolution)
            if r.random() < 0.5:
                self.status(tb + self.between(1, 3) * DAY_MS, "closed", self.one_of(_CLOSE_REASONS))
        elif r.random() < 0.4:
            self.status(
                t0 + self.between(3 * DAY_MS, 14 * DAY_MS),
                "closed",
                self.one_of(_CLOSE_REASONS),
            )

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
                self.status(t + self.between(HOUR_MS, 3 * DAY_MS), "closed", "handled by support")

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
            before = self.between(20_000, 40 * MINUTE_MS if kind != "voicemail" else 90_000)
            self.activity(max(t - before, t0 + 1_000), responder, "person", "call_attempt")
        elif r.random() < 0.05 and owner is not None:
            before = self.between(60_000, 20 * MINUTE_MS)
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
            t = self.add_working(t, self.lognormal_ms(120, 0.8))
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
                t + self.between(60_000, 30 * MINUTE_MS),
                owner,
                "person",
                "note",
                "internal",
                next_step=self.one_of(_NEXT_STEPS),
            )
        if r.random() < 0.2:
            self.activity(
                self.human_delay(t, self.between(HOUR_MS, 2 * DAY_MS)), owner, "person", "call"
            )
        if r.random() < 0.22:
            self.activity(
                self.human_delay(t, self.between(HOUR_MS, 3 * DAY_MS)),
                owner,
                "person",
                "meeting_booked",
                next_step="discovery call",
            )
        if r.random() < 0.15:
            self.activity(
                self.human_delay(t, self.between(DAY_MS, 7 * DAY_MS)),
                owner,
                "person",
                "conversation",
            )


def histories(
    leads: int, seed: int, start_ms: int, leads_per_day: float = DEFAULT_LEADS_PER_DAY
) -> Iterator[tuple[int, list[tuple[int, dict[str, Any]]]]]:
    """Each lead's creation (ms) and whole history, lead by lead in creation order, lazily.

    A history is a list of (occurred_at in ms, event) pairs in generation order; every event
    occurs at or after its lead's creation truncated to the second.
    """
    sim = _Simulator(seed, leads_per_day)
    t = start_ms
    for n in range(1, leads + 1):
        t = sim.next_arrival(t)
        yield t, sim.lead(n, t)
