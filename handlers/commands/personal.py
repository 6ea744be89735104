"""`coverage` and `contributions`: the asker's own figures, and only the asker's.

Neither command takes a person as argument, so asking about someone else is impossible by
design. Both are personal: in a shared conversation the answer is ephemeral, the ID number is
left out and the contribution base (the salary, clamped) is masked (ARCHITECTURE.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.cover import CoverStatus, continuity
from handlers.formatting import account_name, approx, card_reply, day, label, money
from handlers.masking import mask_amount, mask_id_number, may_reveal
from handlers.router import Request, Router, period_arg
from handlers.types import Field, Reply
from storage.accounts import AccountPolicy
from storage.coverage import employee_cover, estimated_dates
from storage.ledger import employee_lines
from storage.queries_ledger import latest_due_period, latest_employee_period

router = Router()
ZERO = Decimal("0.00")


@router.command(
    "coverage",
    "我的医保",
    "医保状态",
    "医保",
    "cover",
    "status",
    help_key="cmd.coverage.help",
    usage_key="cmd.coverage.usage",
    personal=True,
    reads_only=True,
)
def coverage(request: Request) -> Reply:
    employee = request.employee
    account = request.account
    status = employee_cover(request.session, employee, account, request.today)
    dates = CoverDates.of(request, account, status)
    fields = [
        Field(label=request.t("coverage.state"), value=label(request, "state", status.state)),
        Field(label=request.t("coverage.account"), value=account_name(request, account)),
        Field(
            label=request.t("coverage.paid_through"),
            value=str(status.paid_through or request.t("format.none")),
        ),
        Field(label=request.t("coverage.next_due"), value=dates.next_due),
        *continuity_fields(request, status, employee.enrolled_on),
    ]
    notes = list(dates.notes)
    if status.arrears:
        arrears = ", ".join(str(period) for period in status.arrears)
        fields.append(Field(label=request.t("coverage.arrears"), value=arrears))
    if dates.suspension_on is not None:
        fields.append(Field(label=request.t("coverage.suspension_on"), value=dates.suspension_on))
        if not status.confirmed:
            notes.append(request.t("coverage.estimate"))
    if employee.id_number and request.is_direct:
        # The contract shows an ID number only masked, and only to its owner in private.
        fields.append(
            Field(label=request.t("coverage.id_number"), value=mask_id_number(employee.id_number))
        )
    return card_reply(request, request.t("coverage.title"), fields, notes=notes)


@dataclass(frozen=True)
class CoverDates:
    """A cover answer's next due date and suspension date as shown: `≈` before a date resting
    on a holiday calendar not published yet (core.calendars), with the notes saying so."""

    next_due: str
    suspension_on: str | None
    notes: tuple[str, ...]

    @classmethod
    def of(cls, request: Request, account: AccountPolicy, status: CoverStatus) -> CoverDates:
        next_due, suspension = estimated_dates(account, status)
        notes = [request.t("coverage.calendar_estimate")] if next_due else []
        if suspension:
            notes.append(request.t("coverage.suspension_calendar_estimate"))
        return cls(
            next_due=approx(day(request, status.next_due), next_due),
            suspension_on=None
            if status.suspension_on is None
            else approx(status.suspension_on.isoformat(), suspension),
            notes=tuple(notes),
        )


def continuity_fields(
    request: Request, status: CoverStatus, enrolled_on: date | None
) -> list[Field]:
    """Months of unbroken cover, and every lapsed month since enrolment (when there is one)."""
    run = continuity(status, enrolled_on)
    fields = []
    if run.since is not None:
        value = request.t("coverage.continuous_value", months=run.months, since=str(run.since))
        fields.append(Field(label=request.t("coverage.continuous"), value=value))
    if status.lapsed:
        lapsed = ", ".join(str(period) for period in status.lapsed)
        fields.append(Field(label=request.t("coverage.lapsed"), value=lapsed))
    return fields


@router.command(
    "contributions",
    "缴费明细",
    "缴费",
    "breakdown",
    help_key="cmd.contributions.help",
    usage_key="cmd.contributions.usage",
    args=(0, 1),
    personal=True,
)
def contributions(request: Request) -> Reply:
    employee = request.employee
    if request.args:
        period = period_arg(request.args[0])
    else:
        due = latest_due_period(
            request.session, request.today, request.accounts, employee.account_id
        )
        latest = latest_employee_period(request.session, employee.employee_id, through=due)
        if latest is None:
            return Reply(text=request.t("contributions.no_ledger"))
        period = latest
    lines = employee_lines(request.session, period, employee.employee_id)
    if not lines:
        return Reply(text=request.t("contributions.none", period=period))
    account = request.accounts[lines[0].account_id]
    currency, decimals = account.currency, account.policy.decimals
    reveal = may_reveal(viewer=employee, owner=employee, is_direct=request.is_direct)

    def amount(value: Decimal) -> str:
        return money(value, currency, decimals)

    fields = []
    for line in lines:
        values = {"employer": amount(line.employer), "employee": amount(line.employee)}
        if line.base > ZERO:
            base = amount(line.base) if reveal else mask_amount(line.base)
            text = request.t("contributions.line", base=base, **values)
        else:
            text = request.t("contributions.line_fixed", **values)
        fields.append(Field(label=label(request, "scheme", line.scheme), value=text))
    employer_total = sum((line.employer for line in lines), ZERO)
    employee_total = sum((line.employee for line in lines), ZERO)
    total = request.t(
        "contributions.totals",
        employer=amount(employer_total),
        employee=amount(employee_total),
        total=amount(employer_total + employee_total),
    )
    fields.append(Field(label=request.t("contributions.total_label"), value=total))
    notes = [] if reveal else [request.t("contributions.masked")]
    title = request.t("contributions.title", period=period)
    return card_reply(request, title, fields, notes=notes)
