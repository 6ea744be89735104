"""Plain DB-API connections for the baselines: `sqlite3` or `psycopg`, no ORM, no Core.

The SQLite connection gets the same pragmas coverwatch sets (`storage.db`), so a baseline is
faster only by skipping work, not by a laxer durability setting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any


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
        """Rows into `table` the fastest way the driver has: `executemany` on SQLite, one
        `COPY … FROM STDIN` stream on PostgreSQL, as `storage.bulk.BulkInsert` writes them, so
        a baseline stays the limit (https://www.psycopg.org/psycopg3/docs/basic/copy.html)."""
        names = ", ".join(columns)
        if self.sqlite:
            marks = ", ".join("?" for _ in columns)
            self.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
            return
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        self.connection.close()
