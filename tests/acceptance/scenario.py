"""Scenario building blocks: input event factories, times, policies, assertions.

Times are given as minute offsets from ``BASE`` (Monday 2026-03-02 09:00 UTC), or as an RFC 3339
string used verbatim. Every factory gives its event a unique ``event_id`` (or the one passed).

Default cast: ``alice`` (owner; roster backup ``bob``, manager ``carol``), ``erin`` (owner
missing from the roster), ``dave`` (another salesperson), ``mgr`` (the default manager),
``q-inbound`` (a queue).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .runner import parse_ts

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
LEAD = "L-1"
_ids = itertools.count(1)


def t(at: float | str) -> str:
    """Minutes after BASE as an RFC 3339 UTC string (a string is returned unchanged)."""
    if isinstance(at, str):
        return at
    moment = BASE + timedelta(minutes=at)
    text = moment.isoformat().replace("+00:00", "Z")
    return text


def dt(at: float | str) -> datetime:
    return parse_ts(t(at))


def _event(
    type_: str, lead: str, at: float | str, data: dict[str, Any], event_id: str | None
) -> dict[str, Any]:
    return {
        "event_id": event_id or f"in-{next(_ids):05d}",
        "type": type_,
        "lead_id": lead,
        "occurred_at": t(at),
        "data": data,
    }


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def created(
    lead: str = LEAD,
    at: float | str = 0,
    source: str = "web_form",
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    return _event("lead.created", lead, at, _clean({"source": source, **data}), event_id)


def assigned(
    lead: str = LEAD,
    at: float | str = 0,
    owner: str = "alice",
    kind: str | None = None,
    backup: str | None = None,
    manager: str | None = None,
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    payload = {
        "owner_id": owner,
        "owner_kind": kind,
        "backup_owner_id": backup,
        "manager_id": manager,
        **data,
    }
    return _event("lead.owner_assigned", lead, at, _clean(payload), event_id)


def activity(
    lead: str = LEAD,
    at: float | str = 0,
    actor: str = "alice",
    kind: str = "email",
    actor_kind: str = "person",
    direction: str | None = None,
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    payload = {
        "actor_id": actor,
        "actor_kind": actor_kind,
        "kind": kind,
        "direction": direction,
        **data,
    }
    return _event("lead.activity_logged", lead, at, _clean(payload), event_id)


def autoresponder(lead: str = LEAD, at: float | str = 1, **data: Any) -> dict[str, Any]:
    """The classic automated touch: an automation sends an autoresponder to the customer."""
    return activity(
        lead, at, actor="bot-mailer", kind="autoresponder", actor_kind="automation", **data
    )


def updated(
    lead: str = LEAD, at: float | str = 0, event_id: str | None = None, **data: Any
) -> dict[str, Any]:
    return _event("lead.updated", lead, at, dict(data), event_id)


def status(
    lead: str = LEAD,
    at: float | str = 0,
    status: str = "closed",
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    return _event("lead.status_changed", lead, at, _clean({"status": status, **data}), event_id)


def resolved(
    lead: str = LEAD,
    at: float | str = 0,
    resolved_by: str = "carol",
    note: str = "reviewed in the weekly breach review",
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    payload = {"resolved_by": resolved_by, "resolution_note": note, **data}
    return _event("lead.breach_resolved", lead, at, _clean(payload), event_id)


# --------------------------------------------------------------------------- a rich history


def rich_history() -> list[dict[str, Any]]:
    """Several leads touching most rules: warnings, breaches, tasks, reviews, holds, exclusions."""
    return [
        created("L-a", at=0, source="pricing_page"),
        assigned("L-a", at=0, owner="alice"),
        autoresponder("L-a", at=1),
        activity("L-a", at=100, actor="bob", kind="meeting_booked"),
        resolved("L-a", at=150, resolved_by="carol", note="rep out sick"),
        created("L-b", at=5, category="complaint"),
        assigned("L-b", at=6, owner="erin"),
        activity("L-b", at=20, actor="erin", kind="call"),
        created("L-c", at=10, consent="unclear"),
        assigned("L-c", at=10, owner="alice"),
        updated("L-c", at=40, consent="granted"),
        created("L-d", at=15),
        activity("L-d", at=20, actor="dave", kind="chat"),
        created("L-e", at=20, source="demo_request"),
        assigned("L-e", at=20, owner="alice"),
        activity("L-e", at=30, actor="dave", kind="email"),
        created("L-f", at=30),
        assigned("L-f", at=30, owner="q-inbound", kind="queue"),
        status("L-f", at=50, status="spam"),
        created("L-g", at=0, customer_status="existing_customer"),
        created("L-h", at=0),
        assigned("L-h", at=0, owner="alice"),
        updated("L-h", at=10, priority="urgent"),
        status("L-h", at=20, status="closed"),
        status("L-h", at=25, status="reopened"),
        created("L-i", at=0, source="demo_request", display_name="Ada Lovelace"),
        created("L-j", at=0, category="urgent_request", display_name="Grace Hopper"),
        assigned("L-j", at=0, owner="alice"),
        created("L-k", at=0, priority="high"),
        assigned("L-k", at=0, owner="alice"),
        updated("L-k", at=10, priority="low"),
    ]


# --------------------------------------------------------------------------- policies

ROSTER = """
[roster.alice]
backup = "bob"
manager = "carol"
"""


def policy(top: str = "", tables: str = "", roster: str = ROSTER, version: str = "acc-1") -> str:
    """A policy TOML: version, default_manager = "mgr", ``top`` keys, then roster and tables.

    Defaults (SPEC section 3): 60-minute window, warning at 45, deadline at 60, level 2 at 90,
    stale at 120 (high intent only), calendar clock.
    """
    head = f'version = "{version}"\n' if version else ""
    return f'{head}default_manager = "mgr"\n{top.strip()}\n{roster}\n{tables.strip()}\n'


RICH_POLICY_TABLES = """
[[targets]]
priority = "low"
minutes = 120
"""


def rich_policy(top: str = "") -> str:
    """The default policy plus a 120-minute target for low priority (used by rich_history)."""
    return policy(top, RICH_POLICY_TABLES)


BUSINESS = """
clock = "business"
timezone = "UTC"
"""

# --------------------------------------------------------------------------- assertions


def assert_at(value: Any, at: float | str) -> None:
    """``value`` (an output timestamp) is the instant ``at`` (minutes after BASE, or a string)."""
    assert value is not None, f"expected the instant {t(at)}, got null"
    assert parse_ts(value) == dt(at), f"expected {t(at)}, got {value}"


def assert_z(value: Any) -> None:
    assert isinstance(value, str) and value.endswith("Z"), f"not a UTC 'Z' timestamp: {value!r}"


def approx(x: float) -> Any:
    return pytest.approx(x, abs=1e-6)


TIMESTAMP_KEYS = (
    "occurred_at",
    "due_at",
    "warn_at",
    "created_at",
    "responded_at",
)
