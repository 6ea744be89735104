"""`enroll` (增员), `leave` (减员) and `who` (查): HR's day-to-day roster work from chat.

Each change confirms what it changed and says how to undo it with the same command (the old
value, or `撤销`/`undo` when there was none); changes and looks at someone's data are written
to the audit log (`storage.audit`). A manager may `who` their own reports only, without base
or id number; anyone else gets the same answer as for an id that does not exist.
"""

from __future__ import annotations

from datetime import date

from core.deadlines import due_date
from core.enrollment import enrollment_deadline
from core.periods import Period
from handlers.commands.personal import CoverDates, continuity_fields
from handlers.formatting import account_name, card_reply, days_words, label, money
from handlers.masking import mask_amount, mask_id_number, may_reveal
from handlers.router import Request, Router, UsageError, UserError
from handlers.types import Field, Reply
from storage.audit import record_views
from storage.coverage import employee_cover
from storage.employees import get_employee
from storage.models import Employee
from storage.queries_ledger import month_base
from storage.roster import Actor, ledger_periods_after, set_enrolment, set_leave

router = Router()
HR_ROLES = frozenset({"hr"})
WHO_ROLES = frozenset({"hr", "manager"})
UNDO_WORDS = frozenset({"undo", "-", "撤销", "撤銷", "取消"})


def _employee(request: Request) -> Employee:
    employee = get_employee(request.session, request.args[0].upper())
    if employee is None:
        raise UserError("hr.not_found", id=request.args[0])
    return employee


def _date(text: str) -> date | None:
    """A `YYYY-MM-DD` argument; None for the undo words."""
    if text.casefold() in UNDO_WORDS:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError("hr.bad_date", value=text) from None


def _actor(request: Request) -> Actor:
    return Actor(
        employee_id=request.employee.employee_id,
        via=request.event.platform,
        at=request.app.now(),
    )


def _undo_hint(request: Request, employee: Employee, before: date | None) -> str:
    value = before.isoformat() if before is not None else request.t("hr.undo_word")
    return request.t(f"{request.command}.undo", id=employee.employee_id, value=value)


@router.command(
    "enroll",
    "参保",
    "增员",
    help_key="cmd.enroll.help",
    usage_key="cmd.enroll.usage",
    roles=HR_ROLES,
    args=(1, 2),
)
def enroll(request: Request) -> Reply:
    employee = _employee(request)
    on = _date(request.args[1]) if len(request.args) > 1 else request.today
    if on is not None and on < employee.hire_date:
        raise UserError("enroll.before_hire", hire_date=employee.hire_date.isoformat())
    if on is not None and on > request.today:
        raise UserError("enroll.future", value=on.isoformat())
    if on is None and employee.enrolled_on is None:
        return Reply(
            text=request.t("enroll.not_enrolled", name=employee.name, id=employee.employee_id)
        )
    if on == employee.enrolled_on:
        return Reply(text=request.t("hr.unchanged", name=employee.name, id=employee.employee_id))
    change = set_enrolment(request.session, employee, on, actor=_actor(request))
    who = {"name": employee.name, "id": employee.employee_id}
    if on is None:
        lines = [request.t("enroll.withdrawn", **who)]
    else:
        account = request.accounts[employee.account_id]
        lines = [
            request.t(
                "enroll.done", date=on.isoformat(), account=account_name(request, account), **who
            )
        ]
        deadline = enrollment_deadline(employee.hire_date)
        if on > deadline:
            lines.append(
                request.t("enroll.late", deadline=deadline.isoformat(), days=(on - deadline).days)
            )
        if change.resolved_alert is not None:
            lines.append(request.t("enroll.resolved", alert=change.resolved_alert))
    lines.append(_undo_hint(request, employee, change.before))
    return Reply(text="\n".join(lines))


