"""The inbound queue: each verified chat event is written here before its platform's ack.

A row is `pending` until a handler worker claims it (`handling`, with a lease), runs the
pipeline, sends the answer and marks it `done`; a claim whose worker died is taken over once
its lease has passed. Claims follow the outbox (`storage/outbox.py`): on PostgreSQL the due
rows are locked with `FOR UPDATE SKIP LOCKED` and taken by a guarded `UPDATE … RETURNING`, in
one statement (`_claim_on_postgres`). One
user's events are answered in the order they arrived: a row is claimable only when no earlier
row of the same user is still open. The unique (platform, event id) makes a platform's retry,
even after a restart, a duplicate that is acked and dropped; done rows stay for `RETENTION` as
that record (their payload emptied: it may hold what the user typed).

Every statement is Core on a pooled connection, and the per-message ones are built once: this
runs for every message, on the platform's ack path (docs/PERFORMANCE.md, chat_http).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement, ColumnElement, FromClause
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import BindParameter, Executable

from storage.db import SQLITE_BUSY_TIMEOUT_MS
from storage.driver import driver_error
from storage.models import InboundEvent

RETENTION = timedelta(days=7)
"""Platforms retry for minutes, not days: answered rows older than this can go."""
LEASE = timedelta(seconds=60)
"""How long a claim is held before another worker may take it over: a live worker renews it
when half gone (`renew`), so only a dead or stalled worker's claim runs out."""
PENDING, HANDLING, DONE = "pending", "handling", "done"
SQLITE_BUSY = 5
"""SQLite's result code for "another connection holds the lock" (extended codes share it)."""
_ADMIT_KEYS = ("platform", "event_id", "user_key", "payload", "received_at", "state", "attempts")

T = TypeVar("T")
_TABLE: Table = InboundEvent.__table__  # type: ignore[attr-defined]
_C = _TABLE.c


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """One claimed row; `payload` is what the receiving side wrote (`bot.handling` encodes
    the neutral event and its reply target)."""

    id: int
    payload: str
    attempts: int


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    platform: str
    event_id: str
    user_key: str
    """`platform:user id`: one user's events are answered in the order they arrived."""
    payload: str


def admit(engine: Engine, item: NewEvent, *, now: datetime) -> bool:
    """Write the event; True when it is new, False for a duplicate (platform, event id).
    Raises `sqlalchemy.exc.SQLAlchemyError` when it cannot (the database is away). The serving
    process writes PostgreSQL's in groups instead (`storage.inbound_groups`)."""
    values = _row(item, now)
    if engine.dialect.name == "sqlite":
        return _admit_on_sqlite(engine, values)
    if engine.dialect.name == "postgresql":
        return _admit_on_postgres(engine, values)
    with engine.begin() as connection:
        return connection.execute(_statements(engine).admit, values).first() is not None


def _row(item: NewEvent, received_at: Any) -> dict[str, Any]:
    """The columns `admit` writes (`_ADMIT_KEYS`): a new row, pending."""
    return {
        "platform": item.platform,
        "event_id": item.event_id,
        "user_key": item.user_key,
        "payload": item.payload,
        "received_at": received_at,
        "state": PENDING,
        "attempts": 0,
    }


def _admit_on_sqlite(engine: Engine, values: dict[str, Any]) -> bool:
    """`admit` on the pooled connection's own DB-API cursor: SQLAlchemy's execution (a
    `Connection`, parameter processing, a result object) cost more CPU than SQLite's insert and
    commit (docs/PERFORMANCE.md, chat_http). The statement is the one SQLAlchemy compiles, its
    time bound as SQLAlchemy binds it."""
    sql, names, received_at = _sqlite_admit(engine.dialect)
    values["received_at"] = received_at(values["received_at"])
    params = tuple(values[name] for name in names)

    def insert(cursor: Any) -> bool:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None

    return _on_sqlite(engine, sql, params, insert)


