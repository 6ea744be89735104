"""Contribution periods (`YYYY-MM`): the unit every due, payment and KPI is booked against."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_YEAR, LAST_YEAR = 1900, 2999
"""Periods a user may name: reports look a year back and ahead, which `date` must still hold."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month; ordered, hashable and printed as `YYYY-MM`."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        """Parse `YYYY-MM`; raises ValueError with a message a user can act on."""
        match = _PERIOD_RE.match(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ValueError(f"not a period (expected YYYY-MM): {text!r}")
        if not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
            raise ValueError(f"not a period between {FIRST_YEAR} and {LAST_YEAR}: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shift(self, months: int) -> Period:
        index = self.year * 12 + (self.month - 1) + months
        return Period(index // 12, index % 12 + 1)

    def next(self) -> Period:
        return self.shift(1)

    def prev(self) -> Period:
        return self.shift(-1)

    def months_until(self, other: Period) -> int:
        """Number of months from self to other (negative when other is earlier)."""
        return (other.year - self.year) * 12 + (other.month - self.month)

    def day(self, day_of_month: int) -> date:
        """The given day of this month, clamped to the month's last day (e.g. 31 -> 30 Apr)."""
        return date(self.year, self.month, min(day_of_month, self.last_day.day))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"
