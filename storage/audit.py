"""The audit log: who viewed whose personal data, and who changed what (`coverwatch audit`).

One table for every writer: chat commands (HR's `who`, `enroll`, `leave`), ledger changes and
the API (the token's name as actor). Entries are added in the caller's transaction, so a change
and its audit entry are committed, or rolled back, together. Alert transitions keep their own
trail (`alert_event`); this log is about people's data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import insert, or_
from sqlmodel import Session, col, select

from storage.models import AuditEntry

VIEW = "view"
"""The action of an access to someone's personal data; every other action is a change.

What counts (docs/SECURITY.md, "Access log"): an answer, document or file that shows a named
person's cover status, contribution base, contributions or id number to someone else: chat
`who` and `alerts` (an employee's enrolment alert), the CLI's `ask --as`, `alerts`,
`dues --json` and `report dues`, the API's GETs of dues, alerts and coverage. One's own
answers, account and department totals and pushed notifications (their deliveries are in
the alert's own trail, `alert_event`) are not views."""


def record_audit(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str | None = None,
    detail: str = "",
    via: str | None = None,
) -> AuditEntry:
    """Add one entry to the session's transaction.

    `actor` is an employee id or a job's/token's name; `action` a short verb (`view`,
    `enroll`, `leave`, `payments.write`…); `subject` the employee concerned; `via` where it
    came from (a chat platform, `cli`, `api`). `detail` must not hold id numbers or salaries.
    """
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    entry = AuditEntry(at=at, actor=actor, action=action, subject=subject, detail=detail, via=via)
    session.add(entry)
    return entry


def record_audits(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    subjects: Sequence[str | None],
    detail: str = "",
    via: str | None = None,
) -> None:
    """`record_audit` for one change to many people (an API batch of 10,000 employees): one
    executemany instead of an ORM object per entry, three times faster at that size."""
    if not actor or not action:
        raise ValueError("an audit entry needs an actor and an action")
    if subjects:
        session.execute(
            insert(AuditEntry),
            [
                {"at": at, "actor": actor, "action": action, "subject": subject,
                 "detail": detail, "via": via}
                for subject in subjects
            ],
        )  # fmt: skip


def record_views(
    session: Session,
    *,
    at: datetime,
    actor: str,
    subjects: Iterable[str | None],
    detail: str,
    via: str,
) -> int:
    """One `view` entry per person shown to `actor` (each once, in the order first shown;
    the actor's own data is no view); how many. `detail` names the command, never data."""
    others = [s for s in dict.fromkeys(subjects) if s is not None and s != actor]
    record_audits(session, at=at, actor=actor, action=VIEW, subjects=others, detail=detail, via=via)
    return len(others)


def audit_entries(
    session: Session, *, employee: str | None = None, since: datetime | None = None
) -> Sequence[AuditEntry]:
    """Entries oldest first; `employee` matches the actor or the subject, `since` is inclusive."""
    query = select(AuditEntry)
    if employee is not None:
        query = query.where(
            or_(col(AuditEntry.actor) == employee, col(AuditEntry.subject) == employee)
        )
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    return session.exec(query.order_by(col(AuditEntry.at), col(AuditEntry.id))).all()
