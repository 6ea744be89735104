"""The contribution ledger: the period's dues computed per employee and scheme, and stored.

A dues run replaces the period's rows in one transaction, so running it twice leaves the same
ledger. Employees are streamed in chunks: 100,000 of them never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import delete, func, or_
from sqlalchemy.engine import Dialect
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from core.contributions import AccountRules, account_rules
from core.deadlines import due_date
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.models import AccountDue, Employee, LedgerLine
from storage.types import to_cents

_CHUNK = 5000
_LINE_COLUMNS = ("employee_id", "account_id", "period", "scheme", "base", "employer", "employee")
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
    """Compute and store the period's ledger and account totals (idempotent).

    The month-end hot path (bench `dues_100k`): employees are read as plain columns, each
    account's rules are resolved once, and ledger rows go to the driver's `executemany` as
    integer cents (`storage.types.to_cents`, the rule the `Money` column applies).
    """
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
    owing = _owing(period)
    count = session.execute(select(func.count()).select_from(owing.subquery())).scalar_one()
    connection = session.connection()
    insert_lines = _insert_lines_sql(connection.dialect)
    rules: dict[str, AccountRules] = {}
    done = 0
    last_id = ""
    while True:
        chunk = session.execute(
            owing.where(col(Employee.employee_id) > last_id)
            .order_by(col(Employee.employee_id))
            .limit(_CHUNK)
        ).all()
        if not chunk:
            break
        rows: list[tuple[str | int, ...]] = []
        for employee_id, account_id, salary in chunk:
            if account_id not in rules:
                # Resolved on first use: an account nobody is enrolled in is never checked.
                account = accounts[account_id]
                rules[account_id] = account_rules(account.policy, account.settings, period)
            result = rules[account_id].dues(salary)
            total = totals[account_id]
            total.employees += 1
            total.employer_total += result.employer_total
            total.employee_total += result.employee_total
            rows.extend(
                (
                    employee_id,
                    account_id,
                    key,
                    str(line.scheme),
                    to_cents(line.base),
                    to_cents(line.employer),
                    to_cents(line.employee),
                )
                for line in result.lines
            )
        if rows:
            connection.exec_driver_sql(insert_lines, rows)
        last_id = chunk[-1][0]
        done += len(chunk)
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


def _owing(period: Period) -> Select[str, str, Decimal]:
    """`(employee_id, account_id, salary)` of everyone `owes_dues` in `period`, as SQL."""
    return select(col(Employee.employee_id), col(Employee.account_id), col(Employee.salary)).where(
        col(Employee.enrolled_on).is_not(None),
        col(Employee.enrolled_on) <= period.last_day,
        or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= period.first_day),
    )


def _insert_lines_sql(dialect: Dialect) -> str:
    """The ledger INSERT in the driver's placeholder style (its executemany takes it as is)."""
    # sqlite3 is "qmark" (`?`); psycopg is "pyformat", which accepts plain `%s` too (PEP 249).
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO {LedgerLine.__tablename__} ({', '.join(_LINE_COLUMNS)})"
        f" VALUES ({', '.join(mark for _ in _LINE_COLUMNS)})"
    )


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
    return session.exec(query.order_by(col(LedgerLine.employee_id), col(LedgerLine.id))).all()


def latest_period(session: Session) -> Period | None:
    latest = session.exec(select(func.max(AccountDue.period))).one()
    return Period.parse(latest) if latest else None
