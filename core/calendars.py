"""Official working days per region, from maintained libraries, and how far each one reaches.

Mainland China: the State Council publishes each year's holidays and make-up working days
(调休) late in the year before. `chinesecalendar` knows the years it ships (2004–2026 in
1.11); the `holidays` package (monthly releases) carries the same notices in
`ChinaStaticHolidays.special_public_holidays`. A year either knows is *official*. For a later
year due dates fall back to weekends only (issue 13: "due dates fall back to weekends only and
every output that uses such a date says so"). `holidays` could compute that year's statutory
days, but its "observed" days are guesses at the notice's 调休 and the make-up Saturdays are
missing, so a half-known calendar would look official while being wrong either way. Such a
year is an *estimate*, flagged wherever one of its dates is shown; upgrading the libraries
once the State Council notice is out makes it official with no code change.

Hong Kong: general holidays follow the General Holidays Ordinance (Cap. 149) and `holidays`
computes them for every year; the MPFA moves a contribution day past Saturdays, Sundays,
public holidays and days with typhoon signal 8 or a black rainstorm warning (MPFA "MPF
contribution days calendar"). Those closures cannot be known ahead: `[calendar] closures`
adds them (and mainland system outages) as `Policy.closures`.
"""

from __future__ import annotations

from datetime import date
from functools import cache

import chinese_calendar
from holidays import HolidayBase
from holidays.countries.china import China, ChinaStaticHolidays
from holidays.countries.hongkong import HongKong

from core.policy import HolidayRule

_SATURDAY = 5
HK_REACH: int = HongKong.end_year
"""`holidays` computes Hong Kong's general holidays by rule up to this year."""


def _is_weekday(day: date) -> bool:
    return day.weekday() < _SATURDAY


@cache
def _cn_holidays(year: int) -> HolidayBase:
    return China(years=year)  # type: ignore[no-untyped-call]


@cache
def _hk_holidays(year: int) -> HolidayBase:
    return HongKong(years=year)


@cache
def cn_official_years() -> frozenset[int]:
    """Years whose official holiday notice (with make-up days) one of the libraries ships: the
    libraries' data, fixed for the process, asked for every due date shown."""
    first, last = _chinese_calendar_years()
    return frozenset(range(first, last + 1)) | frozenset(
        ChinaStaticHolidays.special_public_holidays
    )


@cache
def _chinese_calendar_years() -> tuple[int, int]:
    """First and last year `chinesecalendar` knows (it raises NotImplementedError outside)."""
    known = [year for year in range(1990, 2100) if _chinese_calendar_knows(year)]
    return known[0], known[-1]


def _chinese_calendar_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def cn_calendar_reach() -> int:
    """The last year whose official mainland calendar (with make-up days) is known."""
    return max(cn_official_years())


def is_official(day: date, rule: HolidayRule) -> bool:
    """Whether the calendar for `day` under `rule` is the published one (not an estimate)."""
    if rule is HolidayRule.NEXT_WORKING_DAY_CN:
        return day.year in cn_official_years()
    if rule is HolidayRule.NEXT_WORKING_DAY_HK:
        return day.year <= HK_REACH
    return True


@cache
def _chinese_calendar_workday(day: date) -> bool:
    """`chinese_calendar.is_workday`, asked once per day: each call scans the library's whole
    holiday table for its first and last year, most of a chat answer's due-date work."""
    return bool(chinese_calendar.is_workday(day))


def _is_cn_working_day(day: date) -> bool:
    first, last = _chinese_calendar_years()
    if first <= day.year <= last:
        return _chinese_calendar_workday(day)
    if day.year in cn_official_years():
        calendar = _cn_holidays(day.year)
        make_up: set[date] = calendar.weekend_workdays
        return day in make_up or (_is_weekday(day) and day not in calendar)
    # Not published yet: weekends only, flagged as an estimate (is_official).
    return _is_weekday(day)


def is_working_day(day: date, rule: HolidayRule) -> bool:
    """Whether a deadline may fall on `day` under the policy's holiday rule (closures aside)."""
    if rule is HolidayRule.NEXT_WORKING_DAY_CN:
        return _is_cn_working_day(day)
    if rule is HolidayRule.NEXT_WORKING_DAY_HK:
        return _is_weekday(day) and day not in _hk_holidays(day.year)
    if rule is HolidayRule.NEXT_WEEKDAY:
        return _is_weekday(day)
    return True
