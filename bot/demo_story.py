"""Where the demo places its dates so that the story holds on any day of the year.

A fixed due day breaks the story on half the days of every month: on 12-04, Shanghai's latest
due (11-16) is 18 days behind, its suspension (15 days after) already passed, and `分期` has no
days left to split. So the late account gets a due day (`[accounts.<id>] due_day`, as a real
employer's bureau may set) a few days before today, whatever today is, with holidays applied
exactly as the dues run applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from core.deadlines import due_date
from core.periods import Period
from core.policy import Policy

OVERDUE_DAYS = range(2, 12)
"""How far behind the late account's due date is: late fees show, a few days of them (more
around the Spring Festival and National Day, when due dates are postponed past the holiday)."""
PLAN_DAYS = 3
"""Days that must be left before suspension, so that `分期 ID 3` can split what is owed."""
LATE_HIRE_DAYS_AGO = 45
"""A second new hire, past the 30-day registration deadline (社会保险法 Art. 58)."""


@dataclass(frozen=True, kw_only=True)
class LateAccount:
    due_day: int
    period: Period
    due: date
    suspension_on: date | None


def late_account(policy: Policy, today: date) -> LateAccount:
    """The due day that puts the latest past due date a few days behind `today`, with the
    suspension date still far enough ahead for a 3-part plan."""
    suspend_after = policy.suspension.suspend_after_days if policy.suspension else None
    for wanted in (5, 4, 6, 3, 7, 8, 2, 9, 10, 11):
        target = today - timedelta(days=wanted)
        period = Period.of(target).shift(-policy.due.month_offset)
        for due_day in sorted(range(1, 32), key=lambda day: abs(day - target.day)):
            due = due_date(policy, period, due_day=due_day)
            if (today - due).days not in OVERDUE_DAYS:
                continue
            suspension_on = None if suspend_after is None else due + timedelta(days=suspend_after)
            if suspension_on is not None and (suspension_on - today).days - 1 < PLAN_DAYS:
                continue
            if _latest_past(policy, today, due_day) != period:
                continue  # a later period already fell due: it would be the late one
            return LateAccount(due_day=due_day, period=period, due=due, suspension_on=suspension_on)
    raise ValueError(f"no due day puts {policy.id}'s latest due a few days before {today}")


def _latest_past(policy: Policy, today: date, due_day: int) -> Period:
    period = Period.of(today).shift(1)
    while due_date(policy, period, due_day=due_day) >= today:
        period = period.prev()
    return period


def partial_period(policy: Policy, today: date, horizon_days: int) -> Period:
    """The Hong Kong period left partly paid: the next one due, when it falls inside the funding
    horizon (so the funding gap shows); else the one that fell due last, a day or two ago
    (MPF's 10th of the following month can be 32 days away once weekends push it)."""
    period = Period.of(today).shift(-1 - policy.due.month_offset)
    while due_date(policy, period) < today:
        period = period.next()
    if (due_date(policy, period) - today).days <= horizon_days:
        return period
    return period.prev()
