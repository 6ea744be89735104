"""`coverwatch import payments FILE`: money an account received for a period.

A payment is identified by (account, period, paid_on, amount), the table's unique key, so
re-importing a bank export (or an export that overlaps the last one) adds only the new rows.
The same payment twice in one file is refused: only one could be stored, and two genuine
transfers of the same amount on the same day should be entered as their sum.

The optional `kind` 类型 column says what the money paid: `dues` (社保费, the default) or
`late_fee` (滞纳金; for Hong Kong the 5 % surcharge), which never reduces the principal.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select
from sqlmodel import Session, col

from storage.imports.accounts import account_parser, ensure_accounts
from storage.imports.cells import choice, parse_date, parse_period, positive
from storage.imports.errors import ImportResult
from storage.imports.table import Column, Items, Progress, open_table
from storage.models import Payment
from storage.payments import DUES, LATE_FEE, PAYMENT_KINDS

COLUMNS = (
    Column("account", ("参保地",), required=True),
    Column("period", ("所属期",), required=True),
    Column("amount", ("金额",), required=True),
    Column("paid_on", ("缴费日期",), required=True),
    Column("kind", ("类型",)),
)
_KIND_ALIASES = {"社保费": DUES, "滞纳金": LATE_FEE, "surcharge": LATE_FEE}

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
    parse_kind = choice(PAYMENT_KINDS, _KIND_ALIASES, "payment kind")
    first_row: dict[PaymentKey, int] = {}
    kinds: dict[PaymentKey, str] = {}
    convert = table.converter(
        {
            "account": parse_account,
            "period": parse_period,
            "amount": positive,
            "paid_on": parse_date,
            "kind": parse_kind,
        }
    )
    for row in table.records(progress):
        values = convert(row)
        account, period = values.get("account"), values.get("period")
        amount, paid_on = values.get("amount"), values.get("paid_on")
        kind = values.get("kind") or DUES
        if account is None or period is None or amount is None or paid_on is None:
            continue
        key = (account, period, paid_on, amount)
        if key in first_row:
            row.error("amount", f"same payment as {table.where(first_row[key])}")
        else:
            first_row[key] = row.number
            kinds[key] = kind
    accounts = {key[0] for key in first_row}
    existing = {
        (account, period, paid_on, amount): kind
        for account, period, paid_on, amount, kind in session.execute(
            select(
                col(Payment.account_id),
                col(Payment.period),
                col(Payment.paid_on),
                col(Payment.amount),
                col(Payment.kind),
            ).where(col(Payment.account_id).in_(accounts))
        )
    }
    for key, kind in kinds.items():
        if key in existing and existing[key] != kind:
            # The table keys a payment without its kind: the same transfer cannot be both.
            problem = f"the same payment is already recorded as {existing[key]}, not {kind}"
            table.error(first_row[key], table.label("kind"), problem)
    if table.errors:
        return table.result()
    new = [key for key in first_row if key not in existing]
    if new and not dry_run:
        ensure_accounts(session, accounts, currencies=currencies, policies=policies)
        session.execute(
            insert(Payment),
            [
                {
                    "account_id": account,
                    "period": period,
                    "paid_on": paid_on,
                    "amount": amount,
                    "kind": kinds[account, period, paid_on, amount],
                }
                for account, period, paid_on, amount in new
            ],
        )
    if progress is not None:
        progress(len(table.rows), len(table.rows))
    return table.result(len(new), 0)
