"""The policy figures corrected against their sources (core/policies/README.md), at their edges.

Each figure is checked where it starts to apply and just inside and outside its range, so a
wrong date or bound in a policy file fails here rather than in an HR team's ledger.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.contributions import contribution
from core.periods import Period
from core.policy import AccountSettings, LateFeeCap, Scheme
from core.policy_loader import load_policies

POLICIES = load_policies()


def _line(
    policy_id: str,
    salary: str,
    period: str,
    scheme: Scheme,
    *,
    injury_rate: str | None = None,
    housing_fund_rate: str | None = None,
) -> tuple[Decimal, Decimal, Decimal]:
    account = AccountSettings(
        account_id=policy_id,
        policy_id=policy_id,
        injury_rate=None if injury_rate is None else Decimal(injury_rate),
        housing_fund_rate=None if housing_fund_rate is None else Decimal(housing_fund_rate),
    )
    dues = contribution(POLICIES[policy_id], account, Decimal(salary), Period.parse(period))
    line = dues.line(scheme)
    assert line is not None
    return line.base, line.employer, line.employee


@pytest.mark.parametrize("period", ["2024-07", "2025-07", "2026-07"])
def test_shanghai_injury_defaults_to_0_16_percent_and_allows_up_to_1_52(period: str) -> None:
    # Forvis Mazars China (Aug 2024) and i-admin (2019): Shanghai classes run 0.16 %-1.52 %.
    base, employer, _ = _line("shanghai", "20000", period, Scheme.INJURY)
    assert (base, employer) == (Decimal("20000.00"), Decimal("32.00"))
    assert _line("shanghai", "20000", period, Scheme.INJURY, injury_rate="0.0152")[1] == Decimal(
        "304.00"
    )
    for outside in ("0.0015", "0.0153"):
        with pytest.raises(ValueError, match="injury_rate"):
            _line("shanghai", "20000", period, Scheme.INJURY, injury_rate=outside)


@pytest.mark.parametrize(
    ("policy_id", "floor", "side"),
    [("beijing", Decimal(2420), Decimal(121)), ("shanghai", Decimal(2690), Decimal(135))],
)
def test_2024_07_housing_fund_floors(policy_id: str, floor: Decimal, side: Decimal) -> None:
    # Forvis Mazars China, "August 2024 social contribution in SH and BJ".
    below = str(floor - Decimal("0.01"))
    base, employer, employee = _line(
        policy_id, below, "2024-07", Scheme.HOUSING_FUND, housing_fund_rate="0.05"
    )
    assert base == floor
    assert employer == employee == side  # 5 %, half up to the yuan
    above = _line(
        policy_id, str(floor + 1), "2024-07", Scheme.HOUSING_FUND, housing_fund_rate="0.05"
    )
    assert above[0] == floor + 1


@pytest.mark.parametrize(
    ("period", "salary", "employee"),
    [
        ("2013-11", "7099.99", "0.00"),
        ("2013-11", "7100", "355.00"),
        ("2014-05", "30000", "1250.00"),  # maximum relevant income 25,000 until 2014-05-31
        ("2014-06", "30000", "1500.00"),  # 30,000 from 2014-06-01
    ],
)
def test_hk_mpf_minimum_7100_from_2013_11(period: str, salary: str, employee: str) -> None:
    # MPFA press release 4950: minimum relevant income 7,100 from 2013-11-01.
    assert _line("hk", salary, period, Scheme.MPF)[2] == Decimal(employee)


def test_hk_mpf_has_no_rule_before_2013_11() -> None:
    assert POLICIES["hk"].rule_for(Scheme.MPF, Period(2013, 10)) is None


def test_shipped_policies_leave_the_late_fee_uncapped() -> None:
    assert all(policy.late_fee.cap is LateFeeCap.NONE for policy in POLICIES.values())
