"""Will the account balance cover the dues coming up? And if not, what to pay first.

Finance funds the social-insurance account ahead of the tax bureau's collection; a
shortfall found days ahead can still be topped up, one found on the due date cannot.
All amounts are in one currency: the caller passes the dues that draw on one balance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.money import ZERO
from core.periods import Period


@dataclass(frozen=True, kw_only=True)
class UpcomingDue:
    account: str
    period: Period
    due_date: date
    amount: Decimal
    suspension_on: date | None = None
    """When missing this due suspends cover; None: unknown, the due date stands in."""


@dataclass(frozen=True, kw_only=True)
class FundingGap:
    balance: Decimal
    total_due: Decimal
    """Every due (overdue ones included) falling due on or before `horizon_end`."""
    shortfall: Decimal
    first_uncovered: date
    """Due date of the first due, in date order, that the balance cannot pay in full."""
    horizon_end: date
    pay_first: tuple[UpcomingDue, ...]
    """The dues in the horizon, most urgent first: earliest suspension (or due) date."""


def _risk_order(due: UpcomingDue) -> tuple[date, date, str, Period]:
    return (due.suspension_on or due.due_date, due.due_date, due.account, due.period)


def funding_gap(
    balance: Decimal, as_of: date, upcoming: Sequence[UpcomingDue], horizon_days: int
) -> FundingGap | None:
    """The gap between `balance` and the dues up to `as_of + horizon_days`, or None.

    Dues whose date has already passed are still owed and come first; dues after the
    horizon are ignored. None means the balance covers everything in the horizon.
    """
    if horizon_days < 0:
        raise ValueError(f"horizon_days must not be negative, got {horizon_days}")
    horizon_end = as_of + timedelta(days=horizon_days)
    in_horizon = [due for due in upcoming if due.due_date <= horizon_end]
    total_due = sum((due.amount for due in in_horizon), ZERO)
    if total_due <= balance:
        return None

    running = ZERO
    first_uncovered = horizon_end
    for due in sorted(in_horizon, key=lambda d: (d.due_date, _risk_order(d))):
        running += due.amount
        if running > balance:
            first_uncovered = due.due_date
            break
    return FundingGap(
        balance=balance,
        total_due=total_due,
        shortfall=total_due - balance,
        first_uncovered=first_uncovered,
        horizon_end=horizon_end,
        pay_first=tuple(sorted(in_horizon, key=_risk_order)),
    )
