import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.alert_rules import (
    CALENDAR_ESTIMATE,
    ESTIMATE,
    EVALUATED_KINDS,
    SUSPENSION_ESTIMATE,
    AccountPeriodView,
    BalanceView,
    HireView,
    RuleSettings,
    evaluate,
    provisional,
)
from core.alerts import AlertKind, Finding
from core.late_fees import Payment, late_fee
from core.periods import Period
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
OCT = Period(2026, 10)
DUE = date(2026, 10, 15)
SUSPENSION = date(2026, 10, 30)
SETTINGS = RuleSettings()


def standing(
    as_of: date,
    payments: Sequence[Payment] = (),
    *,
    account: str = "beijing",
    period: Period = OCT,
    due: date = DUE,
    total: str = "10000",
) -> AccountPeriodView:
    """What storage would report for one account-period on `as_of`."""
    fee = late_fee(CN, D(total), due, payments, as_of)
    running, paid_in_full_on = D(0), None
    for payment in sorted(payments, key=lambda p: p.paid_on):
        running += payment.amount
        if paid_in_full_on is None and running >= D(total) and payment.paid_on <= as_of:
            paid_in_full_on = payment.paid_on
    return AccountPeriodView(
        account_id=account,
        period=period,
        currency="CNY",
        due_date=due,
        total=D(total),
        outstanding=fee.outstanding,
        late_fee=fee.amount,
        days_overdue=fee.days_overdue,
        suspension_on=due + timedelta(days=CN.suspension.suspend_after_days),
        paid_in_full_on=paid_in_full_on,
    )


def scan(
    as_of: date,
    periods: Sequence[AccountPeriodView] = (),
    hires: Sequence[HireView] = (),
    balances: Sequence[BalanceView] = (),
    settings: RuleSettings = SETTINGS,
) -> list[Finding]:
    return evaluate(as_of=as_of, periods=periods, hires=hires, balances=balances, settings=settings)


def of_kind(findings: list[Finding], kind: AlertKind) -> list[Finding]:
    return [f for f in findings if f.kind is kind]


def stages(as_of: date, payments: Sequence[Payment] = ()) -> dict[AlertKind, str]:
    return {f.kind: f.stage for f in scan(as_of, [standing(as_of, payments)])}


# --- due_soon ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (date(2026, 10, 7), {}),  # 8 days left: not yet
        (date(2026, 10, 8), {AlertKind.DUE_SOON: "lead-7"}),
        (date(2026, 10, 11), {AlertKind.DUE_SOON: "lead-7"}),  # 4 days: no new stage
        (date(2026, 10, 12), {AlertKind.DUE_SOON: "lead-3"}),
        (date(2026, 10, 14), {AlertKind.DUE_SOON: "lead-1"}),
        (date(2026, 10, 15), {AlertKind.DUE_SOON: "lead-0"}),  # due today: last reminder
        (date(2026, 10, 16), {AlertKind.OVERDUE: "overdue-2026-10-16"}),
    ],
)
def test_due_soon_opens_at_the_first_lead_day_and_restages_at_each(
    as_of: date, expected: dict[AlertKind, str]
) -> None:
    assert stages(as_of) == expected


def test_due_soon_keeps_its_key_and_updates_its_principal() -> None:
    before = of_kind(scan(date(2026, 10, 9), [standing(date(2026, 10, 9))]), AlertKind.DUE_SOON)
    partial = [Payment(date(2026, 10, 10), D("2500"))]
    after = of_kind(
        scan(date(2026, 10, 10), [standing(date(2026, 10, 10), partial)]), AlertKind.DUE_SOON
    )
    assert (
        [f.key for f in before]
        == [f.key for f in after]
        == ["due_soon|account=beijing|period=2026-10"]
    )
    assert (before[0].principal, after[0].principal) == (D("10000"), D("7500"))
    assert after[0].details["outstanding"] == "7500.00"
    assert after[0].details["days_left"] == "5"
    assert (after[0].late_fee, after[0].days_overdue) == (None, None)


def test_due_soon_disappears_once_paid_in_full() -> None:
    paid = [Payment(date(2026, 10, 13), D("10000"))]
    assert scan(date(2026, 10, 13), [standing(date(2026, 10, 13), paid)]) == []
    assert scan(date(2026, 10, 20), [standing(date(2026, 10, 20), paid)]) == []


