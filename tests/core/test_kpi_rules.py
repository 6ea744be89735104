"""`kpi_below_target` findings from a department's month of KPI figures."""

from __future__ import annotations

from decimal import Decimal as D

from core.alerts import AlertKind, dedupe_key
from core.kpi_rules import DepartmentMonth, kpi_findings
from core.kpis import METRICS, AckStats, KpiSummary
from core.periods import Period

MAY, APRIL = Period(2025, 5), Period(2025, 4)
TARGETS = {"on_time": D("0.95"), "enrollment": D("0.9")}


def _month(
    department: str,
    period: Period = MAY,
    *,
    on_time: D | None = D("1"),
    enrollment: D | None = D("1"),
    ack: D | None = None,
) -> DepartmentMonth:
    kpis = KpiSummary(
        on_time_rate=on_time,
        payment_accuracy=D("1"),
        enrollment_timeliness=enrollment,
        ack=AckStats(acknowledged=0, mean=None, p90=None, within_sla=ack),
    )
    return DepartmentMonth(department=department, period=period, kpis=kpis)


def test_a_department_below_one_target_is_one_finding_naming_the_metric() -> None:
    [finding] = kpi_findings([_month("Eng", on_time=D("0.9000"))], TARGETS, {MAY})
    assert finding.kind == AlertKind.KPI_BELOW_TARGET
    assert finding.key == dedupe_key(AlertKind.KPI_BELOW_TARGET, department="Eng", period=MAY)
    assert (finding.department, finding.period, finding.stage) == ("Eng", MAY, "on_time")
    assert finding.details == {"on_time": "0.9000 < 0.95"}


def test_a_second_metric_below_target_is_a_new_stage() -> None:
    [finding] = kpi_findings([_month("Eng", on_time=D("0.5"), enrollment=D("0.5"))], TARGETS, {MAY})
    assert finding.stage == "enrollment+on_time"


def test_at_target_nothing_counted_or_an_unknown_name_is_not_below() -> None:
    rows = [
        _month("AtTarget", on_time=D("0.95"), enrollment=D("0.9")),
        _month("NoHires", enrollment=None),
        _month("SlowAcks", ack=D("0.1")),
    ]
    assert kpi_findings(rows, {**TARGETS, "happiness": D("1")}, {MAY}) == []
    [ack] = kpi_findings(rows, {"ack": D("0.5")}, {MAY})
    assert ack.department == "SlowAcks"


def test_only_the_months_asked_for_are_judged() -> None:
    rows = [_month("Eng", APRIL, on_time=D("0.1")), _month("Eng", MAY, on_time=D("0.1"))]
    assert [f.period for f in kpi_findings(rows, TARGETS, {MAY})] == [MAY]


def test_every_kpi_has_a_threshold_name() -> None:
    assert set(METRICS) == {"on_time", "accuracy", "enrollment", "ack"}
