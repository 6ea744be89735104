"""Ledgers keep their history: recomputing after the due date adds an adjustment (补差).

The issue's scenario, to the cent: Beijing 2025-07..09 paid on time at the 2024 band
(2526.78 for one employee at the floor), recomputed at the 2025 band (published 2025-09-18)
on 2025-09-20: each month owes 126.16 more, due 2025-10-15, with no late fee and cover
active before then, and a late fee from then on. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.json_output import dues_json
from core.cover import CoverState, continuity
from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import AccountPolicy, account_policies, sync_accounts
from storage.audit import audit_entries
from storage.coverage import employee_cover
from storage.db import session_scope
from storage.ledger import period_dues, run_dues, void_period
from storage.models import Employee, LedgerLine, Payment
from storage.payments import account_periods, arrears

POLICIES = load_policies()
BEIJING = POLICIES["beijing"]
BAND_2024 = replace(
    BEIJING, versions=tuple(v for v in BEIJING.versions if v.effective < date(2025, 7, 1))
)
MONTHS = (Period(2025, 7), Period(2025, 8), Period(2025, 9))
PUBLISHED = date(2025, 9, 20)
D = Decimal


def _at(day: date) -> datetime:
    return datetime.combine(day, time(2, 0), tzinfo=UTC)


def _seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing"])
        session.add(
            Employee(
                employee_id="E1",
                name="王芳",
                account_id="beijing",
                hire_date=date(2025, 1, 2),
                enrolled_on=date(2025, 1, 2),
                salary=D("6000"),  # below both floors: the base is the band's floor
            )
        )


def _accounts(session: Session, *, published: bool) -> dict[str, AccountPolicy]:
    accounts = account_policies(session, POLICIES)
    if published:
        return accounts
    return {k: replace(a, policy=BAND_2024) for k, a in accounts.items()}


def _run(engine: Engine, period: Period, day: date, *, published: bool) -> None:
    with session_scope(engine) as session:
        accounts = _accounts(session, published=published)
        run_dues(session, period, accounts, now=_at(day), today=day, actor="test")


def _pay(engine: Engine, period: Period, amount: str, day: date, kind: str = "dues") -> None:
    with session_scope(engine) as session:
        session.add(
            Payment(
                account_id="beijing", period=str(period), amount=D(amount), paid_on=day, kind=kind
            )
        )


def _paid_on_time_at_the_old_band(engine: Engine) -> None:
    _seed(engine)
    for month in MONTHS:
        _run(engine, month, month.day(1), published=False)
        _pay(engine, month, "2526.78", month.day(10))


def _periods(engine: Engine, as_of: date) -> dict[Period, object]:
    with session_scope(engine) as session:
        return {
            p.period: p for p in account_periods(session, _accounts(session, published=True), as_of)
        }


def test_back_dated_band_adds_adjustments_due_at_the_next_collection(engine: Engine) -> None:
    _paid_on_time_at_the_old_band(engine)
    for month in MONTHS:
        _run(engine, month, PUBLISHED, published=True)

    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        for month in MONTHS:
            (row,) = dues_json(session, month, accounts)["accounts"]
            assert row["total"] == "2652.94"  # what the period owes now
            assert row["due_date"] == month.day(15).isoformat()  # the original due date stays
            assert row["adjustments"] == [
                {"amount": "126.16", "due_date": "2025-10-15", "computed_on": "2025-09-20"}
            ]
            bases = {
                line.base for line in session.exec(select(LedgerLine)) if line.period == str(month)
            }
            assert D("7162.00") in bases  # the employee lines show the new band
        adjusted = [e for e in audit_entries(session) if e.action == "ledger.adjust"]
        assert len(adjusted) == 3
        assert all(e.actor == "test" and "+126.16 due 2025-10-15" in e.detail for e in adjusted)


@pytest.mark.parametrize("as_of", [PUBLISHED, date(2025, 10, 14), date(2025, 10, 15)])
def test_no_late_fee_and_cover_active_before_the_adjustment_is_due(
    engine: Engine, as_of: date
) -> None:
    _paid_on_time_at_the_old_band(engine)
    for month in MONTHS:
        _run(engine, month, PUBLISHED, published=True)

    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        periods = [p for p in account_periods(session, accounts, as_of) if p.period in MONTHS]
        assert [(p.late_fee, p.outstanding, p.due_date) for p in periods] == [
            (D("0.00"), D("126.16"), date(2025, 10, 15))
        ] * 3
        assert arrears(session, accounts, as_of) == []
        employee = session.get(Employee, "E1")
        assert employee is not None
        cover = employee_cover(session, employee, accounts[employee.account_id], as_of)
        assert cover.state is CoverState.ACTIVE
        # The original dues are paid: an adjustment not due yet leaves the months paid.
        assert cover.paid_through == MONTHS[-1]
        assert continuity(cover, employee.enrolled_on).since == Period(2025, 1)


def test_late_fee_runs_on_the_adjustment_from_its_own_due_date(engine: Engine) -> None:
    _paid_on_time_at_the_old_band(engine)
    for month in MONTHS:
        _run(engine, month, PUBLISHED, published=True)
    as_of = date(2025, 10, 25)  # 10 days late: 126.16 x 0.05 % x 10 = 0.6308

    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        late = arrears(session, accounts, as_of)
        assert [(p.period, p.late_fee, p.days_overdue) for p in late] == [
            (month, D("0.63"), 10) for month in MONTHS
        ]
        assert all(p.suspension_on == date(2025, 10, 30) for p in late)
        employee = session.get(Employee, "E1")
        assert employee is not None
        cover = employee_cover(session, employee, accounts[employee.account_id], as_of)
        assert cover.state is CoverState.GRACE
        assert cover.paid_through is None  # the unpaid adjustment of 2025-07 is past due


def test_paying_the_adjustment_by_its_due_date_owes_nothing(engine: Engine) -> None:
    _paid_on_time_at_the_old_band(engine)
    _run(engine, MONTHS[0], PUBLISHED, published=True)
    _pay(engine, MONTHS[0], "126.16", date(2025, 10, 15))

    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        (july,) = [
            p
            for p in account_periods(session, accounts, date(2025, 12, 1))
            if p.period == MONTHS[0]
        ]
        assert (july.late_fee, july.outstanding, july.paid) == (D("0.00"), D("0.00"), D("2652.94"))


def test_the_original_keeps_its_late_fee_from_the_original_due_date(engine: Engine) -> None:
    _seed(engine)
    july = MONTHS[0]
    _run(engine, july, july.day(1), published=False)  # never paid
    _run(engine, july, PUBLISHED, published=True)
    as_of = date(2025, 7, 25)  # before the recompute: 10 days on 2526.78 = 12.6339

    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        (item,) = account_periods(session, accounts, as_of)
        assert (item.late_fee, item.due_date) == (D("12.63"), date(2025, 7, 15))
        (item,) = account_periods(session, accounts, date(2025, 10, 25))
        # 102 days on the original (07-16..10-25) + 10 days on the adjustment.
        assert item.late_fee == D("128.87") + D("0.63")  # 128.8658 + 0.6308
        assert item.outstanding == D("2652.94")


def test_a_recompute_before_the_due_date_replaces(engine: Engine) -> None:
    _seed(engine)
    july = MONTHS[0]
    _run(engine, july, date(2025, 7, 1), published=False)
    _run(engine, july, date(2025, 7, 15), published=True)  # the due date itself: still replaces

    with session_scope(engine) as session:
        (row,) = dues_json(session, july, account_policies(session, POLICIES))["accounts"]
        assert (row["total"], row["adjustments"]) == ("2652.94", [])
        actions = [e.action for e in audit_entries(session)]
        assert actions == ["ledger.compute", "ledger.replace"]


def test_a_lower_band_is_a_credit(engine: Engine) -> None:
    _seed(engine)
    july = MONTHS[0]
    _run(engine, july, july.day(1), published=True)
    _pay(engine, july, "2652.94", july.day(10))
    _run(engine, july, PUBLISHED, published=False)  # recomputed at a lower band

    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        (row,) = dues_json(session, july, accounts)["accounts"]
        assert row["total"] == "2526.78"
        assert row["adjustments"] == [
            {"amount": "-126.16", "due_date": "2025-10-15", "computed_on": "2025-09-20"}
        ]
        (item,) = account_periods(session, accounts, date(2025, 12, 1))
        assert (item.outstanding, item.late_fee) == (D("0.00"), D("0.00"))


def test_an_unpaid_period_with_a_credit_owes_less_from_the_credit_day(engine: Engine) -> None:
    _seed(engine)
    july = MONTHS[0]
    _run(engine, july, july.day(1), published=True)
    _run(engine, july, PUBLISHED, published=False)

    with session_scope(engine) as session:
        (item,) = account_periods(session, account_policies(session, POLICIES), date(2025, 9, 21))
        # 2652.94 x 67 days (07-16..09-20) + 2526.78 x 1 day (09-21), at 0.05 %.
        assert item.outstanding == D("2526.78")
        assert item.late_fee == D("90.14")


def test_void_removes_an_unpaid_period_and_is_audited(engine: Engine) -> None:
    _seed(engine)
    mistyped = Period(2030, 1)
    with session_scope(engine) as session:
        run_dues(
            session, mistyped, account_policies(session, POLICIES), now=_at(PUBLISHED), actor="t"
        )
    with session_scope(engine) as session:
        assert void_period(session, mistyped, now=_at(PUBLISHED), actor="cli:hr") == 1
    with session_scope(engine) as session:
        assert period_dues(session, mistyped) == []
        assert not [line for line in session.exec(select(LedgerLine))]
        (entry,) = [e for e in audit_entries(session) if e.action == "ledger.void"]
        assert (entry.actor, entry.detail) == ("cli:hr", "2030-01: ledger removed for beijing")


def test_void_is_refused_once_something_was_paid(engine: Engine) -> None:
    _paid_on_time_at_the_old_band(engine)
    with session_scope(engine) as session:
        with pytest.raises(ValueError, match=r"2025-07 has 1 payment\(s\) recorded against it"):
            void_period(session, MONTHS[0], now=_at(PUBLISHED), actor="cli:hr")
        with pytest.raises(ValueError, match="2025-10 has no ledger to void"):
            void_period(session, Period(2025, 10), now=_at(PUBLISHED), actor="cli:hr")
    with session_scope(engine) as session:
        assert len(period_dues(session, MONTHS[0])) == 1
