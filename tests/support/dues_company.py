"""A small company for the `report dues` tests: three accounts, two currencies, Chinese names.

Twelve people on Beijing, Shanghai and Hong Kong (HKD), one above Beijing's ceiling, one not
enrolled and one who left before the period, with the 2026-06 dues computed by `run_dues`.
`seed(engine, extra=N)` adds N generated people, a quarter of them enrolled since 2024 and the
rest from June 2026, with May's dues as well: two report sizes in one database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from core.periods import Period
from core.policy import AccountSettings
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import session_scope
from storage.ledger import run_dues
from storage.models import Employee

PERIOD = Period(2026, 6)
EARLIER = Period(2026, 5)
NOW = datetime(2026, 6, 20, 2, 0, tzinfo=UTC)
ACCOUNTS = ("beijing", "shanghai", "hk")
SHANGHAI = AccountSettings(
    account_id="shanghai", policy_id="shanghai", injury_rate=Decimal("0.002")
)
"""The reports' golden files were written at a 0.2 % injury class, Shanghai's default until the
policy's range was corrected to 0.16-1.52 %: still a valid class, set explicitly."""
HIRED = date(2024, 3, 1)
# employee id, name, department, account, salary, enrolled, leave date
PEOPLE: tuple[tuple[str, str, str, str, str, date | None, date | None], ...] = (
    ("E0001", "王伟", "研发部", "beijing", "25000", HIRED, None),
    ("E0002", "李娜", "研发部", "beijing", "48000", HIRED, None),  # above the ceiling
    ("E0003", "张敏", "销售部", "beijing", "6000", HIRED, None),  # below the floor
    ("E0004", "刘洋", "", "beijing", "12000.50", HIRED, None),
    ("E0005", "陈静", "市场部", "shanghai", "18000", HIRED, None),
    ("E0006", "杨磊", "市场部", "shanghai", "9000", HIRED, None),
    ("E0007", "黄杰", "销售部", "shanghai", "30000", None, None),  # not enrolled
    ("E0008", "赵勇", "销售部", "shanghai", "15000", HIRED, date(2026, 3, 31)),  # left
    ("E0009", "Grace Chan", "Hong Kong", "hk", "28000", HIRED, None),
    ("E0010", "Kelvin Wong", "Hong Kong", "hk", "6500", HIRED, None),  # below MPF minimum
    ("E0011", "Emily Lau", "Hong Kong", "hk", "45000", HIRED, None),
    ("E0012", "周涛", "研发部", "beijing", "33000", HIRED, date(2026, 6, 15)),  # leaves in June
)


def seed(engine: Engine, extra: int = 0) -> None:
    """The twelve people, `extra` generated Beijing and Shanghai staff, and the dues."""
    policies = load_policies()
    with session_scope(engine) as session:
        sync_accounts(session, {"shanghai": SHANGHAI}, policies, ids=list(ACCOUNTS))
        for employee_id, name, department, account, salary, enrolled, left in PEOPLE:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=name,
                    department=department,
                    account_id=account,
                    hire_date=HIRED,
                    enrolled_on=enrolled,
                    salary=Decimal(salary),
                    leave_date=left,
                )
            )
        for index in range(extra):
            session.add(
                Employee(
                    employee_id=f"G{index:06d}",
                    name=f"员工{index}",
                    department=f"部门{index % 17}",
                    account_id=ACCOUNTS[index % 2],
                    hire_date=HIRED,
                    enrolled_on=HIRED if index % 4 == 0 else PERIOD.first_day,
                    salary=Decimal(5000 + index * 37 % 30000),
                )
            )
        session.flush()
        accounts = account_policies(session, policies)
        for period in (EARLIER, PERIOD) if extra else (PERIOD,):
            run_dues(session, period, accounts, now=NOW)
