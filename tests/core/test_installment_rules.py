"""Installment reminders: parts filled in order, lead-day stages, a missed part, paid parts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.alerts import AlertKind
from core.installment_rules import InstallmentView, fill_in_order, installment_findings
from core.periods import Period

D = Decimal


def part(seq: int, due_on: date, paid: str = "0") -> InstallmentView:
    return InstallmentView(
        plan_alert_id=5,
        account_id="beijing",
        period=Period(2026, 10),
        currency="CNY",
        seq=seq,
        count=3,
        due_on=due_on,
        amount=D("100.00"),
        paid=D(paid),
        suspension_on=date(2026, 10, 30),
    )


def test_money_received_fills_the_earliest_part_first() -> None:
    amounts = [D("100.00"), D("100.00"), D("100.01")]
    assert fill_in_order(amounts, D("150.00")) == [D("100.00"), D("50.00"), D("0")]
    assert fill_in_order(amounts, D("500")) == amounts
    assert fill_in_order(amounts, D("-20")) == [D("0")] * 3  # paid less than before the plan


def test_stages_follow_the_lead_days_then_the_day_then_missed() -> None:
    due = date(2026, 10, 21)

    def stage(as_of: date, paid: str = "0") -> str | None:
        found = installment_findings([part(1, due, paid)], as_of=as_of, lead_days=(7, 3, 1))
        return found[0].stage if found else None

    assert stage(date(2026, 10, 13)) is None
    assert stage(date(2026, 10, 14)) == "2026-10-21:lead-7"
    assert stage(date(2026, 10, 19)) == "2026-10-21:lead-3"
    assert stage(date(2026, 10, 20)) == "2026-10-21:lead-1"
    assert stage(date(2026, 10, 21)) == "2026-10-21:lead-0"
    assert stage(date(2026, 10, 25)) == "2026-10-21:missed"
    assert stage(date(2026, 10, 20), paid="100.00") is None


def test_a_finding_per_part_keyed_by_plan_and_part() -> None:
    views = [part(1, date(2026, 10, 21), paid="40.00"), part(2, date(2026, 10, 22))]
    first, second = installment_findings(views, as_of=date(2026, 10, 20), lead_days=(3,))
    assert first.kind is AlertKind.INSTALLMENT_DUE
    assert first.key == "installment_due|account=beijing|period=2026-10|plan=5|part=1"
    assert (first.principal, first.due_date) == (D("60.00"), date(2026, 10, 21))
    assert first.details["remaining"] == "60.00" and first.details["paid"] == "40.00"
    assert second.key.endswith("part=2") and second.principal == D("100.00")
