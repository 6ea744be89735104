"""`coverwatch run`: HTTP server, adapters, scheduler and outbox dispatcher in one process.

Inbound path (ARCHITECTURE.md §2): adapter verifies and parses -> the sink deduplicates on the
platform's event id (`processed_event`, so a retry after a restart is still caught) -> the
platform is answered at once -> the handler runs in the background -> the reply is sent, then
the cards the reply says to rewrite (errbot style: the runtime sends what handlers return).
The runtime names no platform: it mounts the routes adapters declare (`HttpReceiver.routes`),
starts the receivers and hands the senders to the outbox dispatcher.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import uvicorn
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from adapters.base import (
    Adapter,
    HttpReceiver,
    HttpRequest,
    HttpRoute,
    MessageNotEditable,
    Receiver,
    ReplyTarget,
    Sender,
)
from bot.config import MAX_BODY_BYTES
from bot.dispatcher import Dispatcher
from bot.http_body import BodyNotRead, BodyTooLarge, read_capped
from bot.metrics import Metrics
from bot.readiness import Readiness, exposition, readiness
from bot.scheduling import JobBody, JobRunner
from bot.slow_lane import SlowLane, completed
from handlers.alert_render import render_delivery
from handlers.context import AppContext
from handlers.pipeline import handle
from handlers.types import Action, CardUpdate, Message, Reply
from storage import idempotency, outbox
from storage.db import ping, session_scope
from storage.events import RETENTION, first_sighting, forget_before
from storage.models import Alert

log = logging.getLogger(__name__)
SHUTDOWN_GRACE_SECONDS = 3.0
"""How long SIGTERM/SIGINT waits for an in-flight send before handing it back to the outbox."""
HANDLER_THREADS = 2
INBOUND_RETRY_FIRST_SECONDS = 0.5
INBOUND_RETRY_MAX_SECONDS = 30.0
INBOUND_RETRY_WINDOW_SECONDS = 15 * 60.0
"""How long an inbound event waits for the database to come back before it is given up."""
"""Inbound events are handled on threads of their own: more than two only fight over the GIL
(docs/PERFORMANCE.md, chat_http), and a burst of chat cannot take the threads that the outbox,
the jobs and /healthz run on."""


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
        slow_lane: SlowLane | None = None,
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
        self.handlers = ThreadPoolExecutor(HANDLER_THREADS, thread_name_prefix="handler")
        zone = str(app.timezone)
        self.dispatcher = Dispatcher(
            app.engine,
            self.senders,
            lambda session, delivery: render_delivery(session, delivery, timezone=zone),
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
    def asgi(self) -> Starlette:
        routes = [
            Route("/healthz", self._healthz, methods=["GET"]),
            Route("/readyz", self._readyz, methods=["GET"]),
            Route("/metrics", self._metrics, methods=["GET"]),
        ]
        for adapter in self.receivers.values():
            if isinstance(adapter, HttpReceiver):
                routes += [asgi_route(route, self.max_body_bytes) for route in adapter.routes()]
        return Starlette(routes=[*routes, *self.mounts])

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
            return {"deliveries": deliveries, "alerts": alerts}

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
    def sink(self, event: Message | Action, reply_to: ReplyTarget) -> None:
        """Called by adapters; returns at once, the work runs as a background task."""
        task = asyncio.get_running_loop().create_task(self._process(event, reply_to))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _process(self, event: Message | Action, reply_to: ReplyTarget) -> None:
        try:
            reply = await self._answer_when_database_answers(event)
            if reply is None:
                return
            reply = await completed(reply)  # a chart from the slow lane, holding no thread
            await self.receivers[event.platform].reply(reply_to, reply)
        except Exception:
            log.exception("inbound %s event failed", event.platform)
            return
        for update in reply.updates:
            await self._update(update)

    async def _update(self, update: CardUpdate) -> None:
        """Rewrite one sent card; a failure is logged and the other cards still change."""
        sender = self.senders.get(update.platform)
        if sender is None:  # sent while a platform now disabled was enabled
            return
        try:
            await sender.update(update.message_ref, update.reply)
        except MessageNotEditable:
            log.info(
                "%s message %s cannot be edited; left as sent", update.platform, update.message_ref
            )
        except Exception as exc:
            log.warning("card update on %s failed: %s", update.platform, type(exc).__name__)

    async def _answer_when_database_answers(self, event: Message | Action) -> Reply | None:
        """The platform was already answered, so an event that meets a database outage is kept
        (in memory) and retried with backoff until the database is back: it is not lost."""
        loop = asyncio.get_running_loop()
        delay = INBOUND_RETRY_FIRST_SECONDS
        deadline = loop.time() + INBOUND_RETRY_WINDOW_SECONDS
        while True:
            try:
                return await loop.run_in_executor(self.handlers, self._answer, event)
            except OperationalError:
                if loop.time() + delay > deadline or self.stop_event.is_set():
                    raise
                self.metrics.count("inbound_retries_total", event.platform)
                log.warning("database unreachable; %s event kept for retry", event.platform)
                await asyncio.sleep(delay)
                delay = min(delay * 2, INBOUND_RETRY_MAX_SECONDS)

    def _answer(self, event: Message | Action) -> Reply | None:
        """Deduplicate, then handle: one thread hop per event (None: already handled)."""
        if not first_sighting(
            self.app.engine, event.platform, event.event_id, now=self.app.clock()
        ):
            self.metrics.count("inbound_duplicates_total", event.platform)
            return None
        self.metrics.count("inbound_events_total", event.platform)
        return handle(self.app, event)

    def _housekeeping(self, fire_time: datetime) -> str:
        now = self.app.clock()
        forget_before(self.app.engine, now - RETENTION)
        with session_scope(self.app.engine) as session:
            keys = idempotency.forget_before(session, now - idempotency.RETENTION)
        return f"processed events pruned, {keys} API idempotency keys expired"

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
        await asyncio.gather(http_task, dispatch_task, return_exceptions=True)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        await self.stop_adapters()
        self.handlers.shutdown(wait=False)
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


def asgi_route(route: HttpRoute, max_body_bytes: int = MAX_BODY_BYTES) -> Route:
    """An adapter's route as Starlette serves it: framework request in, plain request out,
    the body bounded before the adapter verifies or parses anything (413 over the cap)."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await read_capped(request, max_body_bytes)
        except BodyTooLarge as exc:
            return PlainTextResponse(str(exc), 413)
        except BodyNotRead as exc:
            return PlainTextResponse(str(exc), exc.status)
        plain = HttpRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        answer = await route.handler(plain)
        return Response(answer.body, status_code=answer.status, headers=dict(answer.headers))

    return Route(route.path, endpoint, methods=list(route.methods))


def _in_thread(body: Callable[[datetime], str]) -> JobBody:
    async def run(fire_time: datetime) -> str:
        return await asyncio.to_thread(body, fire_time)

    return run
