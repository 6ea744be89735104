"""Ledger look-ups beyond `storage.ledger`: which period a question means, an employee's
latest period and base, the report.

The dues report reads a period's ledger as a stream (`yield_per`: `fetchmany` chunks on
SQLite, a server-side cursor on PostgreSQL), so a million lines never sit in memory, and takes
each account's subtotal from SQL rather than adding the lines up in Python. Its amounts stay
the integer cents stored: no Decimal is made for a line only to be written as text.

Chat defaults (`缴费明细`, `待缴`, `kpi`) use the latest period that is due or due next, never a
future one: a period computed ahead (or mistyped, `dues --period 2030-01 --force`) must not
become everyone's answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import BigInteger, cast, func, type_coerce
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from core.deadlines import next_due_period
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.models import AccountDue, Employee, LedgerLine

REPORT_CHUNK = 2000
"""Ledger lines fetched per round trip by `report_lines`."""
ReportLine = tuple[str, str, str, str, str, int, int, int]
"""`(account_id, employee_id, name, department, scheme, base, employer, employee)`, amounts in
integer cents."""

BASE_SCHEME = "pension"
"""The base people mean by "my base": the pension line's clamped base, the band most payroll
staff check; an employee without a pension line (Hong Kong MPF) has their first line's base."""


def latest_due_period(
    session: Session,
    today: date,
    accounts: Mapping[str, AccountPolicy],
    account_id: str | None = None,
) -> Period | None:
    """The latest stored period that is due on `today` or falls due next for its account's
    policy; periods computed further ahead are never a default."""
    query = select(col(AccountDue.account_id), func.max(AccountDue.period))
    bounds = {
        key: next_due_period(a.policy, today, due_day=a.settings.due_day)
        for key, a in accounts.items()
        if account_id is None or key == account_id
    }
    found = []
    for key, bound in bounds.items():
        latest = session.exec(
            query.where(
                col(AccountDue.account_id) == key, col(AccountDue.period) <= str(bound)
            ).group_by(col(AccountDue.account_id))
        ).first()
        if latest is not None:
            found.append(latest[1])
    return Period.parse(max(found)) if found else None


def latest_employee_period(
    session: Session, employee_id: str, through: Period | None = None
) -> Period | None:
    """The newest period with ledger lines for this employee, up to `through` if given (None
    before their first run)."""
    query = select(func.max(LedgerLine.period)).where(LedgerLine.employee_id == employee_id)
    if through is not None:
        query = query.where(col(LedgerLine.period) <= str(through))
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


def report_lines(session: Session, period: Period) -> Iterator[Sequence[ReportLine]]:
    """The period's ledger lines with each employee's name, by account, employee, line id, in
    chunks of `REPORT_CHUNK` (a row at a time costs SQLAlchemy's per-row iteration).

    PostgreSQL plans the server-side cursor as it plans the plain query: no index gives the
    account order, so a sort of the period's lines is at the top of both, and the cursor's
    fast-start costing (`cursor_tuple_fraction`) finds nothing faster to start. Measured at
    1M employees (docs/PERFORMANCE.md, session 6): the backend's share is ~3 % of the report's
    CPU and grows 1.2x per line from 100k (the sort), so neither a setting nor an ordering
    index (1.3x, and a cost on every `dues` write) is used.
    """
    query = (
        select_rows(
            col(LedgerLine.account_id),
            col(LedgerLine.employee_id),
            col(Employee.name),
            col(Employee.department),
            col(LedgerLine.scheme),
            # the stored cents, without `Money`'s Decimal
            type_coerce(col(LedgerLine.base), BigInteger),
            type_coerce(col(LedgerLine.employer), BigInteger),
            type_coerce(col(LedgerLine.employee), BigInteger),
        )
        .join(Employee, col(Employee.employee_id) == col(LedgerLine.employee_id))
        .where(col(LedgerLine.period) == str(period))
        .order_by(col(LedgerLine.account_id), col(LedgerLine.employee_id), col(LedgerLine.id))
        .execution_options(yield_per=REPORT_CHUNK)
    )
    yield from session.connection().execute(query).partitions()


def ledger_employees(session: Session, period: Period) -> list[str]:
    """Everyone with a ledger line in the period (the people a ledger report shows)."""
    query = (
        select(col(LedgerLine.employee_id))
        .where(col(LedgerLine.period) == str(period))
        .distinct()
        .order_by(col(LedgerLine.employee_id))
    )
    return list(session.exec(query).all())


class Subtotal(NamedTuple):
    employer: int
    employee: int
    """Sums in integer cents, as `report_lines` gives the lines."""
    lines: int


def account_subtotals(session: Session, period: Period) -> dict[str, Subtotal]:
    """Each account's employer and employee sums and line count in the period, from SQL."""
    query = (
        select_rows(
            col(LedgerLine.account_id),
            # integer cents on both databases (PostgreSQL sums a bigint as numeric)
            cast(func.sum(LedgerLine.employer), BigInteger),
            cast(func.sum(LedgerLine.employee), BigInteger),
            func.count(),
        )
        .where(col(LedgerLine.period) == str(period))
        .group_by(col(LedgerLine.account_id))
    )
    return {
        account: Subtotal(employer, employee, lines)
        for account, employer, employee, lines in session.connection().execute(query)
    }
