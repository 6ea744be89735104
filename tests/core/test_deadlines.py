from datetime import date
from decimal import Decimal

import chinese_calendar
import pytest

from core.deadlines import due_date, is_working_day, next_working_day
from core.periods import Period
from core.policy import (
    DueRule,
    HolidayRule,
    LateFeeModel,
    LateFeeRule,
    Policy,
    SuspensionRule,
)


def make_policy(
    day: int = 15, month_offset: int = 0, rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY_CN
) -> Policy:
    return Policy(
        id="test",
        name="Test",
        currency="CNY",
        due=DueRule(day=day, month_offset=month_offset, holiday_rule=rule),
        late_fee=LateFeeRule(model=LateFeeModel.DAILY_RATE, rate=Decimal("0.0005")),
        suspension=SuspensionRule(suspend_after_days=30, restore_window_months=3),
        versions=(),
    )


BEIJING = make_policy()
MPF = make_policy(day=10, month_offset=1, rule=HolidayRule.NEXT_WEEKDAY)


def test_weekday_due_date_stays() -> None:
    # 2026-10-15 is a Thursday, after the National Day week: a working day.
    assert date(2026, 10, 15).weekday() == 3
    assert due_date(BEIJING, Period(2026, 10)) == date(2026, 10, 15)


def test_saturday_moves_to_monday() -> None:
    # 2026-08-15 is a Saturday, not a make-up working day.
    assert date(2026, 8, 15).weekday() == 5
    assert due_date(BEIJING, Period(2026, 8)) == date(2026, 8, 17)


def test_spring_festival_2026_moves_past_the_holiday() -> None:
    # chinese_calendar: 2026-02-15 (Sun) .. 2026-02-23 (Mon) are off; 02-24 is a working day.
    assert not any(chinese_calendar.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert due_date(BEIJING, Period(2026, 2)) == date(2026, 2, 24)


def test_make_up_saturday_is_a_working_day() -> None:
    # 2026-02-14 is a Saturday worked in exchange for the Spring Festival (调休).
    assert date(2026, 2, 14).weekday() == 5
    assert due_date(BEIJING, Period(2026, 2), due_day=14) == date(2026, 2, 14)
    # The weekday-only rule does not know about make-up days and moves it.
    weekday_only = make_policy(rule=HolidayRule.NEXT_WEEKDAY)
    assert due_date(weekday_only, Period(2026, 2), due_day=14) == date(2026, 2, 16)


def test_next_weekday_rule_ignores_official_holidays() -> None:
    weekday_only = make_policy(rule=HolidayRule.NEXT_WEEKDAY)
    assert due_date(weekday_only, Period(2026, 2)) == date(2026, 2, 16)


def test_none_rule_keeps_a_saturday() -> None:
    assert due_date(make_policy(rule=HolidayRule.NONE), Period(2026, 8)) == date(2026, 8, 15)


def test_mpf_due_the_10th_of_the_following_month() -> None:
    assert due_date(MPF, Period(2026, 10)) == date(2026, 11, 10)
    assert due_date(MPF, Period(2026, 12)) == date(2027, 1, 11)  # 2027-01-10 is a Sunday


def test_account_override_and_month_end_clamp() -> None:
    # 2026-09-20 is a Sunday worked as a make-up day before the National Day week.
    assert due_date(BEIJING, Period(2026, 9), due_day=20) == date(2026, 9, 20)
    assert due_date(BEIJING, Period(2026, 12), due_day=20) == date(2026, 12, 21)  # a Sunday
    # Day 31 in April clamps to the 30th (a Thursday).
    assert due_date(BEIJING, Period(2026, 4), due_day=31) == date(2026, 4, 30)
    # Day 31 in February 2026 clamps to the 28th, a make-up working Saturday.
    assert due_date(BEIJING, Period(2026, 2), due_day=31) == date(2026, 2, 28)


def test_postponement_crosses_into_the_next_month() -> None:
    # 2026-05-31 is a Sunday: the deadline moves to Monday 1 June.
    assert due_date(BEIJING, Period(2026, 5), due_day=31) == date(2026, 6, 1)


def test_unknown_year_falls_back_to_weekends_only() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 5, 15))
    # 2027-05-15 is a Saturday: weekends are still skipped without holiday data.
    assert due_date(BEIJING, Period(2027, 5)) == date(2027, 5, 17)
    # 2027-10-15 is a Friday: kept (the fallback knows no holidays).
    assert due_date(BEIJING, Period(2027, 10)) == date(2027, 10, 15)
    assert is_working_day(date(2003, 1, 6), HolidayRule.NEXT_WORKING_DAY_CN)


def test_next_working_day_returns_working_days_unchanged() -> None:
    # National Day 2026: 1..7 October off, Thursday the 8th back at work.
    assert next_working_day(date(2026, 10, 1), HolidayRule.NEXT_WORKING_DAY_CN) == date(2026, 10, 8)
    assert next_working_day(date(2026, 10, 8), HolidayRule.NEXT_WORKING_DAY_CN) == date(2026, 10, 8)


@pytest.mark.parametrize("bad", [0, 32])
def test_invalid_due_day_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="due day"):
        due_date(BEIJING, Period(2026, 1), due_day=bad)
