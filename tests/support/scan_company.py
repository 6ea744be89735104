"""A Beijing account with two HR users and an employee, its 2026-10 dues computed (due
2026-10-15, suspension from 2026-10-30), and a scan helper: the storage tests of the alert
lifecycle (scan, escalation, groups, silences) all start here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.alert_rules import RuleSettings
from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import session_scope
from storage.ledger import run_dues
from storage.models import Alert, Employee
from storage.routing import Routing
from storage.scan import run_scan

POLICIES = load_policies()
RULES = RuleSettings()
ROUTING = Routing(hr_leads=("HR0",))


def seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing"])
        for emp_id, role, manager in [
            ("HR0", "hr", None),
            ("HR1", "hr", "HR0"),
            ("E1", "employee", "HR1"),
        ]:
            session.add(
                Employee(
                    employee_id=emp_id,
                    name=emp_id,
                    department="People",
                    manager_id=manager,
                    account_id="beijing",
                    hire_date=date(2025, 1, 1),
                    enrolled_on=date(2025, 1, 1),
                    salary=Decimal("10000"),
                    role=role,
                )
            )
        session.flush()
        run_dues(
            session,
            Period(2026, 10),
            account_policies(session, POLICIES),
            now=datetime(2026, 10, 1, tzinfo=UTC),
        )


def scan_time(day: date) -> datetime:
    """When `scan` runs on `day`: 02:00 UTC, 10:00 in Beijing."""
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=2)


def scan(engine: Engine, day: date, routing: Routing = ROUTING) -> list[Alert]:
    """Scan as of `day` at `scan_time(day)`; every alert afterwards, oldest first."""
    run_scan(engine, as_of=day, now=scan_time(day), policies=POLICIES, rules=RULES, routing=routing)
    with session_scope(engine) as session:
        return list(session.exec(select(Alert).order_by(Alert.id)))