def test_lead_days_come_from_settings() -> None:
    as_of = date(2026, 10, 3)  # 12 days left
    fortnight = RuleSettings(lead_days=(14, 2))
    assert [f.stage for f in scan(as_of, [standing(as_of)], settings=fortnight)] == ["lead-14"]
    assert scan(as_of, [standing(as_of)], settings=RuleSettings(lead_days=())) == []


# --- overdue and suspension_imminent ------------------------------------------------------


def test_overdue_starts_the_day_after_the_due_date_and_grows_daily() -> None:
    first = of_kind(scan(date(2026, 10, 16), [standing(date(2026, 10, 16))]), AlertKind.OVERDUE)
    second = of_kind(scan(date(2026, 10, 17), [standing(date(2026, 10, 17))]), AlertKind.OVERDUE)
    assert first[0].key == second[0].key == "overdue|account=beijing|period=2026-10"
    assert (first[0].stage, second[0].stage) == ("overdue-2026-10-16", "overdue-2026-10-17")
    # Art. 86: 0.05 % a day of 10000 = 5.00 a day from the first overdue day, inclusive.
    assert (first[0].late_fee, first[0].days_overdue) == (D("5.00"), 1)
    assert (second[0].late_fee, second[0].days_overdue) == (D("10.00"), 2)
    assert second[0].principal == D("10000")
    assert second[0].suspension_on == SUSPENSION
    assert second[0].details == {
        "as_of": "2026-10-17",
        "due_date": "2026-10-15",
        "total": "10000.00",
        "outstanding": "10000.00",
        "suspension_on": "2026-10-30",
        "late_fee": "10.00",
        "days_overdue": "2",
    }


@pytest.mark.parametrize(
    ("as_of", "stage"),
    [
        (date(2026, 10, 22), None),  # 8 days before suspension
        (date(2026, 10, 23), "suspension-7"),
        (date(2026, 10, 24), "suspension-6"),
        (date(2026, 10, 29), "suspension-1"),
        (date(2026, 10, 30), "suspended"),  # suspended from the suspension date (core.cover)
        (date(2026, 11, 20), "suspended"),
    ],
)
def test_suspension_imminent_counts_down_then_stays_suspended(
    as_of: date, stage: str | None
) -> None:
    assert stages(as_of).get(AlertKind.SUSPENSION_IMMINENT) == stage
    assert stages(as_of)[AlertKind.OVERDUE] == f"overdue-{as_of.isoformat()}"


def test_suspension_finding_carries_the_late_figures() -> None:
    as_of = date(2026, 10, 25)
    [finding] = of_kind(scan(as_of, [standing(as_of)]), AlertKind.SUSPENSION_IMMINENT)
    assert finding.key == "suspension_imminent|account=beijing|period=2026-10"
    assert (finding.late_fee, finding.days_overdue) == (D("50.00"), 10)
    assert finding.details["days_to_suspension"] == "5"
    assert finding.urgent


def test_late_findings_clear_when_paid_and_shrink_with_a_partial_payment() -> None:
    as_of = date(2026, 11, 2)
    partial = [Payment(date(2026, 10, 26), D("6000"))]
    [overdue] = of_kind(scan(as_of, [standing(as_of, partial)]), AlertKind.OVERDUE)
    assert overdue.principal == D("4000")
    # 11 days x 10000 (16..26 Oct) + 7 days x 4000 (27 Oct..2 Nov) at 0.05 % a day.
    assert overdue.late_fee == D("69.00")
    paid = [*partial, Payment(date(2026, 11, 3), D("4000"))]
    assert scan(date(2026, 11, 3), [standing(date(2026, 11, 3), paid)]) == []


# --- enrollment_deadline ------------------------------------------------------------------

HIRE = HireView(
    employee_id="E042",
    department="Sales",
    manager_id="E001",
    account_id="shanghai",
    hire_date=date(2026, 3, 1),
    enrolled_on=None,
    leave_date=None,
)


