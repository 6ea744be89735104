"""Late fees on unpaid contributions, as the policy's model says.

China (社会保险法 Art. 86): 0.05 % per day of the unpaid amount from the day it became
overdue, simple interest on the principal only. Days are counted inclusively from the first
overdue day (due date + 1) to the day of payment or the evaluation day, so the day a payment
arrives still accrues on the part it pays; from the next day only the rest accrues. The fee
is summed exactly and rounded once, per `policy.late_fee.rounding`.

Hong Kong MPF: a one-off surcharge (5 %) on the contribution still unpaid after the due
date (Mandatory Provident Fund Schemes Ordinance); it does not grow with time.

A policy may cap the fee at the principal (`late_fee_cap = "principal"`, Administrative
Enforcement Law Art. 45); whether that binds social-insurance fees is disputed, so it is off
unless a policy file says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.money import ZERO, round_amount
from core.policy import LateFeeCap, LateFeeModel, Policy


@dataclass(frozen=True)
class Payment:
    """Money received for one account-period on a day."""

    paid_on: date
    amount: Decimal


@dataclass(frozen=True, kw_only=True)
class LateFee:
    amount: Decimal
    """Fee accrued up to the evaluation day (already-paid principal keeps its accrued fee)."""
    days_overdue: int
    """Days late: up to the day the principal was paid in full, or the evaluation day."""
    outstanding: Decimal
    """Principal still unpaid on the evaluation day (never negative)."""


def late_fee(
    policy: Policy,
    principal: Decimal,
    due_date: date,
    payments: Iterable[Payment],
    as_of: date,
) -> LateFee:
    """Late fee on `principal` due on `due_date`, evaluated on `as_of` (inclusive).

    Payments after `as_of` are ignored; payments on or before the due date only reduce the
    principal. Raises ValueError for a negative principal or a non-positive payment.
    """
    if principal < ZERO:
        raise ValueError(f"principal must not be negative, got {principal}")
    received = sorted((p for p in payments if p.paid_on <= as_of), key=lambda p: p.paid_on)
    for payment in received:
        if payment.amount <= ZERO:
            raise ValueError(f"payment amount must be positive, got {payment.amount}")

    unpaid_at_due = max(
        ZERO, principal - sum((p.amount for p in received if p.paid_on <= due_date), ZERO)
    )
    late_payments = [p for p in received if p.paid_on > due_date]
    outstanding = max(ZERO, unpaid_at_due - sum((p.amount for p in late_payments), ZERO))
    days = _days_overdue(unpaid_at_due, due_date, late_payments, as_of)

    rule = policy.late_fee
    if rule.model is LateFeeModel.FLAT_SURCHARGE:
        raw = rule.rate * unpaid_at_due if days > 0 else ZERO
    else:
        raw = rule.rate * _unpaid_amount_days(unpaid_at_due, due_date, late_payments, as_of)
    if rule.cap is LateFeeCap.PRINCIPAL:
        raw = min(raw, unpaid_at_due)
    return LateFee(
        amount=round_amount(raw, rule.rounding), days_overdue=days, outstanding=outstanding
    )


def _days_overdue(
    unpaid: Decimal, due_date: date, late_payments: list[Payment], as_of: date
) -> int:
    """Days from the due date to the day the rest was paid in full (or `as_of`)."""
    if unpaid <= ZERO or as_of <= due_date:
        return 0
    for payment in late_payments:
        unpaid -= payment.amount
        if unpaid <= ZERO:
            return (payment.paid_on - due_date).days
    return (as_of - due_date).days


def _unpaid_amount_days(
    unpaid: Decimal, due_date: date, late_payments: list[Payment], as_of: date
) -> Decimal:
    """Σ over overdue days of the amount unpaid that day (payment day inclusive)."""
    total = ZERO
    accrue_from = due_date + timedelta(days=1)
    for payment in late_payments:
        if unpaid <= ZERO:
            return total
        # Several payments on one day: only the first one's span has days in it.
        days = max(0, (payment.paid_on - accrue_from).days + 1)
        total += unpaid * days
        accrue_from = payment.paid_on + timedelta(days=1)
        unpaid = max(ZERO, unpaid - payment.amount)
    if unpaid > ZERO and accrue_from <= as_of:
        total += unpaid * ((as_of - accrue_from).days + 1)
    return total


@dataclass(frozen=True)
class Charge:
    """One amount a period owes from its own due date: the original dues, or an adjustment."""

    amount: Decimal
    due_date: date


@dataclass(frozen=True, kw_only=True)
class PeriodFee:
    """A period's charges settled against its payments, evaluated on one day."""

    late_fee: Decimal
    """Sum of each charge's fee, each from its own due date."""
    days_overdue: int
    """The longest any charge has been (or was) late."""
    outstanding: Decimal
    """Everything still unpaid, whether due yet or not."""
    current_due: date | None
    """Due date of the earliest charge not paid in full (None when all are)."""


def period_fee(
    policy: Policy,
    charges: Iterable[Charge],
    payments: Iterable[Payment],
    as_of: date,
) -> PeriodFee:
    """Late fees of a period whose dues changed after its due date (补差).

    Payments settle the charges in due-date order (the oldest debt first), so money paid on
    time for the original dues keeps it on time, and an adjustment only costs a fee once its
    own due date passes. A credit (a negative charge, from a lower band) counts like a payment
    received the day it was computed, which the caller passes as `Payment`s. Raises
    ValueError as `late_fee` does.
    """
    ordered = sorted(charges, key=lambda charge: charge.due_date)
    received = sorted((p for p in payments if p.paid_on <= as_of), key=lambda p: p.paid_on)
    shares: list[list[Payment]] = [[] for _ in ordered]
    remaining = [charge.amount for charge in ordered]
    for payment in received:
        left = payment.amount
        for index, owed in enumerate(remaining):
            if left <= ZERO:
                break
            if owed <= ZERO:
                continue
            part = min(owed, left)
            shares[index].append(Payment(payment.paid_on, part))
            remaining[index] -= part
            left -= part
    fees = [
        late_fee(policy, charge.amount, charge.due_date, share, as_of)
        for charge, share in zip(ordered, shares, strict=True)
    ]
    unpaid = [charge for charge, fee in zip(ordered, fees, strict=True) if fee.outstanding > ZERO]
    return PeriodFee(
        late_fee=sum((fee.amount for fee in fees), ZERO),
        days_overdue=max((fee.days_overdue for fee in fees), default=0),
        outstanding=sum((fee.outstanding for fee in fees), ZERO),
        current_due=unpaid[0].due_date if unpaid else None,
    )
