"""Policy files: every packaged one loads, and each kind of broken file is refused by name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.locales import ZH_CN
from core.money import Rounding
from core.periods import Period
from core.policy import HolidayRule, LateFeeModel, Scheme
from core.policy_loader import POLICY_DIR, PolicyError, load_policies, load_policy

VALID = """\
currency = "CNY"

[due]
day = 15
holiday_rule = "next_working_day_cn"

[late_fee]
model = "daily_rate"
rate = 0.0005

[suspension]
suspend_after_days = 15
restore_window_months = 3

[[versions]]
effective = 2025-07-01
confirmed = true
source = "test notice"

[versions.schemes.pension]
floor = 7162
ceiling = 35811
employer_rate = 0.16
employee_rate = 0.08
rounding = "half_up_cent"

[versions.schemes.injury]
floor = 7162
ceiling = 35811
employer_rate_min = 0.002
employer_rate_max = 0.019
employee_rate = 0

[[versions]]
effective = 2026-07-01
confirmed = true
source = "test notice 2026"

[versions.schemes.pension]
floor = 7270
ceiling = 36348
employer_rate = 0.16
employee_rate = 0.08
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _mutate(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


def test_the_template_itself_is_valid(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, VALID))
    assert policy.id == "broken"
    assert policy.versions[0].schemes[Scheme.INJURY].employer_rate == Decimal("0.002")
    assert policy.due.holiday_rule is HolidayRule.NEXT_WORKING_DAY_CN


