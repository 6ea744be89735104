"""Employees told, privately, when their cover is at risk (`[alerts] notify_employees`).

A `suspension_imminent` alert means an account's cover will be suspended within
`suspension_warning_days`, or already is. While it is active, each employee insured on the
account gets one private message in their language (what is at risk, from when, that HR is on
it, to keep receipts); when it resolves (the arrears paid), those told get one more: restored.
Never a group, the webhook or an amount (issue 14 item 6).

Written in the scan's transaction like every delivery. An `alert_event` (`notified`,
`employees:…`) marks each wave, so a daily rescan does not re-enqueue tens of thousands of
rows; the idempotency keys carry the alert's episode (when it last opened), so a crash, a
second instance or a restart never sends twice, and a debt that comes back tells them afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from core.alerts import AlertEventType, AlertKind, AlertState
from storage.alerts import record
from storage.employees import chosen_locale, preferred_locales
from storage.models import Alert, AlertEvent, Delivery, Employee
from storage.outbox import CoverNoticePayload, NewDelivery, enqueue
from storage.routing import Routing, addresses_in, person_deliveries

AT_RISK = "at_risk"
"""Cover suspended within days, or suspended: the alert's dates decide the words at send time."""
RESTORED = "restored"
_TOLD = "employees:"
"""Prefix of the `notified` event detail that records a wave of employee notices."""


def tell_employees(
    session: Session,
    *,
    active: Iterable[Alert],
    resolved: Iterable[Alert],
    as_of: date,
    now: datetime,
    routing: Routing,
) -> int:
    """Queue the at-risk notices of `active` suspension alerts not told yet this episode, and
    the restore notices of `resolved` ones that were; returns how many deliveries were new."""
    queued = 0
    for alert in active:
        if alert.kind == AlertKind.SUSPENSION_IMMINENT and not _told(session, alert, AT_RISK):
            people = _insured(session, alert.account_id or "", as_of)
            queued += _notify(session, alert, AT_RISK, people, now=now, routing=routing)
    for alert in resolved:
        if alert.kind != AlertKind.SUSPENSION_IMMINENT or alert.state != AlertState.RESOLVED:
            continue
        if _told(session, alert, AT_RISK) and not _told(session, alert, RESTORED):
            people = _told_people(session, alert)
            queued += _notify(session, alert, RESTORED, people, now=now, routing=routing)
    return queued


def _episode(alert: Alert) -> str:
    """The alert's current episode: reopening (`storage.scan`) moves `opened_at`."""
    return alert.opened_at.strftime("%Y%m%dT%H%M%S")


def _prefix(alert: Alert, notice: str) -> str:
    return f"cover:{alert.id}:{_episode(alert)}:{notice}:"


def _told(session: Session, alert: Alert, notice: str) -> bool:
    query = select(AlertEvent.id).where(
        AlertEvent.alert_id == alert.id,
        AlertEvent.event == AlertEventType.NOTIFIED.value,
        AlertEvent.detail == f"{_TOLD}{notice}",
        col(AlertEvent.at) >= alert.opened_at,
    )
    return session.exec(query.limit(1)).first() is not None


def _insured(session: Session, account_id: str, as_of: date) -> Sequence[Employee]:
    """Everyone whose cover on the account is in force on `as_of`: enrolled, not left."""
    query = select(Employee).where(
        Employee.account_id == account_id,
        col(Employee.enrolled_on).is_not(None),
        col(Employee.enrolled_on) <= as_of,
        or_(col(Employee.leave_date).is_(None), col(Employee.leave_date) >= as_of),
    )
    return session.exec(query.order_by(col(Employee.employee_id))).all()


def _told_people(session: Session, alert: Alert) -> Sequence[Employee]:
    """Whom this episode's at-risk notice reached (or is reaching); one still held back is
    cancelled instead: nobody hears "restored" about a risk they were never told of."""
    prefix = _prefix(alert, AT_RISK)
    in_episode = and_(
        col(Delivery.idempotency_key) >= prefix, col(Delivery.idempotency_key) < prefix + "\uffff"
    )
    session.execute(
        update(Delivery)
        .where(in_episode, col(Delivery.state) == "pending")
        .values(state="cancelled", last_error="cover restored before it was sent")
    )
    reached = select(Delivery.employee_id).where(
        in_episode, col(Delivery.state).in_(("sent", "sending"))
    )
    query = select(Employee).where(col(Employee.employee_id).in_(reached.distinct()))
    return session.exec(query.order_by(col(Employee.employee_id))).all()


def _notify(
    session: Session,
    alert: Alert,
    notice: str,
    people: Sequence[Employee],
    *,
    now: datetime,
    routing: Routing,
) -> int:
    assert alert.id is not None
    prefix = _prefix(alert, notice)
    not_before = routing.quiet_hours.next_allowed(now, ZoneInfo(routing.timezone))
    preferences = preferred_locales(session)
    items: list[NewDelivery] = []
    for person in people:
        locale = chosen_locale(preferences.get(person.employee_id), person, routing.locale)
        payload = CoverNoticePayload(alert_id=alert.id, notice=notice, locale=locale)
        items += person_deliveries(
            person,
            addresses_in(person, locale, routing),
            key_prefix=prefix,
            payload=payload,
            not_before=not_before,
            now=now,
        )
    queued = enqueue(session, items, now=now)
    record(session, alert, AlertEventType.NOTIFIED, at=now, detail=f"{_TOLD}{notice}")
    return queued
