"""Base history: which salary (缴费基数 before clamping) is in force for an employee in a month.

Dues for a period use the salary in force then, so a raise imported today never rewrites a
month already computed. The rule lives here alone: the latest `salary_history` row from on or
before the period, else the employee's `salary` (employees imported before history existed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from sqlalchemy import ColumnElement, Table, func, select, update
from sqlmodel import Session, col

from core.periods import Period
from storage.bulk import BulkInsert, DriverRow, driver_row
from storage.key_lists import among
from storage.models import Employee, SalaryHistory

_HISTORY: Table = SalaryHistory.__table__  # type: ignore[attr-defined]
_HISTORY_COLUMNS = ("employee_id", "effective_from", "salary")

SalaryChange = tuple[str, str, Decimal]
"""`(employee_id, effective_from YYYY-MM, salary)`."""


def salary_in_force(period: Period) -> ColumnElement[Decimal]:
    """SQL for each `Employee` row's salary in force in `period` (a correlated sub-select)."""
    history = (
        select(col(SalaryHistory.salary))
        .where(
            col(SalaryHistory.employee_id) == col(Employee.employee_id),
            col(SalaryHistory.effective_from) <= str(period),
        )
        .order_by(col(SalaryHistory.effective_from).desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(history, col(Employee.salary)).label("salary")


def salary_for(session: Session, employee_id: str, period: Period) -> Decimal | None:
    """One employee's salary in force in `period` (None for an unknown employee)."""
    query = select(salary_in_force(period)).where(col(Employee.employee_id) == employee_id)
    found: Decimal | None = session.execute(query).scalar_one_or_none()
    return found


def history_months(session: Session, employee_ids: Iterable[str]) -> dict[tuple[str, str], Decimal]:
    """Stored `(employee_id, effective_from) -> salary` for these employees."""
    ids = list(employee_ids)
    rows: dict[tuple[str, str], Decimal] = {}
    dialect = session.get_bind().dialect
    for start in range(0, len(ids), 5000):
        query = select(
            col(SalaryHistory.employee_id),
            col(SalaryHistory.effective_from),
            col(SalaryHistory.salary),
        ).where(among(_HISTORY.c.employee_id, ids[start : start + 5000], dialect))
        for employee_id, month, salary in session.execute(query):
            rows[employee_id, month] = salary
    return rows


def record_salaries(
    session: Session,
    changes: Iterable[SalaryChange],
    existing: Mapping[tuple[str, str], Decimal],
) -> None:
    """Insert or update history rows; `existing` is what `history_months` found for them."""
    new: list[DriverRow] = []
    changed: list[tuple[str, str, Decimal]] = []
    connection = session.connection()
    to_row = driver_row(_HISTORY, _HISTORY_COLUMNS, connection.dialect)
    for employee_id, month, salary in changes:
        stored = existing.get((employee_id, month))
        if stored is None:
            new.append(
                to_row({"employee_id": employee_id, "effective_from": month, "salary": salary})
            )
        elif stored != salary:
            changed.append((employee_id, month, salary))
    # Straight to the driver: an import writes a history row per new employee, and the ORM's
    # insert (which also fetches each new id) cost more than the rows (docs/PERFORMANCE.md).
    BulkInsert(connection, _HISTORY, _HISTORY_COLUMNS)(new)
    for employee_id, month, salary in changed:
        session.execute(
            update(SalaryHistory)
            .where(
                col(SalaryHistory.employee_id) == employee_id,
                col(SalaryHistory.effective_from) == month,
            )
            .values(salary=salary)
        )
