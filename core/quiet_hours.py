"""Quiet hours: non-urgent alerts wait until the recipient's working time.

The window is wall-clock time in the *recipient's* timezone (`[alerts] quiet_hours`, e.g.
"22:00-08:00", which spans midnight), so an HR lead in Shanghai and one in London are each
left alone at night. Urgent kinds bypass it when configured; that choice is the caller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_USAGE = 'expected HH:MM-HH:MM in 24-hour time (e.g. "22:00-08:00") or ""'


@dataclass(frozen=True)
class QuietHours:
    """`start` inclusive to `end` exclusive; `end < start` wraps midnight; None: disabled."""

    window: tuple[time, time] | None = None

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Parse `[alerts] quiet_hours`; "" disables; raises ValueError on anything else."""
        if text.strip() == "":
            return cls(None)
        match = _WINDOW_RE.match(text.strip())
        if match is None:
            raise ValueError(f"{_USAGE}, got {text!r}")
        hour1, minute1, hour2, minute2 = (int(g) for g in match.groups())
        start, end = time(hour1, minute1), time(hour2, minute2)
        if start == end:
            raise ValueError(f"start and end are equal in {text!r}")
        return cls((start, end))

    @property
    def enabled(self) -> bool:
        return self.window is not None

    def contains(self, local_time: time) -> bool:
        """Whether a wall-clock time (in the recipient's timezone) is inside the window."""
        if self.window is None:
            return False
        start, end = self.window
        wall = local_time.replace(tzinfo=None)
        if start < end:
            return start <= wall < end
        return wall >= start or wall < end

    def next_allowed(self, at: datetime, tz: ZoneInfo) -> datetime:
        """`at` itself outside quiet hours, else the window's end in `tz`, as aware UTC."""
        if at.tzinfo is None:
            raise ValueError("next_allowed needs an aware datetime")
        local = at.astimezone(tz)
        if self.window is None or not self.contains(local.time()):
            return at
        end = datetime.combine(local.date(), self.window[1], tzinfo=tz)
        if end <= local:
            # Inside the evening part of a window that wraps midnight: it ends tomorrow.
            end = datetime.combine(local.date() + timedelta(days=1), self.window[1], tzinfo=tz)
        return end.astimezone(UTC)
