"""`import employees`: every error is reported exactly and leaves the database unchanged; good
files in every accepted format upsert; dry runs write nothing. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from core.locales import ZH_CN
from storage.db import session_scope
from storage.imports import ImportResult, import_employees
from storage.models import Account, Employee
from tests.support.imports import snapshot, write_csv, write_xlsx

FIXTURES = Path(__file__).parents[2] / "fixtures" / "imports"
ACCOUNTS = ("beijing", "shanghai", "hk")
CURRENCIES = {"hk": "HKD"}
HEADER = ["employee_id", "name", "account", "hire_date", "salary", "manager_id", "role"]
ZH_HEADER = ["工号", "姓名", "参保地", "入职日期", "月工资", "上级工号", "角色"]
ROWS = [
    ["E1", "王芳", "beijing", "2024-01-02", "10000", "", "manager"],
    ["E2", "李雷", "beijing", "2024-02-01", "8000.50", "E1", ""],
    ["E3", "韩梅梅", "shanghai", "2024/3/5", "9000", "E1", "hr"],
]


def run(engine: Engine, path: Path, *, dry_run: bool = False, strict: bool = False) -> ImportResult:
    with session_scope(engine) as session:
        return import_employees(
            session,
            path,
            known_accounts=ACCOUNTS,
            currencies=CURRENCIES,
            dry_run=dry_run,
            strict=strict,
        )


def employees(engine: Engine) -> dict[str, Employee]:
    with Session(engine) as session:
        return {e.employee_id: e for e in session.exec(select(Employee)).all()}


def test_fixture_file_imports_every_column(engine: Engine) -> None:
    result = run(engine, FIXTURES / "employees.csv")

    assert result == ImportResult(rows=4, created=4, updated=0, errors=())
    assert result.ok
    stored = employees(engine)
    assert stored["E001"].salary == Decimal("18000.00")
    assert stored["E001"].id_number == "110101199001011234"
    assert stored["E001"].slack_user_id == "U001"
    assert stored["E002"].hire_date == date(2023, 7, 1)
    assert stored["E002"].manager_id == "E003"  # a manager defined further down the file
    assert stored["E002"].locale == "en"
    assert stored["E003"].salary == Decimal("42000.50")
    assert stored["E003"].wecom_user_id == "wecom003"
    assert stored["E004"].role == "employee"  # blank role defaults
    assert stored["E004"].enrolled_on is None
    assert stored["E004"].leave_date == date(2025, 1, 31)
    with Session(engine) as session:
        accounts = {a.id: (a.policy_id, a.currency) for a in session.exec(select(Account))}
    assert accounts == {
        "beijing": ("beijing", "CNY"),
        "shanghai": ("shanghai", "CNY"),
        "hk": ("hk", "HKD"),
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_chinese_headers_in_every_csv_encoding(
    engine: Engine, tmp_path: Path, encoding: str
) -> None:
    path = write_csv(tmp_path / "员工.csv", [ZH_HEADER, *ROWS], encoding=encoding)

    assert run(engine, path) == ImportResult(rows=3, created=3, updated=0)
    stored = employees(engine)
    assert stored["E3"].name == "韩梅梅"
    assert stored["E3"].hire_date == date(2024, 3, 5)
    assert stored["E2"].salary == Decimal("8000.50")


def test_chinese_file_reports_the_chinese_column(engine: Engine, tmp_path: Path) -> None:
    rows = [ZH_HEADER, *ROWS]
    rows[2] = ["E2", "李雷", "beijing", "2024-02-01", "八千", "E1", ""]
    path = write_csv(tmp_path / "员工.csv", rows, encoding="gbk")

    result = run(engine, path)

    assert [str(e) for e in result.errors] == ["row 3, column 月工资: not a number: '八千'"]


def test_xlsx_with_date_and_number_cells(engine: Engine, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "staff.xlsx",
        [
            ["Employee ID", " Name ", "ACCOUNT", "hire_date", "salary", "enrolled_on"],
            [1001, "Zhao", "beijing", datetime(2024, 4, 1), 12000.5, "2024-04-03"],
            [1002, "Qian", "Beijing", "2024/04/08", 9000, None],
        ],
    )

    assert run(engine, path) == ImportResult(rows=2, created=2, updated=0)
    stored = employees(engine)
    assert stored["1001"].hire_date == date(2024, 4, 1)
    assert stored["1001"].salary == Decimal("12000.50")
    assert stored["1001"].enrolled_on == date(2024, 4, 3)
    assert stored["1002"].salary == Decimal("9000.00")
    assert stored["1002"].account_id == "beijing"


def test_xlsx_id_number_typed_as_a_number_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "staff.xlsx",
        [
            ["employee_id", "name", "account", "hire_date", "salary", "证件号码"],
            ["E1", "Zhao", "beijing", "2024-04-01", 9000, 1.10101199001012e17],
        ],
    )

    result = run(engine, path)

    assert [str(e) for e in result.errors] == [
        "row 2, column 证件号码: is a number cell (digits may be lost); format the column as text"
    ]


def _with(row: int, column: str, value: str) -> list[list[str]]:
    """The valid sample with one cell changed (row as a spreadsheet numbers it)."""
    rows = [list(HEADER), *(list(r) for r in ROWS)]
    rows[row - 1][HEADER.index(column)] = value
    return rows


ERROR_CASES = {
    "blank required": (_with(3, "name", " "), "row 3, column name: missing required value"),
    "unknown account": (
        _with(3, "account", "mars"),
        "row 3, column account: unknown account 'mars' (expected beijing, hk, shanghai)",
    ),
    "bad date": (
        _with(2, "hire_date", "2024-13-01"),
        "row 2, column hire_date: bad date '2024-13-01' (expected YYYY-MM-DD)",
    ),
    "day-first date": (
        _with(4, "hire_date", "05/03/2024"),
        "row 4, column hire_date: bad date '05/03/2024' (expected YYYY-MM-DD)",
    ),
    "negative salary": (
        _with(3, "salary", "-1"),
        "row 3, column salary: must not be negative: -1.00",
    ),
    "non-numeric salary": (_with(3, "salary", "abc"), "row 3, column salary: not a number: 'abc'"),
    "three decimals": (
        _with(2, "salary", "10000.125"),
        "row 2, column salary: more than two decimals: 10000.125",
    ),
    "duplicate id": (
        _with(4, "employee_id", "E1"),
        "row 4, column employee_id: duplicate employee id 'E1' (first on row 2)",
    ),
    "unknown manager": (
        _with(3, "manager_id", "E99"),
        "row 3, column manager_id: unknown manager 'E99'",
    ),
    "own manager": (
        _with(2, "manager_id", "E1"),
        "row 2, column manager_id: an employee cannot be their own manager",
    ),
    "unknown role": (
        _with(4, "role", "boss"),
        "row 4, column role: unknown role 'boss' (expected employee, manager, hr, finance, admin)",
    ),
    "too long": (_with(2, "name", "x" * 201), "row 2, column name: longer than 200 characters"),
    "same column twice": (
        [[*HEADER, "工号"], *([*r, r[0]] for r in ROWS)],
        "row 1, column 工号: same column as employee_id",
    ),
    "missing required column": (
        [[h for h in HEADER if h != "salary"], *(r[:4] + r[5:] for r in ROWS)],
        "row 1, column salary: missing required column",
    ),
}


@pytest.mark.parametrize("rows,message", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_each_error_is_exact_and_nothing_is_written(
    engine: Engine, tmp_path: Path, rows: list[list[str]], message: str
) -> None:
    run(engine, FIXTURES / "employees.csv")
    before = snapshot(engine)

    result = run(engine, write_csv(tmp_path / "employees.csv", rows))

    assert [str(e) for e in result.errors] == [message]
    assert (result.ok, result.created, result.updated) == (False, 0, 0)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "column,value,message",
    [
        ("enrolled_on", "2023-12-31", "enrolled 2023-12-31 is before hire date 2024-01-02"),
        ("leave_date", "2024-01-01", "leave date 2024-01-01 is before hire date 2024-01-02"),
        ("locale", "fr", "unknown locale 'fr' (expected zh-CN, zh-HK, en)"),
    ],
)
def test_optional_column_errors(
    engine: Engine, tmp_path: Path, column: str, value: str, message: str
) -> None:
    rows = [[*HEADER, column], *([*r, ""] for r in ROWS)]
    rows[1][-1] = value

    result = run(engine, write_csv(tmp_path / "employees.csv", rows))

    assert [str(e) for e in result.errors] == [f"row 2, column {column}: {message}"]
    assert snapshot(engine) == {"account": [], "employee": [], "payment": [], "balance": []}


def test_every_error_is_listed_in_row_order(engine: Engine, tmp_path: Path) -> None:
    rows = _with(4, "manager_id", "E99")
    rows[1][HEADER.index("salary")] = "-5"
    rows[1][HEADER.index("account")] = "mars"
    rows.insert(2, ["", "", "", "", "", "", ""])  # a blank row is skipped but keeps numbering

    result = run(engine, write_csv(tmp_path / "employees.csv", rows))

    assert [str(e) for e in result.errors] == [
        "row 2, column account: unknown account 'mars' (expected beijing, hk, shanghai)",
        "row 2, column salary: must not be negative: -5.00",
        "row 5, column manager_id: unknown manager 'E99'",
    ]
    assert result.rows == 3


def test_dry_run_counts_but_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    result = run(engine, FIXTURES / "employees.csv", dry_run=True)

    assert result == ImportResult(rows=4, created=4, updated=0)
    assert snapshot(engine) == {"account": [], "employee": [], "payment": [], "balance": []}


def test_reimport_upserts_by_employee_id(engine: Engine, tmp_path: Path) -> None:
    run(engine, FIXTURES / "employees.csv")
    rows = [
        ["employee_id", "name", "account", "hire_date", "salary", "leave_date", "role"],
        ["E001", "王芳", "beijing", "2020-03-02", "19000", "", "hr"],  # raise
        ["E003", "Chen Wei", "shanghai", "2019-01-15", "42000.50", "", "manager"],  # same
        ["E004", "Ada Lam", "hk", "2024-05-06", "30000", "", ""],  # leave date cleared
        ["E005", "New Hire", "beijing", "2025-03-03", "7000", "", ""],  # manager in db only
    ]

    result = run(engine, write_csv(tmp_path / "again.csv", rows))

    assert result == ImportResult(rows=4, created=1, updated=2)
    stored = employees(engine)
    assert stored["E001"].salary == Decimal("19000.00")
    assert stored["E001"].slack_user_id == "U001"  # column absent from the file: kept
    assert stored["E004"].leave_date is None  # blank cell: emptied
    assert stored["E005"].department == ""
    assert stored["E002"].name == "李雷"  # not in the file: kept
    assert len(stored) == 5


def test_manager_known_only_in_the_database(engine: Engine, tmp_path: Path) -> None:
    run(engine, FIXTURES / "employees.csv")
    rows = [HEADER, ["E9", "Wu", "beijing", "2025-01-01", "5000", "E003", "经理"]]

    assert run(engine, write_csv(tmp_path / "one.csv", rows)).created == 1
    assert employees(engine)["E9"].role == "manager"


def test_locales_are_normalised(engine: Engine, tmp_path: Path) -> None:
    rows = [
        [*HEADER, "locale"],
        *([*r, loc] for r, loc in zip(ROWS, ["zh", "en-US", "ZH-cn"], strict=False)),
    ]

    run(engine, write_csv(tmp_path / "employees.csv", rows))

    stored = employees(engine)
    assert [stored[e].locale for e in ("E1", "E2", "E3")] == [ZH_CN, "en", ZH_CN]


def test_caller_session_sees_updates(engine: Engine, tmp_path: Path) -> None:
    run(engine, FIXTURES / "employees.csv")
    rows = [HEADER, ["E001", "王芳", "beijing", "2020-03-02", "20000", "", "hr"]]
    with session_scope(engine) as session:
        loaded = session.get(Employee, "E001")
        assert loaded is not None and loaded.salary == Decimal("18000.00")
        import_employees(session, write_csv(tmp_path / "raise.csv", rows), known_accounts=ACCOUNTS)
        assert loaded.salary == Decimal("20000.00")


def test_many_rows_use_a_few_statements_and_report_progress(engine: Engine, tmp_path: Path) -> None:
    run(engine, FIXTURES / "employees.csv")
    rows = [HEADER] + [
        [f"N{i:05d}", f"Name {i}", "beijing", "2024-01-01", "6000", "E001", ""] for i in range(2500)
    ]
    rows.append(["E001", "王芳", "beijing", "2020-03-02", "18500", "", "hr"])
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    calls: list[tuple[int, int]] = []

    with session_scope(engine) as session:
        result = import_employees(
            session,
            write_csv(tmp_path / "big.csv", rows),
            known_accounts=ACCOUNTS,
            progress=lambda done, total: calls.append((done, total)),
        )

    assert result == ImportResult(rows=2501, created=2500, updated=1)
    assert calls == [(0, 2501), (1000, 2501), (2000, 2501), (2501, 2501)]
    # Bulk, not one statement per row: 2,501 rows in ~17 (the first pass's table takes 6).
    assert len(statements) < 25
    assert len(employees(engine)) == 2504


def test_unknown_columns_are_ignored_with_one_warning_each(engine: Engine, tmp_path: Path) -> None:
    rows = [[*HEADER, "备注", "nickname"], *([*r, "试用期", "x"] for r in ROWS)]

    result = run(engine, write_csv(tmp_path / "employees.csv", rows))

    assert (result.ok, result.created) == (True, 3)
    assert result.warnings == (
        "column 备注: not an import column; ignored",
        "column nickname: not an import column; ignored",
    )


def test_strict_refuses_an_unknown_column(engine: Engine, tmp_path: Path) -> None:
    rows = [[*HEADER, "备注"], *([*r, "x"] for r in ROWS)]
    before = snapshot(engine)

    result = run(engine, write_csv(tmp_path / "employees.csv", rows), strict=True)

    assert [str(e) for e in result.errors] == ["row 1, column 备注: unknown column (--strict)"]
    assert snapshot(engine) == before


def test_full_width_and_currency_marked_salaries(engine: Engine, tmp_path: Path) -> None:
    rows = [HEADER, *ROWS]
    rows[1] = [*ROWS[0][:4], "￥15,000", *ROWS[0][5:]]
    rows[2] = [*ROWS[1][:3], "２０２４－０２－０１", "１２，０００．５０", *ROWS[1][5:]]
    rows[3] = [*ROWS[2][:4], "HK$ 9,000", *ROWS[2][5:]]

    assert run(engine, write_csv(tmp_path / "employees.csv", rows)).ok

    stored = employees(engine)
    assert stored["E1"].salary == Decimal("15000.00")
    assert (stored["E2"].salary, stored["E2"].hire_date) == (Decimal("12000.50"), date(2024, 2, 1))
    assert stored["E3"].salary == Decimal("9000.00")


def test_utf16_unicode_text_export_reads(engine: Engine, tmp_path: Path) -> None:
    """Excel's "Unicode text": UTF-16 LE with a BOM, tab-separated."""
    path = tmp_path / "employees.txt"
    text = "\r\n".join("\t".join(row) for row in [ZH_HEADER, *ROWS]) + "\r\n"
    path.write_bytes(text.encode("utf-16"))

    result = run(engine, path)

    assert (result.ok, result.created) == (True, 3)
    assert employees(engine)["E3"].name == "韩梅梅"


