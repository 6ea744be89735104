"""`dues --force/--void`, `import salaries`, late-fee payments and `policy show/check` end to
end through the CLI (ARCHITECTURE.md §3), on a temporary SQLite file. Today is 2026-11-20."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.support.cli import cli, company, snapshot, write


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/cli.db"
    company(db, tmp_path)
    return db


def test_a_period_after_next_month_is_refused_without_force(url: str) -> None:
    before = snapshot(url)
    refused = cli(url, "dues", "--period", "2030-01")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: dues 2030-01: a period later than next month (2026-12) is refused as a likely "
        "typo; add --force to compute it anyway"
    )
    assert snapshot(url) == before
    assert cli(url, "dues", "--period", "2026-12").exit_code == 0  # next month is fine
    assert cli(url, "dues", "--period", "2030-01", "--force").exit_code == 0


def test_void_removes_a_mistyped_period_and_chat_defaults_ignore_future_ones(url: str) -> None:
    assert cli(url, "dues", "--period", "2026-11").exit_code == 0
    assert cli(url, "dues", "--period", "2030-01", "--force").exit_code == 0
    # Before voiding, the chat default is still the period due now, not 2030-01.
    assert "2026-11" in cli(url, "ask", "--as", "H001", "dues").stdout.splitlines()[0]
    assert "2026-11" in cli(url, "ask", "--as", "E001", "contributions").stdout

    voided = cli(url, "dues", "--period", "2030-01", "--void")
    assert voided.exit_code == 0, voided.output
    assert voided.stdout.strip() == "dues 2030-01: ledger voided for 3 account(s)"
    audit = json.loads(cli(url, "audit", "--json").stdout)
    assert any(entry["action"] == "ledger.void" for entry in audit["entries"])


def test_void_is_refused_once_paid(url: str, tmp_path: Path) -> None:
    assert cli(url, "dues", "--period", "2026-11").exit_code == 0
    pay = write(tmp_path, "pay.csv", "account,period,amount,paid_on\nhk,2026-11,100,2026-11-18\n")
    assert cli(url, "import", "payments", str(pay)).exit_code == 0
    refused = cli(url, "dues", "--period", "2026-11", "--void")
    assert refused.exit_code == 1
    assert refused.stderr.strip() == (
        "error: dues 2026-11 --void: 2026-11 has 1 payment(s) recorded against it; not voided"
    )


def test_import_salaries_sets_the_base_of_a_month(url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "s.csv", "工号,生效月份,缴费基数\nE001,2026-11,25000\n")
    result = cli(url, "import", "salaries", str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith("1 rows, 1 created, 0 updated")
    document = json.loads(cli(url, "dues", "--period", "2026-11", "--json").stdout)
    (e001,) = [row for row in document["employees"] if row["employee_id"] == "E001"]
    assert e001["base"] == "25000.00"
    october = json.loads(cli(url, "dues", "--period", "2026-10", "--json").stdout)
    (e001,) = [row for row in october["employees"] if row["employee_id"] == "E001"]
    assert e001["base"] == "20000.00"  # before the row: the imported salary


def test_a_late_fee_payment_is_recorded_and_never_pays_principal(url: str, tmp_path: Path) -> None:
    assert cli(url, "dues", "--period", "2026-11").exit_code == 0
    pay = write(
        tmp_path,
        "fee.csv",
        "account,period,amount,paid_on,类型\nshanghai,2026-11,10.00,2026-11-19,滞纳金\n",
    )
    assert cli(url, "import", "payments", str(pay)).exit_code == 0
    text = cli(url, "ask", "--as", "H001", "arrears").stdout
    shanghai = next(line for line in text.splitlines() if line.startswith("上海"))
    assert "已缴 ¥10.00" in shanghai  # the fee paid; the principal is still all owed
    assert "欠缴 ¥5,424.00" in shanghai


def test_policy_show_json_names_sources_and_confirmation(url: str) -> None:
    result = cli(url, "policy", "show", "shanghai", "--period", "2024-07", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    injury = next(rule for rule in document["schemes"] if rule["scheme"] == "injury")
    assert (injury["employer_rate_min"], injury["employer_rate_max"]) == ("0.0016", "0.0152")
    assert injury["confirmed"] is True and "Forvis Mazars" in injury["source"]
    assert document["due"]["due_date"] == "2024-07-15"
    unknown = cli(url, "policy", "show", "atlantis")
    assert unknown.exit_code == 1 and "unknown policy 'atlantis'" in unknown.stderr


def test_policy_check_lists_unconfirmed_figures_and_calendar_reach(url: str) -> None:
    result = cli(url, "policy", "check")
    assert result.exit_code == 0, result.output
    assert "guangzhou" in result.stdout and "unconfirmed" in result.stdout
    assert "hk: next_working_day_hk: general holidays through" in result.stdout
    assert "beijing: next_working_day_cn: official through 20" in result.stdout


def test_a_due_date_in_a_year_without_a_published_calendar_is_flagged(url: str) -> None:
    # Beijing has no unconfirmed rate in 2026-10, but a year the holiday notice has not
    # covered yet makes the due date (and so the dues' late-fee basis) an estimate.
    current = json.loads(cli(url, "dues", "--period", "2026-11", "--json").stdout)
    assert {row["account"]: row["provisional"] for row in current["accounts"]}["beijing"] is False
    ahead = cli(url, "dues", "--period", "2031-09", "--force", "--json")
    assert ahead.exit_code == 0, ahead.output
    flags = {row["account"]: row["provisional"] for row in json.loads(ahead.stdout)["accounts"]}
    assert flags["beijing"] is True
    text = cli(url, "ask", "--as", "H001", "dues 2031-09").stdout
    assert "≈2031-09-15" in text and "截止日（当年放假安排未发布" in text
    # The text summary marks the date (not the total: Beijing's rates are confirmed).
    summary = cli(url, "dues", "--period", "2031-09", "--force").stdout
    [beijing] = [line for line in summary.splitlines() if line.strip().startswith("beijing")]
    assert "due ≈2031-09-15" in beijing and "total ≈" not in beijing
    assert "holiday calendar" in summary and "a rule behind it" not in summary


def test_coverage_flags_a_next_due_date_from_an_unpublished_calendar(url: str) -> None:
    later = CliRunner().invoke(
        app, ["--db", url, "--today", "2031-12-01", "ask", "--as", "E001", "coverage"]
    )
    assert later.exit_code == 0, later.output
    assert "≈2031-12-15" in later.stdout and "下次截止日为估算" in later.stdout
    now = cli(url, "ask", "--as", "E001", "coverage").stdout
    assert "≈" not in now and "下次截止日为估算" not in now
