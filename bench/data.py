"""A deterministic synthetic company at benchmark scale: employees, a year of dues, payments.

Every benchmark side gets a copy of the same seeded database, so sides differ only in the code
path measured. Shapes follow a real month end: six regional accounts, ~2 % of staff who left
before being registered, a few recent hires still unregistered (enrollment alerts), leavers,
and in the last period two accounts unpaid and one paid in part (overdue, late fees). Storage
modules are imported inside the seeders: a baseline process that needs only the constants
does not pay for loading the ORM.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.periods import Period

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

ACCOUNTS = ("beijing", "shanghai", "shenzhen", "guangzhou", "hangzhou", "hk")
DUES_PERIOD = Period(2026, 6)
HISTORY = tuple(DUES_PERIOD.shift(-months) for months in range(11, -1, -1))
"""2025-07 … 2026-06: twelve months of ledger for the scan (every policy has bands)."""
SCAN_DAY = date(2026, 7, 25)
"""After every 2026-06 due date (15 June on the mainland, 10 July in Hong Kong)."""
NOW = datetime(2026, 7, 25, 2, 0, tzinfo=UTC)
UNPAID = ("shanghai", "guangzhou")
PARTIAL = "hk"
CSV_COLUMNS = (
    "employee_id",
    "name",
    "department",
    "manager_id",
    "account",
    "hire_date",
    "enrolled_on",
    "salary",
    "role",
    "slack_user_id",
    "dingtalk_user_id",
    "wecom_user_id",
    "locale",
    "id_number",
    "leave_date",
)
MANAGER_SPAN = 25
"""One manager per 25 people; index i % 25 == 10 is the manager of its block."""


def _manager_of(index: int, count: int) -> str:
    manager = index // MANAGER_SPAN * MANAGER_SPAN + 10
    return f"E{manager:06d}" if manager < count and manager != index else ""


def _role(index: int) -> str:
    if index < 5:
        return "hr"
    if index < 8:
        return "finance"
    return "manager" if index % MANAGER_SPAN == 10 else "employee"


def employee_rows(count: int) -> Iterator[dict[str, str]]:
    """The employees file's rows (contract column names, text cells), streamed."""
    base = date(2015, 1, 1)
    for index in range(count):
        hired = base + timedelta(days=index * 7919 % 4000)
        enrolled, leave = hired.isoformat(), ""
        if index % 40 == 13 and hired < date(2025, 9, 1):
            leave = "2025-09-30"
        if index % 50 == 7:  # left during probation, never registered: no dues, no alert
            enrolled, leave = "", (hired + timedelta(days=20)).isoformat()
        if index % 500 == 3:  # a recent hire, still unregistered: an enrollment alert
            hired = SCAN_DAY - timedelta(days=index % 40)
            enrolled, leave = "", ""
        yield {
            "employee_id": f"E{index:06d}",
            "name": f"员工{index}",
            "department": f"D{index // 1000:03d}",
            "manager_id": _manager_of(index, count),
            "account": ACCOUNTS[index % len(ACCOUNTS)],
            "hire_date": hired.isoformat(),
            "enrolled_on": enrolled,
            "salary": str(3000 + index * 37 % 57000),
            "role": _role(index),
            "slack_user_id": f"U{index:07d}",
            "dingtalk_user_id": "",
            "wecom_user_id": "",
            "locale": "en" if index % 3 == 0 else "",
            "id_number": f"110101{19800101 + index % 9000:08d}{index % 10000:04d}",
            "leave_date": leave,
        }


def write_employees_csv(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(employee_rows(count))
    return path


def _as_record(row: dict[str, str]) -> dict[str, Any]:
    def day(text: str) -> date | None:
        return date.fromisoformat(text) if text else None

    return {
        "employee_id": row["employee_id"],
        "name": row["name"],
        "department": row["department"],
        "manager_id": row["manager_id"] or None,
        "account_id": row["account"],
        "hire_date": day(row["hire_date"]),
        "enrolled_on": day(row["enrolled_on"]),
        "salary": Decimal(row["salary"]),
        "role": row["role"],
        "slack_user_id": row["slack_user_id"],
        "dingtalk_user_id": None,
        "wecom_user_id": None,
        "locale": row["locale"] or None,
        "id_number": row["id_number"],
        "leave_date": day(row["leave_date"]),
    }


def seed_company(engine: Engine, count: int) -> None:
    """Schema, the six accounts and `count` employees (no ledger yet)."""
    from core.policy_loader import load_policies
    from storage.accounts import sync_accounts
    from storage.db import session_scope, upgrade

    upgrade(engine)
    with session_scope(engine) as session:
        sync_accounts(session, {}, load_policies(), ids=ACCOUNTS)
    batch: list[dict[str, Any]] = []
    for row in employee_rows(count):
        batch.append(_as_record(row))
        if len(batch) == 5000:
            _insert_employees(engine, batch)
            batch = []
    if batch:
        _insert_employees(engine, batch)


def _insert_employees(engine: Engine, batch: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    from storage.db import session_scope
    from storage.models import Employee

    with session_scope(engine) as session:
        session.execute(insert(Employee), batch)


def seed_history(engine: Engine) -> None:
    """Twelve dues runs and their payments: all on time, except the last period's stories."""
    from core.policy_loader import load_policies
    from storage.accounts import account_policies
    from storage.db import session_scope
    from storage.ledger import period_dues, run_dues
    from storage.models import Payment

    policies = load_policies()
    for period in HISTORY:
        with session_scope(engine) as session:
            run_dues(session, period, account_policies(session, policies), now=NOW)
            for due in period_dues(session, period):
                amount = due.total
                if period == DUES_PERIOD and due.account_id in UNPAID:
                    continue
                if period == DUES_PERIOD and due.account_id == PARTIAL:
                    amount = (due.total * Decimal("0.4")).quantize(Decimal("0.01"))
                session.add(
                    Payment(
                        account_id=due.account_id,
                        period=due.period,
                        amount=amount,
                        paid_on=due.due_date - timedelta(days=3),
                    )
                )
