"""Monthly contributions per scheme: what an employer pays and withholds for one salary.

Each scheme is clamped and rounded under its own rule, because bands, rounding and the
dates they change differ by scheme (shared/reference/policies.md, "Bases" and "Rounding").
The injury and housing-fund rates are account configuration within the policy's range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple, TypeAlias

from core.money import CENT, ZERO, Rounding, round_amount, round_cents, to_cents, to_decimal
from core.periods import Period
from core.policy import AccountSettings, Policy, Scheme, SchemeRule

_NO_CENTS = ZERO.quantize(CENT)
Amounts: TypeAlias = tuple[Scheme, Decimal, Decimal, Decimal]
"""`(scheme, base, employer, employee)`: one line of a contribution."""
CentsLine: TypeAlias = tuple[str, int, int, int]
"""`(scheme, base, employer, employee)` in integer cents, as the ledger stores a line. The
scheme is its plain `str` value: a tuple of `str` and `int` alone is dropped from the garbage
collector's watch, and a dues run makes 350,000 rows of these (with a `Scheme` member in
each, its collections took 0.2 s more)."""


CentsDues: TypeAlias = tuple[tuple[CentsLine, ...], int, int]
"""`(lines, employer, employee)`: one employee's lines in integer cents, with their employer
and employee sums. A plain tuple, not a `NamedTuple`: a dues run makes one per employee, and
the named type's constructor was an eighth of the computation (docs/PERFORMANCE.md, session 6)."""


@dataclass(frozen=True, kw_only=True)
class ContributionLine:
    scheme: Scheme
    base: Decimal
    """The salary clamped to the scheme's band; 0 for fixed-only add-ons (`medical_addon`),
    which are a flat amount per person and have no base of their own."""
    employer: Decimal
    employee: Decimal

    @property
    def total(self) -> Decimal:
        return self.employer + self.employee


@dataclass(frozen=True, kw_only=True)
class Contribution:
    """One employee's dues for one period under one policy, in the policy's currency."""

    policy_id: str
    period: Period
    currency: str
    lines: tuple[ContributionLine, ...]
    employer_total: Decimal
    employee_total: Decimal
    total: Decimal

    def line(self, scheme: Scheme) -> ContributionLine | None:
        return next((line for line in self.lines if line.scheme is scheme), None)


def contribution(
    policy: Policy, account: AccountSettings, salary: Decimal, period: Period
) -> Contribution:
    """Dues for `salary` in `period`, each scheme under the version in force on its first day.

    Raises ValueError when the account belongs to another policy, the salary is negative,
    the policy has no band yet for one of its schemes in that period, or a configured
    injury / housing-fund rate lies outside the policy's range.
    """
    salary = _salary(salary)
    return account_rules(policy, account, period).dues(salary)


