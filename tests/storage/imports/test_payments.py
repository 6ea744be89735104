"""`import payments`: re-imports add only new payments; bad rows abort the whole file."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from storage.db import session_scope
from storage.imports import ImportResult, import_payments
from storage.models import Account, Payment
from tests.support.imports import snapshot, write_csv, write_xlsx

FIXTURES = Path(__file__).parents[2] / "fixtures" / "imports"
ACCOUNTS = ("beijing", "hk")
HEADER = ["account", "period", "amount", "paid_on"]


def run(engine: Engine, path: Path, *, dry_run: bool = False) -> ImportResult:
    with session_scope(engine) as session:
        return import_payments(
            session, path, known_accounts=ACCOUNTS, currencies={"hk": "HKD"}, dry_run=dry_run
        )


def payments(engine: Engine) -> list[tuple[str, str, Decimal, date]]:
    with Session(engine) as session:
        query = select(Payment).order_by(
            col(Payment.account_id), col(Payment.period), col(Payment.paid_on)
        )
        return [(p.account_id, p.period, p.amount, p.paid_on) for p in session.exec(query)]


def test_fixture_file_imports(engine: Engine) -> None:
    assert run(engine, FIXTURES / "payments.csv") == ImportResult(rows=4, created=4, updated=0)

    assert payments(engine) == [
        ("beijing", "2025-01", Decimal("12345.67"), date(2025, 1, 14)),
        ("beijing", "2025-02", Decimal("6000.00"), date(2025, 2, 20)),
        ("beijing", "2025-02", Decimal("6345.67"), date(2025, 2, 27)),
        ("hk", "2025-01", Decimal("3000.00"), date(2025, 2, 5)),
    ]
    with Session(engine) as session:
        hk = session.get(Account, "hk")
    assert hk is not None and hk.currency == "HKD"


def test_reimport_is_a_no_op_and_an_overlap_adds_only_new_rows(
    engine: Engine, tmp_path: Path
) -> None:
    run(engine, FIXTURES / "payments.csv")
    before = snapshot(engine)

    assert run(engine, FIXTURES / "payments.csv") == ImportResult(rows=4, created=0, updated=0)
    assert snapshot(engine) == before

    overlap = [
        HEADER,
        ["beijing", "2025-02", "6000", "2025-02-20"],
        ["hk", "2025-02", "3,000.00", "2025-03-04"],
    ]
    assert run(engine, write_csv(tmp_path / "more.csv", overlap)).created == 1
    assert len(payments(engine)) == 5


def test_xlsx_period_typed_as_a_date_and_numeric_amount(engine: Engine, tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Account", "Period", "Amount", "Paid_On"],
        ["beijing", datetime(2025, 3, 1), 1000.1, datetime(2025, 3, 10)],
    ]

    assert run(engine, write_xlsx(tmp_path / "p.xlsx", rows)).created == 1
    assert payments(engine) == [("beijing", "2025-03", Decimal("1000.10"), date(2025, 3, 10))]


def test_dry_run_writes_nothing(engine: Engine) -> None:
    assert run(engine, FIXTURES / "payments.csv", dry_run=True).created == 4
    assert payments(engine) == []


ERRORS = [
    ("beijing", "2025-3", "100", "2025-03-10", "period: bad period '2025-3' (expected YYYY-MM)"),
    ("beijing", "2025-13", "100", "2025-03-10", "period: bad period '2025-13' (expected YYYY-MM)"),
    ("beijing", "2025-03", "-100", "2025-03-10", "amount: must be greater than zero: -100.00"),
    ("beijing", "2025-03", "0", "2025-03-10", "amount: must be greater than zero: 0.00"),
    ("beijing", "2025-03", "100.001", "2025-03-10", "amount: more than two decimals: 100.001"),
    ("beijing", "2025-03", "一百", "2025-03-10", "amount: not a number: '一百'"),
    (
        "beijing",
        "2025-03",
        "100",
        "2025-02-30",
        "paid_on: bad date '2025-02-30' (expected YYYY-MM-DD)",
    ),
    ("sh", "2025-03", "100", "2025-03-10", "account: unknown account 'sh' (expected beijing, hk)"),
    ("beijing", "2025-02", "6000.00", "2025-02-20", "amount: same payment as row 2"),
]


@pytest.mark.parametrize("account,period,amount,paid_on,message", ERRORS)
def test_each_error_is_exact_and_nothing_is_written(
    engine: Engine,
    tmp_path: Path,
    account: str,
    period: str,
    amount: str,
    paid_on: str,
    message: str,
) -> None:
    run(engine, FIXTURES / "payments.csv")
    before = snapshot(engine)
    rows = [
        HEADER,
        ["beijing", "2025-02", "6000", "2025-02-20"],
        ["hk", "2025-04", "1", "2025-04-01"],
        [account, period, amount, paid_on],
    ]

    result = run(engine, write_csv(tmp_path / "p.csv", rows))

    assert [str(e) for e in result.errors] == [f"row 4, column {message}"]
    assert snapshot(engine) == before


def test_missing_column(engine: Engine, tmp_path: Path) -> None:
    rows = [["account", "period", "amount"], ["beijing", "2025-03", "100"]]

    result = run(engine, write_csv(tmp_path / "p.csv", rows))

    assert [str(e) for e in result.errors] == ["row 1, column paid_on: missing required column"]
    assert payments(engine) == []


def test_kind_says_whether_a_payment_is_dues_or_a_late_fee(engine: Engine, tmp_path: Path) -> None:
    rows = [
        ["account", "period", "amount", "paid_on", "类型"],
        ["beijing", "2025-01", "1000", "2025-01-14", ""],
        ["beijing", "2025-01", "12.50", "2025-02-01", "滞纳金"],
        ["hk", "2025-01", "150", "2025-02-20", "late_fee"],
        ["hk", "2025-01", "3000", "2025-02-20", "dues"],
    ]
    assert run(engine, write_csv(tmp_path / "kinds.csv", rows)).created == 4
    with Session(engine) as session:
        kinds = sorted((p.account_id, str(p.amount), p.kind) for p in session.exec(select(Payment)))
    assert kinds == [
        ("beijing", "1000.00", "dues"),
        ("beijing", "12.50", "late_fee"),
        ("hk", "150.00", "late_fee"),
        ("hk", "3000.00", "dues"),
    ]


def test_a_bad_or_contradicting_kind_is_refused(engine: Engine, tmp_path: Path) -> None:
    run(engine, write_csv(tmp_path / "a.csv", [HEADER, ["beijing", "2025-01", "10", "2025-02-01"]]))
    before = snapshot(engine)
    rows = [
        [*HEADER, "kind"],
        ["beijing", "2025-01", "10", "2025-02-01", "late_fee"],
        ["beijing", "2025-01", "20", "2025-02-01", "fine"],
    ]
    result = run(engine, write_csv(tmp_path / "b.csv", rows))
    assert [str(error) for error in result.errors] == [
        "row 2, column kind: the same payment is already recorded as dues, not late_fee",
        "row 3, column kind: unknown payment kind 'fine' (expected dues, late_fee)",
    ]
    assert snapshot(engine) == before
