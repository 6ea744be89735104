"""The alert rules a scan evaluates on one day: what is due, late, about to be suspended or
unfunded, and which hires are near their registration deadline.

Storage fills the views; `evaluate` turns them into `Finding`s keyed by `dedupe_key`, so a
daily scan updates one alert per condition and a new `stage` is what makes it re-notify.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.alerts import AlertKind, Finding, dedupe_key
from core.cover import suspension_started
from core.enrollment import enrollment_deadline
from core.funding import UpcomingDue, funding_gap
from core.money import ZERO, format_amount
from core.periods import Period


@dataclass(frozen=True, kw_only=True)
class AccountPeriodView:
    """One account-period's dues and payment standing on the evaluation day."""

    account_id: str
    period: Period
    currency: str
    due_date: date
    total: Decimal
    outstanding: Decimal
    late_fee: Decimal
    days_overdue: int
    suspension_on: date | None
    """None where the policy suspends no cover (Hong Kong MPF): no suspension_imminent."""
    paid_in_full_on: date | None
    due_date_estimated: bool = False
    """The due date rests on a holiday calendar not published yet (core.calendars)."""
    estimated: tuple[str, ...] = ()
    """Schemes whose rule behind the amounts is unconfirmed or provisional (core.estimates)."""


CALENDAR_ESTIMATE = "calendar_estimate"
"""Finding detail (value "yes"): the due date shown is an estimate (calendar not published)."""
SUSPENDED_STAGE = "suspended"
"""The `suspension_imminent` stage from the suspension date on: cover is suspended, and the
alert (kind unchanged, so its acknowledgement and history carry over) says so."""
ESTIMATE = "estimate"
"""Finding detail: the comma-separated schemes whose estimated rule the amounts rest on."""
SUSPENSION_ESTIMATE = "suspension_estimate"
"""Finding detail (value "yes"): the suspension date is counted from a due date that is an
estimate, where the finding's own due date is another date (an installment's day)."""


def provisional(details: Mapping[str, str]) -> bool:
    """Whether an alert's figures include an estimate (an amount from an unconfirmed or
    provisional rule, a date from an unpublished holiday calendar): `alerts --json`."""
    return bool(details.get(ESTIMATE)) or "yes" in (
        details.get(CALENDAR_ESTIMATE),
        details.get(SUSPENSION_ESTIMATE),
    )


@dataclass(frozen=True, kw_only=True)
class HireView:
    employee_id: str
    department: str | None
    manager_id: str | None
    account_id: str
    hire_date: date
    enrolled_on: date | None
    leave_date: date | None


@dataclass(frozen=True, kw_only=True)
class BalanceView:
    """A snapshot of the money available in an account on `as_of`."""

    account_id: str
    as_of: date
    balance: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class RuleSettings:
    lead_days: tuple[int, ...] = (7, 3, 1)
    suspension_warning_days: int = 7
    funding_horizon_days: int = 30
    enrollment_warning_days: int = 7

    def __post_init__(self) -> None:
        counts = (*self.lead_days, self.suspension_warning_days, self.enrollment_warning_days)
        if min(counts) < 0 or self.funding_horizon_days < 0:
            raise ValueError("alert day counts must not be negative")


EVALUATED_KINDS = frozenset(
    {
        AlertKind.DUE_SOON,
        AlertKind.OVERDUE,
        AlertKind.SUSPENSION_IMMINENT,
        AlertKind.ENROLLMENT_DEADLINE,
        AlertKind.FUNDING_GAP,
    }
)
"""Kinds `evaluate` decides: an open alert of these kinds absent from a scan has cleared."""


