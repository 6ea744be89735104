"""`coverwatch import employees FILE`: validate every row, then upsert all of them or none.

Re-import semantics, as HR expects from "the spreadsheet is the truth": employees are matched
by `employee_id`; a blank cell empties that field (blank `leave_date` = still employed,
blank `role` = `employee`); a column absent from the file leaves that field as it was, so a
file with only the required columns updates salaries without erasing chat ids.
Employees missing from the file are kept (leaving is recorded with `leave_date`).
The API's items follow the same rule per item: a field left out of an item is unchanged, so a
new employee's item must carry every required field.

Salaries keep their history (storage.salaries): `salary` applies from `salary_from`, or when
that is blank from the hire month for a new employee and from the current month for an
existing one, so a re-import with a raise never rewrites a month already computed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Table as SqlTable
from sqlalchemy import select, update
from sqlalchemy import text as sql
from sqlmodel import Session

from core.periods import Period
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
    parse_period,
    text,
)
from storage.imports.errors import ImportResult
from storage.imports.first_pass import USER_ID_COLUMNS, FirstRows
from storage.imports.table import Column, Items, Progress, Row, Table, open_table
from storage.imports.user_ids import UserIdClaims
from storage.key_lists import among
from storage.models import Employee
from storage.salaries import SalaryChange, history_months, record_salaries

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
    Column("salary_from", ("基数生效月份",)),
)
_NOT_FIELDS = ("salary_from",)
"""Columns that are not `Employee` fields: `salary_from` says where the salary's history starts."""
_FIELDS = tuple(
    "account_id" if c.name == "account" else c.name for c in COLUMNS if c.name not in _NOT_FIELDS
)
"""`Employee` fields in column order: the `account` column is the `account_id` field."""
_BLANK_MEANS = {"department": "", "role": "employee"}
"""What a blank cell stores where it is not NULL (a blank cell elsewhere empties the field)."""
_NEW_DEFAULTS = dict.fromkeys(_FIELDS) | _BLANK_MEANS
"""A new employee's fields that the file does not hold."""
_REQUIRED = tuple(column.name for column in COLUMNS if column.required)
_EMPLOYEES: SqlTable = Employee.__table__  # type: ignore[attr-defined]
_COLUMNS = tuple(_NEW_DEFAULTS)
_CHUNK = 5000
"""Rows converted, checked against the stored records and written at a time."""


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
    today: date | None = None,
) -> ImportResult:
    """Import an employees file (ARCHITECTURE §3) or the API's items. Nothing is written when any
    row is bad or on a dry run; otherwise all writes go to `session` and the caller commits.

    A file is read twice and never held (`StreamedTable`): a first pass notes where each
    employee id first appears and the user ids that row claims (`FirstRows`: a temporary
    table, not memory); the second converts, checks and writes `_CHUNK` rows at a time,
    asking that table and reading the stored records of those rows only. Once a row is bad
    nothing more is written, and what was written is rolled back with the session's
    transaction before the errors are returned.

    `currencies`/`policies` (by account id) are used only to create missing `Account` rows;
    `today` dates a changed salary without `salary_from` (the clock's month; default the
    system date). Raises `ImportFileError` when the file is not a CSV or XLSX table.
    """
    table = open_table(source, COLUMNS, sheet=sheet, strict=strict, partial=True, stream=True)
    if not dry_run:
        _serialize(session)
    parsers = _parsers(known_accounts)
    with FirstRows(session) as first_rows:
        keys = ("employee_id", *USER_ID_COLUMNS)
        table.scan(first_rows.noter(table.converter({k: parsers[k] for k in keys}, quiet=True)))
        first_rows.done([name for name in USER_ID_COLUMNS if table.has(name)])
        convert = table.converter(parsers)
        this_month = str(Period.of(today or date.today()))
        write = _Writer(session, currencies, policies, dry_run=dry_run, this_month=this_month)
        claims = UserIdClaims(_EMPLOYEES, first_rows)
        chunk: list[tuple[Row, dict[str, Any]]] = []
        for row in table.records(progress):
            chunk.append((row, convert(row)))
            if len(chunk) == _CHUNK:
                _check_and_write(session, table, chunk, first_rows, claims, write)
                chunk = []
        _check_and_write(session, table, chunk, first_rows, claims, write)
    if table.errors:
        if write.wrote:
            session.rollback()
        return table.result()
    if progress is not None:
        progress(table.count, table.count)
    return table.result(write.created, write.updated)


