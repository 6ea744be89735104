"""Money received and what is still owed: payments, balances and arrears per account-period.

A period recomputed after its due date owes its original dues from the original due date and
each adjustment (补差) from the adjustment's own due date (storage.ledger); payments settle the
oldest charge first (core.late_fees.period_fee). Late-fee payments (`kind = "late_fee"`) pay
the fee, never the principal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, literal, text, union_all
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from core.cover import PeriodStanding
from core.late_fees import Charge, period_fee
from core.late_fees import Payment as CorePayment
from core.periods import Period
from core.policy import Policy
from storage.accounts import AccountPolicy
from storage.driver import read
from storage.models import AccountDue, Balance, LedgerAdjustment, Payment

ZERO = Decimal("0.00")
DUES = "dues"
LATE_FEE = "late_fee"
PAYMENT_KINDS = (DUES, LATE_FEE)


@dataclass(frozen=True, kw_only=True)
class Adjustment:
    """A difference found after the due date: due on its own date; negative = a credit."""

    amount: Decimal
    due_date: date
    computed_on: date


@dataclass(frozen=True, kw_only=True)
class AccountPeriod:
    """One account-period's dues with what has been paid and what it costs to be late."""

    account_id: str
    period: Period
    currency: str
    due_date: date
    """The due date that governs now: the earliest charge still unpaid (the original dues or an
    adjustment), or the original due date once everything is paid."""
    original_due_date: date
    total: Decimal
    """The whole amount the period owes now, adjustments included."""
    adjustments: tuple[Adjustment, ...]
    paid: Decimal
    outstanding: Decimal
    late_fee: Decimal
    """Late fee accrued to the evaluation day."""
    late_fee_paid: Decimal
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
    def late_fee_outstanding(self) -> Decimal:
        return max(ZERO, self.late_fee - self.late_fee_paid)


def payments_by_account_period(
    session: Session, account_id: str | None = None, kind: str = DUES
) -> dict[tuple[str, str], list[CorePayment]]:
    """Payments of one `kind` per (account, period), oldest first."""
    query = select(Payment).where(Payment.kind == kind)
    if account_id is not None:
        query = query.where(Payment.account_id == account_id)
    grouped: dict[tuple[str, str], list[CorePayment]] = defaultdict(list)
    for row in session.exec(query.order_by(col(Payment.paid_on), col(Payment.id))):
        grouped[(row.account_id, row.period)].append(CorePayment(row.paid_on, row.amount))
    return grouped


def adjustments_by_account_period(
    session: Session, account_id: str | None = None
) -> dict[tuple[str, str], list[Adjustment]]:
    query = select(LedgerAdjustment)
    if account_id is not None:
        query = query.where(LedgerAdjustment.account_id == account_id)
    grouped: dict[tuple[str, str], list[Adjustment]] = defaultdict(list)
    order = (col(LedgerAdjustment.computed_on), col(LedgerAdjustment.id))
    for row in session.exec(query.order_by(*order)):
        grouped[(row.account_id, row.period)].append(
            Adjustment(amount=row.amount, due_date=row.due_date, computed_on=row.computed_on)
        )
    return grouped


def charges(
    total: Decimal, due_date: date, adjustments: Sequence[Adjustment]
) -> tuple[list[Charge], list[CorePayment]]:
    """The period's charges (original dues, then each positive adjustment) and its credits,
    which settle like payments received the day they were computed."""
    original = total - sum((a.amount for a in adjustments), ZERO)
    owed = [Charge(original, due_date)] if original > ZERO else []
    owed += [Charge(a.amount, a.due_date) for a in adjustments if a.amount > ZERO]
    credits = [CorePayment(a.computed_on, -a.amount) for a in adjustments if a.amount < ZERO]
    return owed, credits


def account_periods(
    session: Session, accounts: Mapping[str, AccountPolicy], as_of: date
) -> list[AccountPeriod]:
    """Every stored account-period (oldest first) evaluated on `as_of`, late fee included; one
    employee's cover needs less (`period_standings`)."""
    query = select(AccountDue).order_by(col(AccountDue.period), col(AccountDue.account_id))
    payments = payments_by_account_period(session)
    fee_payments = payments_by_account_period(session, kind=LATE_FEE)
    adjustments = adjustments_by_account_period(session)
    result = []
    for due in session.exec(query):
        key = (due.account_id, due.period)
        policy = accounts[due.account_id].policy
        received = tuple(payments.get(key, ()))
        changes = tuple(adjustments.get(key, ()))
        owed, credits = charges(due.total, due.due_date, changes)
        fee = period_fee(policy, owed, [*received, *credits], as_of)
        current_due = fee.current_due or due.due_date
        result.append(
            AccountPeriod(
                account_id=due.account_id,
                period=Period.parse(due.period),
                currency=due.currency,
                due_date=current_due,
                original_due_date=due.due_date,
                total=due.total,
                adjustments=changes,
                paid=sum((p.amount for p in received if p.paid_on <= as_of), ZERO),
                outstanding=fee.outstanding,
                late_fee=fee.late_fee,
                late_fee_paid=sum(
                    (p.amount for p in fee_payments.get(key, ()) if p.paid_on <= as_of), ZERO
                ),
                days_overdue=fee.days_overdue,
                suspension_on=suspension_on(policy, current_due),
                payments=received,
                paid_in_full_on=_paid_in_full_on(due.total, received, as_of),
            )
        )
    return result


