"""`enroll`, `leave`, `who`: HR's roster changes from chat, refusals and the audit trail.

The company of tests/handlers/conftest.py: E003 is HR, E002 manages E001, E004 is finance,
E007 was hired 2025-06-03 and is not enrolled; today is 2025-06-25 (deadline 2025-07-03).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from core.alerts import AlertKind, dedupe_key
from core.locales import ZH_CN
from handlers.context import AppContext
from handlers.i18n import translate
from storage.audit import audit_entries
from storage.db import session_scope
from storage.models import Alert, Employee
from tests.handlers.commands.test_alerts import add_alert
from tests.support.company import ID_NUMBER, Ask, asker

FORBIDDEN = translate(ZH_CN, "error.forbidden")


def employee(engine: Engine, employee_id: str) -> Employee:
    with session_scope(engine) as session:
        found = session.get(Employee, employee_id)
        assert found is not None
        return found


def trail(engine: Engine) -> list[tuple[str, str, str | None, str]]:
    with session_scope(engine) as session:
        return [
            (e.actor, e.action, e.subject, e.detail)
            for e in audit_entries(session)
            if not e.action.startswith("ledger.")  # the fixture's dues runs
        ]


def test_enroll_records_resolves_the_alert_audits_and_undoes(app: AppContext, ask: Ask) -> None:
    key = dedupe_key(AlertKind.ENROLLMENT_DEADLINE, employee_id="E007")
    alert_id = add_alert(app.engine, "enrollment_deadline", key, employee_id="E007")
    reply = ask("E003", "参保 E007")
    assert reply.text == (
        "已为 孙九（E007）记录参保（增员）：参保日期 2025-06-25，参保地 北京。\n"
        f"参保期限告警 #{alert_id} 已解决。\n"
        "如需撤销，发送“参保 E007 撤销”。"
    )
    assert employee(app.engine, "E007").enrolled_on == date(2025, 6, 25)
    with session_scope(app.engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.state == "resolved"
    undone = ask("E003", "参保 E007 撤销")
    assert undone.text == (
        "已撤销 孙九（E007）的参保记录：现为未参保。\n如需撤销，发送“参保 E007 2025-06-25”。"
    )
    assert employee(app.engine, "E007").enrolled_on is None
    assert trail(app.engine) == [
        ("E003", "enroll", "E007", "enrolled_on - -> 2025-06-25"),
        ("E003", "enroll", "E007", "enrolled_on 2025-06-25 -> -"),
    ]


def test_enroll_in_english_with_a_date_says_it_was_late(app: AppContext, ask: Ask) -> None:
    with session_scope(app.engine) as session:
        hire = session.get(Employee, "E007")
        assert hire is not None
        hire.hire_date = date(2025, 5, 1)  # deadline 2025-05-31
    reply = ask("E003", "enroll e007 2025-06-10", locale="en")
    assert reply.text.splitlines() == [
        "Enrolled 孙九 (E007) on 2025-06-10 in Beijing.",
        "That is after the registration deadline 2025-05-31 (10 days late).",
        "To undo, send “enroll E007 undo”.",
    ]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("参保 E999", "没有工号为 E999 的员工，或你无权查看。"),
        ("参保 E007 2025-05-01", "参保日期不能早于入职日期 2025-06-03。"),
        ("参保 E007 2025-07-01", "参保日期 2025-07-01 还没到：请在办理后再记录。"),
        ("参保 E007 撤销", "孙九（E007）尚未参保，无需撤销。"),
        ("参保 E001 2024-01-02", "张三（E001）的记录已是如此，未作修改。"),
        ("减员 E001 2023-12-31", "离职日期不能早于入职日期 2024-01-02。"),
    ],
)
def test_bad_changes_get_a_clear_answer_and_change_nothing(
    app: AppContext, ask: Ask, text: str, answer: str
) -> None:
    assert ask("E003", text).text == answer
    assert trail(app.engine) == []
    assert employee(app.engine, "E007").enrolled_on is None
    assert employee(app.engine, "E001").leave_date is None


def test_a_bad_date_gets_the_usage(ask: Ask) -> None:
    assert ask("E003", "减员 E001 6月30日").text == (
        "“6月30日”不是有效的日期，请写成 YYYY-MM-DD，例如 2026-12-04；撤销请写“撤销”。\n"
        "用法：减员 工号 YYYY-MM-DD"
    )


def test_leave_stops_dues_reminds_the_bureau_and_flags_computed_months(
    app: AppContext, ask: Ask
) -> None:
    reply = ask("E003", "减员 E001 2025-05-20")
    assert reply.text.splitlines() == [
        "已为 张三（E001）记录离职（减员）：离职日期 2025-05-20，2025-05 之后不再计缴。",
        "请在 2025-06-16（2025-06 的缴费截止日）前到 北京 的经办机构办理减员、停止缴费。",
        "注意：2025-06 的应缴已计算过，请重新计算（coverwatch dues --period YYYY-MM）。",
        "如需撤销，发送“减员 E001 撤销”。",
    ]
    assert employee(app.engine, "E001").leave_date == date(2025, 5, 20)
    assert ask("E003", "减员 E001 撤销").text.startswith("已撤销 张三（E001）的离职日期")
    assert employee(app.engine, "E001").leave_date is None
    assert [row[3] for row in trail(app.engine)] == [
        "leave_date - -> 2025-05-20",
        "leave_date 2025-05-20 -> -",
    ]


@pytest.mark.parametrize("user", ["E001", "E002", "E004"])
def test_only_hr_may_change_the_roster(app: AppContext, ask: Ask, user: str) -> None:
    assert ask(user, "参保 E007", locale=ZH_CN).text == FORBIDDEN
    assert ask(user, "leave E001 2025-06-30", locale=ZH_CN).text == FORBIDDEN
    assert employee(app.engine, "E007").enrolled_on is None
    assert employee(app.engine, "E001").leave_date is None
    assert trail(app.engine) == []


def test_who_for_hr_shows_base_and_masked_id_and_is_audited(app: AppContext, ask: Ask) -> None:
    reply = ask("E003", "查 E001")
    assert reply.text.splitlines() == [
        "张三（E001）",
        "部门：Engineering",
        "参保地：北京",
        "状态：欠费宽限期（尚未停保）",
        "已缴至：2025-05",
        "下次缴费截止：2025-06-16",
        "参保日期：2024-01-02",
        "连续参保：17 个月（自 2024-01 起）",
        "停保日期：2025-07-01",
        "缴费基数（2025-06）：¥12,000.00",
        "证件号码：110101********1234",
    ]
    assert ID_NUMBER not in reply.text
    assert trail(app.engine) == [("E003", "view", "E001", "who")]


def test_who_in_a_group_is_ephemeral_and_masks_the_base(app: AppContext) -> None:
    reply = asker(app)("W003", "who E001", platform="wecom", is_direct=False, locale="en")
    assert reply.ephemeral
    assert "Contribution base (2025-06): ***" in reply.text
    assert "110101" not in reply.text


def test_who_of_a_new_hire_counts_the_days_to_the_deadline(ask: Ask) -> None:
    assert "参保日期：未参保（登记期限 2025-07-03，还剩 8 天）" in ask("E003", "查E007").text


def test_a_manager_sees_own_reports_without_base_or_id(app: AppContext, ask: Ask) -> None:
    reply = ask("E002", "查 E001")
    assert "状态：欠费宽限期（尚未停保）" in reply.text
    assert "缴费基数" not in reply.text and "证件号码" not in reply.text
    # Not a report of E002: the same answer as an unknown id.
    assert ask("E002", "查 E005").text == "没有工号为 E005 的员工，或你无权查看。"
    assert ask("E001", "查 E001").text == FORBIDDEN
    assert ask("E004", "查 E001", locale=ZH_CN).text == FORBIDDEN
    assert trail(app.engine) == [("E002", "view", "E001", "who (manager view)")]
