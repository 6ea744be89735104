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
from storage.outbox import HandoverPayload, enqueue
from storage.routing import Routing, addresses_in, person_deliveries


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
    locale = locale_for(session, person, routing.locale)
    # No address: an `unreachable` row; the start-up warning names them too
    # (bot.wiring.routing_warnings).
    items = person_deliveries(
        person,
        addresses_in(person, locale, routing),
        key_prefix=prefix,
        payload=HandoverPayload(start=start, until=until, locale=locale),
        not_before=not_before,
        now=now,
    )
    return enqueue(session, items, now=now)
