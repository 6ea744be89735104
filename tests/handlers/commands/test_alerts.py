"""`alerts`, `ack`, `snooze`, `plan` and the buttons, on alert rows inserted directly."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from core.locales import ZH_CN
from handlers.alert_actions import ACK, SNOOZE
from handlers.context import AppContext
from handlers.i18n import translate
from handlers.pipeline import handle
from handlers.types import Action
from storage.audit import VIEW, audit_entries
from storage.db import session_scope
from storage.models import Alert, AlertEvent, Delivery, Installment
from storage.outbox import AlertPayload, NewDelivery, enqueue, mark_sent
from tests.support.company import NOW, Ask, asker, click

FORBIDDEN = translate(ZH_CN, "error.forbidden")


def add_alert(engine: Engine, kind: str, key: str, **fields: Any) -> int:
    with session_scope(engine) as session:
        alert = Alert(
            dedupe_key=key,
            kind=kind,
            opened_at=NOW - timedelta(hours=2),
            updated_at=NOW - timedelta(hours=2),
            **fields,
        )
        session.add(alert)
        session.flush()
        assert alert.id is not None
        return alert.id


@pytest.fixture
def alerts(app: AppContext) -> dict[str, int]:
    return seed_alerts(app.engine)


def seed_alerts(engine: Engine) -> dict[str, int]:
    return {
        # Beijing is where Engineering (manager E002) is insured.
        "overdue": add_alert(
            engine,
            "overdue",
            "overdue:beijing:2025-06",
            account_id="beijing",
            period="2025-06",
            due_date=date(2025, 6, 16),
            principal=Decimal("20099.00"),
            late_fee=Decimal("90.45"),
            days_overdue=9,
            suspension_on=date(2025, 7, 1),
        ),
        "enrol": add_alert(
            engine,
            "enrollment_deadline",
            "enrol:E007",
            employee_id="E007",
            due_date=date(2025, 7, 3),
        ),
        # Hong Kong: Sales (manager E006) and finance; not Engineering.
        "hk": add_alert(
            engine,
            "due_soon",
            "due_soon:hk:2025-06",
            account_id="hk",
            period="2025-06",
            due_date=date(2025, 7, 10),
            principal=Decimal("7500.00"),
        ),
    }


def get(engine: Engine, alert_id: int) -> Alert:
    with session_scope(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert


def test_manager_sees_the_alerts_of_their_department(ask: Ask, alerts: dict[str, int]) -> None:
    reply = ask("E002", "告警")
    overdue, enrol = alerts["overdue"], alerts["enrol"]
    assert reply.text == (
        "待处理告警（2 条）\n"
        f"#{enrol}：参保期限 · 孙九（E007） · 登记期限 2025-07-03（还剩 8 天） · 待确认\n"
        f"#{overdue}：已逾期 · 北京 2025-06 · 欠缴 ¥20,099.00，滞纳金 ¥90.45 · "
        "截止 2025-06-16（逾期 9 天） · 待确认"
    )
    assert reply.card is not None
    # The Beijing overdue alert is company-wide: listed, but its buttons are HR's and finance's.
    assert [(b.action, b.value) for b in reply.card.buttons] == [
        ("ack", str(enrol)),
        ("snooze", f"{enrol}:4h"),
    ]


def test_listing_someones_enrolment_alert_is_an_access_log_entry(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    """E007's alert says they are not insured yet: a look at E007's cover (storage.audit.VIEW);
    the account alerts beside it name nobody."""
    ask("E002", "告警")
    ask("E003", "alerts", locale="en")
    with session_scope(app.engine) as session:
        views = [
            (e.actor, e.subject, e.detail, e.via)
            for e in audit_entries(session)
            if e.action == VIEW
        ]
    assert views == [("E002", "E007", "alerts", "console"), ("E003", "E007", "alerts", "console")]


def test_hr_sees_every_alert_in_english(ask: Ask, alerts: dict[str, int]) -> None:
    reply = ask("E003", "alerts", locale="en")
    assert reply.text.startswith("Open alerts (3)\n")
    assert (
        f"#{alerts['hk']}: due soon · Hong Kong MPF 2025-06 · owed HK$7,500.00 · "
        "due 2025-07-10 (15 days left) · open"
    ) in reply.text


def test_acknowledged_alerts_are_listed_after_the_open_ones_and_not_counted(
    ask: Ask, alerts: dict[str, int]
) -> None:
    hk = alerts["hk"]
    ask("E003", f"ack {hk}")
    lines = ask("E003", "alerts", locale="en").text.splitlines()
    assert lines[0] == "Open alerts (2); acknowledged, listed after them: 1"
    assert lines[-2] == "Acknowledged: 1"
    assert lines[-1].startswith(f"#{hk}: ") and lines[-1].endswith(" · acknowledged by 王五 (E003)")
    assert all(line.endswith(" · open") for line in lines[1:-2])


def test_resolved_alerts_are_not_listed(app: AppContext, ask: Ask, alerts: dict[str, int]) -> None:
    assert ask("E006", "alerts", locale="en").text.startswith("Open alerts (1)")
    with session_scope(app.engine) as session:
        for alert in session.exec(select(Alert)):
            alert.state = "resolved"
            session.add(alert)
    assert ask("E006", "告警", locale=ZH_CN).text == "你负责的范围内没有待处理的告警。"
    hk = alerts["hk"]
    assert ask("E004", f"snooze {hk}", locale=ZH_CN).text == f"告警 #{hk} 已解决，无需处理。"
    assert ask("E003", f"ack {hk}", locale="en").text == (
        f"Alert #{hk} is resolved; there is nothing to acknowledge."
    )


def test_employee_is_refused_alerts_and_ack(ask: Ask, alerts: dict[str, int]) -> None:
    assert ask("E001", "alerts").text == FORBIDDEN
    assert ask("E001", f"ack {alerts['overdue']}").text == FORBIDDEN


def test_ack_records_who_where_and_when(app: AppContext, ask: Ask, alerts: dict[str, int]) -> None:
    alert_id = alerts["overdue"]
    assert ask("E003", f"确认 {alert_id}").text == f"已确认告警 #{alert_id}，后续提醒已停止。"
    alert = get(app.engine, alert_id)
    assert alert.state == "acknowledged"
    assert alert.acknowledged_by == "E003"
    assert alert.acknowledged_via == "console"
    assert alert.acknowledged_at == NOW
    # The loser of the compare-and-set is told who won, and nothing more is recorded.
    assert ask("E004", f"ack #{alert_id}", locale="en").text == (
        f"Alert #{alert_id} was already acknowledged by 王五 at 2025-06-25 10:00."
    )
    with session_scope(app.engine) as session:
        events = session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert_id)).all()
        assert [(e.event, e.actor) for e in events] == [("acknowledged", "E003")]


def test_manager_cannot_ack_or_snooze_a_company_wide_alert(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    """Issue 14 item 5: a manager's ack would stop the escalation to HR."""
    overdue = alerts["overdue"]
    refused = (
        f"Alert #{overdue} concerns the whole account: only HR, finance or the account's owners "
        "may acknowledge or snooze it."
    )
    assert ask("E002", f"ack {overdue}", locale="en").text == refused
    assert ask("E002", f"snooze {overdue} 4h", locale="en").text == refused
    assert click(app, "E002", "ack", str(overdue)).text.startswith(f"告警 #{overdue} 涉及整个账户")
    alert = get(app.engine, overdue)
    assert (alert.state, alert.snoozed_until) == ("open", None)
    # Their report's enrolment deadline is theirs to work.
    assert ask("E002", f"ack {alerts['enrol']}").text.startswith("已确认告警")


