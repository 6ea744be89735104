"""`coverwatch import balances FILE`: account balance snapshots for the funding forecast.

One balance per (account, as_of): re-importing a date replaces its balance (a corrected
statement wins). A balance may be negative: an overdrawn account is exactly what the funding
forecast must see. The same (account, as_of) twice in one file is refused as ambiguous.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlmodel import Session, col

from storage.imports.accounts import account_parser, ensure_accounts
from storage.imports.cells import parse_amount, parse_date
from storage.imports.errors import ImportResult
from storage.imports.table import Column, Items, Progress, open_table
from storage.models import Balance

COLUMNS = (
    Column("account", ("参保地",), required=True),
    Column("as_of", ("日期",), required=True),
    Column("balance", ("余额",), required=True),
)


def import_balances(
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
    """Import a balances file (or the API's items); all-or-nothing like `import_employees`;
    upserts by (account, as_of) and counts changed balances as `updated`."""
    table = open_table(source, COLUMNS, sheet=sheet, strict=strict)
    parse_account = account_parser(known_accounts)
    balances: dict[tuple[str, date], Decimal] = {}
    first_row: dict[tuple[str, date], int] = {}
    convert = table.converter(
        {"account": parse_account, "as_of": parse_date, "balance": parse_amount}
    )
    for row in table.records(progress):
        values = convert(row)
        account, as_of, balance = values.get("account"), values.get("as_of"), values.get("balance")
        if account is None or as_of is None or balance is None:
            continue
        if (account, as_of) in first_row:
            where = table.where(first_row[account, as_of])
            row.error("as_of", f"same account and date as {where}")
        else:
            first_row[account, as_of] = row.number
            balances[account, as_of] = balance
    if table.errors:
        return table.result()
    accounts = {account for account, _ in balances}
    existing = {
        (account, as_of): (balance_id, balance)
        for balance_id, account, as_of, balance in session.execute(
            select(
                col(Balance.id), col(Balance.account_id), col(Balance.as_of), col(Balance.balance)
            ).where(col(Balance.account_id).in_(accounts))
        )
    }
    new = [
        {"account_id": account, "as_of": as_of, "balance": balance}
        for (account, as_of), balance in balances.items()
        if (account, as_of) not in existing
    ]
    changed = [
        {"id": existing[key][0], "balance": balance}
        for key, balance in balances.items()
        if key in existing and existing[key][1] != balance
    ]
    if not dry_run:
        ensure_accounts(session, accounts, currencies=currencies, policies=policies)
        if new:
            session.execute(insert(Balance), new)
        if changed:
            session.execute(update(Balance), changed)
            for obj in list(session.identity_map.values()):
                if isinstance(obj, Balance):
                    session.expire(obj)
    if progress is not None:
        progress(len(table.rows), len(table.rows))
    return table.result(len(new), len(changed))
