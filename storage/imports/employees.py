"""`coverwatch import employees FILE`: validate every row, then upsert all of them or none.

Re-import semantics, as HR expects from "the spreadsheet is the truth": employees are matched
by `employee_id`; a blank cell empties that field (blank `leave_date` = still employed,
blank `role` = `employee`); a column absent from the file leaves that field as it was, so a
file with only the required columns updates salaries without erasing chat ids.
Employees missing from the file are kept (leaving is recorded with `leave_date`).
The API's items follow the same rule per item: a field left out of an item is unchanged, so a
new employee's item must carry every required field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy import select, update
from sqlmodel import Session

from core.platforms import PLATFORMS
from storage.bulk import BulkInsert, driver_row
from storage.imports.accounts import account_parser, ensure_accounts
from storage.imports.cells import (
    choice,
    exact_text,
    locale_parser,
    non_negative,
    parse_date,
    parse_email,
    parse_mobile,
    text,
)
from storage.imports.errors import ImportResult
from storage.imports.table import Column, Items, Progress, Row, open_table
from storage.models import Employee

ROLES = ("employee", "manager", "hr", "finance", "admin")
# Chinese role names HR files commonly carry; stored as the contract's ids.
_ROLE_ALIASES = {
    "员工": "employee",
    "经理": "manager",
    "人事": "hr",
    "财务": "finance",
    "管理员": "admin",
}
COLUMNS = (
    Column("employee_id", ("工号",), required=True),
    Column("name", ("姓名",), required=True),
    Column("department", ("部门",)),
    Column("manager_id", ("上级工号",)),
    Column("account", ("参保地",), required=True),
    Column("hire_date", ("入职日期",), required=True),
    Column("enrolled_on", ("参保日期",)),
    Column("salary", ("月工资",), required=True),
    Column("role", ("角色",)),
    Column("slack_user_id"),
    Column("dingtalk_user_id"),
    Column("wecom_user_id"),
    Column("locale"),
    Column("id_number", ("证件号码",)),
    Column("leave_date", ("离职日期",)),
    Column("email", ("邮箱",)),
    Column("mobile", ("手机号",)),
)
_FIELD = {column.name: column.name for column in COLUMNS} | {"account": "account_id"}
_DEFAULTS: dict[str, Any] = {column.name: None for column in COLUMNS} | {
    "department": "",
    "role": "employee",
}
_NEW_DEFAULTS = {_FIELD[name]: value for name, value in _DEFAULTS.items()}
_REQUIRED = tuple(column.name for column in COLUMNS if column.required)
_EMPLOYEES: SqlTable = Employee.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(_NEW_DEFAULTS)
_INSERT_CHUNK = 5000


def import_employees(
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
    """Import an employees file (ARCHITECTURE §3) or the API's items. Nothing is written when any
    row is bad or on a dry run; otherwise all writes go to `session` and the caller commits.

    `currencies`/`policies` (by account id) are used only to create missing `Account` rows.
    Raises `ImportFileError` when the file is not a CSV or XLSX table.
    """
    table = open_table(source, COLUMNS, sheet=sheet, strict=strict, partial=True)
    parsers = _parsers(known_accounts)
    existing = {row.employee_id: dict(row._mapping) for row in session.execute(select(_EMPLOYEES))}
    records: dict[str, dict[str, Any]] = {}
    rows: dict[str, Row] = {}
    first_row: dict[str, int] = {}
    managers: list[tuple[Row, str, str]] = []
    present = [(name, parse) for name, parse in parsers.items() if table.has(name)]
    for row in table.records(progress):
        values = {name: row.get(name, parse) for name, parse in present if row.sent(name)}
        employee_id = values.get("employee_id")
        _check_dates(row, values, existing.get(employee_id) if employee_id else None)
        if employee_id is None:
            if not row.sent("employee_id"):  # an item that left its key out
                row.error("employee_id", "missing required value")
            continue
        if employee_id in first_row:
            first = table.where(first_row[employee_id])
            row.error("employee_id", f"duplicate employee id {employee_id!r} (first on {first})")
            continue
        if table.partial and employee_id not in existing:
            for name in _REQUIRED:
                if not row.sent(name):
                    row.error(name, "missing required value")
        first_row[employee_id] = row.number
        rows[employee_id] = row
        manager_id: str | None = values.get("manager_id")
        if manager_id:
            managers.append((row, employee_id, manager_id))
        records[employee_id] = {
            _FIELD[name]: _DEFAULTS[name] if value is None else value
            for name, value in values.items()
        }
    for row, employee_id, manager_id in managers:
        if manager_id == employee_id:
            row.error("manager_id", "an employee cannot be their own manager")
        elif manager_id not in records and manager_id not in existing:
            row.error("manager_id", f"unknown manager {manager_id!r}")
    _check_user_ids(records, existing, rows)
    if table.errors:
        return table.result()
    new = [record for key, record in records.items() if key not in existing]
    changed = [
        merged
        for key, record in records.items()
        if key in existing and (merged := existing[key] | record) != existing[key]
    ]
    if not dry_run:
        _write(session, new, changed, currencies=currencies, policies=policies)
    if progress is not None:
        progress(len(table.rows), len(table.rows))
    return table.result(len(new), len(changed))


def _check_user_ids(
    records: Mapping[str, Mapping[str, Any]],
    existing: Mapping[str, Mapping[str, Any]],
    rows: Mapping[str, Row],
) -> None:
    """A platform user id belongs to one employee (ARCHITECTURE §3): two would make a chat
    message from that person answer as someone else. Checked on the state after the import:
    this file's values, and the stored ones of everyone it leaves alone."""
    for column in (spec.user_id_column for spec in PLATFORMS):
        holders: dict[str, list[str]] = defaultdict(list)
        for employee_id in existing.keys() | records.keys():
            record = records.get(employee_id, {})
            stored = existing.get(employee_id, {})
            user_id = record[column] if column in record else stored.get(column)
            if user_id:
                holders[user_id].append(employee_id)
        for user_id, employee_ids in holders.items():
            if len(employee_ids) < 2:
                continue
            for employee_id in employee_ids:
                if employee_id in rows and column in records[employee_id]:
                    others = ", ".join(sorted(set(employee_ids) - {employee_id}))
                    rows[employee_id].error(column, f"{user_id!r} is also the id of {others}")


