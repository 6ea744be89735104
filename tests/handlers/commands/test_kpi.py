"""`kpi`: a compact summary from `core.kpis` — managers their department, HR the company."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from storage.db import session_scope
from storage.models import Alert
from tests.support.company import Ask, asker

OPENED = datetime(2025, 5, 20, 0, 0, tzinfo=UTC)


@pytest.fixture
def may_alerts(app: AppContext) -> None:
    """Two Beijing alerts in May: one acknowledged after 30 minutes, one never."""
    with session_scope(app.engine) as session:
        session.add(
            Alert(
                dedupe_key="due_soon:beijing:2025-05",
                kind="due_soon",
                account_id="beijing",
                period="2025-05",
                opened_at=OPENED,
                updated_at=OPENED,
                state="acknowledged",
                acknowledged_by="E003",
                acknowledged_at=OPENED + timedelta(minutes=30),
            )
        )
        session.add(
            Alert(
                dedupe_key="overdue:beijing:2025-05",
                kind="overdue",
                account_id="beijing",
                period="2025-05",
                opened_at=OPENED + timedelta(days=1),
                updated_at=OPENED + timedelta(days=1),
            )
        )


@pytest.mark.usefixtures("may_alerts")
def test_hr_sees_the_company_in_chinese(ask: Ask) -> None:
    # Beijing paid May late, Hong Kong on time; both paid to the cent.
    assert ask("E003", "绩效 2025-05").text == (
        "2025-05 绩效（全公司）\n"
        "按时缴费率：50.0%\n"
        "缴费准确率：100.0%\n"
        "参保及时率：无\n"
        "告警确认：已确认 1 条，平均 30 分钟，P90 30 分钟，60 分钟内确认 50.0%"
    )


@pytest.mark.usefixtures("may_alerts")
def test_manager_sees_only_their_department_in_english(ask: Ask) -> None:
    assert ask("E002", "kpi 2025-05", locale="en").text == (
        "KPIs for 2025-05 (Engineering)\n"
        "On-time payment: 0.0%\n"
        "Payment accuracy: 100.0%\n"
        "Enrolment timeliness: none\n"
        "Alert acknowledgement: 1 acknowledged, mean 30 min, p90 30 min, within 60 min 50.0%"
    )
    sales = ask("E006", "kpi 2025-05", locale="en").text
    assert "(Sales)" in sales and "On-time payment: 100.0%" in sales
    assert "0 acknowledged, mean none" in sales


def test_enrolment_timeliness_counts_the_periods_hires(ask: Ask) -> None:
    assert "参保及时率：100.0%" in ask("E003", "绩效 2024-01").text
    assert "Enrolment timeliness: 100.0%" in ask("E002", "kpi 2024-01", locale="en").text


def test_kpi_defaults_to_the_last_complete_month(ask: Ask) -> None:
    # Today is 2025-06-25: June is unfinished, so May (Beijing paid late, Hong Kong on time).
    reply = ask("E003", "kpi", locale="en").text
    assert reply.startswith("KPIs for 2025-05 (whole company)\nOn-time payment: 50.0%\n")


def test_finance_sees_the_company_kpis(ask: Ask) -> None:
    # E004 works for the Hong Kong account: answered in Traditional Chinese.
    assert ask("E004", "绩效").text.startswith("2025-05 績效（全公司）\n按時供款率：50.0%")


def test_employees_are_refused(ask: Ask) -> None:
    assert ask("E001", "kpi").text == translate(ZH_CN, "error.forbidden")


def test_kpi_bad_period_gets_usage(ask: Ask) -> None:
    assert ask("E003", "kpi May", locale="en").text == (
        "“May” is not a month; write it as YYYY-MM, e.g. 2025-06.\nUsage: kpi [YYYY-MM]"
    )


def test_kpi_on_both_databases(any_app: AppContext) -> None:
    assert "Payment accuracy: 100.0%" in asker(any_app)("E003", "kpi 2025-05", locale="en").text
