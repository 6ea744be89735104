"""The first pass of a streamed employees import, kept in the database rather than in memory.

A file's second pass must know, for each row, whether an earlier row has the same employee
id, whether a manager id is anyone in the file, and which employees of the file claim a
platform user id. Held in dicts, that index grew with the file (433 MB of peak RSS at a
million rows, docs/PERFORMANCE.md); here it is a temporary table of the import's own
connection, in its transaction, asked a chunk of rows at a time, so the import's memory is
the same at any length (issue 19).

One row per employee id, the first row's: every noted row goes in as it comes (on PostgreSQL
one `COPY` stream, `storage.bulk.BulkInsert`), and after the pass one statement deletes the
later rows of each id that two rows carry (`GROUP BY … HAVING count(*) > 1` with the id's
first row number), together with their user ids, since only the first row of an id is
imported. Then the index on employee ids is made, unique: a duplicate left would fail here.
(An `ON CONFLICT DO NOTHING` insert dropped them as they came, but rules out `COPY`: a
statement per row, a fifth of the PostgreSQL import's own CPU, docs/PERFORMANCE.md.)
A user id column holds the id the row claims, '' when the row sent the column blank, NULL
when it did not send it (an API item leaving the field out: the stored value stays). SQLite
keeps temporary tables in a temporary file (https://www.sqlite.org/tempfiles.html, section
2.6) with their own small page cache; PostgreSQL in the server's temp buffers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator
from typing import Any

from sqlalchemy import Column, ColumnElement, Integer, MetaData, String, Table, func, select
from sqlalchemy import text as sql
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from core.platforms import PLATFORMS
from storage.bulk import BulkInsert
from storage.imports.table import Converter, Row
from storage.key_lists import among

USER_ID_COLUMNS = tuple(spec.user_id_column for spec in PLATFORMS)
_NAME = "import_first_rows"
_FIRST_ROWS = Table(
    _NAME,
    MetaData(),
    Column("employee_id", String, nullable=False),
    Column("first_row", Integer, nullable=False),
    *(Column(name, String) for name in USER_ID_COLUMNS),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_LATER_ROWS = f"""
    DELETE FROM {_NAME} WHERE first_row IN (
        SELECT later.first_row FROM {_NAME} AS later
        JOIN (
            SELECT employee_id, min(first_row) AS first_row FROM {_NAME}
            GROUP BY employee_id HAVING count(*) > 1
        ) AS duplicated
        ON later.employee_id = duplicated.employee_id AND later.first_row > duplicated.first_row
    )"""
"""The rows after the first of each employee id the file holds twice (row numbers are unique)."""
_BATCH = 5000
"""First-pass rows inserted at a time."""
_TEMP_SCHEMA = {"postgresql": "pg_temp", "sqlite": "temp"}
"""Where each database keeps temporary tables: a DROP names it, never a stored table."""


class FirstRows:
    """The file's employee ids with their first row number and that row's user ids.

    Use as a context manager: the table is created on entry and dropped on exit (PostgreSQL
    also drops it at commit; SQLite keeps a temporary table for the connection's life).
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: list[tuple[Any, ...]] = []
        self.dialect = session.get_bind().dialect.name
        self.repeats = True
        """Whether an employee id is on two rows of the file (known after `done`)."""
        self.shared: set[str] = set(USER_ID_COLUMNS)
        """The user id columns in which two employees of the file claim one id (after `done`)."""

    def __enter__(self) -> FirstRows:
        self._drop()
        connection = self.session.connection()
        _FIRST_ROWS.create(connection)
        self.insert = BulkInsert(connection, _FIRST_ROWS, [c.name for c in _FIRST_ROWS.c])
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self._drop()
            return
        # The import is failing already (and its transaction with it on PostgreSQL, where the
        # rollback takes the table along): its own error is the one to report.
        with contextlib.suppress(SQLAlchemyError):
            self._drop()

    def _drop(self) -> None:
        schema = _TEMP_SCHEMA[self.dialect]
        self.session.execute(sql(f"DROP TABLE IF EXISTS {schema}.{_NAME}"))

    def noter(self, convert: Converter) -> Callable[[Row], None]:
        """The first pass's visit of a row: `convert` (quiet) reads its employee id and user id
        columns; a row with a readable employee id is noted, with the user ids it claims."""

        def note(row: Row) -> None:
            values = convert(row)
            employee_id = values.get("employee_id")
            if employee_id is None:
                return
            claims = [
                (values[column] or "") if column in values else None for column in USER_ID_COLUMNS
            ]
            self.pending.append((employee_id, row.number, *claims))
            if len(self.pending) == _BATCH:
                self._flush()

        return note

    def _flush(self) -> None:
        self.insert(self.pending)
        self.pending = []

    def done(self, columns: Collection[str]) -> None:
        """After the first pass: the last rows, each id's first row alone, then indexes on the
        employee ids and on the user id `columns` sent. Also notes whether any id repeats and
        which columns have a user id two employees claim: most files have neither, and then
        no chunk needs to ask (one statement each here, where every chunk asked before)."""
        self._flush()
        self.repeats = self.session.connection().execute(sql(_LATER_ROWS)).rowcount > 0
        self.session.execute(
            sql(f"CREATE UNIQUE INDEX {_NAME}_employee_id ON {_NAME} (employee_id)")
        )
        self.shared = set()
        for column in columns:
            self.session.execute(sql(f"CREATE INDEX {_NAME}_{column} ON {_NAME} ({column})"))
            shared = (
                f"SELECT 1 FROM {_NAME} WHERE {column} <> '' GROUP BY {column} HAVING count(*) > 1"
            )
            if self.session.execute(sql(f"SELECT EXISTS ({shared})")).scalar_one():
                self.shared.add(column)
        if self.dialect == "postgresql":
            # Autovacuum never analyzes a temporary table: without statistics the planner
            # guesses its size, and may scan it whole for each chunk's look-ups.
            self.session.execute(sql(f"ANALYZE {_NAME}"))

    def _among(self, column: ColumnElement[str], keys: Collection[str]) -> ColumnElement[bool]:
        return among(column, keys, self.session.get_bind().dialect)

    def first_rows(
        self, employee_ids: Collection[str], before: int | None = None
    ) -> dict[str, int]:
        """The first row number of each of these ids that the file holds, or with `before` of
        those first seen on an earlier row only: a chunk asks for the ids of earlier chunks,
        so a file without duplicates answers nothing rather than the chunk's every row (and
        is not asked: without a repeated id, an id's first row is its only one)."""
        if not employee_ids or (before is not None and not self.repeats):
            return {}
        query = select(_FIRST_ROWS.c.employee_id, _FIRST_ROWS.c.first_row).where(
            self._among(_FIRST_ROWS.c.employee_id, employee_ids)
        )
        if before is not None:
            query = query.where(_FIRST_ROWS.c.first_row < before)
        return {employee_id: number for employee_id, number in self.session.execute(query)}

    def claimers(self, column: str, user_ids: Collection[str]) -> Iterator[tuple[str, str]]:
        """(user id, employee id) for each employee of the file that claims one of these ids."""
        if not user_ids:
            return iter(())
        claimed = _FIRST_ROWS.c[column]
        query = select(claimed, _FIRST_ROWS.c.employee_id).where(self._among(claimed, user_ids))
        return iter(self.session.execute(query).all())

    def contested(self, column: str, user_ids: Collection[str]) -> Iterator[tuple[str, str]]:
        """`claimers` of those of these ids that two or more employees of the file claim."""
        if not user_ids or column not in self.shared:
            return iter(())
        claimed = _FIRST_ROWS.c[column]
        shared = (
            select(claimed)
            .where(self._among(claimed, user_ids))
            .group_by(claimed)
            .having(func.count() > 1)
        )
        query = select(claimed, _FIRST_ROWS.c.employee_id).where(claimed.in_(shared))
        return iter(self.session.execute(query).all())

    def overriding(self, column: str, employee_ids: Collection[str]) -> set[str]:
        """Those of these employees whose `column` the import sets (so a stored value goes)."""
        if not employee_ids:
            return set()
        query = select(_FIRST_ROWS.c.employee_id).where(
            self._among(_FIRST_ROWS.c.employee_id, employee_ids),
            _FIRST_ROWS.c[column].is_not(None),
        )
        return set(self.session.execute(query).scalars())
