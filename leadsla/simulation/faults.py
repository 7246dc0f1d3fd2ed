"""What goes wrong on the way: the delivery of the workload, and deliberately invalid lines.

Real producers deliver late and twice: :func:`deliver` turns the lead histories of
:mod:`leadsla.simulation.workload` into one stream in delivery order, with a uniform jitter of up
to the shuffle window against ``occurred_at``, at-least-once redeliveries (:data:`DUPLICATE_RATE`)
and leads whose ``lead.created`` arrives after their first follow-up (:data:`EARLY_LEAD_RATE`,
CRM sync lag). :func:`with_invalid_lines` adds lines a dead-letter path must survive.

Delivery and invalid lines draw from their own random streams (seeded from the seed), so the
events themselves do not depend on the shuffle window or the invalid rate: the same seed gives the
same leads, delivered differently.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from .workload import MINUTE_MS, SECOND_MS

# Deliberate oddities of the delivery (rates per event, see deliver).
DUPLICATE_RATE = 0.005  # at-least-once redelivery of the same event (same event_id)
EARLY_LEAD_RATE = 0.022  # leads whose lead.created is delivered after its first follow-up event


def deliver(
    histories: Iterable[tuple[int, list[tuple[int, dict[str, Any]]]]],
    seed: int,
    shuffle_ms: int,
) -> Iterator[dict[str, Any]]:
    """All events in delivery order: (occurred_at + jitter, generation order)."""
    d = random.Random(f"lead-sla/delivery/{seed}")

    def between(low: int, high: int) -> int:
        return low + int(d.random() * (high - low + 1))

    heap: list[tuple[int, int, dict[str, Any]]] = []
    seq = 0
    for created, evs in histories:
        # Every event of this and later leads occurs at or after this lead's creation
        # (truncated to whole seconds), and jitter only delays: what is due is final.
        horizon = created - created % SECOND_MS
        while heap and heap[0][0] <= horizon:
            yield heapq.heappop(heap)[2]
        if min(occ for occ, _ in evs) < horizon:
            raise AssertionError(f"{evs[0][1]['lead_id']}: an event before its lead's creation")
        deliveries = [occ + (int(d.random() * shuffle_ms) if shuffle_ms else 0) for occ, _ in evs]
        if len(evs) > 1 and d.random() < EARLY_LEAD_RATE:
            # CRM sync lag: the lead arrives after the first thing that happened to it.
            deliveries[0] = min(deliveries[1:]) + between(1_000, 90_000)
        for (_, ev), at in zip(evs, deliveries, strict=True):
            heapq.heappush(heap, (at, seq, ev))
            seq += 1
            if d.random() < DUPLICATE_RATE:
                heapq.heappush(heap, (at + between(100, 15 * MINUTE_MS), seq, dict(ev)))
                seq += 1
    while heap:
        yield heapq.heappop(heap)[2]


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


def with_invalid_lines(
    events: Iterable[dict[str, Any]], seed: int, invalid_rate: float
) -> Iterator[Line]:
    """The events as :class:`Line` s, with a fraction ``invalid_rate`` of invalid lines on top.

    The invalid lines are extra lines next to the valid stream, drawn from their own random
    stream: the valid lines are the same for every rate.
    """
    if not 0.0 <= invalid_rate < 1.0:
        raise ValueError("invalid_rate must be in [0, 1)")
    dumps = orjson.dumps
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