def test_the_sheet_whose_header_fits_is_read(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["请在“员工”页填写"])
    staff = book.create_sheet("员工")
    for row in [ZH_HEADER, *ROWS]:
        staff.append(row)
    path = tmp_path / "employees.xlsx"
    book.save(path)

    assert run(engine, path).created == 3


def test_a_platform_user_id_belongs_to_one_employee(engine: Engine, tmp_path: Path) -> None:
    rows = [[*HEADER, "slack_user_id"], *([*r, "UDUP"] for r in ROWS[:2]), [*ROWS[2], "U3"]]
    before = snapshot(engine)

    result = run(engine, write_csv(tmp_path / "twice.csv", rows))

    assert [str(e) for e in result.errors] == [
        "row 2, column slack_user_id: 'UDUP' is also the id of E2",
        "row 3, column slack_user_id: 'UDUP' is also the id of E1",
    ]
    assert snapshot(engine) == before


def test_a_stored_id_of_someone_the_file_leaves_alone_counts(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, FIXTURES / "employees.csv")  # E001 holds U001
    rows = [[*HEADER, "slack_user_id"], [*ROWS[0], "U001"]]

    result = run(engine, write_csv(tmp_path / "taken.csv", rows))

    assert [str(e) for e in result.errors] == [
        "row 2, column slack_user_id: 'U001' is also the id of E001"
    ]
    moved = [[*HEADER, "slack_user_id"], [*ROWS[0], "U001"]]
    moved += [["E001", "王芳", "beijing", "2020-03-02", "18000", "", "hr", "UNEW"]]
    assert run(engine, write_csv(tmp_path / "moved.csv", moved)).ok  # handed over in one file
