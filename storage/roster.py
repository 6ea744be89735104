"""HR's changes to one employee from chat: enrolment (增员) and leaving (减员), each audited.

Each change writes the employee row and its audit entry in the caller's transaction and
returns what the value was before, so the chat can confirm it and say how to undo it: an undo
is the same change with the old value (`None` clears it), audited as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from core.alerts import AlertKind, AlertState, dedupe_key
from core.periods import Period
from storage.alerts import resolve
from storage.audit import record_audit
from storage.models import Alert, Employee, LedgerLine

ENROLL = "enroll"
LEAVE = "leave"


@dataclass(frozen=True, kw_only=True)
class RosterChange:
    employee: Employee
    field: str
    before: date | None
    after: date | None
    resolved_alert: int | None = None
    """The enrolment alert this change resolved, if any."""


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who makes a change and from where, for the audit log."""

    employee_id: str
    via: str
    at: datetime


def set_enrolment(
    session: Session, employee: Employee, enrolled_on: date | None, *, actor: Actor
) -> RosterChange:
    """Record (or, with None, withdraw) an enrolment; an enrolment resolves its alert."""
    before = employee.enrolled_on
    employee.enrolled_on = enrolled_on
    session.add(employee)
    resolved = None
    if enrolled_on is not None:
        resolved = _resolve_enrolment_alert(session, employee.employee_id, actor)
    _audit(session, actor, ENROLL, employee.employee_id, "enrolled_on", before, enrolled_on)
    return RosterChange(
        employee=employee,
        field="enrolled_on",
        before=before,
        after=enrolled_on,
        resolved_alert=resolved,
    )


def set_leave(
    session: Session, employee: Employee, leave_date: date | None, *, actor: Actor
) -> RosterChange:
    """Record (or, with None, withdraw) a leave date: no dues after its month."""
    before = employee.leave_date
    employee.leave_date = leave_date
    session.add(employee)
    _audit(session, actor, LEAVE, employee.employee_id, "leave_date", before, leave_date)
    return RosterChange(employee=employee, field="leave_date", before=before, after=leave_date)


def ledger_periods_after(session: Session, employee_id: str, period: Period) -> list[Period]:
    """Periods after `period` whose dues were already computed for the employee."""
    query = (
        select(LedgerLine.period)
        .where(LedgerLine.employee_id == employee_id)
        .where(col(LedgerLine.period) > str(period))
        .distinct()
    )
    return sorted(Period.parse(text) for text in session.exec(query))


def _resolve_enrolment_alert(session: Session, employee_id: str, actor: Actor) -> int | None:
    key = dedupe_key(AlertKind.ENROLLMENT_DEADLINE, employee_id=employee_id)
    alert = session.exec(select(Alert).where(Alert.dedupe_key == key)).first()
    if alert is None or alert.state == AlertState.RESOLVED:
        return None
    resolve(session, alert, at=actor.at, reason=f"enrolled by {actor.employee_id}")
    return alert.id


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    subject: str,
    field: str,
    before: date | None,
    after: date | None,
) -> None:
    def shown(value: date | None) -> str:
        return "-" if value is None else value.isoformat()

    record_audit(
        session,
        at=actor.at,
        actor=actor.employee_id,
        action=action,
        subject=subject,
        detail=f"{field} {shown(before)} -> {shown(after)}",
        via=actor.via,
    )
