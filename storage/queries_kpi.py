"""Rows the KPI summary in chat is computed from: a period's hires and alerts, per scope.

`core.kpis` holds the formulas; these queries only pick the rows (company-wide for HR, one
department for its manager).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlmodel import Session, col, select

from core.kpis import AlertAck, Hire
from storage.models import Alert, Employee


def hires_between(
    session: Session, first_day: date, last_day: date, department: str | None = None
) -> list[Hire]:
    """People hired in [first_day, last_day], optionally of one department."""
    query = select(Employee).where(
        col(Employee.hire_date) >= first_day, col(Employee.hire_date) <= last_day
    )
    if department is not None:
        query = query.where(Employee.department == department)
    return [
        Hire(
            employee_id=row.employee_id,
            account=row.account_id,
            department=row.department or None,
            hire_date=row.hire_date,
            enrolled_on=row.enrolled_on,
        )
        for row in session.exec(query.order_by(Employee.employee_id))
    ]


def alerts_opened_between(session: Session, start: datetime, end: datetime) -> Sequence[Alert]:
    """Alerts opened in [start, end) (aware datetimes), oldest first."""
    query = select(Alert).where(col(Alert.opened_at) >= start, col(Alert.opened_at) < end)
    return session.exec(query.order_by(col(Alert.opened_at), col(Alert.id))).all()


def alert_acks(alerts: Sequence[Alert]) -> list[AlertAck]:
    return [
        AlertAck(
            account=alert.account_id,
            department=alert.department,
            opened_at=alert.opened_at,
            acknowledged_at=alert.acknowledged_at,
        )
        for alert in alerts
    ]


def department_account_ids(session: Session, department: str) -> set[str]:
    """Accounts the department's people are insured on (a manager's share of the dues)."""
    query = select(Employee.account_id).where(Employee.department == department).distinct()
    return set(session.exec(query).all())
