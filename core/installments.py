"""Installment plans (分期缴费): split what an overdue alert owes into N dated payments.

Every installment falls before the suspension date, so cover is never suspended while the plan
is kept; the plan's extra late fee (it accrues until each part is paid) is shown next to the
fee of paying everything today, so HR can choose knowingly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from core.late_fees import Payment, late_fee
from core.money import CENT
from core.policy import Policy


@dataclass(frozen=True, kw_only=True)
class PlannedInstallment:
    seq: int
    due_on: date
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class PlanQuote:
    installments: tuple[PlannedInstallment, ...]
    fee_if_paid_today: Decimal
    fee_with_plan: Decimal

    @property
    def extra_fee(self) -> Decimal:
        return self.fee_with_plan - self.fee_if_paid_today


class PlanError(ValueError):
    """The plan cannot be made (nothing owed, or too little time before suspension)."""


def split_installments(
    outstanding: Decimal, *, today: date, suspension_on: date, count: int
) -> tuple[PlannedInstallment, ...]:
    """N payments evenly spread from tomorrow to the day before suspension; cents go last."""
    if count < 1:
        raise PlanError("the number of installments must be at least 1")
    if outstanding <= 0:
        raise PlanError("nothing is owed")
    if outstanding < count * CENT:
        # Every part must be at least a cent: a zero payment is not a payment.
        raise PlanError(f"{outstanding} cannot be split into {count} installments")
    last_day = suspension_on - timedelta(days=1)
    span = (last_day - today).days
    if span < count:
        raise PlanError(f"only {max(span, 0)} days remain before suspension on {suspension_on}")
    part = (outstanding / count).quantize(CENT, rounding=ROUND_DOWN)
    amounts = [part] * (count - 1) + [outstanding - part * (count - 1)]
    return tuple(
        PlannedInstallment(
            seq=index + 1, due_on=today + timedelta(days=span * (index + 1) // count), amount=amount
        )
        for index, amount in enumerate(amounts)
    )


def quote_plan(
    policy: Policy,
    *,
    principal: Decimal,
    due_date: date,
    payments: Sequence[Payment],
    today: date,
    suspension_on: date,
    count: int,
) -> PlanQuote:
    """The plan for an account-period, with its late fee against paying everything today."""
    received = [p for p in payments if p.paid_on <= today]
    now = late_fee(policy, principal, due_date, received, today)
    parts = split_installments(
        now.outstanding, today=today, suspension_on=suspension_on, count=count
    )
    paid_today = late_fee(
        policy, principal, due_date, [*received, Payment(today, now.outstanding)], today
    )
    planned = [*received, *(Payment(part.due_on, part.amount) for part in parts)]
    with_plan = late_fee(policy, principal, due_date, planned, parts[-1].due_on)
    return PlanQuote(
        installments=parts,
        fee_if_paid_today=paid_today.amount,
        fee_with_plan=with_plan.amount,
    )
