"""`silence` / `静默` in chat, and what the `alerts` list shows of groups, owners and silences
(issue 14 items 3 and 7)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from storage.audit import audit_entries
from storage.db import session_scope
from storage.models import Alert
from tests.handlers.commands.test_alerts import seed_alerts
from tests.support.company import Ask, asker

FORBIDDEN = translate(ZH_CN, "error.forbidden")
USAGE = "Usage: silence ACCOUNT|KIND|ID 3d [reason] · silence list · silence remove N"


@pytest.fixture
def alerts(app: AppContext) -> dict[str, int]:
    return seed_alerts(app.engine)


def test_hr_silences_an_account_and_is_told_urgent_alerts_go_on(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    reply = ask("E003", "silence hk 3d bureau system down", locale="en")
    assert reply.text == (
        "Silence #1 (Hong Kong MPF): matching alerts send nothing and do not escalate until "
        "2025-06-28 10:00.\nOverdue and suspension alerts still notify: name their kind to "
        "silence them too (e.g. “silence hk overdue 3d”)."
    )
    listed = ask("E003", "alerts", locale="en").text
    assert f"#{alerts['hk']}: due soon · Hong Kong MPF 2025-06" in listed
    assert "silenced until 2025-06-28 10:00 · open" in listed
    with session_scope(app.engine) as session:
        [entry] = [e for e in audit_entries(session) if e.action.startswith("silence")]
    assert (entry.actor, entry.action, entry.via) == ("E003", "silence.add", "console")
    assert entry.detail.endswith("account=hk until 2025-06-28T02:00:00+00:00: bureau system down")


def test_names_in_any_language_and_several_targets(ask: Ask, alerts: dict[str, int]) -> None:
    assert ask("E003", "静默 即将到期 2d").text == (
        "静默 #1（即将到期）：相符的告警在 2025-06-27 10:00 前不发送提醒、不升级。"
    )
    # An urgent kind named with its account; finance may silence as HR may.
    assert ask("E004", "silence 北京 已逾期 1d holiday", locale="en").text == (
        "Silence #2 (Beijing · overdue): matching alerts send nothing and do not escalate until "
        "2025-06-26 10:00."
    )
    # A shortened name, when only one kind's name holds it.
    assert ask("E003", "静默 逾期 北京 1d").text.startswith("静默 #3（北京 · 已逾期）：")
    assert ask("E003", "静默 到期 1d").text.startswith("“到期”不是账户")  # 即将到期 or 分期到期
    # Finance on the Hong Kong account reads Traditional Chinese.
    assert ask("E004", "靜默 hk 1d").text.startswith("靜默 #4（香港強積金）：")


def test_an_urgent_alert_needs_its_kind_named(ask: Ask, alerts: dict[str, int]) -> None:
    overdue = alerts["overdue"]
    assert ask("E003", f"silence {overdue} 3d", locale="en").text == (
        f"Alert #{overdue} is urgent (overdue): name its kind too to silence it, e.g. "
        f"“silence {overdue} overdue 3d”."
    )
    assert ask("E003", f"silence #{overdue} overdue 3d", locale="en").text.startswith(
        f"Silence #1 (overdue · #{overdue}):"
    )
    listed = ask("E003", "alerts", locale="en").text
    assert "silenced until 2025-06-28 10:00" in listed.split(f"#{overdue}: ")[1].splitlines()[0]


def test_only_hr_and_finance_may_silence(ask: Ask, alerts: dict[str, int]) -> None:
    assert ask("E002", "静默 hk 3d").text == FORBIDDEN  # a manager
    assert ask("E001", "silence hk 3d").text == FORBIDDEN  # an employee


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("silence", USAGE),
        ("silence hk", USAGE),
        ("silence hk soon", f"Say for how long, e.g. 3d.\n{USAGE}"),
        ("silence mars 3d", f"“mars” is not an account, an alert kind or an alert id.\n{USAGE}"),
        ("silence hk beijing 1d", f"“beijing”: name at most one account, one kind and one "
         f"alert.\n{USAGE}"),
        ("silence hk 40d", f"“40d” is not a duration; write 30m, 4h or 3d (at most 31 "
         f"days).\n{USAGE}"),
        ("silence 3d reason", USAGE),
        ("silence 9999 1d", "There is no alert #9999 in your scope."),
    ],
)  # fmt: skip
def test_bad_silences_get_the_usage(
    ask: Ask, alerts: dict[str, int], text: str, answer: str
) -> None:
    assert ask("E003", text, locale="en").text == answer


def test_the_list_shows_group_owner_inhibition_and_who_acknowledged(
    app: AppContext, alerts: dict[str, int]
) -> None:
    with session_scope(app.engine) as session:
        overdue = session.get(Alert, alerts["overdue"])
        assert overdue is not None
        overdue.group_key = "beijing:2025-06"
        overdue.inhibited_by = 42
        session.add(overdue)
    owned = asker(replace(app, account_owners={"beijing": ("E003",), "hk": ("E004",)}))
    assert owned("E003", f"ack {alerts['hk']}", locale="en").text.startswith("Alert #")
    lines = owned("E003", "alerts", locale="en").text.splitlines()
    row = next(line for line in lines if line.startswith(f"#{alerts['overdue']}: "))
    assert row.endswith(" · group beijing:2025-06 · owner 王五 (E003) · muted by #42 · open")
    # Open first; then the acknowledged ones under their heading, with who took them.
    assert lines[-2:] == [
        "Acknowledged: 1",
        f"#{alerts['hk']}: due soon · Hong Kong MPF 2025-06 · owed HK$7,500.00 · "
        "due 2025-07-10 (15 days left) · acknowledged by 王五 (E003)",
    ]


def test_hr_lists_and_ends_silences_in_chat(
    app: AppContext, ask: Ask, alerts: dict[str, int]
) -> None:
    """`silence list` / `静默 列表` and `silence remove N` / `静默 解除 N`: what the CLI's
    `silence list|remove` do, without a terminal; ending one early is audited."""
    assert ask("E003", "silence list", locale="en").text == "No silence is in force."
    ask("E003", "silence hk 3d bureau system down", locale="en")
    ask("E004", "静默 北京 已逾期 1d")
    assert ask("E003", "silence list", locale="en").text == (
        "Silences in force (2)\n"
        "#2 Beijing · overdue · until 2025-06-26 10:00 · by 陈六 (E004)\n"
        "#1 Hong Kong MPF · until 2025-06-28 10:00 · by 王五 (E003): bureau system down\n"
        "End one early: “silence remove N”."
    )
    assert ask("E003", "静默 解除 2").text == "静默 #2 已解除：相符的告警即刻起恢复提醒和升级。"
    assert ask("E003", "静默 列表").text.splitlines()[1:] == [
        "#1 香港强积金 · 至 2025-06-28 10:00 · 王五（E003）设置：bureau system down",
        "提前结束：“静默 解除 编号”。",
    ]
    assert ask("E003", "silence remove 2", locale="en").text == "No silence #2 is in force."
    with session_scope(app.engine) as session:
        actions = [e.action for e in audit_entries(session) if e.action.startswith("silence")]
    assert sorted(actions) == ["silence.add", "silence.add", "silence.remove"]
    assert ask("E002", "静默 列表").text == FORBIDDEN  # a manager


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("silence remove", USAGE),
        ("silence remove x", f"“x” is not a silence number.\n{USAGE}"),
        ("silence list 3d", f"“list” is not an account, an alert kind or an alert id.\n{USAGE}"),
    ],
)
def test_bad_list_and_remove_get_the_usage(ask: Ask, text: str, answer: str) -> None:
    assert ask("E003", text, locale="en").text == answer
