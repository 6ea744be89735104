"""KPI alerts: the figures `core.kpi_rules` judges, and its findings applied like any scan's.

A department below a `[kpi] thresholds` target opens `kpi_below_target`. The alert goes to
the department's manager and HR (`storage.routing.level_zero`), one per department and month
(its dedupe key), with the lifecycle, outbox and audit trail of every other alert
(`storage.scan.apply_findings`). Evaluated daily over the months whose figures can
still change — the current month and the two before it, since an enrolment deadline runs 30
days past a hire (社会保险法 Art. 58) — and over any older month that still has an active KPI
alert, so that alert resolves once its department is back at or above target.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.alerts import AlertKind, AlertState
from core.kpi_rules import DepartmentMonth, kpi_findings
from core.periods import Period
from core.policy import Policy
from storage.accounts import account_policies
from storage.db import session_scope
from storage.kpi_report import gather
from storage.kpi_types import View
from storage.models import Alert
from storage.routing import Routing
from storage.scan import ScanReport, apply_findings

OPEN_MONTHS = 3


def run_kpi_alerts(
    engine: Engine,
    *,
    now: datetime,
    timezone: ZoneInfo,
    policies: Mapping[str, Policy],
    thresholds: Mapping[str, Decimal],
    sla_minutes: int,
    routing: Routing,
) -> ScanReport:
    """Open, update and resolve the KPI alerts in one transaction, with their deliveries."""
    current = Period.of(now.astimezone(timezone).date())
    with session_scope(engine) as session:
        query = select(Alert.period).where(
            col(Alert.kind) == AlertKind.KPI_BELOW_TARGET.value,
            col(Alert.state) != AlertState.RESOLVED.value,
        )
        active = {Period.parse(p) for p in session.exec(query) if p}
        periods = {current.shift(-offset) for offset in range(OPEN_MONTHS)} | active
        first = min(periods)
        report = gather(
            session,
            account_policies(session, policies),
            period=current,
            months=first.months_until(current) + 1,
            as_of=now,
            sla_minutes=sla_minutes,
            timezone=timezone,
        )
        rows = [
            DepartmentMonth(department=row.name, period=row.period, kpis=row.kpis)
            for row in report.view(View.DEPARTMENT)
        ]
        return apply_findings(
            session,
            kpi_findings(rows, thresholds, periods),
            now=now,
            routing=routing,
            evaluated=frozenset({AlertKind.KPI_BELOW_TARGET.value}),
        )
