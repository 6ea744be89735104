"""`coverwatch init|dues|ask|alerts|scan` end to end on a temporary SQLite file."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from bot.cli import main
from storage.db import MIGRATIONS, head_revision, make_engine, schema_revision
from tests.support.cli import TODAY, cli, company, script, snapshot, write

AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
ALERT_KEYS = {
    "id",
    "kind",
    "state",
    "account",
    "employee_id",
    "period",
    "due_date",
    "principal",
    "late_fee",
    "days_overdue",
    "suspension_on",
    "recipients",
    "acknowledged_by",
    "acknowledged_at",
    "provisional",
    "group",
    "inhibited_by",
    "silenced_until",
}


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/cli.db"
    company(db, tmp_path)
    return db


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def _pay(url: str, folder: Path, period: str, *, accounts: tuple[str, ...]) -> None:
    """Pay the period's dues in full on 2026-11-10, before the due date."""
    totals = json.loads(cli(url, "dues", "--period", period, "--json").stdout)["accounts"]
    rows = [
        f"{a['account']},{period},{a['total']},2026-11-10"
        for a in totals
        if a["account"] in accounts
    ]
    path = write(folder, f"pay-{period}.csv", "account,period,amount,paid_on\n" + "\n".join(rows))
    assert cli(url, "import", "payments", str(path)).exit_code == 0


def test_init_says_created_upgraded_or_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/init.db"
    head = head_revision()
    first = cli(url, "init")
    assert (
        first.exit_code == 0 and first.stdout == f"created the database schema (revision {head})\n"
    )
    before = snapshot(url)
    assert "alembic_version" in before and "employee" in before
    again = cli(url, "init")
    assert again.stdout == f"the database schema is current (revision {head})\n"
    assert snapshot(url) == before
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:  # as a database left by the release before
        config.attributes["connection"] = connection
        command.downgrade(config, "-1")
    previous = schema_revision(engine)
    engine.dispose()
    upgraded = cli(url, "init")
    assert upgraded.stdout == f"upgraded the database schema from revision {previous} to {head}\n"


@pytest.mark.parametrize("command", ["alerts", "run"])
def test_a_command_before_init_says_to_run_init(tmp_path: Path, command: str) -> None:
    result = cli(f"sqlite:///{tmp_path}/empty.db", command)
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == (
        "error: the database has no coverwatch schema: run `coverwatch init` first"
    )


def test_dues_json_has_the_contract_shape(url: str) -> None:
    result = cli(url, "dues", "--period", "2026-11", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"period", "accounts", "employees"}
    assert document["period"] == "2026-11"
    accounts = {row["account"]: row for row in document["accounts"]}
    assert set(accounts) == {"beijing", "shanghai", "hk"}
    assert accounts["hk"]["currency"] == "HKD" and accounts["beijing"]["currency"] == "CNY"
    assert accounts["beijing"]["due_date"] == "2026-11-16"
    assert accounts["beijing"]["employees"] == 3
    for row in document["accounts"]:
        keys = {"account", "currency", "due_date", "employees", "employer_total"}
        assert set(row) == keys | {"employee_total", "total", "provisional", "adjustments"}
        assert row["provisional"] is False and row["adjustments"] == []
        assert all(AMOUNT.match(row[k]) for k in ("employer_total", "employee_total", "total"))
        assert Decimal(row["employer_total"]) + Decimal(row["employee_total"]) == Decimal(
            row["total"]
        )
    employees = {row["employee_id"]: row for row in document["employees"]}
    assert set(employees) == {"H001", "M001", "E001", "E002", "E003"}
    for row in employees.values():
        assert set(row) == {"employee_id", "account", "base", "lines"} | {
            "employer_total",
            "employee_total",
        }
        assert all(set(line) == {"scheme", "employer", "employee"} for line in row["lines"])
        employer = sum(Decimal(line["employer"]) for line in row["lines"])
        assert Decimal(row["employer_total"]) == employer
    # base: the pension band's clamped base (50000 is above Beijing's ceiling)...
    assert Decimal(employees["M001"]["base"]) < Decimal("50000")
    assert employees["E001"]["base"] == "20000.00"
    # ...and the first line's base where there is no pension line (Hong Kong MPF).
    assert [line["scheme"] for line in employees["E003"]["lines"]] == ["mpf"]
    assert employees["E003"]["base"] == "30000.00"


