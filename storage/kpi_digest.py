"""The monthly KPI digest in the outbox: one delivery per recipient, platform and month.

Each manager gets their department's digest and each HR person the company's, on every
enabled chat platform where they have an id (the console when none is enabled), plus the HR
groups. The payload only names what to render (`storage.outbox.DigestPayload`); the text and
chart are drawn at send time in the recipient's language. The idempotency key
`kpi_digest:<period>:<recipient>:<platform>` makes a re-run of the job a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.periods import Period
from storage.models import Employee
from storage.outbox import DIGEST, DigestPayload, NewDelivery
from storage.routing import Address, Routing, group_addresses, person_addresses


def digest_recipients(session: Session) -> list[tuple[Employee, str | None]]:
    """(person, department) for every manager with a department; (person, None) for HR."""
    query = select(Employee).where(col(Employee.role).in_(("manager", "hr")))
    people = session.exec(query.order_by(Employee.employee_id)).all()
    return [
        (person, person.department if person.role == "manager" else None)
        for person in people
        if person.role == "hr" or person.department
    ]


def _key(period: Period, to: Address) -> str:
    """One digest per recipient (an employee, or `group:<id>`), platform and month."""
    who = to.employee_id or f"group:{to.address}"
    return f"{DIGEST}:{period}:{who}:{to.platform}"


def digest_deliveries(
    session: Session,
    period: Period,
    *,
    routing: Routing,
    now: datetime,
    sla_minutes: int,
    targets: Mapping[str, Decimal],
) -> list[NewDelivery]:
    """The period's digest deliveries, held back by quiet hours (a digest is never urgent)."""
    not_before = routing.quiet_hours.next_allowed(now, ZoneInfo(routing.timezone))
    scoped = [
        (to, department)
        for person, department in digest_recipients(session)
        for to in person_addresses(session, person, routing)
    ]
    scoped += [(to, None) for to in group_addresses(routing)]
    return [
        NewDelivery(
            idempotency_key=_key(period, to),
            platform=to.platform,
            address=to.address,
            is_group=to.employee_id is None,
            employee_id=to.employee_id,
            payload=DigestPayload(
                period=period,
                as_of=now,
                sla_minutes=sla_minutes,
                targets=targets,
                department=department,
                locale=to.locale,
            ),
            not_before=not_before,
        )
        for to, department in scoped
    ]
