"""When a period's contributions fall due, after weekends, official holidays and closures.

The cut-off day is city practice, not national law (shared/reference/policies.md, "Law and
practice"), so the day, the month offset and the holiday rule are policy data. A deadline
that lands on a rest day moves to the next working day, as tax-bureau collection does; the
working days come from `core.calendars`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from core.calendars import is_official, is_working_day
from core.periods import Period
from core.policy import HolidayRule, Policy


def next_working_day(
    day: date, rule: HolidayRule, closures: Collection[date] = frozenset()
) -> date:
    """`day` itself when it is a working day under `rule` and not a closure, else the first
    such day after it."""
    while day in closures or not is_working_day(day, rule):
        day += timedelta(days=1)
    return day


def due_date(policy: Policy, period: Period, *, due_day: int | None = None) -> date:
    """The date the period's contributions must be paid by.

    `due_day` is an account override (`[accounts.<id>] due_day`); otherwise the policy's
    day. The day is taken in the period's month shifted by `policy.due.month_offset` (0 for
    China's same-month liability, 1 for MPF's "by the 10th of the following month"),
    clamped to that month's last day, then postponed per `policy.due.holiday_rule`.
    """
    day = policy.due.day if due_day is None else due_day
    if not 1 <= day <= 31:
        raise ValueError(f"due day must be 1..31, got {day}")
    nominal = period.shift(policy.due.month_offset).day(day)
    return next_working_day(nominal, policy.due.holiday_rule, policy.closures)


def adjustment_due_date(policy: Policy, computed_on: date, *, due_day: int | None = None) -> date:
    """When a difference found on `computed_on` (补差, a back-dated band or salary) falls due.

    The policy's `adjustment_due_dates`-th regular due date strictly after the computing day
    (1: the next collection), so the difference is never late on the day it becomes known.
    """
    period = Period.of(computed_on).shift(-policy.due.month_offset - 1)
    remaining = policy.due.adjustment_due_dates
    while True:
        due = due_date(policy, period, due_day=due_day)
        if due > computed_on:
            remaining -= 1
            if remaining == 0:
                return due
        period = period.next()


def due_date_is_estimate(policy: Policy, period: Period, *, due_day: int | None = None) -> bool:
    """Whether the period's due date rests on a holiday calendar not published yet."""
    nominal = period.shift(policy.due.month_offset).day(
        policy.due.day if due_day is None else due_day
    )
    moved = due_date(policy, period, due_day=due_day)
    rule = policy.due.holiday_rule
    return not (is_official(nominal, rule) and is_official(moved, rule))


def next_due_period(policy: Policy, today: date, *, due_day: int | None = None) -> Period:
    """The period whose regular due date is the first on or after `today` (the one due next)."""
    period = Period.of(today).shift(-policy.due.month_offset - 1)
    while due_date(policy, period, due_day=due_day) < today:
        period = period.next()
    return period
