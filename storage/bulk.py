"""Bulk INSERTs handed straight to the DB-API driver, for paths that write 100,000s of rows.

SQLAlchemy's executemany builds one parameter dict per row and runs it through the compiled
statement in Python; at month-end scale that costs more than the insert itself
(docs/PERFORMANCE.md, `dues_100k` and `import_100k`). `BulkInsert` takes rows as the driver
takes them; `driver_row` makes such a row from a record through each column type's own bind
processor, so the stored form (`Money` as cents, dates as the dialect keeps them) keeps one
definition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any, TypeAlias

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Dialect

DriverRow: TypeAlias = tuple[Any, ...]
"""One row's values in the insert's column order, already in the driver's types."""


class BulkInsert:
    """INSERT rows into `columns` of `table`, batched the way the driver is fastest.

    sqlite3's `executemany` steps one statement per row, so on SQLite rows go as multi-row
    INSERTs, a page each, as SQLAlchemy's "insertmanyvalues" batches them and within the
    driver's parameter limit (999 before SQLite 3.32). On PostgreSQL rows are one
    `COPY … FROM STDIN` stream (https://www.psycopg.org/psycopg3/docs/basic/copy.html):
    psycopg's `executemany` sends a statement per row, ~15 µs of client CPU each, three
    quarters of an employee import's own CPU there (docs/PERFORMANCE.md, import_100k_pg).
    COPY takes no `ON CONFLICT`: a caller that must skip rows already there inserts them all
    and deletes the extra ones after (`storage.imports.first_pass`).
    """

    def __init__(self, connection: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = connection.dialect
        # sqlite3 is "qmark" (`?`); psycopg is "pyformat", which takes plain `%s` too (PEP 249).
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.connection = connection
        self.width = len(columns)
        self.prefix = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
        self.row_marks = f"({', '.join([mark] * len(columns))})"
        self.page = 1
        self.copy: str | None = None
        if dialect.name == "postgresql":
            self.copy = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        if dialect.name == "sqlite":
            limit = dialect.insertmanyvalues_max_parameters // len(columns)
            self.page = min(dialect.insertmanyvalues_page_size, limit)

    def __call__(self, rows: Sequence[DriverRow]) -> None:
        if not rows:
            return
        if self.copy is not None:
            self._copy(rows)
            return
        if self.page == 1:
            self.connection.exec_driver_sql(self._sql(1), list(rows))
            return
        for start in range(0, len(rows), self.page):
            page = rows[start : start + self.page]
            self.connection.exec_driver_sql(self._sql(len(page)), tuple(chain(*page)))

    def flat(self, values: Sequence[Any]) -> None:
        """INSERT rows given as one flat sequence: each row's values in column order (in the
        driver's types), one row after the other.

        For a writer of 100,000s of rows that can append its values straight to one list: a
        tuple per row would only be taken apart again here (`dues_100k`: building and
        flattening the rows cost 0.05 s of CPU a run, docs/PERFORMANCE.md, session 6).
        """
        width = self.width
        if len(values) % width:
            raise ValueError(f"{len(values)} values do not make rows of {width} columns")
        if self.copy is not None:
            self._copy(values[start : start + width] for start in range(0, len(values), width))
            return
        if self.page == 1:
            self([tuple(values[start : start + width]) for start in range(0, len(values), width)])
            return
        step = self.page * width
        for start in range(0, len(values), step):
            page = values[start : start + step]
            self.connection.exec_driver_sql(self._sql(len(page) // width), tuple(page))

    def _copy(self, rows: Iterable[Sequence[Any]]) -> None:
        psycopg: Any = self.connection.connection.driver_connection
        with psycopg.cursor() as cursor, cursor.copy(self.copy) as copy:
            for row in rows:
                copy.write_row(row)

    def _sql(self, rows: int) -> str:
        return self.prefix + ", ".join([self.row_marks] * rows)


def driver_row(
    table: Table, columns: Sequence[str], dialect: Dialect
) -> Callable[[Mapping[str, Any]], DriverRow]:
    """A function from a record (column name to Python value) to its `BulkInsert` row."""
    processors = [
        (index, process)
        for index, name in enumerate(columns)
        if (process := table.c[name].type.bind_processor(dialect)) is not None
    ]

    # One C call picks a row's values: no Python loop over the names per row.
    pick = itemgetter(*columns) if len(columns) > 1 else lambda record: (record[columns[0]],)

    def row(record: Mapping[str, Any]) -> DriverRow:
        values = list(pick(record))
        for index, process in processors:
            values[index] = process(values[index])
        return tuple(values)

    return row
