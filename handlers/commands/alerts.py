"""`alerts`, `ack`, `snooze`, `plan`: working the alerts in the asker's scope.

Scope is `storage.alerts.in_scope` (managers: their department; HR/finance: everything). An
alert outside the scope gets the same answer as one that does not exist, so a refusal never
reveals that it is there. The `ack`/`snooze` buttons arrive as these same commands.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from core.alerts import COMPANY_KINDS, AlertKind, AlertState
from core.cover import suspension_started
from core.escalation import parse_duration
from core.installments import PlanError
from core.periods import Period
from handlers.alert_actions import DEFAULT_SNOOZE, alert_buttons, parse_alert_id
from handlers.alert_render import (
    Estimates,
    alert_estimate_figures,
    card_updates,
    kpi_shortfalls,
)
from handlers.formatting import (
    AccountNames,
    account_name,
    approx,
    card_reply,
    days_words,
    estimate_figures,
    estimate_notes,
    label,
    moment,
    money,
    person,
)
from handlers.router import Request, Router, UsageError, UserError
from handlers.types import Action, Button, CardUpdate, Field, Reply
from storage.alerts import (
    acknowledge,
    alerts_in_scope,
    covered_with,
    create_plan,
    get_alert,
    in_scope,
    may_act,
    snooze,
)
from storage.audit import record_views
from storage.employees import COMPANY_ROLES, get_employee
from storage.models import Alert
from storage.routing import answering
from storage.silences import silenced

router = Router()
ALERT_ROLES = frozenset({"manager"}) | COMPANY_ROLES
PAGE_SIZE = 3
"""Alerts per page: each gets its ack and snooze buttons, and WeCom cards take at most 6."""
MAX_INSTALLMENTS = 12


def alert_arg(request: Request) -> Alert:
    """The alert named by the first argument, if it exists and is in the asker's scope."""
    alert_id = parse_alert_id(request.args[0])
    if alert_id is None:
        raise UsageError("alert.bad_id", value=request.args[0])
    alert = get_alert(request.session, alert_id)
    if alert is None or not in_scope(request.session, request.employee, alert):
        raise UserError("alert.not_found", id=request.args[0].lstrip("#"))
    return alert


def actionable_arg(request: Request) -> Alert:
    """`alert_arg`, refused when the asker may see but not act on it (`storage.alerts.may_act`):
    a manager's ack would stop a company-wide alert's escalation to HR."""
    alert = alert_arg(request)
    if not may_act(request.session, request.employee, alert, request.app.account_owners):
        raise UserError("alert.not_yours", id=alert.id)
    return alert


