"""The contribution ledger: the period's dues computed per employee and scheme, and stored.

Running a period again before its due date replaces it, so a re-run leaves the same ledger.
After the due date what was owed then is kept: the employee lines show the new computation,
the account's total becomes what the period owes now, and the difference is a
`LedgerAdjustment` (补差) due on the policy's next regular due date, so a back-dated band
causes no false late fee. Every change is written to the audit log (storage.audit).
Employees are streamed in chunks: 100,000 of them never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Protocol, cast

from sqlalchemy import BigInteger, Table, delete, func, or_, type_coerce
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from core.contributions import AccountRules, account_rules
from core.deadlines import adjustment_due_date, due_date
from core.money import from_cents
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.audit import record_audit
from storage.bulk import BulkInsert
from storage.employees import Person
from storage.models import AccountDue, Employee, LedgerAdjustment, LedgerLine, Payment
from storage.salaries import salary_in_force

_CHUNK = 5000
_LEDGER: Table = LedgerLine.__table__  # type: ignore[attr-defined]
_LINE_COLUMNS = ("employee_id", "account_id", "period", "scheme", "base", "employer", "employee")
ZERO = Decimal("0.00")
_Owing = tuple[str, str, int]
"""`(employee_id, account_id, salary in cents)` as `_owing` selects them."""


class _Audit(Protocol):
    def __call__(self, *, action: str, detail: str) -> object: ...


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


def owes_dues(employee: Person, period: Period) -> bool:
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
    today: date | None = None,
    actor: str = "dues",
    via: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DuesRun:
    """Compute and store the period's ledger and account totals (idempotent).

    `today` (default: `now`'s date) decides whether an account's period is past its due
    date; `actor`/`via` say in the audit log who or which job ran it.

    The month-end hot path (bench `dues_100k`): employees are read as plain columns (the
    salary as its stored cents), each account's rules are resolved once, the lines are
    computed in integer cents (`AccountRules.cents`) and go straight to the driver
    (`storage.bulk`) as the `Money` column stores them.
    """
    key = str(period)
    day = now.date() if today is None else today
    stored = {due.account_id: due for due in period_dues(session, period)}
    session.execute(delete(LedgerLine).where(col(LedgerLine.period) == key))
    totals = {
        account_id: AccountTotals(
            account_id=account_id,
            currency=account.currency,
            due_date=due_date(account.policy, period, due_day=account.settings.due_day),
        )
        for account_id, account in accounts.items()
    }
    owing = _owing(period)
    connection = session.connection()  # the delete above flushed the session
    count = 0
    if progress is not None:  # a scan of its own (0.03 s at 100,000 employees on SQLite)
        count = connection.execute(select(func.count()).select_from(owing.subquery())).scalar_one()
    write = BulkInsert(connection, _LEDGER, _LINE_COLUMNS)
    runs: dict[str, _AccountRun] = {}
    done = 0
    last_id = ""
    while True:
        values: list[str | int] = []  # the chunk's ledger rows, flat (`BulkInsert.flat`)
        employees = 0
        # Iterated, not fetched whole: each result row is gone before the garbage collector
        # sees it twice, so 5,000 of them never reach its oldest generation, whose full
        # collections cost the run 0.15 s of CPU at 100,000 employees (docs/PERFORMANCE.md).
        chunk = connection.execute(
            owing.where(col(Employee.employee_id) > last_id)
            .order_by(col(Employee.employee_id))
            .limit(_CHUNK)
        )
        # The driver's own cursor (DB-API cursors of both drivers iterate): the columns need no
        # result processing (the salary is its stored cents), and SQLAlchemy's row-by-row
        # fetch cost a third of reading them.
        for employee_id, account_id, salary in cast(Iterable[_Owing], chunk.cursor):
            run = runs.get(account_id)
            if run is None:
                # Resolved on first use: an account nobody is enrolled in is never checked.
                account = accounts[account_id]
                rules = account_rules(account.policy, account.settings, period)
                run = runs[account_id] = _AccountRun(rules, totals[account_id])
            # The run's sums and rows right here, not in a method of `_AccountRun`: a call
            # per employee and a tuple per line were 0.06 s of CPU at 100,000 employees.
            lines, employer, employee = run.cents(salary)
            run.employees += 1
            run.employer += employer
            run.employee += employee
            prefix = (employee_id, account_id, key)
            for line in lines:
                values += prefix
                values += line
            employees += 1
            last_id = employee_id
        chunk.close()
        if not employees:
            break
        write.flat(values)
        done += employees
        if progress is not None:
            progress(done, count)
    for run in runs.values():
        run.total()
    result = DuesRun(period=period)
    audit = partial(record_audit, session, at=now, actor=actor, via=via)
    for total in totals.values():
        before = stored.get(total.account_id)
        if before is None and total.employees == 0:
            continue
        if before is None:
            session.add(_account_due(total, key, now))
            audit(action="ledger.compute", detail=f"{total.account_id} {key}: {_sums(total)}")
        elif day <= before.due_date:
            _replace(session, before, total, now, audit)
        else:
            account = accounts[total.account_id]
            _adjust(session, before, total, account, now=now, today=day, audit=audit)
        if total.employees or (before is not None and day > before.due_date):
            result.accounts.append(total)
            result.employees += total.employees
    session.flush()
    return result


def _account_due(total: AccountTotals, key: str, now: datetime) -> AccountDue:
    return AccountDue(
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


def _sums(total: AccountTotals) -> str:
    return (
        f"{total.employees} employees, employer {total.employer_total}, "
        f"employee {total.employee_total}, total {total.total}, due {total.due_date}"
    )


def _replace(
    session: Session, before: AccountDue, total: AccountTotals, now: datetime, audit: _Audit
) -> None:
    """Before the due date a recomputation simply replaces the period (nothing was late yet)."""
    where = f"{total.account_id} {before.period}"
    if total.employees == 0:
        session.delete(before)
        audit(action="ledger.remove", detail=f"{where}: nobody owes dues any more")
        return
    changed = (before.total, before.due_date) != (total.total, total.due_date)
    _store(before, total, now)
    before.due_date = total.due_date
    if changed:
        audit(action="ledger.replace", detail=f"{where}: {_sums(total)} (before the due date)")


def _adjust(
    session: Session,
    before: AccountDue,
    total: AccountTotals,
    account: AccountPolicy,
    *,
    now: datetime,
    today: date,
    audit: _Audit,
) -> None:
    """After the due date the original stays owed from its date; the difference is due later."""
    difference = total.total - before.total
    total.due_date = before.due_date  # what the period keeps; adjustments have their own
    _store(before, total, now)
    if difference == ZERO:
        return
    due = adjustment_due_date(account.policy, today, due_day=account.settings.due_day)
    session.add(
        LedgerAdjustment(
            account_id=total.account_id,
            period=before.period,
            amount=difference,
            due_date=due,
            computed_on=today,
            computed_at=now,
        )
    )
    audit(
        action="ledger.adjust",
        detail=(
            f"{total.account_id} {before.period}: recomputed after the due date "
            f"{before.due_date}: {'+' if difference > ZERO else ''}{difference} due {due}; "
            f"now {_sums(total)}"
        ),
    )


def _store(row: AccountDue, total: AccountTotals, now: datetime) -> None:
    row.employees = total.employees
    row.employer_total = total.employer_total
    row.employee_total = total.employee_total
    row.total = total.total
    row.computed_at = now


def _owing(period: Period) -> Select[str, str, int]:
    """`_Owing` rows (the salary in force) of everyone `owes_dues` in
    `period`, as SQL."""
    salary = type_coerce(salary_in_force(period), BigInteger)  # the stored cents, no Decimal
    return select(col(Employee.employee_id), col(Employee.account_id), salary).where(
        col(Employee.enrolled_on).is_not(None),
        col(Employee.enrolled_on) <= period.last_day,
        or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= period.first_day),
    )


class _AccountRun:
    """One account's share of a dues run: its rules and sums in integer cents (`run_dues`
    adds each employee's)."""

    __slots__ = ("cents", "employee", "employees", "employer", "totals")

    def __init__(self, rules: AccountRules, totals: AccountTotals) -> None:
        self.cents = rules.cents
        self.totals = totals
        self.employees = self.employer = self.employee = 0

    def total(self) -> None:
        """Put the run's sums into the account's totals, as amounts."""
        self.totals.employees = self.employees
        self.totals.employer_total = from_cents(self.employer)
        self.totals.employee_total = from_cents(self.employee)


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


def void_period(
    session: Session, period: Period, *, now: datetime, actor: str, via: str | None = None
) -> int:
    """Remove a period's ledger (a mistyped `dues --period`); the number of accounts removed.

    Raises ValueError, changing nothing, when the period has no ledger or any payment was
    recorded against it: paid dues are history, not a typo.
    """
    key = str(period)
    dues = period_dues(session, period)
    if not dues:
        raise ValueError(f"{key} has no ledger to void")
    paid = session.exec(select(func.count()).where(col(Payment.period) == key)).one()
    if paid:
        raise ValueError(f"{key} has {paid} payment(s) recorded against it; not voided")
    for model in (LedgerLine, LedgerAdjustment, AccountDue):
        session.execute(delete(model).where(col(model.period) == key))
    accounts = ", ".join(due.account_id for due in dues)
    record_audit(
        session,
        at=now,
        actor=actor,
        action="ledger.void",
        detail=f"{key}: ledger removed for {accounts}",
        via=via,
    )
    return len(dues)
