"""Money received and what is still owed: payments, balances and arrears per account-period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from core.cover import PeriodStanding
from core.late_fees import Payment as CorePayment
from core.late_fees import late_fee
from core.periods import Period
from core.policy import Policy
from storage.accounts import AccountPolicy
from storage.models import AccountDue, Balance, Payment

ZERO = Decimal("0.00")


@dataclass(frozen=True, kw_only=True)
class AccountPeriod:
    """One account-period's dues with what has been paid and what it costs to be late."""

    account_id: str
    period: Period
    currency: str
    due_date: date
    total: Decimal
    paid: Decimal
    outstanding: Decimal
    late_fee: Decimal
    days_overdue: int
    suspension_on: date | None
    """None where the policy suspends no cover (Hong Kong MPF)."""
    payments: tuple[CorePayment, ...]
    paid_in_full_on: date | None
    """The day cumulative payments reached the total (None while anything is unpaid)."""

    @property
    def fully_paid(self) -> bool:
        return self.outstanding <= ZERO

    @property
    def paid_on_time(self) -> bool:
        return sum((p.amount for p in self.payments if p.paid_on <= self.due_date), ZERO) >= (
            self.total
        )


def payments_by_account_period(
    session: Session, account_id: str | None = None
) -> dict[tuple[str, str], list[CorePayment]]:
    query = select(Payment)
    if account_id is not None:
        query = query.where(Payment.account_id == account_id)
    grouped: dict[tuple[str, str], list[CorePayment]] = defaultdict(list)
    for row in session.exec(query.order_by(col(Payment.paid_on), col(Payment.id))):
        grouped[(row.account_id, row.period)].append(CorePayment(row.paid_on, row.amount))
    return grouped


def account_periods(
    session: Session, accounts: Mapping[str, AccountPolicy], as_of: date
) -> list[AccountPeriod]:
    """Every stored account-period (oldest first) evaluated on `as_of`, late fee included; one
    employee's cover needs less (`period_standings`)."""
    query = select(AccountDue).order_by(col(AccountDue.period), col(AccountDue.account_id))
    payments = payments_by_account_period(session)
    result = []
    for due in session.exec(query):
        policy = accounts[due.account_id].policy
        received = tuple(payments.get((due.account_id, due.period), ()))
        fee = late_fee(policy, due.total, due.due_date, received, as_of)
        result.append(
            AccountPeriod(
                account_id=due.account_id,
                period=Period.parse(due.period),
                currency=due.currency,
                due_date=due.due_date,
                total=due.total,
                paid=sum((p.amount for p in received if p.paid_on <= as_of), ZERO),
                outstanding=fee.outstanding,
                late_fee=fee.amount,
                days_overdue=fee.days_overdue,
                suspension_on=suspension_on(policy, due.due_date),
                payments=received,
                paid_in_full_on=_paid_in_full_on(due.total, received, as_of),
            )
        )
    return result


# Built once: `coverage` runs these for every question, and building a statement costs more
# than SQLite takes to answer it (docs/PERFORMANCE.md, chat_http).
_ACCOUNT_DUES = select(
    col(AccountDue.period), col(AccountDue.due_date), col(AccountDue.total)
).where(
    col(AccountDue.account_id) == bindparam("account_id"),
    col(AccountDue.period) <= bindparam("through"),  # `YYYY-MM` sorts as text
)
_ACCOUNT_PAYMENTS = (
    select(col(Payment.period), col(Payment.paid_on), col(Payment.amount))
    .where(
        col(Payment.account_id) == bindparam("account_id"),
        col(Payment.paid_on) <= bindparam("as_of"),
    )
    .order_by(col(Payment.paid_on), col(Payment.id))
)


def period_standings(
    session: Session, account_id: str, as_of: date
) -> dict[Period, PeriodStanding]:
    """One account's periods up to `as_of`'s month: due date and the day paid in full.

    All that cover needs (core.cover): `account_periods` also works out every period's late
    fee and suspension day, which a `coverage` question never shows.
    """
    received: dict[str, list[CorePayment]] = defaultdict(list)
    paid = session.exec(_ACCOUNT_PAYMENTS, params={"account_id": account_id, "as_of": as_of})
    for period, paid_on, amount in paid:
        received[period].append(CorePayment(paid_on, amount))
    dues = session.exec(
        _ACCOUNT_DUES, params={"account_id": account_id, "through": str(Period.of(as_of))}
    )
    return {
        Period.parse(period): PeriodStanding(
            due_date=due_date, paid_in_full_on=_paid_in_full_on(total, received[period], as_of)
        )
        for period, due_date, total in dues
    }


def suspension_on(policy: Policy, due_date: date) -> date | None:
    """The day unpaid dues suspend cover, or None when the policy has no suspension rule."""
    if policy.suspension is None:
        return None
    return due_date + timedelta(days=policy.suspension.suspend_after_days)


def _paid_in_full_on(total: Decimal, payments: Sequence[CorePayment], as_of: date) -> date | None:
    running = ZERO
    for payment in payments:
        if payment.paid_on > as_of:
            break
        running += payment.amount
        if running >= total:
            return payment.paid_on
    return None


def arrears(
    session: Session, accounts: Mapping[str, AccountPolicy], as_of: date
) -> list[AccountPeriod]:
    """Account-periods past their due date and not fully paid on `as_of`."""
    return [
        item
        for item in account_periods(session, accounts, as_of)
        if item.due_date < as_of and not item.fully_paid
    ]


def latest_balances(session: Session, as_of: date) -> dict[str, Balance]:
    """The newest balance snapshot per account taken on or before `as_of`."""
    latest: dict[str, Balance] = {}
    query = select(Balance).where(col(Balance.as_of) <= as_of).order_by(col(Balance.as_of))
    for row in session.exec(query):
        latest[row.account_id] = row
    return latest


def payments_for(session: Session, account_id: str, period: Period) -> Sequence[Payment]:
    query = select(Payment).where(Payment.account_id == account_id)
    query = query.where(Payment.period == str(period))
    return session.exec(query.order_by(col(Payment.paid_on))).all()