@dataclass(frozen=True, kw_only=True)
class AccountRules:
    """An account's schemes and rates for one period, checked once.

    Everything `contribution` does that does not depend on the salary; a dues run applies
    one of these to every employee of the account instead of redoing it per employee.
    """

    policy_id: str
    period: Period
    currency: str
    schemes: tuple[tuple[SchemeRule, Decimal, Decimal], ...]
    """Each applicable scheme's rule with its (employer, employee) rate, in declaration order."""
    cap: Decimal = field(init=False)
    """From this salary up every base is its scheme's ceiling and nobody is exempt, so the
    dues no longer depend on the salary (often a large share of staff in tier-1 cities)."""
    _at_cap: tuple[Amounts, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        limits = [rule.ceiling for rule, _, _ in self.schemes]
        limits += [rule.employee_exempt_below or ZERO for rule, _, _ in self.schemes]
        cap = max(limits, default=ZERO)
        object.__setattr__(self, "cap", cap)
        object.__setattr__(self, "_at_cap", self._computed(cap))

    def dues(self, salary: Decimal) -> Contribution:
        """The contribution for `salary`; ValueError when it is negative."""
        lines = tuple(
            ContributionLine(scheme=scheme, base=base, employer=employer, employee=employee)
            for scheme, base, employer, employee in self.amounts(salary)
        )
        employer_total = sum((line.employer for line in lines), _NO_CENTS)
        employee_total = sum((line.employee for line in lines), _NO_CENTS)
        return Contribution(
            policy_id=self.policy_id,
            period=self.period,
            currency=self.currency,
            lines=lines,
            employer_total=employer_total,
            employee_total=employee_total,
            total=employer_total + employee_total,
        )

    def amounts(self, salary: Decimal) -> tuple[Amounts, ...]:
        """The lines of `dues` as plain tuples, for a dues run over every employee that would
        only take the objects apart again."""
        salary = _salary(salary)
        return self._at_cap if salary >= self.cap else self._computed(salary)

    def _computed(self, salary: Decimal) -> tuple[Amounts, ...]:
        return tuple(
            [
                _amounts(rule, salary, employer_rate, employee_rate)
                for rule, employer_rate, employee_rate in self.schemes
            ]
        )

    def cents(self, salary: int) -> CentsDues:
        """The lines of `amounts` for a salary of `salary` cents, in integer cents.

        The same numbers as `amounts` (tests/core/test_contributions.py compares them over
        every shipped policy and random bands, rates, roundings and salaries) by exact integer
        arithmetic (`round_cents`): a dues run does this for every employee, and the Decimal
        work was most of its own CPU (docs/PERFORMANCE.md, issue 19). From `cap` up the lines
        are computed once. Raises ValueError for a negative salary, or when a band or fixed
        amount has more than two decimals (the ledger could not store the lines).
        """
        plan = self._in_cents
        if salary >= plan.cap:
            return plan.at_cap
        if salary < 0:
            raise ValueError(f"salary must not be negative, got {salary} cents")
        return _cents_dues(plan.schemes, salary)

    @cached_property
    def _in_cents(self) -> _CentsPlan:
        # On first use, not in __post_init__: Decimal `amounts` still work for a band with
        # more than two decimals, which only the ledger cannot store.
        schemes = tuple(
            _scheme_in_cents(rule, employer_rate, employee_rate)
            for rule, employer_rate, employee_rate in self.schemes
        )
        cap = _cents_from(self.cap)
        return _CentsPlan(schemes=schemes, cap=cap, at_cap=_cents_dues(schemes, cap))


def account_rules(policy: Policy, account: AccountSettings, period: Period) -> AccountRules:
    """The account's rules in `period`, with every check `contribution` makes but the salary's.

    Raises ValueError as `contribution` does (other policy, missing band, rate out of range).
    """
    if account.policy_id != policy.id:
        raise ValueError(
            f"account {account.account_id} uses policy {account.policy_id}, not {policy.id}"
        )
    _require_complete(policy, period)
    rules = policy.schemes_in_force(period)
    if account.housing_fund_rate is not None and Scheme.HOUSING_FUND not in rules:
        problem = f"policy {policy.id} has no housing fund band for {period}"
        raise ValueError(f"account {account.account_id} sets housing_fund_rate, but {problem}")
    schemes = tuple(
        (rule, *rates) for rule in rules.values() if (rates := _rates(rule, account)) is not None
    )
    return AccountRules(
        policy_id=policy.id, period=period, currency=policy.currency, schemes=schemes
    )


def _salary(salary: Decimal) -> Decimal:
    salary = to_decimal(salary)
    if salary < 0:
        raise ValueError(f"salary must not be negative, got {salary}")
    return salary


def _rates(rule: SchemeRule, account: AccountSettings) -> tuple[Decimal, Decimal] | None:
    """(employer, employee) rate for the account, or None when the scheme does not apply."""
    if rule.scheme is Scheme.HOUSING_FUND:
        # Employer and employee pay the same configured rate (policies.md, "Housing fund").
        if account.housing_fund_rate is None:
            return None
        rate = _within_range(rule, account.housing_fund_rate, "housing_fund_rate")
        return rate, rate
    if rule.optional:
        return None
    if rule.scheme is Scheme.INJURY and account.injury_rate is not None:
        # The injury rate follows the employer's industry class; the policy gives the range.
        return _within_range(rule, account.injury_rate, "injury_rate"), rule.employee_rate
    return rule.employer_rate, rule.employee_rate


def _within_range(rule: SchemeRule, rate: Decimal, setting: str) -> Decimal:
    low = ZERO if rule.employer_rate_min is None else rule.employer_rate_min
    high = Decimal(1) if rule.employer_rate_max is None else rule.employer_rate_max
    rate = to_decimal(rate)
    if not low <= rate <= high:
        raise ValueError(
            f"{setting} {rate} is outside the policy's {rule.scheme} range {low}..{high}"
        )
    return rate


def _amounts(
    rule: SchemeRule, salary: Decimal, employer_rate: Decimal, employee_rate: Decimal
) -> Amounts:
    """One scheme's line for `salary`."""
    base = min(max(salary, rule.floor), rule.ceiling)
    employer = round_amount(base * employer_rate, rule.rounding) + rule.employer_fixed
    if rule.employee_exempt_below is not None and salary < rule.employee_exempt_below:
        # MPF: below the minimum relevant income the employee pays nothing (Cap. 485 Sch. 2).
        employee = _NO_CENTS
    else:
        employee = round_amount(base * employee_rate, rule.rounding) + rule.employee_fixed
    return rule.scheme, base, employer, employee


_SchemeInCents: TypeAlias = tuple[
    str, int, int, int, int, int, int, int, int, int, int, int | None, Rounding, bool
]
"""A scheme's `_amounts` inputs in integer cents, in the order `_cents_dues` unpacks them:
scheme, floor, ceiling; the employer rate as the exact fraction `rate / per` and `per // 2`;
the same for the employee rate; the fixed amounts (employer, employee); the exemption
threshold as the least whole cents not below it (`_cents_from`); the rounding mode, and
whether it is half-up to the cent. A plain tuple: unpacking one is a third faster than a
`NamedTuple`'s, 350,000 times a dues run."""


class _CentsPlan(NamedTuple):
    """`AccountRules` in integer cents, made once per account and period."""

    schemes: tuple[_SchemeInCents, ...]
    cap: int
    """`AccountRules.cap` as the least whole cents not below it."""
    at_cap: CentsDues


def _scheme_in_cents(
    rule: SchemeRule, employer_rate: Decimal, employee_rate: Decimal
) -> _SchemeInCents:
    exempt = rule.employee_exempt_below
    employer, employer_per = employer_rate.as_integer_ratio()
    employee, employee_per = employee_rate.as_integer_ratio()
    return (
        rule.scheme.value,
        to_cents(rule.floor),
        to_cents(rule.ceiling),
        employer,
        employer_per,
        employer_per // 2,
        employee,
        employee_per,
        employee_per // 2,
        to_cents(rule.employer_fixed),
        to_cents(rule.employee_fixed),
        None if exempt is None else _cents_from(exempt),
        rule.rounding,
        rule.rounding is Rounding.HALF_UP_CENT,
    )


def _cents_from(threshold: Decimal) -> int:
    """The least whole cents not below `threshold`: for a salary in whole cents,
    `salary < threshold` exactly when `salary < _cents_from(threshold)` (cents)."""
    numerator, denominator = (threshold * 100).as_integer_ratio()
    return -(-numerator // denominator)


def _cents_dues(schemes: tuple[_SchemeInCents, ...], salary: int) -> CentsDues:
    """`_amounts` of each scheme, in integer cents."""
    lines: list[CentsLine] = []
    employer_sum = employee_sum = 0
    for (
        scheme,
        floor,
        ceiling,
        employer_rate,
        employer_per,
        employer_half,
        employee_rate,
        employee_per,
        employee_half,
        employer_fixed,
        employee_fixed,
        exempt_below,
        rounding,
        half_up_cent,
    ) in schemes:
        base = floor if salary < floor else ceiling if salary > ceiling else salary
        if half_up_cent:
            # `round_cents` inlined for the mode of every shipped policy (base and rates are
            # never negative, `policy_loader`): two calls less per line, a third of the time.
            # For n >= 0 and d >= 1, half-up n / d = (2n + d) // 2d = (n + d // 2) // d (for an
            # odd d no multiple of d lies in (n + d // 2, n + d // 2 + 1/2]): one product, not 3.
            employer = (base * employer_rate + employer_half) // employer_per
            employee = (base * employee_rate + employee_half) // employee_per
        else:
            employer = round_cents(base * employer_rate, employer_per, rounding)
            employee = round_cents(base * employee_rate, employee_per, rounding)
        employer += employer_fixed
        if exempt_below is not None and salary < exempt_below:
            employee = 0
        else:
            employee += employee_fixed
        lines.append((scheme, base, employer, employee))
        employer_sum += employer
        employee_sum += employee
    return tuple(lines), employer_sum, employee_sum


def _require_complete(policy: Policy, period: Period) -> None:
    """Refuse a period before every mandatory scheme has a band, rather than drop a scheme."""
    starts: dict[Scheme, date] = {}
    for version in policy.versions:
        for scheme, rule in version.schemes.items():
            if not rule.optional:
                starts.setdefault(scheme, version.effective)
    missing = sorted(scheme for scheme, start in starts.items() if start > period.first_day)
    if not starts or missing:
        names = ", ".join(missing) or "any scheme"
        raise ValueError(f"policy {policy.id} has no band for {names} in {period}")