@pytest.mark.parametrize(
    ("as_of", "stage", "days_left"),
    [
        (date(2026, 3, 23), None, None),
        (date(2026, 3, 24), "deadline-soon", "7"),
        (date(2026, 3, 31), "deadline-soon", "0"),  # the last allowed day (Art. 58)
        (date(2026, 4, 1), "deadline-passed", "-1"),
        (date(2026, 6, 1), "deadline-passed", "-62"),
    ],
)
def test_enrollment_deadline_warns_then_reports_the_miss(
    as_of: date, stage: str | None, days_left: str | None
) -> None:
    found = scan(as_of, hires=[HIRE])
    assert [f.stage for f in found] == ([stage] if stage else [])
    if found:
        finding = found[0]
        assert finding.key == "enrollment_deadline|employee=E042"
        assert (finding.employee_id, finding.department, finding.account_id) == (
            "E042",
            "Sales",
            "shanghai",
        )
        assert finding.due_date == date(2026, 3, 31)
        assert finding.details["deadline"] == "2026-03-31"
        assert finding.details["days_left"] == days_left
        assert (finding.details["fine_min_multiple"], finding.details["fine_max_multiple"]) == (
            "1",
            "3",
        )


def test_enrollment_finding_clears_when_enrolled_or_left() -> None:
    as_of = date(2026, 4, 2)
    enrolled = replace(HIRE, enrolled_on=date(2026, 4, 2))
    left = replace(HIRE, leave_date=date(2026, 3, 27))
    enrolled_later = replace(HIRE, enrolled_on=date(2026, 4, 9))
    assert scan(as_of, hires=[enrolled, left]) == []
    # An enrolment dated after the scan day has not happened yet.
    assert [f.stage for f in scan(as_of, hires=[enrolled_later])] == ["deadline-passed"]


# --- funding_gap --------------------------------------------------------------------------

AS_OF = date(2026, 10, 1)


def funding_dues(as_of: date) -> list[AccountPeriodView]:
    """beijing: October due on the 15th; shanghai: September overdue (suspends 5 Oct);
    hk: October due on the 12th, no balance snapshot."""
    return [
        standing(as_of),
        standing(as_of, account="shanghai", period=Period(2026, 9), due=date(2026, 9, 20)),
        standing(as_of, account="hk", due=date(2026, 10, 12), total="3000"),
        standing(as_of, account="beijing", period=Period(2026, 11), due=date(2026, 11, 16)),
    ]


def balance(account: str, amount: str, on: date = AS_OF) -> BalanceView:
    return BalanceView(account_id=account, as_of=on, balance=D(amount), currency="CNY")


def test_funding_gap_per_account_with_pay_first_order_across_accounts() -> None:
    balances = [
        balance("beijing", "4000"),
        balance("shanghai", "20000"),
        balance("beijing", "999999", on=date(2026, 10, 2)),  # after the scan day: ignored
    ]
    [gap] = of_kind(scan(AS_OF, funding_dues(AS_OF), balances=balances), AlertKind.FUNDING_GAP)
    assert gap.key == "funding_gap|account=beijing"
    assert gap.stage == "gap-2026-10-15"
    assert (gap.principal, gap.due_date, gap.currency) == (D("6000"), DUE, "CNY")
    # November's dues (16 Nov) fall after the 30-day horizon (31 Oct).
    assert gap.details == {
        "as_of": "2026-10-01",
        "balance": "4000.00",
        "balance_as_of": "2026-10-01",
        "total_due": "10000.00",
        "shortfall": "6000.00",
        "first_uncovered": "2026-10-15",
        "horizon_end": "2026-10-31",
        "pay_first": "shanghai,hk,beijing",
    }


def test_funding_gap_counts_overdue_dues() -> None:
    found = scan(AS_OF, funding_dues(AS_OF)[1:2], balances=[balance("shanghai", "2500")])
    [gap] = of_kind(found, AlertKind.FUNDING_GAP)
    assert (gap.key, gap.stage) == ("funding_gap|account=shanghai", "gap-2026-09-20")
    assert gap.details["shortfall"] == "7500.00"


