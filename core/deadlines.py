"""When a period's contributions fall due, after weekends and official holidays.

The cut-off day is city practice, not national law (shared/reference/policies.md, "Law and
practice"), so the day, the month offset and the holiday rule are policy data. A deadline
that lands on a rest day moves to the next working day, as tax-bureau collection does.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar

from core.periods import Period
from core.policy import HolidayRule, Policy

_SATURDAY = 5


def _is_weekday(day: date) -> bool:
    return day.weekday() < _SATURDAY


def _is_cn_working_day(day: date) -> bool:
    """Official working day in mainland China, per the `chinesecalendar` package.

    The package knows the State Council holiday notices, including make-up working
    Saturdays/Sundays (调休), for the years it ships (2004–2026 in v1.11.0). For a year it
    does not know it raises NotImplementedError; we then fall back to weekends only, because
    the next year's notice is published late each year and a due date must still exist.
    The fallback can be early by the length of a holiday; upgrading the package fixes it.
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return _is_weekday(day)


def cn_calendar_reach() -> int:
    """The last year whose official holidays `chinesecalendar` knows: due dates after it fall
    back to weekends only (see `_is_cn_working_day`)."""
    years: list[int] = [day.year for day in chinese_calendar.holidays]
    return max(years)


def is_working_day(day: date, rule: HolidayRule) -> bool:
    """Whether a deadline may fall on `day` under the policy's holiday rule."""
    if rule is HolidayRule.NEXT_WORKING_DAY_CN:
        return _is_cn_working_day(day)
    if rule is HolidayRule.NEXT_WEEKDAY:
        return _is_weekday(day)
    return True


def next_working_day(day: date, rule: HolidayRule) -> date:
    """`day` itself when it is a working day under `rule`, else the first one after it."""
    while not is_working_day(day, rule):
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
    return next_working_day(nominal, policy.due.holiday_rule)
