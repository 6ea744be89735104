from datetime import date
from decimal import Decimal

from core.cover import Continuity, CoverState, CoverStatus, PeriodStanding, continuity, cover_status
from core.periods import Period
from core.policy import (
    DueRule,
    HolidayRule,
    LateFeeModel,
    LateFeeRule,
    Policy,
    SuspensionRule,
)

POLICY = Policy(
    id="test",
    name="Test",
    currency="CNY",
    due=DueRule(day=15, holiday_rule=HolidayRule.NEXT_WORKING_DAY_CN),
    late_fee=LateFeeRule(model=LateFeeModel.DAILY_RATE, rate=Decimal("0.0005")),
    suspension=SuspensionRule(suspend_after_days=30, restore_window_months=3),
    versions=(),
)
ENROLLED = date(2026, 1, 5)
P = Period.parse


def history(
    unpaid: tuple[str, ...] = (), paid_late: dict[str, date] | None = None
) -> dict[Period, PeriodStanding]:
    """Periods 2026-01..2026-10 due on the 15th; paid on the due date unless listed."""
    late = paid_late or {}
    result: dict[Period, PeriodStanding] = {}
    for month in range(1, 11):
        period = Period(2026, month)
        due = period.day(15)
        paid = None if str(period) in unpaid else late.get(str(period), due)
        result[period] = PeriodStanding(due_date=due, paid_in_full_on=paid)
    return result


def status(periods: dict[Period, PeriodStanding], as_of: date, **kw: date | None) -> CoverStatus:
    return cover_status(
        POLICY,
        enrolled_on=kw.get("enrolled_on", ENROLLED),
        leave_date=kw.get("leave_date"),
        periods=periods,
        as_of=as_of,
    )


def test_all_paid_is_active_and_next_due_is_the_next_period() -> None:
    result = status(history(), date(2026, 10, 20))
    # 2026-11-15 is a Sunday: the next due date is postponed to Monday.
    assert result == CoverStatus(
        state=CoverState.ACTIVE,
        paid_through=P("2026-10"),
        suspension_on=None,
        next_due=date(2026, 11, 16),
        arrears=(),
        lapsed=(),
        confirmed=False,
    )


def test_current_period_not_yet_due_is_not_at_risk() -> None:
    result = status(history(unpaid=("2026-10",)), date(2026, 10, 15))
    assert result.state is CoverState.ACTIVE
    assert result.paid_through == P("2026-09")
    assert result.next_due == date(2026, 10, 15)
    assert result.suspension_on is None and result.arrears == ()


def test_unpaid_after_due_date_is_grace_then_suspended() -> None:
    periods = history(unpaid=("2026-10",))
    grace = status(periods, date(2026, 10, 16))
    assert grace.state is CoverState.GRACE
    assert grace.suspension_on == date(2026, 11, 14)  # due 15 Oct + 30 days
    assert grace.arrears == (P("2026-10"),)
    assert status(periods, date(2026, 11, 13)).state is CoverState.GRACE
    suspended = status(periods, date(2026, 11, 14))
    assert suspended.state is CoverState.SUSPENDED
    assert suspended.suspension_on == date(2026, 11, 14)


def test_earliest_period_in_arrears_sets_the_suspension_day() -> None:
    result = status(history(unpaid=("2026-08", "2026-10")), date(2026, 10, 20))
    assert result.state is CoverState.SUSPENDED
    assert result.suspension_on == date(2026, 9, 14)
    assert result.arrears == (P("2026-08"), P("2026-10"))
    assert result.paid_through == P("2026-07")
    assert result.next_due == date(2026, 8, 15)


def test_back_payment_within_the_window_restores_cover() -> None:
    periods = history(paid_late={"2026-10": date(2026, 12, 1)})
    result = status(periods, date(2026, 12, 5))
    assert result.state is CoverState.ACTIVE
    assert result.paid_through == P("2026-10")
    assert result.lapsed == ()
    # Seen from before the payment arrived, the same history was suspended.
    assert status(periods, date(2026, 11, 30)).state is CoverState.SUSPENDED


