"""Employee look-ups: identity from a chat platform, scope of a manager, reply language."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import or_
from sqlmodel import Session, col, select

from storage.models import Employee, UserPreference

ROLES = ("employee", "manager", "hr", "finance", "admin")
COMPANY_ROLES = frozenset({"hr", "finance", "admin"})
"""Roles that see company data (every account and employee)."""

PLATFORM_ID_COLUMNS = {
    "slack": Employee.slack_user_id,
    "dingtalk": Employee.dingtalk_user_id,
    "wecom": Employee.wecom_user_id,
}
"""Where each platform's user id of an employee is kept."""


def get_employee(session: Session, employee_id: str) -> Employee | None:
    return session.get(Employee, employee_id)


def by_platform_user(session: Session, platform: str, user_id: str) -> Employee | None:
    """The employee behind a chat user; console and CLI users are their employee id."""
    column = PLATFORM_ID_COLUMNS.get(platform)
    if column is None:
        return session.get(Employee, user_id)
    return session.exec(select(Employee).where(column == user_id)).first()


def employed_between(session: Session, first_day: date, last_day: date) -> Sequence[Employee]:
    """Employees on the payroll at any time in [first_day, last_day]."""
    query = (
        select(Employee)
        .where(Employee.hire_date <= last_day)
        .where(or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= first_day))
        .order_by(Employee.employee_id)
    )
    return session.exec(query).all()


def department_members(session: Session, department: str) -> Sequence[Employee]:
    query = select(Employee).where(Employee.department == department)
    return session.exec(query.order_by(Employee.employee_id)).all()


def company_contacts(session: Session) -> Sequence[Employee]:
    """HR and finance staff: the company-wide recipients of account alerts."""
    query = select(Employee).where(col(Employee.role).in_(("hr", "finance")))
    return session.exec(query.order_by(Employee.employee_id)).all()


def locale_for(session: Session, employee: Employee, default: str) -> str:
    """The reply language: the user's `lang` choice, else the imported locale, else the default."""
    preference = session.get(UserPreference, employee.employee_id)
    if preference is not None and preference.locale:
        return preference.locale
    return employee.locale or default


def set_locale(session: Session, employee_id: str, locale: str) -> None:
    preference = session.get(UserPreference, employee_id) or UserPreference(employee_id=employee_id)
    preference.locale = locale
    session.add(preference)
