"""The simulator behind ``lead-sla simulate``: a reproducible, realistic workload of input events.

Three rooms: :mod:`.organisation` (the simulated sales organisation, its working hours and the
policy that fits it), :mod:`.workload` (the leads that arrive and what the organisation's people
do with them) and :mod:`.faults` (late and repeated delivery, deliberately invalid lines). The
command itself is ``leadsla.simulate``.

The same seed gives the same bytes: every draw comes from ``random.Random`` instances seeded from
the seed, and the organisation is fixed data. Events are generated lazily, lead by lead in
creation order, and come out in delivery order, so a million events need only the memory of the
leads still open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from leadsla.domain.instant import Instant

from .faults import Line, deliver, with_invalid_lines
from .workload import DEFAULT_LEADS_PER_DAY, SECOND_MS, US_PER_MS, histories


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
    start_ms = start // US_PER_MS
    shuffle_ms = int(shuffle_window * SECOND_MS)
    return deliver(histories(leads, seed, start_ms, leads_per_day), seed, shuffle_ms)


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
    events = generate(
        leads, seed, start, shuffle_window=shuffle_window, leads_per_day=leads_per_day
    )
    return with_invalid_lines(events, seed, invalid_rate)
