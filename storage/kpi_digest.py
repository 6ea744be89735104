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
from storage.employees import locale_for, platform_address
from storage.models import Employee
from storage.outbox import DIGEST, DigestPayload, NewDelivery
from storage.routing import Routing


def digest_recipients(session: Session) -> list[tuple[Employee, str | None]]:
    """(person, department) for every manager with a department; (person, None) for HR."""
    query = select(Employee).where(col(Employee.role).in_(("manager", "hr")))
    people = session.exec(query.order_by(Employee.employee_id)).all()
    return [
        (person, person.department if person.role == "manager" else None)
        for person in people
        if person.role == "hr" or person.department
    ]


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
    items: list[NewDelivery] = []

    def add(platform: str, address: str, who: str, department: str | None, locale: str) -> None:
        items.append(
            NewDelivery(
                idempotency_key=f"{DIGEST}:{period}:{who}:{platform}",
                platform=platform,
                address=address,
                is_group=who.startswith("group:"),
                employee_id=None if who.startswith("group:") else who,
                payload=DigestPayload(
                    period=period,
                    as_of=now,
                    sla_minutes=sla_minutes,
                    targets=targets,
                    department=department,
                    locale=locale,
                ),
                not_before=not_before,
            )
        )

    for person, department in digest_recipients(session):
        locale = locale_for(session, person, routing.locale)
        for platform in routing.chat_platforms:
            address = platform_address(person, platform)
            if address:
                add(platform, address, person.employee_id, department, locale)
    for platform, groups in routing.hr_groups.items():
        for group in groups:
            add(platform, group, f"group:{group}", None, routing.locale)
    return items
