"""KPIs of the people who keep the insurance paid: on time, to the cent, enrolled, answered.

Each formula is in its function's docstring. Ratios are `Decimal` in 0..1, quantized to
0.0001 half-up so thresholds compare predictably, and None when nothing is counted (a
department with no hires has no enrolment timeliness, not 0 %). Pass `as_of` in the
company's time zone: the date part decides which deadlines have passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Protocol, TypeVar

from core.enrollment import enrollment_deadline
from core.money import CENT, ZERO
from core.periods import Period

RATIO_STEP = Decimal("0.0001")


@dataclass(frozen=True, kw_only=True)
class PeriodPayment:
    """What one account owed for a period and what it paid, as of the report."""

    account: str
    period: Period
    due_date: date
    computed: Decimal
    paid: Decimal
    paid_in_full_on: date | None
    department: str | None = None
    """Set when the dues are booked per department (employee-level rows)."""


@dataclass(frozen=True, kw_only=True)
class Hire:
    employee_id: str
    account: str
    department: str | None
    hire_date: date
    enrolled_on: date | None


@dataclass(frozen=True, kw_only=True)
class AlertAck:
    """An alert's opening and first acknowledgement (from the alert_event audit trail)."""

    account: str | None
    department: str | None
    opened_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class AckStats:
    acknowledged: int
    mean: timedelta | None
    p90: timedelta | None
    within_sla: Decimal | None


@dataclass(frozen=True, kw_only=True)
class KpiSummary:
    on_time_rate: Decimal | None
    payment_accuracy: Decimal | None
    enrollment_timeliness: Decimal | None
    ack: AckStats


METRICS: dict[str, Callable[[KpiSummary], Decimal | None]] = {
    "on_time": lambda kpis: kpis.on_time_rate,
    "accuracy": lambda kpis: kpis.payment_accuracy,
    "enrollment": lambda kpis: kpis.enrollment_timeliness,
    "ack": lambda kpis: kpis.ack.within_sla,
}
"""Each KPI by the name `[kpi] thresholds`, the chart and the KPI alerts know it by."""


class Dimension(StrEnum):
    ACCOUNT = "account"
    DEPARTMENT = "department"


class _Grouped(Protocol):
    @property
    def account(self) -> str | None: ...
    @property
    def department(self) -> str | None: ...


T = TypeVar("T", bound=_Grouped)


def ratio(numerator: int, denominator: int) -> Decimal | None:
    if denominator == 0:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO_STEP, ROUND_HALF_UP)


def on_time_rate(payments: Iterable[PeriodPayment], as_of: date) -> Decimal | None:
    """Account-periods paid in full by their due date / account-periods due.

    A period counts as due once its due date has passed (due date < as_of), or earlier if
    it is already paid in full on time; a payment dated after `as_of` is not yet made.
    """
    on_time = due = 0
    for row in payments:
        paid_on = row.paid_in_full_on
        in_time = paid_on is not None and paid_on <= row.due_date and paid_on <= as_of
        if in_time or row.due_date < as_of:
            due += 1
            on_time += in_time
    return ratio(on_time, due)


def payment_accuracy(payments: Iterable[PeriodPayment]) -> Decimal | None:
    """Account-periods whose paid amount equals the computed dues to the cent / periods paid.

    "Paid" means any amount received; an under- or over-payment counts against accuracy.
    """
    rows = [row for row in payments if row.paid > ZERO]
    exact = sum(1 for row in rows if _cents(row.paid) == _cents(row.computed))
    return ratio(exact, len(rows))


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def enrollment_timeliness(hires: Iterable[Hire], as_of: date) -> Decimal | None:
    """Hires enrolled within 30 days / hires whose deadline has passed or who enrolled.

    The deadline is `core.enrollment.enrollment_deadline` (社会保险法 Art. 58); a hire still
    inside the window and not yet enrolled is neither a success nor a failure yet.
    """
    timely = counted = 0
    for hire in hires:
        deadline = enrollment_deadline(hire.hire_date)
        # An enrolment dated after as_of has not happened yet.
        enrolled_on = hire.enrolled_on if hire.enrolled_on and hire.enrolled_on <= as_of else None
        if enrolled_on is not None or deadline < as_of:
            counted += 1
            timely += enrolled_on is not None and enrolled_on <= deadline
    return ratio(timely, counted)


def ack_stats(alerts: Iterable[AlertAck], *, sla_minutes: int, as_of: datetime) -> AckStats:
    """Time to acknowledge (acknowledged_at − opened_at) over acknowledged alerts.

    mean: arithmetic mean; p90: nearest rank, the ⌈0.9·n⌉-th smallest; within_sla:
    acknowledged within `sla_minutes` / (acknowledged + still open longer than the SLA),
    so an alert nobody answers counts as a miss once the SLA has run out.
    """
    sla = timedelta(minutes=sla_minutes)
    waits: list[timedelta] = []
    missed_open = 0
    for alert in alerts:
        if alert.acknowledged_at is not None and alert.acknowledged_at <= as_of:
            waits.append(alert.acknowledged_at - alert.opened_at)
        elif as_of - alert.opened_at > sla:
            missed_open += 1
    if not waits:
        return AckStats(acknowledged=0, mean=None, p90=None, within_sla=ratio(0, missed_open))
    waits.sort()
    rank = -(-9 * len(waits) // 10)
    return AckStats(
        acknowledged=len(waits),
        mean=sum(waits, timedelta()) / len(waits),
        p90=waits[rank - 1],
        within_sla=ratio(sum(1 for w in waits if w <= sla), len(waits) + missed_open),
    )


def group_by(items: Iterable[T], key: Callable[[T], str | None]) -> dict[str, list[T]]:
    """Items per key, keys in first-seen order; items whose key is None are left out."""
    groups: dict[str, list[T]] = {}
    for item in items:
        value = key(item)
        if value is not None:
            groups.setdefault(value, []).append(item)
    return groups


def summarize(
    payments: Sequence[PeriodPayment],
    hires: Sequence[Hire],
    alerts: Sequence[AlertAck],
    *,
    as_of: datetime,
    sla_minutes: int,
) -> KpiSummary:
    """All four KPIs over the given rows."""
    return KpiSummary(
        on_time_rate=on_time_rate(payments, as_of.date()),
        payment_accuracy=payment_accuracy(payments),
        enrollment_timeliness=enrollment_timeliness(hires, as_of.date()),
        ack=ack_stats(alerts, sla_minutes=sla_minutes, as_of=as_of),
    )


def summaries_by(
    dimension: Dimension,
    payments: Sequence[PeriodPayment],
    hires: Sequence[Hire],
    alerts: Sequence[AlertAck],
    *,
    as_of: datetime,
    sla_minutes: int,
) -> dict[str, KpiSummary]:
    """One summary per account or department, sorted by key."""

    def key(item: _Grouped) -> str | None:
        return item.account if dimension is Dimension.ACCOUNT else item.department

    by_payment, by_hire, by_alert = (
        group_by(payments, key),
        group_by(hires, key),
        group_by(alerts, key),
    )
    return {
        name: summarize(
            by_payment.get(name, []),
            by_hire.get(name, []),
            by_alert.get(name, []),
            as_of=as_of,
            sla_minutes=sla_minutes,
        )
        for name in sorted(by_payment.keys() | by_hire.keys() | by_alert.keys())
    }
