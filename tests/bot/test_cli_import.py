"""`coverwatch import employees|payments|balances`: all or nothing, errors as `row N, column C`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.cli import EMPLOYEES, cli, company, script, snapshot, write

HEADER = EMPLOYEES.splitlines()[0]
GOOD_ROW = "N001,新人,研发部,M001,beijing,2026-11-02,,18000,employee,,"


@pytest.fixture
def url(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path}/import.db"
    company(db, tmp_path)
    return db


def test_import_creates_then_updates_by_employee_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/fresh.db"
    assert cli(url, "init").exit_code == 0
    path = write(tmp_path, "employees.csv", EMPLOYEES)
    first = cli(url, "import", "employees", str(path))
    assert first.exit_code == 0
    assert first.stdout.strip() == f"imported employees from {path}: 5 rows, 5 created, 0 updated"
    raised = write(tmp_path, "raise.csv", EMPLOYEES.replace(",20000,", ",21000,"))
    second = cli(url, "import", "employees", str(raised))
    assert (
        second.stdout.strip() == f"imported employees from {raised}: 5 rows, 0 created, 1 updated"
    )


def test_dry_run_validates_and_writes_nothing(url: str, tmp_path: Path) -> None:
    before = snapshot(url)
    path = write(tmp_path, "new.csv", f"{HEADER}\n{GOOD_ROW}\n")
    result = cli(url, "import", "employees", str(path), "--dry-run")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"dry run, nothing written: employees {path}: 1 rows valid, would create 1, update 0"
    )
    assert snapshot(url) == before


BAD_ROWS = {
    "unknown account": (
        GOOD_ROW.replace("beijing", "mars"),
        "row 2, column account: unknown account 'mars' "
        "(expected beijing, guangzhou, hangzhou, hk, shanghai, shenzhen)",
    ),
    "bad date": (
        GOOD_ROW.replace("2026-11-02", "2026-02-30"),
        "row 2, column hire_date: bad date '2026-02-30' (expected YYYY-MM-DD)",
    ),
    "negative salary": (
        GOOD_ROW.replace("18000", "-1"),
        "row 2, column salary: must not be negative: -1.00",
    ),
    "unknown manager": (
        GOOD_ROW.replace("M001", "X999"),
        "row 2, column manager_id: unknown manager 'X999'",
    ),
    "unknown role": (
        GOOD_ROW.replace("employee", "boss"),
        "row 2, column role: unknown role 'boss' (expected employee, manager, hr, finance, admin)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_each_bad_row_aborts_the_whole_import(url: str, tmp_path: Path, case: str) -> None:
    before = snapshot(url)
    row, message = BAD_ROWS[case]
    other = GOOD_ROW.replace("N001", "N002")  # a good row that must not be written either
    path = write(tmp_path, "bad.csv", f"{HEADER}\n{row}\n{other}\n")
    result = cli(url, "import", "employees", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [message, f"error: {path}: 1 problem, nothing imported"]
    assert result.stdout == ""
    assert snapshot(url) == before


@pytest.mark.slow
def test_duplicate_ids_are_reported_with_the_first_row(url: str, tmp_path: Path) -> None:
    before = snapshot(url)
    path = write(tmp_path, "dup.csv", f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n")
    result = script("--db", url, "import", "employees", str(path))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "row 3, column employee_id: duplicate employee id 'N001' (first on row 2)",
        f"error: {path}: 1 problem, nothing imported",
    ]
    assert snapshot(url) == before


def test_a_missing_required_column_is_row_1(url: str, tmp_path: Path) -> None:
    before = snapshot(url)
    header = HEADER.replace(",salary", "")
    row = GOOD_ROW.replace(",18000", "")
    path = write(tmp_path, "nosalary.csv", f"{header}\n{row}\n")
    result = cli(url, "import", "employees", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "row 1, column salary: missing required column"
    assert snapshot(url) == before


def test_every_error_of_a_file_is_listed(url: str, tmp_path: Path) -> None:
    rows = [BAD_ROWS["bad date"][0], BAD_ROWS["negative salary"][0].replace("N001", "N002")]
    path = write(tmp_path, "two.csv", "\n".join([HEADER, *rows]) + "\n")
    result = cli(url, "import", "employees", str(path))
    assert result.stderr.splitlines() == [
        "row 2, column hire_date: bad date '2026-02-30' (expected YYYY-MM-DD)",
        "row 3, column salary: must not be negative: -1.00",
        f"error: {path}: 2 problems, nothing imported",
    ]


def test_payments_and_balances_import(url: str, tmp_path: Path) -> None:
    payments = write(
        tmp_path, "p.csv", "account,period,amount,paid_on\nbeijing,2026-11,100.50,2026-11-10\n"
    )
    result = cli(url, "import", "payments", str(payments))
    assert (
        result.stdout.strip() == f"imported payments from {payments}: 1 rows, 1 created, 0 updated"
    )
    balances = write(tmp_path, "b.csv", "account,as_of,balance\nhk,2026-11-19,-20.00\n")
    result = cli(url, "import", "balances", str(balances))
    assert (
        result.stdout.strip() == f"imported balances from {balances}: 1 rows, 1 created, 0 updated"
    )
    assert snapshot(url)["payment"] and snapshot(url)["balance"]


def test_a_bad_payment_period_aborts(url: str, tmp_path: Path) -> None:
    before = snapshot(url)
    path = write(
        tmp_path, "p.csv", "account,period,amount,paid_on\nbeijing,2026-13,1.00,2026-11-10\n"
    )
    result = cli(url, "import", "payments", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("row 2, column period: ")
    assert snapshot(url) == before


def test_an_unknown_file_is_one_line(url: str, tmp_path: Path) -> None:
    result = cli(url, "import", "balances", str(tmp_path / "nope.csv"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {tmp_path / 'nope.csv'}: no such file"]


def test_an_unknown_column_is_one_warning_line_and_strict_refuses(url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "notes.csv", f"{HEADER},备注\n{GOOD_ROW},试用期\n")
    before = snapshot(url)
    strict = cli(url, "import", "employees", str(path), "--strict")
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[0] == "row 1, column 备注: unknown column (--strict)"
    assert snapshot(url) == before
    result = cli(url, "import", "employees", str(path))
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: notes.csv: column 备注: not an import column; ignored"
    ]
    assert "1 created" in result.stdout


def test_sheet_option_picks_the_sheet(url: str, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Old"
    first.append(HEADER.split(","))
    first.append(GOOD_ROW.split(","))
    new = book.create_sheet("New")
    new.append(HEADER.split(","))
    new.append(GOOD_ROW.replace("N001", "N002").split(","))
    path = tmp_path / "two.xlsx"
    book.save(path)
    assert cli(url, "import", "employees", str(path), "--sheet", "New").exit_code == 0
    stored = {cell for row in snapshot(url)["employee"] for cell in row}
    assert "N002" in stored and "N001" not in stored
    missing = cli(url, "import", "employees", str(path), "--sheet", "Nope")
    assert missing.stderr == "error: two.xlsx: no sheet named 'Nope' (sheets: Old, New)\n"


def test_employees_help_lists_the_columns() -> None:
    result = cli("sqlite://", "import", "employees", "--help")
    assert result.exit_code == 0
    assert re.search(r"\n +salary +月工资 +required\n", result.stdout)
    assert re.search(r"\n +leave_date +离职日期 +optional\n", result.stdout)
    assert "docs/employees-file.md" in result.stdout
