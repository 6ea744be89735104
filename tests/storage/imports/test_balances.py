"""`import balances`: upsert by (account, as_of); negative balances allowed; bad rows abort."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from storage.db import session_scope
from storage.imports import ImportResult, import_balances
from storage.models import Balance
from tests.support.imports import snapshot, write_csv, write_xlsx

FIXTURES = Path(__file__).parents[2] / "fixtures" / "imports"
ACCOUNTS = ("beijing", "shanghai", "hk")
HEADER = ["account", "as_of", "balance"]


def run(engine: Engine, path: Path, *, dry_run: bool = False) -> ImportResult:
    with session_scope(engine) as session:
        return import_balances(session, path, known_accounts=ACCOUNTS, dry_run=dry_run)


def balances(engine: Engine) -> dict[tuple[str, date], Decimal]:
    with Session(engine) as session:
        return {(b.account_id, b.as_of): b.balance for b in session.exec(select(Balance))}


def test_fixture_file_imports_including_a_negative_balance(engine: Engine) -> None:
    assert run(engine, FIXTURES / "balances.csv") == ImportResult(rows=3, created=3, updated=0)

    assert balances(engine) == {
        ("beijing", date(2025, 3, 1)): Decimal("250000.00"),
        ("shanghai", date(2025, 3, 1)): Decimal("-1200.50"),
        ("hk", date(2025, 3, 1)): Decimal("88000.00"),
    }


def test_reimport_updates_changed_balances_only(engine: Engine, tmp_path: Path) -> None:
    run(engine, FIXTURES / "balances.csv")
    rows = [
        ["余额", "参保地", "日期"],
        ["260000", "beijing", "2025-03-01"],  # corrected statement
        ["-1200.5", "shanghai", "2025-03-01"],  # unchanged
        ["100", "hk", "2025-04-01"],  # new date
    ]

    result = run(engine, write_csv(tmp_path / "b.csv", rows, encoding="gbk"))

    assert result == ImportResult(rows=3, created=1, updated=1)
    stored = balances(engine)
    assert stored["beijing", date(2025, 3, 1)] == Decimal("260000.00")
    assert stored["hk", date(2025, 4, 1)] == Decimal("100.00")
    assert len(stored) == 4


def test_xlsx_cells(engine: Engine, tmp_path: Path) -> None:
    rows: list[list[object]] = [[*HEADER], ["hk", datetime(2025, 5, 31), 0.1 + 0.2]]

    assert run(engine, write_xlsx(tmp_path / "b.xlsx", rows)).created == 1
    assert balances(engine) == {("hk", date(2025, 5, 31)): Decimal("0.30")}


def test_dry_run_writes_nothing(engine: Engine) -> None:
    assert run(engine, FIXTURES / "balances.csv", dry_run=True).created == 3
    assert balances(engine) == {}


@pytest.mark.parametrize(
    "row,message",
    [
        (["hk", "2025-3-1x", "5"], "as_of: bad date '2025-3-1x' (expected YYYY-MM-DD)"),
        (["hk", "2025-03-01", "lots"], "balance: not a number: 'lots'"),
        (["hk", "2025-03-01", "5.555"], "balance: more than two decimals: 5.555"),
        (["hk", "2025-03-01", ""], "balance: missing required value"),
        (
            ["macau", "2025-03-01", "5"],
            "account: unknown account 'macau' (expected beijing, hk, shanghai)",
        ),
        (["beijing", "2025-03-01", "5"], "as_of: same account and date as row 2"),
    ],
)
def test_each_error_is_exact_and_nothing_is_written(
    engine: Engine, tmp_path: Path, row: list[str], message: str
) -> None:
    run(engine, FIXTURES / "balances.csv")
    before = snapshot(engine)
    rows = [HEADER, ["beijing", "2025-03-01", "1"], ["shanghai", "2025-04-01", "2"], row]

    result = run(engine, write_csv(tmp_path / "b.csv", rows))

    assert [str(e) for e in result.errors] == [f"row 4, column {message}"]
    assert snapshot(engine) == before
