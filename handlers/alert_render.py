"""Alerts as chat messages: headline, figures, consequence, next action, and the buttons.

Rendered at send time in the recipient's language, so a delivery that waited (quiet hours,
Retry-After) still shows the alert's current figures — and a resolved alert is not sent at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.alert_rules import CALENDAR_ESTIMATE, ESTIMATE, SUSPENSION_ESTIMATE
from core.alerts import AlertKind, AlertState
from core.cover import suspension_started
from core.kpis import METRICS
from core.locales import DEFAULT_TIMEZONE
from core.money import display_amount
from handlers.alert_actions import alert_buttons
from handlers.formatting import AccountNames, approx
from handlers.i18n import has_key, translate
from handlers.kpi_digest import render_kpi_digest
from handlers.kpi_view import percent_text
from handlers.notices import render_cover_notice, render_handover
from handlers.types import Action, Button, Card, CardUpdate, Field, Reply
from storage.models import Account, Alert, Delivery, Employee
from storage.outbox import (
    AlertPayload,
    CoverNoticePayload,
    DigestPayload,
    HandoverPayload,
    decode_payload,
    sent_ref,
)


def _money(session: Session, alert: Alert, amount: object) -> str:
    if amount is None:
        return "-"
    account = session.get(Account, alert.account_id) if alert.account_id else None
    currency = account.currency if account is not None else ""
    return display_amount(amount, currency)  # type: ignore[arg-type]


def _name(session: Session, employee_id: str | None) -> str:
    if not employee_id:
        return "-"
    person = session.get(Employee, employee_id)
    return f"{person.name} ({employee_id})" if person is not None else employee_id


@dataclass(frozen=True)
class Estimates:
    """Which of an alert's figures are estimates (≈), from its finding details."""

    amounts: bool
    """The amounts rest on an unconfirmed or provisional rule (core.estimates)."""
    due_date: bool
    """The due date rests on a holiday calendar not published yet."""
    suspension: bool
    """The suspension date is counted from such a due date."""

    @classmethod
    def of(cls, alert: Alert) -> Estimates:
        details: dict[str, str] = json.loads(alert.details or "{}")
        due_date = details.get(CALENDAR_ESTIMATE) == "yes"
        return cls(
            amounts=bool(details.get(ESTIMATE)),
            due_date=due_date,
            suspension=alert.suspension_on is not None
            and (due_date or details.get(SUSPENSION_ESTIMATE) == "yes"),
        )


def alert_estimate_figures(locale: str, alert: Alert, account: str | None = None) -> list[str]:
    """What the `dues.estimate` footnote names for this alert (empty: nothing estimated);
    `account`: the account as the reader names it (else its id)."""
    details: dict[str, str] = json.loads(alert.details or "{}")
    marks, account = Estimates.of(alert), account or alert.account_id or "-"
    figures = []
    for scheme in details.get(ESTIMATE, "").split(",") if marks.amounts else ():
        key = f"scheme.{scheme}"
        figures.append(f"{account} {translate(locale, key) if has_key(key) else scheme}")
    if marks.due_date:
        figures.append(translate(locale, "dues.calendar_estimate", account=account))
    if marks.suspension:
        figures.append(translate(locale, "dues.suspension_estimate", account=account))
    return figures


def _facts(session: Session, alert: Alert, names: AccountNames, locale: str) -> dict[str, object]:
    details: dict[str, str] = json.loads(alert.details or "{}")
    marks = Estimates.of(alert)

    def named(account_id: str) -> str:
        return names.name(session, account_id, locale) if account_id else "-"

    if details.get("pay_first"):
        details["pay_first"] = ", ".join(named(a) for a in details["pay_first"].split(","))
    return {
        **details,
        "id": alert.id,
        "account": named(alert.account_id or ""),
        "period": alert.period or "-",
        "due_date": approx(alert.due_date.isoformat() if alert.due_date else "-", marks.due_date),
        "principal": approx(_money(session, alert, alert.principal), marks.amounts),
        "late_fee": approx(_money(session, alert, alert.late_fee), marks.amounts),
        "days": alert.days_overdue or 0,
        "suspension_on": approx(
            alert.suspension_on.isoformat() if alert.suspension_on else "-", marks.suspension
        ),
        "employee": _name(session, alert.employee_id),
        "department": alert.department or "-",
    }


