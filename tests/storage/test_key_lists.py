"""`among`: a long key list bound as one JSON parameter finds what `IN` finds, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, Table, event, select, text
from sqlmodel import Session

from storage.key_lists import among
from storage.models import Account, Employee
from tests.support.databases import Migrated

_ACCOUNTS: Table = Account.__table__  # type: ignore[attr-defined]
_EMPLOYEES: Table = Employee.__table__  # type: ignore[attr-defined]


def _ids(engine: Engine, keys: list[str]) -> list[str]:
    with Session(engine) as session:
        query = select(_ACCOUNTS.c.id).where(among(_ACCOUNTS.c.id, keys, engine.dialect))
        return sorted(session.execute(query).scalars())


def test_among_matches_the_listed_keys_only(engine: Engine) -> None:
    with Session(engine) as session:
        for account_id in ("beijing", "shanghai", 'o\'neil "hk"', "深圳"):
            session.add(Account(id=account_id, policy_id=account_id, currency="CNY"))
        session.commit()
    many = [f"nobody{index}" for index in range(6000)]  # past SQLite's old 999-parameter limit

    assert _ids(engine, ["shanghai", "深圳", 'o\'neil "hk"', "nowhere", *many]) == sorted(
        ["shanghai", "深圳", 'o\'neil "hk"']
    )
    assert _ids(engine, []) == []


@pytest.mark.postgres
def test_among_probes_the_index_of_a_table_being_filled(pg_url: str, migrated: Migrated) -> None:
    """An import looks up a chunk's keys in tables it is filling, which have no statistics yet:
    the key list must be looked up in the column's index, not by a scan of every row written so
    far for each chunk (`import_1m`). 50,000 employees, as an import's tenth chunk sees them."""
    engine = migrated(pg_url)

    def explain(conn: Any, cursor: Any, statement: str, *args: Any) -> tuple[str, Any]:
        return "EXPLAIN " + statement, args[0]

    with engine.connect() as connection:
        connection.execute(text("INSERT INTO account VALUES ('beijing', 'beijing', 'CNY')"))
        connection.execute(
            text(
                "INSERT INTO employee (employee_id, name, department, account_id, hire_date,"
                " salary, role, slack_user_id) SELECT 'E' || i, 'n', '', 'beijing', '2024-01-02',"
                " 500000, 'employee', 'U' || i FROM generate_series(1, 50000) AS i"
            )
        )
        keys = [f"U{i}" for i in range(60_000, 65_000)]
        query = select(_EMPLOYEES.c.employee_id).where(
            among(_EMPLOYEES.c.slack_user_id, keys, engine.dialect)
        )
        event.listen(connection, "before_cursor_execute", explain, retval=True)
        plan = "\n".join(connection.execute(query).scalars())
    engine.dispose()

    assert "ix_employee_slack_user_id" in plan, plan
    assert "Seq Scan on employee" not in plan, plan
