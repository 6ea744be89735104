"""Silences: mute an account, a kind or one alert for a while (issue 14 item 3).

As in Alertmanager, a silence is a set of matchers with an end, not a flag on an alert: an
alert that opens while it lasts is silenced too. A silenced alert stays open and listed but
sends nothing and does not escalate; when the silence ends, by itself or removed, escalation
resumes with its clock restarted at the end (as after a snooze, `core.escalation`), so nobody
is woken the minute a silence runs out. Urgent kinds (`URGENT_KINDS`: money already late) are
muted only by a silence that names their kind: silencing an account because the bureau's
system is down must not hide that its payment is overdue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.alerts import URGENT_KINDS, AlertKind

MAX_SILENCE = timedelta(days=31)
"""Longest silence: a holiday extension or a bureau outage, not a way to forget an account."""


class SilenceError(ValueError):
    """A silence that cannot be made; the message says why."""


@dataclass(frozen=True, kw_only=True)
class Silence:
    """Matchers (each None matches anything; at least one is set) and the time they hold."""

    starts_at: datetime
    ends_at: datetime
    """When it ends: its planned end, or when it was removed."""
    account_id: str | None = None
    kind: AlertKind | None = None
    alert_id: int | None = None

    def __post_init__(self) -> None:
        if self.account_id is None and self.kind is None and self.alert_id is None:
            raise SilenceError("a silence names an account, a kind or an alert")

    def matches(self, *, alert_id: int, kind: AlertKind, account_id: str | None) -> bool:
        if self.kind is None and kind in URGENT_KINDS:
            return False
        return (
            (self.alert_id is None or self.alert_id == alert_id)
            and (self.kind is None or self.kind == kind)
            and (self.account_id is None or self.account_id == account_id)
        )


def new_silence(
    *,
    now: datetime,
    duration: timedelta,
    account_id: str | None = None,
    kind: AlertKind | None = None,
    alert_id: int | None = None,
    alert_kind: AlertKind | None = None,
) -> Silence:
    """A silence starting `now`, or SilenceError: no matcher, a duration out of bounds, or one
    alert of an urgent kind named without its kind (`alert_kind`: the named alert's kind)."""
    if not timedelta(0) < duration <= MAX_SILENCE:
        raise SilenceError(f"a silence lasts more than zero and at most {MAX_SILENCE.days} days")
    if kind is None and alert_kind in URGENT_KINDS:
        raise SilenceError(f"{alert_kind} is urgent: it is silenced only by naming its kind")
    return Silence(
        starts_at=now, ends_at=now + duration, account_id=account_id, kind=kind, alert_id=alert_id
    )


def silence_end(
    silences: Iterable[Silence],
    *,
    alert_id: int,
    kind: AlertKind,
    account_id: str | None,
    now: datetime,
) -> datetime | None:
    """The latest end of a silence that matched the alert and has started by `now`, ended ones
    included: escalation counts its time from there."""
    ends = [
        s.ends_at
        for s in silences
        if s.starts_at <= now and s.matches(alert_id=alert_id, kind=kind, account_id=account_id)
    ]
    return max(ends, default=None)


def silenced_until(
    silences: Iterable[Silence],
    *,
    alert_id: int,
    kind: AlertKind,
    account_id: str | None,
    now: datetime,
) -> datetime | None:
    """When the alert's silence ends, if it is silenced at `now`; else None."""
    end = silence_end(silences, alert_id=alert_id, kind=kind, account_id=account_id, now=now)
    return end if end is not None and end > now else None
