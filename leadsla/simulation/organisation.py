"""The simulated sales organisation: its people, their working hours, and the policy that fits it.

Five teams, forty reps with their backups and managers (:data:`TEAMS`), a support queue, the
business hours of a company in Berlin (Mon-Fri 08:00-18:00, :data:`HOLIDAYS` off) and the policy
file that matches them (:func:`policy_toml`, checked in as ``examples/simulate-policy.toml``).
Static data: the roster does not depend on the seed, so one policy file fits every run.

The working hours are the domain's :class:`~leadsla.domain.calendar.BusinessHours`; the simulated
people act in them through the same :class:`~leadsla.domain.calendar.BusinessCalendar` the engine
measures deadlines with (:func:`business_calendar`), so there is one business calendar, not two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from leadsla.domain.calendar import WEEKDAYS, BusinessCalendar, BusinessHours

TIMEZONE = "Europe/Berlin"
WORK_START_MINUTE = 8 * 60
WORK_END_MINUTE = 18 * 60
WORK_DAYS = (0, 1, 2, 3, 4)  # Monday to Friday, as indexes of WEEKDAYS
DEFAULT_MANAGER = "martin-kraus"  # head of sales: what has no other manager goes to him
POLICY_CLOCK = "business"  # the reps answer in their working hours, so the targets count those
POLICY_RESPONSE_FROM = "owner_or_backup"


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
TEAM_BY_NAME = {team.name: team for team in TEAMS}

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

BUSINESS_HOURS = BusinessHours(
    windows=tuple(
        ((WORK_START_MINUTE, WORK_END_MINUTE),) if day in WORK_DAYS else ()
        for day in range(len(WEEKDAYS))
    ),
    holidays=frozenset(HOLIDAYS),
)
"""When the reps work (and when the policy's business clock runs)."""


def business_calendar() -> BusinessCalendar:
    """The organisation's working time, as the engine's business clock sees it."""
    return BusinessCalendar(BUSINESS_HOURS, TIMEZONE)


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
        f'clock = "{POLICY_CLOCK}"',
        f'timezone = "{TIMEZONE}"',
        "warn_at = 0.75",
        "grace_seconds = 120",
        "escalate_to_manager_after = 0.5",
        "stale_after = 2.0",
        'high_intent_sources = ["pricing_page", "demo_request"]',
        f'response_from = "{POLICY_RESPONSE_FROM}"',
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
        "days = [" + ", ".join(f'"{WEEKDAYS[day]}"' for day in WORK_DAYS) + "]",
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
