"""Base history: dues for a month use the salary in force then; re-imports never rewrite the past.

On SQLite and PostgreSQL (`engine`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.periods import Period
from core.policy_loader import load_policies
from storage.accounts import account_policies, sync_accounts
from storage.db import session_scope
from storage.imports import ImportResult, import_employees, import_salaries
from storage.ledger import employee_lines, run_dues
from storage.salaries import salary_for
from tests.support.imports import write_csv

POLICIES = load_policies()
NOW = datetime(2025, 10, 1, 2, 0, tzinfo=UTC)
HEADER = ["employee_id", "name", "account", "hire_date", "enrolled_on", "salary"]


def _employees(engine: Engine, path: Path, today: date) -> ImportResult:
    with session_scope(engine) as session:
        sync_accounts(session, {}, POLICIES, ids=["beijing"])
        return import_employees(session, path, known_accounts={"beijing"}, today=today)


def _salaries(engine: Engine, path: Path, *, dry_run: bool = False) -> ImportResult:
    with session_scope(engine) as session:
        return import_salaries(session, path, known_accounts={"beijing"}, dry_run=dry_run)


def _pension_base(engine: Engine, period: Period, employee_id: str = "E1") -> Decimal:
    with session_scope(engine) as session:
        run_dues(session, period, account_policies(session, POLICIES), now=NOW)
        lines = {line.scheme: line for line in employee_lines(session, period, employee_id)}
        return lines["pension"].base


def test_a_reimport_with_a_raise_does_not_change_an_earlier_month(
    engine: Engine, tmp_path: Path
) -> None:
    first = [HEADER, ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "10000"]]
    _employees(engine, write_csv(tmp_path / "a.csv", first), today=date(2025, 3, 20))
    assert _pension_base(engine, Period(2025, 3)) == Decimal("10000.00")

    raised = [HEADER, ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "12000"]]
    result = _employees(engine, write_csv(tmp_path / "b.csv", raised), today=date(2025, 6, 2))

    assert result.updated == 1
    assert _pension_base(engine, Period(2025, 3)) == Decimal("10000.00")  # recomputed: unchanged
    assert _pension_base(engine, Period(2025, 5)) == Decimal("10000.00")
    assert _pension_base(engine, Period(2025, 6)) == Decimal("12000.00")


def test_salary_from_dates_a_raise_and_blank_means_the_hire_month(
    engine: Engine, tmp_path: Path
) -> None:
    header = [*HEADER, "基数生效月份"]
    rows = [
        header,
        ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "10000", ""],
        ["E2", "李雷", "beijing", "2025-01-06", "2025-01-06", "9000", "2025-04"],
    ]
    _employees(engine, write_csv(tmp_path / "a.csv", rows), today=date(2025, 6, 2))
    back_dated = [header, ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "11000", "2025-04"]]
    _employees(engine, write_csv(tmp_path / "b.csv", back_dated), today=date(2025, 6, 2))

    with Session(engine) as session:
        assert salary_for(session, "E1", Period(2025, 1)) == Decimal("10000.00")
        assert salary_for(session, "E1", Period(2025, 3)) == Decimal("10000.00")
        assert salary_for(session, "E1", Period(2025, 4)) == Decimal("11000.00")
        # Before its first history month an employee falls back to the current salary.
        assert salary_for(session, "E2", Period(2025, 1)) == Decimal("9000.00")


def test_salary_history_across_a_july_band_change(engine: Engine, tmp_path: Path) -> None:
    # Beijing's floor moves from 6821 (2024-07 band) to 7162 (2025-07 band); the July raise
    # to 7000 is still below the new floor, so July's base is the new floor, June's the salary.
    rows = [HEADER, ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "6900"]]
    _employees(engine, write_csv(tmp_path / "e.csv", rows), today=date(2025, 1, 6))
    history = [
        ["工号", "生效月份", "缴费基数"],
        ["E1", "2025-07", "7000"],
        ["E1", "2025-08", "40000"],
    ]
    assert _salaries(engine, write_csv(tmp_path / "s.csv", history)) == ImportResult(2, 2, 0)

    assert _pension_base(engine, Period(2025, 6)) == Decimal("6900.00")
    assert _pension_base(engine, Period(2025, 7)) == Decimal("7162.00")
    assert _pension_base(engine, Period(2025, 8)) == Decimal("35811.00")  # the 2025 ceiling


def test_salaries_import_is_all_or_nothing(engine: Engine, tmp_path: Path) -> None:
    rows = [HEADER, ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "6900"]]
    _employees(engine, write_csv(tmp_path / "e.csv", rows), today=date(2025, 1, 6))
    bad = [
        ["employee_id", "effective_from", "salary"],
        ["E1", "2025-07", "7000"],
        ["E9", "2025-07", "7000"],
        ["E1", "2025-13", "7000"],
        ["E1", "2025-07", "-1"],
        ["E1", "2025-07", "7100"],
    ]
    result = _salaries(engine, write_csv(tmp_path / "bad.csv", bad))

    assert [str(error) for error in result.errors] == [
        "row 3, column employee_id: unknown employee 'E9'",
        "row 4, column effective_from: bad period '2025-13' (expected YYYY-MM)",
        "row 5, column salary: must not be negative: -1.00",
        "row 6, column effective_from: same employee and month as row 2",
    ]
    with Session(engine) as session:
        assert salary_for(session, "E1", Period(2025, 7)) == Decimal("6900.00")


def test_salaries_dry_run_counts_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    rows = [HEADER, ["E1", "王芳", "beijing", "2025-01-06", "2025-01-06", "6900"]]
    _employees(engine, write_csv(tmp_path / "e.csv", rows), today=date(2025, 1, 6))
    history = [["employee_id", "effective_from", "salary"], ["E1", "2025-01", "7000"]]
    path = write_csv(tmp_path / "s.csv", history)

    assert _salaries(engine, path, dry_run=True) == ImportResult(1, 0, 1)
    with Session(engine) as session:
        assert salary_for(session, "E1", Period(2025, 1)) == Decimal("6900.00")
    assert _salaries(engine, path) == ImportResult(1, 0, 1)
    with Session(engine) as session:
        assert salary_for(session, "E1", Period(2025, 1)) == Decimal("7000.00")
