"""Business calendar: business time added to an instant and measured between two instants.

STUB: the data shapes below are fixed (policy.py builds them); the functions are to be
implemented. Instants are int microseconds since the epoch (see instant.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .instant import Instant

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Per-weekday windows in local wall time, as minutes after local midnight.

    ``windows[0]`` is Monday ... ``windows[6]`` Sunday; each entry is a tuple of
    ``(start_minute, end_minute)`` pairs with ``0 <= start_minute < 1440``. A window whose
    ``end_minute <= start_minute`` crosses midnight and ends on the next day (``"22:00-02:00"`` is
    ``(1320, 120)``); it belongs to the day it starts on. ``holidays`` are local dates whose
    windows (the ones that start on that date) are removed.
    """

    windows: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[date] = frozenset()


DEFAULT_BUSINESS_HOURS = BusinessHours(
    windows=((540, 1020),) * 5 + ((), ()),  # Mon-Fri 09:00-17:00
)


class BusinessCalendar:
    """Business time of one IANA zone. Elapsed real time inside the windows, DST-correct."""

    def __init__(self, hours: BusinessHours, timezone: str) -> None:
        self.hours = hours
        self.timezone = timezone

    def add(self, start: Instant, amount: int) -> Instant:
        """The instant at which ``amount`` microseconds of business time after ``start`` elapse."""
        raise NotImplementedError

    def between(self, start: Instant, end: Instant) -> int:
        """Microseconds of business time in ``[start, end)`` (0 when ``end <= start``)."""
        raise NotImplementedError
