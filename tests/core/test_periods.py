"""Periods: parsing, month arithmetic and day clamping."""

from __future__ import annotations

from datetime import date

import pytest

from core.periods import Period


def test_parse_and_print_round_trip() -> None:
    assert Period.parse(" 2026-07 ") == Period(2026, 7)
    assert str(Period(2026, 7)) == "2026-07"


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-7", "July", "2026/07"])
def test_parse_refuses_what_is_not_a_period(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        Period.parse(text)


def test_month_must_be_valid() -> None:
    with pytest.raises(ValueError, match=r"month must be 1\.\.12"):
        Period(2026, 13)


def test_first_and_last_day_follow_the_calendar() -> None:
    assert Period(2024, 2).first_day == date(2024, 2, 1)
    assert Period(2024, 2).last_day == date(2024, 2, 29)
    assert Period(2025, 2).last_day == date(2025, 2, 28)
    assert Period.of(date(2025, 12, 31)) == Period(2025, 12)


def test_shift_crosses_year_boundaries() -> None:
    assert Period(2025, 12).next() == Period(2026, 1)
    assert Period(2026, 1).prev() == Period(2025, 12)
    assert Period(2025, 7).shift(-19) == Period(2023, 12)
    assert Period(2025, 7).months_until(Period(2026, 6)) == 11
    assert Period(2026, 6).months_until(Period(2025, 7)) == -11


def test_day_is_clamped_to_the_end_of_the_month() -> None:
    assert Period(2026, 4).day(31) == date(2026, 4, 30)
    assert Period(2026, 4).day(15) == date(2026, 4, 15)


def test_periods_order_chronologically() -> None:
    assert sorted([Period(2026, 1), Period(2025, 12), Period(2025, 2)]) == [
        Period(2025, 2),
        Period(2025, 12),
        Period(2026, 1),
    ]


@pytest.mark.parametrize("text", ["0001-01", "1899-12", "3000-01", "9999-12"])
def test_periods_outside_the_supported_years_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="between 1900 and 2999"):
        Period.parse(text)
