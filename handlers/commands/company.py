"""`dues` and `arrears`: company-wide money figures, for HR and finance only.

Figures come from the stored ledger and payments (`storage.ledger`, `storage.payments`), so the
chat shows exactly what `coverwatch dues` computed and what the late-fee rule charges today.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from core.periods import Period
from handlers.formatting import account_name, label, list_reply, money
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
        estimates = account.estimates(period)
        name = account_name(request, row.account_id)
        estimated += [f"{name} {label(request, 'scheme', e.scheme)}" for e in estimates]
        calendar = account.due_date_estimated(period)
        if calendar:
            estimated.append(request.t("dues.calendar_estimate", account=name))
        item = items.get(row.account_id)
        lines.append(
            request.t(
                "dues.line",
                account=name,
                total=("≈" if estimates else "") + amount(row.total),
                employer=amount(row.employer_total),
                employee=amount(row.employee_total),
                employees=row.employees,
                due_date=("≈" if calendar else "") + row.due_date.isoformat(),
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
    if estimated:
        lines.append(request.t("dues.estimate", figures=", ".join(estimated)))
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
    lines = []
    for item in items:
        decimals = request.accounts[item.account_id].policy.decimals
        lines.append(
            request.t(
                "arrears.line_fee_only"
                if item.fully_paid
                else "arrears.line"
                if item.suspension_on
                else "arrears.line_no_suspension",
                account=account_name(request, item.account_id),
                period=item.period,
                outstanding=money(item.outstanding, item.currency, decimals),
                late_fee=money(item.late_fee, item.currency, decimals),
                late_fee_paid=money(item.late_fee_paid, item.currency, decimals),
                late_fee_outstanding=money(item.late_fee_outstanding, item.currency, decimals),
                days=item.days_overdue,
                due_date=item.due_date.isoformat(),
                suspension_on=item.suspension_on.isoformat() if item.suspension_on else "-",
            )
        )
    return list_reply(request.t("arrears.title", today=today.isoformat()), lines)
