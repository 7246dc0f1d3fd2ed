"""Benchmark workloads that ``lead-sla simulate`` does not produce (not a test).

``unanswered``: the shape issue 8 measured independently: many leads, calendar clock, short
targets (15 minutes for chat, pricing page and demo requests, 60 otherwise), a quarter of the
leads never answered, about 3.4 events per lead and about 2.6 outputs per input event (breaches,
escalations, level-2 tasks and stale leads pile up). Deterministic for a seed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

import orjson

from leadsla.domain.instant import MINUTE, SECOND, format_utc, parse_rfc3339

UNANSWERED_POLICY = """\
# Benchmark policy for bench/workloads.py's "unanswered" workload: calendar clock, short targets.
version = "bench-unanswered-1"
default_manager = "head-of-sales"
clock = "calendar"
timezone = "UTC"
warn_at = 0.75
grace_seconds = 0
escalate_to_manager_after = 0.5
stale_after = 2.0
high_intent_sources = ["pricing_page", "demo_request"]

[[targets]]
source = "chat"
minutes = 15

[[targets]]
source = "pricing_page"
minutes = 15

[[targets]]
source = "demo_request"
minutes = 15

[[targets]]
minutes = 60
"""

_SOURCES = (
    ("pricing_page", 0.2),
    ("demo_request", 0.15),
    ("chat", 0.15),
    ("web_form", 0.3),
    ("email", 0.1),
    ("referral", 0.1),
)
_PRIORITIES = (("normal", 0.7), ("high", 0.15), ("urgent", 0.05), ("low", 0.1))
_OWNERS = [f"rep-{i:02d}" for i in range(40)]


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x = rng.random()
    for value, weight in table:
        x -= weight
        if x < 0:
            return value
    return table[-1][0]


def _event(eid: str, type_: str, lead: str, at: int, data: dict[str, object]) -> bytes:
    return orjson.dumps(
        {
            "event_id": eid,
            "type": type_,
            "lead_id": lead,
            "occurred_at": format_utc(at),
            "data": data,
        }
    )


def unanswered_lines(seed: int, span_days: int = 30) -> Iterator[bytes]:
    """Lead after lead, without end (replay does not care about line order)."""
    rng = random.Random(seed)
    start = parse_rfc3339("2026-03-02T00:00:00Z")
    span = span_days * 24 * 60 * MINUTE
    for n in itertools.count():
        lead = f"U-{seed}-{n:07d}"
        created = start + rng.randrange(span // SECOND) * SECOND
        yield _event(
            f"{lead}-c",
            "lead.created",
            lead,
            created,
            {"source": _pick(rng, _SOURCES), "priority": _pick(rng, _PRIORITIES)},
        )
        owner = rng.choice(_OWNERS)
        if rng.random() < 0.9:
            at = created + rng.randrange(0, 10 * 60) * SECOND
            data: dict[str, object] = {"owner_id": owner}
            if rng.random() < 0.5:
                data["backup_owner_id"] = rng.choice(_OWNERS)
            yield _event(f"{lead}-o", "lead.owner_assigned", lead, at, data)
        if rng.random() < 0.5:
            at = created + rng.randrange(1, 120) * SECOND
            yield _event(
                f"{lead}-a",
                "lead.activity_logged",
                lead,
                at,
                {"actor_id": "mailer", "actor_kind": "automation", "kind": "autoresponder"},
            )
        if rng.random() < 0.4:
            at = created + rng.randrange(1, 3600) * SECOND
            yield _event(
                f"{lead}-n",
                "lead.activity_logged",
                lead,
                at,
                {
                    "actor_id": owner,
                    "actor_kind": "person",
                    "kind": "note",
                    "direction": "internal",
                },
            )
        if rng.random() < 0.75:
            at = created + round(rng.expovariate(1 / (25 * 60)) * SECOND)
            yield _event(
                f"{lead}-r",
                "lead.activity_logged",
                lead,
                at,
                {"actor_id": owner, "actor_kind": "person", "kind": rng.choice(("call", "email"))},
            )


def write_unanswered(path: Path, events: int, seed: int) -> tuple[int, int]:
    """The first ``events`` lines of the workload: (events written, leads generated)."""
    count = 0
    leads = 0
    with open(path, "wb") as f:
        chunk: list[bytes] = []
        for line in unanswered_lines(seed, span_days=max(1, round(30 * events / 204_000))):
            leads += line.startswith(b'{"event_id":"U-') and b'"lead.created"' in line
            chunk.append(line)
            count += 1
            if len(chunk) >= 8192 or count >= events:
                f.write(b"\n".join(chunk) + b"\n")
                chunk.clear()
            if count >= events:
                break
        if chunk:
            f.write(b"\n".join(chunk) + b"\n")
    return count, leads