def evaluate(
    *,
    as_of: date,
    periods: Iterable[AccountPeriodView],
    hires: Iterable[HireView],
    balances: Iterable[BalanceView],
    settings: RuleSettings,
) -> list[Finding]:
    """Every condition seen on `as_of`, ordered by kind (as declared) then key."""
    unpaid = [p for p in periods if _unpaid(p, as_of)]
    findings: list[Finding] = []
    for view in unpaid:
        findings += _account_period_findings(view, as_of, settings)
    findings += [f for hire in hires if (f := _enrollment(hire, as_of, settings)) is not None]
    findings += _funding_gaps(unpaid, balances, as_of, settings.funding_horizon_days)
    return sorted(findings, key=lambda f: (list(AlertKind).index(f.kind), f.key))


def _unpaid(view: AccountPeriodView, as_of: date) -> bool:
    settled = view.paid_in_full_on is not None and view.paid_in_full_on <= as_of
    return view.outstanding > ZERO and not settled


def _money(view: AccountPeriodView, as_of: date) -> dict[str, str]:
    figures = {
        "as_of": as_of.isoformat(),
        "due_date": view.due_date.isoformat(),
        "total": format_amount(view.total),
        "outstanding": format_amount(view.outstanding),
    }
    if view.suspension_on is not None:
        figures["suspension_on"] = view.suspension_on.isoformat()
    if view.due_date_estimated:
        figures[CALENDAR_ESTIMATE] = "yes"
    if view.estimated:
        figures[ESTIMATE] = ",".join(view.estimated)
    return figures


def _period_finding(
    kind: AlertKind, view: AccountPeriodView, stage: str, details: dict[str, str], *, late: bool
) -> Finding:
    return Finding(
        kind=kind,
        key=dedupe_key(kind, account_id=view.account_id, period=view.period),
        stage=stage,
        account_id=view.account_id,
        period=view.period,
        due_date=view.due_date,
        principal=view.outstanding,
        late_fee=view.late_fee if late else None,
        days_overdue=view.days_overdue if late else None,
        suspension_on=view.suspension_on,
        currency=view.currency,
        details=details,
    )


def _account_period_findings(
    view: AccountPeriodView, as_of: date, settings: RuleSettings
) -> list[Finding]:
    """due_soon up to and on the due date; overdue from the day after (the first overdue day
    is due date + 1), plus suspension_imminent once the suspension date is near or past."""
    days_left = (view.due_date - as_of).days
    if days_left >= 0:
        leads = [n for n in settings.lead_days if n >= days_left]
        if not leads:
            return []
        # The due date itself is the last day to pay without a late fee (fees accrue from the
        # next day, Art. 86), so it always gets its own reminder.
        stage = "lead-0" if days_left == 0 else f"lead-{min(leads)}"
        details = {**_money(view, as_of), "days_left": str(days_left)}
        return [_period_finding(AlertKind.DUE_SOON, view, stage, details, late=False)]

    late = {
        **_money(view, as_of),
        "late_fee": format_amount(view.late_fee),
        "days_overdue": str(view.days_overdue),
    }
    stage = f"overdue-{as_of.isoformat()}"
    findings = [_period_finding(AlertKind.OVERDUE, view, stage, late, late=True)]
    if view.suspension_on is None:  # nothing to suspend (Hong Kong MPF)
        return findings
    days_to_suspension = (view.suspension_on - as_of).days
    if days_to_suspension <= settings.suspension_warning_days:
        # Cover is suspended *from* the suspension date, as core.cover counts it.
        started = suspension_started(view.suspension_on, as_of)
        stage = SUSPENDED_STAGE if started else f"suspension-{days_to_suspension}"
        details = {**late, "days_to_suspension": str(max(days_to_suspension, 0))}
        findings.append(
            _period_finding(AlertKind.SUSPENSION_IMMINENT, view, stage, details, late=True)
        )
    return findings


