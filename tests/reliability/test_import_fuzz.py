"""Random malformed employee files, CSV and XLSX: row errors (or ImportFileError), nothing written.

Files start from a valid row set, then hypothesis garbles cells, headers, row lengths and the
encoding, and always plants at least one cell that no parser may accept, so every file is
malformed by construction. The property: `import_employees` reports errors as values (never
another exception) and the database is byte-for-byte what it was, even after the commit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import text
from sqlalchemy.engine import Engine

from storage.db import make_engine, session_scope, upgrade
from storage.imports import ImportFileError, import_employees
from storage.imports.employees import COLUMNS
from tests.support.company import seed

CSV_FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
XLSX_FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
KNOWN_ACCOUNTS = frozenset({"beijing", "hk", "shanghai"})
VALID = {
    "employee_id": "N100",
    "name": "新同事",
    "department": "Engineering",
    "manager_id": "E002",
    "account": "beijing",
    "hire_date": "2025-03-01",
    "enrolled_on": "2025-03-05",
    "salary": "12000",
    "role": "employee",
    "slack_user_id": "U100",
    "dingtalk_user_id": "",
    "wecom_user_id": "",
    "locale": "en",
    "id_number": "110101199001011234",
    "leave_date": "",
}
INVALID = [
    ("salary", "-5"),
    ("salary", "12,000 yuan"),
    ("hire_date", "2025-02-30"),
    ("hire_date", "next monday"),
    ("account", "mars"),
    ("role", "overlord"),
    ("manager_id", "NOBODY"),
    ("enrolled_on", "2020-01-01"),  # before the hire date
    ("employee_id", ""),
    ("locale", "klingon"),
]
"""Cells no parser may accept (a required blank, a bad date, an unknown account…)."""


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('imports')}/coverwatch.db")
    upgrade(engine)
    seed(engine)
    yield engine
    engine.dispose()


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
            for table in ("employee", "account")
        }


Table = tuple[list[str], list[list[Any]], tuple[int, int]]
"""Header, rows, and where the planted bad cell is (row index, column index)."""


@st.composite
def malformed_rows(draw: st.DrawFn) -> Table:
    """A header and rows: valid ones garbled at random, one planted bad cell guaranteed."""
    header = [column.name for column in COLUMNS]
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if draw(st.booleans()):
        header.append(draw(st.text(max_size=12)))
    count = draw(st.integers(1, 6))
    rows: list[list[Any]] = []
    for index in range(count):
        record = dict(VALID, employee_id=f"N{100 + index}", slack_user_id=f"U{100 + index}")
        row: list[Any] = [record.get(name, "") for name in header]
        for _ in range(draw(st.integers(0, 3))):
            position = draw(st.integers(0, len(row) - 1))
            row[position] = draw(st.one_of(st.text(max_size=20), st.sampled_from(["", " ", "#"])))
        if draw(st.integers(0, 5)) == 0:
            row = row[: draw(st.integers(0, len(row)))]  # a short line
        rows.append(row)
    column, bad = draw(st.sampled_from(INVALID))
    target = draw(st.integers(0, count - 1))
    rows[target] += [""] * (len(header) - len(rows[target]))
    rows[target][header.index(column)] = bad
    if not any(str(cell).strip() for cell in rows[target]):
        # An all-blank line is skipped by design (spreadsheets end with them): keep the planted
        # bad cell on a line that has content, so it really is a bad row.
        rows[target][header.index("name")] = "Planted"
    return header, rows, (target, header.index(column))


def _assert_refused_and_unchanged(engine: Engine, path: Path) -> None:
    before = snapshot(engine)
    try:
        with session_scope(engine) as session:
            result = import_employees(session, path, known_accounts=KNOWN_ACCOUNTS)
    except ImportFileError as exc:
        assert str(exc)
    else:
        assert result.errors, "a malformed file was accepted"
        assert (result.created, result.updated) == (0, 0)
        assert all(error.row >= 1 and error.reason for error in result.errors)
    assert snapshot(engine) == before


@CSV_FUZZ
@given(table=malformed_rows(), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_malformed_csv_is_refused_and_nothing_changes(
    engine: Engine, tmp_path: Path, table: Table, encoding: str
) -> None:
    header, rows, _ = table
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "employees.csv"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    _assert_refused_and_unchanged(engine, path)


@CSV_FUZZ
@given(data=st.binary(max_size=400), prefix=st.sampled_from([b"", b"PK\x03\x04", b"\xef\xbb\xbf"]))
def test_random_bytes_are_refused_and_nothing_changes(
    engine: Engine, tmp_path: Path, data: bytes, prefix: bytes
) -> None:
    path = tmp_path / "employees.xlsx"
    path.write_bytes(prefix + data)
    _assert_refused_and_unchanged(engine, path)


xlsx_cells = st.one_of(
    st.text(max_size=15),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(min_value=date(1900, 3, 1)),
    st.datetimes(min_value=datetime(1900, 3, 1)),
    st.none(),
)


def _storable(cell: Any) -> Any:
    """XLSX cannot hold control characters: drop them, as Excel would refuse to type them."""
    return ILLEGAL_CHARACTERS_RE.sub("", cell) if isinstance(cell, str) else cell


@XLSX_FUZZ
@given(table=malformed_rows(), data=st.data())
def test_malformed_xlsx_is_refused_and_nothing_changes(
    engine: Engine, tmp_path: Path, table: Table, data: st.DataObject
) -> None:
    header, rows, planted = table
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([_storable(name) for name in header])
    for index, row in enumerate(rows):
        # Typed cells as Excel stores them: numbers, dates and blanks where text was.
        cells = [data.draw(st.one_of(st.just(cell), xlsx_cells)) for cell in row]
        if index == planted[0]:
            cells[planted[1]] = row[planted[1]]
        sheet.append([_storable(cell) for cell in cells])
    path = tmp_path / "employees.xlsx"
    workbook.save(path)
    _assert_refused_and_unchanged(engine, path)
