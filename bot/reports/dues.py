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
from handlers.i18n import has_key, translate
from storage.accounts import AccountPolicy
from storage.ledger import ZERO, employee_lines, period_dues
from storage.models import Employee, LedgerLine

LEDGER_COLUMNS = (
    ("row", Kind.TEXT),
    ("account", Kind.TEXT),
    ("currency", Kind.TEXT),
    ("employee_id", Kind.TEXT),
    ("name", Kind.TEXT),
    ("department", Kind.TEXT),
    ("scheme", Kind.TEXT),
    ("base", Kind.MONEY),
    ("employer", Kind.MONEY),
    ("employee", Kind.MONEY),
    ("total", Kind.MONEY),
)
ACCOUNT_COLUMNS = (
    ("account", Kind.TEXT),
    ("account_name", Kind.TEXT),
    ("currency", Kind.TEXT),
    ("due_date", Kind.TEXT),
    ("employees", Kind.INT),
    ("employer_total", Kind.MONEY),
    ("employee_total", Kind.MONEY),
    ("total", Kind.MONEY),
)


def columns(locale: str, spec: tuple[tuple[str, Kind], ...]) -> list[Column]:
    """Columns with headers from the `report.*` catalog in `locale`."""
    return [
        Column(translate(locale, f"report.{key}"), kind, holds_currency=key == "currency")
        for key, kind in spec
    ]


def scheme_name(locale: str, scheme: str) -> str:
    """A scheme's name as the chat shows it; a region's own scheme without one keeps its id."""
    key = f"scheme.{scheme}"
    return translate(locale, key) if has_key(key) else scheme


class NoDuesError(ValueError):
    """The period has no stored dues: `coverwatch dues --period` has not run for it."""


def dues_sheets(
    session: Session, period: Period, accounts: Mapping[str, AccountPolicy], locale: str
) -> list[Sheet]:
    """`Ledger` (lines and account subtotals) and `Accounts` (due dates and totals), with
    headers, sheet names and scheme names in `locale`."""
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
    line_label, subtotal_label = (translate(locale, f"report.{k}") for k in ("line", "subtotal"))
    ledger = Sheet(translate(locale, "report.ledger"), columns(locale, LEDGER_COLUMNS))
    for account_id in sorted(by_account):
        currency = accounts[account_id].currency
        employer = employee = ZERO
        for line in by_account[account_id]:
            person = people[line.employee_id]
            ledger.add(
                [
                    line_label,
                    account_id,
                    currency,
                    line.employee_id,
                    person.name,
                    person.department,
                    scheme_name(locale, line.scheme),
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
                subtotal_label,
                account_id,
                currency,
                *[None] * 5,
                employer,
                employee,
                employer + employee,
            ],
            bold=True,
        )
    totals = Sheet(translate(locale, "report.accounts"), columns(locale, ACCOUNT_COLUMNS))
    for due in dues:
        account = accounts.get(due.account_id)
        totals.add(
            [
                due.account_id,
                account.policy.name if account is not None else due.account_id,
                due.currency,
                due.due_date.isoformat(),
                due.employees,
                due.employer_total,
                due.employee_total,
                due.total,
            ]
        )
    return [ledger, totals]