def test_back_payment_after_the_window_leaves_a_lapsed_month() -> None:
    # Suspended 14 Nov 2026; restorable until 14 Feb 2027.
    on_last_day = status(history(paid_late={"2026-10": date(2027, 2, 14)}), date(2027, 3, 1))
    assert on_last_day.state is CoverState.ACTIVE and on_last_day.lapsed == ()
    too_late = status(history(paid_late={"2026-10": date(2027, 2, 15)}), date(2027, 3, 1))
    assert too_late.state is CoverState.ACTIVE
    assert too_late.lapsed == (P("2026-10"),)
    still_unpaid = status(history(unpaid=("2026-10",)), date(2027, 2, 15))
    assert still_unpaid.state is CoverState.SUSPENDED
    assert still_unpaid.lapsed == (P("2026-10"),)


def test_payment_dated_after_as_of_does_not_count_yet() -> None:
    periods = history(paid_late={"2026-10": date(2026, 10, 30)})
    assert status(periods, date(2026, 10, 20)).state is CoverState.GRACE


def test_not_enrolled() -> None:
    never = status({}, date(2026, 10, 20), enrolled_on=None)
    assert never.state is CoverState.NOT_ENROLLED
    assert never.paid_through is None and never.next_due is None
    future = status({}, date(2026, 10, 20), enrolled_on=date(2026, 11, 1))
    assert future.state is CoverState.NOT_ENROLLED


def test_cover_runs_to_the_end_of_the_month_of_leaving() -> None:
    periods = history()
    in_leave_month = status(periods, date(2026, 10, 31), leave_date=date(2026, 10, 20))
    assert in_leave_month.state is CoverState.ACTIVE
    assert in_leave_month.next_due is None  # no dues after the month of leaving
    after = status(periods, date(2026, 11, 1), leave_date=date(2026, 10, 20))
    assert after.state is CoverState.NOT_ENROLLED
    assert after.paid_through == P("2026-10")


def test_leaver_with_arrears_still_shows_them() -> None:
    periods = history(unpaid=("2026-10",))
    after = status(periods, date(2026, 11, 20), leave_date=date(2026, 10, 20))
    assert after.state is CoverState.NOT_ENROLLED
    assert after.arrears == (
        P(
            "2026-10",
        ),
    )
    assert after.suspension_on is None


def test_first_period_uses_the_enrolment_month_and_account_due_day() -> None:
    result = cover_status(
        POLICY,
        enrolled_on=date(2026, 10, 8),
        leave_date=None,
        periods={},
        as_of=date(2026, 10, 9),
        due_day=20,
    )
    assert result.state is CoverState.ACTIVE
    assert result.next_due == date(2026, 10, 20)


def test_without_a_suspension_rule_arrears_are_listed_but_cover_is_never_suspended() -> None:
    """Hong Kong MPF: savings, not insurance; an employer's arrears suspend nothing."""
    mpf = Policy(
        id="hk-like",
        name="No suspension",
        currency="HKD",
        due=DueRule(day=10, month_offset=1, holiday_rule=HolidayRule.NEXT_WEEKDAY),
        late_fee=LateFeeRule(model=LateFeeModel.FLAT_SURCHARGE, rate=Decimal("0.05")),
        suspension=None,
        versions=(),
    )
    result = cover_status(
        mpf,
        enrolled_on=ENROLLED,
        leave_date=None,
        periods=history(unpaid=("2026-03", "2026-04")),
        as_of=date(2026, 10, 20),
    )
    assert result.state is CoverState.ACTIVE
    assert result.arrears == (P("2026-03"), P("2026-04"))
    assert result.suspension_on is None
    assert result.lapsed == ()
    assert result.confirmed


def test_continuity_counts_from_enrolment_to_paid_through() -> None:
    run = continuity(status(history(), date(2026, 11, 1)), ENROLLED)
    assert (run.since, run.months) == (P("2026-01"), 10)


def test_a_lapsed_month_starts_the_count_again() -> None:
    # April's cover was suspended on 14 May and paid on 1 Sep, after its restore window.
    current = status(history(paid_late={"2026-04": date(2026, 9, 1)}), date(2026, 11, 1))
    assert current.lapsed == (P("2026-04"),)
    run = continuity(current, ENROLLED)
    assert (run.since, run.months) == (P("2026-05"), 6)


def test_no_continuity_before_anything_is_paid_or_without_enrolment() -> None:
    unpaid = status(history(unpaid=("2026-01",)), date(2026, 1, 20))
    assert continuity(unpaid, ENROLLED) == Continuity(since=None, months=0)
    assert continuity(status(history(), date(2026, 11, 1)), None).months == 0