def _check_and_write(
    session: Session,
    table: Table,
    chunk: list[tuple[Row, dict[str, Any]]],
    first_rows: FirstRows,
    claims: UserIdClaims,
    write: _Writer,
) -> None:
    """The row checks that need other rows or the stored records, then (while every row so far
    is good) the chunk's new and changed employees. A row's errors come in the order of the
    whole-file importer before it: cells, dates, id, required, manager, then user ids."""
    ids = [values["employee_id"] for _, values in chunk if values.get("employee_id")]
    existing = _stored(session, ids)
    earlier = first_rows.first_rows(ids, before=chunk[0][0].number) if chunk else {}
    first_row: dict[str, int] = {}  # where this chunk's ids not in `earlier` first appear
    referenced: set[str] = {m for _, values in chunk if (m := values.get("manager_id"))}
    in_file = first_rows.first_rows(referenced)
    managers = in_file.keys() | _known_ids(session, [m for m in referenced if m not in in_file])
    records: dict[str, dict[str, Any]] = {}
    salary_from: dict[str, str] = {}
    checked: list[tuple[Row, str, dict[str, Any]]] = []
    for row, values in chunk:
        employee_id = values.get("employee_id")
        _check_dates(row, values, existing.get(employee_id) if employee_id else None)
        if employee_id is None:
            if not row.sent("employee_id"):  # an item that left its key out
                row.error("employee_id", "missing required value")
            continue
        first = earlier.get(employee_id)
        if first is None:
            first = first_row.setdefault(employee_id, row.number)
        if first != row.number:
            where = table.where(first)
            row.error("employee_id", f"duplicate employee id {employee_id!r} (first on {where})")
            continue
        if table.partial and employee_id not in existing:
            for name in _REQUIRED:
                if not row.sent(name):
                    row.error(name, "missing required value")
        manager_id: str | None = values.get("manager_id")
        if manager_id and manager_id == employee_id:
            row.error("manager_id", "an employee cannot be their own manager")
        elif manager_id and manager_id not in managers:
            row.error("manager_id", f"unknown manager {manager_id!r}")
        month = values.pop("salary_from", None)
        if month is not None:
            salary_from[employee_id] = month
        records[employee_id] = _record(values)
        checked.append((row, employee_id, values))
    claims.check(session, checked)
    if table.errors:
        return
    new = [record for key, record in records.items() if key not in existing]
    # Only the columns the file holds (and the key): a concurrent import of other columns
    # keeps what it wrote (issue 15 finding 6: whole rows from an old snapshot lost updates).
    changed = [
        {"employee_id": key, **record}
        for key, record in records.items()
        if key in existing and existing[key] | record != existing[key]
    ]
    write(new, changed)
    write.history(records, existing, salary_from)


