"""`coverwatch import payments FILE`: money an account received for a period.

A payment is identified by (account, period, paid_on, amount), the table's unique key, so
re-importing a bank export (or an export that overlaps the last one) adds only the new rows.
The same payment twice in one file is refused: only one could be stored, and two genuine
transfers of the same amount on the same day should be entered as their sum.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select
from sqlmodel import Session, col

from storage.imports.accounts import account_parser, ensure_accounts
from storage.imports.cells import parse_date, parse_period, positive
from storage.imports.errors import ImportResult
from storage.imports.table import Column, Items, Progress, open_table
from storage.models import Payment

COLUMNS = (
    Column("account", ("参保地",), required=True),
    Column("period", ("所属期",), required=True),
    Column("amount", ("金额",), required=True),
    Column("paid_on", ("缴费日期",), required=True),
)

PaymentKey = tuple[str, str, date, Decimal]


def import_payments(
    session: Session,
    source: Path | Items,
    *,
    known_accounts: Collection[str],
    currencies: Mapping[str, str] | None = None,
    policies: Mapping[str, str] | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    sheet: str | None = None,
    strict: bool = False,
) -> ImportResult:
    """Import a payments file (or the API's items); all-or-nothing like `import_employees`.
    `updated` is always 0."""
    table = open_table(source, COLUMNS, sheet=sheet, strict=strict)
    parse_account = account_parser(known_accounts)
    first_row: dict[PaymentKey, int] = {}
    for row in table.records(progress):
        account = row.get("account", parse_account)
        period = row.get("period", parse_period)
        amount = row.get("amount", positive)
        paid_on = row.get("paid_on", parse_date)
        if account is None or period is None or amount is None or paid_on is None:
            continue
        key = (account, period, paid_on, amount)
        if key in first_row:
            row.error("amount", f"same payment as {table.where(first_row[key])}")
        else:
            first_row[key] = row.number
    if table.errors:
        return table.result()
    accounts = {key[0] for key in first_row}
    existing = {
        (account, period, paid_on, amount)
        for account, period, paid_on, amount in session.execute(
            select(
                col(Payment.account_id),
                col(Payment.period),
                col(Payment.paid_on),
                col(Payment.amount),
            ).where(col(Payment.account_id).in_(accounts))
        )
    }
    new = [key for key in first_row if key not in existing]
    if new and not dry_run:
        ensure_accounts(session, accounts, currencies=currencies, policies=policies)
        session.execute(
            insert(Payment),
            [
                {"account_id": account, "period": period, "paid_on": paid_on, "amount": amount}
                for account, period, paid_on, amount in new
            ],
        )
    if progress is not None:
        progress(len(table.rows), len(table.rows))
    return table.result(len(new), 0)
