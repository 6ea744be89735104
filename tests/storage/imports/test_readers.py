"""Reading files and cells: format detection, encodings, spreadsheet row numbers, and the
cell parsers that keep money exact whether a value arrives as text or as an Excel number."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from storage.imports import ImportFileError
from storage.imports.cells import CellError, parse_amount, parse_date, parse_period, to_text
from storage.imports.readers import read_sheet
from storage.imports.table import Column, Table
from tests.support.imports import write_csv, write_xlsx


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_read_the_same(tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "f.csv", [["工号", "姓名"], ["E1", "张三"]], encoding=encoding)

    sheet = read_sheet(path)

    assert sheet.header == ("工号", "姓名")
    assert sheet.rows == ((2, ("E1", "张三")),)


def test_csv_quoted_newline_is_one_row(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text('name,department\n"Li\nLei",HR\nHan,IT\n', encoding="utf-8")

    assert read_sheet(path).rows == ((2, ("Li\nLei", "HR")), (3, ("Han", "IT")))


def test_xlsx_keeps_spreadsheet_row_numbers_across_empty_rows(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "f.xlsx", [["id", "hired", None], ["A", datetime(2024, 1, 2)]])
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    workbook.active["A5"] = "B"  # type: ignore[index]
    workbook.save(path)

    sheet = read_sheet(path)

    assert sheet.header == ("id", "hired")
    numbered = [(n, cells[0] if cells else None) for n, cells in sheet.rows]
    assert numbered == [(2, "A"), (3, None), (4, None), (5, "B")]
    assert sheet.rows[0][1][1] == datetime(2024, 1, 2)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"%PDF-1.4\x00\x01binary", "f.dat: not a CSV or XLSX file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "f.dat: old .xls files are not supported"),
        (b"name\n\xff\xff\n", "f.dat: not a CSV or XLSX file (text is neither UTF-8 nor GBK)"),
        (b"", "f.dat: row 1 must be the header row, but it is empty"),
        (b",,\nE1,x,y\n", "f.dat: row 1 must be the header row, but it is empty"),
    ],
)
def test_unreadable_files_raise_one_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "f.dat"
    path.write_bytes(content)

    with pytest.raises(ImportFileError) as raised:
        read_sheet(path)

    assert str(raised.value).startswith(message)


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "f.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")

    with pytest.raises(ImportFileError, match=r"^f\.xlsx: not a readable XLSX file"):
        read_sheet(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="cannot read the file"):
        read_sheet(tmp_path / "nope.csv")


def test_header_matching_and_unlabelled_data(tmp_path: Path) -> None:
    rows = [["  Employee-ID ", "", "姓名"], ["E1", "", "张三", "stray"], ["", "", "", ""]]
    columns = (Column("employee_id", required=True), Column("name", ("姓名",), required=True))

    table = Table(read_sheet(write_csv(tmp_path / "f.csv", rows)), columns)

    assert table.labels == {"employee_id": "Employee-ID", "name": "姓名"}
    assert [str(e) for e in table.errors] == ["row 1, column D: column has data but no header"]
    assert len(table.rows) == 1  # the blank row is not data


@pytest.mark.parametrize(
    "cell,amount",
    [
        ("1,234.5", Decimal("1234.50")),
        (" 8000 ", Decimal("8000.00")),
        (12000, Decimal("12000.00")),
        (1234.5000000000002, Decimal("1234.50")),  # formula noise beyond Excel's 15 digits
        (0.1 + 0.2, Decimal("0.30")),
        ("1e3", Decimal("1000.00")),
        ("-0.5", Decimal("-0.50")),
        ("¥100", Decimal("100.00")),
        ("￥15000", Decimal("15000.00")),
        ("-￥1,234.50", Decimal("-1234.50")),
        ("HK$ 30,000", Decimal("30000.00")),
        ("１２，０００．５", Decimal("12000.50")),
    ],
)
def test_amounts_are_exact(cell: str | int | float, amount: Decimal) -> None:
    parsed = parse_amount(cell)
    assert parsed == amount
    assert str(parsed) == str(amount)


@pytest.mark.parametrize(
    "cell,reason",
    [
        ("NaN", "not a number: 'NaN'"),
        ("Infinity", "not a number: 'Infinity'"),
        (True, "not a number: True"),
        (date(2024, 1, 1), "not a number: 2024-01-01"),
        ("¥", "not a number: '¥'"),
        ("US$100", "not a number: 'US$100'"),
        ("1e20", "amount too large: 1e20"),
        (0.125, "more than two decimals: 0.125"),
    ],
)
def test_bad_amounts(cell: object, reason: str) -> None:
    with pytest.raises(CellError) as raised:
        parse_amount(cell)  # type: ignore[arg-type]
    assert str(raised.value) == reason


def test_dates_periods_and_text() -> None:
    assert parse_date("2024-03-05") == parse_date("2024/3/5") == date(2024, 3, 5)
    assert parse_date(datetime(2024, 3, 5, 9, 30)) == date(2024, 3, 5)
    assert parse_date(date(2024, 3, 5)) == date(2024, 3, 5)
    with pytest.raises(CellError, match=r"^bad date '45000' \(expected YYYY-MM-DD\)$"):
        parse_date(45000)  # an Excel serial number without a date format
    assert parse_period("2025-03") == parse_period(datetime(2025, 3, 1)) == "2025-03"
    with pytest.raises(CellError, match=r"^bad period '2025/03' \(expected YYYY-MM\)$"):
        parse_period("2025/03")
    assert to_text(1001) == to_text(1001.0) == to_text(" 1001 ") == "1001"


def test_named_sheet_and_a_missing_one(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "Notes"
    first.append(["anything"])
    data = book.create_sheet("Data")
    data.append(["id", "name"])
    data.append(["E1", "张三"])
    path = tmp_path / "f.xlsx"
    book.save(path)

    assert read_sheet(path, sheet="data").header == ("id", "name")
    assert read_sheet(path).header == ("anything",)  # no header test: the first sheet
    with pytest.raises(ImportFileError, match=r"no sheet named 'Staff' \(sheets: Notes, Data\)"):
        read_sheet(path, sheet="Staff")
    with pytest.raises(ImportFileError, match="--sheet applies to XLSX workbooks only"):
        read_sheet(write_csv(tmp_path / "f.csv", [["id"]]), sheet="Data")


def test_utf16_with_commas_and_bad_utf16(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("工号,姓名\nE1,张三\n".encode("utf-16"))
    assert read_sheet(path).rows == ((2, ("E1", "张三")),)
    path.write_bytes(b"\xff\xfea\x00\x00\xd8")  # a lone surrogate
    with pytest.raises(ImportFileError, match="not readable as utf-16 text"):
        read_sheet(path)
