"""Employees' platform user ids as `coverwatch sync users` reads and writes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from storage.employees import PLATFORM_ID_COLUMNS
from storage.models import Employee


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """An employee to look up: contact details and the id stored now."""

    employee_id: str
    email: str | None
    mobile: str | None
    current: str | None


def sync_candidates(session: Session, platform: str, today: date) -> list[Candidate]:
    """Everyone still employed on `today`, in employee-id order."""
    column = PLATFORM_ID_COLUMNS[platform]
    rows = session.exec(
        select(Employee.employee_id, Employee.email, Employee.mobile, column)
        .where(or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= today))
        .order_by(col(Employee.employee_id))
    )
    return [
        Candidate(employee_id=employee_id, email=email, mobile=mobile, current=current)
        for employee_id, email, mobile, current in rows
    ]


def ids_in_use(session: Session, platform: str) -> dict[str, str]:
    """Every stored user id of `platform` -> the employee holding it (leavers included: an id
    stays theirs)."""
    column = PLATFORM_ID_COLUMNS[platform]
    rows = session.exec(select(column, Employee.employee_id).where(col(column).is_not(None)))
    return {str(user_id): employee_id for user_id, employee_id in rows}


def set_user_ids(session: Session, platform: str, assignments: Mapping[str, str]) -> None:
    """Store `employee_id -> user_id` in one executemany; the caller commits."""
    if not assignments:
        return
    field = PLATFORM_ID_COLUMNS[platform].key
    session.execute(
        update(Employee),
        [{"employee_id": e, field: user_id} for e, user_id in assignments.items()],
    )
