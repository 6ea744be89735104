"""`coverwatch import salaries FILE`: base history, one row per employee and month it changes.

Columns `employee_id` 工号, `effective_from` 生效月份 (YYYY-MM), `salary` 缴费基数. A row sets the
salary in force from that month until the employee's next row (storage.salaries); re-importing
a month replaces its salary. The employee must already exist: a typo in an id must not create
history nobody's dues will ever read. All-or-nothing like every import.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from storage.imports.cells import non_negative, parse_period, text
from storage.imports.errors import ImportResult
from storage.imports.table import Column, Items, Progress, open_table
from storage.models import Employee
from storage.salaries import history_months, record_salaries

COLUMNS = (
    Column("employee_id", ("工号",), required=True),
    Column("effective_from", ("生效月份",), required=True),
    Column("salary", ("缴费基数", "月工资"), required=True),
)


def import_salaries(
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
    """Import a salaries file (ARCHITECTURE §3); the account arguments are unused (the
    employee's account is already known) and accepted for the CLI's one importer shape."""
    table = open_table(source, COLUMNS, sheet=sheet, strict=strict)
    convert = table.converter(
        {"employee_id": text(64), "effective_from": parse_period, "salary": non_negative}
    )
    rows: dict[tuple[str, str], tuple[int, Decimal]] = {}
    for row in table.records(progress):
        values = convert(row)
        employee_id = values.get("employee_id")
        month, salary = values.get("effective_from"), values.get("salary")
        if employee_id is None or month is None or salary is None:
            continue
        first = rows.get((employee_id, month))
        if first is not None:
            row.error("effective_from", f"same employee and month as {table.where(first[0])}")
            continue
        rows[employee_id, month] = (row.number, salary)
    ids = {employee_id for employee_id, _ in rows}
    known = set(session.execute(select(col(Employee.employee_id))).scalars())
    for (employee_id, _), (number, _) in rows.items():
        if employee_id not in known:
            table.error(number, table.label("employee_id"), f"unknown employee {employee_id!r}")
    if table.errors:
        return table.result()
    existing = history_months(session, ids)
    changes = [(employee_id, month, salary) for (employee_id, month), (_, salary) in rows.items()]
    created = sum(1 for employee_id, month, _ in changes if (employee_id, month) not in existing)
    updated = sum(
        1
        for employee_id, month, salary in changes
        if (employee_id, month) in existing and existing[employee_id, month] != salary
    )
    if not dry_run:
        record_salaries(session, changes, existing)
    if progress is not None:
        progress(len(table.rows), len(table.rows))
    return table.result(created, updated)
