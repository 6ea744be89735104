"""`coverage` and `contributions`: the asker's own real figures, masked where they must be."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core import calendars
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from tests.support.company import ID_NUMBER, Ask, asker

MASKED_ID = "110101********1234"


def test_coverage_in_chinese_shows_grace_paid_through_and_suspension(ask: Ask) -> None:
    reply = ask("E001", "我的医保")
    assert reply.text == (
        "我的医保\n"
        "状态：欠费宽限期（尚未停保）\n"
        "参保地：北京\n"
        "已缴至：2025-05\n"
        "下次缴费截止：2025-06-16\n"
        "连续参保：17 个月（自 2024-01 起）\n"
        "欠缴月份：2025-06\n"
        "停保日期：2025-07-01\n"
        f"证件号码：{MASKED_ID}\n"
        "停保日期按当地惯例估算，以社保经办机构为准。"
    )
    assert not reply.ephemeral
    assert reply.card is not None
    fields = {field.label: field.value for field in reply.card.fields}
    assert fields["状态"] == "欠费宽限期（尚未停保）"
    assert fields["已缴至"] == "2025-05"
    assert fields["停保日期"] == "2025-07-01"


def test_coverage_in_english_for_an_employee_paid_up(ask: Ask) -> None:
    reply = ask("E005", "医保状态", locale="en")
    assert reply.text == (
        "My cover\n"
        "Status: active\n"
        "Insured in: Hong Kong MPF\n"
        "Paid through: 2025-05\n"
        "Next due date: 2025-07-10\n"
        "Continuous cover: 17 months (since 2024-01)"
    )


def test_coverage_of_a_hire_not_yet_enrolled(ask: Ask) -> None:
    reply = ask("E007", "coverage", locale="en")
    assert "Status: not enrolled" in reply.text
    assert "Paid through: none" in reply.text


def test_coverage_in_a_group_is_ephemeral_and_leaves_out_the_id_number(ask: Ask) -> None:
    reply = ask("U001", "/coverwatch coverage", platform="slack", is_direct=False, locale="en")
    assert reply.ephemeral
    assert "Status: grace" in reply.text
    assert MASKED_ID not in reply.text and ID_NUMBER not in reply.text
    assert reply.card is not None
    assert all(MASKED_ID not in field.value for field in reply.card.fields)


def test_the_id_number_is_never_shown_in_full(ask: Ask) -> None:
    reply = ask("E001", "coverage")
    assert ID_NUMBER not in reply.text
    assert MASKED_ID in reply.text


def test_contributions_default_to_the_latest_period_in_chinese(ask: Ask) -> None:
    reply = ask("E001", "缴费明细")
    assert reply.text == (
        "2025-06 缴费明细\n"
        "养老保险：单位 ¥1,920.00，个人 ¥960.00（基数 ¥12,000.00）\n"
        "医疗保险：单位 ¥1,176.00，个人 ¥240.00（基数 ¥12,000.00）\n"
        "失业保险：单位 ¥60.00，个人 ¥60.00（基数 ¥12,000.00）\n"
        "工伤保险：单位 ¥24.00，个人 ¥0.00（基数 ¥12,000.00）\n"
        "大额医疗互助：单位 ¥0.00，个人 ¥3.00\n"
        "合计：单位 ¥3,180.00，个人 ¥1,263.00，共 ¥4,443.00"
    )
    assert reply.card is not None
    assert len(reply.card.fields) == 6


def test_contributions_for_a_period_in_english_hk(ask: Ask) -> None:
    reply = ask("E005", "contributions 2025-05", locale="en")
    assert reply.text == (
        "Contributions for 2025-05\n"
        "MPF: employer HK$1,000.00, employee HK$1,000.00 (base HK$20,000.00)\n"
        "Total: employer HK$1,000.00, employee HK$1,000.00, together HK$2,000.00"
    )


def test_contributions_show_only_the_askers_lines(ask: Ask) -> None:
    """E002 earns 30000: none of their figures may appear in E001's answer."""
    reply = ask("E001", "contributions 2025-06", locale="en")
    assert "30000.00" not in reply.text and "4800.00" not in reply.text
    # No command takes a person: naming someone else is just an unexpected argument.
    assert ask("E001", "contributions E002", locale="en").text.startswith("“E002” is not a month")


def test_contributions_in_a_group_mask_the_base_and_are_ephemeral(ask: Ask) -> None:
    reply = ask("E001", "缴费明细 2025-06", is_direct=False)
    assert reply.ephemeral
    assert "12000" not in reply.text
    assert "养老保险：单位 ¥1,920.00，个人 ¥960.00（基数 ***）" in reply.text
    assert reply.text.endswith("群聊中不显示缴费基数；私聊我可查看。")
    assert reply.card is not None
    assert all("12000" not in field.value for field in reply.card.fields)


def test_contributions_for_a_period_without_lines(ask: Ask) -> None:
    assert ask("E001", "contributions 2024-01", locale="en").text == (
        "No contributions are recorded for you in 2024-01."
    )
    assert ask("E007", "缴费明细").text == "还没有你的缴费记录。"


def test_personal_commands_on_both_databases(any_app: AppContext) -> None:
    ask = asker(any_app)
    assert "已缴至：2025-05" in ask("E001", "我的医保").text
    assert "together ¥4,443.00" in ask("E001", "contributions", locale="en").text


def test_hk_staff_are_never_called_suspended(app: AppContext) -> None:
    """MPF arrears are the employer's debt: months unpaid are listed, cover stays active."""
    later = replace(app, clock=lambda: datetime(2025, 10, 20, 2, tzinfo=UTC))
    reply = asker(later)("E005", "coverage", locale="en")
    assert reply.card is not None
    fields = {field.label: field.value for field in reply.card.fields}
    assert fields["Status"] == "active"
    assert fields["Unpaid months"].startswith("2025-06")
    assert "Suspension date" not in fields


def test_cover_dates_from_an_unpublished_calendar_are_marked(
    ask: Ask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 5: with 2025's holiday notice unknown to the libraries, the next due date
    and the suspension date counted from it read ≈ in `coverage` and `who`, with the notes."""
    monkeypatch.setattr(calendars, "cn_official_years", lambda: frozenset(range(2004, 2025)))
    keys = ("calendar_estimate", "suspension_calendar_estimate")
    notes = [translate(ZH_CN, f"coverage.{key}") for key in keys]
    for reply in (ask("E001", "我的医保"), ask("E003", "查 E001")):
        assert "下次缴费截止：≈2025-06-16" in reply.text
        assert "停保日期：≈2025-07-01" in reply.text
        assert all(note in reply.text for note in notes)