def test_funding_gap_restages_as_the_balance_moves_and_clears() -> None:
    horizon_60 = RuleSettings(funding_horizon_days=60)

    def gap_on(day: date, amount: str) -> list[Finding]:
        found = scan(
            day,
            funding_dues(day)[:1] + funding_dues(day)[3:],
            [],
            [balance("beijing", amount, day)],
            horizon_60,
        )
        return of_kind(found, AlertKind.FUNDING_GAP)

    [first] = gap_on(date(2026, 10, 1), "5000")
    [second] = gap_on(date(2026, 10, 2), "12000")
    assert first.key == second.key
    assert (first.stage, second.stage) == ("gap-2026-10-15", "gap-2026-11-16")
    assert (first.principal, second.principal) == (D("15000"), D("8000"))
    assert gap_on(date(2026, 10, 3), "20000") == []


# --- the scan as a whole ------------------------------------------------------------------


def test_findings_are_ordered_by_kind_then_key_whatever_the_input_order() -> None:
    as_of = date(2026, 10, 10)
    periods = funding_dues(as_of)
    hires = [
        HIRE,
        replace(HIRE, employee_id="E007", hire_date=date(2026, 9, 5)),
    ]
    balances = [balance("beijing", "0"), balance("shanghai", "0")]
    expected = scan(as_of, periods, hires, balances)
    for seed in range(5):
        rng = random.Random(seed)
        shuffled = scan(
            as_of,
            rng.sample(periods, len(periods)),
            rng.sample(hires, len(hires)),
            rng.sample(balances, len(balances)),
        )
        assert shuffled == expected
    assert [(f.kind.value, f.key) for f in expected] == [
        ("due_soon", "due_soon|account=beijing|period=2026-10"),
        ("due_soon", "due_soon|account=hk|period=2026-10"),
        ("overdue", "overdue|account=shanghai|period=2026-09"),
        ("suspension_imminent", "suspension_imminent|account=shanghai|period=2026-09"),
        ("enrollment_deadline", "enrollment_deadline|employee=E007"),
        ("enrollment_deadline", "enrollment_deadline|employee=E042"),
        ("funding_gap", "funding_gap|account=beijing"),
        ("funding_gap", "funding_gap|account=shanghai"),
    ]
    assert {f.kind for f in expected} == EVALUATED_KINDS
    assert AlertKind.KPI_BELOW_TARGET not in EVALUATED_KINDS


def test_negative_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        RuleSettings(lead_days=(7, -1))
    with pytest.raises(ValueError, match="must not be negative"):
        RuleSettings(funding_horizon_days=-1)


def test_without_a_suspension_rule_overdue_never_becomes_suspension_imminent() -> None:
    """Hong Kong MPF suspends no cover: months overdue raise overdue only, and the funding
    gap is marked so its text threatens no suspension."""
    as_of = DUE + timedelta(days=90)
    view = replace(standing(as_of, account="hk"), currency="HKD", suspension_on=None)
    balances = [BalanceView(account_id="hk", as_of=as_of, balance=D("10"), currency="HKD")]
    findings = scan(as_of, [view], balances=balances)
    assert [f.kind for f in findings] == [AlertKind.OVERDUE, AlertKind.FUNDING_GAP]
    overdue, gap = findings
    assert overdue.suspension_on is None and "suspension_on" not in overdue.details
    assert overdue.days_overdue == 90
    assert gap.details["suspends"] == "no"


def test_with_a_suspension_rule_the_funding_gap_carries_no_marker() -> None:
    as_of = DUE - timedelta(days=3)
    balances = [BalanceView(account_id="beijing", as_of=as_of, balance=D("10"), currency="CNY")]
    [gap] = of_kind(scan(as_of, [standing(as_of)], balances=balances), AlertKind.FUNDING_GAP)
    assert "suspends" not in gap.details


def test_an_alert_is_provisional_when_any_figure_is_an_estimate() -> None:
    """`alerts --json` "provisional": estimated rules or dates from an unpublished calendar."""
    assert not provisional({})
    assert not provisional({CALENDAR_ESTIMATE: "no", "suspension_on": "2031-01-30"})
    assert provisional({ESTIMATE: "medical"})
    assert provisional({CALENDAR_ESTIMATE: "yes"})
    assert provisional({SUSPENSION_ESTIMATE: "yes"})
