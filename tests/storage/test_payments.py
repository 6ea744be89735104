"""`period_standings`: the cover inputs of one account, as `account_periods` would give them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from core.cover import PeriodStanding
from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import session_scope
from storage.models import AccountDue, Payment
from storage.payments import account_periods, period_standings

NOW = datetime(2026, 5, 1, tzinfo=UTC)
POLICIES = load_policies()


def _due(account: str, period: str, due_date: date, total: str) -> AccountDue:
    amount = Decimal(total)
    return AccountDue(
        account_id=account,
        period=period,
        currency="CNY",
        due_date=due_date,
        employees=1,
        employer_total=amount,
        employee_total=Decimal("0.00"),
        total=amount,
        computed_at=NOW,
    )


def _seed(engine: Engine) -> None:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing", "shanghai"])
        session.add_all(
            [
                _due("beijing", "2026-02", date(2026, 2, 15), "1000.00"),
                _due("beijing", "2026-03", date(2026, 3, 15), "1000.00"),
                _due("beijing", "2026-04", date(2026, 4, 15), "1000.00"),
                _due("beijing", "2026-05", date(2026, 5, 15), "1000.00"),
                _due("shanghai", "2026-03", date(2026, 3, 15), "500.00"),
            ]
        )
        session.add_all(
            [
                Payment(account_id="beijing", period="2026-02", amount=Decimal("1000.00"),
                        paid_on=date(2026, 2, 10)),
                # Paid in two parts; the second one completes it.
                Payment(account_id="beijing", period="2026-03", amount=Decimal("400.00"),
                        paid_on=date(2026, 3, 10)),
                Payment(account_id="beijing", period="2026-03", amount=Decimal("600.00"),
                        paid_on=date(2026, 3, 20)),
                # Paid after the evaluation day: not paid yet on that day.
                Payment(account_id="beijing", period="2026-04", amount=Decimal("1000.00"),
                        paid_on=date(2026, 4, 28)),
                Payment(account_id="shanghai", period="2026-03", amount=Decimal("500.00"),
                        paid_on=date(2026, 3, 1)),
            ]
        )  # fmt: skip


def test_standings_are_the_due_dates_and_full_payment_days_up_to_the_month(
    engine: Engine,
) -> None:
    _seed(engine)
    as_of = date(2026, 4, 25)
    with session_scope(engine) as session:
        standings = period_standings(session, "beijing", POLICIES["beijing"], as_of)
    # 2026-05 is after the month asked about; 2026-04 was paid only after `as_of`.
    assert {period: (s.due_date, s.paid_in_full_on) for period, s in standings.items()} == {
        Period(2026, 2): (date(2026, 2, 15), date(2026, 2, 10)),
        Period(2026, 3): (date(2026, 3, 15), date(2026, 3, 20)),
        Period(2026, 4): (date(2026, 4, 15), None),
    }


def test_standings_agree_with_account_periods(engine: Engine) -> None:
    _seed(engine)
    with session_scope(engine) as session:
        accounts = account_policies(session, POLICIES)
        for as_of in (date(2026, 3, 12), date(2026, 4, 30), date(2026, 6, 1)):
            full = {
                item.period: PeriodStanding(
                    due_date=item.due_date, paid_in_full_on=item.paid_in_full_on
                )
                for item in account_periods(session, accounts, as_of)
                if item.account_id == "beijing" and item.period.first_day <= as_of
            }
            assert period_standings(session, "beijing", POLICIES["beijing"], as_of) == full, as_of