def test_an_owner_manager_may_ack_their_account(app: AppContext, alerts: dict[str, int]) -> None:
    owned = replace(app, account_owners={"beijing": ("E002",)})
    overdue = alerts["overdue"]
    assert click(owned, "E002", "ack", str(overdue)).text == (
        f"已确认告警 #{overdue}，后续提醒已停止。"
    )
    assert get(app.engine, overdue).acknowledged_by == "E002"


def test_out_of_scope_looks_exactly_like_missing(ask: Ask, alerts: dict[str, int]) -> None:
    """A manager cannot learn that another department's alert exists."""
    out_of_scope = ask("E002", f"ack {alerts['hk']}", locale="en").text
    missing = ask("E002", "ack 9999", locale="en").text
    assert out_of_scope == f"There is no alert #{alerts['hk']} in your scope."
    assert missing == "There is no alert #9999 in your scope."
    assert "hk" not in out_of_scope.replace(f"#{alerts['hk']}", "")


def test_ack_with_a_bad_id_gets_usage(ask: Ask, alerts: dict[str, int]) -> None:
    assert ask("E003", "ack twelve", locale="en").text == (
        "“twelve” is not an alert id; use its number, e.g. 12.\nUsage: ack ID"
    )


def test_ack_button_goes_through_the_same_checks(app: AppContext, alerts: dict[str, int]) -> None:
    overdue = alerts["overdue"]
    assert click(app, "E001", "ack", str(overdue)).text == FORBIDDEN
    # E006 works for the Hong Kong account: answered in Traditional Chinese.
    assert click(app, "E006", "ack", str(overdue)).text == (
        f"你負責的範圍內沒有編號為 {overdue} 的告警。"
    )
    assert get(app.engine, overdue).state == "open"
    assert (
        click(app, "E003", "ack", str(overdue)).text == f"已确认告警 #{overdue}，后续提醒已停止。"
    )
    assert get(app.engine, overdue).acknowledged_by == "E003"