def _record(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values (the converter's dict, reused) as `Employee` fields."""
    if "account" in values:
        values["account_id"] = values.pop("account")
    for name, blank in _BLANK_MEANS.items():
        if name in values and values[name] is None:
            values[name] = blank
    return values


IMPORT_LOCK = 0x636F_7665  # "cove": the advisory lock key of employee imports
"""Transaction-scoped, so it is let go with the import's commit or rollback."""


def _serialize(session: Session) -> None:
    """One employee import at a time, taken before anything is read (issue 15 item 6).

    PostgreSQL: `pg_advisory_xact_lock` (https://www.postgresql.org/docs/current/functions-admin.html
    #FUNCTIONS-ADVISORY-LOCKS). SQLite: the first write statement of the transaction takes the
    RESERVED lock, as `BEGIN IMMEDIATE` would (https://www.sqlite.org/lang_transaction.html);
    pysqlite opens its transaction implicitly, so a write that changes nothing takes it here,
    and a second importer waits (busy_timeout) before it reads any stored record.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})
    else:
        name = _EMPLOYEES.name
        session.execute(sql(f"UPDATE {name} SET employee_id = employee_id WHERE 0"))


def _stored(session: Session, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The stored records of these employees (a chunk's worth), by employee id."""
    if not ids:
        return {}
    query = select(_EMPLOYEES).where(
        among(_EMPLOYEES.c.employee_id, ids, session.get_bind().dialect)
    )
    return {row.employee_id: dict(row._mapping) for row in session.execute(query)}


def _known_ids(session: Session, ids: list[str]) -> set[str]:
    """Those of `ids` that are stored employees."""
    if not ids:
        return set()
    query = select(_EMPLOYEES.c.employee_id).where(
        among(_EMPLOYEES.c.employee_id, ids, session.get_bind().dialect)
    )
    return set(session.execute(query).scalars())


@lru_cache(maxsize=4096)
def _month_of(day: date) -> str:
    """The `YYYY-MM` of a hire date, kept: a file's employees share a few thousand hire dates,
    and a `Period` per row was 4 % of a 100,000-row import's CPU."""
    return str(Period.of(day))


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
        "salary_from": parse_period,
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


class _Writer:
    """Writes chunks of new and changed employees (not on a dry run) and counts them."""

    def __init__(
        self,
        session: Session,
        currencies: Mapping[str, str] | None,
        policies: Mapping[str, str] | None,
        *,
        dry_run: bool,
        this_month: str,
    ) -> None:
        self.session = session
        self.currencies = currencies
        self.policies = policies
        self.dry_run = dry_run
        self.this_month = this_month
        self.created = self.updated = 0
        self.wrote = False

    def __call__(self, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        self.created += len(new)
        self.updated += len(changed)
        if self.dry_run or not (new or changed):
            return
        self.wrote = True
        session = self.session
        # A changed row carries only the columns the file holds: maybe no account.
        accounts = {r["account_id"] for r in (*new, *changed) if r.get("account_id")}
        ensure_accounts(session, accounts, currencies=self.currencies, policies=self.policies)
        connection = session.connection()
        # Straight to the driver, not the ORM: bulk-inserting entities costs several times the
        # insert itself (docs/PERFORMANCE.md, import_100k); defaults filled in per chunk.
        insert = BulkInsert(connection, _EMPLOYEES, _COLUMNS)
        to_row = driver_row(_EMPLOYEES, _COLUMNS, connection.dialect)
        insert([to_row(_NEW_DEFAULTS | record) for record in new])
        if changed:
            # ORM bulk UPDATE by primary key: one executemany, not one statement per object.
            session.execute(update(Employee), changed)
            for obj in list(session.identity_map.values()):
                if isinstance(obj, Employee):
                    session.expire(obj)

    def history(
        self,
        records: Mapping[str, Mapping[str, Any]],
        existing: Mapping[str, Mapping[str, Any]],
        salary_from: Mapping[str, str],
    ) -> None:
        """Write the salary history the chunk implies (module docstring). An existing employee
        with no history yet first gets their old salary from the hire month, so earlier months
        keep it."""
        if self.dry_run:
            return
        touched = [
            key
            for key, record in records.items()
            if "salary" in record
            and (
                key not in existing
                or key in salary_from
                or record["salary"] != existing[key]["salary"]
            )
        ]
        # A new employee has no history yet (its rows' foreign key): only the others are read.
        stored = history_months(self.session, [key for key in touched if key in existing])
        has_history = {employee_id for employee_id, _ in stored}
        changes: list[SalaryChange] = []
        for key in touched:
            record, before = records[key], existing.get(key)
            hired = _month_of(record.get("hire_date") or (before or {})["hire_date"])
            if before is None:
                changes.append((key, salary_from.get(key, hired), record["salary"]))
                continue
            month = salary_from.get(key, self.this_month)
            if key not in has_history and month > hired:
                changes.append((key, hired, before["salary"]))
            changes.append((key, month, record["salary"]))
        record_salaries(self.session, changes, stored)
