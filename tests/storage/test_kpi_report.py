"""KPI figures on the hand-built company (`tests/support/kpi_company.py`), worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies
from storage.db import session_scope
from storage.kpi_report import gather
from storage.kpi_types import KpiReport, Money, View
from storage.models import Account
from tests.support.kpi_company import AS_OF, ZONE, seed

MARCH, APRIL, MAY = Period(2025, 3), Period(2025, 4), Period(2025, 5)


@pytest.fixture
def report(engine: Engine) -> KpiReport:
    seed(engine)
    with session_scope(engine) as session:
        accounts = account_policies(session, load_policies())
        return gather(
            session, accounts, period=MAY, months=3, as_of=AS_OF, sla_minutes=60, timezone=ZONE
        )


def test_window_and_views(report: KpiReport) -> None:
    assert report.months == (MARCH, APRIL, MAY)
    assert report.names(View.ACCOUNT) == ["beijing"]
    assert report.names(View.DEPARTMENT) == ["Eng", "People", "Sales"]
    assert [row.period for row in report.series(View.COMPANY)] == [MARCH, APRIL, MAY]


def test_on_time_rate_and_accuracy(report: KpiReport) -> None:
    # March paid in full on the 10th (due the 15th); April paid on the 25th; May short.
    rates = [(r.kpis.on_time_rate, r.kpis.payment_accuracy) for r in report.series(View.COMPANY)]
    assert rates == [
        (Decimal("1.0000"), Decimal("1.0000")),
        (Decimal("0.0000"), Decimal("1.0000")),  # late, but to the cent
        (Decimal("0.0000"), Decimal("0.0000")),  # 1500 paid of 2000
    ]


def test_enrollment_timeliness_counts_the_months_hires(report: KpiReport) -> None:
    # X1 enrolled in time, X2 14 days after the deadline, X3 never: 1 of 3.
    assert report.row(View.DEPARTMENT, "Eng", MARCH).kpis.enrollment_timeliness == Decimal("0.3333")
    assert report.row(View.DEPARTMENT, "Sales", MARCH).kpis.enrollment_timeliness is None
    assert report.row(View.COMPANY, period=APRIL).kpis.enrollment_timeliness is None


def test_acknowledgement_company_wide(report: KpiReport) -> None:
    # Acknowledged after 10, 50, 120 min; one open for days: a miss against the 60-min SLA.
    ack = report.row(View.COMPANY).kpis.ack
    assert ack.acknowledged == 3
    assert ack.mean == timedelta(minutes=60)
    assert ack.p90 == timedelta(minutes=120)  # nearest rank ⌈0.9·3⌉ = 3rd
    assert ack.within_sla == Decimal("0.5000")  # 2 of (3 acknowledged + 1 open)


def test_acknowledgement_per_scope(report: KpiReport) -> None:
    # beijing: its two account alerts and X3's (insured there); not the Sales KPI alert.
    beijing = report.row(View.ACCOUNT, "beijing").kpis.ack
    assert (beijing.acknowledged, beijing.mean, beijing.within_sla) == (
        2,
        timedelta(minutes=30),
        Decimal("0.6667"),
    )
    # Sales: the beijing account alerts (its people are insured there) and its own KPI alert.
    sales = report.row(View.DEPARTMENT, "Sales").kpis.ack
    assert (sales.acknowledged, sales.p90, sales.within_sla) == (
        2,
        timedelta(minutes=120),
        Decimal("0.3333"),
    )
    assert report.row(View.DEPARTMENT, "Eng").kpis.ack.within_sla == Decimal("0.6667")


def test_arrears_and_late_fees(report: KpiReport) -> None:
    april = report.row(View.ACCOUNT, "beijing", APRIL).money
    may = report.row(View.ACCOUNT, "beijing", MAY).money
    # April's principal was paid 10 days late; of its 5.00 fee a late-fee payment paid 3.00.
    assert april == (
        Money(
            account="beijing",
            currency="CNY",
            arrears=Decimal("0.00"),
            late_fees_accrued=Decimal("5.00"),
            late_fees_paid=Decimal("3.00"),
            late_fees_accruing=Decimal("2.00"),
        ),
    )
    assert (
        may[0].arrears,
        may[0].late_fees_accrued,
        may[0].late_fees_paid,
        may[0].late_fees_accruing,
    ) == (Decimal("500.00"), Decimal("4.00"), Decimal("0.00"), Decimal("4.00"))


def test_department_money_is_its_share_of_the_accounts_dues(report: KpiReport) -> None:
    # Eng's people owe 1500 of May's 2000: three quarters of the arrears and the fee.
    eng = report.row(View.DEPARTMENT, "Eng").by_currency()["CNY"]
    sales = report.row(View.DEPARTMENT, "Sales").by_currency()["CNY"]
    assert (eng.arrears, eng.late_fees_accruing) == (Decimal("375.00"), Decimal("3.00"))
    assert (sales.arrears, sales.late_fees_accruing) == (Decimal("125.00"), Decimal("1.00"))
    # No ledger lines in April: no share to attribute.
    assert report.row(View.DEPARTMENT, "Eng", APRIL).money == ()


def test_money_from_a_provisional_rule_is_an_estimate(engine: Engine) -> None:
    """Issue 13: the account's dues rest on Hangzhou's carried-over medical band, so its
    arrears and late fees are estimates (core.estimates) in every view that shares them."""
    seed(engine)
    with session_scope(engine) as session:
        assert not any(row.estimated for row in _gather(session).rows)
        account = session.get(Account, "beijing")
        assert account is not None
        account.policy_id = "hangzhou"
        session.flush()
        report = _gather(session)
    may = report.row(View.COMPANY)
    assert may.money and all(money.estimated for money in may.money)
    assert may.estimated and all(m.estimated for m in may.by_currency().values())
    assert all(row.estimated for row in report.view(View.DEPARTMENT) if row.money)


def _gather(session: Session) -> KpiReport:
    accounts = account_policies(session, load_policies())
    return gather(
        session, accounts, period=MAY, months=3, as_of=AS_OF, sla_minutes=60, timezone=ZONE
    )
