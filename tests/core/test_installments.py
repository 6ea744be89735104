from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.installments import PlanError, PlannedInstallment, quote_plan, split_installments
from core.late_fees import Payment
from core.policy import DueRule, HolidayRule, LateFeeModel, LateFeeRule, Policy, SuspensionRule

D = Decimal
CN = Policy(
    id="test",
    name="Test",
    currency="CNY",
    due=DueRule(day=15, holiday_rule=HolidayRule.NONE),
    late_fee=LateFeeRule(model=LateFeeModel.DAILY_RATE, rate=D("0.0005")),
    suspension=SuspensionRule(suspend_after_days=15, restore_window_months=3),
    versions=(),
)
DUE = date(2026, 10, 15)
TODAY = date(2026, 10, 20)
SUSPENSION = date(2026, 10, 30)


def test_three_installments_before_suspension() -> None:
    assert split_installments(D("10000"), today=TODAY, suspension_on=SUSPENSION, count=3) == (
        PlannedInstallment(seq=1, due_on=date(2026, 10, 23), amount=D("3333.33")),
        PlannedInstallment(seq=2, due_on=date(2026, 10, 26), amount=D("3333.33")),
        PlannedInstallment(seq=3, due_on=date(2026, 10, 29), amount=D("3333.34")),
    )


@given(
    cents=st.integers(min_value=1, max_value=10**9),
    count=st.integers(min_value=1, max_value=12),
    spare_days=st.integers(min_value=0, max_value=60),
)
def test_parts_sum_to_the_cent_on_increasing_days_before_suspension(
    cents: int, count: int, spare_days: int
) -> None:
    outstanding = D(cents).scaleb(-2)
    suspension_on = TODAY + timedelta(days=count + 1 + spare_days)
    if cents < count:
        with pytest.raises(PlanError, match="cannot be split"):
            split_installments(outstanding, today=TODAY, suspension_on=suspension_on, count=count)
        return
    parts = split_installments(outstanding, today=TODAY, suspension_on=suspension_on, count=count)
    assert [p.seq for p in parts] == list(range(1, count + 1))
    assert sum(p.amount for p in parts) == outstanding
    assert all(p.amount >= D("0.01") and p.amount == p.amount.quantize(D("0.01")) for p in parts)
    days = [TODAY, *(p.due_on for p in parts), suspension_on]
    assert days == sorted(set(days))  # strictly increasing
    assert parts[-1].due_on == suspension_on - timedelta(days=1)


@pytest.mark.parametrize(
    ("suspension_on", "count", "message"),
    [
        (date(2026, 10, 25), 5, "only 4 days remain before suspension on 2026-10-25"),
        (date(2026, 10, 21), 1, "only 0 days remain"),  # suspended tomorrow: no day to pay on
        (date(2026, 10, 18), 1, "only 0 days remain"),  # already suspended
    ],
)
def test_too_few_days_before_suspension(suspension_on: date, count: int, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        split_installments(D("10000"), today=TODAY, suspension_on=suspension_on, count=count)
    assert len(split_installments(D("10000"), today=TODAY, suspension_on=SUSPENSION, count=9)) == 9


@pytest.mark.parametrize(
    ("outstanding", "count", "message"),
    [
        (D("10000"), 0, "at least 1"),
        (D("0"), 2, "nothing is owed"),
        (D("0.02"), 3, "cannot be split"),
    ],
)
def test_impossible_plans(outstanding: Decimal, count: int, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        split_installments(outstanding, today=TODAY, suspension_on=SUSPENSION, count=count)


def test_quote_compares_the_plan_with_paying_today() -> None:
    quote = quote_plan(
        CN,
        principal=D("10000"),
        due_date=DUE,
        payments=[],
        today=TODAY,
        suspension_on=SUSPENSION,
        count=3,
    )
    # Today: 16..20 Oct = 5 days x 10000 x 0.05 % = 25.00.
    assert quote.fee_if_paid_today == D("25.00")
    # Plan: 10000 for 16..23 Oct, 6666.67 for 24..26, 3333.34 for 27..29 (payment days
    # inclusive): (80000 + 20000.01 + 10000.02) x 0.0005 = 55.000015 -> 55.00.
    assert quote.fee_with_plan == D("55.00")
    assert quote.extra_fee == D("30.00")


def test_quote_splits_only_what_is_still_owed() -> None:
    paid = [Payment(date(2026, 10, 18), D("4000")), Payment(date(2026, 10, 22), D("1000"))]
    quote = quote_plan(
        CN,
        principal=D("10000"),
        due_date=DUE,
        payments=paid,
        today=TODAY,
        suspension_on=SUSPENSION,
        count=2,
    )
    # The payment after today is not counted: 6000 remains, split in two.
    assert [p.amount for p in quote.installments] == [D("3000.00"), D("3000.00")]
    # 16..18 Oct on 10000, 19..20 Oct on 6000: (30000 + 12000) x 0.0005 = 21.00.
    assert quote.fee_if_paid_today == D("21.00")


@given(
    principal_cents=st.integers(min_value=100, max_value=10**8),
    paid_share=st.integers(min_value=0, max_value=90),
    late_days=st.integers(min_value=1, max_value=10),
    count=st.integers(min_value=1, max_value=4),
)
def test_a_plan_never_costs_less_than_paying_today(
    principal_cents: int, paid_share: int, late_days: int, count: int
) -> None:
    principal = D(principal_cents).scaleb(-2)
    payments = (
        [Payment(DUE + timedelta(days=1), (principal * paid_share / 100).quantize(D("0.01")))]
        if paid_share
        else []
    )
    quote = quote_plan(
        CN,
        principal=principal,
        due_date=DUE,
        payments=payments,
        today=DUE + timedelta(days=late_days),
        suspension_on=SUSPENSION,
        count=count,
    )
    assert quote.fee_with_plan >= quote.fee_if_paid_today
    assert quote.extra_fee >= 0
