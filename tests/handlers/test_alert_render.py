"""Every alert kind renders in both languages with its figures, consequence and buttons."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.alert_rules import RuleSettings
from core.locales import ZH_CN
from core.periods import Period
from core.policy_loader import load_policies
from handlers.alert_render import render_alert, render_delivery
from handlers.formatting import AccountNames
from handlers.i18n import translate
from storage.accounts import account_policies, sync_accounts
from storage.alerts import acknowledge
from storage.db import make_engine, session_scope, upgrade
from storage.ledger import run_dues
from storage.models import Alert, Balance, Delivery, Employee
from storage.routing import Routing
from storage.scan import run_scan
from tests.support.company import seed
from tests.support.databases import Migrated

POLICIES = load_policies()
NOW = datetime(2026, 10, 30, 2, tzinfo=UTC)


@pytest.fixture
def scanned(sqlite_url: str, migrated: Migrated) -> Engine:
    engine = migrated(sqlite_url)
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


@pytest.mark.parametrize("locale", [ZH_CN, "en"])
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
        # Not the overdue alert: the suspension alert of its month inhibits it (nothing queued).
        query = select(Alert).where(Alert.kind == "suspension_imminent")
        alert = session.exec(query).one()
        acknowledge(session, alert, by="HR1", via="slack", at=NOW)
        reply = render_alert(session, alert, locale="en")
        assert reply.card is not None and reply.card.buttons == ()
        assert "Acknowledged by 张HR1 (HR1)" in reply.text and "via slack" in reply.text
        delivery = session.exec(select(Delivery).where(Delivery.alert_id == alert.id)).first()
        assert delivery is not None
        assert render_delivery(session, delivery) is None


@pytest.mark.parametrize("locale", [ZH_CN, "en"])
def test_hk_warnings_threaten_no_suspension(
    sqlite_url: str, locale: str, migrated: Migrated
) -> None:
    """Hong Kong MPF has no cover to suspend: months overdue raise no suspension_imminent,
    and the overdue, due-soon and funding-gap texts neither name a suspension date nor the
    mainland's daily late fee."""
    engine = migrated(sqlite_url)
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["hk"])
        session.add(
            Employee(
                employee_id="HR1",
                name="Grace Chan",
                account_id="hk",
                hire_date=date(2025, 1, 1),
                enrolled_on=date(2025, 1, 1),
                salary=Decimal("30000"),
                role="hr",
            )
        )
        session.add(Balance(account_id="hk", as_of=date(2026, 10, 1), balance=Decimal("10.00")))
        session.flush()
        accounts = account_policies(session, POLICIES)
        for period in (Period(2026, 7), Period(2026, 9)):  # due 2026-08-10 and 2026-10-12
            run_dues(session, period, accounts, now=NOW)
    run_scan(
        engine,
        as_of=date(2026, 10, 10),
        now=NOW,
        policies=POLICIES,
        rules=RuleSettings(),
        routing=Routing(),
    )
    with session_scope(engine) as session:
        alerts = {a.kind: a for a in session.exec(select(Alert))}
        assert set(alerts) == {"due_soon", "overdue", "funding_gap"}
        for alert in alerts.values():
            reply = render_alert(session, alert, locale=locale)
            assert reply.card is not None
            assert "0.05 %" not in reply.text and "0.05%" not in reply.text
            assert "停保日期" not in reply.text and "suspended on" not in reply.text
            assert "{" not in reply.text
        assert alerts["overdue"].suspension_on is None
        due_soon = render_alert(session, alerts["due_soon"], locale=locale).text
        assert translate(locale, "notice.due_soon.consequence_no_suspension") in due_soon
        assert "plan" not in render_alert(session, alerts["overdue"], locale="en").text
    engine.dispose()