def kpi_shortfalls(locale: str, alert: Alert) -> list[str]:
    """A `kpi_below_target` alert's metrics, each with its value and target, in words.

    The details hold `metric: "value < target"` (`core.kpi_rules.kpi_findings`); without them
    the notice could only say that "a KPI" is low, which nobody can act on (issue 14 item 7).
    """
    if alert.kind != AlertKind.KPI_BELOW_TARGET:
        return []
    details: dict[str, str] = json.loads(alert.details or "{}")
    lines = []
    for metric in METRICS:
        value, _, target = str(details.get(metric, "")).partition(" < ")
        try:
            ratio, goal = Decimal(value), Decimal(target)
        except InvalidOperation:
            continue
        lines.append(
            translate(
                locale,
                "notice.kpi_below_target.metric",
                metric=translate(locale, f"kpi.{metric}"),
                value=percent_text(locale, ratio),
                target=percent_text(locale, goal),
            )
        )
    return lines


def _suspends_nothing(kind: AlertKind, alert: Alert, facts: dict[str, object]) -> bool:
    """A policy without a suspension rule (Hong Kong MPF) must not threaten a suspension."""
    if kind is AlertKind.FUNDING_GAP:
        return facts.get("suspends") == "no"
    return kind in (AlertKind.DUE_SOON, AlertKind.OVERDUE) and alert.suspension_on is None


def _suspended(alert: Alert, facts: dict[str, object]) -> bool:
    """Cover already suspended as of the scan behind the figures (`as_of`, the day the late
    fee is counted to): the notice says so instead of "will be suspended on"."""
    as_of = facts.get("as_of")
    return isinstance(as_of, str) and suspension_started(
        alert.suspension_on, date.fromisoformat(as_of)
    )


def render_alert(
    session: Session,
    alert: Alert,
    *,
    locale: str,
    timezone: str = DEFAULT_TIMEZONE,
    names: AccountNames | None = None,
) -> Reply:
    """The alert card: text is the complete message, the card its structured form."""
    facts = _facts(session, alert, names or AccountNames(), locale)
    kind = AlertKind(alert.kind)
    variant = kind.value
    if kind is AlertKind.ENROLLMENT_DEADLINE:  # `days_left` as of the scan that found it
        passed = int(str(facts.get("days_left", "0"))) < 0
        variant += ".passed" if passed else ".soon"
    suspended = _suspended(alert, facts)
    if kind is AlertKind.SUSPENSION_IMMINENT and suspended:
        variant = "suspended"  # the kind stays (ARCHITECTURE.md §3 kinds): only the words change

    def t(key: str) -> str:
        return translate(locale, key, **facts)

    title = t(f"notice.{variant}.title")
    consequence, action = f"notice.{variant}.consequence", f"notice.{variant}.action"
    if _suspends_nothing(kind, alert, facts):
        consequence += "_no_suspension"
        action += "_no_suspension" if kind is AlertKind.OVERDUE else ""
    elif kind is AlertKind.OVERDUE and suspended:  # and too late for an installment plan
        consequence += "_suspended"
        action += "_suspended"
    body = [title, *kpi_shortfalls(locale, alert), t(consequence), t(action)]
    if figures := alert_estimate_figures(locale, alert, str(facts["account"])):
        body.append(translate(locale, "dues.estimate", figures=", ".join(figures)))
    fields = [Field(label=t("notice.field.id"), value=str(alert.id))]
    if alert.account_id:
        fields.append(
            Field(
                label=t("notice.field.account"),
                value=f"{facts['account']} {alert.period or ''}".strip(),
            )
        )
    if alert.principal is not None:
        fields.append(Field(label=t("notice.field.principal"), value=str(facts["principal"])))
    if alert.late_fee is not None and alert.late_fee > 0:
        fields.append(Field(label=t("notice.field.late_fee"), value=str(facts["late_fee"])))
    if alert.due_date is not None:
        enrolment = kind is AlertKind.ENROLLMENT_DEADLINE  # a registration, not a payment
        due_label = t("notice.field.deadline" if enrolment else "notice.field.due_date")
        fields.append(Field(label=due_label, value=str(facts["due_date"])))
    if alert.suspension_on is not None:
        fields.append(
            Field(label=t("notice.field.suspension_on"), value=str(facts["suspension_on"]))
        )
    if alert.employee_id:
        fields.append(Field(label=t("notice.field.employee"), value=str(facts["employee"])))
    buttons: tuple[Button, ...] = ()
    if alert.state == AlertState.OPEN:
        body.append(t("notice.how_to_ack"))
        buttons = alert_buttons(alert, locale=locale)
    elif alert.acknowledged_at is not None:
        when = alert.acknowledged_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
        acked = translate(
            locale,
            "notice.acknowledged",
            who=_name(session, alert.acknowledged_by),
            when=when,
            via=alert.acknowledged_via or "-",
        )
        body.append(acked)
        fields.append(Field(label=t("notice.field.acknowledged"), value=acked))
    card = Card(title=title, fields=tuple(fields), buttons=buttons)
    return Reply(text="\n".join(body), card=card)


