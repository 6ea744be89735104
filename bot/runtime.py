"""`coverwatch run`: HTTP server, adapters, scheduler and outbox dispatcher in one process.

Inbound path (ARCHITECTURE.md §2, issue 18): adapter verifies and parses -> the sink writes the
event into the inbound table (a duplicate platform event id is acked and dropped; with the
database down, a platform that retries gets 503, the others' events go to the local spool) ->
the platform is acked -> a handler worker claims the row, runs the handler and sends the reply,
then the cards the reply says to rewrite (`bot.handling`; errbot style: the runtime sends what
handlers return). The worker runs in this process (`[chat] workers = 0`) or in worker processes.
The runtime names no platform: it mounts the routes adapters declare (`HttpReceiver.routes`),
starts the receivers and hands the senders to the outbox dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from adapters.base import (
    TAKEN,
    Adapter,
    Admission,
    HttpReceiver,
    Receiver,
    ReplyTarget,
    Sender,
)
from bot.config import MAX_BODY_BYTES
from bot.dispatcher import Dispatcher
from bot.handling import WOKEN_POLL_SECONDS, HandlerWorker, OnLoop, busy_reply, new_event
from bot.metrics import Metrics
from bot.platform_routes import platform_app
from bot.readiness import Readiness, exposition, readiness
from bot.scheduling import JobBody, JobRunner
from bot.slow_lane import SlowLane
from bot.spool import Spool
from handlers.alert_render import DeliveryRenderer
from handlers.context import AppContext
from handlers.formatting import AccountNames
from handlers.types import Action, Message
from storage import idempotency, inbound, outbox
from storage.db import is_postgres, ping, session_scope
from storage.inbound_groups import GroupAdmits
from storage.models import Alert

log = logging.getLogger(__name__)
T = TypeVar("T")
SHUTDOWN_GRACE_SECONDS = 3.0
"""How long SIGTERM/SIGINT waits for an in-flight send before handing it back to the outbox."""
RETRY_AFTER_OUTAGE_SECONDS = 5
RETRY_AFTER_BUSY_SECONDS = 60
"""The `Retry-After` of a refused event: the database is away / the backlog is full."""
BACKLOG_READ_SECONDS = 0.5
"""How stale the backlog count the sink compares with `max_backlog` may be once the count so
far (the last count, plus one for each event taken since) is half of it or more."""
BACKLOG_FAR_READ_SECONDS = 5.0
"""How stale it may be while the count so far is under half of `max_backlog`: counting twice
a second cost the serving process ~1.5 ms a count (a trip to the writer thread and a
statement), ~0.06 ms of every answer at 50 commands/s (docs/PERFORMANCE.md, session 11). The
count so far never falls short of this process's own events; another server's events (several
on one PostgreSQL) are seen at the next count, within this many seconds."""
SPOOL_REPLAY_SECONDS = 1.0
DEFAULT_SPOOL_BYTES = 16 * 1024 * 1024


HTTP_CONCURRENCY = 512
"""Connections served at once; uvicorn answers 503 past it (well under a 1,024 fd limit)."""
KEEP_ALIVE_SECONDS = 5


class Runtime:
    def __init__(
        self,
        app: AppContext,
        adapters: Mapping[str, Adapter],
        *,
        host: str,
        port: int,
        poll_seconds: float,
        jobs: Mapping[str, tuple[str, Callable[[datetime], str]]],
        instance: str | None = None,
        claim_lease: timedelta = outbox.CLAIM_LEASE,
        mounts: Sequence[BaseRoute] = (),
        max_body_bytes: int = MAX_BODY_BYTES,
        metrics_token: str = "",
        handle_inline: bool = True,
        max_backlog: int = 2000,
        spool: Spool | None = None,
        inbound_lease: timedelta = inbound.LEASE,
        slow_lane: SlowLane | None = None,
        wake_workers: Callable[[], None] | None = None,
    ) -> None:
        self.slow_lane = slow_lane
        """`[chat] slow_workers`: where handlers draw charts (closed when `serve` ends)."""
        self.app = app if slow_lane is None else replace(app, slow_work=slow_lane)
        self.max_body_bytes = max_body_bytes
        self.metrics_token = metrics_token
        """`[http] metrics_token`: when set, /metrics wants `Authorization: Bearer <it>`."""
        self.mounts = list(mounts)
        """Routes of self-contained apps served beside the platforms' (the API, /api/v1)."""
        self.adapters = dict(adapters)
        self.senders = {name: a for name, a in adapters.items() if isinstance(a, Sender)}
        self.receivers = {name: a for name, a in adapters.items() if isinstance(a, Receiver)}
        self.host, self.port = host, port
        self.poll_seconds = poll_seconds
        self.instance = instance or f"{socket.gethostname()}-{os.getpid()}"
        self.metrics = Metrics()
        self.stop_event = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.max_backlog = max_backlog
        self._backlog = 0
        self._backlog_read_at = float("-inf")
        self._writing = 0
        """Events (and spool replays) being written: while any are, the next event is
        written on `inbound_writes`, behind them (`sink`)."""
        self.inbound_writes = ThreadPoolExecutor(1, thread_name_prefix="inbound")
        """The thread every inbound write of this process runs on but PostgreSQL's admits
        (`admits`): the sink's rows, the spool's, and the in-process worker's claims. On SQLite
        (one writer) they queue here, in order, rather than in SQLite's busy handler, which
        sleeps up to 100 ms a try: that made the ack p99 (docs/PERFORMANCE.md, chat_http)."""
        self.admits = GroupAdmits(app.engine) if is_postgres(app.engine) else None
        """On PostgreSQL the sink's events are written on the event loop, those that come while
        a statement is in flight together by the next (`storage.inbound_groups`)."""
        self.spool = spool or Spool(
            Path(f"coverwatch-spool-{self.port}.jsonl"), DEFAULT_SPOOL_BYTES
        )
        self.worker = (
            HandlerWorker(
                self.app,
                self.receivers,
                self.senders,
                name=self.instance,
                metrics=self.metrics,
                lease=inbound_lease,
                writes=self.inbound_writes,
                idle_poll=WOKEN_POLL_SECONDS,  # the sink wakes it
                # On PostgreSQL a query on the loop would hold the acks for its round trips.
                on_loop=OnLoop.NONE if is_postgres(app.engine) else OnLoop.READS,
            )
            if handle_inline
            else None
        )
        """Answers chat in this process (`[chat] workers = 0`); else worker processes do."""
        self.wake_workers = wake_workers
        """Tells the worker processes `run` started that rows were written (`WorkerPool.wake`)."""
        zone, names = str(app.timezone), AccountNames.of(app)
        self.dispatcher = Dispatcher(
            app.engine,
            self.senders,
            DeliveryRenderer(timezone=zone, names=names),
            worker=self.instance,
            clock=app.clock,
            metrics=self.metrics,
            claim_lease=claim_lease,
        )
        self.runner = JobRunner(app.engine, instance=self.instance, timezone=zone, clock=app.clock)
        for name, (crontab, body) in jobs.items():
            self.runner.add(name, crontab, _in_thread(body))
        self.runner.add("housekeeping", "17 3 * * *", _in_thread(self._housekeeping))

    # -- HTTP ---------------------------------------------------------------------------
    def asgi(self) -> ASGIApp:
        """The adapters' routes beside ours and the mounts (`bot.platform_routes`: a chat
        command's ack path skips Starlette)."""
        platform = [
            route
            for adapter in self.receivers.values()
            if isinstance(adapter, HttpReceiver)
            for route in adapter.routes()
        ]
        routes = [
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
            *self.mounts,
        ]
        return platform_app(platform, routes, self.max_body_bytes)

    async def _healthz(self, request: Request) -> Response:
        healthy = await asyncio.to_thread(ping, self.app.engine)
        return PlainTextResponse(
            "ok" if healthy else "database unreachable", 200 if healthy else 503
        )

    def _readiness(self) -> Readiness:
        return readiness(
            self.app.engine,
            self.adapters,
            scheduler_running=self.runner.running,
            now=self.app.clock(),
        )

    async def _readyz(self, request: Request) -> Response:
        state = await asyncio.to_thread(self._readiness)
        return JSONResponse(state.document, status_code=200 if state.ok else 503)

    async def _metrics(self, request: Request) -> Response:
        if not metrics_authorized(self.metrics_token, request.headers.get("authorization", "")):
            return PlainTextResponse(
                "metrics need Authorization: Bearer <[http] metrics_token>",
                401,
                headers={"www-authenticate": 'Bearer realm="metrics"'},
            )

        def gauges() -> dict[str, dict[str, int]]:
            with Session(self.app.engine) as session:
                deliveries = outbox.counts_by_state(session)
                query = select(Alert.state, func.count()).group_by(Alert.state)
                alerts = {state: int(n) for state, n in session.exec(query).all()}
            chat = dict(inbound.counts_by_state(self.app.engine))
            return {"deliveries": deliveries, "alerts": alerts, "inbound": chat}

        try:
            values = await asyncio.to_thread(gauges)
        except Exception:
            values = {}
        state = await asyncio.to_thread(self._readiness)
        text = self.metrics.render(values) + exposition(
            state, self.runner.outcomes, self.app.clock()
        )
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    # -- inbound ------------------------------------------------------------------------
    async def sink(
        self,
        event: Message | Action,
        reply_to: ReplyTarget,
        *,
        platform_retries: bool,
        answer_in_ack: bool = False,
    ) -> Admission:
        """Called by adapters before they ack: store the event (or say why not); never raises."""
        # On the loop only when no event before this one is still being written, and this one
        # waits for nothing first: a user's events are written in the order they came.
        alone = not self._writing and not self._backlog_stale()
        self._writing += 1
        try:
            return await self._sink(event, reply_to, platform_retries, answer_in_ack, alone)
        finally:
            self._writing -= 1

    async def _sink(
        self,
        event: Message | Action,
        reply_to: ReplyTarget,
        platform_retries: bool,
        answer_in_ack: bool,
        on_loop: bool,
    ) -> Admission:
        if await self._backlog_full():
            self.metrics.count("inbound_busy_total", event.platform)
            if platform_retries:
                return Admission(taken=False, retry_after=RETRY_AFTER_BUSY_SECONDS)
            if answer_in_ack:  # no second request: its CPU is what the answers lack (issue 18)
                return Admission(taken=True, answer=busy_reply(self.app, event))
            self._spawn(self._say_busy(event, reply_to))
            return TAKEN
        item = new_event(event, reply_to)
        now = self.app.clock()
        try:
            new = await self._admit(item, now, on_loop)
        except SQLAlchemyError as exc:
            return await self._keep_locally(item, now, platform_retries, exc)
        if not new:
            self.metrics.count("inbound_duplicates_total", event.platform)
            return TAKEN
        self.metrics.count("inbound_events_total", event.platform)
        self._backlog += 1
        self._wake()
        return TAKEN

    async def _admit(self, item: inbound.NewEvent, now: datetime, on_loop: bool) -> bool:
        """Write the event: on the event loop when `on_loop` and SQLite's write lock is free
        (a trip to the writer thread and back was a tenth of a command's CPU,
        docs/PERFORMANCE.md chat_http), else on the writer thread, behind what waits there;
        on PostgreSQL on the loop, in the next group (what waited in the spool goes first: a
        user's order holds; one look at the file an event)."""
        if self.spool.pending():
            await self._write(self.spool.replay, self._admit_spooled)
        elif on_loop:
            new = inbound.admit_if_free(self.app.engine, item, now=now)
            if new is not None:
                return new
        if self.admits is not None:
            return await self.admits.admit(item, now)
        return await self._write(partial(inbound.admit, self.app.engine, item, now=now))

    async def _keep_locally(
        self, item: inbound.NewEvent, now: datetime, platform_retries: bool, exc: Exception
    ) -> Admission:
        """The database is away: a platform that retries is refused (it sends the event
        again); another's event goes to the spool, replayed when the database is back."""
        log.warning(
            "database unreachable (%s); %s event %s",
            type(exc).__name__,
            item.platform,
            "refused for a retry" if platform_retries else "kept in the spool",
        )
        if platform_retries:
            return Admission(taken=False, retry_after=RETRY_AFTER_OUTAGE_SECONDS)
        # On the writer thread: a group's events, failed together, are kept in their order.
        if await self._write(self.spool.append, item, now):
            self.metrics.count("inbound_spooled_total", item.platform)
            return TAKEN
        log.error("spool %s is full; %s event refused", self.spool.path, item.platform)
        return Admission(taken=False, retry_after=RETRY_AFTER_OUTAGE_SECONDS)

    def _backlog_stale(self) -> bool:
        """Whether `_backlog_full` counts the open rows again (on the writer thread): after
        `BACKLOG_READ_SECONDS` once the count so far is half of `max_backlog` or more, after
        `BACKLOG_FAR_READ_SECONDS` while it is under."""
        near = 2 * self._backlog >= self.max_backlog
        wait = BACKLOG_READ_SECONDS if near else BACKLOG_FAR_READ_SECONDS
        return asyncio.get_running_loop().time() - self._backlog_read_at > wait

    async def _backlog_full(self) -> bool:
        """Compare the open rows with `max_backlog`, counted when stale (`_backlog_stale`;
        between counts, each event taken adds one)."""
        if self._backlog_stale():
            self._backlog_read_at = asyncio.get_running_loop().time()
            # On an outage the write that follows meets it too and says what to do.
            with contextlib.suppress(SQLAlchemyError):
                self._backlog = await self._write(inbound.backlog, self.app.engine)
        return self._backlog >= self.max_backlog

    async def _say_busy(self, event: Message | Action, reply_to: ReplyTarget) -> None:
        try:
            await self.receivers[event.platform].reply(reply_to, busy_reply(self.app, event))
        except Exception as exc:
            log.warning("busy answer on %s failed: %s", event.platform, type(exc).__name__)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _replay_spool(self) -> None:
        """While the spool holds events, write them into the table once the database answers."""
        while not self.stop_event.is_set():
            if self.spool.pending():
                self._writing += 1  # events taken meanwhile are written behind these
                try:
                    moved = await self._write(self.spool.replay, self._admit_spooled)
                except SQLAlchemyError:
                    moved = 0
                finally:
                    self._writing -= 1
                if moved:
                    log.info("%d spooled inbound events written to the database", moved)
                    self._wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), SPOOL_REPLAY_SECONDS)

    def _wake(self) -> None:
        """Rows were written: wake whoever answers them."""
        if self.worker is not None:
            self.worker.wake.set()
        elif self.wake_workers is not None:
            self.wake_workers()

    async def _write(self, work: Callable[..., T], *args: Any) -> T:
        """Run on the inbound writer thread (`inbound_writes`)."""
        return await asyncio.get_running_loop().run_in_executor(self.inbound_writes, work, *args)

    def _admit_spooled(self, item: inbound.NewEvent, received_at: datetime) -> bool:
        return inbound.admit(self.app.engine, item, now=received_at)

    def _housekeeping(self, fire_time: datetime) -> str:
        now = self.app.clock()
        events = inbound.forget_before(self.app.engine, now - inbound.RETENTION)
        with session_scope(self.app.engine) as session:
            keys = idempotency.forget_before(session, now - idempotency.RETENTION)
        return f"{events} answered inbound events pruned, {keys} API idempotency keys expired"

    # -- lifecycle ----------------------------------------------------------------------
    async def start_receivers(self) -> None:
        for receiver in self.receivers.values():
            await receiver.start(self.sink)

    async def stop_adapters(self) -> None:
        for adapter in self.adapters.values():
            await adapter.stop()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        config = uvicorn.Config(
            self.asgi(),
            host=self.host,
            port=self.port,
            log_level="warning",
            log_config=None,  # uvicorn's lines go through bot.logs (one format, one zone)
            lifespan="off",
            # Issue 15 finding 7 (slowloris): a bounded number of connections (past it uvicorn
            # answers 503 instead of running out of file descriptors) and idle keep-alive
            # connections closed after 5 s (uvicorn's settings, https://www.uvicorn.org/settings/).
            limit_concurrency=HTTP_CONCURRENCY,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        server = uvicorn.Server(config)
        if self.slow_lane is not None:
            self.slow_lane.start()
        await self.start_receivers()
        http_task = loop.create_task(server.serve())
        dispatch_task = loop.create_task(self.dispatcher.run(self.stop_event, self.poll_seconds))
        inbound_tasks = {loop.create_task(self._replay_spool())}
        if self.worker is not None:
            inbound_tasks.add(loop.create_task(self.worker.run(self.stop_event)))
        await self.runner.catch_up()
        self.runner.start()
        log.info("coverwatch running on http://%s:%s as %s", self.host, self.port, self.instance)
        stop_wait = loop.create_task(self.stop_event.wait())
        await asyncio.wait(
            {stop_wait, http_task, dispatch_task}, return_when=asyncio.FIRST_COMPLETED
        )
        self.stop_event.set()
        self.runner.shutdown()
        server.should_exit = True
        # A send still in flight gets a grace period; then it is cancelled and its delivery,
        # like the rest of the claim, goes back to pending (Dispatcher.run) — never lost.
        _, late = await asyncio.wait({dispatch_task}, timeout=SHUTDOWN_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(http_task, dispatch_task, *inbound_tasks, return_exceptions=True)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        await self.stop_adapters()
        self.inbound_writes.shutdown(wait=False)
        if self.admits is not None:
            await self.admits.close()
        if self.slow_lane is not None:
            self.slow_lane.close()


def metrics_authorized(token: str, authorization: str) -> bool:
    """No token configured: open (loopback scrapers). Else the exact Bearer token, compared in
    constant time (`hmac.compare_digest`) so its prefix cannot be guessed byte by byte."""
    if not token:
        return True
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def _in_thread(body: Callable[[datetime], str]) -> JobBody:
    async def run(fire_time: datetime) -> str:
        return await asyncio.to_thread(body, fire_time)

    return run
