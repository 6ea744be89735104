"""Installment plans against the money received: each part's paid amount, and its reminders.

A plan splits what an account-period still owed on the day it was made, so whatever had been
paid before it is `dues total - plan total`; everything received beyond that goes to the plan,
earliest part first (`core.installment_rules.fill_in_order`). The scan records the result on
`Installment.paid` and turns the unpaid parts into `installment_due` findings, so reminders,
delivery and resolution follow the same path as every other alert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from core.alerts import AlertState, Finding
from core.installment_rules import InstallmentView, fill_in_order, installment_findings
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.models import AccountDue, Alert, Installment
from storage.payments import payments_by_account_period

ZERO = Decimal("0.00")


def plan_standings(
    session: Session, accounts: Mapping[str, AccountPolicy], as_of: date
) -> list[InstallmentView]:
    """Every live plan's parts with the payments received by `as_of` matched in order.

    Records each part's paid amount on `Installment.paid`. Plans of resolved alerts are
    skipped: the problem they were made for is closed.
    """
    plans: dict[int, list[Installment]] = defaultdict(list)
    for part in session.exec(
        select(Installment).order_by(col(Installment.alert_id), col(Installment.seq))
    ):
        plans[part.alert_id].append(part)
    payments = payments_by_account_period(session)
    views: list[InstallmentView] = []
    for alert_id, parts in plans.items():
        alert = session.get(Alert, alert_id)
        if alert is None or alert.state == AlertState.RESOLVED:
            continue
        if alert.account_id is None or alert.period is None:
            continue
        due = session.exec(
            select(AccountDue).where(
                AccountDue.account_id == alert.account_id, AccountDue.period == alert.period
            )
        ).first()
        if due is None:
            continue
        received = sum(
            (
                p.amount
                for p in payments.get((alert.account_id, alert.period), [])
                if p.paid_on <= as_of
            ),
            ZERO,
        )
        views += _match(alert, due, parts, received, accounts[alert.account_id])
    return views


def _match(
    alert: Alert,
    due: AccountDue,
    parts: Sequence[Installment],
    received: Decimal,
    account: AccountPolicy,
) -> list[InstallmentView]:
    assert alert.id is not None and alert.account_id is not None and alert.period is not None
    period = Period.parse(alert.period)
    estimated = tuple(str(e.scheme) for e in account.estimates(period))
    suspension_estimated = account.due_date_estimated(period)
    plan_total = sum((part.amount for part in parts), ZERO)
    paid_before_plan = due.total - plan_total
    filled = fill_in_order([part.amount for part in parts], received - paid_before_plan)
    views = []
    for part, paid in zip(parts, filled, strict=True):
        if part.paid != paid:
            part.paid = paid
        views.append(
            InstallmentView(
                plan_alert_id=alert.id,
                account_id=alert.account_id,
                period=period,
                currency=account.currency,
                seq=part.seq,
                count=len(parts),
                due_on=part.due_on,
                amount=part.amount,
                paid=paid,
                suspension_on=alert.suspension_on,
                estimated=estimated,
                suspension_estimated=suspension_estimated,
            )
        )
    return views


def plan_findings(
    session: Session,
    accounts: Mapping[str, AccountPolicy],
    *,
    as_of: date,
    lead_days: Sequence[int],
) -> list[Finding]:
    """The `installment_due` findings of a scan on `as_of` (and each part's paid amount)."""
    views = plan_standings(session, accounts, as_of)
    return installment_findings(views, as_of=as_of, lead_days=lead_days)
