"""Ledger look-ups the chat needs beyond `storage.ledger`: an employee's latest period and base."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from core.periods import Period
from storage.models import LedgerLine

BASE_SCHEME = "pension"
"""The base people mean by "my base": the pension line's clamped base, the band most payroll
staff check; an employee without a pension line (Hong Kong MPF) has their first line's base."""


def latest_employee_period(session: Session, employee_id: str) -> Period | None:
    """The newest period with ledger lines for this employee (None before their first run)."""
    query = select(func.max(LedgerLine.period)).where(LedgerLine.employee_id == employee_id)
    latest = session.exec(query).one()
    return Period.parse(latest) if latest else None


def headline_base(lines: Sequence[LedgerLine]) -> Decimal:
    """The one base that stands for a period's lines (see `BASE_SCHEME`)."""
    return next((line.base for line in lines if line.scheme == BASE_SCHEME), lines[0].base)


def month_base(session: Session, employee_id: str, period: Period) -> tuple[Period, Decimal] | None:
    """The employee's base in `period`, or in the latest computed period before it."""
    latest = session.exec(
        select(func.max(LedgerLine.period))
        .where(LedgerLine.employee_id == employee_id)
        .where(col(LedgerLine.period) <= str(period))
    ).one()
    if not latest:
        return None
    lines = session.exec(
        select(LedgerLine)
        .where(LedgerLine.employee_id == employee_id)
        .where(LedgerLine.period == latest)
        .order_by(col(LedgerLine.id))
    ).all()
    return Period.parse(latest), headline_base(lines)
