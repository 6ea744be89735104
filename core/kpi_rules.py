"""KPI alerts (`kpi_below_target`): a department's month below a `[kpi] thresholds` target.

One finding per department and month (its dedupe key), so the alert opens once, updates while
the month's figures move and resolves once the department is back at or above target. The
stage names the metrics below target, so a second KPI falling notifies again. Storage gathers
the figures (`storage.kpi_alerts`); the rule is here, with the other rules that turn facts
into findings (`core.alert_rules`, `core.installment_rules`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from core.alerts import AlertKind, Finding, dedupe_key
from core.kpis import METRICS, KpiSummary
from core.periods import Period


@dataclass(frozen=True, kw_only=True)
class DepartmentMonth:
    """A department's KPI figures for one month."""

    department: str
    period: Period
    kpis: KpiSummary


def kpi_findings(
    rows: Iterable[DepartmentMonth],
    thresholds: Mapping[str, Decimal],
    periods: Collection[Period],
) -> list[Finding]:
    """A finding per department and month in `periods` with a KPI below its target; a
    threshold whose name is no KPI (`core.kpis.METRICS`) or a KPI with nothing counted is
    never below target."""
    findings = []
    for row in rows:
        if row.period not in periods:
            continue
        below = {}
        for metric, target in sorted(thresholds.items()):
            value = METRICS[metric](row.kpis) if metric in METRICS else None
            if value is not None and value < target:
                below[metric] = f"{value} < {target}"
        if below:
            kind = AlertKind.KPI_BELOW_TARGET
            findings.append(
                Finding(
                    kind=kind,
                    key=dedupe_key(kind, department=row.department, period=row.period),
                    stage="+".join(below),
                    department=row.department,
                    period=row.period,
                    details=below,
                )
            )
    return findings