def _parsers(known_accounts: Collection[str]) -> dict[str, Any]:
    return {
        "employee_id": text(64),
        "name": text(200),
        "department": text(200),
        "manager_id": text(64),
        "account": account_parser(known_accounts),
        "hire_date": parse_date,
        "enrolled_on": parse_date,
        "salary": non_negative,
        "role": choice(ROLES, _ROLE_ALIASES, "role"),
        "slack_user_id": text(64),
        "dingtalk_user_id": text(64),
        "wecom_user_id": text(64),
        "locale": locale_parser,
        "id_number": exact_text(64),
        "leave_date": parse_date,
        "email": parse_email,
        "mobile": parse_mobile,
    }


def _check_dates(row: Row, values: dict[str, Any], stored: dict[str, Any] | None) -> None:
    """Enrolment or leaving before hiring is a typo, not a fact: refuse rather than warn, since
    an import has no warnings channel and a wrong enrolment date hides an enrolment alert.
    A record that leaves the hire date out is checked against the stored one."""
    hired: date | None = values.get("hire_date")
    if hired is None and stored is not None and not row.sent("hire_date"):
        hired = stored["hire_date"]
    if hired is None:
        return
    for name, what in (("enrolled_on", "enrolled"), ("leave_date", "leave date")):
        day: date | None = values.get(name)
        if day is not None and day < hired:
            row.error(name, f"{what} {day.isoformat()} is before hire date {hired.isoformat()}")


def _write(
    session: Session,
    new: list[dict[str, Any]],
    changed: list[dict[str, Any]],
    *,
    currencies: Mapping[str, str] | None,
    policies: Mapping[str, str] | None,
) -> None:
    accounts = {record["account_id"] for record in (*new, *changed)}
    ensure_accounts(session, accounts, currencies=currencies, policies=policies)
    connection = session.connection()
    insert = BulkInsert(connection, _EMPLOYEES, _COLUMNS)
    to_row = driver_row(_EMPLOYEES, _COLUMNS, connection.dialect)
    for start in range(0, len(new), _INSERT_CHUNK):
        # Straight to the driver, not the ORM: bulk-inserting entities costs several times the
        # insert itself (docs/PERFORMANCE.md, import_100k). A chunk at a time, defaults filled
        # in then, so 100,000 full copies of the records are never held.
        chunk = new[start : start + _INSERT_CHUNK]
        insert([to_row(_NEW_DEFAULTS | record) for record in chunk])
    if changed:
        # ORM bulk UPDATE by primary key: one executemany, not one statement per object.
        session.execute(update(Employee), changed)
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Employee):
                session.expire(obj)
