"""A hand-built company whose KPI figures are worked out by hand (see the test docstrings).

One Beijing account (late fee 0.05 %/day), three months of dues with round totals written
directly (no dues run), payments that are on time, late and short, three March hires and four
May alerts. The report is taken on 2025-05-31 12:00 Asia/Shanghai.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.policy_loader import load_policies
from storage.accounts import sync_accounts
from storage.db import session_scope
from storage.models import AccountDue, Alert, Employee, LedgerLine, Payment

ZONE = ZoneInfo("Asia/Shanghai")
AS_OF = datetime(2025, 5, 31, 4, 0, tzinfo=UTC)
"""2025-05-31 12:00 in Shanghai."""
MAY_16 = datetime(2025, 5, 16, 1, 0, tzinfo=UTC)

# employee id, department, role, hire date, enrolled on, platform ids
PEOPLE: tuple[tuple[str, str, str, date, date | None, dict[str, str]], ...] = (
    ("A1", "Eng", "employee", date(2024, 1, 2), date(2024, 1, 2), {}),
    ("A2", "Eng", "employee", date(2024, 1, 2), date(2024, 1, 2), {}),
    (
        "M1",
        "Eng",
        "manager",
        date(2024, 1, 2),
        date(2024, 1, 2),
        {"slack_user_id": "UM1", "dingtalk_user_id": "0123456789001"},
    ),
    ("B1", "Sales", "employee", date(2024, 1, 2), date(2024, 1, 2), {}),
    ("M2", "Sales", "manager", date(2024, 1, 2), date(2024, 1, 2), {"wecom_user_id": "lisi"}),
    ("H1", "People", "hr", date(2024, 1, 2), date(2024, 1, 2), {"slack_user_id": "UH1"}),
    # March hires: on time, 14 days late, never enrolled.
    ("X1", "Eng", "employee", date(2025, 3, 1), date(2025, 3, 20), {}),
    ("X2", "Eng", "employee", date(2025, 3, 2), date(2025, 4, 15), {}),
    ("X3", "Eng", "employee", date(2025, 3, 5), None, {}),
)
DUES = {"2025-03": "1000.00", "2025-04": "1000.00", "2025-05": "2000.00"}
PAYMENTS = (
    ("2025-03", "1000.00", date(2025, 3, 10)),  # on time, exact
    ("2025-04", "1000.00", date(2025, 4, 25)),  # 10 days late: 1000 × 0.0005 × 10 = 5.00
    ("2025-05", "1500.00", date(2025, 5, 10)),  # short by 500: 500 × 0.0005 × 16 = 4.00
)
LATE_FEE_PAYMENTS = (("2025-04", "3.00", date(2025, 4, 28)),)  # 3.00 of April's 5.00 fee
# May ledger: Eng owes 1500 of the 2000 (A1 1000, A2 500), Sales 500 (B1).
MAY_LINES = (("A1", "800.00", "200.00"), ("A2", "400.00", "100.00"), ("B1", "300.00", "200.00"))


def seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_accounts(session, {}, load_policies(), ids=["beijing"])
        for employee_id, department, role, hired, enrolled, ids in PEOPLE:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=employee_id,
                    department=department,
                    role=role,
                    account_id="beijing",
                    hire_date=hired,
                    enrolled_on=enrolled,
                    salary=Decimal("10000"),
                    slack_user_id=ids.get("slack_user_id"),
                    dingtalk_user_id=ids.get("dingtalk_user_id"),
                    wecom_user_id=ids.get("wecom_user_id"),
                )
            )
        session.flush()
        for period, total in DUES.items():
            session.add(
                AccountDue(
                    account_id="beijing",
                    period=period,
                    currency="CNY",
                    due_date=date(int(period[:4]), int(period[5:]), 15),
                    employees=3,
                    employer_total=Decimal(total),
                    employee_total=Decimal("0.00"),
                    total=Decimal(total),
                    computed_at=AS_OF,
                )
            )
        for period, amount, paid_on in PAYMENTS:
            session.add(
                Payment(
                    account_id="beijing", period=period, amount=Decimal(amount), paid_on=paid_on
                )
            )
        for period, amount, paid_on in LATE_FEE_PAYMENTS:
            session.add(
                Payment(
                    account_id="beijing",
                    period=period,
                    amount=Decimal(amount),
                    paid_on=paid_on,
                    kind="late_fee",
                )
            )
        for employee_id, employer, employee in MAY_LINES:
            session.add(
                LedgerLine(
                    employee_id=employee_id,
                    account_id="beijing",
                    period="2025-05",
                    scheme="pension",
                    base=Decimal("10000.00"),
                    employer=Decimal(employer),
                    employee=Decimal(employee),
                )
            )
        _alerts(session)


def _alerts(session: Session) -> None:
    """May: acknowledged after 10, 50 and 120 minutes, and one never acknowledged."""
    rows = (
        ("overdue|beijing", {"account_id": "beijing"}, MAY_16, 10),
        ("enrol|X3", {"employee_id": "X3"}, MAY_16 - timedelta(days=6), 50),
        ("suspension|beijing", {"account_id": "beijing"}, MAY_16 + timedelta(days=4), None),
        ("kpi|Sales", {"department": "Sales"}, MAY_16 + timedelta(days=9), 120),
    )
    for key, subject, opened, minutes in rows:
        acked = None if minutes is None else opened + timedelta(minutes=minutes)
        session.add(
            Alert(
                dedupe_key=key,
                kind="overdue",
                state="open" if acked is None else "acknowledged",
                opened_at=opened,
                updated_at=opened,
                acknowledged_at=acked,
                account_id=subject.get("account_id"),
                employee_id=subject.get("employee_id"),
                department=subject.get("department"),
            )
        )
