"""`dues` and `arrears`: company-wide money figures, for HR and finance only.

Figures come from the stored ledger and payments (`storage.ledger`, `storage.payments`), so the
chat shows exactly what `coverwatch dues` computed and what the late-fee rule charges today.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from handlers.formatting import account_name, list_reply, money
from handlers.router import Request, Router, period_arg
from handlers.types import Reply
from storage.employees import COMPANY_ROLES
from storage.ledger import latest_period, period_dues
from storage.payments import account_periods, arrears

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
    period = period_arg(request.args[0]) if request.args else latest_period(request.session)
    if period is None:
        return Reply(text=request.t("dues.no_ledger"))
    rows = period_dues(request.session, period)
    if not rows:
        return Reply(text=request.t("dues.none", period=period))
    paid = {
        item.account_id: item.paid
        for item in account_periods(request.session, request.accounts, request.today)
        if item.period == period
    }
    lines = []
    for row in rows:
        decimals = request.accounts[row.account_id].policy.decimals
        amount = partial(money, currency=row.currency, decimals=decimals)
        lines.append(
            request.t(
                "dues.line",
                account=account_name(request, row.account_id),
                total=amount(row.total),
                employer=amount(row.employer_total),
                employee=amount(row.employee_total),
                employees=row.employees,
                due_date=row.due_date.isoformat(),
                paid=amount(paid.get(row.account_id, ZERO)),
            )
        )
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
                "arrears.line" if item.suspension_on else "arrears.line_no_suspension",
                account=account_name(request, item.account_id),
                period=item.period,
                outstanding=money(item.outstanding, item.currency, decimals),
                late_fee=money(item.late_fee, item.currency, decimals),
                days=item.days_overdue,
                due_date=item.due_date.isoformat(),
                suspension_on=item.suspension_on.isoformat() if item.suspension_on else "-",
            )
        )
    return list_reply(request.t("arrears.title", today=today.isoformat()), lines)
