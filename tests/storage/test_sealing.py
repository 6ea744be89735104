"""ID numbers sealed at rest (issue 15 item 9) on SQLite and PostgreSQL: the stored column
holds no plain text, reads open it, plain rows keep working, a wrong key is a clear error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import String, select, type_coerce, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from storage.db import session_scope
from storage.imports import import_employees
from storage.models import Account, Employee
from storage.rekey import check_keys, stored_key_ids
from storage.sealing import DataKeyError, DataKeys, key_id, new_key, use_data_keys

ID_NUMBER = "110101199001011234"
KEY, OTHER_KEY = new_key(), new_key()
_TABLE = Employee.__table__  # type: ignore[attr-defined]


def _stored(engine: Engine) -> dict[str, str | None]:
    """Each employee's id_number exactly as the database holds it."""
    query = select(_TABLE.c.employee_id, type_coerce(_TABLE.c.id_number, String))
    with engine.connect() as connection:
        return {employee_id: stored for employee_id, stored in connection.execute(query)}


def _add(engine: Engine, employee_id: str, id_number: str | None) -> None:
    with session_scope(engine) as session:
        if session.get(Account, "beijing") is None:
            session.add(Account(id="beijing", policy_id="beijing", currency="CNY"))
        session.add(
            Employee(
                employee_id=employee_id,
                name=employee_id,
                account_id="beijing",
                hire_date=date(2024, 1, 1),
                salary=Decimal("10000"),
                id_number=id_number,
            )
        )


def _read(engine: Engine, employee_id: str) -> str | None:
    with session_scope(engine) as session:
        employee = session.get(Employee, employee_id)
        assert employee is not None
        return employee.id_number


def test_a_key_seals_what_is_written_and_opens_what_is_read(engine: Engine) -> None:
    use_data_keys(engine, DataKeys(KEY))
    _add(engine, "E1", ID_NUMBER)
    _add(engine, "E2", None)
    stored = _stored(engine)
    assert stored["E2"] is None
    assert stored["E1"] is not None
    assert stored["E1"].startswith(f"fernet:{key_id(KEY)}:")
    assert ID_NUMBER not in stored["E1"] and "1234" not in stored["E1"].split(":")[1]
    assert _read(engine, "E1") == ID_NUMBER
    with session_scope(engine) as session:
        assert stored_key_ids(session) == {key_id(KEY): 1}


def test_the_same_number_seals_differently_each_time(engine: Engine) -> None:
    use_data_keys(engine, DataKeys(KEY))
    _add(engine, "E1", ID_NUMBER)
    _add(engine, "E2", ID_NUMBER)
    stored = _stored(engine)
    assert stored["E1"] != stored["E2"]


def test_plain_rows_from_before_the_key_keep_working(engine: Engine) -> None:
    _add(engine, "E1", ID_NUMBER)
    assert _stored(engine)["E1"] == ID_NUMBER
    use_data_keys(engine, DataKeys(KEY))
    assert _read(engine, "E1") == ID_NUMBER
    with session_scope(engine) as session:
        check_keys(session, DataKeys(KEY))
        employee = session.get(Employee, "E1")
        assert employee is not None
        employee.name = "renamed"  # an unrelated change leaves the plain value as it was
    assert _stored(engine)["E1"] == ID_NUMBER


def test_a_wrong_or_missing_key_is_a_clear_error_not_garbage(engine: Engine) -> None:
    use_data_keys(engine, DataKeys(KEY))
    _add(engine, "E1", ID_NUMBER)
    use_data_keys(engine, DataKeys(OTHER_KEY))
    expected = f"sealed under data key {key_id(KEY)}, which is neither"
    with pytest.raises(DataKeyError, match=expected) as wrong:
        _read(engine, "E1")
    with session_scope(engine) as session, pytest.raises(DataKeyError, match=expected):
        check_keys(session, DataKeys(OTHER_KEY))
    use_data_keys(engine, None)
    with pytest.raises(DataKeyError, match="COVERWATCH_SECURITY__DATA_KEY") as missing:
        _read(engine, "E1")
    for error in (wrong, missing):
        text = str(error.value)
        assert KEY not in text and OTHER_KEY not in text and ID_NUMBER not in text


def test_a_previous_key_still_opens_its_values(engine: Engine) -> None:
    use_data_keys(engine, DataKeys(KEY))
    _add(engine, "E1", ID_NUMBER)
    use_data_keys(engine, DataKeys(OTHER_KEY, [KEY]))
    assert _read(engine, "E1") == ID_NUMBER
    _add(engine, "E2", ID_NUMBER)
    assert str(_stored(engine)["E2"]).startswith(f"fernet:{key_id(OTHER_KEY)}:")


def test_a_changed_byte_fails_instead_of_opening(engine: Engine) -> None:
    use_data_keys(engine, DataKeys(KEY))
    _add(engine, "E1", ID_NUMBER)
    stored = _stored(engine)["E1"]
    assert stored is not None
    flipped = stored[:-10] + ("A" if stored[-10] != "A" else "B") + stored[-9:]
    with engine.begin() as connection:
        connection.execute(update(_TABLE).values(id_number=type_coerce(flipped, String)))
    with pytest.raises(DataKeyError, match="changed or damaged"):
        _read(engine, "E1")


def test_an_employee_import_seals_new_and_changed_id_numbers(
    engine: Engine, tmp_path: Path
) -> None:
    use_data_keys(engine, DataKeys(KEY))
    path = tmp_path / "employees.csv"
    for number in (ID_NUMBER, "110101199001015678"):
        path.write_text(
            "employee_id,name,account,hire_date,salary,id_number\n"
            f"E1,A,beijing,2024-01-01,10000,{number}\n",
            encoding="utf-8",
        )
        with session_scope(engine) as session:
            result = import_employees(session, path, known_accounts={"beijing"})
            assert not result.errors
        stored = _stored(engine)["E1"]
        assert stored is not None and stored.startswith("fernet:") and number not in stored
        assert _read(engine, "E1") == number


def test_keys_must_be_data_keys() -> None:
    with pytest.raises(ValueError, match="32 url-safe base64-encoded bytes") as bad:
        DataKeys("not-a-key")
    assert "not-a-key" not in str(bad.value)


def test_a_failed_statement_does_not_carry_the_id_number_into_its_message(
    engine: Engine,
) -> None:
    """Without a key too: SQLAlchemy puts a statement's parameters into its error message,
    which tracebacks and log lines show (storage.db hides them)."""
    _add(engine, "E1", ID_NUMBER)
    with pytest.raises(IntegrityError) as failed:
        _add(engine, "E1", ID_NUMBER)
    assert ID_NUMBER not in str(failed.value)
    assert "parameters hidden" in str(failed.value)
