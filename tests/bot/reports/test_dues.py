"""`report dues` streamed: the same workbook and CSV as before streaming, in flat memory.

`tests/fixtures/reports/dues_2026-06.*` were written by the report before it streamed (every
line held, subtotals added up in Python, openpyxl's normal mode) from `dues_company`, in the
default locale (zh-CN headers); the streamed report must reproduce them cell by cell: value,
number format and bold.
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.reports.dues import dues_sheets
from bot.reports.sheets import stream_csv, write_xlsx
from core import calendars
from core.locales import DEFAULT_LOCALE
from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import session_scope
from storage.ledger import run_dues
from storage.models import Employee, LedgerLine
from tests.support.dues_company import EARLIER, NOW, PERIOD, seed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reports"


def _write(engine: Engine, period: Period, folder: Path) -> tuple[Path, Path]:
    xlsx, csv_path = folder / f"{period}.xlsx", folder / f"{period}.csv"
    with Session(engine) as session:
        accounts = account_policies(session, load_policies())
        sheets = dues_sheets(session, period, accounts, DEFAULT_LOCALE)
        write_xlsx(sheets, xlsx)
        stream_csv(sheets[:1], csv_path)
    return xlsx, csv_path


def _cells(path: Path) -> dict[str, Any]:
    book = load_workbook(path)
    return {
        ws.title: {
            "freeze_panes": ws.freeze_panes,
            "rows": [
                [[cell.value, cell.number_format, bool(cell.font.bold)] for cell in row]
                for row in ws.iter_rows()
            ],
        }
        for ws in book.worksheets
    }


def test_streamed_report_equals_the_report_before_streaming(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    xlsx, csv_path = _write(engine, PERIOD, tmp_path)
    expected = json.loads((FIXTURES / "dues_2026-06.json").read_text(encoding="utf-8"))
    got = _cells(xlsx)
    assert got.keys() == expected.keys()
    for name, sheet in expected.items():
        assert got[name]["freeze_panes"] == sheet["freeze_panes"] == "A2"
        assert len(got[name]["rows"]) == len(sheet["rows"])
        for number, (row, want) in enumerate(zip(got[name]["rows"], sheet["rows"], strict=True), 1):
            assert row == want, f"{name} row {number}"
    assert csv_path.read_bytes() == (FIXTURES / "dues_2026-06.csv").read_bytes()


def test_subtotals_come_after_each_account_and_add_up(engine: Engine, tmp_path: Path) -> None:
    seed(engine, extra=40)
    xlsx, _ = _write(engine, PERIOD, tmp_path)
    ledger = load_workbook(xlsx).worksheets[0]
    rows = [[cell.value for cell in row] for row in ledger.iter_rows()]
    sums: dict[str, list[float]] = {}
    for row in rows[1:]:
        if row[0] == "明细":  # a line; "小计" closes an account
            figures = sums.setdefault(row[1], [0.0, 0.0])
            figures[0] += row[8]
            figures[1] += row[9]
        else:
            employer, employee = sums.pop(row[1])
            assert (round(employer, 2), round(employee, 2)) == (row[8], row[9])
    assert not sums


def _peak_bytes(engine: Engine, period: Period, folder: Path) -> tuple[int, int]:
    """Lines in the period's report and peak traced memory while writing xlsx and CSV."""
    with Session(engine) as session:
        query = select(func.count()).where(LedgerLine.period == str(period))
        lines = session.execute(query).scalar_one()
    tracemalloc.start()
    try:
        _write(engine, period, folder)
        return lines, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow  # 20,000 ledger lines under tracemalloc: about a minute
def test_report_memory_does_not_grow_with_its_length(engine: Engine, tmp_path: Path) -> None:
    seed(engine, extra=4500)
    _write(engine, EARLIER, tmp_path)  # warm-up: imports, caches, the engine's pool
    small_lines, small_peak = _peak_bytes(engine, EARLIER, tmp_path)
    large_lines, large_peak = _peak_bytes(engine, PERIOD, tmp_path)
    assert large_lines >= 20_000 and large_lines >= 3.5 * small_lines
    # Holding the rows (the old report) makes the peak grow with the lines: ~3.5x here.
    assert large_peak < 1.3 * small_peak, (small_lines, small_peak, large_lines, large_peak)


def test_an_account_on_a_provisional_band_is_marked_as_an_estimate(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    policies = load_policies()
    with session_scope(engine) as session:
        sync_accounts(session, {}, policies, ids=["hangzhou"])  # 2026 band carried over
        session.add(
            Employee(
                employee_id="Z0001",
                name="钱多",
                account_id="hangzhou",
                hire_date=date(2025, 1, 2),
                enrolled_on=date(2025, 1, 2),
                salary=Decimal("9000"),
            )
        )
    with session_scope(engine) as session:
        run_dues(session, PERIOD, account_policies(session, policies), now=NOW)
    xlsx, _ = _write(engine, PERIOD, tmp_path)
    accounts = load_workbook(xlsx).worksheets[1]
    names = {row[0].value: row[1].value for row in accounts.iter_rows(min_row=2)}
    assert str(names["hangzhou"]).startswith("≈ ")
    assert not str(names["beijing"]).startswith("≈")


def test_a_due_date_from_an_unpublished_calendar_is_marked(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13 item 5: with the period's holiday notice unknown to the libraries, the
    mainland accounts' due dates read ≈ (Hong Kong's general holidays are computed by rule)."""
    seed(engine)
    monkeypatch.setattr(calendars, "cn_official_years", lambda: frozenset(range(2004, PERIOD.year)))
    xlsx, _ = _write(engine, PERIOD, tmp_path)
    accounts = load_workbook(xlsx).worksheets[1]
    due = {row[0].value: str(row[3].value) for row in accounts.iter_rows(min_row=2)}
    assert due["beijing"].startswith("≈") and due["beijing"][1:].startswith(str(PERIOD))
