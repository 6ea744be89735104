"""The demo's date placement, checked for every day of a year (not 366 demos): whatever today
is, Shanghai is overdue with its suspension still ahead (so `分期 ID 3` can split it), Hong
Kong's partly paid dues fall inside the funding horizon, one hire is inside the 30-day
registration deadline and one past it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.config import AlertsConfig
from bot.demo_company import NEW_HIRE_DAYS_AGO, build_company
from bot.demo_story import (
    LATE_HIRE_DAYS_AGO,
    OVERDUE_DAYS,
    PLAN_DAYS,
    late_account,
    partial_period,
)
from core.deadlines import due_date
from core.enrollment import enrollment_deadline
from core.periods import Period
from core.policy_loader import load_policies

POLICIES = load_policies()
YEAR = [date(2027, 7, 1) + timedelta(days=n) for n in range(366)]
HORIZON = AlertsConfig().funding_horizon_days


@pytest.mark.parametrize("today", YEAR, ids=str)
def test_the_story_holds_on_every_day(today: date) -> None:
    shanghai = POLICIES["shanghai"]
    placed = late_account(shanghai, today)
    assert (today - placed.due).days in OVERDUE_DAYS
    assert placed.due == due_date(shanghai, placed.period, due_day=placed.due_day)
    assert placed.suspension_on is not None
    assert (placed.suspension_on - today).days - 1 >= PLAN_DAYS
    # No later period has fallen due: the late one is the latest.
    assert due_date(shanghai, placed.period.next(), due_day=placed.due_day) >= today
    # Hong Kong: the partly paid period is due inside the funding horizon, or fell due at
    # most a few days ago (the gap counts overdue dues too); it is among the seeded months.
    hk = POLICIES["hk"]
    partial = partial_period(hk, today, HORIZON)
    assert -4 <= (due_date(hk, partial) - today).days <= HORIZON
    assert Period.of(today).shift(-4) <= partial <= Period.of(today)
    # Hangzhou's period two months back is past its suspension date: one account suspended.
    hangzhou = POLICIES["hangzhou"]
    assert hangzhou.suspension is not None
    two_back = due_date(hangzhou, Period.of(today).shift(-2))
    assert two_back + timedelta(days=hangzhou.suspension.suspend_after_days) <= today
    # One hire inside the registration deadline, one past it.
    assert enrollment_deadline(today - timedelta(days=NEW_HIRE_DAYS_AGO)) >= today
    assert enrollment_deadline(today - timedelta(days=LATE_HIRE_DAYS_AGO)) < today


def test_the_company_has_both_hires_unenrolled() -> None:
    today = date(2026, 12, 4)
    people, cast = build_company(today)
    by_id = {p.employee_id: p for p in people}
    assert len(people) == 200
    for hire in (by_id[cast.new_hire], by_id[cast.late_hire]):
        assert hire.enrolled_on is None and hire.leave_date is None
    assert by_id[cast.late_hire].hire_date == today - timedelta(days=LATE_HIRE_DAYS_AGO)
