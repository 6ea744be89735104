"""The contribution ledger: the period's dues computed per employee and scheme, and stored.

A dues run replaces the period's rows in one transaction, so running it twice leaves the same
ledger. Employees are streamed in chunks: 100,000 of them never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Table, delete, func, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from core.contributions import AccountRules, Amounts, account_rules
from core.deadlines import due_date
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.bulk import BulkInsert
from storage.models import AccountDue, Employee, LedgerLine
from storage.types import to_cents

_CHUNK = 5000
_LEDGER: Table = LedgerLine.__table__  # type: ignore[attr-defined]
_LINE_COLUMNS = ("employee_id", "account_id", "period", "scheme", "base", "employer", "employee")
ZERO = Decimal("0.00")
_Line = tuple[str, int, int, int]
"""`(scheme, base, employer, employee)` in integer cents."""
_Row = tuple[str, str, str, str, int, int, int]
"""A `ledger_line` row in `_LINE_COLUMNS` order."""


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
    account's rules are resolved once, and ledger rows go straight to the driver
    (`storage.bulk`) as integer cents by `storage.types.to_cents`, the `Money` column's rule.
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
    connection = session.connection()  # the deletes above flushed the session
    count = connection.execute(select(func.count()).select_from(owing.subquery())).scalar_one()
    write = BulkInsert(connection, _LEDGER, _LINE_COLUMNS)
    runs: dict[str, _AccountRun] = {}
    done = 0
    last_id = ""
    while True:
        chunk = connection.execute(
            owing.where(col(Employee.employee_id) > last_id)
            .order_by(col(Employee.employee_id))
            .limit(_CHUNK)
        ).all()
        if not chunk:
            break
        rows: list[_Row] = []
        for employee_id, account_id, salary in chunk:
            run = runs.get(account_id)
            if run is None:
                # Resolved on first use: an account nobody is enrolled in is never checked.
                account = accounts[account_id]
                rules = account_rules(account.policy, account.settings, period)
                run = runs[account_id] = _AccountRun(rules, totals[account_id])
            run.add(employee_id, salary, rows)
        write(rows)
        last_id = chunk[-1][0]
        done += len(chunk)
        if progress is not None:
            progress(done, count)
    result = DuesRun(period=period)
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
        result.accounts.append(total)
        result.employees += total.employees
    session.flush()
    return result


def _owing(period: Period) -> Select[str, str, Decimal]:
    """`(employee_id, account_id, salary)` of everyone `owes_dues` in `period`, as SQL."""
    return select(col(Employee.employee_id), col(Employee.account_id), col(Employee.salary)).where(
        col(Employee.enrolled_on).is_not(None),
        col(Employee.enrolled_on) <= period.last_day,
        or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= period.first_day),
    )


class _AccountRun:
    """One account's share of a dues run: its rules, its totals, and ledger rows in cents.

    From the rules' `cap` up every salary owes the same lines, so those are converted once.
    """

    def __init__(self, rules: AccountRules, totals: AccountTotals) -> None:
        self.rules = rules
        self.totals = totals
        self.key = str(rules.period)
        self.capped = _in_cents(rules.amounts(rules.cap))

    def add(self, employee_id: str, salary: Decimal, rows: list[_Row]) -> None:
        """Count the employee in the totals and append their ledger rows."""
        if salary >= self.rules.cap:
            lines, employer, employee = self.capped
        else:
            lines, employer, employee = _in_cents(self.rules.amounts(salary))
        self.totals.employees += 1
        self.totals.employer_total += employer
        self.totals.employee_total += employee
        account_id, key = self.totals.account_id, self.key
        rows.extend((employee_id, account_id, key, *line) for line in lines)


def _in_cents(amounts: tuple[Amounts, ...]) -> tuple[list[_Line], Decimal, Decimal]:
    """`(scheme, base, employer, employee)` lines as stored (`to_cents`), with their totals."""
    lines: list[_Line] = []
    employer_total = employee_total = ZERO
    for scheme, base, employer, employee in amounts:
        lines.append((str(scheme), to_cents(base), to_cents(employer), to_cents(employee)))
        employer_total += employer
        employee_total += employee
    return lines, employer_total, employee_total


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
