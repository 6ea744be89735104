"""When an unacknowledged alert goes to the next level, and how long a snooze lasts.

Escalation follows the on-call tools people know: an open alert nobody acknowledged within
`escalate_after_minutes` goes to the next level (the recipient's manager, then HR leads),
and again after the same time at that level, up to `escalation_levels`. A snooze is an
explicit "I am on it, later": no escalation while it lasts, and the clock restarts when it
ends so the snoozer gets the full time to acknowledge before anyone is woken.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

MAX_SNOOZE = timedelta(days=7)
_MINUTE, _HOUR, _DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
_UNITS = {
    "m": _MINUTE,
    "min": _MINUTE,
    "分钟": _MINUTE,
    "h": _HOUR,
    "小时": _HOUR,
    "d": _DAY,
    "天": _DAY,
}
_DURATION_RE = re.compile(r"^(\d{1,6})\s*(min|m|h|d|分钟|小时|天)$")
_USAGE = "expected a duration such as 30m, 4h or 1d (minutes, hours or days)"


def escalation_due(
    *,
    opened_at: datetime,
    last_escalated_at: datetime | None,
    level: int,
    now: datetime,
    after_minutes: int,
    max_levels: int,
    snoozed_until: datetime | None,
) -> bool:
    """Whether an open, unacknowledged alert at `level` (0 = first recipients) moves up now.

    The caller passes open alerts only: acknowledging is what stops escalation.
    """
    if after_minutes <= 0:
        raise ValueError(f"after_minutes must be positive, got {after_minutes}")
    if level >= max_levels:
        return False
    if snoozed_until is not None and now < snoozed_until:
        return False
    since = last_escalated_at or opened_at
    if snoozed_until is not None and snoozed_until > since:
        since = snoozed_until
    return now - since >= timedelta(minutes=after_minutes)


def parse_duration(text: str, *, longest: timedelta = MAX_SNOOZE) -> timedelta:
    """`snooze ID 4h`: a whole number of minutes (m), hours (h) or days (d), up to `longest`
    (7 days for a snooze; a silence passes `core.silences.MAX_SILENCE`).

    Longer is refused rather than cut short, so nobody believes an alert is quiet for longer
    than it is. Raises ValueError with the usage on bad text.
    """
    match = _DURATION_RE.match(text.strip().lower())
    if match is None:
        raise ValueError(f"{_USAGE}, at most {longest.days}d, got {text!r}")
    duration = int(match.group(1)) * _UNITS[match.group(2)]
    if duration <= timedelta(0):
        raise ValueError(f"a pause must last longer than zero, got {text!r}")
    if duration > longest:
        raise ValueError(f"a pause lasts at most {longest.days} days, got {text!r}")
    return duration
