"""KPI figures per month, for the company, each account and each department, with history.

`core.kpis` holds the formulas; this module only picks each month's rows per scope, so the chat
summary, the reports, the chart, the digest and the KPI alerts all read the same numbers.
Scopes follow the chat's rule (`storage.alerts.in_scope`): a department is measured on the
accounts its people are insured on, its own hires, and the alerts about it, its people or
those accounts. A month's hires are the people hired in it; its alerts those opened in it.

Money is about the month's dues, evaluated on the report day: `arrears` is principal still
unpaid after the due date, `late_fees_accrued` every late fee the dues have cost so far,
`late_fees_paid` the late-fee payments received (`kind = "late_fee"`), `late_fees_accruing`
the accrued fee not paid yet. A
department's money is its share of each account's dues, pro rata to its people's ledger lines:
the account pays, not the department.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session, col, select

from core.kpis import AlertAck, Hire, KpiSummary, PeriodPayment, summarize
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.kpi_types import ZERO, KpiReport, KpiRow, Money, View
from storage.models import Employee, LedgerLine
from storage.payments import AccountPeriod, account_periods
from storage.queries_kpi import alerts_opened_between, hires_between

_IN_CHUNK = 5000
"""Ids per `IN (…)` list, well within SQLite's and psycopg's parameter limits."""


@dataclass(frozen=True)
class _Alert:
    ack: AlertAck
    period: Period
    accounts: frozenset[str]
    departments: frozenset[str]


def _money(item: AccountPeriod, today: date, account: AccountPolicy | None) -> Money:
    late = item.due_date < today and not item.fully_paid
    return Money(
        account=item.account_id,
        currency=item.currency,
        arrears=item.outstanding if late else ZERO,
        late_fees_accrued=item.late_fee,
        late_fees_paid=item.late_fee_paid,
        late_fees_accruing=item.late_fee_outstanding,
        estimated=account is not None and bool(account.estimates(item.period)),
    )


def _payment(item: AccountPeriod) -> PeriodPayment:
    return PeriodPayment(
        account=item.account_id,
        period=item.period,
        due_date=item.due_date,
        computed=item.total,
        paid=item.paid,
        paid_in_full_on=item.paid_in_full_on,
    )


def _department_dues(
    session: Session, first: Period, last: Period
) -> dict[tuple[str, str, Period], Decimal]:
    """(department, account, period) -> the department's people's ledger total."""
    query = (
        select_rows(
            col(Employee.department),
            col(LedgerLine.account_id),
            col(LedgerLine.period),
            func.sum(LedgerLine.employer),
            func.sum(LedgerLine.employee),
        )
        .join(Employee, col(Employee.employee_id) == col(LedgerLine.employee_id))
        .where(col(LedgerLine.period) >= str(first), col(LedgerLine.period) <= str(last))
        .group_by(Employee.department, LedgerLine.account_id, LedgerLine.period)
    )
    return {
        (department, account, Period.parse(period)): employer + employee
        for department, account, period, employer, employee in session.execute(query)
    }


def _alerts(
    session: Session,
    first: Period,
    last: Period,
    zone: ZoneInfo,
    department_accounts: Mapping[str, set[str]],
) -> list[_Alert]:
    start = datetime.combine(first.first_day, time(), zone)
    end = datetime.combine(last.next().first_day, time(), zone)
    opened_alerts = alerts_opened_between(session, start, end)
    people = _subjects(session, {a.employee_id for a in opened_alerts if a.employee_id})
    found = []
    for alert in opened_alerts:
        subject_department, subject_account = people.get(alert.employee_id or "", ("", ""))
        account = alert.account_id or subject_account
        if alert.department:
            departments = {alert.department}
        elif subject_department:
            departments = {subject_department}
        else:
            departments = {d for d, ids in department_accounts.items() if account in ids}
        opened = alert.opened_at
        found.append(
            _Alert(
                ack=AlertAck(
                    account=account or None,
                    department=None,
                    opened_at=opened,
                    acknowledged_at=alert.acknowledged_at,
                ),
                period=Period.of(opened.astimezone(zone).date()),
                accounts=frozenset({account} if account else ()),
                departments=frozenset(departments),
            )
        )
    return found


def _subjects(session: Session, employee_ids: set[str]) -> dict[str, tuple[str, str]]:
    """employee id -> (department, account) of the people alerts are about (not everyone)."""
    ids = sorted(employee_ids)
    people: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = select(Employee.employee_id, Employee.department, Employee.account_id).where(
            col(Employee.employee_id).in_(ids[start : start + _IN_CHUNK])
        )
        people.update((e, (d, a)) for e, d, a in session.exec(query))
    return people


def _department_accounts(session: Session) -> dict[str, set[str]]:
    """department -> the accounts its people are insured on (from SQL, not every employee)."""
    query = (
        select(Employee.department, Employee.account_id)
        .where(col(Employee.department) != "")
        .distinct()
    )
    found: dict[str, set[str]] = defaultdict(set)
    for department, account in session.exec(query):
        found[department].add(account)
    return found


def gather(
    session: Session,
    accounts: Mapping[str, AccountPolicy],
    *,
    period: Period,
    months: int,
    as_of: datetime,
    sla_minutes: int,
    timezone: ZoneInfo,
) -> KpiReport:
    """The report for `period` and the `months - 1` months before it, evaluated at `as_of`."""
    window = tuple(period.shift(offset) for offset in range(1 - months, 1))
    first = window[0]
    today = as_of.astimezone(timezone).date()
    dues = [p for p in account_periods(session, accounts, today) if first <= p.period <= period]
    department_accounts = _department_accounts(session)
    shares = _department_dues(session, first, period)
    hires = hires_between(session, first.first_day, period.last_day)
    alerts = _alerts(session, first, period, timezone, department_accounts)

    def summary(
        items: Iterable[AccountPeriod], hired: Iterable[Hire], acks: Iterable[_Alert]
    ) -> KpiSummary:
        return summarize(
            [_payment(item) for item in items],
            list(hired),
            [alert.ack for alert in acks],
            as_of=as_of,
            sla_minutes=sla_minutes,
        )

    rows: list[KpiRow] = []
    for month in window:
        month_dues = [item for item in dues if item.period == month]
        month_hires = [hire for hire in hires if Period.of(hire.hire_date) == month]
        month_alerts = [alert for alert in alerts if alert.period == month]
        money = {
            item.account_id: _money(item, today, accounts.get(item.account_id))
            for item in month_dues
        }
        rows.append(
            KpiRow(
                view=View.COMPANY,
                name="",
                period=month,
                kpis=summary(month_dues, month_hires, month_alerts),
                money=tuple(money.values()),
            )
        )
        for account in accounts:
            rows.append(
                KpiRow(
                    view=View.ACCOUNT,
                    name=account,
                    period=month,
                    kpis=summary(
                        (item for item in month_dues if item.account_id == account),
                        (hire for hire in month_hires if hire.account == account),
                        (alert for alert in month_alerts if account in alert.accounts),
                    ),
                    money=tuple(m for m in money.values() if m.account == account),
                )
            )
        for department in sorted(department_accounts):
            ids = department_accounts[department]
            rows.append(
                KpiRow(
                    view=View.DEPARTMENT,
                    name=department,
                    period=month,
                    kpis=summary(
                        (item for item in month_dues if item.account_id in ids),
                        (hire for hire in month_hires if hire.department == department),
                        (alert for alert in month_alerts if department in alert.departments),
                    ),
                    money=_shares(money, month_dues, shares, department, month),
                )
            )
    return KpiReport(
        period=period,
        months=window,
        as_of=as_of,
        today=today,
        sla_minutes=sla_minutes,
        rows=tuple(rows),
    )


def _shares(
    money: Mapping[str, Money],
    month_dues: Sequence[AccountPeriod],
    shares: Mapping[tuple[str, str, Period], Decimal],
    department: str,
    month: Period,
) -> tuple[Money, ...]:
    result = []
    for item in month_dues:
        owed = shares.get((department, item.account_id, month))
        if owed is not None and item.total > ZERO:
            result.append(money[item.account_id].scaled(owed / item.total))
    return tuple(result)
