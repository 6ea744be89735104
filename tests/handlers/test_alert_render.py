"""Every alert kind renders in both languages with its figures, consequence and buttons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.alert_rules import RuleSettings
from core.periods import Period
from core.policy_loader import load_policies
from handlers.alert_render import render_alert, render_delivery
from storage.accounts import account_policies, sync_accounts
from storage.alerts import acknowledge
from storage.db import make_engine, session_scope, upgrade
from storage.ledger import run_dues
from storage.models import Alert, Balance, Delivery, Employee
from storage.routing import Routing
from storage.scan import run_scan

POLICIES = load_policies()
NOW = datetime(2026, 10, 30, 2, tzinfo=UTC)


@pytest.fixture
def scanned(sqlite_url: str) -> Engine:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing"])
        for emp_id, role, enrolled in [("HR1", "hr", date(2025, 1, 1)), ("N1", "employee", None)]:
            session.add(
                Employee(
                    employee_id=emp_id,
                    name=f"张{emp_id}",
                    account_id="beijing",
                    hire_date=date(2026, 10, 5) if enrolled is None else date(2025, 1, 1),
                    enrolled_on=enrolled,
                    salary=Decimal("12000"),
                    role=role,
                )
            )
        session.add(
            Balance(account_id="beijing", as_of=date(2026, 10, 1), balance=Decimal("100.00"))
        )
        session.flush()
        accounts = account_policies(session, POLICIES)
        run_dues(session, Period(2026, 10), accounts, now=NOW)
        run_dues(session, Period(2026, 11), accounts, now=NOW)
    run_scan(
        engine,
        as_of=date(2026, 10, 30),
        now=NOW,
        policies=POLICIES,
        rules=RuleSettings(),
        routing=Routing(),
    )
    return engine


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_each_kind_renders_with_figures(scanned: Engine, locale: str) -> None:
    with session_scope(scanned) as session:
        alerts = session.exec(select(Alert)).all()
        kinds = {a.kind for a in alerts}
        assert {"overdue", "suspension_imminent", "enrollment_deadline", "funding_gap"} <= kinds
        for alert in alerts:
            reply = render_alert(session, alert, locale=locale)
            assert reply.card is not None
            assert [b.action for b in reply.card.buttons] == ["ack", "snooze"]
            assert reply.card.buttons[0].value == str(alert.id)
            assert "{" not in reply.text and len(reply.text.splitlines()) >= 4
            if alert.kind == "overdue":
                assert "0.05" in reply.text and str(alert.late_fee) in reply.text
                assert alert.suspension_on is not None
                assert alert.suspension_on.isoformat() in reply.text


def test_acknowledged_alert_shows_who_and_is_not_sent_again(scanned: Engine) -> None:
    with session_scope(scanned) as session:
        alert = session.exec(select(Alert).where(Alert.kind == "overdue")).one()
        acknowledge(session, alert, by="HR1", via="slack", at=NOW)
        reply = render_alert(session, alert, locale="en")
        assert reply.card is not None and reply.card.buttons == ()
        assert "Acknowledged by 张HR1 (HR1)" in reply.text and "via slack" in reply.text
        delivery = session.exec(select(Delivery).where(Delivery.alert_id == alert.id)).first()
        assert delivery is not None
        assert render_delivery(session, delivery) is None