def _enrollment(hire: HireView, as_of: date, settings: RuleSettings) -> Finding | None:
    """A hire still unregistered near or past the Art. 58 deadline (30 days after hiring)."""
    enrolled = hire.enrolled_on is not None and hire.enrolled_on <= as_of
    left = hire.leave_date is not None and hire.leave_date < as_of
    deadline = enrollment_deadline(hire.hire_date)
    days_left = (deadline - as_of).days
    if enrolled or left or days_left > settings.enrollment_warning_days:
        return None
    return Finding(
        kind=AlertKind.ENROLLMENT_DEADLINE,
        key=dedupe_key(AlertKind.ENROLLMENT_DEADLINE, employee_id=hire.employee_id),
        stage="deadline-soon" if days_left >= 0 else "deadline-passed",
        account_id=hire.account_id,
        employee_id=hire.employee_id,
        department=hire.department,
        due_date=deadline,
        details={
            "as_of": as_of.isoformat(),
            "hire_date": hire.hire_date.isoformat(),
            "deadline": deadline.isoformat(),
            "days_left": str(days_left),
            # 社会保险法 Art. 84: an unregistered employee costs a fine of 1–3× the dues.
            "fine_min_multiple": "1",
            "fine_max_multiple": "3",
        },
    )


def _no_suspension(dues: Sequence[UpcomingDue]) -> dict[str, str]:
    """Marks a gap whose dues suspend no cover (Hong Kong MPF), so its text says so."""
    return {} if any(d.suspension_on for d in dues) else {"suspends": "no"}


def _funding_gaps(
    unpaid: Sequence[AccountPeriodView],
    balances: Iterable[BalanceView],
    as_of: date,
    horizon_days: int,
) -> list[Finding]:
    """Per account with a balance snapshot: will it pay that account's unpaid dues in the
    horizon (overdue ones included)? The pay-first order spans every account's dues."""
    on_time = sorted((b for b in balances if b.as_of <= as_of), key=lambda b: b.as_of)
    latest = {b.account_id: b for b in on_time}  # the newest snapshot per account wins
    dues = [
        UpcomingDue(
            account=v.account_id,
            period=v.period,
            due_date=v.due_date,
            amount=v.outstanding,
            suspension_on=v.suspension_on,
        )
        for v in unpaid
    ]
    # funding_gap's `pay_first` is the one suspension-risk order; with nothing funded it
    # ranks every due in the horizon (only the order is used, so currencies may mix).
    everything = funding_gap(ZERO, as_of, dues, horizon_days)
    ranked = [] if everything is None else [d.account for d in everything.pay_first]
    pay_first = ",".join(dict.fromkeys(ranked))

    findings = []
    for account_id, snapshot in sorted(latest.items()):
        own = [d for d in dues if d.account == account_id]
        gap = funding_gap(snapshot.balance, as_of, own, horizon_days)
        if gap is None:
            continue
        first = gap.first_uncovered
        estimated = any(
            v.account_id == account_id and v.due_date == first and v.due_date_estimated
            for v in unpaid
        )
        schemes = dict.fromkeys(
            s for v in unpaid if v.account_id == account_id for s in v.estimated
        )
        findings.append(
            Finding(
                kind=AlertKind.FUNDING_GAP,
                key=dedupe_key(AlertKind.FUNDING_GAP, account_id=account_id),
                stage=f"gap-{gap.first_uncovered.isoformat()}",
                account_id=account_id,
                due_date=gap.first_uncovered,
                principal=gap.shortfall,
                currency=snapshot.currency,
                details={
                    "as_of": as_of.isoformat(),
                    "balance": format_amount(gap.balance),
                    "balance_as_of": snapshot.as_of.isoformat(),
                    "total_due": format_amount(gap.total_due),
                    "shortfall": format_amount(gap.shortfall),
                    "first_uncovered": gap.first_uncovered.isoformat(),
                    "horizon_end": gap.horizon_end.isoformat(),
                    "pay_first": pay_first,
                    **_no_suspension(own),
                    **({CALENDAR_ESTIMATE: "yes"} if estimated else {}),
                    **({ESTIMATE: ",".join(schemes)} if schemes else {}),
                },
            )
        )
    return findings
