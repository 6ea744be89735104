"""Working days from maintained libraries: Hong Kong holidays, mainland years not yet
published (flagged as estimates), and closure days from config."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import chinese_calendar
import pytest

from core import calendars
from core.calendars import cn_official_years, is_official, is_working_day
from core.deadlines import adjustment_due_date, due_date, due_date_is_estimate
from core.late_fees import Payment, late_fee
from core.periods import Period
from core.policy import HolidayRule
from core.policy_loader import load_policies

POLICIES = load_policies()
HK, BEIJING = POLICIES["hk"], POLICIES["beijing"]


def test_hk_2024_05_is_due_after_tuen_ng_and_paying_then_owes_no_surcharge() -> None:
    # MPFA contribution-day calendar: 2024-06-10 was Tuen Ng, so period 2024-05 was due 06-11.
    due = due_date(HK, Period(2024, 5))
    assert due == date(2024, 6, 11)
    paid = [Payment(date(2024, 6, 11), Decimal("3000.00"))]
    assert late_fee(HK, Decimal("3000.00"), due, paid, date(2024, 7, 1)).amount == Decimal("0.00")
    late = [Payment(date(2024, 6, 12), Decimal("3000.00"))]
    assert late_fee(HK, Decimal("3000.00"), due, late, date(2024, 7, 1)).amount == Decimal("150.00")


def test_hk_skips_general_holidays_and_weekends() -> None:
    assert not is_working_day(date(2024, 7, 1), HolidayRule.NEXT_WORKING_DAY_HK)  # SAR day
    assert not is_working_day(date(2024, 6, 8), HolidayRule.NEXT_WORKING_DAY_HK)  # Saturday
    assert is_working_day(date(2024, 6, 11), HolidayRule.NEXT_WORKING_DAY_HK)


def test_a_closure_day_moves_the_due_date_to_the_next_working_day() -> None:
    # Typhoon signal 8 on the contribution day (made up): the day moves to the next working day.
    stormy = replace(HK, closures=frozenset({date(2024, 6, 11)}))
    assert due_date(stormy, Period(2024, 5)) == date(2024, 6, 12)
    closed = replace(BEIJING, closures=frozenset({date(2026, 10, 15), date(2026, 10, 16)}))
    assert due_date(BEIJING, Period(2026, 10)) == date(2026, 10, 15)
    assert due_date(closed, Period(2026, 10)) == date(2026, 10, 19)  # Fri closed, then weekend


def test_a_mainland_year_without_a_published_calendar_is_an_estimate() -> None:
    last = max(cn_official_years())
    assert last >= 2026
    unknown = Period(last + 1, 9)
    assert due_date_is_estimate(BEIJING, unknown)
    assert not due_date_is_estimate(BEIJING, Period(last, 9))
    assert not is_official(date(last + 1, 1, 4), HolidayRule.NEXT_WORKING_DAY_CN)
    assert is_official(date(last + 1, 1, 4), HolidayRule.NEXT_WEEKDAY)


@pytest.mark.skipif(
    2027 in cn_official_years(), reason="the libraries know 2027: its official notice applies"
)
def test_an_unpublished_year_falls_back_to_weekends_only_and_is_flagged() -> None:
    """Issue 13: where the libraries do not know a year, due dates skip weekends only (not
    `holidays`' computed statutory days and guessed 调休) and every such date is flagged."""
    # 2027-09-15 is Mid-Autumn but a Wednesday: kept, and flagged as an estimate.
    assert due_date(BEIJING, Period(2027, 9)) == date(2027, 9, 15)
    assert due_date_is_estimate(BEIJING, Period(2027, 9))
    # 2027-10-04 is a Monday `holidays` computes as an "observed" National Day: a working day
    # here, since the notice that would decide it is not out.
    assert is_working_day(date(2027, 10, 4), HolidayRule.NEXT_WORKING_DAY_CN)
    assert not is_working_day(date(2027, 10, 2), HolidayRule.NEXT_WORKING_DAY_CN)  # Saturday
    assert not is_official(date(2027, 10, 4), HolidayRule.NEXT_WORKING_DAY_CN)
    # An adjustment computed in an unpublished year is due on a weekends-only date too.
    assert adjustment_due_date(BEIJING, date(2027, 9, 16)) == date(2027, 10, 15)


def test_the_libraries_are_asked_once_per_day_and_once_for_the_official_years(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`chinese_calendar.is_workday` scans its whole table on every call, and a chat answer
    asks about the same few due dates again and again: each day's answer is kept."""
    asked: list[date] = []
    library = chinese_calendar.is_workday

    def counted(day: date) -> bool:
        asked.append(day)
        return bool(library(day))

    monkeypatch.setattr(chinese_calendar, "is_workday", counted)
    calendars._chinese_calendar_workday.cache_clear()
    national_day_week = date(2025, 10, 8)
    assert not is_working_day(national_day_week, HolidayRule.NEXT_WORKING_DAY_CN)
    assert not is_working_day(national_day_week, HolidayRule.NEXT_WORKING_DAY_CN)
    assert asked == [national_day_week]
    assert cn_official_years() is cn_official_years()


def test_an_adjustment_is_due_at_the_next_regular_due_date() -> None:
    # Beijing 2025-09-20: the next collection is 2025-10-15 (after the National Day week).
    assert adjustment_due_date(BEIJING, date(2025, 9, 20)) == date(2025, 10, 15)
    assert adjustment_due_date(BEIJING, date(2025, 9, 15)) == date(2025, 10, 15)  # due day itself
    assert adjustment_due_date(BEIJING, date(2025, 9, 14)) == date(2025, 9, 15)
    two = replace(BEIJING, due=replace(BEIJING.due, adjustment_due_dates=2))
    assert adjustment_due_date(two, date(2025, 9, 20)) == date(2025, 11, 17)  # 15th: Saturday
    # Hong Kong: the next contribution day after 2024-06-05 is 2024-06-11.
    assert adjustment_due_date(HK, date(2024, 6, 5)) == date(2024, 6, 11)
