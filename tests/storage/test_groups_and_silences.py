"""Inhibition, group acknowledgement and silences through real scans and escalations, on
SQLite and PostgreSQL (issue 14 items 2 and 3)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.alerts import AlertKind
from core.silences import SilenceError, new_silence
from storage.alerts import acknowledge
from storage.audit import audit_entries
from storage.db import session_scope
from storage.escalations import run_escalations
from storage.models import Alert, AlertEvent, Delivery, Payment
from storage.silences import add_silence, remove_silence, silenced, silences_in_force
from tests.support.scan_company import ROUTING, scan, scan_time, seed

OVERDUE_DAY = date(2026, 10, 20)  # due 2026-10-15: overdue, suspension (10-30) 10 days away
SUSPENSION_DAY = date(2026, 10, 24)  # 6 days before the suspension: suspension_imminent opens
GROUP = "beijing:2026-10"


def _escalate(engine: Engine, now: datetime) -> list[int]:
    return run_escalations(engine, now=now, routing=ROUTING, after_minutes=60, max_levels=2)


def _by_kind(alerts: list[Alert]) -> dict[str, Alert]:
    return {alert.kind: alert for alert in alerts}


def _deliveries(engine: Engine, alert_id: int | None) -> list[Delivery]:
    with session_scope(engine) as session:
        return list(session.exec(select(Delivery).where(Delivery.alert_id == alert_id)))


def test_suspension_imminent_inhibits_its_groups_overdue(engine: Engine) -> None:
    seed(engine)
    overdue = _by_kind(scan(engine, OVERDUE_DAY))["overdue"]
    assert overdue.group_key == GROUP and overdue.inhibited_by is None
    sent_before = len(_deliveries(engine, overdue.id))
    assert sent_before, "overdue alone notifies"

    alerts = _by_kind(scan(engine, SUSPENSION_DAY))
    overdue, suspension = alerts["overdue"], alerts["suspension_imminent"]
    assert suspension.group_key == GROUP
    assert (overdue.state, overdue.inhibited_by) == ("open", suspension.id)
    # A new daily stage of the overdue alert, but inhibited: nothing new; the suspension notifies.
    assert len(_deliveries(engine, overdue.id)) == sent_before
    assert _deliveries(engine, suspension.id)
    with session_scope(engine) as session:
        details = session.exec(
            select(AlertEvent.detail).where(AlertEvent.alert_id == overdue.id)
        ).all()
    assert f"inhibited by #{suspension.id}" in details

    # Only the suspension escalates; the inhibited overdue alert stays where it was.
    assert _escalate(engine, scan_time(SUSPENSION_DAY) + timedelta(minutes=61)) == [suspension.id]


def test_acknowledging_the_highest_alert_covers_the_lower_one(engine: Engine) -> None:
    seed(engine)
    alerts = _by_kind(scan(engine, SUSPENSION_DAY))
    at = scan_time(SUSPENSION_DAY) + timedelta(minutes=5)
    with session_scope(engine) as session:
        suspension = session.get(Alert, alerts["suspension_imminent"].id)
        assert suspension is not None
        assert acknowledge(session, suspension, by="HR1", via="slack", at=at)
    with session_scope(engine) as session:
        overdue = session.get(Alert, alerts["overdue"].id)
        assert overdue is not None
        assert (overdue.state, overdue.acknowledged_by, overdue.acknowledged_via) == (
            "acknowledged",
            "HR1",
            "slack",
        )
        event = session.exec(
            select(AlertEvent).where(
                AlertEvent.alert_id == overdue.id, AlertEvent.event == "acknowledged"
            )
        ).one()
        assert event.detail == f"covered by #{suspension.id}"
    assert _escalate(engine, at + timedelta(hours=3)) == []


def test_acknowledging_a_lower_alert_does_not_cover_a_later_higher_one(engine: Engine) -> None:
    seed(engine)
    overdue = _by_kind(scan(engine, OVERDUE_DAY))["overdue"]
    with session_scope(engine) as session:
        row = session.get(Alert, overdue.id)
        assert row is not None
        assert acknowledge(session, row, by="HR0", via="console", at=scan_time(OVERDUE_DAY))

    suspension = _by_kind(scan(engine, SUSPENSION_DAY))["suspension_imminent"]
    assert suspension.state == "open" and suspension.acknowledged_by is None
    assert {d.address for d in _deliveries(engine, suspension.id)} == {"HR0", "HR1"}
    assert _escalate(engine, scan_time(SUSPENSION_DAY) + timedelta(minutes=61)) == [suspension.id]


def test_a_silence_mutes_until_it_ends_by_itself_and_escalation_resumes(engine: Engine) -> None:
    seed(engine)
    day = date(2026, 10, 8)  # due_soon (not urgent): an account silence covers it
    due_soon = _by_kind(scan(engine, day))["due_soon"]
    opened = scan_time(day)
    silence_start = opened + timedelta(minutes=10)
    with session_scope(engine) as session:
        silence = new_silence(now=silence_start, duration=timedelta(days=1), account_id="beijing")
        row = add_silence(
            session, silence, reason="bureau system down", by="HR0", via="cli", at=silence_start
        )
        silence_id = row.id
    end = silence_start + timedelta(days=1)
    # The first notices were still pending: held until the silence ends.
    assert {d.next_attempt_at for d in _deliveries(engine, due_soon.id)} == {end}

    with session_scope(engine) as session:
        alert = session.get(Alert, due_soon.id)
        assert alert is not None
        assert silenced(session, [alert], opened + timedelta(hours=2)) == {due_soon.id: end}
        assert silenced(session, [alert], end) == {}
        assert [r.id for r in silences_in_force(session, opened + timedelta(hours=2))] == [
            silence_id
        ]
        assert silences_in_force(session, end) == []
        [entry] = [e for e in audit_entries(session) if e.action == "silence.add"]
        assert (entry.actor, entry.via) == ("HR0", "cli")
        assert "account=beijing" in entry.detail and "bureau system down" in entry.detail

    assert _escalate(engine, opened + timedelta(hours=2)) == []
    before = len(_deliveries(engine, due_soon.id))
    # Ended by itself: the clock restarts at its end, then escalation resumes.
    assert _escalate(engine, end + timedelta(minutes=30)) == []
    assert _escalate(engine, end + timedelta(minutes=61)) == [due_soon.id]
    assert len(_deliveries(engine, due_soon.id)) > before


def test_a_silenced_alert_skips_its_new_stage_and_sends_it_after(engine: Engine) -> None:
    seed(engine)
    due_soon = _by_kind(scan(engine, date(2026, 10, 8)))["due_soon"]
    first = len(_deliveries(engine, due_soon.id))
    start = scan_time(date(2026, 10, 11))
    with session_scope(engine) as session:
        silence = new_silence(now=start, duration=timedelta(days=2), kind=AlertKind.DUE_SOON)
        add_silence(session, silence, reason="", by="HR0", via="cli", at=start)
    scan(engine, date(2026, 10, 12))  # the 3-day reminder, silenced: nothing queued
    assert len(_deliveries(engine, due_soon.id)) == first
    scan(engine, date(2026, 10, 13))  # the silence ended at this scan's time: now it goes
    assert len(_deliveries(engine, due_soon.id)) == 2 * first


def test_urgent_alerts_ignore_an_account_silence_but_not_a_kind_silence(engine: Engine) -> None:
    seed(engine)
    start = scan_time(OVERDUE_DAY) - timedelta(minutes=5)
    with session_scope(engine) as session:
        account = new_silence(now=start, duration=timedelta(days=3), account_id="beijing")
        add_silence(session, account, reason="holiday", by="HR0", via="cli", at=start)
    overdue = _by_kind(scan(engine, OVERDUE_DAY))["overdue"]
    assert _deliveries(engine, overdue.id), "an account silence leaves overdue alone"

    with session_scope(engine) as session:
        kind = new_silence(
            now=start, duration=timedelta(days=3), account_id="beijing", kind=AlertKind.OVERDUE
        )
        add_silence(session, kind, reason="bank holiday", by="HR0", via="cli", at=start)
        alert = session.get(Alert, overdue.id)
        assert alert is not None
        assert overdue.id in silenced(session, [alert], scan_time(OVERDUE_DAY))


def test_removing_a_silence_releases_what_it_held_and_is_audited(engine: Engine) -> None:
    seed(engine)
    day = date(2026, 10, 8)
    due_soon = _by_kind(scan(engine, day))["due_soon"]
    start = scan_time(day) + timedelta(minutes=1)
    with session_scope(engine) as session:
        silence = new_silence(now=start, duration=timedelta(days=2), alert_id=due_soon.id)
        silence_id = add_silence(session, silence, reason="", by="HR0", via="cli", at=start).id
    assert silence_id is not None
    later = start + timedelta(hours=1)
    with session_scope(engine) as session:
        remove_silence(session, silence_id, by="HR1", via="slack", at=later)
        assert [e.actor for e in audit_entries(session) if e.action == "silence.remove"] == ["HR1"]
    assert {d.next_attempt_at for d in _deliveries(engine, due_soon.id)} == {later}
    with session_scope(engine) as session, pytest.raises(SilenceError, match="no silence #"):
        remove_silence(session, silence_id, by="HR1", via="slack", at=later)


def test_inhibition_lasts_while_the_suspension_alert_does(engine: Engine) -> None:
    seed(engine)
    scan(engine, SUSPENSION_DAY)
    alerts = scan(engine, date(2026, 11, 5))  # suspended since 10-30, still unpaid
    assert {a.group_key for a in alerts} == {GROUP}
    assert [a.kind for a in alerts if a.inhibited_by is not None] == ["overdue"]
    owed = next(a.principal for a in alerts if a.kind == "overdue")
    with session_scope(engine) as session:
        session.add(
            Payment(account_id="beijing", period="2026-10", amount=owed, paid_on=date(2026, 11, 5))
        )
    alerts = scan(engine, date(2026, 11, 6))
    assert [(a.state, a.inhibited_by) for a in alerts] == [("resolved", None)] * 2
