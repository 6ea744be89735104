"""Installment reminders (分期缴费提醒): each part of a plan is its own `installment_due` alert.

A plan (`core.installments`) promises N dated payments before the suspension date. Payments
received for the account-period fill its parts in order; a part not yet paid in full is
reminded on the same lead days as a due date, on its day, and once more when it is missed
(missing a part lets the late fee grow and brings the suspension closer). A part paid in full
produces no finding, so the scan resolves its alert.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.alert_rules import ESTIMATE, SUSPENSION_ESTIMATE
from core.alerts import AlertKind, Finding, dedupe_key
from core.money import ZERO, format_amount
from core.periods import Period


@dataclass(frozen=True, kw_only=True)
class InstallmentView:
    """One part of a plan with what has been paid towards it on the evaluation day."""

    plan_alert_id: int
    """The overdue alert the plan was made for (several alerts may each carry a plan)."""
    account_id: str
    period: Period
    currency: str
    seq: int
    count: int
    due_on: date
    amount: Decimal
    paid: Decimal
    suspension_on: date | None
    estimated: tuple[str, ...] = ()
    """Schemes whose rule behind the plan's amounts is unconfirmed or provisional."""
    suspension_estimated: bool = False
    """The suspension date is counted from a due date on an unpublished holiday calendar."""


def fill_in_order(amounts: Sequence[Decimal], paid_towards_plan: Decimal) -> list[Decimal]:
    """How much of each part is paid: money received fills the earliest part first."""
    left = max(paid_towards_plan, ZERO)
    filled = []
    for amount in amounts:
        part = min(amount, left)
        filled.append(part)
        left -= part
    return filled


def installment_findings(
    views: Iterable[InstallmentView], *, as_of: date, lead_days: Sequence[int]
) -> list[Finding]:
    """A finding per part not paid in full that is within a lead day of its date, or missed."""
    findings = []
    for view in views:
        remaining = view.amount - view.paid
        if remaining <= ZERO:
            continue
        days_left = (view.due_on - as_of).days
        if days_left >= 0:
            leads = [n for n in lead_days if n >= days_left]
            if not leads:
                continue
            step = "lead-0" if days_left == 0 else f"lead-{min(leads)}"
        else:
            step = "missed"
        # The date is part of the stage: a replaced plan that moves a part re-notifies it.
        findings.append(_finding(view, remaining, f"{view.due_on.isoformat()}:{step}", as_of))
    return sorted(findings, key=lambda f: f.key)


def _finding(view: InstallmentView, remaining: Decimal, stage: str, as_of: date) -> Finding:
    details = {
        "as_of": as_of.isoformat(),
        "plan_alert": str(view.plan_alert_id),
        "seq": str(view.seq),
        "count": str(view.count),
        "amount": format_amount(view.amount),
        "paid": format_amount(view.paid),
        "remaining": format_amount(remaining),
        "days_left": str((view.due_on - as_of).days),
    }
    if view.suspension_on is not None:
        details["suspension_on"] = view.suspension_on.isoformat()
    # Reminders mark estimates as the overdue alert does (handlers.alert_render: ≈, footnote).
    if view.estimated:
        details[ESTIMATE] = ",".join(view.estimated)
    if view.suspension_estimated and view.suspension_on is not None:
        details[SUSPENSION_ESTIMATE] = "yes"
    return Finding(
        kind=AlertKind.INSTALLMENT_DUE,
        key=dedupe_key(
            AlertKind.INSTALLMENT_DUE,
            account_id=view.account_id,
            period=view.period,
            extra=f"plan={view.plan_alert_id}|part={view.seq}",
        ),
        stage=stage,
        account_id=view.account_id,
        period=view.period,
        due_date=view.due_on,
        principal=remaining,
        suspension_on=view.suspension_on,
        currency=view.currency,
        details=details,
    )
