"""Whether an employee's medical cover is in force, from what has been paid and when.

Suspension after non-payment is city practice and **not confirmed** for any city
(shared/reference/policies.md, "Law and practice"): commonly benefits stop from the month
after the unpaid month, and a back-payment within a window (often 3–6 months) restores them.
The rule is therefore policy data (`policy.suspension`) and every result carries
`confirmed` so the chat answer can say it is an estimate. The rule applied here:

- a period is *in arrears* once its due date has passed (due date < as_of) without full payment;
- cover is suspended from `due date of the earliest period in arrears + suspend_after_days`;
  before that day the employee is in `grace`;
- paying every period in arrears makes cover `active` again; a period paid later than
  `restore_window_months` after its suspension day (or still unpaid then) is `lapsed`: its
  cover is not restored retroactively;
- cover ends after the month of leaving, because no dues are owed after it;
- a policy without a suspension rule (Hong Kong MPF: savings, not insurance) has no cover to
  suspend: arrears are listed, the state stays `active`, and nothing ever lapses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from core.deadlines import due_date
from core.periods import Period
from core.policy import Policy


class CoverState(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"
    """A period is in arrears, cover not suspended yet."""
    SUSPENDED = "suspended"
    NOT_ENROLLED = "not_enrolled"


@dataclass(frozen=True, kw_only=True)
class PeriodStanding:
    """One account period of the employee, as storage knows it."""

    due_date: date
    paid_in_full_on: date | None = None
    """Day the period's dues were fully paid; None while anything is unpaid."""
    adjustment_pending: bool = False
    """Everything due by the evaluation day is paid and only an adjustment (补差) not due yet
    is open: the month still counts as paid for `paid_through`."""


@dataclass(frozen=True, kw_only=True)
class CoverStatus:
    state: CoverState
    paid_through: Period | None
    """Last month such that it and every earlier period were fully paid by `as_of`."""
    suspension_on: date | None
    """When at risk (grace or suspended): the day cover is (or was) suspended."""
    next_due: date | None
    """Due date of the earliest unpaid period (past if in arrears), else of the next period."""
    arrears: tuple[Period, ...]
    lapsed: tuple[Period, ...]
    """Periods whose cover a back-payment did not (or can no longer) restore."""
    confirmed: bool
    """False while the suspension rule is an unconfirmed estimate for this policy."""


def suspension_started(suspension_on: date | None, day: date) -> bool:
    """Whether cover is suspended on `day`: from the suspension date itself, inclusive (the
    rule above); alerts, notices and the chat say "suspended" from then on."""
    return suspension_on is not None and suspension_on <= day


def cover_status(
    policy: Policy,
    *,
    enrolled_on: date | None,
    leave_date: date | None,
    periods: Mapping[Period, PeriodStanding],
    as_of: date,
    due_day: int | None = None,
) -> CoverStatus:
    """Cover on `as_of` for one employee.

    `periods` holds the employee's account periods from enrolment up to the evaluation
    date; `due_day` is the account's due-day override, used for the next period's due date.
    """
    rule = policy.suspension
    ordered = sorted(periods)

    def settled(period: Period) -> bool:
        paid_on = periods[period].paid_in_full_on
        return paid_on is not None and paid_on <= as_of

    def suspends_on(period: Period) -> date | None:
        if rule is None:
            return None
        return periods[period].due_date + timedelta(days=rule.suspend_after_days)

    def lapsed_period(period: Period) -> bool:
        suspended = suspends_on(period)
        if rule is None or suspended is None:
            return False
        restorable_until = Period.of(suspended).shift(rule.restore_window_months).day(suspended.day)
        return _settled_or_today(periods[period], as_of) > restorable_until

    unpaid = [p for p in ordered if not settled(p)]
    arrears = tuple(p for p in unpaid if periods[p].due_date < as_of)
    lapsed = tuple(p for p in ordered if lapsed_period(p))
    paid_through = None
    for period in ordered:
        if not (settled(period) or periods[period].adjustment_pending):
            break
        paid_through = period

    suspension_on = suspends_on(arrears[0]) if arrears else None
    left = leave_date is not None and as_of > Period.of(leave_date).last_day
    if enrolled_on is None or enrolled_on > as_of or left:
        state = CoverState.NOT_ENROLLED
    elif suspension_on is None:
        state = CoverState.ACTIVE
    elif suspension_started(suspension_on, as_of):
        state = CoverState.SUSPENDED
    else:
        state = CoverState.GRACE

    return CoverStatus(
        state=state,
        paid_through=paid_through,
        suspension_on=suspension_on if state in (CoverState.GRACE, CoverState.SUSPENDED) else None,
        next_due=_next_due(policy, unpaid, periods, enrolled_on, leave_date, as_of, due_day),
        arrears=arrears,
        lapsed=lapsed,
        confirmed=True if rule is None else rule.confirmed,
    )


def _settled_or_today(standing: PeriodStanding, as_of: date) -> date:
    """The day a period was settled, or `as_of` while it is still unpaid."""
    paid_on = standing.paid_in_full_on
    return paid_on if paid_on is not None and paid_on <= as_of else as_of


def _next_due(
    policy: Policy,
    unpaid: list[Period],
    periods: Mapping[Period, PeriodStanding],
    enrolled_on: date | None,
    leave_date: date | None,
    as_of: date,
    due_day: int | None,
) -> date | None:
    if unpaid:
        return periods[unpaid[0]].due_date
    if enrolled_on is None:
        return None
    upcoming = max(periods).next() if periods else Period.of(max(enrolled_on, as_of))
    if leave_date is not None and upcoming > Period.of(leave_date):
        return None
    return due_date(policy, upcoming, due_day=due_day)


@dataclass(frozen=True, kw_only=True)
class Continuity:
    """How long cover has run without a break: several cities set reimbursement levels by the
    months of continuous contribution, and a lapsed month starts the count again."""

    since: Period | None
    """First month of the current unbroken run; None while nothing is paid."""
    months: int


def continuity(status: CoverStatus, enrolled_on: date | None) -> Continuity:
    """The unbroken run up to `paid_through`, from enrolment or the month after the last lapse."""
    if enrolled_on is None or status.paid_through is None:
        return Continuity(since=None, months=0)
    since = Period.of(enrolled_on)
    if status.lapsed:
        since = max(since, max(status.lapsed).next())
    if since > status.paid_through:
        return Continuity(since=None, months=0)
    return Continuity(since=since, months=since.months_until(status.paid_through) + 1)
