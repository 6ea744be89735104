"""`dues` and `arrears`: company-wide money figures, for HR and finance only.

Figures come from the stored ledger and payments (`storage.ledger`, `storage.payments`), so the
chat shows exactly what `coverwatch dues` computed and what the late-fee rule charges today.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from core.periods import Period
from handlers.formatting import (
    account_name,
    approx,
    estimate_figures,
    estimate_notes,
    list_reply,
    money,
)
from handlers.router import Request, Router, period_arg
from handlers.types import Reply
from storage.employees import COMPANY_ROLES
from storage.ledger import period_dues
from storage.payments import account_periods, arrears
from storage.queries_ledger import latest_due_period

router = Router()
ZERO = Decimal("0.00")


@router.command(
    "dues",
    "待缴",
    "应缴",
    help_key="cmd.dues.help",
    usage_key="cmd.dues.usage",
    roles=COMPANY_ROLES,
    args=(0, 1),
)
def dues(request: Request) -> Reply:
    if request.args:
        period: Period | None = period_arg(request.args[0])
    else:
        period = latest_due_period(request.session, request.today, request.accounts)
    if period is None:
        return Reply(text=request.t("dues.no_ledger"))
    rows = period_dues(request.session, period)
    if not rows:
        return Reply(text=request.t("dues.none", period=period))
    items = {
        item.account_id: item
        for item in account_periods(request.session, request.accounts, request.today)
        if item.period == period
    }
    lines, estimated = [], []
    for row in rows:
        account = request.accounts[row.account_id]
        amount = partial(money, currency=row.currency, decimals=account.policy.decimals)
        name = account_name(request, row.account_id)
        estimated += estimate_figures(request, account, period)
        item = items.get(row.account_id)
        lines.append(
            request.t(
                "dues.line",
                account=name,
                total=approx(amount(row.total), bool(account.estimates(period))),
                employer=amount(row.employer_total),
                employee=amount(row.employee_total),
                employees=row.employees,
                due_date=approx(row.due_date.isoformat(), account.due_date_estimated(period)),
                paid=amount(item.paid if item is not None else ZERO),
            )
        )
        for change in item.adjustments if item is not None else ():
            lines.append(
                request.t(
                    "dues.adjustment",
                    account=name,
                    amount=amount(change.amount),
                    due_date=change.due_date.isoformat(),
                    computed_on=change.computed_on.isoformat(),
                )
            )
    lines += estimate_notes(request, estimated)
    return list_reply(request.t("dues.title", period=period), lines)


@router.command(
    "arrears",
    "欠费",
    "overdue",
    help_key="cmd.arrears.help",
    usage_key="cmd.arrears.usage",
    roles=COMPANY_ROLES,
)
def arrears_command(request: Request) -> Reply:
    today = request.today
    items = arrears(request.session, request.accounts, today)
    if not items:
        return Reply(text=request.t("arrears.none", today=today.isoformat()))
    lines, estimated = [], []
    for item in items:
        account = request.accounts[item.account_id]
        decimals = account.policy.decimals
        # Amounts from an estimated rule and dates from an unpublished holiday calendar: ≈.
        rules = bool(account.estimates(item.period))
        calendar = account.due_date_estimated(item.period)
        suspends = item.suspension_on is not None and not item.fully_paid
        estimated += estimate_figures(request, account, item.period, suspension=suspends)
        amount = partial(money, currency=item.currency, decimals=decimals)
        lines.append(
            request.t(
                "arrears.line_fee_only"
                if item.fully_paid
                else "arrears.line"
                if item.suspension_on
                else "arrears.line_no_suspension",
                account=account_name(request, item.account_id),
                period=item.period,
                outstanding=approx(amount(item.outstanding), rules),
                late_fee=approx(amount(item.late_fee), rules),
                late_fee_paid=amount(item.late_fee_paid),
                late_fee_outstanding=approx(amount(item.late_fee_outstanding), rules),
                days=item.days_overdue,
                due_date=approx(item.due_date.isoformat(), calendar),
                suspension_on=approx(
                    item.suspension_on.isoformat() if item.suspension_on else "-", calendar
                ),
            )
        )
    lines += estimate_notes(request, estimated)
    return list_reply(request.t("arrears.title", today=today.isoformat()), lines)