def card_updates(
    session: Session,
    alert: Alert,
    clicked: Action | None,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    names: AccountNames | None = None,
) -> tuple[CardUpdate, ...]:
    """Every sent copy of `alert`, re-rendered as it stands now, each in its reader's language.

    The clicked card is rewritten through the click's own ref: on WeCom a fresh one-use
    ResponseCode (doc 94888), elsewhere the ref the send returned. Cards of an alert nobody
    clicked (`clicked` None: one an acknowledgement covered) use the refs their sends returned.
    """
    updates = []
    for delivery in sent_ref(session, alert.id or 0):
        if not delivery.message_ref:
            continue
        locale = decode_payload(delivery.payload).locale
        is_clicked = (
            clicked is not None
            and not delivery.is_group
            and (delivery.platform, delivery.address) == (clicked.platform, clicked.conversation_id)
        )
        ref = (clicked.message_ref if clicked is not None and is_clicked else None) or (
            delivery.message_ref
        )
        reply = render_alert(session, alert, locale=locale, timezone=timezone, names=names)
        updates.append(CardUpdate(platform=delivery.platform, message_ref=ref, reply=reply))
    return tuple(updates)


def render_delivery(
    session: Session,
    delivery: Delivery,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    names: AccountNames | None = None,
) -> Reply | None:
    """The dispatcher's renderer: None when the message should no longer go out."""
    payload = decode_payload(delivery.payload)
    if isinstance(payload, DigestPayload):
        return render_kpi_digest(session, payload, platform=delivery.platform, timezone=timezone)
    if isinstance(payload, CoverNoticePayload):
        return render_cover_notice(session, payload, names or AccountNames())
    if isinstance(payload, HandoverPayload):
        return render_handover(payload)
    if not isinstance(payload, AlertPayload):
        return None
    alert = session.get(Alert, payload.alert_id)
    # Inhibited: its group's more serious alert says it all (core.alert_groups).
    if alert is None or alert.state != AlertState.OPEN or alert.inhibited_by is not None:
        return None
    reply = render_alert(session, alert, locale=payload.locale, timezone=timezone, names=names)
    if payload.level > 0:
        prefix = translate(payload.locale, "notice.escalated", level=payload.level)
        return Reply(text=f"{prefix}\n{reply.text}", card=reply.card)
    return reply


class DeliveryRenderer:
    """`render_delivery` as the dispatcher calls it: deliveries that carry one message (the
    same platform and payload) are rendered once per session. The dispatcher renders each
    claim in a session of its own, so an alert to 200 channels is one render per claim, as
    fresh as the claim (docs/PERFORMANCE.md, fanout_10k)."""

    def __init__(
        self, *, timezone: str = DEFAULT_TIMEZONE, names: AccountNames | None = None
    ) -> None:
        self.timezone = timezone
        self.names = names or AccountNames()

    def __call__(self, session: Session, delivery: Delivery) -> Reply | None:
        rendered: dict[tuple[str, str], Reply | None] = session.info.setdefault(_RENDERED, {})
        key = (delivery.platform, delivery.payload)
        if key not in rendered:
            rendered[key] = render_delivery(
                session, delivery, timezone=self.timezone, names=self.names
            )
        return rendered[key]


_RENDERED = "handlers.alert_render.rendered"
"""The `Session.info` key of a session's rendered messages."""