_PAYMENT, _ADJUSTMENT, _DUES = 0, 1, 2
"""What a row of `_ACCOUNT_STANDING` is: its first column."""
# Built once, and one statement for the three tables: `coverage` runs it for every question,
# and building a statement, or another round trip to the database, costs more than the
# database takes to answer it (docs/PERFORMANCE.md, chat_http). Columns: kind, period, the
# day (paid on, or due on), the day it sorts by (adjustments: computed on), amount, id.
_ACCOUNT_STANDING = union_all(
    core_select(
        literal(_PAYMENT),
        col(Payment.period),
        col(Payment.paid_on),
        col(Payment.paid_on),
        col(Payment.amount),
        col(Payment.id),
    ).where(
        col(Payment.account_id) == bindparam("account_id"),
        col(Payment.paid_on) <= bindparam("as_of"),
        col(Payment.kind) == DUES,
    ),
    core_select(
        literal(_ADJUSTMENT),
        col(LedgerAdjustment.period),
        col(LedgerAdjustment.due_date),
        col(LedgerAdjustment.computed_on),
        col(LedgerAdjustment.amount),
        col(LedgerAdjustment.id),
    ).where(
        col(LedgerAdjustment.account_id) == bindparam("account_id"),
        col(LedgerAdjustment.period) <= bindparam("through"),
    ),
    core_select(
        literal(_DUES),
        col(AccountDue.period),
        col(AccountDue.due_date),
        col(AccountDue.due_date),
        col(AccountDue.total),
        col(AccountDue.id),
    ).where(
        col(AccountDue.account_id) == bindparam("account_id"),
        col(AccountDue.period) <= bindparam("through"),  # `YYYY-MM` sorts as text
    ),
).order_by(text("1, 4, 6"))


def period_standings(
    session: Session, account_id: str, policy: Policy, as_of: date
) -> dict[Period, PeriodStanding]:
    """One account's periods up to `as_of`'s month: the due date that governs and the day paid
    in full. An adjustment not due yet is the period's due date, so it suspends nothing, and
    a month otherwise paid stays paid (`adjustment_pending`) until that date has passed.

    All that cover needs (core.cover): `account_periods` also works out every period's late
    fee and suspension day, which a `coverage` question never shows.
    """
    params = {"account_id": account_id, "as_of": as_of, "through": str(Period.of(as_of))}
    received: dict[str, list[CorePayment]] = defaultdict(list)
    changes: dict[str, list[Adjustment]] = defaultdict(list)
    dues: list[tuple[str, date, Decimal]] = []
    # Columns need none of the ORM's result handling; on PostgreSQL, on its driver.
    for kind, period, day, sort_day, amount, _ in read(session, _ACCOUNT_STANDING, params):
        if kind == _PAYMENT:
            received[period].append(CorePayment(day, amount))
        elif kind == _ADJUSTMENT:
            changes[period].append(Adjustment(amount=amount, due_date=day, computed_on=sort_day))
        else:
            dues.append((period, day, amount))
    standings = {}
    for period, due_date, total in dues:
        governing = due_date
        if changes.get(period):
            owed, credits = charges(total, due_date, changes[period])
            fee = period_fee(policy, owed, [*received[period], *credits], as_of)
            governing = fee.current_due or due_date
        in_full = _paid_in_full_on(total, received[period], as_of)
        standings[Period.parse(period)] = PeriodStanding(
            due_date=governing,
            paid_in_full_on=in_full,
            adjustment_pending=in_full is None
            and _paid_when_due(total, changes[period], received[period], as_of),
        )
    return standings


def _paid_when_due(
    total: Decimal, adjustments: Sequence[Adjustment], payments: Sequence[CorePayment], as_of: date
) -> bool:
    """Whether everything due by `as_of` is paid when an adjustment is left out until its due
    date has passed (the same day arrears start: core.cover)."""
    pending = sum((a.amount for a in adjustments if a.amount > ZERO and a.due_date >= as_of), ZERO)
    return pending > ZERO and _paid_in_full_on(total - pending, payments, as_of) is not None


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
    """Account-periods past their due date and not fully paid on `as_of`, or paid but with a
    late fee still unpaid (a payment of exactly the principal leaves the fee owed)."""
    return [
        item
        for item in account_periods(session, accounts, as_of)
        if (item.due_date < as_of and not item.fully_paid) or item.late_fee_outstanding > ZERO
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