def admit_if_free(engine: Engine, item: NewEvent, *, now: datetime) -> bool | None:
    """`admit` on SQLite without waiting for the write lock: None when another writer holds
    it (nothing written; the caller admits on its writer thread), or on another database. The
    server admits on its event loop so, sparing each command a trip to its writer thread and
    back (docs/PERFORMANCE.md, chat_http), and never sleeps the loop in SQLite's busy handler.
    Raises `sqlalchemy.exc.SQLAlchemyError` as `admit` does."""
    if engine.dialect.name != "sqlite":
        return None
    sql, names, received_at = _sqlite_admit(engine.dialect)
    values = _row(item, received_at(now))
    params = tuple(values[name] for name in names)
    busy = False

    def insert(cursor: Any) -> bool:
        nonlocal busy
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute(sql, params)
            return cursor.fetchone() is not None
        except engine.dialect.loaded_dbapi.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF != SQLITE_BUSY:
                raise
            busy = True
            return False
        finally:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    new = _on_sqlite(engine, sql, params, insert)
    return None if busy else new


def _on_sqlite(engine: Engine, sql: str, params: Any, work: Callable[[Any], T]) -> T:
    """`work` on a pooled connection's DB-API cursor, committed; a driver error is rolled back
    and raised as SQLAlchemy's (`sql` and `params` name it), parameters hidden as
    `hide_parameters` says."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            done = work(cursor)
        finally:
            cursor.close()
        connection.commit()  # nothing to commit after a busy `admit_if_free`: a no-op
        return done
    except engine.dialect.loaded_dbapi.Error as exc:
        with contextlib.suppress(engine.dialect.loaded_dbapi.Error):
            connection.rollback()
        raise driver_error(
            exc, engine, connection.dbapi_connection, connection.invalidate, sql, params
        ) from exc
    finally:
        connection.close()  # back to the pool


@lru_cache(maxsize=16)
def _sqlite_admit(dialect: Dialect) -> tuple[str, tuple[str, ...], Callable[[Any], Any]]:
    """The admit statement's SQL for SQLite, its parameters' order, and how `received_at` is
    bound (the column type's processor: aware datetimes in UTC, SQLite's text form)."""
    statement = _statements_for("sqlite").admit
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect, column_keys=list(_ADMIT_KEYS))
    assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None  # qmark style
    return compiled.string, tuple(compiled.positiontup), stamp_for(dialect)


def claim(
    engine: Engine,
    *,
    worker: str,
    now: datetime,
    limit: int = 8,
    lease: timedelta = LEASE,
    answered: Sequence[int] = (),
) -> list[Claimed]:
    """Claim up to `limit` rows, oldest first: pending ones and those whose lease ran out, each
    the oldest open row of its user (so one user's events are never handled side by side).
    `answered`: rows this worker has answered, marked done first in the same transaction (one
    write per pass of the worker, not one per answer: SQLite has one writer, and the platforms'
    acks wait for it)."""
    if engine.dialect.name == "sqlite":
        return _claim_on_sqlite(engine, worker, now, limit, lease, answered)
    if engine.dialect.name == "postgresql":
        return _claim_on_postgres(engine, worker, now, limit, lease, answered)
    statements = _statements(engine)
    with engine.begin() as connection:
        if answered:
            connection.execute(statements.done, _done_params(answered, worker, now))
        if limit <= 0:
            return []
        ids = list(connection.execute(statements.due, {"now": now, "limit": limit}).scalars())
        if not ids:
            return []
        taken = connection.execute(
            statements.take,
            {"ids": ids, "now": now, "claimer": worker, "until": now + lease},
        ).all()
    rows = {row.id: row for row in taken}
    return [  # RETURNING comes in no particular order
        Claimed(id=row_id, payload=rows[row_id].payload, attempts=rows[row_id].attempts)
        for row_id in ids
        if row_id in rows
    ]


def _claim_on_sqlite(
    engine: Engine,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    answered: Sequence[int],
) -> list[Claimed]:
    """`claim` on the pooled connection's DB-API cursor, as `admit`: the answered rows marked
    done (one `executemany`) and the due rows taken by one `UPDATE … WHERE id IN (SELECT …)
    RETURNING` (SQLite 3.35+), in one transaction. Through SQLAlchemy's `Connection` a pass
    cost ~0.5 ms of CPU, also when it found nothing, and a worker makes one per command and
    ten a second when idle (docs/PERFORMANCE.md, chat_http). SQLite has one writer: the
    select-then-update of the other databases needs no lock here."""
    sql = _sqlite_claim(engine.dialect)
    stamp = sql.stamp(now)
    values = {"now": stamp, "claimer": worker, "until": sql.stamp(now + lease), "limit": limit}
    params = sql.take.bind(values)
    done = [sql.done.bind({"id": row_id, "claimer": worker, "at": stamp}) for row_id in answered]

    def run(cursor: Any) -> list[tuple[int, str, int]]:
        if done:
            cursor.executemany(sql.done.sql, done)
        if limit <= 0:
            return []
        cursor.execute(sql.take.sql, params)
        return list(cursor.fetchall())

    taken = _on_sqlite(engine, sql.take.sql, params, run)
    return [  # RETURNING comes in no particular order
        Claimed(id=row_id, payload=payload, attempts=attempts)
        for row_id, payload, attempts in sorted(taken)
    ]


@dataclass(frozen=True)
class _Positional:
    """A statement as SQLAlchemy compiles it for a qmark driver: its SQL, its placeholders'
    names in order, and the values of those the statement itself binds (its literals)."""

    sql: str
    names: tuple[str, ...]
    literals: Mapping[str, Any]

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect, names: Sequence[str]) -> _Positional:
        """`names`: the parameters each execution binds (`bind`)."""
        assert isinstance(statement, ClauseElement)
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        # The statement's `in_` lists rendered as SQLAlchemy renders them when it executes.
        state = compiled.construct_expanded_state(dict.fromkeys(names))
        assert state.positiontup is not None  # qmark style
        return cls(state.statement, tuple(state.positiontup), state.parameters)

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The parameters in order: `values` (already in the driver's types), else the
        statement's own."""
        return tuple(values[name] if name in values else self.literals[name] for name in self.names)


@dataclass(frozen=True)
class _SqliteClaim:
    take: _Positional
    done: _Positional
    stamp: Callable[[Any], Any]
    """How SQLAlchemy binds a time to these columns (UTC, SQLite's text form)."""


@lru_cache(maxsize=16)
def _sqlite_claim(dialect: Dialect) -> _SqliteClaim:
    """SQLite's claim statements, compiled once."""
    statements = _statements_for("sqlite")
    return _SqliteClaim(
        take=_Positional.of(statements.take_due, dialect, ("now", "claimer", "until", "limit")),
        done=_Positional.of(statements.done_one, dialect, ("id", "claimer", "at")),
        stamp=stamp_for(dialect),
    )


@lru_cache(maxsize=16)
def stamp_for(dialect: Dialect) -> Callable[[Any], Any]:
    """How SQLAlchemy binds a time to the table's time columns on `dialect` (aware, in UTC;
    SQLite's text form): statements run on the driver's cursor bind it so."""
    processor = _C.received_at.type.bind_processor(dialect)
    return processor or (lambda value: value)


def _on_postgres(engine: Engine, sql: str, params: Any, work: Callable[[Any], T]) -> T:
    """`work` on a pooled connection's psycopg connection in autocommit: each statement is its
    own transaction, sent alone (no `BEGIN` and `COMMIT` round trips: each cost as much CPU,
    ours and the server's, as a small statement; docs/PERFORMANCE.md, session 6). A driver
    error is raised as SQLAlchemy's (`sql` and `params` name it, parameters hidden as
    `hide_parameters` says); a connection it found dead is dropped from the pool, as
    SQLAlchemy's own execution does."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()
    except dbapi_error as exc:  # the pool's connect raises the driver's own error
        raise DBAPIError.instance(
            None,
            None,
            exc,
            dbapi_error,
            hide_parameters=engine.hide_parameters,
            dialect=engine.dialect,
        ) from exc
    try:
        driver = connection.driver_connection
        assert driver is not None
        driver.autocommit = True
        try:
            return work(driver)
        finally:
            with contextlib.suppress(dbapi_error):
                driver.autocommit = False
    except dbapi_error as exc:
        raise driver_error(
            exc, engine, connection.dbapi_connection, connection.invalidate, sql, params
        ) from exc
    finally:
        connection.close()  # back to the pool


def _admit_on_postgres(engine: Engine, values: dict[str, Any]) -> bool:
    """`admit` as one autocommitted `INSERT … ON CONFLICT DO NOTHING RETURNING` on the driver's
    connection (psycopg prepares it after a few uses): through SQLAlchemy's `Connection`,
    with its `BEGIN` and `COMMIT`, the write cost ~2x the CPU, ours and the server's."""
    sql = _postgres(engine.dialect)
    params = {**values, "received_at": sql.stamp(values["received_at"])}

    def insert(driver: Any) -> bool:
        return driver.execute(sql.admit, params).fetchone() is not None

    return _on_postgres(engine, sql.admit, params, insert)


CLAIM_WINDOW_PER_ROW = 4
"""PostgreSQL's claim reads first the open rows whose ids are within `limit` x this many of
the oldest pending row's (`_POSTGRES_CLAIM`'s `head`): room for the claimers of one pass,
each skipping the rows another has locked, to find `limit` users' first rows there."""


def postgres_claim_params(
    dialect: Dialect,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    answered: Sequence[int],
) -> dict[str, Any]:
    """`_POSTGRES_CLAIM`'s parameters (also what tests EXPLAIN it with)."""
    stamp = _postgres(dialect).stamp
    return {
        "answered": list(answered),
        "claimer": worker,
        "now": stamp(now),
        "until": stamp(now + lease),
        "limit": max(limit, 0),
        "window": CLAIM_WINDOW_PER_ROW * max(limit, 0),
    }


def _claim_on_postgres(
    engine: Engine,
    worker: str,
    now: datetime,
    limit: int,
    lease: timedelta,
    answered: Sequence[int],
) -> list[Claimed]:
    """`claim` as one statement on the driver's connection in autocommit (`_POSTGRES_CLAIM`):
    the answered rows marked done and the due rows locked (`FOR UPDATE SKIP LOCKED`) and
    taken, one round trip and one commit a pass. Core's way made six round trips (`BEGIN`, the
    mark, the select, the update, `COMMIT`, each expanding `IN` list its own statement to
    prepare), and two autocommitted statements, two commits."""
    if limit <= 0 and not answered:
        return []
    params = postgres_claim_params(engine.dialect, worker, now, limit, lease, answered)

    def run(driver: Any) -> list[tuple[int, str, int]]:
        return list(driver.execute(_POSTGRES_CLAIM, params).fetchall())

    taken = _on_postgres(engine, _POSTGRES_CLAIM, params, run)
    return [  # RETURNING comes in no particular order
        Claimed(id=row_id, payload=payload, attempts=attempts)
        for row_id, payload, attempts in sorted(taken)
    ]


_POSTGRES_CLAIM = f"""
WITH answered AS (
    UPDATE inbound
    SET state = '{DONE}', handled_at = %(now)s, payload = '', lease_until = NULL
    WHERE id = ANY (%(answered)s::integer[]) AND state = '{HANDLING}'
    AND claimed_by = %(claimer)s
    RETURNING id
), ends AS MATERIALIZED (
    SELECT first, first + %(window)s AS bound, last FROM (SELECT (
        SELECT id FROM inbound WHERE state = '{PENDING}' AND (state, id) > ('{PENDING}', 0)
        ORDER BY state, id LIMIT 1
    ) AS first, GREATEST((
        SELECT id FROM inbound WHERE state = '{PENDING}' AND (state, id) > ('{PENDING}', 0)
        ORDER BY state DESC, id DESC LIMIT 1
    ), (
        SELECT id FROM inbound WHERE state = '{HANDLING}' AND (state, id) > ('{HANDLING}', 0)
        ORDER BY state DESC, id DESC LIMIT 1
    )) AS last) AS ids
), head AS MATERIALIZED (
    SELECT id, user_key, true AS takeable FROM inbound
    WHERE id >= (SELECT first FROM ends) AND id < (SELECT bound FROM ends)
    AND state = '{PENDING}'
    UNION ALL
    SELECT id, user_key, lease_until < %(now)s FROM inbound
    WHERE state = '{HANDLING}' AND id <> ALL (ARRAY(SELECT id FROM answered))
    AND (id < (SELECT bound FROM ends) OR (SELECT bound FROM ends) IS NULL)
), firsts AS MATERIALIZED (
    SELECT DISTINCT ON (user_key) id, takeable FROM head ORDER BY user_key, id
), beyond AS MATERIALIZED (
    SELECT DISTINCT ON (user_key) id FROM inbound
    WHERE state IN ('{PENDING}', '{HANDLING}') AND id <> ALL (ARRAY(SELECT id FROM answered))
    AND (SELECT last >= bound FROM ends)
    AND (SELECT count(*) FROM firsts WHERE takeable) < %(limit)s
    ORDER BY user_key, id
), due AS MATERIALIZED (
    SELECT id FROM inbound
    WHERE id = ANY (ARRAY(SELECT id FROM firsts UNION ALL SELECT id FROM beyond))
    AND (state = '{PENDING}' OR state = '{HANDLING}' AND lease_until < %(now)s)
    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
)
UPDATE inbound
SET state = '{HANDLING}', claimed_by = %(claimer)s, lease_until = %(until)s,
    attempts = attempts + 1
WHERE id = ANY (ARRAY(SELECT id FROM due))
AND (state = '{PENDING}' OR state = '{HANDLING}' AND lease_until < %(now)s)
RETURNING id, payload, attempts
"""
"""PostgreSQL's claim, written out: the rows this worker answered marked done (`answered`),
then the rows `due` selects (each user's oldest open row, pending or with its lease run out,
oldest first), locked `FOR UPDATE SKIP LOCKED` and taken, in one statement.

Which rows are each user's first is read from the `head` of the open rows: the pending rows
from the oldest one to `window` ids past it and the handling rows before that bound, so
every open row up to it, and a user's first row there is their first of all. A claim then
costs the same beside 20,000 open rows as beside 100 (~1 ms, its 16 inserts included),
where reading every open row cost 3.5 ms at 2,000 and 18 ms at 20,000 (docs/PERFORMANCE.md,
session 10). Only when open rows lie past the head (pending ones, or claims a dead worker
made after the oldest pending row) and it holds fewer takeable firsts than `limit` (a few
users' rows fill it) does `beyond` read every open row, as the claim did before. The oldest
pending id and the newest of each open state are each one step of `ix_inbound_open`: the row
comparison, which only that index can walk, keeps the planner off the primary key, which
it walked through every answered row kept for the retention where statistics took pending
rows for the common case, and `ORDER BY … LIMIT 1` keeps it from reading every pending row
to aggregate them where statistics took them for few.

Every part reads the snapshot the statement started with, where the rows marked done are
still open: the `head` and `beyond` leave out those `answered` returns, so a user's next
event is claimable in the pass that marks their last, as when the mark was a statement of
its own (a row another worker took over after its lease is not marked, and still holds its
user's next). Each step is read once (materialized; `id = ANY (ARRAY(…))`, an index lookup)
so the plan does not rest on statistics: `due`'s `NOT EXISTS` became an anti join, and where
the statistics were missing or old (a new table, a backlog grown in seconds) PostgreSQL
rescanned the open rows for each candidate: 38-180 ms a claim at 3,000 open rows. And `IN
(SELECT … LIMIT n)`, tried first, was read again for each row updated and took more than
`n`."""


@dataclass(frozen=True)
class _PostgresStatements:
    """PostgreSQL's admit statement as SQLAlchemy compiles it for psycopg (`%(name)s`
    placeholders), compiled once."""

    admit: str
    stamp: Callable[[Any], Any]
    """How SQLAlchemy binds a time to these columns (aware, in UTC)."""


@lru_cache(maxsize=16)
def _postgres(dialect: Dialect) -> _PostgresStatements:
    admit = _statements_for("postgresql").admit
    assert isinstance(admit, ClauseElement)
    return _PostgresStatements(
        admit=str(admit.compile(dialect=dialect, column_keys=list(_ADMIT_KEYS))),
        stamp=stamp_for(dialect),
    )


def complete(engine: Engine, row_ids: Sequence[int], *, worker: str, now: datetime) -> set[int]:
    """Mark claimed rows answered; returns those marked (a claim lost meanwhile, taken over
    after its lease, is not)."""
    if not row_ids:
        return set()
    with engine.begin() as connection:
        done = connection.execute(
            _statements(engine).done, _done_params(row_ids, worker, now)
        ).scalars()
        return set(done)


def renew(
    engine: Engine,
    row_ids: Sequence[int],
    *,
    worker: str,
    now: datetime,
    lease: timedelta = LEASE,
) -> set[int]:
    """Extend the lease of rows `worker` still holds to `now + lease`; returns those extended
    (a claim lost meanwhile, taken over after its lease, is not). A live worker whose answer
    takes longer than the lease (a platform slow to take it, every handler thread busy) keeps
    its claim so: without it the row was claimed and answered again."""
    if not row_ids:
        return set()
    with engine.begin() as connection:
        kept = connection.execute(
            _statements(engine).renew,
            {"ids": list(row_ids), "claimer": worker, "until": now + lease},
        ).scalars()
        return set(kept)


def _done_params(row_ids: Sequence[int], worker: str, now: datetime) -> dict[str, object]:
    return {"ids": list(row_ids), "claimer": worker, "at": now}


def _open(table: FromClause) -> ColumnElement[bool]:
    state: ColumnElement[str] = table.c.state
    return state.in_((PENDING, HANDLING))


@dataclass(frozen=True)
class _Statements:
    admit: Executable
    due: Executable
    take: Executable
    done: Executable
    take_due: Executable
    """`due` and `take` in one statement (SQLite: one writer, no row locks to take)."""
    done_one: Executable
    """`done` for one row, to run with many (no expanding list of ids to compile)."""
    renew: Executable
    """A held claim's lease extended (`renew`)."""


@cache
def _statements_for(dialect: str) -> _Statements:
    """The hot path's statements, built once per dialect with bound parameters: building a
    statement per call (columns, aliases, cache keys) cost more CPU than running it
    (docs/PERFORMANCE.md, chat_http)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    admit = (
        insert(_TABLE)
        .on_conflict_do_nothing(index_elements=["platform", "event_id"])
        # A row comes back only when inserted (not `rowcount`: -1 on psycopg for Core inserts).
        .returning(_C.id)
    )
    now = bindparam("now", type_=_C.received_at.type)
    earlier = _TABLE.alias("earlier")
    takeable = or_(_C.state == PENDING, and_(_C.state == HANDLING, _C.lease_until < now))
    first_of_user = ~exists().where(
        earlier.c.user_key == _C.user_key, _open(earlier), earlier.c.id < _C.id
    )
    due = (
        select(_C.id)
        .where(takeable, first_of_user)
        .order_by(_C.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if dialect == "postgresql":
        due = due.with_for_update(of=_TABLE, skip_locked=True)
    ids: BindParameter[int] = bindparam("ids", expanding=True)
    taken: dict[str, Any] = {  # what a claim writes
        "state": HANDLING,
        "claimed_by": bindparam("claimer"),
        "lease_until": bindparam("until"),
        "attempts": _C.attempts + 1,
    }
    answered: dict[str, Any] = {
        "state": DONE,
        "handled_at": bindparam("at"),
        "payload": "",
        "lease_until": None,
    }
    take = (
        update(_TABLE)
        .where(_C.id.in_(ids), takeable)
        .values(taken)
        .returning(_C.id, _C.payload, _C.attempts)
    )
    done = (
        update(_TABLE)
        .where(_C.id.in_(ids), _C.state == HANDLING, _C.claimed_by == bindparam("claimer"))
        .values(answered)
        .returning(_C.id)
    )
    renew = (
        update(_TABLE)
        .where(_C.id.in_(ids), _C.state == HANDLING, _C.claimed_by == bindparam("claimer"))
        .values(lease_until=bindparam("until"))
        .returning(_C.id)
    )
    take_due = (
        update(_TABLE)
        # No `takeable` beside: the rows selected are, in the same statement, and with it
        # SQLite walked every open row by state instead of looking up the ids.
        .where(_C.id.in_(_due_in_order(first_of_user, now)))
        .values(taken)
        .returning(_C.id, _C.payload, _C.attempts)
    )
    done_one = (
        update(_TABLE)
        .where(
            _C.id == bindparam("id"), _C.state == HANDLING, _C.claimed_by == bindparam("claimer")
        )
        .values(answered)
    )
    return _Statements(
        admit=admit,
        due=due,
        take=take,
        done=done,
        renew=renew,
        take_due=take_due,
        done_one=done_one,
    )


def _due_in_order(first_of_user: ColumnElement[bool], now: BindParameter[Any]) -> Select[Any]:
    """The ids `due` selects, read as two ordered walks of `ix_inbound_open` (state, id): the
    pending rows and the handling rows whose lease ran out, each stopping at `limit`, then the
    oldest `limit` of both. `due`'s `OR` of the two states made SQLite read every open row
    and sort them: a claim cost ~2 ms at 2,000 open rows (`[chat] max_backlog`), holding the
    write lock the acks wait for, against ~0.2 ms at 100 (docs/PERFORMANCE.md, session 8)."""
    limit = bindparam("limit", type_=Integer)

    def oldest(*where: ColumnElement[bool]) -> Select[Any]:
        inner = select(_C.id).where(*where, first_of_user).order_by(_C.id).limit(limit)
        return select(inner.subquery().c.id)

    both = union_all(
        oldest(_C.state == PENDING), oldest(_C.state == HANDLING, _C.lease_until < now)
    ).subquery()
    return select(both.c.id).order_by(both.c.id).limit(limit)


def _statements(engine: Engine) -> _Statements:
    return _statements_for(engine.dialect.name)


def release_own(engine: Engine, *, worker: str) -> int:
    """On a clean shutdown, hand back what this worker claimed and did not answer."""
    with engine.begin() as connection:
        result = connection.execute(
            update(_TABLE)
            .where(_C.state == HANDLING, _C.claimed_by == worker)
            .values(state=PENDING, claimed_by=None, lease_until=None)
            .returning(_C.id)
        )
        return len(result.all())


def backlog(engine: Engine) -> int:
    """Events written and not answered yet (pending or being handled)."""
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(_open(_TABLE))).scalar_one())


def counts_by_state(engine: Engine) -> Mapping[str, int]:
    with engine.connect() as connection:
        query = select(_C.state, func.count()).group_by(_C.state)
        return {state: int(n) for state, n in connection.execute(query).all()}


def forget_before(engine: Engine, cutoff: datetime) -> int:
    """Answered rows older than `cutoff` go; open ones stay whatever their age."""
    with engine.begin() as connection:
        result = connection.execute(
            delete(_TABLE).where(_C.state == DONE, _C.received_at < cutoff).returning(_C.id)
        )
        return len(result.all())