def test_an_enrolment_deadline_long_past_reads_as_passed(sqlite_url: str) -> None:
    """Not "还剩 -461 天" under a payment label: the passed variant, a registration deadline."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    seed(engine)
    at = datetime(2026, 12, 4, 2, tzinfo=UTC)
    with session_scope(engine) as session:
        alert = Alert(
            dedupe_key="enrollment_deadline:employee=E007",
            kind="enrollment_deadline",
            employee_id="E007",
            account_id="beijing",
            due_date=date(2025, 9, 1),
            details=json.dumps({"deadline": "2025-09-01", "days_left": "-461"}),
            opened_at=at,
            updated_at=at,
        )
        session.add(alert)
        session.flush()
        reply = render_alert(session, alert, locale=ZH_CN)
    engine.dispose()
    assert reply.text.startswith("孙九 (E007) 未在截止日 2025-09-01 前参保")
    assert "-461" not in reply.text
    assert reply.card is not None
    labels = {field.label for field in reply.card.fields}
    assert "登记截止日" in labels and "缴费截止日" not in labels


@pytest.mark.parametrize("locale", [ZH_CN, "zh-HK", "en"])
def test_a_due_date_from_an_unpublished_calendar_is_marked_an_estimate(
    sqlite_url: str, locale: str, migrated: Migrated
) -> None:
    """Issue 13: a due date in a year whose holiday notice is not published is an estimate;
    the alert says so as `dues` does (≈ on the date, the same footnote)."""
    engine = migrated(sqlite_url)
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing"])
        session.add(Balance(account_id="beijing", as_of=date(2031, 1, 1), balance=Decimal("1.00")))
        session.add(
            Employee(
                employee_id="E1",
                name="张三",
                account_id="beijing",
                hire_date=date(2025, 1, 1),
                enrolled_on=date(2025, 1, 1),
                salary=Decimal("12000"),
            )
        )
        session.flush()
        accounts = account_policies(session, POLICIES)
        assert accounts["beijing"].due_date_estimated(Period(2031, 1))
        run_dues(session, Period(2031, 1), accounts, now=NOW)
    run_scan(
        engine,
        as_of=date(2031, 1, 14),
        now=NOW,
        policies=POLICIES,
        rules=RuleSettings(lead_days=(60,)),
        routing=Routing(),
    )
    with session_scope(engine) as session:
        alerts = {a.kind: a for a in session.exec(select(Alert))}
        assert {"due_soon", "funding_gap"} <= set(alerts)
        assert alerts["due_soon"].suspension_on is not None
        for kind in ("due_soon", "funding_gap"):
            alert = alerts[kind]
            assert alert.due_date is not None
            reply = render_alert(session, alert, locale=locale)
            # The suspension date is counted from the due date: an estimate too (item 5).
            keys = ["dues.calendar_estimate"]
            keys += ["dues.suspension_estimate"] if alert.suspension_on else []
            figures = ", ".join(translate(locale, key, account="beijing") for key in keys)
            assert translate(locale, "dues.estimate", figures=figures) in reply.text
            assert reply.card is not None
            values = {f.value for f in reply.card.fields}
            assert f"≈{alert.due_date.isoformat()}" in reply.text
            assert f"≈{alert.due_date.isoformat()}" in values
            if alert.suspension_on is not None:
                assert f"≈{alert.suspension_on.isoformat()}" in values
    engine.dispose()


def test_a_published_calendar_adds_no_estimate_note(scanned: Engine) -> None:
    with session_scope(scanned) as session:
        for alert in session.exec(select(Alert)):
            text = render_alert(session, alert, locale="en").text
            assert "holiday calendar" not in text


@pytest.mark.parametrize("locale", [ZH_CN, "zh-HK", "en"])
def test_amounts_from_a_provisional_rule_are_marked_an_estimate(
    sqlite_url: str, locale: str, migrated: Migrated
) -> None:
    """Issue 13: Hangzhou's band is carried over (provisional), so the dues an alert names
    are estimates: ≈ on the amount and the `dues` footnote naming the figure."""
    engine = migrated(sqlite_url)
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["hangzhou"])
        session.add(
            Balance(account_id="hangzhou", as_of=date(2026, 10, 1), balance=Decimal("1.00"))
        )
        session.add(
            Employee(
                employee_id="E1",
                name="张三",
                account_id="hangzhou",
                hire_date=date(2025, 1, 1),
                enrolled_on=date(2025, 1, 1),
                salary=Decimal("12000"),
            )
        )
        session.flush()
        accounts = account_policies(session, POLICIES)
        estimates = accounts["hangzhou"].estimates(Period(2026, 10))
        assert estimates
        run_dues(session, Period(2026, 10), accounts, now=NOW)
    run_scan(
        engine,
        as_of=date(2026, 11, 5),
        now=NOW,
        policies=POLICIES,
        rules=RuleSettings(lead_days=(60,)),
        routing=Routing(),
    )
    figures = ", ".join(f"hangzhou {translate(locale, f'scheme.{e.scheme}')}" for e in estimates)
    with session_scope(engine) as session:
        alerts = {a.kind: a for a in session.exec(select(Alert))}
        assert {"overdue", "funding_gap"} <= set(alerts)
        for alert in alerts.values():
            reply = render_alert(session, alert, locale=locale)
            assert translate(locale, "dues.estimate", figures=figures) in reply.text
            assert reply.card is not None
            principal = translate(locale, "notice.field.principal")
            (value,) = [f.value for f in reply.card.fields if f.label == principal]
            assert value.startswith("≈")
    engine.dispose()


def test_a_kpi_alert_names_the_metric_its_value_and_target(sqlite_url: str) -> None:
    """Not only "研发部：合规指标低于目标": which KPI, how low, against what (issue 14 item 7)."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    at = datetime(2026, 12, 4, 2, tzinfo=UTC)
    with session_scope(engine) as session:
        alert = Alert(
            dedupe_key="kpi_below_target|department=研发部|period=2026-11",
            kind="kpi_below_target",
            department="研发部",
            period="2026-11",
            details=json.dumps({"on_time": "0.8 < 0.95", "enrollment": "0.5 < 0.9"}),
            opened_at=at,
            updated_at=at,
        )
        session.add(alert)
        session.flush()
        chinese = render_alert(session, alert, locale=ZH_CN).text.splitlines()
        english = render_alert(session, alert, locale="en").text.splitlines()
    engine.dispose()
    assert chinese[:3] == [
        "研发部：合规指标低于目标",
        "按时缴费率 80.0%（目标 95.0%）",
        "参保及时率 50.0%（目标 90.0%）",
    ]
    assert english[1] == "On-time payment 80.0% (target 95.0%)"


