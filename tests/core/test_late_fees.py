from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.late_fees import LateFee, Payment, late_fee
from core.money import Rounding, round_amount
from core.policy import (
    DueRule,
    HolidayRule,
    LateFeeCap,
    LateFeeModel,
    LateFeeRule,
    Policy,
    SuspensionRule,
)


def make_policy(model: LateFeeModel, rate: str) -> Policy:
    return Policy(
        id="test",
        name="Test",
        currency="CNY",
        due=DueRule(day=15, holiday_rule=HolidayRule.NONE),
        late_fee=LateFeeRule(model=model, rate=Decimal(rate)),
        suspension=SuspensionRule(suspend_after_days=30, restore_window_months=3),
        versions=(),
    )


CN = make_policy(LateFeeModel.DAILY_RATE, "0.0005")
MPF = make_policy(LateFeeModel.FLAT_SURCHARGE, "0.05")
DUE = date(2026, 10, 15)
D = Decimal


def test_a_principal_cap_stops_the_fee_at_the_principal() -> None:
    # 2100 days x 0.05 % = 105 % of the principal: capped at 100 % (行政强制法 Art. 45).
    capped = replace(CN, late_fee=replace(CN.late_fee, cap=LateFeeCap.PRINCIPAL))
    as_of = DUE + timedelta(days=2100)
    assert late_fee(CN, D("1000"), DUE, [], as_of).amount == D("1050.00")
    assert late_fee(capped, D("1000"), DUE, [], as_of).amount == D("1000.00")
    assert late_fee(capped, D("1000"), DUE, [], DUE + timedelta(days=10)).amount == D("5.00")


def test_ten_days_on_ten_thousand() -> None:
    # 16..25 October inclusive = 10 days x 10000 x 0.0005 = 50.00
    fee = late_fee(CN, D("10000"), DUE, [], date(2026, 10, 25))
    assert fee == LateFee(amount=D("50.00"), days_overdue=10, outstanding=D("10000"))


def test_first_overdue_day_accrues_one_day() -> None:
    assert late_fee(CN, D("10000"), DUE, [], date(2026, 10, 16)).amount == D("5.00")


def test_nothing_on_or_before_the_due_date() -> None:
    fee = late_fee(CN, D("10000"), DUE, [], DUE)
    assert fee == LateFee(amount=D("0.00"), days_overdue=0, outstanding=D("10000"))


def test_payment_day_accrues_on_the_part_it_pays() -> None:
    # 4000 paid on the 20th: 16..20 (5 days) on 10000 = 25.00; 21..25 (5 days) on 6000 = 15.00
    payments = [Payment(date(2026, 10, 20), D("4000"))]
    fee = late_fee(CN, D("10000"), DUE, payments, date(2026, 10, 25))
    assert fee == LateFee(amount=D("40.00"), days_overdue=10, outstanding=D("6000"))


def test_full_late_payment_stops_the_fee() -> None:
    # Paid in full on the 20th: 5 days x 5.00; evaluating later changes nothing.
    payments = [Payment(date(2026, 10, 20), D("10000"))]
    fee = late_fee(CN, D("10000"), DUE, payments, date(2026, 12, 31))
    assert fee == LateFee(amount=D("25.00"), days_overdue=5, outstanding=D("0"))


def test_payment_before_due_only_reduces_the_principal() -> None:
    payments = [Payment(date(2026, 10, 10), D("9000"))]
    fee = late_fee(CN, D("10000"), DUE, payments, date(2026, 10, 25))
    assert fee == LateFee(amount=D("5.00"), days_overdue=10, outstanding=D("1000"))


def test_two_payments_on_one_day_and_payments_after_as_of() -> None:
    payments = [
        Payment(date(2026, 10, 18), D("3000")),
        Payment(date(2026, 10, 18), D("7000")),
        Payment(date(2026, 11, 1), D("5")),  # after as_of: ignored
    ]
    fee = late_fee(CN, D("10000"), DUE, payments, date(2026, 10, 18))
    assert fee == LateFee(amount=D("15.00"), days_overdue=3, outstanding=D("0"))


def test_fee_is_rounded_once_half_up() -> None:
    # 3 days x 333.33 x 0.0005 = 0.499995 -> 0.50
    assert late_fee(CN, D("333.33"), DUE, [], date(2026, 10, 18)).amount == D("0.50")


def test_mpf_surcharge_is_flat() -> None:
    # 5 % of what was unpaid at the due date, whatever the delay.
    payments = [Payment(date(2026, 10, 1), D("400")), Payment(date(2026, 10, 30), D("200"))]
    one_day = late_fee(MPF, D("1500"), DUE, payments, date(2026, 10, 16))
    assert one_day == LateFee(amount=D("55.00"), days_overdue=1, outstanding=D("1100"))
    later = late_fee(MPF, D("1500"), DUE, payments, date(2027, 3, 1))
    assert later == LateFee(amount=D("55.00"), days_overdue=137, outstanding=D("900"))


def test_mpf_paid_on_time_has_no_surcharge() -> None:
    payments = [Payment(DUE, D("1500"))]
    assert late_fee(MPF, D("1500"), DUE, payments, date(2026, 11, 1)).amount == D("0.00")
    assert late_fee(MPF, D("1500"), DUE, [], DUE).amount == D("0.00")


def test_invalid_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="principal"):
        late_fee(CN, D("-1"), DUE, [], DUE)
    with pytest.raises(ValueError, match="payment"):
        late_fee(CN, D("10"), DUE, [Payment(DUE, D("0"))], DUE)


principals = st.decimals(min_value=D("0.01"), max_value=D("1000000"), places=2)
payment_lists = st.lists(
    st.builds(
        Payment,
        paid_on=st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 3, 31)),
        amount=st.decimals(min_value=D("0.01"), max_value=D("500000"), places=2),
    ),
    max_size=5,
)


@given(principal=principals, days=st.integers(min_value=0, max_value=2000))
def test_fee_is_linear_in_days(principal: Decimal, days: int) -> None:
    fee = late_fee(CN, principal, DUE, [], DUE + timedelta(days=days))
    daily = principal * D("0.0005")
    assert fee.amount == round_amount(days * daily, Rounding.HALF_UP_CENT)
    assert fee.days_overdue == days


@given(
    principal=principals,
    payments=payment_lists,
    extra=st.builds(
        Payment,
        paid_on=st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 3, 31)),
        amount=st.decimals(min_value=D("0.01"), max_value=D("500000"), places=2),
    ),
    as_of=st.dates(min_value=date(2026, 10, 1), max_value=date(2027, 3, 31)),
    policy=st.sampled_from([CN, MPF]),
)
def test_a_payment_never_increases_the_fee(
    principal: Decimal, payments: list[Payment], extra: Payment, as_of: date, policy: Policy
) -> None:
    without = late_fee(policy, principal, DUE, payments, as_of)
    with_extra = late_fee(policy, principal, DUE, [*payments, extra], as_of)
    assert D(0) <= with_extra.amount <= without.amount
    assert with_extra.outstanding <= without.outstanding
    assert with_extra.days_overdue <= without.days_overdue


@given(
    principal=principals,
    payments=payment_lists,
    as_of=st.dates(date(2026, 10, 1), date(2030, 1, 1)),
)
def test_fee_never_shrinks_as_time_passes(
    principal: Decimal, payments: list[Payment], as_of: date
) -> None:
    today = late_fee(CN, principal, DUE, payments, as_of)
    tomorrow = late_fee(CN, principal, DUE, payments, as_of + timedelta(days=1))
    assert D(0) <= today.amount <= tomorrow.amount
