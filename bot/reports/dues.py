"""`coverwatch report dues`: the period's contribution ledger, per employee and scheme.

What finance pays and HR checks: every stored ledger line (the `dues` run's result) with the
employee's name and department, grouped by account with a bold subtotal row after each
account. The workbook adds an `Accounts` sheet with each account's due date and totals, as
`dues --json` reports them. Amounts are exact Decimals; each row carries its currency.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from sqlmodel import Session

from bot.reports.sheets import Column, Kind, Line, Sheet, StreamedSheet
from core.periods import Period
from handlers.formatting import approx
from handlers.i18n import has_key, translate
from storage.accounts import AccountPolicy
from storage.ledger import period_dues
from storage.queries_ledger import Subtotal, account_subtotals, report_lines

LEDGER_COLUMNS = (
    ("row", Kind.TEXT),
    ("account", Kind.TEXT),
    ("currency", Kind.TEXT),
    ("employee_id", Kind.TEXT),
    ("name", Kind.TEXT),
    ("department", Kind.TEXT),
    ("scheme", Kind.TEXT),
    ("base", Kind.CENTS),
    ("employer", Kind.CENTS),
    ("employee", Kind.CENTS),
    ("total", Kind.CENTS),
)
LEDGER_WIDTHS = (8, 10, 8, 12, 16, 16, 13, 12, 12, 12, 12)
"""The longest cell expected per ledger column (the stream is written before it is known)."""
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
    session: Session,
    period: Period,
    accounts: Mapping[str, AccountPolicy],
    locale: str,
    progress: Callable[[int, int], None] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[StreamedSheet | Sheet]:
    """`Ledger` (lines and account subtotals, streamed) and `Accounts` (due dates and totals),
    with headers, sheet names and scheme names in `locale`; an account's name is the one
    `names` gives (`[accounts.<id>] name`), else its policy's in `locale` (as chat names it).

    The ledger is read while it is written, so write the sheets inside the session;
    `progress(done, total)` hears of every chunk of lines written.
    """
    dues = period_dues(session, period)
    if not dues:
        raise NoDuesError(
            f"no dues stored for {period}: run `coverwatch dues --period {period}` first"
        )
    ledger = StreamedSheet(
        translate(locale, "report.ledger"),
        columns(locale, LEDGER_COLUMNS),
        lambda: _ledger_lines(session, period, accounts, locale, progress),
        LEDGER_WIDTHS,
    )
    totals = Sheet(translate(locale, "report.accounts"), columns(locale, ACCOUNT_COLUMNS))
    for due in dues:
        account = accounts.get(due.account_id)
        name = (names or {}).get(due.account_id) or (
            account.policy.display_name(locale) if account else due.account_id
        )
        # Amounts from an unconfirmed or provisional rule are estimates (core.estimates): the
        # account's name says so, the figures stay numbers.
        estimated = account is not None and bool(account.estimates(period))
        # A due date from a holiday calendar not published yet is an estimate too (≈).
        calendar = account is not None and account.due_date_estimated(period)
        totals.add(
            [
                due.account_id,
                f"≈ {name}" if estimated else name,
                due.currency,
                approx(due.due_date.isoformat(), calendar),
                due.employees,
                due.employer_total,
                due.employee_total,
                due.total,
            ]
        )
    return [ledger, totals]


def _ledger_lines(
    session: Session,
    period: Period,
    accounts: Mapping[str, AccountPolicy],
    locale: str,
    progress: Callable[[int, int], None] | None,
) -> Iterator[Line]:
    """Every ledger line, each account's closed by its subtotal row (summed in SQL)."""
    line_label, subtotal_label = (translate(locale, f"report.{k}") for k in ("line", "subtotal"))
    schemes: dict[str, str] = {}
    subtotals = account_subtotals(session, period)
    total = sum(subtotal.lines for subtotal in subtotals.values())
    current: str | None = None
    currency = ""
    done = 0
    for chunk in report_lines(session, period):
        if progress is not None:
            progress(done, total)
        done += len(chunk)
        for account_id, employee_id, name, department, scheme, base, employer, employee in chunk:
            if account_id != current:
                if current is not None:
                    yield _subtotal(subtotal_label, current, currency, subtotals[current])
                current, currency = account_id, accounts[account_id].currency
            shown = schemes.get(scheme)
            if shown is None:
                shown = schemes[scheme] = scheme_name(locale, scheme)
            yield (
                (
                    line_label,
                    account_id,
                    currency,
                    employee_id,
                    name,
                    department,
                    shown,
                    base,
                    employer,
                    employee,
                    employer + employee,
                ),
                False,
            )
    if current is not None:
        yield _subtotal(subtotal_label, current, currency, subtotals[current])
    if progress is not None:
        progress(total, total)


def _subtotal(label: str, account_id: str, currency: str, sums: Subtotal) -> Line:
    employer, employee = sums.employer, sums.employee
    return (
        (label, account_id, currency, *[None] * 5, employer, employee, employer + employee),
        True,
    )