@router.command(
    "leave",
    "减员",
    help_key="cmd.leave.help",
    usage_key="cmd.leave.usage",
    roles=HR_ROLES,
    args=(2, 2),
)
def leave(request: Request) -> Reply:
    employee = _employee(request)
    on = _date(request.args[1])
    who = {"name": employee.name, "id": employee.employee_id}
    if on is not None and on < employee.hire_date:
        raise UserError("leave.before_hire", hire_date=employee.hire_date.isoformat())
    if on == employee.leave_date:
        return Reply(text=request.t("hr.unchanged", **who))
    change = set_leave(request.session, employee, on, actor=_actor(request))
    if on is None:
        lines = [request.t("leave.withdrawn", **who)]
    else:
        account = request.accounts[employee.account_id]
        month = Period.of(on)
        stop_by = due_date(account.policy, month.next(), due_day=account.settings.due_day)
        lines = [
            request.t("leave.done", date=on.isoformat(), month=str(month), **who),
            request.t(
                "leave.stop",
                stop_by=stop_by.isoformat(),
                next=str(month.next()),
                account=account_name(request, account),
            ),
        ]
        computed = ledger_periods_after(request.session, employee.employee_id, month)
        if computed:
            lines.append(request.t("leave.recompute", periods=", ".join(map(str, computed))))
    lines.append(_undo_hint(request, employee, change.before))
    return Reply(text="\n".join(lines))


@router.command(
    "who",
    "查",
    "查员工",
    help_key="cmd.who.help",
    usage_key="cmd.who.usage",
    roles=WHO_ROLES,
    args=(1, 1),
    personal=True,
)
def who(request: Request) -> Reply:
    viewer = request.employee
    employee = _employee(request)
    full = viewer.role in HR_ROLES
    if not full and employee.manager_id != viewer.employee_id:
        raise UserError("hr.not_found", id=request.args[0])
    account = request.accounts[employee.account_id]
    today = request.today
    status = employee_cover(request.session, employee, account, today)
    dates = CoverDates.of(request, account, status)
    fields = [
        Field(
            label=request.t("who.department"), value=employee.department or request.t("format.none")
        ),
        Field(label=request.t("coverage.account"), value=account_name(request, account)),
        Field(label=request.t("coverage.state"), value=label(request, "state", status.state)),
        Field(
            label=request.t("coverage.paid_through"),
            value=str(status.paid_through or request.t("format.none")),
        ),
        Field(label=request.t("coverage.next_due"), value=dates.next_due),
        Field(label=request.t("who.enrolment"), value=_enrolment(request, employee)),
        *continuity_fields(request, status, employee.enrolled_on),
    ]
    if dates.suspension_on is not None:
        fields.append(Field(label=request.t("coverage.suspension_on"), value=dates.suspension_on))
    if employee.leave_date is not None:
        fields.append(
            Field(label=request.t("who.leave_date"), value=employee.leave_date.isoformat())
        )
    if full:
        found = month_base(request.session, employee.employee_id, Period.of(today))
        reveal = may_reveal(viewer=viewer, owner=employee, is_direct=request.is_direct)
        if found is not None:
            period, base = found
            shown = (
                money(base, account.currency, account.policy.decimals)
                if reveal
                else mask_amount(base)
            )
            fields.append(Field(label=request.t("who.base", period=str(period)), value=shown))
        if employee.id_number and reveal:
            fields.append(
                Field(
                    label=request.t("coverage.id_number"), value=mask_id_number(employee.id_number)
                )
            )
    record_views(
        request.session,
        at=request.app.now(),
        actor=viewer.employee_id,
        subjects=[employee.employee_id],
        detail="who" if full else "who (manager view)",
        via=request.event.platform,
    )
    title = request.t("who.title", name=employee.name, id=employee.employee_id)
    return card_reply(request, title, fields, notes=dates.notes)


def _enrolment(request: Request, employee: Employee) -> str:
    if employee.enrolled_on is not None:
        return employee.enrolled_on.isoformat()
    deadline = enrollment_deadline(employee.hire_date)
    left = days_words(request, (deadline - request.today).days)
    return request.t("who.not_enrolled", deadline=deadline.isoformat(), left=left)
