from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.kpis import (
    AckStats,
    AlertAck,
    Dimension,
    Hire,
    KpiSummary,
    PeriodPayment,
    ack_stats,
    enrollment_timeliness,
    group_by,
    on_time_rate,
    payment_accuracy,
    ratio,
    summaries_by,
)
from core.periods import Period

D = Decimal
AS_OF = date(2026, 10, 20)
NOW = datetime(2026, 10, 20, 12, 0)


def payment(
    account: str,
    month: int,
    paid_on: date | None,
    computed: str = "100.00",
    paid: str | None = None,
    department: str | None = None,
) -> PeriodPayment:
    return PeriodPayment(
        account=account,
        period=Period(2026, month),
        due_date=date(2026, month, 15),
        computed=D(computed),
        paid=D(paid if paid is not None else (computed if paid_on else "0")),
        paid_in_full_on=paid_on,
        department=department,
    )


def hire(department: str, hired: date, enrolled: date | None, account: str = "beijing") -> Hire:
    return Hire(
        employee_id=f"E{hired:%m%d}",
        account=account,
        department=department,
        hire_date=hired,
        enrolled_on=enrolled,
    )


def alert(opened_minutes_ago: int, waited: int | None, department: str = "ops") -> AlertAck:
    opened = NOW - timedelta(minutes=opened_minutes_ago)
    acked = None if waited is None else opened + timedelta(minutes=waited)
    return AlertAck(
        account="beijing", department=department, opened_at=opened, acknowledged_at=acked
    )


def test_on_time_rate_counts_due_periods_only() -> None:
    rows = [
        payment("beijing", 8, date(2026, 8, 14)),  # on time
        payment("beijing", 9, date(2026, 9, 16)),  # late
        payment("beijing", 10, None),  # due 15 Oct, unpaid on the 20th: missed
        payment("beijing", 11, date(2026, 10, 19)),  # not due yet, paid early: counts
        payment("beijing", 12, None),  # not due yet: not counted
        payment("beijing", 7, date(2026, 7, 15)),  # on the due date itself: on time
    ]
    assert on_time_rate(rows, AS_OF) == D("0.6000")  # 3 of 5


def test_on_time_rate_ignores_payments_after_as_of() -> None:
    rows = [payment("beijing", 10, date(2026, 10, 14))]
    assert on_time_rate(rows, date(2026, 10, 13)) is None
    assert on_time_rate(rows, date(2026, 10, 14)) == D("1.0000")


def test_payment_accuracy_to_the_cent() -> None:
    rows = [
        payment("beijing", 8, date(2026, 8, 14), computed="100.00", paid="100.004"),
        payment("beijing", 9, date(2026, 9, 14), computed="100.00", paid="100.01"),
        payment("beijing", 10, None, computed="100.00", paid="40"),  # partial: inaccurate
        payment("beijing", 11, None),  # nothing paid: not counted
    ]
    assert payment_accuracy(rows) == D("0.3333")
    assert payment_accuracy([]) is None


def test_enrollment_timeliness() -> None:
    hires = [
        hire("ops", date(2026, 9, 1), date(2026, 10, 1)),  # day 30: on time
        hire("ops", date(2026, 9, 1), date(2026, 10, 2)),  # late
        hire("ops", date(2026, 9, 10), None),  # deadline 10 Oct passed: missed
        hire("ops", date(2026, 10, 1), None),  # still inside the window: not counted
        hire("ops", date(2026, 10, 1), date(2026, 10, 30)),  # enrolment after as_of: ditto
        hire("ops", date(2026, 10, 10), date(2026, 10, 12)),  # early enrolment counts
    ]
    assert enrollment_timeliness(hires, AS_OF) == D("0.5000")
    assert enrollment_timeliness(hires[3:5], AS_OF) is None


def test_ack_stats_mean_p90_and_sla() -> None:
    waits = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
    alerts = [alert(1000, w) for w in waits]
    alerts.append(alert(31, None))  # open past a 30-minute SLA: a miss
    alerts.append(alert(10, None))  # open, SLA not run out: not counted
    alerts.append(alert(5, 60))  # acknowledgement after as_of: still open, not counted
    stats = ack_stats(alerts, sla_minutes=30, as_of=NOW)
    assert stats == AckStats(
        acknowledged=10,
        mean=timedelta(minutes=14.5),
        p90=timedelta(minutes=9),  # nearest rank: ceil(0.9 * 10) = 9th smallest
        within_sla=D("0.8182"),  # 9 of 11
    )


def test_ack_stats_with_nothing_acknowledged() -> None:
    assert ack_stats([], sla_minutes=30, as_of=NOW) == AckStats(
        acknowledged=0, mean=None, p90=None, within_sla=None
    )
    missed = ack_stats([alert(60, None)], sla_minutes=30, as_of=NOW)
    assert missed.within_sla == D("0.0000")


def test_group_by_skips_missing_keys() -> None:
    rows = [hire("ops", date(2026, 1, 1), None), hire("hr", date(2026, 1, 2), None)]
    rows.append(
        Hire(employee_id="X", account="hk", department=None, hire_date=AS_OF, enrolled_on=None)
    )
    groups = group_by(rows, lambda h: h.department)
    assert list(groups) == ["ops", "hr"]
    assert [h.employee_id for h in groups["ops"]] == ["E0101"]


def test_summaries_by_department_and_account() -> None:
    payments = [
        payment("beijing", 9, date(2026, 9, 14), department="ops"),
        payment("shanghai", 9, None, department="sales"),
    ]
    hires = [hire("sales", date(2026, 9, 1), date(2026, 9, 2), account="shanghai")]
    alerts = [alert(100, 10, department="ops")]
    by_department = summaries_by(
        Dimension.DEPARTMENT, payments, hires, alerts, as_of=NOW, sla_minutes=30
    )
    assert list(by_department) == ["ops", "sales"]
    assert by_department["ops"] == KpiSummary(
        on_time_rate=D("1.0000"),
        payment_accuracy=D("1.0000"),
        enrollment_timeliness=None,
        ack=AckStats(
            acknowledged=1, mean=timedelta(minutes=10), p90=timedelta(minutes=10), within_sla=D(1)
        ),
    )
    assert by_department["sales"].on_time_rate == D("0.0000")
    assert by_department["sales"].enrollment_timeliness == D("1.0000")
    by_account = summaries_by(Dimension.ACCOUNT, payments, hires, alerts, as_of=NOW, sla_minutes=30)
    assert list(by_account) == ["beijing", "shanghai"]
    assert by_account["beijing"].ack.acknowledged == 1


@given(
    numerator=st.integers(min_value=0, max_value=10_000),
    extra=st.integers(min_value=0, max_value=10_000),
)
def test_ratio_stays_in_unit_interval(numerator: int, extra: int) -> None:
    value = ratio(numerator, numerator + extra)
    if numerator + extra == 0:
        assert value is None
    else:
        assert value is not None and D(0) <= value <= D(1)
