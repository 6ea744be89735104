from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.funding import FundingGap, UpcomingDue, funding_gap
from core.periods import Period

AS_OF = date(2026, 10, 1)
D = Decimal


def due(account: str, day: date, amount: str, suspension_on: date | None = None) -> UpcomingDue:
    return UpcomingDue(
        account=account,
        period=Period.of(day),
        due_date=day,
        amount=D(amount),
        suspension_on=suspension_on,
    )


BEIJING = due("beijing", date(2026, 10, 15), "60000")
SHANGHAI = due("shanghai", date(2026, 10, 15), "40000", suspension_on=date(2026, 10, 20))
HK = due("hk", date(2026, 10, 12), "15000")
NEXT_MONTH = due("beijing", date(2026, 11, 16), "60000")


def test_covered_balance_has_no_gap() -> None:
    assert funding_gap(D("115000"), AS_OF, [BEIJING, SHANGHAI, HK], 30) is None
    # Dues after the horizon do not count.
    assert funding_gap(D("115000"), AS_OF, [BEIJING, SHANGHAI, HK, NEXT_MONTH], 30) is None


def test_shortfall_first_uncovered_date_and_pay_first_order() -> None:
    gap = funding_gap(D("70000"), AS_OF, [BEIJING, NEXT_MONTH, SHANGHAI, HK], 30)
    # In date order: hk 15000 (12 Oct) fits; of the two due 15 Oct, beijing (no suspension
    # date, so 15 Oct) outranks shanghai (suspends 20 Oct) and takes the total to 75000.
    assert gap == FundingGap(
        balance=D("70000"),
        total_due=D("115000"),
        shortfall=D("45000"),
        first_uncovered=date(2026, 10, 15),
        horizon_end=date(2026, 10, 31),
        pay_first=(HK, BEIJING, SHANGHAI),
    )


def test_earlier_suspension_jumps_the_queue() -> None:
    urgent = due("shanghai", date(2026, 10, 15), "40000", suspension_on=date(2026, 10, 5))
    gap = funding_gap(D("0"), AS_OF, [HK, BEIJING, urgent], 30)
    assert gap is not None
    assert gap.pay_first == (urgent, HK, BEIJING)
    assert gap.first_uncovered == date(2026, 10, 12)


def test_overdue_dues_are_still_owed() -> None:
    overdue = due("beijing", date(2026, 9, 15), "60000")
    gap = funding_gap(D("50000"), AS_OF, [overdue], 0)
    assert gap is not None
    assert gap.shortfall == D("10000")
    assert gap.first_uncovered == date(2026, 9, 15)


def test_negative_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="horizon"):
        funding_gap(D("0"), AS_OF, [], -1)


amounts = st.decimals(min_value=D("0.01"), max_value=D("100000"), places=2)
dues = st.lists(
    st.builds(
        due,
        account=st.sampled_from(["beijing", "shanghai", "hk"]),
        day=st.dates(date(2026, 9, 1), date(2026, 12, 31)),
        amount=amounts.map(str),
    ),
    max_size=8,
)


@given(balance=st.decimals(min_value=D("0"), max_value=D("500000"), places=2), upcoming=dues)
def test_gap_exists_exactly_when_dues_exceed_the_balance(
    balance: Decimal, upcoming: list[UpcomingDue]
) -> None:
    gap = funding_gap(balance, AS_OF, upcoming, 45)
    in_horizon = [d for d in upcoming if d.due_date <= date(2026, 11, 15)]
    total = sum((d.amount for d in in_horizon), D(0))
    if total <= balance:
        assert gap is None
    else:
        assert gap is not None
        assert gap.shortfall == total - balance > 0
        assert sorted(gap.pay_first, key=id) == sorted(in_horizon, key=id)
        # Everything due strictly before the first uncovered date fits in the balance.
        before = sum((d.amount for d in in_horizon if d.due_date < gap.first_uncovered), D(0))
        assert before <= balance
