"""`kpi [YYYY-MM]`: the period's KPI summary (managers: their department; HR: all), with the
trend chart attached on platforms that show images.

The figures come from `storage.kpi_report` (formulas in `core.kpis`), the same report the CLI,
the chart and the monthly digest read: on-time payment, payment accuracy, enrolment timeliness
and time to acknowledge alerts.
"""

from __future__ import annotations

from core.periods import Period
from handlers.kpi_view import TEXT_ONLY_PLATFORMS, kpi_reply, kpi_report
from handlers.router import Request, Router, period_arg
from handlers.types import Reply

router = Router()
KPI_ROLES = frozenset({"manager", "hr", "finance", "admin"})
"""Managers see their department; HR, finance and admins the company."""


@router.command(
    "kpi",
    "绩效",
    "指标",
    help_key="cmd.kpi.help",
    usage_key="cmd.kpi.usage",
    roles=KPI_ROLES,
    args=(0, 1),
    slow=True,
)
def kpi(request: Request) -> Reply:
    session = request.session
    # By default the last complete month: the current one is unfinished, its figures empty.
    last_complete = Period.of(request.today).prev()
    period = period_arg(request.args[0]) if request.args else last_complete
    department = None if request.employee.role != "manager" else request.employee.department
    report = kpi_report(
        session,
        request.accounts,
        period,
        as_of=request.app.now(),
        sla_minutes=request.app.ack_sla_minutes,
        timezone=request.app.timezone,
    )
    return kpi_reply(
        request.locale,
        report,
        department=department,
        chart=request.event.platform not in TEXT_ONLY_PLATFORMS,
        targets=request.app.kpi_targets,
        slow_work=request.app.slow_work,
    )
