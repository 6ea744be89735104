"""Escalation: an open alert nobody acknowledged moves one level up, at most N levels.

Not while it is inhibited (its group's more serious alert escalates instead), snoozed or
silenced; after a snooze or a silence the clock restarts at its end (`core.escalation`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.alerts import AlertEventType, AlertState
from core.escalation import escalation_due
from storage.alerts import record
from storage.db import session_scope
from storage.models import Alert
from storage.outbox import enqueue
from storage.routing import Routing, deliveries_for, recipients_at
from storage.silences import quiet_until, silence_rules


def run_escalations(
    engine: Engine, *, now: datetime, routing: Routing, after_minutes: int, max_levels: int
) -> list[int]:
    """Escalate every due alert; returns the ids escalated."""
    escalated: list[int] = []
    with session_scope(engine) as session:
        rules = silence_rules(session)
        for alert in session.exec(select(Alert).where(Alert.state == AlertState.OPEN.value)):
            if alert.inhibited_by is not None:  # its group's more serious alert escalates
                continue
            if not escalation_due(
                opened_at=alert.opened_at,
                last_escalated_at=alert.last_escalated_at,
                level=alert.escalation_level,
                now=now,
                after_minutes=after_minutes,
                max_levels=max_levels,
                snoozed_until=quiet_until(rules, alert, now),
            ):
                continue
            alert.escalation_level += 1
            alert.last_escalated_at = now
            session.add(alert)
            today = now.astimezone(ZoneInfo(routing.timezone)).date()
            people = recipients_at(session, alert, alert.escalation_level, routing, today=today)
            record(
                session,
                alert,
                AlertEventType.ESCALATED,
                at=now,
                detail=f"level {alert.escalation_level}: "
                + ",".join(p.employee_id for p in people),
            )
            stage = f"escalation-{alert.escalation_level}"
            enqueue(
                session,
                deliveries_for(
                    session,
                    alert,
                    stage=stage,
                    level=alert.escalation_level,
                    routing=routing,
                    now=now,
                    people=people,
                ),
                now=now,
            )
            assert alert.id is not None
            escalated.append(alert.id)
    return escalated
