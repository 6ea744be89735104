"""`dues` and `arrears`: company figures for HR and finance, refused to everyone else."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from core import calendars
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from tests.support.company import Ask, asker


def test_dues_default_to_the_latest_period_in_chinese(ask: Ask) -> None:
    assert ask("E003", "待缴").text == (
        "2025-06 待缴\n"
        "北京：共 ¥21,099.00（单位 ¥15,105.00，个人 ¥5,994.00，3 人），"
        "截止 2025-06-16，已缴 ¥1,000.00\n"
        "香港强积金：共 HK$7,500.00（单位 HK$3,750.00，个人 HK$3,750.00，3 人），"
        "截止 2025-07-10，已缴 HK$0.00"
    )


def test_dues_for_a_period_in_english(ask: Ask) -> None:
    assert ask("E004", "dues 2025-05", locale="en").text == (
        "Dues for 2025-05\n"
        "Beijing: ¥21,099.00 (employer ¥15,105.00, employee ¥5,994.00, 3 people), "
        "due 2025-05-15, paid ¥21,099.00\n"
        "Hong Kong MPF: HK$7,500.00 (employer HK$3,750.00, employee HK$3,750.00, 3 people), "
        "due 2025-06-10, paid HK$7,500.00"
    )


def test_dues_for_a_period_never_computed(ask: Ask) -> None:
    assert ask("E003", "dues 2030-01", locale="en").text == (
        "No dues have been computed for 2030-01 yet."
    )
    assert ask("E003", "待缴 2030-1").text.endswith("用法：待缴 [YYYY-MM]")


def test_arrears_show_outstanding_late_fee_days_and_suspension(ask: Ask) -> None:
    # 20099.00 unpaid for 9 days (17..25 June) at 0.05 % a day = 90.4455 -> 90.45. May's dues
    # were paid late and its fee never was: it stays listed until a late-fee payment.
    assert ask("E003", "欠费").text == (
        "截至 2025-06-25 的欠费\n"
        "北京 2025-05：社保费已缴（逾期 10 天，截止 2025-05-15）；"
        "滞纳金已产生 ¥105.50，已缴 ¥0.00，未缴 ¥105.50\n"
        "北京 2025-06：欠缴 ¥20,099.00，逾期 9 天（截止 2025-06-16），停保日期 2025-07-01；"
        "滞纳金已产生 ¥90.45，已缴 ¥0.00，未缴 ¥90.45"
    )
    assert ask("E004", "arrears", locale="en").text.endswith(
        "Beijing 2025-06: ¥20,099.00 outstanding, 9 days overdue (due 2025-06-16), "
        "suspension on 2025-07-01; late fee accrued ¥90.45, paid ¥0.00, outstanding ¥90.45"
    )


@pytest.mark.parametrize("user", ["E001", "E002", "E006", "E007"])
@pytest.mark.parametrize("text", ["dues", "待缴 2025-06", "arrears", "欠费"])
def test_employees_and_managers_are_refused(ask: Ask, user: str, text: str) -> None:
    reply = ask(user, text, locale=ZH_CN)
    assert reply.text == translate(ZH_CN, "error.forbidden")
    assert "CNY" not in reply.text


def test_company_commands_on_both_databases(any_app: AppContext) -> None:
    ask = asker(any_app)
    assert "paid ¥1,000.00" in ask("E003", "dues", locale="en").text
    assert "late fee accrued ¥90.45" in ask("E004", "arrears", locale="en").text


def test_hk_arrears_name_no_suspension_date(app: AppContext) -> None:
    """Hong Kong MPF suspends no cover (no [suspension] rule): its arrears line says none."""
    later = replace(app, clock=lambda: datetime(2025, 8, 20, 2, tzinfo=UTC))
    lines = asker(later)("E004", "arrears", locale="en").text.splitlines()
    [hk] = [line for line in lines if line.startswith("Hong Kong MPF ")]
    assert hk.startswith("Hong Kong MPF 2025-06: HK$7,500.00 outstanding")
    assert "suspension" not in hk


def test_a_configured_account_name_overrides_the_policy_names(app: AppContext) -> None:
    named = replace(app, account_names={"beijing": "北京总部"})
    lines = asker(named)("E003", "待缴 2025-05").text.splitlines()
    assert lines[1].startswith("北京总部：共 ¥21,099.00")
    assert (
        asker(named)("E003", "dues 2025-05", locale="en")
        .text.splitlines()[1]
        .startswith("北京总部: ¥21,099.00")
    )


def test_dates_from_an_unpublished_calendar_are_marked_in_arrears(
    ask: Ask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 5: with 2025's holiday notice unknown to the libraries (as 2027's is
    today), the due date and the suspension date counted from it are both estimates."""
    monkeypatch.setattr(calendars, "cn_official_years", lambda: frozenset(range(2004, 2025)))
    text = ask("E004", "arrears", locale="en").text
    assert "(due ≈2025-06-16), suspension on ≈2025-07-01" in text
    figures = ", ".join(
        translate("en", key, account="Beijing")
        for key in ("dues.calendar_estimate", "dues.suspension_estimate")
    )
    assert text.endswith(translate("en", "dues.estimate", figures=figures))
    assert "≈2025-06-10" not in ask("E004", "dues 2025-05", locale="en").text  # Hong Kong
