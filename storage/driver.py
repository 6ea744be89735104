"""Statements run on the database driver itself, without SQLAlchemy's execution context and
result objects: a chat answer's hot reads (`read`), and what `storage.inbound` writes on the
driver; a driver's error raised as SQLAlchemy's either way (`driver_error`).

Each chat command reads the asker (`storage.employees.asker`) and, for `coverage`, the
account's standings (`storage.payments.period_standings`). Through SQLAlchemy each of those
statements cost ~120 µs of the handler's CPU on PostgreSQL, of which psycopg's own work was
~50 µs: on the driver, a `coverage` answer's handling fell from ~600 to ~445 µs
(docs/PERFORMANCE.md, session 10). The statement is compiled once; its columns are converted
as their types say (a sealed id number decrypted, money as `Decimal`), as SQLAlchemy's result
would. On SQLite SQLAlchemy's part of a statement is ~20 µs: there the session's connection
runs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.engine.interfaces import DBAPIModule
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.selectable import CompoundSelect, Select
from sqlmodel import Session

Statement = Select[*tuple[Any, ...]] | CompoundSelect[*tuple[Any, ...]]
"""A `select` or a union of them."""


@dataclass(frozen=True)
class _Plan:
    """A statement compiled for psycopg (`%(name)s` placeholders)."""

    sql: str
    defaults: dict[str, Any]
    """Its parameters' values where the statement holds them (a `LIMIT`, a literal)."""
    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(column index, its type's result processor) for the columns that need one."""

    def convert(self, row: Sequence[Any]) -> Sequence[Any]:
        values = list(row)
        for index, process in self.conversions:
            values[index] = process(values[index])
        return values


def read(session: Session, statement: Statement, params: Mapping[str, Any]) -> Sequence[Any]:
    """The rows `statement` selects with `params`, as sequences of column values, on the
    session's connection (its transaction, or none on PostgreSQL when `read_only`). A driver
    error is raised as SQLAlchemy's (`driver_error`). SQLAlchemy's statement events
    (`before_cursor_execute`) do not see what runs on the driver."""
    connection = session.connection()
    plan = _plan(statement, connection.dialect) if connection.dialect.name == "postgresql" else None
    if plan is None:
        return connection.execute(statement, params).all()
    values = {**plan.defaults, **params}
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        rows = driver.execute(plan.sql, values).fetchall()
    except connection.dialect.loaded_dbapi.Error as exc:
        raise driver_error(
            exc,
            connection.engine,
            connection.connection.dbapi_connection,
            connection.invalidate,
            plan.sql,
            values,
        ) from exc
    return [plan.convert(row) for row in rows] if plan.conversions else rows


@lru_cache(maxsize=32)
def _plan(statement: Statement, dialect: Dialect) -> _Plan | None:
    """How `statement` runs on the driver; None when a parameter needs SQLAlchemy's conversion
    or the SQL is finished per call (an expanding `IN` list): then SQLAlchemy runs it."""
    compiled = statement.compile(dialect=dialect)
    binds = list(compiled.binds.values())
    if compiled.post_compile_params or any(
        bind.type.dialect_impl(dialect).bind_processor(dialect) is not None for bind in binds
    ):
        return None
    given = [bind for bind in binds if bind.required]
    if any(compiled.bind_names[bind] != bind.key for bind in given):
        return None  # named otherwise in the SQL than by the caller
    conversions = tuple(
        (index, process)
        for index, column in enumerate(statement.selected_columns)
        if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
    )
    return _Plan(
        sql=str(compiled),
        defaults=dict(compiled.construct_params({bind.key: None for bind in given})),
        conversions=conversions,
    )


def driver_error(
    exc: DBAPIModule.Error,
    engine: Engine,
    dbapi_connection: Any,
    invalidate: Callable[[BaseException], None],
    sql: str | None,
    params: Any,
) -> StatementError:
    """A driver's error (psycopg's, sqlite3's) met on a statement run on the driver itself,
    as SQLAlchemy's own execution raises it (`sql` and `params` name it, the parameters hidden
    as the engine's `hide_parameters` says); a connection it found dead is `invalidate`d, so
    the pool drops it."""
    gone = engine.dialect.is_disconnect(exc, dbapi_connection, None)
    if gone:
        invalidate(exc)
    return DBAPIError.instance(
        sql,
        params,
        exc,
        engine.dialect.loaded_dbapi.Error,
        hide_parameters=engine.hide_parameters,
        dialect=engine.dialect,
        connection_invalidated=gone,
    )
