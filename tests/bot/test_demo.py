"""`coverwatch demo` and `make demo`: the seeded story holds on any day, and the chat answers."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from bot.app import fixed_clock, open_app
from bot.cli import app
from bot.config import DatabaseConfig, Settings
from bot.demo import ACCOUNTS, ESTIMATE_ACCOUNT, prepare_database, seed
from bot.demo_company import NEW_HIRE_DAYS_AGO, build_company
from bot.demo_story import LATE_HIRE_DAYS_AGO
from bot.wiring import routing_from, rules_from
from storage.accounts import account_policies
from storage.coverage import employee_cover
from storage.db import make_engine
from storage.models import Alert, Delivery, Employee, Payment
from storage.payments import arrears, latest_balances
from storage.scan import run_scan
from tests.support.cli import company, snapshot

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_DAY = date(2026, 11, 26)


def _check_digit(body: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def test_the_company_is_stable_and_realistic() -> None:
    people, cast = build_company(DEMO_DAY)
    assert (people, cast) == build_company(DEMO_DAY)
    assert len(people) == 200 and len({p.employee_id for p in people}) == 200
    assert {p.account for p in people} == set(ACCOUNTS) - {ESTIMATE_ACCOUNT}  # moved by seed
    ids = {p.employee_id: p for p in people}
    assert all(p.manager_id is None or p.manager_id in ids for p in people)
    assert {"hr", "finance", "manager", "admin"} <= {p.role for p in people}
    assert len({p.department for p in people}) >= 6
    assert sum(p.slack_user_id is not None for p in people) > 40
    assert any(p.locale == "en" for p in people) and any(p.account == "hk" for p in people)
    mainland = [p.id_number for p in people if p.account != "hk" and p.id_number]
    assert mainland and all(n[-1] == _check_digit(n[:17]) for n in mainland)
    hire = ids[cast.new_hire]
    assert hire.enrolled_on is None
    assert hire.hire_date == DEMO_DAY - timedelta(days=NEW_HIRE_DAYS_AGO)
    assert ids[cast.hr].role == "hr" and ids[cast.manager].role == "manager"
    assert ids[cast.leaver].leave_date is not None


@pytest.mark.parametrize(
    "today", [date(2026, 11, 26), date(2026, 2, 20), date(2026, 7, 1), date(2027, 1, 14)]
)
def test_the_story_holds_on_any_day(tmp_path: Path, today: date) -> None:
    settings = Settings(database=DatabaseConfig(url=f"sqlite:///{tmp_path}/demo.db"))
    prepare_database(make_engine(settings.database.url), reset=False)
    context = open_app(settings, clock=fixed_clock(today, SHANGHAI))
    story = seed(context, tmp_path)
    with Session(context.engine) as session:
        accounts = account_policies(session, context.policies)
        assert {a.account_id: a.currency for a in accounts.values()} == {
            "beijing": "CNY",
            "shanghai": "CNY",
            "hk": "HKD",
            "hangzhou": "CNY",
        }
        # Money over time: one adjustment (a back-dated band), due after today, and one
        # account whose amounts are estimates.
        assert story.adjusted is not None
        period, change = story.adjusted
        assert period == story.periods[0]
        assert change.amount != 0 and change.due_date > today and change.computed_on == today
        assert accounts[ESTIMATE_ACCOUNT].estimates(story.periods[-1])
        estimated = session.get(Employee, story.estimated)
        assert estimated is not None and estimated.account_id == ESTIMATE_ACCOUNT
        # One account is suspended: its one employee's cover is.
        cover = employee_cover(session, estimated, accounts[estimated.account_id], today)
        assert cover.state == "suspended" and str(story.suspended.period) in map(str, cover.arrears)
        assert session.exec(select(func.count()).select_from(Employee)).one() == 200
        late = [a for a in arrears(session, accounts, today) if a.account_id == "shanghai"]
        assert [str(a.period) for a in late] == [story.late.period]
        assert late[0].paid == 0 and late[0].outstanding == story.late.total
        # Its suspension is still ahead, with days enough for `分期 ID 3`.
        assert late[0].suspension_on is not None and late[0].suspension_on > today + timedelta(3)
        partial_paid = session.exec(
            select(func.sum(Payment.amount)).where(
                Payment.account_id == "hk", Payment.period == story.partial.period
            )
        ).one()
        assert Decimal(0) < partial_paid < story.partial.total
        assert story.partial.due_date >= today - timedelta(days=4)
        assert latest_balances(session, today)["hk"].balance < story.partial.total - partial_paid
        not_enrolled = session.exec(select(Employee).where(col(Employee.enrolled_on).is_(None)))
        assert sorted(e.hire_date for e in not_enrolled) == [
            today - timedelta(days=LATE_HIRE_DAYS_AGO),
            today - timedelta(days=NEW_HIRE_DAYS_AGO),
        ]
    run_scan(
        context.engine,
        as_of=today,
        now=context.now(),
        policies=context.policies,
        rules=rules_from(settings),
        routing=routing_from(settings),
    )
    with Session(context.engine) as session:
        kinds = {(a.kind, a.account_id) for a in session.exec(select(Alert))}
    assert {("overdue", "shanghai"), ("funding_gap", "hk")} <= kinds
    assert ("enrollment_deadline", "beijing") in kinds


def _demo(url: str, script: str) -> str:
    result = CliRunner().invoke(
        app, ["--db", url, "--today", DEMO_DAY.isoformat(), "demo"], input=script
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _answers(output: str) -> dict[str, str]:
    """Each `USER> question` of the transcript with the reply printed after it."""
    answers: dict[str, str] = {}
    for block in output.split("\n\n"):
        lines = block.strip().splitlines()
        questions = [i for i, line in enumerate(lines) if "> " in line[:8]]
        if questions:
            first = questions[-1]
            answers[lines[first]] = "\n".join(lines[first + 1 :])
    return answers


def test_the_demo_dates_its_adjustment_by_the_local_day(tmp_path: Path) -> None:
    """02:45 in Shanghai is still yesterday in UTC: the recompute is dated the local day."""
    settings = Settings(database=DatabaseConfig(url=f"sqlite:///{tmp_path}/demo.db"))
    prepare_database(make_engine(settings.database.url), reset=False)
    context = open_app(settings, clock=lambda: datetime(2026, 12, 4, 18, 45, tzinfo=UTC))
    assert context.today() == date(2026, 12, 5)
    story = seed(context, tmp_path)
    assert story.adjusted is not None
    assert story.adjusted[1].computed_on == date(2026, 12, 5)


def test_demo_seeds_and_answers_real_questions(tmp_path: Path) -> None:
    _people, cast = build_company(DEMO_DAY)
    output = _demo(
        f"sqlite:///{tmp_path}/demo.db",
        f"我的医保\n/as {cast.employee}\ncontributions\ndues\n"
        f"/as {cast.at_risk}\n我的医保\n/as {cast.hr}\n欠费\n/quit\n",
    )
    assert output.startswith("coverwatch demo: a company of 200 seeded into")
    assert f"{cast.hr}  王芳" in output and "Ask: 我的医保" in output
    answers = _answers(output)
    assert "正常参保" in answers[f"{cast.hr}> 我的医保"]
    breakdown = answers[f"{cast.employee}> contributions"]
    assert "2026-11 缴费明细" in breakdown and "养老保险：单位" in breakdown
    assert "没有权限" in answers[f"{cast.employee}> dues"]
    assert "欠费宽限期" in answers[f"{cast.at_risk}> 我的医保"]
    arrears_answer = answers[f"{cast.hr}> 欠费"]
    assert "上海 2026-11" in arrears_answer and "逾期 3 天" in arrears_answer
    # Issue 14: each company-wide alert reaches its account's one owner, not all 15 HR and
    # finance users; an enrolment deadline the owner and the hire's manager; an overdue month
    # past its suspension date (Hangzhou) nobody: its suspension alert speaks for the debt.
    with Session(make_engine(f"sqlite:///{tmp_path}/demo.db")) as session:
        alerts = session.exec(select(Alert)).all()
        per_alert = {
            alert.id: session.exec(
                select(func.count()).select_from(Delivery).where(Delivery.alert_id == alert.id)
            ).one()
            for alert in alerts
        }
    expected = {a.id: 2 if a.kind == "enrollment_deadline" else 1 for a in alerts}
    expected |= {a.id: 0 for a in alerts if a.inhibited_by is not None}
    assert [a.kind for a in alerts if a.inhibited_by is not None] == ["overdue"]
    assert alerts and per_alert == expected


def test_demo_refuses_a_database_that_holds_a_company(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    _demo(url, "")
    before = snapshot(url)
    result = CliRunner().invoke(app, ["--db", url, "demo"], input="")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: the database already holds employees: use --reset to wipe it first"
    )
    assert snapshot(url) == before
    again = CliRunner().invoke(
        app, ["--db", url, "--today", DEMO_DAY.isoformat(), "demo", "--reset"], input=""
    )
    assert again.exit_code == 0
    assert len(snapshot(url)["employee"]) == 200


def test_demo_reset_refuses_a_database_it_did_not_create(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/company.db"
    company(url, tmp_path)  # a real company: `init` and `import employees`, no demo
    before = snapshot(url)
    refused = CliRunner().invoke(app, ["--db", url, "demo", "--reset"], input="")
    assert refused.exit_code == 1
    assert refused.stderr == (
        "error: refusing to wipe: this database was not created by `coverwatch demo` "
        "(it holds a real company?); add --force to wipe it anyway\n"
    )
    assert snapshot(url) == before
    forced = CliRunner().invoke(
        app,
        ["--db", url, "--today", DEMO_DAY.isoformat(), "demo", "--reset", "--force"],
        input="",
    )
    assert forced.exit_code == 0, forced.output
    assert len(snapshot(url)["employee"]) == 200


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_chats_with_a_scripted_stdin() -> None:
    today = datetime.now(UTC).astimezone(SHANGHAI).date()
    _people, cast = build_company(today)
    script = f"我的医保\n/as {cast.employee}\n缴费明细\n待缴\n/as {cast.hr}\n欠费\n"
    result = subprocess.run(
        ["make", "demo"], cwd=ROOT, input=script, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "coverwatch demo: a company of 200 seeded into demo.db" in result.stdout
    answers = _answers(result.stdout[result.stdout.index("coverwatch demo") :])
    assert "正常参保" in answers[f"{cast.hr}> 我的医保"]
    assert "养老保险" in answers[f"{cast.employee}> 缴费明细"]
    assert "没有权限" in answers[f"{cast.employee}> 待缴"]
    assert "上海" in answers[f"{cast.hr}> 欠费"]


def test_hr_enrols_and_removes_from_the_demo_chat(tmp_path: Path) -> None:
    """`make demo` shows 增员 and 减员: the guide suggests them and the chat carries them out."""
    _, cast = build_company(DEMO_DAY)
    output = _demo(
        f"sqlite:///{tmp_path}/demo.db",
        f"参保 {cast.new_hire}\n减员 {cast.at_risk} 2026-11-30\n查 {cast.late_hire}\n",
    )
    assert f"HR: 参保 {cast.new_hire} (增员) · 减员 {cast.at_risk} 2026-11-30" in output
    answers = _answers(output)
    enrolled = answers[f"{cast.hr}> 参保 {cast.new_hire}"]
    assert "记录参保（增员）：参保日期 2026-11-26" in enrolled and "已解决" in enrolled
    left = answers[f"{cast.hr}> 减员 {cast.at_risk} 2026-11-30"]
    assert "记录离职（减员）：离职日期 2026-11-30，2026-11 之后不再计缴" in left
    assert "注意：2026-12" not in left or "应缴已计算过" in left
    assert "逾期" in answers[f"{cast.hr}> 查 {cast.late_hire}"]
