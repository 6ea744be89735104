"""`coverwatch report dues`: the period's contribution ledger, per employee and scheme.

What finance pays and HR checks: every stored ledger line (the `dues` run's result) with the
employee's name and department, grouped by account with a bold subtotal row after each
account. The workbook adds an `Accounts` sheet with each account's due date and totals, as
`dues --json` reports them. Amounts are exact Decimals; each row carries its currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from sqlmodel import Session, col, select

from bot.reports.sheets import Column, Kind, Sheet
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.ledger import ZERO, employee_lines, period_dues
from storage.models import Employee, LedgerLine

LEDGER_COLUMNS = (
    Column("Row"),
    Column("Account"),
    Column("Currency"),
    Column("Employee ID"),
    Column("Name"),
    Column("Department"),
    Column("Scheme"),
    Column("Base", Kind.MONEY),
    Column("Employer", Kind.MONEY),
    Column("Employee", Kind.MONEY),
    Column("Total", Kind.MONEY),
)
ACCOUNT_COLUMNS = (
    Column("Account"),
    Column("Currency"),
    Column("Due date"),
    Column("Employees", Kind.INT),
    Column("Employer total", Kind.MONEY),
    Column("Employee total", Kind.MONEY),
    Column("Total", Kind.MONEY),
)


class NoDuesError(ValueError):
    """The period has no stored dues: `coverwatch dues --period` has not run for it."""


def dues_sheets(
    session: Session, period: Period, accounts: Mapping[str, AccountPolicy]
) -> list[Sheet]:
    """`Ledger` (lines and account subtotals) and `Accounts` (due dates and totals)."""
    dues = period_dues(session, period)
    if not dues:
        raise NoDuesError(
            f"no dues stored for {period}: run `coverwatch dues --period {period}` first"
        )
    by_account: dict[str, list[LedgerLine]] = defaultdict(list)
    for line in employee_lines(session, period):
        by_account[line.account_id].append(line)
    ids = {line.employee_id for lines in by_account.values() for line in lines}
    people = {
        e.employee_id: e
        for e in session.exec(select(Employee).where(col(Employee.employee_id).in_(ids)))
    }
    ledger = Sheet("Ledger", LEDGER_COLUMNS)
    for account_id in sorted(by_account):
        currency = accounts[account_id].currency
        employer = employee = ZERO
        for line in by_account[account_id]:
            person = people[line.employee_id]
            ledger.add(
                [
                    "line",
                    account_id,
                    currency,
                    line.employee_id,
                    person.name,
                    person.department,
                    line.scheme,
                    line.base,
                    line.employer,
                    line.employee,
                    line.employer + line.employee,
                ]
            )
            employer += line.employer
            employee += line.employee
        ledger.add(
            [
                "subtotal",
                account_id,
                currency,
                *[None] * 5,
                employer,
                employee,
                employer + employee,
            ],
            bold=True,
        )
    totals = Sheet("Accounts", ACCOUNT_COLUMNS)
    for due in dues:
        totals.add(
            [
                due.account_id,
                due.currency,
                due.due_date.isoformat(),
                due.employees,
                due.employer_total,
                due.employee_total,
                due.total,
            ]
        )
    return [ledger, totals]
