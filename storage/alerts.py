"""Alert rows: scope, acknowledgement, snooze, installment plans and the audit trail.

Every state change goes through `core.alerts.transition` and writes an `alert_event` row in
the same transaction, so the audit trail and the alert can never disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from core.alert_groups import Member, covered_by, inhibitors
from core.alerts import COMPANY_KINDS, AlertEventType, AlertKind, AlertState, transition
from core.installments import PlanQuote, quote_plan
from core.periods import Period
from storage.accounts import AccountPolicy
from storage.employees import COMPANY_ROLES, Person
from storage.ledger import period_dues
from storage.models import Alert, AlertEvent, Delivery, Employee, Installment
from storage.payments import payments_by_account_period

VISIBLE_STATES = (AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value)


def record(
    session: Session,
    alert: Alert,
    event: AlertEventType,
    *,
    at: datetime,
    actor: str | None = None,
    platform: str | None = None,
    detail: str = "",
) -> None:
    assert alert.id is not None
    session.add(
        AlertEvent(
            alert_id=alert.id,
            at=at,
            event=event.value,
            actor=actor,
            platform=platform,
            detail=detail,
        )
    )


@dataclass(frozen=True, kw_only=True)
class Delivered:
    """One sent delivery of an alert, for its audit trail."""

    alert_id: int
    platform: str
    actor: str | None
    detail: str


def record_delivered(session: Session, delivered: Sequence[Delivered], *, at: datetime) -> None:
    """A `delivered` event for each, as `record` writes it, skipping alerts no longer stored:
    one look-up and one `executemany` on the session's connection, no ORM objects (the
    dispatcher records every send; docs/PERFORMANCE.md, fanout_10k)."""
    if not delivered:
        return
    connection = session.connection()
    ids = {item.alert_id for item in delivered}
    stored = set(connection.execute(select(col(Alert.id)).where(col(Alert.id).in_(ids))).scalars())
    rows = [
        {
            "alert_id": item.alert_id,
            "at": at,
            "event": AlertEventType.DELIVERED.value,
            "actor": item.actor,
            "platform": item.platform,
            "detail": item.detail,
        }
        for item in delivered
        if item.alert_id in stored
    ]
    if rows:
        connection.execute(insert(AlertEvent.__table__), rows)  # type: ignore[attr-defined]


def get_alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def visible_alerts(session: Session) -> Sequence[Alert]:
    """Open and acknowledged alerts, newest first (`coverwatch alerts`)."""
    query = select(Alert).where(col(Alert.state).in_(VISIBLE_STATES))
    return session.exec(query.order_by(col(Alert.id).desc())).all()


def sending_alerts(session: Session) -> Sequence[Alert]:
    """Open alerts no group alert inhibits, oldest first: the ones whose notices still render
    (`handlers.alert_render` drops an inhibited alert's deliveries)."""
    query = select(Alert).where(
        Alert.state == AlertState.OPEN.value, col(Alert.inhibited_by).is_(None)
    )
    return session.exec(query.order_by(col(Alert.id))).all()


def _department_accounts(session: Session, department: str) -> set[str]:
    query = select(Employee.account_id).where(Employee.department == department).distinct()
    return set(session.exec(query).all())


def in_scope(session: Session, employee: Person, alert: Alert) -> bool:
    """HR/finance: every alert. Managers: alerts about their department, its people or the
    accounts their people are insured on. Employees: none."""
    if employee.role in COMPANY_ROLES:
        return True
    if employee.role != "manager":
        return False
    if alert.department is not None:
        return alert.department == employee.department
    if alert.employee_id is not None:
        subject = session.get(Employee, alert.employee_id)
        return subject is not None and (
            subject.department == employee.department or subject.manager_id == employee.employee_id
        )
    if alert.account_id is not None:
        return alert.account_id in _department_accounts(session, employee.department)
    return False


def may_act(
    session: Session,
    employee: Person,
    alert: Alert,
    owners: Mapping[str, Collection[str]],
) -> bool:
    """Whether `employee` may acknowledge or snooze `alert` (issue 14 item 5).

    Seeing is wider than acting: a manager sees the accounts their people are insured on, but
    acknowledging a company-wide alert stops its escalation to HR, so only HR, finance and the
    account's owners (`[accounts.<id>] owners`) may. A manager acts on alerts about their own
    department or their reports (enrolment deadlines, the department's KPI).
    """
    if employee.role in COMPANY_ROLES:
        return True
    if not in_scope(session, employee, alert):
        return False
    company_wide = AlertKind(alert.kind) in COMPANY_KINDS or (
        alert.employee_id is None and alert.department is None
    )
    if company_wide:
        return alert.account_id is not None and employee.employee_id in owners.get(
            alert.account_id, ()
        )
    return True


def alerts_in_scope(session: Session, employee: Person) -> list[Alert]:
    return [alert for alert in visible_alerts(session) if in_scope(session, employee, alert)]


def acknowledge(session: Session, alert: Alert, *, by: str, via: str, at: datetime) -> bool:
    """Acknowledge an open alert; False when it is not open. Pending re-notifications stop.

    A compare-and-set (`UPDATE … WHERE state = 'open'`): of two people acknowledging at the same
    moment on different platforms exactly one wins and writes the one `acknowledged` event; the
    other gets False and `alert` refreshed to name the winner. The row lock the UPDATE takes
    makes the loser wait for the winner's commit and then see the alert no longer open.

    The group's most serious open alert covers the lesser open ones of its group
    (`core.alert_groups.covered_by`): they are acknowledged with it, by the same person.
    """
    assert alert.id is not None
    members = _group_members(session, alert)
    if not _take(session, alert, by=by, via=via, at=at):
        return False
    mine = next((m for m in members if m.id == alert.id), None)
    for covered_id in covered_by(mine, members) if mine is not None else []:
        covered = session.get(Alert, covered_id)
        if covered is not None:
            _take(session, covered, by=by, via=via, at=at, detail=f"covered by #{alert.id}")
    return True


def covered_with(session: Session, alert: Alert) -> list[Alert]:
    """The lesser alerts of `alert`'s group its acknowledgement covered (see `acknowledge`):
    acknowledged by the same person at the same moment, so their sent cards can show it too."""
    if alert.group_key is None or alert.acknowledged_at is None:
        return []
    query = select(Alert).where(
        col(Alert.group_key) == alert.group_key,
        col(Alert.id) != alert.id,
        col(Alert.state) == AlertState.ACKNOWLEDGED.value,
        col(Alert.acknowledged_by) == alert.acknowledged_by,
        col(Alert.acknowledged_at) == alert.acknowledged_at,
    )
    return list(session.exec(query.order_by(col(Alert.id))))


def _group_members(session: Session, alert: Alert) -> list[Member]:
    """The active alerts of `alert`'s group as the group rules see them (none without a group)."""
    if alert.group_key is None:
        return []
    query = select(Alert).where(
        col(Alert.group_key) == alert.group_key, col(Alert.state).in_(VISIBLE_STATES)
    )
    return [_member(found) for found in session.exec(query)]


def _member(alert: Alert) -> Member:
    assert alert.id is not None and alert.group_key is not None
    return Member(
        id=alert.id,
        kind=AlertKind(alert.kind),
        group=alert.group_key,
        state=AlertState(alert.state),
    )


def _take(
    session: Session, alert: Alert, *, by: str, via: str, at: datetime, detail: str = ""
) -> bool:
    """The compare-and-set of `acknowledge` for one alert, with its event."""
    target = transition(AlertState.OPEN, AlertState.ACKNOWLEDGED).value
    won = session.execute(
        update(Alert)
        .where(col(Alert.id) == alert.id, col(Alert.state) == AlertState.OPEN.value)
        .values(
            state=target,
            acknowledged_by=by,
            acknowledged_at=at,
            acknowledged_via=via,
            updated_at=at,
        )
        .returning(col(Alert.id))  # not `rowcount`: psycopg may report -1 (storage/events.py)
        .execution_options(synchronize_session=False)
    ).first()
    session.refresh(alert)
    if won is None:
        return False
    record(
        session, alert, AlertEventType.ACKNOWLEDGED, at=at, actor=by, platform=via, detail=detail
    )
    cancel_pending(session, alert, reason="alert acknowledged")
    return True


def cancel_pending(session: Session, alert: Alert, *, reason: str) -> None:
    """Deliveries of `alert` not sent yet will not be: it was acknowledged or inhibited."""
    session.execute(
        update(Delivery)
        .where(col(Delivery.alert_id) == alert.id, col(Delivery.state) == "pending")
        .values(state="cancelled", last_error=reason)
    )


def apply_inhibitions(session: Session, *, at: datetime) -> None:
    """Mark which debt alerts are inhibited now (`core.alert_groups.inhibitors`); a newly
    inhibited one sends nothing more. Its event names the alert that inhibits it."""
    query = select(Alert).where(
        col(Alert.group_key).is_not(None), col(Alert.state).in_(VISIBLE_STATES)
    )
    alerts = list(session.exec(query))
    found = inhibitors(_member(alert) for alert in alerts)
    for alert in alerts:
        source = found.get(alert.id or 0)
        if source == alert.inhibited_by:
            continue
        alert.inhibited_by = source
        session.add(alert)
        if source is None:
            record(session, alert, AlertEventType.UPDATED, at=at, detail="no longer inhibited")
            continue
        record(session, alert, AlertEventType.UPDATED, at=at, detail=f"inhibited by #{source}")
        cancel_pending(session, alert, reason=f"alert inhibited by #{source}")


def snooze(
    session: Session, alert: Alert, *, by: str, via: str, until: datetime, at: datetime
) -> None:
    """Pause re-notification and escalation of an alert until `until`."""
    alert.snoozed_until = until
    alert.updated_at = at
    session.add(alert)
    record(
        session,
        alert,
        AlertEventType.SNOOZED,
        at=at,
        actor=by,
        platform=via,
        detail=until.isoformat(),
    )
    session.execute(
        update(Delivery)
        .where(col(Delivery.alert_id) == alert.id, col(Delivery.state) == "pending")
        .where(col(Delivery.next_attempt_at) < until)
        .values(next_attempt_at=until)
    )


def resolve(session: Session, alert: Alert, *, at: datetime, reason: str) -> None:
    alert.state = transition(AlertState(alert.state), AlertState.RESOLVED).value
    alert.inhibited_by = None  # nothing left to mute
    alert.resolved_at = at
    alert.updated_at = at
    session.add(alert)
    record(session, alert, AlertEventType.RESOLVED, at=at, detail=reason)


@dataclass(frozen=True)
class PlanResult:
    alert: Alert
    quote: PlanQuote


def create_plan(
    session: Session,
    alert: Alert,
    count: int,
    *,
    by: str,
    at: datetime,
    today: date,
    accounts: Mapping[str, AccountPolicy],
) -> PlanResult:
    """Split an overdue alert's outstanding amount into `count` installments (replaces a plan).

    Raises `core.installments.PlanError` (a user-facing message) when it cannot be made.
    """
    if alert.account_id is None or alert.period is None or alert.due_date is None:
        raise ValueError("only an account-period alert can be paid in installments")
    if alert.suspension_on is None:
        raise ValueError("the alert has no suspension date")
    account = accounts[alert.account_id]
    payments = payments_by_account_period(session, alert.account_id).get(
        (alert.account_id, alert.period), []
    )
    due = next(
        d
        for d in period_dues(session, Period.parse(alert.period))
        if d.account_id == alert.account_id
    )
    quote = quote_plan(
        account.policy,
        principal=due.total,
        due_date=due.due_date,
        payments=payments,
        today=today,
        suspension_on=alert.suspension_on,
        count=count,
    )
    for old in session.exec(select(Installment).where(Installment.alert_id == alert.id)):
        session.delete(old)
    session.flush()
    assert alert.id is not None
    for part in quote.installments:
        session.add(
            Installment(
                alert_id=alert.id,
                seq=part.seq,
                due_on=part.due_on,
                amount=part.amount,
                created_by=by,
            )
        )
    record(session, alert, AlertEventType.UPDATED, at=at, actor=by, detail=f"plan {count}")
    return PlanResult(alert=alert, quote=quote)


def installments(session: Session, alert_id: int) -> Sequence[Installment]:
    query = select(Installment).where(Installment.alert_id == alert_id)
    return session.exec(query.order_by(col(Installment.seq))).all()
