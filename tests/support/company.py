"""A small company for the conversation tests, seeded through the real storage functions.

Two accounts (Beijing, CNY; Hong Kong MPF, HKD), people in every role, three dues runs and
payments that include one late payment and one partial one. The clock stands at
2025-06-25 10:00 Asia/Shanghai: Beijing's 2025-06 dues (due 2025-06-16) are partly unpaid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from core.periods import Period
from core.policy_loader import load_policies
from handlers.context import AppContext
from handlers.pipeline import handle
from handlers.types import Action, Message, Reply
from storage.accounts import account_policies, sync_accounts
from storage.db import ReadSessions, session_scope
from storage.ledger import period_dues, run_dues
from storage.models import Employee, Payment

NOW = datetime(2025, 6, 25, 2, 0, tzinfo=UTC)
"""2025-06-25 10:00 in Asia/Shanghai."""
PERIODS = (Period(2025, 4), Period(2025, 5), Period(2025, 6))
ID_NUMBER = "110101199001011234"
PARTIAL = Decimal("1000.00")

PEOPLE = [
    # employee_id, name, department, role, account, salary, platform ids
    ("E001", "张三", "Engineering", "employee", "beijing", "12000", {"slack_user_id": "U001"}),
    ("E002", "李四", "Engineering", "manager", "beijing", "30000", {"dingtalk_user_id": "D002"}),
    ("E003", "王五", "People", "hr", "beijing", "15000", {"wecom_user_id": "W003"}),
    ("E004", "陈六", "Finance", "finance", "hk", "40000", {}),
    ("E005", "何七", "Sales", "employee", "hk", "20000", {}),
    ("E006", "赵八", "Sales", "manager", "hk", "25000", {}),
]


def seed(engine: Engine) -> None:
    policies = load_policies()
    with session_scope(engine) as session:
        sync_accounts(session, {}, policies, ids=["beijing", "hk"])
        for employee_id, name, department, role, account, salary, ids in PEOPLE:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=name,
                    department=department,
                    manager_id="E002"
                    if department == "Engineering" and role == "employee"
                    else None,
                    account_id=account,
                    hire_date=date(2024, 1, 2),
                    enrolled_on=date(2024, 1, 2),
                    salary=Decimal(salary),
                    role=role,
                    id_number=ID_NUMBER if employee_id == "E001" else None,
                    slack_user_id=ids.get("slack_user_id"),
                    dingtalk_user_id=ids.get("dingtalk_user_id"),
                    wecom_user_id=ids.get("wecom_user_id"),
                )
            )
        # A new hire this month, not enrolled yet.
        session.add(
            Employee(
                employee_id="E007",
                name="孙九",
                department="Engineering",
                account_id="beijing",
                hire_date=date(2025, 6, 3),
                salary=Decimal("9000"),
            )
        )
        session.flush()
        accounts = account_policies(session, policies)
        for period in PERIODS:
            run_dues(session, period, accounts, now=NOW)
    with session_scope(engine) as session:
        totals = {
            (d.account_id, d.period): d.total for p in PERIODS for d in period_dues(session, p)
        }
        payments = [
            ("beijing", "2025-04", totals[("beijing", "2025-04")], date(2025, 4, 10)),
            # Late: Beijing's 2025-05 dues fell due on 2025-05-15.
            ("beijing", "2025-05", totals[("beijing", "2025-05")], date(2025, 5, 25)),
            # Partial: 2025-06 (due 2025-06-16) is still mostly unpaid.
            ("beijing", "2025-06", PARTIAL, date(2025, 6, 10)),
            ("hk", "2025-04", totals[("hk", "2025-04")], date(2025, 5, 8)),
            ("hk", "2025-05", totals[("hk", "2025-05")], date(2025, 6, 9)),
        ]
        for account_id, period_key, amount, paid_on in payments:
            session.add(
                Payment(account_id=account_id, period=period_key, amount=amount, paid_on=paid_on)
            )


def make_app(engine: Engine) -> AppContext:
    return AppContext(engine=engine, policies=load_policies(), clock=lambda: NOW)


Ask = Callable[..., Reply]


def asker(app: AppContext, reads: ReadSessions | None = None) -> Ask:
    """`ask(user, text)`: one message through the real pipeline (console ids are employee ids);
    `reads`: what a handler worker's loop passes `handle`."""
    counter = iter(range(1, 1_000_000))

    def ask(
        user_id: str,
        text: str,
        *,
        platform: str = "console",
        is_direct: bool = True,
        locale: str | None = None,
    ) -> Reply:
        message = Message(
            platform=platform,
            user_id=user_id,
            conversation_id="D" if is_direct else "G-team",
            is_direct=is_direct,
            text=text,
            event_id=f"ev-{next(counter)}",
            locale=locale,
        )
        return handle(app, message, reads)

    return ask


def click(app: AppContext, user_id: str, action_id: str, value: str) -> Reply:
    action = Action(
        platform="console",
        user_id=user_id,
        conversation_id="G-hr",
        action_id=action_id,
        value=value,
        event_id=f"click-{user_id}-{value}",
    )
    return handle(app, action)