def duration_arg(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError:
        raise UsageError("snooze.bad_duration", value=text) from None


def _subject(request: Request, alert: Alert) -> str:
    """Who or what the alert is about, as people name it."""
    if alert.employee_id:
        return person(request, alert.employee_id)
    if alert.account_id:
        account = account_name(request, alert.account_id)
        return f"{account} {alert.period}" if alert.period else account
    return alert.department or "-"


def _deadline(request: Request, alert: Alert) -> str | None:
    """The date that matters for this kind, with its days left or overdue in words."""
    suspension = alert.kind == AlertKind.SUSPENSION_IMMINENT and alert.suspension_on
    deadline = alert.suspension_on if suspension else alert.due_date
    if deadline is None:
        return None
    marks = Estimates.of(alert)
    estimated = marks.suspension if suspension else marks.due_date
    what = label(request, "deadline_word", alert.kind)
    if what == alert.kind:
        what = request.t("deadline_word.default")
    days = (deadline - request.today).days
    dated = approx(deadline.isoformat(), estimated)
    if suspension and suspension_started(deadline, request.today):  # suspended, not "overdue"
        ago = request.t("format.days_ago", days=-days) if days else request.t("format.today")
        return request.t("alerts.suspended_since", date=dated, left=ago)
    return request.t("alerts.deadline", what=what, date=dated, left=days_words(request, days))


def _figures(request: Request, alert: Alert) -> str | None:
    account = request.accounts.get(alert.account_id or "")
    if alert.principal is None or account is None:
        return None
    rules = Estimates.of(alert).amounts

    def amount(value: Decimal) -> str:
        return approx(money(value, account.currency, account.policy.decimals), rules)

    if alert.kind == AlertKind.FUNDING_GAP:  # money still to find, not money owed
        return request.t("alerts.shortfall", amount=amount(alert.principal))
    if alert.late_fee:
        return request.t(
            "alerts.owed_with_fee", amount=amount(alert.principal), fee=amount(alert.late_fee)
        )
    return request.t("alerts.owed", amount=amount(alert.principal))


def _kind(request: Request, alert: Alert) -> str:
    """The kind as people say it; a `suspension_imminent` alert past its date says suspended."""
    started = suspension_started(alert.suspension_on, request.today)
    if alert.kind == AlertKind.SUSPENSION_IMMINENT and started:
        return request.t("alerts.suspended")
    return label(request, "kind", alert.kind)


def _standing(request: Request, alert: Alert, silenced_until: datetime | None) -> list[str]:
    """Its group, who answers for it, and what keeps it quiet (issue 14 item 7)."""
    parts = [request.t("alerts.group", group=alert.group_key)] if alert.group_key else []
    if alert.state == AlertState.OPEN and alert.account_id and alert.kind in COMPANY_KINDS:
        app = request.app
        found = answering(
            request.session, alert.account_id, app.account_owners, app.rotation, request.today
        )
        who = request.t("oncall.sep").join(person(request, e.employee_id) for e in found)
        parts += [request.t("alerts.owner", who=who)] if who else []
    if alert.inhibited_by is not None:
        parts.append(request.t("alerts.inhibited", id=alert.inhibited_by))
    if silenced_until is not None:
        until = moment(silenced_until, request.app.timezone)
        parts.append(request.t("alerts.silenced", until=until))
    return parts


def _summary(request: Request, alert: Alert, silenced_until: datetime | None) -> str:
    parts = [_kind(request, alert), _subject(request, alert)]
    parts += kpi_shortfalls(request.locale, alert)
    parts += [part for part in (_figures(request, alert), _deadline(request, alert)) if part]
    parts += _standing(request, alert, silenced_until)
    if alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by:
        parts.append(request.t("alerts.acked_by", name=person(request, alert.acknowledged_by)))
    else:
        parts.append(label(request, "alert_state", alert.state))
    return " · ".join(parts)


@router.command(
    "alerts",
    "告警",
    "警报",
    help_key="cmd.alerts.help",
    usage_key="cmd.alerts.usage",
    roles=ALERT_ROLES,
    args=(0, 1),
)
def alerts(request: Request) -> Reply:
    found = alerts_in_scope(request.session, request.employee)
    if not found:
        return Reply(text=request.t("alerts.none"))
    # Open ones first, and only they are counted: an acknowledged alert has an owner already.
    found.sort(key=lambda alert: alert.state != "open")
    open_count = sum(alert.state == "open" for alert in found)
    pages = -(-len(found) // PAGE_SIZE)
    page = _page_arg(request, pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    record_views(
        request.session,
        at=request.app.now(),
        actor=request.employee.employee_id,
        subjects=[alert.employee_id for alert in shown],
        detail="alerts",
        via=request.event.platform,
    )
    muted = silenced(request.session, shown, request.app.now())
    # Acknowledged ones have someone on them: a heading sets them apart from the open ones.
    first_acked = next((alert for alert in shown if alert.state != AlertState.OPEN), None)
    fields = []
    for alert in shown:
        if alert is first_acked:
            acked = request.t("alerts.acked_count", count=len(found) - open_count)
            fields.append(Field(label=request.t("alerts.acked_section"), value=acked))
        summary = _summary(request, alert, muted.get(alert.id or 0))
        fields.append(Field(label=f"#{alert.id}", value=summary))
    buttons: list[Button] = []
    owners = request.app.account_owners
    for alert in [a for a in shown if a.state == "open"]:
        if not may_act(request.session, request.employee, alert, owners):
            continue
        buttons += alert_buttons(alert, locale=request.locale)
    title = request.t("alerts.title", count=open_count)
    if open_count < len(found):
        title = request.t("alerts.title_acked", count=open_count, acked=len(found) - open_count)
    figures = [
        figure
        for alert in shown
        for figure in alert_estimate_figures(
            request.locale, alert, account_name(request, alert.account_id or "-")
        )
    ]
    notes = estimate_notes(request, figures)
    if pages > 1:
        title = request.t("alerts.title_paged", count=open_count, page=page, pages=pages)
        if page < pages:
            notes.append(request.t("alerts.next_page", next=page + 1))
    return card_reply(request, title, fields, buttons=buttons, notes=notes)


def _page_arg(request: Request, pages: int) -> int:
    if not request.args:
        return 1
    text = request.args[0]
    if not text.isdigit() or not 1 <= int(text) <= pages:
        raise UsageError("alerts.bad_page", value=text, pages=pages)
    return int(text)


@router.command(
    "ack",
    "确认",
    "acknowledge",
    help_key="cmd.ack.help",
    usage_key="cmd.ack.usage",
    roles=ALERT_ROLES,
    args=(1, 1),
)
def ack(request: Request) -> Reply:
    alert = actionable_arg(request)
    done = acknowledge(
        request.session,
        alert,
        by=request.employee.employee_id,
        via=request.event.platform,
        at=request.app.now(),
    )
    updates = _acknowledged_cards(request, alert)
    if not done and alert.acknowledged_by is not None and alert.acknowledged_at is not None:
        who = get_employee(request.session, alert.acknowledged_by)
        return Reply(
            text=request.t(
                "ack.already",
                id=alert.id,
                name=who.name if who is not None else alert.acknowledged_by,
                at=moment(alert.acknowledged_at, request.app.timezone),
            ),
            updates=updates,
        )
    if not done:
        state = label(request, "alert_state", alert.state)
        return Reply(text=request.t("ack.not_open", id=alert.id, state=state), updates=updates)
    return Reply(text=request.t("ack.done", id=alert.id), updates=updates)


def _acknowledged_cards(request: Request, alert: Alert) -> tuple[CardUpdate, ...]:
    """After a click on an ack button, the alert's sent cards show who acknowledged and when,
    and so do the cards of the lesser alerts of its group the acknowledgement covered.

    Only a click by the person the acknowledgement on record names, on the platform it was made
    from, rewrites them: a refused or late click by someone else changes nothing.
    """
    event = request.event
    on_record = (alert.acknowledged_by, alert.acknowledged_via)
    if not isinstance(event, Action) or alert.acknowledged_at is None:
        return ()
    if on_record != (request.employee.employee_id, event.platform):
        return ()
    timezone, names = str(request.app.timezone), AccountNames.of(request.app)
    covered = covered_with(request.session, alert)
    return card_updates(request.session, alert, event, timezone=timezone, names=names) + tuple(
        update
        for lesser in covered
        for update in card_updates(request.session, lesser, None, timezone=timezone, names=names)
    )


@router.command(
    "snooze",
    "暂缓",
    "稍后",
    help_key="cmd.snooze.help",
    usage_key="cmd.snooze.usage",
    roles=ALERT_ROLES,
    args=(1, 2),
)
def snooze_command(request: Request) -> Reply:
    alert = actionable_arg(request)
    delta = duration_arg(request.args[1] if len(request.args) > 1 else DEFAULT_SNOOZE)
    if alert.state == "resolved":
        return Reply(text=request.t("alert.resolved", id=alert.id))
    now = request.app.now()
    until = now + delta
    snooze(
        request.session,
        alert,
        by=request.employee.employee_id,
        via=request.event.platform,
        until=until,
        at=now,
    )
    return Reply(
        text=request.t("snooze.done", id=alert.id, until=moment(until, request.app.timezone))
    )


@router.command(
    "plan",
    "分期",
    "installments",
    help_key="cmd.plan.help",
    usage_key="cmd.plan.usage",
    roles=COMPANY_ROLES,
    args=(2, 2),
)
def plan(request: Request) -> Reply:
    alert = alert_arg(request)
    count_text = request.args[1]
    if not count_text.isdigit() or not 1 <= int(count_text) <= MAX_INSTALLMENTS:
        raise UsageError("plan.bad_count", value=count_text, max=MAX_INSTALLMENTS)
    # An installment is already part of a plan; a plan of a plan would double-count.
    planned = alert.kind == AlertKind.INSTALLMENT_DUE
    if planned or None in (alert.account_id, alert.period, alert.due_date, alert.suspension_on):
        return Reply(text=request.t("plan.unsupported", id=alert.id))
    if alert.state == "resolved":
        return Reply(text=request.t("alert.resolved", id=alert.id))
    count, today = int(count_text), request.today
    try:
        result = create_plan(
            request.session,
            alert,
            count,
            by=request.employee.employee_id,
            at=request.app.now(),
            today=today,
            accounts=request.accounts,
        )
    except PlanError:
        assert alert.suspension_on is not None
        days_left = max((alert.suspension_on - today).days - 1, 0)
        if days_left < count:
            return Reply(
                text=request.t(
                    "plan.too_late",
                    days=days_left,
                    count=count,
                    suspension_on=approx(
                        alert.suspension_on.isoformat(),
                        request.accounts[alert.account_id or ""].due_date_estimated(
                            Period.parse(alert.period or "")
                        ),
                    ),
                )
            )
        return Reply(text=request.t("plan.nothing_owed", id=alert.id))
    account = request.accounts[result.alert.account_id or ""]
    quote = result.quote

    period = Period.parse(alert.period or "")
    rules = bool(account.estimates(period))  # amounts from an estimated rule: ≈ and footnote

    def amount(value: Decimal) -> str:
        return approx(money(value, account.currency, account.policy.decimals), rules)

    fields = [
        Field(
            label=request.t("plan.part", seq=part.seq),
            value=request.t(
                "plan.part_value", due_on=part.due_on.isoformat(), amount=amount(part.amount)
            ),
        )
        for part in quote.installments
    ]
    fields.append(
        Field(
            label=request.t("plan.fee_label"),
            value=request.t(
                "plan.fees",
                with_plan=amount(quote.fee_with_plan),
                today=amount(quote.fee_if_paid_today),
                extra=amount(quote.extra_fee),
            ),
        )
    )
    title = request.t(
        "plan.title", id=alert.id, account=account_name(request, account), period=alert.period
    )
    figures = estimate_figures(request, account, period, due_date=False)
    return card_reply(request, title, fields, notes=estimate_notes(request, figures))
