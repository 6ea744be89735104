"""Employees told privately when their cover is at risk, once, and once more when restored
(issue 14 item 6), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from core.alert_rules import RuleSettings
from core.locales import ZH_CN, ZH_HK
from core.periods import Period
from core.policy_loader import load_policies
from core.quiet_hours import QuietHours
from handlers.alert_render import render_delivery
from handlers.formatting import AccountNames
from handlers.i18n import translate
from storage.accounts import account_policies, sync_accounts
from storage.db import session_scope
from storage.employees import set_locale
from storage.ledger import period_dues, run_dues
from storage.models import Alert, Delivery, Employee, Payment
from storage.outbox import CoverNoticePayload, decode_payload, mark_sent
from storage.routing import UNREACHABLE, Routing
from storage.scan import run_scan

POLICIES = load_policies()
NAMES = AccountNames(policies=POLICIES)
PERIOD = Period(2026, 11)
"""Hangzhou's November dues: due 2026-11-16, cover suspended from 2026-12-01."""
ROUTING = Routing(
    platforms=("slack",),
    hr_groups={"slack": ("C_HR",)},
    quiet_hours=QuietHours.parse(""),
    owners={"hangzhou": ("HR1",)},
    notify_employees=True,
)
INSURED = {"HR1": ZH_CN, "E1": "en", "E2": ZH_HK}
"""Reachable and insured: each hears in their own language (E2 chose it with `lang`)."""


def _seed(engine: Engine) -> None:
    people = [
        # id, role, slack id, imported locale, enrolled, left
        ("HR1", "hr", "U_HR1", None, date(2025, 1, 1), None),
        ("E1", "employee", "U_E1", "en", date(2025, 1, 1), None),
        ("E2", "employee", "U_E2", None, date(2025, 1, 1), None),
        ("E3", "employee", None, None, date(2025, 1, 1), None),  # no Slack id
        ("E4", "employee", "U_E4", None, date(2025, 1, 1), date(2026, 11, 10)),  # left
        ("E5", "employee", "U_E5", None, None, None),  # never enrolled: no cover to lose
    ]
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["hangzhou"])
        for employee_id, role, slack, locale, enrolled, left in people:
            session.add(
                Employee(
                    employee_id=employee_id,
                    name=employee_id,
                    account_id="hangzhou",
                    hire_date=date(2025, 1, 1),
                    enrolled_on=enrolled,
                    leave_date=left,
                    salary=Decimal("12000"),
                    role=role,
                    slack_user_id=slack,
                    locale=locale,
                )
            )
        session.flush()
        set_locale(session, "E2", ZH_HK)
        run_dues(session, PERIOD, account_policies(session, POLICIES), now=_at(date(2026, 11, 1)))


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=2)


def _scan(engine: Engine, day: date, routing: Routing = ROUTING) -> None:
    run_scan(
        engine, as_of=day, now=_at(day), policies=POLICIES, rules=RuleSettings(), routing=routing
    )


def _notices(engine: Engine) -> list[tuple[Delivery, CoverNoticePayload]]:
    with session_scope(engine) as session:
        found = []
        for delivery in session.exec(select(Delivery).order_by(col(Delivery.id))):
            payload = decode_payload(delivery.payload)
            if isinstance(payload, CoverNoticePayload):
                session.expunge(delivery)
                found.append((delivery, payload))
        return found


def _texts(engine: Engine, notice: str) -> dict[str, str]:
    """What each employee is sent, as the dispatcher renders it."""
    texts = {}
    with session_scope(engine) as session:
        for delivery, payload in _notices(engine):
            if payload.notice == notice and delivery.platform == "slack":
                reply = render_delivery(session, delivery, names=NAMES)
                assert reply is not None and reply.card is None
                assert delivery.employee_id is not None
                texts[delivery.employee_id] = reply.text
    return texts


