"""`kpi [YYYY-MM]`: the period's KPI summary as text (managers: their department; HR: all).

The formulas are `core.kpis`; the chart is a later issue, so chat shows the four figures:
on-time payment, payment accuracy, enrolment timeliness and time to acknowledge alerts.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from core.kpis import PeriodPayment, summarize
from core.periods import Period
from handlers.formatting import card_reply, percent
from handlers.router import Request, Router, period_arg
from handlers.types import Field, Reply
from storage.alerts import in_scope
from storage.ledger import latest_period
from storage.payments import account_periods
from storage.queries_kpi import (
    alert_acks,
    alerts_opened_between,
    department_account_ids,
    hires_between,
)

router = Router()
KPI_ROLES = frozenset({"manager", "hr", "admin"})


def _minutes(request: Request, value: timedelta | None) -> str:
    if value is None:
        return request.t("format.none")
    return request.t("kpi.minutes", minutes=round(value.total_seconds() / 60))


@router.command(
    "kpi",
    "绩效",
    "指标",
    help_key="cmd.kpi.help",
    usage_key="cmd.kpi.usage",
    roles=KPI_ROLES,
    args=(0, 1),
)
def kpi(request: Request) -> Reply:
    session, today = request.session, request.today
    if request.args:
        period = period_arg(request.args[0])
    else:
        period = latest_period(session) or Period.of(today)
    department = None if request.employee.role != "manager" else request.employee.department
    accounts = None if department is None else department_account_ids(session, department)
    payments = [
        PeriodPayment(
            account=item.account_id,
            period=item.period,
            due_date=item.due_date,
            computed=item.total,
            paid=item.paid,
            paid_in_full_on=item.paid_in_full_on,
        )
        for item in account_periods(session, request.accounts, today)
        if item.period == period and (accounts is None or item.account_id in accounts)
    ]
    hires = hires_between(session, period.first_day, period.last_day, department)
    zone = request.app.timezone
    start = datetime.combine(period.first_day, time(), zone)
    end = datetime.combine(period.next().first_day, time(), zone)
    opened = [
        alert
        for alert in alerts_opened_between(session, start, end)
        if in_scope(session, request.employee, alert)
    ]
    now = request.app.now().astimezone(zone)
    sla = request.app.ack_sla_minutes
    summary = summarize(payments, hires, alert_acks(opened), as_of=now, sla_minutes=sla)
    ack = summary.ack
    fields = [
        Field(label=request.t("kpi.on_time"), value=percent(request, summary.on_time_rate)),
        Field(label=request.t("kpi.accuracy"), value=percent(request, summary.payment_accuracy)),
        Field(
            label=request.t("kpi.enrollment"),
            value=percent(request, summary.enrollment_timeliness),
        ),
        Field(
            label=request.t("kpi.ack"),
            value=request.t(
                "kpi.ack_value",
                count=ack.acknowledged,
                mean=_minutes(request, ack.mean),
                p90=_minutes(request, ack.p90),
                sla=sla,
                within=percent(request, ack.within_sla),
            ),
        ),
    ]
    scope = department if department is not None else request.t("kpi.company")
    return card_reply(request, request.t("kpi.title", period=period, scope=scope), fields)
