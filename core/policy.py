"""Regional social-insurance policies as data: the types a policy file loads into.

Rules differ by city and change every year, so nothing here holds a rate or a date: a
`Policy` is built from `core/policies/<id>.toml` by `core.policy_loader`, with versions by
effective date *per scheme* (medical and pension bands can change in different months).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from core.locales import EN, ZH_CN
from core.money import Rounding
from core.periods import Period


class Scheme(StrEnum):
    PENSION = "pension"
    MEDICAL = "medical"
    MATERNITY = "maternity"
    UNEMPLOYMENT = "unemployment"
    INJURY = "injury"
    MEDICAL_ADDON = "medical_addon"
    HOUSING_FUND = "housing_fund"
    MPF = "mpf"


class HolidayRule(StrEnum):
    NEXT_WORKING_DAY_CN = "next_working_day_cn"
    """Postpone past weekends and official Chinese holidays, honouring make-up working days."""
    NEXT_WORKING_DAY_HK = "next_working_day_hk"
    """Postpone past Saturdays, Sundays and Hong Kong general holidays (MPFA practice)."""
    NEXT_WEEKDAY = "next_weekday"
    """Postpone past Saturdays and Sundays only."""
    NONE = "none"


class LateFeeModel(StrEnum):
    DAILY_RATE = "daily_rate"
    """China, 社会保险法 Art. 86: simple daily rate on the unpaid principal."""
    FLAT_SURCHARGE = "flat_surcharge"
    """Hong Kong MPF: a one-off surcharge on the late contribution."""


@dataclass(frozen=True, kw_only=True)
class SchemeRule:
    """How one scheme is computed while one policy version is in force."""

    scheme: Scheme
    floor: Decimal
    ceiling: Decimal
    employer_rate: Decimal
    employee_rate: Decimal
    employer_fixed: Decimal = Decimal(0)
    employee_fixed: Decimal = Decimal(0)
    rounding: Rounding = Rounding.HALF_UP_CENT
    employer_rate_min: Decimal | None = None
    """Lowest employer rate an account may configure (injury class, housing fund)."""
    employer_rate_max: Decimal | None = None
    employee_exempt_below: Decimal | None = None
    """Below this income the employee side is zero (MPF minimum relevant income)."""
    optional: bool = False
    """Only applies when the account configures it (housing fund)."""


@dataclass(frozen=True, kw_only=True)
class PolicyVersion:
    effective: date
    schemes: Mapping[Scheme, SchemeRule]
    until: date | None = None
    """Last day in force, when the notice says so; otherwise until the next version."""
    confirmed: bool = True
    provisional: bool = False
    source: str = ""
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class DueRule:
    day: int
    """Day of the month the period's contributions fall due."""
    month_offset: int = 0
    """0: same month (China, 当月缴当月); 1: the following month (MPF)."""
    holiday_rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY_CN
    confirmed: bool = False
    adjustment_due_dates: int = 1
    """A back-dated difference (补差) is due on this regular due date after the day it was
    computed (1 = the next one): city practice, commonly the next month's collection."""


class LateFeeCap(StrEnum):
    NONE = "none"
    PRINCIPAL = "principal"
    """The fee never exceeds the principal it accrues on (行政强制法 Art. 45)."""


@dataclass(frozen=True, kw_only=True)
class LateFeeRule:
    model: LateFeeModel
    rate: Decimal
    rounding: Rounding = Rounding.HALF_UP_CENT
    cap: LateFeeCap = LateFeeCap.NONE


@dataclass(frozen=True, kw_only=True)
class SuspensionRule:
    suspend_after_days: int
    """Cover is suspended this many days after the due date of an unpaid period."""
    restore_window_months: int
    """A back-payment within this many months restores the suspended cover."""
    confirmed: bool = False


@dataclass(frozen=True, kw_only=True)
class Policy:
    id: str
    name: str
    currency: str
    due: DueRule
    late_fee: LateFeeRule
    suspension: SuspensionRule | None
    """None where arrears suspend no cover (Hong Kong MPF is savings, not insurance)."""
    versions: tuple[PolicyVersion, ...]
    decimals: int = 2
    source: str = ""
    tags: tuple[str, ...] = field(default=())
    names: tuple[tuple[str, str], ...] = ()
    """Display names per reply language: (`zh-CN`, `北京`), (`en`, `Beijing`)…"""

    closures: frozenset[date] = frozenset()
    """Days the authorities were closed (`[calendar] closures`: typhoon signal 8, black
    rainstorm, system outages); a due date on one moves to the next working day."""

    def display_name(self, locale: str) -> str:
        """The account's name in `locale`; zh-HK falls back to zh-CN, then `name`."""
        names = dict(self.names)
        for key in (locale, ZH_CN if locale.startswith("zh") else EN):
            if key in names:
                return names[key]
        return self.name

    def rule_for(self, scheme: Scheme, period: Period) -> SchemeRule | None:
        """The rule in force for `scheme` on the period's first day, or None."""
        version = self.version_for(scheme, period)
        return None if version is None else version.schemes[scheme]

    def version_for(self, scheme: Scheme, period: Period) -> PolicyVersion | None:
        """The latest version defining `scheme` on the period's first day, unless it has ended.

        Versions are sorted by effective date (the loader enforces it). A version whose
        `until` is before the day no longer applies; an open-ended one runs until replaced,
        because late publication is normal and the old band stays in use meanwhile.
        """
        day = period.first_day
        found: PolicyVersion | None = None
        for version in self.versions:
            if version.effective > day:
                break
            if scheme in version.schemes:
                found = version
        if found is not None and found.until is not None and found.until < day:
            return None
        return found

    def schemes_in_force(self, period: Period) -> dict[Scheme, SchemeRule]:
        """Every scheme with a rule in force for the period, in declaration order."""
        rules: dict[Scheme, SchemeRule] = {}
        for scheme in Scheme:
            rule = self.rule_for(scheme, period)
            if rule is not None:
                rules[scheme] = rule
        return rules


@dataclass(frozen=True, kw_only=True)
class AccountSettings:
    """An employer's registration in one region (`[accounts.<id>]` in config)."""

    account_id: str
    policy_id: str
    injury_rate: Decimal | None = None
    """None: the policy's minimum employer injury rate."""
    housing_fund_rate: Decimal | None = None
    """None: the housing fund is not part of this account's dues."""
    due_day: int | None = None
    """Overrides the policy's due day (city practice differs, e.g. the 20th)."""
