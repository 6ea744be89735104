"""The contribution ledger: the period's dues computed per employee and scheme, and stored.

A dues run replaces the period's rows in one transaction, so running it twice leaves the same
ledger. Employees are streamed in chunks: 100,000 of them never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert
from sqlmodel import Session, col, select

from core.contributions import contribution
from core.deadlines import due_date
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.models import AccountDue, Employee, LedgerLine

_CHUNK = 2000
ZERO = Decimal("0.00")


@dataclass
class AccountTotals:
    account_id: str
    currency: str
    due_date: date
    employees: int = 0
    employer_total: Decimal = ZERO
    employee_total: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.employer_total + self.employee_total


@dataclass
class DuesRun:
    period: Period
    accounts: list[AccountTotals] = field(default_factory=list)
    employees: int = 0


def owes_dues(employee: Employee, period: Period) -> bool:
    """Dues are owed for an enrolled employee from the enrolment month to the leaving month."""
    if employee.enrolled_on is None or employee.enrolled_on > period.last_day:
        return False
    return employee.leave_date is None or employee.leave_date >= period.first_day


def run_dues(
    session: Session,
    period: Period,
    accounts: Mapping[str, AccountPolicy],
    *,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> DuesRun:
    """Compute and store the period's ledger and account totals (idempotent)."""
    key = str(period)
    session.execute(delete(LedgerLine).where(col(LedgerLine.period) == key))
    session.execute(delete(AccountDue).where(col(AccountDue.period) == key))
    totals = {
        account_id: AccountTotals(
            account_id=account_id,
            currency=account.currency,
            due_date=due_date(account.policy, period, due_day=account.settings.due_day),
        )
        for account_id, account in accounts.items()
    }
    candidates = select(Employee).where(
        col(Employee.enrolled_on).is_not(None), col(Employee.enrolled_on) <= period.last_day
    )
    count = session.exec(select(func.count()).select_from(candidates.subquery())).one()
    done = 0
    last_id = ""
    while True:
        chunk = session.exec(
            candidates.where(Employee.employee_id > last_id)
            .order_by(Employee.employee_id)
            .limit(_CHUNK)
        ).all()
        if not chunk:
            break
        rows: list[dict[str, object]] = []
        for employee in chunk:
            if not owes_dues(employee, period):
                continue
            account = accounts[employee.account_id]
            result = contribution(account.policy, account.settings, employee.salary, period)
            total = totals[employee.account_id]
            total.employees += 1
            total.employer_total += result.employer_total
            total.employee_total += result.employee_total
            rows.extend(
                {
                    "employee_id": employee.employee_id,
                    "account_id": employee.account_id,
                    "period": key,
                    "scheme": str(line.scheme),
                    "base": line.base,
                    "employer": line.employer,
                    "employee": line.employee,
                }
                for line in result.lines
            )
        if rows:
            session.execute(insert(LedgerLine), rows)
        last_id = chunk[-1].employee_id
        done += len(chunk)
        session.expunge_all()
        if progress is not None:
            progress(done, count)
    run = DuesRun(period=period)
    for total in totals.values():
        if total.employees == 0:
            continue
        session.add(
            AccountDue(
                account_id=total.account_id,
                period=key,
                currency=total.currency,
                due_date=total.due_date,
                employees=total.employees,
                employer_total=total.employer_total,
                employee_total=total.employee_total,
                total=total.total,
                computed_at=now,
            )
        )
        run.accounts.append(total)
        run.employees += total.employees
    session.flush()
    return run


def period_dues(session: Session, period: Period) -> Sequence[AccountDue]:
    query = select(AccountDue).where(AccountDue.period == str(period))
    return session.exec(query.order_by(AccountDue.account_id)).all()


def all_dues(session: Session, account_id: str | None = None) -> Sequence[AccountDue]:
    query = select(AccountDue)
    if account_id is not None:
        query = query.where(AccountDue.account_id == account_id)
    return session.exec(query.order_by(AccountDue.period, AccountDue.account_id)).all()


def employee_lines(
    session: Session, period: Period, employee_id: str | None = None
) -> Sequence[LedgerLine]:
    """Ledger lines of a period (one employee's, or everyone's ordered by employee)."""
    query = select(LedgerLine).where(LedgerLine.period == str(period))
    if employee_id is not None:
        query = query.where(LedgerLine.employee_id == employee_id)
    return session.exec(query.order_by(LedgerLine.employee_id, LedgerLine.id)).all()


def latest_period(session: Session) -> Period | None:
    latest = session.exec(select(func.max(AccountDue.period))).one()
    return Period.parse(latest) if latest else None
