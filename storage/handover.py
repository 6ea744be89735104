"""The on-call hand-over: the incoming member hears, privately, that their shift has begun.

Once per shift: the idempotency key names the shift's first day and the member, so the daily
job, a second instance or a restart that runs a missed day again never sends it twice; a bot
that was down on the first day sends it on the next run within the shift.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from core.oncall import Rotation
from storage.employees import get_employee, locale_for
from storage.outbox import HandoverPayload, NewDelivery, enqueue
from storage.routing import UNREACHABLE, Routing, person_addresses


def queue_handover(
    session: Session, rotation: Rotation, *, today: date, now: datetime, routing: Routing
) -> int:
    """Queue the hand-over to whoever is on call `today` (their shift's notice, once);
    returns how many deliveries were new."""
    start = rotation.shift_start(today)
    member = rotation.on_call(today)
    person = get_employee(session, member) if member else None
    if start is None or person is None:
        return 0
    change = rotation.next_change(today)
    until = change[0] - timedelta(days=1) if change is not None else None
    prefix = f"oncall:{start.isoformat()}:{person.employee_id}:"
    not_before = routing.quiet_hours.next_allowed(now, ZoneInfo(routing.timezone))
    found = person_addresses(session, person, routing)
    items = [
        NewDelivery(
            idempotency_key=f"{prefix}{to.platform}:{to.address}",
            platform=to.platform,
            address=to.address,
            employee_id=person.employee_id,
            payload=HandoverPayload(start=start, until=until, locale=to.locale),
            not_before=not_before,
        )
        for to in found
    ]
    if not found:  # the start-up warning names them too (bot.wiring.routing_warnings)
        locale = locale_for(session, person, routing.locale)
        items.append(
            NewDelivery(
                idempotency_key=f"{prefix}{UNREACHABLE}:{person.employee_id}",
                platform=UNREACHABLE,
                address=person.employee_id,
                employee_id=person.employee_id,
                payload=HandoverPayload(start=start, until=until, locale=locale),
                not_before=now,
                state=UNREACHABLE,
            )
        )
    return enqueue(session, items, now=now)
