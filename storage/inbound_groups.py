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

The statement runs on the connection's libpq handle (`psycopg.pq.PGconn`), prepared once per
group size, its socket watched by the loop: psycopg's async cursor (its Python wait loop,
query conversion and row making) cost ~115-155 µs of CPU an admit, libpq's calls ~50-70, and
psycopg's own send-and-fetch generator driven by its `waiting.wait_async` ~170
(docs/PERFORMANCE.md, session 11), so `_results` waits on the socket itself. Nothing else uses
the connection, so psycopg's view of it (idle, autocommit) stays true.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

import psycopg
from psycopg import pq
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
        self._prepared: set[int] = set()
        """The group sizes whose statement the held connection has prepared."""

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
        params = [
            value
            for item, received_at in firsts.values()
            for value in (
                item.platform,
                item.event_id,
                item.user_key,
                item.payload,
                self._stamp(received_at).isoformat(),
            )
        ]
        written = await self._execute(len(firsts), params)
        new: list[bool] = []
        for item, _ in rows:
            key = (item.platform, item.event_id)
            new.append(key in written)
            written.discard(key)  # a second of the key is a duplicate
        return new

    async def _execute(self, rows: int, params: list[str]) -> set[tuple[str, str]]:
        """The statement for `rows` events on the held connection, connecting first when
        there is none. A connection found broken (the server restarted while it sat idle) is
        replaced and the statement sent again, once: had the first committed, its rows come
        back as duplicates, still written. Another error keeps the connection (autocommit: no
        transaction is left)."""
        while True:
            connection = self._connection
            reused = connection is not None
            try:
                if connection is None:
                    connection = self._connection = await self._connect()
                    self._prepared = set()
                return await self._insert(connection.pgconn, connection.info.encoding, rows, params)
            except psycopg.Error as exc:
                if connection is not None and connection.broken:
                    await self._drop()
                    if reused:
                        continue  # once: the next try is on a new connection
                raise DBAPIError.instance(
                    _values(rows),
                    params,
                    exc,
                    psycopg.Error,
                    hide_parameters=self.engine.hide_parameters,
                    dialect=self.engine.dialect,
                ) from exc
            except BaseException:  # cancelled mid-statement: the connection's state is unknown
                await self._drop()
                raise

    async def _insert(
        self, pgconn: pq.abc.PGconn, encoding: str, rows: int, params: list[str]
    ) -> set[tuple[str, str]]:
        """Prepare the statement for `rows` on first use, run it; (platform, event id) of each
        row written. Raises `psycopg.Error` (the server's error as psycopg raises it)."""
        name = f"coverwatch_admit_{rows}".encode()
        if rows not in self._prepared:
            pgconn.send_prepare(name, _values(rows).encode(encoding))
            await _results(pgconn, encoding)
            self._prepared.add(rows)
        pgconn.send_query_prepared(name, [value.encode(encoding) for value in params])
        [result] = await _results(pgconn, encoding)
        return {
            (
                (result.get_value(row, 0) or b"").decode(encoding),
                (result.get_value(row, 1) or b"").decode(encoding),
            )
            for row in range(result.ntuples)
        }

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


async def _results(pgconn: pq.abc.PGconn, encoding: str) -> list[pq.abc.PGresult]:
    """Send what `pgconn` holds and wait, on the running loop, for every result of the command
    sent (libpq's asynchronous processing,
    https://www.postgresql.org/docs/current/libpq-async.html; psycopg's `generators._send`
    and `_fetch_many` do the same). Raises the server's error as psycopg raises it; a lost
    connection as `psycopg.OperationalError`."""
    loop = asyncio.get_running_loop()
    fd = pgconn.socket
    while pgconn.flush():  # 1: more to send; meanwhile read, so the server never blocks on us
        if await _ready(loop, fd, write=True):
            pgconn.consume_input()
    pgconn.consume_input()
    while pgconn.is_busy():
        await _ready(loop, fd, write=False)
        pgconn.consume_input()
    results = []
    while (result := pgconn.get_result()) is not None:
        results.append(result)
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, encoding)
    return results


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> bool:
    """Until `fd` can be read (or, `write`, read or written); whether it can be read."""
    ready: asyncio.Future[bool] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(True)

    def writable() -> None:
        if not ready.done():
            ready.set_result(False)

    loop.add_reader(fd, readable)
    if write:
        loop.add_writer(fd, writable)
    try:
        return await ready
    finally:
        loop.remove_reader(fd)
        if write:
            loop.remove_writer(fd)


@cache
def _values(rows: int) -> str:
    """The statement for `rows` events, one text per size, prepared once per size on the held
    connection (`GroupAdmits._insert`). Positional parameters, not `unnest` of arrays:
    psycopg built the arrays in Python, ~3x the client CPU of a group of 8."""
    row = "({}, {}, {}, {}, {}, '" + PENDING + "', 0)"
    numbers = iter(range(1, 5 * rows + 1))
    values = ", ".join(row.format(*(f"${next(numbers)}" for _ in range(5))) for _ in range(rows))
    return (
        "INSERT INTO inbound (platform, event_id, user_key, payload, received_at, state, attempts)"
        f" VALUES {values}"
        " ON CONFLICT (platform, event_id) DO NOTHING RETURNING platform, event_id"
    )
