"""Ledger look-ups the chat needs beyond `storage.ledger`: an employee's own latest period."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from core.periods import Period
from storage.models import LedgerLine


def latest_employee_period(session: Session, employee_id: str) -> Period | None:
    """The newest period with ledger lines for this employee (None before their first run)."""
    query = select(func.max(LedgerLine.period)).where(LedgerLine.employee_id == employee_id)
    latest = session.exec(query).one()
    return Period.parse(latest) if latest else None
