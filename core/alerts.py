"""Alerts: kinds, the one lifecycle (open -> acknowledged -> resolved) and dedupe keys.

A scan produces `Finding`s (conditions seen on a day); storage turns them into alerts keyed by
`dedupe_key`, so seeing the same condition again updates the alert instead of duplicating it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from core.periods import Period


class AlertKind(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    SUSPENSION_IMMINENT = "suspension_imminent"
    ENROLLMENT_DEADLINE = "enrollment_deadline"
    FUNDING_GAP = "funding_gap"
    KPI_BELOW_TARGET = "kpi_below_target"
    INSTALLMENT_DUE = "installment_due"


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertEventType(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    NOTIFIED = "notified"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    REOPENED = "reopened"


_TRANSITIONS: Mapping[AlertState, frozenset[AlertState]] = {
    AlertState.OPEN: frozenset({AlertState.ACKNOWLEDGED, AlertState.RESOLVED}),
    AlertState.ACKNOWLEDGED: frozenset({AlertState.RESOLVED}),
    # A condition that comes back (a payment reversed, an enrolment undone) reopens its alert.
    AlertState.RESOLVED: frozenset({AlertState.OPEN}),
}


class InvalidTransition(ValueError):
    pass


def transition(current: AlertState, target: AlertState) -> AlertState:
    """The lifecycle's only gate: returns `target` or raises InvalidTransition."""
    if target not in _TRANSITIONS[current]:
        raise InvalidTransition(f"an alert cannot go from {current} to {target}")
    return target


def dedupe_key(
    kind: AlertKind,
    *,
    account_id: str | None = None,
    employee_id: str | None = None,
    department: str | None = None,
    period: Period | None = None,
    extra: str | None = None,
) -> str:
    """kind + subject (account, employee or department) + period: one alert per condition."""
    parts = [str(kind)]
    parts += [f"account={account_id}"] if account_id else []
    parts += [f"employee={employee_id}"] if employee_id else []
    parts += [f"department={department}"] if department else []
    parts += [f"period={period}"] if period else []
    parts += [extra] if extra else []
    return "|".join(parts)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """A condition a scan saw on its evaluation day."""

    kind: AlertKind
    key: str
    stage: str
    """Notification stage: a new stage (the next lead day) re-notifies; the same one does not."""
    account_id: str | None = None
    employee_id: str | None = None
    department: str | None = None
    period: Period | None = None
    due_date: date | None = None
    principal: Decimal | None = None
    late_fee: Decimal | None = None
    days_overdue: int | None = None
    suspension_on: date | None = None
    currency: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def urgent(self) -> bool:
        """Urgent kinds may pass quiet hours (when configured)."""
        return self.kind in URGENT_KINDS


URGENT_KINDS = frozenset({AlertKind.OVERDUE, AlertKind.SUSPENSION_IMMINENT})
COMPANY_KINDS = frozenset(
    {
        AlertKind.DUE_SOON,
        AlertKind.OVERDUE,
        AlertKind.SUSPENSION_IMMINENT,
        AlertKind.FUNDING_GAP,
        AlertKind.INSTALLMENT_DUE,
    }
)
"""Kinds about the company's own registrations and money: HR and finance own them."""
