"""PostgreSQL admits in groups, on the event loop (issue 18; docs/PERFORMANCE.md, session 8).

The serving process writes each verified event before its platform's ack (`Runtime.sink`).
Written one at a time on its writer thread, an event cost ~0.25 ms of CPU in the hop to the
thread and back, the pool's checkout and the statement, and flat out the acks queued behind
one round trip and commit each (~945 acks/s). Here the events that arrive while a statement
is in flight are written together by the next, one multi-row `INSERT … ON CONFLICT DO NOTHING
RETURNING` (at most `MAX_GROUP` rows), over one `psycopg.AsyncConnection` in autocommit held
for the process: no thread, one commit a group, and each ack waits for the statement holding
its event only. The groups are written one after another, in the order the events came (a
user's events keep their order; ids follow the rows of `VALUES`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from storage.db import PG_CONNECT_TIMEOUT_SECONDS
from storage.inbound import PENDING, NewEvent, stamp_for

MAX_GROUP = 64
"""Rows one statement writes at most; more waiting go in the next (a burst's statement, and
the acks waiting for it, stay bounded)."""

Row = tuple[NewEvent, datetime]
"""An event and when it was received."""


class GroupAdmits:
    """`inbound.admit` on PostgreSQL for the coroutines of one event loop, in groups."""

    def __init__(self, engine: Engine, *, max_group: int = MAX_GROUP) -> None:
        self.engine = engine
        self.max_group = max_group
        self._stamp = stamp_for(engine.dialect)
        self._waiting: deque[tuple[Row, asyncio.Future[bool]]] = deque()
        self._writing = False
        """A statement is in flight (or about to be): events wait for the next."""
        self._drainer: asyncio.Task[None] | None = None
        self._connection: psycopg.AsyncConnection[Any] | None = None

    async def admit(self, item: NewEvent, now: datetime) -> bool:
        """Write the event; True when it is new, False for a duplicate (platform, event id).
        Raises `sqlalchemy.exc.SQLAlchemyError` when the statement holding it failed: then
        no event of that statement was written."""
        if self._writing:
            waiting: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._waiting.append(((item, now), waiting))
            return await waiting
        self._writing = True  # nothing in flight: this event's statement goes at once
        try:
            [new] = await self._write([(item, now)])
            return new
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        """After a statement: what waited meanwhile is written by the next, else nothing is."""
        if self._waiting:
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        else:
            self._writing = False

    async def _drain(self) -> None:
        group: list[tuple[Row, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                size = min(len(self._waiting), self.max_group)
                group = [self._waiting.popleft() for _ in range(size)]
                try:
                    news = await self._write([row for row, _ in group])
                except Exception as exc:  # each sink meets it as if it had written alone
                    for _, waiting in group:
                        if not waiting.done():
                            waiting.set_exception(exc)
                else:
                    for (_, waiting), new in zip(group, news, strict=True):
                        if not waiting.done():
                            waiting.set_result(new)
                group = []
        finally:  # cancelled (the loop ends): nobody waits forever
            for _, waiting in [*group, *self._waiting]:
                waiting.cancel()
            self._waiting.clear()
            self._writing = False

    async def _write(self, rows: Sequence[Row]) -> list[bool]:
        """One statement for `rows`: for each, whether it was new (a second of one (platform,
        event id) in `rows` is a duplicate, as a platform's retry is). Raises `DBAPIError`
        (`SQLAlchemyError`, parameters hidden as `hide_parameters` says)."""
        firsts: dict[tuple[str, str], Row] = {}
        for item, received_at in rows:
            firsts.setdefault((item.platform, item.event_id), (item, received_at))
        sql = _values(len(firsts))
        params = [
            value
            for item, received_at in firsts.values()
            for value in (
                item.platform,
                item.event_id,
                item.user_key,
                item.payload,
                self._stamp(received_at),
            )
        ]
        written = await self._execute(sql, params)
        new: list[bool] = []
        for item, _ in rows:
            key = (item.platform, item.event_id)
            new.append(key in written)
            written.discard(key)  # a second of the key is a duplicate
        return new

    async def _execute(self, sql: str, params: list[Any]) -> set[tuple[str, str]]:
        """Run on the held connection, connecting first when there is none. A connection
        found broken (the server restarted while it sat idle) is replaced and the statement
        sent again, once: had the first committed, its rows come back as duplicates, still
        written. Another error keeps the connection (autocommit: no transaction is left)."""
        while True:
            connection = self._connection
            reused = connection is not None
            try:
                if connection is None:
                    connection = self._connection = await self._connect()
                cursor = await connection.execute(sql, params)
                return {(platform, event_id) for platform, event_id in await cursor.fetchall()}
            except psycopg.Error as exc:
                if connection is not None and connection.broken:
                    await self._drop()
                    if reused:
                        continue  # once: the next try is on a new connection
                raise DBAPIError.instance(
                    sql,
                    params,
                    exc,
                    psycopg.Error,
                    hide_parameters=self.engine.hide_parameters,
                    dialect=self.engine.dialect,
                ) from exc
            except BaseException:  # cancelled mid-statement: the connection's state is unknown
                await self._drop()
                raise

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        kwargs.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_SECONDS)
        return await psycopg.AsyncConnection.connect(*args, **kwargs, autocommit=True)

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()

    async def close(self) -> None:
        """Close the held connection (`Runtime.serve` ends)."""
        await self._drop()


@cache
def _values(rows: int) -> str:
    """The statement for `rows` events, one text per size: psycopg prepares each after a few
    uses. Positional parameters, not `unnest` of arrays: psycopg built the arrays in Python,
    ~3x the client CPU of a group of 8."""
    row = f"(%s, %s, %s, %s, %s, '{PENDING}', 0)"
    return (
        "INSERT INTO inbound (platform, event_id, user_key, payload, received_at, state, attempts)"
        f" VALUES {', '.join([row] * rows)}"
        " ON CONFLICT (platform, event_id) DO NOTHING RETURNING platform, event_id"
    )