def test_snooze_sets_the_pause_and_audits_it(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    alert_id = alerts["hk"]
    reply = ask("E004", f"snooze {alert_id} 4h", locale="en")
    # NOW is 10:00 in Shanghai.
    assert reply.text == f"Reminders for alert #{alert_id} are paused until 2025-06-25 14:00."
    assert get(app.engine, alert_id).snoozed_until == NOW + timedelta(hours=4)
    with session_scope(app.engine) as session:
        events = session.exec(select(AlertEvent).where(AlertEvent.alert_id == alert_id)).all()
        assert [(e.event, e.actor) for e in events] == [("snoozed", "E004")]


@pytest.mark.parametrize(
    ("duration", "delta"),
    [("30m", timedelta(minutes=30)), ("2d", timedelta(days=2)), ("1小时", timedelta(hours=1))],
)
def test_snooze_durations(
    app: AppContext, ask: Ask, alerts: dict[str, int], duration: str, delta: timedelta
) -> None:
    ask("E004", f"暂缓 {alerts['hk']} {duration}")
    assert get(app.engine, alerts["hk"]).snoozed_until == NOW + delta


@pytest.mark.parametrize("duration", ["4x", "0h", "8d", "-1h"])
def test_snooze_refuses_bad_durations(ask: Ask, alerts: dict[str, int], duration: str) -> None:
    reply = ask("E003", f"snooze {alerts['hk']} {duration}", locale="en")
    assert reply.text.endswith("(at most 7 days).\nUsage: snooze ID 4h")


def test_snooze_button_carries_id_and_duration(app: AppContext, alerts: dict[str, int]) -> None:
    reply = click(app, "E004", "snooze", f"{alerts['hk']}:2h")
    assert reply.text == f"告警 #{alerts['hk']} 的提醒已暫緩至 2025-06-25 12:00。"
    assert click(app, "E001", "snooze", f"{alerts['hk']}:2h").text == FORBIDDEN
    assert click(app, "E002", "snooze", f"{alerts['hk']}:2h").text == (
        f"你负责的范围内没有编号为 {alerts['hk']} 的告警。"
    )


def test_plan_splits_the_outstanding_before_suspension(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    alert_id = alerts["overdue"]
    reply = ask("E003", f"分期 {alert_id} 2")
    lines = reply.text.split("\n")
    assert lines[0] == f"告警 #{alert_id} 分期计划（北京 2025-06）"
    assert lines[1] == "第 1 期：2025-06-27 前缴 ¥10,049.50"
    assert lines[2] == "第 2 期：2025-06-30 前缴 ¥10,049.50"
    assert lines[3].startswith("滞纳金：按计划 ")
    with session_scope(app.engine) as session:
        parts = session.exec(select(Installment).where(Installment.alert_id == alert_id)).all()
        assert [(p.seq, p.amount, p.created_by) for p in parts] == [
            (1, Decimal("10049.50"), "E003"),
            (2, Decimal("10049.50"), "E003"),
        ]


def test_plan_is_for_hr_and_finance_only(ask: Ask, alerts: dict[str, int]) -> None:
    assert ask("E002", f"plan {alerts['overdue']} 2").text == FORBIDDEN
    assert ask("E001", f"plan {alerts['overdue']} 2").text == FORBIDDEN


def test_plan_refusals_are_answers(ask: Ask, alerts: dict[str, int]) -> None:
    overdue = alerts["overdue"]
    assert ask("E004", f"plan {overdue} 0", locale="en").text == (
        "“0” is not a number of installments; use a whole number from 1 to 12.\nUsage: plan ID N"
    )
    assert ask("E004", f"plan {overdue}", locale="en").text == "Usage: plan ID N"
    assert ask("E004", f"plan {alerts['enrol']} 2", locale="en").text == (
        f"Alert #{alerts['enrol']} is not an account's unpaid month, "
        "so it cannot be paid in installments."
    )
    # Five days (26..30 June) remain before the suspension on 1 July.
    assert (
        ask("E004", f"分期 {overdue} 6", locale=ZH_CN).text
        == "距停保日 2025-07-01 只剩 5 天，不够分 6 期。"
    )


def test_alert_commands_on_both_databases(any_app: AppContext) -> None:
    ids = seed_alerts(any_app.engine)
    ask = asker(any_app)
    assert ask("E002", "alerts", locale="en").text.startswith("Open alerts (2)")
    assert ask("E004", f"ack {ids['overdue']}", locale="en").text.startswith("Alert #")
    assert get(any_app.engine, ids["overdue"]).acknowledged_by == "E004"
    assert "¥10,049.50" in ask("E003", f"plan {ids['overdue']} 2", locale="en").text


def test_alerts_page_with_buttons_for_each_alert_on_the_page(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    for n in range(2):
        add_alert(app.engine, "kpi_below_target", f"kpi:{n}", department=f"Dept {n}")
    first = ask("E003", "告警")
    assert first.text.splitlines()[0] == "待处理告警（共 5 条，第 1/2 页）"
    assert first.text.splitlines()[-1] == "发送“告警 2”查看下一页。"
    assert first.card is not None and len(first.card.buttons) == 6
    second = ask("E003", "告警 2")
    assert second.card is not None
    shown = {f.label for f in second.card.fields if f.label.startswith("#")}
    assert len(shown) == 2
    assert {b.value for b in second.card.buttons if b.action == "ack"} == {
        label.lstrip("#") for label in shown
    }
    assert ask("E003", "alerts 3", locale="en").text == (
        "“3” is not a page: write a number from 1 to 2.\nUsage: alerts [page]"
    )


def test_a_funding_gap_reads_as_a_shortfall(app: AppContext, ask: Ask) -> None:
    add_alert(
        app.engine,
        "funding_gap",
        "funding_gap:hk",
        account_id="hk",
        due_date=date(2025, 7, 10),
        principal=Decimal("41076.00"),
    )
    line = ask("E004", "alerts", locale="en").text.splitlines()[1]
    assert line.endswith(
        "funding gap · Hong Kong MPF · shortfall HK$41,076.00 · "
        "funds needed by 2025-07-10 (15 days left) · open"
    )
    assert "owed" not in line


def sent_copy(engine: Engine, alert_id: int, platform: str, address: str, **fields: Any) -> None:
    """A delivery of the alert as the dispatcher leaves it once the platform took it."""
    payload = AlertPayload(alert_id=alert_id, stage="opened", locale=fields.pop("locale", ZH_CN))
    with session_scope(engine) as session:
        item = NewDelivery(
            idempotency_key=f"alert:{alert_id}:{platform}:{address}",
            platform=platform,
            address=address,
            payload=payload,
            not_before=NOW,
            alert_id=alert_id,
            is_group=fields.pop("is_group", False),
        )
        enqueue(session, [item], now=NOW)
        [delivery] = session.exec(
            select(Delivery).where(Delivery.idempotency_key == item.idempotency_key)
        ).all()
        if "message_ref" in fields:
            assert delivery.id is not None
            mark_sent(session, delivery.id, message_ref=fields["message_ref"], now=NOW)


def test_ack_click_rewrites_every_sent_card(app: AppContext, alerts: dict[str, int]) -> None:
    alert_id = alerts["overdue"]
    sent_copy(app.engine, alert_id, "console", "E002", locale="en", message_ref="console:1")
    sent_copy(app.engine, alert_id, "slack", "C0HR", is_group=True, message_ref="C0HR:1.5")
    sent_copy(app.engine, alert_id, "wecom", "W003")  # still pending: nothing to rewrite
    clicked = Action(
        platform="console",
        user_id="E002",
        conversation_id="E002",
        action_id=ACK,
        value=str(alert_id),
        event_id="click-1",
        message_ref="console:clicked",
    )
    owned = replace(app, account_owners={"beijing": ("E002",)})  # E002 may ack the account
    reply = handle(owned, clicked)
    assert [(u.platform, u.message_ref) for u in reply.updates] == [
        ("console", "console:clicked"),  # the clicked card, through the click's own ref
        ("slack", "C0HR:1.5"),
    ]
    english, chinese = (u.reply for u in reply.updates)
    assert english.card is not None and not english.card.buttons
    assert "Acknowledged by 李四 (E002)" in english.text
    assert "李四 (E002)" in chinese.text and "Acknowledged" not in chinese.text


def test_an_ack_click_rewrites_the_cards_of_the_alerts_it_covers(app: AppContext) -> None:
    """Issue 14: acknowledging the suspension covers its group's overdue alert, so the overdue
    card sent earlier loses its buttons too, through the ref its own send returned."""
    group = {"account_id": "beijing", "period": "2025-06", "group_key": "beijing:2025-06"}
    overdue = add_alert(app.engine, "overdue", "overdue:beijing:2025-06", **group)
    suspension = add_alert(app.engine, "suspension_imminent", "suspension:beijing:2025-06", **group)
    other = add_alert(app.engine, "overdue", "overdue:shanghai:2025-06", account_id="shanghai")
    sent_copy(app.engine, overdue, "slack", "C0HR", is_group=True, message_ref="C0HR:1.1")
    sent_copy(app.engine, overdue, "console", "E002", locale="en", message_ref="console:0")
    sent_copy(app.engine, suspension, "console", "E002", locale="en", message_ref="console:1")
    sent_copy(app.engine, other, "slack", "C0HR", is_group=True, message_ref="C0HR:1.2")
    clicked = Action(
        platform="console",
        user_id="E002",
        conversation_id="E002",
        action_id=ACK,
        value=str(suspension),
        event_id="click-2",
        message_ref="console:clicked",
    )
    reply = handle(replace(app, account_owners={"beijing": ("E002",)}), clicked)
    assert sorted((u.platform, u.message_ref) for u in reply.updates) == [
        ("console", "console:0"),  # the covered alert's card, not through the click's ref
        ("console", "console:clicked"),
        ("slack", "C0HR:1.1"),
    ]
    assert all(u.reply.card is not None and not u.reply.card.buttons for u in reply.updates)


def test_only_the_acknowledging_click_rewrites_cards(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    alert_id = alerts["overdue"]
    sent_copy(app.engine, alert_id, "slack", "C0HR", is_group=True, message_ref="C0HR:1.5")
    owned = replace(app, account_owners={"beijing": ("E002",)})  # E002 may ack the account
    assert asker(owned)("E002", f"ack {alert_id}").updates == ()  # typed, not clicked
    assert click(owned, "E003", ACK, str(alert_id)).updates == ()  # someone else, too late
    assert click(owned, "E002", SNOOZE, f"{alert_id}:4h").updates == ()
    assert [u.message_ref for u in click(owned, "E002", ACK, str(alert_id)).updates] == ["C0HR:1.5"]


def test_the_list_marks_estimated_figures_and_names_them(app: AppContext, ask: Ask) -> None:
    """Issue 13 items 5, 7: an alert whose amounts rest on a provisional rule and whose dates
    on an unpublished holiday calendar reads ≈ in `alerts` too, with the footnote."""
    details = '{"estimate": "medical", "calendar_estimate": "yes"}'
    add_alert(
        app.engine,
        "suspension_imminent",
        "suspension:beijing:2025-06",
        account_id="beijing",
        period="2025-06",
        due_date=date(2025, 6, 16),
        principal=Decimal("20099.00"),
        suspension_on=date(2025, 7, 1),
        details=details,
    )
    text = ask("E004", "alerts", locale="en").text
    assert "≈¥20,099.00" in text and "≈2025-07-01" in text
    figures = ", ".join(
        [
            f"Beijing {translate('en', 'scheme.medical')}",  # the account as people name it
            translate("en", "dues.calendar_estimate", account="Beijing"),
            translate("en", "dues.suspension_estimate", account="Beijing"),
        ]
    )
    assert translate("en", "dues.estimate", figures=figures) in text


@pytest.mark.parametrize(
    ("locale", "words"),
    [
        (ZH_CN, "已停保 · 北京 2025-05 · 欠缴 ¥20,099.00 · 2025-06-20 起已停保（已过 5 天）"),
        ("zh-HK", "已停保 · 北京 2025-05 · 欠繳 ¥20,099.00 · 2025-06-20 起已停保（已過 5 天）"),
        (
            "en",
            "suspended · Beijing 2025-05 · owed ¥20,099.00 · "
            "suspended since 2025-06-20 (5 days ago)",
        ),
    ],
)
def test_a_suspension_alert_past_its_date_is_listed_as_suspended(
    app: AppContext, ask: Ask, locale: str, words: str
) -> None:
    """Issue 17: past the suspension date the row says suspended (since when), not imminent."""
    alert_id = add_alert(
        app.engine,
        "suspension_imminent",
        "suspension_imminent:beijing:2025-05",
        account_id="beijing",
        period="2025-05",
        due_date=date(2025, 6, 5),
        principal=Decimal("20099.00"),
        suspension_on=date(2025, 6, 20),
    )
    lines = ask("E003", "告警", locale=locale).text.splitlines()
    state = translate(locale, "alert_state.open")
    row = translate(locale, "format.field", label=f"#{alert_id}", value=f"{words} · {state}")
    assert row in lines