def test_each_insured_employee_is_told_once_privately_in_their_language(engine: Engine) -> None:
    _seed(engine)
    _scan(engine, date(2026, 11, 20))  # suspension 11 days ahead: beyond the 7-day warning
    assert _notices(engine) == []

    _scan(engine, date(2026, 11, 26))  # 5 days ahead: suspension_imminent opens
    told = _notices(engine)
    private = {
        (d.employee_id, d.platform, d.address, p.locale) for d, p in told if d.state == "pending"
    }
    assert private == {(e, "slack", f"U_{e}", locale) for e, locale in INSURED.items()}
    assert not any(d.is_group for d, _ in told)  # never in the HR channel
    assert [(d.employee_id, d.state) for d, _ in told if d.platform == UNREACHABLE] == [
        ("E3", UNREACHABLE)
    ]
    assert all(d.alert_id is None for d, _ in told)  # an HR ack never cancels them

    for day in (date(2026, 11, 26), date(2026, 11, 27), date(2026, 12, 4)):  # rescans, restart
        _scan(engine, day)
    assert len(_notices(engine)) == len(told)

    texts = _texts(engine, "at_risk")  # rendered on 12-04: cover suspended since 12-01
    with session_scope(engine) as session:
        alert = session.exec(select(Alert).where(Alert.kind == "suspension_imminent")).one()
        principal = str(alert.principal)
    for employee_id, locale in INSURED.items():
        account = POLICIES["hangzhou"].display_name(locale)
        expected = translate(
            locale, "cover_notice.suspended", account=account, suspension_on="2026-12-01"
        )
        assert texts[employee_id] == expected
        assert principal not in expected and "¥" not in expected  # never the amounts


def test_the_notice_before_the_date_says_at_risk(engine: Engine) -> None:
    _seed(engine)
    _scan(engine, date(2026, 11, 26))
    texts = _texts(engine, "at_risk")
    assert texts["E1"] == translate(
        "en", "cover_notice.at_risk", account="Hangzhou", suspension_on="2026-12-01"
    )
    assert "HR" in texts["E1"] and "receipts" in texts["E1"]


def test_restored_is_told_once_to_those_who_heard_of_the_risk(engine: Engine) -> None:
    _seed(engine)
    _scan(engine, date(2026, 12, 2))
    at_risk = _notices(engine)
    with session_scope(engine) as session:
        for delivery, _ in at_risk:
            if delivery.state == "pending" and delivery.employee_id != "E2":
                assert delivery.id is not None
                mark_sent(session, delivery.id, message_ref="ts", now=_at(date(2026, 12, 2)))
        (due,) = period_dues(session, PERIOD)
        session.add(
            Payment(
                account_id="hangzhou",
                period=str(PERIOD),
                amount=due.total,
                paid_on=date(2026, 12, 3),
            )
        )
    for day in (date(2026, 12, 3), date(2026, 12, 3), date(2026, 12, 4)):
        _scan(engine, day)
    restored = [(d, p) for d, p in _notices(engine) if p.notice == "restored"]
    # E2's notice was still held back: cancelled, and no "restored" about a risk never told.
    assert sorted(d.employee_id or "" for d, _ in restored) == ["E1", "HR1"]
    states = {d.employee_id: d.state for d, p in _notices(engine) if p.notice == "at_risk"}
    assert states["E2"] == "cancelled"
    texts = _texts(engine, "restored")
    assert texts["HR1"] == translate(ZH_CN, "cover_notice.restored", account="杭州")
    assert texts["E1"].startswith("About your social insurance: the company has paid")


def test_an_at_risk_notice_paid_off_before_it_went_out_is_not_sent(engine: Engine) -> None:
    _seed(engine)
    _scan(engine, date(2026, 11, 26))
    with session_scope(engine) as session:
        alert = session.exec(select(Alert).where(Alert.kind == "suspension_imminent")).one()
        alert.state = "resolved"
        delivery = session.exec(select(Delivery).where(Delivery.employee_id == "E1")).one()
        assert render_delivery(session, delivery, names=NAMES) is None


def test_off_unless_configured(engine: Engine) -> None:
    """`[alerts] notify_employees` is opt-in (false by default)."""
    _seed(engine)
    _scan(engine, date(2026, 12, 4), Routing(platforms=("slack",)))
    with session_scope(engine) as session:
        assert session.exec(select(Alert).where(Alert.kind == "suspension_imminent")).all()
    assert _notices(engine) == []
