"""Plain DB-API connections for the baselines: `sqlite3` or `psycopg`, no ORM, no Core.

The SQLite connection gets the same pragmas coverwatch sets (`storage.db`), so a baseline is
faster only by skipping work, not by a laxer durability setting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

SQLITE_PAGE, SQLITE_MAX_PARAMETERS = 1000, 32766
"""SQLAlchemy's insertmanyvalues page for SQLite, and SQLite's SQLITE_MAX_VARIABLE_NUMBER since
3.32 (https://www.sqlite.org/limits.html#max_variable_number), as `BulkInsert` pages its rows."""


class Raw:
    """A DB-API connection and its placeholder (`?` for sqlite3, `%s` for psycopg)."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            self.connection: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
                self.connection.execute(f"PRAGMA {pragma}")
            self.mark = "?"
        else:
            import psycopg

            self.connection = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
            self.mark = "%s"

    def sql(self, text: str) -> str:
        """`text` written with `?` placeholders, in this driver's style."""
        return text if self.sqlite else text.replace("?", "%s")

    def fetchall(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.connection.cursor()
        cursor.execute(self.sql(text), params)
        return list(cursor.fetchall())

    def stream(self, text: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows as the driver hands them over, without holding them all (PostgreSQL: a
        server-side cursor, fetched 2,000 rows at a time as coverwatch's reports read)."""
        if self.sqlite:
            yield from self.connection.execute(text, params)
            return
        with self.connection.cursor(name="stream") as cursor:
            cursor.itersize = 2000
            cursor.execute(self.sql(text), params)
            yield from cursor

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        self.connection.cursor().executemany(self.sql(text), rows)

    def insert(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Rows into `table` the fastest way the driver has, as `storage.bulk.BulkInsert`
        writes them, so a baseline stays the limit: on SQLite multi-row INSERTs of up to
        `SQLITE_PAGE` rows within SQLite's parameter limit (sqlite3's `executemany` steps one
        statement per row, 1.3x the CPU measured on `dues_100k`); on PostgreSQL one
        `COPY … FROM STDIN` stream (https://www.psycopg.org/psycopg3/docs/basic/copy.html)."""
        names = ", ".join(columns)
        if self.sqlite:
            page = min(SQLITE_PAGE, SQLITE_MAX_PARAMETERS // len(columns))
            batch: list[Any] = []
            for row in rows:
                batch.extend(row)
                if len(batch) == page * len(columns):
                    self._insert_page(table, columns, batch)
                    batch = []
            if batch:
                self._insert_page(table, columns, batch)
            return
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _insert_page(self, table: str, columns: Sequence[str], values: list[Any]) -> None:
        marks = f"({', '.join('?' for _ in columns)})"
        pages = ", ".join([marks] * (len(values) // len(columns)))
        self.connection.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {pages}", values
        )

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()
