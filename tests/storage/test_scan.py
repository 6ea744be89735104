"""Scan lifecycle on real databases: open, update, no duplicates, resolve, outbox rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.quiet_hours import QuietHours
from storage.alerts import acknowledge
from storage.db import session_scope
from storage.escalations import run_escalations
from storage.models import Alert, AlertEvent, Delivery, Payment
from storage.outbox import AlertPayload, decode_payload
from storage.routing import Routing
from storage.scan import run_scan
from tests.support.scan_company import POLICIES, ROUTING, RULES, scan, seed


def _level(delivery: Delivery) -> int | None:
    payload = decode_payload(delivery.payload)
    return payload.level if isinstance(payload, AlertPayload) else None


def test_due_soon_then_overdue_then_resolved(engine: Engine) -> None:
    seed(engine)
    alerts = scan(engine, date(2026, 10, 8))  # due 2026-10-15: 7 days ahead
    assert [(a.kind, a.state) for a in alerts] == [("due_soon", "open")]
    again = scan(engine, date(2026, 10, 8))
    assert len(again) == 1, "a re-scan updates, never duplicates"
    with session_scope(engine) as session:
        first_round = session.exec(select(Delivery)).all()
    # HR0 and HR1 on the console (no platform enabled), one stage: two deliveries, not four.
    assert sorted(d.address for d in first_round) == ["HR0", "HR1"]
    scan(engine, date(2026, 10, 12))  # 3 days ahead: a new stage re-notifies
    with session_scope(engine) as session:
        assert len(session.exec(select(Delivery)).all()) == 4

    alerts = scan(engine, date(2026, 10, 25))
    overdue = next(a for a in alerts if a.kind == "overdue")
    assert overdue.days_overdue == 10
    assert overdue.late_fee == (overdue.principal * Decimal("0.0005") * 10).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    assert next(a for a in alerts if a.kind == "due_soon").state == "resolved"

    with session_scope(engine) as session:
        total = session.exec(select(Alert).where(Alert.id == overdue.id)).one().principal
        session.add(
            Payment(
                account_id="beijing", period="2026-10", amount=total, paid_on=date(2026, 10, 26)
            )
        )
    alerts = scan(engine, date(2026, 10, 27))
    assert {a.kind: a.state for a in alerts}["overdue"] == "resolved"
    with session_scope(engine) as session:
        events = [
            e.event
            for e in session.exec(select(AlertEvent).where(AlertEvent.alert_id == overdue.id))
        ]
    assert events[0] == "opened" and events[-1] == "resolved"


def test_acknowledged_alert_stops_renotifying_and_escalation_goes_up(engine: Engine) -> None:
    seed(engine)
    scan(engine, date(2026, 10, 20))
    now = datetime(2026, 10, 20, 2, tzinfo=UTC)
    escalated = run_escalations(
        engine, now=now + timedelta(minutes=61), routing=ROUTING, after_minutes=60, max_levels=2
    )
    assert escalated, "an open alert unacknowledged for 60 minutes escalates"
    with session_scope(engine) as session:
        overdue = session.exec(select(Alert).where(Alert.kind == "overdue")).one()
        assert overdue.escalation_level == 1
        level_one = [d for d in session.exec(select(Delivery)) if _level(d) == 1]
        # Level 1: the managers of HR0/HR1 -> HR0 (HR1's manager).
        assert {d.address for d in level_one} == {"HR0"}
        assert acknowledge(
            session, overdue, by="HR0", via="console", at=now + timedelta(minutes=62)
        )
    assert (
        run_escalations(
            engine, now=now + timedelta(hours=5), routing=ROUTING, after_minutes=60, max_levels=2
        )
        == []
    )
    before = _count_deliveries(engine)
    scan(engine, date(2026, 10, 21))  # a new daily stage, but acknowledged: no re-notification
    assert _count_deliveries(engine) == before


def test_quiet_hours_hold_non_urgent_messages(engine: Engine) -> None:
    seed(engine)
    quiet = Routing(quiet_hours=QuietHours.parse("22:00-08:00"), timezone="Asia/Shanghai")
    # 2026-10-08 02:00 UTC is 10:00 in Shanghai: not quiet. Scan at 23:30 Shanghai instead.
    run_scan(
        engine,
        as_of=date(2026, 10, 8),
        now=datetime(2026, 10, 8, 15, 30, tzinfo=UTC),
        policies=POLICIES,
        rules=RULES,
        routing=quiet,
    )
    with session_scope(engine) as session:
        held = session.exec(select(Delivery)).all()
    assert held and all(d.next_attempt_at == datetime(2026, 10, 9, 0, 0, tzinfo=UTC) for d in held)


def _count_deliveries(engine: Engine) -> int:
    with session_scope(engine) as session:
        return len(session.exec(select(Delivery)).all())