def _hangzhou_unpaid(engine: Engine) -> None:
    """Hangzhou 2026-11 unpaid: due 2026-11-16, cover suspended from 2026-12-01."""
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["hangzhou"])
        session.add(
            Employee(
                employee_id="E1",
                name="张三",
                account_id="hangzhou",
                hire_date=date(2025, 1, 1),
                enrolled_on=date(2025, 1, 1),
                salary=Decimal("12000"),
                role="hr",
            )
        )
        session.flush()
        run_dues(session, Period(2026, 11), account_policies(session, POLICIES), now=NOW)


SUSPENDED_TITLES = {
    ZH_CN: "杭州 2026-11：员工医保已于 2026-12-01 起停保",
    "zh-HK": "杭州 2026-11：員工醫保已於 2026-12-01 起停保",
    "en": "Hangzhou 2026-11: employees' medical cover has been SUSPENDED since 2026-12-01",
}


@pytest.mark.parametrize("locale", [ZH_CN, "zh-HK", "en"])
def test_past_its_date_a_suspension_alert_says_suspended_naming_the_account(
    sqlite_url: str, locale: str, migrated: Migrated
) -> None:
    """Issue 17: on 12-04 cover suspended on 12-01 is suspended, not "将于…停保"; the kind stays
    `suspension_imminent` (ARCHITECTURE.md §3). Notices name the account as people do."""
    engine = migrated(sqlite_url)
    _hangzhou_unpaid(engine)
    names = AccountNames(policies=POLICIES)
    days = {date(2026, 11, 28): "notice.suspension_imminent", date(2026, 12, 4): "notice.suspended"}
    for day, variant in days.items():
        run_scan(
            engine,
            as_of=day,
            now=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
            policies=POLICIES,
            rules=RuleSettings(),
            routing=Routing(),
        )
        with session_scope(engine) as session:
            alert = session.exec(select(Alert).where(Alert.kind == "suspension_imminent")).one()
            overdue = session.exec(select(Alert).where(Alert.kind == "overdue")).one()
            text = render_alert(session, alert, locale=locale, names=names).text
            facts = {"account": names.name(session, "hangzhou", locale), "period": "2026-11"}
            title = translate(locale, f"{variant}.title", suspension_on="2026-12-01", **facts)
            assert text.startswith(title)
            assert "hangzhou" not in text
            late = render_alert(session, overdue, locale=locale, names=names)
            assert late.card is not None
            fee_label = translate(locale, "notice.field.late_fee")
            (fee,) = [f.value for f in late.card.fields if f.label == fee_label]
            key = "consequence_suspended" if variant == "notice.suspended" else "consequence"
            said = translate(
                locale, f"notice.overdue.{key}", late_fee=fee, suspension_on="2026-12-01"
            )
            assert late.text.splitlines()[1] == said
            owed_label = translate(locale, "notice.field.principal")
            (owed,) = [f.value for f in late.card.fields if f.label == owed_label]
            action = "action_suspended" if variant == "notice.suspended" else "action"
            # Past the suspension date no installment plan can be made: not offered.
            next_step = translate(locale, f"notice.overdue.{action}", principal=owed, id=overdue.id)
            assert late.text.splitlines()[2] == next_step
    assert text.startswith(SUSPENDED_TITLES[locale])
    engine.dispose()
