"""The streamed employees import: two passes, chunked writes, the same errors as before.

`tests/fixtures/imports/streamed_employees.json` holds what the importer reported before it
streamed (every row held, written at the end) for `streamed_employees.rows`: the streamed one
must report the same rows, columns and messages, in the same order, and leave the database as
it was; a good file must create and update the same employees, across chunk boundaries.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlmodel import Session

from storage.db import session_scope
from storage.imports import ImportResult, import_employees
from storage.models import Employee
from tests.support.imports import snapshot, write_csv
from tests.support.streamed_employees import ACCOUNTS, COUNT, EXISTING, FAULTS, rows

EXPECTED = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "imports" / "streamed_employees.json").read_text(
        encoding="utf-8"
    )
)


def run(engine: Engine, path: Path) -> ImportResult:
    with session_scope(engine) as session:
        return import_employees(session, path, known_accounts=ACCOUNTS)


def test_errors_are_the_pre_streaming_importers_and_nothing_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    assert run(engine, write_csv(tmp_path / "existing.csv", EXISTING)).ok
    before = snapshot(engine)

    result = run(engine, write_csv(tmp_path / "faulty.csv", rows(faults=True)))

    assert result.rows == EXPECTED["faulty_rows"] == COUNT
    assert [[e.row, e.column, e.reason] for e in result.errors] == EXPECTED["faulty_errors"]
    assert (result.created, result.updated) == (0, 0)
    assert snapshot(engine) == before


def test_a_late_error_undoes_the_chunks_already_written(engine: Engine, tmp_path: Path) -> None:
    assert run(engine, write_csv(tmp_path / "existing.csv", EXISTING)).ok
    before = snapshot(engine)
    lines = rows(faults=False)
    late = max(FAULTS)  # after two 5,000-row chunks went to the database
    lines[late + 2][4] = "-5"

    result = run(engine, write_csv(tmp_path / "late.csv", lines))

    assert [str(error) for error in result.errors] == [
        f"row {late + 3}, column salary: must not be negative: -5.00"
    ]
    assert snapshot(engine) == before


def test_a_good_file_creates_and_updates_across_chunks(engine: Engine, tmp_path: Path) -> None:
    assert run(engine, write_csv(tmp_path / "existing.csv", EXISTING)).ok

    result = run(engine, write_csv(tmp_path / "good.csv", rows(faults=False)))

    good = EXPECTED["good"]
    assert (result.rows, result.created, result.updated) == (
        good["rows"],
        good["created"],
        good["updated"],
    )
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Employee)).scalar_one() == 12_001
        later = session.get_one(Employee, "E00005")
        updated = session.get_one(Employee, "E00003")
        assert later.manager_id == "E06005"  # defined two chunks further down
        assert updated.name == "员工3"  # an update of a stored employee
