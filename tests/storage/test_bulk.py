"""Driver-level bulk inserts store what the ORM stores, across page boundaries, on both DBs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Table, func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.policy_loader import load_policies
from storage.accounts import sync_accounts
from storage.bulk import BulkInsert, driver_row
from storage.db import session_scope
from storage.models import Employee

EMPLOYEES: Table = Employee.__table__  # type: ignore[attr-defined]
COLUMNS = (
    "employee_id",
    "name",
    "department",
    "role",
    "account_id",
    "hire_date",
    "salary",
    "leave_date",
)


def _record(index: int) -> dict[str, object]:
    return {
        "employee_id": f"E{index:05d}",
        "name": f"员工{index}" if index % 5 else f"tab\there, new\nline, back\\slash {index}",
        "department": "",
        "role": "employee",
        "account_id": "beijing",
        "hire_date": date(2020, 1, 1 + index % 28),
        "salary": Decimal(index) / 100,  # every cent count, so any rounding would show
        "leave_date": None if index % 3 else date(2026, 2, 28),
    }


def test_rows_through_the_column_types_read_back_as_written(engine: Engine) -> None:
    count = 2345  # over two full pages on SQLite, and a partial one
    records = [_record(index) for index in range(count)]
    with session_scope(engine) as session:
        sync_accounts(session, {}, load_policies(), ids=["beijing"])
        connection = session.connection()
        insert = BulkInsert(connection, EMPLOYEES, COLUMNS)
        to_row = driver_row(EMPLOYEES, COLUMNS, connection.dialect)
        insert([])
        insert([to_row(record) for record in records])
        assert insert.page == (1000 if engine.dialect.name == "sqlite" else 1)
    with session_scope(engine) as session:
        stored = session.exec(select(Employee).order_by(col(Employee.employee_id))).all()
        assert [{name: getattr(e, name) for name in COLUMNS} for e in stored] == records
        cents = session.exec(select(func.sum(EMPLOYEES.c.salary))).one()
    assert cents == Decimal(sum(range(count))) / 100  # stored as integer cents


def test_flat_values_store_the_same_rows_as_tuples(engine: Engine) -> None:
    count = 2345  # over two full pages on SQLite, and a partial one
    records = [_record(index) for index in range(count)]
    with session_scope(engine) as session:
        sync_accounts(session, {}, load_policies(), ids=["beijing"])
        connection = session.connection()
        insert = BulkInsert(connection, EMPLOYEES, COLUMNS)
        to_row = driver_row(EMPLOYEES, COLUMNS, connection.dialect)
        values = [value for record in records for value in to_row(record)]
        with pytest.raises(ValueError, match="do not make rows of 8 columns"):
            insert.flat(values[:-1])
        insert.flat([])
        insert.flat(values)
    with session_scope(engine) as session:
        stored = session.exec(select(Employee).order_by(col(Employee.employee_id))).all()
        assert [{name: getattr(e, name) for name in COLUMNS} for e in stored] == records