BROKEN = [
    pytest.param(
        ("employee_rate = 0.08\nrounding", "rounding"),
        "version 2025-07-01, key schemes.pension.employee_rate: missing",
        id="missing-rate",
    ),
    pytest.param(
        ("employer_rate = 0.16", "employer_rate = -0.16"),
        "version 2025-07-01, key schemes.pension.employer_rate: must be a finite number, not neg",
        id="negative-rate",
    ),
    pytest.param(
        ("employer_rate = 0.16", "employer_rate = 16"),
        "version 2025-07-01, key schemes.pension.employer_rate: rate must be between 0 and 1",
        id="rate-above-100-percent",
    ),
    pytest.param(
        ("floor = 7162", "floor = 40000"),
        "version 2025-07-01, key schemes.pension.floor: floor 40000 is above ceiling 35811",
        id="floor-above-ceiling",
    ),
    pytest.param(
        ('source = "test notice"\n', 'source = "test notice"\nuntil = 2026-07-01\n'),
        "version 2025-07-01, key until: 2026-07-01 overlaps the pension band from 2026-07-01",
        id="overlapping-until",
    ),
    pytest.param(
        ("effective = 2026-07-01", "effective = 2025-01-01"),
        "version 2025-01-01, key effective: versions out of order: comes after 2025-07-01",
        id="unordered-versions",
    ),
    pytest.param(
        ("effective = 2026-07-01", "effective = 2025-07-01"),
        "version 2025-07-01, key schemes.pension: defined twice for the same effective date",
        id="same-scheme-twice-on-one-date",
    ),
    pytest.param(
        ("[versions.schemes.injury]", "[versions.schemes.dental]"),
        "version 2025-07-01, key schemes.dental: unknown scheme 'dental'",
        id="unknown-scheme",
    ),
    pytest.param(
        ('rounding = "half_up_cent"', 'rounding = "bankers"'),
        "key schemes.pension.rounding: unknown rounding mode 'bankers'",
        id="unknown-rounding",
    ),
    pytest.param(
        ('holiday_rule = "next_working_day_cn"', 'holiday_rule = "whenever"'),
        "broken.toml, key due.holiday_rule: unknown holiday rule 'whenever'",
        id="unknown-holiday-rule",
    ),
    pytest.param(
        ('model = "daily_rate"', 'model = "compound"'),
        "broken.toml, key late_fee.model: unknown late-fee model 'compound'",
        id="unknown-late-fee-model",
    ),
    pytest.param(
        ("effective = 2025-07-01", 'effective = "2025-02-30"'),
        "broken.toml, version #1, key effective: bad date '2025-02-30'",
        id="bad-effective-date",
    ),
    pytest.param(
        ('source = "test notice"\n', 'source = "test notice"\nuntil = "soon"\n'),
        "version 2025-07-01, key until: bad date 'soon'",
        id="bad-until-date",
    ),
    pytest.param(
        ('currency = "CNY"\n', ""),
        "broken.toml, key currency: missing",
        id="missing-currency",
    ),
    pytest.param(
        ('currency = "CNY"', 'currency = "yuan"'),
        "broken.toml, key currency: must be an ISO 4217 code",
        id="bad-currency",
    ),
    pytest.param(
        ("employer_rate_min = 0.002", "employer_rate_min = 0.02"),
        "key schemes.injury.employer_rate_min: 0.02 is above employer_rate_max 0.019",
        id="range-min-above-max",
    ),
    pytest.param(
        ("employee_rate = 0.08\nrounding", "employee_rat = 0.08\nrounding"),
        "version 2025-07-01, key schemes.pension.employee_rat: unknown key",
        id="misspelt-key",
    ),
    pytest.param(
        ('confirmed = true\nsource = "test notice"\n', 'source = "test notice"\n'),
        "version 2025-07-01, key confirmed: missing",
        id="missing-confirmed",
    ),
    pytest.param(
        ("day = 15", "day = 0"),
        "broken.toml, key due.day: must be a day of the month",
        id="due-day-zero",
    ),
    pytest.param(
        ("day = 15", "day = 15\nadjustment_due_dates = 0"),
        "broken.toml, key due.adjustment_due_dates: must be 1 (the next due date) or more",
        id="adjustment-due-now",
    ),
    pytest.param(
        ("rate = 0.0005", 'rate = 0.0005\nlate_fee_cap = "double"'),
        "broken.toml, key late_fee.late_fee_cap: unknown late-fee cap 'double'",
        id="unknown-late-fee-cap",
    ),
    pytest.param(
        ("effective = 2025-07-01", "effective = 2025-07-01\neffective = 2025-08-01"),
        "broken.toml: cannot read policy",
        id="not-toml",
    ),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_a_broken_file_is_refused_with_file_version_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = _write(tmp_path, _mutate(*change))
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith("broken.toml")


def test_until_ends_a_band_and_rule_for_honours_it(tmp_path: Path) -> None:
    text = _mutate('source = "test notice"\n', 'source = "test notice"\nuntil = 2026-06-30\n')
    policy = load_policy(_write(tmp_path, text))
    assert policy.rule_for(Scheme.PENSION, Period(2026, 6)) is not None
    rule = policy.rule_for(Scheme.PENSION, Period(2026, 7))
    assert rule is not None and rule.floor == Decimal(7270)
    # `until` ends the whole version: its injury band has no successor, so it lapses too.
    assert policy.rule_for(Scheme.INJURY, Period(2026, 6)) is not None
    assert policy.rule_for(Scheme.INJURY, Period(2026, 7)) is None


def test_a_band_past_its_until_with_no_successor_is_not_in_force(tmp_path: Path) -> None:
    text = _mutate(
        'source = "test notice 2026"\n', 'source = "test notice 2026"\nuntil = 2027-06-30\n'
    )
    policy = load_policy(_write(tmp_path, text))
    assert policy.rule_for(Scheme.PENSION, Period(2027, 6)) is not None
    assert policy.rule_for(Scheme.PENSION, Period(2027, 7)) is None
    assert policy.version_for(Scheme.PENSION, Period(2027, 7)) is None


def test_every_packaged_policy_loads() -> None:
    policies = load_policies()
    assert set(policies) == {"beijing", "shanghai", "shenzhen", "guangzhou", "hangzhou", "hk"}
    assert load_policies(POLICY_DIR) == policies
    for policy in policies.values():
        assert policy.currency == ("HKD" if policy.id == "hk" else "CNY")
        assert all(version.source for version in policy.versions)
        assert policy.due.confirmed == (policy.id == "hk")  # the MPFA calendar is published
        # Hong Kong MPF has no cover to suspend; every mainland rule is unconfirmed practice.
        assert (policy.suspension is None) == (policy.id == "hk")
        assert policy.suspension is None or not policy.suspension.confirmed


def test_china_policies_share_the_national_late_fee_and_default_due_rule() -> None:
    for policy_id in ("beijing", "shanghai", "shenzhen", "guangzhou", "hangzhou"):
        policy = load_policies()[policy_id]
        assert policy.late_fee.model is LateFeeModel.DAILY_RATE
        assert policy.late_fee.rate == Decimal("0.0005")
        assert policy.late_fee.rounding is Rounding.HALF_UP_CENT
        assert (policy.due.day, policy.due.month_offset) == (15, 0)
        assert policy.due.holiday_rule is HolidayRule.NEXT_WORKING_DAY_CN


def test_hk_mpf_is_due_the_10th_of_the_following_month_with_a_flat_surcharge() -> None:
    hk = load_policies()["hk"]
    assert (hk.due.day, hk.due.month_offset) == (10, 1)
    assert hk.late_fee.model is LateFeeModel.FLAT_SURCHARGE
    assert hk.late_fee.rate == Decimal("0.05")
    rule = hk.rule_for(Scheme.MPF, Period(2026, 1))
    assert rule is not None
    assert (rule.ceiling, rule.employee_exempt_below) == (Decimal(30000), Decimal(7100))


def test_low_confidence_and_carried_over_figures_are_unconfirmed() -> None:
    policies = load_policies()
    unemployment = policies["shenzhen"].version_for(Scheme.UNEMPLOYMENT, Period(2025, 7))
    assert unemployment is not None and not unemployment.confirmed
    pension = policies["shenzhen"].version_for(Scheme.PENSION, Period(2025, 7))
    assert pension is not None and pension.confirmed
    hangzhou_2026 = policies["hangzhou"].version_for(Scheme.PENSION, Period(2026, 3))
    assert hangzhou_2026 is not None and hangzhou_2026.provisional
    assert not hangzhou_2026.confirmed
    beijing_fund = policies["beijing"].version_for(Scheme.HOUSING_FUND, Period(2024, 10))
    assert beijing_fund is not None and not beijing_fund.confirmed  # ceiling extrapolated


def _effective(policy_id: str, scheme: Scheme, period: Period) -> date:
    version = load_policies()[policy_id].version_for(scheme, period)
    assert version is not None
    return version.effective


def test_medical_and_pension_bands_change_in_different_months() -> None:
    december, january = Period(2025, 12), Period(2026, 1)
    assert _effective("shenzhen", Scheme.MEDICAL, december) == date(2025, 1, 1)
    assert _effective("shenzhen", Scheme.MEDICAL, january) == date(2026, 1, 1)
    assert _effective("shenzhen", Scheme.PENSION, january) == date(2025, 7, 1)
    assert _effective("guangzhou", Scheme.PENSION, january) == date(2025, 7, 1)


def test_beijing_medical_includes_maternity_and_adds_the_3_yuan_mutual_aid() -> None:
    beijing = load_policies()["beijing"]
    rules = beijing.schemes_in_force(Period(2026, 7))
    assert Scheme.MATERNITY not in rules
    assert rules[Scheme.MEDICAL].employer_rate == Decimal("0.098")
    assert rules[Scheme.MEDICAL_ADDON].employee_fixed == Decimal(3)
    housing = rules[Scheme.HOUSING_FUND]
    assert (housing.floor, housing.ceiling, housing.optional) == (
        Decimal(2540),
        Decimal(36348),
        True,
    )
    assert housing.rounding is Rounding.HALF_UP_YUAN


def test_a_policy_without_a_suspension_table_has_no_suspension_rule(tmp_path: Path) -> None:
    """Hong Kong MPF suspends no cover: the [suspension] table is optional."""
    text = _mutate("[suspension]\nsuspend_after_days = 15\nrestore_window_months = 3\n\n", "")
    assert load_policy(_write(tmp_path, text)).suspension is None
    assert load_policies()["hk"].suspension is None


def test_every_packaged_policy_names_itself_in_each_reply_language() -> None:
    for policy in load_policies().values():
        names = dict(policy.names)
        assert set(names) == {"en", ZH_CN, "zh-HK"}, policy.id
    hk = load_policies()["hk"]
    assert (hk.display_name("en"), hk.display_name("zh-HK")) == ("Hong Kong MPF", "香港強積金")
    assert hk.display_name("fr") == "Hong Kong MPF"


def test_names_must_be_text(tmp_path: Path) -> None:
    text = (POLICY_DIR / "beijing.toml").read_text(encoding="utf-8")
    broken = tmp_path / "beijing.toml"
    broken.write_text(text.replace('en = "Beijing"', "en = 3"), encoding="utf-8")
    with pytest.raises(PolicyError, match="names"):
        load_policy(broken)
