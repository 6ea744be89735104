"""An HTTP client for answers sent from a worker's event loop: POSTs over kept-alive connections
(asyncio protocols whose responses httptools parses, `adapters.http_wire`), several in flight
at once, each a future and no task.

A worker process runs its handlers on its event loop (`bot/handling.py`): a handoff to a thread
and back was ~27 % of its CPU (docs/PERFORMANCE.md, session 8). A blocking POST there would hold
every other answer behind Slack's latency; here one goes out while the loop handles the next row,
and its response is read when it comes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from typing import cast

from adapters.http_wire import Origin, Response, ResponseReader, split, tls_for, worth_retrying

PER_ORIGIN = 8
"""Connections to one origin at once (a handler worker's slots: `bot.handling.SLOTS`); more
POSTs wait for one of them to free."""


class LoopConnections:
    """POSTs from the running event loop, on up to `per_origin` kept-alive connections per
    origin."""

    def __init__(
        self, *, timeout: float, tls: ssl.SSLContext | None = None, per_origin: int = PER_ORIGIN
    ) -> None:
        """`timeout`: of a connection's opening, and of each POST from its start to the end of
        its response; `tls`: the context of HTTPS connections (default: the system's CA store)."""
        self.timeout = timeout
        self.tls = tls
        """None: the system's (`tls_for`)."""
        self.per_origin = per_origin
        self._pools: dict[Origin, _Pool] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        """The loop of the connections in `_pools`."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> asyncio.Future[Response]:
        """POST `body` from the running loop: the future holds the response, or OSError
        (TimeoutError included) or http.client.HTTPException. Raises at once (InvalidURL,
        ValueError) what cannot go on the wire."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # its connections belong to a loop that ended (a test's)
            self._pools, self._loop = {}, loop
        origin, path = split(url)
        request = origin.request(path, body, headers)
        pool = self._pools.get(origin)
        if pool is None:
            tls = tls_for(origin, self.tls)
            pool = self._pools[origin] = _Pool(origin, tls, self.timeout, self.per_origin)
        return pool.submit(request)

    def close(self) -> None:
        """Close every connection, failing what is in flight; a later `post` opens new ones."""
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()


class _Exchange:
    """One POST: its bytes, its future, and the loop's timer that ends it."""

    __slots__ = ("future", "protocol", "request", "reused", "timer")

    def __init__(self, request: bytes, future: asyncio.Future[Response]) -> None:
        self.request = request
        self.future = future
        self.protocol: _Connection | None = None
        """The connection it went out on, while it waits for its response."""
        self.reused = False
        """It went out on a connection an earlier exchange used (`worth_retrying`)."""
        self.timer: asyncio.TimerHandle | None = None

    def succeed(self, response: Response) -> None:
        if self._ended():
            self.future.set_result(response)

    def fail(self, error: BaseException) -> None:
        if self._ended():
            self.future.set_exception(error)

    def _ended(self) -> bool:
        """Ends the exchange; False when its future is done already (timed out, or its caller
        gave up)."""
        if self.timer is not None:
            self.timer.cancel()
        self.protocol = None
        return not self.future.done()


class _Pool:
    """The connections to one origin: idle ones are reused, last used first."""

    def __init__(
        self, origin: Origin, tls: ssl.SSLContext | None, timeout: float, size: int
    ) -> None:
        self.origin, self.tls, self.timeout, self.size = origin, tls, timeout, size
        self.idle: list[_Connection] = []
        self.opened: set[_Connection] = set()
        self.opening: set[asyncio.Task[None]] = set()
        self.waiting: deque[_Exchange] = deque()
        self.closed = False

    def submit(self, request: bytes) -> asyncio.Future[Response]:
        loop = asyncio.get_running_loop()
        exchange = _Exchange(request, loop.create_future())
        exchange.timer = loop.call_later(self.timeout, self._time_out, exchange)
        self._dispatch(exchange)
        return exchange.future

    def _dispatch(self, exchange: _Exchange) -> None:
        while self.idle:
            connection = self.idle.pop()
            # Closed by the server, its `connection_lost` still to come: a write there is lost.
            if not connection.closing:
                connection.send(exchange)
                return
        if len(self.opened) + len(self.opening) < self.size:
            self._open(exchange)
        else:
            self.waiting.append(exchange)

    def _open(self, exchange: _Exchange) -> None:
        """A new connection for `exchange` (a task only while it opens)."""
        task = asyncio.get_running_loop().create_task(self._connect(exchange))
        self.opening.add(task)
        task.add_done_callback(self.opening.discard)

    async def _connect(self, exchange: _Exchange) -> None:
        loop = asyncio.get_running_loop()
        host = self.origin.host
        try:
            async with asyncio.timeout(self.timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    host,
                    self.origin.port,
                    ssl=self.tls,
                    server_hostname=host if self.tls is not None else None,
                )
        except asyncio.CancelledError:  # the client closed
            exchange.fail(ConnectionAbortedError("client closed"))
            raise
        except OSError as error:  # TimeoutError and ssl.SSLError among them
            exchange.fail(error)
            self._next()  # what waits for a connection may get one now
            return
        if self.closed:
            connection.abort()
            exchange.fail(ConnectionAbortedError("client closed"))
            return
        self.opened.add(connection)
        if exchange.future.done():  # timed out meanwhile: the connection serves the next
            self.released(connection)
        else:
            connection.send(exchange)

    def _time_out(self, exchange: _Exchange) -> None:
        exchange.timer = None
        if exchange.protocol is not None:  # half a response, maybe: never reuse it
            exchange.protocol.abort()
        exchange.fail(TimeoutError(f"no response within {self.timeout} s"))

    def _next(self) -> None:
        """Start the next POST that waits, if a connection may be opened for it."""
        while self.waiting and len(self.opened) + len(self.opening) < self.size:
            exchange = self.waiting.popleft()
            if not exchange.future.done():
                self._open(exchange)
                return

    def released(self, connection: _Connection) -> None:
        """`connection` finished an exchange and may carry the next."""
        while self.waiting:
            exchange = self.waiting.popleft()
            if not exchange.future.done():
                connection.send(exchange)
                return
        self.idle.append(connection)

    def lost(self, connection: _Connection, exchange: _Exchange | None) -> None:
        """`connection` closed; `exchange`, if its response was cut short, is retried on a new
        connection when `worth_retrying` says so, else ended with the error."""
        self.opened.discard(connection)
        if connection in self.idle:
            self.idle.remove(connection)
        if exchange is not None:
            try:
                response = connection.ended()
            except Exception as error:
                retry = worth_retrying(error, reused=exchange.reused, received=connection.received)
                if retry and not self.closed:
                    self._open(exchange)
                    return
                exchange.fail(error)
            else:
                exchange.succeed(response)
        self._next()

    def close(self) -> None:
        self.closed = True
        for task in list(self.opening):
            task.cancel()
        for connection in list(self.opened):
            connection.abort()
        while self.waiting:
            self.waiting.popleft().fail(ConnectionAbortedError("client closed"))


class _Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection, one exchange at a time."""

    def __init__(self, pool: _Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.reader = ResponseReader()
        self.exchange: _Exchange | None = None
        self.used = False
        """An exchange went out on it already."""
        self.error: BaseException | None = None
        """Why it closed, when the loop said."""

    @property
    def closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    @property
    def received(self) -> bool:
        return self.reader.received

    def send(self, exchange: _Exchange) -> None:
        assert self.transport is not None
        exchange.reused, self.used = self.used, True
        exchange.protocol = self
        self.exchange = exchange
        self.reader.expect()
        self.transport.write(exchange.request)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def ended(self) -> Response:
        """What the connection's end makes of the current exchange (`ResponseReader.ended`)."""
        if self.error is not None and not self.received:
            raise self.error
        return self.reader.ended()

    # -- asyncio's callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        assert self.transport is not None
        if exchange is None:  # bytes nothing asked for: not to be trusted with a request
            self.transport.abort()
            return
        try:
            response = self.reader.feed(data)
        except Exception as error:
            self.exchange = None
            self.transport.abort()
            exchange.fail(error)
            return
        if response is None:
            return
        self.exchange = None
        exchange.succeed(response)
        if self.reader.reusable:
            self.pool.released(self)
        else:
            self.transport.close()

    def eof_received(self) -> bool:
        return False  # close: a body may have ended with the connection (`ended`)

    def connection_lost(self, exc: Exception | None) -> None:
        self.error = exc
        exchange, self.exchange = self.exchange, None
        if exchange is not None and exchange.future.done():
            exchange = None
        self.pool.lost(self, exchange)
