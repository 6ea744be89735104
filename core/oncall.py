"""The on-call rotation: who answers for company-wide alerts no account owner has.

`[oncall] members` take turns of `shift_days` days: member k is on call from
`starts_on + k·shift_days`, round-robin for ever after. `overrides` name the member for single
days (a swap, a holiday), winning over the rotation. Pure arithmetic on dates so routing, the
`oncall` command and their tests agree on one answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

DEFAULT_SHIFT_DAYS = 7
_DAY = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class Rotation:
    members: tuple[str, ...] = ()
    shift_days: int = DEFAULT_SHIFT_DAYS
    starts_on: date | None = None
    overrides: Mapping[date, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shift_days < 1:
            raise ValueError("shift_days must be at least 1")

    def scheduled(self, day: date) -> str | None:
        """The rotation's member for `day`, ignoring overrides; None before it starts."""
        if not self.members or self.starts_on is None or day < self.starts_on:
            return None
        shift = (day - self.starts_on).days // self.shift_days
        return self.members[shift % len(self.members)]

    def on_call(self, day: date) -> str | None:
        """Who is on call on `day`: an override, else the scheduled member."""
        return self.overrides.get(day) or self.scheduled(day)

    def shift_start(self, day: date) -> date | None:
        """The first day of the shift `day` is in: back over the days the same member is on
        call, never past a rotation boundary (a one-member rotation still hands over every
        `shift_days`). None when nobody is on call."""
        member = self.on_call(day)
        if member is None:
            return None
        start = day
        while not self._boundary(start) and self.on_call(start - _DAY) == member:
            start -= _DAY
        return start

    def _boundary(self, day: date) -> bool:
        """A scheduled shift's first day (or the rotation's very first)."""
        if self.starts_on is None or day < self.starts_on:
            return False  # overrides only: a stretch of them ends where they end
        return (day - self.starts_on).days % self.shift_days == 0

    def next_change(self, day: date) -> tuple[date, str] | None:
        """The first later day someone else is on call, and who (within two full cycles)."""
        now = self.on_call(day)
        horizon = 2 * max(len(self.members), 1) * self.shift_days + len(self.overrides) + 1
        for offset in range(1, horizon + 1):
            later = day + timedelta(days=offset)
            member = self.on_call(later)
            if member is not None and member != now:
                return later, member
        return None
