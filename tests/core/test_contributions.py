"""Contributions against the public calculators' figures (policies.md), bands and rounding."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.contributions import (
    AccountRules,
    Amounts,
    CentsDues,
    Contribution,
    _amounts,
    account_rules,
    contribution,
)
from core.money import CENT, ZERO, Rounding, to_cents
from core.periods import Period
from core.policy import (
    AccountSettings,
    DueRule,
    LateFeeModel,
    LateFeeRule,
    Policy,
    PolicyVersion,
    Scheme,
    SchemeRule,
    SuspensionRule,
)
from core.policy_loader import load_policies

POLICIES = load_policies()


def _account(
    policy_id: str, injury_rate: Decimal | None = None, housing_fund_rate: Decimal | None = None
) -> AccountSettings:
    return AccountSettings(
        account_id=f"{policy_id}-main",
        policy_id=policy_id,
        injury_rate=injury_rate,
        housing_fund_rate=housing_fund_rate,
    )


def _dues(
    policy_id: str,
    salary: str,
    period: str,
    injury_rate: Decimal | None = None,
    housing_fund_rate: Decimal | None = None,
) -> Contribution:
    account = _account(policy_id, injury_rate, housing_fund_rate)
    return contribution(POLICIES[policy_id], account, Decimal(salary), Period.parse(period))


def _split(dues: Contribution, scheme: Scheme) -> tuple[Decimal, Decimal, Decimal]:
    line = dues.line(scheme)
    assert line is not None, scheme
    return line.base, line.employer, line.employee


@pytest.mark.parametrize("period", ["2025-10", "2026-07"])
def test_beijing_base_20000_matches_the_public_calculators(period: str) -> None:
    dues = _dues("beijing", "20000", period)
    # policies.md: employee 1600 + 403 (2 % + 3 yuan) + 100; employer 26.5 % with injury 0.2 %.
    assert dues.employee_total == Decimal("2103.00")
    assert dues.employer_total == Decimal("5300.00")
    assert dues.total == Decimal("7403.00")
    assert dues.currency == "CNY"
    assert _split(dues, Scheme.MEDICAL) == (Decimal(20000), Decimal("1960.00"), Decimal("400.00"))
    assert _split(dues, Scheme.MEDICAL_ADDON) == (Decimal(0), Decimal("0.00"), Decimal("3.00"))
    assert _split(dues, Scheme.INJURY)[1:] == (Decimal("40.00"), Decimal("0.00"))
    assert dues.line(Scheme.MATERNITY) is None
    assert dues.line(Scheme.HOUSING_FUND) is None


def test_shanghai_30000_with_a_7_percent_housing_fund_matches_the_public_calculators() -> None:
    dues = _dues("shanghai", "30000", "2025-10", housing_fund_rate=Decimal("0.07"))
    assert dues.employee_total == Decimal("5250.00")
    assert _split(dues, Scheme.HOUSING_FUND) == (
        Decimal(30000),
        Decimal("2100.00"),
        Decimal("2100.00"),
    )


@pytest.mark.parametrize(
    ("salary", "base"),
    [
        ("7269.99", "7270"),
        ("7270.00", "7270"),
        ("7270.01", "7270.01"),
        ("36347.99", "36347.99"),
        ("36348.00", "36348"),
        ("36348.01", "36348"),
    ],
)
def test_the_base_is_clamped_to_the_band_at_floor_and_ceiling(salary: str, base: str) -> None:
    dues = _dues("beijing", salary, "2026-07")
    pension_base, employer, employee = _split(dues, Scheme.PENSION)
    assert pension_base == Decimal(base)
    assert employer == (Decimal(base) * Decimal("0.16")).quantize(Decimal("0.01"))
    assert employee == (Decimal(base) * Decimal("0.08")).quantize(Decimal("0.01"))


def test_the_version_switches_exactly_on_its_effective_date() -> None:
    june = _dues("beijing", "5000", "2026-06")
    july = _dues("beijing", "5000", "2026-07")
    assert _split(june, Scheme.PENSION)[0] == Decimal(7162)
    assert _split(july, Scheme.PENSION)[0] == Decimal(7270)


def test_medical_follows_the_calendar_year_while_pension_keeps_its_july_band() -> None:
    december = _dues("shenzhen", "1000", "2025-12")
    january = _dues("shenzhen", "1000", "2026-01")
    assert _split(december, Scheme.MEDICAL) == (Decimal(6733), Decimal("336.65"), Decimal("134.66"))
    assert _split(january, Scheme.MEDICAL) == (Decimal(6727), Decimal("403.62"), Decimal("134.54"))
    assert _split(december, Scheme.PENSION)[0] == _split(january, Scheme.PENSION)[0] == 4775


@pytest.mark.parametrize(
    ("salary", "employer", "employee"),
    [
        ("5000", "250.00", "0.00"),
        ("7099.99", "355.00", "0.00"),
        ("7100", "355.00", "355.00"),
        ("30000", "1500.00", "1500.00"),
        ("30000.01", "1500.00", "1500.00"),
        ("80000", "1500.00", "1500.00"),
    ],
)
def test_mpf_exempts_low_earners_and_caps_relevant_income(
    salary: str, employer: str, employee: str
) -> None:
    dues = _dues("hk", salary, "2026-03")
    assert dues.currency == "HKD"
    assert _split(dues, Scheme.MPF)[1:] == (Decimal(employer), Decimal(employee))
    assert dues.employer_total == Decimal(employer)


def test_the_account_picks_the_injury_rate_within_the_policy_range() -> None:
    dues = _dues("beijing", "20000", "2026-07", injury_rate=Decimal("0.01"))
    assert _split(dues, Scheme.INJURY)[1] == Decimal("200.00")
    for outside in ("0.001", "0.02"):
        with pytest.raises(
            ValueError, match=r"injury_rate 0\.0\d+ is outside the policy's injury range"
        ):
            _dues("beijing", "20000", "2026-07", injury_rate=Decimal(outside))


def test_the_housing_fund_rate_must_lie_in_the_city_range() -> None:
    top = _dues("beijing", "20000", "2026-07", housing_fund_rate=Decimal("0.12"))
    assert _split(top, Scheme.HOUSING_FUND)[1:] == (Decimal("2400.00"), Decimal("2400.00"))
    with pytest.raises(ValueError, match=r"housing_fund_rate 0\.08 is outside"):
        _dues("shanghai", "20000", "2026-07", housing_fund_rate=Decimal("0.08"))
    with pytest.raises(ValueError, match=r"housing_fund_rate 0\.04 is outside"):
        _dues("beijing", "20000", "2026-07", housing_fund_rate=Decimal("0.04"))


def test_the_housing_fund_is_rounded_half_up_to_the_yuan() -> None:
    below_half = _dues("shanghai", "10007.00", "2026-07", housing_fund_rate=Decimal("0.07"))
    at_half = _dues("shanghai", "10007.50", "2026-07", housing_fund_rate=Decimal("0.07"))
    assert _split(below_half, Scheme.HOUSING_FUND)[1:] == (Decimal("700.00"), Decimal("700.00"))
    assert _split(at_half, Scheme.HOUSING_FUND)[1:] == (Decimal("701.00"), Decimal("701.00"))


def test_a_housing_fund_rate_without_a_band_in_the_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="no housing fund band for 2026-01"):
        _dues("shenzhen", "20000", "2026-01", housing_fund_rate=Decimal("0.05"))


def test_a_period_before_every_scheme_has_a_band_is_refused() -> None:
    with pytest.raises(ValueError, match="no band for injury, pension, unemployment in 2025-03"):
        _dues("shenzhen", "20000", "2025-03")
    with pytest.raises(
        ValueError,
        match=r"no band for injury, medical, medical_addon, pension, unemployment in 2024-06",
    ):
        _dues("beijing", "20000", "2024-06")


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="salary must not be negative"):
        _dues("beijing", "-1", "2026-07")
    with pytest.raises(TypeError, match="float"):
        contribution(POLICIES["beijing"], _account("beijing"), 20000.0, Period(2026, 7))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uses policy shanghai, not beijing"):
        contribution(POLICIES["beijing"], _account("shanghai"), Decimal(1), Period(2026, 7))


def _single_scheme_policy(rounding: Rounding) -> Policy:
    rule = SchemeRule(
        scheme=Scheme.PENSION,
        floor=Decimal(0),
        ceiling=Decimal(100000),
        employer_rate=Decimal("0.0123"),
        employee_rate=Decimal("0.0123"),
        rounding=rounding,
    )
    return Policy(
        id="test",
        name="test",
        currency="CNY",
        due=DueRule(day=15),
        late_fee=LateFeeRule(model=LateFeeModel.DAILY_RATE, rate=Decimal("0.0005")),
        suspension=SuspensionRule(suspend_after_days=15, restore_window_months=3),
        versions=(PolicyVersion(effective=date(2025, 1, 1), schemes={Scheme.PENSION: rule}),),
    )


@pytest.mark.parametrize(
    ("rounding", "expected"),
    [
        (Rounding.HALF_UP_CENT, "15.19"),
        (Rounding.JIAN_FEN_JIN_JIAO, "15.20"),
        (Rounding.HALF_UP_YUAN, "15.00"),
        (Rounding.TRUNCATE_CENT, "15.18"),
    ],
)
def test_each_rounding_mode_applies_per_scheme(rounding: Rounding, expected: str) -> None:
    # 1234.56 × 1.23 % = 15.185088
    dues = contribution(
        _single_scheme_policy(rounding), _account("test"), Decimal("1234.56"), Period(2025, 6)
    )
    assert _split(dues, Scheme.PENSION)[1:] == (Decimal(expected), Decimal(expected))
    assert str(dues.total) == str(Decimal(expected) * 2)


SALARIES = st.decimals(min_value=0, max_value=200000, places=2, allow_nan=False)
CASES = st.tuples(
    st.sampled_from(sorted(POLICIES)),
    st.sampled_from([Period(2025, 7).shift(months) for months in range(24)]),
    st.sampled_from([None, Decimal("0.05"), Decimal("0.07")]),
)


def _housing(policy_id: str, rate: Decimal | None) -> Decimal | None:
    """The sampled housing-fund rate, for policies that have a housing fund band."""
    has_fund = any(Scheme.HOUSING_FUND in v.schemes for v in POLICIES[policy_id].versions)
    return rate if has_fund else None


@given(case=CASES, salary=SALARIES)
def test_lines_sum_to_the_totals(case: tuple[str, Period, Decimal | None], salary: Decimal) -> None:
    policy_id, period, housing = case
    dues = _dues(
        policy_id, str(salary), str(period), housing_fund_rate=_housing(policy_id, housing)
    )
    assert dues.employer_total == sum(line.employer for line in dues.lines)
    assert dues.employee_total == sum(line.employee for line in dues.lines)
    assert dues.total == dues.employer_total + dues.employee_total
    assert all(line.employer >= 0 and line.employee >= 0 for line in dues.lines)


@given(case=CASES, low=SALARIES, high=SALARIES)
def test_contributions_never_fall_as_the_salary_rises(
    case: tuple[str, Period, Decimal | None], low: Decimal, high: Decimal
) -> None:
    policy_id, period, housing = case
    low, high = sorted((low, high))
    rate = _housing(policy_id, housing)
    smaller = _dues(policy_id, str(low), str(period), housing_fund_rate=rate)
    larger = _dues(policy_id, str(high), str(period), housing_fund_rate=rate)
    for small_line, large_line in zip(smaller.lines, larger.lines, strict=True):
        assert small_line.employer <= large_line.employer
        assert small_line.employee <= large_line.employee
    assert smaller.total <= larger.total


def test_account_rules_make_every_check_but_the_salarys_once() -> None:
    period = Period(2026, 7)
    with pytest.raises(ValueError, match="uses policy shanghai, not beijing"):
        account_rules(POLICIES["beijing"], _account("shanghai"), period)
    with pytest.raises(ValueError, match="no band for injury, pension, unemployment in 2025-03"):
        account_rules(POLICIES["shenzhen"], _account("shenzhen"), Period(2025, 3))
    with pytest.raises(ValueError, match=r"injury_rate 0\.02 is outside"):
        account_rules(POLICIES["beijing"], _account("beijing", Decimal("0.02")), period)
    with pytest.raises(ValueError, match="no housing fund band for 2026-01"):
        account_rules(
            POLICIES["shenzhen"], _account("shenzhen", None, Decimal("0.05")), Period(2026, 1)
        )
    rules = account_rules(POLICIES["beijing"], _account("beijing", Decimal("0.004")), period)
    assert [rule.scheme for rule, _, _ in rules.schemes] == [
        Scheme.PENSION,
        Scheme.MEDICAL,
        Scheme.UNEMPLOYMENT,
        Scheme.INJURY,
        Scheme.MEDICAL_ADDON,
    ]  # no housing fund: the account does not configure one
    assert rules.schemes[3][1] == Decimal("0.004")
    with pytest.raises(ValueError, match="salary must not be negative"):
        rules.amounts(Decimal("-0.01"))
    with pytest.raises(TypeError, match="float"):
        rules.dues(1.5)  # type: ignore[arg-type]


def _scheme_by_scheme(rules: AccountRules, salary: Decimal) -> tuple[Amounts, ...]:
    return tuple(
        _amounts(rule, salary, employer, employee) for rule, employer, employee in rules.schemes
    )


@given(case=CASES, salary=SALARIES)
def test_amounts_from_the_cap_up_are_the_caps(
    case: tuple[str, Period, Decimal | None], salary: Decimal
) -> None:
    policy_id, period, housing = case
    account = _account(policy_id, housing_fund_rate=_housing(policy_id, housing))
    rules = account_rules(POLICIES[policy_id], account, period)
    assert rules.amounts(salary) == _scheme_by_scheme(rules, salary)
    assert rules.cap == max(rule.ceiling for rule, _, _ in rules.schemes)


def test_the_cap_covers_an_exemption_above_the_ceiling() -> None:
    # A made-up band whose exemption threshold lies above its ceiling: below the threshold the
    # employee pays nothing even though the base is already capped.
    policy = _single_scheme_policy(Rounding.HALF_UP_CENT)
    rule = policy.versions[0].schemes[Scheme.PENSION]
    exempt = replace(rule, ceiling=Decimal(1000), employee_exempt_below=Decimal(2000))
    version = replace(policy.versions[0], schemes={Scheme.PENSION: exempt})
    rules = account_rules(replace(policy, versions=(version,)), _account("test"), Period(2025, 6))
    assert rules.cap == Decimal(2000)
    for salary in ("1500", "1999.99", "2000", "5000"):
        assert rules.amounts(Decimal(salary)) == _scheme_by_scheme(rules, Decimal(salary))
    assert rules.amounts(Decimal("1500"))[0][3] == Decimal("0.00")
    assert rules.amounts(Decimal("2000"))[0][3] == Decimal("12.30")


def _as_stored(amounts: tuple[Amounts, ...]) -> CentsDues:
    """Decimal lines as the ledger stores them: the reference for `AccountRules.cents`."""
    lines = tuple(
        (str(scheme), to_cents(base), to_cents(employer), to_cents(employee))
        for scheme, base, employer, employee in amounts
    )
    return lines, sum(line[2] for line in lines), sum(line[3] for line in lines)


@given(case=CASES, salary=SALARIES)
def test_cents_are_the_amounts_in_cents_for_every_shipped_policy(
    case: tuple[str, Period, Decimal | None], salary: Decimal
) -> None:
    policy_id, period, housing = case
    account = _account(policy_id, housing_fund_rate=_housing(policy_id, housing))
    rules = account_rules(POLICIES[policy_id], account, period)
    assert rules.cents(to_cents(salary)) == _as_stored(rules.amounts(salary))


@pytest.mark.parametrize("policy_id", sorted(POLICIES))
def test_cents_are_the_amounts_in_cents_at_every_band_edge(policy_id: str) -> None:
    """Every version's floors, ceilings and exemption thresholds, a cent either side, with the
    highest injury and housing-fund rates the policy allows (their rounding differs)."""
    policy = POLICIES[policy_id]
    for version in policy.versions:
        rules_in_force = version.schemes.values()
        injury = next((r for r in rules_in_force if r.scheme is Scheme.INJURY), None)
        fund = next((r for r in rules_in_force if r.scheme is Scheme.HOUSING_FUND), None)
        account = _account(
            policy_id,
            injury_rate=None if injury is None else injury.employer_rate_max,
            housing_fund_rate=None if fund is None else fund.employer_rate_max,
        )
        period = Period(version.effective.year, version.effective.month)
        try:
            rules = account_rules(policy, account, period)
        except ValueError:  # a version before every mandatory scheme had a band
            continue
        edges = {rule.floor for rule, _, _ in rules.schemes}
        edges |= {rule.ceiling for rule, _, _ in rules.schemes}
        edges |= {rule.employee_exempt_below or ZERO for rule, _, _ in rules.schemes}
        for edge in edges:
            for cents in (to_cents(edge) - 1, to_cents(edge), to_cents(edge) + 1):
                salary = Decimal(max(cents, 0)).scaleb(-2)
                assert rules.cents(to_cents(salary)) == _as_stored(rules.amounts(salary)), salary


RATES = st.decimals(min_value=0, max_value=1, places=6, allow_nan=False)
WHOLE_CENTS = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False)


@st.composite
def _made_up_rules(draw: st.DrawFn) -> AccountRules:
    """One scheme with a random band, rates, fixed amounts, exemption and rounding mode."""
    low, high = sorted([draw(WHOLE_CENTS), draw(WHOLE_CENTS)])
    rule = SchemeRule(
        scheme=Scheme.PENSION,
        floor=low,
        ceiling=high,
        employer_rate=draw(RATES),
        employee_rate=draw(RATES),
        employer_fixed=draw(st.sampled_from([ZERO, Decimal(3), Decimal("12.34")])),
        employee_fixed=draw(st.sampled_from([ZERO, Decimal(3), Decimal("0.05")])),
        rounding=draw(st.sampled_from(Rounding)),
        # any decimals: a threshold is compared with the salary, never stored
        employee_exempt_below=draw(
            st.none() | st.decimals(min_value=0, max_value=100000, places=3, allow_nan=False)
        ),
    )
    policy = _single_scheme_policy(rule.rounding)
    version = replace(policy.versions[0], schemes={Scheme.PENSION: rule})
    return account_rules(replace(policy, versions=(version,)), _account("test"), Period(2025, 6))


@given(
    rules=_made_up_rules(),
    salary=SALARIES,
    edge=st.sampled_from([None, "floor", "ceiling", "employee_exempt_below"]),
    nudge=st.sampled_from([-1, 0, 1]),
)
def test_cents_are_the_amounts_in_cents_for_made_up_rules(
    rules: AccountRules, salary: Decimal, edge: str | None, nudge: int
) -> None:
    threshold = None if edge is None else getattr(rules.schemes[0][0], edge)
    if threshold is not None:  # a cent either side of a band edge or the exemption threshold
        salary = max(threshold.quantize(CENT, rounding=ROUND_CEILING) + nudge * CENT, ZERO)
    assert rules.cents(to_cents(salary)) == _as_stored(rules.amounts(salary))


def test_cents_refuse_a_negative_salary_and_a_band_the_ledger_cannot_store() -> None:
    rules = account_rules(POLICIES["beijing"], _account("beijing"), Period(2026, 7))
    with pytest.raises(ValueError, match="salary must not be negative"):
        rules.cents(-1)
    policy = _single_scheme_policy(Rounding.HALF_UP_CENT)
    rule = replace(policy.versions[0].schemes[Scheme.PENSION], floor=Decimal("1000.005"))
    version = replace(policy.versions[0], schemes={Scheme.PENSION: rule})
    rules = account_rules(replace(policy, versions=(version,)), _account("test"), Period(2025, 6))
    assert rules.amounts(Decimal(2000))[0][1] == Decimal(2000)  # Decimal amounts still work
    with pytest.raises(ValueError, match="more than two decimals"):
        rules.cents(200000)
