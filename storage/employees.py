"""Employee look-ups: identity from a chat platform, scope of a manager, reply language."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Protocol

from sqlalchemy import bindparam, or_
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from core.platforms import CONSOLE, PLATFORMS, platform_spec
from core.policy import AccountSettings
from storage.accounts import SETTINGS_COLUMNS, settings_of
from storage.driver import read
from storage.models import Account, Employee, UserPreference

ROLES = ("employee", "manager", "hr", "finance", "admin")
COMPANY_ROLES = frozenset({"hr", "finance", "admin"})
"""Roles that see company data (every account and employee)."""

PLATFORM_ID_COLUMNS: dict[str, Any] = {
    spec.name: getattr(Employee, spec.user_id_column) for spec in PLATFORMS
}
"""Each chat platform's `Employee` column of user ids, as the platform table names it."""


def get_employee(session: Session, employee_id: str) -> Employee | None:
    return session.get(Employee, employee_id)


def by_platform_user(session: Session, platform: str, user_id: str) -> Employee | None:
    """The employee behind a chat user; console and CLI users are their employee id."""
    column = PLATFORM_ID_COLUMNS.get(platform)
    if column is None:
        return session.get(Employee, user_id)
    return session.exec(select(Employee).where(column == user_id)).first()


class Person(Protocol):
    """What the rules read of an employee: a stored `Employee`, or the asker's `Asking`."""

    @property
    def employee_id(self) -> str: ...
    @property
    def department(self) -> str: ...
    @property
    def manager_id(self) -> str | None: ...
    @property
    def account_id(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def locale(self) -> str | None: ...
    @property
    def id_number(self) -> str | None: ...
    @property
    def enrolled_on(self) -> date | None: ...
    @property
    def leave_date(self) -> date | None: ...


@dataclass(frozen=True, kw_only=True)
class Asking:
    """The employee who wrote a chat message, as values: an `Employee` entity loaded through
    the ORM cost more than the statement that read it (docs/PERFORMANCE.md, chat_http)."""

    employee_id: str
    department: str
    manager_id: str | None
    account_id: str
    role: str
    locale: str | None
    id_number: str | None
    enrolled_on: date | None
    leave_date: date | None


@dataclass(frozen=True)
class Asker:
    """Who wrote a chat message, with what choosing their reply language needs."""

    employee: Asking
    chosen_locale: str | None
    """Their `lang` choice (`user_preference`), if any."""
    account: AccountSettings | None
    """Their account's settings (None: the account is not stored): a personal answer needs
    this one, not every account (`storage.accounts.account_policies`)."""


def asker(session: Session, platform: str, user_id: str) -> Asker | None:
    """`by_platform_user` and the look-ups made after it (their `lang` choice, their
    account) in one statement of columns: each round trip, and the ORM's work on an entity,
    was a tenth of a chat command's CPU (docs/PERFORMANCE.md, chat_http)."""
    query = _ASKERS.get(platform, _ASKER_BY_EMPLOYEE_ID)
    rows = read(session, query, {"user_id": user_id})  # on PostgreSQL's driver
    if not rows:
        return None
    row = rows[0]
    employee = Asking(**dict(zip(_ASKING, row, strict=False)))
    chosen, stored = row[len(_ASKING)], row[len(_ASKING) + 1 :]
    account = None if stored[0] is None else settings_of(stored)
    return Asker(employee, chosen, account)


_ASKING = tuple(field.name for field in fields(Asking))


def _asker_by(column: Any) -> Any:
    """Built once per platform: building the statement cost more than running it."""
    employee = Employee.__table__.c  # type: ignore[attr-defined]
    return (
        core_select(
            *(employee[name] for name in _ASKING),
            col(UserPreference.locale).label("chosen_locale"),
            *SETTINGS_COLUMNS,
        )
        .outerjoin(UserPreference, col(UserPreference.employee_id) == Employee.employee_id)
        .outerjoin(Account, col(Account.id) == Employee.account_id)
        .where(column == bindparam("user_id"))
        .limit(1)
    )


_ASKERS = {platform: _asker_by(column) for platform, column in PLATFORM_ID_COLUMNS.items()}
_ASKER_BY_EMPLOYEE_ID = _asker_by(Employee.employee_id)


def platform_address(employee: Employee, platform: str) -> str | None:
    """Where to reach a person on a platform: their user id there (None when they have
    none), or their employee id on the console."""
    if platform == CONSOLE:
        return employee.employee_id
    spec = platform_spec(platform)
    address = getattr(employee, spec.user_id_column) if spec is not None else None
    return str(address) if address else None


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
    return chosen_locale(preference.locale if preference else None, employee, default)


def chosen_locale(preference: str | None, employee: Employee, default: str) -> str:
    """`locale_for` once the `lang` choice is known (`preferred_locales` reads them all)."""
    return preference or employee.locale or default


def preferred_locales(session: Session) -> dict[str, str]:
    """Every `lang` choice by employee id, in one query: a notice to thousands of people
    asks once, not once per person."""
    query = select(UserPreference.employee_id, UserPreference.locale).where(
        col(UserPreference.locale).is_not(None)
    )
    return {employee_id: str(locale) for employee_id, locale in session.exec(query)}


def set_locale(session: Session, employee_id: str, locale: str) -> None:
    preference = session.get(UserPreference, employee_id) or UserPreference(employee_id=employee_id)
    preference.locale = locale
    session.add(preference)
