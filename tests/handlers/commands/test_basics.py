"""`help` and `lang` through the pipeline."""

from __future__ import annotations

from core.locales import ZH_CN
from handlers.context import AppContext
from storage.db import session_scope
from storage.models import UserPreference
from tests.support.company import Ask


def test_lang_switches_later_replies_and_is_stored(app: AppContext, ask: Ask) -> None:
    assert ask("E001", "lang en").text == "OK, I will reply in English from now on."
    assert ask("E001", "我的医保", locale=ZH_CN).text.startswith("My cover\nStatus: grace")
    with session_scope(app.engine) as session:
        preference = session.get(UserPreference, "E001")
        assert preference is not None
        assert preference.locale == "en"
    assert ask("E001", "语言 zh").text == "好的，以后我会用中文回复你。"
    assert ask("E001", "coverage", locale="en").text.startswith("我的医保\n状态：")


def test_lang_refuses_an_unknown_language_with_usage(ask: Ask) -> None:
    reply = ask("E001", "lang fr", locale="en")
    assert reply.text == (
        "“fr” is not a language I speak: choose en, zh or zh-HK.\nUsage: lang en|zh|zh-HK"
    )
    assert ask("E001", "lang", locale="en").text == "Usage: lang en|zh|zh-HK"


def test_help_lists_only_what_the_user_may_ask(ask: Ask) -> None:
    employee = ask("E001", "help", locale="en").text
    assert "coverage" in employee and "contributions [YYYY-MM]" in employee
    for forbidden in ("dues", "arrears", "alerts", "ack ID", "plan ID N", "kpi"):
        assert forbidden not in employee
    manager = ask("E002", "help", locale="en").text
    assert "alerts" in manager and "ack ID" in manager and "kpi [YYYY-MM]" in manager
    assert "dues" not in manager and "plan ID N" not in manager
    hr = ask("E003", "帮助").text
    for usage in ("待缴 [YYYY-MM]", "欠费", "告警", "确认 告警编号", "分期 告警编号 期数", "绩效"):
        assert usage in hr
    finance = ask("E004", "help", locale="en").text
    assert "plan ID N" in finance and "kpi [YYYY-MM]" in finance
    assert "enroll" not in finance and "who ID" not in finance


def test_help_gives_an_example_for_each_command(ask: Ask) -> None:
    lines = ask("E003", "帮助").text.splitlines()[1:]
    assert lines and all("（例：" in line for line in lines), lines
    assert any(line.startswith("· 缴费明细 [YYYY-MM] — ") for line in lines)
    assert any(line.endswith("（例：缴费明细 2025-05）") for line in lines)
    assert any(line.endswith("（例：参保 E0200 2025-06-25）") for line in lines)


def test_hong_kong_staff_get_traditional_chinese_by_default(ask: Ask) -> None:
    reply = ask("E005", "我的強積金")
    assert reply.text.startswith("2025-06 供款明細\n強積金：單位 HK$1,000.00，個人 HK$1,000.00")
    assert ask("E005", "語言 en").text == "OK, I will reply in English from now on."
    assert ask("E005", "coverage").text.startswith("My cover")


def test_lang_zh_hk_and_platform_tags_choose_traditional(ask: Ask) -> None:
    assert ask("E001", "語言 繁體").text == "好的，以後我會用繁體中文回覆你。"
    assert ask("E001", "我的医保").text.startswith("我的醫保\n狀態：欠費寬限期（尚未停保）")
    assert ask("E003", "help", locale="zh-TW").text.startswith("你可以問我：")
