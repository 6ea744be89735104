"""The streamed employees import: two passes, chunked writes, the same errors as before.

`tests/fixtures/imports/streamed_employees.json` holds what the importer reported before it
streamed (every row held, written at the end) for `streamed_employees.rows`: the streamed one
must report the same rows, columns and messages, in the same order, and leave the database as
it was; a good file must create and update the same employees, across chunk boundaries.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from storage.db import session_scope
from storage.imports import ImportResult, import_employees
from storage.models import Employee
from tests.support.databases import Migrated
from tests.support.imports import snapshot, write_csv
from tests.support.streamed_employees import ACCOUNTS, COUNT, EXISTING, FAULTS, HEADER, rows

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


def test_an_id_three_times_across_chunks_keeps_its_first_row_and_claims(
    engine: Engine, tmp_path: Path
) -> None:
    """The first pass notes every row and drops the later rows of an id after the pass: each
    later row is a duplicate of the first, and the Slack ids they carry claim nothing."""
    lines = _company(11_000)
    lines[5502][0], lines[5502][10] = "E000001", "U999999"  # row 5,503, the second chunk
    lines[10502][0], lines[10502][10] = "E000001", "U000002"  # row 10,503: E000002's id
    lines[10602][10] = "U999999"  # claimed again only by the dropped row 5,503

    result = run(engine, write_csv(tmp_path / "three.csv", lines))

    assert [str(error) for error in result.errors] == [
        "row 5503, column employee_id: duplicate employee id 'E000001' (first on row 3)",
        "row 10503, column employee_id: duplicate employee id 'E000001' (first on row 3)",
    ]


def _company(count: int) -> list[list[str]]:
    """`count` good rows, each with a manager in the file and a Slack id of its own."""
    return [HEADER, *(_person(i) for i in range(count))]


def _person(i: int) -> list[str]:
    manager = f"E{i // 25 * 25:06d}" if i % 25 else ""
    salary, slack = str(5000 + i % 40000), f"U{i:06d}"
    blanks = ["", "", "", ""]  # role, enrolled_on, the unnamed column, email
    return [f"E{i:06d}", f"员工{i}", ACCOUNTS[i % 3], "2024-01-02", salary, manager, *blanks, slack]


def _live_bytes(engine: Engine, path: Path) -> int:
    """The most memory the import holds at once while it writes: traced memory after a garbage
    collection at each progress report (every 1,000 rows of the second pass), so garbage not
    yet collected does not count."""
    live: list[int] = []

    def progress(done: int, total: int) -> None:
        gc.collect()
        live.append(tracemalloc.get_traced_memory()[0])

    tracemalloc.start()
    try:
        with session_scope(engine) as session:
            result = import_employees(session, path, known_accounts=ACCOUNTS, progress=progress)
        assert result.ok
        return max(live)
    finally:
        tracemalloc.stop()


@pytest.mark.slow  # 36,000 rows imported under tracemalloc: ~20 s on a busy machine
def test_import_memory_does_not_grow_with_the_file(
    sqlite_url: str, migrated: Migrated, tmp_path: Path
) -> None:
    """SQLite only: on PostgreSQL psycopg also keeps each IN-list length's converted statement
    (a bounded cache, filled a chunk at a time), which at these sizes grows as a file would."""
    engine = migrated(sqlite_url)
    small = _live_bytes(engine, write_csv(tmp_path / "small.csv", _company(6_000)))
    large = _live_bytes(engine, write_csv(tmp_path / "large.csv", _company(30_000)))
    engine.dispose()
    # The first pass's index held in dicts (before issue 19 put it in a temporary table) grew
    # with the rows: 1.8x here; now 1.06x.
    assert large < 1.15 * small, (small, large)