def test_dues_twice_leaves_the_same_ledger(url: str) -> None:
    first = cli(url, "dues", "--period", "2026-11", "--json")
    ledger = {k: v for k, v in snapshot(url).items() if k in {"ledger_line", "account_due"}}
    second = cli(url, "dues", "--period", "2026-11", "--json")
    assert first.stdout == second.stdout
    again = {k: v for k, v in snapshot(url).items() if k in {"ledger_line", "account_due"}}
    assert [len(rows) for rows in again.values()] == [len(rows) for rows in ledger.values()]
    assert len(again["ledger_line"]) > 5

    def strip_ids(rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return sorted(row[1:] for row in rows)

    assert {k: strip_ids(v) for k, v in again.items()} == {
        k: strip_ids(v) for k, v in ledger.items()
    }


def test_dues_text_summary(url: str) -> None:
    result = cli(url, "dues", "--period", "2026-11")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "dues 2026-11: 5 employees"
    assert "beijing" in result.stdout and "due 2026-11-16" in result.stdout


@pytest.mark.parametrize("period", ["2026-13", "26-11", "november"])
def test_a_bad_period_is_one_line_and_exit_1(url: str, period: str) -> None:
    result = cli(url, "dues", "--period", period)
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == (
        f"error: --period: not a period (expected YYYY-MM): {period!r}"
    )


def test_ask_json_answers_with_the_real_status(url: str, tmp_path: Path) -> None:
    cli(url, "dues", "--period", "2026-10")
    _pay(url, tmp_path, "2026-10", accounts=("beijing",))
    _pay(url, tmp_path, "2026-11", accounts=("beijing",))
    result = cli(url, "ask", "--as", "E001", "我的医保", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert set(document) == {"text", "card"}
    assert set(document["card"]) == {"title", "fields", "buttons"}
    fields = {field["label"]: field["value"] for field in document["card"]["fields"]}
    assert fields["状态"] == "正常参保"
    assert fields["已缴至"] == "2026-11"
    assert fields["证件号码"] == "110105********3456"
    assert "正常参保" in document["text"] and "2026-11" in document["text"]


def test_ask_shows_grace_for_an_unpaid_overdue_account(url: str) -> None:
    cli(url, "dues", "--period", "2026-11")
    result = cli(url, "ask", "--as", "E002", "我的医保")
    assert result.exit_code == 0
    assert "欠费宽限期" in result.stdout and "2026-12-01" in result.stdout


def test_ask_as_an_unknown_employee_fails(url: str) -> None:
    result = cli(url, "ask", "--as", "NOBODY", "help")
    assert result.exit_code == 1
    assert _one_error_line(result.stderr) == "error: --as: unknown employee id 'NOBODY'"


def test_scan_and_alerts_json_have_the_contract_shape(url: str) -> None:
    cli(url, "dues", "--period", "2026-11")
    scan = cli(url, "scan", "--at", TODAY, "--json")
    assert scan.exit_code == 0, scan.output
    scanned = json.loads(scan.stdout)
    assert scanned["at"] == TODAY
    overdue = {a["account"]: a for a in scanned["alerts"] if a["kind"] == "overdue"}
    assert set(overdue) == {"beijing", "shanghai"}
    shanghai = overdue["shanghai"]
    assert set(shanghai) == ALERT_KEYS
    assert shanghai["state"] == "open" and shanghai["period"] == "2026-11"
    assert shanghai["principal"] == "5424.00" and AMOUNT.match(shanghai["late_fee"])
    assert shanghai["days_overdue"] == 4 and shanghai["suspension_on"] == "2026-12-01"
    assert shanghai["recipients"] == ["H001"]  # HR; no finance staff in this company
    assert shanghai["acknowledged_by"] is None and shanghai["employee_id"] is None
    assert shanghai["provisional"] is False  # confirmed rules, a published 2026 calendar
    assert shanghai["group"] == "shanghai:2026-11"
    assert shanghai["inhibited_by"] is None and shanghai["silenced_until"] is None
    listed = json.loads(cli(url, "alerts", "--json").stdout)
    assert listed["at"] == TODAY
    assert {a["id"] for a in listed["alerts"]} == {a["id"] for a in scanned["alerts"]}
    assert all(set(a) == ALERT_KEYS for a in listed["alerts"])


def test_an_acknowledged_alert_is_listed_with_who_and_when(url: str) -> None:
    cli(url, "dues", "--period", "2026-11")
    alerts = json.loads(cli(url, "scan", "--json").stdout)["alerts"]
    alert_id = alerts[0]["id"]
    assert cli(url, "ask", "--as", "H001", f"ack {alert_id}").exit_code == 0
    listed = {a["id"]: a for a in json.loads(cli(url, "alerts", "--json").stdout)["alerts"]}
    assert listed[alert_id]["state"] == "acknowledged"
    assert listed[alert_id]["acknowledged_by"] == "H001"
    assert listed[alert_id]["acknowledged_at"].startswith("2026-11-20T02:00:00")


def test_alerts_text_when_there_are_none(url: str) -> None:
    result = cli(url, "alerts")
    assert result.exit_code == 0 and result.stdout.strip() == "no open alerts"


def test_a_bad_scan_date_is_one_line(url: str) -> None:
    result = cli(url, "scan", "--at", "2026-02-30")
    assert result.exit_code == 1
    assert _one_error_line(result.stderr).startswith("error: --at: not a date")


@pytest.mark.slow
def test_a_bad_config_is_one_line(tmp_path: Path) -> None:
    config = write(tmp_path, "coverwatch.toml", '[bot]\ntimezone = "Mars/Olympus"\n')
    expected = "error: bot.timezone: unknown IANA time zone 'Mars/Olympus'"
    result = cli(f"sqlite:///{tmp_path}/x.db", "--config", str(config), "init")
    assert result.exit_code == 1 and _one_error_line(result.stderr) == expected
    process = script("--config", str(config), "init")
    assert process.returncode == 1 and _one_error_line(process.stderr) == expected


@pytest.mark.slow
def test_a_deprecated_config_key_is_shown_as_one_warning(tmp_path: Path) -> None:
    config = write(tmp_path, "coverwatch.toml", '[wecom]\nhr_chats = ["wrOld"]\n')
    process = script("--db", f"sqlite:///{tmp_path}/x.db", "--config", str(config), "init")
    assert process.returncode == 0
    assert process.stderr.splitlines() == [
        "warning: [wecom] hr_chats is deprecated: rename it to hr_groups "
        "(the older name still works)"
    ]


@pytest.mark.slow
def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = script("--config", str(tmp_path / "nope.toml"), "alerts")
    assert result.returncode == 1
    assert (
        _one_error_line(result.stderr) == f"error: config file {tmp_path / 'nope.toml'}: not found"
    )


@pytest.mark.slow
def test_an_unreachable_database_is_one_line() -> None:
    result = script("--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "alerts")
    assert result.returncode == 1
    assert _one_error_line(result.stderr).startswith("error: database unreachable")


@pytest.mark.slow
def test_the_console_script_end_to_end(url: str) -> None:
    assert script("--db", url, "init").returncode == 0
    dues = script("--db", url, "--today", TODAY, "dues", "--period", "2026-11", "--json")
    assert dues.returncode == 0 and json.loads(dues.stdout)["period"] == "2026-11"
    ask = script("--db", url, "--today", TODAY, "ask", "--as", "E003", "coverage", "--json")
    assert ask.returncode == 0
    assert json.loads(ask.stdout)["card"]["title"] == "My cover"  # E003's locale is en


@pytest.mark.slow
def test_usage_errors_from_the_console_script_are_one_line(url: str) -> None:
    missing = script("--db", url, "dues")
    assert missing.returncode == 2
    assert _one_error_line(missing.stderr) == "error: Missing option '--period'."
    bad = script("--db", url, "dues", "--period", "2026-13")
    assert bad.returncode == 1
    assert (
        _one_error_line(bad.stderr) == "error: --period: not a period (expected YYYY-MM): '2026-13'"
    )
    assert script().stdout.startswith("Usage: coverwatch")


def test_a_future_scan_needs_dry_run_or_force(url: str) -> None:
    assert cli(url, "dues", "--period", "2026-11").exit_code == 0
    before = snapshot(url)
    refused = cli(url, "scan", "--at", "2026-12-20")
    assert refused.exit_code == 1
    assert _one_error_line(refused.stderr) == (
        "error: --at 2026-12-20 is after today (2026-11-20): add --dry-run to see what would "
        "open, or --force to queue real notifications"
    )
    dry = cli(url, "scan", "--at", "2026-12-20", "--dry-run")
    assert dry.exit_code == 0, dry.output
    first = dry.stdout.splitlines()[0]
    assert first.startswith("dry run, nothing changed or queued: scan 2026-12-20: ")
    assert re.search(r" [1-9]\d* opened, .* [1-9]\d* notifications would be queued$", first)
    assert "overdue" in dry.stdout
    assert snapshot(url) == before
    forced = cli(url, "scan", "--at", "2026-12-20", "--force", "--json")
    assert forced.exit_code == 0 and json.loads(forced.stdout)["alerts"]
    assert snapshot(url)["delivery"] and snapshot(url)["alert"]


@pytest.mark.parametrize("group", ["report", "token", "policy", "import", "sync", "db"])
def test_a_command_group_without_its_command_is_one_line(
    group: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([group])
    assert exited.value.code == 2
    assert _one_error_line(capsys.readouterr().err) == "error: Missing command."
