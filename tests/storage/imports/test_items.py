"""The API's JSON items go through the importers' own rules: the same value is refused with the
same reason in a file cell and in an item field, located as (index, field) instead of
(row, column); an employee item changes only the fields it carries. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.db import session_scope
from storage.imports import (
    ImportResult,
    RowError,
    import_balances,
    import_employees,
    import_payments,
)
from storage.models import Employee, Payment
from tests.support.imports import snapshot, write_csv

ACCOUNTS = ("beijing", "hk")
PAYMENT = {"account": "beijing", "period": "2026-10", "amount": "1234.50", "paid_on": "2026-11-03"}
EMPLOYEE = {
    "employee_id": "E1",
    "name": "王芳",
    "account": "beijing",
    "hire_date": "2024-01-02",
    "salary": "10000",
}
Importer = Any


def run(engine: Engine, importer: Importer, source: Any) -> ImportResult:
    with session_scope(engine) as session:
        result: ImportResult = importer(session, source, known_accounts=ACCOUNTS)
        if not result.ok:
            session.rollback()
        return result


BAD_VALUES = [
    (import_payments, PAYMENT, "amount", "12.345"),
    (import_payments, PAYMENT, "amount", "-5"),
    (import_payments, PAYMENT, "amount", "abc"),
    (import_payments, PAYMENT, "period", "2026-13"),
    (import_payments, PAYMENT, "paid_on", "03/11/2026"),
    (import_payments, PAYMENT, "account", "mars"),
    (import_payments, PAYMENT, "account", ""),
    (import_balances, {"account": "hk", "as_of": "2026-11-30", "balance": "1"}, "balance", "x"),
    (import_employees, EMPLOYEE, "salary", "-1"),
    (import_employees, EMPLOYEE, "role", "boss"),
    (import_employees, EMPLOYEE, "name", "x" * 201),
    (import_employees, EMPLOYEE | {"enrolled_on": ""}, "enrolled_on", "2023-12-31"),
]


@pytest.mark.parametrize("importer,good,field,value", BAD_VALUES)
def test_an_item_is_refused_with_the_reason_a_file_gets(
    engine: Engine, tmp_path: Path, importer: Importer, good: dict[str, str], field: str, value: str
) -> None:
    bad = good | {field: value} | ({"employee_id": "E2"} if "employee_id" in good else {})
    from_file = run(
        engine, importer, write_csv(tmp_path / "f.csv", [list(bad), list(bad.values())])
    )
    before = snapshot(engine)

    from_items = run(engine, importer, [good, bad])

    assert [(e.column, e.reason) for e in from_file.errors] == [
        (e.column, e.reason) for e in from_items.errors
    ]
    assert [e.row for e in from_items.errors] == [1]
    assert (from_items.created, from_items.updated) == (0, 0)
    assert snapshot(engine) == before


def test_json_numbers_are_read_as_a_spreadsheet_cell_would_be(engine: Engine) -> None:
    items = [PAYMENT | {"amount": 1234.5}, PAYMENT | {"amount": 99, "paid_on": "2026-11-04"}]

    assert run(engine, import_payments, items) == ImportResult(rows=2, created=2, updated=0)

    with Session(engine) as session:
        assert sorted(p.amount for p in session.exec(select(Payment))) == [
            Decimal("99.00"),
            Decimal("1234.50"),
        ]


def test_item_specific_problems(engine: Engine) -> None:
    items = [
        {"account": "beijing", "period": "2026-10", "amount": "1", "paid_on": "2026-11-03"},
        {"account": "beijing", "period": "2026-10", "amount": "1", "paid_on": "2026-11-03"},
        {"account": "beijing", "period": "2026-10", "amount": True, "paid_on": "2026-11-03"},
        {"account": "beijing", "period": "2026-10", "paid_on": "2026-11-03", "memo": "x"},
        {},
    ]

    result = run(engine, import_payments, items)

    assert result.errors == (
        RowError(1, "amount", "same payment as item 0"),
        RowError(2, "amount", "not a number: True"),
        RowError(3, "memo", "unknown field"),
        RowError(3, "amount", "missing required value"),
        RowError(4, "account", "missing required value"),
        RowError(4, "period", "missing required value"),
        RowError(4, "amount", "missing required value"),
        RowError(4, "paid_on", "missing required value"),
    )


def test_an_employee_item_changes_only_the_fields_it_carries(engine: Engine) -> None:
    full = EMPLOYEE | {"department": "财务部", "slack_user_id": "U1", "role": "finance"}
    run(engine, import_employees, [full])

    result = run(engine, import_employees, [{"employee_id": "E1", "salary": "12000.50"}])

    assert result == ImportResult(rows=1, created=0, updated=1)
    with Session(engine) as session:
        employee = session.get(Employee, "E1")
    assert employee is not None
    assert (employee.salary, employee.department, employee.slack_user_id, employee.role) == (
        Decimal("12000.50"),
        "财务部",
        "U1",
        "finance",
    )
    assert employee.hire_date == date(2024, 1, 2)


def test_null_empties_an_optional_field_and_a_new_employee_needs_every_required_one(
    engine: Engine,
) -> None:
    run(engine, import_employees, [EMPLOYEE | {"department": "财务部"}])

    assert run(engine, import_employees, [{"employee_id": "E1", "department": None}]).ok
    with Session(engine) as session:
        assert session.get(Employee, "E1").department == ""  # type: ignore[union-attr]

    result = run(engine, import_employees, [{"employee_id": "E2", "name": "李雷"}, {"name": "x"}])

    assert result.errors == (
        RowError(0, "account", "missing required value"),
        RowError(0, "hire_date", "missing required value"),
        RowError(0, "salary", "missing required value"),
        RowError(1, "employee_id", "missing required value"),
    )


def test_a_partial_item_is_checked_against_the_stored_hire_date(engine: Engine) -> None:
    run(engine, import_employees, [EMPLOYEE])

    result = run(engine, import_employees, [{"employee_id": "E1", "leave_date": "2023-05-01"}])

    assert result.errors == (
        RowError(0, "leave_date", "leave date 2023-05-01 is before hire date 2024-01-02"),
    )


def test_two_concurrent_employee_imports_are_both_applied(engine: Engine) -> None:
    """Issue 15 finding 6: each import wrote back whole rows from its own old snapshot, so the
    second undid the first. Now imports take a lock before reading (advisory on PostgreSQL,
    the write lock on SQLite) and update only the columns they hold."""
    run(engine, import_employees, [EMPLOYEE | {"department": "财务部"}])
    first_wrote, order = threading.Event(), []

    def first() -> None:
        with session_scope(engine) as session:
            items = [{"employee_id": "E1", "department": "人事部"}]
            assert import_employees(session, items, known_accounts=ACCOUNTS).ok
            first_wrote.set()
            time.sleep(0.3)  # the second import starts meanwhile and must wait for this commit
            order.append("first committed")

    def second() -> None:
        first_wrote.wait(10)
        result = run(engine, import_employees, [{"employee_id": "E1", "salary": "12000.50"}])
        assert result.ok
        order.append("second committed")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert order == ["first committed", "second committed"]
    with Session(engine) as session:
        employee = session.get(Employee, "E1")
    assert employee is not None
    assert (employee.department, employee.salary) == ("人事部", Decimal("12000.50"))
