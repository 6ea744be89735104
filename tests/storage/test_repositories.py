"""Repository functions on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.alerts import AlertState
from core.contributions import contribution
from core.cover import CoverState
from core.periods import Period
from core.policy import AccountSettings
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.alerts import acknowledge, alerts_in_scope, in_scope
from storage.coverage import employee_cover
from storage.db import session_scope
from storage.employees import by_platform_user
from storage.ledger import employee_lines, owes_dues, period_dues, run_dues
from storage.models import Alert, AlertEvent, Employee, LedgerLine, Payment
from storage.payments import arrears

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
POLICIES = load_policies()


def _seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing", "hk"])
        people = [
            ("E1", "beijing", "20000", "Sales", None, "manager", date(2025, 1, 1)),
            ("E2", "beijing", "5000", "Sales", "E1", "employee", date(2025, 1, 1)),
            ("E3", "hk", "40000", "Ops", None, "hr", date(2025, 1, 1)),
            ("E4", "beijing", "9000", "Ops", "E3", "employee", None),
        ]
        for emp_id, account, salary, dept, manager, role, enrolled in people:
            session.add(
                Employee(
                    employee_id=emp_id,
                    name=f"Name {emp_id}",
                    department=dept,
                    manager_id=manager,
                    account_id=account,
                    hire_date=date(2025, 1, 1),
                    enrolled_on=enrolled,
                    salary=Decimal(salary),
                    role=role,
                    slack_user_id=f"U{emp_id}",
                )
            )


def test_dues_run_is_idempotent_and_exact(engine: Engine) -> None:
    _seed(engine)
    period = Period(2026, 10)
    for _ in range(2):
        with session_scope(engine) as session:
            run = run_dues(session, period, account_policies(session, POLICIES), now=NOW)
    assert run.employees == 3
    with session_scope(engine) as session:
        assert (
            session.exec(select(func.count()).select_from(LedgerLine)).one() == 2 * 5 + 1
        )  # beijing 5 schemes, hk mpf
        lines = {line.scheme: line for line in employee_lines(session, period, "E1")}
        assert lines["pension"].employee == Decimal("1600.00")
        assert sum(line.employee for line in lines.values()) == Decimal("2103.00")
        beijing = next(d for d in period_dues(session, period) if d.account_id == "beijing")
        assert beijing.employees == 2
        assert beijing.due_date == date(2026, 10, 15)
        assert beijing.total == beijing.employer_total + beijing.employee_total


def test_arrears_coverage_and_alert_scope(engine: Engine) -> None:
    _seed(engine)
    period = Period(2026, 10)
    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        run_dues(session, period, accounts, now=NOW)
        beijing = next(d for d in period_dues(session, period) if d.account_id == "beijing")
        session.add(
            Payment(
                account_id="beijing",
                period="2026-10",
                amount=Decimal("100.00"),
                paid_on=date(2026, 10, 20),
            )
        )
        session.flush()
        late = arrears(session, accounts, date(2026, 10, 25))
        assert [(a.account_id, a.days_overdue) for a in late] == [("beijing", 10)]
        assert late[0].outstanding == beijing.total - Decimal("100.00")
        e2 = by_platform_user(session, "slack", "UE2")
        assert e2 is not None
        status = employee_cover(session, e2, accounts[e2.account_id], date(2026, 10, 25))
        assert status.state is CoverState.GRACE
        e4 = by_platform_user(session, "console", "E4")
        assert e4 is not None
        assert (
            employee_cover(session, e4, accounts[e4.account_id], date(2026, 10, 25)).state
            is CoverState.NOT_ENROLLED
        )

        alert = Alert(
            dedupe_key="overdue|account=beijing|period=2026-10",
            kind="overdue",
            account_id="beijing",
            period="2026-10",
            opened_at=NOW,
            updated_at=NOW,
        )
        session.add(alert)
        session.flush()
        manager, hr = session.get(Employee, "E1"), session.get(Employee, "E3")
        assert manager is not None and hr is not None and e2 is not None
        assert in_scope(session, manager, alert) and in_scope(session, hr, alert)
        assert not in_scope(session, e2, alert)
        assert alerts_in_scope(session, e2) == []
        assert acknowledge(session, alert, by="E1", via="slack", at=NOW)
        assert not acknowledge(session, alert, by="E3", via="slack", at=NOW)
        assert alert.state == AlertState.ACKNOWLEDGED
        events = session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert.id)).all()
        assert [(e.event, e.actor, e.platform) for e in events] == [("acknowledged", "E1", "slack")]


def test_money_is_exact_and_refuses_floats(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as session:
        session.add(
            Payment(
                account_id="hk", period="2026-10", amount=Decimal("0.10"), paid_on=date(2026, 10, 1)
            )
        )
        session.add(
            Payment(
                account_id="hk", period="2026-10", amount=Decimal("0.20"), paid_on=date(2026, 10, 2)
            )
        )
    with session_scope(engine) as session:
        total = session.exec(select(func.sum(Payment.amount))).one()
        assert total is not None
        assert total == Decimal("0.30")  # summed as integer cents, read back exact
    with pytest.raises(Exception, match=r"float|decimals"):  # noqa: SIM117
        with session_scope(engine) as session:
            session.add(
                Payment(account_id="hk", period="2026-10", amount=0.1, paid_on=date(2026, 10, 3))
            )  # type: ignore[arg-type]


def _employee(employee_id: str, account: str, salary: str, **dates: date | None) -> Employee:
    return Employee(
        employee_id=employee_id,
        name=employee_id,
        account_id=account,
        hire_date=date(2020, 1, 1),
        salary=Decimal(salary),
        enrolled_on=dates.get("enrolled_on", date(2024, 1, 1)),
        leave_date=dates.get("leave_date"),
    )


def test_dues_run_stores_exactly_what_contribution_computes(engine: Engine) -> None:
    """The bulk path (columns, rules once per account, cents straight to the driver) against
    `contribution` per employee: same lines in the same order, same totals, same employees."""
    period = Period(2026, 10)
    configured = {
        "beijing": AccountSettings(
            account_id="beijing", policy_id="beijing", injury_rate=Decimal("0.004")
        ),
        "shanghai": AccountSettings(
            account_id="shanghai", policy_id="shanghai", housing_fund_rate=Decimal("0.07")
        ),
    }
    salaries = ("0", "3000.01", "12345.67", "35811", "35811.01", "99999.99", "7099.99", "7100")
    people = [
        _employee(f"E{account[:2]}{index}", account, salary)
        for account in ("beijing", "shanghai", "hk")
        for index, salary in enumerate(salaries)
    ]
    people += [
        _employee("X-enrolled-last-day", "beijing", "9000", enrolled_on=period.last_day),
        _employee("X-enrolled-after", "beijing", "9000", enrolled_on=date(2026, 11, 1)),
        _employee("X-never-enrolled", "beijing", "9000", enrolled_on=None),
        _employee("X-left-first-day", "hk", "9000", leave_date=period.first_day),
        _employee("X-left-before", "hk", "9000", leave_date=date(2026, 9, 30)),
    ]
    with session_scope(engine) as session:
        sync_accounts(session, configured, POLICIES, ids=["hk"])
        session.add_all(people)
    progress: list[tuple[int, int]] = []
    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        run = run_dues(session, period, accounts, now=NOW, progress=lambda *p: progress.append(p))
    owing = sorted(
        (e for e in people if owes_dues(e, period)), key=lambda employee: employee.employee_id
    )
    assert [e.employee_id for e in owing if e.employee_id.startswith("X")] == [
        "X-enrolled-last-day",
        "X-left-first-day",
    ]
    expected = []
    for employee in owing:
        account = accounts[employee.account_id]
        dues = contribution(account.policy, account.settings, employee.salary, period)
        expected += [
            (employee.employee_id, str(line.scheme), line.base, line.employer, line.employee)
            for line in dues.lines
        ]
    with session_scope(engine) as session:
        stored = session.exec(select(LedgerLine).order_by(col(LedgerLine.id))).all()
        assert [(s.employee_id, s.scheme, s.base, s.employer, s.employee) for s in stored] == (
            expected
        )
        totals = {due.account_id: due for due in period_dues(session, period)}
    assert progress[-1] == (len(owing), len(owing))
    assert run.employees == len(owing)
    for account_id, due in totals.items():
        lines = [s for s in stored if s.account_id == account_id]
        assert due.employer_total == sum(line.employer for line in lines)
        assert due.employee_total == sum(line.employee for line in lines)
        assert due.employees == len({line.employee_id for line in lines})


def test_dues_run_checks_only_the_accounts_someone_is_enrolled_in(engine: Engine) -> None:
    # Shenzhen has no pension band yet in 2025-03 (tests/core/test_contributions.py): with
    # nobody enrolled there, there is nothing to refuse.
    period = Period(2025, 3)
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing", "shenzhen"])
        session.add(_employee("E1", "beijing", "9000"))
    with session_scope(engine) as session:
        assert run_dues(session, period, account_policies(session, POLICIES), now=NOW).employees
    with session_scope(engine) as session:
        session.add(_employee("E2", "shenzhen", "9000"))
    refused = pytest.raises(ValueError, match="no band for injury, pension, unemployment")
    with refused, session_scope(engine) as session:
        run_dues(session, period, account_policies(session, POLICIES), now=NOW)
